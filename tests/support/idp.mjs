// A real OpenID provider for the SSO end-to-end tests: panva's oidc-provider (a certified OP)
// on loopback, with static clients, PKCE S256 required, and accounts the test can change
// between sign-ins. `signInAt` drives a sign-in through its development interactions
// (the login form accepts any password) the way a browser would, keeping the provider's
// cookies, and stops at the redirect back to the relying party.
import http from "node:http";
import { randomBytes } from "node:crypto";
import { generateKeyPair, exportJWK } from "jose";
import Provider from "oidc-provider";

/**
 * Starts the provider on 127.0.0.1 on a free port; the issuer is `http://127.0.0.1:<port>`.
 * `clients`: `[{client_id, client_secret, redirect_uris, token_endpoint_auth_method?}]`
 * (client_secret_basic unless given). `accounts`: a Map or an object, sub → claims
 * (`email`, `email_verified`, `given_name`, `family_name`, `name`, `groups`, …); it is read at
 * every sign-in and token request, so the test may change it (the returned `accounts` Map)
 * between sign-ins. Scopes: `email` → email, email_verified; `profile` → given_name,
 * family_name, name; `groups` → groups; every granted claim lands in the ID token
 * (`conformIdTokenClaims: false`).
 * Returns `{issuer, port, provider, accounts, close()}`.
 */
export async function startIdp({ clients = [], accounts = new Map(), signingAlg = "RS256" } = {}) {
  const accountMap = accounts instanceof Map ? accounts : new Map(Object.entries(accounts));
  const server = http.createServer();
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  const issuer = `http://127.0.0.1:${port}`;

  const rsa = await generateKeyPair("RS256", { extractable: true });
  const ec = await generateKeyPair("ES256", { extractable: true });
  const keys = [
    { ...(await exportJWK(rsa.privateKey)), kid: `rsa-${port}`, alg: "RS256", use: "sig" },
    { ...(await exportJWK(ec.privateKey)), kid: `ec-${port}`, alg: "ES256", use: "sig" },
  ];

  const provider = new Provider(issuer, {
    clients: clients.map((c) => ({
      client_id: c.client_id,
      client_secret: c.client_secret,
      redirect_uris: c.redirect_uris,
      response_types: ["code"],
      grant_types: ["authorization_code"],
      token_endpoint_auth_method: c.token_endpoint_auth_method ?? "client_secret_basic",
      id_token_signed_response_alg: c.id_token_signed_response_alg ?? signingAlg,
    })),
    jwks: { keys },
    cookies: { keys: [randomBytes(32).toString("base64url")] },
    pkce: { required: () => true },
    // oidc-provider 9 has this at the top level of the configuration (not under features).
    conformIdTokenClaims: false,
    claims: {
      openid: ["sub"],
      email: ["email", "email_verified"],
      profile: ["given_name", "family_name", "name"],
      groups: ["groups"],
    },
    scopes: ["openid", "email", "profile", "groups"],
    features: {
      devInteractions: { enabled: true },
    },
    ttl: { Interaction: 600, Session: 3600, Grant: 3600, AccessToken: 600, IdToken: 600, AuthorizationCode: 60 },
    async findAccount(ctx, sub) {
      if (!accountMap.has(sub)) return undefined;
      return {
        accountId: sub,
        async claims() {
          return { ...(accountMap.get(sub) ?? {}), sub };
        },
      };
    },
    // The interaction pages' own error rendering: plain text the driver can report.
    async renderError(ctx, out, error) {
      ctx.type = "text/plain";
      ctx.body = `provider error: ${out.error}: ${out.error_description ?? ""} ${error?.message ?? ""}`;
    },
  });
  // Nothing noisy on the test's console: the provider's own events are not needed.
  provider.on("server_error", (ctx, err) => console.error("oidc-provider server_error", err));

  server.on("request", provider.callback());
  return {
    issuer,
    port,
    provider,
    accounts: accountMap,
    async close() {
      server.closeAllConnections?.();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/**
 * A minimal cookie jar: cookies per origin (host-only), with path matching and expiry.
 * `header(url)` gives the Cookie header for a request; `store(url, response)` takes a fetch
 * Response's Set-Cookie lines (or an array of lines); `clear(origin?)` forgets cookies.
 */
export class CookieJar {
  constructor() {
    this.cookies = new Map(); // origin → Map(name|path → {name, value, path, expires})
    this.meta = new Map();
  }

  store(url, resOrLines) {
    const u = new URL(url);
    const lines = Array.isArray(resOrLines) ? resOrLines : resOrLines.headers.getSetCookie();
    let bucket = this.cookies.get(u.origin);
    if (!bucket) this.cookies.set(u.origin, (bucket = new Map()));
    for (const line of lines) {
      const [pair, ...attrs] = line.split(";").map((s) => s.trim());
      const eq = pair.indexOf("=");
      const name = pair.slice(0, eq);
      const value = pair.slice(eq + 1);
      let path = u.pathname.replace(/\/[^/]*$/, "") || "/";
      let expires = null;
      for (const a of attrs) {
        const [k, v = ""] = a.split("=");
        const key = k.toLowerCase();
        if (key === "path") path = v || "/";
        else if (key === "max-age") expires = Date.now() + Number(v) * 1000;
        else if (key === "expires" && expires === null) expires = Date.parse(v);
      }
      const id = `${name}|${path}`;
      if (expires !== null && expires <= Date.now()) bucket.delete(id);
      else bucket.set(id, { name, value, path, expires });
    }
  }

  get(url, name) {
    return this.list(url).find((c) => c.name === name)?.value;
  }

  list(url) {
    const u = new URL(url);
    const bucket = this.cookies.get(u.origin);
    if (!bucket) return [];
    const now = Date.now();
    return [...bucket.values()]
      .filter((c) => (c.expires === null || c.expires > now) &&
        (u.pathname === c.path || u.pathname.startsWith(c.path.endsWith("/") ? c.path : `${c.path}/`)))
      .sort((a, b) => b.path.length - a.path.length); // longest path first, as browsers do
  }

  header(url) {
    return this.list(url).map((c) => `${c.name}=${c.value}`).join("; ");
  }

  clear(origin) {
    if (origin === undefined) this.cookies.clear();
    else this.cookies.delete(new URL(origin).origin);
  }
}

/**
 * Signs `sub` in at the provider the way a browser would: GET `authorizeUrl` (the provider's
 * authorization endpoint with the relying party's parameters, i.e. the Location of the
 * Worker's /v1/auth/sso/start), follow the provider's redirects to /interaction/:uid, submit
 * the login form (`prompt=login&login=<sub>&password=…`), then the consent form
 * (`prompt=consent`), keeping the provider's cookies in `jar`. Returns the URL the provider
 * finally redirects to outside itself (our callback, with `code`, `state`, `iss`, or
 * `error`) WITHOUT following it. If the jar holds a provider session for another person, it
 * is dropped first so the login form is shown again. Throws with the provider's answer if a
 * page is neither a redirect nor an interaction form.
 */
export async function signInAt(idp, authorizeUrl, sub, jar = new CookieJar()) {
  const origin = new URL(idp.issuer).origin;
  if (jar.meta.get(origin) !== sub) {
    jar.clear(origin);
    jar.meta.set(origin, sub);
  }
  let url = authorizeUrl;
  let method = "GET";
  let body;
  const trail = [];
  for (let hop = 0; hop < 20; hop++) {
    if (new URL(url).origin !== origin) return url;
    trail.push(`${method} ${url}`);
    const headers = { cookie: jar.header(url) };
    if (body) headers["content-type"] = "application/x-www-form-urlencoded";
    const res = await fetch(url, { method, headers, body, redirect: "manual" });
    jar.store(url, res);
    if (res.status >= 300 && res.status < 400) {
      url = new URL(res.headers.get("location"), url).href;
      method = "GET";
      body = undefined;
      continue;
    }
    const text = await res.text();
    if (res.status === 200 && /\/interaction\//.test(new URL(url).pathname)) {
      const prompt = text.match(/name="prompt" value="(\w+)"/)?.[1];
      const action = text.match(/<form[^>]*action="([^"]+)"/)?.[1];
      if (!prompt || !action) throw new Error(`no interaction form at ${url}: ${text.slice(0, 500)}`);
      const form = new URLSearchParams({ prompt });
      if (prompt === "login") {
        form.set("login", sub);
        form.set("password", "any password");
      }
      url = new URL(action.replace(/&amp;/g, "&"), url).href;
      method = "POST";
      body = form.toString();
      continue;
    }
    const err = new Error(`the provider answered ${res.status} at ${method} ${url}: ${text.slice(0, 500)}\n${trail.join("\n")}`);
    err.status = res.status;
    err.body = text;
    throw err;
  }
  throw new Error(`too many redirects: ${trail.join("\n")}`);
}
