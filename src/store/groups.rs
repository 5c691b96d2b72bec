//! Groups of org members, their restrictions, and their members.

use super::{Db, Found, OrgStore, Query, Stmt};
use crate::args;
use crate::domain::ids::{GroupId, OrgId, UserId};
use crate::domain::roles::OrgRole;
use crate::domain::time::Timestamp;
use crate::error::ApiResult;
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
pub struct GroupRow {
    pub id: GroupId,
    pub org_id: OrgId,
    pub name: String,
    pub description: Option<String>,
    /// JSON array of `{type, id}`.
    pub restrictions: String,
    /// `restrictions` is non-empty.
    pub restricting: i64,
    pub member_count: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

const SELECT: &str =
    "SELECT g.id, g.org_id, g.name, g.description, g.restrictions, g.restricting, \
       (SELECT COUNT(*) FROM group_members gm WHERE gm.group_id = g.id) AS member_count, \
       g.created_at, g.updated_at FROM groups g";

pub async fn page(store: &OrgStore, after: &str, limit: u32) -> ApiResult<Vec<GroupRow>> {
    let (db, org) = (&store.global.db, store.org);
    db.all(
        &format!("{SELECT} WHERE g.org_id = ?1 AND g.id > ?2 ORDER BY g.id LIMIT ?3"),
        args![org, after, i64::from(limit)],
    )
    .await
}

pub fn one_stmt(store: &OrgStore, id: GroupId) -> ApiResult<Query<GroupRow>> {
    let (db, org) = (&store.global.db, store.org);
    db.query(
        &format!("{SELECT} WHERE g.org_id = ?1 AND g.id = ?2"),
        args![org, id],
    )
}

pub async fn one(store: &OrgStore, id: GroupId) -> ApiResult<Option<GroupRow>> {
    let db = &store.global.db;
    db.first_of(one_stmt(store, id)?).await
}

pub struct GroupFields<'a> {
    pub name: &'a str,
    pub description: Option<&'a str>,
    /// JSON array of `{type, id}`; empty means no restriction.
    pub restrictions: &'a str,
    pub restricting: bool,
}

/// A restricting group may hold no owner or admin: the guard fails the batch if it would.
fn no_privileged_members_if_restricting(db: &Db, id: GroupId) -> ApiResult<Stmt> {
    super::guard(
        db,
        "NOT EXISTS (SELECT 1 FROM groups g JOIN group_members gm ON gm.group_id = g.id \
           JOIN org_members m ON m.org_id = g.org_id AND m.user_id = gm.user_id \
           WHERE g.id = ?1 AND g.restricting = 1 AND m.role IN ('owner', 'admin'))",
        args![id],
    )
}

/// A duplicate name (case-insensitive) fails on the unique key (`conflict`).
pub fn insert(
    store: &OrgStore,
    id: GroupId,
    f: &GroupFields<'_>,
    now: Timestamp,
) -> ApiResult<Stmt> {
    let (db, org) = (&store.global.db, store.org);
    db.stmt(
        "INSERT INTO groups (id, org_id, name, name_key, description, restrictions, restricting, created_at, updated_at) \
         VALUES (?1, ?2, ?3, lower(?3), ?4, ?5, ?6, ?7, ?7)",
        args![id, org, f.name, f.description, f.restrictions, f.restricting, now],
    )
}

pub fn update(
    store: &OrgStore,
    id: GroupId,
    f: &GroupFields<'_>,
    now: Timestamp,
) -> ApiResult<Vec<Stmt>> {
    let (db, org) = (&store.global.db, store.org);
    Ok(vec![
        db.stmt(
            "UPDATE groups SET name = ?3, name_key = lower(?3), description = ?4, restrictions = ?5, \
             restricting = ?6, updated_at = ?7 WHERE org_id = ?1 AND id = ?2",
            args![org, id, f.name, f.description, f.restrictions, f.restricting, now],
        )?,
        no_privileged_members_if_restricting(db, id)?,
    ])
}

/// The group, its memberships and the grants made to it.
pub fn delete(store: &OrgStore, id: GroupId) -> ApiResult<Vec<Stmt>> {
    let (db, org) = (&store.global.db, store.org);
    Ok(vec![
        db.stmt(
            "DELETE FROM grants WHERE org_id = ?1 AND principal_type = 'group' AND principal_id = ?2",
            args![org, id],
        )?,
        db.stmt("DELETE FROM groups WHERE org_id = ?1 AND id = ?2", args![org, id])?,
    ])
}

/// Adds an org member (a no-op if already in); guarded like `update`, so an owner or admin
/// never lands in a restricting group, even when a promotion races.
pub fn add_member(
    store: &OrgStore,
    id: GroupId,
    user: UserId,
    now: Timestamp,
) -> ApiResult<Vec<Stmt>> {
    let (db, org) = (&store.global.db, store.org);
    Ok(vec![
        db.stmt(
            "INSERT OR IGNORE INTO group_members (group_id, user_id, org_id, added_at) \
             SELECT ?2, ?3, ?1, ?4 WHERE EXISTS (SELECT 1 FROM org_members WHERE org_id = ?1 AND user_id = ?3)",
            args![org, id, user, now],
        )?,
        no_privileged_members_if_restricting(db, id)?,
    ])
}

/// Where `user` stands with group `id` of `org`, in one read: `None` if the group is not the
/// org's.
#[derive(Debug, Deserialize)]
pub struct MembershipStanding {
    pub restricting: i64,
    /// The user's org role; `None` if they are not a member of the org.
    pub org_role: Option<OrgRole>,
    /// Already in the group.
    pub in_group: i64,
}

pub async fn membership_standing(
    store: &OrgStore,
    id: GroupId,
    user: UserId,
) -> ApiResult<Option<MembershipStanding>> {
    let (db, org) = (&store.global.db, store.org);
    db.first(
        "SELECT g.restricting, \
           (SELECT role FROM org_members WHERE org_id = ?1 AND user_id = ?3) AS org_role, \
           EXISTS (SELECT 1 FROM group_members WHERE group_id = g.id AND user_id = ?3) AS in_group \
         FROM groups g WHERE g.id = ?2 AND g.org_id = ?1",
        args![org, id, user],
    )
    .await
}

pub fn remove_member(store: &OrgStore, id: GroupId, user: UserId) -> ApiResult<Stmt> {
    let (db, org) = (&store.global.db, store.org);
    db.stmt(
        "DELETE FROM group_members WHERE org_id = ?3 AND group_id = ?1 AND user_id = ?2",
        args![id, user, org],
    )
}

#[derive(Debug, Deserialize)]
pub struct GroupMemberRow {
    pub user_id: UserId,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub role: OrgRole,
    pub added_at: i64,
}

/// One page of the group's members, with the check that the group is `org`'s in the same
/// round trip: `None` if it is not.
pub async fn members(
    store: &OrgStore,
    id: GroupId,
    after: &str,
    limit: u32,
) -> ApiResult<Option<Vec<GroupMemberRow>>> {
    let (db, org) = (&store.global.db, store.org);
    let found = db
        .parent_and_list::<Found, GroupMemberRow>(
            db.query(
                "SELECT 1 AS found FROM groups WHERE id = ?1 AND org_id = ?2",
                args![id, org],
            )?,
            db.query(
                "SELECT gm.user_id, u.email, u.first_name, u.last_name, m.role, gm.added_at \
                 FROM group_members gm JOIN users u ON u.id = gm.user_id \
                 JOIN org_members m ON m.org_id = gm.org_id AND m.user_id = gm.user_id \
                 WHERE gm.group_id = ?1 AND gm.org_id = ?2 AND gm.user_id > ?3 \
                 ORDER BY gm.user_id LIMIT ?4",
                args![id, org, after, i64::from(limit)],
            )?,
        )
        .await?;
    Ok(found.map(|(_, rows)| rows))
}

/// Whether the user is in a restricting group of the org (owners and admins may not be).
pub async fn is_restricted(store: &OrgStore, user: UserId) -> ApiResult<bool> {
    let (db, org) = (&store.global.db, store.org);
    Ok(db
        .first::<Found>(
            "SELECT 1 AS found FROM group_members gm JOIN groups g ON g.id = gm.group_id \
             WHERE gm.org_id = ?1 AND gm.user_id = ?2 AND g.restricting = 1",
            args![org, user],
        )
        .await?
        .is_some())
}

#[derive(Debug, Deserialize)]
pub struct GroupRef {
    pub id: GroupId,
    pub restricting: i64,
}

/// Which of `ids` are groups of the org, and whether each restricts (`GroupRef` rows).
pub fn existing_stmt(store: &OrgStore, ids: &[GroupId]) -> ApiResult<Query<GroupRef>> {
    let (db, org) = (&store.global.db, store.org);
    let list = serde_json::to_string(ids).unwrap_or_default();
    db.query(
        "SELECT id, restricting FROM groups WHERE org_id = ?1 AND id IN (SELECT value FROM json_each(?2))",
        args![org, list],
    )
}

/// Puts a newcomer into groups (member creation, invitation acceptance); restricting groups
/// are skipped for owners and admins, whom they may never hold.
pub fn join_all(
    store: &OrgStore,
    user: UserId,
    groups_json: &str,
    now: Timestamp,
) -> ApiResult<Stmt> {
    let (db, org) = (&store.global.db, store.org);
    db.stmt(
        "INSERT OR IGNORE INTO group_members (group_id, user_id, org_id, added_at) \
         SELECT g.id, ?2, ?1, ?4 FROM json_each(?3) j CROSS JOIN groups g ON g.id = j.value \
         WHERE g.org_id = ?1 AND NOT (g.restricting = 1 AND EXISTS (SELECT 1 FROM org_members m \
           WHERE m.org_id = ?1 AND m.user_id = ?2 AND m.role IN ('owner', 'admin')))",
        args![org, user, groups_json, now],
    )
}
