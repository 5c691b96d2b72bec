// Worker-side helpers of the SSO tests: the browser's part of a sign-in (start, the provider,
// the callback, the exchange) against the Worker in Miniflare, plus set-up shortcuts through
// the API (a verified domain, a connection made active by a test sign-in) and row counts.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parse as parseToml } from "smol-toml";
import { signInAt, CookieJar } from "./idp.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
/** APP_URL of wrangler.toml's [vars], which the tests' Worker uses. */
export const APP_URL = parseToml(readFileSync(path.join(root, "wrangler.toml"), "utf8")).vars.APP_URL;
export const CALLBACK = `${APP_URL}/v1/auth/sso/callback`;
export const FLOW_COOKIE = "__Host-sso-flow";
const B64URL43 = /^[A-Za-z0-9_-]{43}$/;

let counter = 0;
/** A fresh, unique, non-consumer domain name. */
export function freshDomain(prefix = "acme") {
  counter += 1;
  return `${prefix}-${process.pid}-${counter}-${Math.random().toString(36).slice(2, 7)}.com`;
}

/** The path and query of an absolute URL of the Worker (APP_URL), asserting the origin. */
export function local(url) {
  const u = new URL(url, APP_URL);
  assert.equal(u.origin, new URL(APP_URL).origin, `not a URL of the Worker: ${url}`);
  return `${u.pathname}${u.search}`;
}

/** A request to the Worker that does not follow redirects (a browser's one hop). */
export async function hop(w, method, url, { headers = {}, ip = "192.0.2.1", body } = {}) {
  const res = await w.mf.dispatchFetch(`http://localhost${local(url)}`, {
    method, redirect: "manual", body,
    headers: { "cf-connecting-ip": ip, ...headers },
  });
  const text = await res.text();
  let parsed = null;
  if (text) { try { parsed = JSON.parse(text); } catch { parsed = text; } }
  const location = res.headers.get("location");
  return {
    status: res.status, headers: res.headers, body: parsed,
    location: location ? new URL(location, APP_URL) : null,
    setCookies: res.headers.getSetCookie(),
  };
}

/** The value a Set-Cookie list gives `name` (undefined if not set, "" if cleared). */
export function cookieValue(setCookies, name) {
  const line = setCookies.find((l) => l.startsWith(`${name}=`));
  return line === undefined ? undefined : line.slice(name.length + 1).split(";")[0];
}

/**
 * GET the Worker's /v1/auth/sso/start URL (an authorize_url); asserts the 302. Returns
 * `{res, location (URL), flow (the flow cookie's value or undefined)}`.
 */
export async function start(w, authorizeUrl, { ip } = {}) {
  const res = await hop(w, "GET", authorizeUrl, { ip });
  assert.equal(res.status, 302, `start: ${res.status} ${JSON.stringify(res.body)}`);
  assert.ok(res.location, "start redirects");
  return { res, location: res.location, flow: cookieValue(res.setCookies, FLOW_COOKIE) };
}

/**
 * GET the callback URL the provider sent the browser to, with the flow cookie (if any).
 * Asserts a 302; returns `{res, location (URL), error, code}` (error/code from the console URL).
 */
export async function callback(w, url, flow, { ip, cookie } = {}) {
  const headers = {};
  if (cookie !== undefined) headers.cookie = cookie;
  else if (flow) headers.cookie = `${FLOW_COOKIE}=${flow}`;
  const res = await hop(w, "GET", url, { headers, ip });
  assert.equal(res.status, 302, `callback: ${res.status} ${JSON.stringify(res.body)}`);
  return {
    res,
    location: res.location,
    error: res.location.searchParams.get("error"),
    code: res.location.searchParams.get("code"),
  };
}

/** Asserts that a callback went to the console's /sso/callback with `?error=<code>`. */
export function assertCallbackError(cb, code) {
  assert.equal(`${cb.location.origin}${cb.location.pathname}`, `${APP_URL}/sso/callback`, cb.location.href);
  assert.equal(cb.error, code, cb.location.href);
  assert.equal(cb.code, null, "no sign-in code with an error");
  assertCleared(cb.res.setCookies, FLOW_COOKIE); // "always 302, clearing the flow cookie"
}

/** Asserts the callback answered the console with a one-time code; returns it. */
export function assertCallbackCode(cb) {
  assert.equal(`${cb.location.origin}${cb.location.pathname}`, `${APP_URL}/sso/callback`, cb.location.href);
  assert.equal(cb.error, null, cb.location.href);
  assert.match(cb.code ?? "", B64URL43, cb.location.href);
  assert.deepEqual([...cb.location.searchParams.keys()], ["code"], "nothing but the code in the URL");
  assertCleared(cb.res.setCookies, FLOW_COOKIE);
  return cb.code;
}

/**
 * A whole browser sign-in through the real provider: start → provider (login, consent as
 * `sub`) → callback. Returns `{start, providerCallback (URL string), cb}`.
 */
export async function ssoSignIn(w, idp, authorizeUrl, sub, { jar = new CookieJar(), ip } = {}) {
  const s = await start(w, authorizeUrl, { ip });
  assert.ok(s.flow, `start set no flow cookie: ${s.res.setCookies}`);
  const providerCallback = await signInAt(idp, s.location.href, sub, jar);
  const cb = await callback(w, providerCallback, s.flow, { ip });
  return { start: s, providerCallback, cb };
}

/** POST /v1/auth/sso/exchange `{code, ...body}` (request options such as `ip` in `opts`). */
export function exchange(w, code, body = {}, opts = {}) {
  return w.post("/v1/auth/sso/exchange", { code, ...body }, opts);
}

/** Asserts a Set-Cookie list clears `name` (empty value, Max-Age=0 or an Expires in the past). */
export function assertCleared(setCookies, name) {
  const line = setCookies.find((l) => l.startsWith(`${name}=`));
  assert.ok(line, `${name} is not cleared: ${setCookies}`);
  assert.equal(cookieValue(setCookies, name), "", line);
  const exp = /expires=([^;]+)/i.exec(line)?.[1];
  assert.ok(/max-age=0(;|$)/i.test(line) || (exp && Date.parse(exp) < Date.now()), line);
}

/** Row counts of what a sign-in may create. */
export async function counts(w) {
  const n = async (table) => (await w.one(`SELECT COUNT(*) AS n FROM ${table}`)).n;
  return {
    users: await n("users"),
    org_members: await n("org_members"),
    sso_identities: await n("sso_identities"),
    sessions: await n("sessions"),
    workspace_members: await n("workspace_members"),
  };
}

/** Adds `domain` to the org, publishes its TXT record at `doh` and verifies it. */
export async function verifiedDomain(w, doh, token, orgId, domain) {
  const c = await w.post(`/v1/orgs/${orgId}/domains`, { domain }, { token });
  assert.equal(c.status, 201, JSON.stringify(c.body));
  doh.set(c.body.verification.name, c.body.verification.value);
  const v = await w.post(`/v1/orgs/${orgId}/domains/${c.body.id}/verify`, undefined, { token });
  assert.equal(v.status, 200, JSON.stringify(v.body));
  assert.equal(v.body.status, "verified");
  return v.body;
}

/** POST …/sso-connections; asserts 201. */
export async function createConnection(w, token, orgId, body) {
  const r = await w.post(`/v1/orgs/${orgId}/sso-connections`, body, { token });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return r.body;
}

/**
 * Runs the connection's test sign-in as `sub` at the real provider `idp`; returns the callback
 * and the connection read afterwards.
 */
export async function testSignIn(w, idp, token, orgId, connectionId, sub, opts = {}) {
  const t = await w.post(`/v1/orgs/${orgId}/sso-connections/${connectionId}/test`, undefined, { token });
  assert.equal(t.status, 200, JSON.stringify(t.body));
  const run = await ssoSignIn(w, idp, t.body.authorize_url, sub, opts);
  const after = await w.get(`/v1/orgs/${orgId}/sso-connections/${connectionId}`, { token });
  assert.equal(after.status, 200, JSON.stringify(after.body));
  return { ...run, authorizeUrl: t.body.authorize_url, connection: after.body };
}

/** Test sign-in (must succeed) and activation; returns the active connection. */
export async function activate(w, idp, token, orgId, connectionId, sub, opts = {}) {
  const t = await testSignIn(w, idp, token, orgId, connectionId, sub, opts);
  assert.equal(t.cb.location.searchParams.get("test"), "ok", `test sign-in failed: ${t.cb.location.href} ${JSON.stringify(t.connection.last_test)}`);
  const a = await w.patch(`/v1/orgs/${orgId}/sso-connections/${connectionId}`, { status: "active" }, { token });
  assert.equal(a.status, 200, JSON.stringify(a.body));
  assert.equal(a.body.status, "active");
  return a.body;
}

/** The org's audit rows of `action`, oldest first. */
export function audit(w, orgId, action) {
  return w.rows("SELECT * FROM audit_events WHERE org_id = ? AND action = ? ORDER BY id", orgId, action);
}

export { signInAt, CookieJar };
