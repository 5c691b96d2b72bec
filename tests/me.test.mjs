// The caller's own account: /v1/me and everything under it (SPEC §4 "Auth and the caller's
// own account"). State is checked both through the API and in D1.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startWorker, assertProblem, freshEmail, freshIp, PASSWORD } from "./helpers.mjs";

let w;
before(async () => { w = await startWorker(); });
after(async () => { await w?.dispose(); });

const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/;
const NEW_PASSWORD = "a different long passphrase 42";

function loginWith(email, { password = PASSWORD, ip = freshIp(), ua = "me-tests/1.0" } = {}) {
  return w.post("/v1/auth/login", { email, password }, { ip, headers: { "user-agent": ua } });
}

async function loggedIn(email, opts) {
  const r = await loginWith(email, opts);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body;
}

const userRow = (id) => w.one("SELECT * FROM users WHERE id = ?", id);

function assertValidation(res, field) {
  assertProblem(res, 422, "validation_failed");
  assert.ok(Array.isArray(res.body.errors) && res.body.errors.length > 0, JSON.stringify(res.body));
  if (field) {
    assert.ok(res.body.errors.some((e) => e.field === field),
      `expected an error for ${field}: ${JSON.stringify(res.body.errors)}`);
  }
}

// ---------------------------------------------------------------------------------------
// GET /v1/me

test("GET /v1/me: profile fields, memberships with effective roles, no secrets", async () => {
  const u = await w.activeUser();
  const r = await w.get("/v1/me", { token: u.access_token });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.match(r.headers.get("content-type"), /application\/json/);
  const me = r.body;
  assert.equal(me.id, u.user.id);
  assert.equal(me.email, u.email);
  assert.equal(me.first_name, "Ada");
  assert.equal(me.last_name, "Lovelace");
  assert.equal(me.phone, null);
  assert.equal(me.status, "active");
  assert.equal(me.email_verified, true);
  assert.equal(me.pending_email, null);
  assert.match(me.created_at, RFC3339);
  assert.match(me.last_login_at, RFC3339);
  assert.deepEqual(me.memberships, [{
    org: { id: u.organization.id, name: "Analytical Engines" },
    role: "owner",
    workspaces: [{ id: u.workspace.id, name: "Main", role: "admin" }],
  }]);
  const text = JSON.stringify(me);
  assert.ok(!/password|hash|failed_logins/i.test(text), `secret-ish field in ${text}`);
});

test("GET /v1/me: a viewer membership in another org shows role viewer and workspace role viewer", async () => {
  const a = await w.activeUser();
  const b = await w.activeUser();
  await w.db.prepare("INSERT INTO org_members (org_id, user_id, role, joined_at) VALUES (?, ?, 'viewer', ?)")
    .bind(a.organization.id, b.user.id, Date.now()).run();
  const r = await w.get("/v1/me", { token: b.access_token });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body.memberships.length, 2);
  const own = r.body.memberships.find((m) => m.org.id === b.organization.id);
  const other = r.body.memberships.find((m) => m.org.id === a.organization.id);
  assert.equal(own.role, "owner");
  assert.deepEqual(other, {
    org: { id: a.organization.id, name: "Analytical Engines" },
    role: "viewer",
    workspaces: [{ id: a.workspace.id, name: "Main", role: "viewer" }],
  });
});

test("GET /v1/me: pending_email shows a requested email change; login email unchanged", async () => {
  const u = await w.activeUser();
  const newEmail = freshEmail("changed");
  const c = await w.post("/v1/me/email", { new_email: newEmail, password: PASSWORD }, { token: u.access_token });
  assert.equal(c.status, 202, JSON.stringify(c.body));
  const r = await w.get("/v1/me", { token: u.access_token });
  assert.equal(r.status, 200);
  assert.equal(r.body.pending_email, newEmail);
  assert.equal(r.body.email, u.email);
  assert.equal((await userRow(u.user.id)).pending_email, newEmail);
});

// ---------------------------------------------------------------------------------------
// PATCH /v1/me

test("PATCH /v1/me: names are trimmed and stored", async () => {
  const u = await w.activeUser();
  const r = await w.patch("/v1/me", { first_name: "  Grace ", last_name: "Hopper" }, { token: u.access_token });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body.first_name, "Grace");
  assert.equal(r.body.last_name, "Hopper");
  assert.ok(Array.isArray(r.body.memberships), "PATCH answers with the full profile");
  const row = await userRow(u.user.id);
  assert.equal(row.first_name, "Grace");
  assert.equal(row.last_name, "Hopper");
  // Only the given field changes.
  const r2 = await w.patch("/v1/me", { last_name: "Murray Hopper" }, { token: u.access_token });
  assert.equal(r2.status, 200, JSON.stringify(r2.body));
  assert.equal(r2.body.first_name, "Grace");
  assert.equal((await userRow(u.user.id)).last_name, "Murray Hopper");
  // An empty body changes nothing.
  const r3 = await w.patch("/v1/me", {}, { token: u.access_token });
  assert.equal(r3.status, 200, JSON.stringify(r3.body));
  assert.equal(r3.body.first_name, "Grace");
});

test("PATCH /v1/me: phone as E.164, normalised, from country_code + mobile_number, and cleared by null", async () => {
  const u = await w.activeUser();
  const t = { token: u.access_token };

  let r = await w.patch("/v1/me", { phone: "+4930123456" }, t);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body.phone, "+4930123456");
  assert.equal((await userRow(u.user.id)).phone, "+4930123456");

  r = await w.patch("/v1/me", { phone: "+49 30 1234-5678" }, t);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body.phone, "+493012345678");
  assert.equal((await userRow(u.user.id)).phone, "+493012345678");

  r = await w.patch("/v1/me", { country_code: "+44", mobile_number: "07700 900123" }, t);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body.phone, "+447700900123");
  assert.equal((await userRow(u.user.id)).phone, "+447700900123");

  r = await w.patch("/v1/me", { country_code: "356", mobile_number: "7912 3456" }, t);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body.phone, "+35679123456");

  // A name-only change leaves the phone alone.
  r = await w.patch("/v1/me", { first_name: "Ada" }, t);
  assert.equal(r.body.phone, "+35679123456");

  r = await w.patch("/v1/me", { phone: null }, t);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body.phone, null);
  assert.equal((await userRow(u.user.id)).phone, null);

  const me = await w.get("/v1/me", t);
  assert.equal(me.body.phone, null);
});

test("PATCH /v1/me: invalid input is 422 naming the field and changes nothing", async () => {
  const u = await w.activeUser();
  const t = { token: u.access_token };
  const set = await w.patch("/v1/me", { phone: "+4930123456" }, t);
  assert.equal(set.status, 200, JSON.stringify(set.body));
  const before = await userRow(u.user.id);

  const cases = [
    [{ phone: "12345" }, "phone"],
    [{ phone: "030123456" }, "phone"],
    [{ phone: "+1234" }, "phone"],
    [{ phone: "+0123456789" }, "phone"],
    [{ phone: "+49abc12345" }, "phone"],
    [{ phone: 4930123456 }, "phone"],
    [{ first_name: "" }, "first_name"],
    [{ first_name: "   " }, "first_name"],
    [{ last_name: "" }, "last_name"],
    [{ last_name: "x".repeat(101) }, "last_name"],
    [{ first_name: "a\u0000b" }, "first_name"],
    [{ first_name: 5 }, "first_name"],
    // Unknown fields: refused here; that the error names them exactly is its own test.
    [{ nickname: "Countess" }, null],
    [{ email: "other@example.com" }, null],
    [{ first_name: "Grace", status: "locked" }, null],
    [{ phone: "+4930123456", country_code: "+49" }, "phone"],
    [{ phone: "+4930123456", mobile_number: "30123456" }, "phone"],
    [{ country_code: "+49" }, "mobile_number"],
    [{ mobile_number: "30123456" }, "country_code"],
    [{ country_code: "+1234", mobile_number: "5551234" }, null],
    // Atomic: a valid name next to an invalid phone is not applied either.
    [{ first_name: "Grace", phone: "not a phone" }, "phone"],
  ];
  for (const [body, field] of cases) {
    const r = await w.patch("/v1/me", body, t);
    assert.equal(r.status, 422, `${JSON.stringify(body)} → ${r.status} ${JSON.stringify(r.body)}`);
    assertValidation(r, field);
  }
  const afterRow = await userRow(u.user.id);
  assert.deepEqual(afterRow, before);
  const me = await w.get("/v1/me", t);
  assert.equal(me.body.first_name, "Ada");
  assert.equal(me.body.phone, "+4930123456");
});

test("PATCH /v1/me: an unknown field is 422 naming exactly that field", async () => {
  const u = await w.activeUser();
  for (const field of ["nickname", "email", "status"]) {
    const r = await w.patch("/v1/me", { [field]: "x" }, { token: u.access_token });
    assertValidation(r, null);
    assert.deepEqual(r.body.errors.map((e) => e.field), [field], JSON.stringify(r.body.errors));
  }
  assert.equal((await userRow(u.user.id)).email, u.email);
});

test("PATCH /v1/me: null for a required name is refused, not silently ignored", async () => {
  // first_name/last_name cannot be cleared (NOT NULL); a null is a wrong type, so 422 like
  // any other wrong type (SPEC §7), rather than a 200 that did not do what was asked.
  const u = await w.activeUser();
  for (const body of [{ first_name: null }, { last_name: null }]) {
    const r = await w.patch("/v1/me", body, { token: u.access_token });
    assertValidation(r, Object.keys(body)[0]);
  }
  const row = await userRow(u.user.id);
  assert.equal(row.first_name, "Ada");
  assert.equal(row.last_name, "Lovelace");
});

// ---------------------------------------------------------------------------------------
// POST /v1/me/password

test("POST /v1/me/password: wrong current or weak new password is 422 and changes nothing", async () => {
  const u = await w.activeUser();
  const t = { token: u.access_token };
  const hash = (await userRow(u.user.id)).password_hash;

  let r = await w.post("/v1/me/password", { current_password: "not the password at all", new_password: NEW_PASSWORD }, t);
  assertValidation(r, "current_password");
  for (const weak of ["short", "password", "12345678", "Password123"]) {
    r = await w.post("/v1/me/password", { current_password: PASSWORD, new_password: weak }, t);
    assertValidation(r, "new_password");
  }
  r = await w.post("/v1/me/password", { current_password: PASSWORD }, t);
  assertValidation(r, "new_password");

  assert.equal((await userRow(u.user.id)).password_hash, hash);
  const events = await w.rows("SELECT id FROM audit_events WHERE subject_user_id = ? AND action = 'user.password_changed'", u.user.id);
  assert.equal(events.length, 0);
  assert.equal((await w.get("/v1/me", t)).status, 200, "the session survives failed attempts");
});

test("POST /v1/me/password: 204, other sessions end, this one keeps working, mail and audit", async () => {
  const u = await w.activeUser(); // session 1 (activation)
  const s2 = await loggedIn(u.email); // session 2: the one that changes the password

  const r = await w.post("/v1/me/password", { current_password: PASSWORD, new_password: NEW_PASSWORD }, { token: s2.access_token });
  assert.equal(r.status, 204, JSON.stringify(r.body));
  assert.equal(r.body, null);

  // The current session keeps working, access and refresh.
  assert.equal((await w.get("/v1/me", { token: s2.access_token })).status, 200);
  const rot = await w.post("/v1/auth/refresh", { refresh_token: s2.refresh_token });
  assert.equal(rot.status, 200, JSON.stringify(rot.body));

  // The other session ended at once: access token and refresh token.
  assertProblem(await w.get("/v1/me", { token: u.access_token }), 401, "unauthorized");
  const old = await w.post("/v1/auth/refresh", { refresh_token: u.refresh_token });
  assert.equal(old.status, 401, JSON.stringify(old.body));
  const ended = await w.rows("SELECT id, ended_at FROM sessions WHERE user_id = ? AND ended_at IS NOT NULL", u.user.id);
  assert.equal(ended.length, 1);

  // The old password no longer logs in; the new one does.
  assertProblem(await loginWith(u.email), 401, "invalid_credentials");
  await loggedIn(u.email, { password: NEW_PASSWORD });

  const mail = await w.mail(u.email, /password was changed/i);
  assert.equal(mail.to, u.email);
  const events = await w.rows("SELECT * FROM audit_events WHERE subject_user_id = ? AND action = 'user.password_changed'", u.user.id);
  assert.equal(events.length, 1);
  assert.equal(events[0].actor_id, u.user.id);
});

// ---------------------------------------------------------------------------------------
// GET /v1/me/sessions

test("GET /v1/me/sessions: live sessions with current flag, ip and user agent; pagination", async () => {
  const ipA = freshIp();
  const ipB = freshIp();
  const ipC = freshIp();
  const u = await w.activeUser({ ip: ipA });
  const s2 = await loggedIn(u.email, { ip: ipB, ua: "Agent-Two/2.0" });
  await loggedIn(u.email, { ip: ipC, ua: "Agent-Three/3.0" });
  const other = await w.activeUser(); // someone else's sessions never appear

  const r = await w.get("/v1/me/sessions", { token: s2.access_token });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body.next_cursor, null);
  const list = r.body.data;
  assert.equal(list.length, 3, JSON.stringify(list));
  const dbIds = (await w.rows("SELECT id FROM sessions WHERE user_id = ?", u.user.id)).map((s) => s.id).sort();
  assert.deepEqual(list.map((s) => s.id).sort(), dbIds);
  const otherIds = (await w.rows("SELECT id FROM sessions WHERE user_id = ?", other.user.id)).map((s) => s.id);
  assert.ok(!list.some((s) => otherIds.includes(s.id)));

  assert.equal(list.filter((s) => s.current).length, 1);
  const current = list.find((s) => s.current);
  assert.equal(current.ip, ipB);
  assert.equal(current.user_agent, "Agent-Two/2.0");
  const three = list.find((s) => s.ip === ipC);
  assert.equal(three.user_agent, "Agent-Three/3.0");
  assert.equal(three.current, false);
  assert.ok(list.find((s) => s.ip === ipA), "the activation session is listed with its ip");
  for (const s of list) {
    assert.match(s.created_at, RFC3339);
    assert.match(s.last_used_at, RFC3339);
    assert.match(s.expires_at, RFC3339);
    assert.ok(!("refresh_token" in s) && !("token_hash" in s));
  }

  // Pagination: one per page, the same sessions in the same order, then no cursor.
  const seen = [];
  let cursor = null;
  for (let page = 0; page < 5; page++) {
    const q = `/v1/me/sessions?limit=1${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`;
    const p = await w.get(q, { token: s2.access_token });
    assert.equal(p.status, 200, JSON.stringify(p.body));
    assert.equal(p.body.data.length, 1);
    seen.push(p.body.data[0].id);
    cursor = p.body.next_cursor;
    if (seen.length < 3) assert.equal(typeof cursor, "string", `page ${page} should have a next_cursor`);
    if (!cursor) break;
  }
  assert.deepEqual(seen, list.map((s) => s.id));
  assert.equal(cursor, null);
});

test("GET /v1/me/sessions: bad cursor or limit is 422", async () => {
  const u = await w.activeUser();
  const t = { token: u.access_token };
  for (const q of ["cursor=garbage", "cursor=%21%21", `cursor=${Buffer.from("v1:' OR 1=1 --").toString("base64url")}`]) {
    assertValidation(await w.get(`/v1/me/sessions?${q}`, t), "cursor");
  }
  for (const q of ["limit=0", "limit=500", "limit=201", "limit=-1", "limit=abc", "limit=1.5"]) {
    assertValidation(await w.get(`/v1/me/sessions?${q}`, t), "limit");
  }
  const ok = await w.get("/v1/me/sessions?limit=200", t);
  assert.equal(ok.status, 200);
});

// ---------------------------------------------------------------------------------------
// DELETE /v1/me/sessions/{id}

test("DELETE /v1/me/sessions/{id}: ends that session at once; 404 for foreign, invalid or ended ids", async () => {
  const u = await w.activeUser(); // session 1
  const s2 = await loggedIn(u.email); // session 2
  const t2 = { token: s2.access_token };
  const list = (await w.get("/v1/me/sessions", t2)).body.data;
  const s1 = list.find((s) => !s.current);
  assert.ok(s1, JSON.stringify(list));

  const r = await w.del(`/v1/me/sessions/${s1.id}`, t2);
  assert.equal(r.status, 204, JSON.stringify(r.body));
  assertProblem(await w.get("/v1/me", { token: u.access_token }), 401, "unauthorized");
  const refresh = await w.post("/v1/auth/refresh", { refresh_token: u.refresh_token });
  assert.equal(refresh.status, 401, JSON.stringify(refresh.body));
  const after = (await w.get("/v1/me/sessions", t2)).body.data;
  assert.deepEqual(after.map((s) => s.id), [list.find((s) => s.current).id]);
  const row = await w.one("SELECT ended_at FROM sessions WHERE id = ?", s1.id);
  assert.ok(row.ended_at);
  const revoked = await w.rows("SELECT * FROM audit_events WHERE action = 'session.revoked' AND target_id = ?", s1.id);
  assert.equal(revoked.length, 1);

  // Already ended.
  assertProblem(await w.del(`/v1/me/sessions/${s1.id}`, t2), 404, "not_found");

  // Someone else's session: 404, and it keeps working.
  const v = await w.activeUser();
  const vSession = (await w.get("/v1/me/sessions", { token: v.access_token })).body.data[0];
  assertProblem(await w.del(`/v1/me/sessions/${vSession.id}`, t2), 404, "not_found");
  assert.equal((await w.get("/v1/me", { token: v.access_token })).status, 200);
  assert.equal((await w.one("SELECT ended_at FROM sessions WHERE id = ?", vSession.id)).ended_at, null);
  const foreign = await w.rows("SELECT * FROM audit_events WHERE action = 'session.revoked' AND target_id = ?", vSession.id);
  assert.equal(foreign.length, 0, "a refused revocation leaves no audit event");

  // Not a UUID, or an unknown one.
  for (const id of ["not-a-uuid", "123", "01900000-0000-7000-8000-00000000000g", "01900000-0000-7000-8000-000000000000", "%27%20OR%201%3D1"]) {
    assertProblem(await w.del(`/v1/me/sessions/${id}`, t2), 404, "not_found");
  }
  assert.equal((await w.get("/v1/me", t2)).status, 200);

  // Revoking the current session works too and ends it.
  const cur = list.find((s) => s.current);
  assert.equal((await w.del(`/v1/me/sessions/${cur.id}`, t2)).status, 204);
  assertProblem(await w.get("/v1/me", t2), 401, "unauthorized");
});

// ---------------------------------------------------------------------------------------
// GET /v1/me/activity

test("GET /v1/me/activity: failed and successful logins with ip, user agent, method, newest first", async () => {
  const u = await w.activeUser();
  const ipBad = freshIp();
  const ipGood = freshIp();
  const bad = await loginWith(u.email, { password: "definitely wrong password", ip: ipBad, ua: "Bad-Agent/1" });
  assertProblem(bad, 401, "invalid_credentials");
  const good = await loggedIn(u.email, { ip: ipGood, ua: "Good-Agent/1" });

  const r = await w.get("/v1/me/activity", { token: good.access_token });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  const data = r.body.data;
  assert.ok(Array.isArray(data));
  assert.ok("next_cursor" in r.body);
  const failIdx = data.findIndex((e) => e.ip === ipBad);
  const okIdx = data.findIndex((e) => e.ip === ipGood);
  assert.ok(failIdx >= 0 && okIdx >= 0, JSON.stringify(data));
  const fail = data[failIdx];
  const ok = data[okIdx];
  assert.equal(fail.success, false);
  assert.equal(fail.auth_method, "password");
  assert.equal(fail.user_agent, "Bad-Agent/1");
  assert.match(fail.at, RFC3339);
  assert.equal(ok.success, true);
  assert.equal(ok.auth_method, "password");
  assert.equal(ok.user_agent, "Good-Agent/1");
  assert.match(ok.at, RFC3339);
  assert.ok(okIdx < failIdx, "newest first");
  for (let i = 1; i < data.length; i++) {
    assert.ok(Date.parse(data[i - 1].at) >= Date.parse(data[i].at), "ordered newest first");
  }

  const page = await w.get("/v1/me/activity?limit=1", { token: good.access_token });
  assert.equal(page.status, 200);
  assert.equal(page.body.data.length, 1);
  assert.equal(page.body.data[0].ip, data[0].ip);
  assert.equal(typeof page.body.next_cursor, "string");
  const page2 = await w.get(`/v1/me/activity?limit=1&cursor=${encodeURIComponent(page.body.next_cursor)}`, { token: good.access_token });
  assert.equal(page2.status, 200);
  assert.deepEqual(page2.body.data[0], data[1]);
  assertValidation(await w.get("/v1/me/activity?cursor=nope", { token: good.access_token }), "cursor");
});

// ---------------------------------------------------------------------------------------
// DELETE /v1/me

test("DELETE /v1/me: wrong password is 422; then 204 deletes the user, the solo org, its workspace, sessions", async () => {
  const u = await w.activeUser();
  const s2 = await loggedIn(u.email);
  const t = { token: s2.access_token };

  const wrong = await w.del("/v1/me", { ...t, body: { password: "not my password at all" } });
  assertValidation(wrong, "password");
  assertValidation(await w.del("/v1/me", { ...t, body: {} }), "password");
  assert.ok(await userRow(u.user.id));
  assert.equal((await w.get("/v1/me", t)).status, 200);

  const r = await w.del("/v1/me", { ...t, body: { password: PASSWORD } });
  assert.equal(r.status, 204, JSON.stringify(r.body));

  assert.equal(await userRow(u.user.id), undefined);
  assert.equal(await w.one("SELECT id FROM orgs WHERE id = ?", u.organization.id), undefined);
  assert.equal(await w.one("SELECT id FROM workspaces WHERE id = ?", u.workspace.id), undefined);
  assert.equal((await w.rows("SELECT * FROM org_members WHERE user_id = ? OR org_id = ?", u.user.id, u.organization.id)).length, 0);
  assert.equal((await w.rows("SELECT id FROM sessions WHERE user_id = ?", u.user.id)).length, 0);
  assert.equal((await w.rows("SELECT token_hash FROM user_tokens WHERE user_id = ?", u.user.id)).length, 0);
  const deleted = await w.rows("SELECT * FROM audit_events WHERE action = 'user.deleted' AND subject_user_id = ?", u.user.id);
  assert.equal(deleted.length, 1);

  assertProblem(await w.get("/v1/me", t), 401, "unauthorized");
  assertProblem(await w.get("/v1/me", { token: u.access_token }), 401, "unauthorized");
  assert.equal((await w.post("/v1/auth/refresh", { refresh_token: s2.refresh_token })).status, 401);
  assertProblem(await loginWith(u.email), 401, "invalid_credentials");
});

test("DELETE /v1/me: owning an org with another member is 409 last_owner and deletes nothing", async () => {
  const a = await w.activeUser();
  const b = await w.activeUser();
  await w.db.prepare("INSERT INTO org_members (org_id, user_id, role, joined_at) VALUES (?, ?, 'admin', ?)")
    .bind(a.organization.id, b.user.id, Date.now()).run();
  const before = {
    user: await userRow(a.user.id),
    org: await w.one("SELECT * FROM orgs WHERE id = ?", a.organization.id),
    ws: await w.one("SELECT * FROM workspaces WHERE id = ?", a.workspace.id),
    members: await w.rows("SELECT * FROM org_members WHERE org_id = ? ORDER BY user_id", a.organization.id),
    sessions: await w.rows("SELECT * FROM sessions WHERE user_id = ? ORDER BY id", a.user.id),
  };

  const r = await w.del("/v1/me", { token: a.access_token, body: { password: PASSWORD } });
  assertProblem(r, 409, "last_owner");

  assert.deepEqual({
    user: await userRow(a.user.id),
    org: await w.one("SELECT * FROM orgs WHERE id = ?", a.organization.id),
    ws: await w.one("SELECT * FROM workspaces WHERE id = ?", a.workspace.id),
    members: await w.rows("SELECT * FROM org_members WHERE org_id = ? ORDER BY user_id", a.organization.id),
    sessions: await w.rows("SELECT * FROM sessions WHERE user_id = ? ORDER BY id", a.user.id),
  }, before);
  assert.equal((await w.rows("SELECT id FROM audit_events WHERE action = 'user.deleted' AND subject_user_id = ?", a.user.id)).length, 0);
  assert.equal((await w.get("/v1/me", { token: a.access_token })).status, 200);

  // The member (who owns only a solo org) can leave: their membership goes, a's org stays.
  const rb = await w.del("/v1/me", { token: b.access_token, body: { password: PASSWORD } });
  assert.equal(rb.status, 204, JSON.stringify(rb.body));
  assert.equal(await userRow(b.user.id), undefined);
  assert.equal(await w.one("SELECT id FROM orgs WHERE id = ?", b.organization.id), undefined);
  assert.ok(await w.one("SELECT id FROM orgs WHERE id = ?", a.organization.id));
  assert.deepEqual((await w.rows("SELECT user_id FROM org_members WHERE org_id = ?", a.organization.id)).map((m) => m.user_id), [a.user.id]);
});

// ---------------------------------------------------------------------------------------
// Authentication

test("every /v1/me route without a valid token is 401 unauthorized", async () => {
  const u = await w.activeUser();
  const sessionId = (await w.get("/v1/me/sessions", { token: u.access_token })).body.data[0].id;
  const routes = [
    ["GET", "/v1/me"],
    ["PATCH", "/v1/me", { first_name: "Mallory" }],
    ["DELETE", "/v1/me", { password: PASSWORD }],
    ["POST", "/v1/me/password", { current_password: PASSWORD, new_password: NEW_PASSWORD }],
    ["POST", "/v1/me/email", { new_email: freshEmail(), password: PASSWORD }],
    ["GET", "/v1/me/sessions"],
    ["DELETE", `/v1/me/sessions/${sessionId}`],
    ["GET", "/v1/me/activity"],
    ["POST", "/v1/auth/logout-all"],
  ];
  const badAuth = [
    {},
    { token: "not-a-jwt" },
    { token: `${u.access_token}x` },
    { headers: { authorization: `Basic ${Buffer.from("a:b").toString("base64")}` } },
    { headers: { authorization: "Bearer" } },
  ];
  for (const [method, path, body] of routes) {
    for (const auth of badAuth) {
      const r = await w.request(method, path, { ...auth, body });
      assertProblem(r, 401, "unauthorized");
      assert.match(r.headers.get("www-authenticate") ?? "", /^Bearer/i, `${method} ${path}`);
    }
  }
  // Nothing was changed by any of them.
  const row = await userRow(u.user.id);
  assert.equal(row.first_name, "Ada");
  assert.equal(row.pending_email, null);
  assert.equal((await w.get("/v1/me", { token: u.access_token })).status, 200);
});
