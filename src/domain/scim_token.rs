//! SCIM tokens: the credential of an org's provisioning client (Okta, Entra ID). Told apart
//! from API tokens and JWTs by its prefix, so it is looked up as what it is and nothing else.

use super::token::{looks_like_secret, new_secret};

pub const PREFIX: &str = "umscim_";

/// A new token as handed out once: the prefix and 256 random bits.
pub fn new_token() -> String {
    format!("{PREFIX}{}", new_secret())
}

/// Whether a bearer credential is meant as a SCIM token.
pub fn is_scim_token(bearer: &str) -> bool {
    bearer.starts_with(PREFIX)
}

/// Whether it could be one of ours at all: junk is refused before a lookup.
pub fn well_formed(bearer: &str) -> bool {
    bearer.strip_prefix(PREFIX).is_some_and(looks_like_secret)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::api_token;

    #[test]
    fn scim_tokens_are_told_from_api_tokens_and_jwts() {
        let t = new_token();
        assert!(is_scim_token(&t) && well_formed(&t));
        assert!(!api_token::is_api_token(&t));
        assert!(!is_scim_token(&api_token::new_token()));
        assert!(!well_formed("umscim_short"));
        assert!(!well_formed(&format!("{t}x")));
        assert!(!is_scim_token("eyJhbGciOiJFZERTQSJ9.e30.sig"));
    }
}
