// Invitations, the org side (README "Invitations", SPEC §2/§4): create (the body, the rows,
// the outbox message, the audit event and the email) and who may invite; validation that
// writes nothing; already_member, invitation_exists and seats, also under concurrent
// creates; the list with its status filters and keyset pages; resend (new link, the old
// one dies, expired invitations revived when a seat is free); withdrawal; and what
// deleting a workspace or the org does to invitations. The invitee's side (accept, decline)
// is used only as far as the list needs it.
//
// Time travel is an UPDATE of expires_at / last_sent_at in D1 (as in cron.test.mjs).
// Orgs whose seats or lists a test counts are made fresh for it (POST /v1/orgs).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { startWorker, assertProblem, freshEmail, PASSWORD } from "./helpers.mjs";

const APP_URL = "https://app.example.test";
const TTL = 432_000; // INVITATION_TTL_SECONDS, not the default, so the var is seen to apply
const NIL = "00000000-0000-7000-8000-000000000000";
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/;
const TOKEN = /token=([A-Za-z0-9_-]{43})/;
const INVITE_SUBJECT = /invited you to join/;
const KEYS = [
  "created_at", "email", "email_status", "ended_at", "expires_at", "groups", "id", "invited_by",
  "invited_by_token", "last_sent_at", "message", "org_id", "role", "send_count", "status", "workspaces",
];

let w, owner, admin, editor, viewer, member, outsider, decliner, orgId, wsId;

before(async () => {
  w = await startWorker({ vars: { APP_URL, INVITATION_TTL_SECONDS: String(TTL) } });
  ({ owner, admin, editor, viewer, member, outsider, orgId, wsId } = await w.orgRoster());
  decliner = await w.activeUser();
});
after(async () => { await w?.dispose(); });

// ---------------------------------------------------------------------------------------
// Helpers

/** A membership set up in D1 directly, as the other suites do. */
async function join(user, role, org = orgId) {
  await w.db.prepare("INSERT INTO org_members (org_id, user_id, role, joined_at) VALUES (?, ?, ?, ?)")
    .bind(org, user.user.id, role, Date.now()).run();
}

const sql = (query, ...params) => w.db.prepare(query).bind(...params).run();
const count = async (query, ...params) => (await w.one(query, ...params)).n;
const row = (id) => w.one("SELECT * FROM invitations WHERE id = ?", id);
const hash = (token) => createHash("sha256").update(token).digest("hex");
const byId = (list) => [...list].sort((a, b) => (a.id ?? a.workspace_id).localeCompare(b.id ?? b.workspace_id));

const invPath = (org = orgId, suffix = "") => `/v1/orgs/${org}/invitations${suffix}`;
/** POST /v1/orgs/{org}/invitations as `by` (null: no token). */
const invite = (by, body, org = orgId) => w.post(invPath(org), body, by ? { token: by.access_token } : {});
/** The same, asserting 201; returns the invitation. */
async function invited(by, body, org = orgId) {
  const r = await invite(by, body, org);
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return r.body;
}
const getInv = (by, id, org = orgId) => w.get(invPath(org, `/${id}`), by ? { token: by.access_token } : {});
const resend = (by, id, org = orgId) => w.post(invPath(org, `/${id}/resend`), undefined, by ? { token: by.access_token } : {});
const withdraw = (by, id, org = orgId) => w.del(invPath(org, `/${id}`), by ? { token: by.access_token } : {});
const preview = (token) => w.get(`/v1/invitations/${token}`);

/** Moves an invitation's expiry into the past: time passes without a cron run. */
const expire = (id) => sql("UPDATE invitations SET expires_at = ? WHERE id = ?", Date.now() - 60_000, id);

/** A new org owned by `owner` (1 member); optionally a workspace and a seat limit. */
async function freshOrg({ limit, workspace = false, name = "Seat Counters" } = {}) {
  const r = await w.post("/v1/orgs", { name }, { token: owner.access_token });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  let ws;
  if (workspace) {
    const c = await w.post(`/v1/orgs/${r.body.id}/workspaces`, { name: "Floor" }, { token: owner.access_token });
    assert.equal(c.status, 201, JSON.stringify(c.body));
    ws = c.body.id;
  }
  if (limit) await sql("UPDATE orgs SET member_limit = ? WHERE id = ?", limit, r.body.id);
  return { id: r.body.id, ws };
}

async function usage(org = orgId) {
  const r = await w.get(`/v1/orgs/${org}/usage`, { token: owner.access_token });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body;
}

async function wsMetrics(org, ws) {
  const r = await w.get(`/v1/orgs/${org}/workspaces/${ws}`, { token: owner.access_token });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.metrics;
}

const auditRows = (org, action, target) =>
  w.rows("SELECT * FROM audit_events WHERE org_id = ? AND action = ? AND target_id = ? ORDER BY id", org, action, target);

/** Tokens in the invitation emails delivered to `email`, newest first. */
async function inviteTokens(email) {
  const r = await w.get(`/v1/dev/mailbox?to=${encodeURIComponent(email)}`);
  return (r.body?.data ?? [])
    .filter((m) => INVITE_SUBJECT.test(m.subject))
    .map((m) => m.text.match(TOKEN)?.[1])
    .filter(Boolean);
}

/** Waits for an invitation email to `email` whose token is none of `known`; returns it. */
function newToken(email, known = []) {
  return w.until(async () => (await inviteTokens(email)).find((t) => !known.includes(t)),
    { what: `a new invitation email to ${email}` });
}

/** The invitation as listed: every field, well-formed. */
function assertShape(inv) {
  assert.deepEqual(Object.keys(inv).sort(), KEYS, JSON.stringify(inv));
  assert.match(inv.id, UUID);
  for (const k of ["created_at", "expires_at", "last_sent_at"]) assert.match(inv[k], RFC3339, k);
  if (inv.ended_at !== null) assert.match(inv.ended_at, RFC3339);
  assert.ok(["queued", "sent", "failed"].includes(inv.email_status), inv.email_status);
  assert.ok(Array.isArray(inv.workspaces) && Array.isArray(inv.groups));
  // Every invitation in this file is sent by a person: no API token behind it.
  assert.equal(inv.invited_by_token, null, JSON.stringify(inv));
}

// ---------------------------------------------------------------------------------------
// 1. Create

test("create: 201 with the invitation; stored with workspaces, a hashed link, an outbox row and an audit event; the email arrives", async () => {
  const docs = await w.post(`/v1/orgs/${orgId}/workspaces`, { name: "Docs" }, { token: owner.access_token });
  assert.equal(docs.status, 201, JSON.stringify(docs.body));
  const email = freshEmail("invitee");
  const message = "Welcome <b>aboard</b> & enjoy";
  const t0 = Date.now();
  const r = await invite(owner, {
    email: email.toUpperCase(),
    role: "viewer",
    workspaces: [{ workspace_id: wsId, role: "editor" }, { workspace_id: docs.body.id, role: "viewer" }],
    groups: [],
    message,
  });
  const t1 = Date.now();
  assert.equal(r.status, 201, JSON.stringify(r.body));
  const inv = r.body;
  assertShape(inv);
  assert.equal(inv.org_id, orgId);
  assert.equal(inv.email, email, "stored lower-cased");
  assert.equal(inv.role, "viewer");
  assert.deepEqual(byId(inv.workspaces), byId([
    { id: wsId, name: "Main", role: "editor" },
    { id: docs.body.id, name: "Docs", role: "viewer" },
  ]));
  assert.deepEqual(inv.groups, []);
  assert.equal(inv.message, message);
  assert.deepEqual(inv.invited_by, { id: owner.user.id, email: owner.email, first_name: "Ada", last_name: "Lovelace" });
  assert.equal(inv.invited_by_token, null, "sent by a person, not an API token");
  assert.equal(inv.status, "pending");
  assert.equal(inv.send_count, 1);
  assert.ok(["queued", "sent"].includes(inv.email_status), inv.email_status);
  assert.equal(inv.ended_at, null);
  const created = Date.parse(inv.created_at);
  const expires = Date.parse(inv.expires_at);
  const sent = Date.parse(inv.last_sent_at);
  assert.ok(created >= t0 - 1000 && created <= t1 + 1000, `created_at ${inv.created_at} is now`);
  assert.ok(Math.abs(sent - created) <= 1000, "last_sent_at is the creation");
  assert.ok(Math.abs(expires - (created + TTL * 1000)) <= 1000, `expires_at ${inv.expires_at} = now + INVITATION_TTL_SECONDS`);

  // D1: the invitation, its workspaces, one live link (hashed), the outbox message, the audit event.
  const stored = await row(inv.id);
  assert.equal(stored.org_id, orgId);
  assert.equal(stored.email, email);
  assert.equal(stored.role, "viewer");
  assert.equal(stored.status, "pending");
  assert.equal(stored.invited_by, owner.user.id);
  assert.equal(stored.invited_by_token, null);
  assert.equal(stored.message, message);
  assert.deepEqual(JSON.parse(stored.groups), []);
  assert.equal(stored.send_count, 1);
  assert.equal(stored.ended_at, null);
  assert.equal(stored.accepted_by, null);
  assert.equal(stored.created_at, created);
  assert.equal(stored.expires_at, expires);
  assert.equal(stored.last_sent_at, sent);
  assert.deepEqual(
    await w.rows("SELECT workspace_id, role FROM invitation_workspaces WHERE invitation_id = ? ORDER BY workspace_id", inv.id),
    byId([{ workspace_id: wsId, role: "editor" }, { workspace_id: docs.body.id, role: "viewer" }]),
  );
  const links = await w.rows("SELECT token_hash FROM invitation_links WHERE invitation_id = ?", inv.id);
  assert.equal(links.length, 1);
  const outbox = await w.rows("SELECT id, kind, recipient, ref_type, ref_id FROM outbox WHERE ref_type = 'invitation' AND ref_id = ?", inv.id);
  assert.equal(outbox.length, 1, JSON.stringify(outbox));
  const { id: outboxId, ...message0 } = outbox[0];
  assert.deepEqual(message0, { kind: "invitation", recipient: email, ref_type: "invitation", ref_id: inv.id });
  assert.equal(stored.email_id, outboxId, "email_id is the outbox message");
  const events = await auditRows(orgId, "invitation.created", inv.id);
  assert.equal(events.length, 1);
  assert.equal(events[0].actor_id, owner.user.id);
  assert.equal(events[0].target_type, "invitation");

  // The email: inviter, org, role, message (escaped in HTML), expiry and the link.
  const m = await w.mail(email, INVITE_SUBJECT);
  assert.match(m.subject, /^Ada Lovelace invited you to join Analytical Engines$/);
  const token = m.text.match(TOKEN)?.[1];
  assert.ok(token, m.text);
  assert.ok(m.text.includes(`${APP_URL}/invitations/accept?token=${token}`), m.text);
  assert.ok(m.html.includes(`${APP_URL}/invitations/accept?token=${token}`), "the HTML has the link too");
  assert.ok(m.text.includes(message), "the personal message");
  assert.match(m.text, /viewer/i, "the role");
  assert.ok(m.text.includes(inv.expires_at.slice(0, 16)), "the expiry");
  assert.ok(m.html.includes("&lt;b&gt;aboard&lt;/b&gt;") && !m.html.includes("<b>aboard</b>"), "message escaped in HTML");
  assert.equal(links[0].token_hash, hash(token), "the link is stored as SHA-256 of the token");
  const p = await preview(token);
  assert.equal(p.status, 200, JSON.stringify(p.body));
  assert.equal(p.body.id, inv.id);
  assert.equal(p.body.email, email);

  // Once the consumer has sent it, the invitation says so.
  await w.until(async () => (await getInv(owner, inv.id)).body?.email_status === "sent", { what: "email_status sent" });
  assert.equal((await w.one("SELECT status FROM outbox WHERE id = ?", stored.email_id)).status, "sent");
});

test("create: role defaults to member when only workspaces are given; a 1,000-character message is fine", async () => {
  const email = freshEmail("wsonly");
  const inv = await invited(admin, { email, workspaces: [{ workspace_id: wsId, role: "viewer" }], message: "é".repeat(1000) });
  assert.equal(inv.role, "member");
  assert.deepEqual(inv.workspaces, [{ id: wsId, name: "Main", role: "viewer" }]);
  assert.equal(inv.message, "é".repeat(1000));
  assert.deepEqual(inv.invited_by, { id: admin.user.id, email: admin.email, first_name: "Ada", last_name: "Lovelace" });
  assert.equal((await row(inv.id)).role, "member");
  assert.equal(await count("SELECT COUNT(*) AS n FROM invitation_workspaces WHERE invitation_id = ?", inv.id), 1);
});

test("who may invite: editors up to editor; viewers and members 403; outsiders and unknown orgs 404; no token 401", async () => {
  const byEditor = await invited(editor, { email: freshEmail("ed"), role: "editor", workspaces: [{ workspace_id: wsId, role: "editor" }] });
  assert.equal(byEditor.role, "editor");
  assert.equal(byEditor.invited_by.id, editor.user.id);
  const byAdmin = await invited(admin, { email: freshEmail("ad"), role: "admin" });
  assert.equal(byAdmin.role, "admin");

  const refused = [
    [editor, { role: "admin" }, 403, "forbidden"],
    [editor, { role: "viewer", workspaces: [{ workspace_id: wsId, role: "admin" }] }, 403, "forbidden"],
    [editor, { workspaces: [{ workspace_id: wsId, role: "admin" }] }, 403, "forbidden"],
    [viewer, { role: "viewer" }, 403, "forbidden"],
    [member, { role: "viewer" }, 403, "forbidden"],
    [member, { workspaces: [{ workspace_id: wsId, role: "viewer" }] }, 403, "forbidden"],
    [outsider, { role: "viewer" }, 404, "not_found"],
    [null, { role: "viewer" }, 401, "unauthorized"],
  ];
  const emails = [];
  for (const [by, body, status, code] of refused) {
    const email = freshEmail("refused");
    emails.push(email);
    assertProblem(await invite(by, { email, ...body }), status, code);
  }
  assertProblem(await invite(owner, { email: freshEmail("nowhere"), role: "viewer" }, NIL), 404, "not_found");
  assertProblem(await invite(owner, { email: freshEmail("nowhere"), role: "viewer" }, "not-a-uuid"), 404, "not_found");
  for (const email of emails) {
    assert.equal(await count("SELECT COUNT(*) AS n FROM invitations WHERE email = ?", email), 0, `${email} was not invited`);
  }
});

// ---------------------------------------------------------------------------------------
// 2. Validation

test("validation: 422 naming the field, and nothing is written", async () => {
  const e = () => freshEmail("invalid");
  const cases = [
    ["bad email", { email: "not-an-email", role: "viewer" }, "email"],
    ["missing email", { role: "viewer" }, "email"],
    ["role owner", { email: e(), role: "owner" }, "role"],
    ["unknown role", { email: e(), role: "emperor" }, "role"],
    ["neither role nor workspaces", { email: e() }, null],
    ["no role, empty workspaces", { email: e(), workspaces: [] }, null],
    ["member without workspaces", { email: e(), role: "member" }, null],
    ["member with empty workspaces", { email: e(), role: "member", workspaces: [] }, null],
    ["workspace_id not a UUID", { email: e(), role: "viewer", workspaces: [{ workspace_id: "main", role: "viewer" }] }, "workspaces"],
    ["workspace of another org", { email: e(), role: "viewer", workspaces: [{ workspace_id: outsider.workspace.id, role: "viewer" }] }, "workspaces"],
    ["workspace that does not exist", { email: e(), role: "viewer", workspaces: [{ workspace_id: NIL, role: "viewer" }] }, "workspaces"],
    ["workspace role owner", { email: e(), role: "viewer", workspaces: [{ workspace_id: wsId, role: "owner" }] }, "workspaces"],
    ["workspace role member", { email: e(), role: "viewer", workspaces: [{ workspace_id: wsId, role: "member" }] }, "workspaces"],
    ["message over 1000 characters", { email: e(), role: "viewer", message: "x".repeat(1001) }, "message"],
    ["message with a control character", { email: e(), role: "viewer", message: "ring \u0007 the bell" }, "message"],
    ["groups not empty", { email: e(), role: "viewer", groups: [NIL] }, "groups"],
    ["unknown field", { email: e(), role: "viewer", nickname: "x" }, "nickname"],
    ["unknown field in a workspace", { email: e(), role: "viewer", workspaces: [{ workspace_id: wsId, role: "viewer", extra: 1 }] }, "workspaces"],
    ["email not a string", { email: 42, role: "viewer" }, "email"],
    ["email null", { email: null, role: "viewer" }, "email"],
    ["role not a string", { email: e(), role: 3 }, "role"],
    ["workspaces not a list", { email: e(), role: "viewer", workspaces: "all" }, "workspaces"],
    ["workspace entry not an object", { email: e(), role: "viewer", workspaces: [wsId] }, "workspaces"],
    ["workspace entry without role", { email: e(), workspaces: [{ workspace_id: wsId }] }, "workspaces"],
    ["message not a string", { email: e(), role: "viewer", message: 7 }, "message"],
    ["groups not a list", { email: e(), role: "viewer", groups: "none" }, "groups"],
  ];
  const totals = async () => ({
    invitations: await count("SELECT COUNT(*) AS n FROM invitations"),
    invitation_workspaces: await count("SELECT COUNT(*) AS n FROM invitation_workspaces"),
    invitation_links: await count("SELECT COUNT(*) AS n FROM invitation_links"),
    outbox: await count("SELECT COUNT(*) AS n FROM outbox WHERE kind = 'invitation'"),
    audit: await count("SELECT COUNT(*) AS n FROM audit_events WHERE action LIKE 'invitation.%'"),
  });
  const before = await totals();
  for (const [label, body, field] of cases) {
    const r = await invite(owner, body);
    assertProblem(r, 422, "validation_failed");
    assert.ok(Array.isArray(r.body.errors) && r.body.errors.length > 0, `${label}: ${JSON.stringify(r.body)}`);
    if (field) {
      assert.ok(r.body.errors.some((x) => x.field?.startsWith(field)), `${label}: field ${field} in ${JSON.stringify(r.body.errors)}`);
    }
  }
  for (const raw of ["[]", '"x"', "{", ""]) {
    assertProblem(await w.request("POST", invPath(), { raw, headers: { "content-type": "application/json" }, token: owner.access_token }), 422, "validation_failed");
  }
  assert.deepEqual(await totals(), before, "a refused invitation writes nothing");
});

// ---------------------------------------------------------------------------------------
// 3. Conflicts and seats

test("409 already_member for a member's email in any letter case; 409 invitation_exists for a second pending one", async () => {
  for (const email of [viewer.email, viewer.email.toUpperCase(), member.email, owner.email]) {
    assertProblem(await invite(admin, { email, role: "viewer" }), 409, "already_member");
  }
  assert.equal(await count("SELECT COUNT(*) AS n FROM invitations WHERE email IN (?, ?, ?)", viewer.email, member.email, owner.email), 0);

  const email = freshEmail("twice");
  const first = await invited(admin, { email, role: "viewer" });
  assertProblem(await invite(editor, { email: email.toUpperCase(), role: "editor" }), 409, "invitation_exists");
  assertProblem(await invite(owner, { email: email.replace(/^./, (c) => c.toUpperCase()), workspaces: [{ workspace_id: wsId, role: "viewer" }] }), 409, "invitation_exists");
  const rows = await w.rows("SELECT id, role FROM invitations WHERE org_id = ? AND email = ?", orgId, email);
  assert.deepEqual(rows, [{ id: first.id, role: "viewer" }], "the first stands unchanged");
  // Per org: another org may invite the same address.
  const elsewhere = await invited(outsider, { email, role: "viewer" }, outsider.organization.id);
  assert.equal(elsewhere.org_id, outsider.organization.id);
});

test("seats: pending invitations hold seats; usage and workspace metrics count them; capacity_exceeded when full", async () => {
  const org = await freshOrg({ workspace: true, limit: 3 });
  assert.deepEqual(await usage(org.id), { member_limit: 3, members: 1, pending_invitations: 0, remaining: 2 });
  assert.equal((await wsMetrics(org.id, org.ws)).pending_invitations, 0);

  const a = await invited(owner, { email: freshEmail("seat"), workspaces: [{ workspace_id: org.ws, role: "viewer" }] }, org.id);
  await invited(owner, { email: freshEmail("seat"), role: "viewer" }, org.id);
  assert.deepEqual(await usage(org.id), { member_limit: 3, members: 1, pending_invitations: 2, remaining: 0 });
  assert.equal((await wsMetrics(org.id, org.ws)).pending_invitations, 1, "only the invitation naming the workspace");

  const third = freshEmail("seat");
  assertProblem(await invite(owner, { email: third, role: "viewer" }, org.id), 409, "capacity_exceeded");
  assert.equal(await count("SELECT COUNT(*) AS n FROM invitations WHERE org_id = ?", org.id), 2);
  assert.equal(await count("SELECT COUNT(*) AS n FROM outbox WHERE recipient = ?", third), 0);

  // Past its expiry an invitation holds no seat (and no longer counts for the workspace).
  await expire(a.id);
  assert.deepEqual(await usage(org.id), { member_limit: 3, members: 1, pending_invitations: 1, remaining: 1 });
  assert.equal((await wsMetrics(org.id, org.ws)).pending_invitations, 0);
  await invited(owner, { email: third, role: "viewer" }, org.id);
  assert.deepEqual(await usage(org.id), { member_limit: 3, members: 1, pending_invitations: 2, remaining: 0 });
});

test("an expired invitation no longer blocks a new one to the same email; reviving it then is 409 invitation_exists", async () => {
  const org = await freshOrg();
  const email = freshEmail("again");
  const old = await invited(owner, { email, role: "viewer" }, org.id);
  await expire(old.id);
  const fresh = await invited(owner, { email: email.toUpperCase(), role: "editor" }, org.id);
  assert.notEqual(fresh.id, old.id);
  const before = await row(old.id);
  assertProblem(await resend(owner, old.id, org.id), 409, "invitation_exists");
  assert.deepEqual(await row(old.id), before, "nothing changes");
  assert.equal((await getInv(owner, old.id, org.id)).body.status, "expired");
});

// ---------------------------------------------------------------------------------------
// 4–5. Races

test("race: 10 concurrent invitations for 3 free seats → exactly 3 are created", async () => {
  const org = await freshOrg({ limit: 4 });
  const emails = Array.from({ length: 10 }, () => freshEmail("race"));
  const results = await Promise.all(emails.map((email) => invite(owner, { email, role: "viewer" }, org.id)));
  const created = results.filter((r) => r.status === 201);
  assert.equal(created.length, 3, JSON.stringify(results.map((r) => [r.status, r.body?.code])));
  for (const r of results.filter((x) => x.status !== 201)) assertProblem(r, 409, "capacity_exceeded");

  const ids = created.map((r) => r.body.id).sort();
  const rows = await w.rows("SELECT id, status FROM invitations WHERE org_id = ? ORDER BY id", org.id);
  assert.deepEqual(rows, ids.map((id) => ({ id, status: "pending" })));
  assert.equal(await count(`SELECT COUNT(*) AS n FROM outbox WHERE kind = 'invitation' AND recipient IN (${emails.map(() => "?").join(",")})`, ...emails), 3);
  assert.equal(await count("SELECT COUNT(*) AS n FROM audit_events WHERE org_id = ? AND action = 'invitation.created'", org.id), 3);
  assert.deepEqual(await usage(org.id), { member_limit: 4, members: 1, pending_invitations: 3, remaining: 0 });
});

test("race: 5 concurrent invitations to one email (in several letter cases) → exactly one is created", async () => {
  const org = await freshOrg();
  const email = freshEmail("same");
  const variants = [email, email.toUpperCase(), email, email.replace(/^./, (c) => c.toUpperCase()), email];
  const results = await Promise.all(variants.map((e) => invite(owner, { email: e, role: "viewer" }, org.id)));
  const created = results.filter((r) => r.status === 201);
  assert.equal(created.length, 1, JSON.stringify(results.map((r) => [r.status, r.body?.code])));
  for (const r of results.filter((x) => x.status !== 201)) assertProblem(r, 409, "invitation_exists");
  assert.deepEqual(await w.rows("SELECT id, email, status FROM invitations WHERE org_id = ?", org.id),
    [{ id: created[0].body.id, email, status: "pending" }]);
  assert.equal(await count("SELECT COUNT(*) AS n FROM outbox WHERE kind = 'invitation' AND recipient = ?", email), 1);
  assert.equal(await count("SELECT COUNT(*) AS n FROM audit_events WHERE org_id = ? AND action = 'invitation.created'", org.id), 1);
  assert.equal((await usage(org.id)).pending_invitations, 1);
});

// ---------------------------------------------------------------------------------------
// 6. List and read

/**
 * An org with six invitations by the owner, oldest first: i1 pending, i2 withdrawn,
 * i3 expired (by time), i4 accepted (new account), i5 declined (from the invitee's inbox),
 * i6 pending. Editor, admin and viewer are members. Built once, for the list tests.
 */
let listing;
function listFixture() {
  listing ??= (async () => {
    const org = await freshOrg({ name: "Listing Ltd" });
    await join(admin, "admin", org.id);
    await join(editor, "editor", org.id);
    await join(viewer, "viewer", org.id);
    const emails = Array.from({ length: 6 }, () => freshEmail("list"));
    emails[4] = decliner.email;
    const inv = [];
    for (const email of emails) inv.push(await invited(owner, { email, role: "viewer" }, org.id));
    const [, i2, i3, i4, i5] = inv;
    const base = await usage(org.id);
    assert.equal(base.pending_invitations, 6);

    assert.equal((await withdraw(owner, i2.id, org.id)).status, 204);
    await expire(i3.id);
    const afterExpiry = await usage(org.id);
    assert.equal(afterExpiry.pending_invitations, 4, "withdrawn and expired hold no seat");
    assert.equal(afterExpiry.remaining, base.remaining + 2);

    const token = await newToken(i4.email);
    const acc = await w.post("/v1/invitations/accept", { token, password: PASSWORD, first_name: "Grace", last_name: "Hopper" });
    assert.equal(acc.status, 201, JSON.stringify(acc.body));
    const dec = await w.post(`/v1/me/invitations/${i5.id}/decline`, undefined, { token: decliner.access_token });
    assert.equal(dec.status, 204, JSON.stringify(dec.body));
    return { org: org.id, inv, base };
  })();
  return listing;
}

async function list(org, query = "", by = owner) {
  const r = await w.get(invPath(org, query), { token: by.access_token });
  assert.equal(r.status, 200, `${query}: ${JSON.stringify(r.body)}`);
  return r.body;
}
const ids = (page) => page.data.map((d) => d.id);

test("list: pending only by default, newest first; every status filter; an expired one is expired everywhere", async () => {
  const { org, inv, base } = await listFixture();
  const [i1, i2, i3, i4, i5, i6] = inv;

  const u = await usage(org);
  assert.equal(u.pending_invitations, 2);
  assert.equal(u.members, base.members + 1, "the accepted invitee is a member");
  assert.equal(u.remaining, u.member_limit - u.members - 2);

  const def = await list(org);
  assert.deepEqual(ids(def), [i6.id, i1.id]);
  assert.equal(def.next_cursor, null);
  for (const d of def.data) {
    assertShape(d);
    assert.equal(d.status, "pending");
    assert.equal(d.ended_at, null);
  }
  assert.equal(def.data[1].email, i1.email);
  assert.equal(def.data[1].org_id, org);
  assert.equal(def.data[1].role, "viewer");
  assert.deepEqual(def.data[1].invited_by, i1.invited_by);
  assert.equal(def.data[1].invited_by_token, null);
  assert.deepEqual(ids(await list(org, "?status=pending")), [i6.id, i1.id]);
  assert.deepEqual(ids(await list(org, "", editor)), [i6.id, i1.id], "editors list too");

  const all = await list(org, "?status=all");
  assert.deepEqual(all.data.map((d) => [d.id, d.status]), [
    [i6.id, "pending"], [i5.id, "declined"], [i4.id, "accepted"], [i3.id, "expired"], [i2.id, "withdrawn"], [i1.id, "pending"],
  ]);
  all.data.forEach(assertShape);
  for (const d of all.data.filter((x) => ["declined", "accepted", "withdrawn"].includes(x.status))) {
    assert.match(d.ended_at ?? "", RFC3339, `${d.status} has ended_at`);
  }
  for (const [status, expected] of [["accepted", [i4]], ["declined", [i5]], ["withdrawn", [i2]], ["expired", [i3]]]) {
    const page = await list(org, `?status=${status}`);
    assert.deepEqual(ids(page), expected.map((x) => x.id), status);
    assert.ok(page.data.every((d) => d.status === status), status);
  }
  // The expired one, read alone, is expired too.
  const one = await getInv(owner, i3.id, org);
  assert.equal(one.status, 200);
  assert.equal(one.body.status, "expired");

  for (const q of ["?status=bogus", "?status=PENDINGS", "?limit=0", "?limit=201", "?limit=x", "?cursor=bogus"]) {
    assertProblem(await w.get(invPath(org, q), { token: owner.access_token }), 422, "validation_failed");
  }
});

test("list: keyset pages of 2 walk every invitation exactly once", async () => {
  const { org, inv } = await listFixture();
  const everything = [...inv].reverse().map((i) => i.id);
  for (const [query, expected] of [["status=all&", everything], ["", [inv[5].id, inv[0].id]]]) {
    const seen = [];
    let cursor = null;
    let pages = 0;
    do {
      const page = await list(org, `?${query}limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
      assert.ok(page.data.length <= 2);
      seen.push(...ids(page));
      cursor = page.next_cursor;
      pages += 1;
      assert.ok(pages <= 10, "pagination ends");
    } while (cursor);
    assert.deepEqual(seen, expected, query);
    assert.equal(pages, Math.ceil(expected.length / 2), "next_cursor null on the last page");
  }
});

test("list and read: editor+ only; viewers 403, outsiders 404; another org's invitation and bad ids 404", async () => {
  const { org, inv } = await listFixture();
  for (const by of [owner, admin, editor]) {
    const r = await getInv(by, inv[0].id, org);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assertShape(r.body);
    assert.equal(r.body.id, inv[0].id);
    assert.equal(r.body.email, inv[0].email);
  }
  assertProblem(await w.get(invPath(org), { token: viewer.access_token }), 403, "forbidden");
  assertProblem(await getInv(viewer, inv[0].id, org), 403, "forbidden");
  assertProblem(await w.get(invPath(org), { token: outsider.access_token }), 404, "not_found");
  assertProblem(await getInv(outsider, inv[0].id, org), 404, "not_found");
  assertProblem(await w.get(invPath(org)), 401, "unauthorized");
  // The owner belongs to both orgs; an invitation is found only under its own org.
  assertProblem(await getInv(owner, inv[0].id, orgId), 404, "not_found");
  const mainOne = await invited(owner, { email: freshEmail("main"), role: "viewer" });
  assertProblem(await getInv(owner, mainOne.id, org), 404, "not_found");
  assertProblem(await getInv(owner, "not-a-uuid", org), 404, "not_found");
  assertProblem(await getInv(owner, NIL, org), 404, "not_found");
});

test("ended invitations (accepted, declined, withdrawn) can be neither resent nor withdrawn: 409 conflict", async () => {
  const { org, inv } = await listFixture();
  for (const i of [inv[1], inv[3], inv[4]]) {
    const before = await row(i.id);
    assertProblem(await resend(owner, i.id, org), 409, "conflict");
    assertProblem(await withdraw(owner, i.id, org), 409, "conflict");
    assert.deepEqual(await row(i.id), before);
  }
});

// ---------------------------------------------------------------------------------------
// 7. Resend

test("resend: 200 with a new link and expiry; the old link dies; send_count 2, a new email; audited", async () => {
  const email = freshEmail("resend");
  const inv = await invited(owner, { email, role: "viewer" });
  const t1 = await newToken(email);
  assert.equal((await preview(t1)).status, 200);
  // An hour passes.
  const hourAgo = Date.now() - 3_600_000;
  await sql("UPDATE invitations SET created_at = ?, last_sent_at = ?, expires_at = ? WHERE id = ?",
    hourAgo, hourAgo, hourAgo + TTL * 1000, inv.id);
  const before = await row(inv.id);

  const t0 = Date.now();
  const r = await resend(owner, inv.id);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assertShape(r.body);
  assert.equal(r.body.id, inv.id);
  assert.equal(r.body.status, "pending");
  assert.equal(r.body.send_count, 2);
  assert.ok(["queued", "sent"].includes(r.body.email_status), r.body.email_status);
  assert.equal(r.body.created_at, new Date(hourAgo).toISOString(), "created_at stays");
  const sent = Date.parse(r.body.last_sent_at);
  assert.ok(sent >= t0 - 1000, `last_sent_at ${r.body.last_sent_at} moved to now`);
  assert.ok(Math.abs(Date.parse(r.body.expires_at) - (sent + TTL * 1000)) <= 1000, `expires_at ${r.body.expires_at} moved`);

  const after = await row(inv.id);
  assert.equal(after.send_count, 2);
  assert.equal(after.last_sent_at, sent);
  assert.ok(after.expires_at > before.expires_at + 3_000_000);
  assert.notEqual(after.email_id, before.email_id, "a new email");
  const outbox = await w.rows("SELECT id, kind, recipient FROM outbox WHERE ref_type = 'invitation' AND ref_id = ? ORDER BY id", inv.id);
  assert.equal(outbox.length, 2);
  assert.ok(outbox.every((o) => o.kind === "invitation" && o.recipient === email));
  assert.ok(outbox.some((o) => o.id === after.email_id));

  // The new email carries a different token; only it works now.
  const t2 = await newToken(email, [t1]);
  assert.notEqual(t2, t1);
  assertProblem(await preview(t1), 400, "invalid_token");
  const p = await preview(t2);
  assert.equal(p.status, 200, JSON.stringify(p.body));
  assert.equal(p.body.id, inv.id);
  assert.deepEqual(await w.rows("SELECT token_hash FROM invitation_links WHERE invitation_id = ?", inv.id), [{ token_hash: hash(t2) }]);

  const events = await auditRows(orgId, "invitation.resent", inv.id);
  assert.equal(events.length, 1);
  assert.equal(events[0].actor_id, owner.user.id);
  assert.equal(events[0].target_type, "invitation");
  const meta = JSON.parse(events[0].metadata);
  assert.equal(meta.send_count, 2);
  assert.equal(meta.revived, false);
});

test("resend: admins any invitation, editors only their own; viewers 403, outsiders 404, unknown ids 404", async () => {
  const byEditor = await invited(editor, { email: freshEmail("by-editor"), role: "viewer" });
  const byAdmin = await invited(admin, { email: freshEmail("by-admin"), role: "viewer" });
  const byOwner = await invited(owner, { email: freshEmail("by-owner"), role: "viewer" });

  const own = await resend(editor, byEditor.id);
  assert.equal(own.status, 200, JSON.stringify(own.body));
  assert.equal(own.body.send_count, 2);
  assertProblem(await resend(editor, byAdmin.id), 403, "forbidden");
  assertProblem(await resend(editor, byOwner.id), 403, "forbidden");
  const again = await resend(admin, byEditor.id);
  assert.equal(again.status, 200, JSON.stringify(again.body));
  assert.equal(again.body.send_count, 3);
  assert.equal((await resend(admin, byOwner.id)).status, 200);
  assert.equal((await resend(owner, byAdmin.id)).status, 200);

  for (const by of [viewer, member]) assertProblem(await resend(by, byAdmin.id), 403, "forbidden");
  assertProblem(await resend(outsider, byAdmin.id), 404, "not_found");
  assertProblem(await resend(null, byAdmin.id), 401, "unauthorized");
  assertProblem(await resend(owner, NIL), 404, "not_found");
  assertProblem(await resend(owner, "not-a-uuid"), 404, "not_found");
  assertProblem(await resend(outsider, byAdmin.id, outsider.organization.id), 404, "not_found");

  assert.equal((await row(byAdmin.id)).send_count, 2, "only the owner's resend counted");
  assert.equal((await row(byEditor.id)).send_count, 3);
  assert.equal((await auditRows(orgId, "invitation.resent", byEditor.id)).map((e) => e.actor_id).join(), [editor.user.id, admin.user.id].join());
});

test("resend revives an expired invitation when a seat is free, 409 capacity_exceeded (nothing changes) when not; withdrawn 409 conflict", async () => {
  const org = await freshOrg({ limit: 3 });
  const a = await invited(owner, { email: freshEmail("revive-a"), role: "viewer" }, org.id);
  const b = await invited(owner, { email: freshEmail("revive-b"), role: "editor" }, org.id);
  const aToken = await newToken(a.email);
  // a: expired by time only; b: marked expired as the cron would.
  await expire(a.id);
  await sql("UPDATE invitations SET status = 'expired', ended_at = ?, expires_at = ? WHERE id = ?", Date.now() - 30_000, Date.now() - 60_000, b.id);
  assertProblem(await preview(aToken), 410, "token_expired");
  assert.deepEqual(await usage(org.id), { member_limit: 3, members: 1, pending_invitations: 0, remaining: 2 });
  const c = await invited(owner, { email: freshEmail("revive-c"), role: "viewer" }, org.id);
  const d = await invited(owner, { email: freshEmail("revive-d"), role: "viewer" }, org.id);

  // Full: neither can come back, and nothing about them changes.
  const snapshot = async (id) => ({
    row: await row(id),
    links: await w.rows("SELECT token_hash FROM invitation_links WHERE invitation_id = ? ORDER BY token_hash", id),
    outbox: await count("SELECT COUNT(*) AS n FROM outbox WHERE ref_type = 'invitation' AND ref_id = ?", id),
    audit: (await auditRows(org.id, "invitation.resent", id)).length,
  });
  for (const x of [a, b]) {
    const before = await snapshot(x.id);
    assertProblem(await resend(owner, x.id, org.id), 409, "capacity_exceeded");
    assert.deepEqual(await snapshot(x.id), before);
  }

  // A seat comes free: a comes back, pending with a new expiry, its old link replaced.
  assert.equal((await withdraw(owner, c.id, org.id)).status, 204);
  const t0 = Date.now();
  const ra = await resend(owner, a.id, org.id);
  assert.equal(ra.status, 200, JSON.stringify(ra.body));
  assert.equal(ra.body.status, "pending");
  assert.equal(ra.body.send_count, 2);
  assert.equal(ra.body.ended_at, null);
  assert.ok(Date.parse(ra.body.expires_at) >= t0 + TTL * 1000 - 1000, ra.body.expires_at);
  assert.equal((await row(a.id)).status, "pending");
  const meta = JSON.parse((await auditRows(org.id, "invitation.resent", a.id))[0].metadata);
  assert.equal(meta.revived, true);
  assert.equal(meta.send_count, 2);
  const aNew = await newToken(a.email, [aToken]);
  assertProblem(await preview(aToken), 400, "invalid_token");
  assert.equal((await preview(aNew)).status, 200);
  assert.deepEqual(await usage(org.id), { member_limit: 3, members: 1, pending_invitations: 2, remaining: 0 });

  // Full again: b still cannot; then d is withdrawn and b (status expired) comes back.
  assertProblem(await resend(owner, b.id, org.id), 409, "capacity_exceeded");
  assert.equal((await row(b.id)).status, "expired");
  assert.equal((await withdraw(owner, d.id, org.id)).status, 204);
  const rb = await resend(owner, b.id, org.id);
  assert.equal(rb.status, 200, JSON.stringify(rb.body));
  assert.equal(rb.body.status, "pending");
  assert.equal(rb.body.ended_at, null);
  assert.ok(Date.parse(rb.body.expires_at) > Date.now());
  const bRow = await row(b.id);
  assert.equal(bRow.status, "pending");
  assert.equal(bRow.ended_at, null);
  assert.equal(JSON.parse((await auditRows(org.id, "invitation.resent", b.id))[0].metadata).revived, true);
  assert.deepEqual(await usage(org.id), { member_limit: 3, members: 1, pending_invitations: 2, remaining: 0 });

  // A withdrawn invitation stays withdrawn.
  assertProblem(await resend(owner, c.id, org.id), 409, "conflict");
  assert.equal((await row(c.id)).status, "withdrawn");
  assert.equal((await row(c.id)).send_count, 1);
});

// ---------------------------------------------------------------------------------------
// 8. Withdraw

test("withdraw: 204; withdrawn with ended_at, its link answers 400 saying so (preview and accept), seat freed; audited; again 409", async () => {
  const email = freshEmail("withdrawn");
  const inv = await invited(owner, { email, role: "viewer", workspaces: [{ workspace_id: wsId, role: "viewer" }] });
  const token = await newToken(email);
  const seatsBefore = await usage();

  const t0 = Date.now();
  const r = await withdraw(owner, inv.id);
  assert.equal(r.status, 204, JSON.stringify(r.body));
  assert.equal(r.body, null);
  const stored = await row(inv.id);
  assert.equal(stored.status, "withdrawn");
  assert.ok(stored.ended_at >= t0 - 1000 && stored.ended_at <= Date.now() + 1000, `ended_at ${stored.ended_at}`);
  // The link stays, so that opening it says the invitation was withdrawn.
  assert.equal(await count("SELECT COUNT(*) AS n FROM invitation_links WHERE invitation_id = ?", inv.id), 1);
  const shown = await getInv(owner, inv.id);
  assert.equal(shown.body.status, "withdrawn");
  assert.equal(Date.parse(shown.body.ended_at), stored.ended_at);

  const opened = await preview(token);
  assertProblem(opened, 400, "invalid_token");
  assert.equal(opened.body.invitation_status, "withdrawn");
  assertProblem(await w.post("/v1/invitations/accept", { token, password: PASSWORD, first_name: "Late", last_name: "Comer" }), 400, "invalid_token");
  assert.equal(await count("SELECT COUNT(*) AS n FROM users WHERE email = ?", email), 0, "no account was made");

  const seatsAfter = await usage();
  assert.equal(seatsAfter.pending_invitations, seatsBefore.pending_invitations - 1);
  assert.equal(seatsAfter.remaining, seatsBefore.remaining + 1);

  const events = await auditRows(orgId, "invitation.withdrawn", inv.id);
  assert.equal(events.length, 1);
  assert.equal(events[0].actor_id, owner.user.id);
  assert.equal(events[0].target_type, "invitation");

  assertProblem(await withdraw(owner, inv.id), 409, "conflict");
  assertProblem(await withdraw(owner, NIL), 404, "not_found");
  assertProblem(await withdraw(owner, "not-a-uuid"), 404, "not_found");
  // The address may be invited afresh.
  const again = await invited(owner, { email, role: "viewer" });
  assert.notEqual(again.id, inv.id);
});

test("withdraw: admins any invitation, editors only their own; viewers 403, outsiders 404", async () => {
  const byEditor = await invited(editor, { email: freshEmail("w-editor"), role: "viewer" });
  const byEditor2 = await invited(editor, { email: freshEmail("w-editor"), role: "viewer" });
  const byOwner = await invited(owner, { email: freshEmail("w-owner"), role: "viewer" });
  const byAdmin = await invited(admin, { email: freshEmail("w-admin"), role: "viewer" });

  assertProblem(await withdraw(editor, byOwner.id), 403, "forbidden");
  assertProblem(await withdraw(editor, byAdmin.id), 403, "forbidden");
  for (const by of [viewer, member]) assertProblem(await withdraw(by, byEditor.id), 403, "forbidden");
  assertProblem(await withdraw(outsider, byEditor.id), 404, "not_found");
  assertProblem(await withdraw(null, byEditor.id), 401, "unauthorized");
  for (const x of [byOwner, byAdmin, byEditor]) assert.equal((await row(x.id)).status, "pending");

  assert.equal((await withdraw(editor, byEditor.id)).status, 204);
  assert.equal((await withdraw(admin, byEditor2.id)).status, 204);
  assert.equal((await withdraw(admin, byOwner.id)).status, 204);
  for (const x of [byEditor, byEditor2, byOwner]) assert.equal((await row(x.id)).status, "withdrawn");
  assert.equal((await auditRows(orgId, "invitation.withdrawn", byEditor.id))[0].actor_id, editor.user.id);
  assert.equal((await auditRows(orgId, "invitation.withdrawn", byEditor2.id))[0].actor_id, admin.user.id);
});

// ---------------------------------------------------------------------------------------
// 9. Deleting a workspace or the org

test("deleting a workspace drops it from pending invitations", async () => {
  const temp = await w.post(`/v1/orgs/${orgId}/workspaces`, { name: "Temp" }, { token: admin.access_token });
  assert.equal(temp.status, 201, JSON.stringify(temp.body));
  const inv = await invited(owner, {
    email: freshEmail("ws-gone"),
    role: "viewer",
    workspaces: [{ workspace_id: wsId, role: "viewer" }, { workspace_id: temp.body.id, role: "editor" }],
  });
  assert.equal((await wsMetrics(orgId, temp.body.id)).pending_invitations, 1);
  assert.equal((await w.del(`/v1/orgs/${orgId}/workspaces/${temp.body.id}`, { token: admin.access_token })).status, 204);

  const r = await getInv(owner, inv.id);
  assert.equal(r.status, 200);
  assert.equal(r.body.status, "pending");
  assert.deepEqual(r.body.workspaces, [{ id: wsId, name: "Main", role: "viewer" }]);
  assert.deepEqual(await w.rows("SELECT workspace_id, role FROM invitation_workspaces WHERE invitation_id = ?", inv.id),
    [{ workspace_id: wsId, role: "viewer" }]);
  assert.equal(await count("SELECT COUNT(*) AS n FROM invitation_workspaces WHERE workspace_id = ?", temp.body.id), 0);
});

test("deleting the org deletes its invitations, their workspaces and links", async () => {
  const org = await freshOrg({ workspace: true, name: "Doomed Org" });
  const a = await invited(owner, { email: freshEmail("doomed"), workspaces: [{ workspace_id: org.ws, role: "editor" }] }, org.id);
  const b = await invited(owner, { email: freshEmail("doomed"), role: "viewer" }, org.id);
  assert.equal((await withdraw(owner, b.id, org.id)).status, 204);
  const token = await newToken(a.email);
  assert.equal((await preview(token)).status, 200);

  assert.equal((await w.del(`/v1/orgs/${org.id}`, { token: owner.access_token })).status, 204);
  assert.equal(await count("SELECT COUNT(*) AS n FROM invitations WHERE org_id = ?", org.id), 0);
  assert.equal(await count("SELECT COUNT(*) AS n FROM invitation_workspaces WHERE invitation_id IN (?, ?)", a.id, b.id), 0);
  assert.equal(await count("SELECT COUNT(*) AS n FROM invitation_links WHERE invitation_id IN (?, ?)", a.id, b.id), 0);
  assertProblem(await preview(token), 400, "invalid_token");
  assertProblem(await w.get(invPath(org.id), { token: owner.access_token }), 404, "not_found");
});
