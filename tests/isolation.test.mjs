// Existence never leaks across tenants: every org-scoped operation of the API (read from
// /openapi.json, which a unit test holds equal to the router) answers 404 to a caller
// outside the org, whether the org, the workspace or the user is someone else's, and
// changes nothing. The caller is a person of another org, or an API token (admin) of
// another org (README "API tokens": "any other org is 404, as if it did not exist").
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startWorker, assertProblem } from "./helpers.mjs";

let w, victim, attacker, operations;
/** Resources of the victim's org, to put in the paths' other placeholders. */
let victimGroup, victimInvitation, victimToken;
/** An API token (admin, org-wide) of the attacker's org, created through the API. */
let attackerToken;

const BODIES = {
  "POST /v1/orgs/{org}/transfer-ownership": () => ({ user_id: victim.user.id }),
  "PATCH /v1/orgs/{org}": () => ({ name: "pwned" }),
  "POST /v1/orgs/{org}/members": () => ({ email: "x@example.com", first_name: "X", last_name: "Y", role: "viewer", credential: "activation_email" }),
  "PATCH /v1/orgs/{org}/members/{user}": () => ({ role: "viewer" }),
  "POST /v1/orgs/{org}/members/{user}/reset-password": () => ({ mode: "email" }),
  "POST /v1/orgs/{org}/workspaces": () => ({ name: "pwned" }),
  "PATCH /v1/orgs/{org}/workspaces/{ws}": () => ({ name: "pwned" }),
  "PUT /v1/orgs/{org}/workspaces/{ws}/members/{user}": () => ({ role: "viewer" }),
  "POST /v1/orgs/{org}/invitations": () => ({ email: "x@example.com", role: "viewer" }),
  "POST /v1/orgs/{org}/groups": () => ({ name: "pwned" }),
  "PATCH /v1/orgs/{org}/groups/{group}": () => ({ name: "pwned" }),
  "PUT /v1/orgs/{org}/workspaces/{ws}/grants": () => ({ principal: { type: "user", id: victim.user.id }, resource: { type: "dashboard", id: "d1" }, permission: "edit" }),
  "DELETE /v1/orgs/{org}/workspaces/{ws}/grants": () => ({ principal: { type: "user", id: victim.user.id }, resource: { type: "dashboard", id: "d1" } }),
  "POST /v1/orgs/{org}/api-tokens": () => ({ name: "pwned", role: "admin" }),
};

before(async () => {
  w = await startWorker();
  [victim, attacker] = await Promise.all([w.activeUser(), w.activeUser()]);
  const as = (u) => ({ token: u.access_token });
  const created = (r) => { assert.equal(r.status, 201, JSON.stringify(r.body)); return r.body; };
  const vOrg = `/v1/orgs/${victim.organization.id}`;
  victimGroup = created(await w.post(`${vOrg}/groups`, { name: "Victims" }, as(victim)));
  victimInvitation = created(await w.post(`${vOrg}/invitations`, { email: "invitee@example.com", role: "viewer" }, as(victim)));
  victimToken = created(await w.post(`${vOrg}/api-tokens`, { name: "victim bot", role: "admin" }, as(victim)));
  attackerToken = created(await w.post(`/v1/orgs/${attacker.organization.id}/api-tokens`, { name: "attacker bot", role: "admin" }, as(attacker)));
  assert.match(attackerToken.token, /^umt_[A-Za-z0-9_-]{43}$/);
  assert.equal(attackerToken.role, "admin");
  assert.equal(attackerToken.workspaces, null);
  const doc = (await w.get("/openapi.json")).body;
  operations = Object.entries(doc.paths)
    .filter(([p]) => p.startsWith("/v1/orgs/{org}"))
    .flatMap(([p, item]) => Object.keys(item).filter((m) => ["get", "post", "put", "patch", "delete"].includes(m)).map((m) => [m.toUpperCase(), p]));
});
after(async () => { await w?.dispose(); });

async function snapshot() {
  const tables = ["orgs", "workspaces", "org_members", "workspace_members", "users", "user_tokens",
    "invitations", "groups", "group_members", "grants", "api_tokens", "audit_events", "outbox"];
  const out = {};
  for (const t of tables) out[t] = (await w.one(`SELECT COUNT(*) AS n FROM ${t}`)).n;
  out.org = await w.one("SELECT name, owner_id FROM orgs WHERE id = ?", victim.organization.id);
  out.group = await w.one("SELECT name FROM groups WHERE id = ?", victimGroup.id);
  out.invitation = await w.one("SELECT status, send_count FROM invitations WHERE id = ?", victimInvitation.id);
  out.token = await w.one("SELECT name, role, revoked_at FROM api_tokens WHERE id = ?", victimToken.id);
  return out;
}

/**
 * `pattern` with every placeholder filled: {org} with `org` (the victim's unless given),
 * {ws}/{user}/{group}/{invitation} and the API token id with the victim's own, anything
 * else with a well-formed id nobody has.
 */
function fill(pattern, org = victim.organization.id) {
  return pattern.replace(/\{([^}]+)\}/g, (_, name) => {
    if (name === "org") return org;
    if (name === "ws") return victim.workspace.id;
    if (name === "user") return victim.user.id;
    if (name === "group") return victimGroup.id;
    if (name === "invitation") return victimInvitation.id;
    if (/token/.test(name)) return victimToken.id;
    return "00000000-0000-7000-8000-000000000000";
  });
}

const bodyOf = (method, pattern) =>
  BODIES[`${method} ${pattern}`]?.() ?? (method === "GET" || method === "DELETE" ? undefined : {});

test("every org-scoped operation answers 404 to an outsider and changes nothing", async () => {
  assert.ok(operations.length >= 20, `only ${operations.length} operations found`);
  const before = await snapshot();
  for (const [method, pattern] of operations) {
    const r = await w.request(method, fill(pattern), { body: bodyOf(method, pattern), token: attacker.access_token });
    assert.equal(r.status, 404, `${method} ${pattern}: ${r.status} ${JSON.stringify(r.body)}`);
    assertProblem(r, 404, "not_found");
  }
  assert.deepEqual(await snapshot(), before);
});

test("every org-scoped operation answers 404 to an API token (admin) of another org and changes nothing", async () => {
  assert.ok(operations.length >= 20, `only ${operations.length} operations found`);
  const own = `/v1/orgs/${attacker.organization.id}`;
  // The token is live: it works on its own org (so a 404 below is the org gate, not a dead
  // token; a dead or unknown token would be 401).
  const mine = await w.get(`${own}/workspaces`, { token: attackerToken.token });
  assert.equal(mine.status, 200, JSON.stringify(mine.body));
  assert.deepEqual(mine.body.data.map((x) => x.id), [attacker.workspace.id]);
  assertProblem(await w.get(`/v1/orgs/${victim.organization.id}/workspaces`, { token: "umt_" + "A".repeat(43) }), 401, "unauthorized");

  const before = await snapshot();
  for (const [method, pattern] of operations) {
    const r = await w.request(method, fill(pattern), { body: bodyOf(method, pattern), token: attackerToken.token });
    assert.equal(r.status, 404, `${method} ${pattern} with a foreign API token: ${r.status} ${JSON.stringify(r.body)}`);
    assertProblem(r, 404, "not_found");
  }
  // The API-token routes themselves, whether or not the document lists them yet: the org
  // gate runs before the "tokens do not manage tokens" rule, so a foreign token sees 404.
  const tokenRoutes = [
    ["POST", `/v1/orgs/${victim.organization.id}/api-tokens`, { name: "pwned", role: "admin" }],
    ["GET", `/v1/orgs/${victim.organization.id}/api-tokens`, undefined],
    ["DELETE", `/v1/orgs/${victim.organization.id}/api-tokens/${victimToken.id}`, undefined],
  ];
  for (const [method, path, body] of tokenRoutes) {
    const r = await w.request(method, path, { body, token: attackerToken.token });
    assert.equal(r.status, 404, `${method} ${path} with a foreign API token: ${r.status} ${JSON.stringify(r.body)}`);
    assertProblem(r, 404, "not_found");
  }
  assert.deepEqual(await snapshot(), before);
  // Still live afterwards, and the victim's token untouched and working.
  assert.equal((await w.get(`${own}/workspaces`, { token: attackerToken.token })).status, 200);
  assert.equal((await w.get(`/v1/orgs/${victim.organization.id}/workspaces`, { token: victimToken.token })).status, 200);
});

test("a member of one org, or its API token, reaching into another org's workspace through their own org gets 404", async () => {
  const wsOps = operations.filter(([, p]) => p.includes("{ws}"));
  assert.ok(wsOps.length >= 5, `only ${wsOps.length} workspace operations found`);
  for (const token of [attacker.access_token, attackerToken.token]) {
    for (const [method, pattern] of wsOps) {
      const r = await w.request(method, fill(pattern, attacker.organization.id), { body: bodyOf(method, pattern), token });
      assert.equal(r.status, 404, `${method} ${pattern}: ${r.status} ${JSON.stringify(r.body)}`);
      assertProblem(r, 404, "not_found");
    }
  }
  assert.equal((await w.one("SELECT name FROM workspaces WHERE id = ?", victim.workspace.id)).name, "Main");
});

test("without a token every org-scoped operation is 401", async () => {
  for (const [method, pattern] of operations) {
    assertProblem(await w.request(method, fill(pattern), { body: method === "GET" || method === "DELETE" ? undefined : {} }), 401, "unauthorized");
  }
});
