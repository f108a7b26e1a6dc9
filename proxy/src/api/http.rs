//! The HTTP API (documented in `proxy/openapi.yaml`) and the static files.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{ConnectInfo, DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use fapiao::amount::money::{format_money, format_plain};
use fapiao::amount::{compute_invoice, compute_red, InvoiceInput, LineInput, RedInput, ReversedLine};
use fapiao::request::{build_issue_request, build_red_request, IssueForm, RedForm};
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tower::ServiceBuilder;
use tower_http::compression::{CompressionLayer, CompressionLevel};
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::services::ServeDir;

use crate::problem::{ApiError, ProxyProblem};
use crate::store::{Inserted, NewOrder, Record, Status};
use crate::time::{cst_rfc3339, now_s};
use crate::token::{self, Claims, Purpose, TokenTotals};
use crate::AppState;

pub use extract::{Path, Query};

type S = State<Arc<AppState>>;

/// The demo endpoint's orders: their ids start with this, and demo tokens grant
/// nothing else.
pub const DEMO_PREFIX: &str = "DEMO-";

/// Path and query extractors whose errors are answered in the `{ errors }`
/// envelope like every other error (axum's own answer in plain text).
pub mod extract {
    use axum::extract::FromRequestParts;
    use axum::http::request::Parts;
    use axum::http::StatusCode;
    use serde::de::DeserializeOwned;

    use crate::problem::{ApiError, ProxyProblem};

    /// Path parameters.
    pub struct Path<T>(pub T);
    /// The query string.
    pub struct Query<T>(pub T);

    fn detail(text: String) -> String {
        text.chars().take(160).collect()
    }

    impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Path<T> {
        type Rejection = ApiError;
        async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
            match axum::extract::Path::<T>::from_request_parts(parts, state).await {
                Ok(axum::extract::Path(v)) => Ok(Path(v)),
                Err(e) => Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "path",
                    ProxyProblem::PathInvalid {
                        detail: detail(e.body_text()),
                    },
                )),
            }
        }
    }

    impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Query<T> {
        type Rejection = ApiError;
        async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
            match axum::extract::Query::<T>::from_request_parts(parts, state).await {
                Ok(axum::extract::Query(v)) => Ok(Query(v)),
                Err(e) => Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "query",
                    ProxyProblem::QueryInvalid {
                        detail: detail(e.body_text()),
                    },
                )),
            }
        }
    }
}

/// The whole application: API routes, `/pkg/` (the npm package) and `www/`;
/// `more` are further API routes (delivery, files, admin) under the same guard
/// and limits.
pub fn router(state: Arc<AppState>, more: Router<Arc<AppState>>) -> Router {
    let c = &state.config;
    let mut api = Router::new()
        .route("/v1/invoices", post(create))
        .route("/v1/invoices/{order_id}", get(show))
        .route("/v1/invoices/{order_id}/events", get(events))
        .route("/v1/invoices/{order_id}/red", post(red))
        .route("/v1/callbacks/nuonuo", post(callback))
        .route("/v1/demo/order-token", post(demo_token))
        .route("/v1/demo/operator-key", get(demo_operator_key))
        .route("/v1/demo/receipts/{code}", get(crate::receipt_code::resolve))
        .route("/v1/sellers/{tax_id}", get(super::sellers::public))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .merge(more)
        .route("/v1/{*rest}", axum::routing::any(no_route))
        .layer(DefaultBodyLimit::max(c.body_limit))
        .layer(RequestBodyLimitLayer::new(c.body_limit))
        // Batches carry up to 10,000 orders: a limit of their own.
        .merge(
            super::batch::routes()
                .layer(DefaultBodyLimit::max(c.batch_body_limit))
                .layer(RequestBodyLimitLayer::new(c.batch_body_limit)),
        )
        .layer(middleware::from_fn_with_state(state.clone(), guard));
    if !c.allowed_origins.is_empty() || c.sellers_file.is_some() {
        // FAPIAO_ALLOWED_ORIGINS and every seller's `allowed_origins`, as the
        // sellers in force list them (a reload changes them).
        let fixed: Vec<String> = c.allowed_origins.clone();
        let st = state.clone();
        let allowed = move |origin: &HeaderValue, _: &axum::http::request::Parts| {
            origin
                .to_str()
                .is_ok_and(|o| fixed.iter().any(|f| f == o) || st.sellers.get().origin_allowed(o))
        };
        api = api.layer(
            CorsLayer::new()
                .allow_origin(AllowOrigin::predicate(allowed))
                .allow_methods([Method::GET, Method::POST])
                .allow_headers([header::CONTENT_TYPE, header::AUTHORIZATION])
                .max_age(Duration::from_secs(600)),
        );
    }
    let roots = Arc::new((c.static_dir.clone(), c.pkg_dir.clone()));
    let statics = Router::new()
        // build-pkg.sh writes a `gzip -9` copy beside every module and script of
        // the package: a browser that accepts gzip gets a third of the bytes.
        .nest_service("/pkg", ServeDir::new(&c.pkg_dir).precompressed_gzip())
        // The pages, their scripts and styles: compressed as they are sent (the
        // files are small and may be edited while the proxy runs).
        .fallback_service(
            ServiceBuilder::new()
                .layer(CompressionLayer::new().quality(CompressionLevel::Best))
                .service(ServeDir::new(&c.static_dir)),
        )
        .layer(middleware::from_fn_with_state(roots, static_guard));
    Router::new()
        .merge(api.with_state(state.clone()))
        .fallback_service(statics)
        .layer(middleware::from_fn(target_guard))
}

/// A request target that is not a path (`GET db.sqlite HTTP/1.1`, authority or
/// asterisk form) gets 400 in the envelope.
async fn target_guard(req: Request, next: Next) -> Response {
    let uri = req.uri();
    if !uri.path().starts_with('/') || (uri.scheme().is_none() && uri.authority().is_some()) {
        return ApiError::new(StatusCode::BAD_REQUEST, "path", ProxyProblem::TargetInvalid).into_response();
    }
    next.run(req).await
}

/// `%xx`-decoded path (invalid sequences kept as they are), as the server reads
/// a path segment (`%00` → NUL).
pub fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match (b[i], s.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(v)) => {
                out.push(v);
                i += 3;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The static server serves no dotfile or dot-folder (`.env`, `.git/`) and
/// nothing a symbolic link leads to outside its folder: both are 404.
async fn static_guard(
    State(roots): State<Arc<(std::path::PathBuf, std::path::PathBuf)>>,
    req: Request,
    next: Next,
) -> Response {
    let path = percent_decode(req.uri().path());
    let hidden = path.split(['/', '\\']).any(|seg| seg.starts_with('.'));
    let (root, rel) = match path.strip_prefix("/pkg/") {
        Some(rest) => (&roots.1, rest),
        None => (&roots.0, path.trim_start_matches('/')),
    };
    let inside = async {
        let Ok(base) = tokio::fs::canonicalize(root).await else {
            return true;
        };
        let target = root.join(rel);
        for candidate in [target.clone(), target.join("index.html")] {
            if let Ok(real) = tokio::fs::canonicalize(&candidate).await {
                if !real.starts_with(&base) {
                    return false;
                }
            }
        }
        true
    };
    if hidden || rel.contains('\0') || !inside.await {
        return (StatusCode::NOT_FOUND, "Not Found").into_response();
    }
    next.run(req).await
}

/// An unknown `/v1/` endpoint.
async fn no_route() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "path", ProxyProblem::RouteNotFound)
}

/// A token bucket per client address.
pub struct RateLimiter {
    per_second: f64,
    burst: f64,
    buckets: Mutex<HashMap<IpAddr, (f64, Instant)>>,
}

impl RateLimiter {
    /// `per_second` ≤ 0 turns the limit off.
    pub fn new(per_second: f64, burst: f64) -> RateLimiter {
        RateLimiter {
            per_second,
            burst: burst.max(1.0),
            buckets: Mutex::default(),
        }
    }

    /// Takes one request from the client's budget.
    pub fn allow(&self, ip: IpAddr) -> bool {
        if self.per_second <= 0.0 {
            return true;
        }
        let now = Instant::now();
        let mut b = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if b.len() > 50_000 {
            b.retain(|_, (_, t)| now.duration_since(*t) < Duration::from_secs(60));
        }
        let (tokens, last) = b.entry(ip).or_insert((self.burst, now));
        *tokens = (*tokens + now.duration_since(*last).as_secs_f64() * self.per_second).min(self.burst);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

async fn guard(State(state): S, req: Request, next: Next) -> Response {
    let method = req.method().as_str().to_owned();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned())
        .unwrap_or_else(|| "other".into());
    let ip = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
        .unwrap_or(IpAddr::from([127, 0, 0, 1]));
    let limited = if route.starts_with("/v1/callbacks/") {
        !state.callback_limiter.allow(ip)
    } else {
        route.starts_with("/v1/") && !state.limiter.allow(ip)
    };
    // The JSON endpoints take JSON only (a text/plain or form post is what a
    // cross-site form can send without a CORS preflight); callbacks take forms.
    let json_only = method == "POST"
        && (matches!(
            route.as_str(),
            "/v1/invoices"
                | "/v1/invoices/{order_id}/red"
                | "/v1/demo/order-token"
                | "/v1/invoices/{order_id}/deliver"
                | "/v1/batches"
                | "/v1/batches/{batch_id}/cancel"
        ) || route.starts_with("/v1/admin/"));
    let resp = if limited {
        let mut r = ApiError::new(StatusCode::TOO_MANY_REQUESTS, "client", ProxyProblem::RateLimited).into_response();
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        r
    } else if json_only && !is_json(req.headers().get(header::CONTENT_TYPE)) {
        ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "content-type",
            ProxyProblem::ContentType,
        )
        .into_response()
    } else {
        let resp = next.run(req).await;
        if resp.status() == StatusCode::PAYLOAD_TOO_LARGE {
            // The body limit layers answer in plain text; answer like every other error.
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body",
                ProxyProblem::BodyTooLarge {
                    limit: if route.starts_with("/v1/batches") {
                        state.config.batch_body_limit
                    } else {
                        state.config.body_limit
                    },
                },
            )
            .into_response()
        } else if resp.status() == StatusCode::METHOD_NOT_ALLOWED {
            // The router answers an unknown method with an empty body.
            let allow = resp.headers().get(header::ALLOW).cloned();
            let mut r = ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method",
                ProxyProblem::MethodNotAllowed {
                    method: method.chars().take(20).collect(),
                },
            )
            .into_response();
            if let Some(a) = allow {
                r.headers_mut().insert(header::ALLOW, a);
            }
            r
        } else {
            resp
        }
    };
    state.metrics.request(&method, &route, resp.status().as_u16());
    resp
}

/// `application/json` or `application/<something>+json`, with any parameters.
fn is_json(value: Option<&HeaderValue>) -> bool {
    let Some(v) = value.and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let essence = v.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json"))
}

pub(crate) fn body_invalid(detail: impl Into<String>) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "body",
        ProxyProblem::BodyInvalid { detail: detail.into() },
    )
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Envelope {
    request: Option<Value>,
    order_token: Option<String>,
}

pub(crate) fn envelope(body: &[u8]) -> Result<(Value, String), ApiError> {
    let e: Envelope = serde_json::from_slice(body).map_err(|e| {
        body_invalid(format!(
            "not JSON of the form {{ request, orderToken }} (line {}, column {})",
            e.line(),
            e.column()
        ))
    })?;
    let request = e.request.ok_or_else(|| body_invalid("“request” is missing"))?;
    let token = e
        .order_token
        .filter(|t| !t.trim().is_empty())
        .ok_or_else(|| ApiError::new(StatusCode::UNAUTHORIZED, "orderToken", ProxyProblem::TokenMissing))?;
    Ok((request, token))
}

pub(crate) fn token_error(p: ProxyProblem) -> ApiError {
    let status = match p {
        ProxyProblem::TokenMismatch { .. } => StatusCode::FORBIDDEN,
        _ => StatusCode::UNAUTHORIZED,
    };
    ApiError::new(status, "orderToken", p)
}

pub(crate) fn store_error(e: crate::store::StoreError) -> ApiError {
    tracing::error!(error = %e, "store failure");
    ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "store", ProxyProblem::StoreUnavailable)
}

fn fingerprint(canonical: &str) -> String {
    Sha256::digest(canonical.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Checks signature and `issuedAt`, then (unless the identical order is already
/// stored) expiry. The token is verified under the key of the seller it names
/// (and only that key); the seller is returned with the claims. A token signed
/// with the demo key (demo on) counts only for demo orders of the home seller,
/// blue and red.
pub(crate) fn claims_of(
    state: &AppState,
    token_text: &str,
) -> Result<(Claims, bool, Arc<crate::sellers::Entry>), ApiError> {
    let entry = super::sellers::seller_of_token(state, token_text)?;
    let demo_seller = state.config.demo && entry.seller.tax_id == state.config.seller_tax_id;
    let claims = match token::verify_signature(&entry.seller.merchant_key, token_text) {
        Ok(c) => c,
        Err(ProxyProblem::TokenSignature) if super::sellers::signed_by_another(state, &entry, token_text) => {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "orderToken",
                ProxyProblem::SellerForbidden,
            ))
        }
        Err(ProxyProblem::TokenSignature) if demo_seller => {
            let c = token::verify_signature(&state.demo_key, token_text).map_err(token_error)?;
            if !is_demo(&c.order_id) || c.blue_order_id.as_deref().is_some_and(|b| !is_demo(b)) {
                return Err(token_error(ProxyProblem::TokenSignature));
            }
            c
        }
        Err(e) => return Err(token_error(e)),
    };
    token::check_issued_at(&claims, now_s()).map_err(token_error)?;
    let expired = claims.expires_at <= now_s();
    Ok((claims, expired, entry))
}

fn is_demo(order_id: &str) -> bool {
    order_id.starts_with(DEMO_PREFIX)
}

/// With the 诺诺 order-number prefix, an order id must leave room for it.
fn check_prefix_room(seller: &crate::sellers::Seller, order_id: &str) -> Result<(), ApiError> {
    let prefix = seller.nuonuo.as_ref().map(|n| n.order_prefix.len()).unwrap_or(0);
    if prefix > 0 && prefix + order_id.len() > crate::config::NUONUO_ORDER_NO_MAX {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "orderId",
            ProxyProblem::OrderIdTooLongForPrefix {
                max: crate::config::NUONUO_ORDER_NO_MAX - prefix,
            },
        ));
    }
    Ok(())
}

async fn accept(
    state: &AppState,
    order_id: String,
    kind: &'static str,
    blue: Option<String>,
    canonical: String,
    expired: bool,
) -> Result<Response, ApiError> {
    let fp = fingerprint(&canonical);
    if expired {
        // An expired token may still fetch the order it created, never create one.
        return match state.store.get(&order_id).await.map_err(store_error)? {
            Some(r) if r.fingerprint == fp => Ok((StatusCode::OK, Json(view(state, &r).await)).into_response()),
            _ => Err(token_error(ProxyProblem::TokenExpired)),
        };
    }
    let inserted = state
        .store
        .insert_or_get(order_id, kind, blue, fp.clone(), canonical)
        .await
        .map_err(store_error)?;
    answer(state, inserted, kind, &fp).await
}

/// 202 for a new order; 200 for the same order sent again (same payload, same
/// kind); 409 for a different payload under a used order id.
async fn answer(state: &AppState, inserted: Inserted, kind: &'static str, fp: &str) -> Result<Response, ApiError> {
    match inserted {
        Inserted::New(r) => {
            // The order.accepted webhook event; a stop before this line is made
            // good at the next start (ledger::sweep_accepted) and by any later event.
            if let Err(e) = crate::ledger::emit_accepted(&state.store, &r).await {
                tracing::warn!(order = %r.order_id, error = %e, "order.accepted not written yet");
            }
            state.signals.webhooks.notify_one();
            state.metrics.accepted();
            state
                .metrics
                .seller_accepted(state.sellers.get().seller_of_key(&r.order_id));
            state.events.wake.notify_one();
            tracing::info!(order = %r.order_id, kind, "order accepted");
            Ok((StatusCode::ACCEPTED, Json(view(state, &r).await)).into_response())
        }
        Inserted::Existing(r) if r.fingerprint == fp && r.kind == kind => {
            Ok((StatusCode::OK, Json(view(state, &r).await)).into_response())
        }
        Inserted::Existing(r) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "orderId",
            ProxyProblem::OrderConflict {
                order_id: crate::sellers::order_id_of(&r.order_id).to_owned(),
            },
        )),
    }
}

async fn create(State(state): S, headers: HeaderMap, body: Bytes) -> Result<Response, ApiError> {
    let (request, token_text) = envelope(&body)?;
    let (claims, expired, seller) = claims_of(&state, &token_text)?;
    super::sellers::check_page(&seller, &headers, &body)?;
    let form: IssueForm =
        serde_json::from_value(request).map_err(|e| body_invalid(format!("request: {}", short(&e.to_string()))))?;
    let built = build_issue_request(&form);
    let Some(req) = built.request else {
        return Err(ApiError::invalid(built.errors));
    };
    token::check_issue(&claims, &req, &seller.seller.tax_id).map_err(token_error)?;
    super::sellers::check_invoice_type(&seller.seller, req.invoice_type)?;
    check_prefix_room(&seller.seller, &req.order_id)?;
    let canonical = serde_json::to_string(&req).map_err(|_| body_invalid("request"))?;
    let key = state.sellers.get().key(&seller.seller.tax_id, &req.order_id);
    accept(&state, key, "blue", None, canonical, expired).await
}

fn short(s: &str) -> String {
    s.chars().take(160).collect()
}

async fn red(
    State(state): S,
    Path(blue_ref): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let (request, token_text) = envelope(&body)?;
    let (claims, expired, seller) = claims_of(&state, &token_text)?;
    super::sellers::check_page(&seller, &headers, &body)?;
    let set = state.sellers.get();
    let tax = seller.seller.tax_id.clone();
    // The blue order of the token's seller (a reference naming another seller is refused).
    let blue_key = super::sellers::key_for_seller(&set, &tax, &blue_ref)?;
    let blue_id = crate::sellers::order_id_of(&blue_key).to_owned();
    let mut form: RedForm =
        serde_json::from_value(request).map_err(|e| body_invalid(format!("request: {}", short(&e.to_string()))))?;
    // A quick answer for an unknown blue order; the decisive checks run again
    // inside the store's transaction below.
    state
        .store
        .get(&blue_key)
        .await
        .map_err(store_error)?
        .filter(|r| r.kind == "blue")
        .ok_or_else(|| not_found(&blue_id))?;
    if form.blue_order_id.as_deref().is_some_and(|b| b != blue_id) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "blueOrderId",
            ProxyProblem::OrderNotFound { order_id: blue_id },
        ));
    }
    form.blue_order_id = Some(blue_id.clone());
    if let Some(id) = form.order_id.as_deref() {
        check_prefix_room(&seller.seller, id.trim())?;
    }
    if expired {
        // An expired token may still fetch the order it created, never create one.
        let blue = state
            .store
            .get(&blue_key)
            .await
            .map_err(store_error)?
            .ok_or_else(|| not_found(&blue_id))?;
        let reds = state.store.reds_of(&blue_key).await.map_err(store_error)?;
        let new = prepare_red(&blue, &reds, form, &claims, &tax)?;
        let key = set.key(&tax, &new.order_id);
        return accept(&state, key, "red", Some(blue_key), new.request, true).await;
    }
    // Check "never more than what remains un-reversed" and insert as one
    // transaction: concurrent partial red letters are decided one after another.
    let id = blue_id.clone();
    let (outcome, fp) = state
        .store
        .insert_red_checked(blue_key.clone(), move |blue, reds| {
            let blue = blue.filter(|b| b.kind == "blue").ok_or_else(|| not_found(&id))?;
            let mut new = prepare_red(blue, reds, form, &claims, &tax)?;
            new.order_id = set.key(&tax, &new.order_id);
            Ok(new)
        })
        .await
        .map_err(store_error)??;
    answer(&state, outcome, "red", &fp).await
}

fn not_found(order_id: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "orderId",
        ProxyProblem::OrderNotFound {
            order_id: order_id.to_owned(),
        },
    )
}

/// Validates a red letter against its blue order and the red orders stored for
/// it (failed ones and a retry of this very order aside), and builds the
/// canonical request to store. Runs inside the store's transaction.
fn prepare_red(
    blue: &Record,
    reds: &[Record],
    mut form: RedForm,
    claims: &Claims,
    seller_tax_id: &str,
) -> Result<NewOrder, ApiError> {
    let blue_id = crate::sellers::order_id_of(&blue.order_id).to_owned();
    let this_id = form.order_id.as_deref().map(str::trim).map(str::to_owned);
    // A retry of a red order that exists already must not depend on the blue's state.
    let existing = this_id
        .as_deref()
        .is_some_and(|id| reds.iter().any(|r| crate::sellers::order_id_of(&r.order_id) == id));
    if blue.status != Status::Issued && !existing {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "orderId",
            ProxyProblem::NotReversible { order_id: blue_id },
        ));
    }
    let number = blue.invoice_number.clone().unwrap_or_default();
    if form
        .blue_invoice_number
        .as_deref()
        .map(str::trim)
        .is_none_or(str::is_empty)
    {
        form.blue_invoice_number = Some(number.clone());
    }
    let blue_form: IssueForm = serde_json::from_str(&blue.request).map_err(|_| body_invalid("stored blue order"))?;
    let blue_req = build_issue_request(&blue_form)
        .request
        .ok_or_else(|| body_invalid("stored blue order"))?;
    let blue_input = blue_req.invoice_input();
    // What earlier red orders (not failed, not this one) took already.
    let mut already: Vec<ReversedLine> = Vec::new();
    for prev in reds {
        if prev.status == Status::Failed || Some(crate::sellers::order_id_of(&prev.order_id)) == this_id.as_deref() {
            continue;
        }
        let Ok(f) = serde_json::from_str::<RedForm>(&prev.request) else {
            continue;
        };
        let r = compute_red(&RedInput {
            blue: blue_input.clone(),
            reason: f.reason.clone(),
            lines: f.lines,
            already_reversed: already.clone(),
        });
        for l in r.lines {
            already.push(ReversedLine {
                blue_line_no: l.blue_line_no,
                amount_excl_tax: Some(format_money(l.line.amount_excl_tax).into()),
                tax_amount: Some(format_money(l.line.tax_amount).into()),
                quantity: l.line.quantity.map(|q| format_plain(q).into()),
            });
        }
    }
    form.blue = Some(blue_input);
    form.already_reversed = already;
    let built = build_red_request(&form);
    let Some(req) = built.request else {
        return Err(ApiError::invalid(built.errors));
    };
    if req.blue_invoice_number != number {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "blueInvoiceNumber",
            ProxyProblem::NotReversible { order_id: blue_id },
        ));
    }
    token::check_red(claims, &req, seller_tax_id).map_err(token_error)?;
    let canonical = serde_json::to_string(&req).map_err(|_| body_invalid("request"))?;
    Ok(NewOrder {
        order_id: req.order_id.clone(),
        fingerprint: fingerprint(&canonical),
        request: canonical,
    })
}

/// The public view of a record.
pub async fn view(state: &AppState, r: &Record) -> Value {
    let set = state.sellers.get();
    let seller = set.of_key(&r.order_id).cloned();
    let seller_tax = set.seller_of_key(&r.order_id).to_owned();
    let plain_id = crate::sellers::order_id_of(&r.order_id).to_owned();
    let req: Value = serde_json::from_str(&r.request).unwrap_or(Value::Null);
    let base = format!("/v1/invoices/{}", r.order_id);
    let mut links = json!({ "self": base, "events": format!("{base}/events") });
    if matches!(r.status, Status::Issued | Status::Reversed) {
        for (k, v) in [("pdf", &r.pdf_url), ("ofd", &r.ofd_url), ("xml", &r.xml_url)] {
            if let Some(v) = v {
                links[k] = json!(v);
            }
        }
        if seller.as_ref().map_or(state.provider.name(), |e| e.provider.name()) == "sandbox" {
            links["view"] = json!(format!("{base}/files/html"));
        }
    }
    let error = r.error_code.as_ref().map(|code| {
        json!({ "code": code, "field": r.error_field.as_deref().unwrap_or("order"), "message": r.error_message, "messageEn": r.error_message_en })
    });
    let mut v = json!({
        "orderId": plain_id,
        "sellerTaxId": seller_tax,
        "kind": r.kind,
        "status": r.status,
        "invoiceNumber": r.invoice_number,
        "issuedAt": r.issued_at.map(cst_rfc3339),
        "totals": req.get("totals").cloned().unwrap_or(Value::Null),
        "links": links,
        "error": error,
        "createdAt": cst_rfc3339(r.created_at),
        "updatedAt": cst_rfc3339(r.updated_at),
    });
    if let Some(b) = &r.blue_order_id {
        v["blueOrderId"] = json!(crate::sellers::order_id_of(b));
    }
    super::access::extend_view(state, r, &mut v).await;
    // The proxy's own links carry the access token, so that they open on their
    // own (a new tab, a phone scanning the kiosk's QR code).
    let key = seller
        .as_ref()
        .map_or(&state.config.merchant_key, |e| &e.seller.merchant_key);
    let access = token::access_token(key, &plain_id);
    let with_access = |u: &mut Value| {
        if let Some(s) = u.as_str().filter(|s| s.starts_with("/v1/")) {
            *u = json!(format!("{s}{}access={access}", if s.contains('?') { '&' } else { '?' }));
        }
    };
    if let Some(links) = v["links"].as_object_mut() {
        links.values_mut().for_each(with_access);
    }
    if let Some(files) = v["archive"].as_array_mut() {
        files.iter_mut().for_each(|f| with_access(&mut f["url"]));
    }
    v["accessToken"] = json!(access);
    v
}

/// `?access=` of the read endpoints.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct AccessQuery {
    /// The order's access token.
    pub access: Option<String>,
}

/// Reading an order — its record, event stream or files — needs its access
/// token (`?access=` or `Authorization: Bearer`), its order token (`Bearer`), or
/// the admin token: an order id alone, often guessable, reveals nothing, not
/// even whether the order exists.
///
/// `order_ref` is the order id (of whichever seller the credential is for) or
/// `TAXID:ORDERID`; the answer is the order's store key. A credential of
/// another seller is refused with 403.
pub(crate) fn check_read(
    state: &AppState,
    headers: &HeaderMap,
    access: Option<&str>,
    order_ref: &str,
) -> Result<String, ApiError> {
    super::sellers::resolve_read(state, headers, access, order_ref)
}

/// Whether `t` lets its holder read `order_id` of `seller` (the demo key too,
/// for the demo orders of the demo seller).
pub(crate) fn grants(state: &AppState, seller: &crate::sellers::Seller, order_id: &str, t: &str) -> bool {
    let demo = state.config.demo && is_demo(order_id) && seller.tax_id == state.config.seller_tax_id;
    token::grants_read(&seller.merchant_key, order_id, t) || (demo && token::grants_read(&state.demo_key, order_id, t))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct WaitQuery {
    /// Seconds to wait for a change (long poll), at most 60.
    wait: Option<u64>,
    /// The status the client already knows: answer as soon as it differs.
    since: Option<String>,
    /// `optional=true`: answer 200 with `null` instead of 404 for an unknown order
    /// (a kiosk asking "was this receipt invoiced already?").
    optional: Option<bool>,
    /// The order's access token (or `Authorization: Bearer`).
    access: Option<String>,
}

pub(crate) async fn load(state: &AppState, id: &str) -> Result<Record, ApiError> {
    state.store.get(id).await.map_err(store_error)?.ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "orderId",
            ProxyProblem::OrderNotFound {
                order_id: crate::sellers::order_id_of(id).chars().take(40).collect(),
            },
        )
    })
}

async fn show(
    State(state): S,
    Path(id): Path<String>,
    Query(q): Query<WaitQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let id = check_read(&state, &headers, q.access.as_deref(), &id)?;
    let wait = Duration::from_secs(q.wait.unwrap_or(0).min(60));
    let deadline = tokio::time::Instant::now() + wait;
    let mut rx = state.events.updates.subscribe();
    if q.optional == Some(true) && state.store.get(&id).await.map_err(store_error)?.is_none() {
        return Ok(Json(serde_json::Value::Null).into_response());
    }
    let mut r = load(&state, &id).await?;
    let settled = |r: &Record| match &q.since {
        Some(s) => r.status.as_str() != s,
        None => r.status.is_final(),
    };
    while !wait.is_zero() && !settled(&r) {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Err(_) => break,
            Ok(Ok(changed)) if &*changed != id.as_str() => continue,
            Ok(Err(tokio::sync::broadcast::error::RecvError::Closed)) => break,
            Ok(_) => r = load(&state, &id).await?,
        }
    }
    Ok(Json(view(&state, &r).await).into_response())
}

async fn events(
    State(state): S,
    Path(id): Path<String>,
    Query(q): Query<AccessQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let id = check_read(&state, &headers, q.access.as_deref(), &id)?;
    let rx = state.events.updates.subscribe();
    let first = load(&state, &id).await?;
    struct St {
        state: Arc<AppState>,
        id: String,
        rx: tokio::sync::broadcast::Receiver<Arc<str>>,
        last: Option<Status>,
        pending: Option<Record>,
        done: bool,
    }
    let st = St {
        state,
        id,
        rx,
        last: None,
        pending: Some(first),
        done: false,
    };
    let stream = futures_util::stream::unfold(st, |mut st| async move {
        if st.done {
            return None;
        }
        loop {
            let r = match st.pending.take() {
                Some(r) => r,
                None => {
                    match tokio::time::timeout(Duration::from_secs(300), st.rx.recv()).await {
                        Err(_) => return None,
                        Ok(Ok(changed)) if *changed != *st.id => continue,
                        Ok(Err(tokio::sync::broadcast::error::RecvError::Closed)) => return None,
                        Ok(_) => {}
                    }
                    match st.state.store.get(&st.id).await {
                        Ok(Some(r)) => r,
                        _ => return None,
                    }
                }
            };
            if st.last == Some(r.status) {
                continue;
            }
            st.last = Some(r.status);
            st.done = r.status.is_final();
            let data = view(&st.state, &r).await.to_string();
            let ev: Result<Event, Infallible> = Ok(Event::default().event("status").data(data));
            return Some((ev, st));
        }
    });
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response())
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct CallbackQuery {
    token: Option<String>,
}

/// 诺诺 pushes results here (form-encoded; `invoiceRedCallback` as JSON). A push is
/// only a prompt: the order is re-queried from the provider, the push's content is
/// never trusted.
async fn callback(State(state): S, Query(q): Query<CallbackQuery>, body: Bytes) -> Result<Response, ApiError> {
    if let Some(want) = &state.config.callback_token {
        let given = q.token.unwrap_or_default();
        let ok = given.len() == want.expose().len()
            && given
                .bytes()
                .zip(want.expose().bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0;
        if !ok {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "token",
                ProxyProblem::CallbackUnauthorized,
            ));
        }
    }
    let mut fields: HashMap<String, String> = HashMap::new();
    if let Ok(Value::Object(m)) = serde_json::from_slice::<Value>(&body) {
        for (k, v) in m {
            fields.insert(k, v.as_str().map(str::to_owned).unwrap_or_else(|| v.to_string()));
        }
    } else {
        for (k, v) in form_pairs(&body) {
            fields.insert(k, v);
        }
    }
    let content: Value = fields
        .get("content")
        .and_then(|c| serde_json::from_str(c).ok())
        .unwrap_or(Value::Null);
    let candidates = [
        fields.get("orderno").cloned(),
        content["c_orderno"].as_str().map(str::to_owned),
        fields.get("billId").cloned(),
        content["billId"].as_str().map(str::to_owned),
        content["orderNo"].as_str().map(str::to_owned),
    ];
    let min_interval = state.config.callback_min_interval.as_millis() as i64;
    let mut nudged = false;
    let mut seen = std::collections::HashSet::new();
    // 诺诺 posts its order number (a seller's prefix and the order id), not the
    // seller: the order of that number is prompted at each 诺诺 seller.
    let set = state.sellers.get();
    for no in candidates.into_iter().flatten() {
        for e in set.all() {
            let prefix = e.seller.nuonuo.as_ref().map(|n| n.order_prefix.as_str()).unwrap_or("");
            let id = no.strip_prefix(prefix).unwrap_or(&no).to_owned();
            if id.is_empty() || id.len() > 64 || id.contains(':') {
                continue;
            }
            let key = set.key(&e.seller.tax_id, &id);
            if !seen.insert(key.clone()) {
                continue;
            }
            if state.store.nudge(&key, min_interval).await.unwrap_or(false) {
                nudged = true;
            }
        }
    }
    if nudged {
        state.events.wake.notify_one();
    }
    Ok(Json(json!({ "status": "0000", "message": "同步成功" })).into_response())
}

/// Decodes `application/x-www-form-urlencoded`.
fn form_pairs(body: &[u8]) -> Vec<(String, String)> {
    fn dec(s: &str) -> String {
        let b = s.as_bytes();
        let mut out = Vec::with_capacity(b.len());
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'+' {
                out.push(b' ');
            } else if b[i] == b'%' && i + 2 < b.len() {
                match std::str::from_utf8(&b[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                {
                    Some(v) => {
                        out.push(v);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            } else {
                out.push(b[i]);
            }
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    }
    std::str::from_utf8(body)
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (dec(k), dec(v))
        })
        .collect()
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct DemoBody {
    order_id: Option<String>,
    purpose: Purpose,
    blue_order_id: Option<String>,
    price_includes_tax: bool,
    lines: Vec<LineInput>,
    totals: TokenTotals,
    special_business: Option<fapiao::request::SpecialBusiness>,
    /// Also a short code for the token (see [`crate::receipt_code`]).
    receipt_code: bool,
}

/// Demo only (sandbox): signs an order token for the lines given, as a merchant
/// back end would.
/// The sandbox demo's operator key, for the batch page: 200 with it when the
/// demo drew one (demo on and no operator key configured), else 204 — the page
/// asks on every load, so a deployment with real keys answers without an error.
async fn demo_operator_key(State(state): S) -> Result<Response, ApiError> {
    match &state.config.demo_operator_key {
        Some(key)
            if state.config.demo
                && crate::operator::find(&state.config.operator_keys, key.expose()) == Some("demo") =>
        {
            let body = serde_json::json!({ "name": "demo", "key": key.expose() });
            Ok(([(header::CACHE_CONTROL, "no-store")], axum::Json(body)).into_response())
        }
        _ => Ok(StatusCode::NO_CONTENT.into_response()),
    }
}

async fn demo_token(State(state): S, body: Bytes) -> Result<Response, ApiError> {
    if !state.config.demo || state.provider.name() != "sandbox" {
        return Err(ApiError::new(StatusCode::NOT_FOUND, "path", ProxyProblem::DemoDisabled));
    }
    let b: DemoBody =
        serde_json::from_slice(&body).map_err(|e| body_invalid(format!("line {}, column {}", e.line(), e.column())))?;
    let order_id = b
        .order_id
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| format!("{DEMO_PREFIX}{}", &crate::config::random_key()[..12]));
    // Demo tokens are for demo orders only (signed with the demo key, they grant
    // nothing over any other order anyway).
    if !is_demo(&order_id) || b.blue_order_id.as_deref().is_some_and(|id| !is_demo(id)) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "orderId",
            ProxyProblem::TokenMismatch {
                what: "demo tokens are only for demo orders (DEMO-…)",
                what_zh: "演示令牌仅用于演示订单（DEMO-…）",
            },
        ));
    }
    let mut totals = b.totals;
    if b.purpose == Purpose::Issue {
        let r = compute_invoice(&InvoiceInput {
            price_includes_tax: b.price_includes_tax,
            lines: b.lines.clone(),
            ..Default::default()
        });
        if !r.valid {
            return Err(ApiError::invalid(r.errors));
        }
        totals = TokenTotals {
            amount_incl_tax: Some(format_money(r.totals.amount_incl_tax)),
            amount_excl_tax: Some(format_money(r.totals.amount_excl_tax)),
            tax_amount: Some(format_money(r.totals.tax_amount)),
        };
    }
    let now = now_s();
    let claims = Claims {
        v: 1,
        merchant: state.config.seller_tax_id.clone(),
        purpose: b.purpose,
        order_id: order_id.clone(),
        blue_order_id: b.blue_order_id,
        issued_at: now,
        expires_at: now + 900,
        price_includes_tax: b.price_includes_tax,
        lines: b.lines,
        totals: totals.clone(),
        special_business: b.special_business,
        merchant_name: Some(state.config.seller_name.clone()).filter(|n| !n.is_empty()),
    };
    let t = token::mint(&state.demo_key, &claims);
    let mut answer = json!({ "orderId": order_id, "orderToken": t, "expiresAt": claims.expires_at, "totals": totals });
    if b.receipt_code {
        answer["receiptCode"] = json!(crate::receipt_code::remember(&state, &t).await?);
    }
    Ok(Json(answer).into_response())
}

async fn healthz(State(state): S) -> Response {
    let db = state.store.counts().await.is_ok();
    // A back-off another instance met is this one's too (one token endpoint).
    state.provider.sync_hold().await;
    let hold = state.provider.hold();
    let open = state.breaker.is_open() || hold.is_some();
    let mut body = json!({
        "status": if db && hold.is_none() { "ok" } else { "degraded" },
        "provider": state.provider.name(),
        "breaker": if open { "open" } else { "closed" },
        "database": if db { "ok" } else { "unavailable" },
    });
    // Why the provider is not called: orders stay queued until the next try.
    if let Some(h) = &hold {
        body["reason"] = json!(h.reason);
        body["retryAt"] = json!(cst_rfc3339(h.until_ms));
        body["tokenFailures"] = json!(h.failures);
    } else if let Some(r) = state.breaker.reason() {
        body["reason"] = json!(r);
    }
    // Several sellers: each one's provider and breaker.
    let set = state.sellers.get();
    if set.order.len() > 1 {
        for e in set.all() {
            e.provider.sync_hold().await;
        }
        let sellers: Vec<Value> = set
            .all()
            .map(|e| {
                let hold = e.provider.hold();
                json!({
                    "taxId": e.seller.tax_id,
                    "provider": e.provider.name(),
                    "breaker": if e.breaker.is_open() || hold.is_some() { "open" } else { "closed" },
                    "reason": hold.map(|h| h.reason).or_else(|| e.breaker.reason()),
                })
            })
            .collect();
        body["sellers"] = json!(sellers);
    }
    (
        if db {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        },
        Json(body),
    )
        .into_response()
}

async fn metrics(State(state): S) -> Response {
    let queues = match crate::metrics::queues(&state.store).await {
        Ok(q) => q,
        Err(e) => {
            tracing::error!(error = %e, "metrics: cannot read the queues");
            Default::default()
        }
    };
    let set = state.sellers.get();
    let per_seller: crate::metrics::SellerStates = set
        .all()
        .map(|e| {
            let hold = e.provider.hold();
            (
                e.seller.tax_id.clone(),
                e.breaker.is_open() || hold.is_some(),
                hold.is_some(),
            )
        })
        .collect();
    state.metrics.set_sellers(&queues, &set.home, &per_seller);
    let hold = state.provider.hold();
    let text = state
        .metrics
        .render(&queues, state.breaker.is_open() || hold.is_some(), hold.as_ref());
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

/// Issues seen by a client as `{ errors }` (re-exported for tests).
pub fn errors_of(v: &Value) -> Vec<String> {
    v["errors"]
        .as_array()
        .map(|a| a.iter().filter_map(|e| e["code"].as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}
