//! The caller's own account: profile, password, email change, sessions, activity, deletion.

use serde::Deserialize;
use serde_json::{json, Value};

use super::views::{self, time};
use crate::domain::ids::{OrgId, SessionId};
use crate::domain::password::{self, Verification};
use crate::domain::roles::effective_workspace_role;
use crate::domain::token::TokenPurpose;
use crate::domain::validation::{self as v, FieldErrors};
use crate::error::{ApiError, ApiResult};
use crate::http::auth::{authenticate_with, Caller, PasswordChanger, Presented};
use crate::http::pagination::Page;
use crate::http::{Ctx, Reply};
use crate::mail::{link, MailContent, Outgoing};
use crate::store::audit::Event;
use crate::store::users::{ProfileChange, UserRow};
use crate::store::{self, orgs::MembershipRow, Ticket, Together};

crate::routes! {
    GET "/v1/me" => person [get];
    PATCH "/v1/me" => person patch;
    DELETE "/v1/me" => person delete;
    POST "/v1/me/password" => password_change change_password;
    POST "/v1/me/email" => person change_email;
    GET "/v1/me/sessions" => person sessions;
    DELETE "/v1/me/sessions/{session}" => person revoke_session;
    GET "/v1/me/activity" => person activity;
}

/// Groups membership rows into `[{org, role, workspaces}]` with effective workspace roles.
pub fn memberships(rows: &[MembershipRow]) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    let mut current: Option<(OrgId, Value, Vec<Value>)> = None;
    for row in rows {
        if current
            .as_ref()
            .map(|(id, _, _)| *id != row.org_id)
            .unwrap_or(true)
        {
            if let Some((_, mut entry, workspaces)) = current.take() {
                entry["workspaces"] = json!(workspaces);
                out.push(entry);
            }
            current = Some((
                row.org_id,
                crate::object!({"org": {"id": row.org_id, "name": row.org_name}, "role": row.role}),
                Vec::new(),
            ));
        }
        let (org_role, explicit) = (row.role, row.workspace_role);
        if let (Some((_, _, list)), Some(id), Some(name)) =
            (current.as_mut(), &row.workspace_id, &row.workspace_name)
        {
            if let Some(role) = effective_workspace_role(org_role, explicit) {
                list.push(crate::object!({"id": id, "name": name, "role": role}));
            }
        }
    }
    if let Some((_, mut entry, workspaces)) = current {
        entry["workspaces"] = json!(workspaces);
        out.push(entry);
    }
    out
}

/// What `GET /v1/me` shows: the account with its memberships.
fn profile(user: &UserRow, rows: &[MembershipRow]) -> Value {
    let mut body = views::user(user);
    body["memberships"] = json!(memberships(rows));
    body
}

/// The memberships are read in the session check's round trip (`authenticate_with`).
pub fn plan_get(
    ctx: &Ctx,
    who: Presented,
    reads: &mut Together,
) -> ApiResult<Option<Ticket<MembershipRow>>> {
    match who {
        Presented::Person(user) => Ok(Some(
            reads.add(store::orgs::memberships_stmt(ctx.store(), user)?),
        )),
        Presented::Other => Ok(None),
    }
}

/// `GET /v1/me`: the memberships read in the session check's round trip.
pub async fn get(ctx: &Ctx) -> ApiResult<Reply> {
    let a = authenticate_with(ctx, None, |who, reads| plan_get(ctx, who, reads)).await?;
    let caller = a.principal.person()?;
    let read = a
        .plan
        .ok_or_else(|| ApiError::internal("a person's memberships were not planned"))?;
    let rows: Vec<MembershipRow> = a.results.rows(read)?;
    Ok(Reply::ok(profile(caller.user(), &rows)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatchBody {
    #[serde(default, with = "crate::http::body::nullable")]
    first_name: Option<Option<String>>,
    #[serde(default, with = "crate::http::body::nullable")]
    last_name: Option<Option<String>>,
    /// `null` clears the number; E.164, or use `country_code` + `mobile_number`.
    #[serde(default, with = "crate::http::body::nullable")]
    phone: Option<Option<String>>,
    country_code: Option<String>,
    mobile_number: Option<String>,
}

pub async fn patch(ctx: &Ctx, caller: Caller) -> ApiResult<Reply> {
    let body: PatchBody = ctx.json()?;
    if caller.user().federated() && (body.first_name.is_some() || body.last_name.is_some()) {
        return Err(ApiError::FederatedAccount("your name"));
    }
    let mut errs = FieldErrors::default();
    // A name can be changed but not removed: an explicit null is refused.
    let first_name = errs.check_set("first_name", &body.first_name, v::name);
    let last_name = errs.check_set("last_name", &body.last_name, v::name);
    let phone: Option<Option<String>> = match (&body.phone, &body.country_code, &body.mobile_number)
    {
        (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
            errs.add("phone", "give either phone or country_code + mobile_number");
            None
        }
        (Some(None), None, None) => Some(None),
        (Some(Some(p)), None, None) => errs.check("phone", v::phone_e164(p)).map(Some),
        (None, Some(cc), Some(m)) => errs
            .check("mobile_number", v::phone_from_parts(cc, m))
            .map(Some),
        (None, Some(_), None) => {
            errs.add("mobile_number", "is required with country_code");
            None
        }
        (None, None, Some(_)) => {
            errs.add("country_code", "is required with mobile_number");
            None
        }
        (None, None, None) => None,
    };
    if !errs.is_empty() {
        return Err(ApiError::Validation(errs.0));
    }
    let now = ctx.now();
    let change = ProfileChange {
        first_name: first_name.as_deref(),
        last_name: last_name.as_deref(),
        phone: phone.as_ref().map(|p| p.as_deref()),
    };
    let fields: Vec<&str> = [
        change.first_name.map(|_| "first_name"),
        change.last_name.map(|_| "last_name"),
        change.phone.map(|_| "phone"),
    ]
    .into_iter()
    .flatten()
    .collect();
    if fields.is_empty() {
        let rows = store::orgs::memberships(ctx.store(), caller.user_id()).await?;
        return Ok(Reply::ok(profile(caller.user(), &rows)));
    }
    // The change and the profile it leaves (account and memberships), one round trip.
    let mut all = Together::default();
    all.extend(vec![
        store::users::update_profile(ctx.store(), caller.user_id(), &change, now)?,
        ctx.audit(
            &Event::account("user.updated", caller.user_id(), caller.email())
                .meta(crate::object!({ "fields": fields })),
            now,
        )?,
    ]);
    let user_read = all.add(store::users::by_id_stmt(ctx.store(), caller.user_id())?);
    let rows_read = all.add(store::orgs::memberships_stmt(
        ctx.store(),
        caller.user_id(),
    )?);
    let results = all.run(ctx.store()).await?;
    let user: UserRow = results.first(user_read)?.ok_or(ApiError::Unauthorized)?;
    let rows: Vec<MembershipRow> = results.rows(rows_read)?;
    Ok(Reply::ok(profile(&user, &rows)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangePasswordBody {
    current_password: String,
    new_password: String,
}

pub async fn change_password(ctx: &Ctx, changer: PasswordChanger) -> ApiResult<Reply> {
    let body: ChangePasswordBody = ctx.json()?;
    let (user_id, keep_session, change_token) = match &changer {
        PasswordChanger::Session(c) => (c.user_id(), Some(c.session_id()), None),
        PasswordChanger::ChangeToken(token) => {
            (token.user_id(), None, Some(token.token_hash().to_string()))
        }
    };
    let user = store::users::by_id(ctx.store(), user_id)
        .await?
        .ok_or(ApiError::Unauthorized)?;
    super::sso::check_password_allowed(ctx, &user).await?;
    let current_hash = user.password_hash.clone().unwrap_or_default();
    if password::verify(&body.current_password, &current_hash) == Verification::Mismatch {
        return Err(ApiError::field(
            "current_password",
            "is not your current password",
        ));
    }
    v::password(&body.new_password, Some(&user.email), v::common_passwords())
        .map_err(|m| ApiError::field("new_password", m))?;
    if body.new_password == body.current_password {
        return Err(ApiError::field(
            "new_password",
            "must differ from the current password",
        ));
    }
    let new_hash =
        password::hash(&body.new_password).map_err(|_| ApiError::internal("hashing failed"))?;
    let now = ctx.now();
    let mut batch = Vec::new();
    if let Some(token_hash) = &change_token {
        batch.extend(store::tokens::consume(
            ctx.store(),
            token_hash,
            TokenPurpose::PasswordChange,
            &ctx.request_id,
            now,
        )?);
    }
    batch.push(store::users::change_password(
        ctx.store(),
        user_id,
        &current_hash,
        &new_hash,
        now,
    )?);
    // A concurrent change of the same password loses instead of silently overwriting.
    batch.push(store::users::guard_password_is(
        ctx.store(),
        user_id,
        &new_hash,
    )?);
    batch.push(store::sessions::end_all(
        ctx.store(),
        user_id,
        keep_session,
        "password_changed",
        now,
    )?);
    batch.push(ctx.audit(
        &Event::account("user.password_changed", user_id, &user.email),
        now,
    )?);
    let mail = Outgoing::new(
        &user.email,
        MailContent::PasswordChanged {
            first_name: user.first_name.clone(),
        },
    );
    batch.push(mail.outbox_row(ctx.store(), now)?);
    ctx.store().batch(batch).await.map_err(|e| {
        e.on_guard(if change_token.is_some() {
            ApiError::Unauthorized
        } else {
            ApiError::conflict("conflict", "The password was changed concurrently; retry.")
        })
    })?;
    ctx.enqueue_mail(vec![mail]).await;
    Ok(Reply::no_content())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangeEmailBody {
    new_email: String,
    password: String,
}

pub async fn change_email(ctx: &Ctx, caller: Caller) -> ApiResult<Reply> {
    let body: ChangeEmailBody = ctx.json()?;
    let new_email =
        v::normalize_email(&body.new_email).map_err(|m| ApiError::field("new_email", m))?;
    let user = &caller.user();
    if password::verify(
        &body.password,
        user.password_hash.as_deref().unwrap_or_default(),
    ) == Verification::Mismatch
    {
        return Err(ApiError::field("password", "is not your current password"));
    }
    if new_email == user.email {
        return Err(ApiError::field(
            "new_email",
            "is already your email address",
        ));
    }
    if store::users::email_exists(ctx.store(), &new_email).await? {
        return Err(ApiError::conflict(
            "email_taken",
            "An account with this email already exists.",
        ));
    }
    let now = ctx.now();
    let secret = crate::domain::token::new_secret();
    let expires = now.plus_seconds(ctx.cfg.email_verification_ttl);
    let verification = Outgoing::new(
        &new_email,
        MailContent::EmailVerification {
            first_name: user.first_name.clone(),
            new_email: new_email.clone(),
            link: link(&ctx.cfg.app_url, "verify-email", &secret),
            expires_at: expires.to_rfc3339(),
        },
    );
    let notice = Outgoing::new(
        &user.email,
        MailContent::EmailChangeRequested {
            first_name: user.first_name.clone(),
            new_email: new_email.clone(),
        },
    );
    let hash = crate::domain::token::hash_secret(&secret);
    let batch = vec![
        store::tokens::revoke_unused(
            ctx.store(),
            caller.user_id(),
            TokenPurpose::EmailVerification,
            now,
        )?,
        store::tokens::insert(
            ctx.store(),
            &hash,
            caller.user_id(),
            TokenPurpose::EmailVerification,
            Some(&new_email),
            now,
            expires,
        )?,
        store::users::set_pending_email(ctx.store(), caller.user_id(), &new_email, now)?,
        ctx.audit(
            &Event::account("user.email_change_requested", caller.user_id(), &user.email)
                .meta(crate::object!({ "to": new_email })),
            now,
        )?,
        verification.outbox_row(ctx.store(), now)?,
        notice.outbox_row(ctx.store(), now)?,
    ];
    ctx.store().batch(batch).await?;
    ctx.enqueue_mail(vec![verification, notice]).await;
    Ok(Reply::accepted(
        crate::object!({ "pending_email": new_email }),
    ))
}

pub async fn sessions(ctx: &Ctx, caller: Caller) -> ApiResult<Reply> {
    let page = ctx.page()?;
    let rows = store::sessions::list_live(
        ctx.store(),
        caller.user_id(),
        ctx.now(),
        page.before_key(),
        page.fetch_limit(),
    )
    .await?;
    let page = Page::from_rows(rows, &page, |r| r.id);
    Ok(Reply::ok(page.render(|s| {
        crate::object!({
            "id": s.id,
            "current": s.id == caller.session_id(),
            "auth_method": s.auth_method,
            "ip": s.ip,
            "user_agent": s.user_agent,
            "created_at": time(s.created_at),
            "last_used_at": time(s.last_used_at),
            "expires_at": time(s.expires_at),
        })
    })))
}

pub async fn revoke_session(ctx: &Ctx, caller: Caller) -> ApiResult<Reply> {
    let session: SessionId = ctx.path_id("session")?;
    let now = ctx.now();
    let results = ctx
        .store()
        .batch(vec![
            store::sessions::end_own(ctx.store(), session, caller.user_id(), "revoked", now)?,
            ctx.audit(
                &Event {
                    target: Some(("session", session.to_string())),
                    ..Event::account("session.revoked", caller.user_id(), caller.email())
                }
                .meta(crate::object!({ "reason": "revoked" })),
                now,
            )?,
            // Someone else's or an already-ended session: nothing happened, roll back the event.
            store::sessions::guard_revoked_now(ctx.store(), session, caller.user_id(), now)?,
        ])
        .await
        .map_err(|e| e.on_guard(ApiError::NotFound))?;
    drop(results);
    Ok(Reply::no_content())
}

pub async fn activity(ctx: &Ctx, caller: Caller) -> ApiResult<Reply> {
    let page = ctx.page()?;
    let rows = store::audit::activity(
        ctx.store(),
        caller.user_id(),
        page.before_key(),
        page.fetch_limit(),
    )
    .await?;
    let page = Page::from_rows(rows, &page, |r| r.id.clone());
    Ok(Reply::ok(page.render(|e| {
        crate::object!({
            "id": e.id,
            "at": time(e.at),
            "action": e.action,
            "ip": e.ip,
            "user_agent": e.user_agent,
            "auth_method": e.auth_method,
            "success": e.success != 0,
        })
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeleteBody {
    password: String,
}

pub async fn delete(ctx: &Ctx, caller: Caller) -> ApiResult<Reply> {
    let body: DeleteBody = ctx.json()?;
    let user = &caller.user();
    if password::verify(
        &body.password,
        user.password_hash.as_deref().unwrap_or_default(),
    ) == Verification::Mismatch
    {
        return Err(ApiError::field("password", "is not your current password"));
    }
    // Owning an org with other members means the org would be left without an owner.
    let owned = store::users::owned_orgs(ctx.store(), caller.user_id()).await?;
    let shared: Vec<&str> = owned
        .iter()
        .filter(|o| o.other_members > 0)
        .map(|o| o.name.as_str())
        .collect();
    if !shared.is_empty() {
        return Err(ApiError::conflict(
            "last_owner",
            format!(
                "You own organizations with other members ({}); transfer ownership first.",
                shared.join(", ")
            ),
        ));
    }
    let now = ctx.now();
    let mut batch = Vec::new();
    for org in &owned {
        {
            let org_id = org.id;
            batch.push(
                ctx.audit(
                    &Event {
                        target: Some(("org", org.id.to_string())),
                        subject: None,
                        ..Event::account("org.deleted", caller.user_id(), caller.email())
                    }
                    .in_org(org_id),
                    now,
                )?,
            );
        }
    }
    batch.push(ctx.audit(
        &Event::account("user.deleted", caller.user_id(), caller.email()),
        now,
    )?);
    batch.extend(store::users::delete_with_solo_orgs(
        ctx.store(),
        caller.user_id(),
    )?);
    // If a member joined one of those orgs meanwhile, the user delete fails on the org's
    // owner reference and the whole batch rolls back.
    ctx.store().batch(batch).await.map_err(|e| match e {
        ApiError::Internal(m) if m.contains("FOREIGN KEY") => ApiError::conflict(
            "last_owner",
            "An organization you own gained members; transfer ownership first.",
        ),
        other => other,
    })?;
    Ok(Reply::no_content())
}
