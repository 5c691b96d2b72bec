// Bad input of any kind gets a 4xx problem document, never a 500, and changes nothing
// (SPEC §4 conventions, §7); plus the HTTP pipeline: routing, 404/405, request ids, CORS.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { startWorker, assertProblem, freshEmail, PASSWORD } from "./helpers.mjs";

let w;
let u; // an active user whose token the /v1/me routes use
before(async () => {
  w = await startWorker();
  u = await w.activeUser();
});
after(async () => { await w?.dispose(); });

const LIMIT = 65536; // MAX_BODY_BYTES in wrangler.toml
const BIG = "a".repeat(60_000);
const TOKEN43 = "A".repeat(43); // looks like a secret, matches nothing

const signupBody = () => ({
  email: freshEmail("robust"), password: PASSWORD, first_name: "Ada", last_name: "Lovelace",
  organization: { name: "Org" }, workspace: { name: "Main" },
});

// Every POST/PATCH route with a body: how to call it, and bodies that are wrong in a way
// the route must name. `base` is complete but must never succeed on its own.
const ROUTES = [
  {
    name: "signup", method: "POST", path: "/v1/auth/signup",
    base: () => ({ ...signupBody(), password: "short" }),
    wrongTypes: [
      [{ ...signupBody(), email: 5 }, "email"],
      [{ ...signupBody(), password: ["x"] }, "password"],
      [{ ...signupBody(), first_name: false }, "first_name"],
      [{ ...signupBody(), organization: "Org" }, "organization"],
      [{ ...signupBody(), organization: { name: 7 } }, "organization.name"],
      [{ ...signupBody(), workspace: null }, "workspace"],
    ],
    missing: [[{ email: freshEmail() }, "password"]],
    unknown: [
      [{ admin: true, ...signupBody() }, "admin"],
      [{ ...signupBody(), organization: { plan: "gold", name: "Org" } }, "organization.plan"],
    ],
    huge: [
      [{ ...signupBody(), email: `${BIG}@example.com` }, 422, "email"],
      [{ ...signupBody(), first_name: BIG }, 422, "first_name"],
      [{ ...signupBody(), last_name: BIG }, 422, "last_name"],
      [{ ...signupBody(), password: BIG }, 422, "password"],
      [{ ...signupBody(), organization: { name: BIG } }, 422, "organization.name"],
      [{ ...signupBody(), organization: { name: "Org", description: BIG } }, 422, "organization.description"],
      [{ ...signupBody(), workspace: { name: BIG } }, 422, "workspace.name"],
    ],
  },
  {
    name: "activate", method: "POST", path: "/v1/auth/activate",
    base: () => ({ token: TOKEN43 }),
    wrongTypes: [[{ token: 5 }, "token"], [{ token: TOKEN43, password: 12345678 }, "password"]],
    missing: [[{}, "token"]],
    unknown: [[{ extra: 1, token: TOKEN43 }, "extra"]],
    huge: [[{ token: BIG }, "token"], [{ token: TOKEN43, password: BIG }, "token"]],
  },
  {
    name: "login", method: "POST", path: "/v1/auth/login",
    base: () => ({ email: "nobody@example.com", password: "" }),
    wrongTypes: [[{ email: 5, password: "x" }, "email"], [{ email: "a@example.com", password: true }, "password"]],
    missing: [[{ email: "a@example.com" }, "password"]],
    unknown: [[{ remember_me: true, email: "a@example.com", password: "x" }, "remember_me"]],
    huge: [
      [{ email: `${BIG}@example.com`, password: "x" }, 422, "email"],
      [{ email: "a@example.com", password: BIG }, 422, "password"],
    ],
  },
  {
    name: "refresh", method: "POST", path: "/v1/auth/refresh",
    base: () => ({ refresh_token: "" }),
    wrongTypes: [[{ refresh_token: 5 }, "refresh_token"], [{ refresh_token: null }, "refresh_token"]],
    missing: [[{}, "refresh_token"]],
    unknown: [[{ extra: 1, refresh_token: TOKEN43 }, "extra"]],
    huge: [[{ refresh_token: BIG }, 401, "invalid_token"]],
  },
  {
    name: "logout", method: "POST", path: "/v1/auth/logout",
    base: () => ({ refresh_token: 1 }),
    wrongTypes: [[{ refresh_token: [] }, "refresh_token"]],
    missing: [[{}, "refresh_token"]],
    unknown: [[{ extra: 1, refresh_token: TOKEN43 }, "extra"]],
    // Logging out an unknown token is a no-op with the same answer as a real logout.
    huge: [[{ refresh_token: BIG }, 204]],
  },
  {
    name: "forgot", method: "POST", path: "/v1/auth/password/forgot",
    base: () => ({ email: "not an email" }),
    wrongTypes: [[{ email: true }, "email"], [{ email: { address: "someone@example.com" } }, "email"]],
    missing: [[{}, "email"]],
    unknown: [[{ extra: 1, email: "someone@example.com" }, "extra"]],
    huge: [[{ email: `${BIG}@example.com` }, 422, "email"]],
  },
  {
    name: "reset", method: "POST", path: "/v1/auth/password/reset",
    base: () => ({ token: TOKEN43, new_password: "short" }),
    wrongTypes: [[{ token: "x", new_password: 5 }, "new_password"], [{ token: 5, new_password: "x" }, "token"]],
    missing: [[{ token: TOKEN43 }, "new_password"]],
    unknown: [[{ extra: 1, token: TOKEN43, new_password: PASSWORD }, "extra"]],
    huge: [[{ token: BIG, new_password: PASSWORD }, "token"], [{ token: TOKEN43, new_password: BIG }, "token"]],
  },
  {
    name: "verify email", method: "POST", path: "/v1/auth/email/verify",
    base: () => ({ token: TOKEN43 }),
    wrongTypes: [[{ token: {} }, "token"]],
    missing: [[{}, "token"]],
    unknown: [[{ extra: 1, token: TOKEN43 }, "extra"]],
    huge: [[{ token: BIG }, "token"]],
  },
  {
    name: "PATCH me", method: "PATCH", path: "/v1/me", auth: true,
    base: () => ({ first_name: "" }),
    wrongTypes: [[{ first_name: 5 }, "first_name"], [{ phone: 4930123456 }, "phone"], [{ last_name: ["x"] }, "last_name"]],
    missing: [],
    unknown: [[{ role: "admin" }, "role"]],
    huge: [
      [{ first_name: BIG }, 422, "first_name"],
      [{ last_name: BIG }, 422, "last_name"],
      [{ phone: `+49${"1".repeat(60_000)}` }, 422, "phone"],
      [{ country_code: "+49", mobile_number: BIG }, 422, "mobile_number"],
    ],
  },
  {
    name: "change password", method: "POST", path: "/v1/me/password", auth: true,
    base: () => ({ current_password: "wrong wrong wrong", new_password: "x" }),
    wrongTypes: [[{ current_password: 5, new_password: "x" }, "current_password"], [{ current_password: "x", new_password: false }, "new_password"]],
    missing: [[{ current_password: PASSWORD }, "new_password"]],
    unknown: [[{ extra: 1, current_password: PASSWORD, new_password: "another passphrase" }, "extra"]],
    huge: [
      [{ current_password: BIG, new_password: "another passphrase" }, 422, "current_password"],
      [{ current_password: PASSWORD, new_password: BIG }, 422, "new_password"],
    ],
  },
  {
    name: "change email", method: "POST", path: "/v1/me/email", auth: true,
    base: () => ({ new_email: "nope", password: PASSWORD }),
    wrongTypes: [[{ new_email: 5, password: "x" }, "new_email"], [{ new_email: "a@example.com", password: 1 }, "password"]],
    missing: [[{ new_email: freshEmail() }, "password"]],
    unknown: [[{ extra: 1, new_email: freshEmail(), password: PASSWORD }, "extra"]],
    huge: [
      [{ new_email: `${BIG}@example.com`, password: PASSWORD }, 422, "new_email"],
      [{ new_email: freshEmail(), password: BIG }, 422, "password"],
    ],
  },
  {
    // Not POST/PATCH, but it carries a body (the password) through the same pipeline.
    name: "delete me", method: "DELETE", path: "/v1/me", auth: true,
    base: () => ({ password: "wrong wrong wrong" }),
    wrongTypes: [[{ password: 5 }, "password"], [{ password: null }, "password"]],
    missing: [[{}, "password"]],
    unknown: [[{ extra: 1, password: "wrong wrong wrong" }, "extra"]],
    huge: [[{ password: BIG }, 422, "password"]],
  },
];

/** Sends `raw` (string/Buffer) or `body` (JSON) to a route; content-type JSON unless given. */
function send(route, { raw, body, headers = {}, contentType = "application/json" } = {}) {
  const h = { ...headers };
  if (contentType !== null) h["content-type"] = contentType;
  return w.request(route.method, route.path, {
    raw: raw ?? (body === undefined ? undefined : JSON.stringify(body)),
    headers: h,
    token: route.auth ? u.access_token : undefined,
  });
}

/** Every error here must be problem+json with a request id, and never a 5xx. */
function assertNo500(res, what) {
  assert.ok(res.status < 500, `${what}: ${res.status} ${JSON.stringify(res.body)}`);
  assert.ok(res.headers.get("x-request-id"), `${what}: no x-request-id`);
  if (res.status >= 400) {
    assert.match(res.headers.get("content-type") ?? "", /application\/problem\+json/, what);
  }
}

function assertValidation(res, field, what) {
  assertNo500(res, what);
  assert.equal(res.status, 422, `${what}: ${res.status} ${JSON.stringify(res.body)}`);
  assertProblem(res, 422, "validation_failed");
  assert.ok(Array.isArray(res.body.errors) && res.body.errors.length > 0, what);
  if (field) {
    assert.ok(res.body.errors.some((e) => e.field === field),
      `${what}: expected an error naming ${field}, got ${JSON.stringify(res.body.errors)}`);
  }
}

async function counts() {
  const n = async (table) => (await w.one(`SELECT COUNT(*) AS n FROM ${table}`)).n;
  return {
    users: await n("users"), orgs: await n("orgs"), sessions: await n("sessions"),
    outbox: await n("outbox"), user_tokens: await n("user_tokens"),
    user: await w.one("SELECT email, first_name, last_name, phone, password_hash, pending_email, status FROM users WHERE id = ?", u.user.id),
  };
}

for (const route of ROUTES) {
  test(`${route.method} ${route.path}: malformed, non-object, mistyped, unknown-field, huge, non-JSON and oversized bodies are 4xx and change nothing`, async () => {
    const before = await counts();

    for (const raw of ["{", "nope", "{'a':1}", "", "   ", "\u0000", "{,}", "}"]) {
      assertValidation(await send(route, { raw }), "body", `${route.name} raw ${JSON.stringify(raw)}`);
    }
    assertValidation(await send(route, { raw: Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d]) }), "body", `${route.name} invalid UTF-8`);
    for (const raw of ["[]", "null", "\"x\"", "42", "true", "[{}]", "[null]"]) {
      assertValidation(await send(route, { raw }), null, `${route.name} raw ${raw}`);
    }
    const deep = `{"x":${"[".repeat(20_000)}${"]".repeat(20_000)}}`;
    assertValidation(await send(route, { raw: deep }), null, `${route.name} deeply nested`);

    for (const [body, field] of route.wrongTypes) {
      assertValidation(await send(route, { body }), field, `${route.name} wrong type ${JSON.stringify(body)}`);
    }
    for (const [body, field] of route.missing) {
      assertValidation(await send(route, { body }), field, `${route.name} missing field ${JSON.stringify(body)}`);
    }
    for (const [body] of route.unknown) {
      // Refused (which field it names is checked in its own test below).
      assertValidation(await send(route, { body }), null, `${route.name} unknown field`);
    }
    for (const [body, status, fieldOrCode] of route.huge) {
      const what = `${route.name} huge ${Object.keys(body).join(",")}`;
      const raw = JSON.stringify(body);
      assert.ok(raw.length < LIMIT, `${what}: test body must fit the limit`);
      const res = await send(route, { raw });
      assertNo500(res, what);
      if (status === 422) assertValidation(res, fieldOrCode, what);
      else if (typeof status === "number") {
        assert.equal(res.status, status, `${what}: ${JSON.stringify(res.body)}`);
        if (fieldOrCode) assert.equal(res.body.code, fieldOrCode, what);
      } else {
        // Token fields: a string that cannot be a token is invalid_token (400) or a 422.
        assert.ok([400, 422].includes(res.status), `${what}: ${res.status} ${JSON.stringify(res.body)}`);
        assert.ok(["invalid_token", "validation_failed"].includes(res.body.code), what);
      }
    }

    // Content type: JSON only.
    const ok = JSON.stringify(route.base());
    for (const [contentType, raw] of [
      [null, Buffer.from(ok)],
      ["text/plain", ok],
      ["text/plain;charset=UTF-8", ok],
      ["application/x-www-form-urlencoded", "email=a%40example.com&password=x"],
      ["multipart/form-data; boundary=x", "--x--"],
      ["application/jsonp", ok],
    ]) {
      const res = await send(route, { raw, contentType });
      assertProblem(res, 415, "unsupported_media_type");
    }
    for (const contentType of ["application/json; charset=utf-8", "Application/JSON"]) {
      const res = await send(route, { raw: ok, contentType });
      assertNo500(res, `${route.name} ${contentType}`);
      assert.notEqual(res.status, 415, `${route.name}: ${contentType} is JSON`);
    }

    // Oversized bodies: 413, also when the excess is only a few bytes.
    for (const size of [LIMIT + 1, 70_000, 1_000_000]) {
      const raw = `{"x":"${"a".repeat(size - 8)}"}`;
      assert.equal(Buffer.byteLength(raw), size);
      assertProblem(await send(route, { raw }), 413, "payload_too_large");
    }

    assert.deepEqual(await counts(), before, `${route.name}: bad requests changed stored state`);
  });
}

test("unknown fields are 422 naming exactly that field (nested ones by their path)", async () => {
  const before = await counts();
  const wrong = [];
  for (const route of ROUTES) {
    for (const [body, field] of route.unknown) {
      const res = await send(route, { body });
      assertValidation(res, null, `${route.name} unknown ${field}`);
      const got = res.body.errors.map((e) => e.field);
      if (JSON.stringify(got) !== JSON.stringify([field])) wrong.push(`${route.name}: ${field} reported as ${got}`);
    }
  }
  assert.deepEqual(await counts(), before);
  assert.deepEqual(wrong, [], wrong.join("\n"));
});

test("malformed JSON is reported on field body even when a prefix of it parses", async () => {
  // The syntax error comes after a (known or unknown) key or after a complete object: the
  // answer must still say the body is malformed JSON, not name a field.
  const wrong = [];
  for (const route of ROUTES) {
    for (const raw of ["{} {}", "{} x", "{\"email\":", "{\"a\":1,}", "{\"token\": }", "{\"first_name\":\"x\"", "{\"zzz\":1 \"y\":2}"]) {
      const res = await send(route, { raw });
      assertValidation(res, null, `${route.name} raw ${raw}`);
      const e = res.body.errors[0];
      if (e.field !== "body" || !/malformed JSON/i.test(e.message)) wrong.push(`${route.name} ${raw} → ${JSON.stringify(e)}`);
    }
  }
  assert.deepEqual(wrong, [], wrong.join("\n"));
});

test("a body of exactly MAX_BODY_BYTES is read (not 413); one byte more is 413", async () => {
  const route = ROUTES.find((r) => r.name === "login");
  const mk = (n) => {
    const shell = JSON.stringify({ email: "@example.com", password: "x" });
    return JSON.stringify({ email: `${"a".repeat(n - shell.length)}@example.com`, password: "x" });
  };
  const exact = mk(LIMIT);
  assert.equal(Buffer.byteLength(exact), LIMIT);
  assertValidation(await send(route, { raw: exact }), "email", "exactly at the limit");
  assertProblem(await send(route, { raw: mk(LIMIT + 1) }), 413, "payload_too_large");
});

test("an oversized body sent without content-length (streamed) is 413", async () => {
  const chunk = new TextEncoder().encode(`{"email":"${"a".repeat(10_000)}`);
  let sent = 0;
  const stream = new ReadableStream({
    pull(controller) {
      if (sent >= 10) { controller.close(); return; }
      sent += 1;
      controller.enqueue(chunk);
    },
  });
  const res = await w.mf.dispatchFetch("http://localhost/v1/auth/login", {
    method: "POST", body: stream, duplex: "half",
    headers: { "content-type": "application/json", "cf-connecting-ip": "192.0.2.9" },
  });
  const body = await res.json();
  assertProblem({ status: res.status, headers: res.headers, body }, 413, "payload_too_large");
});

test("a JSON array with the right number of elements is not accepted in place of an object", async () => {
  // serde accepts a struct as a positional sequence; the API's bodies are JSON objects.
  const before = {
    outbox: await w.one("SELECT COUNT(*) AS n FROM outbox"),
    sessions: await w.one("SELECT COUNT(*) AS n FROM sessions"),
  };
  const wrong = [];
  for (const [path, raw] of [
    ["/v1/auth/password/forgot", JSON.stringify([u.email])],
    ["/v1/auth/login", JSON.stringify([u.email, PASSWORD])],
  ]) {
    const res = await w.request("POST", path, { raw, headers: { "content-type": "application/json" } });
    assertNo500(res, path);
    if (res.status !== 422 || res.body?.errors?.[0]?.field !== "body") wrong.push(`${path} ${raw} → ${res.status}`);
  }
  assert.deepEqual(wrong, [], wrong.join("; "));
  assert.deepEqual({
    outbox: await w.one("SELECT COUNT(*) AS n FROM outbox"),
    sessions: await w.one("SELECT COUNT(*) AS n FROM sessions"),
  }, before);
});

test("duplicate keys and lone surrogates are 422, not 500", async () => {
  const route = ROUTES.find((r) => r.name === "login");
  assertValidation(await send(route, { raw: `{"email":"a@example.com","email":"b@example.com","password":"x"}` }), null, "duplicate key");
  assertValidation(await send(route, { raw: `{"email":"\\ud800@example.com","password":"x"}` }), null, "lone surrogate");
});

// ---------------------------------------------------------------------------------------
// Routing

test("unknown API routes are 404 not_found problems", async () => {
  for (const [method, path] of [
    ["GET", "/v1/unknown"], ["POST", "/v1/auth/nope"], ["GET", "/v1/me/sessions/x/y"],
    ["DELETE", "/v1/me/sessions//x"], ["GET", "/v1/me%00"],
    ["GET", "/health/nope"], ["GET", "/.well-known/nope"],
  ]) {
    const res = await w.request(method, path, { token: u.access_token });
    assertProblem(res, 404, "not_found");
  }
});

test("every other path is the console (index.html with its CSP), never the API and never data compiled into the Worker", async () => {
  const index = await w.get("/");
  assert.equal(index.status, 200);
  assert.match(index.headers.get("content-type"), /text\/html/);
  assert.match(index.headers.get("content-security-policy"), /default-src 'self'/);
  assert.match(index.headers.get("content-security-policy"), /frame-ancestors 'none'/);
  assert.equal(index.headers.get("x-content-type-options"), "nosniff");
  assert.equal(index.headers.get("referrer-policy"), "no-referrer");
  // (`/v1/me/../../etc/passwd` is `/etc/passwd` once the URL is parsed.)
  for (const path of ["/nope", "/v1", "/v2/me", "/V1/ME", "/v1/me/../../etc/passwd", "/activate", "/orgs/x/members",
    "/common-passwords.txt", "/assets/openapi.json"]) {
    const res = await w.request("GET", path, { token: u.access_token });
    assert.equal(res.status, 200, path);
    assert.equal(res.body, index.body, `${path} is the console's index.html`);
    assert.equal(res.headers.get("x-request-id"), null, `${path} never ran the Worker`);
  }
  // The OpenAPI document is one of the console's files: the source document byte for byte,
  // without running the Worker.
  const doc = await w.get("/openapi.json");
  assert.equal(doc.status, 200);
  assert.match(doc.headers.get("content-type"), /application\/json/);
  assert.equal(doc.headers.get("x-request-id"), null);
  assert.equal(doc.headers.get("access-control-allow-origin"), "*");
  assert.deepEqual(doc.body, JSON.parse(readFileSync(new URL("../src/openapi.json", import.meta.url), "utf8")));
  // Its script and stylesheet are content-hashed files, cached for good.
  const script = index.body.match(/src="(\/assets\/app-[A-Z0-9]+\.js)"/)?.[1];
  assert.ok(script, index.body);
  const js = await w.get(script);
  assert.equal(js.status, 200);
  assert.match(js.headers.get("content-type"), /javascript/);
  assert.match(js.headers.get("cache-control"), /immutable/);
});

test("a wrong method is 405 with an allow header", async () => {
  for (const [method, path, allowed] of [
    ["PUT", "/v1/me", ["GET", "PATCH", "DELETE"]],
    ["POST", "/v1/me", ["GET", "PATCH", "DELETE"]],
    ["GET", "/v1/auth/login", ["POST"]],
    ["DELETE", "/health", ["GET"]],
    ["PATCH", "/v1/me/sessions", ["GET"]],
  ]) {
    const body = method === "GET" ? undefined : {};
    const res = await w.request(method, path, { token: u.access_token, body });
    assert.equal(res.status, 405, `${method} ${path}: ${JSON.stringify(res.body)}`);
    assert.match(res.headers.get("content-type") ?? "", /application\/problem\+json/);
    assert.equal(res.body.status, 405);
    assert.ok(res.body.code && res.body.title && res.body.type && res.body.detail);
    assert.ok(res.headers.get("x-request-id"));
    const allow = (res.headers.get("allow") ?? "").split(",").map((m) => m.trim());
    for (const m of allowed) assert.ok(allow.includes(m), `${method} ${path}: allow ${allow} lacks ${m}`);
    assert.ok(!allow.includes(method), `${method} ${path}: allow lists ${method}`);
  }
});

test("trailing slashes, query strings and HEAD reach the same routes", async () => {
  const h = await w.get("/health/");
  assert.equal(h.status, 200, JSON.stringify(h.body));
  assert.equal(h.body.status, "ok");
  assert.equal((await w.get("/health?probe=1")).status, 200);
  const me = await w.get("/v1/me/", { token: u.access_token });
  assert.equal(me.status, 200, JSON.stringify(me.body));
  assert.equal(me.body.id, u.user.id);
  const s = await w.get("/v1/me/sessions/", { token: u.access_token });
  assert.equal(s.status, 200);
  const login = await w.post("/v1/auth/login/", { email: u.email, password: "wrong wrong wrong" });
  assertProblem(login, 401, "invalid_credentials");

  const head = await w.request("HEAD", "/health");
  assert.equal(head.status, 200);
  assert.ok(head.headers.get("x-request-id"));
  assert.equal(head.body, null, "HEAD has no body");
});

// ---------------------------------------------------------------------------------------
// Request ids

test("x-request-id: a sane incoming id is echoed, an insane one replaced; ids are unique", async () => {
  for (const id of ["abc-123", "trace_01:span.02", "a".repeat(64), "0190c8a0-0000-7000-8000-00000000000a"]) {
    const r = await w.get("/health", { headers: { "x-request-id": id } });
    assert.equal(r.headers.get("x-request-id"), id);
    const p = await w.get("/v1/nope", { headers: { "x-request-id": id } });
    assert.equal(p.headers.get("x-request-id"), id);
    assert.equal(p.body.instance, `urn:request:${id}`);
  }
  for (const id of ["a".repeat(200), "a".repeat(65), "has spaces in it", "semi;colon", "<script>", "quote\"d", "x\ty"]) {
    const r = await w.get("/v1/nope", { headers: { "x-request-id": id } });
    const got = r.headers.get("x-request-id");
    assert.ok(got, "a replacement id is set");
    assert.notEqual(got, id);
    assert.match(got, /^[A-Za-z0-9._:-]{1,64}$/, `replacement ${got}`);
    assert.equal(r.body.instance, `urn:request:${got}`);
  }
  const ids = new Set();
  for (let i = 0; i < 5; i++) ids.add((await w.get("/health")).headers.get("x-request-id"));
  assert.equal(ids.size, 5);
});

// ---------------------------------------------------------------------------------------
// CORS

test("CORS: preflight from an allowed origin is allowed, from another origin not", async () => {
  const preflight = (origin) => w.request("OPTIONS", "/v1/auth/login", {
    headers: {
      origin,
      "access-control-request-method": "POST",
      "access-control-request-headers": "content-type, authorization",
    },
  });
  for (const origin of ["http://localhost:3000", "http://127.0.0.1:3000"]) {
    const r = await preflight(origin);
    assert.ok(r.status === 204 || r.status === 200, `preflight status ${r.status}`);
    assert.equal(r.headers.get("access-control-allow-origin"), origin);
    const methods = (r.headers.get("access-control-allow-methods") ?? "").toUpperCase();
    for (const m of ["GET", "POST", "PATCH", "DELETE", "PUT"]) assert.ok(methods.includes(m), `allow-methods ${methods}`);
    const hdrs = (r.headers.get("access-control-allow-headers") ?? "").toLowerCase();
    assert.ok(hdrs.includes("content-type") && hdrs.includes("authorization"), `allow-headers ${hdrs}`);
    assert.ok(r.headers.get("x-request-id"));
  }
  for (const origin of ["https://evil.example", "http://localhost:3001", "http://localhost:3000.evil.example", "null"]) {
    const r = await preflight(origin);
    assert.equal(r.headers.get("access-control-allow-origin"), null, origin);
  }
  // Preflight of a route that needs auth is still answered without a token.
  const me = await w.request("OPTIONS", "/v1/me", {
    headers: { origin: "http://localhost:3000", "access-control-request-method": "PATCH" },
  });
  assert.ok(me.status === 204 || me.status === 200);
  assert.equal(me.headers.get("access-control-allow-origin"), "http://localhost:3000");
});

test("CORS: actual responses (success and error) carry the headers for allowed origins only", async () => {
  const origin = "http://localhost:3000";
  const ok = await w.get("/health", { headers: { origin } });
  assert.equal(ok.headers.get("access-control-allow-origin"), origin);
  assert.match(ok.headers.get("vary") ?? "", /origin/i);
  assert.match(ok.headers.get("access-control-expose-headers") ?? "", /x-request-id/i);
  const err = await w.get("/v1/me", { headers: { origin } });
  assertProblem(err, 401, "unauthorized");
  assert.equal(err.headers.get("access-control-allow-origin"), origin);
  const evil = await w.get("/health", { headers: { origin: "https://evil.example" } });
  assert.equal(evil.status, 200);
  assert.equal(evil.headers.get("access-control-allow-origin"), null);
  assert.equal((await w.get("/health")).headers.get("access-control-allow-origin"), null);
});
