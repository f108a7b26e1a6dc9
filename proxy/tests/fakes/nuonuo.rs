//! A fake 诺诺 open platform: `POST /accessToken` (form, client credentials)
//! and `POST /open/v1/services` with `X-Nuonuo-Sign` checked against the query
//! string and the raw body, the `accessToken` header against the tokens given.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use hmac::Mac;
use serde_json::{json, Value};

use super::{Fake, FakeState, Inv, LOST_DELAY_MS};

pub const APP_KEY: &str = "CONFAPPKEY01";
pub const APP_SECRET: &str = "nn-app-secret-must-never-leak-77bb";
pub const TAX_NO: &str = "339902999999789113";
/// The third-party (ISV) app: sellers authorize it, it acts with `userTax`.
pub const ISV_APP_KEY: &str = "CONFISVAPP01";
pub const ISV_APP_SECRET: &str = "nn-isv-secret-must-never-leak-99cc";
pub const ISV_REDIRECT: &str = "https://isv.example.com/nuonuo/authorized";
/// Token calls the fake allows per app (诺诺: 50 in 30 days), then 070306.
pub const TOKEN_QUOTA: u32 = 50;

type Shared = Arc<Mutex<FakeState>>;

/// The `X-Nuonuo-Sign` the fake expects, computed here independently of the
/// client: Base64(HMAC-SHA1(secret, "a=services&l=v1&p=open&k=…&i=…&n=…&t=…&f=" + body)).
pub fn expected_sign(secret: &str, senid: &str, nonce: &str, timestamp: &str, body: &str) -> String {
    expected_sign_for(APP_KEY, secret, senid, nonce, timestamp, body)
}

/// [`expected_sign`] for another app.
pub fn expected_sign_for(app: &str, secret: &str, senid: &str, nonce: &str, timestamp: &str, body: &str) -> String {
    let text = format!("a=services&l=v1&p=open&k={app}&i={senid}&n={nonce}&t={timestamp}&f={body}");
    let mut m = hmac::Hmac::<sha1::Sha1>::new_from_slice(secret.as_bytes()).unwrap();
    m.update(text.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(m.finalize().into_bytes())
}

fn answer(code: &str, describe: &str, result: Value) -> Value {
    json!({ "code": code, "describe": describe, "result": result })
}

fn form(body: &str) -> HashMap<String, String> {
    body.split('&')
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| {
            let v = v.replace('+', " ");
            let mut out = Vec::new();
            let b = v.as_bytes();
            let mut i = 0;
            while i < b.len() {
                if b[i] == b'%' && i + 2 < b.len() {
                    if let Ok(x) = u8::from_str_radix(&v[i + 1..i + 3], 16) {
                        out.push(x);
                        i += 3;
                        continue;
                    }
                }
                out.push(b[i]);
                i += 1;
            }
            (k.to_owned(), String::from_utf8_lossy(&out).into_owned())
        })
        .collect()
}

/// The third-party grants (providers.md §1.3): `authorization_code` with the
/// seller's `taxNum` and the app's `redirect_uri`; `refresh_token` with
/// `client_id` = the seller's userId. Each answer carries a new refresh token.
fn isv_token(s: &mut FakeState, f: &HashMap<String, String>) -> Json<Value> {
    let get = |k: &str| f.get(k).cloned().unwrap_or_default();
    let refuse = |s: &mut FakeState, code: &str, d: &str| {
        s.token_refusals += 1;
        Json(json!({ "error": code, "error_description": d }))
    };
    if get("client_secret") != ISV_APP_SECRET {
        return refuse(s, "070305", "Incorrect clientSecret");
    }
    let calls = s.app_token_calls.entry(ISV_APP_KEY.into()).or_default();
    *calls += 1;
    if *calls > TOKEN_QUOTA {
        return refuse(s, "070306", "The number of calls is limited");
    }
    let (tax, user) = match get("grant_type").as_str() {
        "authorization_code" => {
            if get("client_id") != ISV_APP_KEY || get("redirect_uri") != ISV_REDIRECT {
                return refuse(s, "070304", "Incorrect clientId");
            }
            match s.isv_codes.remove(&get("code")) {
                Some(tax) if tax == get("taxNum") => {
                    s.isv_exchanges += 1;
                    (tax.clone(), format!("U{tax}"))
                }
                _ => return refuse(s, "070308", "Incorrect code"),
            }
        }
        "refresh_token" => {
            let user = get("client_id");
            match s.isv_users.get(&user).cloned() {
                Some((tax, refresh)) if refresh == get("refresh_token") => {
                    s.isv_refreshes += 1;
                    (tax, user)
                }
                _ => return refuse(s, "070304", "Incorrect clientId"),
            }
        }
        _ => return refuse(s, "070307", "Incorrect appType"),
    };
    let (t, r) = s.new_token();
    s.isv_token_tax.insert(t.clone(), tax.clone());
    s.isv_users.insert(user.clone(), (tax, r.clone()));
    Json(
        json!({ "access_token": t, "expires_in": 86400, "refresh_token": r, "userId": user, "oauthUser": { "userName": "fake" } }),
    )
}

async fn token(State(f): State<Shared>, body: String) -> Json<Value> {
    let mut s = f.lock().unwrap();
    s.token_calls += 1;
    let fields = form(&body);
    if fields.get("grant_type").map(String::as_str) != Some("client_credentials") {
        return isv_token(&mut s, &fields);
    }
    if !body.contains(&format!("client_id={APP_KEY}"))
        || !body.contains(&format!("client_secret={APP_SECRET}"))
        || !body.contains("grant_type=client_credentials")
    {
        s.token_refusals += 1;
        return Json(json!({ "error": "070305", "error_description": "Incorrect clientSecret" }));
    }
    let (t, _) = s.new_token();
    Json(json!({ "access_token": t, "expires_in": "86400" }))
}

fn item(i: &Inv, base: &str) -> Value {
    let mut v = json!({ "orderNo": i.order_no, "serialNo": format!("SN{}", i.order_no) });
    if let Some(f) = &i.fail {
        v["status"] = json!("22");
        v["failCause"] = json!(f);
    } else if i.issued() {
        v["status"] = json!("2");
        v["allElectronicInvoiceNumber"] = json!(i.number);
        v["invoiceTime"] = json!(i.issued_at);
        v["orderAmount"] = json!(i.amount);
        v["taxAmount"] = json!(i.tax);
        v["payerName"] = json!(i.buyer_name);
        if !i.buyer_tax.is_empty() {
            v["payerTaxNo"] = json!(i.buyer_tax);
        }
        v["invoiceItems"] = json!(vec![json!({}); i.lines]);
        v["pdfUrl"] = json!(format!("{base}/files/{}.pdf", i.number));
    } else {
        v["status"] = json!("20");
    }
    v
}

async fn gateway(
    State(f): State<Shared>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
    raw: Bytes,
) -> Json<Value> {
    let text = String::from_utf8(raw.to_vec()).unwrap_or_default();
    let h = |k: &str| headers.get(k).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    let g = |k: &str| q.get(k).cloned().unwrap_or_default();
    let isv = g("appkey") == ISV_APP_KEY;
    let (app, secret) = if isv {
        (ISV_APP_KEY, ISV_APP_SECRET)
    } else {
        (APP_KEY, APP_SECRET)
    };
    let signed = g("appkey") == app
        && g("senid").len() == 32
        && g("nonce").len() == 8
        && h("X-Nuonuo-Sign") == expected_sign_for(app, secret, &g("senid"), &g("nonce"), &g("timestamp"), &text);
    let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    let method = h("method");
    let mut delay = Duration::ZERO;
    let out = {
        let mut s = f.lock().unwrap();
        if !signed {
            s.bad_signatures += 1;
            return Json(answer("070601", "签名不匹配", Value::Null));
        }
        if !s.valid_tokens.contains(&h("accessToken")) {
            s.expired_answers += 1;
            return Json(answer("070314", "accessToken已失效", Value::Null));
        }
        // A self-use token acts for the app's own seller; a third-party token for
        // the seller that authorized it, named by `userTax` on every call.
        let tax = match s.isv_token_tax.get(&h("accessToken")) {
            Some(t) if isv => t.clone(),
            None if !isv => TAX_NO.to_owned(),
            _ => return Json(answer("070314", "accessToken与应用不符", Value::Null)),
        };
        if h("userTax") != tax {
            return Json(answer("E9302", "身份认证与当前企业税号不相符", Value::Null));
        }
        // Each seller's order numbers are its own.
        let key_of = |no: &str| {
            if tax == TAX_NO {
                no.to_owned()
            } else {
                format!("{tax}:{no}")
            }
        };
        let base = s.base.clone();
        match method.as_str() {
            "nuonuo.OpeMplatform.requestBillingNew" => {
                let o = &v["order"];
                let no = key_of(o["orderNo"].as_str().unwrap_or(""));
                *s.submissions.entry(no.clone()).or_default() += 1;
                let lines = o["invoiceDetail"].as_array().cloned().unwrap_or_default();
                if no.starts_with("HANG") && s.submissions[&no] == 1 {
                    delay = Duration::from_millis(LOST_DELAY_MS);
                    answer("E9999", "系统繁忙", Value::Null)
                } else if o["salerTaxNum"] != tax.as_str() {
                    answer("E9302", "身份认证与当前企业税号不相符", Value::Null)
                } else if o["remark"].as_str().is_some_and(|r| r.contains("#sandbox:reject")) {
                    answer("E9131", "税额误差超过0.06", Value::Null)
                } else if s.invoices.contains_key(&no) {
                    answer("E9106", "订单编号或流水号不能重复", Value::Null)
                } else if lines.is_empty() {
                    answer("E9122", "明细不能为空", Value::Null)
                } else {
                    if no.starts_with("LOST") {
                        delay = Duration::from_millis(LOST_DELAY_MS);
                    }
                    let number = s.next_number();
                    *s.billed_by_tax.entry(tax.clone()).or_default() += 1;
                    let fail = o["remark"]
                        .as_str()
                        .is_some_and(|r| r.contains("#sandbox:fail"))
                        .then(|| "购方税号有误".to_owned());
                    s.invoices.insert(
                        no.clone(),
                        Inv {
                            order_no: o["orderNo"].as_str().unwrap_or("").to_owned(),
                            red: false,
                            special: o["invoiceLine"] == "bs",
                            number,
                            queries: 0,
                            fail,
                            issued_at: 0,
                            amount: super::sum(
                                lines
                                    .iter()
                                    .map(|l| l["taxIncludedAmount"].as_str().unwrap_or("0").to_owned()),
                            ),
                            tax: super::sum(lines.iter().map(|l| l["tax"].as_str().unwrap_or("0").to_owned())),
                            buyer_name: o["buyerName"].as_str().unwrap_or("").to_owned(),
                            buyer_tax: o["buyerTaxNum"].as_str().unwrap_or("").to_owned(),
                            lines: lines.len(),
                            request: o.clone(),
                            partial_lines: 0,
                        },
                    );
                    answer(
                        "E0000",
                        "开票提交成功",
                        json!({ "invoiceSerialNum": format!("SN{no}") }),
                    )
                }
            }
            "nuonuo.OpeMplatform.queryInvoiceResult" => {
                let no = key_of(v["orderNos"][0].as_str().unwrap_or(""));
                if s.is_broken("query") {
                    answer("E9601", "查询发票信息异常", Value::Null)
                } else {
                    match s.invoices.get_mut(&no) {
                        None => answer("E9500", "发票不存在", Value::Null),
                        Some(i) => {
                            i.queries += 1;
                            if i.queries == 2 {
                                i.issued_at = fapiao_proxy::time::now_ms();
                            }
                            answer("E0000", "获取成功", json!([item(i, &base)]))
                        }
                    }
                }
            }
            "nuonuo.OpeMplatform.saveInvoiceRedConfirm" => {
                let raw = v["orderNo"].as_str().unwrap_or("").to_owned();
                let no = key_of(&raw);
                *s.submissions.entry(no.clone()).or_default() += 1;
                let blue = s
                    .invoices
                    .values()
                    .find(|i| !i.red && i.number == v["blueElecInvoiceNumber"].as_str().unwrap_or("-"))
                    .cloned();
                if s.is_broken("red") {
                    answer("E9999", "红字确认单服务异常", Value::Null)
                } else if s.invoices.contains_key(&no) {
                    answer("E9106", "订单编号或流水号不能重复", Value::Null)
                } else if blue.as_ref().is_none_or(|b| !b.issued()) {
                    answer("E9102", "原发票号码有误", Value::Null)
                } else {
                    let blue = blue.unwrap();
                    let detail = v["detail"].as_array().cloned().unwrap_or_default();
                    let number = s.next_number();
                    let (amount, tax) = if detail.is_empty() {
                        (format!("-{}", blue.amount), format!("-{}", blue.tax))
                    } else {
                        let a = super::sum(
                            detail
                                .iter()
                                .map(|d| d["taxExcludedAmount"].as_str().unwrap_or("0").to_owned()),
                        );
                        let t = super::sum(detail.iter().map(|d| d["taxAmount"].as_str().unwrap_or("0").to_owned()));
                        (super::sum([a, t.clone()].into_iter()), t)
                    };
                    s.invoices.insert(
                        no.clone(),
                        Inv {
                            order_no: raw.clone(),
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
                            request: v.clone(),
                            partial_lines: detail.len(),
                        },
                    );
                    answer("E0000", "成功", json!(format!("BILL{no}")))
                }
            }
            "nuonuo.OpeMplatform.queryInvoiceRedConfirm" => {
                let id = v["billId"].as_str().unwrap_or("");
                let list: Vec<Value> = s
                    .invoices
                    .values()
                    .filter(|i| i.red && i.order_no == id)
                    .map(|_| json!({ "billId": id, "billStatus": "01" }))
                    .collect();
                answer("E0000", "成功", json!({ "total": list.len(), "list": list }))
            }
            "nuonuo.OpeMplatform.deliveryInvoice" => {
                let n = v["invoiceNum"].as_str().unwrap_or("").to_owned();
                if s.is_broken("deliver") {
                    answer("E9999", "交付服务异常", Value::Null)
                } else if !s.invoices.values().any(|i| i.number == n && i.issued()) {
                    answer("E9102", "发票号码有误", Value::Null)
                } else {
                    let (m, p) = (
                        v["mail"].as_str().map(str::to_owned),
                        v["phone"].as_str().map(str::to_owned),
                    );
                    s.deliveries.push((n, m, p));
                    answer("E0000", "成功", Value::Null)
                }
            }
            "nuonuo.OpeMplatform.queryInvoiceList" => {
                if s.is_broken("list") {
                    answer("E9601", "查询发票信息异常", Value::Null)
                } else if v["pageNo"] != "1" {
                    answer("E0000", "成功", json!({ "total": 0, "list": [] }))
                } else {
                    let t = |k: &str| {
                        v[k].as_str()
                            .and_then(fapiao_proxy::provider::baiwang::parse_compact_time)
                            .unwrap_or(0)
                    };
                    let (from, to) = (t("startTime"), t("endTime") + 999);
                    let mine = |k: &str| match k.split_once(':') {
                        Some((t, _)) => t == tax,
                        None => tax == TAX_NO,
                    };
                    let list: Vec<Value> = s
                        .invoices
                        .iter()
                        .filter(|(k, _)| mine(k))
                        .map(|(_, i)| i)
                        .filter(|i| i.issued() && i.issued_at >= from && i.issued_at <= to)
                        .map(|i| item(i, &base))
                        .collect();
                    answer("E0000", "成功", json!({ "total": list.len(), "list": list }))
                }
            }
            other => answer("E4000", &format!("unknown method {other}"), Value::Null),
        }
    };
    tokio::time::sleep(delay).await;
    Json(out)
}

/// Starts a fake 诺诺 on 127.0.0.1.
pub async fn start() -> Fake {
    let state: Arc<Mutex<FakeState>> = Arc::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    state.lock().unwrap().base = base.clone();
    let app = Router::new()
        .route("/accessToken", post(token))
        .route("/open/v1/services", post(gateway))
        .route("/files/{name}", get(super::file))
        .with_state(state.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Fake { base, state }
}

/// The settings that point `fapiao-proxy` at the fake.
pub fn env(fake: &Fake) -> Vec<(String, String)> {
    [
        ("FAPIAO_PROVIDER", "nuonuo".to_owned()),
        ("FAPIAO_SELLER_TAX_ID", TAX_NO.to_owned()),
        ("FAPIAO_SELLER_NAME", "诺诺沙箱测试企业".to_owned()),
        ("FAPIAO_NUONUO_GATEWAY_URL", format!("{}/open/v1/services", fake.base)),
        ("FAPIAO_NUONUO_TOKEN_URL", format!("{}/accessToken", fake.base)),
        ("FAPIAO_NUONUO_APP_KEY", APP_KEY.to_owned()),
        ("FAPIAO_NUONUO_APP_SECRET", APP_SECRET.to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}
