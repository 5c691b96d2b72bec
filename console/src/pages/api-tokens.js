// API tokens: secrets for machines, scoped to this org (and optionally to some of its
// workspaces). Create one (its secret is shown once, in the dialog that made it; the API
// never returns it again), see every token with its status and last use, revoke one.
// Owners and admins only (`governance`); a token cannot manage tokens, people do.
import { useEffect, useRef, useState } from "preact/hooks";
import { html } from "../html.js";
import { ApiError, api } from "../api.js";
import { Badge, Button, ConfirmDialog, Dialog, Empty, ErrorAlert, Field, Page, Secret, Select, Spinner, useSubmit, when } from "../ui.js";
import { MoreButton, usePaged } from "./account.js";
import { ROLE_LABELS, grantableRoles } from "../roles.js";
import { Governed } from "./usage.js";

const STATUS_TONE = { active: "success", expired: "warning", revoked: "danger" };
const EXPIRY = [["", "Never"], ["30", "In 30 days"], ["90", "In 90 days"], ["365", "In a year"], ["date", "On a date…"]];

/** The `expires_at` the form asks for: none, a number of days from now, or the end of a chosen day. */
function expiresAt(choice, date) {
  if (!choice) return undefined;
  if (choice === "date") return new Date(`${date}T23:59:59`).toISOString();
  return new Date(Date.now() + Number(choice) * 86400e3).toISOString();
}

/** The first field error whose name starts with `prefix` (`workspaces`, `workspaces[2]`, …). */
function firstError(fields, prefix) {
  const key = Object.keys(fields).find((k) => k === prefix || k.startsWith(`${prefix}[`));
  return key && fields[key];
}

const EMPTY = { name: "", role: "viewer", scoped: false, chosen: [], expiry: "", date: "" };

function CreateToken({ org, workspaces, open, onClose, onCreated }) {
  const [f, setF] = useState(EMPTY);
  const [created, setCreated] = useState(null);
  const submit = useSubmit();
  const secretRef = useRef(null);
  const roles = grantableRoles(org.role).filter((r) => r !== "member").reverse();
  const set = (k) => (v) => setF((x) => ({ ...x, [k]: v }));
  // Closing forgets the form and, above all, the secret: it is never shown again. (The
  // dialog stays mounted, so that closing it gives focus back to what opened it.)
  useEffect(() => { if (!open) { setF(EMPTY); setCreated(null); submit.setError(null); } }, [open]);
  // The form's button is gone once the secret shows; focus goes to the secret's copy button.
  useEffect(() => { if (created) secretRef.current?.querySelector("button")?.focus(); }, [created]);

  const create = (e) => {
    e.preventDefault();
    submit.run(async () => {
      if (f.expiry === "date" && !f.date) throw new ApiError(422, { errors: [{ field: "expires_at", message: "Choose the day it expires." }] });
      const body = { name: f.name.trim(), role: f.role };
      // Absent means the whole organization; an empty list is refused, as it should be.
      if (f.scoped) body.workspaces = f.chosen;
      const at = expiresAt(f.expiry, f.date);
      if (at) body.expires_at = at;
      setCreated(await api("POST", `/v1/orgs/${org.id}/api-tokens`, { body }));
      onCreated();
    });
  };
  const toggle = (id) => set("chosen")(f.chosen.includes(id) ? f.chosen.filter((x) => x !== id) : [...f.chosen, id]);
  const wsError = firstError(submit.fields, "workspaces");

  return html`<${Dialog} open=${open} title=${created ? `API token “${created.name}” created` : "Create an API token"} onClose=${onClose} wide>
    ${created ? html`<div ref=${secretRef}>
      <${Secret} label="This is the token's secret." value=${created.token} />
      <p>Send it as <code>Authorization: Bearer …</code> to this organization's API routes.</p>
      <div class="actions"><${Button} onClick=${onClose}>Done</${Button}></div>
    </div>` : html`<form onSubmit=${create} novalidate>
      <${ErrorAlert} error=${submit.error} />
      <${Field} label="Name" value=${f.name} onInput=${set("name")} error=${submit.fields.name} autocomplete="off" required
        hint="What uses it, e.g. “billing sync”. Unique among the organization's tokens." />
      <${Select} label="Role" value=${f.role} onInput=${set("role")} error=${submit.fields.role}
        options=${roles.map((r) => [r, ROLE_LABELS[r]])} hint="The token acts like a member of this role." />
      <fieldset aria-describedby=${wsError ? "token-ws-error" : undefined}>
        <legend>Reach</legend>
        <label class="choice"><input type="radio" name="scope" checked=${!f.scoped} onChange=${() => set("scoped")(false)} /> The whole organization</label>
        <label class="choice"><input type="radio" name="scope" checked=${f.scoped} onChange=${() => set("scoped")(true)} /> Only these workspaces</label>
        ${f.scoped && html`<div class="choices">
          ${!workspaces.rows ? html`<${Spinner} />` : workspaces.rows.length === 0 ? html`<p class="muted">This organization has no workspaces.</p>`
            : workspaces.rows.map((w) => html`<label class="choice"><input type="checkbox" checked=${f.chosen.includes(w.id)} onChange=${() => toggle(w.id)} /> ${w.name}</label>`)}
          <${MoreButton} list=${workspaces} />
        </div>`}
        ${wsError && html`<p class="field-error" id="token-ws-error">${wsError}</p>`}
      </fieldset>
      <div class="row">
        <${Select} label="Expires" value=${f.expiry} onInput=${set("expiry")} options=${EXPIRY}
          error=${f.expiry === "date" ? undefined : submit.fields.expires_at} />
        ${f.expiry === "date" && html`<${Field} label="Expiry date" type="date" value=${f.date} onInput=${set("date")}
          error=${submit.fields.expires_at} required hint="The token stops working at the end of this day." />`}
      </div>
      <div class="actions">
        <${Button} kind="secondary" type="button" onClick=${onClose}>Cancel</${Button}>
        <${Button} busy=${submit.busy} type="submit">Create token</${Button}>
      </div>
    </form>`}
  </${Dialog}>`;
}

function Tokens({ org }) {
  const list = usePaged(`/v1/orgs/${org.id}/api-tokens`, { limit: 50 });
  // The org's workspaces: to choose a token's reach, and to name the ones a token lists.
  const workspaces = usePaged(`/v1/orgs/${org.id}/workspaces`, { limit: 200 });
  const [creating, setCreating] = useState(false);
  const [revoking, setRevoking] = useState(null);
  const wsName = (id) => workspaces.rows?.find((w) => w.id === id)?.name || id;
  const createButton = html`<${Button} onClick=${() => setCreating(true)}>Create API token</${Button}>`;

  return html`<${Page} title="API tokens" description="Secrets that let machines call this organization's API, each with a role."
    actions=${list.rows?.length > 0 && createButton}>
    <${ErrorAlert} error=${list.error} />
    ${!list.rows ? !list.error && html`<${Spinner} />` : list.rows.length === 0
      ? html`<${Empty} title="No API tokens yet" action=${createButton}>A token lets a service or script call the API as this organization, with the role you give it.</${Empty}>`
      : html`<div class="table-wrap"><table>
        <caption class="visually-hidden">API tokens</caption>
        <thead><tr><th scope="col">Name</th><th scope="col">Status</th><th scope="col">Role</th><th scope="col">Reach</th><th scope="col">Created</th><th scope="col">Expires</th><th scope="col">Last used</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>
        <tbody>${list.rows.map((t) => html`<tr>
          <th scope="row"><span class="name">${t.name}</span></th>
          <td><${Badge} tone=${STATUS_TONE[t.status] || "neutral"}>${t.status}</${Badge}></td>
          <td>${ROLE_LABELS[t.role] || t.role}</td>
          <td>${t.workspaces ? t.workspaces.length === 0 ? html`<span class="muted">No workspace left</span>` : t.workspaces.map((id) => html`<span class="chip">${wsName(id)}</span>`) : "Whole organization"}</td>
          <td>${when(t.created_at)}<span class="muted block">${t.created_by ? t.created_by.email : "deleted account"}</span></td>
          <td>${t.revoked_at ? html`Revoked ${when(t.revoked_at)}` : t.expires_at ? when(t.expires_at) : "Never"}</td>
          <td>${t.last_used_at ? when(t.last_used_at) : "Never"}</td>
          <td class="row-actions">${t.status === "active" && html`<${Button} kind="danger-ghost" onClick=${() => setRevoking(t)}>Revoke<span class="visually-hidden"> ${t.name}</span></${Button}>`}</td>
        </tr>`)}</tbody>
      </table></div>`}
    <${MoreButton} list=${list} />
    <${CreateToken} org=${org} workspaces=${workspaces} open=${creating} onClose=${() => setCreating(false)} onCreated=${list.reload} />
    <${ConfirmDialog} open=${Boolean(revoking)} title="Revoke API token" confirmLabel="Revoke token"
      onClose=${() => setRevoking(null)}
      onConfirm=${async () => {
        await api("DELETE", `/v1/orgs/${org.id}/api-tokens/${revoking.id}`);
        setRevoking(null);
        list.reload();
      }}>
      <p>${revoking && html`Revoke <strong>${revoking.name}</strong>? Whatever uses it is refused from its very next request. This cannot be undone.`}</p>
    </${ConfirmDialog}>
  </${Page}>`;
}

export function ApiTokens({ org }) {
  return html`<${Governed} org=${org} title="API tokens"><${Tokens} org=${org} /></${Governed}>`;
}
