// Accounts an org's admin creates (seeds 002/004): an activation link, or a single-use
// password returned once; existing emails join as members; role ceilings and seats hold.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startWorker, assertProblem, freshEmail } from "./helpers.mjs";

let w, owner, editor, viewer, outsider, orgId, wsId;
const path = () => `/v1/orgs/${orgId}/members`;
const person = (extra = {}) => ({
  email: freshEmail("managed"), first_name: "Grace", last_name: "Hopper",
  role: "viewer", credential: "activation_email", ...extra,
});

before(async () => {
  w = await startWorker();
  [owner, editor, viewer, outsider] = await Promise.all(Array.from({ length: 4 }, () => w.activeUser()));
  orgId = owner.organization.id;
  wsId = owner.workspace.id;
  for (const [u, role] of [[editor, "editor"], [viewer, "viewer"]]) {
    await w.db.prepare("INSERT INTO org_members (org_id, user_id, role, joined_at) VALUES (?, ?, ?, ?)")
      .bind(orgId, u.user.id, role, Date.now()).run();
  }
});
after(async () => { await w?.dispose(); });

test("activation_email: a pending managed account, a 24 h link, activation sets the password", async () => {
  const body = person({ country_code: "+356", mobile_number: "7912 3456", workspaces: [{ workspace_id: wsId, role: "editor" }] });
  const r = await w.post(path(), body, { token: owner.access_token });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  assert.equal(r.body.created_account, true);
  assert.equal(r.body.role, "viewer");
  assert.equal(r.body.managed, true);
  assert.equal(r.body.user.phone, "+35679123456");
  assert.deepEqual(r.body.workspaces.map((x) => [x.id, x.role]), [[wsId, "editor"]]);
  assert.equal(r.body.single_use_password, undefined);
  const row = await w.one("SELECT status, password_hash, created_by_org_id FROM users WHERE id = ?", r.body.user.id);
  assert.deepEqual(row, { status: "pending", password_hash: null, created_by_org_id: orgId });
  const token = await w.mailToken(body.email, /Activate/);
  const t = await w.one("SELECT expires_at - created_at AS ttl FROM user_tokens WHERE user_id = ? AND purpose = 'activation'", r.body.user.id);
  assert.equal(t.ttl, 86400 * 1000);
  assertProblem(await w.post("/v1/auth/activate", { token }), 422, "validation_failed");
  // The common-password list (a static asset of the Worker) holds for activation too.
  const common = await w.post("/v1/auth/activate", { token, password: "Password123" });
  assertProblem(common, 422, "validation_failed");
  assert.deepEqual(common.body.errors, [{ field: "password", message: "is too common; choose a less guessable password" }]);
  assert.equal((await w.one("SELECT status FROM users WHERE id = ?", r.body.user.id)).status, "pending");
  const a = await w.post("/v1/auth/activate", { token, password: "graces own passphrase" });
  assert.equal(a.status, 200, JSON.stringify(a.body));
  assert.equal((await w.login(body.email, "graces own passphrase")).status, 200);
});

test("single_use_password: returned once; login demands a change; generated when not given", async () => {
  const given = person({ credential: "single_use_password", password: "temporary passphrase 7" });
  const r = await w.post(path(), given, { token: owner.access_token });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  assert.equal(r.body.single_use_password, "temporary passphrase 7");
  const login = await w.login(given.email, "temporary passphrase 7");
  assertProblem(login, 403, "password_change_required");
  const changed = await w.post("/v1/me/password", { current_password: "temporary passphrase 7", new_password: "now truly mine 42" }, { token: login.body.change_token });
  assert.equal(changed.status, 204);
  assert.equal((await w.login(given.email, "now truly mine 42")).status, 200);

  const generated = await w.post(path(), person({ credential: "single_use_password" }), { token: owner.access_token });
  assert.match(generated.body.single_use_password, /^[A-Za-z2-9]{16}$/);
  const stored = await w.one("SELECT password_hash, must_change_password, status FROM users WHERE id = ?", generated.body.user.id);
  assert.equal(stored.must_change_password, 1);
  assert.equal(stored.status, "active");
  assert.ok(!stored.password_hash.includes(generated.body.single_use_password));
});

test("an existing account is added as a member instead; twice is 409 already_member", async () => {
  const r = await w.post(path(), person({ email: outsider.email.toUpperCase() }), { token: owner.access_token });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  assert.equal(r.body.created_account, false);
  assert.equal(r.body.user.id, outsider.user.id);
  assert.equal(r.body.managed, false);
  assertProblem(await w.post(path(), person({ email: outsider.email }), { token: owner.access_token }), 409, "already_member");
  const org = await w.get(`/v1/orgs/${orgId}`, { token: outsider.access_token });
  assert.equal(org.body.role, "viewer");
});

test("ceilings: editors create up to editor with activation links only; viewers 403; outsiders 404", async () => {
  assert.equal((await w.post(path(), person({ role: "editor" }), { token: editor.access_token })).status, 201);
  assertProblem(await w.post(path(), person({ role: "admin" }), { token: editor.access_token }), 403, "forbidden");
  assertProblem(await w.post(path(), person({ workspaces: [{ workspace_id: wsId, role: "admin" }] }), { token: editor.access_token }), 403, "forbidden");
  assertProblem(await w.post(path(), person({ credential: "single_use_password" }), { token: editor.access_token }), 403, "forbidden");
  assertProblem(await w.post(path(), person(), { token: viewer.access_token }), 403, "forbidden");
  const stranger = await w.activeUser();
  assertProblem(await w.post(path(), person(), { token: stranger.access_token }), 404, "not_found");
  assertProblem(await w.post(path(), person()), 401, "unauthorized");
});

test("bad bodies are 422 and write nothing", async () => {
  const before = (await w.one("SELECT COUNT(*) AS n FROM users")).n;
  for (const [body, field] of [
    [person({ role: "owner" }), "role"],
    [person({ credential: "carrier_pigeon" }), "credential"],
    [person({ password: "x" }), "password"],
    [person({ credential: "single_use_password", password: "short" }), "password"],
    [person({ credential: "single_use_password", password: "iloveyou1" }), "password"],
    [person({ email: "nope" }), "email"],
    [person({ phone: "12345" }), "phone"],
    [person({ workspaces: [{ workspace_id: "not-a-uuid", role: "viewer" }] }), "workspaces[0].workspace_id"],
    [person({ workspaces: [{ workspace_id: outsider.workspace.id, role: "viewer" }] }), "workspaces[0].workspace_id"],
    [person({ role: "member" }), "workspaces"],
    [person({ groups: ["g1"] }), "groups[0]"],
    [person({ groups: [crypto.randomUUID()] }), "groups[0]"],
  ]) {
    const r = await w.post(path(), body, { token: owner.access_token });
    assertProblem(r, 422, "validation_failed");
    assert.ok(r.body.errors.some((e) => e.field === field), `${field}: ${JSON.stringify(r.body.errors)}`);
  }
  assert.equal((await w.one("SELECT COUNT(*) AS n FROM users")).n, before);
});

test("concurrent creations never exceed member_limit", async () => {
  const count = async () => (await w.one("SELECT COUNT(*) AS n FROM org_members WHERE org_id = ?", orgId)).n;
  await w.db.prepare("UPDATE orgs SET member_limit = ? WHERE id = ?").bind((await count()) + 2, orgId).run();
  const results = await Promise.all(Array.from({ length: 8 }, () => w.post(path(), person(), { token: owner.access_token })));
  assert.equal(results.filter((r) => r.status === 201).length, 2, JSON.stringify(results.map((r) => r.status)));
  for (const r of results.filter((r) => r.status !== 201)) assertProblem(r, 409, "capacity_exceeded");
  assert.equal(await count(), (await w.one("SELECT member_limit FROM orgs WHERE id = ?", orgId)).member_limit);
  // Refused creations left no account behind.
  const orphans = await w.rows("SELECT id FROM users WHERE created_by_org_id = ? AND id NOT IN (SELECT user_id FROM org_members)", orgId);
  assert.equal(orphans.length, 0);
});

const memberPath = (id, suffix) => `/v1/orgs/${orgId}/members/${id}${suffix}`;

test("resend activation: a new link, the old one dies; only for pending managed accounts", async () => {
  await w.db.prepare("UPDATE orgs SET member_limit = 1000 WHERE id = ?").bind(orgId).run();
  const p = person();
  const created = (await w.post(path(), p, { token: owner.access_token })).body;
  const first = await w.mailToken(p.email, /Activate/);
  const r = await w.post(memberPath(created.user.id, "/resend-activation"), undefined, { token: owner.access_token });
  assert.equal(r.status, 202, JSON.stringify(r.body));
  const second = await w.until(async () => { const t = await w.mailToken(p.email, /Activate/); return t !== first && t; }, { what: "second activation mail" });
  assertProblem(await w.post("/v1/auth/activate", { token: first, password: "a fine new passphrase" }), 400, "invalid_token");
  assert.equal((await w.post("/v1/auth/activate", { token: second, password: "a fine new passphrase" })).status, 200);
  assertProblem(await w.post(memberPath(created.user.id, "/resend-activation"), undefined, { token: owner.access_token }), 409, "conflict");
  assertProblem(await w.post(memberPath(created.user.id, "/resend-activation"), undefined, { token: editor.access_token }), 403, "forbidden");
  // Not this org's account (self-registered, joined as member): not this org's to administer.
  assertProblem(await w.post(memberPath(outsider.user.id, "/resend-activation"), undefined, { token: owner.access_token }), 403, "forbidden");
});

test("admin reset: single-use password unlocks and ends sessions; email mode sends a link", async () => {
  const p = person({ credential: "single_use_password", password: "first temporary pass" });
  const created = (await w.post(path(), p, { token: owner.access_token })).body;
  const change = (await w.login(p.email, "first temporary pass")).body.change_token;
  assert.equal((await w.post("/v1/me/password", { current_password: "first temporary pass", new_password: "settled passphrase 1" }, { token: change })).status, 204);
  const session = (await w.login(p.email, "settled passphrase 1")).body;
  for (let i = 0; i < 5; i++) await w.login(p.email, `wrong guess ${i}`);
  assert.equal((await w.one("SELECT status FROM users WHERE id = ?", created.user.id)).status, "locked");

  const r = await w.post(memberPath(created.user.id, "/reset-password"), { mode: "single_use_password" }, { token: owner.access_token });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.match(r.body.single_use_password, /^[A-Za-z2-9]{16}$/);
  assert.deepEqual(await w.one("SELECT status, failed_logins, must_change_password FROM users WHERE id = ?", created.user.id), { status: "active", failed_logins: 0, must_change_password: 1 });
  assertProblem(await w.get("/v1/me", { token: session.access_token }), 401, "unauthorized");
  assertProblem(await w.login(p.email, r.body.single_use_password), 403, "password_change_required");
  assert.equal((await w.rows("SELECT 1 FROM audit_events WHERE org_id = ? AND action = 'user.unlocked' AND target_id = ?", orgId, created.user.id)).length, 1);

  const e = await w.post(memberPath(created.user.id, "/reset-password"), { mode: "email" }, { token: owner.access_token });
  assert.equal(e.status, 202);
  const token = await w.mailToken(p.email, /Reset/);
  assert.equal((await w.post("/v1/auth/password/reset", { token, new_password: "chosen after reset" })).status, 204);
  assert.equal((await w.login(p.email, "chosen after reset")).status, 200);

  assertProblem(await w.post(memberPath(created.user.id, "/reset-password"), { mode: "sms" }, { token: owner.access_token }), 422, "validation_failed");
  assertProblem(await w.post(memberPath(created.user.id, "/reset-password"), { mode: "email" }, { token: editor.access_token }), 403, "forbidden");
  assertProblem(await w.post(memberPath(outsider.user.id, "/reset-password"), { mode: "email" }, { token: owner.access_token }), 403, "forbidden");
  assertProblem(await w.post(memberPath(owner.user.id, "/reset-password"), { mode: "email" }, { token: owner.access_token }), 409, "cannot_act_on_self");
});

test("delete a managed account: gone for good; not if it belongs to another org; never yourself", async () => {
  const p = person();
  const created = (await w.post(path(), p, { token: owner.access_token })).body;
  assertProblem(await w.del(`/v1/orgs/${orgId}/users/${created.user.id}`, { token: editor.access_token }), 403, "forbidden");
  assert.equal((await w.del(`/v1/orgs/${orgId}/users/${created.user.id}`, { token: owner.access_token })).status, 204);
  assert.equal((await w.rows("SELECT 1 FROM users WHERE id = ?", created.user.id)).length, 0);
  assert.equal((await w.rows("SELECT 1 FROM org_members WHERE user_id = ?", created.user.id)).length, 0);
  assert.equal((await w.rows("SELECT 1 FROM audit_events WHERE org_id = ? AND action = 'user.deleted' AND target_id = ?", orgId, created.user.id)).length, 1);
  assertProblem(await w.del(`/v1/orgs/${orgId}/users/${created.user.id}`, { token: owner.access_token }), 404, "not_found");

  // A managed account that also joined another org lives on there.
  const shared = (await w.post(path(), person(), { token: owner.access_token })).body;
  await w.db.prepare("INSERT INTO org_members (org_id, user_id, role, joined_at) VALUES (?, ?, 'viewer', ?)")
    .bind(outsider.organization.id, shared.user.id, Date.now()).run();
  assertProblem(await w.del(`/v1/orgs/${orgId}/users/${shared.user.id}`, { token: owner.access_token }), 409, "conflict");
  assert.equal((await w.rows("SELECT 1 FROM users WHERE id = ?", shared.user.id)).length, 1);
  assertProblem(await w.del(`/v1/orgs/${orgId}/users/${outsider.user.id}`, { token: owner.access_token }), 403, "forbidden");
  assertProblem(await w.del(`/v1/orgs/${orgId}/users/${owner.user.id}`, { token: owner.access_token }), 409, "cannot_act_on_self");
});
