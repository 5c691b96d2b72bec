// The console's one way to the API: same origin, JSON both ways. A failure becomes an
// `ApiError` carrying the problem+json (status, code, detail, field errors, the wait of a
// 429). The access token lives in this module's memory only; the refresh token is an
// HttpOnly cookie the page never sees (README, "Browser sessions"), so a script injected
// into the page could use the session while the page is open but cannot carry it away.

let accessToken = null;
let refreshing = null;
const signedOutListeners = new Set();

export class ApiError extends Error {
  constructor(status, problem = {}, headers) {
    super(problem.detail || problem.title || `The request failed (${status}).`);
    this.status = status;
    this.code = problem.code || (status === 0 ? "network_error" : "error");
    this.problem = problem;
    /** Field name → message, for errors shown next to their fields. */
    this.fields = Object.fromEntries((problem.errors || []).map((e) => [e.field, e.message]));
    const wait = Number(headers?.get?.("retry-after"));
    this.retryAfter = Number.isFinite(wait) && wait > 0 ? wait : null;
  }
}

/**
 * One request. `as: "blob"` reads a successful answer as a file (the audit export), with
 * `accept` naming its type; otherwise JSON is parsed (problem+json on failure either way).
 */
async function send(method, path, { body, token, query, signal, accept = "application/json", as } = {}) {
  const url = new URL(path, location.origin);
  for (const [k, v] of Object.entries(query || {})) {
    if (v !== undefined && v !== null && v !== "") url.searchParams.set(k, v);
  }
  const headers = { accept };
  if (body !== undefined) headers["content-type"] = "application/json";
  if (token) headers.authorization = `Bearer ${token}`;
  let res;
  try {
    res = await fetch(url, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
      // The pages' own policy is no-referrer (their URLs may carry emailed tokens), under
      // which a browser sends `Origin: null` even to its own origin, and the API refuses
      // cookie requests without their true Origin (CSRF). Calls to the API say where they
      // come from; the token has left the address bar before any call (router.takeToken).
      referrerPolicy: "same-origin",
      signal,
    });
  } catch (e) {
    if (e.name === "AbortError") throw e;
    throw new ApiError(0, { detail: "The service cannot be reached. Check your connection and try again." });
  }
  const type = res.headers.get("content-type") || "";
  if (res.ok && as === "blob") return { data: await res.blob(), headers: res.headers };
  const data = res.status === 204 ? null : type.includes("json") ? await res.json().catch(() => null) : await res.text();
  if (!res.ok) throw new ApiError(res.status, data && typeof data === "object" ? data : {}, res.headers);
  return { data, headers: res.headers };
}

/**
 * Runs `fn` while no other tab of the console runs it: a refresh token is single-use, and
 * two tabs presenting the same cookie at once would look like a stolen token replayed,
 * which ends the session. After one tab rotated it, the next sends the new cookie.
 */
function oneTabAtATime(fn) {
  return navigator.locks ? navigator.locks.request("ums-session-refresh", fn) : fn();
}

/**
 * The access token from the session cookie (one refresh shared by concurrent callers). A
 * request with no body at all asks the API to use the cookie.
 */
export function refreshSession() {
  refreshing ??= oneTabAtATime(() => send("POST", "/v1/auth/refresh"))
    .then(({ data }) => {
      accessToken = data.access_token;
      return true;
    })
    .catch((e) => {
      if (e.status === 401) {
        accessToken = null;
        return false;
      }
      throw e;
    })
    .finally(() => {
      refreshing = null;
    });
  return refreshing;
}

export function adoptLogin(body) {
  accessToken = body.access_token;
}

export function hasSession() {
  return accessToken !== null;
}

export function onSignedOut(listener) {
  signedOutListeners.add(listener);
  return () => signedOutListeners.delete(listener);
}

function signedOut() {
  accessToken = null;
  for (const l of signedOutListeners) l();
}

/**
 * An authenticated call: the access token is renewed from the cookie once when it has
 * expired (401); when that fails too, the session is over and the console signs out.
 */
export async function api(method, path, opts = {}) {
  if (accessToken === null && !(await refreshSession())) {
    signedOut();
    throw new ApiError(401, { code: "unauthorized", detail: "Your session has ended. Sign in again." });
  }
  try {
    return (await send(method, path, { ...opts, token: accessToken })).data;
  } catch (e) {
    if (e.status !== 401) throw e;
    if (!(await refreshSession())) {
      signedOut();
      throw e;
    }
    return (await send(method, path, { ...opts, token: accessToken })).data;
  }
}

/** A call that needs no session (sign-in, sign-up, the emailed links' pages). */
export async function publicApi(method, path, opts = {}) {
  return (await send(method, path, opts)).data;
}

export async function signIn(email, password) {
  const data = await publicApi("POST", "/v1/auth/login", { body: { email, password, session_cookie: true } });
  adoptLogin(data);
  return data;
}

/** Ends a single sign-on: the one-time code of `/sso/callback` becomes the session (a cookie, like a password sign-in). */
export async function exchangeSsoCode(code) {
  const data = await publicApi("POST", "/v1/auth/sso/exchange", { body: { code, session_cookie: true } });
  adoptLogin(data);
  return data;
}

export async function signOut() {
  try {
    await send("POST", "/v1/auth/logout");
  } finally {
    signedOut();
  }
}
