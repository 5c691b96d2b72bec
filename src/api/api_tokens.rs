//! API tokens of an org: create (the secret is in that response only), list, revoke.
//! Managing tokens is for people: a token cannot mint, list or revoke tokens (403), so a
//! leaked token cannot entrench itself.

use serde::Deserialize;
use serde_json::{json, Value};

use super::views::{opt_time, time};
use crate::domain::api_token::{self, Status};
use crate::domain::ids::{ApiTokenId, WorkspaceId};
use crate::domain::permissions::may_grant;
use crate::domain::token::hash_secret;
use crate::domain::validation::{self as v, FieldErrors};
use crate::error::{ApiError, ApiResult};
use crate::http::access::OrgAccess;
use crate::http::pagination::Page;
use crate::http::{Ctx, Reply};
use crate::store::api_tokens::{NewToken, TokenRow};
use crate::store::{self};

crate::routes! {
    // Managing API tokens is for people only (`OrgAccess::person`): a token cannot mint,
    // list or revoke tokens.
    POST "/v1/orgs/{org}/api-tokens" => org(Governance) create;
    GET "/v1/orgs/{org}/api-tokens" => org(Governance) list;
    DELETE "/v1/orgs/{org}/api-tokens/{token_id}" => org(Governance) revoke;
}

const MAX_NAME: usize = 100;
const MAX_WORKSPACES: usize = 100;

fn view(row: &TokenRow, now: crate::domain::time::Timestamp) -> Value {
    let workspaces: Value = if row.scoped != 0 {
        serde_json::from_str(&row.workspaces).unwrap_or_else(|_| json!([]))
    } else {
        Value::Null
    };
    crate::object!({
        "id": row.id,
        "name": row.name,
        "role": row.role,
        "workspaces": workspaces,
        "status": Status::of(row.revoked_at, row.expires_at, now).as_str(),
        "created_at": time(row.created_at),
        "created_by": match (&row.created_by, &row.creator_email) {
            (Some(id), Some(email)) => crate::object!({"id": id, "email": email}),
            _ => Value::Null,
        },
        "expires_at": opt_time(row.expires_at),
        "last_used_at": opt_time(row.last_used_at),
        "revoked_at": opt_time(row.revoked_at),
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateBody {
    name: String,
    role: Option<String>,
    /// Absent or `null`: the whole org.
    workspaces: Option<Vec<String>>,
    expires_at: Option<String>,
}

/// The listed workspace ids, parsed, de-duplicated, and each a workspace of the org (422
/// naming the first that is not).
async fn listed_workspaces(
    access: &OrgAccess,
    list: &[String],
    errs: &mut FieldErrors,
) -> ApiResult<Vec<WorkspaceId>> {
    if list.is_empty() {
        errs.add(
            "workspaces",
            "must list at least one workspace (omit it for the whole organization)",
        );
        return Ok(Vec::new());
    }
    if list.len() > MAX_WORKSPACES {
        errs.add(
            "workspaces",
            format!("must list at most {MAX_WORKSPACES} workspaces"),
        );
        return Ok(Vec::new());
    }
    // Parsed first: an id may arrive in any case; D1 holds the canonical lower-case form.
    let parsed: Vec<Option<WorkspaceId>> = list.iter().map(|raw| raw.parse().ok()).collect();
    for (i, id) in parsed.iter().enumerate() {
        if id.is_none() {
            errs.add(&format!("workspaces[{i}]"), "must be a UUID");
        }
    }
    let mut ids: Vec<WorkspaceId> = Vec::new();
    for id in parsed.iter().flatten() {
        if !ids.contains(id) {
            ids.push(*id);
        }
    }
    if !errs.is_empty() {
        return Ok(ids);
    }
    let known = store::members::existing_workspaces(access.store(), &ids).await?;
    if let Some(i) = parsed
        .iter()
        .position(|id| !known.iter().any(|(k, _)| Some(*k) == *id))
    {
        errs.add(
            &format!("workspaces[{i}]"),
            "is not a workspace of this organization",
        );
    }
    Ok(ids)
}

pub async fn create(ctx: &Ctx, access: OrgAccess) -> ApiResult<Reply> {
    let creator = access.person()?.user_id();
    let body: CreateBody = ctx.json()?;
    let now = ctx.now();
    let mut errs = FieldErrors::default();
    let name = errs.check("name", v::text(&body.name, MAX_NAME, true));
    let role = match body.role.as_deref() {
        None => Some(crate::domain::roles::OrgRole::Viewer),
        Some(raw) => errs.check(
            "role",
            api_token::parse_role(raw).ok_or_else(|| "must be one of admin, editor, viewer".into()),
        ),
    };
    let expires_at = body
        .expires_at
        .as_deref()
        .and_then(|raw| errs.check("expires_at", api_token::parse_expiry(raw, now)));
    let workspaces = match &body.workspaces {
        None => None,
        Some(list) => Some(listed_workspaces(&access, list, &mut errs).await?),
    };
    let (Some(name), Some(role), true) = (name, role, errs.is_empty()) else {
        return Err(ApiError::Validation(errs.0));
    };
    // Never more than the creator holds (owners and admins: admin at most).
    if !may_grant(access.role(), role) {
        return Err(ApiError::Forbidden);
    }
    let id = ApiTokenId::new();
    let secret = api_token::new_token();
    let mut batch = store::api_tokens::insert(
        access.store(),
        &NewToken {
            id,
            name: &name,
            role,
            workspaces: workspaces.as_deref(),
            token_hash: &hash_secret(&secret),
            created_by: creator,
            now,
            expires_at,
        },
    )?;
    batch.push(
        ctx.audit(
            &access
                .event("api_token.created", ("api_token", id.to_string()))
                .meta(crate::object!({
                    "name": name,
                    "role": role,
                    "workspaces": workspaces,
                    "expires_at": expires_at,
                })),
            now,
        )?,
    );
    // A live token of the same name (case-insensitive) fails the batch: 409 conflict.
    let row: TokenRow = ctx
        .store()
        .batch_then_first(batch, store::api_tokens::one_stmt(access.store(), id)?)
        .await?
        .ok_or_else(|| ApiError::internal("api token vanished after create"))?;
    let mut body = view(&row, now);
    body["token"] = json!(secret);
    Ok(Reply::created(body))
}

/// Newest first, every token including expired and revoked ones; never a secret.
pub async fn list(ctx: &Ctx, access: OrgAccess) -> ApiResult<Reply> {
    access.person()?;
    let page = ctx.page()?;
    let rows =
        store::api_tokens::page(access.store(), page.before_key(), page.fetch_limit()).await?;
    let now = ctx.now();
    let page = Page::from_rows(rows, &page, |r| r.id.clone());
    Ok(Reply::ok(page.render(|r| view(r, now))))
}

/// Dead on its next request (authentication reads `revoked_at` every time). Revoking a
/// revoked token changes nothing and answers 204 again.
pub async fn revoke(ctx: &Ctx, access: OrgAccess) -> ApiResult<Reply> {
    let by = access.person()?.user_id();
    let id: ApiTokenId = ctx.path_id("token_id")?;
    let row = store::api_tokens::one(access.store(), id)
        .await?
        .ok_or(ApiError::NotFound)?;
    if row.revoked_at.is_some() {
        return Ok(Reply::no_content());
    }
    let now = ctx.now();
    let mut batch = store::api_tokens::revoke(access.store(), id, by, &ctx.request_id, now)?;
    batch.push(
        ctx.audit(
            &access
                .event("api_token.revoked", ("api_token", id.to_string()))
                .meta(crate::object!({ "name": row.name })),
            now,
        )?,
    );
    match ctx.store().batch(batch).await {
        // A racing revocation got there first: the token is revoked all the same.
        Ok(_) | Err(ApiError::GuardFailed) => Ok(Reply::no_content()),
        Err(e) => Err(e),
    }
}
