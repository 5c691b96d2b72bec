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
