// A small org's requests cost the same however much data other orgs hold. Rows read (D1's
// own count, from `server-timing`: `d1-rows;desc="<r> read, <w> written"`) are measured for
// the seat-taking writes, the usage overview and every list route of the org; then another
// org's pending invitations go from 1 to 1,000 (inserted straight into D1, with their links
// and, for half of them, a workspace) and everything is measured again in the same small org.
// Each figure must be equal: no statement of these routes may read another tenant's rows
// (tests/query-plans.test.mjs holds the plans; this holds what D1 actually read).
// Why the other org starts with one invitation: an index range ends by reading the first
// entry past it, so a range whose neighbour in the index is another tenant's reads one row
// more once that tenant has any row there. That row is the same whether the tenant has one
// invitation or a thousand, so with one there from the start the figures are exactly equal.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { startWorker, freshEmail } from "./helpers.mjs";

const FOREIGN_INVITATIONS = 1000;

let w, small, big, T, O, ws, ws2, group, apiToken;

/** Rows D1 reported read for one response. */
function rowsRead(res) {
  const m = (res.headers.get("server-timing") ?? "").match(/d1-rows;desc="(\d+) read, (\d+) written"/);
  assert.ok(m, `no d1-rows metric: ${res.headers.get("server-timing")}`);
  return Number(m[1]);
}

/** A UUIDv7 for `ms`, as the Worker makes them (time-ordered ids). */
function uuidV7(ms) {
  const b = randomBytes(16);
  b.writeUIntBE(ms, 0, 6);
  b[6] = 0x70 | (b[6] & 0x0f);
  b[8] = 0x80 | (b[8] & 0x3f);
  const h = b.toString("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

before(async () => {
  w = await startWorker();
  [small, big] = await Promise.all([w.activeUser(), w.activeUser()]);
  T = { token: small.access_token };
  O = `/v1/orgs/${small.organization.id}`;
  ws = small.workspace.id;
  // A small org with something in every list.
  const created = (r) => { assert.ok([200, 201].includes(r.status), JSON.stringify(r.body)); return r.body; };
  const viewer = await w.activeUser();
  await w.joinOrg(viewer, small.organization.id, "viewer");
  group = created(await w.post(`${O}/groups`, { name: "Ops" }, T));
  assert.equal((await w.request("PUT", `${O}/groups/${group.id}/members/${viewer.user.id}`, T)).status, 204);
  created(await w.request("PUT", `${O}/workspaces/${ws}/grants`, {
    ...T, body: { principal: { type: "group", id: group.id }, resource: { type: "dashboard", id: "d-1" }, permission: "view" } }));
  created(await w.request("PUT", `${O}/workspaces/${ws}/members/${viewer.user.id}`, { ...T, body: { role: "editor" } }));
  apiToken = created(await w.post(`${O}/api-tokens`, { name: "svc", role: "viewer" }, T));
  ws2 = created(await w.post(`${O}/workspaces`, { name: "Field" }, T)).id;
  created(await w.post(`${O}/invitations`, { email: freshEmail("own"), role: "viewer", workspaces: [{ workspace_id: ws, role: "viewer" }] }, T));
  // The other org's first invitation, through the API.
  created(await w.post(`/v1/orgs/${big.organization.id}/invitations`, { email: freshEmail("guest"), role: "viewer",
    workspaces: [{ workspace_id: big.workspace.id, role: "viewer" }] }, { token: big.access_token }));
});
after(async () => { await w?.dispose(); });

/** Another org's pending invitations, as the API would have written them. */
async function seedForeignInvitations(n) {
  const now = Date.now();
  const rows = Array.from({ length: n }, (_, i) => {
    const created = now - Math.floor(Math.random() * 6 * 86_400_000);
    return {
      id: uuidV7(created), email: `guest-${i}-${randomBytes(3).toString("hex")}@bigcorp.example`,
      created, expires: created + 7 * 86_400_000, hash: randomBytes(32).toString("hex"), ws: i % 2 === 0,
    };
  });
  const items = JSON.stringify(rows);
  const each = (expr) => `json_extract(j.value, '$.${expr}')`;
  await w.db.batch([
    w.db.prepare(`INSERT INTO invitations (id, org_id, email, role, groups, message, invited_by, status, created_at,
        expires_at, send_count, last_sent_at) SELECT ${each("id")}, ?2, ${each("email")}, 'viewer', '[]', NULL, ?3,
        'pending', ${each("created")}, ${each("expires")}, 1, ${each("created")} FROM json_each(?1) j`)
      .bind(items, big.organization.id, big.user.id),
    w.db.prepare(`INSERT INTO invitation_links (token_hash, invitation_id, created_at)
        SELECT ${each("hash")}, ${each("id")}, ${each("created")} FROM json_each(?1) j`).bind(items),
    w.db.prepare(`INSERT INTO invitation_workspaces (invitation_id, workspace_id, role)
        SELECT ${each("id")}, ?2, 'viewer' FROM json_each(?1) j WHERE ${each("ws")}`).bind(items, big.workspace.id),
  ]);
  const count = await w.one("SELECT COUNT(*) AS n FROM invitations WHERE org_id = ? AND status = 'pending' AND expires_at > ?",
    big.organization.id, Date.now());
  assert.equal(count.n, n + 1);
}

/** Every list of the org, and the usage overview. */
function reads() {
  return [
    ["GET /v1/orgs/{org}/usage", () => w.get(`${O}/usage`, T)],
    // A directory page the isolate does not hold yet (a limit not asked before): its read.
    ["GET /v1/orgs/{org}/members", (phase) => w.get(`${O}/members?limit=${40 + phase}`, T)],
    ["GET /v1/orgs/{org}/invitations", () => w.get(`${O}/invitations`, T)],
    ["GET /v1/orgs/{org}/invitations?status=pending", () => w.get(`${O}/invitations?status=pending`, T)],
    ["GET /v1/orgs/{org}/invitations?status=expired", () => w.get(`${O}/invitations?status=expired`, T)],
    ["GET /v1/orgs/{org}/workspaces", () => w.get(`${O}/workspaces`, T)],
    ["GET /v1/orgs/{org}/workspaces/{ws}", () => w.get(`${O}/workspaces/${ws}`, T)],
    ["GET /v1/orgs/{org}/workspaces/{ws}/members", () => w.get(`${O}/workspaces/${ws}/members`, T)],
    ["GET /v1/orgs/{org}/groups", () => w.get(`${O}/groups`, T)],
    ["GET /v1/orgs/{org}/groups/{group}/members", () => w.get(`${O}/groups/${group.id}/members`, T)],
    ["GET /v1/orgs/{org}/workspaces/{ws}/grants", () => w.get(`${O}/workspaces/${ws}/grants`, T)],
    ["GET /v1/orgs/{org}/api-tokens", () => w.get(`${O}/api-tokens`, T)],
    ["GET /v1/orgs/{org}/audit-events", () => w.get(`${O}/audit-events`, T)],
    ["GET /v1/orgs/{org}/workspaces with an API token", () => w.get(`${O}/workspaces`, { token: apiToken.token })],
  ];
}

async function measureReads(phase) {
  const out = {};
  for (const [name, call] of reads()) {
    const r = await call(phase);
    assert.equal(r.status, 200, `${name}: ${JSON.stringify(r.body)}`);
    out[name] = rowsRead(r);
  }
  return out;
}

/**
 * The seat-taking writes, each on a fresh person, then undone (withdrawn, removed), so the
 * org holds the same members and pending invitations for the next measurement. The
 * invitation names the other workspace: a withdrawn invitation keeps its workspace rows,
 * which the counts of that workspace read (the org's own history, not what is measured).
 */
async function measureWrites(outsider) {
  const out = {};
  const inv = await w.post(`${O}/invitations`, { email: freshEmail("inv"), role: "viewer", workspaces: [{ workspace_id: ws2, role: "viewer" }] }, T);
  assert.equal(inv.status, 201, JSON.stringify(inv.body));
  out["POST /v1/orgs/{org}/invitations"] = rowsRead(inv);
  const member = await w.post(`${O}/members`, { email: freshEmail("member"), first_name: "Grace", last_name: "Hopper",
    role: "viewer", credential: "activation_email", workspaces: [{ workspace_id: ws, role: "viewer" }] }, T);
  assert.equal(member.status, 201, JSON.stringify(member.body));
  out["POST /v1/orgs/{org}/members"] = rowsRead(member);
  const joined = await w.request("PUT", `${O}/workspaces/${ws}/members/${outsider.user.id}`, { ...T, body: { role: "viewer" } });
  assert.equal(joined.status, 200, JSON.stringify(joined.body));
  out["PUT /v1/orgs/{org}/workspaces/{ws}/members/{user} (joins the org)"] = rowsRead(joined);

  assert.equal((await w.del(`${O}/invitations/${inv.body.id}`, T)).status, 204);
  assert.equal((await w.del(`${O}/members/${member.body.user.id}`, T)).status, 204);
  assert.equal((await w.del(`${O}/members/${outsider.user.id}`, T)).status, 204);
  return out;
}

test(`rows read by a small org's seat-taking writes and lists do not grow with another org's ${FOREIGN_INVITATIONS} pending invitations`, async (t) => {
  const [warmUp, first, second] = await Promise.all([w.activeUser(), w.activeUser(), w.activeUser()]);
  // Once unmeasured, so that what the writes leave behind (a withdrawn invitation, former
  // members) is there for both measurements.
  await measureWrites(warmUp);
  const writesBefore = await measureWrites(first);
  const readsBefore = await measureReads(1);
  await seedForeignInvitations(FOREIGN_INVITATIONS - 1);
  const readsAfter = await measureReads(2);
  const writesAfter = await measureWrites(second);

  const before = { ...writesBefore, ...readsBefore };
  const after = { ...writesAfter, ...readsAfter };
  for (const name of Object.keys(before)) t.diagnostic(`${name}: ${before[name]} → ${after[name]} rows read`);
  assert.equal(Object.keys(before).length, 17);
  assert.deepEqual(after, before, "rows read changed with another org's data");
});
