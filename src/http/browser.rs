//! What browser sessions need of a request: one cookie of its `Cookie` header, the
//! request URL's own origin, and the Origin check that keeps other sites from using the
//! session cookie (cross-site request forgery).

/// The value of the first cookie called `name` in a `Cookie` header (`a=1; b=2`, RFC 6265
/// §4.2), as sent. Pairs without `=` or with another name are skipped; junk never panics.
pub fn cookie<'h>(header: &'h str, name: &str) -> Option<&'h str> {
    header.split(';').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        (key.trim_matches([' ', '\t']) == name).then(|| value.trim_matches([' ', '\t']))
    })
}

/// The origin (`scheme://host[:port]`) of a request URL as the runtime serialises it
/// (WHATWG: scheme and host lower-case, a default port left out), which is how browsers
/// write the `Origin` header too. Userinfo, were there any, is not part of an origin.
pub fn url_origin(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return String::new();
    };
    let after = &url[scheme_end + 3..];
    let authority = &after[..after.find(['/', '?', '#']).unwrap_or(after.len())];
    let host = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    format!("{}://{host}", &url[..scheme_end])
}

/// Why a request may not use (or ask for) the session cookie.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrossOrigin {
    /// No `Origin` header: not a request a browser made for one of this service's pages.
    Missing,
    /// Another origin (or the opaque `null`).
    Foreign,
}

/// The second line of defence behind `SameSite=Strict` (which treats every port of a
/// host, and sibling subdomains of one site, as the same site): a request that uses or
/// asks for the session cookie must carry an `Origin` naming this service's own origin.
/// Browsers send `Origin` on every POST, and page scripts cannot forge it.
pub fn check_origin(origin: Option<&str>, own: &str) -> Result<(), CrossOrigin> {
    match origin.map(str::trim) {
        None | Some("") => Err(CrossOrigin::Missing),
        Some(origin) if !own.is_empty() && origin.eq_ignore_ascii_case(own) => Ok(()),
        Some(_) => Err(CrossOrigin::Foreign),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_found_by_exact_name_first_match_first() {
        let h = "theme=dark; __Host-session=abc_DEF-123; other=1";
        assert_eq!(cookie(h, "__Host-session"), Some("abc_DEF-123"));
        assert_eq!(cookie(h, "theme"), Some("dark"));
        assert_eq!(cookie(h, "other"), Some("1"));
        assert_eq!(cookie(h, "missing"), None);
        // Names are case-sensitive and whole: no prefix, suffix or case variants.
        assert_eq!(cookie("__host-session=x", "__Host-session"), None);
        assert_eq!(cookie("__Host-session2=x", "__Host-session"), None);
        assert_eq!(cookie("x__Host-session=x", "__Host-session"), None);
        // The first of two wins; an empty value is a value.
        assert_eq!(cookie("a=1; a=2", "a"), Some("1"));
        assert_eq!(cookie("a=; b=2", "a"), Some(""));
        // Loose spacing, no spacing, and tabs.
        assert_eq!(cookie("a=1;b=2", "b"), Some("2"));
        assert_eq!(cookie("  a=1 ;\tb=2\t", "b"), Some("2"));
        // A value keeps any `=` after the first.
        assert_eq!(cookie("a=x=y", "a"), Some("x=y"));
    }

    #[test]
    fn junk_cookie_headers_find_nothing_and_never_panic() {
        for junk in [
            "",
            ";",
            ";;;",
            "=",
            "==",
            "=x",
            "a",
            "a;b",
            " ; = ; ",
            "\u{0}",
            "é=ü; ☃",
            "__Host-session",
            "__Host-session;",
            ";__Host-session",
        ] {
            assert_eq!(cookie(junk, "__Host-session"), None, "{junk:?}");
        }
        assert_eq!(cookie("é=ü; ☃=x", "☃"), Some("x"));
    }

    #[test]
    fn the_origin_of_a_url_is_scheme_host_and_port() {
        assert_eq!(
            url_origin("http://localhost/v1/auth/refresh"),
            "http://localhost"
        );
        assert_eq!(
            url_origin("https://ums.example.com/v1/auth/login?x=1"),
            "https://ums.example.com"
        );
        assert_eq!(
            url_origin("http://127.0.0.1:8787/v1/auth/logout"),
            "http://127.0.0.1:8787"
        );
        assert_eq!(url_origin("https://h.example"), "https://h.example");
        assert_eq!(url_origin("https://h.example?a=b"), "https://h.example");
        assert_eq!(url_origin("https://h.example#f"), "https://h.example");
        assert_eq!(url_origin("http://[::1]:8787/a"), "http://[::1]:8787");
        assert_eq!(
            url_origin("https://user:pw@h.example/a"),
            "https://h.example"
        );
        assert_eq!(url_origin("not a url"), "");
    }

    #[test]
    fn only_the_services_own_origin_passes() {
        let own = "https://ums.example.com";
        assert_eq!(check_origin(Some(own), own), Ok(()));
        assert_eq!(check_origin(Some("HTTPS://UMS.example.com"), own), Ok(()));
        assert_eq!(check_origin(None, own), Err(CrossOrigin::Missing));
        assert_eq!(check_origin(Some(""), own), Err(CrossOrigin::Missing));
        assert_eq!(check_origin(Some("  "), own), Err(CrossOrigin::Missing));
        for foreign in [
            "null",
            "https://evil.example",
            "http://ums.example.com",
            "https://ums.example.com:8443",
            "https://ums.example.com.evil.example",
            "https://sub.ums.example.com",
            "https://ums.example.com/",
            "https://ums.example.co",
        ] {
            assert_eq!(
                check_origin(Some(foreign), own),
                Err(CrossOrigin::Foreign),
                "{foreign}"
            );
        }
        // Another port of the same host is the same site for SameSite, not the same origin.
        assert_eq!(
            check_origin(Some("http://localhost:3000"), "http://localhost:8787"),
            Err(CrossOrigin::Foreign)
        );
        // A URL whose origin could not be told matches nothing.
        assert_eq!(check_origin(Some(""), ""), Err(CrossOrigin::Missing));
        assert_eq!(check_origin(Some("x"), ""), Err(CrossOrigin::Foreign));
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn any_cookie_header_parses_without_panicking(header in any::<String>(), name in "[A-Za-z_-]{1,16}") {
            if let Some(value) = cookie(&header, &name) {
                prop_assert!(header.contains(value));
                prop_assert!(!value.contains(';'));
            }
        }

        #[test]
        fn a_cookie_written_among_others_is_read_back(
            before in prop::collection::vec(("[a-z]{1,8}", "[A-Za-z0-9_-]{0,20}"), 0..4),
            value in "[A-Za-z0-9_-]{43}",
        ) {
            let mut pairs: Vec<String> = before
                .iter()
                .filter(|(k, _)| k != "__Host-session")
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            pairs.push(format!("__Host-session={value}"));
            let header = pairs.join("; ");
            prop_assert_eq!(cookie(&header, "__Host-session"), Some(value.as_str()));
        }

        #[test]
        fn url_origin_never_panics(url in any::<String>()) {
            let _ = url_origin(&url);
        }
    }
}
