// Browser sessions (README "Browser sessions"): the web console's refresh token lives in an
// `HttpOnly; Secure; SameSite=Strict` `__Host-session` cookie, set by login, activation and
// accepting an invitation when the body says `session_cookie: true`, rotated by refresh and
// cleared by logout when those come with no body at all; every request that uses or asks for
// the cookie must carry the service's own Origin. Asserted through the real Worker in
// Miniflare: the Set-Cookie lines, the bodies, and what D1 holds.
//
// Miniflare hands the Worker the URL given to dispatchFetch, `http://localhost/…`
// (tests/helpers.mjs), so the service's own origin here is `http://localhost`.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { startWorker, assertProblem, freshEmail, freshIp, PASSWORD } from "./helpers.mjs";

let w;
before(async () => { w = await startWorker(); });
after(async () => { await w?.dispose(); });

const OWN = "http://localhost";
const NAME = "__Host-session";
const SESSION_TTL = 2_592_000; // SESSION_TTL_SECONDS of wrangler.toml [vars]
const TOKEN_RE = /^[A-Za-z0-9_-]{43}$/;
const INVITED = /invited you to join/; // the invitation email's subject
const FOREIGN = [
  "https://evil.example",
  "null",
  "http://localhost:3000", // in CORS_ALLOWED_ORIGINS: CORS grants no cookie use
  "http://localhost.evil.example",
  "https://localhost",
  "http://localhost:8787",
];

const sha256 = (s) => createHash("sha256").update(s).digest("hex");
const randomToken = () => randomBytes(32).toString("base64url");
const sid = (jwt) => JSON.parse(Buffer.from(jwt.split(".")[1], "base64url")).sid;
const me = (token) => w.get("/v1/me", { token });

/** POST with a JSON body, from the given Origin (if any) and with the given Cookie header. */
function post(path, body, { origin, cookie, token, ip = freshIp() } = {}) {
  const headers = {};
  if (origin !== undefined) headers.origin = origin;
  if (cookie !== undefined) headers.cookie = cookie;
  return w.post(path, body, { headers, token, ip });
}

/** POST with no body at all (no bytes, no content type), as `fetch(url, {method: "POST"})`. */
function bare(path, { origin, cookie } = {}) {
  const headers = {};
  if (origin != null) headers.origin = origin;
  if (cookie !== undefined) headers.cookie = cookie;
  return w.request("POST", path, { headers, ip: freshIp() });
}

const cookieHeader = (value) => `theme=dark; ${NAME}=${value}; lang=en`;
// From the service's own origin unless told otherwise (`null`: no Origin header at all).
const refreshByCookie = (value, origin = OWN) =>
  bare("/v1/auth/refresh", { origin, cookie: value === undefined ? undefined : cookieHeader(value) });
const logoutByCookie = (value, origin = OWN) =>
  bare("/v1/auth/logout", { origin, cookie: value === undefined ? undefined : cookieHeader(value) });

/** Every Set-Cookie line of a response. */
const setCookies = (res) => res.headers.getSetCookie();

/**
 * The one session cookie a response sets: {value, attrs} with attribute names lower-cased
 * (flags map to true), after asserting the attributes every session cookie carries.
 */
function sessionCookie(res) {
  const lines = setCookies(res);
  assert.equal(lines.length, 1, `one Set-Cookie line: ${JSON.stringify(lines)}`);
  const [pair, ...rest] = lines[0].split(";").map((s) => s.trim());
  const eq = pair.indexOf("=");
  assert.equal(pair.slice(0, eq), NAME, lines[0]);
  const attrs = {};
  for (const a of rest) {
    const i = a.indexOf("=");
    const key = (i < 0 ? a : a.slice(0, i)).toLowerCase();
    assert.ok(!(key in attrs), `attribute ${key} once: ${lines[0]}`);
    attrs[key] = i < 0 ? true : a.slice(i + 1);
  }
  // __Host-: Secure, Path=/ and no Domain, or browsers refuse it.
  assert.deepEqual(
    Object.keys(attrs).sort(),
    ["httponly", "max-age", "path", "samesite", "secure"],
    lines[0],
  );
  assert.equal(attrs.path, "/");
  assert.equal(attrs.httponly, true);
  assert.equal(attrs.secure, true);
  assert.equal(attrs.samesite, "Strict");
  assert.match(attrs["max-age"], /^\d+$/);
  return { value: pair.slice(eq + 1), maxAge: Number(attrs["max-age"]), line: lines[0] };
}

/** Asserts a live cookie: a refresh token, valid for `maxAge` seconds. */
function liveCookie(res, { maxAge = SESSION_TTL, slack = 0 } = {}) {
  const c = sessionCookie(res);
  assert.match(c.value, TOKEN_RE);
  assert.ok(c.maxAge <= maxAge && c.maxAge >= maxAge - slack, `Max-Age ${c.maxAge}, expected ${maxAge} (−${slack})`);
  return c.value;
}

/** Asserts the clearing cookie: empty value, same attributes, Max-Age=0. */
function clearedCookie(res) {
  const c = sessionCookie(res);
  assert.equal(c.value, "");
  assert.equal(c.maxAge, 0);
  assert.equal(c.line, `${NAME}=; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=0`);
}

async function tokenRow(refreshToken) {
  return w.one("SELECT session_id, rotated_at FROM refresh_tokens WHERE token_hash = ?", sha256(refreshToken));
}

async function sessionRow(id) {
  return w.one("SELECT id, user_id, created_at, expires_at, ended_at, end_reason FROM sessions WHERE id = ?", id);
}

/** What a refused request must leave as it was. */
async function snapshot() {
  const n = async (q) => (await w.one(q)).n;
  return {
    sessions: await n("SELECT COUNT(*) AS n FROM sessions"),
    ended: await n("SELECT COUNT(*) AS n FROM sessions WHERE ended_at IS NOT NULL"),
    refresh_tokens: await n("SELECT COUNT(*) AS n FROM refresh_tokens"),
    rotated: await n("SELECT COUNT(*) AS n FROM refresh_tokens WHERE rotated_at IS NOT NULL"),
    audit_events: await n("SELECT COUNT(*) AS n FROM audit_events"),
    rate_limit_hits: await n("SELECT COALESCE(SUM(hits), 0) AS n FROM rate_limits"),
    used_tokens: await n("SELECT COUNT(*) AS n FROM user_tokens WHERE used_at IS NOT NULL"),
    users: await n("SELECT COUNT(*) AS n FROM users"),
    accepted: await n("SELECT COUNT(*) AS n FROM invitations WHERE status = 'accepted'"),
  };
}

/** An active user (through the API) and a cookie login of theirs. */
async function cookieLogin() {
  const u = await w.activeUser();
  const r = await post("/v1/auth/login", { email: u.email, password: PASSWORD, session_cookie: true }, { origin: OWN });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return { u, res: r, cookie: liveCookie(r), access: r.body.access_token };
}

function assertCrossOrigin(res, origin, what) {
  assertProblem(res, 403, "cross_origin_request");
  assert.match(res.body.detail, origin === undefined ? /Origin header is missing/ : /names another origin/, what);
  assert.deepEqual(setCookies(res), [], `${what}: no cookie set`);
}

// ---------------------------------------------------------------------------------------

test("login with session_cookie: the refresh token is an HttpOnly, Secure, SameSite=Strict __Host- cookie, not in the body; the session is stored", async () => {
  const { u, res, cookie, access } = await cookieLogin();
  assert.deepEqual(Object.keys(res.body).sort(), ["access_token", "expires_in", "token_type", "user"]);
  assert.equal(res.body.token_type, "Bearer");
  assert.equal(res.body.expires_in, 900);
  assert.equal(res.body.user.id, u.user.id);
  assert.equal(res.headers.get("cache-control"), "no-store");
  // The cookie is this session's refresh token: stored (hashed), current, and of the session
  // the access token names, which lives SESSION_TTL_SECONDS: the cookie's Max-Age.
  const row = await tokenRow(cookie);
  assert.ok(row, "the cookie's token is stored");
  assert.equal(row.rotated_at, null);
  assert.equal(row.session_id, sid(access));
  const s = await sessionRow(row.session_id);
  assert.equal(s.user_id, u.user.id);
  assert.equal(s.ended_at, null);
  assert.equal(s.expires_at - s.created_at, SESSION_TTL * 1000);
  assert.equal((await me(access)).status, 200);
});

test("login without session_cookie, or with false, answers as before: refresh_token in the body and no cookie", async () => {
  const u = await w.activeUser();
  for (const body of [{ email: u.email, password: PASSWORD }, { email: u.email, password: PASSWORD, session_cookie: false }]) {
    // Even from the service's own origin: the cookie is only ever set when asked for.
    const r = await post("/v1/auth/login", body, { origin: OWN });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.match(r.body.refresh_token, TOKEN_RE);
    assert.deepEqual(setCookies(r), []);
    assert.ok(await tokenRow(r.body.refresh_token));
  }
  assertProblem(await post("/v1/auth/login", { email: u.email, password: PASSWORD, session_cookie: "yes" }, { origin: OWN }), 422, "validation_failed");
});

test("refresh by cookie rotates: a new cookie, no refresh_token in the body, a working access token; the old cookie is then reuse and ends the session", async () => {
  const { cookie: c1, access: a1 } = await cookieLogin();
  const sessionId = sid(a1);

  const r = await refreshByCookie(c1);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.deepEqual(Object.keys(r.body).sort(), ["access_token", "expires_in", "token_type"]);
  const c2 = liveCookie(r, { slack: 5 });
  assert.notEqual(c2, c1);
  assert.equal(sid(r.body.access_token), sessionId, "the same session");
  assert.equal((await me(r.body.access_token)).status, 200);
  assert.notEqual((await tokenRow(c1)).rotated_at, null, "the presented token is spent");
  assert.deepEqual(await tokenRow(c2), { session_id: sessionId, rotated_at: null });

  // The spent cookie again (stolen, replayed): the whole session ends, as for body tokens.
  assertProblem(await refreshByCookie(c1), 401, "invalid_token");
  const s = await sessionRow(sessionId);
  assert.notEqual(s.ended_at, null);
  assert.equal(s.end_reason, "refresh_token_reuse");
  assertProblem(await refreshByCookie(c2), 401, "invalid_token");
  assertProblem(await me(r.body.access_token), 401, "unauthorized");
});

test("a rotated cookie lives only as long as its session has left", async () => {
  const { cookie, access } = await cookieLogin();
  // The session ends in 100 s: rotation does not extend it, and the cookie says so.
  await w.db.prepare("UPDATE sessions SET expires_at = ? WHERE id = ?").bind(Date.now() + 100_000, sid(access)).run();
  const r = await refreshByCookie(cookie);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  liveCookie(r, { maxAge: 100, slack: 5 });
});

test("logout by cookie ends the session in D1 and clears the cookie; again, or with no cookie, it still clears it", async () => {
  const { u, cookie, access } = await cookieLogin();
  const sessionId = sid(access);
  const revoked = async () => (await w.one(
    "SELECT COUNT(*) AS n FROM audit_events WHERE subject_user_id = ? AND action = 'session.revoked'", u.user.id)).n;

  const r = await logoutByCookie(cookie);
  assert.equal(r.status, 204);
  clearedCookie(r);
  const s = await sessionRow(sessionId);
  assert.notEqual(s.ended_at, null);
  assert.equal(s.end_reason, "logout");
  assert.equal(await revoked(), 1);
  assertProblem(await me(access), 401, "unauthorized");
  assertProblem(await refreshByCookie(cookie), 401, "invalid_token");

  // An ended session's cookie, an unknown one, junk, or none: the same 204, cleared again.
  for (const value of [cookie, randomToken(), "junk", undefined]) {
    const again = await logoutByCookie(value);
    assert.equal(again.status, 204, String(value));
    clearedCookie(again);
  }
  assert.equal(await revoked(), 1, "ended once");
});

test("a missing or foreign Origin is 403 cross_origin_request, and nothing changes in D1", async () => {
  const { u, cookie, access } = await cookieLogin();
  const sessionId = sid(access);
  // An activation link and an invitation link, to show they survive refused requests.
  const pending = await w.signup();
  const activation = await w.mailToken(pending.email, /Activate/);
  const invitee = freshEmail("invitee");
  assert.equal((await w.post(`/v1/orgs/${u.organization.id}/invitations`, { email: invitee, role: "viewer" }, { token: u.access_token })).status, 201);
  const link = await w.mailToken(invitee, INVITED);

  const before = await snapshot();
  for (const origin of [undefined, ...FOREIGN]) {
    const what = `Origin ${origin}`;
    assertCrossOrigin(await post("/v1/auth/login", { email: u.email, password: PASSWORD, session_cookie: true }, { origin }), origin, `login, ${what}`);
    // Even a wrong password is not looked at: no failed login is counted.
    assertCrossOrigin(await post("/v1/auth/login", { email: u.email, password: "wrong password", session_cookie: true }, { origin }), origin, `bad login, ${what}`);
    assertCrossOrigin(await post("/v1/auth/activate", { token: activation, session_cookie: true }, { origin }), origin, `activate, ${what}`);
    assertCrossOrigin(await post("/v1/invitations/accept", {
      token: link, password: PASSWORD, first_name: "Grace", last_name: "Hopper", session_cookie: true,
    }, { origin }), origin, `accept, ${what}`);
    assertCrossOrigin(await refreshByCookie(cookie, origin ?? null), origin, `refresh, ${what}`);
    assertCrossOrigin(await logoutByCookie(cookie, origin ?? null), origin, `logout, ${what}`);
  }
  assert.deepEqual(await snapshot(), before, "refused requests changed stored state");
  assert.equal((await tokenRow(cookie)).rotated_at, null, "the cookie was not rotated");
  assert.equal((await sessionRow(sessionId)).ended_at, null, "the session is live");
  assert.equal((await w.one("SELECT failed_logins FROM users WHERE id = ?", u.user.id)).failed_logins, 0);

  // Everything refused still works from the service's own origin.
  const rotated = await refreshByCookie(cookie);
  assert.equal(rotated.status, 200, JSON.stringify(rotated.body));
  const activated = await post("/v1/auth/activate", { token: activation, session_cookie: true }, { origin: OWN });
  assert.equal(activated.status, 200, JSON.stringify(activated.body));
  const accepted = await post("/v1/invitations/accept", {
    token: link, password: PASSWORD, first_name: "Grace", last_name: "Hopper", session_cookie: true,
  }, { origin: OWN });
  assert.equal(accepted.status, 201, JSON.stringify(accepted.body));
});

test("refresh by cookie without the session cookie is the same 401 invalid_token as a bad token", async () => {
  const before = await snapshot();
  for (const cookie of [undefined, "theme=dark; lang=en", `${NAME}=`, `${NAME}=garbage`, `${NAME}=${randomToken()}`,
    `__host-session=${randomToken()}`, `${NAME}2=${randomToken()}`, ";;=;", `${NAME}`]) {
    const r = await bare("/v1/auth/refresh", { origin: OWN, cookie });
    assertProblem(r, 401, "invalid_token");
    assert.deepEqual(setCookies(r), [], String(cookie));
  }
  assert.deepEqual(await snapshot(), before);
});

test("activate with session_cookie signs in through the cookie", async () => {
  const s = await w.signup();
  const token = await w.mailToken(s.email, /Activate/);
  const r = await post("/v1/auth/activate", { token, session_cookie: true }, { origin: OWN });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.deepEqual(Object.keys(r.body).sort(), ["access_token", "expires_in", "token_type", "user"]);
  assert.equal(r.body.user.status, "active");
  const cookie = liveCookie(r);
  assert.equal((await tokenRow(cookie)).session_id, sid(r.body.access_token));
  assert.equal((await me(r.body.access_token)).status, 200);
  const refreshed = await refreshByCookie(cookie);
  assert.equal(refreshed.status, 200, JSON.stringify(refreshed.body));
  liveCookie(refreshed, { slack: 5 });
});

test("accepting an invitation as a new account with session_cookie signs in through the cookie; for an existing account session_cookie is 422", async () => {
  const owner = await w.activeUser();
  const orgId = owner.organization.id;
  const invite = async (email) => {
    const r = await w.post(`/v1/orgs/${orgId}/invitations`, { email, role: "viewer" }, { token: owner.access_token });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    return w.mailToken(email, INVITED);
  };

  const email = freshEmail("grace");
  const r = await post("/v1/invitations/accept", {
    token: await invite(email), password: PASSWORD, first_name: "Grace", last_name: "Hopper", session_cookie: true,
  }, { origin: OWN });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  assert.deepEqual(Object.keys(r.body).sort(), ["access_token", "expires_in", "membership", "token_type", "user"]);
  assert.equal(r.body.membership.org.id, orgId);
  const cookie = liveCookie(r);
  assert.equal((await tokenRow(cookie)).session_id, sid(r.body.access_token));
  const refreshed = await refreshByCookie(cookie);
  assert.equal(refreshed.status, 200, JSON.stringify(refreshed.body));

  // An existing account accepts with its access token; no session starts, so no cookie.
  const existing = await w.activeUser();
  const link = await invite(existing.email);
  const refused = await post("/v1/invitations/accept", { token: link, session_cookie: true }, { origin: OWN, token: existing.access_token });
  assertProblem(refused, 422, "validation_failed");
  assert.deepEqual(refused.body.errors.map((e) => e.field), ["session_cookie"]);
  assert.deepEqual(setCookies(refused), []);
  const joined = await post("/v1/invitations/accept", { token: link }, { token: existing.access_token });
  assert.equal(joined.status, 200, JSON.stringify(joined.body));
  assert.deepEqual(setCookies(joined), []);
});

test("a body token keeps the old behaviour, whatever cookie or Origin comes with it", async () => {
  const browser = await cookieLogin();
  const login = await w.login(browser.u.email);
  assert.equal(login.status, 200);
  const r1 = login.body.refresh_token;

  // No Origin, a foreign one, or the service's own: the body's token is the one used.
  const rot = await post("/v1/auth/refresh", { refresh_token: r1 }, { cookie: cookieHeader(browser.cookie), origin: "https://evil.example" });
  assert.equal(rot.status, 200, JSON.stringify(rot.body));
  assert.match(rot.body.refresh_token, TOKEN_RE);
  assert.deepEqual(setCookies(rot), []);
  assert.notEqual((await tokenRow(r1)).rotated_at, null);
  assert.equal((await tokenRow(browser.cookie)).rotated_at, null, "the cookie's token was not touched");

  const out = await post("/v1/auth/logout", { refresh_token: rot.body.refresh_token }, { cookie: cookieHeader(browser.cookie) });
  assert.equal(out.status, 204);
  assert.deepEqual(setCookies(out), []);
  assert.equal((await sessionRow(sid(login.body.access_token))).end_reason, "logout");
  assert.equal((await sessionRow(sid(browser.access))).ended_at, null, "the cookie's session is live");
  assert.equal((await refreshByCookie(browser.cookie)).status, 200);
});

test("only a request with no body at all uses the cookie: {} and an empty JSON body are still 422, an empty text body 415", async () => {
  const { cookie } = await cookieLogin();
  for (const path of ["/v1/auth/refresh", "/v1/auth/logout"]) {
    const headers = { origin: OWN, cookie: cookieHeader(cookie) };
    const empty = await post(path, {}, headers);
    assertProblem(empty, 422, "validation_failed");
    assert.deepEqual(empty.body.errors.map((e) => e.field), ["refresh_token"]);
    const json = await w.request("POST", path, { raw: "", headers: { ...headers, "content-type": "application/json" } });
    assertProblem(json, 422, "validation_failed");
    // fetch(url, {method: "POST", body: ""}) sends `text/plain;charset=UTF-8`.
    const text = await w.request("POST", path, { raw: "", headers });
    assertProblem(text, 415, "unsupported_media_type");
    for (const r of [empty, json, text]) assert.deepEqual(setCookies(r), []);
  }
  assert.equal((await tokenRow(cookie)).rotated_at, null);
});

test("two refreshes racing with one cookie (two tabs): at most one 200, and the session ends as reuse", async () => {
  const { cookie, access } = await cookieLogin();
  const results = await Promise.all([refreshByCookie(cookie), refreshByCookie(cookie)]);
  const ok = results.filter((r) => r.status === 200);
  assert.ok(ok.length <= 1, `${results.map((r) => r.status)}`);
  for (const r of results) if (r.status !== 200) assertProblem(r, 401, "invalid_token");
  const s = await sessionRow(sid(access));
  assert.equal(s.end_reason, "refresh_token_reuse");
});

test("CORS never allows credentials, for allowed origins either", async () => {
  const allowed = "http://localhost:3000"; // CORS_ALLOWED_ORIGINS of wrangler.toml
  for (const path of ["/v1/auth/refresh", "/v1/auth/login", "/v1/auth/logout"]) {
    const pre = await w.request("OPTIONS", path, {
      headers: { origin: allowed, "access-control-request-method": "POST", "access-control-request-headers": "content-type" },
    });
    assert.equal(pre.headers.get("access-control-allow-origin"), allowed, "CORS itself is unchanged");
    assert.equal(pre.headers.get("access-control-allow-credentials"), null, `preflight ${path}`);
  }
  const { u } = await cookieLogin();
  const cross = await post("/v1/auth/login", { email: u.email, password: PASSWORD, session_cookie: true }, { origin: allowed });
  assertProblem(cross, 403, "cross_origin_request");
  assert.equal(cross.headers.get("access-control-allow-origin"), allowed);
  assert.equal(cross.headers.get("access-control-allow-credentials"), null);
  const same = await post("/v1/auth/login", { email: u.email, password: PASSWORD, session_cookie: true }, { origin: OWN });
  assert.equal(same.status, 200);
  assert.equal(same.headers.get("access-control-allow-credentials"), null);
});
