// The Invitations screen in a real browser: inviting several emails at once with a result
// per email, the pending list with each email's delivery state, resend and withdraw; seats
// all or nothing; who sees what (viewers and members no screen, editors the actions on their
// own invitations only); a narrow screen. Each journey checks the screen, then D1 or the API.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { freshEmail, PASSWORD } from "../helpers.mjs";
import { startConsole, newPage, expectAccessible, assertNoProblems, signInThroughPage } from "./support.mjs";

let env, w, roster;
before(async () => {
  env = await startConsole();
  w = env.w;
  roster = await w.orgRoster();
});
after(async () => { await env?.dispose(); });

const ORG_NAME = "Analytical Engines";
const nav = (page) => page.getByRole("navigation", { name: `${ORG_NAME} navigation` });
const resultLines = (page) => page.getByRole("list", { name: "Result per email" }).getByRole("listitem");
const rowOf = (page, email) => page.getByRole("row").filter({ hasText: email });
const invitationsOf = (email) => w.rows("SELECT * FROM invitations WHERE org_id = ? AND email = ?", roster.orgId, email);

/** Waits until every invitation email to `email` is recorded delivered (`sent`) in the outbox. */
const delivered = (email) => w.until(async () => {
  const rows = await w.rows("SELECT status FROM outbox WHERE recipient = ? AND kind = 'invitation'", email);
  return rows.length > 0 && rows.every((r) => r.status === "sent");
}, { what: `the invitation email to ${email} delivered` });

test("2. invite three emails, one already a member → a result per email → the pending list with delivery status → resend → withdraw", async () => {
  const { admin, viewer, orgId, wsId } = roster;
  const group = await w.post(`/v1/orgs/${orgId}/groups`, { name: "Night shift" }, { token: admin.access_token });
  assert.equal(group.status, 201, JSON.stringify(group.body));
  const [a, b] = [freshEmail("ada"), freshEmail("bob")];
  const page = await newPage(env);
  await signInThroughPage(page, admin.email, PASSWORD);

  // The members screen's "Invite members" opens the form at once (?invite=1), which then
  // leaves the address bar so a reload does not reopen it.
  await page.goto(`/orgs/${orgId}/members`);
  await page.getByRole("link", { name: "Invite members" }).first().click();
  const form = page.getByRole("dialog", { name: "Invite people" });
  await form.waitFor();
  await page.waitForURL((url) => url.pathname === `/orgs/${orgId}/invitations` && url.search === "");
  await form.getByLabel("Emails").fill(`${a}\n${viewer.email}, ${b}`);
  await form.getByLabel("Organization role").selectOption("viewer");
  await form.getByRole("checkbox", { name: "Main" }).check();
  await form.getByLabel("Role in Main").selectOption("editor");
  await form.getByRole("checkbox", { name: "Night shift" }).check();
  await form.getByLabel("Message").fill("Welcome to the mill");
  await expectAccessible(page, "the invite form");
  await form.getByRole("button", { name: "Send 3 invitations" }).click();

  // A result per email, in the order typed.
  const results = page.getByRole("dialog", { name: "Invitation results" });
  await results.getByText("2 of 3 emails were invited.").waitFor();
  const lines = await resultLines(page).allInnerTexts();
  assert.equal(lines.length, 3);
  assert.match(lines[0], new RegExp(`${a}[\\s\\S]*Invitation sent`));
  assert.match(lines[1], new RegExp(`${viewer.email}[\\s\\S]*Already a member: nothing sent`));
  assert.match(lines[2], new RegExp(`${b}[\\s\\S]*Invitation sent`));
  await expectAccessible(page, "the invitation results");

  for (const email of [a, b]) {
    const [row, ...more] = await invitationsOf(email);
    assert.equal(more.length, 0);
    assert.equal(row.status, "pending");
    assert.equal(row.role, "viewer");
    assert.equal(row.message, "Welcome to the mill");
    assert.equal(row.invited_by, admin.user.id);
    assert.equal(row.send_count, 1);
    assert.deepEqual(JSON.parse(row.groups), [group.body.id]);
    assert.deepEqual(await w.rows("SELECT workspace_id, role FROM invitation_workspaces WHERE invitation_id = ?", row.id),
      [{ workspace_id: wsId, role: "editor" }]);
  }
  assert.deepEqual(await invitationsOf(viewer.email), [], "nothing for the member");
  await results.getByRole("button", { name: "Done" }).click();

  // The pending list: both, with what was offered, by whom, and the email's delivery.
  await delivered(a);
  await delivered(b);
  await page.reload();
  for (const email of [a, b]) {
    const row = rowOf(page, email);
    await row.getByText("Sent", { exact: true }).waitFor();
    await row.getByText("sent 1 time").waitFor();
    await row.getByText("Main: editor").waitFor();
    await row.getByText("Welcome to the mill").waitFor();
    await row.getByText(admin.email).waitFor();
  }
  assert.equal(await rowOf(page, viewer.email).count(), 0);
  await expectAccessible(page, "the pending invitations");

  // Resend: a new email, send_count 2, shown once delivered.
  await rowOf(page, a).getByRole("button", { name: "Resend" }).click();
  await page.getByText(`Invitation to ${a} sent again`).waitFor();
  await w.until(async () => (await invitationsOf(a))[0].send_count === 2, { what: "send_count 2" });
  await rowOf(page, a).getByText("sent 2 times").waitFor();
  await delivered(a);
  assert.equal((await w.rows("SELECT id FROM outbox WHERE recipient = ? AND kind = 'invitation'", a)).length, 2);

  // Withdraw, after confirming: gone from the pending list, listed as withdrawn.
  await rowOf(page, b).getByRole("button", { name: "Withdraw" }).click();
  const confirm = page.getByRole("dialog", { name: "Withdraw invitation" });
  await confirm.getByText(b).waitFor();
  await expectAccessible(page, "the withdraw confirmation");
  await confirm.getByRole("button", { name: "Withdraw" }).click();
  await page.getByText(`Invitation to ${b} withdrawn.`).waitFor();
  await rowOf(page, b).waitFor({ state: "detached" });
  assert.equal((await invitationsOf(b))[0].status, "withdrawn");
  await page.getByLabel("Status").selectOption("withdrawn");
  const ended = rowOf(page, b);
  await ended.getByText("withdrawn", { exact: true }).waitFor();
  assert.equal(await ended.getByRole("button").count(), 0, "no action fits a withdrawn invitation");
  await expectAccessible(page, "the withdrawn invitations");
  assertNoProblems(page);
  await page.context().close();
});

test("seats are all or nothing: three emails for two free seats → no seat left for each, nothing sent; with one less, both are invited", async () => {
  const owner = await w.activeUser();
  const org = owner.organization.id;
  await w.db.prepare("UPDATE orgs SET member_limit = 3 WHERE id = ?").bind(org).run(); // the owner + 2 free
  const emails = [freshEmail("s1"), freshEmail("s2"), freshEmail("s3")];
  const page = await newPage(env);
  await signInThroughPage(page, owner.email, PASSWORD);
  await page.goto(`/orgs/${org}/invitations`);
  await page.getByRole("heading", { name: "Invitations", exact: true }).waitFor();
  await page.getByText("No pending invitations").waitFor();
  await page.getByRole("button", { name: "Invite people" }).first().click();
  const form = page.getByRole("dialog", { name: "Invite people" });
  await form.getByLabel("Emails").fill(emails.join(", "));
  await form.getByRole("button", { name: "Send 3 invitations" }).click();

  const results = page.getByRole("dialog", { name: "Invitation results" });
  await results.getByText("These 3 invitations need 3 seats and 2 are free").waitFor();
  const lines = await resultLines(page).allInnerTexts();
  assert.deepEqual(lines.map((l) => l.includes("Not sent: not enough free seats")), [true, true, true], lines.join("|"));
  const stored = await w.one("SELECT COUNT(*) AS n FROM invitations WHERE org_id = ?", org);
  assert.equal(stored.n, 0, "nothing was sent");
  await expectAccessible(page, "the refused list");

  // Back to the list as typed: drop one, and the two fit.
  await results.getByRole("button", { name: "Change the list" }).click();
  await form.getByLabel("Emails").fill(emails.slice(0, 2).join(", "));
  await form.getByRole("button", { name: "Send 2 invitations" }).click();
  await page.getByText("2 of 2 emails were invited.").waitFor();
  const rows = await w.rows("SELECT email FROM invitations WHERE org_id = ? AND status = 'pending' ORDER BY email", org);
  assert.deepEqual(rows.map((r) => r.email), emails.slice(0, 2).sort());
  assertNoProblems(page);
  await page.context().close();
});

test("viewers and members see no Invitations entry, and the screen tells them why", async () => {
  const { viewer, member, orgId } = roster;
  for (const [who, role] of [[viewer, "Viewer"], [member, "Member"]]) {
    const page = await newPage(env);
    await signInThroughPage(page, who.email, PASSWORD);
    await page.goto(`/orgs/${orgId}`);
    // The org opens on the first screen the role may see: the directory, or a member's workspaces.
    await page.getByRole("heading", { name: role === "Viewer" ? "Members" : "Workspaces", exact: true }).waitFor();
    assert.equal(await nav(page).getByRole("link", { name: "Invitations" }).count(), 0, `${role}: no entry`);
    assert.equal(await page.getByRole("link", { name: "Invite members" }).count(), 0, `${role}: no invite link`);
    await page.goto(`/orgs/${orgId}/invitations?invite=1`);
    await page.getByText(`Your role in ${ORG_NAME} (${role}) does not include inviting people.`).waitFor();
    assert.equal(await page.getByRole("button", { name: "Invite people" }).count(), 0);
    assert.equal(await page.getByRole("dialog").count(), 0);
    await expectAccessible(page, `invitations as a ${role.toLowerCase()}`);
    assertNoProblems(page);
    await page.context().close();
  }
});

test("an editor (375 px wide) invites up to editor without groups, and resends or withdraws only their own invitations", async () => {
  const { admin, editor, orgId } = roster;
  const [theirs, mine] = [freshEmail("admins"), freshEmail("editors")];
  for (const [by, email] of [[admin, theirs], [editor, mine]]) {
    const r = await w.post(`/v1/orgs/${orgId}/invitations`, { email, role: "viewer" }, { token: by.access_token });
    assert.equal(r.status, 201, JSON.stringify(r.body));
  }
  const page = await newPage(env, { width: 375, height: 800 });
  await signInThroughPage(page, editor.email, PASSWORD);
  await page.goto(`/orgs/${orgId}/members`);
  await nav(page).getByRole("link", { name: "Invitations" }).click();
  await page.getByRole("heading", { name: "Invitations", exact: true }).waitFor();

  await rowOf(page, mine).getByRole("button", { name: "Resend" }).waitFor();
  await rowOf(page, mine).getByRole("button", { name: "Withdraw" }).waitFor();
  await rowOf(page, theirs).waitFor();
  assert.equal(await rowOf(page, theirs).getByRole("button").count(), 0, "no action on another's invitation");

  // Usable at 375 px: the page body does not scroll sideways, the main action is on screen.
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  assert.ok(overflow <= 0, `the page is ${overflow}px wider than the screen`);
  const invite = page.getByRole("button", { name: "Invite people" }).first();
  assert.ok(await invite.isVisible());
  const box = await invite.boundingBox();
  assert.ok(box && box.x >= 0 && box.x + box.width <= 375, JSON.stringify(box));
  await expectAccessible(page, "invitations as an editor at 375 px");

  await rowOf(page, mine).getByRole("button", { name: "Resend" }).click();
  await page.getByText(`Invitation to ${mine} sent again`).waitFor();
  assert.equal((await invitationsOf(mine))[0].send_count, 2);

  await invite.click();
  const form = page.getByRole("dialog", { name: "Invite people" });
  // The choices render with the dialog's data: wait for the last one before reading them all.
  const roleSelect = form.getByLabel("Organization role");
  await roleSelect.locator("option", { hasText: "Editor" }).waitFor({ state: "attached" });
  const roles = await roleSelect.locator("option").allInnerTexts();
  assert.deepEqual(roles, ["Member (workspaces only)", "Viewer", "Editor"]);
  assert.equal(await form.getByRole("group", { name: "Groups" }).count(), 0, "groups are for admins");
  await form.getByRole("group", { name: "Workspaces" }).waitFor();
  await expectAccessible(page, "the invite form as an editor at 375 px");
  const third = freshEmail("byeditor");
  await form.getByLabel("Emails").fill(third);
  await form.getByLabel("Organization role").selectOption("editor");
  await form.getByRole("button", { name: "Send invitation" }).click();
  await page.getByText("1 of 1 email was invited.").waitFor();
  const [row] = await invitationsOf(third);
  assert.equal(row.role, "editor");
  assert.equal(row.invited_by, editor.user.id);
  assertNoProblems(page);
  await page.context().close();
});
