//! Canonical requests: the one versioned JSON shape in which an issuing request
//! (蓝字发票) or a red-letter request (红字发票) travels from the page to the proxy
//! (`fapiao-proxy`) and from the proxy to the provider.
//!
//! [`build_issue_request`] and [`build_red_request`] take a form as a page collects
//! it, run every rule of this crate over it — the buyer ([`validate_buyer`]), the
//! amounts ([`compute_invoice`], [`compute_red`]), the tax classification codes and
//! item names ([`check_item_name`]: 19 digits, a leaf of the table) — and give the
//! canonical request with normalised values and computed amounts. The proxy
//! re-runs the same function on what it receives, so a page and the server can
//! never disagree about what is valid.
//!
//! The shapes are documented as JSON Schema in `docs/schema/issue-request.v1.json`
//! and `docs/schema/red-request.v1.json`. A canonical request is itself a valid
//! form: building it again gives the same request.
//!
//! ```
//! use fapiao::request::{build_issue_request, Delivery, IssueForm};
//! use fapiao::{BuyerInput, LineInput};
//!
//! let form = IssueForm {
//!     order_id: Some("A20261123-0001".into()),
//!     invoice_type: Some("normal".into()),
//!     buyer: BuyerInput {
//!         kind: Some("company".into()),
//!         name: Some("北京某某科技有限公司".into()),
//!         tax_id: Some("91110000600037341L".into()),
//!         ..Default::default()
//!     },
//!     price_includes_tax: true,
//!     lines: vec![LineInput {
//!         name: Some("午餐".into()),
//!         tax_code: Some("3070401000000000000".into()),
//!         amount: Some("106.00".into()),
//!         tax_rate: Some("0.06".into()),
//!         ..Default::default()
//!     }],
//!     delivery: Delivery { email: Some("caiwu@example.com".into()), mobile: None },
//!     ..Default::default()
//! };
//! let r = build_issue_request(&form);
//! assert!(r.valid, "{:?}", r.errors);
//! let req = r.request.unwrap();
//! assert_eq!(req.schema_version, 1);
//! assert_eq!(req.lines[0].name, "*餐饮服务*午餐");
//! assert_eq!(req.totals.amount_excl_tax, "100.00");
//! assert_eq!(req.totals.tax_amount, "6.00");
//!
//! // A summary code (汇总项) cannot be invoiced.
//! let mut bad = form.clone();
//! bad.lines[0].tax_code = Some("3070400000000000000".into());
//! assert_eq!(build_issue_request(&bad).errors[0].code, "TAXCODE_SUMMARY");
//! ```

mod problem;
mod special;

use serde::{Deserialize, Serialize};

use crate::amount::money::{format_money, format_plain};
use crate::amount::{
    compute_invoice, compute_red, InvoiceInput, LineInput, LineKind, RedInput, RedLineInput, ReversedLine,
};
use crate::buyer::{validate_buyer, Buyer, BuyerInput, BuyerOptions, InvoiceType};
use crate::issue::{Issue, Issues};
use crate::taxcode::{check_item_name, TaxCodeProblem};
use crate::text::{char_len, clean_text, has_control};

pub use problem::RequestProblem;
pub use special::{
    check_special_business, SpecialBusiness, SpecialKind, SpecialProblem, Transport, ADDRESS_MAX, AREA_UNITS,
    CERTIFICATE_MAX, OTHER_TEXT_MAX, PROJECT_NAME_MAX, TRANSPORTS_MAX, TRANSPORT_TEXT_MAX,
};

/// The version of the canonical request shape this crate reads and writes.
pub const SCHEMA_VERSION: u32 = 1;
/// Longest order number (诺诺 `orderNo`: 20 in the older documents, the strictest).
pub const ORDER_ID_MAX: usize = 20;
/// Longest remark on a 数电 invoice (rules.md §6).
pub const REMARK_MAX: usize = 200;

/// Where the invoice is delivered.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Delivery {
    /// E-mail address (the buyer's `email` when missing).
    pub email: Option<String>,
    /// Mobile number (the buyer's `mobile` when missing).
    pub mobile: Option<String>,
}

/// An issuing request as a page collects it; every field may be missing.
/// A canonical [`IssueRequest`] read as JSON is also a valid form. Serialised, it
/// is the JSON a page sends (fields not given are left out).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct IssueForm {
    /// Must be [`SCHEMA_VERSION`] when present.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schema_version: Option<SchemaVersionInput>,
    /// The merchant's order number: one invoice per order.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order_id: Option<String>,
    /// `"special"` (数电专票) or `"normal"` (数电普票, the default); the Chinese names are accepted too.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invoice_type: Option<String>,
    /// The buyer (购买方).
    pub buyer: BuyerInput,
    /// Codes of overridable errors the user confirmed (e.g. `TAXID_CHECKSUM`, `TAXCODE_UNKNOWN`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub confirmed: Vec<String>,
    /// Whether unit prices and amounts include VAT.
    pub price_includes_tax: bool,
    /// The lines; each needs a 19-digit leaf tax classification code (a discount
    /// line without one takes its discounted line's).
    pub lines: Vec<LineInput>,
    /// 备注, at most [`REMARK_MAX`] characters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remark: Option<String>,
    /// Delivery e-mail and mobile; they are checked with the buyer's rules.
    pub delivery: Delivery,
    /// 特定业务 data (建筑服务, 货物运输服务, 不动产销售, 不动产经营租赁), checked by
    /// [`check_special_business`] together with the line constraints of its type.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub special_business: Option<SpecialBusiness>,
}

/// One line of a canonical request. Numbers are decimal strings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestLine {
    /// `normal` or `discount`.
    pub kind: LineKind,
    /// The printed item name `*简称*名称`.
    pub name: String,
    /// 19-digit tax classification code, a leaf of the table.
    pub tax_code: String,
    /// 规格型号.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec: Option<String>,
    /// 单位.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    /// 数量.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantity: Option<String>,
    /// 单价 in the basis of `priceIncludesTax`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit_price: Option<String>,
    /// The line total in the basis of `priceIncludesTax`.
    pub amount: String,
    /// 税率 as a fraction.
    pub tax_rate: String,
    /// 优惠政策标识.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferential_policy: Option<String>,
    /// 零税率标识.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zero_rate_flag: Option<String>,
    /// 扣除额 (差额征税).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deduction: Option<String>,
    /// 金额 (computed).
    pub amount_excl_tax: String,
    /// 税额 (computed).
    pub tax_amount: String,
    /// 含税金额 (computed).
    pub amount_incl_tax: String,
}

/// Sums of the lines, two decimals.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestTotals {
    /// 合计金额.
    pub amount_excl_tax: String,
    /// 合计税额.
    pub tax_amount: String,
    /// 价税合计.
    pub amount_incl_tax: String,
}

/// The canonical issuing request (schema `docs/schema/issue-request.v1.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IssueRequest {
    /// Always [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The order number.
    pub order_id: String,
    /// 数电专票 or 数电普票.
    pub invoice_type: InvoiceType,
    /// The normalised buyer.
    pub buyer: Buyer,
    /// Overridable codes the user confirmed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub confirmed: Vec<String>,
    /// Whether `unitPrice` and `amount` include VAT.
    pub price_includes_tax: bool,
    /// The lines.
    pub lines: Vec<RequestLine>,
    /// Totals.
    pub totals: RequestTotals,
    /// 备注 (may be empty).
    pub remark: String,
    /// Normalised delivery addresses (empty strings when none).
    pub delivery: DeliveryOut,
    /// Normalised 特定业务 data; absent on an ordinary invoice.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub special_business: Option<SpecialBusiness>,
}

/// Delivery addresses after normalisation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryOut {
    /// E-mail or `""`.
    pub email: String,
    /// Mobile or `""`.
    pub mobile: String,
}

/// The outcome of a build: the request when valid, and every issue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BuildResult<T> {
    /// True when there are no errors.
    pub valid: bool,
    /// The canonical request; `None` when there are errors.
    pub request: Option<T>,
    /// Problems that block issuing.
    pub errors: Vec<Issue>,
    /// Problems that do not.
    pub warnings: Vec<Issue>,
}

fn finish<T>(mut issues: Issues, confirmed: &[String], request: impl FnOnce() -> Option<T>) -> BuildResult<T> {
    issues.apply_confirmed(confirmed);
    // compute_invoice and check_item_name both report an empty name.
    let empty_names: Vec<String> = issues
        .errors
        .iter()
        .filter(|e| e.code == "ITEM_NAME_EMPTY")
        .map(|e| e.field.clone())
        .collect();
    issues
        .errors
        .retain(|e| !(e.code == "LINE_NAME_REQUIRED" && empty_names.contains(&e.field)));
    let valid = issues.is_ok();
    BuildResult {
        valid,
        request: if valid { request() } else { None },
        errors: issues.errors,
        warnings: issues.warnings,
    }
}

/// `schemaVersion` as sent: a number or a string.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SchemaVersionInput {
    /// `1`.
    Number(u64),
    /// `"1"`.
    Text(String),
}

fn check_schema_version(v: &Option<SchemaVersionInput>, issues: &mut Issues) {
    let found = match v {
        None => return,
        Some(SchemaVersionInput::Number(n)) if *n == u64::from(SCHEMA_VERSION) => return,
        Some(SchemaVersionInput::Text(s)) if s.trim() == SCHEMA_VERSION.to_string() => return,
        Some(SchemaVersionInput::Number(n)) => n.to_string(),
        Some(SchemaVersionInput::Text(s)) => s.chars().take(20).collect(),
    };
    issues.push(
        "schemaVersion",
        &RequestProblem::SchemaVersion {
            found,
            supported: SCHEMA_VERSION,
        },
    );
}

/// Checks an order number and returns it trimmed.
pub fn check_order_id(field: &str, input: Option<&str>, issues: &mut Issues) -> String {
    let id = input.map(str::trim).unwrap_or("").to_owned();
    if id.is_empty() {
        issues.push(field, &RequestProblem::OrderIdRequired);
    } else if id.len() > ORDER_ID_MAX || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        issues.push(
            field,
            &RequestProblem::OrderIdFormat {
                found: id.chars().take(40).collect(),
                max: ORDER_ID_MAX,
            },
        );
    }
    id
}

fn parse_invoice_type(input: Option<&str>, issues: &mut Issues) -> InvoiceType {
    match input.map(str::trim) {
        None | Some("") | Some("normal") | Some("数电普票") => InvoiceType::Normal,
        Some("special") | Some("数电专票") => InvoiceType::Special,
        Some(other) => {
            issues.push(
                "invoiceType",
                &RequestProblem::InvoiceTypeInvalid {
                    found: other.chars().take(40).collect(),
                },
            );
            InvoiceType::Normal
        }
    }
}

/// Builds the canonical issuing request from a form: buyer, tax codes, item names,
/// amounts, remark and delivery are all checked. Never panics.
///
/// ```
/// use fapiao::request::{build_issue_request, IssueForm};
/// let r = build_issue_request(&IssueForm::default());
/// assert!(!r.valid);
/// let codes: Vec<_> = r.errors.iter().map(|e| e.code).collect();
/// assert!(codes.contains(&"ORDER_ID_REQUIRED"));
/// assert!(codes.contains(&"BUYER_NAME_REQUIRED"));
/// assert!(codes.contains(&"INVOICE_NO_LINES"));
/// ```
pub fn build_issue_request(form: &IssueForm) -> BuildResult<IssueRequest> {
    let mut issues = Issues::default();
    check_schema_version(&form.schema_version, &mut issues);
    let order_id = check_order_id("orderId", form.order_id.as_deref(), &mut issues);
    let invoice_type = parse_invoice_type(form.invoice_type.as_deref(), &mut issues);

    // Buyer, with the delivery addresses checked by the same rules.
    let mut buyer_input = form.buyer.clone();
    let non_empty = |v: &Option<String>| v.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned);
    if let Some(email) = non_empty(&form.delivery.email) {
        buyer_input.email = Some(email);
    }
    if let Some(mobile) = non_empty(&form.delivery.mobile) {
        buyer_input.mobile = Some(mobile);
    }
    let buyer = validate_buyer(
        &buyer_input,
        &BuyerOptions {
            invoice_type,
            confirmed: form.confirmed.clone(),
        },
    );
    issues.errors.extend(buyer.errors);
    issues.warnings.extend(buyer.warnings);

    // Tax codes and item names, then the amounts with the printed names.
    let mut lines = Vec::with_capacity(form.lines.len());
    let mut codes = Vec::with_capacity(form.lines.len());
    let mut prev_code: Option<String> = None;
    for (i, line) in form.lines.iter().enumerate() {
        let is_discount = line.kind.as_deref().map(str::trim) == Some("discount");
        let given = line
            .tax_code
            .as_deref()
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(str::to_owned);
        let code = match (given, is_discount) {
            (Some(c), _) => Some(c),
            (None, true) => prev_code.clone(),
            (None, false) => None,
        };
        let mut printed = clean_text(line.name.as_deref().unwrap_or(""));
        match &code {
            None => issues.push(&format!("lines[{i}].taxCode"), &TaxCodeProblem::Empty),
            Some(c) => {
                let r = check_item_name(c, line.name.as_deref().unwrap_or(""));
                let mut li = Issues {
                    errors: r.errors,
                    warnings: r.warnings,
                }
                .prefixed(&format!("lines[{i}]"));
                // Only the code's own problems and the name's; an empty name is reported once below.
                li.errors.retain(|e| e.code != "ITEM_NAME_EMPTY" || printed.is_empty());
                issues.extend(li);
                if !r.item_name.is_empty() {
                    printed = r.item_name;
                }
            }
        }
        prev_code = code.clone().or(prev_code);
        codes.push(code.unwrap_or_default());
        lines.push(LineInput {
            name: Some(printed),
            tax_code: codes.last().cloned(),
            ..line.clone()
        });
    }
    let invoice = InvoiceInput {
        price_includes_tax: form.price_includes_tax,
        invoice_type,
        lines,
        ..Default::default()
    };
    let computed = compute_invoice(&invoice);
    issues.errors.extend(computed.errors.iter().cloned());
    issues.warnings.extend(computed.warnings.iter().cloned());

    // Remark.
    let remark = clean_text(form.remark.as_deref().unwrap_or(""));
    let len = char_len(&remark);
    if len > REMARK_MAX {
        issues.push("remark", &RequestProblem::RemarkTooLong { len, max: REMARK_MAX });
    }
    if has_control(&remark) {
        issues.push("remark", &RequestProblem::RemarkControl);
    }

    // Special business data and the line constraints of its type.
    #[cfg(feature = "special-business")]
    let special_business = form
        .special_business
        .as_ref()
        .and_then(|sb| check_special_business(sb, &form.lines, &mut issues));
    // The npm package's light invoice part leaves the 特定业务 rules out (about 6 KB).
    #[cfg(not(feature = "special-business"))]
    let special_business: Option<SpecialBusiness> = {
        if form.special_business.is_some() {
            issues.push("specialBusiness", &RequestProblem::SpecialBusinessUnsupported);
        }
        None
    };

    let incl = form.price_includes_tax;
    finish(issues, &form.confirmed, || {
        let lines = invoice
            .lines
            .iter()
            .zip(computed.lines.iter())
            .zip(codes)
            .map(|((input, result), tax_code)| {
                let r = result.as_ref()?;
                let text = |v: &Option<String>| v.as_deref().map(clean_text).filter(|s| !s.is_empty());
                Some(RequestLine {
                    kind: r.kind,
                    name: input.name.clone().unwrap_or_default(),
                    tax_code,
                    spec: text(&input.spec),
                    unit: text(&input.unit),
                    quantity: r.quantity.map(format_plain),
                    unit_price: r.unit_price_in_basis(incl).map(format_plain),
                    amount: format_money(r.amount_in_basis(incl)),
                    tax_rate: format_plain(r.tax_rate),
                    preferential_policy: text(&input.preferential_policy),
                    zero_rate_flag: text(&input.zero_rate_flag),
                    deduction: r.deduction.map(format_money),
                    amount_excl_tax: format_money(r.amount_excl_tax),
                    tax_amount: format_money(r.tax_amount),
                    amount_incl_tax: format_money(r.amount_incl_tax),
                })
            })
            .collect::<Option<Vec<_>>>()?;
        let t = &computed.totals;
        Some(IssueRequest {
            schema_version: SCHEMA_VERSION,
            order_id,
            invoice_type,
            delivery: DeliveryOut {
                email: buyer.normalized.email.clone(),
                mobile: buyer.normalized.mobile.clone(),
            },
            buyer: buyer.normalized,
            confirmed: form.confirmed.clone(),
            price_includes_tax: incl,
            lines,
            totals: RequestTotals {
                amount_excl_tax: format_money(t.amount_excl_tax),
                tax_amount: format_money(t.tax_amount),
                amount_incl_tax: format_money(t.amount_incl_tax),
            },
            remark,
            special_business,
        })
    })
}

impl IssueRequest {
    /// The lines as the amount engine reads them (the blue invoice of a later red one).
    pub fn invoice_input(&self) -> InvoiceInput {
        InvoiceInput {
            price_includes_tax: self.price_includes_tax,
            invoice_type: self.invoice_type,
            lines: self
                .lines
                .iter()
                .map(|l| LineInput {
                    name: Some(l.name.clone()),
                    tax_code: Some(l.tax_code.clone()),
                    spec: l.spec.clone(),
                    unit: l.unit.clone(),
                    quantity: l.quantity.clone().map(Into::into),
                    unit_price: l.unit_price.clone().map(Into::into),
                    amount: Some(l.amount.clone().into()),
                    tax_amount: Some(l.tax_amount.clone().into()),
                    tax_rate: Some(l.tax_rate.clone().into()),
                    kind: Some(match l.kind {
                        LineKind::Normal => "normal".into(),
                        LineKind::Discount => "discount".into(),
                    }),
                    preferential_policy: l.preferential_policy.clone(),
                    zero_rate_flag: l.zero_rate_flag.clone(),
                    deduction: l.deduction.clone().map(Into::into),
                })
                .collect(),
            ..Default::default()
        }
    }
}

/// 红冲原因, in the numbering of the tax bureau's 确认单 (fa-piao `chyydm`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RedReason {
    /// 01 开票有误: full reversal only.
    #[serde(rename = "01")]
    IssuedInError,
    /// 02 销货退回.
    #[serde(rename = "02")]
    GoodsReturned,
    /// 03 服务中止.
    #[serde(rename = "03")]
    ServiceStopped,
    /// 04 销售折让.
    #[serde(rename = "04")]
    SalesAllowance,
}

impl RedReason {
    /// Reads `"01"`–`"04"`, `"1"`–`"4"` or the Chinese name.
    ///
    /// ```
    /// use fapiao::request::RedReason;
    /// assert_eq!(RedReason::parse("销货退回"), Some(RedReason::GoodsReturned));
    /// assert_eq!(RedReason::parse("01").unwrap().nuonuo(), "2");
    /// ```
    pub fn parse(s: &str) -> Option<RedReason> {
        Some(match s.trim() {
            "01" | "1" | "开票有误" => RedReason::IssuedInError,
            "02" | "2" | "销货退回" | "销售退回" => RedReason::GoodsReturned,
            "03" | "3" | "服务中止" => RedReason::ServiceStopped,
            "04" | "4" | "销售折让" => RedReason::SalesAllowance,
            _ => return None,
        })
    }

    /// The two-digit code.
    pub fn code(self) -> &'static str {
        match self {
            RedReason::IssuedInError => "01",
            RedReason::GoodsReturned => "02",
            RedReason::ServiceStopped => "03",
            RedReason::SalesAllowance => "04",
        }
    }

    /// The Chinese name.
    pub fn name_zh(self) -> &'static str {
        match self {
            RedReason::IssuedInError => "开票有误",
            RedReason::GoodsReturned => "销货退回",
            RedReason::ServiceStopped => "服务中止",
            RedReason::SalesAllowance => "销售折让",
        }
    }

    /// 诺诺 `redReason`: 1 销货退回, 2 开票有误, 3 服务中止, 4 销售折让.
    pub fn nuonuo(self) -> &'static str {
        match self {
            RedReason::IssuedInError => "2",
            RedReason::GoodsReturned => "1",
            RedReason::ServiceStopped => "3",
            RedReason::SalesAllowance => "4",
        }
    }
}

/// A red-letter request as a page (or the merchant's back office) collects it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RedForm {
    /// Must be [`SCHEMA_VERSION`] when present.
    pub schema_version: Option<SchemaVersionInput>,
    /// The order number of the red invoice itself (one red invoice per such number).
    pub order_id: Option<String>,
    /// The order number of the blue invoice.
    pub blue_order_id: Option<String>,
    /// The blue invoice's 20-digit number.
    pub blue_invoice_number: Option<String>,
    /// `"01"`–`"04"` or 开票有误 / 销货退回 / 服务中止 / 销售折让.
    pub reason: Option<String>,
    /// Reverse everything that remains.
    pub full: bool,
    /// Or these lines, by quantity or amount.
    pub lines: Vec<RedLineInput>,
    /// The blue invoice's lines, when known (the proxy supplies the stored ones);
    /// without them only the shape of the request is checked.
    pub blue: Option<InvoiceInput>,
    /// Lines reversed by earlier red invoices of the same blue invoice.
    pub already_reversed: Vec<ReversedLine>,
}

/// The canonical red-letter request (schema `docs/schema/red-request.v1.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RedRequest {
    /// Always [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The red invoice's order number.
    pub order_id: String,
    /// The blue invoice's order number.
    pub blue_order_id: String,
    /// The blue invoice's 20-digit number.
    pub blue_invoice_number: String,
    /// `"01"`–`"04"`.
    pub reason: RedReason,
    /// Whether everything that remained is reversed.
    pub full: bool,
    /// The lines to reverse (empty for a full reversal).
    pub lines: Vec<RedLineInput>,
    /// The red totals (negative), when the blue invoice was known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub totals: Option<RequestTotals>,
}

/// Builds the canonical red-letter request. With the blue invoice's lines in
/// `form.blue` the red amounts are computed ([`compute_red`]: 开票有误 only in full,
/// nothing beyond what remains); without them only the shape is checked.
///
/// ```
/// use fapiao::request::{build_red_request, RedForm};
/// let r = build_red_request(&RedForm {
///     order_id: Some("R-0001".into()),
///     blue_order_id: Some("A-0001".into()),
///     blue_invoice_number: Some("26442000000123456789".into()),
///     reason: Some("开票有误".into()),
///     full: true,
///     ..Default::default()
/// });
/// assert!(r.valid, "{:?}", r.errors);
/// assert_eq!(r.request.unwrap().reason.code(), "01");
/// ```
pub fn build_red_request(form: &RedForm) -> BuildResult<RedRequest> {
    let mut issues = Issues::default();
    check_schema_version(&form.schema_version, &mut issues);
    let order_id = check_order_id("orderId", form.order_id.as_deref(), &mut issues);
    let blue_order_id = check_order_id("blueOrderId", form.blue_order_id.as_deref(), &mut issues);
    if !order_id.is_empty() && order_id == blue_order_id {
        issues.push("orderId", &RequestProblem::RedOrderIdSame);
    }
    let number: String = form
        .blue_invoice_number
        .as_deref()
        .unwrap_or("")
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    if number.is_empty() {
        issues.push("blueInvoiceNumber", &RequestProblem::BlueNumberRequired);
    } else if number.len() != 20 || !number.bytes().all(|b| b.is_ascii_digit()) {
        issues.push(
            "blueInvoiceNumber",
            &RequestProblem::BlueNumberFormat {
                found: number.chars().take(40).collect(),
            },
        );
    }
    let reason = RedReason::parse(form.reason.as_deref().unwrap_or(""));
    if reason.is_none() {
        issues.push(
            "reason",
            &RequestProblem::RedReasonInvalid {
                found: form.reason.as_deref().unwrap_or("").chars().take(40).collect(),
            },
        );
    }
    // Either the whole invoice, or the lines to reverse: exactly one of the two.
    if form.full != form.lines.is_empty() {
        issues.push("lines", &RequestProblem::RedScope);
    }
    let mut totals = None;
    if let (Some(blue), Some(r)) = (&form.blue, reason) {
        let red = compute_red(&RedInput {
            blue: blue.clone(),
            reason: Some(r.code().into()),
            lines: form.lines.clone(),
            already_reversed: form.already_reversed.clone(),
        });
        issues.errors.extend(red.errors);
        issues.warnings.extend(red.warnings);
        totals = Some(RequestTotals {
            amount_excl_tax: format_money(red.totals.amount_excl_tax),
            tax_amount: format_money(red.totals.tax_amount),
            amount_incl_tax: format_money(red.totals.amount_incl_tax),
        });
    }
    finish(issues, &[], || {
        Some(RedRequest {
            schema_version: SCHEMA_VERSION,
            order_id,
            blue_order_id,
            blue_invoice_number: number,
            reason: reason?,
            full: form.full,
            lines: form.lines.clone(),
            totals,
        })
    })
}

#[cfg(test)]
mod tests;
