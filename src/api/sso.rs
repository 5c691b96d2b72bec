//! SSO sign-in (OpenID Connect authorization code flow with PKCE): discover the org's
//! connection by the email's domain, start (state, nonce and verifier kept in D1 and bound to
//! the browser by a cookie), the provider's callback (the code redeemed, the ID token checked
//! with WebCrypto, the person found or provisioned), and the exchange of the callback's
//! one-time code for the same tokens a password login gives. Also where password routes ask
//! whether the account must use SSO instead (`password_refusal`).
//!
//! The browser-facing steps (start, callback) always answer 302: to the provider, to the
//! console with a one-time code, or to the console's `/sso/callback?error=<code>`.

use serde::Deserialize;

use super::auth::{start_session, TokenDelivery};
use super::rate_limit;
use crate::domain::ids::ConnectionId;
use crate::domain::roles::OrgRole;
use crate::domain::sso::{self, Expected, Identity};
use crate::domain::time::Timestamp;
use crate::domain::token::{hash_secret, looks_like_secret, new_secret};
use crate::domain::validation as v;
use crate::error::{ApiError, ApiResult};
use crate::http::{Ctx, Reply};
use crate::ops;
use crate::store::audit::{Actor, Event};
use crate::store::invitations::InviteeStanding;
use crate::store::sso::{
    self as sso_store, ConnectionRow, DomainSso, FlowRow, KnownPerson, NewFlow,
};
use crate::store::users::UserRow;
use crate::store::{self, Found, Ticket, Together};

crate::routes! {
    POST "/v1/auth/sso/discover" => public discover;
    GET "/v1/auth/sso/start" => public start;
    GET "/v1/auth/sso/callback" => public callback;
    POST "/v1/auth/sso/exchange" => public exchange;
}

/// The cookie that binds a sign-in flow to the browser that started it. `SameSite=Lax`, not
/// Strict: the provider's redirect back is a cross-site top-level navigation, which Lax
/// cookies accompany and Strict ones do not.
const FLOW_COOKIE: &str = "__Host-sso-flow";
const FLOW_TTL_SECONDS: i64 = 600;
const CODE_TTL_SECONDS: i64 = 60;

fn flow_cookie(value: &str, max_age: i64) -> String {
    format!("{FLOW_COOKIE}={value}; Path=/; HttpOnly; Secure; SameSite=Lax; Max-Age={max_age}")
}

/// Where a browser starts signing in through `connection`.
pub fn start_url(ctx: &Ctx, connection: ConnectionId, email: Option<&str>) -> String {
    let id = connection.to_string();
    let mut params = vec![("connection", id.as_str())];
    if let Some(email) = email {
        params.push(("login_hint", email));
    }
    sso::with_query(&format!("{}/v1/auth/sso/start", ctx.cfg.app_url), &params)
}

/// The console page that explains a failed sign-in.
fn failed(ctx: &Ctx, code: &str) -> Reply {
    Reply::redirect(sso::with_query(
        &format!("{}/sso/callback", ctx.cfg.app_url),
        &[("error", code)],
    ))
}

// ---- Password routes under SSO ---------------------------------------------------------

/// The read that tells whether `email` must sign in through SSO (its domain's org enforces
/// it), for a password route's round trip.
pub fn plan_enforcement(
    ctx: &Ctx,
    reads: &mut Together,
    email: &str,
) -> ApiResult<Ticket<DomainSso>> {
    Ok(reads.add(sso_store::sso_for_domain_stmt(
        ctx.store(),
        sso::email_domain(email),
        email,
    )?))
}

/// 403 `sso_required` when password sign-in, reset or change is not for this account: a
/// federated account (it has no password here), or an account of a domain whose org
/// enforces SSO, except that org's owner (break-glass). `Ok(true)`: the owner's break-glass.
pub fn password_refusal(
    ctx: &Ctx,
    email: &str,
    user: Option<&UserRow>,
    enforcement: Option<DomainSso>,
) -> ApiResult<bool> {
    if let Some(connection) = user.and_then(|u| u.federated_by) {
        return Err(ApiError::SsoRequired {
            authorize_url: start_url(ctx, connection, Some(email)),
        });
    }
    match enforcement {
        Some(e) if e.enforce != 0 && e.is_owner == 0 => Err(ApiError::SsoRequired {
            authorize_url: start_url(ctx, e.connection_id, Some(email)),
        }),
        Some(e) if e.enforce != 0 => Ok(true),
        _ => Ok(false),
    }
}

/// `password_refusal` with its own read, for routes that know the account only after a
/// lookup (a reset token, a session).
pub async fn check_password_allowed(ctx: &Ctx, user: &UserRow) -> ApiResult<bool> {
    let mut reads = Together::default();
    let read = plan_enforcement(ctx, &mut reads, &user.email)?;
    let results = reads.run(ctx.store()).await?;
    password_refusal(ctx, &user.email, Some(user), results.first(read)?)
}

// ---- Discover -----------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiscoverBody {
    email: String,
}

pub async fn discover(ctx: &Ctx) -> ApiResult<Reply> {
    let body: DiscoverBody = ctx.json()?;
    let email = v::normalize_email(&body.email).map_err(|m| ApiError::field("email", m))?;
    rate_limit(ctx, "sso_discover", None).await?;
    let found: Option<DomainSso> = ctx
        .store()
        .first_of(sso_store::sso_for_domain_stmt(
            ctx.store(),
            sso::email_domain(&email),
            &email,
        )?)
        .await?;
    let Some(found) = found else {
        return Err(ApiError::problem(
            404,
            "no_sso_connection",
            "No single sign-on for this email",
            "No organization signs in this email's domain through single sign-on; use the password.",
        ));
    };
    Ok(Reply::ok(crate::object!({
        "authorize_url": start_url(ctx, found.connection_id, Some(&email)),
        "connection_id": found.connection_id,
        "org_id": found.org_id,
        "enforced": found.enforce != 0,
    })))
}

// ---- Start ----------------------------------------------------------------------------

pub async fn start(ctx: &Ctx) -> ApiResult<Reply> {
    match begin(ctx).await {
        Ok(reply) => Ok(reply),
        Err(e @ ApiError::RateLimited { .. }) => Err(e),
        Err(e) => Ok(failed(ctx, e.code())),
    }
}

fn inactive() -> ApiError {
    ApiError::problem(
        404,
        "sso_connection_inactive",
        "Connection not active",
        "This single sign-on connection does not exist or is not active.",
    )
}

async fn begin(ctx: &Ctx) -> ApiResult<Reply> {
    let connection: ConnectionId = ctx
        .query("connection")
        .and_then(|c| c.parse().ok())
        .ok_or_else(inactive)?;
    let login_hint = ctx
        .filter_param("login_hint")
        .filter(|h| h.len() <= v::MAX_EMAIL_LEN);
    let now = ctx.now();
    let mut reads = Together::default();
    let limits = super::Limits::plan(ctx, &mut reads, "sso_start", None)?;
    let conn_read = reads.add(sso_store::connection_by_id_stmt(ctx.store(), connection)?);
    // A test sign-in's ticket (POST …/test), used up here whatever follows.
    let ticket_read = match ctx.filter_param("test") {
        Some(t) if looks_like_secret(t) => {
            Some(reads.add(sso_store::consume_flow(ctx.store(), &hash_secret(t), now)?))
        }
        Some(_) => return Err(state_invalid()),
        None => None,
    };
    let results = reads.run(ctx.store()).await?;
    limits.check(ctx, &results)?;
    let conn: ConnectionRow = results.first(conn_read)?.ok_or_else(inactive)?;
    let (kind, tester) = match ticket_read {
        Some(read) => {
            let ticket: FlowRow = results.first(read)?.ok_or_else(state_invalid)?;
            if ticket.kind != "ticket"
                || ticket.connection_id != conn.id
                || ticket.expires_at.is_none_or(|e| e <= now.millis())
            {
                return Err(state_invalid());
            }
            ("test", ticket.tester_id)
        }
        None if conn.status == "active" => ("signin", None),
        None => return Err(inactive()),
    };
    let state = new_secret();
    let nonce = new_secret();
    let verifier = new_secret();
    let binding = new_secret();
    ctx.store()
        .run_stmt(sso_store::insert_flow(
            ctx.store(),
            &NewFlow {
                id_hash: &hash_secret(&state),
                kind,
                connection: conn.id,
                org: conn.org_id,
                nonce: Some(&nonce),
                code_verifier: Some(&verifier),
                browser_hash: Some(&hash_secret(&binding)),
                tester,
                now,
                expires: now.plus_seconds(FLOW_TTL_SECONDS),
            },
        )?)
        .await?;
    let challenge = sso::code_challenge(&verifier);
    let redirect_uri = super::sso_connections::redirect_uri(&ctx.cfg);
    let mut params = vec![
        ("response_type", "code"),
        ("client_id", conn.client_id.as_str()),
        ("redirect_uri", redirect_uri.as_str()),
        ("scope", conn.scopes.as_str()),
        ("state", state.as_str()),
        ("nonce", nonce.as_str()),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    if let Some(hint) = login_hint {
        params.push(("login_hint", hint));
    }
    Ok(
        Reply::redirect(sso::with_query(&conn.authorization_endpoint, &params))
            .with_cookie(flow_cookie(&binding, FLOW_TTL_SECONDS)),
    )
}

fn state_invalid() -> ApiError {
    ApiError::problem(
        400,
        "sso_state_invalid",
        "Sign-in expired or not from this browser",
        "This sign-in is unknown, already used, expired, or was started in another browser; start again.",
    )
}

// ---- Callback -------------------------------------------------------------------------

/// Why the provider's answer is refused, before any person is looked at.
fn token_invalid(why: String) -> ApiError {
    ApiError::Problem {
        status: 401,
        code: "sso_token_invalid",
        title: "The identity provider's token was refused",
        detail: why,
        extra: None,
    }
}

fn provider_error(why: String) -> ApiError {
    ApiError::Problem {
        status: 502,
        code: "sso_provider_error",
        title: "The identity provider refused the sign-in",
        detail: why,
        extra: None,
    }
}

pub async fn callback(ctx: &Ctx) -> ApiResult<Reply> {
    let clear = flow_cookie("", 0);
    let reply = match land(ctx).await {
        Ok(reply) => reply,
        Err(e) => {
            if e.log_cause().is_some() || e.status() >= 500 {
                worker::console_error!(
                    "{}",
                    crate::object!({"level": "warn", "msg": "sso callback refused",
                        "request_id": ctx.request_id, "code": e.code(),
                        "cause": e.log_cause().map(str::to_string).unwrap_or_else(|| e.detail())})
                );
            }
            failed(ctx, e.code())
        }
    };
    Ok(reply.with_cookie(clear))
}

async fn land(ctx: &Ctx) -> ApiResult<Reply> {
    let now = ctx.now();
    let state = ctx
        .query("state")
        .filter(|s| looks_like_secret(s))
        .ok_or_else(state_invalid)?;
    let binding = ctx.cookie(FLOW_COOKIE).filter(|b| looks_like_secret(b));
    // The flow used up and its connection read: one round trip.
    let state_hash = hash_secret(state);
    let mut reads = Together::default();
    let flow_read = reads.add(sso_store::consume_flow(ctx.store(), &state_hash, now)?);
    let conn_read = reads.add(sso_store::connection_of_flow_stmt(
        ctx.store(),
        &state_hash,
    )?);
    let results = reads.run(ctx.store()).await?;
    let flow: FlowRow = results.first(flow_read)?.ok_or_else(state_invalid)?;
    let bound =
        matches!((&binding, &flow.browser_hash), (Some(b), Some(h)) if hash_secret(b) == *h);
    if flow.kind == "ticket" || !bound || flow.expires_at.is_none_or(|e| e <= now.millis()) {
        return Err(state_invalid());
    }
    let conn: ConnectionRow = results.first(conn_read)?.ok_or_else(inactive)?;
    let testing = flow.kind == "test";
    if !testing && conn.status != "active" {
        return Err(inactive());
    }
    let outcome = verify(ctx, &conn, &flow).await;
    let org = conn.org_store(ctx.store());
    if testing {
        return record_test(ctx, &org, &conn, &flow, outcome).await;
    }
    let identity = outcome?;
    let code = sign_in(ctx, &org, &conn, &identity).await?;
    Ok(Reply::redirect(sso::with_query(
        &format!("{}/sso/callback", ctx.cfg.app_url),
        &[("code", &code)],
    )))
}

/// The provider's answer, checked: the callback's `iss` (RFC 9207), the code redeemed with
/// the flow's PKCE verifier, the ID token's signature (WebCrypto, the provider's key set)
/// and claims (`domain::sso::check_claims`).
async fn verify(ctx: &Ctx, conn: &ConnectionRow, flow: &FlowRow) -> ApiResult<Identity> {
    match ctx.query("iss") {
        Some(iss) if iss != conn.issuer => {
            return Err(ApiError::Problem {
                status: 401,
                code: "sso_issuer_mismatch",
                title: "The answer came from another issuer",
                detail: format!(
                    "The callback's iss is {iss:?}, not this connection's issuer {:?} (RFC 9207).",
                    conn.issuer
                ),
                extra: None,
            })
        }
        None if conn.iss_parameter != 0 => return Err(ApiError::Problem {
            status: 401,
            code: "sso_issuer_mismatch",
            title: "The answer came from another issuer",
            detail:
                "The provider announces the iss parameter (RFC 9207), and the callback has none."
                    .into(),
            extra: None,
        }),
        _ => {}
    }
    if let Some(error) = ctx.filter_param("error") {
        let description = ctx.query("error_description").unwrap_or_default();
        return Err(provider_error(format!(
            "The identity provider answered {error}: {}",
            description.chars().take(300).collect::<String>()
        )));
    }
    let code = ctx
        .filter_param("code")
        .ok_or_else(|| provider_error("The callback has no authorization code.".into()))?;
    let key = ctx
        .cfg
        .sso_encryption_key
        .ok_or_else(|| ApiError::Misconfigured("SSO_ENCRYPTION_KEY secret is not set".into()))?;
    let secret = crate::idp::crypto::decrypt(&key, &conn.id.to_string(), &conn.client_secret)
        .await
        .map_err(ApiError::internal)?;
    let redirect_uri = super::sso_connections::redirect_uri(&ctx.cfg);
    let verifier = flow.code_verifier.as_deref().unwrap_or_default();
    let auth = sso::TokenAuth::parse(&conn.token_auth).unwrap_or(sso::TokenAuth::Basic);
    let id_token = crate::idp::redeem_code(
        &conn.token_endpoint,
        auth,
        &conn.client_id,
        &secret,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", &redirect_uri),
            ("code_verifier", verifier),
        ],
    )
    .await
    .map_err(provider_error)?;
    let jws = sso::parse_jws(&id_token).map_err(token_invalid)?;
    let now = ctx.now();
    let key = crate::idp::signing_key(&conn.jwks_uri, &jws.alg, jws.kid.as_deref(), now.millis())
        .await
        .map_err(token_invalid)?;
    let valid =
        crate::idp::crypto::verify(&jws.alg, &key, jws.signing_input.as_bytes(), &jws.signature)
            .await
            .map_err(token_invalid)?;
    if !valid {
        return Err(token_invalid(
            "The ID token's signature does not verify.".into(),
        ));
    }
    sso::check_claims(
        &jws.claims,
        &Expected {
            issuer: &conn.issuer,
            client_id: &conn.client_id,
            nonce: flow.nonce.as_deref().unwrap_or_default(),
            now: now.millis() / 1000,
        },
        conn.group_claim.as_deref(),
    )
    .map_err(token_invalid)
}

fn group_roles(conn: &ConnectionRow) -> std::collections::BTreeMap<String, OrgRole> {
    serde_json::from_str(&conn.group_role_map).unwrap_or_default()
}

/// A test sign-in's outcome, kept on the connection for the admin: the token checked, the
/// email verified, the domain one of the org's, and what the person would get.
async fn record_test(
    ctx: &Ctx,
    org: &store::OrgStore,
    conn: &ConnectionRow,
    flow: &FlowRow,
    outcome: ApiResult<Identity>,
) -> ApiResult<Reply> {
    let now = ctx.now();
    let (ok, error, claims) = match outcome {
        Ok(identity) => {
            let domain_ok = org
                .global()
                .first_of(sso_store::org_verified_domain_stmt(
                    org,
                    sso::email_domain(&identity.email),
                )?)
                .await?
                .is_some();
            let map = group_roles(conn);
            let role = if conn.group_claim.is_some() {
                sso::mapped_role(&identity.groups, &map, conn.default_role)
            } else {
                conn.default_role
            };
            let problem = if !identity.email_verified {
                Some(("sso_email_unverified", "The provider does not say the email is verified (email_verified must be true)."))
            } else if !domain_ok {
                Some((
                    "sso_domain_not_verified",
                    "The email's domain is not one of the organization's verified domains.",
                ))
            } else {
                None
            };
            let claims = crate::object!({
                "sub": identity.subject,
                "email": identity.email,
                "email_verified": identity.email_verified,
                "groups": identity.groups,
                "role": role,
            });
            match problem {
                None => (true, None, claims),
                Some((code, detail)) => (
                    false,
                    Some(crate::object!({"code": code, "detail": detail})),
                    claims,
                ),
            }
        }
        Err(e) => (
            false,
            Some(crate::object!({
                "code": e.code(),
                "detail": e.detail(),
            })),
            serde_json::Value::Null,
        ),
    };
    let result = crate::object!({
        "at": crate::api::views::time(now.millis()),
        "ok": ok,
        "error": error,
        "claims": if claims.is_null() { serde_json::Value::Null } else { claims },
    });
    let actor = match flow.tester_id {
        Some(id) => Actor::User { id, email: None },
        None => Actor::Claimant {
            email: String::new(),
        },
    };
    let event = Event::by(
        conn.org_id,
        actor,
        "sso_connection.tested",
        ("sso_connection", conn.id.to_string()),
    )
    .method("sso")
    .meta(crate::object!({ "ok": ok }));
    let event = if ok { event } else { event.failed() };
    org.global()
        .batch(vec![
            sso_store::record_test(
                org,
                conn.id,
                &result.to_string(),
                ok,
                Timestamp(flow.created_at),
            )?,
            ctx.audit(&event, now)?,
        ])
        .await?;
    Ok(Reply::redirect(sso::with_query(
        &format!("{}/orgs/{}/sso", ctx.cfg.app_url, conn.org_id),
        &[
            ("connection", &conn.id.to_string()),
            ("test", if ok { "ok" } else { "failed" }),
        ],
    )))
}

/// Finds or provisions the person (`ops::sso::sign_in`), commits it with a one-time code
/// for the exchange, and returns the code.
async fn sign_in(
    ctx: &Ctx,
    org: &store::OrgStore,
    conn: &ConnectionRow,
    identity: &Identity,
) -> ApiResult<String> {
    let mut reads = Together::default();
    let by_identity = reads.add(sso_store::identity_person_stmt(
        org,
        conn.id,
        &identity.subject,
    )?);
    let by_email = reads.add(sso_store::email_person_stmt(org, &identity.email)?);
    let standing = reads.add(store::invitations::invitee_standing_stmt(
        org,
        &identity.email,
    )?);
    let domain = reads.add(sso_store::org_verified_domain_stmt(
        org,
        sso::email_domain(&identity.email),
    )?);
    let results = reads.run(ctx.store()).await?;
    let found = ops::sso::Found {
        by_identity: results.first::<KnownPerson>(by_identity)?,
        by_email: results.first::<KnownPerson>(by_email)?,
        standing: results
            .first::<InviteeStanding>(standing)?
            .unwrap_or_default(),
        domain_verified: results.first::<Found>(domain)?.is_some(),
    };
    let map = group_roles(conn);
    let acting = ops::Acting {
        org,
        role: OrgRole::Member,
        actor: Actor::Claimant {
            email: identity.email.clone(),
        },
        origin: ctx.origin(),
        now: ctx.now(),
        method: Some("sso"),
    };
    let policy = ops::sso::Policy {
        connection: conn.id,
        jit: conn.jit != 0,
        default_role: conn.default_role,
        group_roles: &map,
        maps_groups: conn.group_claim.is_some(),
    };
    let signed = ops::sso::sign_in(&acting, &ctx.cfg, &policy, identity, found)?;
    let code = new_secret();
    let now = ctx.now();
    let mut batch = signed.stmts;
    batch.push(sso_store::insert_code(
        ctx.store(),
        &hash_secret(&code),
        signed.user.id,
        conn.id,
        now,
        now.plus_seconds(CODE_TTL_SECONDS),
    )?);
    ctx.store().batch(batch).await?;
    ctx.enqueue_mail(signed.mails).await;
    Ok(code)
}

// ---- Exchange -------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExchangeBody {
    code: String,
    /// The web console's sign-in: the refresh token in the session cookie, not the body.
    #[serde(default)]
    session_cookie: bool,
}

pub async fn exchange(ctx: &Ctx) -> ApiResult<Reply> {
    let body: ExchangeBody = ctx.json()?;
    let delivery = TokenDelivery::asked(ctx, body.session_cookie)?;
    if !looks_like_secret(&body.code) {
        return Err(ApiError::InvalidToken);
    }
    let now = ctx.now();
    let mut reads = Together::default();
    let limits = super::Limits::plan(ctx, &mut reads, "sso_exchange", None)?;
    let code_read = reads.add(sso_store::consume_code(
        ctx.store(),
        &hash_secret(&body.code),
        now,
    )?);
    let results = reads.run(ctx.store()).await?;
    limits.check(ctx, &results)?;
    let code = results
        .first::<sso_store::CodeRow>(code_read)?
        .ok_or(ApiError::InvalidToken)?;
    if code.expires_at <= now.millis() {
        return Err(ApiError::TokenExpired);
    }
    let user = store::users::by_id(ctx.store(), code.user_id)
        .await?
        .filter(|u| u.status == crate::domain::account::AccountStatus::Active)
        .ok_or(ApiError::InvalidToken)?;
    let signed_in = UserRow {
        last_login_at: Some(now.millis()),
        failed_logins: 0,
        ..user.clone()
    };
    let login = start_session(ctx, &signed_in, "sso", delivery, now).await?;
    let event = Event::account("user.login_succeeded", user.id, &user.email)
        .method("sso")
        .meta(crate::object!({ "connection_id": code.connection_id }));
    let batch = super::auth::signed_in_batch(ctx, user.id, None, login.stmts, &event, now)?;
    ctx.store()
        .batch(batch)
        .await
        .map_err(|e| e.on_guard(ApiError::InvalidToken))?;
    Ok(login.tokens.reply(200))
}
