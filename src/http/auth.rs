//! Who is calling. Handlers that need a caller take a `Caller` argument, which only
//! `authenticate` makes: a handler cannot run without the check.

use super::keys::keys;
use super::Ctx;
use crate::domain::api_token;
use crate::domain::ids::{ApiTokenId, OrgId, SessionId, UserId, WorkspaceId};
use crate::domain::jwt::VerifiedAccess;
use crate::domain::roles::{OrgRole, WorkspaceRole};
use crate::domain::time::Timestamp;
use crate::domain::token::{hash_secret, looks_like_secret, TokenPurpose};
use crate::error::{ApiError, ApiResult};
use crate::store;
use crate::store::api_tokens::LiveToken;
use crate::store::orgs::{OrgRow, OrgWithRole};
use crate::store::sessions::LiveSession;
use crate::store::users::UserRow;
use crate::store::{Db, OrgStore, Results, Together};

/// Sessions' `last_used_at` is refreshed at most this often, off the response path.
const TOUCH_AFTER_MS: i64 = 5 * 60 * 1000;

/// An authenticated user on a live session.
#[derive(Debug, Clone)]
pub struct Caller {
    user_id: UserId,
    session_id: SessionId,
    /// The account as read with the liveness check.
    user: UserRow,
}

impl Caller {
    pub fn user_id(&self) -> UserId {
        self.user_id
    }

    pub fn session_id(&self) -> SessionId {
        self.session_id
    }

    pub fn email(&self) -> &str {
        &self.user.email
    }

    /// The account as read with the liveness check.
    pub fn user(&self) -> &UserRow {
        &self.user
    }
}

/// An API token of one org, live (unrevoked, unexpired) as of this request.
#[derive(Debug, Clone)]
pub struct TokenCaller {
    id: ApiTokenId,
    name: String,
    /// The role it was created with (admin, editor or viewer).
    role: OrgRole,
    /// `None`: the whole org; otherwise only these workspaces (possibly none left).
    workspaces: Option<Vec<WorkspaceId>>,
    org_id: OrgId,
    /// Read with the token: the org gate needs no second read.
    org: OrgRow,
}

impl TokenCaller {
    pub fn id(&self) -> ApiTokenId {
        self.id
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn org_id(&self) -> OrgId {
        self.org_id
    }

    /// The org the token belongs to, read with it.
    pub fn org(&self) -> &OrgRow {
        &self.org
    }

    /// `None`: the whole org; otherwise only these workspaces (possibly none left).
    pub fn workspaces(&self) -> Option<&[WorkspaceId]> {
        self.workspaces.as_deref()
    }

    /// How it acts: its role org-wide, or a workspace-only member of the listed workspaces.
    pub fn acting(&self) -> api_token::Acting {
        api_token::acting(self.role, self.workspaces.is_some())
    }

    /// Its explicit role in workspace `ws` (scoped tokens, listed workspaces only).
    pub fn workspace_role(&self, ws: WorkspaceId) -> Option<WorkspaceRole> {
        let listed = self.workspaces.as_ref()?;
        if listed.contains(&ws) {
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

/// Whom a live credential names, for a route that needs nothing of the person's account
/// (the authz check): no account row is read with the session.
#[derive(Debug, Clone)]
pub enum Presence {
    User(UserId),
    Token(Box<TokenCaller>),
}

/// A caller authenticated together with reads that a handler planned: `W` is what the
/// route learns of the caller (`Principal`, or `Presence` without the account row).
// Sealed like `OrgAccess`: a handler taking one cannot have skipped authentication.
#[allow(clippy::manual_non_exhaustive)]
pub struct Authenticated<P, W = Principal> {
    pub principal: W,
    /// A person's membership in the asked-for org.
    pub membership: Option<OrgWithRole>,
    /// What `plan` returned (the indexes of its reads).
    pub plan: P,
    /// The results of the whole batch, the planned reads among them.
    pub results: Results,
    /// The row of the read that `plan` had ride on the credential's (`Together::ride`), as
    /// JSON text; `None` without one or when it found no row.
    pub rider: Option<String>,
    /// Only `authenticate_with` and `authenticate_presence_with` build one.
    _sealed: (),
}

impl<P, W> Authenticated<P, W> {
    /// The same authentication, with the caller as the route needs to know them.
    fn map_principal<V>(self, f: impl FnOnce(W) -> ApiResult<V>) -> ApiResult<Authenticated<P, V>> {
        Ok(Authenticated {
            principal: f(self.principal)?,
            membership: self.membership,
            plan: self.plan,
            results: self.results,
            rider: self.rider,
            _sealed: (),
        })
    }
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
    let a = authenticate_core(ctx, org, true, plan).await?;
    a.map_principal(|live| match live {
        Live::Token(token) => Ok(Principal::Token(token)),
        Live::Session {
            user_id,
            session_id,
            user: Some(user),
        } => Ok(Principal::User(Box::new(Caller {
            user_id,
            session_id,
            user: *user,
        }))),
        Live::Session { user: None, .. } => {
            Err(ApiError::internal("the session's read had no account row"))
        }
    })
}

/// `authenticate_with` for a route that needs only whom the caller is: the session's
/// user is checked (active) but their account row is not read.
pub async fn authenticate_presence_with<P>(
    ctx: &Ctx,
    plan: impl FnOnce(Presented, &mut Together) -> ApiResult<P>,
) -> ApiResult<Authenticated<P, Presence>> {
    let a = authenticate_core(ctx, None, false, plan).await?;
    a.map_principal(|live| {
        Ok(match live {
            Live::Token(token) => Presence::Token(token),
            Live::Session { user_id, .. } => Presence::User(user_id),
        })
    })
}

/// A live credential as the read found it.
enum Live {
    Token(Box<TokenCaller>),
    Session {
        user_id: UserId,
        session_id: SessionId,
        /// The account row, when it was asked for.
        user: Option<Box<UserRow>>,
    },
}

/// A bearer credential that passed the checks needing no read.
enum Bearer {
    ApiToken(String),
    Jwt(VerifiedAccess),
}

// The generic part is only the handler's `plan`; what comes before and after it is one
// copy for every route (`present`, `confirm`).
async fn authenticate_core<P>(
    ctx: &Ctx,
    org: Option<OrgId>,
    person: bool,
    plan: impl FnOnce(Presented, &mut Together) -> ApiResult<P>,
) -> ApiResult<Authenticated<P, Live>> {
    let bearer = present(ctx).await?;
    let mut reads = Together::default();
    let plan = plan(
        match &bearer {
            Bearer::ApiToken(_) => Presented::Token,
            Bearer::Jwt(claims) => Presented::User(claims.user_id),
        },
        &mut reads,
    )?;
    let (principal, membership, results, rider) = confirm(ctx, bearer, org, person, reads).await?;
    Ok(Authenticated {
        principal,
        membership,
        plan,
        results,
        rider,
        _sealed: (),
    })
}

/// The bearer credential, checked as far as it can be without D1: a well-formed API
/// token, or a JWT whose signature, issuer and expiry hold.
async fn present(ctx: &Ctx) -> ApiResult<Bearer> {
    let token = ctx.bearer().ok_or(ApiError::Unauthorized)?;
    if api_token::is_api_token(&token) {
        if !api_token::well_formed(&token) {
            return Err(ApiError::Unauthorized);
        }
        return Ok(Bearer::ApiToken(token));
    }
    let keys = keys(&ctx.env, &ctx.cfg).await?;
    keys.verify(&token, &ctx.cfg.jwt_issuer, ctx.now().to_utc())
        .map(Bearer::Jwt)
        .ok_or(ApiError::Unauthorized)
}

/// Runs the credential's read with the planned ones (one round trip): 401 unless it is live.
async fn confirm(
    ctx: &Ctx,
    bearer: Bearer,
    org: Option<OrgId>,
    person: bool,
    mut reads: Together,
) -> ApiResult<(Live, Option<OrgWithRole>, Results, Option<String>)> {
    let now = ctx.now();
    let rider = reads.take_rider();
    let claims = match bearer {
        Bearer::ApiToken(token) => {
            let read = reads.add(store::api_tokens::live_stmt(
                &ctx.store,
                &hash_secret(&token),
                now,
                rider,
            )?);
            let results = reads.run(&ctx.store).await?;
            let mut live: LiveToken = results.first(read)?.ok_or(ApiError::Unauthorized)?;
            let rider = live.rider.take();
            let caller = token_caller(ctx, live, now)?;
            return Ok((Live::Token(Box::new(caller)), None, results, rider));
        }
        Bearer::Jwt(claims) => claims,
    };
    let read = reads.add(store::sessions::live_stmt(
        &ctx.store,
        claims.session_id,
        claims.user_id,
        now,
        org,
        rider,
        person,
    )?);
    let results = reads.run(&ctx.store).await?;
    let live: LiveSession = results.first(read)?.ok_or(ApiError::Unauthorized)?;
    let membership = live.org()?;
    if now.millis() - live.session_last_used_at > TOUCH_AFTER_MS {
        let db = ctx.store.clone();
        let sid = claims.session_id;
        ctx.in_background(async move {
            let _ = store::sessions::touch(&db, sid, now).await;
        });
    }
    let session = Live::Session {
        user_id: claims.user_id,
        session_id: claims.session_id,
        user: live.user.map(Box::new),
    };
    Ok((session, membership, results, live.rider))
}

/// `last_used_at` of a token is refreshed at most this often, off the response path.
const TOKEN_TOUCH_AFTER_MS: i64 = 60 * 1000;

/// A live token's row as the caller it authenticates.
fn token_caller(ctx: &Ctx, live: LiveToken, now: Timestamp) -> ApiResult<TokenCaller> {
    let id = live.token_id;
    let role = api_token::creatable_role(live.token_role)
        .ok_or_else(|| ApiError::internal("an API token with a role no token may hold"))?;
    let workspaces = if live.token_scoped != 0 {
        Some(store::json_column::<Vec<WorkspaceId>>(
            &live.token_workspaces,
        )?)
    } else {
        None
    };
    if live
        .token_last_used_at
        .is_none_or(|at| now.millis() - at > TOKEN_TOUCH_AFTER_MS)
    {
        let db = ctx.store.clone();
        ctx.in_background(async move {
            let _ = store::api_tokens::touch(&db, id, now).await;
        });
    }
    let org_id = live.org.id;
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
    let row = store::tokens::find(&ctx.store, &token_hash, TokenPurpose::PasswordChange)
        .await?
        .ok_or(ApiError::Unauthorized)?;
    if row.used_at.is_some() || Timestamp(row.expires_at) <= ctx.now() {
        return Err(ApiError::Unauthorized);
    }
    let user_id = row.user_id;
    Ok(PasswordChanger::ChangeToken {
        user_id,
        token_hash,
    })
}

/// The platform operator (the `OPERATOR_TOKEN` secret), for operator-only routes. Every
/// other credential, and every request while the secret is unset, is refused alike.
pub struct Operator {
    db: Db,
}

impl Operator {
    /// The operator is admitted to every org.
    pub fn open_org(&self, org: OrgId) -> OrgStore {
        OrgStore::open(&self.db, org)
    }
}

pub fn authenticate_operator(ctx: &Ctx) -> ApiResult<Operator> {
    match (ctx.bearer(), ctx.cfg.operator_token.as_deref()) {
        (Some(presented), Some(expected))
            if crate::domain::token::secrets_equal(&presented, expected) =>
        {
            Ok(Operator { db: ctx.db.clone() })
        }
        _ => Err(ApiError::Unauthorized),
    }
}
