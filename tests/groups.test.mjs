// Groups and resource grants (README "Groups, resource grants and authorization checks"):
// group CRUD with keyset pages and validation, the governance gate (403 inside the org
// below admin, 404 outside, 401 without a token), group members, the rule that owners and
// admins are never in a restricting group (whichever way round it is attempted), member
// removal taking groups and grants along, workspace grants (create / change / list with
// filters / revoke, metrics, workspace deletion), and newcomers joining groups through
// member creation and invitations. Every case asserts status, body and what D1 holds.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { startWorker, assertProblem, freshEmail, freshIp } from "./helpers.mjs";

const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z$/;
const GROUP_KEYS = ["created_at", "description", "id", "member_count", "name", "org_id", "restrictions", "updated_at"];
const GRANT_KEYS = ["created_at", "id", "permission", "principal", "resource", "updated_at", "workspace_id"];

let w;
let owner, admin, editor, viewer, member, outsider;
let orgId, wsId;

// ---------------------------------------------------------------------------------------
// helpers

/** Gives `user` a role in the org directly in D1 (a `member` also gets the main workspace). */
const join = (user, role, org = orgId, ws = wsId) => w.joinOrg(user, org, role, ws);

/** A fresh active user holding `role` in the org. */
async function newMember(role) {
  const u = await w.activeUser();
  await join(u, role);
  return u;
}

let nameCounter = 0;
const uniqueName = (prefix = "Group") => `${prefix} ${++nameCounter}`;

const G = (suffix = "", org = orgId) => `/v1/orgs/${org}/groups${suffix}`;
const GM = (group, user = "") => G(`/${group}/members${user ? `/${user}` : ""}`);
const grantsPath = (ws = wsId, org = orgId) => `/v1/orgs/${org}/workspaces/${ws}/grants`;
const put = (path, body, token) => w.request("PUT", path, { body, token });
const delWith = (path, body, token) => w.request("DELETE", path, { body, token });
const ownerTok = () => owner.access_token;

/** Creates a group as the owner (or `token`); asserts 201. */
async function newGroup(body = {}, token = ownerTok()) {
  const r = await w.post(G(), { name: uniqueName(), ...body }, { token });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return r.body;
}

async function addToGroup(group, user, token = ownerTok()) {
  const r = await put(GM(group, user), undefined, token);
  assert.equal(r.status, 204, JSON.stringify(r.body));
}

/** PUT a grant; asserts the status (201 or 200) and returns the body. */
async function grant(body, status = 201, ws = wsId, token = ownerTok()) {
  const r = await put(grantsPath(ws), body, token);
  assert.equal(r.status, status, JSON.stringify(r.body));
  return r.body;
}
const userP = (u) => ({ type: "user", id: u.user?.id ?? u });
const groupP = (g) => ({ type: "group", id: g.id ?? g });

/** 422 validation_failed naming `field` exactly (or, with `prefix`, a field starting with it). */
function assertField(r, field, { prefix = false } = {}) {
  assertProblem(r, 422, "validation_failed");
  assert.ok(Array.isArray(r.body.errors), JSON.stringify(r.body));
  assert.ok(
    r.body.errors.some((e) => (prefix ? e.field?.startsWith(field) : e.field === field) && typeof e.message === "string" && e.message),
    `expected errors[].field ${prefix ? "starting with " : ""}${field}, got ${JSON.stringify(r.body.errors)}`,
  );
}

const count = async (sql, ...params) => (await w.one(sql, ...params)).n;
const audits = (action, targetId, org = orgId) =>
  w.rows("SELECT * FROM audit_events WHERE org_id = ? AND action = ? AND target_id = ? ORDER BY id", org, action, targetId);
const groupRow = (id) => w.one("SELECT * FROM groups WHERE id = ?", id);
const inGroup = async (group, user) =>
  (await count("SELECT COUNT(*) AS n FROM group_members WHERE group_id = ? AND user_id = ?", group, user)) === 1;
const orgRole = async (userId, org = orgId) =>
  (await w.one("SELECT role FROM org_members WHERE org_id = ? AND user_id = ?", org, userId))?.role;

/** The directory entry of `userId` in the org. */
async function directoryEntry(userId, token = ownerTok()) {
  const r = await w.get(`/v1/orgs/${orgId}/members?limit=200`, { token });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.data.find((d) => d.user.id === userId);
}

function assertGroupView(g) {
  assert.deepEqual(Object.keys(g).sort(), GROUP_KEYS);
  assert.match(g.id, /^[0-9a-f-]{36}$/);
  assert.equal(g.org_id, orgId);
  assert.match(g.created_at, RFC3339);
  assert.match(g.updated_at, RFC3339);
  assert.ok(Array.isArray(g.restrictions));
  assert.equal(typeof g.member_count, "number");
}

function assertGrantView(g, ws = wsId) {
  assert.deepEqual(Object.keys(g).sort(), GRANT_KEYS);
  assert.match(g.id, /^[0-9a-f-]{36}$/);
  assert.equal(g.workspace_id, ws);
  assert.deepEqual(Object.keys(g.principal).sort(), ["id", "type"]);
  assert.deepEqual(Object.keys(g.resource).sort(), ["id", "type"]);
  assert.match(g.created_at, RFC3339);
  assert.match(g.updated_at, RFC3339);
}

before(async () => {
  w = await startWorker();
  ({ owner, admin, editor, viewer, member, outsider, orgId, wsId } = await w.orgRoster());
});
after(async () => { await w?.dispose(); });

// ---------------------------------------------------------------------------------------
// 1. Groups CRUD

test("create: 201 with the full shape, restrictions deduplicated, D1 row and group.created audit", async () => {
  const name = uniqueName("Field team");
  const r = await w.post(G(), {
    name,
    description: "People on the road",
    restrictions: [
      { type: "dashboard", id: "sales" },
      { type: "device", id: "truck-7" },
      { type: "dashboard", id: "sales" },
    ],
  }, { token: admin.access_token });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  assertGroupView(r.body);
  assert.equal(r.body.name, name);
  assert.equal(r.body.description, "People on the road");
  assert.deepEqual(r.body.restrictions, [{ type: "dashboard", id: "sales" }, { type: "device", id: "truck-7" }]);
  assert.equal(r.body.member_count, 0);

  const row = await groupRow(r.body.id);
  assert.equal(row.org_id, orgId);
  assert.equal(row.name, name);
  assert.equal(row.name_key, name.toLowerCase());
  assert.equal(row.restricting, 1);
  assert.deepEqual(JSON.parse(row.restrictions), [{ type: "dashboard", id: "sales" }, { type: "device", id: "truck-7" }]);

  const ev = await audits("group.created", r.body.id);
  assert.equal(ev.length, 1);
  assert.equal(ev[0].target_type, "group");
  assert.equal(ev[0].actor_id, admin.user.id);

  // The same body read back.
  const got = await w.get(G(`/${r.body.id}`), { token: owner.access_token });
  assert.equal(got.status, 200, JSON.stringify(got.body));
  assert.deepEqual(got.body, r.body);
});

test("create: description and restrictions are optional; without restrictions the group does not restrict", async () => {
  const name = uniqueName("Readers");
  const r = await w.post(G(), { name }, { token: owner.access_token });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  assertGroupView(r.body);
  assert.equal(r.body.description, null);
  assert.deepEqual(r.body.restrictions, []);
  assert.equal(r.body.member_count, 0);
  const row = await groupRow(r.body.id);
  assert.equal(row.description, null);
  assert.equal(row.restricting, 0);
  assert.deepEqual(JSON.parse(row.restrictions), []);
  assert.equal((await audits("group.created", r.body.id)).length, 1);

  const empty = await w.post(G(), { name: uniqueName("Empty list"), restrictions: [] }, { token: owner.access_token });
  assert.equal(empty.status, 201, JSON.stringify(empty.body));
  assert.deepEqual(empty.body.restrictions, []);
  assert.equal((await groupRow(empty.body.id)).restricting, 0);
});

test("names are unique per org case-insensitively: 409 conflict on create and on rename; nothing written", async () => {
  const name = uniqueName("Auditors");
  const first = await newGroup({ name });
  const other = await newGroup();
  const before = await count("SELECT COUNT(*) AS n FROM groups WHERE org_id = ?", orgId);
  const createdBefore = await count("SELECT COUNT(*) AS n FROM audit_events WHERE org_id = ? AND action = 'group.created'", orgId);

  assertProblem(await w.post(G(), { name: name.toUpperCase() }, { token: owner.access_token }), 409, "conflict");
  assertProblem(await w.post(G(), { name }, { token: owner.access_token }), 409, "conflict");
  assert.equal(await count("SELECT COUNT(*) AS n FROM groups WHERE org_id = ?", orgId), before);
  assert.equal(await count("SELECT COUNT(*) AS n FROM audit_events WHERE org_id = ? AND action = 'group.created'", orgId), createdBefore);

  assertProblem(await w.patch(G(`/${other.id}`), { name: name.toLowerCase() }, { token: owner.access_token }), 409, "conflict");
  assert.equal((await groupRow(other.id)).name, other.name);
  assert.equal((await audits("group.updated", other.id)).length, 0);

  // Renaming a group to a different case of its own name is no conflict.
  const self = await w.patch(G(`/${first.id}`), { name: name.toUpperCase() }, { token: owner.access_token });
  assert.equal(self.status, 200, JSON.stringify(self.body));
  assert.equal(self.body.name, name.toUpperCase());

  // Another org may use the same name.
  const foreign = await w.post(G("", outsider.organization.id), { name }, { token: outsider.access_token });
  assert.equal(foreign.status, 201, JSON.stringify(foreign.body));
  assert.equal(foreign.body.org_id, outsider.organization.id);
});

test("create validation: 422 naming the field, nothing written", async () => {
  const ok = () => ({ name: uniqueName("Valid") });
  const many = Array.from({ length: 501 }, (_, i) => ({ type: "dashboard", id: `d-${i}` }));
  const cases = [
    ["empty name", { name: "" }, "name"],
    ["blank name", { name: "   " }, "name"],
    ["overlong name", { name: "x".repeat(101) }, "name"],
    ["missing name", { description: "no name" }, "name"],
    ["name not a string", { name: 42 }, "name"],
    ["name null", { name: null }, "name"],
    ["overlong description", { ...ok(), description: "d".repeat(1001) }, "description"],
    ["description not a string", { ...ok(), description: 5 }, "description"],
    ["type with a space", { ...ok(), restrictions: [{ type: "dash board", id: "x" }] }, "restrictions[0].type"],
    ["empty type", { ...ok(), restrictions: [{ type: "", id: "x" }] }, "restrictions[0].type"],
    ["65-char type", { ...ok(), restrictions: [{ type: "t".repeat(65), id: "x" }] }, "restrictions[0].type"],
    ["empty id", { ...ok(), restrictions: [{ type: "dashboard", id: "" }] }, "restrictions[0].id"],
    ["control char in id", { ...ok(), restrictions: [{ type: "dashboard", id: "a\u0001b" }] }, "restrictions[0].id"],
    ["second entry bad", { ...ok(), restrictions: [{ type: "dashboard", id: "ok" }, { type: "dashboard", id: "\n" }] }, "restrictions[1].id"],
    ["more than 500 restrictions", { ...ok(), restrictions: many }, "restrictions"],
    ["restrictions not a list", { ...ok(), restrictions: "dashboard:x" }, "restrictions"],
    ["restriction not an object", { ...ok(), restrictions: ["dashboard"] }, "restrictions"],
    ["restriction type not a string", { ...ok(), restrictions: [{ type: 1, id: "x" }] }, "restrictions"],
    ["restriction unknown field", { ...ok(), restrictions: [{ type: "dashboard", id: "x", scope: "all" }] }, "restrictions"],
    ["restriction without id", { ...ok(), restrictions: [{ type: "dashboard" }] }, "restrictions"],
    ["unknown field", { ...ok(), color: "red" }, "color"],
  ];
  const before = await count("SELECT COUNT(*) AS n FROM groups WHERE org_id = ?", orgId);
  for (const [label, body, field] of cases) {
    const r = await w.post(G(), body, { token: owner.access_token });
    assert.equal(r.status, 422, `${label}: ${JSON.stringify(r.body)}`);
    assertField(r, field, { prefix: true });
  }
  assertField(await w.request("POST", G(), { raw: "[]", token: owner.access_token, headers: { "content-type": "application/json" } }), "body");
  assert.equal(await count("SELECT COUNT(*) AS n FROM groups WHERE org_id = ?", orgId), before);

  // 500 resources is the ceiling, not past it; a 64-char type and a 256-char id are fine.
  const edge = await w.post(G(), {
    name: uniqueName("Edge"),
    restrictions: [...many.slice(0, 499), { type: "t".repeat(64), id: "i".repeat(256) }],
  }, { token: owner.access_token });
  assert.equal(edge.status, 201, JSON.stringify(edge.body).slice(0, 300));
  assert.equal(edge.body.restrictions.length, 500);
});

test("list: keyset pages with ?limit=2 walk every group of the org exactly once; only this org's", async () => {
  for (let i = 0; i < 3; i++) await newGroup();
  const foreign = await w.post(G("", outsider.organization.id), { name: uniqueName("Foreign") }, { token: outsider.access_token });
  assert.equal(foreign.status, 201);
  const expected = (await w.rows("SELECT id FROM groups WHERE org_id = ? ORDER BY id", orgId)).map((r) => r.id);
  assert.ok(expected.length >= 5);

  const seen = await w.walk(G(), admin.access_token);
  assert.deepEqual(seen.map((g) => g.id), expected);
  assert.ok(!seen.some((g) => g.id === foreign.body.id));
  for (const g of seen) assertGroupView(g);

  const all = await w.get(G(), { token: owner.access_token });
  assert.equal(all.status, 200);
  assert.deepEqual(all.body.data.map((g) => g.id), expected);
  assert.equal(all.body.next_cursor, null);
  assertField(await w.get(G("?cursor=bogus"), { token: owner.access_token }), "cursor");
  assertField(await w.get(G("?limit=0"), { token: owner.access_token }), "limit");
});

test("patch: name; description set and cleared with null; restrictions set, lifted with null and with []; audited", async () => {
  const g = await newGroup({ description: "before" });
  const path = G(`/${g.id}`);
  const tok = { token: admin.access_token };

  const renamed = await w.patch(path, { name: "  Renamed team  " }, tok);
  assert.equal(renamed.status, 200, JSON.stringify(renamed.body));
  assertGroupView(renamed.body);
  assert.equal(renamed.body.id, g.id);
  assert.equal(renamed.body.name, "Renamed team");
  assert.equal(renamed.body.description, "before");
  assert.equal((await groupRow(g.id)).name_key, "renamed team");

  const described = await w.patch(path, { description: "after" }, tok);
  assert.equal(described.status, 200);
  assert.equal(described.body.description, "after");
  assert.equal(described.body.name, "Renamed team");
  const cleared = await w.patch(path, { description: null }, tok);
  assert.equal(cleared.status, 200);
  assert.equal(cleared.body.description, null);
  assert.equal((await groupRow(g.id)).description, null);

  const restricted = await w.patch(path, {
    restrictions: [{ type: "report", id: "q1" }, { type: "report", id: "q1" }, { type: "report", id: "q2" }],
  }, tok);
  assert.equal(restricted.status, 200, JSON.stringify(restricted.body));
  assert.deepEqual(restricted.body.restrictions, [{ type: "report", id: "q1" }, { type: "report", id: "q2" }]);
  assert.equal((await groupRow(g.id)).restricting, 1);

  const liftedNull = await w.patch(path, { restrictions: null }, tok);
  assert.equal(liftedNull.status, 200);
  assert.deepEqual(liftedNull.body.restrictions, []);
  assert.equal((await groupRow(g.id)).restricting, 0);

  assert.equal((await w.patch(path, { restrictions: [{ type: "report", id: "q3" }] }, tok)).status, 200);
  assert.equal((await groupRow(g.id)).restricting, 1);
  const liftedEmpty = await w.patch(path, { restrictions: [] }, tok);
  assert.equal(liftedEmpty.status, 200);
  assert.deepEqual(liftedEmpty.body.restrictions, []);
  const row = await groupRow(g.id);
  assert.equal(row.restricting, 0);
  assert.deepEqual(JSON.parse(row.restrictions), []);
  assert.deepEqual(await w.get(path, tok).then((r) => r.body), liftedEmpty.body);

  const ev = await audits("group.updated", g.id);
  assert.deepEqual(ev.map((e) => JSON.parse(e.metadata).fields), [
    ["name"], ["description"], ["description"], ["restrictions"], ["restrictions"], ["restrictions"], ["restrictions"],
  ]);
  assert.ok(ev.every((e) => e.target_type === "group" && e.actor_id === admin.user.id));
});

test("patch validation: 422 naming the field, group unchanged", async () => {
  const g = await newGroup({ description: "keep", restrictions: [{ type: "report", id: "keep" }] });
  const path = G(`/${g.id}`);
  const cases = [
    ["name null", { name: null }, "name"],
    ["empty name", { name: "" }, "name"],
    ["overlong name", { name: "n".repeat(101) }, "name"],
    ["name not a string", { name: ["x"] }, "name"],
    ["overlong description", { description: "d".repeat(1001) }, "description"],
    ["bad type", { restrictions: [{ type: "a b", id: "x" }] }, "restrictions[0].type"],
    ["empty id", { restrictions: [{ type: "report", id: "" }] }, "restrictions[0].id"],
    ["control char in id", { restrictions: [{ type: "report", id: "x\u007f" }] }, "restrictions[0].id"],
    ["more than 500", { restrictions: Array.from({ length: 501 }, (_, i) => ({ type: "r", id: `${i}` })) }, "restrictions"],
    ["restrictions not a list", { restrictions: {} }, "restrictions"],
    ["unknown field", { org_id: outsider.organization.id }, "org_id"],
  ];
  for (const [label, body, field] of cases) {
    const r = await w.patch(path, body, { token: owner.access_token });
    assert.equal(r.status, 422, `${label}: ${JSON.stringify(r.body)}`);
    assertField(r, field, { prefix: true });
  }
  const row = await groupRow(g.id);
  assert.equal(row.name, g.name);
  assert.equal(row.description, "keep");
  assert.deepEqual(JSON.parse(row.restrictions), [{ type: "report", id: "keep" }]);
  assert.equal((await audits("group.updated", g.id)).length, 0);
});

test("delete: 204; memberships and the group's grants go (a user's grant stays); GET 404; audited", async () => {
  const g = await newGroup();
  await addToGroup(g.id, editor.user.id);
  await addToGroup(g.id, viewer.user.id);
  await grant({ principal: groupP(g), resource: { type: "dashboard", id: "del-1" }, permission: "edit" });
  const userGrant = await grant({ principal: userP(editor), resource: { type: "dashboard", id: "del-1" }, permission: "view" });
  assert.equal(await count("SELECT COUNT(*) AS n FROM group_members WHERE group_id = ?", g.id), 2);

  const r = await w.del(G(`/${g.id}`), { token: admin.access_token });
  assert.equal(r.status, 204, JSON.stringify(r.body));
  assert.equal(r.body, null);
  assert.equal(await groupRow(g.id), undefined);
  assert.equal(await count("SELECT COUNT(*) AS n FROM group_members WHERE group_id = ?", g.id), 0);
  assert.equal(await count("SELECT COUNT(*) AS n FROM grants WHERE principal_type = 'group' AND principal_id = ?", g.id), 0);
  assert.equal(await count("SELECT COUNT(*) AS n FROM grants WHERE id = ?", userGrant.id), 1);
  assertProblem(await w.get(G(`/${g.id}`), { token: owner.access_token }), 404, "not_found");
  assertProblem(await w.get(GM(g.id), { token: owner.access_token }), 404, "not_found");
  assertProblem(await w.del(G(`/${g.id}`), { token: owner.access_token }), 404, "not_found");
  assert.ok(!(await directoryEntry(editor.user.id)).groups.some((x) => x.id === g.id));

  const ev = await audits("group.deleted", g.id);
  assert.equal(ev.length, 1);
  assert.equal(ev[0].target_type, "group");
  assert.equal(ev[0].actor_id, admin.user.id);
  await delWith(grantsPath(), { principal: userP(editor), resource: { type: "dashboard", id: "del-1" } }, ownerTok());
});

// ---------------------------------------------------------------------------------------
// 2. Permissions

test("governance only: editor/viewer/member 403 on every group and grant route; outsiders 404; no token 401; nothing written", async () => {
  const g = await newGroup();
  const target = editor.user.id;
  const grantBody = { principal: userP(viewer), resource: { type: "dashboard", id: "perm" }, permission: "view" };
  const routes = (org = orgId) => [
    ["POST", G("", org), { name: uniqueName("Denied") }],
    ["GET", G("", org)],
    ["GET", G(`/${g.id}`, org)],
    ["PATCH", G(`/${g.id}`, org), { name: uniqueName("Denied") }],
    ["DELETE", G(`/${g.id}`, org)],
    ["GET", `/v1/orgs/${org}/groups/${g.id}/members`],
    ["PUT", `/v1/orgs/${org}/groups/${g.id}/members/${target}`],
    ["DELETE", `/v1/orgs/${org}/groups/${g.id}/members/${target}`],
    ["PUT", grantsPath(wsId, org), grantBody],
    ["GET", grantsPath(wsId, org)],
    ["DELETE", grantsPath(wsId, org), { principal: grantBody.principal, resource: grantBody.resource }],
  ];
  const groupsBefore = await count("SELECT COUNT(*) AS n FROM groups WHERE org_id = ?", orgId);
  const auditBefore = await count("SELECT COUNT(*) AS n FROM audit_events WHERE org_id = ?", orgId);
  for (const u of [editor, viewer, member]) {
    for (const [method, path, body] of routes()) {
      const r = await w.request(method, path, { body, token: u.access_token });
      assertProblem(r, 403, "forbidden");
    }
  }
  for (const [method, path, body] of routes()) {
    assertProblem(await w.request(method, path, { body, token: outsider.access_token }), 404, "not_found");
    assertProblem(await w.request(method, path, { body }), 401, "unauthorized");
  }
  assert.equal(await count("SELECT COUNT(*) AS n FROM groups WHERE org_id = ?", orgId), groupsBefore);
  assert.equal(await count("SELECT COUNT(*) AS n FROM audit_events WHERE org_id = ?", orgId), auditBefore);
  assert.equal((await groupRow(g.id)).name, g.name);
  assert.equal(await count("SELECT COUNT(*) AS n FROM group_members WHERE group_id = ?", g.id), 0);
  assert.equal(await count("SELECT COUNT(*) AS n FROM grants WHERE resource_id = 'perm'"), 0);
});

test("ids: another org's group through your own org 404; non-UUID and unknown group ids 404", async () => {
  const foreign = await w.post(G("", outsider.organization.id), { name: uniqueName("Theirs") }, { token: outsider.access_token });
  assert.equal(foreign.status, 201);
  const fid = foreign.body.id;
  const tok = { token: owner.access_token };
  for (const id of [fid, "not-a-uuid", randomUUID()]) {
    assertProblem(await w.get(G(`/${id}`), tok), 404, "not_found");
    assertProblem(await w.patch(G(`/${id}`), { name: uniqueName("Stolen") }, tok), 404, "not_found");
    assertProblem(await w.del(G(`/${id}`), tok), 404, "not_found");
    assertProblem(await w.get(GM(id), tok), 404, "not_found");
    assertProblem(await put(GM(id, editor.user.id), undefined, owner.access_token), 404, "not_found");
    assertProblem(await w.del(GM(id, editor.user.id), tok), 404, "not_found");
  }
  // The foreign group is untouched; the owner of that org still sees it; and outsiders
  // get 404 on our org with their own group id too.
  assert.equal((await groupRow(fid)).name, foreign.body.name);
  assert.equal(await count("SELECT COUNT(*) AS n FROM group_members WHERE group_id = ?", fid), 0);
  assert.equal((await w.get(G(`/${fid}`, outsider.organization.id), { token: outsider.access_token })).status, 200);
  assertProblem(await w.get(G(`/${fid}`), { token: outsider.access_token }), 404, "not_found");
  // A group id as a grant principal of another org is not a principal here.
  assertField(await put(grantsPath(), { principal: groupP(fid), resource: { type: "dashboard", id: "x" }, permission: "view" }, owner.access_token), "principal.id");
});

// ---------------------------------------------------------------------------------------
// 3. Members of a group

test("group members: PUT adds (204, idempotent), member_count and the directory show it; DELETE removes; audited", async () => {
  const g = await newGroup({ name: uniqueName("Crew") });
  const u = await newMember("editor");
  const path = GM(g.id, u.user.id);

  const r = await put(path, undefined, admin.access_token);
  assert.equal(r.status, 204, JSON.stringify(r.body));
  assert.equal(r.body, null);
  assert.ok(await inGroup(g.id, u.user.id));
  const row = await w.one("SELECT org_id, added_at FROM group_members WHERE group_id = ? AND user_id = ?", g.id, u.user.id);
  assert.equal(row.org_id, orgId);
  assert.ok(row.added_at > 0);
  const again = await put(path, undefined, owner.access_token);
  assert.equal(again.status, 204);
  assert.equal(await count("SELECT COUNT(*) AS n FROM group_members WHERE group_id = ?", g.id), 1);
  assert.equal((await w.one("SELECT added_at FROM group_members WHERE group_id = ? AND user_id = ?", g.id, u.user.id)).added_at, row.added_at);

  const added = await audits("group.member_added", g.id);
  assert.equal(added.length, 1, "the idempotent repeat writes no second event");
  assert.equal(added[0].target_type, "group");
  assert.equal(added[0].actor_id, admin.user.id);
  assert.equal(JSON.parse(added[0].metadata).user_id, u.user.id);

  assert.equal((await w.get(G(`/${g.id}`), { token: owner.access_token })).body.member_count, 1);
  await addToGroup(g.id, viewer.user.id);
  assert.equal((await w.get(G(`/${g.id}`), { token: owner.access_token })).body.member_count, 2);
  const listed = (await w.get(G(), { token: owner.access_token })).body.data.find((x) => x.id === g.id);
  assert.equal(listed.member_count, 2);

  // The directory shows the groups as {id, name}, ordered by name.
  const second = await newGroup({ name: `A ${uniqueName("first by name")}` });
  await addToGroup(second.id, u.user.id);
  const entry = await directoryEntry(u.user.id);
  assert.deepEqual(entry.groups, [{ id: second.id, name: second.name }, { id: g.id, name: g.name }]);
  const byAdmin = await directoryEntry(u.user.id, admin.access_token);
  assert.deepEqual(byAdmin.groups, entry.groups);

  // Removal.
  const rm = await w.del(path, { token: admin.access_token });
  assert.equal(rm.status, 204, JSON.stringify(rm.body));
  assert.ok(!(await inGroup(g.id, u.user.id)));
  assertProblem(await w.del(path, { token: admin.access_token }), 404, "not_found");
  assert.equal((await w.get(G(`/${g.id}`), { token: owner.access_token })).body.member_count, 1);
  assert.deepEqual((await directoryEntry(u.user.id)).groups, [{ id: second.id, name: second.name }]);
  const removed = await audits("group.member_removed", g.id);
  assert.equal(removed.length, 1);
  assert.equal(JSON.parse(removed[0].metadata).user_id, u.user.id);
  assert.equal(removed[0].actor_id, admin.user.id);
});

test("group members: a user outside the org, an unknown or a malformed user id is 404, nothing written", async () => {
  const g = await newGroup();
  for (const id of [outsider.user.id, randomUUID(), "nobody"]) {
    assertProblem(await put(GM(g.id, id), undefined, owner.access_token), 404, "not_found");
    assertProblem(await w.del(GM(g.id, id), { token: owner.access_token }), 404, "not_found");
  }
  // An org member who is not in the group: DELETE 404.
  assertProblem(await w.del(GM(g.id, viewer.user.id), { token: owner.access_token }), 404, "not_found");
  assert.equal(await count("SELECT COUNT(*) AS n FROM group_members WHERE group_id = ?", g.id), 0);
  assert.equal((await audits("group.member_added", g.id)).length, 0);
  assert.equal((await audits("group.member_removed", g.id)).length, 0);
});

test("group members list: {user, role, added_at} in keyset pages of 2, every member once", async () => {
  const g = await newGroup();
  const people = [[admin, "admin"], [editor, "editor"], [viewer, "viewer"], [member, "member"], [owner, "owner"]];
  for (const [u] of people) await addToGroup(g.id, u.user.id);

  const seen = await w.walk(GM(g.id), admin.access_token);
  assert.equal(seen.length, people.length);
  assert.deepEqual(seen.map((m) => m.user.id), people.map(([u]) => u.user.id).sort());
  for (const m of seen) {
    assert.deepEqual(Object.keys(m).sort(), ["added_at", "role", "user"]);
    assert.match(m.added_at, RFC3339);
    const [u, role] = people.find(([p]) => p.user.id === m.user.id);
    assert.equal(m.role, role);
    assert.equal(m.user.email, u.email);
    assert.equal(m.user.first_name, "Ada");
    assert.equal(m.user.last_name, "Lovelace");
  }
  const whole = await w.get(GM(g.id), { token: owner.access_token });
  assert.equal(whole.body.data.length, people.length);
  assert.equal(whole.body.next_cursor, null);
  assertField(await w.get(GM(g.id) + "?cursor=bogus", { token: owner.access_token }), "cursor");
  const empty = await w.get(GM((await newGroup()).id), { token: owner.access_token });
  assert.deepEqual(empty.body, { data: [], next_cursor: null });
});

// ---------------------------------------------------------------------------------------
// 4. Owners and admins are never in a restricting group

test("adding the owner or an admin to a restricting group is 422 (field user), nothing written; an unrestricting group may hold them", async () => {
  const restricting = await newGroup({ restrictions: [{ type: "dashboard", id: "only-this" }] });
  for (const u of [owner, admin]) {
    for (const by of [owner, admin]) {
      assertField(await put(GM(restricting.id, u.user.id), undefined, by.access_token), "user");
    }
    assert.ok(!(await inGroup(restricting.id, u.user.id)));
  }
  assert.equal((await audits("group.member_added", restricting.id)).length, 0);
  // A viewer may be restricted.
  await addToGroup(restricting.id, viewer.user.id);
  assert.ok(await inGroup(restricting.id, viewer.user.id));

  const open = await newGroup();
  await addToGroup(open.id, owner.user.id);
  await addToGroup(open.id, admin.user.id, admin.access_token);
  assert.ok(await inGroup(open.id, owner.user.id));
  assert.ok(await inGroup(open.id, admin.user.id));
  assert.equal((await audits("group.member_added", open.id)).length, 2);
});

test("restricting a group that holds an admin (or the owner) is 422 (field restrictions); the group is unchanged", async () => {
  for (const privileged of [admin, owner]) {
    const g = await newGroup({ description: "has a privileged member" });
    await addToGroup(g.id, privileged.user.id);
    await addToGroup(g.id, editor.user.id);
    const r = await w.patch(G(`/${g.id}`), { name: uniqueName("Now restricted"), restrictions: [{ type: "dashboard", id: "x" }] }, { token: owner.access_token });
    assertField(r, "restrictions");
    const row = await groupRow(g.id);
    assert.equal(row.name, g.name, "the whole change is refused, the name too");
    assert.equal(row.restricting, 0);
    assert.deepEqual(JSON.parse(row.restrictions), []);
    assert.equal((await audits("group.updated", g.id)).length, 0);
    assert.ok(await inGroup(g.id, privileged.user.id));
    const got = await w.get(G(`/${g.id}`), { token: owner.access_token });
    assert.deepEqual(got.body.restrictions, []);
    assert.equal(got.body.member_count, 2);
  }
  // Without a privileged member the same change passes.
  const g = await newGroup();
  await addToGroup(g.id, editor.user.id);
  const ok = await w.patch(G(`/${g.id}`), { restrictions: [{ type: "dashboard", id: "x" }] }, { token: owner.access_token });
  assert.equal(ok.status, 200, JSON.stringify(ok.body));
  assert.equal((await groupRow(g.id)).restricting, 1);
});

test("promoting a restricted member to admin is 422 (field role), role unchanged; an unrestricted one may be promoted", async () => {
  const restricting = await newGroup({ restrictions: [{ type: "device", id: "d1" }] });
  const u = await newMember("editor");
  await addToGroup(restricting.id, u.user.id);
  const path = `/v1/orgs/${orgId}/members/${u.user.id}`;

  assertField(await w.patch(path, { role: "admin" }, { token: owner.access_token }), "role");
  assert.equal(await orgRole(u.user.id), "editor");
  assert.equal((await audits("member.role_changed", u.user.id)).length, 0);
  // Other role changes are fine.
  const down = await w.patch(path, { role: "viewer" }, { token: owner.access_token });
  assert.equal(down.status, 200, JSON.stringify(down.body));
  assert.equal(await orgRole(u.user.id), "viewer");

  // Out of the restricting group (or in an unrestricting one only) they may become admin.
  const open = await newGroup();
  await addToGroup(open.id, u.user.id);
  assert.equal((await w.del(GM(restricting.id, u.user.id), { token: owner.access_token })).status, 204);
  const up = await w.patch(path, { role: "admin" }, { token: owner.access_token });
  assert.equal(up.status, 200, JSON.stringify(up.body));
  assert.equal(await orgRole(u.user.id), "admin");
  assert.ok(await inGroup(open.id, u.user.id));
});

test("transferring ownership to a restricted editor is 422 (field user_id); nothing changes", async () => {
  // A separate org, so the shared fixture's owner stays the owner.
  const boss = await w.activeUser();
  const org = boss.organization.id;
  const heir = await w.activeUser();
  await join(heir, "editor", org, boss.workspace.id);
  const g = await w.post(G("", org), { name: "Restricted heirs", restrictions: [{ type: "vault", id: "1" }] }, { token: boss.access_token });
  assert.equal(g.status, 201, JSON.stringify(g.body));
  const add = await put(`/v1/orgs/${org}/groups/${g.body.id}/members/${heir.user.id}`, undefined, boss.access_token);
  assert.equal(add.status, 204, JSON.stringify(add.body));

  const r = await w.post(`/v1/orgs/${org}/transfer-ownership`, { user_id: heir.user.id }, { token: boss.access_token });
  assertField(r, "user_id");
  assert.equal(await orgRole(boss.user.id, org), "owner");
  assert.equal(await orgRole(heir.user.id, org), "editor");
  assert.equal((await w.one("SELECT owner_id FROM orgs WHERE id = ?", org)).owner_id, boss.user.id);
  assert.equal((await audits("org.ownership_transferred", heir.user.id, org)).length, 0);

  // Once the group no longer restricts, the transfer goes through.
  const lift = await w.patch(`/v1/orgs/${org}/groups/${g.body.id}`, { restrictions: null }, { token: boss.access_token });
  assert.equal(lift.status, 200, JSON.stringify(lift.body));
  const ok = await w.post(`/v1/orgs/${org}/transfer-ownership`, { user_id: heir.user.id }, { token: boss.access_token });
  assert.equal(ok.status, 200, JSON.stringify(ok.body));
  assert.equal(await orgRole(heir.user.id, org), "owner");
});

// ---------------------------------------------------------------------------------------
// 5. Member removal

test("removing a member from the org removes their group memberships and their grants in that org only", async () => {
  const u = await newMember("editor");
  const g1 = await newGroup();
  const g2 = await newGroup({ restrictions: [{ type: "dashboard", id: "leave" }] });
  await addToGroup(g1.id, u.user.id);
  await addToGroup(g2.id, u.user.id);
  await addToGroup(g1.id, viewer.user.id);
  const mine = await grant({ principal: userP(u), resource: { type: "dashboard", id: "leave" }, permission: "manage" });
  const groupGrant = await grant({ principal: groupP(g1), resource: { type: "dashboard", id: "leave" }, permission: "view" });
  const other = await grant({ principal: userP(viewer), resource: { type: "dashboard", id: "leave" }, permission: "view" });
  // The same user's grant in their own org is not touched.
  const own = await put(grantsPath(u.workspace.id, u.organization.id), { principal: userP(u), resource: { type: "dashboard", id: "leave" }, permission: "edit" }, u.access_token);
  assert.equal(own.status, 201, JSON.stringify(own.body));

  const r = await w.del(`/v1/orgs/${orgId}/members/${u.user.id}`, { token: admin.access_token });
  assert.equal(r.status, 204, JSON.stringify(r.body));
  assert.equal(await count("SELECT COUNT(*) AS n FROM group_members WHERE org_id = ? AND user_id = ?", orgId, u.user.id), 0);
  assert.equal(await count("SELECT COUNT(*) AS n FROM grants WHERE id = ?", mine.id), 0);
  assert.equal(await count("SELECT COUNT(*) AS n FROM grants WHERE org_id = ? AND principal_type = 'user' AND principal_id = ?", orgId, u.user.id), 0);
  for (const kept of [groupGrant.id, other.id, own.body.id]) {
    assert.equal(await count("SELECT COUNT(*) AS n FROM grants WHERE id = ?", kept), 1, `grant ${kept} kept`);
  }
  assert.ok(await inGroup(g1.id, viewer.user.id));
  assert.equal((await w.get(G(`/${g1.id}`), { token: owner.access_token })).body.member_count, 1);
  assert.equal((await w.get(G(`/${g2.id}`), { token: owner.access_token })).body.member_count, 0);
  const listed = await w.get(`${grantsPath()}?principal_id=${u.user.id}`, { token: owner.access_token });
  assert.deepEqual(listed.body.data, []);
  await delWith(grantsPath(), { principal: groupP(g1), resource: { type: "dashboard", id: "leave" } }, ownerTok());
  await delWith(grantsPath(), { principal: userP(viewer), resource: { type: "dashboard", id: "leave" } }, ownerTok());
});

// ---------------------------------------------------------------------------------------
// 6. Grants

test("grants: PUT creates (201) then changes the permission (200, same id); shape, D1 and audit", async () => {
  const u = await newMember("viewer");
  const body = { principal: userP(u), resource: { type: "dashboard", id: "sales-eu" }, permission: "view" };
  const created = await grant(body, 201, wsId, admin.access_token);
  assertGrantView(created);
  assert.deepEqual(created.principal, { type: "user", id: u.user.id });
  assert.deepEqual(created.resource, { type: "dashboard", id: "sales-eu" });
  assert.equal(created.permission, "view");
  assert.equal(created.created_at, created.updated_at);

  const row = await w.one("SELECT * FROM grants WHERE id = ?", created.id);
  assert.equal(row.org_id, orgId);
  assert.equal(row.workspace_id, wsId);
  assert.equal(row.principal_type, "user");
  assert.equal(row.principal_id, u.user.id);
  assert.equal(row.resource_type, "dashboard");
  assert.equal(row.resource_id, "sales-eu");
  assert.equal(row.permission, "view");
  assert.equal(row.created_by, admin.user.id);

  const changed = await grant({ ...body, permission: "manage" }, 200);
  assertGrantView(changed);
  assert.equal(changed.id, created.id);
  assert.equal(changed.permission, "manage");
  assert.equal(changed.created_at, created.created_at);
  assert.ok(changed.updated_at >= created.updated_at);
  assert.equal(await count("SELECT COUNT(*) AS n FROM grants WHERE workspace_id = ? AND principal_id = ? AND resource_id = 'sales-eu'", wsId, u.user.id), 1);
  assert.equal((await w.one("SELECT permission FROM grants WHERE id = ?", created.id)).permission, "manage");

  // The same permission again changes nothing: no write, no event.
  const again = await grant({ ...body, permission: "manage" }, 200);
  assert.equal(again.updated_at, changed.updated_at, "an unchanged grant is not written");

  // A group principal, and the same resource for a different principal, are separate grants.
  const g = await newGroup();
  const forGroup = await grant({ principal: groupP(g), resource: body.resource, permission: "edit" });
  assert.notEqual(forGroup.id, created.id);
  assert.deepEqual(forGroup.principal, { type: "group", id: g.id });

  const ev = await w.rows("SELECT * FROM audit_events WHERE org_id = ? AND action IN ('grant.created', 'grant.updated') AND target_id = ? AND metadata LIKE ? ORDER BY id",
    orgId, wsId, `%${u.user.id}%`);
  assert.deepEqual(ev.map((e) => e.action), ["grant.created", "grant.updated"]);
  for (const e of ev) {
    assert.equal(e.target_type, "workspace");
    const m = JSON.parse(e.metadata);
    assert.deepEqual(m.principal, { type: "user", id: u.user.id });
    assert.deepEqual(m.resource, { type: "dashboard", id: "sales-eu" });
  }
  assert.equal(ev[0].actor_id, admin.user.id);
  assert.equal(JSON.parse(ev[0].metadata).permission, "view");
  assert.equal(ev[1].actor_id, owner.user.id);
  assert.equal(JSON.parse(ev[1].metadata).permission, "manage");
  assert.equal(JSON.parse(ev[1].metadata).from, "view");
});

test("grants: PUT validation (422 naming the field) and unknown or foreign workspaces (404); nothing written", async () => {
  const outsiderGroup = await w.post(G("", outsider.organization.id), { name: uniqueName("Foreign principals") }, { token: outsider.access_token });
  assert.equal(outsiderGroup.status, 201);
  const res = { type: "dashboard", id: "v-1" };
  const ok = { principal: userP(editor), resource: res, permission: "view" };
  const cases = [
    ["user outside the org", { ...ok, principal: userP(outsider) }, "principal.id"],
    ["unknown user", { ...ok, principal: { type: "user", id: randomUUID() } }, "principal.id"],
    ["unknown group", { ...ok, principal: { type: "group", id: randomUUID() } }, "principal.id"],
    ["another org's group", { ...ok, principal: groupP(outsiderGroup.body) }, "principal.id"],
    ["user id that is a group", { ...ok, principal: { type: "user", id: outsiderGroup.body.id } }, "principal.id"],
    ["principal id not a uuid", { ...ok, principal: { type: "user", id: "bob" } }, "principal.id"],
    ["bad principal type", { ...ok, principal: { type: "role", id: editor.user.id } }, "principal.type"],
    ["missing principal", { resource: res, permission: "view" }, "principal"],
    ["principal unknown field", { ...ok, principal: { ...userP(editor), name: "x" } }, "principal"],
    ["bad permission", { ...ok, permission: "admin" }, "permission"],
    ["permission case", { ...ok, permission: "View" }, "permission"],
    ["missing permission", { principal: ok.principal, resource: res }, "permission"],
    ["permission not a string", { ...ok, permission: 2 }, "permission"],
    ["resource type with a space", { ...ok, resource: { type: "dash board", id: "x" } }, "resource.type"],
    ["resource type 65 chars", { ...ok, resource: { type: "t".repeat(65), id: "x" } }, "resource.type"],
    ["empty resource id", { ...ok, resource: { type: "dashboard", id: "" } }, "resource.id"],
    ["resource id 257 chars", { ...ok, resource: { type: "dashboard", id: "i".repeat(257) } }, "resource.id"],
    ["control char in resource id", { ...ok, resource: { type: "dashboard", id: "a\tb" } }, "resource.id"],
    ["resource missing", { principal: ok.principal, permission: "view" }, "resource"],
    ["unknown field", { ...ok, expires_at: "never" }, "expires_at"],
  ];
  const before = await count("SELECT COUNT(*) AS n FROM grants WHERE org_id = ?", orgId);
  for (const [label, body, field] of cases) {
    const r = await put(grantsPath(), body, owner.access_token);
    assert.equal(r.status, 422, `${label}: ${JSON.stringify(r.body)}`);
    assertField(r, field, { prefix: true });
  }
  for (const ws of [outsider.workspace.id, randomUUID(), "not-a-uuid"]) {
    assertProblem(await put(grantsPath(ws), ok, owner.access_token), 404, "not_found");
    assertProblem(await w.get(grantsPath(ws), { token: owner.access_token }), 404, "not_found");
    assertProblem(await delWith(grantsPath(ws), { principal: ok.principal, resource: res }, owner.access_token), 404, "not_found");
  }
  assert.equal(await count("SELECT COUNT(*) AS n FROM grants WHERE org_id = ?", orgId), before);
  assert.equal(await count("SELECT COUNT(*) AS n FROM grants WHERE workspace_id = ?", outsider.workspace.id), 0);
  assert.equal(await count("SELECT COUNT(*) AS n FROM audit_events WHERE org_id = ? AND action LIKE 'grant.%' AND metadata LIKE '%v-1%'", orgId), 0);
});

test("grants list: every filter, 422 on a bad principal_type, keyset pages; metrics.groups counts groups holding a grant", async () => {
  const ws = await w.post(`/v1/orgs/${orgId}/workspaces`, { name: uniqueName("Grants ws") }, { token: owner.access_token });
  assert.equal(ws.status, 201, JSON.stringify(ws.body));
  const id = ws.body.id;
  assert.equal(ws.body.metrics.groups, 0);
  const g = await newGroup();
  const h = await newGroup();
  const made = [
    await grant({ principal: userP(editor), resource: { type: "dashboard", id: "sales" }, permission: "edit" }, 201, id),
    await grant({ principal: userP(viewer), resource: { type: "dashboard", id: "ops" }, permission: "view" }, 201, id),
    await grant({ principal: groupP(g), resource: { type: "dashboard", id: "sales" }, permission: "manage" }, 201, id),
    await grant({ principal: groupP(g), resource: { type: "device", id: "d-1" }, permission: "view" }, 201, id),
  ];
  const metrics = async () => {
    const r = await w.get(`/v1/orgs/${orgId}/workspaces/${id}`, { token: owner.access_token });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    return r.body.metrics.groups;
  };
  assert.equal(await metrics(), 1, "one group, however many grants it holds");
  made.push(await grant({ principal: groupP(h), resource: { type: "device", id: "d-1" }, permission: "edit" }, 201, id));
  assert.equal(await metrics(), 2);
  // A grant in the main workspace does not count here.
  await grant({ principal: groupP((await newGroup()).id), resource: { type: "device", id: "elsewhere" }, permission: "view" });
  assert.equal(await metrics(), 2);

  const list = async (query) => {
    const r = await w.get(`${grantsPath(id)}${query}`, { token: admin.access_token });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    for (const x of r.body.data) assertGrantView(x, id);
    return r.body.data.map((x) => x.id).sort();
  };
  const ids = (pred) => made.filter(pred).map((x) => x.id).sort();
  assert.deepEqual(await list(""), ids(() => true));
  assert.deepEqual(await list("?principal_type=user"), ids((x) => x.principal.type === "user"));
  assert.deepEqual(await list("?principal_type=group"), ids((x) => x.principal.type === "group"));
  assert.deepEqual(await list(`?principal_id=${g.id}`), ids((x) => x.principal.id === g.id));
  assert.deepEqual(await list(`?principal_id=${editor.user.id}`), ids((x) => x.principal.id === editor.user.id));
  assert.deepEqual(await list("?resource_type=device"), ids((x) => x.resource.type === "device"));
  assert.deepEqual(await list("?resource_id=sales"), ids((x) => x.resource.id === "sales"));
  assert.deepEqual(await list("?resource_type=dashboard&resource_id=sales&principal_type=group"),
    ids((x) => x.resource.id === "sales" && x.principal.type === "group"));
  assert.deepEqual(await list("?resource_type=nothing"), []);
  assertField(await w.get(`${grantsPath(id)}?principal_type=role`, { token: owner.access_token }), "principal_type");

  const walked = await w.walk(grantsPath(id), owner.access_token);
  assert.deepEqual(walked.map((x) => x.id), ids(() => true));
  const walkedGroups = await w.walk(`${grantsPath(id)}?principal_type=group`, owner.access_token, 2);
  assert.deepEqual(walkedGroups.map((x) => x.id), ids((x) => x.principal.type === "group"));
  const listed = walked.find((x) => x.id === made[2].id);
  assert.deepEqual(listed, made[2]);
});

test("grants: DELETE with a body revokes (204, audited grant.revoked); again 404; validation 422", async () => {
  const u = await newMember("viewer");
  const resource = { type: "report", id: "annual" };
  const g = await grant({ principal: userP(u), resource, permission: "edit" });

  assertField(await delWith(grantsPath(), { principal: { type: "team", id: u.user.id }, resource }, owner.access_token), "principal.type");
  assertField(await delWith(grantsPath(), { principal: userP(u), resource: { type: "", id: "annual" } }, owner.access_token), "resource.type");
  assertField(await delWith(grantsPath(), { principal: userP(u), resource, permission: "edit" }, owner.access_token), "permission");
  assertField(await delWith(grantsPath(), { principal: userP(u) }, owner.access_token), "resource");
  // A different resource or principal is no grant: 404.
  assertProblem(await delWith(grantsPath(), { principal: userP(u), resource: { type: "report", id: "other" } }, owner.access_token), 404, "not_found");
  assertProblem(await delWith(grantsPath(), { principal: { type: "group", id: u.user.id }, resource }, owner.access_token), 404, "not_found");
  assert.equal(await count("SELECT COUNT(*) AS n FROM grants WHERE id = ?", g.id), 1);

  const r = await delWith(grantsPath(), { principal: userP(u), resource }, admin.access_token);
  assert.equal(r.status, 204, JSON.stringify(r.body));
  assert.equal(r.body, null);
  assert.equal(await count("SELECT COUNT(*) AS n FROM grants WHERE id = ?", g.id), 0);
  assertProblem(await delWith(grantsPath(), { principal: userP(u), resource }, admin.access_token), 404, "not_found");

  const ev = (await w.rows("SELECT * FROM audit_events WHERE org_id = ? AND action = 'grant.revoked' AND target_id = ? AND metadata LIKE ?",
    orgId, wsId, `%${u.user.id}%`));
  assert.equal(ev.length, 1);
  assert.equal(ev[0].target_type, "workspace");
  assert.equal(ev[0].actor_id, admin.user.id);
  const m = JSON.parse(ev[0].metadata);
  assert.deepEqual(m.principal, { type: "user", id: u.user.id });
  assert.deepEqual(m.resource, resource);
  assert.equal(m.permission, "edit");
});

test("deleting a workspace deletes its grants (and only its)", async () => {
  const ws = await w.post(`/v1/orgs/${orgId}/workspaces`, { name: uniqueName("Doomed") }, { token: owner.access_token });
  assert.equal(ws.status, 201);
  const g = await newGroup();
  await grant({ principal: groupP(g), resource: { type: "device", id: "doomed" }, permission: "view" }, 201, ws.body.id);
  await grant({ principal: userP(editor), resource: { type: "device", id: "doomed" }, permission: "edit" }, 201, ws.body.id);
  const survivor = await grant({ principal: groupP(g), resource: { type: "device", id: "doomed" }, permission: "view" });
  assert.equal(await count("SELECT COUNT(*) AS n FROM grants WHERE workspace_id = ?", ws.body.id), 2);

  const r = await w.del(`/v1/orgs/${orgId}/workspaces/${ws.body.id}`, { token: owner.access_token });
  assert.equal(r.status, 204, JSON.stringify(r.body));
  assert.equal(await count("SELECT COUNT(*) AS n FROM grants WHERE workspace_id = ?", ws.body.id), 0);
  assert.equal(await count("SELECT COUNT(*) AS n FROM grants WHERE id = ?", survivor.id), 1);
  assertProblem(await w.get(grantsPath(ws.body.id), { token: owner.access_token }), 404, "not_found");
  assert.ok(await groupRow(g.id), "the group itself stays");
  await delWith(grantsPath(), { principal: groupP(g), resource: { type: "device", id: "doomed" } }, ownerTok());
});

test("a workspace-only member who leaves the org with their last workspace leaves its groups, and their grants go", async () => {
  const ws = await w.post(`/v1/orgs/${orgId}/workspaces`, { name: uniqueName("Only home") }, { token: owner.access_token });
  assert.equal(ws.status, 201);
  const u = await w.activeUser();
  const add = await put(`/v1/orgs/${orgId}/workspaces/${ws.body.id}/members/${u.user.id}`, { role: "viewer" }, owner.access_token);
  assert.equal(add.status, 200, JSON.stringify(add.body));
  assert.equal(await orgRole(u.user.id), "member");
  const g = await newGroup();
  await addToGroup(g.id, u.user.id);
  await grant({ principal: userP(u), resource: { type: "device", id: "home" }, permission: "view" });

  assert.equal((await w.del(`/v1/orgs/${orgId}/workspaces/${ws.body.id}`, { token: owner.access_token })).status, 204);
  assert.equal(await orgRole(u.user.id), undefined, "no longer in the org");
  // Both leftovers read first, so a failure shows each.
  const left = {
    group_members: await count("SELECT COUNT(*) AS n FROM group_members WHERE org_id = ? AND user_id = ?", orgId, u.user.id),
    grants: await count("SELECT COUNT(*) AS n FROM grants WHERE org_id = ? AND principal_type = 'user' AND principal_id = ?", orgId, u.user.id),
  };
  assert.deepEqual(left, { group_members: 0, grants: 0 }, "their group memberships and grants in the org are gone");
  assert.equal((await w.get(G(`/${g.id}`), { token: owner.access_token })).body.member_count, 0);
});

// ---------------------------------------------------------------------------------------
// 7. Newcomers with groups: member creation and invitations

test("creating a member with groups puts them in; admin + restricting group and unknown groups are 422 groups[0]", async () => {
  const open = await newGroup();
  const restricting = await newGroup({ restrictions: [{ type: "dashboard", id: "newcomers" }] });
  const person = (extra) => ({
    email: freshEmail("grouped"), first_name: "Grace", last_name: "Hopper",
    role: "viewer", credential: "activation_email", ...extra,
  });

  const body = person({ groups: [open.id, restricting.id] });
  const r = await w.post(`/v1/orgs/${orgId}/members`, body, { token: admin.access_token });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  const uid = r.body.user.id;
  assert.ok(await inGroup(open.id, uid));
  assert.ok(await inGroup(restricting.id, uid));
  const entry = await directoryEntry(uid);
  assert.deepEqual(entry.groups.map((x) => x.id).sort(), [open.id, restricting.id].sort());
  assert.equal((await w.get(G(`/${open.id}`), { token: owner.access_token })).body.member_count, 1);

  // An admin may join an unrestricting group this way.
  const adminBody = person({ role: "admin", groups: [open.id] });
  const ra = await w.post(`/v1/orgs/${orgId}/members`, adminBody, { token: owner.access_token });
  assert.equal(ra.status, 201, JSON.stringify(ra.body));
  assert.ok(await inGroup(open.id, ra.body.user.id));

  const foreign = await w.post(G("", outsider.organization.id), { name: uniqueName("Not yours") }, { token: outsider.access_token });
  const refused = [
    [person({ role: "admin", groups: [restricting.id] }), "groups[0]"],
    [person({ role: "admin", groups: [open.id, restricting.id] }), "groups[1]"],
    [person({ groups: [randomUUID()] }), "groups[0]"],
    [person({ groups: [foreign.body.id] }), "groups[0]"],
    [person({ groups: ["not-a-uuid"] }), "groups[0]"],
  ];
  for (const [b, field] of refused) {
    const res = await w.post(`/v1/orgs/${orgId}/members`, b, { token: owner.access_token });
    assertField(res, field);
    assert.equal(await w.one("SELECT id FROM users WHERE email = ?", b.email), undefined, `${b.email}: no account`);
  }
  assert.equal(await count("SELECT COUNT(*) AS n FROM group_members WHERE group_id = ?", restricting.id), 1);
});

test("an invitation with groups puts the newcomer in them on acceptance; admin + restricting group is 422", async () => {
  const open = await newGroup();
  const restricting = await newGroup({ restrictions: [{ type: "dashboard", id: "invitees" }] });
  const invPath = `/v1/orgs/${orgId}/invitations`;

  const refused = await w.post(invPath, { email: freshEmail("inv-admin"), role: "admin", groups: [restricting.id] }, { token: owner.access_token });
  assertField(refused, "groups[0]");
  assertField(await w.post(invPath, { email: freshEmail("inv-unknown"), role: "viewer", groups: [randomUUID()] }, { token: owner.access_token }), "groups[0]");
  assert.equal(await count("SELECT COUNT(*) AS n FROM invitations WHERE org_id = ? AND (email LIKE 'inv-admin%' OR email LIKE 'inv-unknown%')", orgId), 0);

  const email = freshEmail("inv-grouped");
  const inv = await w.post(invPath, { email, role: "viewer", groups: [open.id, restricting.id] }, { token: admin.access_token });
  assert.equal(inv.status, 201, JSON.stringify(inv.body));
  assert.deepEqual([...inv.body.groups].sort(), [open.id, restricting.id].sort());
  // Nobody joins before accepting.
  assert.equal((await w.get(G(`/${open.id}`), { token: owner.access_token })).body.member_count, 0);

  const token = await w.mailToken(email, /invited you to join/);
  const acc = await w.post("/v1/invitations/accept", { token, password: "graces own passphrase 1906", first_name: "Grace", last_name: "Hopper" }, { ip: freshIp() });
  assert.equal(acc.status, 201, JSON.stringify(acc.body));
  const uid = acc.body.user.id;
  assert.equal(await orgRole(uid), "viewer");
  assert.ok(await inGroup(open.id, uid));
  assert.ok(await inGroup(restricting.id, uid));
  const members = await w.get(GM(open.id), { token: owner.access_token });
  assert.deepEqual(members.body.data.map((m) => [m.user.id, m.role]), [[uid, "viewer"]]);
  assert.deepEqual((await directoryEntry(uid)).groups.map((x) => x.id).sort(), [open.id, restricting.id].sort());
});
