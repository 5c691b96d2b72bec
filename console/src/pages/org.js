// The organization's screens: the navigation entry (a path under /orgs/{org}/), its label,
// the permission of `GET /v1/orgs/{org}`'s `permissions` that shows it, and the paths it
// answers. Each screen's code loads when it is first opened (`lazy`).
import { lazy } from "../lazy.js";

const members = () => import("./members.js");
const workspaces = () => import("./workspaces.js");
const groups = () => import("./groups.js");

export const ORG_SCREENS = [
  {
    nav: "members", label: "Members", permission: "org.directory.view", routes: [
      ["/members", lazy(members, "Members")],
      ["/members/new", lazy(() => import("./create-user.js"), "CreateUser")],
      ["/members/:user", lazy(members, "MemberDetail")],
    ],
  },
  { nav: "invitations", label: "Invitations", permission: "users.invite", routes: [["/invitations", lazy(() => import("./invitations.js"), "Invitations")]] },
  { nav: "roles", label: "Roles", permission: "org.directory.view", routes: [["/roles", lazy(() => import("./roles.js"), "Roles")]] },
  {
    nav: "workspaces", label: "Workspaces", permission: "org.view", routes: [
      ["/workspaces", lazy(workspaces, "Workspaces")],
      ["/workspaces/:ws", lazy(workspaces, "WorkspaceUsersPage")],
      ["/workspaces/:ws/permissions", lazy(workspaces, "WorkspacePermissionsPage")],
    ],
  },
  {
    nav: "groups", label: "Groups", permission: "governance", routes: [
      ["/groups", lazy(groups, "Groups")],
      ["/groups/:group", lazy(groups, "GroupDetail")],
    ],
  },
  { nav: "api-tokens", label: "API tokens", permission: "governance", routes: [["/api-tokens", lazy(() => import("./api-tokens.js"), "ApiTokens")]] },
  { nav: "sso", label: "Single sign-on", permission: "governance", routes: [["/sso", lazy(() => import("./sso.js"), "SingleSignOn")]] },
  { nav: "scim", label: "Provisioning", permission: "governance", routes: [["/scim", lazy(() => import("./scim.js"), "Provisioning")]] },
  { nav: "audit", label: "Audit log", permission: "governance", routes: [["/audit", lazy(() => import("./audit.js"), "Audit")]] },
  { nav: "usage", label: "Usage", permission: "governance", routes: [["/usage", lazy(() => import("./usage.js"), "Usage")]] },
  { nav: "settings", label: "Settings", permission: "org.view", routes: [["/settings", lazy(() => import("./settings.js"), "Settings")]] },
];
