//! Sessions: starting one (whatever proved who the person is: a password, an activation
//! link, an accepted invitation; SSO next) and ending one.

use crate::config::Config;
use crate::domain::ids::{new_uuid_v7, SessionId, UserId};
use crate::domain::jwt::{AccessClaims, KeySet};
use crate::domain::time::Timestamp;
use crate::domain::token::{hash_secret, new_secret};
use crate::error::ApiResult;
use crate::store::audit::{Actor, Event, Origin};
use crate::store::sessions::NewSession;
use crate::store::{self, Stmt, Store};

/// A new session: its rows (for the caller's batch) and the credentials to hand over once
/// the batch commits.
pub struct Started {
    pub session: SessionId,
    pub stmts: Vec<Stmt>,
    pub access_token: String,
    /// The session's first refresh token (only its hash is stored).
    pub refresh_token: String,
    /// When the session ends at the latest (`SESSION_TTL_SECONDS` after it started).
    pub expires_at: Timestamp,
}

/// Starts a session for `user`, signed in by `method` (`password`, …), from `origin`.
pub fn start(
    store: &Store,
    keys: &KeySet,
    cfg: &Config,
    origin: &Origin,
    user: UserId,
    method: &'static str,
    now: Timestamp,
) -> ApiResult<Started> {
    let session = SessionId::new();
    let refresh_token = new_secret();
    let expires_at = now.plus_seconds(cfg.session_ttl);
    let stmts = store::sessions::insert(
        store,
        &NewSession {
            id: session,
            user,
            auth_method: method,
            ip: &origin.ip,
            user_agent: origin.user_agent.as_deref(),
            now,
            expires_at,
            refresh_hash: &hash_secret(&refresh_token),
        },
    )?;
    Ok(Started {
        session,
        stmts,
        access_token: access_token(keys, cfg, user, session, now),
        refresh_token,
        expires_at,
    })
}

/// An access token for `user` on `session`, valid `ACCESS_TOKEN_TTL_SECONDS` from `now`.
pub fn access_token(
    keys: &KeySet,
    cfg: &Config,
    user: UserId,
    session: SessionId,
    now: Timestamp,
) -> String {
    let claims = AccessClaims {
        iss: cfg.jwt_issuer.clone(),
        sub: user.to_string(),
        sid: session.to_string(),
        jti: new_uuid_v7().to_string(),
    };
    keys.sign(claims, now.to_utc(), cfg.access_token_ttl)
}

/// Ends `user`'s session for `reason`, once: the statements end it only if it is still live
/// and record `session.revoked`; a racing request that ended it first makes the batch fail
/// with `ApiError::GuardFailed` (and it wrote the event). `ended_by` names this request.
pub fn end(
    store: &Store,
    origin: &Origin,
    session: SessionId,
    user: UserId,
    reason: &'static str,
    ended_by: &str,
    now: Timestamp,
) -> ApiResult<Vec<Stmt>> {
    let event = Event {
        action: "session.revoked",
        org: None,
        subject: Some(user),
        actor: Some(Actor::User {
            id: user,
            email: None,
        }),
        target: Some(("session", session.to_string())),
        auth_method: Some("refresh"),
        success: true,
        metadata: Some(crate::object!({ "reason": reason })),
    };
    let mut batch = store::sessions::end_once(store, session, reason, ended_by, now)?;
    batch.push(store::audit::insert(store, &event, origin, now)?);
    Ok(batch)
}
