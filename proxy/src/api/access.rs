//! Who may read what, shared by the public and the admin handlers: the bearer
//! token of a request, the admin token check, and the delivery and archive parts
//! of an order's public view.

use axum::http::{header, HeaderMap, StatusCode};
use serde_json::{json, Value};

use crate::ledger;
use crate::problem::{ApiError, ProxyProblem};
use crate::store::{Record, Status};
use crate::time::cst_rfc3339;
use crate::AppState;

/// The token of an `Authorization: Bearer …` header, if any.
pub(crate) fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
}

/// True when the request carries the admin token.
pub(crate) fn is_admin(state: &AppState, headers: &HeaderMap) -> bool {
    state.config.hooks.admin_token.is_some() && require_admin(state, headers).is_ok()
}

/// The admin token is required: 404 while admin endpoints are off, 401 without it.
pub(crate) fn require_admin(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(want) = &state.config.hooks.admin_token else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "path",
            ProxyProblem::AdminDisabled,
        ));
    };
    let given = bearer(headers).unwrap_or("");
    let w = want.expose().as_bytes();
    let ok = given.len() == w.len() && given.bytes().zip(w.iter()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0;
    if !ok {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "authorization",
            ProxyProblem::AdminUnauthorized,
        ));
    }
    Ok(())
}

/// Adds `delivery` and `archive` to the public view of an issued order.
pub async fn extend_view(state: &AppState, r: &Record, v: &mut Value) {
    if !matches!(r.status, Status::Issued | Status::Reversed) {
        return;
    }
    if let Ok((rows, notify)) = ledger::deliveries_of(&state.store, &r.order_id).await {
        let mut d = json!({});
        for ch in ["email", "phone"] {
            if let Some(x) = rows.iter().find(|x| x.channel == ch) {
                d[ch] = json!({ "address": x.address, "status": x.state, "error": x.error, "requestedAt": cst_rfc3339(x.created_at), "updatedAt": cst_rfc3339(x.updated_at) });
            }
        }
        if let Some((email, phone)) = notify {
            d["provider"] = json!({ "emailNotifyStatus": email, "phoneNotifyStatus": phone });
        }
        v["delivery"] = d;
    }
    if let Ok(files) = ledger::archive_of(&state.store, &r.order_id).await {
        let base = format!("/v1/invoices/{}/files", r.order_id);
        let list: Vec<Value> = files
            .iter()
            .map(|f| {
                json!({
                    "kind": f.kind, "status": f.state, "sha256": f.sha256, "size": f.size,
                    "fetchedAt": f.fetched_at.map(cst_rfc3339), "url": format!("{base}/{}", f.kind),
                })
            })
            .collect();
        v["archive"] = json!(list);
    }
}
