//! Reconciliation: what the proxy holds against what the provider reports for a
//! date range.
//!
//! 1. Every local order of the range that may have reached the provider is
//!    queried by order number. An order `pending`/`issuing`/`failed` here but
//!    issued at the provider (a lost acknowledgement) is **repaired**: marked
//!    issued, with its webhook event and archive queue entries. Other
//!    differences (issued here, unknown or failed there; another number) are
//!    findings, never changed automatically.
//! 2. The provider's invoice list of the range (诺诺 `queryInvoiceList`, in
//!    windows of ≤ 10 days) finds invoices the proxy does not know (e.g. its
//!    database row is missing): recorded as findings and reported, never
//!    dropped; a listed invoice whose local order is not issued is repaired as in 1.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

use crate::ledger;
use crate::provider::{Kind, QueryOutcome};
use crate::queues::worker::Adoption;
use crate::store::Status;
use crate::time::{cst_rfc3339, now_ms};
use crate::AppState;

/// The outcome of one run.
#[derive(Debug, Clone, Default, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// Range start (RFC 3339, China time).
    pub from: String,
    /// Range end, exclusive.
    pub to: String,
    /// Local orders compared.
    pub local_orders: usize,
    /// Invoices the provider listed (`None`: listing unsupported or failed).
    pub provider_listed: Option<usize>,
    /// Orders updated to the provider's state.
    pub repaired: Vec<Value>,
    /// Differences that need a person.
    pub findings: Vec<Value>,
    /// Calls that failed (the run is incomplete for these).
    pub errors: Vec<ReportError>,
    /// The sellers compared (tax IDs).
    pub sellers: Vec<String>,
}

/// A call of a reconciliation run that failed, with a stable code.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReportError {
    /// `PROVIDER_UNAVAILABLE` (timeout, 5xx, refusing token endpoint…),
    /// `PROVIDER_UNSUPPORTED` (e.g. no invoice list), another provider refusal
    /// code, `STORE_UNAVAILABLE`, or `PROVIDER_ANSWER_DIFFERS` (listed as issued,
    /// the query says otherwise).
    pub code: String,
    /// The order concerned, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order_id: Option<String>,
    /// What happened, in English (no secrets, no internal type names).
    pub message: String,
}

impl ReportError {
    fn provider(call: &str, order_id: Option<&str>, e: &crate::provider::ProviderError) -> ReportError {
        ReportError {
            code: e.code().to_owned(),
            order_id: order_id.map(str::to_owned),
            message: format!("{call}: {e}"),
        }
    }
    fn store(e: &crate::store::StoreError) -> ReportError {
        ReportError {
            code: "STORE_UNAVAILABLE".into(),
            order_id: None,
            message: format!("store: {e}"),
        }
    }
}

impl std::fmt::Display for ReportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.order_id {
            Some(id) => write!(f, "{} {id}: {}", self.code, self.message),
            None => write!(f, "{} {}", self.code, self.message),
        }
    }
}

impl Report {
    /// A fixed-width table for the terminal.
    pub fn table(&self) -> String {
        let mut s = format!(
            "reconciliation {} … {}\nlocal orders: {}   provider listed: {}   repaired: {}   findings: {}   errors: {}\n",
            self.from,
            self.to,
            self.local_orders,
            self.provider_listed.map(|n| n.to_string()).unwrap_or_else(|| "—".into()),
            self.repaired.len(),
            self.findings.len(),
            self.errors.len()
        );
        if !self.repaired.is_empty() || !self.findings.is_empty() {
            s += &format!(
                "\n{:<10} {:<28} {:<22} {:<10} {}\n",
                "ACTION", "ORDER", "INVOICE NUMBER", "LOCAL", "DETAIL"
            );
        }
        let f = |v: &Value, k: &str| v[k].as_str().unwrap_or("").to_owned();
        for r in &self.repaired {
            s += &format!(
                "{:<10} {:<28} {:<22} {:<10} {}\n",
                "repaired",
                f(r, "orderId"),
                f(r, "invoiceNumber"),
                f(r, "was"),
                "issued at the provider; now issued here"
            );
        }
        for r in &self.findings {
            s += &format!(
                "{:<10} {:<28} {:<22} {:<10} {}\n",
                f(r, "kind"),
                f(r, "orderId"),
                f(r, "invoiceNumber"),
                f(r, "local"),
                f(r, "detail")
            );
        }
        for e in &self.errors {
            s += &format!("error      {e}\n");
        }
        s
    }
}

#[allow(clippy::too_many_arguments)]
async fn finding(
    state: &AppState,
    report: &mut Report,
    kind: &str,
    order_id: &str,
    number: &str,
    local: &str,
    detail: String,
    extra: Value,
) {
    let num = (!number.is_empty()).then(|| number.to_owned());
    let mut d = json!({ "detail": detail, "local": local });
    if let Value::Object(m) = extra {
        for (k, v) in m {
            d[k] = v;
        }
    }
    let id = ledger::upsert_finding(&state.store, kind, Some(order_id.to_owned()), num, d.clone())
        .await
        .unwrap_or_default();
    d["id"] = json!(id);
    d["kind"] = json!(kind);
    d["orderId"] = json!(order_id);
    d["invoiceNumber"] = json!(number);
    report.findings.push(d);
}

/// Compares and repairs `[from_ms, to_ms)` for every seller.
pub async fn run(state: &AppState, from_ms: i64, to_ms: i64) -> Report {
    run_for(state, None, from_ms, to_ms).await
}

/// Compares and repairs `[from_ms, to_ms)` for one seller (its tax ID), or for
/// every seller (`None`), each against its own provider account. Order ids of
/// a seller other than the home seller appear as `TAXID:ORDERID`.
pub async fn run_for(state: &AppState, seller: Option<&str>, from_ms: i64, to_ms: i64) -> Report {
    let mut report = Report {
        from: cst_rfc3339(from_ms),
        to: cst_rfc3339(to_ms),
        ..Default::default()
    };
    let ids = match ledger::orders_in_range(&state.store, from_ms, to_ms).await {
        Ok(ids) => ids,
        Err(e) => {
            report.errors.push(ReportError::store(&e));
            return report;
        }
    };
    let set = state.sellers.get();
    if let Some(t) = seller.filter(|t| set.get(t).is_none()) {
        report.errors.push(ReportError {
            code: "SELLER_UNKNOWN".into(),
            order_id: None,
            message: format!("no seller {t} is configured"),
        });
        return report;
    }
    let mut repaired = std::collections::HashSet::new();
    for e in set.all().filter(|e| seller.is_none_or(|t| t == e.seller.tax_id)) {
        let tax = e.seller.tax_id.as_str();
        let mine: Vec<String> = ids.iter().filter(|k| set.seller_of_key(k) == tax).cloned().collect();
        report.local_orders += mine.len();
        report.sellers.push(tax.to_owned());
        seller_pass(state, &set, e, &mine, from_ms, to_ms, &mut report, &mut repaired).await;
    }
    for r in &report.repaired {
        tracing::info!(order = %r["orderId"], "reconciliation repaired an order");
    }
    state.signals.webhooks.notify_one();
    state.signals.archive.notify_one();
    report
}

/// One seller's part of a run.
#[allow(clippy::too_many_arguments)]
async fn seller_pass(
    state: &AppState,
    set: &crate::sellers::SellerSet,
    seller: &crate::sellers::Entry,
    ids: &[String],
    from_ms: i64,
    to_ms: i64,
    report: &mut Report,
    repaired: &mut std::collections::HashSet<String>,
) {
    for id in ids {
        let Ok(Some(r)) = state.store.get(id).await else {
            continue;
        };
        if !r.submitted {
            continue; // never left the proxy: the provider cannot know it
        }
        let kind = if r.kind == "red" { Kind::Red } else { Kind::Blue };
        let outcome = match tokio::time::timeout(
            state.config.provider_timeout,
            seller.provider.query(crate::sellers::order_id_of(id), kind),
        )
        .await
        {
            Ok(Ok(o)) => o,
            Ok(Err(e)) => {
                report.errors.push(ReportError::provider("query", Some(id), &e));
                continue;
            }
            Err(_) => {
                report.errors.push(ReportError::provider(
                    "query",
                    Some(id),
                    &crate::provider::ProviderError::Unavailable("timeout".into()),
                ));
                continue;
            }
        };
        let local = r.status.as_str();
        match (r.status, outcome) {
            (Status::Pending | Status::Issuing | Status::Failed, QueryOutcome::Issued(i)) => {
                let number = i.number.clone();
                tracing::warn!(order = %id, was = local, number = %number, "reconciliation: issued at the provider; repairing");
                match crate::queues::worker::finish_issued(state, r, i, false).await {
                    Adoption::Issued => {
                        repaired.insert(id.clone());
                        report
                            .repaired
                            .push(json!({ "orderId": id, "invoiceNumber": number, "was": local }));
                    }
                    Adoption::Conflict(f) => {
                        repaired.insert(id.clone());
                        report.findings.push(f);
                    }
                    Adoption::NotSaved => report.errors.push(ReportError {
                        code: "STORE_UNAVAILABLE".into(),
                        order_id: Some(id.clone()),
                        message: "the repair was not saved".into(),
                    }),
                }
            }
            (Status::Issued | Status::Reversed, QueryOutcome::Issued(i))
                if r.invoice_number.as_deref() != Some(i.number.as_str()) =>
            {
                let detail = format!("the provider's number is {}", i.number);
                finding(
                    state,
                    report,
                    "number_mismatch",
                    id,
                    r.invoice_number.as_deref().unwrap_or(""),
                    local,
                    detail,
                    json!({ "providerNumber": i.number }),
                )
                .await;
            }
            (Status::Issued | Status::Reversed, QueryOutcome::NotFound) => {
                finding(
                    state,
                    report,
                    "missing_at_provider",
                    id,
                    r.invoice_number.as_deref().unwrap_or(""),
                    local,
                    "the provider does not know the order".into(),
                    json!({}),
                )
                .await;
            }
            (Status::Issued | Status::Reversed, QueryOutcome::Failed(issue)) => {
                finding(
                    state,
                    report,
                    "failed_at_provider",
                    id,
                    r.invoice_number.as_deref().unwrap_or(""),
                    local,
                    format!("the provider reports {}", issue.code),
                    json!({}),
                )
                .await;
            }
            _ => {}
        }
    }
    match seller.provider.list_invoices(from_ms, to_ms).await {
        Ok(list) => {
            report.provider_listed = Some(report.provider_listed.unwrap_or(0) + list.len());
            for mut inv in list {
                // The provider lists the seller's order ids: the proxy's keys of them.
                inv.order_id = set.key(&seller.seller.tax_id, &inv.order_id);
                let local = match state.store.get(&inv.order_id).await {
                    Ok(l) => l,
                    Err(e) => {
                        report.errors.push(ReportError::store(&e));
                        continue;
                    }
                };
                match local {
                    None if inv.status == "issued" => {
                        let detail = "issued at the provider; the proxy has no such order".to_owned();
                        let extra = json!({ "amount": inv.amount, "buyerName": inv.buyer_name, "issuedAt": inv.issued_at.map(cst_rfc3339) });
                        finding(
                            state,
                            report,
                            "unknown_to_proxy",
                            &inv.order_id,
                            &inv.number,
                            "missing",
                            detail,
                            extra,
                        )
                        .await;
                    }
                    Some(r)
                        if inv.status == "issued"
                            && !matches!(r.status, Status::Issued | Status::Reversed)
                            && !repaired.contains(&r.order_id) =>
                    {
                        // Listed as issued, not issued here and not repaired above: query for the full result.
                        let kind = if r.kind == "red" { Kind::Red } else { Kind::Blue };
                        match seller
                            .provider
                            .query(crate::sellers::order_id_of(&r.order_id), kind)
                            .await
                        {
                            Ok(QueryOutcome::Issued(i)) => {
                                let was = r.status.as_str();
                                let id = r.order_id.clone();
                                match crate::queues::worker::finish_issued(state, r, i, false).await {
                                    Adoption::Issued => report
                                        .repaired
                                        .push(json!({ "orderId": id, "invoiceNumber": inv.number, "was": was })),
                                    Adoption::Conflict(f) => report.findings.push(f),
                                    Adoption::NotSaved => report.errors.push(ReportError {
                                        code: "STORE_UNAVAILABLE".into(),
                                        order_id: Some(id),
                                        message: "the repair was not saved".into(),
                                    }),
                                }
                            }
                            Ok(other) => report.errors.push(ReportError {
                                code: "PROVIDER_ANSWER_DIFFERS".into(),
                                order_id: Some(inv.order_id.clone()),
                                message: format!("listed as issued, but the query answers {}", outcome_name(&other)),
                            }),
                            Err(e) => report
                                .errors
                                .push(ReportError::provider("query", Some(&inv.order_id), &e)),
                        }
                    }
                    _ => {}
                }
            }
        }
        Err(e) => report.errors.push(ReportError::provider("list_invoices", None, &e)),
    }
}

fn outcome_name(o: &QueryOutcome) -> &'static str {
    match o {
        QueryOutcome::NotFound => "not found",
        QueryOutcome::Pending => "pending",
        QueryOutcome::Issued(_) => "issued",
        QueryOutcome::Failed(_) => "failed",
    }
}

/// Reconciles the last two days every `every` (`FAPIAO_RECONCILE_EVERY_S`).
pub async fn periodic(state: Arc<AppState>, every: Duration) {
    loop {
        tokio::time::sleep(every).await;
        let to = now_ms();
        let r = run(&state, to - 2 * 86_400_000, to).await;
        if !r.repaired.is_empty() || !r.findings.is_empty() || !r.errors.is_empty() {
            tracing::warn!(
                repaired = r.repaired.len(),
                findings = r.findings.len(),
                errors = r.errors.len(),
                "periodic reconciliation found differences"
            );
        }
    }
}
