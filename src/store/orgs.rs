//! Organizations, workspaces and memberships (the part the identity routes need; the
//! tenancy routes extend it).

use super::{OrgStore, Query, Stmt, Store};
use crate::args;
use crate::domain::ids::{OrgId, UserId, WorkspaceId};
use crate::domain::roles::OrgRole;
use crate::domain::roles::WorkspaceRole;
use crate::domain::time::Timestamp;
use crate::error::ApiResult;
use serde::Deserialize;

pub struct NewOrg<'a> {
    pub id: OrgId,
    pub name: &'a str,
    pub description: Option<&'a str>,
    pub logo_url: Option<&'a str>,
    pub owner: UserId,
    pub member_limit: i64,
    pub now: Timestamp,
}

/// The org, its owner's membership: one unit.
pub fn insert(store: &Store, o: &NewOrg<'_>) -> ApiResult<Vec<Stmt>> {
    let db = &store.db;
    Ok(vec![
        db.stmt(
            "INSERT INTO orgs (id, name, description, logo_url, owner_id, member_limit, created_at, updated_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
            args![o.id, o.name, o.description, o.logo_url, o.owner, o.member_limit, o.now],
        )?,
        db.stmt(
            "INSERT INTO org_members (org_id, user_id, role, joined_at) VALUES (?1, ?2, ?3, ?4)",
            args![o.id, o.owner, OrgRole::Owner.as_str(), o.now],
        )?,
    ])
}

pub fn insert_workspace(
    store: &OrgStore,
    id: WorkspaceId,
    name: &str,
    now: Timestamp,
) -> ApiResult<Stmt> {
    let (db, org) = (&store.global.db, store.org);
    db.stmt(
        "INSERT INTO workspaces (id, org_id, name, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?4)",
        args![id, org, name, now],
    )
}

/// One row per (org membership × workspace of that org), with the explicit workspace role
/// if any; the caller derives effective roles. Orgs without workspaces appear once.
#[derive(Debug, Deserialize)]
pub struct MembershipRow {
    pub org_id: OrgId,
    pub org_name: String,
    pub role: OrgRole,
    pub workspace_id: Option<WorkspaceId>,
    pub workspace_name: Option<String>,
    pub workspace_role: Option<WorkspaceRole>,
}

pub async fn memberships(store: &Store, user: UserId) -> ApiResult<Vec<MembershipRow>> {
    let db = &store.db;
    db.all_of(memberships_stmt(store, user)?).await
}

pub fn memberships_stmt(store: &Store, user: UserId) -> ApiResult<Query<MembershipRow>> {
    let db = &store.db;
    db.query(
        "SELECT m.org_id, o.name AS org_name, m.role, w.id AS workspace_id, w.name AS workspace_name, \
                wm.role AS workspace_role \
         FROM org_members m JOIN orgs o ON o.id = m.org_id \
         LEFT JOIN workspaces w ON w.org_id = m.org_id \
         LEFT JOIN workspace_members wm ON wm.workspace_id = w.id AND wm.user_id = m.user_id \
         WHERE m.user_id = ?1 AND m.suspended_at IS NULL ORDER BY o.name, o.id, w.name, w.id",
        args![user],
    )
}

#[derive(Debug, Clone, Deserialize)]
pub struct OrgRow {
    pub id: OrgId,
    pub name: String,
    pub description: Option<String>,
    pub logo_url: Option<String>,
    pub owner_id: UserId,
    pub member_limit: i64,
    pub created_at: i64,
    pub updated_at: i64,
    /// Bumped by triggers with every change a directory page shows (migration 0006).
    pub directory_version: i64,
}

/// An org with the caller's role in it.
#[derive(Debug, Clone, Deserialize)]
pub struct OrgWithRole {
    #[serde(flatten)]
    pub org: OrgRow,
    pub role: OrgRole,
}

/// The org row as one JSON column (`json_column::<OrgRow>`), for reads whose row is
/// something else (the credential's).
pub const ORG_JSON: &str = "json_object('id', o.id, 'name', o.name, 'description', o.description, \
     'logo_url', o.logo_url, 'owner_id', o.owner_id, 'member_limit', o.member_limit, \
     'created_at', o.created_at, 'updated_at', o.updated_at, \
     'directory_version', o.directory_version)";

pub const ORG_COLUMNS: &str =
    "o.id, o.name, o.description, o.logo_url, o.owner_id, o.member_limit, \
     o.created_at, o.updated_at, o.directory_version";

/// The access gate's one read: the org and the user's role, if the user belongs to it.
pub async fn with_role(store: &OrgStore, user: UserId) -> ApiResult<Option<OrgWithRole>> {
    let (db, org) = (&store.global.db, store.org);
    db.first(
        &format!(
            "SELECT {ORG_COLUMNS}, m.role FROM orgs o JOIN org_members m ON m.org_id = o.id \
             WHERE o.id = ?1 AND m.user_id = ?2 AND m.suspended_at IS NULL"
        ),
        args![org, user],
    )
    .await
}

/// The user's orgs in creation order, one page.
pub async fn list_for_user(
    store: &Store,
    user: UserId,
    after: &str,
    limit: u32,
) -> ApiResult<Vec<OrgWithRole>> {
    let db = &store.db;
    db.all(
        &format!(
            "SELECT {ORG_COLUMNS}, m.role FROM org_members m JOIN orgs o ON o.id = m.org_id \
             WHERE m.user_id = ?1 AND m.suspended_at IS NULL AND o.id > ?2 ORDER BY o.id LIMIT ?3"
        ),
        args![user, after, i64::from(limit)],
    )
    .await
}

pub struct OrgChange<'a> {
    pub name: Option<&'a str>,
    /// `Some(None)` clears.
    pub description: Option<Option<&'a str>>,
    pub logo_url: Option<Option<&'a str>>,
}

pub fn update(store: &OrgStore, c: &OrgChange<'_>, now: Timestamp) -> ApiResult<Stmt> {
    let (db, org) = (&store.global.db, store.org);
    db.stmt(
        "UPDATE orgs SET name = COALESCE(?2, name), \
         description = CASE WHEN ?3 = 1 THEN ?4 ELSE description END, \
         logo_url = CASE WHEN ?5 = 1 THEN ?6 ELSE logo_url END, updated_at = ?7 WHERE id = ?1",
        args![
            org,
            c.name,
            c.description.is_some(),
            c.description.flatten(),
            c.logo_url.is_some(),
            c.logo_url.flatten(),
            now
        ],
    )
}

/// Everything of the org, in one batch: its audit trail, the accounts it manages alone, the
/// managed-account mark on accounts that live on elsewhere, and the org row, whose deletion
/// cascades to workspaces and memberships.
pub fn delete(store: &OrgStore) -> ApiResult<Vec<Stmt>> {
    let (db, org) = (&store.global.db, store.org);
    Ok(vec![
        db.stmt("DELETE FROM audit_events WHERE org_id = ?1", args![org])?,
        // Accounts the org created and that belong to no other org are the org's data too.
        db.stmt(
            "DELETE FROM users WHERE created_by_org_id = ?1 AND NOT EXISTS \
             (SELECT 1 FROM org_members m WHERE m.user_id = users.id AND m.org_id <> ?1) \
             AND NOT EXISTS (SELECT 1 FROM orgs o WHERE o.owner_id = users.id AND o.id <> ?1)",
            args![org],
        )?,
        db.stmt(
            "UPDATE users SET created_by_org_id = NULL WHERE created_by_org_id = ?1",
            args![org],
        )?,
        db.stmt("DELETE FROM orgs WHERE id = ?1", args![org])?,
    ])
}

/// Ownership moves from `from` to `to` (a member); the previous owner becomes admin.
/// The guard fails the batch if `from` was no longer the owner or `to` no longer a member.
pub fn transfer(
    store: &OrgStore,
    from: UserId,
    to: UserId,
    now: Timestamp,
) -> ApiResult<Vec<Stmt>> {
    let (db, org) = (&store.global.db, store.org);
    Ok(vec![
        db.stmt(
            "UPDATE orgs SET owner_id = ?3, updated_at = ?4 WHERE id = ?1 AND owner_id = ?2 \
             AND EXISTS (SELECT 1 FROM org_members WHERE org_id = ?1 AND user_id = ?3)",
            args![org, from, to, now],
        )?,
        super::guard(
            db,
            "EXISTS (SELECT 1 FROM orgs WHERE id = ?1 AND owner_id = ?2)",
            args![org, to],
        )?,
        db.stmt(
            "UPDATE org_members SET role = 'owner' WHERE org_id = ?1 AND user_id = ?2",
            args![org, to],
        )?,
        db.stmt(
            "UPDATE org_members SET role = 'admin' WHERE org_id = ?1 AND user_id = ?2",
            args![org, from],
        )?,
    ])
}

#[derive(Debug, Deserialize)]
pub struct RoleCount {
    pub role: OrgRole,
    pub n: i64,
}

pub async fn role_counts(store: &OrgStore) -> ApiResult<Vec<RoleCount>> {
    let (db, org) = (&store.global.db, store.org);
    db.all(
        "SELECT role, COUNT(*) AS n FROM org_members WHERE org_id = ?1 GROUP BY role",
        args![org],
    )
    .await
}

pub fn set_member_limit(store: &OrgStore, limit: i64, now: Timestamp) -> ApiResult<Stmt> {
    let (db, org) = (&store.global.db, store.org);
    db.stmt(
        "UPDATE orgs SET member_limit = ?2, updated_at = ?3 WHERE id = ?1",
        args![org, limit, now],
    )
}

/// An org by id, for the operator (no membership involved).
pub fn by_id_stmt(store: &OrgStore) -> ApiResult<Query<OrgRow>> {
    let (db, org) = (&store.global.db, store.org);
    db.query(
        &format!("SELECT {ORG_COLUMNS} FROM orgs o WHERE o.id = ?1"),
        args![org],
    )
}

pub async fn by_id(store: &OrgStore) -> ApiResult<Option<OrgRow>> {
    let db = &store.global.db;
    db.first_of(by_id_stmt(store)?).await
}
