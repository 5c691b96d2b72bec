// The organization's screens: the navigation entry (a path under /orgs/{org}/), its label,
// the permission of `GET /v1/orgs/{org}`'s `permissions` that shows it, and the paths it
// answers.
import { Members } from "./members.js";
import { Roles } from "./roles.js";
import { Workspaces, WorkspaceUsersPage, WorkspacePermissionsPage } from "./workspaces.js";
import { Groups, GroupDetail } from "./groups.js";

export const ORG_SCREENS = [
  { nav: "members", label: "Members", permission: "org.directory.view", routes: [["/members", Members]] },
  { nav: "roles", label: "Roles", permission: "org.directory.view", routes: [["/roles", Roles]] },
  { nav: "workspaces", label: "Workspaces", permission: "org.view", routes: [["/workspaces", Workspaces], ["/workspaces/:ws", WorkspaceUsersPage], ["/workspaces/:ws/permissions", WorkspacePermissionsPage]] },
  { nav: "groups", label: "Groups", permission: "governance", routes: [["/groups", Groups], ["/groups/:group", GroupDetail]] },
];
