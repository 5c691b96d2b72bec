//! Audit events: every write leaves one; account events without an org feed /v1/me/activity.

use serde::Deserialize;

use super::{Db, Stmt};
use crate::args;
use crate::domain::ids::{EventId, OrgId, UserId};
use crate::domain::time::Timestamp;
use crate::http::error::ApiResult;

/// Who did it, from where, how: filled from the request context.
#[derive(Debug, Clone)]
pub struct Origin {
    pub ip: String,
    pub user_agent: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Event {
    pub action: &'static str,
    pub org: Option<OrgId>,
    /// The user an account event is about (shown in their activity).
    pub subject: Option<UserId>,
    pub actor_id: Option<UserId>,
    pub actor_email: Option<String>,
    pub target: Option<(&'static str, String)>,
    pub auth_method: Option<&'static str>,
    pub success: bool,
    pub metadata: Option<serde_json::Value>,
}

impl Event {
    /// An event a user caused about their own account.
    pub fn account(action: &'static str, user: UserId, email: &str) -> Self {
        Event {
            action,
            org: None,
            subject: Some(user),
            actor_id: Some(user),
            actor_email: Some(email.to_string()),
            target: Some(("user", user.to_string())),
            auth_method: None,
            success: true,
            metadata: None,
        }
    }

    /// An event in an org's trail, by one of its users, about `target`.
    pub fn by_member(
        org: OrgId,
        actor: UserId,
        actor_email: &str,
        action: &'static str,
        target: (&'static str, String),
    ) -> Self {
        Event {
            action,
            org: Some(org),
            subject: None,
            actor_id: Some(actor),
            actor_email: Some(actor_email.to_string()),
            target: Some(target),
            auth_method: None,
            success: true,
            metadata: None,
        }
    }

    pub fn in_org(mut self, org: OrgId) -> Self {
        self.org = Some(org);
        self
    }

    pub fn method(mut self, m: &'static str) -> Self {
        self.auth_method = Some(m);
        self
    }

    pub fn failed(mut self) -> Self {
        self.success = false;
        self
    }

    pub fn meta(mut self, m: serde_json::Value) -> Self {
        self.metadata = Some(m);
        self
    }
}

pub fn insert(db: &Db, e: &Event, origin: &Origin, now: Timestamp) -> ApiResult<Stmt> {
    let (target_type, target_id) = match &e.target {
        Some((t, id)) => (Some(*t), Some(id.as_str())),
        None => (None, None),
    };
    db.stmt(
        "INSERT INTO audit_events (id, org_id, subject_user_id, at, actor_id, actor_email, action, \
         target_type, target_id, ip, user_agent, auth_method, success, metadata) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
        args![
            EventId::new(),
            e.org,
            e.subject,
            now,
            e.actor_id,
            e.actor_email.as_deref(),
            e.action,
            target_type,
            target_id,
            origin.ip.as_str(),
            origin.user_agent.as_deref(),
            e.auth_method,
            e.success,
            e.metadata.as_ref().map(|m| m.to_string()),
        ],
    )
}

/// `user.locked`, written only by the failed login that brought the counter to exactly
/// `threshold` (in the same batch as the increment), so racing failures log it once.
pub fn insert_if_just_locked(
    db: &Db,
    user: UserId,
    email: &str,
    origin: &Origin,
    threshold: i64,
    now: Timestamp,
) -> ApiResult<Stmt> {
    db.stmt(
        "INSERT INTO audit_events (id, org_id, subject_user_id, at, actor_id, actor_email, action, \
         target_type, target_id, ip, user_agent, auth_method, success, metadata) \
         SELECT ?1, NULL, ?2, ?3, ?2, ?4, 'user.locked', 'user', ?2, ?5, ?6, 'password', 1, NULL \
         WHERE (SELECT failed_logins FROM users WHERE id = ?2 AND status = 'locked') = ?7",
        args![
            EventId::new(),
            user,
            now,
            email,
            origin.ip.as_str(),
            origin.user_agent.as_deref(),
            threshold,
        ],
    )
}

#[derive(Debug, Deserialize)]
pub struct ActivityRow {
    pub id: String,
    pub at: i64,
    pub action: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub auth_method: Option<String>,
    pub success: i64,
}

/// The user's own account history, newest first, one page.
pub async fn activity(
    db: &Db,
    user: UserId,
    before: &str,
    limit: u32,
) -> ApiResult<Vec<ActivityRow>> {
    db.all(
        "SELECT id, at, action, ip, user_agent, auth_method, success FROM audit_events \
         WHERE subject_user_id = ?1 AND id < ?2 ORDER BY id DESC LIMIT ?3",
        args![user, before, i64::from(limit)],
    )
    .await
}
