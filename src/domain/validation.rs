//! Input validation: field errors collected per request body, and the rules for emails,
//! names, phone numbers and passwords.

use serde::Serialize;

/// One problem with one field of a request, rendered in problem+json `errors`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

/// Collects every problem of a body, so the client learns them all at once.
#[derive(Debug, Default)]
pub struct FieldErrors(pub Vec<FieldError>);

impl FieldErrors {
    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.0.push(FieldError {
            field: field.to_string(),
            message: message.into(),
        });
    }

    /// Records `result`'s error under `field` and hands back its value.
    pub fn check<T>(&mut self, field: &str, result: Result<T, String>) -> Option<T> {
        match result {
            Ok(v) => Some(v),
            Err(m) => {
                self.add(field, m);
                None
            }
        }
    }

    /// An optional create field: absent, or text that validates to empty, is `None`.
    pub fn check_optional(
        &mut self,
        field: &str,
        value: Option<&str>,
        validate: impl FnOnce(&str) -> Result<String, String>,
    ) -> Option<String> {
        value
            .and_then(|v| self.check(field, validate(v)))
            .filter(|v| !v.is_empty())
    }

    /// A PATCH field that can change but not be removed: absent → `None`, `null` → an
    /// error, a value → validated.
    pub fn check_set<T>(
        &mut self,
        field: &str,
        value: &Option<Option<String>>,
        validate: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<T> {
        match value {
            None => None,
            Some(None) => {
                self.add(field, "cannot be null");
                None
            }
            Some(Some(v)) => self.check(field, validate(v)),
        }
    }

    /// A PATCH field that `null` or empty text clears: absent → `None`, cleared →
    /// `Some(None)`, a value → `Some(Some(validated))`.
    pub fn check_clearable(
        &mut self,
        field: &str,
        value: &Option<Option<String>>,
        validate: impl FnOnce(&str) -> Result<String, String>,
    ) -> Option<Option<String>> {
        match value {
            None => None,
            Some(None) => Some(None),
            Some(Some(v)) => self
                .check(field, validate(v))
                .map(|v| Some(v).filter(|v| !v.is_empty())),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

pub const MAX_EMAIL_LEN: usize = 254;
pub const MAX_NAME_LEN: usize = 100;
pub const MIN_PASSWORD_LEN: usize = 8;
/// Long passphrases are welcome (SPEC: at least 64); the cap only bounds hashing work.
pub const MAX_PASSWORD_LEN: usize = 128;

/// Emails are compared case-insensitively: the stored form is trimmed and lower-cased.
pub fn normalize_email(raw: &str) -> Result<String, String> {
    let email = raw.trim().to_lowercase();
    if email.is_empty() {
        return Err("is required".into());
    }
    if email.len() > MAX_EMAIL_LEN {
        return Err(format!("must be at most {MAX_EMAIL_LEN} characters"));
    }
    let Some((local, domain)) = email.rsplit_once('@') else {
        return Err("must be an email address".into());
    };
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local
            .chars()
            .all(|c| c.is_alphanumeric() || "!#$%&'*+/=?^_`{|}~.-".contains(c));
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_alphanumeric() || c == '-')
        });
    if local_ok && domain_ok {
        Ok(email)
    } else {
        Err("must be an email address".into())
    }
}

/// First and last names: trimmed, non-empty, no control characters.
pub fn name(raw: &str) -> Result<String, String> {
    let v = raw.trim();
    if v.is_empty() {
        return Err("is required".into());
    }
    if v.chars().count() > MAX_NAME_LEN {
        return Err(format!("must be at most {MAX_NAME_LEN} characters"));
    }
    if v.chars().any(char::is_control) {
        return Err("must not contain control characters".into());
    }
    Ok(v.to_string())
}

/// Free text with a length cap (descriptions, org and workspace names).
pub fn text(raw: &str, max_chars: usize, required: bool) -> Result<String, String> {
    let v = raw.trim();
    if required && v.is_empty() {
        return Err("is required".into());
    }
    if v.chars().count() > max_chars {
        return Err(format!("must be at most {max_chars} characters"));
    }
    if v.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err("must not contain control characters".into());
    }
    Ok(v.to_string())
}

/// A phone number in E.164: `+`, a country code not starting with 0, 8 to 15 digits in all.
/// Spaces, dashes, dots and parentheses people type are removed first.
pub fn phone_e164(raw: &str) -> Result<String, String> {
    let compact: String = raw
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')'))
        .collect();
    let digits = compact
        .strip_prefix('+')
        .ok_or("must be in E.164 format, e.g. +4930123456")?;
    if digits.len() < 8 || digits.len() > 15 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err("must be in E.164 format, e.g. +4930123456".into());
    }
    if digits.starts_with('0') {
        return Err("country code must not start with 0".into());
    }
    Ok(compact)
}

/// `country_code` (`+356`, `356`) and a national `mobile_number` joined into E.164.
pub fn phone_from_parts(country_code: &str, mobile_number: &str) -> Result<String, String> {
    // One optional `+`: `++44` is not a country code.
    let cc = country_code.trim();
    let cc = cc.strip_prefix('+').unwrap_or(cc);
    if cc.is_empty() || cc.len() > 3 || !cc.bytes().all(|b| b.is_ascii_digit()) {
        return Err("country_code must be 1 to 3 digits, e.g. +44".into());
    }
    let national: String = mobile_number
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')'))
        .collect();
    // A trunk prefix 0 is dropped in international form (+44 07700… → +447700…).
    let national = national.strip_prefix('0').unwrap_or(&national);
    phone_e164(&format!("+{cc}{national}"))
}

pub const MAX_URL_LEN: usize = 2048;

/// An absolute `https://` URL with a host (logos and other links shown to users).
pub fn https_url(raw: &str) -> Result<String, String> {
    let v = raw.trim();
    if v.len() > MAX_URL_LEN {
        return Err(format!("must be at most {MAX_URL_LEN} characters"));
    }
    match parse_https(v) {
        Some(u) => {
            // Percent-encoding can triple the length: the cap holds for what is stored.
            if u.len() > MAX_URL_LEN {
                return Err(format!("must be at most {MAX_URL_LEN} characters"));
            }
            Ok(u)
        }
        None => Err("must be an https:// URL".into()),
    }
}

/// The WHATWG serialisation of `v` when it parses as an `https:` URL with a host.
/// In the Worker the platform's `URL` parses it; on the host (unit and property tests) the
/// `url` crate, an implementation of the same standard (Cargo.toml says why).
#[cfg(target_arch = "wasm32")]
fn parse_https(v: &str) -> Option<String> {
    let u = web_sys::Url::new(v).ok()?;
    (u.protocol() == "https:" && !u.hostname().is_empty()).then(|| u.href())
}

#[cfg(not(target_arch = "wasm32"))]
fn parse_https(v: &str) -> Option<String> {
    let u = url::Url::parse(v).ok()?;
    (u.scheme() == "https" && u.host_str().is_some_and(|h| !h.is_empty())).then(|| u.into())
}

/// The passwords refused as too common: one per line, lower-cased, `#` starts a comment
/// (`common_passwords.txt`, compiled in: ~12 KB gzip of wasm).
#[derive(Clone, Copy)]
pub struct CommonPasswords<'a>(&'a str);

impl<'a> CommonPasswords<'a> {
    fn entries(self) -> impl Iterator<Item = &'a str> {
        self.0
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
    }

    pub fn contains(self, candidate: &str) -> bool {
        let lower = candidate.to_lowercase();
        self.entries().any(|l| l == lower)
    }
}

const COMMON_PASSWORDS: &str = include_str!("common_passwords.txt");

/// The list every new password is checked against.
pub fn common_passwords() -> CommonPasswords<'static> {
    CommonPasswords(COMMON_PASSWORDS)
}

#[cfg(test)]
fn is_common_password(candidate: &str) -> bool {
    common_passwords().contains(candidate)
}

/// SPEC §5 / NIST 800-63B: length 8..=128, no composition rules, common passwords refused.
pub fn password(
    candidate: &str,
    email: Option<&str>,
    common: CommonPasswords,
) -> Result<(), String> {
    let len = candidate.chars().count();
    if len < MIN_PASSWORD_LEN {
        return Err(format!("must be at least {MIN_PASSWORD_LEN} characters"));
    }
    if len > MAX_PASSWORD_LEN {
        return Err(format!("must be at most {MAX_PASSWORD_LEN} characters"));
    }
    if common.contains(candidate) {
        return Err("is too common; choose a less guessable password".into());
    }
    if let Some(email) = email {
        let local = email.split('@').next().unwrap_or_default();
        if candidate.eq_ignore_ascii_case(email)
            || (local.len() >= 8 && candidate.eq_ignore_ascii_case(local))
        {
            return Err("must not be your email address".into());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalized_and_checked() {
        assert_eq!(
            normalize_email("  Ada@Example.COM ").unwrap(),
            "ada@example.com"
        );
        assert_eq!(
            normalize_email("a.b+tag@sub.example.co").unwrap(),
            "a.b+tag@sub.example.co"
        );
        for bad in [
            "",
            "ada",
            "ada@",
            "@example.com",
            "ada@example",
            "ada@@example.com",
            "ada@exa mple.com",
            ".ada@example.com",
            "a..da@example.com",
            "ada@-example.com",
            "ada@example..com",
            "<script>@example.com",
        ] {
            assert!(normalize_email(bad).is_err(), "{bad}");
        }
        let long = format!("{}@example.com", "a".repeat(250));
        assert!(normalize_email(&long).is_err());
    }

    #[test]
    fn names() {
        assert_eq!(name("  Ada ").unwrap(), "Ada");
        assert!(name("   ").is_err());
        assert!(name(&"x".repeat(101)).is_err());
        assert!(name("a\u{0}b").is_err());
        assert_eq!(name("Zoë Ångström").unwrap(), "Zoë Ångström");
    }

    #[test]
    fn phones() {
        assert_eq!(phone_e164("+49 30 1234-5678").unwrap(), "+493012345678");
        assert!(phone_e164("030123456").is_err());
        assert!(phone_e164("+0123456789").is_err());
        assert!(phone_e164("+1234").is_err());
        assert!(phone_e164("+1234567890123456").is_err());
        assert!(phone_e164("+49abc12345").is_err());
        assert_eq!(
            phone_from_parts("+356", "7912 3456").unwrap(),
            "+35679123456"
        );
        assert_eq!(
            phone_from_parts("44", "07700 900123").unwrap(),
            "+447700900123"
        );
        assert!(phone_from_parts("+1234", "5551234").is_err());
        assert!(phone_from_parts("", "5551234").is_err());
        assert!(phone_from_parts("++44", "7700900123").is_err());
    }

    #[test]
    fn urls() {
        assert_eq!(
            https_url(" https://cdn.example.com/logo.png ").unwrap(),
            "https://cdn.example.com/logo.png"
        );
        // The same serialisation the Worker's platform URL gives (tests/orgs.test.mjs).
        assert_eq!(
            https_url(" https://CDN.Bücher.example/a b.png ").unwrap(),
            "https://cdn.xn--bcher-kva.example/a%20b.png"
        );
        for bad in [
            "http://x.example/a.png",
            "javascript:alert(1)",
            "https://",
            "logo.png",
            "data:image/png;base64,AAAA",
        ] {
            assert!(https_url(bad).is_err(), "{bad}");
        }
        assert!(https_url(&format!("https://x.example/{}", "a".repeat(2048))).is_err());
        // Under the cap as typed, over it once percent-encoded (found by proptest).
        let typed = format!("https://x.example/{}", "é".repeat(1000));
        assert!(typed.len() <= MAX_URL_LEN);
        assert!(https_url(&typed).is_err());
    }

    #[test]
    fn password_policy() {
        assert!(password("short", None, common_passwords()).is_err());
        assert!(password("password", None, common_passwords()).is_err());
        assert!(
            password("Password123", None, common_passwords()).is_err(),
            "common, case-insensitively"
        );
        assert!(password("iloveyou", None, common_passwords()).is_err());
        assert!(password("correct horse battery staple", None, common_passwords()).is_ok());
        assert!(
            password(&"x".repeat(64), None, common_passwords()).is_ok(),
            "64 characters are allowed"
        );
        assert!(password(&"x".repeat(129), None, common_passwords()).is_err());
        assert!(password(
            "ada.lovelace@example.com",
            Some("ada.lovelace@example.com"),
            common_passwords()
        )
        .is_err());
        assert!(password(
            "Ada.Lovelace",
            Some("ada.lovelace@example.com"),
            common_passwords()
        )
        .is_err());
        assert!(password("wählen-sie-ein-passwort", None, common_passwords()).is_ok());
    }

    #[test]
    fn common_list_is_loaded() {
        assert!(
            COMMON_PASSWORDS
                .lines()
                .filter(|l| !l.starts_with('#'))
                .count()
                > 3000
        );
        assert!(is_common_password("12345678"));
        assert!(is_common_password("QWERTYUIOP"));
        assert!(!is_common_password("a-much-rarer-passphrase-42"));
        // Entries are trimmed and compared in lower case; comments are not entries.
        let list = CommonPasswords("# c\n  hunter22  \n");
        assert!(list.contains("HUNTER22"));
        assert!(!list.contains("# c"));
    }

    #[test]
    fn patch_fields() {
        let mut errs = FieldErrors::default();
        let some = |v: &str| Some(Some(v.to_string()));
        assert_eq!(errs.check_set("a", &None, name), None);
        assert_eq!(
            errs.check_set("a", &some(" Ada "), name),
            Some("Ada".to_string())
        );
        assert_eq!(
            errs.check_clearable("b", &None, |d| text(d, 10, false)),
            None
        );
        assert_eq!(
            errs.check_clearable("b", &Some(None), |d| text(d, 10, false)),
            Some(None)
        );
        assert_eq!(
            errs.check_clearable("b", &some("  "), |d| text(d, 10, false)),
            Some(None)
        );
        assert_eq!(
            errs.check_clearable("b", &some("x"), |d| text(d, 10, false)),
            Some(Some("x".into()))
        );
        assert_eq!(errs.check_optional("e", None, |d| text(d, 10, false)), None);
        assert_eq!(
            errs.check_optional("e", Some(" "), |d| text(d, 10, false)),
            None
        );
        assert_eq!(
            errs.check_optional("e", Some(" x "), |d| text(d, 10, false)),
            Some("x".into())
        );
        assert!(errs.is_empty());
        assert_eq!(errs.check_set("c", &Some(None), name), None);
        assert_eq!(
            errs.check_clearable("d", &some(&"x".repeat(11)), |d| text(d, 10, false)),
            None
        );
        assert_eq!(
            errs.check_optional("f", Some(&"x".repeat(11)), |d| text(d, 10, false)),
            None
        );
        assert_eq!(
            errs.0.iter().map(|e| e.field.as_str()).collect::<Vec<_>>(),
            vec!["c", "d", "f"]
        );
    }

    #[test]
    fn field_errors_collect() {
        let mut errs = FieldErrors::default();
        assert_eq!(errs.check("a", Ok::<_, String>(1)), Some(1));
        assert_eq!(errs.check::<i32>("b", Err("bad".into())), None);
        assert_eq!(
            errs.0,
            vec![FieldError {
                field: "b".into(),
                message: "bad".into()
            }]
        );
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use proptest::prelude::*;

    /// Any text, weighted towards what breaks parsers: unicode, controls, separators.
    fn junk() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<String>(),
            "[ \t\r\n\u{0}\u{7f}\u{85}\u{a0}\u{2028}@.+()-]{0,12}",
            "\\PC{0,300}",
            "[a-zA-Z0-9@._+-]{0,80}",
        ]
    }

    /// A valid ASCII email: dot-atom local part, two or more domain labels.
    fn ascii_email() -> impl Strategy<Value = String> {
        let atom = "[a-zA-Z0-9!#$%&'*+/=?^_`{|}~-]{1,10}";
        let local = prop::collection::vec(atom, 1..4).prop_map(|v| v.join("."));
        let label = "[a-zA-Z0-9]([a-zA-Z0-9-]{0,10}[a-zA-Z0-9])?";
        let domain = prop::collection::vec(label, 2..4).prop_map(|v| v.join("."));
        (local, domain).prop_map(|(l, d)| format!("{l}@{d}"))
    }

    const SEPARATORS: [&str; 6] = ["", " ", "-", ".", "(", ")"];

    /// Joins digits with the separators people type between them.
    fn with_separators(digits: &str, seps: &[usize]) -> String {
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            out.push(c);
            out.push_str(SEPARATORS[seps.get(i).copied().unwrap_or(0) % SEPARATORS.len()]);
        }
        out
    }

    proptest! {
        #[test]
        fn email_normalization_is_idempotent_and_canonical(raw in junk()) {
            if let Ok(e) = normalize_email(&raw) {
                prop_assert_eq!(normalize_email(&e), Ok(e.clone()));
                prop_assert_eq!(e.trim(), e.as_str());
                prop_assert_eq!(e.to_lowercase(), e.clone());
                prop_assert!(!e.is_empty() && e.len() <= MAX_EMAIL_LEN);
                prop_assert_eq!(e.matches('@').count(), 1);
            }
        }

        #[test]
        fn valid_emails_are_accepted_case_and_space_insensitively(
            email in ascii_email(),
            pad in "[ \t\n]{0,3}",
        ) {
            let expected = email.to_ascii_lowercase();
            let got = normalize_email(&format!("{pad}{email}{pad}"));
            if expected.len() <= MAX_EMAIL_LEN && expected.split('@').next().unwrap().len() <= 64 {
                prop_assert_eq!(got, Ok(expected.clone()));
                prop_assert_eq!(normalize_email(&email.to_ascii_uppercase()), Ok(expected));
            } else {
                prop_assert!(got.is_err());
            }
        }

        #[test]
        fn one_defect_makes_an_email_invalid(
            email in ascii_email(),
            defect in 0usize..9,
            junk_char in "[ \"(),:;<>\\\\\\[\\]@\u{0}\u{7f}\u{301}\u{200b}]",
        ) {
            let (local, domain) = email.split_once('@').unwrap();
            let broken = match defect {
                0 => format!(".{local}@{domain}"),
                1 => format!("{local}.@{domain}"),
                2 => format!("{local}..x@{domain}"),
                3 => format!("{local}@.{domain}"),
                4 => format!("{local}@{domain}..com"),
                5 => format!("{local}@-{domain}"),
                6 => format!("{local}@{domain}-"),
                7 => format!("{local}{junk_char}x@{domain}"),
                _ => format!("{local}@{}", domain.replace('.', "")),
            };
            prop_assert!(normalize_email(&broken).is_err(), "{}", broken);
        }

        #[test]
        fn overlong_emails_are_always_rejected(email in ascii_email(), extra in 1usize..40) {
            let (local, domain) = email.split_once('@').unwrap();
            let filler = "a".repeat(MAX_EMAIL_LEN + extra - email.len().min(MAX_EMAIL_LEN));
            let long = format!("{local}@{filler}.{domain}");
            prop_assert!(long.len() > MAX_EMAIL_LEN);
            prop_assert!(normalize_email(&long).is_err());
        }

        #[test]
        fn names_are_trimmed_bounded_and_idempotent(raw in junk()) {
            if let Ok(v) = name(&raw) {
                prop_assert_eq!(name(&v), Ok(v.clone()));
                prop_assert_eq!(v.trim(), v.as_str());
                prop_assert!(!v.is_empty() && v.chars().count() <= MAX_NAME_LEN);
                prop_assert!(!v.chars().any(char::is_control));
            }
        }

        #[test]
        fn names_over_the_limit_or_with_controls_are_rejected(
            body in "[a-zA-Zéß漢]{101,140}",
            prefix in "[a-z]{1,5}",
            control in "[\u{0}-\u{8}\u{b}-\u{1f}\u{7f}-\u{9f}]",
        ) {
            prop_assert!(name(&body).is_err());
            let with_control = format!("{prefix}{control}{prefix}");
            prop_assert!(name(&with_control).is_err());
        }

        #[test]
        fn text_is_bounded_and_idempotent(raw in junk(), max in 0usize..120, required: bool) {
            match text(&raw, max, required) {
                Ok(v) => {
                    prop_assert_eq!(text(&v, max, required), Ok(v.clone()));
                    prop_assert!(v.chars().count() <= max);
                    prop_assert!(!required || !v.is_empty());
                    prop_assert!(!v.chars().any(|c| c.is_control() && c != '\n' && c != '\t'));
                }
                Err(_) => {
                    let t = raw.trim();
                    prop_assert!(
                        (required && t.is_empty())
                            || t.chars().count() > max
                            || t.chars().any(|c| c.is_control() && c != '\n' && c != '\t')
                    );
                }
            }
        }

        #[test]
        fn accepted_phones_are_e164_and_accepted_again(raw in junk()) {
            if let Ok(p) = phone_e164(&raw) {
                prop_assert_eq!(phone_e164(&p), Ok(p.clone()));
                let digits = p.strip_prefix('+').unwrap();
                prop_assert!((8..=15).contains(&digits.len()));
                prop_assert!(digits.bytes().all(|b| b.is_ascii_digit()));
                prop_assert!(!digits.starts_with('0'));
            }
        }

        #[test]
        fn typed_e164_numbers_compact_to_themselves(
            digits in "[0-9]{1,18}",
            seps in prop::collection::vec(any::<usize>(), 18),
        ) {
            let typed = format!("+{}", with_separators(&digits, &seps));
            let got = phone_e164(&typed);
            if (8..=15).contains(&digits.len()) && !digits.starts_with('0') {
                prop_assert_eq!(got, Ok(format!("+{digits}")));
            } else {
                prop_assert!(got.is_err());
            }
            prop_assert!(phone_e164(&digits).is_err(), "no leading + is never E.164");
        }

        #[test]
        fn phone_parts_join_into_valid_e164(
            cc in prop_oneof![junk(), "\\+?[0-9]{1,4}"],
            national in prop_oneof![junk(), "0?[0-9 ().-]{1,16}"],
        ) {
            if let Ok(p) = phone_from_parts(&cc, &national) {
                prop_assert_eq!(phone_e164(&p), Ok(p.clone()));
                let cc_digits = cc.trim().trim_start_matches('+');
                let expected_prefix = format!("+{cc_digits}");
                prop_assert!(p.starts_with(&expected_prefix));
            }
        }

        #[test]
        fn phone_parts_drop_one_trunk_zero(
            cc in "[1-9][0-9]{0,2}",
            trunk: bool,
            national in "[1-9][0-9]{2,13}",
            seps in prop::collection::vec(any::<usize>(), 16),
        ) {
            let typed = format!("{}{}", if trunk { "0" } else { "" }, with_separators(&national, &seps));
            let got = phone_from_parts(&format!("+{cc}"), &typed);
            let expected = format!("+{cc}{national}");
            if (9..=16).contains(&expected.len()) {
                prop_assert_eq!(got, Ok(expected));
            } else {
                prop_assert!(got.is_err());
            }
        }

        #[test]
        fn https_urls_are_idempotent_and_bounded(
            raw in prop_oneof![
                junk(),
                "(https?|ftp|HTTPS)://[a-z0-9.-]{0,20}(:[0-9]{1,5})?/[a-zA-Z0-9 %<>\"'é漢/?#.=&-]{0,60}",
            ],
        ) {
            if let Ok(u) = https_url(&raw) {
                prop_assert!(u.starts_with("https://"));
                prop_assert!(u.len() <= MAX_URL_LEN);
                prop_assert_eq!(https_url(&u), Ok(u.clone()));
            }
        }

        #[test]
        fn https_urls_near_the_limit_stay_within_it(
            path in "[a-z é\"<>漢]{600,1100}",
        ) {
            let raw = format!("https://cdn.example.com/{path}");
            if let Ok(u) = https_url(&raw) {
                prop_assert!(u.len() <= MAX_URL_LEN, "{} bytes stored", u.len());
                prop_assert_eq!(https_url(&u), Ok(u.clone()));
            }
        }

        #[test]
        fn passwords_are_judged_by_length_in_characters(pw in "\\PC{0,140}") {
            let len = pw.chars().count();
            let verdict = password(&pw, None, common_passwords());
            if !(MIN_PASSWORD_LEN..=MAX_PASSWORD_LEN).contains(&len) {
                prop_assert!(verdict.is_err());
            } else {
                prop_assert_eq!(verdict.is_ok(), !is_common_password(&pw));
            }
        }

        #[test]
        fn common_passwords_are_refused_in_any_ascii_case(
            index in any::<prop::sample::Index>(),
            flips in prop::collection::vec(any::<bool>(), 64),
        ) {
            let list: Vec<&str> = COMMON_PASSWORDS
                .lines()
                .filter(|l| !l.starts_with('#') && l.chars().count() >= MIN_PASSWORD_LEN)
                .collect();
            let listed = index.get(&list);
            let cased: String = listed
                .chars()
                .zip(flips.iter().cycle())
                .map(|(c, &up)| if up { c.to_ascii_uppercase() } else { c })
                .collect();
            prop_assert!(password(&cased, None, common_passwords()).is_err(), "{cased}");
        }

        #[test]
        fn the_email_itself_is_never_a_password(email in ascii_email(), flips in prop::collection::vec(any::<bool>(), 64)) {
            let cased: String = email
                .chars()
                .zip(flips.iter().cycle())
                .map(|(c, &up)| if up { c.to_ascii_uppercase() } else { c })
                .collect();
            let lower = email.to_ascii_lowercase();
            prop_assert!(password(&cased, Some(&lower), common_passwords()).is_err());
            let local = lower.split('@').next().unwrap();
            if local.len() >= MIN_PASSWORD_LEN {
                prop_assert!(password(&cased[..local.len()], Some(&lower), common_passwords()).is_err());
            }
        }
    }
}
