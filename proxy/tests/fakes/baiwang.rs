//! A fake 百望云 gateway: `POST /router/rest` with the protocol parameters in
//! the query string. Business calls must carry a valid `sign` (recomputed from
//! the query string and the raw body) and a token the fake gave out;
//! `baiwang.oauth.token` checks the salted password hash or a refresh token.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use md5::{Digest, Md5};
use serde_json::{json, Value};

use super::{Fake, FakeState, Inv, LOST_DELAY_MS};

pub const APP_KEY: &str = "1000001";
pub const APP_SECRET: &str = "bw-app-secret-must-never-leak-55aa";
pub const USERNAME: &str = "admin_fake";
pub const PASSWORD: &str = "bw-password-must-never-leak-11";
pub const SALT: &str = "bw-salt-0f0f";
pub const TAX_NO: &str = "339902999999789113";

type Shared = Arc<Mutex<FakeState>>;

/// The `sign` the fake expects, computed here independently of the client:
/// MD5 over secret, the parameters but `sign` sorted by name (empty ones
/// left out) as name+value, the raw body, secret; upper-case hex.
pub fn expected_sign(secret: &str, q: &HashMap<String, String>, body: &str) -> String {
    let sorted: std::collections::BTreeMap<&str, &str> = q
        .iter()
        .filter(|(k, v)| k.as_str() != "sign" && !v.is_empty())
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let mut text = secret.to_owned();
    for (k, v) in sorted {
        text += k;
        text += v;
    }
    text += body;
    text += secret;
    hex(&Md5::digest(text.as_bytes())).to_ascii_uppercase()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The password hash the fake expects: SHA1 of the MD5 (both lower-case hex) of password + salt.
pub fn expected_password(password: &str, salt: &str) -> String {
    let m = hex(&Md5::digest(format!("{password}{salt}").as_bytes()));
    hex(&<sha1::Sha1 as sha1::Digest>::digest(m.as_bytes()))
}

fn err(code: &str, msg: &str) -> Value {
    json!({ "success": false, "errorResponse": { "code": code, "msg": msg, "subCode": code, "subMessage": msg } })
}

fn ok(method: &str, response: Value) -> Value {
    json!({ "method": method, "requestId": "fake", "success": true, "response": response })
}

fn compact_time(ms: i64) -> String {
    fapiao_proxy::time::cst_plain(ms)
        .chars()
        .filter(|c| c.is_ascii_digit())
        .collect()
}

fn item(i: &Inv) -> Value {
    let mut v = json!({ "orderNo": i.order_no, "serialNo": format!("SN{}", i.order_no) });
    if let Some(f) = &i.fail {
        v["status"] = json!("02");
        v["errorMessage"] = json!(f);
    } else if i.issued() {
        v["status"] = json!("01");
        v["digitInvoiceNo"] = json!(i.number);
        v["invoiceDate"] = json!(compact_time(i.issued_at));
        v["invoiceTotalPriceTax"] = json!(i.amount);
        v["invoiceTotalTax"] = json!(i.tax);
        v["buyerName"] = json!(i.buyer_name);
        if !i.buyer_tax.is_empty() {
            v["buyerTaxNo"] = json!(i.buyer_tax);
        }
        v["invoiceDetailList"] = json!(vec![json!({}); i.lines]);
    } else {
        v["status"] = json!("00");
    }
    v
}

async fn token(f: &Shared, q: &HashMap<String, String>, body: &Value) -> Value {
    let mut s = f.lock().unwrap();
    s.token_calls += 1;
    let g = |k: &str| q.get(k).map(String::as_str).unwrap_or("");
    if g("client_id") != APP_KEY || g("version").is_empty() || g("timestamp").is_empty() {
        s.token_refusals += 1;
        return err("100003", "client_id错误");
    }
    match g("grant_type") {
        "password" => {
            let good = g("client_secret") == APP_SECRET
                && body["username"] == USERNAME
                && body["password"] == expected_password(PASSWORD, SALT)
                && body["password"] != PASSWORD;
            if !good {
                s.token_refusals += 1;
                return err("100004", "用户名或密码错误");
            }
        }
        "refresh_token" => {
            let r = body["refresh_token"].as_str().unwrap_or("");
            if !s.refresh_tokens.remove(r) {
                s.token_refusals += 1;
                return err("100005", "refresh_token无效");
            }
            s.refresh_calls += 1;
        }
        _ => {
            s.token_refusals += 1;
            return err("100006", "grant_type错误");
        }
    }
    let (t, r) = s.new_token();
    ok(
        "baiwang.oauth.token",
        json!({ "access_token": t, "refresh_token": r, "expires_in": 7200, "token_type": "bearer" }),
    )
}

async fn rest(State(f): State<Shared>, Query(q): Query<HashMap<String, String>>, raw: Bytes) -> Json<Value> {
    let text = String::from_utf8(raw.to_vec()).unwrap_or_default();
    let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    let method = q.get("method").cloned().unwrap_or_default();
    if method == "baiwang.oauth.token" {
        return Json(token(&f, &q, &body).await);
    }
    let g = |k: &str| q.get(k).map(String::as_str).unwrap_or("");
    let signed = g("appKey") == APP_KEY
        && g("version") == "6.0"
        && g("format") == "json"
        && g("type") == "sync"
        && !g("requestId").is_empty()
        && !g("timestamp").is_empty()
        && g("sign") == expected_sign(APP_SECRET, &q, &text);
    let mut delay = Duration::ZERO;
    let answer = {
        let mut s = f.lock().unwrap();
        if !signed {
            s.bad_signatures += 1;
            return Json(err("100011", "签名错误"));
        }
        if !s.valid_tokens.contains(g("token")) {
            s.expired_answers += 1;
            return Json(err("100002", "token已过期"));
        }
        if body["taxNo"] != TAX_NO {
            return Json(err("200001", "销方税号未授权"));
        }
        match method.as_str() {
            "baiwang.s.outputinvoice.invoice" => {
                let no = body["orderNo"].as_str().unwrap_or("").to_owned();
                *s.submissions.entry(no.clone()).or_default() += 1;
                let lines = body["invoiceDetailList"].as_array().cloned().unwrap_or_default();
                if no.starts_with("HANG") && s.submissions[&no] == 1 {
                    delay = Duration::from_millis(LOST_DELAY_MS);
                    err("300000", "系统繁忙")
                } else if body["remarks"].as_str().is_some_and(|r| r.contains("#sandbox:reject")) {
                    err("300104", "明细行税额误差超过允许范围")
                } else if body["remarks"].as_str().is_some_and(|r| r.contains("#sandbox:fail")) {
                    err("300101", "购方税号校验失败：购方纳税人识别号不存在")
                } else if s.invoices.contains_key(&no) {
                    err("300102", "订单号重复")
                } else if lines.is_empty()
                    || lines
                        .iter()
                        .any(|l| l["goodsName"].as_str().is_none_or(str::is_empty) || l["goodsTaxRate"].is_null())
                {
                    err("300103", "明细不完整")
                } else {
                    if no.starts_with("LOST") {
                        delay = Duration::from_millis(LOST_DELAY_MS);
                    }
                    let number = s.next_number();
                    let inv = Inv {
                        order_no: no.clone(),
                        red: false,
                        special: body["invoiceTypeCode"] == "01",
                        number,
                        queries: 0,
                        fail: None,
                        issued_at: 0,
                        amount: super::sum(
                            lines
                                .iter()
                                .map(|l| l["goodsTotalPriceTax"].as_str().unwrap_or("0").to_owned()),
                        ),
                        tax: super::sum(
                            lines
                                .iter()
                                .map(|l| l["goodsTotalTax"].as_str().unwrap_or("0").to_owned()),
                        ),
                        buyer_name: body["buyerName"].as_str().unwrap_or("").to_owned(),
                        buyer_tax: body["buyerTaxNo"].as_str().unwrap_or("").to_owned(),
                        lines: lines.len(),
                        request: body.clone(),
                        partial_lines: 0,
                    };
                    s.invoices.insert(no.clone(), inv);
                    ok(
                        &method,
                        json!({ "success": [{ "orderNo": no, "serialNo": format!("SN{no}") }], "fail": [] }),
                    )
                }
            }
            "baiwang.s.outputinvoice.query" => {
                if s.is_broken("query") {
                    err("500000", "查询服务异常")
                } else {
                    let no = body["orderNos"][0].as_str().unwrap_or("").to_owned();
                    let base = s.base.clone();
                    match s.invoices.get_mut(&no) {
                        None => ok(&method, json!([])),
                        Some(i) => {
                            i.queries += 1;
                            if i.queries == 2 {
                                i.issued_at = fapiao_proxy::time::now_ms();
                            }
                            let mut v = item(i);
                            if i.issued() {
                                v["pdfUrl"] = json!(format!("{base}/files/{}.pdf", i.number));
                            }
                            ok(&method, json!([v]))
                        }
                    }
                }
            }
            "baiwang.s.outputinvoice.fastRed" => {
                let no = body["orderNo"].as_str().unwrap_or("").to_owned();
                *s.submissions.entry(no.clone()).or_default() += 1;
                let original = body["originalOrderNo"].as_str().unwrap_or("");
                let blue = s.invoices.get(original).cloned();
                if s.is_broken("red") {
                    err("400000", "冲红服务异常")
                } else if s.invoices.contains_key(&no) {
                    err("300102", "订单号重复")
                } else if blue
                    .as_ref()
                    .is_none_or(|b| !b.issued() || body["originalDigitInvoiceNo"] != b.number.as_str())
                {
                    err("400001", "原蓝票不存在")
                } else {
                    let blue = blue.unwrap();
                    let detail = body["redDetailList"].as_array().cloned().unwrap_or_default();
                    let number = s.next_number();
                    let (amount, tax) = if detail.is_empty() {
                        (format!("-{}", blue.amount), format!("-{}", blue.tax))
                    } else {
                        let a = super::sum(
                            detail
                                .iter()
                                .map(|d| d["goodsTotalPrice"].as_str().unwrap_or("0").to_owned()),
                        );
                        let t = super::sum(
                            detail
                                .iter()
                                .map(|d| d["goodsTotalTax"].as_str().unwrap_or("0").to_owned()),
                        );
                        (super::sum([a, t.clone()].into_iter()), t)
                    };
                    s.invoices.insert(
                        no.clone(),
                        Inv {
                            order_no: no.clone(),
                            red: true,
                            special: blue.special,
                            number,
                            queries: 0,
                            fail: None,
                            issued_at: 0,
                            amount,
                            tax,
                            buyer_name: blue.buyer_name.clone(),
                            buyer_tax: blue.buyer_tax.clone(),
                            lines: if detail.is_empty() { blue.lines } else { detail.len() },
                            request: body.clone(),
                            partial_lines: detail.len(),
                        },
                    );
                    ok(&method, json!({ "redConfirmSerialNo": format!("RC{no}") }))
                }
            }
            "baiwang.s.redconfirm.query" => {
                let serial = body["redConfirmSerialNo"].as_str().unwrap_or("");
                let found = s
                    .invoices
                    .values()
                    .any(|i| i.red && format!("RC{}", i.order_no) == serial);
                if body["operatorType"].is_null() || body["buySelSelector"].is_null() {
                    err("300001", "参数不完整")
                } else if found {
                    ok(
                        &method,
                        json!({ "total": 1, "list": [{ "redConfirmSerialNo": serial, "redConfirmStatus": "01" }] }),
                    )
                } else {
                    ok(&method, json!({ "total": 0, "list": [] }))
                }
            }
            "baiwang.s.outputinvoice.list" => {
                if s.is_broken("list") {
                    err("500001", "列表服务异常")
                } else {
                    // Whole days, China time.
                    let day = |k: &str| format!("{}000000", body[k].as_str().unwrap_or("").replace('-', ""));
                    let from =
                        fapiao_proxy::provider::baiwang::parse_compact_time(&day("startDate")).unwrap_or(i64::MAX);
                    let to = fapiao_proxy::provider::baiwang::parse_compact_time(&day("endDate"))
                        .map_or(i64::MIN, |t| t + 86_400_000);
                    let list: Vec<Value> = s
                        .invoices
                        .values()
                        .filter(|i| i.issued() && i.issued_at >= from && i.issued_at < to)
                        .map(item)
                        .collect();
                    ok(&method, json!({ "total": list.len(), "list": list }))
                }
            }
            other => err("100404", &format!("未知方法 {other}")),
        }
    };
    tokio::time::sleep(delay).await;
    Json(answer)
}

/// Starts a fake 百望 on 127.0.0.1.
pub async fn start() -> Fake {
    let state: Shared = Arc::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    state.lock().unwrap().base = base.clone();
    let app = Router::new()
        .route("/router/rest", post(rest))
        .route("/files/{name}", get(super::file))
        .with_state(state.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Fake { base, state }
}

/// The settings that point `fapiao-proxy` at the fake.
pub fn env(fake: &Fake) -> Vec<(String, String)> {
    [
        ("FAPIAO_PROVIDER", "baiwang".to_owned()),
        ("FAPIAO_SELLER_TAX_ID", TAX_NO.to_owned()),
        ("FAPIAO_SELLER_NAME", "百望沙箱测试企业".to_owned()),
        ("FAPIAO_BAIWANG_GATEWAY_URL", format!("{}/router/rest", fake.base)),
        ("FAPIAO_BAIWANG_APP_KEY", APP_KEY.to_owned()),
        ("FAPIAO_BAIWANG_APP_SECRET", APP_SECRET.to_owned()),
        ("FAPIAO_BAIWANG_USERNAME", USERNAME.to_owned()),
        ("FAPIAO_BAIWANG_PASSWORD", PASSWORD.to_owned()),
        ("FAPIAO_BAIWANG_SALT", SALT.to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}
