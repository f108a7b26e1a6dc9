//! Receipt codes for the demo: eight characters a shopper can type at the kiosk
//! instead of the receipt QR's order token (several hundred characters). The
//! demo endpoint hands one out with the token when asked (`"receiptCode": true`);
//! `GET /v1/demo/receipts/{code}` gives the token back. The mapping lives in the
//! store's key-value table like other proxy state, so it outlives a restart
//! (the token itself, signed with the run's demo key, does not).

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::api::http::{store_error, Path};
use crate::problem::{ApiError, ProxyProblem};
use crate::AppState;

/// Characters that cannot be mistaken for one another when read off paper
/// (no 0/O, 1/I/L): 31 of them, so eight give about 2^39 codes.
const ALPHABET: &[u8] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";
/// The length of a code.
pub const LEN: usize = 8;

fn key(code: &str) -> String {
    format!("demo-receipt:{code}")
}

/// A new random code.
fn new_code() -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    (0..LEN)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

/// A code as typed: spaces and dashes dropped, lower case raised. `None` when it
/// cannot be a code.
pub fn normalize(typed: &str) -> Option<String> {
    let code: String = typed
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '\u{3000}'))
        .map(|c| c.to_ascii_uppercase())
        .collect();
    (code.len() == LEN && code.bytes().all(|b| ALPHABET.contains(&b))).then_some(code)
}

/// Stores a code for `token` and returns it.
pub async fn remember(state: &AppState, token: &str) -> Result<String, ApiError> {
    for _ in 0..4 {
        let code = new_code();
        if state.store.kv_get(&key(&code)).await.map_err(store_error)?.is_none() {
            state.store.kv_set(&key(&code), token).await.map_err(store_error)?;
            return Ok(code);
        }
    }
    Err(store_error(crate::store::StoreError("no free receipt code".into())))
}

/// `GET /v1/demo/receipts/{code}`: the order token a code stands for.
pub async fn resolve(State(state): State<Arc<AppState>>, Path(code): Path<String>) -> Result<Response, ApiError> {
    if !state.config.demo {
        return Err(ApiError::new(StatusCode::NOT_FOUND, "path", ProxyProblem::DemoDisabled));
    }
    let found = match normalize(&code) {
        Some(c) => state.store.kv_get(&key(&c)).await.map_err(store_error)?,
        None => None,
    };
    match found {
        Some((token, _)) => Ok(Json(json!({ "orderToken": token })).into_response()),
        None => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "code",
            ProxyProblem::OrderNotFound {
                order_id: code.chars().take(20).collect(),
            },
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_typeable_and_read_back_as_typed() {
        let c = new_code();
        assert_eq!(c.len(), LEN);
        assert_eq!(normalize(&c).as_deref(), Some(c.as_str()));
        assert_eq!(
            normalize(&format!(" {}-{} ", &c[..4], &c[4..]).to_lowercase()).as_deref(),
            Some(c.as_str())
        );
        assert_eq!(normalize("FP1.abc"), None);
        assert_eq!(normalize("2345678"), None);
        // O, I, L, 0 and 1 are not in the alphabet.
        assert_eq!(normalize("ABCDEFGO"), None);
        assert_eq!(normalize("ABCDEFG1"), None);
    }
}
