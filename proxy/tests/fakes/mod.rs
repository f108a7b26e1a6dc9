#![allow(dead_code)]
//! Local stand-ins for the providers, for the conformance suite and the
//! self-test: each checks the real signature and access token of every call,
//! keeps the invoices it issued, and serves their files.
//!
//! Shared conventions (those of the built-in sandbox where it has one):
//! - an order number starting with `LOST` is accepted, then answered after
//!   [`LOST_DELAY_MS`] (longer than the tests' provider timeout): the answer is lost;
//! - an order number starting with `HANG` is answered after the same delay
//!   without being accepted (a timeout before anything happened);
//! - a remark containing `#sandbox:fail` ends, on the query, with 开票失败
//!   because the buyer's tax ID is unknown (诺诺) or is refused at once (百望);
//!   `#sandbox:reject` is refused at once for the tax tolerance (诺诺 E9131);
//! - the first query of an accepted order answers "being issued", later ones
//!   the issued invoice with a PDF at `/files/{number}.pdf`;
//! - [`Fake::expire_tokens`] makes every access token given so far expired;
//! - [`Fake::break_capability`] makes one capability (`deliver`, `red`,
//!   `list`, `files`, `query`) answer with an error, for the self-test.

pub mod baiwang;
pub mod nuonuo;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::Value;

/// How long a `LOST`/`HANG` order waits before it is answered (ms).
pub const LOST_DELAY_MS: u64 = 900;

/// One invoice the fake holds.
#[derive(Debug, Clone)]
pub struct Inv {
    pub order_no: String,
    pub red: bool,
    pub special: bool,
    pub number: String,
    pub queries: u32,
    pub fail: Option<String>,
    pub issued_at: i64,
    pub amount: String,
    pub tax: String,
    pub buyer_name: String,
    pub buyer_tax: String,
    pub lines: usize,
    /// The red request's body (red invoices), as sent.
    pub request: Value,
    /// The lines of a partial reversal (red invoices).
    pub partial_lines: usize,
}

impl Inv {
    /// Issued: queried at least once before.
    pub fn issued(&self) -> bool {
        self.fail.is_none() && self.queries >= 2
    }
}

#[derive(Debug, Default)]
pub struct FakeState {
    pub token_calls: u32,
    pub refresh_calls: u32,
    pub token_refusals: u32,
    pub bad_signatures: u32,
    pub expired_answers: u32,
    next_token: u32,
    pub valid_tokens: HashSet<String>,
    pub refresh_tokens: HashSet<String>,
    pub invoices: BTreeMap<String, Inv>,
    /// Submissions per order number (issue and red), accepted or not.
    pub submissions: HashMap<String, u32>,
    pub deliveries: Vec<(String, Option<String>, Option<String>)>,
    pub broken: HashSet<String>,
    /// The fake's own base URL (for file links).
    pub base: String,
    seq: u64,
    /// 诺诺 third-party app: authorization codes given and not yet used (code → tax number).
    pub isv_codes: HashMap<String, String>,
    /// 诺诺 third-party app: the access tokens given and the seller each is for.
    pub isv_token_tax: HashMap<String, String>,
    /// 诺诺 third-party app: userId → (tax number, current refresh token).
    pub isv_users: HashMap<String, (String, String)>,
    /// 诺诺 third-party app: code exchanges and refreshes that succeeded.
    pub isv_exchanges: u32,
    pub isv_refreshes: u32,
    /// Token-endpoint calls per client (appKey or userId's app).
    pub app_token_calls: HashMap<String, u32>,
    /// Accepted submissions per seller tax number (userTax).
    pub billed_by_tax: HashMap<String, u32>,
}

impl FakeState {
    pub fn new_token(&mut self) -> (String, String) {
        self.next_token += 1;
        let t = format!("fake-access-{}-{}", self.next_token, rand_suffix());
        let r = format!("fake-refresh-{}-{}", self.next_token, rand_suffix());
        self.valid_tokens.insert(t.clone());
        self.refresh_tokens.insert(r.clone());
        (t, r)
    }

    pub fn next_number(&mut self) -> String {
        self.seq += 1;
        format!("2633200000{:010}", self.seq)
    }

    pub fn is_broken(&self, what: &str) -> bool {
        self.broken.contains(what)
    }
}

fn rand_suffix() -> String {
    fapiao_proxy::config::random_key()[..8].to_owned()
}

/// A running fake: its base URL and state.
#[derive(Clone)]
pub struct Fake {
    pub base: String,
    pub state: Arc<Mutex<FakeState>>,
}

impl Fake {
    pub fn expire_tokens(&self) {
        self.state.lock().unwrap().valid_tokens.clear();
    }

    pub fn break_capability(&self, what: &str) {
        self.state.lock().unwrap().broken.insert(what.to_owned());
    }

    pub fn with<T>(&self, f: impl FnOnce(&mut FakeState) -> T) -> T {
        f(&mut self.state.lock().unwrap())
    }

    /// How many invoices the fake holds under an order number.
    pub fn count(&self, order_no: &str) -> usize {
        self.with(|s| usize::from(s.invoices.contains_key(order_no)))
    }

    /// An authorization code the seller `tax` gives the third-party app (as
    /// 诺诺's authorization page would, redirecting to the app's redirect_uri).
    pub fn authorization_code(&self, tax: &str) -> String {
        let code = format!("code-{}", rand_suffix());
        self.with(|s| s.isv_codes.insert(code.clone(), tax.to_owned()));
        code
    }

    pub fn submissions(&self, order_no: &str) -> u32 {
        self.with(|s| s.submissions.get(order_no).copied().unwrap_or(0))
    }
}

/// The bytes of an invoice's PDF as the fakes serve it.
pub fn pdf_bytes(number: &str) -> Vec<u8> {
    format!("%PDF-1.7\n% fake invoice {number}\n%%EOF\n").into_bytes()
}

/// `GET /files/{number}.pdf`.
pub async fn file(State(s): State<Arc<Mutex<FakeState>>>, Path(name): Path<String>) -> axum::response::Response {
    let st = s.lock().unwrap();
    if st.is_broken("files") {
        return (StatusCode::INTERNAL_SERVER_ERROR, "broken").into_response();
    }
    let Some(number) = name.strip_suffix(".pdf") else {
        return StatusCode::NOT_FOUND.into_response();
    };
    if !st.invoices.values().any(|i| i.number == number && i.issued()) {
        return StatusCode::NOT_FOUND.into_response();
    }
    ([("content-type", "application/pdf")], pdf_bytes(number)).into_response()
}

/// Sums a list of string amounts.
pub fn sum(values: impl Iterator<Item = String>) -> String {
    let cents: i64 = values
        .map(|v| {
            let neg = v.starts_with('-');
            let v = v.trim_start_matches('-');
            let (a, b) = v.split_once('.').unwrap_or((v, "0"));
            let b = format!("{b:0<2}");
            let c = a.parse::<i64>().unwrap_or(0) * 100 + b[..2].parse::<i64>().unwrap_or(0);
            if neg {
                -c
            } else {
                c
            }
        })
        .sum();
    let sign = if cents < 0 { "-" } else { "" };
    format!("{sign}{}.{:02}", cents.abs() / 100, cents.abs() % 100)
}

/// Binds a router on 127.0.0.1:0.
pub async fn bind(app: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}
