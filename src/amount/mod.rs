//! 金额计算 (invoice arithmetic): lines, 价税分离, discounts, 差额征税, red invoices,
//! totals in 大写 and splitting, all in exact decimals.
//!
//! How a line is computed (rules.md §4.1–§4.5):
//!
//! - Any two of 数量 (quantity), 单价 (unit price) and 金额 (amount) give the third;
//!   an amount alone is a line without quantity and unit price. A derived amount is
//!   `round(数量 × 单价, 2)`; a derived unit price or quantity is rounded to
//!   [`DEFAULT_DECIMALS`] places (configurable up to [`MAX_DECIMALS`]).
//! - The amount is in the basis of [`InvoiceInput::price_includes_tax`]. Tax-exclusive:
//!   `税额 = round(金额 × 税率, 2)`, `含税金额 = 金额 + 税额`. Tax-inclusive (价税分离):
//!   `税额 = round(含税金额 ÷ (1 + 税率) × 税率, 2)`, `金额 = 含税金额 − 税额`, so
//!   金额 + 税额 = 含税金额 on every line, exactly.
//! - 差额征税: `税额 = round((含税金额 − 扣除额) ÷ (1 + 税率) × 税率, 2)` (tax-exclusive:
//!   `round((金额 − 扣除额) × 税率, 2)`); one line per invoice.
//! - The other basis's unit price is that basis's amount ÷ quantity, rounded, so both
//!   unit prices pass `|单价 × 数量 − 金额| ≤ 0.01`.
//! - Totals are sums of the rounded lines; 价税合计 = Σ金额 + Σ税额.
//!
//! All rounding is half-up on exact decimals ([`rounding`]); no float is involved.
//!
//! ```
//! use fapiao::amount::{compute_invoice, InvoiceInput, LineInput};
//!
//! let input = InvoiceInput {
//!     price_includes_tax: true,
//!     lines: vec![LineInput {
//!         name: Some("*信息技术服务*接口服务费".into()),
//!         amount: Some("113.00".into()),
//!         tax_rate: Some("0.13".into()),
//!         ..Default::default()
//!     }],
//!     ..Default::default()
//! };
//! let r = compute_invoice(&input);
//! assert!(r.valid, "{:?}", r.errors);
//! let line = r.lines[0].as_ref().unwrap();
//! assert_eq!(line.tax_amount.to_string(), "13.00");
//! assert_eq!(line.amount_excl_tax.to_string(), "100.00");
//! assert_eq!(r.totals.amount_incl_tax_in_words.as_deref(), Some("壹佰壹拾叁元整"));
//! ```

mod discount;
mod line;
pub mod money;
mod problem;
pub mod rate;
mod red;
pub mod rounding;
mod split;
mod words;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::buyer::InvoiceType;
use crate::issue::Issues;
use crate::Issue;

pub use discount::{apply_order_discount, spread_discount, OrderDiscountResult};
#[cfg_attr(not(all(target_arch = "wasm32", feature = "invoice")), allow(unused_imports))]
pub(crate) use line::LineRef;
pub use money::DecimalInput;
#[cfg_attr(not(all(target_arch = "wasm32", feature = "invoice")), allow(unused_imports))]
pub(crate) use money::DecimalRef;
pub use problem::{AmountProblem, NumberKind, SignContext};
pub use red::{compute_red, RedInput, RedLine, RedLineInput, RedResult, Remaining, ReversedLine};
pub use split::{split_invoice, SplitLimits, SplitPart, SplitResult};
pub use words::{amount_in_words, decimal_in_words, WordsError, WordsOptions, WordsStyle};

/// Lines per invoice, discount lines included (诺诺/诺税通, rules.md §6).
pub const MAX_LINES: usize = 2000;
/// Decimals of 单价 and 数量 unless configured (诺诺, legacy providers: 8).
pub const DEFAULT_DECIMALS: u32 = 8;
/// The most decimals of 单价 and 数量 any channel accepts (百望 乐企: 13).
pub const MAX_DECIMALS: u32 = 13;
/// Integer digits of 金额, 税额 and 价税合计 (a 16-character field: 13 + `.` + 2).
pub const MONEY_INT_DIGITS: usize = 13;
/// Integer digits of 单价 and 数量 (百望 乐企: 12).
pub const UNIT_INT_DIGITS: usize = 12;

/// An invoice's lines and how to read them; every field may be missing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct InvoiceInput {
    /// Whether unit prices and amounts include VAT (含税).
    pub price_includes_tax: bool,
    /// 数电专票 or 数电普票 (专票 cannot carry 0%); 普票 when missing.
    pub invoice_type: InvoiceType,
    /// A red (negative) invoice: negative amounts and quantities, normal lines only.
    pub red: bool,
    /// Decimals of unit prices, [`DEFAULT_DECIMALS`] when missing, at most [`MAX_DECIMALS`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub price_decimals: Option<u32>,
    /// Decimals of quantities, [`DEFAULT_DECIMALS`] when missing, at most [`MAX_DECIMALS`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quantity_decimals: Option<u32>,
    /// How `totals.amountInclTaxInWords` is written.
    pub words_style: WordsStyle,
    /// The lines, in invoice order.
    pub lines: Vec<LineInput>,
}

/// One line as entered.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct LineInput {
    /// 项目名称.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// 税收分类编码 (19 digits); carried, not checked here.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tax_code: Option<String>,
    /// 规格型号.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spec: Option<String>,
    /// 单位.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    /// 数量.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quantity: Option<DecimalInput>,
    /// 单价, in the basis of `priceIncludesTax`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit_price: Option<DecimalInput>,
    /// The line total, in the basis of `priceIncludesTax`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amount: Option<DecimalInput>,
    /// 税额, when already known (checked against amount × rate within 0.06).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tax_amount: Option<DecimalInput>,
    /// 税率 as a fraction (`"0.13"`) or a percentage (`"13%"`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tax_rate: Option<DecimalInput>,
    /// `"normal"` (default) or `"discount"` (折扣行).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// 优惠政策标识 `"01"`–`"18"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preferential_policy: Option<String>,
    /// 零税率标识 `"1"` 免税, `"2"` 不征税, `"3"` 普通零税率.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zero_rate_flag: Option<String>,
    /// 扣除额 for 差额征税 (tax-inclusive), only on a one-line invoice.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deduction: Option<DecimalInput>,
}

/// 发票行性质: a normal line or a discount line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LineKind {
    /// 正常行 (or 被折扣行 when a discount line follows).
    #[default]
    Normal,
    /// 折扣行.
    Discount,
}

/// One computed line. Money has exactly two decimals.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LineResult {
    /// Normal or discount.
    pub kind: LineKind,
    /// 数量, given or derived; absent for an amount-only line.
    #[serde(serialize_with = "money::ser_opt_plain")]
    pub quantity: Option<Decimal>,
    /// 不含税单价.
    #[serde(serialize_with = "money::ser_opt_plain")]
    pub unit_price_excl_tax: Option<Decimal>,
    /// 含税单价.
    #[serde(serialize_with = "money::ser_opt_plain")]
    pub unit_price_incl_tax: Option<Decimal>,
    /// 金额 (不含税).
    #[serde(serialize_with = "money::ser_money")]
    pub amount_excl_tax: Decimal,
    /// 税额.
    #[serde(serialize_with = "money::ser_money")]
    pub tax_amount: Decimal,
    /// 含税金额 = 金额 + 税额.
    #[serde(serialize_with = "money::ser_money")]
    pub amount_incl_tax: Decimal,
    /// 税率 as a fraction (`"0.13"`).
    #[serde(serialize_with = "money::ser_plain")]
    pub tax_rate: Decimal,
    /// 扣除额 of a 差额征税 line.
    #[serde(serialize_with = "money::ser_opt_money", skip_serializing_if = "Option::is_none")]
    pub deduction: Option<Decimal>,
}

/// Sums of the rounded lines.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Totals {
    /// 合计金额.
    #[serde(serialize_with = "money::ser_money")]
    pub amount_excl_tax: Decimal,
    /// 合计税额.
    #[serde(serialize_with = "money::ser_money")]
    pub tax_amount: Decimal,
    /// 价税合计.
    #[serde(serialize_with = "money::ser_money")]
    pub amount_incl_tax: Decimal,
    /// 价税合计（大写）; `None` for a negative total (red invoices), which the platform renders.
    pub amount_incl_tax_in_words: Option<String>,
}

/// The outcome of [`compute_invoice`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InvoiceResult {
    /// True when there are no errors.
    pub valid: bool,
    /// Problems that block issuing.
    pub errors: Vec<Issue>,
    /// Problems that do not.
    pub warnings: Vec<Issue>,
    /// One entry per input line, `None` where the line's numbers could not be read.
    pub lines: Vec<Option<LineResult>>,
    /// Sums of the lines that could be computed.
    pub totals: Totals,
}

/// Computes every line and the totals of an invoice and checks all amount rules.
/// Never panics; problems come back as issues.
///
/// ```
/// use fapiao::amount::{compute_invoice, InvoiceInput, LineInput};
///
/// let line = |q: &str, p: &str| LineInput {
///     name: Some("*办公用品*签字笔".into()),
///     quantity: Some(q.into()),
///     unit_price: Some(p.into()),
///     tax_rate: Some("13%".into()),
///     ..Default::default()
/// };
/// let r = compute_invoice(&InvoiceInput { lines: vec![line("3", "3.33333333")], ..Default::default() });
/// assert!(r.valid);
/// let l = r.lines[0].as_ref().unwrap();
/// assert_eq!((l.amount_excl_tax.to_string(), l.tax_amount.to_string()), ("10.00".into(), "1.30".into()));
///
/// let bad = compute_invoice(&InvoiceInput { lines: vec![line("3", "abc")], ..Default::default() });
/// assert_eq!(bad.errors[0].code, "UNIT_PRICE_FORMAT");
/// assert_eq!(bad.errors[0].field, "lines[0].unitPrice");
/// ```
pub fn compute_invoice(input: &InvoiceInput) -> InvoiceResult {
    let lines: Vec<line::LineRef<'_>> = input.lines.iter().map(LineInput::as_ref).collect();
    compute_lines(input, &lines)
}

/// [`compute_invoice`] of `lines` (borrowed) with the options of `input` (whose
/// own lines are not read): the WebAssembly boundary reads the lines out of its
/// packed text without copying them.
pub(crate) fn compute_lines(input: &InvoiceInput, lines: &[line::LineRef<'_>]) -> InvoiceResult {
    let mut issues = Issues::default();
    let ctx = line::Ctx::new(input, &mut issues);
    let n = lines.len();
    if n == 0 {
        issues.push("lines", &AmountProblem::NoLines);
    } else if n > MAX_LINES {
        issues.push(
            "lines",
            &AmountProblem::TooManyLines {
                count: n,
                max: MAX_LINES,
            },
        );
    }
    let outcomes: Vec<line::Outcome> = lines
        .iter()
        .enumerate()
        .map(|(i, l)| line::compute_line(&ctx, i, l, &mut issues))
        .collect();
    line::check_structure(&ctx, &outcomes, &mut issues);

    let mut totals = Totals::default();
    let mut overflow = false;
    for r in outcomes.iter().filter_map(|o| o.result.as_ref()) {
        match (
            totals.amount_excl_tax.checked_add(r.amount_excl_tax),
            totals.tax_amount.checked_add(r.tax_amount),
            totals.amount_incl_tax.checked_add(r.amount_incl_tax),
        ) {
            (Some(a), Some(t), Some(i)) => {
                totals = Totals {
                    amount_excl_tax: a,
                    tax_amount: t,
                    amount_incl_tax: i,
                    amount_incl_tax_in_words: None,
                }
            }
            _ => overflow = true,
        }
    }
    let limit = Decimal::from(10u64.pow(MONEY_INT_DIGITS as u32));
    if overflow || totals.amount_incl_tax.abs() >= limit || totals.amount_excl_tax.abs() >= limit {
        issues.push("totals.amountInclTax", &AmountProblem::TotalTooLarge);
    }
    let all_computed = n > 0 && outcomes.iter().all(|o| o.result.is_some());
    if all_computed {
        if !input.red && totals.amount_incl_tax <= Decimal::ZERO {
            issues.push("totals.amountInclTax", &AmountProblem::TotalNotPositive);
        }
        if input.red && totals.amount_incl_tax >= Decimal::ZERO {
            issues.push("totals.amountInclTax", &AmountProblem::RedTotalNotNegative);
        }
    }
    totals.amount_incl_tax_in_words = decimal_in_words(totals.amount_incl_tax, input.words_style).ok();
    InvoiceResult {
        valid: issues.is_ok(),
        errors: issues.errors,
        warnings: issues.warnings,
        lines: outcomes.into_iter().map(|o| o.result).collect(),
        totals,
    }
}

impl InvoiceInput {
    /// The same invoice options with other lines (the lines are not cloned).
    pub fn with_lines(&self, lines: Vec<LineInput>) -> InvoiceInput {
        InvoiceInput {
            price_includes_tax: self.price_includes_tax,
            invoice_type: self.invoice_type,
            red: self.red,
            price_decimals: self.price_decimals,
            quantity_decimals: self.quantity_decimals,
            words_style: self.words_style,
            lines,
        }
    }
}

impl LineResult {
    /// The amount in the given basis: 含税金额 when `includes_tax`, else 金额.
    pub fn amount_in_basis(&self, includes_tax: bool) -> Decimal {
        if includes_tax {
            self.amount_incl_tax
        } else {
            self.amount_excl_tax
        }
    }

    /// The unit price in the given basis.
    pub fn unit_price_in_basis(&self, includes_tax: bool) -> Option<Decimal> {
        if includes_tax {
            self.unit_price_incl_tax
        } else {
            self.unit_price_excl_tax
        }
    }
}
