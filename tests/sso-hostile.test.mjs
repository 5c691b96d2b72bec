// Hostile SSO sign-ins (issue 20), each refused at the callback with the contract's error code
// and NOTHING created (users, org_members, sso_identities, sessions counted before and after):
// - with the real provider (oidc-provider): unverified or missing email_verified, an email
//   outside the org's verified domains or in another org's, a mismatched / replayed / forged
//   state, no or another flow's cookie, a wrong PKCE verifier (the provider refuses the code),
//   an iss mismatch on the callback, a provider error;
// - with a scripted provider (tests/support/hostile-idp.mjs) that signs what the case needs:
//   a wrong iss, aud or azp, an expired / not-yet-valid / future-issued token, a wrong nonce,
//   alg none, HS256 keyed with the RSA public key, an unknown kid, a token endpoint refusal;
//   and valid RS256 / ES256 tokens (accepted), a missing callback iss (RFC 9207);
// - a full org (capacity_exceeded).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startWorker } from "./helpers.mjs";
import { startDoh } from "./support/doh.mjs";
import { startIdp, signInAt } from "./support/idp.mjs";
import { startHostileIdp } from "./support/hostile-idp.mjs";
import {
  APP_URL, CALLBACK, freshDomain, verifiedDomain, createConnection, activate, counts,
  start, callback, exchange, assertCallbackCode, assertCallbackError,
} from "./support/sso.mjs";

const REAL = { client_id: "ums-hostile-real", client_secret: `real-${Math.random().toString(36).slice(2)}` };
const HOSTILE = { client_id: "ums-hostile-scripted", client_secret: `scripted-${Math.random().toString(36).slice(2)}` };
const now = () => Math.floor(Date.now() / 1000);

let w;
let doh;
let idp;
let h;
let real; // {owner, orgId, domain, conn}
let scripted; // {owner, orgId, domain, conn}
let other; // another org with its own verified domain

async function orgWithConnection(provider, client, tester) {
  const domain = freshDomain("hostile");
  const owner = await w.activeUser({ email: `owner@${domain}` });
  const orgId = owner.organization.id;
  await verifiedDomain(w, doh, owner.access_token, orgId, domain);
  const conn = await createConnection(w, owner.access_token, orgId, {
    issuer: provider.issuer, ...client, default_role: "viewer", jit: true,
  });
  const sub = tester(domain);
  const active = await activate(w, provider, owner.access_token, orgId, conn.id, sub);
  return { owner, orgId, domain, conn: active };
}

before(async () => {
  doh = await startDoh();
  [w, idp, h] = await Promise.all([
    startWorker({ vars: { DNS_RESOLVER_URL: doh.url } }),
    startIdp({ clients: [{ ...REAL, redirect_uris: [CALLBACK] }] }),
    startHostileIdp({ client: HOSTILE }),
  ]);
  real = await orgWithConnection(idp, REAL, (domain) => {
    idp.accounts.set("real-tester", { email: `tester@${domain}`, email_verified: true, given_name: "T", family_name: "T" });
    return "real-tester";
  });
  scripted = await orgWithConnection(h, HOSTILE, (domain) => {
    h.user = { sub: "scripted-tester", email: `tester@${domain}`, email_verified: true, given_name: "T", family_name: "T" };
    return "scripted-tester";
  });
  const od = freshDomain("other");
  const otherOwner = await w.activeUser({ email: `owner@${od}` });
  await verifiedDomain(w, doh, otherOwner.access_token, otherOwner.organization.id, od);
  other = { owner: otherOwner, domain: od };
});
after(async () => { await w?.dispose(); await idp?.close(); await h?.close(); await doh?.close(); });

let n = 0;
const fresh = (prefix) => { n += 1; return `${prefix}-${process.pid}-${n}`; };
const startUrl = (org) => `${APP_URL}/v1/auth/sso/start?connection=${org.conn.id}`;

/** Runs `fn`, then asserts the counts did not move. */
async function nothingCreated(fn) {
  const before = await counts(w);
  const out = await fn();
  assert.deepEqual(await counts(w), before, "nothing created");
  return out;
}

/** A real-provider sign-in of a person with `claims`; returns the callback result. */
async function realSignIn(claims) {
  const sub = fresh("real");
  idp.accounts.set(sub, { given_name: "Eve", family_name: "Hostile", ...claims });
  const s = await start(w, startUrl(real));
  const back = await signInAt(idp, s.location.href, sub);
  return { sub, s, back, cb: await callback(w, back, s.flow) };
}

/** A scripted-provider sign-in with the token `plan`; returns the callback result. */
async function scriptedSignIn(plan = {}, { userClaims } = {}) {
  const sub = fresh("scripted");
  h.reset();
  h.user = { sub, email: `${sub}@${scripted.domain}`, email_verified: true, given_name: "Mal", family_name: "Lory", ...userClaims };
  h.plan = plan;
  const tokenCalls = h.tokenRequests.length;
  const s = await start(w, startUrl(scripted));
  const back = await h.authorize(s.location.href);
  const cb = await callback(w, back, s.flow);
  return { sub, s, back, cb, tokenRequests: h.tokenRequests.slice(tokenCalls) };
}

// ---------------------------------------------------------------------------------------
// Claims (real provider)

test("email_verified false or missing → sso_email_unverified, nothing created", async () => {
  // (The string "true", which some providers send, is accepted by design: not a case here.)
  for (const claims of [{ email_verified: false }, {}, { email_verified: "false" }, { email_verified: null }]) {
    await nothingCreated(async () => {
      const { cb } = await realSignIn({ email: `${fresh("unverified")}@${real.domain}`, ...claims });
      assertCallbackError(cb, "sso_email_unverified");
    });
  }
});

test("an email outside the org's verified domains, in another org's domain or a pending one → sso_domain_not_verified", async () => {
  const pending = freshDomain("pending");
  const p = await w.post(`/v1/orgs/${real.orgId}/domains`, { domain: pending }, { token: real.owner.access_token });
  assert.equal(p.status, 201);
  for (const email of [`eve@${freshDomain("foreign")}`, `eve@${other.domain}`, `eve@${pending}`, `eve@sub.${real.domain}`, "eve@gmail.com"]) {
    await nothingCreated(async () => {
      const { cb } = await realSignIn({ email, email_verified: true });
      assertCallbackError(cb, "sso_domain_not_verified");
    });
  }
  // No email at all.
  await nothingCreated(async () => {
    const { cb } = await realSignIn({ email_verified: true });
    assert.ok(["sso_domain_not_verified", "sso_token_invalid", "sso_email_unverified"].includes(cb.error), cb.location.href);
  });
});

// ---------------------------------------------------------------------------------------
// State, flow cookie, PKCE, callback iss (real provider)

test("state: mismatched, forged, replayed; no or another flow's cookie → sso_state_invalid, nothing created", async () => {
  const email = `victim-${n}@${real.domain}`;
  const sub = fresh("victim");
  idp.accounts.set(sub, { email, email_verified: true, given_name: "V", family_name: "V" });
  const a = await start(w, startUrl(real));
  const b = await start(w, startUrl(real));
  const backA = await signInAt(idp, a.location.href, sub);

  await nothingCreated(async () => {
    // A's callback with B's cookie (state and cookie do not belong together).
    assertCallbackError(await callback(w, backA, b.flow), "sso_state_invalid");
    // No cookie; a made-up cookie; an empty one.
    assertCallbackError(await callback(w, backA, undefined), "sso_state_invalid");
    assertCallbackError(await callback(w, backA, "A".repeat(43)), "sso_state_invalid");
    assertCallbackError(await callback(w, backA, undefined, { cookie: "__Host-sso-flow=" }), "sso_state_invalid");
    // A forged state with A's cookie; no state at all.
    const forged = new URL(backA);
    forged.searchParams.set("state", "B".repeat(43));
    assertCallbackError(await callback(w, forged.href, a.flow), "sso_state_invalid");
    const none = new URL(backA);
    none.searchParams.delete("state");
    assertCallbackError(await callback(w, none.href, a.flow), "sso_state_invalid");
  });

  // Replay: a flow that succeeded once cannot be used again (same URL, same cookie).
  const c = await start(w, startUrl(real));
  const backC = await signInAt(idp, c.location.href, sub);
  const ok = await callback(w, backC, c.flow);
  const code = assertCallbackCode(ok);
  assert.equal((await exchange(w, code)).status, 200);
  await nothingCreated(async () => {
    assertCallbackError(await callback(w, backC, c.flow), "sso_state_invalid");
  });
});

test("an expired flow (past its 10 minutes) → sso_state_invalid", async () => {
  const sub = fresh("late");
  idp.accounts.set(sub, { email: `${sub}@${real.domain}`, email_verified: true, given_name: "L", family_name: "L" });
  const s = await start(w, startUrl(real));
  const back = await signInAt(idp, s.location.href, sub);
  const state = new URL(back).searchParams.get("state");
  // Age the flow's row in D1 (sso_flows, keyed by the state's SHA-256), found generically:
  // any sso_* table with expires_at and a row keyed by the state or its hash.
  const { createHash } = await import("node:crypto");
  const keys = [state, createHash("sha256").update(state).digest("hex"), createHash("sha256").update(state).digest("base64url")];
  const tables = (await w.rows("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'sso%'")).map((t) => t.name);
  let aged = 0;
  for (const t of tables) {
    const cols = (await w.rows(`PRAGMA table_info(${t})`)).map((c) => c.name);
    if (!cols.includes("expires_at")) continue;
    for (const col of cols.filter((c) => /state|hash/.test(c))) {
      for (const k of keys) {
        aged += (await w.db.prepare(`UPDATE ${t} SET expires_at = ? WHERE ${col} = ?`).bind(Date.now() - 1000, k).run()).meta.changes;
      }
    }
  }
  assert.equal(aged, 1, `the flow's row found by its state (tables ${tables})`);
  await nothingCreated(async () => {
    assertCallbackError(await callback(w, back, s.flow), "sso_state_invalid");
  });
});

test("a wrong PKCE verifier: A's code delivered with B's state and cookie → the provider refuses the code (sso_provider_error)", async () => {
  const sub = fresh("pkce");
  idp.accounts.set(sub, { email: `${sub}@${real.domain}`, email_verified: true, given_name: "P", family_name: "K" });
  const a = await start(w, startUrl(real));
  const b = await start(w, startUrl(real));
  assert.notEqual(a.location.searchParams.get("code_challenge"), b.location.searchParams.get("code_challenge"));
  const backA = new URL(await signInAt(idp, a.location.href, sub));
  const spliced = new URL(backA);
  spliced.searchParams.set("state", b.location.searchParams.get("state"));
  await nothingCreated(async () => {
    assertCallbackError(await callback(w, spliced.href, b.flow), "sso_provider_error");
  });
  // The same splice against the scripted provider shows the Worker sent B's verifier, which
  // does not match A's challenge (the provider logs the refusal).
  h.reset();
  h.user = { sub: fresh("pkce-s"), email: `pkce@${scripted.domain}`, email_verified: true };
  const sa = await start(w, startUrl(scripted));
  const sb = await start(w, startUrl(scripted));
  const backSA = new URL(await h.authorize(sa.location.href));
  backSA.searchParams.set("state", sb.location.searchParams.get("state"));
  const calls = h.tokenRequests.length;
  await nothingCreated(async () => {
    assertCallbackError(await callback(w, backSA.href, sb.flow), "sso_provider_error");
  });
  const tr = h.tokenRequests.slice(calls);
  assert.equal(tr.length, 1, "one code exchange attempted");
  assert.equal(tr[0].error, "invalid_grant");
});

test("callback iss: another issuer, or none from a provider that announces it (RFC 9207) → sso_issuer_mismatch", async () => {
  // Real provider, the iss parameter altered in transit.
  const sub = fresh("iss");
  idp.accounts.set(sub, { email: `${sub}@${real.domain}`, email_verified: true, given_name: "I", family_name: "S" });
  const s = await start(w, startUrl(real));
  const back = new URL(await signInAt(idp, s.location.href, sub));
  back.searchParams.set("iss", "https://evil.example");
  await nothingCreated(async () => {
    assertCallbackError(await callback(w, back.href, s.flow), "sso_issuer_mismatch");
  });
  // Scripted provider: a mix-up attacker's issuer.
  h.reset();
  h.callbackIss = "http://127.0.0.1:1";
  const calls = h.tokenRequests.length;
  await nothingCreated(async () => {
    h.user = { sub: fresh("iss-s"), email: `iss@${scripted.domain}`, email_verified: true };
    const s2 = await start(w, startUrl(scripted));
    const b2 = await h.authorize(s2.location.href);
    assertCallbackError(await callback(w, b2, s2.flow), "sso_issuer_mismatch");
  });
  assert.equal(h.tokenRequests.length, calls, "the code is not even redeemed");
  // No iss although the provider's metadata says authorization_response_iss_parameter_supported.
  // (Not spelled out in the contract; RFC 9207 §2.4 says the client MUST reject it.)
  h.callbackIss = null;
  await nothingCreated(async () => {
    h.user = { sub: fresh("iss-none"), email: `issnone@${scripted.domain}`, email_verified: true };
    const s3 = await start(w, startUrl(scripted));
    const b3 = await h.authorize(s3.location.href);
    assertCallbackError(await callback(w, b3, s3.flow), "sso_issuer_mismatch");
  });
  h.reset();
});

test("the provider sending an error (access_denied) → sso_provider_error", async () => {
  h.reset();
  h.callbackError = { error: "access_denied", error_description: "The user said no" };
  await nothingCreated(async () => {
    const s = await start(w, startUrl(scripted));
    const back = await h.authorize(s.location.href);
    assert.equal(new URL(back).searchParams.get("code"), null);
    assertCallbackError(await callback(w, back, s.flow), "sso_provider_error");
  });
  h.reset();
});

// ---------------------------------------------------------------------------------------
// ID token verification (scripted provider)

test("valid RS256 and ES256 tokens are accepted (the scripted provider checked PKCE S256 and the client)", async () => {
  for (const alg of ["RS256", "ES256"]) {
    const before = await counts(w);
    const run = await scriptedSignIn({ alg });
    const code = assertCallbackCode(run.cb);
    assert.equal(run.tokenRequests.length, 1);
    const tr = run.tokenRequests[0];
    assert.equal(tr.ok, true, JSON.stringify(tr));
    assert.equal(tr.client_id, HOSTILE.client_id);
    assert.equal(tr.params.redirect_uri, CALLBACK);
    assert.equal(tr.params.grant_type, "authorization_code");
    const x = await exchange(w, code);
    assert.equal(x.status, 200, JSON.stringify(x.body));
    assert.equal(x.body.user.email, `${run.sub}@${scripted.domain}`);
    const after = await counts(w);
    assert.equal(after.users, before.users + 1);
    assert.equal(after.sso_identities, before.sso_identities + 1);
    assert.equal(after.sessions, before.sessions + 1);
  }
  // Several audiences with azp = our client: valid.
  const multi = await scriptedSignIn({ claims: { aud: [HOSTILE.client_id, "another-rp"], azp: HOSTILE.client_id } });
  assertCallbackCode(multi.cb);
  // Within the 60 s skew: valid.
  const skew = await scriptedSignIn({ claims: { exp: now() - 20, iat: now() - 300, nbf: now() + 20 } });
  assertCallbackCode(skew.cb);
});

const tokenCases = [
  ["a wrong iss", { claims: { iss: "https://evil.example" } }],
  ["an iss with a trailing slash", { claims: { iss: "__ISSUER__/" } }],
  ["a wrong aud", { claims: { aud: "another-rp" } }],
  ["aud missing", { claims: { aud: undefined } }],
  ["several aud without azp", { claims: { aud: [HOSTILE.client_id, "another-rp"] } }],
  ["a wrong azp", { claims: { azp: "another-rp" } }],
  ["several aud with another's azp", { claims: { aud: [HOSTILE.client_id, "another-rp"], azp: "another-rp" } }],
  ["an expired token", { claims: { exp: now() - 3600, iat: now() - 7200 } }],
  ["exp beyond the skew", { claims: { exp: now() - 120 } }],
  ["nbf in the future", { claims: { nbf: now() + 3600 } }],
  ["iat in the future", { claims: { iat: now() + 3600, exp: now() + 7200 } }],
  ["exp missing", { claims: { exp: undefined } }],
  ["a wrong nonce", { claims: { nonce: "not-the-nonce-we-sent" } }],
  ["no nonce", { claims: { nonce: undefined } }],
  ["alg none", { alg: "none" }],
  ["HS256 keyed with the RSA public key", { alg: "HS256-public-key" }],
  ["an unknown kid", { alg: "RS256-unknown-kid" }],
  ["an RS256 signature under the EC key's kid", { header: { kid: "__ECKID__" } }],
  ["a tampered payload", { tamper: true }],
];

for (const [name, plan] of tokenCases) {
  test(`ID token with ${name} → sso_token_invalid, nothing created`, async () => {
    const p = JSON.parse(JSON.stringify(plan, (k, v) => (v === undefined ? "__UNDEFINED__" : v)));
    const fix = (o) => {
      for (const [k, v] of Object.entries(o ?? {})) {
        if (v === "__UNDEFINED__") o[k] = undefined;
        else if (v === "__ISSUER__/") o[k] = `${h.issuer}/`;
        else if (v === "__ECKID__") o[k] = h.keys.ecKid;
      }
      return o;
    };
    fix(p.claims);
    fix(p.header);
    if (p.tamper) {
      // A validly signed token whose payload is then swapped for another person's.
      delete p.tamper;
      const mint = h.mint.bind(h);
      h.mint = async (params) => {
        const jwt = await mint(params);
        const [hd, pl, sig] = jwt.split(".");
        const claims = JSON.parse(Buffer.from(pl, "base64url").toString());
        claims.email = `ceo@${scripted.domain}`;
        claims.sub = "someone-else";
        return `${hd}.${Buffer.from(JSON.stringify(claims)).toString("base64url")}.${sig}`;
      };
      try {
        await nothingCreated(async () => {
          const run = await scriptedSignIn({});
          assert.equal(run.tokenRequests.at(-1)?.ok, true, "the provider issued it; the Worker must refuse it");
          assertCallbackError(run.cb, "sso_token_invalid");
        });
      } finally {
        h.mint = mint;
      }
      return;
    }
    await nothingCreated(async () => {
      const run = await scriptedSignIn(p);
      assert.equal(run.tokenRequests.at(-1)?.ok, true, "the provider issued it; the Worker must refuse it");
      assertCallbackError(run.cb, "sso_token_invalid");
    });
  });
}

test("an unknown kid re-fetches the JWKS at most once a minute", async () => {
  const before = h.jwksRequests;
  for (let i = 0; i < 3; i++) {
    const run = await scriptedSignIn({ alg: "RS256-unknown-kid" });
    assertCallbackError(run.cb, "sso_token_invalid");
  }
  assert.ok(h.jwksRequests - before <= 1, `JWKS fetched ${h.jwksRequests - before} times for 3 unknown kids`);
});

test("the token endpoint refusing the code → sso_provider_error", async () => {
  await nothingCreated(async () => {
    const run = await scriptedSignIn({ tokenError: { status: 400, body: { error: "invalid_grant", error_description: "no" } } });
    assertCallbackError(run.cb, "sso_provider_error");
  });
  await nothingCreated(async () => {
    const run = await scriptedSignIn({ tokenError: { status: 500, body: { error: "server_error" } } });
    assertCallbackError(run.cb, "sso_provider_error");
  });
});

test("email_verified false / missing and a foreign domain in a validly signed token → refused", async () => {
  await nothingCreated(async () => {
    const r1 = await scriptedSignIn({}, { userClaims: { email_verified: false } });
    assertCallbackError(r1.cb, "sso_email_unverified");
    const r2 = await scriptedSignIn({ claims: { email_verified: undefined } });
    assertCallbackError(r2.cb, "sso_email_unverified");
    const r3 = await scriptedSignIn({}, { userClaims: { email: `ceo@${other.domain}` } });
    assertCallbackError(r3.cb, "sso_domain_not_verified");
  });
});

// ---------------------------------------------------------------------------------------
// Seats

test("provisioning into a full org → capacity_exceeded, nothing created; a member still signs in", async () => {
  const members = (await w.one("SELECT COUNT(*) AS n FROM org_members WHERE org_id = ?", scripted.orgId)).n;
  const limit = (await w.one("SELECT member_limit FROM orgs WHERE id = ?", scripted.orgId)).member_limit;
  await w.db.prepare("UPDATE orgs SET member_limit = ? WHERE id = ?").bind(members, scripted.orgId).run();
  try {
    await nothingCreated(async () => {
      const run = await scriptedSignIn({});
      assertCallbackError(run.cb, "capacity_exceeded");
    });
    // An existing member (provisioned earlier) is not a new seat.
    const someone = await w.one(
      "SELECT i.subject AS sub, u.email FROM sso_identities i JOIN users u ON u.id = i.user_id JOIN org_members m ON m.user_id = u.id AND m.org_id = ? LIMIT 1",
      scripted.orgId);
    assert.ok(someone, "a provisioned member exists (earlier tests)");
    h.reset();
    h.user = { sub: someone.sub, email: someone.email, email_verified: true, given_name: "Back", family_name: "Again" };
    const s = await start(w, startUrl(scripted));
    const cb = await callback(w, await h.authorize(s.location.href), s.flow);
    assertCallbackCode(cb);
  } finally {
    await w.db.prepare("UPDATE orgs SET member_limit = ? WHERE id = ?").bind(limit, scripted.orgId).run();
  }
});

// ---------------------------------------------------------------------------------------
// Key rotation (last: it waits for the JWKS re-fetch limit of one minute)

test("key rotation: a token under a new kid is refused while the key set is under a minute old, accepted after one re-fetch", async () => {
  // Make sure the Worker holds the current key set (a valid sign-in).
  assertCallbackCode((await scriptedSignIn({})).cb);
  const newKid = await h.rotate();
  const lastFetch = () => h.jwksFetchedAt.at(-1) ?? 0;
  const fetches = h.jwksRequests;
  if (Date.now() - lastFetch() < 55_000) {
    await nothingCreated(async () => {
      const early = await scriptedSignIn({});
      assertCallbackError(early.cb, "sso_token_invalid");
    });
    assert.equal(h.jwksRequests, fetches, "no re-fetch within the minute");
  }
  const wait = lastFetch() + 61_000 - Date.now();
  if (wait > 0) await new Promise((res) => setTimeout(res, wait));
  const before = await counts(w);
  const run = await scriptedSignIn({});
  assertCallbackCode(run.cb);
  assert.equal(h.jwksRequests, fetches + 1, "exactly one re-fetch");
  assert.equal((await counts(w)).users, before.users + 1);
  assert.equal(h.keys.rsaKid, newKid);
});
