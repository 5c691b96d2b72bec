//! Groups: named sets of org members, optionally restricting them to listed resources.
//! Owners and admins can never be in a restricting group (422), whichever way round it is
//! attempted: adding them, restricting their group, or promoting a restricted member.

use serde::Deserialize;
use serde_json::{json, Value};

use super::views::time;
use crate::domain::authz::Resource;
use crate::domain::ids::{GroupId, UserId};
use crate::domain::roles::OrgRole;
use crate::domain::validation::{self as v, FieldErrors};
use crate::error::{ApiError, ApiResult};
use crate::http::access::OrgAccess;
use crate::http::pagination::Page;
use crate::http::{Ctx, Reply};
use crate::store::audit::Event;
use crate::store::groups::{GroupFields, GroupRow};
use crate::store::{self};

crate::routes! {
    POST "/v1/orgs/{org}/groups" => org(Governance) create;
    GET "/v1/orgs/{org}/groups" => org(Governance) list;
    GET "/v1/orgs/{org}/groups/{group}" => org(Governance) get;
    PATCH "/v1/orgs/{org}/groups/{group}" => org(Governance) patch;
    DELETE "/v1/orgs/{org}/groups/{group}" => org(Governance) delete;
    GET "/v1/orgs/{org}/groups/{group}/members" => org(Governance) members;
    PUT "/v1/orgs/{org}/groups/{group}/members/{user}" => org(Governance) add_member;
    DELETE "/v1/orgs/{org}/groups/{group}/members/{user}" => org(Governance) remove_member;
}

const MAX_NAME: usize = 100;
const MAX_DESCRIPTION: usize = 1000;
const MAX_RESTRICTIONS: usize = 500;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceBody {
    #[serde(rename = "type")]
    kind: String,
    id: String,
}

/// One resource as given; errors at `{field}.type` / `{field}.id`.
pub fn parse_resource(field: &str, r: &ResourceBody, errs: &mut FieldErrors) -> Option<Resource> {
    Resource::parse(&r.kind, &r.id)
        .map_err(|(part, message)| errs.add(&format!("{field}.{part}"), message))
        .ok()
}

/// A list of resources, each checked (errors at `{field}[i].type` / `.id`), duplicates
/// dropped.
pub fn parse_resources(
    field: &str,
    list: &[ResourceBody],
    max: usize,
    errs: &mut FieldErrors,
) -> Vec<Resource> {
    if list.len() > max {
        errs.add(field, format!("must list at most {max} resources"));
        return Vec::new();
    }
    let mut out: Vec<Resource> = Vec::new();
    for (i, r) in list.iter().enumerate() {
        if let Some(res) = parse_resource(&format!("{field}[{i}]"), r, errs) {
            if !out.contains(&res) {
                out.push(res);
            }
        }
    }
    out
}

fn view(g: &GroupRow) -> Value {
    crate::object!({
        "id": g.id,
        "org_id": g.org_id,
        "name": g.name,
        "description": g.description,
        "restrictions": serde_json::from_str::<Value>(&g.restrictions).unwrap_or_else(|_| json!([])),
        "member_count": g.member_count,
        "created_at": time(g.created_at),
        "updated_at": time(g.updated_at),
    })
}

fn group_event(access: &OrgAccess, action: &'static str, id: &GroupId) -> Event {
    access.event(action, ("group", id.to_string()))
}

fn privileged_in_restricting_group() -> ApiError {
    ApiError::field(
        "restrictions",
        "owners and admins can never be in a restricting group",
    )
}

/// The `{group}` of the path in the caller's org (404 otherwise).
async fn target(ctx: &Ctx, access: &OrgAccess) -> ApiResult<(GroupId, GroupRow)> {
    let id: GroupId = ctx.path_id("group")?;
    let row = store::groups::one(access.store(), id)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok((id, row))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateBody {
    name: String,
    description: Option<String>,
    #[serde(default)]
    restrictions: Vec<ResourceBody>,
}

pub async fn create(ctx: &Ctx, access: OrgAccess) -> ApiResult<Reply> {
    let body: CreateBody = ctx.json()?;
    let mut errs = FieldErrors::default();
    let name = errs.check("name", v::text(&body.name, MAX_NAME, true));
    let description = errs.check_optional("description", body.description.as_deref(), |d| {
        v::text(d, MAX_DESCRIPTION, false)
    });
    let restrictions = parse_resources(
        "restrictions",
        &body.restrictions,
        MAX_RESTRICTIONS,
        &mut errs,
    );
    let (Some(name), true) = (name, errs.is_empty()) else {
        return Err(ApiError::Validation(errs.0));
    };
    let id = GroupId::new();
    let now = ctx.now();
    let list = serde_json::to_string(&restrictions).unwrap_or_else(|_| "[]".into());
    let row: GroupRow = ctx
        .store()
        .batch_then_first(
            vec![
                store::groups::insert(
                    access.store(),
                    id,
                    &GroupFields {
                        name: &name,
                        description: description.as_deref(),
                        restrictions: &list,
                        restricting: !restrictions.is_empty(),
                    },
                    now,
                )?,
                ctx.audit(
                    &group_event(&access, "group.created", &id)
                        .meta(crate::object!({"name": name, "restrictions": restrictions.len()})),
                    now,
                )?,
            ],
            store::groups::one_stmt(access.store(), id)?,
        )
        .await?
        .ok_or_else(|| ApiError::internal("group vanished after create"))?;
    Ok(Reply::created(view(&row)))
}

pub async fn list(ctx: &Ctx, access: OrgAccess) -> ApiResult<Reply> {
    let page = ctx.page()?;
    let rows = store::groups::page(access.store(), page.after_key(), page.fetch_limit()).await?;
    let page = Page::from_rows(rows, &page, |g| g.id);
    Ok(Reply::ok(page.render(view)))
}

pub async fn get(ctx: &Ctx, access: OrgAccess) -> ApiResult<Reply> {
    let (_, row) = target(ctx, &access).await?;
    Ok(Reply::ok(view(&row)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatchBody {
    #[serde(default, with = "crate::http::body::nullable")]
    name: Option<Option<String>>,
    #[serde(default, with = "crate::http::body::nullable")]
    description: Option<Option<String>>,
    #[serde(default, with = "crate::http::body::nullable")]
    restrictions: Option<Option<Vec<ResourceBody>>>,
}

pub async fn patch(ctx: &Ctx, access: OrgAccess) -> ApiResult<Reply> {
    let body: PatchBody = ctx.json()?;
    let (id, row) = target(ctx, &access).await?;
    let mut errs = FieldErrors::default();
    let name = errs.check_set("name", &body.name, |n| v::text(n, MAX_NAME, true));
    let description = errs.check_clearable("description", &body.description, |d| {
        v::text(d, MAX_DESCRIPTION, false)
    });
    // `null` or `[]` lifts every restriction.
    let restrictions = body.restrictions.as_ref().map(|r| {
        parse_resources(
            "restrictions",
            r.as_deref().unwrap_or_default(),
            MAX_RESTRICTIONS,
            &mut errs,
        )
    });
    if !errs.is_empty() {
        return Err(ApiError::Validation(errs.0));
    }
    let mut fields = Vec::new();
    if name.is_some() {
        fields.push("name");
    }
    if description.is_some() {
        fields.push("description");
    }
    if restrictions.is_some() {
        fields.push("restrictions");
    }
    if !fields.is_empty() {
        let list = match &restrictions {
            Some(r) => serde_json::to_string(r).unwrap_or_else(|_| "[]".into()),
            None => row.restrictions.clone(),
        };
        let restricting = restrictions
            .as_ref()
            .map_or(row.restricting != 0, |r| !r.is_empty());
        let now = ctx.now();
        let mut batch = store::groups::update(
            access.store(),
            id,
            &GroupFields {
                name: name.as_deref().unwrap_or(&row.name),
                description: match &description {
                    Some(d) => d.as_deref(),
                    None => row.description.as_deref(),
                },
                restrictions: &list,
                restricting,
            },
            now,
        )?;
        batch.push(
            ctx.audit(
                &group_event(&access, "group.updated", &row.id)
                    .meta(crate::object!({ "fields": fields })),
                now,
            )?,
        );
        let row: GroupRow = ctx
            .store()
            .batch_then_first(batch, store::groups::one_stmt(access.store(), id)?)
            .await
            .map_err(|e| e.on_guard(privileged_in_restricting_group()))?
            .ok_or(ApiError::NotFound)?;
        return Ok(Reply::ok(view(&row)));
    }
    Ok(Reply::ok(view(&row)))
}

pub async fn delete(ctx: &Ctx, access: OrgAccess) -> ApiResult<Reply> {
    let (id, row) = target(ctx, &access).await?;
    let now = ctx.now();
    let mut batch = store::groups::delete(access.store(), id)?;
    batch.push(ctx.audit(
        &group_event(&access, "group.deleted", &row.id).meta(crate::object!({ "name": row.name })),
        now,
    )?);
    ctx.store().batch(batch).await?;
    Ok(Reply::no_content())
}

/// `?limit=&cursor=`: the group's members with their org role.
/// The group check and the page are one round trip (`store::groups::members`).
pub async fn members(ctx: &Ctx, access: OrgAccess) -> ApiResult<Reply> {
    let id: GroupId = ctx.path_id("group")?;
    let page = ctx.page()?;
    let rows = store::groups::members(access.store(), id, page.after_key(), page.fetch_limit())
        .await?
        .ok_or(ApiError::NotFound)?;
    let page = Page::from_rows(rows, &page, |m| m.user_id);
    Ok(Reply::ok(page.render(|m| {
        crate::object!({
            "user": {"id": m.user_id, "email": m.email, "first_name": m.first_name, "last_name": m.last_name},
            "role": m.role,
            "added_at": time(m.added_at),
        })
    })))
}

fn member_event(access: &OrgAccess, action: &'static str, group: &GroupId, user: UserId) -> Event {
    group_event(access, action, group).meta(crate::object!({ "user_id": user }))
}

/// The group and the user's standing with it, in one round trip: 404 unless the group is
/// the org's and the user a member of the org.
async fn standing(
    ctx: &Ctx,
    access: &OrgAccess,
) -> ApiResult<(GroupId, UserId, store::groups::MembershipStanding)> {
    let id: GroupId = ctx.path_id("group")?;
    let user: UserId = ctx.path_id("user")?;
    let standing = store::groups::membership_standing(access.store(), id, user)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok((id, user, standing))
}

pub async fn add_member(ctx: &Ctx, access: OrgAccess) -> ApiResult<Reply> {
    let (id, user, standing) = standing(ctx, &access).await?;
    let role = standing.org_role.ok_or(ApiError::NotFound)?;
    if standing.restricting != 0 && role.at_least(OrgRole::Admin) {
        return Err(ApiError::field(
            "user",
            "owners and admins can never be in a restricting group",
        ));
    }
    if standing.in_group != 0 {
        return Ok(Reply::no_content());
    }
    let now = ctx.now();
    let mut batch = store::groups::add_member(access.store(), id, user, now)?;
    batch.push(ctx.audit(&member_event(&access, "group.member_added", &id, user), now)?);
    ctx.store()
        .batch(batch)
        .await
        .map_err(|e| e.on_guard(privileged_in_restricting_group()))?;
    Ok(Reply::no_content())
}

pub async fn remove_member(ctx: &Ctx, access: OrgAccess) -> ApiResult<Reply> {
    let (id, user, standing) = standing(ctx, &access).await?;
    if standing.in_group == 0 {
        return Err(ApiError::NotFound);
    }
    let now = ctx.now();
    ctx.store()
        .batch(vec![
            store::groups::remove_member(access.store(), id, user)?,
            ctx.audit(
                &member_event(&access, "group.member_removed", &id, user),
                now,
            )?,
        ])
        .await?;
    Ok(Reply::no_content())
}
