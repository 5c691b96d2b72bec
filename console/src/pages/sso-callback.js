// The end of a single sign-on: the Worker's callback (`/v1/auth/sso/callback`) sends the
// browser here with a one-time code, which becomes the session, or with the code of what
// went wrong, explained in plain words. The explanations also describe a failed test
// sign-in on the organization's single sign-on screen.
import { useEffect, useState } from "preact/hooks";
import { html } from "../html.js";
import { exchangeSsoCode, refreshSession } from "../api.js";
import { navigate } from "../router.js";
import { useSession } from "../session.js";
import { Alert, Spinner } from "../ui.js";
import { AuthCard } from "./signin.js";

const ASK_ADMIN = "Ask an administrator of your organization.";

/** What each failure of the contract's callback means to the person who tried to sign in. */
export const SSO_ERRORS = {
  sso_state_invalid: "This sign-in could not be matched to one started in this browser: it was already used, it took more than 10 minutes, or it began in another browser. Start again.",
  sso_issuer_mismatch: "The answer did not come from the identity provider your organization set up, so it was refused. Start again; if it happens again, tell an administrator.",
  sso_provider_error: "Your identity provider refused the sign-in or could not complete it. Start again; if it happens again, tell an administrator.",
  sso_token_invalid: "The identity provider's answer failed its security checks (signature, audience or validity), so it was not trusted. Start again; if it happens again, tell an administrator.",
  sso_email_unverified: `Your identity provider does not confirm that your email address is verified, so it cannot sign you in here. ${ASK_ADMIN}`,
  sso_domain_not_verified: `Your email address is not on a domain your organization has verified for single sign-on. ${ASK_ADMIN}`,
  sso_link_unverified: "An account with your email address exists here, but its email address was never verified, so it cannot be joined to your identity provider's account. Sign in with your password and verify your email address first, or ask an administrator.",
  sso_not_provisioned: `You are not a member of this organization, and it does not create accounts at the first sign-in. ${ASK_ADMIN}`,
  sso_access_removed: `An administrator removed you from this organization, so single sign-on no longer lets you in. ${ASK_ADMIN}`,
  capacity_exceeded: `The organization has no seats left, so your account could not be added to it. ${ASK_ADMIN}`,
  sso_connection_inactive: `Your organization's single sign-on is switched off at the moment. ${ASK_ADMIN}`,
  invalid_token: "This sign-in was already completed, or its code is unknown. Start again.",
  token_expired: "This sign-in took too long to finish (its code lasts a minute). Start again.",
};

/** Whether `code` is one of the failures explained here (never an inherited property: a URL chooses it). */
export function isSsoError(code) {
  return typeof code === "string" && Object.hasOwn(SSO_ERRORS, code);
}

/** The explanation of a failure code; an unknown code still says what to do. */
export function ssoErrorText(code) {
  return isSsoError(code) ? SSO_ERRORS[code] : "Single sign-on did not complete. Start again; if it happens again, tell an administrator.";
}

// The code of this page's address, taken out of it at once (the address bar, the history
// and any Referer never keep it). A code is single-use: its one exchange is kept here, so
// that a second render or a remount of the page waits for it instead of sending it again.
let taken = null;
let exchange = null;

function takeCode() {
  const url = new URL(location.href);
  const code = url.searchParams.get("code");
  if (code) {
    taken = code;
    url.searchParams.delete("code");
    history.replaceState(null, "", url.pathname + url.search + url.hash);
  }
  return code || taken;
}

function exchangeOnce(code, session) {
  if (exchange?.code !== code) {
    exchange = {
      code,
      promise: (async () => {
        // The console's first session check runs at the same time; it settles first, so
        // that its "no session" cannot land after this sign-in's.
        await refreshSession().catch(() => false);
        await exchangeSsoCode(code);
        await session.reload();
      })().finally(() => { taken = null; }),
    };
  }
  return exchange.promise;
}

export function SsoCallback({ query }) {
  const session = useSession();
  const [code] = useState(takeCode);
  const [failure, setFailure] = useState(null);
  const error = query.get("error");

  useEffect(() => {
    if (!code) return undefined;
    let live = true;
    exchangeOnce(code, session).then(
      () => live && navigate("/", { replace: true }),
      (e) => live && setFailure(e),
    );
    return () => { live = false; };
  }, [code]);

  const again = html`<p><a href="/signin">Back to sign in</a></p>`;
  if (code && !failure) {
    return html`<${AuthCard} title="Signing you in"><${Spinner} label="Finishing the single sign-on…" /></${AuthCard}>`;
  }
  if (failure || error) {
    const what = failure ? (failure.status === 0 ? failure.message : ssoErrorText(failure.code)) : ssoErrorText(error);
    return html`<${AuthCard} title="Single sign-on did not complete">
      <${Alert}>${what}</${Alert}>
      <p class="muted">Code: <code>${failure ? failure.code : error}</code></p>
      ${again}
    </${AuthCard}>`;
  }
  return html`<${AuthCard} title="Single sign-on">
    <p>There is no sign-in to finish here.</p>
    ${again}
  </${AuthCard}>`;
}
