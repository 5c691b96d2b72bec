//! The service's outbound side for enterprise SSO: identity providers (discovery documents,
//! key sets, the token endpoint) and DNS-over-HTTPS resolvers, over the Worker's `fetch`, and
//! the platform's WebCrypto for what they hand back (ID token signatures) and what is kept
//! of them (the client secret, AES-GCM). The rules about what comes back live in
//! `domain::sso`, tested on the host; this layer only moves bytes and calls the platform.

pub mod crypto;

use std::cell::RefCell;
use std::collections::HashMap;

use serde_json::Value;
use worker::wasm_bindgen::JsValue;
use worker::{web_sys, Fetch, Headers, Request};

use crate::domain::sso::{self, ProviderMetadata, TokenAuth, TxtLookup};

/// How long an outbound request may take: a provider that hangs must not hold a sign-in (or
/// the Worker) until the platform's own limit.
const TIMEOUT_MS: u32 = 10_000;
/// Bodies larger than this are not a discovery document, key set, token or DNS answer.
const MAX_BODY: usize = 256 * 1024;

/// An HTTP answer: status and body.
pub struct Answer {
    pub status: u16,
    pub body: Vec<u8>,
}

async fn send(
    url: &str,
    method: &str,
    headers: Headers,
    body: Option<String>,
) -> Result<Answer, String> {
    let init = web_sys::RequestInit::new();
    init.set_method(method);
    init.set_headers(headers.as_ref());
    if let Some(body) = body {
        init.set_body(&JsValue::from(body));
    }
    init.set_signal(Some(&web_sys::AbortSignal::timeout_with_u32(TIMEOUT_MS)));
    let request = web_sys::Request::new_with_str_and_init(url, &init)
        .map(Request::from)
        .map_err(|_| format!("{url} is not a URL the Worker can fetch"))?;
    let mut response = Fetch::Request(request)
        .send()
        .await
        .map_err(|e| format!("{url} could not be reached ({e})"))?;
    let body = response
        .bytes()
        .await
        .map_err(|e| format!("{url} sent an unreadable body ({e})"))?;
    if body.len() > MAX_BODY {
        return Err(format!("{url} sent more than {MAX_BODY} bytes"));
    }
    Ok(Answer {
        status: response.status_code(),
        body,
    })
}

fn headers(pairs: &[(&str, &str)]) -> Result<Headers, String> {
    let headers = Headers::new();
    for (k, v) in pairs {
        headers.set(k, v).map_err(|e| e.to_string())?;
    }
    Ok(headers)
}

/// GET `url` expecting JSON with status 200.
async fn get_json(url: &str, accept: &str) -> Result<Vec<u8>, String> {
    let answer = send(url, "GET", headers(&[("accept", accept)])?, None).await?;
    if answer.status != 200 {
        return Err(format!("{url} answered HTTP {}", answer.status));
    }
    Ok(answer.body)
}

/// The TXT strings of `name`, asked of the DNS-over-HTTPS JSON resolver at `resolver`.
pub async fn lookup_txt(resolver: &str, name: &str) -> TxtLookup {
    let url = sso::with_query(resolver, &[("name", name), ("type", "TXT")]);
    match get_json(&url, "application/dns-json").await {
        Ok(body) => sso::parse_doh(&body),
        Err(e) => TxtLookup::Failed(e),
    }
}

/// The provider's discovery document, checked (`domain::sso::check_metadata`).
pub async fn discover(
    issuer: &str,
    allow_http: bool,
) -> Result<(ProviderMetadata, TokenAuth), String> {
    let url = sso::discovery_url(issuer);
    let body = get_json(&url, "application/json").await?;
    let meta: ProviderMetadata = serde_json::from_slice(&body)
        .map_err(|_| format!("{url} is not an OpenID Connect discovery document"))?;
    let auth = sso::check_metadata(issuer, &meta, allow_http)?;
    Ok((meta, auth))
}

/// What the token endpoint answered to the authorization code: the ID token, or the
/// provider's refusal (`error`, e.g. `invalid_grant` for a wrong PKCE verifier).
pub async fn redeem_code(
    token_endpoint: &str,
    auth: TokenAuth,
    client_id: &str,
    client_secret: &str,
    form: &[(&str, &str)],
) -> Result<String, String> {
    let mut body = form_urlencoded::Serializer::new(String::new());
    for (k, v) in form {
        body.append_pair(k, v);
    }
    let mut pairs = vec![
        (
            "content-type",
            "application/x-www-form-urlencoded".to_string(),
        ),
        ("accept", "application/json".to_string()),
    ];
    match auth {
        TokenAuth::Basic => {
            use base64::Engine;
            // RFC 6749 §2.3.1: each part form-encoded before joining.
            let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
            let credentials = format!("{}:{}", enc(client_id), enc(client_secret));
            pairs.push((
                "authorization",
                format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(credentials)
                ),
            ));
        }
        TokenAuth::Post => {
            body.append_pair("client_id", client_id);
            body.append_pair("client_secret", client_secret);
        }
    }
    let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let answer = send(
        token_endpoint,
        "POST",
        headers(&pairs)?,
        Some(body.finish()),
    )
    .await?;
    let json: Value = serde_json::from_slice(&answer.body).unwrap_or(Value::Null);
    if answer.status != 200 {
        let error = json
            .get("error")
            .and_then(Value::as_str)
            .unwrap_or("no error code");
        return Err(format!(
            "the token endpoint refused the code: HTTP {} ({error})",
            answer.status
        ));
    }
    json.get("id_token")
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| "the token endpoint sent no id_token".into())
}

/// A provider's key set as last fetched.
struct CachedKeys {
    keys: Value,
    fetched_at: i64,
}

thread_local! {
    /// Key sets by `jwks_uri`, for the isolate's life: a sign-in needs no fetch for a key
    /// it has seen.
    static KEY_SETS: RefCell<HashMap<String, CachedKeys>> = RefCell::new(HashMap::new());
}

/// A key set is used for at most this long before it is fetched again.
const KEYS_FRESH_MS: i64 = 3_600_000;
/// An unknown `kid` fetches the set again (the provider rotated its keys), but at most this
/// often: a stream of tokens with made-up key ids must not become a stream of fetches.
const KEYS_REFETCH_MS: i64 = 60_000;

/// The key of `jwks_uri`'s set that may verify a token of `alg` and `kid`
/// (`domain::sso::select_key`).
pub async fn signing_key(
    jwks_uri: &str,
    alg: &str,
    kid: Option<&str>,
    now_ms: i64,
) -> Result<Value, String> {
    let cached = KEY_SETS.with(|sets| {
        sets.borrow()
            .get(jwks_uri)
            .map(|c| (sso::select_key(&c.keys, alg, kid).cloned(), c.fetched_at))
    });
    match cached {
        Some((Some(key), fetched_at)) if now_ms - fetched_at < KEYS_FRESH_MS => return Ok(key),
        Some((None, fetched_at)) if now_ms - fetched_at < KEYS_REFETCH_MS => {
            return Err(format!(
                "no key {kid:?} for {alg} in the provider's key set (fetched under a minute ago)"
            ))
        }
        _ => {}
    }
    let body = get_json(jwks_uri, "application/json").await?;
    let keys: Value = serde_json::from_slice(&body)
        .map_err(|_| format!("{jwks_uri} is not a JSON Web Key Set"))?;
    let key = sso::select_key(&keys, alg, kid).cloned();
    KEY_SETS.with(|sets| {
        sets.borrow_mut().insert(
            jwks_uri.to_string(),
            CachedKeys {
                keys,
                fetched_at: now_ms,
            },
        )
    });
    key.ok_or_else(|| format!("no key {kid:?} for {alg} in the provider's key set"))
}
