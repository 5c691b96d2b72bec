//! Who is calling. Handlers that need a caller take a `Caller` argument, which only
//! `authenticate` makes: a handler cannot run without the check.

use chrono::Utc;

use super::error::{ApiError, ApiResult};
use super::keys::keys;
use super::Ctx;
use crate::domain::ids::{SessionId, UserId};
use crate::domain::time::Timestamp;
use crate::domain::token::{hash_secret, looks_like_secret, TokenPurpose};
use crate::store;
use crate::store::users::UserRow;

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

/// Verifies the access token and that its session is still live (one indexed D1 read), so
/// that ending a session takes effect on the very next request.
pub async fn authenticate(ctx: &Ctx) -> ApiResult<Caller> {
    let token = ctx.bearer().ok_or(ApiError::Unauthorized)?;
    let keys = keys(&ctx.env, &ctx.cfg).await?;
    let claims = keys
        .verify(&token, &ctx.cfg.jwt_issuer, Utc::now())
        .ok_or(ApiError::Unauthorized)?;
    let now = ctx.now();
    let live = store::sessions::live(&ctx.db, claims.session_id, claims.user_id, now)
        .await?
        .ok_or(ApiError::Unauthorized)?;
    if now.millis() - live.session_last_used_at > TOUCH_AFTER_MS {
        let db = ctx.db.clone();
        let sid = claims.session_id;
        ctx.in_background(async move {
            let _ = store::sessions::touch(&db, sid, now).await;
        });
    }
    Ok(Caller {
        user_id: claims.user_id,
        session_id: claims.session_id,
        email: live.user.email.clone(),
        user: live.user,
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
