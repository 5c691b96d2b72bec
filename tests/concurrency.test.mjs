// The concurrency suite (issue 7): requests that race on one piece of state — seats,
// invitation accepts, the lockout counter, refresh rotation, ownership transfer against
// removal, role change against removal, API token revocation against use, repeated
// workspace additions — fired at once with Promise.all, then the exact final state is
// asserted in D1 and through the API. D1 has no BEGIN: each write is one batch with guard
// statements (README "Layout"), so a lost race must roll back whole, never half.
//
// One worker for the file. Per-IP and per-account rate limits are lifted so they never
// decide a race (every racing request also comes from its own IP); LOCKOUT_THRESHOLD keeps
// the wrangler.toml default. Every test builds its own org and users.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { startWorker, assertProblem, freshEmail, freshIp, PASSWORD } from "./helpers.mjs";

/** LOCKOUT_THRESHOLD of wrangler.toml [vars]: the threshold the worker runs with. */
const THRESHOLD = Number(
  readFileSync(new URL("../wrangler.toml", import.meta.url), "utf8").match(/^LOCKOUT_THRESHOLD\s*=\s*"(\d+)"/m)[1],
);

let w;
before(async () => {
  w = await startWorker({ vars: { RATE_LIMIT_PER_IP: "100000", RATE_LIMIT_PER_ACCOUNT: "100000" } });
});
after(async () => { await w?.dispose(); });

// ---------------------------------------------------------------------------------------
// helpers

const delay = (ms) => new Promise((r) => setTimeout(r, ms));
const sha256 = (s) => createHash("sha256").update(s).digest("hex");
const sid = (jwt) => JSON.parse(Buffer.from(jwt.split(".")[1], "base64url").toString()).sid;
const n = async (query, ...params) => (await w.one(query, ...params)).n;
const put = (path, body, token) => w.request("PUT", path, { body, token, ip: freshIp() });
/**
 * Opens `k` connections to the worker right before a race (k concurrent trivial requests):
 * otherwise the first racing request rides the one kept-alive connection and is done before
 * the others have connected, and nothing races.
 */
const warm = (k = 12) => Promise.all(Array.from({ length: k }, () => w.get("/health")));
const statuses = (results) => JSON.stringify(results.map((r) => `${r.status} ${r.body?.code ?? ""}`.trim()));

/** A fresh org (with its workspace "Main") owned by a fresh active user. */
async function newOrg() {
  const owner = await w.activeUser({ ip: freshIp() });
  return { owner, orgId: owner.organization.id, wsId: owner.workspace.id, token: owner.access_token };
}

async function usage(org) {
  const r = await w.get(`/v1/orgs/${org.orgId}/usage`, { token: org.token });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body;
}

/** Seats as stored: members and pending, unexpired invitations. */
async function seats(orgId) {
  return w.one(
    "SELECT (SELECT COUNT(*) FROM org_members WHERE org_id = ?1) AS members, " +
    "(SELECT COUNT(*) FROM invitations WHERE org_id = ?1 AND status = 'pending' AND expires_at > ?2) AS pending, " +
    "(SELECT member_limit FROM orgs WHERE id = ?1) AS member_limit",
    orgId, Date.now(),
  );
}

const orgEvents = (orgId, action, targetId) =>
  n("SELECT COUNT(*) AS n FROM audit_events WHERE org_id = ? AND action = ? AND target_id = ?", orgId, action, targetId);

/** The org's ownership invariant: exactly one owner row, and it is orgs.owner_id. */
async function assertOneOwner(orgId) {
  const owners = await w.rows("SELECT user_id FROM org_members WHERE org_id = ? AND role = 'owner'", orgId);
  const org = await w.one("SELECT owner_id FROM orgs WHERE id = ?", orgId);
  assert.equal(owners.length, 1, `owner rows: ${JSON.stringify(owners)}`);
  assert.equal(owners[0].user_id, org.owner_id, "orgs.owner_id is the member holding role owner");
}

async function invite(org, email, role = "viewer") {
  const r = await w.post(`/v1/orgs/${org.orgId}/invitations`, { email, role }, { token: org.token, ip: freshIp() });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return { inv: r.body, token: await w.mailToken(email, /invited you to join/) };
}

const acceptNew = (token) => w.post("/v1/invitations/accept",
  { token, password: "a brand new passphrase", first_name: "Grace", last_name: "Hopper" }, { ip: freshIp() });

// ---------------------------------------------------------------------------------------
// 1. seats

test("seats: 12 concurrent seat-takers (creates, invitations, workspace additions) against K free seats → exactly K win", async () => {
  const org = await newOrg();
  const outsiders = await Promise.all(Array.from({ length: 4 }, () => w.activeUser({ ip: freshIp() })));
  // One pending invitation already holds a seat before the race.
  await invite(org, freshEmail("holder"));
  const before = await seats(org.orgId);
  assert.deepEqual([before.members, before.pending], [1, 1]);
  const K = 5;
  const M = before.members + before.pending + K;
  await w.db.prepare("UPDATE orgs SET member_limit = ? WHERE id = ?").bind(M, org.orgId).run();

  const createEmails = Array.from({ length: 4 }, () => freshEmail("created"));
  const inviteEmails = Array.from({ length: 4 }, () => freshEmail("invited"));
  const takers = [];
  for (let i = 0; i < 4; i += 1) {
    takers.push({ kind: "create", email: createEmails[i], run: () => w.post(`/v1/orgs/${org.orgId}/members`, {
      email: createEmails[i], first_name: "Created", last_name: `No${i}`, role: "viewer", credential: "activation_email",
    }, { token: org.token, ip: freshIp() }) });
    takers.push({ kind: "invite", email: inviteEmails[i], run: () =>
      w.post(`/v1/orgs/${org.orgId}/invitations`, { email: inviteEmails[i], role: "editor" }, { token: org.token, ip: freshIp() }) });
    takers.push({ kind: "workspace", user: outsiders[i], run: () =>
      put(`/v1/orgs/${org.orgId}/workspaces/${org.wsId}/members/${outsiders[i].user.id}`, { role: "viewer" }, org.token) });
  }
  await warm();
  const results = await Promise.all(takers.map((t) => t.run()));
  const won = (i) => ({ create: 201, invite: 201, workspace: 200 })[takers[i].kind] === results[i].status;
  const winners = takers.filter((_, i) => won(i));
  assert.equal(winners.length, K, statuses(results));
  results.forEach((r, i) => { if (!won(i)) assertProblem(r, 409, "capacity_exceeded"); });

  // Exactly the winners are stored; the losers left nothing behind.
  const after = await seats(org.orgId);
  assert.equal(after.members + after.pending, M, JSON.stringify(after));
  const wonKind = (k) => winners.filter((t) => t.kind === k);
  assert.equal(after.members, 1 + wonKind("create").length + wonKind("workspace").length);
  assert.equal(after.pending, 1 + wonKind("invite").length);
  for (const [i, t] of takers.entries()) {
    if (t.kind === "create") {
      const users = await w.rows("SELECT id FROM users WHERE email = ?", t.email);
      assert.equal(users.length, won(i) ? 1 : 0, `account for ${t.email}`);
      if (won(i)) {
        assert.equal((await w.one("SELECT role FROM org_members WHERE org_id = ? AND user_id = ?", org.orgId, users[0].id)).role, "viewer");
        assert.equal(await orgEvents(org.orgId, "member.added", users[0].id), 1);
      }
      assert.equal(await n("SELECT COUNT(*) AS n FROM outbox WHERE kind = 'activation' AND recipient = ?", t.email), won(i) ? 1 : 0);
    } else if (t.kind === "invite") {
      const invs = await w.rows("SELECT id, status FROM invitations WHERE org_id = ? AND email = ?", org.orgId, t.email);
      assert.deepEqual(invs.map((x) => x.status), won(i) ? ["pending"] : [], `invitation to ${t.email}`);
      assert.equal(await n("SELECT COUNT(*) AS n FROM outbox WHERE kind = 'invitation' AND recipient = ?", t.email), won(i) ? 1 : 0);
      if (won(i)) assert.equal(await orgEvents(org.orgId, "invitation.created", invs[0].id), 1);
    } else {
      const m = await w.rows("SELECT role FROM org_members WHERE org_id = ? AND user_id = ?", org.orgId, t.user.user.id);
      assert.deepEqual(m.map((x) => x.role), won(i) ? ["member"] : []);
      const wm = await w.rows("SELECT role FROM workspace_members WHERE workspace_id = ? AND user_id = ?", org.wsId, t.user.user.id);
      assert.deepEqual(wm.map((x) => x.role), won(i) ? ["viewer"] : []);
      assert.equal(await orgEvents(org.orgId, "member.added", t.user.user.id), won(i) ? 1 : 0);
      assert.equal(await orgEvents(org.orgId, "workspace_member.added", t.user.user.id), won(i) ? 1 : 0);
    }
  }
  assert.deepEqual(await usage(org), { member_limit: M, members: after.members, pending_invitations: after.pending, remaining: 0 });
  // Full means full: one more of each kind is refused.
  assertProblem(await w.post(`/v1/orgs/${org.orgId}/invitations`, { email: freshEmail("late"), role: "viewer" }, { token: org.token }), 409, "capacity_exceeded");
  assert.deepEqual(await seats(org.orgId), after);
});

// ---------------------------------------------------------------------------------------
// 2. invitation accepts

test("accept: 8 concurrent accepts of one link (new email) → one 201, one account, one membership; the seat moves", async () => {
  const org = await newOrg();
  const email = freshEmail("racer");
  const { inv, token } = await invite(org, email, "editor");
  const before = await seats(org.orgId);
  assert.deepEqual([before.members, before.pending], [1, 1]);

  await warm();
  const results = await Promise.all(Array.from({ length: 8 }, () => acceptNew(token)));
  assert.equal(results.filter((r) => r.status === 201).length, 1, statuses(results));
  for (const r of results.filter((x) => x.status !== 201)) assertProblem(r, 400, "invalid_token");
  const winner = results.find((r) => r.status === 201).body;

  assert.deepEqual(await w.rows("SELECT id, status, email_verified FROM users WHERE email = ?", email),
    [{ id: winner.user.id, status: "active", email_verified: 1 }]);
  assert.deepEqual(await w.rows("SELECT role FROM org_members WHERE org_id = ? AND user_id = ?", org.orgId, winner.user.id), [{ role: "editor" }]);
  assert.equal(await n("SELECT COUNT(*) AS n FROM sessions WHERE user_id = ?", winner.user.id), 1);
  const row = await w.one("SELECT status, accepted_by FROM invitations WHERE id = ?", inv.id);
  assert.deepEqual({ ...row }, { status: "accepted", accepted_by: winner.user.id });
  // The link stays (it answers that the invitation was accepted), but is used up.
  assert.equal(await n("SELECT COUNT(*) AS n FROM invitation_links WHERE invitation_id = ?", inv.id), 1);
  assert.equal(await orgEvents(org.orgId, "invitation.accepted", inv.id), 1);
  assert.equal(await orgEvents(org.orgId, "member.added", winner.user.id), 1);
  assert.equal(await n("SELECT COUNT(*) AS n FROM audit_events WHERE action = 'user.signed_up' AND subject_user_id = ?", winner.user.id), 1);
  // The seat moved from the invitation to the member: the total is unchanged.
  const after = await seats(org.orgId);
  assert.deepEqual([after.members, after.pending], [before.members + 1, before.pending - 1]);
  const u = await usage(org);
  assert.deepEqual([u.members, u.pending_invitations], [after.members, after.pending]);
  // The winner's session works; the link is dead.
  assert.equal((await w.get("/v1/me", { token: winner.access_token })).status, 200);
  assertProblem(await acceptNew(token), 400, "invalid_token");
});

test("accept vs withdraw of one invitation, 8 rounds: exactly one wins and the state matches the winner", async () => {
  const org = await newOrg();
  const outcomes = [];
  // The accept does more round trips (and a password hash) before its batch than the
  // withdrawal: staggering either side lets each commit first across the rounds (a
  // negative lag delays the accept, a positive one the withdrawal).
  for (const lag of [-12, -8, -5, -3, -1, 0, 2, 5]) {
    const email = freshEmail("contested");
    const { inv, token } = await invite(org, email);
    const before = await seats(org.orgId);
    await warm(4);
    const [acc, wd] = await Promise.all([
      delay(Math.max(0, -lag)).then(() => acceptNew(token)),
      delay(Math.max(0, lag)).then(() => w.del(`/v1/orgs/${org.orgId}/invitations/${inv.id}`, { token: org.token, ip: freshIp() })),
    ]);
    const accepted = acc.status === 201;
    const withdrawn = wd.status === 204;
    assert.ok(accepted !== withdrawn, `lag ${lag}: exactly one must win: accept ${acc.status} ${JSON.stringify(acc.body)}, withdraw ${wd.status} ${JSON.stringify(wd.body)}`);
    outcomes.push(accepted ? "accepted" : "withdrawn");
    const row = await w.one("SELECT status, accepted_by FROM invitations WHERE id = ?", inv.id);
    const users = await w.rows("SELECT id FROM users WHERE email = ?", email);
    const after = await seats(org.orgId);
    assert.equal(await n("SELECT COUNT(*) AS n FROM invitation_links WHERE invitation_id = ?", inv.id), 1);
    if (accepted) {
      assertProblem(wd, 409, "conflict");
      assert.equal(row.status, "accepted");
      assert.equal(users.length, 1);
      assert.equal(row.accepted_by, users[0].id);
      assert.equal(acc.body.user.id, users[0].id);
      assert.deepEqual(await w.rows("SELECT role FROM org_members WHERE org_id = ? AND user_id = ?", org.orgId, users[0].id), [{ role: "viewer" }]);
      assert.deepEqual([after.members, after.pending], [before.members + 1, before.pending - 1]);
    } else {
      assertProblem(acc, 400, "invalid_token");
      assert.equal(row.status, "withdrawn");
      assert.equal(row.accepted_by, null);
      assert.equal(users.length, 0, "the account of a lost accept is rolled back with it");
      assert.deepEqual([after.members, after.pending], [before.members, before.pending - 1]);
    }
    assert.equal(await orgEvents(org.orgId, "invitation.accepted", inv.id), accepted ? 1 : 0);
    assert.equal(await orgEvents(org.orgId, "invitation.withdrawn", inv.id), accepted ? 0 : 1);
    assert.equal(await n("SELECT COUNT(*) AS n FROM audit_events WHERE org_id = ? AND action = 'member.added' AND json_extract(metadata, '$.invitation_id') = ?", org.orgId, inv.id), accepted ? 1 : 0);
    const u = await usage(org);
    assert.deepEqual([u.members, u.pending_invitations], [after.members, after.pending]);
  }
  console.log(`# accept vs withdraw outcomes: ${outcomes.join(", ")}`);
});

// ---------------------------------------------------------------------------------------
// 3. lockout

test(`lockout: 3×${THRESHOLD} concurrent wrong passwords → locked, every failure counted, one user.locked, then 423`, async () => {
  const u = await w.activeUser({ ip: freshIp() });
  const sessionId = sid(u.access_token);
  await warm(3 * THRESHOLD);
  const results = await Promise.all(Array.from({ length: 3 * THRESHOLD }, (_, i) =>
    w.login(u.email, `wrong passphrase number ${i}`, freshIp())));
  for (const r of results) {
    if (r.status === 401) assertProblem(r, 401, "invalid_credentials");
    else assertProblem(r, 423, "account_locked");
  }
  const unauthorized = results.filter((r) => r.status === 401).length;
  const locked = results.filter((r) => r.status === 423).length;
  assert.ok(unauthorized >= THRESHOLD, statuses(results));

  // failed_logins counts every failure that was counted as one (each 401), no more, no less.
  const row = await w.one("SELECT status, failed_logins FROM users WHERE id = ?", u.user.id);
  assert.equal(row.status, "locked");
  assert.equal(row.failed_logins, unauthorized, statuses(results));
  const failed = (reason) => n("SELECT COUNT(*) AS n FROM audit_events WHERE subject_user_id = ? AND action = 'user.login_failed' " +
    "AND json_extract(metadata, '$.reason') = ?", u.user.id, reason);
  assert.equal(await failed("invalid_password"), unauthorized);
  assert.equal(await failed("locked"), locked);
  assert.equal(await n("SELECT COUNT(*) AS n FROM audit_events WHERE subject_user_id = ? AND action = 'user.locked'", u.user.id), 1);
  assert.equal(await n("SELECT COUNT(*) AS n FROM outbox WHERE kind = 'account_locked' AND recipient = ?", u.email), 1, "one lock email");
  const s = await w.one("SELECT ended_at, end_reason FROM sessions WHERE id = ?", sessionId);
  assert.ok(s.ended_at, "the session ended with the lock");
  assert.equal(s.end_reason, "locked");
  assertProblem(await w.get("/v1/me", { token: u.access_token }), 401, "unauthorized");

  // The right password now: 423, and nothing about the lock changes.
  assertProblem(await w.login(u.email, PASSWORD, freshIp()), 423, "account_locked");
  assert.deepEqual({ ...(await w.one("SELECT status, failed_logins FROM users WHERE id = ?", u.user.id)) },
    { status: "locked", failed_logins: unauthorized });
  assert.equal(await n("SELECT COUNT(*) AS n FROM sessions WHERE user_id = ? AND ended_at IS NULL", u.user.id), 0);
});

// ---------------------------------------------------------------------------------------
// 4. refresh rotation

/** 8 concurrent refreshes of one session's refresh token. */
async function refreshRace() {
  const u = await w.activeUser({ ip: freshIp() });
  const sessionId = sid(u.access_token);
  await warm();
  const results = await Promise.all(Array.from({ length: 8 }, () =>
    w.post("/v1/auth/refresh", { refresh_token: u.refresh_token }, { ip: freshIp() })));
  return { u, sessionId, results };
}

test("refresh: 8 concurrent refreshes of one token → one 200, seven 401; the reuse ends the whole session", async () => {
  const { u, sessionId, results } = await refreshRace();
  assert.equal(results.filter((r) => r.status === 200).length, 1, statuses(results));
  for (const r of results.filter((x) => x.status !== 200)) assertProblem(r, 401, "invalid_token");
  const winner = results.find((r) => r.status === 200).body;
  assert.notEqual(winner.refresh_token, u.refresh_token);

  // One rotation: the old token rotated once, one successor, nothing else.
  const tokens = await w.rows("SELECT token_hash, rotated_at, rotated_by FROM refresh_tokens WHERE session_id = ?", sessionId);
  assert.equal(tokens.length, 2, JSON.stringify(tokens));
  const old = tokens.find((t) => t.token_hash === sha256(u.refresh_token));
  const successor = tokens.find((t) => t.token_hash === sha256(winner.refresh_token));
  assert.ok(old && successor, JSON.stringify(tokens));
  assert.ok(old.rotated_at && old.rotated_by);
  assert.equal(successor.rotated_at, null);
  // README: "a reused refresh token ends the whole session": the seven other presentations
  // of the rotated token are reuse, so the session ended, the winner's tokens with it.
  const s = await w.one("SELECT ended_at, end_reason FROM sessions WHERE id = ?", sessionId);
  assert.ok(s.ended_at, "the session ended");
  assert.equal(s.end_reason, "refresh_token_reuse");
  assert.equal(await n("SELECT COUNT(*) AS n FROM sessions WHERE user_id = ?", u.user.id), 1);
  assertProblem(await w.post("/v1/auth/refresh", { refresh_token: winner.refresh_token }), 401, "invalid_token");
  assertProblem(await w.get("/v1/me", { token: winner.access_token }), 401, "unauthorized");
  assertProblem(await w.get("/v1/me", { token: u.access_token }), 401, "unauthorized");
  assertProblem(await w.post("/v1/auth/refresh", { refresh_token: u.refresh_token }), 401, "invalid_token");
  // Still exactly one successor: the failed attempts above rotated nothing.
  assert.equal(await n("SELECT COUNT(*) AS n FROM refresh_tokens WHERE session_id = ?", sessionId), 2);
  // The account itself is untouched: a new login works.
  assert.equal((await w.login(u.email, PASSWORD, freshIp())).status, 200);
});

test("refresh: the racing reuse ends the session once — one session.revoked event, as a sequential reuse leaves", async () => {
  const { u, sessionId, results } = await refreshRace();
  assert.equal(results.filter((r) => r.status === 200).length, 1, statuses(results));
  const events = await w.rows("SELECT metadata FROM audit_events WHERE subject_user_id = ? AND action = 'session.revoked' AND target_id = ?",
    u.user.id, sessionId);
  assert.equal(events.length, 1, `session.revoked events for one ended session: ${events.length}`);
  assert.deepEqual(JSON.parse(events[0].metadata), { reason: "refresh_token_reuse" });
});

// ---------------------------------------------------------------------------------------
// 5. ownership transfer vs removal

test("transfer to X vs removal of X, 6 fresh orgs: exactly one outcome, never an owner outside the org, never two owners", async () => {
  const outcomes = [];
  for (const [i, lag] of [0, 0, 3, -3, 8, -8].entries()) {
    const [org, x, y] = await Promise.all([newOrg(), w.activeUser({ ip: freshIp() }), w.activeUser({ ip: freshIp() })]);
    await w.joinOrg(x, org.orgId, "admin");
    await w.joinOrg(y, org.orgId, "admin");
    const transfer = () => w.post(`/v1/orgs/${org.orgId}/transfer-ownership`, { user_id: x.user.id }, { token: org.token, ip: freshIp() });
    const remove = () => w.del(`/v1/orgs/${org.orgId}/members/${x.user.id}`, { token: y.access_token, ip: freshIp() });
    await warm(4);
    const [tr, rm] = await Promise.all([
      delay(Math.max(0, -lag)).then(transfer),
      delay(Math.max(0, lag)).then(remove),
    ]);
    const what = `round ${i}: transfer ${tr.status} ${JSON.stringify(tr.body)}, removal ${rm.status} ${JSON.stringify(rm.body)}`;
    const transferred = tr.status === 200;
    const removed = rm.status === 204;
    assert.ok(transferred !== removed, `exactly one must win: ${what}`);
    outcomes.push(transferred ? "transferred" : "removed");
    const orgRow = await w.one("SELECT owner_id FROM orgs WHERE id = ?", org.orgId);
    const role = async (user) => (await w.one("SELECT role FROM org_members WHERE org_id = ? AND user_id = ?", org.orgId, user.user.id))?.role;
    if (transferred) {
      assert.ok([404, 409].includes(rm.status), what);
      assertProblem(rm, rm.status, rm.status === 404 ? "not_found" : "last_owner");
      assert.equal(orgRow.owner_id, x.user.id, what);
      assert.equal(await role(x), "owner");
      assert.equal(await role(org.owner), "admin");
      assert.equal(tr.body.owner_id, x.user.id);
      assert.equal(tr.body.role, "admin");
      assert.equal((await w.get(`/v1/orgs/${org.orgId}`, { token: x.access_token })).body.role, "owner");
    } else {
      assert.ok([409, 422].includes(tr.status), what);
      assertProblem(tr, tr.status, tr.status === 409 ? "conflict" : "validation_failed");
      assert.equal(orgRow.owner_id, org.owner.user.id, what);
      assert.equal(await role(x), undefined);
      assert.equal(await role(org.owner), "owner");
      assert.equal(await n("SELECT COUNT(*) AS n FROM workspace_members WHERE org_id = ? AND user_id = ?", org.orgId, x.user.id), 0);
      assertProblem(await w.get(`/v1/orgs/${org.orgId}`, { token: x.access_token }), 404, "not_found");
    }
    assert.equal(await role(y), "admin");
    await assertOneOwner(org.orgId);
    assert.equal(await n("SELECT COUNT(*) AS n FROM audit_events WHERE org_id = ? AND action = 'org.ownership_transferred'", org.orgId), transferred ? 1 : 0);
    assert.equal(await orgEvents(org.orgId, "member.removed", x.user.id), removed ? 1 : 0);
  }
  console.log(`# transfer vs removal outcomes: ${outcomes.join(", ")}`);
});

// ---------------------------------------------------------------------------------------
// 6. role change vs removal

test("role change vs removal of one member, 10 rounds: removed whole (no org, workspace or group rows), never half", async () => {
  const org = await newOrg();
  const remover = await w.activeUser({ ip: freshIp() });
  await w.joinOrg(remover, org.orgId, "admin");
  const g = await w.post(`/v1/orgs/${org.orgId}/groups`, { name: "Racers" }, { token: org.token });
  assert.equal(g.status, 201, JSON.stringify(g.body));
  const outcomes = [];
  for (const [i, lag] of [0, 0, 1, -1, 2, -2, 3, -3, 5, -5].entries()) {
    const m = await w.activeUser({ ip: freshIp() });
    await w.joinOrg(m, org.orgId, "viewer");
    assert.equal((await put(`/v1/orgs/${org.orgId}/workspaces/${org.wsId}/members/${m.user.id}`, { role: "editor" }, org.token)).status, 200);
    assert.equal((await put(`/v1/orgs/${org.orgId}/groups/${g.body.id}/members/${m.user.id}`, undefined, org.token)).status, 204);
    await warm(4);
    const [pa, rm] = await Promise.all([
      delay(Math.max(0, -lag)).then(() => w.patch(`/v1/orgs/${org.orgId}/members/${m.user.id}`, { role: "editor" }, { token: org.token, ip: freshIp() })),
      delay(Math.max(0, lag)).then(() => w.del(`/v1/orgs/${org.orgId}/members/${m.user.id}`, { token: remover.access_token, ip: freshIp() })),
    ]);
    const what = `round ${i}: patch ${pa.status} ${JSON.stringify(pa.body)}, removal ${rm.status} ${JSON.stringify(rm.body)}`;
    // A role change never blocks a removal: the removal always applies.
    assert.equal(rm.status, 204, what);
    if (pa.status === 200) assert.equal(pa.body.role, "editor", what);
    else assertProblem(pa, 404, "not_found");
    outcomes.push(pa.status === 200 ? "changed-then-removed" : "removed-first");
    const rows = {
      org: await n("SELECT COUNT(*) AS n FROM org_members WHERE org_id = ? AND user_id = ?", org.orgId, m.user.id),
      workspace: await n("SELECT COUNT(*) AS n FROM workspace_members WHERE org_id = ? AND user_id = ?", org.orgId, m.user.id),
      group: await n("SELECT COUNT(*) AS n FROM group_members WHERE org_id = ? AND user_id = ?", org.orgId, m.user.id),
    };
    assert.deepEqual(rows, { org: 0, workspace: 0, group: 0 }, what);
    assertProblem(await w.get(`/v1/orgs/${org.orgId}`, { token: m.access_token }), 404, "not_found");
    assert.equal(await orgEvents(org.orgId, "member.removed", m.user.id), 1, what);
    // The trail records the role change only if it happened (the PATCH answered 200).
    assert.equal(await orgEvents(org.orgId, "member.role_changed", m.user.id), pa.status === 200 ? 1 : 0,
      `member.role_changed recorded for a change that ${pa.status === 200 ? "happened" : "answered 404 (never applied)"}; ${what}`);
  }
  console.log(`# role change vs removal outcomes: ${outcomes.join(", ")}`);
  assert.equal((await w.get(`/v1/orgs/${org.orgId}/groups/${g.body.id}`, { token: org.token })).body.member_count, 0);
});

// ---------------------------------------------------------------------------------------
// 7. API token revocation vs use

test("API token: 8 uses fired with two revocations → 200/201 or 401 each; every later use 401; revoked once", async () => {
  const org = await newOrg();
  const minted = await w.post(`/v1/orgs/${org.orgId}/api-tokens`, { name: "racing machine", role: "admin" }, { token: org.token });
  assert.equal(minted.status, 201, JSON.stringify(minted.body));
  const { id, token } = minted.body;
  assert.equal((await w.get(`/v1/orgs/${org.orgId}`, { token })).status, 200, "alive before");

  const use = (i) => (i % 2 === 0
    ? w.get(`/v1/orgs/${org.orgId}`, { token, ip: freshIp() })
    : w.post(`/v1/orgs/${org.orgId}/workspaces`, { name: `token-ws-${i}` }, { token, ip: freshIp() }));
  const revoke = () => w.del(`/v1/orgs/${org.orgId}/api-tokens/${id}`, { token: org.token, ip: freshIp() });
  // Uses that start once a revocation has answered must all fail.
  const afterRevoke = (r) => Promise.all(Array.from({ length: 4 }, (_, i) => use(100 + i))).then((later) => ({ r, later }));
  await warm(20);
  const [racing, first, second] = await Promise.all([
    Promise.all(Array.from({ length: 8 }, (_, i) => use(i))),
    revoke().then(afterRevoke),
    revoke().then(afterRevoke),
  ]);
  assert.equal(first.r.status, 204, JSON.stringify(first.r.body));
  assert.equal(second.r.status, 204, JSON.stringify(second.r.body));
  racing.forEach((r, i) => {
    if (r.status === 401) assertProblem(r, 401, "unauthorized");
    else assert.equal(r.status, i % 2 === 0 ? 200 : 201, `use ${i}: ${r.status} ${JSON.stringify(r.body)}`);
  });
  for (const r of [...first.later, ...second.later]) assertProblem(r, 401, "unauthorized");

  const row = await w.one("SELECT revoked_at, revoked_by FROM api_tokens WHERE id = ?", id);
  assert.ok(row.revoked_at > 0);
  assert.equal(row.revoked_by, org.owner.user.id);
  assert.equal(await orgEvents(org.orgId, "api_token.revoked", id), 1);
  // Exactly the writes that answered 201 exist (a refused one left nothing), each with its event.
  const created = racing.filter((r, i) => i % 2 === 1 && r.status === 201).map((r) => r.body.id).sort();
  const stored = (await w.rows("SELECT id FROM workspaces WHERE org_id = ? AND name LIKE 'token-ws-%'", org.orgId)).map((r) => r.id).sort();
  assert.deepEqual(stored, created, statuses(racing));
  assert.equal(await n("SELECT COUNT(*) AS n FROM audit_events WHERE org_id = ? AND action = 'workspace.created' AND actor_type = 'api_token' AND actor_id = ?", org.orgId, id), created.length);
  // And from now on, every use is refused.
  for (let i = 0; i < 4; i += 1) assertProblem(await use(200 + i), 401, "unauthorized");
  const listed = await w.get(`/v1/orgs/${org.orgId}/api-tokens`, { token: org.token });
  assert.equal(listed.body.data.find((t) => t.id === id).status, "revoked");
});

// ---------------------------------------------------------------------------------------
// 8. the same workspace member, 6 times at once

test("workspace: 6 concurrent PUTs of one outside user → one membership, one seat, one workspace_member.added", async () => {
  const org = await newOrg();
  const x = await w.activeUser({ ip: freshIp() });
  const before = await seats(org.orgId);
  const path = `/v1/orgs/${org.orgId}/workspaces/${org.wsId}/members/${x.user.id}`;
  await warm();
  const results = await Promise.all(Array.from({ length: 6 }, () => put(path, { role: "viewer" }, org.token)));
  // The first to commit adds; a later one either finds the member and leaves the role as
  // it is (200) or loses on the membership key (409 already_member).
  const ok = results.filter((r) => r.status === 200);
  assert.ok(ok.length >= 1, statuses(results));
  for (const r of ok) assert.deepEqual([r.body.org_role, r.body.workspace_role], ["member", "viewer"], JSON.stringify(r.body));
  for (const r of results.filter((y) => y.status !== 200)) assertProblem(r, 409, "already_member");

  assert.deepEqual(await w.rows("SELECT role FROM org_members WHERE org_id = ? AND user_id = ?", org.orgId, x.user.id), [{ role: "member" }]);
  assert.deepEqual(await w.rows("SELECT role FROM workspace_members WHERE workspace_id = ? AND user_id = ?", org.wsId, x.user.id), [{ role: "viewer" }]);
  const after = await seats(org.orgId);
  assert.equal(after.members, before.members + 1, "one seat");
  assert.equal(await orgEvents(org.orgId, "member.added", x.user.id), 1);
  assert.equal(await orgEvents(org.orgId, "workspace_member.added", x.user.id), 1, statuses(results));
  // Any later 200 changed nothing: if it recorded anything, it is viewer → viewer.
  for (const e of await w.rows("SELECT metadata FROM audit_events WHERE org_id = ? AND action = 'workspace_member.role_changed' AND target_id = ?", org.orgId, x.user.id)) {
    const meta = JSON.parse(e.metadata);
    assert.deepEqual([meta.from, meta.to], ["viewer", "viewer"]);
  }
  const list = await w.get(`/v1/orgs/${org.orgId}/workspaces/${org.wsId}/members`, { token: org.token });
  assert.equal(list.body.data.filter((m) => m.user.id === x.user.id).length, 1);
});

test("workspace: 6 concurrent PUTs of one org member, 5 rounds → one workspace membership, one workspace_member.added", async () => {
  const org = await newOrg();
  for (let round = 0; round < 5; round += 1) {
    const v = await w.activeUser({ ip: freshIp() });
    await w.joinOrg(v, org.orgId, "viewer");
    const path = `/v1/orgs/${org.orgId}/workspaces/${org.wsId}/members/${v.user.id}`;
    await warm();
    const results = await Promise.all(Array.from({ length: 6 }, () => put(path, { role: "editor" }, org.token)));
    for (const r of results) {
      assert.equal(r.status, 200, statuses(results));
      assert.deepEqual([r.body.org_role, r.body.workspace_role], ["viewer", "editor"]);
    }
    assert.deepEqual(await w.rows("SELECT role FROM workspace_members WHERE workspace_id = ? AND user_id = ?", org.wsId, v.user.id), [{ role: "editor" }]);
    assert.deepEqual(await w.rows("SELECT role FROM org_members WHERE org_id = ? AND user_id = ?", org.orgId, v.user.id), [{ role: "viewer" }]);
    // One addition, one event; a PUT that found the role already set changed nothing.
    assert.equal(await orgEvents(org.orgId, "workspace_member.added", v.user.id), 1,
      `round ${round}: workspace_member.added events for one addition of an org member by 6 concurrent PUTs`);
    for (const e of await w.rows("SELECT metadata FROM audit_events WHERE org_id = ? AND action = 'workspace_member.role_changed' AND target_id = ?", org.orgId, v.user.id)) {
      const meta = JSON.parse(e.metadata);
      assert.deepEqual([meta.from, meta.to], ["editor", "editor"]);
    }
  }
});
