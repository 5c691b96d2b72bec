// Invitations sent together (POST /v1/orgs/{org}/invitations/batch, README "Invitations"):
// a result per email in the order given (invited, already_member, invitation_exists) with
// the rows, mail and audit events of those invited; seats all or nothing, also when two
// batches race for the last seats; who may send them; validation that writes nothing; the
// rate limits counting one hit per email.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startWorker, assertProblem, freshEmail, freshIp } from "./helpers.mjs";

const APP_URL = "https://app.example.test";
const NIL = "00000000-0000-7000-8000-000000000000";
const INVITE_SUBJECT = /invited you to join/;

let w, owner, admin, editor, viewer, member, outsider, orgId, wsId;

before(async () => {
  w = await startWorker({ vars: { APP_URL } });
  ({ owner, admin, editor, viewer, member, outsider, orgId, wsId } = await w.orgRoster());
});
after(async () => { await w?.dispose(); });

const batchPath = (org = orgId) => `/v1/orgs/${org}/invitations/batch`;
/** POST …/invitations/batch as `by` (null: no token). */
const batch = (by, body, org = orgId, opts = {}) => w.post(batchPath(org), body, { ...(by ? { token: by.access_token } : {}), ...opts });
const count = async (query, ...params) => (await w.one(query, ...params)).n;

/** What invitations to `emails` left behind, in any org: rows, outbox messages, audit events. */
async function traces(emails) {
  const list = JSON.stringify(emails);
  return {
    invitations: await count("SELECT COUNT(*) AS n FROM invitations WHERE email IN (SELECT value FROM json_each(?))", list),
    outbox: await count("SELECT COUNT(*) AS n FROM outbox WHERE kind = 'invitation' AND recipient IN (SELECT value FROM json_each(?))", list),
    audit: await count("SELECT COUNT(*) AS n FROM audit_events WHERE action = 'invitation.created' AND json_extract(metadata, '$.email') IN (SELECT value FROM json_each(?))", list),
  };
}
const NOTHING = { invitations: 0, outbox: 0, audit: 0 };

/** A new org owned by `owner` (1 member) with a seat limit. */
async function freshOrg(limit) {
  const r = await w.post("/v1/orgs", { name: "Seat Counters" }, { token: owner.access_token });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  await w.db.prepare("UPDATE orgs SET member_limit = ? WHERE id = ?").bind(limit, r.body.id).run();
  return r.body.id;
}

test("a result per email in the order given: the new ones invited (rows, workspaces, mail, audit), a member and a pending invitee skipped", async () => {
  const pendingEmail = freshEmail("pending");
  const pending = await w.post(`/v1/orgs/${orgId}/invitations`, { email: pendingEmail, role: "viewer" }, { token: admin.access_token });
  assert.equal(pending.status, 201, JSON.stringify(pending.body));
  const [a, b] = [freshEmail("a"), freshEmail("b")];
  const r = await batch(editor, {
    emails: [` ${a.toUpperCase()} `, viewer.email, b, pendingEmail],
    role: "viewer",
    workspaces: [{ workspace_id: wsId, role: "editor" }],
    message: "Welcome to the mill",
  });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body.invited, 2);
  assert.deepEqual(r.body.results.map((x) => [x.email, x.result]), [
    [a, "invited"], [viewer.email, "already_member"], [b, "invited"], [pendingEmail, "invitation_exists"],
  ]);
  assert.equal(r.body.results[3].invitation_id, pending.body.id, "the pending invitation to resend instead");
  assert.equal(r.body.results[1].invitation, undefined);

  for (const [email, result] of [[a, r.body.results[0]], [b, r.body.results[2]]]) {
    const inv = result.invitation;
    assert.equal(inv.email, email);
    assert.equal(inv.status, "pending");
    assert.equal(inv.role, "viewer");
    assert.equal(inv.message, "Welcome to the mill");
    assert.equal(inv.send_count, 1);
    assert.equal(inv.email_status, "queued");
    assert.equal(inv.invited_by.id, editor.user.id);
    assert.deepEqual(inv.workspaces.map((x) => [x.id, x.role]), [[wsId, "editor"]]);
    const row = await w.one("SELECT * FROM invitations WHERE id = ?", inv.id);
    assert.equal(row.org_id, orgId);
    assert.equal(row.status, "pending");
    assert.equal(row.invited_by, editor.user.id);
    assert.equal(await count("SELECT COUNT(*) AS n FROM invitation_workspaces WHERE invitation_id = ? AND role = 'editor'", inv.id), 1);
    assert.equal(await count("SELECT COUNT(*) AS n FROM invitation_links WHERE invitation_id = ?", inv.id), 1);
    const events = await w.rows("SELECT actor_id, metadata FROM audit_events WHERE org_id = ? AND action = 'invitation.created' AND target_id = ?", orgId, inv.id);
    assert.equal(events.length, 1);
    assert.equal(events[0].actor_id, editor.user.id);
    assert.equal(JSON.parse(events[0].metadata).email, email);
    const mail = await w.mail(email, INVITE_SUBJECT);
    assert.match(mail.text, /Welcome to the mill/);
    assert.ok(mail.text.includes(`${APP_URL}/invitations/accept?token=`), mail.text);
  }
  // Nothing for the member; the pending invitation stands as it was, with one email.
  assert.deepEqual(await traces([viewer.email]), NOTHING);
  assert.equal(await count("SELECT COUNT(*) AS n FROM invitations WHERE email = ?", pendingEmail), 1);
  assert.equal((await w.one("SELECT send_count FROM invitations WHERE id = ?", pending.body.id)).send_count, 1);
  assert.equal(await count("SELECT COUNT(*) AS n FROM outbox WHERE recipient = ?", pendingEmail), 1);

  // Every email already in: 200, nothing invited, nothing written.
  const again = await batch(admin, { emails: [a, member.email], role: "viewer" });
  assert.equal(again.status, 200, JSON.stringify(again.body));
  assert.deepEqual(again.body, { results: [{ email: a, result: "invitation_exists", invitation_id: r.body.results[0].invitation.id }, { email: member.email, result: "already_member" }], invited: 0 });
  assert.equal(await count("SELECT COUNT(*) AS n FROM invitations WHERE email = ?", a), 1);
});

test("an email whose invitation lapsed (before the cron recorded it) is invited afresh; the old one is recorded expired", async () => {
  const email = freshEmail("lapsed");
  const old = await w.post(`/v1/orgs/${orgId}/invitations`, { email, role: "viewer" }, { token: owner.access_token });
  assert.equal(old.status, 201);
  await w.db.prepare("UPDATE invitations SET expires_at = ? WHERE id = ?").bind(Date.now() - 60_000, old.body.id).run();
  const r = await batch(owner, { emails: [email], role: "editor" });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body.results[0].result, "invited");
  assert.notEqual(r.body.results[0].invitation.id, old.body.id);
  assert.equal((await w.one("SELECT status FROM invitations WHERE id = ?", old.body.id)).status, "expired");
  assert.equal(await count("SELECT COUNT(*) AS n FROM audit_events WHERE action = 'invitation.expired' AND target_id = ?", old.body.id), 1);
});

test("seats are all or nothing: more invitations than free seats is 409 capacity_exceeded saying so, and nothing is sent", async () => {
  const org = await freshOrg(3); // the owner + 2 free
  const emails = [freshEmail("s"), freshEmail("s"), freshEmail("s")];
  const full = await batch(owner, { emails, role: "viewer" }, org);
  assertProblem(full, 409, "capacity_exceeded");
  assert.match(full.body.detail, /These 3 invitations need 3 seats and 2 are free/);
  assert.deepEqual(await traces(emails), NOTHING);

  // A member on the list needs no seat: the two others fit.
  const fits = await batch(owner, { emails: [emails[0], owner.email, emails[1]], role: "viewer" }, org);
  assert.equal(fits.status, 200, JSON.stringify(fits.body));
  assert.deepEqual(fits.body.results.map((x) => x.result), ["invited", "already_member", "invited"]);
  const none = await batch(owner, { emails: [emails[2]], role: "viewer" }, org);
  assertProblem(none, 409, "capacity_exceeded");
  assert.match(none.body.detail, /This invitation needs a seat and none is free/);
  assert.equal(await count("SELECT COUNT(*) AS n FROM invitations WHERE org_id = ?", org), 2);
});

test("race: two batches of 2 for 3 free seats → exactly one applies, whole; the other sends nothing", async () => {
  const org = await freshOrg(4); // the owner + 3 free
  const lists = [[freshEmail("r1"), freshEmail("r1")], [freshEmail("r2"), freshEmail("r2")]];
  const answers = await Promise.all(lists.map((emails) => batch(owner, { emails, role: "viewer" }, org)));
  const statuses = answers.map((r) => r.status).sort();
  assert.deepEqual(statuses, [200, 409], JSON.stringify(answers.map((r) => r.body)));
  const lost = answers.findIndex((r) => r.status === 409);
  assert.equal(answers[lost].body.code, "capacity_exceeded");
  assert.deepEqual(await traces(lists[lost]), NOTHING);
  assert.deepEqual(await traces(lists[1 - lost]), { invitations: 2, outbox: 2, audit: 2 });
});

test("who may send them: editors up to editor; viewers and members 403; outsiders and unknown orgs 404; no token 401; nothing sent", async () => {
  const tried = [];
  const refused = [
    [editor, { role: "admin" }, 403, "forbidden"],
    [editor, { role: "viewer", workspaces: [{ workspace_id: wsId, role: "admin" }] }, 403, "forbidden"],
    [viewer, { role: "viewer" }, 403, "forbidden"],
    [member, { workspaces: [{ workspace_id: wsId, role: "viewer" }] }, 403, "forbidden"],
    [outsider, { role: "viewer" }, 404, "not_found"],
    [null, { role: "viewer" }, 401, "unauthorized"],
  ];
  for (const [by, body, status, code] of refused) {
    const emails = [freshEmail("refused"), freshEmail("refused")];
    tried.push(...emails);
    assertProblem(await batch(by, { emails, ...body }), status, code);
  }
  for (const org of [NIL, "not-a-uuid", outsider.organization.id]) {
    const emails = [freshEmail("nowhere")];
    tried.push(...emails);
    assertProblem(await batch(owner, { emails, role: "viewer" }, org), 404, "not_found");
  }
  assert.deepEqual(await traces(tried), NOTHING);
  const ok = await batch(editor, { emails: [freshEmail("ed")], role: "editor" });
  assert.equal(ok.status, 200, JSON.stringify(ok.body));
  assert.equal(ok.body.results[0].invitation.role, "editor");
});

test("validation: 422 naming the entry or field, and nothing is written", async () => {
  const e = () => freshEmail("invalid");
  const tried = [];
  const list = (n) => Array.from({ length: n }, e);
  const cases = [
    ["no emails", { emails: [], role: "viewer" }, "emails"],
    ["21 emails", { emails: list(21), role: "viewer" }, "emails"],
    ["missing emails", { role: "viewer" }, "emails"],
    ["emails not a list", { emails: e(), role: "viewer" }, "emails"],
    ["an entry not a string", { emails: [e(), 7], role: "viewer" }, "emails"],
    ["an entry not an email", { emails: [e(), "not-an-email"], role: "viewer" }, "emails[1]"],
    ["an email repeated in another case", (() => { const x = e(); return { emails: [x, e(), x.toUpperCase()], role: "viewer" }; })(), "emails[2]"],
    ["role owner", { emails: [e()], role: "owner" }, "role"],
    ["neither role nor workspaces", { emails: [e()] }, "role"],
    ["member without workspaces", { emails: [e()], role: "member" }, "workspaces"],
    ["workspace of another org", { emails: [e()], role: "viewer", workspaces: [{ workspace_id: outsider.workspace.id, role: "viewer" }] }, "workspaces[0].workspace_id"],
    ["group that is not the org's", { emails: [e()], role: "viewer", groups: [NIL] }, "groups[0]"],
    ["message over 1000 characters", { emails: [e()], role: "viewer", message: "x".repeat(1001) }, "message"],
    ["the single route's field", { email: e(), emails: [e()], role: "viewer" }, "email"],
  ];
  const before = await count("SELECT COUNT(*) AS n FROM invitations");
  for (const [label, body, field] of cases) {
    if (Array.isArray(body.emails)) tried.push(...body.emails.filter((x) => typeof x === "string"));
    const r = await batch(owner, body);
    assertProblem(r, 422, "validation_failed");
    assert.ok(r.body.errors.some((x) => x.field === field || x.field?.startsWith(`${field}`)), `${label}: ${field} in ${JSON.stringify(r.body.errors)}`);
  }
  // Both bad entries are named, each by its index.
  const two = await batch(owner, { emails: ["nope", e(), "also nope"], role: "viewer" });
  assert.deepEqual(two.body.errors.map((x) => x.field), ["emails[0]", "emails[2]"]);
  assert.equal(await count("SELECT COUNT(*) AS n FROM invitations"), before, "a refused batch writes nothing");
  assert.deepEqual(await traces(tried), NOTHING);
});

test("rate limits count one hit per email: the IP's bucket and each invited email's; over either, 429 and nothing sent", async () => {
  const limited = await startWorker({ vars: { APP_URL, RATE_LIMIT_PER_IP: "5", RATE_LIMIT_PER_ACCOUNT: "2" } });
  try {
    const o = await limited.activeUser();
    const send = (emails, ip) => limited.post(`/v1/orgs/${o.organization.id}/invitations/batch`, { emails, role: "viewer" }, { token: o.access_token, ip });
    const ip = freshIp();
    const first = [freshEmail("rl"), freshEmail("rl"), freshEmail("rl")];
    assert.equal((await send(first, ip)).status, 200);
    const second = [freshEmail("rl"), freshEmail("rl"), freshEmail("rl")];
    const r = await send(second, ip); // 6 hits on a limit of 5
    assertProblem(r, 429, "rate_limited");
    assert.ok(Number(r.headers.get("retry-after")) > 0);
    const stored = async (emails) => (await limited.one("SELECT COUNT(*) AS n FROM invitations WHERE email IN (SELECT value FROM json_each(?))", JSON.stringify(emails))).n;
    assert.equal(await stored(second), 0);

    // Per email, from fresh IPs: the third request naming one address in a minute is refused.
    const target = freshEmail("target");
    for (let i = 0; i < 2; i++) {
      const sent = await send([target], freshIp());
      assert.equal(sent.status, 200, JSON.stringify(sent.body));
      const id = sent.body.results[0].invitation.id;
      assert.equal((await limited.del(`/v1/orgs/${o.organization.id}/invitations/${id}`, { token: o.access_token })).status, 204);
    }
    const other = freshEmail("rl");
    assertProblem(await send([other, target], freshIp()), 429, "rate_limited");
    assert.equal(await stored([other]), 0);
  } finally {
    await limited.dispose();
  }
});
