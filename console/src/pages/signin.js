// Sign in (with the lockout, rate-limit and forced-password-change answers the API gives,
// and "Continue with SSO" once the email's domain turns out to sign in through its
// organization's identity provider), sign up (an account with its first organization and workspace), and the request for a
// password reset link.
import { useEffect, useRef, useState } from "preact/hooks";
import { html } from "../html.js";
import { ApiError, publicApi, signIn } from "../api.js";
import { navigate } from "../router.js";
import { useSession } from "../session.js";
import { Alert, Button, ErrorAlert, Field, useDebounced, useSubmit } from "../ui.js";

export function AuthCard({ title, children, footer }) {
  useEffect(() => { document.title = `${title} · User Management`; }, [title]);
  return html`<main class="auth">
    <div class="auth-card">
      <p class="brand" aria-hidden="true">User Management</p>
      <h1>${title}</h1>
      ${children}
    </div>
    ${footer && html`<p class="auth-footer">${footer}</p>`}
  </main>`;
}

/** Where to go after signing in: the `next` the sign-in page was sent with, if it is ours. */
function nextPath(query) {
  const next = query.get("next") || "/";
  return next.startsWith("/") && !next.startsWith("//") ? next : "/";
}

/** An address worth asking about single sign-on (lower case), or null while it is not one yet. */
export function discoverableEmail(value) {
  const v = String(value ?? "").trim().toLowerCase();
  return /^[^@\s]+@[^@\s.]+(\.[^@\s.]+)+$/.test(v) ? v : null;
}

/**
 * Whether `email` signs in through single sign-on (`POST /v1/auth/sso/discover`): asked a
 * pause after typing, on leaving the field and on submitting (`ask`), once per address.
 * `found` is `{authorize_url, enforced, …}` for the address in the field now, else null.
 * Any failure (404: no SSO; a 429 or a network failure) leaves password sign-in as it was.
 */
function useSsoDiscovery(email) {
  const [answer, setAnswer] = useState(null);
  const asked = useRef(null);
  const ask = (value) => {
    const address = discoverableEmail(value);
    if (!address || address === asked.current) return;
    asked.current = address;
    publicApi("POST", "/v1/auth/sso/discover", { body: { email: address } }).then(
      (found) => asked.current === address && setAnswer({ ...found, email: address }),
      (e) => {
        if (asked.current !== address) return;
        setAnswer(null);
        if (e.status !== 404) asked.current = null; // asked again on the next occasion
      },
    );
  };
  const settled = useDebounced(email, 600);
  useEffect(() => ask(settled), [settled]);
  // The password sign-in's `sso_required` answer says the same as a discovery.
  const learn = (address, found) => { asked.current = address; setAnswer({ ...found, email: address }); };
  const found = answer && answer.email === discoverableEmail(email) ? answer : null;
  return { found, ask, learn };
}

export function SignIn({ query }) {
  const session = useSession();
  const [email, setEmail] = useState(query.get("email") || "");
  const [password, setPassword] = useState("");
  const [changeToken, setChangeToken] = useState(null);
  // An enforced domain's owner keeps password sign-in (break-glass): they ask for the field.
  const [withPassword, setWithPassword] = useState(false);
  const submit = useSubmit();
  const sso = useSsoDiscovery(email);

  useEffect(() => {
    if (session.me) navigate(nextPath(query), { replace: true });
  }, [session.me]);

  const done = async () => {
    await session.reload();
    navigate(nextPath(query), { replace: true });
  };

  const ssoOnly = Boolean(sso.found?.enforced) && !withPassword;
  const onSubmit = (e) => {
    e.preventDefault();
    if (ssoOnly) {
      location.assign(sso.found.authorize_url);
      return;
    }
    sso.ask(email);
    submit.run(async () => {
      try {
        await signIn(email.trim(), password);
      } catch (err) {
        if (err instanceof ApiError && err.code === "password_change_required") {
          setChangeToken(err.problem.change_token);
          return;
        }
        if (err instanceof ApiError && err.code === "sso_required" && err.problem.authorize_url && discoverableEmail(email)) {
          sso.learn(discoverableEmail(email), { authorize_url: err.problem.authorize_url, enforced: true, detail: err.message });
          setWithPassword(false);
          return;
        }
        throw err;
      }
      await done();
    });
  };

  if (changeToken) {
    return html`<${ChangePassword} email=${email.trim()} current=${password} changeToken=${changeToken}
      onDone=${done} onExpired=${() => setChangeToken(null)} />`;
  }
  const err = submit.error;
  const domain = sso.found?.email.split("@")[1];
  return html`<${AuthCard} title="Sign in" footer=${html`No account yet? <a href="/signup">Create one</a>`}>
    <form onSubmit=${onSubmit} novalidate>
      ${err?.code === "account_locked"
        ? html`<${Alert}>This account is locked after too many failed sign-ins. <a href=${`/forgot-password?email=${encodeURIComponent(email.trim())}`}>Reset your password</a> to unlock it.</${Alert}>`
        : err?.code === "invalid_credentials"
          ? html`<${Alert}>The email or the password is wrong.</${Alert}>`
          : err?.code === "account_not_active"
            ? html`<${Alert}>This account is not activated yet. Open the activation link in the email you received.</${Alert}>`
            : html`<${ErrorAlert} error=${err} />`}
      <${Field} label="Email" type="email" autocomplete="username" value=${email} onInput=${setEmail}
        onBlur=${() => sso.ask(email)} error=${submit.fields.email} required />
      ${sso.found && html`<div class="sso-offer" role="status">
        <p>${ssoOnly && sso.found.detail ? sso.found.detail : ssoOnly
          ? html`Your organization signs in through single sign-on: accounts at <strong>${domain}</strong> use its identity provider, not a password here.`
          : sso.found.enforced
            ? html`Accounts at <strong>${domain}</strong> sign in through single sign-on. Only the organization's owner may still use a password.`
            : html`Your organization offers single sign-on for <strong>${domain}</strong>.`}</p>
        <a class=${`btn ${ssoOnly ? "btn-primary" : "btn-secondary"}`} href=${sso.found.authorize_url}>Continue with SSO</a>
      </div>`}
      ${ssoOnly
        ? html`<p class="aside"><button type="button" class="btn btn-ghost" onClick=${() => setWithPassword(true)}>I own the organization: use my password</button></p>`
        : html`
          <${Field} label="Password" type="password" autocomplete="current-password" value=${password}
            onInput=${setPassword} error=${submit.fields.password} required />
          <${Button} busy=${submit.busy} type="submit">Sign in</${Button}>
          <p class="aside"><a href="/forgot-password">Forgot your password?</a></p>`}
    </form>
  </${AuthCard}>`;
}

/** A single-use password's first sign-in: the person sets their own before going on. */
function ChangePassword({ email, current, changeToken, onDone, onExpired }) {
  const [next, setNext] = useState("");
  const [again, setAgain] = useState("");
  const submit = useSubmit();
  const onSubmit = (e) => {
    e.preventDefault();
    submit.run(async () => {
      if (next !== again) {
        throw new ApiError(422, { errors: [{ field: "confirm", message: "does not match the new password" }] });
      }
      const res = await fetch("/v1/me/password", {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${changeToken}` },
        body: JSON.stringify({ current_password: current, new_password: next }),
      });
      if (!res.ok) {
        const problem = await res.json().catch(() => ({}));
        if (res.status === 401) onExpired();
        throw new ApiError(res.status, problem, res.headers);
      }
      await signIn(email, next);
      await onDone();
    });
  };
  return html`<${AuthCard} title="Set your own password">
    <p>You signed in with a single-use password. Choose your own password to continue.</p>
    <form onSubmit=${onSubmit} novalidate>
      <${ErrorAlert} error=${submit.error} />
      <${Field} label="New password" type="password" autocomplete="new-password" value=${next} onInput=${setNext}
        error=${submit.fields.new_password} hint="At least 8 characters; not a common password." required />
      <${Field} label="Repeat the new password" type="password" autocomplete="new-password" value=${again}
        onInput=${setAgain} error=${submit.fields.confirm} required />
      <${Button} busy=${submit.busy} type="submit">Set password and continue</${Button}>
    </form>
  </${AuthCard}>`;
}

export function SignUp() {
  const [form, setForm] = useState({ first_name: "", last_name: "", email: "", password: "", org: "", workspace: "" });
  const [sent, setSent] = useState(null);
  const submit = useSubmit();
  const set = (k) => (v) => setForm({ ...form, [k]: v });
  const onSubmit = (e) => {
    e.preventDefault();
    submit.run(async () => {
      await publicApi("POST", "/v1/auth/signup", {
        body: {
          email: form.email.trim(),
          password: form.password,
          first_name: form.first_name.trim(),
          last_name: form.last_name.trim(),
          organization: { name: form.org.trim() },
          workspace: { name: form.workspace.trim() },
        },
      });
      setSent(form.email.trim());
    });
  };
  if (sent) {
    return html`<${AuthCard} title="Check your email">
      <${Alert} kind="success">We sent an activation link to <strong>${sent}</strong>. Open it to activate your account.</${Alert}>
      <p><a href="/signin">Back to sign in</a></p>
    </${AuthCard}>`;
  }
  const f = submit.fields;
  return html`<${AuthCard} title="Create your account" footer=${html`Already have an account? <a href="/signin">Sign in</a>`}>
    <form onSubmit=${onSubmit} novalidate>
      <${ErrorAlert} error=${submit.error} />
      <div class="row">
        <${Field} label="First name" autocomplete="given-name" value=${form.first_name} onInput=${set("first_name")} error=${f.first_name} required />
        <${Field} label="Last name" autocomplete="family-name" value=${form.last_name} onInput=${set("last_name")} error=${f.last_name} required />
      </div>
      <${Field} label="Work email" type="email" autocomplete="email" value=${form.email} onInput=${set("email")} error=${f.email} required />
      <${Field} label="Password" type="password" autocomplete="new-password" value=${form.password} onInput=${set("password")}
        error=${f.password} hint="At least 8 characters; not a common password." required />
      <${Field} label="Organization name" autocomplete="organization" value=${form.org} onInput=${set("org")}
        error=${f["organization.name"]} required />
      <${Field} label="First workspace" value=${form.workspace} onInput=${set("workspace")}
        error=${f["workspace.name"]} hint="For example, a site, a team or a product." required />
      <${Button} busy=${submit.busy} type="submit">Create account</${Button}>
    </form>
  </${AuthCard}>`;
}

export function ForgotPassword({ query }) {
  const [email, setEmail] = useState(query.get("email") || "");
  const [sent, setSent] = useState(false);
  const submit = useSubmit();
  const onSubmit = (e) => {
    e.preventDefault();
    submit.run(async () => {
      await publicApi("POST", "/v1/auth/password/forgot", { body: { email: email.trim() } });
      setSent(true);
    });
  };
  return html`<${AuthCard} title="Reset your password" footer=${html`<a href="/signin">Back to sign in</a>`}>
    ${sent
      ? html`<${Alert} kind="success">If an account exists for <strong>${email.trim()}</strong>, we sent it a link to set a new password. It also unlocks a locked account.</${Alert}>`
      : html`<form onSubmit=${onSubmit} novalidate>
          <p>We will email you a link to set a new password.</p>
          ${submit.error?.code === "sso_required"
            ? html`<${Alert}>${submit.error.message} ${submit.error.problem.authorize_url && html`<a href=${submit.error.problem.authorize_url}>Continue with SSO</a>`}</${Alert}>`
            : html`<${ErrorAlert} error=${submit.error} />`}
          <${Field} label="Email" type="email" autocomplete="username" value=${email} onInput=${setEmail} error=${submit.fields.email} required />
          <${Button} busy=${submit.busy} type="submit">Send reset link</${Button}>
        </form>`}
  </${AuthCard}>`;
}

