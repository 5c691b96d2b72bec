// Organizations (SPEC §3 permission matrix, §4 "Organizations, workspaces, members"):
// create, list mine, read, edit, delete, transfer ownership, usage, role overview.
// Every state is made through the API, except org memberships of a second user, which no
// route can make yet: those are the one direct write (`addMember`). Effects are checked
// both in the responses and in D1.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { startWorker, assertProblem, freshIp } from "./helpers.mjs";

let w;
before(async () => { w = await startWorker(); });
after(async () => { await w?.dispose(); });

const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const ROLES = ["owner", "admin", "editor", "viewer", "member"];

/** `n` fresh active users, made concurrently (each on its own IP). */
function users(n) {
  return Promise.all(Array.from({ length: n }, () => w.activeUser({ ip: freshIp() })));
}

/** The only direct write these tests make: a membership no route can create yet. */
async function addMember(orgId, userId, role) {
  await w.db
    .prepare("INSERT INTO org_members (org_id, user_id, role, joined_at) VALUES (?, ?, ?, ?)")
    .bind(orgId, userId, role, Date.now())
    .run();
}

/** Creates an org through the API as `u`; returns the 201 body. */
async function createOrg(u, body = {}) {
  const r = await w.post("/v1/orgs", { name: `Org ${randomUUID().slice(0, 8)}`, ...body }, { token: u.access_token });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return r.body;
}

/** A new org (made by the API) with one user in each role. */
async function team() {
  const [owner, admin, editor, viewer, member] = await users(5);
  const org = await createOrg(owner, { name: "Team Org", description: "the team" });
  await addMember(org.id, admin.user.id, "admin");
  await addMember(org.id, editor.user.id, "editor");
  await addMember(org.id, viewer.user.id, "viewer");
  await addMember(org.id, member.user.id, "member");
  return { org, byRole: { owner, admin, editor, viewer, member } };
}

const orgRow = (id) => w.one("SELECT * FROM orgs WHERE id = ?", id);
const memberRole = async (orgId, userId) =>
  (await w.one("SELECT role FROM org_members WHERE org_id = ? AND user_id = ?", orgId, userId))?.role;
const auditRows = (orgId, action) =>
  w.rows("SELECT * FROM audit_events WHERE org_id = ? AND action = ? ORDER BY id", orgId, action);
const count = async (sql, ...params) => (await w.one(sql, ...params)).n;

function assertValidation(res, field) {
  assertProblem(res, 422, "validation_failed");
  assert.ok(Array.isArray(res.body.errors) && res.body.errors.length > 0, JSON.stringify(res.body));
  if (field) {
    assert.ok(res.body.errors.some((e) => e.field === field),
      `expected an error for ${field}: ${JSON.stringify(res.body.errors)}`);
  }
}

function assertOrgView(o) {
  assert.deepEqual(Object.keys(o).sort(),
    ["created_at", "description", "id", "logo_url", "member_limit", "name", "owner_id", "permissions", "role", "updated_at"]);
  assert.match(o.id, UUID);
  assert.ok(Array.isArray(o.permissions) && o.permissions.includes("org.view"), JSON.stringify(o.permissions));
  assert.match(o.created_at, RFC3339);
  assert.match(o.updated_at, RFC3339);
  assert.equal(typeof o.member_limit, "number");
}

// ---------------------------------------------------------------------------------------
// POST /v1/orgs

test("POST /v1/orgs: 201 with the org, caller is owner in D1, org.created audited", async () => {
  const [u] = await users(1);
  const r = await w.post("/v1/orgs", {
    name: "Babbage & Co",
    description: "Difference engines",
    logo_url: "https://cdn.example.com/logo.png",
  }, { token: u.access_token });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  assert.match(r.headers.get("content-type"), /application\/json/);
  const o = r.body;
  assertOrgView(o);
  assert.equal(o.name, "Babbage & Co");
  assert.equal(o.description, "Difference engines");
  assert.equal(o.logo_url, "https://cdn.example.com/logo.png");
  assert.equal(o.owner_id, u.user.id);
  assert.equal(o.role, "owner");
  assert.equal(o.member_limit, 50); // DEFAULT_MEMBER_LIMIT of wrangler.toml
  assert.notEqual(o.id, u.organization.id);

  const row = await orgRow(o.id);
  assert.ok(row, "org row stored");
  assert.equal(row.name, "Babbage & Co");
  assert.equal(row.description, "Difference engines");
  assert.equal(row.logo_url, "https://cdn.example.com/logo.png");
  assert.equal(row.owner_id, u.user.id);
  assert.equal(row.member_limit, 50);
  assert.equal(new Date(o.created_at).getTime(), row.created_at);

  const members = await w.rows("SELECT user_id, role FROM org_members WHERE org_id = ?", o.id);
  assert.deepEqual(members, [{ user_id: u.user.id, role: "owner" }]);

  const events = await auditRows(o.id, "org.created");
  assert.equal(events.length, 1);
  assert.equal(events[0].actor_id, u.user.id);
  assert.equal(events[0].target_type, "org");
  assert.equal(events[0].target_id, o.id);

  // Logo URLs are stored in their WHATWG serialisation (the platform's URL parser in the
  // Worker): host lower-cased and IDNA-encoded, spaces percent-encoded, surrounding blanks gone.
  const normalised = await createOrg(u, { name: "Logos", logo_url: " https://CDN.Bücher.example/a b.png " });
  assert.equal(normalised.logo_url, "https://cdn.xn--bcher-kva.example/a%20b.png");
  assert.equal((await orgRow(normalised.id)).logo_url, "https://cdn.xn--bcher-kva.example/a%20b.png");

  // Optional fields may be left out; the org is then readable with the same view.
  const minimal = await createOrg(u, { name: "Minimal" });
  assert.equal(minimal.description, null);
  assert.equal(minimal.logo_url, null);
  const g = await w.get(`/v1/orgs/${o.id}`, { token: u.access_token });
  assert.equal(g.status, 200, JSON.stringify(g.body));
  assert.deepEqual(g.body, o);

  // 100 characters is the longest name accepted.
  const longest = await createOrg(u, { name: "n".repeat(100) });
  assert.equal(longest.name, "n".repeat(100));
});

test("POST /v1/orgs: bad input is 422 and creates nothing; no token is 401", async () => {
  const [u] = await users(1);
  const before = await count("SELECT COUNT(*) AS n FROM orgs WHERE owner_id = ?", u.user.id);
  const auditBefore = await count("SELECT COUNT(*) AS n FROM audit_events WHERE actor_id = ? AND action = 'org.created'", u.user.id);
  const cases = [
    [{}, "name"],
    [{ description: "no name" }, "name"],
    [{ name: "" }, "name"],
    [{ name: "   " }, "name"],
    [{ name: "x".repeat(101) }, "name"],
    [{ name: 42 }, "name"],
    [{ name: "Acme", logo_url: "http://cdn.example.com/logo.png" }, "logo_url"],
    [{ name: "Acme", logo_url: "javascript:alert(1)" }, "logo_url"],
    [{ name: "Acme", logo_url: "not a url" }, "logo_url"],
    [{ name: "Acme", description: "d".repeat(1001) }, "description"],
    [{ name: "Acme", color: "red" }, "color"],
  ];
  for (const [body, field] of cases) {
    const r = await w.post("/v1/orgs", body, { token: u.access_token });
    assertValidation(r, field);
  }
  assertValidation(await w.request("POST", "/v1/orgs", { raw: "{not json", token: u.access_token,
    headers: { "content-type": "application/json" } }));
  assertValidation(await w.request("POST", "/v1/orgs", { raw: "[\"Acme\"]", token: u.access_token,
    headers: { "content-type": "application/json" } }));

  assertProblem(await w.post("/v1/orgs", { name: "Acme" }), 401, "unauthorized");
  assertProblem(await w.post("/v1/orgs", { name: "Acme" }, { token: "not-a-jwt" }), 401, "unauthorized");

  assert.equal(await count("SELECT COUNT(*) AS n FROM orgs WHERE owner_id = ?", u.user.id), before);
  assert.equal(await count("SELECT COUNT(*) AS n FROM orgs WHERE name = 'Acme'"), 0);
  assert.equal(
    await count("SELECT COUNT(*) AS n FROM audit_events WHERE actor_id = ? AND action = 'org.created'", u.user.id),
    auditBefore);
});

// ---------------------------------------------------------------------------------------
// GET /v1/orgs

test("GET /v1/orgs: only the caller's orgs, each with the caller's role; paginated", async () => {
  const [me, other] = await users(2);
  const a = await createOrg(me, { name: "Mine A" });
  const b = await createOrg(me, { name: "Mine B" });
  const theirs = await createOrg(other, { name: "Theirs, shared" });
  const hidden = await createOrg(other, { name: "Theirs, hidden" });
  await addMember(theirs.id, me.user.id, "editor");

  const expected = new Map([
    [me.organization.id, "owner"],
    [a.id, "owner"],
    [b.id, "owner"],
    [theirs.id, "editor"],
  ]);

  const r = await w.get("/v1/orgs", { token: me.access_token });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.deepEqual(Object.keys(r.body).sort(), ["data", "next_cursor"]);
  assert.equal(r.body.next_cursor, null);
  assert.equal(r.body.data.length, expected.size, JSON.stringify(r.body.data));
  for (const o of r.body.data) {
    assertOrgView(o);
    assert.equal(o.role, expected.get(o.id), `role in ${o.id}`);
  }
  assert.deepEqual(new Set(r.body.data.map((o) => o.id)), new Set(expected.keys()));
  assert.equal(r.body.data.find((o) => o.id === theirs.id).owner_id, other.user.id);
  const ids = r.body.data.map((o) => o.id);
  assert.ok(!ids.includes(hidden.id) && !ids.includes(other.organization.id), "another user's orgs leaked");

  // The other user sees their own three (signup org + two), never mine.
  const r2 = await w.get("/v1/orgs", { token: other.access_token });
  assert.equal(r2.status, 200);
  assert.deepEqual(new Set(r2.body.data.map((o) => o.id)),
    new Set([other.organization.id, theirs.id, hidden.id]));
  assert.ok(r2.body.data.every((o) => o.role === "owner"));

  // limit=1: one org per page, every org exactly once, the last page ends the list.
  const seen = [];
  let cursor = null;
  for (let pages = 0; ; pages++) {
    assert.ok(pages < 10, "pagination does not end");
    const q = cursor ? `?limit=1&cursor=${encodeURIComponent(cursor)}` : "?limit=1";
    const p = await w.get(`/v1/orgs${q}`, { token: me.access_token });
    assert.equal(p.status, 200, JSON.stringify(p.body));
    assert.equal(p.body.data.length, 1, JSON.stringify(p.body));
    seen.push(p.body.data[0].id);
    assert.equal(p.body.data[0].role, expected.get(p.body.data[0].id));
    cursor = p.body.next_cursor;
    if (cursor === null) break;
    assert.equal(typeof cursor, "string");
  }
  assert.equal(seen.length, expected.size, JSON.stringify(seen));
  assert.deepEqual(new Set(seen), new Set(expected.keys()));
  assert.deepEqual(seen, ids, "pages follow the order of the full list");

  // limit=3: a page of three, then the fourth.
  const p1 = await w.get("/v1/orgs?limit=3", { token: me.access_token });
  assert.equal(p1.body.data.length, 3);
  assert.ok(p1.body.next_cursor);
  const p2 = await w.get(`/v1/orgs?limit=3&cursor=${encodeURIComponent(p1.body.next_cursor)}`, { token: me.access_token });
  assert.equal(p2.body.data.length, 1);
  assert.equal(p2.body.next_cursor, null);

  // A cursor of one user's list never reveals another user's orgs.
  const p3 = await w.get(`/v1/orgs?limit=1&cursor=${encodeURIComponent(p1.body.next_cursor)}`, { token: other.access_token });
  assert.equal(p3.status, 200);
  assert.ok(p3.body.data.every((o) => [other.organization.id, theirs.id, hidden.id].includes(o.id)),
    JSON.stringify(p3.body.data));

  for (const bad of ["garbage", "!!", Buffer.from("v1:' OR 1=1 --").toString("base64url"), "djE6eA"]) {
    assertValidation(await w.get(`/v1/orgs?cursor=${encodeURIComponent(bad)}`, { token: me.access_token }), "cursor");
  }
  for (const bad of ["0", "201", "-1", "abc"]) {
    assertValidation(await w.get(`/v1/orgs?limit=${bad}`, { token: me.access_token }), "limit");
  }
  assertProblem(await w.get("/v1/orgs"), 401, "unauthorized");
});

// ---------------------------------------------------------------------------------------
// Outside the caller's orgs: 404, never 403

test("every org route: non-member, unknown id and malformed id are 404; no token is 401", async () => {
  const [owner, outsider] = await users(2);
  const org = await createOrg(owner, { name: "Private", description: "keep out" });
  const routes = (id) => [
    ["GET", `/v1/orgs/${id}`, undefined],
    ["PATCH", `/v1/orgs/${id}`, { name: "Hijacked" }],
    ["DELETE", `/v1/orgs/${id}`, undefined],
    ["POST", `/v1/orgs/${id}/transfer-ownership`, { user_id: outsider.user.id }],
    ["GET", `/v1/orgs/${id}/usage`, undefined],
    ["GET", `/v1/orgs/${id}/roles`, undefined],
  ];
  const strip = (b) => ({ status: b.status, code: b.code, title: b.title, detail: b.detail, type: b.type });
  for (const [i, [method, path, body]] of routes(org.id).entries()) {
    const asOutsider = await w.request(method, path, { body, token: outsider.access_token });
    assertProblem(asOutsider, 404, "not_found");
    const [, unknownPath] = routes(randomUUID())[i];
    const unknown = await w.request(method, unknownPath, { body, token: outsider.access_token });
    assertProblem(unknown, 404, "not_found");
    // The same answer whether the org exists or not: existence does not leak.
    assert.deepEqual(strip(asOutsider.body), strip(unknown.body), `${method} ${path}`);
    const [, v7Path] = routes("01900000-0000-7000-8000-000000000000")[i];
    assertProblem(await w.request(method, v7Path, { body, token: owner.access_token }), 404, "not_found");
    const [, badPath] = routes("not-a-uuid")[i];
    assertProblem(await w.request(method, badPath, { body, token: owner.access_token }), 404, "not_found");
    assertProblem(await w.request(method, path, { body }), 401, "unauthorized");
    assertProblem(await w.request(method, path, { body, token: "garbage" }), 401, "unauthorized");
  }
  // None of it changed anything.
  const row = await orgRow(org.id);
  assert.equal(row.name, "Private");
  assert.equal(row.owner_id, owner.user.id);
  assert.deepEqual(await w.rows("SELECT user_id, role FROM org_members WHERE org_id = ?", org.id),
    [{ user_id: owner.user.id, role: "owner" }]);
  assert.equal(await count("SELECT COUNT(*) AS n FROM audit_events WHERE org_id = ? AND action <> 'org.created'", org.id), 0);
});

// ---------------------------------------------------------------------------------------
// The matrix of SPEC §3, role by role, through the API

test("permission matrix: every role on every org route", async () => {
  const { org, byRole } = await team();
  const tok = (role) => byRole[role].access_token;

  // GET the org: every member, each seeing their own role and exactly the permissions
  // the role overview lists for it.
  const overview = await w.get(`/v1/orgs/${org.id}/roles`, { token: tok("owner") });
  const permissionsOf = Object.fromEntries(overview.body.data.map((d) => [d.role, d.permissions]));
  for (const role of ROLES) {
    const r = await w.get(`/v1/orgs/${org.id}`, { token: tok(role) });
    assert.equal(r.status, 200, `${role}: ${JSON.stringify(r.body)}`);
    assert.equal(r.body.id, org.id);
    assert.equal(r.body.role, role);
    assert.equal(r.body.owner_id, byRole.owner.user.id);
    assert.deepEqual(r.body.permissions, permissionsOf[role], role);
  }
  assert.ok(permissionsOf.owner.includes("org.delete") && !permissionsOf.admin.includes("org.delete"));
  assert.deepEqual(permissionsOf.member, ["org.view"]);

  // PATCH: owner, admin, editor.
  for (const role of ROLES) {
    const name = `Renamed by ${role}`;
    const r = await w.patch(`/v1/orgs/${org.id}`, { name }, { token: tok(role) });
    if (["owner", "admin", "editor"].includes(role)) {
      assert.equal(r.status, 200, `${role}: ${JSON.stringify(r.body)}`);
      assert.equal(r.body.name, name);
      assert.equal(r.body.role, role);
      assert.equal((await orgRow(org.id)).name, name);
    } else {
      assertProblem(r, 403, "forbidden");
      assert.equal((await orgRow(org.id)).name, "Renamed by editor", `${role} changed the org`);
    }
  }

  // Role overview: everyone but member.
  for (const role of ROLES) {
    const r = await w.get(`/v1/orgs/${org.id}/roles`, { token: tok(role) });
    if (role === "member") assertProblem(r, 403, "forbidden");
    else assert.equal(r.status, 200, `${role}: ${JSON.stringify(r.body)}`);
  }

  // Usage: owner and admin.
  for (const role of ROLES) {
    const r = await w.get(`/v1/orgs/${org.id}/usage`, { token: tok(role) });
    if (["owner", "admin"].includes(role)) assert.equal(r.status, 200, `${role}: ${JSON.stringify(r.body)}`);
    else assertProblem(r, 403, "forbidden");
  }

  // Transfer: only the owner passes the gate. The others aim at a real member, so passing
  // the gate would have transferred; the owner aims at itself, which passes the gate and
  // then stops at 409 without changing anything.
  for (const role of ["admin", "editor", "viewer", "member"]) {
    const target = role === "admin" ? byRole.editor.user.id : byRole.admin.user.id;
    const r = await w.post(`/v1/orgs/${org.id}/transfer-ownership`, { user_id: target }, { token: tok(role) });
    assertProblem(r, 403, "forbidden");
    const selfTry = await w.post(`/v1/orgs/${org.id}/transfer-ownership`, { user_id: byRole[role].user.id }, { token: tok(role) });
    assertProblem(selfTry, 403, "forbidden");
  }
  assertProblem(
    await w.post(`/v1/orgs/${org.id}/transfer-ownership`, { user_id: byRole.owner.user.id }, { token: tok("owner") }),
    409, "cannot_act_on_self");
  assert.equal((await orgRow(org.id)).owner_id, byRole.owner.user.id);
  for (const role of ROLES) assert.equal(await memberRole(org.id, byRole[role].user.id), role);
  assert.equal((await auditRows(org.id, "org.ownership_transferred")).length, 0);

  // DELETE: owner only (last).
  for (const role of ["admin", "editor", "viewer", "member"]) {
    assertProblem(await w.del(`/v1/orgs/${org.id}`, { token: tok(role) }), 403, "forbidden");
    assert.ok(await orgRow(org.id), `${role} deleted the org`);
  }
  const d = await w.del(`/v1/orgs/${org.id}`, { token: tok("owner") });
  assert.equal(d.status, 204, JSON.stringify(d.body));
  assert.equal(d.body, null);
  assert.equal(await orgRow(org.id), undefined);
});

// ---------------------------------------------------------------------------------------
// PATCH /v1/orgs/{org}

test("PATCH /v1/orgs/{org}: changes fields, null clears, {} changes nothing, bad input 422", async () => {
  const [u] = await users(1);
  const org = await createOrg(u, { name: "Before", description: "old", logo_url: "https://a.example.com/old.png" });

  const r = await w.patch(`/v1/orgs/${org.id}`, {
    name: "After", description: "new description", logo_url: "https://b.example.com/new.png",
  }, { token: u.access_token });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assertOrgView(r.body);
  assert.equal(r.body.name, "After");
  assert.equal(r.body.description, "new description");
  assert.equal(r.body.logo_url, "https://b.example.com/new.png");
  assert.equal(r.body.role, "owner");
  assert.equal(r.body.created_at, org.created_at);
  assert.ok(new Date(r.body.updated_at) >= new Date(org.updated_at));
  let row = await orgRow(org.id);
  assert.equal(row.name, "After");
  assert.equal(row.description, "new description");
  assert.equal(row.logo_url, "https://b.example.com/new.png");
  let events = await auditRows(org.id, "org.updated");
  assert.equal(events.length, 1);
  assert.equal(events[0].actor_id, u.user.id);
  assert.deepEqual(JSON.parse(events[0].metadata).fields.slice().sort(), ["description", "logo_url", "name"]);

  // Only the fields sent change.
  const onlyName = await w.patch(`/v1/orgs/${org.id}`, { name: "Only name" }, { token: u.access_token });
  assert.equal(onlyName.status, 200, JSON.stringify(onlyName.body));
  row = await orgRow(org.id);
  assert.equal(row.name, "Only name");
  assert.equal(row.description, "new description");
  assert.equal(row.logo_url, "https://b.example.com/new.png");
  events = await auditRows(org.id, "org.updated");
  assert.equal(events.length, 2);
  assert.deepEqual(JSON.parse(events[1].metadata).fields, ["name"]);

  // null clears the optional fields.
  const cleared = await w.patch(`/v1/orgs/${org.id}`, { description: null, logo_url: null }, { token: u.access_token });
  assert.equal(cleared.status, 200, JSON.stringify(cleared.body));
  assert.equal(cleared.body.description, null);
  assert.equal(cleared.body.logo_url, null);
  assert.equal(cleared.body.name, "Only name");
  row = await orgRow(org.id);
  assert.equal(row.description, null);
  assert.equal(row.logo_url, null);
  assert.equal(row.name, "Only name");
  events = await auditRows(org.id, "org.updated");
  assert.equal(events.length, 3);
  assert.deepEqual(JSON.parse(events[2].metadata).fields.slice().sort(), ["description", "logo_url"]);

  // {} → 200, the org as it is; nothing written.
  const rowBefore = await orgRow(org.id);
  const empty = await w.patch(`/v1/orgs/${org.id}`, {}, { token: u.access_token });
  assert.equal(empty.status, 200, JSON.stringify(empty.body));
  assert.equal(empty.body.name, "Only name");
  assert.equal(empty.body.description, null);
  assert.equal(empty.body.logo_url, null);
  assert.deepEqual(await orgRow(org.id), rowBefore);
  assert.equal((await auditRows(org.id, "org.updated")).length, 3);

  // Bad input: 422, nothing changes.
  for (const [body, field] of [
    [{ name: "" }, "name"],
    [{ name: "   " }, "name"],
    [{ name: "x".repeat(101) }, "name"],
    [{ logo_url: "http://insecure.example.com/x.png" }, "logo_url"],
    [{ logo_url: "ftp://files.example.com/x.png" }, "logo_url"],
    [{ description: "d".repeat(1001) }, "description"],
    [{ owner_id: u.user.id }, "owner_id"],
    [{ member_limit: 1000 }, "member_limit"],
    [{ name: "Fine", logo_url: "http://x.example.com" }, "logo_url"],
  ]) {
    assertValidation(await w.patch(`/v1/orgs/${org.id}`, body, { token: u.access_token }), field);
  }
  assert.deepEqual(await orgRow(org.id), rowBefore);
  assert.equal((await auditRows(org.id, "org.updated")).length, 3);
});

test("PATCH /v1/orgs/{org}: name: null is refused (a name cannot be cleared), nothing changes", async () => {
  // null clears the optional fields; the name is required (SPEC §2, §7: wrong types get a
  // 4xx), so null there is a client error, not a silent no-op.
  const [u] = await users(1);
  const org = await createOrg(u, { name: "Named" });
  const rowBefore = await orgRow(org.id);
  const r = await w.patch(`/v1/orgs/${org.id}`, { name: null }, { token: u.access_token });
  assertValidation(r, "name");
  assert.deepEqual(await orgRow(org.id), rowBefore);
  assert.equal((await auditRows(org.id, "org.updated")).length, 0);
});

// ---------------------------------------------------------------------------------------
// GET /v1/orgs/{org}/roles and /usage

test("GET /v1/orgs/{org}/roles: every role with description, permissions, member_count", async () => {
  const { org, byRole } = await team();
  // A second viewer and a second member, so the counts differ by role.
  const [viewer2, member2] = await users(2);
  await addMember(org.id, viewer2.user.id, "viewer");
  await addMember(org.id, member2.user.id, "member");
  const want = { owner: 1, admin: 1, editor: 1, viewer: 2, member: 2 };

  for (const role of ["owner", "admin", "editor", "viewer"]) {
    const r = await w.get(`/v1/orgs/${org.id}/roles`, { token: byRole[role].access_token });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(Object.keys(r.body), ["data"]);
    assert.deepEqual(r.body.data.map((d) => d.role), ROLES);
    for (const d of r.body.data) {
      assert.deepEqual(Object.keys(d).sort(), ["description", "member_count", "permissions", "role"]);
      assert.equal(typeof d.description, "string");
      assert.ok(d.description.length > 0);
      assert.ok(Array.isArray(d.permissions) && d.permissions.every((p) => typeof p === "string"));
      assert.equal(d.member_count, want[d.role], `${d.role} count`);
    }
    const perms = Object.fromEntries(r.body.data.map((d) => [d.role, d.permissions]));
    assert.ok(perms.owner.includes("org.delete"));
    assert.ok(perms.owner.includes("org.transfer_ownership"));
    assert.ok(!perms.editor.includes("org.delete"));
    assert.ok(!perms.admin.includes("org.delete"));
    assert.ok(perms.editor.includes("org.edit"));
    assert.ok(!perms.viewer.includes("org.edit"));
    assert.ok(!perms.member.includes("org.edit"));
    // Each role holds everything the roles below it hold.
    for (let i = 1; i < ROLES.length; i++) {
      for (const p of perms[ROLES[i]]) assert.ok(perms[ROLES[i - 1]].includes(p), `${ROLES[i - 1]} lacks ${p}`);
    }
  }
  // The D1 truth the counts come from.
  const rows = await w.rows("SELECT role, COUNT(*) AS n FROM org_members WHERE org_id = ? GROUP BY role", org.id);
  assert.deepEqual(Object.fromEntries(rows.map((r) => [r.role, r.n])), want);
});

test("GET /v1/orgs/{org}/usage: members counts every membership, remaining = limit - members", async () => {
  const { org, byRole } = await team();
  for (const role of ["owner", "admin"]) {
    const r = await w.get(`/v1/orgs/${org.id}/usage`, { token: byRole[role].access_token });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(Object.keys(r.body).sort(), ["member_limit", "members", "pending_invitations", "remaining"]);
    const stored = await count("SELECT COUNT(*) AS n FROM org_members WHERE org_id = ?", org.id);
    assert.equal(stored, 5);
    assert.equal(r.body.members, stored);
    assert.equal(r.body.member_limit, (await orgRow(org.id)).member_limit);
    assert.equal(r.body.member_limit, 50);
    assert.equal(r.body.pending_invitations, 0);
    assert.equal(r.body.remaining, r.body.member_limit - r.body.members - r.body.pending_invitations);
    assert.equal(r.body.remaining, 45);
  }
  // One more member: one seat fewer.
  const [extra] = await users(1);
  await addMember(org.id, extra.user.id, "member");
  const r = await w.get(`/v1/orgs/${org.id}/usage`, { token: byRole.owner.access_token });
  assert.equal(r.body.members, 6);
  assert.equal(r.body.remaining, 44);
  // A fresh org holds just its owner.
  const fresh = await createOrg(extra);
  const f = await w.get(`/v1/orgs/${fresh.id}/usage`, { token: extra.access_token });
  assert.equal(f.status, 200, JSON.stringify(f.body));
  assert.deepEqual(f.body, { member_limit: 50, members: 1, pending_invitations: 0, remaining: 49 });
});

// ---------------------------------------------------------------------------------------
// POST /v1/orgs/{org}/transfer-ownership

test("transfer-ownership: owner → admin; old owner becomes admin at once, same tokens", async () => {
  const [owner, admin, outsider] = await users(3);
  const org = await createOrg(owner, { name: "Handover" });
  await addMember(org.id, admin.user.id, "admin");
  const path = `/v1/orgs/${org.id}/transfer-ownership`;

  // Refusals first; none changes anything.
  assertProblem(await w.post(path, { user_id: owner.user.id }, { token: owner.access_token }), 409, "cannot_act_on_self");
  assertValidation(await w.post(path, { user_id: outsider.user.id }, { token: owner.access_token }), "user_id");
  assertValidation(await w.post(path, { user_id: randomUUID() }, { token: owner.access_token }), "user_id");
  assertValidation(await w.post(path, { user_id: "not-a-uuid" }, { token: owner.access_token }), "user_id");
  assertValidation(await w.post(path, { user_id: 42 }, { token: owner.access_token }), "user_id");
  assertValidation(await w.post(path, {}, { token: owner.access_token }), "user_id");
  assertValidation(await w.post(path, { user_id: admin.user.id, role: "owner" }, { token: owner.access_token }), "role");
  assertProblem(await w.post(path, { user_id: admin.user.id }, { token: admin.access_token }), 403, "forbidden");
  assert.equal((await orgRow(org.id)).owner_id, owner.user.id);
  assert.equal(await memberRole(org.id, owner.user.id), "owner");
  assert.equal(await memberRole(org.id, admin.user.id), "admin");
  assert.equal(await memberRole(org.id, outsider.user.id), undefined);
  assert.equal((await auditRows(org.id, "org.ownership_transferred")).length, 0);

  // The new owner's access token, issued before the transfer, cannot delete yet.
  assertProblem(await w.del(`/v1/orgs/${org.id}`, { token: admin.access_token }), 403, "forbidden");

  const r = await w.post(path, { user_id: admin.user.id }, { token: owner.access_token });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assertOrgView(r.body);
  assert.equal(r.body.id, org.id);
  assert.equal(r.body.owner_id, admin.user.id);
  assert.equal(r.body.role, "admin", "the response shows the caller's new role");

  assert.equal((await orgRow(org.id)).owner_id, admin.user.id);
  assert.equal(await memberRole(org.id, admin.user.id), "owner");
  assert.equal(await memberRole(org.id, owner.user.id), "admin");
  assert.equal(await count("SELECT COUNT(*) AS n FROM org_members WHERE org_id = ? AND role = 'owner'", org.id), 1);
  const events = await auditRows(org.id, "org.ownership_transferred");
  assert.equal(events.length, 1);
  assert.equal(events[0].actor_id, owner.user.id);
  assert.equal(events[0].target_id, admin.user.id);
  const meta = JSON.parse(events[0].metadata);
  assert.equal(meta.from, owner.user.id);
  assert.equal(meta.to, admin.user.id);

  // Same access tokens, no new login: the roles have changed on the next request.
  const asOld = await w.get(`/v1/orgs/${org.id}`, { token: owner.access_token });
  assert.equal(asOld.status, 200);
  assert.equal(asOld.body.role, "admin");
  assert.equal(asOld.body.owner_id, admin.user.id);
  assertProblem(await w.del(`/v1/orgs/${org.id}`, { token: owner.access_token }), 403, "forbidden");
  assertProblem(await w.post(path, { user_id: owner.user.id }, { token: owner.access_token }), 403, "forbidden");
  assert.equal((await w.get(`/v1/orgs/${org.id}/usage`, { token: owner.access_token })).status, 200, "admin keeps usage");
  const asNew = await w.get(`/v1/orgs/${org.id}`, { token: admin.access_token });
  assert.equal(asNew.body.role, "owner");
  const list = await w.get("/v1/orgs", { token: admin.access_token });
  assert.equal(list.body.data.find((o) => o.id === org.id)?.role, "owner");

  // The new owner: self is 409, a non-member 422, and it can hand ownership back.
  assertProblem(await w.post(path, { user_id: admin.user.id }, { token: admin.access_token }), 409, "cannot_act_on_self");
  assertValidation(await w.post(path, { user_id: outsider.user.id }, { token: admin.access_token }), "user_id");
  const back = await w.post(path, { user_id: owner.user.id }, { token: admin.access_token });
  assert.equal(back.status, 200, JSON.stringify(back.body));
  assert.equal((await orgRow(org.id)).owner_id, owner.user.id);
  assert.equal(await memberRole(org.id, owner.user.id), "owner");
  assert.equal(await memberRole(org.id, admin.user.id), "admin");
  assert.equal((await auditRows(org.id, "org.ownership_transferred")).length, 2);
});

// ---------------------------------------------------------------------------------------
// DELETE /v1/orgs/{org}

test("DELETE /v1/orgs/{org}: 204, every row of the org gone, other orgs untouched", async () => {
  const [owner, admin, member, other] = await users(4);
  // The signup org: it has a workspace and audit events of its own.
  const orgId = owner.organization.id;
  await addMember(orgId, admin.user.id, "admin");
  await addMember(orgId, member.user.id, "member");
  const keep = await createOrg(owner, { name: "Keep me" });
  await addMember(keep.id, member.user.id, "viewer");
  const othersOrg = other.organization.id;
  await addMember(othersOrg, owner.user.id, "editor");

  const tables = [
    ["orgs", "id"],
    ["workspaces", "org_id"],
    ["org_members", "org_id"],
    ["workspace_members", "org_id"],
    ["audit_events", "org_id"],
  ];
  const snapshot = async (id) => {
    const out = {};
    for (const [t, col] of tables) out[t] = await count(`SELECT COUNT(*) AS n FROM ${t} WHERE ${col} = ?`, id);
    return out;
  };
  const before = await snapshot(orgId);
  assert.equal(before.orgs, 1);
  assert.equal(before.workspaces, 1);
  assert.equal(before.org_members, 3);
  assert.ok(before.audit_events >= 2, JSON.stringify(before));
  const keepBefore = await snapshot(keep.id);
  const othersBefore = await snapshot(othersOrg);
  const keepRow = await orgRow(keep.id);
  const othersRow = await orgRow(othersOrg);

  const d = await w.del(`/v1/orgs/${orgId}`, { token: owner.access_token });
  assert.equal(d.status, 204, JSON.stringify(d.body));
  assert.equal(d.body, null);

  assert.deepEqual(await snapshot(orgId),
    { orgs: 0, workspaces: 0, org_members: 0, workspace_members: 0, audit_events: 0 });
  assert.equal(await count("SELECT COUNT(*) AS n FROM workspaces WHERE id = ?", owner.workspace.id), 0);

  // Other orgs, the users themselves: untouched.
  assert.deepEqual(await snapshot(keep.id), keepBefore);
  assert.deepEqual(await snapshot(othersOrg), othersBefore);
  assert.deepEqual(await orgRow(keep.id), keepRow);
  assert.deepEqual(await orgRow(othersOrg), othersRow);
  for (const u of [owner, admin, member, other]) {
    assert.equal(await count("SELECT COUNT(*) AS n FROM users WHERE id = ?", u.user.id), 1);
  }

  // Everyone who belonged now gets 404, on every org route.
  for (const u of [owner, admin, member]) {
    assertProblem(await w.get(`/v1/orgs/${orgId}`, { token: u.access_token }), 404, "not_found");
    assertProblem(await w.get(`/v1/orgs/${orgId}/roles`, { token: u.access_token }), 404, "not_found");
  }
  assertProblem(await w.get(`/v1/orgs/${orgId}/usage`, { token: owner.access_token }), 404, "not_found");
  assertProblem(await w.del(`/v1/orgs/${orgId}`, { token: owner.access_token }), 404, "not_found");
  assertProblem(await w.patch(`/v1/orgs/${orgId}`, { name: "Zombie" }, { token: owner.access_token }), 404, "not_found");

  // The owner's list no longer has it; the other orgs are still there with their roles.
  const list = await w.get("/v1/orgs", { token: owner.access_token });
  assert.equal(list.status, 200);
  assert.deepEqual(new Map(list.body.data.map((o) => [o.id, o.role])),
    new Map([[keep.id, "owner"], [othersOrg, "editor"]]));
  const memberList = await w.get("/v1/orgs", { token: member.access_token });
  assert.ok(!memberList.body.data.some((o) => o.id === orgId));
  assert.equal(memberList.body.data.find((o) => o.id === keep.id)?.role, "viewer");
  assert.equal((await w.get(`/v1/orgs/${keep.id}`, { token: member.access_token })).status, 200);
  assert.equal((await w.get(`/v1/orgs/${othersOrg}`, { token: other.access_token })).status, 200);
});
