// The organization's screens: the navigation entry (a path under /orgs/{org}/), its label,
// the permission of `GET /v1/orgs/{org}`'s `permissions` that shows it, and the paths it
// answers.
import { Members, MemberDetail } from "./members.js";
import { CreateUser } from "./create-user.js";

export const ORG_SCREENS = [
  { nav: "members", label: "Members", permission: "org.directory.view", routes: [["/members", Members], ["/members/new", CreateUser], ["/members/:user", MemberDetail]] },
];
