// SCIM provisioning: the organization's identity provider (Okta, Microsoft Entra ID)
// creates, updates, suspends and removes its members and groups through the SCIM 2.0
// service at the base URL shown here, with a bearer token made here. A token's secret is
// shown once, in the dialog that made it (only its SHA-256 is stored); a revoked token is
// refused from the next request on. The settings say which role provisioned people get
// (the default, or one mapped from their SCIM groups) and how they first sign in.
// Owners and admins only (`governance`); an API token cannot mint a provisioning credential.
import { useEffect, useRef, useState } from "preact/hooks";
import { html } from "../html.js";
import { ApiError, api } from "../api.js";
import { Alert, Badge, Button, ConfirmDialog, CopyButton, Dialog, Empty, ErrorAlert, Field, Page, Secret, Select, Spinner, useSubmit, when } from "../ui.js";
import { ROLE_LABELS } from "../roles.js";
import { MoreButton, usePaged } from "./account.js";
import { Governed, useResource } from "./usage.js";

let ids = 0;
const useId = (prefix) => useRef(`${prefix}${++ids}`).current;

// ---------------------------------------------------------------------------------------
// The pure part: the settings form and what it sends.

/** Roles the settings may give by default (admins come only through a group; owners never). */
export const DEFAULT_ROLES = ["member", "viewer", "editor"];
/** Roles a SCIM group may map to: never owner. */
export const MAPPED_ROLES = ["admin", "editor", "viewer", "member"];

/** First sign-in: `null` follows whether the org has an active SSO connection. */
export const ACTIVATIONS = [
  [null, "Follow SSO", "Through SSO while the organization has an active SSO connection, by activation email otherwise."],
  ["sso", "Through SSO", "No email: people sign in through the organization's SSO connection."],
  ["email", "Activation email", "Each new person gets an email to set a password, as for an account an admin creates."],
];

export const ACTIVATION_TEXT = {
  sso: "they sign in through single sign-on (no email is sent)",
  email: "they get an activation email",
};

/** The form's values for the stored settings. */
export function settingsForm(s) {
  return {
    default_role: s.default_role || "viewer",
    groups: Object.entries(s.group_role_map || {}).map(([group, role]) => ({ group, role })),
    activation: s.activation_setting ?? null,
  };
}

/**
 * The PUT body: every field (the API replaces the settings). Rows with no group name are
 * left out; a name given twice would silently collapse into one entry, so it is refused
 * here, beside both rows, as the API's own field errors are shown.
 */
export function settingsBody(f) {
  const map = {};
  const errors = [];
  for (const { group, role } of f.groups) {
    const name = group.trim();
    if (!name) continue;
    if (name in map) errors.push({ field: `group_role_map.${name}`, message: "This group is mapped twice; keep one row." });
    map[name] = role;
  }
  if (errors.length) throw new ApiError(422, { code: "validation_failed", detail: "Please correct the highlighted fields.", errors });
  return { default_role: f.default_role, group_role_map: map, activation: f.activation };
}

/** What `activation` resolves to for a choice, given whether the org has an active SSO connection. */
export function resolvedActivation(choice, hasSso) {
  if (choice) return choice;
  if (hasSso === undefined) return undefined;
  return hasSso ? "sso" : "email";
}

// ---------------------------------------------------------------------------------------
// Connecting the identity provider

function BaseUrl({ url, testid }) {
  return html`<div class="secret-row"><code class="wrap" data-testid=${testid}>${url}</code><${CopyButton} text=${url} label="Copy base URL" /></div>`;
}

function Connect({ settings }) {
  const s = settings.data;
  return html`<section class="card" aria-labelledby="scim-connect-title">
    <h2 id="scim-connect-title">Connect your identity provider</h2>
    <${ErrorAlert} error=${settings.error} />
    ${!s ? !settings.error && html`<${Spinner} />` : html`
      <dl class="facts">
        <dt>SCIM base URL</dt><dd><${BaseUrl} url=${s.base_url} testid="base-url" /></dd>
        <dt>Last provisioning request</dt><dd data-testid="last-request">${s.last_request_at ? when(s.last_request_at) : "Never"}</dd>
      </dl>
      <p>Your identity provider needs two values: the base URL above and a bearer token created below.</p>
      <div class="idp-setup">
        <div>
          <h3>Okta</h3>
          <ol>
            <li>In the app integration's <strong>General</strong> tab, turn on <em>SCIM</em> provisioning.</li>
            <li>In its <strong>Provisioning</strong> tab, under <em>Integration</em>: the base URL as <em>SCIM connector base URL</em>, <code>userName</code> as <em>Unique identifier field for users</em>, <em>HTTP Header</em> as <em>Authentication Mode</em>, and the token as the bearer token.</li>
            <li>Under <em>To App</em>, enable <em>Create Users</em>, <em>Update User Attributes</em> and <em>Deactivate Users</em>.</li>
          </ol>
        </div>
        <div>
          <h3>Microsoft Entra ID</h3>
          <ol>
            <li>In the enterprise application's <strong>Provisioning</strong> page, set <em>Provisioning Mode</em> to <em>Automatic</em>.</li>
            <li>Under <em>Admin Credentials</em>: the base URL as <em>Tenant URL</em>, the token as <em>Secret Token</em>; then <em>Test Connection</em>.</li>
            <li>Save, assign the users and groups to provision, and set <em>Provisioning Status</em> to <em>On</em>.</li>
          </ol>
        </div>
      </div>`}
  </section>`;
}

// ---------------------------------------------------------------------------------------
// Tokens

function CreateToken({ org, open, onClose, onCreated, fallbackFocus }) {
  const [name, setName] = useState("");
  const [created, setCreated] = useState(null);
  const submit = useSubmit();
  const doneRef = useRef(null);
  // Closing forgets the form and, above all, the secret: it is never shown again. (The
  // dialog stays mounted, so that closing it gives focus back to what opened it.)
  useEffect(() => { if (!open) { setName(""); setCreated(null); submit.setError(null); } }, [open]);
  // The form's button is gone once the secret shows; focus goes to the secret's copy button.
  useEffect(() => { if (created) doneRef.current?.querySelector("button")?.focus(); }, [created]);
  const create = (e) => {
    e.preventDefault();
    submit.run(async () => {
      // A blank name is left out: the API names the token “SCIM”.
      const body = name.trim() ? { name: name.trim() } : {};
      setCreated(await api("POST", `/v1/orgs/${org.id}/scim-tokens`, { body }));
      onCreated();
    });
  };
  return html`<${Dialog} open=${open} title=${created ? `SCIM token “${created.name}” created` : "Create a SCIM token"} onClose=${onClose} wide
    fallbackFocus=${fallbackFocus}>
    ${created ? html`<div ref=${doneRef}>
      <${Secret} label="This is the token's secret." value=${created.token} />
      <p>Give your identity provider this base URL, and the secret above as its bearer token (Okta) or secret token (Entra ID):</p>
      <${BaseUrl} url=${created.base_url} testid="created-base-url" />
      <div class="actions"><${Button} onClick=${onClose}>Done</${Button}></div>
    </div>` : html`<form onSubmit=${create} novalidate>
      ${!submit.fields.name && html`<${ErrorAlert} error=${submit.error} />`}
      <${Field} label="Name (optional)" value=${name} onInput=${setName} error=${submit.fields.name} autocomplete="off"
        hint="Which client uses it, e.g. “Okta” or “Entra ID”; “SCIM” when left blank." />
      <div class="actions">
        <${Button} kind="secondary" type="button" onClick=${onClose}>Cancel</${Button}>
        <${Button} busy=${submit.busy} type="submit">Create token</${Button}>
      </div>
    </form>`}
  </${Dialog}>`;
}

function Tokens({ org }) {
  const list = usePaged(`/v1/orgs/${org.id}/scim-tokens`, { limit: 50 });
  const [creating, setCreating] = useState(false);
  const [revoking, setRevoking] = useState(null);
  const createButton = html`<${Button} onClick=${() => setCreating(true)}>Create SCIM token</${Button}>`;
  // The first token replaces the empty state (and its button) with the list; a revoked
  // token's row loses its button: focus then goes to the list's own create button.
  const sectionRef = useRef(null);
  const fallbackFocus = () => sectionRef.current?.querySelector(".section-head button");
  return html`<section class="card" aria-labelledby="scim-tokens-title" ref=${sectionRef}>
    <div class="section-head">
      <h2 id="scim-tokens-title">Tokens</h2>
      ${list.rows?.length > 0 && createButton}
    </div>
    <p class="muted">Each token lets one identity provider manage this organization's members and groups. Revoke a token you no longer use.</p>
    <${ErrorAlert} error=${list.error} />
    ${!list.rows ? !list.error && html`<${Spinner} />` : list.rows.length === 0
      ? html`<${Empty} title="No SCIM token yet" action=${createButton}>Create one and give it to your identity provider with the base URL above; provisioning starts with its first request.</${Empty}>`
      : html`<div class="table-wrap"><table>
        <caption class="visually-hidden">SCIM tokens</caption>
        <thead><tr><th scope="col">Name</th><th scope="col">Status</th><th scope="col">Created</th><th scope="col">Last used</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>
        <tbody>${list.rows.map((t) => html`<tr key=${t.id}>
          <th scope="row"><span class="name">${t.name}</span></th>
          <td>${t.revoked_at
            ? html`<${Badge} tone="danger">revoked</${Badge}><span class="muted block">${when(t.revoked_at)}</span>`
            : html`<${Badge} tone="success">active</${Badge}>`}</td>
          <td>${when(t.created_at)}<span class="muted block">${t.created_by ? `by ${t.created_by.email}` : "by a deleted account"}</span></td>
          <td>${t.last_used_at ? when(t.last_used_at) : "Never"}</td>
          <td class="row-actions">${!t.revoked_at && html`<${Button} kind="danger-ghost" onClick=${() => setRevoking(t)}>Revoke<span class="visually-hidden"> ${t.name}</span></${Button}>`}</td>
        </tr>`)}</tbody>
      </table></div>`}
    <${MoreButton} list=${list} />
    <${CreateToken} org=${org} open=${creating} onClose=${() => setCreating(false)} onCreated=${list.reload} fallbackFocus=${fallbackFocus} />
    <${ConfirmDialog} open=${Boolean(revoking)} title="Revoke SCIM token" confirmLabel="Revoke token" fallbackFocus=${fallbackFocus}
      onClose=${() => setRevoking(null)}
      onConfirm=${async () => {
        await api("DELETE", `/v1/orgs/${org.id}/scim-tokens/${revoking.id}`);
        // The list first: the dialog closes onto the row already shown revoked.
        await list.reload();
        setRevoking(null);
      }}>
      <p>${revoking && html`Revoke <strong>${revoking.name}</strong>? The identity provider using it is refused from its very next request,
        and provisioning stops until it has a new token. The people and groups it provisioned stay. This cannot be undone.`}</p>
    </${ConfirmDialog}>
  </section>`;
}

// ---------------------------------------------------------------------------------------
// Settings

function GroupRows({ groups, onChange, fields }) {
  const boxRef = useRef(null);
  // Keyboard users stay where they were: a new row's name field takes the focus; after a
  // removal, the row that took its place (or the add button, when none did).
  const [focus, setFocus] = useState(null);
  useEffect(() => {
    if (focus === null) return;
    const inputs = boxRef.current?.querySelectorAll(".map-row input");
    const target = inputs?.[Math.min(focus, inputs.length - 1)] || boxRef.current?.querySelector("[data-add-group]");
    target?.focus();
    setFocus(null);
  }, [focus]);
  const set = (i, k) => (v) => onChange(groups.map((g, j) => (j === i ? { ...g, [k]: v } : g)));
  const add = () => { onChange([...groups, { group: "", role: "member" }]); setFocus(groups.length); };
  const remove = (i) => { onChange(groups.filter((_, j) => j !== i)); setFocus(groups.length > 1 ? i : Infinity); };
  const general = fields.group_role_map;
  return html`<fieldset ref=${boxRef}>
    <legend>Group → role map (optional)</legend>
    <p class="hint">A person in a mapped SCIM group (its display name, exactly as the identity provider sends it) gets that role;
      in several, the highest. Everyone else gets the default role. Owner is never granted.</p>
    ${groups.map((g, i) => html`<div class="map-row">
      <${Field} label=${`Group ${i + 1}`} value=${g.group} onInput=${set(i, "group")} autocomplete="off"
        error=${fields[`group_role_map.${g.group.trim()}`] || fields[`group_role_map.${g.group}`]} />
      <${Select} label=${`Role for group ${i + 1}`} value=${g.role} onInput=${set(i, "role")}
        options=${MAPPED_ROLES.map((r) => [r, ROLE_LABELS[r]])} />
      <${Button} kind="secondary" type="button" onClick=${() => remove(i)}>
        Remove<span class="visually-hidden"> group ${i + 1}</span></${Button}>
    </div>`)}
    ${general && html`<p class="field-error">${general}</p>`}
    <p><${Button} kind="secondary" type="button" data-add-group onClick=${add}>Add a group</${Button}></p>
  </fieldset>`;
}

function Activation({ value, onChange, error, hasSso, orgId }) {
  const errorId = useId("activation-error");
  const nowId = useId("activation-now");
  const resolved = resolvedActivation(value, hasSso);
  return html`<fieldset aria-describedby=${[nowId, error && errorId].filter(Boolean).join(" ")}>
    <legend>First sign-in of provisioned people</legend>
    ${ACTIVATIONS.map(([v, label, hint]) => {
      const hintId = `${nowId}-${v || "follow"}`;
      return html`<div class="scim-choice">
        <label class="choice"><input type="radio" name="scim-activation" checked=${value === v} aria-describedby=${hintId}
          onChange=${() => onChange(v)} /> <span>${label}</span></label>
        <p class="hint" id=${hintId}>${hint}</p>
      </div>`;
    })}
    <p id=${nowId} data-testid="activation-resolved">${resolved
      ? html`With this choice, ${ACTIVATION_TEXT[resolved]}${value === null ? html` (the organization ${hasSso ? "has" : "has no"} active SSO connection)` : ""}.`
      : ""}</p>
    ${value === "sso" && hasSso === false && html`<${Alert} kind="warning">The organization has no active SSO connection: people provisioned now cannot sign in
      until one is active. <a href=${`/orgs/${orgId}/sso`}>Set up single sign-on</a>.</${Alert}>`}
    ${error && html`<p class="field-error" id=${errorId}>${error}</p>`}
  </fieldset>`;
}

function SettingsForm({ org, settings, hasSso }) {
  const [f, setF] = useState(() => settingsForm(settings.data));
  const [saved, setSaved] = useState(false);
  const submit = useSubmit();
  const set = (k) => (v) => { setSaved(false); setF((x) => ({ ...x, [k]: v })); };
  const save = (e) => {
    e.preventDefault();
    setSaved(false);
    submit.run(async () => {
      const stored = await api("PUT", `/v1/orgs/${org.id}/scim-settings`, { body: settingsBody(f) });
      settings.replace(stored);
      setF(settingsForm(stored));
      setSaved(true);
    });
  };
  // With the stored choice "follow SSO", what it resolves to says whether the org has an active
  // connection; otherwise the connections list does.
  const sso = hasSso ?? (settings.data.activation_setting === null ? settings.data.activation === "sso" : undefined);
  return html`<form onSubmit=${save} novalidate aria-labelledby="scim-settings-title">
    <${ErrorAlert} error=${submit.error} />
    <${Select} label="Default role" value=${f.default_role} onInput=${set("default_role")} error=${submit.fields.default_role}
      options=${DEFAULT_ROLES.map((r) => [r, ROLE_LABELS[r]])}
      hint="The role of every person the identity provider creates, unless a group below maps them to another. Admins only through a group." />
    <${GroupRows} groups=${f.groups} onChange=${set("groups")} fields=${submit.fields} />
    <${Activation} value=${f.activation} onChange=${set("activation")} error=${submit.fields.activation} hasSso=${sso} orgId=${org.id} />
    ${saved && html`<${Alert} kind="success">Saved. The identity provider's next requests use these settings.</${Alert}>`}
    <div class="actions start"><${Button} busy=${submit.busy} type="submit">Save settings</${Button}></div>
  </form>`;
}

function Settings({ org, settings }) {
  const connections = useResource(`/v1/orgs/${org.id}/sso-connections`);
  const hasSso = connections.data ? connections.data.data.some((c) => c.status === "active") : undefined;
  return html`<section class="card" aria-labelledby="scim-settings-title">
    <h2 id="scim-settings-title">Settings</h2>
    <p class="muted">What the people and groups your identity provider creates get here.</p>
    ${settings.data ? html`<${SettingsForm} org=${org} settings=${settings} hasSso=${hasSso} />` : html`<${Spinner} />`}
  </section>`;
}

function ScimScreen({ org }) {
  const resource = useResource(`/v1/orgs/${org.id}/scim-settings`);
  // A save answers the stored settings: the form and the facts above show them without a new GET.
  const [stored, setStored] = useState(null);
  useEffect(() => setStored(null), [resource.data]);
  const settings = { ...resource, data: stored || resource.data, replace: setStored };
  return html`<${Page} title="Provisioning"
    description="SCIM 2.0: your identity provider (Okta, Microsoft Entra ID…) creates, updates, suspends and removes this organization's members and groups.">
    <${Connect} settings=${settings} />
    <${Tokens} org=${org} />
    ${!settings.error && html`<${Settings} org=${org} settings=${settings} />`}
  </${Page}>`;
}

export function Provisioning({ org }) {
  return html`<${Governed} org=${org} title="Provisioning"><${ScimScreen} org=${org} /></${Governed}>`;
}
