// The org audit-log API (`GET /v1/orgs/{org}/audit-events`) and the rule that every write
// leaves its audit event (README "Audit events"): the event view; each filter alone and
// combined (actor by id and by email, exact action and `prefix.*`, since/until windows);
// keyset pages newest first by id; the NDJSON export (every matching event, no paging);
// a 422 for each bad parameter; owner/admin only (403 below, 404 outside, 401 without a
// token); only the org's own trail (never another org's events, never account events);
// one pass through every write route asserting its event; and retention by the cron
// (`AUDIT_RETENTION_DAYS`, default 365).
//
// Time travel is done by UPDATE-ing `at` in D1 (for since/until also the UUIDv7 id, which
// the README says bounds the window too); synthetic rows are INSERTed directly (bulk for
// the export and retention, an odd action name for the prefix filter). Everything else goes
// through the API.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomBytes, randomUUID } from "node:crypto";
import { startWorker, assertProblem, freshEmail, freshIp, PASSWORD } from "./helpers.mjs";

const SECRET = "operator-audit-test-secret";
const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)$/;
const EVENT_KEYS = ["action", "actor", "at", "auth_method", "id", "ip", "metadata", "success", "target", "user_agent"];
const DAY = 86_400_000;
const INVITED = /invited you to join/;
/** Account-level actions: they never belong to an org's trail. */
const ACCOUNT_ACTIONS = [
  "user.signed_up", "user.activated", "user.login_succeeded", "user.login_failed", "user.locked",
  "user.password_changed", "user.email_change_requested", "user.email_changed", "user.updated",
  "session.revoked",
];

let w;
let owner, admin, editor, viewer, member, outsider, orgId, wsId;

// ---------------------------------------------------------------------------------------
// helpers

const sql = (worker, query, ...params) => worker.db.prepare(query).bind(...params).run();

/** Gives `user` a role in `org` directly in D1 (a `member` also gets the workspace `ws`). */
const join = (user, role, org = orgId, ws = wsId) => w.joinOrg(user, org, role, ws);

/** `/v1/orgs/{org}/audit-events?…`; undefined params are left out. */
function auditPath(org, params = {}) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null) q.set(k, String(v));
  const s = q.toString();
  return `/v1/orgs/${org}/audit-events${s ? `?${s}` : ""}`;
}

/** One page; asserts 200 and the page shape. */
async function page(org, token, params = {}, worker = w) {
  const r = await worker.get(auditPath(org, params), { token });
  assert.equal(r.status, 200, `${auditPath(org, params)}: ${JSON.stringify(r.body)}`);
  assert.match(r.headers.get("content-type") ?? "", /application\/json/);
  assert.deepEqual(Object.keys(r.body).sort(), ["data", "next_cursor"]);
  assert.ok(Array.isArray(r.body.data));
  return r.body;
}

/** Walks every page with `limit`; asserts page sizes, strictly descending ids, no repeats. */
async function walk(org, token, params = {}, limit = 2, worker = w) {
  const events = [];
  let cursor;
  for (let i = 0; ; i++) {
    assert.ok(i < 2000, "pagination does not end");
    const body = await page(org, token, { ...params, limit, cursor }, worker);
    assert.ok(body.data.length <= limit, `page of ${body.data.length} > limit ${limit}`);
    events.push(...body.data);
    if (!body.next_cursor) break;
    assert.equal(typeof body.next_cursor, "string");
    assert.equal(body.data.length, limit, "a page followed by another is full");
    cursor = body.next_cursor;
  }
  assertNewestFirst(events);
  return events;
}

function assertNewestFirst(events) {
  const ids = events.map((e) => e.id);
  assert.equal(new Set(ids).size, ids.length, "an event appears twice");
  for (let i = 1; i < ids.length; i++) assert.ok(ids[i - 1] > ids[i], `not newest first by id at ${i}: ${ids[i - 1]} then ${ids[i]}`);
}

/** GET without the JSON parsing of the helper: status, headers and the raw text. */
async function raw(path, token, worker = w) {
  const headers = { "cf-connecting-ip": "192.0.2.1" };
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await worker.mf.dispatchFetch(`http://localhost${path}`, { headers });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

/** The NDJSON export: asserts 200, content type, one JSON object per line. */
async function exportAll(org, token, params = {}, worker = w) {
  const r = await raw(auditPath(org, { ...params, format: "ndjson" }), token, worker);
  assert.equal(r.status, 200, r.text.slice(0, 500));
  assert.match(r.headers.get("content-type") ?? "", /^application\/x-ndjson\b/);
  const lines = r.text.split("\n");
  if (lines.at(-1) === "") lines.pop();
  return lines.map((line, i) => {
    assert.ok(line.length > 0, `empty line ${i} in the export`);
    let obj;
    assert.doesNotThrow(() => { obj = JSON.parse(line); }, `line ${i} is not JSON: ${line.slice(0, 200)}`);
    assert.ok(obj && typeof obj === "object" && !Array.isArray(obj), `line ${i} is not an object`);
    return obj;
  });
}

/** The org's rows in D1, newest first by id. */
const orgRows = (org, worker = w) => worker.rows("SELECT * FROM audit_events WHERE org_id = ? ORDER BY id DESC", org);
const ids = (xs) => xs.map((x) => x.id);

/** 422 validation_failed naming `field`. */
function assertField(r, field) {
  assertProblem(r, 422, "validation_failed");
  assert.ok(Array.isArray(r.body.errors), JSON.stringify(r.body));
  assert.ok(r.body.errors.some((e) => e.field === field && typeof e.message === "string" && e.message),
    `expected errors[].field ${field}, got ${JSON.stringify(r.body.errors)}`);
}

/** A UUIDv7 for `ms` (lower-case, canonical): time-ordered like the service's ids. */
function uuidv7(ms) {
  const b = randomBytes(16);
  const t = BigInt(ms);
  for (let i = 0; i < 6; i++) b[i] = Number((t >> BigInt(8 * (5 - i))) & 0xffn);
  b[6] = (b[6] & 0x0f) | 0x70;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = b.toString("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/**
 * INSERTs synthetic events (one D1 batch per 200). Like the service's own writes, an event
 * with an `actor_id` is a user's (`actor_type` 'user') unless `actor_type` says otherwise.
 */
async function insertEvents(worker, events) {
  for (let i = 0; i < events.length; i += 200) {
    await worker.db.batch(events.slice(i, i + 200).map((e) => worker.db.prepare(
      "INSERT INTO audit_events (id, org_id, subject_user_id, at, actor_type, actor_id, actor_email, actor_name, action, target_type, target_id, ip, user_agent, auth_method, success, metadata) " +
      "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    ).bind(e.id ?? uuidv7(e.at), e.org_id ?? null, e.subject_user_id ?? null, e.at,
      e.actor_type !== undefined ? e.actor_type : (e.actor_id ? "user" : null), e.actor_id ?? null, e.actor_email ?? null, e.actor_name ?? null,
      e.action, e.target_type ?? null, e.target_id ?? null, e.ip ?? null, e.user_agent ?? null, e.auth_method ?? null,
      e.success ?? 1, e.metadata === undefined ? null : JSON.stringify(e.metadata))));
  }
}

/** `ms` as RFC 3339 in a +02:00 offset (the same instant). */
function withOffset(ms) {
  const local = new Date(ms + 2 * 3_600_000).toISOString().replace("Z", "+02:00");
  assert.equal(Date.parse(local), ms);
  return local;
}
const iso = (ms) => new Date(ms).toISOString();

async function fire(worker = w) {
  const result = await worker.scheduled();
  assert.equal(result.outcome, "ok", JSON.stringify(result));
  return result;
}

before(async () => {
  w = await startWorker({ vars: { OPERATOR_TOKEN: SECRET } });
  ({ owner, admin, editor, viewer, member, outsider, orgId, wsId } = await w.orgRoster());
});
after(async () => { await w?.dispose(); });

// ---------------------------------------------------------------------------------------
// 1. the view, filters and pages

/**
 * A fresh org (owner `o`, admin `a`, who also owns an org of their own) with a known trail:
 * the signup's org.created and workspace.created, writes by both, a workspace member
 * (workspace_member.added + member.added), invitations, a cron expiry (no actor) and one
 * synthetic event whose action only a LIKE-style `_` wildcard would take for
 * `workspace_member.*`.
 */
async function trailOrg() {
  const [o, a] = await Promise.all([w.activeUser(), w.activeUser()]);
  const org = o.organization.id;
  await join(a, "admin", org, o.workspace.id);
  const as = (u) => ({ token: u.access_token, ip: freshIp() });
  const ok = (r, status = 200) => { assert.equal(r.status, status, JSON.stringify(r.body)); return r.body; };
  ok(await w.patch(`/v1/orgs/${org}`, { name: "Audited Engines" }, { ...as(o), ip: "203.0.113.7", headers: { "user-agent": "audit-tests/1.0" } }));
  const ws2 = ok(await w.post(`/v1/orgs/${org}/workspaces`, { name: "Staging" }, as(a)), 201);
  ok(await w.patch(`/v1/orgs/${org}/workspaces/${ws2.id}`, { name: "Staging 2" }, as(o)));
  const stranger = await w.activeUser();
  ok(await w.request("PUT", `/v1/orgs/${org}/workspaces/${ws2.id}/members/${stranger.user.id}`, { body: { role: "viewer" }, ...as(a) }));
  const inv1 = ok(await w.post(`/v1/orgs/${org}/invitations`, { email: freshEmail("trail"), role: "viewer" }, as(o)), 201);
  const inv2 = ok(await w.post(`/v1/orgs/${org}/invitations`, { email: freshEmail("trail"), role: "viewer" }, as(a)), 201);
  assert.equal((await w.del(`/v1/orgs/${org}/invitations/${inv1.id}`, as(a))).status, 204);
  // The cron expires inv2: invitation.expired, by nobody.
  await sql(w, "UPDATE invitations SET expires_at = ? WHERE id = ?", Date.now() - 1000, inv2.id);
  await fire();
  assert.equal((await w.one("SELECT status FROM invitations WHERE id = ?", inv2.id)).status, "expired");
  // An action only an unescaped LIKE pattern `workspace_member.%` would match.
  await insertEvents(w, [{ org_id: org, at: Date.now(), actor_id: a.user.id, actor_email: a.email, action: "workspacexmember.added", target_type: "workspace", target_id: ws2.id }]);
  // Something in the admin's own org, and account events of both: never in this trail.
  ok(await w.patch(`/v1/orgs/${a.organization.id}`, { name: "Elsewhere" }, as(a)));
  assert.equal((await w.login(o.email)).status, 200);
  assert.equal((await w.login(a.email, "not the right password")).status, 401);
  return { o, a, org, ws2, stranger, inv1, inv2 };
}

test("the event view: id, at, actor, action, target, ip, user agent, auth method, success, metadata", async () => {
  const { o, org } = await trailOrg();
  const all = await walk(org, o.access_token, {}, 200);
  const rows = await orgRows(org);
  assert.deepEqual(ids(all), ids(rows), "the trail is exactly the org's rows, newest first");
  for (const e of all) {
    assert.deepEqual(Object.keys(e).sort(), EVENT_KEYS, JSON.stringify(e));
    assert.match(e.at, RFC3339);
    assert.equal(typeof e.success, "boolean");
    assert.ok(e.metadata === null || (typeof e.metadata === "object" && !Array.isArray(e.metadata)), JSON.stringify(e));
    assert.ok(e.target === null || (Object.keys(e.target).sort().join() === "id,type"), JSON.stringify(e));
    const row = rows.find((r) => r.id === e.id);
    assert.equal(Date.parse(e.at), row.at, `at of ${e.action}`);
    assert.equal(e.action, row.action);
    // Every actor of this trail is a person (exactly {type, id, email}) or the cron (null).
    if (e.actor === null) {
      assert.deepEqual([row.actor_type, row.actor_id, row.actor_email, row.actor_name], [null, null, null, null], JSON.stringify(row));
    } else {
      assert.deepEqual(e.actor, { type: "user", id: row.actor_id, email: row.actor_email }, JSON.stringify(e));
      assert.equal(row.actor_type, "user", JSON.stringify(row));
      assert.equal(row.actor_name, null);
      assert.notEqual(e.auth_method, "api_token", `${e.action} was not made with an API token`);
    }
  }
  assert.deepEqual(all.filter((e) => e.actor === null).map((e) => e.action), ["invitation.expired"], "only the cron acts as nobody");
  const updated = all.find((e) => e.action === "org.updated");
  assert.deepEqual(updated, {
    id: updated.id,
    at: updated.at,
    actor: { type: "user", id: o.user.id, email: o.email },
    action: "org.updated",
    target: { type: "org", id: org },
    ip: "203.0.113.7",
    user_agent: "audit-tests/1.0",
    auth_method: null,
    success: true,
    metadata: { fields: ["name"] },
  });
  const created = all.find((e) => e.action === "org.created");
  assert.deepEqual(created.actor, { type: "user", id: o.user.id, email: o.email });
  assert.deepEqual(created.target, { type: "org", id: org });
  const expired = all.find((e) => e.action === "invitation.expired");
  assert.ok(expired, JSON.stringify(all.map((e) => e.action)));
  assert.equal(expired.actor, null, "the cron's event has no actor");
  assert.equal(expired.target.type, "invitation");
});

test("filters: actor by id and by email (case-insensitive), exact action, prefix.*, each alone and combined", async () => {
  const { o, a, org, ws2, stranger } = await trailOrg();
  const tok = a.access_token; // an admin reads the trail too
  const rows = await orgRows(org);
  const expect = (pred) => ids(rows.filter(pred));

  // actor by id
  const byOwner = await walk(org, tok, { actor: o.user.id });
  assert.deepEqual(ids(byOwner), expect((r) => r.actor_id === o.user.id));
  assert.deepEqual(byOwner.map((e) => e.action).sort(),
    ["invitation.created", "org.created", "org.updated", "workspace.created", "workspace.updated"]);
  for (const e of byOwner) assert.deepEqual(e.actor, { type: "user", id: o.user.id, email: o.email });
  // actor by email, upper-cased
  const byAdmin = await walk(org, tok, { actor: a.email.toUpperCase() });
  assert.deepEqual(ids(byAdmin), expect((r) => r.actor_email === a.email));
  assert.deepEqual(byAdmin.map((e) => e.action).sort(), [
    "invitation.created", "invitation.withdrawn", "member.added", "workspace.created",
    "workspace_member.added", "workspacexmember.added",
  ], "the admin's writes in this org only (not their own org's org.updated, not their failed login)");
  for (const e of byAdmin) assert.deepEqual(e.actor, { type: "user", id: a.user.id, email: a.email });
  // Someone with no events here, a valid uuid and a valid email: empty, not an error.
  assert.deepEqual((await page(org, tok, { actor: stranger.user.id })).data, []);
  assert.deepEqual((await page(org, tok, { actor: randomUUID() })).data, []);
  assert.deepEqual((await page(org, tok, { actor: "nobody@example.com" })).data, []);

  // exact action
  const invCreated = await walk(org, tok, { action: "invitation.created" });
  assert.equal(invCreated.length, 2);
  assert.deepEqual(ids(invCreated), expect((r) => r.action === "invitation.created"));
  assert.deepEqual((await page(org, tok, { action: "invitation" })).data, [], "an exact name is not a prefix");
  assert.deepEqual((await page(org, tok, { action: "invitation.create" })).data, []);
  // prefix.*
  const inv = await walk(org, tok, { action: "invitation.*" });
  assert.deepEqual(ids(inv), expect((r) => r.action.startsWith("invitation.")));
  assert.deepEqual([...new Set(inv.map((e) => e.action))].sort(), ["invitation.created", "invitation.expired", "invitation.withdrawn"]);
  const wsOnly = await walk(org, tok, { action: "workspace.*" });
  assert.deepEqual(ids(wsOnly), expect((r) => r.action.startsWith("workspace.")));
  assert.ok(wsOnly.every((e) => e.action.startsWith("workspace.")), "workspace.* is not workspace_member.*");
  assert.equal(wsOnly.length, 3);
  const wsm = await walk(org, tok, { action: "workspace_member.*" });
  assert.deepEqual(wsm.map((e) => e.action), ["workspace_member.added"], "`_` is a literal underscore");
  // Long prefixes answer (a LIKE pattern over 50 bytes was a 500 in D1).
  for (const prefix of ["a".repeat(60), "_".repeat(60), `${"x".repeat(40)}.${"y".repeat(40)}`]) {
    const long = await page(org, tok, { action: `${prefix}.*` });
    assert.deepEqual(long.data, [], prefix);
  }
  assert.deepEqual(wsm[0].target, { type: "user", id: stranger.user.id });
  assert.equal(wsm[0].metadata.workspace_id, ws2.id);

  // combined
  const adminInv = await walk(org, tok, { actor: a.user.id, action: "invitation.*" });
  assert.deepEqual(adminInv.map((e) => e.action), ["invitation.withdrawn", "invitation.created"]);
  const ownerWs = await walk(org, tok, { actor: o.email, action: "workspace.*" });
  assert.deepEqual(ownerWs.map((e) => e.action), ["workspace.updated", "workspace.created"]);
  assert.deepEqual((await page(org, tok, { actor: o.user.id, action: "invitation.withdrawn" })).data, []);
});

test("since (inclusive) / until (exclusive) on `at`; results stay ordered by id, not by at", async () => {
  const { o, a, org } = await trailOrg();
  const tok = o.access_token;
  const asc = [...await orgRows(org)].reverse(); // oldest first by id
  assert.ok(asc.length >= 10, `${asc.length} events`);
  const now = Date.now();
  const t10 = now - 10 * DAY;
  // Time travel for the five oldest: an old event has an old `at` and, being a UUIDv7, an
  // old id (README: "since/until bound the id as well as at"), so both move together.
  const age = async (row, at) => {
    const id = uuidv7(at);
    await sql(w, "UPDATE audit_events SET id = ?, at = ? WHERE id = ?", id, at, row.id);
    Object.assign(row, { id, at });
  };
  for (let k = 0; k < 3; k++) await age(asc[k], t10 + k * 1000); // ten days ago, a second apart
  await age(asc[3], now - 5 * DAY);
  await age(asc[4], now - 5 * DAY + 1);
  // The newest by id gets an `at` an hour before the others': it stays first (by id).
  const newest = asc.at(-1);
  newest.at = now - 3_600_000;
  await sql(w, "UPDATE audit_events SET at = ? WHERE id = ?", newest.at, newest.id);
  const rows = [...asc].reverse();
  assert.deepEqual(ids(rows), ids(await orgRows(org)), "the re-keyed rows keep their order");
  const expect = (pred) => ids(rows.filter(pred));

  // since alone: the ten-day-old ones are out
  const since6 = await walk(org, tok, { since: iso(now - 6 * DAY) }, 3);
  assert.deepEqual(ids(since6), expect((r) => r.at >= now - 6 * DAY));
  assert.equal(since6.length, rows.length - 3);
  assert.ok(ids(since6).includes(asc[3].id) && !ids(since6).includes(asc[2].id));
  // ordered by id, not by at: the newest comes first though its `at` is the oldest of the recent ones
  const recent = await walk(org, tok, { since: iso(now - 2 * 3_600_000), until: iso(now + 3_600_000) }, 200);
  assert.deepEqual(ids(recent), expect((r) => r.at >= now - 2 * 3_600_000));
  assert.equal(recent[0].id, newest.id);
  assert.ok(Date.parse(recent[0].at) < Date.parse(recent[1].at));
  // until alone: exactly the three ten-day-old ones, newest first
  const until6 = await walk(org, tok, { until: iso(now - 6 * DAY) }, 2);
  assert.deepEqual(ids(until6), [asc[2].id, asc[1].id, asc[0].id]);
  // since inclusive, until exclusive, at the events' own instants (the until in +02:00)
  const window = await walk(org, tok, { since: iso(asc[1].at), until: withOffset(asc[3].at) });
  assert.deepEqual(ids(window), [asc[2].id, asc[1].id]);
  const window2 = await walk(org, tok, { since: withOffset(asc[3].at), until: iso(asc[4].at + 1) });
  assert.deepEqual(ids(window2), [asc[4].id, asc[3].id]);
  // since == until: an empty window, not an error
  assert.deepEqual((await page(org, tok, { since: iso(asc[1].at), until: iso(asc[1].at) })).data, []);
  // a window with no events
  assert.deepEqual((await page(org, tok, { since: iso(now - 100 * DAY), until: iso(now - 50 * DAY) })).data, []);
  // everything, both ends given
  assert.deepEqual(ids(await walk(org, tok, { since: iso(now - 11 * DAY), until: iso(now + DAY) }, 200)), ids(rows));

  // combined with actor and action
  const combo = await walk(org, tok, { actor: a.email, action: "invitation.*", since: iso(now - 6 * DAY) });
  assert.deepEqual(ids(combo), expect((r) => r.actor_email === a.email && r.action.startsWith("invitation.") && r.at >= now - 6 * DAY));
  assert.ok(combo.length >= 1);
  const oldOwner = await walk(org, tok, { actor: o.user.id, until: iso(now - 6 * DAY) });
  assert.deepEqual(ids(oldOwner), expect((r) => r.actor_id === o.user.id && r.at < now - 6 * DAY));
  assert.deepEqual(oldOwner.map((e) => e.action).sort(), ["org.created", "org.updated", "workspace.created"], "the owner's three oldest");
  assert.deepEqual(await walk(org, tok, { actor: a.user.id, until: iso(now - 6 * DAY) }), []);
});

test("pages: limit=2 walks every event exactly once, newest first; default 50, max 200", async () => {
  const { o, org } = await trailOrg();
  const rows = await orgRows(org);
  const all = await walk(org, o.access_token, {}, 2);
  assert.deepEqual(ids(all), ids(rows));
  // A filtered walk keeps its filter on every page.
  const inv = await walk(org, o.access_token, { action: "invitation.*" }, 1);
  assert.deepEqual(ids(inv), ids(rows.filter((r) => r.action.startsWith("invitation."))));
  // The first page of two is the two newest; its cursor continues right after.
  const first = await page(org, o.access_token, { limit: 2 });
  assert.deepEqual(ids(first.data), ids(rows).slice(0, 2));
  const second = await page(org, o.access_token, { limit: 2, cursor: first.next_cursor });
  assert.deepEqual(ids(second.data), ids(rows).slice(2, 4));
  // format=json is the default: the same page.
  assert.deepEqual(await page(org, o.access_token, { limit: 2, format: "json" }), first);

  // Default and maximum page sizes, over a long synthetic trail.
  const big = await w.activeUser();
  const bigOrg = big.organization.id;
  const start = Date.now() - 3_600_000;
  await insertEvents(w, Array.from({ length: 230 }, (_, i) => ({
    org_id: bigOrg, at: start + i, actor_id: big.user.id, actor_email: big.email, action: "workspace.updated",
    target_type: "workspace", target_id: big.workspace.id, metadata: { n: i },
  })));
  const total = (await orgRows(bigOrg)).length;
  const def = await page(bigOrg, big.access_token);
  assert.equal(def.data.length, 50);
  assert.equal(typeof def.next_cursor, "string");
  const max = await page(bigOrg, big.access_token, { limit: 200 });
  assert.equal(max.data.length, 200);
  const rest = await page(bigOrg, big.access_token, { limit: 200, cursor: max.next_cursor });
  assert.equal(rest.data.length, total - 200);
  assert.equal(rest.next_cursor, null);
});

// ---------------------------------------------------------------------------------------
// 2. the NDJSON export

test("ndjson: every matching event, one object per line, newest first, the same as walking the pages", async () => {
  const { o, a, org } = await trailOrg();
  const tok = o.access_token;
  const pages = await walk(org, tok, {}, 2);
  const lines = await exportAll(org, tok);
  assert.deepEqual(lines, pages, "the same events, in the same view and order");
  assertNewestFirst(lines);
  // Filters apply; limit and cursor do not.
  assert.deepEqual(await exportAll(org, tok, { action: "invitation.*" }), await walk(org, tok, { action: "invitation.*" }));
  assert.deepEqual(await exportAll(org, tok, { actor: a.email.toUpperCase(), action: "workspace.created" }),
    await walk(org, tok, { actor: a.user.id, action: "workspace.created" }));
  const first = await page(org, tok, { limit: 1 });
  assert.deepEqual(await exportAll(org, tok, { limit: 1, cursor: first.next_cursor }), pages);
  // Nothing matches: an empty body, still NDJSON.
  assert.deepEqual(await exportAll(org, tok, { action: "grant.*" }), []);
  // The gate holds for the export as for pages.
  const byViewer = await raw(auditPath(orgId, { format: "ndjson" }), viewer.access_token);
  assert.equal(byViewer.status, 403, byViewer.text);
  assert.equal((await raw(auditPath(org, { format: "ndjson" }), outsider.access_token)).status, 404);
  assert.equal((await raw(auditPath(org, { format: "ndjson" }))).status, 401);
});

test("ndjson: the full export goes past the page maximum (1,050 events), filters included", async () => {
  const big = await w.activeUser();
  const org = big.organization.id;
  const other = await w.activeUser();
  const start = Date.now() - 2 * 3_600_000;
  await insertEvents(w, Array.from({ length: 1050 }, (_, i) => ({
    org_id: org, at: start + i * 10, actor_id: i % 2 ? big.user.id : null, actor_email: i % 2 ? big.email : null,
    action: i % 2 ? "group.updated" : "grant.created", target_type: "group", target_id: randomUUID(),
    ip: "198.51.100.9", user_agent: "bulk", success: i % 3 ? 1 : 0, metadata: { n: i },
  })));
  // Another org's bulk: never in this export.
  await insertEvents(w, Array.from({ length: 20 }, (_, i) => ({
    org_id: other.organization.id, at: start + i, actor_id: big.user.id, actor_email: big.email, action: "group.updated",
  })));
  const rows = await orgRows(org);
  const all = await exportAll(org, big.access_token);
  assert.equal(all.length, rows.length);
  assert.deepEqual(ids(all), ids(rows));
  assert.deepEqual(all, await walk(org, big.access_token, {}, 200));
  const failed = all.find((e) => e.metadata?.n === 0);
  assert.equal(failed.success, false);
  assert.equal(failed.actor, null);
  assert.equal(failed.action, "grant.created");
  assert.deepEqual(all.find((e) => e.metadata?.n === 1).actor, { type: "user", id: big.user.id, email: big.email });
  const groups = await exportAll(org, big.access_token, { action: "group.*" });
  assert.equal(groups.length, 525);
  assert.ok(groups.every((e) => e.action === "group.updated"));
  const window = await exportAll(org, big.access_token, { since: iso(start + 5000), until: iso(start + 6000), actor: big.user.id });
  assert.deepEqual(window.map((e) => e.metadata.n), Array.from({ length: 50 }, (_, k) => 599 - 2 * k));
});

// ---------------------------------------------------------------------------------------
// 3. bad parameters and who may read

test("422 for each bad parameter, naming it", async () => {
  const tok = owner.access_token;
  const bad = [
    [{ actor: "bob" }, "actor"],
    [{ actor: "not an email" }, "actor"],
    [{ actor: "12345" }, "actor"],
    [{ action: "Invitation.created" }, "action"],
    [{ action: "invitation." }, "action"],
    [{ action: "invitation*" }, "action"],
    [{ action: "*" }, "action"],
    [{ action: ".*" }, "action"],
    [{ action: "invitation.*.created" }, "action"],
    [{ action: "invitation..created" }, "action"],
    [{ action: "invitation-created" }, "action"],
    [{ action: "grant2.created" }, "action"],
    [{ action: "invitation.%" }, "action"],
    [{ since: "yesterday" }, "since"],
    [{ since: "2026-13-01T00:00:00Z" }, "since"],
    [{ since: "2026-01-01" }, "since"],
    [{ since: "1700000000000" }, "since"],
    [{ until: "tomorrow" }, "until"],
    [{ until: "2026-01-01T25:00:00Z" }, "until"],
    [{ since: "2026-02-01T00:00:00Z", until: "2026-01-01T00:00:00Z" }, "since"],
    [{ since: "2026-01-01T00:00:00.001Z", until: "2026-01-01T00:00:00Z" }, "since"],
    [{ format: "csv" }, "format"],
    [{ format: "NDJSON" }, "format"],
    [{ limit: 0 }, "limit"],
    [{ limit: 201 }, "limit"],
    [{ limit: "ten" }, "limit"],
    [{ cursor: "bogus" }, "cursor"],
  ];
  for (const [params, field] of bad) {
    const r = await w.get(auditPath(orgId, params), { token: tok });
    assert.equal(r.status, 422, `${JSON.stringify(params)}: ${r.status} ${JSON.stringify(r.body)}`);
    assertField(r, field);
  }
  // A bad parameter is a 422 for the export too.
  assertField(await w.get(auditPath(orgId, { format: "ndjson", action: "nope!" }), { token: tok }), "action");
});

test("owner and admin read; editor, viewer, member 403; outsiders and unknown orgs 404; no token 401", async () => {
  assert.equal((await w.get(auditPath(orgId), { token: owner.access_token })).status, 200);
  assert.equal((await w.get(auditPath(orgId), { token: admin.access_token })).status, 200);
  for (const u of [editor, viewer, member]) {
    assertProblem(await w.get(auditPath(orgId), { token: u.access_token }), 403, "forbidden");
    assertProblem(await w.get(auditPath(orgId, { format: "ndjson" }), { token: u.access_token }), 403, "forbidden");
  }
  assertProblem(await w.get(auditPath(orgId), { token: outsider.access_token }), 404, "not_found");
  assertProblem(await w.get(auditPath(outsider.organization.id), { token: owner.access_token }), 404, "not_found");
  assertProblem(await w.get(auditPath(randomUUID()), { token: owner.access_token }), 404, "not_found");
  assertProblem(await w.get(auditPath("not-a-uuid"), { token: owner.access_token }), 404, "not_found");
  assertProblem(await w.get(auditPath(orgId)), 401, "unauthorized");
  assertProblem(await w.get(auditPath(orgId), { token: "garbage" }), 401, "unauthorized");
  // A role change takes effect on the next request.
  assert.equal((await w.patch(`/v1/orgs/${orgId}/members/${viewer.user.id}`, { role: "admin" }, { token: owner.access_token })).status, 200);
  assert.equal((await w.get(auditPath(orgId), { token: viewer.access_token })).status, 200);
  assert.equal((await w.patch(`/v1/orgs/${orgId}/members/${viewer.user.id}`, { role: "viewer" }, { token: owner.access_token })).status, 200);
  assertProblem(await w.get(auditPath(orgId), { token: viewer.access_token }), 403, "forbidden");
});

test("only the org's own trail: never another org's events, never account events", async () => {
  const { o, a, org } = await trailOrg();
  // The admin's own org has its own trail (org.updated "Elsewhere"), and both have logins.
  const theirs = await walk(a.organization.id, a.access_token, {}, 200);
  assert.ok(theirs.some((e) => e.action === "org.updated"));
  const mine = await walk(org, o.access_token, {}, 200);
  const theirIds = new Set(ids(theirs));
  assert.ok(mine.every((e) => !theirIds.has(e.id)));
  for (const events of [mine, theirs, await exportAll(org, o.access_token)]) {
    for (const e of events) assert.ok(!ACCOUNT_ACTIONS.includes(e.action), `account event ${e.action} in an org trail`);
  }
  // Filtering by the admin finds nothing from their other org; by an action, nothing either.
  assert.ok(!(await walk(org, o.access_token, { actor: a.user.id, action: "org.updated" })).length);
  assert.deepEqual(await walk(org, o.access_token, { action: "user.*" }), []);
  assert.deepEqual(await walk(org, o.access_token, { action: "user.login_succeeded" }), []);
  assert.deepEqual(await walk(org, o.access_token, { actor: o.user.id, action: "session.*" }), []);
  // Every id shown belongs to this org in D1.
  const inDb = new Set(ids(await orgRows(org)));
  assert.ok(mine.every((e) => inDb.has(e.id)));
  assert.equal(mine.length, inDb.size);
  // The owner of this org cannot read the admin's org.
  assertProblem(await w.get(auditPath(a.organization.id), { token: o.access_token }), 404, "not_found");
});

// ---------------------------------------------------------------------------------------
// 4. every write leaves its audit event

test("every write route leaves its audit event: the org trail and the account history", async () => {
  const o = await w.activeUser();
  const org = o.organization.id;
  const mainWs = o.workspace.id;
  const T = { token: o.access_token };
  const call = async (method, path, body, status, opts = T) => {
    const r = await w.request(method, path, { body, ...opts, ip: opts.ip ?? freshIp() });
    assert.equal(r.status, status, `${method} ${path}: ${JSON.stringify(r.body)}`);
    return r.body;
  };
  const O = `/v1/orgs/${org}`;

  // orgs and workspaces
  const orgB = await call("POST", "/v1/orgs", { name: "Second org" }, 201);
  await call("PATCH", O, { name: "Renamed org", description: "audited" }, 200);
  const ws2 = await call("POST", `${O}/workspaces`, { name: "Audit WS" }, 201);
  await call("PATCH", `${O}/workspaces/${ws2.id}`, { name: "Audit WS 2" }, 200);
  const x = await w.activeUser();
  await call("PUT", `${O}/workspaces/${ws2.id}/members/${x.user.id}`, { role: "viewer" }, 200);
  await call("PUT", `${O}/workspaces/${ws2.id}/members/${x.user.id}`, { role: "editor" }, 200);
  await call("DELETE", `${O}/workspaces/${ws2.id}/members/${x.user.id}`, undefined, 204);

  // members API and admin account actions
  const m1 = await call("POST", `${O}/members`, { email: freshEmail("m1"), first_name: "Grace", last_name: "Hopper", role: "viewer", credential: "single_use_password" }, 201);
  await call("PATCH", `${O}/members/${m1.user.id}`, { role: "editor" }, 200);
  const m2 = await call("POST", `${O}/members`, { email: freshEmail("m2"), first_name: "Alan", last_name: "Turing", role: "viewer", credential: "activation_email" }, 201);
  await call("POST", `${O}/members/${m2.user.id}/resend-activation`, undefined, 202);
  await call("POST", `${O}/members/${m1.user.id}/reset-password`, { mode: "single_use_password" }, 200);
  await call("DELETE", `${O}/users/${m2.user.id}`, undefined, 204);
  const y = await w.activeUser();
  await call("POST", `${O}/members`, { email: y.email, first_name: "Y", last_name: "Y", role: "viewer", credential: "activation_email" }, 201);
  await call("DELETE", `${O}/members/${y.user.id}`, undefined, 204);

  // invitations: created, resent, accepted (new account), declined (existing), withdrawn
  const i1Email = freshEmail("i1");
  const inv1 = await call("POST", `${O}/invitations`, { email: i1Email, role: "viewer" }, 201);
  await call("POST", `${O}/invitations/${inv1.id}/resend`, undefined, 200);
  const link = await w.until(async () => {
    const mails = (await w.get(`/v1/dev/mailbox?to=${encodeURIComponent(i1Email)}`)).body?.data?.filter((m) => INVITED.test(m.subject)) ?? [];
    return mails.length >= 2 && mails[0].text.match(/token=([A-Za-z0-9_-]{43})/)?.[1];
  }, { what: "the resent invitation" });
  const accepted = await call("POST", "/v1/invitations/accept", { token: link, password: "invitee passphrase 1", first_name: "Ivy", last_name: "Invitee" }, 201, {});
  const i1 = accepted.user.id;
  assert.ok(i1);
  const z = await w.activeUser();
  const inv2 = await call("POST", `${O}/invitations`, { email: z.email, role: "viewer" }, 201);
  await call("POST", `/v1/me/invitations/${inv2.id}/decline`, undefined, 204, { token: z.access_token });
  const inv3 = await call("POST", `${O}/invitations`, { email: freshEmail("i3"), role: "viewer" }, 201);
  await call("DELETE", `${O}/invitations/${inv3.id}`, undefined, 204);
  const inv4 = await call("POST", `${O}/invitations`, { email: freshEmail("i4"), role: "viewer" }, 201);
  await sql(w, "UPDATE invitations SET expires_at = ? WHERE id = ?", Date.now() - 1000, inv4.id);
  await fire();

  // groups and grants
  const g = await call("POST", `${O}/groups`, { name: "Auditors" }, 201);
  await call("PATCH", `${O}/groups/${g.id}`, { description: "they read logs" }, 200);
  await call("PUT", `${O}/groups/${g.id}/members/${m1.user.id}`, undefined, 204);
  await call("DELETE", `${O}/groups/${g.id}/members/${m1.user.id}`, undefined, 204);
  const grantKey = { principal: { type: "user", id: m1.user.id }, resource: { type: "dashboard", id: "audit-d1" } };
  await call("PUT", `${O}/workspaces/${mainWs}/grants`, { ...grantKey, permission: "view" }, 201);
  await call("PUT", `${O}/workspaces/${mainWs}/grants`, { ...grantKey, permission: "edit" }, 200);
  await call("DELETE", `${O}/workspaces/${mainWs}/grants`, grantKey, 204);

  // API tokens: created by the owner, one write made with it (and one more), then revoked
  const bot = await call("POST", `${O}/api-tokens`, { name: "Audit bot", role: "admin" }, 201);
  assert.match(bot.token, /^umt_[A-Za-z0-9_-]{43}$/);
  const B = { token: bot.token };
  const botWs = await call("POST", `${O}/workspaces`, { name: "Bot WS" }, 201, B);
  await call("PATCH", `${O}/workspaces/${botWs.id}`, { name: "Bot WS 2" }, 200, B);
  await call("DELETE", `${O}/api-tokens/${bot.id}`, undefined, 204);
  assertProblem(await w.get(`${O}/workspaces`, B), 401, "unauthorized");

  // ownership, then the previous owner (now admin) deletes a group and a workspace
  await call("POST", `${O}/transfer-ownership`, { user_id: i1 }, 200);
  await call("DELETE", `${O}/groups/${g.id}`, undefined, 204);
  await call("DELETE", `${O}/workspaces/${ws2.id}`, undefined, 204);
  // the operator
  await call("PUT", `/v1/admin/orgs/${org}/limits`, { member_limit: 40 }, 200, { token: SECRET });
  // an org deleted: its trail goes, the deletion stays in the owner's history
  const orgC = await call("POST", "/v1/orgs", { name: "Short-lived" }, 201);
  await call("DELETE", `/v1/orgs/${orgC.id}`, undefined, 204);

  // ---- the org trail, read through the audit API (the previous owner is an admin now)
  const trail = await walk(org, o.access_token, {}, 200);
  const actions = trail.map((e) => e.action);
  const find = (action, pred = () => true) => {
    const e = trail.find((ev) => ev.action === action && pred(ev));
    assert.ok(e, `${action} missing from the org trail: ${JSON.stringify(actions)}`);
    return e;
  };
  // A user id stands for that person's exact actor {type: "user", id, email}; an object is
  // the exact actor; null is the cron.
  const emailOf = { [o.user.id]: o.email, [i1]: i1Email, [z.user.id]: z.email };
  const BOT = { type: "api_token", id: bot.id, name: "Audit bot" };
  const expectEvent = (action, { actor = o.user.id, target, meta, pred } = {}) => {
    const e = find(action, (ev) => (!target || (ev.target?.type === target[0] && ev.target?.id === target[1])) && (!pred || pred(ev)));
    const want = typeof actor === "string" ? { type: "user", id: actor, email: emailOf[actor] } : actor;
    assert.deepEqual(e.actor, want, `actor of ${action}: ${JSON.stringify(e)}`);
    for (const [k, v] of Object.entries(meta ?? {})) assert.deepEqual(e.metadata?.[k], v, `metadata.${k} of ${action}: ${JSON.stringify(e.metadata)}`);
    assert.equal(e.success, true, action);
    return e;
  };
  expectEvent("org.created", { target: ["org", org] });
  expectEvent("workspace.created", { target: ["workspace", mainWs] });
  expectEvent("org.updated", { target: ["org", org], meta: { fields: ["name", "description"] } });
  expectEvent("workspace.created", { target: ["workspace", ws2.id] });
  expectEvent("workspace.updated", { target: ["workspace", ws2.id] });
  expectEvent("workspace_member.added", { target: ["user", x.user.id], meta: { workspace_id: ws2.id, to: "viewer" } });
  expectEvent("member.added", { target: ["user", x.user.id], meta: { via: "workspace" } });
  expectEvent("workspace_member.role_changed", { target: ["user", x.user.id], meta: { workspace_id: ws2.id, from: "viewer", to: "editor" } });
  expectEvent("workspace_member.removed", { target: ["user", x.user.id], meta: { workspace_id: ws2.id, role: "editor" } });
  expectEvent("member.added", { target: ["user", m1.user.id], meta: { credential: "single_use_password", created_account: true } });
  expectEvent("member.role_changed", { target: ["user", m1.user.id], meta: { from: "viewer", to: "editor" } });
  expectEvent("member.added", { target: ["user", m2.user.id], meta: { credential: "activation_email" } });
  expectEvent("member.activation_resent", { target: ["user", m2.user.id] });
  expectEvent("user.password_reset", { target: ["user", m1.user.id], meta: { mode: "single_use_password" } });
  expectEvent("user.deleted", { target: ["user", m2.user.id] });
  expectEvent("member.added", { target: ["user", y.user.id], meta: { created_account: false } });
  expectEvent("member.removed", { target: ["user", y.user.id] });
  expectEvent("invitation.created", { target: ["invitation", inv1.id] });
  expectEvent("invitation.resent", { target: ["invitation", inv1.id], meta: { send_count: 2, revived: false } });
  expectEvent("invitation.accepted", { target: ["invitation", inv1.id], actor: i1 });
  expectEvent("member.added", { target: ["user", i1], actor: i1, meta: { via: "invitation" } });
  expectEvent("invitation.declined", { target: ["invitation", inv2.id], actor: z.user.id });
  expectEvent("invitation.withdrawn", { target: ["invitation", inv3.id] });
  expectEvent("invitation.expired", { target: ["invitation", inv4.id], actor: null });
  expectEvent("group.created", { target: ["group", g.id] });
  expectEvent("group.updated", { target: ["group", g.id], meta: { fields: ["description"] } });
  expectEvent("group.member_added", { target: ["group", g.id], meta: { user_id: m1.user.id } });
  expectEvent("group.member_removed", { target: ["group", g.id], meta: { user_id: m1.user.id } });
  expectEvent("group.deleted", { target: ["group", g.id] });
  expectEvent("grant.created", { target: ["workspace", mainWs], meta: { principal: grantKey.principal, resource: grantKey.resource } });
  expectEvent("grant.updated", { target: ["workspace", mainWs], meta: { from: "view" } });
  expectEvent("grant.revoked", { target: ["workspace", mainWs], meta: { principal: grantKey.principal } });
  expectEvent("org.ownership_transferred", { target: ["user", i1], meta: { from: o.user.id, to: i1 } });
  expectEvent("workspace.deleted", { target: ["workspace", ws2.id] });
  const limits = expectEvent("org.limits_changed", { actor: { type: "operator" }, target: ["org", org], meta: { member_limit: { from: 50, to: 40 } } });
  assert.deepEqual(limits.metadata, { member_limit: { from: 50, to: 40 } });
  // API tokens: the lifecycle by the owner, the writes by the token itself.
  const created = expectEvent("api_token.created", { target: ["api_token", bot.id] });
  assert.deepEqual(created.metadata, { name: "Audit bot", role: "admin", workspaces: null, expires_at: null });
  assert.equal(created.auth_method, null, "the owner created it with a session");
  const revoked = expectEvent("api_token.revoked", { target: ["api_token", bot.id] });
  assert.deepEqual(revoked.metadata, { name: "Audit bot" });
  assert.equal(revoked.auth_method, null);
  const botCreated = expectEvent("workspace.created", { target: ["workspace", botWs.id], actor: BOT });
  const botUpdated = expectEvent("workspace.updated", { target: ["workspace", botWs.id], actor: BOT });
  for (const e of [botCreated, botUpdated]) assert.equal(e.auth_method, "api_token", `auth_method of ${e.action} by the token`);
  // Nothing else in the trail claims the token (the operator's secret is no API token of the org).
  assert.deepEqual(trail.filter((e) => e.actor?.type === "api_token").map((e) => e.id), [botUpdated.id, botCreated.id]);
  assert.deepEqual(trail.filter((e) => e.auth_method === "api_token" && e.actor?.type !== "operator").map((e) => e.id),
    [botUpdated.id, botCreated.id]);
  // Stored: actor_type 'api_token', the token's id and name, no email.
  const botRow = await w.one("SELECT * FROM audit_events WHERE id = ?", botCreated.id);
  assert.deepEqual([botRow.actor_type, botRow.actor_id, botRow.actor_email, botRow.actor_name, botRow.auth_method],
    ["api_token", bot.id, null, "Audit bot", "api_token"]);
  const limitsRow = await w.one("SELECT * FROM audit_events WHERE id = ?", limits.id);
  assert.deepEqual([limitsRow.actor_type, limitsRow.actor_id, limitsRow.actor_email, limitsRow.actor_name], ["operator", null, null, null]);
  // The actor filter takes a token id: exactly the token's own writes (not the events about
  // it, whose target it is), in the pages and in the export alike.
  const byBot = await walk(org, o.access_token, { actor: bot.id }, 1);
  assert.deepEqual(ids(byBot), [botUpdated.id, botCreated.id]);
  assert.deepEqual(ids(byBot), ids((await orgRows(org)).filter((r) => r.actor_id === bot.id)));
  assert.deepEqual(await exportAll(org, o.access_token, { actor: bot.id }), byBot);
  assert.deepEqual(ids(await walk(org, o.access_token, { actor: bot.id, action: "workspace.updated" })), [botUpdated.id]);
  assert.deepEqual(await walk(org, o.access_token, { actor: bot.id, action: "api_token.*" }), []);
  // The owner's events do not include the token's.
  assert.ok(!(await walk(org, o.access_token, { actor: o.user.id }, 200)).some((e) => e.actor?.type !== "user"));
  for (const a of actions) assert.ok(!ACCOUNT_ACTIONS.includes(a), `account event ${a} in the org trail`);
  // The trail through the API is exactly the org's rows.
  assert.deepEqual(ids(trail), ids(await orgRows(org)));

  // The second org's trail has its own org.created; the deleted org's trail is gone.
  const bTrail = await walk(orgB.id, o.access_token, {}, 200);
  assert.deepEqual(bTrail.map((e) => [e.action, e.actor?.id, e.target?.id]), [["org.created", o.user.id, orgB.id]]);
  assertProblem(await w.get(auditPath(orgC.id), { token: o.access_token }), 404, "not_found");
  assert.equal((await w.rows("SELECT 1 FROM audit_events WHERE org_id = ?", orgC.id)).length, 0);
  const deleted = await w.one("SELECT * FROM audit_events WHERE action = 'org.deleted' AND target_id = ?", orgC.id);
  assert.ok(deleted, "org.deleted kept");
  assert.equal(deleted.org_id, null);
  assert.equal(deleted.actor_id, o.user.id);

  // ---- account events: a user's own flows, in /v1/me/activity and in D1 without an org
  const u = await w.activeUser();
  const wrong = await w.login(u.email, "wrong password entirely", freshIp());
  assertProblem(wrong, 401, "invalid_credentials");
  const s2 = await w.login(u.email, PASSWORD, freshIp());
  assert.equal(s2.status, 200, JSON.stringify(s2.body));
  const t2 = { token: s2.body.access_token };
  const newPassword = "a brand new passphrase 77";
  await call("POST", "/v1/me/password", { current_password: PASSWORD, new_password: newPassword }, 204, t2);
  await call("PATCH", "/v1/me", { first_name: "Renamed" }, 200, t2);
  const newEmail = freshEmail("moved");
  await call("POST", "/v1/me/email", { new_email: newEmail, password: newPassword }, 202, t2);
  const vtoken = await w.mailToken(newEmail, /Confirm/);
  await call("POST", "/v1/auth/email/verify", { token: vtoken }, 200, {});
  const s3 = await w.login(newEmail, newPassword, freshIp());
  assert.equal(s3.status, 200, JSON.stringify(s3.body));
  const sessions = (await w.get("/v1/me/sessions", t2)).body.data;
  const s3Id = (await w.get("/v1/me/sessions", { token: s3.body.access_token })).body.data.find((s) => s.current).id;
  assert.ok(sessions.some((s) => s.id === s3Id));
  await call("DELETE", `/v1/me/sessions/${s3Id}`, undefined, 204, t2);
  // An unknown email's failed login is recorded too (no subject, the attempted email).
  const ghost = freshEmail("ghost");
  assertProblem(await w.login(ghost, PASSWORD, freshIp()), 401, "invalid_credentials");

  const activity = await w.get("/v1/me/activity?limit=200", t2);
  assert.equal(activity.status, 200, JSON.stringify(activity.body));
  const mine = activity.body.data.map((e) => e.action);
  for (const a of ["user.signed_up", "user.activated", "user.login_succeeded", "user.login_failed", "user.password_changed",
    "user.updated", "user.email_change_requested", "user.email_changed", "session.revoked"]) {
    assert.ok(mine.includes(a), `${a} missing from /v1/me/activity: ${JSON.stringify(mine)}`);
  }
  assert.equal(activity.body.data.find((e) => e.action === "user.login_failed").success, false);
  const accountRows = await w.rows("SELECT * FROM audit_events WHERE subject_user_id = ?", u.user.id);
  assert.ok(accountRows.length >= 9);
  for (const r of accountRows) {
    assert.equal(r.org_id, null, `${r.action} is an account event`);
    if (r.actor_id !== null) assert.equal(r.actor_id, u.user.id, `actor of ${r.action}`);
  }
  assert.equal(accountRows.find((r) => r.action === "session.revoked").target_id, s3Id);
  const ghostRow = await w.one("SELECT * FROM audit_events WHERE action = 'user.login_failed' AND actor_email = ?", ghost);
  assert.ok(ghostRow, "failed login for an unknown email recorded");
  assert.equal(ghostRow.org_id, null);
  assert.equal(ghostRow.subject_user_id, null);
  assert.equal(ghostRow.success, 0);
  // The owner's own account events (signup, activation, deleting org C) are account events.
  const ownerActivity = (await w.get("/v1/me/activity?limit=200", T)).body.data.map((e) => e.action);
  for (const a of ["user.signed_up", "user.activated", "user.login_succeeded", "org.deleted"]) {
    assert.ok(ownerActivity.includes(a), `${a} missing from the owner's activity: ${JSON.stringify(ownerActivity)}`);
  }
  // The invitee's account was created by accepting: user.signed_up about them, no org.
  const signedUp = await w.one("SELECT * FROM audit_events WHERE action = 'user.signed_up' AND subject_user_id = ?", i1);
  assert.ok(signedUp);
  assert.equal(signedUp.org_id, null);
});

// ---------------------------------------------------------------------------------------
// 5. retention

test("retention: the cron deletes events older than AUDIT_RETENTION_DAYS (30), org and account events alike", async () => {
  const r = await startWorker({ vars: { AUDIT_RETENTION_DAYS: "30" } });
  try {
    const u = await r.activeUser();
    const org = u.organization.id;
    assert.equal((await r.patch(`/v1/orgs/${org}`, { name: "Retained" }, { token: u.access_token })).status, 200);
    assert.equal((await r.login(u.email)).status, 200);
    const other = await r.activeUser(); // someone else's recent events stay untouched
    const all = await r.rows("SELECT id, action, org_id FROM audit_events WHERE org_id = ? OR subject_user_id = ?", org, u.user.id);
    const by = (action) => all.filter((e) => e.action === action).map((e) => e.id);
    const now = Date.now();
    const age = (id, ms) => sql(r, "UPDATE audit_events SET at = ? WHERE id = ?", now - ms, id);
    const old = [...by("org.created"), ...by("user.signed_up"), ...by("user.activated")];
    assert.equal(old.length, 3);
    for (const id of old) await age(id, 31 * DAY);
    const young = by("org.updated");
    for (const id of young) await age(id, 29 * DAY);
    const recent = all.map((e) => e.id).filter((id) => !old.includes(id) && !young.includes(id));
    assert.ok(recent.length >= 3, JSON.stringify(all));
    // A backlog of old rows (org and account), more than one run may delete (README: at
    // most 5,000 per run).
    const t = now - 400 * DAY;
    // One statement (a recursive CTE): ids of time 0, unique by counter.
    await sql(r,
      "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 5299) " +
      "INSERT INTO audit_events (id, org_id, subject_user_id, at, action, success) " +
      "SELECT printf('00000000-0000-7000-8000-%012x', i), CASE WHEN i % 2 = 1 THEN ?1 END, " +
      "CASE WHEN i % 2 = 0 THEN ?2 END, ?3 + i, 'workspace.updated', 1 FROM n",
      org, u.user.id, t);
    const countOld = async () => (await r.one("SELECT COUNT(*) AS n FROM audit_events WHERE at < ?", now - 30 * DAY)).n;
    assert.equal(await countOld(), 5303);
    const before = (await r.one("SELECT COUNT(*) AS n FROM audit_events")).n;

    await fire(r);
    assert.equal(await countOld(), 303, "one run deletes at most 5,000");
    assert.equal((await r.one("SELECT COUNT(*) AS n FROM audit_events")).n, before - 5000);
    await fire(r);
    assert.equal(await countOld(), 0, "the next run deletes the rest");
    for (const id of old) assert.equal((await r.rows("SELECT 1 FROM audit_events WHERE id = ?", id)).length, 0, `old event ${id} kept`);
    for (const id of [...young, ...recent]) assert.equal((await r.rows("SELECT 1 FROM audit_events WHERE id = ?", id)).length, 1, `recent event ${id} deleted`);
    assert.equal((await r.one("SELECT COUNT(*) AS n FROM audit_events")).n, before - 5303, "only the old ones went");
    assert.ok((await r.rows("SELECT 1 FROM audit_events WHERE subject_user_id = ?", other.user.id)).length >= 3);

    // Through the API: the trail and the activity no longer show them.
    const trail = await walk(org, u.access_token, {}, 200, r);
    assert.ok(!trail.some((e) => e.action === "org.created"));
    assert.ok(trail.some((e) => e.action === "org.updated"));
    const activity = (await r.get("/v1/me/activity?limit=200", { token: u.access_token })).body.data.map((e) => e.action);
    assert.ok(!activity.includes("user.signed_up") && !activity.includes("user.activated"), JSON.stringify(activity));
    assert.ok(activity.includes("user.login_succeeded"));

    // Idempotent: another run deletes nothing more.
    const n = (await r.one("SELECT COUNT(*) AS n FROM audit_events")).n;
    assert.equal((await r.scheduled()).outcome, "ok");
    assert.equal((await r.one("SELECT COUNT(*) AS n FROM audit_events")).n, n);
  } finally {
    await r.dispose();
  }
});

test("retention: the default is 365 days", async () => {
  const u = await w.activeUser();
  const rows = await w.rows("SELECT id, action FROM audit_events WHERE subject_user_id = ? OR org_id = ?", u.user.id, u.organization.id);
  const id = (action) => rows.find((e) => e.action === action).id;
  const now = Date.now();
  await sql(w, "UPDATE audit_events SET at = ? WHERE id = ?", now - 366 * DAY, id("user.signed_up"));
  await sql(w, "UPDATE audit_events SET at = ? WHERE id = ?", now - 366 * DAY, id("org.created"));
  await sql(w, "UPDATE audit_events SET at = ? WHERE id = ?", now - 364 * DAY, id("user.activated"));
  await sql(w, "UPDATE audit_events SET at = ? WHERE id = ?", now - 364 * DAY, id("workspace.created"));
  await fire();
  const left = new Set((await w.rows("SELECT action FROM audit_events WHERE subject_user_id = ? OR org_id = ?", u.user.id, u.organization.id)).map((e) => e.action));
  assert.ok(!left.has("user.signed_up") && !left.has("org.created"), [...left].join());
  assert.ok(left.has("user.activated") && left.has("workspace.created") && left.has("user.login_succeeded"), [...left].join());
});

test("AUDIT_RETENTION_DAYS below 1 or not a number: 503 service_misconfigured naming it", async () => {
  for (const value of ["0", "-5", "a year"]) {
    const p = await startWorker({ vars: { AUDIT_RETENTION_DAYS: value } });
    try {
      const r = await p.get("/health");
      assertProblem(r, 503, "service_misconfigured");
      assert.match(r.body.detail, /AUDIT_RETENTION_DAYS/);
    } finally {
      await p.dispose();
    }
  }
});
