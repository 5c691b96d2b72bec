//! Workspaces inside an org, with their metrics, and workspace members.

use serde::Deserialize;
use serde_json::Value;

use super::views::time;
use crate::domain::ids::{UserId, WorkspaceId};
use crate::domain::permissions::{
    may_grant_workspace, org_allows, workspace_allows, OrgAction, WorkspaceAction,
};
use crate::domain::roles::{effective_workspace_role, OrgRole, WorkspaceRole};
use crate::domain::validation::{self as v, FieldErrors};
use crate::error::{refusal_first, ApiError, ApiResult};
use crate::http::access::OrgAccess;
use crate::http::auth::Principal;
use crate::http::pagination::Page;
use crate::http::{Ctx, Reply};
use crate::ops::newcomer;
use crate::store::audit::Event;
use crate::store::workspaces::{Visible, WorkspaceMemberRow, WorkspaceRow};
use crate::store::{self};

crate::routes! {
    // The org gate first, then the caller's effective workspace role for the
    // workspace-level action (`workspace`).
    POST "/v1/orgs/{org}/workspaces" => org(CreateWorkspace) create;
    GET "/v1/orgs/{org}/workspaces" => org(ViewOrg) list;
    GET "/v1/orgs/{org}/workspaces/{ws}" => org(ViewOrg) get;
    PATCH "/v1/orgs/{org}/workspaces/{ws}" => org(ViewOrg) patch;
    DELETE "/v1/orgs/{org}/workspaces/{ws}" => org(DeleteWorkspace) delete;
    GET "/v1/orgs/{org}/workspaces/{ws}/members" => org(ViewOrg) members;
    PUT "/v1/orgs/{org}/workspaces/{ws}/members/{user}" => org(ViewOrg) put_member;
    DELETE "/v1/orgs/{org}/workspaces/{ws}/members/{user}" => org(ViewOrg) remove_member;
}

const MAX_NAME: usize = 100;
const MAX_DESCRIPTION: usize = 1000;

fn effective(access: &OrgAccess, ws: &WorkspaceRow) -> Option<WorkspaceRole> {
    effective_workspace_role(
        access.role(),
        access.explicit_workspace_role(ws.id, ws.explicit_role),
    )
}

fn view(access: &OrgAccess, ws: &WorkspaceRow) -> Value {
    crate::object!({
        "id": ws.id,
        "org_id": ws.org_id,
        "name": ws.name,
        "description": ws.description,
        "created_at": time(ws.created_at),
        "updated_at": time(ws.updated_at),
        "role": effective(access, ws),
        "metrics": {
            "members": ws.member_count,
            "pending_invitations": ws.pending_invitations,
            "groups": ws.group_count,
            "api_tokens": ws.api_token_count,
        },
    })
}

fn ws_event(access: &OrgAccess, action: &'static str, ws: WorkspaceId) -> Event {
    access.event(action, ("workspace", ws.to_string()))
}

/// The workspace of `{ws}` as the caller may see it: 404 if it is not in the org or the
/// caller has no role in it (existence does not leak), 403 if the role is below `action`.
async fn workspace(
    ctx: &Ctx,
    access: &OrgAccess,
    action: WorkspaceAction,
) -> ApiResult<(WorkspaceId, WorkspaceRow, WorkspaceRole)> {
    let id: WorkspaceId = ctx.path_id("ws")?;
    let ws = store::workspaces::one(access.store(), id, access.user_id(), ctx.now())
        .await?
        .ok_or(ApiError::NotFound)?;
    let role = allowed(access, &ws, action)?;
    Ok((id, ws, role))
}

/// The caller's effective role in `ws` if it allows `action`: 404 without any role (the
/// workspace's existence does not leak), 403 below the action.
fn allowed(
    access: &OrgAccess,
    ws: &WorkspaceRow,
    action: WorkspaceAction,
) -> ApiResult<WorkspaceRole> {
    let role = effective(access, ws).ok_or(ApiError::NotFound)?;
    if !workspace_allows(role, action) {
        return Err(ApiError::Forbidden);
    }
    Ok(role)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkspaceBody {
    #[serde(default, with = "crate::http::body::nullable")]
    name: Option<Option<String>>,
    #[serde(default, with = "crate::http::body::nullable")]
    description: Option<Option<String>>,
}

fn validate(
    body: &WorkspaceBody,
    name_required: bool,
) -> ApiResult<(Option<String>, Option<Option<String>>)> {
    let mut errs = FieldErrors::default();
    let name = if name_required && body.name.is_none() {
        errs.add("name", "is required");
        None
    } else {
        errs.check_set("name", &body.name, |n| v::text(n, MAX_NAME, true))
    };
    let description = errs.check_clearable("description", &body.description, |d| {
        v::text(d, MAX_DESCRIPTION, false)
    });
    if errs.is_empty() {
        Ok((name, description))
    } else {
        Err(ApiError::Validation(errs.0))
    }
}

pub async fn create(ctx: &Ctx, access: OrgAccess) -> ApiResult<Reply> {
    let body: WorkspaceBody = ctx.json()?;
    let (name, description) = validate(&body, true)?;
    let name = name.unwrap_or_default();
    let now = ctx.now();
    let id = WorkspaceId::new();
    let ws: WorkspaceRow = ctx
        .store()
        .batch_then_first(
            vec![
                store::workspaces::insert(
                    access.store(),
                    id,
                    &name,
                    description.flatten().as_deref(),
                    now,
                )?,
                ctx.audit(&ws_event(&access, "workspace.created", id), now)?,
            ],
            store::workspaces::one_stmt(access.store(), id, access.user_id(), now)?,
        )
        .await?
        .ok_or_else(|| ApiError::internal("workspace vanished after create"))?;
    Ok(Reply::created(view(&access, &ws)))
}

/// All workspaces for viewers and above; a workspace-only `member` sees just their own, a
/// scoped API token its listed ones.
pub async fn list(ctx: &Ctx, access: OrgAccess) -> ApiResult<Reply> {
    let page = ctx.page()?;
    let visible = match (access.role(), &access.principal()) {
        (OrgRole::Member, Principal::Person(caller)) => Visible::MemberOf(caller.user_id()),
        (OrgRole::Member, Principal::Token(token)) => Visible::ListedFor(token.id()),
        _ => Visible::All {
            viewer: access.user_id(),
        },
    };
    let rows = store::workspaces::page(
        access.store(),
        visible,
        page.after_key(),
        page.fetch_limit(),
        ctx.now(),
    )
    .await?;
    let page = Page::from_rows(rows, &page, |w| w.id);
    Ok(Reply::ok(page.render(|w| view(&access, w))))
}

pub async fn get(ctx: &Ctx, access: OrgAccess) -> ApiResult<Reply> {
    let (_, ws, _) = workspace(ctx, &access, WorkspaceAction::View).await?;
    Ok(Reply::ok(view(&access, &ws)))
}

pub async fn patch(ctx: &Ctx, access: OrgAccess) -> ApiResult<Reply> {
    let (id, ws, _) = workspace(ctx, &access, WorkspaceAction::Edit).await?;
    let body: WorkspaceBody = ctx.json()?;
    let (name, description) = validate(&body, false)?;
    if name.is_none() && description.is_none() {
        return Ok(Reply::ok(view(&access, &ws)));
    }
    let now = ctx.now();
    let ws: WorkspaceRow = ctx
        .store()
        .batch_then_first(
            vec![
                store::workspaces::update(
                    access.store(),
                    id,
                    name.as_deref(),
                    description.as_ref().map(|d| d.as_deref()),
                    now,
                )?,
                ctx.audit(&ws_event(&access, "workspace.updated", id), now)?,
            ],
            store::workspaces::one_stmt(access.store(), id, access.user_id(), now)?,
        )
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(Reply::ok(view(&access, &ws)))
}

/// Org-level admins delete workspaces (SPEC §3), whatever their workspace role.
pub async fn delete(ctx: &Ctx, access: OrgAccess) -> ApiResult<Reply> {
    let (id, ws, _) = workspace(ctx, &access, WorkspaceAction::View).await?;
    let now = ctx.now();
    let mut batch = store::workspaces::delete(access.store(), id)?;
    batch.push(ctx.audit(
        &ws_event(&access, "workspace.deleted", id).meta(crate::object!({ "name": ws.name })),
        now,
    )?);
    ctx.store().batch(batch).await?;
    Ok(Reply::no_content())
}

fn member_view(m: &WorkspaceMemberRow) -> Value {
    let (org_role, explicit) = (m.org_role, m.workspace_role);
    crate::object!({
        "user": {"id": m.user_id, "email": m.email, "first_name": m.first_name, "last_name": m.last_name},
        "org_role": m.org_role,
        "workspace_role": org_role.and_then(|r| effective_workspace_role(r, explicit)),
        "explicit_workspace_role": m.workspace_role,
    })
}

/// The workspace check and the page are one round trip (`store::workspaces::with_members`).
pub async fn members(ctx: &Ctx, access: OrgAccess) -> ApiResult<Reply> {
    let id: WorkspaceId = ctx.path_id("ws")?;
    let page = ctx.page()?;
    let (ws, rows) = store::workspaces::with_members(
        access.store(),
        id,
        access.user_id(),
        ctx.now(),
        page.after_key(),
        page.fetch_limit(),
    )
    .await?
    .ok_or(ApiError::NotFound)?;
    allowed(&access, &ws, WorkspaceAction::View)?;
    let page = Page::from_rows(rows, &page, |m| m.user_id);
    Ok(Reply::ok(page.render(member_view)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PutMemberBody {
    role: String,
}

fn parse_put_member(ctx: &Ctx, access: &OrgAccess) -> ApiResult<(WorkspaceRole, UserId)> {
    let body: PutMemberBody = ctx.json()?;
    let role = WorkspaceRole::parse(&body.role)
        .ok_or_else(|| ApiError::field("role", "must be one of admin, editor, viewer"))?;
    Ok((role, access.other_user(ctx)?))
}

/// The workspace and the user, read in one round trip: 404 unless the caller may see the
/// workspace and the user exists, 403 below `action`.
async fn workspace_and_member(
    ctx: &Ctx,
    access: &OrgAccess,
    id: WorkspaceId,
    user: UserId,
    action: WorkspaceAction,
) -> ApiResult<(WorkspaceRole, Option<WorkspaceMemberRow>)> {
    let (ws, member) =
        store::workspaces::with_member(access.store(), id, access.user_id(), ctx.now(), user)
            .await?;
    let my_role = allowed(access, &ws.ok_or(ApiError::NotFound)?, action)?;
    Ok((my_role, member))
}

/// Gate, one round trip of reads (the workspace, the user and their pending invitation),
/// one batch that writes and reads the result.
pub async fn put_member(ctx: &Ctx, access: OrgAccess) -> ApiResult<Reply> {
    let id: WorkspaceId = ctx.path_id("ws")?;
    let action = WorkspaceAction::AddMembers;
    // The workspace is read with the user below; a bad request still answers the
    // workspace's 404 or 403 first.
    let (role, user) = refusal_first(
        parse_put_member(ctx, &access),
        workspace(ctx, &access, action),
    )
    .await?;
    let (my_role, current) = workspace_and_member(ctx, &access, id, user, action).await?;
    let current = current.ok_or(ApiError::NotFound)?;
    // Changing someone's existing explicit role is a workspace admin's call.
    if current.workspace_role.is_some()
        && !workspace_allows(my_role, WorkspaceAction::ChangeRolesAndRemoveMembers)
    {
        return Err(ApiError::Forbidden);
    }
    if !may_grant_workspace(my_role, role) {
        return Err(ApiError::Forbidden);
    }
    let joins_org = current.org_role.is_none();
    // Bringing someone new into the org is inviting: only org roles that may invite do it.
    // To anyone else a user outside the org is as unknown as a user that does not exist.
    if joins_org && !org_allows(access.role(), OrgAction::InviteUsers) {
        return Err(ApiError::NotFound);
    }
    let now = ctx.now();
    // Compare-and-set: the explicit workspace role is still the one this request read, so
    // racing additions of the same member record one event (the others answer 409).
    let mut batch = vec![store::workspaces::workspace_role_still(
        access.store(),
        id,
        user,
        current.workspace_role,
    )?];
    batch.extend(match (&current.pending_invitation, joins_org) {
        (Some(pending), true) => {
            newcomer::close_invitation(&super::acting(ctx, &access), &current.email, *pending)?
        }
        _ => Vec::new(),
    });
    batch.extend(store::workspaces::put_member(
        access.store(),
        id,
        user,
        role,
        joins_org,
        now,
    )?);
    let action = if current.workspace_role.is_some() {
        "workspace_member.role_changed"
    } else {
        "workspace_member.added"
    };
    batch.push(
        ctx.audit(
            &Event {
                target: Some(("user", user.to_string())),
                ..ws_event(&access, action, id)
            }
            .meta(
                crate::object!({ "workspace_id": id, "from": current.workspace_role, "to": role }),
            ),
            now,
        )?,
    );
    if joins_org {
        batch.push(
            ctx.audit(
                &Event {
                    target: Some(("user", user.to_string())),
                    ..ws_event(&access, "member.added", id)
                }
                .meta(crate::object!({ "role": "member", "via": "workspace" })),
                now,
            )?,
        );
    }
    // A full org fails the seat guard: 409 capacity_exceeded (store::map_d1_error).
    let written = ctx
        .store()
        .batch_then_first::<WorkspaceMemberRow>(
            batch,
            store::workspaces::member_stmt(access.store(), id, user)?,
        )
        .await;
    let updated = match written {
        // A racing request changed the role first: if it set what this one asks for, the
        // PUT's outcome holds (200, nothing more written); otherwise 409.
        Err(ApiError::GuardFailed) => {
            let now_row: WorkspaceMemberRow = ctx
                .store()
                .first_of(store::workspaces::member_stmt(access.store(), id, user)?)
                .await?
                .ok_or(ApiError::NotFound)?;
            if now_row.workspace_role != Some(role) {
                return Err(ApiError::conflict(
                    "conflict",
                    "The member's workspace role changed concurrently; read it again and retry.",
                ));
            }
            now_row
        }
        other => other?.ok_or(ApiError::NotFound)?,
    };
    Ok(Reply::ok(member_view(&updated)))
}

pub async fn remove_member(ctx: &Ctx, access: OrgAccess) -> ApiResult<Reply> {
    let id: WorkspaceId = ctx.path_id("ws")?;
    let action = WorkspaceAction::ChangeRolesAndRemoveMembers;
    let user = refusal_first(access.other_user(ctx), workspace(ctx, &access, action)).await?;
    let (_, current) = workspace_and_member(ctx, &access, id, user, action).await?;
    let Some(explicit) = current.and_then(|c| c.workspace_role) else {
        return Err(ApiError::NotFound);
    };
    let now = ctx.now();
    let mut batch = store::workspaces::remove_member(access.store(), id, user)?;
    batch.push(
        ctx.audit(
            &Event {
                target: Some(("user", user.to_string())),
                ..ws_event(&access, "workspace_member.removed", id)
            }
            .meta(crate::object!({ "workspace_id": id, "role": explicit })),
            now,
        )?,
    );
    ctx.store().batch(batch).await?;
    Ok(Reply::no_content())
}
