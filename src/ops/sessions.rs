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

#[cfg(test)]
mod tests {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    use serde_json::json;

    use super::*;
    use crate::domain::token::looks_like_secret;
    use crate::ops::testing::*;
    use crate::store::Arg;

    const SEED: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";

    fn keys() -> KeySet {
        KeySet::from_config(SEED, "").expect("a key set")
    }

    #[test]
    fn a_session_stores_only_the_hash_of_its_refresh_token() {
        let org = Org::new();
        let user = UserId::new();
        let started = start(
            org.global(),
            &keys(),
            &org.cfg,
            &org.origin,
            user,
            "password",
            NOW,
        )
        .unwrap();
        assert_eq!(
            effects(&started.stmts),
            ["INSERT sessions", "INSERT refresh_tokens"]
        );
        let session = &started.stmts[0];
        assert_eq!(value_of(session, "id"), text(started.session));
        assert_eq!(value_of(session, "user_id"), text(user));
        assert_eq!(value_of(session, "auth_method"), text("password"));
        assert_eq!(value_of(session, "ip"), text(&org.origin.ip));
        assert_eq!(value_of(session, "created_at"), Arg::Int(NOW.millis()));
        assert_eq!(
            value_of(session, "expires_at"),
            Arg::Int(NOW.plus_seconds(org.cfg.session_ttl).millis())
        );
        let refresh = &started.stmts[1];
        assert!(looks_like_secret(&started.refresh_token));
        assert_eq!(
            value_of(refresh, "token_hash"),
            text(hash_secret(&started.refresh_token))
        );
        assert_eq!(value_of(refresh, "session_id"), text(started.session));
        assert!(started
            .stmts
            .iter()
            .all(|s| !binds(s, &text(&started.refresh_token))));
        // The access token is the session's.
        let verified = keys()
            .verify(&started.access_token, &org.cfg.jwt_issuer, NOW.to_utc())
            .expect("a valid access token");
        assert_eq!(
            (verified.user_id, verified.session_id),
            (user, started.session)
        );
        // Two sessions share nothing.
        let again = start(
            org.global(),
            &keys(),
            &org.cfg,
            &org.origin,
            user,
            "password",
            NOW,
        )
        .unwrap();
        assert_ne!(again.session, started.session);
        assert_ne!(again.refresh_token, started.refresh_token);
    }

    #[test]
    fn an_access_token_names_user_and_session_and_lives_the_configured_time() {
        let cfg = crate::config::Config::for_tests();
        let (user, session) = (UserId::new(), SessionId::new());
        let token = access_token(&keys(), &cfg, user, session, NOW);
        let payload: serde_json::Value = serde_json::from_slice(
            &URL_SAFE_NO_PAD
                .decode(token.split('.').nth(1).expect("a JWT"))
                .unwrap(),
        )
        .unwrap();
        assert_eq!(payload["iss"], json!(cfg.jwt_issuer));
        assert_eq!(payload["sub"], json!(user.to_string()));
        assert_eq!(payload["sid"], json!(session.to_string()));
        assert_eq!(payload["iat"], json!(NOW.seconds()));
        assert_eq!(payload["exp"], json!(NOW.seconds() + cfg.access_token_ttl));
        // Each token is its own (`jti`), even at the same instant.
        assert_ne!(token, access_token(&keys(), &cfg, user, session, NOW));
        let late = NOW.plus_seconds(cfg.access_token_ttl + 60).to_utc();
        assert!(keys().verify(&token, &cfg.jwt_issuer, late).is_none());
    }

    #[test]
    fn ending_a_session_is_guarded_and_records_why() {
        let org = Org::new();
        let (user, session) = (UserId::new(), SessionId::new());
        let batch = end(
            org.global(),
            &org.origin,
            session,
            user,
            "logout",
            "request-1",
            NOW,
        )
        .unwrap();
        assert_eq!(
            effects(&batch),
            [
                "UPDATE sessions",
                "INSERT batch_guards",
                "INSERT audit_events"
            ]
        );
        let ended = &batch[0];
        assert!(binds(ended, &text(session)));
        assert_eq!(value_of(ended, "ended_at"), Arg::Int(NOW.millis()));
        assert_eq!(value_of(ended, "end_reason"), text("logout"));
        assert_eq!(value_of(ended, "ended_by"), text("request-1"));
        assert!(binds(&batch[1], &text(session)) && binds(&batch[1], &text("request-1")));
        let revoked = event(&batch, "session.revoked");
        assert_eq!(value_of(revoked, "org_id"), Arg::Null, "an account event");
        assert_eq!(value_of(revoked, "subject_user_id"), text(user));
        assert_eq!(value_of(revoked, "actor_id"), text(user));
        assert_eq!(value_of(revoked, "target_id"), text(session));
        assert_eq!(value_of(revoked, "auth_method"), text("refresh"));
        assert_eq!(value_of(revoked, "ip"), text(&org.origin.ip));
        assert_eq!(metadata(revoked), json!({"reason": "logout"}));
    }
}
