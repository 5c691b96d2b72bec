import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startWorker, assertProblem } from "./helpers.mjs";

let w;
before(async () => { w = await startWorker(); });
after(async () => { await w?.dispose(); });

test("health answers with version and request id", async () => {
  const r = await w.get("/health");
  assert.equal(r.status, 200);
  assert.equal(r.body.status, "ok");
  assert.ok(r.body.version);
  assert.ok(r.headers.get("x-request-id"));
});

test("signup, activate by mail, login, me", async () => {
  const u = await w.activeUser();
  assert.ok(u.access_token && u.refresh_token);
  const login = await w.login(u.email);
  assert.equal(login.status, 200, JSON.stringify(login.body));
  const me = await w.get("/v1/me", { token: login.body.access_token });
  assert.equal(me.status, 200, JSON.stringify(me.body));
  assert.equal(me.body.email, u.email);
  assert.equal(me.body.memberships[0].role, "owner");
  assert.equal(me.body.memberships[0].workspaces[0].role, "admin");
});

test("unknown route is a 404 problem", async () => {
  assertProblem(await w.get("/v1/nope"), 404, "not_found");
});
