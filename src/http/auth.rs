//! Who is calling. Handlers that need a caller take a `Caller` argument, which only
//! `authenticate` makes: a handler cannot run without the check.

use super::error::{ApiError, ApiResult};
use super::keys::keys;
use super::Ctx;
use crate::domain::api_token;
use crate::domain::ids::{ApiTokenId, OrgId, SessionId, UserId, WorkspaceId};
use crate::domain::roles::{OrgRole, WorkspaceRole};
use crate::domain::time::Timestamp;
use crate::domain::token::{hash_secret, looks_like_secret, TokenPurpose};
use crate::store;
use crate::store::api_tokens::LiveToken;
use crate::store::orgs::{OrgRow, OrgWithRole};
use crate::store::sessions::LiveSession;
use crate::store::users::UserRow;
use crate::store::{Results, Together};

/// Sessions' `last_used_at` is refreshed at most this often, off the response path.
const TOUCH_AFTER_MS: i64 = 5 * 60 * 1000;

/// An authenticated user on a live session.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user_id: UserId,
    pub session_id: SessionId,
    pub email: String,
    /// The account as read with the liveness check.
    pub user: UserRow,
}

/// An API token of one org, live (unrevoked, unexpired) as of this request.
#[derive(Debug, Clone)]
pub struct TokenCaller {
    pub id: ApiTokenId,
    pub name: String,
    /// The role it was created with (admin, editor or viewer).
    pub role: OrgRole,
    /// `None`: the whole org; otherwise only these workspaces (possibly none left).
    pub workspaces: Option<Vec<WorkspaceId>>,
    pub org_id: OrgId,
    /// Read with the token: the org gate needs no second read.
    pub org: OrgRow,
}

impl TokenCaller {
    /// How it acts: its role org-wide, or a workspace-only member of the listed workspaces.
    pub fn acting(&self) -> api_token::Acting {
        api_token::acting(self.role, self.workspaces.is_some())
    }

    /// Its explicit role in workspace `ws` (scoped tokens, listed workspaces only).
    pub fn workspace_role(&self, ws: &str) -> Option<WorkspaceRole> {
        let listed = self.workspaces.as_ref()?;
        if listed.iter().any(|w| w.to_string() == ws) {
            self.acting().listed_workspace_role
        } else {
            None
        }
    }
}

/// Whoever presented the bearer credential: a person on a live session or an API token.
#[derive(Debug, Clone)]
pub enum Principal {
    User(Box<Caller>),
    Token(Box<TokenCaller>),
}

/// Routes that act as a person (their own account, their orgs, their inbox) refuse API
/// tokens: 403 for a live one (it is valid, just not for this), 401 for anything else.
pub async fn authenticate(ctx: &Ctx) -> ApiResult<Caller> {
    match authenticate_principal(ctx).await? {
        Principal::User(caller) => Ok(*caller),
        Principal::Token(_) => Err(ApiError::Forbidden),
    }
}

/// Either kind of caller. An API token is one indexed read (the token with its org); a JWT
/// is verified and then its session checked live (one indexed read).
pub async fn authenticate_principal(ctx: &Ctx) -> ApiResult<Principal> {
    authenticate_for_org(ctx, None).await.map(|(p, _)| p)
}

/// The caller and, for a person, their membership in `org` read in the same round trip
/// (the org gate's question; a token's org comes with the token).
pub async fn authenticate_for_org(
    ctx: &Ctx,
    org: Option<OrgId>,
) -> ApiResult<(Principal, Option<OrgWithRole>)> {
    let a = authenticate_with(ctx, org, |_, _| Ok(())).await?;
    Ok((a.principal, a.membership))
}

/// Whom a bearer credential names before D1 says whether it is live: what a handler may
/// plan its reads by.
#[derive(Debug, Clone, Copy)]
pub enum Presented {
    /// A JWT that verified: its user (the session is not checked yet).
    User(UserId),
    /// An API token (not looked up yet).
    Token,
}

/// A caller authenticated together with reads that a handler planned.
// Sealed like `OrgAccess`: a handler taking one cannot have skipped authentication.
#[allow(clippy::manual_non_exhaustive)]
pub struct Authenticated<P> {
    pub principal: Principal,
    /// A person's membership in the asked-for org.
    pub membership: Option<OrgWithRole>,
    /// What `plan` returned (the indexes of its reads).
    pub plan: P,
    /// The results of the whole batch, the planned reads among them.
    pub results: Results,
    /// The row of the read that `plan` had ride on the credential's (`Together::ride`), as
    /// JSON text; `None` without one or when it found no row.
    pub rider: Option<String>,
    /// Only `authenticate_with` builds one.
    _sealed: (),
}

/// Authenticates and runs the handler's own reads in the same round trip: `plan` adds them
/// to the batch that checks the credential (a verified JWT's session, or the API token), so
/// an authorized read costs one round trip; a one-row read may instead ride in the
/// credential's own row (`Together::ride`), one statement fewer. The planned reads run
/// before the credential is known to be live; they must only read, and their results are
/// used only once it is (a dead session or token answers 401 and they are dropped).
pub async fn authenticate_with<P>(
    ctx: &Ctx,
    org: Option<OrgId>,
    plan: impl FnOnce(Presented, &mut Together) -> ApiResult<P>,
) -> ApiResult<Authenticated<P>> {
    let token = ctx.bearer().ok_or(ApiError::Unauthorized)?;
    let now = ctx.now();
    let mut reads = Together::default();
    if api_token::is_api_token(&token) {
        if !api_token::well_formed(&token) {
            return Err(ApiError::Unauthorized);
        }
        let plan = plan(Presented::Token, &mut reads)?;
        let rider = reads.take_rider();
        let read = reads.add(store::api_tokens::live_stmt(
            &ctx.db,
            &hash_secret(&token),
            now,
            rider,
        )?);
        let results = reads.run(&ctx.db).await?;
        let mut live: LiveToken = results.first(read)?.ok_or(ApiError::Unauthorized)?;
        let rider = live.rider.take();
        let caller = token_caller(ctx, live, now)?;
        return Ok(Authenticated {
            principal: Principal::Token(Box::new(caller)),
            membership: None,
            plan,
            results,
            rider,
            _sealed: (),
        });
    }
    let keys = keys(&ctx.env, &ctx.cfg).await?;
    let claims = keys
        .verify(&token, &ctx.cfg.jwt_issuer, now.to_utc())
        .ok_or(ApiError::Unauthorized)?;
    let plan = plan(Presented::User(claims.user_id), &mut reads)?;
    let rider = reads.take_rider();
    let read = reads.add(store::sessions::live_stmt(
        &ctx.db,
        claims.session_id,
        claims.user_id,
        now,
        org,
        rider,
    )?);
    let results = reads.run(&ctx.db).await?;
    let live: LiveSession = results.first(read)?.ok_or(ApiError::Unauthorized)?;
    let membership = live.org()?;
    if now.millis() - live.session_last_used_at > TOUCH_AFTER_MS {
        let db = ctx.db.clone();
        let sid = claims.session_id;
        ctx.in_background(async move {
            let _ = store::sessions::touch(&db, sid, now).await;
        });
    }
    Ok(Authenticated {
        principal: Principal::User(Box::new(Caller {
            user_id: claims.user_id,
            session_id: claims.session_id,
            email: live.user.email.clone(),
            user: live.user,
        })),
        membership,
        plan,
        results,
        rider: live.rider,
        _sealed: (),
    })
}

/// `last_used_at` of a token is refreshed at most this often, off the response path.
const TOKEN_TOUCH_AFTER_MS: i64 = 60 * 1000;

/// A live token's row as the caller it authenticates.
fn token_caller(ctx: &Ctx, live: LiveToken, now: Timestamp) -> ApiResult<TokenCaller> {
    let bad = || ApiError::internal("bad api_tokens row in D1");
    let id: ApiTokenId = live.token_id.parse().map_err(|_| bad())?;
    let role = api_token::parse_role(&live.token_role).ok_or_else(bad)?;
    let workspaces = if live.token_scoped != 0 {
        let ids: Vec<String> = serde_json::from_str(&live.token_workspaces).map_err(|_| bad())?;
        Some(
            ids.iter()
                .map(|w| w.parse::<WorkspaceId>().map_err(|_| bad()))
                .collect::<ApiResult<Vec<_>>>()?,
        )
    } else {
        None
    };
    if live
        .token_last_used_at
        .is_none_or(|at| now.millis() - at > TOKEN_TOUCH_AFTER_MS)
    {
        let db = ctx.db.clone();
        ctx.in_background(async move {
            let _ = store::api_tokens::touch(&db, id, now).await;
        });
    }
    let org_id: OrgId = live.org.id.parse().map_err(|_| bad())?;
    Ok(TokenCaller {
        id,
        name: live.token_name,
        role,
        workspaces,
        org_id,
        org: live.org,
    })
}

/// Who may change a password: a logged-in user, or the holder of the `change_token` that a
/// single-use-password login handed out (good for nothing else).
pub enum PasswordChanger {
    Session(Box<Caller>),
    ChangeToken { user_id: UserId, token_hash: String },
}

pub async fn authenticate_password_change(ctx: &Ctx) -> ApiResult<PasswordChanger> {
    let token = ctx.bearer().ok_or(ApiError::Unauthorized)?;
    if !looks_like_secret(&token) {
        return authenticate(ctx)
            .await
            .map(|c| PasswordChanger::Session(Box::new(c)));
    }
    let token_hash = hash_secret(&token);
    let row = store::tokens::find(&ctx.db, &token_hash, TokenPurpose::PasswordChange)
        .await?
        .ok_or(ApiError::Unauthorized)?;
    if row.used_at.is_some() || Timestamp(row.expires_at) <= ctx.now() {
        return Err(ApiError::Unauthorized);
    }
    let user_id = row
        .user_id
        .parse()
        .map_err(|_| ApiError::internal("bad user id in user_tokens"))?;
    Ok(PasswordChanger::ChangeToken {
        user_id,
        token_hash,
    })
}

/// The platform operator (the `OPERATOR_TOKEN` secret), for operator-only routes. Every
/// other credential, and every request while the secret is unset, is refused alike.
pub struct Operator {
    _sealed: (),
}

pub fn authenticate_operator(ctx: &Ctx) -> ApiResult<Operator> {
    match (ctx.bearer(), ctx.cfg.operator_token.as_deref()) {
        (Some(presented), Some(expected))
            if crate::domain::token::secrets_equal(&presented, expected) =>
        {
            Ok(Operator { _sealed: () })
        }
        _ => Err(ApiError::Unauthorized),
    }
}
