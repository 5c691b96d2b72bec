// POST /v1/authz/check through the real Worker: the workspace role of each org role, user and
// group grants (read fresh on every check), restricting groups, outsiders and unknown
// workspaces, batches, and validation and authentication.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { startWorker, assertProblem } from "./helpers.mjs";

let w;
let owner, admin, editor, viewer, member, wsEditor, outsider, granted, restricted, leaver, batcher;
let orgId, ws, ws2;

// Roles are set up in D1 directly (as members.test.mjs does); groups and grants through the API.
async function join(user, role) {
  await w.db.prepare("INSERT INTO org_members (org_id, user_id, role, joined_at) VALUES (?, ?, ?, ?)")
    .bind(orgId, user.user.id, role, Date.now()).run();
}

async function joinWorkspace(user, workspaceId, role) {
  await w.db.prepare("INSERT INTO workspace_members (workspace_id, user_id, org_id, role, added_at) VALUES (?, ?, ?, ?, ?)")
    .bind(workspaceId, user.user.id, orgId, role, Date.now()).run();
}

const dash = (id) => ({ type: "dashboard", id });
const asUser = (u) => ({ type: "user", id: u.user.id });
const asGroup = (g) => ({ type: "group", id: g.id });

/** The raw check response. */
function check(user, body, opts = {}) {
  return w.post("/v1/authz/check", body, { token: user?.access_token, ...opts });
}

/** A 200 check; returns its body. */
async function decide(user, body) {
  const r = await check(user, body);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body;
}

const allowed = (reason) => ({ allowed: true, reason });
const denied = (reason) => ({ allowed: false, reason });

/** A 422 naming `field` among its errors. */
function assertField(r, field) {
  assertProblem(r, 422, "validation_failed");
  assert.ok(Array.isArray(r.body.errors), JSON.stringify(r.body));
  assert.ok(r.body.errors.some((e) => e.field === field), `expected ${field}, got ${JSON.stringify(r.body.errors)}`);
}

async function grant(workspaceId, principal, resource, permission, status = 201) {
  const r = await w.request("PUT", `/v1/orgs/${orgId}/workspaces/${workspaceId}/grants`, {
    body: { principal, resource, permission }, token: owner.access_token,
  });
  assert.equal(r.status, status, JSON.stringify(r.body));
  assert.equal(r.body.permission, permission);
  return r.body;
}

async function revoke(workspaceId, principal, resource) {
  const r = await w.del(`/v1/orgs/${orgId}/workspaces/${workspaceId}/grants`, {
    body: { principal, resource }, token: owner.access_token,
  });
  assert.equal(r.status, 204, JSON.stringify(r.body));
}

async function createGroup(name, restrictions) {
  const r = await w.post(`/v1/orgs/${orgId}/groups`, { name, ...(restrictions ? { restrictions } : {}) }, { token: owner.access_token });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return r.body;
}

function putInGroup(group, user) {
  return w.request("PUT", `/v1/orgs/${orgId}/groups/${group.id}/members/${user.user.id}`, { token: owner.access_token });
}

async function addToGroup(group, user) {
  const r = await putInGroup(group, user);
  assert.equal(r.status, 204, JSON.stringify(r.body));
}

async function setRestrictions(group, restrictions) {
  const r = await w.patch(`/v1/orgs/${orgId}/groups/${group.id}`, { restrictions }, { token: owner.access_token });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body;
}

before(async () => {
  w = await startWorker();
  [owner, admin, editor, viewer, member, wsEditor, outsider, granted, restricted, leaver, batcher] = await Promise.all(
    Array.from({ length: 11 }, () => w.activeUser()),
  );
  orgId = owner.organization.id;
  ws = owner.workspace.id;
  const second = await w.post(`/v1/orgs/${orgId}/workspaces`, { name: "Second" }, { token: owner.access_token });
  assert.equal(second.status, 201, JSON.stringify(second.body));
  ws2 = second.body.id;
  await join(admin, "admin");
  await join(editor, "editor");
  await join(viewer, "viewer");
  await join(member, "member");
  await join(wsEditor, "member");
  await joinWorkspace(wsEditor, ws, "editor");
  await join(granted, "viewer");
  await join(restricted, "editor");
  await join(leaver, "viewer");
  await join(batcher, "viewer");
});
after(async () => { await w?.dispose(); });

test("workspace-level checks follow the effective workspace role of every org role", async () => {
  const cases = [
    // [user, workspace, action, expected]
    [owner, ws, "manage", allowed("workspace_role")],
    [owner, ws2, "manage", allowed("workspace_role")],
    [admin, ws, "manage", allowed("workspace_role")],
    [admin, ws2, "manage", allowed("workspace_role")],
    [editor, ws, "edit", allowed("workspace_role")],
    [editor, ws, "view", allowed("workspace_role")],
    [editor, ws, "manage", denied("insufficient_permission")],
    [viewer, ws, "view", allowed("workspace_role")],
    [viewer, ws, "edit", denied("insufficient_permission")],
    [viewer, ws, "manage", denied("insufficient_permission")],
    // A workspace-only member: the explicit workspace role, in that workspace only.
    [wsEditor, ws, "edit", allowed("workspace_role")],
    [wsEditor, ws, "view", allowed("workspace_role")],
    [wsEditor, ws, "manage", denied("insufficient_permission")],
    [wsEditor, ws2, "view", denied("insufficient_permission")],
    // An org `member` without the workspace.
    [member, ws, "view", denied("insufficient_permission")],
    [member, ws2, "view", denied("insufficient_permission")],
  ];
  for (const [user, workspace_id, action, expected] of cases) {
    const body = await decide(user, { workspace_id, action });
    assert.deepEqual(body, expected, `${user.email} ${action} on ${workspace_id === ws ? "ws" : "ws2"}`);
  }
  // A resource changes nothing for a role alone.
  assert.deepEqual(await decide(editor, { workspace_id: ws, action: "edit", resource: dash("d-1") }), allowed("workspace_role"));
  assert.deepEqual(await decide(viewer, { workspace_id: ws, action: "edit", resource: dash("d-1") }), denied("insufficient_permission"));
  assert.deepEqual(await decide(member, { workspace_id: ws, action: "view", resource: dash("d-1") }), denied("insufficient_permission"));
});

test("a check changes nothing: no rows, no audit events", async () => {
  const count = async () => (await w.one(
    "SELECT (SELECT COUNT(*) FROM audit_events) + (SELECT COUNT(*) FROM grants) + (SELECT COUNT(*) FROM org_members) + (SELECT COUNT(*) FROM workspace_members) AS n",
  )).n;
  const before = await count();
  await decide(viewer, { workspace_id: ws, action: "view", resource: dash("d-1") });
  await decide(outsider, { workspace_id: ws, action: "manage" });
  assert.equal(await count(), before);
});

test("grants: a user grant on one resource, a group grant, revocation effective on the next check, other workspaces", async () => {
  const edit = (id, workspace_id = ws, action = "edit") => decide(granted, { workspace_id, action, resource: dash(id) });

  assert.deepEqual(await edit("d-1"), denied("insufficient_permission"));
  const g = await grant(ws, asUser(granted), dash("d-1"), "edit");
  assert.equal((await w.one("SELECT permission FROM grants WHERE id = ?", g.id)).permission, "edit");

  assert.deepEqual(await edit("d-1"), allowed("user_grant"));
  // The role reaches view first, so it names the reason.
  assert.deepEqual(await edit("d-1", ws, "view"), allowed("workspace_role"));
  assert.deepEqual(await edit("d-1", ws, "manage"), denied("insufficient_permission"));
  assert.deepEqual(await edit("d-2"), denied("insufficient_permission"));
  // Same id, another type: another resource.
  assert.deepEqual(await decide(granted, { workspace_id: ws, action: "edit", resource: { type: "device", id: "d-1" } }), denied("insufficient_permission"));
  // Ids are exact.
  assert.deepEqual(await edit("D-1"), denied("insufficient_permission"));
  // Without a resource, grants say nothing.
  assert.deepEqual(await decide(granted, { workspace_id: ws, action: "edit" }), denied("insufficient_permission"));

  // A group grant.
  const managers = await createGroup("Managers");
  await addToGroup(managers, granted);
  assert.deepEqual(await edit("d-1", ws, "manage"), denied("insufficient_permission"));
  await grant(ws, asGroup(managers), dash("d-1"), "manage");
  assert.deepEqual(await edit("d-1", ws, "manage"), allowed("group_grant"));
  // The user grant reaches edit first.
  assert.deepEqual(await edit("d-1"), allowed("user_grant"));
  // Another member of the org, not in the group, gets nothing from it.
  assert.deepEqual(await decide(viewer, { workspace_id: ws, action: "manage", resource: dash("d-1") }), denied("insufficient_permission"));

  // Changing a grant is effective on the next check.
  await grant(ws, asUser(granted), dash("d-2"), "view");
  assert.deepEqual(await edit("d-2"), denied("insufficient_permission"));
  await grant(ws, asUser(granted), dash("d-2"), "manage", 200);
  assert.deepEqual(await edit("d-2", ws, "manage"), allowed("user_grant"));

  // Revocation: the next check denies (nothing cached).
  await revoke(ws, asUser(granted), dash("d-1"));
  assert.deepEqual(await edit("d-1"), allowed("group_grant"));
  await revoke(ws, asGroup(managers), dash("d-1"));
  assert.deepEqual(await edit("d-1"), denied("insufficient_permission"));
  assert.deepEqual(await edit("d-1", ws, "manage"), denied("insufficient_permission"));
  assert.equal((await w.rows("SELECT 1 FROM grants WHERE resource_id = 'd-1' AND workspace_id = ?", ws)).length, 0);

  // Leaving the group takes its grants away.
  await grant(ws, asGroup(managers), dash("d-4"), "edit");
  assert.deepEqual(await edit("d-4"), allowed("group_grant"));
  const out = await w.del(`/v1/orgs/${orgId}/groups/${managers.id}/members/${granted.user.id}`, { token: owner.access_token });
  assert.equal(out.status, 204, JSON.stringify(out.body));
  assert.deepEqual(await edit("d-4"), denied("insufficient_permission"));

  // A grant in another workspace applies there only.
  await grant(ws2, asUser(granted), dash("d-1"), "manage");
  assert.deepEqual(await edit("d-1", ws, "view"), allowed("workspace_role"));
  assert.deepEqual(await edit("d-1", ws), denied("insufficient_permission"));
  assert.deepEqual(await edit("d-1", ws2, "manage"), allowed("user_grant"));

  // An org `member` without the workspace reaches a resource through a grant only.
  await grant(ws, asUser(member), dash("d-9"), "view");
  assert.deepEqual(await decide(member, { workspace_id: ws, action: "view", resource: dash("d-9") }), allowed("user_grant"));
  assert.deepEqual(await decide(member, { workspace_id: ws, action: "edit", resource: dash("d-9") }), denied("insufficient_permission"));
  assert.deepEqual(await decide(member, { workspace_id: ws, action: "view", resource: dash("d-8") }), denied("insufficient_permission"));
  assert.deepEqual(await decide(member, { workspace_id: ws, action: "view" }), denied("insufficient_permission"));
});

test("restrictions: outside the union of the groups' lists is restricted, whatever the role or grants", async () => {
  const ask = (action, resource) => decide(restricted, { workspace_id: ws, action, ...(resource ? { resource } : {}) });

  // Before any restriction: the editor role reaches every resource.
  assert.deepEqual(await ask("view", dash("d-2")), allowed("workspace_role"));

  const r1 = await createGroup("Only d-1", [dash("d-1")]);
  assert.deepEqual(r1.restrictions, [dash("d-1")]);
  await addToGroup(r1, restricted);
  assert.deepEqual(await ask("edit", dash("d-1")), allowed("workspace_role"));
  assert.deepEqual(await ask("manage", dash("d-1")), denied("insufficient_permission"));
  assert.deepEqual(await ask("view", dash("d-2")), denied("restricted"));
  assert.deepEqual(await ask("view", { type: "device", id: "d-1" }), denied("restricted"));

  // A grant does not reach past the restriction ...
  await grant(ws, asUser(restricted), dash("d-2"), "manage");
  assert.deepEqual(await ask("view", dash("d-2")), denied("restricted"));
  // ... but works inside it.
  await grant(ws, asUser(restricted), dash("d-1"), "manage");
  assert.deepEqual(await ask("manage", dash("d-1")), allowed("user_grant"));
  // The restriction applies in every workspace of the org.
  assert.deepEqual(await decide(restricted, { workspace_id: ws2, action: "view", resource: dash("d-2") }), denied("restricted"));
  assert.deepEqual(await decide(restricted, { workspace_id: ws2, action: "edit", resource: dash("d-1") }), allowed("workspace_role"));

  // The workspace itself stays the role's question.
  assert.deepEqual(await ask("edit"), allowed("workspace_role"));
  assert.deepEqual(await ask("manage"), denied("insufficient_permission"));

  // Two restricting groups: the union of their lists.
  const r2 = await createGroup("Only d-3", [dash("d-3")]);
  await addToGroup(r2, restricted);
  assert.deepEqual(await ask("edit", dash("d-1")), allowed("workspace_role"));
  assert.deepEqual(await ask("edit", dash("d-3")), allowed("workspace_role"));
  assert.deepEqual(await ask("view", dash("d-2")), denied("restricted"));
  // A non-restricting group adds no limit and lifts none.
  const plain = await createGroup("Plain");
  await addToGroup(plain, restricted);
  assert.deepEqual(await ask("view", dash("d-2")), denied("restricted"));
  assert.deepEqual(await ask("edit", dash("d-3")), allowed("workspace_role"));

  // Leaving one group: its part of the union goes.
  const out = await w.del(`/v1/orgs/${orgId}/groups/${r2.id}/members/${restricted.user.id}`, { token: owner.access_token });
  assert.equal(out.status, 204, JSON.stringify(out.body));
  assert.deepEqual(await ask("edit", dash("d-3")), denied("restricted"));
  assert.deepEqual(await ask("edit", dash("d-1")), allowed("workspace_role"));

  // Changing the list is effective on the next check.
  await setRestrictions(r1, [dash("d-5")]);
  assert.deepEqual(await ask("edit", dash("d-1")), denied("restricted"));
  assert.deepEqual(await ask("edit", dash("d-5")), allowed("workspace_role"));

  // Lifting the restriction: everything the role and grants reach is back.
  const lifted = await setRestrictions(r1, null);
  assert.deepEqual(lifted.restrictions, []);
  assert.deepEqual(await ask("view", dash("d-2")), allowed("workspace_role"));
  assert.deepEqual(await ask("manage", dash("d-2")), allowed("user_grant"));
  assert.deepEqual(await ask("edit", dash("d-3")), allowed("workspace_role"));
  assert.deepEqual(await ask("edit", dash("d-1")), allowed("workspace_role"));

  // Restricting again, then `[]` also lifts.
  await setRestrictions(r1, [dash("d-1")]);
  assert.deepEqual(await ask("view", dash("d-2")), denied("restricted"));
  await setRestrictions(r1, []);
  assert.deepEqual(await ask("view", dash("d-2")), allowed("workspace_role"));

  // Owners and admins are never restricted: they cannot even be added.
  const r3 = await createGroup("Only d-7", [dash("d-7")]);
  assertField(await putInGroup(r3, admin), "user");
  assertField(await putInGroup(r3, owner), "user");
  assert.equal((await w.rows("SELECT 1 FROM group_members WHERE group_id = ?", r3.id)).length, 0);
  for (const u of [admin, owner]) {
    assert.deepEqual(await decide(u, { workspace_id: ws, action: "manage", resource: dash("d-2") }), allowed("workspace_role"));
    assert.deepEqual(await decide(u, { workspace_id: ws, action: "manage", resource: dash("d-7") }), allowed("workspace_role"));
  }
});

test("outsiders and unknown workspaces: not_a_member, never 404", async () => {
  assert.deepEqual(await decide(outsider, { workspace_id: ws, action: "view" }), denied("not_a_member"));
  assert.deepEqual(await decide(outsider, { workspace_id: ws, action: "view", resource: dash("d-1") }), denied("not_a_member"));
  // The outsider's own workspace is theirs.
  assert.deepEqual(await decide(outsider, { workspace_id: outsider.workspace.id, action: "manage" }), allowed("workspace_role"));
  // And our owner is an outsider there.
  assert.deepEqual(await decide(owner, { workspace_id: outsider.workspace.id, action: "view" }), denied("not_a_member"));

  // An unknown workspace answers exactly like a foreign one.
  const unknown = randomUUID();
  for (const u of [owner, outsider]) {
    assert.deepEqual(await decide(u, { workspace_id: unknown, action: "view" }), denied("not_a_member"));
    assert.deepEqual(await decide(u, { workspace_id: unknown, action: "view", resource: dash("d-1") }), denied("not_a_member"));
  }
  const batch = await decide(outsider, { workspace_id: ws, action: "view", resources: [dash("d-1"), dash("d-2")] });
  assert.deepEqual(batch, { results: [
    { resource: dash("d-1"), ...denied("not_a_member") },
    { resource: dash("d-2"), ...denied("not_a_member") },
  ] });

  // Removed from the org: not_a_member on the next check, and their grants go with them.
  await grant(ws, asUser(leaver), dash("d-1"), "manage");
  assert.deepEqual(await decide(leaver, { workspace_id: ws, action: "manage", resource: dash("d-1") }), allowed("user_grant"));
  assert.deepEqual(await decide(leaver, { workspace_id: ws, action: "view" }), allowed("workspace_role"));
  const removed = await w.del(`/v1/orgs/${orgId}/members/${leaver.user.id}`, { token: owner.access_token });
  assert.equal(removed.status, 204, JSON.stringify(removed.body));
  assert.deepEqual(await decide(leaver, { workspace_id: ws, action: "view" }), denied("not_a_member"));
  assert.deepEqual(await decide(leaver, { workspace_id: ws, action: "view", resource: dash("d-1") }), denied("not_a_member"));
  assert.equal((await w.rows("SELECT 1 FROM grants WHERE principal_type = 'user' AND principal_id = ?", leaver.user.id)).length, 0);
});

test("batch: results in order, one decision each; 1–100 resources; duplicates collapsed", async () => {
  await grant(ws, asUser(batcher), dash("b-2"), "edit");
  const three = await decide(batcher, { workspace_id: ws, action: "edit", resources: [dash("b-1"), dash("b-2"), { type: "device", id: "b-2" }] });
  assert.deepEqual(three, { results: [
    { resource: dash("b-1"), ...denied("insufficient_permission") },
    { resource: dash("b-2"), ...allowed("user_grant") },
    { resource: { type: "device", id: "b-2" }, ...denied("insufficient_permission") },
  ] });
  // The order is the request's, not the store's.
  const reversed = await decide(batcher, { workspace_id: ws, action: "view", resources: [dash("b-3"), dash("b-2"), dash("b-1")] });
  assert.deepEqual(reversed.results.map((r) => r.resource.id), ["b-3", "b-2", "b-1"]);
  assert.ok(reversed.results.every((r) => r.allowed && r.reason === "workspace_role"));

  // One resource in a batch still answers with results.
  assert.deepEqual(await decide(batcher, { workspace_id: ws, action: "edit", resources: [dash("b-2")] }),
    { results: [{ resource: dash("b-2"), ...allowed("user_grant") }] });

  // Duplicates collapse to their first occurrence.
  const dup = await decide(batcher, { workspace_id: ws, action: "edit", resources: [dash("b-2"), dash("b-1"), dash("b-2"), dash("b-1")] });
  assert.deepEqual(dup, { results: [
    { resource: dash("b-2"), ...allowed("user_grant") },
    { resource: dash("b-1"), ...denied("insufficient_permission") },
  ] });

  // 100 is the ceiling; grants among them are found wherever they are.
  const hundred = Array.from({ length: 100 }, (_, i) => dash(`b-${i + 1}`));
  await grant(ws, asUser(batcher), dash("b-100"), "edit");
  const big = await decide(batcher, { workspace_id: ws, action: "edit", resources: hundred });
  assert.equal(big.results.length, 100);
  assert.deepEqual(big.results.map((r) => r.resource), hundred);
  const allowedIds = big.results.filter((r) => r.allowed).map((r) => [r.resource.id, r.reason]);
  assert.deepEqual(allowedIds, [["b-2", "user_grant"], ["b-100", "user_grant"]]);
  assert.ok(big.results.filter((r) => !r.allowed).every((r) => r.reason === "insufficient_permission"));

  // Restrictions apply per resource in a batch.
  const only = await createGroup("Batch limit", [dash("b-1")]);
  await addToGroup(only, batcher);
  assert.deepEqual(await decide(batcher, { workspace_id: ws, action: "view", resources: [dash("b-1"), dash("b-2")] }), { results: [
    { resource: dash("b-1"), ...allowed("workspace_role") },
    { resource: dash("b-2"), ...denied("restricted") },
  ] });
  await setRestrictions(only, null);

  assertField(await check(batcher, { workspace_id: ws, action: "view", resources: [...hundred, dash("b-101")] }), "resources");
  assertField(await check(batcher, { workspace_id: ws, action: "view", resources: [] }), "resources");
  assertField(await check(batcher, { workspace_id: ws, action: "view", resource: dash("b-1"), resources: [dash("b-2")] }), "resources");
  assertField(await check(batcher, { workspace_id: ws, action: "view", resources: [dash("b-1"), { type: "bad type", id: "x" }] }), "resources[1].type");
  assertField(await check(batcher, { workspace_id: ws, action: "view", resources: [{ type: "dashboard", id: " " }] }), "resources[0].id");
  assertField(await check(batcher, { workspace_id: ws, action: "view", resources: dash("b-1") }), "resources");
});

test("a person's check reads no account row but still needs a live session of an active account", async () => {
  const ok = { workspace_id: ws, action: "view" };
  const [locked, loggedOut] = await Promise.all([w.activeUser(), w.activeUser()]);
  for (const u of [locked, loggedOut]) {
    assert.deepEqual(await decide(u, ok), denied("not_a_member"));
  }
  await w.db.prepare("UPDATE users SET status = 'locked' WHERE id = ?").bind(locked.user.id).run();
  await w.db.prepare("UPDATE sessions SET ended_at = ? WHERE user_id = ?").bind(Date.now(), loggedOut.user.id).run();
  for (const u of [locked, loggedOut]) {
    assertProblem(await check(u, ok), 401, "unauthorized");
  }
});

test("authentication and validation: 401, 403 for another user, 422 naming the field", async () => {
  const ok = { workspace_id: ws, action: "view" };
  assertProblem(await check(null, ok), 401, "unauthorized");
  assertProblem(await check(null, ok, { token: "not-a-token" }), 401, "unauthorized");

  // Asking about another user is refused, whoever they are; about oneself is fine.
  assertProblem(await check(viewer, { ...ok, user_id: editor.user.id }), 403, "forbidden");
  assertProblem(await check(owner, { ...ok, user_id: viewer.user.id }), 403, "forbidden");
  assertProblem(await check(viewer, { ...ok, user_id: randomUUID() }), 403, "forbidden");
  assert.deepEqual(await decide(viewer, { ...ok, user_id: viewer.user.id }), allowed("workspace_role"));
  assert.deepEqual(await decide(outsider, { ...ok, user_id: outsider.user.id }), denied("not_a_member"));

  assertField(await check(viewer, { ...ok, user_id: "someone" }), "user_id");
  assertField(await check(viewer, { ...ok, workspace_id: "not-a-uuid" }), "workspace_id");
  assertField(await check(viewer, { ...ok, workspace_id: ws.replaceAll("-", "") }), "workspace_id");
  assertField(await check(viewer, { action: "view" }), "workspace_id");
  assertField(await check(viewer, { ...ok, workspace_id: 42 }), "workspace_id");
  assertField(await check(viewer, { ...ok, action: "admin" }), "action");
  assertField(await check(viewer, { ...ok, action: "VIEW" }), "action");
  assertField(await check(viewer, { workspace_id: ws }), "action");
  assertField(await check(viewer, { ...ok, resource: { type: "dash board", id: "d-1" } }), "resource.type");
  assertField(await check(viewer, { ...ok, resource: { type: "", id: "d-1" } }), "resource.type");
  assertField(await check(viewer, { ...ok, resource: { type: "x".repeat(65), id: "d-1" } }), "resource.type");
  assertField(await check(viewer, { ...ok, resource: { type: "dashboard", id: "" } }), "resource.id");
  assertField(await check(viewer, { ...ok, resource: { type: "dashboard", id: "a\u0007" } }), "resource.id");
  assertField(await check(viewer, { ...ok, resource: { type: "dashboard", id: "x".repeat(257) } }), "resource.id");
  assertField(await check(viewer, { ...ok, resource: { type: "dashboard" } }), "resource.id");
  // Bounds that are fine.
  assert.deepEqual(await decide(viewer, { ...ok, resource: { type: "iot.device:v2", id: "é".repeat(256) } }), allowed("workspace_role"));

  // Strict bodies.
  assertField(await check(viewer, { ...ok, permission: "view" }), "permission");
  assertField(await check(viewer, { ...ok, resource: { ...dash("d-1"), kind: "x" } }), "resource.kind");
  for (const raw of ["{", "not json", `{"workspace_id": "${ws}", "action": "view",}`, ""]) {
    const r = await w.request("POST", "/v1/authz/check", {
      raw, token: viewer.access_token, headers: { "content-type": "application/json" },
    });
    assertField(r, "body");
  }
  assertField(await w.request("POST", "/v1/authz/check", {
    raw: `{"workspace_id": "${ws}", "action": "view", "action": "edit"}`,
    token: viewer.access_token, headers: { "content-type": "application/json" },
  }), "action");
  assertField(await check(viewer, [ok]), "body");

  // Validation comes before the 403: a broken body about someone else is a 422.
  assertField(await check(viewer, { user_id: editor.user.id, workspace_id: ws, action: "admin" }), "action");
});
