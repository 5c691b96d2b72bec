// The org's governance screens in a real browser: API tokens (a secret shown once, live
// until revoked), the audit log (filters, pages, the NDJSON export as a download), usage
// (the seat numbers of the API), settings (editing by role, transferring ownership,
// deleting an org after typing its name). Each journey checks the screen and then the API
// or D1 behind it.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { freshEmail } from "../helpers.mjs";
import { startConsole, newPage, expectAccessible, assertNoProblems, signInThroughPage } from "./support.mjs";

const OPERATOR = "operator-secret-for-the-governance-tests-0123456789";
let env, w;
before(async () => {
  env = await startConsole({ vars: { OPERATOR_TOKEN: OPERATOR } });
  w = env.w;
});
after(async () => { await env?.dispose(); });

const nav = (page) => page.getByRole("navigation", { name: /navigation$/ });

async function signedIn(user, size) {
  const page = await newPage(env, size);
  await signInThroughPage(page, user.email, user.password ?? "correct horse battery staple");
  return page;
}

test("8. an API token's secret is shown once and never again; it works until revoked, then 401", async () => {
  const owner = await w.activeUser();
  const orgId = owner.organization.id;
  const page = await signedIn(owner);
  await page.context().grantPermissions(["clipboard-read", "clipboard-write"]);
  await nav(page).getByRole("link", { name: "API tokens" }).click();
  await page.getByRole("heading", { name: "No API tokens yet" }).waitFor();
  await expectAccessible(page, "API tokens, empty");

  // The empty state carries the main action.
  await page.getByRole("button", { name: "Create API token" }).click();
  const form = page.getByRole("dialog", { name: "Create an API token" });
  await form.getByLabel("Name").fill("Billing sync");
  await form.getByLabel("Role").selectOption("editor");
  await form.getByLabel("Expires").selectOption("date");
  await form.getByLabel("Expiry date").fill("2020-01-01");
  await expectAccessible(page, "create API token dialog");
  await form.getByRole("button", { name: "Create token" }).click();
  // The API's field error lands beside its field, and nothing was created.
  await form.locator(".field", { has: page.getByLabel("Expiry date") }).getByText("must be in the future").waitFor();
  assert.equal((await w.one("SELECT COUNT(*) AS n FROM api_tokens WHERE org_id = ?", orgId)).n, 0);

  await form.getByLabel("Expires").selectOption("30");
  await form.getByRole("radio", { name: "Only these workspaces" }).check();
  await form.getByRole("checkbox", { name: "Main" }).check();
  await form.getByRole("button", { name: "Create token" }).click();
  const shown = page.getByRole("dialog", { name: "API token “Billing sync” created" });
  const secret = (await shown.getByTestId("secret").textContent()).trim();
  assert.match(secret, /^umt_[A-Za-z0-9_-]{43}$/);
  await expectAccessible(page, "API token created, secret shown");
  await shown.getByRole("button", { name: "Copy" }).click();
  await shown.getByRole("button", { name: /Copied/ }).waitFor();
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), secret);

  const row = await w.one("SELECT id, role, scoped, expires_at, revoked_at FROM api_tokens WHERE org_id = ?", orgId);
  assert.equal(row.role, "editor");
  assert.equal(row.scoped, 1);
  assert.ok(Math.abs(row.expires_at - (Date.now() + 30 * 86400e3)) < 600e3, "expires in 30 days");
  assert.deepEqual(await w.rows("SELECT workspace_id FROM api_token_workspaces WHERE token_id = ?", row.id), [{ workspace_id: owner.workspace.id }]);
  // The secret works against the API, within its reach.
  assert.equal((await w.get(`/v1/orgs/${orgId}/workspaces/${owner.workspace.id}`, { token: secret })).status, 200);

  await shown.getByRole("button", { name: "Done" }).click();
  const listed = page.getByRole("row", { name: /Billing sync/ });
  await listed.getByText("active", { exact: true }).waitFor();
  await listed.getByText("Main", { exact: true }).waitFor();
  assert.ok(!(await page.content()).includes(secret), "the list does not show the secret");
  // Its use is recorded (after the response), and the list shows it on the next load.
  await w.until(async () => (await w.one("SELECT last_used_at FROM api_tokens WHERE id = ?", row.id)).last_used_at, { what: "last use" });
  await page.reload();
  await listed.getByText("Editor").waitFor();
  assert.equal(await listed.getByText("Never").count(), 0, "expiry and last use are both known");
  assert.ok(!(await page.content()).includes(secret), "nor after a reload");
  const api = await w.get(`/v1/orgs/${orgId}/api-tokens`, { token: owner.access_token });
  assert.equal(api.body.data.length, 1);
  assert.equal("token" in api.body.data[0], false, "the API never lists the secret");
  await expectAccessible(page, "API tokens, one active");

  await listed.getByRole("button", { name: "Revoke Billing sync" }).click();
  const confirm = page.getByRole("dialog", { name: "Revoke API token" });
  await expectAccessible(page, "revoke API token dialog");
  await confirm.getByRole("button", { name: "Revoke token" }).click();
  await listed.getByText("revoked", { exact: true }).waitFor();
  assert.equal(await listed.getByRole("button", { name: /Revoke/ }).count(), 0);
  assert.ok((await w.one("SELECT revoked_at FROM api_tokens WHERE id = ?", row.id)).revoked_at);
  assert.equal((await w.get(`/v1/orgs/${orgId}/workspaces/${owner.workspace.id}`, { token: secret })).status, 401);
  assertNoProblems(page);
  await page.context().close();
});

test("9. the audit log shows the journey's events, filters and pages them; the export downloads them as NDJSON", async () => {
  const owner = await w.activeUser();
  const orgId = owner.organization.id;
  const as = { token: owner.access_token };
  // More than a page of one action: the signup's workspace, these 50, and the token's.
  for (let i = 0; i < 50; i++) {
    const r = await w.post(`/v1/orgs/${orgId}/workspaces`, { name: `Site ${i}` }, as);
    assert.equal(r.status, 201, JSON.stringify(r.body));
  }
  const token = await w.post(`/v1/orgs/${orgId}/api-tokens`, { name: "exporter", role: "editor" }, as);
  assert.equal(token.status, 201, JSON.stringify(token.body));
  const byToken = await w.post(`/v1/orgs/${orgId}/workspaces`, { name: "Made by a machine" }, { token: token.body.token });
  assert.equal(byToken.status, 201, JSON.stringify(byToken.body));
  const created = await w.walk(`/v1/orgs/${orgId}/audit-events?action=workspace.created`, owner.access_token, 200);
  assert.equal(created.length, 52);

  const page = await signedIn(owner);
  await nav(page).getByRole("link", { name: "Audit log" }).click();
  await page.getByRole("heading", { name: "Audit log" }).waitFor();
  await page.getByRole("row", { name: /api_token\.created/ }).waitFor();
  await page.getByRole("row", { name: /workspace\.created.*API token “exporter”/ }).waitFor();
  await expectAccessible(page, "audit log");

  // A refused filter is explained beside its field.
  await page.getByLabel("Action").fill("Not an action!");
  await page.getByRole("button", { name: "Apply filters" }).click();
  await page.locator(".field", { has: page.getByLabel("Action") }).getByText("must be an action name").waitFor();

  // By action: one page, then the next.
  await page.getByLabel("Action").fill("workspace.created");
  await page.getByRole("button", { name: "Apply filters" }).click();
  await page.getByRole("button", { name: "Load more" }).waitFor();
  const rows = page.locator("tbody tr");
  assert.equal(await rows.count(), 50);
  assert.equal(await page.getByRole("row", { name: /api_token\.created/ }).count(), 0);
  await page.getByRole("button", { name: "Load more" }).click();
  await page.getByRole("button", { name: "Load more" }).waitFor({ state: "detached" });
  assert.equal(await rows.count(), 52);
  assert.equal(await page.getByRole("row", { name: /workspace\.created/ }).count(), 52);

  // The export downloads the same selection, one event per line.
  const [download] = await Promise.all([
    page.waitForEvent("download"),
    page.getByRole("button", { name: "Export NDJSON" }).click(),
  ]);
  assert.match(download.suggestedFilename(), /^audit-log-\d{4}-\d{2}-\d{2}\.ndjson$/);
  const lines = (await readFile(await download.path(), "utf8")).trimEnd().split("\n").map((l) => JSON.parse(l));
  assert.deepEqual(lines.map((e) => e.id), created.map((e) => e.id));
  assert.ok(lines.every((e) => e.action === "workspace.created" && e.success === true));
  assert.ok(lines.some((e) => e.actor?.type === "api_token" && e.target.id === byToken.body.id));
  // The export renewed its own access token from the cookie without ending the session.
  assert.equal((await w.one("SELECT COUNT(*) AS n FROM sessions WHERE user_id = ? AND ended_at IS NOT NULL", owner.user.id)).n, 0);
  await expectAccessible(page, "audit log, filtered");

  // By actor (the API token's id) and action kind together.
  await page.getByLabel("Actor").fill(token.body.id);
  await page.getByLabel("Action").fill("workspace.*");
  await page.getByRole("button", { name: "Apply filters" }).click();
  await page.waitForFunction(() => document.querySelectorAll("tbody tr").length === 1);
  await page.getByRole("row", { name: /workspace\.created.*API token “exporter”/ }).waitFor();

  // A time window that holds nothing: the empty state offers to clear the filters.
  await page.getByLabel("Actor").fill("");
  await page.getByLabel("Action").fill("");
  await page.getByLabel("From").fill("2099-01-01T00:00");
  await page.getByRole("button", { name: "Apply filters" }).click();
  await page.getByRole("heading", { name: "No event matches these filters" }).waitFor();
  await expectAccessible(page, "audit log, nothing matches");
  await page.getByRole("button", { name: "Clear the filters" }).click();
  await page.getByRole("row", { name: /api_token\.created/ }).waitFor();
  assert.equal(await page.getByLabel("From").inputValue(), "");
  assertNoProblems(page);
  await page.context().close();
});

test("11. the owner transfers ownership, and deletes an org after typing its name", async () => {
  const { owner, admin, member, orgId } = await w.orgRoster();
  const doomed = await w.post("/v1/orgs", { name: "Doomed Works" }, { token: owner.access_token });
  assert.equal(doomed.status, 201, JSON.stringify(doomed.body));

  const page = await signedIn(owner);
  await page.goto(`/orgs/${orgId}/settings`);
  await page.getByRole("heading", { name: "Danger zone" }).waitFor();
  await expectAccessible(page, "settings, owner");
  await page.getByRole("button", { name: "Transfer ownership…" }).click();
  const dialog = page.getByRole("dialog", { name: "Transfer ownership" });
  // A workspace-only member cannot own the org, so is not offered.
  await dialog.getByLabel("Find a member").fill(member.email);
  await dialog.getByText("No eligible member matches.").waitFor();
  await dialog.getByLabel("Find a member").fill(admin.email);
  await dialog.getByRole("radio", { name: new RegExp(admin.email) }).check();
  await expectAccessible(page, "transfer ownership dialog");
  await dialog.getByRole("button", { name: "Transfer ownership" }).click();
  await page.getByText("now owns Analytical Engines. You are an admin.").waitFor();
  await page.getByRole("heading", { name: "Danger zone" }).waitFor({ state: "detached" });
  assert.equal(await page.getByTestId("my-role").textContent(), "Admin");
  assert.equal((await w.one("SELECT owner_id FROM orgs WHERE id = ?", orgId)).owner_id, admin.user.id);
  assert.equal((await w.one("SELECT role FROM org_members WHERE org_id = ? AND user_id = ?", orgId, owner.user.id)).role, "admin");
  assert.equal((await w.one("SELECT role FROM org_members WHERE org_id = ? AND user_id = ?", orgId, admin.user.id)).role, "owner");

  await page.goto(`/orgs/${doomed.body.id}/settings`);
  await page.getByRole("button", { name: "Delete organization…" }).click();
  const confirm = page.getByRole("dialog", { name: "Delete Doomed Works" });
  const go = confirm.getByRole("button", { name: "Delete organization" });
  assert.equal(await go.isDisabled(), true);
  await confirm.getByLabel("Type “Doomed Works” to confirm").fill("Doomed");
  assert.equal(await go.isDisabled(), true, "only the exact name opens the button");
  await expectAccessible(page, "delete organization dialog");
  await confirm.getByLabel("Type “Doomed Works” to confirm").fill("Doomed Works");
  await go.click();
  // The console goes to the org the person still belongs to.
  await page.waitForURL(new RegExp(`/orgs/${orgId}/`));
  await page.getByRole("combobox", { name: "Organization" }).filter({ hasText: "Analytical Engines" }).waitFor();
  assert.equal(await page.getByRole("option", { name: "Doomed Works" }).count(), 0);
  assert.equal(await w.one("SELECT id FROM orgs WHERE id = ?", doomed.body.id), undefined);
  assertNoProblems(page);
  await page.context().close();

  // Deleting the only org leads to the account's organizations page.
  const loner = await w.activeUser();
  const alone = await signedIn(loner);
  await alone.goto(`/orgs/${loner.organization.id}/settings`);
  await alone.getByRole("button", { name: "Delete organization…" }).click();
  await alone.getByLabel("Type “Analytical Engines” to confirm").fill("Analytical Engines");
  await alone.getByRole("button", { name: "Delete organization", exact: true }).click();
  await alone.waitForURL(/\/account\/organizations$/);
  await alone.getByRole("heading", { name: "You belong to no organization" }).waitFor();
  assert.equal(await w.one("SELECT id FROM orgs WHERE id = ?", loner.organization.id), undefined);
  assertNoProblems(alone);
  await alone.context().close();
});

test("an editor edits the settings but has no danger zone; a viewer reads them and sees no governance screens", async () => {
  const { editor, viewer, orgId } = await w.orgRoster();
  const page = await signedIn(editor);
  await page.goto(`/orgs/${orgId}/settings`);
  await page.getByRole("heading", { name: "Details" }).waitFor();
  for (const label of ["API tokens", "Audit log", "Usage"]) {
    assert.equal(await nav(page).getByRole("link", { name: label }).count(), 0, `${label} is not offered to an editor`);
  }
  assert.equal(await page.getByRole("heading", { name: "Danger zone" }).count(), 0);
  await page.getByLabel("Description").fill("Calculating engines since 1837");
  await page.getByLabel("Logo address").fill("http://insecure.example/logo.png");
  await page.getByRole("button", { name: "Save" }).click();
  await page.locator(".field", { has: page.getByLabel("Logo address") }).locator(".field-error").waitFor();
  assert.equal((await w.one("SELECT description FROM orgs WHERE id = ?", orgId)).description, null, "a refused patch changes nothing");
  await expectAccessible(page, "settings, editor, field error");
  await page.getByLabel("Logo address").fill("https://engines.example/logo.png");
  await page.getByRole("button", { name: "Save" }).click();
  await page.getByText("Saved.").waitFor();
  const org = await w.one("SELECT description, logo_url FROM orgs WHERE id = ?", orgId);
  assert.deepEqual({ ...org }, { description: "Calculating engines since 1837", logo_url: "https://engines.example/logo.png" });
  // The logo is an address, never loaded: the CSP admits no other site's images.
  assert.equal(await page.locator("img").count(), 0);
  assertNoProblems(page);
  await page.context().close();

  const seen = await signedIn(viewer);
  await seen.goto(`/orgs/${orgId}/settings`);
  await seen.getByText("Calculating engines since 1837").waitFor();
  await seen.getByText("https://engines.example/logo.png").waitFor();
  assert.equal(await seen.getByRole("textbox").count(), 0, "read-only for a viewer");
  assert.equal(await seen.getByRole("button", { name: "Save" }).count(), 0);
  assert.equal(await seen.getByRole("heading", { name: "Danger zone" }).count(), 0);
  await nav(seen).getByRole("link", { name: "Members" }).waitFor();
  for (const label of ["API tokens", "Audit log", "Usage"]) {
    assert.equal(await nav(seen).getByRole("link", { name: label }).count(), 0, `${label} is not offered to a viewer`);
  }
  await expectAccessible(seen, "settings, viewer");
  // The address typed by hand explains instead of showing an action; the API agrees.
  await seen.goto(`/orgs/${orgId}/api-tokens`);
  await seen.getByText("Only the organization's owners and admins see this page.").waitFor();
  assert.equal(await seen.getByRole("button", { name: "Create API token" }).count(), 0);
  assert.equal((await w.get(`/v1/orgs/${orgId}/api-tokens`, { token: viewer.access_token })).status, 403);
  assertNoProblems(seen);
  await seen.context().close();
});

test("usage shows the seat numbers of the API, and warns when none is left; usable at 375 px", async () => {
  const { admin, orgId } = await w.orgRoster();
  const invited = await w.post(`/v1/orgs/${orgId}/invitations`, { email: freshEmail("seat"), role: "viewer" }, { token: admin.access_token });
  assert.equal(invited.status, 201, JSON.stringify(invited.body));
  const usage = (await w.get(`/v1/orgs/${orgId}/usage`, { token: admin.access_token })).body;
  assert.deepEqual({ members: usage.members, pending_invitations: usage.pending_invitations }, { members: 5, pending_invitations: 1 });

  const page = await signedIn(admin, { width: 375, height: 800 });
  await page.goto(`/orgs/${orgId}/usage`);
  await page.getByRole("heading", { name: "Seats" }).waitFor();
  const shown = async (id) => Number(await page.getByTestId(id).textContent());
  assert.equal(await shown("members"), usage.members);
  assert.equal(await shown("pending-invitations"), usage.pending_invitations);
  assert.equal(await shown("remaining"), usage.remaining);
  assert.equal(await shown("seats-used"), usage.members + usage.pending_invitations);
  assert.equal(await shown("seat-limit"), usage.member_limit);
  assert.equal(await page.getByText("Every seat is taken").count(), 0);
  await expectAccessible(page, "usage at 375 px");
  const noSideScroll = () => page.evaluate(() => document.documentElement.scrollWidth <= document.documentElement.clientWidth);
  assert.ok(await noSideScroll(), "the page does not scroll sideways at 375 px");

  // The operator lowers the limit to what is held: nothing is left, and the screen says so.
  const limited = await w.request("PUT", `/v1/admin/orgs/${orgId}/limits`, { body: { member_limit: 6 }, token: OPERATOR });
  assert.equal(limited.status, 200, JSON.stringify(limited.body));
  await page.reload();
  await page.getByText("Every seat is taken").waitFor();
  assert.equal(await shown("remaining"), 0);
  assert.equal(await shown("seat-limit"), 6);

  // The API tokens screen at 375 px: its table scrolls in its box, the main action is reachable.
  await w.post(`/v1/orgs/${orgId}/api-tokens`, { name: "a token with a rather long name for a narrow screen" }, { token: admin.access_token });
  await nav(page).getByRole("link", { name: "API tokens" }).click();
  await page.getByRole("row", { name: /rather long name/ }).waitFor();
  assert.ok(await noSideScroll(), "the API tokens page does not scroll sideways at 375 px");
  const create = page.getByRole("button", { name: "Create API token" });
  await create.focus();
  await page.keyboard.press("Enter");
  const dialog = page.getByRole("dialog", { name: "Create an API token" });
  await dialog.getByLabel("Name").waitFor();
  // Focus moved into the dialog; Escape closes it and gives focus back.
  assert.equal(await page.evaluate(() => Boolean(document.activeElement?.closest("dialog"))), true);
  assert.ok(await noSideScroll(), "the dialog fits at 375 px");
  await expectAccessible(page, "create API token dialog at 375 px");
  await page.keyboard.press("Escape");
  await dialog.waitFor({ state: "hidden" });
  assert.equal(await page.evaluate(() => document.activeElement?.textContent.trim()), "Create API token");
  assertNoProblems(page);
  await page.context().close();
});
