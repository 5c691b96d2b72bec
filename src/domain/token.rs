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
        assert!(crate::domain::validation::password(&p, None).is_ok());
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
