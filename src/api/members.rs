//! The org's member directory, role changes and removal.

use serde::Deserialize;
use serde_json::{json, Value};

use super::views::time;
use crate::domain::ids::UserId;
use crate::domain::permissions::may_grant;
use crate::domain::roles::OrgRole;
use crate::domain::validation::{self as v, FieldErrors};
use crate::http::access::OrgAccess;
use crate::http::error::{ApiError, ApiResult};
use crate::http::pagination::Page;
use crate::http::{Ctx, Reply};
use crate::store::audit::Event;
use crate::store::members::{MemberRow, MemberWorkspace};
use crate::store::users::ProfileChange;
use crate::store::{self};

const MAX_QUERY: usize = 100;

fn view(m: &MemberRow, workspaces: &[MemberWorkspace]) -> Value {
    json!({
        "user": {
            "id": m.user_id,
            "email": m.email,
            "first_name": m.first_name,
            "last_name": m.last_name,
            "phone": m.phone,
            "status": m.status,
        },
        "role": m.role,
        "managed": m.managed != 0,
        "workspaces": workspaces
            .iter()
            .filter(|w| w.user_id == m.user_id)
            .map(|w| json!({"id": w.id, "name": w.name, "role": w.role}))
            .collect::<Vec<_>>(),
        // Groups arrive with the governance work; nobody is in one yet.
        "groups": [],
        "joined_at": time(m.joined_at),
    })
}

/// `?role=&q=&limit=&cursor=`: every user of the org, workspace-only members included.
pub async fn list(ctx: &Ctx, access: OrgAccess) -> ApiResult<Reply> {
    let page = ctx.page()?;
    let role = match ctx.query("role") {
        None | Some("") => None,
        Some(r) => Some(OrgRole::parse(r).ok_or_else(|| {
            ApiError::field(
                "role",
                "must be one of owner, admin, editor, viewer, member",
            )
        })?),
    };
    let q = match ctx.query("q").map(str::trim) {
        None | Some("") => None,
        Some(q) if q.chars().count() > MAX_QUERY => {
            return Err(ApiError::field(
                "q",
                format!("must be at most {MAX_QUERY} characters"),
            ))
        }
        Some(q) => Some(q.to_lowercase()),
    };
    let rows = store::members::page(
        &ctx.db,
        access.org_id,
        role,
        q.as_deref(),
        page.after_key(),
        page.fetch_limit(),
    )
    .await?;
    let page = Page::from_rows(rows, &page, |m| m.user_id.clone());
    let ids: Vec<String> = page.data.iter().map(|m| m.user_id.clone()).collect();
    let workspaces = store::members::workspaces_of(&ctx.db, access.org_id, &ids).await?;
    Ok(Reply::ok(page.render(|m| view(m, &workspaces))))
}

/// The member named by `{user}`, who must not be the caller.
async fn target(ctx: &Ctx, access: &OrgAccess) -> ApiResult<(UserId, MemberRow)> {
    let user: UserId = ctx
        .params
        .get("user")
        .parse()
        .map_err(|_| ApiError::NotFound)?;
    if user == access.caller.user_id {
        return Err(ApiError::conflict(
            "cannot_act_on_self",
            "You cannot change or remove yourself here.",
        ));
    }
    let member = store::members::one(&ctx.db, access.org_id, user)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok((user, member))
}

fn member_event(access: &OrgAccess, action: &'static str, user: UserId) -> Event {
    Event {
        action,
        org: Some(access.org_id),
        subject: None,
        actor_id: Some(access.caller.user_id),
        actor_email: Some(access.caller.email.clone()),
        target: Some(("user", user.to_string())),
        auth_method: None,
        success: true,
        metadata: None,
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatchBody {
    role: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    phone: Option<String>,
}

pub async fn patch(ctx: &Ctx, access: OrgAccess) -> ApiResult<Reply> {
    let body: PatchBody = ctx.json()?;
    let (user, member) = target(ctx, &access).await?;
    let mut errs = FieldErrors::default();
    let role = match body.role.as_deref() {
        None => None,
        Some(r) => match OrgRole::parse(r) {
            Some(OrgRole::Owner) => {
                errs.add("role", "ownership changes only by transfer");
                None
            }
            Some(role) => Some(role),
            None => {
                errs.add("role", "must be one of admin, editor, viewer, member");
                None
            }
        },
    };
    let first_name = body
        .first_name
        .as_deref()
        .and_then(|n| errs.check("first_name", v::name(n)));
    let last_name = body
        .last_name
        .as_deref()
        .and_then(|n| errs.check("last_name", v::name(n)));
    let phone = body
        .phone
        .as_deref()
        .and_then(|p| errs.check("phone", v::phone_e164(p)));
    if !errs.is_empty() {
        return Err(ApiError::Validation(errs.0));
    }
    if member.role == OrgRole::Owner.as_str() && role.is_some() {
        return Err(ApiError::conflict(
            "last_owner",
            "The owner's role changes only by transferring ownership.",
        ));
    }
    if role.is_some_and(|r| !may_grant(access.role, r)) {
        return Err(ApiError::Forbidden);
    }
    let details = first_name.is_some() || last_name.is_some() || phone.is_some();
    // Details belong to the person; an org edits them only for accounts it created.
    if details && member.managed == 0 {
        return Err(ApiError::Forbidden);
    }
    let now = ctx.now();
    let mut batch = Vec::new();
    if let Some(role) = role {
        if role.as_str() != member.role {
            batch.push(store::members::set_role(
                &ctx.db,
                access.org_id,
                user,
                role,
            )?);
            batch.push(
                ctx.audit(
                    &member_event(&access, "member.role_changed", user)
                        .meta(json!({"from": member.role, "to": role})),
                    now,
                )?,
            );
        }
    }
    if details {
        let change = ProfileChange {
            first_name: first_name.as_deref(),
            last_name: last_name.as_deref(),
            phone: phone.as_deref().map(Some),
        };
        batch.push(store::users::update_profile(&ctx.db, user, &change, now)?);
        batch.push(ctx.audit(&member_event(&access, "user.updated", user), now)?);
    }
    if !batch.is_empty() {
        ctx.db.batch(batch).await?;
    }
    let member = store::members::one(&ctx.db, access.org_id, user)
        .await?
        .ok_or(ApiError::NotFound)?;
    let workspaces = store::members::workspaces_of(
        &ctx.db,
        access.org_id,
        std::slice::from_ref(&member.user_id),
    )
    .await?;
    Ok(Reply::ok(view(&member, &workspaces)))
}

pub async fn remove(ctx: &Ctx, access: OrgAccess) -> ApiResult<Reply> {
    let (user, member) = target(ctx, &access).await?;
    if member.role == OrgRole::Owner.as_str() {
        return Err(ApiError::conflict(
            "last_owner",
            "The owner cannot be removed; transfer ownership first.",
        ));
    }
    let now = ctx.now();
    let mut batch = store::members::remove(&ctx.db, access.org_id, user)?;
    batch.push(ctx.audit(
        &member_event(&access, "member.removed", user).meta(json!({"role": member.role})),
        now,
    )?);
    ctx.db
        .batch(batch)
        .await
        .map_err(|e| e.on_guard(ApiError::NotFound))?;
    Ok(Reply::no_content())
}
