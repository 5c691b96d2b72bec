//! Fixed one-minute windows counted in D1: an upsert is atomic, so racing requests each get
//! their own count and the limit holds exactly.

use super::{Query, Store};
use crate::args;
use crate::domain::ids::InvitationId;
use crate::domain::time::Timestamp;
use crate::error::ApiResult;
use serde::Deserialize;

pub const WINDOW_MS: i64 = 60_000;

/// One hit on `bucket` in the current window; the statement returns the window's count
/// (`Hits`), so it can ride in a batch with a handler's other checks.
pub fn hit_stmt(store: &Store, bucket: &str, now: Timestamp) -> ApiResult<Query<Hits>> {
    hits_stmt(store, bucket, 1, now)
}

/// `count` hits at once (a request that does the work of several, as invitations sent
/// together count like as many single ones).
pub fn hits_stmt(
    store: &Store,
    bucket: &str,
    count: i64,
    now: Timestamp,
) -> ApiResult<Query<Hits>> {
    let db = &store.db;
    let window = now.millis() - now.millis().rem_euclid(WINDOW_MS);
    db.query(
        "INSERT INTO rate_limits (bucket, window_start, hits) VALUES (?1, ?2, ?3) \
         ON CONFLICT (bucket, window_start) DO UPDATE SET hits = hits + ?3 RETURNING hits",
        args![bucket, window, count],
    )
}

/// `hit_stmt` on `{action}:account:{email}` where the email is invitation `invitation`'s,
/// resolved in SQL so the hit rides in the same batch as the invitation's lookup. No such
/// invitation: no hit (and no row returned).
pub fn hit_invitee_stmt(
    store: &Store,
    action: &str,
    invitation: InvitationId,
    now: Timestamp,
) -> ApiResult<Query<Hits>> {
    let db = &store.db;
    let window = now.millis() - now.millis().rem_euclid(WINDOW_MS);
    db.query(
        "INSERT INTO rate_limits (bucket, window_start, hits) \
         SELECT ?1 || ':account:' || email, ?3, 1 FROM invitations WHERE id = ?2 \
         ON CONFLICT (bucket, window_start) DO UPDATE SET hits = hits + 1 RETURNING hits",
        args![action, invitation, window],
    )
}

/// What `hit_stmt` returns.
#[derive(Deserialize)]
pub struct Hits {
    pub hits: i64,
}

/// Seconds until the current window ends.
pub fn retry_after(now: Timestamp) -> i64 {
    let left = WINDOW_MS - now.millis().rem_euclid(WINDOW_MS);
    (left + 999) / 1000
}

/// Cron: forget windows that ended.
pub async fn purge(store: &Store, now: Timestamp, limit: i64) -> ApiResult<usize> {
    let db = &store.db;
    db.run(
        "DELETE FROM rate_limits WHERE rowid IN (SELECT rowid FROM rate_limits WHERE window_start < ?1 LIMIT ?2)",
        args![now.millis() - WINDOW_MS, limit],
    )
    .await
}
