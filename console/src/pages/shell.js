// The signed-in frame: the header with the organization switcher and the account menu, the
// navigation of the current organization (only the screens its role may open), and the
// screen the path names.
import { useEffect, useState } from "preact/hooks";
import { html } from "../html.js";
import { api } from "../api.js";
import { match, navigate } from "../router.js";
import { useSession, can } from "../session.js";
import { ErrorAlert, Spinner } from "../ui.js";
import { ACCOUNT_SCREENS } from "./account.js";
import { ORG_SCREENS } from "./org.js";

/** The screen of `path` among `screens` (`{ nav, label, routes: [[pattern, Screen]] }`). */
function pick(screens, path) {
  for (const screen of screens) {
    for (const [pattern, Screen] of screen.routes) {
      const params = match(pattern, path);
      if (params) return { screen, Screen, params };
    }
  }
  return null;
}

function Redirect({ to }) {
  useEffect(() => navigate(to, { replace: true }), [to]);
  return null;
}

function Home() {
  const { me } = useSession();
  const first = me.memberships[0];
  return html`<${Redirect} to=${first ? `/orgs/${first.org.id}` : "/account/organizations"} />`;
}

function OrgSwitcher({ current }) {
  const { me } = useSession();
  if (me.memberships.length === 0) return html`<a href="/orgs/new" class="btn btn-secondary">Create an organization</a>`;
  return html`<label class="switcher">
    <span class="visually-hidden">Organization</span>
    <select value=${current || ""} onChange=${(e) => navigate(e.currentTarget.value ? `/orgs/${e.currentTarget.value}` : "/account")}>
      ${!current && html`<option value="">Choose an organization…</option>`}
      ${me.memberships.map((m) => html`<option value=${m.org.id}>${m.org.name}</option>`)}
    </select>
  </label>`;
}

function Header({ orgId }) {
  const { me, signOut } = useSession();
  return html`<header class="top">
    <a class="brand" href="/">User Management</a>
    <${OrgSwitcher} current=${orgId} />
    <nav class="account-nav" aria-label="Account">
      <a href="/account">${me.first_name} ${me.last_name}</a>
      <button class="btn btn-ghost" onClick=${signOut}>Sign out</button>
    </nav>
  </header>`;
}

/** The org of the path, as `GET /v1/orgs/{org}` shows it to the caller (role, permissions). */
function useOrg(orgId) {
  const [state, setState] = useState({ org: null, error: null });
  const reload = () =>
    api("GET", `/v1/orgs/${encodeURIComponent(orgId)}`).then(
      (org) => setState({ org, error: null }),
      (error) => setState({ org: null, error }),
    );
  useEffect(() => {
    setState({ org: null, error: null });
    reload();
  }, [orgId]);
  return { ...state, reload };
}

function OrgFrame({ orgId, rest }) {
  const { org, error, reload } = useOrg(orgId);
  if (error) return html`<main class="main"><${ErrorAlert} error=${error} /></main>`;
  if (!org) return html`<main class="main"><${Spinner} /></main>`;
  // Only the screens the caller's role may open are offered; the API still decides.
  const nav = ORG_SCREENS.filter((s) => can(org, s.permission));
  if (!rest && nav.length) return html`<${Redirect} to=${`/orgs/${orgId}/${nav[0].nav}`} />`;
  const found = pick(ORG_SCREENS, `/${rest}`);
  return html`<div class="with-nav">
    <nav class="side" aria-label=${`${org.name} navigation`}>
      <p class="side-title">${org.name}</p>
      <ul>${nav.map((s) => html`<li><a href=${`/orgs/${orgId}/${s.nav}`} aria-current=${found?.screen === s ? "page" : undefined}>${s.label}</a></li>`)}</ul>
    </nav>
    <main class="main" id="main">
      ${found ? html`<${found.Screen} org=${org} reloadOrg=${reload} params=${found.params} />` : rest ? html`<${NotFound} />` : html`<${OrgHome} org=${org} />`}
    </main>
  </div>`;
}

/** An org whose role opens none of its screens: what the person holds there. */
function OrgHome({ org }) {
  const { me } = useSession();
  const mine = me.memberships.find((m) => m.org.id === org.id);
  return html`<section class="page"><h1>${org.name}</h1>
    <p>Your role: <strong>${org.role}</strong>.</p>
    ${mine?.workspaces.length ? html`<p>Your workspaces: ${mine.workspaces.map((w) => `${w.name} (${w.role})`).join(", ")}.</p>` : html`<p>You belong to no workspace of it yet.</p>`}
  </section>`;
}

function NotFound() {
  return html`<section class="page"><h1>Page not found</h1><p>There is no such page. <a href="/">Go to the start</a>.</p></section>`;
}

export function Shell({ loc }) {
  const orgMatch = loc.path.match(/^\/orgs\/([^/]+)(?:\/(.*))?$/);
  const orgId = orgMatch && orgMatch[1] !== "new" ? decodeURIComponent(orgMatch[1]) : null;
  let content;
  if (loc.path === "/") content = html`<${Home} />`;
  else if (orgId) content = html`<${OrgFrame} orgId=${orgId} rest=${orgMatch[2] || ""} />`;
  else {
    const found = pick(ACCOUNT_SCREENS, loc.path);
    content = html`<div class="with-nav">
      <nav class="side" aria-label="Account navigation">
        <p class="side-title">Your account</p>
        <ul>${ACCOUNT_SCREENS.map((s) => html`<li><a href=${s.nav} aria-current=${found?.screen === s ? "page" : undefined}>${s.label}</a></li>`)}</ul>
      </nav>
      <main class="main" id="main">${found ? html`<${found.Screen} params=${found.params} query=${loc.query} />` : html`<${NotFound} />`}</main>
    </div>`;
  }
  return html`<div class="app">
    <a class="skip" href="#main">Skip to content</a>
    <${Header} orgId=${orgId} />
    ${content}
  </div>`;
}
