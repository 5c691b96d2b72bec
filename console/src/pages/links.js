// The pages emailed links open: activate an account, set a new password, confirm an email
// address. Opening one never uses its token (mail scanners fetch links and may even run
// their scripts); only the person's click on the page's button sends it.
import { useState } from "preact/hooks";
import { html } from "../html.js";
import { ApiError, adoptLogin, publicApi } from "../api.js";
import { forgetToken, navigate, takeToken } from "../router.js";
import { useSession } from "../session.js";
import { Alert, Button, ErrorAlert, Field, useSubmit } from "../ui.js";
import { AuthCard } from "./signin.js";

/** What a refused emailed token means, in words. */
export function LinkProblem({ error, what, again }) {
  const text = {
    token_expired: `This ${what} link has expired.`,
    invalid_token: `This ${what} link is not valid any more: it was already used, or a newer one replaced it.`,
  }[error.code];
  return html`<${Alert}>${text || error.message} ${again}</${Alert}>`;
}

const useToken = () => useState(takeToken)[0];

export function Activate() {
  const session = useSession();
  const token = useToken();
  const [needsPassword, setNeedsPassword] = useState(false);
  const [password, setPassword] = useState("");
  const submit = useSubmit();
  if (!token) return html`<${NoToken} what="activation" />`;
  const onSubmit = (e) => {
    e.preventDefault();
    submit.run(async () => {
      try {
        const body = { token, session_cookie: true };
        if (needsPassword) body.password = password;
        adoptLogin(await publicApi("POST", "/v1/auth/activate", { body }));
      } catch (err) {
        // An account created by an admin has no password yet: ask for one, then send again.
        if (err instanceof ApiError && err.fields.password && !needsPassword) {
          setNeedsPassword(true);
          return;
        }
        throw err;
      }
      forgetToken();
      await session.reload();
      navigate("/", { replace: true });
    });
  };
  const err = submit.error;
  const refused = err instanceof ApiError && (err.code === "invalid_token" || err.code === "token_expired");
  return html`<${AuthCard} title="Activate your account">
    ${refused
      ? html`<${LinkProblem} error=${err} what="activation" again="Ask an admin of your organization to send a new one, or sign in if your account is already active." />`
      : html`<form onSubmit=${onSubmit} novalidate>
          ${needsPassword
            ? html`<p>Choose a password for your account.</p>
                <${Field} label="Password" type="password" autocomplete="new-password" value=${password} onInput=${setPassword}
                  error=${submit.fields.password} hint="At least 8 characters; not a common password." required />`
            : html`<p>Activate your account to start using it.</p>`}
          <${ErrorAlert} error=${err} />
          <${Button} busy=${submit.busy} type="submit">${needsPassword ? "Set password and activate" : "Activate my account"}</${Button}>
        </form>`}
  </${AuthCard}>`;
}

export function ResetPassword() {
  const token = useToken();
  const [password, setPassword] = useState("");
  const [done, setDone] = useState(false);
  const submit = useSubmit();
  if (!token) return html`<${NoToken} what="password reset" />`;
  const onSubmit = (e) => {
    e.preventDefault();
    submit.run(async () => {
      await publicApi("POST", "/v1/auth/password/reset", { body: { token, new_password: password } });
      forgetToken();
      setDone(true);
    });
  };
  const err = submit.error;
  const refused = err instanceof ApiError && (err.code === "invalid_token" || err.code === "token_expired");
  return html`<${AuthCard} title="Set a new password">
    ${done
      ? html`<${Alert} kind="success">Your password is changed, and your other sessions were signed out.</${Alert}>
          <p><a class="btn btn-primary" href="/signin">Sign in</a></p>`
      : refused
        ? html`<${LinkProblem} error=${err} what="password reset" again=${html`<a href="/forgot-password">Ask for a new link</a>.`} />`
        : html`<form onSubmit=${onSubmit} novalidate>
            <${ErrorAlert} error=${err} />
            <${Field} label="New password" type="password" autocomplete="new-password" value=${password} onInput=${setPassword}
              error=${submit.fields.new_password} hint="At least 8 characters; not a common password." required />
            <${Button} busy=${submit.busy} type="submit">Set new password</${Button}>
          </form>`}
  </${AuthCard}>`;
}

export function VerifyEmail() {
  const session = useSession();
  const token = useToken();
  const [done, setDone] = useState(false);
  const submit = useSubmit();
  if (!token) return html`<${NoToken} what="email confirmation" />`;
  const confirm = () =>
    submit.run(async () => {
      await publicApi("POST", "/v1/auth/email/verify", { body: { token } });
      forgetToken();
      setDone(true);
      if (session.me) await session.reload();
    });
  const err = submit.error;
  const refused = err instanceof ApiError && (err.code === "invalid_token" || err.code === "token_expired");
  return html`<${AuthCard} title="Confirm your email address">
    ${done
      ? html`<${Alert} kind="success">Your email address is confirmed.</${Alert}>
          <p><a class="btn btn-primary" href="/">Continue</a></p>`
      : refused
        ? html`<${LinkProblem} error=${err} what="confirmation" again="Ask for a new one from your account page." />`
        : html`<p>Confirm that this email address is yours.</p>
            <${ErrorAlert} error=${err} />
            <${Button} busy=${submit.busy} onClick=${confirm}>Confirm my email</${Button}>`}
  </${AuthCard}>`;
}

function NoToken({ what }) {
  return html`<${AuthCard} title="This link is incomplete">
    <${Alert}>The ${what} link has no token. Open the link from the email again, or copy all of it into the address bar.</${Alert}>
  </${AuthCard}>`;
}
