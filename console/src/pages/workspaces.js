// Workspaces: the list with each one's metrics and the caller's role in it; creating,
// editing and deleting (type the name to confirm); a workspace's page with its users (each
// one's org role and workspace role: add, change, remove) and, for owners and admins, its
// Permissions tab (resource grants to people and groups). What a person may do follows the
// API's rules: creating and deleting by org role (`workspace.create`, `workspace.delete`),
// the rest by the caller's effective role in the workspace (editors edit and add people up
// to editor, admins also change and remove). The API decides every request regardless.
import { useEffect, useState } from "preact/hooks";
import { html } from "../html.js";
import { api } from "../api.js";
import { navigate } from "../router.js";
import { can, useSession } from "../session.js";
import { Alert, Badge, Button, ConfirmDialog, Dialog, Empty, ErrorAlert, Field, Page, Select, Spinner, fullName, useSubmit } from "../ui.js";
import { MoreButton, usePaged } from "./account.js";
import { INHERITED, ROLE_LABELS, WS_ROLE_LABELS } from "../roles.js";
import { PERMISSIONS, PersonPicker, ResourceFields, partErrors } from "./groups.js";

const WS_ORDER = ["viewer", "editor", "admin"];

const rank = (role) => WS_ORDER.indexOf(role);
const atLeast = (role, least) => Boolean(role) && rank(role) >= rank(least);

/** Workspace roles a caller with effective role `mine` may give: editors and admins, up to their own. */
function grantable(mine) {
  return atLeast(mine, "editor") ? WS_ORDER.slice(0, rank(mine) + 1).reverse() : [];
}

const wsPath = (org, ws) => `/orgs/${org.id}/workspaces/${ws.id}`;

/**
 * Creates a workspace (no `ws`) or edits one; `onDone(ws)` gets it as saved. Like every form
 * of these screens it goes inside a `Dialog` that stays mounted while closed, so that closing
 * hands focus back to the opener (groups.js, GroupForm).
 */
function WorkspaceForm({ org, ws, onClose, onDone }) {
  const [name, setName] = useState(ws?.name || "");
  const [description, setDescription] = useState(ws?.description || "");
  const submit = useSubmit();
  const save = (e) => {
    e.preventDefault();
    submit.run(async () => {
      let saved;
      if (ws) {
        // Only what changed is sent; a cleared description is removed (null).
        const body = {};
        if (name.trim() !== ws.name) body.name = name.trim();
        if (description.trim() !== (ws.description || "")) body.description = description.trim() || null;
        saved = await api("PATCH", `/v1/orgs/${org.id}/workspaces/${ws.id}`, { body });
      } else {
        const body = { name: name.trim() };
        if (description.trim()) body.description = description.trim();
        saved = await api("POST", `/v1/orgs/${org.id}/workspaces`, { body });
      }
      onDone(saved);
    });
  };
  return html`<form onSubmit=${save} novalidate>
      <${ErrorAlert} error=${submit.error} />
      <${Field} label="Name" value=${name} onInput=${setName} error=${submit.fields.name} maxLength="100" autocomplete="off" required />
      <${Field} label="Description (optional)" value=${description} onInput=${setDescription} error=${submit.fields.description} maxLength="1000" autocomplete="off"
        hint="What this workspace is for: a site, a project, a customer." />
      <div class="actions">
        <${Button} kind="secondary" type="button" onClick=${onClose}>Cancel</${Button}>
        <${Button} busy=${submit.busy} type="submit">${ws ? "Save workspace" : "Create workspace"}</${Button}>
      </div>
    </form>`;
}

function DeleteWorkspace({ org, ws, onClose, onDone }) {
  return html`<${ConfirmDialog} open=${Boolean(ws)} title=${ws ? `Delete ${ws.name}` : ""} confirmLabel="Delete workspace" confirmText=${ws?.name}
    onClose=${onClose}
    onConfirm=${async () => {
      await api("DELETE", `/v1/orgs/${org.id}/workspaces/${ws.id}`);
      onDone();
    }}>
    <p>The roles given in this workspace and the permissions given on its resources are deleted with it. People who belong to ${org.name} only through this workspace leave the organization. This cannot be undone.</p>
  </${ConfirmDialog}>`;
}

const METRICS = [
  ["members", "People with access"],
  ["pending_invitations", "Pending invitations"],
  ["groups", "Groups with permissions"],
  ["api_tokens", "API tokens"],
];

export function Workspaces({ org }) {
  const list = usePaged(`/v1/orgs/${org.id}/workspaces`, { limit: 50 });
  const [creating, setCreating] = useState(false);
  const [editing, setEditing] = useState(null);
  const [deleting, setDeleting] = useState(null);
  const mayCreate = can(org, "workspace.create");
  const mayDelete = can(org, "workspace.delete");
  const create = mayCreate && html`<${Button} onClick=${() => setCreating(true)}>Create a workspace</${Button}>`;
  const actions = (ws) => atLeast(ws.role, "editor") || mayDelete;

  // While the list is empty, its empty state carries the action instead.
  return html`<${Page} title="Workspaces" actions=${list.rows?.length > 0 && create}
    description=${can(org, "org.directory.view") ? `The workspaces of ${org.name}, where the work happens.` : `Your workspaces in ${org.name}.`}>
    <${ErrorAlert} error=${list.error} />
    ${!list.rows ? !list.error && html`<${Spinner} />` : list.rows.length === 0
      ? html`<${Empty} title=${mayCreate ? "No workspaces yet" : "No workspaces for you yet"} action=${create}>
          ${mayCreate ? "A workspace is an environment or project of the organization." : "Someone who administers a workspace can add you to it."}</${Empty}>`
      : html`<div class="table-wrap"><table class="ws-list">
        <caption class="visually-hidden">Workspaces</caption>
        <thead><tr><th scope="col">Workspace</th><th scope="col">Your role</th>
          ${METRICS.map(([, label]) => html`<th scope="col" class="num">${label}</th>`)}
          ${list.rows.some(actions) && html`<th scope="col"><span class="visually-hidden">Actions</span></th>`}</tr></thead>
        <tbody>${list.rows.map((ws) => html`<tr>
          <th scope="row"><a class="name" href=${wsPath(org, ws)}>${ws.name}</a>${ws.description && html`<span class="muted block">${ws.description}</span>`}</th>
          <td>${WS_ROLE_LABELS[ws.role] || "—"}</td>
          ${METRICS.map(([key]) => html`<td class="num">${ws.metrics[key]}</td>`)}
          ${list.rows.some(actions) && html`<td class="row-actions">
            ${atLeast(ws.role, "editor") && html`<${Button} kind="secondary" onClick=${() => setEditing(ws)} aria-label=${`Edit ${ws.name}`}>Edit</${Button}>`}
            ${mayDelete && html`<${Button} kind="danger-ghost" onClick=${() => setDeleting(ws)} aria-label=${`Delete ${ws.name}`}>Delete</${Button}>`}
          </td>`}
        </tr>`)}</tbody>
      </table></div>`}
    <${MoreButton} list=${list} />
    <${Dialog} open=${creating} title="Create a workspace" onClose=${() => setCreating(false)}>
      <${WorkspaceForm} org=${org} onClose=${() => setCreating(false)} onDone=${(ws) => navigate(wsPath(org, ws))} />
    </${Dialog}>
    <${Dialog} open=${Boolean(editing)} title=${`Edit ${editing?.name}`} onClose=${() => setEditing(null)}>
      <${WorkspaceForm} org=${org} ws=${editing} onClose=${() => setEditing(null)} onDone=${() => { setEditing(null); list.reload(); }} />
    </${Dialog}>
    <${DeleteWorkspace} org=${org} ws=${deleting} onClose=${() => setDeleting(null)} onDone=${() => { setDeleting(null); list.reload(); }} />
  </${Page}>`;
}

function roleTitle(ws, member) {
  if (!member) return `Add a person to ${ws.name}`;
  return member.explicit_workspace_role ? `Change the role of ${fullName(member.user)}` : `Give ${fullName(member.user)} a role in ${ws.name}`;
}

/** Gives a workspace role: to a person chosen from the directory, or to `member` (a row of the users tab). */
function RoleForm({ org, ws, member, onClose, onDone }) {
  const roles = grantable(ws.role);
  const [person, setPerson] = useState(null);
  // Someone with only inherited access is offered just the roles that lift them above it.
  const offered = member && !member.explicit_workspace_role ? roles.filter((r) => rank(r) > rank(member.workspace_role)) : roles;
  const [role, setRole] = useState(member?.explicit_workspace_role || offered[offered.length - 1]);
  const { me } = useSession();
  const submit = useSubmit();
  const who = member ? member.user : person?.user;
  const save = (e) => {
    e.preventDefault();
    if (!who) return;
    submit.run(async () => {
      await api("PUT", `/v1/orgs/${org.id}/workspaces/${ws.id}/members/${who.id}`, { body: { role } });
      onDone();
    });
  };
  return html`<form onSubmit=${save} novalidate>
      <${ErrorAlert} error=${submit.error} />
      ${!member && html`<${PersonPicker} org=${org} value=${person} onChange=${setPerson}
        allow=${(m) => m.user.id !== me.id && !m.workspaces.some((w) => w.id === ws.id)}
        why="People who already hold a role given in this workspace are changed from its user list." />`}
      ${member && html`<p>Organization role: <strong>${ROLE_LABELS[member.org_role] || member.org_role}</strong>${INHERITED[member.org_role] ? `, which gives ${WS_ROLE_LABELS[INHERITED[member.org_role]]} here` : ""}.</p>`}
      <${Select} label="Workspace role" value=${role} onInput=${setRole} error=${submit.fields.role}
        hint="A person holds the higher of this role and the one their organization role gives."
        options=${offered.map((r) => [r, WS_ROLE_LABELS[r]])} />
      <div class="actions">
        <${Button} kind="secondary" type="button" onClick=${onClose}>Cancel</${Button}>
        <${Button} busy=${submit.busy} disabled=${!who} type="submit">${member?.explicit_workspace_role ? "Save role" : "Add to workspace"}</${Button}>
      </div>
    </form>`;
}

function WorkspaceUsers({ org, ws, onChange }) {
  const { me } = useSession();
  const list = usePaged(`/v1/orgs/${org.id}/workspaces/${ws.id}/members`, { limit: 50 });
  const [dialog, setDialog] = useState(null);
  const [removing, setRemoving] = useState(null);
  // Adding needs someone to choose: the directory is for viewers and above.
  const mayAdd = atLeast(ws.role, "editor") && can(org, "org.directory.view");
  const mayChange = ws.role === "admin";
  const done = () => { setDialog(null); setRemoving(null); list.reload(); onChange(); };
  const rowActions = (m) => {
    if (m.user.id === me.id) return null; // nobody changes their own workspace role (409)
    if (m.explicit_workspace_role) {
      return mayChange && html`<${Button} kind="secondary" onClick=${() => setDialog(m)} aria-label=${`Change role of ${fullName(m.user)}`}>Change role</${Button}>
        <${Button} kind="danger-ghost" onClick=${() => setRemoving(m)} aria-label=${`Remove ${fullName(m.user)} from the workspace`}>Remove</${Button}>`;
    }
    // Only inherited access: a role given here helps if it can lift them above it.
    const lifts = grantable(ws.role).some((r) => rank(r) > rank(m.workspace_role));
    return lifts && html`<${Button} kind="secondary" onClick=${() => setDialog(m)} aria-label=${`Give a role here to ${fullName(m.user)}`}>Give a role here</${Button}>`;
  };
  const add = mayAdd && html`<${Button} onClick=${() => setDialog("add")}>Add a person</${Button}>`;
  const actions = list.rows?.map(rowActions);
  const anyActions = actions?.some(Boolean);

  return html`<section aria-labelledby="ws-users">
    <div class="section-head"><h2 id="ws-users">Users</h2>${add}</div>
    <p class="muted">Everyone who can reach this workspace: by their organization role, or by a role given here.</p>
    <${ErrorAlert} error=${list.error} />
    ${!list.rows ? !list.error && html`<${Spinner} />` : list.rows.length === 0
      ? html`<${Empty} title="No one can reach this workspace yet" action=${add} />`
      : html`<div class="table-wrap"><table>
        <caption class="visually-hidden">Users of ${ws.name}</caption>
        <thead><tr><th scope="col">Name</th><th scope="col">Organization role</th><th scope="col">Workspace role</th>${anyActions && html`<th scope="col"><span class="visually-hidden">Actions</span></th>`}</tr></thead>
        <tbody>${list.rows.map((m, i) => html`<tr>
          <th scope="row"><span class="name">${fullName(m.user)}</span>${m.user.id === me.id && html`<${Badge}>you</${Badge}>`}<span class="muted block">${m.user.email}</span></th>
          <td>${ROLE_LABELS[m.org_role] || m.org_role}</td>
          <td>${WS_ROLE_LABELS[m.workspace_role] || "—"}
            <span class="muted block">${m.explicit_workspace_role
              ? `${WS_ROLE_LABELS[m.explicit_workspace_role]} given here${rank(m.explicit_workspace_role) < rank(m.workspace_role) ? "; the organization role gives more" : ""}`
              : "from the organization role"}</span></td>
          ${anyActions && html`<td class="row-actions">${actions[i]}</td>`}
        </tr>`)}</tbody>
      </table></div>`}
    <${MoreButton} list=${list} />
    <${Dialog} open=${Boolean(dialog)} title=${roleTitle(ws, dialog === "add" ? null : dialog)} onClose=${() => setDialog(null)}>
      <${RoleForm} org=${org} ws=${ws} member=${dialog === "add" ? null : dialog} onClose=${() => setDialog(null)} onDone=${done} />
    </${Dialog}>
    <${ConfirmDialog} open=${Boolean(removing)} title="Remove from the workspace" confirmLabel="Remove"
      onClose=${() => setRemoving(null)}
      onConfirm=${async () => {
        await api("DELETE", `/v1/orgs/${org.id}/workspaces/${ws.id}/members/${removing.user.id}`);
        done();
      }}>
      ${removing && html`<p>Take back the ${WS_ROLE_LABELS[removing.explicit_workspace_role]} role given to <strong>${fullName(removing.user)}</strong> in ${ws.name}?
        ${INHERITED[removing.org_role]
          ? ` Their organization role still gives them ${WS_ROLE_LABELS[INHERITED[removing.org_role]]} here.`
          : ` They lose access to it; if it was their only workspace, they leave ${org.name}.`}</p>`}
    </${ConfirmDialog}>
  </section>`;
}

/** Gives a person or a group a permission on a resource; with `grant`, changes that grant's permission. */
function GrantForm({ org, ws, grant, groups, names, onClose, onDone }) {
  const [kind, setKind] = useState(grant?.principal.type || (groups.length ? "group" : "user"));
  const [groupId, setGroupId] = useState("");
  const [person, setPerson] = useState(null);
  const [resource, setResource] = useState(grant?.resource || { type: "", id: "" });
  const [permission, setPermission] = useState(grant?.permission || "view");
  const submit = useSubmit();
  const save = (e) => {
    e.preventDefault();
    submit.run(async () => {
      const principal = grant ? grant.principal : { type: kind, id: kind === "group" ? groupId : person?.user.id || "" };
      await api("PUT", `/v1/orgs/${org.id}/workspaces/${ws.id}/grants`, {
        body: { principal, resource: { type: resource.type.trim(), id: resource.id }, permission },
      });
      onDone(kind === "user" ? person : null);
    });
  };
  const f = submit.fields;
  return html`<form onSubmit=${save} novalidate>
      <${ErrorAlert} error=${submit.error} />
      ${grant
        ? html`<p><strong>${principalName(grant.principal, groups, names)}</strong> on <span class="chip">${grant.resource.type}</span> <code>${grant.resource.id}</code></p>`
        : html`<${Select} label="Give it to" value=${kind} onInput=${setKind} error=${f["principal.type"]}
            options=${[["group", "A group"], ["user", "A person"]]} />
          ${kind === "group"
            ? groups.length
              ? html`<${Select} label="Group" value=${groupId} onInput=${setGroupId} error=${f["principal.id"]} required
                  options=${[["", "Choose a group…"], ...groups.map((g) => [g.id, g.name])]} />`
              : html`<${Alert} kind="info">There are no groups yet. <a href=${`/orgs/${org.id}/groups`}>Create a group</a> first, or give the permission to a person.</${Alert}>`
            : html`<${PersonPicker} org=${org} value=${person} onChange=${setPerson} error=${f["principal.id"]} />`}
          <${ResourceFields} legend="Resource" value=${resource} onInput=${setResource} errors=${partErrors(f, "resource")} />`}
      <${Select} label="Permission" value=${permission} onInput=${setPermission} error=${f.permission} options=${PERMISSIONS} />
      <div class="actions">
        <${Button} kind="secondary" type="button" onClick=${onClose}>Cancel</${Button}>
        <${Button} busy=${submit.busy} type="submit">${grant ? "Save permission" : "Give permission"}</${Button}>
      </div>
    </form>`;
}

/**
 * Who a grant is to, by name where the console knows it: a grant names its principal by id
 * only, so groups are named from the group list and people (`names`: id → user) from this
 * workspace's users or the person just chosen; anyone else shows by id.
 */
function principalName(p, groups, names) {
  if (p.type === "group") return groups.find((g) => g.id === p.id)?.name || `Group ${p.id}`;
  const user = names.get(p.id);
  return user ? fullName(user) : `Person ${p.id}`;
}

function WorkspaceGrants({ org, ws, onChange }) {
  const list = usePaged(`/v1/orgs/${org.id}/workspaces/${ws.id}/grants`, { limit: 50 });
  const [known, setKnown] = useState({ groups: [], names: new Map(), error: null });
  const [dialog, setDialog] = useState(null);
  const [revoking, setRevoking] = useState(null);
  useEffect(() => {
    Promise.all([
      api("GET", `/v1/orgs/${org.id}/groups`, { query: { limit: 200 } }),
      api("GET", `/v1/orgs/${org.id}/workspaces/${ws.id}/members`, { query: { limit: 200 } }),
    ]).then(
      ([groups, people]) => setKnown({ groups: groups.data, names: new Map(people.data.map((m) => [m.user.id, m.user])), error: null }),
      (error) => setKnown((k) => ({ ...k, error })),
    );
  }, [org.id, ws.id]);
  const done = (person) => {
    // A person just given a permission is named in the list even without access here.
    if (person) setKnown((k) => ({ ...k, names: new Map(k.names).set(person.user.id, person.user) }));
    setDialog(null);
    setRevoking(null);
    list.reload();
    onChange();
  };
  const give = html`<${Button} onClick=${() => setDialog("new")}>Give a permission</${Button}>`;
  const label = (p) => PERMISSIONS.find(([v]) => v === p)?.[1] || p;

  return html`<section aria-labelledby="ws-grants">
    <div class="section-head"><h2 id="ws-grants">Permissions</h2>${list.rows?.length > 0 && give}</div>
    <p class="muted">A permission gives a person or a group view, edit or manage on one resource of this workspace, beyond what their workspace role gives. A group's restrictions still limit its members.</p>
    <${ErrorAlert} error=${list.error || known.error} />
    ${!list.rows ? !list.error && html`<${Spinner} />` : list.rows.length === 0
      ? html`<${Empty} title="No permissions given in this workspace" action=${give} />`
      : html`<div class="table-wrap"><table>
        <caption class="visually-hidden">Permissions in ${ws.name}</caption>
        <thead><tr><th scope="col">Given to</th><th scope="col">Resource</th><th scope="col">Permission</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>
        <tbody>${list.rows.map((g) => html`<tr>
          <th scope="row"><span class="name">${principalName(g.principal, known.groups, known.names)}</span> <${Badge}>${g.principal.type === "group" ? "group" : "person"}</${Badge}>
            ${g.principal.type === "user" && known.names.get(g.principal.id) && html`<span class="muted block">${known.names.get(g.principal.id).email}</span>`}</th>
          <td><span class="chip">${g.resource.type}</span> <code>${g.resource.id}</code></td>
          <td>${label(g.permission)}</td>
          <td class="row-actions">
            <${Button} kind="secondary" onClick=${() => setDialog(g)} aria-label=${`Change the permission on ${g.resource.type} ${g.resource.id}`}>Change</${Button}>
            <${Button} kind="danger-ghost" onClick=${() => setRevoking(g)} aria-label=${`Revoke the permission on ${g.resource.type} ${g.resource.id}`}>Revoke</${Button}>
          </td>
        </tr>`)}</tbody>
      </table></div>`}
    <${MoreButton} list=${list} />
    <${Dialog} open=${Boolean(dialog)} wide title=${dialog === "new" ? `Give a permission in ${ws.name}` : "Change a permission"} onClose=${() => setDialog(null)}>
      <${GrantForm} org=${org} ws=${ws} grant=${dialog === "new" ? null : dialog} groups=${known.groups} names=${known.names}
        onClose=${() => setDialog(null)} onDone=${done} />
    </${Dialog}>
    <${ConfirmDialog} open=${Boolean(revoking)} title="Revoke the permission" confirmLabel="Revoke"
      onClose=${() => setRevoking(null)}
      onConfirm=${async () => {
        await api("DELETE", `/v1/orgs/${org.id}/workspaces/${ws.id}/grants`, { body: { principal: revoking.principal, resource: revoking.resource } });
        done(null);
      }}>
      ${revoking && html`<p>${principalName(revoking.principal, known.groups, known.names)} loses ${revoking.permission} on <span class="chip">${revoking.resource.type}</span> <code>${revoking.resource.id}</code>; what their workspace role gives stays.</p>`}
    </${ConfirmDialog}>
  </section>`;
}

/** A workspace's page: its metrics, then the Users or the Permissions tab (`tab`). */
function WorkspaceDetail({ org, params, tab }) {
  const [state, setState] = useState({ ws: null, error: null });
  const [dialog, setDialog] = useState(null);
  const load = () =>
    api("GET", `/v1/orgs/${org.id}/workspaces/${encodeURIComponent(params.ws)}`).then(
      (ws) => setState({ ws, error: null }),
      (error) => setState({ ws: null, error }),
    );
  useEffect(() => { load(); }, [org.id, params.ws]);
  const { ws, error } = state;
  const back = html`<p><a href=${`/orgs/${org.id}/workspaces`}>← All workspaces</a></p>`;
  if (!ws) return html`${back}${error ? html`<${ErrorAlert} error=${error} />` : html`<${Spinner} />`}`;
  const governance = can(org, "governance");
  const mayEdit = atLeast(ws.role, "editor");
  const mayDelete = can(org, "workspace.delete");
  const tabs = [["users", "Users", wsPath(org, ws)], ...(governance ? [["permissions", "Permissions", `${wsPath(org, ws)}/permissions`]] : [])];

  return html`${back}<${Page} title=${ws.name} description=${ws.description}
    actions=${(mayEdit || mayDelete) && html`
      ${mayEdit && html`<${Button} kind="secondary" onClick=${() => setDialog("edit")}>Edit workspace</${Button}>`}
      ${mayDelete && html`<${Button} kind="danger-ghost" onClick=${() => setDialog("delete")}>Delete workspace</${Button}>`}`}>
    <dl class="metrics">
      <div><dt>Your role</dt><dd>${WS_ROLE_LABELS[ws.role]}</dd></div>
      ${METRICS.map(([key, label]) => html`<div><dt>${label}</dt><dd>${ws.metrics[key]}</dd></div>`)}
    </dl>
    ${tabs.length > 1 && html`<nav class="tabs" aria-label="Workspace sections">
      ${tabs.map(([key, label, href]) => html`<a href=${href} aria-current=${key === tab ? "page" : undefined}>${label}</a>`)}
    </nav>`}
    ${tab === "permissions"
      ? governance
        ? html`<${WorkspaceGrants} org=${org} ws=${ws} onChange=${load} />`
        : html`<${Alert} kind="info">Only owners and admins of the organization see and give permissions on resources.</${Alert}>`
      : html`<${WorkspaceUsers} org=${org} ws=${ws} onChange=${load} />`}
    <${Dialog} open=${dialog === "edit"} title=${`Edit ${ws.name}`} onClose=${() => setDialog(null)}>
      <${WorkspaceForm} org=${org} ws=${ws} onClose=${() => setDialog(null)} onDone=${(saved) => { setDialog(null); setState({ ws: saved, error: null }); }} />
    </${Dialog}>
    <${DeleteWorkspace} org=${org} ws=${dialog === "delete" ? ws : null} onClose=${() => setDialog(null)}
      onDone=${() => navigate(`/orgs/${org.id}/workspaces`)} />
  </${Page}>`;
}

export const WorkspaceUsersPage = (props) => html`<${WorkspaceDetail} ...${props} tab="users" />`;
export const WorkspacePermissionsPage = (props) => html`<${WorkspaceDetail} ...${props} tab="permissions" />`;
