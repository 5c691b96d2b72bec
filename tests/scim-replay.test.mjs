// SCIM replay (issue 21): the request sequences Okta and Microsoft Entra ID document for their
// SCIM clients (tests/scim-fixtures/okta.json, entra.json, their bodies verbatim), sent to the
// Worker's /scim/v2 with a SCIM token of a fresh organization. Each step's status and response
// are checked as the fixture says, then the exact final state, through SCIM (the final GETs,
// compared whole) and in D1 (users, org_members, groups, group_members).
//
// Fixture format (tests/scim-fixtures/README.md):
//   steps[]: {name, method, path (relative to /scim/v2), body?, save?: {var: JSON pointer into
//     the response body}, expect: {status, body? (subset), unordered?/includes?: {pointer:
//     [items]}, absent?: [pointers]}}
//   final: {scim: [{path, status, body? (whole, meta as a subset)}], d1: {users, org_members,
//     groups, group_members}}
//   "{var}" anywhere in a string (or a key of final.d1) is a saved value, or orgId, or baseUrl
//   (the token's base_url, which meta.location and members[].$ref start with).
// Matching: an object matches when each expected key matches; an array when it has the same
// length and each element matches in order; a scalar when equal. Unassigned, null and []
// are one state (RFC 7643 §2.5): expected [] matches a missing attribute, and an "absent"
// pointer may name null or [].
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { startWorker } from "./helpers.mjs";

const SCIM = "/scim/v2";
const FIXTURES = ["okta", "entra"].map((name) => ({
  name,
  ...JSON.parse(readFileSync(new URL(`./scim-fixtures/${name}.json`, import.meta.url), "utf8")),
}));
const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)$/;

// ---------------------------------------------------------------------------------------
// matching

const PLACEHOLDER = /\{([A-Za-z][A-Za-z0-9]*)\}/g;

/** `value` with every "{var}" in its strings (and object keys) replaced from `vars`. */
function fill(value, vars) {
  if (typeof value === "string") {
    return value.replace(PLACEHOLDER, (_, name) => {
      if (!(name in vars)) throw new Error(`placeholder {${name}} is not defined yet`);
      return vars[name];
    });
  }
  if (Array.isArray(value)) return value.map((v) => fill(v, vars));
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [fill(k, vars), fill(v, vars)]));
  }
  return value;
}

/** RFC 6901: the value at `pointer` in `doc`, or undefined. */
function at(doc, pointer) {
  if (pointer === "") return doc;
  let cur = doc;
  for (const raw of pointer.slice(1).split("/")) {
    const key = raw.replaceAll("~1", "/").replaceAll("~0", "~");
    if (cur === null || typeof cur !== "object" || !Object.hasOwn(cur, key)) return undefined;
    cur = cur[key];
  }
  return cur;
}

const unassigned = (v) => v === undefined || v === null || (Array.isArray(v) && v.length === 0);

/** Why `actual` does not match the `expected` subset, or null when it does. */
function mismatch(actual, expected, where = "") {
  if (unassigned(expected)) {
    return unassigned(actual) ? null : `${where || "/"}: expected unassigned, got ${JSON.stringify(actual)}`;
  }
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual)) return `${where || "/"}: expected an array, got ${JSON.stringify(actual)}`;
    if (actual.length !== expected.length) {
      return `${where || "/"}: expected ${expected.length} element(s), got ${actual.length}: ${JSON.stringify(actual)}`;
    }
    for (let i = 0; i < expected.length; i++) {
      const m = mismatch(actual[i], expected[i], `${where}/${i}`);
      if (m) return m;
    }
    return null;
  }
  if (typeof expected === "object") {
    if (actual === null || typeof actual !== "object" || Array.isArray(actual)) {
      return `${where || "/"}: expected an object, got ${JSON.stringify(actual)}`;
    }
    for (const [k, v] of Object.entries(expected)) {
      const m = mismatch(actual[k], v, `${where}/${k}`);
      if (m) return m;
    }
    return null;
  }
  return Object.is(actual, expected) ? null : `${where || "/"}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`;
}

/** Why the array does not hold `items` (each matching a distinct element), or null. */
function missingItems(actual, items, where, exactLength) {
  const list = unassigned(actual) ? [] : actual;
  if (!Array.isArray(list)) return `${where}: expected an array, got ${JSON.stringify(actual)}`;
  if (exactLength && list.length !== items.length) {
    return `${where}: expected ${items.length} element(s) in any order, got ${list.length}: ${JSON.stringify(list)}`;
  }
  const used = new Set();
  for (const item of items) {
    const i = list.findIndex((el, idx) => !used.has(idx) && mismatch(el, item) === null);
    if (i < 0) return `${where}: no element matches ${JSON.stringify(item)} in ${JSON.stringify(list)}`;
    used.add(i);
  }
  return null;
}

/** `value` without unassigned attributes, recursively: the form final states are compared in. */
function normalized(value) {
  if (Array.isArray(value)) return value.map(normalized);
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).filter(([, v]) => !unassigned(v)).map(([k, v]) => [k, normalized(v)]));
  }
  return value;
}

/** Asserts a response against a fixture's `expect` (already filled). */
function check(res, expect, what) {
  const body = JSON.stringify(res.body);
  assert.equal(res.status, expect.status, `${what}: status; body ${body}`);
  if (res.status === 204) {
    assert.equal(res.body, null, `${what}: a 204 has no body`);
  } else {
    assert.match(res.headers.get("content-type") ?? "", /^application\/scim\+json/, `${what}: content-type`);
  }
  if (expect.body !== undefined) {
    const m = mismatch(res.body, expect.body);
    assert.equal(m, null, `${what}: ${m}; body ${body}`);
  }
  for (const [pointer, items] of Object.entries(expect.unordered ?? {})) {
    const m = missingItems(at(res.body, pointer), items, pointer, true);
    assert.equal(m, null, `${what}: ${m}`);
  }
  for (const [pointer, items] of Object.entries(expect.includes ?? {})) {
    const m = missingItems(at(res.body, pointer), items, pointer, false);
    assert.equal(m, null, `${what}: ${m}`);
  }
  for (const pointer of expect.absent ?? []) {
    assert.ok(unassigned(at(res.body, pointer)), `${what}: ${pointer} must be absent; body ${body}`);
  }
}

// ---------------------------------------------------------------------------------------
// the Worker and a SCIM token per fixture

// Started by the first replay, so that the checks of the fixtures themselves run without it.
let w;
after(async () => {
  await w?.dispose();
});

/** A fresh owner, org and SCIM token: the replay's variables and a request function. */
async function scimClient(fixture) {
  w ??= await startWorker();
  const owner = await w.activeUser();
  const org = owner.organization.id;
  const res = await w.post(`/v1/orgs/${org}/scim-tokens`, { name: `${fixture.name} replay` }, { token: owner.access_token });
  assert.equal(res.status, 201, `create a SCIM token: ${JSON.stringify(res.body)}`);
  assert.match(res.body.token ?? "", /^umscim_[A-Za-z0-9_-]{43}$/, JSON.stringify(res.body));
  assert.match(res.body.base_url ?? "", /^https?:\/\/[^/]+\/scim\/v2$/, JSON.stringify(res.body));
  const token = res.body.token;
  const send = (method, path, body) => w.request(method, `${SCIM}${path}`, {
    body,
    token,
    headers: { ...fixture.headers, ...(body === undefined ? {} : { "content-type": "application/scim+json" }) },
  });
  return { vars: { orgId: org, baseUrl: res.body.base_url }, send };
}

// ---------------------------------------------------------------------------------------
// tests

test("scim matching: subsets, order, unassigned states and pointers behave as documented", () => {
  assert.equal(mismatch({ a: 1, b: { c: [1, 2] } }, { b: { c: [1, 2] } }), null);
  assert.match(mismatch({ b: { c: [2, 1] } }, { b: { c: [1, 2] } }), /\/b\/c\/0/);
  assert.match(mismatch({ a: [1, 2, 3] }, { a: [1, 2] }), /2 element/);
  assert.match(mismatch({ a: "1" }, { a: 1 }), /expected 1/);
  assert.match(mismatch({}, { a: false }), /\/a/);
  assert.equal(mismatch({}, { Resources: [] }), null);
  assert.match(mismatch({ Resources: [{}] }, { Resources: [] }), /unassigned/);
  assert.equal(missingItems([{ v: 2 }, { v: 1 }], [{ v: 1 }, { v: 2 }], "/m", true), null);
  assert.match(missingItems([{ v: 1 }, { v: 1 }], [{ v: 1 }, { v: 2 }], "/m", true), /no element/);
  assert.match(missingItems([{ v: 1 }, { v: 2 }], [{ v: 1 }], "/m", true), /1 element/);
  assert.equal(missingItems([{ v: 1 }, { v: 2 }], [{ v: 2 }], "/m", false), null);
  assert.equal(at({ "a/b": { "~c": 1 } }, "/a~1b/~0c"), 1);
  assert.equal(at({ a: [0, { b: 2 }] }, "/a/1/b"), 2);
  assert.equal(at({ a: 1 }, "/a/b"), undefined);
  assert.deepEqual(normalized({ a: null, b: [], c: { d: [], e: 1 }, f: [{ g: null }] }), { c: { e: 1 }, f: [{}] });
  assert.deepEqual(fill({ "{x}": ["/U/{x}"] }, { x: "7" }), { 7: ["/U/7"] });
  assert.throws(() => fill("{nope}", {}), /nope/);
});

test("scim fixtures: every step is complete and uses only placeholders defined before it", () => {
  for (const f of FIXTURES) {
    assert.ok(f.source?.url && f.client, `${f.name}: source and client`);
    const vars = { orgId: "o", baseUrl: "b" };
    for (const step of f.steps) {
      const what = `${f.name}: ${step.name}`;
      assert.ok(["GET", "POST", "PUT", "PATCH", "DELETE"].includes(step.method), what);
      assert.match(step.path, /^\/(Users|Groups)\b/, what);
      assert.equal(typeof step.expect?.status, "number", what);
      assert.equal(step.body !== undefined, ["POST", "PUT", "PATCH"].includes(step.method), `${what}: a body exactly when the method has one`);
      fill({ path: step.path, body: step.body }, vars); // throws on a placeholder not saved yet
      for (const [name, pointer] of Object.entries(step.save ?? {})) {
        assert.match(pointer, /^\//, what);
        vars[name] = name;
      }
      fill(step.expect, vars);
    }
    fill(f.final, vars);
    assert.ok(f.final.scim.length > 0 && Object.keys(f.final.d1).length === 4, `${f.name}: final state`);
  }
});

for (const fixture of FIXTURES) {
  test(`scim replay: ${fixture.client}, ${fixture.steps.length} documented requests, then the exact final state`, async () => {
    const { vars, send } = await scimClient(fixture);

    for (const [i, step] of fixture.steps.entries()) {
      const what = `${fixture.name} step ${i + 1} "${step.name}" (${step.method} ${step.path})`;
      const res = await send(step.method, fill(step.path, vars), fill(step.body, vars));
      for (const [name, pointer] of Object.entries(step.save ?? {})) {
        const value = at(res.body, pointer);
        assert.equal(typeof value, "string", `${what}: ${pointer} to save as {${name}}; status ${res.status}, body ${JSON.stringify(res.body)}`);
        vars[name] = value;
      }
      check(res, fill(step.expect, vars), what);
    }

    const final = fill(fixture.final, vars);
    for (const expected of final.scim) {
      const what = `${fixture.name} final GET ${expected.path}`;
      const res = await send("GET", expected.path);
      check(res, { status: expected.status }, what);
      if (expected.status !== 200) {
        assert.equal(mismatch(res.body, { schemas: ["urn:ietf:params:scim:api:messages:2.0:Error"], status: String(expected.status) }), null, what);
        continue;
      }
      const { meta, ...rest } = normalized(res.body);
      const { meta: wantMeta, ...wantRest } = normalized(expected.body);
      assert.deepEqual(rest, wantRest, `${what}: the whole resource (meta aside)`);
      assert.equal(mismatch(meta, wantMeta), null, `${what}: meta ${JSON.stringify(meta)}`);
      assert.match(meta.created ?? "", RFC3339, `${what}: meta.created`);
      assert.match(meta.lastModified ?? "", RFC3339, `${what}: meta.lastModified`);
    }

    const { users, org_members: members, groups, group_members: groupMembers } = final.d1;
    for (const [id, want] of Object.entries(users)) {
      const row = await w.one("SELECT email, first_name, last_name, created_by_org_id FROM users WHERE id = ?", id);
      if (want === null) {
        assert.equal(row, undefined, `${fixture.name}: users row ${id} is deleted`);
      } else {
        assert.ok(row, `${fixture.name}: users row ${id}`);
        assert.deepEqual(Object.fromEntries(Object.keys(want).map((k) => [k, row[k]])), want, `${fixture.name}: users row ${id}`);
      }
    }
    for (const [id, want] of Object.entries(members)) {
      const row = await w.one("SELECT role, suspended_at FROM org_members WHERE org_id = ? AND user_id = ?", vars.orgId, id);
      if (want === null) {
        assert.equal(row, undefined, `${fixture.name}: no membership of ${id}`);
      } else {
        assert.ok(row, `${fixture.name}: membership of ${id}`);
        assert.deepEqual({ role: row.role, suspended: row.suspended_at !== null }, want, `${fixture.name}: membership of ${id}`);
      }
    }
    for (const [id, want] of Object.entries(groups)) {
      const row = await w.one("SELECT name FROM groups WHERE org_id = ? AND id = ?", vars.orgId, id);
      if (want === null) assert.equal(row, undefined, `${fixture.name}: group ${id} is deleted`);
      else assert.deepEqual(row && { name: row.name }, want, `${fixture.name}: group ${id}`);
    }
    for (const [id, want] of Object.entries(groupMembers)) {
      const rows = await w.rows("SELECT user_id, org_id FROM group_members WHERE group_id = ? ORDER BY user_id", id);
      assert.deepEqual(rows.map((r) => r.user_id), [...want].sort(), `${fixture.name}: members of group ${id}`);
      for (const r of rows) assert.equal(r.org_id, vars.orgId, `${fixture.name}: group_members.org_id`);
    }
  });
}
