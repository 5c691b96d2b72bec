//! The org's audit trail: filtered keyset pages, newest first, and the full export as
//! NDJSON, streamed page by page so that its size never has to fit in memory.

use std::rc::Rc;

use futures_util::stream;
use serde_json::Value;

use super::views::time;
use crate::domain::ids::{v7_floor, UserId};
use crate::domain::time::Timestamp;
use crate::domain::validation::{self as v, FieldErrors};
use crate::error::{ApiError, ApiResult};
use crate::http::access::OrgAccess;
use crate::http::pagination::Page;
use crate::http::{Ctx, Reply};
use crate::store;
use crate::store::audit::{AuditRow, TrailFilter};

crate::routes! {
    GET "/v1/orgs/{org}/audit-events" => org(Governance) list;
}

/// Rows per D1 read of the export.
const EXPORT_CHUNK: u32 = 500;
/// Event ids are made just after the event's time; a window's id bound leaves this margin.
const ID_MARGIN_MS: i64 = 60_000;

/// A person `{type: user, id, email}`, an API token `{type: api_token, id, name}`, the
/// platform operator `{type: operator}`, or `null` for the service itself (the cron).
fn actor(e: &AuditRow) -> Value {
    match (e.actor_type.as_deref(), &e.actor_id, &e.actor_email) {
        (Some("api_token"), id, _) => {
            crate::object!({"type": "api_token", "id": id, "name": e.actor_name})
        }
        (Some("operator"), _, _) => crate::object!({"type": "operator"}),
        (Some("scim_token"), id, _) => {
            crate::object!({"type": "scim_token", "id": id, "name": e.actor_name})
        }
        (_, None, None) => Value::Null,
        (_, id, email) => crate::object!({"type": "user", "id": id, "email": email}),
    }
}

fn view(e: &AuditRow) -> Value {
    crate::object!({
        "id": e.id,
        "at": time(e.at),
        "actor": actor(e),
        "action": e.action,
        "target": match (&e.target_type, &e.target_id) {
            (Some(t), Some(id)) => crate::object!({"type": t, "id": id}),
            _ => Value::Null,
        },
        "ip": e.ip,
        "user_agent": e.user_agent,
        "auth_method": e.auth_method,
        "success": e.success != 0,
        "metadata": e.metadata.as_deref().and_then(|m| serde_json::from_str::<Value>(m).ok()),
    })
}

/// The query's filters, owned (the export outlives the request's borrow).
struct Filters {
    actor_id: Option<String>,
    actor_email: Option<String>,
    action: Option<String>,
    /// `prefix.*`: the action range [`prefix.`, `prefix/`) (`/` follows `.` in ASCII).
    action_range: Option<(String, String)>,
    since: Option<Timestamp>,
    until: Option<Timestamp>,
    id_from: String,
    id_to: String,
}

impl Filters {
    fn borrow(&self) -> TrailFilter<'_> {
        TrailFilter {
            actor_id: self.actor_id.as_deref(),
            actor_email: self.actor_email.as_deref(),
            action: self.action.as_deref(),
            action_range: self
                .action_range
                .as_ref()
                .map(|(from, to)| (from.as_str(), to.as_str())),
            since: self.since,
            until: self.until,
            id_from: &self.id_from,
            id_to: &self.id_to,
        }
    }
}

/// `a.b_c` or `a.*`: lower-case words separated by dots, optionally ending in `.*`.
fn valid_action(s: &str) -> bool {
    let words = s.strip_suffix(".*").unwrap_or(s);
    !words.is_empty()
        && words
            .split('.')
            .all(|w| !w.is_empty() && w.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
}

fn parse_filters(ctx: &Ctx) -> ApiResult<Filters> {
    let mut errs = FieldErrors::default();
    let (mut actor_id, mut actor_email) = (None, None);
    if let Some(actor) = ctx.filter_param("actor") {
        if let Ok(id) = actor.parse::<UserId>() {
            actor_id = Some(id.to_string());
        } else if let Ok(email) = v::normalize_email(actor) {
            actor_email = Some(email);
        } else {
            errs.add(
                "actor",
                "must be a user id, an API token id or an email address",
            );
        }
    }
    let (mut action, mut action_range) = (None, None);
    if let Some(a) = ctx.filter_param("action") {
        if !valid_action(a) {
            errs.add(
                "action",
                "must be an action name like invitation.created, or a prefix like invitation.*",
            );
        } else if let Some(prefix) = a.strip_suffix(".*") {
            // A range, not LIKE: D1 caps LIKE patterns at 50 bytes, a range has no cap.
            action_range = Some((format!("{prefix}."), format!("{prefix}/")));
        } else {
            action = Some(a.to_string());
        }
    }
    let mut time_param = |name: &'static str| {
        ctx.filter_param(name).and_then(|t| {
            let parsed = Timestamp::parse_rfc3339(t);
            if parsed.is_none() {
                errs.add(name, "must be an RFC 3339 time, e.g. 2026-01-31T12:00:00Z");
            }
            parsed
        })
    };
    let since = time_param("since");
    let until = time_param("until");
    if let (Some(s), Some(u)) = (since, until) {
        if s > u {
            errs.add("since", "must not be after until");
        }
    }
    if !errs.is_empty() {
        return Err(ApiError::Validation(errs.0));
    }
    Ok(Filters {
        actor_id,
        actor_email,
        action,
        action_range,
        since,
        until,
        id_from: since.map_or_else(String::new, |s| v7_floor(s.millis())),
        id_to: until.map_or_else(|| "~".to_string(), |u| v7_floor(u.millis() + ID_MARGIN_MS)),
    })
}

/// `?actor=&action=&since=&until=&limit=&cursor=&format=json|ndjson`.
pub async fn list(ctx: &Ctx, access: OrgAccess) -> ApiResult<Reply> {
    let format = ctx.query("format").unwrap_or("json");
    if format != "json" && format != "ndjson" {
        return Err(ApiError::field("format", "must be json or ndjson"));
    }
    let filters = parse_filters(ctx)?;
    if format == "ndjson" {
        return Ok(export(access, filters));
    }
    let page = ctx.page()?;
    let rows = store::audit::org_page(
        access.store(),
        &filters.borrow(),
        page.before_key(),
        page.fetch_limit(),
    )
    .await?;
    let page = Page::from_rows(rows, &page, |e| e.id.clone());
    Ok(Reply::ok(page.render(view)))
}

/// Every matching event, newest first, one JSON object per line; D1 is read a chunk at a
/// time as the client consumes the body.
fn export(access: OrgAccess, filters: Filters) -> Reply {
    let org = access.store().clone();
    let filters = Rc::new(filters);
    // State: the key to continue before, or None once the last chunk was read.
    let chunks = stream::unfold(Some(String::from("~")), move |before| {
        let org = org.clone();
        let filters = filters.clone();
        async move {
            let before = before?;
            let rows = store::audit::org_page(&org, &filters.borrow(), &before, EXPORT_CHUNK).await;
            Some(match rows {
                Ok(rows) => {
                    // A full chunk may have more after it; a short one is the last.
                    let next = (rows.len() == EXPORT_CHUNK as usize)
                        .then(|| rows.last().map(|r| r.id.clone()))
                        .flatten();
                    let mut text = String::new();
                    for r in &rows {
                        text.push_str(&view(r).to_string());
                        text.push('\n');
                    }
                    (Ok(text.into_bytes()), next)
                }
                Err(e) => (Err(worker::Error::RustError(format!("{e:?}"))), None),
            })
        }
    });
    Reply::streamed("application/x-ndjson", Box::pin(chunks))
}

#[cfg(test)]
mod tests {
    use super::valid_action;

    #[test]
    fn action_filters_are_names_or_prefixes() {
        for ok in [
            "invitation.created",
            "invitation.*",
            "user",
            "workspace_member.added",
            "a.b.*",
        ] {
            assert!(valid_action(ok), "{ok}");
        }
        for bad in [
            "",
            "*",
            ".*",
            "Invitation.created",
            "invitation.",
            "invitation..x",
            "invitation.*.x",
            "a%",
            "a b",
        ] {
            assert!(!valid_action(bad), "{bad}");
        }
    }
}
