//! Opaque secret tokens (refresh, activation, reset, verification): 256 random bits,
//! URL-safe, and stored only as their SHA-256 so a database leak yields nothing usable.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};

/// Fills `buf` from the platform CSPRNG (Web Crypto in the Worker).
pub fn fill_random(buf: &mut [u8]) {
    // The CSPRNG failing is not a request-driven condition; nothing sane can continue.
    getrandom::fill(buf).expect("CSPRNG unavailable");
}

/// A new secret as handed to the user: 32 random bytes, base64url without padding (43 chars).
pub fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    fill_random(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Characters of generated passwords: no look-alikes (0/O, 1/l/I), so one can be read out.
const PASSWORD_ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";

/// A generated single-use password: 16 characters, about 93 bits.
pub fn generate_password() -> String {
    let mut out = String::with_capacity(16);
    while out.len() < 16 {
        let mut byte = [0u8; 1];
        fill_random(&mut byte);
        // Rejection sampling: only bytes below a multiple of the alphabet size, no bias.
        let n = PASSWORD_ALPHABET.len();
        if (byte[0] as usize) < 256 - 256 % n {
            out.push(PASSWORD_ALPHABET[byte[0] as usize % n] as char);
        }
    }
    out
}

/// What the database keeps of a secret.
pub fn hash_secret(secret: &str) -> String {
    hex(&Sha256::digest(secret.as_bytes()))
}

/// Whether a presented string could be one of our secrets at all: rejects junk before a lookup.
pub fn looks_like_secret(s: &str) -> bool {
    s.len() == 43
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[(b >> 4) as usize] as char);
        out.push(DIGITS[(b & 15) as usize] as char);
    }
    out
}

/// Compares a presented secret with the expected one in time independent of where they
/// differ (both are hashed first, so lengths leak nothing either).
pub fn secrets_equal(presented: &str, expected: &str) -> bool {
    let a = Sha256::digest(presented.as_bytes());
    let b = Sha256::digest(expected.as_bytes());
    a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

/// What an emailed single-use token is for; a token of one purpose never works for another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenPurpose {
    Activation,
    PasswordReset,
    EmailVerification,
    PasswordChange,
}

impl TokenPurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenPurpose::Activation => "activation",
            TokenPurpose::PasswordReset => "password_reset",
            TokenPurpose::EmailVerification => "email_verification",
            TokenPurpose::PasswordChange => "password_change",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_43_url_safe_chars_and_distinct() {
        let a = new_secret();
        let b = new_secret();
        assert!(looks_like_secret(&a));
        assert_ne!(a, b);
        assert_eq!(URL_SAFE_NO_PAD.decode(&a).unwrap().len(), 32);
    }

    #[test]
    fn generated_passwords_are_long_and_unambiguous() {
        let p = generate_password();
        assert_eq!(p.len(), 16);
        assert!(p.bytes().all(|b| PASSWORD_ALPHABET.contains(&b)));
        assert!(!p.contains(['0', 'O', '1', 'l', 'I']));
        assert_ne!(p, generate_password());
        assert!(crate::domain::validation::password(
            &p,
            None,
            crate::domain::validation::common_passwords()
        )
        .is_ok());
    }

    #[test]
    fn secret_comparison() {
        assert!(secrets_equal("operator-secret", "operator-secret"));
        assert!(!secrets_equal("operator-secret", "operator-secreT"));
        assert!(!secrets_equal("", "operator-secret"));
    }

    #[test]
    fn hashes_are_sha256_hex() {
        assert_eq!(
            hash_secret("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn junk_is_not_a_secret() {
        assert!(!looks_like_secret(""));
        assert!(!looks_like_secret(&"a".repeat(44)));
        assert!(!looks_like_secret(&format!("{}=", "a".repeat(42))));
        assert!(!looks_like_secret(&"é".repeat(20)));
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use proptest::prelude::*;

    /// The specification `looks_like_secret` implements, written independently.
    fn is_b64url_43(s: &str) -> bool {
        s.chars().count() == 43
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    }

    /// Characters outside the base64url alphabet, including multi-byte ones.
    fn non_alphabet_char() -> impl Strategy<Value = char> {
        any::<char>().prop_filter("outside base64url", |c| {
            !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        })
    }

    proptest! {
        #[test]
        fn looks_like_secret_matches_its_specification(
            s in prop_oneof![any::<String>(), "[A-Za-z0-9_=+/.-]{40,46}", "[A-Za-z0-9_-]{43}"],
        ) {
            prop_assert_eq!(looks_like_secret(&s), is_b64url_43(&s));
        }

        #[test]
        fn fresh_secrets_are_well_formed_and_their_mutations_are_not(
            at in any::<prop::sample::Index>(),
            bad in non_alphabet_char(),
            extra in "[A-Za-z0-9_-]",
        ) {
            let secret = new_secret();
            prop_assert!(looks_like_secret(&secret));
            prop_assert_eq!(URL_SAFE_NO_PAD.decode(&secret).map(|b| b.len()), Ok(32));
            let i = at.index(secret.len());
            let mut changed = secret.clone();
            changed.replace_range(i..i + 1, bad.encode_utf8(&mut [0; 4]));
            prop_assert!(!looks_like_secret(&changed), "{changed:?}");
            let mut shorter = secret.clone();
            shorter.remove(i);
            prop_assert!(!looks_like_secret(&shorter));
            let mut longer = secret.clone();
            longer.insert_str(i, &extra);
            prop_assert!(!looks_like_secret(&longer));
        }

        #[test]
        fn hashes_are_deterministic_hex_and_distinguish_secrets(a in any::<String>(), b in any::<String>()) {
            let ha = hash_secret(&a);
            prop_assert_eq!(ha.len(), 64);
            prop_assert!(ha.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')));
            prop_assert_eq!(&ha, &hash_secret(&a));
            prop_assert_eq!(ha == hash_secret(&b), a == b);
        }

        #[test]
        fn hex_encodes_every_byte_reversibly(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
            let h = hex(&bytes);
            prop_assert_eq!(h.len(), bytes.len() * 2);
            let back: Vec<u8> = (0..h.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&h[i..i + 2], 16).unwrap())
                .collect();
            prop_assert_eq!(back, bytes);
        }

        #[test]
        fn secret_comparison_is_equality(a in "\\PC{0,50}", b in "\\PC{0,50}") {
            prop_assert_eq!(secrets_equal(&a, &b), a == b);
            prop_assert!(secrets_equal(&a, &a.clone()));
        }

        #[test]
        fn generated_passwords_pass_the_policy(_run in 0..64u8) {
            let p = generate_password();
            prop_assert_eq!(p.len(), 16);
            prop_assert!(p.bytes().all(|b| PASSWORD_ALPHABET.contains(&b)));
            prop_assert!(crate::domain::validation::password(&p, None, crate::domain::validation::common_passwords()).is_ok());
        }
    }
}
