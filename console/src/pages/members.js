// The member directory: cursor-paged and searchable however large the org, filtered by role;
// each person's org role, workspace roles and groups; changing a role and removing a member
// for the roles that may (the actions a role lacks are not shown; the API decides anyway).
import { useEffect, useState } from "preact/hooks";
import { html } from "../html.js";
import { api } from "../api.js";
import { useSession, can } from "../session.js";
import { Badge, Button, ConfirmDialog, Dialog, Empty, ErrorAlert, Field, Page, Select, Spinner, fullName, useSubmit } from "../ui.js";
import { MoreButton, usePaged } from "./account.js";

export const ROLE_LABELS = { owner: "Owner", admin: "Admin", editor: "Editor", viewer: "Viewer", member: "Member" };
const STATUS_TONE = { active: "success", pending: "warning", locked: "danger" };

/** A search box that settles before it asks (one request per pause, not per key). */
function useDebounced(value, ms = 250) {
  const [settled, setSettled] = useState(value);
  useEffect(() => {
    const t = setTimeout(() => setSettled(value), ms);
    return () => clearTimeout(t);
  }, [value]);
  return settled;
}

/** Roles the caller may give: never owner (transfer only), never above admin, never above their own. */
export function grantableRoles(callerRole) {
  const order = ["member", "viewer", "editor", "admin"];
  const max = callerRole === "owner" ? "admin" : callerRole;
  return order.slice(0, order.indexOf(max) + 1);
}

function ChangeRole({ org, member, onClose, onDone }) {
  const [role, setRole] = useState(member.role);
  const submit = useSubmit();
  const save = (e) => {
    e.preventDefault();
    submit.run(async () => {
      await api("PATCH", `/v1/orgs/${org.id}/members/${member.user.id}`, { body: { role } });
      onDone();
    });
  };
  return html`<${Dialog} open title=${`Change the role of ${fullName(member.user)}`} onClose=${onClose}>
    <form onSubmit=${save}>
      <${ErrorAlert} error=${submit.error} />
      <${Select} label="Organization role" value=${role} onInput=${setRole} error=${submit.fields.role}
        options=${grantableRoles(org.role).map((r) => [r, ROLE_LABELS[r]])} />
      <div class="actions">
        <${Button} kind="secondary" type="button" onClick=${onClose}>Cancel</${Button}>
        <${Button} busy=${submit.busy} type="submit">Save role</${Button}>
      </div>
    </form>
  </${Dialog}>`;
}

export function Members({ org }) {
  const { me } = useSession();
  const [q, setQ] = useState("");
  const [role, setRole] = useState("");
  const search = useDebounced(q.trim());
  const list = usePaged(`/v1/orgs/${org.id}/members`, { q: search, role, limit: 50 });
  const [editing, setEditing] = useState(null);
  const [removing, setRemoving] = useState(null);
  const manage = can(org, "members.manage");
  const invite = can(org, "users.invite");

  return html`<${Page} title="Members" description=${`People in ${org.name}, with their organization and workspace roles.`}
    actions=${invite && html`<a class="btn btn-primary" href=${`/orgs/${org.id}/invitations?invite=1`}>Invite members</a>`}>
    <div class="filters" role="search">
      <${Field} label="Search by name or email" type="search" value=${q} onInput=${setQ} autocomplete="off" />
      <${Select} label="Role" value=${role} onInput=${setRole}
        options=${[["", "All roles"], ...Object.entries(ROLE_LABELS)]} />
    </div>
    <${ErrorAlert} error=${list.error} />
    ${!list.rows ? html`<${Spinner} />` : list.rows.length === 0
      ? html`<${Empty} title=${search || role ? "No member matches" : "No members yet"}
          action=${invite && !search && !role && html`<a class="btn btn-primary" href=${`/orgs/${org.id}/invitations?invite=1`}>Invite members</a>`} />`
      : html`<div class="table-wrap"><table>
        <caption class="visually-hidden">Members</caption>
        <thead><tr><th scope="col">Name</th><th scope="col">Status</th><th scope="col">Organization role</th><th scope="col">Workspaces</th><th scope="col">Groups</th>${manage && html`<th scope="col"><span class="visually-hidden">Actions</span></th>`}</tr></thead>
        <tbody>${list.rows.map((m) => html`<tr>
          <th scope="row"><span class="name">${fullName(m.user)}</span><span class="muted block">${m.user.email}</span>${m.managed && html`<${Badge}>managed</${Badge}>`}</th>
          <td><${Badge} tone=${STATUS_TONE[m.user.status] || "neutral"}>${m.user.status}</${Badge}></td>
          <td>${ROLE_LABELS[m.role] || m.role}</td>
          <td>${m.workspaces.map((w) => html`<span class="chip">${w.name}: ${w.role}</span>`)}</td>
          <td>${m.groups.map((g) => html`<span class="chip">${g.name}</span>`)}</td>
          ${manage && html`<td class="row-actions">${m.role !== "owner" && m.user.id !== me.id && html`
            <${Button} kind="secondary" onClick=${() => setEditing(m)}>Change role</${Button}>
            <${Button} kind="danger-ghost" onClick=${() => setRemoving(m)}>Remove</${Button}>`}</td>`}
        </tr>`)}</tbody>
      </table></div>`}
    <${MoreButton} list=${list} />
    ${editing && html`<${ChangeRole} org=${org} member=${editing} onClose=${() => setEditing(null)} onDone=${() => { setEditing(null); list.reload(); }} />`}
    <${ConfirmDialog} open=${Boolean(removing)} title="Remove member" confirmLabel="Remove"
      onClose=${() => setRemoving(null)}
      onConfirm=${async () => {
        await api("DELETE", `/v1/orgs/${org.id}/members/${removing.user.id}`);
        setRemoving(null);
        list.reload();
      }}>
      <p>${removing && html`Remove <strong>${fullName(removing.user)}</strong> (${removing.user.email}) from ${org.name}, its workspaces and its groups?`}</p>
    </${ConfirmDialog}>
  </${Page}>`;
}
