//! 整单折扣: one order-level discount spread over the lines as discount lines.
//!
//! The discount is shared in proportion to each line's amount by the
//! largest-remainder method: every line first gets its share rounded down to the
//! cent, then the cents still missing go one each to the lines with the largest
//! remainders (the earlier line on a tie). The shares add up to the discount
//! exactly and no share exceeds its line.

use rust_decimal::Decimal;
use serde::Serialize;

use crate::issue::Issues;
use crate::Issue;

use super::line::money2;
use super::money::{format_money, parse, DecimalInput, ParseFailure};
use super::problem::{AmountProblem, NumberKind};
use super::{compute_invoice, InvoiceInput, InvoiceResult, LineInput, LineKind, MONEY_INT_DIGITS};

/// Spreads `discount` over `amounts` in proportion, to the cent (largest remainder).
///
/// Lines whose amount is zero or negative get nothing. Fails when the discount is
/// not positive, exceeds the sum of the positive amounts, or a figure has more than
/// two decimals.
///
/// ```
/// use fapiao::amount::spread_discount;
/// use rust_decimal::Decimal;
/// let d = |s: &str| s.parse::<Decimal>().unwrap();
/// // ¥10 off three equal lines: 3.34 + 3.33 + 3.33.
/// let shares = spread_discount(&[d("30"), d("30"), d("30")], d("10")).unwrap();
/// assert_eq!(shares, [d("3.34"), d("3.33"), d("3.33")]);
/// assert_eq!(shares.iter().sum::<Decimal>(), d("10"));
/// ```
pub fn spread_discount(amounts: &[Decimal], discount: Decimal) -> Result<Vec<Decimal>, AmountProblem> {
    let cents = |v: Decimal| -> Result<i128, AmountProblem> {
        let v = v.normalize();
        if v.scale() > 2 {
            return Err(AmountProblem::Precision {
                kind: NumberKind::Amount,
                max: 2,
            });
        }
        let mut c = v;
        c.rescale(2);
        let m = c.mantissa();
        if m.unsigned_abs() >= 10u128.pow(MONEY_INT_DIGITS as u32 + 2) {
            return Err(AmountProblem::TooLarge {
                kind: NumberKind::Amount,
                max_digits: MONEY_INT_DIGITS,
            });
        }
        Ok(m)
    };
    let weights: Vec<i128> = amounts
        .iter()
        .map(|&a| cents(a).map(|c| c.max(0)))
        .collect::<Result<_, _>>()?;
    let total: i128 = weights.iter().sum();
    let d = cents(discount)?;
    if d <= 0 || d > total {
        return Err(AmountProblem::SpreadDiscountRange {
            discount: format_money(discount),
            total: format_money(Decimal::try_from_i128_with_scale(total, 2).unwrap_or(Decimal::MAX)),
        });
    }
    // total ≤ 2000 × 10^15 here in practice; d × w < 10^32 fits i128 for any count
    // below 10^6 lines, and the checked ops guard the rest.
    let mut shares = Vec::with_capacity(weights.len());
    let mut remainders = Vec::with_capacity(weights.len());
    let mut given: i128 = 0;
    for (i, &w) in weights.iter().enumerate() {
        let num = d.checked_mul(w).ok_or(AmountProblem::TooLarge {
            kind: NumberKind::Amount,
            max_digits: MONEY_INT_DIGITS,
        })?;
        shares.push(num / total);
        remainders.push((num % total, i));
        given += num / total;
    }
    let missing = d - given; // < number of lines with a remainder
                             // Largest remainder first, then the earlier line (the crate's one sort).
    let mut order = crate::taxcode::indices(remainders.len());
    crate::taxcode::sort_indices(&mut order, &|a, b| {
        let (x, y): (&(i128, usize), &(i128, usize)) = (&remainders[a as usize], &remainders[b as usize]);
        y.0.cmp(&x.0).then(x.1.cmp(&y.1))
    });
    for &k in order.iter().take(missing as usize) {
        shares[remainders[k as usize].1] += 1;
    }
    Ok(shares
        .into_iter()
        .map(|c| money2(Decimal::from_i128_with_scale(c, 2)))
        .collect())
}

/// The outcome of [`apply_order_discount`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderDiscountResult {
    /// True when the discount could be applied and the result passes every check.
    pub valid: bool,
    /// Problems that block issuing.
    pub errors: Vec<Issue>,
    /// Problems that do not.
    pub warnings: Vec<Issue>,
    /// The invoice with its discount lines (the input unchanged when not valid).
    pub input: InvoiceInput,
    /// The computed invoice.
    pub result: InvoiceResult,
}

/// Applies an order-level discount (in the basis of `price_includes_tax`) as one
/// discount line after each line, spread with [`spread_discount`] over the lines'
/// amounts net of any discount line they already have (which then grows).
///
/// ```
/// use fapiao::amount::{apply_order_discount, InvoiceInput, LineInput};
///
/// let line = |name: &str, amount: &str| LineInput {
///     name: Some(name.into()), amount: Some(amount.into()), tax_rate: Some("0.13".into()),
///     ..Default::default()
/// };
/// let input = InvoiceInput {
///     price_includes_tax: true,
///     lines: vec![line("*餐饮服务*餐费", "60.00"), line("*酒*啤酒", "40.00")],
///     ..Default::default()
/// };
/// let r = apply_order_discount(&input, &"10.00".into());
/// assert!(r.valid, "{:?}", r.errors);
/// assert_eq!(r.input.lines.len(), 4);
/// assert_eq!(r.input.lines[1].amount, Some("-6.00".into()));
/// assert_eq!(r.result.totals.amount_incl_tax.to_string(), "90.00");
/// ```
pub fn apply_order_discount(input: &InvoiceInput, discount: &DecimalInput) -> OrderDiscountResult {
    let fail = |issues: Issues, result: InvoiceResult| OrderDiscountResult {
        valid: false,
        errors: issues.errors,
        warnings: issues.warnings,
        input: input.clone(),
        result,
    };
    let whole = compute_invoice(input);
    let mut issues = Issues::default();
    let discount = match parse(discount, MONEY_INT_DIGITS, 2, false) {
        Ok(Some(d)) => d,
        Ok(None) => Decimal::ZERO,
        Err(e) => {
            let problem = match e {
                ParseFailure::Precision => AmountProblem::Precision {
                    kind: NumberKind::Amount,
                    max: 2,
                },
                ParseFailure::TooLarge => AmountProblem::TooLarge {
                    kind: NumberKind::Amount,
                    max_digits: MONEY_INT_DIGITS,
                },
                ParseFailure::NonInteger => AmountProblem::NotAString {
                    kind: NumberKind::Amount,
                },
                ParseFailure::Format => AmountProblem::Format {
                    kind: NumberKind::Amount,
                    found: String::new(),
                },
            };
            issues.push("discount", &problem);
            return fail(issues, whole);
        }
    };
    if !whole.valid {
        issues.errors.extend(whole.errors.iter().cloned());
        return fail(issues, whole);
    }
    if input.red {
        issues.push("discount", &AmountProblem::RedDiscountLine);
        return fail(issues, whole);
    }
    // Groups: a normal line and the discount line after it, if any.
    let incl = input.price_includes_tax;
    let mut groups: Vec<(usize, Option<usize>, Decimal)> = Vec::new();
    for (i, r) in whole.lines.iter().enumerate() {
        let Some(r) = r else { continue };
        match r.kind {
            LineKind::Normal => groups.push((i, None, r.amount_in_basis(incl))),
            LineKind::Discount => {
                if let Some(g) = groups.last_mut() {
                    g.1 = Some(i);
                    g.2 += r.amount_in_basis(incl);
                }
            }
        }
    }
    let nets: Vec<Decimal> = groups.iter().map(|g| g.2).collect();
    let shares = match spread_discount(&nets, discount) {
        Ok(s) => s,
        Err(p) => {
            issues.push("discount", &p);
            return fail(issues, whole);
        }
    };
    let mut lines: Vec<LineInput> = Vec::with_capacity(input.lines.len() + groups.len());
    for (&(i, existing, _), share) in groups.iter().zip(shares) {
        lines.push(input.lines[i].clone());
        let old = existing
            .and_then(|j| whole.lines[j].as_ref())
            .map_or(Decimal::ZERO, |r| r.amount_in_basis(incl));
        let amount = money2(old - share);
        if amount.is_zero() {
            continue;
        }
        let src = &input.lines[i];
        let mut line = match existing {
            Some(j) => input.lines[j].clone(),
            None => LineInput {
                name: src.name.clone(),
                tax_code: src.tax_code.clone(),
                tax_rate: src.tax_rate.clone(),
                preferential_policy: src.preferential_policy.clone(),
                zero_rate_flag: src.zero_rate_flag.clone(),
                kind: Some("discount".into()),
                ..Default::default()
            },
        };
        line.amount = Some(DecimalInput::Text(format_money(amount)));
        line.quantity = None;
        line.unit_price = None;
        line.tax_amount = None;
        lines.push(line);
    }
    let out = input.with_lines(lines);
    let result = compute_invoice(&out);
    OrderDiscountResult {
        valid: result.valid,
        errors: result.errors.clone(),
        warnings: result.warnings.clone(),
        input: out,
        result,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::issue::Rule;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    #[test]
    fn largest_remainder_by_hand() {
        // 100 over 1/2/3 parts of 600: exact 16.666…, 33.333…, 50 → 16.67, 33.33, 50.00.
        let s = spread_discount(&[d("100"), d("200"), d("300")], d("100")).unwrap();
        assert_eq!(s, [d("16.67"), d("33.33"), d("50.00")]);
        // 0.05 over seven equal lines: five get a cent, ties go to the earlier lines.
        let s = spread_discount(&[d("1"); 7], d("0.05")).unwrap();
        assert_eq!(
            s,
            [d("0.01"), d("0.01"), d("0.01"), d("0.01"), d("0.01"), d("0"), d("0")]
        );
        // The whole amount: every line loses everything.
        let s = spread_discount(&[d("0.01"), d("99.99")], d("100")).unwrap();
        assert_eq!(s, [d("0.01"), d("99.99")]);
        // Non-positive lines get nothing.
        let s = spread_discount(&[d("-5"), d("10"), d("0")], d("1")).unwrap();
        assert_eq!(s, [d("0"), d("1"), d("0")]);
    }

    #[test]
    fn refusals() {
        assert_eq!(
            spread_discount(&[d("10")], d("10.01")).unwrap_err().code(),
            "DISCOUNT_SPREAD_RANGE"
        );
        assert_eq!(
            spread_discount(&[d("10")], d("0")).unwrap_err().code(),
            "DISCOUNT_SPREAD_RANGE"
        );
        assert_eq!(
            spread_discount(&[d("10")], d("0.001")).unwrap_err().code(),
            "AMOUNT_PRECISION"
        );
        assert_eq!(
            spread_discount(&[], d("1")).unwrap_err().code(),
            "DISCOUNT_SPREAD_RANGE"
        );
    }
}
