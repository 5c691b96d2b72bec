//! Health, discovery documents, and the development mailbox.

use super::views::time;
use crate::error::{ApiError, ApiResult};
use crate::http::pagination::Page;
use crate::http::{Ctx, Reply};
use crate::store;

crate::routes! {
    GET "/health" => public health;
    GET "/health/ready" => public ready;
    GET "/.well-known/jwks.json" => public jwks;
    GET "/v1/dev/mailbox" => public dev_mailbox;
}

pub async fn health(ctx: &Ctx) -> ApiResult<Reply> {
    Ok(Reply::ok(crate::object!({
        "status": "ok",
        "version": env!("CARGO_PKG_VERSION"),
        "environment": if ctx.cfg.is_development() { "development" } else { "deployed" },
    })))
}

/// Readiness: D1 answers an indexed read (one primary-key lookup). Load balancers and
/// the benchmark's "one indexed D1 read" floor use it.
pub async fn ready(ctx: &Ctx) -> ApiResult<Reply> {
    store::users::probe(ctx.store()).await?;
    Ok(Reply::ok(crate::object!({ "status": "ok", "d1": "ok" })))
}

pub async fn jwks(ctx: &Ctx) -> ApiResult<Reply> {
    Ok(Reply::ok(ctx.keys().await?.jwks()))
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
        ctx.store(),
        to.as_deref(),
        page.before_key(),
        page.fetch_limit(),
    )
    .await?;
    let page = Page::from_rows(rows, &page, |r| r.id.clone());
    Ok(Reply::ok(page.render(|m| {
        crate::object!({
            "id": m.id,
            "to": m.recipient,
            "subject": m.subject,
            "text": m.text_body,
            "html": m.html_body,
            "created_at": time(m.created_at),
        })
    })))
}

#[cfg(test)]
mod tests {
    use crate::api::ROUTES;
    use serde_json::Value;
    use std::collections::BTreeSet;

    /// The OpenAPI document. Served as a static file of the Worker's assets (the console build
    /// copies it), never compiled into the wasm: only these tests read it here.
    const OPENAPI: &str = include_str!("../openapi.json");

    /// Paths the document describes that the Worker's assets answer, not the router.
    const STATIC_FILES: [&str; 1] = ["/openapi.json"];

    /// The document and the router describe the same (method, path) pairs, both ways.
    #[test]
    fn openapi_document_matches_the_router() {
        let doc: Value = serde_json::from_str(OPENAPI).expect("openapi.json is JSON");
        assert_eq!(doc["openapi"], "3.1.0");
        let mut documented = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            if STATIC_FILES.contains(&path.as_str()) {
                continue;
            }
            for method in ["get", "post", "put", "patch", "delete"] {
                if item.get(method).is_some() {
                    documented.insert((method.to_uppercase(), path.clone()));
                }
            }
        }
        // The SCIM service is described by SCIM's own discovery (`/scim/v2/Schemas`,
        // `/ResourceTypes`, `/ServiceProviderConfig`), not by this document.
        let routed: BTreeSet<(String, String)> = ROUTES
            .iter()
            .flat_map(|group| group.iter())
            .filter(|r| !r.pattern.starts_with("/scim/"))
            .map(|r| (r.method.to_string(), r.pattern.to_string()))
            .collect();
        let missing: Vec<_> = routed.difference(&documented).collect();
        let extra: Vec<_> = documented.difference(&routed).collect();
        assert!(
            missing.is_empty(),
            "routes missing from openapi.json: {missing:?}"
        );
        assert!(
            extra.is_empty(),
            "openapi.json documents routes that do not exist: {extra:?}"
        );
    }

    /// Every operation documents its responses, and every problem code it names exists.
    #[test]
    fn every_operation_has_responses() {
        let doc: Value = serde_json::from_str(OPENAPI).expect("openapi.json is JSON");
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for (method, op) in item.as_object().expect("path item") {
                if !["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                    continue;
                }
                let responses = op["responses"].as_object();
                assert!(
                    responses.is_some_and(|r| !r.is_empty()),
                    "{method} {path} has no responses"
                );
                assert!(
                    op["operationId"].is_string(),
                    "{method} {path} has no operationId"
                );
            }
        }
    }
}
