//! 红冲: a red invoice against the lines of a blue one, in full or in part
//! (rules.md §4.6, §8).
//!
//! A red invoice has normal lines only, so each blue line is reversed together with
//! its discount line (net amount and net tax). What a line may still lose is the
//! blue net less everything reversed before (`already_reversed`); a red line that
//! takes all that remains takes exactly the remaining tax too, so after the last
//! red invoice the blue line is zero to the cent. Partial reversal is by quantity
//! (销货退回: the amount is the remaining amount × returned ÷ remaining quantity) or by
//! amount (销售折让); reason 01 (开票有误) allows only a full reversal.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::issue::Issues;
use crate::Issue;

use super::line::{money2, read_number, tax_of, AMOUNT_TOLERANCE};
use super::money::{format_money, format_plain, DecimalInput};
use super::problem::{AmountProblem, NumberKind};
use super::rounding::{mul_div_round, product_within};
use super::{
    compute_invoice, InvoiceInput, LineInput, LineKind, LineResult, Totals, DEFAULT_DECIMALS, MONEY_INT_DIGITS,
    UNIT_INT_DIGITS,
};

/// What to reverse.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RedInput {
    /// The blue invoice as issued (its `red` flag is ignored).
    pub blue: InvoiceInput,
    /// 红冲原因: `"01"` 开票有误, `"02"` 销货退回, `"03"` 服务中止, `"04"` 销售折让 (fa-piao numbering).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The lines to reverse in part; empty for a full reversal of what remains.
    pub lines: Vec<RedLineInput>,
    /// Lines reversed by earlier red invoices against the same blue invoice.
    pub already_reversed: Vec<ReversedLine>,
}

/// One blue line to reverse in part.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RedLineInput {
    /// The blue line's number (1-based, discount lines counted, as printed).
    pub blue_line_no: usize,
    /// Quantity returned (either sign).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quantity: Option<DecimalInput>,
    /// Amount to reverse (either sign), in the blue invoice's basis.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amount: Option<DecimalInput>,
}

/// A blue line reversed before (values of the earlier red line, either sign).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ReversedLine {
    /// The blue line's number.
    pub blue_line_no: usize,
    /// 金额 reversed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amount_excl_tax: Option<DecimalInput>,
    /// 税额 reversed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tax_amount: Option<DecimalInput>,
    /// 数量 reversed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quantity: Option<DecimalInput>,
}

/// One line of the red invoice and the blue line it reverses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RedLine {
    /// The blue line's number.
    pub blue_line_no: usize,
    /// The computed red line (negative amounts and quantity).
    #[serde(flatten)]
    pub line: LineResult,
}

/// What remains of a blue line after this red invoice (positive).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Remaining {
    /// The blue line's number.
    pub blue_line_no: usize,
    /// 金额 left.
    #[serde(serialize_with = "super::money::ser_money")]
    pub amount_excl_tax: Decimal,
    /// 税额 left.
    #[serde(serialize_with = "super::money::ser_money")]
    pub tax_amount: Decimal,
    /// 含税金额 left.
    #[serde(serialize_with = "super::money::ser_money")]
    pub amount_incl_tax: Decimal,
    /// 数量 left, for lines with a quantity.
    #[serde(serialize_with = "super::money::ser_opt_plain")]
    pub quantity: Option<Decimal>,
}

/// The outcome of [`compute_red`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RedResult {
    /// True when there are no errors.
    pub valid: bool,
    /// Problems that block issuing.
    pub errors: Vec<Issue>,
    /// Problems that do not.
    pub warnings: Vec<Issue>,
    /// Whether this reverses everything that remained.
    pub full: bool,
    /// The red invoice to issue: `red: true`, amounts and tax given explicitly.
    pub invoice: InvoiceInput,
    /// Its lines.
    pub lines: Vec<RedLine>,
    /// Its totals (negative; no words: the platform renders red 大写).
    pub totals: Totals,
    /// Every blue normal line after this red invoice.
    pub remaining: Vec<Remaining>,
}

#[derive(Debug, Clone)]
struct Group {
    index: usize,
    has_discount: bool,
    excl: Decimal,
    tax: Decimal,
    quantity: Option<Decimal>,
    price: Option<Decimal>,
    rate: Decimal,
    deduction: Option<Decimal>,
}

/// Computes a red invoice against a blue one. Never panics.
///
/// ```
/// use fapiao::amount::{compute_red, InvoiceInput, LineInput, RedInput, RedLineInput};
///
/// let blue = InvoiceInput {
///     lines: vec![LineInput {
///         name: Some("*纸制品*打印纸".into()),
///         quantity: Some("10".into()),
///         unit_price: Some("25".into()),
///         tax_rate: Some("0.13".into()),
///         ..Default::default()
///     }],
///     ..Default::default()
/// };
/// // Three boxes come back (销货退回).
/// let r = compute_red(&RedInput {
///     blue: blue.clone(),
///     reason: Some("02".into()),
///     lines: vec![RedLineInput { blue_line_no: 1, quantity: Some("3".into()), amount: None }],
///     ..Default::default()
/// });
/// assert!(r.valid, "{:?}", r.errors);
/// assert_eq!(r.lines[0].line.amount_excl_tax.to_string(), "-75.00");
/// assert_eq!(r.lines[0].line.tax_amount.to_string(), "-9.75");
/// assert_eq!(r.remaining[0].amount_excl_tax.to_string(), "175.00");
///
/// // An invoice issued in error can only be reversed in full.
/// let full = compute_red(&RedInput { blue, reason: Some("01".into()), ..Default::default() });
/// assert!(full.valid && full.full);
/// assert_eq!(full.totals.amount_incl_tax.to_string(), "-282.50");
/// ```
pub fn compute_red(input: &RedInput) -> RedResult {
    let mut issues = Issues::default();
    let blue_input = InvoiceInput {
        red: false,
        ..input.blue.clone()
    };
    let incl = blue_input.price_includes_tax;
    let price_dp = blue_input.price_decimals.unwrap_or(DEFAULT_DECIMALS);
    let qty_dp = blue_input.quantity_decimals.unwrap_or(DEFAULT_DECIMALS);
    let empty = |issues: Issues| RedResult {
        valid: false,
        errors: issues.errors,
        warnings: issues.warnings,
        full: input.lines.is_empty(),
        invoice: InvoiceInput {
            red: true,
            ..blue_input.with_lines(Vec::new())
        },
        lines: Vec::new(),
        totals: Totals::default(),
        remaining: Vec::new(),
    };
    let blue = compute_invoice(&blue_input);
    if !blue.valid {
        let mut prefixed = Issues {
            errors: blue.errors,
            warnings: blue.warnings,
        }
        .prefixed("blue");
        prefixed.warnings.clear();
        return empty(prefixed);
    }

    // Net blue lines: each normal line with its discount line.
    let mut groups: Vec<Group> = Vec::new();
    for (i, r) in blue.lines.iter().enumerate() {
        let Some(r) = r else { continue };
        match r.kind {
            LineKind::Normal => groups.push(Group {
                index: i,
                has_discount: false,
                excl: r.amount_excl_tax,
                tax: r.tax_amount,
                quantity: r.quantity,
                price: r.unit_price_in_basis(incl),
                rate: r.tax_rate,
                deduction: r.deduction,
            }),
            LineKind::Discount => {
                if let Some(g) = groups.last_mut() {
                    g.has_discount = true;
                    g.excl += r.amount_excl_tax;
                    g.tax += r.tax_amount;
                }
            }
        }
    }
    let find = |no: usize| groups.iter().position(|g| no >= 1 && g.index == no - 1);
    let has_deduction = groups.iter().any(|g| g.deduction.is_some());

    // Subtract earlier red invoices.
    let mut rem: Vec<(Decimal, Decimal, Option<Decimal>)> =
        groups.iter().map(|g| (g.excl, g.tax, g.quantity)).collect();
    for (k, prev) in input.already_reversed.iter().enumerate() {
        let field = |name: &str| format!("alreadyReversed[{k}].{name}");
        let Some(gi) = find(prev.blue_line_no) else {
            issues.push(
                &field("blueLineNo"),
                &AmountProblem::RedLineUnknown {
                    line_no: prev.blue_line_no,
                },
            );
            continue;
        };
        if has_deduction {
            issues.push(&field("blueLineNo"), &AmountProblem::RedDeductionPartial);
            continue;
        }
        let excl = read_abs(
            &mut issues,
            &field("amountExclTax"),
            prev.amount_excl_tax.as_ref(),
            NumberKind::Amount,
            MONEY_INT_DIGITS,
            2,
        );
        let tax = read_abs(
            &mut issues,
            &field("taxAmount"),
            prev.tax_amount.as_ref(),
            NumberKind::Amount,
            MONEY_INT_DIGITS,
            2,
        );
        let qty = read_abs(
            &mut issues,
            &field("quantity"),
            prev.quantity.as_ref(),
            NumberKind::Quantity,
            UNIT_INT_DIGITS,
            qty_dp,
        );
        let (Ok(excl), Ok(tax), Ok(qty)) = (excl, tax, qty) else {
            continue;
        };
        let r = &mut rem[gi];
        r.0 -= excl.unwrap_or_default();
        r.1 -= tax.unwrap_or_default();
        if let (Some(rq), Some(q)) = (r.2.as_mut(), qty) {
            *rq -= q;
        }
        if r.0.is_sign_negative() && !r.0.is_zero()
            || r.1.is_sign_negative() && !r.1.is_zero()
            || r.2.is_some_and(|q| q < Decimal::ZERO)
        {
            issues.push(
                &field("amountExclTax"),
                &AmountProblem::RedExceedsRemaining {
                    remaining: "0.00".into(),
                },
            );
        }
    }

    match input.reason.as_deref().map(str::trim) {
        None | Some("") | Some("01" | "02" | "03" | "04") => {}
        Some(other) => issues.push(
            "reason",
            &AmountProblem::RedReasonInvalid {
                found: other.chars().take(10).collect(),
            },
        ),
    }
    let full = input.lines.is_empty();
    if !issues.is_ok() {
        return empty(issues);
    }

    // (group, 金额, 税额, 数量) to reverse, as positive figures.
    let mut take: Vec<(usize, Decimal, Decimal, Option<Decimal>)> = Vec::new();
    if full {
        for (gi, &(excl, tax, q)) in rem.iter().enumerate() {
            if !(excl.is_zero() && tax.is_zero() && q.is_none_or(|q| q.is_zero())) {
                take.push((gi, excl, tax, q.filter(|q| !q.is_zero())));
            }
        }
        if take.is_empty() {
            issues.push("lines", &AmountProblem::RedNothingLeft);
        }
    } else {
        if input.reason.as_deref().map(str::trim) == Some("01") {
            issues.push("reason", &AmountProblem::RedPartialReason);
        }
        if has_deduction {
            issues.push("lines", &AmountProblem::RedDeductionPartial);
        }
        let mut last: Option<usize> = None;
        for (k, line) in input.lines.iter().enumerate() {
            let field = |name: &str| format!("lines[{k}].{name}");
            let Some(gi) = find(line.blue_line_no) else {
                issues.push(
                    &field("blueLineNo"),
                    &AmountProblem::RedLineUnknown {
                        line_no: line.blue_line_no,
                    },
                );
                continue;
            };
            if last.is_some_and(|l| l >= gi) {
                issues.push(&field("blueLineNo"), &AmountProblem::RedLineOrder);
                continue;
            }
            last = Some(gi);
            let g = &groups[gi];
            let (r_excl, r_tax, r_q) = rem[gi];
            let r_basis = if incl { r_excl + r_tax } else { r_excl };
            let n = read_abs(
                &mut issues,
                &field("quantity"),
                line.quantity.as_ref(),
                NumberKind::Quantity,
                UNIT_INT_DIGITS,
                qty_dp,
            );
            let m = read_abs(
                &mut issues,
                &field("amount"),
                line.amount.as_ref(),
                NumberKind::Amount,
                MONEY_INT_DIGITS,
                2,
            );
            let (Ok(n), Ok(m)) = (n, m) else { continue };
            let n = n.filter(|n| !n.is_zero());
            let m = m.filter(|m| !m.is_zero());
            if n.is_none() && m.is_none() {
                issues.push(&field("amount"), &AmountProblem::RedLineEmpty);
                continue;
            }
            if let Some(n) = n {
                match r_q {
                    None => {
                        issues.push(
                            &field("quantity"),
                            &AmountProblem::RedQuantityNotApplicable {
                                line_no: line.blue_line_no,
                            },
                        );
                        continue;
                    }
                    Some(rq) if n > rq => {
                        issues.push(
                            &field("quantity"),
                            &AmountProblem::RedExceedsRemaining {
                                remaining: format_plain(rq),
                            },
                        );
                        continue;
                    }
                    _ => {}
                }
            }
            if m.is_some_and(|m| m > r_basis) {
                issues.push(
                    &field("amount"),
                    &AmountProblem::RedExceedsRemaining {
                        remaining: format_money(r_basis),
                    },
                );
                continue;
            }
            // The amount: given, or the remaining amount in proportion to the quantity.
            let m = match (m, n, r_q) {
                (Some(m), _, _) => m,
                (None, Some(n), Some(rq)) if n == rq => r_basis,
                (None, Some(n), Some(rq)) => match mul_div_round(r_basis, n, rq, 2) {
                    Some(m) => m,
                    None => continue,
                },
                _ => continue,
            };
            if m == r_basis {
                // Everything left: exact remaining tax, so the line ends at zero.
                take.push((gi, r_excl, r_tax, n.or(r_q).filter(|q| !q.is_zero())));
                continue;
            }
            let Some(tax) = tax_of(m, g.rate, incl) else {
                continue;
            };
            let mut tax = tax.min(r_tax);
            let mut excl = if incl { m - tax } else { m };
            if excl > r_excl {
                excl = r_excl;
                tax = m - excl;
            }
            take.push((gi, excl, tax, n));
        }
    }
    if !issues.is_ok() {
        return empty(issues);
    }

    // The red invoice.
    let mut lines = Vec::with_capacity(take.len());
    for &(gi, excl, tax, q) in &take {
        let g = &groups[gi];
        let src = &blue_input.lines[g.index];
        let basis = if incl { excl + tax } else { excl };
        let price = q.and_then(|q| match g.price {
            Some(p) if !g.has_discount && product_within(q, p, basis, AMOUNT_TOLERANCE) => Some(p),
            _ => mul_div_round(basis, Decimal::ONE, q, price_dp),
        });
        let neg = |v: Decimal| DecimalInput::Text(format_money(-v));
        lines.push(LineInput {
            name: src.name.clone(),
            tax_code: src.tax_code.clone(),
            spec: src.spec.clone(),
            unit: src.unit.clone(),
            quantity: q.map(|q| DecimalInput::Text(format_plain(-q))),
            unit_price: price.map(|p| DecimalInput::Text(format_plain(p))),
            amount: Some(neg(basis)),
            tax_amount: Some(neg(tax)),
            tax_rate: Some(DecimalInput::Text(format_plain(g.rate))),
            kind: None,
            preferential_policy: src.preferential_policy.clone(),
            zero_rate_flag: src.zero_rate_flag.clone(),
            deduction: if full { g.deduction.map(neg) } else { None },
        });
        let r = &mut rem[gi];
        r.0 -= excl;
        r.1 -= tax;
        if let (Some(rq), Some(q)) = (r.2.as_mut(), q) {
            *rq -= q;
        }
    }
    let invoice = InvoiceInput {
        red: true,
        ..blue_input.with_lines(lines)
    };
    let red = compute_invoice(&invoice);
    let red_lines = take
        .iter()
        .zip(red.lines.iter())
        .filter_map(|(&(gi, ..), l)| {
            l.clone().map(|line| RedLine {
                blue_line_no: groups[gi].index + 1,
                line,
            })
        })
        .collect();
    let remaining = groups
        .iter()
        .zip(rem.iter())
        .map(|(g, &(excl, tax, q))| Remaining {
            blue_line_no: g.index + 1,
            amount_excl_tax: money2(excl),
            tax_amount: money2(tax),
            amount_incl_tax: money2(excl + tax),
            quantity: q.map(|q| q.normalize()),
        })
        .collect();
    RedResult {
        valid: red.valid,
        errors: red.errors,
        warnings: red.warnings,
        full,
        invoice,
        lines: red_lines,
        totals: red.totals,
        remaining,
    }
}

/// A number of a red-letter line, as a magnitude (the sign is the red invoice's).
fn read_abs(
    issues: &mut Issues,
    field: &str,
    input: Option<&DecimalInput>,
    kind: NumberKind,
    max_int: usize,
    max_dp: u32,
) -> Result<Option<Decimal>, ()> {
    let v = read_number(
        issues,
        || field.to_owned(),
        input.map(DecimalInput::as_ref),
        kind,
        max_int,
        max_dp,
    )?;
    Ok(v.map(|v| v.abs()))
}
