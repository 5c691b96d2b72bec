//! Users: the account itself, its status and lockout counter.

use super::{Found, Query, Stmt, Store};
use crate::args;
use crate::domain::account::AccountStatus;
use crate::domain::ids::{ConnectionId, OrgId, UserId};
use crate::domain::time::Timestamp;
use crate::error::ApiResult;
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
pub struct UserRow {
    pub id: UserId,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub phone: Option<String>,
    pub password_hash: Option<String>,
    pub must_change_password: i64,
    pub status: AccountStatus,
    pub email_verified: i64,
    pub pending_email: Option<String>,
    pub failed_logins: i64,
    pub created_at: i64,
    pub last_login_at: Option<i64>,
    /// The SSO connection a federated account exists through (`None`: a local account).
    pub federated_by: Option<ConnectionId>,
}

impl UserRow {
    /// An account that exists through an identity provider: no local password, names
    /// from the claims.
    pub fn federated(&self) -> bool {
        self.federated_by.is_some()
    }
}

/// The account row of `u` as one JSON column (`json_column::<UserRow>`), for reads whose
/// row is something else (the session's).
pub const USER_JSON: &str = "json_object('id', u.id, 'email', u.email, \
     'first_name', u.first_name, 'last_name', u.last_name, 'phone', u.phone, \
     'password_hash', u.password_hash, 'must_change_password', u.must_change_password, \
     'status', u.status, 'email_verified', u.email_verified, 'pending_email', u.pending_email, \
     'failed_logins', u.failed_logins, 'created_at', u.created_at, \
     'last_login_at', u.last_login_at, 'federated_by', u.federated_by)";

const COLUMNS: &str =
    "id, email, first_name, last_name, phone, password_hash, must_change_password, \
     status, email_verified, pending_email, failed_logins, created_at, last_login_at, \
     federated_by";

pub fn by_email_stmt(store: &Store, email: &str) -> ApiResult<Query<UserRow>> {
    let db = &store.db;
    db.query(
        &format!("SELECT {COLUMNS} FROM users WHERE email = ?1"),
        args![email],
    )
}

pub async fn by_email(store: &Store, email: &str) -> ApiResult<Option<UserRow>> {
    let db = &store.db;
    db.first_of(by_email_stmt(store, email)?).await
}

pub fn by_id_stmt(store: &Store, id: UserId) -> ApiResult<Query<UserRow>> {
    let db = &store.db;
    db.query(
        &format!("SELECT {COLUMNS} FROM users WHERE id = ?1"),
        args![id],
    )
}

pub async fn by_id(store: &Store, id: UserId) -> ApiResult<Option<UserRow>> {
    let db = &store.db;
    db.first_of(by_id_stmt(store, id)?).await
}

/// A row (`Found`) if an account has this email.
pub fn email_exists_stmt(store: &Store, email: &str) -> ApiResult<Query<Found>> {
    let db = &store.db;
    db.query(
        "SELECT 1 AS found FROM users WHERE email = ?1",
        args![email],
    )
}

pub async fn email_exists(store: &Store, email: &str) -> ApiResult<bool> {
    let db = &store.db;
    Ok(db
        .first_of::<Found>(email_exists_stmt(store, email)?)
        .await?
        .is_some())
}

/// One primary-key lookup (of an id that never exists): proves D1 answers.
pub async fn probe(store: &Store) -> ApiResult<()> {
    let db = &store.db;
    db.first::<Found>(
        "SELECT 1 AS found FROM users WHERE id = ?1",
        args!["00000000-0000-0000-0000-000000000000"],
    )
    .await
    .map(|_| ())
}

pub struct NewUser<'a> {
    pub id: UserId,
    pub email: &'a str,
    pub first_name: &'a str,
    pub last_name: &'a str,
    pub phone: Option<&'a str>,
    pub password_hash: Option<&'a str>,
    pub status: AccountStatus,
    pub email_verified: bool,
    /// Set for accounts an org's admin created: the org manages them.
    pub created_by_org: Option<OrgId>,
    /// A single-use password: the next login must change it.
    pub must_change_password: bool,
    pub now: Timestamp,
}

pub fn insert(store: &Store, u: &NewUser<'_>) -> ApiResult<Stmt> {
    let db = &store.db;
    db.stmt(
        "INSERT INTO users (id, email, first_name, last_name, phone, password_hash, status, \
         email_verified, created_by_org_id, must_change_password, created_at, updated_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11)",
        args![
            u.id,
            u.email,
            u.first_name,
            u.last_name,
            u.phone,
            u.password_hash,
            u.status.as_str(),
            u.email_verified,
            u.created_by_org,
            u.must_change_password,
            u.now,
        ],
    )
}

/// Counts one failed login atomically and locks at the threshold, whatever races it.
/// The statement returns the new counter (`FailedLogins`), read from its batch result.
pub fn record_failed_login(
    store: &Store,
    id: UserId,
    threshold: i64,
    now: Timestamp,
) -> ApiResult<Stmt> {
    let db = &store.db;
    db.stmt(
        "UPDATE users SET failed_logins = failed_logins + 1, \
         status = CASE WHEN status = 'active' AND failed_logins + 1 >= ?2 THEN 'locked' ELSE status END, \
         updated_at = ?3 WHERE id = ?1 RETURNING failed_logins",
        args![id, threshold, now],
    )
}

#[derive(Debug, Deserialize)]
pub struct FailedLogins {
    pub failed_logins: i64,
}

/// A successful login: resets the counter, only while the account is still active (a lock
/// that raced in wins). Optionally stores a re-hashed password.
pub fn record_successful_login(
    store: &Store,
    id: UserId,
    rehash: Option<&str>,
    now: Timestamp,
) -> ApiResult<Stmt> {
    let db = &store.db;
    db.stmt(
        "UPDATE users SET failed_logins = 0, last_login_at = ?2, updated_at = ?2, \
         password_hash = COALESCE(?3, password_hash) WHERE id = ?1 AND status = 'active'",
        args![id, now, rehash],
    )
}

/// A password reset: new password, unlocked; a pending account becomes active (the emailed
/// link proved the address).
pub fn reset_password(
    store: &Store,
    id: UserId,
    password_hash: &str,
    now: Timestamp,
) -> ApiResult<Stmt> {
    let db = &store.db;
    db.stmt(
        "UPDATE users SET password_hash = ?2, must_change_password = 0, failed_logins = 0, \
         status = 'active', email_verified = 1, updated_at = ?3 WHERE id = ?1",
        args![id, password_hash, now],
    )
}

/// Activation: pending → active, email verified, password set if given.
pub fn activate(
    store: &Store,
    id: UserId,
    password_hash: Option<&str>,
    now: Timestamp,
) -> ApiResult<Stmt> {
    let db = &store.db;
    db.stmt(
        "UPDATE users SET status = 'active', email_verified = 1, failed_logins = 0, \
         password_hash = COALESCE(?2, password_hash), updated_at = ?3 \
         WHERE id = ?1 AND status = 'pending'",
        args![id, password_hash, now],
    )
}

/// A verified email change: the pending address becomes the login.
pub fn apply_email_change(
    store: &Store,
    id: UserId,
    new_email: &str,
    now: Timestamp,
) -> ApiResult<Stmt> {
    let db = &store.db;
    db.stmt(
        "UPDATE users SET email = ?2, pending_email = NULL, email_verified = 1, updated_at = ?3 \
         WHERE id = ?1",
        args![id, new_email, now],
    )
}

/// Guard: the account is active (a lock that raced in makes the batch fail).
/// Marks the address verified, if it is still the account's address.
pub fn mark_email_verified(store: &Store, id: UserId, email: &str) -> ApiResult<Stmt> {
    let db = &store.db;
    db.stmt(
        "UPDATE users SET email_verified = 1 WHERE id = ?1 AND email = ?2",
        args![id, email],
    )
}

pub fn guard_active(store: &Store, id: UserId) -> ApiResult<Stmt> {
    let db = &store.db;
    super::guard(
        db,
        "EXISTS (SELECT 1 FROM users WHERE id = ?1 AND status = 'active')",
        args![id],
    )
}

pub fn set_pending_email(
    store: &Store,
    id: UserId,
    email: &str,
    now: Timestamp,
) -> ApiResult<Stmt> {
    let db = &store.db;
    db.stmt(
        "UPDATE users SET pending_email = ?2, updated_at = ?3 WHERE id = ?1",
        args![id, email, now],
    )
}

/// A password change by the user. `expected_hash` guards against a concurrent change.
pub fn change_password(
    store: &Store,
    id: UserId,
    expected_hash: &str,
    password_hash: &str,
    now: Timestamp,
) -> ApiResult<Stmt> {
    let db = &store.db;
    db.stmt(
        "UPDATE users SET password_hash = ?3, must_change_password = 0, updated_at = ?4 \
         WHERE id = ?1 AND password_hash = ?2 AND status = 'active'",
        args![id, expected_hash, password_hash, now],
    )
}

pub struct ProfileChange<'a> {
    pub first_name: Option<&'a str>,
    pub last_name: Option<&'a str>,
    /// `Some(None)` clears the phone number.
    pub phone: Option<Option<&'a str>>,
}

pub fn update_profile(
    store: &Store,
    id: UserId,
    c: &ProfileChange<'_>,
    now: Timestamp,
) -> ApiResult<Stmt> {
    let db = &store.db;
    db.stmt(
        "UPDATE users SET first_name = COALESCE(?2, first_name), last_name = COALESCE(?3, last_name), \
         phone = CASE WHEN ?4 = 1 THEN ?5 ELSE phone END, updated_at = ?6 WHERE id = ?1",
        args![
            id,
            c.first_name,
            c.last_name,
            c.phone.is_some(),
            c.phone.flatten(),
            now
        ],
    )
}

/// An admin-issued single-use password: active, unlocked, must be changed at next login.
pub fn set_single_use_password(
    store: &Store,
    id: UserId,
    password_hash: &str,
    now: Timestamp,
) -> ApiResult<Stmt> {
    let db = &store.db;
    db.stmt(
        "UPDATE users SET password_hash = ?2, must_change_password = 1, failed_logins = 0, \
         status = 'active', updated_at = ?3 WHERE id = ?1",
        args![id, password_hash, now],
    )
}

/// The account; its memberships go by cascade, its grants (no foreign key: a principal is
/// a user or a group) explicitly.
pub fn delete(store: &Store, id: UserId) -> ApiResult<Vec<Stmt>> {
    let db = &store.db;
    Ok(vec![
        db.stmt(
            "DELETE FROM grants WHERE principal_type = 'user' AND principal_id = ?1",
            args![id],
        )?,
        db.stmt("DELETE FROM users WHERE id = ?1", args![id])?,
    ])
}

/// Orgs the user owns, with how many other members each has.
#[derive(Debug, Deserialize)]
pub struct OwnedOrg {
    pub id: OrgId,
    pub name: String,
    pub other_members: i64,
}

pub async fn owned_orgs(store: &Store, id: UserId) -> ApiResult<Vec<OwnedOrg>> {
    let db = &store.db;
    db.all(
        "SELECT o.id, o.name, \
           (SELECT COUNT(*) FROM org_members m WHERE m.org_id = o.id AND m.user_id <> o.owner_id) AS other_members \
         FROM orgs o WHERE o.owner_id = ?1",
        args![id],
    )
    .await
}

/// Deletes the account and the orgs it alone makes up (owned, no other member). Guarded so
/// that an org gaining a member meanwhile makes the whole batch fail rather than orphan it.
pub fn delete_with_solo_orgs(store: &Store, id: UserId) -> ApiResult<Vec<Stmt>> {
    let db = &store.db;
    Ok(vec![
        db.stmt(
            "DELETE FROM orgs WHERE owner_id = ?1 AND NOT EXISTS \
             (SELECT 1 FROM org_members m WHERE m.org_id = orgs.id AND m.user_id <> ?1)",
            args![id],
        )?,
        db.stmt("DELETE FROM users WHERE id = ?1", args![id])?,
    ])
}

/// Fails its batch unless the account's password hash is `hash` when the batch runs: a
/// concurrent change of the same password loses instead of silently overwriting.
pub fn guard_password_is(store: &Store, id: UserId, hash: &str) -> ApiResult<Stmt> {
    let db = &store.db;
    super::guard(
        db,
        "EXISTS (SELECT 1 FROM users WHERE id = ?1 AND password_hash = ?2)",
        args![id, hash],
    )
}
