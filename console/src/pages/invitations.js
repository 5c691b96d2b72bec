// Invitations: invite one or several emails at once (role, workspaces, groups, a message)
// with a result per email, and the org's invitations by status with what an admin needs to
// follow them up: when, to whom, which roles, the message, by whom, until when, whether the
// email went out and how often it was sent. Resend and withdraw appear only where they
// apply: on a pending or expired invitation, for admins on any, for editors on their own
// (`invitations.manage_all`); the API decides anyway.
import { useEffect, useRef, useState } from "preact/hooks";
import { html } from "../html.js";
import { api } from "../api.js";
import { navigate } from "../router.js";
import { useSession, can } from "../session.js";
import { Alert, Badge, Button, ConfirmDialog, Dialog, Empty, ErrorAlert, Field, Page, Select, Spinner, explain, when, fullName, useSubmit } from "../ui.js";
import { MoreButton, usePaged } from "./account.js";
import { ROLE_LABELS, grantableRoles, grantableWorkspaceRoles } from "../roles.js";

/** Emails one request may invite (the batch route's limit). */
const MAX_EMAILS = 20;
const MAX_MESSAGE = 1000;
const STATUSES = [
  ["pending", "Pending"], ["expired", "Expired"], ["accepted", "Accepted"],
  ["declined", "Declined"], ["withdrawn", "Withdrawn"], ["all", "All"],
];
const STATUS_TONE = { pending: "warning", accepted: "success", expired: "neutral", declined: "neutral", withdrawn: "neutral" };
/** The delivery state of the latest invitation email (the queue consumer's outbox). */
const DELIVERY = { queued: ["Queued", "neutral"], sent: ["Sent", "success"], failed: ["Failed", "danger"] };
const RESULT_TEXT = {
  invited: "Invitation sent",
  already_member: "Already a member: nothing sent",
  invitation_exists: "Already invited: an invitation is pending (resend it from the list)",
  no_seat: "Not sent: not enough free seats for this list",
};

/** The emails typed or pasted, split on commas, semicolons, spaces and line breaks. */
function splitEmails(text) {
  return text.split(/[\s,;]+/).map((e) => e.trim()).filter(Boolean);
}

/** Every row of a small org-scoped list (workspaces, groups) for a picker; null while loading. */
function usePickable(path, enabled) {
  const [rows, setRows] = useState(enabled ? null : []);
  const [error, setError] = useState(null);
  useEffect(() => {
    if (!enabled) return;
    api("GET", path, { query: { limit: 200 } }).then((page) => setRows(page.data), (e) => { setError(e); setRows([]); });
  }, [path, enabled]);
  return { rows, error };
}

/**
 * The invite form: several emails, one offer. The answer's result per email replaces the
 * form; a refusal of the whole list (seats, a field) keeps it, so the person can fix it.
 */
function InviteDialog({ org, onClose, onSent }) {
  const governance = can(org, "governance");
  const workspaces = usePickable(`/v1/orgs/${org.id}/workspaces`, true);
  const groups = usePickable(`/v1/orgs/${org.id}/groups`, governance);
  const roles = grantableRoles(org.role);
  const wsRoles = grantableWorkspaceRoles(org.role);
  const [text, setText] = useState("");
  const [role, setRole] = useState(roles.includes("viewer") ? "viewer" : roles[0]);
  const [picked, setPicked] = useState({}); // workspace id → role
  const [groupIds, setGroupIds] = useState([]);
  const [message, setMessage] = useState("");
  const [outcome, setOutcome] = useState(null); // {lines: [[email, result]], note}
  const submit = useSubmit();
  const emails = splitEmails(text);
  // The results replace the form (and the button that had focus): focus moves to them.
  const outcomeRef = useRef(null);
  useEffect(() => { if (outcome) outcomeRef.current?.focus(); }, [outcome]);

  const send = (e) => {
    e.preventDefault();
    submit.run(async () => {
      const body = {
        emails,
        role,
        workspaces: Object.entries(picked).map(([workspace_id, r]) => ({ workspace_id, role: r })),
        groups: groupIds,
      };
      if (message.trim()) body.message = message.trim();
      try {
        const res = await api("POST", `/v1/orgs/${org.id}/invitations/batch`, { body });
        setOutcome({ lines: res.results.map((r) => [r.email, r.result]), invited: res.invited });
        if (res.invited) onSent();
      } catch (err) {
        // Seats are all or nothing: every email of the list stays unsent.
        if (err.code === "capacity_exceeded") setOutcome({ lines: emails.map((m) => [m, "no_seat"]), invited: 0, note: err });
        else throw err;
      }
    });
  };

  // Field errors of the list name their entries (`emails[2]`): shown by the emails, by address.
  const f = submit.fields;
  const emailErrors = [f.emails, ...emails.map((m, i) => f[`emails[${i}]`] && `${m}: ${f[`emails[${i}]`]}`)].filter(Boolean);
  const tooMany = emails.length > MAX_EMAILS;
  const groupError = Object.entries(f).filter(([k]) => k.startsWith("groups")).map(([, v]) => v)[0];
  const wsError = Object.entries(f).filter(([k]) => k.startsWith("workspaces")).map(([, v]) => v)[0];
  const restricting = (g) => (g.restrictions || []).length > 0;

  if (outcome) {
    return html`<${Dialog} open wide title="Invitation results" onClose=${onClose}>
      <div class="invite-outcome" tabindex="-1" ref=${outcomeRef}>
        ${outcome.note && html`<${Alert} kind="error">${explain(outcome.note)}</${Alert}>`}
        ${!outcome.note && html`<${Alert} kind=${outcome.invited ? "success" : "info"}>${outcome.invited} of ${outcome.lines.length} ${outcome.lines.length === 1 ? "email was" : "emails were"} invited.</${Alert}>`}
        <ul class="invite-results" aria-label="Result per email">
          ${outcome.lines.map(([email, result]) => html`<li data-result=${result}>
            <span class="invite-email">${email}</span>
            <${Badge} tone=${result === "invited" ? "success" : result === "no_seat" ? "danger" : "neutral"}>${RESULT_TEXT[result] || result}</${Badge}>
          </li>`)}
        </ul>
      </div>
      <div class="actions">
        ${outcome.note
          ? html`<${Button} kind="secondary" onClick=${() => setOutcome(null)}>Change the list</${Button}>`
          : html`<${Button} kind="secondary" onClick=${() => { setOutcome(null); setText(""); }}>Invite more</${Button}>`}
        <${Button} onClick=${onClose}>Done</${Button}>
      </div>
    </${Dialog}>`;
  }

  return html`<${Dialog} open wide title="Invite people" onClose=${onClose}>
    <form onSubmit=${send} novalidate>
      <${ErrorAlert} error=${submit.error} />
      <${Field} label="Emails" required error=${emailErrors.join(" ") || (tooMany ? `At most ${MAX_EMAILS} at once.` : null)}
        hint=${`One or more, separated by commas or new lines (up to ${MAX_EMAILS}). ${emails.length ? `${emails.length} ${emails.length === 1 ? "email" : "emails"}.` : ""}`}>
        ${(a) => html`<textarea name="emails" rows="3" value=${text} onInput=${(e) => setText(e.currentTarget.value)} autocomplete="off" ...${a}></textarea>`}
      </${Field}>
      <${Select} label="Organization role" name="role" value=${role} onInput=${setRole} error=${f.role}
        hint=${role === "member" ? "Members see only the workspaces you pick below." : null}
        options=${roles.map((r) => [r, r === "member" ? "Member (workspaces only)" : ROLE_LABELS[r]])} />
      <fieldset>
        <legend>Workspaces</legend>
        ${wsError && html`<p class="field-error">${wsError}</p>`}
        <${ErrorAlert} error=${workspaces.error} />
        ${workspaces.rows === null ? html`<${Spinner} />` : workspaces.rows.length === 0 ? html`<p class="muted">No workspaces yet.</p>` : html`<ul class="pick-list">
          ${workspaces.rows.map((w) => html`<li>
            <label class="check"><input type="checkbox" checked=${w.id in picked}
              onChange=${(e) => { const next = { ...picked }; if (e.currentTarget.checked) next[w.id] = wsRoles[0]; else delete next[w.id]; setPicked(next); }} />
              ${w.name}</label>
            ${w.id in picked && html`<label class="pick-role"><span class="visually-hidden">Role in ${w.name}</span>
              <select value=${picked[w.id]} onChange=${(e) => setPicked({ ...picked, [w.id]: e.currentTarget.value })}>
                ${wsRoles.map((r) => html`<option value=${r}>${ROLE_LABELS[r]}</option>`)}
              </select></label>`}
          </li>`)}
        </ul>`}
        <p class="hint pick-hint">Optional, except for members. The organization role already gives ${role === "member" ? "no workspace access" : `${ROLE_LABELS[role]} access to every workspace`}.</p>
      </fieldset>
      ${governance && html`<fieldset>
        <legend>Groups</legend>
        ${groupError && html`<p class="field-error">${groupError}</p>`}
        <${ErrorAlert} error=${groups.error} />
        ${groups.rows === null ? html`<${Spinner} />` : groups.rows.length === 0 ? html`<p class="muted">No groups yet.</p>` : html`<ul class="pick-list">
          ${groups.rows.map((g) => {
            const barred = role === "admin" && restricting(g);
            return html`<li><label class="check"><input type="checkbox" disabled=${barred} checked=${groupIds.includes(g.id) && !barred}
              onChange=${(e) => setGroupIds(e.currentTarget.checked ? [...groupIds, g.id] : groupIds.filter((x) => x !== g.id))} />
              ${g.name}${restricting(g) && html` <span class="muted">(restricting${barred ? ": not for admins" : ""})</span>`}</label></li>`;
          })}
        </ul>`}
        <p class="hint pick-hint">The invitee joins these groups on accepting.</p>
      </fieldset>`}
      <${Field} label="Message" error=${f.message} hint=${`Optional, shown in the email and on the accept page (${message.length}/${MAX_MESSAGE}).`}>
        ${(a) => html`<textarea name="message" rows="3" maxlength=${MAX_MESSAGE} value=${message} onInput=${(e) => setMessage(e.currentTarget.value)} ...${a}></textarea>`}
      </${Field}>
      <div class="actions">
        <${Button} kind="secondary" type="button" onClick=${onClose}>Cancel</${Button}>
        <${Button} busy=${submit.busy} type="submit" disabled=${emails.length === 0 || tooMany}>
          ${emails.length > 1 ? `Send ${emails.length} invitations` : "Send invitation"}
        </${Button}>
      </div>
    </form>
  </${Dialog}>`;
}

function Roles({ inv }) {
  return html`<span class="block">${ROLE_LABELS[inv.role] || inv.role}</span>
    ${inv.workspaces.map((w) => html`<span class="chip">${w.name}: ${w.role}</span>`)}`;
}

function Inviter({ inv }) {
  if (inv.invited_by) return html`${fullName(inv.invited_by)}<span class="muted block">${inv.invited_by.email}</span>`;
  if (inv.invited_by_token) return html`API token <span class="muted block">${inv.invited_by_token.name}</span>`;
  return html`<span class="muted">—</span>`;
}

function Delivery({ inv }) {
  const [label, tone] = DELIVERY[inv.email_status] || ["—", "neutral"];
  return html`<${Badge} tone=${tone}>${label}</${Badge}>
    <span class="muted block">sent ${inv.send_count} ${inv.send_count === 1 ? "time" : "times"}</span>
    <span class="muted block">last ${when(inv.last_sent_at)}</span>`;
}

/** The screen, for roles that may invite; anyone else who follows a link here is told why not. */
export function Invitations({ org }) {
  if (can(org, "users.invite")) return html`<${InvitationList} org=${org} />`;
  return html`<${Page} title="Invitations">
    <${Alert} kind="info">Your role in ${org.name} (${ROLE_LABELS[org.role] || org.role}) does not include inviting people. Ask an owner, admin or editor.</${Alert}>
  </${Page}>`;
}

function InvitationList({ org }) {
  const { me } = useSession();
  const [status, setStatus] = useState("pending");
  const list = usePaged(`/v1/orgs/${org.id}/invitations`, { status, limit: 50 });
  // The members screen links here with ?invite=1 to open the form at once.
  const [inviting, setInviting] = useState(() => new URLSearchParams(location.search).get("invite") === "1");
  const [withdrawing, setWithdrawing] = useState(null);
  const [notice, setNotice] = useState(null);
  const resend = useSubmit();
  const manageAll = can(org, "invitations.manage_all");

  useEffect(() => {
    // Once opened, the form is not reopened by a reload or by going back.
    if (new URLSearchParams(location.search).has("invite")) navigate(`/orgs/${org.id}/invitations`, { replace: true });
  }, []);

  const mayManage = (inv) => (inv.status === "pending" || inv.status === "expired") && (manageAll || inv.invited_by?.id === me.id);
  const doResend = (inv) => resend.run(async () => {
    setNotice(null);
    await api("POST", `/v1/orgs/${org.id}/invitations/${inv.id}/resend`);
    setNotice(`Invitation to ${inv.email} sent again, with a new link; the old link no longer works.`);
    list.reload();
  });
  const openInvite = () => { setNotice(null); setInviting(true); };
  const anyActions = list.rows?.some(mayManage);

  return html`<${Page} title="Invitations" description=${`People invited to ${org.name}, and what became of their invitations.`}
    actions=${html`<${Button} onClick=${openInvite}>Invite people</${Button}>`}>
    <div class="filters invitation-filters">
      <${Select} label="Status" name="status" value=${status} onInput=${setStatus} options=${STATUSES} />
    </div>
    ${notice && html`<${Alert} kind="success">${notice}</${Alert}>`}
    <${ErrorAlert} error=${resend.error} />
    <${ErrorAlert} error=${list.error} />
    ${!list.rows ? html`<${Spinner} />` : list.rows.length === 0
      ? html`<${Empty} title=${status === "pending" ? "No pending invitations" : "No invitations with this status"}
          action=${html`<${Button} onClick=${openInvite}>Invite people</${Button}>`}>
          ${status === "pending" ? "Invite people by email; they appear here until they answer." : null}
        </${Empty}>`
      : html`<div class="table-wrap"><table class="invitations">
        <caption class="visually-hidden">Invitations</caption>
        <thead><tr>
          <th scope="col">Email</th><th scope="col">Role</th><th scope="col">Message</th>
          <th scope="col">Invited by</th><th scope="col">Email delivery</th><th scope="col">Status</th>
          ${anyActions && html`<th scope="col"><span class="visually-hidden">Actions</span></th>`}
        </tr></thead>
        <tbody>${list.rows.map((inv) => html`<tr>
          <th scope="row"><span class="name">${inv.email}</span><span class="muted block">invited ${when(inv.created_at)}</span></th>
          <td><${Roles} inv=${inv} /></td>
          <td class="message">${inv.message || html`<span class="muted">—</span>`}</td>
          <td><${Inviter} inv=${inv} /></td>
          <td><${Delivery} inv=${inv} /></td>
          <td><${Badge} tone=${STATUS_TONE[inv.status] || "neutral"}>${inv.status}</${Badge}>
            <span class="muted block">${inv.ended_at ? `ended ${when(inv.ended_at)}` : `expires ${when(inv.expires_at)}`}</span></td>
          ${anyActions && html`<td class="row-actions">${mayManage(inv) && html`
            <${Button} kind="secondary" busy=${resend.busy} onClick=${() => doResend(inv)} aria-label=${`Resend the invitation to ${inv.email}`}>Resend</${Button}>
            <${Button} kind="danger-ghost" onClick=${() => setWithdrawing(inv)} aria-label=${`Withdraw the invitation to ${inv.email}`}>Withdraw</${Button}>`}</td>`}
        </tr>`)}</tbody>
      </table></div>`}
    <${MoreButton} list=${list} />
    ${inviting && html`<${InviteDialog} org=${org} onClose=${() => setInviting(false)} onSent=${() => list.reload()} />`}
    <${ConfirmDialog} open=${Boolean(withdrawing)} title="Withdraw invitation" confirmLabel="Withdraw"
      onClose=${() => setWithdrawing(null)}
      onConfirm=${async () => {
        await api("DELETE", `/v1/orgs/${org.id}/invitations/${withdrawing.id}`);
        setNotice(`Invitation to ${withdrawing.email} withdrawn.`);
        setWithdrawing(null);
        list.reload();
      }}>
      <p>${withdrawing && html`Withdraw the invitation to <strong>${withdrawing.email}</strong>? Its link stops working and its seat is freed.`}</p>
    </${ConfirmDialog}>
  </${Page}>`;
}
