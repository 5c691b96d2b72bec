//! Organizations: create, list mine, read, edit, delete, transfer ownership, usage, roles.

use serde::Deserialize;
use serde_json::Value;

use super::views::time;
use crate::domain::account::AccountStatus;
use crate::domain::ids::UserId;
use crate::domain::permissions::{describe, org_permissions};
use crate::domain::roles::OrgRole;
use crate::domain::validation::{self as v, FieldErrors};
use crate::error::{ApiError, ApiResult};
use crate::http::access::OrgAccess;
use crate::http::auth::Caller;
use crate::http::pagination::Page;
use crate::http::{Ctx, Reply};
use crate::store::audit::{Actor, Event};
use crate::store::orgs::{OrgChange, OrgRow, OrgWithRole};
use crate::store::{self};

crate::routes! {
    POST "/v1/orgs" => person create;
    GET "/v1/orgs" => person list;
    GET "/v1/orgs/{org}" => org(ViewOrg) get;
    PATCH "/v1/orgs/{org}" => org(EditOrg) patch;
    DELETE "/v1/orgs/{org}" => org(DeleteOrg) delete;
    POST "/v1/orgs/{org}/transfer-ownership" => org(TransferOwnership) transfer_ownership;
    GET "/v1/orgs/{org}/usage" => org(Governance) usage;
    GET "/v1/orgs/{org}/roles" => org(ViewDirectory) roles;
}

const MAX_NAME: usize = 100;
const MAX_DESCRIPTION: usize = 1000;

pub fn view(org: &OrgRow, role: OrgRole) -> Value {
    crate::object!({
        "id": org.id,
        "name": org.name,
        "description": org.description,
        "logo_url": org.logo_url,
        "owner_id": org.owner_id,
        "member_limit": org.member_limit,
        "created_at": time(org.created_at),
        "updated_at": time(org.updated_at),
        "role": role,
        // What the caller's role may do here, so a front end offers only those actions
        // (the API still decides every request).
        "permissions": org_permissions(role),
    })
}

/// An event in the org's audit trail, by the caller, about the org.
fn org_event(access: &OrgAccess, action: &'static str) -> Event {
    access.event(action, ("org", access.org_id().to_string()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateBody {
    name: String,
    description: Option<String>,
    logo_url: Option<String>,
}

pub async fn create(ctx: &Ctx, caller: Caller) -> ApiResult<Reply> {
    let body: CreateBody = ctx.json()?;
    let mut errs = FieldErrors::default();
    let name = errs.check("name", v::text(&body.name, MAX_NAME, true));
    let description = errs.check_optional("description", body.description.as_deref(), |d| {
        v::text(d, MAX_DESCRIPTION, false)
    });
    let logo_url = body
        .logo_url
        .as_deref()
        .and_then(|u| errs.check("logo_url", v::https_url(u)));
    let (Some(name), true) = (name, errs.is_empty()) else {
        return Err(ApiError::Validation(errs.0));
    };
    let now = ctx.now();
    let new_org = ctx.store().create_org();
    let org_id = new_org.org();
    let mut batch = store::orgs::insert(
        ctx.store(),
        &store::orgs::NewOrg {
            id: org_id,
            name: &name,
            description: description.as_deref(),
            logo_url: logo_url.as_deref(),
            owner: caller.user_id(),
            member_limit: ctx.cfg.default_member_limit,
            now,
        },
    )?;
    batch.push(ctx.audit(
        &Event::by(
            org_id,
            Actor::user(caller.user_id(), caller.email()),
            "org.created",
            ("org", org_id.to_string()),
        ),
        now,
    )?);
    ctx.store().batch(batch).await?;
    let created = store::orgs::with_role(&new_org, caller.user_id())
        .await?
        .ok_or_else(|| ApiError::internal("org vanished after create"))?;
    Ok(Reply::created(view(&created.org, created.role)))
}

pub async fn list(ctx: &Ctx, caller: Caller) -> ApiResult<Reply> {
    let page = ctx.page()?;
    let rows = store::orgs::list_for_user(
        ctx.store(),
        caller.user_id(),
        page.after_key(),
        page.fetch_limit(),
    )
    .await?;
    let page = Page::from_rows(rows, &page, |r: &OrgWithRole| r.org.id);
    Ok(Reply::ok(page.render(|r| view(&r.org, r.role))))
}

pub async fn get(_ctx: &Ctx, access: OrgAccess) -> ApiResult<Reply> {
    Ok(Reply::ok(view(access.org(), access.role())))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatchBody {
    #[serde(default, with = "crate::http::body::nullable")]
    name: Option<Option<String>>,
    #[serde(default, with = "crate::http::body::nullable")]
    description: Option<Option<String>>,
    #[serde(default, with = "crate::http::body::nullable")]
    logo_url: Option<Option<String>>,
}

pub async fn patch(ctx: &Ctx, access: OrgAccess) -> ApiResult<Reply> {
    let body: PatchBody = ctx.json()?;
    let mut errs = FieldErrors::default();
    let name = errs.check_set("name", &body.name, |n| v::text(n, MAX_NAME, true));
    let description = errs.check_clearable("description", &body.description, |d| {
        v::text(d, MAX_DESCRIPTION, false)
    });
    let logo_url = errs.check_clearable("logo_url", &body.logo_url, v::https_url);
    if !errs.is_empty() {
        return Err(ApiError::Validation(errs.0));
    }
    let change = OrgChange {
        name: name.as_deref(),
        description: description.as_ref().map(|d| d.as_deref()),
        logo_url: logo_url.as_ref().map(|u| u.as_deref()),
    };
    let fields: Vec<&str> = [
        change.name.map(|_| "name"),
        change.description.map(|_| "description"),
        change.logo_url.map(|_| "logo_url"),
    ]
    .into_iter()
    .flatten()
    .collect();
    if fields.is_empty() {
        return Ok(Reply::ok(view(access.org(), access.role())));
    }
    let now = ctx.now();
    // The role is the caller's as of the gate (a patch does not change it).
    let updated: OrgRow = ctx
        .store()
        .batch_then_first(
            vec![
                store::orgs::update(access.store(), &change, now)?,
                ctx.audit(
                    &org_event(&access, "org.updated").meta(crate::object!({ "fields": fields })),
                    now,
                )?,
            ],
            store::orgs::by_id_stmt(access.store())?,
        )
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(Reply::ok(view(&updated, access.role())))
}

/// Owner only, so always a person (a token never holds `owner`).
pub async fn delete(ctx: &Ctx, access: OrgAccess) -> ApiResult<Reply> {
    let owner = access.person()?;
    let now = ctx.now();
    let mut batch = store::orgs::delete(access.store())?;
    // The org's own trail goes with it; the deletion is kept in the owner's account history.
    batch.push(
        ctx.audit(
            &Event {
                org: None,
                subject: Some(owner.user_id()),
                ..org_event(&access, "org.deleted")
            }
            .meta(crate::object!({ "org_id": access.org_id(), "name": access.org().name })),
            now,
        )?,
    );
    ctx.store().batch(batch).await?;
    Ok(Reply::no_content())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransferBody {
    user_id: String,
}

/// Owner only, so always a person (a token never holds `owner`).
pub async fn transfer_ownership(ctx: &Ctx, access: OrgAccess) -> ApiResult<Reply> {
    let owner = access.person()?.user_id();
    let body: TransferBody = ctx.json()?;
    let target: UserId = body
        .user_id
        .parse()
        .map_err(|_| ApiError::field("user_id", "must be a UUID"))?;
    if target == owner {
        return Err(ApiError::conflict(
            "cannot_act_on_self",
            "You already own this organization.",
        ));
    }
    // The owner must be able to sign in and act: an active account holding an org role.
    match store::members::one(access.store(), target).await? {
        None => {
            return Err(ApiError::field(
                "user_id",
                "is not a member of this organization",
            ))
        }
        Some(m) if m.status != AccountStatus::Active => {
            return Err(ApiError::field("user_id", "must be an active account"))
        }
        Some(m) if m.role == OrgRole::Member => {
            return Err(ApiError::field(
                "user_id",
                "must hold an org role, not only workspace access",
            ))
        }
        Some(_) => {}
    }
    if store::groups::is_restricted(access.store(), target).await? {
        return Err(ApiError::field(
            "user_id",
            "is in a restricting group; owners can never be (remove them from it first)",
        ));
    }
    let now = ctx.now();
    let mut batch = store::orgs::transfer(access.store(), owner, target, now)?;
    batch.push(
        ctx.audit(
            &Event {
                target: Some(("user", target.to_string())),
                ..org_event(&access, "org.ownership_transferred")
            }
            .meta(crate::object!({ "from": owner, "to": target })),
            now,
        )?,
    );
    ctx.store().batch(batch).await.map_err(|e| {
        e.on_guard(ApiError::conflict(
            "conflict",
            "Ownership or membership changed concurrently; retry.",
        ))
    })?;
    let updated = store::orgs::with_role(access.store(), owner)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(Reply::ok(view(&updated.org, updated.role)))
}

/// Seats: members and pending invitations both hold one.
pub async fn usage(ctx: &Ctx, access: OrgAccess) -> ApiResult<Reply> {
    let (members, pending_invitations) = store::members::seats(access.store(), ctx.now()).await?;
    let limit = access.org().member_limit;
    Ok(Reply::ok(crate::object!({
        "member_limit": limit,
        "members": members,
        "pending_invitations": pending_invitations,
        "remaining": (limit - members - pending_invitations).max(0),
    })))
}

/// The role overview: each role, what it may do, and how many hold it.
pub async fn roles(_ctx: &Ctx, access: OrgAccess) -> ApiResult<Reply> {
    let counts = store::orgs::role_counts(access.store()).await?;
    let data: Vec<Value> = [
        OrgRole::Owner,
        OrgRole::Admin,
        OrgRole::Editor,
        OrgRole::Viewer,
        OrgRole::Member,
    ]
    .iter()
    .map(|role| {
        crate::object!({
            "role": role,
            "description": describe(*role),
            "permissions": org_permissions(*role),
            "member_count": counts.iter().find(|c| c.role == *role).map_or(0, |c| c.n),
        })
    })
    .collect();
    Ok(Reply::ok(crate::object!({ "data": data })))
}
