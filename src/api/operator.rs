//! Operator routes: platform settings of an org that its own admins cannot change.

use serde::Deserialize;

use crate::domain::ids::OrgId;
use crate::error::{ApiError, ApiResult};
use crate::http::auth::Operator;
use crate::http::{Ctx, Reply};
use crate::store::audit::{Actor, Event};
use crate::store::{self};

crate::routes! {
    PUT "/v1/admin/orgs/{org}/limits" => operator set_limits;
}

pub const MAX_MEMBER_LIMIT: i64 = 1_000_000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsBody {
    member_limit: i64,
}

/// Sets the org's seat limit. Lowering it below the current members is allowed: nobody is
/// removed, but no seat is free until enough leave.
pub async fn set_limits(ctx: &Ctx, operator: Operator) -> ApiResult<Reply> {
    let org: OrgId = ctx.path_id("org")?;
    let body: LimitsBody = ctx.json()?;
    if !(1..=MAX_MEMBER_LIMIT).contains(&body.member_limit) {
        return Err(ApiError::field(
            "member_limit",
            format!("must be from 1 to {MAX_MEMBER_LIMIT}"),
        ));
    }
    // The operator is admitted to every org.
    let org_store = operator.open_org(org);
    let before = store::orgs::by_id(&org_store)
        .await?
        .ok_or(ApiError::NotFound)?;
    let now = ctx.now();
    let event = Event {
        action: "org.limits_changed",
        org: Some(org),
        subject: None,
        actor: Some(Actor::Operator),
        target: Some(("org", org.to_string())),
        auth_method: Some("api_token"),
        success: true,
        metadata: Some(
            crate::object!({ "member_limit": { "from": before.member_limit, "to": body.member_limit } }),
        ),
    };
    ctx.store()
        .batch(vec![
            store::orgs::set_member_limit(&org_store, body.member_limit, now)?,
            ctx.audit(&event, now)?,
        ])
        .await?;
    let members: i64 = store::orgs::role_counts(&org_store)
        .await?
        .iter()
        .map(|c| c.n)
        .sum();
    Ok(Reply::ok(crate::object!({
        "org_id": org,
        "member_limit": body.member_limit,
        "members": members,
        "remaining": (body.member_limit - members).max(0),
    })))
}
