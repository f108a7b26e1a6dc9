#![allow(dead_code)]
//! Helpers shared by the proxy's integration tests: a proxy on 127.0.0.1:0, tokens,
//! requests, and the store backend.
//!
//! The backend: SQLite in the test's directory, or — with
//! `FAPIAO_TEST_BACKEND=postgres` — a fresh database per test directory on the
//! PostgreSQL server named by `FAPIAO_TEST_POSTGRES` (scripts/test.sh runs the
//! API and crash tests both ways).

use std::sync::Arc;
use std::time::Duration;

use fapiao_proxy::provider::sandbox::Sandbox;
use fapiao_proxy::store::Store;
use fapiao_proxy::token::{self, Claims, TokenTotals};
use fapiao_proxy::{App, AppState, Config};
use serde_json::{json, Value};

pub struct Running {
    pub base: String,
    pub state: Arc<AppState>,
    pub client: reqwest::Client,
    server: tokio::task::JoinHandle<()>,
    app: Option<App>,
}

impl Running {
    /// Stops only the worker: the instance still answers HTTP.
    pub fn stop_worker(&mut self) {
        if let Some(app) = self.app.take() {
            app.kill();
        }
    }

    /// Simulates a crash: the server stops answering and the worker stops.
    pub fn kill(mut self) {
        self.server.abort();
        if let Some(app) = self.app.take() {
            app.kill();
        }
    }
}

pub async fn serve(app: App) -> Running {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = app.router.clone();
    let timeouts = fapiao_proxy::api::serve::Timeouts::of(&app.state.config);
    let server = tokio::spawn(async move {
        let _ = fapiao_proxy::api::serve::serve(listener, router, timeouts, std::future::pending()).await;
    });
    Running {
        base: format!("http://{addr}"),
        state: app.state.clone(),
        client: reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .build()
            .unwrap(),
        server,
        app: Some(app),
    }
}

pub fn sandbox(store: &Store, config: &Config) -> Arc<Sandbox> {
    Arc::new(Sandbox::new(
        store.clone(),
        config.sandbox.clone(),
        config.seller_tax_id.clone(),
        config.seller_name.clone(),
    ))
}

/// The PostgreSQL server for tests (`FAPIAO_TEST_POSTGRES`), or `None` with a
/// message saying what is skipped.
pub fn postgres_url(what: &str) -> Option<String> {
    match std::env::var("FAPIAO_TEST_POSTGRES").ok().filter(|u| !u.is_empty()) {
        Some(u) => Some(u),
        None => {
            eprintln!("SKIPPED {what}: FAPIAO_TEST_POSTGRES is not set (bash scripts/with-postgres.sh cargo test … provides a server)");
            None
        }
    }
}

/// A fresh database `name` on the test server; its URL.
pub async fn fresh_database(base: &str, name: &str) -> String {
    let (client, conn) = tokio_postgres::connect(base, tokio_postgres::NoTls)
        .await
        .expect("connect to FAPIAO_TEST_POSTGRES");
    tokio::spawn(conn);
    if let Err(e) = client.batch_execute(&format!("CREATE DATABASE {name}")).await {
        let duplicate = e.as_db_error().is_some_and(|d| d.code().code() == "42P04");
        assert!(duplicate, "CREATE DATABASE {name}: {e}");
    }
    let (head, _) = base.rsplit_once('/').expect("a URL with a database name");
    format!("{head}/{name}")
}

/// True when the tests run on PostgreSQL (`FAPIAO_TEST_BACKEND=postgres`).
pub fn on_postgres() -> bool {
    std::env::var("FAPIAO_TEST_BACKEND").is_ok_and(|b| b == "postgres")
}

/// The test configuration for a store in `dir`: SQLite there, or a PostgreSQL
/// database of its own (the same one for the same `dir`, so a "restarted" proxy
/// finds its orders).
pub async fn test_config(dir: &std::path::Path) -> Config {
    let mut config = Config::for_tests(dir.join("fapiao.sqlite"));
    if on_postgres() {
        let base =
            std::env::var("FAPIAO_TEST_POSTGRES").expect("FAPIAO_TEST_BACKEND=postgres needs FAPIAO_TEST_POSTGRES");
        let tag: String = dir
            .file_name()
            .unwrap()
            .to_string_lossy()
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .collect();
        let url = fresh_database(&base, &format!("fapiao_t_{}", tag.to_ascii_lowercase())).await;
        config.postgres = Some(fapiao_proxy::secret::Secret::new(url));
        // Beside the test's files, as with SQLite (not ./var of the crate).
        config.hooks.archive_dir = Some(dir.join("archive"));
    }
    config
}

/// The store the configuration names.
pub async fn open_store(config: &Config) -> Store {
    Store::from_config(config).await.unwrap()
}

/// A sandbox proxy on a fresh database in `dir`.
pub async fn sandbox_proxy(dir: &std::path::Path, tweak: impl FnOnce(&mut Config)) -> (Running, Arc<Sandbox>) {
    let mut config = test_config(dir).await;
    tweak(&mut config);
    let store = open_store(&config).await;
    let sbx = sandbox(&store, &config);
    let app = App::start_with(config, store, sbx.clone()).await.unwrap();
    (serve(app).await, sbx)
}

pub fn line(name: &str, amount: &str) -> Value {
    json!({ "name": name, "taxCode": "3070401000000000000", "amount": amount, "taxRate": "0.06" })
}

pub fn request(order_id: &str, lines: Value) -> Value {
    json!({
        "schemaVersion": 1,
        "orderId": order_id,
        "invoiceType": "normal",
        "buyer": { "type": "company", "name": "北京某某科技有限公司", "taxId": "91110000600037341L" },
        "priceIncludesTax": true,
        "lines": lines,
        "delivery": { "email": "caiwu@example.com" }
    })
}

pub fn mint(config: &Config, order_id: &str, lines: &Value, total: &str, ttl: i64) -> String {
    mint_special(config, order_id, lines, total, ttl, None)
}

/// Like [`mint`], with a signed 特定业务 block (`specialBusiness` claim).
pub fn mint_special(
    config: &Config,
    order_id: &str,
    lines: &Value,
    total: &str,
    ttl: i64,
    special: Option<&Value>,
) -> String {
    let now = fapiao_proxy::time::now_s();
    token::mint(
        &config.merchant_key,
        &Claims {
            special_business: special.map(|v| serde_json::from_value(v.clone()).unwrap()),
            v: 1,
            merchant: config.seller_tax_id.clone(),
            order_id: order_id.into(),
            issued_at: now,
            expires_at: now + ttl,
            price_includes_tax: true,
            lines: serde_json::from_value(lines.clone()).unwrap(),
            totals: TokenTotals {
                amount_incl_tax: Some(total.into()),
                ..Default::default()
            },
            ..Default::default()
        },
    )
}

/// A valid body for order `id` with one 106.00 line.
pub fn body(config: &Config, id: &str) -> Value {
    let lines = json!([line("午餐", "106.00")]);
    json!({ "request": request(id, lines.clone()), "orderToken": mint(config, id, &lines, "106.00", 600) })
}

pub async fn post(r: &Running, path: &str, body: &Value) -> (u16, Value) {
    let resp = r
        .client
        .post(format!("{}{path}", r.base))
        .json(body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// GET as the order's owner: `/v1/invoices/{id}…` carries the order's access
/// token (`Authorization: Bearer`), as a page holding it would send it.
/// `/metrics` as text.
pub async fn metrics_text(r: &Running) -> String {
    r.client
        .get(format!("{}/metrics", r.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

pub async fn get(r: &Running, path: &str) -> (u16, Value) {
    let mut req = r.client.get(format!("{}{path}", r.base));
    if let Some(id) = path
        .strip_prefix("/v1/invoices/")
        .map(|rest| rest.split(['/', '?']).next().unwrap_or(""))
    {
        req = req.bearer_auth(access(&r.state.config, &fapiao_proxy::api::http::percent_decode(id)));
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// POSTs 诺诺's push for an order as 诺诺 sends it (a form body); `query` is
/// appended to the path (e.g. `?token=…`), `c_status` the invoice status it reports.
pub async fn post_callback(r: &Running, query: &str, order_id: &str, c_status: &str) -> reqwest::Response {
    r.client
        .post(format!("{}/v1/callbacks/nuonuo{query}", r.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "operater=callback&orderno={order_id}&content=%7B%22c_status%22%3A%22{c_status}%22%7D"
        ))
        .send()
        .await
        .unwrap()
}

/// GET without any credential.
pub async fn get_anonymous(r: &Running, path: &str) -> (u16, Value) {
    let resp = r.client.get(format!("{}{path}", r.base)).send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// The access token of an order under the configuration's merchant key.
pub fn access(config: &Config, order_id: &str) -> String {
    token::access_token(&config.merchant_key, order_id)
}

/// Long-polls until the order is final (or `secs` pass).
pub async fn wait_final(r: &Running, id: &str, secs: u64) -> Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(secs);
    loop {
        let (_, v) = get(r, &format!("/v1/invoices/{id}?wait=5")).await;
        let s = v["status"].as_str().unwrap_or("");
        if matches!(s, "issued" | "failed" | "reversed") || std::time::Instant::now() > deadline {
            return v;
        }
    }
}

pub fn codes(v: &Value) -> Vec<String> {
    fapiao_proxy::api::http::errors_of(v)
}

/// The credentials a fake 诺诺 checks (each test file has its own, so that a leak
/// test can search the logs for them).
pub struct NuonuoKeys {
    pub app_key: &'static str,
    pub app_secret: &'static str,
    pub merchant_key: &'static str,
}

/// A 诺诺 configuration against the fake gateway at `fake` (`http://host:port`),
/// with a SQLite database at `db`; `extra` adds or overrides settings.
pub fn nuonuo_config(db: &std::path::Path, fake: &str, keys: &NuonuoKeys, extra: &[(&str, &str)]) -> Config {
    let fake = fake.to_owned();
    let (app_key, app_secret, merchant_key) = (keys.app_key, keys.app_secret, keys.merchant_key);
    let extra: Vec<(String, String)> = extra.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let mut c = Config::from_lookup(&move |k| {
        if let Some((_, v)) = extra.iter().find(|(x, _)| x == k) {
            return Some(v.clone());
        }
        Some(match k {
            "FAPIAO_PROVIDER" => "nuonuo".into(),
            "FAPIAO_SELLER_TAX_ID" => "339902999999789113".into(),
            "FAPIAO_SELLER_NAME" => "诺诺沙箱测试企业".into(),
            "FAPIAO_MERCHANT_KEY" => merchant_key.into(),
            "FAPIAO_DEMO" => "false".into(),
            "FAPIAO_NUONUO_GATEWAY_URL" => format!("{fake}/open/v1/services"),
            "FAPIAO_NUONUO_TOKEN_URL" => format!("{fake}/accessToken"),
            "FAPIAO_NUONUO_APP_KEY" => app_key.into(),
            "FAPIAO_NUONUO_APP_SECRET" => app_secret.into(),
            "FAPIAO_RATE_LIMIT" => "0".into(),
            "FAPIAO_POLL_MS" => "10".into(),
            _ => return None,
        })
    })
    .unwrap();
    c.database_path = db.to_owned();
    c
}
