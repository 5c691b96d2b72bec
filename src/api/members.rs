//! The org's member directory, role changes and removal.

use std::rc::Rc;

use serde::Deserialize;
use serde_json::{json, Value};

use super::acting;
use crate::domain::account::AccountStatus;
use crate::domain::ids::UserId;
use crate::domain::password;
use crate::domain::permissions::{may_grant, org_allows, OrgAction};
use crate::domain::roles::OrgRole;
use crate::domain::token::{generate_password, hash_secret, new_secret, TokenPurpose};
use crate::domain::validation::{self as v, FieldErrors};
use crate::error::{refusal_first, ApiError, ApiResult};
use crate::http::access::{org_access, org_access_with, OrgAccess};
use crate::http::pagination::{Page, PageRequest};
use crate::http::{Ctx, Reply};
use crate::mail::{link, MailContent, Outgoing};
use crate::ops::members::{Credential, NewMember};
use crate::ops::{self, newcomer};
use crate::store::audit::Event;
use crate::store::members::{CachedPage, MemberRow, PageQuery, RenderedMember};
use crate::store::users::ProfileChange;
use crate::store::users::UserRow;
use crate::store::{self, OrgStore, Results, Stmt, Ticket, Together};

crate::routes! {
    GET "/v1/orgs/{org}/members" => org(ViewDirectory) [list];
    GET "/v1/orgs/{org}/members/{user}" => org(ViewDirectory) [get];
    POST "/v1/orgs/{org}/members/{user}/resend-activation" => org(AdminAccountActions) resend_activation;
    POST "/v1/orgs/{org}/members/{user}/reset-password" => org(AdminAccountActions) reset_password;
    DELETE "/v1/orgs/{org}/users/{user}" => org(AdminAccountActions) delete_account;
    POST "/v1/orgs/{org}/members" => org(InviteUsers) create;
    PATCH "/v1/orgs/{org}/members/{user}" => org(ChangeRolesAndRemoveMembers) patch;
    DELETE "/v1/orgs/{org}/members/{user}" => org(ChangeRolesAndRemoveMembers) remove;
}

const MAX_QUERY: usize = 100;

/// `?role=&q=&limit=&cursor=` of the directory, validated before anything is read.
pub struct ListQuery {
    page: PageRequest,
    select: PageQuery,
}

pub fn parse_list(ctx: &Ctx) -> ApiResult<ListQuery> {
    let page = ctx.page()?;
    let role = match ctx.filter_param("role") {
        None => None,
        Some(r) => Some(OrgRole::parse(r).ok_or_else(|| {
            ApiError::field(
                "role",
                "must be one of owner, admin, editor, viewer, member",
            )
        })?),
    };
    let q = match ctx.query("q").map(str::trim) {
        None | Some("") => None,
        Some(q) if q.chars().count() > MAX_QUERY => {
            return Err(ApiError::field(
                "q",
                format!("must be at most {MAX_QUERY} characters"),
            ))
        }
        Some(q) => Some(q.to_lowercase()),
    };
    let select = PageQuery {
        role,
        q,
        after: page.after_key().to_string(),
        limit: page.fetch_limit(),
    };
    Ok(ListQuery { page, select })
}

/// The page's read, planned into the gate's round trip (`org_access_with`). A page this
/// isolate holds adds no statement at all: the gate's org row carries the directory
/// version, and that decides whether the held page is still the directory.
pub enum ListPlan {
    /// The page this isolate holds for the query, to send if the version is still its own.
    Held(CachedPage),
    /// The page statement's place in the gate's batch.
    Read(Ticket<RenderedMember>),
}

pub fn plan_list(query: &ListQuery, org: &OrgStore, reads: &mut Together) -> ApiResult<ListPlan> {
    Ok(
        match store::members::cached_page(org.org(), &query.select) {
            Some(held) => ListPlan::Held(held),
            None => ListPlan::Read(reads.add(store::members::page_stmt(org, &query.select)?)),
        },
    )
}

/// Every user of the org, workspace-only members included. The members arrive rendered
/// (`store::members::page_stmt`) and are written out as they are. A page the isolate
/// rendered at the directory version the gate just read is sent again without reading it:
/// one round trip, one statement. A page the isolate does not hold is read in the gate's
/// round trip; a held page that the directory has moved past is read again in a second one.
pub async fn list(ctx: &Ctx, action: OrgAction) -> ApiResult<Reply> {
    // A bad query still passes the gate first: 401/404/403 before 422.
    let query = refusal_first(parse_list(ctx), org_access(ctx, action)).await?;
    let (access, plan, results) =
        org_access_with(ctx, action, |org, reads| plan_list(&query, org, reads)).await?;
    send_page(ctx, access, query, plan, results).await
}

async fn send_page(
    ctx: &Ctx,
    access: OrgAccess,
    query: ListQuery,
    plan: ListPlan,
    results: Results,
) -> ApiResult<Reply> {
    let version = access.org().directory_version;
    let rows: Vec<RenderedMember> = match plan {
        ListPlan::Held(held) if held.version == version => {
            return Ok(Reply::ok_rendered(held.body.to_string()));
        }
        ListPlan::Held(_) => {
            let stmt = store::members::page_stmt(access.store(), &query.select)?;
            ctx.store().all_of(stmt).await?
        }
        ListPlan::Read(i) => results.rows(i)?,
    };
    let page = Page::from_rows(rows, &query.page, |m| m.user_id.clone());
    let body = page.render_text(|m| &m.view);
    // Kept under the version the gate read. A page read in the second round trip is at
    // least that new; versions only grow, so if the directory changed in between, the next
    // gate reads a newer version and this page is not served again.
    store::members::keep_page(
        access.org_id(),
        &query.select,
        CachedPage {
            version,
            body: Rc::from(body.as_str()),
        },
    );
    Ok(Reply::ok_rendered(body))
}

/// One member as the directory shows them (a person's page opens by id, from a link or a
/// reload, and needs no page of the directory), read in the gate's round trip. The caller
/// may read themself: this is the directory, not an admin action.
pub async fn get(ctx: &Ctx, action: OrgAction) -> ApiResult<Reply> {
    // An id that cannot be one is as unknown as a missing member, after the gate's own
    // refusals (401, 404, 403).
    let user: UserId = refusal_first(ctx.path_id("user"), org_access(ctx, action)).await?;
    let (_, read, results) = org_access_with(ctx, action, |org, reads| {
        Ok(reads.add(store::members::view_stmt(org, user)?))
    })
    .await?;
    let member = store::members::read_view(&results, read)?.ok_or(ApiError::NotFound)?;
    Ok(Reply::ok(member))
}

/// Runs the change `batch` and reads the member as the directory shows them after it, in
/// the same round trip.
async fn change_then_view(
    ctx: &Ctx,
    access: &OrgAccess,
    user: UserId,
    batch: Vec<Stmt>,
) -> ApiResult<Value> {
    let mut all = Together::default();
    all.extend(batch);
    let read = all.add(store::members::view_stmt(access.store(), user)?);
    let results = all.run(ctx.store()).await?;
    store::members::read_view(&results, read)?.ok_or(ApiError::NotFound)
}

/// The member named by `{user}`, who must not be the caller.
async fn target(ctx: &Ctx, access: &OrgAccess) -> ApiResult<(UserId, MemberRow)> {
    let user = access.other_user(ctx)?;
    let member = store::members::one(access.store(), user)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok((user, member))
}

fn member_event(access: &OrgAccess, action: &'static str, user: UserId) -> Event {
    access.event(action, ("user", user.to_string()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatchBody {
    role: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    phone: Option<String>,
}

pub async fn patch(ctx: &Ctx, access: OrgAccess) -> ApiResult<Reply> {
    let body: PatchBody = ctx.json()?;
    let (user, member) = target(ctx, &access).await?;
    let mut errs = FieldErrors::default();
    let role = match body.role.as_deref() {
        None => None,
        Some(r) => match OrgRole::parse(r) {
            Some(OrgRole::Owner) => {
                errs.add("role", "ownership changes only by transfer");
                None
            }
            Some(role) => Some(role),
            None => {
                errs.add("role", "must be one of admin, editor, viewer, member");
                None
            }
        },
    };
    let first_name = body
        .first_name
        .as_deref()
        .and_then(|n| errs.check("first_name", v::name(n)));
    let last_name = body
        .last_name
        .as_deref()
        .and_then(|n| errs.check("last_name", v::name(n)));
    let phone = body
        .phone
        .as_deref()
        .and_then(|p| errs.check("phone", v::phone_e164(p)));
    if !errs.is_empty() {
        return Err(ApiError::Validation(errs.0));
    }
    if member.role == OrgRole::Owner && role.is_some() {
        return Err(ApiError::conflict(
            "last_owner",
            "The owner's role changes only by transferring ownership.",
        ));
    }
    if role.is_some_and(|r| !may_grant(access.role(), r)) {
        return Err(ApiError::Forbidden);
    }
    if role.is_some_and(|r| r.at_least(OrgRole::Admin))
        && store::groups::is_restricted(access.store(), user).await?
    {
        return Err(ApiError::field(
            "role",
            "the member is in a restricting group; owners and admins can never be",
        ));
    }
    if member.federated != 0 && (first_name.is_some() || last_name.is_some()) {
        return Err(ApiError::FederatedAccount("the person's name"));
    }
    let details = first_name.is_some() || last_name.is_some() || phone.is_some();
    // Details belong to the person; an org edits them only for accounts it created.
    if details && member.managed == 0 {
        return Err(ApiError::Forbidden);
    }
    let now = ctx.now();
    let mut batch = Vec::new();
    if let Some(role) = role {
        if role != member.role {
            batch.push(store::members::set_role(access.store(), user, role)?);
            batch.push(
                ctx.audit(
                    &member_event(&access, "member.role_changed", user)
                        .meta(crate::object!({"from": member.role, "to": role})),
                    now,
                )?,
            );
        }
    }
    if details {
        let change = ProfileChange {
            first_name: first_name.as_deref(),
            last_name: last_name.as_deref(),
            phone: phone.as_deref().map(Some),
        };
        batch.push(store::users::update_profile(
            ctx.store(),
            user,
            &change,
            now,
        )?);
        batch.push(ctx.audit(&member_event(&access, "user.updated", user), now)?);
    }
    if !batch.is_empty() {
        // Compare-and-set: the member still holds the role this request read. A concurrent
        // removal or role change fails the batch (no half change, no stray event).
        batch.insert(
            0,
            store::members::role_still(access.store(), user, member.role)?,
        );
    }
    match change_then_view(ctx, &access, user, batch).await {
        Err(ApiError::GuardFailed) => match store::members::one(access.store(), user).await? {
            None => Err(ApiError::NotFound),
            Some(_) => Err(ApiError::conflict(
                "conflict",
                "The member changed concurrently; read it again and retry.",
            )),
        },
        other => Ok(Reply::ok(other?)),
    }
}

pub async fn remove(ctx: &Ctx, access: OrgAccess) -> ApiResult<Reply> {
    let (user, member) = target(ctx, &access).await?;
    let batch = ops::members::remove(
        &acting(ctx, &access),
        user,
        member.role,
        member.federated != 0,
    )?;
    ctx.store()
        .batch(batch)
        .await
        .map_err(|e| e.on_guard(ApiError::NotFound))?;
    Ok(Reply::no_content())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateBody {
    email: String,
    first_name: String,
    last_name: String,
    phone: Option<String>,
    country_code: Option<String>,
    mobile_number: Option<String>,
    role: String,
    #[serde(default)]
    workspaces: Vec<newcomer::WorkspaceGrant>,
    #[serde(default)]
    groups: Vec<String>,
    credential: String,
    password: Option<String>,
}

/// An admin (or editor, up to editor) creates an account in the org: with an activation
/// link, or with a single-use password returned once. An email that already has an
/// account is added as a member instead.
pub async fn create(ctx: &Ctx, access: OrgAccess) -> ApiResult<Reply> {
    let body: CreateBody = ctx.json()?;
    let common = v::common_passwords();
    let mut errs = FieldErrors::default();
    let email = errs.check("email", v::normalize_email(&body.email));
    let first_name = errs.check("first_name", v::name(&body.first_name));
    let last_name = errs.check("last_name", v::name(&body.last_name));
    let phone = match (&body.phone, &body.country_code, &body.mobile_number) {
        (Some(p), None, None) => errs.check("phone", v::phone_e164(p)),
        (None, Some(cc), Some(m)) => errs.check("mobile_number", v::phone_from_parts(cc, m)),
        (None, None, None) => None,
        _ => {
            errs.add("phone", "give either phone or country_code + mobile_number");
            None
        }
    };
    let role = newcomer::org_role(&body.role, &mut errs);
    let credential = match body.credential.as_str() {
        "activation_email" => Some(Credential::ActivationEmail),
        "single_use_password" => Some(Credential::SingleUsePassword(body.password.clone())),
        _ => {
            errs.add(
                "credential",
                "must be activation_email or single_use_password",
            );
            None
        }
    };
    if body.password.is_some() && !matches!(credential, Some(Credential::SingleUsePassword(_))) {
        errs.add("password", "is only for credential single_use_password");
    }
    if let Some(p) = &body.password {
        errs.check("password", v::password(p, email.as_deref(), common));
    }
    let granted = newcomer::parse(&body.workspaces, &mut errs);
    let (Some(email), Some(first_name), Some(last_name), Some(role), Some(credential), true) = (
        email,
        first_name,
        last_name,
        role,
        credential,
        errs.is_empty(),
    ) else {
        return Err(ApiError::Validation(errs.0));
    };
    newcomer::check_ceiling(access.role(), role, &granted)?;
    // Single-use passwords are an admin action.
    if matches!(credential, Credential::SingleUsePassword(_))
        && !org_allows(access.role(), OrgAction::AdminAccountActions)
    {
        return Err(ApiError::Forbidden);
    }
    // Every check before the write in one round trip: the workspaces, the groups, and where
    // the email stands with the org (an account? a member? a pending invitation?).
    let mut reads = Together::default();
    let checks =
        newcomer::plan_newcomer(access.store(), &granted, &body.groups, &email, &mut reads)?;
    let results = reads.run(ctx.store()).await?;
    let (_, groups, standing) = checks.check(&results, &granted, role)?;
    let created = ops::members::create(
        &acting(ctx, &access),
        &ctx.cfg,
        NewMember {
            email: &email,
            first_name: &first_name,
            last_name: &last_name,
            phone: phone.as_deref(),
            role,
            workspaces: &granted,
            groups: &groups,
            credential,
        },
        &standing,
    )?;
    let mut body = change_then_view(ctx, &access, created.user, created.batch)
        .await
        .map_err(|e| match e {
            ApiError::Conflict {
                code: "email_taken",
                ..
            } => ApiError::conflict(
                "conflict",
                "An account with this email was created concurrently; retry.",
            ),
            other => other,
        })?;
    ctx.enqueue_mail(created.mails).await;
    body["created_account"] = json!(created.created_account);
    if let Some(p) = created.single_use_password {
        body["single_use_password"] = json!(p);
    }
    Ok(Reply::created(body))
}

/// The managed account named by `{user}`: a member of this org that this org created.
/// Another org's (or a self-registered) account is not this org's to administer: 403.
/// The membership and the account are read in one round trip.
async fn managed_target(ctx: &Ctx, access: &OrgAccess) -> ApiResult<(UserId, MemberRow, UserRow)> {
    let user = access.other_user(ctx)?;
    let mut reads = Together::default();
    let member_read = reads.add(store::members::one_stmt(access.store(), user)?);
    let account_read = reads.add(store::users::by_id_stmt(ctx.store(), user)?);
    let results = reads.run(ctx.store()).await?;
    let member: MemberRow = results.first(member_read)?.ok_or(ApiError::NotFound)?;
    if member.managed == 0 {
        return Err(ApiError::Forbidden);
    }
    let account: UserRow = results.first(account_read)?.ok_or(ApiError::NotFound)?;
    Ok((user, member, account))
}

/// A new activation link for a pending managed account; the previous link dies.
pub async fn resend_activation(ctx: &Ctx, access: OrgAccess) -> ApiResult<Reply> {
    let (user, _, account) = managed_target(ctx, &access).await?;
    if account.status != AccountStatus::Pending {
        return Err(ApiError::conflict(
            "conflict",
            "The account is already activated.",
        ));
    }
    let now = ctx.now();
    let secret = new_secret();
    let expires = now.plus_seconds(ctx.cfg.activation_ttl);
    let mail = Outgoing::new(
        &account.email,
        MailContent::Activation {
            first_name: account.first_name.clone(),
            link: link(&ctx.cfg.app_url, "activate", &secret),
            expires_at: expires.to_rfc3339(),
        },
    );
    ctx.store()
        .batch(vec![
            store::tokens::revoke_unused(ctx.store(), user, TokenPurpose::Activation, now)?,
            store::tokens::insert(
                ctx.store(),
                &hash_secret(&secret),
                user,
                TokenPurpose::Activation,
                None,
                now,
                expires,
            )?,
            mail.outbox_row(ctx.store(), now)?,
            ctx.audit(
                &member_event(&access, "member.activation_resent", user),
                now,
            )?,
        ])
        .await?;
    ctx.enqueue_mail(vec![mail]).await;
    Ok(Reply::accepted(
        crate::object!({ "status": "accepted", "expires_at": expires }),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminResetBody {
    mode: String,
}

/// An admin reset of a managed account: every session ends now. `single_use_password`
/// sets a generated password (returned once, to be changed at the next login) and unlocks;
/// `email` sends a reset link, and using it unlocks.
pub async fn reset_password(ctx: &Ctx, access: OrgAccess) -> ApiResult<Reply> {
    let body: AdminResetBody = ctx.json()?;
    let (user, _, account) = managed_target(ctx, &access).await?;
    if account.federated() {
        return Err(ApiError::FederatedAccount("the person's sign-in"));
    }
    let now = ctx.now();
    let was_locked = account.status == AccountStatus::Locked;
    let event =
        |action| member_event(&access, action, user).meta(crate::object!({ "mode": body.mode }));
    match body.mode.as_str() {
        "single_use_password" => {
            let password = generate_password();
            let hash =
                password::hash(&password).map_err(|_| ApiError::internal("hashing failed"))?;
            let mut batch = vec![
                store::users::set_single_use_password(ctx.store(), user, &hash, now)?,
                store::sessions::end_all(ctx.store(), user, None, "admin_reset", now)?,
                store::tokens::revoke_unused(ctx.store(), user, TokenPurpose::PasswordReset, now)?,
                ctx.audit(&event("user.password_reset"), now)?,
            ];
            if was_locked {
                batch.push(ctx.audit(&event("user.unlocked"), now)?);
            }
            ctx.store().batch(batch).await?;
            Ok(Reply::ok(
                crate::object!({ "single_use_password": password }),
            ))
        }
        "email" => {
            let secret = new_secret();
            let expires = now.plus_seconds(ctx.cfg.password_reset_ttl);
            let mail = Outgoing::new(
                &account.email,
                MailContent::PasswordReset {
                    first_name: account.first_name.clone(),
                    link: link(&ctx.cfg.app_url, "reset-password", &secret),
                    expires_at: expires.to_rfc3339(),
                },
            );
            ctx.store()
                .batch(vec![
                    store::sessions::end_all(ctx.store(), user, None, "admin_reset", now)?,
                    store::tokens::revoke_unused(
                        ctx.store(),
                        user,
                        TokenPurpose::PasswordReset,
                        now,
                    )?,
                    store::tokens::insert(
                        ctx.store(),
                        &hash_secret(&secret),
                        user,
                        TokenPurpose::PasswordReset,
                        None,
                        now,
                        expires,
                    )?,
                    mail.outbox_row(ctx.store(), now)?,
                    ctx.audit(&event("user.password_reset_requested"), now)?,
                ])
                .await?;
            ctx.enqueue_mail(vec![mail]).await;
            Ok(Reply::accepted(
                crate::object!({ "status": "accepted", "expires_at": expires }),
            ))
        }
        _ => Err(ApiError::field(
            "mode",
            "must be email or single_use_password",
        )),
    }
}

/// Deletes a managed account for good: created by this org and a member of no other.
pub async fn delete_account(ctx: &Ctx, access: OrgAccess) -> ApiResult<Reply> {
    let (user, member, account) = managed_target(ctx, &access).await?;
    if member.role == OrgRole::Owner {
        return Err(ApiError::conflict(
            "last_owner",
            "The owner's account cannot be deleted here; transfer ownership first.",
        ));
    }
    // The identity provider keeps a federated person: deleting only revokes their access
    // here (membership and sessions), as removing them does.
    if account.federated() {
        let batch = ops::members::remove(&acting(ctx, &access), user, member.role, true)?;
        ctx.store()
            .batch(batch)
            .await
            .map_err(|e| e.on_guard(ApiError::NotFound))?;
        return Ok(Reply::no_content());
    }
    let now = ctx.now();
    let mut batch = vec![
        // The account must still belong to this org alone when the batch runs.
        store::members::guard_belongs_to_this_org_alone(access.store(), user)?,
        ctx.audit(
            &member_event(&access, "user.deleted", user)
                .meta(crate::object!({ "email": account.email })),
            now,
        )?,
    ];
    batch.extend(store::users::delete(ctx.store(), user)?);
    ctx.store().batch(batch).await.map_err(|e| {
        e.on_guard(ApiError::conflict(
            "conflict",
            "The account belongs to another organization too; remove it from this one instead.",
        ))
    })?;
    Ok(Reply::no_content())
}
