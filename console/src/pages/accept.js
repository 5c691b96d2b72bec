// An invitation's link: a preview of who invites whom to what (reading it uses nothing up),
// then either a new account's form or, for an existing account, "sign in as … to accept".
import { useEffect, useState } from "preact/hooks";
import { html } from "../html.js";
import { ApiError, adoptLogin, api, publicApi } from "../api.js";
import { forgetToken, navigate, takeToken } from "../router.js";
import { useSession } from "../session.js";
import { Alert, Button, ErrorAlert, Field, Spinner, useSubmit, when } from "../ui.js";
import { AuthCard } from "./signin.js";

const CLOSED = {
  accepted: "This invitation was already accepted.",
  withdrawn: "This invitation was withdrawn by the organization.",
  declined: "This invitation was declined.",
};

function Closed({ error }) {
  const text =
    error.code === "token_expired"
      ? "This invitation has expired. Ask the person who invited you to send a new one."
      : CLOSED[error.problem.invitation_status] ||
        "This invitation link is not valid any more: it was used, withdrawn or replaced by a newer one.";
  return html`<${AuthCard} title="Invitation">
    <${Alert}>${text}</${Alert}>
    <p><a href="/signin">Go to sign in</a></p>
  </${AuthCard}>`;
}

function Preview({ inv }) {
  const by = [inv.invited_by?.first_name, inv.invited_by?.last_name].filter(Boolean).join(" ") || inv.invited_by?.email || inv.org.name;
  return html`<div class="invite-preview">
    <p><strong>${by}</strong> invites <strong>${inv.email}</strong> to join <strong>${inv.org.name}</strong> as <strong>${inv.role}</strong>.</p>
    ${inv.workspaces?.length > 0 && html`<p>Workspaces: ${inv.workspaces.map((w) => `${w.name} (${w.role})`).join(", ")}</p>`}
    ${inv.message && html`<blockquote>${inv.message}</blockquote>`}
    <p class="muted">The invitation expires ${when(inv.expires_at)}.</p>
  </div>`;
}

export function AcceptInvitation() {
  const session = useSession();
  const [token] = useState(takeToken);
  const [inv, setInv] = useState(null);
  const [loadError, setLoadError] = useState(null);
  const [joined, setJoined] = useState(null);
  const [form, setForm] = useState({ first_name: "", last_name: "", password: "" });
  const submit = useSubmit();

  useEffect(() => {
    if (!token) return;
    publicApi("GET", `/v1/invitations/${encodeURIComponent(token)}`).then(setInv, setLoadError);
  }, [token]);

  if (!token) {
    return html`<${AuthCard} title="Invitation"><${Alert}>The invitation link has no token. Open it from the email again.</${Alert}></${AuthCard}>`;
  }
  if (loadError) {
    const closed = loadError instanceof ApiError && ["invalid_token", "token_expired"].includes(loadError.code);
    return closed ? html`<${Closed} error=${loadError} />` : html`<${AuthCard} title="Invitation"><${ErrorAlert} error=${loadError} /></${AuthCard}>`;
  }
  if (!inv || session.me === undefined) return html`<${AuthCard} title="Invitation"><${Spinner} /></${AuthCard}>`;
  if (joined) {
    return html`<${AuthCard} title=${`Welcome to ${joined.org.name}`}>
      <${Alert} kind="success">You joined ${joined.org.name} as ${joined.role}.</${Alert}>
      <p><a class="btn btn-primary" href=${`/orgs/${joined.org.id}/members`}>Open ${joined.org.name}</a></p>
    </${AuthCard}>`;
  }
  const err = submit.error;
  if (err instanceof ApiError && ["invalid_token", "token_expired"].includes(err.code)) {
    return html`<${Closed} error=${err} />`;
  }

  const finish = async (membership) => {
    forgetToken();
    if (session.me !== null) await session.reload();
    setJoined(membership);
  };
  const me = session.me;
  const mine = me && me.email.toLowerCase() === inv.email.toLowerCase();

  let body;
  if (!inv.account_exists) {
    const f = submit.fields;
    const set = (k) => (v) => setForm({ ...form, [k]: v });
    const create = (e) => {
      e.preventDefault();
      submit.run(async () => {
        const data = await publicApi("POST", "/v1/invitations/accept", {
          body: { token, first_name: form.first_name.trim(), last_name: form.last_name.trim(), password: form.password, session_cookie: true },
        });
        adoptLogin(data);
        await session.reload();
        await finish(data.membership);
      });
    };
    body = html`<form onSubmit=${create} novalidate>
      <p>Create your account to accept.</p>
      <${ErrorAlert} error=${err} />
      <${Field} label="Email" value=${inv.email} readonly autocomplete="username" />
      <div class="row">
        <${Field} label="First name" autocomplete="given-name" value=${form.first_name} onInput=${set("first_name")} error=${f.first_name} required />
        <${Field} label="Last name" autocomplete="family-name" value=${form.last_name} onInput=${set("last_name")} error=${f.last_name} required />
      </div>
      <${Field} label="Password" type="password" autocomplete="new-password" value=${form.password} onInput=${set("password")}
        error=${f.password} hint="At least 8 characters; not a common password." required />
      <${Button} busy=${submit.busy} type="submit">Create account and join</${Button}>
    </form>`;
  } else if (mine) {
    const accept = () =>
      submit.run(async () => {
        const data = await api("POST", "/v1/invitations/accept", { body: { token } });
        await finish(data.membership);
      });
    body = html`<${ErrorAlert} error=${err} />
      <${Button} busy=${submit.busy} onClick=${accept}>Accept invitation</${Button}>`;
  } else if (me) {
    body = html`<${Alert} kind="warning">You are signed in as <strong>${me.email}</strong>, but this invitation is for <strong>${inv.email}</strong>.</${Alert}>
      <${Button} kind="secondary" onClick=${async () => { await session.signOut(); navigate(`/signin?email=${encodeURIComponent(inv.email)}&next=/invitations/accept`); }}>
        Sign out and sign in as ${inv.email}
      </${Button}>`;
  } else {
    body = html`<p>An account for ${inv.email} exists.</p>
      <a class="btn btn-primary" href=${`/signin?email=${encodeURIComponent(inv.email)}&next=/invitations/accept`}>Sign in as ${inv.email} to accept</a>`;
  }
  return html`<${AuthCard} title=${`Join ${inv.org.name}`}>
    <${Preview} inv=${inv} />
    ${body}
  </${AuthCard}>`;
}
