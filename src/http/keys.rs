//! The signing keys, loaded once per isolate: from the `JWT_PRIVATE_KEY` secret, or in
//! development from a seed generated once and kept in KV.

use std::cell::RefCell;
use std::rc::Rc;

use worker::Env;

use crate::config::Config;
use crate::domain::jwt::{generate_seed, KeySet};
use crate::error::{ApiError, ApiResult};

const DEV_SEED_KEY: &str = "dev:jwt-seed";

thread_local! {
    static KEYS: RefCell<Option<Rc<KeySet>>> = const { RefCell::new(None) };
}

async fn dev_seed(env: &Env) -> ApiResult<String> {
    let kv = env
        .kv("KV")
        .map_err(|e| ApiError::Misconfigured(format!("KV binding KV: {e}")))?;
    if let Some(seed) = kv
        .get(DEV_SEED_KEY)
        .text()
        .await
        .map_err(ApiError::internal)?
    {
        return Ok(seed);
    }
    let seed = generate_seed();
    // As bytes: `put` of a string goes through worker's serde path (and links float
    // formatting into the wasm); KV stores the same value, read back by `.text()`.
    kv.put_bytes(DEV_SEED_KEY, seed.as_bytes())
        .map_err(ApiError::internal)?
        .execute()
        .await
        .map_err(ApiError::internal)?;
    // Two isolates may race to create it; whatever KV kept is the key for everyone.
    Ok(kv
        .get(DEV_SEED_KEY)
        .text()
        .await
        .map_err(ApiError::internal)?
        .unwrap_or(seed))
}

pub async fn keys(env: &Env, cfg: &Config) -> ApiResult<Rc<KeySet>> {
    if let Some(keys) = KEYS.with(|k| k.borrow().clone()) {
        return Ok(keys);
    }
    let seed = match &cfg.jwt_private_key {
        Some(seed) => seed.clone(),
        None => dev_seed(env).await?,
    };
    let keys = KeySet::from_config(&seed, &cfg.jwt_previous_public_keys)
        .map_err(|e| ApiError::Misconfigured(format!("{e:?}")))?;
    let keys = Rc::new(keys);
    KEYS.with(|k| *k.borrow_mut() = Some(keys.clone()));
    Ok(keys)
}
