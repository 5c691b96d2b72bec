//! An org's verified domains: added pending with a secret TXT value, verified by looking the
//! record up over DNS-over-HTTPS, removed. A verified domain is what SSO trusts an email's
//! domain by (discovery, the ID token's email, enforcement). People only: a leaked API
//! token must not be able to claim a domain for SSO.

use serde::Deserialize;
use serde_json::Value;

use super::views::{opt_time, time};
use crate::domain::ids::DomainId;
use crate::domain::sso::{self, TxtLookup};
use crate::domain::token::new_secret;
use crate::error::{ApiError, ApiResult};
use crate::http::access::OrgAccess;
use crate::http::{Ctx, Reply};
use crate::store::sso::{self as sso_store, DomainRow, NewDomain};
use crate::store::{Found, Together};

crate::routes! {
    POST "/v1/orgs/{org}/domains" => org(Governance) create;
    GET "/v1/orgs/{org}/domains" => org(Governance) list;
    GET "/v1/orgs/{org}/domains/{domain}" => org(Governance) get;
    DELETE "/v1/orgs/{org}/domains/{domain}" => org(Governance) remove;
    POST "/v1/orgs/{org}/domains/{domain}/verify" => org(Governance) verify;
}

/// An org claims at most this many domains.
const MAX_DOMAINS: usize = 100;

pub fn view(d: &DomainRow) -> Value {
    crate::object!({
        "id": d.id,
        "org_id": d.org_id,
        "domain": d.domain,
        "status": d.status,
        "verification": {
            "type": "dns_txt",
            "name": sso::txt_name(&d.domain),
            "value": sso::txt_value(&d.token),
        },
        "created_at": time(d.created_at),
        "verified_at": opt_time(d.verified_at),
        "checked_at": opt_time(d.checked_at),
        "check_error": d.check_error,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateBody {
    domain: String,
}

fn taken() -> ApiError {
    ApiError::conflict(
        "domain_taken",
        "Another organization has verified this domain.",
    )
}

pub async fn create(ctx: &Ctx, access: OrgAccess) -> ApiResult<Reply> {
    let by = access.person()?.user_id();
    let body: CreateBody = ctx.json()?;
    let domain = sso::normalize_domain(&body.domain).map_err(|m| ApiError::field("domain", m))?;
    let store = access.store();
    let mut reads = Together::default();
    let claimed = reads.add(sso_store::domain_claimed_stmt(store, &domain)?);
    let elsewhere = reads.add(sso_store::verified_elsewhere_stmt(store, &domain)?);
    let existing = reads.add(sso_store::domains_stmt(store)?);
    let results = reads.run(store.global()).await?;
    if results.first::<Found>(claimed)?.is_some() {
        return Err(ApiError::conflict(
            "domain_exists",
            "The organization has already added this domain.",
        ));
    }
    if results.first::<Found>(elsewhere)?.is_some() {
        return Err(taken());
    }
    if results.rows::<DomainRow>(existing)?.len() >= MAX_DOMAINS {
        return Err(ApiError::conflict(
            "domain_limit",
            format!("An organization can add at most {MAX_DOMAINS} domains."),
        ));
    }
    let now = ctx.now();
    let id = DomainId::new();
    let added = access
        .event("domain.added", ("domain", id.to_string()))
        .meta(crate::object!({ "domain": domain }));
    let row: DomainRow = store
        .global()
        .batch_then_first(
            vec![
                sso_store::insert_domain(
                    store,
                    &NewDomain {
                        id,
                        domain: &domain,
                        token: &new_secret(),
                        by: Some(by),
                        now,
                    },
                )?,
                ctx.audit(&added, now)?,
            ],
            sso_store::domain_stmt(store, id)?,
        )
        .await?
        .ok_or_else(|| ApiError::internal("domain vanished after insert"))?;
    Ok(Reply::created(view(&row)))
}

pub async fn list(ctx: &Ctx, access: OrgAccess) -> ApiResult<Reply> {
    access.person()?;
    let _ = ctx;
    let rows = access
        .store()
        .global()
        .all_of(sso_store::domains_stmt(access.store())?)
        .await?;
    let data: Vec<Value> = rows.iter().map(view).collect();
    Ok(Reply::ok(
        crate::object!({ "data": data, "next_cursor": null }),
    ))
}

async fn one(ctx: &Ctx, access: &OrgAccess) -> ApiResult<DomainRow> {
    access.person()?;
    let id: DomainId = ctx.path_id("domain")?;
    access
        .store()
        .global()
        .first_of(sso_store::domain_stmt(access.store(), id)?)
        .await?
        .ok_or(ApiError::NotFound)
}

pub async fn get(ctx: &Ctx, access: OrgAccess) -> ApiResult<Reply> {
    Ok(Reply::ok(view(&one(ctx, &access).await?)))
}

pub async fn remove(ctx: &Ctx, access: OrgAccess) -> ApiResult<Reply> {
    let row = one(ctx, &access).await?;
    let now = ctx.now();
    let removed = access
        .event("domain.removed", ("domain", row.id.to_string()))
        .meta(crate::object!({ "domain": row.domain, "status": row.status }));
    access
        .store()
        .global()
        .batch(vec![
            sso_store::delete_domain(access.store(), row.id)?,
            ctx.audit(&removed, now)?,
        ])
        .await?;
    Ok(Reply::no_content())
}

/// Looks the TXT record up now: 200 verified, 422 saying what was found, 409 when another org
/// verified the domain first, 503 when the resolver failed (nothing changes then).
pub async fn verify(ctx: &Ctx, access: OrgAccess) -> ApiResult<Reply> {
    let row = one(ctx, &access).await?;
    if row.status == "verified" {
        return Ok(Reply::ok(view(&row)));
    }
    let store = access.store();
    if store
        .global()
        .first_of(sso_store::verified_elsewhere_stmt(store, &row.domain)?)
        .await?
        .is_some()
    {
        return Err(taken());
    }
    let name = sso::txt_name(&row.domain);
    let expected = sso::txt_value(&row.token);
    let now = ctx.now();
    let found = match crate::idp::lookup_txt(&ctx.cfg.dns_resolver_url, &name).await {
        TxtLookup::Records(found) => found,
        TxtLookup::Failed(why) => {
            return Err(ApiError::problem(
                503,
                "dns_unavailable",
                "DNS lookup failed",
                format!("The DNS resolver could not be asked about {name}: {why}. Nothing changed; try again."),
            ))
        }
    };
    if !found.iter().any(|txt| txt.trim() == expected) {
        let summary = if found.is_empty() {
            format!("no TXT record at {name}")
        } else {
            // What was found, each value cut short: the detail is for a person reading it.
            let shown: Vec<String> = found
                .iter()
                .take(5)
                .map(|t| format!("{:?}", t.chars().take(100).collect::<String>()))
                .collect();
            let more = found.len().saturating_sub(shown.len());
            format!(
                "TXT records at {name}: {}{}, none of them {expected:?}",
                shown.join(", "),
                if more > 0 {
                    format!(" and {more} more")
                } else {
                    String::new()
                }
            )
        };
        store
            .global()
            .run_stmt(sso_store::record_check(store, row.id, &summary, now)?)
            .await?;
        return Err(ApiError::Problem {
            status: 422,
            code: "domain_verification_failed",
            title: "Domain not verified",
            detail: format!(
                "Found {summary}. Publish a TXT record named {name} with the value {expected} and try again (DNS changes can take a while to appear)."
            ),
            extra: Some(crate::object!({ "found": found })),
        });
    }
    let verified = access
        .event("domain.verified", ("domain", row.id.to_string()))
        .meta(crate::object!({ "domain": row.domain }));
    let row: DomainRow = store
        .global()
        .batch_then_first(
            vec![
                sso_store::mark_verified(store, row.id, now)?,
                ctx.audit(&verified, now)?,
            ],
            sso_store::domain_stmt(store, row.id)?,
        )
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(Reply::ok(view(&row)))
}
