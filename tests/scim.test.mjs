// SCIM provisioning through the real Worker: the token and settings routes (every unhappy
// path), who may call /scim/v2 (a SCIM token only, for its own org), deactivation taking
// effect on the next request, the seat limit, deprovisioning, isolation between orgs, and
// the audit trail. The conformance tools and the Okta/Entra replays are in
// scim-conformance.test.mjs and scim-replay.test.mjs.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { startWorker, assertProblem, freshEmail, PASSWORD } from "./helpers.mjs";

const USER = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group";
const PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const ERROR = "urn:ietf:params:scim:api:messages:2.0:Error";

let w;
before(async () => { w = await startWorker(); });
after(async () => { await w?.dispose(); });

/** An owner, their org and a SCIM token of it. */
async function provisioned() {
  const owner = await w.activeUser();
  const org = owner.organization.id;
  const T = { token: owner.access_token };
  const res = await w.post(`/v1/orgs/${org}/scim-tokens`, { name: "okta" }, T);
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return { owner, org, T, scimToken: res.body.token, tokenId: res.body.id };
}

function scim(token) {
  return async (method, path, body) => w.request(method, `/scim/v2${path}`, {
    body, token, headers: body === undefined ? {} : { "content-type": "application/scim+json" },
  });
}

function assertScimError(res, status, scimType) {
  assert.equal(res.status, status, JSON.stringify(res.body));
  assert.match(res.headers.get("content-type"), /application\/scim\+json/);
  assert.deepEqual(res.body.schemas, [ERROR]);
  assert.equal(res.body.status, String(status));
  if (scimType) assert.equal(res.body.scimType, scimType, JSON.stringify(res.body));
}

const person = (n, extra = {}) => ({
  schemas: [USER], userName: `person.${n}`, name: { givenName: "Pat", familyName: `N${n}` },
  emails: [{ value: `person.${n}@example.com`, type: "work", primary: true }], active: true, ...extra,
});

test("tokens: shown once and stored as SHA-256; listed, revoked; every unhappy path", async () => {
  const { owner, org, T, scimToken, tokenId } = await provisioned();
  assert.match(scimToken, /^umscim_[A-Za-z0-9_-]{43}$/);
  const stored = await w.one("SELECT token_hash FROM scim_tokens WHERE id = ?", tokenId);
  assert.equal(stored.token_hash, createHash("sha256").update(scimToken).digest("hex"));
  const list = await w.get(`/v1/orgs/${org}/scim-tokens`, T);
  assert.equal(list.status, 200);
  assert.equal(list.body.data[0].id, tokenId);
  assert.equal(list.body.data[0].token, undefined, "the secret is never listed");
  // Unhappy paths: no token, another org, a role below admin, a bad body, an API token.
  assertProblem(await w.post(`/v1/orgs/${org}/scim-tokens`, {}), 401, "unauthorized");
  const stranger = await w.activeUser();
  assertProblem(await w.get(`/v1/orgs/${org}/scim-tokens`, { token: stranger.access_token }), 404, "not_found");
  const editor = await w.activeUser();
  await w.joinOrg(editor, org, "editor");
  assertProblem(await w.post(`/v1/orgs/${org}/scim-tokens`, {}, { token: editor.access_token }), 403, "forbidden");
  assertProblem(await w.post(`/v1/orgs/${org}/scim-tokens`, { name: "" }, T), 422, "validation_failed");
  assertProblem(await w.post(`/v1/orgs/${org}/scim-tokens`, { nope: 1 }, T), 422, "validation_failed");
  const api = await w.post(`/v1/orgs/${org}/api-tokens`, { name: "admin-bot", role: "admin" }, T);
  assertProblem(await w.post(`/v1/orgs/${org}/scim-tokens`, {}, { token: api.body.token }), 403, "forbidden");
  assert.equal((await w.one("SELECT COUNT(*) AS n FROM scim_tokens WHERE org_id = ?", org)).n, 1);
  // Revoked: the next SCIM request is 401; revoking again is 204 with one event.
  const call = scim(scimToken);
  assert.equal((await call("GET", "/Users")).status, 200);
  assert.equal((await w.del(`/v1/orgs/${org}/scim-tokens/${tokenId}`, T)).status, 204);
  assert.equal((await w.del(`/v1/orgs/${org}/scim-tokens/${tokenId}`, T)).status, 204);
  assertScimError(await call("GET", "/Users"), 401);
  assert.equal((await w.one("SELECT COUNT(*) AS n FROM audit_events WHERE org_id = ? AND action = 'scim_token.revoked'", org)).n, 1);
  assertProblem(await w.del(`/v1/orgs/${org}/scim-tokens/not-a-uuid`, T), 404, "not_found");
  void owner;
});

test("settings: defaults, validation (never owner), stored and audited", async () => {
  const { org, T } = await provisioned();
  const got = await w.get(`/v1/orgs/${org}/scim-settings`, T);
  assert.equal(got.status, 200);
  assert.equal(got.body.default_role, "viewer");
  assert.equal(got.body.activation, "email", "no SSO connection: an activation email");
  assert.equal(got.body.base_url, "http://127.0.0.1:8787/scim/v2");
  for (const bad of [{ default_role: "admin" }, { default_role: "owner" }, { default_role: "viewer", group_role_map: { Admins: "owner" } },
    { default_role: "viewer", activation: "carrier-pigeon" }, {}]) {
    assertProblem(await w.request("PUT", `/v1/orgs/${org}/scim-settings`, { body: bad, ...T }), 422, "validation_failed");
  }
  assert.equal((await w.one("SELECT COUNT(*) AS n FROM scim_settings WHERE org_id = ?", org)).n, 0);
  const put = await w.request("PUT", `/v1/orgs/${org}/scim-settings`, { body: { default_role: "editor", group_role_map: { Eng: "admin" }, activation: "email" }, ...T });
  assert.equal(put.status, 200);
  assert.deepEqual([put.body.default_role, put.body.group_role_map, put.body.activation], ["editor", { Eng: "admin" }, "email"]);
  assert.equal((await w.one("SELECT default_role FROM scim_settings WHERE org_id = ?", org)).default_role, "editor");
  assert.equal((await w.one("SELECT COUNT(*) AS n FROM audit_events WHERE org_id = ? AND action = 'scim_settings.updated'", org)).n, 1);
});

test("a SCIM token works only under /scim/v2, and only SCIM tokens work there", async () => {
  const { owner, org, scimToken } = await provisioned();
  // No credential, a JWT, an API token, a malformed SCIM token: 401 SCIM errors.
  assertScimError(await scim(undefined)("GET", "/Users"), 401);
  assertScimError(await scim(owner.access_token)("GET", "/Users"), 401);
  assertScimError(await scim("umscim_short")("GET", "/Users"), 401);
  // The SCIM token elsewhere: 401, and it records no provisioning request.
  assertProblem(await w.get(`/v1/orgs/${org}`, { token: scimToken }), 401, "unauthorized");
  assertProblem(await w.get("/v1/me", { token: scimToken }), 401, "unauthorized");
  assert.equal((await w.one("SELECT last_used_at FROM scim_tokens WHERE org_id = ?", org)).last_used_at, null);
  // Unknown paths are SCIM 404s; other methods on discovery are 405s.
  assertScimError(await scim(scimToken)("GET", "/Widgets"), 404);
  assertScimError(await scim(scimToken)("DELETE", "/Schemas"), 405);
});

test("create, read, filter, page, patch, replace and delete a user; audit with auth_method scim", async () => {
  const { org, scimToken } = await provisioned();
  const call = scim(scimToken);
  const created = await call("POST", "/Users", person(1, { externalId: "ext-1", phoneNumbers: [{ value: "+14155550100", type: "mobile" }] }));
  assert.equal(created.status, 201, JSON.stringify(created.body));
  assert.match(created.headers.get("content-type"), /application\/scim\+json/);
  assert.equal(created.headers.get("location"), created.body.meta.location);
  assert.equal(created.body.userName, "person.1");
  const id = created.body.id;
  // The account: the primary email, the names, pending with an activation email (no SSO).
  const account = await w.one("SELECT email, first_name, last_name, status, phone, created_by_org_id FROM users WHERE id = ?", id);
  assert.deepEqual(account, { email: "person.1@example.com", first_name: "Pat", last_name: "N1", status: "pending", phone: "+14155550100", created_by_org_id: org });
  assert.equal((await w.one("SELECT role FROM org_members WHERE org_id = ? AND user_id = ?", org, id)).role, "viewer");
  await w.mail("person.1@example.com", /Activate/);
  // A second userName the same (any case) or the same externalId: 409 uniqueness.
  assertScimError(await call("POST", "/Users", person(1, { userName: "PERSON.1", emails: [{ value: "other@example.com", primary: true }] })), 409, "uniqueness");
  assertScimError(await call("POST", "/Users", person(2, { externalId: "ext-1" })), 409, "uniqueness");
  assertScimError(await call("POST", "/Users", { schemas: [USER] }), 400, "invalidValue");
  assertScimError(await call("POST", "/Users", { schemas: [USER], userName: "no-email" }), 400, "invalidValue");
  assert.equal((await w.one("SELECT COUNT(*) AS n FROM scim_users WHERE org_id = ?", org)).n, 1);
  // Filters: userName (any case), externalId, the work email; something else is invalidFilter.
  for (const filter of ['userName eq "PERSON.1"', 'externalId eq "ext-1"', 'emails[type eq "work"].value eq "person.1@example.com"']) {
    const found = await call("GET", `/Users?filter=${encodeURIComponent(filter)}`);
    assert.equal(found.status, 200, filter);
    assert.deepEqual(found.body.Resources.map((r) => r.id), [id], filter);
    assert.equal(found.body.totalResults, 1);
  }
  assertScimError(await call("GET", `/Users?filter=${encodeURIComponent('userName co "person"')}`), 400, "invalidFilter");
  // Paging: the owner and the person, in a stable order, one per page.
  const p1 = await call("GET", "/Users?startIndex=1&count=1");
  const p2 = await call("GET", "/Users?startIndex=2&count=1");
  assert.equal(p1.body.totalResults, 2);
  assert.notEqual(p1.body.Resources[0].id, p2.body.Resources[0].id);
  assert.deepEqual((await call("GET", "/Users?count=0")).body.Resources, []);
  // PATCH as Entra sends it: Replace with the string "False", a path-less object with dotted keys.
  const patched = await call("PATCH", `/Users/${id}`, { schemas: [PATCH], Operations: [
    { op: "Replace", path: "active", value: "False" },
    { op: "Replace", value: { "name.givenName": "Patricia", displayName: "Patricia N" } }] });
  assert.equal(patched.status, 200, JSON.stringify(patched.body));
  assert.equal(patched.body.active, false);
  assert.equal(patched.body.name.givenName, "Patricia");
  const member = await w.one("SELECT suspended_at FROM org_members WHERE org_id = ? AND user_id = ?", org, id);
  assert.ok(member.suspended_at, "suspended");
  assert.equal((await w.one("SELECT first_name FROM users WHERE id = ?", id)).first_name, "Patricia", "the org's own account follows");
  // PUT replaces the whole resource.
  const put = await call("PUT", `/Users/${id}`, person(1, { userName: "person.one", active: true }));
  assert.equal(put.status, 200);
  assert.equal(put.body.userName, "person.one");
  assert.equal(put.body.externalId, undefined, "left out of the PUT: gone");
  assert.equal((await w.one("SELECT suspended_at FROM org_members WHERE org_id = ? AND user_id = ?", org, id)).suspended_at, null);
  // Audit: every change by the SCIM token, auth_method scim.
  const events = await w.rows("SELECT action, actor_type, auth_method FROM audit_events WHERE org_id = ? AND actor_type = 'scim_token' ORDER BY at", org);
  assert.ok(events.length >= 4, JSON.stringify(events));
  assert.ok(events.every((e) => e.auth_method === "scim"), JSON.stringify(events));
  for (const action of ["member.added", "member.suspended", "member.restored", "user.updated"]) {
    assert.ok(events.some((e) => e.action === action), action);
  }
  // Delete: the org's own account of no other org goes; a second delete is 404.
  assert.equal((await call("DELETE", `/Users/${id}`)).status, 204);
  assert.equal(await w.one("SELECT id FROM users WHERE id = ?", id), undefined);
  assertScimError(await call("DELETE", `/Users/${id}`), 404);
  assertScimError(await call("GET", "/Users/not-a-uuid"), 404);
});

test("deactivation takes effect on the person's next request; reactivation restores access", async () => {
  const { org, T, scimToken } = await provisioned();
  const call = scim(scimToken);
  // An existing account joins through SCIM (it keeps its password and its own details).
  const p = await w.activeUser();
  const created = await call("POST", "/Users", { schemas: [USER], userName: p.email, emails: [{ value: p.email, primary: true }], active: true });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const id = created.body.id;
  assert.equal(id, p.user.id, "the existing account");
  const login = await w.login(p.email, PASSWORD);
  const P = { token: login.body.access_token };
  assert.equal((await w.get(`/v1/orgs/${org}`, P)).status, 200);
  assert.equal((await call("PATCH", `/Users/${id}`, { schemas: [PATCH], Operations: [{ op: "replace", path: "active", value: false }] })).status, 200);
  // The very next request: the session is over.
  assertProblem(await w.get(`/v1/orgs/${org}`, P), 401, "unauthorized");
  const again = await w.login(p.email, PASSWORD);
  assert.equal(again.status, 200, "their account still works elsewhere");
  assertProblem(await w.get(`/v1/orgs/${org}`, { token: again.body.access_token }), 404, "not_found");
  assert.ok(!(await w.get("/v1/me", { token: again.body.access_token })).body.memberships.some((m) => m.org_id === org));
  // The owner's directory still lists them, marked suspended, keeping their role and seat.
  const listed = await w.get(`/v1/orgs/${org}/members/${id}`, T);
  assert.equal(listed.status, 200);
  assert.deepEqual([listed.body.suspended, listed.body.role], [true, "viewer"]);
  assert.equal((await call("PATCH", `/Users/${id}`, { schemas: [PATCH], Operations: [{ op: "replace", path: "active", value: true }] })).status, 200);
  assert.equal((await w.get(`/v1/orgs/${org}`, { token: again.body.access_token })).status, 200);
  assert.equal((await w.get(`/v1/orgs/${org}/members/${id}`, T)).body.suspended, false);
  // Not the org's account: deprovisioning removes the membership and keeps the account.
  assert.equal((await call("DELETE", `/Users/${id}`)).status, 204);
  assert.ok(await w.one("SELECT id FROM users WHERE id = ?", id));
  assert.equal((await w.one("SELECT COUNT(*) AS n FROM org_members WHERE org_id = ? AND user_id = ?", org, id)).n, 0);
});

test("the seat limit answers a SCIM 409 with a detail, and nothing is created", async () => {
  const { org, scimToken } = await provisioned();
  await w.db.prepare("UPDATE orgs SET member_limit = 1 WHERE id = ?").bind(org).run();
  const res = await scim(scimToken)("POST", "/Users", person(9));
  assertScimError(res, 409);
  assert.match(res.body.detail, /seat/);
  assert.equal(await w.one("SELECT id FROM users WHERE email = ?", "person.9@example.com"), undefined);
});

test("groups: members added and removed the ways Okta and Entra send; unknown members ignored", async () => {
  const { org, scimToken } = await provisioned();
  const call = scim(scimToken);
  const a = (await call("POST", "/Users", person(21))).body.id;
  const b = (await call("POST", "/Users", person(22))).body.id;
  const g = await call("POST", "/Groups", { schemas: [GROUP], displayName: "Engineering", members: [{ value: a }, { value: "fake-member-id" }] });
  assert.equal(g.status, 201, JSON.stringify(g.body));
  assert.deepEqual(g.body.members.map((m) => m.value), [a]);
  const gid = g.body.id;
  assert.equal((await call("PATCH", `/Groups/${gid}`, { schemas: [PATCH], Operations: [{ op: "Add", path: "members", value: [{ value: b }] }] })).status, 200);
  assert.equal((await w.one("SELECT COUNT(*) AS n FROM group_members WHERE group_id = ?", gid)).n, 2);
  // Entra: path "members" with a list of values; Okta: members[value eq "…"].
  assert.equal((await call("PATCH", `/Groups/${gid}`, { schemas: [PATCH], Operations: [{ op: "Remove", path: "members", value: [{ value: a }] }] })).status, 200);
  assert.equal((await call("PATCH", `/Groups/${gid}`, { schemas: [PATCH], Operations: [{ op: "remove", path: `members[value eq "${b}"]` }] })).status, 200);
  assert.equal((await w.one("SELECT COUNT(*) AS n FROM group_members WHERE group_id = ?", gid)).n, 0);
  // Entra's excludedAttributes=members, and the display name filter.
  const found = await call("GET", `/Groups?filter=${encodeURIComponent('displayName eq "engineering"')}&excludedAttributes=members`);
  assert.equal(found.body.totalResults, 1);
  assert.equal(found.body.Resources[0].members, undefined);
  assertScimError(await call("POST", "/Groups", { schemas: [GROUP], displayName: "ENGINEERING" }), 409, "uniqueness");
  assert.equal((await call("DELETE", `/Groups/${gid}`)).status, 204);
  assert.equal(await w.one("SELECT id FROM groups WHERE id = ?", gid), undefined);
  void org;
});

test("isolation: a SCIM token of org A gets 404 for org B's users and groups, and changes nothing", async () => {
  const A = await provisioned();
  const B = await provisioned();
  const b = scim(B.scimToken);
  const user = (await b("POST", "/Users", person(31))).body.id;
  const group = (await b("POST", "/Groups", { schemas: [GROUP], displayName: "B only" })).body.id;
  const a = scim(A.scimToken);
  for (const [method, path, body] of [["GET", `/Users/${user}`], ["PUT", `/Users/${user}`, person(31)],
    ["PATCH", `/Users/${user}`, { schemas: [PATCH], Operations: [{ op: "replace", path: "active", value: false }] }],
    ["DELETE", `/Users/${user}`], ["GET", `/Groups/${group}`], ["DELETE", `/Groups/${group}`],
    ["PATCH", `/Groups/${group}`, { schemas: [PATCH], Operations: [{ op: "replace", path: "displayName", value: "x" }] }]]) {
    assertScimError(await a(method, path, body), 404);
  }
  const listed = await a("GET", `/Users?filter=${encodeURIComponent('userName eq "person.31"')}`);
  assert.equal(listed.body.totalResults, 0);
  assert.equal((await w.one("SELECT suspended_at FROM org_members WHERE org_id = ? AND user_id = ?", B.org, user)).suspended_at, null);
  assert.ok(await w.one("SELECT id FROM groups WHERE id = ?", group));
});

test("with an active SSO connection, provisioned people sign in through it (no activation email)", async () => {
  const { org, T, scimToken } = await provisioned();
  // An active connection, straight in D1 (the SSO tests cover creating one for real).
  const conn = "01a24300-0000-7000-8000-000000000001";
  await w.db.prepare(`INSERT INTO sso_connections (id, org_id, name, issuer, client_id, client_secret, default_role, jit,
      scopes, status, authorization_endpoint, token_endpoint, jwks_uri, token_auth, iss_parameter, created_at, updated_at)
    VALUES (?, ?, 'Okta', 'https://okta.example', 'c', 'x', 'viewer', 1, 'openid email', 'active',
      'https://okta.example/a', 'https://okta.example/t', 'https://okta.example/k', 'client_secret_basic', 0, 1, 1)`).bind(conn, org).run();
  assert.equal((await w.get(`/v1/orgs/${org}/scim-settings`, T)).body.activation, "sso");
  const email = freshEmail("sso-person");
  const res = await scim(scimToken)("POST", "/Users", { schemas: [USER], userName: email, emails: [{ value: email, primary: true }], active: true });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  const account = await w.one("SELECT status, email_verified, password_hash, federated_by FROM users WHERE id = ?", res.body.id);
  assert.deepEqual(account, { status: "active", email_verified: 1, password_hash: null, federated_by: conn });
  const mails = (await w.get(`/v1/dev/mailbox?to=${encodeURIComponent(email)}`)).body.data;
  assert.equal(mails.length, 0, "no activation email");
});

test("the settings' group → role map gives provisioned members their role as their groups change; never the owner", async () => {
  const { owner, org, T, scimToken } = await provisioned();
  const put = await w.request("PUT", `/v1/orgs/${org}/scim-settings`, { body: { default_role: "viewer", group_role_map: { Admins: "admin", Eng: "editor" } }, ...T });
  assert.equal(put.status, 200);
  const call = scim(scimToken);
  const u = (await call("POST", "/Users", person(41))).body.id;
  const role = async (id) => (await w.one("SELECT role FROM org_members WHERE org_id = ? AND user_id = ?", org, id)).role;
  assert.equal(await role(u), "viewer");
  const eng = (await call("POST", "/Groups", { schemas: [GROUP], displayName: "eng", members: [{ value: u }] })).body.id;
  assert.equal(await role(u), "editor", "group names match the map case-insensitively");
  const admins = (await call("POST", "/Groups", { schemas: [GROUP], displayName: "Admins" })).body.id;
  assert.equal((await call("PATCH", `/Groups/${admins}`, { schemas: [PATCH], Operations: [{ op: "add", path: "members", value: [{ value: u }, { value: owner.user.id }] }] })).status, 200);
  assert.equal(await role(u), "admin", "the highest mapped role wins");
  assert.equal(await role(owner.user.id), "owner", "never the owner's");
  assert.equal((await call("PATCH", `/Groups/${admins}`, { schemas: [PATCH], Operations: [{ op: "remove", path: `members[value eq "${u}"]` }] })).status, 200);
  assert.equal(await role(u), "editor");
  assert.equal((await call("DELETE", `/Groups/${eng}`)).status, 204);
  assert.equal(await role(u), "viewer", "no mapped group left: the default role");
  const changes = await w.rows("SELECT metadata, auth_method FROM audit_events WHERE org_id = ? AND action = 'member.role_changed' ORDER BY at", org);
  assert.deepEqual(changes.map((c) => JSON.parse(c.metadata).to), ["editor", "admin", "editor", "viewer"]);
  assert.ok(changes.every((c) => c.auth_method === "scim"));
});
