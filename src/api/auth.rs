//! Signup, activation, login, refresh rotation, logout, password reset, email verification.

use serde::Deserialize;
use serde_json::Value;

use super::views;
use super::{rate_limit, rate_limit_account, Limits};
use crate::domain::account::{decide_login, failure_locks, AccountStatus, LoginDecision};
use crate::domain::ids::{SessionId, UserId, WorkspaceId};
use crate::domain::password::{self, Verification};
use crate::domain::session_cookie;
use crate::domain::time::Timestamp;
use crate::domain::token::{hash_secret, looks_like_secret, new_secret, TokenPurpose};
use crate::domain::validation::{self as v, FieldErrors};
use crate::error::{ApiError, ApiResult};
use crate::http::auth::Caller;
use crate::http::{Ctx, Reply};
use crate::mail::{link, MailContent, Outgoing};
use crate::ops;
use crate::store::audit::{self, Actor, Event};
use crate::store::users::{NewUser, UserRow};
use crate::store::{self, Stmt, Together};

crate::routes! {
    POST "/v1/auth/signup" => public signup;
    POST "/v1/auth/activate" => public activate;
    POST "/v1/auth/login" => public login;
    POST "/v1/auth/refresh" => public refresh;
    POST "/v1/auth/logout" => public logout;
    POST "/v1/auth/logout-all" => person logout_all;
    POST "/v1/auth/password/forgot" => public forgot_password;
    POST "/v1/auth/password/reset" => public reset_password;
    POST "/v1/auth/email/verify" => public verify_email;
}

const MAX_ORG_NAME: usize = 100;
const MAX_DESCRIPTION: usize = 1000;
/// A change token only bridges a single-use-password login to the password change.
const CHANGE_TOKEN_TTL_SECONDS: i64 = 600;

fn hash_password(pw: &str) -> ApiResult<String> {
    password::hash(pw).map_err(|_| ApiError::internal("password hashing failed"))
}

/// Where a session's refresh token goes: into the response body (API clients, apps), or
/// into the session cookie, where the web console's page scripts never see it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum TokenDelivery {
    Body,
    Cookie,
}

impl TokenDelivery {
    /// What a token-issuing body's `session_cookie` asks for. The cookie only for this
    /// service's own pages (403 `cross_origin_request`), refused before anything is read
    /// or written.
    pub fn asked(ctx: &Ctx, session_cookie: bool) -> ApiResult<Self> {
        if !session_cookie {
            return Ok(TokenDelivery::Body);
        }
        ctx.require_own_origin()?;
        Ok(TokenDelivery::Cookie)
    }
}

/// A token response: its body, and the session cookie when the refresh token went there.
pub struct TokenReply {
    pub body: Value,
    cookie: Option<String>,
}

impl TokenReply {
    /// `body` with `refresh_token` delivered as asked: a member of the body, or the session
    /// cookie, living as long as the session (until `expires_at`).
    fn new(
        mut body: Value,
        delivery: TokenDelivery,
        refresh_token: &str,
        expires_at: Timestamp,
        now: Timestamp,
    ) -> ApiResult<Self> {
        let cookie = match delivery {
            TokenDelivery::Body => {
                body["refresh_token"] = Value::from(refresh_token);
                None
            }
            TokenDelivery::Cookie => Some(
                session_cookie::set(refresh_token, session_cookie::max_age(expires_at, now))
                    .ok_or_else(|| ApiError::internal("a refresh token is not a cookie value"))?,
            ),
        };
        Ok(TokenReply { body, cookie })
    }

    pub fn reply(self, status: u16) -> Reply {
        let reply = Reply::json(status, self.body);
        match self.cookie {
            Some(cookie) => reply.with_cookie(cookie),
            None => reply,
        }
    }
}

/// A new session: its rows (for the caller's batch) and the token response.
pub struct NewLogin {
    pub stmts: Vec<Stmt>,
    pub tokens: TokenReply,
}

/// Starts a session (`ops::sessions::start`) and renders the token response, its refresh
/// token delivered as asked.
pub async fn start_session(
    ctx: &Ctx,
    user: &UserRow,
    method: &'static str,
    delivery: TokenDelivery,
    now: Timestamp,
) -> ApiResult<NewLogin> {
    let keys = ctx.keys().await?;
    let started = ops::sessions::start(
        ctx.store(),
        &keys,
        &ctx.cfg,
        ctx.origin(),
        user.id,
        method,
        now,
    )?;
    let body = crate::object!({
        "access_token": started.access_token,
        "token_type": "Bearer",
        "expires_in": ctx.cfg.access_token_ttl,
        "user": views::user(user),
    });
    Ok(NewLogin {
        stmts: started.stmts,
        tokens: TokenReply::new(
            body,
            delivery,
            &started.refresh_token,
            started.expires_at,
            now,
        )?,
    })
}

/// The batch of a sign-in that succeeded: the account still active (a lock that raced in
/// fails the batch: `ApiError::GuardFailed`), the login recorded (with a password's rehash),
/// the new session's rows and the sign-in's event. Password login and the SSO exchange.
pub fn signed_in_batch(
    ctx: &Ctx,
    user: UserId,
    rehash: Option<&str>,
    session: Vec<Stmt>,
    event: &Event,
    now: Timestamp,
) -> ApiResult<Vec<Stmt>> {
    let mut batch = vec![
        store::users::guard_active(ctx.store(), user)?,
        store::users::record_successful_login(ctx.store(), user, rehash, now)?,
    ];
    batch.extend(session);
    batch.push(ctx.audit(event, now)?);
    Ok(batch)
}

/// Validates the shape of an emailed token before any lookup.
pub fn token_hash(token: &str) -> ApiResult<String> {
    if looks_like_secret(token) {
        Ok(hash_secret(token))
    } else {
        Err(ApiError::InvalidToken)
    }
}

/// Finds an emailed token and tells unknown/used (400) from expired (410).
async fn live_token(
    ctx: &Ctx,
    token: &str,
    purpose: TokenPurpose,
) -> ApiResult<(String, store::tokens::TokenRow, UserRow)> {
    let hash = token_hash(token)?;
    let row = store::tokens::find(ctx.store(), &hash, purpose)
        .await?
        .ok_or(ApiError::InvalidToken)?;
    if row.used_at.is_some() {
        return Err(ApiError::InvalidToken);
    }
    if Timestamp(row.expires_at) <= ctx.now() {
        return Err(ApiError::TokenExpired);
    }
    let user_id = row.user_id;
    let user = store::users::by_id(ctx.store(), user_id)
        .await?
        .ok_or(ApiError::InvalidToken)?;
    Ok((hash, row, user))
}

/// A new emailed token for `user`: its row (superseding older ones of the purpose) and the
/// secret to put in the link.
fn new_emailed_token(
    ctx: &Ctx,
    user: UserId,
    purpose: TokenPurpose,
    new_email: Option<&str>,
    ttl: i64,
    now: Timestamp,
) -> ApiResult<(Vec<Stmt>, String, Timestamp)> {
    let secret = new_secret();
    let expires = now.plus_seconds(ttl);
    let stmts = vec![
        store::tokens::revoke_unused(ctx.store(), user, purpose, now)?,
        store::tokens::insert(
            ctx.store(),
            &hash_secret(&secret),
            user,
            purpose,
            new_email,
            now,
            expires,
        )?,
    ];
    Ok((stmts, secret, expires))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignupBody {
    email: String,
    password: String,
    first_name: String,
    last_name: String,
    organization: SignupOrg,
    workspace: SignupWorkspace,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SignupOrg {
    name: String,
    description: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SignupWorkspace {
    name: String,
}

pub async fn signup(ctx: &Ctx) -> ApiResult<Reply> {
    let body: SignupBody = ctx.json()?;
    let common = v::common_passwords();
    let mut errs = FieldErrors::default();
    let email = errs.check("email", v::normalize_email(&body.email));
    if let Some(email) = &email {
        errs.check("password", v::password(&body.password, Some(email), common));
    }
    let first_name = errs.check("first_name", v::name(&body.first_name));
    let last_name = errs.check("last_name", v::name(&body.last_name));
    let org_name = errs.check(
        "organization.name",
        v::text(&body.organization.name, MAX_ORG_NAME, true),
    );
    let description = errs.check_optional(
        "organization.description",
        body.organization.description.as_deref(),
        |d| v::text(d, MAX_DESCRIPTION, false),
    );
    let ws_name = errs.check(
        "workspace.name",
        v::text(&body.workspace.name, MAX_ORG_NAME, true),
    );
    let (Some(email), Some(first_name), Some(last_name), Some(org_name), Some(ws_name), true) = (
        email,
        first_name,
        last_name,
        org_name,
        ws_name,
        errs.is_empty(),
    ) else {
        return Err(ApiError::Validation(errs.0));
    };
    // The rate-limit hit and the email check: one round trip.
    let mut reads = Together::default();
    let limits = Limits::plan(ctx, &mut reads, "signup", None)?;
    let taken_read = reads.add(store::users::email_exists_stmt(ctx.store(), &email)?);
    let results = reads.run(ctx.store()).await?;
    limits.check(ctx, &results)?;
    if results.first::<store::Found>(taken_read)?.is_some() {
        return Err(ApiError::conflict(
            "email_taken",
            "An account with this email already exists.",
        ));
    }
    let password_hash = hash_password(&body.password)?;
    let now = ctx.now();
    let user_id = UserId::new();
    let new_org = ctx.store().create_org();
    let org_id = new_org.org();
    let ws_id = WorkspaceId::new();

    let (mut stmts, secret, expires) = new_emailed_token(
        ctx,
        user_id,
        TokenPurpose::Activation,
        None,
        ctx.cfg.activation_ttl,
        now,
    )?;
    let mail = Outgoing::new(
        &email,
        MailContent::Activation {
            first_name: first_name.clone(),
            link: link(&ctx.cfg.app_url, "activate", &secret),
            expires_at: expires.to_rfc3339(),
        },
    );
    let signed_up = Event::account("user.signed_up", user_id, &email);
    let mut batch = vec![store::users::insert(
        ctx.store(),
        &NewUser {
            id: user_id,
            email: &email,
            first_name: &first_name,
            last_name: &last_name,
            phone: None,
            password_hash: Some(&password_hash),
            status: AccountStatus::Pending,
            email_verified: false,
            created_by_org: None,
            must_change_password: false,
            now,
        },
    )?];
    batch.append(&mut stmts);
    batch.extend(store::orgs::insert(
        ctx.store(),
        &store::orgs::NewOrg {
            id: org_id,
            name: &org_name,
            description: description.as_deref(),
            logo_url: None,
            owner: user_id,
            member_limit: ctx.cfg.default_member_limit,
            now,
        },
    )?);
    batch.push(store::orgs::insert_workspace(
        &new_org, ws_id, &ws_name, now,
    )?);
    batch.push(ctx.audit(&signed_up, now)?);
    batch.push(
        ctx.audit(
            &Event {
                action: "org.created",
                target: Some(("org", org_id.to_string())),
                subject: None,
                ..signed_up.clone()
            }
            .in_org(org_id),
            now,
        )?,
    );
    batch.push(
        ctx.audit(
            &Event {
                action: "workspace.created",
                target: Some(("workspace", ws_id.to_string())),
                subject: None,
                ..signed_up.clone()
            }
            .in_org(org_id),
            now,
        )?,
    );
    batch.push(mail.outbox_row(ctx.store(), now)?);
    let user: UserRow = ctx
        .store()
        .batch_then_first(batch, store::users::by_id_stmt(ctx.store(), user_id)?)
        .await?
        .ok_or_else(|| ApiError::internal("user vanished after signup"))?;
    ctx.enqueue_mail(vec![mail]).await;
    Ok(Reply::created(crate::object!({
        "user": views::user(&user),
        "organization": {
            "id": org_id,
            "name": org_name,
            "description": description,
            "logo_url": null,
            "owner_id": user_id,
            "member_limit": ctx.cfg.default_member_limit,
            "created_at": now,
        },
        "workspace": {
            "id": ws_id,
            "org_id": org_id,
            "name": ws_name,
            "description": null,
            "created_at": now,
        },
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActivateBody {
    token: String,
    password: Option<String>,
    /// The web console's sign-in: the refresh token in the session cookie, not the body.
    #[serde(default)]
    session_cookie: bool,
}

pub async fn activate(ctx: &Ctx) -> ApiResult<Reply> {
    let body: ActivateBody = ctx.json()?;
    let delivery = TokenDelivery::asked(ctx, body.session_cookie)?;
    rate_limit(ctx, "activate", None).await?;
    let (hash, _, user) = live_token(ctx, &body.token, TokenPurpose::Activation).await?;
    rate_limit_account(ctx, "activate", &user.email).await?;
    if user.status != AccountStatus::Pending {
        return Err(ApiError::InvalidToken);
    }
    let new_hash = match &body.password {
        Some(pw) => {
            v::password(pw, Some(&user.email), v::common_passwords())
                .map_err(|m| ApiError::field("password", m))?;
            Some(hash_password(pw)?)
        }
        None if user.password_hash.is_none() => {
            return Err(ApiError::field(
                "password",
                "is required: this account has no password yet",
            ))
        }
        None => None,
    };
    let now = ctx.now();
    let user_id = user.id;
    let mut batch = store::tokens::consume(
        ctx.store(),
        &hash,
        TokenPurpose::Activation,
        &ctx.request_id,
        now,
    )?;
    batch.push(store::users::activate(
        ctx.store(),
        user_id,
        new_hash.as_deref(),
        now,
    )?);
    batch.push(store::users::guard_active(ctx.store(), user_id)?);
    batch.push(ctx.audit(&Event::account("user.activated", user_id, &user.email), now)?);
    // Activation signs the user in: it shows in their login history like a login.
    batch.push(
        ctx.audit(
            &Event::account("user.login_succeeded", user_id, &user.email)
                .method("password")
                .meta(crate::object!({ "via": "activation" })),
            now,
        )?,
    );
    // The activated row, as the token response shows it.
    let activated = UserRow {
        status: AccountStatus::Active,
        email_verified: 1,
        last_login_at: Some(now.millis()),
        ..user
    };
    let login = start_session(ctx, &activated, "password", delivery, now).await?;
    batch.extend(login.stmts);
    batch.push(store::users::record_successful_login(
        ctx.store(),
        user_id,
        None,
        now,
    )?);
    ctx.store()
        .batch(batch)
        .await
        .map_err(|e| e.on_guard(ApiError::InvalidToken))?;
    Ok(login.tokens.reply(200))
}

/// A failed password login's event: in the account's history, or, for an email no account
/// has, with the claimed email as the actor (for security monitoring).
fn login_failed(user: Option<&UserRow>, email: &str, reason: &str) -> Event {
    let event = match user {
        Some(u) => Event::account("user.login_failed", u.id, &u.email),
        None => Event {
            action: "user.login_failed",
            org: None,
            subject: None,
            actor: Some(Actor::Claimant {
                email: email.to_string(),
            }),
            target: None,
            auth_method: None,
            success: true,
            metadata: None,
        },
    };
    event
        .method("password")
        .failed()
        .meta(crate::object!({ "reason": reason }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginBody {
    email: String,
    password: String,
    /// The web console's sign-in: the refresh token in the session cookie, not the body.
    #[serde(default)]
    session_cookie: bool,
}

pub async fn login(ctx: &Ctx) -> ApiResult<Reply> {
    let body: LoginBody = ctx.json()?;
    let delivery = TokenDelivery::asked(ctx, body.session_cookie)?;
    let email = v::normalize_email(&body.email).map_err(|m| ApiError::field("email", m))?;
    if body.password.is_empty() || body.password.chars().count() > v::MAX_PASSWORD_LEN {
        return Err(ApiError::field("password", "must be 1 to 128 characters"));
    }
    // The rate-limit hits, the account and whether its domain must use SSO: one round trip.
    let mut reads = Together::default();
    let limits = Limits::plan(ctx, &mut reads, "login", Some(&email))?;
    let user_read = reads.add(store::users::by_email_stmt(ctx.store(), &email)?);
    let sso_read = super::sso::plan_enforcement(ctx, &mut reads, &email)?;
    let results = reads.run(ctx.store()).await?;
    limits.check(ctx, &results)?;
    let user: Option<UserRow> = results.first(user_read)?;
    // Accounts that sign in through their org's identity provider have no password here:
    // refused before any verification, counting no failure (no lockout for them).
    let break_glass =
        match super::sso::password_refusal(ctx, &email, user.as_ref(), results.first(sso_read)?) {
            Ok(owner) => owner,
            Err(refusal) => {
                let now = ctx.now();
                let event = login_failed(user.as_ref(), &email, "sso_required");
                ctx.store().batch(vec![ctx.audit(&event, now)?]).await?;
                return Err(refusal);
            }
        };
    // Always one full hash verification, so unknown emails cost what wrong passwords cost.
    let stored = user
        .as_ref()
        .and_then(|u| u.password_hash.as_deref())
        .unwrap_or(password::DUMMY_HASH);
    let verification = password::verify(&body.password, stored);
    let status = user.as_ref().map(|u| u.status);
    let must_change = user.as_ref().is_some_and(|u| u.must_change_password != 0);
    let decision = decide_login(status, verification != Verification::Mismatch, must_change);
    let now = ctx.now();
    let Some(user) = user else {
        // Recorded like a wrong password (one D1 write), so both cost the same time.
        let event = login_failed(None, &email, "unknown_email");
        ctx.store().batch(vec![ctx.audit(&event, now)?]).await?;
        return Err(ApiError::InvalidCredentials);
    };
    let user_id = user.id;
    let failed = |reason: &str| login_failed(Some(&user), &email, reason);
    match decision {
        LoginDecision::InvalidCredentials => {
            let threshold = ctx.cfg.lockout_threshold;
            // One batch: count the failure (locking at the threshold), end the sessions of a
            // locked account, and log; `user.locked` only by the failure that crossed it.
            let results = ctx
                .store()
                .batch(vec![
                    store::users::record_failed_login(ctx.store(), user_id, threshold, now)?,
                    store::sessions::end_all_if_locked(ctx.store(), user_id, now)?,
                    ctx.audit(&failed("invalid_password"), now)?,
                    audit::insert_if_just_locked(
                        ctx.store(),
                        user_id,
                        &user.email,
                        ctx.origin(),
                        threshold,
                        now,
                    )?,
                ])
                .await?;
            let counter = results
                .first()
                .map(|r| r.first::<store::users::FailedLogins>())
                .transpose()?
                .flatten()
                .map(|r| r.failed_logins);
            if counter.is_some_and(|n| failure_locks(n, threshold))
                && status == Some(AccountStatus::Active)
            {
                let mail = Outgoing::new(
                    &user.email,
                    MailContent::AccountLocked {
                        first_name: user.first_name.clone(),
                        reset_link: format!("{}/forgot-password", ctx.cfg.app_url),
                    },
                );
                ctx.store()
                    .run_stmt(mail.outbox_row(ctx.store(), now)?)
                    .await?;
                ctx.enqueue_mail(vec![mail]).await;
            }
            Err(ApiError::InvalidCredentials)
        }
        LoginDecision::Locked => {
            ctx.store()
                .run_stmt(ctx.audit(&failed("locked"), now)?)
                .await?;
            Err(ApiError::AccountLocked)
        }
        LoginDecision::NotActive => {
            ctx.store()
                .run_stmt(ctx.audit(&failed("not_active"), now)?)
                .await?;
            Err(ApiError::AccountNotActive)
        }
        LoginDecision::PasswordChangeRequired => {
            let secret = new_secret();
            let batch = vec![
                store::tokens::revoke_unused(
                    ctx.store(),
                    user_id,
                    TokenPurpose::PasswordChange,
                    now,
                )?,
                store::tokens::insert(
                    ctx.store(),
                    &hash_secret(&secret),
                    user_id,
                    TokenPurpose::PasswordChange,
                    None,
                    now,
                    now.plus_seconds(CHANGE_TOKEN_TTL_SECONDS),
                )?,
                store::users::record_successful_login(ctx.store(), user_id, None, now)?,
                ctx.audit(&failed("password_change_required"), now)?,
            ];
            ctx.store().batch(batch).await?;
            Err(ApiError::PasswordChangeRequired {
                change_token: secret,
            })
        }
        LoginDecision::Success => {
            let rehash = match verification {
                Verification::MatchNeedsRehash => Some(hash_password(&body.password)?),
                _ => None,
            };
            let logged_in = UserRow {
                last_login_at: Some(now.millis()),
                failed_logins: 0,
                ..user.clone()
            };
            let login = start_session(ctx, &logged_in, "password", delivery, now).await?;
            let succeeded =
                Event::account("user.login_succeeded", user_id, &user.email).method("password");
            // The owner of an org that enforces SSO keeps password sign-in, on the record.
            let succeeded = if break_glass {
                succeeded.meta(crate::object!({ "break_glass": true }))
            } else {
                succeeded
            };
            let batch = signed_in_batch(
                ctx,
                user_id,
                rehash.as_deref(),
                login.stmts,
                &succeeded,
                now,
            )?;
            // A lock that raced in between the read and this batch wins.
            ctx.store()
                .batch(batch)
                .await
                .map_err(|e| e.on_guard(ApiError::AccountLocked))?;
            Ok(login.tokens.reply(200))
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefreshBody {
    refresh_token: String,
}

/// The refresh token a refresh or logout presents, and where its successor goes: the
/// body's (API clients, exactly as before); or, for a request with no body at all, the
/// session cookie's, and only from this service's own pages (403 `cross_origin_request`).
fn presented_refresh_token(ctx: &Ctx) -> ApiResult<(Option<String>, TokenDelivery)> {
    match ctx.json_or_nothing::<RefreshBody>()? {
        Some(body) => Ok((Some(body.refresh_token), TokenDelivery::Body)),
        None => {
            ctx.require_own_origin()?;
            Ok((ctx.cookie(session_cookie::NAME), TokenDelivery::Cookie))
        }
    }
}

async fn end_session(
    ctx: &Ctx,
    session: SessionId,
    user: UserId,
    reason: &'static str,
) -> ApiResult<()> {
    let batch = ops::sessions::end(
        ctx.store(),
        ctx.origin(),
        session,
        user,
        reason,
        &ctx.request_id,
        ctx.now(),
    )?;
    match ctx.store().batch(batch).await {
        // A racing request ended it first and recorded the event: nothing left to do.
        Ok(_) | Err(ApiError::GuardFailed) => Ok(()),
        Err(e) => Err(e),
    }
}

pub async fn refresh(ctx: &Ctx) -> ApiResult<Reply> {
    let (presented, delivery) = presented_refresh_token(ctx)?;
    // No cookie is answered like a bad token.
    let presented = presented.ok_or(ApiError::InvalidRefreshToken)?;
    if !looks_like_secret(&presented) {
        return Err(ApiError::InvalidRefreshToken);
    }
    let old_hash = hash_secret(&presented);
    let found = store::sessions::find_refresh(ctx.store(), &old_hash)
        .await?
        .ok_or(ApiError::InvalidRefreshToken)?;
    let (session, user) = (found.session_id, found.user_id);
    let now = ctx.now();
    if found.ended_at.is_some()
        || Timestamp(found.expires_at) <= now
        || found.status != AccountStatus::Active
    {
        return Err(ApiError::InvalidRefreshToken);
    }
    if found.rotated_at.is_some() {
        // A rotated token came back: it was stolen or replayed. End the whole session.
        end_session(ctx, session, user, "refresh_token_reuse").await?;
        return Err(ApiError::InvalidRefreshToken);
    }
    let new_refresh = new_secret();
    let rotated = store::sessions::rotate(
        ctx.store(),
        session,
        &old_hash,
        &hash_secret(&new_refresh),
        &ctx.request_id,
        now,
    )?;
    if let Err(e) = ctx.store().batch(rotated).await {
        return match e {
            // Another request rotated the same token first: that is reuse too.
            ApiError::GuardFailed => {
                end_session(ctx, session, user, "refresh_token_reuse").await?;
                Err(ApiError::InvalidRefreshToken)
            }
            other => Err(other),
        };
    }
    let access = ops::sessions::access_token(&*ctx.keys().await?, &ctx.cfg, user, session, now);
    let body = crate::object!({
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": ctx.cfg.access_token_ttl,
    });
    // Rotation keeps the session's expiry: the rotated cookie lives as long as it has left.
    let tokens = TokenReply::new(
        body,
        delivery,
        &new_refresh,
        Timestamp(found.expires_at),
        now,
    )?;
    Ok(tokens.reply(200))
}

pub async fn logout(ctx: &Ctx) -> ApiResult<Reply> {
    let (presented, delivery) = presented_refresh_token(ctx)?;
    // Unknown or already-ended tokens (or no cookie) log out nothing; the answer is the
    // same either way.
    if let Some(presented) = presented.filter(|t| looks_like_secret(t)) {
        if let Some(found) =
            store::sessions::find_refresh(ctx.store(), &hash_secret(&presented)).await?
        {
            if found.ended_at.is_none() {
                end_session(ctx, found.session_id, found.user_id, "logout").await?;
            }
        }
    }
    Ok(match delivery {
        // The browser drops the cookie whatever became of its session.
        TokenDelivery::Cookie => Reply::no_content().with_cookie(session_cookie::clear()),
        TokenDelivery::Body => Reply::no_content(),
    })
}

pub async fn logout_all(ctx: &Ctx, caller: Caller) -> ApiResult<Reply> {
    let now = ctx.now();
    let event = Event::account("session.revoked", caller.user_id(), caller.email())
        .meta(crate::object!({ "reason": "logout_all" }));
    ctx.store()
        .batch(vec![
            store::sessions::end_all(ctx.store(), caller.user_id(), None, "logout_all", now)?,
            ctx.audit(&event, now)?,
        ])
        .await?;
    Ok(Reply::no_content())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForgotBody {
    email: String,
}

pub async fn forgot_password(ctx: &Ctx) -> ApiResult<Reply> {
    let body: ForgotBody = ctx.json()?;
    let email = v::normalize_email(&body.email).map_err(|m| ApiError::field("email", m))?;
    let mut reads = Together::default();
    let limits = Limits::plan(ctx, &mut reads, "forgot", Some(&email))?;
    let user_read = reads.add(store::users::by_email_stmt(ctx.store(), &email)?);
    let sso_read = super::sso::plan_enforcement(ctx, &mut reads, &email)?;
    let results = reads.run(ctx.store()).await?;
    limits.check(ctx, &results)?;
    let user: Option<UserRow> = results.first(user_read)?;
    // An enforced domain's answer does not depend on whether the account exists.
    super::sso::password_refusal(ctx, &email, user.as_ref(), results.first(sso_read)?)?;
    let accepted = crate::object!({ "status": "accepted" });
    let Some(user) = user else {
        return Ok(Reply::accepted(accepted));
    };
    let now = ctx.now();
    let user_id = user.id;
    let (mut batch, secret, expires) = new_emailed_token(
        ctx,
        user_id,
        TokenPurpose::PasswordReset,
        None,
        ctx.cfg.password_reset_ttl,
        now,
    )?;
    let mail = Outgoing::new(
        &user.email,
        MailContent::PasswordReset {
            first_name: user.first_name.clone(),
            link: link(&ctx.cfg.app_url, "reset-password", &secret),
            expires_at: expires.to_rfc3339(),
        },
    );
    batch.push(mail.outbox_row(ctx.store(), now)?);
    ctx.store().batch(batch).await?;
    ctx.enqueue_mail(vec![mail]).await;
    Ok(Reply::accepted(accepted))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResetBody {
    token: String,
    new_password: String,
}

pub async fn reset_password(ctx: &Ctx) -> ApiResult<Reply> {
    let body: ResetBody = ctx.json()?;
    rate_limit(ctx, "reset", None).await?;
    let (hash, _, user) = live_token(ctx, &body.token, TokenPurpose::PasswordReset).await?;
    rate_limit_account(ctx, "reset", &user.email).await?;
    super::sso::check_password_allowed(ctx, &user).await?;
    v::password(&body.new_password, Some(&user.email), v::common_passwords())
        .map_err(|m| ApiError::field("new_password", m))?;
    let new_hash = hash_password(&body.new_password)?;
    let now = ctx.now();
    let user_id = user.id;
    let was_locked = user.status == AccountStatus::Locked;
    let mut batch = store::tokens::consume(
        ctx.store(),
        &hash,
        TokenPurpose::PasswordReset,
        &ctx.request_id,
        now,
    )?;
    batch.push(store::users::reset_password(
        ctx.store(),
        user_id,
        &new_hash,
        now,
    )?);
    batch.push(store::sessions::end_all(
        ctx.store(),
        user_id,
        None,
        "password_reset",
        now,
    )?);
    batch.push(ctx.audit(
        &Event::account("user.password_reset", user_id, &user.email),
        now,
    )?);
    if was_locked {
        batch.push(ctx.audit(&Event::account("user.unlocked", user_id, &user.email), now)?);
    }
    ctx.store()
        .batch(batch)
        .await
        .map_err(|e| e.on_guard(ApiError::InvalidToken))?;
    Ok(Reply::no_content())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifyBody {
    token: String,
}

pub async fn verify_email(ctx: &Ctx) -> ApiResult<Reply> {
    let body: VerifyBody = ctx.json()?;
    rate_limit(ctx, "verify_email", None).await?;
    let (hash, row, user) = live_token(ctx, &body.token, TokenPurpose::EmailVerification).await?;
    let new_email = row.new_email.ok_or(ApiError::InvalidToken)?;
    let now = ctx.now();
    let user_id = user.id;
    let mut batch = store::tokens::consume(
        ctx.store(),
        &hash,
        TokenPurpose::EmailVerification,
        &ctx.request_id,
        now,
    )?;
    batch.push(store::users::apply_email_change(
        ctx.store(),
        user_id,
        &new_email,
        now,
    )?);
    batch.push(
        ctx.audit(
            &Event::account("user.email_changed", user_id, &new_email)
                .meta(crate::object!({ "from": user.email, "to": new_email })),
            now,
        )?,
    );
    // A unique-email conflict rolls the whole batch back: the token stays usable.
    ctx.store()
        .batch(batch)
        .await
        .map_err(|e| e.on_guard(ApiError::InvalidToken))?;
    let user = store::users::by_id(ctx.store(), user_id)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(Reply::ok(crate::object!({ "user": views::user(&user) })))
}
