// SSO connections (issue 20): an org's OpenID Connect provider. Create (metadata fetched from
// the issuer; the client secret encrypted at rest and never returned), list/get/patch/delete,
// the roles a connection may grant, the draft → tested → active → enforced sequence, secrets
// changes sending it back to draft, http issuers outside development, and every unhappy path.
// The provider is the real oidc-provider on loopback (tests/support/idp.mjs).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { startWorker, assertProblem, freshEmail, PASSWORD } from "./helpers.mjs";
import { startDoh } from "./support/doh.mjs";
import { startIdp } from "./support/idp.mjs";
import { startHostileIdp } from "./support/hostile-idp.mjs";
import {
  CALLBACK, APP_URL, freshDomain, verifiedDomain, createConnection, testSignIn, activate, audit, counts, ssoSignIn, hop,
} from "./support/sso.mjs";

const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const CONNECTION_KEYS = [
  "activated_at", "client_id", "client_secret_set", "created_at", "default_role", "enforce", "group_claim",
  "group_role_map", "id", "issuer", "jit", "last_test", "name", "org_id", "redirect_uri", "scopes", "status", "updated_at",
];
const SECRET = `s3cret-${randomBytes(12).toString("hex")}`;
const CLIENT = { client_id: "ums-connections", client_secret: SECRET };

let w;
let doh;
let idp;
let r;
let domain;
before(async () => {
  doh = await startDoh();
  [w, idp] = await Promise.all([
    startWorker({ vars: { DNS_RESOLVER_URL: doh.url } }),
    startIdp({ clients: [{ ...CLIENT, redirect_uris: [CALLBACK] }] }),
  ]);
  r = await w.orgRoster();
  domain = freshDomain();
  await verifiedDomain(w, doh, r.owner.access_token, r.orgId, domain);
  idp.accounts.set("admin-at-idp", {
    email: `it-admin@${domain}`, email_verified: true, given_name: "Ida", family_name: "Admin", name: "Ida Admin",
  });
  idp.accounts.set("unverified-at-idp", {
    email: `nobody@${domain}`, email_verified: false, given_name: "No", family_name: "Body",
  });
});
after(async () => { await w?.dispose(); await idp?.close(); await doh?.close(); });

const base = (org = r.orgId) => `/v1/orgs/${org}/sso-connections`;
const row = (id) => w.one("SELECT * FROM sso_connections WHERE id = ?", id);
const body = (over = {}) => ({
  name: "Acme Identity", issuer: idp.issuer, client_id: CLIENT.client_id, client_secret: SECRET,
  default_role: "viewer", jit: true, ...over,
});

function assertValidation(res, field) {
  assertProblem(res, 422, "validation_failed");
  assert.ok(Array.isArray(res.body.errors) && res.body.errors.some((e) => e.field === field),
    `expected an error for ${field}: ${JSON.stringify(res.body)}`);
}

function assertConnectionView(c) {
  assert.deepEqual(Object.keys(c).sort(), CONNECTION_KEYS);
  assert.match(c.id, UUID);
  assert.equal(c.client_secret_set, true);
  assert.equal(c.redirect_uri, CALLBACK);
  assert.match(c.created_at, RFC3339);
  assert.match(c.updated_at, RFC3339);
  assert.ok(!JSON.stringify(c).includes(SECRET), "the secret is never returned");
}

test("create: 201 draft with the redirect_uri, the secret never returned nor stored in plaintext; list, get, patch, delete; audited", async () => {
  const res = await w.post(base(), body({ group_claim: "groups", group_role_map: { "eng-leads": "admin", eng: "editor" } }), { token: r.owner.access_token });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  const c = res.body;
  assertConnectionView(c);
  assert.equal(c.org_id, r.orgId);
  assert.equal(c.name, "Acme Identity");
  assert.equal(c.issuer, idp.issuer);
  assert.equal(c.client_id, CLIENT.client_id);
  assert.equal(c.default_role, "viewer");
  assert.equal(c.jit, true);
  assert.equal(c.group_claim, "groups");
  assert.deepEqual(c.group_role_map, { "eng-leads": "admin", eng: "editor" });
  assert.equal(c.scopes, "openid email profile");
  assert.equal(c.status, "draft");
  assert.equal(c.enforce, false);
  assert.equal(c.last_test, null);
  assert.equal(c.activated_at, null);

  // At rest: no column holds the plaintext secret (nor its base64).
  const stored = await row(c.id);
  assert.ok(stored, "a row in sso_connections");
  assert.equal(stored.org_id, r.orgId);
  for (const [col, v] of Object.entries(stored)) {
    const s = String(v ?? "");
    assert.ok(!s.includes(SECRET) && !s.includes(Buffer.from(SECRET).toString("base64").slice(0, 20)),
      `column ${col} holds the secret: ${s}`);
  }
  // Nor any audit event.
  assert.equal((await w.one("SELECT COUNT(*) AS n FROM audit_events WHERE metadata LIKE ?", `%${SECRET}%`)).n, 0);
  const created = (await audit(w, r.orgId, "sso_connection.created")).filter((e) => e.target_id === c.id);
  assert.equal(created.length, 1);
  assert.equal(created[0].actor_id, r.owner.user.id);

  // Scopes given; name optional.
  const c2 = await createConnection(w, r.admin.access_token, r.orgId, {
    issuer: idp.issuer, client_id: "other-client", client_secret: "x", default_role: "member", jit: false,
    scopes: "openid email profile groups",
  });
  assertConnectionView(c2);
  assert.equal(c2.scopes, "openid email profile groups");
  assert.equal(c2.jit, false);
  assert.equal(c2.group_claim, null);

  const list = await w.get(base(), { token: r.admin.access_token });
  assert.equal(list.status, 200, JSON.stringify(list.body));
  assert.equal(list.body.next_cursor, null);
  assert.ok(list.body.data.some((x) => x.id === c.id) && list.body.data.some((x) => x.id === c2.id));
  for (const x of list.body.data) assertConnectionView(x);
  const one = await w.get(`${base()}/${c.id}`, { token: r.owner.access_token });
  assert.equal(one.status, 200);
  assert.deepEqual(one.body, c);

  // PATCH of fields that do not touch the credentials keeps the status; audited.
  await new Promise((res) => setTimeout(res, 5));
  const p = await w.patch(`${base()}/${c.id}`, { name: "Renamed", default_role: "editor", jit: false, group_role_map: { eng: "viewer" } }, { token: r.owner.access_token });
  assert.equal(p.status, 200, JSON.stringify(p.body));
  assertConnectionView(p.body);
  assert.equal(p.body.name, "Renamed");
  assert.equal(p.body.default_role, "editor");
  assert.equal(p.body.jit, false);
  assert.deepEqual(p.body.group_role_map, { eng: "viewer" });
  assert.ok(p.body.updated_at > c.updated_at || p.body.updated_at !== c.updated_at);
  const patchedRow = await row(c.id);
  assert.equal(patchedRow.name, "Renamed");
  assert.equal(patchedRow.default_role, "editor");
  assert.equal((await audit(w, r.orgId, "sso_connection.updated")).filter((e) => e.target_id === c.id).length, 1);

  // DELETE.
  assert.equal((await w.del(`${base()}/${c2.id}`, { token: r.owner.access_token })).status, 204);
  assert.equal(await row(c2.id), undefined);
  assertProblem(await w.get(`${base()}/${c2.id}`, { token: r.owner.access_token }), 404, "not_found");
  assertProblem(await w.del(`${base()}/${c2.id}`, { token: r.owner.access_token }), 404, "not_found");
  assert.equal((await audit(w, r.orgId, "sso_connection.deleted")).filter((e) => e.target_id === c2.id).length, 1);
});

test("validation: admin/owner default roles, an owner in the group map, scopes without openid, missing fields, bad issuers → 422; nothing stored", async () => {
  const before = (await w.one("SELECT COUNT(*) AS n FROM sso_connections")).n;
  const t = { token: r.owner.access_token };
  assertValidation(await w.post(base(), body({ default_role: "admin" }), t), "default_role");
  assertValidation(await w.post(base(), body({ default_role: "owner" }), t), "default_role");
  assertValidation(await w.post(base(), body({ default_role: "superuser" }), t), "default_role");
  assertValidation(await w.post(base(), body({ group_claim: "groups", group_role_map: { bosses: "owner" } }), t), "group_role_map.bosses");
  assertValidation(await w.post(base(), body({ group_claim: "groups", group_role_map: { x: "root" } }), t), "group_role_map.x");
  assertValidation(await w.post(base(), body({ scopes: "email profile" }), t), "scopes");
  for (const f of ["issuer", "client_id", "client_secret", "default_role", "jit"]) {
    const b = body();
    delete b[f];
    assertValidation(await w.post(base(), b, t), f);
  }
  assertValidation(await w.post(base(), body({ client_secret: "" }), t), "client_secret");
  assertValidation(await w.post(base(), body({ jit: "yes" }), t), "jit");
  // Issuers: not a URL; nothing listening; metadata naming another issuer; a trailing slash
  // is another issuer (exact match).
  assertValidation(await w.post(base(), body({ issuer: "not a url" }), t), "issuer");
  assertValidation(await w.post(base(), body({ issuer: "http://127.0.0.1:9" }), t), "issuer");
  assertValidation(await w.post(base(), body({ issuer: `${idp.issuer}/` }), t), "issuer");
  const liar = await startHostileIdp({ client: CLIENT });
  try {
    liar.discoveryIssuer = "https://someone-else.example";
    assertValidation(await w.post(base(), body({ issuer: liar.issuer }), t), "issuer");
  } finally {
    await liar.close();
  }
  assert.equal((await w.one("SELECT COUNT(*) AS n FROM sso_connections")).n, before);

  // The same rules on PATCH.
  const c = await createConnection(w, r.owner.access_token, r.orgId, body());
  assertValidation(await w.patch(`${base()}/${c.id}`, { default_role: "admin" }, t), "default_role");
  assertValidation(await w.patch(`${base()}/${c.id}`, { group_role_map: { a: "owner" } }, t), "group_role_map.a");
  assertValidation(await w.patch(`${base()}/${c.id}`, { scopes: "profile" }, t), "scopes");
  assertValidation(await w.patch(`${base()}/${c.id}`, { issuer: "http://127.0.0.1:9" }, t), "issuer");
  assertValidation(await w.patch(`${base()}/${c.id}`, { status: "enabled" }, t), "status");
  const stored = await row(c.id);
  assert.equal(stored.default_role, "viewer");
  assert.equal(stored.issuer, idp.issuer);
});

test("activation needs a successful test sign-in (409 connection_not_tested), enforce needs active (409 connection_not_active); a new secret returns it to draft", async () => {
  const t = { token: r.owner.access_token };
  const c = await createConnection(w, r.owner.access_token, r.orgId, body());
  const path = `${base()}/${c.id}`;
  assertProblem(await w.patch(path, { status: "active" }, t), 409, "connection_not_tested");
  assertProblem(await w.patch(path, { enforce: true }, t), 409, "connection_not_active");
  let stored = await row(c.id);
  assert.equal(stored.status, "draft");
  assert.ok(!stored.enforce);

  // A failed test sign-in (the provider says the email is not verified) → test=failed.
  const before = await counts(w);
  const failed = await testSignIn(w, idp, r.owner.access_token, r.orgId, c.id, "unverified-at-idp");
  assert.equal(`${failed.cb.location.origin}${failed.cb.location.pathname}`, `${APP_URL}/orgs/${r.orgId}/sso`);
  assert.equal(failed.cb.location.searchParams.get("connection"), c.id);
  assert.equal(failed.cb.location.searchParams.get("test"), "failed");
  assert.equal(failed.connection.last_test.ok, false);
  // The contract leaves the error's shape open: a code, or {code, detail}.
  const err = failed.connection.last_test.error;
  assert.equal(typeof err === "object" ? err.code : err, "sso_email_unverified", JSON.stringify(err));
  if (typeof err === "object") assert.ok(err.detail);
  assert.match(failed.connection.last_test.at, RFC3339);
  assertProblem(await w.patch(path, { status: "active" }, t), 409, "connection_not_tested");

  // A successful one → test=ok with the claims and the role it would give.
  const ok = await testSignIn(w, idp, r.owner.access_token, r.orgId, c.id, "admin-at-idp");
  assert.equal(ok.cb.location.searchParams.get("test"), "ok", ok.cb.location.href);
  assert.equal(ok.connection.last_test.ok, true);
  assert.equal(ok.connection.last_test.error, null);
  const { groups, ...claims } = ok.connection.last_test.claims;
  assert.deepEqual(claims, { sub: "admin-at-idp", email: `it-admin@${domain}`, email_verified: true, role: "viewer" });
  assert.ok(groups === null || (Array.isArray(groups) && groups.length === 0), "no group claim: null or []");
  // A test sign-in creates nobody and signs nobody in (not in the contract: a serious service's test is a dry run).
  assert.deepEqual(await counts(w), before);

  const act = await w.patch(path, { status: "active" }, t);
  assert.equal(act.status, 200, JSON.stringify(act.body));
  assert.equal(act.body.status, "active");
  assert.match(act.body.activated_at, RFC3339);
  assert.equal((await audit(w, r.orgId, "sso_connection.activated")).filter((e) => e.target_id === c.id).length, 1);
  const en = await w.patch(path, { enforce: true }, t);
  assert.equal(en.status, 200, JSON.stringify(en.body));
  assert.equal(en.body.enforce, true);
  stored = await row(c.id);
  assert.equal(stored.status, "active");
  assert.ok(stored.enforce);

  // A new client secret: back to draft, the test cleared, enforcement off.
  const sec = await w.patch(path, { client_secret: "a-new-secret" }, t);
  assert.equal(sec.status, 200, JSON.stringify(sec.body));
  assert.equal(sec.body.status, "draft");
  assert.equal(sec.body.enforce, false);
  assert.equal(sec.body.last_test, null);
  assert.ok(!JSON.stringify(sec.body).includes("a-new-secret"));
  stored = await row(c.id);
  assert.equal(stored.status, "draft");
  assert.ok(!stored.enforce);
  assertProblem(await w.patch(path, { status: "active" }, t), 409, "connection_not_tested");

  // The same for a new client_id.
  await w.patch(path, { client_secret: SECRET }, t);
  await activate(w, idp, r.owner.access_token, r.orgId, c.id, "admin-at-idp");
  const cid = await w.patch(path, { client_id: "another-client" }, t);
  assert.equal(cid.status, 200, JSON.stringify(cid.body));
  assert.equal(cid.body.status, "draft");
  assert.equal(cid.body.last_test, null);

  // Back to draft by hand is allowed and turns enforcement off.
  await w.patch(path, { client_id: CLIENT.client_id }, t);
  await activate(w, idp, r.owner.access_token, r.orgId, c.id, "admin-at-idp");
  assert.equal((await w.patch(path, { enforce: true }, t)).status, 200);
  const draft = await w.patch(path, { status: "draft" }, t);
  assert.equal(draft.status, 200, JSON.stringify(draft.body));
  assert.equal(draft.body.status, "draft");
  assert.equal(draft.body.enforce, false, "a draft connection enforces nothing");
});

test("unhappy paths: no token 401, another org 404, editor/viewer/member 403, unknown id 404", async () => {
  const c = await createConnection(w, r.owner.access_token, r.orgId, body());
  const routes = [
    ["POST", base(), body()],
    ["GET", base()],
    ["GET", `${base()}/${c.id}`],
    ["PATCH", `${base()}/${c.id}`, { name: "x" }],
    ["DELETE", `${base()}/${c.id}`],
    ["POST", `${base()}/${c.id}/test`],
  ];
  const before = (await w.one("SELECT COUNT(*) AS n FROM sso_connections")).n;
  for (const [method, path, b] of routes) {
    assertProblem(await w.request(method, path, { body: b }), 401, "unauthorized");
    assertProblem(await w.request(method, path, { body: b, token: r.outsider.access_token }), 404, "not_found");
    for (const who of [r.editor, r.viewer, r.member]) {
      assertProblem(await w.request(method, path, { body: b, token: who.access_token }), 403, "forbidden");
    }
  }
  assert.equal((await w.one("SELECT COUNT(*) AS n FROM sso_connections")).n, before);
  assert.equal((await row(c.id)).name, "Acme Identity");
  const theirs = `/v1/orgs/${r.outsider.organization.id}/sso-connections/${c.id}`;
  assertProblem(await w.get(theirs, { token: r.outsider.access_token }), 404, "not_found");
  assertProblem(await w.patch(theirs, { name: "x" }, { token: r.outsider.access_token }), 404, "not_found");
  assertProblem(await w.del(theirs, { token: r.outsider.access_token }), 404, "not_found");
  assertProblem(await w.post(`${theirs}/test`, undefined, { token: r.outsider.access_token }), 404, "not_found");
  for (const id of ["00000000-0000-7000-8000-000000000000", "nope"]) {
    assertProblem(await w.get(`${base()}/${id}`, { token: r.owner.access_token }), 404, "not_found");
    assertProblem(await w.post(`${base()}/${id}/test`, undefined, { token: r.owner.access_token }), 404, "not_found");
  }
  const bad = await w.request("POST", base(), { raw: "{nope", token: r.owner.access_token, headers: { "content-type": "application/json" } });
  assert.ok([400, 422].includes(bad.status), JSON.stringify(bad.body));
  assert.ok(await row(c.id));
});

test("a test ticket works once; an unknown or used ticket does not start a test", async () => {
  const c = await createConnection(w, r.owner.access_token, r.orgId, body());
  const t = await w.post(`${base()}/${c.id}/test`, undefined, { token: r.owner.access_token });
  assert.equal(t.status, 200, JSON.stringify(t.body));
  assert.deepEqual(Object.keys(t.body), ["authorize_url"]);
  const u = new URL(t.body.authorize_url);
  assert.equal(`${u.origin}${u.pathname}`, `${APP_URL}/v1/auth/sso/start`);
  assert.equal(u.searchParams.get("connection"), c.id);
  assert.ok(u.searchParams.get("test"));
  const first = await testSignIn(w, idp, r.owner.access_token, r.orgId, c.id, "admin-at-idp");
  assert.equal(first.cb.location.searchParams.get("test"), "ok");
  // The first ticket (testSignIn made another) still works, once …
  const once = await ssoSignIn(w, idp, t.body.authorize_url, "admin-at-idp");
  assert.equal(once.cb.location.searchParams.get("test"), "ok", once.cb.location.href);
  // … and no more: a used ticket is refused at start (302 to the console with an error).
  const again = await hop(w, "GET", t.body.authorize_url);
  assert.equal(again.status, 302);
  assert.equal(`${again.location.origin}${again.location.pathname}`, `${APP_URL}/sso/callback`, again.location.href);
  assert.equal(again.location.searchParams.get("error"), "sso_state_invalid", again.location.href);
  assert.equal(again.setCookies.find((l) => l.startsWith("__Host-sso-flow=") && !l.startsWith("__Host-sso-flow=;")), undefined, "no new flow");
  const forged = new URL(t.body.authorize_url);
  forged.searchParams.set("test", "A".repeat(43));
  const f = await hop(w, "GET", forged.href);
  assert.equal(f.status, 302);
  assert.equal(f.location.searchParams.get("error"), "sso_state_invalid", f.location.href);
});

// ---------------------------------------------------------------------------------------
// Outside development

/** An active owner on a production-like Worker whose mail goes to `sent`. */
async function prodOwner(p, sent) {
  const email = freshEmail("prod-owner");
  const s = await p.post("/v1/auth/signup", {
    email, password: PASSWORD, first_name: "Ada", last_name: "Lovelace",
    organization: { name: "Prod Org" }, workspace: { name: "Main" },
  });
  assert.equal(s.status, 201, JSON.stringify(s.body));
  const mail = await p.until(() => sent.find((m) => [].concat(m.to).includes(email)), { what: "activation mail" });
  const token = mail.text.match(/token=([A-Za-z0-9_-]{43})/)[1];
  const a = await p.post("/v1/auth/activate", { token });
  assert.equal(a.status, 200, JSON.stringify(a.body));
  return { ...s.body, ...a.body };
}

function prodWorker(extraVars = {}) {
  const sent = [];
  const httpsIssuer = "https://idp.example.com";
  const discovery = {
    issuer: httpsIssuer, authorization_endpoint: `${httpsIssuer}/auth`, token_endpoint: `${httpsIssuer}/token`,
    jwks_uri: `${httpsIssuer}/jwks`, response_types_supported: ["code"], subject_types_supported: ["public"],
    id_token_signing_alg_values_supported: ["RS256"], code_challenge_methods_supported: ["S256"],
  };
  const fetched = [];
  return startWorker({
    vars: {
      ENVIRONMENT: "production",
      APP_URL: "https://id.example.com",
      JWT_PRIVATE_KEY: randomBytes(32).toString("base64url"),
      EMAIL_PROVIDER: "http",
      EMAIL_HTTP_URL: "https://mail.test/send",
      DNS_RESOLVER_URL: "https://dns.test/dns-query",
      ...extraVars,
    },
    outbound: async (req) => {
      const u = new URL(req.url);
      fetched.push(req.url);
      if (u.host === "mail.test") { sent.push(await req.json()); return new Response("ok"); }
      if (req.url === `${httpsIssuer}/.well-known/openid-configuration`) return Response.json(discovery);
      if (req.url === `${httpsIssuer}/jwks`) return Response.json({ keys: [] });
      return new Response("not here", { status: 404 });
    },
  }).then((p) => ({ p, sent, fetched, httpsIssuer }));
}

test("outside development: an http issuer is refused (422 issuer) without being fetched; https is accepted", async () => {
  const { p, sent, fetched, httpsIssuer } = await prodWorker({ SSO_ENCRYPTION_KEY: randomBytes(32).toString("base64") });
  try {
    const owner = await prodOwner(p, sent);
    const org = owner.organization.id;
    const before = fetched.length;
    const res = await p.post(`/v1/orgs/${org}/sso-connections`, {
      issuer: "http://idp.example.com", client_id: "c", client_secret: "s", default_role: "member", jit: true,
    }, { token: owner.access_token });
    assertValidation(res, "issuer");
    assert.match(JSON.stringify(res.body.errors), /https/i, "says https is required");
    assert.ok(!fetched.slice(before).some((u) => u.startsWith("http://idp.example.com")), "not fetched");
    // The loopback provider over http: refused the same way.
    assertValidation(await p.post(`/v1/orgs/${org}/sso-connections`, {
      issuer: idp.issuer, client_id: "c", client_secret: "s", default_role: "member", jit: true,
    }, { token: owner.access_token }), "issuer");
    assert.equal((await p.one("SELECT COUNT(*) AS n FROM sso_connections")).n, 0);

    const ok = await p.post(`/v1/orgs/${org}/sso-connections`, {
      issuer: httpsIssuer, client_id: "c", client_secret: "prod-secret", default_role: "member", jit: true,
    }, { token: owner.access_token });
    assert.equal(ok.status, 201, JSON.stringify(ok.body));
    assert.equal(ok.body.redirect_uri, "https://id.example.com/v1/auth/sso/callback");
    // PATCH to an http issuer: refused too.
    assertValidation(await p.patch(`/v1/orgs/${org}/sso-connections/${ok.body.id}`, { issuer: "http://idp.example.com" }, { token: owner.access_token }), "issuer");
    assert.equal((await p.one("SELECT issuer FROM sso_connections WHERE id = ?", ok.body.id)).issuer, httpsIssuer);
  } finally {
    await p.dispose();
  }
});

test("outside development without SSO_ENCRYPTION_KEY no client secret is stored (the development key is never used)", async () => {
  const { p, sent, httpsIssuer } = await prodWorker();
  try {
    // A Worker that refuses to run at all without the key (503 service_misconfigured naming
    // it, as for JWT_PRIVATE_KEY) stores nothing either.
    const health = await p.get("/health");
    if (health.status === 503) {
      assertProblem(health, 503, "service_misconfigured");
      assert.match(health.body.detail, /SSO_ENCRYPTION_KEY/);
      return;
    }
    const owner = await prodOwner(p, sent);
    const res = await p.post(`/v1/orgs/${owner.organization.id}/sso-connections`, {
      issuer: httpsIssuer, client_id: "c", client_secret: "prod-secret", default_role: "member", jit: true,
    }, { token: owner.access_token });
    // Not in the contract: the expected answer is a 503 naming the missing setting (as for
    // JWT_PRIVATE_KEY); what matters is that nothing is stored.
    assert.ok(res.status >= 500, JSON.stringify(res.body));
    assert.match(JSON.stringify(res.body), /SSO_ENCRYPTION_KEY/);
    assert.equal((await p.one("SELECT COUNT(*) AS n FROM sso_connections")).n, 0);
  } finally {
    await p.dispose();
  }
});
