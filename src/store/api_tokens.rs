//! API tokens and their workspace lists.

use super::json_column;
use super::orgs::{OrgRow, ORG_JSON};
use super::{OrgStore, Query, Rider, Stmt, Store};
use crate::args;
use crate::domain::ids::{ApiTokenId, UserId, WorkspaceId};
use crate::domain::roles::OrgRole;
use crate::domain::time::Timestamp;
use crate::error::ApiResult;
use serde::Deserialize;

/// A live token as authentication reads it, with its org: the org gate needs no second read.
#[derive(Debug, Deserialize)]
pub struct LiveToken {
    pub token_id: ApiTokenId,
    pub token_name: String,
    pub token_role: OrgRole,
    pub token_scoped: i64,
    /// JSON array of the listed workspace ids (scoped tokens).
    pub token_workspaces: String,
    pub token_last_used_at: Option<i64>,
    /// The org's row (`ORG_JSON`) in the same row: one JSON column rather than the org's
    /// columns beside the token's, which serde's `flatten` buffered on this hot read.
    pub org_json: String,
    /// The row of the read that rode along (`Rider`), as JSON text.
    pub rider: Option<String>,
}

impl LiveToken {
    /// The token's org.
    pub fn org(&self) -> ApiResult<OrgRow> {
        json_column(&self.org_json)
    }
}

/// One indexed read: the token must be unrevoked and unexpired. A handler's one-row read
/// may ride along (`rider`).
pub fn live_stmt(
    store: &Store,
    token_hash: &str,
    now: Timestamp,
    rider: Option<Rider>,
) -> ApiResult<Query<LiveToken>> {
    let db = &store.db;
    let mut args = args![token_hash, now];
    let rider = Rider::column(rider, &mut args);
    db.query(
        &format!(
            "SELECT {rider}t.id AS token_id, t.name AS token_name, t.role AS token_role, \
               t.scoped AS token_scoped, t.last_used_at AS token_last_used_at, \
               (SELECT json_group_array(workspace_id) FROM api_token_workspaces \
                  WHERE token_id = t.id) AS token_workspaces, {ORG_JSON} AS org_json \
             FROM api_tokens t JOIN orgs o ON o.id = t.org_id \
             WHERE t.token_hash = ?1 AND t.revoked_at IS NULL \
               AND (t.expires_at IS NULL OR t.expires_at > ?2)"
        ),
        args,
    )
}

pub async fn touch(store: &Store, id: ApiTokenId, now: Timestamp) -> ApiResult<usize> {
    let db = &store.db;
    db.run(
        "UPDATE api_tokens SET last_used_at = ?2 WHERE id = ?1",
        args![id, now],
    )
    .await
}

/// A token as its list shows it.
#[derive(Debug, Deserialize)]
pub struct TokenRow {
    pub id: String,
    pub name: String,
    pub role: String,
    pub scoped: i64,
    /// JSON array of the listed workspace ids.
    pub workspaces: String,
    pub created_at: i64,
    pub created_by: Option<String>,
    pub creator_email: Option<String>,
    pub expires_at: Option<i64>,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

const SELECT: &str = "SELECT t.id, t.name, t.role, t.scoped, \
       (SELECT json_group_array(workspace_id) FROM api_token_workspaces \
          WHERE token_id = t.id) AS workspaces, \
       t.created_at, t.created_by, u.email AS creator_email, t.expires_at, t.last_used_at, \
       t.revoked_at \
     FROM api_tokens t LEFT JOIN users u ON u.id = t.created_by";

pub fn one_stmt(store: &OrgStore, id: ApiTokenId) -> ApiResult<Query<TokenRow>> {
    let (db, org) = (&store.global.db, store.org);
    db.query(
        &format!("{SELECT} WHERE t.org_id = ?1 AND t.id = ?2"),
        args![org, id],
    )
}

pub async fn one(store: &OrgStore, id: ApiTokenId) -> ApiResult<Option<TokenRow>> {
    let db = &store.global.db;
    db.first_of(one_stmt(store, id)?).await
}

/// Newest first.
pub async fn page(store: &OrgStore, before: &str, limit: u32) -> ApiResult<Vec<TokenRow>> {
    let (db, org) = (&store.global.db, store.org);
    db.all(
        &format!("{SELECT} WHERE t.org_id = ?1 AND t.id < ?2 ORDER BY t.id DESC LIMIT ?3"),
        args![org, before, i64::from(limit)],
    )
    .await
}

pub struct NewToken<'a> {
    pub id: ApiTokenId,
    pub name: &'a str,
    pub role: OrgRole,
    /// `None`: the whole org.
    pub workspaces: Option<&'a [WorkspaceId]>,
    pub token_hash: &'a str,
    pub created_by: UserId,
    pub now: Timestamp,
    pub expires_at: Option<Timestamp>,
}

/// The token and its workspace rows. A listed workspace deleted meanwhile is skipped (the
/// insert selects only workspaces of the org), as if deleted just after.
pub fn insert(store: &OrgStore, t: &NewToken<'_>) -> ApiResult<Vec<Stmt>> {
    let (db, org) = (&store.global.db, store.org);
    let mut stmts = vec![db.stmt(
        "INSERT INTO api_tokens (id, org_id, name, name_key, role, scoped, token_hash, created_by, \
         created_at, expires_at) VALUES (?1, ?2, ?3, lower(?3), ?4, ?5, ?6, ?7, ?8, ?9)",
        args![
            t.id,
            org,
            t.name,
            t.role.as_str(),
            t.workspaces.is_some(),
            t.token_hash,
            t.created_by,
            t.now,
            t.expires_at
        ],
    )?];
    if let Some(list) = t.workspaces {
        let ids: Vec<String> = list.iter().map(ToString::to_string).collect();
        stmts.push(db.stmt(
            "INSERT INTO api_token_workspaces (token_id, workspace_id) \
             SELECT ?1, w.id FROM json_each(?2) j CROSS JOIN workspaces w ON w.id = j.value \
             WHERE w.org_id = ?3",
            args![
                t.id,
                serde_json::to_string(&ids).unwrap_or_else(|_| "[]".into()),
                org
            ],
        )?);
    }
    Ok(stmts)
}

/// Revocation as a batch: mark it (only if still live) and guard that this request did, so
/// racing revocations leave one event.
pub fn revoke(
    store: &OrgStore,
    id: ApiTokenId,
    by: UserId,
    request_id: &str,
    now: Timestamp,
) -> ApiResult<Vec<Stmt>> {
    let (db, org) = (&store.global.db, store.org);
    Ok(vec![
        db.stmt(
            "UPDATE api_tokens SET revoked_at = ?3, revoked_by = ?4, revoked_request = ?5 \
             WHERE org_id = ?1 AND id = ?2 AND revoked_at IS NULL",
            args![org, id, now, by, request_id],
        )?,
        super::guard(
            db,
            "EXISTS (SELECT 1 FROM api_tokens WHERE id = ?1 AND revoked_request = ?2)",
            args![id, request_id],
        )?,
    ])
}
