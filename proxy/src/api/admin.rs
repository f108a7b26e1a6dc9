//! HTTP handlers of delivery, the archive and administration: re-delivery (`POST /v1/invoices/{orderId}/deliver`),
//! archived files (`GET /v1/invoices/{orderId}/files/{kind}`), and the admin
//! endpoints under `/v1/admin/` (bearer `FAPIAO_ADMIN_TOKEN`): webhook outbox and
//! replay, reconciliation, files pending archive.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;

use crate::api::http::{Path, Query};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use fapiao::buyer::{validate_buyer, BuyerInput, BuyerOptions};
use fapiao::Issue;
use serde::Deserialize;
use serde_json::{json, Value};

use super::access::require_admin;
use crate::api::http::{body_invalid, envelope, load, store_error, token_error};
use crate::ledger;
use crate::problem::{ApiError, ProxyProblem};
use crate::provider::Delivery;
use crate::store::Status;
use crate::time::{cst_rfc3339, now_ms, now_s};
use crate::token::{self};
use crate::AppState;

type S = State<Arc<AppState>>;

// ---- delivery ----

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct DeliverBody {
    email: Option<String>,
    phone: Option<String>,
    mobile: Option<String>,
}

/// Checks the addresses with the core crate's buyer rules (the same checks as
/// a buyer's delivery e-mail and mobile); returns the normalised pair.
fn delivery_addresses(b: DeliverBody) -> Result<(Option<String>, Option<String>), ApiError> {
    let phone = b.phone.or(b.mobile).filter(|s| !s.trim().is_empty());
    let email = b.email.filter(|s| !s.trim().is_empty());
    if email.is_none() && phone.is_none() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "request",
            ProxyProblem::DeliveryChannelRequired,
        ));
    }
    let r = validate_buyer(
        &BuyerInput {
            email: email.clone(),
            mobile: phone.clone(),
            ..Default::default()
        },
        &BuyerOptions::default(),
    );
    let errors: Vec<Issue> = r
        .errors
        .into_iter()
        .filter_map(|mut i| {
            i.field = match i.field.as_str() {
                "buyer.email" => "email".into(),
                "buyer.mobile" => "phone".into(),
                _ => return None,
            };
            Some(i)
        })
        .collect();
    if !errors.is_empty() {
        return Err(ApiError::invalid(errors));
    }
    let n = r.normalized;
    Ok((email.map(|_| n.email), phone.map(|_| n.mobile)))
}

/// `POST /v1/invoices/{orderId}/deliver` with `{ request: { email?, phone? }, orderToken }`:
/// the order token of the order (signature, seller, order id, not expired), as
/// for creating it.
pub async fn deliver(State(state): S, Path(order_ref): Path<String>, body: Bytes) -> Result<Response, ApiError> {
    let (request, token_text) = envelope(&body)?;
    let seller = super::sellers::seller_of_token(&state, &token_text)?;
    let claims = match token::verify(&seller.seller.merchant_key, &token_text, now_s()) {
        Err(ProxyProblem::TokenSignature) if super::sellers::signed_by_another(&state, &seller, &token_text) => {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "orderToken",
                ProxyProblem::SellerForbidden,
            ))
        }
        other => other.map_err(token_error)?,
    };
    if claims.merchant != seller.seller.tax_id {
        return Err(token_error(ProxyProblem::TokenMismatch {
            what: "the seller",
            what_zh: "销方",
        }));
    }
    let id = super::sellers::key_for_seller(&state.sellers.get(), &seller.seller.tax_id, &order_ref)?;
    if claims.order_id != crate::sellers::order_id_of(&id) {
        return Err(token_error(ProxyProblem::TokenMismatch {
            what: "the order id",
            what_zh: "订单号",
        }));
    }
    let b: DeliverBody = serde_json::from_value(request).map_err(|_| body_invalid("request: { email?, phone? }"))?;
    let (email, phone) = delivery_addresses(b)?;
    let r = load(&state, &id).await?;
    let number = match (&r.status, &r.invoice_number) {
        (Status::Issued, Some(n)) => n.clone(),
        _ => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "orderId",
                ProxyProblem::DeliveryNotIssued {
                    order_id: crate::sellers::order_id_of(&r.order_id).to_owned(),
                },
            ))
        }
    };
    let recent = ledger::deliveries_since(&state.store, &id, now_ms() - 3_600_000)
        .await
        .map_err(store_error)?;
    if recent >= state.config.hooks.delivery_limit as i64 {
        let mut resp = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "orderId",
            ProxyProblem::DeliveryRateLimited,
        )
        .into_response();
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("600"));
        return Ok(resp);
    }
    let mut channels = Vec::new();
    if let Some(e) = &email {
        channels.push(("email".to_owned(), e.clone()));
    }
    if let Some(p) = &phone {
        channels.push(("phone".to_owned(), p.clone()));
    }
    let owner = state.config.instance_id.clone();
    let ids = ledger::delivery_requested(
        &state.store,
        &id,
        channels,
        &owner,
        crate::queues::delivery::lease_ms(&state),
    )
    .await
    .map_err(store_error)?;
    let d = Delivery {
        order_id: crate::sellers::order_id_of(&id).to_owned(),
        invoice_number: number,
        email,
        phone,
    };
    let outcome = crate::queues::delivery::attempt(&state, &seller, &d, 1).await;
    ledger::delivery_attempted(&state.store, Some(r.clone()), ids, &owner, outcome.clone())
        .await
        .map_err(store_error)?;
    state.signals.webhooks.notify_one();
    state.events.updates.send(Arc::from(id.as_str())).ok();
    let status = match outcome {
        ledger::DeliveryOutcome::Sent => {
            tracing::info!(order = %id, "invoice delivered");
            StatusCode::OK
        }
        ledger::DeliveryOutcome::Failed(detail) => {
            tracing::warn!(order = %id, error = %detail, "delivery failed");
            return Err(ApiError::new(
                StatusCode::BAD_GATEWAY,
                "delivery",
                ProxyProblem::DeliveryFailed { detail },
            ));
        }
        ledger::DeliveryOutcome::Retry(detail, _) => {
            tracing::warn!(order = %id, error = %detail, "delivery not confirmed; queued for retry");
            StatusCode::ACCEPTED
        }
    };
    Ok((status, Json(crate::api::http::view(&state, &r).await)).into_response())
}

// ---- files ----

/// `GET /v1/invoices/{orderId}/files/{kind}`: the archived file (ETag = its
/// SHA-256), else what the provider serves itself (the sandbox's XML and HTML).
pub async fn file(
    State(state): S,
    Path((id, which)): Path<(String, String)>,
    Query(q): Query<crate::api::http::AccessQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let id = crate::api::http::check_read(&state, &headers, q.access.as_deref(), &id)?;
    let r = load(&state, &id).await?;
    let unavailable = || {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "file",
            ProxyProblem::FileNotAvailable {
                order_id: crate::sellers::order_id_of(&r.order_id).to_owned(),
                kind: which.chars().take(8).collect(),
            },
        )
    };
    if !matches!(r.status, Status::Issued | Status::Reversed) {
        return Err(unavailable());
    }
    let files = ledger::archive_of(&state.store, &id).await.map_err(store_error)?;
    if let Some(f) = files.iter().find(|f| f.kind == which && f.state == "stored") {
        let sha = f.sha256.clone().unwrap_or_default();
        let etag = format!("\"{sha}\"");
        if headers
            .get(header::IF_NONE_MATCH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.split(',').any(|t| t.trim() == etag))
        {
            return Ok((StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response());
        }
        let dir = state.config.archive_dir();
        let s2 = sha.clone();
        match tokio::task::spawn_blocking(move || crate::queues::archive::get(&dir, &s2)).await {
            Ok(Ok(body)) => {
                let ct = f
                    .content_type
                    .clone()
                    .unwrap_or_else(|| crate::queues::archive::content_type(&which).to_owned());
                return Ok((
                    [
                        (header::CONTENT_TYPE, ct),
                        (header::ETAG, etag),
                        (header::CACHE_CONTROL, "private, max-age=31536000, immutable".to_owned()),
                    ],
                    body,
                )
                    .into_response());
            }
            _ => tracing::error!(order = %id, kind = %which, sha256 = %sha, "archived file missing or corrupt"),
        }
    }
    let provider = state
        .sellers
        .get()
        .of_key(&id)
        .map(|e| e.provider.clone())
        .unwrap_or_else(|| state.provider.clone());
    let doc = provider
        .document(crate::sellers::order_id_of(&id), &which)
        .await
        .ok_or_else(unavailable)?;
    Ok(([(header::CONTENT_TYPE, doc.content_type)], doc.body).into_response())
}

// ---- admin ----

/// A time given as `YYYY-MM-DD` (China time, start of day), RFC 3339 is not
/// parsed; or epoch milliseconds.
fn when(v: &Value, end: bool) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) if s.len() == 10 => ledger::cst_day_start(s).map(|t| if end { t + 86_400_000 } else { t }),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

fn range(body: &[u8]) -> Result<(i64, i64, Value), ApiError> {
    let v: Value = serde_json::from_slice(body).map_err(|_| body_invalid("not JSON of the form { from, to }"))?;
    let from =
        when(&v["from"], false).ok_or_else(|| body_invalid("“from”: a date YYYY-MM-DD or epoch milliseconds"))?;
    let to = when(&v["to"], true)
        .ok_or_else(|| body_invalid("“to”: a date YYYY-MM-DD (inclusive) or epoch milliseconds"))?;
    if to <= from {
        return Err(body_invalid("the range ends before it starts"));
    }
    Ok((from, to, v))
}

/// Query of `GET /v1/admin/webhooks`.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct EventsQuery {
    order_id: Option<String>,
    limit: Option<usize>,
}

/// `GET /v1/admin/webhooks[?orderId=]`: outbox counts and events with their attempts.
pub async fn webhooks(State(state): S, headers: HeaderMap, Query(q): Query<EventsQuery>) -> Result<Response, ApiError> {
    require_admin(&state, &headers)?;
    let counts = ledger::outbox_counts(&state.store).await.map_err(store_error)?;
    let events = ledger::events(&state.store, q.order_id, q.limit.unwrap_or(100).min(1000))
        .await
        .map_err(store_error)?;
    let counts: serde_json::Map<String, Value> = counts.into_iter().map(|(k, n)| (k, json!(n))).collect();
    Ok(Json(json!({ "counts": counts, "events": events })).into_response())
}

/// `POST /v1/admin/webhooks/replay` `{ from, to, orderId? }`: re-sends the events
/// created in the range, with the same ids.
pub async fn replay(State(state): S, headers: HeaderMap, body: Bytes) -> Result<Response, ApiError> {
    require_admin(&state, &headers)?;
    let (from, to, v) = range(&body)?;
    let order = v["orderId"].as_str().map(str::to_owned);
    let n = ledger::replay(&state.store, from, to, order)
        .await
        .map_err(store_error)?;
    state.signals.webhooks.notify_one();
    tracing::info!(events = n, "webhook replay");
    Ok(Json(json!({ "replayed": n, "from": cst_rfc3339(from), "to": cst_rfc3339(to) })).into_response())
}

/// `POST /v1/admin/reconcile` `{ from, to, seller? }`: the reconciliation report
/// (every seller, or the one whose tax ID is given).
pub async fn reconcile(State(state): S, headers: HeaderMap, body: Bytes) -> Result<Response, ApiError> {
    require_admin(&state, &headers)?;
    let (from, to, v) = range(&body)?;
    let seller = v["seller"].as_str().map(|t| t.trim().to_ascii_uppercase());
    let report = crate::queues::reconcile::run_for(&state, seller.as_deref(), from, to).await;
    Ok(Json(report).into_response())
}

/// `GET /v1/admin/archive/pending`: files not stored (pending, refused) and open
/// reconciliation findings.
pub async fn archive_pending(State(state): S, headers: HeaderMap) -> Result<Response, ApiError> {
    require_admin(&state, &headers)?;
    let files = ledger::archive_missing(&state.store, 1000).await.map_err(store_error)?;
    let findings = ledger::open_findings(&state.store).await.map_err(store_error)?;
    Ok(Json(json!({ "files": files, "findings": findings })).into_response())
}

/// The delivery, file and admin routes (merged into [`super::http::router`]).
pub fn routes() -> axum::Router<Arc<AppState>> {
    use axum::routing::{get, post};
    axum::Router::new()
        .route("/v1/invoices/{order_id}/files/{which}", get(file))
        .route("/v1/invoices/{order_id}/deliver", post(deliver))
        .route("/v1/admin/webhooks", get(webhooks))
        .route("/v1/admin/webhooks/replay", post(replay))
        .route("/v1/admin/reconcile", post(reconcile))
        .route("/v1/admin/archive/pending", get(archive_pending))
}
