// API tokens (README "API tokens", the authz-check row of "Groups, resource grants and
// authorization checks", and the `actor` shape of "Audit events"), end to end:
// - management: create (the shape, the secret shown once and stored only as SHA-256, the
//   defaults, workspace lists, the audit event), validation that writes nothing, who may
//   manage tokens (owner/admin people only; never a token), live names unique
//   case-insensitively (also under concurrent creates), the list (newest first, keyset
//   pages, statuses, never a secret), revocation (immediate, idempotent, one event even
//   when revocations race);
// - use: an org-wide token acting with its role (reads, workspace creation, invitations with
//   `invited_by_token`, the audit trail naming the token), owner-only actions closed to
//   tokens, other orgs 404, person routes 403, dead tokens (revoked, expired, junk) 401,
//   `last_used_at`, scoped tokens (their workspaces only, the `api_tokens` metric, a
//   deleted workspace never widening the token), and `POST /v1/authz/check` asked by a token;
// - ownership: a token outlives its creator (`created_by` null once the account is deleted)
//   and dies with its org.
//
// Roles are given in D1 directly (as the other suites do); expiry is time travel by an
// UPDATE of api_tokens.expires_at. Tests that count or list an org's tokens use an org of
// their own (POST /v1/orgs).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomUUID } from "node:crypto";
import { startWorker, assertProblem, freshEmail } from "./helpers.mjs";

const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const SECRET = /^umt_[A-Za-z0-9_-]{43}$/;
const DAY = 86_400_000;
const VIEW_KEYS = [
  "created_at", "created_by", "expires_at", "id", "last_used_at", "name", "revoked_at", "role",
  "status", "workspaces",
];
const CREATED_KEYS = [...VIEW_KEYS, "token"].sort();
const ORG_NAME = "Tokenworks Ltd";
const INVITED = /invited you to join/;

let w;
let owner, admin, editor, viewer, member, outsider;
let orgId, ws1, ws2;

// ---------------------------------------------------------------------------------------
// helpers

const sql = (query, ...params) => w.db.prepare(query).bind(...params).run();
const count = async (query, ...params) => (await w.one(query, ...params)).n;
const sha256 = (s) => createHash("sha256").update(s).digest("hex");

/** Gives `user` a role in `org` directly in D1 (a `member` also gets workspace `ws` as viewer). */
const join = (user, role, org = orgId, ws = ws1) => w.joinOrg(user, org, role, ws);

let nameCounter = 0;
const uniqueName = (prefix = "robot") => `${prefix}-${++nameCounter}`;

const T = (org = orgId, suffix = "") => `/v1/orgs/${org}/api-tokens${suffix}`;
const O = (org = orgId, suffix = "") => `/v1/orgs/${org}${suffix}`;

/** POST a token as `by` (a person); the raw response. */
const create = (body, { by = owner, org = orgId } = {}) =>
  w.post(T(org), body, by ? { token: by.access_token } : {});

/** Creates a token; asserts 201 and returns the body (with `token`, the secret). */
async function mint(body = {}, opts = {}) {
  const r = await create({ name: uniqueName(), ...body }, opts);
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return r.body;
}

const revoke = (id, { by = owner, org = orgId } = {}) => w.del(T(org, `/${id}`), by ? { token: by.access_token } : {});

/** Time travel: the token's expiry is in the past. */
const expireToken = (id) => sql("UPDATE api_tokens SET expires_at = ? WHERE id = ?", Date.now() - 60_000, id);

const tokenRow = (id) => w.one("SELECT * FROM api_tokens WHERE id = ?", id);
const tokenWorkspaces = async (id) =>
  (await w.rows("SELECT workspace_id FROM api_token_workspaces WHERE token_id = ? ORDER BY workspace_id", id)).map((r) => r.workspace_id);
const audits = (action, targetId, org = orgId) =>
  w.rows("SELECT * FROM audit_events WHERE org_id = ? AND action = ? AND target_id = ? ORDER BY id", org, action, targetId);
const tokensOf = (org = orgId) => count("SELECT COUNT(*) AS n FROM api_tokens WHERE org_id = ?", org);

/** The token as the org's list shows it (asserting 200). */
async function listed(id, org = orgId, by = owner) {
  const r = await w.get(`${T(org)}?limit=100`, { token: by.access_token });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.data.find((t) => t.id === id);
}

/** A new org owned by `owner`, with `workspaces` named workspaces; returns {id, ws: [ids]}. */
async function freshOrg(workspaces = 0) {
  const r = await w.post("/v1/orgs", { name: `Fresh ${uniqueName("org")}` }, { token: owner.access_token });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  const ws = [];
  for (let i = 0; i < workspaces; i++) {
    const c = await w.post(O(r.body.id, "/workspaces"), { name: `Floor ${i + 1}` }, { token: owner.access_token });
    assert.equal(c.status, 201, JSON.stringify(c.body));
    ws.push(c.body.id);
  }
  return { id: r.body.id, ws };
}

async function wsMetric(org, ws) {
  const r = await w.get(O(org, `/workspaces/${ws}`), { token: owner.access_token });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.metrics.api_tokens;
}

/** 422 validation_failed naming `field` exactly. */
function assertField(r, field) {
  assertProblem(r, 422, "validation_failed");
  assert.ok(Array.isArray(r.body.errors), JSON.stringify(r.body));
  assert.ok(r.body.errors.some((e) => e.field === field && typeof e.message === "string" && e.message),
    `expected errors[].field ${field}, got ${JSON.stringify(r.body.errors)}`);
}

/** Every field of a token view, well-formed; `secret` says whether `token` must be there. */
function assertView(t, { secret = false } = {}) {
  assert.deepEqual(Object.keys(t).sort(), secret ? CREATED_KEYS : VIEW_KEYS, JSON.stringify(t));
  assert.match(t.id, UUID);
  assert.ok(["admin", "editor", "viewer"].includes(t.role), t.role);
  assert.ok(["active", "expired", "revoked"].includes(t.status), t.status);
  assert.match(t.created_at, RFC3339);
  for (const k of ["expires_at", "last_used_at", "revoked_at"]) if (t[k] !== null) assert.match(t[k], RFC3339, k);
  assert.ok(t.workspaces === null || Array.isArray(t.workspaces), JSON.stringify(t.workspaces));
  if (t.created_by !== null) assert.deepEqual(Object.keys(t.created_by).sort(), ["email", "id"]);
  if (secret) assert.match(t.token, SECRET);
}

/** The API view of the org's audit events for `action` on `target` (as the owner). */
async function auditViews(action, target, org = orgId) {
  const r = await w.get(`${O(org, "/audit-events")}?action=${action}&limit=100`, { token: owner.access_token });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.data.filter((e) => e.target?.id === target);
}

const check = (token, body) => w.post("/v1/authz/check", body, { token });

before(async () => {
  w = await startWorker();
  ({ owner, admin, editor, viewer, member, outsider, orgId, wsId: ws1 } = await w.orgRoster());
  const renamed = await w.patch(O(), { name: ORG_NAME }, { token: owner.access_token });
  assert.equal(renamed.status, 200, JSON.stringify(renamed.body));
  const second = await w.post(O(orgId, "/workspaces"), { name: "Second" }, { token: owner.access_token });
  assert.equal(second.status, 201, JSON.stringify(second.body));
  ws2 = second.body.id;
});
after(async () => { await w?.dispose(); });

// ---------------------------------------------------------------------------------------
// 1. Create

test("create: 201 with exactly the documented keys; the secret is umt_ + 43 base64url; D1 keeps only its SHA-256; defaults; api_token.created", async () => {
  const name = uniqueName("Deploy Bot");
  const r = await create({ name });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  const t = r.body;
  assertView(t, { secret: true });
  assert.match(t.token, SECRET);
  assert.equal(t.name, name);
  assert.equal(t.role, "viewer", "role defaults to viewer");
  assert.equal(t.workspaces, null, "no list: the whole org");
  assert.equal(t.expires_at, null, "no expiry by default");
  assert.equal(t.status, "active");
  assert.equal(t.last_used_at, null);
  assert.equal(t.revoked_at, null);
  assert.deepEqual(t.created_by, { id: owner.user.id, email: owner.email });

  // D1: the SHA-256 hex of the secret, never the secret itself, in any column.
  const row = await tokenRow(t.id);
  assert.equal(row.org_id, orgId);
  assert.equal(row.name, name);
  assert.equal(row.name_key, name.toLowerCase());
  assert.equal(row.role, "viewer");
  assert.equal(row.scoped, 0);
  assert.equal(row.token_hash, sha256(t.token));
  assert.match(row.token_hash, /^[0-9a-f]{64}$/);
  assert.equal(row.created_by, owner.user.id);
  assert.equal(row.expires_at, null);
  assert.equal(row.revoked_at, null);
  const body43 = t.token.slice(4);
  for (const [col, value] of Object.entries(row)) {
    assert.ok(!String(value).includes(body43), `column ${col} holds the secret`);
  }
  assert.deepEqual(await tokenWorkspaces(t.id), []);

  // The lifecycle event, with its metadata; no event anywhere carries the secret.
  const ev = await audits("api_token.created", t.id);
  assert.equal(ev.length, 1);
  assert.equal(ev[0].target_type, "api_token");
  assert.equal(ev[0].actor_id, owner.user.id);
  assert.deepEqual(JSON.parse(ev[0].metadata), { name, role: "viewer", workspaces: null, expires_at: null });
  assert.equal(await count("SELECT COUNT(*) AS n FROM audit_events WHERE metadata LIKE ?", `%${body43}%`), 0);
  const [view] = await auditViews("api_token.created", t.id);
  assert.deepEqual(view.actor, { type: "user", id: owner.user.id, email: owner.email });
  assert.deepEqual(view.metadata, { name, role: "viewer", workspaces: null, expires_at: null });

  // Explicit nulls mean the same as absent; two tokens never share a secret.
  const nulls = await mint({ role: null, workspaces: null, expires_at: null });
  assert.equal(nulls.role, "viewer");
  assert.equal(nulls.workspaces, null);
  assert.equal(nulls.expires_at, null);
  assert.notEqual(nulls.token, t.token);
  assert.equal((await tokenRow(nulls.id)).scoped, 0);

  // The list shows the same token without the secret.
  const inList = await listed(t.id);
  assertView(inList);
  const { token: _secret, ...withoutSecret } = t;
  assert.deepEqual(inList, withoutSecret);
});

test("create: a scoped editor token with an expiry; the workspace list is de-duplicated and stored in api_token_workspaces", async () => {
  const name = uniqueName("Scoped Sync");
  const expires = new Date(Date.now() + 30 * DAY);
  expires.setUTCMilliseconds(0);
  const r = await create({ name, role: "editor", workspaces: [ws1, ws2, ws1], expires_at: expires.toISOString() }, { by: admin });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  const t = r.body;
  assertView(t, { secret: true });
  assert.equal(t.role, "editor");
  assert.deepEqual([...t.workspaces].sort(), [ws1, ws2].sort());
  assert.equal(t.workspaces.length, 2, "duplicates dropped");
  assert.equal(Date.parse(t.expires_at), expires.getTime());
  assert.deepEqual(t.created_by, { id: admin.user.id, email: admin.email });

  const row = await tokenRow(t.id);
  assert.equal(row.scoped, 1);
  assert.equal(row.role, "editor");
  assert.equal(row.expires_at, expires.getTime());
  assert.equal(row.token_hash, sha256(t.token));
  assert.deepEqual(await tokenWorkspaces(t.id), [ws1, ws2].sort());

  const ev = await audits("api_token.created", t.id);
  assert.equal(ev.length, 1);
  assert.equal(ev[0].actor_id, admin.user.id);
  const meta = JSON.parse(ev[0].metadata);
  assert.equal(meta.name, name);
  assert.equal(meta.role, "editor");
  assert.deepEqual([...meta.workspaces].sort(), [ws1, ws2].sort());
  assert.equal(Date.parse(meta.expires_at), expires.getTime());

  // Any RFC 3339 offset is accepted and means the same instant.
  const inTwoDays = new Date(Date.now() + 2 * DAY);
  inTwoDays.setUTCMilliseconds(0);
  const shifted = new Date(inTwoDays.getTime() + 2 * 3_600_000).toISOString().replace(/\.000Z$/, "+02:00");
  const offset = await mint({ expires_at: shifted });
  assert.equal(Date.parse(offset.expires_at), inTwoDays.getTime(), `${shifted} → ${offset.expires_at}`);
  assert.equal((await tokenRow(offset.id)).expires_at, inTwoDays.getTime());

  // An admin may create an admin token (the ceiling is admin); nearly 3,650 days is fine.
  const adminTok = await mint({ role: "admin", expires_at: new Date(Date.now() + 3649 * DAY).toISOString() }, { by: admin });
  assert.equal(adminTok.role, "admin");
  assert.equal((await tokenRow(adminTok.id)).role, "admin");
});

test("create: a workspace id in upper case is the same workspace (as everywhere else in the API), stored once in canonical form", async () => {
  // The same UUID in upper case names the workspace on every other route (paths, invitations,
  // the authz check); the token's list must not refuse it.
  const path = await w.get(O(orgId.toUpperCase(), `/workspaces/${ws1.toUpperCase()}`), { token: owner.access_token });
  assert.equal(path.status, 200, "paths accept upper-case ids");
  const r = await create({ name: uniqueName("Upper"), workspaces: [ws1.toUpperCase(), ws1] });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  assert.deepEqual(r.body.workspaces, [ws1]);
  assert.deepEqual(await tokenWorkspaces(r.body.id), [ws1]);
});

test("create validation: 422 naming the field; nothing stored, no event", async () => {
  const foreignWs = outsider.workspace.id;
  const future = new Date(Date.now() + DAY).toISOString();
  const cases = [
    ["missing name", {}, "name"],
    ["empty name", { name: "" }, "name"],
    ["blank name", { name: "    " }, "name"],
    ["101-char name", { name: "x".repeat(101) }, "name"],
    ["name not a string", { name: 42 }, "name"],
    ["name null", { name: null }, "name"],
    ["role owner", { name: uniqueName(), role: "owner" }, "role"],
    ["role member", { name: uniqueName(), role: "member" }, "role"],
    ["role bogus", { name: uniqueName(), role: "superuser" }, "role"],
    ["role in capitals", { name: uniqueName(), role: "Admin" }, "role"],
    ["role not a string", { name: uniqueName(), role: 5 }, "role"],
    ["empty workspace list", { name: uniqueName(), workspaces: [] }, "workspaces"],
    ["non-uuid workspace", { name: uniqueName(), workspaces: ["not-a-uuid"] }, "workspaces[0]"],
    ["unknown workspace", { name: uniqueName(), workspaces: [randomUUID()] }, "workspaces[0]"],
    ["another org's workspace", { name: uniqueName(), workspaces: [ws1, foreignWs] }, "workspaces[1]"],
    ["101 workspaces", { name: uniqueName(), workspaces: Array.from({ length: 101 }, () => randomUUID()) }, "workspaces"],
    ["workspaces not a list", { name: uniqueName(), workspaces: ws1 }, "workspaces"],
    ["workspace id not a string", { name: uniqueName(), workspaces: [7] }, "workspaces[0]"],
    ["expiry in the past", { name: uniqueName(), expires_at: new Date(Date.now() - 60_000).toISOString() }, "expires_at"],
    ["expiry not RFC 3339", { name: uniqueName(), expires_at: "tomorrow" }, "expires_at"],
    ["expiry a date only", { name: uniqueName(), expires_at: future.slice(0, 10) }, "expires_at"],
    ["expiry > 3650 days", { name: uniqueName(), expires_at: new Date(Date.now() + 3651 * DAY).toISOString() }, "expires_at"],
    ["expiry a number", { name: uniqueName(), expires_at: Date.now() + DAY }, "expires_at"],
    ["unknown field", { name: uniqueName(), scopes: ["read"] }, "scopes"],
    ["org_id is not a field", { name: uniqueName(), org_id: orgId }, "org_id"],
  ];
  const tokensBefore = await count("SELECT COUNT(*) AS n FROM api_tokens");
  const linksBefore = await count("SELECT COUNT(*) AS n FROM api_token_workspaces");
  const eventsBefore = await count("SELECT COUNT(*) AS n FROM audit_events WHERE action LIKE 'api_token.%'");
  for (const [what, body, field] of cases) {
    const r = await create(body);
    assert.equal(r.status, 422, `${what}: ${JSON.stringify(r.body)}`);
    assertField(r, field);
  }
  // Not an object at all.
  assertField(await w.post(T(), ["name"], { token: owner.access_token }), "body");
  assert.equal(await count("SELECT COUNT(*) AS n FROM api_tokens"), tokensBefore);
  assert.equal(await count("SELECT COUNT(*) AS n FROM api_token_workspaces"), linksBefore);
  assert.equal(await count("SELECT COUNT(*) AS n FROM audit_events WHERE action LIKE 'api_token.%'"), eventsBefore);

  // 100 characters is the limit, not past it.
  const long = await mint({ name: "n".repeat(100) });
  assert.equal(long.name, "n".repeat(100));
});

// ---------------------------------------------------------------------------------------
// 2. Who may manage tokens

test("managing tokens: editor/viewer/member 403, outsiders and unknown orgs 404, no credential 401, any API token 403; nothing written", async () => {
  const target = await mint();
  const adminToken = await mint({ role: "admin" });
  const before = await count("SELECT COUNT(*) AS n FROM api_tokens");
  const eventsBefore = await count("SELECT COUNT(*) AS n FROM audit_events WHERE action LIKE 'api_token.%'");
  const attempts = (org = orgId) => [
    ["POST", T(org), { name: uniqueName("sneaky") }],
    ["GET", T(org), undefined],
    ["DELETE", T(org, `/${target.id}`), undefined],
  ];
  for (const [who, token, status, code] of [
    ["editor", editor.access_token, 403, "forbidden"],
    ["viewer", viewer.access_token, 403, "forbidden"],
    ["member", member.access_token, 403, "forbidden"],
    ["outsider", outsider.access_token, 404, "not_found"],
    ["no credential", undefined, 401, "unauthorized"],
    ["admin API token", adminToken.token, 403, "forbidden"],
    ["viewer API token", target.token, 403, "forbidden"],
  ]) {
    for (const [method, path, body] of attempts()) {
      const r = await w.request(method, path, { body, token });
      assert.equal(r.status, status, `${who} ${method} ${path}: ${JSON.stringify(r.body)}`);
      assertProblem(r, status, code);
    }
  }
  // Unknown and malformed org ids are 404 even to an owner.
  for (const org of [randomUUID(), "not-a-uuid"]) {
    for (const [method, path, body] of attempts(org)) {
      assertProblem(await w.request(method, path, { body, token: owner.access_token }), 404, "not_found");
    }
  }
  assert.equal(await count("SELECT COUNT(*) AS n FROM api_tokens"), before);
  assert.equal(await count("SELECT COUNT(*) AS n FROM audit_events WHERE action LIKE 'api_token.%'"), eventsBefore);
  assert.equal((await tokenRow(target.id)).revoked_at, null, "nobody above revoked it");
  // The target still works: the refused revocations changed nothing.
  assert.equal((await w.get(O(), { token: target.token })).status, 200);
});

// ---------------------------------------------------------------------------------------
// 3. Names

test("409 conflict: a live token's name in another case; revoking the first frees the name", async () => {
  const name = uniqueName("CI Runner");
  const first = await mint({ name });
  const before = await tokensOf();
  assertProblem(await create({ name: name.toUpperCase() }), 409, "conflict");
  assertProblem(await create({ name: name.toLowerCase(), role: "editor" }, { by: admin }), 409, "conflict");
  assert.equal(await tokensOf(), before);
  assert.equal(await count("SELECT COUNT(*) AS n FROM api_tokens WHERE org_id = ? AND name_key = ?", orgId, name.toLowerCase()), 1);

  // Names are trimmed: surrounding spaces make no new name.
  assertProblem(await create({ name: `  ${name}  ` }), 409, "conflict");
  const trimmed = await mint({ name: `  ${uniqueName("Trimmed")}\t` });
  assert.equal(trimmed.name, trimmed.name.trim());
  assert.equal((await tokenRow(trimmed.id)).name, trimmed.name);

  // Another org may use the same name.
  const foreign = await w.post(T(outsider.organization.id), { name }, { token: outsider.access_token });
  assert.equal(foreign.status, 201, JSON.stringify(foreign.body));

  assert.equal((await revoke(first.id)).status, 204);
  const second = await mint({ name: name.toUpperCase() });
  assert.notEqual(second.id, first.id);
  assert.equal(second.name, name.toUpperCase());
  const rows = await w.rows("SELECT id, revoked_at FROM api_tokens WHERE org_id = ? AND name_key = ? ORDER BY id", orgId, name.toLowerCase());
  assert.equal(rows.length, 2);
  assert.ok(rows.find((r) => r.id === first.id).revoked_at);
  assert.equal(rows.find((r) => r.id === second.id).revoked_at, null);
  // ... and the name is taken again while the second lives.
  assertProblem(await create({ name }), 409, "conflict");
});

test("race: 6 concurrent creates with one name → exactly one 201, the rest 409 conflict; one row, one event", async () => {
  const name = uniqueName("Racer");
  const results = await Promise.all(Array.from({ length: 6 }, (_, i) =>
    create({ name: i % 2 ? name.toUpperCase() : name }, { by: i % 3 === 0 ? admin : owner })));
  const ok = results.filter((r) => r.status === 201);
  assert.equal(ok.length, 1, JSON.stringify(results.map((r) => [r.status, r.body?.code])));
  for (const r of results.filter((x) => x.status !== 201)) assertProblem(r, 409, "conflict");
  const rows = await w.rows("SELECT id, token_hash FROM api_tokens WHERE org_id = ? AND name_key = ?", orgId, name.toLowerCase());
  assert.equal(rows.length, 1);
  assert.equal(rows[0].id, ok[0].body.id);
  assert.equal(rows[0].token_hash, sha256(ok[0].body.token));
  assert.equal((await audits("api_token.created", ok[0].body.id)).length, 1);
  assert.equal(await count(
    "SELECT COUNT(*) AS n FROM audit_events WHERE org_id = ? AND action = 'api_token.created' AND json_extract(metadata, '$.name') IN (?, ?)",
    orgId, name, name.toUpperCase()), 1);
});

// ---------------------------------------------------------------------------------------
// 4. List

test("list: newest first, keyset pages, statuses active/expired/revoked, created_by, never a secret", async () => {
  const org = await freshOrg(1);
  const orgAdmin = await w.activeUser();
  await join(orgAdmin, "admin", org.id, org.ws[0]);
  const made = [];
  made.push(await mint({ name: "alpha" }, { org: org.id }));
  made.push(await mint({ name: "bravo", role: "editor", workspaces: [org.ws[0]] }, { org: org.id, by: orgAdmin }));
  made.push(await mint({ name: "charlie", expires_at: new Date(Date.now() + DAY).toISOString() }, { org: org.id }));
  made.push(await mint({ name: "delta", role: "admin" }, { org: org.id, by: orgAdmin }));
  made.push(await mint({ name: "echo" }, { org: org.id }));
  const [alpha, bravo, charlie, delta, echo] = made;
  await expireToken(charlie.id);
  assert.equal((await revoke(delta.id, { org: org.id })).status, 204);

  const all = await w.get(T(org.id), { token: owner.access_token });
  assert.equal(all.status, 200, JSON.stringify(all.body));
  assert.equal(all.body.next_cursor, null);
  const ids = all.body.data.map((t) => t.id);
  assert.deepEqual(ids, made.map((t) => t.id).sort().reverse(), "newest first (UUIDv7 id order)");
  assert.deepEqual(new Set(ids), new Set(made.map((t) => t.id)), "only this org's tokens");
  for (let i = 1; i < all.body.data.length; i++) {
    assert.ok(all.body.data[i - 1].created_at >= all.body.data[i].created_at, "created_at never increases");
  }
  for (const t of all.body.data) {
    assertView(t);
    assert.ok(!("token" in t), "no secret in the list");
    assert.ok(!JSON.stringify(t).includes("umt_"), "no secret in the list");
  }
  const byId = Object.fromEntries(all.body.data.map((t) => [t.id, t]));
  assert.equal(byId[alpha.id].status, "active");
  assert.equal(byId[bravo.id].status, "active");
  assert.equal(byId[charlie.id].status, "expired");
  assert.ok(Date.parse(byId[charlie.id].expires_at) < Date.now());
  assert.equal(byId[delta.id].status, "revoked");
  assert.match(byId[delta.id].revoked_at, RFC3339);
  assert.equal(byId[echo.id].status, "active");
  assert.deepEqual(byId[bravo.id].workspaces, [org.ws[0]]);
  assert.equal(byId[bravo.id].role, "editor");
  assert.equal(byId[alpha.id].workspaces, null);
  assert.deepEqual(byId[alpha.id].created_by, { id: owner.user.id, email: owner.email });
  assert.deepEqual(byId[bravo.id].created_by, { id: orgAdmin.user.id, email: orgAdmin.email });
  assert.deepEqual(byId[delta.id].created_by, { id: orgAdmin.user.id, email: orgAdmin.email });

  // Pages of two walk the same list in the same order; the org's admin sees it too.
  const walked = await w.walk(T(org.id), orgAdmin.access_token, 2);
  assert.deepEqual(walked.map((t) => t.id), ids);
  assert.deepEqual(walked, all.body.data);

  // A bad limit is 422.
  assertField(await w.get(`${T(org.id)}?limit=0`, { token: owner.access_token }), "limit");
});

// ---------------------------------------------------------------------------------------
// 5. Revoke

test("revoke: 204, revoked_at set, listed as revoked, api_token.revoked; 401 on the very next request; again → 204 and no second event", async () => {
  const t = await mint({ role: "admin", name: uniqueName("Doomed") });
  assert.equal((await w.get(O(), { token: t.token })).status, 200, "alive before");

  const r = await revoke(t.id, { by: admin });
  assert.equal(r.status, 204, JSON.stringify(r.body));
  assert.equal(r.body, null);
  assertProblem(await w.get(O(), { token: t.token }), 401, "unauthorized");
  assertProblem(await w.get(O(orgId, "/members"), { token: t.token }), 401, "unauthorized");

  const row = await tokenRow(t.id);
  assert.ok(row.revoked_at > 0);
  assert.equal(row.revoked_by, admin.user.id);
  const inList = await listed(t.id);
  assert.equal(inList.status, "revoked");
  assert.equal(Date.parse(inList.revoked_at), row.revoked_at);

  const ev = await audits("api_token.revoked", t.id);
  assert.equal(ev.length, 1);
  assert.equal(ev[0].actor_id, admin.user.id);
  assert.equal(ev[0].target_type, "api_token");
  assert.deepEqual(JSON.parse(ev[0].metadata), { name: t.name });

  const again = await revoke(t.id);
  assert.equal(again.status, 204, JSON.stringify(again.body));
  assert.equal((await tokenRow(t.id)).revoked_at, row.revoked_at, "revoked_at unchanged");
  assert.equal((await tokenRow(t.id)).revoked_by, admin.user.id);
  assert.equal((await audits("api_token.revoked", t.id)).length, 1, "no second event");
});

test("revoke: unknown, malformed and other orgs' token ids are 404, nothing changes", async () => {
  const foreign = await w.post(T(outsider.organization.id), { name: uniqueName("theirs") }, { token: outsider.access_token });
  assert.equal(foreign.status, 201, JSON.stringify(foreign.body));
  for (const id of [randomUUID(), "not-a-uuid", foreign.body.id]) {
    assertProblem(await revoke(id), 404, "not_found");
  }
  assert.equal((await tokenRow(foreign.body.id)).revoked_at, null);
  assert.equal((await audits("api_token.revoked", foreign.body.id, outsider.organization.id)).length, 0);
  // Its own owner can still use it in its own org.
  assert.equal((await w.get(O(outsider.organization.id), { token: foreign.body.token })).status, 200);
});

test("race: 8 concurrent revocations of one token → all 204, exactly one api_token.revoked", async () => {
  const t = await mint({ name: uniqueName("Contended") });
  const results = await Promise.all(Array.from({ length: 8 }, (_, i) => revoke(t.id, { by: i % 2 ? admin : owner })));
  assert.deepEqual(results.map((r) => r.status), Array(8).fill(204), JSON.stringify(results.map((r) => r.body)));
  assert.equal((await audits("api_token.revoked", t.id)).length, 1);
  assert.ok((await tokenRow(t.id)).revoked_at);
  assertProblem(await w.get(O(), { token: t.token }), 401, "unauthorized");
});

// ---------------------------------------------------------------------------------------
// 6. Using tokens

test("an org-wide admin token reads the org, members and audit log, and creates a workspace recorded as the token", async () => {
  const t = await mint({ role: "admin", name: uniqueName("Provisioner") });

  const org = await w.get(O(), { token: t.token });
  assert.equal(org.status, 200, JSON.stringify(org.body));
  assert.equal(org.body.id, orgId);
  assert.equal(org.body.role, "admin");

  const members = await w.get(O(orgId, "/members?limit=100"), { token: t.token });
  assert.equal(members.status, 200, JSON.stringify(members.body));
  const ids = members.body.data.map((m) => m.user.id);
  for (const u of [owner, admin, editor, viewer]) assert.ok(ids.includes(u.user.id), u.email);

  const c = await w.post(O(orgId, "/workspaces"), { name: uniqueName("Robot Floor") }, { token: t.token });
  assert.equal(c.status, 201, JSON.stringify(c.body));
  assert.equal(c.body.role, "admin", "an admin token's effective workspace role");
  const [ev] = await audits("workspace.created", c.body.id);
  assert.ok(ev, "workspace.created recorded");
  assert.equal(ev.actor_type, "api_token");
  assert.equal(ev.actor_id, t.id);
  assert.equal(ev.actor_name, t.name);
  assert.equal(ev.auth_method, "api_token");

  // The audit log, read with the token itself, names the token as the actor.
  const log = await w.get(`${O(orgId, "/audit-events")}?action=workspace.created&limit=100`, { token: t.token });
  assert.equal(log.status, 200, JSON.stringify(log.body));
  const view = log.body.data.find((e) => e.target?.id === c.body.id);
  assert.ok(view, JSON.stringify(log.body.data));
  assert.deepEqual(view.actor, { type: "api_token", id: t.id, name: t.name });
  assert.equal(view.auth_method, "api_token");
  assert.equal(view.success, true);
  // Filtering by the token id as actor finds it.
  const byActor = await w.get(`${O(orgId, "/audit-events")}?actor=${t.id}&limit=100`, { token: owner.access_token });
  assert.equal(byActor.status, 200, JSON.stringify(byActor.body));
  assert.ok(byActor.body.data.some((e) => e.target?.id === c.body.id), JSON.stringify(byActor.body.data));
  assert.ok(byActor.body.data.every((e) => e.actor?.type === "api_token" && e.actor.id === t.id));

  // The token may delete the workspace it made (admin).
  assert.equal((await w.del(O(orgId, `/workspaces/${c.body.id}`), { token: t.token })).status, 204);
});

test("an admin token invites: invited_by null, invited_by_token {id,name}; the email names the org as the inviter", async () => {
  const t = await mint({ role: "admin", name: uniqueName("Inviter Bot") });
  const email = freshEmail("tokinvite");
  const r = await w.post(O(orgId, "/invitations"), { email, role: "viewer", workspaces: [{ workspace_id: ws2, role: "editor" }] }, { token: t.token });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  assert.equal(r.body.invited_by, null);
  assert.deepEqual(r.body.invited_by_token, { id: t.id, name: t.name });
  assert.equal(r.body.status, "pending");

  const row = await w.one("SELECT invited_by, invited_by_token FROM invitations WHERE id = ?", r.body.id);
  assert.deepEqual({ ...row }, { invited_by: null, invited_by_token: t.id });
  const [ev] = await audits("invitation.created", r.body.id);
  assert.equal(ev.actor_type, "api_token");
  assert.equal(ev.actor_id, t.id);
  assert.equal(ev.auth_method, "api_token");

  // The admin view read by a person shows the same.
  const got = await w.get(O(orgId, `/invitations/${r.body.id}`), { token: owner.access_token });
  assert.equal(got.status, 200, JSON.stringify(got.body));
  assert.equal(got.body.invited_by, null);
  assert.deepEqual(got.body.invited_by_token, { id: t.id, name: t.name });

  const m = await w.mail(email, INVITED);
  assert.equal(m.subject, `${ORG_NAME} invited you to join ${ORG_NAME}`);
  assert.ok(m.text.includes(`${ORG_NAME} invited you to join ${ORG_NAME}`), m.text);
  assert.ok(!m.text.includes("Ada Lovelace") && !m.text.includes(t.name), "neither a person nor the token's name");

  // A person's invitation has invited_by_token null.
  const byPerson = await w.post(O(orgId, "/invitations"), { email: freshEmail("personinv"), role: "viewer" }, { token: owner.access_token });
  assert.equal(byPerson.status, 201, JSON.stringify(byPerson.body));
  assert.equal(byPerson.body.invited_by_token, null);
  assert.equal(byPerson.body.invited_by.id, owner.user.id);
});

test("a viewer token reads but changes nothing: members 200; create workspace, edit org, invite 403", async () => {
  const t = await mint({ role: "viewer" });
  const members = await w.get(O(orgId, "/members"), { token: t.token });
  assert.equal(members.status, 200, JSON.stringify(members.body));
  const list = await w.get(O(orgId, "/workspaces"), { token: t.token });
  assert.equal(list.status, 200, JSON.stringify(list.body));
  assert.ok(list.body.data.some((x) => x.id === ws1) && list.body.data.some((x) => x.id === ws2));
  assert.equal((await w.get(O(), { token: t.token })).body.role, "viewer");

  const wsBefore = await count("SELECT COUNT(*) AS n FROM workspaces WHERE org_id = ?", orgId);
  assertProblem(await w.post(O(orgId, "/workspaces"), { name: "Nope" }, { token: t.token }), 403, "forbidden");
  assertProblem(await w.patch(O(), { name: "Renamed by a viewer" }, { token: t.token }), 403, "forbidden");
  assertProblem(await w.post(O(orgId, "/invitations"), { email: freshEmail(), role: "viewer" }, { token: t.token }), 403, "forbidden");
  assertProblem(await w.patch(O(orgId, `/workspaces/${ws1}`), { name: "Nope" }, { token: t.token }), 403, "forbidden");
  assert.equal(await count("SELECT COUNT(*) AS n FROM workspaces WHERE org_id = ?", orgId), wsBefore);
  assert.equal((await w.one("SELECT name FROM orgs WHERE id = ?", orgId)).name, ORG_NAME);
});

test("an editor token invites (≤ editor), resends and withdraws its own invitations, never a person's (403)", async () => {
  const t = await mint({ role: "editor", name: uniqueName("Editor Bot") });
  const other = await mint({ role: "editor", name: uniqueName("Other Bot") });

  const own = await w.post(O(orgId, "/invitations"), { email: freshEmail("edtok"), role: "editor" }, { token: t.token });
  assert.equal(own.status, 201, JSON.stringify(own.body));
  assert.deepEqual(own.body.invited_by_token, { id: t.id, name: t.name });
  assertProblem(await w.post(O(orgId, "/invitations"), { email: freshEmail("edtok"), role: "admin" }, { token: t.token }), 403, "forbidden");

  const byOwner = await w.post(O(orgId, "/invitations"), { email: freshEmail("ownerinv"), role: "viewer" }, { token: owner.access_token });
  assert.equal(byOwner.status, 201, JSON.stringify(byOwner.body));
  const byOtherToken = await w.post(O(orgId, "/invitations"), { email: freshEmail("othertok"), role: "viewer" }, { token: other.token });
  assert.equal(byOtherToken.status, 201, JSON.stringify(byOtherToken.body));

  // Not its own: 403, still pending.
  for (const inv of [byOwner.body, byOtherToken.body]) {
    assertProblem(await w.del(O(orgId, `/invitations/${inv.id}`), { token: t.token }), 403, "forbidden");
    assertProblem(await w.post(O(orgId, `/invitations/${inv.id}/resend`), undefined, { token: t.token }), 403, "forbidden");
    assert.equal((await w.one("SELECT status FROM invitations WHERE id = ?", inv.id)).status, "pending");
  }

  const resent = await w.post(O(orgId, `/invitations/${own.body.id}/resend`), undefined, { token: t.token });
  assert.equal(resent.status, 200, JSON.stringify(resent.body));
  assert.equal(resent.body.send_count, 2);

  const withdrawn = await w.del(O(orgId, `/invitations/${own.body.id}`), { token: t.token });
  assert.equal(withdrawn.status, 204, JSON.stringify(withdrawn.body));
  assert.equal((await w.one("SELECT status FROM invitations WHERE id = ?", own.body.id)).status, "withdrawn");
  const [ev] = await audits("invitation.withdrawn", own.body.id);
  assert.equal(ev.actor_type, "api_token");
  assert.equal(ev.actor_id, t.id);
  assert.equal(ev.auth_method, "api_token");
});

test("owner-only actions are closed to an admin token: delete org and transfer ownership 403", async () => {
  const t = await mint({ role: "admin" });
  assertProblem(await w.del(O(), { token: t.token }), 403, "forbidden");
  assertProblem(await w.post(O(orgId, "/transfer-ownership"), { user_id: admin.user.id }, { token: t.token }), 403, "forbidden");
  assert.ok(await w.one("SELECT id FROM orgs WHERE id = ?", orgId), "the org is still there");
  assert.equal((await w.one("SELECT role FROM org_members WHERE org_id = ? AND user_id = ?", orgId, owner.user.id)).role, "owner");
  assert.equal((await w.one("SELECT role FROM org_members WHERE org_id = ? AND user_id = ?", orgId, admin.user.id)).role, "admin");
  assert.equal(await count("SELECT COUNT(*) AS n FROM audit_events WHERE org_id = ? AND action IN ('org.deleted', 'org.ownership_transferred')", orgId), 0);
});

test("a token of org A on org B's routes is 404, as if B did not exist", async () => {
  const t = await mint({ role: "admin" });
  const b = outsider.organization.id;
  const bws = outsider.workspace.id;
  for (const [method, path, body] of [
    ["GET", O(b), undefined],
    ["PATCH", O(b), { name: "Hijacked" }],
    ["GET", O(b, "/members"), undefined],
    ["GET", O(b, "/workspaces"), undefined],
    ["GET", O(b, `/workspaces/${bws}`), undefined],
    ["POST", O(b, "/workspaces"), { name: "Intruder" }],
    ["POST", O(b, "/invitations"), { email: freshEmail(), role: "viewer" }],
    ["GET", O(b, "/audit-events"), undefined],
    ["GET", T(b), undefined],
    ["DELETE", O(b), undefined],
    ["GET", O(randomUUID()), undefined],
  ]) {
    const r = await w.request(method, path, { body, token: t.token });
    assertProblem(r, 404, "not_found");
  }
  assert.notEqual((await w.one("SELECT name FROM orgs WHERE id = ?", b)).name, "Hijacked");
  assert.equal(await count("SELECT COUNT(*) AS n FROM workspaces WHERE org_id = ? AND name = 'Intruder'", b), 0);
});

test("person routes: a live token 403; revoked, expired and junk tokens 401 (also on org routes)", async () => {
  const live = await mint({ role: "admin" });
  const revoked = await mint({ role: "admin" });
  assert.equal((await revoke(revoked.id)).status, 204);
  const expired = await mint({ role: "admin", expires_at: new Date(Date.now() + DAY).toISOString() });
  assert.equal((await w.get(O(), { token: expired.token })).status, 200, "alive before it expires");
  await expireToken(expired.id);
  const orgsBefore = await count("SELECT COUNT(*) AS n FROM orgs");

  const personRoutes = [
    ["GET", "/v1/me", undefined],
    ["PATCH", "/v1/me", { first_name: "Robo" }],
    ["GET", "/v1/orgs", undefined],
    ["POST", "/v1/orgs", { name: "Token Org" }],
    ["GET", "/v1/me/invitations", undefined],
    ["GET", "/v1/me/sessions", undefined],
    ["POST", "/v1/auth/logout-all", undefined],
  ];
  for (const [method, path, body] of personRoutes) {
    assertProblem(await w.request(method, path, { body, token: live.token }), 403, "forbidden");
  }
  const dead = [
    ["revoked", revoked.token],
    ["expired", expired.token],
    ["junk", "umt_junk"],
    ["well-formed but unknown", `umt_${"A".repeat(43)}`],
    ["secret without prefix", live.token.slice(4)],
  ];
  for (const [what, token] of dead) {
    for (const [method, path, body] of [...personRoutes.slice(0, 4), ["GET", O(), undefined], ["GET", O(orgId, "/members"), undefined]]) {
      const r = await w.request(method, path, { body, token });
      assert.equal(r.status, 401, `${what} ${method} ${path}: ${JSON.stringify(r.body)}`);
      assertProblem(r, 401, "unauthorized");
    }
  }
  assert.equal(await count("SELECT COUNT(*) AS n FROM orgs"), orgsBefore, "no org created with a token");
  // The expired one is listed as expired, the live one still works.
  assert.equal((await listed(expired.id)).status, "expired");
  assert.equal((await w.get(O(), { token: live.token })).status, 200);
});

test("last_used_at: null after create, set (after the response) once the token is used", async () => {
  const t = await mint();
  assert.equal(t.last_used_at, null);
  assert.equal((await tokenRow(t.id)).last_used_at, null);
  assert.equal((await listed(t.id)).last_used_at, null, "listing by a person does not use it");
  const started = Date.now();
  assert.equal((await w.get(O(), { token: t.token })).status, 200);
  const at = await w.until(async () => (await tokenRow(t.id)).last_used_at, { what: "last_used_at written" });
  assert.ok(at >= started - 1000 && at <= Date.now() + 1000, `${at} vs ${started}`);
  const view = await listed(t.id);
  assert.equal(Date.parse(view.last_used_at), at);
  assert.equal(view.status, "active");
  // Refreshed again once it is more than a minute old.
  const old = Date.now() - 120_000;
  await sql("UPDATE api_tokens SET last_used_at = ? WHERE id = ?", old, t.id);
  assert.equal((await w.get(O(orgId, "/members"), { token: t.token })).status, 200);
  const again = await w.until(async () => {
    const v = (await tokenRow(t.id)).last_used_at;
    return v > old && v;
  }, { what: "last_used_at refreshed" });
  assert.ok(again >= at, `${again} >= ${at}`);
  // A dead token is never touched.
  const dead = await mint();
  assert.equal((await revoke(dead.id)).status, 204);
  assertProblem(await w.get(O(), { token: dead.token }), 401, "unauthorized");
  assert.equal((await tokenRow(dead.id)).last_used_at, null);
});

// ---------------------------------------------------------------------------------------
// 7. Scoped tokens

test("a scoped editor token acts as a workspace-only member: its workspace only, edits it, no org-level reach", async () => {
  const t = await mint({ role: "editor", workspaces: [ws1], name: uniqueName("Scoped Editor") });

  const list = await w.get(O(orgId, "/workspaces"), { token: t.token });
  assert.equal(list.status, 200, JSON.stringify(list.body));
  assert.deepEqual(list.body.data.map((x) => x.id), [ws1]);
  assert.equal(list.body.data[0].role, "editor");

  const one = await w.get(O(orgId, `/workspaces/${ws1}`), { token: t.token });
  assert.equal(one.status, 200, JSON.stringify(one.body));
  assert.equal(one.body.role, "editor");
  assertProblem(await w.get(O(orgId, `/workspaces/${ws2}`), { token: t.token }), 404, "not_found");
  assertProblem(await w.patch(O(orgId, `/workspaces/${ws2}`), { description: "x" }, { token: t.token }), 404, "not_found");

  const description = `edited by ${t.name}`;
  const patched = await w.patch(O(orgId, `/workspaces/${ws1}`), { description }, { token: t.token });
  assert.equal(patched.status, 200, JSON.stringify(patched.body));
  assert.equal(patched.body.description, description);
  assert.equal((await w.one("SELECT description FROM workspaces WHERE id = ?", ws1)).description, description);
  const updated = await audits("workspace.updated", ws1);
  assert.equal(updated.at(-1).actor_type, "api_token");
  assert.equal(updated.at(-1).actor_id, t.id);

  // The org itself is visible to a member, with the acting role; the directory and every
  // org-level write are not (README matrix: `member` sees only own workspaces).
  const org = await w.get(O(), { token: t.token });
  assert.equal(org.status, 200, JSON.stringify(org.body));
  assert.equal(org.body.role, "member");
  assertProblem(await w.get(O(orgId, "/members"), { token: t.token }), 403, "forbidden");
  // ... as for a person who is a workspace-only member.
  assertProblem(await w.get(O(orgId, "/members"), { token: member.access_token }), 403, "forbidden");
  assertProblem(await w.post(O(orgId, "/workspaces"), { name: "Nope" }, { token: t.token }), 403, "forbidden");
  assertProblem(await w.patch(O(), { name: "Nope" }, { token: t.token }), 403, "forbidden");
  assertProblem(await w.post(O(orgId, "/invitations"), { email: freshEmail(), role: "viewer" }, { token: t.token }), 403, "forbidden");
  assertProblem(await w.get(O(orgId, "/audit-events"), { token: t.token }), 403, "forbidden");
  assertProblem(await w.del(O(orgId, `/workspaces/${ws1}`), { token: t.token }), 403, "forbidden");
  assert.ok(await w.one("SELECT id FROM workspaces WHERE id = ?", ws1));
});

test("workspace metric api_tokens: org-wide plus scoped ones listing it; revoked and expired stop counting", async () => {
  const org = await freshOrg(2);
  const [a, b] = org.ws;
  assert.equal(await wsMetric(org.id, a), 0);
  assert.equal(await wsMetric(org.id, b), 0);

  const wide = await mint({ role: "viewer" }, { org: org.id });
  const scopedA = await mint({ role: "editor", workspaces: [a] }, { org: org.id });
  const scopedAB = await mint({ role: "viewer", workspaces: [a, b] }, { org: org.id });
  const expiring = await mint({ expires_at: new Date(Date.now() + DAY).toISOString() }, { org: org.id });
  assert.equal(await wsMetric(org.id, a), 4);
  assert.equal(await wsMetric(org.id, b), 3, "only the org-wide ones and the one listing b");

  await expireToken(expiring.id);
  assert.equal(await wsMetric(org.id, a), 3);
  assert.equal(await wsMetric(org.id, b), 2);
  assert.equal((await revoke(wide.id, { org: org.id })).status, 204);
  assert.equal(await wsMetric(org.id, a), 2);
  assert.equal(await wsMetric(org.id, b), 1);
  assert.equal((await revoke(scopedAB.id, { org: org.id })).status, 204);
  assert.equal(await wsMetric(org.id, a), 1);
  assert.equal(await wsMetric(org.id, b), 0);

  // The workspace list shows the same metric; a scoped token sees it too.
  const seen = await w.get(O(org.id, "/workspaces"), { token: scopedA.token });
  assert.equal(seen.status, 200, JSON.stringify(seen.body));
  assert.deepEqual(seen.body.data.map((x) => [x.id, x.metrics.api_tokens]), [[a, 1]]);
});

test("deleting a scoped token's only workspace leaves it with workspaces [] reaching nothing; it never becomes org-wide", async () => {
  const org = await freshOrg(2);
  const [gone, kept] = org.ws;
  const t = await mint({ role: "admin", workspaces: [gone] }, { org: org.id });
  const list0 = await w.get(O(org.id, "/workspaces"), { token: t.token });
  assert.deepEqual(list0.body.data.map((x) => x.id), [gone]);

  assert.equal((await w.del(O(org.id, `/workspaces/${gone}`), { token: owner.access_token })).status, 204);
  assert.deepEqual(await tokenWorkspaces(t.id), []);
  assert.equal((await tokenRow(t.id)).scoped, 1, "still scoped");

  const view = await listed(t.id, org.id);
  assert.deepEqual(view.workspaces, [], "an empty list, not null (org-wide)");
  assert.equal(view.status, "active");

  const list = await w.get(O(org.id, "/workspaces"), { token: t.token });
  assert.equal(list.status, 200, JSON.stringify(list.body));
  assert.deepEqual(list.body.data, []);
  assertProblem(await w.get(O(org.id, `/workspaces/${kept}`), { token: t.token }), 404, "not_found");
  assertProblem(await w.get(O(org.id, `/workspaces/${gone}`), { token: t.token }), 404, "not_found");
  assertProblem(await w.get(O(org.id, "/members"), { token: t.token }), 403, "forbidden");
  assertProblem(await w.post(O(org.id, "/workspaces"), { name: "Widened" }, { token: t.token }), 403, "forbidden");
  assertProblem(await check(t.token, { user_id: owner.user.id, workspace_id: kept, action: "view" }), 403, "forbidden");
  assert.equal(await wsMetric(org.id, kept), 0, "it counts for no workspace");
});

// ---------------------------------------------------------------------------------------
// 8. POST /v1/authz/check asked by a token

test("authz check with a token: any member user per role, non-members and foreign workspaces not_a_member, user_id required, scoped limits, batches", async () => {
  const wide = await mint({ role: "viewer", name: uniqueName("Checker") });
  const scoped = await mint({ role: "viewer", workspaces: [ws1], name: uniqueName("Scoped Checker") });
  const decide = async (token, body) => {
    const r = await check(token, body);
    assert.equal(r.status, 200, `${JSON.stringify(body)}: ${JSON.stringify(r.body)}`);
    return r.body;
  };

  // An org-wide token asks about anyone in the org (its own role does not matter).
  assert.deepEqual(await decide(wide.token, { user_id: admin.user.id, workspace_id: ws1, action: "manage" }), { allowed: true, reason: "workspace_role" });
  assert.deepEqual(await decide(wide.token, { user_id: editor.user.id, workspace_id: ws2, action: "edit" }), { allowed: true, reason: "workspace_role" });
  assert.deepEqual(await decide(wide.token, { user_id: viewer.user.id, workspace_id: ws1, action: "edit" }), { allowed: false, reason: "insufficient_permission" });
  assert.deepEqual(await decide(wide.token, { user_id: member.user.id, workspace_id: ws1, action: "view" }), { allowed: true, reason: "workspace_role" });
  assert.deepEqual(await decide(wide.token, { user_id: member.user.id, workspace_id: ws2, action: "view" }), { allowed: false, reason: "insufficient_permission" });
  // Not in the org; an unknown user; a workspace of another org; an unknown workspace.
  assert.deepEqual(await decide(wide.token, { user_id: outsider.user.id, workspace_id: ws1, action: "view" }), { allowed: false, reason: "not_a_member" });
  assert.deepEqual(await decide(wide.token, { user_id: randomUUID(), workspace_id: ws1, action: "view" }), { allowed: false, reason: "not_a_member" });
  assert.deepEqual(await decide(wide.token, { user_id: outsider.user.id, workspace_id: outsider.workspace.id, action: "view" }), { allowed: false, reason: "not_a_member" });
  assert.deepEqual(await decide(wide.token, { user_id: owner.user.id, workspace_id: randomUUID(), action: "view" }), { allowed: false, reason: "not_a_member" });

  // user_id is required of a token.
  assertField(await check(wide.token, { workspace_id: ws1, action: "view" }), "user_id");
  assertField(await check(wide.token, { user_id: "nope", workspace_id: ws1, action: "view" }), "user_id");

  // Batches.
  const batch = await decide(wide.token, {
    user_id: viewer.user.id, workspace_id: ws1, action: "view",
    resources: [{ type: "dashboard", id: "d-1" }, { type: "report", id: "r-9" }],
  });
  assert.deepEqual(batch, { results: [
    { resource: { type: "dashboard", id: "d-1" }, allowed: true, reason: "workspace_role" },
    { resource: { type: "report", id: "r-9" }, allowed: true, reason: "workspace_role" },
  ] });
  const batchEdit = await decide(wide.token, {
    user_id: viewer.user.id, workspace_id: ws1, action: "edit", resources: [{ type: "dashboard", id: "d-1" }],
  });
  assert.deepEqual(batchEdit.results.map((x) => [x.allowed, x.reason]), [[false, "insufficient_permission"]]);

  // A scoped token: inside its list fine, elsewhere 403.
  assert.deepEqual(await decide(scoped.token, { user_id: admin.user.id, workspace_id: ws1, action: "manage" }), { allowed: true, reason: "workspace_role" });
  assertProblem(await check(scoped.token, { user_id: admin.user.id, workspace_id: ws2, action: "view" }), 403, "forbidden");
  assertProblem(await check(scoped.token, { user_id: outsider.user.id, workspace_id: outsider.workspace.id, action: "view" }), 403, "forbidden");

  // A token of another org asking about this org's workspace learns nothing.
  const foreign = await w.post(T(outsider.organization.id), { name: uniqueName("foreign checker") }, { token: outsider.access_token });
  assert.equal(foreign.status, 201, JSON.stringify(foreign.body));
  assert.deepEqual(await decide(foreign.body.token, { user_id: owner.user.id, workspace_id: ws1, action: "view" }), { allowed: false, reason: "not_a_member" });

  // A person asking about another user is still 403; about themselves fine.
  assertProblem(await check(admin.access_token, { user_id: viewer.user.id, workspace_id: ws1, action: "view" }), 403, "forbidden");
  assert.deepEqual(await decide(admin.access_token, { workspace_id: ws1, action: "manage" }), { allowed: true, reason: "workspace_role" });

  // Dead tokens: 401.
  assert.equal((await revoke(wide.id)).status, 204);
  assertProblem(await check(wide.token, { user_id: admin.user.id, workspace_id: ws1, action: "view" }), 401, "unauthorized");
  assertProblem(await check("umt_junk", { user_id: admin.user.id, workspace_id: ws1, action: "view" }), 401, "unauthorized");
});

// ---------------------------------------------------------------------------------------
// 9. Tokens belong to the org

test("a token outlives its creator: removal from the org keeps it working; account deletion makes created_by null", async () => {
  const org = await freshOrg(1);
  const creator = await w.activeUser();
  await join(creator, "admin", org.id, org.ws[0]);
  const t = await mint({ role: "editor", name: "outlives" }, { org: org.id, by: creator });
  assert.deepEqual(t.created_by, { id: creator.user.id, email: creator.email });

  // Removed from the org: the token stays the org's and keeps working.
  assert.equal((await w.del(O(org.id, `/members/${creator.user.id}`), { token: owner.access_token })).status, 204);
  assert.equal((await w.get(O(org.id), { token: t.token })).status, 200);
  assert.deepEqual((await listed(t.id, org.id)).created_by, { id: creator.user.id, email: creator.email });

  // The account deleted: created_by becomes null, the token still works.
  const gone = await w.del("/v1/me", { token: creator.access_token, body: { password: creator.password } });
  assert.equal(gone.status, 204, JSON.stringify(gone.body));
  assert.equal((await tokenRow(t.id)).created_by, null);
  const view = await listed(t.id, org.id);
  assert.equal(view.created_by, null);
  assert.equal(view.status, "active");
  const c = await w.post(O(org.id, "/workspaces"), { name: "After the creator" }, { token: t.token });
  assert.equal(c.status, 201, JSON.stringify(c.body));
});

test("deleting the org deletes its tokens: their rows go and they answer 401", async () => {
  const org = await freshOrg(1);
  const wide = await mint({ role: "admin" }, { org: org.id });
  const scoped = await mint({ role: "viewer", workspaces: [org.ws[0]] }, { org: org.id });
  assert.equal((await w.get(O(org.id), { token: wide.token })).status, 200);
  const del = await w.del(O(org.id), { token: owner.access_token });
  assert.equal(del.status, 204, JSON.stringify(del.body));
  assert.equal(await tokensOf(org.id), 0);
  assert.equal(await count("SELECT COUNT(*) AS n FROM api_token_workspaces WHERE token_id IN (?, ?)", wide.id, scoped.id), 0);
  for (const t of [wide, scoped]) {
    assertProblem(await w.get(O(org.id), { token: t.token }), 401, "unauthorized");
    assertProblem(await check(t.token, { user_id: owner.user.id, workspace_id: org.ws[0], action: "view" }), 401, "unauthorized");
  }
});
