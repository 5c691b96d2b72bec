// Roles, workspaces, groups and resource grants in a real browser. Each journey works the
// screen as the role in question and then checks what the API or D1 holds; each role sees
// only the actions it may take. Every test seeds its own organization (`w.orgRoster()`:
// owner, admin, editor, viewer and a workspace-only member in the owner's workspace "Main").
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { PASSWORD } from "../helpers.mjs";
import { startConsole, newPage, expectAccessible, assertNoProblems, signInThroughPage } from "./support.mjs";

let env, w;
before(async () => {
  env = await startConsole();
  w = env.w;
});
after(async () => { await env?.dispose(); });

const explicitRole = async (ws, user) =>
  (await w.one("SELECT role FROM workspace_members WHERE workspace_id = ? AND user_id = ?", ws, user.user.id))?.role;

async function signedIn(user, size) {
  const page = await newPage(env, size);
  await signInThroughPage(page, user.email, PASSWORD);
  return page;
}

async function newWorkspace(r, name) {
  const res = await w.post(`/v1/orgs/${r.orgId}/workspaces`, { name }, { token: r.owner.access_token });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body;
}

/** The dialog whose heading is `name`, once open. */
async function dialogNamed(page, name) {
  const d = page.getByRole("dialog", { name });
  await d.waitFor();
  return d;
}

test("1. an owner creates a workspace, opens it, adds a member with a workspace role, changes it and removes it", async () => {
  const r = await w.orgRoster();
  const page = await signedIn(r.owner);
  await page.goto(`/orgs/${r.orgId}/workspaces`);
  await page.getByRole("heading", { name: "Workspaces" }).waitFor();
  await page.getByRole("row", { name: /Main/ }).waitFor();
  await expectAccessible(page, "workspaces list");

  await page.getByRole("button", { name: "Create a workspace" }).click();
  const create = await dialogNamed(page, "Create a workspace");
  await expectAccessible(page, "create workspace dialog");
  // A name is required: the API's field error appears next to the field.
  await create.getByRole("button", { name: "Create workspace" }).click();
  await create.getByText("is required").waitFor();
  await create.getByLabel("Name").fill("Assembly hall");
  await create.getByLabel("Description").fill("Where the engines are put together");
  await create.getByRole("button", { name: "Create workspace" }).click();
  await page.waitForURL(/\/workspaces\/[0-9a-f-]{36}$/);
  const wsId = page.url().split("/").pop();
  const stored = await w.one("SELECT org_id, name, description FROM workspaces WHERE id = ?", wsId);
  assert.deepEqual({ ...stored }, { org_id: r.orgId, name: "Assembly hall", description: "Where the engines are put together" });

  // The users tab: everyone above `member` by inheritance, not the workspace-only member.
  await page.getByRole("heading", { name: "Assembly hall" }).waitFor();
  const viewerRow = page.getByRole("row", { name: new RegExp(r.viewer.email) });
  await viewerRow.getByText("from the organization role").waitFor();
  assert.match(await viewerRow.textContent(), /Viewer.*Viewer/s);
  assert.equal(await page.getByRole("row", { name: new RegExp(r.member.email) }).count(), 0);
  await page.getByRole("link", { name: "Permissions" }).waitFor();
  await expectAccessible(page, "workspace users tab");

  // Add the workspace-only member as editor.
  await page.getByRole("button", { name: "Add a person" }).click();
  const add = await dialogNamed(page, "Add a person to Assembly hall");
  await add.getByLabel("Find a person by name or email").fill(r.member.email);
  const person = add.getByLabel("Person", { exact: true });
  await person.locator(`option[value="${r.member.user.id}"]`).waitFor({ state: "attached" });
  // The owner (the caller) is never offered: nobody gives themselves a role.
  assert.equal(await person.locator(`option[value="${r.owner.user.id}"]`).count(), 0);
  await person.selectOption(r.member.user.id);
  await add.getByLabel("Workspace role").selectOption("editor");
  await expectAccessible(page, "add person dialog");
  await add.getByRole("button", { name: "Add to workspace" }).click();
  const memberRow = page.getByRole("row", { name: new RegExp(r.member.email) });
  await memberRow.getByText("Editor given here").waitFor();
  assert.equal(await explicitRole(wsId, r.member), "editor");

  // Change it to admin.
  await memberRow.getByRole("button", { name: /Change role of/ }).click();
  const change = await dialogNamed(page, /Change the role of/);
  assert.equal(await change.getByLabel("Workspace role").inputValue(), "editor");
  await expectAccessible(page, "change workspace role dialog");
  await change.getByLabel("Workspace role").selectOption("admin");
  await change.getByRole("button", { name: "Save role" }).click();
  await memberRow.getByText("Admin given here").waitFor();
  assert.equal(await explicitRole(wsId, r.member), "admin");

  // Remove it: the member had only this role here, so they drop off the list; they stay in
  // the org through "Main".
  await memberRow.getByRole("button", { name: /Remove/ }).click();
  const remove = await dialogNamed(page, "Remove from the workspace");
  await remove.getByText("They lose access to it").waitFor();
  await expectAccessible(page, "remove from workspace dialog");
  await remove.getByRole("button", { name: "Remove" }).click();
  await memberRow.waitFor({ state: "detached" });
  assert.equal(await explicitRole(wsId, r.member), undefined);
  assert.equal(await explicitRole(r.wsId, r.member), "viewer");

  // The metric counts what the list shows: owner, admin, editor, viewer.
  const api = await w.get(`/v1/orgs/${r.orgId}/workspaces/${wsId}`, { token: r.owner.access_token });
  assert.equal(api.body.metrics.members, 4);
  await page.locator(".metrics div", { hasText: "People with access" }).getByText("4").waitFor();
  assertNoProblems(page);
  await page.context().close();
});

test("2. an owner edits a workspace and deletes it by typing its name", async () => {
  const r = await w.orgRoster();
  const ws = await newWorkspace(r, "Scratch");
  const put = await w.request("PUT", `/v1/orgs/${r.orgId}/workspaces/${ws.id}/members/${r.viewer.user.id}`,
    { body: { role: "editor" }, token: r.owner.access_token });
  assert.equal(put.status, 200, JSON.stringify(put.body));

  const page = await signedIn(r.owner);
  await page.goto(`/orgs/${r.orgId}/workspaces`);
  await page.getByRole("button", { name: "Edit Scratch" }).click();
  const edit = await dialogNamed(page, "Edit Scratch");
  assert.equal(await edit.getByLabel("Name").inputValue(), "Scratch");
  await expectAccessible(page, "edit workspace dialog");
  await edit.getByLabel("Name").fill("Scratch pad");
  await edit.getByLabel("Description").fill("Trials");
  await edit.getByRole("button", { name: "Save workspace" }).click();
  await page.getByRole("row", { name: /Scratch pad/ }).getByText("Trials").waitFor();
  const stored = await w.one("SELECT name, description FROM workspaces WHERE id = ?", ws.id);
  assert.deepEqual({ ...stored }, { name: "Scratch pad", description: "Trials" });

  await page.getByRole("button", { name: "Delete Scratch pad" }).click();
  const del = await dialogNamed(page, "Delete Scratch pad");
  await expectAccessible(page, "delete workspace dialog");
  const confirm = del.getByRole("button", { name: "Delete workspace" });
  assert.equal(await confirm.isDisabled(), true);
  await del.getByLabel("Type “Scratch pad” to confirm").fill("Scratch");
  assert.equal(await confirm.isDisabled(), true, "a partial name does not unlock the delete");
  // Enter in the form does not delete either while the name is wrong.
  await del.getByLabel("Type “Scratch pad” to confirm").press("Enter");
  assert.ok(await w.one("SELECT id FROM workspaces WHERE id = ?", ws.id));
  await del.getByLabel("Type “Scratch pad” to confirm").fill("Scratch pad");
  await confirm.click();
  await page.getByRole("row", { name: /Scratch pad/ }).waitFor({ state: "detached" });
  assert.equal(await w.one("SELECT id FROM workspaces WHERE id = ?", ws.id), undefined);
  assert.equal(await explicitRole(ws.id, r.viewer), undefined, "its roles went with it");
  await page.getByRole("row", { name: /Main/ }).waitFor();
  assertNoProblems(page);
  await page.context().close();
});

test("3. an owner creates a restricting group with a member and gives it edit on a resource; the member's authorization check follows", async () => {
  const r = await w.orgRoster();
  const page = await signedIn(r.owner);
  await page.goto(`/orgs/${r.orgId}/groups`);
  await page.getByRole("heading", { name: "No groups yet" }).waitFor();
  await expectAccessible(page, "groups, empty");
  await page.getByRole("button", { name: "Create a group" }).click();
  const create = await dialogNamed(page, "Create a group");
  await create.getByLabel("Name").fill("Field team");
  await create.getByLabel("Description").fill("Technicians on site");
  await create.getByRole("button", { name: "Add a resource" }).click();
  const first = create.getByRole("group", { name: "Resource 1" });
  // A type the API refuses: its message appears next to that field.
  await first.getByLabel("Type").fill("dash board");
  await first.getByLabel("ID").fill("dash-1");
  await create.getByRole("button", { name: "Create group" }).click();
  await first.locator(".field-error").waitFor();
  assert.match(await first.locator(".field-error").textContent(), /letters, digits/);
  assert.equal(await first.getByLabel("Type").getAttribute("aria-invalid"), "true");
  await expectAccessible(page, "create group dialog with a field error");
  await first.getByLabel("Type").fill("dashboard");
  await create.getByRole("button", { name: "Create group" }).click();
  await page.waitForURL(/\/groups\/[0-9a-f-]{36}$/);
  const groupId = page.url().split("/").pop();
  const g = await w.one("SELECT org_id, name, restricting, restrictions FROM groups WHERE id = ?", groupId);
  assert.equal(g.org_id, r.orgId);
  assert.equal(g.name, "Field team");
  assert.equal(g.restricting, 1);
  assert.deepEqual(JSON.parse(g.restrictions), [{ type: "dashboard", id: "dash-1" }]);

  await page.getByRole("heading", { name: "Field team" }).waitFor();
  await page.getByText("dash-1").waitFor();
  await page.getByRole("heading", { name: "No members yet" }).waitFor();
  await page.getByRole("button", { name: "Add a member" }).click();
  const add = await dialogNamed(page, "Add a member to Field team");
  await add.getByText("owners and admins are not offered").waitFor();
  // An admin is left out of a restricting group's choices.
  await add.getByLabel("Find a member by name or email").fill(r.admin.email);
  await add.getByLabel("Member", { exact: true }).locator("option", { hasText: "No one matches" }).waitFor({ state: "attached" });
  await add.getByLabel("Find a member by name or email").fill(r.viewer.email);
  await add.getByLabel("Member", { exact: true }).locator(`option[value="${r.viewer.user.id}"]`).waitFor({ state: "attached" });
  await add.getByLabel("Member", { exact: true }).selectOption(r.viewer.user.id);
  await expectAccessible(page, "add group member dialog");
  await add.getByRole("button", { name: "Add to group" }).click();
  await page.getByRole("row", { name: new RegExp(r.viewer.email) }).waitFor();
  await page.getByRole("heading", { name: "Members (1)" }).waitFor();
  assert.ok(await w.one("SELECT 1 AS x FROM group_members WHERE group_id = ? AND user_id = ?", groupId, r.viewer.user.id));
  await expectAccessible(page, "group page");

  // The workspace's Permissions tab: give the group edit on the dashboard.
  await page.goto(`/orgs/${r.orgId}/workspaces/${r.wsId}`);
  await page.getByRole("link", { name: "Permissions" }).click();
  await page.waitForURL(/\/permissions$/);
  await page.getByRole("heading", { name: "No permissions given in this workspace" }).waitFor();
  await page.getByRole("button", { name: "Give a permission" }).click();
  const give = await dialogNamed(page, "Give a permission in Main");
  await give.getByLabel("Give it to").selectOption("group");
  await give.getByLabel("Group", { exact: true }).selectOption(groupId);
  await give.getByLabel("Type").fill("dashboard");
  await give.getByLabel("ID").fill("dash-1");
  await give.getByLabel("Permission").selectOption("edit");
  await expectAccessible(page, "give permission dialog");
  await give.getByRole("button", { name: "Give permission" }).click();
  const grantRow = page.getByRole("row", { name: /Field team/ });
  await grantRow.getByText("Edit: see and change it").waitFor();
  const grant = await w.one("SELECT principal_type, principal_id, resource_type, resource_id, permission FROM grants WHERE workspace_id = ?", r.wsId);
  assert.deepEqual({ ...grant }, { principal_type: "group", principal_id: groupId, resource_type: "dashboard", resource_id: "dash-1", permission: "edit" });
  await expectAccessible(page, "permissions tab");

  // The viewer, in the group, now edits the dashboard; nothing outside the group's list.
  const check = async (action, id) => {
    const res = await w.post("/v1/authz/check", { workspace_id: r.wsId, action, resource: { type: "dashboard", id } }, { token: r.viewer.access_token });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body;
  };
  assert.deepEqual(await check("edit", "dash-1"), { allowed: true, reason: "group_grant" });
  assert.deepEqual(await check("manage", "dash-1"), { allowed: false, reason: "insufficient_permission" });
  assert.deepEqual(await check("view", "dash-2"), { allowed: false, reason: "restricted" });

  // Lowered to view, the group's grant no longer reaches edit.
  await grantRow.getByRole("button", { name: /Change the permission/ }).click();
  const change = await dialogNamed(page, "Change a permission");
  await expectAccessible(page, "change permission dialog");
  await change.getByLabel("Permission").selectOption("view");
  await change.getByRole("button", { name: "Save permission" }).click();
  await grantRow.getByText("View: see it").waitFor();
  assert.equal((await w.one("SELECT permission FROM grants WHERE workspace_id = ?", r.wsId)).permission, "view");
  assert.deepEqual(await check("edit", "dash-1"), { allowed: false, reason: "insufficient_permission" });

  // Revoked, the grant is gone.
  await grantRow.getByRole("button", { name: /Revoke/ }).click();
  const revoke = await dialogNamed(page, "Revoke the permission");
  await expectAccessible(page, "revoke permission dialog");
  await revoke.getByRole("button", { name: "Revoke" }).click();
  await page.getByRole("heading", { name: "No permissions given in this workspace" }).waitFor();
  assert.equal(await w.one("SELECT id FROM grants WHERE workspace_id = ?", r.wsId), undefined);
  assertNoProblems(page);
  await page.context().close();
});

test("4. the role overview shows each role's member count as GET …/roles returns it, and its permissions in words", async () => {
  const r = await w.orgRoster();
  // A second editor, so the counts differ from one per role.
  const extra = await w.activeUser();
  await w.joinOrg(extra, r.orgId, "editor");
  const roles = (await w.get(`/v1/orgs/${r.orgId}/roles`, { token: r.viewer.access_token })).body.data;
  assert.equal(roles.find((x) => x.role === "editor").member_count, 2);

  const page = await signedIn(r.viewer);
  await page.goto(`/orgs/${r.orgId}/roles`);
  await page.getByRole("heading", { name: "Roles", exact: true }).waitFor();
  for (const role of roles) {
    const card = page.locator(`[data-role="${role.role}"]`);
    const count = await card.locator(".role-count").textContent();
    assert.equal(count.trim(), `${role.member_count} ${role.member_count === 1 ? "member" : "members"}`, role.role);
    assert.equal(await card.locator(".permissions li").count(), role.permissions.length, role.role);
    for (const p of role.permissions) await card.locator("code", { hasText: new RegExp(`^${p.replace(".", "\\.")}$`) }).waitFor();
  }
  await page.locator('[data-role="owner"]').getByText("Delete the organization").waitFor();
  await page.locator('[data-role="viewer"]').getByText("your role").waitFor();
  await expectAccessible(page, "roles");
  assertNoProblems(page);
  await page.context().close();
});

test("5. a viewer sees workspaces read-only and no Groups entry; the groups page refuses them with a reason", async () => {
  const r = await w.orgRoster();
  const page = await signedIn(r.viewer);
  await page.goto(`/orgs/${r.orgId}/workspaces`);
  const nav = page.getByRole("navigation", { name: /navigation/ });
  await nav.getByRole("link", { name: "Workspaces" }).waitFor();
  await nav.getByRole("link", { name: "Roles" }).waitFor();
  assert.equal(await nav.getByRole("link", { name: "Groups" }).count(), 0);
  const row = page.getByRole("row", { name: /Main/ });
  await row.getByText("Viewer").waitFor();
  assert.equal(await page.getByRole("button", { name: /Create a workspace|Edit|Delete/ }).count(), 0);
  await expectAccessible(page, "workspaces, read-only");

  await row.getByRole("link", { name: "Main" }).click();
  await page.getByRole("heading", { name: "Main" }).waitFor();
  await page.getByRole("row", { name: new RegExp(r.owner.email) }).waitFor();
  assert.equal(await page.getByRole("button", { name: /Edit|Delete|Add|Change|Remove|Give/ }).count(), 0);
  assert.equal(await page.getByRole("link", { name: "Permissions" }).count(), 0);
  await expectAccessible(page, "workspace, read-only");

  // Opened by its address anyway, the API refuses and the page says why.
  await page.goto(`/orgs/${r.orgId}/groups`);
  await page.getByRole("alert").filter({ hasText: "Your role does not allow this" }).waitFor();
  assert.equal((await w.get(`/v1/orgs/${r.orgId}/groups`, { token: r.viewer.access_token })).status, 403);
  assertNoProblems(page);
  await page.context().close();
});

test("6. a workspace-only member sees only their own workspace", async () => {
  const r = await w.orgRoster();
  const hidden = await newWorkspace(r, "Back office");
  const page = await signedIn(r.member);
  // Workspaces and the (read-only) settings are the screens of their role, and the org
  // opens on the first. (The roster's member owns the org of their own signup too, so it
  // is opened by its address.)
  await page.goto(`/orgs/${r.orgId}`);
  await page.waitForURL(new RegExp(`/orgs/${r.orgId}/workspaces$`));
  const nav = page.getByRole("navigation", { name: /navigation/ });
  assert.deepEqual(await nav.getByRole("link").allTextContents(), ["Workspaces", "Settings"]);
  await page.getByRole("row", { name: /Main/ }).waitFor();
  assert.equal(await page.getByRole("row", { name: /Back office/ }).count(), 0);
  assert.equal(await page.getByRole("button", { name: "Create a workspace" }).count(), 0);
  const listed = (await w.get(`/v1/orgs/${r.orgId}/workspaces`, { token: r.member.access_token })).body.data;
  assert.deepEqual(listed.map((x) => x.id), [r.wsId]);
  await expectAccessible(page, "workspaces of a workspace-only member");

  await page.goto(`/orgs/${r.orgId}/workspaces/${hidden.id}`);
  await page.getByRole("alert").filter({ hasText: "no access to it" }).waitFor();
  assertNoProblems(page);
  await page.context().close();
});

test("7. an editor edits but does not delete, and gives at most editor", async () => {
  const r = await w.orgRoster();
  const page = await signedIn(r.editor);
  await page.goto(`/orgs/${r.orgId}/workspaces/${r.wsId}`);
  await page.getByRole("button", { name: "Edit workspace" }).waitFor();
  assert.equal(await page.getByRole("button", { name: "Delete workspace" }).count(), 0);
  assert.equal(await page.getByRole("link", { name: "Permissions" }).count(), 0);
  // The member's explicit viewer role here is an admin's to change: no action on that row.
  const memberRow = page.getByRole("row", { name: new RegExp(r.member.email) });
  await memberRow.getByText("Viewer given here").waitFor();
  assert.equal(await memberRow.getByRole("button").count(), 0);

  // The viewer can be lifted to editor, not to admin.
  await page.getByRole("row", { name: new RegExp(r.viewer.email) }).getByRole("button", { name: /Give a role here to/ }).click();
  const give = await dialogNamed(page, /Give .* a role in Main/);
  await expectAccessible(page, "give a role here dialog");
  assert.deepEqual(await give.getByLabel("Workspace role").locator("option").allTextContents(), ["Editor"]);
  await give.getByRole("button", { name: "Add to workspace" }).click();
  await page.getByRole("row", { name: new RegExp(r.viewer.email) }).getByText("Editor given here").waitFor();
  assert.equal(await explicitRole(r.wsId, r.viewer), "editor");
  assertNoProblems(page);
  await page.context().close();
});

test("8. an owner edits a group (restricting it is refused while an admin is in it), removes a member and deletes it by typing its name", async () => {
  const r = await w.orgRoster();
  const t = r.owner.access_token;
  const created = await w.post(`/v1/orgs/${r.orgId}/groups`, { name: "Ops" }, { token: t });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const groupId = created.body.id;
  for (const u of [r.admin, r.viewer]) {
    assert.equal((await w.request("PUT", `/v1/orgs/${r.orgId}/groups/${groupId}/members/${u.user.id}`, { token: t })).status, 204);
  }
  const granted = await w.request("PUT", `/v1/orgs/${r.orgId}/workspaces/${r.wsId}/grants`, { token: t,
    body: { principal: { type: "group", id: groupId }, resource: { type: "device", id: "d-1" }, permission: "view" } });
  assert.equal(granted.status, 201, JSON.stringify(granted.body));

  const page = await signedIn(r.owner);
  await page.goto(`/orgs/${r.orgId}/groups`);
  const row = page.getByRole("row", { name: /Ops/ });
  await row.getByText("None").waitFor();
  assert.equal((await row.locator("td").nth(1).textContent()).trim(), "2");
  await expectAccessible(page, "groups list");
  await row.getByRole("link", { name: "Ops" }).click();
  await page.getByRole("heading", { name: "Members (2)" }).waitFor();

  // Restricting the group while an admin is in it: the API's reason shows in the restrictions.
  await page.getByRole("button", { name: "Edit group" }).click();
  const edit = await dialogNamed(page, "Edit Ops");
  await edit.getByRole("button", { name: "Add a resource" }).click();
  await edit.getByLabel("Type").fill("device");
  await edit.getByLabel("ID").fill("d-1");
  await edit.getByRole("button", { name: "Save group" }).click();
  await edit.getByRole("group", { name: "Restrictions" }).getByText("owners and admins can never be in a restricting group").waitFor();
  await expectAccessible(page, "edit group dialog with the restrictions refused");
  assert.equal((await w.one("SELECT restricting FROM groups WHERE id = ?", groupId)).restricting, 0);
  await edit.getByRole("button", { name: "Remove resource 1" }).click();
  await edit.getByLabel("Name").fill("Operations");
  await edit.getByRole("button", { name: "Save group" }).click();
  await page.getByRole("heading", { name: "Operations" }).waitFor();
  const stored = await w.one("SELECT name, restricting, restrictions FROM groups WHERE id = ?", groupId);
  assert.deepEqual({ ...stored }, { name: "Operations", restricting: 0, restrictions: "[]" });

  // Take the admin out.
  await page.getByRole("row", { name: new RegExp(r.admin.email) }).getByRole("button", { name: /Remove/ }).click();
  const remove = await dialogNamed(page, "Remove from the group");
  await expectAccessible(page, "remove from group dialog");
  await remove.getByRole("button", { name: "Remove" }).click();
  await page.getByRole("heading", { name: "Members (1)" }).waitFor();
  assert.equal(await w.one("SELECT 1 AS x FROM group_members WHERE group_id = ? AND user_id = ?", groupId, r.admin.user.id), undefined);

  // Delete it: the name must be typed; its grant goes with it.
  await page.getByRole("button", { name: "Delete group" }).click();
  const del = await dialogNamed(page, "Delete Operations");
  await expectAccessible(page, "delete group dialog");
  assert.equal(await del.getByRole("button", { name: "Delete group" }).isDisabled(), true);
  await del.getByLabel("Type “Operations” to confirm").fill("Operations");
  await del.getByRole("button", { name: "Delete group" }).click();
  await page.waitForURL(new RegExp(`/orgs/${r.orgId}/groups$`));
  await page.getByRole("heading", { name: "No groups yet" }).waitFor();
  assert.equal(await w.one("SELECT id FROM groups WHERE id = ?", groupId), undefined);
  assert.equal(await w.one("SELECT id FROM grants WHERE principal_id = ?", groupId), undefined);
  assertNoProblems(page);
  await page.context().close();
});

test("9. at 375 px the workspace page fits, and adding a person works by keyboard", async () => {
  const r = await w.orgRoster();
  const page = await signedIn(r.owner, { width: 375, height: 800 });
  await page.goto(`/orgs/${r.orgId}/workspaces/${r.wsId}`);
  await page.getByRole("row", { name: new RegExp(r.viewer.email) }).waitFor();
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  assert.ok(overflow <= 0, `the page scrolls sideways by ${overflow}px`);
  const addButton = page.getByRole("button", { name: "Add a person" });
  await addButton.scrollIntoViewIfNeeded();
  const box = await addButton.boundingBox();
  assert.ok(box && box.x >= 0 && box.x + box.width <= 375, `the main action is on screen: ${JSON.stringify(box)}`);
  await expectAccessible(page, "workspace at 375 px");

  // Keyboard only: the dialog takes focus, Escape closes it and focus returns.
  await addButton.focus();
  await page.keyboard.press("Enter");
  const add = await dialogNamed(page, "Add a person to Main");
  assert.equal(await add.evaluate((d) => d.contains(document.activeElement)), true, "focus moved into the dialog");
  const dialogBox = await add.boundingBox();
  assert.ok(dialogBox.x >= 0 && dialogBox.x + dialogBox.width <= 375, "the dialog fits");
  await page.keyboard.press("Escape");
  await add.waitFor({ state: "hidden" });
  assert.equal(await addButton.evaluate((b) => b === document.activeElement), true, "focus came back");

  // Then the whole addition by keyboard: Tab from the dialog's close button to the search.
  await page.keyboard.press("Enter");
  await add.waitFor();
  await page.keyboard.press("Tab");
  const search = add.getByLabel("Find a person by name or email");
  assert.equal(await search.evaluate((e) => e === document.activeElement), true, "Tab reaches the search");
  // The member already holds a role given here (viewer, from the roster): not offered.
  await page.keyboard.type(r.member.email);
  const person = add.getByLabel("Person", { exact: true });
  await person.locator("option", { hasText: "No one matches" }).waitFor({ state: "attached" });
  await page.keyboard.press("ControlOrMeta+A");
  await page.keyboard.type(r.viewer.email);
  await person.locator(`option[value="${r.viewer.user.id}"]`).waitFor({ state: "attached" });
  await page.keyboard.press("Tab");
  await page.keyboard.press("ArrowDown");
  assert.equal(await person.inputValue(), r.viewer.user.id);
  await page.keyboard.press("Tab");
  await page.keyboard.press("ArrowUp"); // viewer → editor
  assert.equal(await add.getByLabel("Workspace role").inputValue(), "editor");
  await page.keyboard.press("Tab"); // Cancel
  await page.keyboard.press("Tab"); // Add to workspace
  await page.keyboard.press("Enter");
  await add.waitFor({ state: "hidden" });
  await page.getByRole("row", { name: new RegExp(r.viewer.email) }).getByText("Editor given here").waitFor();
  assert.equal(await explicitRole(r.wsId, r.viewer), "editor");
  assertNoProblems(page);
  await page.context().close();
});
