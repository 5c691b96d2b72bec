// The organization's screens: the navigation entry (a path under /orgs/{org}/), its label,
// the permission of `GET /v1/orgs/{org}`'s `permissions` that shows it, and the paths it
// answers.
import { Members } from "./members.js";
import { Invitations } from "./invitations.js";

export const ORG_SCREENS = [
  { nav: "members", label: "Members", permission: "org.directory.view", routes: [["/members", Members]] },
  { nav: "invitations", label: "Invitations", permission: "users.invite", routes: [["/invitations", Invitations]] },
];
