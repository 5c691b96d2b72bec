// The operator's seat-limit route: only the OPERATOR_TOKEN secret opens it.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startWorker, assertProblem } from "./helpers.mjs";

const SECRET = "operator-test-secret-not-for-production";
let w, owner, orgId;
before(async () => {
  w = await startWorker({ vars: { OPERATOR_TOKEN: SECRET } });
  owner = await w.activeUser();
  orgId = owner.organization.id;
});
after(async () => { await w?.dispose(); });

const put = (body, token, org = orgId) => w.request("PUT", `/v1/admin/orgs/${org}/limits`, { body, token });

test("the operator sets member_limit; usage follows; the change is audited", async () => {
  const r = await put({ member_limit: 3 }, SECRET);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.deepEqual(r.body, { org_id: orgId, member_limit: 3, members: 1, remaining: 2 });
  assert.equal((await w.one("SELECT member_limit FROM orgs WHERE id = ?", orgId)).member_limit, 3);
  const usage = await w.get(`/v1/orgs/${orgId}/usage`, { token: owner.access_token });
  assert.equal(usage.body.member_limit, 3);
  const ev = await w.one("SELECT * FROM audit_events WHERE org_id = ? AND action = 'org.limits_changed'", orgId);
  assert.deepEqual(JSON.parse(ev.metadata), { member_limit: { from: 50, to: 3 } });
  // The operator is no user of the org: actor_type 'operator', no id, email or name.
  assert.equal(ev.actor_type, "operator");
  assert.equal(ev.actor_id, null);
  assert.equal(ev.actor_email, null);
  assert.equal(ev.actor_name, null);
  assert.equal(ev.target_type, "org");
  assert.equal(ev.target_id, orgId);
  // Through the audit API: actor exactly {type: "operator"}.
  const trail = await w.get(`/v1/orgs/${orgId}/audit-events?action=org.limits_changed`, { token: owner.access_token });
  assert.equal(trail.status, 200, JSON.stringify(trail.body));
  assert.equal(trail.body.data.length, 1, JSON.stringify(trail.body));
  assert.equal(trail.body.data[0].id, ev.id);
  assert.deepEqual(trail.body.data[0].actor, { type: "operator" });
  assert.deepEqual(trail.body.data[0].target, { type: "org", id: orgId });
  assert.deepEqual(trail.body.data[0].metadata, { member_limit: { from: 50, to: 3 } });
});

test("everyone else is refused alike, and nothing changes", async () => {
  assertProblem(await put({ member_limit: 999 }), 401, "unauthorized");
  assertProblem(await put({ member_limit: 999 }, "wrong-secret"), 401, "unauthorized");
  assertProblem(await put({ member_limit: 999 }, owner.access_token), 401, "unauthorized");
  assert.equal((await w.one("SELECT member_limit FROM orgs WHERE id = ?", orgId)).member_limit, 3);
});

test("the operator's secret opens no other route, and no other credential opens the operator's", async () => {
  // A person's route, an org's route, the authorization check: 401, as for any non-credential.
  assertProblem(await w.get("/v1/me", { token: SECRET }), 401, "unauthorized");
  assertProblem(await w.get(`/v1/orgs/${orgId}/members`, { token: SECRET }), 401, "unauthorized");
  assertProblem(await w.get("/v1/orgs/not-an-id/members", { token: SECRET }), 401, "unauthorized");
  assertProblem(await w.post("/v1/authz/check", { workspace_id: owner.workspace.id, action: "view" }, { token: SECRET }), 401, "unauthorized");
  // Naming a user plans the facts' read into the credential's row, which only a session's
  // or a token's row carries: refused, not a failure.
  assertProblem(await w.post("/v1/authz/check", { workspace_id: owner.workspace.id, action: "view", user_id: owner.user.id }, { token: SECRET }), 401, "unauthorized");
  // A live API token of the org (an admin's) is refused by the operator's route alike.
  const created = await w.post(`/v1/orgs/${orgId}/api-tokens`, { name: "ops", role: "admin" }, { token: owner.access_token });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  assertProblem(await put({ member_limit: 999 }, created.body.token), 401, "unauthorized");
  assert.equal((await w.one("SELECT member_limit FROM orgs WHERE id = ?", orgId)).member_limit, 3);
});

test("bad bodies 422, unknown orgs 404", async () => {
  for (const body of [{ member_limit: 0 }, { member_limit: 1000001 }, { member_limit: "10" }, { member_limit: 1.5 }, {}, { member_limit: 5, extra: 1 }]) {
    assertProblem(await put(body, SECRET), 422, "validation_failed");
  }
  assertProblem(await put({ member_limit: 5 }, SECRET, "00000000-0000-7000-8000-000000000000"), 404, "not_found");
  assertProblem(await put({ member_limit: 5 }, SECRET, "nope"), 404, "not_found");
});

test("without OPERATOR_TOKEN configured the route refuses everyone", async () => {
  const plain = await startWorker();
  try {
    const u = await plain.activeUser();
    assertProblem(await plain.request("PUT", `/v1/admin/orgs/${u.organization.id}/limits`, { body: { member_limit: 5 }, token: SECRET }), 401, "unauthorized");
  } finally {
    await plain.dispose();
  }
});
