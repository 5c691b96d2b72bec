//! Health, discovery documents, and the development mailbox.

use serde_json::{json, Value};

use super::views::time;
use crate::http::error::{ApiError, ApiResult};
use crate::http::keys::keys;
use crate::http::pagination::Page;
use crate::http::{Ctx, Reply};
use crate::store;

pub const OPENAPI: &str = include_str!("../openapi.json");

pub async fn health(ctx: &Ctx) -> ApiResult<Reply> {
    Ok(Reply::ok(json!({
        "status": "ok",
        "version": env!("CARGO_PKG_VERSION"),
        "environment": if ctx.cfg.is_development() { "development" } else { "deployed" },
    })))
}

pub fn openapi() -> ApiResult<Reply> {
    let doc: Value = serde_json::from_str(OPENAPI).map_err(ApiError::internal)?;
    Ok(Reply::ok(doc))
}

pub async fn jwks(ctx: &Ctx) -> ApiResult<Reply> {
    Ok(Reply::ok(keys(&ctx.env, &ctx.cfg).await?.jwks()))
}

/// Development only: what the mail consumer delivered, newest first. 404 elsewhere, as if
/// the route did not exist.
pub async fn dev_mailbox(ctx: &Ctx) -> ApiResult<Reply> {
    if !ctx.cfg.is_development() {
        return Err(ApiError::NotFound);
    }
    let page = ctx.page()?;
    let to = ctx.query("to").map(|t| t.trim().to_lowercase());
    let rows = store::mail::dev_mailbox(
        &ctx.db,
        to.as_deref(),
        page.after.as_deref(),
        page.fetch_limit(),
    )
    .await?;
    let page = Page::from_rows(rows, &page, |r| r.id.clone());
    let data: Vec<Value> = page
        .data
        .iter()
        .map(|m| {
            json!({
                "id": m.id,
                "to": m.recipient,
                "subject": m.subject,
                "text": m.text_body,
                "html": m.html_body,
                "created_at": time(m.created_at),
            })
        })
        .collect();
    Ok(Reply::ok(
        json!({"data": data, "next_cursor": page.next_cursor}),
    ))
}
