#![allow(dead_code)]
//! Helpers shared by the proxy's integration tests: a proxy on 127.0.0.1:0, tokens,
//! requests.

use std::net::SocketAddr;
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
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>()).await;
    });
    Running {
        base: format!("http://{addr}"),
        state: app.state.clone(),
        client: reqwest::Client::builder().timeout(Duration::from_secs(20)).build().unwrap(),
        server,
        app: Some(app),
    }
}

pub fn sandbox(store: &Store, config: &Config) -> Arc<Sandbox> {
    Arc::new(Sandbox::new(store.clone(), config.sandbox.clone(), config.seller_tax_id.clone(), config.seller_name.clone()))
}

/// A sandbox proxy on a fresh database in `dir`.
pub async fn sandbox_proxy(dir: &std::path::Path, tweak: impl FnOnce(&mut Config)) -> (Running, Arc<Sandbox>) {
    let mut config = Config::for_tests(dir.join("fapiao.sqlite"));
    tweak(&mut config);
    let store = Store::open(&config.database_path).unwrap();
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
    let now = fapiao_proxy::time::now_s();
    token::mint(
        &config.merchant_key,
        &Claims {
            v: 1,
            merchant: config.seller_tax_id.clone(),
            order_id: order_id.into(),
            issued_at: now,
            expires_at: now + ttl,
            price_includes_tax: true,
            lines: serde_json::from_value(lines.clone()).unwrap(),
            totals: TokenTotals { amount_incl_tax: Some(total.into()), ..Default::default() },
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
    let resp = r.client.post(format!("{}{path}", r.base)).json(body).send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

pub async fn get(r: &Running, path: &str) -> (u16, Value) {
    let resp = r.client.get(format!("{}{path}", r.base)).send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
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
    fapiao_proxy::http::errors_of(v)
}
