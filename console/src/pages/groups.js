// Groups (owners and admins: `governance`): named sets of members that permissions can be
// given to together, and that may restrict their members to a list of resources. The list,
// a group's page with its restrictions and members; creating, editing and deleting groups.
// Also the pieces the workspace screens share: choosing a member of the org, naming a
// resource, and the permissions' words.
import { useEffect, useRef, useState } from "preact/hooks";
import { html } from "../html.js";
import { api } from "../api.js";
import { navigate } from "../router.js";
import { can } from "../session.js";
import { Badge, Button, ConfirmDialog, Dialog, Empty, ErrorAlert, Field, Page, Select, Spinner, fullName, useDebounced, useSubmit, when } from "../ui.js";
import { MoreButton, usePaged } from "./account.js";
import { ROLE_LABELS } from "../roles.js";

let ids = 0;

/** What a grant's permission lets its holder do to the resource (src/domain/authz.rs). */
export const PERMISSIONS = [
  ["view", "View: see it"],
  ["edit", "Edit: see and change it"],
  ["manage", "Manage: full control, as a workspace admin has"],
];

/**
 * Chooses a member of the org from the directory: a search box (name or email) that
 * narrows a list to pick from. `value` is the chosen directory entry (`{user, role, …}`);
 * `allow(entry)` says who may be offered (and `why` says who is left out).
 */
export function PersonPicker({ org, label = "Person", value, onChange, allow = () => true, why, error }) {
  const [q, setQ] = useState("");
  const search = useDebounced(q.trim());
  const [found, setFound] = useState({ rows: null, error: null });
  useEffect(() => {
    let live = true;
    api("GET", `/v1/orgs/${org.id}/members`, { query: { q: search, limit: 25 } }).then(
      (page) => live && setFound({ rows: page.data.filter(allow), error: null }),
      (e) => live && setFound({ rows: [], error: e }),
    );
    return () => { live = false; };
  }, [org.id, search]);
  // The chosen person stays on offer while another search shows other people.
  const rows = found.rows || [];
  const offered = value && !rows.some((m) => m.user.id === value.user.id) ? [value, ...rows] : rows;
  const placeholder = found.rows === null ? "Searching…" : offered.length ? "Choose a person…" : "No one matches";
  return html`<div class="person-picker">
    <${Field} label=${`Find a ${label.toLowerCase()} by name or email`} type="search" value=${q} onInput=${setQ} autocomplete="off" maxLength="100" hint=${why} />
    <${ErrorAlert} error=${found.error} />
    <${Select} label=${label} value=${value?.user.id || ""} error=${error} required
      onInput=${(id) => onChange(offered.find((m) => m.user.id === id) || null)}
      options=${[["", placeholder], ...offered.map((m) => [m.user.id, `${fullName(m.user)} (${m.user.email}), ${ROLE_LABELS[m.role] || m.role}`])]} />
  </div>`;
}

/** A resource's type and id, with the types people use most offered while typing. */
export function ResourceFields({ value, onInput, errors = {}, legend }) {
  const listId = useRef(`kinds${++ids}`).current;
  return html`<fieldset class="resource">
    <legend>${legend}</legend>
    <div class="row">
      <${Field} label="Type" value=${value.type} onInput=${(type) => onInput({ ...value, type })} error=${errors.type}
        list=${listId} autocomplete="off" maxLength="64" hint="For example dashboard or device" required />
      <${Field} label="ID" value=${value.id} onInput=${(id) => onInput({ ...value, id })} error=${errors.id} autocomplete="off" maxLength="256" required />
    </div>
    <datalist id=${listId}><option value="dashboard" /><option value="device" /><option value="report" /></datalist>
  </fieldset>`;
}

/** The errors of `field.type` / `field.id` in a problem's field map. */
export function partErrors(fields, field) {
  return { type: fields[`${field}.type`], id: fields[`${field}.id`] };
}

function RestrictionsEditor({ list, onChange, fields }) {
  const set = (i, r) => onChange(list.map((x, j) => (j === i ? r : x)));
  return html`<fieldset>
    <legend>Restrictions</legend>
    <p class="hint">With restrictions, the group's members reach only the resources listed here, in every workspace, whatever their role or the permissions given to them. Owners and admins can never be in such a group. Without restrictions the group limits nothing.</p>
    ${fields.restrictions && html`<p class="field-error">${fields.restrictions}</p>`}
    ${list.map((r, i) => html`<div class="restriction">
      <${ResourceFields} legend=${`Resource ${i + 1}`} value=${r} onInput=${(v) => set(i, v)} errors=${partErrors(fields, `restrictions[${i}]`)} />
      <${Button} kind="danger-ghost" type="button" onClick=${() => onChange(list.filter((_, j) => j !== i))}
        aria-label=${`Remove resource ${i + 1}`}>Remove</${Button}>
    </div>`)}
    <p><${Button} kind="secondary" type="button" onClick=${() => onChange([...list, { type: "", id: "" }])}>Add a resource</${Button}></p>
  </fieldset>`;
}

/**
 * Creates a group (no `group`) or edits one; `onDone(group)` gets the group as saved. The
 * forms of this screen go inside a `Dialog` that stays mounted while closed: a <dialog>
 * taken out of the page drops focus to the body, one that closes hands it back to the
 * button that opened it. The form itself mounts afresh at each opening.
 */
function GroupForm({ org, group, onClose, onDone }) {
  const [name, setName] = useState(group?.name || "");
  const [description, setDescription] = useState(group?.description || "");
  const [restrictions, setRestrictions] = useState(group?.restrictions || []);
  const submit = useSubmit();
  const save = (e) => {
    e.preventDefault();
    submit.run(async () => {
      // Rows left wholly blank are dropped; a half-filled one goes to the API, which names it.
      const list = restrictions.filter((r) => r.type.trim() || r.id.trim()).map((r) => ({ type: r.type.trim(), id: r.id }));
      // An edit sends only what changed, so the audit trail names just those fields.
      const body = {};
      if (!group || name.trim() !== group.name) body.name = name.trim();
      if (!group || description.trim() !== (group.description || "")) body.description = description.trim() || (group ? null : undefined);
      if (!group || JSON.stringify(list) !== JSON.stringify(group.restrictions)) body.restrictions = list;
      const saved = group
        ? await api("PATCH", `/v1/orgs/${org.id}/groups/${group.id}`, { body })
        : await api("POST", `/v1/orgs/${org.id}/groups`, { body });
      onDone(saved);
    });
  };
  return html`<form onSubmit=${save} novalidate>
      <${ErrorAlert} error=${submit.error} />
      <${Field} label="Name" value=${name} onInput=${setName} error=${submit.fields.name} maxLength="100" autocomplete="off" required />
      <${Field} label="Description (optional)" value=${description} onInput=${setDescription} error=${submit.fields.description} maxLength="1000" autocomplete="off" />
      <${RestrictionsEditor} list=${restrictions} onChange=${setRestrictions} fields=${submit.fields} />
      <div class="actions">
        <${Button} kind="secondary" type="button" onClick=${onClose}>Cancel</${Button}>
        <${Button} busy=${submit.busy} type="submit">${group ? "Save group" : "Create group"}</${Button}>
      </div>
    </form>`;
}

function Restricting({ group }) {
  return group.restrictions.length
    ? html`<${Badge} tone="warning">restricts to ${group.restrictions.length} ${group.restrictions.length === 1 ? "resource" : "resources"}</${Badge}>`
    : html`<span class="muted">None</span>`;
}

export function Groups({ org }) {
  const list = usePaged(`/v1/orgs/${org.id}/groups`, { limit: 50 });
  const [creating, setCreating] = useState(false);
  const manage = can(org, "governance");
  const create = manage && html`<${Button} onClick=${() => setCreating(true)}>Create a group</${Button}>`;
  // While the list is empty, its empty state carries the action instead.
  return html`<${Page} title="Groups" actions=${list.rows?.length > 0 && create}
    description="Members gathered so that permissions on resources can be given to them together; a group with restrictions limits its members to the resources it lists.">
    <${ErrorAlert} error=${list.error} />
    ${!list.rows ? !list.error && html`<${Spinner} />` : list.rows.length === 0
      ? html`<${Empty} title="No groups yet" action=${create}>Create a group, add members to it, then give it permissions in a workspace's Permissions tab.</${Empty}>`
      : html`<div class="table-wrap"><table>
        <caption class="visually-hidden">Groups</caption>
        <thead><tr><th scope="col">Group</th><th scope="col">Restrictions</th><th scope="col">Members</th><th scope="col">Created</th></tr></thead>
        <tbody>${list.rows.map((g) => html`<tr>
          <th scope="row"><a class="name" href=${`/orgs/${org.id}/groups/${g.id}`}>${g.name}</a>${g.description && html`<span class="muted block">${g.description}</span>`}</th>
          <td><${Restricting} group=${g} /></td>
          <td>${g.member_count}</td>
          <td>${when(g.created_at)}</td>
        </tr>`)}</tbody>
      </table></div>`}
    <${MoreButton} list=${list} />
    <${Dialog} open=${creating} wide title="Create a group" onClose=${() => setCreating(false)}>
      <${GroupForm} org=${org} onClose=${() => setCreating(false)} onDone=${(g) => navigate(`/orgs/${org.id}/groups/${g.id}`)} />
    </${Dialog}>
  </${Page}>`;
}

function AddGroupMember({ org, group, onClose, onDone }) {
  const [person, setPerson] = useState(null);
  const submit = useSubmit();
  const restricting = group.restrictions.length > 0;
  // Owners and admins can never be in a restricting group; those already in it are left out too.
  const allow = (m) => !m.groups.some((g) => g.id === group.id) && !(restricting && (m.role === "owner" || m.role === "admin"));
  const add = (e) => {
    e.preventDefault();
    if (!person) return;
    submit.run(async () => {
      await api("PUT", `/v1/orgs/${org.id}/groups/${group.id}/members/${person.user.id}`);
      onDone();
    });
  };
  return html`<form onSubmit=${add} novalidate>
      <${ErrorAlert} error=${submit.error} />
      <${PersonPicker} org=${org} label="Member" value=${person} onChange=${setPerson} allow=${allow} error=${submit.fields.user}
        why=${restricting ? "This group restricts its members, so owners and admins are not offered." : undefined} />
      <div class="actions">
        <${Button} kind="secondary" type="button" onClick=${onClose}>Cancel</${Button}>
        <${Button} busy=${submit.busy} disabled=${!person} type="submit">Add to group</${Button}>
      </div>
    </form>`;
}

export function GroupDetail({ org, params }) {
  const [state, setState] = useState({ group: null, error: null });
  const load = () =>
    api("GET", `/v1/orgs/${org.id}/groups/${encodeURIComponent(params.group)}`).then(
      (group) => setState({ group, error: null }),
      (error) => setState({ group: null, error }),
    );
  useEffect(() => { load(); }, [org.id, params.group]);
  const members = usePaged(`/v1/orgs/${org.id}/groups/${encodeURIComponent(params.group)}/members`, { limit: 50 });
  const [dialog, setDialog] = useState(null);
  const [removing, setRemoving] = useState(null);
  const { group, error } = state;
  const back = html`<p><a href=${`/orgs/${org.id}/groups`}>← All groups</a></p>`;
  if (!group) return html`${back}${error ? html`<${ErrorAlert} error=${error} />` : html`<${Spinner} />`}`;
  const manage = can(org, "governance");
  const changed = () => { setDialog(null); load(); members.reload(); };
  const addButton = manage && html`<${Button} onClick=${() => setDialog("add")}>Add a member</${Button}>`;

  return html`${back}<${Page} title=${group.name} description=${group.description}
    actions=${manage && html`<${Button} kind="secondary" onClick=${() => setDialog("edit")}>Edit group</${Button}>
      <${Button} kind="danger-ghost" onClick=${() => setDialog("delete")}>Delete group</${Button}>`}>
    <section class="card">
      <h2>Restrictions</h2>
      ${group.restrictions.length === 0
        ? html`<p>This group restricts nothing: its members reach what their roles and permissions allow.</p>`
        : html`<p>Members of this group reach only these resources, in every workspace, whatever their role or permissions:</p>
          <ul class="resources">${group.restrictions.map((r) => html`<li><span class="chip">${r.type}</span> <code>${r.id}</code></li>`)}</ul>`}
    </section>
    <section class="card">
      <div class="section-head"><h2>Members (${group.member_count})</h2>${members.rows?.length > 0 && addButton}</div>
      <${ErrorAlert} error=${members.error} />
      ${!members.rows ? !members.error && html`<${Spinner} />` : members.rows.length === 0
        ? html`<${Empty} title="No members yet" action=${addButton} />`
        : html`<div class="table-wrap"><table>
          <caption class="visually-hidden">Members of ${group.name}</caption>
          <thead><tr><th scope="col">Name</th><th scope="col">Organization role</th><th scope="col">Added</th>${manage && html`<th scope="col"><span class="visually-hidden">Actions</span></th>`}</tr></thead>
          <tbody>${members.rows.map((m) => html`<tr>
            <th scope="row"><span class="name">${fullName(m.user)}</span><span class="muted block">${m.user.email}</span></th>
            <td>${ROLE_LABELS[m.role] || m.role}</td>
            <td>${when(m.added_at)}</td>
            ${manage && html`<td class="row-actions"><${Button} kind="danger-ghost" onClick=${() => setRemoving(m)}
              aria-label=${`Remove ${fullName(m.user)} from the group`}>Remove</${Button}></td>`}
          </tr>`)}</tbody>
        </table></div>`}
      <${MoreButton} list=${members} />
    </section>
    <${Dialog} open=${dialog === "edit"} wide title=${`Edit ${group.name}`} onClose=${() => setDialog(null)}>
      <${GroupForm} org=${org} group=${group} onClose=${() => setDialog(null)} onDone=${changed} />
    </${Dialog}>
    <${Dialog} open=${dialog === "add"} title=${`Add a member to ${group.name}`} onClose=${() => setDialog(null)}>
      <${AddGroupMember} org=${org} group=${group} onClose=${() => setDialog(null)} onDone=${changed} />
    </${Dialog}>
    <${ConfirmDialog} open=${dialog === "delete"} title=${`Delete ${group.name}`} confirmLabel="Delete group" confirmText=${group.name}
      onClose=${() => setDialog(null)}
      onConfirm=${async () => {
        await api("DELETE", `/v1/orgs/${org.id}/groups/${group.id}`);
        navigate(`/orgs/${org.id}/groups`);
      }}>
      <p>Its ${group.member_count} ${group.member_count === 1 ? "member leaves" : "members leave"} it, and every permission given to it in a workspace is revoked. This cannot be undone.</p>
    </${ConfirmDialog}>
    <${ConfirmDialog} open=${Boolean(removing)} title="Remove from the group" confirmLabel="Remove"
      onClose=${() => setRemoving(null)}
      onConfirm=${async () => {
        await api("DELETE", `/v1/orgs/${org.id}/groups/${group.id}/members/${removing.user.id}`);
        setRemoving(null);
        changed();
      }}>
      <p>${removing && html`Take <strong>${fullName(removing.user)}</strong> out of ${group.name}? They lose what the group gives them${group.restrictions.length ? " and are no longer limited by its restrictions" : ""}; they stay in ${org.name}.`}</p>
    </${ConfirmDialog}>
  </${Page}>`;
}
