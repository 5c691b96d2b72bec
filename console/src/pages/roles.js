// The role overview: each org role with its description, how many people hold it, and what
// it may do, in words and by the permission's name (the names `GET /v1/orgs/{org}` lists and
// API clients see); then what the workspace roles allow, which the org roles hand down.
import { useEffect, useState } from "preact/hooks";
import { html } from "../html.js";
import { api } from "../api.js";
import { Badge, ErrorAlert, Page, Spinner } from "../ui.js";
import { ROLE_LABELS } from "../roles.js";

/** Each permission of the matrix (src/domain/permissions.rs) as a person would say it. */
export const PERMISSION_WORDS = {
  "org.view": "See the organization",
  "org.directory.view": "See all workspaces, all members and this overview",
  "org.edit": "Edit the organization's name, description and logo",
  "workspace.create": "Create workspaces",
  "workspace.delete": "Delete workspaces",
  "users.invite": "Invite and create users, up to their own role (admin at most)",
  "invitations.manage_all": "Resend or withdraw anyone's invitations",
  "members.manage": "Change members' roles and remove members (never the owner)",
  "accounts.admin": "Account actions: single-use passwords, password resets, unlocking, activation emails, deleting accounts the organization created",
  governance: "Groups, resource permissions, API tokens, the audit log and usage",
  "org.delete": "Delete the organization",
  "org.transfer_ownership": "Transfer ownership",
};

const WORKSPACE_ROLES = [
  ["Admin", "Everything an editor may, plus changing workspace roles and removing people from the workspace.", "Owners and admins of the organization"],
  ["Editor", "Sees the workspace, edits its name and description, adds people as editor or viewer.", "Editors of the organization"],
  ["Viewer", "Sees the workspace and who has access to it, and changes nothing.", "Viewers of the organization"],
];

export function Roles({ org }) {
  const [state, setState] = useState({ roles: null, error: null });
  useEffect(() => {
    api("GET", `/v1/orgs/${org.id}/roles`).then(
      (r) => setState({ roles: r.data, error: null }),
      (error) => setState({ roles: null, error }),
    );
  }, [org.id]);

  return html`<${Page} title="Roles" description=${`What each role may do in ${org.name}, and how many people hold it.`}>
    <${ErrorAlert} error=${state.error} />
    ${!state.roles ? !state.error && html`<${Spinner} />` : html`<ul class="cards role-cards">
      ${state.roles.map((r) => html`<li class="card" data-role=${r.role}>
        <div class="role-head">
          <h2>${ROLE_LABELS[r.role] || r.role}${r.role === org.role && html`<${Badge} tone="success">your role</${Badge}>`}</h2>
          <p class="role-count"><strong>${r.member_count}</strong> ${r.member_count === 1 ? "member" : "members"}</p>
        </div>
        <p>${r.description}</p>
        <h3 class="visually-hidden">Permissions of ${ROLE_LABELS[r.role] || r.role}</h3>
        <ul class="permissions">${r.permissions.map((p) => html`<li>
          ${PERMISSION_WORDS[p] || p}${PERMISSION_WORDS[p] && html` <code>${p}</code>`}
        </li>`)}</ul>
      </li>`)}
    </ul>`}
    <section class="card">
      <h2>Workspace roles</h2>
      <p>Inside a workspace, a person holds the higher of the role given to them there and the one their organization role hands down. Members hold only the workspace roles given to them.</p>
      <div class="table-wrap"><table>
        <caption class="visually-hidden">Workspace roles</caption>
        <thead><tr><th scope="col">Workspace role</th><th scope="col">May</th><th scope="col">Held by inheritance by</th></tr></thead>
        <tbody>${WORKSPACE_ROLES.map(([name, may, inherited]) => html`<tr><th scope="row" class="name">${name}</th><td>${may}</td><td>${inherited}</td></tr>`)}</tbody>
      </table></div>
    </section>
  </${Page}>`;
}
