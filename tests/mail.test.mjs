// Email through the queue (SPEC §6): outbox states, retries with backoff, dead-lettering,
// idempotent delivery, the development mailbox, HTML escaping, and production settings.
//
// Two workers for the whole file: `w` with the console provider (development defaults) and
// `h` with the HTTP provider, whose outbound fetches a scripted fake provider answers per
// recipient. Tests that need production settings start (and dispose) their own worker.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomBytes, randomUUID } from "node:crypto";
import { startWorker, assertProblem, freshEmail, PASSWORD, scriptedProvider } from "./helpers.mjs";

const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/;
const FROM = "User Management <no-reply@example.com>"; // EMAIL_FROM in wrangler.toml

let w;
let h;
/** The fake provider of `h` (see helpers.mjs). */
const { calls, behaviour, callsTo, fetch: provider } = scriptedProvider();

before(async () => {
  [w, h] = await Promise.all([
    startWorker(),
    startWorker({
      vars: { EMAIL_PROVIDER: "http", EMAIL_HTTP_URL: "https://mail.test/send", EMAIL_API_KEY: "k", MAIL_MAX_ATTEMPTS: "3" },
      outbound: provider,
    }),
  ]);
});
after(async () => { await Promise.all([w?.dispose(), h?.dispose()]); });

const outboxRow = (worker, recipient) =>
  worker.one("SELECT * FROM outbox WHERE recipient = ? ORDER BY id DESC", recipient);

function outboxSettles(worker, recipient, status) {
  return worker.until(async () => {
    const r = await outboxRow(worker, recipient);
    return r?.status === status && r;
  }, { timeout: 20000, what: `outbox row to ${recipient} ${status}` });
}

async function mailbox(worker, query = "") {
  const r = await worker.get(`/v1/dev/mailbox${query}`);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body;
}

// ---------------------------------------------------------------------------------------
// (a) console provider and the development mailbox

test("console provider: the outbox row is written with the signup and ends 'sent' after one attempt", async () => {
  const s = await w.signup();
  // Written atomically with the signup, before the handler answered.
  const first = await outboxRow(w, s.email);
  assert.ok(first, "outbox row exists as soon as signup answered");
  assert.equal(first.kind, "activation");
  assert.ok(["queued", "sending", "sent"].includes(first.status), first.status);

  const row = await outboxSettles(w, s.email, "sent");
  assert.equal(row.attempts, 1);
  assert.equal(row.last_error, null);
  assert.equal(row.claimed_until, null);
  assert.ok(row.sent_at >= row.created_at);

  const m = await w.mail(s.email, /Activate/);
  assert.equal(m.id, row.id, "the mailbox message is the outbox message");
  assert.equal(m.to, s.email);
  assert.equal(m.subject, "Activate your account");
  assert.match(m.created_at, RFC3339);
  assert.match(m.text, /^Hello Ada,/);
  const token = m.text.match(/http:\/\/127\.0\.0\.1:8787\/activate\?token=([A-Za-z0-9_-]{43})/)?.[1];
  assert.ok(token, m.text);
  assert.match(m.html, /^<!doctype html>/i);
  assert.ok(m.html.includes(`<a href="http://127.0.0.1:8787/activate?token=${token}">`), m.html);
  assert.deepEqual(Object.keys(m).sort(), ["created_at", "html", "id", "subject", "text", "to"]);
});

test("dev mailbox: newest first, ?to= filters (case-insensitively), unknown recipient is empty", async () => {
  const a = await w.signup();
  const b = await w.signup();
  await w.mail(a.email, /Activate/);
  await w.mail(b.email, /Activate/);

  const all = await mailbox(w);
  const ids = all.data.map((m) => m.id);
  assert.ok(ids.length >= 2);
  assert.deepEqual([...ids].sort().reverse(), ids, "newest first");
  const ia = all.data.findIndex((m) => m.to === a.email);
  const ib = all.data.findIndex((m) => m.to === b.email);
  assert.ok(ib < ia, "b signed up later, so comes first");

  const onlyA = await mailbox(w, `?to=${encodeURIComponent(a.email)}`);
  assert.equal(onlyA.data.length, 1);
  assert.equal(onlyA.data[0].to, a.email);
  assert.equal(onlyA.next_cursor, null);
  const upper = await mailbox(w, `?to=${encodeURIComponent(a.email.toUpperCase())}`);
  assert.deepEqual(upper.data.map((m) => m.id), onlyA.data.map((m) => m.id));
  const none = await mailbox(w, `?to=${encodeURIComponent(freshEmail("nobody"))}`);
  assert.deepEqual(none, { data: [], next_cursor: null });
});

test("dev mailbox: cursor pagination walks every message once; bad limit or cursor is 422", async () => {
  const s = await w.signup();
  for (let i = 0; i < 2; i++) {
    const f = await w.post("/v1/auth/password/forgot", { email: s.email });
    assert.equal(f.status, 202, JSON.stringify(f.body));
  }
  const q = `?to=${encodeURIComponent(s.email)}`;
  const full = await w.until(async () => {
    const r = await mailbox(w, q);
    return r.data.length === 3 && r;
  }, { what: "three mails" });
  assert.deepEqual(full.data.map((m) => m.subject), ["Reset your password", "Reset your password", "Activate your account"]);

  const seen = [];
  let cursor = null;
  for (let i = 0; i < 5; i++) {
    const page = await mailbox(w, `${q}&limit=1${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
    assert.equal(page.data.length, 1);
    seen.push(page.data[0].id);
    cursor = page.next_cursor;
    if (!cursor) break;
  }
  assert.deepEqual(seen, full.data.map((m) => m.id));
  const two = await mailbox(w, `${q}&limit=2`);
  assert.equal(two.data.length, 2);
  const rest = await mailbox(w, `${q}&limit=2&cursor=${encodeURIComponent(two.next_cursor)}`);
  assert.deepEqual(rest.data.map((m) => m.id), [full.data[2].id]);
  assert.equal(rest.next_cursor, null);

  for (const bad of ["limit=0", "limit=201", "limit=x", "cursor=bogus"]) {
    assertProblem(await w.get(`/v1/dev/mailbox?${bad}`), 422, "validation_failed");
  }
});

// ---------------------------------------------------------------------------------------
// (b) HTTP provider down: retries, then failed + dead-letter queue

test("HTTP provider down: 3 attempts, outbox 'failed' with the 503, message in the DLQ, nothing in the mailbox", async () => {
  const email = freshEmail("down");
  behaviour.set(email, () => new Response("down", { status: 503 }));
  await h.signup({ email });

  const row = await outboxSettles(h, email, "failed");
  assert.equal(row.attempts, 3);
  assert.match(row.last_error ?? "", /503/);
  assert.equal(row.sent_at, null);

  const kv = await h.mf.getKVNamespace("DLQ_SINK", "dlq-sink");
  const dead = await h.until(() => kv.get(row.id), { what: "message in the DLQ sink" });
  const msg = JSON.parse(dead);
  assert.equal(msg.id, row.id);
  assert.equal(msg.to, email);
  assert.deepEqual(Object.keys(msg.content), ["activation"]);
  assert.match(msg.content.activation.link, /\/activate\?token=[A-Za-z0-9_-]{43}$/);

  assert.equal(callsTo(email).length, 3, "exactly MAIL_MAX_ATTEMPTS deliveries were tried");
  for (const c of callsTo(email)) assert.equal(c.headers["idempotency-key"], row.id);
  assert.deepEqual((await mailbox(h, `?to=${encodeURIComponent(email)}`)).data, []);
  assert.equal((await h.rows("SELECT id FROM dev_mailbox WHERE recipient = ?", email)).length, 0);
});

// ---------------------------------------------------------------------------------------
// (c) HTTP provider flaky: retried until it works

test("HTTP provider flaky: fails twice then accepts → 'sent' after 3 attempts, with the right request each time", async () => {
  const email = freshEmail("flaky");
  behaviour.set(email, (n) => (n <= 2
    ? new Response("try later", { status: n === 1 ? 503 : 500 })
    : new Response(JSON.stringify({ id: "accepted" }), { status: 202, headers: { "content-type": "application/json" } })));
  await h.signup({ email });

  const row = await outboxSettles(h, email, "sent");
  assert.equal(row.attempts, 3);
  assert.equal(row.last_error, null);
  assert.ok(row.sent_at);

  const tries = callsTo(email);
  assert.equal(tries.length, 3, "provider called exactly three times");
  for (const c of tries) {
    assert.equal(c.method, "POST");
    assert.equal(c.url, "https://mail.test/send");
    assert.equal(c.headers.authorization, "Bearer k");
    assert.equal(c.headers["idempotency-key"], row.id);
    assert.match(c.headers["content-type"] ?? "", /application\/json/);
    assert.deepEqual(Object.keys(c.body).sort(), ["from", "html", "subject", "text", "to"]);
    assert.deepEqual([].concat(c.body.to), [email]);
    assert.equal(c.body.from, FROM);
    assert.equal(c.body.subject, "Activate your account");
    assert.match(c.body.text, /\/activate\?token=[A-Za-z0-9_-]{43}/);
    assert.match(c.body.html, /<a href="[^"]*\/activate\?token=[A-Za-z0-9_-]{43}">/);
  }
  assert.deepEqual(tries[1].body, tries[0].body, "a retry sends the same message");
  assert.deepEqual(tries[2].body, tries[0].body);

  const box = await mailbox(h, `?to=${encodeURIComponent(email)}`);
  assert.equal(box.data.length, 1);
  assert.equal(box.data[0].id, row.id);
});

test("HTTP provider unreachable (fetch throws) counts as a failed attempt and is retried", async () => {
  const email = freshEmail("unreachable");
  behaviour.set(email, (n) => {
    if (n === 1) throw new Error("connection refused");
    return new Response("ok", { status: 200 });
  });
  await h.signup({ email });
  const row = await outboxSettles(h, email, "sent");
  assert.equal(row.attempts, 2);
  assert.equal(callsTo(email).length, 2);
});

// ---------------------------------------------------------------------------------------
// (d) never twice for one idempotency key

test("a redelivered message (same id) is never sent again, whether it was sent or failed", async () => {
  // One message delivered, one dead-lettered.
  const okEmail = freshEmail("once");
  await h.signup({ email: okEmail });
  const sent = await outboxSettles(h, okEmail, "sent");
  const delivered = callsTo(okEmail);
  assert.equal(delivered.length, 1);

  const badEmail = freshEmail("dead");
  behaviour.set(badEmail, () => new Response("no", { status: 503 }));
  await h.signup({ email: badEmail });
  const failed = await outboxSettles(h, badEmail, "failed");
  const kv = await h.mf.getKVNamespace("DLQ_SINK", "dlq-sink");
  const deadBody = await h.until(() => kv.get(failed.id), { what: "DLQ entry" });
  behaviour.delete(badEmail); // the provider would accept it now: it still must not be sent

  // The original queue body of the delivered message, rebuilt from what was sent.
  const text = delivered[0].body.text;
  const original = {
    id: sent.id,
    to: okEmail,
    content: {
      activation: {
        first_name: "Ada",
        link: text.match(/(http\S+\/activate\?token=[A-Za-z0-9_-]{43})/)[1],
        expires_at: text.match(/expires at (\S+) and works once/)[1],
      },
    },
  };
  // A control message through the same path: it has a queued outbox row, so it is sent;
  // once it has been, the redeliveries before it in the same batch were processed too.
  const markerEmail = freshEmail("marker");
  const markerId = randomUUID();
  await h.db.prepare("INSERT INTO outbox (id, kind, recipient, status, created_at, updated_at) VALUES (?, 'password_changed', ?, 'queued', ?, ?)")
    .bind(markerId, markerEmail, Date.now(), Date.now()).run();
  const marker = { id: markerId, to: markerEmail, content: { password_changed: { first_name: "Ada" } } };

  const queue = await h.mf.getQueueProducer("MAIL_QUEUE", "ums");
  // Malformed bodies (not ours, or corrupt) are dropped: logged and acknowledged, never
  // delivered, never retried, and they do not stop the batch.
  // Each has a queued outbox row, so one read as well formed would be sent.
  const junkEmail = freshEmail("junk");
  const junkIds = [];
  const junk = (content) => {
    const id = randomUUID();
    junkIds.push(id);
    return JSON.stringify({ id, to: junkEmail, content });
  };
  const junkBodies = [
    junk({ carrier_pigeon: { first_name: "Ada" } }),
    junk({ activation: { first_name: "Ada" } }),
    junk({ password_changed: { first_name: 7 } }),
    junk({ password_changed: { first_name: "Ada" }, account_locked: { first_name: "Ada", reset_link: "x" } }),
  ];
  for (const id of junkIds) {
    await h.db.prepare("INSERT INTO outbox (id, kind, recipient, status, created_at, updated_at) VALUES (?, 'password_changed', ?, 'queued', ?, ?)")
      .bind(id, junkEmail, Date.now(), Date.now()).run();
  }
  await queue.sendBatch([
    { body: JSON.stringify(original) },
    { body: deadBody },
    { body: "not json" },
    ...junkBodies.map((body) => ({ body })),
    { body: JSON.stringify(original) },
    { body: JSON.stringify(marker) },
  ]);
  await outboxSettles(h, markerEmail, "sent");
  assert.equal(callsTo(markerEmail).length, 1, "the control message went through the consumer");
  assert.equal(callsTo(junkEmail).length, 0, "no malformed message was delivered");
  for (const id of junkIds) {
    assert.deepEqual(await h.one("SELECT status, attempts FROM outbox WHERE id = ?", id), { status: "queued", attempts: 0 });
  }

  assert.equal(callsTo(okEmail).length, 1, "the sent message was not sent again");
  assert.equal(callsTo(badEmail).length, 3, "the failed message was not retried again");
  const okRow = await outboxRow(h, okEmail);
  assert.equal(okRow.status, "sent");
  assert.equal(okRow.attempts, 1);
  assert.equal(okRow.sent_at, sent.sent_at);
  const badRow = await outboxRow(h, badEmail);
  assert.equal(badRow.status, "failed");
  assert.equal(badRow.attempts, 3);
  assert.equal((await mailbox(h, `?to=${encodeURIComponent(okEmail)}`)).data.length, 1);
});

// ---------------------------------------------------------------------------------------
// (e) HTML escaping

test("user-provided text is escaped in the HTML body and kept verbatim in the text body", async () => {
  const u = await w.activeUser();
  const evil = "<script>alert(1)</script>";
  const p = await w.patch("/v1/me", { first_name: evil }, { token: u.access_token });
  assert.equal(p.status, 200, JSON.stringify(p.body));
  assert.equal((await w.post("/v1/auth/password/forgot", { email: u.email })).status, 202);
  const m = await w.mail(u.email, /Reset your password/);
  assert.ok(m.html.includes("Hello &lt;script&gt;alert(1)&lt;/script&gt;,"), m.html);
  assert.ok(!/<script/i.test(m.html), m.html);
  assert.ok(m.text.startsWith(`Hello ${evil},`), m.text);

  // An address with HTML-special characters, echoed in the verification mail.
  const newEmail = `o'brien&co-${randomBytes(3).toString("hex")}@example.com`;
  const c = await w.post("/v1/me/email", { new_email: newEmail, password: PASSWORD }, { token: u.access_token });
  assert.equal(c.status, 202, JSON.stringify(c.body));
  const v = await w.mail(newEmail, /Confirm your new email/);
  const escaped = newEmail.replace("&", "&amp;").replace("'", "&#39;");
  assert.ok(v.html.includes(escaped), v.html);
  assert.ok(!v.html.includes(newEmail), "raw address must not appear in HTML");
  assert.ok(!/<script/i.test(v.html));
  assert.ok(v.text.includes(newEmail));
});

// ---------------------------------------------------------------------------------------
// (f) production settings

test("outside development the dev mailbox is 404 and mail goes only to the HTTP provider", async () => {
  const sent = [];
  const p = await startWorker({
    vars: {
      ENVIRONMENT: "production",
      APP_URL: "https://id.example.com",
      JWT_PRIVATE_KEY: randomBytes(32).toString("base64url"),
      EMAIL_PROVIDER: "http",
      EMAIL_HTTP_URL: "https://mail.test/send",
    },
    outbound: async (req) => { sent.push(await req.json()); return new Response("ok"); },
  });
  try {
    const health = await p.get("/health");
    assert.equal(health.status, 200, JSON.stringify(health.body));
    assert.notEqual(health.body.environment, "development");
    assertProblem(await p.get("/v1/dev/mailbox"), 404, "not_found");
    assertProblem(await p.get("/v1/dev/mailbox?to=a%40example.com&limit=1"), 404, "not_found");

    const email = freshEmail("prod");
    const s = await p.post("/v1/auth/signup", {
      email, password: PASSWORD, first_name: "Ada", last_name: "Lovelace",
      organization: { name: "Prod Org" }, workspace: { name: "Main" },
    });
    assert.equal(s.status, 201, JSON.stringify(s.body));
    await outboxSettles(p, email, "sent");
    assert.equal(sent.length, 1);
    assert.deepEqual([].concat(sent[0].to), [email]);
    assert.match(sent[0].text, /https:\/\/id\.example\.com\/activate\?token=[A-Za-z0-9_-]{43}/);
    assert.equal((await p.rows("SELECT id FROM dev_mailbox")).length, 0, "nothing kept outside development");
    assertProblem(await p.get("/v1/dev/mailbox"), 404, "not_found");
  } finally {
    await p.dispose();
  }
});

test("production without JWT_PRIVATE_KEY: every route answers 503 service_misconfigured naming it", async () => {
  const p = await startWorker({
    vars: {
      ENVIRONMENT: "production",
      APP_URL: "https://id.example.com",
      EMAIL_PROVIDER: "http",
      EMAIL_HTTP_URL: "https://mail.test/send",
    },
    outbound: () => new Response("ok"),
  });
  try {
    const routes = [
      ["GET", "/health"],
      ["GET", "/.well-known/jwks.json"],
      ["GET", "/v1/dev/mailbox"],
      ["GET", "/v1/me", { token: "x" }],
      ["POST", "/v1/auth/login", { body: { email: "a@example.com", password: PASSWORD } }],
      ["POST", "/v1/auth/signup", { body: { email: "a@example.com", password: PASSWORD, first_name: "A", last_name: "B", organization: { name: "O" }, workspace: { name: "W" } } }],
      ["POST", "/v1/auth/password/forgot", { body: { email: "a@example.com" } }],
      ["GET", "/v1/nope"],
    ];
    for (const [method, path, opts] of routes) {
      const r = await p.request(method, path, opts ?? {});
      assertProblem(r, 503, "service_misconfigured");
      assert.match(r.body.detail, /JWT_PRIVATE_KEY/, `${method} ${path}: ${r.body.detail}`);
    }
    assert.equal((await p.one("SELECT COUNT(*) AS n FROM users")).n, 0);
    assert.equal((await p.one("SELECT COUNT(*) AS n FROM outbox")).n, 0);
  } finally {
    await p.dispose();
  }
});

test("production refuses the console provider and a plain-http APP_URL (503 naming the setting)", async () => {
  const base = {
    ENVIRONMENT: "production",
    APP_URL: "https://id.example.com",
    JWT_PRIVATE_KEY: randomBytes(32).toString("base64url"),
    EMAIL_PROVIDER: "http",
    EMAIL_HTTP_URL: "https://mail.test/send",
  };
  for (const [vars, setting] of [
    [{ ...base, EMAIL_PROVIDER: "console" }, /EMAIL_PROVIDER/],
    [{ ...base, APP_URL: "http://id.example.com" }, /APP_URL/],
  ]) {
    const p = await startWorker({ vars, outbound: () => new Response("ok") });
    try {
      for (const path of ["/health", "/v1/dev/mailbox"]) {
        const r = await p.get(path);
        assertProblem(r, 503, "service_misconfigured");
        assert.match(r.body.detail, setting);
      }
    } finally {
      await p.dispose();
    }
  }
});
