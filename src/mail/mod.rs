//! Email: handlers only enqueue a `MailMessage`; the queue consumer renders and delivers it.

pub mod deliver;
pub mod render;

use serde::{Deserialize, Serialize};

use worker::{console_error, Env};

use crate::domain::ids::new_uuid_v7;
use crate::domain::time::Timestamp;
use crate::error::ApiResult;
use crate::store::invitations::InvitationRow;
use crate::store::{self, Stmt, Store};

/// What travels through the queue. `id` is the idempotency key: the outbox row of that id
/// records the delivery state, and a message is never sent twice for one id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MailMessage {
    pub id: String,
    pub to: String,
    pub content: MailContent,
}

impl MailMessage {
    /// Queue bodies are JSON text: the same bytes whatever the JS structured clone would do
    /// to nested enums, and a malformed body is a parse error rather than a panic.
    pub fn to_queue_body(&self) -> String {
        // Plain strings and enums only: serialisation cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The message in a queue body, as `to_queue_body` writes it (unknown fields are
    /// ignored; a missing or mistyped one is an error naming it).
    pub fn from_queue_body(body: &str) -> Result<Self, String> {
        let mut json = serde_json::Deserializer::from_str(body);
        let message: Self = serde_path_to_error::deserialize(&mut json)
            .map_err(|e| format!("{}: {}", e.path(), e.inner()))?;
        json.end().map_err(|e| e.to_string())?;
        Ok(message)
    }
}

/// Each kind of email with the data its template needs. Times are preformatted RFC 3339.
/// Declared once: the queue body is written and read by the same derives
/// (`{"activation": {…}}`, externally tagged).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MailContent {
    Activation {
        first_name: String,
        link: String,
        expires_at: String,
    },
    PasswordReset {
        first_name: String,
        link: String,
        expires_at: String,
    },
    EmailVerification {
        first_name: String,
        new_email: String,
        link: String,
        expires_at: String,
    },
    /// Sent to the old address when a change to a new one is requested.
    EmailChangeRequested {
        first_name: String,
        new_email: String,
    },
    PasswordChanged {
        first_name: String,
    },
    AccountLocked {
        first_name: String,
        reset_link: String,
    },
    Invitation(InvitationMail),
    /// Sent by the cron shortly before an unanswered invitation expires.
    InvitationReminder(InvitationMail),
    /// Tells the inviter that the invitee joined.
    InvitationAccepted {
        first_name: String,
        invitee: String,
        org_name: String,
    },
}

/// What an invitation email says; every value is the sender's text and is escaped in HTML.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InvitationMail {
    pub inviter: String,
    pub org_name: String,
    pub role: String,
    pub workspaces: Vec<MailWorkspace>,
    pub message: Option<String>,
    pub link: String,
    pub expires_at: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MailWorkspace {
    pub name: String,
    pub role: String,
}

impl InvitationMail {
    /// The email for a stored invitation (a resend or a reminder) with a fresh `link`.
    /// An inviter whose account is gone is named by `inviter_fallback`.
    pub fn for_invitation(
        row: &InvitationRow,
        inviter_fallback: &str,
        link: String,
        expires_at: Timestamp,
    ) -> Self {
        InvitationMail {
            inviter: row
                .inviter_name()
                .unwrap_or_else(|| inviter_fallback.to_string()),
            org_name: row.org_name.clone(),
            role: row.role.as_str().to_string(),
            workspaces: row
                .workspace_list()
                .into_iter()
                .map(|w| MailWorkspace {
                    name: w.name,
                    role: w.role,
                })
                .collect(),
            message: row.message.clone(),
            link,
            expires_at: expires_at.to_rfc3339(),
        }
    }
}

impl MailContent {
    pub fn kind(&self) -> &'static str {
        match self {
            MailContent::Activation { .. } => "activation",
            MailContent::PasswordReset { .. } => "password_reset",
            MailContent::EmailVerification { .. } => "email_verification",
            MailContent::EmailChangeRequested { .. } => "email_change_requested",
            MailContent::PasswordChanged { .. } => "password_changed",
            MailContent::AccountLocked { .. } => "account_locked",
            MailContent::Invitation(_) => "invitation",
            MailContent::InvitationReminder(_) => "invitation_reminder",
            MailContent::InvitationAccepted { .. } => "invitation_accepted",
        }
    }
}

/// A message about to be sent, with its outbox row to write in the caller's batch.
pub struct Outgoing {
    pub message: MailMessage,
    pub reference: Option<(&'static str, String)>,
}

impl Outgoing {
    pub fn new(to: &str, content: MailContent) -> Self {
        Outgoing {
            message: MailMessage {
                id: new_uuid_v7().to_string(),
                to: to.to_string(),
                content,
            },
            reference: None,
        }
    }

    /// Ties the outbox row to what it is about (e.g. an invitation), so that the delivery
    /// state can be shown there.
    pub fn about(mut self, kind: &'static str, id: String) -> Self {
        self.reference = Some((kind, id));
        self
    }

    /// The outbox row (status `queued`), to be written atomically with what caused the email.
    pub fn outbox_row(&self, store: &Store, now: Timestamp) -> ApiResult<Stmt> {
        store::mail::insert_queued(
            store,
            &self.message.id,
            self.message.content.kind(),
            &self.message.to,
            self.reference.as_ref().map(|(t, id)| (*t, id.as_str())),
            now,
        )
    }
}

/// A link into the front end, e.g. `{APP_URL}/activate?token=…`.
pub fn link(app_url: &str, page: &str, token: &str) -> String {
    format!("{app_url}/{page}?token={token}")
}

/// Hands committed messages to the queue. The outbox rows were written with the change
/// that caused them; a message the queue refuses is marked `failed` there and logged, so it
/// is never silently lost (the change itself stands).
pub async fn enqueue(env: &Env, store: &Store, request_id: &str, messages: Vec<MailMessage>) {
    if messages.is_empty() {
        return;
    }
    let bodies: Vec<String> = messages.iter().map(MailMessage::to_queue_body).collect();
    let sent = match env.queue("MAIL_QUEUE") {
        Ok(queue) => queue.send_batch(bodies).await.map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    if let Err(cause) = sent {
        console_error!(
            "{}",
            crate::object!({"level": "error", "request_id": request_id,
                "msg": "mail enqueue failed", "cause": cause})
        );
        for m in &messages {
            let _ = store::mail::mark_attempt_failed(
                store,
                &m.id,
                "enqueue failed",
                true,
                Timestamp::now(),
            )
            .await;
        }
    }
}
