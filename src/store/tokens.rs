//! Emailed single-use tokens. Consumption is one conditional UPDATE: of any number of racing
//! requests exactly one sees a change, and statements gated on it run only in its batch.

use super::{Query, Stmt, Store};
use crate::args;
use crate::domain::ids::UserId;
use crate::domain::time::Timestamp;
use crate::domain::token::TokenPurpose;
use crate::error::ApiResult;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
pub struct TokenRow {
    pub user_id: UserId,
    pub new_email: Option<String>,
    pub expires_at: i64,
    pub used_at: Option<i64>,
}

pub async fn find(
    store: &Store,
    token_hash: &str,
    purpose: TokenPurpose,
) -> ApiResult<Option<TokenRow>> {
    store.first_of(find_stmt(store, token_hash, purpose)?).await
}

/// `find` as a read to batch (a change token is checked with a handler's planned reads).
pub fn find_stmt(
    store: &Store,
    token_hash: &str,
    purpose: TokenPurpose,
) -> ApiResult<Query<TokenRow>> {
    let db = &store.db;
    db.query(
        "SELECT user_id, new_email, expires_at, used_at FROM user_tokens \
         WHERE token_hash = ?1 AND purpose = ?2",
        args![token_hash, purpose.as_str()],
    )
}

pub fn insert(
    store: &Store,
    token_hash: &str,
    user: UserId,
    purpose: TokenPurpose,
    new_email: Option<&str>,
    now: Timestamp,
    expires_at: Timestamp,
) -> ApiResult<Stmt> {
    let db = &store.db;
    db.stmt(
        "INSERT INTO user_tokens (token_hash, user_id, purpose, new_email, created_at, expires_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        args![token_hash, user, purpose.as_str(), new_email, now, expires_at],
    )
}

/// Kills the user's other live tokens of this purpose: only the newest link works.
pub fn revoke_unused(
    store: &Store,
    user: UserId,
    purpose: TokenPurpose,
    now: Timestamp,
) -> ApiResult<Stmt> {
    let db = &store.db;
    db.stmt(
        "UPDATE user_tokens SET used_at = ?3, used_by = 'superseded' \
         WHERE user_id = ?1 AND purpose = ?2 AND used_at IS NULL",
        args![user, purpose.as_str(), now],
    )
}

/// Consuming a token, as the first two statements of a batch: mark it used by this request
/// if unused and unexpired, then abort the batch unless it was this request that did.
/// Of any number of racing requests, exactly one batch goes through.
pub fn consume(
    store: &Store,
    token_hash: &str,
    purpose: TokenPurpose,
    request_id: &str,
    now: Timestamp,
) -> ApiResult<Vec<Stmt>> {
    let db = &store.db;
    Ok(vec![
        db.stmt(
            "UPDATE user_tokens SET used_at = ?3, used_by = ?2 \
             WHERE token_hash = ?1 AND purpose = ?4 AND used_at IS NULL AND expires_at > ?3",
            args![token_hash, request_id, now, purpose.as_str()],
        )?,
        super::guard(
            db,
            "EXISTS (SELECT 1 FROM user_tokens WHERE token_hash = ?1 AND used_by = ?2)",
            args![token_hash, request_id],
        )?,
    ])
}

/// Cron: drops tokens used or expired before `cutoff`, a bounded batch at a time. Kept for a
/// while after that so a late click still learns "expired" rather than "invalid".
pub fn purge(store: &Store, cutoff: Timestamp, limit: i64) -> ApiResult<Stmt> {
    let db = &store.db;
    db.stmt(
        "DELETE FROM user_tokens WHERE token_hash IN (SELECT token_hash FROM user_tokens \
         WHERE used_at < ?1 OR expires_at < ?1 LIMIT ?2)",
        args![cutoff, limit],
    )
}
