//! Defects found by running the proxy as a merchant's back end would (against a
//! stand-in 诺诺) and by probing it: an invoice of another system adopted under a
//! reused order number, a refusing token endpoint burning the token quota, a
//! failure losing its field, the token command needing the provider settings,
//! demo tokens signed with the merchant key, callback floods, half-open
//! connections, and plain-text or empty error answers.

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post as route_post;
use axum::{Json, Router};
use common::*;
use fapiao::request::{IssueRequest, RedRequest};
use fapiao_proxy::provider::sandbox::Sandbox;
use fapiao_proxy::provider::{
    Accepted, Delivery, Document, Kind, ListedInvoice, Provider, ProviderError, QueryOutcome,
};
use fapiao_proxy::store::Store;
use fapiao_proxy::token::{Claims, Purpose, TokenTotals};
use fapiao_proxy::{App, Config};
use futures_util::future::BoxFuture;
use serde_json::{json, Value};

const APP_KEY: &str = "PROBEAPPKEY1";
const APP_SECRET: &str = "PROBE-APPSECRET-0001";
const MERCHANT_KEY: &str = "PROBE-MERCHANT-KEY-0123456789abcdef";
const KEYS: NuonuoKeys = NuonuoKeys {
    app_key: APP_KEY,
    app_secret: APP_SECRET,
    merchant_key: MERCHANT_KEY,
};

// --- a stand-in 诺诺 -----------------------------------------------------------------

#[derive(Default)]
struct Fake {
    /// Every call of the token endpoint, refused or not.
    token_calls: usize,
    /// Invoices another system of the same seller issued: orderNo → result item.
    foreign: HashMap<String, Value>,
    /// Orders this proxy submitted: orderNo → order.
    accepted: HashMap<String, Value>,
    /// Every orderNo submitted, in order.
    submitted: Vec<String>,
    /// The AppSecret the token endpoint accepts (default: `APP_SECRET`).
    secret: Option<String>,
}

type Shared = Arc<Mutex<Fake>>;

async fn token(State(f): State<Shared>, body: String) -> Json<Value> {
    let want = {
        let mut f = f.lock().unwrap();
        f.token_calls += 1;
        f.secret.clone().unwrap_or_else(|| APP_SECRET.to_owned())
    };
    if !body.contains(&format!("client_secret={want}")) {
        return Json(json!({ "error": "070305", "error_description": "Incorrect clientSecret" }));
    }
    Json(json!({ "access_token": "PROBE-ACCESS-TOKEN", "expires_in": "86400" }))
}

fn money_sum(details: &[Value], k: &str) -> String {
    format!(
        "{:.2}",
        details
            .iter()
            .map(|d| d[k].as_str().unwrap_or("0").parse::<f64>().unwrap())
            .sum::<f64>()
    )
}

async fn gateway(State(f): State<Shared>, headers: HeaderMap, body: Bytes) -> Json<Value> {
    let v: Value = serde_json::from_slice(&body).unwrap();
    let method = headers
        .get("method")
        .and_then(|m| m.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let mut f = f.lock().unwrap();
    Json(match method.as_str() {
        "nuonuo.OpeMplatform.requestBillingNew" => {
            let o = &v["order"];
            let no = o["orderNo"].as_str().unwrap().to_owned();
            f.submitted.push(no.clone());
            if f.foreign.contains_key(&no) || f.accepted.contains_key(&no) {
                json!({ "code": "E9106", "describe": "订单编号或流水号不能重复" })
            } else {
                f.accepted.insert(no.clone(), o.clone());
                json!({ "code": "E0000", "describe": "开票提交成功", "result": { "invoiceSerialNum": format!("SN{no}") } })
            }
        }
        "nuonuo.OpeMplatform.queryInvoiceResult" => {
            let no = v["orderNos"][0].as_str().unwrap().to_owned();
            let details = v["isOfferInvoiceDetail"] == "1";
            if let Some(item) = f.foreign.get(&no) {
                json!({ "code": "E0000", "describe": "获取成功", "result": [item] })
            } else if let Some(o) = f.accepted.get(&no) {
                let d = o["invoiceDetail"].as_array().unwrap().clone();
                let mut item = json!({
                    "orderNo": no, "status": "2", "statusMsg": "开票完成",
                    "allElectronicInvoiceNumber": "26332000000000000007", "invoiceTime": 1_763_870_000_000i64,
                    "orderAmount": money_sum(&d, "taxIncludedAmount"), "taxAmount": money_sum(&d, "tax"), "exTaxAmount": money_sum(&d, "taxExcludedAmount"),
                    "payerName": o["buyerName"], "payerTaxNo": o["buyerTaxNum"],
                });
                if details {
                    item["invoiceItems"] = json!(d);
                }
                json!({ "code": "E0000", "describe": "获取成功", "result": [item] })
            } else {
                json!({ "code": "E9500", "describe": "发票不存在" })
            }
        }
        other => json!({ "code": "E4000", "describe": format!("unknown method {other}") }),
    })
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

async fn nuonuo_proxy(db: &std::path::Path, fake: &str, extra: &[(&str, &str)]) -> Running {
    let mut settings = vec![
        ("FAPIAO_PROVIDER_TIMEOUT_MS", "2000"),
        ("FAPIAO_ADMIN_TOKEN", "admin-token-0123456789"),
    ];
    settings.extend_from_slice(extra);
    let config = nuonuo_config(db, fake, &KEYS, &settings);
    let store = Store::open(&config.database_path).unwrap();
    let provider = fapiao_proxy::provider::from_config(&config, &store).unwrap();
    serve(App::start_with(config, store, provider).await.unwrap()).await
}

async fn admin_get(r: &Running, path: &str) -> Value {
    r.client
        .get(format!("{}{path}", r.base))
        .bearer_auth("admin-token-0123456789")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Waits until the order is no longer `pending`/`issuing` (or `secs` pass).
async fn wait_settled(r: &Running, id: &str, secs: u64) -> Value {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let (_, v) = get(r, &format!("/v1/invoices/{id}?wait=2")).await;
        if !matches!(v["status"].as_str(), Some("pending" | "issuing")) || Instant::now() > deadline {
            return v;
        }
    }
}

// --- 1. an invoice of another system under the same order number -------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_foreign_invoice_under_the_same_order_number_is_a_conflict_never_issued() {
    let (fake, f) = fake_nuonuo().await;
    // Another system of the same seller used Y2 for a 10,000.00 invoice to another buyer.
    f.lock().unwrap().foreign.insert(
        "Y2".into(),
        json!({ "orderNo": "Y2", "status": "2", "allElectronicInvoiceNumber": "26332000000000999999", "invoiceTime": 1_763_870_000_000i64,
                "orderAmount": "10000.00", "taxAmount": "566.04", "exTaxAmount": "9433.96", "payerName": "另一家贸易有限公司",
                "payerTaxNo": "91330106MA2B2ABCDN", "pdfUrl": "https://invtest.jss.com.cn/foreign.pdf",
                "invoiceItems": [{ "goodsName": "设备" }, { "goodsName": "安装" }] }),
    );
    let dir = tempfile::tempdir().unwrap();
    let r = nuonuo_proxy(&dir.path().join("fapiao.sqlite"), &fake, &[]).await;
    let c = r.state.config.clone();
    assert_eq!(post(&r, "/v1/invoices", &body(&c, "Y2")).await.0, 202);
    let v = wait_settled(&r, "Y2", 20).await;
    assert_eq!(
        v["status"], "conflict",
        "a stranger's invoice must never be adopted: {v}"
    );
    assert_ne!(v["invoiceNumber"], "26332000000000999999", "{v}");
    assert_eq!(v["error"]["code"], "PROVIDER_INVOICE_MISMATCH", "{v}");
    assert!(v["links"].get("pdf").is_none(), "{v}");
    // A finding for a person, an event for the merchant, a metric for the alert.
    let pending = admin_get(&r, "/v1/admin/archive/pending").await;
    let findings = pending["findings"].as_array().unwrap();
    assert!(
        findings
            .iter()
            .any(|x| x["kind"] == "foreign_invoice" && x["orderId"] == "Y2"),
        "{pending}"
    );
    let events = admin_get(&r, "/v1/admin/webhooks?orderId=Y2").await;
    assert!(
        events["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["type"] == "invoice.conflict"),
        "{events}"
    );
    // The counter goes up right after the status is saved: ask a few times.
    let mut m = String::new();
    for _ in 0..50 {
        m = metrics_text(&r).await;
        if m.contains("fapiao_orders_conflict_total 1") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(m.contains("fapiao_orders_conflict_total 1"), "{m}");
    // The proxy's own order, matching what the provider reports, is issued as before.
    assert_eq!(post(&r, "/v1/invoices", &body(&c, "Y3")).await.0, 202);
    assert_eq!(wait_settled(&r, "Y3", 20).await["status"], "issued");
    // invoiceDate is the order time (when the proxy accepted it), providers.md §1.7.
    let created = r.state.store.get("Y3").await.unwrap().unwrap().created_at;
    let sent = f.lock().unwrap().accepted["Y3"].clone();
    assert_eq!(sent["invoiceDate"], fapiao_proxy::time::cst_plain(created), "{sent}");
    assert!(
        sent.get("showBankAccountType").is_none(),
        "no bank account given: {sent}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deployment_prefix_keeps_order_numbers_apart() {
    let (fake, f) = fake_nuonuo().await;
    f.lock().unwrap().foreign.insert("Y2".into(), json!({ "orderNo": "Y2", "status": "2", "allElectronicInvoiceNumber": "26332000000000999999", "orderAmount": "10000.00" }));
    let dir = tempfile::tempdir().unwrap();
    let r = nuonuo_proxy(
        &dir.path().join("fapiao.sqlite"),
        &fake,
        &[("FAPIAO_NUONUO_ORDER_PREFIX", "SHOPA")],
    )
    .await;
    let c = r.state.config.clone();
    assert_eq!(post(&r, "/v1/invoices", &body(&c, "Y2")).await.0, 202);
    let v = wait_settled(&r, "Y2", 20).await;
    assert_eq!(v["status"], "issued", "{v}");
    assert_eq!(v["invoiceNumber"], "26332000000000000007");
    assert_eq!(f.lock().unwrap().submitted, ["SHOPAY2"]);
    // An order id that would not fit 诺诺's 20 characters with the prefix is refused up front.
    let (s, v) = post(&r, "/v1/invoices", &body(&c, "ORDER-0123456789-XYZ")).await;
    assert_eq!(
        (s, codes(&v)),
        (422, vec!["ORDER_ID_TOO_LONG_FOR_PREFIX".to_owned()]),
        "{v}"
    );
}

// --- 2. a refusing token endpoint ------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusing_token_endpoint_is_asked_rarely_and_nothing_is_lost() {
    let (fake, f) = fake_nuonuo().await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("fapiao.sqlite");
    let wrong = [("FAPIAO_NUONUO_APP_SECRET", "WRONG-SECRET-0001")];
    let r = nuonuo_proxy(&db, &fake, &wrong).await;
    let c = r.state.config.clone();
    for i in 0..50 {
        assert_eq!(post(&r, "/v1/invoices", &body(&c, &format!("TQ-{i}"))).await.0, 202);
    }
    // Every order has been tried at least once and is waiting.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let mut tried = 0;
        for i in 0..50 {
            let rec = r.state.store.get(&format!("TQ-{i}")).await.unwrap().unwrap();
            if rec.next_attempt_at > fapiao_proxy::time::now_ms() + 10_000 {
                tried += 1;
            }
        }
        if tried == 50 || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let calls = f.lock().unwrap().token_calls;
    assert!(calls <= 2, "50 queued orders made {calls} token calls");
    let h = get(&r, "/healthz").await.1;
    assert_eq!(h["breaker"], "open", "{h}");
    assert!(
        h["reason"].as_str().unwrap_or("").contains("070305"),
        "/healthz says why: {h}"
    );
    let m = metrics_text(&r).await;
    assert!(m.contains("fapiao_provider_token_refused 1"), "{m}");
    eprintln!("50 queued orders, refusing token endpoint: {calls} token call(s); /healthz: {h}");
    for i in 0..50 {
        let s = get(&r, &format!("/v1/invoices/TQ-{i}")).await.1["status"].clone();
        assert!(s == "pending" || s == "issuing", "queued, not failed: {s}");
    }
    r.kill();
    // The secret is fixed (a restart with the right one): every order is issued, one token call.
    let before = f.lock().unwrap().token_calls;
    let r = nuonuo_proxy(&db, &fake, &[]).await;
    for i in 0..50 {
        assert_eq!(wait_settled(&r, &format!("TQ-{i}"), 60).await["status"], "issued");
    }
    assert_eq!(f.lock().unwrap().token_calls - before, 1);
    assert_eq!(f.lock().unwrap().accepted.len(), 50);
}

/// Three instances on one PostgreSQL database, every order queued at once, a
/// refusing token endpoint: one token call among them all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_share_the_token_back_off() {
    let Some(base) = postgres_url("probe::instances_share_the_token_back_off") else {
        return;
    };
    let (fake, f) = fake_nuonuo().await;
    let url = fresh_database(&base, &format!("fapiao_probe_token_{}", std::process::id())).await;
    let mut instances = Vec::new();
    for i in 0..3 {
        let mut config = nuonuo_config(
            std::path::Path::new("unused.sqlite"),
            &fake,
            &KEYS,
            // A back-off longer than the wait below: an instance that meets it
            // late (another instance's worker may hold its orders until their
            // lease ends) must still find it in force, not try again.
            &[
                ("FAPIAO_NUONUO_APP_SECRET", "WRONG-SECRET-0001"),
                ("FAPIAO_NUONUO_TOKEN_RETRY_BASE_MS", "600000"),
            ],
        );
        config.postgres = Some(fapiao_proxy::secret::Secret::new(url.clone()));
        config.instance_id = format!("tq-{i}");
        let store = Store::from_config(&config).await.unwrap();
        let provider = fapiao_proxy::provider::from_config(&config, &store).unwrap();
        instances.push(serve(App::start_with(config, store, provider).await.unwrap()).await);
    }
    let c = instances[0].state.config.clone();
    let mut posts = Vec::new();
    for (i, r) in instances.iter().enumerate() {
        for j in 0..10 {
            let (client, url, b) = (
                r.client.clone(),
                format!("{}/v1/invoices", r.base),
                body(&c, &format!("TS-{i}-{j}")),
            );
            posts.push(tokio::spawn(async move {
                client.post(url).json(&b).send().await.unwrap().status().as_u16()
            }));
        }
    }
    for p in posts {
        assert_eq!(p.await.unwrap(), 202);
    }
    // Every instance's /healthz reports the back-off, also one whose worker has
    // not taken an order since another instance met it (it reads the stored
    // back-off); a generous limit for a loaded machine, not a speed requirement.
    let deadline = Instant::now() + Duration::from_secs(120);
    for r in &instances {
        while get(r, "/healthz").await.1["breaker"] != "open" && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(get(r, "/healthz").await.1["breaker"], "open");
    }
    assert_eq!(f.lock().unwrap().token_calls, 1, "one token call among three instances");
}

/// The 诺诺 client on simulated time: 50 queued orders, each tried again as soon
/// as the client lets it (as the worker does), against a token endpoint that
/// refuses for 10 minutes (the AppSecret was rotated at 诺诺) and then accepts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_calls_back_off_over_ten_simulated_minutes() {
    use fapiao_proxy::provider::nuonuo::Nuonuo;
    let (fake, f) = fake_nuonuo().await;
    f.lock().unwrap().secret = Some("ROTATED-AT-NUONUO".into());
    let dir = tempfile::tempdir().unwrap();
    let config = nuonuo_config(&dir.path().join("fapiao.sqlite"), &fake, &KEYS, &[]);
    let store = Store::open(&config.database_path).unwrap();
    let start = fapiao_proxy::time::now_ms();
    let clock = Arc::new(fapiao_proxy::time::ManualClock::new(start));
    let nn = Nuonuo::new(
        config.nuonuo.clone().unwrap(),
        store,
        config.seller_tax_id.clone(),
        config.seller_name.clone(),
        Duration::from_secs(5),
    )
    .unwrap()
    .with_clock(clock.clone());
    let reqs: Vec<IssueRequest> = (0..50)
        .map(|i| {
            let form = serde_json::from_value(request(&format!("SIM-{i}"), json!([line("午餐", "106.00")]))).unwrap();
            fapiao::request::build_issue_request(&form).request.unwrap()
        })
        .collect();
    let (mut due, mut done) = (vec![start; 50], vec![false; 50]);
    let fixed_at = start + 600_000;
    let mut calls_before_fix = None;
    let mut t = start;
    while t < start + 3_600_000 && done.iter().any(|d| !d) {
        if t >= fixed_at && calls_before_fix.is_none() {
            let mut g = f.lock().unwrap();
            calls_before_fix = Some(g.token_calls);
            g.secret = None;
        }
        clock.set(t);
        for i in 0..50 {
            if done[i] || due[i] > t {
                continue;
            }
            match nn.submit_issue_at(&reqs[i], start).await {
                Ok(_) => done[i] = true,
                Err(ProviderError::Unavailable(_)) => {
                    let hold = nn.hold().expect("a refused token holds the provider");
                    assert!(hold.reason.contains("070305"), "{hold:?}");
                    due[i] = hold.until_ms;
                }
                Err(e) => panic!("{e}"),
            }
        }
        t += 1_000;
    }
    let before = calls_before_fix.unwrap();
    let total = f.lock().unwrap().token_calls;
    eprintln!("50 queued orders, token endpoint refusing for 10 simulated minutes: {before} token calls; all issued {} s later with {} more",
        (t - fixed_at) / 1000, total - before);
    assert!(before <= 5, "{before} token calls in 10 minutes");
    assert!(
        done.iter().all(|d| *d),
        "every order was submitted once the endpoint accepted"
    );
    assert_eq!(total - before, 1, "one token for all once it works");
    assert_eq!(f.lock().unwrap().accepted.len(), 50);
    assert!(
        t - fixed_at <= 1_800_000 + 1_000,
        "the longest wait is the cap (30 min)"
    );
}

// --- 4. a failure keeps its field ---------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_keeps_its_field() {
    let dir = tempfile::tempdir().unwrap();
    let (r, _) = sandbox_proxy(dir.path(), |c| c.sandbox.failure_rate = 1.0).await;
    assert_eq!(post(&r, "/v1/invoices", &body(&r.state.config, "F-1")).await.0, 202);
    let v = wait_final(&r, "F-1", 20).await;
    assert_eq!(v["status"], "failed", "{v}");
    assert_eq!(
        (v["error"]["code"].as_str(), v["error"]["field"].as_str()),
        (Some("BUYER_TAXID_NOT_FOUND"), Some("buyer.taxId")),
        "{v}"
    );
}

// --- 5. the token command ------------------------------------------------------------

#[test]
fn the_token_command_needs_only_the_merchant_key_and_the_seller() {
    let run = |env: &[(&str, &str)]| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_fapiao-proxy"));
        cmd.args(["token", "--order-id", "T-1", "--red", "--blue-order-id", "B-1"])
            .env_clear();
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    };
    let base = [
        ("FAPIAO_PROVIDER", "nuonuo"),
        ("FAPIAO_MERCHANT_KEY", MERCHANT_KEY),
        ("FAPIAO_SELLER_TAX_ID", "339902999999789113"),
    ];
    let out = run(&base);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let t = String::from_utf8(out.stdout).unwrap();
    let claims =
        fapiao_proxy::token::verify_signature(&fapiao_proxy::secret::Secret::new(MERCHANT_KEY), t.trim()).unwrap();
    assert_eq!(claims.merchant, "339902999999789113");
    assert_eq!(claims.merchant_name, None, "no seller name given: none stamped");
    let mut named = base.to_vec();
    named.push(("FAPIAO_SELLER_NAME", "杭州某某餐饮有限公司"));
    let out = run(&named);
    let claims = fapiao_proxy::token::verify_signature(
        &fapiao_proxy::secret::Secret::new(MERCHANT_KEY),
        String::from_utf8(out.stdout).unwrap().trim(),
    )
    .unwrap();
    assert_eq!(claims.merchant_name.as_deref(), Some("杭州某某餐饮有限公司"));
    // The sandbox's merchant name is never stamped on a token.
    let out = run(&[("FAPIAO_MERCHANT_KEY", MERCHANT_KEY)]);
    let claims = fapiao_proxy::token::verify_signature(
        &fapiao_proxy::secret::Secret::new(MERCHANT_KEY),
        String::from_utf8(out.stdout).unwrap().trim(),
    )
    .unwrap();
    assert_eq!(claims.merchant_name, None);
    // What is needed is named.
    let out = run(&[("FAPIAO_PROVIDER", "nuonuo"), ("FAPIAO_MERCHANT_KEY", MERCHANT_KEY)]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("FAPIAO_SELLER_TAX_ID"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

// --- 6. demo tokens ---------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_demo_token_grants_nothing_over_an_order_it_did_not_create() {
    let dir = tempfile::tempdir().unwrap();
    let (r, _) = sandbox_proxy(dir.path(), |c| c.demo = true).await;
    let c = r.state.config.clone();
    // A shopper's order, under a token of the merchant's back end.
    assert_eq!(post(&r, "/v1/invoices", &body(&c, "SHOP-1")).await.0, 202);
    assert_eq!(wait_final(&r, "SHOP-1", 20).await["status"], "issued");
    // Anyone may ask the demo endpoint for a token naming that order…
    let lines = json!([line("午餐", "106.00")]);
    let (s, t) = post(
        &r,
        "/v1/demo/order-token",
        &json!({ "orderId": "SHOP-1", "priceIncludesTax": true, "lines": lines }),
    )
    .await;
    if s == 200 {
        let t = t["orderToken"].as_str().unwrap();
        // …but it reads nothing.
        let resp = r
            .client
            .get(format!("{}/v1/invoices/SHOP-1", r.base))
            .bearer_auth(t)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 401, "a demo token read another shopper's order");
        let resp = r
            .client
            .get(format!("{}/v1/invoices/SHOP-1/events", r.base))
            .bearer_auth(t)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 401);
    }
    // …and reverses nothing.
    let (s, t) = post(
        &r,
        "/v1/demo/order-token",
        &json!({ "purpose": "red", "orderId": "SHOP-1-R", "blueOrderId": "SHOP-1" }),
    )
    .await;
    if s == 200 {
        let (s, v) = post(
            &r,
            "/v1/invoices/SHOP-1/red",
            &json!({ "request": { "orderId": "SHOP-1-R", "reason": "开票有误", "full": true }, "orderToken": t["orderToken"] }),
        )
        .await;
        assert!(
            s == 401 || s == 403,
            "a demo token red-lettered another shopper's order: {s} {v}"
        );
        let (s, v) = post(
            &r,
            "/v1/invoices/SHOP-1/red",
            &json!({ "request": { "reason": "开票有误", "full": true }, "orderToken": t["orderToken"] }),
        )
        .await;
        assert!(s == 401 || s == 403 || s == 422, "{s} {v}");
    }
    assert_eq!(get(&r, "/v1/invoices/SHOP-1").await.1["status"], "issued");
    // A demo order works end to end with its demo token, as the demo pages use it.
    let (s, t) = post(
        &r,
        "/v1/demo/order-token",
        &json!({ "priceIncludesTax": true, "lines": lines }),
    )
    .await;
    assert_eq!(s, 200, "{t}");
    let id = t["orderId"].as_str().unwrap().to_owned();
    let (s, v) = post(
        &r,
        "/v1/invoices",
        &json!({ "request": request(&id, lines.clone()), "orderToken": t["orderToken"] }),
    )
    .await;
    assert_eq!(s, 202, "{v}");
    let resp = r
        .client
        .get(format!("{}/v1/invoices/{id}", r.base))
        .bearer_auth(t["orderToken"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    // With a merchant key the demo is off unless enabled explicitly.
    let key = |extra: &'static [(&'static str, &'static str)]| {
        Config::from_lookup(&move |k| match k {
            "FAPIAO_MERCHANT_KEY" => Some(MERCHANT_KEY.into()),
            _ => extra.iter().find(|(x, _)| *x == k).map(|(_, v)| v.to_string()),
        })
        .unwrap()
    };
    assert!(!key(&[]).demo);
    assert!(key(&[("FAPIAO_DEMO", "true")]).demo);
    assert!(
        Config::from_lookup(&|_| None).unwrap().demo,
        "the sandbox without a merchant key keeps its demo"
    );
}

// --- 7. callback floods -------------------------------------------------------------

/// The sandbox, counting the queries.
struct Counting {
    inner: Arc<Sandbox>,
    queries: AtomicUsize,
}

impl Provider for Counting {
    fn name(&self) -> &'static str {
        self.inner.name()
    }
    fn submit_issue<'a>(&'a self, request: &'a IssueRequest) -> BoxFuture<'a, Result<Accepted, ProviderError>> {
        self.inner.submit_issue(request)
    }
    fn submit_red<'a>(
        &'a self,
        red: &'a RedRequest,
        blue: &'a IssueRequest,
        n: &'a str,
    ) -> BoxFuture<'a, Result<Accepted, ProviderError>> {
        self.inner.submit_red(red, blue, n)
    }
    fn query<'a>(&'a self, order_id: &'a str, kind: Kind) -> BoxFuture<'a, Result<QueryOutcome, ProviderError>> {
        self.queries.fetch_add(1, Ordering::SeqCst);
        self.inner.query(order_id, kind)
    }
    fn document<'a>(&'a self, order_id: &'a str, which: &'a str) -> BoxFuture<'a, Option<Document>> {
        self.inner.document(order_id, which)
    }
    fn deliver<'a>(&'a self, d: &'a Delivery) -> BoxFuture<'a, Result<(), ProviderError>> {
        self.inner.deliver(d)
    }
    fn list_invoices<'a>(&'a self, a: i64, b: i64) -> BoxFuture<'a, Result<Vec<ListedInvoice>, ProviderError>> {
        self.inner.list_invoices(a, b)
    }
}

async fn counting_proxy(
    dir: &std::path::Path,
    settings: &'static [(&'static str, &'static str)],
) -> (Running, Arc<Counting>) {
    let mut config = Config::from_lookup(&move |k| {
        if let Some((_, v)) = settings.iter().find(|(x, _)| *x == k) {
            return Some(v.to_string());
        }
        Some(match k {
            "FAPIAO_MERCHANT_KEY" => MERCHANT_KEY.into(),
            "FAPIAO_RATE_LIMIT" => "0".into(),
            "FAPIAO_SANDBOX_LATENCY_MS" => "0".into(),
            // Accepted, issued only in an hour: the orders stay `issuing`.
            "FAPIAO_SANDBOX_ISSUE_DELAY_MS" => "3600000".into(),
            // No regular poll during the test: only callbacks prompt queries.
            "FAPIAO_POLL_MS" => "3600000".into(),
            _ => return None,
        })
    })
    .unwrap();
    let tc = test_config(dir).await;
    config.database_path = tc.database_path;
    config.postgres = tc.postgres;
    config.hooks.archive_dir = tc.hooks.archive_dir;
    config.instance_id = "probe".into();
    let store = open_store(&config).await;
    let counting = Arc::new(Counting {
        inner: sandbox(&store, &config),
        queries: AtomicUsize::new(0),
    });
    let app = App::start_with(config, store, counting.clone()).await.unwrap();
    (serve(app).await, counting)
}

async fn flood(r: &Arc<Running>, n: usize, ids: &[&str]) -> (usize, usize, Vec<Value>) {
    let (mut ok, mut limited, mut bodies) = (0, 0, Vec::new());
    for chunk in (0..n).collect::<Vec<_>>().chunks(50) {
        let mut tasks = Vec::new();
        for i in chunk {
            let (r, id) = (r.clone(), ids[i % ids.len()].to_owned());
            tasks.push(tokio::spawn(async move {
                let resp = post_callback(&r, "", &id, "1").await;
                let s = resp.status().as_u16();
                (s, resp.json::<Value>().await.unwrap_or(Value::Null))
            }));
        }
        for t in tasks {
            let (s, v) = t.await.unwrap();
            match s {
                200 => ok += 1,
                429 => {
                    limited += 1;
                    bodies.push(v);
                }
                other => panic!("callback answered {other}: {v}"),
            }
        }
    }
    (ok, limited, bodies)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_callback_flood_makes_at_most_one_query_per_order_per_interval() {
    let dir = tempfile::tempdir().unwrap();
    let (r, counting) = counting_proxy(
        dir.path(),
        &[
            ("FAPIAO_CALLBACK_RATE_LIMIT", "0"),
            ("FAPIAO_CALLBACK_MIN_INTERVAL_MS", "2000"),
        ],
    )
    .await;
    let c = r.state.config.clone();
    let ids = ["CB-1", "CB-2", "CB-3"];
    for id in ids {
        assert_eq!(post(&r, "/v1/invoices", &body(&c, id)).await.0, 202);
    }
    // All three submitted and waiting for their (hour-long) poll.
    let deadline = Instant::now() + Duration::from_secs(30);
    for id in ids {
        while get(&r, &format!("/v1/invoices/{id}")).await.1["status"] != "issuing" && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let before = counting.queries.load(Ordering::SeqCst);
    let r = Arc::new(r);
    let started = Instant::now();
    let (ok, _, _) = flood(&r, 1000, &ids).await;
    let elapsed = started.elapsed();
    assert_eq!(ok, 1000, "the rate limit is off here");
    // Let the worker take the prompts: each order queried (its next poll then lies
    // 30 s ahead, the longest poll step), none held.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let mut quiet = true;
        for id in ids {
            let rec = r.state.store.get(id).await.unwrap().unwrap();
            quiet &= rec.lease_owner.is_none()
                && rec.next_attempt_at > fapiao_proxy::time::now_ms() + 20_000
                && rec.next_attempt_at < fapiao_proxy::time::now_ms() + 60_000;
        }
        if quiet || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let queries = counting.queries.load(Ordering::SeqCst) - before;
    let intervals = (started.elapsed().as_millis() / 2000) as usize + 1;
    eprintln!("1000 callbacks for 3 orders in {elapsed:?}: {queries} provider queries");
    assert!(
        queries <= 3 * intervals,
        "{queries} queries for 3 orders over {intervals} intervals"
    );
    assert!(queries >= 3, "the callbacks prompted a query of each order: {queries}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn callbacks_beyond_the_limit_get_429() {
    let dir = tempfile::tempdir().unwrap();
    let (r, _) = counting_proxy(
        dir.path(),
        &[
            ("FAPIAO_CALLBACK_RATE_LIMIT", "20"),
            ("FAPIAO_CALLBACK_RATE_BURST", "40"),
        ],
    )
    .await;
    let r = Arc::new(r);
    let started = Instant::now();
    let (ok, limited, bodies) = flood(&r, 500, &["NOPE-1"]).await;
    let secs = started.elapsed().as_secs_f64();
    assert!(limited > 0, "no callback was limited");
    assert!(
        ok as f64 <= 40.0 + 20.0 * secs + 1.0,
        "{ok} callbacks accepted in {secs} s"
    );
    assert!(
        bodies.iter().all(|v| codes(v) == ["RATE_LIMITED"]),
        "{:?}",
        bodies.first()
    );
}

// --- 8. half-open connections ---------------------------------------------------------

/// Connects, writes `sent`, and waits (at most `cap`) for the server to close.
async fn closed_after(r: &Running, sent: &'static [u8], cap: Duration) -> Option<Duration> {
    let addr = r.base.trim_start_matches("http://").to_owned();
    tokio::task::spawn_blocking(move || {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        s.write_all(sent).unwrap();
        s.set_read_timeout(Some(cap)).unwrap();
        let started = Instant::now();
        let mut buf = [0u8; 4096];
        loop {
            match s.read(&mut buf) {
                Ok(0) => return Some(started.elapsed()),
                Ok(_) => continue, // an answer (408, or the first request's); wait for the close
                Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                    return None
                }
                Err(_) => return Some(started.elapsed()), // reset
            }
        }
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_open_and_idle_connections_are_closed() {
    let dir = tempfile::tempdir().unwrap();
    let (r, _) = counting_proxy(
        dir.path(),
        &[("FAPIAO_HEADER_TIMEOUT_MS", "500"), ("FAPIAO_IDLE_TIMEOUT_MS", "1000")],
    )
    .await;
    // The cap only ends a failing test; a passing one ends when the server closes.
    let cap = Duration::from_secs(20);
    let half = closed_after(&r, b"GET /healthz HTTP/1.1\r\nHost: x\r\n", cap).await;
    eprintln!("half-open request closed after {half:?}");
    assert!(
        half.is_some(),
        "a connection that never finished its headers stayed open"
    );
    assert!(
        closed_after(&r, b"", cap).await.is_some(),
        "a silent connection stayed open"
    );
    let idle = closed_after(&r, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", cap).await;
    eprintln!("idle keep-alive connection closed after {idle:?}");
    assert!(idle.is_some(), "an idle keep-alive connection stayed open");
    // A body that stops coming: closed after the idle timeout.
    let body = closed_after(
        &r,
        b"POST /v1/invoices HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{",
        cap,
    )
    .await;
    eprintln!("stalled body closed after {body:?}");
    assert!(body.is_some(), "a connection whose body stopped coming stayed open");
    // Ordinary requests still work.
    assert_eq!(get(&r, "/healthz").await.0, 200);
}

// --- 9. odd requests, and errors in the envelope ----------------------------------

async fn http_raw(r: &Running, head: &'static str) -> String {
    let addr = r.base.trim_start_matches("http://").to_owned();
    tokio::task::spawn_blocking(move || {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.write_all(head.as_bytes()).unwrap();
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        String::from_utf8_lossy(&out).into_owned()
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn odd_requests_get_clear_answers_in_the_envelope() {
    let dir = tempfile::tempdir().unwrap();
    let www = dir.path().join("www");
    std::fs::create_dir_all(&www).unwrap();
    std::fs::write(www.join("index.html"), "<h1>shop</h1>").unwrap();
    std::fs::write(www.join(".env"), "SECRET=dotfile").unwrap();
    std::fs::create_dir_all(www.join(".git")).unwrap();
    std::fs::write(www.join(".git/config"), "[core]").unwrap();
    std::fs::write(dir.path().join("outside.txt"), "outside the folder").unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(dir.path().join("outside.txt"), www.join("link.txt")).unwrap();
    let (r, _) = sandbox_proxy(dir.path(), |c| c.static_dir = www.clone()).await;

    // A request target without a leading slash.
    let a = http_raw(&r, "GET db.sqlite HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await;
    assert!(a.starts_with("HTTP/1.1 400"), "{a}");
    assert!(a.contains("\"errors\""), "{a}");

    // Query and path errors, and methods a route does not take: the JSON envelope.
    let envelope = |s: u16, v: &Value| s >= 400 && !codes(v).is_empty();
    let (s, v) = get_anonymous(&r, "/v1/invoices/X?access=a&access=b").await;
    assert!(envelope(s, &v) && s == 400, "{s} {v}");
    let (s, v) = get_anonymous(&r, "/v1/invoices/X?wait=forever").await;
    assert!(envelope(s, &v) && s == 400, "{s} {v}");
    let (s, v) = get_anonymous(&r, "/v1/invoices/%FF%FE").await;
    assert!(envelope(s, &v), "{s} {v}");
    let resp = r
        .client
        .delete(format!("{}/v1/invoices/X", r.base))
        .send()
        .await
        .unwrap();
    let s = resp.status().as_u16();
    assert!(
        envelope(s, &resp.json().await.unwrap_or(Value::Null)) && s == 405,
        "{s}"
    );
    let resp = r.client.put(format!("{}/healthz", r.base)).send().await.unwrap();
    assert_eq!(resp.status(), 405);
    assert!(!codes(&resp.json().await.unwrap_or(Value::Null)).is_empty());

    // The static server: no dotfiles, no symlinks out of its folder.
    let page = r.client.get(format!("{}/", r.base)).send().await.unwrap();
    assert_eq!(page.status(), 200);
    for p in ["/.env", "/.git/config", "/%2eenv", "/link.txt"] {
        let resp = r.client.get(format!("{}{p}", r.base)).send().await.unwrap();
        let s = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        assert_eq!(s, 404, "{p}: {text}");
        assert!(
            !text.contains("dotfile") && !text.contains("outside the folder"),
            "{p}: {text}"
        );
    }

    // An order token issued far in the future.
    let c = r.state.config.clone();
    let now = fapiao_proxy::time::now_s();
    let lines = json!([line("午餐", "106.00")]);
    let t = fapiao_proxy::token::mint(
        &c.merchant_key,
        &Claims {
            v: 1,
            merchant: c.seller_tax_id.clone(),
            purpose: Purpose::Issue,
            order_id: "FUT-1".into(),
            issued_at: now + 365 * 86_400,
            expires_at: now + 366 * 86_400,
            price_includes_tax: true,
            lines: serde_json::from_value(lines.clone()).unwrap(),
            totals: TokenTotals {
                amount_incl_tax: Some("106.00".into()),
                ..Default::default()
            },
            ..Default::default()
        },
    );
    let (s, v) = post(
        &r,
        "/v1/invoices",
        &json!({ "request": request("FUT-1", lines), "orderToken": t }),
    )
    .await;
    assert_eq!(
        (s, codes(&v)),
        (401, vec!["ORDER_TOKEN_NOT_YET_VALID".to_owned()]),
        "{v}"
    );
}
