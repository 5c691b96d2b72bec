// The cron sweep (SPEC §6): purge ended sessions and spent tokens after their retention,
// forget old rate-limit windows; bounded and idempotent. Rows are aged by UPDATE-ing their
// timestamps into the past (waiting a week is not an option); everything else goes through
// the API.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startWorker, freshEmail, freshIp, PASSWORD } from "./helpers.mjs";

let w;
before(async () => { w = await startWorker(); });
after(async () => { await w?.dispose(); });

const DAY = 86_400_000;
const ago = (ms) => Date.now() - ms;

async function sql(query, ...params) {
  return w.db.prepare(query).bind(...params).run();
}

async function login(email, ip = freshIp()) {
  const r = await w.login(email, PASSWORD, ip);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body;
}

async function sessionIdOf(token) {
  const r = await w.get("/v1/me/sessions", { token });
  return r.body.data.find((s) => s.current).id;
}

async function fire() {
  const result = await w.scheduled();
  assert.equal(result.outcome, "ok", JSON.stringify(result));
  return result;
}

const exists = async (table, key, id) => Boolean(await w.one(`SELECT 1 AS x FROM ${table} WHERE ${key} = ?`, id));

test("sessions: ended or expired more than 7 days ago are purged with their refresh tokens; others kept", async () => {
  const u = await w.activeUser();
  const live = await login(u.email);
  const oldEnded = await login(u.email);
  const recentEnded = await login(u.email);
  const oldExpired = await login(u.email);
  const ids = {
    activation: await sessionIdOf(u.access_token),
    live: await sessionIdOf(live.access_token),
    oldEnded: await sessionIdOf(oldEnded.access_token),
    recentEnded: await sessionIdOf(recentEnded.access_token),
    oldExpired: await sessionIdOf(oldExpired.access_token),
  };
  for (const s of [oldEnded, recentEnded]) {
    assert.equal((await w.post("/v1/auth/logout", { refresh_token: s.refresh_token })).status, 204);
  }
  await sql("UPDATE sessions SET ended_at = ? WHERE id = ?", ago(8 * DAY), ids.oldEnded);
  await sql("UPDATE sessions SET ended_at = ? WHERE id = ?", ago(6 * DAY), ids.recentEnded);
  await sql("UPDATE sessions SET created_at = ?, last_used_at = ?, expires_at = ? WHERE id = ?",
    ago(40 * DAY), ago(9 * DAY), ago(8 * DAY), ids.oldExpired);
  const refreshOf = async (id) => (await w.rows("SELECT token_hash FROM refresh_tokens WHERE session_id = ?", id)).length;
  assert.ok(await refreshOf(ids.oldEnded) > 0);

  await fire();
  await w.until(async () => !(await exists("sessions", "id", ids.oldEnded)) && !(await exists("sessions", "id", ids.oldExpired)),
    { what: "old sessions purged" });

  assert.equal(await refreshOf(ids.oldEnded), 0, "refresh tokens go with their session");
  assert.equal(await refreshOf(ids.oldExpired), 0);
  assert.ok(await exists("sessions", "id", ids.recentEnded), "ended 6 days ago: kept");
  assert.ok(await exists("sessions", "id", ids.live));
  assert.ok(await exists("sessions", "id", ids.activation));
  assert.ok(await refreshOf(ids.recentEnded) > 0);

  // Live sessions are untouched and keep working.
  assert.equal((await w.get("/v1/me", { token: live.access_token })).status, 200);
  const rot = await w.post("/v1/auth/refresh", { refresh_token: live.refresh_token });
  assert.equal(rot.status, 200, JSON.stringify(rot.body));
  // The purged session's refresh token is simply unknown now.
  assert.equal((await w.post("/v1/auth/refresh", { refresh_token: oldEnded.refresh_token })).status, 401);
});

test("tokens: used or expired more than 7 days ago are purged; unused, recent ones kept", async () => {
  // Used activation token (activated user), aged → purged.
  const used = await w.activeUser();
  // Pending users: one with a long-expired activation link, one with a fresh link.
  const stale = await w.signup();
  const fresh = await w.signup();
  // A live reset token, and a reset token used yesterday (superseded by the next request).
  const resetUser = await w.activeUser();
  assert.equal((await w.post("/v1/auth/password/forgot", { email: resetUser.email })).status, 202);
  assert.equal((await w.post("/v1/auth/password/forgot", { email: resetUser.email })).status, 202);

  const tokenOf = (userId, purpose) => w.rows(
    "SELECT token_hash, used_at, expires_at FROM user_tokens WHERE user_id = ? AND purpose = ? ORDER BY created_at, token_hash",
    userId, purpose);
  const [usedAct] = await tokenOf(used.user.id, "activation");
  assert.ok(usedAct.used_at, "activation consumed the token");
  const [staleAct] = await tokenOf(stale.user.id, "activation");
  const [freshAct] = await tokenOf(fresh.user.id, "activation");
  const resets = await tokenOf(resetUser.user.id, "password_reset");
  assert.equal(resets.length, 2);
  const superseded = resets.find((t) => t.used_at);
  const liveReset = resets.find((t) => !t.used_at);
  assert.ok(superseded && liveReset);

  await sql("UPDATE user_tokens SET used_at = ? WHERE token_hash = ?", ago(8 * DAY), usedAct.token_hash);
  await sql("UPDATE user_tokens SET created_at = ?, expires_at = ? WHERE token_hash = ?", ago(9 * DAY), ago(8 * DAY), staleAct.token_hash);
  await sql("UPDATE user_tokens SET used_at = ? WHERE token_hash = ?", ago(1 * DAY), superseded.token_hash);
  // Expired, but only 6 days ago: kept so that a late click still hears "expired".
  const expiredRecently = await w.signup();
  const [recentAct] = await tokenOf(expiredRecently.user.id, "activation");
  await sql("UPDATE user_tokens SET created_at = ?, expires_at = ? WHERE token_hash = ?", ago(7 * DAY), ago(6 * DAY), recentAct.token_hash);

  await fire();
  const gone = (t) => w.one("SELECT token_hash FROM user_tokens WHERE token_hash = ?", t.token_hash).then((r) => !r);
  await w.until(async () => (await gone(usedAct)) && (await gone(staleAct)), { what: "old tokens purged" });

  for (const t of [freshAct, superseded, liveReset, recentAct]) {
    assert.equal(await gone(t), false, `token ${t.token_hash.slice(0, 8)} should be kept`);
  }
  // Users themselves are untouched by the token purge.
  for (const id of [used.user.id, stale.user.id, fresh.user.id, resetUser.user.id]) {
    assert.ok(await exists("users", "id", id));
  }
  // The fresh activation link still works; the recently expired one says so.
  const mailFresh = await w.mailToken(fresh.email, /Activate/);
  const act = await w.post("/v1/auth/activate", { token: mailFresh });
  assert.equal(act.status, 200, JSON.stringify(act.body));
  const mailRecent = await w.mailToken(expiredRecently.email, /Activate/);
  const late = await w.post("/v1/auth/activate", { token: mailRecent });
  assert.equal(late.status, 410, JSON.stringify(late.body));
  assert.equal(late.body.code, "token_expired");
});

test("rate-limit windows that ended are purged; the current window is kept", async () => {
  const ip = freshIp();
  const email = freshEmail("rl");
  const f = await w.post("/v1/auth/password/forgot", { email }, { ip });
  assert.equal(f.status, 202);
  const ipBucket = `forgot:ip:${ip}`;
  const accountBucket = `forgot:account:${email}`;
  const rows = await w.rows("SELECT bucket, window_start FROM rate_limits WHERE bucket IN (?, ?)", ipBucket, accountBucket);
  assert.equal(rows.length, 2, JSON.stringify(rows));
  // The ip bucket's window ended ten minutes ago; plus some synthetic stale windows.
  await sql("UPDATE rate_limits SET window_start = window_start - 600000 WHERE bucket = ?", ipBucket);
  const staleStart = Date.now() - 3_600_000;
  for (let i = 0; i < 20; i++) {
    await sql("INSERT INTO rate_limits (bucket, window_start, hits) VALUES (?, ?, 1)", `login:ip:old-${i}`, staleStart - i * 60_000);
  }

  await fire();
  await w.until(async () => (await w.rows("SELECT bucket FROM rate_limits WHERE bucket = ? OR bucket LIKE 'login:ip:old-%'", ipBucket)).length === 0,
    { what: "old windows purged" });
  const kept = await w.rows("SELECT hits FROM rate_limits WHERE bucket = ?", accountBucket);
  assert.equal(kept.length, 1, "the current window is kept");
  assert.equal(kept[0].hits, 1);
  const oldest = await w.one("SELECT MIN(window_start) AS m FROM rate_limits");
  assert.ok(oldest.m === null || oldest.m >= Date.now() - 120_000, `stale window left: ${oldest.m}`);
});

test("the sweep is idempotent: running it again changes nothing and live data survives", async () => {
  const u = await w.activeUser();
  const s = await login(u.email);
  const sid = await sessionIdOf(s.access_token);
  const ended = await login(u.email);
  const endedId = await sessionIdOf(ended.access_token);
  await w.post("/v1/auth/logout", { refresh_token: ended.refresh_token });
  await sql("UPDATE sessions SET ended_at = ? WHERE id = ?", ago(30 * DAY), endedId);

  // Let the mail consumer settle first, so that only the sweep could change anything.
  await w.until(async () => (await w.rows("SELECT id FROM outbox WHERE status <> 'sent'")).length === 0, { what: "outbox settled" });
  await fire();
  await w.until(async () => !(await exists("sessions", "id", endedId)), { what: "old session purged" });
  const snapshot = async () => ({
    users: await w.rows("SELECT id, status, failed_logins FROM users ORDER BY id"),
    sessions: await w.rows("SELECT id, ended_at FROM sessions ORDER BY id"),
    refresh: await w.rows("SELECT token_hash, rotated_at FROM refresh_tokens ORDER BY token_hash"),
    tokens: await w.rows("SELECT token_hash, used_at FROM user_tokens ORDER BY token_hash"),
    orgs: await w.rows("SELECT id FROM orgs ORDER BY id"),
    outbox: await w.rows("SELECT id, status, attempts FROM outbox ORDER BY id"),
  });
  const first = await snapshot();
  await fire();
  await fire();
  assert.deepEqual(await snapshot(), first);
  assert.ok(first.sessions.some((r) => r.id === sid));
  assert.equal((await w.get("/v1/me", { token: s.access_token })).status, 200);
});

test("a backlog larger than one batch is purged in one run, without errors", async () => {
  const u = await w.activeUser();
  const base = Date.now() - 20 * DAY;
  // 1,200 ended sessions: more than one statement's batch.
  const stmts = [];
  for (let i = 0; i < 1200; i++) {
    const id = `00000000-0000-7000-8000-${String(i).padStart(12, "0")}`;
    stmts.push(w.db.prepare(
      "INSERT INTO sessions (id, user_id, auth_method, ip, created_at, last_used_at, expires_at, ended_at, end_reason) VALUES (?, ?, 'password', '10.0.0.1', ?, ?, ?, ?, 'logout')",
    ).bind(id, u.user.id, base, base, base + 30 * DAY, base + DAY));
  }
  await w.db.batch(stmts);
  const count = async () => (await w.one("SELECT COUNT(*) AS n FROM sessions WHERE id LIKE '00000000-0000-7000-8000-%'")).n;
  assert.equal(await count(), 1200);
  await fire();
  await w.until(async () => (await count()) === 0, { what: "backlog purged" });
  assert.equal((await w.get("/v1/me", { token: u.access_token })).status, 200);
});
