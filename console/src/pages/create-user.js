// Create user (the seed products' form): first and last name, email, access level (the org
// role), country code and mobile number, workspaces with roles, groups (dashboard
// permissions), and how the person gets in: an activation email, or a single-use password
// (given or generated) shown once. Editors create up to editor with activation emails;
// single-use passwords and groups are for owners and admins (`accounts.admin`,
// `governance`). An email that already has an account joins the org with it instead.
import { useEffect, useRef, useState } from "preact/hooks";
import { html } from "../html.js";
import { api } from "../api.js";
import { can } from "../session.js";
import { PhoneFields } from "../phone.js";
import { Alert, Button, ErrorAlert, Field, Page, Secret, Select, Spinner, fullName, useSubmit } from "../ui.js";
import { MoreButton, usePaged } from "./account.js";
import { Choice } from "./members.js";
import { ROLE_LABELS, grantableRoles, grantableWorkspaceRoles } from "../roles.js";

const ROLE_HINTS = {
  admin: "Manages members, roles, invitations, workspaces, groups and API tokens.",
  editor: "Edits the organization and every workspace; creates workspaces; adds people up to editor.",
  viewer: "Sees the organization, every workspace and the members; changes nothing.",
  member: "Reaches only the workspaces given below.",
};

/** A field error the API names `prefix[i]…`, for the entry `i` of what was sent. */
function entryError(fields, prefix, i) {
  const key = Object.keys(fields).find((k) => k === `${prefix}[${i}]` || k.startsWith(`${prefix}[${i}].`));
  return key && fields[key];
}

/** One role per workspace, "No role of their own" leaving the workspace out. */
function WorkspaceRoles({ org, grants, setGrants, sent, fields }) {
  const list = usePaged(`/v1/orgs/${org.id}/workspaces`, { limit: 100 });
  const roles = grantableWorkspaceRoles(org.role);
  return html`<fieldset>
    <legend>Workspaces (optional)</legend>
    <p class="hint">Besides these, the access level reaches every workspace (admins as admin, editors as editor, viewers as viewer); a member reaches only the workspaces given here.</p>
    ${fields.workspaces && html`<p class="field-error">${fields.workspaces}</p>`}
    <${ErrorAlert} error=${list.error} />
    ${!list.rows ? html`<${Spinner} />` : list.rows.length === 0 ? html`<p class="muted">The organization has no workspace yet.</p>` : html`<div class="grants">
      ${list.rows.map((w) => html`<${Select} label=${w.name} value=${grants[w.id] || ""}
        onInput=${(role) => setGrants({ ...grants, [w.id]: role })}
        error=${entryError(fields, "workspaces", sent.indexOf(w.id))}
        options=${[["", "No role of their own"], ...roles.map((r) => [r, ROLE_LABELS[r]])]} />`)}
    </div>`}
    <${MoreButton} list=${list} />
  </fieldset>`;
}

/**
 * The groups (dashboard permissions) to join, as group id → whether it restricts (a
 * restricting group is never for an admin).
 */
function GroupChoices({ org, role, groups, setGroups, sent, fields }) {
  const list = usePaged(`/v1/orgs/${org.id}/groups`, { limit: 100 });
  const toggle = (g, on) => {
    const next = { ...groups };
    if (on) next[g.id] = g.restrictions.length > 0;
    else delete next[g.id];
    setGroups(next);
  };
  return html`<fieldset>
    <legend>Groups (optional)</legend>
    <p class="hint">Groups carry access to dashboards and other resources of the workspaces.</p>
    <${ErrorAlert} error=${list.error} />
    ${!list.rows ? html`<${Spinner} />` : list.rows.length === 0 ? html`<p class="muted">The organization has no group yet.</p>` : list.rows.map((g) => {
      const restricting = g.restrictions.length > 0;
      const barred = restricting && role === "admin";
      const error = entryError(fields, "groups", sent.indexOf(g.id));
      return html`<div>
        <${Choice} type="checkbox" checked=${g.id in groups && !barred} disabled=${barred}
          onChange=${(e) => toggle(g, e.currentTarget.checked)} label=${g.name}
          hint=${[g.description, restricting && (barred ? "Restricting: never for admins." : "Restricting: limits what its members reach.")].filter(Boolean).join(" ") || undefined} />
        ${error && html`<p class="field-error">${error}</p>`}
      </div>`;
    })}
    <${MoreButton} list=${list} />
  </fieldset>`;
}

const EMPTY = { first: "", last: "", email: "", role: "viewer", code: "", number: "", grants: {}, groups: {}, credential: "activation_email", password: "" };

export function CreateUser({ org }) {
  const [form, setForm] = useState(EMPTY);
  const [created, setCreated] = useState(null);
  // What the last attempt sent, in order, to put `workspaces[i]` and `groups[i]` errors on their entries.
  const [sent, setSent] = useState({ workspaces: [], groups: [] });
  const submit = useSubmit();
  const heading = useRef(null);
  const set = (key) => (value) => setForm((f) => ({ ...f, [key]: value }));
  const governance = can(org, "governance");
  const singleUse = can(org, "accounts.admin");
  useEffect(() => { if (created) heading.current?.focus(); }, [created]);

  const back = html`<a class="btn btn-secondary" href=${`/orgs/${org.id}/members`}>All members</a>`;
  if (!can(org, "users.invite")) {
    return html`<${Page} title="Create user" actions=${back}>
      <${Alert} kind="error">Your role does not allow creating users. Ask an owner, admin or editor of ${org.name}.</${Alert}>
    </${Page}>`;
  }

  const create = (e) => {
    e.preventDefault();
    submit.run(async () => {
      const workspaces = Object.entries(form.grants).filter(([, role]) => role).map(([workspace_id, role]) => ({ workspace_id, role }));
      // Restricting groups ticked before admin was chosen show unticked, and stay out.
      const groups = Object.entries(form.groups).filter(([, restricting]) => !(restricting && form.role === "admin")).map(([id]) => id);
      setSent({ workspaces: workspaces.map((w) => w.workspace_id), groups });
      const body = {
        first_name: form.first.trim(), last_name: form.last.trim(), email: form.email.trim(),
        role: form.role, workspaces, groups, credential: form.credential,
      };
      if (form.code.trim() || form.number.trim()) Object.assign(body, { country_code: form.code.trim(), mobile_number: form.number.trim() });
      if (form.credential === "single_use_password" && form.password) body.password = form.password;
      setCreated(await api("POST", `/v1/orgs/${org.id}/members`, { body }));
    });
  };

  if (created) {
    const u = created.user;
    return html`<${Page} title="Create user" actions=${back}>
      <section class="card">
        <h2 ref=${heading} tabindex="-1">${created.created_account ? `Account created for ${fullName(u)}` : `${fullName(u)} joined ${org.name}`}</h2>
        ${!created.created_account
          ? html`<${Alert} kind="info">${u.email} already had an account, so they joined as ${ROLE_LABELS[created.role].toLowerCase()} with it. No password was set: they sign in as before.</${Alert}>`
          : created.single_use_password
            ? html`<${Secret} label=${`The single-use password of ${u.email}.`} value=${created.single_use_password} />
              <p>Give it to ${u.first_name} in person or another safe way. At the first sign-in they must choose their own password.</p>`
            : html`<${Alert} kind="success">We emailed an activation link to ${u.email}. It works for 24 hours; from their page you can send a new one.</${Alert}>`}
        <div class="actions start">
          <a class="btn btn-primary" href=${`/orgs/${org.id}/members/${u.id}`}>Open their page</a>
          <${Button} kind="secondary" onClick=${() => { setForm(EMPTY); setCreated(null); }}>Create another user</${Button}>
        </div>
      </section>
    </${Page}>`;
  }

  const f = submit.fields;
  return html`<${Page} title="Create user" description=${`A new account in ${org.name}, or an existing one added to it.`} actions=${back}>
    <form class="card" onSubmit=${create} novalidate>
      <${ErrorAlert} error=${submit.error} />
      <div class="row">
        <${Field} label="First name" value=${form.first} onInput=${set("first")} error=${f.first_name} autocomplete="off" required />
        <${Field} label="Last name" value=${form.last} onInput=${set("last")} error=${f.last_name} autocomplete="off" required />
      </div>
      <${Field} label="Email" type="email" value=${form.email} onInput=${set("email")} error=${f.email} autocomplete="off"
        hint="They sign in with it and receive notifications there." required />
      <${Select} label="Access level" value=${form.role} onInput=${set("role")} error=${f.role} hint=${ROLE_HINTS[form.role]}
        options=${grantableRoles(org.role).map((r) => [r, ROLE_LABELS[r]])} required />
      <${PhoneFields} code=${form.code} number=${form.number} onCode=${set("code")} onNumber=${set("number")} errors=${f} />
      <${WorkspaceRoles} org=${org} grants=${form.grants} setGrants=${set("grants")} sent=${sent.workspaces} fields=${f} />
      ${governance && html`<${GroupChoices} org=${org} role=${form.role} groups=${form.groups} setGroups=${set("groups")} sent=${sent.groups} fields=${f} />`}
      <fieldset>
        <legend>How they get in</legend>
        ${f.credential && html`<p class="field-error">${f.credential}</p>`}
        <${Choice} name="credential" value="activation_email" checked=${form.credential === "activation_email"}
          onChange=${() => set("credential")("activation_email")}
          label="Send an activation email" hint="They choose their password through a link that works for 24 hours." />
        ${singleUse && html`<${Choice} name="credential" value="single_use_password" checked=${form.credential === "single_use_password"}
          onChange=${() => set("credential")("single_use_password")}
          label="Set a single-use password" hint="For people without email access now: shown once after creating, replaced at their first sign-in." />`}
        ${form.credential === "single_use_password" && html`<${Field} label="Single-use password (optional)" type="password" value=${form.password}
          onInput=${set("password")} error=${f.password} autocomplete="new-password"
          hint="Leave empty to have one generated. At least 8 characters; not a common password." />`}
      </fieldset>
      <div class="actions start">
        <${Button} busy=${submit.busy} type="submit">Create user</${Button}>
      </div>
    </form>
  </${Page}>`;
}
