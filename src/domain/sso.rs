//! Enterprise SSO's pure rules: domain names and their DNS proof, the provider's discovery
//! document, PKCE, the ID token's shape and claims, and the group → role map. The Worker's
//! WebCrypto checks signatures (`idp::crypto`); everything decided here is host-tested.

use std::collections::BTreeMap;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::roles::OrgRole;

/// The TXT record's name under the domain, and the prefix of its value.
pub const TXT_LABEL: &str = "_ums-verification";
pub const TXT_PREFIX: &str = "ums-verification=";

/// Clock skew allowed on `exp`, `nbf` and `iat`.
pub const SKEW_SECONDS: i64 = 60;

/// The signature algorithms an ID token may use: never `none`, never HS* (a public key
/// used as an HMAC secret is the classic forgery).
pub const ALGORITHMS: [&str; 2] = ["RS256", "ES256"];

/// Mailbox providers whose addresses belong to the public: nobody's org can own them.
const CONSUMER_DOMAINS: &[&str] = &[
    "126.com",
    "163.com",
    "aim.com",
    "aol.com",
    "btinternet.com",
    "comcast.net",
    "daum.net",
    "fastmail.com",
    "free.fr",
    "gmail.com",
    "gmx.at",
    "gmx.com",
    "gmx.de",
    "gmx.net",
    "googlemail.com",
    "hey.com",
    "hotmail.co.uk",
    "hotmail.com",
    "hotmail.de",
    "hotmail.fr",
    "icloud.com",
    "inbox.com",
    "laposte.net",
    "libero.it",
    "live.co.uk",
    "live.com",
    "live.de",
    "live.fr",
    "mac.com",
    "mail.com",
    "mail.ru",
    "me.com",
    "msn.com",
    "naver.com",
    "orange.fr",
    "outlook.com",
    "outlook.de",
    "outlook.fr",
    "pm.me",
    "proton.me",
    "protonmail.com",
    "qq.com",
    "rambler.ru",
    "rediffmail.com",
    "sina.com",
    "t-online.de",
    "tuta.io",
    "tutanota.com",
    "web.de",
    "yahoo.co.jp",
    "yahoo.co.uk",
    "yahoo.com",
    "yahoo.de",
    "yahoo.fr",
    "yandex.com",
    "yandex.ru",
    "ymail.com",
    "zoho.com",
];

/// A domain name as stored: lower-case, no trailing dot, two or more LDH labels of 1–63
/// characters, at most 253 characters, and a top-level label that is not all digits (so no
/// IP address).
pub fn normalize_domain(raw: &str) -> Result<String, String> {
    let d = raw.trim().trim_end_matches('.').to_ascii_lowercase();
    let bad = || Err("must be a domain name such as example.com".to_string());
    if d.is_empty() || d.len() > 253 || !d.is_ascii() {
        return bad();
    }
    let labels: Vec<&str> = d.split('.').collect();
    if labels.len() < 2 {
        return bad();
    }
    for label in &labels {
        if label.is_empty()
            || label.len() > 63
            || label.starts_with('-')
            || label.ends_with('-')
            || !label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return bad();
        }
    }
    if labels
        .last()
        .is_some_and(|t| t.bytes().all(|b| b.is_ascii_digit()))
    {
        return bad();
    }
    if is_consumer_domain(&d) {
        return Err(format!(
            "is a public mail provider's domain ({d}); only a domain your organization owns can be verified"
        ));
    }
    Ok(d)
}

pub fn is_consumer_domain(domain: &str) -> bool {
    CONSUMER_DOMAINS.contains(&domain)
}

/// The name of the TXT record that proves `domain`.
pub fn txt_name(domain: &str) -> String {
    format!("{TXT_LABEL}.{domain}")
}

/// The TXT record's value for a domain's secret token.
pub fn txt_value(token: &str) -> String {
    format!("{TXT_PREFIX}{token}")
}

/// What a DNS-over-HTTPS JSON resolver said about a TXT name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxtLookup {
    /// The name's TXT strings (each record's strings joined), possibly none.
    Records(Vec<String>),
    /// The resolver failed or answered something that is not an answer (SERVFAIL, junk).
    Failed(String),
}

#[derive(Deserialize)]
struct DohAnswer {
    #[serde(rename = "Status")]
    status: i64,
    #[serde(rename = "Answer", default)]
    answer: Vec<DohRecord>,
}

#[derive(Deserialize)]
struct DohRecord {
    #[serde(rename = "type")]
    kind: i64,
    data: String,
}

/// Reads a resolver's JSON answer (the format of Cloudflare's and Google's resolvers): status
/// 0 (NOERROR) with TXT records (type 16), or 3 (NXDOMAIN, no records).
pub fn parse_doh(body: &[u8]) -> TxtLookup {
    let Ok(answer) = serde_json::from_slice::<DohAnswer>(body) else {
        return TxtLookup::Failed("the resolver's answer is not DNS JSON".into());
    };
    match answer.status {
        0 => TxtLookup::Records(
            answer
                .answer
                .iter()
                .filter(|r| r.kind == 16)
                .map(|r| txt_data(&r.data))
                .collect(),
        ),
        3 => TxtLookup::Records(Vec::new()),
        other => TxtLookup::Failed(format!("the resolver answered DNS status {other}")),
    }
}

/// A TXT record's text: one or more quoted strings (`"a" "b"` is `ab`, with `\"` and `\\`
/// escapes), or bare text as some resolvers send it.
fn txt_data(data: &str) -> String {
    let data = data.trim();
    if !data.starts_with('"') {
        return data.to_string();
    }
    let mut out = String::new();
    let mut chars = data.chars();
    let mut inside = false;
    while let Some(c) = chars.next() {
        match (inside, c) {
            (false, '"') => inside = true,
            (false, _) => {}
            (true, '"') => inside = false,
            (true, '\\') => {
                if let Some(next) = chars.next() {
                    out.push(next);
                }
            }
            (true, c) => out.push(c),
        }
    }
    out
}

/// The discovery document's fields the service uses.
#[derive(Debug, Clone, Deserialize)]
pub struct ProviderMetadata {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub jwks_uri: String,
    #[serde(default)]
    pub token_endpoint_auth_methods_supported: Option<Vec<String>>,
    #[serde(default)]
    pub code_challenge_methods_supported: Option<Vec<String>>,
    #[serde(default)]
    pub authorization_response_iss_parameter_supported: bool,
    #[serde(default)]
    pub id_token_signing_alg_values_supported: Option<Vec<String>>,
}

/// How the client authenticates at the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenAuth {
    Basic,
    Post,
}

impl TokenAuth {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenAuth::Basic => "client_secret_basic",
            TokenAuth::Post => "client_secret_post",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "client_secret_basic" => Some(TokenAuth::Basic),
            "client_secret_post" => Some(TokenAuth::Post),
            _ => None,
        }
    }
}

/// The checks on a discovery document: its `issuer` is exactly the configured one (OpenID
/// Connect Discovery 1.0, §4.3: otherwise anyone's document could impersonate the issuer),
/// its endpoints use the issuer's scheme rules, PKCE S256 and RS256 or ES256 are on offer.
/// Returns how to authenticate at the token endpoint.
pub fn check_metadata(
    issuer: &str,
    meta: &ProviderMetadata,
    allow_http: bool,
) -> Result<TokenAuth, String> {
    if meta.issuer != issuer {
        return Err(format!(
            "the provider's discovery document names issuer {:?}, not {issuer:?}",
            meta.issuer
        ));
    }
    for (name, url) in [
        ("authorization_endpoint", &meta.authorization_endpoint),
        ("token_endpoint", &meta.token_endpoint),
        ("jwks_uri", &meta.jwks_uri),
    ] {
        if !endpoint_scheme_ok(url, allow_http) {
            return Err(format!(
                "the provider's {name} must be an https:// URL (got {url:?})"
            ));
        }
    }
    if let Some(methods) = &meta.code_challenge_methods_supported {
        if !methods.iter().any(|m| m == "S256") {
            return Err("the provider does not support PKCE with S256".into());
        }
    }
    if let Some(algs) = &meta.id_token_signing_alg_values_supported {
        if !algs.iter().any(|a| ALGORITHMS.contains(&a.as_str())) {
            return Err("the provider signs ID tokens with neither RS256 nor ES256".into());
        }
    }
    match &meta.token_endpoint_auth_methods_supported {
        // The specification's default.
        None => Ok(TokenAuth::Basic),
        Some(m) if m.iter().any(|x| x == "client_secret_basic") => Ok(TokenAuth::Basic),
        Some(m) if m.iter().any(|x| x == "client_secret_post") => Ok(TokenAuth::Post),
        Some(_) => {
            Err("the provider accepts neither client_secret_basic nor client_secret_post".into())
        }
    }
}

fn endpoint_scheme_ok(url: &str, allow_http: bool) -> bool {
    let lower = url.to_ascii_lowercase();
    let rest = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://").filter(|_| allow_http));
    rest.is_some_and(|r| !r.is_empty() && !r.starts_with('/'))
}

/// An issuer as configured: an absolute URL without query or fragment, https outside
/// development. Kept exactly as given (trimmed): it is compared byte for byte.
pub fn issuer(raw: &str, allow_http: bool) -> Result<String, String> {
    let v = raw.trim();
    if v.len() > 2048 {
        return Err("must be at most 2048 characters".into());
    }
    if !endpoint_scheme_ok(v, allow_http) {
        return Err(if allow_http {
            "must be an http:// or https:// URL".into()
        } else {
            "must be an https:// URL".into()
        });
    }
    if v.contains(['?', '#', ' ']) {
        return Err("must not have a query, a fragment or spaces".into());
    }
    Ok(v.to_string())
}

/// Where the provider publishes its discovery document.
pub fn discovery_url(issuer: &str) -> String {
    format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    )
}

/// PKCE (RFC 7636) S256: the challenge sent with the authorization request.
pub fn code_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// `url` with the query parameters appended (it may already have a query).
pub fn with_query(url: &str, params: &[(&str, &str)]) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    for (k, v) in params {
        query.append_pair(k, v);
    }
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{}", query.finish())
}

/// A compact JWS taken apart (nothing checked yet).
#[derive(Debug)]
pub struct Jws {
    pub alg: String,
    pub kid: Option<String>,
    pub claims: Value,
    /// `header.payload`, the bytes the signature covers.
    pub signing_input: String,
    pub signature: Vec<u8>,
}

#[derive(Deserialize)]
struct JwsHeader {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    crit: Option<Value>,
}

/// Why an ID token is refused: for the log and the test sign-in's report; the person sees
/// one code.
pub type TokenProblem = String;

pub fn parse_jws(token: &str) -> Result<Jws, TokenProblem> {
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("the ID token is not a compact JWS".into());
    };
    let decode = |part: &str, what: &str| {
        URL_SAFE_NO_PAD
            .decode(part)
            .map_err(|_| format!("the ID token's {what} is not base64url"))
    };
    let header: JwsHeader = serde_json::from_slice(&decode(h, "header")?)
        .map_err(|_| "the ID token's header is not a JOSE header".to_string())?;
    if header.crit.is_some() {
        return Err("the ID token has critical header parameters".into());
    }
    if !ALGORITHMS.contains(&header.alg.as_str()) {
        return Err(format!(
            "the ID token is signed with {:?}; only RS256 and ES256 are accepted",
            header.alg
        ));
    }
    let claims: Value = serde_json::from_slice(&decode(p, "payload")?)
        .map_err(|_| "the ID token's payload is not JSON".to_string())?;
    if !claims.is_object() {
        return Err("the ID token's payload is not a JSON object".into());
    }
    let signature = decode(s, "signature")?;
    Ok(Jws {
        alg: header.alg,
        kid: header.kid,
        claims,
        signing_input: format!("{h}.{p}"),
        signature,
    })
}

/// The key of a JWKS that may verify a token of `alg` and `kid`: same key id (a token without
/// `kid` only when the set has a single candidate), the key type the algorithm needs (RSA,
/// or EC on P-256), not an encryption key, and its `alg` if it names one.
pub fn select_key<'a>(jwks: &'a Value, alg: &str, kid: Option<&str>) -> Option<&'a Value> {
    let keys = jwks.get("keys")?.as_array()?;
    let fits = |k: &&Value| {
        let s = |name: &str| k.get(name).and_then(Value::as_str);
        let kty_ok = match alg {
            "RS256" => s("kty") == Some("RSA"),
            "ES256" => s("kty") == Some("EC") && s("crv") == Some("P-256"),
            _ => false,
        };
        kty_ok && s("use") != Some("enc") && s("alg").is_none_or(|a| a == alg)
    };
    let candidates: Vec<&Value> = keys.iter().filter(fits).collect();
    match kid {
        Some(kid) => candidates
            .into_iter()
            .find(|k| k.get("kid").and_then(Value::as_str) == Some(kid)),
        None if candidates.len() == 1 => candidates.into_iter().next(),
        None => None,
    }
}

/// What an ID token must match besides its signature.
pub struct Expected<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    pub nonce: &'a str,
    /// Unix seconds.
    pub now: i64,
}

/// The claims the service uses, from a token whose claims passed `check_claims`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub subject: String,
    /// Lower-cased.
    pub email: String,
    pub email_verified: bool,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub name: Option<String>,
    /// The connection's group claim's strings (none when it has none).
    pub groups: Vec<String>,
}

/// OpenID Connect Core §3.1.3.7: exact `iss`; `aud` contains the client id; `azp` is the
/// client id when present, and present when there are several audiences; `exp` in the future,
/// `nbf` and `iat` not in the future (with `SKEW_SECONDS`); `nonce` equal to the flow's.
/// Then the claims the service needs: `sub`, and an `email`.
pub fn check_claims(
    claims: &Value,
    want: &Expected<'_>,
    group_claim: Option<&str>,
) -> Result<Identity, TokenProblem> {
    let s = |name: &str| claims.get(name).and_then(Value::as_str);
    let num = |name: &str| claims.get(name).and_then(Value::as_f64).map(|n| n as i64);
    if s("iss") != Some(want.issuer) {
        return Err(format!(
            "the ID token's iss is {:?}, not {:?}",
            s("iss").unwrap_or(""),
            want.issuer
        ));
    }
    let audiences: Vec<&str> = match claims.get("aud") {
        Some(Value::String(a)) => vec![a.as_str()],
        Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if !audiences.contains(&want.client_id) {
        return Err("the ID token's aud does not contain this connection's client id".into());
    }
    match s("azp") {
        Some(azp) if azp != want.client_id => {
            return Err("the ID token's azp is another client".into())
        }
        None if audiences.len() > 1 => {
            return Err("the ID token has several audiences and no azp".into())
        }
        _ => {}
    }
    let exp = num("exp").ok_or("the ID token has no exp")?;
    if exp + SKEW_SECONDS <= want.now {
        return Err("the ID token has expired".into());
    }
    if num("nbf").is_some_and(|nbf| nbf - SKEW_SECONDS > want.now) {
        return Err("the ID token is not valid yet (nbf)".into());
    }
    let iat = num("iat").ok_or("the ID token has no iat")?;
    if iat - SKEW_SECONDS > want.now {
        return Err("the ID token was issued in the future (iat)".into());
    }
    match s("nonce") {
        Some(n) if crate::domain::token::secrets_equal(n, want.nonce) => {}
        _ => return Err("the ID token's nonce is not this sign-in's".into()),
    }
    let subject = s("sub")
        .filter(|sub| !sub.is_empty() && sub.len() <= 255)
        .ok_or("the ID token has no usable sub")?
        .to_string();
    let email = s("email")
        .map(|e| e.trim().to_ascii_lowercase())
        .filter(|e| !e.is_empty())
        .ok_or("the ID token has no email")?;
    let text = |name: &str| {
        s(name)
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
    Ok(Identity {
        subject,
        email,
        // Missing counts as false; some providers send the string "true".
        email_verified: matches!(claims.get("email_verified"), Some(Value::Bool(true)))
            || s("email_verified") == Some("true"),
        given_name: text("given_name"),
        family_name: text("family_name"),
        name: text("name"),
        groups: group_claim
            .map(|c| groups_of(claims, c))
            .unwrap_or_default(),
    })
}

/// A group claim's strings: a list of strings, or one string.
fn groups_of(claims: &Value, claim: &str) -> Vec<String> {
    match claims.get(claim) {
        Some(Value::Array(list)) => list
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        Some(Value::String(one)) => vec![one.clone()],
        _ => Vec::new(),
    }
}

/// The domain of an email address (after its last `@`).
pub fn email_domain(email: &str) -> &str {
    email.rsplit_once('@').map_or("", |(_, d)| d)
}

/// The role a person's groups give them: the highest mapped role among their groups, else
/// `default`. Never owner (maps are refused with it, and it is filtered here too).
pub fn mapped_role(
    groups: &[String],
    map: &BTreeMap<String, OrgRole>,
    default: OrgRole,
) -> OrgRole {
    groups
        .iter()
        .filter_map(|g| map.get(g))
        .copied()
        .filter(|r| *r != OrgRole::Owner)
        .fold(None, |best: Option<OrgRole>, r| match best {
            Some(b) if b.at_least(r) => Some(b),
            _ => Some(r),
        })
        .unwrap_or(default)
}

/// The names a provisioned account gets: `given_name`/`family_name`, else `name` split at its
/// last space, else the email's local part; each cut to `max` characters.
pub fn names(identity: &Identity, max: usize) -> (String, String) {
    let cut = |s: &str| s.chars().take(max).collect::<String>();
    match (&identity.given_name, &identity.family_name, &identity.name) {
        (Some(g), Some(f), _) => (cut(g), cut(f)),
        (Some(g), None, _) => (cut(g), String::new()),
        (None, Some(f), _) => (String::new(), cut(f)),
        (None, None, Some(n)) => match n.rsplit_once(' ') {
            Some((g, f)) => (cut(g.trim()), cut(f.trim())),
            None => (cut(n), String::new()),
        },
        (None, None, None) => (
            cut(identity.email.split('@').next().unwrap_or_default()),
            String::new(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn domains_are_normalised_and_refused_when_not_names_or_public() {
        assert_eq!(normalize_domain(" Example.COM. ").unwrap(), "example.com");
        assert_eq!(normalize_domain("a-b.co.uk").unwrap(), "a-b.co.uk");
        assert_eq!(
            normalize_domain("xn--bcher-kva.example").unwrap(),
            "xn--bcher-kva.example"
        );
        for bad in [
            "",
            "com",
            "-a.com",
            "a-.com",
            "a..com",
            "a_b.com",
            "10.0.0.1",
            "a b.com",
            "bücher.example",
            "exa mple.com",
            "http://example.com",
            "example.com/x",
        ] {
            assert!(normalize_domain(bad).is_err(), "{bad}");
        }
        assert!(normalize_domain(&format!("{}.com", "a".repeat(64))).is_err());
        assert!(normalize_domain(&format!("{}.com", "a".repeat(63))).is_ok());
        let long = vec!["abcdefghi"; 26].join(".");
        assert!(long.len() > 253 && normalize_domain(&long).is_err());
        let e = normalize_domain("GMAIL.com").unwrap_err();
        assert!(e.contains("public mail provider"), "{e}");
        assert!(normalize_domain("outlook.com").is_err());
        assert!(normalize_domain("mail.gmail.com.example").is_ok());
    }

    #[test]
    fn doh_answers_are_read_like_cloudflare_and_google_send_them() {
        let body = json!({"Status": 0, "Answer": [
            {"name": "_ums-verification.example.com.", "type": 16, "TTL": 60, "data": "\"ums-verification=abc\""},
            {"name": "_ums-verification.example.com.", "type": 16, "TTL": 60, "data": "\"part one \" \"and \\\"two\\\"\""},
            {"name": "_ums-verification.example.com.", "type": 5, "TTL": 60, "data": "alias.example."},
            {"name": "_ums-verification.example.com.", "type": 16, "TTL": 60, "data": "bare text"},
        ]});
        assert_eq!(
            parse_doh(body.to_string().as_bytes()),
            TxtLookup::Records(vec![
                "ums-verification=abc".into(),
                "part one and \"two\"".into(),
                "bare text".into(),
            ])
        );
        assert_eq!(
            parse_doh(br#"{"Status":3}"#),
            TxtLookup::Records(Vec::new())
        );
        assert_eq!(
            parse_doh(br#"{"Status":0}"#),
            TxtLookup::Records(Vec::new())
        );
        assert!(
            matches!(parse_doh(br#"{"Status":2}"#), TxtLookup::Failed(m) if m.contains("status 2"))
        );
        assert!(matches!(parse_doh(b"<html>"), TxtLookup::Failed(_)));
        assert_eq!(txt_name("example.com"), "_ums-verification.example.com");
        assert_eq!(txt_value("t"), "ums-verification=t");
    }

    fn metadata(issuer: &str) -> ProviderMetadata {
        serde_json::from_value(json!({
            "issuer": issuer,
            "authorization_endpoint": format!("{issuer}/auth"),
            "token_endpoint": format!("{issuer}/token"),
            "jwks_uri": format!("{issuer}/jwks"),
        }))
        .unwrap()
    }

    #[test]
    fn discovery_documents_must_name_the_issuer_and_offer_what_is_needed() {
        let iss = "https://idp.example";
        assert_eq!(
            check_metadata(iss, &metadata(iss), false),
            Ok(TokenAuth::Basic)
        );
        let e = check_metadata("https://idp.example/", &metadata(iss), false).unwrap_err();
        assert!(e.contains("names issuer"), "{e}");
        let http = "http://127.0.0.1:9000";
        assert!(check_metadata(http, &metadata(http), false).is_err());
        assert!(check_metadata(http, &metadata(http), true).is_ok());
        let mut m = metadata(iss);
        m.code_challenge_methods_supported = Some(vec!["plain".into()]);
        assert!(check_metadata(iss, &m, false).unwrap_err().contains("S256"));
        let mut m = metadata(iss);
        m.id_token_signing_alg_values_supported = Some(vec!["HS256".into()]);
        assert!(check_metadata(iss, &m, false).is_err());
        let mut m = metadata(iss);
        m.token_endpoint_auth_methods_supported = Some(vec!["client_secret_post".into()]);
        assert_eq!(check_metadata(iss, &m, false), Ok(TokenAuth::Post));
        m.token_endpoint_auth_methods_supported = Some(vec!["private_key_jwt".into()]);
        assert!(check_metadata(iss, &m, false).is_err());
        let mut m = metadata(iss);
        m.jwks_uri = "http://idp.example/jwks".into();
        assert!(check_metadata(iss, &m, false)
            .unwrap_err()
            .contains("jwks_uri"));
    }

    #[test]
    fn issuers_are_absolute_urls_https_outside_development() {
        assert_eq!(
            issuer(" https://idp.example/tenant ", false).unwrap(),
            "https://idp.example/tenant"
        );
        assert!(issuer("http://idp.example", false)
            .unwrap_err()
            .contains("https"));
        assert!(issuer("http://127.0.0.1:4000", true).is_ok());
        for bad in [
            "idp.example",
            "https://",
            "https:///x",
            "https://idp.example?x=1",
            "https://i#f",
            "ftp://idp",
        ] {
            assert!(issuer(bad, true).is_err(), "{bad}");
        }
        assert_eq!(
            discovery_url("https://idp.example/t/"),
            "https://idp.example/t/.well-known/openid-configuration"
        );
    }

    #[test]
    fn pkce_s256_matches_rfc_7636_appendix_b() {
        assert_eq!(
            code_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn query_parameters_are_appended_and_encoded() {
        assert_eq!(
            with_query("https://i.example/auth", &[("a", "1 2"), ("b", "x&y")]),
            "https://i.example/auth?a=1+2&b=x%26y"
        );
        assert_eq!(
            with_query("https://i.example/auth?tenant=t", &[("a", "1")]),
            "https://i.example/auth?tenant=t&a=1"
        );
    }

    fn jws(header: Value, claims: Value) -> String {
        format!(
            "{}.{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string()),
            URL_SAFE_NO_PAD.encode(b"sig")
        )
    }

    #[test]
    fn only_rs256_and_es256_compact_tokens_are_taken_apart() {
        let ok = parse_jws(&jws(
            json!({"alg": "RS256", "kid": "k1"}),
            json!({"sub": "s"}),
        ))
        .unwrap();
        assert_eq!((ok.alg.as_str(), ok.kid.as_deref()), ("RS256", Some("k1")));
        assert_eq!(ok.signature, b"sig");
        assert_eq!(ok.claims["sub"], "s");
        assert!(ok.signing_input.matches('.').count() == 1);
        for alg in ["none", "HS256", "HS512", "PS256", "EdDSA", "rs256"] {
            let e = parse_jws(&jws(json!({"alg": alg}), json!({}))).unwrap_err();
            assert!(e.contains("only RS256 and ES256"), "{alg}: {e}");
        }
        // `alg: none` with an empty signature, as forgers send it.
        let none = format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#),
            URL_SAFE_NO_PAD.encode(r#"{"sub":"x"}"#)
        );
        assert!(parse_jws(&none).is_err());
        assert!(parse_jws("a.b").is_err());
        assert!(parse_jws("a.b.c.d").is_err());
        assert!(parse_jws(&jws(json!({"alg": "ES256", "crit": ["exp"]}), json!({}))).is_err());
        assert!(parse_jws(&jws(json!({"alg": "ES256"}), json!([1]))).is_err());
    }

    #[test]
    fn keys_are_selected_by_kid_type_curve_use_and_alg() {
        let set = json!({"keys": [
            {"kty": "RSA", "kid": "r1", "n": "x", "e": "AQAB"},
            {"kty": "RSA", "kid": "r2", "use": "enc", "n": "x", "e": "AQAB"},
            {"kty": "EC", "kid": "e1", "crv": "P-256", "x": "x", "y": "y"},
            {"kty": "EC", "kid": "e2", "crv": "P-384", "x": "x", "y": "y"},
            {"kty": "RSA", "kid": "r3", "alg": "PS256", "n": "x", "e": "AQAB"},
        ]});
        let kid =
            |alg, kid| select_key(&set, alg, kid).map(|k| k["kid"].as_str().unwrap().to_string());
        assert_eq!(kid("RS256", Some("r1")).as_deref(), Some("r1"));
        assert_eq!(kid("RS256", Some("r2")), None);
        assert_eq!(kid("RS256", Some("r3")), None);
        assert_eq!(kid("RS256", Some("e1")), None);
        assert_eq!(kid("ES256", Some("e1")).as_deref(), Some("e1"));
        assert_eq!(kid("ES256", Some("e2")), None);
        assert_eq!(kid("RS256", Some("unknown")), None);
        // Without a kid, only an unambiguous key.
        assert_eq!(kid("ES256", None).as_deref(), Some("e1"));
        assert_eq!(kid("RS256", None).as_deref(), Some("r1"));
        let two = json!({"keys": [{"kty": "RSA", "kid": "a"}, {"kty": "RSA", "kid": "b"}]});
        assert!(select_key(&two, "RS256", None).is_none());
        assert!(select_key(&json!({}), "RS256", Some("a")).is_none());
    }

    fn good_claims() -> Value {
        json!({
            "iss": "https://idp.example", "aud": "client-1", "sub": "u-1",
            "exp": 2_000, "iat": 1_000, "nonce": "n-1",
            "email": "Ada@Example.com", "email_verified": true,
            "given_name": "Ada", "family_name": "Lovelace", "groups": ["eng", "admins"],
        })
    }

    fn expect(now: i64) -> Expected<'static> {
        Expected {
            issuer: "https://idp.example",
            client_id: "client-1",
            nonce: "n-1",
            now,
        }
    }

    #[test]
    fn claims_are_checked_as_openid_connect_core_says() {
        let id = check_claims(&good_claims(), &expect(1_500), Some("groups")).unwrap();
        assert_eq!(id.subject, "u-1");
        assert_eq!(id.email, "ada@example.com");
        assert!(id.email_verified);
        assert_eq!(id.groups, vec!["eng", "admins"]);
        let refused = |edit: &dyn Fn(&mut Value), now: i64| {
            let mut c = good_claims();
            edit(&mut c);
            check_claims(&c, &expect(now), Some("groups")).unwrap_err()
        };
        assert!(refused(&|c| c["iss"] = json!("https://idp.example/"), 1_500).contains("iss"));
        assert!(refused(&|c| c["aud"] = json!("other"), 1_500).contains("aud"));
        assert!(refused(&|c| c["aud"] = json!(["client-1", "other"]), 1_500).contains("azp"));
        assert!(refused(&|c| c["azp"] = json!("other"), 1_500).contains("azp"));
        assert!(refused(&|_| {}, 2_060).contains("expired"));
        assert!(refused(&|c| c["nbf"] = json!(1_700), 1_500).contains("nbf"));
        assert!(refused(&|c| c["iat"] = json!(1_600), 1_500).contains("iat"));
        assert!(refused(&|c| c["nonce"] = json!("n-2"), 1_500).contains("nonce"));
        assert!(refused(
            &|c| c
                .as_object_mut()
                .unwrap()
                .remove("nonce")
                .map(|_| ())
                .unwrap(),
            1_500
        )
        .contains("nonce"));
        assert!(refused(&|c| c["sub"] = json!(""), 1_500).contains("sub"));
        assert!(refused(
            &|c| c
                .as_object_mut()
                .unwrap()
                .remove("email")
                .map(|_| ())
                .unwrap(),
            1_500
        )
        .contains("email"));
        assert!(refused(
            &|c| c
                .as_object_mut()
                .unwrap()
                .remove("exp")
                .map(|_| ())
                .unwrap(),
            1_500
        )
        .contains("exp"));
        // Within the skew.
        assert!(check_claims(&good_claims(), &expect(2_059), None).is_ok());
        let mut c = good_claims();
        c["aud"] = json!(["client-1", "other"]);
        c["azp"] = json!("client-1");
        assert!(check_claims(&c, &expect(1_500), None).is_ok());
        // email_verified: missing or false is false.
        for v in [json!(false), json!("false"), json!(null), json!(1)] {
            let mut c = good_claims();
            c["email_verified"] = v;
            assert!(
                !check_claims(&c, &expect(1_500), None)
                    .unwrap()
                    .email_verified
            );
        }
        let mut c = good_claims();
        c.as_object_mut().unwrap().remove("email_verified");
        assert!(
            !check_claims(&c, &expect(1_500), None)
                .unwrap()
                .email_verified
        );
        c["email_verified"] = json!("true");
        assert!(
            check_claims(&c, &expect(1_500), None)
                .unwrap()
                .email_verified
        );
        // A group claim of one string, or none.
        let mut c = good_claims();
        c["groups"] = json!("eng");
        assert_eq!(
            check_claims(&c, &expect(1_500), Some("groups"))
                .unwrap()
                .groups,
            vec!["eng"]
        );
        assert!(check_claims(&c, &expect(1_500), None)
            .unwrap()
            .groups
            .is_empty());
    }

    #[test]
    fn the_highest_mapped_role_wins_and_never_owner() {
        let map: BTreeMap<String, OrgRole> = [
            ("eng".to_string(), OrgRole::Editor),
            ("admins".to_string(), OrgRole::Admin),
            ("owners".to_string(), OrgRole::Owner),
            ("readers".to_string(), OrgRole::Viewer),
        ]
        .into();
        let g = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            mapped_role(&g(&["eng", "admins"]), &map, OrgRole::Member),
            OrgRole::Admin
        );
        assert_eq!(
            mapped_role(&g(&["readers", "eng"]), &map, OrgRole::Member),
            OrgRole::Editor
        );
        assert_eq!(
            mapped_role(&g(&["owners"]), &map, OrgRole::Viewer),
            OrgRole::Viewer
        );
        assert_eq!(
            mapped_role(&g(&["other"]), &map, OrgRole::Viewer),
            OrgRole::Viewer
        );
        assert_eq!(mapped_role(&[], &map, OrgRole::Member), OrgRole::Member);
        // A mapped role below the default still applies: the map decides for mapped groups.
        assert_eq!(
            mapped_role(&g(&["readers"]), &map, OrgRole::Editor),
            OrgRole::Viewer
        );
    }

    #[test]
    fn names_come_from_the_claims() {
        let mut id = check_claims(&good_claims(), &expect(1_500), None).unwrap();
        assert_eq!(names(&id, 100), ("Ada".into(), "Lovelace".into()));
        id.given_name = None;
        id.family_name = None;
        id.name = Some("Grace Brewster Hopper".into());
        assert_eq!(names(&id, 100), ("Grace Brewster".into(), "Hopper".into()));
        id.name = None;
        assert_eq!(names(&id, 100), ("ada".into(), String::new()));
        id.given_name = Some("x".repeat(150));
        assert_eq!(names(&id, 100).0.len(), 100);
        assert_eq!(email_domain("a@b@Example.com"), "Example.com");
        assert_eq!(email_domain("nodomain"), "");
    }
}
