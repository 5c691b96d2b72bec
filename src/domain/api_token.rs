//! API tokens: long-lived secrets for machines, scoped to one org. What a token may be
//! created with, how it acts inside the org, and its lifecycle, all pure.

use super::roles::{OrgRole, WorkspaceRole};
use super::time::Timestamp;
use super::token::{looks_like_secret, new_secret};

/// API tokens carry a prefix, so that a bearer credential is told apart from a JWT without
/// parsing it and a leaked token is recognisable to secret scanners.
pub const PREFIX: &str = "umt_";

/// A new token as handed out once: the prefix and 256 random bits.
pub fn new_token() -> String {
    format!("{PREFIX}{}", new_secret())
}

/// Whether a bearer credential is meant as an API token (then it is never tried as a JWT).
pub fn is_api_token(bearer: &str) -> bool {
    bearer.starts_with(PREFIX)
}

/// Whether it could be one of ours at all: junk is refused before a lookup.
pub fn well_formed(bearer: &str) -> bool {
    bearer.strip_prefix(PREFIX).is_some_and(looks_like_secret)
}

/// The roles a token may hold: never `owner` (ownership stays with a person) and never the
/// workspace-only `member` (a workspace list expresses that).
pub fn parse_role(s: &str) -> Option<OrgRole> {
    creatable_role(OrgRole::parse(s)?)
}

/// `role` if a token may hold it (a stored token's role is re-checked as it is read).
pub fn creatable_role(role: OrgRole) -> Option<OrgRole> {
    match role {
        r @ (OrgRole::Admin | OrgRole::Editor | OrgRole::Viewer) => Some(r),
        OrgRole::Owner | OrgRole::Member => None,
    }
}

/// How a token acts in its org. Without a workspace list it holds its role across the org,
/// like a member of that role. With one it acts like a workspace-only `member` holding the
/// matching workspace role in each listed workspace, so org-level actions are out of reach
/// and every workspace rule applies unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Acting {
    pub org_role: OrgRole,
    /// The explicit workspace role in each listed workspace (scoped tokens only).
    pub listed_workspace_role: Option<WorkspaceRole>,
}

pub fn acting(role: OrgRole, scoped: bool) -> Acting {
    if scoped {
        Acting {
            org_role: OrgRole::Member,
            listed_workspace_role: role.inherited_workspace_role(),
        }
    } else {
        Acting {
            org_role: role,
            listed_workspace_role: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Active,
    Expired,
    Revoked,
}

impl Status {
    pub fn of(revoked_at: Option<i64>, expires_at: Option<i64>, now: Timestamp) -> Self {
        if revoked_at.is_some() {
            Status::Revoked
        } else if expires_at.is_some_and(|e| e <= now.millis()) {
            Status::Expired
        } else {
            Status::Active
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Active => "active",
            Status::Expired => "expired",
            Status::Revoked => "revoked",
        }
    }
}

/// The longest a token may be made to live, when it expires at all.
pub const MAX_LIFETIME_DAYS: i64 = 3650;

/// `expires_at` as asked for: RFC 3339, in the future, within `MAX_LIFETIME_DAYS`.
pub fn parse_expiry(raw: &str, now: Timestamp) -> Result<Timestamp, String> {
    let at =
        Timestamp::parse_rfc3339(raw).ok_or_else(|| "must be an RFC 3339 date-time".to_string())?;
    if at <= now {
        return Err("must be in the future".into());
    }
    if at.millis() - now.millis() > MAX_LIFETIME_DAYS * 86_400_000 {
        return Err(format!(
            "must be at most {MAX_LIFETIME_DAYS} days away (omit it for no expiry)"
        ));
    }
    Ok(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_prefixed_secrets() {
        let t = new_token();
        assert!(is_api_token(&t) && well_formed(&t));
        assert_eq!(t.len(), PREFIX.len() + 43);
        assert_ne!(t, new_token());
        assert!(is_api_token("umt_junk") && !well_formed("umt_junk"));
        assert!(!is_api_token("eyJhbGciOiJFZERTQSJ9.e30.sig"));
        assert!(!well_formed(&t[PREFIX.len()..]));
        assert!(!well_formed(&format!("{t}x")));
    }

    #[test]
    fn token_roles_exclude_owner_and_member() {
        assert_eq!(parse_role("admin"), Some(OrgRole::Admin));
        assert_eq!(parse_role("editor"), Some(OrgRole::Editor));
        assert_eq!(parse_role("viewer"), Some(OrgRole::Viewer));
        assert_eq!(parse_role("owner"), None);
        assert_eq!(parse_role("member"), None);
        assert_eq!(parse_role("Admin"), None);
    }

    #[test]
    fn an_org_wide_token_acts_with_its_role_a_scoped_one_as_a_workspace_member() {
        assert_eq!(
            acting(OrgRole::Editor, false),
            Acting {
                org_role: OrgRole::Editor,
                listed_workspace_role: None
            }
        );
        for (role, ws) in [
            (OrgRole::Admin, WorkspaceRole::Admin),
            (OrgRole::Editor, WorkspaceRole::Editor),
            (OrgRole::Viewer, WorkspaceRole::Viewer),
        ] {
            assert_eq!(
                acting(role, true),
                Acting {
                    org_role: OrgRole::Member,
                    listed_workspace_role: Some(ws)
                }
            );
        }
    }

    #[test]
    fn status_revoked_wins_then_expiry() {
        let now = Timestamp(1_000_000);
        assert_eq!(Status::of(None, None, now), Status::Active);
        assert_eq!(Status::of(None, Some(1_000_001), now), Status::Active);
        assert_eq!(Status::of(None, Some(1_000_000), now), Status::Expired);
        assert_eq!(Status::of(Some(5), Some(1_000_001), now), Status::Revoked);
        assert_eq!(Status::of(Some(5), None, now).as_str(), "revoked");
    }

    #[test]
    fn expiry_must_be_future_rfc3339_within_ten_years() {
        let now = Timestamp::parse_rfc3339("2026-01-01T00:00:00Z").unwrap();
        assert!(parse_expiry("2026-01-02T00:00:00Z", now).is_ok());
        assert!(parse_expiry("2035-12-29T00:00:00Z", now).is_ok());
        assert_eq!(
            parse_expiry("2025-12-31T23:59:59Z", now).unwrap_err(),
            "must be in the future"
        );
        assert!(parse_expiry("2026-01-01T00:00:00Z", now).is_err());
        assert!(parse_expiry("2036-01-02T00:00:00Z", now)
            .unwrap_err()
            .contains("3650 days"));
        assert!(parse_expiry("tomorrow", now).is_err());
        assert!(parse_expiry("", now).is_err());
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn well_formed_is_the_prefix_and_a_secret(s in prop_oneof![
            any::<String>(),
            "umt_[A-Za-z0-9_-]{41,45}",
            "[uU][mM][tT][_-][A-Za-z0-9_-]{43}",
        ]) {
            let expected = s.strip_prefix(PREFIX).is_some_and(|rest| {
                rest.len() == 43
                    && rest.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            });
            prop_assert_eq!(well_formed(&s), expected);
            prop_assert_eq!(is_api_token(&s), s.starts_with("umt_"));
            prop_assert!(!well_formed(&s) || is_api_token(&s));
        }

        #[test]
        fn new_tokens_are_well_formed_and_mutations_are_not(
            at in any::<prop::sample::Index>(),
            bad in any::<char>().prop_filter("outside base64url", |c| {
                !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            }),
        ) {
            let t = new_token();
            prop_assert!(is_api_token(&t) && well_formed(&t));
            // Any one position, prefix included.
            let i = at.index(t.len());
            let mut changed = t.clone();
            changed.replace_range(i..i + 1, bad.encode_utf8(&mut [0; 4]));
            prop_assert!(!well_formed(&changed), "{changed:?}");
            let mut shorter = t.clone();
            shorter.remove(i);
            prop_assert!(!well_formed(&shorter));
            let longer = format!("{t}A");
            prop_assert!(!well_formed(&longer));
            prop_assert!(!well_formed(&t[PREFIX.len()..]));
        }

        #[test]
        fn token_roles_are_exactly_admin_editor_viewer(s in prop_oneof![
            any::<String>(),
            "(owner|admin|editor|viewer|member)",
            "[ ]?(Owner|ADMIN|Editor|viewer |member)",
        ]) {
            match parse_role(&s) {
                Some(r) => {
                    prop_assert!(matches!(r, OrgRole::Admin | OrgRole::Editor | OrgRole::Viewer));
                    prop_assert_eq!(r.as_str(), s.as_str());
                }
                None => prop_assert!(!matches!(s.as_str(), "admin" | "editor" | "viewer")),
            }
        }

        #[test]
        fn expiry_is_accepted_exactly_within_the_window(
            now in 0i64..4_102_444_800_000,
            offset in prop_oneof![
                -1i64..=1,
                -10_000i64..10_000,
                -400_000_000_000i64..400_000_000_000,
                MAX_LIFETIME_DAYS * 86_400_000 - 5..MAX_LIFETIME_DAYS * 86_400_000 + 5,
            ],
        ) {
            let now = Timestamp(now);
            let at = Timestamp(now.millis() + offset);
            let got = parse_expiry(&at.to_rfc3339(), now);
            if offset > 0 && offset <= MAX_LIFETIME_DAYS * 86_400_000 {
                prop_assert_eq!(got, Ok(at));
            } else {
                prop_assert!(got.is_err());
            }
        }

        #[test]
        fn junk_expiry_is_an_error_not_a_panic(raw in any::<String>(), now in any::<i32>()) {
            let now = Timestamp(1_700_000_000_000 + i64::from(now));
            if let Ok(at) = parse_expiry(&raw, now) {
                prop_assert!(at > now);
                prop_assert_eq!(Timestamp::parse_rfc3339(&raw), Some(at));
            }
        }
    }
}
