// An OpenID provider and a DNS-over-HTTPS resolver answered inside the test process, as the
// Worker's outbound fetches (Miniflare's `outboundService`): for tests that need SSO to work
// (the query-plan workload, the benchmark) without a provider of their own. The real provider
// (panva's oidc-provider) and the hostile cases are in tests/sso*.test.mjs.
import * as jose from "jose";

export const ISSUER = "https://idp.example.test";
export const CLIENT_ID = "ums-client";
export const CLIENT_SECRET = "ums-client-secret";

/**
 * `{ outbound, txt, signIn, grant }`: `outbound` answers the Worker's fetches; `txt` maps DNS
 * names to their TXT strings; `signIn(worker, startPath, claims)` plays the browser and the
 * provider through start → provider → callback and returns the callback's `Location`;
 * `grant(code, …)` issues a code by hand (the benchmark times the callback alone).
 */
export async function outboundIdp() {
  const { publicKey, privateKey } = await jose.generateKeyPair("RS256", { extractable: true });
  const jwk = { ...(await jose.exportJWK(publicKey)), kid: "k1", alg: "RS256", use: "sig" };
  const codes = new Map();
  const txt = new Map();
  const outbound = async (req) => {
    const u = new URL(req.url);
    if (u.pathname === "/dns-query") {
      const found = txt.get(u.searchParams.get("name")) ?? [];
      return Response.json({ Status: found.length ? 0 : 3, Answer: found.map((t) => ({ name: u.searchParams.get("name"), type: 16, TTL: 60, data: `"${t}"` })) });
    }
    if (u.origin !== ISSUER) return new Response("unknown host", { status: 502 });
    if (u.pathname === "/.well-known/openid-configuration") {
      return Response.json({
        issuer: ISSUER, authorization_endpoint: `${ISSUER}/authorize`, token_endpoint: `${ISSUER}/token`,
        jwks_uri: `${ISSUER}/jwks`, code_challenge_methods_supported: ["S256"],
        authorization_response_iss_parameter_supported: true, id_token_signing_alg_values_supported: ["RS256"],
      });
    }
    if (u.pathname === "/jwks") return Response.json({ keys: [jwk] });
    if (u.pathname === "/token") {
      const form = new URLSearchParams(await req.text());
      const grant = codes.get(form.get("code"));
      codes.delete(form.get("code"));
      const digest = Buffer.from(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(form.get("code_verifier") ?? ""))).toString("base64url");
      const basic = "Basic " + Buffer.from(`${CLIENT_ID}:${CLIENT_SECRET}`).toString("base64");
      if (!grant || digest !== grant.challenge || req.headers.get("authorization") !== basic) {
        return Response.json({ error: "invalid_grant" }, { status: 400 });
      }
      const now = Math.floor(Date.now() / 1000);
      const id_token = await new jose.SignJWT({ nonce: grant.nonce, ...grant.claims })
        .setProtectedHeader({ alg: "RS256", kid: "k1" })
        .setIssuer(ISSUER).setAudience(CLIENT_ID).setIssuedAt(now).setExpirationTime(now + 300)
        .sign(privateKey);
      return Response.json({ access_token: "opaque", token_type: "Bearer", expires_in: 300, id_token });
    }
    return new Response("not found", { status: 404 });
  };
  const signIn = async (worker, startPath, claims) => {
    const go = (path, headers = {}) => worker.request("GET", path, { headers, manual: true });
    const start = await go(startPath);
    const to = new URL(start.headers.get("location"));
    if (to.origin !== ISSUER) return to.href;
    const cookie = start.headers.get("set-cookie").split(";")[0];
    const code = `code-${Math.random().toString(36).slice(2)}`;
    codes.set(code, { challenge: to.searchParams.get("code_challenge"), nonce: to.searchParams.get("nonce"), claims });
    const back = await go(`/v1/auth/sso/callback?code=${code}&state=${to.searchParams.get("state")}&iss=${encodeURIComponent(ISSUER)}`, { cookie });
    return back.headers.get("location");
  };
  /** Lets the provider redeem `code` (as if it had sent it): `{challenge, nonce, claims}`. */
  const grant = (code, g) => codes.set(code, g);
  return { outbound, txt, signIn, grant };
}
