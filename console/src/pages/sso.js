// Single sign-on: the organization's email domains, each proved by a DNS TXT record
// (pending until verified; a verified one whose record disappears lapses), and its OpenID
// Connect connections: created as drafts (the redirect URI to register at the provider is
// shown then), tested by an admin's own sign-in through the provider, activated after a
// successful test, and optionally enforced (password sign-in stops for the domains'
// accounts, the owner's break-glass aside). Owners and admins only (`governance`).
import { useEffect, useRef, useState } from "preact/hooks";
import { html } from "../html.js";
import { ApiError, api } from "../api.js";
import { navigate, useLocation } from "../router.js";
import { Alert, Badge, Button, ConfirmDialog, CopyButton, Dialog, Empty, ErrorAlert, Field, Page, Select, Spinner, explain, useSubmit, when } from "../ui.js";
import { ROLE_LABELS } from "../roles.js";
import { Governed, useResource } from "./usage.js";
import { ssoErrorText } from "./sso-callback.js";

let ids = 0;
const useId = (prefix) => useRef(`${prefix}${++ids}`).current;

// ---------------------------------------------------------------------------------------
// The pure part: the connection form and what it sends.

export const DEFAULT_ROLES = ["member", "viewer", "editor"];
export const MAPPED_ROLES = ["admin", "editor", "viewer", "member"];
export const EMPTY_CONNECTION = {
  name: "", issuer: "", client_id: "", client_secret: "", default_role: "member", jit: true,
  group_claim: "", groups: [], scopes: "openid email profile",
};

/** The form's values for an existing connection (an edit starts from them; the secret is never known). */
export function connectionForm(c) {
  return {
    name: c.name || "",
    issuer: c.issuer || "",
    client_id: c.client_id || "",
    client_secret: "",
    default_role: c.default_role || "member",
    jit: Boolean(c.jit),
    group_claim: c.group_claim || "",
    groups: Object.entries(c.group_role_map || {}).map(([group, role]) => ({ group, role })),
    scopes: c.scopes || "",
  };
}

/** The group → role rows as the API takes them: rows with no group name are left out. */
export function groupRoleMap(rows) {
  const map = {};
  for (const { group, role } of rows) if (group.trim()) map[group.trim()] = role;
  return map;
}

const words = (s) => s.trim().split(/\s+/).filter(Boolean).join(" ");

/** A new connection's body: what the form holds, blank optional fields left to the API's defaults. */
export function connectionBody(f) {
  const body = {
    issuer: f.issuer.trim(), client_id: f.client_id.trim(), client_secret: f.client_secret,
    default_role: f.default_role, jit: f.jit,
  };
  if (f.name.trim()) body.name = f.name.trim();
  if (f.group_claim.trim()) body.group_claim = f.group_claim.trim();
  const map = groupRoleMap(f.groups);
  if (Object.keys(map).length) body.group_role_map = map;
  if (words(f.scopes)) body.scopes = words(f.scopes);
  return body;
}

const sameMap = (a, b) => {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => b[k] === a[k]);
};

/**
 * An edit's PATCH body: only what changed. A blank secret keeps the stored one; an emptied
 * group claim is cleared (`null`), an emptied map becomes `{}`.
 */
export function connectionChanges(c, f) {
  const body = {};
  if (f.name.trim() !== (c.name || "")) body.name = f.name.trim();
  if (f.issuer.trim() !== c.issuer) body.issuer = f.issuer.trim();
  if (f.client_id.trim() !== c.client_id) body.client_id = f.client_id.trim();
  if (f.client_secret) body.client_secret = f.client_secret;
  if (f.default_role !== c.default_role) body.default_role = f.default_role;
  if (f.jit !== Boolean(c.jit)) body.jit = f.jit;
  const claim = f.group_claim.trim() || null;
  if (claim !== (c.group_claim || null)) body.group_claim = claim;
  const map = groupRoleMap(f.groups);
  if (!sameMap(map, c.group_role_map || {})) body.group_role_map = map;
  if (words(f.scopes) !== words(c.scopes || "")) body.scopes = words(f.scopes);
  return body;
}

/** Changing any of these returns a connection to draft: it is tested and activated again. */
export const RESETTING = ["issuer", "client_id", "client_secret"];

/** A 409 about the value typed (a duplicate) shown by its field, as the API's 422s are. */
export function asFieldError(e, field, codes) {
  if (!(e instanceof ApiError) || !codes.includes(e.code)) return e;
  return new ApiError(e.status, { ...e.problem, errors: [{ field, message: e.message }] });
}

// ---------------------------------------------------------------------------------------
// Domains

const DOMAIN_TONE = { pending: "warning", verified: "success", lapsed: "danger" };

function DomainRecord({ d }) {
  return html`<dl class="facts">
    <dt>Record type</dt><dd>TXT</dd>
    <dt>Name</dt><dd><code class="wrap">${d.verification.name}</code> <${CopyButton} text=${d.verification.name} label="Copy name" /></dd>
    <dt>Value</dt><dd><code class="wrap">${d.verification.value}</code> <${CopyButton} text=${d.verification.value} label="Copy value" /></dd>
  </dl>`;
}

/** What a verification attempt found, when it was not the record. */
function VerifyFailure({ error, d }) {
  if (error.code === "dns_unavailable") {
    return html`<${Alert}>The DNS lookup itself failed: the resolver did not answer. Nothing changed; try again in a few minutes.</${Alert}>`;
  }
  if (error.code !== "domain_verification_failed") return html`<${ErrorAlert} error=${error} />`;
  const found = Array.isArray(error.problem.found) ? error.problem.found : [];
  return html`<${Alert}>
    <p>Not verified yet: ${error.message}</p>
    ${found.length
      ? html`<p>TXT records found at <code class="wrap">${d.verification.name}</code>:</p>
        <ul data-testid="found">${found.map((v) => html`<li><code class="wrap">${v}</code></li>`)}</ul>`
      : html`<p>No TXT record was found at <code class="wrap">${d.verification.name}</code>.</p>`}
    <p>DNS changes can take a while to be seen everywhere; check the record and try again.</p>
  </${Alert}>`;
}

function DomainCard({ org, d, onChanged, onRemove }) {
  const titleId = useId("domain");
  const [verified, setVerified] = useState(false);
  const verify = useSubmit();
  const run = () => {
    setVerified(false);
    verify.run(async () => {
      await api("POST", `/v1/orgs/${org.id}/domains/${d.id}/verify`);
      setVerified(true);
      await onChanged();
    });
  };
  return html`<article class="card" aria-labelledby=${titleId}>
    <div class="section-head">
      <div class="sso-title"><h3 id=${titleId}>${d.domain}</h3><${Badge} tone=${DOMAIN_TONE[d.status] || "neutral"}>${d.status}</${Badge}></div>
      <div class="page-actions">
        ${d.status !== "verified" && html`<${Button} busy=${verify.busy} onClick=${run}>Verify<span class="visually-hidden"> ${d.domain}</span></${Button}>`}
        <${Button} kind="danger-ghost" onClick=${() => onRemove(d)}>Remove<span class="visually-hidden"> ${d.domain}</span></${Button}>
      </div>
    </div>
    ${d.status === "pending" && html`<p>Publish this TXT record in the DNS of <strong>${d.domain}</strong>, then verify it here.</p>`}
    ${d.status === "verified" && html`<p>Verified ${when(d.verified_at)}. People with an address at ${d.domain} can sign in through the organization's active connection.
      Keep the record published: it is checked again every day${d.checked_at ? html` (last ${when(d.checked_at)})` : ""}, and the domain lapses without it.</p>`}
    ${d.status === "lapsed" && html`<${Alert} kind="warning">The record was gone at the check of ${when(d.checked_at)}${d.check_error ? `: ${d.check_error}` : ""}.
      Until the domain is verified again, its addresses cannot sign in through single sign-on. Publish the record again, then verify.</${Alert}>`}
    <${DomainRecord} d=${d} />
    ${verified && d.status === "verified" && html`<${Alert} kind="success">${d.domain} is verified.</${Alert}>`}
    ${verify.error && html`<${VerifyFailure} error=${verify.error} d=${d} />`}
  </article>`;
}

function AddDomain({ org, onAdded }) {
  const [domain, setDomain] = useState("");
  const submit = useSubmit();
  const add = (e) => {
    e.preventDefault();
    submit.run(async () => {
      try {
        await api("POST", `/v1/orgs/${org.id}/domains`, { body: { domain: domain.trim() } });
      } catch (err) {
        throw asFieldError(err, "domain", ["domain_exists", "domain_taken"]);
      }
      setDomain("");
      await onAdded();
    });
  };
  return html`<form class="add-domain" onSubmit=${add} novalidate aria-label="Add a domain">
    ${!submit.fields.domain && html`<${ErrorAlert} error=${submit.error} />`}
    <div class="inline-form">
      <${Field} label="Domain" value=${domain} onInput=${setDomain} error=${submit.fields.domain} autocomplete="off"
        placeholder="example.com" hint="The part after the @ of your people's work email addresses." required />
      <${Button} busy=${submit.busy} type="submit">Add domain</${Button}>
    </div>
  </form>`;
}

function Domains({ org, domains }) {
  const [removing, setRemoving] = useState(null);
  const rows = domains.data?.data;
  return html`<section class="card" aria-labelledby="domains-title">
    <h2 id="domains-title">Domains</h2>
    <p class="muted">Single sign-on works for the email addresses of the domains this organization proves it owns, with a DNS record.</p>
    <${ErrorAlert} error=${domains.error} />
    ${!rows ? !domains.error && html`<${Spinner} />` : rows.length === 0
      ? html`<p>No domain yet. Add the domain of your people's email addresses.</p>`
      : html`<div class="sso-list">${rows.map((d) => html`<${DomainCard} key=${d.id} org=${org} d=${d} onChanged=${domains.reload} onRemove=${setRemoving} />`)}</div>`}
    <${AddDomain} org=${org} onAdded=${domains.reload} />
    <${ConfirmDialog} open=${Boolean(removing)} title="Remove domain" confirmLabel="Remove domain"
      onClose=${() => setRemoving(null)}
      onConfirm=${async () => {
        await api("DELETE", `/v1/orgs/${org.id}/domains/${removing.id}`);
        setRemoving(null);
        await domains.reload();
      }}>
      ${removing && html`<p>Remove <strong>${removing.domain}</strong>?
        ${removing.status === "verified"
          ? " People with an address there can no longer sign in through single sign-on, and enforced single sign-on stops applying to them."
          : " Its record is no longer checked."}
        To use it again, add it and verify it anew.</p>`}
    </${ConfirmDialog}>
  </section>`;
}

// ---------------------------------------------------------------------------------------
// Connections

function GroupRows({ groups, onChange, fields }) {
  const set = (i, k) => (v) => onChange(groups.map((g, j) => (j === i ? { ...g, [k]: v } : g)));
  const general = fields.group_role_map;
  return html`<fieldset>
    <legend>Group → role map (optional)</legend>
    <p class="hint">At each sign-in, a person gets the highest role among their mapped groups (never owner; the owner keeps their role).
      People in no mapped group get the default role.</p>
    ${groups.map((g, i) => html`<div class="map-row">
      <${Field} label=${`Group ${i + 1}`} value=${g.group} onInput=${set(i, "group")} autocomplete="off"
        error=${fields[`group_role_map.${g.group.trim()}`]} />
      <${Select} label=${`Role for group ${i + 1}`} value=${g.role} onInput=${set(i, "role")}
        options=${MAPPED_ROLES.map((r) => [r, ROLE_LABELS[r]])} />
      <${Button} kind="secondary" type="button" onClick=${() => onChange(groups.filter((_, j) => j !== i))}>
        Remove<span class="visually-hidden"> group ${i + 1}</span></${Button}>
    </div>`)}
    ${general && html`<p class="field-error">${general}</p>`}
    <p><${Button} kind="secondary" type="button" onClick=${() => onChange([...groups, { group: "", role: "member" }])}>Add a group</${Button}></p>
  </fieldset>`;
}

function ConnectionFields({ f, set, fields, editing }) {
  const jitHint = useId("jit");
  return html`
    <${Field} label="Name (optional)" value=${f.name} onInput=${set("name")} error=${fields.name} autocomplete="off"
      hint="How admins tell connections apart, e.g. “Okta” or “Entra ID”; “OpenID Connect” when left blank." />
    <${Field} label="Issuer URL" type="url" value=${f.issuer} onInput=${set("issuer")} error=${fields.issuer} autocomplete="off"
      placeholder="https://login.example.com" required
      hint="Exactly as the provider names itself in its /.well-known/openid-configuration." />
    <div class="row">
      <${Field} label="Client ID" value=${f.client_id} onInput=${set("client_id")} error=${fields.client_id} autocomplete="off" required />
      <${Field} label="Client secret" type="password" value=${f.client_secret} onInput=${set("client_secret")} error=${fields.client_secret}
        autocomplete="new-password" required=${!editing}
        hint=${editing ? "Leave it blank to keep the current secret." : "Stored encrypted; it is never shown again."} />
    </div>
    ${editing?.status === "active" && html`<p class="hint">Changing the issuer, the client ID or the secret returns the connection to draft and turns enforcement off: test it and activate it again.</p>`}
    <${Select} label="Default role" value=${f.default_role} onInput=${set("default_role")} error=${fields.default_role}
      options=${DEFAULT_ROLES.map((r) => [r, ROLE_LABELS[r]])}
      hint="The role of the people it brings in, unless a group below maps them to another." />
    <div class="field">
      <label class="check"><input type="checkbox" checked=${f.jit} onChange=${(e) => set("jit")(e.currentTarget.checked)}
        aria-describedby=${jitHint} /> Create accounts at the first sign-in (just-in-time)</label>
      <p class="hint" id=${jitHint}>On: anyone at a verified domain who signs in becomes a member (a seat each). Off: only people who are members already can sign in.</p>
      ${fields.jit && html`<p class="field-error">${fields.jit}</p>`}
    </div>
    <${Field} label="Group claim (optional)" value=${f.group_claim} onInput=${set("group_claim")} error=${fields.group_claim} autocomplete="off"
      placeholder="groups" hint="The ID token's claim listing the person's groups, for the map below." />
    <${GroupRows} groups=${f.groups} onChange=${set("groups")} fields=${fields} />
    <${Field} label="Scopes" value=${f.scopes} onInput=${set("scopes")} error=${fields.scopes} autocomplete="off"
      hint="Separated by spaces; must include openid." />`;
}

function RedirectUri({ uri }) {
  return html`<div class="secret-row"><code class="wrap" data-testid="redirect-uri">${uri}</code><${CopyButton} text=${uri} label="Copy redirect URI" /></div>`;
}

function CreateConnection({ org, onClose, onCreated }) {
  const [f, setF] = useState(EMPTY_CONNECTION);
  const [created, setCreated] = useState(null);
  const submit = useSubmit();
  const doneRef = useRef(null);
  const set = (k) => (v) => setF((x) => ({ ...x, [k]: v }));
  useEffect(() => { if (created) doneRef.current?.querySelector("button")?.focus(); }, [created]);
  const create = (e) => {
    e.preventDefault();
    submit.run(async () => {
      const c = await api("POST", `/v1/orgs/${org.id}/sso-connections`, { body: connectionBody(f) });
      setCreated(c);
      await onCreated();
    });
  };
  return html`<${Dialog} open title=${created ? `Connection “${created.name || created.issuer}” created` : "Create a connection"} onClose=${onClose} wide>
    ${created ? html`<div ref=${doneRef}>
      <p>Register this redirect URI at your identity provider, for the client <code class="wrap">${created.client_id}</code>:</p>
      <${RedirectUri} uri=${created.redirect_uri} />
      <p>The connection is a draft. Next, run a test sign-in through it; once that succeeds, activate it.</p>
      <div class="actions"><${Button} onClick=${onClose}>Done</${Button}></div>
    </div>` : html`<form onSubmit=${create} novalidate>
      <${ErrorAlert} error=${submit.error} />
      <${ConnectionFields} f=${f} set=${set} fields=${submit.fields} />
      <div class="actions">
        <${Button} kind="secondary" type="button" onClick=${onClose}>Cancel</${Button}>
        <${Button} busy=${submit.busy} type="submit">Create connection</${Button}>
      </div>
    </form>`}
  </${Dialog}>`;
}

function EditConnection({ org, c, onClose, onSaved }) {
  const [f, setF] = useState(() => connectionForm(c));
  const submit = useSubmit();
  const set = (k) => (v) => setF((x) => ({ ...x, [k]: v }));
  const save = (e) => {
    e.preventDefault();
    submit.run(async () => {
      const body = connectionChanges(c, f);
      if (Object.keys(body).length) await api("PATCH", `/v1/orgs/${org.id}/sso-connections/${c.id}`, { body });
      await onSaved();
    });
  };
  return html`<${Dialog} open title=${`Edit “${c.name || c.issuer}”`} onClose=${onClose} wide>
    <form onSubmit=${save} novalidate>
      <${ErrorAlert} error=${submit.error} />
      <${ConnectionFields} f=${f} set=${set} fields=${submit.fields} editing=${c} />
      <div class="actions">
        <${Button} kind="secondary" type="button" onClick=${onClose}>Cancel</${Button}>
        <${Button} busy=${submit.busy} type="submit">Save changes</${Button}>
      </div>
    </form>
  </${Dialog}>`;
}

/**
 * A failed test sign-in's error as `last_test` holds it (`{code, detail}`; a bare code is
 * read too): the API's detail, which is precise, else the code's plain explanation.
 */
export function testFailure(error) {
  const code = typeof error === "string" ? error : error?.code || null;
  const detail = typeof error === "object" && error?.detail ? String(error.detail) : null;
  return { code, text: detail || (code ? ssoErrorText(code) : "The test sign-in failed.") };
}

function testError(error) {
  const { code, text } = testFailure(error);
  return html`${text}${code && html` <span class="muted">(${code})</span>`}`;
}

/** What the last test sign-in received from the provider and the role it maps to. */
function Claims({ claims }) {
  if (!claims) return null;
  const groups = Array.isArray(claims.groups) ? claims.groups : [];
  return html`<dl class="facts" data-testid="claims">
    <dt>Subject (sub)</dt><dd><code class="wrap">${claims.sub}</code></dd>
    <dt>Email</dt><dd>${claims.email || "—"}</dd>
    <dt>Email verified</dt><dd>${claims.email_verified === true ? "Yes" : "No"}</dd>
    <dt>Groups</dt><dd>${groups.length ? groups.map((g) => html`<span class="chip">${g}</span>`) : "None"}</dd>
    <dt>Role it maps to</dt><dd>${claims.role ? ROLE_LABELS[claims.role] || claims.role : "—"}</dd>
  </dl>`;
}

/** The result of the test sign-in the admin just came back from (`?connection=…&test=…`). */
function TestOutcome({ c, onDismiss }) {
  const ref = useRef(null);
  useEffect(() => { ref.current?.focus(); }, []);
  const t = c.last_test;
  const name = c.name || c.issuer;
  return html`<section class=${`card test-outcome ${t?.ok ? "ok" : "failed"}`} aria-labelledby="test-outcome-title" tabindex="-1" ref=${ref}>
    <h2 id="test-outcome-title">${!t ? `No test result for “${name}”` : t.ok ? `Test sign-in through “${name}” succeeded` : `Test sign-in through “${name}” failed`}</h2>
    ${!t ? html`<p>The connection changed since, and its test result was cleared. Run the test sign-in again.</p>`
      : html`<p class="muted">${when(t.at)}</p>
        ${t.ok
          ? html`<p>The provider signed you in and the ID token passed every check. This is what it sent:</p>`
          : html`<${Alert}>${testError(t.error)}</${Alert}>`}
        <${Claims} claims=${t.claims} />
        ${t.ok && c.status === "draft" && html`<p>You can activate the connection now.</p>`}`}
    <div class="actions start"><${Button} kind="secondary" onClick=${onDismiss}>Dismiss</${Button}></div>
  </section>`;
}

function EnforceSwitch({ c, onToggle }) {
  const hint = useId("enforce");
  const active = c.status === "active";
  return html`<div class="field">
    <label class="check"><input type="checkbox" role="switch" checked=${c.enforce} disabled=${!active} aria-describedby=${hint}
      onChange=${(e) => { e.currentTarget.checked = c.enforce; onToggle(); }} /> Enforce SSO</label>
    <p class="hint" id=${hint}>${!active ? "Possible once the connection is active."
      : c.enforce ? "On: accounts at the verified domains sign in only through this connection (the owner keeps a password)."
        : "Off: people may sign in through this connection or with a password."}</p>
  </div>`;
}

function ConnectionCard({ org, c, domains, onChanged, onEdit, onDelete, onEnforce }) {
  const titleId = useId("connection");
  const activateHint = useId("activate");
  const test = useSubmit();
  const activate = useSubmit();
  const name = c.name || c.issuer;
  const t = c.last_test;
  const startTest = () => test.run(async () => {
    const { authorize_url } = await api("POST", `/v1/orgs/${org.id}/sso-connections/${c.id}/test`);
    location.assign(authorize_url);
    // The page is leaving; the button stays busy until it does.
    await new Promise(() => {});
  });
  const doActivate = () => activate.run(async () => {
    await api("PATCH", `/v1/orgs/${org.id}/sso-connections/${c.id}`, { body: { status: "active" } });
    await onChanged();
  });
  const groups = Object.entries(c.group_role_map || {});
  return html`<article class="card" id=${`connection-${c.id}`} aria-labelledby=${titleId}>
    <div class="section-head">
      <div class="sso-title"><h3 id=${titleId}>${name}</h3>
        <${Badge} tone=${c.status === "active" ? "success" : "neutral"}>${c.status}</${Badge}>
        ${c.enforce && html`<${Badge} tone="warning">enforced</${Badge}>`}</div>
      <div class="page-actions">
        <${Button} kind="secondary" onClick=${() => onEdit(c)}>Edit<span class="visually-hidden"> ${name}</span></${Button}>
        <${Button} kind="danger-ghost" onClick=${() => onDelete(c)}>Delete<span class="visually-hidden"> ${name}</span></${Button}>
      </div>
    </div>
    <dl class="facts">
      <dt>Issuer</dt><dd><code class="wrap">${c.issuer}</code></dd>
      <dt>Client ID</dt><dd><code class="wrap">${c.client_id}</code></dd>
      <dt>Redirect URI</dt><dd><${RedirectUri} uri=${c.redirect_uri} /></dd>
      <dt>Default role</dt><dd>${ROLE_LABELS[c.default_role] || c.default_role}</dd>
      <dt>Just-in-time accounts</dt><dd>${c.jit ? "On: new people become members at their first sign-in" : "Off: members only"}</dd>
      <dt>Groups</dt><dd>${c.group_claim
        ? html`Claim <code>${c.group_claim}</code>${groups.length ? html`: ${groups.map(([g, r]) => html`<span class="chip">${g} → ${ROLE_LABELS[r] || r}</span>`)}` : " (no group mapped)"}`
        : "Not used"}</dd>
      <dt>Scopes</dt><dd><code>${c.scopes}</code></dd>
      <dt>Last test</dt><dd data-testid="last-test">${!t ? "Never" : t.ok ? `Succeeded ${when(t.at)}` : html`Failed ${when(t.at)}: ${testError(t.error)}`}</dd>
      ${c.activated_at && html`<dt>Activated</dt><dd>${when(c.activated_at)}</dd>`}
    </dl>
    <div class="sso-steps">
      <div>
        <${Button} kind=${t?.ok ? "secondary" : "primary"} busy=${test.busy} onClick=${startTest}>Test sign-in<span class="visually-hidden"> through ${name}</span></${Button}>
        <p class="hint">Opens the provider's sign-in in this tab. Sign in with an account at a verified domain; nothing changes for your members.</p>
        <${ErrorAlert} error=${test.error} />
      </div>
      ${c.status === "draft" && html`<div>
        <${Button} busy=${activate.busy} disabled=${!t?.ok} aria-describedby=${activateHint} onClick=${doActivate}>Activate<span class="visually-hidden"> ${name}</span></${Button}>
        <p class="hint" id=${activateHint}>${t?.ok
          ? "The last test sign-in succeeded: activating lets people at the verified domains sign in through it."
          : "Activation needs a successful test sign-in first, so that a wrong setting cannot lock people out."}</p>
        ${activate.error && html`<${Alert}>${activate.error.code === "connection_not_tested"
          ? "Run a successful test sign-in first: the connection changed, or its last test failed."
          : explain(activate.error)}</${Alert}>`}
      </div>`}
      <div><${EnforceSwitch} c=${c} onToggle=${() => onEnforce(c)} /></div>
    </div>
    ${c.status === "active" && domains.length === 0 && html`<${Alert} kind="warning">No domain is verified, so nobody can sign in through this connection yet.</${Alert}>`}
  </article>`;
}

function EnforceDialog({ org, c, domains, onClose, onDone }) {
  const on = c && !c.enforce;
  const list = domains.length ? domains.map((d, i) => html`${i ? ", " : ""}<strong>${d.domain}</strong>`) : "the verified domains";
  return html`<${ConfirmDialog} open=${Boolean(c)} title=${on ? "Enforce single sign-on" : "Stop enforcing single sign-on"}
    confirmLabel=${on ? "Enforce SSO" : "Stop enforcing"} danger=${on} onClose=${onClose}
    onConfirm=${async () => {
      await api("PATCH", `/v1/orgs/${org.id}/sso-connections/${c.id}`, { body: { enforce: on } });
      await onDone();
    }}>
    ${c && (on
      ? html`<p>Password sign-in stops for every account with an address at ${list}: they sign in through “${c.name || c.issuer}” only.
          Forgotten-password links and password changes stop for them too.</p>
        <p>The organization's owner keeps password sign-in, as break-glass access if the identity provider fails.</p>`
      : html`<p>Accounts at ${list} may sign in with their passwords again. Accounts created through single sign-on have none and keep signing in through it.</p>`)}
  </${ConfirmDialog}>`;
}

function Connections({ org, connections, verified }) {
  const [dialog, setDialog] = useState(null);
  const rows = connections.data?.data;
  const close = () => setDialog(null);
  const createButton = html`<${Button} onClick=${() => setDialog({ kind: "create" })}>Create connection</${Button}>`;
  return html`
    <section class="card" aria-labelledby="connections-title">
      <div class="section-head">
        <h2 id="connections-title">Connections</h2>
        ${rows?.length > 0 && createButton}
      </div>
      <p class="muted">An OpenID Connect identity provider (Okta, Entra ID, Google Workspace, Keycloak…) that signs your people in.</p>
      <${ErrorAlert} error=${connections.error} />
      ${!rows ? !connections.error && html`<${Spinner} />` : rows.length === 0
        ? html`<${Empty} title="No connection yet" action=${createButton}>Create one with the issuer, client ID and secret of an application registered at your identity provider.</${Empty}>`
        : html`<div class="sso-list">${rows.map((c) => html`<${ConnectionCard} key=${c.id} org=${org} c=${c} domains=${verified}
            onChanged=${connections.reload} onEdit=${(x) => setDialog({ kind: "edit", c: x })}
            onDelete=${(x) => setDialog({ kind: "delete", c: x })} onEnforce=${(x) => setDialog({ kind: "enforce", c: x })} />`)}</div>`}
    </section>
    ${dialog?.kind === "create" && html`<${CreateConnection} org=${org} onClose=${close} onCreated=${connections.reload} />`}
    ${dialog?.kind === "edit" && html`<${EditConnection} org=${org} c=${dialog.c} onClose=${close} onSaved=${async () => { close(); await connections.reload(); }} />`}
    <${EnforceDialog} org=${org} c=${dialog?.kind === "enforce" ? dialog.c : null} domains=${verified} onClose=${close}
      onDone=${async () => { close(); await connections.reload(); }} />
    <${ConfirmDialog} open=${dialog?.kind === "delete"} title="Delete connection" confirmLabel="Delete connection"
      confirmText=${dialog?.kind === "delete" ? dialog.c.name || dialog.c.issuer : undefined} onClose=${close}
      onConfirm=${async () => {
        await api("DELETE", `/v1/orgs/${org.id}/sso-connections/${dialog.c.id}`);
        close();
        await connections.reload();
      }}>
      ${dialog?.kind === "delete" && html`<p>Delete <strong>${dialog.c.name || dialog.c.issuer}</strong>? Nobody can sign in through it any more${dialog.c.enforce ? ", and its enforcement ends" : ""}.
        The accounts and memberships it created stay. This cannot be undone.</p>`}
    </${ConfirmDialog}>`;
}

function SsoScreen({ org }) {
  const loc = useLocation();
  // Back from a test sign-in: the connection whose result to show. The address is cleaned
  // at once, so that a reload or a later visit does not announce the result again.
  const [returned, setReturned] = useState(() => (loc.query.get("test") && loc.query.get("connection")) || null);
  useEffect(() => {
    if (loc.query.has("test") || loc.query.has("connection")) navigate(`/orgs/${org.id}/sso`, { replace: true });
  }, []);
  const domains = useResource(`/v1/orgs/${org.id}/domains`);
  const connections = useResource(`/v1/orgs/${org.id}/sso-connections`);
  const verified = (domains.data?.data || []).filter((d) => d.status === "verified");
  const back = returned && connections.data?.data.find((c) => c.id === returned);
  return html`<${Page} title="Single sign-on"
    description="People at the organization's verified email domains sign in through its identity provider (OpenID Connect).">
    ${back && html`<${TestOutcome} key=${returned} c=${back} onDismiss=${() => setReturned(null)} />`}
    <${Domains} org=${org} domains=${domains} />
    <${Connections} org=${org} connections=${connections} verified=${verified} />
  </${Page}>`;
}

export function SingleSignOn({ org }) {
  return html`<${Governed} org=${org} title="Single sign-on"><${SsoScreen} org=${org} /></${Governed}>`;
}
