//! Signed webhooks (outage, restart, order per order, de-duplication,
//! replay, tampering), reconciliation (lost acknowledgements, unknown invoices,
//! 10-day windows), delivery, and the compliance archive (allow-list, redirects,
//! SHA-256, export) — against the sandbox and a fake 诺诺 that checks signatures.
//!
//! On SQLite by default; `FAPIAO_TEST_BACKEND=postgres` runs them on PostgreSQL
//! (scripts/test.sh does both). `two_instances_send_each_event_once_in_order`
//! needs `FAPIAO_TEST_POSTGRES` and is skipped without it.

mod common;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get as route_get, post as route_post};
use axum::{Json, Router};
use common::*;
use fapiao_proxy::provider::sign;
use fapiao_proxy::queues::webhooks;
use fapiao_proxy::secret::Secret;
use fapiao_proxy::store::Store;
use fapiao_proxy::{ledger, App, Config};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const SECRET: &str = "whsec_hooks_test_0123456789";
const ADMIN: &str = "admin-token-0123456789abcdef";

fn sha_hex(b: &[u8]) -> String {
    Sha256::digest(b).iter().map(|x| format!("{x:02x}")).collect()
}

async fn until(what: &str, secs: u64, mut f: impl FnMut() -> futures_util::future::BoxFuture<'static, bool>) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !f().await {
        assert!(Instant::now() < deadline, "{what}: not reached in {secs} s");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

// ---------------------------------------------------------------- receiver

#[derive(Default)]
struct Receiver {
    /// Answer 500 to this many requests first.
    fail_first: usize,
    /// Every request: (event id, order, seq, type, answered status, arrival index).
    log: Vec<(String, String, i64, String, u16)>,
    in_flight: HashMap<String, usize>,
    max_in_flight_per_order: usize,
    bad_signatures: usize,
    bodies: HashMap<String, Value>,
}

type Rx = Arc<Mutex<Receiver>>;

async fn hook(State(rx): State<Rx>, headers: HeaderMap, body: Bytes) -> impl IntoResponse {
    let sig = headers
        .get("Fapiao-Signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let ok = webhooks::verify(SECRET, &sig, &body, fapiao_proxy::time::now_s(), webhooks::TOLERANCE_S).is_ok();
    let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let id = v["id"].as_str().unwrap_or("").to_owned();
    let order = v["orderId"].as_str().unwrap_or("").to_owned();
    assert_eq!(
        headers.get("Fapiao-Event-Id").and_then(|h| h.to_str().ok()),
        Some(id.as_str())
    );
    {
        let mut r = rx.lock().unwrap();
        if !ok {
            r.bad_signatures += 1;
        }
        let n = r.in_flight.entry(order.clone()).or_default();
        *n += 1;
        let n = *n;
        r.max_in_flight_per_order = r.max_in_flight_per_order.max(n);
    }
    tokio::time::sleep(Duration::from_millis(3)).await;
    let mut r = rx.lock().unwrap();
    *r.in_flight.get_mut(&order).unwrap() -= 1;
    let status = if r.fail_first > 0 {
        r.fail_first -= 1;
        500
    } else if ok {
        200
    } else {
        401
    };
    r.log.push((
        id.clone(),
        order,
        v["seq"].as_i64().unwrap_or(0),
        v["type"].as_str().unwrap_or("").to_owned(),
        status,
    ));
    r.bodies.insert(id, v);
    StatusCode::from_u16(status).unwrap()
}

async fn start_receiver(listener: tokio::net::TcpListener, fail_first: usize) -> Rx {
    let rx: Rx = Arc::new(Mutex::new(Receiver {
        fail_first,
        ..Default::default()
    }));
    let app = Router::new().route("/hook", route_post(hook)).with_state(rx.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    rx
}

fn hook_config(c: &mut Config, port: u16) {
    c.hooks.webhook_url = Some(format!("http://127.0.0.1:{port}/hook"));
    c.hooks.webhook_secret = Some(Secret::new(SECRET));
    c.hooks.webhook_retry_base = Duration::from_millis(20);
    c.hooks.webhook_retry_max = Duration::from_millis(250);
    c.hooks.webhook_timeout = Duration::from_secs(2);
    c.hooks.admin_token = Some(Secret::new(ADMIN));
}

fn red_body(c: &Config, blue: &str, red: &str) -> Value {
    let now = fapiao_proxy::time::now_s();
    let t = fapiao_proxy::token::mint(
        &c.merchant_key,
        &fapiao_proxy::token::Claims {
            v: 1,
            merchant: c.seller_tax_id.clone(),
            purpose: fapiao_proxy::token::Purpose::Red,
            order_id: red.into(),
            blue_order_id: Some(blue.into()),
            issued_at: now,
            expires_at: now + 600,
            ..Default::default()
        },
    );
    json!({ "request": { "orderId": red, "reason": "开票有误", "full": true }, "orderToken": t })
}

async fn pending_events(store: &Store) -> i64 {
    ledger::outbox_counts(store)
        .await
        .unwrap()
        .into_iter()
        .find(|(s, _)| s == "pending")
        .map(|(_, n)| n)
        .unwrap_or(0)
}

/// Two instances on one PostgreSQL database, one receiver that fails its first
/// requests: every event is acknowledged exactly once, each order's events
/// arrive in sequence and never two of one order at once, whichever instance
/// issued the order or sends the event.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_send_each_event_once_in_order() {
    let Some(base) = postgres_url("hooks::two_instances_send_each_event_once_in_order") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let rx = start_receiver(listener, 15).await;
    let url = fresh_database(&base, &format!("fapiao_hooks_two_{}", std::process::id())).await;
    let mut runs = Vec::new();
    for name in ["a", "b"] {
        let mut c = Config::for_tests(dir.path().join("fapiao.sqlite"));
        c.postgres = Some(Secret::new(url.clone()));
        c.instance_id = name.into();
        c.hooks.archive_dir = Some(dir.path().join("archive"));
        hook_config(&mut c, port);
        c.hooks.webhook_concurrency = 4;
        let store = open_store(&c).await;
        let sbx = sandbox(&store, &c);
        runs.push(serve(App::start_with(c, store, sbx).await.unwrap()).await);
    }
    let (a, b) = (&runs[0], &runs[1]);
    let blues: Vec<String> = (0..24).map(|i| format!("TWO-{i}")).collect();
    for (i, id) in blues.iter().enumerate() {
        let r = if i % 2 == 0 { a } else { b };
        assert_eq!(post(r, "/v1/invoices", &body(&r.state.config, id)).await.0, 202);
    }
    for id in &blues {
        assert_eq!(wait_final(a, id, 20).await["status"], "issued");
    }
    // Full red letters for a third of them, taken by the other instance.
    for (i, id) in blues.iter().enumerate().filter(|(i, _)| i % 3 == 0) {
        let r = if i % 2 == 0 { b } else { a };
        let red = format!("{id}-R");
        assert_eq!(
            post(
                r,
                &format!("/v1/invoices/{id}/red"),
                &red_body(&r.state.config, id, &red)
            )
            .await
            .0,
            202
        );
        assert_eq!(wait_final(a, &red, 20).await["status"], "issued");
        assert_eq!(wait_final(a, id, 20).await["status"], "reversed");
    }
    let store = a.state.store.clone();
    let s = store.clone();
    until("every event acknowledged", 60, move || {
        let s = s.clone();
        Box::pin(async move { pending_events(&s).await == 0 })
    })
    .await;
    let all = ledger::events(&store, None, 10_000).await.unwrap();
    assert_eq!(
        all.len(),
        24 * 2 + 8 + 8 * 2,
        "accepted + issued per blue; reversed per reversed blue; accepted + red issued per red"
    );
    let rx = rx.lock().unwrap();
    assert_eq!(rx.bad_signatures, 0);
    assert_eq!(rx.max_in_flight_per_order, 1, "never two events of one order at once");
    let mut acked: HashMap<&str, usize> = HashMap::new();
    let mut last_seq: HashMap<&str, i64> = HashMap::new();
    for (id, order, seq, _, status) in &rx.log {
        if *status != 200 {
            continue;
        }
        *acked.entry(id).or_default() += 1;
        let prev = last_seq.insert(order, *seq).unwrap_or(0);
        assert_eq!(*seq, prev + 1, "order {order}: seq {seq} acknowledged after {prev}");
    }
    assert_eq!(acked.len(), all.len(), "every event acknowledged");
    assert!(
        acked.values().all(|n| *n == 1),
        "each event acknowledged once: {acked:?}"
    );
    drop(rx);
    for r in runs {
        r.kill();
    }
}

/// The receiver refuses connections, then answers 500, then recovers; the proxy
/// is killed and restarted in between. Every event arrives, signed, each id once
/// after de-duplication, in order per order, never two of one order at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_survive_an_outage_and_a_restart_in_order() {
    let dir = tempfile::tempdir().unwrap();
    // A port with nobody listening yet: connections are refused.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let (r, _sbx) = sandbox_proxy(dir.path(), |c| hook_config(c, port)).await;
    let c = r.state.config.clone();
    const N: usize = 12;
    for i in 0..N {
        assert_eq!(post(&r, "/v1/invoices", &body(&c, &format!("WH-{i}"))).await.0, 202);
    }
    for i in 0..N {
        assert_eq!(wait_final(&r, &format!("WH-{i}"), 15).await["status"], "issued");
    }
    let (s, v) = post(&r, "/v1/invoices/WH-0/red", &red_body(&c, "WH-0", "WH-0-R")).await;
    assert_eq!(s, 202, "{v}");
    assert_eq!(wait_final(&r, "WH-0-R", 15).await["status"], "issued");
    assert_eq!(get(&r, "/v1/invoices/WH-0").await.1["status"], "reversed");
    // Accepted + issued per order, + reversed for WH-0, + accepted/red_issued for WH-0-R.
    let expected = 2 * N + 1 + 2;
    let store = r.state.store.clone();
    let all = ledger::events(&store, None, 1000).await.unwrap();
    assert_eq!(all.len(), expected, "{all:#?}");
    // Refused connections were retried (visible attempts), nothing delivered.
    let s2 = store.clone();
    until("retries while the receiver is down", 10, move || {
        let s = s2.clone();
        Box::pin(async move {
            ledger::events(&s, None, 1000)
                .await
                .unwrap()
                .iter()
                .any(|e| e.attempts >= 2)
        })
    })
    .await;
    assert_eq!(pending_events(&store).await, expected as i64);

    // Crash, and restart on the same database.
    r.kill();
    let mut config = test_config(dir.path()).await;
    hook_config(&mut config, port);
    let store2 = open_store(&config).await;
    let sbx2 = sandbox(&store2, &config);
    let r2 = serve(App::start_with(config, store2.clone(), sbx2).await.unwrap()).await;
    // The receiver comes up, answering 500 to its first 20 requests.
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.unwrap();
    let recovered = Instant::now();
    let rx = start_receiver(listener, 20).await;
    let s3 = store2.clone();
    until("every event acknowledged", 30, move || {
        let s = s3.clone();
        Box::pin(async move { pending_events(&s).await == 0 })
    })
    .await;
    let drained = recovered.elapsed();
    let attempts_max = ledger::events(&store2, None, 1000)
        .await
        .unwrap()
        .iter()
        .map(|e| e.attempts)
        .max()
        .unwrap();

    {
        let rec = rx.lock().unwrap();
        assert_eq!(rec.bad_signatures, 0);
        assert!(
            rec.log.iter().filter(|l| l.4 == 500).count() == 20,
            "the 500s were answered and retried"
        );
        let acked: Vec<&(String, String, i64, String, u16)> = rec.log.iter().filter(|l| l.4 == 200).collect();
        let unique: HashSet<&String> = acked.iter().map(|l| &l.0).collect();
        assert_eq!(unique.len(), expected, "each event id acknowledged (de-duplicated)");
        assert_eq!(acked.len(), expected, "nothing acknowledged twice");
        let ids: HashSet<String> = all.iter().map(|e| e.event_id.clone()).collect();
        assert_eq!(unique.iter().map(|s| s.to_string()).collect::<HashSet<_>>(), ids);
        // In order per order: seq 1, 2, … acknowledged in turn, and no request for
        // n+1 arrived before n was acknowledged.
        let mut next: HashMap<&str, i64> = HashMap::new();
        for l in &rec.log {
            let want = next.entry(l.1.as_str()).or_insert(1);
            assert_eq!(l.2, *want, "order {} got seq {} while waiting for {}", l.1, l.2, want);
            if l.4 == 200 {
                *want += 1;
            }
        }
        assert_eq!(
            rec.max_in_flight_per_order, 1,
            "events of one order are never sent concurrently"
        );
        // The documented shape.
        let issued = rec
            .bodies
            .values()
            .find(|v| v["orderId"] == "WH-3" && v["type"] == "invoice.issued")
            .unwrap();
        assert_eq!(issued["seq"], 2);
        assert_eq!(issued["data"]["status"], "issued");
        assert_eq!(issued["data"]["invoiceNumber"].as_str().unwrap().len(), 20);
        assert!(issued["createdAt"].as_str().unwrap().ends_with("+08:00"));
        let types: Vec<&str> = rec
            .log
            .iter()
            .filter(|l| l.1 == "WH-0" && l.4 == 200)
            .map(|l| l.3.as_str())
            .collect();
        assert_eq!(types, ["order.accepted", "invoice.issued", "invoice.reversed"]);
        let types: Vec<&str> = rec
            .log
            .iter()
            .filter(|l| l.1 == "WH-0-R" && l.4 == 200)
            .map(|l| l.3.as_str())
            .collect();
        assert_eq!(types, ["order.accepted", "invoice.red_issued"]);
        eprintln!(
            "webhooks: {expected} events drained in {drained:?} after the receiver came up ({} requests incl. 20 answered 500; max attempts of one event {attempts_max})",
            rec.log.len()
        );
    }

    // A tampered delivery fails the documented check.
    let e = ledger::events(&store2, Some("WH-1".into()), 10)
        .await
        .unwrap()
        .remove(1);
    let t = fapiao_proxy::time::now_s();
    let header = webhooks::sign(SECRET, t, e.body.as_bytes());
    assert!(webhooks::verify(SECRET, &header, e.body.as_bytes(), t, 300).is_ok());
    let tampered = e.body.replace("\"issued\"", "\"failed\"");
    assert_ne!(tampered, e.body);
    assert_eq!(
        webhooks::verify(SECRET, &header, tampered.as_bytes(), t, 300),
        Err(webhooks::VerifyError::Mismatch)
    );
    assert_eq!(
        webhooks::verify(
            SECRET,
            &header.replacen(&format!("t={t}"), &format!("t={}", t - 1), 1),
            e.body.as_bytes(),
            t,
            300
        ),
        Err(webhooks::VerifyError::Mismatch)
    );
    assert_eq!(
        webhooks::verify(SECRET, &header, e.body.as_bytes(), t + 301, 300),
        Err(webhooks::VerifyError::Stale)
    );

    // Replay: the admin endpoint needs the token, then re-sends the same ids.
    let today = fapiao_proxy::time::cst_rfc3339(fapiao_proxy::time::now_ms())[..10].to_owned();
    let url = format!("{}/v1/admin/webhooks/replay", r2.base);
    let resp = r2
        .client
        .post(&url)
        .json(&json!({ "from": today, "to": today, "orderId": "WH-5" }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let resp = r2
        .client
        .post(&url)
        .bearer_auth("wrong-token-0123456789abc")
        .json(&json!({ "from": today, "to": today }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(codes(&resp.json().await.unwrap()), ["ADMIN_UNAUTHORIZED"]);
    let resp = r2
        .client
        .post(&url)
        .bearer_auth(ADMIN)
        .json(&json!({ "from": today, "to": today, "orderId": "WH-5" }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.json::<Value>().await.unwrap()["replayed"], 2);
    let s4 = store2.clone();
    until("replayed", 10, move || {
        let s = s4.clone();
        Box::pin(async move { pending_events(&s).await == 0 })
    })
    .await;
    let rec = rx.lock().unwrap();
    let wh5: Vec<&(String, String, i64, String, u16)> =
        rec.log.iter().filter(|l| l.1 == "WH-5" && l.4 == 200).collect();
    assert_eq!(wh5.len(), 4, "sent twice in all");
    assert_eq!(wh5[0].0, wh5[2].0, "the same event ids");
    assert_eq!(wh5[1].0, wh5[3].0);
}

// ---------------------------------------------------------------- fake 诺诺

const APP_KEY: &str = "TESTAPPKEY01";
const APP_SECRET: &str = "APPSECRET-hooks-7f3a";
const ACCESS_TOKEN: &str = "ACCESSTOKEN-hooks-91c2";
const MERCHANT_KEY: &str = "MERCHANTKEY-hooks-0123456789abcdef";

#[derive(Default)]
struct Fake {
    base: String,
    bad_signatures: usize,
    orders: HashMap<String, (Value, usize, String)>, // order → (body, queries, number)
    deliveries: Vec<Value>,
    list_windows: Vec<(String, String)>,
    ghosts: Vec<Value>,
    file_hits: HashMap<String, usize>,
}

type Shared = Arc<Mutex<Fake>>;

fn file_bytes(name: &str) -> Vec<u8> {
    let mut b = format!("%PDF-1.7 fake invoice {name}\n").into_bytes();
    b.extend((0..4096u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8));
    b
}

async fn token(body: String) -> Json<Value> {
    assert!(body.contains(&format!("client_secret={APP_SECRET}")));
    Json(json!({ "access_token": ACCESS_TOKEN, "expires_in": "86400" }))
}

fn parse_cst(s: &str) -> i64 {
    let day = ledger::cst_day_start(&s[..10]).unwrap();
    let (h, m, sec): (i64, i64, i64) = (
        s[11..13].parse().unwrap(),
        s[14..16].parse().unwrap(),
        s[17..19].parse().unwrap(),
    );
    day + (h * 3600 + m * 60 + sec) * 1000
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
    if !sign::verify(
        APP_SECRET,
        "/open/v1/services",
        APP_KEY,
        &g("senid"),
        &g("nonce"),
        &g("timestamp"),
        &text,
        &h("X-Nuonuo-Sign"),
    ) {
        f.lock().unwrap().bad_signatures += 1;
        return Json(json!({ "code": "070601", "describe": "签名不匹配" }));
    }
    assert_eq!(h("accessToken"), ACCESS_TOKEN);
    let v: Value = serde_json::from_str(&text).unwrap();
    let mut f = f.lock().unwrap();
    let base = f.base.clone();
    Json(match h("method").as_str() {
        "nuonuo.OpeMplatform.requestBillingNew" => {
            let o = v["order"].clone();
            let no = o["orderNo"].as_str().unwrap().to_owned();
            if f.orders.contains_key(&no) {
                json!({ "code": "E9106", "describe": "订单编号或流水号不能重复" })
            } else {
                let number = format!("2633200000{:010}", f.orders.len() + 1);
                f.orders.insert(no.clone(), (o.clone(), 0, number));
                if no.starts_with("LOST") {
                    // Accepted and issued, but the proxy is told otherwise (a lost acknowledgement).
                    json!({ "code": "E9302", "describe": "身份认证与当前企业税号不相符" })
                } else if o["remark"] == "E9302" {
                    f.orders.remove(&no);
                    json!({ "code": "E9302", "describe": "身份认证与当前企业税号不相符" })
                } else {
                    json!({ "code": "E0000", "describe": "开票提交成功", "result": { "invoiceSerialNum": format!("SN{no}") } })
                }
            }
        }
        "nuonuo.OpeMplatform.queryInvoiceResult" => {
            let no = v["orderNos"][0].as_str().unwrap().to_owned();
            match f.orders.get_mut(&no) {
                None => json!({ "code": "E9500", "describe": "发票不存在" }),
                Some((_, n, number)) => {
                    *n += 1;
                    if *n == 1 && !no.starts_with("LOST") {
                        json!({ "code": "E0000", "result": [{ "orderNo": no, "status": "20" }] })
                    } else {
                        json!({ "code": "E0000", "describe": "获取成功", "result": [{ "orderNo": no, "status": "2", "allElectronicInvoiceNumber": number,
                            "invoiceTime": fapiao_proxy::time::now_ms(), "orderAmount": "106.00", "payerName": "北京某某科技有限公司",
                            "pdfUrl": format!("{base}/files/{no}.pdf"), "ofdUrl": format!("https://evil.example/{no}.ofd"),
                            "xmlUrl": format!("{base}/redirect/{no}.xml"), "emailNotifyStatus": "2", "phoneNotifyStatus": "0" }] })
                    }
                }
            }
        }
        "nuonuo.OpeMplatform.deliveryInvoice" => {
            assert_eq!(v["taxnum"], "339902999999789113");
            assert_eq!(v["invoiceNum"].as_str().unwrap().len(), 20);
            f.deliveries.push(v.clone());
            if v["mail"].as_str().is_some_and(|m| m.contains("bounce")) {
                json!({ "code": "E9999", "describe": "邮件发送失败" })
            } else {
                json!({ "code": "E0000", "describe": "交付成功" })
            }
        }
        "nuonuo.OpeMplatform.queryInvoiceList" => {
            let (a, b) = (
                v["startTime"].as_str().unwrap().to_owned(),
                v["endTime"].as_str().unwrap().to_owned(),
            );
            let (ta, tb) = (parse_cst(&a), parse_cst(&b));
            assert!(
                tb > ta && tb - ta <= 10 * 86_400_000,
                "queryInvoiceList allows at most 10 days: {a} … {b}"
            );
            assert_eq!(v["taxnum"], "339902999999789113");
            f.list_windows.push((a, b));
            let now = fapiao_proxy::time::now_ms();
            let mut list: Vec<Value> = f
                .orders
                .iter()
                .map(|(no, (_, _, number))| json!({ "orderNo": no, "status": "2", "allElectronicInvoiceNumber": number, "invoiceTime": now, "orderAmount": "106.00" }))
                .collect();
            list.extend(f.ghosts.iter().cloned());
            list.retain(|i| (ta..=tb + 999).contains(&i["invoiceTime"].as_i64().unwrap()));
            json!({ "code": "E0000", "describe": "成功", "result": { "total": list.len(), "list": list } })
        }
        other => json!({ "code": "E4000", "describe": format!("unknown method {other}") }),
    })
}

async fn files(State(f): State<Shared>, Path(name): Path<String>) -> axum::response::Response {
    let n = {
        let mut f = f.lock().unwrap();
        let n = f.file_hits.entry(name.clone()).or_default();
        *n += 1;
        *n
    };
    if n == 1 {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response(); // the first download fails
    }
    ([("content-type", "application/pdf")], file_bytes(&name)).into_response()
}

async fn redirect(State(f): State<Shared>, Path(name): Path<String>) -> axum::response::Response {
    let port = f.lock().unwrap().base.rsplit(':').next().unwrap().to_owned();
    (
        StatusCode::FOUND,
        [("location", format!("http://localhost:{port}/files/{name}"))],
    )
        .into_response()
}

async fn fake_nuonuo() -> (String, Shared) {
    let shared: Shared = Arc::default();
    let app = Router::new()
        .route("/accessToken", route_post(token))
        .route("/open/v1/services", route_post(gateway))
        .route("/files/{name}", route_get(files))
        .route("/redirect/{name}", route_get(redirect))
        .with_state(shared.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let base = format!("http://{addr}");
    shared.lock().unwrap().base = base.clone();
    (base, shared)
}

async fn nuonuo_proxy(dir: &std::path::Path, fake: &str) -> Running {
    let host = fake.trim_start_matches("http://").to_owned();
    let keys = NuonuoKeys {
        app_key: APP_KEY,
        app_secret: APP_SECRET,
        merchant_key: MERCHANT_KEY,
    };
    let mut config = nuonuo_config(
        &dir.join("fapiao.sqlite"),
        fake,
        &keys,
        &[
            ("FAPIAO_PROVIDER_TIMEOUT_MS", "2000"),
            ("FAPIAO_FILE_HOSTS", &host),
            ("FAPIAO_FILE_ALLOW_HTTP_LOOPBACK", "true"),
            ("FAPIAO_ARCHIVE_RETRY_BASE_MS", "50"),
            ("FAPIAO_ADMIN_TOKEN", ADMIN),
            ("FAPIAO_DELIVERY_LIMIT", "3"),
        ],
    );
    let base = test_config(dir).await;
    config.database_path = base.database_path;
    config.postgres = base.postgres;
    config.hooks.archive_dir = Some(dir.join("archive"));
    let store = open_store(&config).await;
    let provider = fapiao_proxy::provider::from_config(&config, &store).unwrap();
    serve(App::start_with(config, store, provider).await.unwrap()).await
}

fn deliver_body(c: &Config, order: &str, request: Value) -> Value {
    let lines = json!([line("午餐", "106.00")]);
    json!({ "request": request, "orderToken": mint(c, order, &lines, "106.00", 600) })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nuonuo_archive_delivery_and_reconciliation() {
    let (fake, state) = fake_nuonuo().await;
    let dir = tempfile::tempdir().unwrap();
    let r = nuonuo_proxy(dir.path(), &fake).await;
    let c = r.state.config.clone();

    // Issued with the buyer's e-mail: 诺诺 delivers it itself (pushMode 0 = e-mail).
    assert_eq!(post(&r, "/v1/invoices", &body(&c, "NH-1")).await.0, 202);
    assert_eq!(wait_final(&r, "NH-1", 10).await["status"], "issued");
    {
        let f = state.lock().unwrap();
        let o = &f.orders["NH-1"].0;
        assert_eq!(
            (o["pushMode"].as_str(), o["email"].as_str()),
            (Some("0"), Some("caiwu@example.com")),
            "{o}"
        );
    }

    // Archive: the PDF (allowed loopback host; the first download fails and is
    // retried), the OFD on another host refused, the XML's redirect to another host refused.
    let started = Instant::now();
    let st = r.state.clone();
    until("the archive settles", 15, move || {
        let st = st.clone();
        Box::pin(async move {
            ledger::archive_of(&st.store, "NH-1")
                .await
                .unwrap()
                .iter()
                .all(|f| f.state != "pending")
                && !ledger::archive_of(&st.store, "NH-1").await.unwrap().is_empty()
        })
    })
    .await;
    let archived_in = started.elapsed();
    let files = ledger::archive_of(&r.state.store, "NH-1").await.unwrap();
    let by: HashMap<&str, &ledger::ArchiveRow> = files.iter().map(|f| (f.kind.as_str(), f)).collect();
    let bytes = file_bytes("NH-1.pdf");
    assert_eq!(by["pdf"].state, "stored", "{files:#?}");
    assert_eq!(
        by["pdf"].sha256.as_deref(),
        Some(sha_hex(&bytes).as_str()),
        "the archived SHA-256 is the provider's bytes'"
    );
    assert_eq!(by["pdf"].size, Some(bytes.len() as i64));
    assert!(by["pdf"].attempts >= 2, "the failed first download was retried");
    assert_eq!(by["ofd"].state, "refused");
    assert!(
        by["ofd"].last_error.as_deref().unwrap().contains("evil.example"),
        "{:?}",
        by["ofd"]
    );
    assert_eq!(by["xml"].state, "refused");
    assert!(
        by["xml"].last_error.as_deref().unwrap().contains("redirect"),
        "{:?}",
        by["xml"]
    );
    assert_eq!(
        state.lock().unwrap().file_hits.get("NH-1.xml"),
        None,
        "the redirect target was never fetched"
    );
    let resp = r
        .client
        .get(format!("{}/v1/invoices/NH-1/files/pdf", r.base))
        .bearer_auth(access(&c, "NH-1"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/pdf");
    let etag = resp.headers()["etag"].to_str().unwrap().to_owned();
    assert_eq!(etag, format!("\"{}\"", sha_hex(&bytes)));
    assert_eq!(sha_hex(&resp.bytes().await.unwrap()), sha_hex(&bytes));
    let resp = r
        .client
        .get(format!(
            "{}/v1/invoices/NH-1/files/pdf?access={}",
            r.base,
            access(&c, "NH-1")
        ))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 304);
    let (s, v) = get(&r, "/v1/invoices/NH-1/files/ofd").await;
    assert_eq!((s, codes(&v)), (404, vec!["FILE_NOT_AVAILABLE".to_owned()]));
    let v = r
        .client
        .get(format!("{}/v1/admin/archive/pending", r.base))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    let pending: Vec<(&str, &str)> = v["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["kind"].as_str().unwrap(), f["state"].as_str().unwrap()))
        .collect();
    assert_eq!(pending, [("ofd", "refused"), ("xml", "refused")], "{v}");
    eprintln!(
        "archive: PDF of {} bytes stored in {archived_in:?} (one failed download retried)",
        bytes.len()
    );

    // Delivery: validation first (nothing reaches 诺诺).
    let path = "/v1/invoices/NH-1/deliver";
    let (s, v) = post(&r, path, &deliver_body(&c, "NH-1", json!({}))).await;
    assert_eq!((s, codes(&v)), (422, vec!["DELIVERY_CHANNEL_REQUIRED".to_owned()]));
    let (s, v) = post(
        &r,
        path,
        &deliver_body(&c, "NH-1", json!({ "email": "not-an-address" })),
    )
    .await;
    assert_eq!((s, codes(&v)), (422, vec!["BUYER_EMAIL_FORMAT".to_owned()]), "{v}");
    assert_eq!(v["errors"][0]["field"], "email");
    let (s, v) = post(&r, path, &deliver_body(&c, "NH-1", json!({ "phone": "12345" }))).await;
    assert_eq!((s, codes(&v)), (422, vec!["BUYER_MOBILE_FORMAT".to_owned()]), "{v}");
    let (s, v) = post(
        &r,
        path,
        &deliver_body(&c, "NH-OTHER", json!({ "email": "a@example.com" })),
    )
    .await;
    assert_eq!(
        (s, codes(&v)),
        (403, vec!["ORDER_TOKEN_MISMATCH".to_owned()]),
        "a token of another order"
    );
    let (s, v) = post(&r, path, &json!({ "request": { "email": "a@example.com" } })).await;
    assert_eq!((s, codes(&v)), (401, vec!["ORDER_TOKEN_MISSING".to_owned()]));
    assert!(state.lock().unwrap().deliveries.is_empty());
    // Not issued.
    let lines = json!([line("午餐", "106.00")]);
    let mut req = request("NH-F", lines.clone());
    req["remark"] = json!("E9302");
    assert_eq!(
        post(
            &r,
            "/v1/invoices",
            &json!({ "request": req, "orderToken": mint(&c, "NH-F", &lines, "106.00", 600) })
        )
        .await
        .0,
        202
    );
    assert_eq!(wait_final(&r, "NH-F", 10).await["status"], "failed");
    let (s, v) = post(
        &r,
        "/v1/invoices/NH-F/deliver",
        &deliver_body(&c, "NH-F", json!({ "email": "a@example.com" })),
    )
    .await;
    assert_eq!((s, codes(&v)), (409, vec!["DELIVERY_NOT_ISSUED".to_owned()]));
    // The happy path.
    let (s, v) = post(
        &r,
        path,
        &deliver_body(
            &c,
            "NH-1",
            json!({ "email": "Finance@Example.COM", "phone": "138 0013 8000" }),
        ),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["delivery"]["email"]["status"], "sent");
    assert_eq!(
        v["delivery"]["email"]["address"], "Finance@example.com",
        "normalised by the core crate"
    );
    assert_eq!(v["delivery"]["phone"]["address"], "13800138000");
    assert_eq!(v["delivery"]["provider"]["emailNotifyStatus"], "2");
    {
        let f = state.lock().unwrap();
        let d = &f.deliveries[0];
        assert_eq!(
            (d["mail"].as_str(), d["phone"].as_str(), d["invoiceCode"].as_str()),
            (Some("Finance@example.com"), Some("13800138000"), Some(""))
        );
        assert_eq!(d["invoiceNum"], f.orders["NH-1"].2);
    }
    // Refused by 诺诺: recorded as failed.
    let (s, v) = post(
        &r,
        path,
        &deliver_body(&c, "NH-1", json!({ "email": "bounce@example.com" })),
    )
    .await;
    assert_eq!((s, codes(&v)), (502, vec!["DELIVERY_FAILED".to_owned()]));
    assert_eq!(
        get(&r, "/v1/invoices/NH-1").await.1["delivery"]["email"]["status"],
        "failed"
    );
    // Rate limit (FAPIAO_DELIVERY_LIMIT=3 per hour).
    assert_eq!(
        post(&r, path, &deliver_body(&c, "NH-1", json!({ "phone": "13800138000" })))
            .await
            .0,
        200
    );
    let (s, v) = post(&r, path, &deliver_body(&c, "NH-1", json!({ "phone": "13800138000" }))).await;
    assert_eq!((s, codes(&v)), (429, vec!["DELIVERY_RATE_LIMITED".to_owned()]));
    let types: Vec<String> = ledger::events(&r.state.store, Some("NH-1".into()), 20)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(
        types,
        [
            "order.accepted",
            "invoice.issued",
            "invoice.delivered",
            "invoice.delivered"
        ]
    );

    // Reconciliation: LOST-1 was issued by 诺诺 but the proxy was told it failed;
    // GHOST-1 is an invoice 诺诺 issued for an order the proxy has no record of.
    assert_eq!(post(&r, "/v1/invoices", &body(&c, "LOST-1")).await.0, 202);
    assert_eq!(wait_final(&r, "LOST-1", 10).await["status"], "failed");
    state.lock().unwrap().ghosts.push(
        json!({ "orderNo": "GHOST-1", "status": "2", "allElectronicInvoiceNumber": "26332000009999999999",
        "invoiceTime": fapiao_proxy::time::now_ms() - 86_400_000, "orderAmount": "88.00" }),
    );
    let now = fapiao_proxy::time::now_ms();
    let day = |t: i64| fapiao_proxy::time::cst_rfc3339(t)[..10].to_owned();
    let url = format!("{}/v1/admin/reconcile", r.base);
    assert_eq!(
        r.client
            .post(&url)
            .json(&json!({ "from": day(now), "to": day(now) }))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    let report: Value = r
        .client
        .post(&url)
        .bearer_auth(ADMIN)
        .json(&json!({ "from": day(now - 24 * 86_400_000), "to": day(now) }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(report["errors"], json!([]), "{report}");
    let repaired: Vec<&str> = report["repaired"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["orderId"].as_str().unwrap())
        .collect();
    assert_eq!(repaired, ["LOST-1"], "{report}");
    assert_eq!(report["repaired"][0]["was"], "failed");
    let findings: Vec<(&str, &str)> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| (x["kind"].as_str().unwrap(), x["orderId"].as_str().unwrap()))
        .collect();
    assert_eq!(findings, [("unknown_to_proxy", "GHOST-1")], "{report}");
    assert_eq!(report["findings"][0]["invoiceNumber"], "26332000009999999999");
    let windows = state.lock().unwrap().list_windows.clone();
    assert_eq!(windows.len(), 3, "25 days in windows of at most 10: {windows:?}");
    let v = get(&r, "/v1/invoices/LOST-1").await.1;
    assert_eq!(v["status"], "issued", "{v}");
    let types: Vec<String> = ledger::events(&r.state.store, Some("LOST-1".into()), 20)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(
        types,
        ["order.accepted", "invoice.failed", "invoice.issued"],
        "the repair emits its event"
    );
    // A second run repairs nothing more and keeps the finding (stored, not dropped).
    let report: Value = r
        .client
        .post(&url)
        .bearer_auth(ADMIN)
        .json(&json!({ "from": day(now - 24 * 86_400_000), "to": day(now) }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(report["repaired"], json!([]));
    let v = r
        .client
        .get(format!("{}/v1/admin/archive/pending", r.base))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert!(
        v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["orderId"] == "GHOST-1"),
        "{v}"
    );
    assert_eq!(state.lock().unwrap().bad_signatures, 0);
}

// ---------------------------------------------------------------- sandbox

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sandbox_reconcile_archive_and_export() {
    let dir = tempfile::tempdir().unwrap();
    let (r, sbx) = sandbox_proxy(dir.path(), |_| {}).await;
    let c = r.state.config.clone();
    for id in ["SB-1", "SB-2", "SB-3"] {
        assert_eq!(post(&r, "/v1/invoices", &body(&c, id)).await.0, 202);
        assert_eq!(wait_final(&r, id, 10).await["status"], "issued");
    }
    // The sandbox's XML is archived from Provider::document.
    let st = r.state.clone();
    until("the XML archived", 10, move || {
        let st = st.clone();
        Box::pin(async move {
            let mut n = 0;
            for id in ["SB-1", "SB-2", "SB-3"] {
                n += ledger::archive_of(&st.store, id)
                    .await
                    .unwrap()
                    .iter()
                    .filter(|f| f.state == "stored")
                    .count();
            }
            n == 3
        })
    })
    .await;
    let doc = fapiao_proxy::provider::Provider::document(&*sbx, "SB-1", "xml")
        .await
        .unwrap();
    let f = &ledger::archive_of(&r.state.store, "SB-1").await.unwrap()[0];
    assert_eq!(f.sha256.as_deref(), Some(sha_hex(&doc.body).as_str()));
    let v = get(&r, "/v1/invoices/SB-1").await.1;
    assert_eq!(v["archive"][0]["kind"], "xml");
    assert_eq!(v["archive"][0]["status"], "stored");

    // A lost acknowledgement (the proxy's record still issuing, the worker stopped
    // looking) and a lost database row.
    r.state
        .store
        .transaction(|c| {
            Box::pin(async move {
                c.execute("UPDATE orders SET status = 'issuing', invoice_number = NULL, issued_at = NULL, next_attempt_at = 9000000000000 WHERE order_id = 'SB-2'", &[]).await?;
                c.execute("DELETE FROM orders WHERE order_id = 'SB-3'", &[]).await
            })
        })
        .await
        .unwrap();
    let now = fapiao_proxy::time::now_ms();
    let (from, to) = ledger::date_range(
        &fapiao_proxy::time::cst_rfc3339(now)[..10],
        &fapiao_proxy::time::cst_rfc3339(now)[..10],
    )
    .unwrap();
    let report = fapiao_proxy::queues::reconcile::run(&r.state, from, to).await;
    assert!(report.errors.is_empty(), "{report:?}");
    assert_eq!(report.provider_listed, Some(3));
    assert_eq!(report.repaired.len(), 1, "{report:?}");
    assert_eq!(report.repaired[0]["orderId"], "SB-2");
    assert_eq!(report.findings.len(), 1, "{report:?}");
    assert_eq!(
        (
            report.findings[0]["kind"].as_str(),
            report.findings[0]["orderId"].as_str()
        ),
        (Some("unknown_to_proxy"), Some("SB-3"))
    );
    assert!(report.table().contains("unknown_to_proxy"));
    let v = get(&r, "/v1/invoices/SB-2").await.1;
    assert_eq!(v["status"], "issued");
    assert_eq!(v["invoiceNumber"].as_str().unwrap().len(), 20);

    // Export: every file copied with its checksum, index.csv and index.json.
    let out = dir.path().join("export");
    let s = fapiao_proxy::queues::archive::export(&r.state.store, &c.archive_dir(), from, to, &out)
        .await
        .unwrap();
    assert_eq!(s.files, 2, "SB-1 and SB-2 (SB-3's row is gone): {s:?}");
    assert!(s.corrupt.is_empty() && s.missing.is_empty());
    let csv = std::fs::read_to_string(out.join("index.csv")).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "order_id,invoice_number,issue_date,buyer_name,buyer_tax_id,amount,kind,file_name,size,sha256"
    );
    assert_eq!(lines.len(), 3);
    let index: Value = serde_json::from_str(&std::fs::read_to_string(out.join("index.json")).unwrap()).unwrap();
    for f in index["files"].as_array().unwrap() {
        let copied = std::fs::read(out.join(f["fileName"].as_str().unwrap())).unwrap();
        assert_eq!(sha_hex(&copied), f["sha256"]);
        assert_eq!(f["amount"], "106.00");
        assert_eq!(f["buyerName"], "北京某某科技有限公司");
    }
    // A file altered on disk is caught, not exported.
    let sha = f.sha256.clone().unwrap();
    std::fs::write(
        fapiao_proxy::queues::archive::path_of(&c.archive_dir(), &sha),
        b"altered",
    )
    .unwrap();
    let s =
        fapiao_proxy::queues::archive::export(&r.state.store, &c.archive_dir(), from, to, &dir.path().join("export2"))
            .await
            .unwrap();
    assert_eq!((s.files, s.corrupt.len()), (1, 1));
}

/// A receiver that accepts connections and never answers: a webhook sent to it
/// stays in flight (and its event claimed) until the proxy gives up waiting.
async fn silent_receiver() -> (u16, Arc<std::sync::atomic::AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let n = accepted.clone();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((sock, _)) = listener.accept().await {
            n.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            held.push(sock);
        }
    });
    (port, accepted)
}

/// An instance restarted under its own name takes back the webhook claims of its
/// previous run at once instead of waiting out their leases: the first run dies
/// while its dispatcher waits on a receiver that never answers (a 60 s timeout,
/// so a 70 s lease); the restarted run delivers both events within seconds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_instance_takes_back_its_own_webhook_claims() {
    let dir = tempfile::tempdir().unwrap();
    let (silent, accepted) = silent_receiver().await;
    let (r, _sbx) = sandbox_proxy(dir.path(), |c| {
        hook_config(c, silent);
        c.hooks.webhook_timeout = Duration::from_secs(60);
        c.instance_id = "restarted".into();
    })
    .await;
    assert_eq!(post(&r, "/v1/invoices", &body(&r.state.config, "RC-1")).await.0, 202);
    assert_eq!(wait_final(&r, "RC-1", 15).await["status"], "issued");
    let a = accepted.clone();
    until("the first event in flight to the silent receiver", 10, move || {
        let a = a.clone();
        Box::pin(async move { a.load(std::sync::atomic::Ordering::SeqCst) > 0 })
    })
    .await;
    r.kill();
    let store = r_store(dir.path()).await;
    assert_eq!(
        pending_events(&store).await,
        2,
        "accepted and issued, neither acknowledged"
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let rx = start_receiver(listener, 0).await;
    let (_r2, _sbx2) = sandbox_proxy(dir.path(), |c| {
        hook_config(c, port);
        c.instance_id = "restarted".into();
    })
    .await;
    until("both events delivered after the restart", 10, move || {
        let s = store.clone();
        Box::pin(async move { pending_events(&s).await == 0 })
    })
    .await;
    let types: Vec<String> = rx
        .lock()
        .unwrap()
        .log
        .iter()
        .filter(|l| l.4 == 200)
        .map(|l| l.3.clone())
        .collect();
    assert_eq!(types, ["order.accepted", "invoice.issued"]);
}

async fn r_store(dir: &std::path::Path) -> Store {
    open_store(&test_config(dir).await).await
}

// ---------------------------------------------------------------- durable delivery

/// The sandbox, with a `deliver` that can hang (as a provider that never
/// answers while the proxy dies) or answer "unavailable" a number of times.
struct Gate {
    inner: Arc<fapiao_proxy::provider::sandbox::Sandbox>,
    hang: std::sync::atomic::AtomicBool,
    unavailable: std::sync::atomic::AtomicUsize,
    calls: Mutex<Vec<(fapiao_proxy::provider::Delivery, bool)>>,
}

impl Gate {
    fn new(inner: Arc<fapiao_proxy::provider::sandbox::Sandbox>, hang: bool) -> Arc<Gate> {
        Arc::new(Gate {
            inner,
            hang: hang.into(),
            unavailable: 0.into(),
            calls: Mutex::default(),
        })
    }
    fn delivered(&self) -> Vec<fapiao_proxy::provider::Delivery> {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .filter(|c| c.1)
            .map(|c| c.0.clone())
            .collect()
    }
}

mod gate_impl {
    use fapiao::request::{IssueRequest, RedRequest};
    use fapiao_proxy::provider::{
        Accepted, Delivery, Document, Kind, ListedInvoice, Provider, ProviderError, QueryOutcome,
    };
    use futures_util::future::BoxFuture;
    use std::sync::atomic::Ordering;

    impl Provider for super::Gate {
        fn name(&self) -> &'static str {
            self.inner.name()
        }
        fn submit_issue<'a>(&'a self, r: &'a IssueRequest) -> BoxFuture<'a, Result<Accepted, ProviderError>> {
            self.inner.submit_issue(r)
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
            self.inner.query(order_id, kind)
        }
        fn document<'a>(&'a self, order_id: &'a str, which: &'a str) -> BoxFuture<'a, Option<Document>> {
            self.inner.document(order_id, which)
        }
        fn list_invoices<'a>(
            &'a self,
            from_ms: i64,
            to_ms: i64,
        ) -> BoxFuture<'a, Result<Vec<ListedInvoice>, ProviderError>> {
            self.inner.list_invoices(from_ms, to_ms)
        }
        fn deliver<'a>(&'a self, d: &'a Delivery) -> BoxFuture<'a, Result<(), ProviderError>> {
            Box::pin(async move {
                if self.hang.load(Ordering::SeqCst) {
                    self.calls.lock().unwrap().push((d.clone(), false));
                    std::future::pending::<()>().await;
                }
                let down = self
                    .unavailable
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                    .is_ok();
                self.calls.lock().unwrap().push((d.clone(), !down));
                if down {
                    return Err(ProviderError::Unavailable("HTTP 503".into()));
                }
                self.inner.deliver(d).await
            })
        }
    }
}

async fn gated_proxy(dir: &std::path::Path, instance: &str, hang: bool) -> (Running, Arc<Gate>) {
    let mut config = test_config(dir).await;
    config.instance_id = instance.into();
    config.provider_timeout = Duration::from_secs(60);
    config.hooks.delivery_retry_base = Duration::from_millis(40);
    let store = open_store(&config).await;
    let gate = Gate::new(sandbox(&store, &config), hang);
    (
        serve(App::start_with(config, store, gate.clone()).await.unwrap()).await,
        gate,
    )
}

fn sandbox_deliver_body(c: &Config, order: &str, request: Value) -> Value {
    json!({ "request": request, "orderToken": mint(c, order, &json!([line("午餐", "106.00")]), "106.00", 600) })
}

async fn delivery_states(store: &Store, order: &str) -> Vec<(String, String)> {
    let (rows, _) = ledger::deliveries_of(store, order).await.unwrap();
    rows.into_iter().map(|d| (d.channel, d.state)).collect()
}

async fn delivered_events(store: &Store, order: &str) -> usize {
    ledger::events(store, Some(order.to_owned()), 100)
        .await
        .unwrap()
        .iter()
        .filter(|e| e.kind == "invoice.delivered")
        .count()
}

/// The proxy dies while the provider has not answered a re-delivery: the request
/// is not lost. Restarted under its own name, the instance sends it again at
/// once (without waiting out its lease), records it `sent` and writes the
/// `invoice.delivered` event.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_cut_off_by_a_crash_is_sent_after_the_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (r, gate) = gated_proxy(dir.path(), "dlv-a", true).await;
    let c = r.state.config.clone();
    assert_eq!(post(&r, "/v1/invoices", &body(&c, "DL-1")).await.0, 202);
    assert_eq!(wait_final(&r, "DL-1", 15).await["status"], "issued");
    let (base, client) = (r.base.clone(), r.client.clone());
    let req = sandbox_deliver_body(&c, "DL-1", json!({ "email": "buyer@example.com" }));
    let call = tokio::spawn(async move {
        client
            .post(format!("{base}/v1/invoices/DL-1/deliver"))
            .json(&req)
            .send()
            .await
            .map(|r| r.status().as_u16())
    });
    let g = gate.clone();
    until("the provider called", 10, move || {
        let g = g.clone();
        Box::pin(async move { !g.calls.lock().unwrap().is_empty() })
    })
    .await;
    let store = r.state.store.clone();
    assert_eq!(
        delivery_states(&store, "DL-1").await,
        [("email".to_owned(), "requested".to_owned())]
    );
    r.kill();
    call.abort();
    assert!(gate.delivered().is_empty());

    let (r2, gate2) = gated_proxy(dir.path(), "dlv-a", false).await;
    let s = r2.state.store.clone();
    until("the delivery sent after the restart", 10, move || {
        let s = s.clone();
        Box::pin(async move { delivery_states(&s, "DL-1").await == [("email".to_owned(), "sent".to_owned())] })
    })
    .await;
    let sent = gate2.delivered();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].email.as_deref(), Some("buyer@example.com"));
    assert_eq!(sent[0].invoice_number.len(), 20);
    let s = r2.state.store.clone();
    until("invoice.delivered written", 5, move || {
        let s = s.clone();
        Box::pin(async move { delivered_events(&s, "DL-1").await == 1 })
    })
    .await;
    let (_, v) = get(&r2, "/v1/invoices/DL-1").await;
    assert_eq!(v["delivery"]["email"]["status"], "sent");
}

/// A delivery the provider did not confirm answers 202 and is retried with
/// back-off until it is sent, or failed after `MAX_ATTEMPTS`; a delivery still
/// claimed by another instance (one that died) is left alone until its lease
/// runs out, then sent by this one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unconfirmed_and_orphaned_deliveries_are_retried() {
    let dir = tempfile::tempdir().unwrap();
    let (r, gate) = gated_proxy(dir.path(), "dlv-b", false).await;
    let c = r.state.config.clone();
    let store = r.state.store.clone();
    for id in ["DR-1", "DR-2", "DR-3"] {
        assert_eq!(post(&r, "/v1/invoices", &body(&c, id)).await.0, 202);
        assert_eq!(wait_final(&r, id, 15).await["status"], "issued");
    }

    // Unavailable once: 202, then sent by the retry.
    gate.unavailable.store(1, std::sync::atomic::Ordering::SeqCst);
    let (s, v) = post(
        &r,
        "/v1/invoices/DR-1/deliver",
        &sandbox_deliver_body(&c, "DR-1", json!({ "phone": "13800138000" })),
    )
    .await;
    assert_eq!(s, 202, "{v}");
    assert_eq!(v["delivery"]["phone"]["status"], "requested");
    let st = store.clone();
    until("DR-1 sent by the retry", 10, move || {
        let st = st.clone();
        Box::pin(async move { delivery_states(&st, "DR-1").await == [("phone".to_owned(), "sent".to_owned())] })
    })
    .await;
    let calls: Vec<bool> = gate
        .calls
        .lock()
        .unwrap()
        .iter()
        .filter(|c| c.0.order_id == "DR-1")
        .map(|c| c.1)
        .collect();
    assert_eq!(calls, [false, true]);

    // Unavailable every time: failed after MAX_ATTEMPTS attempts, no more calls.
    gate.unavailable.store(100, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(
        post(
            &r,
            "/v1/invoices/DR-2/deliver",
            &sandbox_deliver_body(&c, "DR-2", json!({ "email": "x@example.com" }))
        )
        .await
        .0,
        202
    );
    let st = store.clone();
    until("DR-2 given up", 15, move || {
        let st = st.clone();
        Box::pin(async move { delivery_states(&st, "DR-2").await == [("email".to_owned(), "failed".to_owned())] })
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let n = gate
        .calls
        .lock()
        .unwrap()
        .iter()
        .filter(|c| c.0.order_id == "DR-2")
        .count();
    assert_eq!(n as i64, fapiao_proxy::queues::delivery::MAX_ATTEMPTS);
    assert_eq!(delivered_events(&store, "DR-2").await, 0);
    gate.unavailable.store(0, std::sync::atomic::Ordering::SeqCst);

    // Claimed by an instance that died mid-call, lease 1.5 s: untouched while the
    // lease holds, then sent here.
    ledger::delivery_requested(
        &store,
        "DR-3",
        vec![("phone".into(), "13900139000".into())],
        "dead-instance",
        1_500,
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(
        gate.calls.lock().unwrap().iter().all(|c| c.0.order_id != "DR-3"),
        "a live lease is respected"
    );
    let st = store.clone();
    until("DR-3 sent after the lease ran out", 10, move || {
        let st = st.clone();
        Box::pin(async move { delivery_states(&st, "DR-3").await == [("phone".to_owned(), "sent".to_owned())] })
    })
    .await;
    let sent: Vec<_> = gate.delivered().into_iter().filter(|d| d.order_id == "DR-3").collect();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].phone.as_deref(), Some("13900139000"));
    assert_eq!(delivered_events(&store, "DR-3").await, 1);
}
