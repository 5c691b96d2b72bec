//! The cron's re-check of verified domains: a domain whose TXT record is gone stops counting
//! for SSO (`lapsed`, with a `domain.lapsed` event in its org's audit log). A resolver that
//! fails changes nothing but the time of the attempt, so a DNS outage lapses nobody.

use serde::Serialize;

use crate::config::Config;
use crate::domain::sso::{self, TxtLookup};
use crate::domain::time::Timestamp;
use crate::error::ApiResult;
use crate::store::sso as sso_store;
use crate::store::Store;

/// Domains looked up per run: each is one outbound request.
const PER_RUN: i64 = 20;

#[derive(Debug, Default, Serialize)]
pub struct DomainReport {
    pub checked: usize,
    pub lapsed: usize,
    pub deferred: usize,
}

pub async fn recheck(cfg: &Config, db: &Store, now: Timestamp) -> ApiResult<DomainReport> {
    let cutoff = now.plus_seconds(-cfg.domain_recheck_seconds);
    let due = db
        .all_of(sso_store::due_for_recheck_stmt(db, cutoff, PER_RUN)?)
        .await?;
    let mut report = DomainReport::default();
    let mut batch = Vec::new();
    for d in &due {
        let name = sso::txt_name(&d.domain);
        let expected = sso::txt_value(&d.token);
        match crate::idp::lookup_txt(&cfg.dns_resolver_url, &name).await {
            TxtLookup::Records(found) if found.iter().any(|t| t.trim() == expected) => {
                batch.push(sso_store::recheck_done(db, d.id, None, now)?);
                report.checked += 1;
            }
            TxtLookup::Records(found) => {
                let summary = if found.is_empty() {
                    format!("no TXT record at {name}")
                } else {
                    format!("TXT records at {name}, none of them the verification value")
                };
                batch.push(sso_store::recheck_done(db, d.id, Some(&summary), now)?);
                batch.push(sso_store::lapsed_event(db, d, &summary, now)?);
                report.checked += 1;
                report.lapsed += 1;
            }
            TxtLookup::Failed(_) => {
                batch.push(sso_store::recheck_deferred(db, d.id, now)?);
                report.deferred += 1;
            }
        }
    }
    if !batch.is_empty() {
        db.batch(batch).await?;
    }
    Ok(report)
}
