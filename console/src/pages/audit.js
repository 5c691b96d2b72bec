// The audit log: the org's trail, newest first, filtered by actor, action and time window,
// in cursor pages; the same selection downloads as NDJSON (the API streams the whole export,
// one event per line). Owners and admins only (`governance`).
import { useState } from "preact/hooks";
import { html } from "../html.js";
import { ApiError, api } from "../api.js";
import { Badge, Button, Empty, ErrorAlert, Field, Page, Spinner, useSubmit, when } from "../ui.js";
import { MoreButton, usePaged } from "./account.js";
import { Governed } from "./usage.js";

// Suggestions for the action filter (any name or `prefix.*` is accepted): what the org's
// trail records, by kind.
const ACTIONS = {
  org: "created updated ownership_transferred limits_changed",
  member: "added role_changed removed activation_resent",
  workspace: "created updated deleted",
  workspace_member: "added role_changed removed",
  invitation: "created resent withdrawn accepted declined expired",
  group: "created updated deleted member_added member_removed",
  grant: "created updated revoked",
  api_token: "created revoked",
  user: "signed_up password_reset password_reset_requested unlocked deleted",
};
const SUGGESTIONS = Object.entries(ACTIONS).flatMap(([kind, names]) => [`${kind}.*`, ...names.split(" ").map((n) => `${kind}.${n}`)]);

/** A `datetime-local` value (the person's local time) as the RFC 3339 time the API takes. */
function rfc3339(local) {
  if (!local) return undefined;
  const d = new Date(local);
  return Number.isNaN(d.getTime()) ? local : d.toISOString();
}

function actorText(a) {
  if (!a) return "The service (automatic)";
  if (a.type === "api_token") return `API token “${a.name ?? a.id}”`;
  if (a.type === "operator") return "Platform operator";
  return a.email || a.id;
}

function details(metadata) {
  if (!metadata || typeof metadata !== "object") return null;
  return Object.entries(metadata)
    .filter(([, v]) => v !== null)
    .map(([k, v]) => html`<span class="chip">${k}: ${typeof v === "object" ? JSON.stringify(v) : String(v)}</span>`);
}

/** Downloads the export of `filters` as a file, through a Blob (nothing leaves the page's origin). */
async function exportNdjson(org, filters) {
  const blob = await api("GET", `/v1/orgs/${org.id}/audit-events`, {
    query: { ...filters, format: "ndjson" },
    accept: "application/x-ndjson",
    as: "blob",
  });
  const href = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = href;
  a.download = `audit-log-${new Date().toISOString().slice(0, 10)}.ndjson`;
  document.body.append(a);
  a.click();
  a.remove();
  // The click has handed the file to the browser; the object URL can go a moment later.
  setTimeout(() => URL.revokeObjectURL(href), 1000);
  return blob.size;
}

const NO_FILTERS = { actor: "", action: "", since: "", until: "" };

function Trail({ org }) {
  // What the form shows, and what the list and the export use (applied on submit, so a
  // half-typed filter asks nothing).
  const [form, setForm] = useState(NO_FILTERS);
  const [applied, setApplied] = useState({});
  const list = usePaged(`/v1/orgs/${org.id}/audit-events`, { ...applied, limit: 50 });
  const download = useSubmit();
  const set = (k) => (v) => setForm((f) => ({ ...f, [k]: v }));
  const apply = (e) => {
    e.preventDefault();
    setApplied({ actor: form.actor.trim(), action: form.action.trim(), since: rfc3339(form.since), until: rfc3339(form.until) });
  };
  const clear = () => { setForm(NO_FILTERS); setApplied({}); };
  // A refused filter is named by the API; its message goes beside that field.
  const fields = list.error instanceof ApiError ? list.error.fields : {};
  const filtered = Object.values(applied).some(Boolean);

  return html`<${Page} title="Audit log" description="Who did what in this organization, newest first."
    actions=${html`<${Button} kind="secondary" busy=${download.busy} onClick=${() => download.run(() => exportNdjson(org, applied))}>Export NDJSON</${Button}>`}>
    <form class="card filters audit-filters" role="search" aria-label="Filter the audit log" onSubmit=${apply} novalidate>
      <${Field} label="Actor" value=${form.actor} onInput=${set("actor")} error=${fields.actor} autocomplete="off"
        hint="An email, a user id or an API token id." />
      <${Field} label="Action" value=${form.action} onInput=${set("action")} error=${fields.action} autocomplete="off"
        list="audit-actions" hint="A name like member.added, or all of a kind: member.*" />
      <datalist id="audit-actions">${SUGGESTIONS.map((a) => html`<option value=${a} />`)}</datalist>
      <${Field} label="From" type="datetime-local" value=${form.since} onInput=${set("since")} error=${fields.since} />
      <${Field} label="Until" type="datetime-local" value=${form.until} onInput=${set("until")} error=${fields.until} />
      <div class="filter-actions">
        <${Button} type="submit">Apply filters</${Button}>
        <${Button} kind="secondary" type="button" onClick=${clear}>Clear</${Button}>
      </div>
    </form>
    <${ErrorAlert} error=${download.error || list.error} />
    ${!list.rows ? !list.error && html`<${Spinner} />` : list.rows.length === 0
      ? html`<${Empty} title=${filtered ? "No event matches these filters" : "No events yet"}
          action=${filtered && html`<${Button} kind="secondary" onClick=${clear}>Clear the filters</${Button}>`} />`
      : html`<div class="table-wrap"><table>
        <caption class="visually-hidden">Audit events</caption>
        <thead><tr><th scope="col">Time</th><th scope="col">Action</th><th scope="col">Actor</th><th scope="col">Target</th><th scope="col">Result</th><th scope="col">Details</th><th scope="col">IP address</th></tr></thead>
        <tbody>${list.rows.map((e) => html`<tr>
          <td class="nowrap">${when(e.at)}</td>
          <th scope="row"><code>${e.action}</code></th>
          <td>${actorText(e.actor)}${e.auth_method && html`<span class="muted block">${e.auth_method}</span>`}</td>
          <td>${e.target ? html`${e.target.type} <code class="nowrap" title=${e.target.id}>…${e.target.id.slice(-8)}</code>` : "—"}</td>
          <td>${e.success ? html`<${Badge} tone="success">success</${Badge}>` : html`<${Badge} tone="danger">failed</${Badge}>`}</td>
          <td>${details(e.metadata)}</td>
          <td>${e.ip || "—"}</td>
        </tr>`)}</tbody>
      </table></div>`}
    <${MoreButton} list=${list} />
  </${Page}>`;
}

export function Audit({ org }) {
  return html`<${Governed} org=${org} title="Audit log"><${Trail} org=${org} /></${Governed}>`;
}
