// A scripted OpenID provider for the hostile SSO cases: plain node:http + jose, on loopback.
// It serves discovery and a JWKS (one RSA and one P-256 key), an authorization endpoint that
// redirects straight back to the relying party with a code (no login step), and a token
// endpoint that answers with an ID token the test crafts per case (`plan`). The token
// endpoint checks the client's credentials, the redirect_uri and the PKCE verifier against
// the S256 challenge received at the authorization endpoint (invalid_grant otherwise), so a
// flow that succeeds proves the relying party sends PKCE S256 correctly.
import http from "node:http";
import { createHash, createHmac, randomBytes } from "node:crypto";
import { generateKeyPair, exportJWK, exportSPKI, SignJWT } from "jose";

const b64url = (v) => Buffer.from(typeof v === "string" ? v : JSON.stringify(v)).toString("base64url");
const now = () => Math.floor(Date.now() / 1000);

/**
 * Starts the provider on 127.0.0.1 on a free port (issuer `http://127.0.0.1:<port>`).
 * `client`: `{client_id, client_secret}` the token endpoint accepts (Basic or POST body).
 * `user`: the default claims of the person signing in (sub, email, email_verified, …).
 *
 * Per case, set on the returned object:
 * - `plan`: how the next ID tokens are made (kept until changed; `reset()` restores):
 *   `{claims?: object | (base) => object, alg?: "RS256" | "ES256" | "none" |
 *     "HS256-public-key" | "RS256-unknown-kid", header?: object, tokenError?: {status, body}}`.
 *   `claims` as an object is merged over the base claims (a value `undefined` removes the
 *   claim); as a function it returns the full claims from the base ones.
 *   Base claims: `{iss, sub, aud: client_id, exp: now+300, iat: now, nonce (from the
 *   authorization request), ...user}`.
 * - `callbackIss`: the `iss` parameter on the redirect back: undefined → the issuer,
 *   null → none, a string → that string.
 * - `callbackError`: `{error, error_description}` to redirect back with an error instead of
 *   a code.
 * - `discoveryIssuer`: the `issuer` the discovery document claims (default: the issuer).
 *
 * Logs: `authorizeRequests` (the query parameters received), `tokenRequests`
 * (`{auth: "basic"|"post"|null, client_id, params, ok, error}`), `jwksRequests` (count).
 * `authorize(url)` GETs an authorization URL here and returns the redirect's Location.
 */
export async function startHostileIdp({ client, user = {} } = {}) {
  const server = http.createServer();
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  const issuer = `http://127.0.0.1:${port}`;

  const rsa = await generateKeyPair("RS256", { extractable: true });
  const ec = await generateKeyPair("ES256", { extractable: true });
  const stranger = await generateKeyPair("RS256", { extractable: true }); // never published
  const rsaKid = `hostile-rsa-${port}`;
  const ecKid = `hostile-ec-${port}`;
  const publicJwks = {
    keys: [
      { ...(await exportJWK(rsa.publicKey)), kid: rsaKid, alg: "RS256", use: "sig" },
      { ...(await exportJWK(ec.publicKey)), kid: ecKid, alg: "ES256", use: "sig" },
    ],
  };
  const rsaPublicPem = await exportSPKI(rsa.publicKey);

  const codes = new Map(); // code → {params, used}
  const idp = {
    issuer,
    port,
    client,
    user: { ...user },
    plan: {},
    callbackIss: undefined,
    callbackError: undefined,
    discoveryIssuer: undefined,
    authorizeRequests: [],
    tokenRequests: [],
    jwksRequests: 0,
    /** The keys, for tests that sign something themselves. */
    keys: { rsa, ec, stranger, rsaKid, ecKid, rsaPublicPem },
    reset() {
      this.plan = {};
      this.callbackIss = undefined;
      this.callbackError = undefined;
      this.discoveryIssuer = undefined;
    },
    async authorize(url) {
      const res = await fetch(url, { redirect: "manual" });
      if (res.status !== 302) throw new Error(`authorize answered ${res.status}: ${await res.text()}`);
      return res.headers.get("location");
    },
    /** The ID token the plan makes for the authorization request `params`. */
    async mint(params) {
      const base = {
        iss: issuer,
        sub: idp.user.sub ?? "hostile-sub",
        aud: client.client_id,
        exp: now() + 300,
        iat: now(),
        ...(params.nonce !== undefined ? { nonce: params.nonce } : {}),
        ...idp.user,
      };
      let claims;
      if (typeof idp.plan.claims === "function") claims = idp.plan.claims(base);
      else {
        claims = { ...base, ...(idp.plan.claims ?? {}) };
        for (const [k, v] of Object.entries(claims)) if (v === undefined) delete claims[k];
      }
      const alg = idp.plan.alg ?? "RS256";
      const extra = idp.plan.header ?? {};
      switch (alg) {
        case "RS256":
          return new SignJWT(claims).setProtectedHeader({ alg, kid: rsaKid, typ: "JWT", ...extra }).sign(rsa.privateKey);
        case "ES256":
          return new SignJWT(claims).setProtectedHeader({ alg, kid: ecKid, typ: "JWT", ...extra }).sign(ec.privateKey);
        case "RS256-unknown-kid":
          return new SignJWT(claims)
            .setProtectedHeader({ alg: "RS256", kid: `unknown-${randomBytes(4).toString("hex")}`, typ: "JWT", ...extra })
            .sign(stranger.privateKey);
        case "none":
          // Unsecured JWT: header.payload. (empty signature).
          return `${b64url({ alg: "none", typ: "JWT", ...extra })}.${b64url(claims)}.`;
        case "HS256-public-key": {
          // The classic key-confusion attack: HMAC keyed with the RSA public key's PEM bytes,
          // under the RSA key's kid, hoping the verifier uses "the key" with the header's alg.
          const input = `${b64url({ alg: "HS256", kid: rsaKid, typ: "JWT", ...extra })}.${b64url(claims)}`;
          const sig = createHmac("sha256", rsaPublicPem).update(input).digest("base64url");
          return `${input}.${sig}`;
        }
        default:
          throw new Error(`unknown plan.alg ${alg}`);
      }
    },
    async close() {
      server.closeAllConnections?.();
      await new Promise((resolve) => server.close(resolve));
    },
  };

  const json = (res, status, body, headers = {}) => {
    res.writeHead(status, { "content-type": "application/json", "cache-control": "no-store", ...headers });
    res.end(JSON.stringify(body));
  };

  server.on("request", async (req, res) => {
    try {
      const u = new URL(req.url, issuer);
      if (req.method === "GET" && u.pathname === "/.well-known/openid-configuration") {
        return json(res, 200, {
          issuer: idp.discoveryIssuer ?? issuer,
          authorization_endpoint: `${issuer}/authorize`,
          token_endpoint: `${issuer}/token`,
          jwks_uri: `${issuer}/jwks`,
          response_types_supported: ["code"],
          subject_types_supported: ["public"],
          id_token_signing_alg_values_supported: ["RS256", "ES256"],
          scopes_supported: ["openid", "email", "profile", "groups"],
          token_endpoint_auth_methods_supported: ["client_secret_basic", "client_secret_post"],
          code_challenge_methods_supported: ["S256"],
          claims_supported: ["sub", "email", "email_verified", "given_name", "family_name", "name", "groups"],
          authorization_response_iss_parameter_supported: true,
        });
      }
      if (req.method === "GET" && u.pathname === "/jwks") {
        idp.jwksRequests += 1;
        return json(res, 200, publicJwks, { "content-type": "application/jwk-set+json" });
      }
      if (req.method === "GET" && u.pathname === "/authorize") {
        const params = Object.fromEntries(u.searchParams);
        idp.authorizeRequests.push(params);
        if (!params.redirect_uri) return json(res, 400, { error: "invalid_request", error_description: "no redirect_uri" });
        const back = new URL(params.redirect_uri);
        if (idp.callbackError) {
          for (const [k, v] of Object.entries(idp.callbackError)) back.searchParams.set(k, v);
        } else {
          const code = randomBytes(24).toString("base64url");
          codes.set(code, { params, used: false });
          back.searchParams.set("code", code);
        }
        if (params.state !== undefined) back.searchParams.set("state", params.state);
        if (idp.callbackIss !== null) back.searchParams.set("iss", idp.callbackIss ?? issuer);
        res.writeHead(302, { location: back.href });
        return res.end();
      }
      if (req.method === "POST" && u.pathname === "/token") {
        const chunks = [];
        for await (const c of req) chunks.push(c);
        const params = Object.fromEntries(new URLSearchParams(Buffer.concat(chunks).toString()));
        const entry = { auth: null, client_id: null, params, ok: false, error: null };
        idp.tokenRequests.push(entry);
        const refuse = (status, error, description) => {
          entry.error = error;
          return json(res, status, { error, error_description: description });
        };
        // Client authentication: Basic (form-urlencoded id and secret, RFC 6749 §2.3.1) or body.
        let id;
        let secret;
        const basic = /^Basic (.+)$/i.exec(req.headers.authorization ?? "");
        if (basic) {
          const [a, b] = Buffer.from(basic[1], "base64").toString().split(":");
          id = decodeURIComponent(a.replace(/\+/g, " "));
          secret = decodeURIComponent((b ?? "").replace(/\+/g, " "));
          entry.auth = "basic";
        } else if (params.client_secret !== undefined) {
          id = params.client_id;
          secret = params.client_secret;
          entry.auth = "post";
        }
        entry.client_id = id;
        if (id !== client.client_id || secret !== client.client_secret) {
          return refuse(401, "invalid_client", "client authentication failed");
        }
        if (params.grant_type !== "authorization_code") return refuse(400, "unsupported_grant_type", params.grant_type);
        const stored = codes.get(params.code);
        if (!stored || stored.used) return refuse(400, "invalid_grant", "unknown or used code");
        stored.used = true;
        if (stored.params.client_id !== id) return refuse(400, "invalid_grant", "code issued to another client");
        if (stored.params.redirect_uri !== params.redirect_uri) return refuse(400, "invalid_grant", "redirect_uri mismatch");
        if (stored.params.code_challenge_method !== "S256" || !stored.params.code_challenge) {
          return refuse(400, "invalid_grant", "the authorization request had no S256 code_challenge");
        }
        const expected = params.code_verifier
          ? createHash("sha256").update(params.code_verifier).digest("base64url")
          : null;
        if (expected !== stored.params.code_challenge) {
          return refuse(400, "invalid_grant", "code_verifier does not match code_challenge");
        }
        if (idp.plan.tokenError) {
          entry.error = idp.plan.tokenError.body?.error ?? "scripted";
          return json(res, idp.plan.tokenError.status ?? 400, idp.plan.tokenError.body ?? { error: "server_error" });
        }
        const idToken = await idp.mint(stored.params);
        entry.ok = true;
        return json(res, 200, {
          access_token: randomBytes(24).toString("base64url"),
          token_type: "Bearer",
          expires_in: 300,
          scope: stored.params.scope,
          id_token: idToken,
        });
      }
      json(res, 404, { error: "not_found" });
    } catch (err) {
      json(res, 500, { error: "server_error", error_description: String(err?.stack ?? err) });
    }
  });
  return idp;
}
