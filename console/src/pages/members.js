// The member directory: cursor-paged and searchable however large the org, filtered by role;
// each person's org role, workspace roles and groups, their account's status with the fix
// beside it (resend activation, unlock), changing a role and removing a member. A person's
// page adds, for the accounts the org manages (created by it), editing their details,
// resetting the password (an emailed link or a single-use password shown once) and deleting
// the account for good. Actions a role lacks are not shown; the API decides anyway.
import { useEffect, useState } from "preact/hooks";
import { html } from "../html.js";
import { api, ApiError } from "../api.js";
import { navigate } from "../router.js";
import { useSession, can } from "../session.js";
import { PhoneFields, splitPhone } from "../phone.js";
import { Alert, Badge, Button, ConfirmDialog, Dialog, Empty, ErrorAlert, Field, Page, Secret, Select, Spinner, fullName, useDebounced, useSubmit, when } from "../ui.js";
import { MoreButton, usePaged } from "./account.js";
import { INHERITED, ROLE_LABELS, grantableRoles } from "../roles.js";

const STATUS_TONE = { active: "success", pending: "warning", locked: "danger" };

/** A radio button or checkbox with its label (and a hint) beside it. */
export function Choice({ type = "radio", label, hint, ...input }) {
  return html`<label class="choice">
    <input type=${type} ...${input} />
    <span>${label}${hint && html`<span class="hint block">${hint}</span>`}</span>
  </label>`;
}

/**
 * What the caller may do to member `m`, as the API's matrix says: nobody acts on themself
 * here, the owner's role and membership change only by transfer, and an org administers
 * the accounts it created (`managed`) and no other.
 */
export function powers(org, me, m) {
  const other = m.user.id !== me.id;
  const admin = other && m.managed && can(org, "accounts.admin");
  return {
    manage: other && m.role !== "owner" && can(org, "members.manage"),
    details: other && m.managed && can(org, "members.manage"),
    account: admin,
    delete: admin && m.role !== "owner",
  };
}

const memberPath = (org, m) => `/v1/orgs/${org.id}/members/${m.user.id}`;

/** Words that say which row a button acts on, for those who hear the button alone. */
const hidden = (text) => html`<span class="visually-hidden">${text}</span>`;

/** A notice that outlives the screen it was made on (a person's page gives way to the list). */
let carried = null;

/** The account's status, and beside it what the caller can do about it. */
function Status({ org, member, may, onUnlock, onNotice, explain }) {
  const resend = useSubmit();
  const status = member.user.status;
  useEffect(() => { if (resend.error) onNotice({ error: resend.error }); }, [resend.error]);
  const send = () => resend.run(async () => {
    const r = await api("POST", `${memberPath(org, member)}/resend-activation`);
    onNotice({ text: `A new activation link went to ${member.user.email}; it works until ${when(r.expires_at)}. The previous link no longer works.` });
  });
  const name = fullName(member.user);
  let fix = null;
  if (status === "pending" && may.account) {
    fix = html`<${Button} kind="secondary" busy=${resend.busy} onClick=${send}>Resend activation${hidden(` to ${name}`)}</${Button}>`;
  } else if (status === "locked" && may.account) {
    fix = html`<${Button} kind="secondary" onClick=${onUnlock}>Unlock${hidden(` the account of ${name}`)}…</${Button}>`;
  } else if (explain && status === "pending") {
    fix = html`<span class="muted">${member.managed
      ? "Waiting for them to set a password through the emailed activation link; an admin can send a new one."
      : "Waiting for them to activate the account through the emailed link."}</span>`;
  } else if (explain && status === "locked") {
    fix = html`<span class="muted">${member.managed
      ? "Locked after repeated failed sign-ins; an admin can unlock it with a new password."
      : "Locked after repeated failed sign-ins; they unlock it by resetting their password from the sign-in page."}</span>`;
  }
  // A membership the org's provisioning client suspended (SCIM `active: false`): the directory
  // restores it, not this screen.
  const suspended = member.suspended && html` <${Badge} tone="warning">suspended</${Badge}>${explain
    && html`<span class="muted">Deactivated by the organization's provisioning (SCIM): no access to this organization until the directory reactivates them.</span>`}`;
  return html`<span class="status"><${Badge} tone=${STATUS_TONE[status] || "neutral"}>${status}</${Badge}>${suspended}${fix}</span>`;
}

function ChangeRole({ org, member, onClose, onDone }) {
  const [role, setRole] = useState(member.role);
  const submit = useSubmit();
  const save = (e) => {
    e.preventDefault();
    submit.run(async () => onDone(await api("PATCH", memberPath(org, member), { body: { role } })));
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

/** "+44" and "07700 900123" as E.164 (the API validates it), as phone_from_parts joins them. */
function joinPhone(code, number) {
  const cc = code.trim().replace(/^\+/, "");
  const national = number.replace(/[\s().-]/g, "").replace(/^0/, "");
  return cc || national ? `+${cc}${national}` : "";
}

/** Names and phone of an account the org manages. */
function EditDetails({ org, member, onClose, onDone }) {
  const u = member.user;
  const [first, setFirst] = useState(u.first_name);
  const [last, setLast] = useState(u.last_name);
  const [[code, number], setPhone] = useState(splitPhone(u.phone));
  const submit = useSubmit();
  const save = (e) => {
    e.preventDefault();
    submit.run(async () => {
      const body = { first_name: first.trim(), last_name: last.trim() };
      const phone = joinPhone(code, number);
      if (phone) body.phone = phone;
      // The API keeps a phone it is not given (absent and null alike): it cannot remove one.
      else if (u.phone) throw new ApiError(422, { errors: [{ field: "phone", message: "can be changed here, not removed" }] });
      onDone(await api("PATCH", memberPath(org, member), { body }));
    });
  };
  return html`<${Dialog} open title=${`Edit the details of ${fullName(u)}`} onClose=${onClose}>
    <form onSubmit=${save} novalidate>
      <${ErrorAlert} error=${submit.error} />
      <div class="row">
        <${Field} label="First name" value=${first} onInput=${setFirst} error=${submit.fields.first_name} autocomplete="off" required />
        <${Field} label="Last name" value=${last} onInput=${setLast} error=${submit.fields.last_name} autocomplete="off" required />
      </div>
      <${PhoneFields} code=${code} number=${number} onCode=${(v) => setPhone([v, number])} onNumber=${(v) => setPhone([code, v])} errors=${submit.fields} />
      <p class="hint">The email address is how they sign in; only they can change it, from their account.</p>
      <div class="actions">
        <${Button} kind="secondary" type="button" onClick=${onClose}>Cancel</${Button}>
        <${Button} busy=${submit.busy} type="submit">Save details</${Button}>
      </div>
    </form>
  </${Dialog}>`;
}

/**
 * A new password for a managed account, which also unlocks it: an emailed link (the account
 * opens when it is used) or a single-use password, shown here once, that opens it at once
 * and must be replaced at the next sign-in. Every session of the account ends either way.
 */
export function ResetPassword({ org, member, unlock, onClose, onDone }) {
  const u = member.user;
  const [mode, setMode] = useState("email");
  const [result, setResult] = useState(null);
  const submit = useSubmit();
  const reset = (e) => {
    e.preventDefault();
    submit.run(async () => {
      const r = await api("POST", `${memberPath(org, member)}/reset-password`, { body: { mode } });
      setResult({ mode, ...r });
      // The status the reset left (a single-use password unlocks and activates at once).
      onDone(await api("GET", memberPath(org, member)));
    });
  };
  const title = unlock ? `Unlock the account of ${fullName(u)}` : `Reset the password of ${fullName(u)}`;
  if (result) {
    return html`<${Dialog} open title=${title} onClose=${onClose}>
      ${result.mode === "single_use_password"
        ? html`<${Secret} label=${`The single-use password of ${u.email}.`} value=${result.single_use_password} />
          <p>Give it to ${u.first_name} in person or another safe way. It opens the account now; at the first sign-in they must choose their own password.</p>`
        : html`<${Alert} kind="success">We emailed a reset link to ${u.email}; it works until ${when(result.expires_at)}.${unlock ? " The account opens once they use it." : ""}</${Alert}>`}
      <div class="actions"><${Button} onClick=${onClose}>Done</${Button}></div>
    </${Dialog}>`;
  }
  return html`<${Dialog} open title=${title} onClose=${onClose}>
    <form onSubmit=${reset}>
      <p>${unlock
        ? `The account was locked after repeated failed sign-ins. A new password opens it again.`
        : `${u.first_name} is signed out everywhere and gets a new password.`}</p>
      <${ErrorAlert} error=${submit.error} />
      <fieldset>
        <legend>How they get the new password</legend>
        <${Choice} name="mode" value="email" checked=${mode === "email"} onChange=${() => setMode("email")}
          label=${`Email a reset link to ${u.email}`} hint="They choose the new password themself." />
        <${Choice} name="mode" value="single_use_password" checked=${mode === "single_use_password"} onChange=${() => setMode("single_use_password")}
          label="Create a single-use password" hint="Shown once, here, for you to pass on; they replace it at their next sign-in." />
      </fieldset>
      <div class="actions">
        <${Button} kind="secondary" type="button" onClick=${onClose}>Cancel</${Button}>
        <${Button} busy=${submit.busy} type="submit">${mode === "email" ? "Send reset link" : "Create password"}</${Button}>
      </div>
    </form>
  </${Dialog}>`;
}

/** Removing ends the membership and keeps the account. */
function RemoveMember({ org, member, onClose, onDone }) {
  return html`<${ConfirmDialog} open=${Boolean(member)} title="Remove member" confirmLabel="Remove"
    onClose=${onClose}
    onConfirm=${async () => {
      await api("DELETE", memberPath(org, member));
      onDone();
    }}>
    <p>${member && html`Remove <strong>${fullName(member.user)}</strong> (${member.user.email}) from ${org.name}, its workspaces and its groups? Their account stays; they can be invited again.`}</p>
  </${ConfirmDialog}>`;
}

/** Deleting a managed account: gone for good, so the person types its email first. */
function DeleteAccount({ org, member, onClose, onDone }) {
  return html`<${ConfirmDialog} open=${Boolean(member)} title="Delete the account permanently" confirmLabel="Delete permanently"
    confirmText=${member?.user.email}
    onClose=${onClose}
    onConfirm=${async () => {
      await api("DELETE", `/v1/orgs/${org.id}/users/${member.user.id}`);
      onDone();
    }}>
    ${member && html`<p>The account of <strong>${fullName(member.user)}</strong> is deleted with its memberships, sessions and sign-in history. This cannot be undone; they cannot sign in again.</p>`}
  </${ConfirmDialog}>`;
}

/** Where a notice from an action shows: a success is announced, a failure explained. */
function Notice({ notice }) {
  if (!notice) return null;
  return notice.error ? html`<${ErrorAlert} error=${notice.error} />` : html`<${Alert} kind="success">${notice.text}</${Alert}>`;
}

export function Members({ org }) {
  const { me } = useSession();
  const [q, setQ] = useState("");
  const [role, setRole] = useState("");
  const search = useDebounced(q.trim());
  const list = usePaged(`/v1/orgs/${org.id}/members`, { q: search, role, limit: 50 });
  // Members changed or gone since their page was read (user id → member, or null), so an
  // action keeps the pages already loaded instead of reading the directory from the top.
  const [changed, setChanged] = useState({});
  const [dialog, setDialog] = useState(null);
  const [notice, setNotice] = useState(() => { const n = carried; carried = null; return n; });
  useEffect(() => setChanged({}), [search, role]);
  const update = (id, m) => { setChanged((c) => ({ ...c, [id]: m })); setDialog(null); };
  const rows = list.rows?.map((m) => (m.user.id in changed ? changed[m.user.id] : m)).filter(Boolean);
  const manage = can(org, "members.manage");
  const invite = can(org, "users.invite");
  const base = `/orgs/${org.id}/members`;
  const addButtons = invite && html`<a class="btn btn-primary" href=${`${base}/new`}>Create user</a>
    <a class="btn btn-secondary" href=${`/orgs/${org.id}/invitations?invite=1`}>Invite members</a>`;

  return html`<${Page} title="Members" description=${`People in ${org.name}, with their organization and workspace roles.`}
    actions=${addButtons}>
    <div class="filters" role="search">
      <${Field} label="Search by name or email" type="search" value=${q} onInput=${setQ} autocomplete="off" />
      <${Select} label="Role" value=${role} onInput=${setRole}
        options=${[["", "All roles"], ...Object.entries(ROLE_LABELS)]} />
    </div>
    <${Notice} notice=${notice} />
    <${ErrorAlert} error=${list.error} />
    ${!rows ? html`<${Spinner} />` : rows.length === 0
      ? html`<${Empty} title=${search || role ? "No member matches" : "No members yet"}
          action=${!search && !role && addButtons}>${search || role ? "Try another name, email or role." : null}</${Empty}>`
      : html`<div class="table-wrap"><table>
        <caption class="visually-hidden">Members</caption>
        <thead><tr><th scope="col">Name</th><th scope="col">Status</th><th scope="col">Organization role</th><th scope="col">Workspaces</th><th scope="col">Groups</th>${manage && html`<th scope="col"><span class="visually-hidden">Actions</span></th>`}</tr></thead>
        <tbody>${rows.map((m) => {
          const may = powers(org, me, m);
          const name = fullName(m.user);
          return html`<tr key=${m.user.id}>
          <th scope="row"><span class="name">${name}</span><a class="block" href=${`${base}/${m.user.id}`}>${m.user.email}</a>${m.managed && html`<${Badge}>managed</${Badge}>`}</th>
          <td><${Status} org=${org} member=${m} may=${may} onNotice=${setNotice}
            onUnlock=${() => setDialog({ kind: "unlock", member: m })} /></td>
          <td>${ROLE_LABELS[m.role] || m.role}</td>
          <td>${INHERITED[m.role] && html`<span class="muted block">All: ${INHERITED[m.role]}</span>`}${m.workspaces.map((w) => html`<span class="chip">${w.name}: ${w.role}</span>`)}</td>
          <td>${m.groups.map((g) => html`<span class="chip">${g.name}</span>`)}</td>
          ${manage && html`<td class="row-actions">${may.manage && html`
            <${Button} kind="secondary" onClick=${() => setDialog({ kind: "role", member: m })}>Change role${hidden(` of ${name}`)}</${Button}>
            <${Button} kind="danger-ghost" onClick=${() => setDialog({ kind: "remove", member: m })}>Remove${hidden(` ${name}`)}</${Button}>`}</td>`}
        </tr>`;
        })}</tbody>
      </table></div>`}
    <${MoreButton} list=${list} />
    ${dialog?.kind === "role" && html`<${ChangeRole} org=${org} member=${dialog.member} onClose=${() => setDialog(null)}
      onDone=${(m) => update(m.user.id, m)} />`}
    ${dialog?.kind === "unlock" && html`<${ResetPassword} org=${org} member=${dialog.member} unlock onClose=${() => setDialog(null)}
      onDone=${(m) => setChanged((c) => ({ ...c, [m.user.id]: m }))} />`}
    <${RemoveMember} org=${org} member=${dialog?.kind === "remove" ? dialog.member : null} onClose=${() => setDialog(null)}
      onDone=${() => update(dialog.member.user.id, null)} />
  </${Page}>`;
}

/** One person's page: everything the directory shows, and every action the caller holds. */
export function MemberDetail({ org, params }) {
  const { me } = useSession();
  const [state, setState] = useState({ member: null, error: null });
  const [dialog, setDialog] = useState(null);
  const [notice, setNotice] = useState(null);
  const path = `/v1/orgs/${org.id}/members/${encodeURIComponent(params.user)}`;
  useEffect(() => {
    setState({ member: null, error: null });
    api("GET", path).then((member) => setState({ member, error: null }), (error) => setState({ member: null, error }));
  }, [path]);
  const back = html`<a class="btn btn-secondary" href=${`/orgs/${org.id}/members`}>All members</a>`;
  const { member: m, error } = state;
  if (error) return html`<${Page} title="Member" actions=${back}><${ErrorAlert} error=${error} /></${Page}>`;
  if (!m) return html`<${Spinner} />`;

  const u = m.user;
  const may = powers(org, me, m);
  const close = () => setDialog(null);
  const changedTo = (next) => { setState({ member: next, error: null }); setDialog(null); };
  const gone = (text) => { carried = { text }; navigate(`/orgs/${org.id}/members`); };
  const open = (kind) => () => { setNotice(null); setDialog(kind); };
  return html`<${Page} title=${fullName(u)} description=${u.email} actions=${back}>
    <${Notice} notice=${notice} />
    ${u.id === me.id && html`<${Alert} kind="info">This is you. Your own details and password are under <a href="/account">Your account</a>.</${Alert}>`}
    <section class="card">
      <h2>Account</h2>
      <dl class="facts">
        <dt>Status</dt>
        <dd><${Status} org=${org} member=${m} may=${may} explain onNotice=${setNotice} onUnlock=${open("unlock")} /></dd>
        <dt>Email</dt><dd>${u.email}</dd>
        <dt>Mobile phone</dt><dd>${u.phone || "—"}</dd>
        <dt>Member since</dt><dd>${when(m.joined_at)}</dd>
        <dt>Managed</dt>
        <dd>${m.managed ? `Yes: ${org.name} created this account, so its admins edit its details and reset its password.` : "No: the account is their own; only they change its details and password."}</dd>
      </dl>
      ${(may.details || may.account) && html`<div class="actions start">
        ${may.details && html`<${Button} kind="secondary" onClick=${open("details")}>Edit details…</${Button}>`}
        ${may.account && html`<${Button} kind="secondary" onClick=${open("reset")}>Reset password…</${Button}>`}
      </div>`}
    </section>
    <section class="card">
      <h2>Access</h2>
      <dl class="facts">
        <dt>Organization role</dt>
        <dd>${ROLE_LABELS[m.role] || m.role}
          ${may.manage && html` <${Button} kind="secondary" onClick=${open("role")}>Change role…</${Button}>`}</dd>
        <dt>Workspaces</dt>
        <dd>${m.workspaces.length ? html`<ul class="plain">${m.workspaces.map((w) => html`<li>${w.name}: ${ROLE_LABELS[w.role] || w.role}</li>`)}</ul>`
          : m.role === "member" ? "None" : `None of their own; the ${(ROLE_LABELS[m.role] || m.role).toLowerCase()} role reaches every workspace.`}</dd>
        <dt>Groups</dt>
        <dd>${m.groups.length ? html`<ul class="plain">${m.groups.map((g) => html`<li>${g.name}</li>`)}</ul>` : "None"}</dd>
      </dl>
    </section>
    ${(may.manage || may.delete) && html`<section class="card danger-zone">
      <h2>Remove or delete</h2>
      ${may.manage && html`<p>Removing ends their access to ${org.name}, its workspaces and groups; the account stays theirs.</p>
        <${Button} kind="danger-ghost" onClick=${open("remove")}>Remove from ${org.name}…</${Button}>`}
      ${may.delete && html`<p>Deleting the account erases it for good: they can no longer sign in anywhere.</p>
        <${Button} kind="danger" onClick=${open("delete")}>Delete account permanently…</${Button}>`}
    </section>`}
    ${dialog === "role" && html`<${ChangeRole} org=${org} member=${m} onClose=${close} onDone=${changedTo} />`}
    ${dialog === "details" && html`<${EditDetails} org=${org} member=${m} onClose=${close} onDone=${changedTo} />`}
    ${(dialog === "reset" || dialog === "unlock") && html`<${ResetPassword} org=${org} member=${m} unlock=${dialog === "unlock"}
      onClose=${close} onDone=${(next) => setState({ member: next, error: null })} />`}
    <${RemoveMember} org=${org} member=${dialog === "remove" ? m : null} onClose=${close}
      onDone=${() => gone(`${fullName(u)} was removed from ${org.name}.`)} />
    <${DeleteAccount} org=${org} member=${dialog === "delete" ? m : null} onClose=${close}
      onDone=${() => gone(`The account of ${fullName(u)} was deleted.`)} />
  </${Page}>`;
}
