//! `fapiao-proxy selftest`: every capability the proxy needs from the configured
//! provider, tried once against the provider's *test* environment before going
//! live — the token, a 普票 and a 专票 to a test buyer, the query, the result
//! files (fetched and checksummed), re-delivery, a partial and a full red
//! invoice, and the day's reconciliation listing. Each capability is reported
//! as passed, failed or skipped, with its time and the provider's own code.
//!
//! A production gateway is refused unless `--production --max-invoices N` is
//! given: then at most N invoices (blue and red) are issued, and the listing at
//! the end reconciles them.

use std::sync::Arc;
use std::time::{Duration, Instant};

use fapiao::request::{build_issue_request, build_red_request, IssueForm, IssueRequest, RedForm};
use serde::Serialize;
use serde_json::json;
use sha2::Digest;

use crate::config::{Config, ProviderKind};
use crate::provider::{Delivery, Issued, Kind, Provider, ProviderError, QueryOutcome};

/// Why the self-test did not run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelftestError {
    /// The gateway is not a test environment and `--production` was not given.
    #[error("{gateway} is a production gateway: the self-test runs against the provider's test environment (or give --production --max-invoices N for a small real trial)")]
    ProductionRefused {
        /// The gateway.
        gateway: String,
    },
    /// `--production` without a positive `--max-invoices`.
    #[error("--production needs --max-invoices N (N ≥ 1): the most invoices the trial may issue")]
    MaxInvoicesRequired,
    /// A bad option.
    #[error("{0}")]
    Usage(String),
}

impl SelftestError {
    /// A stable code.
    pub fn code(&self) -> &'static str {
        match self {
            SelftestError::ProductionRefused { .. } => "SELFTEST_PRODUCTION_REFUSED",
            SelftestError::MaxInvoicesRequired => "SELFTEST_MAX_INVOICES_REQUIRED",
            SelftestError::Usage(_) => "SELFTEST_USAGE",
        }
    }
}

/// Options of a run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Allow a production gateway.
    pub production: bool,
    /// At most this many invoices (blue and red); required with `production`.
    pub max_invoices: Option<u32>,
    /// The test buyer.
    pub buyer_name: String,
    /// The test buyer's tax ID.
    pub buyer_tax_id: String,
    /// Where the re-delivery goes.
    pub email: String,
    /// Pause between result queries.
    pub poll: Duration,
    /// Result queries per invoice at most.
    pub max_polls: u32,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            production: false,
            max_invoices: None,
            buyer_name: "测试购方有限公司".into(),
            buyer_tax_id: "91110000600037341L".into(),
            email: "selftest@example.com".into(),
            poll: Duration::from_millis(1000),
            max_polls: 120,
        }
    }
}

/// The outcome of one capability.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// It worked.
    Passed,
    /// It did not.
    Failed,
    /// Not tried (the provider has no such method, an earlier step failed, or the invoice budget is spent).
    Skipped,
}

/// One capability's result.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Step {
    /// `token`, `issue_normal`, `issue_special`, `query`, `files`, `deliver`, `red_partial`, `red_full`, `reconcile`.
    pub capability: &'static str,
    /// Passed, failed or skipped.
    pub outcome: Outcome,
    /// Time taken.
    pub ms: u64,
    /// The provider's (or the package's) code, when there is one.
    pub code: Option<String>,
    /// What happened.
    pub detail: String,
}

/// The report of a run.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// The provider.
    pub provider: &'static str,
    /// The gateway called.
    pub gateway: String,
    /// Whether it is a production gateway.
    pub production: bool,
    /// The invoices issued (blue and red).
    pub invoices_issued: u32,
    /// Every capability, in order.
    pub steps: Vec<Step>,
}

impl Report {
    /// True when no capability failed.
    pub fn passed(&self) -> bool {
        self.steps.iter().all(|s| s.outcome != Outcome::Failed)
    }

    /// The capabilities that failed.
    pub fn failed(&self) -> Vec<&'static str> {
        self.steps
            .iter()
            .filter(|s| s.outcome == Outcome::Failed)
            .map(|s| s.capability)
            .collect()
    }

    /// A table for a terminal.
    pub fn text(&self) -> String {
        let mut out = format!(
            "selftest of {} at {}{}\n",
            self.provider,
            self.gateway,
            if self.production { " (PRODUCTION)" } else { "" }
        );
        for s in &self.steps {
            let mark = match s.outcome {
                Outcome::Passed => "PASS",
                Outcome::Failed => "FAIL",
                Outcome::Skipped => "SKIP",
            };
            out += &format!(
                "{mark}  {:<14} {:>6} ms  {:<24} {}\n",
                s.capability,
                s.ms,
                s.code.as_deref().unwrap_or("-"),
                s.detail
            );
        }
        out += &format!(
            "{} invoices issued; {}\n",
            self.invoices_issued,
            if self.passed() {
                "all capabilities passed".to_owned()
            } else {
                format!("FAILED: {}", self.failed().join(", "))
            }
        );
        out
    }
}

/// The gateway the configuration calls, and whether it is a production one
/// (not the provider's sandbox host, not a loopback address).
pub fn gateway(config: &Config) -> (String, bool) {
    let g = match config.provider {
        ProviderKind::Sandbox => return ("built-in sandbox".into(), false),
        ProviderKind::Nuonuo => config
            .nuonuo
            .as_ref()
            .map(|n| n.gateway_url.clone())
            .unwrap_or_default(),
        ProviderKind::Baiwang => config
            .baiwang
            .as_ref()
            .map(|b| b.gateway_url.clone())
            .unwrap_or_default(),
    };
    let host = reqwest::Url::parse(&g)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_default();
    let test = host.contains("sandbox")
        || host == "localhost"
        || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
    (g, !test)
}

/// Checks the options against the gateway before anything is called.
pub fn check(config: &Config, opts: &Options) -> Result<(), SelftestError> {
    let (g, production) = gateway(config);
    if opts.production && opts.max_invoices.is_none_or(|n| n < 1) {
        return Err(SelftestError::MaxInvoicesRequired);
    }
    if production && !opts.production {
        return Err(SelftestError::ProductionRefused { gateway: g });
    }
    Ok(())
}

struct Run<'a> {
    provider: Arc<dyn Provider>,
    opts: &'a Options,
    steps: Vec<Step>,
    issued: u32,
    budget: u32,
    run_id: String,
    http: reqwest::Client,
}

fn code_of(e: &ProviderError) -> (String, String) {
    match e {
        ProviderError::Rejected(i) => (i.code.to_owned(), i.message.clone()),
        ProviderError::Duplicate => ("PROVIDER_DUPLICATE".into(), e.to_string()),
        ProviderError::Unavailable(m) => ("PROVIDER_UNAVAILABLE".into(), m.clone()),
    }
}

impl Run<'_> {
    fn push(
        &mut self,
        capability: &'static str,
        started: Instant,
        outcome: Outcome,
        code: Option<String>,
        detail: impl Into<String>,
    ) {
        self.steps.push(Step {
            capability,
            outcome,
            ms: started.elapsed().as_millis() as u64,
            code,
            detail: detail.into(),
        });
    }

    fn skip(&mut self, capability: &'static str, why: &str) {
        self.push(capability, Instant::now(), Outcome::Skipped, None, why);
    }

    fn order_id(&self, suffix: &str) -> String {
        format!("{}{suffix}", self.run_id)
    }

    fn request(&self, id: &str, special: bool) -> Result<IssueRequest, String> {
        let v = json!({
            "schemaVersion": 1,
            "orderId": id,
            "invoiceType": if special { "special" } else { "normal" },
            "buyer": { "type": "company", "name": self.opts.buyer_name, "taxId": self.opts.buyer_tax_id },
            "priceIncludesTax": true,
            "lines": [
                { "name": "*餐饮服务*午餐", "taxCode": "3070401000000000000", "amount": "106.00", "taxRate": "0.06" },
                { "name": "*餐饮服务*晚餐", "taxCode": "3070401000000000000", "amount": "212.00", "taxRate": "0.06" }
            ],
            "remark": "fapiao-proxy selftest",
        });
        let form: IssueForm = serde_json::from_value(v).map_err(|e| e.to_string())?;
        let b = build_issue_request(&form);
        b.request
            .ok_or_else(|| b.errors.iter().map(|e| e.code).collect::<Vec<_>>().join(", "))
    }

    /// Queries until final; `Ok(Issued)`, or the failure's code and text.
    async fn until_final(&self, id: &str, kind: Kind) -> Result<Issued, (String, String)> {
        for _ in 0..self.opts.max_polls {
            match self.provider.query(id, kind).await {
                Ok(QueryOutcome::Issued(i)) => return Ok(i),
                Ok(QueryOutcome::Failed(i)) => return Err((i.code.to_owned(), i.message)),
                Ok(QueryOutcome::NotFound) => {
                    return Err(("NOT_FOUND".into(), "the provider does not know the order".into()))
                }
                Ok(QueryOutcome::Pending) => tokio::time::sleep(self.opts.poll).await,
                Err(e) => return Err(code_of(&e)),
            }
        }
        Err((
            "PENDING".into(),
            format!("still being issued after {} queries", self.opts.max_polls),
        ))
    }

    fn spend(&mut self) -> bool {
        if self.issued >= self.budget {
            return false;
        }
        self.issued += 1;
        true
    }

    async fn issue(&mut self, capability: &'static str, special: bool) -> Option<(IssueRequest, Issued)> {
        if !self.spend() {
            self.skip(capability, "--max-invoices reached");
            return None;
        }
        let t = Instant::now();
        let id = self.order_id(if special { "S" } else { "N" });
        let r = match self.request(&id, special) {
            Ok(r) => r,
            Err(e) => {
                self.push(
                    capability,
                    t,
                    Outcome::Failed,
                    Some("SELFTEST_REQUEST".into()),
                    format!("the test request is invalid: {e}"),
                );
                return None;
            }
        };
        if let Err(e) = self.provider.submit_issue(&r).await {
            let (c, d) = code_of(&e);
            self.push(capability, t, Outcome::Failed, Some(c), d);
            return None;
        }
        match self.until_final(&id, Kind::Blue).await {
            Ok(i) => {
                self.push(capability, t, Outcome::Passed, None, format!("{id} → {}", i.number));
                Some((r, i))
            }
            Err((c, d)) => {
                self.push(capability, t, Outcome::Failed, Some(c), d);
                None
            }
        }
    }

    async fn red(&mut self, capability: &'static str, blue: Option<&(IssueRequest, Issued)>, partial: bool) {
        let Some((req, inv)) = blue else {
            self.skip(capability, "no blue invoice to reverse");
            return;
        };
        if !self.spend() {
            self.skip(capability, "--max-invoices reached");
            return;
        }
        let t = Instant::now();
        let id = self.order_id(if partial { "RP" } else { "RF" });
        let form = RedForm {
            order_id: Some(id.clone()),
            blue_order_id: Some(req.order_id.clone()),
            blue_invoice_number: Some(inv.number.clone()),
            reason: Some(if partial { "销售折让" } else { "开票有误" }.into()),
            full: !partial,
            lines: if partial {
                vec![fapiao::amount::RedLineInput {
                    blue_line_no: 2,
                    amount: serde_json::from_value(json!("53.00")).ok(),
                    ..Default::default()
                }]
            } else {
                vec![]
            },
            blue: Some(req.invoice_input()),
            ..Default::default()
        };
        let b = build_red_request(&form);
        let Some(red) = b.request else {
            let codes = b.errors.iter().map(|e| e.code).collect::<Vec<_>>().join(", ");
            self.push(
                capability,
                t,
                Outcome::Failed,
                Some("SELFTEST_REQUEST".into()),
                format!("the red request is invalid: {codes}"),
            );
            return;
        };
        if let Err(e) = self.provider.submit_red(&red, req, &inv.number).await {
            let (c, d) = code_of(&e);
            self.push(capability, t, Outcome::Failed, Some(c), d);
            return;
        }
        match self.until_final(&id, Kind::Red).await {
            Ok(i) => self.push(capability, t, Outcome::Passed, None, format!("{id} → {}", i.number)),
            Err((c, d)) => self.push(capability, t, Outcome::Failed, Some(c), d),
        }
    }

    async fn files(&mut self, issued: &[&(IssueRequest, Issued)]) {
        let t = Instant::now();
        if issued.is_empty() {
            self.skip("files", "no issued invoice");
            return;
        }
        let mut notes = Vec::new();
        for (req, inv) in issued {
            let links: Vec<&String> = [&inv.pdf_url, &inv.ofd_url, &inv.xml_url]
                .into_iter()
                .flatten()
                .filter(|u| u.starts_with("http"))
                .collect();
            if links.is_empty() {
                match self.provider.document(&req.order_id, "xml").await {
                    Some(d) if !d.body.is_empty() => notes.push(format!(
                        "{} xml sha256 {}",
                        inv.number,
                        hex(&sha2::Sha256::digest(&d.body))
                    )),
                    _ => {
                        self.push(
                            "files",
                            t,
                            Outcome::Failed,
                            Some("NO_FILE".into()),
                            format!("{}: no file link and no document", inv.number),
                        );
                        return;
                    }
                }
                continue;
            }
            for url in links {
                let got = match self.http.get(url).send().await {
                    Ok(r) if r.status().is_success() => r.bytes().await.map_err(|e| e.to_string()),
                    Ok(r) => Err(format!("HTTP {}", r.status().as_u16())),
                    Err(e) => Err(if e.is_timeout() {
                        "timeout".into()
                    } else {
                        "request failed".into()
                    }),
                };
                match got {
                    Ok(b) if b.starts_with(b"%PDF") || b.starts_with(b"PK") || b.starts_with(b"<?xml") => {
                        notes.push(format!(
                            "{} {} bytes sha256 {}",
                            inv.number,
                            b.len(),
                            hex(&sha2::Sha256::digest(&b))
                        ))
                    }
                    Ok(b) => {
                        self.push(
                            "files",
                            t,
                            Outcome::Failed,
                            Some("FILE_FORMAT".into()),
                            format!("{url}: {} bytes, neither PDF, OFD nor XML", b.len()),
                        );
                        return;
                    }
                    Err(e) => {
                        self.push(
                            "files",
                            t,
                            Outcome::Failed,
                            Some("FILE_FETCH".into()),
                            format!("{url}: {e}"),
                        );
                        return;
                    }
                }
            }
        }
        self.push("files", t, Outcome::Passed, None, notes.join("; "));
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Runs every capability once against `provider` (configured by `config`).
pub async fn run(config: &Config, provider: Arc<dyn Provider>, opts: &Options) -> Result<Report, SelftestError> {
    check(config, opts)?;
    let (gw, production) = gateway(config);
    let stamp: String = crate::time::cst_plain(crate::time::now_ms())
        .chars()
        .filter(|c| c.is_ascii_digit())
        .skip(2)
        .take(10)
        .collect();
    let run_id = format!("ST{stamp}{}", &crate::config::random_key()[..3]).to_ascii_uppercase();
    let http = reqwest::Client::builder()
        .timeout(config.hooks.file_timeout)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| SelftestError::Usage(e.to_string()))?;
    let mut r = Run {
        provider: provider.clone(),
        opts,
        steps: Vec::new(),
        issued: 0,
        budget: opts.max_invoices.unwrap_or(u32::MAX),
        run_id,
        http,
    };
    let day_start = crate::time::now_ms();

    // The token (and the signature): a query of an order that does not exist.
    let t = Instant::now();
    match provider.query(&r.order_id("P"), Kind::Blue).await {
        Ok(QueryOutcome::NotFound) | Ok(QueryOutcome::Pending) => {
            r.push("token", t, Outcome::Passed, None, "signed call accepted")
        }
        Ok(other) => r.push(
            "token",
            t,
            Outcome::Passed,
            None,
            format!("signed call accepted ({other:?})"),
        ),
        Err(e) => {
            let (c, d) = code_of(&e);
            r.push("token", t, Outcome::Failed, Some(c), d);
        }
    }
    let normal = r.issue("issue_normal", false).await;
    let special = r.issue("issue_special", true).await;

    // The query again, by order number, for both.
    let t = Instant::now();
    let both: Vec<&(IssueRequest, Issued)> = normal.iter().chain(special.iter()).collect();
    if both.is_empty() {
        r.skip("query", "no issued invoice");
    } else {
        let mut bad = None;
        for (req, inv) in &both {
            match provider.query(&req.order_id, Kind::Blue).await {
                Ok(QueryOutcome::Issued(i)) if i.number == inv.number => {}
                Ok(other) => bad = Some(("QUERY_MISMATCH".to_owned(), format!("{}: {other:?}", req.order_id))),
                Err(e) => bad = Some(code_of(&e)),
            }
        }
        match bad {
            None => r.push(
                "query",
                t,
                Outcome::Passed,
                None,
                format!("{} invoices found by order number", both.len()),
            ),
            Some((c, d)) => r.push("query", t, Outcome::Failed, Some(c), d),
        }
    }
    r.files(&both).await;

    // Re-delivery.
    let t = Instant::now();
    match &normal {
        None => r.skip("deliver", "no issued invoice"),
        Some((req, inv)) => {
            let d = Delivery {
                order_id: req.order_id.clone(),
                invoice_number: inv.number.clone(),
                email: Some(opts.email.clone()),
                phone: None,
            };
            match provider.deliver(&d).await {
                Ok(()) => r.push(
                    "deliver",
                    t,
                    Outcome::Passed,
                    None,
                    format!("{} to {}", inv.number, opts.email),
                ),
                Err(e) if e.code() == "PROVIDER_UNSUPPORTED" => r.push(
                    "deliver",
                    t,
                    Outcome::Skipped,
                    Some(e.code().into()),
                    "the provider has no re-delivery",
                ),
                Err(e) => {
                    let (c, d) = code_of(&e);
                    r.push("deliver", t, Outcome::Failed, Some(c), d);
                }
            }
        }
    }
    r.red("red_partial", special.as_ref(), true).await;
    r.red("red_full", normal.as_ref(), false).await;

    // The day's listing holds every invoice of this run.
    let t = Instant::now();
    let ours: Vec<String> = r
        .steps
        .iter()
        .filter(|s| s.outcome == Outcome::Passed && s.detail.contains(" → "))
        .filter_map(|s| s.detail.split(" → ").next().map(str::to_owned))
        .collect();
    let from = day_start - 86_400_000;
    match provider.list_invoices(from, crate::time::now_ms() + 60_000).await {
        Ok(list) => {
            let missing: Vec<&String> = ours
                .iter()
                .filter(|id| !list.iter().any(|l| &&l.order_id == id && l.status == "issued"))
                .collect();
            if missing.is_empty() {
                r.push(
                    "reconcile",
                    t,
                    Outcome::Passed,
                    None,
                    format!(
                        "{} invoices of this run listed ({} in the window)",
                        ours.len(),
                        list.len()
                    ),
                );
            } else {
                let m: Vec<&str> = missing.iter().map(|s| s.as_str()).collect();
                r.push(
                    "reconcile",
                    t,
                    Outcome::Failed,
                    Some("RECONCILE_MISSING".into()),
                    format!("not listed: {}", m.join(", ")),
                );
            }
        }
        Err(e) if e.code() == "PROVIDER_UNSUPPORTED" => r.push(
            "reconcile",
            t,
            Outcome::Skipped,
            Some(e.code().into()),
            "the provider has no listing",
        ),
        Err(e) => {
            let (c, d) = code_of(&e);
            r.push("reconcile", t, Outcome::Failed, Some(c), d);
        }
    }
    Ok(Report {
        provider: provider.name(),
        gateway: gw,
        production,
        invoices_issued: r.issued,
        steps: r.steps,
    })
}

/// Parses `selftest` options.
pub fn parse_args(args: &[String]) -> Result<(Options, bool), SelftestError> {
    let mut o = Options::default();
    let mut json_out = false;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = || {
            it.next()
                .cloned()
                .ok_or_else(|| SelftestError::Usage(format!("{a} needs a value")))
        };
        match a.as_str() {
            "--json" => json_out = true,
            "--production" => o.production = true,
            "--max-invoices" => {
                let v = value()?;
                o.max_invoices = Some(
                    v.parse()
                        .map_err(|_| SelftestError::Usage(format!("--max-invoices: “{v}” is not a number")))?,
                );
            }
            "--buyer-name" => o.buyer_name = value()?,
            "--buyer-tax-id" => o.buyer_tax_id = value()?,
            "--email" => o.email = value()?,
            "--poll-ms" => {
                let v = value()?;
                o.poll = Duration::from_millis(
                    v.parse()
                        .map_err(|_| SelftestError::Usage(format!("--poll-ms: “{v}” is not a number")))?,
                );
            }
            other => return Err(SelftestError::Usage(format!("unknown option “{other}”"))),
        }
    }
    Ok((o, json_out))
}
