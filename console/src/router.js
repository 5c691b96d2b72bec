// Client-side routing over the History API: the Worker's assets answer every console path
// with index.html (single-page-application fallback), and this picks the screen.
import { useEffect, useState } from "preact/hooks";

const listeners = new Set();

function current() {
  return { path: location.pathname, query: new URLSearchParams(location.search) };
}

export function navigate(to, { replace = false } = {}) {
  history[replace ? "replaceState" : "pushState"](null, "", to);
  for (const l of listeners) l();
}

/** The current path and query; re-renders on navigation. */
export function useLocation() {
  const [loc, setLoc] = useState(current);
  useEffect(() => {
    const update = () => setLoc(current());
    listeners.add(update);
    addEventListener("popstate", update);
    return () => {
      listeners.delete(update);
      removeEventListener("popstate", update);
    };
  }, []);
  return loc;
}

/** `pattern`'s parameters in `path` (`/orgs/:org` against `/orgs/x` → `{org: "x"}`), or null. */
export function match(pattern, path) {
  const want = pattern.split("/");
  const got = path.replace(/\/+$/, "").split("/");
  if (path === "/" && pattern === "/") return {};
  if (want.length !== got.length) return null;
  const params = {};
  for (let i = 0; i < want.length; i++) {
    if (want[i].startsWith(":")) {
      if (!got[i]) return null;
      params[want[i].slice(1)] = decodeURIComponent(got[i]);
    } else if (want[i] !== got[i]) {
      return null;
    }
  }
  return params;
}

/** Same-origin links navigate in place, unless the person asked for a new tab or a download. */
export function interceptLinks() {
  document.addEventListener("click", (e) => {
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    const a = e.target.closest?.("a[href]");
    if (!a || a.target || a.hasAttribute("download") || a.origin !== location.origin) return;
    // The API's paths are the Worker's (a single sign-on starts at /v1/auth/sso/start).
    if (a.pathname.startsWith("/v1/")) return;
    e.preventDefault();
    navigate(a.pathname + a.search + a.hash);
  });
}

/**
 * The emailed token of a link page, taken out of the address bar (and so out of the
 * history and any later Referer) while the page keeps it in memory. Reading it uses
 * nothing up: only the person's click on the page's button sends it.
 */
export function takeToken() {
  const url = new URL(location.href);
  const token = url.searchParams.get("token") || sessionStorage.getItem(`token:${url.pathname}`);
  if (url.searchParams.has("token")) {
    // Kept for a reload of this tab only: sessionStorage dies with the tab.
    if (token) sessionStorage.setItem(`token:${url.pathname}`, token);
    url.searchParams.delete("token");
    history.replaceState(null, "", url.pathname + url.search + url.hash);
  }
  return token;
}

export function forgetToken() {
  sessionStorage.removeItem(`token:${location.pathname}`);
}
