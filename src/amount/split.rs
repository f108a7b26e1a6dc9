//! 拆分开票: an order too large for one invoice becomes several valid invoices.
//!
//! Lines keep their order and each discount line stays with its line. Lines go
//! into the current invoice while it stays within the limits (line count and/or
//! amount) and start the next one otherwise. A line whose own net amount exceeds
//! the amount limit is cut into pieces: whole units when the quantity is a whole
//! number, and cumulative rounding everywhere (piece *j* gets
//! `round(total × cumulative share) − what the earlier pieces got`), with the
//! line's own tax and discount shared the same way. So the parts add up to the
//! order to the cent in 金额, 税额 and 价税合计 — nothing lost, nothing invented — and
//! every part is computed and checked again before it is returned.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::issue::Issues;
use crate::Issue;

use super::line::tax_of;
use super::money::{format_money, format_plain, parse, DecimalInput};
use super::problem::AmountProblem;
use super::rounding::mul_div_round;
use super::{
    compute_invoice, InvoiceInput, InvoiceResult, LineInput, LineKind, Totals, DEFAULT_DECIMALS, MAX_LINES,
    MONEY_INT_DIGITS,
};

/// The most invoices one order may be split into.
pub const MAX_PARTS: usize = 10_000;

/// Per-invoice limits.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SplitLimits {
    /// The largest amount per invoice (金额, or 价税合计 with `amount_includes_tax`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_amount: Option<DecimalInput>,
    /// Whether `max_amount` limits 价税合计 rather than 金额 (the legacy 单张限额 is 不含税).
    pub amount_includes_tax: bool,
    /// The most lines per invoice, discount lines included; [`MAX_LINES`] when missing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_lines: Option<usize>,
}

/// One invoice of a split order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SplitPart {
    /// The invoice to issue.
    pub input: InvoiceInput,
    /// Its computed lines and totals (valid).
    pub result: InvoiceResult,
    /// For each of its lines, the index of the order line it comes from.
    pub source_lines: Vec<usize>,
}

/// The outcome of [`split_invoice`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SplitResult {
    /// True when the order was split (or fits as it is) into valid invoices.
    pub valid: bool,
    /// Problems that block issuing.
    pub errors: Vec<Issue>,
    /// Problems that do not.
    pub warnings: Vec<Issue>,
    /// The invoices, in order; empty when not valid.
    pub parts: Vec<SplitPart>,
    /// The order's totals, which the parts add up to.
    pub totals: Totals,
}

struct Unit {
    lines: Vec<(LineInput, usize)>,
    measure: Decimal,
}

/// Splits an order into invoices within the limits.
///
/// ```
/// use fapiao::amount::{split_invoice, InvoiceInput, LineInput, SplitLimits};
///
/// let input = InvoiceInput {
///     lines: vec![LineInput {
///         name: Some("*计算机*笔记本电脑".into()),
///         quantity: Some("25".into()),
///         unit_price: Some("8000".into()),
///         tax_rate: Some("0.13".into()),
///         ..Default::default()
///     }],
///     ..Default::default()
/// };
/// let limits = SplitLimits { max_amount: Some("100000".into()), ..Default::default() };
/// let r = split_invoice(&input, &limits);
/// assert!(r.valid, "{:?}", r.errors);
/// assert_eq!(r.parts.len(), 3); // 200 000: 12, 12 and 1 computers (12 × 8 000 = 96 000 fit)
/// assert_eq!(r.parts[0].input.lines[0].quantity, Some("12".into()));
/// let tax: rust_decimal::Decimal = r.parts.iter().map(|p| p.result.totals.tax_amount).sum();
/// assert_eq!(tax, r.totals.tax_amount);
/// ```
pub fn split_invoice(input: &InvoiceInput, limits: &SplitLimits) -> SplitResult {
    let whole = compute_invoice(input);
    let mut issues = Issues::default();
    let done = |issues: Issues, parts: Vec<SplitPart>, totals: Totals| SplitResult {
        valid: issues.is_ok(),
        errors: issues.errors,
        warnings: issues.warnings,
        parts,
        totals,
    };
    if !whole.valid {
        issues.errors = whole.errors.clone();
        return done(issues, Vec::new(), whole.totals);
    }
    if input.red || whole.lines.iter().flatten().any(|l| l.deduction.is_some()) {
        issues.push("lines", &AmountProblem::SplitUnsupported);
        return done(issues, Vec::new(), whole.totals);
    }
    let has_discount = whole.lines.iter().flatten().any(|l| l.kind == LineKind::Discount);
    let max_lines = limits.max_lines.unwrap_or(MAX_LINES).min(MAX_LINES);
    if max_lines == 0 || (max_lines == 1 && has_discount) {
        issues.push(
            "maxLines",
            &AmountProblem::SplitLimit {
                reason: "an invoice must hold at least one line and its discount line.",
                reason_zh: "每张发票至少要能容纳一行及其折扣行。",
            },
        );
    }
    let max_amount = match limits.max_amount.as_ref().map(|m| parse(m, MONEY_INT_DIGITS, 2, false)) {
        None | Some(Ok(None)) => None,
        Some(Ok(Some(m))) if m > Decimal::ZERO => Some(m),
        _ => {
            issues.push(
                "maxAmount",
                &AmountProblem::SplitLimit {
                    reason: "the amount limit must be a positive amount with at most two decimals.",
                    reason_zh: "金额限额应为正数，最多两位小数。",
                },
            );
            None
        }
    };
    if !issues.is_ok() {
        return done(issues, Vec::new(), whole.totals);
    }

    // Groups: a normal line and its discount line; cut those above the amount limit.
    let limit_incl = limits.amount_includes_tax;
    let mut units: Vec<Unit> = Vec::new();
    let mut i = 0;
    while i < input.lines.len() {
        let next_is_discount = whole
            .lines
            .get(i + 1)
            .and_then(|l| l.as_ref())
            .is_some_and(|l| l.kind == LineKind::Discount);
        let idx: Vec<usize> = if next_is_discount { vec![i, i + 1] } else { vec![i] };
        let measure: Decimal = idx
            .iter()
            .filter_map(|&j| whole.lines[j].as_ref())
            .map(|l| l.amount_in_basis(limit_incl))
            .sum();
        match max_amount {
            Some(max) if measure > max => match cut(input, &whole, &idx, max, limit_incl) {
                Ok(mut pieces) => units.append(&mut pieces),
                Err(p) => {
                    issues.push(&format!("lines[{i}]"), &p);
                    return done(issues, Vec::new(), whole.totals);
                }
            },
            _ => units.push(Unit {
                lines: idx.iter().map(|&j| (input.lines[j].clone(), j)).collect(),
                measure,
            }),
        }
        i += idx.len();
    }

    // Pack in order.
    let mut packs: Vec<(Vec<(LineInput, usize)>, Decimal)> = Vec::new();
    for unit in units {
        let fits = packs.last().is_some_and(|(lines, amount)| {
            lines.len() + unit.lines.len() <= max_lines && max_amount.is_none_or_ge(*amount + unit.measure)
        });
        if fits {
            if let Some(last) = packs.last_mut() {
                last.0.extend(unit.lines);
                last.1 += unit.measure;
            }
        } else {
            packs.push((unit.lines, unit.measure));
        }
        if packs.len() > MAX_PARTS {
            issues.push(
                "maxAmount",
                &AmountProblem::SplitLimit {
                    reason: "the order would need more than 10 000 invoices.",
                    reason_zh: "订单需要拆分为超过10000张发票。",
                },
            );
            return done(issues, Vec::new(), whole.totals);
        }
    }

    // Compute and check every part, and that they add up.
    let mut parts = Vec::with_capacity(packs.len());
    let mut sum = Totals::default();
    for (lines, _) in packs {
        let source_lines = lines.iter().map(|(_, j)| *j).collect();
        let part_input = input.with_lines(lines.into_iter().map(|(l, _)| l).collect());
        let result = compute_invoice(&part_input);
        if let Some(e) = result.errors.first() {
            issues.push("lines", &AmountProblem::SplitFailed { code: e.code });
            return done(issues, Vec::new(), whole.totals);
        }
        sum.amount_excl_tax += result.totals.amount_excl_tax;
        sum.tax_amount += result.totals.tax_amount;
        sum.amount_incl_tax += result.totals.amount_incl_tax;
        parts.push(SplitPart {
            input: part_input,
            result,
            source_lines,
        });
    }
    if (sum.amount_excl_tax, sum.tax_amount, sum.amount_incl_tax)
        != (
            whole.totals.amount_excl_tax,
            whole.totals.tax_amount,
            whole.totals.amount_incl_tax,
        )
    {
        issues.push(
            "lines",
            &AmountProblem::SplitFailed {
                code: "SPLIT_SUM_MISMATCH",
            },
        );
        return done(issues, Vec::new(), whole.totals);
    }
    done(issues, parts, whole.totals)
}

trait LimitExt {
    fn is_none_or_ge(&self, v: Decimal) -> bool;
}

impl LimitExt for Option<Decimal> {
    fn is_none_or_ge(&self, v: Decimal) -> bool {
        self.is_none_or(|m| v <= m)
    }
}

/// Cuts one line (and its discount line) into pieces each within `max`.
///
/// With a whole-number quantity, pieces are runs of whole units, as many per piece
/// as fit; otherwise the line is cut into `k` equal shares, `k` the fewest that fit.
fn cut(
    input: &InvoiceInput,
    whole: &InvoiceResult,
    idx: &[usize],
    max: Decimal,
    limit_incl: bool,
) -> Result<Vec<Unit>, AmountProblem> {
    let incl = input.price_includes_tax;
    let qty_dp = input.quantity_decimals.unwrap_or(DEFAULT_DECIMALS);
    let failed = || AmountProblem::SplitFailed { code: "SPLIT_CUT" };
    let too_many = || AmountProblem::SplitLimit {
        reason: "the order would need more than 10 000 invoices.",
        reason_zh: "订单需要拆分为超过10000张发票。",
    };
    let line = whole.lines[idx[0]].as_ref().ok_or_else(failed)?;
    let disc = idx.get(1).and_then(|&d| whole.lines[d].as_ref());
    let measure = line.amount_in_basis(limit_incl) + disc.map_or(Decimal::ZERO, |d| d.amount_in_basis(limit_incl));
    let cutter = Cutter {
        input,
        idx,
        line,
        disc,
        incl,
        max,
        limit_incl,
    };

    if let Some(q) = line.quantity.filter(|q| q.fract().is_zero()) {
        // Whole units: n per piece, the largest n whose pieces all fit.
        let unit = mul_div_round(measure, Decimal::ONE, q, 2).ok_or_else(failed)?;
        let mut n = mul_div_round(max, q, measure, 0).ok_or_else(failed)?.min(q);
        for _ in 0..64 {
            if n < Decimal::ONE {
                break;
            }
            let k = mul_div_round(q, Decimal::ONE, n, 0).ok_or_else(failed)?;
            let k = if k * n < q { k + Decimal::ONE } else { k };
            if k > Decimal::from(MAX_PARTS) {
                return Err(too_many());
            }
            let mut cum = Vec::new();
            let mut c = n;
            while c < q {
                cum.push(c);
                c += n;
            }
            cum.push(q);
            if let Some(pieces) = cutter.try_cumulative(&cum.into_iter().map(Some).collect::<Vec<_>>())? {
                return Ok(pieces);
            }
            n -= Decimal::ONE;
        }
        return Err(AmountProblem::SplitUnitTooLarge {
            unit_amount: format_money(unit),
        });
    }

    // Equal shares: the fewest k that fit.
    let k0 = mul_div_round(measure, Decimal::ONE, max, 0).ok_or_else(failed)?;
    let k0 = usize::try_from(k0.mantissa()).unwrap_or(usize::MAX).max(2);
    if k0 > MAX_PARTS {
        return Err(too_many());
    }
    for k in k0..k0.saturating_add(64).min(MAX_PARTS + 1) {
        let kd = Decimal::from(k);
        let cum: Vec<Option<Decimal>> = match line.quantity {
            Some(q) => (1..=k)
                .map(|j| {
                    if j == k {
                        Some(q)
                    } else {
                        mul_div_round(q, Decimal::from(j), kd, qty_dp)
                    }
                })
                .collect(),
            None => (1..=k).map(|j| Some(Decimal::from(j))).collect(),
        };
        if cum.iter().any(Option::is_none) {
            return Err(failed());
        }
        let cum = if line.quantity.is_some() {
            cum
        } else {
            cum.into_iter().map(|j| j.map(|j| -j)).collect()
        };
        if let Some(pieces) = cutter.try_cumulative(&cum)? {
            return Ok(pieces);
        }
    }
    Err(AmountProblem::SplitLimit {
        reason: "a line could not be cut into pieces within the limit.",
        reason_zh: "无法将该行拆分到限额以内。",
    })
}

struct Cutter<'a> {
    input: &'a InvoiceInput,
    idx: &'a [usize],
    line: &'a super::LineResult,
    disc: Option<&'a super::LineResult>,
    incl: bool,
    max: Decimal,
    limit_incl: bool,
}

impl Cutter<'_> {
    /// Builds the pieces for cumulative quantities (positive) or, for a line without
    /// quantity, cumulative shares `−j` of `k` (negative, `k` = their count). `None`
    /// when a piece does not fit the limit.
    fn try_cumulative(&self, cum: &[Option<Decimal>]) -> Result<Option<Vec<Unit>>, AmountProblem> {
        let failed = || AmountProblem::SplitFailed { code: "SPLIT_CUT" };
        let incl = self.incl;
        let (li, di) = (self.idx[0], self.idx.get(1).copied());
        let (a, t, r) = (
            self.line.amount_in_basis(incl),
            self.line.tax_amount,
            self.line.tax_rate,
        );
        let (ad, td) = self.disc.map_or((Decimal::ZERO, Decimal::ZERO), |d| {
            (d.amount_in_basis(incl), d.tax_amount)
        });
        let q = self.line.quantity;
        let p = self.line.unit_price_in_basis(incl);
        let k = cum.len();
        let kd = Decimal::from(k);
        let zero = Decimal::ZERO;
        let (mut q_prev, mut a_prev, mut t_prev, mut ad_prev, mut td_prev) = (zero, zero, zero, zero, zero);
        let mut pieces = Vec::with_capacity(k);
        for (j, c) in cum.iter().enumerate() {
            let last = j + 1 == k;
            let c = c.ok_or_else(failed)?;
            // Cumulative amount: by quantity × price, or by share of the amount.
            let (qj, aj) = match (q, p) {
                _ if last => (q, a),
                (Some(_), Some(p)) => (Some(c), mul_div_round(c, p, Decimal::ONE, 2).ok_or_else(failed)?),
                (Some(q), None) => (Some(c), mul_div_round(a, c, q, 2).ok_or_else(failed)?),
                (None, _) => (None, mul_div_round(a, -c, kd, 2).ok_or_else(failed)?),
            };
            let tj = if last {
                t
            } else {
                tax_of(aj, r, incl).ok_or_else(failed)?
            };
            let adj = if last {
                ad
            } else {
                mul_div_round(ad, aj, a, 2).ok_or_else(failed)?
            };
            let tdj = if last {
                td
            } else {
                tax_of(adj, r, incl).ok_or_else(failed)?
            };

            let mut l = self.input.lines[li].clone();
            if let Some(qj) = qj {
                l.quantity = Some(DecimalInput::Text(format_plain(qj - q_prev)));
            }
            l.amount = Some(DecimalInput::Text(format_money(aj - a_prev)));
            l.tax_amount = Some(DecimalInput::Text(format_money(tj - t_prev)));
            let mut lines = vec![(l, li)];
            if let Some(di) = di {
                if !(adj - ad_prev).is_zero() {
                    let mut d = self.input.lines[di].clone();
                    d.quantity = None;
                    d.unit_price = None;
                    d.amount = Some(DecimalInput::Text(format_money(adj - ad_prev)));
                    d.tax_amount = Some(DecimalInput::Text(format_money(tdj - td_prev)));
                    lines.push((d, di));
                }
            }
            let probe = self.input.with_lines(lines.iter().map(|(l, _)| l.clone()).collect());
            let computed = compute_invoice(&probe);
            let m = if self.limit_incl {
                computed.totals.amount_incl_tax
            } else {
                computed.totals.amount_excl_tax
            };
            if m > self.max || !computed.valid {
                return Ok(None);
            }
            pieces.push(Unit { lines, measure: m });
            (q_prev, a_prev, t_prev, ad_prev, td_prev) = (qj.unwrap_or_default(), aj, tj, adj, tdj);
        }
        Ok(Some(pieces))
    }
}
