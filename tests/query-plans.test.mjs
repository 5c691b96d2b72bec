// No statement reads other tenants' rows. The Worker runs with SQL_TRACE=1 (development
// only), which logs every statement `store::Db::stmt` prepares with its bound arguments; a
// workload drives every operation of /openapi.json to a success at least once (plus the
// error paths that have statements of their own, the cron and a failing mail delivery).
// Each distinct statement text is then explained (`EXPLAIN QUERY PLAN`, bound with the
// arguments of its first run) on the same D1, and its plan must not:
//   - SCAN a table (a full table scan) or SCAN a table USING an index (a full index scan);
//   - SEARCH an index whose equality prefix holds no tenant or principal key (org, user,
//     email, token hash, session, workspace, invitation, group, id …): a range on a time or
//     a status alone reads every tenant's rows in the range;
//   - build an AUTOMATIC index (a full scan to build it).
// The cron's sweeps across tenants (and the development mailbox) are the only exceptions,
// each listed with its reason and the one plan line it excuses.
// The triggers' statements and the foreign keys' child lookups (which EXPLAIN of the
// statement that fires them does not show) are checked the same way.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startWorker, freshEmail, freshIp, PASSWORD } from "./helpers.mjs";
import { outboundIdp, ISSUER, CLIENT_ID, CLIENT_SECRET } from "./support/outbound-idp.mjs";

const OPERATOR = "operator-secret-for-the-plans-test";
const INVITED = /invited you to join/;

/**
 * Statements that may read across tenants, by what they are for. `sql` picks the statement,
 * `plan` the one line of its plan that is allowed: anything else in it is still checked.
 */
const EXCEPTIONS = [
  {
    sql: /^SELECT id FROM invitations WHERE status = 'pending' AND expires_at <= \?1 ORDER BY expires_at LIMIT/,
    plan: /^SEARCH invitations USING (COVERING )?INDEX invitations_due \(status=\? AND expires_at<\?\)$/,
    reason: "cron, invitation expiry: the overdue invitations of every org, oldest first, LIMIT-bounded (invitations_due)",
  },
  {
    sql: /WHERE i\.status = 'pending' AND i\.expires_at > \?1 AND i\.expires_at <= \?1 \+ \?2 .*ORDER BY i\.expires_at LIMIT/,
    plan: /^SEARCH i USING INDEX invitations_due \(status=\? AND expires_at>\? AND expires_at<\?\)$/,
    reason: "cron, invitation reminders: pending invitations of every org expiring inside the reminder window, LIMIT-bounded",
  },
  {
    sql: /^DELETE FROM audit_events WHERE id IN \(SELECT id FROM audit_events WHERE at < \?1 ORDER BY at LIMIT/,
    plan: /^SEARCH audit_events USING (COVERING )?INDEX audit_events_at \(at<\?\)$/,
    reason: "cron, audit retention: events older than AUDIT_RETENTION_DAYS in every org, oldest first, LIMIT-bounded",
  },
  {
    sql: /^DELETE FROM sessions WHERE id IN \(SELECT id FROM sessions WHERE ended_at < \?1 OR expires_at < \?1 LIMIT/,
    plan: /^SEARCH sessions USING (COVERING )?INDEX sessions_(ended \(ended_at<\?\)|expiry \(expires_at<\?\))$/,
    reason: "cron sweep: sessions of every account that ended or expired a week ago, LIMIT-bounded",
  },
  {
    sql: /^DELETE FROM user_tokens WHERE token_hash IN \(SELECT token_hash FROM user_tokens WHERE used_at < \?1 OR expires_at < \?1 LIMIT/,
    plan: /^SEARCH user_tokens USING (COVERING )?INDEX user_tokens_(used \(used_at<\?\)|expiry \(expires_at<\?\))$/,
    reason: "cron sweep: emailed tokens of every account used or expired a week ago, LIMIT-bounded",
  },
  {
    sql: /^DELETE FROM rate_limits WHERE rowid IN \(SELECT rowid FROM rate_limits WHERE window_start < \?1 LIMIT/,
    plan: /^SEARCH rate_limits USING (COVERING )?INDEX rate_limits_window \(window_start<\?\)$/,
    reason: "cron sweep: rate-limit windows (of every client) that ended, LIMIT-bounded",
  },
  {
    sql: /^SELECT id, org_id, domain, status, token, created_at, verified_at, checked_at, check_error FROM org_domains WHERE status = 'verified' AND checked_at < \?1 ORDER BY checked_at LIMIT/,
    plan: /^SEARCH org_domains USING INDEX org_domains_recheck \(checked_at<\?\)$/,
    reason: "cron, domain re-check: verified domains of every org checked longest ago, LIMIT-bounded (20 lookups a run)",
  },
  {
    sql: /^DELETE FROM sso_(flows|codes) WHERE (id_hash|code_hash) IN \(SELECT (id_hash|code_hash) FROM sso_(flows|codes) WHERE expires_at < \?1 LIMIT/,
    plan: /^SEARCH sso_(flows|codes) USING (COVERING )?INDEX sso_(flows|codes)_expiry \(expires_at<\?\)$/,
    reason: "cron sweep: SSO sign-in flows and exchange codes (minutes-lived) of every org past expiry, LIMIT-bounded",
  },
  {
    sql: /^SELECT id, recipient, subject, text_body, html_body, created_at FROM dev_mailbox WHERE \?1 IS NULL AND id < \?2/,
    plan: /^SEARCH dev_mailbox USING INDEX sqlite_autoindex_dev_mailbox_1 \(id<\?\)$/,
    reason: "development only (GET /v1/dev/mailbox without ?to=): every delivered mail, newest first, in keyset pages",
  },
];

/** Columns that confine a search to one tenant or principal when bound by equality. */
const KEYS = new Set([
  "rowid", "id", "org_id", "created_by_org_id", "user_id", "subject_user_id", "owner_id",
  "principal_id", "invited_by", "created_by", "revoked_by", "email", "recipient", "token_hash",
  "session_id", "workspace_id", "invitation_id", "group_id", "token_id", "ref_id", "bucket",
  // SSO: a domain name (one org's at most, when verified), a connection, a one-time state or code.
  "domain", "connection_id", "subject", "id_hash", "code_hash", "federated_by",
]);

let w, mailWorker, schema, routes, idp;
/** Every traced statement: {sql, args}, in order. */
const traced = [];
/** "METHOD /pattern" → statuses answered. */
const answered = new Map();

function collect(log) {
  const at = log.message.indexOf("SQL_TRACE ");
  if (at >= 0) traced.push(JSON.parse(log.message.slice(at + "SQL_TRACE ".length)));
}

/** Records the route pattern and status of every request the client makes. */
function recording(client) {
  const request = client.request.bind(client);
  client.request = async (method, path, opts) => {
    const r = await request(method, path, opts);
    const bare = path.split("?")[0];
    const route = routes.find((x) => x.method === method && x.re.test(bare));
    if (route) {
      const key = `${method} ${route.pattern}`;
      answered.set(key, [...(answered.get(key) ?? []), r.status]);
    }
    return r;
  };
  return client;
}

before(async () => {
  idp = await outboundIdp();
  w = await startWorker({
    vars: { SQL_TRACE: "1", OPERATOR_TOKEN: OPERATOR, DNS_RESOLVER_URL: "https://dns.example.test/dns-query" },
    outbound: idp.outbound,
    onLog: collect,
  });
  const doc = (await w.get("/openapi.json")).body;
  routes = Object.entries(doc.paths).flatMap(([pattern, item]) =>
    Object.keys(item).filter((m) => ["get", "post", "put", "patch", "delete"].includes(m)).map((m) => ({
      method: m.toUpperCase(), pattern,
      re: new RegExp(`^${pattern.replace(/[.]/g, "\\.").replace(/\{[^}]+\}/g, "[^/]+")}$`),
    })));
  recording(w);
  // The mail consumer's failure path needs a provider that fails.
  mailWorker = await startWorker({
    vars: { SQL_TRACE: "1", EMAIL_PROVIDER: "http", EMAIL_HTTP_URL: "https://mail.test/send", EMAIL_API_KEY: "k", MAIL_MAX_ATTEMPTS: "1" },
    outbound: () => new Response("unavailable", { status: 503 }),
    onLog: collect,
  });
  const tables = await w.rows("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%' AND name <> 'd1_migrations'");
  const indexes = await w.rows("SELECT name, tbl_name FROM sqlite_master WHERE type = 'index'");
  schema = {
    tables: new Set(tables.map((t) => t.name)),
    indexTable: new Map(indexes.map((i) => [i.name, i.tbl_name])),
    triggers: await w.rows("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'"),
  };
});
after(async () => {
  await w?.dispose();
  await mailWorker?.dispose();
});

/** Every operation of the API, each answered with a success at least once. */
async function workload() {
  const call = async (method, path, body, status, opts = {}) => {
    const r = await w.request(method, path, { body, ip: freshIp(), ...opts });
    assert.equal(r.status, status, `${method} ${path}: ${JSON.stringify(r.body)}`);
    return r.body;
  };
  const linkIn = async (to, subject, n = 1) => w.until(async () => {
    const mails = (await w.get(`/v1/dev/mailbox?to=${encodeURIComponent(to)}`)).body?.data?.filter((m) => subject.test(m.subject)) ?? [];
    return mails.length >= n && mails[0].text.match(/token=([A-Za-z0-9_-]{43})/)?.[1];
  }, { what: `mail ${subject} to ${to}` });

  // platform
  for (const path of ["/health", "/health/ready", "/openapi.json", "/.well-known/jwks.json", "/v1/dev/mailbox?limit=1"]) {
    await call("GET", path, undefined, 200);
  }

  // accounts: signup, activation, login (wrong, right), refresh and its reuse, logout
  const o = await w.activeUser();
  const T = { token: o.access_token };
  const org = o.organization.id;
  const ws = o.workspace.id;
  const O = `/v1/orgs/${org}`;
  await call("POST", "/v1/auth/login", { email: o.email, password: "not the passphrase" }, 401);
  await call("POST", "/v1/auth/login", { email: freshEmail("ghost"), password: PASSWORD }, 401);
  const s1 = await call("POST", "/v1/auth/login", { email: o.email, password: PASSWORD }, 200);
  const s2 = await call("POST", "/v1/auth/refresh", { refresh_token: s1.refresh_token }, 200);
  await call("POST", "/v1/auth/refresh", { refresh_token: s1.refresh_token }, 401); // reuse ends it
  await call("POST", "/v1/auth/refresh", { refresh_token: s2.refresh_token }, 401);
  const s3 = await call("POST", "/v1/auth/login", { email: o.email, password: PASSWORD }, 200);
  await call("POST", "/v1/auth/logout", { refresh_token: s3.refresh_token }, 204);

  // the account itself
  const u = await w.activeUser();
  const U = { token: u.access_token };
  await call("GET", "/v1/me", undefined, 200, U);
  await call("PATCH", "/v1/me", { first_name: "Renamed", phone: "+14155550100" }, 200, U);
  const newPassword = "a brand new passphrase 77";
  await call("POST", "/v1/me/password", { current_password: PASSWORD, new_password: newPassword }, 204, U);
  const u2 = await call("POST", "/v1/auth/login", { email: u.email, password: newPassword }, 200);
  const U2 = { token: u2.access_token };
  const movedTo = freshEmail("moved");
  await call("POST", "/v1/me/email", { new_email: movedTo, password: newPassword }, 202, U2);
  await call("POST", "/v1/auth/email/verify", { token: await w.mailToken(movedTo, /Confirm/) }, 200);
  const u3 = await call("POST", "/v1/auth/login", { email: movedTo, password: newPassword }, 200);
  const sessions = await w.walk("/v1/me/sessions", u3.access_token, 1);
  const other = sessions.find((s) => !s.current);
  await call("DELETE", `/v1/me/sessions/${other.id}`, undefined, 204, { token: u3.access_token });
  await w.walk("/v1/me/activity", u3.access_token, 2);
  await call("POST", "/v1/auth/logout-all", undefined, 204, { token: u3.access_token });
  await call("POST", "/v1/auth/password/forgot", { email: movedTo }, 202);
  await call("POST", "/v1/auth/password/forgot", { email: freshEmail("nobody") }, 202);
  await call("POST", "/v1/auth/password/reset", { token: await w.mailToken(movedTo, /Reset/), new_password: "reset passphrase 99" }, 204);
  // a lockout, then the reset that lifts it
  const locked = await w.activeUser();
  for (let i = 0; i < 5; i += 1) await call("POST", "/v1/auth/login", { email: locked.email, password: "wrong wrong wrong" }, 401);
  await call("POST", "/v1/auth/login", { email: locked.email, password: PASSWORD }, 423);
  await call("POST", "/v1/auth/password/forgot", { email: locked.email }, 202);
  await call("POST", "/v1/auth/password/reset", { token: await w.mailToken(locked.email, /Reset/), new_password: "unlocked passphrase 5" }, 204);

  // orgs
  const orgB = await call("POST", "/v1/orgs", { name: "Second org" }, 201, T);
  await w.walk("/v1/orgs", o.access_token, 1);
  await call("GET", O, undefined, 200, T);
  await call("PATCH", O, { name: "Renamed org", description: "planned" }, 200, T);
  await call("GET", `${O}/usage`, undefined, 200, T);
  await call("GET", `${O}/roles`, undefined, 200, T);

  // workspaces and their members
  const ws2 = await call("POST", `${O}/workspaces`, { name: "Plans WS" }, 201, T);
  await call("PATCH", `${O}/workspaces/${ws2.id}`, { name: "Plans WS 2", description: "d" }, 200, T);
  await call("GET", `${O}/workspaces/${ws2.id}`, undefined, 200, T);
  const x = await w.activeUser();
  await call("PUT", `${O}/workspaces/${ws2.id}/members/${x.user.id}`, { role: "viewer" }, 200, T); // joins the org
  await call("PUT", `${O}/workspaces/${ws2.id}/members/${x.user.id}`, { role: "editor" }, 200, T);
  await w.walk(`${O}/workspaces`, o.access_token, 1);
  await w.walk(`${O}/workspaces/${ws2.id}/members`, o.access_token, 1);
  await w.walk(`/v1/orgs/${org}/workspaces`, x.access_token, 1); // a workspace-only member sees their own
  await call("DELETE", `${O}/workspaces/${ws2.id}/members/${x.user.id}`, undefined, 204, T);

  // groups
  const g = await call("POST", `${O}/groups`, { name: "Planners", description: "d" }, 201, T);
  const r = await call("POST", `${O}/groups`, { name: "Restricted", restrictions: [{ type: "dashboard", id: "d-9" }] }, 201, T);
  await call("PATCH", `${O}/groups/${g.id}`, { description: "they plan" }, 200, T);
  await call("GET", `${O}/groups/${g.id}`, undefined, 200, T);
  await w.walk(`${O}/groups`, o.access_token, 1);

  // members: created (both credentials, with a workspace and a group), existing accounts
  const m1 = await call("POST", `${O}/members`, {
    email: freshEmail("m1"), first_name: "Grace", last_name: "Hopper", role: "viewer", credential: "single_use_password",
    password: "temporary passphrase 7", workspaces: [{ workspace_id: ws2.id, role: "editor" }], groups: [g.id] }, 201, T);
  const m1Login = await w.login(m1.user.email, "temporary passphrase 7");
  assert.equal(m1Login.status, 403, JSON.stringify(m1Login.body));
  await call("POST", "/v1/me/password", { current_password: "temporary passphrase 7", new_password: "now truly mine 42" }, 204, { token: m1Login.body.change_token });
  const m2 = await call("POST", `${O}/members`, {
    email: freshEmail("m2"), first_name: "Alan", last_name: "Turing", role: "viewer", credential: "activation_email",
    groups: [r.id] }, 201, T);
  await call("PATCH", `${O}/members/${m1.user.id}`, { role: "editor" }, 200, T);
  await call("PATCH", `${O}/members/${m2.user.id}`, { first_name: "Alan M.", phone: "+442071838750" }, 200, T);
  await call("POST", `${O}/members/${m2.user.id}/resend-activation`, undefined, 202, T);
  await call("POST", `${O}/members/${m1.user.id}/reset-password`, { mode: "email" }, 202, T);
  await call("POST", `${O}/members/${m1.user.id}/reset-password`, { mode: "single_use_password" }, 200, T);
  const y = await w.activeUser();
  await call("POST", `${O}/members`, { email: y.email, first_name: "Y", last_name: "Y", role: "viewer", credential: "activation_email" }, 201, T);
  await call("PUT", `${O}/groups/${g.id}/members/${y.user.id}`, undefined, 204, T);
  await w.walk(`${O}/groups/${g.id}/members`, o.access_token, 1);
  await call("DELETE", `${O}/groups/${g.id}/members/${y.user.id}`, undefined, 204, T);
  // the directory: pages, filters, a held page, a stale one
  await w.walk(`${O}/members`, o.access_token, 2);
  await w.walk(`${O}/members`, o.access_token, 2);
  await call("GET", `${O}/members?role=viewer`, undefined, 200, T);
  await call("GET", `${O}/members?q=hopper`, undefined, 200, T);
  await call("GET", `${O}/members/${y.user.id}`, undefined, 200, T);
  await call("PATCH", `${O}/members/${y.user.id}`, { role: "editor" }, 200, T);
  await call("GET", `${O}/members?limit=2`, undefined, 200, T);

  // grants and the authorization check
  const userGrant = { principal: { type: "user", id: m1.user.id }, resource: { type: "dashboard", id: "d-1" } };
  const groupGrant = { principal: { type: "group", id: g.id }, resource: { type: "dashboard", id: "d-2" } };
  await call("PUT", `${O}/workspaces/${ws}/grants`, { ...userGrant, permission: "view" }, 201, T);
  await call("PUT", `${O}/workspaces/${ws}/grants`, { ...userGrant, permission: "edit" }, 200, T);
  await call("PUT", `${O}/workspaces/${ws}/grants`, { ...groupGrant, permission: "manage" }, 201, T);
  await w.walk(`${O}/workspaces/${ws}/grants`, o.access_token, 1);
  await call("GET", `${O}/workspaces/${ws}/grants?principal_type=user&principal_id=${m1.user.id}`, undefined, 200, T);
  await call("GET", `${O}/workspaces/${ws}/grants?resource_type=dashboard&resource_id=d-2`, undefined, 200, T);
  await call("POST", "/v1/authz/check", { workspace_id: ws, action: "view" }, 200, T);
  await call("POST", "/v1/authz/check", { workspace_id: ws, action: "edit", resources: [{ type: "dashboard", id: "d-1" }, { type: "dashboard", id: "d-2" }] }, 200, T);
  await call("DELETE", `${O}/workspaces/${ws}/grants`, userGrant, 204, T);

  // API tokens: org-wide and scoped, used, revoked
  const bot = await call("POST", `${O}/api-tokens`, { name: "Plans bot", role: "admin" }, 201, T);
  const scoped = await call("POST", `${O}/api-tokens`, { name: "Scoped bot", role: "viewer", workspaces: [ws] }, 201, T);
  await w.walk(`${O}/api-tokens`, o.access_token, 1);
  const B = { token: bot.token };
  await call("GET", `${O}/members`, undefined, 200, B);
  await call("GET", `${O}/workspaces`, undefined, 200, { token: scoped.token });
  const botWs = await call("POST", `${O}/workspaces`, { name: "Bot WS" }, 201, B);
  await call("POST", "/v1/authz/check", { user_id: m1.user.id, workspace_id: ws, action: "view", resources: [{ type: "dashboard", id: "d-2" }] }, 200, B);
  await call("POST", "/v1/authz/check", { user_id: m1.user.id, workspace_id: ws, action: "view" }, 200, { token: scoped.token });

  // invitations: created (with a workspace and a group), listed, resent, withdrawn, revived,
  // accepted with a new account and an existing one, declined
  const i1Email = freshEmail("i1");
  const inv1 = await call("POST", `${O}/invitations`, { email: i1Email, role: "viewer", message: "hi",
    workspaces: [{ workspace_id: ws2.id, role: "viewer" }], groups: [g.id] }, 201, T);
  await call("POST", `${O}/invitations/${inv1.id}/resend`, undefined, 200, T);
  await call("GET", `${O}/invitations/${inv1.id}`, undefined, 200, T);
  const link = await linkIn(i1Email, INVITED, 2);
  await call("GET", `/v1/invitations/${link}`, undefined, 200);
  const invitee = await call("POST", "/v1/invitations/accept", { token: link, password: "invitee passphrase 1", first_name: "Ivy", last_name: "Invitee" }, 201);
  const z = await w.activeUser();
  const inv2 = await call("POST", `${O}/invitations`, { email: z.email, role: "viewer" }, 201, B);
  await w.walk("/v1/me/invitations", z.access_token, 1);
  await call("POST", `/v1/me/invitations/${inv2.id}/decline`, undefined, 204, { token: z.access_token });
  const inv3 = await call("POST", `${O}/invitations`, { email: z.email, role: "editor" }, 201, T);
  await call("POST", `/v1/me/invitations/${inv3.id}/accept`, undefined, 200, { token: z.access_token });
  const v = await w.activeUser();
  await call("POST", `${O}/invitations`, { email: v.email, role: "viewer" }, 201, T);
  await call("POST", "/v1/invitations/accept", { token: await linkIn(v.email, INVITED) }, 200, { token: v.access_token });
  const inv4 = await call("POST", `${O}/invitations`, { email: freshEmail("i4"), role: "viewer" }, 201, T);
  await call("DELETE", `${O}/invitations/${inv4.id}`, undefined, 204, T);
  const inv5 = await call("POST", `${O}/invitations`, { email: freshEmail("i5"), role: "viewer" }, 201, T);
  await w.db.prepare("UPDATE invitations SET expires_at = ? WHERE id = ?").bind(Date.now() - 1000, inv5.id).run();
  await call("POST", `${O}/invitations/${inv5.id}/resend`, undefined, 200, T); // revives it
  const inv6 = await call("POST", `${O}/invitations`, { email: freshEmail("i6"), role: "viewer" }, 201, T);
  // several at once: one invited afresh after its invitation lapsed, one member, one pending
  const lapsed = freshEmail("i7");
  const inv7 = await call("POST", `${O}/invitations`, { email: lapsed, role: "viewer" }, 201, T);
  await w.db.prepare("UPDATE invitations SET expires_at = ? WHERE id = ?").bind(Date.now() - 1000, inv7.id).run();
  await call("POST", `${O}/invitations/batch`, { emails: [freshEmail("i8"), lapsed, z.email, inv6.email], role: "viewer",
    workspaces: [{ workspace_id: ws2.id, role: "viewer" }], groups: [g.id], message: "all of you" }, 200, T);
  for (const status of ["", "pending", "expired", "accepted", "declined", "withdrawn"]) {
    await w.walk(`${O}/invitations${status ? `?status=${status}` : ""}`, o.access_token, 1);
  }
  // an adding of an email with a pending invitation supersedes it
  const inv7Email = freshEmail("i7");
  await call("POST", `${O}/invitations`, { email: inv7Email, role: "viewer" }, 201, T);
  await call("POST", `${O}/members`, { email: inv7Email, first_name: "S", last_name: "S", role: "viewer", credential: "activation_email" }, 201, T);

  // the audit trail: filters, pages, export
  const audit = `${O}/audit-events`;
  await w.walk(audit, o.access_token, 5);
  const since = new Date(Date.now() - 3600_000).toISOString();
  const until = new Date(Date.now() + 3600_000).toISOString();
  for (const q of [`actor=${o.user.id}`, `actor=${bot.id}`, `actor=${encodeURIComponent(o.email)}`, "action=member.added",
    "action=invitation.*", `since=${since}&until=${until}`, `actor=${o.user.id}&action=group.*&since=${since}`]) {
    await call("GET", `${audit}?${q}`, undefined, 200, T);
  }
  const ndjson = await w.get(`${audit}?format=ndjson`, T);
  assert.equal(ndjson.status, 200);

  // removals and deletions
  await call("DELETE", `${O}/api-tokens/${bot.id}`, undefined, 204, T);
  await call("DELETE", `${O}/members/${y.user.id}`, undefined, 204, T);
  await call("DELETE", `${O}/users/${m2.user.id}`, undefined, 204, T);
  await call("DELETE", `${O}/groups/${r.id}`, undefined, 204, T);
  await call("DELETE", `${O}/workspaces/${botWs.id}`, undefined, 204, T);
  await call("DELETE", `${O}/workspaces/${ws2.id}`, undefined, 204, T);
  await call("PUT", `/v1/admin/orgs/${org}/limits`, { member_limit: 40 }, 200, { token: OPERATOR });
  await call("POST", `${O}/transfer-ownership`, { user_id: invitee.user.id }, 200, T);
  await call("DELETE", `/v1/orgs/${orgB.id}`, undefined, 204, T);
  await call("DELETE", "/v1/me", { password: PASSWORD }, 204, { token: x.access_token });

  // enterprise SSO: a domain verified, a connection tested, activated and enforced; a person
  // provisioned and signed in; the password routes refused; the cron's re-check
  const dom = await call("POST", `${O}/domains`, { domain: "plans.example.test" }, 201, T);
  await call("POST", `${O}/domains/${dom.id}/verify`, undefined, 422, T);
  idp.txt.set(dom.verification.name, [dom.verification.value]);
  await call("POST", `${O}/domains/${dom.id}/verify`, undefined, 200, T);
  await call("GET", `${O}/domains`, undefined, 200, T);
  await call("GET", `${O}/domains/${dom.id}`, undefined, 200, T);
  const spare = await call("POST", `${O}/domains`, { domain: "spare.example.test" }, 201, T);
  await call("DELETE", `${O}/domains/${spare.id}`, undefined, 204, T);
  const conn = await call("POST", `${O}/sso-connections`, {
    issuer: ISSUER, client_id: CLIENT_ID, client_secret: CLIENT_SECRET, default_role: "viewer", jit: true,
    group_claim: "groups", group_role_map: { editors: "editor" },
  }, 201, T);
  await call("GET", `${O}/sso-connections`, undefined, 200, T);
  await call("GET", `${O}/sso-connections/${conn.id}`, undefined, 200, T);
  const ssoEmail = "pat@plans.example.test";
  const claims = { sub: "pat-1", email: ssoEmail, email_verified: true, given_name: "Pat", family_name: "Q", groups: ["editors"] };
  const tested = await call("POST", `${O}/sso-connections/${conn.id}/test`, undefined, 200, T);
  assert.match(await idp.signIn(w, new URL(tested.authorize_url).pathname + new URL(tested.authorize_url).search, claims), /test=ok/);
  await call("PATCH", `${O}/sso-connections/${conn.id}`, { status: "active", enforce: true }, 200, T);
  const found = await call("POST", "/v1/auth/sso/discover", { email: ssoEmail }, 200);
  const back = new URL(await idp.signIn(w, new URL(found.authorize_url).pathname + new URL(found.authorize_url).search, claims));
  const ssoLogin = await call("POST", "/v1/auth/sso/exchange", { code: back.searchParams.get("code") }, 200);
  await call("POST", "/v1/auth/login", { email: ssoEmail, password: PASSWORD }, 403);
  await call("POST", "/v1/auth/password/forgot", { email: "anyone@plans.example.test" }, 403);
  await call("PATCH", "/v1/me", { first_name: "Local" }, 403, { token: ssoLogin.access_token });
  // the second sign-in finds the identity; removal keeps it but ends the sessions
  const again = new URL(await idp.signIn(w, new URL(found.authorize_url).pathname + new URL(found.authorize_url).search, claims));
  await call("POST", "/v1/auth/sso/exchange", { code: again.searchParams.get("code") }, 200);
  await call("DELETE", `${O}/members/${ssoLogin.user.id}`, undefined, 204, T);
  const spareConn = await call("POST", `${O}/sso-connections`, {
    issuer: ISSUER, client_id: CLIENT_ID, client_secret: CLIENT_SECRET, default_role: "member", jit: false,
  }, 201, T);
  await call("DELETE", `${O}/sso-connections/${spareConn.id}`, undefined, 204, T);
  // SCIM provisioning: a token, the settings
  const scimToken = await call("POST", `${O}/scim-tokens`, { name: "plans" }, 201, T);
  await call("GET", `${O}/scim-tokens`, undefined, 200, T);
  await call("GET", `${O}/scim-settings`, undefined, 200, T);
  await call("PUT", `${O}/scim-settings`, { default_role: "viewer", group_role_map: { Engineering: "editor" }, activation: null }, 200, T);
  const doomedScim = await call("POST", `${O}/scim-tokens`, {}, 201, T);
  await call("DELETE", `${O}/scim-tokens/${doomedScim.id}`, undefined, 204, T);
  // …and the SCIM service with it: users and groups written, filtered, paged, searched
  const S = { token: scimToken.token, headers: { "content-type": "application/scim+json" } };
  const scim = async (method, path, body, status) => {
    const r = await w.request(method, `/scim/v2${path}`, { body, ip: freshIp(), ...S });
    assert.equal(r.status, status, `${method} ${path}: ${JSON.stringify(r.body)}`);
    return r.body;
  };
  for (const path of ["/ServiceProviderConfig", "/ResourceTypes", "/Schemas"]) await scim("GET", path, undefined, 200);
  const su = await scim("POST", "/Users", { schemas: ["urn:ietf:params:scim:schemas:core:2.0:User"], userName: "scim.plans",
    name: { givenName: "Sam", familyName: "Plans" }, emails: [{ value: "scim.plans@example.com", type: "work", primary: true }],
    externalId: "ext-plans", active: true }, 201);
  await scim("GET", `/Users?filter=${encodeURIComponent('userName eq "scim.plans"')}`, undefined, 200);
  await scim("GET", `/Users?filter=${encodeURIComponent('externalId eq "ext-plans"')}`, undefined, 200);
  await scim("GET", `/Users?filter=${encodeURIComponent('emails[type eq "work"].value eq "scim.plans@example.com"')}`, undefined, 200);
  await scim("GET", `/Users?filter=${encodeURIComponent('displayName eq "Sam Plans"')}`, undefined, 200);
  await scim("GET", "/Users?startIndex=2&count=5", undefined, 200);
  await scim("PATCH", `/Users/${su.id}`, { schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
    Operations: [{ op: "Replace", path: "active", value: "False" }] }, 200);
  await scim("PUT", `/Users/${su.id}`, { schemas: ["urn:ietf:params:scim:schemas:core:2.0:User"], userName: "scim.plans",
    emails: [{ value: "scim.plans@example.com", primary: true }], active: true }, 200);
  const sg = await scim("POST", "/Groups", { schemas: ["urn:ietf:params:scim:schemas:core:2.0:Group"], displayName: "Plans SCIM",
    members: [{ value: su.id }] }, 201);
  await scim("GET", `/Groups?filter=${encodeURIComponent('displayName eq "Plans SCIM"')}&excludedAttributes=members`, undefined, 200);
  await scim("GET", `/Groups?filter=${encodeURIComponent(`id eq "${sg.id}" and members[value eq "${su.id}"]`)}`, undefined, 200);
  await scim("PATCH", `/Groups/${sg.id}`, { schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
    Operations: [{ op: "Remove", path: `members[value eq "${su.id}"]` }] }, 200);
  await scim("PUT", `/Groups/${sg.id}`, { schemas: ["urn:ietf:params:scim:schemas:core:2.0:Group"], displayName: "Plans SCIM 2", members: [{ value: su.id }] }, 200);
  await scim("POST", "/.search", { schemas: ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], attributes: ["externalId"] }, 200);
  await scim("DELETE", `/Groups/${sg.id}`, undefined, 204);
  await scim("DELETE", `/Users/${su.id}`, undefined, 204);
  await w.db.prepare("UPDATE org_domains SET checked_at = 0 WHERE id = ?").bind(dom.id).run();
  await w.db.prepare("UPDATE sso_flows SET expires_at = 0").run();

  // the cron: an overdue invitation, a reminder due, old sessions, tokens and events
  const now = Date.now();
  await w.db.prepare("UPDATE invitations SET expires_at = ? WHERE id = ?").bind(now - 1000, inv6.id).run();
  await w.db.prepare("UPDATE invitations SET expires_at = ?, last_sent_at = ? WHERE id = ?").bind(now + 3600_000, now - 2 * 86_400_000, inv5.id).run();
  await w.db.prepare("UPDATE audit_events SET at = ? WHERE id = (SELECT MIN(id) FROM audit_events)").bind(now - 400 * 86_400_000).run();
  await w.db.prepare("UPDATE sessions SET ended_at = ? WHERE ended_at IS NOT NULL").bind(now - 8 * 86_400_000).run();
  await w.db.prepare("UPDATE user_tokens SET used_at = ? WHERE used_at IS NOT NULL").bind(now - 8 * 86_400_000).run();
  await w.scheduled();
  assert.equal((await w.one("SELECT status FROM invitations WHERE id = ?", inv6.id)).status, "expired");
  assert.ok((await w.one("SELECT reminded_at FROM invitations WHERE id = ?", inv5.id)).reminded_at);

  // a delivery that fails (the consumer's failure path), on the worker whose provider fails
  const failing = freshEmail("undeliverable");
  assert.equal((await mailWorker.post("/v1/auth/signup", { email: failing, password: PASSWORD, first_name: "F", last_name: "F",
    organization: { name: "F" }, workspace: { name: "F" } })).status, 201);
  await mailWorker.until(async () => (await mailWorker.one("SELECT status FROM outbox WHERE recipient = ?", failing))?.status === "failed",
    { what: "the failed delivery" });
}

/** Waits until the trace holds a statement logged after everything before it. */
async function flushTrace() {
  const marker = freshEmail("flush");
  await w.get(`/v1/dev/mailbox?to=${encodeURIComponent(marker)}`);
  await w.until(() => traced.some((t) => t.args.includes(marker)), { what: "the trace to catch up" });
}

/** Names and aliases of the tables a statement names (FROM/JOIN/INTO/UPDATE t [AS] a). */
function tablesOf(sql) {
  const named = new Map();
  const re = /\b(?:FROM|JOIN|INTO|UPDATE)\s+([a-z_]+)(?:\s+(?:AS\s+)?([a-z_]+))?/gi;
  for (const [, table, alias] of sql.matchAll(re)) {
    if (!schema.tables.has(table)) continue;
    named.set(table, table);
    if (alias && !/^(WHERE|ON|SET|SELECT|LEFT|JOIN|CROSS|INNER|ORDER|GROUP|LIMIT|VALUES|USING|AND|OR|RETURNING|DEFAULT)$/i.test(alias)) {
      named.set(alias, table);
    }
  }
  return named;
}

/** What is wrong with one line of a plan, or null. */
function problemOf(detail, named) {
  // How a table is joined or tested is not what it reads: `SEARCH t LEFT-JOIN`, `EXISTS`.
  const d = detail.replace(/^INDEX \d+: /, "").replace(/ LEFT-JOIN$/, "").replace(/^(SCAN|SEARCH) (\S+) EXISTS /, "$1 $2 ");
  if (/^(SCAN CONSTANT ROW|SCALAR SUBQUERY|CORRELATED SCALAR SUBQUERY|LIST SUBQUERY|CORRELATED LIST SUBQUERY|CO-ROUTINE|MATERIALIZE|MULTI-INDEX OR|INDEX \d+$|USE TEMP B-TREE|COMPOUND QUERY|LEFT-MOST SUBQUERY|UNION ALL|UNION USING|RIGHT-JOIN|CREATE BLOOM FILTER|REUSE SUBQUERY \d+$)/.test(d)) return null;
  let m = d.match(/^SCAN (\S+)(?: (VIRTUAL TABLE)| USING (?:COVERING )?INDEX (\S+))?/);
  if (m) {
    if (m[2]) return null; // json_each
    const table = m[3] ? schema.indexTable.get(m[3]) : named.get(m[1]);
    if (table) return m[3] ? `full scan of index ${m[3]} of ${table}` : `full scan of ${table}`;
    if (/^\(subquery-\d+\)$|^\(join-\d+\)$/.test(m[1])) return null;
    return `scan of ${m[1]}, which is no table this check knows`;
  }
  m = d.match(/^SEARCH (\S+) USING (AUTOMATIC )?(?:PARTIAL )?(?:COVERING )?(?:INDEX (\S+)|INTEGER PRIMARY KEY|PRIMARY KEY) \((.*)\)$/);
  if (m) {
    if (m[2]) return `an automatic index on ${m[1]} (built by scanning it)`;
    const equal = [];
    for (const c of m[4].split(" AND ")) {
      const eq = c.match(/^([a-z_]+)=\?$/);
      if (!eq) break;
      equal.push(eq[1]);
    }
    if (equal.some((c) => KEYS.has(c))) return null;
    return `search of ${m[3] ?? "the primary key"} by (${m[4]}): no tenant or principal key`;
  }
  return `a plan line this check does not know: ${detail}`;
}

/** The problems of one statement's plan: [{detail, problem}]. */
async function explain(sql, args) {
  const plan = (await w.db.prepare(`EXPLAIN QUERY PLAN ${sql}`).bind(...args).all()).results;
  const named = tablesOf(sql);
  return plan.flatMap((row) => {
    const problem = problemOf(row.detail, named);
    return problem ? [{ detail: row.detail, problem }] : [];
  });
}

test("every statement the service issues reads only its tenant's or principal's rows", async (t) => {
  await workload();
  await flushTrace();

  // Every operation was driven to a success at least once.
  const missed = routes.map((r) => `${r.method} ${r.pattern}`)
    // The SSO start and callback answer with a redirect when they succeed.
    .filter((key) => !(answered.get(key) ?? []).some((s) => s >= 200 && s < 400));
  assert.deepEqual(missed, [], "operations the workload never drove to a success");

  const distinct = new Map();
  for (const t of traced) if (!distinct.has(t.sql)) distinct.set(t.sql, t.args);
  // About 170 when this was written; far fewer means the trace or the workload broke.
  assert.ok(distinct.size >= 150, `only ${distinct.size} distinct statements traced`);
  t.diagnostic(`${traced.length} statements traced, ${distinct.size} distinct, each explained`);

  const failures = [];
  const used = new Set();
  for (const [sql, args] of distinct) {
    for (const { detail, problem } of await explain(sql, args)) {
      const excused = EXCEPTIONS.find((e) => e.sql.test(sql) && e.plan.test(detail));
      if (excused) used.add(excused);
      else failures.push(`${problem}\n    plan: ${detail}\n    sql: ${sql}`);
    }
  }
  assert.deepEqual(failures, [], `${failures.length} statements read other tenants' rows:\n${failures.join("\n")}`);
  const stale = EXCEPTIONS.filter((e) => !used.has(e)).map((e) => e.reason);
  assert.deepEqual(stale, [], "exceptions no statement needs any more");
});

test("the triggers' statements search by key too", async () => {
  const failures = [];
  let checked = 0;
  for (const { name, sql } of schema.triggers) {
    const body = sql.slice(sql.search(/\bBEGIN\b/i) + 5, sql.search(/\bEND\s*$/i));
    for (const stmt of body.split(";").map((s) => s.trim()).filter(Boolean)) {
      // NEW.x / OLD.x are one row's values: a bound value plans the same.
      const bound = stmt.replace(/\b(NEW|OLD)\.[a-z_]+/gi, "?");
      const args = Array.from(bound.matchAll(/\?/g), () => "00000000-0000-7000-8000-000000000000");
      checked += 1;
      for (const { detail, problem } of await explain(bound, args)) failures.push(`${name}: ${problem} (${detail})`);
    }
  }
  assert.ok(checked >= 14, `only ${checked} trigger statements found`);
  assert.deepEqual(failures, []);
});

test("every foreign key's child rows are found by an index (deleting a parent scans no table)", async () => {
  const failures = [];
  let checked = 0;
  for (const table of schema.tables) {
    for (const fk of await w.rows(`SELECT "table" AS parent, "from" AS col FROM pragma_foreign_key_list('${table}')`)) {
      checked += 1;
      const plan = (await w.db.prepare(`EXPLAIN QUERY PLAN SELECT 1 FROM ${table} WHERE ${fk.col} = ?1`).bind("x").all()).results;
      const detail = plan.map((p) => p.detail).join("; ");
      if (!new RegExp(`^SEARCH ${table} USING (COVERING )?INDEX \\S+ \\(${fk.col}=\\?\\)$`).test(detail)) {
        failures.push(`${table}.${fk.col} → ${fk.parent}: ${detail}`);
      }
    }
  }
  assert.ok(checked >= 20, `only ${checked} foreign keys found`);
  assert.deepEqual(failures, []);
});
