//! The platform's WebCrypto: ID token signatures (RSASSA-PKCS1-v1_5 and ECDSA P-256 with
//! SHA-256, keys imported from the provider's JWKS) and the client secret's AES-256-GCM.
//! Nothing here is a hand-written primitive; the end-to-end tests sign with `jose` and an
//! OpenID provider and check the Worker agrees.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Serialize;
use serde_json::{json, Value};
use worker::js_sys::{self, Object, Uint8Array};
use worker::wasm_bindgen::{JsCast, JsValue};
use worker::wasm_bindgen_futures::JsFuture;
use worker::web_sys::{CryptoKey, SubtleCrypto};

use crate::domain::token::fill_random;

fn subtle() -> Result<SubtleCrypto, String> {
    let crypto = js_sys::Reflect::get(&js_sys::global(), &JsValue::from_str("crypto"))
        .map_err(|_| "WebCrypto is not available".to_string())?;
    Ok(crypto.unchecked_into::<worker::web_sys::Crypto>().subtle())
}

/// A JSON value as a plain JS object (not a `Map`, which WebCrypto would not read).
fn js(value: &Value) -> Result<Object, String> {
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map(|v| v.unchecked_into::<Object>())
        .map_err(|e| e.to_string())
}

async fn settle(promise: Result<js_sys::Promise, JsValue>, what: &str) -> Result<JsValue, String> {
    let promise = promise.map_err(|e| format!("{what}: {e:?}"))?;
    JsFuture::from(promise)
        .await
        .map_err(|e| format!("{what}: {}", describe(&e)))
}

fn describe(e: &JsValue) -> String {
    js_sys::Reflect::get(e, &JsValue::from_str("message"))
        .ok()
        .and_then(|m| m.as_string())
        .unwrap_or_else(|| format!("{e:?}"))
}

/// Whether `signature` over `signing_input` verifies with the provider's key `jwk` under
/// `alg` (RS256 or ES256; `domain::sso::parse_jws` refuses every other). Only the key's
/// material is imported, so a JWK's `alg`, `use` or `key_ops` never widen what it may do.
pub async fn verify(
    alg: &str,
    jwk: &Value,
    signing_input: &[u8],
    signature: &[u8],
) -> Result<bool, String> {
    let s = |name: &str| jwk.get(name).cloned().unwrap_or(Value::Null);
    let (material, import, verify) = match alg {
        "RS256" => (
            json!({"kty": "RSA", "n": s("n"), "e": s("e")}),
            json!({"name": "RSASSA-PKCS1-v1_5", "hash": "SHA-256"}),
            json!({"name": "RSASSA-PKCS1-v1_5"}),
        ),
        "ES256" => (
            json!({"kty": "EC", "crv": "P-256", "x": s("x"), "y": s("y")}),
            json!({"name": "ECDSA", "namedCurve": "P-256"}),
            json!({"name": "ECDSA", "hash": "SHA-256"}),
        ),
        other => return Err(format!("{other} is not an accepted algorithm")),
    };
    if alg == "ES256" && signature.len() != 64 {
        return Ok(false);
    }
    let subtle = subtle()?;
    let usages = js_sys::Array::of1(&JsValue::from_str("verify"));
    let key: CryptoKey = settle(
        subtle.import_key_with_object("jwk", &js(&material)?, &js(&import)?, false, &usages),
        "the provider's key does not import",
    )
    .await?
    .unchecked_into();
    let ok = settle(
        subtle.verify_with_object_and_u8_array_and_u8_array(
            &js(&verify)?,
            &key,
            signature,
            signing_input,
        ),
        "signature check",
    )
    .await?;
    Ok(ok.as_bool() == Some(true))
}

async fn aes_key(key: &[u8; 32], usage: &str) -> Result<CryptoKey, String> {
    let subtle = subtle()?;
    let raw: Object = Uint8Array::from(&key[..]).into();
    let usages = js_sys::Array::of1(&JsValue::from_str(usage));
    Ok(settle(
        subtle.import_key_with_object(
            "raw",
            &raw,
            &js(&json!({"name": "AES-GCM"}))?,
            false,
            &usages,
        ),
        "the SSO encryption key does not import",
    )
    .await?
    .unchecked_into())
}

fn gcm(iv: &[u8], bound_to: &str) -> Result<Object, String> {
    let params = js(&json!({"name": "AES-GCM"}))?;
    let set = |k: &str, v: &JsValue| {
        js_sys::Reflect::set(&params, &JsValue::from_str(k), v).map_err(|e| format!("{e:?}"))
    };
    set("iv", &Uint8Array::from(iv).into())?;
    set(
        "additionalData",
        &Uint8Array::from(bound_to.as_bytes()).into(),
    )?;
    Ok(params)
}

/// `plaintext` encrypted with AES-256-GCM under `key`, bound to `bound_to` (the connection's
/// id, as additional data: a ciphertext copied onto another row does not decrypt), as
/// base64url of the 12-byte IV followed by the ciphertext and tag.
pub async fn encrypt(key: &[u8; 32], bound_to: &str, plaintext: &str) -> Result<String, String> {
    let mut iv = [0u8; 12];
    fill_random(&mut iv);
    let out = settle(
        subtle()?.encrypt_with_object_and_u8_array(
            &gcm(&iv, bound_to)?,
            &aes_key(key, "encrypt").await?,
            plaintext.as_bytes(),
        ),
        "encrypting the client secret",
    )
    .await?;
    let mut sealed = iv.to_vec();
    sealed.extend(Uint8Array::new(&out).to_vec());
    Ok(URL_SAFE_NO_PAD.encode(sealed))
}

/// The plaintext of `encrypt`'s output.
pub async fn decrypt(key: &[u8; 32], bound_to: &str, sealed: &str) -> Result<String, String> {
    let bytes = URL_SAFE_NO_PAD
        .decode(sealed)
        .map_err(|_| "the stored client secret is not base64url".to_string())?;
    if bytes.len() < 12 + 16 {
        return Err("the stored client secret is too short".into());
    }
    let (iv, ciphertext) = bytes.split_at(12);
    let out = settle(
        subtle()?.decrypt_with_object_and_u8_array(
            &gcm(iv, bound_to)?,
            &aes_key(key, "decrypt").await?,
            ciphertext,
        ),
        "the client secret does not decrypt (was SSO_ENCRYPTION_KEY changed?)",
    )
    .await?;
    String::from_utf8(Uint8Array::new(&out).to_vec())
        .map_err(|_| "the client secret is not text".into())
}
