// Serves the built Worker (build/) with Miniflare on 127.0.0.1:<port> for the contract run
// (`npm run test:contract`, scripts/contract.sh) and creates, through the Worker's own API,
// the fixtures schemathesis needs so that path parameters name real resources:
//
//   node scripts/contract-server.mjs <port> <fixtures.json>
//
// Two independent fixtures are written to <fixtures.json> ({base_url, operator_token, main,
// destructive}): `main` for the run over every operation except the few that end the
// caller's account, sessions or org, `destructive` (another user and org) for those. Each:
// an active owner (signed up, activated through the dev mailbox) and its access token; its
// org; workspaces, managed members (pending viewers), groups and pending invitations, one
// shared by the reads and updates and one for each operation that deletes such a thing; the
// emailed link of an invitation nothing resends or withdraws; two invitations from a foreign
// org to the owner (accept, decline); a second session of the owner; an admin API token.
// Stays up until SIGTERM/SIGINT, then disposes Miniflare.
import { writeFileSync, renameSync } from "node:fs";
import { startWorker, freshEmail } from "../tests/helpers.mjs";
import { outboundIdp, ISSUER, CLIENT_ID, CLIENT_SECRET } from "../tests/support/outbound-idp.mjs";

const port = Number(process.argv[2] ?? 8790);
const out = process.argv[3];
if (!out) throw new Error("usage: contract-server.mjs <port> <fixtures.json>");

// Not a password any example in the document uses: only the `password` dictionary of
// scripts/contract.toml puts it into bodies (changeEmail, deleteMe), never changePassword.
const PASSWORD = "contract fixture 7Qx-vintage-lantern";
const OPERATOR_TOKEN = "contract-operator-token-0123456789abcdef";

// The SSO routes' provider and DNS resolver, answered in-process (tests/support/outbound-idp.mjs).
const idp = await outboundIdp();
const w = await startWorker({
  port,
  outbound: idp.outbound,
  vars: {
    DNS_RESOLVER_URL: "https://dns.example.test/dns-query",
    RATE_LIMIT_PER_IP: "1000000",
    RATE_LIMIT_PER_ACCOUNT: "1000000",
    LOCKOUT_THRESHOLD: "100", // the most config.rs accepts
    ACCESS_TOKEN_TTL_SECONDS: "86400",
    DEFAULT_MEMBER_LIMIT: "100000",
    OPERATOR_TOKEN,
  },
});

let stopping = false;
async function stop() {
  if (stopping) return;
  stopping = true;
  try { await w.dispose(); } finally { process.exit(0); }
}
process.on("SIGTERM", stop);
process.on("SIGINT", stop);

function expect(r, status, what) {
  if (r.status !== status) {
    throw new Error(`fixture: ${what} answered ${r.status}, expected ${status}: ${JSON.stringify(r.body)}`);
  }
  return r.body;
}

async function fixture(label) {
  const owner = await w.activeUser({ email: freshEmail(`contract-${label}`), password: PASSWORD });
  const token = owner.access_token;
  const org = owner.organization.id;
  const opts = { token };
  const post = async (path, body, what, o = opts) => expect(await w.post(path, body, o), 201, what);

  const workspace = async (name) => (await post(`/v1/orgs/${org}/workspaces`, { name }, "create workspace")).id;
  const member = async (name) => (await post(`/v1/orgs/${org}/members`, {
    email: freshEmail(`contract-${label}-${name}`), first_name: "Grace", last_name: name,
    role: "viewer", credential: "activation_email",
  }, "create member")).user.id;
  const group = async (name) => (await post(`/v1/orgs/${org}/groups`, { name }, "create group")).id;
  const invite = async (email) =>
    (await post(`/v1/orgs/${org}/invitations`, { email, role: "viewer" }, "create invitation")).id;

  // A foreign org (of another user, with a second org of its own) invites the owner twice:
  // the owner's inbox invitations, one to accept and one to decline.
  const other = await w.activeUser({ email: freshEmail(`contract-${label}-other`), password: PASSWORD });
  const otherOpts = { token: other.access_token };
  const otherOrg2 = (await post("/v1/orgs", { name: "Foreign two" }, "create foreign org", otherOpts)).id;
  const inboxInvite = async (o) => (await post(`/v1/orgs/${o}/invitations`,
    { email: owner.email, role: "viewer" }, "create inbox invitation", otherOpts)).id;

  const previewEmail = freshEmail(`contract-${label}-preview`);
  const previewInvitation = await invite(previewEmail);

  const fx = {
    email: owner.email,
    password: PASSWORD,
    user_id: owner.user.id,
    access_token: token,
    org,
    default_workspace: owner.workspace.id,
    // Shared targets of reads and updates...
    ws: await workspace("Contract target"),
    user: await member("Member"),
    group: await group("Contract group"),
    invitation: await invite(freshEmail(`contract-${label}-invitee`)),
    // ...and one target per operation that deletes it, so the others keep theirs.
    ws_deleted: await workspace("Contract doomed"),
    user_removed: await member("Removed"),
    user_deleted: await member("Deleted"),
    group_deleted: await group("Contract doomed group"),
    invitation_withdrawn: await invite(freshEmail(`contract-${label}-withdrawn`)),
    // The link of an invitation nothing resends or withdraws (a resend kills older links).
    preview_invitation: previewInvitation,
    invitation_token: await w.mailToken(previewEmail, /invit/i),
    inbox_invitation_accept: await inboxInvite(other.organization.id),
    inbox_invitation_decline: await inboxInvite(otherOrg2),
  };

  // A second session of the owner, the target of DELETE /v1/me/sessions/{session}.
  expect(await w.login(owner.email, PASSWORD), 200, "second login");
  const sessions = expect(await w.get("/v1/me/sessions", opts), 200, "list sessions").data;
  fx.session = sessions.find((s) => !s.current).id;

  // SSO: a domain and a connection shared by the reads and updates, one of each to delete.
  const domain = async (name) => (await post(`/v1/orgs/${org}/domains`,
    { domain: `${name}-${label}.contract.example.test` }, "add domain")).id;
  const connection = async () => (await post(`/v1/orgs/${org}/sso-connections`, {
    issuer: ISSUER, client_id: CLIENT_ID, client_secret: CLIENT_SECRET, default_role: "viewer", jit: true,
  }, "create SSO connection")).id;
  fx.domain = await domain("shared");
  fx.domain_removed = await domain("doomed");
  fx.connection = await connection();
  fx.connection_deleted = await connection();

  const apiToken = await post(`/v1/orgs/${org}/api-tokens`, { name: "contract", role: "admin" }, "create api token");
  fx.api_token_id = apiToken.id;
  fx.api_token = apiToken.token;
  return fx;
}

try {
  const fixtures = {
    base_url: `http://127.0.0.1:${port}`,
    operator_token: OPERATOR_TOKEN,
    main: await fixture("main"),
    destructive: await fixture("destructive"),
  };
  writeFileSync(`${out}.tmp`, JSON.stringify(fixtures, null, 2));
  renameSync(`${out}.tmp`, out);
  console.log(`contract server: ${fixtures.base_url} ready, fixtures in ${out}`);
} catch (e) {
  console.error(e);
  await w.dispose();
  process.exit(1);
}
