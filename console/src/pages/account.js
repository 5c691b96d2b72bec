// My account: profile, email change, password and sessions, sign-in activity, invitations
// addressed to me, my organizations (switch, create), and deleting the account.
import { useEffect, useState } from "preact/hooks";
import { html } from "../html.js";
import { api } from "../api.js";
import { navigate } from "../router.js";
import { useSession } from "../session.js";
import { PhoneFields, splitPhone } from "../phone.js";
import { Alert, Badge, Button, ConfirmDialog, Empty, ErrorAlert, Field, Page, Spinner, useSubmit, when } from "../ui.js";

/** A list endpoint's pages (`{data, next_cursor}`), loaded on demand. */
export function usePaged(path, query = {}) {
  const [state, setState] = useState({ rows: null, next: null, error: null, loading: false });
  const key = JSON.stringify([path, query]);
  const load = async (cursor, reset) => {
    setState((s) => ({ ...s, loading: true }));
    try {
      const page = await api("GET", path, { query: { ...query, cursor } });
      setState((s) => ({ rows: reset ? page.data : [...(s.rows || []), ...page.data], next: page.next_cursor, error: null, loading: false }));
    } catch (error) {
      setState((s) => ({ ...s, error, loading: false }));
    }
  };
  useEffect(() => { setState({ rows: null, next: null, error: null, loading: false }); load(undefined, true); }, [key]);
  return { ...state, more: () => load(state.next, false), reload: () => load(undefined, true) };
}

export function MoreButton({ list }) {
  if (!list.next) return null;
  return html`<p><${Button} kind="secondary" busy=${list.loading} onClick=${list.more}>Load more</${Button}></p>`;
}

function Profile() {
  const { me, reload } = useSession();
  const [first, setFirst] = useState(me.first_name);
  const [last, setLast] = useState(me.last_name);
  const [[code, number], setPhone] = useState(splitPhone(me.phone));
  const [saved, setSaved] = useState(false);
  const submit = useSubmit();
  const save = (e) => {
    e.preventDefault();
    setSaved(false);
    submit.run(async () => {
      const body = { first_name: first.trim(), last_name: last.trim() };
      if (code.trim() || number.trim()) Object.assign(body, { country_code: code.trim(), mobile_number: number.trim() });
      else body.phone = null;
      await api("PATCH", "/v1/me", { body });
      await reload();
      setSaved(true);
    });
  };
  return html`<${Page} title="Profile">
    <form class="card" onSubmit=${save} novalidate>
      <h2>Your details</h2>
      ${saved && html`<${Alert} kind="success">Saved.</${Alert}>`}
      <${ErrorAlert} error=${submit.error} />
      <div class="row">
        <${Field} label="First name" value=${first} onInput=${setFirst} autocomplete="given-name" error=${submit.fields.first_name} required />
        <${Field} label="Last name" value=${last} onInput=${setLast} autocomplete="family-name" error=${submit.fields.last_name} required />
      </div>
      <${PhoneFields} code=${code} number=${number} onCode=${(v) => setPhone([v, number])} onNumber=${(v) => setPhone([code, v])} errors=${submit.fields} />
      <${Button} busy=${submit.busy} type="submit">Save</${Button}>
    </form>
    <${EmailChange} />
    <${DeleteAccount} />
  </${Page}>`;
}

function EmailChange() {
  const { me, reload } = useSession();
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [sent, setSent] = useState(null);
  const submit = useSubmit();
  const change = (e) => {
    e.preventDefault();
    submit.run(async () => {
      await api("POST", "/v1/me/email", { body: { new_email: email.trim(), password } });
      setSent(email.trim());
      setEmail("");
      setPassword("");
      await reload();
    });
  };
  return html`<form class="card" onSubmit=${change} novalidate>
    <h2>Email address</h2>
    <p>${me.email} ${me.email_verified ? html`<${Badge} tone="success">verified</${Badge}>` : html`<${Badge} tone="warning">not verified</${Badge}>`}</p>
    ${me.pending_email && html`<${Alert} kind="info">A change to <strong>${me.pending_email}</strong> is waiting: open the link we emailed there to confirm it.</${Alert}>`}
    ${sent && html`<${Alert} kind="success">We emailed a confirmation link to ${sent}.</${Alert}>`}
    <${ErrorAlert} error=${submit.error} />
    <${Field} label="New email address" type="email" value=${email} onInput=${setEmail} autocomplete="email" error=${submit.fields.new_email} required />
    <${Field} label="Your password" type="password" value=${password} onInput=${setPassword} autocomplete="current-password" error=${submit.fields.password} required />
    <${Button} kind="secondary" busy=${submit.busy} type="submit">Change email</${Button}>
  </form>`;
}

function DeleteAccount() {
  const { signOut } = useSession();
  const [open, setOpen] = useState(false);
  const [password, setPassword] = useState("");
  return html`<section class="card danger-zone">
    <h2>Delete your account</h2>
    <p>Your account and your memberships go away for good. Organizations you own alone are deleted with it; if you own an organization that has other members, transfer its ownership first (Settings of that organization).</p>
    <${Button} kind="danger" onClick=${() => setOpen(true)}>Delete my account…</${Button}>
    <${ConfirmDialog} open=${open} title="Delete your account" confirmLabel="Delete my account" confirmText="delete my account"
      onClose=${() => setOpen(false)}
      onConfirm=${async () => {
        await api("DELETE", "/v1/me", { body: { password } });
        setOpen(false);
        await signOut();
      }}>
      <p>This cannot be undone.</p>
      <${Field} label="Your password" type="password" value=${password} onInput=${setPassword} autocomplete="current-password" required />
    </${ConfirmDialog}>
  </section>`;
}

function Security() {
  const { signOut } = useSession();
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");
  const [saved, setSaved] = useState(false);
  const submit = useSubmit();
  const sessions = usePaged("/v1/me/sessions");
  const revoke = useSubmit();
  const change = (e) => {
    e.preventDefault();
    setSaved(false);
    submit.run(async () => {
      await api("POST", "/v1/me/password", { body: { current_password: current, new_password: next } });
      setCurrent("");
      setNext("");
      setSaved(true);
      sessions.reload();
    });
  };
  return html`<${Page} title="Password & sessions">
    <form class="card" onSubmit=${change} novalidate>
      <h2>Change password</h2>
      ${saved && html`<${Alert} kind="success">Password changed. Your other sessions were signed out.</${Alert}>`}
      <${ErrorAlert} error=${submit.error} />
      <${Field} label="Current password" type="password" value=${current} onInput=${setCurrent} autocomplete="current-password" error=${submit.fields.current_password} required />
      <${Field} label="New password" type="password" value=${next} onInput=${setNext} autocomplete="new-password" error=${submit.fields.new_password}
        hint="At least 8 characters; not a common password." required />
      <${Button} busy=${submit.busy} type="submit">Change password</${Button}>
    </form>
    <section class="card">
      <h2>Sessions</h2>
      <${ErrorAlert} error=${sessions.error || revoke.error} />
      ${!sessions.rows ? html`<${Spinner} />` : html`<div class="table-wrap"><table>
        <thead><tr><th scope="col">Device</th><th scope="col">IP address</th><th scope="col">Signed in</th><th scope="col">Last active</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>
        <tbody>${sessions.rows.map((s) => html`<tr>
          <td>${s.user_agent || "Unknown device"} ${s.current && html`<${Badge} tone="success">this session</${Badge}>`}</td>
          <td>${s.ip || "—"}</td><td>${when(s.created_at)}</td><td>${when(s.last_used_at)}</td>
          <td>${!s.current && html`<${Button} kind="secondary" onClick=${() => revoke.run(async () => { await api("DELETE", `/v1/me/sessions/${s.id}`); sessions.reload(); })}>Revoke</${Button}>`}</td>
        </tr>`)}</tbody></table></div>`}
      <${MoreButton} list=${sessions} />
      <${Button} kind="danger" onClick=${() => revoke.run(async () => { await api("POST", "/v1/auth/logout-all"); await signOut(); })}>Sign out everywhere</${Button}>
    </section>
  </${Page}>`;
}

function Activity() {
  const list = usePaged("/v1/me/activity");
  return html`<${Page} title="Activity" description="Sign-ins and changes to your account, newest first.">
    <${ErrorAlert} error=${list.error} />
    ${!list.rows ? html`<${Spinner} />` : list.rows.length === 0 ? html`<${Empty} title="No activity yet" />` : html`<div class="table-wrap"><table>
      <thead><tr><th scope="col">Time</th><th scope="col">What</th><th scope="col">Method</th><th scope="col">Result</th><th scope="col">IP address</th><th scope="col">Device</th></tr></thead>
      <tbody>${list.rows.map((e) => html`<tr>
        <td>${when(e.at)}</td><td>${e.action}</td><td>${e.auth_method || "—"}</td>
        <td>${e.success ? html`<${Badge} tone="success">success</${Badge}>` : html`<${Badge} tone="danger">failed</${Badge}>`}</td>
        <td>${e.ip || "—"}</td><td>${e.user_agent || "—"}</td>
      </tr>`)}</tbody></table></div>`}
    <${MoreButton} list=${list} />
  </${Page}>`;
}

function Invitations() {
  const { reload, me } = useSession();
  const list = usePaged("/v1/me/invitations");
  const act = useSubmit();
  const answer = (inv, verb) =>
    act.run(async () => {
      await api("POST", `/v1/me/invitations/${inv.id}/${verb}`);
      list.reload();
      if (verb === "accept") await reload();
    });
  return html`<${Page} title="Invitations" description="Invitations to your email address from other organizations.">
    ${!me.email_verified && html`<${Alert} kind="info">Confirm your email address to see the invitations sent to it.</${Alert}>`}
    <${ErrorAlert} error=${list.error || act.error} />
    ${!list.rows ? html`<${Spinner} />` : list.rows.length === 0 ? html`<${Empty} title="No invitations">Invitations to ${me.email} appear here.</${Empty}>` : html`<ul class="cards">
      ${list.rows.map((inv) => html`<li class="card">
        <h2>${inv.org.name}</h2>
        <p>Role: <strong>${inv.role}</strong>${inv.workspaces?.length ? ` · Workspaces: ${inv.workspaces.map((w) => `${w.name} (${w.role})`).join(", ")}` : ""}</p>
        ${inv.message && html`<blockquote>${inv.message}</blockquote>`}
        <p class="muted">Expires ${when(inv.expires_at)}</p>
        <div class="actions">
          <${Button} onClick=${() => answer(inv, "accept")} busy=${act.busy}>Accept</${Button}>
          <${Button} kind="secondary" onClick=${() => answer(inv, "decline")} busy=${act.busy}>Decline</${Button}>
        </div>
      </li>`)}
    </ul>`}
  </${Page}>`;
}

function Organizations() {
  const { me } = useSession();
  return html`<${Page} title="Organizations" actions=${html`<a class="btn btn-primary" href="/orgs/new">Create an organization</a>`}>
    ${me.memberships.length === 0 ? html`<${Empty} title="You belong to no organization" action=${html`<a class="btn btn-primary" href="/orgs/new">Create an organization</a>`} />` : html`<div class="table-wrap"><table>
      <thead><tr><th scope="col">Organization</th><th scope="col">Your role</th><th scope="col">Workspaces</th></tr></thead>
      <tbody>${me.memberships.map((m) => html`<tr>
        <td><a href=${`/orgs/${m.org.id}`}>${m.org.name}</a></td><td>${m.role}</td>
        <td>${m.workspaces.map((w) => `${w.name} (${w.role})`).join(", ") || "—"}</td>
      </tr>`)}</tbody></table></div>`}
  </${Page}>`;
}

function CreateOrg() {
  const { reload } = useSession();
  const [name, setName] = useState("");
  const [description, setDescription] = useState("");
  const submit = useSubmit();
  const create = (e) => {
    e.preventDefault();
    submit.run(async () => {
      const body = { name: name.trim() };
      if (description.trim()) body.description = description.trim();
      const org = await api("POST", "/v1/orgs", { body });
      await reload();
      navigate(`/orgs/${org.id}`);
    });
  };
  return html`<${Page} title="Create an organization">
    <form class="card" onSubmit=${create} novalidate>
      <${ErrorAlert} error=${submit.error} />
      <${Field} label="Name" value=${name} onInput=${setName} error=${submit.fields.name} autocomplete="organization" required />
      <${Field} label="Description" value=${description} onInput=${setDescription} error=${submit.fields.description} />
      <${Button} busy=${submit.busy} type="submit">Create organization</${Button}>
    </form>
  </${Page}>`;
}

/** The account screens: the navigation entry, its label, and the paths they answer. */
export const ACCOUNT_SCREENS = [
  { nav: "/account", label: "Profile", routes: [["/account", Profile]] },
  { nav: "/account/security", label: "Password & sessions", routes: [["/account/security", Security]] },
  { nav: "/account/activity", label: "Activity", routes: [["/account/activity", Activity]] },
  { nav: "/account/invitations", label: "Invitations", routes: [["/account/invitations", Invitations]] },
  { nav: "/account/organizations", label: "Organizations", routes: [["/account/organizations", Organizations], ["/orgs/new", CreateOrg]] },
];
