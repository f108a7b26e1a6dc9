//! The sandbox: a simulated provider for the demo and the tests. It behaves like
//! 诺诺 where it matters for the proxy: submission only accepts (the invoice is
//! issued after a delay), the order number is unique (a second submission is a
//! duplicate), results come from a query by order number, and failures look like
//! a provider's. Its state lives in the proxy's store (`sandbox_invoices`, unique
//! per order id), so it survives a restart of the proxy as a real provider would,
//! and several proxy instances on one PostgreSQL database see one sandbox.
//!
//! Knobs (`FAPIAO_SANDBOX_*`): call latency (a range), issue delay, share of failed
//! orders, share of submissions that are accepted but answered with a timeout,
//! share of calls answered with HTTP 5xx, share of slow calls (before or after the
//! invoice is stored) and how slow. A remark
//! containing `#sandbox:reject` is refused like 诺诺 E9131; `#sandbox:fail` ends
//! with 开票失败 (购方税号有误).

use fapiao::request::{IssueRequest, RedRequest};
use futures_util::future::BoxFuture;
use rand::Rng;
use serde_json::Value;

use super::{Accepted, Delivery, Document, Issued, Kind, ListedInvoice, Provider, ProviderError, QueryOutcome};
use crate::config::SandboxKnobs;
use crate::problem::{map_fail_cause, map_nuonuo_code};
use crate::store::Store;
use crate::time::{cst_plain, now_ms};

/// The simulated provider.
pub struct Sandbox {
    store: Store,
    knobs: SandboxKnobs,
    seller_tax_id: String,
    seller_name: String,
    /// The share of 5xx answers now (f64 bits): starts at the knob, changed by
    /// [`Sandbox::set_error_rate`].
    error_rate: std::sync::atomic::AtomicU64,
    /// With several sellers on the sandbox: the seller's tax ID, put before each
    /// order id in the shared `sandbox_invoices` table (each seller has its own
    /// order ids, as each has its own account at a real provider).
    scope: Option<String>,
}

impl Sandbox {
    /// A sandbox keeping its state in `store`.
    pub fn new(store: Store, knobs: SandboxKnobs, seller_tax_id: String, seller_name: String) -> Sandbox {
        let error_rate = std::sync::atomic::AtomicU64::new(knobs.error_rate.to_bits());
        Sandbox {
            store,
            knobs,
            seller_tax_id,
            seller_name,
            error_rate,
            scope: None,
        }
    }

    /// The same sandbox keeping its invoices apart for a seller other than the
    /// deployment's home seller (its order keys are `TAXID:ORDERID`).
    pub fn with_scope(mut self, tax_id: Option<String>) -> Sandbox {
        self.scope = tax_id;
        self
    }

    /// The sandbox's key of an order id (the proxy's order key).
    fn key(&self, order_id: &str) -> String {
        match &self.scope {
            Some(s) => format!("{s}:{order_id}"),
            None => order_id.to_owned(),
        }
    }

    /// The order id of a stored key, if the key is this sandbox's.
    fn own<'a>(&self, key: &'a str) -> Option<&'a str> {
        match &self.scope {
            Some(s) => key.strip_prefix(s.as_str())?.strip_prefix(':'),
            None => (!key.contains(':')).then_some(key),
        }
    }

    /// Changes the share of calls answered with HTTP 5xx while running (an
    /// outage and its end, for tests and demonstrations).
    pub fn set_error_rate(&self, p: f64) {
        self.error_rate
            .store(p.clamp(0.0, 1.0).to_bits(), std::sync::atomic::Ordering::Relaxed);
    }

    /// The call's latency; then, by the knobs, a 5xx answer (before anything
    /// happened) or a slow answer.
    async fn latency(&self) -> Result<(), ProviderError> {
        let (lo, hi) = self.knobs.latency_ms;
        let ms = if hi > lo { rand::rng().random_range(lo..=hi) } else { lo };
        if ms > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
        }
        if self.roll(f64::from_bits(
            self.error_rate.load(std::sync::atomic::Ordering::Relaxed),
        )) {
            return Err(ProviderError::Unavailable("sandbox: HTTP 503".into()));
        }
        if self.roll(self.knobs.slow_rate / 2.0) {
            tokio::time::sleep(self.knobs.slow).await;
        }
        Ok(())
    }

    fn roll(&self, p: f64) -> bool {
        p > 0.0 && rand::rng().random::<f64>() < p
    }

    async fn accept(
        &self,
        order_id: &str,
        kind: &'static str,
        request: String,
        fail: bool,
    ) -> Result<Accepted, ProviderError> {
        let (lo, hi) = self.knobs.issue_delay_ms;
        let delay = if hi > lo { rand::rng().random_range(lo..=hi) } else { lo };
        let ready_at = now_ms() + delay as i64;
        let region: String = {
            let r = &self.seller_tax_id[2.min(self.seller_tax_id.len())..4.min(self.seller_tax_id.len())];
            if r.len() == 2 && r.bytes().all(|b| b.is_ascii_digit()) {
                r.to_owned()
            } else {
                "11".into()
            }
        };
        let inserted = self
            .store
            .sandbox_insert(&self.key(order_id), kind, request, ready_at, fail, &region)
            .await
            .map_err(|e| ProviderError::Unavailable(e.to_string()))?;
        if inserted && self.roll(self.knobs.slow_rate / 2.0) {
            // Slow after the invoice was stored: a timeout after it issued.
            tokio::time::sleep(self.knobs.slow).await;
        }
        if !inserted {
            return Err(ProviderError::Duplicate);
        }
        if self.roll(self.knobs.timeout_rate) {
            // Accepted, but the answer is lost: the caller sees a timeout.
            return Err(ProviderError::Unavailable(
                "sandbox: timeout (the request was accepted)".into(),
            ));
        }
        Ok(Accepted {
            serial: Some(format!("SBX{}", order_id)),
        })
    }

    /// How many invoices the sandbox holds for an order (0 or 1; for tests).
    pub async fn count(&self, order_id: &str) -> usize {
        self.store
            .sandbox_count(Some(self.key(order_id).as_str()))
            .await
            .unwrap_or(0) as usize
    }

    /// How many invoices the sandbox has issued in all (for tests).
    pub async fn total(&self) -> usize {
        self.store.sandbox_count(None).await.unwrap_or(0) as usize
    }
}

/// The scalar fields of a special-business object (or one transport row), in
/// order, as text: what the sandbox echoes in its XML and HTML views.
fn special_fields(v: &Value) -> Vec<(String, String)> {
    v.as_object()
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| match v {
            Value::String(s) => Some((k.clone(), s.clone())),
            Value::Bool(b) => Some((k.clone(), b.to_string())),
            _ => None,
        })
        .collect()
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

impl Provider for Sandbox {
    fn name(&self) -> &'static str {
        "sandbox"
    }

    fn submit_issue<'a>(&'a self, request: &'a IssueRequest) -> BoxFuture<'a, Result<Accepted, ProviderError>> {
        Box::pin(async move {
            self.latency().await?;
            if request.remark.contains("#sandbox:reject") {
                return Err(ProviderError::Rejected(map_nuonuo_code("E9131", "税额误差超过0.06")));
            }
            let fail = request.remark.contains("#sandbox:fail") || self.roll(self.knobs.failure_rate);
            let json = serde_json::to_string(request).map_err(|e| ProviderError::Unavailable(e.to_string()))?;
            self.accept(&request.order_id, "blue", json, fail).await
        })
    }

    fn submit_red<'a>(
        &'a self,
        red: &'a RedRequest,
        _blue: &'a IssueRequest,
        blue_number: &'a str,
    ) -> BoxFuture<'a, Result<Accepted, ProviderError>> {
        Box::pin(async move {
            self.latency().await?;
            if blue_number.len() != 20 {
                return Err(ProviderError::Rejected(map_nuonuo_code("E9102", "原发票号码有误")));
            }
            let json = serde_json::to_string(red).map_err(|e| ProviderError::Unavailable(e.to_string()))?;
            self.accept(&red.order_id, "red", json, false).await
        })
    }

    fn query<'a>(&'a self, order_id: &'a str, _kind: Kind) -> BoxFuture<'a, Result<QueryOutcome, ProviderError>> {
        Box::pin(async move {
            self.latency().await?;
            let row = self
                .store
                .sandbox_get(&self.key(order_id))
                .await
                .map_err(|e| ProviderError::Unavailable(e.to_string()))?
                .map(|i| (i.ready_at, i.fail, i.number, i.issued_at));
            Ok(match row {
                None => QueryOutcome::NotFound,
                Some((ready_at, _, _, _)) if ready_at > now_ms() => QueryOutcome::Pending,
                Some((_, true, _, _)) => QueryOutcome::Failed(map_fail_cause("购方税号有误")),
                Some((_, false, number, issued_at)) => QueryOutcome::Issued(Issued {
                    number: number.unwrap_or_default(),
                    issued_at: issued_at.unwrap_or_else(now_ms),
                    pdf_url: None,
                    ofd_url: None,
                    xml_url: Some(format!("/v1/invoices/{}/files/xml", self.key(order_id))),
                    ..Default::default()
                }),
            })
        })
    }

    /// Records nothing itself (the proxy records every delivery); an address
    /// containing `bounce` is refused, to exercise the failure path.
    fn deliver<'a>(&'a self, d: &'a Delivery) -> BoxFuture<'a, Result<(), ProviderError>> {
        Box::pin(async move {
            self.latency().await?;
            if d.invoice_number.len() != 20 {
                return Err(ProviderError::Rejected(map_nuonuo_code("E9102", "发票号码有误")));
            }
            if d.email.as_deref().is_some_and(|e| e.contains("bounce")) {
                return Err(ProviderError::Rejected(map_nuonuo_code("E9999", "邮件发送失败")));
            }
            Ok(())
        })
    }

    /// The sandbox's invoices (issued, failed or pending) whose issue time falls in the range.
    fn list_invoices<'a>(
        &'a self,
        from_ms: i64,
        to_ms: i64,
    ) -> BoxFuture<'a, Result<Vec<ListedInvoice>, ProviderError>> {
        Box::pin(async move {
            self.latency().await?;
            let rows = self
                .store
                .transaction(move |c| {
                    Box::pin(async move {
                        c.query(
                            "SELECT order_id, number, issued_at, ready_at, fail, request FROM sandbox_invoices WHERE ready_at >= $1 AND ready_at < $2 ORDER BY seq",
                            &crate::vals![from_ms, to_ms],
                        )
                        .await?
                        .iter()
                        .map(|r| Ok((r.text(0)?, r.opt_text(1)?, r.opt_int(2)?, r.int(3)?, r.bool(4)?, r.text(5)?)))
                        .collect::<Result<Vec<_>, crate::store::StoreError>>()
                    })
                })
                .await
                .map_err(|e| ProviderError::Unavailable(e.to_string()))?;
            let now = now_ms();
            Ok(rows
                .into_iter()
                .filter_map(|(key, number, issued_at, ready_at, fail, request)| {
                    Some((self.own(&key)?.to_owned(), number, issued_at, ready_at, fail, request))
                })
                .map(|(order_id, number, issued_at, ready_at, fail, request)| {
                    let req: Value = serde_json::from_str(&request).unwrap_or(Value::Null);
                    let status = if ready_at > now {
                        "pending"
                    } else if fail {
                        "failed"
                    } else {
                        "issued"
                    };
                    ListedInvoice {
                        order_id,
                        number: if status == "issued" {
                            number.unwrap_or_default()
                        } else {
                            String::new()
                        },
                        issued_at: (status == "issued").then_some(issued_at.unwrap_or(ready_at)),
                        status: status.into(),
                        amount: req["totals"]["amountInclTax"].as_str().map(str::to_owned),
                        buyer_name: req["buyer"]["name"].as_str().map(str::to_owned),
                    }
                })
                .collect())
        })
    }

    fn document<'a>(&'a self, order_id: &'a str, which: &'a str) -> BoxFuture<'a, Option<Document>> {
        Box::pin(async move {
            let inv = self.store.sandbox_get(&self.key(order_id)).await.ok().flatten()?;
            let (kind, request, number, issued_at, ready_at, fail) =
                (inv.kind, inv.request, inv.number, inv.issued_at, inv.ready_at, inv.fail);
            if fail || ready_at > now_ms() {
                return None;
            }
            let req: Value = serde_json::from_str(&request).ok()?;
            let number = number.unwrap_or_default();
            let date = cst_plain(issued_at.unwrap_or(ready_at));
            let s = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
            let buyer = req.get("buyer").cloned().unwrap_or(Value::Null);
            let totals = req.get("totals").cloned().unwrap_or(Value::Null);
            let lines = req.get("lines").and_then(Value::as_array).cloned().unwrap_or_default();
            let title = match (kind.as_str(), s(&req, "invoiceType").as_str()) {
                ("red", _) => "电子发票（红字）",
                (_, "special") => "电子发票（增值税专用发票）",
                _ => "电子发票（普通发票）",
            };
            match which {
                "xml" => {
                    let mut x = format!(
                        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<EInvoice sandbox=\"true\">\n  <Header><InvoiceNumber>{}</InvoiceNumber><IssueTime>{}</IssueTime><Kind>{}</Kind><OrderId>{}</OrderId></Header>\n  <Seller><TaxId>{}</TaxId><Name>{}</Name></Seller>\n  <Buyer><TaxId>{}</TaxId><Name>{}</Name></Buyer>\n  <Lines>\n",
                        esc(&number), esc(&date), esc(title), esc(order_id), esc(&self.seller_tax_id), esc(&self.seller_name),
                        esc(&s(&buyer, "taxId")), esc(&s(&buyer, "name"))
                    );
                    for l in &lines {
                        x += &format!(
                            "    <Line><Name>{}</Name><TaxCode>{}</TaxCode><Quantity>{}</Quantity><AmountExclTax>{}</AmountExclTax><TaxRate>{}</TaxRate><TaxAmount>{}</TaxAmount></Line>\n",
                            esc(&s(l, "name")), esc(&s(l, "taxCode")), esc(&s(l, "quantity")), esc(&s(l, "amountExclTax")), esc(&s(l, "taxRate")), esc(&s(l, "taxAmount"))
                        );
                    }
                    x += "  </Lines>\n";
                    if let Some(sb) = req.get("specialBusiness") {
                        x += "  <SpecialBusiness>\n";
                        for (k, v) in special_fields(sb) {
                            x += &format!("    <{k}>{}</{k}>\n", esc(&v));
                        }
                        for t in sb.get("transports").and_then(Value::as_array).into_iter().flatten() {
                            x += "    <Transport>";
                            for (k, v) in special_fields(t) {
                                x += &format!("<{k}>{}</{k}>", esc(&v));
                            }
                            x += "</Transport>\n";
                        }
                        x += "  </SpecialBusiness>\n";
                    }
                    x += &format!(
                        "  <Totals><AmountExclTax>{}</AmountExclTax><TaxAmount>{}</TaxAmount><AmountInclTax>{}</AmountInclTax></Totals>\n</EInvoice>\n",
                        esc(&s(&totals, "amountExclTax")), esc(&s(&totals, "taxAmount")), esc(&s(&totals, "amountInclTax"))
                    );
                    Some(Document {
                        content_type: "application/xml; charset=utf-8",
                        body: x.into_bytes(),
                    })
                }
                "html" => {
                    let rows: String = lines
                        .iter()
                        .map(|l| format!(
                            "<tr><td>{}</td><td>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td></tr>",
                            esc(&s(l, "name")), esc(&s(l, "unit")), esc(&s(l, "quantity")), esc(&s(l, "amountExclTax")), esc(&s(l, "taxRate")), esc(&s(l, "taxAmount"))
                        ))
                        .collect();
                    let special: String = req
                        .get("specialBusiness")
                        .map(|sb| {
                            let mut h = String::from("<h2>特定业务</h2><table>");
                            for (k, v) in special_fields(sb) {
                                h += &format!("<tr><th>{}</th><td>{}</td></tr>", esc(&k), esc(&v));
                            }
                            for t in sb.get("transports").and_then(Value::as_array).into_iter().flatten() {
                                let cells: Vec<String> = special_fields(t).into_iter().map(|(_, v)| esc(&v)).collect();
                                h += &format!("<tr><th>transport</th><td>{}</td></tr>", cells.join(" · "));
                            }
                            h + "</table>"
                        })
                        .unwrap_or_default();
                    let words = fapiao::amount_in_words(
                        &s(&totals, "amountInclTax"),
                        fapiao::amount::WordsOptions {
                            style: fapiao::amount::WordsStyle::Invoice,
                        },
                    )
                    .unwrap_or_default();
                    let html = format!(
                        "<!doctype html><html lang=zh-CN><meta charset=utf-8><meta name=viewport content=\"width=device-width, initial-scale=1\"><title>{title} {number}</title><style>body{{font-family:serif;max-width:860px;margin:2em auto;padding:0 1em;line-height:1.6}}h1{{text-align:center;color:#8b4513;font-size:1.6em}}.w{{overflow-x:auto}}table{{width:100%;border-collapse:collapse}}td,th{{border:1px solid #8b4513;padding:4px}}.n{{text-align:right;white-space:nowrap}}.sbx{{color:#c00;text-align:center}}@media print{{.sbx{{color:#000}}}}@media (max-width:600px){{body{{margin:1em auto}}h1{{font-size:1.3em}}td,th{{padding:3px;font-size:.9em}}}}</style>\
                         <h1>{title}</h1><p class=sbx>沙箱发票 · SANDBOX — 不具法律效力</p><p>发票号码：{number}<br>开票日期：{date}</p>\
                         <p>购买方：{} {}<br>销售方：{} {}</p><div class=w><table><tr><th>项目名称</th><th>单位</th><th>数量</th><th>金额</th><th>税率</th><th>税额</th></tr>{rows}</table></div>{special}\
                         <p>合计：¥{} 税额：¥{}<br>价税合计（大写）：{words}（小写）¥{}</p></html>",
                        esc(&s(&buyer, "name")), esc(&s(&buyer, "taxId")), esc(&self.seller_name), esc(&self.seller_tax_id),
                        esc(&s(&totals, "amountExclTax")), esc(&s(&totals, "taxAmount")), esc(&s(&totals, "amountInclTax")),
                        title = esc(title), number = esc(&number), date = esc(&date)
                    );
                    Some(Document {
                        content_type: "text/html; charset=utf-8",
                        body: html.into_bytes(),
                    })
                }
                _ => None,
            }
        })
    }
}
