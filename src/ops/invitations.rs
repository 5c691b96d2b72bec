//! Invitations: sending them (to one email or to several at once, with the same offer) and
//! accepting one (whoever proved they are the invitee, by the emailed link with a new account
//! or signed in as its address, joins the invitation's org).

use super::Acting;
use crate::config::Config;
use crate::domain::ids::{ApiTokenId, GroupId, InvitationId, UserId};
use crate::domain::roles::{OrgRole, WorkspaceAssignment};
use crate::domain::time::Timestamp;
use crate::domain::token::{hash_secret, new_secret};
use crate::error::{ApiError, ApiResult};
use crate::mail::{link, InvitationMail, MailContent, MailWorkspace, Outgoing};
use crate::store::audit::{Actor, Event, Origin};
use crate::store::invitations::{InvitationRow, InviteeStanding, NewInvitation};
use crate::store::{self, Stmt, Store};

/// What an invitation offers, validated by the caller: the role within the actor's ceiling
/// (`newcomer::check_ceiling`), workspaces and groups of the org
/// (`newcomer::NewcomerChecks`), the message's length.
pub struct Offer<'a> {
    pub role: OrgRole,
    pub workspaces: &'a [WorkspaceAssignment],
    /// The workspaces' names, in the order of `workspaces`, for the email.
    pub workspace_names: &'a [String],
    pub groups: &'a [GroupId],
    pub message: Option<&'a str>,
    /// How the email names the inviter (`OrgAccess::display_name`) and the org.
    pub inviter_name: &'a str,
    pub org_name: &'a str,
}

/// What became of one email.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A new pending invitation, sent.
    Invited(InvitationId),
    /// The email's account is a member already: nothing to send.
    AlreadyMember,
    /// A pending invitation to the email exists (its id): resend that one instead.
    InvitationExists(InvitationId),
}

impl Outcome {
    /// The refusal the single-email route answers with (the codes of SPEC's invitation
    /// routes); `None` for an invitation sent.
    pub fn refusal(self) -> Option<ApiError> {
        match self {
            Outcome::Invited(_) => None,
            Outcome::AlreadyMember => Some(ApiError::conflict(
                "already_member",
                "This person is already a member of the organization.",
            )),
            Outcome::InvitationExists(_) => Some(ApiError::conflict(
                "invitation_exists",
                "A pending invitation to this email already exists; resend it instead.",
            )),
        }
    }
}

/// What `invite` decided: one batch (empty when nobody is to be invited), the emails to
/// enqueue once it commits, and an outcome per invitee, in their order.
pub struct Invitations {
    pub batch: Vec<Stmt>,
    pub mails: Vec<Outgoing>,
    pub outcomes: Vec<Outcome>,
}

impl Invitations {
    /// The invitations the batch creates, in the invitees' order.
    pub fn invited(&self) -> Vec<InvitationId> {
        self.outcomes
            .iter()
            .filter_map(|o| match o {
                Outcome::Invited(id) => Some(*id),
                _ => None,
            })
            .collect()
    }
}

/// Invites each of `invitees` (a normalised email and where it stands with the org, read with
/// the newcomer's checks) with the same `offer`. A member is `AlreadyMember` and an email with
/// a live pending invitation `InvitationExists`; neither gets mail. An invitation past its
/// expiry that the cron has not recorded yet is recorded now, and the email invited afresh.
///
/// Everyone invited takes a seat, together or not at all: with fewer `free_seats` (read with
/// the checks) than invitations to send, nothing is planned (`409 capacity_exceeded` saying
/// how many are missing), and the batch ends with one seat guard for a race that takes the
/// seats meanwhile. So a full org never gets an arbitrary part of a list: the inviter
/// chooses whom to leave out. A pending invitation to one of the emails created meanwhile
/// fails the batch too (the partial unique index: `invitation_exists`).
pub fn invite(
    acting: &Acting,
    cfg: &Config,
    offer: &Offer<'_>,
    invitees: &[(&str, &InviteeStanding)],
    free_seats: i64,
) -> ApiResult<Invitations> {
    let now = acting.now;
    let (invited_by, invited_by_token): (Option<UserId>, Option<ApiTokenId>) = match &acting.actor {
        Actor::User { id, .. } => (Some(*id), None),
        Actor::Token { id, .. } => (None, Some(*id)),
        Actor::Claimant { .. } | Actor::Operator | Actor::ScimToken { .. } => (None, None),
    };
    let mut overdue = Vec::new();
    let mut writes = Vec::new();
    let mut mails = Vec::new();
    let mut outcomes = Vec::with_capacity(invitees.len());
    for (email, standing) in invitees {
        if standing.member != 0 {
            outcomes.push(Outcome::AlreadyMember);
            continue;
        }
        match standing.pending() {
            Some(p) if Timestamp(p.expires_at) > now => {
                outcomes.push(Outcome::InvitationExists(p.id));
                continue;
            }
            Some(p) => overdue.push(p.id),
            None => {}
        }
        let id = InvitationId::new();
        let secret = new_secret();
        let expires = now.plus_seconds(cfg.invitation_ttl);
        let mail = Outgoing::new(
            email,
            MailContent::Invitation(InvitationMail {
                inviter: offer.inviter_name.to_string(),
                org_name: offer.org_name.to_string(),
                role: offer.role.as_str().to_string(),
                workspaces: offer
                    .workspace_names
                    .iter()
                    .zip(offer.workspaces)
                    .map(|(name, g)| MailWorkspace {
                        name: name.clone(),
                        role: g.role.as_str().to_string(),
                    })
                    .collect(),
                message: offer.message.map(str::to_string),
                link: link(&cfg.app_url, "invitations/accept", &secret),
                expires_at: expires.to_rfc3339(),
            }),
        )
        .about("invitation", id.to_string());
        writes.extend(store::invitations::insert(
            acting.org,
            &NewInvitation {
                id,
                email,
                role: offer.role,
                workspaces: offer.workspaces,
                groups: offer.groups,
                message: offer.message,
                invited_by,
                invited_by_token,
                token_hash: &hash_secret(&secret),
                email_id: &mail.message.id,
                now,
                expires_at: expires,
            },
        )?);
        writes.push(mail.outbox_row(acting.org.global(), now)?);
        writes.push(
            acting.audit(
                &acting
                    .event("invitation.created", ("invitation", id.to_string()))
                    .meta(crate::object!({
                        "email": email,
                        "role": offer.role,
                        "workspaces": offer.workspaces.iter().map(|g| crate::object!({"workspace_id": g.workspace, "role": g.role})).collect::<Vec<_>>(),
                    })),
            )?,
        );
        mails.push(mail);
        outcomes.push(Outcome::Invited(id));
    }
    let needed = i64::try_from(mails.len()).unwrap_or(i64::MAX);
    if needed > free_seats {
        return Err(no_seats(needed, free_seats));
    }
    let mut batch = Vec::new();
    if !mails.is_empty() {
        // The overdue invitations end first, so the new ones pass the unique index.
        if !overdue.is_empty() {
            batch.extend(store::invitations::expire(
                acting.org.global(),
                &overdue,
                now,
            )?);
        }
        batch.extend(writes);
        batch.push(store::members::seat_guard(acting.org, now)?);
    }
    Ok(Invitations {
        batch,
        mails,
        outcomes,
    })
}

fn no_seats(needed: i64, free: i64) -> ApiError {
    let free = match free {
        0 => "none is free".to_string(),
        1 => "1 is free".to_string(),
        n => format!("{n} are free"),
    };
    let needed = match needed {
        1 => "This invitation needs a seat".to_string(),
        n => format!("These {n} invitations need {n} seats"),
    };
    ApiError::conflict(
        "capacity_exceeded",
        format!("{needed} and {free} (member_limit; pending invitations hold seats too). Nothing was sent."),
    )
}

/// What `accept` decided: one batch, and the mail to send once it commits.
pub struct Accepted {
    pub batch: Vec<Stmt>,
    /// Tells the inviter (when their account still exists).
    pub mails: Vec<Outgoing>,
}

/// Joins `user` (`user_email`) to the org of invitation `row`. The invitation leaves
/// `pending` exactly once: a racing acceptance, withdrawal or expiry fails the batch
/// (`ApiError::GuardFailed`). `new_account` is the statement creating the user (it must
/// follow the guard and precede the memberships); `extra` goes into the same batch.
/// `ended_by` names the request, for the guard.
#[allow(clippy::too_many_arguments)]
pub fn accept(
    store: &Store,
    origin: &Origin,
    row: &InvitationRow,
    user: UserId,
    user_email: &str,
    new_account: Option<Stmt>,
    extra: Vec<Stmt>,
    ended_by: &str,
    now: Timestamp,
) -> ApiResult<Accepted> {
    let org = row.org_id;
    let actor = Actor::user(user, user_email);
    let mut batch = store::invitations::accept(store, row.id, user, new_account, ended_by, now)?;
    batch.extend(extra);
    let accepted = Event::by(
        org,
        actor.clone(),
        "invitation.accepted",
        ("invitation", row.id.to_string()),
    );
    batch.push(store::audit::insert(store, &accepted, origin, now)?);
    let added = Event::by(org, actor, "member.added", ("user", user.to_string()))
        .meta(crate::object!({"role": row.role, "via": "invitation", "invitation_id": row.id}));
    batch.push(store::audit::insert(store, &added, origin, now)?);
    let mut mails = Vec::new();
    if let (Some(inviter), Some(first_name)) = (&row.inviter_email, &row.inviter_first_name) {
        let mail = Outgoing::new(
            inviter,
            MailContent::InvitationAccepted {
                first_name: first_name.clone(),
                invitee: user_email.to_string(),
                org_name: row.org_name.clone(),
            },
        )
        .about("invitation", row.id.to_string());
        batch.push(mail.outbox_row(store, now)?);
        mails.push(mail);
    }
    Ok(Accepted { batch, mails })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::domain::account::AccountStatus;
    use crate::domain::ids::{InvitationId, OrgId, SessionId};
    use crate::ops::testing::*;
    use crate::store::sessions::NewSession;
    use crate::store::users::NewUser;
    use crate::store::Arg;

    const EMAIL: &str = "ada@example.com";
    const INVITER: &str = "grace@example.com";
    const REQUEST: &str = "request-1";

    /// A pending invitation as the store reads it; `inviter`: whether the inviting person's
    /// account still exists (else it was sent by an API token, or the inviter is gone).
    fn invitation(inviter: bool) -> InvitationRow {
        serde_json::from_value(json!({
            "id": InvitationId::new(), "org_id": OrgId::new(), "org_name": "Analytical Engines",
            "email": EMAIL, "role": "editor", "groups": "[]", "message": null,
            "invited_by": inviter.then(UserId::new),
            "inviter_email": inviter.then_some(INVITER),
            "inviter_first_name": inviter.then_some("Grace"),
            "inviter_last_name": inviter.then_some("Hopper"),
            "invited_by_token": null, "inviter_token_name": null, "status": "pending",
            "created_at": NOW.millis() - 1_000, "expires_at": NOW.millis() + 86_400_000,
            "send_count": 1, "last_sent_at": NOW.millis() - 1_000, "outbox_status": "sent",
            "ended_at": null, "workspaces": "[]", "account_exists": 0
        }))
        .expect("an InvitationRow")
    }

    fn new_user(store: &Store, id: UserId) -> Stmt {
        store::users::insert(
            store,
            &NewUser {
                id,
                email: EMAIL,
                first_name: "Ada",
                last_name: "Lovelace",
                phone: None,
                password_hash: Some("$pbkdf2-sha512$…"),
                status: AccountStatus::Active,
                email_verified: true,
                created_by_org: None,
                must_change_password: false,
                now: NOW,
            },
        )
        .unwrap()
    }

    fn position(all: &[String], which: &str) -> usize {
        all.iter()
            .position(|e| e == which)
            .unwrap_or_else(|| panic!("no {which}: {all:?}"))
    }

    #[test]
    fn a_new_account_is_created_after_the_guard_and_before_its_memberships() {
        let org = Org::new();
        let row = invitation(true);
        let user = UserId::new();
        let session = store::sessions::insert(
            org.global(),
            &NewSession {
                id: SessionId::new(),
                user,
                auth_method: "password",
                ip: "203.0.113.7",
                user_agent: None,
                now: NOW,
                expires_at: NOW.plus_seconds(3_600),
                refresh_hash: "hash",
            },
        )
        .unwrap();
        let accepted = accept(
            org.global(),
            &org.origin,
            &row,
            user,
            EMAIL,
            Some(new_user(org.global(), user)),
            session,
            REQUEST,
            NOW,
        )
        .unwrap();
        let batch = &accepted.batch;
        assert_eq!(
            effects(batch),
            [
                "UPDATE invitations",
                "INSERT batch_guards",
                "INSERT users",
                "UPDATE invitations",
                "INSERT org_members",
                "INSERT workspace_members",
                "INSERT group_members",
                "INSERT sessions",
                "INSERT refresh_tokens",
                "INSERT audit_events",
                "INSERT audit_events",
                "INSERT outbox"
            ]
        );
        // The invitation leaves `pending` once, for this request: the guard checks it did.
        let ended = &batch[0];
        assert_eq!(value_of(ended, "status"), text("accepted"));
        assert_eq!(value_of(ended, "ended_by"), text(REQUEST));
        assert_eq!(value_of(ended, "ended_at"), Arg::Int(NOW.millis()));
        assert!(binds(ended, &text(row.id)));
        assert!(binds(&batch[1], &text(row.id)) && binds(&batch[1], &text(REQUEST)));
        assert_eq!(value_of(&batch[3], "accepted_by"), text(user));
        for joined in [
            "INSERT org_members",
            "INSERT workspace_members",
            "INSERT group_members",
        ] {
            let stmt = one_of(batch, joined);
            assert_eq!(value_of(stmt, "user_id"), text(user), "{joined}");
            assert!(binds(stmt, &text(row.id)), "{joined} from the invitation");
        }
        assert_eq!(value_of(one_of(batch, "INSERT users"), "id"), text(user));

        let joined = event(batch, "invitation.accepted");
        assert_eq!(value_of(joined, "org_id"), text(row.org_id));
        assert_eq!(value_of(joined, "actor_id"), text(user));
        assert_eq!(value_of(joined, "actor_email"), text(EMAIL));
        assert_eq!(value_of(joined, "target_id"), text(row.id));
        let added = event(batch, "member.added");
        assert_eq!(value_of(added, "org_id"), text(row.org_id));
        assert_eq!(value_of(added, "target_id"), text(user));
        assert_eq!(
            metadata(added),
            json!({"role": "editor", "via": "invitation", "invitation_id": row.id})
        );
    }

    #[test]
    fn an_existing_account_joins_with_the_extra_statements_and_no_new_account() {
        let org = Org::new();
        let row = invitation(true);
        let user = UserId::new();
        let verify = store::users::mark_email_verified(org.global(), user, EMAIL).unwrap();
        let accepted = accept(
            org.global(),
            &org.origin,
            &row,
            user,
            EMAIL,
            None,
            vec![verify],
            REQUEST,
            NOW,
        )
        .unwrap();
        let all = effects(&accepted.batch);
        assert!(
            all_of(&accepted.batch, "INSERT users").is_empty(),
            "{all:?}"
        );
        assert_eq!(all[..2], ["UPDATE invitations", "INSERT batch_guards"]);
        assert_eq!(
            all[2], "UPDATE invitations",
            "the acceptance follows the guard"
        );
        // The link stays, to say later that the invitation was accepted.
        assert!(all_of(&accepted.batch, "DELETE invitation_links").is_empty());
        assert!(position(&all, "UPDATE users") > position(&all, "INSERT group_members"));
        assert_eq!(
            value_of(one_of(&accepted.batch, "INSERT org_members"), "user_id"),
            text(user)
        );
    }

    #[test]
    fn the_inviter_is_told_only_while_their_account_exists() {
        let org = Org::new();
        let row = invitation(true);
        let user = UserId::new();
        let accepted = accept(
            org.global(),
            &org.origin,
            &row,
            user,
            EMAIL,
            None,
            vec![],
            REQUEST,
            NOW,
        )
        .unwrap();
        let [mail] = &accepted.mails[..] else {
            panic!("one mail: {}", accepted.mails.len())
        };
        assert_eq!(mail.message.to, INVITER);
        assert_eq!(
            mail.message.content,
            MailContent::InvitationAccepted {
                first_name: "Grace".into(),
                invitee: EMAIL.into(),
                org_name: "Analytical Engines".into(),
            }
        );
        let outbox = one_of(&accepted.batch, "INSERT outbox");
        assert_eq!(value_of(outbox, "id"), text(&mail.message.id));
        assert_eq!(value_of(outbox, "kind"), text("invitation_accepted"));
        assert_eq!(value_of(outbox, "recipient"), text(INVITER));
        assert_eq!(value_of(outbox, "ref_type"), text("invitation"));
        assert_eq!(value_of(outbox, "ref_id"), text(row.id));

        let by_token = invitation(false);
        let accepted = accept(
            org.global(),
            &org.origin,
            &by_token,
            user,
            EMAIL,
            None,
            vec![],
            REQUEST,
            NOW,
        )
        .unwrap();
        assert!(accepted.mails.is_empty());
        assert!(all_of(&accepted.batch, "INSERT outbox").is_empty());
        // The joining itself is the same.
        assert_eq!(all_of(&accepted.batch, "INSERT audit_events").len(), 2);
        assert_eq!(all_of(&accepted.batch, "INSERT org_members").len(), 1);
    }

    fn standing(member: bool, pending: Option<(InvitationId, i64)>) -> InviteeStanding {
        InviteeStanding {
            account_id: member.then(UserId::new),
            member: i64::from(member),
            pending_id: pending.map(|p| p.0),
            pending_expires_at: pending.map(|p| p.1),
        }
    }

    fn offer<'a>(workspaces: &'a [WorkspaceAssignment], names: &'a [String]) -> Offer<'a> {
        Offer {
            role: OrgRole::Viewer,
            workspaces,
            workspace_names: names,
            groups: &[],
            message: Some("Welcome aboard"),
            inviter_name: "Grace Hopper",
            org_name: "Analytical Engines",
        }
    }

    #[test]
    fn several_emails_get_an_outcome_each_and_the_invited_take_their_seats_together() {
        use crate::domain::ids::WorkspaceId;
        use crate::domain::roles::WorkspaceRole;
        let org = Org::new();
        let ws = [WorkspaceAssignment {
            workspace: WorkspaceId::new(),
            role: WorkspaceRole::Editor,
        }];
        let names = ["Mill".to_string()];
        let (live, overdue) = (InvitationId::new(), InvitationId::new());
        let fresh = standing(false, None);
        let member = standing(true, None);
        let pending = standing(false, Some((live, NOW.millis() + 1)));
        let lapsed = standing(false, Some((overdue, NOW.millis())));
        let invitees = [
            ("a@example.com", &fresh),
            ("b@example.com", &member),
            ("c@example.com", &pending),
            ("d@example.com", &lapsed),
        ];
        let done = invite(
            &org.acting(OrgRole::Admin),
            &org.cfg,
            &offer(&ws, &names),
            &invitees,
            2,
        )
        .unwrap();
        let invited = done.invited();
        let [first, fourth] = invited[..] else {
            panic!("two invited: {:?}", done.outcomes)
        };
        assert_eq!(
            done.outcomes,
            [
                Outcome::Invited(first),
                Outcome::AlreadyMember,
                Outcome::InvitationExists(live),
                Outcome::Invited(fourth)
            ]
        );
        let one = [
            "INSERT invitations",
            "INSERT invitation_workspaces",
            "INSERT invitation_links",
            "INSERT outbox",
            "INSERT audit_events",
        ];
        let mut expected = vec!["INSERT audit_events", "UPDATE invitations"];
        expected.extend(one);
        expected.extend(one);
        expected.push("INSERT seat_guards");
        assert_eq!(effects(&done.batch), expected);
        // The overdue invitation is recorded expired before its email is invited afresh.
        let Arg::Text(expired) = &done.batch[1].args()[0] else {
            panic!("{:?}", done.batch[1])
        };
        assert!(expired.contains(&overdue.to_string()) && !expired.contains(&live.to_string()));
        let rows = all_of(&done.batch, "INSERT invitations");
        for (row, (id, email)) in rows
            .iter()
            .zip([(first, "a@example.com"), (fourth, "d@example.com")])
        {
            assert_eq!(value_of(row, "id"), text(id));
            assert_eq!(value_of(row, "email"), text(email));
            assert_eq!(value_of(row, "role"), text("viewer"));
            assert_eq!(value_of(row, "message"), text("Welcome aboard"));
            assert_eq!(value_of(row, "invited_by"), text(org.actor));
            assert_eq!(value_of(row, "invited_by_token"), Arg::Null);
            assert_eq!(value_of(row, "created_at"), Arg::Int(NOW.millis()));
            let expires = NOW.plus_seconds(org.cfg.invitation_ttl).millis();
            assert_eq!(value_of(row, "expires_at"), Arg::Int(expires));
        }
        // One email each, to the invited only, named in the outbox in the same batch.
        let to: Vec<&str> = done.mails.iter().map(|m| m.message.to.as_str()).collect();
        assert_eq!(to, ["a@example.com", "d@example.com"]);
        for (mail, outbox) in done.mails.iter().zip(all_of(&done.batch, "INSERT outbox")) {
            assert_eq!(value_of(outbox, "id"), text(&mail.message.id));
            let MailContent::Invitation(m) = &mail.message.content else {
                panic!("{:?}", mail.message.content)
            };
            assert_eq!(
                (m.inviter.as_str(), m.role.as_str()),
                ("Grace Hopper", "viewer")
            );
            assert_eq!(m.workspaces[0].name, "Mill");
            assert!(m
                .link
                .starts_with("https://app.example/invitations/accept?token="));
        }
        let created: Vec<serde_json::Value> = all_of(&done.batch, "INSERT audit_events")
            .into_iter()
            .filter(|e| value_of(e, "action") == text("invitation.created"))
            .map(metadata)
            .collect();
        assert_eq!(created.len(), 2);
        assert_eq!(created[1]["email"], "d@example.com");
        // Everything of the org names it (the links and outbox rows belong to the new
        // invitations; the expiry is the cron's statement, by the ids this org's read found).
        for which in [
            "INSERT invitations",
            "INSERT invitation_workspaces",
            "INSERT audit_events",
            "INSERT seat_guards",
        ] {
            for stmt in all_of(&done.batch[2..], which) {
                assert!(binds(stmt, &text(org.id())), "{which}: {stmt:?}");
            }
        }
    }

    #[test]
    fn too_few_seats_for_the_list_plans_nothing_and_says_how_many_are_free() {
        let org = Org::new();
        let fresh = standing(false, None);
        let invitees = [
            ("a@example.com", &fresh),
            ("b@example.com", &fresh),
            ("c@example.com", &fresh),
        ];
        let acting = org.acting(OrgRole::Admin);
        for (free, detail) in [
            (2, "These 3 invitations need 3 seats and 2 are free"),
            (0, "These 3 invitations need 3 seats and none is free"),
        ] {
            match invite(&acting, &org.cfg, &offer(&[], &[]), &invitees, free) {
                Err(ApiError::Conflict {
                    code: "capacity_exceeded",
                    detail: got,
                }) => assert!(got.starts_with(detail), "{got}"),
                other => panic!("{:?}", other.map(|d| d.outcomes)),
            }
        }
        match invite(&acting, &org.cfg, &offer(&[], &[]), &invitees[..1], 0) {
            Err(ApiError::Conflict { detail, .. }) => {
                assert!(detail.starts_with("This invitation needs a seat and none is free"))
            }
            other => panic!("{:?}", other.map(|d| d.outcomes)),
        }
        // Members and pending invitees need no seat.
        let member = standing(true, None);
        let done = invite(
            &acting,
            &org.cfg,
            &offer(&[], &[]),
            &[("a@example.com", &fresh), ("b@example.com", &member)],
            1,
        )
        .unwrap();
        assert_eq!(done.invited().len(), 1);
    }

    #[test]
    fn nobody_to_invite_is_an_empty_batch_and_no_mail() {
        let org = Org::new();
        let member = standing(true, None);
        let pending = standing(false, Some((InvitationId::new(), NOW.millis() + 60_000)));
        let done = invite(
            &org.acting(OrgRole::Editor),
            &org.cfg,
            &offer(&[], &[]),
            &[("a@example.com", &member), ("b@example.com", &pending)],
            0,
        )
        .unwrap();
        assert!(done.batch.is_empty() && done.mails.is_empty());
        assert_eq!(
            done.outcomes[0].refusal().map(|e| e.code()),
            Some("already_member")
        );
        assert_eq!(
            done.outcomes[1].refusal().map(|e| e.code()),
            Some("invitation_exists")
        );
    }

    #[test]
    fn an_api_token_is_recorded_as_the_inviter() {
        use crate::domain::ids::ApiTokenId;
        let org = Org::new();
        let token = ApiTokenId::new();
        let mut acting = org.acting(OrgRole::Admin);
        acting.actor = Actor::Token {
            id: token,
            name: "ci".into(),
        };
        let fresh = standing(false, None);
        let done = invite(
            &acting,
            &org.cfg,
            &offer(&[], &[]),
            &[("a@example.com", &fresh)],
            1,
        )
        .unwrap();
        let row = one_of(&done.batch, "INSERT invitations");
        assert_eq!(value_of(row, "invited_by"), Arg::Null);
        assert_eq!(value_of(row, "invited_by_token"), text(token));
    }
}
