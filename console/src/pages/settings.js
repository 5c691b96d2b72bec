// Settings: the org's name, description and logo address (editors and up change them,
// everyone else reads them), and for the owner alone the danger zone: transfer ownership to
// another member, and delete the organization after typing its name.
import { useEffect, useState } from "preact/hooks";
import { html } from "../html.js";
import { api } from "../api.js";
import { navigate } from "../router.js";
import { can, useSession } from "../session.js";
import { Alert, Button, ConfirmDialog, Dialog, ErrorAlert, Field, Page, Spinner, fullName, useSubmit, when } from "../ui.js";
import { ROLE_LABELS } from "../roles.js";

/** Only what changed is sent; an emptied description or logo is cleared (`null`). */
function changes(org, form) {
  const body = {};
  if (form.name.trim() !== org.name) body.name = form.name.trim();
  for (const k of ["description", "logo_url"]) {
    const v = form[k].trim() || null;
    if (v !== (org[k] || null)) body[k] = v;
  }
  return body;
}

function Details({ org, reloadOrg }) {
  const { reload } = useSession();
  const initial = () => ({ name: org.name, description: org.description || "", logo_url: org.logo_url || "" });
  const [form, setForm] = useState(initial);
  const [saved, setSaved] = useState(false);
  const submit = useSubmit();
  useEffect(() => setForm(initial()), [org.id]);
  const set = (k) => (v) => { setSaved(false); setForm((f) => ({ ...f, [k]: v })); };
  const save = (e) => {
    e.preventDefault();
    setSaved(false);
    submit.run(async () => {
      const body = changes(org, form);
      if (Object.keys(body).length) {
        await api("PATCH", `/v1/orgs/${org.id}`, { body });
        // The switcher and the side navigation show the name too.
        await Promise.all([reloadOrg(), reload()]);
      }
      setSaved(true);
    });
  };
  // The logo is an address only: the page's CSP loads no image from another site.
  const logoHint = "An https:// address of the organization's logo, for the apps that show it.";
  if (!can(org, "org.edit")) {
    return html`<section class="card" aria-labelledby="details-title">
      <h2 id="details-title">Details</h2>
      <p class="muted">Only the organization's editors, admins and owner change these.</p>
      <dl class="details">
        <div><dt>Name</dt><dd>${org.name}</dd></div>
        <div><dt>Description</dt><dd>${org.description || "—"}</dd></div>
        <div><dt>Logo address</dt><dd class="wrap">${org.logo_url || "—"}</dd></div>
      </dl>
    </section>`;
  }
  return html`<form class="card" onSubmit=${save} novalidate aria-labelledby="details-title">
    <h2 id="details-title">Details</h2>
    ${saved && html`<${Alert} kind="success">Saved.</${Alert}>`}
    <${ErrorAlert} error=${submit.error} />
    <${Field} label="Name" value=${form.name} onInput=${set("name")} error=${submit.fields.name} autocomplete="organization" required />
    <${Field} label="Description (optional)" error=${submit.fields.description}>
      ${(a) => html`<textarea rows="3" value=${form.description} onInput=${(e) => set("description")(e.currentTarget.value)} ...${a} />`}
    </${Field}>
    <${Field} label="Logo address (optional)" type="url" value=${form.logo_url} onInput=${set("logo_url")} error=${submit.fields.logo_url}
      hint=${logoHint} autocomplete="off" placeholder="https://example.com/logo.png" />
    <${Button} busy=${submit.busy} type="submit">Save</${Button}>
  </form>`;
}

/** The members ownership can go to: active accounts with an org role, other than the owner. */
function useCandidates(org, q, open) {
  const [state, setState] = useState({ rows: null, error: null });
  useEffect(() => {
    if (!open) return undefined;
    let live = true;
    const t = setTimeout(() => {
      api("GET", `/v1/orgs/${org.id}/members`, { query: { q: q.trim(), limit: 50 } }).then(
        (page) => live && setState({ rows: page.data.filter((m) => m.user.status === "active" && m.role !== "member" && m.role !== "owner"), error: null }),
        (error) => live && setState({ rows: null, error }),
      );
    }, 250);
    return () => { live = false; clearTimeout(t); };
  }, [org.id, q, open]);
  return state;
}

function TransferOwnership({ org, open, onClose, onDone }) {
  const [q, setQ] = useState("");
  const [to, setTo] = useState(null);
  const candidates = useCandidates(org, q, open);
  const submit = useSubmit();
  // Mounted while closed (closing then gives focus back to the button that opened it);
  // each opening starts afresh.
  useEffect(() => { if (!open) { setQ(""); setTo(null); submit.setError(null); } }, [open]);
  const transfer = (e) => {
    e.preventDefault();
    if (!to) return;
    submit.run(async () => {
      await api("POST", `/v1/orgs/${org.id}/transfer-ownership`, { body: { user_id: to.user.id } });
      onDone(to);
    });
  };
  return html`<${Dialog} open=${open} title="Transfer ownership" onClose=${onClose} wide>
    <form onSubmit=${transfer} novalidate>
      <p>The new owner gets full control of ${org.name}, deleting it included. You become an admin.</p>
      <${ErrorAlert} error=${submit.error} />
      <${Field} label="Find a member" type="search" value=${q} onInput=${setQ} autocomplete="off"
        hint="Name or email. Only active members with an organization role can own it." />
      <fieldset aria-describedby=${submit.fields.user_id ? "new-owner-error" : undefined}>
        <legend>New owner</legend>
        <${ErrorAlert} error=${candidates.error} />
        ${!candidates.rows ? !candidates.error && html`<${Spinner} />` : candidates.rows.length === 0
          ? html`<p class="muted">No eligible member matches.</p>`
          : candidates.rows.map((m) => html`<label class="choice">
              <input type="radio" name="new-owner" checked=${to?.user.id === m.user.id} onChange=${() => setTo(m)} />
              <span>${fullName(m.user)} <span class="muted">${m.user.email} · ${ROLE_LABELS[m.role] || m.role}</span></span>
            </label>`)}
        ${submit.fields.user_id && html`<p class="field-error" id="new-owner-error">${submit.fields.user_id}</p>`}
      </fieldset>
      <div class="actions">
        <${Button} kind="secondary" type="button" onClick=${onClose}>Cancel</${Button}>
        <${Button} kind="danger" busy=${submit.busy} disabled=${!to} type="submit">Transfer ownership</${Button}>
      </div>
    </form>
  </${Dialog}>`;
}

function DangerZone({ org, reloadOrg, onTransferred }) {
  const { reload } = useSession();
  const [transferring, setTransferring] = useState(false);
  const [deleting, setDeleting] = useState(false);
  return html`<section class="card danger-zone" aria-labelledby="danger-title">
    <h2 id="danger-title">Danger zone</h2>
    ${can(org, "org.transfer_ownership") && html`<div class="danger-row">
      <div><h3>Transfer ownership</h3><p>Make another member the owner. You stay in the organization as an admin.</p></div>
      <${Button} kind="danger-ghost" onClick=${() => setTransferring(true)}>Transfer ownership…</${Button}>
    </div>`}
    ${can(org, "org.delete") && html`<div class="danger-row">
      <div><h3>Delete this organization</h3><p>Its workspaces, memberships, invitations, groups, grants, API tokens and audit log are deleted for good.</p></div>
      <${Button} kind="danger" onClick=${() => setDeleting(true)}>Delete organization…</${Button}>
    </div>`}
    <${TransferOwnership} org=${org} open=${transferring} onClose=${() => setTransferring(false)}
      onDone=${async (to) => { setTransferring(false); onTransferred(to); await Promise.all([reloadOrg(), reload()]); }} />
    <${ConfirmDialog} open=${deleting} title=${`Delete ${org.name}`} confirmLabel="Delete organization" confirmText=${org.name}
      onClose=${() => setDeleting(false)}
      onConfirm=${async () => {
        await api("DELETE", `/v1/orgs/${org.id}`);
        // The org is gone from the memberships before the start page picks where to go:
        // another organization, or the account's organizations page.
        await reload();
        navigate("/", { replace: true });
      }}>
      <p>This deletes <strong>${org.name}</strong> and everything in it. Its members keep their accounts. This cannot be undone.</p>
    </${ConfirmDialog}>
  </section>`;
}

export function Settings({ org, reloadOrg }) {
  const [transferred, setTransferred] = useState(null);
  const owner = can(org, "org.delete") || can(org, "org.transfer_ownership");
  return html`<${Page} title="Settings" description=${`The details of ${org.name}.`}>
    ${transferred && html`<${Alert} kind="success">${fullName(transferred.user)} now owns ${org.name}. You are an admin.</${Alert}>`}
    <${Details} org=${org} reloadOrg=${reloadOrg} />
    <section class="card" aria-labelledby="about-title">
      <h2 id="about-title">About</h2>
      <dl class="details">
        <div><dt>Your role</dt><dd data-testid="my-role">${ROLE_LABELS[org.role] || org.role}</dd></div>
        <div><dt>Seat limit</dt><dd>${org.member_limit}</dd></div>
        <div><dt>Created</dt><dd>${when(org.created_at)}</dd></div>
        <div><dt>Organization id</dt><dd><code class="id">${org.id}</code></dd></div>
      </dl>
    </section>
    ${owner && html`<${DangerZone} org=${org} reloadOrg=${reloadOrg} onTransferred=${setTransferred} />`}
  </${Page}>`;
}
