// Usage: the org's seats. Members and pending invitations each hold one, up to the seat
// limit the platform operator sets; a full org refuses new members and invitations.
import { useEffect, useState } from "preact/hooks";
import { html } from "../html.js";
import { api } from "../api.js";
import { can } from "../session.js";
import { Alert, ErrorAlert, Page, Spinner } from "../ui.js";
import { ROLE_LABELS } from "../roles.js";

/**
 * The governance screens (API tokens, audit log, usage) for owners and admins; anyone else
 * who opens their address is told why there is nothing, without asking the API for a 403.
 */
export function Governed({ org, title, children }) {
  if (can(org, "governance")) return children;
  return html`<${Page} title=${title}>
    <${Alert} kind="info">Only the organization's owners and admins see this page. Your role in ${org.name} is ${ROLE_LABELS[org.role] || org.role}.</${Alert}>
  </${Page}>`;
}

/** One GET, loaded when `path` changes: `{ data, error, reload }`. */
export function useResource(path) {
  const [state, setState] = useState({ data: null, error: null });
  const reload = () => api("GET", path).then((data) => setState({ data, error: null }), (error) => setState({ data: null, error }));
  useEffect(() => { setState({ data: null, error: null }); reload(); }, [path]);
  return { ...state, reload };
}

function Seats({ org }) {
  const { data: u, error } = useResource(`/v1/orgs/${org.id}/usage`);
  const used = u && u.members + u.pending_invitations;
  return html`<${Page} title="Usage" description="Seats: every member and every pending invitation holds one.">
    <${ErrorAlert} error=${error} />
    ${!u ? !error && html`<${Spinner} />` : html`
      <section class="card" aria-labelledby="seats-title">
        <h2 id="seats-title">Seats</h2>
        <p class="seats-total"><strong data-testid="seats-used">${used}</strong> of <strong data-testid="seat-limit">${u.member_limit}</strong> seats used</p>
        <meter min="0" max=${u.member_limit} value=${Math.min(used, u.member_limit)} high=${u.member_limit * 0.9} optimum="0"
          aria-label=${`${used} of ${u.member_limit} seats used`}>${used} of ${u.member_limit}</meter>
        <dl class="stats">
          <div><dt>Members</dt><dd data-testid="members">${u.members}</dd></div>
          <div><dt>Pending invitations</dt><dd data-testid="pending-invitations">${u.pending_invitations}</dd></div>
          <div><dt>Seats left</dt><dd data-testid="remaining">${u.remaining}</dd></div>
        </dl>
        ${u.remaining === 0 && html`<${Alert} kind="warning">Every seat is taken: new members and invitations are refused until one frees up (remove a member or withdraw an invitation), or the platform operator raises the limit.</${Alert}>`}
        <p><a href=${`/orgs/${org.id}/members`}>See the members</a> · <a href=${`/orgs/${org.id}/invitations`}>See the invitations</a></p>
      </section>`}
  </${Page}>`;
}

export function Usage({ org }) {
  return html`<${Governed} org=${org} title="Usage"><${Seats} org=${org} /></${Governed}>`;
}
