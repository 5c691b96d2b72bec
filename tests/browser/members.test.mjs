// The member screens in a real browser: creating a user (single-use password, copied from the
// shown-once secret, then that person's first sign-in; an editor's activation email), the
// managed-account actions (resend activation, unlock, edit, reset, delete for good), a
// viewer's read-only directory with the API refusing a forged request, and the directory at
// 10,000 members. Each journey checks the screen and then the API or D1 behind it.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { freshEmail, PASSWORD } from "../helpers.mjs";
import { startConsole, newPage, expectAccessible, assertNoProblems, mailLink, signInThroughPage } from "./support.mjs";

let env, w;
before(async () => {
  env = await startConsole();
  w = env.w;
});
after(async () => { await env?.dispose(); });

const created = (r, status = 201) => { assert.equal(r.status, status, JSON.stringify(r.body)); return r.body; };

/** A managed account of `owner`'s org, made through the API. */
async function managed(owner, extra) {
  return created(await w.post(`/v1/orgs/${owner.organization.id}/members`, {
    email: freshEmail("managed"), role: "viewer", credential: "activation_email", ...extra,
  }, { token: owner.access_token }));
}

/** An active managed account locked by five wrong passwords. */
async function lockedAccount(owner, first_name, last_name) {
  const m = await managed(owner, { first_name, last_name, credential: "single_use_password", password: "first temporary pass" });
  const change = (await w.login(m.user.email, "first temporary pass")).body.change_token;
  created(await w.post("/v1/me/password", { current_password: "first temporary pass", new_password: "settled passphrase 1" }, { token: change }), 204);
  for (let i = 0; i < 5; i++) await w.login(m.user.email, `wrong guess ${i}`);
  assert.equal((await w.one("SELECT status FROM users WHERE id = ?", m.user.id)).status, "locked");
  return m;
}

const userRow = (id) => w.one("SELECT status, must_change_password, failed_logins, first_name, last_name, phone, created_by_org_id FROM users WHERE id = ?", id);

test("5. an admin creates a user with a single-use password → that user signs in → is made to set their own password", async () => {
  const owner = await w.activeUser();
  const org = owner.organization.id;
  const T = { token: owner.access_token };
  const group = created(await w.post(`/v1/orgs/${org}/groups`, { name: "Dashboards" }, T));
  const field = created(await w.post(`/v1/orgs/${org}/workspaces`, { name: "Field" }, T));

  const page = await newPage(env);
  await page.context().grantPermissions(["clipboard-read", "clipboard-write"], { origin: env.origin });
  await signInThroughPage(page, owner.email, PASSWORD);
  await page.getByRole("heading", { name: "Members" }).waitFor();
  await page.getByRole("link", { name: "Create user" }).click();
  await page.getByRole("heading", { name: "Create user" }).waitFor();
  await page.getByRole("checkbox", { name: /Dashboards/ }).waitFor();
  await expectAccessible(page, "create user");
  // An owner may give up to admin; the single-use password is offered.
  assert.deepEqual(await page.getByLabel("Access level").locator("option").allTextContents(), ["Member", "Viewer", "Editor", "Admin"]);

  // The API's field errors land beside their fields.
  await page.getByLabel("Email", { exact: true }).fill("not an email");
  await page.getByRole("button", { name: "Create user" }).click();
  await page.getByText("Please correct the highlighted fields.").waitFor();
  assert.equal(await page.getByLabel("Email", { exact: true }).getAttribute("aria-invalid"), "true");
  assert.equal(await page.getByLabel("First name").getAttribute("aria-invalid"), "true");
  await expectAccessible(page, "create user with field errors");
  assert.equal((await w.one("SELECT COUNT(*) AS n FROM org_members WHERE org_id = ?", org)).n, 1);

  const email = freshEmail("created");
  await page.getByLabel("First name").fill("Grace");
  await page.getByLabel("Last name").fill("Hopper");
  await page.getByLabel("Email", { exact: true }).fill(email);
  await page.getByLabel("Access level").selectOption("editor");
  await page.getByLabel("Country code").fill("+44");
  await page.getByLabel("Number").fill("07700 900123");
  await page.getByLabel("Field", { exact: true }).selectOption("admin");
  await page.getByRole("checkbox", { name: /Dashboards/ }).check();
  await page.getByRole("radio", { name: /Set a single-use password/ }).check();
  await page.getByRole("textbox", { name: /Single-use password/ }).waitFor();
  await page.getByRole("button", { name: "Create user" }).click();

  await page.getByRole("heading", { name: "Account created for Grace Hopper" }).waitFor();
  await expectAccessible(page, "create user: the shown-once password");
  const shown = await page.getByTestId("secret").textContent();
  await page.getByRole("button", { name: "Copy" }).click();
  await page.getByRole("button", { name: /Copied/ }).waitFor();
  const password = await page.evaluate(() => navigator.clipboard.readText());
  assert.equal(password, shown);
  assert.match(password, /^[A-Za-z2-9]{16}$/, "generated, since none was typed");

  // What the API holds: an active managed account that must change its password, the org
  // role, the workspace role and the group.
  const user = await w.one("SELECT id FROM users WHERE email = ?", email);
  assert.deepEqual({ ...(await userRow(user.id)) }, {
    status: "active", must_change_password: 1, failed_logins: 0, first_name: "Grace", last_name: "Hopper",
    phone: "+447700900123", created_by_org_id: org,
  });
  const member = created(await w.get(`/v1/orgs/${org}/members/${user.id}`, T), 200);
  assert.equal(member.role, "editor");
  assert.equal(member.managed, true);
  assert.deepEqual(member.workspaces, [{ id: field.id, name: "Field", role: "admin" }]);
  assert.deepEqual(member.groups, [{ id: group.id, name: "Dashboards" }]);

  // Their page shows it all, and the password is not shown again.
  await page.getByRole("link", { name: "Open their page" }).click();
  await page.getByRole("heading", { name: "Grace Hopper" }).waitFor();
  await page.getByText("Field: Admin").waitFor();
  await page.getByText("Dashboards").waitFor();
  assert.equal(await page.getByTestId("secret").count(), 0);
  assertNoProblems(page);

  // The new person, in a browser of their own.
  const theirs = await newPage(env);
  await theirs.goto("/signin");
  await theirs.getByLabel("Email", { exact: true }).fill(email);
  await theirs.getByLabel("Password", { exact: true }).fill(password);
  await theirs.getByRole("button", { name: "Sign in" }).click();
  await theirs.getByRole("heading", { name: "Set your own password" }).waitFor();
  await theirs.getByLabel("New password", { exact: true }).fill("graces own passphrase");
  await theirs.getByLabel("Repeat the new password").fill("graces own passphrase");
  await theirs.getByRole("button", { name: "Set password and continue" }).click();
  await theirs.waitForURL(/\/orgs\//);
  await theirs.getByRole("heading", { name: "Members" }).waitFor();
  assert.equal((await userRow(user.id)).must_change_password, 0);
  assert.equal((await w.login(email, password)).status, 401, "the single-use password is spent");
  assert.equal((await w.login(email, "graces own passphrase")).status, 200);
  assertNoProblems(theirs);
  await theirs.context().close();
  await page.context().close();
});

test("an editor creates up to editor, with an activation email only, and no groups", async () => {
  const roster = await w.orgRoster();
  const page = await newPage(env);
  await signInThroughPage(page, roster.editor.email, PASSWORD);
  await page.goto(`/orgs/${roster.orgId}/members/new`);
  await page.getByRole("heading", { name: "Create user" }).waitFor();
  await page.getByLabel("Main", { exact: true }).waitFor();
  assert.deepEqual(await page.getByLabel("Access level").locator("option").allTextContents(), ["Member", "Viewer", "Editor"]);
  assert.deepEqual(await page.getByLabel("Main", { exact: true }).locator("option").allTextContents(), ["No role of their own", "Viewer", "Editor"]);
  assert.equal(await page.getByRole("radio", { name: /single-use/ }).count(), 0);
  assert.equal(await page.getByRole("group", { name: /Groups/ }).count(), 0);

  const email = freshEmail("by-editor");
  await page.getByLabel("First name").fill("Katherine");
  await page.getByLabel("Last name").fill("Johnson");
  await page.getByLabel("Email", { exact: true }).fill(email);
  // A workspace-only member needs a workspace: the API says so beside the workspaces.
  await page.getByLabel("Access level").selectOption("member");
  await page.getByRole("button", { name: "Create user" }).click();
  await page.getByText("a member needs at least one workspace").waitFor();
  await page.getByLabel("Main", { exact: true }).selectOption("editor");
  await page.getByRole("button", { name: "Create user" }).click();
  await page.getByRole("heading", { name: "Account created for Katherine Johnson" }).waitFor();
  await page.getByText(`We emailed an activation link to ${email}`).waitFor();
  assert.equal(await page.getByTestId("secret").count(), 0);

  const row = await w.one("SELECT u.status, m.role FROM users u JOIN org_members m ON m.user_id = u.id AND m.org_id = ? WHERE u.email = ?", roster.orgId, email);
  assert.deepEqual({ ...row }, { status: "pending", role: "member" });
  assert.ok((await w.mail(email, /Activate/)).text.includes(`${env.origin}/activate?token=`));
  assertNoProblems(page);
  await page.context().close();
});

test("managed accounts: resend activation, unlock a locked one (keyboard), edit details, reset by email, delete for good (type-to-confirm)", async () => {
  const owner = await w.activeUser();
  const org = owner.organization.id;
  const pending = await managed(owner, { first_name: "Penny", last_name: "Pending" });
  const locked = await lockedAccount(owner, "Lockie", "Locked");
  const doomed = await managed(owner, { first_name: "Dee", last_name: "Doomed", country_code: "+1", mobile_number: "2025550123" });
  const firstLink = await w.mailToken(pending.user.email, /Activate/);

  const page = await newPage(env);
  await signInThroughPage(page, owner.email, PASSWORD);
  const row = (name) => page.getByRole("row", { name: new RegExp(name) });
  await row("Penny Pending").getByText("pending", { exact: true }).waitFor();

  // Pending: the fix beside the badge.
  await row("Penny Pending").getByRole("button", { name: "Resend activation to Penny Pending" }).click();
  await page.getByText(`A new activation link went to ${pending.user.email}`).waitFor();
  const second = await w.until(async () => { const t = await w.mailToken(pending.user.email, /Activate/); return t !== firstLink && t; }, { what: "a second activation mail" });
  assert.ok(second);
  const tokens = await w.rows("SELECT used_by FROM user_tokens WHERE user_id = ? AND purpose = 'activation' ORDER BY created_at", pending.user.id);
  assert.deepEqual(tokens.map((t) => t.used_by), ["superseded", null]);

  // Locked: "Unlock…", by keyboard alone; Escape closes and focus comes back.
  const unlock = row("Lockie Locked").getByRole("button", { name: /Unlock the account of Lockie Locked/ });
  await unlock.focus();
  await page.keyboard.press("Enter");
  const dialog = page.getByRole("dialog", { name: "Unlock the account of Lockie Locked" });
  await dialog.waitFor();
  assert.ok(await dialog.evaluate((d) => d.contains(document.activeElement)), "focus moved into the dialog");
  await expectAccessible(page, "unlock dialog");
  await page.keyboard.press("Escape");
  await dialog.waitFor({ state: "detached" });
  await w.until(() => unlock.evaluate((b) => document.activeElement === b), { what: "focus back on Unlock" });
  await page.keyboard.press("Enter");
  await dialog.waitFor();
  await dialog.getByRole("radio", { name: /single-use password/ }).check();
  await dialog.getByRole("button", { name: "Create password" }).click();
  const secret = await dialog.getByTestId("secret").textContent();
  await expectAccessible(page, "unlock dialog: the shown-once password");
  assert.deepEqual({ ...(await userRow(locked.user.id)) }, {
    status: "active", must_change_password: 1, failed_logins: 0, first_name: "Lockie", last_name: "Locked", phone: null, created_by_org_id: org,
  });
  assert.equal((await w.login(locked.user.email, secret)).body.code, "password_change_required");
  await dialog.getByRole("button", { name: "Done" }).click();
  await row("Lockie Locked").getByText("active", { exact: true }).waitFor();
  assert.equal(await row("Lockie Locked").getByRole("button", { name: /Unlock/ }).count(), 0);

  // A person's page: edit details, reset by email, then delete.
  await row("Dee Doomed").getByRole("link", { name: doomed.user.email }).click();
  await page.getByRole("heading", { name: "Dee Doomed" }).waitFor();
  await page.getByText("+12025550123").waitFor();
  await expectAccessible(page, "member page");
  await page.getByRole("button", { name: "Edit details…" }).click();
  const edit = page.getByRole("dialog", { name: "Edit the details of Dee Doomed" });
  await expectAccessible(page, "edit details dialog");
  await edit.getByLabel("Last name").fill("Renamed");
  await edit.getByLabel("Country code").fill("+44");
  await edit.getByLabel("Number").fill("12");
  await edit.getByRole("button", { name: "Save details" }).click();
  await edit.getByText("must be in E.164 format").waitFor();
  await edit.getByLabel("Number").fill("7700 900456");
  await edit.getByRole("button", { name: "Save details" }).click();
  await page.getByRole("heading", { name: "Dee Renamed" }).waitFor();
  await page.getByText("+447700900456").waitFor();
  const after = await userRow(doomed.user.id);
  assert.equal(after.last_name, "Renamed");
  assert.equal(after.phone, "+447700900456");

  await page.getByRole("button", { name: "Reset password…" }).click();
  const reset = page.getByRole("dialog", { name: "Reset the password of Dee Renamed" });
  await reset.getByRole("button", { name: "Send reset link" }).click();
  await reset.getByText(`We emailed a reset link to ${doomed.user.email}`).waitFor();
  await mailLink(w, doomed.user.email, /Reset/);
  await reset.getByRole("button", { name: "Done" }).click();

  await page.getByRole("button", { name: "Delete account permanently…" }).click();
  const confirm = page.getByRole("dialog", { name: "Delete the account permanently" });
  await confirm.waitFor();
  await expectAccessible(page, "delete account dialog");
  const go = confirm.getByRole("button", { name: "Delete permanently" });
  assert.equal(await go.isDisabled(), true);
  await confirm.getByLabel(/Type/).fill("dee@wrong.example");
  assert.equal(await go.isDisabled(), true);
  assert.ok((await w.one("SELECT id FROM users WHERE id = ?", doomed.user.id)), "nothing deleted yet");
  await confirm.getByLabel(/Type/).fill(doomed.user.email);
  await go.click();
  await page.waitForURL(new RegExp(`/orgs/${org}/members$`));
  await page.getByText("The account of Dee Renamed was deleted.").waitFor();
  assert.equal(await w.one("SELECT id FROM users WHERE id = ?", doomed.user.id), undefined);
  assert.equal((await w.rows("SELECT 1 FROM org_members WHERE user_id = ?", doomed.user.id)).length, 0);
  assert.equal((await w.rows("SELECT 1 FROM audit_events WHERE org_id = ? AND action = 'user.deleted' AND target_id = ?", org, doomed.user.id)).length, 1);
  assert.equal(await row("Dee Renamed").count(), 0);
  assertNoProblems(page);
  await page.context().close();
});

test("7. a viewer sees members read-only (no change or remove controls), and a forged request still gets 403", async () => {
  const roster = await w.orgRoster();
  const { orgId, viewer, admin } = roster;
  const pending = await managed(roster.owner, { first_name: "Penny", last_name: "Pending" });
  const locked = await lockedAccount(roster.owner, "Lockie", "Locked");

  const page = await newPage(env);
  await signInThroughPage(page, viewer.email, PASSWORD);
  // Their first organization is their own (from sign-up): open this one.
  await page.goto(`/orgs/${orgId}/members`);
  await page.getByRole("heading", { name: "Members" }).waitFor();
  await page.getByRole("row", { name: /Penny Pending/ }).getByText("pending", { exact: true }).waitFor();
  await expectAccessible(page, "members, read-only");
  assert.equal(await page.locator("tbody tr").count(), 7);
  for (const name of [/Change role/, /Remove/, /Resend activation/, /Unlock/]) {
    assert.equal(await page.getByRole("button", { name }).count(), 0, `no ${name} button`);
  }
  assert.equal(await page.getByRole("link", { name: "Create user" }).count(), 0);
  assert.equal(await page.getByRole("columnheader", { name: "Actions" }).count(), 0);

  // A person's page: the facts, each status explained, and no control.
  await page.getByRole("link", { name: locked.user.email }).click();
  await page.getByRole("heading", { name: "Lockie Locked" }).waitFor();
  await page.getByText("an admin can unlock it").waitFor();
  await expectAccessible(page, "member page, read-only");
  assert.equal(await page.locator("main button").count(), 0, "no button on the page");
  // The create form, opened by its address, is refused.
  await page.goto(`/orgs/${orgId}/members/new`);
  await page.getByText("Your role does not allow creating users.").waitFor();
  assert.equal(await page.getByRole("button", { name: "Create user" }).count(), 0);
  assertNoProblems(page);
  await page.context().close();

  // The API refuses the same actions with the viewer's own credentials.
  const token = created(await w.login(viewer.email), 200).access_token;
  const O = `/v1/orgs/${orgId}`;
  const forged = [
    ["PATCH role", () => w.patch(`${O}/members/${admin.user.id}`, { role: "viewer" }, { token })],
    ["PATCH details", () => w.patch(`${O}/members/${pending.user.id}`, { first_name: "Forged" }, { token })],
    ["DELETE member", () => w.del(`${O}/members/${admin.user.id}`, { token })],
    ["resend activation", () => w.post(`${O}/members/${pending.user.id}/resend-activation`, undefined, { token })],
    ["reset password", () => w.post(`${O}/members/${locked.user.id}/reset-password`, { mode: "single_use_password" }, { token })],
    ["delete account", () => w.del(`${O}/users/${pending.user.id}`, { token })],
    ["create user", () => w.post(`${O}/members`, { email: freshEmail("forged"), first_name: "F", last_name: "G", role: "viewer", credential: "activation_email" }, { token })],
  ];
  for (const [what, call] of forged) {
    const r = await call();
    assert.equal(r.status, 403, `${what}: ${JSON.stringify(r.body)}`);
    assert.equal(r.body.code, "forbidden", what);
  }
  assert.equal((await w.one("SELECT role FROM org_members WHERE org_id = ? AND user_id = ?", orgId, admin.user.id)).role, "admin");
  assert.deepEqual({ ...(await w.one("SELECT first_name, status FROM users WHERE id = ?", pending.user.id)) }, { first_name: "Penny", status: "pending" });
  assert.equal((await w.one("SELECT status FROM users WHERE id = ?", locked.user.id)).status, "locked");
  assert.equal((await w.one("SELECT COUNT(*) AS n FROM org_members WHERE org_id = ?", orgId)).n, 7);
});

test("10. the members page at 10,000 members: search and paging stay fast", async (t) => {
  const owner = await w.activeUser();
  const org = owner.organization.id;
  const N = 10000;
  // Seeded straight into D1 (as bench/fixtures.mjs): the API would take minutes. Every
  // 150th member is a "Needle" (66 of them), spread over the whole directory.
  const tag = org.slice(-8);
  await w.db.prepare(
    `WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < ?1)
     INSERT INTO users (id, email, first_name, last_name, status, created_at, updated_at)
     SELECT printf('%s-0000-7000-8000-%012d', ?2, i), printf('m%d-%s@bench.example', i, ?2),
            CASE WHEN i % 150 = 0 THEN 'Nadia' ELSE 'Member' END,
            CASE WHEN i % 150 = 0 THEN printf('Needle %d', i) ELSE printf('N%d', i) END, 'active', 0, 0 FROM seq`)
    .bind(N, tag).run();
  await w.db.prepare(`INSERT INTO org_members (org_id, user_id, role, joined_at)
     SELECT ?1, id, 'viewer', 0 FROM users WHERE email LIKE ?2`).bind(org, `%-${tag}@bench.example`).run();
  assert.equal((await w.one("SELECT COUNT(*) AS n FROM org_members WHERE org_id = ?", org)).n, N + 1);

  const page = await newPage(env);
  // Every directory request the page makes, with the rows D1 read for it (server-timing).
  const reads = [];
  page.on("response", async (res) => {
    const url = new URL(res.url());
    if (res.request().method() !== "GET" || url.pathname !== `/v1/orgs/${org}/members`) return;
    const timing = (await res.allHeaders())["server-timing"] ?? "";
    const m = timing.match(/d1-rows;desc="(\d+) read/);
    reads.push({ q: url.searchParams.get("q"), cursor: url.searchParams.get("cursor"), status: res.status(), rows: m ? Number(m[1]) : null });
  });
  await signInThroughPage(page, owner.email, PASSWORD);
  await page.getByRole("heading", { name: "Members" }).waitFor();
  const rows = page.locator("tbody tr");
  await w.until(async () => (await rows.count()) === 50, { what: "the first page" });
  await page.getByRole("button", { name: "Load more" }).click();
  await w.until(async () => (await rows.count()) === 100, { what: "the second page" });

  await page.getByLabel("Search by name or email").fill("needle");
  await w.until(async () => (await rows.count()) === 50 && (await rows.filter({ hasNotText: "Needle" }).count()) === 0, { what: "the search's first page" });
  await page.getByRole("button", { name: "Load more" }).click();
  await w.until(async () => (await rows.count()) === 66, { what: "the search's second page" });
  assert.equal(await rows.filter({ hasNotText: "Needle" }).count(), 0);
  assert.equal(await page.getByRole("button", { name: "Load more" }).count(), 0, "the search ended");
  const names = await page.locator("tbody th .name").allTextContents();
  assert.equal(new Set(names).size, 66, "no member twice");
  assert.deepEqual(names.map((n) => Number(n.split(" ").pop())).sort((a, b) => a - b),
    Array.from({ length: 66 }, (_, i) => (i + 1) * 150));
  await expectAccessible(page, "members, 10,000, searched");
  assertNoProblems(page);
  await page.context().close();

  // The requests: one per page asked for, the search sent once (not per key).
  assert.ok(reads.every((r) => r.status === 200 && r.rows !== null), JSON.stringify(reads));
  const browse = reads.filter((r) => !r.q);
  const search = reads.filter((r) => r.q === "needle");
  assert.deepEqual(browse.map((r) => Boolean(r.cursor)), [false, true], JSON.stringify(reads));
  assert.deepEqual(search.map((r) => Boolean(r.cursor)), [false, true], JSON.stringify(reads));
  assert.equal(reads.length, 4, JSON.stringify(reads));
  // Browsing reads a keyset page: the access check and 50 rendered members (about 4 rows
  // each: membership, account, workspace roles, groups), nothing in proportion to the 10,000.
  for (const r of browse) assert.ok(r.rows <= 8 + 50 * 5, `a page read ${r.rows} rows`);
  // A search scans the org's members (README, "Scaling": the one exception), 2 rows each
  // (membership, account), and renders its matches. Its next page continues from the
  // cursor, so the whole search reads the directory once, not once per page; the first page
  // stops at its 50th match.
  const scanned = search.reduce((n, r) => n + r.rows, 0);
  assert.ok(scanned <= 2 * (N + 1) + search.length * (8 + 50 * 8), `the search's pages read ${scanned} rows`);
  assert.ok(search[0].rows < 2 * N, `the first search page read ${search[0].rows} rows`);
  // For the report: what each request read.
  t.diagnostic(`directory requests at ${N} members: ${reads.map((r) => `${r.q ? `q=${r.q}` : "page"}${r.cursor ? " (next)" : ""}: ${r.rows} rows`).join(", ")}`);
});

test("at 375 px wide: the directory and the create form fit, their main action reachable", async () => {
  const owner = await w.activeUser();
  await managed(owner, { first_name: "Penny", last_name: "Pending" });
  const page = await newPage(env, { width: 375, height: 800 });
  await signInThroughPage(page, owner.email, PASSWORD);
  await page.getByRole("row", { name: /Penny Pending/ }).waitFor();
  const overflow = () => page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  assert.equal(await overflow(), 0, "the members page does not scroll sideways");
  await expectAccessible(page, "members at 375 px");
  const create = page.getByRole("link", { name: "Create user" });
  const box = await create.boundingBox();
  assert.ok(box && box.x >= 0 && box.x + box.width <= 375, JSON.stringify(box));
  await create.click();
  await page.getByRole("heading", { name: "Create user" }).waitFor();
  await page.getByLabel("Main", { exact: true }).waitFor();
  assert.equal(await overflow(), 0, "the create form does not scroll sideways");
  const submit = page.getByRole("button", { name: "Create user" });
  await submit.scrollIntoViewIfNeeded();
  const at = await submit.boundingBox();
  assert.ok(at && at.x >= 0 && at.x + at.width <= 375 && at.y >= 0 && at.y + at.height <= 800, JSON.stringify(at));
  await expectAccessible(page, "create user at 375 px");
  assertNoProblems(page);
  await page.context().close();
});
