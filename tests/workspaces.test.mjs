// Workspaces and workspace members: the org gate then the effective workspace role,
// inheritance, workspace-only members, and the seat limit under concurrent additions.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startWorker, assertProblem } from "./helpers.mjs";

let w, owner, admin, editor, viewer, outsider, orgId;

async function join(user, role) {
  await w.db.prepare("INSERT INTO org_members (org_id, user_id, role, joined_at) VALUES (?, ?, ?, ?)")
    .bind(orgId, user.user.id, role, Date.now()).run();
}
const wsPath = (id = "", suffix = "") => `/v1/orgs/${orgId}/workspaces${id ? `/${id}` : ""}${suffix}`;

before(async () => {
  w = await startWorker();
  [owner, admin, editor, viewer, outsider] = await Promise.all(Array.from({ length: 5 }, () => w.activeUser()));
  orgId = owner.organization.id;
  await join(admin, "admin");
  await join(editor, "editor");
  await join(viewer, "viewer");
});
after(async () => { await w?.dispose(); });

test("create: editors and above; metrics; viewers 403, outsiders 404, bad body 422", async () => {
  const r = await w.post(wsPath(), { name: "Staging", description: "pre-prod" }, { token: editor.access_token });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  assert.equal(r.body.name, "Staging");
  assert.equal(r.body.role, "editor");
  assert.deepEqual(r.body.metrics, { members: 4, pending_invitations: 0, groups: 0, api_tokens: 0 });
  assert.equal((await w.rows("SELECT 1 FROM audit_events WHERE org_id = ? AND action = 'workspace.created' AND target_id = ?", orgId, r.body.id)).length, 1);
  assertProblem(await w.post(wsPath(), { name: "Nope" }, { token: viewer.access_token }), 403, "forbidden");
  assertProblem(await w.post(wsPath(), { name: "Nope" }, { token: outsider.access_token }), 404, "not_found");
  assertProblem(await w.post(wsPath(), { description: "no name" }, { token: admin.access_token }), 422, "validation_failed");
  assertProblem(await w.post(wsPath(), { name: "x".repeat(101) }, { token: admin.access_token }), 422, "validation_failed");
  assertProblem(await w.post(wsPath(), { name: "Nope" }), 401, "unauthorized");
});

test("workspace-only members: added by PUT, see only their own workspaces, 404 elsewhere", async () => {
  const extra = (await w.post(wsPath(), { name: "Extra" }, { token: admin.access_token })).body;
  const main = owner.workspace.id;
  const put = await w.request("PUT", wsPath(main, `/members/${outsider.user.id}`), { body: { role: "viewer" }, token: admin.access_token });
  assert.equal(put.status, 200, JSON.stringify(put.body));
  assert.equal(put.body.org_role, "member");
  assert.equal(put.body.workspace_role, "viewer");
  assert.equal((await w.one("SELECT role FROM org_members WHERE org_id = ? AND user_id = ?", orgId, outsider.user.id)).role, "member");

  const list = await w.get(wsPath(), { token: outsider.access_token });
  assert.deepEqual(list.body.data.map((x) => x.id), [main]);
  assert.equal(list.body.data[0].role, "viewer");
  assertProblem(await w.get(wsPath(extra.id), { token: outsider.access_token }), 404, "not_found");
  assertProblem(await w.patch(wsPath(main), { name: "Hijack" }, { token: outsider.access_token }), 403, "forbidden");
  const all = await w.get(wsPath(), { token: viewer.access_token });
  assert.ok(all.body.data.length >= 3);

  // The workspace's member list shows inherited and explicit access.
  const members = await w.get(wsPath(main, "/members"), { token: viewer.access_token });
  const byId = Object.fromEntries(members.body.data.map((m) => [m.user.id, m]));
  assert.equal(byId[owner.user.id].workspace_role, "admin");
  assert.equal(byId[editor.user.id].workspace_role, "editor");
  assert.equal(byId[outsider.user.id].workspace_role, "viewer");
  assert.equal(byId[outsider.user.id].org_role, "member");

  // Removing the last workspace role takes the workspace-only member out of the org.
  assert.equal((await w.del(wsPath(main, `/members/${outsider.user.id}`), { token: admin.access_token })).status, 204);
  assert.equal((await w.rows("SELECT 1 FROM org_members WHERE org_id = ? AND user_id = ?", orgId, outsider.user.id)).length, 0);
  assertProblem(await w.get(`/v1/orgs/${orgId}`, { token: outsider.access_token }), 404, "not_found");
  assertProblem(await w.del(wsPath(main, `/members/${outsider.user.id}`), { token: admin.access_token }), 404, "not_found");
});

test("an explicit workspace role lifts an org viewer, within the workspace ceiling", async () => {
  const ws = (await w.post(wsPath(), { name: "Lifted" }, { token: admin.access_token })).body;
  assertProblem(await w.patch(wsPath(ws.id), { name: "By viewer" }, { token: viewer.access_token }), 403, "forbidden");
  assert.equal((await w.request("PUT", wsPath(ws.id, `/members/${viewer.user.id}`), { body: { role: "editor" }, token: admin.access_token })).status, 200);
  const r = await w.patch(wsPath(ws.id), { name: "By viewer", description: null }, { token: viewer.access_token });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body.role, "editor");
  // Bringing an outsider into the org is inviting, which an org viewer may not do: to them
  // the outsider is as unknown as a user that does not exist.
  const stranger = await w.activeUser();
  assertProblem(await w.request("PUT", wsPath(ws.id, `/members/${stranger.user.id}`), { body: { role: "viewer" }, token: viewer.access_token }), 404, "not_found");
  assert.equal((await w.rows("SELECT 1 FROM org_members WHERE org_id = ? AND user_id = ?", orgId, stranger.user.id)).length, 0);
  // A workspace editor adds org members up to editor, never admin, and cannot re-role.
  const fresh = await w.activeUser();
  await join(fresh, "viewer");
  assertProblem(await w.request("PUT", wsPath(ws.id, `/members/${fresh.user.id}`), { body: { role: "admin" }, token: viewer.access_token }), 403, "forbidden");
  assert.equal((await w.request("PUT", wsPath(ws.id, `/members/${fresh.user.id}`), { body: { role: "editor" }, token: viewer.access_token })).status, 200);
  assertProblem(await w.request("PUT", wsPath(ws.id, `/members/${fresh.user.id}`), { body: { role: "viewer" }, token: viewer.access_token }), 403, "forbidden");
  assertProblem(await w.del(wsPath(ws.id, `/members/${fresh.user.id}`), { token: viewer.access_token }), 403, "forbidden");
  assertProblem(await w.request("PUT", wsPath(ws.id, `/members/${viewer.user.id}`), { body: { role: "admin" }, token: viewer.access_token }), 409, "cannot_act_on_self");
  assertProblem(await w.request("PUT", wsPath(ws.id, `/members/${fresh.user.id}`), { body: { role: "king" }, token: admin.access_token }), 422, "validation_failed");
  assertProblem(await w.request("PUT", wsPath(ws.id, `/members/00000000-0000-7000-8000-000000000000`), { body: { role: "viewer" }, token: admin.access_token }), 404, "not_found");
});

test("delete: org admins only; the workspace and its memberships go", async () => {
  const ws = (await w.post(wsPath(), { name: "Doomed" }, { token: editor.access_token })).body;
  assertProblem(await w.del(wsPath(ws.id), { token: editor.access_token }), 403, "forbidden");
  assertProblem(await w.del(wsPath(ws.id), { token: outsider.access_token }), 404, "not_found");
  assert.equal((await w.del(wsPath(ws.id), { token: admin.access_token })).status, 204);
  assert.equal((await w.rows("SELECT 1 FROM workspaces WHERE id = ?", ws.id)).length, 0);
  assert.equal((await w.rows("SELECT 1 FROM workspace_members WHERE workspace_id = ?", ws.id)).length, 0);
  assertProblem(await w.get(wsPath(ws.id), { token: admin.access_token }), 404, "not_found");
  assertProblem(await w.get(wsPath("not-a-uuid"), { token: admin.access_token }), 404, "not_found");
});

test("seats: 10 concurrent additions with 3 free seats → exactly 3 join", async () => {
  const count = async () => (await w.one("SELECT COUNT(*) AS n FROM org_members WHERE org_id = ?", orgId)).n;
  await w.db.prepare("UPDATE orgs SET member_limit = ? WHERE id = ?").bind((await count()) + 3, orgId).run();
  const people = await Promise.all(Array.from({ length: 10 }, () => w.activeUser()));
  const results = await Promise.all(people.map((p) =>
    w.request("PUT", wsPath(owner.workspace.id, `/members/${p.user.id}`), { body: { role: "viewer" }, token: admin.access_token })));
  assert.equal(results.filter((r) => r.status === 200).length, 3, JSON.stringify(results.map((r) => r.status)));
  for (const r of results.filter((r) => r.status !== 200)) assertProblem(r, 409, "capacity_exceeded");
  const limit = (await w.one("SELECT member_limit FROM orgs WHERE id = ?", orgId)).member_limit;
  assert.equal(await count(), limit);
  const usage = await w.get(`/v1/orgs/${orgId}/usage`, { token: admin.access_token });
  assert.equal(usage.body.remaining, 0);
});
