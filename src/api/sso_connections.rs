//! An org's OpenID Connect connections: created as drafts from the provider's discovery
//! document, proven by an admin's test sign-in, then activated and optionally enforced. The
//! client secret is encrypted at rest (`idp::crypto`, key `SSO_ENCRYPTION_KEY`) and never
//! returned. People only: a leaked API token must not be able to plant an identity provider.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use super::views::{opt_time, time};
use crate::config::Config;
use crate::domain::ids::ConnectionId;
use crate::domain::roles::OrgRole;
use crate::domain::sso::{self, TokenAuth};
use crate::domain::token::{hash_secret, new_secret};
use crate::domain::validation::{self as v, FieldErrors};
use crate::error::{ApiError, ApiResult};
use crate::http::access::OrgAccess;
use crate::http::{Ctx, Reply};
use crate::store::sso::{self as sso_store, ConnectionFields, ConnectionRow, NewFlow};

crate::routes! {
    POST "/v1/orgs/{org}/sso-connections" => org(Governance) create;
    GET "/v1/orgs/{org}/sso-connections" => org(Governance) list;
    GET "/v1/orgs/{org}/sso-connections/{connection}" => org(Governance) get;
    PATCH "/v1/orgs/{org}/sso-connections/{connection}" => org(Governance) patch;
    DELETE "/v1/orgs/{org}/sso-connections/{connection}" => org(Governance) remove;
    POST "/v1/orgs/{org}/sso-connections/{connection}/test" => org(Governance) test;
}

const MAX_NAME: usize = 100;
const MAX_CLIENT_ID: usize = 255;
const MAX_SECRET: usize = 1024;
const MAX_GROUPS: usize = 100;
const MAX_CONNECTIONS: usize = 10;
pub const DEFAULT_SCOPES: &str = "openid email profile";
/// How long an admin has to open a test sign-in's link.
const TICKET_TTL_SECONDS: i64 = 600;

/// The callback URL to register at the provider.
pub fn redirect_uri(cfg: &Config) -> String {
    format!("{}/v1/auth/sso/callback", cfg.app_url)
}

pub fn view(cfg: &Config, c: &ConnectionRow) -> Value {
    let map: Value = serde_json::from_str(&c.group_role_map).unwrap_or(Value::Null);
    let last_test: Value = c
        .last_test
        .as_deref()
        .and_then(|t| serde_json::from_str(t).ok())
        .unwrap_or(Value::Null);
    crate::object!({
        "id": c.id,
        "org_id": c.org_id,
        "name": c.name,
        "issuer": c.issuer,
        "client_id": c.client_id,
        "client_secret_set": true,
        "default_role": c.default_role,
        "jit": c.jit != 0,
        "group_claim": c.group_claim,
        "group_role_map": map,
        "scopes": c.scopes,
        "status": c.status,
        "enforce": c.enforce != 0,
        "redirect_uri": redirect_uri(cfg),
        "last_test": last_test,
        "created_at": time(c.created_at),
        "updated_at": time(c.updated_at),
        "activated_at": opt_time(c.activated_at),
    })
}

/// The role people get without a mapped group: never admin or owner.
fn default_role(raw: &str) -> Result<OrgRole, String> {
    match OrgRole::parse(raw) {
        Some(r @ (OrgRole::Member | OrgRole::Viewer | OrgRole::Editor)) => Ok(r),
        _ => Err("must be member, viewer or editor (admins come only through group_role_map; owners never through SSO)".into()),
    }
}

fn group_role_map(
    raw: &BTreeMap<String, String>,
    errs: &mut FieldErrors,
) -> BTreeMap<String, OrgRole> {
    if raw.len() > MAX_GROUPS {
        errs.add(
            "group_role_map",
            format!("must map at most {MAX_GROUPS} groups"),
        );
        return BTreeMap::new();
    }
    let mut out = BTreeMap::new();
    for (group, role) in raw {
        let field = format!("group_role_map.{group}");
        if group.trim().is_empty() || group.chars().count() > 255 {
            errs.add(&field, "group names must be 1 to 255 characters");
            continue;
        }
        match OrgRole::parse(role) {
            Some(OrgRole::Owner) => errs.add(&field, "owner is never granted through SSO"),
            Some(r) => {
                out.insert(group.clone(), r);
            }
            None => errs.add(&field, "must be admin, editor, viewer or member"),
        }
    }
    out
}

/// Space-separated scope tokens (RFC 6749 §3.3), `openid` among them.
fn scopes(raw: &str) -> Result<String, String> {
    let tokens: Vec<&str> = raw.split_whitespace().collect();
    if !tokens.contains(&"openid") {
        return Err("must include openid".into());
    }
    if tokens.len() > 20
        || tokens.iter().any(|t| {
            t.len() > 100
                || !t
                    .bytes()
                    .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\')
        })
    {
        return Err("must be at most 20 space-separated scope names".into());
    }
    Ok(tokens.join(" "))
}

fn optional_claim(raw: &str) -> Result<String, String> {
    v::text(raw, 100, true)
}

fn key(ctx: &Ctx) -> ApiResult<[u8; 32]> {
    ctx.cfg.sso_encryption_key.ok_or_else(|| {
        ApiError::Misconfigured(
            "SSO_ENCRYPTION_KEY secret is not set (32 random bytes, base64)".into(),
        )
    })
}

/// The issuer's discovery document, or 422 on `issuer` saying what went wrong.
async fn discover(ctx: &Ctx, issuer: &str) -> ApiResult<(sso::ProviderMetadata, TokenAuth)> {
    crate::idp::discover(issuer, ctx.cfg.is_development())
        .await
        .map_err(|why| ApiError::field("issuer", format!("could not be used: {why}")))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateBody {
    name: Option<String>,
    issuer: String,
    client_id: String,
    client_secret: String,
    default_role: String,
    jit: bool,
    group_claim: Option<String>,
    group_role_map: Option<BTreeMap<String, String>>,
    scopes: Option<String>,
}

pub async fn create(ctx: &Ctx, access: OrgAccess) -> ApiResult<Reply> {
    access.person()?;
    let key = key(ctx)?;
    let body: CreateBody = ctx.json()?;
    let mut errs = FieldErrors::default();
    let name = errs.check_optional("name", body.name.as_deref(), |n| v::text(n, MAX_NAME, true));
    let issuer = errs.check(
        "issuer",
        sso::issuer(&body.issuer, ctx.cfg.is_development()),
    );
    let client_id = errs.check("client_id", v::text(&body.client_id, MAX_CLIENT_ID, true));
    let secret_ok = errs.check(
        "client_secret",
        (!body.client_secret.is_empty() && body.client_secret.len() <= MAX_SECRET)
            .then_some(())
            .ok_or_else(|| format!("must be 1 to {MAX_SECRET} characters")),
    );
    let role = errs.check("default_role", default_role(&body.default_role));
    let group_claim =
        errs.check_optional("group_claim", body.group_claim.as_deref(), optional_claim);
    let map = group_role_map(&body.group_role_map.clone().unwrap_or_default(), &mut errs);
    let scopes = errs.check(
        "scopes",
        scopes(body.scopes.as_deref().unwrap_or(DEFAULT_SCOPES)),
    );
    let (Some(issuer), Some(client_id), Some(()), Some(role), Some(scopes), true) =
        (issuer, client_id, secret_ok, role, scopes, errs.is_empty())
    else {
        return Err(ApiError::Validation(errs.0));
    };
    let store = access.store();
    let existing = store
        .global()
        .all_of(sso_store::connections_stmt(store)?)
        .await?;
    if existing.len() >= MAX_CONNECTIONS {
        return Err(ApiError::conflict(
            "connection_limit",
            format!("An organization can have at most {MAX_CONNECTIONS} SSO connections."),
        ));
    }
    let (meta, auth) = discover(ctx, &issuer).await?;
    let id = ConnectionId::new();
    let sealed = crate::idp::crypto::encrypt(&key, &id.to_string(), &body.client_secret)
        .await
        .map_err(ApiError::internal)?;
    let map_json = serde_json::to_string(&map).map_err(ApiError::internal)?;
    let name = name.unwrap_or_else(|| "OpenID Connect".into());
    let now = ctx.now();
    let fields = ConnectionFields {
        name: &name,
        issuer: &issuer,
        client_id: &client_id,
        client_secret: &sealed,
        default_role: role,
        jit: body.jit,
        group_claim: group_claim.as_deref(),
        group_role_map: &map_json,
        scopes: &scopes,
        status: "draft",
        enforce: false,
        authorization_endpoint: &meta.authorization_endpoint,
        token_endpoint: &meta.token_endpoint,
        jwks_uri: &meta.jwks_uri,
        token_auth: auth.as_str(),
        iss_parameter: meta.authorization_response_iss_parameter_supported,
        tested_ok: false,
        last_test: None,
        activated_at: None,
    };
    let created = access
        .event("sso_connection.created", ("sso_connection", id.to_string()))
        .meta(crate::object!({
            "issuer": issuer,
            "client_id": client_id,
            "default_role": role,
            "jit": body.jit,
        }));
    let row = store
        .global()
        .batch_then_first(
            vec![
                sso_store::insert_connection(store, id, &fields, now)?,
                ctx.audit(&created, now)?,
            ],
            sso_store::connection_stmt(store, id)?,
        )
        .await?
        .ok_or_else(|| ApiError::internal("connection vanished after insert"))?;
    Ok(Reply::created(view(&ctx.cfg, &row)))
}

pub async fn list(ctx: &Ctx, access: OrgAccess) -> ApiResult<Reply> {
    access.person()?;
    let rows = access
        .store()
        .global()
        .all_of(sso_store::connections_stmt(access.store())?)
        .await?;
    let data: Vec<Value> = rows.iter().map(|r| view(&ctx.cfg, r)).collect();
    Ok(Reply::ok(
        crate::object!({ "data": data, "next_cursor": null }),
    ))
}

async fn one(ctx: &Ctx, access: &OrgAccess) -> ApiResult<ConnectionRow> {
    access.person()?;
    let id: ConnectionId = ctx.path_id("connection")?;
    access
        .store()
        .global()
        .first_of(sso_store::connection_stmt(access.store(), id)?)
        .await?
        .ok_or(ApiError::NotFound)
}

pub async fn get(ctx: &Ctx, access: OrgAccess) -> ApiResult<Reply> {
    Ok(Reply::ok(view(&ctx.cfg, &one(ctx, &access).await?)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatchBody {
    name: Option<String>,
    issuer: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    default_role: Option<String>,
    jit: Option<bool>,
    #[serde(default, with = "crate::http::body::nullable")]
    group_claim: Option<Option<String>>,
    group_role_map: Option<BTreeMap<String, String>>,
    scopes: Option<String>,
    status: Option<String>,
    enforce: Option<bool>,
}

pub async fn patch(ctx: &Ctx, access: OrgAccess) -> ApiResult<Reply> {
    let body: PatchBody = ctx.json()?;
    let row = one(ctx, &access).await?;
    let mut errs = FieldErrors::default();
    let name = errs.check_optional("name", body.name.as_deref(), |n| v::text(n, MAX_NAME, true));
    let issuer = errs.check_optional("issuer", body.issuer.as_deref(), |i| {
        sso::issuer(i, ctx.cfg.is_development())
    });
    let client_id = errs.check_optional("client_id", body.client_id.as_deref(), |c| {
        v::text(c, MAX_CLIENT_ID, true)
    });
    if let Some(secret) = &body.client_secret {
        if secret.is_empty() || secret.len() > MAX_SECRET {
            errs.add(
                "client_secret",
                format!("must be 1 to {MAX_SECRET} characters"),
            );
        }
    }
    let role = body
        .default_role
        .as_deref()
        .and_then(|r| errs.check("default_role", default_role(r)));
    let group_claim: Option<Option<String>> = match &body.group_claim {
        None => None,
        Some(None) => Some(None),
        Some(Some(c)) => errs.check("group_claim", optional_claim(c)).map(Some),
    };
    let map = body
        .group_role_map
        .as_ref()
        .map(|m| group_role_map(m, &mut errs));
    let scopes = errs.check_optional("scopes", body.scopes.as_deref(), scopes);
    let status = errs.check_optional("status", body.status.as_deref(), |s| match s {
        "active" | "draft" => Ok(s.to_string()),
        _ => Err("must be active or draft".into()),
    });
    if !errs.is_empty() {
        return Err(ApiError::Validation(errs.0));
    }
    let now = ctx.now();
    let mut changed: Vec<&str> = Vec::new();
    let issuer = issuer.filter(|i| *i != row.issuer);
    let client_id = client_id.filter(|c| *c != row.client_id);
    // A new issuer brings its own endpoints.
    let meta = match &issuer {
        Some(i) => Some(discover(ctx, i).await?),
        None => None,
    };
    let sealed = match &body.client_secret {
        Some(secret) => Some(
            crate::idp::crypto::encrypt(&key(ctx)?, &row.id.to_string(), secret)
                .await
                .map_err(ApiError::internal)?,
        ),
        None => None,
    };
    let credentials_changed = issuer.is_some() || client_id.is_some() || sealed.is_some();
    for (field, given) in [
        ("name", name.is_some()),
        ("issuer", issuer.is_some()),
        ("client_id", client_id.is_some()),
        ("client_secret", sealed.is_some()),
        ("default_role", role.is_some()),
        ("jit", body.jit.is_some()),
        ("group_claim", group_claim.is_some()),
        ("group_role_map", map.is_some()),
        ("scopes", scopes.is_some()),
        ("status", status.is_some()),
        ("enforce", body.enforce.is_some()),
    ] {
        if given {
            changed.push(field);
        }
    }
    // New credentials are untested: back to draft, enforcement off, the old test gone.
    let tested_ok = row.tested_ok != 0 && !credentials_changed;
    let mut new_status = if credentials_changed {
        "draft".to_string()
    } else {
        row.status.clone()
    };
    if let Some(asked) = &status {
        if asked == "active" && !tested_ok {
            return Err(ApiError::conflict(
                "connection_not_tested",
                "Complete a test sign-in through this connection (POST …/test) before activating it.",
            ));
        }
        new_status = asked.clone();
    }
    let mut enforce = row.enforce != 0 && new_status == "active";
    if let Some(asked) = body.enforce {
        if asked && new_status != "active" {
            return Err(ApiError::conflict(
                "connection_not_active",
                "Only an active connection can be enforced; activate it first.",
            ));
        }
        enforce = asked;
    }
    let activated = row.status != "active" && new_status == "active";
    let (authorization_endpoint, token_endpoint, jwks_uri, token_auth, iss_parameter) = match &meta
    {
        Some((m, auth)) => (
            m.authorization_endpoint.clone(),
            m.token_endpoint.clone(),
            m.jwks_uri.clone(),
            auth.as_str().to_string(),
            m.authorization_response_iss_parameter_supported,
        ),
        None => (
            row.authorization_endpoint.clone(),
            row.token_endpoint.clone(),
            row.jwks_uri.clone(),
            row.token_auth.clone(),
            row.iss_parameter != 0,
        ),
    };
    let current_map: BTreeMap<String, OrgRole> =
        serde_json::from_str(&row.group_role_map).unwrap_or_default();
    let map_json =
        serde_json::to_string(map.as_ref().unwrap_or(&current_map)).map_err(ApiError::internal)?;
    let last_test = if credentials_changed {
        None
    } else {
        row.last_test.clone()
    };
    let fields = ConnectionFields {
        name: name.as_deref().unwrap_or(&row.name),
        issuer: issuer.as_deref().unwrap_or(&row.issuer),
        client_id: client_id.as_deref().unwrap_or(&row.client_id),
        client_secret: sealed.as_deref().unwrap_or(&row.client_secret),
        default_role: role.unwrap_or(row.default_role),
        jit: body.jit.unwrap_or(row.jit != 0),
        group_claim: match &group_claim {
            Some(set) => set.as_deref(),
            None => row.group_claim.as_deref(),
        },
        group_role_map: &map_json,
        scopes: scopes.as_deref().unwrap_or(&row.scopes),
        status: &new_status,
        enforce,
        authorization_endpoint: &authorization_endpoint,
        token_endpoint: &token_endpoint,
        jwks_uri: &jwks_uri,
        token_auth: &token_auth,
        iss_parameter,
        tested_ok,
        last_test: last_test.as_deref(),
        activated_at: if activated {
            Some(now.millis())
        } else if new_status == "active" {
            row.activated_at
        } else {
            None
        },
    };
    let store = access.store();
    let target = ("sso_connection", row.id.to_string());
    let mut batch = vec![
        sso_store::update_connection(store, row.id, &fields, row.updated_at, now)?,
        // The edit was computed from the row as read: a racing edit that landed first
        // fails this one (409) instead of being overwritten.
        sso_store::guard_changed_one(store)?,
    ];
    if !changed.is_empty() {
        batch.push(
            ctx.audit(
                &access
                    .event("sso_connection.updated", target.clone())
                    .meta(crate::object!({
                        "fields": changed,
                        "status": new_status,
                        "enforce": enforce,
                    })),
                now,
            )?,
        );
    }
    if activated {
        batch.push(ctx.audit(&access.event("sso_connection.activated", target), now)?);
    }
    let row = store
        .global()
        .batch_then_first(batch, sso_store::connection_stmt(store, row.id)?)
        .await
        .map_err(|e| e.on_guard(ApiError::GuardFailed))?
        .ok_or(ApiError::NotFound)?;
    Ok(Reply::ok(view(&ctx.cfg, &row)))
}

pub async fn remove(ctx: &Ctx, access: OrgAccess) -> ApiResult<Reply> {
    let row = one(ctx, &access).await?;
    let now = ctx.now();
    let deleted = access
        .event(
            "sso_connection.deleted",
            ("sso_connection", row.id.to_string()),
        )
        .meta(crate::object!({ "issuer": row.issuer, "client_id": row.client_id }));
    access
        .store()
        .global()
        .batch(vec![
            sso_store::delete_connection(access.store(), row.id)?,
            ctx.audit(&deleted, now)?,
        ])
        .await?;
    Ok(Reply::no_content())
}

/// A ticket for the admin's browser: `GET /v1/auth/sso/start?connection=…&test=…` turns
/// it into a test sign-in, whose outcome lands in the connection's `last_test`.
pub async fn test(ctx: &Ctx, access: OrgAccess) -> ApiResult<Reply> {
    let tester = access.person()?.user_id();
    let row = one(ctx, &access).await?;
    let ticket = new_secret();
    let now = ctx.now();
    ctx.store()
        .run_stmt(sso_store::insert_flow(
            ctx.store(),
            &NewFlow {
                id_hash: &hash_secret(&ticket),
                kind: "ticket",
                connection: row.id,
                org: row.org_id,
                nonce: None,
                code_verifier: None,
                browser_hash: None,
                tester: Some(tester),
                now,
                expires: now.plus_seconds(TICKET_TTL_SECONDS),
            },
        )?)
        .await?;
    let authorize_url = sso::with_query(
        &format!("{}/v1/auth/sso/start", ctx.cfg.app_url),
        &[("connection", &row.id.to_string()), ("test", &ticket)],
    );
    Ok(Reply::ok(
        crate::object!({ "authorize_url": authorize_url }),
    ))
}
