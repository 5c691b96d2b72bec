// The console's pure functions, on Node (no browser): phone splitting, route matching, and
// single sign-on's (which addresses to ask about, the connection form's bodies, the
// callback's explanations).
import { test } from "node:test";
import assert from "node:assert/strict";
import { splitPhone } from "../console/src/phone.js";
import { match } from "../console/src/router.js";
import { ApiError } from "../console/src/api.js";
import { discoverableEmail } from "../console/src/pages/signin.js";
import { SSO_ERRORS, isSsoError, ssoErrorText } from "../console/src/pages/sso-callback.js";
import {
  EMPTY_CONNECTION, asFieldError, testFailure, connectionBody, connectionChanges, connectionForm, groupRoleMap,
} from "../console/src/pages/sso.js";

test("splitPhone splits an E.164 number at its country calling code (a prefix code)", () => {
  for (const [number, parts] of [
    ["+14155552671", ["+1", "4155552671"]],
    ["+79161234567", ["+7", "9161234567"]],
    ["+491701234567", ["+49", "1701234567"]],
    ["+447700900123", ["+44", "7700900123"]],
    ["+8613812345678", ["+86", "13812345678"]],
    ["+35679123456", ["+356", "79123456"]],
    ["+2348031234567", ["+234", "8031234567"]],
    ["", ["", ""]],
    [null, ["", ""]],
    ["0301234567", ["", "0301234567"]],
  ]) {
    assert.deepEqual(splitPhone(number), parts, String(number));
    if (parts[0]) assert.equal(parts.join(""), number, "the parts join back into the number");
  }
});

test("match: a pattern's parameters, decoded; null when the path is another", () => {
  assert.deepEqual(match("/members/:user", "/members/abc"), { user: "abc" });
  assert.deepEqual(match("/members/:user", "/members/a%20b/"), { user: "a b" });
  assert.deepEqual(match("/members/new", "/members/new"), {});
  assert.equal(match("/members/:user", "/members"), null);
  assert.equal(match("/members/:user", "/members/x/y"), null);
  assert.equal(match("/workspaces/:ws/permissions", "/workspaces/x/users"), null);
  assert.deepEqual(match("/", "/"), {});
});

test("discoverableEmail: a complete address, lower-cased and trimmed; null while it is not one yet", () => {
  assert.equal(discoverableEmail("  Ada@Example.COM "), "ada@example.com");
  assert.equal(discoverableEmail("ada@mail.example.co.uk"), "ada@mail.example.co.uk");
  for (const partial of ["", "ada", "ada@", "ada@example", "ada@example.", "@example.com", "a b@example.com", "ada@exa mple.com", "ada@@example.com", null, undefined]) {
    assert.equal(discoverableEmail(partial), null, String(partial));
  }
});

test("ssoErrorText: every code of the contract's callback has its own explanation; an unknown one says to start again", () => {
  const codes = ["sso_state_invalid", "sso_issuer_mismatch", "sso_provider_error", "sso_token_invalid", "sso_email_unverified",
    "sso_domain_not_verified", "sso_link_unverified", "sso_not_provisioned", "sso_access_removed", "capacity_exceeded",
    "sso_connection_inactive", "invalid_token", "token_expired"];
  const texts = codes.map(ssoErrorText);
  assert.equal(new Set(texts).size, codes.length, "no two codes share a text");
  for (const code of codes) {
    assert.equal(ssoErrorText(code), SSO_ERRORS[code]);
    assert.ok(isSsoError(code), code);
  }
  for (const other of ["something_new", "toString", "__proto__", "constructor", "", null, undefined]) assert.equal(isSsoError(other), false, String(other));
  assert.match(ssoErrorText("capacity_exceeded"), /no seats left/);
  assert.match(ssoErrorText("capacity_exceeded"), /administrator/);
  assert.match(ssoErrorText("sso_state_invalid"), /Start again/);
  assert.match(ssoErrorText("something_new"), /Start again/);
  assert.ok(!codes.includes("something_new") && !SSO_ERRORS.something_new);
  assert.equal(ssoErrorText("toString"), ssoErrorText("something_new"), "no inherited property passes for a text");
});

test("groupRoleMap: named rows only, names trimmed; the last row of a repeated group wins", () => {
  assert.deepEqual(groupRoleMap([]), {});
  assert.deepEqual(groupRoleMap([{ group: " eng ", role: "editor" }, { group: "  ", role: "admin" }, { group: "ops", role: "viewer" }]),
    { eng: "editor", ops: "viewer" });
  assert.deepEqual(groupRoleMap([{ group: "eng", role: "editor" }, { group: "eng", role: "admin" }]), { eng: "admin" });
});

test("connectionBody: the form's values trimmed; blank optional fields left out for the API's defaults", () => {
  assert.deepEqual(connectionBody({ ...EMPTY_CONNECTION, issuer: " https://idp.example.com ", client_id: " app ", client_secret: " s3cret " }), {
    issuer: "https://idp.example.com", client_id: "app", client_secret: " s3cret ", default_role: "member", jit: true,
    scopes: "openid email profile",
  });
  const full = connectionBody({
    name: " Okta ", issuer: "https://idp", client_id: "c", client_secret: "s", default_role: "viewer", jit: false,
    group_claim: " groups ", groups: [{ group: "eng", role: "editor" }, { group: "", role: "admin" }], scopes: "  openid   email ",
  });
  assert.deepEqual(full, {
    name: "Okta", issuer: "https://idp", client_id: "c", client_secret: "s", default_role: "viewer", jit: false,
    group_claim: "groups", group_role_map: { eng: "editor" }, scopes: "openid email",
  });
  assert.equal("scopes" in connectionBody({ ...EMPTY_CONNECTION, scopes: "  " }), false);
});

const CONNECTION = {
  id: "c1", name: "Okta", issuer: "https://idp", client_id: "app", client_secret_set: true, default_role: "member", jit: true,
  group_claim: "groups", group_role_map: { eng: "editor", ops: "viewer" }, scopes: "openid email profile", status: "active", enforce: true,
};

test("connectionForm → connectionChanges: an untouched form sends nothing; the secret is never known", () => {
  const f = connectionForm(CONNECTION);
  assert.equal(f.client_secret, "");
  assert.deepEqual(f.groups, [{ group: "eng", role: "editor" }, { group: "ops", role: "viewer" }]);
  assert.deepEqual(connectionChanges(CONNECTION, f), {});
  // The map's order does not matter, nor the scopes' spacing.
  assert.deepEqual(connectionChanges(CONNECTION, { ...f, groups: [...f.groups].reverse(), scopes: " openid  email profile " }), {});
  const bare = { ...CONNECTION, name: null, group_claim: null, group_role_map: null };
  assert.deepEqual(connectionChanges(bare, connectionForm(bare)), {});
});

test("connectionChanges: only what changed; a blank secret keeps the stored one, emptied claim and map are cleared", () => {
  const f = connectionForm(CONNECTION);
  assert.deepEqual(connectionChanges(CONNECTION, { ...f, client_secret: "new secret" }), { client_secret: "new secret" });
  assert.deepEqual(connectionChanges(CONNECTION, { ...f, issuer: " https://other ", jit: false, default_role: "viewer" }),
    { issuer: "https://other", jit: false, default_role: "viewer" });
  assert.deepEqual(connectionChanges(CONNECTION, { ...f, group_claim: "  ", groups: [] }), { group_claim: null, group_role_map: {} });
  assert.deepEqual(connectionChanges(CONNECTION, { ...f, groups: [...f.groups, { group: "sec", role: "admin" }] }),
    { group_role_map: { eng: "editor", ops: "viewer", sec: "admin" } });
  assert.deepEqual(connectionChanges(CONNECTION, { ...f, groups: [{ group: "eng", role: "admin" }, f.groups[1]] }),
    { group_role_map: { eng: "admin", ops: "viewer" } });
  assert.deepEqual(connectionChanges(CONNECTION, { ...f, name: "Okta (EU)", scopes: "openid email" }), { name: "Okta (EU)", scopes: "openid email" });
});

test("asFieldError: the named 409s become the field's error; any other failure passes unchanged", () => {
  const taken = new ApiError(409, { code: "domain_taken", detail: "Another organization verified example.com." });
  const asField = asFieldError(taken, "domain", ["domain_exists", "domain_taken"]);
  assert.ok(asField instanceof ApiError);
  assert.equal(asField.status, 409);
  assert.equal(asField.code, "domain_taken");
  assert.deepEqual(asField.fields, { domain: "Another organization verified example.com." });
  const other = new ApiError(409, { code: "conflict", detail: "x" });
  assert.equal(asFieldError(other, "domain", ["domain_exists"]), other);
  const plain = new Error("offline");
  assert.equal(asFieldError(plain, "domain", ["domain_exists"]), plain);
});

test("testFailure: a test sign-in's error shows the API's detail, else the code's explanation", () => {
  assert.deepEqual(testFailure({ code: "sso_email_unverified", detail: "The provider does not say the email is verified." }),
    { code: "sso_email_unverified", text: "The provider does not say the email is verified." });
  assert.deepEqual(testFailure({ code: "sso_token_invalid", detail: "" }), { code: "sso_token_invalid", text: ssoErrorText("sso_token_invalid") });
  assert.deepEqual(testFailure("capacity_exceeded"), { code: "capacity_exceeded", text: ssoErrorText("capacity_exceeded") });
  assert.deepEqual(testFailure(null), { code: null, text: "The test sign-in failed." });
  assert.deepEqual(testFailure({}), { code: null, text: "The test sign-in failed." });
});
