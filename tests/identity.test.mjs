// The identity core's promises, end to end through the real Worker: lockout, sessions that
// end at once, refresh-token reuse, single-use expiring tokens, JWTs verified by an
// independent JOSE library from the JWKS alone, and password rehashing.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { pbkdf2Sync, randomBytes } from "node:crypto";
import { createLocalJWKSet, jwtVerify, SignJWT, generateKeyPair, decodeProtectedHeader } from "jose";
import { startWorker, assertProblem, freshEmail, freshIp, PASSWORD } from "./helpers.mjs";

let w;
before(async () => { w = await startWorker(); });
after(async () => { await w?.dispose(); });

const me = (token) => w.get("/v1/me", { token });
const withoutInstance = ({ instance, ...rest }) => rest;

test("unknown email and wrong password are indistinguishable", async () => {
  const u = await w.activeUser();
  const wrong = await w.login(u.email, "not the right passphrase");
  const unknown = await w.login(freshEmail("nobody"), "not the right passphrase");
  assertProblem(wrong, 401, "invalid_credentials");
  assertProblem(unknown, 401, "invalid_credentials");
  assert.deepEqual(withoutInstance(wrong.body), withoutInstance(unknown.body));
});

test("a pending account gets 403 account_not_active with the right password only", async () => {
  const s = await w.signup();
  assertProblem(await w.login(s.email), 403, "account_not_active");
  assertProblem(await w.login(s.email, "wrong passphrase here"), 401, "invalid_credentials");
});

test("5 failures lock: 423 even with the right password, sessions end at once, reset unlocks", async () => {
  const u = await w.activeUser();
  assert.equal((await me(u.access_token)).status, 200);
  for (let i = 0; i < 5; i++) assertProblem(await w.login(u.email, `wrong passphrase ${i}`), 401, "invalid_credentials");
  assertProblem(await w.login(u.email), 423, "account_locked");
  const row = await w.one("SELECT status, failed_logins FROM users WHERE email = ?", u.email);
  assert.deepEqual(row, { status: "locked", failed_logins: 5 });
  assertProblem(await me(u.access_token), 401, "unauthorized");
  const ended = await w.rows("SELECT end_reason FROM sessions WHERE user_id = ?", u.user.id);
  assert.ok(ended.length >= 1 && ended.every((s) => s.end_reason === "locked"), JSON.stringify(ended));
  await w.mail(u.email, /locked/);
  const locks = await w.rows("SELECT id FROM audit_events WHERE subject_user_id = ? AND action = 'user.locked'", u.user.id);
  assert.equal(locks.length, 1);

  await w.post("/v1/auth/password/forgot", { email: u.email });
  const token = await w.mailToken(u.email, /Reset/);
  assert.equal((await w.post("/v1/auth/password/reset", { token, new_password: "brand new passphrase" })).status, 204);
  assert.deepEqual(await w.one("SELECT status, failed_logins FROM users WHERE email = ?", u.email), { status: "active", failed_logins: 0 });
  assert.equal((await w.login(u.email, "brand new passphrase")).status, 200);
  const unlocked = await w.rows("SELECT id FROM audit_events WHERE subject_user_id = ? AND action = 'user.unlocked'", u.user.id);
  assert.equal(unlocked.length, 1);
});

test("16 concurrent failed logins still lock, and user.locked is written once", async () => {
  const u = await w.activeUser();
  const results = await Promise.all(
    Array.from({ length: 16 }, (_, i) => w.login(u.email, `wrong passphrase ${i}`, freshIp())),
  );
  for (const r of results) assert.ok([401, 423].includes(r.status), JSON.stringify(r.body));
  const row = await w.one("SELECT status, failed_logins FROM users WHERE email = ?", u.email);
  assert.equal(row.status, "locked");
  assert.ok(row.failed_logins >= 5);
  const locks = await w.rows("SELECT id FROM audit_events WHERE subject_user_id = ? AND action = 'user.locked'", u.user.id);
  assert.equal(locks.length, 1);
  assertProblem(await w.login(u.email), 423, "account_locked");
});

test("a reused refresh token ends the whole session family", async () => {
  const u = await w.activeUser();
  const first = u.refresh_token;
  const rotated = await w.post("/v1/auth/refresh", { refresh_token: first });
  assert.equal(rotated.status, 200, JSON.stringify(rotated.body));
  assert.notEqual(rotated.body.refresh_token, first);
  assert.equal((await me(rotated.body.access_token)).status, 200);

  assertProblem(await w.post("/v1/auth/refresh", { refresh_token: first }), 401, "invalid_token");
  // The thief's replay killed the session: the legitimate newest tokens die too.
  assertProblem(await w.post("/v1/auth/refresh", { refresh_token: rotated.body.refresh_token }), 401, "invalid_token");
  assertProblem(await me(rotated.body.access_token), 401, "unauthorized");
  const s = await w.one("SELECT end_reason FROM sessions WHERE user_id = ?", u.user.id);
  assert.equal(s.end_reason, "refresh_token_reuse");
});

test("two refreshes racing with one token: at most one wins and the session ends", async () => {
  const u = await w.activeUser();
  const results = await Promise.all([
    w.post("/v1/auth/refresh", { refresh_token: u.refresh_token }),
    w.post("/v1/auth/refresh", { refresh_token: u.refresh_token }),
  ]);
  assert.ok(results.filter((r) => r.status === 200).length <= 1);
  const s = await w.one("SELECT ended_at, end_reason FROM sessions WHERE user_id = ?", u.user.id);
  assert.equal(s.end_reason, "refresh_token_reuse");
});

test("logout, logout-all, password change and reset end sessions on the next request", async () => {
  const u = await w.activeUser();
  const a = (await w.login(u.email)).body;
  const b = (await w.login(u.email)).body;
  assert.equal((await w.post("/v1/auth/logout", { refresh_token: a.refresh_token })).status, 204);
  assertProblem(await me(a.access_token), 401, "unauthorized");
  assertProblem(await w.post("/v1/auth/refresh", { refresh_token: a.refresh_token }), 401, "invalid_token");
  assert.equal((await w.post("/v1/auth/logout", { refresh_token: a.refresh_token })).status, 204, "idempotent");
  assert.equal((await me(b.access_token)).status, 200);

  assertProblem(await w.post("/v1/auth/logout-all", {}), 401, "unauthorized");
  assert.equal((await w.post("/v1/auth/logout-all", {}, { token: b.access_token })).status, 204);
  assertProblem(await me(b.access_token), 401, "unauthorized");
  assertProblem(await me(u.access_token), 401, "unauthorized");

  const c = (await w.login(u.email)).body;
  const d = (await w.login(u.email)).body;
  assert.equal((await w.post("/v1/me/password", { current_password: PASSWORD, new_password: "changed passphrase one" }, { token: c.access_token })).status, 204);
  assert.equal((await me(c.access_token)).status, 200, "the session that changed it stays");
  assertProblem(await me(d.access_token), 401, "unauthorized");

  await w.post("/v1/auth/password/forgot", { email: u.email });
  const token = await w.mailToken(u.email, /Reset/);
  assert.equal((await w.post("/v1/auth/password/reset", { token, new_password: "changed passphrase two" })).status, 204);
  assertProblem(await me(c.access_token), 401, "unauthorized");
  assertProblem(await w.post("/v1/auth/password/reset", { token, new_password: "changed passphrase three" }), 400, "invalid_token");
});

test("emailed tokens expire: 410 token_expired", async () => {
  const short = await startWorker({ vars: { ACTIVATION_TTL_SECONDS: "1", PASSWORD_RESET_TTL_SECONDS: "1" } });
  try {
    const s = await short.signup();
    const token = await short.mailToken(s.email, /Activate/);
    // Wait for the clock to pass the stored expiry (using the token would consume it).
    const { expires_at } = await short.one("SELECT expires_at FROM user_tokens WHERE user_id = ? AND purpose = 'activation'", s.user.id);
    await short.until(async () => Date.now() > expires_at + 20, { what: "activation expiry" });
    assertProblem(await short.post("/v1/auth/activate", { token }), 410, "token_expired");
    assert.equal((await short.one("SELECT status FROM users WHERE id = ?", s.user.id)).status, "pending");
    assertProblem(await short.post("/v1/auth/activate", { token: "x".repeat(43) }), 400, "invalid_token");
  } finally {
    await short.dispose();
  }
});

test("access tokens verify with jose from the JWKS alone; tampered, alg none and foreign keys fail", async () => {
  const u = await w.activeUser();
  const jwks = (await w.get("/.well-known/jwks.json")).body;
  assert.equal(jwks.keys[0].kty, "OKP");
  assert.equal(jwks.keys[0].crv, "Ed25519");
  const header = decodeProtectedHeader(u.access_token);
  assert.equal(header.alg, "EdDSA");
  assert.equal(header.kid, jwks.keys[0].kid);
  const { payload } = await jwtVerify(u.access_token, createLocalJWKSet(jwks), { issuer: "http://127.0.0.1:8787" });
  assert.equal(payload.sub, u.user.id);
  assert.ok(payload.sid && payload.jti && payload.iat && payload.exp === payload.iat + 900);

  const [h, p, sig] = u.access_token.split(".");
  const claims = JSON.parse(Buffer.from(p, "base64url"));
  const tampered = Buffer.from(JSON.stringify({ ...claims, exp: claims.exp + 3600 })).toString("base64url");
  assertProblem(await me(`${h}.${tampered}.${sig}`), 401, "unauthorized");
  const none = Buffer.from(JSON.stringify({ alg: "none", typ: "JWT", kid: header.kid })).toString("base64url");
  assertProblem(await me(`${none}.${p}.`), 401, "unauthorized");
  const { privateKey } = await generateKeyPair("EdDSA", { crv: "Ed25519" });
  const foreign = await new SignJWT(claims).setProtectedHeader({ alg: "EdDSA", kid: header.kid }).sign(privateKey);
  assertProblem(await me(foreign), 401, "unauthorized");
  const noAuth = await me(undefined);
  assertProblem(noAuth, 401, "unauthorized");
  assert.equal(noAuth.headers.get("www-authenticate"), "Bearer");
  assertProblem(await w.get("/v1/me", { headers: { authorization: "Basic abc" } }), 401, "unauthorized");
});

test("a password stored with weaker parameters is re-hashed at the next login", async () => {
  const u = await w.activeUser();
  const salt = randomBytes(16);
  const hash = pbkdf2Sync(PASSWORD, salt, 1000, 32, "sha256");
  const b64 = (b) => b.toString("base64").replace(/=+$/, "");
  await w.db.prepare("UPDATE users SET password_hash = ? WHERE id = ?")
    .bind(`$pbkdf2-sha256$i=1000,l=32$${b64(salt)}$${b64(hash)}`, u.user.id).run();
  assert.equal((await w.login(u.email)).status, 200);
  const row = await w.one("SELECT password_hash FROM users WHERE id = ?", u.user.id);
  assert.match(row.password_hash, /^\$pbkdf2-sha512\$i=210000,l=32\$/);
  assert.equal((await w.login(u.email)).status, 200);
});

test("a single-use password: 403 with a change_token good only for POST /v1/me/password", async () => {
  const u = await w.activeUser();
  await w.db.prepare("UPDATE users SET must_change_password = 1 WHERE id = ?").bind(u.user.id).run();
  const r = await w.login(u.email);
  assertProblem(r, 403, "password_change_required");
  const change = r.body.change_token;
  assert.match(change, /^[A-Za-z0-9_-]{43}$/);
  assertProblem(await me(change), 401, "unauthorized");
  const body = { current_password: PASSWORD, new_password: "my own passphrase now" };
  assert.equal((await w.post("/v1/me/password", body, { token: change })).status, 204);
  assertProblem(await w.post("/v1/me/password", { ...body, current_password: "my own passphrase now", new_password: "yet another passphrase" }, { token: change }), 401, "unauthorized");
  assert.equal((await w.login(u.email, "my own passphrase now")).status, 200);
  assert.equal((await w.one("SELECT must_change_password FROM users WHERE id = ?", u.user.id)).must_change_password, 0);
});

test("email change: old address until verified, then the new one; link single-use; taken → 409", async () => {
  const u = await w.activeUser();
  const other = await w.activeUser();
  const next = freshEmail("moved");
  assertProblem(await w.post("/v1/me/email", { new_email: other.email, password: PASSWORD }, { token: u.access_token }), 409, "email_taken");
  assertProblem(await w.post("/v1/me/email", { new_email: next, password: "wrong passphrase" }, { token: u.access_token }), 422, "validation_failed");
  const r = await w.post("/v1/me/email", { new_email: next.toUpperCase(), password: PASSWORD }, { token: u.access_token });
  assert.equal(r.status, 202, JSON.stringify(r.body));
  assert.equal(r.body.pending_email, next);
  await w.mail(u.email, /being changed/);
  const token = await w.mailToken(next, /Confirm/);
  assert.equal((await w.login(u.email)).status, 200, "old email still logs in");
  assertProblem(await w.login(next), 401, "invalid_credentials");
  assert.equal((await me(u.access_token)).body.pending_email, next);

  const v = await w.post("/v1/auth/email/verify", { token });
  assert.equal(v.status, 200, JSON.stringify(v.body));
  assert.equal(v.body.user.email, next);
  assert.deepEqual(await w.one("SELECT email, pending_email FROM users WHERE id = ?", u.user.id), { email: next, pending_email: null });
  assert.equal((await w.login(next)).status, 200);
  assertProblem(await w.login(u.email), 401, "invalid_credentials");
  assertProblem(await w.post("/v1/auth/email/verify", { token }), 400, "invalid_token");
});

test("signup validates everything and writes nothing on bad input; duplicates are 409", async () => {
  const before = (await w.one("SELECT COUNT(*) AS n FROM users")).n;
  const base = { email: freshEmail(), password: PASSWORD, first_name: "A", last_name: "B", organization: { name: "O" }, workspace: { name: "W" } };
  const bad = await w.post("/v1/auth/signup", { ...base, email: "nope", password: "password123", organization: { name: "" } });
  assertProblem(bad, 422, "validation_failed");
  assert.deepEqual(bad.body.errors.map((e) => e.field).sort(), ["email", "organization.name"].sort());
  const weak = await w.post("/v1/auth/signup", { ...base, password: "Password123" });
  assert.deepEqual(weak.body.errors.map((e) => e.field), ["password"]);
  assert.equal((await w.one("SELECT COUNT(*) AS n FROM users")).n, before);
  const ok = await w.post("/v1/auth/signup", base);
  assert.equal(ok.status, 201);
  assert.equal(ok.body.user.status, "pending");
  assert.equal(ok.body.organization.owner_id, ok.body.user.id);
  assertProblem(await w.post("/v1/auth/signup", { ...base, email: base.email.toUpperCase() }), 409, "email_taken");
  const member = await w.one("SELECT role FROM org_members WHERE user_id = ?", ok.body.user.id);
  assert.equal(member.role, "owner");
});
