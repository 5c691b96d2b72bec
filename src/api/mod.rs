//! Handlers, one module per resource, and the dispatcher that gives each its principal.

pub mod access_grants;
pub mod api_tokens;
pub mod audit;
pub mod auth;
pub mod authz;
pub mod grants;
pub mod groups;
pub mod invitations;
pub mod me;
pub mod members;
pub mod operator;
pub mod orgs;
pub mod platform;
pub mod views;
pub mod workspaces;

use crate::domain::permissions::OrgAction;
use crate::error::{refusal_first, ApiError, ApiResult};
use crate::http::access::{org_access, org_access_with, OrgAccess};
use crate::http::auth::{
    authenticate, authenticate_operator, authenticate_password_change, authenticate_presence_with,
    authenticate_principal, authenticate_with,
};
use crate::http::router::Route;
use crate::http::{Ctx, Reply};
use crate::mail::{MailMessage, Outgoing};
use crate::store::{self, Results, Together};

/// Every route's handler, with the authentication it requires resolved first: a handler
/// that needs a caller takes one, so it cannot run unauthenticated.
pub async fn dispatch(route: Route, ctx: &Ctx) -> ApiResult<Reply> {
    match route {
        Route::Health => platform::health(ctx).await,
        Route::Ready => platform::ready(ctx).await,
        Route::OpenApi => platform::openapi(ctx).await,
        Route::Jwks => platform::jwks(ctx).await,
        Route::DevMailbox => platform::dev_mailbox(ctx).await,
        Route::Signup => auth::signup(ctx).await,
        Route::Activate => auth::activate(ctx).await,
        Route::Login => auth::login(ctx).await,
        Route::Refresh => auth::refresh(ctx).await,
        Route::Logout => auth::logout(ctx).await,
        Route::LogoutAll => auth::logout_all(ctx, authenticate(ctx).await?).await,
        Route::ForgotPassword => auth::forgot_password(ctx).await,
        Route::ResetPassword => auth::reset_password(ctx).await,
        Route::VerifyEmail => auth::verify_email(ctx).await,
        Route::GetMe => {
            let a =
                authenticate_with(ctx, None, |who, reads| me::plan_get(ctx, who, reads)).await?;
            me::get(ctx, a).await
        }
        Route::PatchMe => me::patch(ctx, authenticate(ctx).await?).await,
        Route::DeleteMe => me::delete(ctx, authenticate(ctx).await?).await,
        Route::ChangePassword => {
            me::change_password(ctx, authenticate_password_change(ctx).await?).await
        }
        Route::ChangeEmail => me::change_email(ctx, authenticate(ctx).await?).await,
        Route::ListSessions => me::sessions(ctx, authenticate(ctx).await?).await,
        Route::RevokeSession => me::revoke_session(ctx, authenticate(ctx).await?).await,
        Route::Activity => me::activity(ctx, authenticate(ctx).await?).await,
        Route::CreateOrg => orgs::create(ctx, authenticate(ctx).await?).await,
        Route::ListOrgs => orgs::list(ctx, authenticate(ctx).await?).await,
        Route::GetOrg => orgs::get(ctx, org(ctx, OrgAction::ViewOrg).await?).await,
        Route::PatchOrg => orgs::patch(ctx, org(ctx, OrgAction::EditOrg).await?).await,
        Route::DeleteOrg => orgs::delete(ctx, org(ctx, OrgAction::DeleteOrg).await?).await,
        Route::TransferOwnership => {
            orgs::transfer_ownership(ctx, org(ctx, OrgAction::TransferOwnership).await?).await
        }
        Route::OrgUsage => orgs::usage(ctx, org(ctx, OrgAction::Governance).await?).await,
        Route::OrgRoles => orgs::roles(ctx, org(ctx, OrgAction::ViewDirectory).await?).await,
        Route::SetOrgLimits => operator::set_limits(ctx, authenticate_operator(ctx)?).await,
        Route::ListMembers => {
            // A bad query still passes the gate first: 401/404/403 before 422.
            let query =
                refusal_first(members::parse_list(ctx), org(ctx, OrgAction::ViewDirectory)).await?;
            let (access, plan, results) =
                org_access_with(ctx, OrgAction::ViewDirectory, |org, reads| {
                    members::plan_list(ctx, &query, org, reads)
                })
                .await?;
            members::list(ctx, access, query, plan, results).await
        }
        Route::ResendActivation => {
            members::resend_activation(ctx, org(ctx, OrgAction::AdminAccountActions).await?).await
        }
        Route::AdminResetPassword => {
            members::reset_password(ctx, org(ctx, OrgAction::AdminAccountActions).await?).await
        }
        Route::DeleteManagedAccount => {
            members::delete_account(ctx, org(ctx, OrgAction::AdminAccountActions).await?).await
        }
        Route::CreateMember => members::create(ctx, org(ctx, OrgAction::InviteUsers).await?).await,
        Route::PatchMember => {
            members::patch(ctx, org(ctx, OrgAction::ChangeRolesAndRemoveMembers).await?).await
        }
        Route::RemoveMember => {
            members::remove(ctx, org(ctx, OrgAction::ChangeRolesAndRemoveMembers).await?).await
        }
        // Workspace routes pass the org gate first, then check the caller's effective
        // workspace role (`workspaces::workspace`) for the workspace-level action.
        Route::CreateWorkspace => {
            workspaces::create(ctx, org(ctx, OrgAction::CreateWorkspace).await?).await
        }
        Route::ListWorkspaces => workspaces::list(ctx, org(ctx, OrgAction::ViewOrg).await?).await,
        Route::GetWorkspace => workspaces::get(ctx, org(ctx, OrgAction::ViewOrg).await?).await,
        Route::PatchWorkspace => workspaces::patch(ctx, org(ctx, OrgAction::ViewOrg).await?).await,
        Route::DeleteWorkspace => {
            workspaces::delete(ctx, org(ctx, OrgAction::DeleteWorkspace).await?).await
        }
        Route::ListWorkspaceMembers => {
            workspaces::members(ctx, org(ctx, OrgAction::ViewOrg).await?).await
        }
        Route::PutWorkspaceMember => {
            workspaces::put_member(ctx, org(ctx, OrgAction::ViewOrg).await?).await
        }
        Route::RemoveWorkspaceMember => {
            workspaces::remove_member(ctx, org(ctx, OrgAction::ViewOrg).await?).await
        }
        Route::CreateInvitation => {
            invitations::create(ctx, org(ctx, OrgAction::InviteUsers).await?).await
        }
        Route::ListInvitations => {
            invitations::list(ctx, org(ctx, OrgAction::InviteUsers).await?).await
        }
        Route::GetInvitation => {
            invitations::get(ctx, org(ctx, OrgAction::InviteUsers).await?).await
        }
        // Resend and withdraw: editors pass the gate; the handler lets them act only on
        // their own invitations (`domain::invitation::may_manage`).
        Route::ResendInvitation => {
            invitations::resend(ctx, org(ctx, OrgAction::InviteUsers).await?).await
        }
        Route::WithdrawInvitation => {
            invitations::withdraw(ctx, org(ctx, OrgAction::InviteUsers).await?).await
        }
        Route::PreviewInvitation => invitations::preview(ctx).await,
        Route::AcceptInvitation => invitations::accept(ctx).await,
        Route::Inbox => invitations::inbox(ctx, authenticate(ctx).await?).await,
        Route::InboxAccept => invitations::inbox_accept(ctx, authenticate(ctx).await?).await,
        Route::InboxDecline => invitations::inbox_decline(ctx, authenticate(ctx).await?).await,
        Route::CreateGroup => groups::create(ctx, org(ctx, OrgAction::Governance).await?).await,
        Route::ListGroups => groups::list(ctx, org(ctx, OrgAction::Governance).await?).await,
        Route::GetGroup => groups::get(ctx, org(ctx, OrgAction::Governance).await?).await,
        Route::PatchGroup => groups::patch(ctx, org(ctx, OrgAction::Governance).await?).await,
        Route::DeleteGroup => groups::delete(ctx, org(ctx, OrgAction::Governance).await?).await,
        Route::ListGroupMembers => {
            groups::members(ctx, org(ctx, OrgAction::Governance).await?).await
        }
        Route::AddGroupMember => {
            groups::add_member(ctx, org(ctx, OrgAction::Governance).await?).await
        }
        Route::RemoveGroupMember => {
            groups::remove_member(ctx, org(ctx, OrgAction::Governance).await?).await
        }
        Route::PutGrant => access_grants::put(ctx, org(ctx, OrgAction::Governance).await?).await,
        Route::ListGrants => access_grants::list(ctx, org(ctx, OrgAction::Governance).await?).await,
        Route::DeleteGrant => {
            access_grants::delete(ctx, org(ctx, OrgAction::Governance).await?).await
        }
        Route::AuthzCheck => {
            // A bad request still authenticates first: 401 before 415/422.
            let req = refusal_first(authz::parse(ctx), authenticate_principal(ctx)).await?;
            let a = authenticate_presence_with(ctx, |who, reads| Ok(authz::plan(&req, who, reads)))
                .await?;
            authz::check(req, a)
        }
        // Managing API tokens is for people only (`OrgAccess::person`): a token cannot
        // mint, list or revoke tokens.
        Route::CreateApiToken => {
            api_tokens::create(ctx, org(ctx, OrgAction::Governance).await?).await
        }
        Route::ListApiTokens => api_tokens::list(ctx, org(ctx, OrgAction::Governance).await?).await,
        Route::RevokeApiToken => {
            api_tokens::revoke(ctx, org(ctx, OrgAction::Governance).await?).await
        }
        Route::AuditEvents => audit::list(ctx, org(ctx, OrgAction::Governance).await?).await,
    }
}

/// The caller (a person or an API token), authenticated, with its access to the route's
/// `{org}` for `action`.
async fn org(ctx: &Ctx, action: OrgAction) -> ApiResult<OrgAccess> {
    org_access(ctx, action).await
}

/// Rate-limit hits planned into a `Together` batch: checked once the batch has run, so the
/// counting shares its round trip with the handler's other checks.
pub struct Limits {
    /// (index in the batch, limit) per bucket.
    hits: Vec<(usize, i64)>,
}

impl Limits {
    /// Counts one hit on the per-IP bucket of `action` and, where the account is known up
    /// front (an email in the body), on its per-account bucket.
    pub fn plan(
        ctx: &Ctx,
        reads: &mut Together,
        action: &str,
        account: Option<&str>,
    ) -> ApiResult<Self> {
        let now = ctx.now();
        let mut hits = vec![(
            reads.add(store::rate_limits::hit_stmt(
                &ctx.db,
                &format!("{action}:ip:{}", ctx.origin.ip),
                now,
            )?),
            ctx.cfg.rate_limit_per_ip,
        )];
        if let Some(account) = account {
            hits.push((
                reads.add(store::rate_limits::hit_stmt(
                    &ctx.db,
                    &format!("{action}:account:{account}"),
                    now,
                )?),
                ctx.cfg.rate_limit_per_account,
            ));
        }
        Ok(Limits { hits })
    }

    /// The per-IP bucket of `action` and the per-account bucket of invitation
    /// `invitation`'s email (resolved in SQL, in the same batch as the invitation's lookup).
    pub fn plan_invitee(
        ctx: &Ctx,
        reads: &mut Together,
        action: &str,
        invitation: crate::domain::ids::InvitationId,
    ) -> ApiResult<Self> {
        let mut limits = Self::plan(ctx, reads, action, None)?;
        limits.hits.push((
            reads.add(store::rate_limits::hit_invitee_stmt(
                &ctx.db,
                action,
                invitation,
                ctx.now(),
            )?),
            ctx.cfg.rate_limit_per_account,
        ));
        Ok(limits)
    }

    /// 429 with `retry-after` once any bucket is over its limit in the current minute.
    pub fn check(&self, ctx: &Ctx, results: &Results) -> ApiResult<()> {
        for (i, max) in &self.hits {
            let count = results
                .first::<store::rate_limits::Hits>(*i)?
                .map_or(0, |h| h.hits);
            if count > *max {
                return Err(ApiError::RateLimited {
                    retry_after_seconds: store::rate_limits::retry_after(ctx.now()),
                });
            }
        }
        Ok(())
    }
}

/// Counts this request against the per-IP limit for `action` and, where the account is known
/// up front, the per-account limit: one round trip of its own.
pub async fn rate_limit(ctx: &Ctx, action: &str, account: Option<&str>) -> ApiResult<()> {
    let mut reads = Together::default();
    let limits = Limits::plan(ctx, &mut reads, action, account)?;
    let results = reads.run(&ctx.db).await?;
    limits.check(ctx, &results)
}

/// The per-account limit alone, for actions whose account is only known after a lookup
/// (a token in the body names it).
pub async fn rate_limit_account(ctx: &Ctx, action: &str, account: &str) -> ApiResult<()> {
    let mut reads = Together::default();
    let hit = reads.add(store::rate_limits::hit_stmt(
        &ctx.db,
        &format!("{action}:account:{account}"),
        ctx.now(),
    )?);
    let limits = Limits {
        hits: vec![(hit, ctx.cfg.rate_limit_per_account)],
    };
    let results = reads.run(&ctx.db).await?;
    limits.check(ctx, &results)
}

/// Hands committed messages to the queue (see `mail::enqueue`).
pub async fn enqueue(ctx: &Ctx, outgoing: Vec<Outgoing>) {
    let messages: Vec<MailMessage> = outgoing.into_iter().map(|o| o.message).collect();
    crate::mail::enqueue(&ctx.env, &ctx.db, &ctx.request_id, messages).await;
}
