//! Fixed one-minute windows counted in D1: an upsert is atomic, so racing requests each get
//! their own count and the limit holds exactly.

use serde::Deserialize;

use super::{rows, Db};
use crate::args;
use crate::domain::time::Timestamp;
use crate::http::error::ApiResult;

pub const WINDOW_MS: i64 = 60_000;

/// Counts one hit on every bucket (one round trip) and returns each bucket's count.
pub async fn hit(db: &Db, buckets: &[String], now: Timestamp) -> ApiResult<Vec<i64>> {
    #[derive(Deserialize)]
    struct Hits {
        hits: i64,
    }
    let window = now.millis() - now.millis().rem_euclid(WINDOW_MS);
    let stmts = buckets
        .iter()
        .map(|b| {
            db.stmt(
                "INSERT INTO rate_limits (bucket, window_start, hits) VALUES (?1, ?2, 1) \
                 ON CONFLICT (bucket, window_start) DO UPDATE SET hits = hits + 1 RETURNING hits",
                args![b, window],
            )
        })
        .collect::<ApiResult<Vec<_>>>()?;
    let results = db.batch(stmts).await?;
    results
        .iter()
        .map(|r| Ok(rows::<Hits>(r)?.first().map_or(0, |h| h.hits)))
        .collect()
}

/// Seconds until the current window ends.
pub fn retry_after(now: Timestamp) -> i64 {
    let left = WINDOW_MS - now.millis().rem_euclid(WINDOW_MS);
    (left + 999) / 1000
}

/// Cron: forget windows that ended.
pub async fn purge(db: &Db, now: Timestamp, limit: i64) -> ApiResult<usize> {
    db.run(
        "DELETE FROM rate_limits WHERE rowid IN (SELECT rowid FROM rate_limits WHERE window_start < ?1 LIMIT ?2)",
        args![now.millis() - WINDOW_MS, limit],
    )
    .await
}
