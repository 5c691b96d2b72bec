// The organization's screens: the navigation entry (a path under /orgs/{org}/), its label,
// the permission of `GET /v1/orgs/{org}`'s `permissions` that shows it, and the paths it
// answers.
import { Members } from "./members.js";
import { ApiTokens } from "./api-tokens.js";
import { Audit } from "./audit.js";
import { Usage } from "./usage.js";
import { Settings } from "./settings.js";

export const ORG_SCREENS = [
  { nav: "members", label: "Members", permission: "org.directory.view", routes: [["/members", Members]] },
  { nav: "api-tokens", label: "API tokens", permission: "governance", routes: [["/api-tokens", ApiTokens]] },
  { nav: "audit", label: "Audit log", permission: "governance", routes: [["/audit", Audit]] },
  { nav: "usage", label: "Usage", permission: "governance", routes: [["/usage", Usage]] },
  { nav: "settings", label: "Settings", permission: "org.view", routes: [["/settings", Settings]] },
];
