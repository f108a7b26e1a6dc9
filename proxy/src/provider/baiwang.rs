//! 百望云 open platform (providers.md §2; every point no source confirms is
//! listed in docs/providers/baiwang.md): protocol parameters in the query
//! string, an MD5 `sign` over them and the body, a password-grant token (the
//! password sent as SHA1(MD5(password + salt))) kept in the store and shared by
//! the instances, `baiwang.s.outputinvoice.invoice`, `.query` by order number,
//! `.fastRed` and the 红字确认单 query `baiwang.s.redconfirm.query`.
//!
//! Gateway and token URLs come from the configuration, so the tests point them
//! at a local fake 百望 that checks every signature and token.

use std::sync::Arc;
use std::time::Duration;

use fapiao::request::{IssueRequest, RedRequest};
use fapiao::taxcode::parse_item_name;
use fapiao::{InvoiceType, Issue};
use futures_util::future::BoxFuture;
use rand::Rng;
use serde_json::{json, Value};

use super::shared_token::{Fetched, SharedToken};
use super::{Accepted, Hold, InvoiceFacts, Issued, Kind, ListedInvoice, Provider, ProviderError, QueryOutcome};
use crate::config::BaiwangSettings;
use crate::problem::{map_fail_cause, ProxyProblem};
use crate::secret::Secret;
use crate::store::Store;
use crate::time::{cst_plain, Clock, SystemClock};

/// The protocol version sent (`version`).
pub const VERSION: &str = "6.0";

/// Error codes on which the token is renewed and the call made once more
/// (nuecms `100001`, `100002`; meilunzhi `1006`).
pub const TOKEN_EXPIRED_CODES: &[&str] = &["100001", "100002", "1006"];

/// The signing rule: `UPPER(hex(MD5(secret + Σ(k + v) + body + secret)))`, the
/// sum over the protocol parameters except `sign`, sorted by key (byte order),
/// empty values skipped.
pub mod sign {
    use md5::{Digest, Md5};

    /// The string that is hashed.
    pub fn string_to_sign(secret: &str, params: &[(&str, &str)], body: &str) -> String {
        let mut p: Vec<&(&str, &str)> = params.iter().filter(|(k, v)| *k != "sign" && !v.is_empty()).collect();
        p.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        let mut s = String::with_capacity(secret.len() * 2 + body.len() + 200);
        s.push_str(secret);
        for (k, v) in p {
            s.push_str(k);
            s.push_str(v);
        }
        s.push_str(body);
        s.push_str(secret);
        s
    }

    /// Upper-case hex MD5 of a text.
    pub fn md5_upper(text: &str) -> String {
        Md5::digest(text.as_bytes())
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect()
    }

    /// The `sign` parameter.
    pub fn sign(secret: &str, params: &[(&str, &str)], body: &str) -> String {
        md5_upper(&string_to_sign(secret, params, body))
    }

    /// Checks a `sign` (for the test double), without regard to case, in time
    /// independent of where the texts differ.
    pub fn verify(secret: &str, params: &[(&str, &str)], body: &str, given: &str) -> bool {
        let want = sign(secret, params, body);
        let given = given.trim().to_ascii_uppercase();
        want.len() == given.len() && want.bytes().zip(given.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
    }

    /// The password as the token endpoint takes it: lower-case hex
    /// SHA1(lower-case hex MD5(password + salt)).
    pub fn password_hash(password: &str, salt: &str) -> String {
        use sha1::Digest as _;
        let md5_hex: String = Md5::digest(format!("{password}{salt}").as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        sha1::Sha1::digest(md5_hex.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

/// The 百望 client.
pub struct Baiwang {
    settings: BaiwangSettings,
    store: Store,
    http: reqwest::Client,
    seller_tax_id: String,
    token: SharedToken,
    clock: Arc<dyn Clock>,
}

/// What one call answered.
#[derive(Debug, Clone)]
pub struct Answer {
    /// `success`.
    pub success: bool,
    /// `response` (success) or `errorResponse` (failure).
    pub body: Value,
    /// The error code (`errorResponse.subCode`, else `.code`), empty on success.
    pub code: String,
    /// The error text (`subMessage`, else `message`/`msg`).
    pub message: String,
}

impl Answer {
    /// A refusal of the access token (`errorResponse.code` or `.subCode` one of
    /// [`TOKEN_EXPIRED_CODES`]).
    pub fn token_expired(&self) -> bool {
        !self.success
            && [
                &self.body["code"],
                &self.body["subCode"],
                &Value::String(self.code.clone()),
            ]
            .iter()
            .filter_map(|v| str_of(v))
            .any(|c| TOKEN_EXPIRED_CODES.contains(&c.as_str()))
    }
}

impl Baiwang {
    /// A client for the given settings; the token is stored in `store`.
    pub fn new(
        settings: BaiwangSettings,
        store: Store,
        seller_tax_id: String,
        timeout: Duration,
    ) -> Result<Baiwang, String> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(Duration::from_secs(5).min(timeout))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("FAPIAO_BAIWANG_GATEWAY_URL: cannot build the HTTP client: {e}"))?;
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let credentials = {
            use sha2::Digest;
            let d = sha2::Sha256::digest(
                format!(
                    "{}\0{}\0{}\0{}",
                    settings.app_key,
                    settings.app_secret.expose(),
                    settings.username,
                    settings.password.expose()
                )
                .as_bytes(),
            );
            d.iter().take(8).map(|b| format!("{b:02x}")).collect()
        };
        let token = SharedToken::new(
            store.clone(),
            "baiwang.access_token",
            "baiwang",
            credentials,
            settings.token_retry_base,
            settings.token_retry_max,
            clock.clone(),
        );
        Ok(Baiwang {
            settings,
            store,
            http,
            seller_tax_id,
            token,
            clock,
        })
    }

    /// The client of one seller among several: a seller other than the home
    /// seller keeps its token under `baiwang.{taxId}.access_token`.
    pub fn for_seller(
        settings: BaiwangSettings,
        store: Store,
        seller_tax_id: String,
        timeout: Duration,
        home: bool,
    ) -> Result<Baiwang, String> {
        let mut b = Baiwang::new(settings, store, seller_tax_id.clone(), timeout)?;
        if !home {
            b.token.rekey(&format!("baiwang.{seller_tax_id}.access_token"));
        }
        Ok(b)
    }

    /// The same client on another clock (tests run token expiry on simulated time).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Baiwang {
        self.token.set_clock(clock.clone());
        self.clock = clock;
        self
    }

    fn now(&self) -> i64 {
        self.clock.now_ms()
    }

    /// 百望's order number for an order: the deployment's prefix and the order id.
    fn order_no(&self, order_id: &str) -> String {
        format!("{}{order_id}", self.settings.order_prefix)
    }

    fn order_id_of<'a>(&self, order_no: &'a str) -> Option<&'a str> {
        order_no.strip_prefix(self.settings.order_prefix.as_str())
    }

    /// The access token (stored, shared, fetched rarely).
    async fn access_token(&self) -> Result<Secret, ProviderError> {
        let http = self.http.clone();
        let s = self.settings.clone();
        let now = self.now();
        self.token
            .get(move |refresh| Box::pin(fetch_token(http, s, refresh, now)))
            .await
    }

    /// The back-off the token keeper is in, if any.
    pub fn token_hold(&self) -> Option<Hold> {
        self.token.hold()
    }

    /// One signed call; a token-expired answer renews the token and calls once more.
    pub async fn call(&self, method: &str, body: &Value) -> Result<Answer, ProviderError> {
        let token = self.access_token().await?;
        let answer = self.call_with(method, body, &token).await?;
        if answer.token_expired() {
            tracing::info!(method, code = %answer.code, "百望 token expired; renewing it");
            self.token.forget(&token).await;
            let token = self.access_token().await?;
            let again = self.call_with(method, body, &token).await?;
            if again.token_expired() {
                self.token.forget(&token).await;
                return Err(ProviderError::Unavailable(format!(
                    "{method}: token refused ({})",
                    again.code
                )));
            }
            return Ok(again);
        }
        Ok(answer)
    }

    async fn call_with(&self, method: &str, body: &Value, token: &Secret) -> Result<Answer, ProviderError> {
        let body = body.to_string();
        let timestamp = crate::time::now_ms().to_string();
        let request_id: String = {
            let mut rng = rand::rng();
            (0..32)
                .map(|_| char::from_digit(rng.random_range(0..16), 16).unwrap_or('0'))
                .collect()
        };
        let mut params: Vec<(&str, &str)> = vec![
            ("method", method),
            ("appKey", &self.settings.app_key),
            ("token", token.expose()),
            ("timestamp", &timestamp),
            ("version", VERSION),
            ("format", "json"),
            ("type", "sync"),
            ("requestId", &request_id),
        ];
        let signature = sign::sign(self.settings.app_secret.expose(), &params, &body);
        params.push(("sign", &signature));
        let url = reqwest::Url::parse_with_params(&self.settings.gateway_url, &params)
            .map_err(|_| ProviderError::Unavailable("FAPIAO_BAIWANG_GATEWAY_URL: not a URL".into()))?;
        let resp = self
            .http
            .post(url)
            .header("Content-Type", "application/json;charset=utf-8")
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
        Ok(answer_of(&v))
    }

    /// The `baiwang.s.outputinvoice.invoice` body; `order_time_ms` is `orderDateTime`.
    pub fn invoice_body(&self, r: &IssueRequest, order_time_ms: i64) -> Value {
        let b = &r.buyer;
        let mut lines = Vec::with_capacity(r.lines.len());
        for (i, l) in r.lines.iter().enumerate() {
            let next_is_discount = r
                .lines
                .get(i + 1)
                .is_some_and(|n| n.kind == fapiao::amount::LineKind::Discount);
            let nature = match (l.kind, next_is_discount) {
                (fapiao::amount::LineKind::Discount, _) => "1",
                (_, true) => "2",
                _ => "0",
            };
            let mut d = json!({
                "goodsLineNo": (i + 1).to_string(),
                "goodsName": parse_item_name(&l.name).name,
                "goodsCode": l.tax_code,
                "goodsTaxRate": l.tax_rate,
                "goodsTotalPrice": l.amount_excl_tax,
                "goodsTotalTax": l.tax_amount,
                "goodsTotalPriceTax": l.amount_incl_tax,
                "invoiceLineNature": nature,
            });
            if let (Some(q), Some(p)) = (&l.quantity, &l.unit_price) {
                d["goodsQuantity"] = json!(q);
                d["goodsPrice"] = json!(p);
            }
            for (k, v) in [
                ("goodsUnit", &l.unit),
                ("goodsSpecification", &l.spec),
                ("preferentialMarkFlag", &l.preferential_policy),
            ] {
                if let Some(v) = v {
                    d[k] = json!(v);
                }
            }
            lines.push(d);
        }
        let mut body = json!({
            "taxNo": self.seller_tax_id,
            "invoiceTypeCode": if r.invoice_type == InvoiceType::Special { "01" } else { "02" },
            "invoiceType": "1",
            "orderNo": self.order_no(&r.order_id),
            "orderDateTime": cst_plain(order_time_ms),
            "priceTaxMark": if r.price_includes_tax { "1" } else { "0" },
            "buyerName": b.name,
            "drawer": self.settings.drawer,
            "invoiceTotalPrice": r.totals.amount_excl_tax,
            "invoiceTotalTax": r.totals.tax_amount,
            "invoiceTotalPriceTax": r.totals.amount_incl_tax,
            "invoiceDetailList": lines,
        });
        let opt = [
            ("buyerTaxNo", b.tax_id.as_str()),
            ("buyerAddress", b.address.as_str()),
            ("buyerTelephone", b.phone.as_str()),
            ("buyerBankName", b.bank_name.as_str()),
            ("buyerBankNumber", b.bank_account.as_str()),
            ("buyerEmail", b.email.as_str()),
            ("buyerPhone", b.mobile.as_str()),
            ("remarks", r.remark.as_str()),
        ];
        for (k, v) in opt {
            if !v.is_empty() {
                body[k] = json!(v);
            }
        }
        if let Some(t) = &self.settings.terminal {
            body["invoiceTerminalCode"] = json!(t);
        }
        body
    }

    fn issued(item: &Value) -> Issued {
        let s = |k: &str| str_of(&item[k]);
        let lines = item["invoiceDetailList"].as_array().map(Vec::len);
        Issued {
            number: s("digitInvoiceNo").or_else(|| s("invoiceNo")).unwrap_or_default(),
            issued_at: s("invoiceDate")
                .as_deref()
                .and_then(parse_compact_time)
                .unwrap_or_else(crate::time::now_ms),
            pdf_url: s("pdfUrl").or_else(|| s("eInvoiceUrl")),
            ofd_url: s("ofdUrl"),
            xml_url: s("xmlUrl"),
            email_notify_status: None,
            phone_notify_status: None,
            facts: InvoiceFacts {
                amount_incl_tax: s("invoiceTotalPriceTax"),
                tax_amount: s("invoiceTotalTax"),
                buyer_tax_id: s("buyerTaxNo"),
                buyer_name: s("buyerName"),
                lines,
            },
        }
    }

    /// `baiwang.s.outputinvoice.query` by order number, with the lines.
    async fn query_result(&self, order_no: &str) -> Result<Option<Value>, ProviderError> {
        let a = self
            .call(
                "baiwang.s.outputinvoice.query",
                &json!({ "taxNo": self.seller_tax_id, "orderNos": [order_no], "detailMark": "1" }),
            )
            .await?;
        if !a.success {
            if is_not_found(&a.message) {
                return Ok(None);
            }
            return Err(ProviderError::Unavailable(format!(
                "outputinvoice.query: {} {}",
                a.code,
                a.message.chars().take(60).collect::<String>()
            )));
        }
        let items = a
            .body
            .as_array()
            .cloned()
            .or_else(|| a.body["list"].as_array().cloned())
            .unwrap_or_default();
        Ok(items.iter().find(|i| i["orderNo"].as_str() == Some(order_no)).cloned())
    }

    fn red_key(order_id: &str) -> String {
        format!("baiwang.red.{order_id}")
    }
}

/// One call to the token endpoint: the refresh grant when a refresh token is
/// stored, else (or when it is refused) the password grant.
async fn fetch_token(
    http: reqwest::Client,
    s: BaiwangSettings,
    refresh: Option<Secret>,
    now: i64,
) -> Result<Fetched, ProviderError> {
    if let Some(r) = refresh {
        let q = [
            ("method", "baiwang.oauth.token"),
            ("grant_type", "refresh_token"),
            ("client_id", s.app_key.as_str()),
            ("version", VERSION),
        ];
        let body = json!({ "refresh_token": r.expose(), "client_id": s.app_key, "grant_type": "refresh_token" });
        match token_call(&http, &s, &q, &body, now).await {
            Ok(f) => return Ok(f),
            Err(e) => tracing::warn!(error = %e, "百望 refresh token refused; using the password grant"),
        }
    }
    let password = sign::password_hash(s.password.expose(), s.salt.expose());
    let q = [
        ("method", "baiwang.oauth.token"),
        ("grant_type", "password"),
        ("client_id", s.app_key.as_str()),
        ("client_secret", s.app_secret.expose()),
        ("version", VERSION),
    ];
    let body = json!({ "username": s.username, "password": password, "client_secret": s.app_secret.expose(), "orgAuthCode": s.salt.expose() });
    token_call(&http, &s, &q, &body, now).await
}

async fn token_call(
    http: &reqwest::Client,
    s: &BaiwangSettings,
    q: &[(&str, &str)],
    body: &Value,
    now: i64,
) -> Result<Fetched, ProviderError> {
    let ts = crate::time::now_ms().to_string();
    let mut params: Vec<(&str, &str)> = q.to_vec();
    params.push(("timestamp", &ts));
    let url = reqwest::Url::parse_with_params(&s.token_url, &params)
        .map_err(|_| ProviderError::Unavailable("FAPIAO_BAIWANG_TOKEN_URL: not a URL".into()))?;
    let resp = http
        .post(url)
        .header("Content-Type", "application/json;charset=utf-8")
        .body(body.to_string())
        .send()
        .await
        .map_err(|e| ProviderError::Unavailable(format!("token endpoint: {}", describe_reqwest(&e))))?;
    let bytes = resp
        .bytes()
        .await
        .map_err(|e| ProviderError::Unavailable(format!("token endpoint: {}", describe_reqwest(&e))))?;
    let v: Value =
        serde_json::from_slice(&bytes).map_err(|_| ProviderError::Unavailable("token endpoint: not JSON".into()))?;
    let a = answer_of(&v);
    let token = a.body["access_token"].as_str().filter(|t| !t.is_empty() && a.success);
    let Some(token) = token else {
        let code: String = if a.code.is_empty() {
            "?".into()
        } else {
            a.code.chars().take(20).collect()
        };
        return Err(ProviderError::Unavailable(format!("token endpoint refused: {code}")));
    };
    let secs = match &a.body["expires_in"] {
        Value::String(t) => t.parse().unwrap_or(7200),
        Value::Number(n) => n.as_i64().unwrap_or(7200),
        _ => 7200,
    };
    // Renew ten minutes early (or at half-life for short tokens).
    let exp = now + (secs - 600.min(secs / 2)).max(1) * 1000;
    Ok(Fetched {
        access: Secret::new(token),
        refresh: a.body["refresh_token"]
            .as_str()
            .filter(|t| !t.is_empty())
            .map(Secret::new),
        expires_at: exp,
    })
}

/// The envelope `{ success, response | errorResponse { code, msg|message, subCode, subMessage } }`.
pub fn answer_of(v: &Value) -> Answer {
    let success = v["success"].as_bool().unwrap_or(false) || v["success"].as_str() == Some("true");
    if success {
        return Answer {
            success,
            body: v["response"].clone(),
            code: String::new(),
            message: String::new(),
        };
    }
    let e = &v["errorResponse"];
    let code = str_of(&e["subCode"]).or_else(|| str_of(&e["code"])).unwrap_or_default();
    let message = str_of(&e["subMessage"])
        .or_else(|| str_of(&e["message"]))
        .or_else(|| str_of(&e["msg"]))
        .unwrap_or_default();
    Answer {
        success,
        body: e.clone(),
        code: code.chars().take(40).collect(),
        message: message.chars().take(300).collect(),
    }
}

fn str_of(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// `yyyyMMddHHmmss` (or `yyyy-MM-dd HH:mm:ss`) China time as epoch ms.
pub fn parse_compact_time(t: &str) -> Option<i64> {
    let d: String = t.chars().filter(|c| c.is_ascii_digit()).collect();
    if d.len() != 14 {
        return t.parse::<i64>().ok().filter(|v| *v > 1_000_000_000_000);
    }
    let n = |a: usize, b: usize| d[a..b].parse::<i64>().ok();
    let (y, mo, da, h, mi, s) = (n(0, 4)?, n(4, 6)?, n(6, 8)?, n(8, 10)?, n(10, 12)?, n(12, 14)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&da) || h > 23 || mi > 59 || s > 59 {
        return None;
    }
    // Days from civil (Howard Hinnant's algorithm).
    let y2 = if mo <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + da - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(((days * 86_400 + h * 3600 + mi * 60 + s) - 8 * 3600) * 1000)
}

/// "Not found" as the query answers it (no such order number).
fn is_not_found(message: &str) -> bool {
    message.contains("不存在") || message.contains("未查询到") || message.contains("无数据")
}

/// A refusal by 百望 mapped onto the package's Issue codes: the buyer's tax ID
/// onto `BUYER_TAXID_NOT_FOUND` at `buyer.taxId` (the code the page knows),
/// a reused order number onto [`ProviderError::Duplicate`], the rest by the
/// message (百望's codes are not published; see docs/providers/baiwang.md).
pub fn map_error(code: &str, message: &str) -> ProviderError {
    if message.contains("重复") {
        return ProviderError::Duplicate;
    }
    let plain = |c: &'static str, field: &str, zh: &str, en: &str| Issue {
        code: c,
        field: field.into(),
        message: zh.into(),
        message_en: en.into(),
        overridable: false,
    };
    let buyer_id = message.contains("购方税号")
        || message.contains("购买方税号")
        || message.contains("购方纳税人识别号")
        || message.contains("购买方纳税人识别号");
    let issue = if buyer_id {
        Issue::new("buyer.taxId", &ProxyProblem::BuyerTaxIdUnknown)
    } else if message.contains("销方税号") || message.contains("销售方税号") || message.contains("未授权") {
        Issue::new("provider", &ProxyProblem::SellerNotRegistered)
    } else if message.contains("税收分类编码") || message.contains("商品编码") {
        plain(
            "TAXCODE_UNKNOWN",
            "provider",
            "税收分类编码匹配失败，请填写正确的编码。",
            "The provider could not match the tax classification code.",
        )
    } else if message.contains("税额") && (message.contains("误差") || message.contains("不一致")) {
        plain(
            "LINE_TAX_TOLERANCE",
            "provider",
            "税额与金额×税率之差超出允许误差。",
            "The tax differs from amount × rate by more than allowed.",
        )
    } else if message.contains("已全额冲红") || message.contains("已冲红") {
        plain(
            "RED_NOTHING_LEFT",
            "provider",
            "该发票已全额冲红，不能重复冲红。",
            "The invoice has already been reversed in full.",
        )
    } else {
        Issue::new(
            "provider",
            &ProxyProblem::ProviderRejected {
                provider_code: code.chars().take(20).collect(),
                detail: message.chars().take(200).collect(),
            },
        )
    };
    ProviderError::Rejected(issue)
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

/// The state of a query item: `issued`, `failed`, `void` or `pending`.
/// 百望's status values are not published; the values below are the ones
/// assumed (docs/providers/baiwang.md), and an item with a number and no
/// failure is taken as issued.
fn status_of(item: &Value) -> &'static str {
    let st = str_of(&item["status"])
        .or_else(|| str_of(&item["invoiceStatus"]))
        .unwrap_or_default();
    match st.as_str() {
        "01" | "1" | "00" | "0" | "success" | "SUCCESS" if has_number(item) => "issued",
        "02" | "2" | "fail" | "FAIL" | "failed" => "failed",
        "03" | "3" | "void" => "void",
        "" if has_number(item) => "issued",
        _ => "pending",
    }
}

fn has_number(item: &Value) -> bool {
    str_of(&item["digitInvoiceNo"])
        .or_else(|| str_of(&item["invoiceNo"]))
        .is_some()
}

impl Provider for Baiwang {
    fn name(&self) -> &'static str {
        "baiwang"
    }

    fn hold(&self) -> Option<Hold> {
        self.token.hold()
    }

    fn sync_hold(&self) -> BoxFuture<'_, ()> {
        Box::pin(self.token.sync_hold())
    }

    fn submit_issue<'a>(&'a self, request: &'a IssueRequest) -> BoxFuture<'a, Result<Accepted, ProviderError>> {
        self.submit_issue_at(request, crate::time::now_ms())
    }

    fn submit_issue_at<'a>(
        &'a self,
        request: &'a IssueRequest,
        order_time_ms: i64,
    ) -> BoxFuture<'a, Result<Accepted, ProviderError>> {
        Box::pin(async move {
            let a = self
                .call(
                    "baiwang.s.outputinvoice.invoice",
                    &self.invoice_body(request, order_time_ms),
                )
                .await?;
            if a.success {
                let serial = str_of(&a.body["serialNo"])
                    .or_else(|| {
                        a.body
                            .as_array()
                            .and_then(|l| l.first())
                            .and_then(|i| str_of(&i["serialNo"]))
                    })
                    .or_else(|| {
                        a.body["success"]
                            .as_array()
                            .and_then(|l| l.first())
                            .and_then(|i| str_of(&i["serialNo"]))
                    });
                return Ok(Accepted { serial });
            }
            if a.code.is_empty() && a.message.is_empty() {
                return Err(ProviderError::Unavailable(
                    "outputinvoice.invoice: neither success nor an error in the answer".into(),
                ));
            }
            Err(map_error(&a.code, &a.message))
        })
    }

    /// `baiwang.s.outputinvoice.fastRed`: the red order's number, the blue
    /// order's number and 数电 number, the reason; for a partial reversal the
    /// lines reversed (negative amounts). The 红字确认单 serial it answers is
    /// kept in the store, for [`Provider::query`].
    fn submit_red<'a>(
        &'a self,
        red: &'a RedRequest,
        blue: &'a IssueRequest,
        blue_number: &'a str,
    ) -> BoxFuture<'a, Result<Accepted, ProviderError>> {
        Box::pin(async move {
            let mut body = json!({
                "taxNo": self.seller_tax_id,
                "orderNo": self.order_no(&red.order_id),
                "originalOrderNo": self.order_no(&red.blue_order_id),
                "originalDigitInvoiceNo": blue_number,
                "redReason": red.reason.code(),
            });
            if let Some(t) = &self.settings.terminal {
                body["invoiceTerminalCode"] = json!(t);
            }
            if !red.full {
                let detail: Vec<Value> = super::red_lines(red, blue)
                    .into_iter()
                    .map(|l| {
                        let mut d = json!({
                            "originalGoodsLineNo": l.blue_line_no.to_string(),
                            "goodsName": l.name,
                            "goodsCode": l.tax_code,
                            "goodsTaxRate": l.tax_rate,
                            "goodsTotalPrice": l.amount_excl_tax,
                            "goodsTotalTax": l.tax_amount,
                        });
                        if let Some((q, p)) = l.quantity_price {
                            d["goodsQuantity"] = json!(q);
                            d["goodsPrice"] = json!(p);
                        }
                        d
                    })
                    .collect();
                body["redDetailList"] = json!(detail);
            }
            let a = self.call("baiwang.s.outputinvoice.fastRed", &body).await?;
            if a.success {
                let serial = str_of(&a.body["redConfirmSerialNo"]);
                if let Some(s) = &serial {
                    let _ = self.store.kv_set(&Self::red_key(&red.order_id), s).await;
                }
                return Ok(Accepted { serial });
            }
            if a.code.is_empty() && a.message.is_empty() {
                return Err(ProviderError::Unavailable(
                    "outputinvoice.fastRed: neither success nor an error in the answer".into(),
                ));
            }
            Err(map_error(&a.code, &a.message))
        })
    }

    fn query<'a>(&'a self, order_id: &'a str, kind: Kind) -> BoxFuture<'a, Result<QueryOutcome, ProviderError>> {
        Box::pin(async move {
            let no = self.order_no(order_id);
            if let Some(item) = self.query_result(&no).await? {
                return Ok(match status_of(&item) {
                    "issued" => QueryOutcome::Issued(Self::issued(&item)),
                    "failed" => QueryOutcome::Failed(map_fail_cause(
                        &str_of(&item["errorMessage"])
                            .or_else(|| str_of(&item["statusMessage"]))
                            .unwrap_or_else(|| "开票失败".into()),
                    )),
                    "void" => QueryOutcome::Failed(map_fail_cause("发票已作废")),
                    _ => QueryOutcome::Pending,
                });
            }
            if kind == Kind::Blue {
                return Ok(QueryOutcome::NotFound);
            }
            // A red order: the 红字确认单 fastRed opened, and where it stands.
            let Some((serial, _)) = self.store.kv_get(&Self::red_key(order_id)).await.ok().flatten() else {
                return Ok(QueryOutcome::NotFound);
            };
            let a = self
                .call(
                    "baiwang.s.redconfirm.query",
                    &json!({ "taxNo": self.seller_tax_id, "operatorType": "2", "buySelSelector": "0", "redConfirmSerialNo": serial }),
                )
                .await?;
            if !a.success {
                return Ok(QueryOutcome::Pending);
            }
            let list = a
                .body
                .as_array()
                .cloned()
                .or_else(|| a.body["list"].as_array().cloned())
                .unwrap_or_default();
            let Some(bill) = list.first() else {
                return Ok(QueryOutcome::Pending);
            };
            let status = str_of(&bill["redConfirmStatus"]).unwrap_or_default();
            Ok(match status.as_str() {
                "05" | "06" | "07" | "08" | "09" | "10" | "16" => QueryOutcome::Failed(Issue::new(
                    "red",
                    &ProxyProblem::RedNotConfirmed {
                        detail: format!("redConfirmStatus {status}"),
                    },
                )),
                _ => QueryOutcome::Pending,
            })
        })
    }

    /// `baiwang.s.outputinvoice.list` per day (`startDate`, `endDate` as
    /// `yyyy-MM-dd` China time, `pageNo`, `pageSize`), keeping the invoices
    /// issued in `[from, to)`.
    fn list_invoices<'a>(
        &'a self,
        from_ms: i64,
        to_ms: i64,
    ) -> BoxFuture<'a, Result<Vec<ListedInvoice>, ProviderError>> {
        Box::pin(async move {
            const PAGE: usize = 50;
            let day = |ms: i64| cst_plain(ms)[..10].to_owned();
            let mut out = Vec::new();
            for page in 1..=200usize {
                let body = json!({
                    "taxNo": self.seller_tax_id,
                    "startDate": day(from_ms),
                    "endDate": day((to_ms - 1).max(from_ms)),
                    "pageNo": page.to_string(),
                    "pageSize": PAGE.to_string(),
                });
                let a = self.call("baiwang.s.outputinvoice.list", &body).await?;
                if !a.success {
                    if is_not_found(&a.message) {
                        break;
                    }
                    return Err(ProviderError::Unavailable(format!(
                        "outputinvoice.list: {} {}",
                        a.code,
                        a.message.chars().take(60).collect::<String>()
                    )));
                }
                let items = a
                    .body
                    .as_array()
                    .cloned()
                    .or_else(|| a.body["list"].as_array().cloned())
                    .unwrap_or_default();
                let n = items.len();
                for item in &items {
                    let Some(no) = str_of(&item["orderNo"]) else { continue };
                    let Some(order_id) = self.order_id_of(&no) else {
                        continue;
                    };
                    let issued_at = str_of(&item["invoiceDate"]).as_deref().and_then(parse_compact_time);
                    if issued_at.is_some_and(|t| t < from_ms || t >= to_ms) {
                        continue;
                    }
                    out.push(ListedInvoice {
                        order_id: order_id.to_owned(),
                        number: str_of(&item["digitInvoiceNo"])
                            .or_else(|| str_of(&item["invoiceNo"]))
                            .unwrap_or_default(),
                        issued_at,
                        status: status_of(item).into(),
                        amount: str_of(&item["invoiceTotalPriceTax"]),
                        buyer_name: str_of(&item["buyerName"]),
                    });
                }
                let total = str_of(&a.body["total"]).and_then(|t| t.parse::<u64>().ok());
                if n < PAGE || total.is_some_and(|t| (page * PAGE) as u64 >= t) {
                    break;
                }
            }
            Ok(out)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::sign::*;
    use super::*;

    #[test]
    fn worked_example_of_providers_md() {
        let params = [
            ("appKey", "1000001"),
            ("format", "json"),
            ("method", "baiwang.s.outputinvoice.query"),
            ("requestId", "req-0001"),
            ("timestamp", "1705285800000"),
            ("token", "tok-abc"),
            ("type", "sync"),
            ("version", "6.0"),
        ];
        let body = r#"{"taxNo":"91110000000000000X","orderNos":["ORD202401150001"],"detailMark":"1"}"#;
        assert_eq!(
            string_to_sign("bw-secret-0001", &params, body),
            r#"bw-secret-0001appKey1000001formatjsonmethodbaiwang.s.outputinvoice.queryrequestIdreq-0001timestamp1705285800000tokentok-abctypesyncversion6.0{"taxNo":"91110000000000000X","orderNos":["ORD202401150001"],"detailMark":"1"}bw-secret-0001"#
        );
        assert_eq!(
            sign("bw-secret-0001", &params, body),
            "58853888E9828DBEEF5449D14168EE54"
        );
        // The order the parameters come in does not matter; `sign` and empty values are left out.
        let mut shuffled: Vec<(&str, &str)> = params.iter().rev().copied().collect();
        shuffled.push(("sign", "whatever"));
        shuffled.push(("orgId", ""));
        assert_eq!(
            sign("bw-secret-0001", &shuffled, body),
            "58853888E9828DBEEF5449D14168EE54"
        );
        assert!(verify(
            "bw-secret-0001",
            &params,
            body,
            "58853888e9828dbeef5449d14168ee54"
        ));
        assert!(!verify(
            "bw-secret-0002",
            &params,
            body,
            "58853888E9828DBEEF5449D14168EE54"
        ));
        assert!(!verify(
            "bw-secret-0001",
            &params,
            &body.replace("0001", "0002"),
            "58853888E9828DBEEF5449D14168EE54"
        ));
    }

    #[test]
    fn md5_and_password_hash_known_values() {
        // RFC 1321 test suite.
        assert_eq!(md5_upper(""), "D41D8CD98F00B204E9800998ECF8427E");
        assert_eq!(md5_upper("abc"), "900150983CD24FB0D6963F7D28E17F72");
        // sha1("900150983cd24fb0d6963f7d28e17f72"), i.e. password "ab" + salt "c".
        assert_eq!(password_hash("ab", "c"), password_hash("a", "bc"));
        assert_eq!(password_hash("ab", "c"), "b349e67445488ae1fad84633400057e759a46fb3");
        assert_ne!(password_hash("ab", "c"), password_hash("ab", "d"));
    }

    #[test]
    fn errors_map_onto_package_codes() {
        let ProviderError::Rejected(i) = map_error("10020", "购方税号不存在") else {
            panic!("not a refusal")
        };
        assert_eq!((i.code, i.field.as_str()), ("BUYER_TAXID_NOT_FOUND", "buyer.taxId"));
        assert_eq!(map_error("x", "订单号重复"), ProviderError::Duplicate);
        let ProviderError::Rejected(i) = map_error("E1", "其他错误") else {
            panic!("not a refusal")
        };
        assert_eq!(i.code, "PROVIDER_REJECTED");
    }

    #[test]
    fn token_expiry_is_read_from_code_or_sub_code() {
        let a = answer_of(
            &json!({ "success": false, "errorResponse": { "code": "100002", "subCode": "isv.token-expired", "msg": "token过期" } }),
        );
        assert!(a.token_expired());
        let a = answer_of(&json!({ "success": false, "errorResponse": { "code": "40001", "subCode": "1006" } }));
        assert!(a.token_expired());
        let a = answer_of(&json!({ "success": false, "errorResponse": { "code": "40001", "subCode": "300101" } }));
        assert!(!a.token_expired());
        assert!(!answer_of(&json!({ "success": true, "response": { "code": "100002" } })).token_expired());
    }

    #[test]
    fn compact_times() {
        assert_eq!(parse_compact_time("20240115103000"), Some(1_705_285_800_000));
        assert_eq!(parse_compact_time("2024-01-15 10:30:00"), Some(1_705_285_800_000));
        assert_eq!(parse_compact_time("20241315103000"), None);
    }
}
