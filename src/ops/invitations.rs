//! Accepting an invitation: whoever proved they are the invitee (the emailed link with a new
//! account, or signed in as its address) joins the invitation's org.

use crate::domain::ids::UserId;
use crate::domain::time::Timestamp;
use crate::error::ApiResult;
use crate::mail::{MailContent, Outgoing};
use crate::store::audit::{Actor, Event, Origin};
use crate::store::invitations::InvitationRow;
use crate::store::{self, Stmt, Store};

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
}
