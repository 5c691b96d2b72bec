// Enterprise SSO journeys (issue 20) through the real Worker and a real OpenID provider
// (panva's oidc-provider on loopback, tests/support/idp.mjs), with a local DNS-over-HTTPS
// responder for the domain records:
// 1. verify a domain, create a connection, complete the test sign-in, activate it;
// 2. a new person signs in and is provisioned with the default role;
// 3. an existing verified account is linked, an unverified one is refused;
// 4. enforcement: passwords refused for the domain, the owner's break-glass, enforcement off;
// 5. a changed group claim changes the role at the next sign-in, never to or from owner;
// and federated accounts (SSO-only, names read-only, no admin reset, removal keeps the identity).
// Every step asserts the status, the body and what D1 holds.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startWorker, assertProblem, PASSWORD, freshIp } from "./helpers.mjs";
import { startDoh } from "./support/doh.mjs";
import { startIdp, CookieJar, signInAt } from "./support/idp.mjs";
import {
  APP_URL, CALLBACK, FLOW_COOKIE, freshDomain, verifiedDomain, createConnection, activate, audit, counts,
  start, callback, ssoSignIn, exchange, assertCallbackCode, assertCallbackError, assertCleared, local,
} from "./support/sso.mjs";

const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/;
const B64URL43 = /^[A-Za-z0-9_-]{43}$/;
const CLIENTS = Array.from({ length: 12 }, (_, i) => ({
  client_id: `ums-journey-${i}`, client_secret: `journey-secret-${i}-${Math.random().toString(36).slice(2)}`,
}));

let w;
let doh;
let idp;
let nextClient = 0;
before(async () => {
  doh = await startDoh();
  [w, idp] = await Promise.all([
    startWorker({ vars: { DNS_RESOLVER_URL: doh.url } }),
    startIdp({ clients: CLIENTS.map((c) => ({ ...c, redirect_uris: [CALLBACK] })) }),
  ]);
});
after(async () => { await w?.dispose(); await idp?.close(); await doh?.close(); });

let subCounter = 0;
/** A person at the provider: a fresh sub with these claims. */
function person(claims) {
  subCounter += 1;
  const sub = `sub-${process.pid}-${subCounter}`;
  idp.accounts.set(sub, { email_verified: true, given_name: "Grace", family_name: "Hopper", name: "Grace Hopper", ...claims });
  return sub;
}

/**
 * An org whose owner's email is at a fresh verified domain, with an active connection to the
 * provider (test sign-in done). Options: connection fields.
 */
async function ssoOrg(fields = {}) {
  const domain = freshDomain();
  const owner = await w.activeUser({ email: `owner@${domain}` });
  const orgId = owner.organization.id;
  await verifiedDomain(w, doh, owner.access_token, orgId, domain);
  const client = CLIENTS[nextClient++];
  const conn = await createConnection(w, owner.access_token, orgId, {
    name: "Acme IdP", issuer: idp.issuer, client_id: client.client_id, client_secret: client.client_secret,
    default_role: "viewer", jit: true, ...fields,
  });
  const tester = person({ email: `it-test@${domain}` });
  const active = await activate(w, idp, owner.access_token, orgId, conn.id, tester);
  return { domain, owner, orgId, wsId: owner.workspace.id, conn: active, client };
}

/** discover → start → provider → callback → exchange, asserting success; returns everything. */
async function signInNew(org, sub, email, { jar, exchangeOpts } = {}) {
  const d = await w.post("/v1/auth/sso/discover", { email });
  assert.equal(d.status, 200, JSON.stringify(d.body));
  const run = await ssoSignIn(w, idp, d.body.authorize_url, sub, { jar });
  const code = assertCallbackCode(run.cb);
  // With session_cookie the request must come from the service's own page (Origin), as for
  // login; Miniflare hands the Worker http://localhost/… URLs, so that is the own origin.
  const x = await exchange(w, code, exchangeOpts, exchangeOpts?.session_cookie ? { headers: { origin: "http://localhost" } } : {});
  assert.equal(x.status, 200, JSON.stringify(x.body));
  return { discover: d.body, ...run, code, session: x };
}

/** discover → … → callback, expecting an error code at the console. */
async function signInRefused(sub, email, errorCode) {
  const d = await w.post("/v1/auth/sso/discover", { email });
  assert.equal(d.status, 200, JSON.stringify(d.body));
  const run = await ssoSignIn(w, idp, d.body.authorize_url, sub);
  assertCallbackError(run.cb, errorCode);
  return run;
}

const role = async (orgId, userId) => (await w.one("SELECT role FROM org_members WHERE org_id = ? AND user_id = ?", orgId, userId))?.role;
const userByEmail = (email) => w.one("SELECT * FROM users WHERE email = ?", email.toLowerCase());
const meta = (e) => (e?.metadata ? JSON.parse(e.metadata) : {});

test("journey 1: verify a domain, create a connection, complete the test sign-in, activate it; discovery finds it", async () => {
  const domain = freshDomain();
  const owner = await w.activeUser({ email: `owner@${domain}` });
  const orgId = owner.organization.id;
  const t = { token: owner.access_token };

  // Before anything: no SSO for the domain.
  assertProblem(await w.post("/v1/auth/sso/discover", { email: `someone@${domain}` }), 404, "no_sso_connection");

  // The domain: TXT record published, verified.
  const added = await w.post(`/v1/orgs/${orgId}/domains`, { domain }, t);
  assert.equal(added.status, 201, JSON.stringify(added.body));
  doh.set(added.body.verification.name, added.body.verification.value);
  const verified = await w.post(`/v1/orgs/${orgId}/domains/${added.body.id}/verify`, undefined, t);
  assert.equal(verified.status, 200, JSON.stringify(verified.body));
  assert.equal(verified.body.status, "verified");

  // The connection: a draft, not yet offered to anyone.
  const client = CLIENTS[nextClient++];
  const conn = await createConnection(w, owner.access_token, orgId, {
    issuer: idp.issuer, client_id: client.client_id, client_secret: client.client_secret, default_role: "viewer", jit: true,
  });
  assert.equal(conn.status, "draft");
  assert.equal(conn.redirect_uri, CALLBACK);
  assertProblem(await w.post("/v1/auth/sso/discover", { email: `someone@${domain}` }), 404, "no_sso_connection");
  // A draft connection cannot be used to sign in (only tested).
  const draftStart = await start(w, `${APP_URL}/v1/auth/sso/start?connection=${conn.id}`);
  assert.equal(`${draftStart.location.origin}${draftStart.location.pathname}`, `${APP_URL}/sso/callback`, draftStart.location.href);
  assert.equal(draftStart.location.searchParams.get("error"), "sso_connection_inactive");

  // The test sign-in.
  const ticket = await w.post(`/v1/orgs/${orgId}/sso-connections/${conn.id}/test`, undefined, t);
  assert.equal(ticket.status, 200, JSON.stringify(ticket.body));
  const s = await start(w, ticket.body.authorize_url);
  const disc = await (await fetch(`${idp.issuer}/.well-known/openid-configuration`)).json();
  assert.equal(`${s.location.origin}${s.location.pathname}`, disc.authorization_endpoint);
  assert.match(s.flow ?? "", B64URL43);
  const tester = person({ email: `Admin.Tester@${domain.toUpperCase()}`, groups: ["x"] });
  const back = await signInAt(idp, s.location.href, tester);
  const cb = await callback(w, back, s.flow);
  assert.equal(`${cb.location.origin}${cb.location.pathname}`, `${APP_URL}/orgs/${orgId}/sso`, cb.location.href);
  assert.equal(cb.location.searchParams.get("connection"), conn.id);
  assert.equal(cb.location.searchParams.get("test"), "ok");
  assertCleared(cb.res.setCookies, FLOW_COOKIE);
  const tested = (await w.get(`/v1/orgs/${orgId}/sso-connections/${conn.id}`, t)).body;
  assert.equal(tested.last_test.ok, true, JSON.stringify(tested.last_test));
  assert.match(tested.last_test.at, RFC3339);
  assert.equal(tested.last_test.error, null);
  assert.equal(tested.last_test.claims.sub, tester);
  assert.equal(tested.last_test.claims.email.toLowerCase(), `admin.tester@${domain}`);
  assert.equal(tested.last_test.claims.email_verified, true);
  assert.equal(tested.last_test.claims.role, "viewer");
  assert.equal(tested.status, "draft", "testing does not activate");

  // Activation.
  const act = await w.patch(`/v1/orgs/${orgId}/sso-connections/${conn.id}`, { status: "active" }, t);
  assert.equal(act.status, 200, JSON.stringify(act.body));
  assert.equal(act.body.status, "active");
  assert.match(act.body.activated_at, RFC3339);
  const row = await w.one("SELECT status, activated_at FROM sso_connections WHERE id = ?", conn.id);
  assert.equal(row.status, "active");
  assert.ok(row.activated_at);
  const ev = (await audit(w, orgId, "sso_connection.activated")).filter((e) => e.target_id === conn.id);
  assert.equal(ev.length, 1);
  assert.equal(ev[0].actor_id, owner.user.id);

  // Discovery now offers it, for any address at the domain (case-insensitively).
  const d = await w.post("/v1/auth/sso/discover", { email: `Someone@${domain.toUpperCase()}` });
  assert.equal(d.status, 200, JSON.stringify(d.body));
  assert.deepEqual(Object.keys(d.body).sort(), ["authorize_url", "connection_id", "enforced", "org_id"]);
  assert.equal(d.body.connection_id, conn.id);
  assert.equal(d.body.org_id, orgId);
  assert.equal(d.body.enforced, false);
  const au = new URL(d.body.authorize_url);
  assert.equal(`${au.origin}${au.pathname}`, `${APP_URL}/v1/auth/sso/start`);
  assert.equal(au.searchParams.get("connection"), conn.id);
  assert.equal(au.searchParams.get("login_hint").toLowerCase(), `someone@${domain}`);
  // Not for other domains, a subdomain, or nonsense.
  assertProblem(await w.post("/v1/auth/sso/discover", { email: "someone@example.com" }), 404, "no_sso_connection");
  assertProblem(await w.post("/v1/auth/sso/discover", { email: `someone@sub.${domain}` }), 404, "no_sso_connection");
  assertProblem(await w.post("/v1/auth/sso/discover", { email: "not-an-email" }), 422, "validation_failed");
  assertProblem(await w.post("/v1/auth/sso/discover", {}), 422, "validation_failed");
});

test("journey 2: a new person signs in and is provisioned with the default role; the session is an SSO session", async () => {
  const org = await ssoOrg({ default_role: "viewer" });
  const email = `grace.hopper@${org.domain}`;
  const sub = person({ email, given_name: "Grace", family_name: "Hopper" });
  const before = await counts(w);
  assert.equal(await userByEmail(email), undefined);

  // discover → start: the provider is asked for code + PKCE S256 + state + nonce.
  const d = await w.post("/v1/auth/sso/discover", { email });
  assert.equal(d.status, 200, JSON.stringify(d.body));
  const ip = freshIp();
  const s = await start(w, d.body.authorize_url, { ip });
  const q = s.location.searchParams;
  assert.equal(q.get("response_type"), "code");
  assert.equal(q.get("client_id"), org.client.client_id);
  assert.equal(q.get("redirect_uri"), CALLBACK);
  assert.deepEqual(q.get("scope").split(" ").sort(), ["email", "openid", "profile"]);
  assert.ok((q.get("state") ?? "").length >= 22, "an unguessable state");
  assert.ok((q.get("nonce") ?? "").length >= 22, "an unguessable nonce");
  assert.notEqual(q.get("state"), q.get("nonce"));
  assert.match(q.get("code_challenge") ?? "", B64URL43);
  assert.equal(q.get("code_challenge_method"), "S256");
  assert.equal(q.get("login_hint"), email);
  const flowLine = s.res.setCookies.find((l) => l.startsWith(`${FLOW_COOKIE}=`));
  assert.ok(flowLine, `flow cookie: ${s.res.setCookies}`);
  assert.match(s.flow, B64URL43);
  const attrs = flowLine.split(";").slice(1).map((a) => a.trim().toLowerCase());
  for (const a of ["path=/", "httponly", "secure", "samesite=lax", "max-age=600"]) assert.ok(attrs.includes(a), `${a} in ${flowLine}`);
  assert.ok(!attrs.some((a) => a.startsWith("domain=")), "__Host- cookies have no Domain");
  assert.ok(!s.flow.includes(q.get("state")) && !s.flow.includes(q.get("code_challenge")), "the cookie is not the state or challenge");

  // The provider; the callback answers the console with a one-time code and clears the cookie.
  const back = await signInAt(idp, s.location.href, sub);
  assert.equal(new URL(back).searchParams.get("iss"), idp.issuer);
  const cb = await callback(w, back, s.flow, { ip });
  const code = assertCallbackCode(cb);
  assertCleared(cb.res.setCookies, FLOW_COOKIE);

  // The account exists already (provisioning happens at the callback), the session at the exchange.
  const x = await exchange(w, code, {}, { ip });
  assert.equal(x.status, 200, JSON.stringify(x.body));
  assert.deepEqual(Object.keys(x.body).sort(), ["access_token", "expires_in", "refresh_token", "token_type", "user"]);
  assert.equal(x.body.token_type, "Bearer");
  assert.equal(x.body.expires_in, 900);
  assert.equal(x.body.user.email, email);

  const u = await userByEmail(email);
  assert.ok(u, "users row");
  assert.equal(x.body.user.id, u.id);
  assert.equal(u.status, "active");
  assert.equal(u.email_verified, 1);
  assert.equal(u.password_hash, null, "no password");
  assert.equal(u.first_name, "Grace");
  assert.equal(u.last_name, "Hopper");
  assert.equal(u.created_by_org_id, org.orgId, "managed by the org");
  assert.equal(await role(org.orgId, u.id), "viewer", "the default role");
  const ident = await w.one("SELECT * FROM sso_identities WHERE user_id = ?", u.id);
  assert.ok(ident, "sso_identities row");
  assert.equal(ident.connection_id, org.conn.id);
  assert.equal(ident.subject, sub);
  const sessions = await w.rows("SELECT * FROM sessions WHERE user_id = ?", u.id);
  assert.equal(sessions.length, 1);
  assert.equal(sessions[0].auth_method, "sso");
  assert.equal(sessions[0].ip, ip);
  const after = await counts(w);
  assert.equal(after.users, before.users + 1);
  assert.equal(after.org_members, before.org_members + 1);
  assert.equal(after.sso_identities, before.sso_identities + 1);
  assert.equal(after.sessions, before.sessions + 1);

  // Audit: member.added by SSO, user.login_succeeded with auth_method sso.
  const added = (await audit(w, org.orgId, "member.added")).filter((e) => e.target_id === u.id);
  assert.equal(added.length, 1);
  assert.equal(added[0].auth_method, "sso", `member.added by sso: ${JSON.stringify(added[0])}`);
  assert.equal(added[0].actor_id, null, "no admin added them");
  const login = await w.rows("SELECT * FROM audit_events WHERE action = 'user.login_succeeded' AND subject_user_id = ?", u.id);
  assert.equal(login.length, 1, JSON.stringify(login));
  assert.equal(login[0].auth_method, "sso");
  assert.equal(login[0].success, 1);

  // The session works like a password login's.
  const me = await w.get("/v1/me", { token: x.body.access_token });
  assert.equal(me.status, 200, JSON.stringify(me.body));
  assert.equal(me.body.email, email);
  const mySessions = await w.get("/v1/me/sessions", { token: x.body.access_token });
  assert.equal(mySessions.status, 200);
  const current = mySessions.body.data.find((z) => z.current);
  assert.equal(current.auth_method, "sso");
  const activity = await w.get("/v1/me/activity", { token: x.body.access_token });
  assert.ok(activity.body.data.some((e) => e.action === "user.login_succeeded" && e.auth_method === "sso"), JSON.stringify(activity.body));
  const refreshed = await w.post("/v1/auth/refresh", { refresh_token: x.body.refresh_token });
  assert.equal(refreshed.status, 200, JSON.stringify(refreshed.body));

  // The next sign-in finds the same person by (connection, sub): nothing new but a session;
  // with session_cookie the refresh token is a cookie.
  const again = await signInNew(org, sub, email, { exchangeOpts: { session_cookie: true } });
  assert.equal(again.session.body.user.id, u.id);
  assert.equal(again.session.body.refresh_token, undefined);
  assert.match(again.session.headers.getSetCookie().join("\n"), /__Host-session=/);
  const later = await counts(w);
  assert.equal(later.users, after.users);
  assert.equal(later.org_members, after.org_members);
  assert.equal(later.sso_identities, after.sso_identities);
  assert.equal(later.sessions, after.sessions + 1);
  assert.equal((await audit(w, org.orgId, "member.added")).filter((e) => e.target_id === u.id).length, 1, "added once");
});

test("exchange: a code works once (then 400 invalid_token), an unknown code is 400, an expired one 410", async () => {
  const org = await ssoOrg();
  const email = `once@${org.domain}`;
  const sub = person({ email });
  const d = await w.post("/v1/auth/sso/discover", { email });
  const run = await ssoSignIn(w, idp, d.body.authorize_url, sub);
  const code = assertCallbackCode(run.cb);
  const first = await exchange(w, code);
  assert.equal(first.status, 200, JSON.stringify(first.body));
  const sessions = (await counts(w)).sessions;
  assertProblem(await exchange(w, code), 400, "invalid_token");
  assertProblem(await exchange(w, "A".repeat(43)), 400, "invalid_token");
  assertProblem(await exchange(w, "short"), 400, "invalid_token");
  assert.ok([400, 422].includes((await w.post("/v1/auth/sso/exchange", {})).status));
  assert.equal((await counts(w)).sessions, sessions, "no session from a spent or unknown code");

  // Expired: past its 60 s. The code's row is aged in D1 (whatever table holds it: its
  // expires_at is found by the code's hash, as every other one-time token here).
  const run2 = await ssoSignIn(w, idp, (await w.post("/v1/auth/sso/discover", { email })).body.authorize_url, sub);
  const code2 = assertCallbackCode(run2.cb);
  const { createHash } = await import("node:crypto");
  const hash = createHash("sha256").update(code2).digest("hex");
  const tables = (await w.rows("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'sso%'")).map((t) => t.name);
  let aged = 0;
  for (const t of tables) {
    const cols = (await w.rows(`PRAGMA table_info(${t})`)).map((c) => c.name);
    const key = cols.find((c) => /hash/.test(c));
    if (!key || !cols.includes("expires_at")) continue;
    aged += (await w.db.prepare(`UPDATE ${t} SET expires_at = ? WHERE ${key} = ?`).bind(Date.now() - 1000, hash).run()).meta.changes;
  }
  assert.equal(aged, 1, `the code's row was found by its SHA-256 (tables ${tables})`);
  assertProblem(await exchange(w, code2), 410, "token_expired");
  assert.equal((await counts(w)).sessions, sessions);
});

test("journey 3: an existing verified account with the same email is linked (user.sso_linked); an unverified one is refused with nothing created", async () => {
  const org = await ssoOrg({ default_role: "editor" });
  // A verified password account at the domain, not yet in the org.
  const existing = await w.activeUser({ email: `linus@${org.domain}` });
  const sub = person({ email: `Linus@${org.domain.toUpperCase()}`, given_name: "Linus", family_name: "Torvalds" });
  const before = await counts(w);
  const s = await signInNew(org, sub, existing.email);
  assert.equal(s.session.body.user.id, existing.user.id, "the same account");
  const after = await counts(w);
  assert.equal(after.users, before.users, "no new user");
  assert.equal(after.sso_identities, before.sso_identities + 1);
  assert.equal(after.org_members, before.org_members + 1, "joins the org");
  assert.equal(await role(org.orgId, existing.user.id), "editor");
  const ident = await w.one("SELECT * FROM sso_identities WHERE user_id = ?", existing.user.id);
  assert.equal(ident.connection_id, org.conn.id);
  assert.equal(ident.subject, sub);
  const linked = await w.rows(
    "SELECT * FROM audit_events WHERE action = 'user.sso_linked' AND (subject_user_id = ?1 OR target_id = ?1)", existing.user.id);
  assert.equal(linked.length, 1, "user.sso_linked");
  // Linking does not make it a federated account: its password still works (no enforcement).
  const pw = await w.login(existing.email);
  assert.equal(pw.status, 200, JSON.stringify(pw.body));
  const u = await userByEmail(existing.email);
  assert.notEqual(u.password_hash, null);

  // An account whose email was never verified here (signed up, not activated).
  const unverifiedEmail = `una@${org.domain}`;
  const pending = await w.signup({ email: unverifiedEmail });
  const unverifiedSub = person({ email: unverifiedEmail });
  const before2 = await counts(w);
  await signInRefused(unverifiedSub, unverifiedEmail, "sso_link_unverified");
  assert.deepEqual(await counts(w), before2, "nothing created");
  assert.equal(await w.one("SELECT 1 AS x FROM sso_identities WHERE user_id = ?", pending.user.id), undefined);
  assert.equal(await role(org.orgId, pending.user.id), undefined);
  const row = await userByEmail(unverifiedEmail);
  assert.equal(row.status, "pending");
  assert.equal(row.email_verified, 0);
});

test("journey 4: enforced SSO refuses passwords for the domain (sso_required), the owner's break-glass works, turning it off restores passwords", async () => {
  const org = await ssoOrg();
  const t = { token: org.owner.access_token };
  // Alice: a password account at the domain, an editor of the org. Bob: at the domain, not a
  // member. Carol: an admin at the domain. Dave: an org member at another domain.
  const alice = await w.activeUser({ email: `alice@${org.domain}` });
  const bob = await w.activeUser({ email: `bob@${org.domain}` });
  const carol = await w.activeUser({ email: `carol@${org.domain}` });
  const dave = await w.activeUser();
  await w.joinOrg(alice, org.orgId, "editor", org.wsId);
  await w.joinOrg(carol, org.orgId, "admin", org.wsId);
  await w.joinOrg(dave, org.orgId, "editor", org.wsId);
  // Before enforcement: a reset link for Alice, and her live session.
  assert.equal((await w.post("/v1/auth/password/forgot", { email: alice.email })).status, 202);
  const resetToken = await w.mailToken(alice.email, /reset/i);

  const en = await w.patch(`/v1/orgs/${org.orgId}/sso-connections/${org.conn.id}`, { enforce: true }, t);
  assert.equal(en.status, 200, JSON.stringify(en.body));
  assert.equal(en.body.enforce, true);
  assert.ok((await w.one("SELECT enforce FROM sso_connections WHERE id = ?", org.conn.id)).enforce);
  const d = await w.post("/v1/auth/sso/discover", { email: alice.email });
  assert.equal(d.body.enforced, true);

  const sessionsBefore = (await counts(w)).sessions;
  for (const who of [alice, bob, carol]) {
    const r = await w.login(who.email);
    assertProblem(r, 403, "sso_required");
    const au = new URL(r.body.authorize_url);
    assert.equal(`${au.origin}${au.pathname}`, `${APP_URL}/v1/auth/sso/start`);
    assert.equal(au.searchParams.get("connection"), org.conn.id);
    assert.match(r.body.detail, /single sign-on|SSO|identity provider/i);
    // A wrong password answers the same (no oracle), and counts nothing.
    assertProblem(await w.login(who.email, "wrong password entirely"), 403, "sso_required");
    const row = await userByEmail(who.email);
    assert.equal(row.failed_logins, 0);
    assert.equal(row.status, "active");
  }
  assert.equal((await counts(w)).sessions, sessionsBefore, "no password session");
  // Forgot, reset and password change: refused too; no mail, no change.
  const outbox = (await w.one("SELECT COUNT(*) AS n FROM outbox WHERE recipient = ?", alice.email)).n;
  assertProblem(await w.post("/v1/auth/password/forgot", { email: alice.email }), 403, "sso_required");
  assert.equal((await w.one("SELECT COUNT(*) AS n FROM outbox WHERE recipient = ?", alice.email)).n, outbox, "no reset mail");
  const hashBefore = (await userByEmail(alice.email)).password_hash;
  assertProblem(await w.post("/v1/auth/password/reset", { token: resetToken, new_password: "a brand new passphrase" }), 403, "sso_required");
  assertProblem(await w.post("/v1/me/password", { current_password: PASSWORD, new_password: "a brand new passphrase" }, { token: alice.access_token }), 403, "sso_required");
  assert.equal((await userByEmail(alice.email)).password_hash, hashBefore);
  // A member at another domain is not concerned.
  assert.equal((await w.login(dave.email)).status, 200);

  // Break-glass: the owner keeps password sign-in, audited as such.
  const ownerLogin = await w.login(org.owner.email);
  assert.equal(ownerLogin.status, 200, JSON.stringify(ownerLogin.body));
  const ev = await w.rows("SELECT * FROM audit_events WHERE action = 'user.login_succeeded' AND subject_user_id = ? ORDER BY id DESC", org.owner.user.id);
  assert.equal(meta(ev[0]).break_glass, true, JSON.stringify(ev[0]));
  assert.equal(ev[0].auth_method, "password");
  // Alice signs in through SSO instead (she is linked: verified email).
  const aliceSub = person({ email: alice.email });
  const s = await signInNew(org, aliceSub, alice.email);
  assert.equal(s.session.body.user.id, alice.user.id);
  assert.equal(await role(org.orgId, alice.user.id), "editor", "an existing member keeps their role (no group map)");

  // Enforcement off: passwords again.
  const off = await w.patch(`/v1/orgs/${org.orgId}/sso-connections/${org.conn.id}`, { enforce: false }, t);
  assert.equal(off.status, 200, JSON.stringify(off.body));
  assert.equal(off.body.enforce, false);
  for (const who of [alice, bob, carol]) {
    const r = await w.login(who.email);
    assert.equal(r.status, 200, JSON.stringify(r.body));
  }
  assert.equal((await w.post("/v1/auth/password/forgot", { email: bob.email })).status, 202);
  const ownerEv = await w.login(org.owner.email);
  assert.equal(ownerEv.status, 200);
  const last = (await w.rows("SELECT * FROM audit_events WHERE action = 'user.login_succeeded' AND subject_user_id = ? ORDER BY id DESC", org.owner.user.id))[0];
  assert.notEqual(meta(last).break_glass, true, "no break-glass without enforcement");
});

test("journey 5: the group claim maps roles at every sign-in (highest wins, none → default); never owner, the owner never demoted", async () => {
  const org = await ssoOrg({
    default_role: "viewer", scopes: "openid email profile groups", group_claim: "groups",
    group_role_map: { "eng-leads": "admin", eng: "editor", contractors: "viewer" },
  });
  const email = `mapped@${org.domain}`;
  const sub = person({ email, groups: ["eng", "staff"] });
  const jar = new CookieJar();
  const s1 = await signInNew(org, sub, email, { jar });
  const uid = s1.session.body.user.id;
  assert.equal(await role(org.orgId, uid), "editor");

  idp.accounts.get(sub).groups = ["eng", "eng-leads", "contractors"];
  await signInNew(org, sub, email, { jar });
  assert.equal(await role(org.orgId, uid), "admin", "the highest mapped role wins");

  idp.accounts.get(sub).groups = ["contractors"];
  await signInNew(org, sub, email, { jar });
  assert.equal(await role(org.orgId, uid), "viewer");

  idp.accounts.get(sub).groups = ["nothing-mapped"];
  await signInNew(org, sub, email, { jar });
  assert.equal(await role(org.orgId, uid), "viewer", "no mapped group → the default role");
  idp.accounts.get(sub).groups = ["eng"];
  await signInNew(org, sub, email, { jar });
  assert.equal(await role(org.orgId, uid), "editor");
  assert.equal((await w.rows("SELECT 1 FROM org_members WHERE user_id = ?", uid)).length, 1, "one membership throughout");

  // The owner signs in through SSO (linked: verified email); their role stays owner.
  const ownerSub = person({ email: org.owner.email, groups: ["contractors"] });
  const o = await signInNew(org, ownerSub, org.owner.email);
  assert.equal(o.session.body.user.id, org.owner.user.id);
  assert.equal(await role(org.orgId, org.owner.user.id), "owner", "the owner is never demoted");
  assert.equal((await w.one("SELECT owner_id FROM orgs WHERE id = ?", org.orgId)).owner_id, org.owner.user.id);

  // Never owner: the map cannot name it.
  const bad = await w.patch(`/v1/orgs/${org.orgId}/sso-connections/${org.conn.id}`, { group_role_map: { "eng-leads": "owner" } }, { token: org.owner.access_token });
  assertProblem(bad, 422, "validation_failed");
  assert.equal(await role(org.orgId, uid), "editor");
});

// ---------------------------------------------------------------------------------------
// Federated accounts

test("federated accounts: password login is sso_required and counts nothing; names read-only; no admin reset; no password change", async () => {
  const org = await ssoOrg();
  const email = `fed@${org.domain}`;
  const sub = person({ email, given_name: "Fed", family_name: "Erated" });
  const s = await signInNew(org, sub, email);
  const uid = s.session.body.user.id;
  const token = s.session.body.access_token;

  // Password login, even repeated past the lockout threshold: sso_required, nothing counted.
  for (let i = 0; i < 7; i++) {
    const r = await w.login(email, `guess number ${i}`);
    assertProblem(r, 403, "sso_required");
    assert.ok(r.body.authorize_url);
  }
  let u = await w.one("SELECT * FROM users WHERE id = ?", uid);
  assert.equal(u.failed_logins, 0);
  assert.equal(u.status, "active");
  assert.equal((await w.rows("SELECT 1 FROM audit_events WHERE action = 'user.locked' AND subject_user_id = ?", uid)).length, 0);
  assertProblem(await w.post("/v1/auth/password/forgot", { email }), 403, "sso_required");
  assertProblem(await w.post("/v1/me/password", { current_password: "x", new_password: "a brand new passphrase" }, { token }), 403, "sso_required");

  // Names come from the provider.
  for (const patch of [{ first_name: "Other" }, { last_name: "Name" }, { first_name: "A", last_name: "B" }]) {
    const r = await w.patch("/v1/me", patch, { token });
    assertProblem(r, 403, "federated_account");
    assert.match(r.body.detail, /identity provider/i);
  }
  const admin = { token: org.owner.access_token };
  assertProblem(await w.patch(`/v1/orgs/${org.orgId}/members/${uid}`, { first_name: "Other" }, admin), 403, "federated_account");
  u = await w.one("SELECT * FROM users WHERE id = ?", uid);
  assert.equal(u.first_name, "Fed");
  assert.equal(u.last_name, "Erated");
  // The role (not a name) may still be changed by the admin.
  const rc = await w.patch(`/v1/orgs/${org.orgId}/members/${uid}`, { role: "editor" }, admin);
  assert.equal(rc.status, 200, JSON.stringify(rc.body));
  assert.equal(await role(org.orgId, uid), "editor");

  // Admin password reset / single-use password: refused.
  for (const mode of ["email", "single_use_password"]) {
    assertProblem(await w.post(`/v1/orgs/${org.orgId}/members/${uid}/reset-password`, { mode }, admin), 403, "federated_account");
  }
  u = await w.one("SELECT * FROM users WHERE id = ?", uid);
  assert.equal(u.password_hash, null);
  assert.equal(u.must_change_password, 0);
  assert.equal((await w.rows("SELECT 1 FROM sessions WHERE user_id = ? AND ended_at IS NOT NULL", uid)).length, 0, "no session ended");

  // Names follow the provider at the next sign-in.
  idp.accounts.get(sub).given_name = "Federica";
  await signInNew(org, sub, email);
  assert.equal((await w.one("SELECT first_name FROM users WHERE id = ?", uid)).first_name, "Federica");
});

test("federated accounts: removing the member ends their sessions, keeps the account and identity; the next sign-in is sso_access_removed until re-added", async () => {
  const org = await ssoOrg();
  const email = `leaver@${org.domain}`;
  const sub = person({ email });
  const a = await signInNew(org, sub, email);
  const b = await signInNew(org, sub, email);
  const uid = a.session.body.user.id;
  assert.equal((await w.get("/v1/me", { token: a.session.body.access_token })).status, 200);

  const del = await w.del(`/v1/orgs/${org.orgId}/members/${uid}`, { token: org.owner.access_token });
  assert.equal(del.status, 204, JSON.stringify(del.body));
  assert.equal(await role(org.orgId, uid), undefined, "membership gone");
  const sessions = await w.rows("SELECT ended_at FROM sessions WHERE user_id = ?", uid);
  assert.equal(sessions.length, 2);
  assert.ok(sessions.every((x) => x.ended_at), "every session ended");
  for (const s of [a, b]) {
    assertProblem(await w.get("/v1/me", { token: s.session.body.access_token }), 401, "unauthorized");
    assertProblem(await w.post("/v1/auth/refresh", { refresh_token: s.session.body.refresh_token }), 401, "invalid_token");
  }
  assert.ok(await w.one("SELECT 1 AS x FROM users WHERE id = ?", uid), "the account stays");
  assert.ok(await w.one("SELECT 1 AS x FROM sso_identities WHERE user_id = ?", uid), "the identity stays");

  // The next sign-in: refused, nothing created.
  const before = await counts(w);
  await signInRefused(sub, email, "sso_access_removed");
  assert.deepEqual(await counts(w), before);
  assert.equal(await role(org.orgId, uid), undefined);

  // An admin adds them again (an existing account joins): SSO works again.
  const re = await w.post(`/v1/orgs/${org.orgId}/members`, {
    email, first_name: "Leaver", last_name: "Back", role: "viewer", credential: "activation_email",
  }, { token: org.owner.access_token });
  assert.equal(re.status, 201, JSON.stringify(re.body));
  assert.equal(re.body.user.id, uid);
  const c = await signInNew(org, sub, email);
  assert.equal(c.session.body.user.id, uid);
  assert.equal(await role(org.orgId, uid), "viewer");
});

test("jit off: a person who is not a member is refused (sso_not_provisioned), a member signs in", async () => {
  const org = await ssoOrg({ jit: false });
  const email = `nojit@${org.domain}`;
  const sub = person({ email });
  const before = await counts(w);
  await signInRefused(sub, email, "sso_not_provisioned");
  assert.deepEqual(await counts(w), before);
  assert.equal(await userByEmail(email), undefined);

  const member = await w.activeUser({ email: `member@${org.domain}` });
  await w.joinOrg(member, org.orgId, "editor", org.wsId);
  const msub = person({ email: member.email });
  const s = await signInNew(org, msub, member.email);
  assert.equal(s.session.body.user.id, member.user.id);
  assert.equal(await role(org.orgId, member.user.id), "editor");
});

test("a lapsed or removed domain no longer counts: discovery 404, sign-in refused (sso_domain_not_verified)", async () => {
  const org = await ssoOrg();
  const email = `lapse@${org.domain}`;
  const sub = person({ email });
  // A sign-in started while the domain was verified …
  const d = await w.post("/v1/auth/sso/discover", { email });
  const s = await start(w, d.body.authorize_url);
  const back = await signInAt(idp, s.location.href, sub);
  // … finishes after the domain lapsed (the cron's doing, here set in D1).
  await w.db.prepare("UPDATE org_domains SET status = 'lapsed' WHERE org_id = ? AND domain = ?").bind(org.orgId, org.domain).run();
  const before = await counts(w);
  const cb = await callback(w, back, s.flow);
  assertCallbackError(cb, "sso_domain_not_verified");
  assert.deepEqual(await counts(w), before);
  assertProblem(await w.post("/v1/auth/sso/discover", { email }), 404, "no_sso_connection");
  assert.equal(local(d.body.authorize_url).startsWith("/v1/auth/sso/start"), true);
});

test("start: an unknown or missing connection → 302 to the console with sso_connection_inactive, no flow; a connection made draft or deleted mid-flow refuses the callback", async () => {
  const org = await ssoOrg();
  const flowsBefore = (await w.one("SELECT COUNT(*) AS n FROM sso_flows")).n;
  for (const url of [
    `${APP_URL}/v1/auth/sso/start?connection=00000000-0000-7000-8000-000000000000`,
    `${APP_URL}/v1/auth/sso/start?connection=nope`,
    `${APP_URL}/v1/auth/sso/start`,
  ]) {
    const s = await start(w, url);
    assert.equal(`${s.location.origin}${s.location.pathname}`, `${APP_URL}/sso/callback`, s.location.href);
    assert.equal(s.location.searchParams.get("error"), "sso_connection_inactive", s.location.href);
    assert.equal(s.flow, undefined, "no flow cookie");
  }
  assert.equal((await w.one("SELECT COUNT(*) AS n FROM sso_flows")).n, flowsBefore, "no flow stored");

  // Back to draft while a person is at the provider.
  const email = `midflow@${org.domain}`;
  const sub = person({ email });
  const s1 = await start(w, (await w.post("/v1/auth/sso/discover", { email })).body.authorize_url);
  const back1 = await signInAt(idp, s1.location.href, sub);
  const path = `/v1/orgs/${org.orgId}/sso-connections/${org.conn.id}`;
  assert.equal((await w.patch(path, { status: "draft" }, { token: org.owner.access_token })).status, 200);
  const before = await counts(w);
  assertCallbackError(await callback(w, back1, s1.flow), "sso_connection_inactive");
  assert.deepEqual(await counts(w), before);
  // A draft connection is not discoverable and does not start.
  assertProblem(await w.post("/v1/auth/sso/discover", { email }), 404, "no_sso_connection");
  const s2 = await start(w, `${APP_URL}/v1/auth/sso/start?connection=${org.conn.id}`);
  assert.equal(s2.location.searchParams.get("error"), "sso_connection_inactive");

  // Active again (its test still stands), then deleted while a person is at the provider.
  assert.equal((await w.patch(path, { status: "active" }, { token: org.owner.access_token })).status, 200);
  const s3 = await start(w, `${APP_URL}/v1/auth/sso/start?connection=${org.conn.id}`);
  const back3 = await signInAt(idp, s3.location.href, sub);
  assert.equal((await w.del(path, { token: org.owner.access_token })).status, 204);
  const cb = await callback(w, back3, s3.flow);
  assert.ok(["sso_state_invalid", "sso_connection_inactive"].includes(cb.error), cb.location.href);
  assertCallbackError(cb, cb.error);
  assert.deepEqual(await counts(w), before);
});
