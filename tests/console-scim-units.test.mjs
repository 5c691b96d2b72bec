// The SCIM provisioning screen's pure functions, on Node (no browser): the settings form
// from the API's settings, the PUT body it sends, and what "first sign-in" resolves to.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ApiError } from "../console/src/api.js";
import { resolvedActivation, settingsBody, settingsForm } from "../console/src/pages/scim.js";

test("settingsForm: the stored choice (activation_setting), not what it resolves to", () => {
  assert.deepEqual(
    settingsForm({ default_role: "editor", group_role_map: { Eng: "admin", Ops: "viewer" }, activation: "email", activation_setting: null }),
    { default_role: "editor", groups: [{ group: "Eng", role: "admin" }, { group: "Ops", role: "viewer" }], activation: null },
  );
  assert.equal(settingsForm({ default_role: "viewer", group_role_map: {}, activation: "sso", activation_setting: "sso" }).activation, "sso");
});

test("settingsBody: every field; names trimmed, blank rows left out, null activation kept", () => {
  assert.deepEqual(
    settingsBody({ default_role: "member", groups: [{ group: " Eng ", role: "admin" }, { group: "  ", role: "viewer" }], activation: null }),
    { default_role: "member", group_role_map: { Eng: "admin" }, activation: null },
  );
  assert.deepEqual(settingsBody({ default_role: "viewer", groups: [], activation: "email" }),
    { default_role: "viewer", group_role_map: {}, activation: "email" });
});

test("settingsBody: a group named twice is a field error of that group, not a silent merge", () => {
  assert.throws(
    () => settingsBody({ default_role: "viewer", groups: [{ group: "Eng", role: "admin" }, { group: "Eng ", role: "member" }], activation: null }),
    (e) => e instanceof ApiError && e.status === 422 && Object.keys(e.fields).join() === "group_role_map.Eng",
  );
});

test("resolvedActivation: a choice is itself; null follows the active SSO connection; unknown stays unknown", () => {
  assert.equal(resolvedActivation("email", true), "email");
  assert.equal(resolvedActivation("sso", false), "sso");
  assert.equal(resolvedActivation(null, true), "sso");
  assert.equal(resolvedActivation(null, false), "email");
  assert.equal(resolvedActivation(null, undefined), undefined);
});
