//! The org's SCIM provisioning: its tokens (create, list, revoke) and settings (the role of
//! people it provisions, how they first sign in). People who are owner or admin only: a
//! leaked API token must not be able to mint a provisioning credential.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use super::views::{opt_time, time};
use crate::config::Config;
use crate::domain::ids::ScimTokenId;
use crate::domain::roles::OrgRole;
use crate::domain::scim_token;
use crate::domain::token::hash_secret;
use crate::domain::validation::{self as v, FieldErrors};
use crate::error::{ApiError, ApiResult};
use crate::http::access::OrgAccess;
use crate::http::pagination::Page;
use crate::http::{Ctx, Reply};
use crate::store::scim::{self as scim_store, ScimTokenRow, SettingsRow};

crate::routes! {
    POST "/v1/orgs/{org}/scim-tokens" => org(Governance) create;
    GET "/v1/orgs/{org}/scim-tokens" => org(Governance) list;
    DELETE "/v1/orgs/{org}/scim-tokens/{token_id}" => org(Governance) revoke;
    GET "/v1/orgs/{org}/scim-settings" => org(Governance) get_settings;
    PUT "/v1/orgs/{org}/scim-settings" => org(Governance) put_settings;
}

const MAX_NAME: usize = 100;
const MAX_GROUPS: usize = 100;

/// Where the org's provisioning client sends its requests.
pub fn base_url(cfg: &Config) -> String {
    format!("{}/scim/v2", cfg.app_url)
}

fn view(row: &ScimTokenRow) -> Value {
    crate::object!({
        "id": row.id,
        "name": row.name,
        "created_at": time(row.created_at),
        "created_by": match (&row.created_by, &row.creator_email) {
            (Some(id), Some(email)) => crate::object!({"id": id, "email": email}),
            _ => Value::Null,
        },
        "last_used_at": opt_time(row.last_used_at),
        "revoked_at": opt_time(row.revoked_at),
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateBody {
    name: Option<String>,
}

pub async fn create(ctx: &Ctx, access: OrgAccess) -> ApiResult<Reply> {
    let creator = access.person()?.user_id();
    let body: CreateBody = ctx.json()?;
    let name = match body.name.as_deref() {
        Some(n) => v::text(n, MAX_NAME, true).map_err(|m| ApiError::field("name", m))?,
        None => "SCIM".to_string(),
    };
    let secret = scim_token::new_token();
    let id = ScimTokenId::new();
    let now = ctx.now();
    let store = access.store();
    let created = access
        .event("scim_token.created", ("scim_token", id.to_string()))
        .meta(crate::object!({ "name": name }));
    let row = store
        .global()
        .batch_then_first(
            vec![
                scim_store::insert_token(store, id, &name, &hash_secret(&secret), creator, now)?,
                ctx.audit(&created, now)?,
            ],
            scim_store::token_stmt(store, id)?,
        )
        .await?
        .ok_or_else(|| ApiError::internal("SCIM token vanished after insert"))?;
    let mut body = view(&row);
    body["token"] = Value::from(secret);
    body["base_url"] = Value::from(base_url(&ctx.cfg));
    Ok(Reply::created(body))
}

pub async fn list(ctx: &Ctx, access: OrgAccess) -> ApiResult<Reply> {
    access.person()?;
    let page = ctx.page()?;
    let rows = access
        .store()
        .global()
        .all_of(scim_store::tokens_stmt(
            access.store(),
            page.before_key(),
            page.fetch_limit(),
        )?)
        .await?;
    let page = Page::from_rows(rows, &page, |r| r.id.to_string());
    Ok(Reply::ok(page.render(view)))
}

/// Revokes the token: the client's next request is 401. A revoked token is answered the same
/// and changes nothing.
pub async fn revoke(ctx: &Ctx, access: OrgAccess) -> ApiResult<Reply> {
    access.person()?;
    let id: ScimTokenId = ctx.path_id("token_id")?;
    let store = access.store();
    let row = store
        .global()
        .first_of(scim_store::token_stmt(store, id)?)
        .await?
        .ok_or(ApiError::NotFound)?;
    if row.revoked_at.is_none() {
        let now = ctx.now();
        let revoked = access
            .event("scim_token.revoked", ("scim_token", id.to_string()))
            .meta(crate::object!({ "name": row.name }));
        // Of racing revocations one writes the event; the others find it revoked.
        match store
            .global()
            .batch(vec![
                scim_store::revoke_token(store, id, now)?,
                crate::store::sso::guard_changed_one(store)?,
                ctx.audit(&revoked, now)?,
            ])
            .await
        {
            Ok(_) | Err(ApiError::GuardFailed) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(Reply::no_content())
}

/// How people provisioned by SCIM first sign in, as the settings resolve it.
pub fn activation(settings: &SettingsRow) -> &'static str {
    match settings.activation.as_deref() {
        Some("sso") => "sso",
        Some(_) => "email",
        None if settings.sso_connection.is_some() => "sso",
        None => "email",
    }
}

fn settings_view(ctx: &Ctx, s: &SettingsRow) -> Value {
    crate::object!({
        "default_role": s.default_role,
        "group_role_map": serde_json::from_str::<Value>(&s.group_role_map).unwrap_or(Value::Null),
        "activation": activation(s),
        "activation_setting": s.activation,
        "base_url": base_url(&ctx.cfg),
        "last_request_at": opt_time(s.last_request_at),
    })
}

pub async fn get_settings(ctx: &Ctx, access: OrgAccess) -> ApiResult<Reply> {
    access.person()?;
    let store = access.store();
    let row = store
        .global()
        .first_of(scim_store::settings_stmt(store)?)
        .await?
        .ok_or_else(|| ApiError::internal("the settings read returned no row"))?;
    Ok(Reply::ok(settings_view(ctx, &row)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettingsBody {
    default_role: String,
    #[serde(default)]
    group_role_map: BTreeMap<String, String>,
    /// `sso`, `email`, or `null` (follow whether the org has an active SSO connection).
    activation: Option<String>,
}

pub async fn put_settings(ctx: &Ctx, access: OrgAccess) -> ApiResult<Reply> {
    access.person()?;
    let body: SettingsBody = ctx.json()?;
    let mut errs = FieldErrors::default();
    match OrgRole::parse(&body.default_role) {
        Some(OrgRole::Member | OrgRole::Viewer | OrgRole::Editor) => {}
        _ => errs.add(
            "default_role",
            "must be member, viewer or editor (admins come only through group_role_map; owners never through SCIM)",
        ),
    }
    if body.group_role_map.len() > MAX_GROUPS {
        errs.add(
            "group_role_map",
            format!("must map at most {MAX_GROUPS} groups"),
        );
    }
    for (group, role) in &body.group_role_map {
        let field = format!("group_role_map.{group}");
        if group.trim().is_empty() || group.chars().count() > 255 {
            errs.add(&field, "group names must be 1 to 255 characters");
        }
        match OrgRole::parse(role) {
            Some(OrgRole::Owner) => errs.add(&field, "owner is never granted through SCIM"),
            Some(_) => {}
            None => errs.add(&field, "must be admin, editor, viewer or member"),
        }
    }
    if let Some(a) = body.activation.as_deref() {
        if a != "sso" && a != "email" {
            errs.add("activation", "must be sso, email or null");
        }
    }
    if !errs.is_empty() {
        return Err(ApiError::Validation(errs.0));
    }
    let map = serde_json::to_string(&body.group_role_map).map_err(ApiError::internal)?;
    let now = ctx.now();
    let store = access.store();
    let event = access
        .event("scim_settings.updated", ("org", store.org().to_string()))
        .meta(crate::object!({
            "default_role": body.default_role,
            "activation": body.activation,
        }));
    let row = store
        .global()
        .batch_then_first(
            vec![
                scim_store::put_settings(
                    store,
                    &body.default_role,
                    &map,
                    body.activation.as_deref(),
                )?,
                ctx.audit(&event, now)?,
            ],
            scim_store::settings_stmt(store)?,
        )
        .await?
        .ok_or_else(|| ApiError::internal("the settings read returned no row"))?;
    Ok(Reply::ok(settings_view(ctx, &row)))
}
