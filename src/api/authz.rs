//! `POST /v1/authz/check`: may a user take `view`, `edit` or `manage` on a workspace or on
//! resources of it? The facts are read in the same round trip as the caller's credential
//! (`authenticate_with`), so a check is one D1 round trip; `domain::authz::evaluate` decides.

use serde::Deserialize;
use serde_json::Value;

use super::groups::{parse_resource, parse_resources, ResourceBody};
use crate::domain::authz::{evaluate, Facts, Permission, Resource};
use crate::domain::ids::{UserId, WorkspaceId};
use crate::domain::roles::{OrgRole, WorkspaceRole};
use crate::domain::validation::FieldErrors;
use crate::error::{refusal_first, ApiError, ApiResult};
use crate::http::auth::{authenticate, authenticate_with, Authenticated, Presented, Principal};
use crate::http::{Ctx, Reply};
use crate::store::{self, Together};

crate::routes! {
    POST "/v1/authz/check" => principal [check];
}

const MAX_BATCH: usize = 100;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckBody {
    user_id: Option<String>,
    workspace_id: String,
    action: String,
    resource: Option<ResourceBody>,
    resources: Option<Vec<ResourceBody>>,
}

/// A check as asked, validated (before anything is read).
pub struct CheckRequest {
    /// `None`: the caller asks about themselves.
    user: Option<UserId>,
    ws: WorkspaceId,
    action: Permission,
    /// Answer `{results: [...]}` rather than one `{allowed, reason}`.
    batch: bool,
    /// `[None]`: the workspace itself.
    resources: Vec<Option<Resource>>,
}

pub fn parse(ctx: &Ctx) -> ApiResult<CheckRequest> {
    let body: CheckBody = ctx.json()?;
    let mut errs = FieldErrors::default();
    // `Some(None)`: no user named (the caller asks about themselves).
    let user = match &body.user_id {
        None => Some(None),
        Some(id) => errs.check(
            "user_id",
            id.parse::<UserId>()
                .map(Some)
                .map_err(|_| "must be a UUID".to_string()),
        ),
    };
    let ws = errs.check(
        "workspace_id",
        body.workspace_id
            .parse::<WorkspaceId>()
            .map_err(|_| "must be a UUID".to_string()),
    );
    let action = errs.check(
        "action",
        Permission::parse(&body.action).ok_or_else(|| "must be view, edit or manage".to_string()),
    );
    // One resource, a batch of them, or neither (the workspace itself); not both.
    let (batch, resources): (bool, Vec<Option<Resource>>) = match (&body.resource, &body.resources)
    {
        (Some(_), Some(_)) => {
            errs.add("resources", "give resource or resources, not both");
            (false, Vec::new())
        }
        (Some(r), None) => (false, vec![parse_resource("resource", r, &mut errs)]),
        (None, Some(list)) if list.is_empty() => {
            errs.add("resources", "must list at least one resource");
            (true, Vec::new())
        }
        (None, Some(list)) => (
            true,
            parse_resources("resources", list, MAX_BATCH, &mut errs)
                .into_iter()
                .map(Some)
                .collect(),
        ),
        (None, None) => (false, vec![None]),
    };
    match (user, ws, action, errs.is_empty()) {
        (Some(user), Some(ws), Some(action), true) => Ok(CheckRequest {
            user,
            ws,
            action,
            batch,
            resources,
        }),
        _ => Err(ApiError::Validation(errs.0)),
    }
}

/// Whom the check is about, its facts' read riding in the credential's row. `None` when
/// a token did not name a user.
pub type FactsPlan = Option<UserId>;

pub fn plan(req: &CheckRequest, who: Presented, reads: &mut Together) -> FactsPlan {
    let user = match (req.user, who) {
        (Some(user), _) | (None, Presented::Person(user)) => user,
        (None, Presented::Other) => return None,
    };
    let named: Vec<&Resource> = req.resources.iter().flatten().collect();
    reads.ride(store::resource_grants::facts_rider(req.ws, user, &named));
    Some(user)
}

/// Asked by a person about themselves, or by an API token of the org about any user (a
/// scoped token only inside its listed workspaces). One statement in all: the facts were
/// read in the credential's row.
pub async fn check(ctx: &Ctx) -> ApiResult<Reply> {
    // A bad request still authenticates first: 401 before 415/422.
    let req = refusal_first(parse(ctx), async { authenticate(ctx).await?.may_ask() }).await?;
    let a = authenticate_with(ctx, None, |who, reads| Ok(plan(&req, who, reads))).await?;
    a.principal.may_ask()?;
    answer(req, a)
}

fn answer(req: CheckRequest, a: Authenticated<FactsPlan>) -> ApiResult<Reply> {
    let Some(user) = a.plan else {
        return Err(ApiError::field(
            "user_id",
            "is required when an API token asks",
        ));
    };
    let ws = req.ws;
    match &a.principal {
        Principal::Person(asker) if asker.user_id() != user => return Err(ApiError::Forbidden),
        Principal::Token(token) if token.workspaces().is_some_and(|list| !list.contains(&ws)) => {
            return Err(ApiError::Forbidden)
        }
        _ => {}
    }
    let standing = match (
        store::resource_grants::read_facts(a.rider.as_deref())?,
        &a.principal,
    ) {
        // A token answers inside its org only: another org's workspace is as unknown as a
        // missing one (`not_a_member`), so nothing leaks.
        (Some(s), Principal::Token(token)) if s.org_id != token.org_id().to_string() => None,
        (standing, _) => standing,
    };
    let (action, batch, resources) = (req.action, req.batch, req.resources);
    let (org_role, workspace_role, restriction_lists, grants) = match standing {
        Some(s) => (
            s.org_role.as_deref().and_then(OrgRole::parse),
            s.workspace_role.as_deref().and_then(WorkspaceRole::parse),
            s.restrictions,
            s.grants,
        ),
        None => (None, None, Vec::new(), Vec::new()),
    };
    let restricted = !restriction_lists.is_empty();
    let limits: Vec<Resource> = restriction_lists
        .iter()
        .flat_map(|l| serde_json::from_str::<Vec<Resource>>(l).unwrap_or_default())
        .collect();
    let decide = |resource: Option<&Resource>| {
        let on = |principal: &str| -> Vec<Permission> {
            grants
                .iter()
                .filter(|g| {
                    g.principal_type == principal
                        && resource
                            .is_some_and(|r| r.kind == g.resource_type && r.id == g.resource_id)
                })
                .filter_map(|g| Permission::parse(&g.permission))
                .collect()
        };
        let (user_grants, group_grants) = (on("user"), on("group"));
        evaluate(
            &Facts {
                org_role,
                workspace_role,
                user_grants: &user_grants,
                group_grants: &group_grants,
                restrictions: restricted.then_some(limits.as_slice()),
            },
            resource,
            action,
        )
    };
    if !batch {
        let d = decide(resources.first().and_then(Option::as_ref));
        return Ok(Reply::ok(
            crate::object!({"allowed": d.allowed, "reason": d.reason.as_str()}),
        ));
    }
    let results: Vec<Value> = resources
        .iter()
        .flatten()
        .map(|r| {
            let d = decide(Some(r));
            crate::object!({"resource": r, "allowed": d.allowed, "reason": d.reason.as_str()})
        })
        .collect();
    Ok(Reply::ok(crate::object!({ "results": results })))
}
