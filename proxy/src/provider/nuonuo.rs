//! 诺诺 / 诺税通 (providers.md §1): access token (fetched rarely, persisted in the
//! store and shared), signed calls to the gateway, `requestBillingNew`,
//! `queryInvoiceResult`, and the 数电 red-letter flow (`saveInvoiceRedConfirm`,
//! `queryInvoiceRedConfirm`; the bureau issues the red 数电电票 automatically).
//!
//! Gateway and token URLs come from the configuration, so the tests point them at
//! a local fake 诺诺 that checks every signature.

use std::time::Duration;

use fapiao::buyer::BuyerKind;
use fapiao::request::{IssueRequest, RedRequest};
use fapiao::taxcode::parse_item_name;
use fapiao::InvoiceType;
use futures_util::future::BoxFuture;
use rand::Rng;
use serde_json::{json, Value};

use super::shared_token::{Fetched, SharedToken};
use super::{
    Accepted, Delivery, Hold, InvoiceFacts, Issued, Kind, ListedInvoice, Provider, ProviderError, QueryOutcome,
};
use crate::config::NuonuoSettings;
use crate::problem::{map_fail_cause, map_nuonuo_code, ProxyProblem};
use crate::secret::Secret;
use crate::store::Store;
use crate::time::{cst_plain, now_ms, Clock, SystemClock};

/// The 诺诺 client.
pub struct Nuonuo {
    settings: NuonuoSettings,
    http: reqwest::Client,
    seller_tax_id: String,
    seller_name: String,
    path: String,
    /// The access token, kept in the store and shared by every instance, with the
    /// back-off after refusals: the token endpoint allows about 50 calls in 30 days
    /// per AppKey (`FAPIAO_NUONUO_TOKEN_RETRY_BASE_MS`, doubling, at most
    /// `FAPIAO_NUONUO_TOKEN_RETRY_MAX_MS`).
    token: SharedToken,
    clock: std::sync::Arc<dyn Clock>,
    store: Store,
}

impl Nuonuo {
    /// A client for the given settings; the token is stored in `store`.
    pub fn new(
        settings: NuonuoSettings,
        store: Store,
        seller_tax_id: String,
        seller_name: String,
        timeout: Duration,
    ) -> Result<Nuonuo, String> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(Duration::from_secs(5).min(timeout))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("FAPIAO_NUONUO_GATEWAY_URL: cannot build the HTTP client: {e}"))?;
        let path = reqwest::Url::parse(&settings.gateway_url)
            .map_err(|_| "FAPIAO_NUONUO_GATEWAY_URL: not a URL".to_owned())?
            .path()
            .to_owned();
        let clock: std::sync::Arc<dyn Clock> = std::sync::Arc::new(SystemClock);
        // Which credentials a refusal was for: a proxy started with others tries at once.
        let credentials = {
            use sha2::Digest;
            let d = sha2::Sha256::digest(format!("{}\0{}", settings.app_key, settings.app_secret.expose()).as_bytes());
            d.iter().take(8).map(|b| format!("{b:02x}")).collect()
        };
        let token = SharedToken::new(
            store.clone(),
            "nuonuo.access_token",
            "nuonuo",
            credentials,
            settings.token_retry_base,
            settings.token_retry_max,
            clock.clone(),
        );
        Ok(Nuonuo {
            settings,
            http,
            seller_tax_id,
            seller_name,
            path,
            token,
            clock,
            store,
        })
    }

    /// The client of one seller among several. A third-party app's token is
    /// the seller's (`nuonuo.isv.{appKey}.{taxId}.access_token`); a self-use
    /// app's is kept under `nuonuo.{taxId}.access_token` unless the seller is
    /// the home seller (`nuonuo.access_token`, as with a single seller).
    pub fn for_seller(
        settings: NuonuoSettings,
        store: Store,
        seller_tax_id: String,
        seller_name: String,
        timeout: Duration,
        home: bool,
    ) -> Result<Nuonuo, String> {
        let (isv, app) = (settings.isv, settings.app_key.clone());
        let mut n = Nuonuo::new(settings, store, seller_tax_id.clone(), seller_name, timeout)?;
        if isv {
            n.token.rekey(&format!("nuonuo.isv.{app}.{seller_tax_id}.access_token"));
        } else if !home {
            n.token.rekey(&format!("nuonuo.{seller_tax_id}.access_token"));
        }
        Ok(n)
    }

    /// Where the authorizing seller's `userId` is kept (third-party apps).
    fn user_key(&self) -> String {
        format!("{}.user", self.token.key())
    }

    /// Third-party apps: exchanges the authorization code the seller's consent
    /// gave (`grant_type=authorization_code`, with the seller's `taxNum` and the
    /// app's `redirect_uri`) and stores the token, the refresh token and the
    /// `userId` the refresh needs. Counts against the app's token quota.
    pub async fn exchange_code(&self, code: &str) -> Result<(), ProviderError> {
        if !self.settings.isv {
            return Err(super::unsupported("authorize (a self-use app needs no authorization)"));
        }
        take_quota(&self.store, &self.settings, self.now()).await?;
        let redirect = self.settings.redirect_uri.clone().unwrap_or_default();
        let form = [
            ("client_id", self.settings.app_key.as_str()),
            ("client_secret", self.settings.app_secret.expose()),
            ("grant_type", "authorization_code"),
            ("code", code),
            ("taxNum", self.seller_tax_id.as_str()),
            ("redirect_uri", redirect.as_str()),
        ];
        let (fetched, user) = token_call(&self.http, &self.settings.token_url, &form, self.now()).await?;
        let user = user.ok_or_else(|| ProviderError::Unavailable("token endpoint: no userId in the answer".into()))?;
        let unavailable = |e: crate::store::StoreError| ProviderError::Unavailable(e.to_string());
        self.store.kv_set(&self.user_key(), &user).await.map_err(unavailable)?;
        self.token.put(&fetched).await.map_err(unavailable)?;
        tracing::info!(seller = %self.seller_tax_id, "诺诺 third-party authorization stored");
        Ok(())
    }

    /// The same client on another clock (tests run the token back-off on simulated time).
    pub fn with_clock(mut self, clock: std::sync::Arc<dyn Clock>) -> Nuonuo {
        self.token.set_clock(clock.clone());
        self.clock = clock;
        self
    }

    fn now(&self) -> i64 {
        self.clock.now_ms()
    }

    /// 诺诺's order number for an order: the deployment's prefix and the order id.
    fn order_no(&self, order_id: &str) -> String {
        format!("{}{order_id}", self.settings.order_prefix)
    }

    /// The order id of a 诺诺 order number, if it carries this deployment's prefix.
    fn order_id_of<'a>(&self, order_no: &'a str) -> Option<&'a str> {
        order_no.strip_prefix(self.settings.order_prefix.as_str())
    }

    /// The access token: from memory, else from the store, else fetched by one
    /// instance for all (see [`SharedToken`]).
    async fn access_token(&self) -> Result<Secret, ProviderError> {
        let (http, settings, now) = (self.http.clone(), self.settings.clone(), self.now());
        let (store, user_key, tax) = (self.store.clone(), self.user_key(), self.seller_tax_id.clone());
        self.token
            .get(move |refresh| {
                Box::pin(async move {
                    if !settings.isv {
                        take_quota(&store, &settings, now).await?;
                        return fetch_token(http, settings, now).await;
                    }
                    // Third-party app: only the seller's authorization gives a
                    // token; after that it is renewed with the refresh token,
                    // `client_id` being the seller's userId (providers.md §1.3).
                    let user = store.kv_get(&user_key).await.ok().flatten().map(|(u, _)| u);
                    let (Some(refresh), Some(user)) = (refresh, user) else {
                        return Err(ProviderError::Unavailable(format!(
                            "not authorized: seller {tax} has not authorized the app (POST /v1/admin/sellers/{tax}/nuonuo/authorize with the code)"
                        )));
                    };
                    take_quota(&store, &settings, now).await?;
                    let form = [
                        ("client_id", user.as_str()),
                        ("client_secret", settings.app_secret.expose()),
                        ("grant_type", "refresh_token"),
                        ("refresh_token", refresh.expose()),
                    ];
                    let (fetched, new_user) = token_call(&http, &settings.token_url, &form, now).await?;
                    if let Some(u) = new_user.filter(|u| *u != user) {
                        let _ = store.kv_set(&user_key, &u).await;
                    }
                    Ok(fetched)
                })
            })
            .await
    }

    /// One signed call; returns `(code, describe, result)`.
    pub async fn call(&self, method: &str, body: &Value) -> Result<(String, String, Value), ProviderError> {
        let token = self.access_token().await?;
        let body = body.to_string();
        let (senid, nonce) = {
            let mut rng = rand::rng();
            let senid: String = (0..32)
                .map(|_| char::from_digit(rng.random_range(0..16), 16).unwrap_or('0'))
                .collect();
            (senid, rng.random_range(10_000_000u32..=99_999_999).to_string())
        };
        let timestamp = (now_ms() / 1000).to_string();
        let sign = super::sign::sign(
            self.settings.app_secret.expose(),
            &self.path,
            &self.settings.app_key,
            &senid,
            &nonce,
            &timestamp,
            &body,
        );
        let url = format!(
            "{}?senid={senid}&nonce={nonce}&timestamp={timestamp}&appkey={}",
            self.settings.gateway_url, self.settings.app_key
        );
        let resp = self
            .http
            .post(url)
            .header("Content-Type", "application/json;charset=utf-8")
            .header("X-Nuonuo-Sign", sign)
            .header("accessToken", token.expose())
            .header("userTax", &self.seller_tax_id)
            .header("method", method)
            .body(body)
            .send()
            .await
            .map_err(|e| ProviderError::Unavailable(format!("{method}: {}", describe_reqwest(&e))))?;
        let status = resp.status();
        if !status.is_success() {
            return Err(ProviderError::Unavailable(format!(
                "{method}: HTTP {}",
                status.as_u16()
            )));
        }
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| ProviderError::Unavailable(format!("{method}: {}", describe_reqwest(&e))))?;
        let v: Value = serde_json::from_slice(&bytes)
            .map_err(|_| ProviderError::Unavailable(format!("{method}: the answer is not JSON")))?;
        let code = v["code"].as_str().unwrap_or("").to_owned();
        let describe = v["describe"].as_str().unwrap_or("").to_owned();
        if code.starts_with("0703") || code == "invalid_token" {
            self.token.forget(&token).await;
            return Err(ProviderError::Unavailable(format!("{method}: token refused ({code})")));
        }
        if code.starts_with("07") {
            // Gateway errors (070601 签名不匹配, …): configuration, not the order.
            return Err(ProviderError::Unavailable(format!("{method}: gateway error {code}")));
        }
        Ok((code, describe, v["result"].clone()))
    }

    /// The `requestBillingNew` body; `order_time_ms` is sent as `invoiceDate`.
    pub fn order_body(&self, r: &IssueRequest, order_time_ms: i64) -> Value {
        let b = &r.buyer;
        let push_mode = match (b.email.is_empty(), b.mobile.is_empty()) {
            (false, false) => "2",
            (false, true) => "0",
            (true, false) => "1",
            (true, true) => "-1",
        };
        let mut details = Vec::with_capacity(r.lines.len());
        for (i, l) in r.lines.iter().enumerate() {
            let next_is_discount = r
                .lines
                .get(i + 1)
                .is_some_and(|n| n.kind == fapiao::amount::LineKind::Discount);
            let property = match (l.kind, next_is_discount) {
                (fapiao::amount::LineKind::Discount, _) => "1",
                (_, true) => "2",
                _ => "0",
            };
            let mut d = json!({
                "goodsName": parse_item_name(&l.name).name,
                "goodsCode": l.tax_code,
                "withTaxFlag": if r.price_includes_tax { "1" } else { "0" },
                "taxRate": l.tax_rate,
                "tax": l.tax_amount,
                "taxExcludedAmount": l.amount_excl_tax,
                "taxIncludedAmount": l.amount_incl_tax,
                "invoiceLineProperty": property,
            });
            if let (Some(q), Some(p)) = (&l.quantity, &l.unit_price) {
                d["num"] = json!(q);
                d["price"] = json!(p);
            }
            for (k, v) in [
                ("unit", &l.unit),
                ("specType", &l.spec),
                ("favouredPolicyFlag", &l.preferential_policy),
            ] {
                if let Some(v) = v {
                    d[k] = json!(v);
                }
            }
            details.push(d);
        }
        let mut order = json!({
            "buyerName": b.name,
            "salerTaxNum": self.seller_tax_id,
            "orderNo": self.order_no(&r.order_id),
            "invoiceDate": cst_plain(order_time_ms),
            "clerk": self.settings.clerk,
            "pushMode": push_mode,
            "invoiceType": "1",
            "invoiceLine": if r.invoice_type == InvoiceType::Special { "bs" } else { "pc" },
            "invoiceDetail": details,
        });
        let opt = [
            ("buyerTaxNum", b.tax_id.as_str()),
            ("buyerTel", b.phone.as_str()),
            ("buyerAddress", b.address.as_str()),
            ("buyerPhone", b.mobile.as_str()),
            ("email", b.email.as_str()),
            ("remark", r.remark.as_str()),
        ];
        for (k, v) in opt {
            if !v.is_empty() {
                order[k] = json!(v);
            }
        }
        for (k, v) in [
            ("salerAddress", &self.settings.seller_address),
            ("salerTel", &self.settings.seller_phone),
            ("salerAccount", &self.settings.seller_bank),
        ] {
            if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
                order[k] = json!(v);
            }
        }
        let buyer_bank = !b.bank_name.is_empty() || !b.bank_account.is_empty();
        if buyer_bank {
            order["buyerAccount"] = json!(format!("{} {}", b.bank_name, b.bank_account).trim());
        }
        // 数电: whose bank account prints (providers.md §1.7 `showBankAccountType`:
        // 0 none, 1 seller, 2 buyer, 3 both). The buyer's prints when the buyer gave
        // one (that is why it is asked for); the seller's when the deployment says so.
        let show = match (buyer_bank, self.settings.show_seller_bank) {
            (true, true) => "3",
            (true, false) => "2",
            (false, true) => "1",
            (false, false) => "",
        };
        if !show.is_empty() {
            order["showBankAccountType"] = json!(show);
        }
        if b.kind == BuyerKind::Person && r.invoice_type == InvoiceType::Normal {
            order["naturalPersonFlag"] = json!("1");
        }
        if let Some(cb) = &self.settings.callback_url {
            order["callBackUrl"] = json!(cb);
        }
        if let Some(kind) = r.special_business.as_ref().and_then(|sb| sb.special_kind()) {
            // 特定业务: providers.md §1.7 documents `specificFactor` (3 建筑服务, 4 货物运输,
            // 5 不动产销售, 6 不动产经营租赁) and only the *names* of the scenario
            // objects `invoiceBuildingInfo` and `invoiceGoodsTransports` (none for
            // 不动产), not their fields. Only `specificFactor` is mapped; the block's
            // data (place, project, transports, property, lease) is not sent until
            // the field names are documented. The line constraints of the type
            // (one line, empty spec/unit/…) are enforced by the core crate.
            order["specificFactor"] = json!(kind.nuonuo());
        }
        json!({ "order": order })
    }

    fn issued(item: &Value) -> Issued {
        let s = |k: &str| match &item[k] {
            Value::String(v) if !v.trim().is_empty() => Some(v.trim().to_owned()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        };
        Issued {
            number: s("allElectronicInvoiceNumber")
                .or_else(|| s("invoiceNo"))
                .unwrap_or_default(),
            issued_at: item["invoiceTime"]
                .as_i64()
                .or_else(|| item["invoiceTime"].as_str().and_then(|t| t.parse().ok()))
                .unwrap_or_else(now_ms),
            pdf_url: s("pdfUrl"),
            ofd_url: s("ofdUrl"),
            xml_url: s("xmlUrl"),
            email_notify_status: notify(&item["emailNotifyStatus"]),
            phone_notify_status: notify(&item["phoneNotifyStatus"]),
            facts: InvoiceFacts {
                amount_incl_tax: s("orderAmount"),
                tax_amount: s("taxAmount"),
                buyer_tax_id: s("payerTaxNo"),
                buyer_name: s("payerName"),
                lines: item["invoiceItems"].as_array().map(Vec::len),
            },
        }
    }

    /// The result by order number, with the lines (`isOfferInvoiceDetail` 1), so
    /// that the invoice found can be compared with the order before it is taken
    /// as the order's.
    async fn query_result(&self, order_id: &str) -> Result<QueryOutcome, ProviderError> {
        let order_id = self.order_no(order_id);
        let order_id = order_id.as_str();
        let (code, describe, result) = self
            .call(
                "nuonuo.OpeMplatform.queryInvoiceResult",
                &json!({ "isOfferInvoiceDetail": "1", "orderNos": [order_id] }),
            )
            .await?;
        if code == "E9500" {
            return Ok(QueryOutcome::NotFound);
        }
        if code != "E0000" {
            return Err(ProviderError::Unavailable(format!(
                "queryInvoiceResult: {code} {}",
                describe.chars().take(60).collect::<String>()
            )));
        }
        let item = result
            .as_array()
            .and_then(|a| a.iter().find(|i| i["orderNo"].as_str() == Some(order_id)).or(a.first()))
            .cloned();
        let Some(item) = item else {
            return Ok(QueryOutcome::NotFound);
        };
        let status = match &item["status"] {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            _ => String::new(),
        };
        Ok(match status.as_str() {
            "2" => QueryOutcome::Issued(Self::issued(&item)),
            "22" | "24" => QueryOutcome::Failed(map_fail_cause(
                item["failCause"]
                    .as_str()
                    .or(item["statusMsg"].as_str())
                    .unwrap_or("开票失败"),
            )),
            "3" | "31" => QueryOutcome::Failed(map_fail_cause("发票已作废")),
            _ => QueryOutcome::Pending,
        })
    }
}

fn notify(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// One item of `queryInvoiceList` or `queryInvoiceResult` as a listed invoice.
/// providers.md §1.11 names the method and its 10-day limit but not its fields;
/// the item is read with the field names of the result query (§1.9).
fn listed(item: &Value) -> Option<ListedInvoice> {
    let s = |k: &str| match &item[k] {
        Value::String(v) if !v.is_empty() => Some(v.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    let order_id = s("orderNo")?;
    let status = match s("status").as_deref() {
        Some("2") => "issued",
        Some("22") | Some("24") => "failed",
        Some("3") | Some("31") => "void",
        _ => "pending",
    };
    Some(ListedInvoice {
        order_id,
        number: s("allElectronicInvoiceNumber")
            .or_else(|| s("invoiceNo"))
            .unwrap_or_default(),
        issued_at: item["invoiceTime"]
            .as_i64()
            .or_else(|| item["invoiceTime"].as_str().and_then(|t| t.parse().ok())),
        status: status.into(),
        amount: s("orderAmount"),
        buyer_name: s("payerName").or_else(|| s("buyerName")),
    })
}

/// 诺诺 allows at most 10 days per `queryInvoiceList` call.
pub const LIST_WINDOW_MS: i64 = 10 * 86_400_000;

/// `[from, to)` split into windows of at most [`LIST_WINDOW_MS`].
pub fn list_windows(from_ms: i64, to_ms: i64) -> Vec<(i64, i64)> {
    let mut out = Vec::new();
    let mut a = from_ms;
    while a < to_ms {
        let b = (a + LIST_WINDOW_MS).min(to_ms);
        out.push((a, b));
        a = b;
    }
    out
}

/// One call to the token endpoint (`client_credentials`).
async fn fetch_token(http: reqwest::Client, settings: NuonuoSettings, now: i64) -> Result<Fetched, ProviderError> {
    let form = [
        ("client_id", settings.app_key.as_str()),
        ("client_secret", settings.app_secret.expose()),
        ("grant_type", "client_credentials"),
    ];
    token_call(&http, &settings.token_url, &form, now).await.map(|(f, _)| f)
}

/// One call to the token endpoint with `form`: the token (with the refresh
/// token, if given) and the `userId` (third-party apps).
async fn token_call(
    http: &reqwest::Client,
    url: &str,
    form: &[(&str, &str)],
    now: i64,
) -> Result<(Fetched, Option<String>), ProviderError> {
    let resp = http
        .post(url)
        .header("Content-Type", "application/x-www-form-urlencoded;charset=UTF-8")
        .body(serde_urlencoded(form))
        .send()
        .await
        .map_err(|e| ProviderError::Unavailable(format!("token endpoint: {}", describe_reqwest(&e))))?;
    let bytes = resp
        .bytes()
        .await
        .map_err(|e| ProviderError::Unavailable(format!("token endpoint: {}", describe_reqwest(&e))))?;
    let v: Value =
        serde_json::from_slice(&bytes).map_err(|_| ProviderError::Unavailable("token endpoint: not JSON".into()))?;
    let Some(token) = v["access_token"].as_str().filter(|t| !t.is_empty()) else {
        let code = v["error"].as_str().unwrap_or("?").chars().take(20).collect::<String>();
        // A wrong AppKey/AppSecret or an exhausted quota will not heal by retrying soon.
        return Err(ProviderError::Unavailable(format!("token endpoint refused: {code}")));
    };
    let secs = match &v["expires_in"] {
        Value::String(s) => s.parse().unwrap_or(86_400),
        Value::Number(n) => n.as_i64().unwrap_or(86_400),
        _ => 86_400,
    };
    // Renew an hour early (or at half-life for short tokens).
    let expires_at = now + (secs - 3600.min(secs / 2)).max(1) * 1000;
    let text = |k: &str| match &v[k] {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    Ok((
        Fetched {
            access: Secret::new(token),
            refresh: text("refresh_token").map(Secret::new),
            expires_at,
        },
        text("userId"),
    ))
}

/// 30 days in ms: the window of 诺诺's token quota.
const QUOTA_WINDOW_MS: i64 = 30 * 86_400_000;

/// The store key counting an app's token calls.
fn quota_key(app_key: &str) -> String {
    format!("nuonuo.token_calls.{app_key}")
}

/// The token calls made for `app_key` in the 30 days before `now` (by every
/// seller and instance on the store).
pub async fn token_calls(store: &Store, app_key: &str, now: i64) -> usize {
    let calls: Vec<i64> = match store.kv_get(&quota_key(app_key)).await {
        Ok(Some((v, _))) => serde_json::from_str(&v).unwrap_or_default(),
        _ => Vec::new(),
    };
    calls.iter().filter(|t| **t > now - QUOTA_WINDOW_MS).count()
}

/// Counts one token call against the app's quota (`token_quota` per 30 days,
/// shared by all the sellers a third-party app serves), or refuses when the
/// quota is used up: the token endpoint is then not called at all.
async fn take_quota(store: &Store, settings: &NuonuoSettings, now: i64) -> Result<(), ProviderError> {
    let key = quota_key(&settings.app_key);
    let lock = format!("{key}.lock");
    let owner = crate::config::random_key();
    let mut locked = false;
    for _ in 0..100 {
        match store.try_lock(&lock, &owner, 10_000).await {
            Ok(true) => {
                locked = true;
                break;
            }
            Ok(false) => tokio::time::sleep(Duration::from_millis(100)).await,
            Err(e) => return Err(ProviderError::Unavailable(format!("token quota: {e}"))),
        }
    }
    if !locked {
        return Err(ProviderError::Unavailable("token quota: the counter is busy".into()));
    }
    let mut calls: Vec<i64> = match store.kv_get(&key).await {
        Ok(Some((v, _))) => serde_json::from_str(&v).unwrap_or_default(),
        _ => Vec::new(),
    };
    calls.retain(|t| *t > now - QUOTA_WINDOW_MS);
    calls.sort_unstable();
    let out = if calls.len() >= settings.token_quota as usize {
        let next = calls.first().copied().unwrap_or(now) + QUOTA_WINDOW_MS;
        Err(ProviderError::Unavailable(format!(
            "token quota used: {} token calls in 30 days for this app; the next is allowed at {}",
            calls.len(),
            crate::time::cst_rfc3339(next)
        )))
    } else {
        calls.push(now);
        store
            .kv_set(&key, &serde_json::to_string(&calls).unwrap_or_default())
            .await
            .map_err(|e| ProviderError::Unavailable(format!("token quota: {e}")))
    };
    let _ = store.unlock(&lock, &owner).await;
    out
}

fn describe_reqwest(e: &reqwest::Error) -> &'static str {
    if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connection failed"
    } else {
        "request failed"
    }
}

fn serde_urlencoded(pairs: &[(&str, &str)]) -> String {
    fn enc(s: &str) -> String {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
                b' ' => "+".into(),
                _ => format!("%{b:02X}"),
            })
            .collect()
    }
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

impl Provider for Nuonuo {
    fn name(&self) -> &'static str {
        "nuonuo"
    }

    fn hold(&self) -> Option<Hold> {
        self.token.hold()
    }

    fn sync_hold(&self) -> BoxFuture<'_, ()> {
        Box::pin(self.token.sync_hold())
    }

    fn authorize<'a>(&'a self, code: &'a str) -> BoxFuture<'a, Result<(), ProviderError>> {
        Box::pin(self.exchange_code(code))
    }

    fn submit_issue<'a>(&'a self, request: &'a IssueRequest) -> BoxFuture<'a, Result<Accepted, ProviderError>> {
        self.submit_issue_at(request, now_ms())
    }

    fn submit_issue_at<'a>(
        &'a self,
        request: &'a IssueRequest,
        order_time_ms: i64,
    ) -> BoxFuture<'a, Result<Accepted, ProviderError>> {
        Box::pin(async move {
            let (code, describe, result) = self
                .call(
                    "nuonuo.OpeMplatform.requestBillingNew",
                    &self.order_body(request, order_time_ms),
                )
                .await?;
            match code.as_str() {
                "E0000" => Ok(Accepted {
                    serial: result["invoiceSerialNum"].as_str().map(str::to_owned),
                }),
                "E9106" => Err(ProviderError::Duplicate),
                "" => Err(ProviderError::Unavailable(
                    "requestBillingNew: no code in the answer".into(),
                )),
                _ => Err(ProviderError::Rejected(map_nuonuo_code(&code, &describe))),
            }
        })
    }

    fn submit_red<'a>(
        &'a self,
        red: &'a RedRequest,
        blue: &'a IssueRequest,
        blue_number: &'a str,
    ) -> BoxFuture<'a, Result<Accepted, ProviderError>> {
        Box::pin(async move {
            let mut body = json!({
                "billId": self.order_no(&red.order_id),
                "blueInvoiceLine": if blue.invoice_type == InvoiceType::Special { "bs" } else { "pc" },
                "applySource": "0",
                "blueElecInvoiceNumber": blue_number,
                "sellerTaxNo": self.seller_tax_id,
                "sellerName": self.seller_name,
                "buyerName": blue.buyer.name,
                "redReason": red.reason.nuonuo(),
                "autoInvoice": "1",
                "orderNo": self.order_no(&red.order_id),
            });
            if !blue.buyer.tax_id.is_empty() {
                body["buyerTaxNo"] = json!(blue.buyer.tax_id);
            }
            if let Some(cb) = &self.settings.callback_url {
                body["callbackUrl"] = json!(cb);
            }
            if !red.full {
                let detail: Vec<Value> = super::red_lines(red, blue)
                    .into_iter()
                    .map(|l| {
                        let mut d = json!({
                            "blueDetailIndex": l.blue_line_no.to_string(),
                            "goodsName": l.name,
                            "goodsCode": l.tax_code,
                            "taxExcludedAmount": l.amount_excl_tax,
                            "taxAmount": l.tax_amount,
                            "taxRate": l.tax_rate,
                        });
                        if let Some((q, p)) = l.quantity_price {
                            d["num"] = json!(q);
                            d["taxExcludedPrice"] = json!(p);
                        }
                        d
                    })
                    .collect();
                body["detail"] = json!(detail);
            }
            let (code, describe, result) = self.call("nuonuo.OpeMplatform.saveInvoiceRedConfirm", &body).await?;
            match code.as_str() {
                "E0000" => Ok(Accepted {
                    serial: result.as_str().map(str::to_owned),
                }),
                "E9106" => Err(ProviderError::Duplicate),
                "" => Err(ProviderError::Unavailable(
                    "saveInvoiceRedConfirm: no code in the answer".into(),
                )),
                _ => Err(ProviderError::Rejected(map_nuonuo_code(&code, &describe))),
            }
        })
    }

    /// `nuonuo.OpeMplatform.deliveryInvoice` (providers.md §1.11): `taxnum`,
    /// `invoiceCode` (empty for 数电), `invoiceNum` (the 20-digit number), `phone`, `mail`.
    fn deliver<'a>(&'a self, d: &'a Delivery) -> BoxFuture<'a, Result<(), ProviderError>> {
        Box::pin(async move {
            let mut body = json!({ "taxnum": self.seller_tax_id, "invoiceCode": "", "invoiceNum": d.invoice_number });
            if let Some(p) = &d.phone {
                body["phone"] = json!(p);
            }
            if let Some(m) = &d.email {
                body["mail"] = json!(m);
            }
            let (code, describe, _) = self.call("nuonuo.OpeMplatform.deliveryInvoice", &body).await?;
            match code.as_str() {
                "E0000" => Ok(()),
                "" => Err(ProviderError::Unavailable(
                    "deliveryInvoice: no code in the answer".into(),
                )),
                _ => Err(ProviderError::Rejected(map_nuonuo_code(&code, &describe))),
            }
        })
    }

    /// `nuonuo.OpeMplatform.queryInvoiceList`, one call per window of at most 10
    /// days and per page of 50 (`taxnum`, `startTime`, `endTime` as
    /// `yyyy-MM-dd HH:mm:ss` China time, `pageNo`, `pageSize`; the answer's
    /// `result` is a list or `{ total, list }`).
    fn list_invoices<'a>(
        &'a self,
        from_ms: i64,
        to_ms: i64,
    ) -> BoxFuture<'a, Result<Vec<ListedInvoice>, ProviderError>> {
        Box::pin(async move {
            const PAGE: usize = 50;
            let mut out = Vec::new();
            for (a, b) in list_windows(from_ms, to_ms) {
                for page in 1..=200 {
                    let body = json!({
                        "taxnum": self.seller_tax_id,
                        "startTime": cst_plain(a),
                        "endTime": cst_plain(b - 1000),
                        "pageNo": page.to_string(),
                        "pageSize": PAGE.to_string(),
                    });
                    let (code, describe, result) = self.call("nuonuo.OpeMplatform.queryInvoiceList", &body).await?;
                    if code == "E9500" {
                        break;
                    }
                    if code != "E0000" {
                        return Err(ProviderError::Unavailable(format!(
                            "queryInvoiceList: {code} {}",
                            describe.chars().take(60).collect::<String>()
                        )));
                    }
                    let items = result
                        .as_array()
                        .or_else(|| result["list"].as_array())
                        .cloned()
                        .unwrap_or_default();
                    let n = items.len();
                    // With a prefix, invoices without it are other systems' (not this proxy's).
                    out.extend(items.iter().filter_map(listed).filter_map(|mut l| {
                        l.order_id = self.order_id_of(&l.order_id)?.to_owned();
                        Some(l)
                    }));
                    let total = result["total"]
                        .as_u64()
                        .or_else(|| result["total"].as_str().and_then(|t| t.parse().ok()));
                    if n < PAGE || total.is_some_and(|t| (page * PAGE) as u64 >= t) {
                        break;
                    }
                }
            }
            Ok(out)
        })
    }

    fn query<'a>(&'a self, order_id: &'a str, kind: Kind) -> BoxFuture<'a, Result<QueryOutcome, ProviderError>> {
        Box::pin(async move {
            let found = self.query_result(order_id).await?;
            if kind == Kind::Blue || found != QueryOutcome::NotFound {
                return Ok(found);
            }
            // A red order: is there a 确认单, and where does it stand?
            let (code, _, result) = self
                .call(
                    "nuonuo.OpeMplatform.queryInvoiceRedConfirm",
                    &json!({ "identity": "0", "billId": self.order_no(order_id), "pageNo": "1", "pageSize": "10" }),
                )
                .await?;
            if code != "E0000" {
                return Ok(QueryOutcome::NotFound);
            }
            let Some(bill) = result["list"].as_array().and_then(|l| l.first()).cloned() else {
                return Ok(QueryOutcome::NotFound);
            };
            let status = bill["billStatus"].as_str().unwrap_or("").to_owned();
            Ok(match status.as_str() {
                "05" | "06" | "07" | "08" | "09" | "10" | "16" => QueryOutcome::Failed(fapiao::Issue::new(
                    "red",
                    &ProxyProblem::RedNotConfirmed {
                        detail: format!("billStatus {status}"),
                    },
                )),
                _ => QueryOutcome::Pending,
            })
        })
    }
}
