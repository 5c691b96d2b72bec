// The console: the account pages anyone may open (sign-in, sign-up and the emailed links),
// and behind them the signed-in person's account and their organizations' admin screens.
import { useEffect, useState } from "preact/hooks";
import { html } from "./html.js";
import { api, onSignedOut, refreshSession, signOut as endSession } from "./api.js";
import { match, navigate, useLocation } from "./router.js";
import { SessionContext } from "./session.js";
import { Spinner } from "./ui.js";
import { SignIn, SignUp, ForgotPassword } from "./pages/signin.js";
import { Activate, ResetPassword, VerifyEmail } from "./pages/links.js";
import { AcceptInvitation } from "./pages/accept.js";
import { SsoCallback } from "./pages/sso-callback.js";
import { Shell } from "./pages/shell.js";

/** Pages that need no session: the emailed links open them whoever is signed in. */
const PUBLIC = [
  ["/signin", SignIn],
  ["/signup", SignUp],
  ["/forgot-password", ForgotPassword],
  ["/activate", Activate],
  ["/reset-password", ResetPassword],
  ["/verify-email", VerifyEmail],
  ["/invitations/accept", AcceptInvitation],
  ["/sso/callback", SsoCallback],
];

export function App() {
  const loc = useLocation();
  const [me, setMe] = useState(undefined);

  const reload = async () => {
    try {
      setMe(await api("GET", "/v1/me"));
    } catch (e) {
      if (e.status === 401) setMe(null);
      else throw e;
    }
  };
  const signOut = async () => {
    await endSession();
    setMe(null);
    navigate("/signin", { replace: true });
  };

  useEffect(() => {
    onSignedOut(() => setMe(null));
    refreshSession()
      .then((live) => (live ? reload() : setMe(null)))
      .catch(() => setMe(null));
  }, []);

  const session = { me, reload, signOut, setMe };
  const page = PUBLIC.find(([pattern]) => match(pattern, loc.path));
  if (page) {
    const [, Page] = page;
    return html`<${SessionContext.Provider} value=${session}><${Page} query=${loc.query} /></${SessionContext.Provider}>`;
  }
  if (me === undefined) return html`<main class="center"><${Spinner} /></main>`;
  if (me === null) {
    const next = loc.path === "/" ? "" : `?next=${encodeURIComponent(loc.path + location.search)}`;
    navigate(`/signin${next}`, { replace: true });
    return null;
  }
  return html`<${SessionContext.Provider} value=${session}><${Shell} loc=${loc} /></${SessionContext.Provider}>`;
}
