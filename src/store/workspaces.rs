//! Workspaces, their metrics, and workspace memberships.

use super::{OrgStore, Query, Stmt, Together};
use crate::args;
use crate::domain::ids::{ApiTokenId, InvitationId, OrgId, UserId, WorkspaceId};
use crate::domain::roles::OrgRole;
use crate::domain::roles::WorkspaceRole;
use crate::domain::time::Timestamp;
use crate::error::ApiResult;
use serde::Deserialize;

/// A workspace with its overview metrics and the caller's explicit role in it.
#[derive(Debug, Clone, Deserialize)]
pub struct WorkspaceRow {
    pub id: WorkspaceId,
    pub org_id: OrgId,
    pub name: String,
    pub description: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    /// Users with access: org members above `member` (inherited) plus workspace-only members.
    pub member_count: i64,
    /// Pending (unexpired) invitations that name this workspace.
    pub pending_invitations: i64,
    /// Groups holding a resource grant in this workspace.
    pub group_count: i64,
    /// Live API tokens that reach this workspace: org-wide ones and those listing it.
    pub api_token_count: i64,
    pub explicit_role: Option<WorkspaceRole>,
}

const SELECT: &str = "SELECT w.id, w.org_id, w.name, w.description, w.created_at, w.updated_at, \
       (SELECT COUNT(*) FROM org_members m WHERE m.org_id = ?1 AND m.role <> 'member') + \
       (SELECT COUNT(*) FROM workspace_members x JOIN org_members m ON m.org_id = x.org_id \
          AND m.user_id = x.user_id WHERE x.workspace_id = w.id AND m.role = 'member') AS member_count, \
       (SELECT COUNT(*) FROM invitation_workspaces iw CROSS JOIN invitations i ON i.id = iw.invitation_id \
          WHERE iw.workspace_id = w.id AND i.status = 'pending' AND i.expires_at > ?3) AS pending_invitations, \
       (SELECT COUNT(DISTINCT principal_id) FROM grants \
          WHERE workspace_id = w.id AND principal_type = 'group') AS group_count, \
       (SELECT COUNT(*) FROM api_tokens t WHERE t.org_id = ?1 AND t.revoked_at IS NULL \
          AND (t.expires_at IS NULL OR t.expires_at > ?3) AND (t.scoped = 0 OR EXISTS \
          (SELECT 1 FROM api_token_workspaces x WHERE x.token_id = t.id AND x.workspace_id = w.id))) \
          AS api_token_count, \
       (SELECT role FROM workspace_members me WHERE me.workspace_id = w.id AND me.user_id = ?2) AS explicit_role \
     FROM workspaces w";

/// `viewer`: the person whose explicit role to read (`None` for an API token).
pub fn one_stmt(
    store: &OrgStore,
    ws: WorkspaceId,
    viewer: Option<UserId>,
    now: Timestamp,
) -> ApiResult<Query<WorkspaceRow>> {
    let (db, org) = (&store.global.db, store.org);
    db.query(
        &format!("{SELECT} WHERE w.org_id = ?1 AND w.id = ?4"),
        args![org, viewer, now, ws],
    )
}

pub async fn one(
    store: &OrgStore,
    ws: WorkspaceId,
    viewer: Option<UserId>,
    now: Timestamp,
) -> ApiResult<Option<WorkspaceRow>> {
    let db = &store.global.db;
    db.first_of(one_stmt(store, ws, viewer, now)?).await
}

/// Which workspaces of the org a list shows.
#[derive(Debug, Clone, Copy)]
pub enum Visible {
    All {
        viewer: Option<UserId>,
    },
    /// A workspace-only member's own.
    MemberOf(UserId),
    /// A scoped API token's listed ones.
    ListedFor(ApiTokenId),
}

/// One page in id order.
pub async fn page(
    store: &OrgStore,
    visible: Visible,
    after: &str,
    limit: u32,
    now: Timestamp,
) -> ApiResult<Vec<WorkspaceRow>> {
    let (db, org) = (&store.global.db, store.org);
    let (viewer, member, token) = match visible {
        Visible::All { viewer } => (viewer, None, None),
        Visible::MemberOf(user) => (Some(user), Some(user), None),
        Visible::ListedFor(token) => (None, None, Some(token)),
    };
    db.all(
        &format!(
            "{SELECT} WHERE w.org_id = ?1 AND w.id > ?4 \
             AND (?5 IS NULL OR EXISTS (SELECT 1 FROM workspace_members me \
                  WHERE me.workspace_id = w.id AND me.user_id = ?5)) \
             AND (?6 IS NULL OR EXISTS (SELECT 1 FROM api_token_workspaces x \
                  WHERE x.workspace_id = w.id AND x.token_id = ?6)) \
             ORDER BY w.id LIMIT ?7"
        ),
        args![org, viewer, now, after, member, token, i64::from(limit)],
    )
    .await
}

pub fn insert(
    store: &OrgStore,
    id: WorkspaceId,
    name: &str,
    description: Option<&str>,
    now: Timestamp,
) -> ApiResult<Stmt> {
    let (db, org) = (&store.global.db, store.org);
    db.stmt(
        "INSERT INTO workspaces (id, org_id, name, description, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
        args![id, org, name, description, now],
    )
}

pub fn update(
    store: &OrgStore,
    ws: WorkspaceId,
    name: Option<&str>,
    description: Option<Option<&str>>,
    now: Timestamp,
) -> ApiResult<Stmt> {
    let (db, org) = (&store.global.db, store.org);
    db.stmt(
        "UPDATE workspaces SET name = COALESCE(?2, name), \
         description = CASE WHEN ?3 = 1 THEN ?4 ELSE description END, updated_at = ?5 \
         WHERE id = ?1 AND org_id = ?6",
        args![
            ws,
            name,
            description.is_some(),
            description.flatten(),
            now,
            org
        ],
    )
}

/// The workspace and its memberships; workspace-only members who thereby lose their last
/// workspace leave the org too (their `member` role meant nothing else).
pub fn delete(store: &OrgStore, ws: WorkspaceId) -> ApiResult<Vec<Stmt>> {
    let (db, org) = (&store.global.db, store.org);
    let mut stmts = vec![
        db.stmt(
            "DELETE FROM org_members WHERE org_id = ?1 AND role = 'member' AND user_id IN \
             (SELECT user_id FROM workspace_members WHERE workspace_id = ?2) AND NOT EXISTS \
             (SELECT 1 FROM workspace_members o WHERE o.org_id = ?1 AND o.user_id = org_members.user_id \
              AND o.workspace_id <> ?2)",
            args![org, ws],
        )?,
        db.stmt("DELETE FROM workspaces WHERE id = ?1 AND org_id = ?2", args![ws, org])?,
    ];
    stmts.extend(super::members::forget_all_outside_org(store)?);
    Ok(stmts)
}

#[derive(Debug, Deserialize)]
pub struct WorkspaceMemberRow {
    pub user_id: UserId,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    /// `None` when the user is not (yet) in the org.
    pub org_role: Option<OrgRole>,
    pub workspace_role: Option<WorkspaceRole>,
    /// Their pending invitation to the org (read by `member_stmt` only).
    pub pending_invitation: Option<InvitationId>,
}

/// Everyone with access to the workspace (inherited or explicit), one page in user order.
/// The workspace as `one` reads it and one page of everyone with access to it, in one round
/// trip; `None` if the workspace is not the org's. The caller decides from the workspace
/// row whether the viewer may see the page.
pub async fn with_members(
    store: &OrgStore,
    ws: WorkspaceId,
    viewer: Option<UserId>,
    now: Timestamp,
    after: &str,
    limit: u32,
) -> ApiResult<Option<(WorkspaceRow, Vec<WorkspaceMemberRow>)>> {
    let (db, org) = (&store.global.db, store.org);
    db.parent_and_list(
        db.query(
            &format!("{SELECT} WHERE w.org_id = ?1 AND w.id = ?4"),
            args![org, viewer, now, ws],
        )?,
        db.query(
            "SELECT m.user_id, u.email, u.first_name, u.last_name, m.role AS org_role, x.role AS workspace_role \
             FROM org_members m JOIN users u ON u.id = m.user_id \
             LEFT JOIN workspace_members x ON x.workspace_id = ?2 AND x.user_id = m.user_id \
             WHERE m.org_id = ?1 AND (m.role <> 'member' OR x.role IS NOT NULL) AND m.user_id > ?3 \
             ORDER BY m.user_id LIMIT ?4",
            args![org, ws, after, i64::from(limit)],
        )?,
    )
    .await
}

/// A user as workspace `ws` of `org` sees them, with their pending invitation to the org if
/// any (joining through the workspace ends it).
pub fn member_stmt(
    store: &OrgStore,
    ws: WorkspaceId,
    user: UserId,
) -> ApiResult<Query<WorkspaceMemberRow>> {
    let (db, org) = (&store.global.db, store.org);
    db.query(
        "SELECT u.id AS user_id, u.email, u.first_name, u.last_name, m.role AS org_role, \
           x.role AS workspace_role, \
           (SELECT p.id FROM invitations p WHERE p.org_id = ?1 AND p.email = u.email \
              AND p.status = 'pending') AS pending_invitation \
         FROM users u LEFT JOIN org_members m ON m.org_id = ?1 AND m.user_id = u.id \
         LEFT JOIN workspace_members x ON x.workspace_id = ?2 AND x.user_id = u.id \
         WHERE u.id = ?3",
        args![org, ws, user],
    )
}

/// A guard: `user`'s explicit role in workspace `ws` is still `role` (`None`: none) when the
/// batch runs.
pub fn workspace_role_still(
    store: &OrgStore,
    ws: WorkspaceId,
    user: UserId,
    role: Option<WorkspaceRole>,
) -> ApiResult<Stmt> {
    let (db, org) = (&store.global.db, store.org);
    super::guard(
        db,
        "(SELECT role FROM workspace_members WHERE workspace_id = ?1 AND user_id = ?2 \
          AND org_id = ?4) IS ?3",
        args![ws, user, role, org],
    )
}

/// The workspace as `one` reads it and the user as `member_stmt` does, in one round trip.
pub async fn with_member(
    store: &OrgStore,
    ws: WorkspaceId,
    viewer: Option<UserId>,
    now: Timestamp,
    user: UserId,
) -> ApiResult<(Option<WorkspaceRow>, Option<WorkspaceMemberRow>)> {
    let db = &store.global.db;
    let mut reads = Together::default();
    let workspace = reads.add(one_stmt(store, ws, viewer, now)?);
    let member = reads.add(member_stmt(store, ws, user)?);
    let results = reads.run_on(db).await?;
    let (workspace, member) = (results.first(workspace)?, results.first(member)?);
    Ok((workspace, member))
}

/// Adds or changes an explicit workspace role. A user outside the org joins it as `member`,
/// which takes a seat: the guard fails the batch if that exceeds `member_limit`.
pub fn put_member(
    store: &OrgStore,
    ws: WorkspaceId,
    user: UserId,
    role: WorkspaceRole,
    joins_org: bool,
    now: Timestamp,
) -> ApiResult<Vec<Stmt>> {
    let (db, org) = (&store.global.db, store.org);
    let mut stmts = Vec::new();
    if joins_org {
        stmts.push(db.stmt(
            "INSERT INTO org_members (org_id, user_id, role, joined_at) VALUES (?1, ?2, 'member', ?3)",
            args![org, user, now],
        )?);
        // Only a new seat is checked: re-roling existing members never fails on the limit.
        stmts.push(super::members::seat_guard(store, now)?);
    }
    stmts.push(db.stmt(
        "INSERT INTO workspace_members (workspace_id, user_id, org_id, role, added_at) VALUES (?1, ?2, ?3, ?4, ?5) \
         ON CONFLICT (workspace_id, user_id) DO UPDATE SET role = excluded.role",
        args![ws, user, org, role.as_str(), now],
    )?);
    Ok(stmts)
}

/// Removes an explicit workspace role; a workspace-only member left with no workspace
/// leaves the org.
pub fn remove_member(store: &OrgStore, ws: WorkspaceId, user: UserId) -> ApiResult<Vec<Stmt>> {
    let (db, org) = (&store.global.db, store.org);
    Ok(vec![
        db.stmt("DELETE FROM workspace_members WHERE workspace_id = ?1 AND user_id = ?2", args![ws, user])?,
        db.stmt(
            "DELETE FROM org_members WHERE org_id = ?1 AND user_id = ?2 AND role = 'member' AND NOT EXISTS \
             (SELECT 1 FROM workspace_members WHERE org_id = ?1 AND user_id = ?2)",
            args![org, user],
        )?,
        super::members::forget_outside_org(store, user)?,
        super::members::forget_grants_outside_org(store, user)?,
    ])
}
