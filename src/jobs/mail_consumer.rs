//! The mail queue consumer: claim, render, deliver, record; retry with exponential backoff;
//! after `MAIL_MAX_ATTEMPTS` failed attempts mark `failed` and hand the message to the
//! dead-letter queue. The outbox row makes delivery idempotent per message id.

use worker::{
    console_error, console_log, Env, Message, MessageBatch, MessageExt, QueueRetryOptionsBuilder,
};

use crate::config::Config;
use crate::domain::time::Timestamp;
use crate::error::{ApiError, ApiResult};
use crate::mail::deliver::deliver;
use crate::mail::render::render;
use crate::mail::MailMessage;
use crate::store::{self, Db, Store};

/// How long one consumer holds a message before another may take it over (a crash).
const CLAIM_MS: i64 = 120_000;

/// Delay before retry number `attempt` (1-based): base, 2×base, 4×base … capped at 1 h.
pub fn backoff_seconds(base: i64, attempt: i64) -> u32 {
    let exp = attempt.clamp(1, 12) - 1;
    base.saturating_mul(1 << exp).clamp(0, 3_600) as u32
}

enum Outcome {
    Done,
    RetryIn(u32),
}

async fn process(env: &Env, cfg: &Config, db: &Store, msg: &MailMessage) -> ApiResult<Outcome> {
    let now = Timestamp::now();
    let Some(attempt) = store::mail::claim(db, &msg.id, now, CLAIM_MS).await? else {
        return Ok(match store::mail::status(db, &msg.id).await?.as_deref() {
            // Another consumer holds it: look again once its claim may have lapsed.
            Some("sending") => Outcome::RetryIn((CLAIM_MS / 1000) as u32),
            // Sent or failed already (a redelivery), or unknown: never send twice.
            _ => Outcome::Done,
        });
    };
    let rendered = render(&msg.content);
    match deliver(cfg, &msg.id, &msg.to, &rendered).await {
        Ok(()) => {
            if cfg.is_development() {
                db.run_stmt(store::mail::keep_in_dev_mailbox(
                    db,
                    &msg.id,
                    &msg.to,
                    &rendered.subject,
                    &rendered.text,
                    &rendered.html,
                    now,
                )?)
                .await?;
            }
            store::mail::mark_sent(db, &msg.id, Timestamp::now()).await?;
            Ok(Outcome::Done)
        }
        Err(error) => {
            let final_attempt = attempt >= cfg.mail_max_attempts;
            store::mail::mark_attempt_failed(db, &msg.id, &error, final_attempt, Timestamp::now())
                .await?;
            console_error!(
                "{}",
                crate::object!({"level": "warn", "msg": "mail delivery failed", "id": msg.id,
                    "attempt": attempt, "final": final_attempt, "error": error})
            );
            if final_attempt {
                let dlq = env.queue("MAIL_DLQ").map_err(ApiError::internal)?;
                dlq.send(msg.to_queue_body())
                    .await
                    .map_err(ApiError::internal)?;
                Ok(Outcome::Done)
            } else {
                Ok(Outcome::RetryIn(backoff_seconds(
                    cfg.mail_retry_base_seconds,
                    attempt,
                )))
            }
        }
    }
}

fn retry(message: &Message<String>, seconds: u32) {
    message.retry_with_options(
        &QueueRetryOptionsBuilder::new()
            .with_delay_seconds(seconds)
            .build(),
    );
}

pub async fn consume(batch: MessageBatch<String>, env: Env) -> worker::Result<()> {
    let cfg =
        crate::config::cached(&env).map_err(|e| worker::Error::RustError(format!("{e:?}")))?;
    let db = Store::open(&Db::new(env.d1("DB")?).traced(cfg.sql_trace));
    for message in batch.messages()? {
        let mail = match MailMessage::from_queue_body(message.body()) {
            Ok(mail) => mail,
            Err(e) => {
                // Not ours or corrupt: retrying cannot help. Log it and drop it.
                console_error!(
                    "{}",
                    crate::object!({"level": "error", "msg": "malformed mail message", "cause": e})
                );
                message.ack();
                continue;
            }
        };
        match process(&env, &cfg, &db, &mail).await {
            Ok(Outcome::Done) => message.ack(),
            Ok(Outcome::RetryIn(seconds)) => retry(&message, seconds),
            Err(e) => {
                // Storage trouble: let the queue redeliver later; the outbox stays consistent.
                console_error!(
                    "{}",
                    crate::object!({"level": "error", "msg": "mail consumer", "cause": format!("{e:?}")})
                );
                retry(&message, backoff_seconds(cfg.mail_retry_base_seconds, 1));
            }
        }
    }
    console_log!(
        "{}",
        crate::object!({"level": "info", "msg": "mail batch done"})
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::backoff_seconds;

    #[test]
    fn backoff_doubles_and_caps() {
        assert_eq!(backoff_seconds(30, 1), 30);
        assert_eq!(backoff_seconds(30, 2), 60);
        assert_eq!(backoff_seconds(30, 3), 120);
        assert_eq!(backoff_seconds(30, 20), 3_600);
        assert_eq!(backoff_seconds(0, 4), 0);
    }
}
