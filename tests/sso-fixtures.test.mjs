// The SSO tests' own fixtures, checked without the Worker: the real OpenID provider
// (tests/support/idp.mjs) signs a person in through its interactions and issues an ID token
// with the claims the test set, refusing a request without PKCE and a wrong verifier; the
// DNS-over-HTTPS responder answers as Google/Cloudflare do; the hostile provider makes each
// crafted token and enforces PKCE. If these fail, the SSO tests' failures mean nothing.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHash, createHmac, randomBytes } from "node:crypto";
import { decodeJwt, decodeProtectedHeader, createRemoteJWKSet, jwtVerify } from "jose";
import { startIdp, signInAt, CookieJar } from "./support/idp.mjs";
import { startDoh } from "./support/doh.mjs";
import { startHostileIdp } from "./support/hostile-idp.mjs";

const REDIRECT = "http://127.0.0.1:8787/v1/auth/sso/callback";
const client = { client_id: "fixture-client", client_secret: "fixture-secret" };

function pkce() {
  const verifier = randomBytes(32).toString("base64url");
  return { verifier, challenge: createHash("sha256").update(verifier).digest("base64url") };
}

function authorizeUrl(endpoint, params) {
  const u = new URL(endpoint);
  for (const [k, v] of Object.entries(params)) if (v !== undefined) u.searchParams.set(k, v);
  return u.href;
}

async function redeem(tokenEndpoint, code, verifier, { secret = client.client_secret } = {}) {
  const res = await fetch(tokenEndpoint, {
    method: "POST",
    headers: {
      authorization: `Basic ${Buffer.from(`${client.client_id}:${secret}`).toString("base64")}`,
      "content-type": "application/x-www-form-urlencoded",
    },
    body: new URLSearchParams({ grant_type: "authorization_code", code, redirect_uri: REDIRECT, ...(verifier ? { code_verifier: verifier } : {}) }),
  });
  return { status: res.status, body: await res.json() };
}

let idp;
let meta;
before(async () => {
  idp = await startIdp({
    clients: [{ ...client, redirect_uris: [REDIRECT] }],
    accounts: {
      alice: { email: "alice@acme.test", email_verified: true, given_name: "Alice", family_name: "Archer", name: "Alice Archer", groups: ["eng"] },
      bob: { email: "bob@acme.test", email_verified: false, given_name: "Bob", family_name: "Baker" },
    },
  });
  meta = await (await fetch(`${idp.issuer}/.well-known/openid-configuration`)).json();
});
after(async () => { await idp?.close(); });

test("idp: discovery names the loopback issuer, S256 only, and the groups scope", () => {
  assert.match(idp.issuer, /^http:\/\/127\.0\.0\.1:\d+$/);
  assert.equal(meta.issuer, idp.issuer);
  assert.deepEqual(meta.code_challenge_methods_supported, ["S256"]);
  for (const s of ["openid", "email", "profile", "groups"]) assert.ok(meta.scopes_supported.includes(s), s);
  assert.equal(meta.authorization_response_iss_parameter_supported, true);
});

test("idp: signInAt drives login and consent and returns the callback with code, state and iss; the ID token carries the account's claims", async () => {
  const { verifier, challenge } = pkce();
  const url = authorizeUrl(meta.authorization_endpoint, {
    response_type: "code", client_id: client.client_id, redirect_uri: REDIRECT, scope: "openid email profile groups",
    state: "state-1", nonce: "nonce-1", code_challenge: challenge, code_challenge_method: "S256", login_hint: "alice@acme.test",
  });
  const jar = new CookieJar();
  const cb = new URL(await signInAt(idp, url, "alice", jar));
  assert.equal(`${cb.origin}${cb.pathname}`, REDIRECT);
  assert.equal(cb.searchParams.get("state"), "state-1");
  assert.equal(cb.searchParams.get("iss"), idp.issuer);
  const code = cb.searchParams.get("code");
  assert.ok(code);
  assert.ok(jar.header(`${idp.issuer}/auth`).includes("_session="), "the provider's session cookie is kept");

  const t = await redeem(meta.token_endpoint, code, verifier);
  assert.equal(t.status, 200, JSON.stringify(t.body));
  const { payload, protectedHeader } = await jwtVerify(t.body.id_token, createRemoteJWKSet(new URL(meta.jwks_uri)), {
    issuer: idp.issuer, audience: client.client_id,
  });
  assert.equal(protectedHeader.alg, "RS256");
  assert.equal(payload.sub, "alice");
  assert.equal(payload.nonce, "nonce-1");
  assert.equal(payload.email, "alice@acme.test");
  assert.equal(payload.email_verified, true);
  assert.equal(payload.given_name, "Alice");
  assert.equal(payload.family_name, "Archer");
  assert.deepEqual(payload.groups, ["eng"]);

  // A code works once.
  const again = await redeem(meta.token_endpoint, code, verifier);
  assert.equal(again.status, 400);
  assert.equal(again.body.error, "invalid_grant");

  // The account changes between sign-ins; the same jar signs in again (session reused).
  idp.accounts.get("alice").groups = ["admins", "eng"];
  const p2 = pkce();
  const cb2 = new URL(await signInAt(idp, authorizeUrl(meta.authorization_endpoint, {
    response_type: "code", client_id: client.client_id, redirect_uri: REDIRECT, scope: "openid email profile groups",
    state: "state-2", nonce: "nonce-2", code_challenge: p2.challenge, code_challenge_method: "S256",
  }), "alice", jar));
  const t2 = await redeem(meta.token_endpoint, cb2.searchParams.get("code"), p2.verifier);
  assert.equal(t2.status, 200, JSON.stringify(t2.body));
  assert.deepEqual(decodeJwt(t2.body.id_token).groups, ["admins", "eng"]);
  assert.equal(decodeJwt(t2.body.id_token).nonce, "nonce-2");

  // Another person with the same jar: the provider asks for a login again (not alice's session).
  const p3 = pkce();
  const cb3 = new URL(await signInAt(idp, authorizeUrl(meta.authorization_endpoint, {
    response_type: "code", client_id: client.client_id, redirect_uri: REDIRECT, scope: "openid email profile",
    state: "state-3", nonce: "nonce-3", code_challenge: p3.challenge, code_challenge_method: "S256",
  }), "bob", jar));
  const t3 = await redeem(meta.token_endpoint, cb3.searchParams.get("code"), p3.verifier);
  const bob = decodeJwt(t3.body.id_token);
  assert.equal(bob.sub, "bob");
  assert.equal(bob.email_verified, false);
  assert.equal(bob.groups, undefined, "no groups scope, no groups claim");
});

test("idp: PKCE is required, and a wrong verifier is refused with invalid_grant", async () => {
  const noPkce = new URL(await signInAt(idp, authorizeUrl(meta.authorization_endpoint, {
    response_type: "code", client_id: client.client_id, redirect_uri: REDIRECT, scope: "openid", state: "s", nonce: "n",
  }), "alice"));
  assert.equal(noPkce.searchParams.get("error"), "invalid_request");
  assert.match(noPkce.searchParams.get("error_description"), /PKCE/);

  const { challenge } = pkce();
  const cb = new URL(await signInAt(idp, authorizeUrl(meta.authorization_endpoint, {
    response_type: "code", client_id: client.client_id, redirect_uri: REDIRECT, scope: "openid email", state: "s", nonce: "n",
    code_challenge: challenge, code_challenge_method: "S256",
  }), "alice"));
  const t = await redeem(meta.token_endpoint, cb.searchParams.get("code"), pkce().verifier);
  assert.equal(t.status, 400);
  assert.equal(t.body.error, "invalid_grant");
});

test("idp: an unregistered redirect_uri is not redirected to (the driver reports the provider's page)", async () => {
  const { challenge } = pkce();
  await assert.rejects(
    signInAt(idp, authorizeUrl(meta.authorization_endpoint, {
      response_type: "code", client_id: client.client_id, redirect_uri: "http://127.0.0.1:9/elsewhere", scope: "openid",
      state: "s", nonce: "n", code_challenge: challenge, code_challenge_method: "S256",
    }), "alice"),
    /redirect_uri/,
  );
});

test("doh: TXT answers in dns-json, concatenable strings, NXDOMAIN, removal and simulated failure", async () => {
  const doh = await startDoh();
  try {
    doh.set("_ums-verification.acme.test", "ums-verification=abc", ["part-1", "part-2"]);
    const ask = (name) => fetch(`${doh.url}?name=${encodeURIComponent(name)}&type=TXT`, { headers: { accept: "application/dns-json" } });
    let r = await ask("_ums-verification.ACME.test.");
    assert.equal(r.status, 200);
    assert.equal(r.headers.get("content-type"), "application/dns-json");
    const body = await r.json();
    assert.equal(body.Status, 0);
    assert.deepEqual(body.Answer.map((a) => [a.type, a.TTL, a.data]), [
      [16, 60, '"ums-verification=abc"'],
      [16, 60, '"part-1" "part-2"'],
    ]);
    r = await ask("_ums-verification.other.test");
    assert.equal((await r.json()).Status, 3);
    doh.remove("_ums-verification.acme.test");
    assert.equal((await (await ask("_ums-verification.acme.test")).json()).Status, 3);
    doh.fail();
    assert.equal((await ask("_ums-verification.acme.test")).status, 500);
    doh.fail(false);
    assert.equal((await ask("_ums-verification.acme.test")).status, 200);
    assert.equal(doh.requests.length, 5);
    assert.equal(doh.requests[0].accept, "application/dns-json");
    assert.equal(doh.requests[0].type, "TXT");
  } finally {
    await doh.close();
  }
});

test("hostile idp: PKCE and client checks, then every crafted token has the shape its case needs", async () => {
  const h = await startHostileIdp({ client, user: { sub: "h-1", email: "h@acme.test", email_verified: true } });
  try {
    const disc = await (await fetch(`${h.issuer}/.well-known/openid-configuration`)).json();
    assert.equal(disc.issuer, h.issuer);
    const jwks = createRemoteJWKSet(new URL(disc.jwks_uri));

    const flow = async () => {
      const p = pkce();
      const cb = new URL(await h.authorize(authorizeUrl(disc.authorization_endpoint, {
        response_type: "code", client_id: client.client_id, redirect_uri: REDIRECT, scope: "openid email",
        state: "st", nonce: "nonce-h", code_challenge: p.challenge, code_challenge_method: "S256",
      })));
      return { cb, code: cb.searchParams.get("code"), verifier: p.verifier };
    };

    let f = await flow();
    assert.equal(f.cb.searchParams.get("state"), "st");
    assert.equal(f.cb.searchParams.get("iss"), h.issuer);
    // Wrong verifier → invalid_grant; the code is spent either way.
    let t = await redeem(disc.token_endpoint, f.code, pkce().verifier);
    assert.equal(t.status, 400);
    assert.equal(t.body.error, "invalid_grant");
    // Wrong secret → invalid_client.
    f = await flow();
    t = await redeem(disc.token_endpoint, f.code, f.verifier, { secret: "nope" });
    assert.equal(t.status, 401);
    assert.equal(t.body.error, "invalid_client");
    // Without a challenge at authorize, no token.
    const noChallenge = new URL(await h.authorize(authorizeUrl(disc.authorization_endpoint, {
      client_id: client.client_id, redirect_uri: REDIRECT, state: "x", nonce: "y",
    })));
    t = await redeem(disc.token_endpoint, noChallenge.searchParams.get("code"), f.verifier);
    assert.equal(t.body.error, "invalid_grant");

    // RS256 valid.
    f = await flow();
    t = await redeem(disc.token_endpoint, f.code, f.verifier);
    assert.equal(t.status, 200, JSON.stringify(t.body));
    let v = await jwtVerify(t.body.id_token, jwks, { issuer: h.issuer, audience: client.client_id });
    assert.equal(v.protectedHeader.alg, "RS256");
    assert.equal(v.payload.nonce, "nonce-h");
    assert.equal(v.payload.email, "h@acme.test");
    assert.equal(h.tokenRequests.at(-1).auth, "basic");

    // ES256 valid.
    h.plan = { alg: "ES256" };
    f = await flow();
    t = await redeem(disc.token_endpoint, f.code, f.verifier);
    v = await jwtVerify(t.body.id_token, jwks, { issuer: h.issuer, audience: client.client_id });
    assert.equal(v.protectedHeader.alg, "ES256");

    // Claim overrides and removal.
    h.plan = { claims: { email_verified: undefined, aud: [client.client_id, "other"], azp: "other" } };
    f = await flow();
    t = await redeem(disc.token_endpoint, f.code, f.verifier);
    const c = decodeJwt(t.body.id_token);
    assert.ok(!("email_verified" in c));
    assert.deepEqual(c.aud, [client.client_id, "other"]);
    assert.equal(c.azp, "other");

    // alg none: empty signature.
    h.plan = { alg: "none" };
    f = await flow();
    t = await redeem(disc.token_endpoint, f.code, f.verifier);
    assert.equal(decodeProtectedHeader(t.body.id_token).alg, "none");
    assert.ok(t.body.id_token.endsWith("."));

    // HS256 keyed with the RSA public key's PEM: a valid HMAC under the RSA kid.
    h.plan = { alg: "HS256-public-key" };
    f = await flow();
    t = await redeem(disc.token_endpoint, f.code, f.verifier);
    const [hd, pl, sig] = t.body.id_token.split(".");
    assert.deepEqual(decodeProtectedHeader(t.body.id_token), { alg: "HS256", kid: h.keys.rsaKid, typ: "JWT" });
    assert.equal(createHmac("sha256", h.keys.rsaPublicPem).update(`${hd}.${pl}`).digest("base64url"), sig);

    // Unknown kid: a correct RS256 signature by a key the JWKS never publishes.
    h.plan = { alg: "RS256-unknown-kid" };
    f = await flow();
    t = await redeem(disc.token_endpoint, f.code, f.verifier);
    await assert.rejects(jwtVerify(t.body.id_token, jwks), /no applicable key|JWKSNoMatchingKey/i);

    // Callback iss: omitted or wrong; and a provider error instead of a code.
    h.callbackIss = null;
    f = await flow();
    assert.equal(f.cb.searchParams.get("iss"), null);
    h.callbackIss = "https://evil.example";
    f = await flow();
    assert.equal(f.cb.searchParams.get("iss"), "https://evil.example");
    h.callbackError = { error: "access_denied", error_description: "no" };
    f = await flow();
    assert.equal(f.cb.searchParams.get("error"), "access_denied");
    assert.equal(f.code, null);
    h.reset();
    h.discoveryIssuer = "https://someone-else.example";
    assert.equal((await (await fetch(`${h.issuer}/.well-known/openid-configuration`)).json()).issuer, "https://someone-else.example");
  } finally {
    await h.close();
  }
});
