//! Invoicing providers behind one trait.
//!
//! The worker relies on one property of every provider: the order number is the
//! provider's idempotency key (诺诺 refuses a reused `orderNo` with E9106). So a
//! submission whose outcome is unknown is followed by a query by order number,
//! and a second submission can never produce a second invoice.

pub mod baiwang;
pub mod nuonuo;
pub mod sandbox;
pub mod shared_token;
pub mod sign;

use std::sync::Arc;

use fapiao::request::{IssueRequest, RedRequest};
use fapiao::Issue;
use futures_util::future::BoxFuture;

use crate::config::{Config, ProviderKind};
use crate::store::Store;

/// The provider took the request (诺诺 E0000: accepted, not yet issued).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// The provider's serial number, when it gives one.
    pub serial: Option<String>,
}

/// An issued invoice.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Issued {
    /// The 20-digit number.
    pub number: String,
    /// Issue time, epoch ms.
    pub issued_at: i64,
    /// PDF link.
    pub pdf_url: Option<String>,
    /// OFD link.
    pub ofd_url: Option<String>,
    /// XML link.
    pub xml_url: Option<String>,
    /// 诺诺 `emailNotifyStatus` (delivery by e-mail), when reported.
    pub email_notify_status: Option<String>,
    /// 诺诺 `phoneNotifyStatus` (delivery by SMS), when reported.
    pub phone_notify_status: Option<String>,
    /// What the provider says the invoice is, compared with the order before the
    /// invoice is taken as the order's.
    pub facts: InvoiceFacts,
}

/// What the provider reports about an issued invoice (each `None` when the
/// answer does not say). An invoice found under an order's number is the order's
/// only if every reported fact matches the order: another system of the same
/// seller may have used the number (诺诺 E9106 only says the number is taken).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct InvoiceFacts {
    /// 价税合计 (诺诺 `orderAmount`).
    pub amount_incl_tax: Option<String>,
    /// 合计税额 (诺诺 `taxAmount`).
    pub tax_amount: Option<String>,
    /// Buyer tax ID (诺诺 `payerTaxNo`).
    pub buyer_tax_id: Option<String>,
    /// Buyer name (诺诺 `payerName`).
    pub buyer_name: Option<String>,
    /// Number of invoice lines (诺诺 `invoiceItems`, asked for with `isOfferInvoiceDetail` 1).
    pub lines: Option<usize>,
}

/// Why the provider is not called for a while: its token endpoint refused (a
/// wrong or rotated AppSecret, an exhausted quota). Shared by every instance on
/// the database; it ends at `until_ms`, when one caller tries again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hold {
    /// When one caller may try again (epoch ms).
    pub until_ms: i64,
    /// What the provider answered (e.g. `token endpoint refused: 070305`).
    pub reason: String,
    /// Consecutive refusals.
    pub failures: u32,
}

/// One invoice in the provider's list ([`Provider::list_invoices`]).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ListedInvoice {
    /// The order number the invoice was issued for.
    pub order_id: String,
    /// The 20-digit invoice number (empty while not issued).
    pub number: String,
    /// Issue time, epoch ms.
    pub issued_at: Option<i64>,
    /// `issued`, `failed`, `pending`, `void`.
    pub status: String,
    /// Total including tax, as the provider gives it.
    pub amount: Option<String>,
    /// Buyer name.
    pub buyer_name: Option<String>,
}

/// A re-delivery request ([`Provider::deliver`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// Order number.
    pub order_id: String,
    /// The 20-digit invoice number.
    pub invoice_number: String,
    /// E-mail address, if any.
    pub email: Option<String>,
    /// Mobile number, if any.
    pub phone: Option<String>,
}

/// The answer of a provider method it does not have.
pub fn unsupported(what: &str) -> ProviderError {
    ProviderError::Rejected(fapiao::Issue::new(
        "provider",
        &crate::problem::ProxyProblem::ProviderUnsupported { what: what.to_owned() },
    ))
}

/// What a query by order number found.
#[derive(Debug, Clone, PartialEq)]
pub enum QueryOutcome {
    /// The provider has no such order: it never arrived.
    NotFound,
    /// Accepted, still being issued.
    Pending,
    /// Issued.
    Issued(Issued),
    /// Definitively failed (诺诺 status 22/24).
    Failed(Issue),
}

/// A provider call that did not succeed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ProviderError {
    /// Refused for good: the order is failed with this issue.
    #[error("the provider refused: {} {}", .0.code, .0.message_en)]
    Rejected(Issue),
    /// The order number is already known to the provider (诺诺 E9106): query it.
    #[error("the order number is already known to the provider")]
    Duplicate,
    /// Timeout, connection failure, 5xx, unparseable answer: the outcome is unknown.
    #[error("the provider is unavailable: {0}")]
    Unavailable(String),
}

impl ProviderError {
    /// A stable code for reports (`PROVIDER_UNAVAILABLE`, `PROVIDER_DUPLICATE`,
    /// or the code of the refusal).
    pub fn code(&self) -> &'static str {
        match self {
            ProviderError::Rejected(issue) => issue.code,
            ProviderError::Duplicate => "PROVIDER_DUPLICATE",
            ProviderError::Unavailable(_) => "PROVIDER_UNAVAILABLE",
        }
    }
}

/// Blue or red.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A blue (normal) invoice.
    Blue,
    /// A red-letter invoice.
    Red,
}

/// A file the proxy serves for an invoice (the sandbox's XML and HTML view).
#[derive(Debug, Clone)]
pub struct Document {
    /// MIME type.
    pub content_type: &'static str,
    /// Content.
    pub body: Vec<u8>,
}

/// An invoicing provider.
pub trait Provider: Send + Sync {
    /// `sandbox`, `nuonuo`, `baiwang`.
    fn name(&self) -> &'static str;

    /// Submits a blue invoice.
    fn submit_issue<'a>(&'a self, request: &'a IssueRequest) -> BoxFuture<'a, Result<Accepted, ProviderError>>;

    /// Submits a blue invoice for an order the proxy accepted at `order_time_ms`
    /// (诺诺 sends it as `invoiceDate`, "order time" in providers.md §1.7, the same
    /// on every resubmission). Default: [`Provider::submit_issue`].
    fn submit_issue_at<'a>(
        &'a self,
        request: &'a IssueRequest,
        _order_time_ms: i64,
    ) -> BoxFuture<'a, Result<Accepted, ProviderError>> {
        self.submit_issue(request)
    }

    /// Submits a red invoice against an issued blue one.
    fn submit_red<'a>(
        &'a self,
        red: &'a RedRequest,
        blue: &'a IssueRequest,
        blue_number: &'a str,
    ) -> BoxFuture<'a, Result<Accepted, ProviderError>>;

    /// Asks for the state of an order by its number.
    fn query<'a>(&'a self, order_id: &'a str, kind: Kind) -> BoxFuture<'a, Result<QueryOutcome, ProviderError>>;

    /// A file for an issued invoice that the proxy serves itself (`xml`, `html`).
    fn document<'a>(&'a self, _order_id: &'a str, _which: &'a str) -> BoxFuture<'a, Option<Document>> {
        Box::pin(async { None })
    }

    /// Re-delivers an issued invoice by e-mail and/or SMS (诺诺 `deliveryInvoice`).
    fn deliver<'a>(&'a self, _delivery: &'a Delivery) -> BoxFuture<'a, Result<(), ProviderError>> {
        Box::pin(async { Err(unsupported("deliver")) })
    }

    /// The invoices issued in `[from_ms, to_ms)` (诺诺 `queryInvoiceList`), for
    /// reconciliation. Default: unsupported.
    fn list_invoices<'a>(
        &'a self,
        _from_ms: i64,
        _to_ms: i64,
    ) -> BoxFuture<'a, Result<Vec<ListedInvoice>, ProviderError>> {
        Box::pin(async { Err(unsupported("list_invoices")) })
    }

    /// Stores the authorization a seller gave a third-party app (诺诺's
    /// authorization code, exchanged for the seller's token). Default: unsupported.
    fn authorize<'a>(&'a self, _code: &'a str) -> BoxFuture<'a, Result<(), ProviderError>> {
        Box::pin(async { Err(unsupported("authorize")) })
    }

    /// Set while the provider must not be called (a refusing token endpoint):
    /// the worker keeps its orders queued until then. Default: never.
    fn hold(&self) -> Option<Hold> {
        None
    }

    /// Brings [`Provider::hold`] up to date with what other instances stored: a
    /// back-off this instance has not met yet (it has not tried a call since),
    /// or its end. Reads the store; calls nothing. Default: nothing to learn.
    fn sync_hold(&self) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }
}

/// The provider the configuration names.
pub fn from_config(config: &Config, store: &Store) -> Result<Arc<dyn Provider>, String> {
    Ok(match config.provider {
        ProviderKind::Sandbox => Arc::new(sandbox::Sandbox::new(
            store.clone(),
            config.sandbox.clone(),
            config.seller_tax_id.clone(),
            config.seller_name.clone(),
        )),
        ProviderKind::Nuonuo => {
            let settings = config
                .nuonuo
                .clone()
                .ok_or("FAPIAO_NUONUO_APP_KEY: required with FAPIAO_PROVIDER=nuonuo")?;
            Arc::new(nuonuo::Nuonuo::new(
                settings,
                store.clone(),
                config.seller_tax_id.clone(),
                config.seller_name.clone(),
                config.provider_timeout,
            )?)
        }
        ProviderKind::Baiwang => {
            let settings = config
                .baiwang
                .clone()
                .ok_or("FAPIAO_BAIWANG_APP_KEY: required with FAPIAO_PROVIDER=baiwang")?;
            Arc::new(baiwang::Baiwang::new(
                settings,
                store.clone(),
                config.seller_tax_id.clone(),
                config.provider_timeout,
            )?)
        }
    })
}

/// The provider client of one seller of a sellers file. `home`: the seller is
/// the deployment's home seller (its sandbox invoices and 诺诺 self-use token
/// keep the single-seller keys).
pub fn for_seller(
    config: &Config,
    seller: &crate::sellers::Seller,
    store: &Store,
    home: bool,
) -> Result<Arc<dyn Provider>, String> {
    Ok(match seller.provider {
        ProviderKind::Sandbox => Arc::new(
            sandbox::Sandbox::new(
                store.clone(),
                config.sandbox.clone(),
                seller.tax_id.clone(),
                seller.name.clone(),
            )
            .with_scope((!home).then(|| seller.tax_id.clone())),
        ),
        ProviderKind::Nuonuo => {
            let settings = seller.nuonuo.clone().ok_or("nuonuo: settings missing")?;
            Arc::new(nuonuo::Nuonuo::for_seller(
                settings,
                store.clone(),
                seller.tax_id.clone(),
                seller.name.clone(),
                config.provider_timeout,
                home,
            )?)
        }
        ProviderKind::Baiwang => {
            let settings = seller.baiwang.clone().ok_or("baiwang: settings missing")?;
            Arc::new(baiwang::Baiwang::for_seller(
                settings,
                store.clone(),
                seller.tax_id.clone(),
                config.provider_timeout,
                home,
            )?)
        }
    })
}

/// One line of a partial red letter as the providers take it: the blue line it
/// reverses (1-based), that line's name without its `*简称*` prefix and its tax
/// code, and the reversed amounts (negative) formatted as the package formats them.
pub(crate) struct RedLineText {
    pub blue_line_no: usize,
    pub name: String,
    pub tax_code: String,
    pub amount_excl_tax: String,
    pub tax_amount: String,
    pub tax_rate: String,
    /// Quantity and unit price (excluding tax), when the line has them.
    pub quantity_price: Option<(String, String)>,
}

/// The lines of a partial red letter, computed by the package from the blue
/// request (the same arithmetic the page and the proxy's check use).
pub(crate) fn red_lines(red: &RedRequest, blue: &IssueRequest) -> Vec<RedLineText> {
    use fapiao::amount::{compute_red, money, RedInput};
    let r = compute_red(&RedInput {
        blue: blue.invoice_input(),
        reason: Some(red.reason.code().into()),
        lines: red.lines.clone(),
        ..Default::default()
    });
    r.lines
        .iter()
        .map(|l| {
            let b = &blue.lines[l.blue_line_no.saturating_sub(1).min(blue.lines.len().saturating_sub(1))];
            RedLineText {
                blue_line_no: l.blue_line_no,
                name: fapiao::taxcode::parse_item_name(&b.name).name.to_owned(),
                tax_code: b.tax_code.clone(),
                amount_excl_tax: money::format_money(l.line.amount_excl_tax),
                tax_amount: money::format_money(l.line.tax_amount),
                tax_rate: money::format_plain(l.line.tax_rate),
                quantity_price: match (l.line.quantity, l.line.unit_price_excl_tax) {
                    (Some(q), Some(p)) => Some((money::format_plain(q), money::format_plain(p))),
                    _ => None,
                },
            }
        })
        .collect()
}
