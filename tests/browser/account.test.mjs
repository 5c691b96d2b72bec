// The account pages in a real browser: sign-up and activation, the emailed links (which a
// mail scanner must not use up), lockout and reset, a single-use password's forced change,
// accepting an invitation as a new person. Each journey checks the screen and then the API
// or D1 behind it.
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

const cookieNamed = async (page, name) => (await page.context().cookies()).find((c) => c.name === name);

test("1. sign up → the activation link from the mailbox → signed in: the org and its workspace are there", async () => {
  const page = await newPage(env);
  const email = freshEmail("signup");
  await page.goto("/signup");
  await expectAccessible(page, "sign-up");
  await page.getByLabel("First name").fill("Ada");
  await page.getByLabel("Last name").fill("Lovelace");
  await page.getByLabel("Work email").fill(email);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByLabel("Organization name").fill("Analytical Engines");
  await page.getByLabel("First workspace").fill("Mill");
  await page.getByRole("button", { name: "Create account" }).click();
  await page.getByText("We sent an activation link").waitFor();
  assert.equal((await w.one("SELECT status FROM users WHERE email = ?", email)).status, "pending");

  const link = await mailLink(w, email, /Activate/);
  assert.ok(link.startsWith(`${env.origin}/activate?token=`), link);
  await page.goto(link);
  await page.getByRole("heading", { name: "Activate your account" }).waitFor();
  // Opening the page used nothing up, and the token left the address bar.
  assert.equal(new URL(page.url()).search, "");
  assert.equal((await w.one("SELECT status FROM users WHERE email = ?", email)).status, "pending");
  await expectAccessible(page, "activate");
  await page.getByRole("button", { name: "Activate my account" }).click();

  await page.waitForURL(/\/orgs\/[^/]+\/members$/);
  await page.getByRole("heading", { name: "Members" }).waitFor();
  await page.getByRole("combobox", { name: "Organization" }).filter({ hasText: "Analytical Engines" }).waitFor();
  await page.getByRole("row", { name: /Ada Lovelace/ }).getByText("Owner").waitFor();
  assert.equal((await w.one("SELECT status FROM users WHERE email = ?", email)).status, "active");
  // The account's organizations: the new org, its owner, its first workspace.
  await page.getByRole("link", { name: "Ada Lovelace" }).click();
  await page.getByRole("link", { name: "Organizations" }).click();
  const orgRow = page.getByRole("row", { name: /Analytical Engines/ });
  await orgRow.getByText("owner").waitFor();
  await orgRow.getByText("Mill (admin)").waitFor();
  await expectAccessible(page, "my organizations");
  await orgRow.getByRole("link", { name: "Analytical Engines" }).click();

  // The session is a cookie scripts cannot read; the page holds no refresh token.
  const cookie = await cookieNamed(page, "__Host-session");
  assert.ok(cookie, "the session cookie is set");
  assert.equal(cookie.httpOnly, true);
  assert.equal(cookie.sameSite, "Strict");
  assert.equal(await page.evaluate(() => document.cookie), "");

  // A reload stays signed in (the cookie renews the access token).
  await page.reload();
  await page.getByRole("heading", { name: "Members" }).waitFor();
  await expectAccessible(page, "members");
  assertNoProblems(page);

  // Sign out ends the session in D1 and clears the cookie.
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.waitForURL(/\/signin$/);
  assert.equal(await cookieNamed(page, "__Host-session"), undefined);
  const user = await w.one("SELECT id FROM users WHERE email = ?", email);
  assert.equal((await w.one("SELECT COUNT(*) AS n FROM sessions WHERE user_id = ? AND ended_at IS NULL", user.id)).n, 0);

  await signInThroughPage(page, email, PASSWORD);
  await page.getByRole("heading", { name: "Members" }).waitFor();
  await page.context().close();
});

test("4. a mail scanner (a plain GET of the link, the page loaded without a click) leaves every token usable", async () => {
  // Activation.
  const email = freshEmail("scanned");
  await w.signup({ email });
  const activation = await mailLink(w, email, /Activate/);
  const fetched = await fetch(activation);
  assert.equal(fetched.status, 200);
  assert.match(await fetched.text(), /<div id="app">/);
  const scanner = await newPage(env);
  await scanner.goto(activation);
  await scanner.getByRole("button", { name: "Activate my account" }).waitFor();
  await scanner.context().close();
  assert.equal((await w.one("SELECT status FROM users WHERE email = ?", email)).status, "pending");
  assert.equal((await w.one("SELECT COUNT(*) AS n FROM user_tokens t JOIN users u ON u.id = t.user_id WHERE u.email = ? AND t.used_at IS NULL", email)).n, 1);

  // The person's click still works after the scanner.
  const page = await newPage(env);
  await page.goto(activation);
  await page.getByRole("button", { name: "Activate my account" }).click();
  await page.waitForURL(/\/orgs\//);
  assert.equal((await w.one("SELECT status FROM users WHERE email = ?", email)).status, "active");

  // A password reset link, scanned the same way, still resets.
  await w.post("/v1/auth/password/forgot", { email });
  const reset = await mailLink(w, email, /Reset/);
  await fetch(reset);
  const again = await newPage(env);
  await again.goto(reset);
  await again.getByRole("button", { name: "Set new password" }).waitFor();
  await again.context().close();
  assert.equal((await w.one("SELECT COUNT(*) AS n FROM user_tokens t JOIN users u ON u.id = t.user_id WHERE u.email = ? AND t.purpose = 'password_reset' AND t.used_at IS NULL", email)).n, 1);
  await page.context().close();
});

test("6. five wrong passwords → the locked message → reset through the emailed link → signed in", async () => {
  const u = await w.activeUser();
  const page = await newPage(env);
  await page.goto("/signin");
  for (let i = 0; i < 5; i++) {
    await page.getByLabel("Email").fill(u.email);
    await page.getByLabel("Password", { exact: true }).fill(`wrong password ${i}`);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("alert").filter({ hasText: /wrong|locked/ }).waitFor();
  }
  await page.getByLabel("Password", { exact: true }).fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("alert").filter({ hasText: "This account is locked" }).waitFor();
  assert.equal((await w.one("SELECT status FROM users WHERE id = ?", u.user.id)).status, "locked");
  await expectAccessible(page, "sign-in, locked");

  await page.getByRole("link", { name: "Reset your password" }).click();
  await page.getByRole("heading", { name: "Reset your password" }).waitFor();
  assert.equal(await page.getByLabel("Email").inputValue(), u.email);
  await page.getByRole("button", { name: "Send reset link" }).click();
  await page.getByText("we sent it a link").waitFor();

  const link = await mailLink(w, u.email, /Reset/);
  await page.goto(link);
  await expectAccessible(page, "reset password");
  await page.getByLabel("New password").fill("a brand new passphrase 9");
  await page.getByRole("button", { name: "Set new password" }).click();
  await page.getByText("Your password is changed").waitFor();
  assert.equal((await w.one("SELECT status FROM users WHERE id = ?", u.user.id)).status, "active");

  // The link is spent: opening it again explains that.
  await page.goto(link);
  await page.getByLabel("New password").fill("another passphrase 10");
  await page.getByRole("button", { name: "Set new password" }).click();
  await page.getByText("not valid any more").waitFor();

  await signInThroughPage(page, u.email, "a brand new passphrase 9");
  await page.getByRole("heading", { name: "Members" }).waitFor();
  assertNoProblems(page);
  await page.context().close();
});

test("5. an admin's single-use password → that person signs in → must set their own password first", async () => {
  const admin = await w.activeUser();
  const email = freshEmail("single-use");
  const created = await w.post(`/v1/orgs/${admin.organization.id}/members`, {
    email, first_name: "Grace", last_name: "Hopper", role: "viewer",
    credential: "single_use_password", password: "temporary passphrase 7",
  }, { token: admin.access_token });
  assert.equal(created.status, 201, JSON.stringify(created.body));

  const page = await newPage(env);
  await page.goto("/signin");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password", { exact: true }).fill("temporary passphrase 7");
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { name: "Set your own password" }).waitFor();
  await expectAccessible(page, "forced password change");
  // Nothing else opens meanwhile: there is no session yet.
  assert.equal((await w.one("SELECT COUNT(*) AS n FROM sessions s JOIN users u ON u.id = s.user_id WHERE u.email = ?", email)).n, 0);

  await page.getByLabel("New password", { exact: true }).fill("mine and only mine 1");
  await page.getByLabel("Repeat the new password").fill("mine and only mine 2");
  await page.getByRole("button", { name: "Set password and continue" }).click();
  await page.getByText("does not match").waitFor();
  await page.getByLabel("Repeat the new password").fill("mine and only mine 1");
  await page.getByRole("button", { name: "Set password and continue" }).click();
  await page.waitForURL(/\/orgs\//);
  const row = await w.one("SELECT must_change_password FROM users WHERE email = ?", email);
  assert.equal(row.must_change_password, 0);
  assertProblem401(await w.login(email, "temporary passphrase 7"));
  assert.equal((await w.login(email, "mine and only mine 1")).status, 200);
  assertNoProblems(page);
  await page.context().close();
});

function assertProblem401(r) {
  assert.equal(r.status, 401, JSON.stringify(r.body));
}

test("3. an invitation link opened by a new person → account created → a member with org and workspace role; the link again → explained as used", async () => {
  const owner = await w.activeUser();
  const email = freshEmail("invitee");
  const inv = await w.post(`/v1/orgs/${owner.organization.id}/invitations`, {
    email, role: "editor", workspaces: [{ workspace_id: owner.workspace.id, role: "editor" }], message: "Welcome aboard!",
  }, { token: owner.access_token });
  assert.equal(inv.status, 201, JSON.stringify(inv.body));
  const link = await mailLink(w, email, /invit/i);

  const page = await newPage(env);
  await page.goto(link);
  await page.getByRole("heading", { name: "Join Analytical Engines" }).waitFor();
  await page.getByText("Welcome aboard!").waitFor();
  await page.getByText(/as editor/).waitFor();
  await expectAccessible(page, "accept invitation");
  // The preview used nothing up.
  assert.equal((await w.one("SELECT status FROM invitations WHERE id = ?", inv.body.id)).status, "pending");

  await page.getByLabel("First name").fill("Grace");
  await page.getByLabel("Last name").fill("Hopper");
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Create account and join" }).click();
  await page.getByText("You joined Analytical Engines as editor").waitFor();
  await page.getByRole("link", { name: "Open Analytical Engines" }).click();
  await page.getByRole("row", { name: /Grace Hopper/ }).getByText("Main: editor").waitFor();
  const members = await w.get(`/v1/orgs/${owner.organization.id}/members?q=${encodeURIComponent(email)}`, { token: owner.access_token });
  assert.equal(members.body.data[0].role, "editor");
  assert.deepEqual(members.body.data[0].workspaces.map((x) => x.role), ["editor"]);

  // The same link again: explained as used.
  await page.goto(link);
  await page.getByText("This invitation was already accepted.").waitFor();
  assertNoProblems(page);
  await page.context().close();
});

test("an account an admin created with an activation email: the link's page asks for a password, then signs in", async () => {
  const admin = await w.activeUser();
  const email = freshEmail("activate-me");
  const created = await w.post(`/v1/orgs/${admin.organization.id}/members`, {
    email, first_name: "Mary", last_name: "Somerville", role: "viewer", credential: "activation_email",
  }, { token: admin.access_token });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const link = await mailLink(w, email, /Activate/);

  const page = await newPage(env);
  await page.goto(link);
  await page.getByRole("button", { name: "Activate my account" }).click();
  // The account has no password yet: the page asks for one; the token is still unused.
  await page.getByRole("button", { name: "Set password and activate" }).waitFor();
  await expectAccessible(page, "activate, choosing a password");
  assert.equal((await w.one("SELECT status FROM users WHERE email = ?", email)).status, "pending");
  await page.getByLabel("Password").fill("short");
  await page.getByRole("button", { name: "Set password and activate" }).click();
  await page.getByText("must be at least 8 characters").waitFor();
  await page.getByLabel("Password").fill("somerville's own passphrase");
  await page.getByRole("button", { name: "Set password and activate" }).click();
  await page.waitForURL(/\/orgs\//);
  const row = await w.one("SELECT status, password_hash FROM users WHERE email = ?", email);
  assert.equal(row.status, "active");
  assert.ok(row.password_hash);
  assert.equal((await w.login(email, "somerville's own passphrase")).status, 200);
  assertNoProblems(page);
  await page.context().close();
});

