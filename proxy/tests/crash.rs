//! Never lose, never duplicate: provider timeouts after the provider issued, a
//! proxy that dies mid-flight (in process, and the real binary killed with
//! SIGKILL) — each order ends with exactly one invoice.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use fapiao::request::{IssueRequest, RedRequest};
use fapiao_proxy::provider::sandbox::Sandbox;
use fapiao_proxy::provider::{Accepted, Kind, Provider, ProviderError, QueryOutcome};
use fapiao_proxy::{App, Config};
use futures_util::future::BoxFuture;

/// Wraps the sandbox: `Slow` answers after the provider timeout (having issued),
/// `HangAfter` issues and never answers, `HangBefore` never reaches the provider.
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Slow,
    HangAfter,
    HangBefore,
}

struct Faulty(Arc<Sandbox>, Mode);

impl Provider for Faulty {
    fn name(&self) -> &'static str {
        "sandbox"
    }
    fn submit_issue<'a>(&'a self, request: &'a IssueRequest) -> BoxFuture<'a, Result<Accepted, ProviderError>> {
        Box::pin(async move {
            if self.1 == Mode::HangBefore {
                return std::future::pending().await;
            }
            let r = self.0.submit_issue(request).await;
            match self.1 {
                Mode::Slow => tokio::time::sleep(Duration::from_secs(5)).await,
                _ => std::future::pending::<()>().await,
            }
            r
        })
    }
    fn submit_red<'a>(
        &'a self,
        red: &'a RedRequest,
        blue: &'a IssueRequest,
        n: &'a str,
    ) -> BoxFuture<'a, Result<Accepted, ProviderError>> {
        self.0.submit_red(red, blue, n)
    }
    fn query<'a>(&'a self, order_id: &'a str, kind: Kind) -> BoxFuture<'a, Result<QueryOutcome, ProviderError>> {
        self.0.query(order_id, kind)
    }
}

async fn faulty_proxy(dir: &std::path::Path, mode: Mode, timeout_ms: u64) -> (Running, Arc<Sandbox>) {
    let mut config = test_config(dir).await;
    config.provider_timeout = Duration::from_millis(timeout_ms);
    let store = open_store(&config).await;
    let sbx = sandbox(&store, &config);
    let app = App::start_with(config, store, Arc::new(Faulty(sbx.clone(), mode)))
        .await
        .unwrap();
    (serve(app).await, sbx)
}

async fn until(mut f: impl FnMut() -> BoxFuture<'static, bool>, secs: u64) {
    let deadline = std::time::Instant::now() + Duration::from_secs(secs);
    while !f().await {
        assert!(
            std::time::Instant::now() < deadline,
            "condition not reached in {secs} s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_timeout_after_it_issued_gives_one_invoice() {
    let dir = tempfile::tempdir().unwrap();
    let (r, sbx) = faulty_proxy(dir.path(), Mode::Slow, 300).await;
    for i in 0..5 {
        assert_eq!(
            post(&r, "/v1/invoices", &body(&r.state.config, &format!("TO-{i}")))
                .await
                .0,
            202
        );
    }
    for i in 0..5 {
        assert_eq!(wait_final(&r, &format!("TO-{i}"), 10).await["status"], "issued");
        assert_eq!(sbx.count(&format!("TO-{i}")).await, 1);
    }
    assert_eq!(sbx.total().await, 5);
    let m = metrics_text(&r).await;
    assert!(
        m.contains("fapiao_provider_calls_total{call=\"submit\",outcome=\"unavailable\"} 5"),
        "every submission timed out: {m}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_answers_from_the_sandbox_knob_give_one_invoice_each() {
    let dir = tempfile::tempdir().unwrap();
    let (r, sbx) = sandbox_proxy(dir.path(), |c| c.sandbox.timeout_rate = 1.0).await;
    for i in 0..10 {
        assert_eq!(
            post(&r, "/v1/invoices", &body(&r.state.config, &format!("LA-{i}")))
                .await
                .0,
            202
        );
    }
    for i in 0..10 {
        assert_eq!(wait_final(&r, &format!("LA-{i}"), 10).await["status"], "issued");
    }
    assert_eq!(sbx.total().await, 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_after_submitting_and_restarted() {
    let dir = tempfile::tempdir().unwrap();
    let (a, sbx_a) = faulty_proxy(dir.path(), Mode::HangAfter, 60_000).await;
    for i in 0..5 {
        assert_eq!(
            post(&a, "/v1/invoices", &body(&a.state.config, &format!("K-{i}")))
                .await
                .0,
            202
        );
    }
    let s = sbx_a.clone();
    until(
        move || {
            let s = s.clone();
            Box::pin(async move { s.total().await == 5 })
        },
        10,
    )
    .await;
    a.kill();
    // A new process on the same database file, with a healthy provider.
    let (b, sbx_b) = sandbox_proxy(dir.path(), |_| {}).await;
    for i in 0..5 {
        assert_eq!(wait_final(&b, &format!("K-{i}"), 10).await["status"], "issued");
    }
    assert_eq!(sbx_b.total().await, 5, "no order was submitted twice");
    let m = metrics_text(&b).await;
    assert!(
        !m.contains("call=\"submit\""),
        "after the restart the worker queried and never resubmitted: {m}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_before_the_provider_saw_the_order_and_restarted() {
    let dir = tempfile::tempdir().unwrap();
    let (a, sbx_a) = faulty_proxy(dir.path(), Mode::HangBefore, 60_000).await;
    for i in 0..3 {
        assert_eq!(
            post(&a, "/v1/invoices", &body(&a.state.config, &format!("KB-{i}")))
                .await
                .0,
            202
        );
    }
    let st = a.state.clone();
    until(
        move || {
            let st = st.clone();
            Box::pin(async move {
                st.store
                    .counts()
                    .await
                    .unwrap()
                    .iter()
                    .any(|(s, n)| s == "issuing" && *n == 3)
            })
        },
        10,
    )
    .await;
    assert_eq!(sbx_a.total().await, 0);
    a.kill();
    let (b, sbx_b) = sandbox_proxy(dir.path(), |_| {}).await;
    for i in 0..3 {
        assert_eq!(
            wait_final(&b, &format!("KB-{i}"), 10).await["status"],
            "issued",
            "none lost"
        );
    }
    assert_eq!(sbx_b.total().await, 3);
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn spawn_proxy(config: &Config, port: u16) -> std::process::Child {
    let db = match &config.postgres {
        Some(url) => url.expose().to_owned(),
        None => format!("sqlite:{}", config.database_path.display()),
    };
    std::process::Command::new(env!("CARGO_BIN_EXE_fapiao-proxy"))
        .env_clear()
        .env("FAPIAO_LISTEN", format!("127.0.0.1:{port}"))
        .env("FAPIAO_DATABASE_URL", db)
        .env("FAPIAO_ARCHIVE_DIR", config.archive_dir())
        .env("FAPIAO_MERCHANT_KEY", "test-merchant-key-0123456789abcdef")
        // Restarted under the same name: it takes its leased orders back at once.
        .env("FAPIAO_INSTANCE_ID", "crash-test")
        .env("FAPIAO_RATE_LIMIT", "0")
        .env("FAPIAO_SANDBOX_LATENCY_MS", "5")
        .env("FAPIAO_SANDBOX_ISSUE_DELAY_MS", "300-900")
        .env("FAPIAO_POLL_MS", "50")
        .env("FAPIAO_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_real_binary_killed_with_sigkill_and_restarted() {
    let dir = tempfile::tempdir().unwrap();
    let config = test_config(dir.path()).await;
    let client = reqwest::Client::new();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let up = |client: reqwest::Client, base: String| async move {
        for _ in 0..200 {
            if client.get(format!("{base}/healthz")).send().await.is_ok() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("the proxy did not start");
    };
    let mut child = spawn_proxy(&config, port);
    up(client.clone(), base.clone()).await;
    let n = 20;
    for i in 0..n {
        let resp = client
            .post(format!("{base}/v1/invoices"))
            .json(&body(&config, &format!("BIN-{i}")))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 202);
    }
    child.kill().unwrap(); // SIGKILL, mid-flight: the sandbox issues after 300–900 ms
    child.wait().unwrap();
    let mut child = spawn_proxy(&config, port);
    up(client.clone(), base.clone()).await;
    for i in 0..n {
        let mut status = String::new();
        for _ in 0..40 {
            let url = format!(
                "{base}/v1/invoices/BIN-{i}?wait=5&access={}",
                access(&config, &format!("BIN-{i}"))
            );
            let v: serde_json::Value = client.get(url).send().await.unwrap().json().await.unwrap();
            status = v["status"].as_str().unwrap_or("").to_owned();
            if status == "issued" {
                break;
            }
        }
        assert_eq!(status, "issued", "BIN-{i} was lost");
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let store = open_store(&config).await;
    assert_eq!(
        store.sandbox_count(None).await.unwrap(),
        n,
        "one invoice per order in all"
    );
    for i in 0..n {
        assert_eq!(
            store.sandbox_count(Some(&format!("BIN-{i}"))).await.unwrap(),
            1,
            "exactly one invoice for BIN-{i}"
        );
    }
}
