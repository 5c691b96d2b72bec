// Existence never leaks across tenants: every org-scoped operation of the API (read from
// /openapi.json, which a unit test holds equal to the router) answers 404 to a caller
// outside the org, whether the org, the workspace or the user is someone else's, and
// changes nothing.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startWorker, assertProblem } from "./helpers.mjs";

let w, victim, attacker, operations;

const BODIES = {
  "POST /v1/orgs/{org}/transfer-ownership": () => ({ user_id: victim.user.id }),
  "PATCH /v1/orgs/{org}": () => ({ name: "pwned" }),
  "POST /v1/orgs/{org}/members": () => ({ email: "x@example.com", first_name: "X", last_name: "Y", role: "viewer", credential: "activation_email" }),
  "PATCH /v1/orgs/{org}/members/{user}": () => ({ role: "viewer" }),
  "POST /v1/orgs/{org}/members/{user}/reset-password": () => ({ mode: "email" }),
  "POST /v1/orgs/{org}/workspaces": () => ({ name: "pwned" }),
  "PATCH /v1/orgs/{org}/workspaces/{ws}": () => ({ name: "pwned" }),
  "PUT /v1/orgs/{org}/workspaces/{ws}/members/{user}": () => ({ role: "viewer" }),
};

before(async () => {
  w = await startWorker();
  [victim, attacker] = await Promise.all([w.activeUser(), w.activeUser()]);
  const doc = (await w.get("/openapi.json")).body;
  operations = Object.entries(doc.paths)
    .filter(([p]) => p.startsWith("/v1/orgs/{org}"))
    .flatMap(([p, item]) => Object.keys(item).filter((m) => ["get", "post", "put", "patch", "delete"].includes(m)).map((m) => [m.toUpperCase(), p]));
});
after(async () => { await w?.dispose(); });

async function snapshot() {
  const tables = ["orgs", "workspaces", "org_members", "workspace_members", "users", "user_tokens"];
  const out = {};
  for (const t of tables) out[t] = (await w.one(`SELECT COUNT(*) AS n FROM ${t}`)).n;
  out.org = await w.one("SELECT name, owner_id FROM orgs WHERE id = ?", victim.organization.id);
  return out;
}

test("every org-scoped operation answers 404 to an outsider and changes nothing", async () => {
  assert.ok(operations.length >= 20, `only ${operations.length} operations found`);
  const before = await snapshot();
  for (const [method, pattern] of operations) {
    const path = pattern
      .replace("{org}", victim.organization.id)
      .replace("{ws}", victim.workspace.id)
      .replace("{user}", victim.user.id);
    const body = BODIES[`${method} ${pattern}`]?.();
    const r = await w.request(method, path, { body: body ?? (method === "GET" || method === "DELETE" ? undefined : {}), token: attacker.access_token });
    assertProblem(r, 404, "not_found");
  }
  assert.deepEqual(await snapshot(), before);
});

test("a member of one org reaching into another org's workspace through their own org gets 404", async () => {
  for (const [method, pattern] of operations.filter(([, p]) => p.includes("{ws}"))) {
    const path = pattern
      .replace("{org}", attacker.organization.id)
      .replace("{ws}", victim.workspace.id)
      .replace("{user}", victim.user.id);
    const body = BODIES[`${method} ${pattern}`]?.();
    const r = await w.request(method, path, { body: body ?? (method === "GET" || method === "DELETE" ? undefined : {}), token: attacker.access_token });
    assertProblem(r, 404, "not_found");
  }
  assert.equal((await w.one("SELECT name FROM workspaces WHERE id = ?", victim.workspace.id)).name, "Main");
});

test("without a token every org-scoped operation is 401", async () => {
  for (const [method, pattern] of operations) {
    const path = pattern.replace("{org}", victim.organization.id).replace("{ws}", victim.workspace.id).replace("{user}", victim.user.id);
    assertProblem(await w.request(method, path, { body: method === "GET" || method === "DELETE" ? undefined : {} }), 401, "unauthorized");
  }
});
