// Single-use tokens hold when requests race: of N concurrent uses exactly one succeeds,
// and its effects (sessions, password change) happen exactly once.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startWorker, assertProblem, freshIp, PASSWORD } from "./helpers.mjs";

let w;
before(async () => { w = await startWorker(); });
after(async () => { await w?.dispose(); });

test("8 concurrent activations with one link: exactly one succeeds, one session", async () => {
  const s = await w.signup();
  const token = await w.mailToken(s.email, /Activate/);
  const results = await Promise.all(
    Array.from({ length: 8 }, () => w.post("/v1/auth/activate", { token }, { ip: freshIp() })),
  );
  const ok = results.filter((r) => r.status === 200);
  assert.equal(ok.length, 1, JSON.stringify(results.map((r) => r.status)));
  for (const r of results.filter((r) => r.status !== 200)) assertProblem(r, 400, "invalid_token");
  const sessions = await w.rows("SELECT id FROM sessions WHERE user_id = ?", s.user.id);
  assert.equal(sessions.length, 1);
  const user = await w.one("SELECT status FROM users WHERE id = ?", s.user.id);
  assert.equal(user.status, "active");
  const events = await w.rows(
    "SELECT action FROM audit_events WHERE subject_user_id = ? AND action = 'user.activated'", s.user.id);
  assert.equal(events.length, 1);
});

test("8 concurrent resets with one link: exactly one password wins", async () => {
  const u = await w.activeUser();
  assert.equal((await w.post("/v1/auth/password/forgot", { email: u.email })).status, 202);
  const token = await w.mailToken(u.email, /Reset/);
  const passwords = Array.from({ length: 8 }, (_, i) => `racing passphrase number ${i}`);
  const results = await Promise.all(
    passwords.map((p) => w.post("/v1/auth/password/reset", { token, new_password: p }, { ip: freshIp() })),
  );
  const winners = passwords.filter((_, i) => results[i].status === 204);
  assert.equal(winners.length, 1, JSON.stringify(results.map((r) => r.status)));
  for (const r of results.filter((r) => r.status !== 204)) assertProblem(r, 400, "invalid_token");
  assert.equal((await w.login(u.email, winners[0])).status, 200);
  assert.equal((await w.login(u.email, PASSWORD)).status, 401);
  const resets = await w.rows(
    "SELECT id FROM audit_events WHERE subject_user_id = ? AND action = 'user.password_reset'", u.user.id);
  assert.equal(resets.length, 1);
});

test("a newer reset link supersedes the older one", async () => {
  const u = await w.activeUser();
  await w.post("/v1/auth/password/forgot", { email: u.email });
  const first = await w.mailToken(u.email, /Reset/);
  await w.post("/v1/auth/password/forgot", { email: u.email });
  const second = await w.until(async () => {
    const t = await w.mailToken(u.email, /Reset/);
    return t !== first && t;
  }, { what: "second reset mail" });
  assertProblem(await w.post("/v1/auth/password/reset", { token: first, new_password: "another fine passphrase" }), 400, "invalid_token");
  assert.equal((await w.post("/v1/auth/password/reset", { token: second, new_password: "another fine passphrase" })).status, 204);
});

test("concurrent password changes: one wins, the other conflicts, nothing half-applied", async () => {
  const u = await w.activeUser();
  const [a, b] = await Promise.all([
    w.post("/v1/me/password", { current_password: PASSWORD, new_password: "first new passphrase" }, { token: u.access_token }),
    w.post("/v1/me/password", { current_password: PASSWORD, new_password: "second new passphrase" }, { token: u.access_token }),
  ]);
  const statuses = [a.status, b.status].sort();
  assert.ok(statuses[0] === 204, JSON.stringify([a.body, b.body]));
  // The loser either saw the password already changed (422) or lost the race in D1 (409).
  assert.ok([409, 422].includes(statuses[1]), JSON.stringify([a.body, b.body]));
  const winner = a.status === 204 ? "first new passphrase" : "second new passphrase";
  assert.equal((await w.login(u.email, winner)).status, 200);
});
