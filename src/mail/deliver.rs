//! Delivery through the configured provider. Errors are strings for the outbox's
//! `last_error`; the consumer decides between retry and dead-letter.

use worker::{console_log, web_sys, Fetch, Headers, Request};

use super::render::Rendered;
use crate::config::{Config, EmailProvider};

pub async fn deliver(cfg: &Config, id: &str, to: &str, mail: &Rendered) -> Result<(), String> {
    match &cfg.email_provider {
        EmailProvider::Console => {
            console_log!(
                "{}",
                crate::object!({
                    "level": "info",
                    "msg": "email (console provider)",
                    "id": id,
                    "to": to,
                    "subject": mail.subject,
                    "text": mail.text,
                })
            );
            Ok(())
        }
        EmailProvider::Http { url, api_key } => {
            let body = crate::object!({
                "from": cfg.email_from,
                "to": [to],
                "subject": mail.subject,
                "text": mail.text,
                "html": mail.html,
            });
            let headers = Headers::new();
            let set = |k: &str, v: &str| headers.set(k, v).map_err(|e| e.to_string());
            set("content-type", "application/json")?;
            // Providers that honour it drop a duplicate delivery of the same message.
            set("idempotency-key", id)?;
            if !api_key.is_empty() {
                set("authorization", &format!("Bearer {api_key}"))?;
            }
            // Built with web-sys directly: worker's own `RequestInit` converts every option
            // it knows (cf properties included) on the way, ~10 KB of wasm for a plain POST.
            let init = web_sys::RequestInit::new();
            init.set_method("POST");
            init.set_headers(headers.as_ref());
            init.set_body(&body.to_string().into());
            let request = web_sys::Request::new_with_str_and_init(url, &init)
                .map(Request::from)
                .map_err(|e| format!("provider request: {e:?}"))?;
            let response = Fetch::Request(request)
                .send()
                .await
                .map_err(|e| format!("provider unreachable: {e}"))?;
            let status = response.status_code();
            if (200..300).contains(&status) {
                Ok(())
            } else {
                Err(format!("provider answered HTTP {status}"))
            }
        }
    }
}
