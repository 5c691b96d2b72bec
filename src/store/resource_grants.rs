//! Resource grants of a workspace, and the facts the authorization check decides on.

use super::{json_column, Arg, Found, OrgStore, Query, Rider, Stmt, Together};
use crate::args;
use crate::domain::authz::Permission;
use crate::domain::authz::Resource;
use crate::domain::ids::{GrantId, OrgId, UserId, WorkspaceId};
use crate::domain::time::Timestamp;
use crate::error::ApiResult;
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
pub struct GrantRow {
    pub id: GrantId,
    pub workspace_id: WorkspaceId,
    pub principal_type: String,
    pub principal_id: String,
    pub resource_type: String,
    pub resource_id: String,
    pub permission: Permission,
    pub created_at: i64,
    pub updated_at: i64,
}

pub struct GrantKey<'a> {
    pub workspace: WorkspaceId,
    pub principal_type: &'a str,
    pub principal_id: &'a str,
    pub resource_type: &'a str,
    pub resource_id: &'a str,
}

const COLUMNS: &str =
    "id, workspace_id, principal_type, principal_id, resource_type, resource_id, \
     permission, created_at, updated_at";

/// Creates the grant or changes its permission (one grant per principal and resource).
pub fn put(
    store: &OrgStore,
    id: GrantId,
    k: &GrantKey<'_>,
    permission: &str,
    by: Option<UserId>,
    now: Timestamp,
) -> ApiResult<Stmt> {
    let (db, org) = (&store.global.db, store.org);
    db.stmt(
        "INSERT INTO grants (id, org_id, workspace_id, principal_type, principal_id, resource_type, \
         resource_id, permission, created_by, created_at, updated_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10) \
         ON CONFLICT (workspace_id, resource_type, resource_id, principal_type, principal_id) \
         DO UPDATE SET permission = excluded.permission, updated_at = excluded.updated_at",
        args![
            id,
            org,
            k.workspace,
            k.principal_type,
            k.principal_id,
            k.resource_type,
            k.resource_id,
            permission,
            by,
            now
        ],
    )
}

/// One grant's key, matched in its org: placeholders ?1–?6 (`key_args`).
const KEY_MATCH: &str = "org_id = ?6 AND workspace_id = ?1 AND resource_type = ?2 \
     AND resource_id = ?3 AND principal_type = ?4 AND principal_id = ?5";

fn key_args(org: OrgId, k: &GrantKey<'_>) -> Vec<Arg> {
    args![
        k.workspace,
        k.resource_type,
        k.resource_id,
        k.principal_type,
        k.principal_id,
        org
    ]
}

pub fn find_stmt(store: &OrgStore, k: &GrantKey<'_>) -> ApiResult<Query<GrantRow>> {
    let (db, org) = (&store.global.db, store.org);
    db.query(
        &format!("SELECT {COLUMNS} FROM grants WHERE {KEY_MATCH}"),
        key_args(org, k),
    )
}

/// The grant of `k` in a workspace of the org: `None` as well when the workspace is not the
/// org's (one read answers both: `KEY_MATCH` leads with the org).
pub async fn find_in(store: &OrgStore, k: &GrantKey<'_>) -> ApiResult<Option<GrantRow>> {
    store.global.first_of(find_stmt(store, k)?).await
}

/// What a grant PUT must know before it writes, in one round trip: whether the workspace
/// is the org's (`None` if not), whether the principal is a member or group of the org, and
/// the grant as it stands.
pub async fn put_context(
    store: &OrgStore,
    k: &GrantKey<'_>,
) -> ApiResult<Option<(bool, Option<GrantRow>)>> {
    let (db, org) = (&store.global.db, store.org);
    let principal_sql = match k.principal_type {
        "user" => "SELECT 1 AS found FROM org_members WHERE org_id = ?1 AND user_id = ?2",
        _ => "SELECT 1 AS found FROM groups WHERE org_id = ?1 AND id = ?2",
    };
    let mut reads = Together::default();
    let workspace = reads.add(db.query(
        "SELECT 1 AS found FROM workspaces WHERE id = ?1 AND org_id = ?2",
        args![k.workspace, org],
    )?);
    let principal = reads.add(db.query(principal_sql, args![org, k.principal_id])?);
    let grant = reads.add(find_stmt(store, k)?);
    let results = reads.run_on(db).await?;
    if results.first::<Found>(workspace)?.is_none() {
        return Ok(None);
    }
    let principal = results.first::<Found>(principal)?.is_some();
    let grant = results.first::<GrantRow>(grant)?;
    Ok(Some((principal, grant)))
}

pub fn delete(store: &OrgStore, k: &GrantKey<'_>) -> ApiResult<Stmt> {
    let (db, org) = (&store.global.db, store.org);
    db.stmt(
        &format!("DELETE FROM grants WHERE {KEY_MATCH}"),
        key_args(org, k),
    )
}

/// Optional filters of the grant list.
#[derive(Default)]
pub struct GrantFilter<'a> {
    pub principal_type: Option<&'a str>,
    pub principal_id: Option<&'a str>,
    pub resource_type: Option<&'a str>,
    pub resource_id: Option<&'a str>,
}

/// One page of the workspace's grants in id order.
/// One page of the grants of workspace `ws`, with the check that `ws` is a workspace of
/// `org` in the same round trip: `None` if it is not.
pub async fn page(
    store: &OrgStore,
    ws: WorkspaceId,
    f: &GrantFilter<'_>,
    after: &str,
    limit: u32,
) -> ApiResult<Option<Vec<GrantRow>>> {
    let (db, org) = (&store.global.db, store.org);
    let found = db
        .parent_and_list::<Found, GrantRow>(
            db.query(
                "SELECT 1 AS found FROM workspaces WHERE id = ?1 AND org_id = ?2",
                args![ws, org],
            )?,
            db.query(
                &format!(
                    "SELECT {COLUMNS} FROM grants WHERE workspace_id = ?1 AND id > ?2 \
                     AND (?3 IS NULL OR principal_type = ?3) AND (?4 IS NULL OR principal_id = ?4) \
                     AND (?5 IS NULL OR resource_type = ?5) AND (?6 IS NULL OR resource_id = ?6) \
                     ORDER BY id LIMIT ?7"
                ),
                args![
                    ws,
                    after,
                    f.principal_type,
                    f.principal_id,
                    f.resource_type,
                    f.resource_id,
                    i64::from(limit)
                ],
            )?,
        )
        .await?;
    Ok(found.map(|(_, rows)| rows))
}

/// The user's standing in the workspace's org: roles and the restrictions of their
/// groups, with the grants that reach the asked-for resources.
#[derive(Debug, Deserialize)]
pub struct Standing {
    pub org_id: String,
    pub org_role: Option<String>,
    pub workspace_role: Option<String>,
    /// The restricting groups' resource lists, each as the JSON text it is kept as.
    pub restrictions: Vec<String>,
    /// The grants to the user or the user's groups on the asked-for resources.
    pub grants: Vec<ResourceGrant>,
}

#[derive(Debug, Deserialize)]
pub struct ResourceGrant {
    pub resource_type: String,
    pub resource_id: String,
    pub principal_type: String,
    pub permission: String,
}

/// The facts' read, with `$on` selecting the grants (`g`) it may use. `json(…)`: the lists
/// go in as JSON arrays, not as text (a subquery's result has lost the JSON subtype that
/// would tell `json_object` so). A macro, so that each form is one static text (a rider's
/// statement is rebased once per isolate, by its address).
macro_rules! facts_sql {
    ($on:expr) => {
        concat!(
            "SELECT json_object('org_id', w.org_id, \
               'org_role', (SELECT role FROM org_members WHERE org_id = w.org_id AND user_id = ?2 \
                 AND suspended_at IS NULL), \
               'workspace_role', \
                 (SELECT role FROM workspace_members WHERE workspace_id = w.id AND user_id = ?2), \
               'restrictions', json((SELECT json_group_array(g.restrictions) FROM group_members gm \
                  JOIN groups g ON g.id = gm.group_id \
                  WHERE gm.org_id = w.org_id AND gm.user_id = ?2 AND g.restricting = 1)), \
               'grants', json((SELECT json_group_array(json_object('resource_type', g.resource_type, \
                  'resource_id', g.resource_id, 'principal_type', g.principal_type, \
                  'permission', g.permission)) ",
            $on,
            " AND ((g.principal_type = 'user' AND g.principal_id = ?2) \
                  OR (g.principal_type = 'group' AND g.principal_id IN \
                      (SELECT group_id FROM group_members WHERE user_id = ?2 \
                       AND org_id = w.org_id)))))) \
             FROM workspaces w WHERE w.id = ?1"
        )
    };
}

/// One resource (`?3`, `?4`), bound as it is. Local D1 parses and plans a statement on
/// every call, and `json_each` with `json_extract` was 40 % of the batch form's planning
/// (natively 36 µs against 60 µs: BENCHMARKS.md), so the common check does without it.
static FACTS_ON_ONE: &str = facts_sql!(
    "FROM grants g WHERE g.workspace_id = w.id AND g.resource_type = ?3 AND g.resource_id = ?4"
);
/// A batch (`?3`: JSON `[{type, id}]`).
static FACTS_ON_MANY: &str = facts_sql!(
    "FROM json_each(?3) j CROSS JOIN grants g \
     WHERE g.workspace_id = w.id AND g.resource_type = json_extract(j.value, '$.type') \
       AND g.resource_id = json_extract(j.value, '$.id')"
);

/// Everything an authorization check needs, as one read that rides in the credential
/// check's row (`Together::ride`): the user's standing in the workspace's org, the
/// restricting groups' lists and the grants to the user or the user's groups on the given
/// resources (none for the workspace itself). No row for an unknown workspace. Read back
/// with `read_facts`.
pub fn facts_rider(ws: WorkspaceId, user: UserId, resources: &[&Resource]) -> Rider {
    match resources {
        // `= NULL` matches no grant.
        [] => Rider::new(FACTS_ON_ONE, args![ws, user, None::<&str>, None::<&str>]),
        [r] => Rider::new(
            FACTS_ON_ONE,
            args![ws, user, r.kind.as_str(), r.id.as_str()],
        ),
        list => {
            let json = serde_json::to_string(list).unwrap_or_else(|_| "[]".into());
            Rider::new(FACTS_ON_MANY, args![ws, user, json])
        }
    }
}

/// The facts `facts_rider` read (the rider's JSON text): `None` for an unknown workspace.
pub fn read_facts(rider: Option<&str>) -> ApiResult<Option<Standing>> {
    rider.map(json_column).transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The highest `?N` of a statement: D1 refuses a statement bound with another count.
    fn placeholders(sql: &str) -> usize {
        sql.split('?')
            .skip(1)
            .filter_map(|rest| {
                let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
                digits.parse().ok()
            })
            .max()
            .unwrap_or(0)
    }

    #[test]
    fn each_form_of_the_facts_is_bound_with_as_many_values_as_it_numbers() {
        let r = |id: &str| Resource {
            kind: "dashboard".into(),
            id: id.into(),
        };
        let (a, b) = (r("a"), r("b"));
        let (ws, user) = (WorkspaceId::new(), UserId::new());
        for (resources, sql) in [
            (vec![], FACTS_ON_ONE),
            (vec![&a], FACTS_ON_ONE),
            (vec![&a, &b], FACTS_ON_MANY),
        ] {
            let rider = facts_rider(ws, user, &resources);
            assert!(
                std::ptr::eq(rider.sql, sql),
                "{} resources",
                resources.len()
            );
            assert_eq!(placeholders(rider.sql), rider.args.len());
        }
        // The two forms differ only in how the grants are selected.
        assert_eq!(placeholders(FACTS_ON_ONE), 4);
        assert_eq!(placeholders(FACTS_ON_MANY), 3);
        assert!(FACTS_ON_MANY.contains("json_each(?3)") && !FACTS_ON_ONE.contains("json_each"));
    }
}
