//! Audit events: every write leaves one; account events without an org feed /v1/me/activity.

use super::{OrgStore, Stmt, Store};
use crate::args;
use crate::domain::ids::{ApiTokenId, EventId, OrgId, ScimTokenId, UserId};
use crate::domain::time::Timestamp;
use crate::error::ApiResult;
use serde::Deserialize;

/// Who did it, from where, how: filled from the request context.
#[derive(Debug, Clone)]
pub struct Origin {
    pub ip: String,
    pub user_agent: Option<String>,
}

/// Who acted.
#[derive(Debug, Clone)]
pub enum Actor {
    /// A person; the email where the handler knows it.
    User { id: UserId, email: Option<String> },
    /// Someone who claimed an email no account has (a failed login).
    Claimant { email: String },
    /// An API token of the org.
    Token { id: ApiTokenId, name: String },
    /// The platform operator (the `OPERATOR_TOKEN` secret).
    Operator,
    /// An org's SCIM provisioning client (its SCIM token).
    ScimToken { id: ScimTokenId, name: String },
}

impl Actor {
    pub fn user(id: UserId, email: &str) -> Self {
        Actor::User {
            id,
            email: Some(email.to_string()),
        }
    }

    /// The stored columns: (actor_type, actor_id, actor_email, actor_name).
    fn columns(
        &self,
    ) -> (
        Option<&'static str>,
        Option<String>,
        Option<&str>,
        Option<&str>,
    ) {
        match self {
            Actor::User { id, email } => {
                (Some("user"), Some(id.to_string()), email.as_deref(), None)
            }
            Actor::Claimant { email } => (None, None, Some(email), None),
            Actor::Token { id, name } => {
                (Some("api_token"), Some(id.to_string()), None, Some(name))
            }
            Actor::Operator => (Some("operator"), None, None, None),
            Actor::ScimToken { id, name } => {
                (Some("scim_token"), Some(id.to_string()), None, Some(name))
            }
        }
    }
}

#[derive(Debug, Clone)]
pub struct Event {
    pub action: &'static str,
    pub org: Option<OrgId>,
    /// The user an account event is about (shown in their activity).
    pub subject: Option<UserId>,
    /// `None`: the service itself (the cron).
    pub actor: Option<Actor>,
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
            actor: Some(Actor::user(user, email)),
            target: Some(("user", user.to_string())),
            auth_method: None,
            success: true,
            metadata: None,
        }
    }

    /// An event in an org's trail, by one of its users or one of its API tokens (recorded
    /// with `auth_method: api_token`), about `target`.
    pub fn by(
        org: OrgId,
        actor: Actor,
        action: &'static str,
        target: (&'static str, String),
    ) -> Self {
        let auth_method = match actor {
            Actor::Token { .. } => Some("api_token"),
            Actor::ScimToken { .. } => Some("scim"),
            _ => None,
        };
        Event {
            action,
            org: Some(org),
            subject: None,
            actor: Some(actor),
            target: Some(target),
            auth_method,
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

pub fn insert(store: &Store, e: &Event, origin: &Origin, now: Timestamp) -> ApiResult<Stmt> {
    let db = &store.db;
    let (target_type, target_id) = match &e.target {
        Some((t, id)) => (Some(*t), Some(id.as_str())),
        None => (None, None),
    };
    let (actor_type, actor_id, actor_email, actor_name) = match &e.actor {
        Some(a) => a.columns(),
        None => (None, None, None, None),
    };
    db.stmt(
        "INSERT INTO audit_events (id, org_id, subject_user_id, at, actor_id, actor_email, action, \
         target_type, target_id, ip, user_agent, auth_method, success, metadata, actor_type, actor_name) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
        args![
            EventId::new(),
            e.org,
            e.subject,
            now,
            actor_id,
            actor_email,
            e.action,
            target_type,
            target_id,
            origin.ip.as_str(),
            origin.user_agent.as_deref(),
            e.auth_method,
            e.success,
            e.metadata.as_ref().map(|m| m.to_string()),
            actor_type,
            actor_name,
        ],
    )
}

/// `user.locked`, written only by the failed login that brought the counter to exactly
/// `threshold` (in the same batch as the increment), so racing failures log it once.
pub fn insert_if_just_locked(
    store: &Store,
    user: UserId,
    email: &str,
    origin: &Origin,
    threshold: i64,
    now: Timestamp,
) -> ApiResult<Stmt> {
    let db = &store.db;
    db.stmt(
        "INSERT INTO audit_events (id, org_id, subject_user_id, at, actor_id, actor_email, action, \
         target_type, target_id, ip, user_agent, auth_method, success, metadata, actor_type) \
         SELECT ?1, NULL, ?2, ?3, ?2, ?4, 'user.locked', 'user', ?2, ?5, ?6, 'password', 1, NULL, 'user' \
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
    store: &Store,
    user: UserId,
    before: &str,
    limit: u32,
) -> ApiResult<Vec<ActivityRow>> {
    let db = &store.db;
    db.all(
        "SELECT id, at, action, ip, user_agent, auth_method, success FROM audit_events \
         WHERE subject_user_id = ?1 AND id < ?2 ORDER BY id DESC LIMIT ?3",
        args![user, before, i64::from(limit)],
    )
    .await
}

/// An event of an org's trail as the audit API shows it.
#[derive(Debug, Deserialize)]
pub struct AuditRow {
    pub id: String,
    pub at: i64,
    pub actor_type: Option<String>,
    pub actor_id: Option<String>,
    pub actor_email: Option<String>,
    pub actor_name: Option<String>,
    pub action: String,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub auth_method: Option<String>,
    pub success: i64,
    pub metadata: Option<String>,
}

/// Filters of the org trail. `id_from`/`id_to` bound the UUIDv7 ids by time so that a time
/// window is an index range; `since`/`until` then filter on `at` exactly.
pub struct TrailFilter<'a> {
    pub actor_id: Option<&'a str>,
    pub actor_email: Option<&'a str>,
    pub action: Option<&'a str>,
    /// `prefix.*` filters: actions from `prefix.` (inclusive) to `prefix/` (exclusive).
    pub action_range: Option<(&'a str, &'a str)>,
    pub since: Option<Timestamp>,
    pub until: Option<Timestamp>,
    pub id_from: &'a str,
    pub id_to: &'a str,
}

/// One page of the org's trail, newest first: keyset on (org_id, id), the index.
pub async fn org_page(
    store: &OrgStore,
    f: &TrailFilter<'_>,
    before: &str,
    limit: u32,
) -> ApiResult<Vec<AuditRow>> {
    let (db, org) = (&store.global.db, store.org);
    db.all(
        "SELECT id, at, actor_type, actor_id, actor_email, actor_name, action, target_type, \
                target_id, ip, user_agent, auth_method, success, metadata FROM audit_events \
         WHERE org_id = ?1 AND id < ?2 AND id < ?3 AND id >= ?4 \
           AND (?5 IS NULL OR actor_id = ?5) AND (?6 IS NULL OR actor_email = ?6) \
           AND (?7 IS NULL OR action = ?7) AND (?8 IS NULL OR (action >= ?8 AND action < ?12)) \
           AND (?9 IS NULL OR at >= ?9) AND (?10 IS NULL OR at < ?10) \
         ORDER BY id DESC LIMIT ?11",
        args![
            org,
            before,
            f.id_to,
            f.id_from,
            f.actor_id,
            f.actor_email,
            f.action,
            f.action_range.map(|(from, _)| from),
            f.since,
            f.until,
            i64::from(limit),
            f.action_range.map(|(_, to)| to)
        ],
    )
    .await
}

/// Deletes events older than `cutoff`, at most `limit` (oldest first): audit retention.
pub fn purge(store: &Store, cutoff: Timestamp, limit: i64) -> ApiResult<Stmt> {
    let db = &store.db;
    db.stmt(
        "DELETE FROM audit_events WHERE id IN \
         (SELECT id FROM audit_events WHERE at < ?1 ORDER BY at LIMIT ?2)",
        args![cutoff, limit],
    )
}
