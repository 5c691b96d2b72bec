// The role vocabulary every screen shows, and the ceilings the API applies (README,
// permission matrix; domain::permissions and domain::roles): one copy for all screens.

export const ROLE_LABELS = { owner: "Owner", admin: "Admin", editor: "Editor", viewer: "Viewer", member: "Member" };
export const WS_ROLE_LABELS = { admin: "Admin", editor: "Editor", viewer: "Viewer" };

/** The workspace role an org role reaches every workspace with; a member has none. */
export const INHERITED = { owner: "admin", admin: "admin", editor: "editor", viewer: "viewer", member: null };

/** Org roles the caller may give: never owner (transfer only), never above admin, never above their own. */
export function grantableRoles(callerRole) {
  const order = ["member", "viewer", "editor", "admin"];
  const max = callerRole === "owner" ? "admin" : callerRole;
  return order.slice(0, order.indexOf(max) + 1);
}

/** Workspace roles an inviter or creator may give: up to the one their org role carries into every workspace (editor and up may invite). */
export function grantableWorkspaceRoles(callerRole) {
  const max = { owner: "admin", admin: "admin", editor: "editor" }[callerRole];
  const order = ["viewer", "editor", "admin"];
  return max ? order.slice(0, order.indexOf(max) + 1) : [];
}
