// The member directory's page cache: the isolate serves a page again only while D1 says the
// org's directory is at the version the page was read at (migration 0006's triggers bump it
// with every change a page shows). Every kind of change, through the API and straight in
// D1, shows on the very next read; nothing else invalidates a page.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startWorker, freshEmail, PASSWORD, assertProblem } from "./helpers.mjs";
import { seedMembers } from "../bench/fixtures.mjs";

let w, org;

before(async () => {
  w = await startWorker();
  org = await w.orgRoster();
});
after(async () => { await w?.dispose(); });

const O = () => `/v1/orgs/${org.orgId}`;
const as = () => ({ token: org.owner.access_token });

/** The directory as the owner reads it, and the rows and round trips D1 spent on it. */
async function directoryOf(suffix = "", of = org) {
  const r = await w.get(`/v1/orgs/${of.orgId}/members${suffix}`, { token: of.owner.access_token });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  const timing = r.headers.get("server-timing");
  const rowsRead = Number(timing.match(/d1-rows;desc="(\d+) read/)[1]);
  const roundTrips = Number(timing.match(/d1;dur=\d+;desc="(\d+) round trips"/)[1]);
  return { body: r.body, rowsRead, roundTrips };
}

const versionOf = async (of = org) =>
  (await w.one("SELECT directory_version AS v FROM orgs WHERE id = ?", of.orgId)).v;

const directory = (suffix) => directoryOf(suffix);
const version = () => versionOf();

const entry = (page, user) => page.data.find((m) => m.user.id === user.user.id);

test("an unchanged directory is served again without reading its rows; the same bytes", async () => {
  // A large org: a page served again must not touch its members at all (a version check
  // evaluated per member would scan every one of them).
  const big = await w.orgRoster();
  await seedMembers(w.db, big.orgId, 400);
  const directory = (suffix = "") => directoryOf(suffix, big);
  const version = () => versionOf(big);
  const first = await directory();
  assert.equal(first.body.data.length, 50);
  const again = await directory();
  assert.deepEqual(again.body, first.body);
  // Both are one round trip: a page read with the gate, then a held page with no statement
  // of its own (the gate's org row carries the version).
  assert.deepEqual([first.roundTrips, again.roundTrips], [1, 1]);
  // A held page goes only to callers the gate admits: the check runs first, as ever.
  const members = `/v1/orgs/${big.orgId}/members`;
  assertProblem(await w.get(members), 401, "unauthorized");
  assertProblem(await w.get(members, { token: big.member.access_token }), 403, "forbidden");
  assertProblem(await w.get(members, { token: big.outsider.access_token }), 404, "not_found");
  assert.ok(again.rowsRead < 20, `rows read: ${first.rowsRead} then ${again.rowsRead}`);
  assert.ok(first.rowsRead >= 50, `rows read: ${first.rowsRead}`);
  const deep = await directory(`?cursor=${encodeURIComponent(first.body.next_cursor)}`);
  assert.ok((await directory(`?cursor=${encodeURIComponent(first.body.next_cursor)}`)).rowsRead < 20);
  assert.notDeepEqual(deep.body.data, first.body.data);
  // Other queries are pages of their own.
  const admins = await directory("?role=admin");
  assert.deepEqual(admins.body.data.map((m) => m.user.id), [big.admin.user.id]);
  const page1 = await directory("?limit=2");
  assert.equal(page1.body.data.length, 2);
  const page2 = await directory(`?limit=2&cursor=${encodeURIComponent(page1.body.next_cursor)}`);
  assert.notDeepEqual(page2.body.data, page1.body.data);
  // Logins and refreshes write the users row but change nothing a page shows.
  const v = await version();
  assert.equal((await w.login(big.viewer.email)).status, 200);
  await w.db.prepare("UPDATE users SET last_login_at = ?, failed_logins = 0 WHERE id = ?").bind(Date.now(), big.viewer.user.id).run();
  assert.equal(await version(), v);
  assert.ok((await directory()).rowsRead < 20);
});

test("every change a page shows is on the very next read (a warm page each time)", async () => {
  const call = async (method, path, body, status) => {
    const r = await w.request(method, path, { body, ...as() });
    assert.ok([status].flat().includes(r.status), `${method} ${path}: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body;
  };
  const { admin, editor, viewer, member } = org;
  const steps = [
    ["the member's own name", () => w.patch("/v1/me", { first_name: "Renamed" }, { token: viewer.access_token }),
      (p) => assert.equal(entry(p, viewer).user.first_name, "Renamed")],
    ["a role change", () => call("PATCH", `${O()}/members/${editor.user.id}`, { role: "viewer" }, 200),
      (p) => assert.equal(entry(p, editor).role, "viewer")],
    ["a workspace role", () => call("PUT", `${O()}/workspaces/${org.wsId}/members/${viewer.user.id}`, { role: "editor" }, [200, 201]),
      (p) => assert.deepEqual(entry(p, viewer).workspaces.map((x) => x.role), ["editor"])],
    ["a workspace renamed", () => call("PATCH", `${O()}/workspaces/${org.wsId}`, { name: "Renamed space" }, 200),
      (p) => assert.equal(entry(p, viewer).workspaces[0].name, "Renamed space")],
  ];
  let group;
  steps.push(
    ["a group joined", async () => {
      group = await call("POST", `${O()}/groups`, { name: "Crew" }, 201);
      await call("PUT", `${O()}/groups/${group.id}/members/${admin.user.id}`, undefined, 204);
    }, (p) => assert.deepEqual(entry(p, admin).groups.map((g) => g.name), ["Crew"])],
    ["a group renamed", () => call("PATCH", `${O()}/groups/${group.id}`, { name: "Deck crew" }, 200),
      (p) => assert.deepEqual(entry(p, admin).groups.map((g) => g.name), ["Deck crew"])],
    ["a group deleted", () => call("DELETE", `${O()}/groups/${group.id}`, undefined, 204),
      (p) => assert.deepEqual(entry(p, admin).groups, [])],
    ["a phone and a lockout, straight in D1", async () => {
      await w.db.prepare("UPDATE users SET phone = '+14155550100', status = 'locked' WHERE id = ?").bind(member.user.id).run();
    }, (p) => assert.deepEqual([entry(p, member).user.phone, entry(p, member).user.status], ["+14155550100", "locked"])],
    ["a member removed", () => call("DELETE", `${O()}/members/${member.user.id}`, undefined, 204),
      (p) => assert.equal(entry(p, member), undefined)],
  );
  let created;
  steps.push(
    ["an account created by an admin", async () => {
      created = await call("POST", `${O()}/members`, {
        email: freshEmail("cached"), first_name: "Grace", last_name: "Hopper", role: "viewer", credential: "activation_email",
      }, 201);
    }, (p) => assert.equal(p.data.find((m) => m.user.id === created.user.id)?.user.status, "pending")],
    ["a membership written straight in D1", async () => {
      const outsider = org.outsider;
      await w.db.prepare("INSERT INTO org_members (org_id, user_id, role, joined_at) VALUES (?, ?, 'viewer', ?)")
        .bind(org.orgId, outsider.user.id, Date.now()).run();
    }, (p) => assert.ok(entry(p, org.outsider))],
    ["an account deleted", () => w.del("/v1/me", { token: org.outsider.access_token, body: { password: PASSWORD } }),
      (p) => assert.equal(entry(p, org.outsider), undefined)],
  );
  for (const [what, change, check] of steps) {
    const warm = await directory();
    const held = await directory();
    assert.deepEqual(held.body, warm.body, `${what}: warm`);
    assert.equal(held.roundTrips, 1, `${what}: a held page is one round trip`);
    const before = await version();
    const r = await change();
    if (r && typeof r.status === "number") assert.ok(r.status < 300, `${what}: ${r.status} ${JSON.stringify(r.body)}`);
    assert.ok((await version()) > before, `${what}: the directory version moved`);
    const after = await directory();
    check(after.body);
    assert.notDeepEqual(after.body, warm.body, what);
    // The held page was stale: the gate's version said so, and the page was read again in
    // a second round trip (the budget for a read is two).
    assert.equal(after.roundTrips, 2, `${what}: a stale page is read again`);
    assert.deepEqual((await directory()).body, after.body, `${what}: held again`);
  }
});
