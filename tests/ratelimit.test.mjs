// Rate limits (SPEC §7): login, forgot-password and activation are limited per IP and per
// account, with the limits taken from vars; over the limit is 429 rate_limited with a
// retry-after header, and a refused request has no other effect.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startWorker, assertProblem, freshEmail, freshIp, PASSWORD } from "./helpers.mjs";

let w;
before(async () => {
  w = await startWorker({ vars: { RATE_LIMIT_PER_IP: "5", RATE_LIMIT_PER_ACCOUNT: "3" } });
});
after(async () => { await w?.dispose(); });

const WRONG = "certainly not the password";

/**
 * Limits count in fixed one-minute windows. A sequence that straddles a window boundary
 * would start counting afresh half-way, so start it early enough in a window (polling the
 * clock, no fixed sleep).
 */
async function roomInWindow(ms = 15_000) {
  await w.until(() => 60_000 - (Date.now() % 60_000) >= ms, { timeout: ms + 5_000, what: "a fresh rate-limit window" });
}

function assertRateLimited(res) {
  assertProblem(res, 429, "rate_limited");
  const retry = res.headers.get("retry-after");
  assert.match(retry ?? "", /^\d+$/, `retry-after ${retry}`);
  assert.ok(Number(retry) >= 1 && Number(retry) <= 60, `retry-after ${retry}`);
}

async function activeUser() {
  return w.activeUser({ ip: freshIp() });
}

const userRow = (id) => w.one("SELECT status, failed_logins FROM users WHERE id = ?", id);

test("login: the 4th attempt for one account (from different IPs) is 429 and is not counted as a failure", async () => {
  const u = await activeUser();
  await roomInWindow();
  for (let i = 0; i < 3; i++) {
    assertProblem(await w.login(u.email, WRONG, freshIp()), 401, "invalid_credentials");
  }
  assert.deepEqual(await userRow(u.user.id), { status: "active", failed_logins: 3 });
  const sessionsBefore = (await w.rows("SELECT id FROM sessions WHERE user_id = ?", u.user.id)).length;

  assertRateLimited(await w.login(u.email, WRONG, freshIp()));
  // Even the right password, and the same account spelt differently, are refused now.
  assertRateLimited(await w.login(u.email, PASSWORD, freshIp()));
  assertRateLimited(await w.login(`  ${u.email.toUpperCase()} `, PASSWORD, freshIp()));

  assert.deepEqual(await userRow(u.user.id), { status: "active", failed_logins: 3 }, "429s are not failed logins");
  assert.equal((await w.rows("SELECT id FROM sessions WHERE user_id = ?", u.user.id)).length, sessionsBefore);
  const failures = await w.rows("SELECT id FROM audit_events WHERE subject_user_id = ? AND action = 'user.login_failed'", u.user.id);
  assert.equal(failures.length, 3);

  // Another account is unaffected.
  const v = await activeUser();
  const ok = await w.login(v.email, PASSWORD, freshIp());
  assert.equal(ok.status, 200, JSON.stringify(ok.body));
});

test("login: the 6th attempt from one IP (different emails) is 429; another IP is still allowed", async () => {
  const v = await activeUser();
  const ip = freshIp();
  await roomInWindow();
  for (let i = 0; i < 5; i++) {
    assertProblem(await w.login(freshEmail("ipcount"), WRONG, ip), 401, "invalid_credentials");
  }
  assertRateLimited(await w.login(freshEmail("ipcount"), WRONG, ip));
  // A real account with its right password from that IP: refused too, and not counted.
  assertRateLimited(await w.login(v.email, PASSWORD, ip));
  assert.deepEqual(await userRow(v.user.id), { status: "active", failed_logins: 0 });

  const ok = await w.login(v.email, PASSWORD, freshIp());
  assert.equal(ok.status, 200, JSON.stringify(ok.body));
});

test("forgot-password: limited per account and per IP; refused requests queue no mail", async () => {
  const u = await activeUser();
  const resets = async () => (await w.rows("SELECT id FROM outbox WHERE recipient = ? AND kind = 'password_reset'", u.email)).length;
  await roomInWindow();
  for (let i = 0; i < 3; i++) {
    const r = await w.post("/v1/auth/password/forgot", { email: u.email }, { ip: freshIp() });
    assert.equal(r.status, 202, JSON.stringify(r.body));
  }
  assertRateLimited(await w.post("/v1/auth/password/forgot", { email: u.email }, { ip: freshIp() }));
  assertRateLimited(await w.post("/v1/auth/password/forgot", { email: u.email.toUpperCase() }, { ip: freshIp() }));
  assert.equal(await resets(), 3, "no reset mail for a refused request");
  const live = await w.rows("SELECT token_hash FROM user_tokens WHERE user_id = ? AND purpose = 'password_reset' AND used_at IS NULL", u.user.id);
  assert.equal(live.length, 1, "the newest link from an allowed request still works");

  const ip = freshIp();
  for (let i = 0; i < 5; i++) {
    const r = await w.post("/v1/auth/password/forgot", { email: freshEmail("fp") }, { ip });
    assert.equal(r.status, 202, JSON.stringify(r.body));
  }
  assertRateLimited(await w.post("/v1/auth/password/forgot", { email: freshEmail("fp") }, { ip }));

  // A different IP and email are still allowed.
  const v = await activeUser();
  const ok = await w.post("/v1/auth/password/forgot", { email: v.email }, { ip: freshIp() });
  assert.equal(ok.status, 202, JSON.stringify(ok.body));
  await w.mail(v.email, /Reset your password/);
});

test("activation: the 6th attempt from one IP is 429", async () => {
  const ip = freshIp();
  await roomInWindow();
  for (let i = 0; i < 5; i++) {
    const r = await w.post("/v1/auth/activate", { token: "A".repeat(42) + String(i) }, { ip });
    assertProblem(r, 400, "invalid_token");
  }
  assertRateLimited(await w.post("/v1/auth/activate", { token: "B".repeat(43) }, { ip }));
  // The real link from the refused IP is refused as well, and stays usable elsewhere.
  const s = await w.signup({ ip: freshIp() });
  const token = await w.mailToken(s.email, /Activate/);
  assertRateLimited(await w.post("/v1/auth/activate", { token }, { ip }));
  assert.equal((await w.one("SELECT status FROM users WHERE id = ?", s.user.id)).status, "pending");
  const ok = await w.post("/v1/auth/activate", { token }, { ip: freshIp() });
  assert.equal(ok.status, 200, JSON.stringify(ok.body));
});

test("invitations: resends to one address are limited per invited email; the link per IP; 429s change nothing", async () => {
  const owner = await activeUser();
  const org = (await w.get("/v1/orgs", { token: owner.access_token })).body.data[0].id;
  const invitee = freshEmail("limited");
  await roomInWindow(25_000);
  // Create + 2 resends = 3 sends to one address from different IPs; the 4th is refused.
  const created = await w.post(`/v1/orgs/${org}/invitations`, { email: invitee, role: "viewer" }, { token: owner.access_token, ip: freshIp() });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const id = created.body.id;
  for (let i = 0; i < 2; i++) {
    const r = await w.post(`/v1/orgs/${org}/invitations/${id}/resend`, undefined, { token: owner.access_token, ip: freshIp() });
    assert.equal(r.status, 200, JSON.stringify(r.body));
  }
  assertRateLimited(await w.post(`/v1/orgs/${org}/invitations/${id}/resend`, undefined, { token: owner.access_token, ip: freshIp() }));
  const row = await w.one("SELECT send_count FROM invitations WHERE id = ?", id);
  assert.equal(row.send_count, 3, "the refused resend sent nothing");
  assert.equal((await w.rows("SELECT id FROM outbox WHERE ref_id = ? AND kind = 'invitation'", id)).length, 3);

  // The public link: 5 lookups per minute from one IP, whatever the token.
  const ip = freshIp();
  for (let i = 0; i < 5; i++) {
    assertProblem(await w.get(`/v1/invitations/${"x".repeat(43)}`, { ip }), 400, "invalid_token");
  }
  assertRateLimited(await w.get(`/v1/invitations/${"x".repeat(43)}`, { ip }));
  assertRateLimited(await w.post("/v1/invitations/accept", { token: "x".repeat(43) }, { ip }));
});
