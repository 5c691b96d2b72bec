//! Who is calling: one `Principal` for every kind of caller (a person's session, an API
//! token, a change token, the operator, an org's SCIM client), which only `authenticate`
//! makes. A route's guard
//! asks it for the capability the route needs, so a handler cannot run without the check.

use super::keys::keys;
use super::Ctx;
use crate::domain::ids::{ApiTokenId, OrgId, ScimTokenId, SessionId, UserId, WorkspaceId};
use crate::domain::jwt::VerifiedAccess;
use crate::domain::roles::{OrgRole, WorkspaceRole};
use crate::domain::time::Timestamp;
use crate::domain::token::{hash_secret, looks_like_secret, secrets_equal, TokenPurpose};
use crate::domain::{api_token, scim_token};
use crate::error::{ApiError, ApiResult};
use crate::store;
use crate::store::api_tokens::LiveToken;
use crate::store::audit::Actor;
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

/// An org's SCIM client: its token, live as of this request, and the org's store (the token
/// names the org; the client acts nowhere else).
pub struct ScimCaller {
    id: ScimTokenId,
    name: String,
    org: OrgRow,
    store: OrgStore,
    last_used_at: Option<i64>,
}

impl ScimCaller {
    pub fn id(&self) -> ScimTokenId {
        self.id
    }

    pub fn org(&self) -> &OrgRow {
        &self.org
    }

    /// The org's data: the only handle the SCIM handlers get.
    pub fn store(&self) -> &OrgStore {
        &self.store
    }

    /// The statements that record this request as the token's last use and the org's last
    /// provisioning request, when the last record is over a minute old. The SCIM handlers
    /// run them after the response: only a request the SCIM service accepted counts.
    pub fn due_touch(&self, now: Timestamp) -> Option<Vec<store::Stmt>> {
        self.last_used_at
            .is_none_or(|at| now.millis() - at > TOKEN_TOUCH_AFTER_MS)
            .then(|| store::scim::touch(&self.store, self.id, now).ok())
            .flatten()
    }

    /// Who acts, for the audit trail.
    pub fn actor(&self) -> Actor {
        Actor::ScimToken {
            id: self.id,
            name: self.name.clone(),
        }
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

/// A single-use password's change token, live (unused, unexpired): it lets its holder set
/// a password and nothing else.
#[derive(Debug, Clone)]
pub struct ChangeToken {
    user_id: UserId,
    token_hash: String,
}

impl ChangeToken {
    pub fn user_id(&self) -> UserId {
        self.user_id
    }

    /// The token's hash, to consume it in the batch that sets the password.
    pub fn token_hash(&self) -> &str {
        &self.token_hash
    }
}

/// The platform operator (the `OPERATOR_TOKEN` secret), for operator-only routes.
pub struct Operator {
    db: Db,
}

impl Operator {
    /// The operator is admitted to every org.
    pub fn open_org(&self, org: OrgId) -> OrgStore {
        OrgStore::open(&self.db, org)
    }
}

/// Whoever presented a live credential: one type for every kind of caller. A route asks
/// it for the capability it needs (`person`, `password_changer`, `operator`, `may_ask`,
/// `admit` to an org), and each kind answers for itself there; a new kind of caller is
/// one variant, the check that recognises its credential (`present`, `confirm`) and its
/// answer in each capability (the compiler lists them).
pub enum Principal {
    /// A person on a live session.
    Person(Box<Caller>),
    /// An API token of one org.
    Token(Box<TokenCaller>),
    /// The change token a single-use-password login handed out.
    ChangeToken(ChangeToken),
    /// The platform operator.
    Operator(Operator),
    /// An org's SCIM client (works only under `/scim/v2`).
    Scim(Box<ScimCaller>),
}

/// Who may change a password: a person on a live session (who gives their current password)
/// or the holder of a change token.
pub enum PasswordChanger {
    Session(Box<Caller>),
    ChangeToken(ChangeToken),
}

impl Principal {
    /// What a route answers a caller it is not for: an API token is valid, just not for
    /// this (403); a change token or the operator's secret is no credential there (401),
    /// as they were before they had a kind of their own.
    fn refused(&self) -> ApiError {
        match self {
            Principal::Token(_) => ApiError::Forbidden,
            // A SCIM token is no credential outside /scim/v2.
            Principal::Person(_)
            | Principal::ChangeToken(_)
            | Principal::Operator(_)
            | Principal::Scim(_) => ApiError::Unauthorized,
        }
    }

    /// For routes that act as a person (their own account, their orgs, their inbox).
    pub fn person(self) -> ApiResult<Caller> {
        match self {
            Principal::Person(caller) => Ok(*caller),
            other => Err(other.refused()),
        }
    }

    /// For the password change: a person, or a change token's holder.
    pub fn password_changer(self) -> ApiResult<PasswordChanger> {
        match self {
            Principal::Person(caller) => Ok(PasswordChanger::Session(caller)),
            Principal::ChangeToken(token) => Ok(PasswordChanger::ChangeToken(token)),
            other => Err(other.refused()),
        }
    }

    /// For the operator's routes. Every other credential is refused alike (401).
    pub fn operator(self) -> ApiResult<Operator> {
        match self {
            Principal::Operator(operator) => Ok(operator),
            _ => Err(ApiError::Unauthorized),
        }
    }

    /// For the SCIM service: the org's provisioning client; every other credential is
    /// refused alike (401).
    pub fn scim(self) -> ApiResult<ScimCaller> {
        match self {
            Principal::Scim(caller) => Ok(*caller),
            _ => Err(ApiError::Unauthorized),
        }
    }

    /// For the authorization check: a person (about themselves) or an API token (about its
    /// org's users) may ask.
    pub fn may_ask(&self) -> ApiResult<()> {
        match self {
            Principal::Person(_) | Principal::Token(_) => Ok(()),
            other => Err(other.refused()),
        }
    }

    /// Admission to `org`: the org and the role the caller acts with there. A person by
    /// their `membership` (read with the session); a token in its own org only, any other
    /// as unknown as a missing one (404); other kinds of caller never act in an org.
    pub fn admit(
        &self,
        org: OrgId,
        membership: Option<OrgWithRole>,
    ) -> ApiResult<(OrgRow, OrgRole)> {
        match self {
            Principal::Person(_) => {
                let found = membership.ok_or(ApiError::NotFound)?;
                Ok((found.org, found.role))
            }
            Principal::Token(token) if token.org_id() == org => {
                Ok((token.org().clone(), token.acting().org_role))
            }
            Principal::Token(_) => Err(ApiError::NotFound),
            other => Err(other.refused()),
        }
    }

    /// What admission to an `{org}` that is no org id answers: 404, as for any org the
    /// caller is not in, to those who could be admitted to one.
    pub fn admit_nowhere(&self) -> ApiError {
        match self {
            Principal::Person(_) | Principal::Token(_) => ApiError::NotFound,
            other => other.refused(),
        }
    }

    /// The person, if the caller is one.
    pub fn as_person(&self) -> Option<&Caller> {
        match self {
            Principal::Person(caller) => Some(caller),
            _ => None,
        }
    }

    /// The API token, if the caller is one.
    pub fn as_token(&self) -> Option<&TokenCaller> {
        match self {
            Principal::Token(token) => Some(token),
            _ => None,
        }
    }

    /// Who acts, for the audit trail.
    pub fn actor(&self) -> Actor {
        match self {
            Principal::Person(caller) => Actor::user(caller.user_id(), caller.email()),
            Principal::Token(token) => Actor::Token {
                id: token.id(),
                name: token.name().to_string(),
            },
            Principal::ChangeToken(token) => Actor::User {
                id: token.user_id(),
                email: None,
            },
            Principal::Operator(_) => Actor::Operator,
            Principal::Scim(caller) => caller.actor(),
        }
    }
}

/// The caller, whatever its kind; the route's guard then asks it for a capability.
pub async fn authenticate(ctx: &Ctx) -> ApiResult<Principal> {
    authenticate_with(ctx, None, |_, _| Ok(()))
        .await
        .map(|a| a.principal)
}

/// Whom a bearer credential names before D1 says whether it is live: what a handler may
/// plan its reads by.
#[derive(Debug, Clone, Copy)]
pub enum Presented {
    /// A JWT that verified: its user (the session is not checked yet).
    Person(UserId),
    /// Any other credential (not looked up yet).
    Other,
}

/// A caller authenticated together with reads that a handler planned.
// Sealed like `OrgAccess`: a handler taking one cannot have skipped authentication.
#[allow(clippy::manual_non_exhaustive)]
pub struct Authenticated<P> {
    pub principal: Principal,
    /// A person's membership in the asked-for org.
    pub membership: Option<OrgWithRole>,
    /// What `plan` returned (the tickets of its reads).
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
/// to the batch that checks the credential (a verified JWT's session, an API token, a
/// change token), so an authorized read costs one round trip; a one-row read may instead
/// ride in the credential's own row (`Together::ride`), one statement fewer. The planned
/// reads run before the credential is known to be live; they must only read, and their
/// results are used only once it is (a dead credential answers 401 and they are dropped).
/// With `org`, a person's membership in it is read with the session.
pub async fn authenticate_with<P>(
    ctx: &Ctx,
    org: Option<OrgId>,
    plan: impl FnOnce(Presented, &mut Together) -> ApiResult<P>,
) -> ApiResult<Authenticated<P>> {
    let bearer = present(ctx).await?;
    let mut reads = Together::default();
    let plan = plan(
        match &bearer {
            Bearer::Jwt(claims) => Presented::Person(claims.user_id),
            _ => Presented::Other,
        },
        &mut reads,
    )?;
    let (principal, membership, results, rider) = confirm(ctx, bearer, org, reads).await?;
    Ok(Authenticated {
        principal,
        membership,
        plan,
        results,
        rider,
        _sealed: (),
    })
}

/// A bearer credential that passed the checks needing no read: its kind is known by its
/// shape (or, for the operator, by the secret it equals).
enum Bearer {
    Operator,
    ApiToken(String),
    ScimToken(String),
    ChangeToken(String),
    Jwt(VerifiedAccess),
}

/// The bearer credential, checked as far as it can be without D1: the operator's secret, a
/// well-formed API token, a change token's shape, or a JWT whose signature, issuer and
/// expiry hold.
async fn present(ctx: &Ctx) -> ApiResult<Bearer> {
    let token = ctx.bearer().ok_or(ApiError::Unauthorized)?;
    if let Some(expected) = ctx.cfg.operator_token.as_deref() {
        if secrets_equal(&token, expected) {
            return Ok(Bearer::Operator);
        }
    }
    if api_token::is_api_token(&token) {
        if !api_token::well_formed(&token) {
            return Err(ApiError::Unauthorized);
        }
        return Ok(Bearer::ApiToken(token));
    }
    if scim_token::is_scim_token(&token) {
        if !scim_token::well_formed(&token) {
            return Err(ApiError::Unauthorized);
        }
        return Ok(Bearer::ScimToken(token));
    }
    if looks_like_secret(&token) {
        return Ok(Bearer::ChangeToken(token));
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
    mut reads: Together,
) -> ApiResult<(Principal, Option<OrgWithRole>, Results, Option<String>)> {
    let now = ctx.now();
    // Only a session's or an API token's row carries a rider: the routes that plan one
    // refuse the other kinds, so for them it is dropped unread.
    let rider = reads.take_rider();
    match bearer {
        Bearer::Operator => {
            let results = reads.run(&ctx.store).await?;
            let operator = Operator { db: ctx.db.clone() };
            Ok((Principal::Operator(operator), None, results, None))
        }
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
            Ok((Principal::Token(Box::new(caller)), None, results, rider))
        }
        Bearer::ScimToken(token) => {
            let read = reads.add(store::scim::live_stmt(&ctx.store, &hash_secret(&token))?);
            let results = reads.run(&ctx.store).await?;
            let live = results.first(read)?.ok_or(ApiError::Unauthorized)?;
            let caller = scim_caller(ctx, live)?;
            Ok((Principal::Scim(Box::new(caller)), None, results, None))
        }
        Bearer::ChangeToken(token) => {
            let token_hash = hash_secret(&token);
            let read = reads.add(store::tokens::find_stmt(
                &ctx.store,
                &token_hash,
                TokenPurpose::PasswordChange,
            )?);
            let results = reads.run(&ctx.store).await?;
            let row = results.first(read)?.ok_or(ApiError::Unauthorized)?;
            if row.used_at.is_some() || Timestamp(row.expires_at) <= now {
                return Err(ApiError::Unauthorized);
            }
            let token = ChangeToken {
                user_id: row.user_id,
                token_hash,
            };
            Ok((Principal::ChangeToken(token), None, results, None))
        }
        Bearer::Jwt(claims) => {
            let read = reads.add(store::sessions::live_stmt(
                &ctx.store,
                claims.session_id,
                claims.user_id,
                now,
                org,
                rider,
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
            let caller = Caller {
                user_id: claims.user_id,
                session_id: claims.session_id,
                user: live.user()?,
            };
            Ok((
                Principal::Person(Box::new(caller)),
                membership,
                results,
                live.rider,
            ))
        }
    }
}

/// `last_used_at` of a token is refreshed at most this often, off the response path.
const TOKEN_TOUCH_AFTER_MS: i64 = 60 * 1000;

/// A live SCIM token's row as the caller it authenticates (its last use is recorded by the
/// SCIM handlers: `ScimCaller::due_touch`).
fn scim_caller(ctx: &Ctx, live: store::scim::LiveScimToken) -> ApiResult<ScimCaller> {
    let org = live.org()?;
    let store = OrgStore::open(&ctx.db, org.id);
    Ok(ScimCaller {
        id: live.token_id,
        name: live.token_name,
        org,
        store,
        last_used_at: live.token_last_used_at,
    })
}

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
    let org = live.org()?;
    Ok(TokenCaller {
        id,
        name: live.token_name,
        role,
        workspaces,
        org_id: org.id,
        org,
    })
}
