//! Org members: the directory page, role changes, removal.

use serde::Deserialize;
use std::cell::RefCell;
use std::rc::Rc;

use super::{OrgStore, Query, Results, Stmt, Ticket};
use crate::args;
use crate::domain::account::AccountStatus;
use crate::domain::ids::WorkspaceId;
use crate::domain::ids::{OrgId, UserId};
use crate::domain::roles::{OrgRole, WorkspaceAssignment};
use crate::domain::time::Timestamp;
use crate::error::{ApiError, ApiResult};

#[derive(Debug, Deserialize)]
pub struct MemberRow {
    pub user_id: UserId,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub phone: Option<String>,
    pub status: AccountStatus,
    pub role: OrgRole,
    pub joined_at: i64,
    pub managed: i64,
    /// The account exists through an SSO connection (`users.federated_by`).
    pub federated: i64,
}

/// A member as the directory shows them (the `Member` schema of openapi.json), rendered to
/// JSON text by SQLite over `m` (org_members) and `u` (users), explicit workspace roles and
/// groups included. The directory page is the one list whose rows carry two nested lists:
/// rendered in the Worker it cost three statements and about 1 ms of CPU per 50-row page
/// (decoding every column across the JS boundary, then building the view), rendered here it
/// is one statement whose rows are one string each (BENCHMARKS.md, "Where the time goes").
/// Keys are in the order serde_json writes the other views (sorted); instants are RFC 3339
/// with milliseconds like `Timestamp::to_rfc3339`.
const MEMBER_JSON: &str = "json_object(\
     'groups', json((SELECT json_group_array(json_object('id', g.id, 'name', g.name) \
                              ORDER BY g.name, g.id) \
                     FROM group_members gm JOIN groups g ON g.id = gm.group_id \
                     WHERE gm.org_id = m.org_id AND gm.user_id = m.user_id)), \
     'joined_at', strftime('%Y-%m-%dT%H:%M:%S', m.joined_at / 1000, 'unixepoch') \
                  || printf('.%03dZ', m.joined_at % 1000), \
     'managed', json(CASE WHEN u.created_by_org_id = m.org_id THEN 'true' ELSE 'false' END), \
     'role', m.role, \
     'suspended', json(CASE WHEN m.suspended_at IS NULL THEN 'false' ELSE 'true' END), \
     'user', json_object('email', u.email, 'first_name', u.first_name, 'id', u.id, \
                         'last_name', u.last_name, 'phone', u.phone, 'status', u.status), \
     'workspaces', json((SELECT json_group_array(json_object('id', w.id, 'name', w.name, \
                                                             'role', wm.role) \
                                  ORDER BY w.name, w.id) \
                         FROM workspace_members wm JOIN workspaces w ON w.id = wm.workspace_id \
                         WHERE wm.org_id = m.org_id AND wm.user_id = m.user_id)))";

/// A member's id and view (`MEMBER_JSON`).
#[derive(Debug, Deserialize)]
pub struct RenderedMember {
    pub user_id: String,
    pub view: String,
}

/// One directory page in user-id order, each member rendered (`MEMBER_JSON`): keyset on
/// (org_id, user_id), the primary key, so a page costs the same however large the org.
/// `?q=` is a case-insensitive substring of the email or the full name (`instr`: LIKE
/// patterns are capped at 50 bytes in D1). One statement, for the caller's batch (it rides
/// in the credential check's round trip), or on its own when a held page turned out stale.
pub fn page_stmt(store: &OrgStore, query: &PageQuery) -> ApiResult<Query<RenderedMember>> {
    let (db, org) = (&store.global.db, store.org);
    db.query(
        &format!(
            "SELECT m.user_id, {MEMBER_JSON} AS view \
             FROM org_members m JOIN users u ON u.id = m.user_id \
             WHERE m.org_id = ?1 AND (?2 IS NULL OR m.role = ?2) AND m.user_id > ?3 \
               AND (?4 IS NULL OR instr(u.email, ?4) > 0 \
                    OR instr(lower(u.first_name || ' ' || u.last_name), ?4) > 0) \
             ORDER BY m.user_id LIMIT ?5"
        ),
        args![
            org,
            query.role.map(OrgRole::as_str),
            query.after.as_str(),
            query.q.as_deref(),
            i64::from(query.limit)
        ],
    )
}

/// What selects a directory page.
pub struct PageQuery {
    pub role: Option<OrgRole>,
    pub q: Option<String>,
    pub after: String,
    pub limit: u32,
}

/// A page this isolate rendered: its body and the directory version it was read at.
#[derive(Clone)]
pub struct CachedPage {
    pub version: i64,
    pub body: Rc<str>,
}

struct Kept {
    key: String,
    page: CachedPage,
}

/// Pages kept per isolate (~20 KB each at 50 members: ~5 MB at most).
const CACHED_PAGES: usize = 256;

thread_local! {
    /// Directory pages by org and query, oldest first. Each is served again only after D1
    /// says, in the caller's own round trip, that the org is still at its version: a cache
    /// that cannot serve a stale page, whatever changed and wherever (triggers bump the
    /// version in the same transaction as the change).
    static PAGES: RefCell<Vec<Kept>> = const { RefCell::new(Vec::new()) };
}

fn page_key(org: OrgId, query: &PageQuery) -> String {
    format!(
        "{org}\n{}\n{}\n{}\n{}",
        query.role.map_or("", OrgRole::as_str),
        query.q.as_deref().unwrap_or_default(),
        query.after,
        query.limit
    )
}

/// The page this isolate holds for `org` and `query`, if any.
pub fn cached_page(org: OrgId, query: &PageQuery) -> Option<CachedPage> {
    let key = page_key(org, query);
    PAGES.with_borrow(|pages| {
        pages
            .iter()
            .find(|kept| kept.key == key)
            .map(|kept| kept.page.clone())
    })
}

/// Keeps `page` for `org` and `query`, replacing an older one; the oldest page goes when
/// the cache is full.
pub fn keep_page(org: OrgId, query: &PageQuery, page: CachedPage) {
    let key = page_key(org, query);
    PAGES.with_borrow_mut(|pages| {
        if let Some(i) = pages.iter().position(|kept| kept.key == key) {
            pages.remove(i);
        } else if pages.len() >= CACHED_PAGES {
            pages.remove(0);
        }
        pages.push(Kept { key, page });
    });
}

/// One member as the directory shows them (`MEMBER_JSON`), added to `reads` after a write's
/// statements (so it sees them): a write and its response are then one round trip. Read back
/// with `read_view`.
pub fn view_stmt(store: &OrgStore, user: UserId) -> ApiResult<Query<RenderedMember>> {
    let (db, org) = (&store.global.db, store.org);
    db.query(
        &format!(
            "SELECT m.user_id, {MEMBER_JSON} AS view FROM org_members m JOIN users u ON u.id = m.user_id \
             WHERE m.org_id = ?1 AND m.user_id = ?2"
        ),
        args![org, user],
    )
}

/// The member view `view_stmt` read, as JSON; `None` if they are not a member.
pub fn read_view(
    results: &Results,
    read: Ticket<RenderedMember>,
) -> ApiResult<Option<serde_json::Value>> {
    match results.first(read)? {
        None => Ok(None),
        Some(row) => serde_json::from_str(&row.view)
            .map(Some)
            .map_err(|e| ApiError::internal(format!("member view: {e}"))),
    }
}

pub fn one_stmt(store: &OrgStore, user: UserId) -> ApiResult<Query<MemberRow>> {
    let (db, org) = (&store.global.db, store.org);
    db.query(
        "SELECT m.user_id, u.email, u.first_name, u.last_name, u.phone, u.status, m.role, m.joined_at, \
                (u.created_by_org_id IS NOT NULL AND u.created_by_org_id = m.org_id) AS managed, \
                (u.federated_by IS NOT NULL) AS federated \
         FROM org_members m JOIN users u ON u.id = m.user_id WHERE m.org_id = ?1 AND m.user_id = ?2",
        args![org, user],
    )
}

pub async fn one(store: &OrgStore, user: UserId) -> ApiResult<Option<MemberRow>> {
    let db = &store.global.db;
    db.first_of(one_stmt(store, user)?).await
}

/// A guard: `user` is still a member of `org` with `role` when the batch runs.
pub fn role_still(store: &OrgStore, user: UserId, role: OrgRole) -> ApiResult<Stmt> {
    let (db, org) = (&store.global.db, store.org);
    super::guard(
        db,
        "EXISTS (SELECT 1 FROM org_members WHERE org_id = ?1 AND user_id = ?2 AND role = ?3)",
        args![org, user, role],
    )
}

/// Sets a member's role; never touches the owner (that changes only by transfer).
pub fn set_role(store: &OrgStore, user: UserId, role: OrgRole) -> ApiResult<Stmt> {
    let (db, org) = (&store.global.db, store.org);
    db.stmt(
        "UPDATE org_members SET role = ?3 WHERE org_id = ?1 AND user_id = ?2 AND role <> 'owner'",
        args![org, user, role.as_str()],
    )
}

/// Once a user is no longer in the org, their group memberships and grants there go too
/// (a no-op while they still are, so it can follow a conditional removal).
pub fn forget_outside_org(store: &OrgStore, user: UserId) -> ApiResult<Stmt> {
    let (db, org) = (&store.global.db, store.org);
    db.stmt(
        "DELETE FROM group_members WHERE org_id = ?1 AND user_id = ?2 \
         AND NOT EXISTS (SELECT 1 FROM org_members WHERE org_id = ?1 AND user_id = ?2)",
        args![org, user],
    )
}

pub fn forget_grants_outside_org(store: &OrgStore, user: UserId) -> ApiResult<Stmt> {
    let (db, org) = (&store.global.db, store.org);
    db.stmt(
        "DELETE FROM grants WHERE org_id = ?1 AND principal_type = 'user' AND principal_id = ?2 \
         AND NOT EXISTS (SELECT 1 FROM org_members WHERE org_id = ?1 AND user_id = ?2)",
        args![org, user],
    )
}

/// The same for everyone no longer in the org, after a statement that may remove several
/// (deleting a workspace drops its workspace-only members).
pub fn forget_all_outside_org(store: &OrgStore) -> ApiResult<Vec<Stmt>> {
    let (db, org) = (&store.global.db, store.org);
    Ok(vec![
        db.stmt(
            "DELETE FROM group_members WHERE org_id = ?1 AND NOT EXISTS \
             (SELECT 1 FROM org_members m WHERE m.org_id = ?1 AND m.user_id = group_members.user_id)",
            args![org],
        )?,
        db.stmt(
            "DELETE FROM grants WHERE org_id = ?1 AND principal_type = 'user' AND NOT EXISTS \
             (SELECT 1 FROM org_members m WHERE m.org_id = ?1 AND m.user_id = grants.principal_id)",
            args![org],
        )?,
    ])
}

/// Removes a member from the org and all its workspaces; never the owner.
pub fn remove(store: &OrgStore, user: UserId) -> ApiResult<Vec<Stmt>> {
    let (db, org) = (&store.global.db, store.org);
    Ok(vec![
        super::guard(
            db,
            "EXISTS (SELECT 1 FROM org_members WHERE org_id = ?1 AND user_id = ?2 AND role <> 'owner')",
            args![org, user],
        )?,
        db.stmt("DELETE FROM workspace_members WHERE org_id = ?1 AND user_id = ?2", args![org, user])?,
        db.stmt("DELETE FROM org_members WHERE org_id = ?1 AND user_id = ?2", args![org, user])?,
        forget_outside_org(store, user)?,
        forget_grants_outside_org(store, user)?,
    ])
}

/// Seats in use: members plus pending invitations that have not expired (an invitation
/// past its expiry frees its seat at once, before the cron records it).
const SEATS_USED: &str = "(SELECT COUNT(*) FROM org_members WHERE org_id = ?1) + \
     (SELECT COUNT(*) FROM invitations WHERE org_id = ?1 AND status = 'pending' AND expires_at > ?2)";

/// Fails its batch when the org's seats in use (counted after the batch's own inserts)
/// exceed `member_limit`; concurrent batches are serialised by D1, so the limit holds.
/// It writes to `seat_guards` (see the migration), so the failure maps to
/// `409 capacity_exceeded` by itself, distinct from any other guard in the batch.
pub fn seat_guard(store: &OrgStore, now: Timestamp) -> ApiResult<Stmt> {
    let (db, org) = (&store.global.db, store.org);
    db.stmt(
        &format!(
            "INSERT INTO seat_guards (ok) SELECT NULL WHERE NOT \
             ({SEATS_USED} <= (SELECT member_limit FROM orgs WHERE id = ?1))"
        ),
        args![org, now],
    )
}

/// Seats the org has free now (`member_limit` less the seats in use, never below 0).
#[derive(Debug, Deserialize)]
pub struct FreeSeats {
    pub free: i64,
}

/// Always one row (`FreeSeats`); read before seats are taken, to say how many are missing
/// (the seat guard still decides under concurrency).
pub fn free_seats_stmt(store: &OrgStore, now: Timestamp) -> ApiResult<Query<FreeSeats>> {
    let (db, org) = (&store.global.db, store.org);
    db.query(
        &format!(
            "SELECT MAX(0, (SELECT member_limit FROM orgs WHERE id = ?1) - ({SEATS_USED})) AS free"
        ),
        args![org, now],
    )
}

/// Members and pending invitations of the org, for the usage overview.
pub async fn seats(store: &OrgStore, now: Timestamp) -> ApiResult<(i64, i64)> {
    let (db, org) = (&store.global.db, store.org);
    #[derive(Deserialize)]
    struct Seats {
        members: i64,
        pending: i64,
    }
    let s: Option<Seats> = db
        .first(
            "SELECT (SELECT COUNT(*) FROM org_members WHERE org_id = ?1) AS members, \
             (SELECT COUNT(*) FROM invitations WHERE org_id = ?1 AND status = 'pending' AND expires_at > ?2) AS pending",
            args![org, now],
        )
        .await?;
    Ok(s.map_or((0, 0), |s| (s.members, s.pending)))
}

/// Adds a member with an org role and explicit workspace roles. The guard fails the batch
/// when the org is then over its seat limit, so concurrent additions never exceed it.
pub fn add(
    store: &OrgStore,
    user: UserId,
    role: OrgRole,
    workspaces: &[WorkspaceAssignment],
    now: Timestamp,
) -> ApiResult<Vec<Stmt>> {
    let (db, org) = (&store.global.db, store.org);
    let mut stmts = vec![
        db.stmt(
            "INSERT INTO org_members (org_id, user_id, role, joined_at) VALUES (?1, ?2, ?3, ?4)",
            args![org, user, role.as_str(), now],
        )?,
        seat_guard(store, now)?,
    ];
    for WorkspaceAssignment {
        workspace: ws,
        role: ws_role,
    } in workspaces
    {
        stmts.push(db.stmt(
            "INSERT INTO workspace_members (workspace_id, user_id, org_id, role, added_at) \
             SELECT ?1, ?2, ?3, ?4, ?5 WHERE EXISTS (SELECT 1 FROM workspaces WHERE id = ?1 AND org_id = ?3)",
            args![*ws, user, org, *ws_role, now],
        )?);
    }
    Ok(stmts)
}

/// A workspace as `existing_workspaces` reads it.
#[derive(Debug, Deserialize)]
pub struct NamedWorkspace {
    pub id: WorkspaceId,
    pub name: String,
}

/// Which of `ids` are workspaces of the org, with their names (`NamedWorkspace` rows).
pub fn existing_workspaces_stmt(
    store: &OrgStore,
    ids: &[WorkspaceId],
) -> ApiResult<Query<NamedWorkspace>> {
    let (db, org) = (&store.global.db, store.org);
    let list = serde_json::to_string(ids).unwrap_or_default();
    db.query(
        "SELECT id, name FROM workspaces WHERE org_id = ?1 AND id IN (SELECT value FROM json_each(?2))",
        args![org, list],
    )
}

pub async fn existing_workspaces(
    store: &OrgStore,
    ids: &[WorkspaceId],
) -> ApiResult<Vec<(WorkspaceId, String)>> {
    let db = &store.global.db;
    Ok(db
        .all_of::<NamedWorkspace>(existing_workspaces_stmt(store, ids)?)
        .await?
        .into_iter()
        .map(|r| (r.id, r.name))
        .collect())
}

/// Fails its batch unless the account belongs to this org alone (and owns no org) when the
/// batch runs: an account the org may delete permanently.
pub fn guard_belongs_to_this_org_alone(store: &OrgStore, user: UserId) -> ApiResult<Stmt> {
    super::guard(
        &store.global.db,
        "NOT EXISTS (SELECT 1 FROM org_members WHERE user_id = ?1 AND org_id <> ?2) \
         AND NOT EXISTS (SELECT 1 FROM orgs WHERE owner_id = ?1)",
        args![user, store.org],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(after: &str, q: Option<&str>) -> PageQuery {
        PageQuery {
            role: None,
            q: q.map(str::to_string),
            after: after.to_string(),
            limit: 51,
        }
    }

    fn page(version: i64, body: &str) -> CachedPage {
        CachedPage {
            version,
            body: body.into(),
        }
    }

    #[test]
    fn pages_are_kept_per_org_and_query_and_replaced_by_newer_versions() {
        let (org, other) = (OrgId::new(), OrgId::new());
        assert!(cached_page(org, &query("", None)).is_none());
        keep_page(org, &query("", None), page(3, "first"));
        keep_page(org, &query("", Some("ada")), page(3, "search"));
        keep_page(org, &query("u1", None), page(3, "second"));
        let got = |org, q: &PageQuery| cached_page(org, q).map(|p| (p.version, p.body.to_string()));
        assert_eq!(got(org, &query("", None)), Some((3, "first".into())));
        assert_eq!(
            got(org, &query("", Some("ada"))),
            Some((3, "search".into()))
        );
        assert_eq!(got(org, &query("u1", None)), Some((3, "second".into())));
        assert_eq!(got(other, &query("", None)), None);
        let mut by_role = query("", None);
        by_role.role = Some(OrgRole::Admin);
        assert_eq!(got(org, &by_role), None);
        // A newer read replaces the page; one entry per key.
        keep_page(org, &query("", None), page(4, "first v4"));
        assert_eq!(got(org, &query("", None)), Some((4, "first v4".into())));
        let entries = PAGES.with_borrow(|p| p.iter().filter(|k| k.page.version == 4).count());
        assert_eq!(entries, 1);
    }

    #[test]
    fn the_cache_is_bounded_and_drops_its_oldest_page() {
        let org = OrgId::new();
        for i in 0..CACHED_PAGES + 10 {
            keep_page(org, &query(&format!("u{i}"), None), page(1, "x"));
        }
        assert_eq!(PAGES.with_borrow(Vec::len), CACHED_PAGES);
        assert!(cached_page(org, &query("u0", None)).is_none());
        assert!(cached_page(org, &query("u9", None)).is_none());
        assert!(cached_page(org, &query("u10", None)).is_some());
        assert!(cached_page(org, &query(&format!("u{}", CACHED_PAGES + 9), None)).is_some());
    }
}
