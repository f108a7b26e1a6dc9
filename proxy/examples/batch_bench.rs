//! The batch benchmark: a proxy with the sandbox provider on a fresh database
//! takes one batch of 10,000 invoices over HTTP and issues it. Prints how long
//! the batch took to be accepted (validated and stored durably: the 202) and how
//! fast it was issued (invoices per second from the 202 until every order is
//! issued), then checks that the sandbox holds exactly one invoice per order.
//!
//! ```sh
//! cargo run --release -p fapiao-proxy --example batch_bench
//! ```
//!
//! Settings: `BENCH_ORDERS` (default 10000), `BENCH_DATABASE_URL` (default a
//! SQLite file in a temporary folder; a `postgres://` URL for PostgreSQL, whose
//! tables must be empty), and any `FAPIAO_*` variable of the proxy. The
//! settings are the proxy's defaults (sandbox latency 30 ms per call, issue
//! delay 800–2500 ms, `FAPIAO_POLL_MS` 500, 128 provider calls in flight) with
//! the rate limit off. (32 calls in flight, the default with a real provider,
//! would allow at most 32 / 30 ms / 2 calls ≈ 530 invoices/s.)

use std::time::{Duration, Instant};

use fapiao_proxy::{App, Config};
use serde_json::{json, Value};

fn orders(n: usize, run: &str) -> Vec<Value> {
    (0..n)
        .map(|i| {
            let cents = 10_000 + (i % 977) * 13;
            json!({
                "schemaVersion": 1,
                "orderId": format!("BB{run}-{i:05}"),
                "invoiceType": "normal",
                "buyer": if i % 3 == 0 {
                    json!({ "type": "person", "name": "张三" })
                } else {
                    json!({ "type": "company", "name": "北京某某科技有限公司", "taxId": "91110000600037341L" })
                },
                "priceIncludesTax": true,
                "lines": [
                    { "name": "咨询服务费", "taxCode": "3070401000000000000", "amount": format!("{}.{:02}", cents / 100, cents % 100), "taxRate": "0.06" },
                    { "name": "技术服务费", "taxCode": "3070401000000000000", "quantity": "2", "unitPrice": "50.00", "amount": "100.00", "taxRate": "0.06" }
                ],
                "delivery": { "email": "caiwu@example.com" }
            })
        })
        .collect()
}

#[tokio::main]
async fn main() {
    let n: usize = std::env::var("BENCH_ORDERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let dir = tempfile::tempdir().expect("a temporary folder");
    let db = std::env::var("BENCH_DATABASE_URL")
        .unwrap_or_else(|_| format!("sqlite:{}", dir.path().join("bench.sqlite").display()));
    let (key, line) = fapiao_proxy::operator::generate("bench").expect("a key");
    let archive = dir.path().join("archive").display().to_string();
    let config = Config::from_lookup(&|k| match k {
        "FAPIAO_DATABASE_URL" => Some(db.clone()),
        "FAPIAO_OPERATOR_KEYS" => Some(line.clone()),
        "FAPIAO_MERCHANT_KEY" => Some("bench-merchant-key-0123456789abcdef".into()),
        "FAPIAO_RATE_LIMIT" => Some("0".into()),
        "FAPIAO_ARCHIVE_DIR" => Some(archive.clone()),
        "FAPIAO_PROVIDER" => Some("sandbox".into()),
        _ => std::env::var(k).ok(),
    })
    .expect("settings");
    println!(
        "database {}, workers {}, sandbox latency {:?} ms, issue delay {:?} ms, poll {} ms",
        if config.postgres.is_some() {
            "postgres"
        } else {
            "sqlite"
        },
        config.workers,
        config.sandbox.latency_ms,
        config.sandbox.issue_delay_ms,
        config.poll_interval.as_millis()
    );
    let app = App::start(config).await.expect("the proxy starts");
    let state = app.state.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = app.router.clone();
    let timeouts = fapiao_proxy::api::serve::Timeouts::of(&state.config);
    tokio::spawn(async move {
        let _ = fapiao_proxy::api::serve::serve(listener, router, timeouts, std::future::pending()).await;
    });
    let run = &fapiao_proxy::config::random_key()[..6];
    let body = serde_json::to_vec(&json!({ "name": "bench", "orders": orders(n, run) })).unwrap();
    println!("batch of {n} orders, {:.1} MB of JSON", body.len() as f64 / 1e6);
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()
        .unwrap();
    let started = Instant::now();
    let resp = client
        .post(format!("http://{addr}/v1/batches"))
        .bearer_auth(&key)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("the batch is sent");
    let status = resp.status();
    let answer: Value = resp.json().await.unwrap_or(Value::Null);
    let accepted = started.elapsed();
    assert_eq!(status, 202, "{answer}");
    let id = answer["id"].as_str().unwrap().to_owned();
    println!("accepted (stored durably, 202) in {:.2} s", accepted.as_secs_f64());
    let issuing = Instant::now();
    let mut first_issued = None;
    let mut last_report = Instant::now();
    loop {
        let c = fapiao_proxy::batches::counts(&state.store, &id).await.expect("counts");
        if c.issued > 0 && first_issued.is_none() {
            first_issued = Some(issuing.elapsed());
        }
        if last_report.elapsed() >= Duration::from_secs(2) {
            println!(
                "  {:>5.1} s: pending {}, submitted {}, issued {}, failed {}",
                issuing.elapsed().as_secs_f64(),
                c.pending,
                c.submitted,
                c.issued,
                c.failed
            );
            last_report = Instant::now();
        }
        if c.done() {
            let t = issuing.elapsed().as_secs_f64();
            println!(
                "issued {} (failed {}) in {t:.2} s after the 202: {:.0} invoices/s (first issued after {:.2} s)",
                c.issued,
                c.failed,
                c.issued as f64 / t,
                first_issued.unwrap_or_default().as_secs_f64()
            );
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Reading the whole result back, as the page does after a reload.
    for (what, path) in [
        ("GET /v1/batches/{id}", format!("/v1/batches/{id}")),
        ("export csv", format!("/v1/batches/{id}/export?format=csv")),
    ] {
        let t = Instant::now();
        let resp = client
            .get(format!("http://{addr}{path}"))
            .bearer_auth(&key)
            .send()
            .await
            .expect("the batch is read");
        assert_eq!(resp.status(), 200);
        let bytes = resp.bytes().await.expect("the body").len();
        println!(
            "{what}: {:.0} ms, {:.1} MB",
            t.elapsed().as_secs_f64() * 1000.0,
            bytes as f64 / 1e6
        );
    }
    let invoices = state.store.sandbox_count(None).await.unwrap();
    assert_eq!(invoices as usize, n, "one sandbox invoice per order");
    println!("sandbox invoices: {invoices} for {n} orders");
    app.kill();
}
