// D1 round trips per request, read from the `Server-Timing` header every response carries
// (`d1;dur=<ms>;desc="<n> round trips", total;dur=<ms>`). The budgets of BENCHMARKS.md are
// counted in round trips, not milliseconds, so they are asserted here exactly (a change
// that adds a round trip to a route fails this suite); no timing is asserted.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startWorker, freshEmail } from "./helpers.mjs";

let w, owner, viewer, org, ws, token, group, invitation, apiToken;

/** The round trips of one response, from its Server-Timing header. */
function roundTrips(res) {
  const header = res.headers.get("server-timing") ?? "";
  const m = header.match(/(?:^|, )d1;dur=(\d+);desc="(\d+) round trips"/);
  assert.ok(m, `no d1 metric in server-timing: ${JSON.stringify(header)}`);
  assert.match(header, /, d1-rows;desc="\d+ read, \d+ written", total;dur=\d+$/);
  return Number(m[2]);
}

/** Rows D1 reported read and written for one response. */
function rows(res) {
  const m = (res.headers.get("server-timing") ?? "").match(/d1-rows;desc="(\d+) read, (\d+) written"/);
  return { read: Number(m[1]), written: Number(m[2]) };
}

before(async () => {
  w = await startWorker();
  owner = await w.activeUser();
  viewer = await w.activeUser();
  token = owner.access_token;
  org = owner.organization.id;
  ws = owner.workspace.id;
  await w.joinOrg(viewer, org, "viewer");
  group = (await w.post(`/v1/orgs/${org}/groups`, { name: "Ops" }, { token })).body;
  invitation = (await w.post(`/v1/orgs/${org}/invitations`, { email: freshEmail("inv"), role: "viewer" }, { token })).body;
  apiToken = (await w.post(`/v1/orgs/${org}/api-tokens`, { name: "svc" }, { token })).body;
  assert.ok(group.id && invitation.id && apiToken.token);
});
after(async () => { await w?.dispose(); });

test("every response carries Server-Timing with D1 time and round trips; a route without D1 makes none", async () => {
  const health = await w.get("/health");
  assert.equal(health.status, 200);
  assert.equal(roundTrips(health), 0);
  const ready = await w.get("/health/ready");
  assert.equal(roundTrips(ready), 1, "the readiness probe is the one-read floor");
  const problem = await w.get("/v1/me");
  assert.equal(problem.status, 401);
  assert.equal(roundTrips(problem), 0, "no token: refused before D1");
});

// Authorized reads: token check, session liveness and (on org routes) the membership in one
// round trip, then at most one more (a query or a batch) for the route's own data.
const READS = [
  ["GET /v1/me", () => w.get("/v1/me", { token })],
  ["GET /v1/orgs", () => w.get("/v1/orgs", { token })],
  ["GET /v1/orgs/{org}", () => w.get(`/v1/orgs/${org}`, { token })],
  ["GET /v1/orgs/{org}/members", () => w.get(`/v1/orgs/${org}/members`, { token })],
  ["GET /v1/orgs/{org}/members as viewer", () => w.get(`/v1/orgs/${org}/members`, { token: viewer.access_token })],
  ["GET /v1/orgs/{org}/roles", () => w.get(`/v1/orgs/${org}/roles`, { token })],
  ["GET /v1/orgs/{org}/usage", () => w.get(`/v1/orgs/${org}/usage`, { token })],
  ["GET /v1/orgs/{org}/workspaces", () => w.get(`/v1/orgs/${org}/workspaces`, { token })],
  ["GET /v1/orgs/{org}/workspaces/{ws}", () => w.get(`/v1/orgs/${org}/workspaces/${ws}`, { token })],
  ["GET /v1/orgs/{org}/workspaces/{ws}/members", () => w.get(`/v1/orgs/${org}/workspaces/${ws}/members`, { token })],
  ["GET /v1/orgs/{org}/workspaces/{ws}/grants", () => w.get(`/v1/orgs/${org}/workspaces/${ws}/grants`, { token })],
  ["GET /v1/orgs/{org}/groups/{id}/members", () => w.get(`/v1/orgs/${org}/groups/${group.id}/members`, { token })],
  ["GET /v1/orgs/{org}/invitations", () => w.get(`/v1/orgs/${org}/invitations`, { token })],
  ["GET /v1/orgs/{org}/invitations/{id}", () => w.get(`/v1/orgs/${org}/invitations/${invitation.id}`, { token })],
  ["GET /v1/orgs/{org}/groups", () => w.get(`/v1/orgs/${org}/groups`, { token })],
  ["GET /v1/orgs/{org}/groups/{id}", () => w.get(`/v1/orgs/${org}/groups/${group.id}`, { token })],
  ["GET /v1/orgs/{org}/audit-events", () => w.get(`/v1/orgs/${org}/audit-events`, { token })],
  ["GET /v1/orgs/{org}/api-tokens", () => w.get(`/v1/orgs/${org}/api-tokens`, { token })],
  ["GET /v1/orgs/{org}/members with an API token", () => w.get(`/v1/orgs/${org}/members`, { token: apiToken.token })],
  ["GET /v1/me/sessions", () => w.get("/v1/me/sessions", { token })],
  ["GET /v1/me/activity", () => w.get("/v1/me/activity", { token })],
  ["GET /v1/me/invitations", () => w.get("/v1/me/invitations", { token })],
  ["POST /v1/authz/check", () => w.post("/v1/authz/check", { workspace_id: ws, action: "view" }, { token })],
  ["POST /v1/authz/check, batch", () => w.post("/v1/authz/check",
    { workspace_id: ws, action: "view", resources: [{ type: "dashboard", id: "a" }, { type: "dashboard", id: "b" }] }, { token })],
  ["POST /v1/authz/check with an API token", () => w.post("/v1/authz/check",
    { user_id: owner.user.id, workspace_id: ws, action: "edit" }, { token: apiToken.token })],
];

for (const [name, call] of READS) {
  test(`authorized read ${name}: at most 2 D1 round trips`, async (t) => {
    const res = await call();
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.ok(roundTrips(res) <= 2, `${name}: ${roundTrips(res)} round trips`);
    t.diagnostic(`${roundTrips(res)} round trips, ${rows(res).read} rows read`);
  });
}

test("the hot reads are one round trip: the credential check carries the route's reads", async () => {
  const hot = [
    ["GET /v1/me", () => w.get("/v1/me", { token })],
    ["GET /v1/orgs/{org}/members", () => w.get(`/v1/orgs/${org}/members?limit=2`, { token })],
    ["GET /v1/orgs/{org}/members with an API token", () => w.get(`/v1/orgs/${org}/members`, { token: apiToken.token })],
    ["GET /v1/orgs/{org}/members/{user}", () => w.get(`/v1/orgs/${org}/members/${viewer.user.id}`, { token })],
    ["POST /v1/authz/check", () => w.post("/v1/authz/check", { workspace_id: ws, action: "view" }, { token })],
    ["POST /v1/authz/check with an API token", () => w.post("/v1/authz/check",
      { user_id: owner.user.id, workspace_id: ws, action: "edit", resources: [{ type: "dashboard", id: "a" }] },
      { token: apiToken.token })],
  ];
  for (const [name, call] of hot) {
    const res = await call();
    assert.equal(res.status, 200, `${name}: ${JSON.stringify(res.body)}`);
    assert.equal(roundTrips(res), 1, name);
  }
});

test("a refused org request costs one round trip: 404 outside the org, 403 below the role", async () => {
  const stranger = await w.activeUser();
  const outside = await w.get(`/v1/orgs/${org}/members`, { token: stranger.access_token });
  assert.equal(outside.status, 404);
  assert.equal(roundTrips(outside), 1);
  const below = await w.get(`/v1/orgs/${org}/audit-events`, { token: viewer.access_token });
  assert.equal(below.status, 403);
  assert.equal(roundTrips(below), 1);
});

// Writes: the gate (or the rate-limit hits) with the route's own checks in one round trip,
// then one batch that writes and reads back what the response shows.
test("writes: at most 3 D1 round trips each, on the way that succeeds", async (t) => {
  const other = await w.activeUser();
  const counts = [];
  const m = async (name, call, status) => {
    const res = await call();
    assert.equal(res.status, status, `${name}: ${JSON.stringify(res.body)}`);
    counts.push([name, roundTrips(res), rows(res)]);
    return res;
  };
  const O = `/v1/orgs/${org}`;
  await m("POST /v1/auth/signup", () => w.post("/v1/auth/signup", {
    email: freshEmail("budget"), password: "correct horse battery staple", first_name: "A", last_name: "B",
    organization: { name: "O" }, workspace: { name: "W" } }), 201);
  await m("POST /v1/auth/login", () => w.login(viewer.email), 200);
  const login = (await w.login(viewer.email)).body;
  await m("POST /v1/auth/refresh", () => w.post("/v1/auth/refresh", { refresh_token: login.refresh_token }), 200);
  await m("PATCH /v1/me", () => w.patch("/v1/me", { first_name: "Ann" }, { token }), 200);
  await m("POST /v1/orgs", () => w.post("/v1/orgs", { name: "Second" }, { token }), 201);
  await m("PATCH /v1/orgs/{org}", () => w.patch(O, { description: "d" }, { token }), 200);
  const ws2 = (await m("POST …/workspaces", () => w.post(`${O}/workspaces`, { name: "W2" }, { token }), 201)).body;
  await m("PATCH …/workspaces/{ws}", () => w.patch(`${O}/workspaces/${ws2.id}`, { name: "W3" }, { token }), 200);
  await m("PUT …/workspaces/{ws}/members/{user} (joins the org)", () => w.request("PUT",
    `${O}/workspaces/${ws2.id}/members/${other.user.id}`, { body: { role: "viewer" }, token }), 200);
  await m("DELETE …/workspaces/{ws}/members/{user}", () => w.del(`${O}/workspaces/${ws2.id}/members/${other.user.id}`, { token }), 204);
  const g = (await m("POST …/groups", () => w.post(`${O}/groups`, { name: "G" }, { token }), 201)).body;
  await m("PATCH …/groups/{group}", () => w.patch(`${O}/groups/${g.id}`, { description: "d" }, { token }), 200);
  await m("PUT …/groups/{group}/members/{user}", () => w.request("PUT", `${O}/groups/${g.id}/members/${viewer.user.id}`, { token }), 204);
  await m("DELETE …/groups/{group}/members/{user}", () => w.del(`${O}/groups/${g.id}/members/${viewer.user.id}`, { token }), 204);
  const created = (await m("POST …/members (with a workspace and a group)", () => w.post(`${O}/members`, {
    email: freshEmail("made"), first_name: "A", last_name: "B", role: "viewer", credential: "activation_email",
    workspaces: [{ workspace_id: ws2.id, role: "editor" }], groups: [g.id] }, { token }), 201)).body;
  await m("PATCH …/members/{user}", () => w.patch(`${O}/members/${created.user.id}`, { role: "editor" }, { token }), 200);
  await m("POST …/members/{user}/resend-activation", () => w.post(`${O}/members/${created.user.id}/resend-activation`, undefined, { token }), 202);
  await m("DELETE …/members/{user}", () => w.del(`${O}/members/${created.user.id}`, { token }), 204);
  const inv = (await m("POST …/invitations (with a workspace and a group)", () => w.post(`${O}/invitations`, {
    email: freshEmail("inv"), role: "viewer", workspaces: [{ workspace_id: ws2.id, role: "viewer" }], groups: [g.id] }, { token }), 201)).body;
  await m("POST …/invitations/{id}/resend", () => w.post(`${O}/invitations/${inv.id}/resend`, undefined, { token }), 200);
  await m("DELETE …/invitations/{id}", () => w.del(`${O}/invitations/${inv.id}`, { token }), 204);
  const grant = { principal: { type: "group", id: g.id }, resource: { type: "dashboard", id: "d-1" } };
  await m("PUT …/workspaces/{ws}/grants", () => w.request("PUT", `${O}/workspaces/${ws}/grants`, { body: { ...grant, permission: "view" }, token }), 201);
  await m("DELETE …/workspaces/{ws}/grants", () => w.request("DELETE", `${O}/workspaces/${ws}/grants`, { body: grant, token }), 204);
  await m("DELETE …/groups/{group}", () => w.del(`${O}/groups/${g.id}`, { token }), 204);
  const tok = (await m("POST …/api-tokens", () => w.post(`${O}/api-tokens`, { name: "budget" }, { token }), 201)).body;
  await m("DELETE …/api-tokens/{id}", () => w.del(`${O}/api-tokens/${tok.id}`, { token }), 204);
  await m("DELETE …/workspaces/{ws}", () => w.del(`${O}/workspaces/${ws2.id}`, { token }), 204);
  await m("POST /v1/auth/password/forgot", () => w.post("/v1/auth/password/forgot", { email: viewer.email }), 202);
  for (const [n, c, r] of counts) t.diagnostic(`${c} round trips, ${r.read} rows read, ${r.written} written  ${n}`);
  const over = counts.filter(([, c]) => c > 3);
  assert.deepEqual(over, [], "writes over the budget of 3 round trips");
});
