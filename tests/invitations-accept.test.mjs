// Invitations from the invitee's side (SPEC §2, §4 "Invitations" and the inbox row, §6):
// the public preview, accepting with a new account or an existing one (also 8 accepts
// racing on one link), the in-app inbox (list, accept, decline), the invitation emails
// (content, HTML escaping, a failing HTTP provider ending `failed` and dead-lettered), and
// the cron (expiry, idempotent and bounded over a large backlog; the expiry reminder).
//
// Two workers for the whole file: `w` with the console provider (development defaults) and
// `h` with the HTTP provider, whose outbound fetches a scripted fake provider answers per
// recipient (as in mail.test.mjs). Time travel is done by UPDATE-ing expires_at /
// last_sent_at in D1; everything else goes through the API. Every test creates its own org
// (Ada Lovelace's "Analytical Engines" with workspace "Main"), so seats never interfere.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomBytes, randomUUID } from "node:crypto";
import { startWorker, assertProblem, freshEmail, freshIp, PASSWORD, scriptedProvider } from "./helpers.mjs";

const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z$/;
const RFC3339_ANYWHERE = /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z/g;
const LINK = /http:\/\/127\.0\.0\.1:8787\/invitations\/accept\?token=([A-Za-z0-9_-]{43})/; // APP_URL of wrangler.toml
const INVITED = /invited you to join/;
const ACCEPTED = /accepted your invitation/;
const REMINDER = /Reminder/;
const ORG_NAME = "Analytical Engines";
const NEW_PASSWORD = "graces own passphrase 1906";
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

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

// ---------------------------------------------------------------------------------------
// helpers

const sql = (worker, query, ...params) => worker.db.prepare(query).bind(...params).run();
const count = async (worker, query, ...params) => (await worker.one(query, ...params)).n;

/** A fresh org owned by a fresh active user. */
async function newOrg(worker = w) {
  const owner = await worker.activeUser();
  return { worker, owner, orgId: owner.organization.id, wsId: owner.workspace.id, token: owner.access_token };
}

/** POST /v1/orgs/{org}/invitations as the org's owner; asserts 201 pending. */
async function invite(org, body) {
  const r = await org.worker.post(`/v1/orgs/${org.orgId}/invitations`, body, { token: org.token });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  assert.equal(r.body.status, "pending");
  return r.body;
}

/** Invites a fresh (or given) email and returns the invitation and the token of its email. */
async function invited(org, body = {}) {
  const email = body.email ?? freshEmail("invitee");
  const inv = await invite(org, { role: "viewer", ...body, email });
  const token = await org.worker.mailToken(email.toLowerCase(), INVITED);
  return { inv, token, email: email.toLowerCase() };
}

const getInvitation = (org, id) => org.worker.get(`/v1/orgs/${org.orgId}/invitations/${id}`, { token: org.token });

async function usage(org) {
  const r = await org.worker.get(`/v1/orgs/${org.orgId}/usage`, { token: org.token });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body;
}

const preview = (worker, token) => worker.get(`/v1/invitations/${token}`, { ip: freshIp() });
const accept = (worker, body, opts = {}) => worker.post("/v1/invitations/accept", body, { ip: freshIp(), ...opts });
const newAccount = (token, extra = {}) => ({ token, password: NEW_PASSWORD, first_name: "Grace", last_name: "Hopper", ...extra });

const invRow = (worker, id) => worker.one("SELECT * FROM invitations WHERE id = ?", id);
const linkCount = (worker, id) => count(worker, "SELECT COUNT(*) AS n FROM invitation_links WHERE invitation_id = ?", id);
const auditsOf = (worker, action, targetId) =>
  worker.rows("SELECT * FROM audit_events WHERE action = ? AND target_id = ? ORDER BY id", action, targetId);
const membershipRow = (worker, orgId, userId) =>
  worker.one("SELECT role FROM org_members WHERE org_id = ? AND user_id = ?", orgId, userId);

/** Mails to `to` whose subject matches, once there are at least `n`; newest first. */
async function mailsTo(worker, to, pattern, n = 1) {
  return worker.until(async () => {
    const r = await worker.get(`/v1/dev/mailbox?to=${encodeURIComponent(to)}`);
    const found = (r.body?.data ?? []).filter((m) => pattern.test(m.subject));
    return found.length >= n && found;
  }, { what: `${n} mail(s) to ${to} matching ${pattern}` });
}

const tokenIn = (mail) => {
  const t = mail.text.match(LINK)?.[1];
  assert.ok(t, `no invitation link in mail: ${mail.text}`);
  return t;
};

/** Waits until no outbox row to `to` is still queued or being sent. */
function outboxSettled(worker, to) {
  return worker.until(async () =>
    (await count(worker, "SELECT COUNT(*) AS n FROM outbox WHERE recipient = ? AND status IN ('queued', 'sending')", to)) === 0,
  { timeout: 20000, what: `outbox to ${to} settled` });
}

async function fire(worker = w) {
  const result = await worker.scheduled();
  assert.equal(result.outcome, "ok", JSON.stringify(result));
  return result;
}

/** Moves an invitation's expiry into the past (or anywhere), as time passing would. */
const setExpiry = (worker, id, at) => sql(worker, "UPDATE invitations SET expires_at = ? WHERE id = ?", at, id);

// ---------------------------------------------------------------------------------------
// 1. preview

test("preview: 200 with org, role, workspaces, message, inviter, expiry; account_exists false for a new email", async () => {
  const org = await newOrg();
  const { inv, token, email } = await invited(org, {
    role: "member", workspaces: [{ workspace_id: org.wsId, role: "editor" }], message: "Welcome to the engine room",
  });
  const r = await preview(w, token);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  for (const key of ["account_exists", "email", "expires_at", "id", "invited_by", "message", "org", "role", "workspaces"]) {
    assert.ok(key in r.body, `preview lacks ${key}: ${JSON.stringify(r.body)}`);
  }
  assert.ok(!/token|hash|send_count|email_status|email_id/i.test(Object.keys(r.body).join(" ")), JSON.stringify(r.body));
  assert.equal(r.body.id, inv.id);
  assert.deepEqual(r.body.org, { id: org.orgId, name: ORG_NAME });
  assert.equal(r.body.email, email);
  assert.equal(r.body.role, "member");
  assert.deepEqual(r.body.workspaces, [{ id: org.wsId, name: "Main", role: "editor" }]);
  assert.equal(r.body.message, "Welcome to the engine room");
  assert.deepEqual(r.body.invited_by, { first_name: "Ada", last_name: "Lovelace", email: org.owner.email });
  assert.equal(r.body.expires_at, inv.expires_at);
  const row = await invRow(w, inv.id);
  assert.ok(Math.abs(Date.parse(r.body.expires_at) - row.expires_at) < 1000);
  assert.equal(r.body.account_exists, false);
  // Looking changes nothing.
  assert.equal((await invRow(w, inv.id)).status, "pending");
  assert.equal(await linkCount(w, inv.id), 1);
});

test("preview: account_exists true for an existing account (invited case-insensitively)", async () => {
  const org = await newOrg();
  const existing = await w.activeUser();
  const { inv, token } = await invited(org, { email: existing.email.toUpperCase() });
  const r = await preview(w, token);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body.id, inv.id);
  assert.equal(r.body.email, existing.email);
  assert.equal(r.body.role, "viewer");
  assert.deepEqual(r.body.workspaces, []);
  assert.equal(r.body.account_exists, true);
});

test("preview: malformed and unknown tokens are 400 invalid_token; an expired one 410 token_expired", async () => {
  const malformed = await preview(w, "abc");
  assertProblem(malformed, 400, "invalid_token");
  assert.equal(malformed.body.invitation_status, undefined, "no invitation is named by an unknown token");
  const unknown = randomBytes(32).toString("base64url");
  assert.equal(unknown.length, 43);
  assertProblem(await preview(w, unknown), 400, "invalid_token");
  assertProblem(await accept(w, newAccount(unknown)), 400, "invalid_token");
  assertProblem(await accept(w, newAccount("abc")), 400, "invalid_token");

  const org = await newOrg();
  const { inv, token } = await invited(org);
  assert.equal((await preview(w, token)).status, 200);
  await setExpiry(w, inv.id, Date.now() - 1000);
  assertProblem(await preview(w, token), 410, "token_expired");
  assertProblem(await accept(w, newAccount(token)), 410, "token_expired");
  assert.equal((await invRow(w, inv.id)).status, "pending", "nothing written by reading an expired link");
});

// ---------------------------------------------------------------------------------------
// 2. accept with a new account

test("accept (new email): password, first_name, last_name required; weak passwords refused; nothing created", async () => {
  const org = await newOrg();
  const { inv, token, email } = await invited(org);
  const attempts = [
    { token, first_name: "Grace", last_name: "Hopper" },
    { token, password: NEW_PASSWORD, last_name: "Hopper" },
    { token, password: NEW_PASSWORD, first_name: "Grace" },
    newAccount(token, { password: "12345678" }), // common
    newAccount(token, { password: "short" }),
    newAccount(token, { first_name: "" }),
  ];
  for (const body of attempts) {
    assertProblem(await accept(w, body), 422, "validation_failed");
  }
  assert.equal(await count(w, "SELECT COUNT(*) AS n FROM users WHERE email = ?", email), 0);
  const row = await invRow(w, inv.id);
  assert.equal(row.status, "pending");
  assert.equal(row.accepted_by, null);
  assert.equal(await linkCount(w, inv.id), 1);
  assert.equal(await count(w, "SELECT COUNT(*) AS n FROM org_members WHERE org_id = ?", org.orgId), 1);
  assert.equal((await auditsOf(w, "invitation.accepted", inv.id)).length, 0);
  // The link still works after the refusals.
  assert.equal((await preview(w, token)).status, 200);
});

test("accept (new email): 201 tokens + active user + membership; D1, audit, inviter notice, seats; the link is spent", async () => {
  const org = await newOrg();
  const { inv, token, email } = await invited(org, {
    role: "member", workspaces: [{ workspace_id: org.wsId, role: "editor" }], message: "See you on Monday",
  });
  const seatsBefore = await usage(org);
  assert.equal(seatsBefore.members, 1);
  assert.equal(seatsBefore.pending_invitations, 1);

  const r = await accept(w, newAccount(token));
  assert.equal(r.status, 201, JSON.stringify(r.body));
  assert.ok(r.body.access_token && r.body.refresh_token);
  assert.equal(r.body.token_type, "Bearer");
  assert.equal(r.body.user.email, email);
  assert.equal(r.body.user.status, "active");
  assert.equal(r.body.user.email_verified, true);
  assert.equal(r.body.user.first_name, "Grace");
  assert.equal(r.body.user.last_name, "Hopper");
  assert.equal(r.body.user.password_hash, undefined);
  const membership = { org: { id: org.orgId, name: ORG_NAME }, role: "member", workspaces: [{ id: org.wsId, name: "Main", role: "editor" }] };
  assert.deepEqual(r.body.membership, membership);
  const userId = r.body.user.id;

  // The access token works and shows the membership.
  const me = await w.get("/v1/me", { token: r.body.access_token });
  assert.equal(me.status, 200, JSON.stringify(me.body));
  assert.equal(me.body.id, userId);
  assert.deepEqual(me.body.memberships, [membership]);
  // The refresh token is a live session; the chosen password signs in.
  assert.equal((await w.post("/v1/auth/refresh", { refresh_token: r.body.refresh_token })).status, 200);
  assert.equal((await w.login(email, NEW_PASSWORD, freshIp())).status, 200);

  // D1.
  const user = await w.one("SELECT * FROM users WHERE email = ?", email);
  assert.equal(user.id, userId);
  assert.equal(user.status, "active");
  assert.equal(user.email_verified, 1);
  assert.equal(user.first_name, "Grace");
  assert.ok(user.password_hash && !user.password_hash.includes(NEW_PASSWORD));
  assert.equal((await membershipRow(w, org.orgId, userId)).role, "member");
  assert.deepEqual(await w.rows("SELECT workspace_id, role FROM workspace_members WHERE user_id = ? AND org_id = ?", userId, org.orgId),
    [{ workspace_id: org.wsId, role: "editor" }]);
  const row = await invRow(w, inv.id);
  assert.equal(row.status, "accepted");
  assert.ok(row.ended_at && row.ended_at >= row.created_at);
  assert.equal(row.accepted_by, userId);
  assert.equal(await linkCount(w, inv.id), 1, "the link stays, to say later that it was accepted");

  // Audit: invitation.accepted and member.added in the org's trail, user.signed_up for the account.
  const acc = await auditsOf(w, "invitation.accepted", inv.id);
  assert.equal(acc.length, 1);
  assert.equal(acc[0].org_id, org.orgId);
  assert.equal(acc[0].target_type, "invitation");
  assert.equal(acc[0].actor_id, userId);
  const added = await auditsOf(w, "member.added", userId);
  assert.equal(added.length, 1);
  assert.equal(added[0].org_id, org.orgId);
  assert.equal(added[0].target_type, "user");
  assert.equal(JSON.parse(added[0].metadata).via, "invitation");
  const signedUp = await w.rows("SELECT * FROM audit_events WHERE action = 'user.signed_up' AND subject_user_id = ?", userId);
  assert.equal(signedUp.length, 1);
  assert.equal(signedUp[0].org_id, null);

  // The inviter is told.
  const notice = await w.mail(org.owner.email, ACCEPTED);
  assert.equal(notice.subject, `${email} accepted your invitation to ${ORG_NAME}`);
  const noticeRow = await w.one("SELECT kind, ref_type, ref_id FROM outbox WHERE id = ?", notice.id);
  assert.deepEqual(noticeRow, { kind: "invitation_accepted", ref_type: "invitation", ref_id: inv.id });

  // Seats: the invitation's seat became the member's.
  const seatsAfter = await usage(org);
  assert.equal(seatsAfter.members, seatsBefore.members + 1);
  assert.equal(seatsAfter.pending_invitations, seatsBefore.pending_invitations - 1);
  assert.equal(seatsAfter.remaining, seatsBefore.remaining);

  // The link is spent.
  assertProblem(await accept(w, newAccount(token)), 400, "invalid_token");
  assertProblem(await accept(w, { token }, { token: r.body.access_token }), 400, "invalid_token");
  const spent = await preview(w, token);
  assertProblem(spent, 400, "invalid_token");
  assert.equal(spent.body.invitation_status, "accepted");
  assert.equal(spent.body.detail, "This invitation was already accepted.");
  assert.equal(await count(w, "SELECT COUNT(*) AS n FROM users WHERE email = ?", email), 1);
  assert.equal((await auditsOf(w, "invitation.accepted", inv.id)).length, 1);
  // The listed invitation shows the outcome.
  const listed = await getInvitation(org, inv.id);
  assert.equal(listed.status, 200, JSON.stringify(listed.body));
  assert.equal(listed.body.status, "accepted");
  assert.match(listed.body.ended_at, RFC3339);
});

// ---------------------------------------------------------------------------------------
// 3. accept with an existing account

test("accept (existing account): no bearer 401, another account 403, password/names 422; the right bearer 200 {membership}", async () => {
  const org = await newOrg();
  const invitee = await w.activeUser();
  const other = await w.activeUser();
  const { inv, token } = await invited(org, { email: invitee.email, role: "viewer" });
  const seatsBefore = await usage(org);

  assertProblem(await accept(w, { token }), 401, "unauthorized");
  assertProblem(await accept(w, { token }, { token: other.access_token }), 403, "forbidden");
  assertProblem(await accept(w, { token, password: NEW_PASSWORD }, { token: invitee.access_token }), 422, "validation_failed");
  assertProblem(await accept(w, { token, first_name: "Grace", last_name: "Hopper" }, { token: invitee.access_token }), 422, "validation_failed");
  assert.equal(await membershipRow(w, org.orgId, invitee.user.id), undefined);
  assert.equal(await membershipRow(w, org.orgId, other.user.id), undefined);
  assert.equal((await invRow(w, inv.id)).status, "pending");
  assert.equal(await linkCount(w, inv.id), 1);

  const r = await accept(w, { token }, { token: invitee.access_token });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.deepEqual(Object.keys(r.body), ["membership"]);
  assert.deepEqual(r.body.membership.org, { id: org.orgId, name: ORG_NAME });
  assert.equal(r.body.membership.role, "viewer");
  assert.ok(Array.isArray(r.body.membership.workspaces));

  const me = await w.get("/v1/me", { token: invitee.access_token });
  assert.equal(me.status, 200);
  const joined = me.body.memberships.find((m) => m.org.id === org.orgId);
  assert.ok(joined, JSON.stringify(me.body.memberships));
  assert.equal(joined.role, "viewer");
  assert.equal((await w.get(`/v1/orgs/${org.orgId}`, { token: invitee.access_token })).status, 200);

  assert.equal((await membershipRow(w, org.orgId, invitee.user.id)).role, "viewer");
  const row = await invRow(w, inv.id);
  assert.equal(row.status, "accepted");
  assert.equal(row.accepted_by, invitee.user.id);
  assert.ok(row.ended_at);
  assert.equal(await linkCount(w, inv.id), 1);
  const acc = await auditsOf(w, "invitation.accepted", inv.id);
  assert.equal(acc.length, 1);
  assert.equal(acc[0].actor_id, invitee.user.id);
  assert.equal(JSON.parse((await auditsOf(w, "member.added", invitee.user.id))[0].metadata).via, "invitation");
  assert.equal(await count(w, "SELECT COUNT(*) AS n FROM users WHERE email = ?", invitee.email), 1);
  await w.mail(org.owner.email, ACCEPTED);
  const seatsAfter = await usage(org);
  assert.equal(seatsAfter.members, seatsBefore.members + 1);
  assert.equal(seatsAfter.pending_invitations, seatsBefore.pending_invitations - 1);
  assert.equal(seatsAfter.remaining, seatsBefore.remaining);

  assertProblem(await accept(w, { token }, { token: invitee.access_token }), 400, "invalid_token");
});

test("joining another way (an admin adds them) withdraws the pending invitation: one seat, dead link", async () => {
  const org = await newOrg();
  const invitee = await w.activeUser();
  const { inv, token } = await invited(org, { email: invitee.email, role: "viewer" });
  const before = await usage(org);
  const add = await w.post(`/v1/orgs/${org.orgId}/members`, {
    email: invitee.email, first_name: "Grace", last_name: "Hopper", role: "editor", credential: "activation_email",
  }, { token: org.token });
  assert.equal(add.status, 201, JSON.stringify(add.body));
  assert.equal((await membershipRow(w, org.orgId, invitee.user.id)).role, "editor");
  const row = await invRow(w, inv.id);
  assert.equal(row.status, "withdrawn");
  assert.ok(row.ended_at);
  assert.equal(await linkCount(w, inv.id), 1);
  const events = await auditsOf(w, "invitation.withdrawn", inv.id);
  assert.equal(events.length, 1);
  assert.equal(JSON.parse(events[0].metadata).reason, "joined_otherwise");
  assert.equal(events[0].actor_id, org.owner.user.id);
  const after = await usage(org);
  assert.equal(after.members, before.members + 1);
  assert.equal(after.pending_invitations, before.pending_invitations - 1, "the person holds one seat, not two");
  const late = await accept(w, { token }, { token: invitee.access_token });
  assertProblem(late, 400, "invalid_token");
  assert.equal(late.body.invitation_status, "withdrawn");
  assert.equal((await membershipRow(w, org.orgId, invitee.user.id)).role, "editor", "the membership is untouched");
});

test("joining another way (added to a workspace) withdraws the pending invitation too", async () => {
  const org = await newOrg();
  const invitee = await w.activeUser();
  const { inv } = await invited(org, { email: invitee.email, role: "viewer" });
  const put = await w.request("PUT", `/v1/orgs/${org.orgId}/workspaces/${org.wsId}/members/${invitee.user.id}`,
    { body: { role: "viewer" }, token: org.token });
  assert.equal(put.status, 200, JSON.stringify(put.body));
  assert.equal((await invRow(w, inv.id)).status, "withdrawn");
  assert.equal((await usage(org)).pending_invitations, 0);
});

test("accept (existing account) when a membership appeared meanwhile: 409 already_member, nothing changes", async () => {
  const org = await newOrg();
  const invitee = await w.activeUser();
  const { inv, token } = await invited(org, { email: invitee.email, role: "viewer" });
  // As a concurrent join would leave it (the other ways in withdraw the invitation).
  await sql(w, "INSERT INTO org_members (org_id, user_id, role, joined_at) VALUES (?, ?, 'editor', ?)", org.orgId, invitee.user.id, Date.now());
  assertProblem(await accept(w, { token }, { token: invitee.access_token }), 409, "already_member");
  assert.equal((await membershipRow(w, org.orgId, invitee.user.id)).role, "editor", "the existing membership is untouched");
  assert.equal(await count(w, "SELECT COUNT(*) AS n FROM org_members WHERE org_id = ? AND user_id = ?", org.orgId, invitee.user.id), 1);
  assert.equal((await invRow(w, inv.id)).status, "pending", "the failed accept rolled back");
});

// ---------------------------------------------------------------------------------------
// 4. races

test("race: 8 concurrent accepts of one link for a new email → one 201, seven 400; one account, one membership", async () => {
  const org = await newOrg();
  const { inv, token, email } = await invited(org, { role: "editor" });
  const results = await Promise.all(Array.from({ length: 8 }, () => accept(w, newAccount(token))));
  const statuses = results.map((r) => r.status);
  assert.equal(statuses.filter((s) => s === 201).length, 1, JSON.stringify(statuses));
  for (const r of results.filter((x) => x.status !== 201)) assertProblem(r, 400, "invalid_token");
  const winner = results.find((r) => r.status === 201).body;

  const users = await w.rows("SELECT id, status FROM users WHERE email = ?", email);
  assert.deepEqual(users, [{ id: winner.user.id, status: "active" }]);
  assert.equal(await count(w, "SELECT COUNT(*) AS n FROM org_members WHERE org_id = ? AND user_id = ?", org.orgId, winner.user.id), 1);
  assert.equal(await count(w, "SELECT COUNT(*) AS n FROM org_members WHERE org_id = ?", org.orgId), 2);
  const row = await invRow(w, inv.id);
  assert.equal(row.status, "accepted");
  assert.equal(row.accepted_by, winner.user.id);
  assert.equal((await auditsOf(w, "invitation.accepted", inv.id)).length, 1);
  assert.equal((await auditsOf(w, "member.added", winner.user.id)).length, 1);
  assert.equal(await count(w, "SELECT COUNT(*) AS n FROM audit_events WHERE action = 'user.signed_up' AND subject_user_id = ?", winner.user.id), 1);
  const seats = await usage(org);
  assert.equal(seats.members, 2);
  assert.equal(seats.pending_invitations, 0);
  await w.mail(org.owner.email, ACCEPTED);
  await outboxSettled(w, org.owner.email);
  assert.equal(await count(w, "SELECT COUNT(*) AS n FROM outbox WHERE kind = 'invitation_accepted' AND ref_id = ?", inv.id), 1,
    "the inviter is told once");
});

test("race: 8 concurrent accepts of one link by the existing account → one 200, seven 400; one membership", async () => {
  const org = await newOrg();
  const invitee = await w.activeUser();
  const { inv, token } = await invited(org, { email: invitee.email, role: "viewer" });
  const results = await Promise.all(Array.from({ length: 8 }, () => accept(w, { token }, { token: invitee.access_token })));
  const statuses = results.map((r) => r.status);
  assert.equal(statuses.filter((s) => s === 200).length, 1, JSON.stringify(statuses));
  for (const r of results.filter((x) => x.status !== 200)) assertProblem(r, 400, "invalid_token");
  assert.equal(await count(w, "SELECT COUNT(*) AS n FROM org_members WHERE org_id = ? AND user_id = ?", org.orgId, invitee.user.id), 1);
  const row = await invRow(w, inv.id);
  assert.equal(row.status, "accepted");
  assert.equal(row.accepted_by, invitee.user.id);
  assert.equal((await auditsOf(w, "invitation.accepted", inv.id)).length, 1);
  assert.equal((await auditsOf(w, "member.added", invitee.user.id)).length, 1);
  assert.equal((await usage(org)).members, 2);
});

// ---------------------------------------------------------------------------------------
// 5. the inbox

test("inbox: lists pending invitations to the caller's verified email, newest first; not withdrawn, expired or others'", async () => {
  const u = await w.activeUser();
  const [a, b, c, d] = await Promise.all(Array.from({ length: 4 }, () => newOrg()));
  const fromB = await invite(b, { email: u.email, role: "editor", message: "From B" });
  const fromA = await invite(a, { email: u.email.toUpperCase(), role: "member", workspaces: [{ workspace_id: a.wsId, role: "viewer" }], message: "From A" });
  const fromC = await invite(c, { email: u.email, role: "viewer" });
  assert.equal((await w.del(`/v1/orgs/${c.orgId}/invitations/${fromC.id}`, { token: c.token })).status, 204);
  const fromD = await invite(d, { email: u.email, role: "viewer" });
  await setExpiry(w, fromD.id, Date.now() - 1000);
  await invite(a, { email: freshEmail("someone-else"), role: "viewer" });

  assertProblem(await w.get("/v1/me/invitations"), 401, "unauthorized");
  const r = await w.get("/v1/me/invitations", { token: u.access_token });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.deepEqual(r.body.data.map((i) => i.id), [fromA.id, fromB.id]);
  const [ia, ib] = r.body.data;
  for (const key of ["id", "org", "role", "workspaces", "message", "invited_by", "created_at", "expires_at"]) {
    assert.ok(key in ia, `inbox item lacks ${key}: ${JSON.stringify(ia)}`);
  }
  assert.deepEqual(ia.org, { id: a.orgId, name: ORG_NAME });
  assert.equal(ia.role, "member");
  assert.deepEqual(ia.workspaces, [{ id: a.wsId, name: "Main", role: "viewer" }]);
  assert.equal(ia.message, "From A");
  assert.equal(ia.invited_by.email, a.owner.email);
  assert.equal(ia.invited_by.first_name, "Ada");
  assert.equal(ia.invited_by.last_name, "Lovelace");
  assert.match(ia.created_at, RFC3339);
  assert.equal(ia.expires_at, fromA.expires_at);
  assert.deepEqual(ib.org, { id: b.orgId, name: ORG_NAME });
  assert.equal(ib.role, "editor");
  assert.deepEqual(ib.workspaces, []);
  assert.equal(ib.message, "From B");
  assert.ok(!/token/i.test(JSON.stringify(r.body)), "the inbox never exposes a link's token");

  // Not verified: nothing, and nothing can be accepted.
  const v = await w.activeUser();
  const forV = await invite(a, { email: v.email, role: "viewer" });
  assert.deepEqual((await w.get("/v1/me/invitations", { token: v.access_token })).body.data.map((i) => i.id), [forV.id]);
  await sql(w, "UPDATE users SET email_verified = 0 WHERE id = ?", v.user.id);
  const unverified = await w.get("/v1/me/invitations", { token: v.access_token });
  assert.equal(unverified.status, 200, JSON.stringify(unverified.body));
  assert.deepEqual(unverified.body.data, []);
  assertProblem(await w.post(`/v1/me/invitations/${forV.id}/accept`, undefined, { token: v.access_token }), 404, "not_found");
  assert.equal((await invRow(w, forV.id)).status, "pending");
});

test("inbox accept: 200 {membership}; again 404; someone else's 404; no token 401; expired 410", async () => {
  const u = await w.activeUser();
  const stranger = await w.activeUser();
  const org = await newOrg();
  const inv = await invite(org, { email: u.email, role: "member", workspaces: [{ workspace_id: org.wsId, role: "editor" }] });
  const token = await w.mailToken(u.email, INVITED);
  const seatsBefore = await usage(org);
  const path = `/v1/me/invitations/${inv.id}/accept`;

  assertProblem(await w.post(path), 401, "unauthorized");
  assertProblem(await w.post(path, undefined, { token: stranger.access_token }), 404, "not_found");
  assertProblem(await w.post("/v1/me/invitations/not-a-uuid/accept", undefined, { token: u.access_token }), 404, "not_found");
  assertProblem(await w.post(`/v1/me/invitations/${randomUUID()}/accept`, undefined, { token: u.access_token }), 404, "not_found");
  assert.equal((await invRow(w, inv.id)).status, "pending");
  assert.equal(await membershipRow(w, org.orgId, stranger.user.id), undefined);

  const r = await w.post(path, undefined, { token: u.access_token });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.deepEqual(r.body, {
    membership: { org: { id: org.orgId, name: ORG_NAME }, role: "member", workspaces: [{ id: org.wsId, name: "Main", role: "editor" }] },
  });
  assert.equal((await membershipRow(w, org.orgId, u.user.id)).role, "member");
  const row = await invRow(w, inv.id);
  assert.equal(row.status, "accepted");
  assert.equal(row.accepted_by, u.user.id);
  assert.equal((await auditsOf(w, "invitation.accepted", inv.id)).length, 1);
  const seatsAfter = await usage(org);
  assert.equal(seatsAfter.members, seatsBefore.members + 1);
  assert.equal(seatsAfter.pending_invitations, seatsBefore.pending_invitations - 1);
  await w.mail(org.owner.email, ACCEPTED);

  assertProblem(await w.post(path, undefined, { token: u.access_token }), 404, "not_found");
  const died = await preview(w, token); // the emailed link died with it
  assertProblem(died, 400, "invalid_token");
  assert.equal(died.body.invitation_status, "accepted");
  assert.deepEqual((await w.get("/v1/me/invitations", { token: u.access_token })).body.data.filter((i) => i.id === inv.id), []);

  // Past its expiry: 410, and nothing changes.
  const org2 = await newOrg();
  const late = await invite(org2, { email: u.email, role: "viewer" });
  await setExpiry(w, late.id, Date.now() - 1000);
  assertProblem(await w.post(`/v1/me/invitations/${late.id}/accept`, undefined, { token: u.access_token }), 410, "token_expired");
  assertProblem(await w.post(`/v1/me/invitations/${late.id}/decline`, undefined, { token: u.access_token }), 410, "token_expired");
  assert.equal(await membershipRow(w, org2.orgId, u.user.id), undefined);
  assert.equal((await invRow(w, late.id)).status, "pending");
});

test("inbox decline: 204 declined, seat freed, audited; its link then 400 invalid_token", async () => {
  const u = await w.activeUser();
  const org = await newOrg();
  const { inv, token } = await invited(org, { email: u.email, role: "viewer" });
  const seatsBefore = await usage(org);
  assert.equal(seatsBefore.pending_invitations, 1);
  const path = `/v1/me/invitations/${inv.id}/decline`;

  assertProblem(await w.post(path), 401, "unauthorized");
  const stranger = await w.activeUser();
  assertProblem(await w.post(path, undefined, { token: stranger.access_token }), 404, "not_found");
  assert.equal((await invRow(w, inv.id)).status, "pending");

  const r = await w.post(path, undefined, { token: u.access_token });
  assert.equal(r.status, 204, JSON.stringify(r.body));
  assert.equal(r.body, null);
  const row = await invRow(w, inv.id);
  assert.equal(row.status, "declined");
  assert.ok(row.ended_at);
  assert.equal(row.accepted_by, null);
  assert.equal(await membershipRow(w, org.orgId, u.user.id), undefined);
  const seatsAfter = await usage(org);
  assert.equal(seatsAfter.pending_invitations, 0);
  assert.equal(seatsAfter.members, seatsBefore.members);
  assert.equal(seatsAfter.remaining, seatsBefore.remaining + 1);
  const ev = await auditsOf(w, "invitation.declined", inv.id);
  assert.equal(ev.length, 1);
  assert.equal(ev[0].org_id, org.orgId);
  assert.equal(ev[0].target_type, "invitation");
  assert.equal(ev[0].actor_id, u.user.id);
  assert.equal((await getInvitation(org, inv.id)).body.status, "declined");

  const declined = await preview(w, token);
  assertProblem(declined, 400, "invalid_token");
  assert.equal(declined.body.invitation_status, "declined");
  assertProblem(await accept(w, { token }, { token: u.access_token }), 400, "invalid_token");
  assertProblem(await w.post(path, undefined, { token: u.access_token }), 404, "not_found");
  assertProblem(await w.post(`/v1/me/invitations/${inv.id}/accept`, undefined, { token: u.access_token }), 404, "not_found");
  assert.deepEqual((await w.get("/v1/me/invitations", { token: u.access_token })).body.data, []);
  assert.equal((await auditsOf(w, "invitation.declined", inv.id)).length, 1);
});

// ---------------------------------------------------------------------------------------
// 6. emails

test("invitation email: inviter, org, role, message, expiry and link; outbox row and email_id", async () => {
  const org = await newOrg();
  const email = freshEmail("mailed");
  const inv = await invite(org, {
    email, role: "editor", workspaces: [{ workspace_id: org.wsId, role: "admin" }], message: "Bring your notes on the Engine",
  });
  assert.equal(inv.email_status, "queued");
  const [m] = await mailsTo(w, email, INVITED);
  assert.equal(m.subject, `Ada Lovelace invited you to join ${ORG_NAME}`);
  const token = tokenIn(m);
  const link = `http://127.0.0.1:8787/invitations/accept?token=${token}`;
  for (const body of [m.text, m.html]) {
    assert.ok(body.includes("Ada Lovelace"), body);
    assert.ok(body.includes(ORG_NAME), body);
    assert.ok(body.includes("editor"), body);
    assert.ok(body.includes("Main"), body); // the workspace and its role
    assert.ok(body.includes("Bring your notes on the Engine"), body);
    assert.ok(body.includes(link), body);
    const stamps = body.match(RFC3339_ANYWHERE) ?? [];
    assert.ok(stamps.some((s) => Math.abs(Date.parse(s) - Date.parse(inv.expires_at)) < 1000),
      `expiry ${inv.expires_at} not in ${stamps}`);
  }
  assert.ok(m.html.includes(`<a href="${link}"`), m.html);
  assert.equal((await preview(w, token)).body.id, inv.id);

  const out = await w.one("SELECT * FROM outbox WHERE id = ?", m.id);
  assert.equal(out.kind, "invitation");
  assert.equal(out.ref_type, "invitation");
  assert.equal(out.ref_id, inv.id);
  assert.equal(out.recipient, email);
  assert.equal((await invRow(w, inv.id)).email_id, m.id);
  await w.until(async () => (await getInvitation(org, inv.id)).body.email_status === "sent", { what: "email_status sent" });
});

test("invitation email: the personal message is HTML-escaped in html, verbatim in text", async () => {
  const org = await newOrg();
  const email = freshEmail("xss");
  const message = "Hi <script>alert(1)</script> & welcome";
  await invite(org, { email, role: "viewer", message });
  const [m] = await mailsTo(w, email, INVITED);
  assert.ok(m.text.includes(message), m.text);
  assert.ok(m.html.includes("&lt;script&gt;alert(1)&lt;/script&gt;"), m.html);
  assert.ok(!/<script/i.test(m.html), "no raw <script> in html");
  assert.ok(m.html.includes("&amp; welcome"), m.html);
});

test("failing HTTP provider: 3 attempts, email_status 'failed', dead-lettered, never delivered twice; a working one → 'sent'", async () => {
  const org = await newOrg(h);
  const email = freshEmail("bounce");
  behaviour.set(email, () => new Response("provider error", { status: 500 }));
  const inv = await invite(org, { email, role: "viewer" });

  const final = await h.until(async () => {
    const r = await getInvitation(org, inv.id);
    return r.body?.email_status === "failed" && r.body;
  }, { timeout: 20000, what: "email_status failed" });
  assert.equal(final.status, "pending", "a failed email does not end the invitation");
  const out = await h.one("SELECT * FROM outbox WHERE recipient = ? AND kind = 'invitation'", email);
  assert.equal(out.status, "failed");
  assert.equal(out.attempts, 3);
  assert.match(out.last_error ?? "", /500/);
  assert.equal(out.ref_id, inv.id);
  assert.equal((await invRow(h, inv.id)).email_id, out.id);
  assert.equal(callsTo(email).length, 3, "exactly MAIL_MAX_ATTEMPTS deliveries were tried");
  for (const c of callsTo(email)) {
    assert.equal(c.headers["idempotency-key"], out.id);
    assert.match(c.body.subject, INVITED);
  }

  const kv = await h.mf.getKVNamespace("DLQ_SINK", "dlq-sink");
  const dead = await h.until(() => kv.get(out.id), { what: "invitation in the DLQ sink" });
  const msg = JSON.parse(dead);
  assert.equal(msg.id, out.id);
  assert.equal(msg.to, email);
  assert.match(msg.content.invitation.link, LINK);
  assert.deepEqual(Object.keys(msg.content), ["invitation"]);

  // Redelivering the dead-lettered message never sends it (even to a provider that now works).
  behaviour.delete(email);
  const markerEmail = freshEmail("marker");
  const markerId = randomUUID();
  await sql(h, "INSERT INTO outbox (id, kind, recipient, status, created_at, updated_at) VALUES (?, 'password_changed', ?, 'queued', ?, ?)",
    markerId, markerEmail, Date.now(), Date.now());
  const queue = await h.mf.getQueueProducer("MAIL_QUEUE", "ums");
  await queue.sendBatch([
    { body: dead },
    { body: JSON.stringify({ id: markerId, to: markerEmail, content: { password_changed: { first_name: "Ada" } } }) },
  ]);
  await h.until(async () => (await h.one("SELECT status FROM outbox WHERE id = ?", markerId)).status === "sent", { timeout: 20000, what: "marker sent" });
  assert.equal(callsTo(email).length, 3, "the failed message was not sent again");
  assert.equal((await h.one("SELECT status, attempts FROM outbox WHERE id = ?", out.id)).status, "failed");
  assert.equal((await getInvitation(org, inv.id)).body.email_status, "failed");

  // A working provider: 'sent' after one call.
  const okEmail = freshEmail("delivered");
  const ok = await invite(org, { email: okEmail, role: "viewer" });
  await h.until(async () => (await getInvitation(org, ok.id)).body?.email_status === "sent", { timeout: 20000, what: "email_status sent" });
  assert.equal(callsTo(okEmail).length, 1);
  const okRow = await h.one("SELECT status, attempts FROM outbox WHERE recipient = ? AND kind = 'invitation'", okEmail);
  assert.deepEqual(okRow, { status: "sent", attempts: 1 });
  assert.match(callsTo(okEmail)[0].body.text, LINK);
});

// ---------------------------------------------------------------------------------------
// 7. cron: expiry

test("cron expiry: overdue pending → expired once (audit, seats); idempotent; ended ones untouched; resend revives", async () => {
  const org = await newOrg();
  const overdue = [await invited(org), await invited(org)];
  const acc = await invited(org);
  assert.equal((await accept(w, newAccount(acc.token))).status, 201);
  const wd = await invited(org);
  assert.equal((await w.del(`/v1/orgs/${org.orgId}/invitations/${wd.inv.id}`, { token: org.token })).status, 204);
  const fresh = await invited(org);

  const past = Date.now() - 60_000;
  for (const x of [...overdue, acc, wd]) await setExpiry(w, x.inv.id, past);
  const endedBefore = [await invRow(w, acc.inv.id), await invRow(w, wd.inv.id)];

  // Already expired everywhere before the cron writes it down.
  const eff = await getInvitation(org, overdue[0].inv.id);
  assert.equal(eff.body.status, "expired");
  assert.equal((await invRow(w, overdue[0].inv.id)).status, "pending");
  const seatsBefore = await usage(org);
  assert.equal(seatsBefore.pending_invitations, 1, "only the fresh invitation holds a seat");
  assert.equal(seatsBefore.members, 2);

  await fire();
  for (const x of overdue) {
    const row = await invRow(w, x.inv.id);
    assert.equal(row.status, "expired");
    assert.ok(row.ended_at && row.ended_at >= past, JSON.stringify(row));
    const ev = await auditsOf(w, "invitation.expired", x.inv.id);
    assert.equal(ev.length, 1);
    assert.equal(ev[0].actor_id, null);
    assert.equal(ev[0].org_id, org.orgId);
    assert.equal(ev[0].target_type, "invitation");
  }
  assert.deepEqual([await invRow(w, acc.inv.id), await invRow(w, wd.inv.id)], endedBefore, "accepted/withdrawn untouched");
  for (const x of [acc, wd, fresh]) assert.equal((await auditsOf(w, "invitation.expired", x.inv.id)).length, 0);
  assert.equal((await invRow(w, fresh.inv.id)).status, "pending");
  const seatsAfter = await usage(org);
  assert.deepEqual(seatsAfter, seatsBefore);

  // Idempotent.
  const snapshot = async () => Promise.all([...overdue, acc, wd, fresh].map((x) => invRow(w, x.inv.id)));
  const first = await snapshot();
  await fire();
  assert.deepEqual(await snapshot(), first);
  for (const x of overdue) assert.equal((await auditsOf(w, "invitation.expired", x.inv.id)).length, 1);

  // The link of an expired invitation says so; the list shows it under expired.
  assertProblem(await accept(w, newAccount(overdue[0].token)), 410, "token_expired");
  assertProblem(await preview(w, overdue[0].token), 410, "token_expired");
  const listed = await w.get(`/v1/orgs/${org.orgId}/invitations?status=expired`, { token: org.token });
  assert.deepEqual(listed.body.data.map((i) => i.id).sort(), overdue.map((x) => x.inv.id).sort());

  // Resending revives it: a new link, pending again, holding a seat; the old link is dead.
  const re = await w.request("POST", `/v1/orgs/${org.orgId}/invitations/${overdue[0].inv.id}/resend`, { token: org.token });
  assert.equal(re.status, 200, JSON.stringify(re.body));
  assert.equal(re.body.status, "pending");
  assert.ok(Date.parse(re.body.expires_at) > Date.now());
  const [newest] = await mailsTo(w, overdue[0].email, INVITED, 2);
  const newToken = tokenIn(newest);
  assert.notEqual(newToken, overdue[0].token);
  const p = await preview(w, newToken);
  assert.equal(p.status, 200, JSON.stringify(p.body));
  assert.equal(p.body.id, overdue[0].inv.id);
  assertProblem(await preview(w, overdue[0].token), 400, "invalid_token");
  assert.equal((await invRow(w, overdue[0].inv.id)).status, "pending");
  assert.equal((await usage(org)).pending_invitations, 2);
  const resent = await auditsOf(w, "invitation.resent", overdue[0].inv.id);
  assert.equal(resent.length, 1);
  assert.equal(JSON.parse(resent[0].metadata).revived, true);
  // A run now leaves the revived invitation alone.
  await fire();
  assert.equal((await invRow(w, overdue[0].inv.id)).status, "pending");
  assert.equal((await auditsOf(w, "invitation.expired", overdue[0].inv.id)).length, 1);
  assert.equal((await accept(w, newAccount(newToken))).status, 201);
});

test("cron expiry: a backlog of 6,000 overdue invitations takes two bounded runs (5,000 then 1,000), one audit row each", async () => {
  const org = await newOrg();
  const overdueAnywhere = () => count(w, "SELECT COUNT(*) AS n FROM invitations WHERE status = 'pending' AND expires_at <= ?", Date.now());
  for (let i = 0; i < 5 && (await overdueAnywhere()) > 0; i++) await fire(); // leftovers of earlier tests
  assert.equal(await overdueAnywhere(), 0);

  const N = 6000;
  const created = Date.now() - 8 * DAY;
  const tag = randomBytes(4).toString("hex");
  // One statement seeds them all (ids unique per org: its first 8 hex digits plus a counter).
  await w.db.prepare(
    `WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < ?1)
     INSERT INTO invitations (id, org_id, email, role, invited_by, status, created_at, expires_at, send_count, last_sent_at)
     SELECT printf('%s-0000-7000-8000-%012d', ?2, i), ?3, printf('bulk-%s-%d@example.com', ?2, i), 'viewer', ?4,
            'pending', ?5, ?6, 1, ?5 FROM seq`,
  ).bind(N, tag, org.orgId, org.owner.user.id, created, Date.now() - DAY).run();
  const pendingLeft = () => count(w, "SELECT COUNT(*) AS n FROM invitations WHERE org_id = ? AND status = 'pending'", org.orgId);
  assert.equal(await pendingLeft(), N);

  const left = [N];
  for (let run = 1; run <= 3 && left.at(-1) > 0; run++) {
    await fire();
    left.push(await pendingLeft());
  }
  const perRun = left.slice(1).map((n, i) => left[i] - n);
  assert.deepEqual(perRun, [5000, 1000], `a run expires at most 10 batches of 500: ${perRun}`);

  const audit = async () => w.rows(
    "SELECT target_id, COUNT(*) AS n, MAX(actor_id) AS actor FROM audit_events WHERE org_id = ? AND action = 'invitation.expired' GROUP BY target_id",
    org.orgId);
  const rows = await audit();
  assert.equal(rows.length, N);
  assert.ok(rows.every((r) => r.n === 1 && r.actor === null));
  assert.equal(await count(w, "SELECT COUNT(*) AS n FROM invitations WHERE org_id = ? AND status = 'expired' AND ended_at IS NOT NULL", org.orgId), N);
  await fire();
  assert.equal(await count(w, "SELECT COUNT(*) AS n FROM audit_events WHERE org_id = ? AND action = 'invitation.expired'", org.orgId), N);
  const seats = await usage(org);
  assert.equal(seats.pending_invitations, 0);
  assert.equal(seats.members, 1);
  assert.equal(seats.remaining, seats.member_limit - 1);
});

// ---------------------------------------------------------------------------------------
// 8. cron: the expiry reminder

test("reminder: one cron run sends one reminder with a fresh link (the first still works); never a second", async () => {
  const org = await newOrg();
  const due = await invited(org, { message: "Do come" });
  const recent = await invited(org); // sent an hour ago: too recently for a reminder
  const notDue = await invited(org); // a week left
  const now = Date.now();
  await sql(w, "UPDATE invitations SET created_at = ?, last_sent_at = ?, expires_at = ? WHERE id = ?", now - 6 * DAY, now - 6 * DAY, now + HOUR, due.inv.id);
  await sql(w, "UPDATE invitations SET last_sent_at = ?, expires_at = ? WHERE id = ?", now - HOUR, now + HOUR, recent.inv.id);

  await fire();
  const [m] = await mailsTo(w, due.email, REMINDER);
  assert.equal(m.subject, `Reminder: your invitation to join ${ORG_NAME} expires soon`);
  assert.ok(m.text.includes(ORG_NAME));
  const out = await w.one("SELECT kind, ref_type, ref_id FROM outbox WHERE id = ?", m.id);
  assert.deepEqual(out, { kind: "invitation_reminder", ref_type: "invitation", ref_id: due.inv.id });
  const reminderToken = tokenIn(m);
  assert.notEqual(reminderToken, due.token);
  const p = await preview(w, reminderToken);
  assert.equal(p.status, 200, JSON.stringify(p.body));
  assert.equal(p.body.id, due.inv.id);
  assert.equal((await preview(w, due.token)).status, 200, "the first link still works");
  assert.equal(await linkCount(w, due.inv.id), 2);
  const row = await invRow(w, due.inv.id);
  assert.ok(row.reminded_at, "reminded_at set");
  assert.equal(row.status, "pending");
  for (const x of [recent, notDue]) {
    assert.equal((await invRow(w, x.inv.id)).reminded_at, null);
    assert.equal(await count(w, "SELECT COUNT(*) AS n FROM outbox WHERE kind = 'invitation_reminder' AND ref_id = ?", x.inv.id), 0);
  }

  await fire();
  const reminders = () => count(w, "SELECT COUNT(*) AS n FROM outbox WHERE kind = 'invitation_reminder' AND ref_id = ?", due.inv.id);
  assert.equal(await reminders(), 1, "no second reminder");
  await outboxSettled(w, due.email);
  assert.equal((await mailsTo(w, due.email, REMINDER)).length, 1);
  assert.equal((await invRow(w, due.inv.id)).reminded_at, row.reminded_at);

  // Either link accepts; the other dies with it.
  const a = await accept(w, newAccount(due.token));
  assert.equal(a.status, 201, JSON.stringify(a.body));
  assertProblem(await preview(w, reminderToken), 400, "invalid_token");
});

test("cron expiry with a short INVITATION_TTL_SECONDS: the invitation expires by itself, the cron records it", async () => {
  const r = await startWorker({ vars: { INVITATION_TTL_SECONDS: "1" } });
  try {
    const org = await newOrg(r);
    const { inv, token } = await invited(org);
    assert.ok(Date.parse(inv.expires_at) - Date.parse(inv.created_at) <= 1000, JSON.stringify(inv));
    await r.until(() => Date.now() > Date.parse(inv.expires_at) + 50, { what: "the invitation's expiry" });
    // Expired before the cron ran: no seat, 410 on the link, listed as expired.
    assert.equal((await usage(org)).pending_invitations, 0);
    assertProblem(await preview(r, token), 410, "token_expired");
    await fire(r);
    const row = await invRow(r, inv.id);
    assert.equal(row.status, "expired");
    assert.equal(row.ended_at, row.expires_at);
    const events = await auditsOf(r, "invitation.expired", inv.id);
    assert.equal(events.length, 1);
    assert.equal(events[0].actor_id, null);
    assertProblem(await accept(r, newAccount(token)), 410, "token_expired");
    await fire(r);
    assert.equal((await auditsOf(r, "invitation.expired", inv.id)).length, 1, "idempotent");
  } finally {
    await r.dispose();
  }
});

test("reminder: INVITATION_REMINDER_SECONDS=0 sends none", async () => {
  const r = await startWorker({ vars: { INVITATION_REMINDER_SECONDS: "0" } });
  try {
    const org = await newOrg(r);
    const due = await invited(org);
    const now = Date.now();
    await sql(r, "UPDATE invitations SET created_at = ?, last_sent_at = ?, expires_at = ? WHERE id = ?", now - 6 * DAY, now - 6 * DAY, now + HOUR, due.inv.id);
    await fire(r);
    await fire(r);
    assert.equal(await count(r, "SELECT COUNT(*) AS n FROM outbox WHERE kind = 'invitation_reminder'"), 0);
    const row = await invRow(r, due.inv.id);
    assert.equal(row.reminded_at, null);
    assert.equal(row.status, "pending");
    assert.equal(await linkCount(r, due.inv.id), 1);
    await outboxSettled(r, due.email);
    assert.equal((await r.get(`/v1/dev/mailbox?to=${encodeURIComponent(due.email)}`)).body.data.filter((m) => REMINDER.test(m.subject)).length, 0);
  } finally {
    await r.dispose();
  }
});
