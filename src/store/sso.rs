//! Enterprise SSO: an org's verified domains and OpenID connections, the sign-in flows in
//! flight, the one-time exchange codes, and federated identities.

use super::{Found, OrgStore, Query, Stmt, Store};
use crate::args;
use crate::domain::ids::{ConnectionId, DomainId, OrgId, UserId};
use crate::domain::roles::OrgRole;
use crate::domain::time::Timestamp;
use crate::error::ApiResult;
use serde::Deserialize;

// ---- Domains -------------------------------------------------------------------------

#[derive(Debug, Clone, Deserialize)]
pub struct DomainRow {
    pub id: DomainId,
    pub org_id: OrgId,
    pub domain: String,
    pub status: String,
    pub token: String,
    pub created_at: i64,
    pub verified_at: Option<i64>,
    pub checked_at: Option<i64>,
    pub check_error: Option<String>,
}

const DOMAIN_COLUMNS: &str =
    "id, org_id, domain, status, token, created_at, verified_at, checked_at, check_error";

pub struct NewDomain<'a> {
    pub id: DomainId,
    pub domain: &'a str,
    pub token: &'a str,
    pub by: Option<UserId>,
    pub now: Timestamp,
}

pub fn insert_domain(store: &OrgStore, d: &NewDomain<'_>) -> ApiResult<Stmt> {
    let (db, org) = (&store.global.db, store.org);
    db.stmt(
        "INSERT INTO org_domains (id, org_id, domain, status, token, created_by, created_at) \
         VALUES (?1, ?2, ?3, 'pending', ?4, ?5, ?6)",
        args![d.id, org, d.domain, d.token, d.by, d.now],
    )
}

/// Oldest first: an org has a handful.
pub fn domains_stmt(store: &OrgStore) -> ApiResult<Query<DomainRow>> {
    let (db, org) = (&store.global.db, store.org);
    db.query(
        &format!(
            "SELECT {DOMAIN_COLUMNS} FROM org_domains WHERE org_id = ?1 ORDER BY created_at, id LIMIT 100"
        ),
        args![org],
    )
}

pub fn domain_stmt(store: &OrgStore, id: DomainId) -> ApiResult<Query<DomainRow>> {
    let (db, org) = (&store.global.db, store.org);
    db.query(
        &format!("SELECT {DOMAIN_COLUMNS} FROM org_domains WHERE org_id = ?1 AND id = ?2"),
        args![org, id],
    )
}

/// A row (`Found`) when this org already claims `domain`.
pub fn domain_claimed_stmt(store: &OrgStore, domain: &str) -> ApiResult<Query<Found>> {
    let (db, org) = (&store.global.db, store.org);
    db.query(
        "SELECT 1 AS found FROM org_domains WHERE org_id = ?1 AND domain = ?2",
        args![org, domain],
    )
}

/// A row (`Found`) when another org has verified `domain`.
pub fn verified_elsewhere_stmt(store: &OrgStore, domain: &str) -> ApiResult<Query<Found>> {
    let (db, org) = (&store.global.db, store.org);
    db.query(
        "SELECT 1 AS found FROM org_domains \
         WHERE domain = ?2 AND status = 'verified' AND org_id <> ?1",
        args![org, domain],
    )
}

pub fn delete_domain(store: &OrgStore, id: DomainId) -> ApiResult<Stmt> {
    let (db, org) = (&store.global.db, store.org);
    db.stmt(
        "DELETE FROM org_domains WHERE org_id = ?1 AND id = ?2",
        args![org, id],
    )
}

/// The unique index on verified domains makes a second org's verification fail the batch
/// (`store::map_d1_error`: `domain_taken`), whatever raced.
pub fn mark_verified(store: &OrgStore, id: DomainId, now: Timestamp) -> ApiResult<Stmt> {
    let (db, org) = (&store.global.db, store.org);
    db.stmt(
        "UPDATE org_domains SET status = 'verified', verified_at = ?3, checked_at = ?3, \
           check_error = NULL WHERE org_id = ?1 AND id = ?2",
        args![org, id, now],
    )
}

pub fn record_check(
    store: &OrgStore,
    id: DomainId,
    error: &str,
    now: Timestamp,
) -> ApiResult<Stmt> {
    let (db, org) = (&store.global.db, store.org);
    db.stmt(
        "UPDATE org_domains SET checked_at = ?3, check_error = ?4 WHERE org_id = ?1 AND id = ?2",
        args![org, id, now, error],
    )
}

/// Verified domains whose record was checked longest ago, before `cutoff` (the cron's
/// re-check; the partial index holds verified domains only, and verifying sets `checked_at`).
pub fn due_for_recheck_stmt(
    store: &Store,
    cutoff: Timestamp,
    limit: i64,
) -> ApiResult<Query<DomainRow>> {
    let db = &store.db;
    db.query(
        &format!(
            "SELECT {DOMAIN_COLUMNS} FROM org_domains \
             WHERE status = 'verified' AND checked_at < ?1 \
             ORDER BY checked_at LIMIT ?2"
        ),
        args![cutoff, limit],
    )
}

/// The cron's verdict on a verified domain: still there (`lapsed` false), or gone.
pub fn recheck_done(
    store: &Store,
    id: DomainId,
    lapsed: Option<&str>,
    now: Timestamp,
) -> ApiResult<Stmt> {
    let db = &store.db;
    db.stmt(
        "UPDATE org_domains SET checked_at = ?2, check_error = ?3, \
           status = CASE WHEN ?3 IS NULL THEN status ELSE 'lapsed' END \
         WHERE id = ?1 AND status = 'verified'",
        args![id, now, lapsed],
    )
}

/// The cron's recheck, for a failed resolver: only the time of the attempt.
pub fn recheck_deferred(store: &Store, id: DomainId, now: Timestamp) -> ApiResult<Stmt> {
    let db = &store.db;
    db.stmt(
        "UPDATE org_domains SET checked_at = ?2 WHERE id = ?1 AND status = 'verified'",
        args![id, now],
    )
}

// ---- Connections ---------------------------------------------------------------------

#[derive(Debug, Clone, Deserialize)]
pub struct ConnectionRow {
    pub id: ConnectionId,
    pub org_id: OrgId,
    pub name: String,
    pub issuer: String,
    pub client_id: String,
    /// Encrypted (`idp::crypto::encrypt`).
    pub client_secret: String,
    pub default_role: OrgRole,
    pub jit: i64,
    pub group_claim: Option<String>,
    /// JSON object: group → org role.
    pub group_role_map: String,
    pub scopes: String,
    pub status: String,
    pub enforce: i64,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub jwks_uri: String,
    pub token_auth: String,
    pub iss_parameter: i64,
    pub last_test: Option<String>,
    pub tested_ok: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub activated_at: Option<i64>,
}

const CONNECTION_COLUMNS: &str = "id, org_id, name, issuer, client_id, client_secret, \
     default_role, jit, group_claim, group_role_map, scopes, status, enforce, \
     authorization_endpoint, token_endpoint, jwks_uri, token_auth, iss_parameter, last_test, \
     tested_ok, created_at, updated_at, activated_at";

/// Every column a connection's create or edit writes.
pub struct ConnectionFields<'a> {
    pub name: &'a str,
    pub issuer: &'a str,
    pub client_id: &'a str,
    pub client_secret: &'a str,
    pub default_role: OrgRole,
    pub jit: bool,
    pub group_claim: Option<&'a str>,
    pub group_role_map: &'a str,
    pub scopes: &'a str,
    pub status: &'a str,
    pub enforce: bool,
    pub authorization_endpoint: &'a str,
    pub token_endpoint: &'a str,
    pub jwks_uri: &'a str,
    pub token_auth: &'a str,
    pub iss_parameter: bool,
    pub tested_ok: bool,
    pub last_test: Option<&'a str>,
    pub activated_at: Option<i64>,
}

pub fn insert_connection(
    store: &OrgStore,
    id: ConnectionId,
    c: &ConnectionFields<'_>,
    now: Timestamp,
) -> ApiResult<Stmt> {
    let (db, org) = (&store.global.db, store.org);
    db.stmt(
        "INSERT INTO sso_connections (id, org_id, name, issuer, client_id, client_secret, \
           default_role, jit, group_claim, group_role_map, scopes, status, enforce, \
           authorization_endpoint, token_endpoint, jwks_uri, token_auth, iss_parameter, \
           tested_ok, last_test, activated_at, created_at, updated_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, \
           ?18, ?19, ?20, ?21, ?22, ?22)",
        args![
            id,
            org,
            c.name,
            c.issuer,
            c.client_id,
            c.client_secret,
            c.default_role,
            c.jit,
            c.group_claim,
            c.group_role_map,
            c.scopes,
            c.status,
            c.enforce,
            c.authorization_endpoint,
            c.token_endpoint,
            c.jwks_uri,
            c.token_auth,
            c.iss_parameter,
            c.tested_ok,
            c.last_test,
            c.activated_at,
            now
        ],
    )
}

/// Writes every editable column; `updated_at` must still be `seen` (the row the edit was
/// computed from), so two racing edits cannot interleave: the second changes nothing.
pub fn update_connection(
    store: &OrgStore,
    id: ConnectionId,
    c: &ConnectionFields<'_>,
    seen: i64,
    now: Timestamp,
) -> ApiResult<Stmt> {
    let (db, org) = (&store.global.db, store.org);
    db.stmt(
        "UPDATE sso_connections SET name = ?3, issuer = ?4, client_id = ?5, client_secret = ?6, \
           default_role = ?7, jit = ?8, group_claim = ?9, group_role_map = ?10, scopes = ?11, \
           status = ?12, enforce = ?13, authorization_endpoint = ?14, token_endpoint = ?15, \
           jwks_uri = ?16, token_auth = ?17, iss_parameter = ?18, tested_ok = ?19, \
           last_test = ?20, activated_at = ?21, updated_at = MAX(?22, updated_at + 1) \
         WHERE org_id = ?1 AND id = ?2 AND updated_at = ?23",
        args![
            org,
            id,
            c.name,
            c.issuer,
            c.client_id,
            c.client_secret,
            c.default_role,
            c.jit,
            c.group_claim,
            c.group_role_map,
            c.scopes,
            c.status,
            c.enforce,
            c.authorization_endpoint,
            c.token_endpoint,
            c.jwks_uri,
            c.token_auth,
            c.iss_parameter,
            c.tested_ok,
            c.last_test,
            c.activated_at,
            now,
            seen
        ],
    )
}

/// Oldest first: an org has one or a few.
pub fn connections_stmt(store: &OrgStore) -> ApiResult<Query<ConnectionRow>> {
    let (db, org) = (&store.global.db, store.org);
    db.query(
        &format!(
            "SELECT {CONNECTION_COLUMNS} FROM sso_connections WHERE org_id = ?1 \
             ORDER BY created_at, id LIMIT 100"
        ),
        args![org],
    )
}

pub fn connection_stmt(store: &OrgStore, id: ConnectionId) -> ApiResult<Query<ConnectionRow>> {
    let (db, org) = (&store.global.db, store.org);
    db.query(
        &format!("SELECT {CONNECTION_COLUMNS} FROM sso_connections WHERE org_id = ?1 AND id = ?2"),
        args![org, id],
    )
}

/// The connection of the flow `id_hash` names, for the same batch as `consume_flow` (which
/// comes first and marks the flow used; the connection is read either way).
pub fn connection_of_flow_stmt(store: &Store, id_hash: &str) -> ApiResult<Query<ConnectionRow>> {
    let db = &store.db;
    db.query(
        &format!(
            "SELECT {CONNECTION_COLUMNS} FROM sso_connections \
             WHERE id = (SELECT connection_id FROM sso_flows WHERE id_hash = ?1)"
        ),
        args![id_hash],
    )
}

/// A connection by id alone: sign-in knows its connection before it knows the org.
pub fn connection_by_id_stmt(store: &Store, id: ConnectionId) -> ApiResult<Query<ConnectionRow>> {
    let db = &store.db;
    db.query(
        &format!("SELECT {CONNECTION_COLUMNS} FROM sso_connections WHERE id = ?1"),
        args![id],
    )
}

pub fn delete_connection(store: &OrgStore, id: ConnectionId) -> ApiResult<Stmt> {
    let (db, org) = (&store.global.db, store.org);
    db.stmt(
        "DELETE FROM sso_connections WHERE org_id = ?1 AND id = ?2",
        args![org, id],
    )
}

/// The outcome of a test sign-in. A success counts only for the credentials it tested: an
/// edit since (which moved `updated_at` past `started`) leaves the connection untested.
pub fn record_test(
    store: &OrgStore,
    id: ConnectionId,
    outcome: &str,
    ok: bool,
    started: Timestamp,
) -> ApiResult<Stmt> {
    let (db, org) = (&store.global.db, store.org);
    db.stmt(
        "UPDATE sso_connections SET last_test = ?3, \
           tested_ok = CASE WHEN updated_at <= ?5 THEN ?4 ELSE tested_ok END \
         WHERE org_id = ?1 AND id = ?2",
        args![org, id, outcome, ok, started],
    )
}

/// Where an email's domain signs in: the active connection of the org that verified it
/// (the oldest, when the org has several), and whether that org enforces SSO.
#[derive(Debug, Deserialize)]
pub struct DomainSso {
    pub connection_id: ConnectionId,
    pub org_id: OrgId,
    pub enforce: i64,
    /// The account with this email is the org's owner (break-glass).
    pub is_owner: i64,
}

pub fn sso_for_domain_stmt(
    store: &Store,
    domain: &str,
    email: &str,
) -> ApiResult<Query<DomainSso>> {
    let db = &store.db;
    db.query(
        "SELECT c.id AS connection_id, c.org_id, c.enforce, \
           COALESCE(o.owner_id = (SELECT id FROM users WHERE email = ?2), 0) AS is_owner \
         FROM org_domains d \
         JOIN sso_connections c ON c.org_id = d.org_id AND c.status = 'active' \
         JOIN orgs o ON o.id = d.org_id \
         WHERE d.domain = ?1 AND d.status = 'verified' \
         ORDER BY c.enforce DESC, c.created_at LIMIT 1",
        args![domain, email],
    )
}

/// A row (`Found`) when `org` has verified `domain`.
pub fn org_verified_domain_stmt(store: &OrgStore, domain: &str) -> ApiResult<Query<Found>> {
    let (db, org) = (&store.global.db, store.org);
    db.query(
        "SELECT 1 AS found FROM org_domains WHERE org_id = ?1 AND domain = ?2 AND status = 'verified'",
        args![org, domain],
    )
}

// ---- Flows and codes -----------------------------------------------------------------

pub struct NewFlow<'a> {
    pub id_hash: &'a str,
    pub kind: &'a str,
    pub connection: ConnectionId,
    pub org: OrgId,
    pub nonce: Option<&'a str>,
    pub code_verifier: Option<&'a str>,
    pub browser_hash: Option<&'a str>,
    pub tester: Option<UserId>,
    pub now: Timestamp,
    pub expires: Timestamp,
}

pub fn insert_flow(store: &Store, f: &NewFlow<'_>) -> ApiResult<Stmt> {
    let db = &store.db;
    db.stmt(
        "INSERT INTO sso_flows (id_hash, kind, connection_id, org_id, nonce, code_verifier, \
           browser_hash, tester_id, created_at, expires_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        args![
            f.id_hash,
            f.kind,
            f.connection,
            f.org,
            f.nonce,
            f.code_verifier,
            f.browser_hash,
            f.tester,
            f.now,
            f.expires
        ],
    )
}

#[derive(Debug, Clone, Deserialize)]
pub struct FlowRow {
    pub kind: String,
    pub connection_id: ConnectionId,
    pub org_id: OrgId,
    pub nonce: Option<String>,
    pub code_verifier: Option<String>,
    pub browser_hash: Option<String>,
    pub tester_id: Option<UserId>,
    pub created_at: i64,
    pub expires_at: Option<i64>,
}

/// Uses a flow (or ticket) up and returns it, in one statement: of two racing callbacks
/// with the same state only one gets the row. Expiry is the caller's check.
pub fn consume_flow(store: &Store, id_hash: &str, now: Timestamp) -> ApiResult<Query<FlowRow>> {
    let db = &store.db;
    db.query(
        "UPDATE sso_flows SET used_at = ?2 WHERE id_hash = ?1 AND used_at IS NULL \
         RETURNING kind, connection_id, org_id, nonce, code_verifier, browser_hash, tester_id, \
           created_at, expires_at",
        args![id_hash, now],
    )
}

pub fn insert_code(
    store: &Store,
    code_hash: &str,
    user: UserId,
    connection: ConnectionId,
    now: Timestamp,
    expires: Timestamp,
) -> ApiResult<Stmt> {
    let db = &store.db;
    db.stmt(
        "INSERT INTO sso_codes (code_hash, user_id, connection_id, created_at, expires_at) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
        args![code_hash, user, connection, now, expires],
    )
}

#[derive(Debug, Deserialize)]
pub struct CodeRow {
    pub user_id: UserId,
    pub connection_id: ConnectionId,
    pub expires_at: i64,
}

/// Uses a code up and returns it (one statement, so a code works once whatever races).
pub fn consume_code(store: &Store, code_hash: &str, now: Timestamp) -> ApiResult<Query<CodeRow>> {
    let db = &store.db;
    db.query(
        "UPDATE sso_codes SET used_at = ?2 WHERE code_hash = ?1 AND used_at IS NULL \
         RETURNING user_id, connection_id, expires_at",
        args![code_hash, now],
    )
}

/// The cron's sweep: flows and codes past their expiry.
pub fn purge_flows(store: &Store, now: Timestamp, limit: i64) -> ApiResult<Vec<Stmt>> {
    let db = &store.db;
    Ok(vec![
        db.stmt(
            "DELETE FROM sso_flows WHERE id_hash IN \
               (SELECT id_hash FROM sso_flows WHERE expires_at < ?1 LIMIT ?2)",
            args![now, limit],
        )?,
        db.stmt(
            "DELETE FROM sso_codes WHERE code_hash IN \
               (SELECT code_hash FROM sso_codes WHERE expires_at < ?1 LIMIT ?2)",
            args![now, limit],
        )?,
    ])
}

// ---- Identities ----------------------------------------------------------------------

pub struct NewIdentity<'a> {
    pub connection: ConnectionId,
    pub subject: &'a str,
    pub user: UserId,
    pub email: &'a str,
    pub now: Timestamp,
}

pub fn insert_identity(store: &OrgStore, i: &NewIdentity<'_>) -> ApiResult<Stmt> {
    let (db, org) = (&store.global.db, store.org);
    db.stmt(
        "INSERT INTO sso_identities (connection_id, subject, user_id, org_id, email, created_at, \
           last_login_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
        args![i.connection, i.subject, i.user, org, i.email, i.now],
    )
}

/// A sign-in through the identity: its time and the email the provider now says; a member
/// again, so no longer removed.
pub fn touch_identity(
    store: &OrgStore,
    connection: ConnectionId,
    subject: &str,
    email: &str,
    now: Timestamp,
) -> ApiResult<Stmt> {
    let (db, org) = (&store.global.db, store.org);
    db.stmt(
        "UPDATE sso_identities SET last_login_at = ?4, email = ?5, removed_at = NULL \
         WHERE org_id = ?1 AND connection_id = ?2 AND subject = ?3",
        args![org, connection, subject, now, email],
    )
}

/// An admin removed the member: the provider keeps the identity, but sign-in no longer
/// brings the person back on its own.
pub fn identities_removed(store: &OrgStore, user: UserId, now: Timestamp) -> ApiResult<Stmt> {
    let (db, org) = (&store.global.db, store.org);
    db.stmt(
        "UPDATE sso_identities SET removed_at = ?3 WHERE org_id = ?1 AND user_id = ?2",
        args![org, user, now],
    )
}

/// A federated account's names and email, as the provider now says (no local edits).
pub fn sync_federated(
    store: &Store,
    user: UserId,
    email: &str,
    first_name: &str,
    last_name: &str,
    now: Timestamp,
) -> ApiResult<Stmt> {
    let db = &store.db;
    db.stmt(
        "UPDATE users SET email = ?2, first_name = ?3, last_name = ?4, email_verified = 1, \
           updated_at = ?5 WHERE id = ?1 AND federated_by IS NOT NULL",
        args![user, email, first_name, last_name, now],
    )
}

/// Marks a just-created account as existing through `connection`.
pub fn mark_federated(store: &Store, user: UserId, connection: ConnectionId) -> ApiResult<Stmt> {
    let db = &store.db;
    db.stmt(
        "UPDATE users SET federated_by = ?2, email_verified = 1 WHERE id = ?1",
        args![user, connection],
    )
}

/// A person sign-in found (by identity or by email): the account, its role in the org, and
/// (found by identity) whether an admin removed them.
#[derive(Debug, Deserialize)]
pub struct KnownPerson {
    /// The account (`users::USER_JSON`).
    pub user_json: String,
    pub member_role: Option<OrgRole>,
    pub removed_at: Option<i64>,
}

impl KnownPerson {
    pub fn user(&self) -> ApiResult<super::users::UserRow> {
        super::json_column(&self.user_json)
    }
}

/// The columns of a `KnownPerson` over `u` (users) in org `?1`.
fn person_columns() -> String {
    format!(
        "{} AS user_json, \
         (SELECT role FROM org_members WHERE org_id = ?1 AND user_id = u.id) AS member_role",
        super::users::USER_JSON
    )
}

/// The account of identity (connection, `subject`), with its role in the org.
pub fn identity_person_stmt(
    store: &OrgStore,
    connection: ConnectionId,
    subject: &str,
) -> ApiResult<Query<KnownPerson>> {
    let (db, org) = (&store.global.db, store.org);
    db.query(
        &format!(
            "SELECT {}, i.removed_at \
             FROM sso_identities i JOIN users u ON u.id = i.user_id \
             WHERE i.connection_id = ?2 AND i.subject = ?3",
            person_columns()
        ),
        args![org, connection, subject],
    )
}

/// The account with `email`, with its role in the org.
pub fn email_person_stmt(store: &OrgStore, email: &str) -> ApiResult<Query<KnownPerson>> {
    let (db, org) = (&store.global.db, store.org);
    db.query(
        &format!(
            "SELECT {}, NULL AS removed_at FROM users u WHERE u.email = ?2",
            person_columns()
        ),
        args![org, email],
    )
}

/// A linked account that was locked by wrong passwords: the provider just proved who it is,
/// as a reset would.
pub fn unlock(store: &Store, user: UserId, now: Timestamp) -> ApiResult<Stmt> {
    let db = &store.db;
    db.stmt(
        "UPDATE users SET status = 'active', failed_logins = 0, updated_at = ?2 \
         WHERE id = ?1 AND status = 'locked'",
        args![user, now],
    )
}

impl ConnectionRow {
    /// The store of the connection's org: a sign-in through the connection (a flow row read
    /// by its one-time state names it) acts in that org and no other.
    pub fn org_store(&self, store: &Store) -> OrgStore {
        OrgStore {
            global: store.clone(),
            org: self.org_id,
        }
    }
}

/// Fails the batch unless the statement before it changed one row: the edit of a connection
/// computed from a row another edit has since changed (`update_connection`'s `seen`).
pub fn guard_changed_one(store: &OrgStore) -> ApiResult<Stmt> {
    super::guard(&store.global.db, "changes() = 1", Vec::new())
}

/// The cron's `domain.lapsed` event (by the service itself: no actor, no origin).
pub fn lapsed_event(store: &Store, d: &DomainRow, found: &str, now: Timestamp) -> ApiResult<Stmt> {
    let db = &store.db;
    db.stmt(
        "INSERT INTO audit_events (id, org_id, at, action, target_type, target_id, success, metadata) \
         VALUES (?1, ?2, ?3, 'domain.lapsed', 'domain', ?4, 1, json_object('domain', ?5, 'found', ?6))",
        args![crate::domain::ids::EventId::new(), d.org_id, now, d.id, d.domain.as_str(), found],
    )
}
