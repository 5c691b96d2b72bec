//! Password hashing: PBKDF2 in PHC string format at OWASP 2023 strength.
//!
//! PBKDF2-HMAC-SHA512 with 210,000 iterations costs the least CPU in wasm for the strength
//! OWASP asks (BENCHMARKS.md compares it with SHA-256 at 600,000). Stored hashes with weaker
//! parameters keep verifying and are re-hashed at the next successful login.

use pbkdf2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use pbkdf2::{Algorithm, Params, Pbkdf2};

pub const ITERATIONS: u32 = 210_000;
pub const ALGORITHM: Algorithm = Algorithm::Pbkdf2Sha512;
const OUTPUT_LEN: usize = 32;

/// Verified against when the email is unknown, so that an unknown email costs the same
/// time as a wrong password. It matches no password (the digest is arbitrary).
pub const DUMMY_HASH: &str = "$pbkdf2-sha512$i=210000,l=32$c2FsdHNhbHRzYWx0c2FsdA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

#[derive(Debug)]
pub struct HashError;

pub fn hash(password: &str) -> Result<String, HashError> {
    hash_with(password, ALGORITHM, ITERATIONS)
}

pub fn hash_with(password: &str, alg: Algorithm, rounds: u32) -> Result<String, HashError> {
    let mut salt = [0u8; 16];
    super::token::fill_random(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|_| HashError)?;
    let params = Params {
        rounds,
        output_length: OUTPUT_LEN,
    };
    Pbkdf2
        .hash_password_customized(password.as_bytes(), Some(alg.ident()), None, params, &salt)
        .map(|h| h.to_string())
        .map_err(|_| HashError)
}

/// The outcome of checking a password against a stored PHC string.
#[derive(Debug, PartialEq, Eq)]
pub enum Verification {
    Mismatch,
    Match,
    /// Right password, stored with weaker parameters than today's: store a new hash.
    MatchNeedsRehash,
}

pub fn verify(password: &str, stored: &str) -> Verification {
    let Ok(parsed) = PasswordHash::new(stored) else {
        return Verification::Mismatch;
    };
    if Pbkdf2
        .verify_password(password.as_bytes(), &parsed)
        .is_err()
    {
        return Verification::Mismatch;
    }
    let current = parsed.algorithm == ALGORITHM.ident()
        && Params::try_from(&parsed).is_ok_and(|p| p.rounds >= ITERATIONS);
    if current {
        Verification::Match
    } else {
        Verification::MatchNeedsRehash
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_phc_strings_at_owasp_strength() {
        let h = hash("correct horse battery staple").unwrap();
        assert!(h.starts_with("$pbkdf2-sha512$i=210000,l=32$"), "{h}");
        assert_eq!(
            verify("correct horse battery staple", &h),
            Verification::Match
        );
        assert_eq!(
            verify("wrong horse battery staple", &h),
            Verification::Mismatch
        );
        assert_ne!(h, hash("correct horse battery staple").unwrap(), "salted");
    }

    #[test]
    fn weaker_parameters_verify_and_ask_for_a_rehash() {
        let old = hash_with("pa55-word-old", Algorithm::Pbkdf2Sha256, 1_000).unwrap();
        assert_eq!(
            verify("pa55-word-old", &old),
            Verification::MatchNeedsRehash
        );
        assert_eq!(verify("nope-nope", &old), Verification::Mismatch);
        let few = hash_with("pa55-word-old", Algorithm::Pbkdf2Sha512, 1_000).unwrap();
        assert_eq!(
            verify("pa55-word-old", &few),
            Verification::MatchNeedsRehash
        );
    }

    #[test]
    fn garbage_and_the_dummy_never_match() {
        assert_eq!(verify("x", "not a phc string"), Verification::Mismatch);
        assert_eq!(verify("", ""), Verification::Mismatch);
        assert!(
            PasswordHash::new(DUMMY_HASH).is_ok(),
            "dummy must parse, or it would be cheap"
        );
        assert_eq!(verify("anything", DUMMY_HASH), Verification::Mismatch);
    }
}
