// Shared pieces of every screen: fields with their errors, forms that show a problem where
// it belongs, alerts, dialogs (native <dialog>: focus moves in, Escape closes, focus comes
// back), badges, copy buttons, empty states, tables.
import { useEffect, useRef, useState } from "preact/hooks";
import { html } from "./html.js";
import { ApiError } from "./api.js";

let fieldIds = 0;

/**
 * A labelled input with its hint and its error. Most fields are required (the API says
 * which were missing); optional ones say so in their label, as "(optional)".
 */
export function Field({ label, name, type = "text", value, onInput, error, hint, required, autocomplete, children, ...rest }) {
  const id = useRef(`f${++fieldIds}`).current;
  const described = [hint && `${id}-hint`, error && `${id}-error`].filter(Boolean).join(" ") || undefined;
  const control = children
    ? children({ id, "aria-describedby": described, "aria-invalid": error ? "true" : undefined })
    : html`<input id=${id} name=${name} type=${type} value=${value ?? ""} required=${required}
        autocomplete=${autocomplete} aria-describedby=${described} aria-invalid=${error ? "true" : undefined}
        onInput=${(e) => onInput?.(e.currentTarget.value)} ...${rest} />`;
  return html`<div class="field">
    <label for=${id}>${label}</label>
    ${control}
    ${hint && html`<p class="hint" id=${`${id}-hint`}>${hint}</p>`}
    ${error && html`<p class="field-error" id=${`${id}-error`}>${error}</p>`}
  </div>`;
}

export function Select({ label, value, onInput, options, error, hint, required, name }) {
  return html`<${Field} label=${label} error=${error} hint=${hint} required=${required}>
    ${(a) => html`<select name=${name} value=${value} onChange=${(e) => onInput(e.currentTarget.value)} ...${a}>
      ${options.map(([v, text]) => html`<option value=${v}>${text}</option>`)}
    </select>`}
  </${Field}>`;
}

/**
 * A form's state: `run(fn)` submits once at a time, and a failure lands where it belongs:
 * field errors beside their fields (`fields`), anything else above the form (`error`).
 */
export function useSubmit() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const run = async (fn) => {
    if (busy) return;
    setBusy(true);
    setError(null);
    try {
      return await fn();
    } catch (e) {
      setError(e);
      return undefined;
    } finally {
      setBusy(false);
    }
  };
  const fields = error instanceof ApiError ? error.fields : {};
  return { busy, error, setError, run, fields };
}

/** What a failure means to the person reading it. */
export function explain(e) {
  if (!(e instanceof ApiError)) return e?.message || "Something went wrong.";
  switch (e.status) {
    case 403:
      return e.code === "forbidden"
        ? "Your role does not allow this. Ask an owner or admin of the organization."
        : e.message;
    case 404:
      return e.code === "not_found" ? "This no longer exists, or you have no access to it." : e.message;
    case 429:
      return e.retryAfter
        ? `Too many attempts. Try again in ${waitText(e.retryAfter)}.`
        : e.message;
    case 422:
      return Object.keys(e.fields).length ? "Please correct the highlighted fields." : e.message;
    default:
      return e.message;
  }
}

export function waitText(seconds) {
  if (seconds < 90) return `${seconds} second${seconds === 1 ? "" : "s"}`;
  return `${Math.ceil(seconds / 60)} minutes`;
}

export function Alert({ kind = "error", children }) {
  if (!children) return null;
  return html`<div class=${`alert alert-${kind}`} role=${kind === "error" ? "alert" : "status"}>${children}</div>`;
}

export function ErrorAlert({ error }) {
  return error ? html`<${Alert} kind="error">${explain(error)}</${Alert}>` : null;
}

export function Button({ kind = "primary", busy, children, ...rest }) {
  return html`<button class=${`btn btn-${kind}`} disabled=${busy || rest.disabled} aria-busy=${busy ? "true" : undefined} ...${rest}>
    ${children}
  </button>`;
}

/**
 * A modal dialog; `onClose` runs on Escape, on the close button and on cancel.
 * `fallbackFocus` (optional) returns where focus goes when what opened the dialog is gone by
 * the time it closes (an empty state's button replaced by the list it filled, a row's
 * action its own outcome removed), instead of dropping it on the page's body.
 */
export function Dialog({ open, title, onClose, children, wide, fallbackFocus }) {
  const ref = useRef(null);
  const titleId = useRef(`d${++fieldIds}`).current;
  // What had the focus when the dialog opened (read while rendering: by the time effects
  // run, the dialog has taken it). Focus goes back there when the dialog closes, and also
  // when a screen removes it while open (one mounted only while needed), which the
  // browser's own return does not cover.
  const opener = useRef(null);
  if (open && !opener.current) opener.current = document.activeElement;
  const giveBack = () => {
    const el = opener.current;
    opener.current = null;
    setTimeout(() => (el?.isConnected ? el : fallbackFocus?.())?.focus());
  };
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (open && !d.open) d.showModal();
    if (!open && d.open) {
      d.close();
      giveBack();
    }
  }, [open]);
  useEffect(() => () => opener.current && giveBack(), []);
  return html`<dialog ref=${ref} class=${wide ? "wide" : ""} aria-labelledby=${titleId}
      onCancel=${(e) => { e.preventDefault(); onClose(); }}>
    ${open && html`<div class="dialog-head">
        <h2 id=${titleId}>${title}</h2>
        <button class="btn btn-ghost" aria-label="Close" onClick=${onClose}>✕</button>
      </div>
      ${children}`}
  </dialog>`;
}

/** Asks before something that cannot be undone; with `confirmText`, the person types it first. */
export function ConfirmDialog({ open, title, children, confirmLabel, confirmText, onConfirm, onClose, danger = true, fallbackFocus }) {
  const [typed, setTyped] = useState("");
  const submit = useSubmit();
  useEffect(() => { if (!open) { setTyped(""); submit.setError(null); } }, [open]);
  const ready = !confirmText || typed === confirmText;
  return html`<${Dialog} open=${open} title=${title} onClose=${onClose} fallbackFocus=${fallbackFocus}>
    <form onSubmit=${(e) => { e.preventDefault(); if (ready) submit.run(onConfirm); }}>
      ${children}
      ${confirmText && html`<${Field} label=${`Type “${confirmText}” to confirm`} value=${typed} onInput=${setTyped} autocomplete="off" />`}
      <${ErrorAlert} error=${submit.error} />
      <div class="actions">
        <${Button} kind="secondary" type="button" onClick=${onClose}>Cancel</${Button}>
        <${Button} kind=${danger ? "danger" : "primary"} busy=${submit.busy} disabled=${!ready}>${confirmLabel}</${Button}>
      </div>
    </form>
  </${Dialog}>`;
}

export function Badge({ tone = "neutral", children }) {
  return html`<span class=${`badge badge-${tone}`}>${children}</span>`;
}

export function CopyButton({ text, label = "Copy" }) {
  const [done, setDone] = useState(false);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
      setDone(true);
      setTimeout(() => setDone(false), 2000);
    } catch {
      setDone(false);
    }
  };
  return html`<button type="button" class="btn btn-secondary" onClick=${copy}>
    ${done ? "Copied" : label}<span class="visually-hidden" aria-live="polite">${done ? " to the clipboard" : ""}</span>
  </button>`;
}

/** A secret shown once, with a copy button and the warning that it will not be shown again. */
export function Secret({ label, value }) {
  return html`<div class="secret">
    <p><strong>${label}</strong> It is shown only now; copy it before you close this.</p>
    <div class="secret-row"><code data-testid="secret">${value}</code><${CopyButton} text=${value} /></div>
  </div>`;
}

export function Empty({ title, children, action }) {
  return html`<div class="empty"><h3>${title}</h3>${children && html`<p>${children}</p>`}${action}</div>`;
}

export function Page({ title, description, actions, children }) {
  useEffect(() => { document.title = `${title} · User Management`; }, [title]);
  return html`<section class="page">
    <header class="page-head">
      <div><h1>${title}</h1>${description && html`<p class="muted">${description}</p>`}</div>
      ${actions && html`<div class="page-actions">${actions}</div>`}
    </header>
    ${children}
  </section>`;
}

export function Spinner({ label = "Loading…" }) {
  return html`<p class="loading" role="status">${label}</p>`;
}

/** A date and time in the person's locale. */
export function when(value) {
  if (!value) return "—";
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? String(value) : d.toLocaleString();
}

export function fullName(u) {
  return [u?.first_name, u?.last_name].filter(Boolean).join(" ") || u?.email || "—";
}

/** A value that settles before it is used: a search box asks once per pause, not per key. */
export function useDebounced(value, ms = 250) {
  const [settled, setSettled] = useState(value);
  useEffect(() => {
    const t = setTimeout(() => setSettled(value), ms);
    return () => clearTimeout(t);
  }, [value]);
  return settled;
}
