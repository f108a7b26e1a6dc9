//! The sellers of the deployment in the API: which seller a token, a page or
//! an order reference belongs to; `GET /v1/sellers/{taxId}` (what a page may
//! show); the admin endpoints `POST /v1/admin/sellers/reload` and
//! `POST /v1/admin/sellers/{taxId}/nuonuo/authorize`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};

use super::access::{bearer, is_admin, require_admin};
use super::http::{body_invalid, Path};
use crate::problem::{ApiError, ProxyProblem};
use crate::sellers::{split_key, Entry, Seller, SellerSet};
use crate::AppState;

fn forbidden(field: &str) -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, field, ProxyProblem::SellerForbidden)
}

/// The `merchant` an order token names (read before its signature is
/// checked, only to pick the key to check it with).
fn named_seller(token_text: &str) -> Option<String> {
    let rest = token_text.trim().strip_prefix("FP1.")?;
    let (payload, _) = rest.split_once('.')?;
    let json = URL_SAFE_NO_PAD.decode(payload).ok()?;
    let v: Value = serde_json::from_slice(&json).ok()?;
    v["merchant"].as_str().map(str::to_owned)
}

/// The seller whose key an order token must verify under: the seller it names.
/// A token naming no seller of the deployment is checked against the seller
/// whose key it verifies under, else the home seller: it fails there (a valid
/// signature over another seller's tax ID is `ORDER_TOKEN_MISMATCH`, 403).
pub(crate) fn seller_of_token(state: &AppState, token_text: &str) -> Result<Arc<Entry>, ApiError> {
    let set = state.sellers.get();
    if let Some(e) = named_seller(token_text).and_then(|tax| set.get(&tax).cloned()) {
        return Ok(e);
    }
    let found = set
        .all()
        .find(|e| crate::token::verify_signature(&e.seller.merchant_key, token_text).is_ok())
        .or_else(|| set.get(&state.config.seller_tax_id))
        .or_else(|| set.all().next())
        .cloned();
    found.ok_or_else(|| forbidden("orderToken"))
}

/// True when the token does not verify under its seller's key but does under
/// another seller's: a seller's back end signing for another seller.
pub(crate) fn signed_by_another(state: &AppState, seller: &Entry, token_text: &str) -> bool {
    let set = state.sellers.get();
    let found = set.all().any(|e| {
        e.seller.tax_id != seller.seller.tax_id
            && crate::token::verify_signature(&e.seller.merchant_key, token_text).is_ok()
    });
    found
}

/// A page of one seller posts that seller's orders only: the envelope's
/// optional `sellerTaxId` must be the token's seller, and a browser's `Origin`
/// must be one of the seller's `allowed_origins` when it lists any.
pub(crate) fn check_page(seller: &Entry, headers: &HeaderMap, body: &[u8]) -> Result<(), ApiError> {
    if let Ok(v) = serde_json::from_slice::<Value>(body) {
        if let Some(t) = v["sellerTaxId"].as_str() {
            if !t.trim().eq_ignore_ascii_case(&seller.seller.tax_id) {
                return Err(forbidden("sellerTaxId"));
            }
        }
    }
    let origins = &seller.seller.allowed_origins;
    if let Some(o) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        let o = o.trim_end_matches('/');
        // The proxy's own pages (same origin) are every seller's.
        let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("");
        let same = o
            .split_once("://")
            .is_some_and(|(_, h)| !host.is_empty() && h.eq_ignore_ascii_case(host));
        if !same && !origins.is_empty() && !origins.iter().any(|a| a == o) {
            return Err(forbidden("origin"));
        }
    }
    Ok(())
}

/// The seller offers the invoice type.
pub(crate) fn check_invoice_type(seller: &Seller, t: fapiao::InvoiceType) -> Result<(), ApiError> {
    let name = match t {
        fapiao::InvoiceType::Special => "special",
        fapiao::InvoiceType::Normal => "normal",
    };
    if seller.invoice_types.iter().any(|x| x == name) {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invoiceType",
            ProxyProblem::InvoiceTypeNotOffered,
        ))
    }
}

/// The store key of an order reference (`ORDERID` or `TAXID:ORDERID`) at the
/// given seller; a reference naming another seller is refused (403).
pub(crate) fn key_for_seller(set: &SellerSet, tax: &str, order_ref: &str) -> Result<String, ApiError> {
    let (named, id) = split_key(order_ref);
    if named.is_some_and(|n| n != tax) {
        return Err(forbidden("orderId"));
    }
    Ok(set.key(tax, id))
}

/// Which order a read is for and whether the credential may read it (see
/// [`super::http::check_read`]).
pub(crate) fn resolve_read(
    state: &AppState,
    headers: &HeaderMap,
    access: Option<&str>,
    order_ref: &str,
) -> Result<String, ApiError> {
    let set = state.sellers.get();
    let creds: Vec<&str> = access.into_iter().chain(bearer(headers)).collect();
    let (named, id) = split_key(order_ref);
    let grants = |e: &Entry| creds.iter().any(|t| super::http::grants(state, &e.seller, id, t));
    match named {
        Some(tax) => {
            let Some(e) = set.get(tax) else {
                if is_admin(state, headers) {
                    return Ok(order_ref.to_owned());
                }
                return Err(denied());
            };
            if grants(e) || is_admin(state, headers) {
                return Ok(set.key(tax, id));
            }
            if set.all().any(|other| other.seller.tax_id != tax && grants(other)) {
                return Err(forbidden("access"));
            }
            Err(denied())
        }
        None => {
            if let Some(e) = set.all().find(|e| grants(e)) {
                return Ok(set.key(&e.seller.tax_id, id));
            }
            if is_admin(state, headers) {
                return Ok(id.to_owned());
            }
            Err(denied())
        }
    }
}

fn denied() -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "access", ProxyProblem::AccessDenied)
}

/// `GET /v1/sellers/{taxId}`: what a page may show of a seller — its name and
/// the invoice types it offers; nothing secret. 404 for a tax ID the
/// deployment does not invoice for.
pub async fn public(State(state): State<Arc<AppState>>, Path(tax): Path<String>) -> Result<Response, ApiError> {
    let set = state.sellers.get();
    let e = set.get(tax.trim().to_ascii_uppercase().as_str()).ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "taxId",
            ProxyProblem::SellerUnknown {
                tax_id: tax.chars().take(20).collect(),
            },
        )
    })?;
    Ok(([(header::CACHE_CONTROL, "public, max-age=60")], Json(e.seller.public())).into_response())
}

/// `POST /v1/admin/sellers/reload`: reads the sellers file again and puts it in
/// force (as SIGHUP does). 200 with the sellers in force; 422 with every
/// problem when the file is not valid (the sellers in force stay).
pub async fn reload(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Result<Response, ApiError> {
    require_admin(&state, &headers)?;
    match state.reload_sellers().await {
        Ok(sellers) => Ok(Json(json!({ "sellers": sellers })).into_response()),
        Err(problems) => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "sellers",
            ProxyProblem::SellersInvalid {
                detail: problems.join("\n"),
            },
        )),
    }
}

/// `POST /v1/admin/sellers/{taxId}/nuonuo/authorize` `{ "code": "…" }`: a
/// third-party 诺诺 app exchanges the authorization code the seller's consent
/// gave for the seller's token (kept in the store, renewed with its refresh
/// token from then on).
pub async fn authorize(
    State(state): State<Arc<AppState>>,
    Path(tax): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    require_admin(&state, &headers)?;
    let v: Value = serde_json::from_slice(&body).map_err(|_| body_invalid("not JSON of the form { code }"))?;
    let code = v["code"]
        .as_str()
        .map(str::trim)
        .filter(|c| !c.is_empty() && c.len() <= 512)
        .ok_or_else(|| body_invalid("“code”: the authorization code"))?;
    let set = state.sellers.get();
    let e = set.get(&tax).ok_or_else(|| unknown(&tax))?;
    exchange(&state, e, code).await
}

/// How long an authorization link stays valid.
const STATE_TTL_S: i64 = 24 * 3600;

/// The `state` of an authorization link: `TAXID.EXPIRES.SIG`, the signature
/// being HMAC-SHA256 under the app's secret (so only this proxy makes them and
/// a code arriving at the redirect is bound to the seller the link was for).
fn state_for(secret: &crate::secret::Secret, tax: &str, expires: i64) -> String {
    use hmac::Mac;
    let mut m = <hmac::Hmac<sha2::Sha256> as Mac>::new_from_slice(secret.expose().as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    m.update(format!("FPS1.{tax}.{expires}").as_bytes());
    format!("{tax}.{expires}.{}", URL_SAFE_NO_PAD.encode(m.finalize().into_bytes()))
}

fn nuonuo_isv(e: &Entry) -> Option<&crate::config::NuonuoSettings> {
    e.seller.nuonuo.as_ref().filter(|n| n.isv)
}

/// `GET /v1/admin/sellers/{taxId}/nuonuo/authorize-url`: the link to send the
/// seller — 诺诺's authorization page for the third-party app, with the app's
/// `redirect_uri` and a signed `state` naming the seller (valid 24 h).
pub async fn authorize_url(
    State(state): State<Arc<AppState>>,
    Path(tax): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    require_admin(&state, &headers)?;
    let set = state.sellers.get();
    let e = set.get(&tax).ok_or_else(|| unknown(&tax))?;
    let n = nuonuo_isv(e).ok_or_else(|| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "taxId",
            ProxyProblem::ProviderUnsupported {
                what: "authorize (not a 诺诺 third-party app)".into(),
            },
        )
    })?;
    let redirect = n.redirect_uri.clone().unwrap_or_default();
    let st = state_for(&n.app_secret, &e.seller.tax_id, crate::time::now_s() + STATE_TTL_S);
    let mut url = reqwest::Url::parse(&n.authorize_url).map_err(|_| body_invalid("authorize_url"))?;
    url.query_pairs_mut()
        .append_pair("appKey", &n.app_key)
        .append_pair("response_type", "code")
        .append_pair("redirect_uri", &redirect)
        .append_pair("state", &st);
    Ok(Json(json!({ "taxId": e.seller.tax_id, "url": url.as_str(), "state": st })).into_response())
}

fn unknown(tax: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "taxId",
        ProxyProblem::SellerUnknown {
            tax_id: tax.chars().take(20).collect(),
        },
    )
}

/// `?code=…&state=…` of the redirect.
#[derive(serde::Deserialize, Default)]
#[serde(default)]
pub struct Redirect {
    code: Option<String>,
    state: Option<String>,
}

/// `GET /v1/callbacks/nuonuo/authorized?code=…&state=…`: where 诺诺 sends the
/// seller back after it authorized the third-party app (the app's
/// `redirect_uri`). The `state` must be one this proxy signed for the seller
/// and not expired; the code is then exchanged for the seller's token.
pub async fn authorized(
    State(state): State<Arc<AppState>>,
    super::http::Query(q): super::http::Query<Redirect>,
) -> Result<Response, ApiError> {
    let refused = || ApiError::new(StatusCode::FORBIDDEN, "state", ProxyProblem::SellerForbidden);
    let st = q.state.unwrap_or_default();
    let code = q
        .code
        .filter(|c| !c.trim().is_empty() && c.len() <= 512)
        .ok_or_else(|| body_invalid("“code”: the authorization code"))?;
    let mut parts = st.splitn(3, '.');
    let (Some(tax), Some(expires), Some(_)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(refused());
    };
    let set = state.sellers.get();
    let e = set.get(tax).ok_or_else(refused)?;
    let n = nuonuo_isv(e).ok_or_else(refused)?;
    let expires: i64 = expires.parse().map_err(|_| refused())?;
    let want = state_for(&n.app_secret, tax, expires);
    let same = want.len() == st.len() && want.bytes().zip(st.bytes()).fold(0u8, |a, (x, y)| a | (x ^ y)) == 0;
    if !same || expires < crate::time::now_s() {
        return Err(refused());
    }
    // Each link is used once (whatever the outcome): a link seen by others
    // cannot be replayed to spend the app's token quota. The store's named
    // lock marks it, until it would have expired anyway.
    let ttl = (expires - crate::time::now_s()).max(1) * 1000;
    let mark = format!("nuonuo.authorize.{}", st.rsplit('.').next().unwrap_or(""));
    match state.store.try_lock(&mark, &crate::config::random_key(), ttl).await {
        Ok(true) => {}
        Ok(false) => return Err(refused()),
        Err(e) => return Err(super::http::store_error(e)),
    }
    exchange(&state, e, code.trim()).await
}

async fn exchange(state: &AppState, e: &Entry, code: &str) -> Result<Response, ApiError> {
    match e.provider.authorize(code).await {
        Ok(()) => {
            state.events.wake.notify_one();
            Ok(Json(json!({ "taxId": e.seller.tax_id, "authorized": true })).into_response())
        }
        Err(crate::provider::ProviderError::Rejected(issue)) => Err(ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            errors: vec![issue],
        }),
        Err(err) => Err(ApiError::new(
            StatusCode::BAD_GATEWAY,
            "code",
            ProxyProblem::ProviderRejected {
                provider_code: err.code().to_owned(),
                detail: err.to_string(),
            },
        )),
    }
}

/// The seller routes (merged into the API router).
pub fn routes() -> axum::Router<Arc<AppState>> {
    use axum::routing::{get, post};
    axum::Router::new()
        .route("/v1/admin/sellers/reload", post(reload))
        .route("/v1/admin/sellers/{tax_id}/nuonuo/authorize", post(authorize))
        .route("/v1/admin/sellers/{tax_id}/nuonuo/authorize-url", get(authorize_url))
        .route("/v1/callbacks/nuonuo/authorized", get(authorized))
}
