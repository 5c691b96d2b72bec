//! The invitation cron steps: record the expiry of overdue invitations (freeing their seats
//! and writing `invitation.expired`), and remind invitees shortly before expiry. Both work
//! in bounded batches, are idempotent, and continue where the previous run stopped.

use serde::Deserialize;
use worker::Env;

use crate::config::Config;
use crate::domain::ids::new_uuid_v7;
use crate::domain::time::Timestamp;
use crate::domain::token::{hash_secret, new_secret};
use crate::error::ApiResult;
use crate::mail::{self, link, InvitationMail, MailContent, MailMessage};
use crate::store::invitations::{self, Reminder};
use crate::store::{self, Store};

/// Invitations expired per batch (two statements each, whatever the count) and batches
/// per run: a run writes at most 5,000 invitations and as many audit events.
const EXPIRE_BATCH: i64 = 500;
const EXPIRE_ROUNDS: usize = 10;
/// A queue `sendBatch` takes at most 100 messages.
const REMIND_BATCH: i64 = 100;
const REMIND_ROUNDS: usize = 5;

pub async fn expire_overdue(db: &Store, now: Timestamp) -> ApiResult<usize> {
    let mut total = 0;
    for _ in 0..EXPIRE_ROUNDS {
        let ids = invitations::overdue(db, now, EXPIRE_BATCH).await?;
        if ids.is_empty() {
            break;
        }
        let results = db.batch(invitations::expire(db, &ids, now)?).await?;
        total += results.last().map_or(0, store::Outcome::changes);
        if (ids.len() as i64) < EXPIRE_BATCH {
            break;
        }
    }
    Ok(total)
}

#[derive(Deserialize)]
struct Id {
    id: String,
}

pub async fn send_reminders(
    env: &Env,
    cfg: &Config,
    db: &Store,
    now: Timestamp,
) -> ApiResult<usize> {
    if cfg.invitation_reminder == 0 {
        return Ok(0);
    }
    let window_ms = cfg.invitation_reminder.saturating_mul(1000);
    let mut total = 0;
    for _ in 0..REMIND_ROUNDS {
        let due = invitations::due_reminders(db, now, window_ms, REMIND_BATCH).await?;
        if due.is_empty() {
            break;
        }
        let mut reminders = Vec::with_capacity(due.len());
        let mut messages = Vec::with_capacity(due.len());
        for row in &due {
            let secret = new_secret();
            let message = MailMessage {
                id: new_uuid_v7().to_string(),
                to: row.email.clone(),
                content: MailContent::InvitationReminder(InvitationMail::for_invitation(
                    row,
                    &row.org_name,
                    link(&cfg.app_url, "invitations/accept", &secret),
                    Timestamp(row.expires_at),
                )),
            };
            reminders.push(Reminder {
                invitation: row.id,
                token_hash: hash_secret(&secret),
                mail_id: message.id.clone(),
            });
            messages.push(message);
        }
        let results = db
            .batch(invitations::record_reminders(db, &reminders, now)?)
            .await?;
        // Only the outbox rows this run wrote (a concurrent run may have taken some).
        let written: Vec<String> = match results.get(1) {
            Some(r) => r.rows::<Id>()?.into_iter().map(|i| i.id).collect(),
            None => Vec::new(),
        };
        messages.retain(|m| written.contains(&m.id));
        total += messages.len();
        mail::enqueue(env, db, "cron", messages).await;
        if (due.len() as i64) < REMIND_BATCH {
            break;
        }
    }
    Ok(total)
}
