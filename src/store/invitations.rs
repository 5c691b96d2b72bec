//! Invitations: creation with its seat, the lists, links, and every transition out of
//! `pending` (accept, decline, withdraw, expire). Each transition is one guarded batch that
//! records the request that made it, so racing requests apply it exactly once.

use super::{json_column, Db, OrgStore, Query, Stmt, Store};
use crate::args;
use crate::domain::ids::{ApiTokenId, EventId, GroupId, InvitationId, OrgId, UserId};
use crate::domain::invitation::{InvitationStatus, StatusFilter};
use crate::domain::roles::{OrgRole, WorkspaceAssignment};
use crate::domain::time::Timestamp;
use crate::error::ApiResult;
use serde::Deserialize;

/// An invitation with what its views need: the org's name, the inviter, the delivery state
/// of its latest email, its workspaces (JSON) and whether the invitee has an account.
#[derive(Debug, Clone, Deserialize)]
pub struct InvitationRow {
    pub id: InvitationId,
    pub org_id: OrgId,
    pub org_name: String,
    pub email: String,
    pub role: OrgRole,
    /// JSON array of group ids.
    pub groups: String,
    pub message: Option<String>,
    pub invited_by: Option<UserId>,
    pub inviter_email: Option<String>,
    pub inviter_first_name: Option<String>,
    pub inviter_last_name: Option<String>,
    /// Set when an API token sent it (then `invited_by` is NULL).
    pub invited_by_token: Option<ApiTokenId>,
    pub inviter_token_name: Option<String>,
    pub status: InvitationStatus,
    pub created_at: i64,
    pub expires_at: i64,
    pub send_count: i64,
    pub last_sent_at: i64,
    /// The outbox status of the latest invitation email.
    pub outbox_status: Option<String>,
    pub ended_at: Option<i64>,
    /// JSON array of `{id, name, role}`; workspaces deleted since have dropped out.
    pub workspaces: String,
    pub account_exists: i64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct InvitedWorkspace {
    pub id: String,
    pub name: String,
    pub role: String,
}

impl InvitationRow {
    /// The invitation's workspaces, by name.
    pub fn workspace_list(&self) -> Vec<InvitedWorkspace> {
        let mut list: Vec<InvitedWorkspace> = json_column(&self.workspaces).unwrap_or_default();
        list.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.id.cmp(&b.id)));
        list
    }

    /// "First Last" of the inviter, unless that account is gone.
    pub fn inviter_name(&self) -> Option<String> {
        match (&self.inviter_first_name, &self.inviter_last_name) {
            (Some(f), Some(l)) => Some(format!("{f} {l}")),
            _ => None,
        }
    }

    pub fn effective_status(&self, now: Timestamp) -> InvitationStatus {
        InvitationStatus::effective(self.status, Timestamp(self.expires_at), now)
    }
}

const SELECT: &str =
    "SELECT i.id, i.org_id, o.name AS org_name, i.email, i.role, i.groups, i.message, \
       i.invited_by, u.email AS inviter_email, u.first_name AS inviter_first_name, \
       u.last_name AS inviter_last_name, i.invited_by_token, t.name AS inviter_token_name, i.status, i.created_at, i.expires_at, i.send_count, \
       i.last_sent_at, ob.status AS outbox_status, i.ended_at, \
       (SELECT json_group_array(json_object('id', w.id, 'name', w.name, 'role', iw.role)) \
          FROM invitation_workspaces iw JOIN workspaces w ON w.id = iw.workspace_id \
          WHERE iw.invitation_id = i.id) AS workspaces, \
       EXISTS (SELECT 1 FROM users a WHERE a.email = i.email) AS account_exists \
     FROM invitations i JOIN orgs o ON o.id = i.org_id \
     LEFT JOIN users u ON u.id = i.invited_by LEFT JOIN api_tokens t ON t.id = i.invited_by_token \
     LEFT JOIN outbox ob ON ob.id = i.email_id";

/// Effective status filters: a pending invitation past its expiry counts as expired.
/// Every fragment keeps `?1`…`?5` bound the same way (org, now, status, before, limit).
fn filter_sql(filter: StatusFilter) -> &'static str {
    match filter {
        StatusFilter::All => "1 = 1",
        StatusFilter::Only(InvitationStatus::Pending) => {
            "i.status = 'pending' AND i.expires_at > ?2"
        }
        StatusFilter::Only(InvitationStatus::Expired) => {
            "(i.status = 'expired' OR (i.status = 'pending' AND i.expires_at <= ?2))"
        }
        StatusFilter::Only(_) => "i.status = ?3",
    }
}

/// One page of the org's invitations, newest first (keyset on the time-ordered id).
pub async fn page(
    store: &OrgStore,
    filter: StatusFilter,
    now: Timestamp,
    before: &str,
    limit: u32,
) -> ApiResult<Vec<InvitationRow>> {
    let (db, org) = (&store.global.db, store.org);
    let status = match filter {
        StatusFilter::Only(s) => s.as_str(),
        StatusFilter::All => "all",
    };
    db.all(
        &format!(
            "{SELECT} WHERE i.org_id = ?1 AND {} AND i.id < ?4 ORDER BY i.id DESC LIMIT ?5",
            filter_sql(filter)
        ),
        args![org, now, status, before, i64::from(limit)],
    )
    .await
}

pub fn one_stmt(store: &OrgStore, id: InvitationId) -> ApiResult<Query<InvitationRow>> {
    let (db, org) = (&store.global.db, store.org);
    db.query(
        &format!("{SELECT} WHERE i.org_id = ?1 AND i.id = ?2"),
        args![org, id],
    )
}

/// The org's invitations of `ids`, newest first (what a batch of invitations shows).
pub fn several_stmt(store: &OrgStore, ids: &[InvitationId]) -> ApiResult<Query<InvitationRow>> {
    let (db, org) = (&store.global.db, store.org);
    let list = serde_json::to_string(ids).unwrap_or_default();
    db.query(
        &format!(
            "{SELECT} WHERE i.org_id = ?1 AND i.id IN (SELECT value FROM json_each(?2)) \
             ORDER BY i.id DESC"
        ),
        args![org, list],
    )
}

pub async fn one(store: &OrgStore, id: InvitationId) -> ApiResult<Option<InvitationRow>> {
    let db = &store.global.db;
    db.first_of(one_stmt(store, id)?).await
}

/// The invitation a link belongs to (any status; the caller decides what the link says).
pub async fn by_link(store: &Store, token_hash: &str) -> ApiResult<Option<InvitationRow>> {
    let db = &store.db;
    db.first(
        &format!(
            "{SELECT} WHERE i.id = (SELECT invitation_id FROM invitation_links WHERE token_hash = ?1)"
        ),
        args![token_hash],
    )
    .await
}

/// An invitation addressed to `email` (the in-app inbox).
pub async fn addressed_to(
    store: &Store,
    id: InvitationId,
    email: &str,
) -> ApiResult<Option<InvitationRow>> {
    let db = &store.db;
    db.first(
        &format!("{SELECT} WHERE i.id = ?1 AND i.email = ?2"),
        args![id, email],
    )
    .await
}

/// Pending, unexpired invitations to `email`, newest first.
pub async fn inbox(
    store: &Store,
    email: &str,
    now: Timestamp,
    before: &str,
    limit: u32,
) -> ApiResult<Vec<InvitationRow>> {
    let db = &store.db;
    db.all(
        &format!(
            "{SELECT} WHERE i.email = ?1 AND i.status = 'pending' AND i.expires_at > ?2 \
             AND i.id < ?3 ORDER BY i.id DESC LIMIT ?4"
        ),
        args![email, now, before, i64::from(limit)],
    )
    .await
}

#[derive(Debug, Deserialize)]
pub struct PendingRef {
    pub id: InvitationId,
    pub expires_at: i64,
}

/// Where an email stands with an org before it is invited (again) or added, in one read.
#[derive(Debug, Default, Deserialize)]
pub struct InviteeStanding {
    /// The email's account, if there is one.
    pub account_id: Option<UserId>,
    /// The email's account is a member of the org.
    pub member: i64,
    pub pending_id: Option<InvitationId>,
    pub pending_expires_at: Option<i64>,
}

impl InviteeStanding {
    /// The stored pending invitation, expired by time or not.
    pub fn pending(&self) -> Option<PendingRef> {
        match (&self.pending_id, self.pending_expires_at) {
            (Some(id), Some(expires_at)) => Some(PendingRef {
                id: *id,
                expires_at,
            }),
            _ => None,
        }
    }
}

/// Always one row (`InviteeStanding`).
pub fn invitee_standing_stmt(store: &OrgStore, email: &str) -> ApiResult<Query<InviteeStanding>> {
    let (db, org) = (&store.global.db, store.org);
    db.query(
        "SELECT (SELECT id FROM users WHERE email = ?2) AS account_id, \
                EXISTS (SELECT 1 FROM users u JOIN org_members m ON m.user_id = u.id \
                 WHERE u.email = ?2 AND m.org_id = ?1) AS member, \
                p.id AS pending_id, p.expires_at AS pending_expires_at \
         FROM (SELECT 1) LEFT JOIN invitations p \
           ON p.org_id = ?1 AND p.email = ?2 AND p.status = 'pending'",
        args![org, email],
    )
}

/// Whether invitation `id`'s invitee is a member of the org by now (`InviteeMember`).
pub fn invitee_member_stmt(store: &OrgStore, id: InvitationId) -> ApiResult<Query<InviteeMember>> {
    let (db, org) = (&store.global.db, store.org);
    db.query(
        "SELECT EXISTS (SELECT 1 FROM users u JOIN org_members m ON m.user_id = u.id \
           WHERE m.org_id = ?1 AND u.email = (SELECT email FROM invitations WHERE id = ?2)) AS member",
        args![org, id],
    )
}

#[derive(Debug, Deserialize)]
pub struct InviteeMember {
    pub member: i64,
}

pub struct NewInvitation<'a> {
    pub id: InvitationId,
    pub email: &'a str,
    pub role: OrgRole,
    pub workspaces: &'a [WorkspaceAssignment],
    pub groups: &'a [GroupId],
    pub message: Option<&'a str>,
    /// The person who invited, or else the API token that did.
    pub invited_by: Option<UserId>,
    pub invited_by_token: Option<ApiTokenId>,
    pub token_hash: &'a str,
    /// The outbox id of the invitation email, written in the same batch.
    pub email_id: &'a str,
    pub now: Timestamp,
    pub expires_at: Timestamp,
}

/// The invitation, its workspaces and its link. The batch must end with the seat guard
/// (`members::seat_guard`, after every invitation it creates), which fails it with
/// `capacity_exceeded` when the org has no seat for them. A second pending invitation to
/// the same email fails on the partial unique index (`invitation_exists`).
pub fn insert(store: &OrgStore, n: &NewInvitation<'_>) -> ApiResult<Vec<Stmt>> {
    let (db, org) = (&store.global.db, store.org);
    let groups = serde_json::to_string(n.groups).unwrap_or_else(|_| "[]".into());
    let mut stmts = vec![db.stmt(
        "INSERT INTO invitations (id, org_id, email, role, groups, message, invited_by, status, \
         created_at, expires_at, send_count, last_sent_at, email_id, invited_by_token) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'pending', ?8, ?9, 1, ?8, ?10, ?11)",
        args![
            n.id,
            org,
            n.email,
            n.role.as_str(),
            groups,
            n.message,
            n.invited_by,
            n.now,
            n.expires_at,
            n.email_id,
            n.invited_by_token
        ],
    )?];
    for WorkspaceAssignment {
        workspace: ws,
        role,
    } in n.workspaces
    {
        stmts.push(db.stmt(
            "INSERT INTO invitation_workspaces (invitation_id, workspace_id, role) \
             SELECT ?1, ?2, ?3 WHERE EXISTS (SELECT 1 FROM workspaces WHERE id = ?2 AND org_id = ?4)",
            args![n.id, *ws, *role, org],
        )?);
    }
    stmts.push(insert_link(db, n.token_hash, n.id, n.now)?);
    Ok(stmts)
}

fn insert_link(db: &Db, token_hash: &str, id: InvitationId, now: Timestamp) -> ApiResult<Stmt> {
    db.stmt(
        "INSERT INTO invitation_links (token_hash, invitation_id, created_at) VALUES (?1, ?2, ?3)",
        args![token_hash, id, now],
    )
}

fn delete_links(db: &Db, id: InvitationId) -> ApiResult<Stmt> {
    db.stmt(
        "DELETE FROM invitation_links WHERE invitation_id = ?1",
        args![id],
    )
}

/// One more send of an invitation.
#[derive(Clone, Copy)]
pub struct Send<'a> {
    pub token_hash: &'a str,
    /// The outbox id of the new email, written in the same batch.
    pub email_id: &'a str,
    pub now: Timestamp,
    pub expires_at: Timestamp,
    /// The invitation had expired: it takes a seat again.
    pub revive: bool,
}

/// A new send: new link (every older one dies), new expiry, `send_count` + 1, reminder
/// re-armed; back to `pending` if it had expired, in which case it needs a seat again.
/// Fails with `GuardFailed` if the invitation was answered or withdrawn meanwhile.
pub fn resend(store: &OrgStore, id: InvitationId, s: &Send<'_>) -> ApiResult<Vec<Stmt>> {
    let db = &store.global.db;
    let Send {
        token_hash,
        email_id,
        now,
        expires_at,
        revive,
    } = *s;
    let mut stmts = vec![
        db.stmt(
            "UPDATE invitations SET status = 'pending', expires_at = ?3, send_count = send_count + 1, \
             last_sent_at = ?2, email_id = ?4, reminded_at = NULL, ended_at = NULL \
             WHERE id = ?1 AND status IN ('pending', 'expired')",
            args![id, now, expires_at, email_id],
        )?,
        super::guard(
            db,
            "EXISTS (SELECT 1 FROM invitations WHERE id = ?1 AND email_id = ?2)",
            args![id, email_id],
        )?,
        delete_links(db, id)?,
        insert_link(db, token_hash, id, now)?,
    ];
    if revive {
        stmts.push(super::members::seat_guard(store, now)?);
    }
    Ok(stmts)
}

/// Moves an invitation out of `pending` (or `expired`, for a withdrawal) to `to`, gated on
/// this request having made the move: `GuardFailed` if another request got there first.
/// Ends invitation `id` (of `org`, when the caller was admitted to one: another org's
/// invitation then changes nothing and the guard fails the batch).
fn end(
    db: &Db,
    id: InvitationId,
    org: Option<OrgId>,
    to: InvitationStatus,
    condition: &str,
    request: &str,
    now: Timestamp,
) -> ApiResult<Vec<Stmt>> {
    Ok(vec![
        db.stmt(
            &format!(
                "UPDATE invitations SET status = ?3, ended_at = ?2, ended_by = ?4 \
                 WHERE id = ?1 AND (?5 IS NULL OR org_id = ?5) AND {condition}"
            ),
            args![id, now, to.as_str(), request, org],
        )?,
        super::guard(
            db,
            "EXISTS (SELECT 1 FROM invitations WHERE id = ?1 AND ended_by = ?2)",
            args![id, request],
        )?,
        // The links stay: a link of an ended invitation then says what became of it
        // (accepted, declined, withdrawn) instead of being merely unknown. Only a resend,
        // which replaces the emailed secret, deletes the old ones.
    ])
}

/// Withdraws a pending invitation whose invitee joined by another way (no request gate:
/// it is part of that other batch, and a no-op if the invitation ended meanwhile).
pub fn supersede(store: &OrgStore, id: InvitationId, now: Timestamp) -> ApiResult<Vec<Stmt>> {
    let (db, org) = (&store.global.db, store.org);
    // Its links stay, as for every ended invitation (`end`).
    Ok(vec![db.stmt(
        "UPDATE invitations SET status = 'withdrawn', ended_at = ?2 \
         WHERE id = ?1 AND org_id = ?3 AND status = 'pending'",
        args![id, now, org],
    )?])
}

const LIVE: &str = "status = 'pending' AND expires_at > ?2";

pub fn withdraw(
    store: &OrgStore,
    id: InvitationId,
    request: &str,
    now: Timestamp,
) -> ApiResult<Vec<Stmt>> {
    end(
        &store.global.db,
        id,
        Some(store.org),
        InvitationStatus::Withdrawn,
        "status IN ('pending', 'expired')",
        request,
        now,
    )
}

pub fn decline(
    store: &Store,
    id: InvitationId,
    request: &str,
    now: Timestamp,
) -> ApiResult<Vec<Stmt>> {
    let db = &store.db;
    end(db, id, None, InvitationStatus::Declined, LIVE, request, now)
}

/// Accepting: the invitation leaves `pending` (exactly once), and `user` joins the org with
/// its role and its workspaces' roles. No seat guard: the invitation's seat becomes the
/// member's. A user who joined meanwhile fails on the membership key (`already_member`).
/// `new_account` (the statement creating `user`) runs after the guard, so racing sign-ups
/// through one link fail on the guard rather than on the email's uniqueness.
pub fn accept(
    store: &Store,
    id: InvitationId,
    user: UserId,
    new_account: Option<Stmt>,
    request: &str,
    now: Timestamp,
) -> ApiResult<Vec<Stmt>> {
    let db = &store.db;
    let mut stmts = end(db, id, None, InvitationStatus::Accepted, LIVE, request, now)?;
    stmts.extend(new_account);
    stmts.extend([
        db.stmt(
            "UPDATE invitations SET accepted_by = ?2 WHERE id = ?1",
            args![id, user],
        )?,
        db.stmt(
            "INSERT INTO org_members (org_id, user_id, role, joined_at) \
             SELECT org_id, ?2, role, ?3 FROM invitations WHERE id = ?1",
            args![id, user, now],
        )?,
        db.stmt(
            "INSERT INTO workspace_members (workspace_id, user_id, org_id, role, added_at) \
             SELECT iw.workspace_id, ?2, i.org_id, iw.role, ?3 FROM invitation_workspaces iw \
             JOIN invitations i ON i.id = iw.invitation_id WHERE iw.invitation_id = ?1",
            args![id, user, now],
        )?,
        // The invitation's groups that still exist; a group made restricting since is
        // skipped for an admin, whom it may never hold.
        db.stmt(
            "INSERT OR IGNORE INTO group_members (group_id, user_id, org_id, added_at) \
             SELECT g.id, ?2, i.org_id, ?3 FROM invitations i CROSS JOIN json_each(i.groups) j \
             CROSS JOIN groups g ON g.id = j.value AND g.org_id = i.org_id \
             WHERE i.id = ?1 AND NOT (g.restricting = 1 AND i.role = 'admin')",
            args![id, user, now],
        )?,
    ]);
    Ok(stmts)
}

/// Ids of pending invitations past their expiry, oldest expiry first (the cron's work).
pub async fn overdue(store: &Store, now: Timestamp, limit: i64) -> ApiResult<Vec<InvitationId>> {
    let db = &store.db;
    #[derive(Deserialize)]
    struct Id {
        id: InvitationId,
    }
    Ok(db
        .all::<Id>(
            "SELECT id FROM invitations WHERE status = 'pending' AND expires_at <= ?1 \
             ORDER BY expires_at LIMIT ?2",
            args![now, limit],
        )
        .await?
        .into_iter()
        .map(|r| r.id)
        .collect())
}

// `CROSS JOIN` below fixes the loop order: each listed id is one primary-key lookup. Left
// to itself the planner may scan the overdue invitations and, for each, the whole list. For
// the same reason the updates write `+status`, `+expires_at` (a unary plus keeps a column
// from being an index's key): otherwise the planner reads every org's pending invitations
// by `invitations_due` instead of the listed ids by primary key.

/// Records the expiry of the given invitations (those still pending and overdue when the
/// batch runs: idempotent, and safe against a concurrent resend) with one
/// `invitation.expired` event each. Two statements whatever the count.
pub fn expire(store: &Store, ids: &[InvitationId], now: Timestamp) -> ApiResult<Vec<Stmt>> {
    let db = &store.db;
    let items: Vec<serde_json::Value> = ids
        .iter()
        .map(|id| serde_json::json!({"id": id, "event": EventId::new().to_string()}))
        .collect();
    let items = serde_json::Value::Array(items).to_string();
    Ok(vec![
        db.stmt(
            "INSERT INTO audit_events (id, org_id, at, action, target_type, target_id, success, metadata) \
             SELECT json_extract(j.value, '$.event'), i.org_id, ?2, 'invitation.expired', 'invitation', i.id, 1, \
                    json_object('email', i.email) \
             FROM json_each(?1) j CROSS JOIN invitations i ON i.id = json_extract(j.value, '$.id') \
             WHERE i.status = 'pending' AND i.expires_at <= ?2",
            args![items.as_str(), now],
        )?,
        db.stmt(
            "UPDATE invitations SET status = 'expired', ended_at = expires_at \
             WHERE id IN (SELECT json_extract(value, '$.id') FROM json_each(?1)) \
               AND +status = 'pending' AND +expires_at <= ?2",
            args![items.as_str(), now],
        )?,
    ])
}

/// Pending invitations whose reminder is due: inside `window_ms` of expiry, not reminded
/// since the last send, and sent longer than the window before expiry (a short-lived
/// invitation is not "reminded" right after it was sent).
pub async fn due_reminders(
    store: &Store,
    now: Timestamp,
    window_ms: i64,
    limit: i64,
) -> ApiResult<Vec<InvitationRow>> {
    let db = &store.db;
    db.all(
        &format!(
            "{SELECT} WHERE i.status = 'pending' AND i.expires_at > ?1 AND i.expires_at <= ?1 + ?2 \
             AND i.reminded_at IS NULL AND i.expires_at - i.last_sent_at > ?2 \
             ORDER BY i.expires_at LIMIT ?3"
        ),
        args![now, window_ms, limit],
    )
    .await
}

/// One reminder to record: the invitation, the hash of its extra link, the outbox id.
pub struct Reminder {
    pub invitation: InvitationId,
    pub token_hash: String,
    pub mail_id: String,
}

/// Records reminders for the invitations still due when the batch runs: an extra link
/// each, an outbox row each (returned, so only those are queued), and `reminded_at`.
/// Three statements whatever the count; a concurrent run finds them reminded already.
pub fn record_reminders(
    store: &Store,
    reminders: &[Reminder],
    now: Timestamp,
) -> ApiResult<Vec<Stmt>> {
    let db = &store.db;
    let items: Vec<serde_json::Value> = reminders
        .iter()
        .map(|r| serde_json::json!({"id": r.invitation, "hash": r.token_hash, "mail": r.mail_id}))
        .collect();
    let items = serde_json::Value::Array(items).to_string();
    const DUE: &str =
        "FROM json_each(?1) j CROSS JOIN invitations i ON i.id = json_extract(j.value, '$.id') \
         WHERE i.status = 'pending' AND i.reminded_at IS NULL AND i.expires_at > ?2";
    Ok(vec![
        db.stmt(
            &format!(
                "INSERT INTO invitation_links (token_hash, invitation_id, created_at) \
                 SELECT json_extract(j.value, '$.hash'), i.id, ?2 {DUE}"
            ),
            args![items.as_str(), now],
        )?,
        db.stmt(
            &format!(
                "INSERT INTO outbox (id, kind, recipient, status, ref_type, ref_id, created_at, updated_at) \
                 SELECT json_extract(j.value, '$.mail'), 'invitation_reminder', i.email, 'queued', \
                        'invitation', i.id, ?2, ?2 {DUE} RETURNING id"
            ),
            args![items.as_str(), now],
        )?,
        db.stmt(
            "UPDATE invitations SET reminded_at = ?2 \
             WHERE id IN (SELECT json_extract(value, '$.id') FROM json_each(?1)) \
               AND +status = 'pending' AND reminded_at IS NULL AND +expires_at > ?2",
            args![items.as_str(), now],
        )?,
    ])
}
