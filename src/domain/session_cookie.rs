//! The browser session's cookie: the web console's refresh token, kept where page scripts
//! cannot read it. `__Host-` makes the browser refuse it unless it is `Secure`, has
//! `Path=/` and no `Domain` (so no other host, not even a subdomain, can set or receive
//! it); `HttpOnly` hides it from scripts; `SameSite=Strict` keeps other sites' pages from
//! sending it. It lives as long as its session does.

use super::time::Timestamp;
use super::token::looks_like_secret;

/// The cookie's name.
pub const NAME: &str = "__Host-session";

const ATTRIBUTES: &str = "Path=/; HttpOnly; Secure; SameSite=Strict";

/// The `Set-Cookie` value that hands `refresh_token` to the browser for `max_age` seconds.
/// `None` unless the token is one of ours (43 base64url characters): nothing else may
/// become a cookie value, where `;`, `,`, spaces or quotes would change its meaning.
pub fn set(refresh_token: &str, max_age: i64) -> Option<String> {
    looks_like_secret(refresh_token).then(|| {
        format!(
            "{NAME}={refresh_token}; {ATTRIBUTES}; Max-Age={}",
            max_age.max(0)
        )
    })
}

/// The `Set-Cookie` value that makes the browser drop the cookie at once.
pub fn clear() -> String {
    format!("{NAME}=; {ATTRIBUTES}; Max-Age=0")
}

/// Whole seconds from `now` until a session ending at `expires_at` ends (never negative):
/// the cookie never outlives its session.
pub fn max_age(expires_at: Timestamp, now: Timestamp) -> i64 {
    (expires_at.millis() - now.millis()).max(0) / 1000
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::token::new_secret;

    #[test]
    fn the_cookie_carries_every_attribute_and_its_lifetime() {
        let token = "A".repeat(43);
        assert_eq!(
            set(&token, 2_592_000).unwrap(),
            format!(
                "__Host-session={token}; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=2592000"
            )
        );
        // A `__Host-` cookie must be Secure, have Path=/ and no Domain, or browsers drop it.
        let cookie = set(&token, 60).unwrap();
        assert!(cookie.starts_with("__Host-"));
        assert!(!cookie.to_ascii_lowercase().contains("domain"));
        assert!(cookie.contains("; Secure") && cookie.contains("; Path=/;"));
        // Negative lifetimes are clamped, never sent as a negative Max-Age.
        assert!(set(&token, -5).unwrap().ends_with("; Max-Age=0"));
    }

    #[test]
    fn clearing_repeats_the_attributes_with_an_empty_value_and_no_lifetime() {
        assert_eq!(
            clear(),
            "__Host-session=; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=0"
        );
    }

    #[test]
    fn only_our_tokens_become_cookie_values() {
        let ok = "A".repeat(43);
        for bad in [
            format!("{};", &ok[..42]),
            format!("{},", &ok[..42]),
            format!("{} ", &ok[..42]),
            format!("\"{}", &ok[..42]),
            format!("{}=", &ok[..42]),
            format!("{}\n", &ok[..42]),
            format!("{ok}; Domain=evil.example"),
            format!("{ok}A"),
            String::new(),
        ] {
            assert_eq!(set(&bad, 60), None, "{bad:?}");
        }
        // Every refresh token the service issues is one (base64url: no separators).
        for _ in 0..1_000 {
            let token = new_secret();
            let cookie = set(&token, 60).expect("a new secret is a cookie value");
            let value = cookie
                .strip_prefix("__Host-session=")
                .and_then(|rest| rest.split_once("; "))
                .map(|(value, _)| value)
                .unwrap();
            assert_eq!(value, token);
            assert!(!value.contains([';', ',', ' ', '"', '\\', '=']), "{value}");
        }
    }

    #[test]
    fn max_age_is_the_sessions_remaining_whole_seconds() {
        let now = Timestamp(1_700_000_000_000);
        assert_eq!(max_age(now.plus_seconds(2_592_000), now), 2_592_000);
        assert_eq!(max_age(Timestamp(now.millis() + 1_999), now), 1);
        assert_eq!(max_age(Timestamp(now.millis() + 999), now), 0);
        assert_eq!(max_age(now, now), 0);
        assert_eq!(max_age(Timestamp(now.millis() - 5_000), now), 0);
    }
}
