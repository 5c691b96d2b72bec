// My account in a real browser: profile, email change with its pending state and the
// emailed confirmation, password change, sessions (revoke one, sign out everywhere),
// activity, the invitation inbox, organizations (switch, create), deleting the account with
// the last-owner rule; and an invitation link for an existing account (sign in as … to
// accept; the wrong account signed in).
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

async function signedIn(user, password = PASSWORD) {
  const page = await newPage(env);
  await signInThroughPage(page, user.email, password);
  return page;
}

const userRow = (id) => w.one("SELECT * FROM users WHERE id = ?", id);

test("profile: name and phone (country code + number) saved; an email change waits for its emailed confirmation", async () => {
  const u = await w.activeUser();
  const page = await signedIn(u);
  await page.goto("/account");
  await page.getByRole("heading", { name: "Profile" }).waitFor();
  await expectAccessible(page, "profile");
  await page.getByLabel("First name").fill("Augusta");
  await page.getByLabel("Country code").fill("+44");
  await page.getByLabel("Number").fill("7700900123");
  await page.getByRole("button", { name: "Save" }).click();
  await page.getByText("Saved.").waitFor();
  let row = await userRow(u.user.id);
  assert.equal(row.first_name, "Augusta");
  assert.equal(row.phone, "+447700900123");
  // A bad number is explained beside its field and changes nothing.
  await page.getByLabel("Number").fill("12");
  await page.getByRole("button", { name: "Save" }).click();
  await page.locator(".field-error").first().waitFor();
  assert.equal((await userRow(u.user.id)).phone, "+447700900123");

  const next = freshEmail("moved");
  await page.getByLabel("New email address").fill(next);
  await page.getByLabel("Your password").fill("not my password");
  await page.getByRole("button", { name: "Change email" }).click();
  await page.getByText("is not your current password").waitFor();
  await page.getByLabel("Your password").fill(PASSWORD);
  await page.getByRole("button", { name: "Change email" }).click();
  await page.getByText(`A change to ${next} is waiting`).waitFor();
  assert.equal((await userRow(u.user.id)).pending_email, next);
  assert.equal((await userRow(u.user.id)).email, u.email, "nothing changes before the confirmation");

  const link = await mailLink(w, next, /Confirm|Verify/i);
  await page.goto(link);
  await page.getByRole("heading", { name: "Confirm your email address" }).waitFor();
  await expectAccessible(page, "verify email");
  assert.equal((await userRow(u.user.id)).email, u.email, "opening the page changes nothing");
  await page.getByRole("button", { name: "Confirm my email" }).click();
  await page.getByText("Your email address is confirmed.").waitFor();
  row = await userRow(u.user.id);
  assert.equal(row.email, next);
  assert.equal(row.pending_email, null);
  assertNoProblems(page);
  await page.context().close();
});

test("password and sessions: change the password, revoke another session, sign out everywhere; activity lists the sign-ins", async () => {
  const u = await w.activeUser();
  assert.equal((await w.login(u.email, "not the password 1")).status, 401); // a failed sign-in, for the activity
  const other = await w.login(u.email); // a second session, elsewhere
  assert.equal(other.status, 200);
  const page = await signedIn(u);
  await page.goto("/account/security");
  await page.getByRole("heading", { name: "Password & sessions" }).waitFor();
  await expectAccessible(page, "password and sessions");

  await page.getByLabel("Current password").fill("wrong current one");
  await page.getByLabel("New password").fill("a fresh passphrase 4");
  await page.getByRole("button", { name: "Change password" }).click();
  await page.getByText("is not your current password").waitFor();
  await page.getByLabel("Current password").fill(PASSWORD);
  await page.getByRole("button", { name: "Change password" }).click();
  await page.getByText("Password changed.").waitFor();
  assert.equal((await w.login(u.email, "a fresh passphrase 4")).status, 200);
  // The change ended the other sessions; the console's own stays.
  assert.equal((await w.get("/v1/me", { token: other.body.access_token })).status, 401);

  // A new session elsewhere, revoked from the list.
  const third = await w.login(u.email, "a fresh passphrase 4");
  await page.reload();
  const revokable = page.getByRole("button", { name: "Revoke" });
  await revokable.first().waitFor();
  const live = async () => (await w.one("SELECT COUNT(*) AS n FROM sessions WHERE user_id = ? AND ended_at IS NULL", u.user.id)).n;
  const before = await live();
  await revokable.first().click();
  await w.until(async () => (await live()) === before - 1, { what: "one session revoked" });
  await page.getByText("this session").waitFor();

  await page.goto("/account/activity");
  await page.getByRole("heading", { name: "Activity" }).waitFor();
  await page.getByRole("row").filter({ hasText: "user.login_succeeded" }).first().waitFor();
  await page.getByRole("row").filter({ hasText: "user.login_failed" }).filter({ hasText: "failed" }).first().waitFor();
  await expectAccessible(page, "activity");

  await page.goto("/account/security");
  await page.getByRole("button", { name: "Sign out everywhere" }).click();
  await page.waitForURL(/\/signin$/);
  assert.equal(await live(), 0);
  assert.equal((await w.get("/v1/me", { token: third.body.access_token })).status, 401);
  assertNoProblems(page);
  await page.context().close();
});

test("the invitation inbox: accept one, decline another; my organizations, the switcher, creating an organization", async () => {
  const u = await w.activeUser();
  const a = await w.activeUser();
  const b = await w.activeUser();
  await w.post(`/v1/orgs/${a.organization.id}/invitations`, { email: u.email, role: "editor" }, { token: a.access_token });
  await w.post(`/v1/orgs/${b.organization.id}/invitations`, { email: u.email, role: "viewer" }, { token: b.access_token });
  await w.db.prepare("UPDATE orgs SET name = ? WHERE id = ?").bind("Babbage Works", b.organization.id).run();
  const page = await signedIn(u);
  await page.goto("/account/invitations");
  await page.getByRole("heading", { name: "Invitations" }).waitFor();
  await expectAccessible(page, "invitation inbox");
  const cards = page.locator(".cards > li");
  await cards.filter({ hasText: "Babbage Works" }).getByRole("button", { name: "Decline" }).click();
  await cards.filter({ hasText: "Babbage Works" }).waitFor({ state: "detached" });
  await cards.filter({ hasText: "Role: editor" }).getByRole("button", { name: "Accept" }).click();
  await page.getByText("No invitations").waitFor();
  assert.equal((await w.one("SELECT role FROM org_members WHERE org_id = ? AND user_id = ?", a.organization.id, u.user.id)).role, "editor");
  assert.equal((await w.one("SELECT status FROM invitations WHERE org_id = ? AND email = ?", b.organization.id, u.email)).status, "declined");

  await page.getByRole("link", { name: "Organizations" }).click();
  await page.getByRole("row", { name: /editor/ }).waitFor();
  const switcher = page.getByRole("combobox", { name: "Organization" });
  assert.equal(await switcher.locator("option").count(), 3, "a choice prompt and the two orgs");
  await switcher.selectOption(a.organization.id);
  await page.waitForURL(new RegExp(`/orgs/${a.organization.id}/`));

  await page.goto("/account/organizations");
  await page.getByRole("link", { name: "Create an organization" }).first().click();
  await page.getByRole("heading", { name: "Create an organization" }).waitFor();
  await expectAccessible(page, "create an organization");
  await page.getByRole("button", { name: "Create organization" }).click();
  await page.locator(".field-error").first().waitFor();
  await page.getByLabel("Name").fill("Lovelace Labs");
  await page.getByRole("button", { name: "Create organization" }).click();
  await page.waitForURL(/\/orgs\/[^/]+\/members$/);
  const created = await w.one("SELECT o.id, m.role FROM orgs o JOIN org_members m ON m.org_id = o.id WHERE o.name = 'Lovelace Labs' AND m.user_id = ?", u.user.id);
  assert.equal(created.role, "owner");
  assertNoProblems(page);
  await page.context().close();
});

test("deleting my account: refused while I own an org with other members (explained), then done with the typed confirmation", async () => {
  const u = await w.activeUser();
  const colleague = await w.activeUser();
  await w.joinOrg(colleague, u.organization.id, "editor");
  const page = await signedIn(u);
  await page.goto("/account");
  await page.getByRole("button", { name: "Delete my account…" }).click();
  const dialog = page.getByRole("dialog", { name: "Delete your account" });
  await expectAccessible(page, "delete account dialog");
  const confirm = dialog.getByRole("button", { name: "Delete my account" });
  assert.equal(await confirm.isDisabled(), true, "disabled until the phrase is typed");
  await dialog.getByLabel("Your password").fill(PASSWORD);
  await dialog.getByLabel("Type “delete my account” to confirm").fill("delete my account");
  await confirm.click();
  await dialog.getByText("transfer ownership first").waitFor();
  assert.ok(await userRow(u.user.id), "nothing deleted");

  // Without the colleague, the org is theirs alone and goes with the account.
  await w.db.prepare("DELETE FROM org_members WHERE user_id = ?").bind(colleague.user.id).run();
  await confirm.click();
  await page.waitForURL(/\/signin$/);
  assert.equal(await userRow(u.user.id), undefined);
  assert.equal(await w.one("SELECT id FROM orgs WHERE id = ?", u.organization.id), undefined);
  assertNoProblems(page);
  await page.context().close();
});

test("an invitation to an existing account: sign in as … to accept; the wrong account signed in is told so", async () => {
  const owner = await w.activeUser();
  const invitee = await w.activeUser();
  const stranger = await w.activeUser();
  const inv = await w.post(`/v1/orgs/${owner.organization.id}/invitations`, { email: invitee.email, role: "viewer" }, { token: owner.access_token });
  assert.equal(inv.status, 201);
  const link = await mailLink(w, invitee.email, /invit/i);

  // The wrong person signed in.
  const wrong = await signedIn(stranger);
  await wrong.goto(link);
  await wrong.getByText(`You are signed in as ${stranger.email}, but this invitation is for ${invitee.email}.`).waitFor();
  await expectAccessible(wrong, "invitation for another account");
  assert.equal((await w.one("SELECT status FROM invitations WHERE id = ?", inv.body.id)).status, "pending");
  await wrong.context().close();

  // Signed out: sign in as the invitee, come back to the invitation, accept.
  const page = await newPage(env);
  await page.goto(link);
  await page.getByRole("link", { name: `Sign in as ${invitee.email} to accept` }).click();
  await page.waitForURL(/\/signin\?/);
  assert.equal(await page.getByLabel("Email").inputValue(), invitee.email);
  await page.getByLabel("Password", { exact: true }).fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL(/\/invitations\/accept$/);
  await page.getByRole("button", { name: "Accept invitation" }).click();
  await page.getByText("You joined").waitFor();
  assert.equal((await w.one("SELECT role FROM org_members WHERE org_id = ? AND user_id = ?", owner.organization.id, invitee.user.id)).role, "viewer");
  assertNoProblems(page);
  await page.context().close();
});
