//! The 诺诺 client against a local fake 诺诺 that checks every signature, plays
//! back realistic answers, errors and a delay; and secrets that must never leave
//! the proxy.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::routing::post as route_post;
use axum::{Json, Router};
use common::*;
use fapiao_proxy::provider::sign;
use fapiao_proxy::store::Store;
use fapiao_proxy::{App, Config};
use serde_json::{json, Value};

const APP_KEY: &str = "TESTAPPKEY01";
const APP_SECRET: &str = "APPSECRET-must-never-leak-7f3a";
const ACCESS_TOKEN: &str = "ACCESSTOKEN-must-never-leak-91c2";
const MERCHANT_KEY: &str = "MERCHANTKEY-must-never-leak-0123456789";

#[derive(Default)]
struct Fake {
    token_calls: usize,
    bad_signatures: usize,
    billing_calls: HashMap<String, usize>,
    accepted: HashMap<String, (Value, usize)>, // order → (order body, queries so far)
    reds: HashMap<String, Value>,
}

type Shared = Arc<Mutex<Fake>>;

async fn token(State(f): State<Shared>, body: String) -> Json<Value> {
    if !body.contains(&format!("client_secret={APP_SECRET}")) || !body.contains("grant_type=client_credentials") {
        return Json(json!({ "error": "070305", "error_description": "Incorrect clientSecret" }));
    }
    f.lock().unwrap().token_calls += 1;
    // A slow token endpoint: instances that would fetch at once overlap.
    tokio::time::sleep(Duration::from_millis(150)).await;
    Json(json!({ "access_token": ACCESS_TOKEN, "expires_in": "86400" }))
}

async fn gateway(
    State(f): State<Shared>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Json<Value> {
    let text = String::from_utf8(body.to_vec()).unwrap();
    let h = |k: &str| headers.get(k).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    let g = |k: &str| q.get(k).cloned().unwrap_or_default();
    let ok = g("appkey") == APP_KEY
        && g("senid").len() == 32
        && g("nonce").len() == 8
        && sign::verify(
            APP_SECRET,
            "/open/v1/services",
            APP_KEY,
            &g("senid"),
            &g("nonce"),
            &g("timestamp"),
            &text,
            &h("X-Nuonuo-Sign"),
        );
    if !ok {
        f.lock().unwrap().bad_signatures += 1;
        return Json(json!({ "code": "070601", "describe": "签名不匹配" }));
    }
    assert_eq!(h("accessToken"), ACCESS_TOKEN);
    assert_eq!(h("userTax"), "339902999999789113");
    let v: Value = serde_json::from_str(&text).unwrap();
    let method = h("method");
    let mut delay = Duration::ZERO;
    let answer = {
        let mut f = f.lock().unwrap();
        match method.as_str() {
            "nuonuo.OpeMplatform.requestBillingNew" => {
                let o = &v["order"];
                let no = o["orderNo"].as_str().unwrap().to_owned();
                *f.billing_calls.entry(no.clone()).or_default() += 1;
                assert_eq!(o["salerTaxNum"], "339902999999789113");
                assert_eq!(o["invoiceLine"], "pc");
                if o.get("specificFactor").is_none() {
                    assert_eq!(o["invoiceDetail"][0]["goodsCode"], "3070401000000000000");
                    assert_eq!(
                        o["invoiceDetail"][0]["goodsName"], "午餐",
                        "the name without the *简称* prefix"
                    );
                    assert_eq!(o["invoiceDetail"][0]["taxIncludedAmount"], "106.00");
                }
                if o["remark"] == "E9302" {
                    json!({ "code": "E9302", "describe": "身份认证与当前企业税号不相符" })
                } else if f.accepted.contains_key(&no) {
                    json!({ "code": "E9106", "describe": "订单编号或流水号不能重复" })
                } else {
                    if no.starts_with("SLOW") {
                        delay = Duration::from_millis(800); // accepted, but answers after the proxy's timeout
                    }
                    f.accepted.insert(no.clone(), (o.clone(), 0));
                    json!({ "code": "E0000", "describe": "开票提交成功", "result": { "invoiceSerialNum": format!("SN{no}") } })
                }
            }
            "nuonuo.OpeMplatform.queryInvoiceResult" => {
                assert_eq!(
                    v["isOfferInvoiceDetail"], "1",
                    "the lines are asked for, to compare the invoice with the order"
                );
                let no = v["orderNos"][0].as_str().unwrap().to_owned();
                let is_red = f.reds.contains_key(&no);
                match f.accepted.get_mut(&no) {
                    None if is_red => {
                        json!({ "code": "E0000", "describe": "获取成功", "result": [{ "orderNo": no, "status": "2",
                        "allElectronicInvoiceNumber": "26332000000000000099", "invoiceTime": 1_763_870_000_000i64, "pdfUrl": "https://invtest.jss.com.cn/red.pdf" }] })
                    }
                    None => json!({ "code": "E9500", "describe": "发票不存在" }),
                    Some((_, n)) => {
                        *n += 1;
                        if *n == 1 {
                            json!({ "code": "E0000", "describe": "获取成功", "result": [{ "orderNo": no, "status": "20", "statusMsg": "开票中" }] })
                        } else {
                            json!({ "code": "E0000", "describe": "获取成功", "result": [{ "orderNo": no, "status": "2", "statusMsg": "开票完成",
                                "allElectronicInvoiceNumber": "26332000000000000001", "invoiceTime": 1_763_870_000_000i64,
                                "pdfUrl": "https://invtest.jss.com.cn/a.pdf", "ofdUrl": "https://invtest.jss.com.cn/a.ofd" }] })
                        }
                    }
                }
            }
            "nuonuo.OpeMplatform.saveInvoiceRedConfirm" => {
                assert_eq!(v["blueElecInvoiceNumber"], "26332000000000000001");
                assert_eq!(v["redReason"], "2", "开票有误 is 2 in 诺诺's numbering");
                f.reds.insert(v["orderNo"].as_str().unwrap().to_owned(), v.clone());
                json!({ "code": "E0000", "describe": "成功", "result": "BILL0001" })
            }
            other => json!({ "code": "E4000", "describe": format!("unknown method {other}") }),
        }
    };
    tokio::time::sleep(delay).await;
    Json(answer)
}

async fn fake_nuonuo() -> (String, Shared) {
    let shared: Shared = Arc::default();
    let app = Router::new()
        .route("/accessToken", route_post(token))
        .route("/open/v1/services", route_post(gateway))
        .with_state(shared.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), shared)
}

const KEYS: NuonuoKeys = NuonuoKeys {
    app_key: APP_KEY,
    app_secret: APP_SECRET,
    merchant_key: MERCHANT_KEY,
};

fn nuonuo_config(db: &std::path::Path, fake: &str) -> Config {
    common::nuonuo_config(
        db,
        fake,
        &KEYS,
        &[
            ("FAPIAO_PROVIDER_TIMEOUT_MS", "400"),
            ("FAPIAO_BREAKER_COOLDOWN_MS", "100"),
        ],
    )
}

async fn nuonuo_proxy(db: &std::path::Path, fake: &str) -> Running {
    let config = nuonuo_config(db, fake);
    let store = Store::open(&config.database_path).unwrap();
    let provider = fapiao_proxy::provider::from_config(&config, &store).unwrap();
    serve(App::start_with(config, store, provider).await.unwrap()).await
}

/// Captures every log line of this test binary.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);
impl std::io::Write for Logs {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issues_red_letters_and_never_leaks_a_secret() {
    let logs = Logs::default();
    let l2 = logs.clone();
    tracing_subscriber::fmt()
        .with_writer(move || l2.clone())
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .init();

    let (fake, state) = fake_nuonuo().await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("fapiao.sqlite");
    let r = nuonuo_proxy(&db, &fake).await;
    let mut seen = String::new();
    let c = r.state.config.clone();

    // The ordinary path: accepted (E0000), 开票中 (20), 开票完成 (2).
    let (s, v) = post(&r, "/v1/invoices", &body(&c, "NN-1")).await;
    seen += &v.to_string();
    assert_eq!(s, 202);
    let v = wait_final(&r, "NN-1", 10).await;
    seen += &v.to_string();
    assert_eq!(v["status"], "issued", "{v}");
    assert_eq!(v["invoiceNumber"], "26332000000000000001");
    assert_eq!(v["links"]["ofd"], "https://invtest.jss.com.cn/a.ofd");

    // Accepted, but the answer comes after the timeout: queried, not resubmitted twice.
    assert_eq!(post(&r, "/v1/invoices", &body(&c, "SLOW-1")).await.0, 202);
    let v = wait_final(&r, "SLOW-1", 10).await;
    assert_eq!(v["status"], "issued", "{v}");

    // A provider error mapped to the package's code.
    let lines = json!([line("午餐", "106.00")]);
    let mut req = request("NN-2", lines.clone());
    req["remark"] = json!("E9302");
    assert_eq!(
        post(
            &r,
            "/v1/invoices",
            &json!({ "request": req, "orderToken": mint(&c, "NN-2", &lines, "106.00", 600) })
        )
        .await
        .0,
        202
    );
    let v = wait_final(&r, "NN-2", 10).await;
    seen += &v.to_string();
    assert_eq!(
        (v["status"].as_str(), v["error"]["code"].as_str()),
        (Some("failed"), Some("SELLER_TAXID_MISMATCH")),
        "{v}"
    );

    // A full red letter through saveInvoiceRedConfirm.
    let now = fapiao_proxy::time::now_s();
    let red_token = fapiao_proxy::token::mint(
        &c.merchant_key,
        &fapiao_proxy::token::Claims {
            v: 1,
            merchant: c.seller_tax_id.clone(),
            purpose: fapiao_proxy::token::Purpose::Red,
            order_id: "NN-1-R".into(),
            blue_order_id: Some("NN-1".into()),
            issued_at: now,
            expires_at: now + 600,
            ..Default::default()
        },
    );
    let (s, v) = post(
        &r,
        "/v1/invoices/NN-1/red",
        &json!({ "request": { "orderId": "NN-1-R", "reason": "开票有误", "full": true }, "orderToken": red_token }),
    )
    .await;
    assert_eq!(s, 202, "{v}");
    assert_eq!(wait_final(&r, "NN-1-R", 10).await["status"], "issued");
    assert_eq!(get(&r, "/v1/invoices/NN-1").await.1["status"], "reversed");

    // Errors, health and metrics must not carry secrets either.
    seen += &post(&r, "/v1/invoices", &json!({ "request": {}, "orderToken": "FP1.x.y" }))
        .await
        .1
        .to_string();
    seen += &get(&r, "/healthz").await.1.to_string();
    seen += &metrics_text(&r).await;

    {
        let f = state.lock().unwrap();
        assert_eq!(f.bad_signatures, 0, "every call was signed correctly");
        assert_eq!(f.token_calls, 1, "one token for all calls");
        assert!(
            f.billing_calls["SLOW-1"] <= 2,
            "at most one resubmission, answered E9106"
        );
        assert_eq!(f.accepted.len(), 2, "NN-1 and SLOW-1, once each");
    }

    // A restarted proxy reuses the stored token (the token endpoint allows ~50 calls in 30 days).
    r.kill();
    let r2 = nuonuo_proxy(&db, &fake).await;
    assert_eq!(post(&r2, "/v1/invoices", &body(&c, "NN-3")).await.0, 202);
    assert_eq!(wait_final(&r2, "NN-3", 10).await["status"], "issued");
    assert_eq!(state.lock().unwrap().token_calls, 1);

    // A wrong secret: the token endpoint refuses; the order waits, nothing leaks.
    let mut bad = nuonuo_config(&dir.path().join("other.sqlite"), &fake);
    bad.nuonuo.as_mut().unwrap().app_secret = fapiao_proxy::secret::Secret::new("WRONG-SECRET-must-never-leak");
    let store = Store::open(&bad.database_path).unwrap();
    let provider = fapiao_proxy::provider::from_config(&bad, &store).unwrap();
    let r3 = serve(App::start_with(bad, store, provider).await.unwrap()).await;
    assert_eq!(post(&r3, "/v1/invoices", &body(&c, "NN-4")).await.0, 202);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let v = get(&r3, "/v1/invoices/NN-4").await.1;
    seen += &v.to_string();
    assert_eq!(v["status"], "issuing", "an unknown outcome is retried, not failed: {v}");

    let log = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(log.contains("order accepted"), "the log was captured: {log}");
    for secret in [APP_SECRET, ACCESS_TOKEN, MERCHANT_KEY, "WRONG-SECRET-must-never-leak"] {
        assert!(!log.contains(secret), "a secret in the log");
        assert!(!seen.contains(secret), "a secret in a response");
    }
    assert!(!format!("{:?}", r2.state.config).contains(APP_SECRET));
}

/// A 建筑服务 invoice through the fake 诺诺: the special-business block maps to
/// `specificFactor` 3 (the only 特定业务 field providers.md §1.7 documents), the one
/// line arrives without 规格型号/单位/数量/单价, and the invoice is issued.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn construction_invoice_maps_special_business() {
    let (fake, state) = fake_nuonuo().await;
    let dir = tempfile::tempdir().unwrap();
    let r = nuonuo_proxy(&dir.path().join("fapiao.sqlite"), &fake).await;
    let c = r.state.config.clone();
    let lines =
        json!([{ "name": "某某大厦装修", "taxCode": "3050100000000000000", "amount": "10900.00", "taxRate": "0.09" }]);
    let mut req = request("NB-1", lines.clone());
    req["specialBusiness"] = json!({
        "type": "建筑服务", "province": "浙江省", "city": "杭州市", "district": "西湖区", "address": "文三路 90 号",
        "projectName": "某某大厦装修工程", "crossCity": false
    });
    // A broken block is refused before anything reaches 诺诺.
    let mut bad = req.clone();
    bad["specialBusiness"]["projectName"] = json!("");
    bad["lines"][0]["unit"] = json!("项");
    let (s, v) = post(
        &r,
        "/v1/invoices",
        &json!({ "request": bad, "orderToken": mint(&c, "NB-1", &lines, "10900.00", 600) }),
    )
    .await;
    assert_eq!(s, 422, "{v}");
    let found = codes(&v);
    assert!(
        found.contains(&"SPECIAL_FIELD_REQUIRED".to_owned())
            && found.contains(&"SPECIAL_LINE_FIELD_NOT_ALLOWED".to_owned()),
        "{v}"
    );
    assert!(state.lock().unwrap().accepted.is_empty());

    let token = mint_special(&c, "NB-1", &lines, "10900.00", 600, Some(&req["specialBusiness"]));
    let (s, v) = post(&r, "/v1/invoices", &json!({ "request": req, "orderToken": token })).await;
    assert_eq!(s, 202, "{v}");
    let v = wait_final(&r, "NB-1", 10).await;
    assert_eq!(v["status"], "issued", "{v}");
    let order = state.lock().unwrap().accepted.get("NB-1").unwrap().0.clone();
    assert_eq!(order["specificFactor"], "3", "{order}");
    let details = order["invoiceDetail"].as_array().unwrap();
    assert_eq!(details.len(), 1);
    for k in ["specType", "unit", "num", "price"] {
        assert!(
            details[0].get(k).is_none(),
            "{k} must be absent on a 建筑服务 line: {order}"
        );
    }
    assert_eq!(details[0]["goodsCode"], "3050100000000000000");
    assert_eq!(details[0]["taxIncludedAmount"], "10900.00");
    // The canonical request stored for the order keeps the normalised block.
    let rec = r.state.store.get("NB-1").await.unwrap().unwrap();
    let stored: Value = serde_json::from_str(&rec.request).unwrap();
    assert_eq!(stored["specialBusiness"]["type"], "03");
    assert_eq!(stored["specialBusiness"]["projectName"], "某某大厦装修工程");
    // An ordinary order carries no specificFactor.
    assert_eq!(post(&r, "/v1/invoices", &body(&c, "NB-2")).await.0, 202);
    assert_eq!(wait_final(&r, "NB-2", 10).await["status"], "issued");
    assert!(state.lock().unwrap().accepted["NB-2"].0.get("specificFactor").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_on_one_postgres_database_share_one_token() {
    let Some(base) = postgres_url("nuonuo::instances_on_one_postgres_database_share_one_token") else {
        return;
    };
    let (fake, state) = fake_nuonuo().await;
    let url = fresh_database(&base, &format!("fapiao_nuonuo_token_{}", std::process::id())).await;
    let mut instances = Vec::new();
    for i in 0..3 {
        let mut config = nuonuo_config(std::path::Path::new("unused.sqlite"), &fake);
        config.postgres = Some(fapiao_proxy::secret::Secret::new(url.clone()));
        config.instance_id = format!("nn-{i}");
        let store = Store::from_config(&config).await.unwrap();
        let provider = fapiao_proxy::provider::from_config(&config, &store).unwrap();
        instances.push(serve(App::start_with(config, store, provider).await.unwrap()).await);
    }
    let c = instances[0].state.config.clone();
    // One order per instance, at once: three workers need a token at the same time.
    let mut posts = Vec::new();
    for (i, r) in instances.iter().enumerate() {
        let (client, url, b) = (
            r.client.clone(),
            format!("{}/v1/invoices", r.base),
            body(&c, &format!("NT-{i}")),
        );
        posts.push(tokio::spawn(async move {
            client.post(url).json(&b).send().await.unwrap().status().as_u16()
        }));
    }
    for p in posts {
        assert_eq!(p.await.unwrap(), 202);
    }
    for (i, r) in instances.iter().enumerate() {
        assert_eq!(wait_final(r, &format!("NT-{i}"), 10).await["status"], "issued");
    }
    assert_eq!(
        state.lock().unwrap().token_calls,
        1,
        "one instance fetched the token, the others read it from the database"
    );
}
