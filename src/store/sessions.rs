//! Sessions and their rotating refresh tokens.

use super::{json_column, Query, Rider, Stmt, Store};
use crate::args;
use crate::domain::account::AccountStatus;
use crate::domain::ids::{OrgId, SessionId, UserId};
use crate::domain::roles::OrgRole;
use crate::domain::time::Timestamp;
use crate::error::ApiResult;
use crate::store::orgs::{OrgRow, OrgWithRole, ORG_JSON};
use crate::store::users::{UserRow, USER_JSON};
use serde::Deserialize;

pub struct NewSession<'a> {
    pub id: SessionId,
    pub user: UserId,
    pub auth_method: &'a str,
    pub ip: &'a str,
    pub user_agent: Option<&'a str>,
    pub now: Timestamp,
    pub expires_at: Timestamp,
    pub refresh_hash: &'a str,
}

/// The session row and its first refresh token.
pub fn insert(store: &Store, s: &NewSession<'_>) -> ApiResult<Vec<Stmt>> {
    let db = &store.db;
    Ok(vec![
        db.stmt(
            "INSERT INTO sessions (id, user_id, auth_method, ip, user_agent, created_at, last_used_at, expires_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?7)",
            args![s.id, s.user, s.auth_method, s.ip, s.user_agent, s.now, s.expires_at],
        )?,
        db.stmt(
            "INSERT INTO refresh_tokens (token_hash, session_id, created_at) VALUES (?1, ?2, ?3)",
            args![s.refresh_hash, s.id, s.now],
        )?,
    ])
}

/// What every authenticated request needs: is the session live, and who is it; on an
/// org-scoped route also the caller's role in that org and the org itself.
#[derive(Debug, Deserialize)]
pub struct LiveSession {
    /// The session's user (`USER_JSON`), read in the same row: handlers about the caller
    /// need no second read. One JSON column rather than the row's columns beside the
    /// session's: serde's `flatten` buffered every column of this hot read.
    pub user_json: String,
    pub session_last_used_at: i64,
    /// The caller's role in the asked-for org (`None`: not a member, or no org asked).
    pub org_role: Option<OrgRole>,
    /// That org's row as a JSON object (with `org_role`).
    pub org_json: Option<String>,
    /// The row of the read that rode along (`Rider`), as JSON text.
    pub rider: Option<String>,
}

impl LiveSession {
    /// The session's account.
    pub fn user(&self) -> ApiResult<UserRow> {
        json_column(&self.user_json)
    }

    /// The asked-for org with the caller's role, if the caller belongs to it.
    pub fn org(&self) -> ApiResult<Option<OrgWithRole>> {
        match (&self.org_role, &self.org_json) {
            (Some(role), Some(json)) => {
                let org: OrgRow = json_column(json)?;
                Ok(Some(OrgWithRole { org, role: *role }))
            }
            _ => Ok(None),
        }
    }
}

/// One indexed read: the session must be unended and unexpired and its user active; the
/// row carries the account. With `org`, the same read also answers the org gate (the
/// caller's membership and the org), so an org-scoped request costs one round trip before
/// its own work; a handler's one-row read may ride along (`rider`).
pub fn live_stmt(
    store: &Store,
    id: SessionId,
    user: UserId,
    now: Timestamp,
    org: Option<OrgId>,
    rider: Option<Rider>,
) -> ApiResult<Query<LiveSession>> {
    let db = &store.db;
    let mut args = args![id, user, now];
    // The org gate's columns and joins only when an org is asked for: a statement's text is
    // parsed and planned on every call, and the joins would only ever find nothing.
    let (gate_columns, gate_joins) = match org {
        Some(org) => {
            args.push(org.into());
            (
                format!(
                    ", m.role AS org_role, \
                     CASE WHEN m.role IS NULL THEN NULL ELSE {ORG_JSON} END AS org_json"
                ),
                // A suspended membership (SCIM `active: false`) admits nobody.
                " LEFT JOIN org_members m ON m.org_id = ?4 AND m.user_id = s.user_id \
                   AND m.suspended_at IS NULL \
                 LEFT JOIN orgs o ON o.id = m.org_id",
            )
        }
        None => (String::new(), ""),
    };
    // After the statement's own arguments, so its placeholders stay as written.
    let rider = Rider::column(rider, &mut args);
    db.query(
        &format!(
            "SELECT {rider}{USER_JSON} AS user_json, \
             s.last_used_at AS session_last_used_at{gate_columns} \
             FROM sessions s JOIN users u ON u.id = s.user_id{gate_joins} \
             WHERE s.id = ?1 AND s.user_id = ?2 AND s.ended_at IS NULL AND s.expires_at > ?3 \
             AND u.status = 'active'"
        ),
        args,
    )
}

pub async fn touch(store: &Store, id: SessionId, now: Timestamp) -> ApiResult<usize> {
    let db = &store.db;
    db.run(
        "UPDATE sessions SET last_used_at = ?2 WHERE id = ?1 AND ended_at IS NULL",
        args![id, now],
    )
    .await
}

#[derive(Debug, Deserialize)]
pub struct RefreshLookup {
    pub session_id: SessionId,
    pub user_id: UserId,
    pub rotated_at: Option<i64>,
    pub ended_at: Option<i64>,
    pub expires_at: i64,
    pub status: AccountStatus,
}

pub async fn find_refresh(store: &Store, token_hash: &str) -> ApiResult<Option<RefreshLookup>> {
    let db = &store.db;
    db.first(
        "SELECT r.session_id, s.user_id, r.rotated_at, s.ended_at, s.expires_at, u.status \
         FROM refresh_tokens r JOIN sessions s ON s.id = r.session_id JOIN users u ON u.id = s.user_id \
         WHERE r.token_hash = ?1",
        args![token_hash],
    )
    .await
}

/// Rotation as a batch: retire the presented token (only if still current and the session
/// live); the guard aborts the batch unless this request retired it; then the successor.
pub fn rotate(
    store: &Store,
    session: SessionId,
    old_hash: &str,
    new_hash: &str,
    request_id: &str,
    now: Timestamp,
) -> ApiResult<Vec<Stmt>> {
    let db = &store.db;
    Ok(vec![
        db.stmt(
            "UPDATE refresh_tokens SET rotated_at = ?3, rotated_by = ?4 WHERE token_hash = ?1 \
             AND session_id = ?2 AND rotated_at IS NULL AND EXISTS (SELECT 1 FROM sessions s \
             WHERE s.id = ?2 AND s.ended_at IS NULL AND s.expires_at > ?3)",
            args![old_hash, session, now, request_id],
        )?,
        super::guard(
            db,
            "EXISTS (SELECT 1 FROM refresh_tokens WHERE token_hash = ?1 AND rotated_by = ?2)",
            args![old_hash, request_id],
        )?,
        db.stmt(
            "INSERT INTO refresh_tokens (token_hash, session_id, created_at) VALUES (?1, ?2, ?3)",
            args![new_hash, session, now],
        )?,
        db.stmt(
            "UPDATE sessions SET last_used_at = ?2 WHERE id = ?1 AND ended_at IS NULL",
            args![session, now],
        )?,
    ])
}

/// Ends the session if it is still live, recording the request that did; the guard fails
/// the batch (`ApiError::GuardFailed`) when another request ended it first, so the caller's
/// audit event in the same batch is written exactly once.
pub fn end_once(
    store: &Store,
    id: SessionId,
    reason: &str,
    request_id: &str,
    now: Timestamp,
) -> ApiResult<Vec<Stmt>> {
    let db = &store.db;
    Ok(vec![
        db.stmt(
            "UPDATE sessions SET ended_at = ?2, end_reason = ?3, ended_by = ?4 \
             WHERE id = ?1 AND ended_at IS NULL",
            args![id, now, reason, request_id],
        )?,
        super::guard(
            db,
            "EXISTS (SELECT 1 FROM sessions WHERE id = ?1 AND ended_by = ?2)",
            args![id, request_id],
        )?,
    ])
}

/// Ends one of `user`'s sessions (never another user's).
pub fn end_own(
    store: &Store,
    id: SessionId,
    user: UserId,
    reason: &str,
    now: Timestamp,
) -> ApiResult<Stmt> {
    let db = &store.db;
    db.stmt(
        "UPDATE sessions SET ended_at = ?3, end_reason = ?4 \
         WHERE id = ?1 AND user_id = ?2 AND ended_at IS NULL",
        args![id, user, now, reason],
    )
}

/// Ends every live session of the user, except `keep` if given.
pub fn end_all(
    store: &Store,
    user: UserId,
    keep: Option<SessionId>,
    reason: &str,
    now: Timestamp,
) -> ApiResult<Stmt> {
    let db = &store.db;
    db.stmt(
        "UPDATE sessions SET ended_at = ?3, end_reason = ?4 \
         WHERE user_id = ?1 AND ended_at IS NULL AND id IS NOT ?2",
        args![user, keep, now, reason],
    )
}

/// Ends every session of the user if the account is locked now (used in the batch that
/// counts a failed login, so the lock and the logout happen together).
pub fn end_all_if_locked(store: &Store, user: UserId, now: Timestamp) -> ApiResult<Stmt> {
    let db = &store.db;
    db.stmt(
        "UPDATE sessions SET ended_at = ?2, end_reason = 'locked' WHERE user_id = ?1 \
         AND ended_at IS NULL AND (SELECT status FROM users WHERE id = ?1) = 'locked'",
        args![user, now],
    )
}

#[derive(Debug, Deserialize)]
pub struct SessionRow {
    pub id: SessionId,
    pub auth_method: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub created_at: i64,
    pub last_used_at: i64,
    pub expires_at: i64,
}

/// The user's live sessions, newest first, one page.
pub async fn list_live(
    store: &Store,
    user: UserId,
    now: Timestamp,
    before: &str,
    limit: u32,
) -> ApiResult<Vec<SessionRow>> {
    let db = &store.db;
    db.all(
        "SELECT id, auth_method, ip, user_agent, created_at, last_used_at, expires_at FROM sessions \
         WHERE user_id = ?1 AND ended_at IS NULL AND expires_at > ?2 AND id < ?3 \
         ORDER BY id DESC LIMIT ?4",
        args![user, now, before, i64::from(limit)],
    )
    .await
}

/// Cron: deletes sessions ended or expired before `cutoff` (their refresh tokens cascade).
pub fn purge(store: &Store, cutoff: Timestamp, limit: i64) -> ApiResult<Stmt> {
    let db = &store.db;
    db.stmt(
        "DELETE FROM sessions WHERE id IN (SELECT id FROM sessions \
         WHERE ended_at < ?1 OR expires_at < ?1 LIMIT ?2)",
        args![cutoff, limit],
    )
}

/// Fails its batch unless this batch is what revoked the user's session (at `now`):
/// someone else's or an already-ended session changes nothing.
pub fn guard_revoked_now(
    store: &Store,
    id: SessionId,
    user: UserId,
    now: Timestamp,
) -> ApiResult<Stmt> {
    let db = &store.db;
    super::guard(
        db,
        "EXISTS (SELECT 1 FROM sessions WHERE id = ?1 AND user_id = ?2 AND end_reason = 'revoked' AND ended_at = ?3)",
        args![id, user, now],
    )
}
