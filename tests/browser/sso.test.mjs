// Enterprise single sign-on in a real browser, against a real OpenID provider (panva's
// oidc-provider on loopback, tests/support/idp.mjs: its development login and consent pages)
// and a DNS-over-HTTPS responder (tests/support/doh.mjs) for the domains' TXT records. An
// admin verifies a domain, creates a connection, runs the test sign-in, activates and
// enforces it; a new person signs in with "Continue with SSO" and is provisioned; failures
// are explained on /sso/callback; an editor has no such screen. Each journey checks the
// screen and then the API or D1 behind it.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { startIdp, signInAt } from "../support/idp.mjs";
import { startDoh } from "../support/doh.mjs";
import { startConsole, newPage as consolePage, expectAccessible, assertNoProblems, signInThroughPage } from "./support.mjs";

const CLIENT = { client_id: "console-sso-app", client_secret: "console-sso-secret-0123456789" };
let env, w, idp, doh;
before(async () => {
  doh = await startDoh();
  // The cron re-checks every verified domain at each run (the lapsed domain's journey).
  env = await startConsole({ vars: { DNS_RESOLVER_URL: doh.url, DOMAIN_RECHECK_SECONDS: "0" } });
  w = env.w;
  // startConsole sets APP_URL to the console's origin: the Worker's redirect URI is there.
  idp = await startIdp({ clients: [{ ...CLIENT, redirect_uris: [`${env.origin}/v1/auth/sso/callback`] }] });
});
after(async () => {
  await env?.dispose();
  await idp?.close();
  await doh?.close();
});

let domains = 0;
const freshDomain = () => `acme-${process.pid}-${++domains}-${randomBytes(3).toString("hex")}.test`;
const nav = (page) => page.getByRole("navigation", { name: /navigation$/ });
const count = async (sql, ...params) => (await w.one(`SELECT COUNT(*) AS n FROM ${sql}`, ...params)).n;
const noSideScroll = (page) => page.evaluate(() => document.documentElement.scrollWidth <= document.documentElement.clientWidth);

/**
 * A page in a fresh context (its own cookies, the provider's included). The provider's
 * development pages load a web font from the internet, which this machine cannot reach;
 * it is answered empty here (the console itself loads nothing from elsewhere: its CSP).
 */
async function newPage(env_, size) {
  const page = await consolePage(env_, size);
  await page.context().route(/^https:\/\//, (route) => route.fulfill({ status: 200, contentType: "text/css", body: "" }));
  return page;
}

/** A person at the provider: `sub` → claims (read at each sign-in). */
function person(sub, email, claims = {}) {
  idp.accounts.set(sub, { email, email_verified: true, given_name: "Sam", family_name: sub, name: `Sam ${sub}`, groups: [], ...claims });
  return { sub, email };
}

/** The provider's development pages in the browser: the login form (any password), then the consent. */
async function signInAtProvider(page, sub) {
  await page.waitForURL((u) => u.origin === idp.issuer);
  await page.getByPlaceholder("Enter any login").fill(sub);
  await page.getByPlaceholder("and password").fill("any password");
  await page.getByRole("button", { name: "Sign-in" }).click();
  await page.getByRole("button", { name: "Continue" }).click();
  await page.waitForURL((u) => u.origin === env.origin);
}

/**
 * An SSO start URL followed outside the browser: the Worker's start (its flow cookie), the
 * provider's sign-in as `sub`, the Worker's callback with that cookie; its redirect's URL.
 */
async function throughSso(startUrl, sub) {
  const start = await fetch(startUrl, { redirect: "manual" });
  assert.equal(start.status, 302, await start.text());
  const cookie = start.headers.getSetCookie().find((c) => c.startsWith("__Host-sso-flow="))?.split(";")[0];
  assert.ok(cookie, "the start sets the flow cookie");
  const back = await signInAt(idp, start.headers.get("location"), sub);
  const callback = await fetch(back, { redirect: "manual", headers: { cookie } });
  assert.equal(callback.status, 302, await callback.text());
  return new URL(callback.headers.get("location"), env.origin);
}

/** An org (its owner from a sign-up) with a verified domain and an active, tested connection, set up through the API. */
async function ssoOrg({ default_role = "viewer", jit = true } = {}) {
  const owner = await w.activeUser();
  const org = owner.organization.id;
  const as = { token: owner.access_token };
  const domain = freshDomain();
  const d = await w.post(`/v1/orgs/${org}/domains`, { domain }, as);
  assert.equal(d.status, 201, JSON.stringify(d.body));
  doh.set(d.body.verification.name, d.body.verification.value);
  const v = await w.post(`/v1/orgs/${org}/domains/${d.body.id}/verify`, undefined, as);
  assert.equal(v.status, 200, JSON.stringify(v.body));
  const c = await w.post(`/v1/orgs/${org}/sso-connections`, {
    name: "Acme IdP", issuer: idp.issuer, ...CLIENT, default_role, jit,
    group_claim: "groups", group_role_map: { eng: "editor" }, scopes: "openid email profile groups",
  }, as);
  assert.equal(c.status, 201, JSON.stringify(c.body));
  const t = await w.post(`/v1/orgs/${org}/sso-connections/${c.body.id}/test`, undefined, as);
  assert.equal(t.status, 200, JSON.stringify(t.body));
  const tester = person(`tester-${domain}`, `tester@${domain}`);
  const back = await throughSso(t.body.authorize_url, tester.sub);
  assert.equal(back.pathname, `/orgs/${org}/sso`);
  assert.equal(back.searchParams.get("test"), "ok", back.href);
  const a = await w.patch(`/v1/orgs/${org}/sso-connections/${c.body.id}`, { status: "active" }, as);
  assert.equal(a.status, 200, JSON.stringify(a.body));
  return { owner, org, domain, connection: a.body, as };
}

/** An active user made admin of `owner`'s org. */
async function adminOf(owner) {
  const admin = await w.activeUser();
  await w.joinOrg(admin, owner.organization.id, "admin");
  return admin;
}

test("1. an admin verifies a domain, creates a connection, completes the test sign-in, activates and enforces it", async () => {
  const owner = await w.activeUser();
  const orgId = owner.organization.id;
  const admin = await adminOf(owner);
  const page = await newPage(env);
  await page.context().grantPermissions(["clipboard-read", "clipboard-write"]);
  await signInThroughPage(page, admin.email, admin.password);
  await nav(page).getByRole("link", { name: "Single sign-on" }).click();
  await page.getByRole("heading", { name: "Single sign-on", level: 1 }).waitFor();
  await page.getByRole("heading", { name: "No connection yet" }).waitFor();
  await expectAccessible(page, "single sign-on, empty");

  // A consumer mail domain is refused beside its field, and nothing is stored.
  const addForm = page.getByRole("form", { name: "Add a domain" });
  await addForm.getByLabel("Domain").fill("gmail.com");
  await addForm.getByRole("button", { name: "Add domain" }).click();
  const domainField = addForm.locator(".field", { has: page.getByLabel("Domain") });
  await domainField.locator(".field-error").waitFor();
  assert.match(await domainField.locator(".field-error").textContent(), /gmail|consumer|mail/i);
  assert.equal(await addForm.getByLabel("Domain").getAttribute("aria-invalid"), "true");
  assert.equal(await count("org_domains WHERE org_id = ?", orgId), 0);
  await expectAccessible(page, "add domain with a field error");

  const domain = freshDomain();
  await addForm.getByLabel("Domain").fill(domain);
  await addForm.getByRole("button", { name: "Add domain" }).click();
  const card = page.getByRole("article", { name: domain });
  await card.getByText("pending", { exact: true }).waitFor();
  assert.equal(await addForm.getByLabel("Domain").inputValue(), "", "the field is cleared for the next one");
  const listed = await w.get(`/v1/orgs/${orgId}/domains`, { token: admin.access_token });
  assert.equal(listed.status, 200, JSON.stringify(listed.body));
  assert.equal(listed.body.data.length, 1);
  const { verification } = listed.body.data[0];
  assert.equal(verification.name, `_ums-verification.${domain}`);
  await card.getByText(verification.name, { exact: true }).waitFor();
  await card.getByText(verification.value, { exact: true }).waitFor();
  await card.getByRole("button", { name: "Copy value" }).click();
  await card.getByRole("button", { name: /Copied/ }).waitFor();
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), verification.value);
  await card.getByRole("button", { name: "Copy name" }).click();
  await page.waitForFunction((name) => navigator.clipboard.readText().then((t) => t === name), verification.name);
  await expectAccessible(page, "a pending domain");

  // The same domain again: the duplicate is said beside the field; still one row.
  await addForm.getByLabel("Domain").fill(domain);
  await addForm.getByRole("button", { name: "Add domain" }).click();
  await domainField.locator(".field-error").waitFor();
  assert.equal(await count("org_domains WHERE org_id = ?", orgId), 1);

  // Verify before the record exists: the 422's detail, and that nothing was found.
  await card.getByRole("button", { name: `Verify ${domain}` }).click();
  await card.getByRole("alert").getByText("Not verified yet").waitFor();
  await card.getByText("No TXT record was found").waitFor();
  await expectAccessible(page, "a failed verification");
  // A wrong record: what was found is shown.
  doh.set(verification.name, "ums-verification=somebody-else");
  await card.getByRole("button", { name: `Verify ${domain}` }).click();
  await card.getByTestId("found").getByText("ums-verification=somebody-else").waitFor();
  // The resolver fails: said plainly, and nothing changes.
  doh.fail();
  await card.getByRole("button", { name: `Verify ${domain}` }).click();
  await card.getByRole("alert").getByText("The DNS lookup itself failed").waitFor();
  assert.equal((await w.one("SELECT status FROM org_domains WHERE org_id = ?", orgId)).status, "pending");
  // The browser logs the 503 it was given; the screen explained it, so it is no problem of the page.
  const unavailable = page.problems.filter((p) => /status of 503/.test(p));
  assert.equal(unavailable.length, 1, JSON.stringify(page.problems));
  page.problems = page.problems.filter((p) => !unavailable.includes(p));
  doh.fail(false);
  // The record published: verified.
  doh.set(verification.name, verification.value);
  await card.getByRole("button", { name: `Verify ${domain}` }).click();
  await card.getByText("verified", { exact: true }).waitFor();
  await card.getByText(`${domain} is verified.`).waitFor();
  assert.equal(await card.getByRole("button", { name: /^Verify/ }).count(), 0);
  const stored = await w.one("SELECT status, verified_at FROM org_domains WHERE org_id = ?", orgId);
  assert.equal(stored.status, "verified");
  assert.ok(stored.verified_at);
  const lookup = doh.requests.at(-1);
  assert.equal(lookup.name, verification.name);
  assert.equal(lookup.accept, "application/dns-json");

  // A connection: a wrong issuer is refused beside its field, nothing created.
  await page.getByRole("button", { name: "Create connection" }).click();
  const form = page.getByRole("dialog", { name: "Create a connection" });
  await form.getByLabel("Name (optional)").fill("Acme IdP");
  await form.getByLabel("Issuer URL").fill(`${idp.issuer}/wrong-tenant`);
  await form.getByLabel("Client ID").fill(CLIENT.client_id);
  await form.getByLabel("Client secret").fill(CLIENT.client_secret);
  await form.getByLabel("Default role").selectOption("viewer");
  assert.equal(await form.getByLabel("Create accounts at the first sign-in (just-in-time)").isChecked(), true);
  await form.getByLabel("Group claim (optional)").fill("groups");
  await form.getByRole("button", { name: "Add a group" }).click();
  await form.getByLabel("Group 1", { exact: true }).fill("eng");
  await form.getByLabel("Role for group 1").selectOption("editor");
  await form.getByLabel("Scopes").fill("openid email profile groups");
  await expectAccessible(page, "create connection dialog");
  await form.getByRole("button", { name: "Create connection" }).click();
  await form.locator(".field", { has: page.getByLabel("Issuer URL") }).locator(".field-error").waitFor();
  assert.equal(await count("sso_connections WHERE org_id = ?", orgId), 0);
  await expectAccessible(page, "create connection with a field error");

  await form.getByLabel("Issuer URL").fill(idp.issuer);
  await form.getByRole("button", { name: "Create connection" }).click();
  const created = page.getByRole("dialog", { name: "Connection “Acme IdP” created" });
  const redirectUri = `${env.origin}/v1/auth/sso/callback`;
  assert.equal((await created.getByTestId("redirect-uri").textContent()).trim(), redirectUri);
  await created.getByRole("button", { name: "Copy redirect URI" }).click();
  await created.getByRole("button", { name: /Copied/ }).waitFor();
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), redirectUri);
  await expectAccessible(page, "connection created: the redirect URI");
  const row = await w.one("SELECT id, status, default_role, jit, group_claim, group_role_map, scopes, enforce, client_secret FROM sso_connections WHERE org_id = ?", orgId);
  assert.equal(row.status, "draft");
  assert.equal(row.default_role, "viewer");
  assert.equal(row.jit, 1);
  assert.equal(row.group_claim, "groups");
  assert.deepEqual(JSON.parse(row.group_role_map), { eng: "editor" });
  assert.equal(row.scopes, "openid email profile groups");
  assert.ok(!row.client_secret.includes(CLIENT.client_secret), "the secret is stored encrypted");
  await created.getByRole("button", { name: "Done" }).click();

  // A draft: activation waits for a successful test; enforcing for activation.
  const conn = page.getByRole("article", { name: "Acme IdP" });
  await conn.getByText("draft", { exact: true }).waitFor();
  assert.equal(await conn.getByRole("button", { name: "Activate Acme IdP" }).isDisabled(), true);
  await conn.getByText("Activation needs a successful test sign-in first").waitFor();
  assert.equal(await conn.getByRole("switch", { name: "Enforce SSO" }).isDisabled(), true);
  assert.ok(!(await page.content()).includes(CLIENT.client_secret), "the page never shows the secret");
  await expectAccessible(page, "a draft connection");

  // A test sign-in as someone outside the verified domain: back with the failure, explained.
  const mallory = person(`mallory-${domain}`, `mallory@elsewhere-${domain}`);
  await conn.getByRole("button", { name: "Test sign-in through Acme IdP" }).click();
  await signInAtProvider(page, mallory.sub);
  const failed = page.getByRole("region", { name: "Test sign-in through “Acme IdP” failed" });
  await failed.getByRole("alert").getByText("not one of the organization's verified domains").waitFor();
  await failed.getByText("(sso_domain_not_verified)").waitFor();
  await failed.getByTestId("claims").getByText(mallory.email, { exact: true }).waitFor();
  await conn.getByTestId("last-test").getByText(/^Failed/).waitFor();
  assert.equal(await conn.getByRole("button", { name: "Activate Acme IdP" }).isDisabled(), true);
  await expectAccessible(page, "a failed test sign-in's result");
  assert.equal((await w.one("SELECT tested_ok FROM sso_connections WHERE id = ?", row.id)).tested_ok, 0);
  // The provider's own session (not the console's) is forgotten, so that it asks who signs in next.
  await page.context().clearCookies({ name: /^(?!__Host-)/ });

  // The test sign-in: through the provider's pages and back to this screen with the result.
  const alice = person(`alice-${domain}`, `alice@${domain}`, { groups: ["eng"] });
  await conn.getByRole("button", { name: "Test sign-in through Acme IdP" }).click();
  await signInAtProvider(page, alice.sub);
  const outcome = page.getByRole("region", { name: "Test sign-in through “Acme IdP” succeeded" });
  await outcome.waitFor();
  assert.equal(new URL(page.url()).pathname, `/orgs/${orgId}/sso`);
  assert.equal(new URL(page.url()).search, "", "the result's parameters left the address");
  const claims = outcome.getByTestId("claims");
  await claims.getByText(alice.email, { exact: true }).waitFor();
  await claims.getByText(alice.sub, { exact: true }).waitFor();
  await claims.getByText("eng", { exact: true }).waitFor();
  await claims.getByText("Editor", { exact: true }).waitFor();
  await expectAccessible(page, "the test sign-in's result");
  const tested = await w.get(`/v1/orgs/${orgId}/sso-connections/${row.id}`, { token: admin.access_token });
  assert.equal(tested.body.last_test.ok, true, JSON.stringify(tested.body.last_test));
  assert.equal(tested.body.last_test.claims.email, alice.email);
  assert.equal(tested.body.last_test.claims.role, "editor");
  assert.equal(await count("users WHERE email = ?", alice.email), 0, "a test sign-in provisions nobody");

  // Activate.
  await conn.getByText("The last test sign-in succeeded").waitFor();
  await conn.getByRole("button", { name: "Activate Acme IdP" }).click();
  await conn.getByText("active", { exact: true }).waitFor();
  assert.equal((await w.one("SELECT status FROM sso_connections WHERE id = ?", row.id)).status, "active");

  // Edit with the secret left blank: only the role changes; still active (no credential changed).
  await conn.getByRole("button", { name: "Edit Acme IdP" }).click();
  const edit = page.getByRole("dialog", { name: "Edit “Acme IdP”" });
  assert.equal(await edit.getByLabel("Client secret").inputValue(), "");
  await edit.getByText("Leave it blank to keep the current secret.").waitFor();
  assert.equal(await edit.getByLabel("Group 1", { exact: true }).inputValue(), "eng");
  await edit.getByLabel("Default role").selectOption("member");
  await expectAccessible(page, "edit connection dialog");
  await edit.getByRole("button", { name: "Save changes" }).click();
  await edit.waitFor({ state: "detached" });
  await conn.getByText("Member", { exact: true }).waitFor();
  const edited = await w.one("SELECT status, default_role, client_secret FROM sso_connections WHERE id = ?", row.id);
  assert.equal(edited.default_role, "member");
  assert.equal(edited.status, "active");
  assert.equal(edited.client_secret, row.client_secret, "a blank secret keeps the stored one");

  // Enforce: the dialog says what stops and who keeps a password.
  await conn.getByRole("switch", { name: "Enforce SSO" }).click();
  const enforce = page.getByRole("dialog", { name: "Enforce single sign-on" });
  await enforce.getByText(domain).waitFor();
  await enforce.getByText("Password sign-in stops").waitFor();
  await enforce.getByText("owner keeps password sign-in").waitFor();
  await expectAccessible(page, "enforce dialog");
  assert.equal((await w.one("SELECT enforce FROM sso_connections WHERE id = ?", row.id)).enforce, 0, "nothing before the confirmation");
  await enforce.getByRole("button", { name: "Enforce SSO" }).click();
  await conn.getByText("enforced", { exact: true }).waitFor();
  assert.equal(await conn.getByRole("switch", { name: "Enforce SSO" }).isChecked(), true);
  assert.equal((await w.one("SELECT enforce FROM sso_connections WHERE id = ?", row.id)).enforce, 1);
  await expectAccessible(page, "an active, enforced connection");
  assertNoProblems(page);

  // The sign-in page for an address of the enforced domain: no password, SSO only; the
  // owner's break-glass asks for the password field.
  const visitor = await newPage(env);
  await visitor.goto("/signin");
  await visitor.getByLabel("Email").fill(`carol@${domain}`);
  await visitor.getByText("Your organization signs in through single sign-on").waitFor();
  assert.equal(await visitor.getByLabel("Password", { exact: true }).count(), 0);
  const go = visitor.getByRole("link", { name: "Continue with SSO" });
  assert.equal(new URL(await go.getAttribute("href")).pathname, "/v1/auth/sso/start");
  await expectAccessible(visitor, "sign-in, SSO enforced");
  await visitor.getByRole("button", { name: "I own the organization: use my password" }).click();
  await visitor.getByLabel("Password", { exact: true }).waitFor();
  assertNoProblems(visitor);
  await visitor.context().close();

  // At 375 px: nothing scrolls sideways, dialogs included.
  const narrow = await newPage(env, { width: 375, height: 800 });
  await signInThroughPage(narrow, admin.email, admin.password);
  await narrow.goto(`/orgs/${orgId}/sso`);
  await narrow.getByRole("article", { name: "Acme IdP" }).waitFor();
  await narrow.getByRole("article", { name: domain }).waitFor();
  assert.ok(await noSideScroll(narrow), "the single sign-on screen does not scroll sideways at 375 px");
  await expectAccessible(narrow, "single sign-on at 375 px");
  await narrow.getByRole("button", { name: "Create connection" }).click();
  await narrow.getByRole("dialog", { name: "Create a connection" }).getByRole("button", { name: "Add a group" }).click();
  assert.ok(await noSideScroll(narrow), "the connection form fits at 375 px");
  await expectAccessible(narrow, "create connection dialog at 375 px");
  assertNoProblems(narrow);
  await narrow.context().close();

  // Enforcement off again: said what comes back, then stored.
  await conn.getByRole("switch", { name: "Enforce SSO" }).click();
  const relax = page.getByRole("dialog", { name: "Stop enforcing single sign-on" });
  await relax.getByText("may sign in with their passwords again").waitFor();
  await relax.getByRole("button", { name: "Stop enforcing" }).click();
  await conn.getByText("enforced", { exact: true }).waitFor({ state: "detached" });
  assert.equal(await conn.getByRole("switch", { name: "Enforce SSO" }).isChecked(), false);
  assert.equal((await w.one("SELECT enforce, status FROM sso_connections WHERE id = ?", row.id)).enforce, 0);

  // Delete, after typing its name.
  await conn.getByRole("button", { name: "Delete Acme IdP" }).click();
  const del = page.getByRole("dialog", { name: "Delete connection" });
  const confirm = del.getByRole("button", { name: "Delete connection" });
  assert.equal(await confirm.isDisabled(), true);
  await del.getByLabel("Type “Acme IdP” to confirm").fill("Acme");
  assert.equal(await confirm.isDisabled(), true);
  await expectAccessible(page, "delete connection dialog");
  await del.getByLabel("Type “Acme IdP” to confirm").fill("Acme IdP");
  await confirm.click();
  await page.getByRole("heading", { name: "No connection yet" }).waitFor();
  assert.equal(await count("sso_connections WHERE org_id = ?", orgId), 0);
  assertNoProblems(page);
  await page.context().close();
});

test("2. a new person: Continue with SSO after the email → the provider → signed in to the console; D1 holds the user, membership and identity", async () => {
  const s = await ssoOrg({ default_role: "viewer" });
  const bob = person(`bob-${s.domain}`, `bob@${s.domain}`, { given_name: "Bob", family_name: "Baker", name: "Bob Baker" });
  assert.equal(await count("users WHERE email = ?", bob.email), 0);

  const page = await newPage(env);
  const exchanges = [];
  page.on("request", (r) => { if (new URL(r.url()).pathname === "/v1/auth/sso/exchange") exchanges.push(r.method()); });
  await page.goto("/signin");
  await page.getByLabel("Email").fill(bob.email);
  const go = page.getByRole("link", { name: "Continue with SSO" });
  await go.waitFor();
  await page.getByText(`Your organization offers single sign-on for ${s.domain}`).waitFor();
  // Not enforced: the password stays available.
  await page.getByLabel("Password", { exact: true }).waitFor();
  await expectAccessible(page, "sign-in with SSO offered");
  // Another address hides the offer again.
  await page.getByLabel("Email").fill("someone@elsewhere.test");
  await go.waitFor({ state: "detached" });
  await page.getByLabel("Email").fill(bob.email);
  await go.click();

  await signInAtProvider(page, bob.sub);
  await page.waitForURL((u) => u.pathname.startsWith(`/orgs/${s.org}`));
  await page.getByRole("link", { name: "Bob Baker" }).waitFor();
  assert.deepEqual(exchanges, ["POST"], "the one-time code is exchanged once");
  const cookie = (await page.context().cookies()).find((c) => c.name === "__Host-session");
  assert.ok(cookie, "the session is a cookie, as after a password sign-in");
  await expectAccessible(page, "signed in through SSO");

  const user = await w.one("SELECT id, status, federated_by, first_name, last_name FROM users WHERE email = ?", bob.email);
  assert.equal(user.status, "active");
  assert.equal(user.federated_by, s.connection.id);
  assert.equal(user.first_name, "Bob");
  assert.equal((await w.one("SELECT role FROM org_members WHERE org_id = ? AND user_id = ?", s.org, user.id)).role, "viewer");
  const identity = await w.one("SELECT user_id, org_id, email FROM sso_identities WHERE connection_id = ? AND subject = ?", s.connection.id, bob.sub);
  assert.deepEqual(identity, { user_id: user.id, org_id: s.org, email: bob.email });
  // A reload stays signed in: the session is the cookie's.
  await page.reload();
  await page.getByRole("link", { name: "Bob Baker" }).waitFor();
  assert.deepEqual(exchanges, ["POST"]);
  assertNoProblems(page);
  await page.context().close();

  // The account has no password: a password sign-in is refused with the way to SSO instead,
  // and counts nothing against the account.
  const later = await newPage(env);
  await later.goto("/signin");
  await later.getByLabel("Email").fill(bob.email);
  await later.getByLabel("Password", { exact: true }).fill("a guessed password");
  await later.getByRole("button", { name: "Sign in" }).click();
  await later.getByRole("status").getByRole("link", { name: "Continue with SSO" }).waitFor();
  await later.getByLabel("Password", { exact: true }).waitFor({ state: "detached" });
  assert.equal(await later.getByRole("alert").count(), 0, "no error: the page shows the way in");
  assert.equal((await w.one("SELECT failed_logins, status FROM users WHERE id = ?", user.id)).failed_logins, 0);
  await expectAccessible(later, "sign-in of an SSO-only account");
  assertNoProblems(later);
  await later.context().close();
});

test("3. what went wrong is explained on /sso/callback: a full org, an unverified email, a spent code, a lost state", async () => {
  const s = await ssoOrg();
  const discover = async (email) => {
    const r = await w.post("/v1/auth/sso/discover", { email });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    return r.body.authorize_url;
  };
  let page = await newPage(env);

  // Every seat taken: the newcomer is told, and nothing is created.
  await w.db.prepare("UPDATE orgs SET member_limit = (SELECT COUNT(*) FROM org_members WHERE org_id = ?) WHERE id = ?").bind(s.org, s.org).run();
  const fred = person(`fred-${s.domain}`, `fred@${s.domain}`);
  const users = await count("users");
  const members = await count("org_members WHERE org_id = ?", s.org);
  await page.goto(await discover(fred.email));
  await signInAtProvider(page, fred.sub);
  await page.waitForURL((u) => u.pathname === "/sso/callback");
  assert.equal(new URL(page.url()).searchParams.get("error"), "capacity_exceeded");
  await page.getByRole("heading", { name: "Single sign-on did not complete" }).waitFor();
  await page.getByRole("alert").getByText("The organization has no seats left").waitFor();
  await page.getByRole("link", { name: "Back to sign in" }).waitFor();
  await expectAccessible(page, "SSO callback: capacity exceeded");
  assert.equal(await count("users"), users);
  assert.equal(await count("sso_identities WHERE subject = ?", fred.sub), 0);
  await w.db.prepare("UPDATE orgs SET member_limit = 50 WHERE id = ?").bind(s.org).run();

  // The provider does not vouch for the email: refused, explained, nothing created.
  // (A fresh browser: the provider would otherwise sign the last person in again.)
  const eve = person(`eve-${s.domain}`, `eve@${s.domain}`, { email_verified: false });
  assertNoProblems(page);
  await page.context().close();
  page = await newPage(env);
  await page.goto(await discover(eve.email));
  await signInAtProvider(page, eve.sub);
  await page.waitForURL((u) => u.pathname === "/sso/callback");
  assert.equal(new URL(page.url()).searchParams.get("error"), "sso_email_unverified");
  await page.getByRole("alert").getByText("does not confirm that your email address is verified").waitFor();
  await expectAccessible(page, "SSO callback: email unverified");
  assert.equal(await count("users"), users);
  assert.equal(await count("org_members WHERE org_id = ?", s.org), members);

  // A code nobody issued (or one already used): explained; it left the address at once.
  const exchanges = [];
  page.on("request", (r) => { if (new URL(r.url()).pathname === "/v1/auth/sso/exchange") exchanges.push(r.method()); });
  await page.goto(`/sso/callback?code=${randomBytes(32).toString("base64url")}`);
  await page.getByRole("alert").getByText("already completed, or its code is unknown").waitFor();
  assert.equal(new URL(page.url()).search, "", "the code left the address bar");
  assert.deepEqual(exchanges, ["POST"]);
  await expectAccessible(page, "SSO callback: unknown code");

  // A lost or expired state: start again, from the sign-in page.
  await page.goto("/sso/callback?error=sso_state_invalid");
  await page.getByRole("alert").getByText("Start again").waitFor();
  await page.getByRole("link", { name: "Back to sign in" }).click();
  await page.getByRole("heading", { name: "Sign in" }).waitFor();
  assertNoProblems(page);
  await page.context().close();
});

test("4. an editor has no single sign-on screen: not in the navigation, and its address explains why without asking the API", async () => {
  const owner = await w.activeUser();
  const orgId = owner.organization.id;
  const editor = await w.activeUser();
  await w.joinOrg(editor, orgId, "editor");
  const page = await newPage(env);
  const asked = [];
  page.on("request", (r) => { if (/\/(domains|sso-connections)/.test(new URL(r.url()).pathname)) asked.push(r.url()); });
  await signInThroughPage(page, editor.email, editor.password);
  await page.goto(`/orgs/${orgId}/members`);
  await nav(page).getByRole("link", { name: "Members" }).waitFor();
  assert.equal(await nav(page).getByRole("link", { name: "Single sign-on" }).count(), 0);
  await page.goto(`/orgs/${orgId}/sso`);
  await page.getByText("Only the organization's owners and admins see this page").waitFor();
  assert.equal(await page.getByRole("button", { name: "Add domain" }).count(), 0);
  assert.deepEqual(asked, []);
  await expectAccessible(page, "single sign-on as an editor");
  // The API agrees.
  assert.equal((await w.get(`/v1/orgs/${orgId}/domains`, { token: editor.access_token })).status, 403);
  assertNoProblems(page);
  await page.context().close();
});

test("5. a domain whose record disappears shows as lapsed after the daily check; removing it asks first", async () => {
  const s = await ssoOrg();
  const d = (await w.get(`/v1/orgs/${s.org}/domains`, s.as)).body.data[0];
  doh.remove(d.verification.name);
  await w.scheduled();
  await w.until(async () => (await w.one("SELECT status FROM org_domains WHERE id = ?", d.id)).status === "lapsed", { what: "the domain lapsed" });

  const page = await newPage(env);
  await signInThroughPage(page, s.owner.email, s.owner.password);
  await page.goto(`/orgs/${s.org}/sso`);
  const card = page.getByRole("article", { name: s.domain });
  await card.getByText("lapsed", { exact: true }).waitFor();
  await card.getByText("Until the domain is verified again").waitFor();
  await card.getByRole("button", { name: `Verify ${s.domain}` }).waitFor();
  await expectAccessible(page, "a lapsed domain");

  await card.getByRole("button", { name: `Remove ${s.domain}` }).click();
  const dialog = page.getByRole("dialog", { name: "Remove domain" });
  await dialog.getByText(s.domain).waitFor();
  await expectAccessible(page, "remove domain dialog");
  await dialog.getByRole("button", { name: "Cancel" }).click();
  assert.equal(await count("org_domains WHERE id = ?", d.id), 1, "cancel keeps it");
  await card.getByRole("button", { name: `Remove ${s.domain}` }).click();
  await dialog.getByRole("button", { name: "Remove domain" }).click();
  await card.waitFor({ state: "detached" });
  assert.equal(await count("org_domains WHERE id = ?", d.id), 0);
  assertNoProblems(page);
  await page.context().close();
});
