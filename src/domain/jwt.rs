//! Access tokens: EdDSA (Ed25519) JWTs with a `kid` header, verifiable by any JOSE library
//! from the JWKS alone. Keys come from a 32-byte seed; the `kid` is the RFC 7638 thumbprint.

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use ed25519_compact::{KeyPair, PublicKey, SecretKey, Seed};
use jwt_compact::alg::Ed25519;
use jwt_compact::{AlgorithmExt, Claims, Header, TimeOptions, UntrustedToken};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::ids::{SessionId, UserId};

/// The claims of our access tokens besides `iat`/`exp`, which jwt-compact handles.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    pub sub: String,
    pub sid: String,
    pub jti: String,
}

/// What a verified access token says; the session's liveness is checked separately in D1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedAccess {
    pub user_id: UserId,
    pub session_id: SessionId,
}

#[derive(Debug, PartialEq, Eq)]
pub enum KeyError {
    /// Not a base64url 32-byte seed (or 32-byte public key).
    Malformed(&'static str),
}

pub struct VerifyingKey {
    pub kid: String,
    pub key: PublicKey,
}

/// The current signing key plus older public keys kept for verification during rotation.
pub struct KeySet {
    kid: String,
    secret: SecretKey,
    verifying: Vec<VerifyingKey>,
    verified: RefCell<Verified>,
}

/// How long after `exp` a token is still accepted (clock skew between issuers and checkers).
const EXPIRY_LEEWAY_SECONDS: i64 = 30;

/// Access tokens whose signature this key set has already checked, with what they say.
///
/// The Ed25519 check is most of the CPU of an authenticated read (BENCHMARKS.md, "Where the
/// time goes"), and a client sends the same access token with every request of its
/// 15-minute life, so each token's signature is checked once per isolate. Only tokens whose
/// signature, issuer and expiry passed are kept, keyed by the whole token (another string
/// is another entry, never a match). Expiry and issuer are checked again on every use, and
/// the session is still read from D1 on every request, so logout and revocation are as
/// immediate as before. Bounded: the oldest entry goes first.
#[derive(Default)]
struct Verified {
    claims: HashMap<Box<str>, Checked>,
    order: VecDeque<Box<str>>,
}

struct Checked {
    access: VerifiedAccess,
    issuer: Box<str>,
    expires: DateTime<Utc>,
}

/// Enough for every client an isolate serves within a token's lifetime; about 0.5 MB.
const VERIFIED_CAPACITY: usize = 1024;

impl Checked {
    fn valid(&self, issuer: &str, now: DateTime<Utc>) -> bool {
        // The same rule as jwt-compact's `validate_expiration`: `exp` + leeway may equal now.
        *self.issuer == *issuer && now <= self.expires + Duration::seconds(EXPIRY_LEEWAY_SECONDS)
    }
}

impl Verified {
    fn get(&self, token: &str) -> Option<&Checked> {
        self.claims.get(token)
    }

    fn insert(&mut self, token: &str, checked: Checked) {
        if self.claims.contains_key(token) {
            return;
        }
        while self.order.len() >= VERIFIED_CAPACITY {
            if let Some(oldest) = self.order.pop_front() {
                self.claims.remove(&oldest);
            }
        }
        self.order.push_back(token.into());
        self.claims.insert(token.into(), checked);
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.claims.len()
    }
}

fn decode32(s: &str, what: &'static str) -> Result<[u8; 32], KeyError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(s.trim().trim_end_matches('='))
        .map_err(|_| KeyError::Malformed(what))?;
    bytes.try_into().map_err(|_| KeyError::Malformed(what))
}

/// RFC 7638 thumbprint of an OKP key: SHA-256 over the required members in lexical order.
pub fn thumbprint(public: &PublicKey) -> String {
    let x = URL_SAFE_NO_PAD.encode(public.as_ref());
    let canonical = format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#);
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

/// A new random seed, base64url: what `JWT_PRIVATE_KEY` holds.
pub fn generate_seed() -> String {
    let mut seed = [0u8; 32];
    super::token::fill_random(&mut seed);
    URL_SAFE_NO_PAD.encode(seed)
}

impl KeySet {
    /// `seed`: base64url 32-byte Ed25519 seed. `previous_public`: comma-separated base64url
    /// public keys of retired signing keys whose tokens may still be alive.
    pub fn from_config(seed: &str, previous_public: &str) -> Result<Self, KeyError> {
        let pair = KeyPair::from_seed(Seed::new(decode32(seed, "JWT_PRIVATE_KEY")?));
        let kid = thumbprint(&pair.pk);
        let mut verifying = vec![VerifyingKey {
            kid: kid.clone(),
            key: pair.pk,
        }];
        for item in previous_public
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            let key = PublicKey::new(decode32(item, "JWT_PREVIOUS_PUBLIC_KEYS")?);
            if key != pair.pk {
                verifying.push(VerifyingKey {
                    kid: thumbprint(&key),
                    key,
                });
            }
        }
        Ok(KeySet {
            kid,
            secret: pair.sk,
            verifying,
            verified: RefCell::default(),
        })
    }

    pub fn current_kid(&self) -> &str {
        &self.kid
    }

    pub fn sign(&self, claims: AccessClaims, issued_at: DateTime<Utc>, ttl_seconds: i64) -> String {
        let header = Header::empty()
            .with_key_id(self.kid.clone())
            .with_token_type("JWT");
        let mut c = Claims::new(claims);
        c.issued_at = Some(issued_at);
        c.expiration = Some(issued_at + Duration::seconds(ttl_seconds));
        // Signing with a valid key and serialisable claims cannot fail.
        Ed25519
            .token(&header, &c, &self.secret)
            .expect("signing an access token")
    }

    /// Checks signature, algorithm, `kid`, issuer and expiry. Every failure is the same `None`:
    /// the caller answers 401 without telling why.
    pub fn verify(&self, token: &str, issuer: &str, now: DateTime<Utc>) -> Option<VerifiedAccess> {
        if let Some(checked) = self.verified.borrow().get(token) {
            // A token seen before: its signature is settled, its time and issuer are not.
            return checked.valid(issuer, now).then(|| checked.access.clone());
        }
        let untrusted = UntrustedToken::new(token).ok()?;
        if untrusted.algorithm() != "EdDSA" {
            return None;
        }
        let kid = untrusted.header().key_id.as_deref()?;
        let key = self.verifying.iter().find(|k| k.kid == kid)?;
        let verified = Ed25519
            .validator::<AccessClaims>(&key.key)
            .validate(&untrusted)
            .ok()?;
        let claims = verified.claims();
        let options = TimeOptions::new(Duration::seconds(EXPIRY_LEEWAY_SECONDS), move || now);
        claims.validate_expiration(&options).ok()?;
        if claims.custom.iss != issuer {
            return None;
        }
        let access = VerifiedAccess {
            user_id: claims.custom.sub.parse().ok()?,
            session_id: claims.custom.sid.parse().ok()?,
        };
        let expires = claims.expiration?;
        self.verified.borrow_mut().insert(
            token,
            Checked {
                access: access.clone(),
                issuer: issuer.into(),
                expires,
            },
        );
        Some(access)
    }

    /// How many checked tokens this key set remembers.
    #[cfg(test)]
    fn remembered(&self) -> usize {
        self.verified.borrow().len()
    }

    /// The JWKS document: every key that may have signed a live token.
    pub fn jwks(&self) -> Value {
        let keys: Vec<Value> = self
            .verifying
            .iter()
            .map(|k| {
                json!({
                    "kty": "OKP",
                    "crv": "Ed25519",
                    "x": URL_SAFE_NO_PAD.encode(k.key.as_ref()),
                    "kid": k.kid,
                    "alg": "EdDSA",
                    "use": "sig",
                })
            })
            .collect();
        json!({ "keys": keys })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEED: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";

    fn claims() -> AccessClaims {
        AccessClaims {
            iss: "https://id.example".into(),
            sub: UserId::new().to_string(),
            sid: SessionId::new().to_string(),
            jti: "j1".into(),
        }
    }

    #[test]
    fn sign_and_verify_round_trip() {
        let keys = KeySet::from_config(SEED, "").unwrap();
        let now = Utc::now();
        let c = claims();
        let token = keys.sign(c.clone(), now, 900);
        let v = keys.verify(&token, "https://id.example", now).unwrap();
        assert_eq!(v.user_id.to_string(), c.sub);
        assert_eq!(v.session_id.to_string(), c.sid);
        let header: Value = serde_json::from_slice(
            &URL_SAFE_NO_PAD
                .decode(token.split('.').next().unwrap())
                .unwrap(),
        )
        .unwrap();
        assert_eq!(header["alg"], "EdDSA");
        assert_eq!(header["kid"], keys.current_kid());
    }

    #[test]
    fn expired_wrong_issuer_and_tampered_tokens_fail() {
        let keys = KeySet::from_config(SEED, "").unwrap();
        let now = Utc::now();
        let token = keys.sign(claims(), now, 900);
        assert!(keys
            .verify(&token, "https://id.example", now + Duration::seconds(931))
            .is_none());
        assert!(keys.verify(&token, "https://other.example", now).is_none());
        let mut parts: Vec<String> = token.split('.').map(String::from).collect();
        let mut payload: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&parts[1]).unwrap()).unwrap();
        payload["sub"] = json!(UserId::new().to_string());
        parts[1] = URL_SAFE_NO_PAD.encode(payload.to_string());
        assert!(keys
            .verify(&parts.join("."), "https://id.example", now)
            .is_none());
    }

    #[test]
    fn a_remembered_token_still_expires_and_keeps_its_issuer() {
        let keys = KeySet::from_config(SEED, "").unwrap();
        // Whole seconds: `exp` is carried in whole seconds.
        let now = DateTime::from_timestamp(Utc::now().timestamp(), 0).unwrap();
        let token = keys.sign(claims(), now, 900);
        let first = keys.verify(&token, "https://id.example", now).unwrap();
        assert_eq!(keys.remembered(), 1);
        // The second check is answered from memory, with the same result.
        assert_eq!(keys.verify(&token, "https://id.example", now), Some(first));
        assert_eq!(keys.remembered(), 1);
        // `exp` + 30 s is the last accepted instant, remembered or not.
        let last = now + Duration::seconds(930);
        assert!(keys.verify(&token, "https://id.example", last).is_some());
        assert!(keys
            .verify(&token, "https://id.example", last + Duration::seconds(1))
            .is_none());
        assert!(keys.verify(&token, "https://other.example", now).is_none());
        // A token differing in one character is another token: checked, and refused.
        let mut tampered = token.clone();
        let last_char = tampered.pop().unwrap();
        tampered.push(if last_char == 'A' { 'B' } else { 'A' });
        assert!(keys.verify(&tampered, "https://id.example", now).is_none());
        assert_eq!(keys.remembered(), 1);
    }

    #[test]
    fn remembered_tokens_are_bounded_oldest_first() {
        let keys = KeySet::from_config(SEED, "").unwrap();
        let now = Utc::now();
        let tokens: Vec<String> = (0..VERIFIED_CAPACITY + 3)
            .map(|_| keys.sign(claims(), now, 900))
            .collect();
        for t in &tokens {
            assert!(keys.verify(t, "https://id.example", now).is_some());
        }
        assert_eq!(keys.remembered(), VERIFIED_CAPACITY);
        // The evicted first token is simply checked again.
        assert!(keys.verify(&tokens[0], "https://id.example", now).is_some());
        assert_eq!(keys.remembered(), VERIFIED_CAPACITY);
    }

    #[test]
    fn alg_none_and_unknown_kid_fail() {
        let keys = KeySet::from_config(SEED, "").unwrap();
        let now = Utc::now();
        let token = keys.sign(claims(), now, 900);
        let payload = token.split('.').nth(1).unwrap();
        let none_header = URL_SAFE_NO_PAD.encode(format!(
            r#"{{"alg":"none","kid":"{}"}}"#,
            keys.current_kid()
        ));
        assert!(keys
            .verify(
                &format!("{none_header}.{payload}."),
                "https://id.example",
                now
            )
            .is_none());
        let other = KeySet::from_config(&generate_seed(), "").unwrap();
        let foreign = other.sign(claims(), now, 900);
        assert!(keys.verify(&foreign, "https://id.example", now).is_none());
        assert!(keys.verify("garbage", "https://id.example", now).is_none());
    }

    #[test]
    fn rotation_keeps_previous_keys_verifying() {
        let old = KeySet::from_config(SEED, "").unwrap();
        let now = Utc::now();
        let old_token = old.sign(claims(), now, 900);
        let old_public = old.jwks()["keys"][0]["x"].as_str().unwrap().to_string();
        let new = KeySet::from_config(&generate_seed(), &old_public).unwrap();
        assert_eq!(new.jwks()["keys"].as_array().unwrap().len(), 2);
        assert!(new.verify(&old_token, "https://id.example", now).is_some());
        assert_ne!(new.current_kid(), old.current_kid());
    }

    #[test]
    fn malformed_keys_are_reported_by_name() {
        assert_eq!(
            KeySet::from_config("short", "").err(),
            Some(KeyError::Malformed("JWT_PRIVATE_KEY"))
        );
        assert_eq!(
            KeySet::from_config(SEED, "nope").err(),
            Some(KeyError::Malformed("JWT_PREVIOUS_PUBLIC_KEYS"))
        );
    }

    #[test]
    fn thumbprint_matches_rfc8037_example() {
        // RFC 8037 appendix A.3.
        let x = URL_SAFE_NO_PAD
            .decode("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo")
            .unwrap();
        let pk = PublicKey::from_slice(&x).unwrap();
        assert_eq!(
            thumbprint(&pk),
            "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
        );
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;

    const SEED: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";
    const ISSUER: &str = "https://id.example";

    fn keys() -> KeySet {
        KeySet::from_config(SEED, "").unwrap()
    }

    fn at(seconds: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(seconds, 0).unwrap()
    }

    fn claims(sub: u128, sid: u128, iss: &str) -> AccessClaims {
        AccessClaims {
            iss: iss.into(),
            sub: UserId(uuid::Uuid::from_u128(sub)).to_string(),
            sid: SessionId(uuid::Uuid::from_u128(sid)).to_string(),
            jti: "j".into(),
        }
    }

    /// Three dot-separated base64url parts around JSON our keys would look at, with our
    /// `kid` and algorithm some of the time: structurally plausible forgeries.
    fn forged() -> impl Strategy<Value = String> {
        let kid = keys().current_kid().to_string();
        let header = prop_oneof![
            Just(format!(r#"{{"alg":"EdDSA","kid":"{kid}","typ":"JWT"}}"#)),
            Just(format!(r#"{{"alg":"none","kid":"{kid}"}}"#)),
            Just(format!(r#"{{"alg":"HS256","kid":"{kid}"}}"#)),
            "\\PC{0,40}",
        ];
        let payload = prop_oneof![
            (any::<u128>(), any::<u128>(), any::<u32>()).prop_map(|(s, i, exp)| format!(
                r#"{{"iss":"{ISSUER}","sub":"{}","sid":"{}","jti":"j","exp":{exp}}}"#,
                uuid::Uuid::from_u128(s),
                uuid::Uuid::from_u128(i)
            )),
            "\\PC{0,60}",
        ];
        let sig = prop_oneof![
            prop::collection::vec(any::<u8>(), 64),
            prop::collection::vec(any::<u8>(), 0..100),
        ];
        (header, payload, sig).prop_map(|(h, p, s)| {
            format!(
                "{}.{}.{}",
                URL_SAFE_NO_PAD.encode(h),
                URL_SAFE_NO_PAD.encode(p),
                URL_SAFE_NO_PAD.encode(s)
            )
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        #[test]
        fn arbitrary_strings_never_verify(
            token in prop_oneof![any::<String>(), "[A-Za-z0-9_.-]{0,300}", forged()],
            now in 0i64..4_000_000_000,
        ) {
            prop_assert_eq!(keys().verify(&token, ISSUER, at(now)), None);
        }

        #[test]
        fn signed_tokens_verify_to_their_ids_until_expiry(
            sub: u128,
            sid: u128,
            iss in "\\PC{0,40}",
            issued in 0i64..4_000_000_000,
            ttl in 1i64..100_000,
            elapsed in 0i64..200_000,
            near_expiry in prop::option::of(-2i64..3),
        ) {
            // Half the time right at the end of the 30 s skew allowance.
            let elapsed = near_expiry.map_or(elapsed, |d| ttl + 30 + d);
            let keys = keys();
            let token = keys.sign(claims(sub, sid, &iss), at(issued), ttl);
            let now = at(issued + elapsed);
            let got = keys.verify(&token, &iss, now);
            // jwt-compact allows 30 s of clock skew past `exp`.
            if elapsed <= ttl + 30 {
                let v = got.unwrap();
                prop_assert_eq!(v.user_id.0.as_u128(), sub);
                prop_assert_eq!(v.session_id.0.as_u128(), sid);
            } else {
                prop_assert_eq!(got, None);
            }
            let other_issuer = format!("{iss}x");
            prop_assert_eq!(keys.verify(&token, &other_issuer, at(issued)), None);
        }

        #[test]
        fn remembered_answers_equal_fresh_answers(
            sub: u128,
            sid: u128,
            ttl in 1i64..1_000,
            checks in prop::collection::vec((0i64..1_100, any::<bool>()), 1..8),
        ) {
            // One key set answers a sequence of checks (from memory after the first valid
            // one); a fresh key set per check always verifies the signature. Same answers.
            let issued = 1_700_000_000;
            let remembering = keys();
            let token = remembering.sign(claims(sub, sid, ISSUER), at(issued), ttl);
            for (elapsed, own_issuer) in checks {
                let iss = if own_issuer { ISSUER } else { "https://other.example" };
                let now = at(issued + elapsed);
                prop_assert_eq!(remembering.verify(&token, iss, now), keys().verify(&token, iss, now));
            }
        }

        #[test]
        fn a_token_changed_anywhere_never_verifies(
            sub: u128,
            sid: u128,
            at_index in any::<prop::sample::Index>(),
            replacement in "[A-Za-z0-9_.=+/ -]",
        ) {
            let keys = keys();
            let issued = Utc::now();
            let token = keys.sign(claims(sub, sid, ISSUER), issued, 900);
            let i = at_index.index(token.len());
            prop_assume!(token[i..i + 1] != replacement);
            let mut changed = token.clone();
            changed.replace_range(i..i + 1, &replacement);
            prop_assert_eq!(keys.verify(&changed, ISSUER, issued), None, "{}", changed);
            prop_assert_eq!(keys.verify(&token[..i], ISSUER, issued), None);
        }

        #[test]
        fn foreign_keys_tokens_never_verify(seed: [u8; 32], sub: u128, sid: u128) {
            let foreign = KeySet::from_config(&URL_SAFE_NO_PAD.encode(seed), "").unwrap();
            prop_assume!(foreign.current_kid() != keys().current_kid());
            let now = Utc::now();
            let token = foreign.sign(claims(sub, sid, ISSUER), now, 900);
            prop_assert!(foreign.verify(&token, ISSUER, now).is_some());
            prop_assert_eq!(keys().verify(&token, ISSUER, now), None);
        }

        #[test]
        fn key_configuration_parses_or_is_reported(
            seed in prop_oneof![any::<String>(), "[A-Za-z0-9_-]{42,44}=?"],
            previous in prop_oneof![any::<String>(), "([A-Za-z0-9_-]{43}, ?){0,3}"],
        ) {
            match KeySet::from_config(&seed, &previous) {
                Ok(k) => {
                    let jwks = k.jwks();
                    let listed = jwks["keys"].as_array().unwrap();
                    prop_assert!(!listed.is_empty());
                    prop_assert_eq!(listed[0]["kid"].as_str(), Some(k.current_kid()));
                }
                Err(KeyError::Malformed(what)) => {
                    prop_assert!(what == "JWT_PRIVATE_KEY" || what == "JWT_PREVIOUS_PUBLIC_KEYS");
                }
            }
        }
    }
}
