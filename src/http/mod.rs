//! HTTP: the request context handed to handlers, replies, and the fetch pipeline
//! (request id, CORS, body limit, routing, problem+json, structured log line).

pub mod access;
pub mod auth;
pub mod body;
pub mod browser;
pub mod keys;
pub mod pagination;
pub mod router;

use std::cell::{Cell, OnceCell};
use std::rc::Rc;

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use worker::wasm_bindgen::JsValue;
use worker::wasm_bindgen_futures::JsFuture;
use worker::{console_error, js_sys, web_sys, Env, Headers, Response, ResponseBody};

use crate::config::Config;
use crate::domain::ids::new_uuid_v7;
use crate::domain::jwt::KeySet;
use crate::domain::time::Timestamp;
use crate::error::{ApiError, ApiResult};
use crate::mail::{MailMessage, Outgoing};
use crate::store::audit::{Event, Origin};
use crate::store::{D1Usage, Db, Stmt, Store};
use pagination::PageRequest;
use router::{Params, Route, Table};

/// Everything a handler may use about the request it serves.
pub struct Ctx {
    env: Env,
    pub cfg: Rc<Config>,
    /// The raw database: for the gate in this module, which opens org stores with it.
    db: Db,
    /// The store outside any org, the only database handle a handler gets from the context.
    store: Store,
    pub request_id: String,
    pub params: Params,
    /// Where the request came from, read from its headers when first asked for: most
    /// requests never need it (two header reads, each a call into JS).
    origin: OnceCell<Origin>,
    /// The request URL's own origin (`scheme://host[:port]`), cut from the URL the pipeline
    /// already holds: what the session cookie's Origin check compares with.
    url_origin: String,
    /// The request's instant, read once: every expiry, lockout window and stored time of
    /// one request agrees (Workers clocks only advance across I/O anyway).
    now: Timestamp,
    query: Vec<(String, String)>,
    headers: Headers,
    body: Vec<u8>,
    worker_ctx: worker::Context,
}

impl Ctx {
    /// The body as `T`, strictly: JSON content type, valid JSON, known fields, right types.
    pub fn json<T: DeserializeOwned>(&self) -> ApiResult<T> {
        self.json_content_type()?;
        body::parse_json(&self.body)
    }

    /// The body as `T` (strictly, as `json`), or `None` for a request with no body at all:
    /// no bytes and no content type, as `fetch(url, {method: "POST"})` sends it. How the
    /// web console lets the session cookie stand in for a body's refresh token.
    pub fn json_or_nothing<T: DeserializeOwned>(&self) -> ApiResult<Option<T>> {
        if self.body.is_empty() && self.header("content-type").is_none() {
            return Ok(None);
        }
        self.json().map(Some)
    }

    /// The body of a SCIM request as `T`: `application/scim+json` (RFC 7644 §3.1) or plain
    /// `application/json`, as provisioning clients send either.
    pub fn scim_json<T: DeserializeOwned>(&self) -> ApiResult<T> {
        let content_type = self.header("content-type").unwrap_or_default();
        let media = content_type.split(';').next().unwrap_or_default().trim();
        if !(media.eq_ignore_ascii_case("application/json")
            || media.eq_ignore_ascii_case(SCIM_CONTENT_TYPE))
        {
            return Err(ApiError::UnsupportedMediaType);
        }
        body::parse_json(&self.body)
    }

    /// Not generic, so the ~45 body types share it.
    #[inline(never)]
    fn json_content_type(&self) -> ApiResult<()> {
        let content_type = self.header("content-type").unwrap_or_default();
        let media = content_type.split(';').next().unwrap_or_default().trim();
        if !media.eq_ignore_ascii_case("application/json") {
            return Err(ApiError::UnsupportedMediaType);
        }
        Ok(())
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers.get(name).ok().flatten()
    }

    pub fn query(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A query filter: absent and empty (`?role=`) both mean "not given".
    pub fn filter_param(&self, name: &str) -> Option<&str> {
        self.query(name).filter(|v| !v.is_empty())
    }

    pub fn page(&self) -> ApiResult<PageRequest> {
        PageRequest::from_query(self.query("limit"), self.query("cursor"))
    }

    /// The id in path segment `{name}`: one that does not parse is as unknown as one that
    /// does not exist (404).
    pub fn path_id<T: std::str::FromStr>(&self, name: &str) -> ApiResult<T> {
        self.params
            .get(name)
            .parse()
            .map_err(|_| ApiError::NotFound)
    }

    /// The bearer credential, if any.
    pub fn bearer(&self) -> Option<String> {
        let value = self.header("authorization")?;
        let (scheme, token) = value.trim().split_once(' ')?;
        scheme
            .eq_ignore_ascii_case("bearer")
            .then(|| token.trim().to_string())
            .filter(|t| !t.is_empty())
    }

    /// The value of the request's cookie `name` (read from the `Cookie` header when asked).
    pub fn cookie(&self, name: &str) -> Option<String> {
        let header = self.header("cookie")?;
        browser::cookie(&header, name).map(str::to_string)
    }

    /// Refuses (403 `cross_origin_request`) a request that uses or asks for the session
    /// cookie unless its `Origin` is this service's own (`browser::check_origin`).
    pub fn require_own_origin(&self) -> ApiResult<()> {
        browser::check_origin(self.header("origin").as_deref(), &self.url_origin).map_err(|e| {
            ApiError::CrossOriginRequest {
                origin_missing: e == browser::CrossOrigin::Missing,
            }
        })
    }

    pub fn now(&self) -> Timestamp {
        self.now
    }

    /// The caller's address and user agent, for audit events and rate limits.
    pub fn origin(&self) -> &Origin {
        self.origin.get_or_init(|| Origin {
            ip: self
                .header("cf-connecting-ip")
                .unwrap_or_else(|| "unknown".into()),
            user_agent: self
                .header("user-agent")
                .map(|ua| ua.chars().take(512).collect()),
        })
    }

    /// The store outside any org (an org's store comes from admission to it).
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The JWT signing and verification keys.
    pub async fn keys(&self) -> ApiResult<Rc<KeySet>> {
        keys::keys(&self.env, &self.cfg).await
    }

    /// Hands the messages of a committed batch to the mail queue (see `mail::enqueue`).
    pub async fn enqueue_mail(&self, outgoing: Vec<Outgoing>) {
        let messages: Vec<MailMessage> = outgoing.into_iter().map(|o| o.message).collect();
        crate::mail::enqueue(&self.env, &self.store, &self.request_id, messages).await;
    }

    /// The audit event of this request (origin filled in), for the handler's batch.
    pub fn audit(&self, event: &Event, now: Timestamp) -> ApiResult<Stmt> {
        crate::store::audit::insert(&self.store, event, self.origin(), now)
    }

    /// Work that may finish after the response (never anything the response depends on).
    pub fn in_background(&self, fut: impl std::future::Future<Output = ()> + 'static) {
        self.worker_ctx.wait_until(fut);
    }
}

/// A successful reply: status, body, the body's content type, and cookies to set.
pub struct Reply {
    pub status: u16,
    pub body: Body,
    pub content_type: &'static str,
    /// `Set-Cookie` values (the session cookie); empty for almost every reply, which then
    /// costs the pipeline nothing.
    pub cookies: Vec<String>,
    /// Where a redirect goes (`Location`).
    pub location: Option<String>,
}

/// What a reply carries.
pub enum Body {
    Empty,
    Json(Value),
    /// JSON already rendered as text (by SQLite: the member directory), sent as it is.
    Rendered(String),
    /// Produced while it is sent (an export).
    Stream(BodyStream),
}

/// Chunks of a streamed body; an error ends the stream (the status is already sent).
pub type BodyStream = std::pin::Pin<Box<dyn futures_util::Stream<Item = worker::Result<Vec<u8>>>>>;

impl Reply {
    pub fn json(status: u16, body: Value) -> Self {
        Reply {
            status,
            body: Body::Json(body),
            content_type: "application/json",
            cookies: Vec::new(),
            location: None,
        }
    }

    /// 200 with a JSON body that is already text.
    pub fn ok_rendered(json: String) -> Self {
        Reply {
            status: 200,
            body: Body::Rendered(json),
            content_type: "application/json",
            cookies: Vec::new(),
            location: None,
        }
    }

    /// 200 with a body streamed as it is produced.
    pub fn streamed(content_type: &'static str, stream: BodyStream) -> Self {
        Reply {
            status: 200,
            body: Body::Stream(stream),
            content_type,
            cookies: Vec::new(),
            location: None,
        }
    }

    pub fn ok(body: Value) -> Self {
        Self::json(200, body)
    }

    pub fn created(body: Value) -> Self {
        Self::json(201, body)
    }

    pub fn accepted(body: Value) -> Self {
        Self::json(202, body)
    }

    pub fn no_content() -> Self {
        Reply {
            status: 204,
            body: Body::Empty,
            content_type: "application/json",
            cookies: Vec::new(),
            location: None,
        }
    }

    /// A SCIM answer: `application/scim+json`.
    pub fn scim(status: u16, body: Value) -> Self {
        Reply {
            status,
            body: Body::Json(body),
            content_type: SCIM_CONTENT_TYPE,
            cookies: Vec::new(),
            location: None,
        }
    }

    /// 302 to `url`: the browser-facing steps of SSO sign-in.
    pub fn redirect(url: String) -> Self {
        Reply {
            status: 302,
            body: Body::Empty,
            content_type: "text/plain",
            cookies: Vec::new(),
            location: Some(url),
        }
    }

    /// The same reply with a `Location` header (a created resource's URL).
    pub fn with_location(mut self, url: String) -> Self {
        self.location = Some(url);
        self
    }

    /// The same reply, also setting a cookie (`Set-Cookie: <cookie>`).
    pub fn with_cookie(mut self, cookie: String) -> Self {
        self.cookies.push(cookie);
        self
    }
}

fn request_id(headers: &Headers) -> String {
    // A caller's id is kept if it is short and tame, so traces join up across services.
    match headers.get("x-request-id").ok().flatten() {
        Some(id)
            if !id.is_empty()
                && id.len() <= 64
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b)) =>
        {
            id
        }
        _ => new_uuid_v7().to_string(),
    }
}

/// Reads the body, refusing more than `limit` bytes (by header first, then by count).
async fn read_body(req: &web_sys::Request, headers: &Headers, limit: usize) -> ApiResult<Vec<u8>> {
    let declared = headers
        .get("content-length")
        .ok()
        .flatten()
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(ApiError::PayloadTooLarge { limit });
    }
    let unreadable = |_| ApiError::field("body", "could not be read");
    let buffer = JsFuture::from(req.array_buffer().map_err(unreadable)?)
        .await
        .map_err(unreadable)?;
    let bytes = js_sys::Uint8Array::new(&buffer).to_vec();
    if bytes.len() > limit {
        return Err(ApiError::PayloadTooLarge { limit });
    }
    Ok(bytes)
}

/// What the pipeline reads of a request before routing it.
struct Incoming<'a> {
    req: &'a web_sys::Request,
    headers: &'a Headers,
    method: &'a str,
    url: &'a str,
    path: &'a str,
    query: &'a str,
    request_id: &'a str,
}

async fn serve(
    routes: &Table,
    incoming: &Incoming<'_>,
    env: Env,
    worker_ctx: worker::Context,
    cfg: Rc<Config>,
    d1_usage: Rc<Cell<D1Usage>>,
    now: Timestamp,
) -> ApiResult<Reply> {
    let Incoming {
        req,
        headers,
        method,
        url,
        path,
        query,
        request_id,
    } = *incoming;
    let (route, params) = routes.resolve(method, path)?;
    // GET and HEAD have no body; DELETE /v1/me carries a password.
    let body = if matches!(method, "GET" | "HEAD") {
        Vec::new()
    } else {
        read_body(req, headers, cfg.max_body_bytes).await?
    };
    let db = Db::counted(
        env.d1("DB")
            .map_err(|e| ApiError::Misconfigured(format!("D1 binding DB: {e}")))?,
        d1_usage,
    )
    .traced(cfg.sql_trace);
    let ctx = Ctx {
        origin: OnceCell::new(),
        url_origin: browser::url_origin(url),
        query: query_pairs(query),
        headers: headers.clone(),
        request_id: request_id.to_string(),
        params,
        now,
        body,
        cfg,
        store: Store::open(&db),
        db,
        env,
        worker_ctx,
    };
    (route.handler)(&ctx).await
}

/// The path and the query of a request URL. The URL comes serialised by the runtime
/// (WHATWG): the path begins at the first `/` after the host and `?` and `#` inside it are
/// percent-encoded, so splitting needs no URL parser. The path is not decoded: routes match
/// it as sent.
fn split_url(url: &str) -> (&str, &str) {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    let rest = match url[after_scheme..].find('/') {
        Some(i) => &url[after_scheme + i..],
        None => return ("/", ""),
    };
    let rest = rest.split_once('#').map_or(rest, |(before, _)| before);
    rest.split_once('?').unwrap_or((rest, ""))
}

/// The decoded `application/x-www-form-urlencoded` pairs of a request's query, in order.
fn query_pairs(query: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn set(headers: &mut Headers, name: &str, value: &str) {
    // Header names here are constants and values are sanitised; a failure is not actionable.
    let _ = headers.set(name, value);
}

/// Never `access-control-allow-credentials`: the web console is same-origin, and no other
/// origin may make the browser send the session cookie and read what it answers.
fn cors_headers(headers: &mut Headers, cfg: Option<&Config>, origin: Option<&str>) {
    if let (Some(cfg), Some(origin)) = (cfg, origin) {
        if let Some(allowed) = cfg.cors_origin(origin) {
            set(headers, "access-control-allow-origin", &allowed);
            set(
                headers,
                "access-control-expose-headers",
                "x-request-id, retry-after, server-timing",
            );
            set(headers, "vary", "Origin");
        }
    }
}

/// The fetch pipeline. Never fails: every outcome is a response with `x-request-id`.
///
/// It takes the runtime's request as is: `worker::Request` reads `request.cf` on
/// construction, a JS object this service never uses, which cost ~5 % of an authorized
/// read's CPU (BENCHMARKS.md).
pub async fn handle(
    routes: &'static [&'static [Route]],
    req: web_sys::Request,
    env: Env,
    worker_ctx: worker::Context,
) -> Response {
    let started = Timestamp::now();
    let headers = Headers(req.headers());
    let request_id = request_id(&headers);
    // Fetch normalises the standard methods' case only; `patch` is PATCH here too.
    let method = req.method().to_ascii_uppercase();
    let url = req.url();
    let (path, query) = split_url(&url);
    let origin = headers.get("origin").ok().flatten();
    let cfg = crate::config::cached(&env);

    // CORS preflight: answered before routing and authentication.
    if method == "OPTIONS" {
        let mut response = Response::empty()
            .map(|r| r.with_status(204))
            .unwrap_or_else(|_| fallback());
        let headers = response.headers_mut();
        cors_headers(headers, cfg.as_deref().ok(), origin.as_deref());
        set(
            headers,
            "access-control-allow-methods",
            "GET, POST, PUT, PATCH, DELETE",
        );
        set(
            headers,
            "access-control-allow-headers",
            "authorization, content-type, x-request-id",
        );
        set(headers, "access-control-max-age", "600");
        set(headers, "x-request-id", &request_id);
        return response;
    }

    let d1_usage: Rc<Cell<D1Usage>> = Rc::default();
    let outcome = match &cfg {
        Ok(cfg) => {
            let incoming = Incoming {
                req: &req,
                headers: &headers,
                method: &method,
                url: &url,
                path,
                query,
                request_id: &request_id,
            };
            serve(
                Table::of(routes),
                &incoming,
                env,
                worker_ctx,
                cfg.clone(),
                d1_usage.clone(),
                started,
            )
            .await
        }
        Err(e) => Err(ApiError::Misconfigured(
            e.log_cause().unwrap_or_default().to_string(),
        )),
    };
    let (status, mut response) = match outcome {
        Ok(reply) => {
            let status = reply.status;
            let cookies = reply.cookies;
            let location = reply.location;
            let has_body = !matches!(reply.body, Body::Empty);
            // `from_body`, not `from_bytes`: the latter sets a content type that would be
            // replaced at once (a call into JS each). JSON is written straight into bytes.
            let response = match reply.body {
                Body::Stream(stream) => Response::from_stream(stream),
                Body::Rendered(text) => Response::from_body(ResponseBody::Body(text.into_bytes())),
                Body::Json(body) => serde_json::to_vec(&body)
                    .map_err(|e| worker::Error::RustError(e.to_string()))
                    .and_then(|bytes| Response::from_body(ResponseBody::Body(bytes))),
                Body::Empty => Response::empty(),
            }
            .map(|r| r.with_status(status));
            let mut response = response.unwrap_or_else(|_| fallback());
            if has_body || !matches!(status, 204 | 302) {
                set(response.headers_mut(), "content-type", reply.content_type);
            }
            if let Some(location) = &location {
                set(response.headers_mut(), "location", location);
            }
            for cookie in &cookies {
                // Appended, not set: each cookie is a header line of its own.
                let _ = response.headers_mut().append("set-cookie", cookie);
            }
            (status, response)
        }
        Err(err) => {
            if let Some(cause) = err.log_cause() {
                console_error!(
                    "{}",
                    crate::object!({"level": "error", "request_id": request_id, "method": method,
                        "path": path, "code": err.code(), "cause": cause})
                );
            }
            let status = err.status();
            // The SCIM service answers in its own error format (RFC 7644 §3.12), whatever
            // failed: authentication, routing, the body or the handler.
            let (body, content_type) = if is_scim_path(path) {
                (scim_error(&err).to_string(), SCIM_CONTENT_TYPE)
            } else {
                (
                    err.to_problem(&request_id).to_string(),
                    "application/problem+json",
                )
            };
            let mut response = Response::from_body(ResponseBody::Body(body.into_bytes()))
                .map(|r| r.with_status(status))
                .unwrap_or_else(|_| fallback());
            let headers = response.headers_mut();
            set(headers, "content-type", content_type);
            for (name, value) in err.headers() {
                set(headers, name, &value);
            }
            (status, response)
        }
    };
    let headers = response.headers_mut();
    set(headers, "x-request-id", &request_id);
    set(headers, "cache-control", "no-store");
    set(headers, "x-content-type-options", "nosniff");
    cors_headers(headers, cfg.as_deref().ok(), origin.as_deref());
    let duration_ms = Timestamp::now().millis() - started.millis();
    let d1 = d1_usage.get();
    // Before the body is streamed: an export's later pages are not in it.
    set(headers, "server-timing", &server_timing(d1, duration_ms));
    let line = RequestLine {
        d1_ms: d1.millis,
        d1_round_trips: d1.round_trips,
        d1_rows_read: d1.rows_read,
        d1_rows_written: d1.rows_written,
        duration_ms,
        level: "info",
        method: &method,
        path,
        request_id: &request_id,
        status,
    };
    // Serialising a struct cannot fail; the text goes to the console as it is (no copy
    // through `format!`).
    if let Ok(text) = serde_json::to_string(&line) {
        web_sys::console::log_1(&JsValue::from(text));
    }
    response
}

/// The SCIM service's media type (RFC 7644 §3.1).
pub const SCIM_CONTENT_TYPE: &str = "application/scim+json";

/// Paths of the SCIM service (`/scim/v2/...`).
pub fn is_scim_path(path: &str) -> bool {
    path == "/scim" || path.starts_with("/scim/")
}

/// The SCIM scimType values (RFC 7644 §3.12, table 9) a handler may name as its error code.
const SCIM_TYPES: [&str; 9] = [
    "invalidFilter",
    "tooMany",
    "uniqueness",
    "mutability",
    "invalidSyntax",
    "invalidPath",
    "noTarget",
    "invalidValue",
    "invalidVers",
];

/// An error as a SCIM error document: `status` as a string, `scimType` where one applies
/// (a SCIM handler's own refusals carry it as their code; the service's body checks are
/// `invalidValue` or `invalidSyntax`), and the detail.
fn scim_error(err: &ApiError) -> Value {
    let scim_type = match err {
        ApiError::Problem { code, .. } if SCIM_TYPES.contains(code) => Some(*code),
        ApiError::Validation(errors) => Some(if errors.iter().any(|e| e.field == "body") {
            "invalidSyntax"
        } else {
            "invalidValue"
        }),
        ApiError::Conflict { code, .. } if *code != "capacity_exceeded" => Some("uniqueness"),
        _ => None,
    };
    let detail = match err {
        ApiError::Validation(errors) => errors
            .iter()
            .map(|e| format!("{}: {}", e.field, e.message))
            .collect::<Vec<_>>()
            .join("; "),
        _ => err.detail(),
    };
    let mut doc = crate::object!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
        "status": err.status().to_string(),
        "detail": detail,
    });
    if let Some(t) = scim_type {
        doc["scimType"] = Value::from(t);
    }
    doc
}

/// The one log line of every request. Written from a struct rather than built with
/// `object!`: a map of owned keys and values, then rendered, cost several times more on
/// every request. Fields in alphabetical order, as that map wrote them.
#[derive(Serialize)]
struct RequestLine<'a> {
    d1_ms: i64,
    d1_round_trips: u32,
    d1_rows_read: u64,
    d1_rows_written: u64,
    duration_ms: i64,
    level: &'static str,
    method: &'a str,
    path: &'a str,
    request_id: &'a str,
    status: u16,
}

/// `d1;dur=<ms>;desc="<n> round trips", d1-rows;desc="<r> read, <w> written",
/// total;dur=<ms>`: the time this request waited on D1, how many round trips it made (the
/// unit of the budgets in BENCHMARKS.md), the rows D1 reports it read and wrote, and its
/// whole handling time. Workers clocks advance only across I/O, which is what D1 time is.
pub fn server_timing(d1: D1Usage, total_ms: i64) -> String {
    format!(
        "d1;dur={};desc=\"{} round trips\", d1-rows;desc=\"{} read, {} written\", total;dur={}",
        d1.millis, d1.round_trips, d1.rows_read, d1.rows_written, total_ms
    )
}

fn fallback() -> Response {
    // Building a response from static parts cannot fail in practice; this is the last resort.
    Response::error("internal error", 500)
        .unwrap_or_else(|_| Response::empty().expect("empty response"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_path_and_query_without_the_fragment() {
        assert_eq!(split_url("https://h.example/v1/orgs"), ("/v1/orgs", ""));
        assert_eq!(split_url("https://h.example"), ("/", ""));
        assert_eq!(split_url("https://h.example/"), ("/", ""));
        assert_eq!(split_url("http://127.0.0.1:8787/a?b=1"), ("/a", "b=1"));
        assert_eq!(split_url("https://h.example/a?b=1#c?d"), ("/a", "b=1"));
        assert_eq!(split_url("https://h.example/a#b?c"), ("/a", ""));
        assert_eq!(split_url("https://h.example/a%3Fb/c?"), ("/a%3Fb/c", ""));
        assert_eq!(split_url("https://user@h.example/a/"), ("/a/", ""));
    }

    #[test]
    fn query_pairs_are_decoded_in_order_without_the_fragment() {
        let pairs = |url: &str| query_pairs(split_url(url).1);
        assert!(pairs("https://h.example/v1/orgs").is_empty());
        assert!(pairs("https://h.example/v1/orgs?").is_empty());
        assert_eq!(
            pairs("https://h.example/a?limit=5&q=a+b%26c&q=%C3%A9&flag#limit=9"),
            vec![
                ("limit".into(), "5".into()),
                ("q".into(), "a b&c".into()),
                ("q".into(), "é".into()),
                ("flag".into(), String::new()),
            ]
        );
        // A `?` after the first one belongs to the query.
        assert_eq!(
            pairs("https://h.example/a?cursor=x?y"),
            vec![("cursor".into(), "x?y".into())]
        );
    }

    #[test]
    fn the_request_line_has_every_field_in_alphabetical_order() {
        let line = RequestLine {
            d1_ms: 7,
            d1_round_trips: 2,
            d1_rows_read: 14,
            d1_rows_written: 3,
            duration_ms: 12,
            level: "info",
            method: "GET",
            path: "/v1/a\"b",
            request_id: "r-1",
            status: 200,
        };
        assert_eq!(
            serde_json::to_string(&line).unwrap(),
            r#"{"d1_ms":7,"d1_round_trips":2,"d1_rows_read":14,"d1_rows_written":3,"duration_ms":12,"level":"info","method":"GET","path":"/v1/a\"b","request_id":"r-1","status":200}"#
        );
    }

    #[test]
    fn server_timing_names_d1_time_round_trips_and_total() {
        let d1 = D1Usage {
            round_trips: 2,
            millis: 7,
            rows_read: 14,
            rows_written: 3,
        };
        assert_eq!(
            server_timing(d1, 12),
            "d1;dur=7;desc=\"2 round trips\", d1-rows;desc=\"14 read, 3 written\", total;dur=12"
        );
        assert_eq!(
            server_timing(D1Usage::default(), 0),
            "d1;dur=0;desc=\"0 round trips\", d1-rows;desc=\"0 read, 0 written\", total;dur=0"
        );
    }
}
