//! SCIM provisioning: an org's SCIM tokens and settings, what the provisioning client knows
//! of each member (`externalId`), and suspended memberships.

use super::json_column;
use super::orgs::{OrgRow, ORG_JSON};
use super::{OrgStore, Query, Stmt, Store};
use crate::args;
use crate::domain::ids::{ScimTokenId, UserId};
use crate::domain::roles::OrgRole;
use crate::domain::scim::ScimUserState;
use crate::domain::time::Timestamp;
use crate::error::ApiResult;
use serde::Deserialize;

// ---- Tokens ---------------------------------------------------------------------------

/// A live SCIM token as authentication reads it, with its org (one indexed read).
#[derive(Debug, Deserialize)]
pub struct LiveScimToken {
    pub token_id: ScimTokenId,
    pub token_name: String,
    pub token_last_used_at: Option<i64>,
    /// The org's row (`ORG_JSON`).
    pub org_json: String,
}

impl LiveScimToken {
    pub fn org(&self) -> ApiResult<OrgRow> {
        json_column(&self.org_json)
    }
}

pub fn live_stmt(store: &Store, token_hash: &str) -> ApiResult<Query<LiveScimToken>> {
    let db = &store.db;
    db.query(
        &format!(
            "SELECT t.id AS token_id, t.name AS token_name, t.last_used_at AS token_last_used_at, \
               {ORG_JSON} AS org_json \
             FROM scim_tokens t JOIN orgs o ON o.id = t.org_id \
             WHERE t.token_hash = ?1 AND t.revoked_at IS NULL"
        ),
        args![token_hash],
    )
}

/// The token's use and the org's last provisioning request, after the response.
pub fn touch(store: &OrgStore, id: ScimTokenId, now: Timestamp) -> ApiResult<Vec<Stmt>> {
    let (db, org) = (&store.global.db, store.org);
    Ok(vec![
        db.stmt(
            "UPDATE scim_tokens SET last_used_at = ?3 WHERE org_id = ?1 AND id = ?2",
            args![org, id, now],
        )?,
        db.stmt(
            "INSERT INTO scim_settings (org_id, last_request_at) VALUES (?1, ?2) \
             ON CONFLICT (org_id) DO UPDATE SET last_request_at = excluded.last_request_at",
            args![org, now],
        )?,
    ])
}

/// A token as its list shows it.
#[derive(Debug, Deserialize)]
pub struct ScimTokenRow {
    pub id: ScimTokenId,
    pub name: String,
    pub created_at: i64,
    pub created_by: Option<UserId>,
    pub creator_email: Option<String>,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

const TOKEN_SELECT: &str = "SELECT t.id, t.name, t.created_at, t.created_by, \
       u.email AS creator_email, t.last_used_at, t.revoked_at \
     FROM scim_tokens t LEFT JOIN users u ON u.id = t.created_by";

pub fn insert_token(
    store: &OrgStore,
    id: ScimTokenId,
    name: &str,
    token_hash: &str,
    by: UserId,
    now: Timestamp,
) -> ApiResult<Stmt> {
    let (db, org) = (&store.global.db, store.org);
    db.stmt(
        "INSERT INTO scim_tokens (id, org_id, name, token_hash, created_by, created_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        args![id, org, name, token_hash, by, now],
    )
}

pub fn token_stmt(store: &OrgStore, id: ScimTokenId) -> ApiResult<Query<ScimTokenRow>> {
    let (db, org) = (&store.global.db, store.org);
    db.query(
        &format!("{TOKEN_SELECT} WHERE t.org_id = ?1 AND t.id = ?2"),
        args![org, id],
    )
}

/// Newest first, one keyset page.
pub fn tokens_stmt(store: &OrgStore, before: &str, limit: u32) -> ApiResult<Query<ScimTokenRow>> {
    let (db, org) = (&store.global.db, store.org);
    db.query(
        &format!("{TOKEN_SELECT} WHERE t.org_id = ?1 AND t.id < ?2 ORDER BY t.id DESC LIMIT ?3"),
        args![org, before, i64::from(limit)],
    )
}

/// Revokes once: a revoked token stays as it was.
pub fn revoke_token(store: &OrgStore, id: ScimTokenId, now: Timestamp) -> ApiResult<Stmt> {
    let (db, org) = (&store.global.db, store.org);
    db.stmt(
        "UPDATE scim_tokens SET revoked_at = ?3 WHERE org_id = ?1 AND id = ?2 AND revoked_at IS NULL",
        args![org, id, now],
    )
}

// ---- Settings -------------------------------------------------------------------------

/// The org's provisioning settings; defaults when it never set them.
#[derive(Debug, Clone, Deserialize)]
pub struct SettingsRow {
    pub default_role: String,
    pub group_role_map: String,
    pub activation: Option<String>,
    pub last_request_at: Option<i64>,
    /// The org's active SSO connection (the oldest): what `activation: NULL` follows, and
    /// what `sso` provisions accounts through.
    pub sso_connection: Option<crate::domain::ids::ConnectionId>,
}

/// Always one row.
pub fn settings_stmt(store: &OrgStore) -> ApiResult<Query<SettingsRow>> {
    let (db, org) = (&store.global.db, store.org);
    db.query(
        "SELECT COALESCE(s.default_role, 'viewer') AS default_role, \
           COALESCE(s.group_role_map, '{}') AS group_role_map, s.activation, s.last_request_at, \
           (SELECT c.id FROM sso_connections c WHERE c.org_id = ?1 AND c.status = 'active' \
             ORDER BY c.created_at LIMIT 1) AS sso_connection \
         FROM (SELECT 1) LEFT JOIN scim_settings s ON s.org_id = ?1",
        args![org],
    )
}

pub fn put_settings(
    store: &OrgStore,
    default_role: &str,
    group_role_map: &str,
    activation: Option<&str>,
) -> ApiResult<Stmt> {
    let (db, org) = (&store.global.db, store.org);
    db.stmt(
        "INSERT INTO scim_settings (org_id, default_role, group_role_map, activation) \
         VALUES (?1, ?2, ?3, ?4) ON CONFLICT (org_id) DO UPDATE SET \
           default_role = excluded.default_role, group_role_map = excluded.group_role_map, \
           activation = excluded.activation",
        args![org, default_role, group_role_map, activation],
    )
}

// ---- Members as the provisioning client sees them ------------------------------------------

/// Suspends (`suspended` true) or restores the membership; the person keeps their role,
/// workspaces, groups, grants and seat. The owner is never suspended.
pub fn set_suspended(
    store: &OrgStore,
    user: UserId,
    suspended: bool,
    now: Timestamp,
) -> ApiResult<Stmt> {
    let (db, org) = (&store.global.db, store.org);
    db.stmt(
        "UPDATE org_members SET suspended_at = CASE WHEN ?3 THEN COALESCE(suspended_at, ?4) END \
         WHERE org_id = ?1 AND user_id = ?2 AND role <> 'owner'",
        args![org, user, suspended, now],
    )
}

/// Records (or replaces) the member as the client wrote them. The org's unique indexes on
/// the login name and the client's id make a duplicate fail the batch (`uniqueness`).
pub fn put_user(
    store: &OrgStore,
    user: UserId,
    state: &ScimUserState,
    now: Timestamp,
) -> ApiResult<Stmt> {
    let (db, org) = (&store.global.db, store.org);
    let entries = |list: &[crate::domain::scim::MultiValue]| {
        serde_json::Value::Array(
            list.iter()
                .map(|e| {
                    serde_json::json!({"value": e.value, "type": e.type_, "primary": e.primary})
                })
                .collect(),
        )
        .to_string()
    };
    db.stmt(
        "INSERT INTO scim_users (org_id, user_id, user_name, user_name_key, external_id, \
           given_name, family_name, display_name, emails, phone_numbers, created_at, updated_at) \
         VALUES (?1, ?2, ?3, lower(?3), ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10) \
         ON CONFLICT (org_id, user_id) DO UPDATE SET user_name = excluded.user_name, \
           user_name_key = excluded.user_name_key, external_id = excluded.external_id, \
           given_name = excluded.given_name, family_name = excluded.family_name, \
           display_name = excluded.display_name, emails = excluded.emails, \
           phone_numbers = excluded.phone_numbers, updated_at = excluded.updated_at",
        args![
            org,
            user,
            state.user_name.as_str(),
            state.external_id.as_deref(),
            state.given_name.as_str(),
            state.family_name.as_str(),
            state.display_name.as_deref(),
            entries(&state.emails),
            entries(&state.phone_numbers),
            now
        ],
    )
}

// ---- Users and Groups as SCIM resources ---------------------------------------------------

/// A member of the org as a SCIM User shows them.
#[derive(Debug, Clone, Deserialize)]
pub struct ScimUserRow {
    pub id: UserId,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub phone: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub role: OrgRole,
    pub suspended_at: Option<i64>,
    /// The org created the account (it may delete it).
    pub managed: i64,
    /// As the client wrote them (`None` for a member the client never wrote).
    pub user_name: Option<String>,
    pub external_id: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub display_name: Option<String>,
    /// JSON arrays of `{value, type, primary}`.
    pub emails: Option<String>,
    pub phone_numbers: Option<String>,
    pub scim_created_at: Option<i64>,
    pub scim_updated_at: Option<i64>,
}

const USER_SELECT: &str = "SELECT u.id, u.email, u.first_name, u.last_name, u.phone, \
       u.created_at, u.updated_at, m.role, m.suspended_at, \
       (u.created_by_org_id IS NOT NULL AND u.created_by_org_id = m.org_id) AS managed, \
       s.user_name, s.external_id, s.given_name, s.family_name, s.display_name, s.emails, \
       s.phone_numbers, s.created_at AS scim_created_at, s.updated_at AS scim_updated_at \
     FROM org_members m JOIN users u ON u.id = m.user_id \
     LEFT JOIN scim_users s ON s.org_id = m.org_id AND s.user_id = m.user_id";

/// The conditions of a filter as SQL after `… = ?1` (the org), each with its argument from
/// `?2` on: `?N` in a condition stands for its own argument's placeholder.
struct Conditions {
    sql: String,
    args: Vec<super::Arg>,
}

impl Conditions {
    /// `impossible`: a filter no row can meet (answered by `AND 0`, reading nothing).
    fn new(impossible: bool) -> Self {
        Conditions {
            sql: if impossible {
                " AND 0".into()
            } else {
                String::new()
            },
            args: Vec::new(),
        }
    }

    fn and(&mut self, cond: &str, arg: super::Arg) {
        self.args.push(arg);
        let placeholder = format!("?{}", self.args.len() + 1);
        self.sql.push_str(&cond.replace("?N", &placeholder));
    }

    fn finish(self) -> (String, Vec<super::Arg>) {
        (self.sql, self.args)
    }
}

/// The equality conditions of a Users filter, all of which must hold (`None`: no condition).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct UserQuery {
    pub id: Option<UserId>,
    /// `userName`: the client's login name (case-insensitively), or for a member the client
    /// never wrote, the account's email.
    pub user_name: Option<String>,
    /// An email value: the account's (lower-cased) email.
    pub email: Option<String>,
    pub external_id: Option<String>,
    /// `displayName`: "first last", compared exactly.
    pub display_name: Option<String>,
    /// A condition no row can meet (two different values for one attribute, an id that is
    /// no UUID): the answer is an empty list, read without touching a row.
    pub impossible: bool,
}

impl UserQuery {
    pub fn is_empty(&self) -> bool {
        *self == UserQuery::default()
    }

    /// The query names at most one member (by id, login name, email or client id): its
    /// matches are counted from the rows themselves, with no second statement.
    pub fn names_one(&self) -> bool {
        self.id.is_some()
            || self.user_name.is_some()
            || self.email.is_some()
            || self.external_id.is_some()
    }

    /// The WHERE clause after `m.org_id = ?1`, with its arguments from `?2` on. Each key is
    /// found by its own index (the account by email, the client's id by
    /// `scim_users_external`), then the membership by its primary key.
    fn clause(&self) -> (String, Vec<super::Arg>) {
        let mut c = Conditions::new(self.impossible);
        if let Some(id) = self.id {
            c.and(" AND m.user_id = ?N", id.into());
        }
        if let Some(name) = &self.user_name {
            c.and(" AND m.user_id IN (SELECT user_id FROM scim_users \
                   WHERE org_id = ?1 AND user_name_key = lower(?N) \
                   UNION ALL SELECT id FROM users WHERE email = lower(?N) \
                   AND NOT EXISTS (SELECT 1 FROM scim_users x WHERE x.org_id = ?1 AND x.user_id = users.id))",
                name.as_str().into(),
            );
        }
        if let Some(email) = &self.email {
            c.and(
                " AND m.user_id = (SELECT id FROM users WHERE email = ?N)",
                email.as_str().into(),
            );
        }
        if let Some(ext) = &self.external_id {
            c.and(" AND m.user_id = (SELECT user_id FROM scim_users WHERE org_id = ?1 AND external_id = ?N)",
                ext.as_str().into(),
            );
        }
        if let Some(name) = &self.display_name {
            c.and(
                " AND COALESCE(s.display_name, u.first_name || ' ' || u.last_name) = ?N",
                name.as_str().into(),
            );
        }
        c.finish()
    }
}

/// One page of the org's members matching `q`, in a stable order (the membership's key),
/// `offset` rows in.
pub fn users_stmt(
    store: &OrgStore,
    q: &UserQuery,
    offset: i64,
    limit: i64,
) -> ApiResult<Query<ScimUserRow>> {
    let (db, org) = (&store.global.db, store.org);
    let (clause, extra) = q.clause();
    let n = extra.len() + 2;
    let mut args = args![org];
    args.extend(extra);
    args.push(limit.into());
    args.push(offset.into());
    db.query(
        &format!(
            "{USER_SELECT} WHERE m.org_id = ?1{clause} ORDER BY m.user_id LIMIT ?{n} OFFSET ?{}",
            n + 1
        ),
        args,
    )
}

#[derive(Debug, Deserialize)]
pub struct Total {
    pub n: i64,
}

/// How many members match `q`: without a condition the org's kept count (one row), else the
/// matches themselves (each condition names at most a few).
pub fn users_total_stmt(store: &OrgStore, q: &UserQuery) -> ApiResult<Query<Total>> {
    let (db, org) = (&store.global.db, store.org);
    if q.is_empty() {
        return db.query(
            "SELECT member_count AS n FROM orgs WHERE id = ?1",
            args![org],
        );
    }
    let (clause, extra) = q.clause();
    let mut args = args![org];
    args.extend(extra);
    db.query(
        &format!(
            "SELECT COUNT(*) AS n FROM org_members m JOIN users u ON u.id = m.user_id \
             LEFT JOIN scim_users s ON s.org_id = m.org_id AND s.user_id = m.user_id \
             WHERE m.org_id = ?1{clause}"
        ),
        args,
    )
}

pub fn user_stmt(store: &OrgStore, id: UserId) -> ApiResult<Query<ScimUserRow>> {
    users_stmt(
        store,
        &UserQuery {
            id: Some(id),
            ..UserQuery::default()
        },
        0,
        1,
    )
}

/// A group of the org as a SCIM Group shows it; `members_json` a JSON array of
/// `{value, display}` (empty when members were not asked for).
#[derive(Debug, Clone, Deserialize)]
pub struct ScimGroupRow {
    pub id: crate::domain::ids::GroupId,
    pub name: String,
    pub external_id: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub members_json: String,
}

/// The equality conditions of a Groups filter.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct GroupQuery {
    pub id: Option<crate::domain::ids::GroupId>,
    /// `displayName`: compared case-insensitively, as group names are unique.
    pub display_name: Option<String>,
    pub external_id: Option<String>,
    /// `members[value eq "…"]`: groups holding this member.
    pub member: Option<UserId>,
    pub impossible: bool,
}

impl GroupQuery {
    pub fn is_empty(&self) -> bool {
        *self == GroupQuery::default()
    }

    fn clause(&self) -> (String, Vec<super::Arg>) {
        let mut c = Conditions::new(self.impossible);
        if let Some(id) = self.id {
            c.and(" AND g.id = ?N", id.into());
        }
        if let Some(name) = &self.display_name {
            c.and(" AND g.name_key = lower(?N)", name.as_str().into());
        }
        if let Some(ext) = &self.external_id {
            c.and(" AND g.external_id = ?N", ext.as_str().into());
        }
        if let Some(member) = self.member {
            c.and(" AND g.id IN (SELECT group_id FROM group_members WHERE org_id = ?1 AND user_id = ?N)",
                member.into(),
            );
        }
        c.finish()
    }
}

pub fn groups_stmt(
    store: &OrgStore,
    q: &GroupQuery,
    with_members: bool,
    offset: i64,
    limit: i64,
) -> ApiResult<Query<ScimGroupRow>> {
    let (db, org) = (&store.global.db, store.org);
    let (clause, extra) = q.clause();
    let n = extra.len() + 2;
    let mut args = args![org];
    args.extend(extra);
    args.push(limit.into());
    args.push(offset.into());
    let members = if with_members {
        "(SELECT json_group_array(json_object('value', gm.user_id, 'display', u.email)) \
           FROM group_members gm JOIN users u ON u.id = gm.user_id WHERE gm.group_id = g.id)"
    } else {
        "'[]'"
    };
    db.query(
        &format!(
            "SELECT g.id, g.name, g.external_id, g.created_at, g.updated_at, {members} AS members_json \
             FROM groups g WHERE g.org_id = ?1{clause} ORDER BY g.id LIMIT ?{n} OFFSET ?{}",
            n + 1
        ),
        args,
    )
}

pub fn groups_total_stmt(store: &OrgStore, q: &GroupQuery) -> ApiResult<Query<Total>> {
    let (db, org) = (&store.global.db, store.org);
    let (clause, extra) = q.clause();
    let mut args = args![org];
    args.extend(extra);
    db.query(
        &format!("SELECT COUNT(*) AS n FROM groups g WHERE g.org_id = ?1{clause}"),
        args,
    )
}

/// A group's client id and name, as SCIM sets them.
pub fn set_group_external(
    store: &OrgStore,
    group: crate::domain::ids::GroupId,
    external_id: Option<&str>,
) -> ApiResult<Stmt> {
    let (db, org) = (&store.global.db, store.org);
    db.stmt(
        "UPDATE groups SET external_id = ?3 WHERE org_id = ?1 AND id = ?2",
        args![org, group, external_id],
    )
}

/// A group's name as the client sets it (unique in the org case-insensitively: a duplicate
/// fails the batch, `uniqueness`).
pub fn rename_group(
    store: &OrgStore,
    group: crate::domain::ids::GroupId,
    name: &str,
    now: Timestamp,
) -> ApiResult<Stmt> {
    let (db, org) = (&store.global.db, store.org);
    db.stmt(
        "UPDATE groups SET name = ?3, name_key = lower(?3), updated_at = ?4 \
         WHERE org_id = ?1 AND id = ?2",
        args![org, group, name, now],
    )
}

/// Every member out of the group (a PATCH `remove` of `members`, a PUT's replacement).
pub fn clear_group(store: &OrgStore, group: crate::domain::ids::GroupId) -> ApiResult<Stmt> {
    let (db, org) = (&store.global.db, store.org);
    db.stmt(
        "DELETE FROM group_members WHERE org_id = ?1 AND group_id = ?2",
        args![org, group],
    )
}

/// A member's role, whether the client provisioned them, and the names of their groups
/// (JSON array): what the settings' group → role map decides by.
#[derive(Debug, Deserialize)]
pub struct MemberGroups {
    pub user_id: UserId,
    pub role: OrgRole,
    pub provisioned: i64,
    pub groups: String,
}

pub fn member_groups_stmt(store: &OrgStore, users: &[UserId]) -> ApiResult<Query<MemberGroups>> {
    let (db, org) = (&store.global.db, store.org);
    let ids = serde_json::to_string(users).unwrap_or_else(|_| "[]".into());
    db.query(
        "SELECT m.user_id, m.role, \
           EXISTS (SELECT 1 FROM scim_users s WHERE s.org_id = ?1 AND s.user_id = m.user_id) AS provisioned, \
           (SELECT json_group_array(g.name) FROM group_members gm JOIN groups g ON g.id = gm.group_id \
              WHERE gm.org_id = ?1 AND gm.user_id = m.user_id) AS groups \
         FROM org_members m \
         WHERE m.org_id = ?1 AND m.user_id IN (SELECT value FROM json_each(?2))",
        args![org, ids],
    )
}
