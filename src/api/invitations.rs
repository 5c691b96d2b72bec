//! Invitations: the org's side (create, list, resend, withdraw), the link's side (preview,
//! accept) and the invitee's in-app inbox (list, accept, decline).

use serde::Deserialize;
use serde_json::{json, Value};

use super::auth::{start_session, token_hash, TokenDelivery};
use super::views::{opt_time, time};
use super::{acting, rate_limit, rate_limit_account, Limits};
use crate::domain::account::AccountStatus;
use crate::domain::ids::{InvitationId, UserId};
use crate::domain::invitation::{
    link_state, may_manage, InvitationStatus, LinkState, StatusFilter,
};
use crate::domain::password;
use crate::domain::roles::OrgRole;
use crate::domain::time::Timestamp;
use crate::domain::token::{hash_secret, new_secret};
use crate::domain::validation::{self as v, FieldErrors};
use crate::error::{ApiError, ApiResult};
use crate::http::access::OrgAccess;
use crate::http::auth::{authenticate, Caller};
use crate::http::pagination::Page;
use crate::http::{Ctx, Reply};
use crate::mail::{link, InvitationMail, MailContent, Outgoing};
use crate::ops::invitations::{Offer, Outcome};
use crate::ops::{self, newcomer};
use crate::store::audit::{Actor, Event};
use crate::store::invitations::{InvitationRow, InviteeStanding, Send};
use crate::store::users::{NewUser, UserRow};
use crate::store::{self, Stmt, Together};

crate::routes! {
    POST "/v1/orgs/{org}/invitations" => org(InviteUsers) create;
    POST "/v1/orgs/{org}/invitations/batch" => org(InviteUsers) create_batch;
    GET "/v1/orgs/{org}/invitations" => org(InviteUsers) list;
    GET "/v1/orgs/{org}/invitations/{invitation}" => org(InviteUsers) get;
    // Editors pass the gate; resend and withdraw then let them act only on their own
    // invitations (`domain::invitation::may_manage`).
    POST "/v1/orgs/{org}/invitations/{invitation}/resend" => org(InviteUsers) resend;
    DELETE "/v1/orgs/{org}/invitations/{invitation}" => org(InviteUsers) withdraw;
    GET "/v1/invitations/{token}" => public preview;
    POST "/v1/invitations/accept" => public accept;
    GET "/v1/me/invitations" => person inbox;
    POST "/v1/me/invitations/{invitation}/accept" => person inbox_accept;
    POST "/v1/me/invitations/{invitation}/decline" => person inbox_decline;
}

const MAX_MESSAGE: usize = 1000;

fn workspaces_json(row: &InvitationRow) -> Value {
    json!(row
        .workspace_list()
        .iter()
        .map(|w| crate::object!({"id": w.id, "name": w.name, "role": w.role}))
        .collect::<Vec<_>>())
}

/// The inviter as the invitee sees them (no id).
fn inviter_public(row: &InvitationRow) -> Value {
    match &row.inviter_email {
        Some(email) => crate::object!({
            "email": email,
            "first_name": row.inviter_first_name,
            "last_name": row.inviter_last_name,
        }),
        None => Value::Null,
    }
}

/// The invitation as the org sees it.
fn view(row: &InvitationRow, now: Timestamp) -> Value {
    let status = row.effective_status(now);
    let email_status = match row.outbox_status.as_deref() {
        Some("queued" | "sending") => json!("queued"),
        Some(s) => json!(s),
        None => Value::Null,
    };
    // Expired by time before the cron recorded it: it ended at its expiry.
    let ended_at = match (row.ended_at, status) {
        (None, InvitationStatus::Expired) => Some(row.expires_at),
        (ended, _) => ended,
    };
    crate::object!({
        "id": row.id,
        "org_id": row.org_id,
        "email": row.email,
        "role": row.role,
        "workspaces": workspaces_json(row),
        "groups": serde_json::from_str::<Value>(&row.groups).unwrap_or_else(|_| json!([])),
        "message": row.message,
        "invited_by": match (&row.invited_by, &row.inviter_email) {
            (Some(id), Some(email)) => crate::object!({
                "id": id,
                "email": email,
                "first_name": row.inviter_first_name,
                "last_name": row.inviter_last_name,
            }),
            _ => Value::Null,
        },
        "invited_by_token": match (&row.invited_by_token, &row.inviter_token_name) {
            (Some(id), Some(name)) => crate::object!({"id": id, "name": name}),
            _ => Value::Null,
        },
        "status": status.as_str(),
        "created_at": time(row.created_at),
        "expires_at": time(row.expires_at),
        "send_count": row.send_count,
        "last_sent_at": time(row.last_sent_at),
        "email_status": email_status,
        "ended_at": opt_time(ended_at),
    })
}

fn org_ref(row: &InvitationRow) -> Value {
    crate::object!({"id": row.org_id, "name": row.org_name})
}

/// The invitation as its invitee sees it (preview and inbox).
fn invitee_view(row: &InvitationRow) -> Value {
    crate::object!({
        "id": row.id,
        "org": org_ref(row),
        "email": row.email,
        "role": row.role,
        "workspaces": workspaces_json(row),
        "message": row.message,
        "invited_by": inviter_public(row),
        "created_at": time(row.created_at),
        "expires_at": time(row.expires_at),
    })
}

/// What accepting gives: the org, the role, the workspaces.
fn membership(row: &InvitationRow) -> Value {
    crate::object!({
        "org": org_ref(row),
        "role": row.role,
        "workspaces": workspaces_json(row),
    })
}

fn invitation_event(access: &OrgAccess, action: &'static str, id: &InvitationId) -> Event {
    access.event(action, ("invitation", id.to_string()))
}

fn not_pending() -> ApiError {
    ApiError::conflict(
        "conflict",
        "The invitation was already accepted, declined or withdrawn.",
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateBody {
    email: String,
    role: Option<String>,
    #[serde(default)]
    workspaces: Vec<newcomer::WorkspaceGrant>,
    #[serde(default)]
    groups: Vec<String>,
    message: Option<String>,
}

/// Invites someone by email with an org role and/or workspace roles; the invitation holds
/// a seat until it is answered, withdrawn or expires.
pub async fn create(ctx: &Ctx, access: OrgAccess) -> ApiResult<Reply> {
    let body: CreateBody = ctx.json()?;
    let mut errs = FieldErrors::default();
    let emails: Vec<String> = errs
        .check("email", v::normalize_email(&body.email))
        .into_iter()
        .collect();
    let offer = Asked {
        role: body.role.as_deref(),
        workspaces: &body.workspaces,
        groups: &body.groups,
        message: body.message.as_deref(),
    };
    let (outcomes, rows) = invite(ctx, &access, &emails, &offer, errs).await?;
    if let Some(refusal) = outcomes.first().and_then(|o| o.refusal()) {
        return Err(refusal);
    }
    let row = rows
        .into_iter()
        .next()
        .ok_or_else(|| ApiError::internal("invitation vanished after create"))?;
    Ok(Reply::created(view(&row, ctx.now())))
}

/// Emails one batch may invite.
const MAX_BATCH: usize = 20;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchBody {
    emails: Vec<String>,
    role: Option<String>,
    #[serde(default)]
    workspaces: Vec<newcomer::WorkspaceGrant>,
    #[serde(default)]
    groups: Vec<String>,
    message: Option<String>,
}

/// Invites several emails with the same offer in one request: a result per email, in the
/// order given. Members and emails with a pending invitation are reported and skipped (as
/// the single route's 409s would); everyone else is invited in one batch that takes their
/// seats together or not at all (`409 capacity_exceeded`, nothing sent), so the inviter,
/// not the order of the list, decides who is left out of a full org.
pub async fn create_batch(ctx: &Ctx, access: OrgAccess) -> ApiResult<Reply> {
    let body: BatchBody = ctx.json()?;
    let mut errs = FieldErrors::default();
    let mut emails: Vec<String> = Vec::new();
    if body.emails.is_empty() || body.emails.len() > MAX_BATCH {
        errs.add("emails", format!("give 1 to {MAX_BATCH} emails"));
    } else {
        for (i, raw) in body.emails.iter().enumerate() {
            let field = format!("emails[{i}]");
            match errs.check(&field, v::normalize_email(raw)) {
                Some(email) if emails.contains(&email) => errs.add(&field, "is listed already"),
                Some(email) => emails.push(email),
                None => {}
            }
        }
    }
    let offer = Asked {
        role: body.role.as_deref(),
        workspaces: &body.workspaces,
        groups: &body.groups,
        message: body.message.as_deref(),
    };
    let (outcomes, rows) = invite(ctx, &access, &emails, &offer, errs)
        .await
        .map_err(|e| match e {
            ApiError::Conflict {
                code: "invitation_exists",
                ..
            } => ApiError::conflict(
                "invitation_exists",
                "One of these emails was invited meanwhile by another request; nothing was sent. Try again.",
            ),
            other => other,
        })?;
    let now = ctx.now();
    let results: Vec<Value> = emails
        .iter()
        .zip(&outcomes)
        .map(|(email, outcome)| match outcome {
            Outcome::Invited(id) => crate::object!({
                "email": email,
                "result": "invited",
                "invitation": rows.iter().find(|r| r.id == *id).map(|r| view(r, now)),
            }),
            Outcome::AlreadyMember => crate::object!({
                "email": email,
                "result": "already_member",
            }),
            Outcome::InvitationExists(id) => crate::object!({
                "email": email,
                "result": "invitation_exists",
                "invitation_id": id,
            }),
        })
        .collect();
    Ok(Reply::ok(crate::object!({
        "results": results,
        "invited": rows.len(),
    })))
}

/// What an invitation offers, as both create routes take it.
struct Asked<'a> {
    role: Option<&'a str>,
    workspaces: &'a [newcomer::WorkspaceGrant],
    groups: &'a [String],
    message: Option<&'a str>,
}

/// Invites `emails` (normalised; their errors already in `errs`) with the offer `asked`:
/// validates it, reads everything the decision needs in one round trip (the rate-limit hits,
/// the workspaces, the groups, each email's standing, the free seats), and runs the
/// invitations' batch with their rows read back in it. The outcome of each email, in order,
/// and the rows of the invitations made.
async fn invite(
    ctx: &Ctx,
    access: &OrgAccess,
    emails: &[String],
    asked: &Asked<'_>,
    mut errs: FieldErrors,
) -> ApiResult<(Vec<Outcome>, Vec<InvitationRow>)> {
    let role = asked.role.map(|r| newcomer::org_role(r, &mut errs));
    let granted = newcomer::parse(asked.workspaces, &mut errs);
    let message = errs.check_optional("message", asked.message, |m| v::text(m, MAX_MESSAGE, false));
    if asked.role.is_none() && asked.workspaces.is_empty() {
        errs.add("role", "give a role, workspaces, or both");
    }
    if !errs.is_empty() {
        return Err(ApiError::Validation(errs.0));
    }
    // No role with workspaces: a workspace-only member.
    let role = role.flatten().unwrap_or(OrgRole::Member);
    newcomer::check_ceiling(access.role(), role, &granted)?;
    let emails: Vec<&str> = emails.iter().map(String::as_str).collect();
    let mut reads = Together::default();
    let limits = Limits::plan_each(ctx, &mut reads, "invite", &emails)?;
    let checks =
        newcomer::plan_newcomers(access.store(), &granted, asked.groups, &emails, &mut reads)?;
    let seats = reads.add(store::members::free_seats_stmt(access.store(), ctx.now())?);
    let results = reads.run(ctx.store()).await?;
    limits.check(ctx, &results)?;
    let (names, groups, standings) = checks.check_all(&results, &granted, role)?;
    let free_seats = results.first(seats)?.map_or(0, |s| s.free);
    let inviter_name = access.display_name();
    let invitees: Vec<(&str, &InviteeStanding)> = emails.iter().copied().zip(&standings).collect();
    let planned = ops::invitations::invite(
        &acting(ctx, access),
        &ctx.cfg,
        &Offer {
            role,
            workspaces: &granted,
            workspace_names: &names,
            groups: &groups,
            message: message.as_deref(),
            inviter_name: &inviter_name,
            org_name: &access.org().name,
        },
        &invitees,
        free_seats,
    )?;
    let invited = planned.invited();
    if invited.is_empty() {
        return Ok((planned.outcomes, Vec::new()));
    }
    // Seats (`capacity_exceeded`) and a concurrent invitation to one of the emails
    // (`invitation_exists`) fail the batch in D1 (store::map_d1_error).
    let mut write = Together::default();
    write.extend(planned.batch);
    let made = write.add(store::invitations::several_stmt(access.store(), &invited)?);
    let rows = write.run(ctx.store()).await?.rows(made)?;
    ctx.enqueue_mail(planned.mails).await;
    Ok((planned.outcomes, rows))
}

/// `?status=&limit=&cursor=`: newest first; the pending list by default.
pub async fn list(ctx: &Ctx, access: OrgAccess) -> ApiResult<Reply> {
    let page = ctx.page()?;
    let filter = StatusFilter::parse(ctx.query("status")).ok_or_else(|| {
        ApiError::field(
            "status",
            "must be one of pending, accepted, declined, withdrawn, expired, all",
        )
    })?;
    let now = ctx.now();
    let rows = store::invitations::page(
        access.store(),
        filter,
        now,
        page.before_key(),
        page.fetch_limit(),
    )
    .await?;
    let page = Page::from_rows(rows, &page, |r| r.id);
    Ok(Reply::ok(page.render(|r| view(r, now))))
}

/// The `{invitation}` of the path; an unparseable id is as unknown as a missing one.
fn invitation_param(ctx: &Ctx) -> ApiResult<InvitationId> {
    ctx.path_id("invitation")
}

/// The `{invitation}` of the path in the caller's org (404 otherwise).
async fn target(ctx: &Ctx, access: &OrgAccess) -> ApiResult<(InvitationId, InvitationRow)> {
    let id = invitation_param(ctx)?;
    let row = store::invitations::one(access.store(), id)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok((id, row))
}

/// The target, if the caller may resend or withdraw it: admins any, editors their own.
async fn managed_target(ctx: &Ctx, access: &OrgAccess) -> ApiResult<(InvitationId, InvitationRow)> {
    let (id, row) = target(ctx, access).await?;
    may_manage_row(access, &row)?;
    Ok((id, row))
}

fn may_manage_row(access: &OrgAccess, row: &InvitationRow) -> ApiResult<()> {
    let own = match (access.user_id(), access.token_id()) {
        (Some(user), _) => row.invited_by == Some(user),
        (None, Some(token)) => row.invited_by_token == Some(token),
        (None, None) => false,
    };
    if !may_manage(access.role(), own) {
        return Err(ApiError::Forbidden);
    }
    Ok(())
}

pub async fn get(ctx: &Ctx, access: OrgAccess) -> ApiResult<Reply> {
    let (_, row) = target(ctx, &access).await?;
    Ok(Reply::ok(view(&row, ctx.now())))
}

/// A new link and expiry (every older link dies) and a new email; revives an expired
/// invitation when a seat is free.
///
/// One round trip before the write: the invitation, the rate-limit hits (per IP and per
/// invited email) and whether the invitee joined meanwhile.
pub async fn resend(ctx: &Ctx, access: OrgAccess) -> ApiResult<Reply> {
    let id = invitation_param(ctx)?;
    let mut reads = Together::default();
    let target_read = reads.add(store::invitations::one_stmt(access.store(), id)?);
    let limits = Limits::plan_invitee(ctx, &mut reads, "invite", id)?;
    let member_read = reads.add(store::invitations::invitee_member_stmt(access.store(), id)?);
    let results = reads.run(ctx.store()).await?;
    let row: InvitationRow = results.first(target_read)?.ok_or(ApiError::NotFound)?;
    may_manage_row(&access, &row)?;
    let now = ctx.now();
    let status = row.effective_status(now);
    if !status.may_resend() {
        return Err(not_pending());
    }
    limits.check(ctx, &results)?;
    let joined: Option<store::invitations::InviteeMember> = results.first(member_read)?;
    if joined.is_some_and(|m| m.member != 0) {
        return Err(ApiError::conflict(
            "already_member",
            "The invitee has joined the organization meanwhile.",
        ));
    }
    let revive = status == InvitationStatus::Expired;
    let secret = new_secret();
    let expires = now.plus_seconds(ctx.cfg.invitation_ttl);
    let mail = Outgoing::new(
        &row.email,
        MailContent::Invitation(InvitationMail::for_invitation(
            &row,
            &access.display_name(),
            link(&ctx.cfg.app_url, "invitations/accept", &secret),
            expires,
        )),
    )
    .about("invitation", row.id.to_string());
    let mut batch = store::invitations::resend(
        access.store(),
        id,
        &Send {
            token_hash: &hash_secret(&secret),
            email_id: &mail.message.id,
            now,
            expires_at: expires,
            revive,
        },
    )?;
    batch.push(mail.outbox_row(ctx.store(), now)?);
    batch.push(ctx.audit(
        &invitation_event(&access, "invitation.resent", &row.id).meta(crate::object!({
            "email": row.email,
            "send_count": row.send_count + 1,
            "revived": revive,
        })),
        now,
    )?);
    let row: InvitationRow = ctx
        .store()
        .batch_then_first(batch, store::invitations::one_stmt(access.store(), id)?)
        .await
        .map_err(|e| e.on_guard(not_pending()))?
        .ok_or(ApiError::NotFound)?;
    ctx.enqueue_mail(vec![mail]).await;
    Ok(Reply::ok(view(&row, now)))
}

/// Withdraws a pending (or tidies away an expired) invitation: its links die, its seat frees.
pub async fn withdraw(ctx: &Ctx, access: OrgAccess) -> ApiResult<Reply> {
    let (id, row) = managed_target(ctx, &access).await?;
    let now = ctx.now();
    if !row.effective_status(now).may_withdraw() {
        return Err(not_pending());
    }
    let mut batch = store::invitations::withdraw(access.store(), id, &ctx.request_id, now)?;
    batch.push(
        ctx.audit(
            &invitation_event(&access, "invitation.withdrawn", &row.id)
                .meta(crate::object!({ "email": row.email })),
            now,
        )?,
    );
    ctx.store()
        .batch(batch)
        .await
        .map_err(|e| e.on_guard(not_pending()))?;
    Ok(Reply::no_content())
}

/// The invitation a presented link belongs to, if the link still works: unknown, replaced,
/// used, declined or withdrawn links are `invalid_token`, expired ones `token_expired`.
/// Rate-limited per IP before the lookup and per invited email after it.
async fn by_link(ctx: &Ctx, token: &str) -> ApiResult<InvitationRow> {
    rate_limit(ctx, "invitation", None).await?;
    let hash = token_hash(token)?;
    let row = store::invitations::by_link(ctx.store(), &hash)
        .await?
        .ok_or(ApiError::InvalidToken)?;
    rate_limit_account(ctx, "invitation", &row.email).await?;
    let status = row.effective_status(ctx.now());
    match link_state(status) {
        LinkState::Usable => Ok(row),
        LinkState::Expired => Err(ApiError::TokenExpired),
        LinkState::Dead => Err(ApiError::InvitationClosed(status)),
    }
}

/// The accept page's preview: who invites whom to what, until when, and whether the
/// invitee signs in (account exists) or signs up.
pub async fn preview(ctx: &Ctx) -> ApiResult<Reply> {
    let row = by_link(ctx, ctx.params.get("token")).await?;
    let mut body = invitee_view(&row);
    body["account_exists"] = json!(row.account_exists != 0);
    Ok(Reply::ok(body))
}

/// Joins `user` to the org of the invitation: the invitation leaves `pending` exactly once
/// (a racing request gets `lost`), the memberships are applied, the inviter is told.
/// `new_account` is the statement creating the user (it must follow the guard and precede
/// the memberships); `extra` goes into the same batch.
async fn join(
    ctx: &Ctx,
    row: &InvitationRow,
    user: UserId,
    user_email: &str,
    new_account: Option<Stmt>,
    extra: Vec<Stmt>,
    lost: ApiError,
) -> ApiResult<Value> {
    let accepted = ops::invitations::accept(
        ctx.store(),
        ctx.origin(),
        row,
        user,
        user_email,
        new_account,
        extra,
        &ctx.request_id,
        ctx.now(),
    )?;
    ctx.store()
        .batch(accepted.batch)
        .await
        .map_err(|e| e.on_guard(lost))?;
    ctx.enqueue_mail(accepted.mails).await;
    Ok(membership(row))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AcceptBody {
    token: String,
    password: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    /// For a new account, the web console's sign-in: the refresh token in the session
    /// cookie, not the body.
    #[serde(default)]
    session_cookie: bool,
}

/// Accepting through the emailed link. A new email gets an active account (the link proves
/// the address) and a session; an existing account must be the caller.
pub async fn accept(ctx: &Ctx) -> ApiResult<Reply> {
    let body: AcceptBody = ctx.json()?;
    let delivery = TokenDelivery::asked(ctx, body.session_cookie)?;
    let row = by_link(ctx, &body.token).await?;
    let existing = store::users::by_email(ctx.store(), &row.email).await?;
    if let Some(user) = existing {
        let mut errs = FieldErrors::default();
        for (field, given) in [
            ("password", body.password.is_some()),
            ("first_name", body.first_name.is_some()),
            ("last_name", body.last_name.is_some()),
            // No session starts here: the caller already has one.
            ("session_cookie", body.session_cookie),
        ] {
            if given {
                errs.add(
                    field,
                    "an account with this email exists: sign in and accept with its access token",
                );
            }
        }
        if !errs.is_empty() {
            return Err(ApiError::Validation(errs.0));
        }
        let caller = authenticate(ctx).await?.person()?;
        if caller.user_id() != user.id {
            return Err(ApiError::Forbidden);
        }
        // Following the link proves the address too.
        let verify = store::users::mark_email_verified(ctx.store(), caller.user_id(), &row.email)?;
        let membership = join(
            ctx,
            &row,
            caller.user_id(),
            caller.email(),
            None,
            vec![verify],
            ApiError::InvalidToken,
        )
        .await?;
        return Ok(Reply::ok(crate::object!({ "membership": membership })));
    }

    let common = v::common_passwords();
    let mut errs = FieldErrors::default();
    let required = |v: &Option<String>| v.clone().ok_or_else(|| "is required".to_string());
    let password = errs.check(
        "password",
        required(&body.password).and_then(|p| v::password(&p, Some(&row.email), common).map(|_| p)),
    );
    let first_name = errs.check(
        "first_name",
        required(&body.first_name).and_then(|n| v::name(&n)),
    );
    let last_name = errs.check(
        "last_name",
        required(&body.last_name).and_then(|n| v::name(&n)),
    );
    let (Some(password), Some(first_name), Some(last_name), true) =
        (password, first_name, last_name, errs.is_empty())
    else {
        return Err(ApiError::Validation(errs.0));
    };
    let hash = password::hash(&password).map_err(|_| ApiError::internal("hashing failed"))?;
    let now = ctx.now();
    let user_id = UserId::new();
    let insert = store::users::insert(
        ctx.store(),
        &NewUser {
            id: user_id,
            email: &row.email,
            first_name: &first_name,
            last_name: &last_name,
            phone: None,
            password_hash: Some(&hash),
            status: AccountStatus::Active,
            email_verified: true,
            created_by_org: None,
            must_change_password: false,
            now,
        },
    )?;
    let account = UserRow {
        id: user_id,
        email: row.email.clone(),
        first_name,
        last_name,
        phone: None,
        password_hash: Some(hash),
        must_change_password: 0,
        status: AccountStatus::Active,
        email_verified: 1,
        pending_email: None,
        failed_logins: 0,
        created_at: now.millis(),
        last_login_at: Some(now.millis()),
        federated_by: None,
    };
    let login = start_session(ctx, &account, "password", delivery, now).await?;
    let mut extra = login.stmts;
    extra.push(store::users::record_successful_login(
        ctx.store(),
        user_id,
        None,
        now,
    )?);
    let via = crate::object!({ "via": "invitation", "org_id": row.org_id });
    extra.push(ctx.audit(
        &Event::account("user.signed_up", user_id, &row.email).meta(via.clone()),
        now,
    )?);
    extra.push(
        ctx.audit(
            &Event::account("user.login_succeeded", user_id, &row.email)
                .method("password")
                .meta(via),
            now,
        )?,
    );
    let membership = join(
        ctx,
        &row,
        user_id,
        &row.email,
        Some(insert),
        extra,
        ApiError::InvalidToken,
    )
    .await?;
    let mut tokens = login.tokens;
    tokens.body["membership"] = membership;
    Ok(tokens.reply(201))
}

/// Pending invitations to the caller's email, once that email is verified (an unverified
/// address proves nothing about who reads its mail).
pub async fn inbox(ctx: &Ctx, caller: Caller) -> ApiResult<Reply> {
    let page = ctx.page()?;
    let rows = if caller.user().email_verified == 0 {
        Vec::new()
    } else {
        store::invitations::inbox(
            ctx.store(),
            caller.email(),
            ctx.now(),
            page.before_key(),
            page.fetch_limit(),
        )
        .await?
    };
    let page = Page::from_rows(rows, &page, |r| r.id);
    Ok(Reply::ok(page.render(invitee_view)))
}

/// The `{invitation}` of the path if it is pending and addressed to the caller's verified
/// email: 404 otherwise, 410 once expired.
async fn inbox_target(ctx: &Ctx, caller: &Caller) -> ApiResult<(InvitationId, InvitationRow)> {
    let id = invitation_param(ctx)?;
    if caller.user().email_verified == 0 {
        return Err(ApiError::NotFound);
    }
    let row = store::invitations::addressed_to(ctx.store(), id, caller.email())
        .await?
        .ok_or(ApiError::NotFound)?;
    match row.effective_status(ctx.now()) {
        InvitationStatus::Pending => Ok((id, row)),
        InvitationStatus::Expired => Err(ApiError::TokenExpired),
        _ => Err(ApiError::NotFound),
    }
}

pub async fn inbox_accept(ctx: &Ctx, caller: Caller) -> ApiResult<Reply> {
    let (_, row) = inbox_target(ctx, &caller).await?;
    let membership = join(
        ctx,
        &row,
        caller.user_id(),
        caller.email(),
        None,
        Vec::new(),
        ApiError::NotFound,
    )
    .await?;
    Ok(Reply::ok(crate::object!({ "membership": membership })))
}

pub async fn inbox_decline(ctx: &Ctx, caller: Caller) -> ApiResult<Reply> {
    let (id, row) = inbox_target(ctx, &caller).await?;
    let org = row.org_id;
    let now = ctx.now();
    let mut batch = store::invitations::decline(ctx.store(), id, &ctx.request_id, now)?;
    batch.push(ctx.audit(
        &Event::by(
            org,
            Actor::user(caller.user_id(), caller.email()),
            "invitation.declined",
            ("invitation", row.id.to_string()),
        ),
        now,
    )?);
    ctx.store()
        .batch(batch)
        .await
        .map_err(|e| e.on_guard(ApiError::NotFound))?;
    Ok(Reply::no_content())
}
