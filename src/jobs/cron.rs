//! The cron run: record invitation expiry and send reminders (`jobs::invitations`), then
//! the sweep: purge ended sessions, used or expired tokens and stale rate-limit windows.
//! Each sweep step deletes at most `BATCH` rows per statement and at most `ROUNDS`
//! statements per run, so one run stays bounded; it is idempotent, and the next run
//! continues where this one stopped.

use serde::Serialize;
use worker::Env;

use super::{domains, invitations};
use crate::domain::time::Timestamp;
use crate::error::ApiResult;
use crate::store::{self, Store};

const BATCH: i64 = 500;
const ROUNDS: usize = 10;
/// Ended sessions and spent tokens are kept this long (for "expired" answers and support).
const RETENTION_SECONDS: i64 = 7 * 86_400;

#[derive(Debug, Default, Serialize)]
pub struct SweepReport {
    pub sessions_purged: usize,
    pub tokens_purged: usize,
    pub rate_limit_windows_purged: usize,
    pub sso_flows_purged: usize,
}

async fn drain(db: &Store, make: impl Fn() -> ApiResult<store::Stmt>) -> ApiResult<usize> {
    let mut total = 0;
    for _ in 0..ROUNDS {
        let n = db.run_stmt(make()?).await?;
        total += n;
        if (n as i64) < BATCH {
            break;
        }
    }
    Ok(total)
}

pub async fn sweep(db: &Store, now: Timestamp) -> ApiResult<SweepReport> {
    let cutoff = now.plus_seconds(-RETENTION_SECONDS);
    Ok(SweepReport {
        sessions_purged: drain(db, || store::sessions::purge(db, cutoff, BATCH)).await?,
        tokens_purged: drain(db, || store::tokens::purge(db, cutoff, BATCH)).await?,
        rate_limit_windows_purged: store::rate_limits::purge(db, now, BATCH * ROUNDS as i64)
            .await?,
        // Sign-in flows and exchange codes live minutes; expired ones go at once.
        sso_flows_purged: db
            .batch(store::sso::purge_flows(db, now, BATCH)?)
            .await?
            .iter()
            .map(|o| o.changes())
            .sum(),
    })
}

/// What one cron run did; a step that failed is reported in `errors` and the others still
/// run (each is idempotent, so the next run retries it).
#[derive(Debug, Default, Serialize)]
pub struct RunReport {
    pub sweep: Option<SweepReport>,
    pub invitations_expired: Option<usize>,
    pub invitation_reminders: Option<usize>,
    pub audit_events_purged: Option<usize>,
    pub domains: Option<domains::DomainReport>,
    pub errors: Vec<String>,
}

fn step<T>(result: ApiResult<T>, errors: &mut Vec<String>, name: &str) -> Option<T> {
    result
        .map_err(|e| errors.push(format!("{name}: {e:?}")))
        .ok()
}

pub async fn run(env: &Env, db: &Store, now: Timestamp) -> RunReport {
    let mut errors = Vec::new();
    let invitations_expired = step(
        invitations::expire_overdue(db, now).await,
        &mut errors,
        "invitation expiry",
    );
    let (invitation_reminders, audit_events_purged, domains) = match crate::config::cached(env) {
        Ok(cfg) => (
            step(
                invitations::send_reminders(env, &cfg, db, now).await,
                &mut errors,
                "invitation reminders",
            ),
            step(
                drain(db, || {
                    store::audit::purge(
                        db,
                        now.plus_seconds(-cfg.audit_retention_days * 86_400),
                        BATCH,
                    )
                })
                .await,
                &mut errors,
                "audit retention",
            ),
            step(
                domains::recheck(&cfg, db, now).await,
                &mut errors,
                "domain re-check",
            ),
        ),
        Err(e) => (step::<usize>(Err(e), &mut errors, "config"), None, None),
    };
    let sweep = step(sweep(db, now).await, &mut errors, "sweep");
    RunReport {
        sweep,
        invitations_expired,
        invitation_reminders,
        audit_events_purged,
        domains,
        errors,
    }
}
