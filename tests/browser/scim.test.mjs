// The SCIM provisioning screen in a real browser: an owner creates a SCIM token (its secret
// shown once, only its SHA-256 stored), uses it, sets the provisioning settings (default
// role, group → role map, first sign-in) and revokes the token; an editor has no such
// screen; a 403 is explained; the screen works at 375 px and by keyboard. Each journey
// checks the screen and then the API or D1 behind it.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { startConsole, newPage, expectAccessible, assertNoProblems, signInThroughPage } from "./support.mjs";

const sha256 = (s) => createHash("sha256").update(s).digest("hex");

let env, w;
/**
 * Whether this build serves the SCIM endpoints. The contract answers a request without a
 * token 401; a build that has the tokens and settings routes but not yet the SCIM service
 * answers every /scim/v2 path 404 (a SCIM error document) before it looks at the token.
 */
let scimServed;
before(async () => {
  env = await startConsole();
  w = env.w;
  const anonymous = await w.get("/scim/v2/Users");
  assert.ok([401, 404].includes(anonymous.status), JSON.stringify(anonymous.body));
  scimServed = anonymous.status === 401;
});
after(async () => { await env?.dispose(); });

const nav = (page) => page.getByRole("navigation", { name: /navigation$/ });
const scimUsers = (token) => w.get("/scim/v2/Users", { token });
const focused = (page) => page.evaluate(() => {
  const el = document.activeElement;
  return { tag: el?.tagName, text: el?.textContent.trim(), label: el?.labels?.[0]?.textContent.trim(), inDialog: Boolean(el?.closest("dialog")) };
});
/** The field (label, control, hint, error) of the control labelled `label`, within `scope`. */
/** Focus moves after a render: waits (5 s at most) until the focused element's `key` is `value`. */
async function focusReaches(page, key, value, what) {
  const deadline = Date.now() + 5000;
  let now;
  while ((now = await focused(page))[key] !== value && Date.now() < deadline) await page.waitForTimeout(25);
  assert.equal(now[key], value, what);
}
const fieldOf = (page, label, scope = page) => scope.locator(".field", { has: page.getByLabel(label, { exact: true }) });

async function signedIn(user, size) {
  const page = await newPage(env, size);
  await signInThroughPage(page, user.email, user.password ?? "correct horse battery staple");
  return page;
}

/** Rows of the org's provisioning settings that differ from the defaults: a SCIM request
 *  records the org's last provisioning request in the same row. */
const CHANGED_SETTINGS = "SELECT COUNT(*) AS n FROM scim_settings WHERE org_id = ? " +
  "AND (default_role <> 'viewer' OR group_role_map <> '{}' OR activation IS NOT NULL)";

test("an owner creates a SCIM token (shown once, stored as its SHA-256), sets the provisioning settings, revokes the token", async (t) => {
  const owner = await w.activeUser();
  const orgId = owner.organization.id;
  const as = { token: owner.access_token };
  const baseUrl = `${env.origin}/scim/v2`;
  const page = await signedIn(owner);
  await page.context().grantPermissions(["clipboard-read", "clipboard-write"]);
  await nav(page).getByRole("link", { name: "Provisioning" }).click();
  await page.getByRole("heading", { name: "No SCIM token yet" }).waitFor();
  assert.equal(await page.getByTestId("base-url").textContent(), baseUrl);
  assert.equal(await page.getByTestId("last-request").textContent(), "Never");
  await page.getByRole("heading", { name: "Okta" }).waitFor();
  await page.getByRole("heading", { name: "Microsoft Entra ID" }).waitFor();
  await expectAccessible(page, "provisioning, no token");
  await page.getByRole("button", { name: "Copy base URL" }).click();
  await page.getByRole("button", { name: /^Copied/ }).waitFor();
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), baseUrl);

  // The empty state carries the main action. A refused name is explained beside its field
  // and creates nothing.
  const count = async () => (await w.one("SELECT COUNT(*) AS n FROM scim_tokens WHERE org_id = ?", orgId)).n;
  await page.getByRole("button", { name: "Create SCIM token" }).click();
  const form = page.getByRole("dialog", { name: "Create a SCIM token" });
  await focusReaches(page, "inDialog", true, "focus moved into the dialog");
  await form.getByLabel("Name (optional)").fill("x".repeat(101));
  await form.getByRole("button", { name: "Create token" }).click();
  await fieldOf(page, "Name (optional)", form).getByText("must be at most 100 characters").waitFor();
  assert.equal(await count(), 0);
  await expectAccessible(page, "create SCIM token dialog, field error");

  await form.getByLabel("Name (optional)").fill("Okta");
  await form.getByRole("button", { name: "Create token" }).click();
  const shown = page.getByRole("dialog", { name: "SCIM token “Okta” created" });
  const secret = (await shown.getByTestId("secret").textContent()).trim();
  assert.match(secret, /^umscim_[A-Za-z0-9_-]{43}$/);
  assert.equal(await shown.getByTestId("created-base-url").textContent(), baseUrl, "the base URL is shown with the secret");
  await focusReaches(page, "text", "Copy", "focus is on the secret's copy button");
  await expectAccessible(page, "SCIM token created, secret shown");
  await shown.getByRole("button", { name: "Copy", exact: true }).click();
  await shown.getByRole("button", { name: /^Copied/ }).waitFor();
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), secret);

  // D1 holds the SHA-256 of the secret, never the secret.
  const rows = await w.rows("SELECT * FROM scim_tokens WHERE org_id = ?", orgId);
  assert.equal(rows.length, 1);
  assert.equal(rows[0].token_hash, sha256(secret));
  assert.equal(rows[0].name, "Okta");
  assert.equal(rows[0].created_by, owner.user.id);
  assert.ok(!JSON.stringify(rows).includes(secret.slice("umscim_".length)), "no column holds the secret");
  assert.ok((await w.rows("SELECT token_hash FROM scim_tokens")).some((r) => r.token_hash === sha256(secret)));

  // The token is accepted by the SCIM service.
  const used = await scimUsers(secret);
  if (scimServed) {
    assert.equal(used.status, 200, JSON.stringify(used.body));
  } else {
    // This build has no SCIM endpoints yet: every /scim/v2 path is a 404 SCIM error,
    // answered before the token is read. Only "not 401" can be asserted (issue 21's brief).
    assert.notEqual(used.status, 401, JSON.stringify(used.body));
    t.diagnostic(`no SCIM endpoints in this build: GET /scim/v2/Users with a live token answered ${used.status}`);
  }

  // Done: the list has replaced the empty state, and focus goes to its create button.
  await shown.getByRole("button", { name: "Done" }).click();
  await shown.waitFor({ state: "hidden" });
  await focusReaches(page, "text", "Create SCIM token", "focus is on the list's create button");
  const listed = page.getByRole("row", { name: /Okta/ });
  await listed.getByText("active", { exact: true }).waitFor();
  await listed.getByText(`by ${owner.email}`).waitFor();
  assert.ok(!(await page.content()).includes(secret), "the list does not show the secret");
  await page.reload();
  await listed.waitFor();
  assert.ok(!(await page.content()).includes(secret), "nor after a reload");
  if (scimServed) {
    // The SCIM request above was the org's last provisioning request (written after the response).
    await w.until(async () => (await w.one("SELECT last_request_at FROM scim_settings WHERE org_id = ?", orgId))?.last_request_at, { what: "last request" });
    await page.reload();
    assert.notEqual(await page.getByTestId("last-request").textContent(), "Never");
    assert.equal(await listed.getByText("Never").count(), 0, "the token's last use is shown");
  } else {
    assert.equal(await page.getByTestId("last-request").textContent(), "Never");
    await listed.getByText("Never").waitFor();
  }
  const api = await w.get(`/v1/orgs/${orgId}/scim-tokens`, as);
  assert.equal(api.status, 200);
  assert.equal(api.body.data.length, 1);
  assert.equal("token" in api.body.data[0], false, "the API never lists the secret");
  await expectAccessible(page, "provisioning, one active token");

  // Settings: the defaults as the API has them (viewer; no map; follow SSO, which resolves
  // to the activation email while the org has no active SSO connection).
  assert.equal(await page.getByLabel("Default role").inputValue(), "viewer");
  assert.equal(await page.getByRole("radio", { name: "Follow SSO" }).isChecked(), true);
  await page.getByTestId("activation-resolved").getByText("they get an activation email").waitFor();
  await page.getByLabel("Default role").selectOption("editor");
  await page.getByRole("button", { name: "Add a group" }).click();
  await focusReaches(page, "label", "Group 1", "a new row's name field takes the focus");
  await page.keyboard.type("Engineering");
  await page.getByLabel("Role for group 1").selectOption("admin");
  await page.getByRole("button", { name: "Add a group" }).click();
  await page.getByLabel("Group 2", { exact: true }).fill("g".repeat(256));
  await page.getByLabel("Role for group 2").selectOption("viewer");
  await page.getByRole("radio", { name: "Through SSO" }).check();
  await page.locator(".alert-warning").getByText("no active SSO connection").waitFor();
  await expectAccessible(page, "provisioning settings, edited");
  await page.getByRole("button", { name: "Save settings" }).click();
  // The API's error for that group lands beside its row, and nothing was stored.
  await fieldOf(page, "Group 2").getByText("group names must be 1 to 255 characters").waitFor();
  assert.equal(await fieldOf(page, "Group 1").locator(".field-error").count(), 0);
  assert.equal((await w.one(CHANGED_SETTINGS, orgId)).n, 0);
  await expectAccessible(page, "provisioning settings, field error");

  // A group named twice is refused beside both rows before anything is sent.
  await page.getByLabel("Group 2", { exact: true }).fill(" Engineering ");
  await page.getByRole("button", { name: "Save settings" }).click();
  await fieldOf(page, "Group 2").getByText("mapped twice").waitFor();
  await fieldOf(page, "Group 1").getByText("mapped twice").waitFor();
  assert.equal((await w.one(CHANGED_SETTINGS, orgId)).n, 0);

  // Removing a row by keyboard leaves focus on the row before it.
  await page.getByRole("button", { name: "Remove group 2" }).focus();
  await page.keyboard.press("Enter");
  await page.getByLabel("Group 2", { exact: true }).waitFor({ state: "detached" });
  await focusReaches(page, "label", "Group 1", "focus goes to the row before the removed one");
  await page.getByRole("button", { name: "Save settings" }).click();
  await page.getByText("Saved.").waitFor();
  const stored = await w.get(`/v1/orgs/${orgId}/scim-settings`, as);
  assert.equal(stored.status, 200);
  assert.deepEqual(
    { default_role: stored.body.default_role, group_role_map: stored.body.group_role_map, activation: stored.body.activation, activation_setting: stored.body.activation_setting },
    { default_role: "editor", group_role_map: { Engineering: "admin" }, activation: "sso", activation_setting: "sso" },
  );
  const row = await w.one("SELECT default_role, group_role_map, activation FROM scim_settings WHERE org_id = ?", orgId);
  assert.deepEqual({ ...row, group_role_map: JSON.parse(row.group_role_map) },
    { default_role: "editor", group_role_map: { Engineering: "admin" }, activation: "sso" });
  assert.equal((await w.one("SELECT COUNT(*) AS n FROM audit_events WHERE org_id = ? AND action = 'scim_settings.updated'", orgId)).n, 1);

  // A reload shows what is stored; back to following SSO (null), which resolves to email here.
  await page.reload();
  await page.getByLabel("Group 1", { exact: true }).waitFor();
  assert.equal(await page.getByLabel("Default role").inputValue(), "editor");
  assert.equal(await page.getByLabel("Group 1", { exact: true }).inputValue(), "Engineering");
  assert.equal(await page.getByLabel("Role for group 1").inputValue(), "admin");
  assert.equal(await page.getByRole("radio", { name: "Through SSO" }).isChecked(), true);
  await page.getByRole("radio", { name: "Follow SSO" }).check();
  await page.getByRole("button", { name: "Save settings" }).click();
  await page.getByText("Saved.").waitFor();
  const followed = (await w.get(`/v1/orgs/${orgId}/scim-settings`, as)).body;
  assert.equal(followed.activation_setting, null);
  assert.equal(followed.activation, "email");
  assert.deepEqual(followed.group_role_map, { Engineering: "admin" });
  assert.equal((await w.one("SELECT activation FROM scim_settings WHERE org_id = ?", orgId)).activation, null);
  await page.getByTestId("activation-resolved").getByText("they get an activation email").waitFor();

  // Revoke, after confirming; the row stays, shown revoked, without its button.
  await listed.getByRole("button", { name: "Revoke Okta" }).click();
  const confirm = page.getByRole("dialog", { name: "Revoke SCIM token" });
  await expectAccessible(page, "revoke SCIM token dialog");
  await confirm.getByRole("button", { name: "Cancel" }).click();
  await confirm.waitFor({ state: "hidden" });
  await focusReaches(page, "text", "Revoke Okta", "cancel gives focus back to the row's button");
  assert.equal((await w.one("SELECT revoked_at FROM scim_tokens WHERE id = ?", rows[0].id)).revoked_at, null);
  await listed.getByRole("button", { name: "Revoke Okta" }).click();
  await confirm.getByRole("button", { name: "Revoke token" }).click();
  await confirm.waitFor({ state: "hidden" });
  await listed.getByText("revoked", { exact: true }).waitFor();
  assert.equal(await listed.getByRole("button", { name: /Revoke/ }).count(), 0);
  await focusReaches(page, "text", "Create SCIM token", "focus is on the list's create button");
  assert.ok((await w.one("SELECT revoked_at FROM scim_tokens WHERE id = ?", rows[0].id)).revoked_at);
  const refused = await scimUsers(secret);
  if (scimServed) {
    assert.equal(refused.status, 401, JSON.stringify(refused.body));
  } else {
    // CONTRACT (SCIM-CONTRACT.md, "revoked: 401 on the next SCIM request"): not checkable in
    // this build, whose /scim/v2 paths all answer 404 before reading the token. Asserted as
    // 401 above as soon as the build serves the SCIM endpoints.
    assert.equal(refused.status, 404, JSON.stringify(refused.body));
    t.diagnostic("no SCIM endpoints in this build: the revoked token's 401 is not checked");
  }
  await expectAccessible(page, "provisioning, token revoked");
  assertNoProblems(page);
  await page.context().close();
});

test("an editor has no Provisioning screen; the API refuses them too", async () => {
  const { editor, orgId } = await w.orgRoster();
  const page = await signedIn(editor);
  await page.goto(`/orgs/${orgId}/settings`);
  await nav(page).getByRole("link", { name: "Members" }).waitFor();
  assert.equal(await nav(page).getByRole("link", { name: "Provisioning" }).count(), 0, "not offered to an editor");
  // The address typed by hand explains instead of showing an action.
  await page.goto(`/orgs/${orgId}/scim`);
  await page.getByText("Only the organization's owners and admins see this page.").waitFor();
  assert.equal(await page.getByRole("button", { name: "Create SCIM token" }).count(), 0);
  assert.equal(await page.getByText("/scim/v2").count(), 0, "nor the base URL");
  await expectAccessible(page, "provisioning, editor");
  const as = { token: editor.access_token };
  assert.equal((await w.get(`/v1/orgs/${orgId}/scim-tokens`, as)).status, 403);
  assert.equal((await w.post(`/v1/orgs/${orgId}/scim-tokens`, { name: "sneaky" }, as)).status, 403);
  assert.equal((await w.get(`/v1/orgs/${orgId}/scim-settings`, as)).status, 403);
  assert.equal((await w.one("SELECT COUNT(*) AS n FROM scim_tokens WHERE org_id = ?", orgId)).n, 0);
  assertNoProblems(page);
  await page.context().close();
});

test("an admin at 375 px: no sideways scroll, dialogs by keyboard; once demoted, the refusal is explained", async () => {
  const { owner, admin, orgId } = await w.orgRoster();
  const made = await w.post(`/v1/orgs/${orgId}/scim-tokens`, { name: "Microsoft Entra ID provisioning for the whole company" }, { token: owner.access_token });
  assert.equal(made.status, 201, JSON.stringify(made.body));
  const page = await signedIn(admin, { width: 375, height: 800 });
  await page.goto(`/orgs/${orgId}/scim`);
  const listed = page.getByRole("row", { name: /whole company/ });
  await listed.getByText(`by ${owner.email}`).waitFor();
  await page.getByRole("button", { name: "Add a group" }).click();
  await page.getByLabel("Group 1", { exact: true }).fill("A rather long SCIM group display name from the directory");
  const noSideScroll = () => page.evaluate(() => document.documentElement.scrollWidth <= document.documentElement.clientWidth);
  assert.ok(await noSideScroll(), "the page does not scroll sideways at 375 px");
  await expectAccessible(page, "provisioning at 375 px");

  // The create dialog by keyboard: Enter opens it with focus inside, Escape gives focus back.
  const create = page.getByRole("button", { name: "Create SCIM token" });
  await create.focus();
  await page.keyboard.press("Enter");
  const dialog = page.getByRole("dialog", { name: "Create a SCIM token" });
  await dialog.getByLabel("Name (optional)").waitFor();
  await focusReaches(page, "inDialog", true);
  assert.ok(await noSideScroll(), "the dialog fits at 375 px");
  await expectAccessible(page, "create SCIM token dialog at 375 px");
  await page.keyboard.press("Escape");
  await dialog.waitFor({ state: "hidden" });
  await focusReaches(page, "text", "Create SCIM token");

  // The owner makes the admin an editor while the page is open: the next action is refused
  // and explained, and creates nothing.
  const demoted = await w.patch(`/v1/orgs/${orgId}/members/${admin.user.id}`, { role: "editor" }, { token: owner.access_token });
  assert.equal(demoted.status, 200, JSON.stringify(demoted.body));
  await create.click();
  await dialog.getByRole("button", { name: "Create token" }).click();
  await dialog.getByRole("alert").getByText("Your role does not allow this.").waitFor();
  assert.equal((await w.one("SELECT COUNT(*) AS n FROM scim_tokens WHERE org_id = ?", orgId)).n, 1);
  await expectAccessible(page, "create SCIM token refused (403) at 375 px");
  await dialog.getByRole("button", { name: "Cancel" }).click();
  await page.getByRole("button", { name: "Save settings" }).click();
  await page.getByRole("form", { name: "Settings" }).getByRole("alert").getByText("Your role does not allow this.").waitFor();
  assert.equal((await w.one(CHANGED_SETTINGS, orgId)).n, 0);
  assertNoProblems(page);
  await page.context().close();
});
