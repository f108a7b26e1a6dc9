//! The batch endpoints (批量开票), for operators: `POST /v1/batches`,
//! `GET /v1/batches`, `GET /v1/batches/{id}`, its event stream, cancel (撤销)
//! and the result export. Every one takes an operator key
//! (`Authorization: Bearer …`, see [`crate::operator`]); the store side is
//! [`crate::batches`].

use std::collections::HashSet;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use fapiao::request::{build_issue_request, IssueForm};
use fapiao::Issue;
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::access::bearer;
use super::http::{body_invalid, store_error, Path, Query};
use crate::batches::{self, Counts, NewOrder, Position, Summary, MAX_ORDERS};
use crate::problem::{ApiError, ProxyProblem};
use crate::time::cst_rfc3339;
use crate::token;
use crate::AppState;

type S = State<Arc<AppState>>;

/// The batch routes (their own body limit is applied by the router).
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/v1/batches", post(create).get(list))
        .route("/v1/batches/{batch_id}", get(show))
        .route("/v1/batches/{batch_id}/events", get(events))
        .route("/v1/batches/{batch_id}/cancel", post(cancel))
        .route("/v1/batches/{batch_id}/export", get(export))
}

/// The operator whose key the request carries: 401 without a key, 403 for any
/// key that is not an operator key (an order token, the admin token, a wrong
/// key).
pub(crate) fn operator(state: &AppState, headers: &HeaderMap) -> Result<String, ApiError> {
    let Some(given) = bearer(headers).filter(|t| !t.is_empty()) else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "authorization",
            ProxyProblem::OperatorKeyRequired,
        ));
    };
    crate::operator::find(&state.config.operator_keys, given)
        .map(str::to_owned)
        .ok_or_else(|| ApiError::new(StatusCode::FORBIDDEN, "authorization", ProxyProblem::OperatorKeyInvalid))
}

/// The sellers (tax IDs) an operator acts for: with a sellers file, those that
/// name it in their `operators`; a single-seller deployment's operators act
/// for its seller.
pub(crate) fn scope(state: &AppState, op: &str) -> Vec<String> {
    let set = state.sellers.get();
    if state.config.sellers_file.is_none() {
        return set.order.clone();
    }
    set.all()
        .filter(|e| e.seller.operators.iter().any(|o| o == op))
        .map(|e| e.seller.tax_id.clone())
        .collect()
}

/// A batch the operator may see: one of the sellers it acts for (else, as for
/// an unknown batch, 404). The seller is that of the batch's first order.
async fn check_scope(state: &AppState, op: &str, batch_id: &str) -> Result<String, ApiError> {
    let first = batches::first_order(&state.store, batch_id)
        .await
        .map_err(store_error)?
        .ok_or_else(|| not_found(batch_id))?;
    let seller = state.sellers.get().seller_of_key(&first).to_owned();
    if scope(state, op).contains(&seller) {
        Ok(seller)
    } else {
        Err(not_found(batch_id))
    }
}

fn not_found(id: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "batchId",
        ProxyProblem::BatchNotFound {
            batch_id: id.chars().take(40).collect(),
        },
    )
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateBody {
    client_batch_id: Option<String>,
    /// The seller the orders are for (required when the operator acts for several).
    seller_tax_id: Option<String>,
    name: Option<String>,
    orders: Option<Vec<Value>>,
}

fn at(index: usize, mut issue: Issue) -> Issue {
    issue.field = if issue.field.is_empty() {
        format!("orders[{index}]")
    } else {
        format!("orders[{index}].{}", issue.field)
    };
    issue
}

/// Validates one order exactly as `POST /v1/invoices` does (the core's
/// `build_issue_request`, the order-number prefix room) and makes its
/// canonical request.
fn validate(
    state: &AppState,
    seller: &crate::sellers::Entry,
    index: usize,
    form: Value,
) -> Result<NewOrder, Vec<Issue>> {
    let form: IssueForm = serde_json::from_value(form).map_err(|e| {
        vec![Issue::new(
            format!("orders[{index}]"),
            &ProxyProblem::BodyInvalid {
                detail: e.to_string().chars().take(160).collect(),
            },
        )]
    })?;
    let built = build_issue_request(&form);
    let Some(req) = built.request else {
        return Err(built.errors.into_iter().map(|i| at(index, i)).collect());
    };
    if let Err(e) = crate::api::sellers::check_invoice_type(&seller.seller, req.invoice_type) {
        return Err(e.errors.into_iter().map(|i| at(index, i)).collect());
    }
    let prefix = seller.seller.nuonuo.as_ref().map(|n| n.order_prefix.len()).unwrap_or(0);
    if prefix > 0 && prefix + req.order_id.len() > crate::config::NUONUO_ORDER_NO_MAX {
        return Err(vec![Issue::new(
            format!("orders[{index}].orderId"),
            &ProxyProblem::OrderIdTooLongForPrefix {
                max: crate::config::NUONUO_ORDER_NO_MAX - prefix,
            },
        )]);
    }
    let canonical = serde_json::to_string(&req).map_err(|_| {
        vec![Issue::new(
            format!("orders[{index}]"),
            &ProxyProblem::BodyInvalid {
                detail: "request".into(),
            },
        )]
    })?;
    let totals = serde_json::to_value(&req.totals).unwrap_or(Value::Null);
    Ok(NewOrder {
        // The store key: order ids are unique per seller.
        order_id: state.sellers.get().key(&seller.seller.tax_id, &req.order_id),
        fingerprint: Sha256::digest(canonical.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect(),
        request: canonical,
        totals,
    })
}

/// Validates the orders on the blocking pool, in as many parts as there are
/// cores; every problem of every order is collected.
async fn validate_all(
    state: &Arc<AppState>,
    seller: Arc<crate::sellers::Entry>,
    orders: Vec<Value>,
) -> Result<Vec<NewOrder>, Vec<Issue>> {
    let parts = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, 8);
    let size = orders.len().div_ceil(parts).max(1);
    let mut tasks = Vec::new();
    let mut it = orders.into_iter().enumerate().peekable();
    while it.peek().is_some() {
        let chunk: Vec<(usize, Value)> = it.by_ref().take(size).collect();
        let (state, seller) = (state.clone(), seller.clone());
        tasks.push(tokio::task::spawn_blocking(move || {
            chunk
                .into_iter()
                .map(|(i, v)| validate(&state, &seller, i, v))
                .collect::<Vec<_>>()
        }));
    }
    let mut ok = Vec::new();
    let mut errors = Vec::new();
    for t in tasks {
        for r in t.await.map_err(|_| {
            vec![Issue::new(
                "orders",
                &ProxyProblem::BodyInvalid {
                    detail: "validation stopped".into(),
                },
            )]
        })? {
            match r {
                Ok(o) => ok.push(o),
                Err(e) => errors.extend(e),
            }
        }
    }
    if errors.is_empty() {
        Ok(ok)
    } else {
        Err(errors)
    }
}

async fn create(State(state): S, headers: HeaderMap, body: Bytes) -> Result<Response, ApiError> {
    let op = operator(&state, &headers)?;
    let b: CreateBody = serde_json::from_slice(&body).map_err(|e| {
        body_invalid(format!(
            "not JSON of the form {{ clientBatchId?, name?, orders: [IssueForm, …] }} (line {}, column {})",
            e.line(),
            e.column()
        ))
    })?;
    // The seller: one the operator acts for.
    let mine = scope(&state, &op);
    let tax = match b.seller_tax_id.as_deref().map(|t| t.trim().to_ascii_uppercase()) {
        Some(t) if mine.contains(&t) => t,
        Some(_) => {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "sellerTaxId",
                ProxyProblem::SellerForbidden,
            ))
        }
        None if mine.len() == 1 => mine[0].clone(),
        None if mine.is_empty() => {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "sellerTaxId",
                ProxyProblem::SellerForbidden,
            ))
        }
        None => {
            return Err(body_invalid(
                "“sellerTaxId” is required: the operator acts for several sellers",
            ))
        }
    };
    let seller = state
        .sellers
        .get()
        .get(&tax)
        .cloned()
        .ok_or_else(|| ApiError::new(StatusCode::FORBIDDEN, "sellerTaxId", ProxyProblem::SellerForbidden))?;
    let orders = b.orders.ok_or_else(|| body_invalid("“orders” is missing"))?;
    if orders.is_empty() || orders.len() > MAX_ORDERS {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "orders",
            ProxyProblem::BatchSize {
                max: MAX_ORDERS,
                count: orders.len(),
            },
        ));
    }
    let client_id = b.client_batch_id.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
    if client_id.as_ref().is_some_and(|s| s.len() > 200 || s.contains('\0')) {
        return Err(body_invalid("“clientBatchId” has at most 200 characters"));
    }
    let name = b
        .name
        .map(|s| s.trim().chars().filter(|c| *c != '\0').take(200).collect::<String>())
        .filter(|s| !s.is_empty());
    // A page that lost the answer sends the batch again: answer the stored one.
    if let Some(cid) = &client_id {
        if let Some(found) = batches::find_by_client_id(&state.store, &op, cid)
            .await
            .map_err(store_error)?
        {
            return Ok((StatusCode::OK, Json(json!(found))).into_response());
        }
    }
    let valid = validate_all(&state, seller, orders).await.map_err(ApiError::invalid)?;
    let created = batches::create(&state.store, &op, client_id, name, valid)
        .await
        .map_err(store_error)?;
    if created.existing {
        return Ok((StatusCode::OK, Json(json!(created))).into_response());
    }
    for _ in 0..created.new_orders {
        state.metrics.accepted();
        state.metrics.seller_accepted(&tax);
    }
    state.signals.webhooks.notify_one();
    state.events.wake.notify_one();
    tracing::info!(batch = %created.id, operator = %op, total = created.total, new = created.new_orders, "batch accepted");
    Ok((StatusCode::ACCEPTED, Json(json!(created))).into_response())
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ListQuery {
    limit: Option<usize>,
}

async fn list(State(state): S, headers: HeaderMap, Query(q): Query<ListQuery>) -> Result<Response, ApiError> {
    let op = operator(&state, &headers)?;
    let limit = q.limit.unwrap_or(50).clamp(1, 500);
    let mine = scope(&state, &op);
    let mut list = Vec::new();
    // Only the batches of the operator's sellers.
    for s in batches::list(&state.store, limit).await.map_err(store_error)? {
        if let Some(first) = batches::first_order(&state.store, &s.id).await.map_err(store_error)? {
            if mine.iter().any(|t| t == state.sellers.get().seller_of_key(&first)) {
                list.push(s);
            }
        }
    }
    Ok(Json(json!({ "batches": list })).into_response())
}

/// A position as the batch endpoints show it; issued files carry the order's
/// access token like the order endpoints' links.
fn position_view(state: &AppState, p: &Position) -> Value {
    let status = batches::batch_status(&p.status);
    let set = state.sellers.get();
    let plain = crate::sellers::order_id_of(&p.order_id);
    let mut v =
        json!({ "index": p.index, "orderId": plain, "sellerTaxId": set.seller_of_key(&p.order_id), "status": status });
    if p.duplicate {
        v["duplicate"] = json!(true);
    }
    if p.status != status {
        v["orderStatus"] = json!(p.status);
    }
    if let Some(n) = &p.invoice_number {
        v["invoiceNumber"] = json!(n);
    }
    if let Some(t) = p.issued_at {
        v["issuedAt"] = json!(cst_rfc3339(t));
    }
    if let Some(e) = &p.error {
        v["error"] = json!({ "code": e.code, "field": e.field, "message": e.message, "messageEn": e.message_en });
    }
    if status == "issued" {
        let mut files = json!({});
        let mut access = None;
        for (k, u) in ["pdf", "ofd", "xml"].iter().zip(p.files.iter()) {
            if let Some(u) = u.as_deref().filter(|u| !u.is_empty()) {
                let link = if u.starts_with("/v1/") {
                    let key = set
                        .of_key(&p.order_id)
                        .map_or(&state.config.merchant_key, |e| &e.seller.merchant_key);
                    let a = access.get_or_insert_with(|| token::access_token(key, plain));
                    format!("{u}{}access={a}", if u.contains('?') { '&' } else { '?' })
                } else {
                    u.to_owned()
                };
                files[*k] = json!(link);
            }
        }
        v["files"] = files;
    }
    v
}

fn summary_view(s: &Summary) -> Value {
    json!({
        "id": s.id, "name": s.name, "operator": s.operator, "createdAt": s.created_at,
        "total": s.total, "counts": s.counts, "done": s.done, "duplicates": s.duplicates,
    })
}

async fn show(State(state): S, headers: HeaderMap, Path(id): Path<String>) -> Result<Response, ApiError> {
    let op = operator(&state, &headers)?;
    check_scope(&state, &op, &id).await?;
    let (s, positions) = batches::get(&state.store, &id)
        .await
        .map_err(store_error)?
        .ok_or_else(|| not_found(&id))?;
    let mut v = summary_view(&s);
    v["orders"] = Value::Array(positions.iter().map(|p| position_view(&state, p)).collect());
    Ok(Json(v).into_response())
}

fn progress(total: i64, counts: &Counts) -> Value {
    let mut v = json!(counts);
    v["total"] = json!(total);
    v["done"] = json!(counts.done());
    v
}

async fn events(State(state): S, headers: HeaderMap, Path(id): Path<String>) -> Result<Response, ApiError> {
    let op = operator(&state, &headers)?;
    check_scope(&state, &op, &id).await?;
    let rx = state.events.updates.subscribe();
    let s = batches::summary_of(&state.store, &id)
        .await
        .map_err(store_error)?
        .ok_or_else(|| not_found(&id))?;
    let ids = batches::order_ids(&state.store, &id).await.map_err(store_error)?;
    struct St {
        state: Arc<AppState>,
        id: String,
        ids: HashSet<String>,
        rx: tokio::sync::broadcast::Receiver<Arc<str>>,
        total: i64,
        last: Option<Counts>,
        first: Option<Counts>,
        finished: bool,
    }
    let st = St {
        state,
        id,
        ids,
        rx,
        total: s.total,
        last: None,
        first: Some(s.counts),
        finished: false,
    };
    // At most about four events a second: a change is noticed at once, the
    // counts are read at most every 250 ms.
    let stream = futures_util::stream::unfold(st, |mut st| async move {
        use tokio::sync::broadcast::error::RecvError;
        if st.finished {
            return None;
        }
        loop {
            let counts = match st.first.take() {
                Some(c) => c,
                None => {
                    let deadline = tokio::time::Instant::now() + Duration::from_secs(1);
                    let mut changed = false;
                    while !changed {
                        match tokio::time::timeout_at(deadline, st.rx.recv()).await {
                            // Quiet for a second: look anyway (a change made
                            // elsewhere, missed messages).
                            Err(_) => changed = true,
                            Ok(Ok(order)) => changed = st.ids.contains(&*order),
                            Ok(Err(RecvError::Lagged(_))) => changed = true,
                            Ok(Err(RecvError::Closed)) => return None,
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(250)).await;
                    // What arrived meanwhile is in the counts read now.
                    while let Ok(_) | Err(tokio::sync::broadcast::error::TryRecvError::Lagged(_)) = st.rx.try_recv() {}
                    match batches::counts(&st.state.store, &st.id).await {
                        Ok(c) => c,
                        Err(_) => continue,
                    }
                }
            };
            if st.last == Some(counts) {
                continue;
            }
            st.last = Some(counts);
            st.finished = counts.done();
            let ev: Result<Event, Infallible> = Ok(Event::default()
                .event("progress")
                .data(progress(st.total, &counts).to_string()));
            return Some((ev, st));
        }
    });
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response())
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct CancelBody {
    order_ids: Option<Vec<String>>,
}

async fn cancel(
    State(state): S,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let op = operator(&state, &headers)?;
    let seller = check_scope(&state, &op, &id).await?;
    let b: CancelBody = if body.iter().all(u8::is_ascii_whitespace) {
        CancelBody::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| {
            body_invalid(format!(
                "not JSON of the form {{ orderIds?: [..] }} (line {}, column {})",
                e.line(),
                e.column()
            ))
        })?
    };
    if b.order_ids.as_ref().is_some_and(|ids| ids.len() > MAX_ORDERS) {
        return Err(body_invalid(format!("“orderIds” has at most {MAX_ORDERS} entries")));
    }
    // The positions' order ids as the store keys them (order ids are per seller).
    let set = state.sellers.get();
    let order_ids = b.order_ids.map(|ids| {
        ids.iter()
            .map(|i| set.key(&seller, crate::sellers::order_id_of(i)))
            .collect()
    });
    let out = batches::cancel(&state.store, &op, &id, order_ids)
        .await
        .map_err(store_error)?
        .ok_or_else(|| not_found(&id))?;
    for oid in &out.cancelled {
        let _ = state.events.updates.send(Arc::from(oid.as_str()));
    }
    if !out.cancelled.is_empty() {
        state.signals.webhooks.notify_one();
        tracing::info!(batch = %id, operator = %op, cancelled = out.cancelled.len(), "batch orders cancelled");
    }
    Ok(Json(json!(out)).into_response())
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ExportQuery {
    format: Option<String>,
}

/// A CSV field: quoted when it holds a comma, quote or line break; a leading
/// `=`, `+`, `-` or `@` is prefixed with `'` so that a spreadsheet shows text,
/// never runs a formula.
fn csv_field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@']) {
        format!("'{s}")
    } else {
        s.to_owned()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

/// The columns of the CSV export.
pub const EXPORT_COLUMNS: [&str; 11] = [
    "index",
    "orderId",
    "status",
    "invoiceNumber",
    "issuedAt",
    "errorCode",
    "errorMessage",
    "pdf",
    "ofd",
    "xml",
    "duplicate",
];

async fn export(
    State(state): S,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<ExportQuery>,
) -> Result<Response, ApiError> {
    let op = operator(&state, &headers)?;
    check_scope(&state, &op, &id).await?;
    let format = q.format.unwrap_or_else(|| "json".into());
    if format != "csv" && format != "json" {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "format",
            ProxyProblem::QueryInvalid {
                detail: "format is csv or json".into(),
            },
        ));
    }
    let (s, positions) = batches::get(&state.store, &id)
        .await
        .map_err(store_error)?
        .ok_or_else(|| not_found(&id))?;
    batches::record(&state.store, &op, "batch.export", &id, json!({ "format": format }))
        .await
        .map_err(store_error)?;
    let rows: Vec<Value> = positions.iter().map(|p| position_view(&state, p)).collect();
    let disposition = format!("attachment; filename=\"{}.{format}\"", s.id);
    if format == "json" {
        let mut v = summary_view(&s);
        v["orders"] = Value::Array(rows);
        return Ok(([(header::CONTENT_DISPOSITION, disposition)], Json(v)).into_response());
    }
    // UTF-8 with a byte-order mark: Excel opens it with the Chinese intact.
    let mut out = String::from("\u{feff}");
    out.push_str(&EXPORT_COLUMNS.join(","));
    out.push_str("\r\n");
    for r in &rows {
        let text = |v: &Value| match v {
            Value::Null => String::new(),
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let fields = [
            text(&r["index"]),
            text(&r["orderId"]),
            text(&r["status"]),
            text(&r["invoiceNumber"]),
            text(&r["issuedAt"]),
            text(&r["error"]["code"]),
            text(&r["error"]["message"]),
            text(&r["files"]["pdf"]),
            text(&r["files"]["ofd"]),
            text(&r["files"]["xml"]),
            if r["duplicate"] == json!(true) {
                "true".into()
            } else {
                String::new()
            },
        ];
        out.push_str(&fields.iter().map(|f| csv_field(f)).collect::<Vec<_>>().join(","));
        out.push_str("\r\n");
    }
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        out,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    #[test]
    fn csv_fields_are_quoted_and_never_formulas() {
        assert_eq!(super::csv_field("a,b"), "\"a,b\"");
        assert_eq!(super::csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(super::csv_field("=1+1"), "'=1+1");
        assert_eq!(super::csv_field("订单-1"), "订单-1");
    }
}
