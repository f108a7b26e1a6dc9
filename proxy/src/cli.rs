//! `fapiao-proxy batch …`: the operator's command line for ERP exports,
//! talking to a running proxy over HTTP (`--url` or `FAPIAO_URL`, the key from
//! `FAPIAO_OPERATOR_KEY`).
//!
//! - `batch submit FILE [--dry-run] [--max-amount AMOUNT] [--confirm CODES] [--name NAME]
//!   [--client-batch-id ID] [--wait]`: FILE is a sheet in the batch template's
//!   layout (`.xlsx`, or `.csv` in UTF-8 or GBK), read and checked with
//!   [`fapiao::batch::read_sheet`] and [`fapiao::batch::check`] — the same code
//!   as the batch page — or a JSON file of IssueForms (an array, or
//!   `{ "orders": [...] }`). `--dry-run` prints every finding (row, column,
//!   code, message, fixes) and sends nothing; a sheet with errors is never sent.
//! - `batch status ID [--json]`: counts and the orders that did not issue.
//! - `batch export ID --out FILE`: the result table as `.xlsx` (written with
//!   [`fapiao::batch::write_results`]), `.csv` or `.json` (by the extension).
//! - `batch template --out FILE`: the template with an example row.
//! - `batch list`: the newest batches.
//!
//! Exit codes: 0 done, 1 findings or failed orders, 2 usage, connection or
//! server errors.

use std::time::Duration;

use fapiao::batch::{check, read_sheet, write_results, CheckOptions, Format, Report, ResultRow};
use fapiao::request::{build_issue_request, IssueForm};
use serde_json::{json, Value};

/// The usage text of `fapiao-proxy batch`.
pub const USAGE: &str = "fapiao-proxy batch — batches of invoices through a running proxy

USAGE:
  fapiao-proxy batch submit FILE [--dry-run] [--max-amount AMOUNT] [--confirm CODE,…]
                             [--name NAME] [--client-batch-id ID] [--seller TAXID] [--wait]
        FILE: .xlsx or .csv in the batch template's layout (UTF-8 or GBK), or .json IssueForms;
        --dry-run prints every finding and sends nothing; --max-amount splits larger orders
  fapiao-proxy batch status ID [--json]
  fapiao-proxy batch export ID --out FILE          (.xlsx, .csv or .json)
  fapiao-proxy batch template --out FILE           (.xlsx or .csv, with an example row)
  fapiao-proxy batch list
OPTIONS:
  --url URL   the proxy (default FAPIAO_URL, else http://127.0.0.1:8080)
The operator key is read from FAPIAO_OPERATOR_KEY (fapiao-proxy operator-key NAME makes one).
";

/// What went wrong, with its exit code.
#[derive(Debug)]
pub struct Failure {
    /// 1: findings or failed orders; 2: usage, connection, server.
    pub code: u8,
    /// The message.
    pub message: String,
}

fn usage(m: impl Into<String>) -> Failure {
    Failure {
        code: 2,
        message: m.into(),
    }
}

struct Opts {
    positional: Vec<String>,
    flags: std::collections::HashSet<String>,
    values: std::collections::HashMap<String, String>,
}

fn parse(args: &[String]) -> Result<Opts, Failure> {
    let mut o = Opts {
        positional: Vec::new(),
        flags: Default::default(),
        values: Default::default(),
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--dry-run" | "--wait" | "--json" => {
                o.flags.insert(a.clone());
            }
            "--url" | "--out" | "--name" | "--client-batch-id" | "--max-amount" | "--confirm" | "--seller" => {
                let v = it.next().ok_or_else(|| usage(format!("{a} needs a value")))?;
                o.values.insert(a.clone(), v.clone());
            }
            s if s.starts_with("--") => return Err(usage(format!("unknown option “{s}”"))),
            _ => o.positional.push(a.clone()),
        }
    }
    Ok(o)
}

/// The orders of a JSON file: an array of IssueForms or `{ "orders": [...] }`.
pub fn read_json_orders(text: &str) -> Result<Vec<Value>, String> {
    let v: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    match v {
        Value::Array(a) => Ok(a),
        Value::Object(mut m) => match m.remove("orders") {
            Some(Value::Array(a)) => Ok(a),
            _ => Err("a JSON file holds an array of orders or { \"orders\": [...] }".into()),
        },
        _ => Err("a JSON file holds an array of orders or { \"orders\": [...] }".into()),
    }
}

/// Every problem of every order, as `build_issue_request` (the same code the
/// proxy runs) finds it: `(order index, order id, field, code, message)`.
pub fn check_orders(orders: &[Value]) -> Vec<(usize, String, String, String, String)> {
    let mut out = Vec::new();
    for (i, o) in orders.iter().enumerate() {
        let id = o["orderId"].as_str().unwrap_or("").to_owned();
        match serde_json::from_value::<IssueForm>(o.clone()) {
            Err(e) => out.push((i, id, String::new(), "REQUEST_BODY_INVALID".into(), e.to_string())),
            Ok(form) => {
                for e in build_issue_request(&form).errors {
                    out.push((i, id.clone(), e.field, e.code.to_owned(), e.message));
                }
            }
        }
    }
    out
}

struct Client {
    http: reqwest::Client,
    base: String,
    key: String,
}

impl Client {
    fn new(o: &Opts) -> Result<Client, Failure> {
        let base = o
            .values
            .get("--url")
            .cloned()
            .or_else(|| std::env::var("FAPIAO_URL").ok().filter(|u| !u.trim().is_empty()))
            .unwrap_or_else(|| "http://127.0.0.1:8080".into());
        let key = std::env::var("FAPIAO_OPERATOR_KEY")
            .ok()
            .map(|k| k.trim().to_owned())
            .filter(|k| !k.is_empty())
            .ok_or_else(|| usage("FAPIAO_OPERATOR_KEY is not set (fapiao-proxy operator-key NAME makes one)"))?;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(120))
            .build()
            .map_err(|e| usage(format!("cannot start an HTTP client: {e}")))?;
        Ok(Client {
            http,
            base: base.trim_end_matches('/').to_owned(),
            key,
        })
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> Result<(u16, Vec<u8>), Failure> {
        let resp = req
            .bearer_auth(&self.key)
            .send()
            .await
            .map_err(|e| usage(format!("cannot reach the proxy at {}: {e}", self.base)))?;
        let status = resp.status().as_u16();
        let body = resp
            .bytes()
            .await
            .map_err(|e| usage(format!("the answer broke off: {e}")))?;
        Ok((status, body.to_vec()))
    }

    async fn json(&self, req: reqwest::RequestBuilder, want: &[u16]) -> Result<(u16, Value), Failure> {
        let (status, body) = self.send(req).await?;
        let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        if !want.contains(&status) {
            return Err(usage(format!("the proxy answered {status}: {}", errors_text(&v))));
        }
        Ok((status, v))
    }

    async fn get(&self, path: &str) -> Result<Value, Failure> {
        Ok(self
            .json(self.http.get(format!("{}{path}", self.base)), &[200])
            .await?
            .1)
    }
}

/// The orders of a `GET /v1/batches/{id}` answer as result rows, with the
/// proxy's own links made absolute (the file is read away from the proxy).
pub fn result_rows(batch: &Value, base: &str) -> Vec<ResultRow> {
    batch["orders"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|o| {
            let mut row: ResultRow = serde_json::from_value(o.clone()).unwrap_or_default();
            if let Some(files) = row.files.as_mut() {
                for link in [&mut files.pdf, &mut files.ofd, &mut files.xml].into_iter().flatten() {
                    if link.starts_with('/') {
                        *link = format!("{base}{link}");
                    }
                }
            }
            row
        })
        .collect()
}

fn errors_text(v: &Value) -> String {
    match v["errors"].as_array() {
        Some(errs) => errs
            .iter()
            .map(|e| {
                format!(
                    "{} {}: {}",
                    e["code"].as_str().unwrap_or(""),
                    e["field"].as_str().unwrap_or(""),
                    e["message"].as_str().unwrap_or("")
                )
            })
            .collect::<Vec<_>>()
            .join("\n  "),
        None => v.to_string(),
    }
}

fn counts_line(v: &Value) -> String {
    let c = &v["counts"];
    format!(
        "{} orders: {} pending, {} submitted, {} issued, {} failed, {} cancelled{}",
        v["total"],
        c["pending"],
        c["submitted"],
        c["issued"],
        c["failed"],
        c["cancelled"],
        if v["done"] == json!(true) { " — done" } else { "" }
    )
}

/// Runs `fapiao-proxy batch ARGS`; the exit code.
pub async fn run(args: &[String]) -> Result<u8, Failure> {
    let o = parse(args.get(1..).unwrap_or_default())?;
    match args.first().map(String::as_str) {
        Some("submit") => submit(&o).await,
        Some("status") => status(&o).await,
        Some("export") => export(&o).await,
        Some("template") => {
            let out = o
                .values
                .get("--out")
                .ok_or_else(|| usage("batch template --out FILE"))?;
            let format = Format::parse(out.rsplit('.').next().unwrap_or(""))
                .ok_or_else(|| usage(format!("{out}: the template is .xlsx or .csv")))?;
            std::fs::write(out, fapiao::batch::template(format))
                .map_err(|e| usage(format!("cannot write {out}: {e}")))?;
            println!("{out}: the batch template with an example row");
            Ok(0)
        }
        Some("list") => {
            let c = Client::new(&o)?;
            let v = c.get("/v1/batches").await?;
            for b in v["batches"].as_array().into_iter().flatten() {
                println!(
                    "{}  {}  {}  {}  {}",
                    b["id"].as_str().unwrap_or(""),
                    b["createdAt"].as_str().unwrap_or(""),
                    b["operator"].as_str().unwrap_or(""),
                    b["name"].as_str().unwrap_or("-"),
                    counts_line(b)
                );
            }
            Ok(0)
        }
        _ => Err(usage(USAGE)),
    }
}

async fn submit(o: &Opts) -> Result<u8, Failure> {
    let [file] = o.positional.as_slice() else {
        return Err(usage("batch submit FILE: one file"));
    };
    let (orders, errors) = if file.to_ascii_lowercase().ends_with(".json") {
        let orders = read_orders(file)?;
        let findings = check_orders(&orders);
        for (i, id, field, code, message) in &findings {
            println!("order {} ({id}) {field}: {code} {message}", i + 1);
        }
        println!("{} orders checked, {} findings", orders.len(), findings.len());
        (orders, findings.len())
    } else {
        let options = CheckOptions {
            max_amount: o.values.get("--max-amount").cloned(),
            confirmed: o
                .values
                .get("--confirm")
                .map(|c| {
                    c.split(',')
                        .map(|x| x.trim().to_owned())
                        .filter(|x| !x.is_empty())
                        .collect()
                })
                .unwrap_or_default(),
            ..Default::default()
        };
        let (report, text) = check_sheet_file(file, &options)?;
        print!("{text}");
        let orders = report
            .invoices
            .iter()
            .map(|i| serde_json::to_value(&i.form).unwrap_or(Value::Null))
            .collect();
        (orders, report.totals.errors)
    };
    if o.flags.contains("--dry-run") {
        println!("nothing sent (--dry-run)");
        return Ok(if errors == 0 { 0 } else { 1 });
    }
    if errors > 0 {
        return Err(Failure {
            code: 1,
            message: format!("{errors} errors: nothing sent; fix them and submit again"),
        });
    }
    let c = Client::new(o)?;
    let mut body = json!({ "orders": orders });
    if let Some(n) = o.values.get("--name") {
        body["name"] = json!(n);
    }
    if let Some(t) = o.values.get("--seller") {
        body["sellerTaxId"] = json!(t);
    }
    if let Some(id) = o.values.get("--client-batch-id") {
        body["clientBatchId"] = json!(id);
    }
    let (status, v) = c
        .json(
            c.http
                .post(format!("{}/v1/batches", c.base))
                .header("content-type", "application/json")
                .body(body.to_string()),
            &[200, 202],
        )
        .await?;
    let id = v["id"].as_str().unwrap_or("").to_owned();
    println!(
        "batch {id}: {} orders {}",
        v["total"],
        if status == 200 {
            "(sent before under this client batch id)"
        } else {
            "accepted"
        }
    );
    if let Some(d) = v["duplicates"].as_array().filter(|d| !d.is_empty()) {
        println!(
            "{} order ids existed already and are not issued again: {}",
            d.len(),
            d.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", ")
        );
    }
    if !o.flags.contains("--wait") {
        return Ok(0);
    }
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let s = c.get(&format!("/v1/batches/{id}")).await?;
        println!("{}", counts_line(&s));
        if s["done"] == json!(true) {
            return Ok(if s["counts"]["failed"].as_i64().unwrap_or(0) > 0 {
                1
            } else {
                0
            });
        }
    }
}

/// Reads a sheet and checks it as the batch page does: the report and the
/// findings as text, one line per finding (sheet row, header, column key,
/// code, message, fixes), then the totals.
pub fn check_sheet_file(file: &str, options: &CheckOptions) -> Result<(Report, String), Failure> {
    let bytes = std::fs::read(file).map_err(|e| usage(format!("cannot read {file}: {e}")))?;
    let name = std::path::Path::new(file)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| file.to_owned());
    let sheet = read_sheet(&bytes, &name).map_err(|e| usage(format!("{file}: {e}")))?;
    let report = check(&sheet, options);
    let text = findings_text(&sheet.source, &report);
    Ok((report, text))
}

/// The findings of a report as the dry run prints them.
pub fn findings_text(source: &str, report: &Report) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    for f in &report.findings {
        let level = if f.severity == fapiao::Severity::Error {
            "error"
        } else {
            "warning"
        };
        let _ = write!(
            out,
            "row {} {} ({}): {level} {} {}",
            f.row, f.header, f.column, f.code, f.message
        );
        if !f.order_id.is_empty() {
            let _ = write!(out, " [订单号 {}]", f.order_id);
        }
        for fix in &f.fixes {
            let _ = write!(out, " — fix: {}", fix.label);
        }
        out.push('\n');
    }
    let t = &report.totals;
    let _ = writeln!(
        out,
        "{} rows ({source}), {} orders, {} invoices ({} valid), {} errors, {} warnings; 价税合计 {} (valid invoices)",
        t.rows, t.orders, t.invoices, t.valid_invoices, t.errors, t.warnings, t.amount_incl_tax
    );
    out
}

fn read_orders(file: &str) -> Result<Vec<Value>, Failure> {
    let bytes = std::fs::read(file).map_err(|e| usage(format!("cannot read {file}: {e}")))?;
    let lower = file.to_ascii_lowercase();
    if lower.ends_with(".json") {
        let text = String::from_utf8(bytes).map_err(|_| usage(format!("{file}: not UTF-8")))?;
        return read_json_orders(&text).map_err(|e| usage(format!("{file}: {e}")));
    }
    Err(usage(format!("{file}: a .json file of IssueForms")))
}

async fn status(o: &Opts) -> Result<u8, Failure> {
    let [id] = o.positional.as_slice() else {
        return Err(usage("batch status ID"));
    };
    let c = Client::new(o)?;
    let v = c.get(&format!("/v1/batches/{id}")).await?;
    if o.flags.contains("--json") {
        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
    } else {
        println!(
            "batch {} “{}” by {} at {}",
            v["id"].as_str().unwrap_or(""),
            v["name"].as_str().unwrap_or("-"),
            v["operator"].as_str().unwrap_or(""),
            v["createdAt"].as_str().unwrap_or("")
        );
        println!("{}", counts_line(&v));
        for row in v["orders"].as_array().into_iter().flatten() {
            if row["status"] == "failed" {
                println!(
                    "  failed {}: {} {}",
                    row["orderId"].as_str().unwrap_or(""),
                    row["error"]["code"].as_str().unwrap_or(""),
                    row["error"]["message"].as_str().unwrap_or("")
                );
            }
        }
    }
    Ok(if v["counts"]["failed"].as_i64().unwrap_or(0) > 0 {
        1
    } else {
        0
    })
}

async fn export(o: &Opts) -> Result<u8, Failure> {
    let [id] = o.positional.as_slice() else {
        return Err(usage("batch export ID --out FILE"));
    };
    let out = o
        .values
        .get("--out")
        .ok_or_else(|| usage("batch export: --out FILE is required"))?;
    let lower = out.to_ascii_lowercase();
    let format = if lower.ends_with(".csv") {
        "csv"
    } else if lower.ends_with(".json") {
        "json"
    } else if lower.ends_with(".xlsx") {
        "xlsx"
    } else {
        return Err(usage(format!("{out}: the result file is .xlsx, .csv or .json")));
    };
    let c = Client::new(o)?;
    if format == "xlsx" {
        let v = c.get(&format!("/v1/batches/{id}")).await?;
        let bytes = write_results(&result_rows(&v, &c.base), Format::Xlsx);
        std::fs::write(out, &bytes).map_err(|e| usage(format!("cannot write {out}: {e}")))?;
        println!(
            "{out}: {} orders, {} bytes",
            v["orders"].as_array().map_or(0, Vec::len),
            bytes.len()
        );
        return Ok(0);
    }
    let (status, body) = c
        .send(c.http.get(format!("{}/v1/batches/{id}/export?format={format}", c.base)))
        .await?;
    if status != 200 {
        let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        return Err(usage(format!("the proxy answered {status}: {}", errors_text(&v))));
    }
    std::fs::write(out, &body).map_err(|e| usage(format!("cannot write {out}: {e}")))?;
    println!("{out}: {} bytes", body.len());
    Ok(0)
}
