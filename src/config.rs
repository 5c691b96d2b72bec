//! Service configuration from Worker vars and secrets, validated once per isolate.
//! A bad or missing setting is reported by name and refuses requests (503), never defaulted
//! silently outside development.

use std::cell::RefCell;
use std::rc::Rc;

use worker::Env;

use crate::error::ApiError;

thread_local! {
    /// Vars and secrets do not change within an isolate: parse and validate them once.
    static CONFIG: RefCell<Option<Rc<Config>>> = const { RefCell::new(None) };
}

fn var(env: &Env, name: &str) -> Option<String> {
    env.var(name)
        .map(|v| v.to_string())
        .or_else(|_| env.secret(name).map(|v| v.to_string()))
        .ok()
}

/// The isolate's configuration, loaded from `env` on first use: every entry point (fetch,
/// queue, cron) shares it.
pub fn cached(env: &Env) -> Result<Rc<Config>, ApiError> {
    if let Some(cfg) = CONFIG.with(|c| c.borrow().clone()) {
        return Ok(cfg);
    }
    let cfg = Rc::new(Config::load(|name| var(env, name)).map_err(ApiError::Misconfigured)?);
    CONFIG.with(|c| *c.borrow_mut() = Some(cfg.clone()));
    Ok(cfg)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    Development,
    /// Anything else: staging, production, test rigs that want production rules.
    Deployed,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EmailProvider {
    /// Development only: print to the console (and the dev mailbox).
    Console,
    /// POST `{from, to, subject, text, html}` as JSON to `url` with a bearer API key.
    Http { url: String, api_key: String },
}

#[derive(Debug, Clone)]
pub struct Config {
    pub environment: Environment,
    pub app_url: String,
    pub jwt_issuer: String,
    /// `None` in development: a key is generated once and kept in KV.
    pub jwt_private_key: Option<String>,
    pub jwt_previous_public_keys: String,
    pub access_token_ttl: i64,
    pub session_ttl: i64,
    pub activation_ttl: i64,
    pub password_reset_ttl: i64,
    pub email_verification_ttl: i64,
    pub invitation_ttl: i64,
    /// How long before expiry the invitee is reminded; 0 turns reminders off.
    pub invitation_reminder: i64,
    /// Audit events older than this many days are deleted by the cron.
    pub audit_retention_days: i64,
    pub lockout_threshold: i64,
    pub rate_limit_per_ip: i64,
    pub rate_limit_per_account: i64,
    pub default_member_limit: i64,
    pub max_body_bytes: usize,
    pub cors_allowed_origins: Vec<String>,
    pub email_provider: EmailProvider,
    pub email_from: String,
    pub mail_max_attempts: i64,
    pub mail_retry_base_seconds: i64,
    /// Bearer secret of the operator routes; unset means they refuse everyone.
    pub operator_token: Option<String>,
    /// Development only: log every statement prepared, with its arguments (`SQL_TRACE=1`),
    /// for the query-plan test. Arguments include emails and token hashes, so a deployment
    /// that asks for it is refused rather than ignored.
    pub sql_trace: bool,
    /// The DNS-over-HTTPS JSON resolver that proves domain ownership (TXT records).
    pub dns_resolver_url: String,
    /// How long a verified domain goes before the cron checks its record again.
    pub domain_recheck_seconds: i64,
    /// The AES-256-GCM key that encrypts SSO client secrets at rest (32 bytes). `None`
    /// outside development when `SSO_ENCRYPTION_KEY` is unset: SSO connections then answer
    /// 503 naming the secret, and nothing else is affected.
    pub sso_encryption_key: Option<[u8; 32]>,
}

/// Development only, and refused everywhere else: the SSO client-secret key used when
/// `SSO_ENCRYPTION_KEY` is unset, so `npm run dev` works without secrets. Anything encrypted
/// with it is as good as plain text.
const DEVELOPMENT_SSO_KEY: [u8; 32] = *b"development-only-sso-key-32bytes";

/// `SSO_ENCRYPTION_KEY`: 32 bytes in base64 (standard or URL-safe, padded or not).
fn sso_key(value: Option<String>, dev: bool) -> Result<Option<[u8; 32]>, String> {
    use base64::Engine;
    let Some(value) = value else {
        return Ok(dev.then_some(DEVELOPMENT_SSO_KEY));
    };
    let trimmed = value.trim().trim_end_matches('=');
    let bytes = base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(trimmed)
        .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(trimmed))
        .map_err(|_| "SSO_ENCRYPTION_KEY must be base64".to_string())?;
    let key: [u8; 32] = bytes.try_into().map_err(|_| {
        "SSO_ENCRYPTION_KEY must be 32 bytes (base64 of 32 random bytes)".to_string()
    })?;
    if key == DEVELOPMENT_SSO_KEY && !dev {
        return Err("SSO_ENCRYPTION_KEY is the development key; generate a real one".into());
    }
    Ok(Some(key))
}

impl Config {
    pub fn is_development(&self) -> bool {
        self.environment == Environment::Development
    }

    /// `get` reads a var or secret by name (empty strings count as unset).
    pub fn load(get: impl Fn(&str) -> Option<String>) -> Result<Config, String> {
        let get = |name: &str| get(name).filter(|v| !v.trim().is_empty());
        let int = |name: &str, default: i64, min: i64, max: i64| -> Result<i64, String> {
            match get(name) {
                None => Ok(default),
                Some(v) => match v.trim().parse::<i64>() {
                    Ok(n) if (min..=max).contains(&n) => Ok(n),
                    _ => Err(format!("{name} must be an integer from {min} to {max}")),
                },
            }
        };
        let environment = match get("ENVIRONMENT").as_deref() {
            Some("development") => Environment::Development,
            Some(_) => Environment::Deployed,
            None => return Err("ENVIRONMENT is not set".into()),
        };
        let dev = environment == Environment::Development;
        let app_url = get("APP_URL").ok_or("APP_URL is not set")?;
        let app_url = app_url.trim_end_matches('/').to_string();
        if !(app_url.starts_with("https://") || (dev && app_url.starts_with("http://"))) {
            return Err("APP_URL must be an https:// URL outside development".into());
        }
        let jwt_private_key = get("JWT_PRIVATE_KEY");
        if jwt_private_key.is_none() && !dev {
            return Err("JWT_PRIVATE_KEY secret is not set (required outside development)".into());
        }
        let email_provider = match get("EMAIL_PROVIDER").as_deref() {
            Some("console") | None if dev => EmailProvider::Console,
            Some("console") | None => {
                return Err("EMAIL_PROVIDER=console is for development only; use http".into())
            }
            Some("http") => EmailProvider::Http {
                url: get("EMAIL_HTTP_URL").ok_or("EMAIL_HTTP_URL is not set")?,
                api_key: get("EMAIL_API_KEY").unwrap_or_default(),
            },
            Some(other) => return Err(format!("EMAIL_PROVIDER {other:?} is not console or http")),
        };
        let sql_trace = match get("SQL_TRACE").as_deref().map(str::trim) {
            None | Some("0") => false,
            Some("1") if dev => true,
            Some("1") => return Err("SQL_TRACE=1 is for development only".into()),
            Some(_) => return Err("SQL_TRACE must be 0 or 1".into()),
        };
        Ok(Config {
            environment,
            jwt_issuer: get("JWT_ISSUER").unwrap_or_else(|| app_url.clone()),
            app_url,
            jwt_private_key,
            jwt_previous_public_keys: get("JWT_PREVIOUS_PUBLIC_KEYS").unwrap_or_default(),
            access_token_ttl: int("ACCESS_TOKEN_TTL_SECONDS", 900, 60, 86_400)?,
            session_ttl: int("SESSION_TTL_SECONDS", 30 * 86_400, 300, 365 * 86_400)?,
            activation_ttl: int("ACTIVATION_TTL_SECONDS", 86_400, 1, 30 * 86_400)?,
            password_reset_ttl: int("PASSWORD_RESET_TTL_SECONDS", 3_600, 1, 86_400)?,
            email_verification_ttl: int("EMAIL_VERIFICATION_TTL_SECONDS", 86_400, 1, 30 * 86_400)?,
            invitation_ttl: int("INVITATION_TTL_SECONDS", 7 * 86_400, 1, 90 * 86_400)?,
            invitation_reminder: int("INVITATION_REMINDER_SECONDS", 86_400, 0, 30 * 86_400)?,
            audit_retention_days: int("AUDIT_RETENTION_DAYS", 365, 1, 3_650)?,
            lockout_threshold: int("LOCKOUT_THRESHOLD", 5, 1, 100)?,
            rate_limit_per_ip: int("RATE_LIMIT_PER_IP", 60, 1, 1_000_000)?,
            rate_limit_per_account: int("RATE_LIMIT_PER_ACCOUNT", 10, 1, 1_000_000)?,
            default_member_limit: int("DEFAULT_MEMBER_LIMIT", 50, 1, 1_000_000)?,
            max_body_bytes: int("MAX_BODY_BYTES", 65_536, 1_024, 1_048_576)? as usize,
            cors_allowed_origins: get("CORS_ALLOWED_ORIGINS")
                .unwrap_or_default()
                .split(',')
                .map(|s| s.trim().trim_end_matches('/').to_string())
                .filter(|s| !s.is_empty())
                .collect(),
            email_provider,
            email_from: get("EMAIL_FROM").unwrap_or_else(|| "no-reply@example.com".into()),
            mail_max_attempts: int("MAIL_MAX_ATTEMPTS", 5, 1, 20)?,
            mail_retry_base_seconds: int("MAIL_RETRY_BASE_SECONDS", 30, 0, 3_600)?,
            operator_token: get("OPERATOR_TOKEN"),
            sql_trace,
            dns_resolver_url: get("DNS_RESOLVER_URL")
                .unwrap_or_else(|| "https://cloudflare-dns.com/dns-query".into()),
            domain_recheck_seconds: int("DOMAIN_RECHECK_SECONDS", 86_400, 0, 30 * 86_400)?,
            sso_encryption_key: sso_key(get("SSO_ENCRYPTION_KEY"), dev)?,
        })
    }

    /// The CORS origin to echo for `origin`, if it is allowed.
    pub fn cors_origin(&self, origin: &str) -> Option<String> {
        self.cors_allowed_origins
            .iter()
            .find(|o| *o == "*" || o.as_str() == origin)
            .map(|o| {
                if o == "*" {
                    "*".to_string()
                } else {
                    origin.to_string()
                }
            })
    }
}

/// Development's defaults under an https `APP_URL`, for host tests that need a config.
#[cfg(test)]
impl Config {
    pub fn for_tests() -> Config {
        Config::load(|name| match name {
            "ENVIRONMENT" => Some("development".into()),
            "APP_URL" => Some("https://app.example".into()),
            _ => None,
        })
        .expect("development defaults load")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn load(pairs: &[(&str, &str)]) -> Result<Config, String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::load(|k| map.get(k).cloned())
    }

    const DEV: &[(&str, &str)] = &[
        ("ENVIRONMENT", "development"),
        ("APP_URL", "http://127.0.0.1:8787/"),
    ];

    #[test]
    fn development_defaults() {
        let c = load(DEV).unwrap();
        assert!(c.is_development());
        assert_eq!(c.app_url, "http://127.0.0.1:8787");
        assert_eq!(c.jwt_issuer, "http://127.0.0.1:8787");
        assert_eq!(c.email_provider, EmailProvider::Console);
        assert_eq!(
            (
                c.lockout_threshold,
                c.rate_limit_per_ip,
                c.rate_limit_per_account
            ),
            (5, 60, 10)
        );
        assert_eq!(c.activation_ttl, 86_400);
        assert!(c.jwt_private_key.is_none());
        assert!(!c.sql_trace);
        assert_eq!(c.sso_encryption_key, Some(DEVELOPMENT_SSO_KEY));
        assert_eq!(c.dns_resolver_url, "https://cloudflare-dns.com/dns-query");
        assert_eq!(c.domain_recheck_seconds, 86_400);
    }

    #[test]
    fn the_sso_key_is_32_bytes_and_never_the_development_one_when_deployed() {
        let production = [
            ("ENVIRONMENT", "production"),
            ("APP_URL", "https://id.example.com"),
            ("JWT_PRIVATE_KEY", "k"),
            ("EMAIL_PROVIDER", "http"),
            ("EMAIL_HTTP_URL", "https://mail.example/send"),
        ];
        assert_eq!(load(&production).unwrap().sso_encryption_key, None);
        let with = |key: &str| {
            let mut pairs = production.to_vec();
            pairs.push(("SSO_ENCRYPTION_KEY", key));
            load(&pairs).map(|c| c.sso_encryption_key)
        };
        let real = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
        let expected: Vec<u8> = (0u8..32).collect();
        assert_eq!(with(real).unwrap().unwrap().to_vec(), expected);
        assert!(with("AAEC").unwrap_err().contains("32 bytes"));
        assert!(with("not base64!").unwrap_err().contains("base64"));
        use base64::Engine;
        let dev_key = base64::engine::general_purpose::STANDARD.encode(DEVELOPMENT_SSO_KEY);
        assert!(with(&dev_key).unwrap_err().contains("development key"));
    }

    #[test]
    fn sql_trace_is_for_development_only() {
        let traced = |env: &[(&str, &str)], value: &str| {
            let mut pairs = env.to_vec();
            pairs.push(("SQL_TRACE", value));
            load(&pairs).map(|c| c.sql_trace)
        };
        assert_eq!(traced(DEV, "1"), Ok(true));
        assert_eq!(traced(DEV, "0"), Ok(false));
        assert!(traced(DEV, "yes").unwrap_err().contains("SQL_TRACE"));
        let production = [
            ("ENVIRONMENT", "production"),
            ("APP_URL", "https://id.example.com"),
            ("JWT_PRIVATE_KEY", "k"),
            ("EMAIL_PROVIDER", "http"),
            ("EMAIL_HTTP_URL", "https://mail.example/send"),
        ];
        assert_eq!(traced(&production, "0"), Ok(false));
        assert!(traced(&production, "1").unwrap_err().contains("SQL_TRACE"));
    }

    #[test]
    fn production_refuses_development_defaults() {
        let base = [
            ("ENVIRONMENT", "production"),
            ("APP_URL", "https://id.example.com"),
        ];
        let e = load(&base).unwrap_err();
        assert!(e.contains("JWT_PRIVATE_KEY"), "{e}");
        let with_key = [base[0], base[1], ("JWT_PRIVATE_KEY", "k")];
        assert!(load(&with_key).unwrap_err().contains("EMAIL_PROVIDER"));
        let console = [
            with_key[0],
            with_key[1],
            with_key[2],
            ("EMAIL_PROVIDER", "console"),
        ];
        assert!(load(&console).is_err());
        let http = [
            with_key[0],
            with_key[1],
            with_key[2],
            ("EMAIL_PROVIDER", "http"),
            ("EMAIL_HTTP_URL", "https://mail.example/send"),
        ];
        assert!(!load(&http).unwrap().is_development());
        let plain_http = [
            ("ENVIRONMENT", "production"),
            ("APP_URL", "http://id.example.com"),
        ];
        assert!(load(&plain_http).unwrap_err().contains("APP_URL"));
    }

    #[test]
    fn bad_numbers_are_named() {
        let mut pairs = DEV.to_vec();
        pairs.push(("LOCKOUT_THRESHOLD", "zero"));
        assert!(load(&pairs).unwrap_err().contains("LOCKOUT_THRESHOLD"));
        assert!(load(&[]).unwrap_err().contains("ENVIRONMENT"));
    }

    #[test]
    fn cors_origins() {
        let mut pairs = DEV.to_vec();
        pairs.push((
            "CORS_ALLOWED_ORIGINS",
            "https://app.example, https://admin.example/",
        ));
        let c = load(&pairs).unwrap();
        assert_eq!(
            c.cors_origin("https://admin.example").as_deref(),
            Some("https://admin.example")
        );
        assert_eq!(c.cors_origin("https://evil.example"), None);
        let mut star = DEV.to_vec();
        star.push(("CORS_ALLOWED_ORIGINS", "*"));
        assert_eq!(
            load(&star).unwrap().cors_origin("https://x").as_deref(),
            Some("*")
        );
    }
}
