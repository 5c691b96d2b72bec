//! The outbox (one row per email, keyed by its idempotency key) and the dev mailbox.

use super::{Stmt, Store};
use crate::args;
use crate::domain::time::Timestamp;
use crate::error::ApiResult;
use serde::Deserialize;

pub fn insert_queued(
    store: &Store,
    id: &str,
    kind: &str,
    recipient: &str,
    reference: Option<(&str, &str)>,
    now: Timestamp,
) -> ApiResult<Stmt> {
    let db = &store.db;
    db.stmt(
        "INSERT INTO outbox (id, kind, recipient, status, ref_type, ref_id, created_at, updated_at) \
         VALUES (?1, ?2, ?3, 'queued', ?4, ?5, ?6, ?6)",
        args![id, kind, recipient, reference.map(|r| r.0), reference.map(|r| r.1), now],
    )
}

/// A consumer's claim on a message: succeeds for one consumer at a time, and never for a
/// message already sent or failed. Returns the attempt number.
pub async fn claim(
    store: &Store,
    id: &str,
    now: Timestamp,
    hold_ms: i64,
) -> ApiResult<Option<i64>> {
    let db = &store.db;
    #[derive(Deserialize)]
    struct Attempt {
        attempts: i64,
    }
    let row: Option<Attempt> = db
        .first(
            "UPDATE outbox SET status = 'sending', attempts = attempts + 1, claimed_until = ?3, updated_at = ?2 \
             WHERE id = ?1 AND (status = 'queued' OR (status = 'sending' AND claimed_until < ?2)) \
             RETURNING attempts",
            args![id, now, now.millis() + hold_ms],
        )
        .await?;
    Ok(row.map(|r| r.attempts))
}

pub async fn status(store: &Store, id: &str) -> ApiResult<Option<String>> {
    let db = &store.db;
    #[derive(Deserialize)]
    struct S {
        status: String,
    }
    Ok(db
        .first::<S>("SELECT status FROM outbox WHERE id = ?1", args![id])
        .await?
        .map(|s| s.status))
}

pub async fn mark_sent(store: &Store, id: &str, now: Timestamp) -> ApiResult<usize> {
    let db = &store.db;
    db.run(
        "UPDATE outbox SET status = 'sent', sent_at = ?2, updated_at = ?2, claimed_until = NULL, last_error = NULL WHERE id = ?1",
        args![id, now],
    )
    .await
}

/// After a failed attempt: back to `queued` for a retry, or `failed` for good.
pub async fn mark_attempt_failed(
    store: &Store,
    id: &str,
    error: &str,
    final_attempt: bool,
    now: Timestamp,
) -> ApiResult<usize> {
    let db = &store.db;
    db.run(
        "UPDATE outbox SET status = ?2, last_error = ?3, claimed_until = NULL, updated_at = ?4 WHERE id = ?1",
        args![id, if final_attempt { "failed" } else { "queued" }, error, now],
    )
    .await
}

pub fn keep_in_dev_mailbox(
    store: &Store,
    id: &str,
    recipient: &str,
    subject: &str,
    text: &str,
    html: &str,
    now: Timestamp,
) -> ApiResult<Stmt> {
    let db = &store.db;
    db.stmt(
        "INSERT OR IGNORE INTO dev_mailbox (id, recipient, subject, text_body, html_body, created_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        args![id, recipient, subject, text, html, now],
    )
}

#[derive(Debug, Deserialize)]
pub struct MailboxRow {
    pub id: String,
    pub recipient: String,
    pub subject: String,
    pub text_body: String,
    pub html_body: String,
    pub created_at: i64,
}

pub async fn dev_mailbox(
    store: &Store,
    to: Option<&str>,
    before: &str,
    limit: u32,
) -> ApiResult<Vec<MailboxRow>> {
    let db = &store.db;
    // One statement per case: `(?1 IS NULL OR recipient = ?1)` cannot use the recipient's index.
    let sql = match to {
        Some(_) => {
            "SELECT id, recipient, subject, text_body, html_body, created_at FROM dev_mailbox \
             WHERE recipient = ?1 AND id < ?2 ORDER BY id DESC LIMIT ?3"
        }
        None => {
            "SELECT id, recipient, subject, text_body, html_body, created_at FROM dev_mailbox \
             WHERE ?1 IS NULL AND id < ?2 ORDER BY id DESC LIMIT ?3"
        }
    };
    db.all(sql, args![to, before, i64::from(limit)]).await
}
