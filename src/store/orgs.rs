//! Organizations, workspaces and memberships (the part the identity routes need; the
//! tenancy routes extend it).

use serde::Deserialize;

use super::{Db, Stmt};
use crate::args;
use crate::domain::ids::{OrgId, UserId, WorkspaceId};
use crate::domain::roles::OrgRole;
use crate::domain::time::Timestamp;
use crate::http::error::ApiResult;

pub struct NewOrg<'a> {
    pub id: OrgId,
    pub name: &'a str,
    pub description: Option<&'a str>,
    pub owner: UserId,
    pub member_limit: i64,
    pub now: Timestamp,
}

/// The org, its owner's membership: one unit.
pub fn insert(db: &Db, o: &NewOrg<'_>) -> ApiResult<Vec<Stmt>> {
    Ok(vec![
        db.stmt(
            "INSERT INTO orgs (id, name, description, owner_id, member_limit, created_at, updated_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
            args![o.id, o.name, o.description, o.owner, o.member_limit, o.now],
        )?,
        db.stmt(
            "INSERT INTO org_members (org_id, user_id, role, joined_at) VALUES (?1, ?2, ?3, ?4)",
            args![o.id, o.owner, OrgRole::Owner.as_str(), o.now],
        )?,
    ])
}

pub fn insert_workspace(
    db: &Db,
    id: WorkspaceId,
    org: OrgId,
    name: &str,
    now: Timestamp,
) -> ApiResult<Stmt> {
    db.stmt(
        "INSERT INTO workspaces (id, org_id, name, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?4)",
        args![id, org, name, now],
    )
}

/// One row per (org membership × workspace of that org), with the explicit workspace role
/// if any; the caller derives effective roles. Orgs without workspaces appear once.
#[derive(Debug, Deserialize)]
pub struct MembershipRow {
    pub org_id: String,
    pub org_name: String,
    pub role: String,
    pub workspace_id: Option<String>,
    pub workspace_name: Option<String>,
    pub workspace_role: Option<String>,
}

pub async fn memberships(db: &Db, user: UserId) -> ApiResult<Vec<MembershipRow>> {
    db.all(
        "SELECT m.org_id, o.name AS org_name, m.role, w.id AS workspace_id, w.name AS workspace_name, \
                wm.role AS workspace_role \
         FROM org_members m JOIN orgs o ON o.id = m.org_id \
         LEFT JOIN workspaces w ON w.org_id = m.org_id \
         LEFT JOIN workspace_members wm ON wm.workspace_id = w.id AND wm.user_id = m.user_id \
         WHERE m.user_id = ?1 ORDER BY o.name, o.id, w.name, w.id",
        args![user],
    )
    .await
}
