// End-to-end tests of SPEC §4 "Auth and the caller's own account" (signup, activation, login,
// lockout, JWTs, refresh rotation, logout, password reset, email change, rehash, single-use
// passwords) through the real Worker in Miniflare, asserting the response AND what D1 holds.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { pbkdf2Sync, randomBytes } from "node:crypto";
import {
  createLocalJWKSet, jwtVerify, decodeProtectedHeader, decodeJwt, SignJWT, generateKeyPair,
} from "jose";
import { startWorker, assertProblem, freshEmail, freshIp, PASSWORD } from "./helpers.mjs";

let w; // default vars
let short; // activation links live 1 s
let shortMail; // reset and email-verification links live 1 s
before(async () => {
  [w, short, shortMail] = await Promise.all([
    startWorker(),
    startWorker({ vars: { ACTIVATION_TTL_SECONDS: "1" } }),
    startWorker({ vars: { PASSWORD_RESET_TTL_SECONDS: "1", EMAIL_VERIFICATION_TTL_SECONDS: "1" } }),
  ]);
});
after(async () => {
  await Promise.all([w?.dispose(), short?.dispose(), shortMail?.dispose()]);
});

const ISSUER = "http://127.0.0.1:8787"; // JWT_ISSUER of wrangler.toml [vars]
const NEW_PASSWORD = "a brand new passphrase 42";
const TOKEN_RE = /^[A-Za-z0-9_-]{43}$/; // 256-bit, URL-safe
const withoutInstance = ({ instance, ...rest }) => rest;
const me = (token) => w.get("/v1/me", { token });
const randomToken = () => randomBytes(32).toString("base64url");

function signupBody(email, overrides = {}) {
  return {
    email,
    password: PASSWORD,
    first_name: "Ada",
    last_name: "Lovelace",
    organization: { name: "Analytical Engines", description: "Difference engines" },
    workspace: { name: "Main" },
    ...overrides,
  };
}

function assertTokenResponse(body, userId) {
  assert.equal(typeof body.access_token, "string");
  assert.equal(body.access_token.split(".").length, 3, "a compact JWS");
  assert.equal(body.token_type, "Bearer");
  assert.equal(body.expires_in, 900);
  assert.match(body.refresh_token, TOKEN_RE);
  if (body.user !== undefined || userId) {
    assert.equal(body.user.id, userId);
    assert.equal(body.user.status, "active");
  }
}

/** The session id (`sid`) of an access token, unverified (verification is tested apart). */
const sid = (accessToken) => decodeJwt(accessToken).sid;

async function session(id) {
  return w.one("SELECT id, user_id, ended_at, end_reason FROM sessions WHERE id = ?", id);
}

async function auditCount(userId, action) {
  const r = await w.one(
    "SELECT COUNT(*) AS n FROM audit_events WHERE subject_user_id = ? AND action = ?", userId, action,
  );
  return r.n;
}

async function userRow(id) {
  return w.one(
    "SELECT email, status, failed_logins, password_hash, pending_email, email_verified, must_change_password FROM users WHERE id = ?",
    id,
  );
}

/** Waits until wall-clock time is past an RFC 3339 instant (the server uses the same clock). */
async function waitPast(client, rfc3339) {
  const t = Date.parse(rfc3339);
  assert.ok(Number.isFinite(t), `not a time: ${rfc3339}`);
  await client.until(() => Date.now() > t + 50, { timeout: 15000, what: `time past ${rfc3339}` });
}

/** The expiry printed in a token mail ("This link expires at <RFC 3339> and works once."). */
function mailExpiry(mail) {
  const m = mail.text.match(/expires at (\S+?) and works once/);
  assert.ok(m, `no expiry in mail: ${mail.text}`);
  return m[1];
}

// ---------------------------------------------------------------------------------------------
// 1. Signup
// ---------------------------------------------------------------------------------------------

test("signup: 201 {user pending, organization, workspace}, rows in D1, activation mail", async () => {
  const local = `Ada.Mixed-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  const typed = `${local}@Example.COM`;
  const email = typed.toLowerCase();
  const r = await w.post("/v1/auth/signup", signupBody(typed));
  assert.equal(r.status, 201, JSON.stringify(r.body));
  assert.ok(r.headers.get("x-request-id"));

  const { user, organization, workspace } = r.body;
  assert.equal(user.email, email, "email stored lower-cased");
  assert.equal(user.status, "pending");
  assert.equal(user.email_verified, false);
  assert.equal(user.first_name, "Ada");
  assert.equal(user.last_name, "Lovelace");
  assert.equal(user.pending_email, null);
  assert.match(user.id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/, "UUIDv7");
  assert.ok(!Number.isNaN(Date.parse(user.created_at)));
  assert.equal(user.password_hash, undefined, "never exposes the hash");
  assert.equal(user.password, undefined);

  assert.equal(organization.name, "Analytical Engines");
  assert.equal(organization.description, "Difference engines");
  assert.equal(organization.owner_id, user.id);
  assert.equal(typeof organization.member_limit, "number");
  assert.ok(organization.id);
  assert.equal(workspace.name, "Main");
  assert.equal(workspace.org_id, organization.id);
  assert.ok(workspace.id);

  // D1: the user, the org owned by them, the owner membership, the workspace.
  const row = await w.one("SELECT * FROM users WHERE id = ?", user.id);
  assert.equal(row.email, email);
  assert.equal(row.status, "pending");
  assert.equal(row.email_verified, 0);
  assert.equal(row.failed_logins, 0);
  assert.match(row.password_hash, /^\$pbkdf2-sha512\$i=210000,l=32\$/, "OWASP-strength PHC string");
  assert.ok(!row.password_hash.includes(PASSWORD));
  const org = await w.one("SELECT * FROM orgs WHERE id = ?", organization.id);
  assert.equal(org.owner_id, user.id);
  assert.equal(org.name, "Analytical Engines");
  const members = await w.rows("SELECT user_id, role FROM org_members WHERE org_id = ?", organization.id);
  assert.deepEqual(members, [{ user_id: user.id, role: "owner" }]);
  const ws = await w.rows("SELECT id, name FROM workspaces WHERE org_id = ?", organization.id);
  assert.deepEqual(ws, [{ id: workspace.id, name: "Main" }]);
  const tokens = await w.rows("SELECT purpose, used_at FROM user_tokens WHERE user_id = ?", user.id);
  assert.deepEqual(tokens, [{ purpose: "activation", used_at: null }]);
  assert.equal(await auditCount(user.id, "user.signed_up"), 1);

  // The activation mail: queued in the outbox with the signup, then delivered.
  const outbox = await w.rows("SELECT kind FROM outbox WHERE recipient = ?", email);
  assert.deepEqual(outbox.map((o) => o.kind), ["activation"]);
  const mail = await w.mail(email, /Activate/);
  assert.equal(mail.to, email);
  assert.match(mail.text, /http:\/\/127\.0\.0\.1:8787\/activate\?token=[A-Za-z0-9_-]{43}/);
});

test("signup: a case-insensitive duplicate email is 409 email_taken and writes nothing", async () => {
  const s = await w.signup();
  const before = await w.one("SELECT COUNT(*) AS n FROM orgs");
  const r = await w.post("/v1/auth/signup", signupBody(s.email.toUpperCase()));
  assertProblem(r, 409, "email_taken");
  assert.equal((await w.one("SELECT COUNT(*) AS n FROM users WHERE email = ?", s.email)).n, 1);
  assert.equal((await w.one("SELECT COUNT(*) AS n FROM orgs")).n, before.n);
  assert.equal((await w.one("SELECT COUNT(*) AS n FROM outbox WHERE recipient = ?", s.email)).n, 1);
});

test("signup: invalid bodies are 422 naming the field, and change nothing in D1", async () => {
  const tables = ["users", "orgs", "workspaces", "org_members", "user_tokens", "outbox", "audit_events"];
  const counts = async () => {
    const out = {};
    for (const t of tables) out[t] = (await w.one(`SELECT COUNT(*) AS n FROM ${t}`)).n;
    return out;
  };
  const before = await counts();
  const email = freshEmail("invalid");
  const without = (field) => {
    const b = signupBody(email);
    delete b[field];
    return b;
  };
  const cases = [
    ["missing email", without("email"), "email"],
    ["missing password", without("password"), "password"],
    ["missing first_name", without("first_name"), "first_name"],
    ["missing organization", without("organization"), "organization"],
    ["missing workspace", without("workspace"), "workspace"],
    ["missing organization.name", signupBody(email, { organization: {} }), "organization.name"],
    ["blank first_name", signupBody(email, { first_name: "   " }), "first_name"],
    ["blank workspace.name", signupBody(email, { workspace: { name: " " } }), "workspace.name"],
    ["bad email", signupBody("not-an-email"), "email"],
    ["bad email domain", signupBody("ada@example"), "email"],
    ["short password", signupBody(email, { password: "short1" }), "password"],
    ["common password", signupBody(email, { password: "password123" }), "password"],
    ["common password, other case", signupBody(email, { password: "Password123" }), "password"],
    ["password is the email", signupBody(email, { password: email }), "password"],
    ["too long password", signupBody(email, { password: "x".repeat(129) }), "password"],
    ["unknown field", signupBody(email, { is_admin: true }), "is_admin"],
    ["unknown nested field", signupBody(email, { organization: { name: "X", owner_id: "u" } }), "organization.owner_id"],
    ["email not a string", signupBody(email, { email: 42 }), "email"],
    ["email null", signupBody(email, { email: null }), "email"],
    ["password not a string", signupBody(email, { password: ["a", "b"] }), "password"],
    ["first_name not a string", signupBody(email, { first_name: { x: 1 } }), "first_name"],
    ["organization not an object", signupBody(email, { organization: "Acme" }), "organization"],
    ["workspace.name not a string", signupBody(email, { workspace: { name: 7 } }), "workspace.name"],
  ];
  for (const [what, body, field] of cases) {
    const r = await w.post("/v1/auth/signup", body, { ip: freshIp() });
    assertProblem(r, 422, "validation_failed");
    assert.ok(Array.isArray(r.body.errors), `${what}: ${JSON.stringify(r.body)}`);
    assert.ok(
      r.body.errors.some((e) => e.field === field && typeof e.message === "string" && e.message),
      `${what}: expected errors[].field ${field}, got ${JSON.stringify(r.body.errors)}`,
    );
  }
  const common = await w.post("/v1/auth/signup", signupBody(email, { password: "password123" }), { ip: freshIp() });
  assert.deepEqual(common.body.errors, [{ field: "password", message: "is too common; choose a less guessable password" }]);
  assert.deepEqual(await counts(), before, "no row written by any invalid signup");
  assert.equal((await w.one("SELECT COUNT(*) AS n FROM users WHERE email = ?", email)).n, 0);
});

// ---------------------------------------------------------------------------------------------
// 2. Activation
// ---------------------------------------------------------------------------------------------

test("activate: 200 with tokens, account active in D1, the token is single-use", async () => {
  const s = await w.signup();
  const token = await w.mailToken(s.email, /Activate/);
  const r = await w.post("/v1/auth/activate", { token });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assertTokenResponse(r.body, s.user.id);
  assert.equal(r.body.user.email, s.email);
  assert.equal(r.body.user.email_verified, true);

  const row = await userRow(s.user.id);
  assert.equal(row.status, "active");
  assert.equal(row.email_verified, 1);
  const used = await w.rows("SELECT used_at FROM user_tokens WHERE user_id = ? AND purpose = 'activation'", s.user.id);
  assert.equal(used.length, 1);
  assert.ok(used[0].used_at, "activation token marked used");
  const sess = await session(sid(r.body.access_token));
  assert.equal(sess.user_id, s.user.id);
  assert.equal(sess.ended_at, null);
  assert.equal(await auditCount(s.user.id, "user.activated"), 1);
  assert.equal((await me(r.body.access_token)).status, 200, "the returned access token works");

  // Reused: 400 invalid_token, and nothing more happens.
  const again = await w.post("/v1/auth/activate", { token });
  assertProblem(again, 400, "invalid_token");
  assert.equal(await auditCount(s.user.id, "user.activated"), 1);
  assert.equal((await w.one("SELECT COUNT(*) AS n FROM sessions WHERE user_id = ?", s.user.id)).n, 1);
});

test("activate: garbage and unknown tokens are 400 invalid_token", async () => {
  assertProblem(await w.post("/v1/auth/activate", { token: "garbage" }), 400, "invalid_token");
  assertProblem(await w.post("/v1/auth/activate", { token: randomToken() }), 400, "invalid_token");
  assertProblem(await w.post("/v1/auth/activate", { token: "" }), 400, "invalid_token");
});

test("activate: two concurrent activations with one link → exactly one 200, one session", async () => {
  const s = await w.signup();
  const token = await w.mailToken(s.email, /Activate/);
  const results = await Promise.all([
    w.post("/v1/auth/activate", { token }),
    w.post("/v1/auth/activate", { token }),
  ]);
  const ok = results.filter((r) => r.status === 200);
  assert.equal(ok.length, 1, results.map((r) => `${r.status} ${JSON.stringify(r.body)}`).join(" | "));
  for (const r of results.filter((r) => r.status !== 200)) assertProblem(r, 400, "invalid_token");
  assert.equal((await w.one("SELECT COUNT(*) AS n FROM sessions WHERE user_id = ?", s.user.id)).n, 1);
  assert.equal(await auditCount(s.user.id, "user.activated"), 1);
});

test("activate: an expired link is 410 token_expired and leaves the account pending", async () => {
  const s = await short.signup();
  const mail = await short.mail(s.email, /Activate/);
  const token = mail.text.match(/token=([A-Za-z0-9_-]{43})/)[1];
  await waitPast(short, mailExpiry(mail));
  const r = await short.post("/v1/auth/activate", { token });
  assertProblem(r, 410, "token_expired");
  const row = await short.one("SELECT status FROM users WHERE id = ?", s.user.id);
  assert.equal(row.status, "pending");
  const tok = await short.one("SELECT used_at FROM user_tokens WHERE user_id = ? AND purpose = 'activation'", s.user.id);
  assert.equal(tok.used_at, null);
  assert.equal((await short.one("SELECT COUNT(*) AS n FROM sessions WHERE user_id = ?", s.user.id)).n, 0);
});

test("login on a pending account: right password 403 account_not_active, wrong 401", async () => {
  const s = await w.signup();
  assertProblem(await w.login(s.email), 403, "account_not_active");
  assertProblem(await w.login(s.email, "wrong passphrase here"), 401, "invalid_credentials");
  assert.equal((await w.one("SELECT COUNT(*) AS n FROM sessions WHERE user_id = ?", s.user.id)).n, 0);
  assert.equal((await userRow(s.user.id)).status, "pending");
});

// ---------------------------------------------------------------------------------------------
// 3. Login and lockout
// ---------------------------------------------------------------------------------------------

test("login: 200 token response, a live session and a login event in D1", async () => {
  const u = await w.activeUser();
  const r = await w.login(u.email.toUpperCase()); // emails are case-insensitive
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assertTokenResponse(r.body, u.user.id);
  assert.equal(r.body.user.email, u.email);
  assert.ok(r.body.user.last_login_at);
  assert.notEqual(r.body.refresh_token, u.refresh_token);
  const sess = await session(sid(r.body.access_token));
  assert.equal(sess.user_id, u.user.id);
  assert.equal(sess.ended_at, null);
  const rt = await w.rows("SELECT rotated_at FROM refresh_tokens WHERE session_id = ?", sess.id);
  assert.deepEqual(rt, [{ rotated_at: null }]);
  assert.ok((await auditCount(u.user.id, "user.login_succeeded")) >= 1);
  const m = await me(r.body.access_token);
  assert.equal(m.status, 200);
  assert.equal(m.body.id, u.user.id);
});

test("login: unknown email and wrong password are indistinguishable", async () => {
  const u = await w.activeUser();
  const wrong = await w.login(u.email, "not the right passphrase");
  const unknown = await w.login(freshEmail("nobody"), "not the right passphrase");
  assertProblem(wrong, 401, "invalid_credentials");
  assertProblem(unknown, 401, "invalid_credentials");
  assert.deepEqual(withoutInstance(wrong.body), withoutInstance(unknown.body));
  assert.equal(wrong.headers.get("content-type"), unknown.headers.get("content-type"));
  assert.equal((await userRow(u.user.id)).failed_logins, 1, "the wrong password was counted");
});

test("lockout: 5 failures lock (423 with the right password), sessions end, reset unlocks", async () => {
  const u = await w.activeUser();
  const login = await w.login(u.email);
  assert.equal(login.status, 200);
  const sessions = [sid(u.access_token), sid(login.body.access_token)];
  assert.equal((await me(login.body.access_token)).status, 200);

  for (let i = 1; i <= 5; i++) {
    assertProblem(await w.login(u.email, `wrong passphrase ${i}`), 401, "invalid_credentials");
    const row = await userRow(u.user.id);
    assert.equal(row.failed_logins, i);
    assert.equal(row.status, i < 5 ? "active" : "locked");
  }
  assertProblem(await w.login(u.email), 423, "account_locked");
  const row = await userRow(u.user.id);
  assert.equal(row.status, "locked");
  assert.ok(row.failed_logins >= 5);
  assert.equal(await auditCount(u.user.id, "user.locked"), 1);

  // Every live session ended with the lock, effective on the very next request.
  for (const id of sessions) {
    const s = await session(id);
    assert.ok(s.ended_at, `session ${id} ended`);
    assert.equal(s.end_reason, "locked");
  }
  const gone = await me(login.body.access_token);
  assertProblem(gone, 401, "unauthorized");
  assertProblem(await me(u.access_token), 401, "unauthorized");
  assertProblem(await w.post("/v1/auth/refresh", { refresh_token: login.body.refresh_token }), 401, "invalid_token");
  await w.mail(u.email, /locked/);

  // Forgot + reset unlocks.
  assert.equal((await w.post("/v1/auth/password/forgot", { email: u.email })).status, 202);
  const token = await w.mailToken(u.email, /Reset/);
  const reset = await w.post("/v1/auth/password/reset", { token, new_password: NEW_PASSWORD });
  assert.equal(reset.status, 204, JSON.stringify(reset.body));
  const after = await userRow(u.user.id);
  assert.equal(after.status, "active");
  assert.equal(after.failed_logins, 0);
  assert.equal(await auditCount(u.user.id, "user.unlocked"), 1);
  const again = await w.login(u.email, NEW_PASSWORD);
  assert.equal(again.status, 200, JSON.stringify(again.body));
  assert.equal((await me(again.body.access_token)).status, 200);
});

test("lockout counts consecutive failures: a successful login resets the counter", async () => {
  const u = await w.activeUser();
  for (let i = 0; i < 4; i++) assertProblem(await w.login(u.email, `wrong passphrase ${i}`), 401, "invalid_credentials");
  assert.equal((await userRow(u.user.id)).failed_logins, 4);
  assert.equal((await w.login(u.email)).status, 200);
  const reset = await userRow(u.user.id);
  assert.equal(reset.status, "active");
  assert.equal(reset.failed_logins, 0, "a success resets the consecutive-failure counter");
  assertProblem(await w.login(u.email, "wrong again"), 401, "invalid_credentials");
  const row = await userRow(u.user.id);
  assert.equal(row.status, "active", "4 + 1 failures around a success do not lock");
  assert.equal(row.failed_logins, 1);
  assert.equal(await auditCount(u.user.id, "user.locked"), 0);
});

test("lockout under 16 concurrent wrong passwords: locked once, exactly one user.locked", async () => {
  const u = await w.activeUser();
  const ip = freshIp();
  const results = await Promise.all(
    Array.from({ length: 16 }, (_, i) => w.login(u.email, `wrong passphrase ${i}`, ip)),
  );
  for (const r of results) {
    assert.ok([401, 423].includes(r.status), `${r.status} ${JSON.stringify(r.body)}`);
    assert.equal(r.body.code, r.status === 401 ? "invalid_credentials" : "account_locked");
  }
  const row = await userRow(u.user.id);
  assert.equal(row.status, "locked");
  assert.ok(row.failed_logins >= 5, `failed_logins ${row.failed_logins}`);
  assert.equal(await auditCount(u.user.id, "user.locked"), 1);
  const s = await session(sid(u.access_token));
  assert.ok(s.ended_at);
  assert.equal(s.end_reason, "locked");
  assertProblem(await w.login(u.email), 423, "account_locked");
});

// ---------------------------------------------------------------------------------------------
// 4. JWTs
// ---------------------------------------------------------------------------------------------

function b64json(obj) {
  return Buffer.from(JSON.stringify(obj)).toString("base64url");
}
function parts(jwt) {
  const [h, p, s] = jwt.split(".");
  return {
    header: JSON.parse(Buffer.from(h, "base64url").toString()),
    payload: JSON.parse(Buffer.from(p, "base64url").toString()),
    h, p, s,
  };
}

test("JWT: EdDSA with kid, verified by jose from the JWKS alone, with the SPEC's claims", async () => {
  const u = await w.activeUser();
  const login = await w.login(u.email);
  assert.equal(login.status, 200);
  const token = login.body.access_token;

  const header = decodeProtectedHeader(token);
  assert.equal(header.alg, "EdDSA");
  assert.ok(header.kid, "kid header");

  const jwks = await w.get("/.well-known/jwks.json");
  assert.equal(jwks.status, 200);
  assert.ok(Array.isArray(jwks.body.keys) && jwks.body.keys.length >= 1);
  const key = jwks.body.keys.find((k) => k.kid === header.kid);
  assert.ok(key, "the token's kid is in the JWKS");
  assert.equal(key.kty, "OKP");
  assert.equal(key.crv, "Ed25519");
  assert.equal(key.d, undefined, "no private part published");

  const { payload } = await jwtVerify(token, createLocalJWKSet(jwks.body), {
    issuer: ISSUER,
    algorithms: ["EdDSA"],
  });
  assert.equal(payload.iss, ISSUER);
  assert.equal(payload.sub, u.user.id);
  assert.ok(payload.sid);
  const sess = await session(payload.sid);
  assert.equal(sess.user_id, u.user.id, "sid names the login's session");
  assert.equal(payload.exp - payload.iat, 900);
  assert.ok(Math.abs(payload.iat - Date.now() / 1000) < 120);
  assert.ok(payload.jti);
  assert.notEqual(decodeJwt(u.access_token).jti, payload.jti, "jti is unique per token");
  assert.notEqual(decodeJwt(u.access_token).sid, payload.sid, "one session per login");
});

test("JWT: tampered, alg none, foreign-key and missing tokens are 401 with www-authenticate", async () => {
  const u = await w.activeUser();
  const other = await w.activeUser();
  const good = u.access_token;
  assert.equal((await me(good)).status, 200);
  const { header, payload, h, s } = parts(good);

  const expect401 = async (token, what, headers) => {
    const r = await w.get("/v1/me", { token, headers });
    assertProblem(r, 401, "unauthorized");
    assert.match(r.headers.get("www-authenticate") ?? "", /^Bearer/i, `${what}: www-authenticate`);
    assert.equal(r.body.id, undefined, what);
  };

  // Payload swapped for another user's id, original signature kept.
  await expect401(`${h}.${b64json({ ...payload, sub: other.user.id, sid: sid(other.access_token) })}.${s}`, "tampered sub");
  await expect401(`${h}.${b64json({ ...payload, exp: payload.exp + 86400 })}.${s}`, "tampered exp");
  // alg none, unsigned.
  await expect401(`${b64json({ alg: "none", typ: "JWT" })}.${b64json(payload)}.`, "alg none");
  await expect401(`${b64json({ ...header, alg: "none" })}.${b64json(payload)}.`, "alg none with kid");
  // Signed by a key of our own, with the real kid and claims.
  const { privateKey } = await generateKeyPair("EdDSA", { crv: "Ed25519" });
  const forged = await new SignJWT(payload)
    .setProtectedHeader({ alg: "EdDSA", kid: header.kid, typ: header.typ })
    .sign(privateKey);
  await expect401(forged, "foreign key");
  // HS256 with the public key as the secret (algorithm confusion).
  const jwks = await w.get("/.well-known/jwks.json");
  const pub = Buffer.from(jwks.body.keys.find((k) => k.kid === header.kid).x, "base64url");
  const hs = await new SignJWT(payload).setProtectedHeader({ alg: "HS256", kid: header.kid }).sign(pub);
  await expect401(hs, "HS256 confusion");
  // Missing and garbage Authorization.
  await expect401(undefined, "no header");
  await expect401("garbage", "garbage bearer");
  await expect401("a.b.c", "garbage jwt");
  await expect401(undefined, "basic scheme", { authorization: `Basic ${Buffer.from("a:b").toString("base64")}` });
  await expect401(undefined, "empty bearer", { authorization: "Bearer " });
  await expect401(u.refresh_token, "refresh token as bearer");

  assert.equal((await me(good)).status, 200, "the real token still works");
});

// ---------------------------------------------------------------------------------------------
// 5. Refresh rotation
// ---------------------------------------------------------------------------------------------

test("refresh: rotates; reusing the old token ends the whole session", async () => {
  const u = await w.activeUser();
  const login = await w.login(u.email);
  assert.equal(login.status, 200);
  const { access_token: access1, refresh_token: r1 } = login.body;
  const sessionId = sid(access1);

  const rot = await w.post("/v1/auth/refresh", { refresh_token: r1 });
  assert.equal(rot.status, 200, JSON.stringify(rot.body));
  assert.equal(rot.body.token_type, "Bearer");
  assert.equal(rot.body.expires_in, 900);
  assert.match(rot.body.refresh_token, TOKEN_RE);
  assert.notEqual(rot.body.refresh_token, r1);
  assert.equal(sid(rot.body.access_token), sessionId, "same session");
  const r2 = rot.body.refresh_token;
  const access2 = rot.body.access_token;
  assert.equal((await me(access2)).status, 200);

  const rts = await w.rows(
    "SELECT rotated_at FROM refresh_tokens WHERE session_id = ? ORDER BY created_at, rotated_at IS NULL", sessionId,
  );
  assert.equal(rts.length, 2);
  assert.equal(rts.filter((t) => t.rotated_at !== null).length, 1, "the old token is marked rotated");
  assert.equal((await session(sessionId)).ended_at, null);

  // The rotated token comes back: 401 and the session is over.
  assertProblem(await w.post("/v1/auth/refresh", { refresh_token: r1 }), 401, "invalid_token");
  const s = await session(sessionId);
  assert.ok(s.ended_at);
  assert.equal(s.end_reason, "refresh_token_reuse");
  assertProblem(await w.post("/v1/auth/refresh", { refresh_token: r2 }), 401, "invalid_token");
  assertProblem(await me(access2), 401, "unauthorized");
  assertProblem(await me(access1), 401, "unauthorized");
  // Other sessions of the user are untouched.
  assert.equal((await me(u.access_token)).status, 200);
});

test("refresh: two concurrent refreshes of one token → at most one 200, and the session ends", async () => {
  const u = await w.activeUser();
  const sessionId = sid(u.access_token);
  const results = await Promise.all([
    w.post("/v1/auth/refresh", { refresh_token: u.refresh_token }),
    w.post("/v1/auth/refresh", { refresh_token: u.refresh_token }),
  ]);
  const ok = results.filter((r) => r.status === 200);
  assert.ok(ok.length <= 1, `${ok.length} successful rotations`);
  for (const r of results.filter((r) => r.status !== 200)) assertProblem(r, 401, "invalid_token");
  const s = await session(sessionId);
  assert.ok(s.ended_at, "the session ended");
  assert.equal(s.end_reason, "refresh_token_reuse");
  for (const r of ok) {
    assertProblem(await w.post("/v1/auth/refresh", { refresh_token: r.body.refresh_token }), 401, "invalid_token");
    assertProblem(await me(r.body.access_token), 401, "unauthorized");
  }
  assertProblem(await me(u.access_token), 401, "unauthorized");
});

test("refresh: garbage, unknown, empty and missing tokens", async () => {
  assertProblem(await w.post("/v1/auth/refresh", { refresh_token: "garbage" }), 401, "invalid_token");
  assertProblem(await w.post("/v1/auth/refresh", { refresh_token: randomToken() }), 401, "invalid_token");
  assertProblem(await w.post("/v1/auth/refresh", { refresh_token: "" }), 401, "invalid_token");
  const missing = await w.post("/v1/auth/refresh", {});
  assertProblem(missing, 422, "validation_failed");
  assert.ok(missing.body.errors.some((e) => e.field === "refresh_token"));
});

// ---------------------------------------------------------------------------------------------
// 6. Logout
// ---------------------------------------------------------------------------------------------

test("logout: 204, the session's access and refresh tokens stop working at once", async () => {
  const u = await w.activeUser();
  const login = await w.login(u.email);
  assert.equal(login.status, 200);
  assert.equal((await me(login.body.access_token)).status, 200);
  const r = await w.post("/v1/auth/logout", { refresh_token: login.body.refresh_token });
  assert.equal(r.status, 204, JSON.stringify(r.body));
  assert.equal(r.body, null);
  const s = await session(sid(login.body.access_token));
  assert.ok(s.ended_at);
  assert.equal(s.end_reason, "logout");
  assertProblem(await me(login.body.access_token), 401, "unauthorized");
  assertProblem(await w.post("/v1/auth/refresh", { refresh_token: login.body.refresh_token }), 401, "invalid_token");
  // Only that session: the activation session lives on.
  assert.equal((await me(u.access_token)).status, 200);
  assert.equal((await session(sid(u.access_token))).ended_at, null);
  // Logging out again is harmless.
  assert.equal((await w.post("/v1/auth/logout", { refresh_token: login.body.refresh_token })).status, 204);
  assert.equal((await session(sid(login.body.access_token))).end_reason, "logout");
});

test("logout: unknown or garbage refresh tokens still answer 204", async () => {
  const before = (await w.one("SELECT COUNT(*) AS n FROM sessions WHERE ended_at IS NOT NULL")).n;
  assert.equal((await w.post("/v1/auth/logout", { refresh_token: randomToken() })).status, 204);
  assert.equal((await w.post("/v1/auth/logout", { refresh_token: "nope" })).status, 204);
  assert.equal((await w.one("SELECT COUNT(*) AS n FROM sessions WHERE ended_at IS NOT NULL")).n, before);
});

test("logout-all: every session of the caller ends, nobody else's; needs a Bearer", async () => {
  const u = await w.activeUser();
  const bystander = await w.activeUser();
  const a = await w.login(u.email);
  const b = await w.login(u.email);
  assert.equal(a.status, 200);
  assert.equal(b.status, 200);
  const tokens = [
    { access: u.access_token, refresh: u.refresh_token },
    { access: a.body.access_token, refresh: a.body.refresh_token },
    { access: b.body.access_token, refresh: b.body.refresh_token },
  ];
  const r = await w.post("/v1/auth/logout-all", undefined, { token: a.body.access_token });
  assert.equal(r.status, 204, JSON.stringify(r.body));
  const rows = await w.rows("SELECT ended_at, end_reason FROM sessions WHERE user_id = ?", u.user.id);
  assert.equal(rows.length, 3);
  for (const s of rows) {
    assert.ok(s.ended_at);
    assert.equal(s.end_reason, "logout_all");
  }
  for (const t of tokens) {
    assertProblem(await me(t.access), 401, "unauthorized");
    assertProblem(await w.post("/v1/auth/refresh", { refresh_token: t.refresh }), 401, "invalid_token");
  }
  assert.equal((await me(bystander.access_token)).status, 200, "other users keep their sessions");

  const anon = await w.post("/v1/auth/logout-all");
  assertProblem(anon, 401, "unauthorized");
  assert.match(anon.headers.get("www-authenticate") ?? "", /^Bearer/i);
  assertProblem(await w.post("/v1/auth/logout-all", undefined, { token: "garbage" }), 401, "unauthorized");
  // The ended session's own token cannot log out anything any more.
  assertProblem(await w.post("/v1/auth/logout-all", undefined, { token: b.body.access_token }), 401, "unauthorized");
});

// ---------------------------------------------------------------------------------------------
// 7. Forgot / reset password
// ---------------------------------------------------------------------------------------------

test("forgot: always 202 with the same body; a reset mail only for a known account", async () => {
  const u = await w.activeUser();
  const unknownEmail = freshEmail("ghost");
  const known = await w.post("/v1/auth/password/forgot", { email: u.email });
  const unknown = await w.post("/v1/auth/password/forgot", { email: unknownEmail });
  assert.equal(known.status, 202, JSON.stringify(known.body));
  assert.equal(unknown.status, 202, JSON.stringify(unknown.body));
  assert.deepEqual(known.body, unknown.body);
  // Outbox rows are written with the request: one reset mail for the known account only.
  const kinds = (await w.rows("SELECT kind FROM outbox WHERE recipient = ?", u.email)).map((r) => r.kind);
  assert.deepEqual(kinds.filter((k) => k === "password_reset"), ["password_reset"]);
  assert.equal((await w.one("SELECT COUNT(*) AS n FROM outbox WHERE recipient = ?", unknownEmail)).n, 0);
  assert.equal((await w.one("SELECT COUNT(*) AS n FROM users WHERE email = ?", unknownEmail)).n, 0);
  const mail = await w.mail(u.email, /Reset/);
  assert.match(mail.text, /http:\/\/127\.0\.0\.1:8787\/reset-password\?token=[A-Za-z0-9_-]{43}/);
  // And the unknown address never receives anything (its mailbox stays empty once the
  // known one has been delivered through the same queue).
  const box = await w.get(`/v1/dev/mailbox?to=${encodeURIComponent(unknownEmail)}`);
  assert.deepEqual(box.body.data, []);
  const tok = await w.rows("SELECT used_at FROM user_tokens WHERE user_id = ? AND purpose = 'password_reset'", u.user.id);
  assert.deepEqual(tok, [{ used_at: null }]);
});

test("reset: 204, new password only, every session ended, token single-use", async () => {
  const u = await w.activeUser();
  const login = await w.login(u.email);
  assert.equal(login.status, 200);
  const hashBefore = (await userRow(u.user.id)).password_hash;
  assert.equal((await w.post("/v1/auth/password/forgot", { email: u.email })).status, 202);
  const token = await w.mailToken(u.email, /Reset/);

  const r = await w.post("/v1/auth/password/reset", { token, new_password: NEW_PASSWORD });
  assert.equal(r.status, 204, JSON.stringify(r.body));
  const row = await userRow(u.user.id);
  assert.notEqual(row.password_hash, hashBefore);
  assert.match(row.password_hash, /^\$pbkdf2-sha512\$i=210000,l=32\$/);
  assert.equal(row.status, "active");
  const tok = await w.one("SELECT used_at FROM user_tokens WHERE user_id = ? AND purpose = 'password_reset'", u.user.id);
  assert.ok(tok.used_at);
  const sessions = await w.rows("SELECT ended_at, end_reason FROM sessions WHERE user_id = ?", u.user.id);
  assert.equal(sessions.length, 2);
  for (const s of sessions) {
    assert.ok(s.ended_at);
    assert.equal(s.end_reason, "password_reset");
  }
  assert.equal(await auditCount(u.user.id, "user.password_reset"), 1);
  assertProblem(await me(login.body.access_token), 401, "unauthorized");
  assertProblem(await me(u.access_token), 401, "unauthorized");
  assertProblem(await w.post("/v1/auth/refresh", { refresh_token: login.body.refresh_token }), 401, "invalid_token");

  assertProblem(await w.login(u.email, PASSWORD), 401, "invalid_credentials");
  const fresh = await w.login(u.email, NEW_PASSWORD);
  assert.equal(fresh.status, 200, JSON.stringify(fresh.body));

  // Single-use: the same link again is 400 and changes nothing.
  const hashAfter = (await userRow(u.user.id)).password_hash;
  const again = await w.post("/v1/auth/password/reset", { token, new_password: "yet another passphrase" });
  assertProblem(again, 400, "invalid_token");
  assert.equal((await userRow(u.user.id)).password_hash, hashAfter);
  assert.equal((await session(sid(fresh.body.access_token))).ended_at, null);
  assertProblem(await w.post("/v1/auth/password/reset", { token: "garbage", new_password: NEW_PASSWORD }), 400, "invalid_token");
  assertProblem(await w.post("/v1/auth/password/reset", { token: randomToken(), new_password: NEW_PASSWORD }), 400, "invalid_token");
});

test("reset: a weak new_password is 422 and the link stays usable", async () => {
  const u = await w.activeUser();
  const hashBefore = (await userRow(u.user.id)).password_hash;
  await w.post("/v1/auth/password/forgot", { email: u.email });
  const token = await w.mailToken(u.email, /Reset/);
  for (const weak of ["short1", "password123", u.email]) {
    const r = await w.post("/v1/auth/password/reset", { token, new_password: weak });
    assertProblem(r, 422, "validation_failed");
    assert.ok(r.body.errors.some((e) => e.field === "new_password"), JSON.stringify(r.body.errors));
  }
  assert.equal((await userRow(u.user.id)).password_hash, hashBefore);
  const tok = await w.one("SELECT used_at FROM user_tokens WHERE user_id = ? AND purpose = 'password_reset'", u.user.id);
  assert.equal(tok.used_at, null, "a refused password does not spend the token");
  assert.equal((await session(sid(u.access_token))).ended_at, null, "nor end the sessions");
  const ok = await w.post("/v1/auth/password/reset", { token, new_password: NEW_PASSWORD });
  assert.equal(ok.status, 204, JSON.stringify(ok.body));
  assert.notEqual((await userRow(u.user.id)).password_hash, hashBefore);
});

test("reset: an expired link is 410 token_expired and changes nothing", async () => {
  const u = await shortMail.activeUser();
  assert.equal((await shortMail.post("/v1/auth/password/forgot", { email: u.email })).status, 202);
  const mail = await shortMail.mail(u.email, /Reset/);
  const token = mail.text.match(/token=([A-Za-z0-9_-]{43})/)[1];
  const hashBefore = (await shortMail.one("SELECT password_hash FROM users WHERE id = ?", u.user.id)).password_hash;
  await waitPast(shortMail, mailExpiry(mail));
  const r = await shortMail.post("/v1/auth/password/reset", { token, new_password: NEW_PASSWORD });
  assertProblem(r, 410, "token_expired");
  const row = await shortMail.one("SELECT password_hash, status FROM users WHERE id = ?", u.user.id);
  assert.equal(row.password_hash, hashBefore);
  assert.equal(row.status, "active");
  const tok = await shortMail.one("SELECT used_at FROM user_tokens WHERE user_id = ? AND purpose = 'password_reset'", u.user.id);
  assert.equal(tok.used_at, null);
  const s = await shortMail.one("SELECT ended_at FROM sessions WHERE user_id = ?", u.user.id);
  assert.equal(s.ended_at, null, "an expired link ends no session");
});

test("reset: two concurrent resets with one link → exactly one 204", async () => {
  const u = await w.activeUser();
  await w.post("/v1/auth/password/forgot", { email: u.email });
  const token = await w.mailToken(u.email, /Reset/);
  const results = await Promise.all([
    w.post("/v1/auth/password/reset", { token, new_password: NEW_PASSWORD }),
    w.post("/v1/auth/password/reset", { token, new_password: "the other new passphrase" }),
  ]);
  const ok = results.filter((r) => r.status === 204);
  assert.equal(ok.length, 1, results.map((r) => `${r.status} ${JSON.stringify(r.body)}`).join(" | "));
  for (const r of results.filter((r) => r.status !== 204)) assertProblem(r, 400, "invalid_token");
  assert.equal(await auditCount(u.user.id, "user.password_reset"), 1);
  const winner = results[0].status === 204 ? NEW_PASSWORD : "the other new passphrase";
  assert.equal((await w.login(u.email, winner)).status, 200);
});

// ---------------------------------------------------------------------------------------------
// 8. Email change
// ---------------------------------------------------------------------------------------------

test("email change: 202, mails to both addresses, old email logs in until verified", async () => {
  const u = await w.activeUser();
  const newEmail = freshEmail("moved");
  const r = await w.post("/v1/me/email", { new_email: newEmail.toUpperCase(), password: PASSWORD }, { token: u.access_token });
  assert.equal(r.status, 202, JSON.stringify(r.body));
  assert.equal(r.body.pending_email, newEmail);
  let row = await userRow(u.user.id);
  assert.equal(row.email, u.email);
  assert.equal(row.pending_email, newEmail);
  assert.equal((await me(u.access_token)).body.pending_email, newEmail);

  const verifyMail = await w.mail(newEmail, /Confirm/);
  assert.match(verifyMail.text, /http:\/\/127\.0\.0\.1:8787\/verify-email\?token=[A-Za-z0-9_-]{43}/);
  const notice = await w.mail(u.email, /being changed/);
  assert.ok(notice.text.includes(newEmail));
  assert.ok(!/token=/.test(notice.text), "the notice to the old address carries no token");
  const token = await w.mailToken(newEmail, /Confirm/);

  // Until verified: the old email is the login, the new one is nobody's.
  assertProblem(await w.login(newEmail), 401, "invalid_credentials");
  assert.equal((await w.login(u.email)).status, 200);

  const v = await w.post("/v1/auth/email/verify", { token });
  assert.equal(v.status, 200, JSON.stringify(v.body));
  assert.equal(v.body.user.email, newEmail);
  assert.equal(v.body.user.pending_email, null);
  row = await userRow(u.user.id);
  assert.equal(row.email, newEmail);
  assert.equal(row.pending_email, null);
  assert.equal(row.email_verified, 1);
  const tok = await w.one("SELECT used_at FROM user_tokens WHERE user_id = ? AND purpose = 'email_verification'", u.user.id);
  assert.ok(tok.used_at);
  assert.equal(await auditCount(u.user.id, "user.email_changed"), 1);

  const after = await w.login(newEmail);
  assert.equal(after.status, 200, JSON.stringify(after.body));
  assert.equal(after.body.user.email, newEmail);
  assertProblem(await w.login(u.email), 401, "invalid_credentials");

  const again = await w.post("/v1/auth/email/verify", { token });
  assertProblem(again, 400, "invalid_token");
  assert.equal((await userRow(u.user.id)).email, newEmail);
  assertProblem(await w.post("/v1/auth/email/verify", { token: "garbage" }), 400, "invalid_token");
});

test("email change: wrong password is 422, a taken address is 409, nothing changes", async () => {
  const u = await w.activeUser();
  const taken = await w.signup();
  const newEmail = freshEmail("elsewhere");

  const wrong = await w.post("/v1/me/email", { new_email: newEmail, password: "not my passphrase" }, { token: u.access_token });
  assertProblem(wrong, 422, "validation_failed");
  assert.ok(wrong.body.errors.some((e) => e.field === "password"), JSON.stringify(wrong.body.errors));

  const dup = await w.post("/v1/me/email", { new_email: taken.email.toUpperCase(), password: PASSWORD }, { token: u.access_token });
  assertProblem(dup, 409, "email_taken");

  const row = await userRow(u.user.id);
  assert.equal(row.email, u.email);
  assert.equal(row.pending_email, null);
  assert.equal((await w.one("SELECT COUNT(*) AS n FROM outbox WHERE recipient = ?", newEmail)).n, 0);
  assert.equal(
    (await w.one("SELECT COUNT(*) AS n FROM user_tokens WHERE user_id = ? AND purpose = 'email_verification'", u.user.id)).n,
    0,
  );
  assertProblem(await w.post("/v1/me/email", { new_email: newEmail, password: PASSWORD }), 401, "unauthorized");
});

test("email change: a newer request supersedes the older link", async () => {
  const u = await w.activeUser();
  const first = freshEmail("first");
  const second = freshEmail("second");
  for (const e of [first, second]) {
    const r = await w.post("/v1/me/email", { new_email: e, password: PASSWORD }, { token: u.access_token });
    assert.equal(r.status, 202, JSON.stringify(r.body));
  }
  assert.equal((await userRow(u.user.id)).pending_email, second);
  const stale = await w.mailToken(first, /Confirm/);
  const current = await w.mailToken(second, /Confirm/);
  assertProblem(await w.post("/v1/auth/email/verify", { token: stale }), 400, "invalid_token");
  assert.equal((await userRow(u.user.id)).email, u.email);
  const v = await w.post("/v1/auth/email/verify", { token: current });
  assert.equal(v.status, 200, JSON.stringify(v.body));
  const row = await userRow(u.user.id);
  assert.equal(row.email, second);
  assert.equal(row.pending_email, null);
});

test("email change: an expired verification link is 410 and the email stays", async () => {
  const u = await shortMail.activeUser();
  const newEmail = freshEmail("late");
  const r = await shortMail.post("/v1/me/email", { new_email: newEmail, password: PASSWORD }, { token: u.access_token });
  assert.equal(r.status, 202, JSON.stringify(r.body));
  const mail = await shortMail.mail(newEmail, /Confirm/);
  const token = mail.text.match(/token=([A-Za-z0-9_-]{43})/)[1];
  await waitPast(shortMail, mailExpiry(mail));
  assertProblem(await shortMail.post("/v1/auth/email/verify", { token }), 410, "token_expired");
  const row = await shortMail.one("SELECT email, pending_email FROM users WHERE id = ?", u.user.id);
  assert.equal(row.email, u.email);
  const tok = await shortMail.one("SELECT used_at FROM user_tokens WHERE user_id = ? AND purpose = 'email_verification'", u.user.id);
  assert.equal(tok.used_at, null);
});

test("email change: the address taken before verification → 409 email_taken, nothing applied", async () => {
  const u = await w.activeUser();
  const newEmail = freshEmail("contested");
  const r = await w.post("/v1/me/email", { new_email: newEmail, password: PASSWORD }, { token: u.access_token });
  assert.equal(r.status, 202, JSON.stringify(r.body));
  const token = await w.mailToken(newEmail, /Confirm/);
  const other = await w.signup({ email: newEmail }); // someone signs up with it meanwhile
  const v = await w.post("/v1/auth/email/verify", { token });
  assertProblem(v, 409, "email_taken");
  const row = await userRow(u.user.id);
  assert.equal(row.email, u.email, "the login did not move");
  assert.equal((await w.one("SELECT COUNT(*) AS n FROM users WHERE email = ?", newEmail)).n, 1);
  assert.equal((await w.one("SELECT id FROM users WHERE email = ?", newEmail)).id, other.user.id);
  assert.equal(await auditCount(u.user.id, "user.email_changed"), 0);
  assert.equal((await w.login(u.email)).status, 200);
});

// ---------------------------------------------------------------------------------------------
// 9. Rehash on login
// ---------------------------------------------------------------------------------------------

/** A PHC string as the `pbkdf2` crate writes it: standard base64 alphabet, no padding. */
function weakPhc(password) {
  const salt = randomBytes(16);
  const hash = pbkdf2Sync(password, salt, 1000, 32, "sha256");
  const b64 = (b) => b.toString("base64").replace(/=+$/, "");
  return `$pbkdf2-sha256$i=1000,l=32$${b64(salt)}$${b64(hash)}`;
}

test("login re-hashes a password stored with weaker parameters", async () => {
  const u = await w.activeUser();
  const weak = weakPhc(PASSWORD);
  // The one state a test cannot reach through the API: a hash from before the parameters rose.
  await w.db.prepare("UPDATE users SET password_hash = ? WHERE id = ?").bind(weak, u.user.id).run();
  assertProblem(await w.login(u.email, "wrong passphrase here"), 401, "invalid_credentials");
  assert.equal((await userRow(u.user.id)).password_hash, weak, "a failed login does not rehash");

  const r = await w.login(u.email);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  const upgraded = (await userRow(u.user.id)).password_hash;
  assert.ok(upgraded.startsWith("$pbkdf2-sha512$i=210000"), upgraded);
  assert.ok(!upgraded.includes(weak.split("$")[3]), "a fresh salt");
  const again = await w.login(u.email);
  assert.equal(again.status, 200, "the upgraded hash verifies");
  assert.equal((await userRow(u.user.id)).password_hash, upgraded, "no rehash once current");
});

// ---------------------------------------------------------------------------------------------
// 10. Single-use password
// ---------------------------------------------------------------------------------------------

test("single-use password: 403 with change_token, good only (once) for POST /v1/me/password", async () => {
  const u = await w.activeUser();
  // The state an admin's single-use password leaves (set here without the org admin flow).
  await w.db.prepare("UPDATE users SET must_change_password = 1 WHERE id = ?").bind(u.user.id).run();
  const sessionsBefore = (await w.one("SELECT COUNT(*) AS n FROM sessions WHERE user_id = ?", u.user.id)).n;

  const r = await w.login(u.email);
  assertProblem(r, 403, "password_change_required");
  const change = r.body.change_token;
  assert.match(change, TOKEN_RE);
  assert.equal(r.body.access_token, undefined);
  assert.equal(r.body.refresh_token, undefined);
  assert.equal((await w.one("SELECT COUNT(*) AS n FROM sessions WHERE user_id = ?", u.user.id)).n, sessionsBefore, "no session");

  // Good for nothing but the password change.
  assertProblem(await me(change), 401, "unauthorized");
  assertProblem(await w.post("/v1/auth/logout-all", undefined, { token: change }), 401, "unauthorized");
  assertProblem(await w.post("/v1/me/email", { new_email: freshEmail(), password: PASSWORD }, { token: change }), 401, "unauthorized");
  assertProblem(await w.get(`/v1/orgs/${u.organization.id}/members`, { token: change }), 401, "unauthorized");
  for (const body of [{ workspace_id: u.workspace.id, action: "view" }, { workspace_id: u.workspace.id, action: "view", user_id: u.user.id }]) {
    assertProblem(await w.post("/v1/authz/check", body, { token: change }), 401, "unauthorized");
  }

  const ch = await w.post("/v1/me/password", { current_password: PASSWORD, new_password: NEW_PASSWORD }, { token: change });
  assert.equal(ch.status, 204, JSON.stringify(ch.body));
  const row = await userRow(u.user.id);
  assert.equal(row.must_change_password, 0);
  assert.match(row.password_hash, /^\$pbkdf2-sha512\$i=210000/);
  const tok = await w.one("SELECT used_at FROM user_tokens WHERE user_id = ? AND purpose = 'password_change'", u.user.id);
  assert.ok(tok.used_at, "change token spent");
  assert.equal(await auditCount(u.user.id, "user.password_changed"), 1);

  const login = await w.login(u.email, NEW_PASSWORD);
  assert.equal(login.status, 200, JSON.stringify(login.body));
  assertProblem(await w.login(u.email, PASSWORD), 401, "invalid_credentials");

  // Single-use: the same change token again is refused and changes nothing.
  const hash = (await userRow(u.user.id)).password_hash;
  const again = await w.post("/v1/me/password", { current_password: NEW_PASSWORD, new_password: "third passphrase here" }, { token: change });
  assertProblem(again, 401, "unauthorized");
  assert.equal((await userRow(u.user.id)).password_hash, hash);
});
