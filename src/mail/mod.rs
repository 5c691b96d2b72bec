//! Email: handlers only enqueue a `MailMessage`; the queue consumer renders and delivers it.

pub mod deliver;
pub mod render;

use serde::Serialize;
use serde_json::Value;

use worker::{console_error, Env};

use crate::domain::ids::new_uuid_v7;
use crate::domain::time::Timestamp;
use crate::http::error::ApiResult;
use crate::store::invitations::InvitationRow;
use crate::store::{self, Db, Row, Stmt};

/// What travels through the queue. `id` is the idempotency key: the outbox row of that id
/// records the delivery state, and a message is never sent twice for one id.
#[derive(Debug, Clone, PartialEq, Serialize)]
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

    /// The message in a queue body, as `to_queue_body` writes it. Read by hand through
    /// `store::Row` rather than a derived `Deserialize`: serde derives a map and a sequence
    /// visitor per variant, ~20 KB of wasm for these nine (BENCHMARKS.md, "wasm size").
    /// Unknown fields are ignored, as serde would; a missing or mistyped one is an error.
    pub fn from_queue_body(body: &str) -> Result<Self, String> {
        let Value::Object(mut fields) = serde_json::from_str(body).map_err(|e| e.to_string())?
        else {
            return Err("not a JSON object".into());
        };
        let content = fields.remove("content").unwrap_or_default();
        let Envelope { id, to } = Row::read(Value::Object(fields))?;
        Ok(MailMessage {
            id,
            to,
            content: MailContent::from_value(content)?,
        })
    }
}

/// One kind's fields; an error names where (`content.activation: column link: not text`).
fn read<T: store::FromRow>(kind: &str, fields: Value) -> Result<T, String> {
    Row::read(fields).map_err(|e| format!("content.{kind}: {e}"))
}

crate::row! {
    struct Envelope {
        id: String,
        to: String,
    }
}

// The fields of each kind of content, as the queue body holds them.
crate::row! {
    struct LinkFields {
        first_name: String,
        link: String,
        expires_at: String,
    }
}

crate::row! {
    struct VerificationFields {
        first_name: String,
        new_email: String,
        link: String,
        expires_at: String,
    }
}

crate::row! {
    struct ChangeFields {
        first_name: String,
        new_email: String,
    }
}

crate::row! {
    struct NameFields {
        first_name: String,
    }
}

crate::row! {
    struct LockedFields {
        first_name: String,
        reset_link: String,
    }
}

crate::row! {
    struct AcceptedFields {
        first_name: String,
        invitee: String,
        org_name: String,
    }
}

impl MailContent {
    /// `{"<kind>": {…}}`: the externally tagged form the derived `Serialize` writes.
    fn from_value(value: Value) -> Result<Self, String> {
        let Value::Object(tagged) = value else {
            return Err("content: not an object".into());
        };
        let mut entries = tagged.into_iter();
        let (Some((kind, fields)), None) = (entries.next(), entries.next()) else {
            return Err("content: must name exactly one kind".into());
        };
        Ok(match kind.as_str() {
            "activation" => {
                let f: LinkFields = read(&kind, fields)?;
                MailContent::Activation {
                    first_name: f.first_name,
                    link: f.link,
                    expires_at: f.expires_at,
                }
            }
            "password_reset" => {
                let f: LinkFields = read(&kind, fields)?;
                MailContent::PasswordReset {
                    first_name: f.first_name,
                    link: f.link,
                    expires_at: f.expires_at,
                }
            }
            "email_verification" => {
                let f: VerificationFields = read(&kind, fields)?;
                MailContent::EmailVerification {
                    first_name: f.first_name,
                    new_email: f.new_email,
                    link: f.link,
                    expires_at: f.expires_at,
                }
            }
            "email_change_requested" => {
                let f: ChangeFields = read(&kind, fields)?;
                MailContent::EmailChangeRequested {
                    first_name: f.first_name,
                    new_email: f.new_email,
                }
            }
            "password_changed" => {
                let f: NameFields = read(&kind, fields)?;
                MailContent::PasswordChanged {
                    first_name: f.first_name,
                }
            }
            "account_locked" => {
                let f: LockedFields = read(&kind, fields)?;
                MailContent::AccountLocked {
                    first_name: f.first_name,
                    reset_link: f.reset_link,
                }
            }
            "invitation" => MailContent::Invitation(read(&kind, fields)?),
            "invitation_reminder" => MailContent::InvitationReminder(read(&kind, fields)?),
            "invitation_accepted" => {
                let f: AcceptedFields = read(&kind, fields)?;
                MailContent::InvitationAccepted {
                    first_name: f.first_name,
                    invitee: f.invitee,
                    org_name: f.org_name,
                }
            }
            _ => return Err(format!("content: unknown kind {kind}")),
        })
    }
}

/// Each kind of email with the data its template needs. Times are preformatted RFC 3339.
#[derive(Debug, Clone, PartialEq, Serialize)]
// Externally tagged (`{"activation": {…}}`): serde's adjacently tagged and flattened forms
// buffer through its `Content` type, which cost ~3 KB gzip more wasm for the same data.
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

crate::row! {
    /// What an invitation email says; every value is the sender's text and is escaped in
    /// HTML.
    #[derive(Debug, Clone, PartialEq, Serialize)]
    pub struct InvitationMail {
        pub inviter: String,
        pub org_name: String,
        pub role: String,
        pub workspaces: Vec<MailWorkspace>,
        pub message: Option<String>,
        pub link: String,
        pub expires_at: String,
    }
}

crate::row! {
    #[derive(Debug, Clone, PartialEq, Serialize)]
    pub struct MailWorkspace {
        pub name: String,
        pub role: String,
    }
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
            role: row.role.clone(),
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
    pub fn outbox_row(&self, db: &Db, now: Timestamp) -> ApiResult<Stmt> {
        store::mail::insert_queued(
            db,
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
pub async fn enqueue(env: &Env, db: &Db, request_id: &str, messages: Vec<MailMessage>) {
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
                db,
                &m.id,
                "enqueue failed",
                true,
                Timestamp::now(),
            )
            .await;
        }
    }
}
