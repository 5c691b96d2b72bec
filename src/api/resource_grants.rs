//! Resource grants of a workspace: a user or a group of the org gets `view`, `edit` or
//! `manage` on an external resource `{type, id}`.

use serde::Deserialize;
use serde_json::{json, Value};

use super::groups::{parse_resource, ResourceBody};
use super::views::time;
use crate::domain::authz::{Permission, Resource};
use crate::domain::ids::{GrantId, GroupId, UserId, WorkspaceId};
use crate::domain::validation::FieldErrors;
use crate::error::{refusal_first, ApiError, ApiResult};
use crate::http::access::OrgAccess;
use crate::http::pagination::Page;
use crate::http::{Ctx, Reply};
use crate::store::audit::Event;
use crate::store::resource_grants::{GrantFilter, GrantKey, GrantRow};
use crate::store::{self};

crate::routes! {
    PUT "/v1/orgs/{org}/workspaces/{ws}/grants" => org(Governance) put;
    GET "/v1/orgs/{org}/workspaces/{ws}/grants" => org(Governance) list;
    DELETE "/v1/orgs/{org}/workspaces/{ws}/grants" => org(Governance) delete;
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrincipalBody {
    #[serde(rename = "type")]
    kind: String,
    id: String,
}

/// A principal as given: `user` or `group` with a UUID.
fn parse_principal(p: &PrincipalBody, errs: &mut FieldErrors) -> Option<(&'static str, String)> {
    let kind = match p.kind.as_str() {
        "user" => Some("user"),
        "group" => Some("group"),
        _ => {
            errs.add("principal.type", "must be user or group");
            None
        }
    };
    let id_ok = match kind {
        Some("user") => p.id.parse::<UserId>().is_ok(),
        _ => p.id.parse::<GroupId>().is_ok(),
    };
    if !id_ok {
        errs.add("principal.id", "must be a UUID");
    }
    kind.filter(|_| id_ok).map(|k| (k, p.id.clone()))
}

fn view(g: &GrantRow) -> Value {
    crate::object!({
        "id": g.id,
        "workspace_id": g.workspace_id,
        "principal": {"type": g.principal_type, "id": g.principal_id},
        "resource": {"type": g.resource_type, "id": g.resource_id},
        "permission": g.permission,
        "created_at": time(g.created_at),
        "updated_at": time(g.updated_at),
    })
}

/// The `{ws}` of the path, a workspace of the caller's org (404 otherwise).
async fn workspace(ctx: &Ctx, access: &OrgAccess) -> ApiResult<WorkspaceId> {
    let ws: WorkspaceId = ctx.path_id("ws")?;
    let known = store::members::existing_workspaces(access.store(), &[ws]).await?;
    if known.is_empty() {
        return Err(ApiError::NotFound);
    }
    Ok(ws)
}

fn grant_event(
    access: &OrgAccess,
    action: &'static str,
    ws: WorkspaceId,
    k: &GrantKey<'_>,
) -> Event {
    access
        .event(action, ("workspace", ws.to_string()))
        .meta(crate::object!({
            "principal": {"type": k.principal_type, "id": k.principal_id},
            "resource": {"type": k.resource_type, "id": k.resource_id},
        }))
}

/// Who and what a grant is about, as both PUT and DELETE name it.
struct Target {
    kind: &'static str,
    principal_id: String,
    resource: Resource,
}

impl Target {
    fn parse(p: &PrincipalBody, r: &ResourceBody, errs: &mut FieldErrors) -> Option<Self> {
        let principal = parse_principal(p, errs);
        let resource = parse_resource("resource", r, errs);
        let ((kind, principal_id), resource) = (principal?, resource?);
        Some(Target {
            kind,
            principal_id,
            resource,
        })
    }

    fn key(&self, workspace: WorkspaceId) -> GrantKey<'_> {
        GrantKey {
            workspace,
            principal_type: self.kind,
            principal_id: &self.principal_id,
            resource_type: &self.resource.kind,
            resource_id: &self.resource.id,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PutBody {
    principal: PrincipalBody,
    resource: ResourceBody,
    permission: String,
}

fn parse_put(ctx: &Ctx) -> ApiResult<(Target, Permission)> {
    let body: PutBody = ctx.json()?;
    let mut errs = FieldErrors::default();
    let target = Target::parse(&body.principal, &body.resource, &mut errs);
    let permission = errs.check(
        "permission",
        Permission::parse(&body.permission)
            .ok_or_else(|| "must be view, edit or manage".to_string()),
    );
    match (target, permission, errs.is_empty()) {
        (Some(target), Some(permission), true) => Ok((target, permission)),
        _ => Err(ApiError::Validation(errs.0)),
    }
}

/// Creates a grant or changes its permission: the gate, one round trip of reads (workspace,
/// principal, the grant as it stands), one batch that writes and reads the result.
pub async fn put(ctx: &Ctx, access: OrgAccess) -> ApiResult<Reply> {
    let ws: WorkspaceId = ctx.path_id("ws")?;
    // The workspace is read with the other checks below; a bad body still answers 404 first
    // for a workspace that is not the org's.
    let (target, permission) = refusal_first(parse_put(ctx), workspace(ctx, &access)).await?;
    let key = target.key(ws);
    let (principal_known, before) = store::resource_grants::put_context(access.store(), &key)
        .await?
        .ok_or(ApiError::NotFound)?;
    if !principal_known {
        return Err(ApiError::field(
            "principal.id",
            "is not a member or group of this organization",
        ));
    }
    if let Some(same) = before.as_ref().filter(|b| b.permission == permission) {
        // Nothing changes: no write, no event.
        return Ok(Reply::ok(view(same)));
    }
    let now = ctx.now();
    let action = if before.is_some() {
        "grant.updated"
    } else {
        "grant.created"
    };
    let row: GrantRow = ctx
        .store()
        .batch_then_first(
            vec![
                store::resource_grants::put(
                    access.store(),
                    GrantId::new(),
                    &key,
                    permission.as_str(),
                    access.user_id(),
                    now,
                )?,
                ctx.audit(
                    &{
                        let mut e = grant_event(&access, action, ws, &key);
                        if let Some(meta) = e.metadata.as_mut() {
                            meta["permission"] = json!(permission.as_str());
                            meta["from"] = json!(before.as_ref().map(|b| b.permission));
                        }
                        e
                    },
                    now,
                )?,
            ],
            store::resource_grants::find_stmt(access.store(), &key)?,
        )
        .await?
        .ok_or_else(|| ApiError::internal("grant vanished after put"))?;
    Ok(if before.is_some() {
        Reply::ok(view(&row))
    } else {
        Reply::created(view(&row))
    })
}

/// `?principal_type=&principal_id=&resource_type=&resource_id=&limit=&cursor=`.
/// The workspace check and the page are one round trip (`store::resource_grants::page`).
pub async fn list(ctx: &Ctx, access: OrgAccess) -> ApiResult<Reply> {
    let ws: WorkspaceId = ctx.path_id("ws")?;
    let page = ctx.page()?;
    let principal_type = ctx.filter_param("principal_type");
    if principal_type.is_some_and(|t| t != "user" && t != "group") {
        return Err(ApiError::field("principal_type", "must be user or group"));
    }
    let filter = GrantFilter {
        principal_type,
        principal_id: ctx.filter_param("principal_id"),
        resource_type: ctx.filter_param("resource_type"),
        resource_id: ctx.filter_param("resource_id"),
    };
    let rows = store::resource_grants::page(
        access.store(),
        ws,
        &filter,
        page.after_key(),
        page.fetch_limit(),
    )
    .await?
    .ok_or(ApiError::NotFound)?;
    let page = Page::from_rows(rows, &page, |g| g.id);
    Ok(Reply::ok(page.render(view)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeleteBody {
    principal: PrincipalBody,
    resource: ResourceBody,
}

fn parse_delete(ctx: &Ctx) -> ApiResult<Target> {
    let body: DeleteBody = ctx.json()?;
    let mut errs = FieldErrors::default();
    let target = Target::parse(&body.principal, &body.resource, &mut errs);
    match (target, errs.is_empty()) {
        (Some(target), true) => Ok(target),
        _ => Err(ApiError::Validation(errs.0)),
    }
}

/// Revokes the grant of `principal` on `resource`; 404 if there is none (or the workspace
/// is not the org's: one read answers both).
pub async fn delete(ctx: &Ctx, access: OrgAccess) -> ApiResult<Reply> {
    let ws: WorkspaceId = ctx.path_id("ws")?;
    let target = refusal_first(parse_delete(ctx), workspace(ctx, &access)).await?;
    let key = target.key(ws);
    let existing = store::resource_grants::find_in(access.store(), &key)
        .await?
        .ok_or(ApiError::NotFound)?;
    let now = ctx.now();
    ctx.store()
        .batch(vec![
            store::resource_grants::delete(access.store(), &key)?,
            ctx.audit(
                &{
                    let mut e = grant_event(&access, "grant.revoked", ws, &key);
                    if let Some(meta) = e.metadata.as_mut() {
                        meta["permission"] = json!(existing.permission);
                    }
                    e
                },
                now,
            )?,
        ])
        .await?;
    Ok(Reply::no_content())
}
