//! One line: reading its numbers, 价税分离, unit prices, signs and tolerances; then
//! the rules between lines (discount lines, 差额征税, 专票 and 0%).

use rust_decimal::Decimal;

use crate::buyer::InvoiceType;
use crate::issue::Issues;
use crate::text::clean_text_cow;

use super::money::{format_money, format_plain, parse_ref, DecimalInput, DecimalRef, ParseFailure, POW10};
use super::problem::{AmountProblem, NumberKind, SignContext};
use super::rounding::{mul_div_round, normalize, product_within};
use super::{
    rate, InvoiceInput, LineInput, LineKind, LineResult, DEFAULT_DECIMALS, MAX_DECIMALS, MONEY_INT_DIGITS,
    UNIT_INT_DIGITS,
};

/// |单价 × 数量 − 金额| allowed (provider code 9016).
pub(crate) const AMOUNT_TOLERANCE: Decimal = Decimal::from_parts(1, 0, 0, false, 2);
/// |金额 × 税率 − 税额| allowed (诺诺 E9131).
pub(crate) const TAX_TOLERANCE: Decimal = Decimal::from_parts(6, 0, 0, false, 2);

/// How the lines of one invoice are read.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ctx {
    pub incl: bool,
    pub red: bool,
    pub special: bool,
    pub price_dp: u32,
    pub qty_dp: u32,
}

impl Ctx {
    pub fn new(input: &InvoiceInput, issues: &mut Issues) -> Ctx {
        let mut dp = |v: Option<u32>, what: &'static str| match v {
            None => DEFAULT_DECIMALS,
            Some(d) if d <= MAX_DECIMALS => d,
            Some(_) => {
                issues.push(
                    what,
                    &AmountProblem::DecimalsOption {
                        what,
                        max: MAX_DECIMALS,
                    },
                );
                DEFAULT_DECIMALS
            }
        };
        Ctx {
            incl: input.price_includes_tax,
            red: input.red,
            special: input.invoice_type == InvoiceType::Special,
            price_dp: dp(input.price_decimals, "priceDecimals"),
            qty_dp: dp(input.quantity_decimals, "quantityDecimals"),
        }
    }
}

/// One line as the engine reads it: a [`LineInput`] borrowed, or the fields the
/// WebAssembly boundary read out of its packed text without copying them.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct LineRef<'a> {
    pub name: Option<&'a str>,
    pub quantity: Option<DecimalRef<'a>>,
    pub unit_price: Option<DecimalRef<'a>>,
    pub amount: Option<DecimalRef<'a>>,
    pub tax_amount: Option<DecimalRef<'a>>,
    pub tax_rate: Option<DecimalRef<'a>>,
    pub kind: Option<&'a str>,
    pub preferential_policy: Option<&'a str>,
    pub zero_rate_flag: Option<&'a str>,
    pub deduction: Option<DecimalRef<'a>>,
}

impl LineInput {
    /// The fields the engine reads, borrowed.
    pub(crate) fn as_ref(&self) -> LineRef<'_> {
        LineRef {
            name: self.name.as_deref(),
            quantity: self.quantity.as_ref().map(DecimalInput::as_ref),
            unit_price: self.unit_price.as_ref().map(DecimalInput::as_ref),
            amount: self.amount.as_ref().map(DecimalInput::as_ref),
            tax_amount: self.tax_amount.as_ref().map(DecimalInput::as_ref),
            tax_rate: self.tax_rate.as_ref().map(DecimalInput::as_ref),
            kind: self.kind.as_deref(),
            preferential_policy: self.preferential_policy.as_deref(),
            zero_rate_flag: self.zero_rate_flag.as_deref(),
            deduction: self.deduction.as_ref().map(DecimalInput::as_ref),
        }
    }
}

/// What the structure rules need to know about each line.
#[derive(Debug, Clone)]
pub(crate) struct Outcome<'a> {
    pub kind: LineKind,
    pub name: std::borrow::Cow<'a, str>,
    pub rate: Option<Decimal>,
    pub has_deduction: bool,
    pub result: Option<LineResult>,
}

/// Reads one number of line `i`; `Err(())` once the issue is recorded under
/// `lines[i].<name>`.
fn read(
    issues: &mut Issues,
    i: usize,
    name: &str,
    input: Option<DecimalRef<'_>>,
    kind: NumberKind,
    max_int: usize,
    max_dp: u32,
) -> Result<Option<Decimal>, ()> {
    let Some(input) = input else { return Ok(None) };
    match parse_ref(input, max_int, max_dp, false) {
        Ok(v) => Ok(v),
        Err(e) => {
            report_number(issues, || format!("lines[{i}].{name}"), input, e, kind, max_int, max_dp);
            Err(())
        }
    }
}

/// Reads one number; `Err(())` once the issue is recorded under the field that
/// `field` names (the path is only formatted when there is an issue).
pub(super) fn read_number(
    issues: &mut Issues,
    field: impl FnOnce() -> String,
    input: Option<DecimalRef<'_>>,
    kind: NumberKind,
    max_int: usize,
    max_dp: u32,
) -> Result<Option<Decimal>, ()> {
    let Some(input) = input else { return Ok(None) };
    match parse_ref(input, max_int, max_dp, false) {
        Ok(v) => Ok(v),
        Err(e) => {
            report_number(issues, field, input, e, kind, max_int, max_dp);
            Err(())
        }
    }
}

/// Records why a number could not be read (out of line: the rare path).
#[cold]
#[inline(never)]
fn report_number(
    issues: &mut Issues,
    field: impl FnOnce() -> String,
    input: DecimalRef<'_>,
    e: ParseFailure,
    kind: NumberKind,
    max_int: usize,
    max_dp: u32,
) {
    let problem = match e {
        ParseFailure::Format => AmountProblem::Format {
            kind,
            found: match input {
                DecimalRef::Text(t) => t.trim().chars().take(40).collect(),
                DecimalRef::Integer(i) => i.to_string(),
                DecimalRef::NonInteger => String::new(),
            },
        },
        ParseFailure::NonInteger => AmountProblem::NotAString { kind },
        ParseFailure::Precision => AmountProblem::Precision { kind, max: max_dp },
        ParseFailure::TooLarge => AmountProblem::TooLarge {
            kind,
            max_digits: max_int,
        },
    };
    issues.push(&field(), &problem);
}

/// Whether `|v| ≥ 10^int_digits`, from the mantissa: `|m| ≥ 10^(int_digits + scale)`.
fn too_large(v: Decimal, int_digits: usize) -> bool {
    let m = v.mantissa().unsigned_abs();
    let e = int_digits as u32 + v.scale();
    match POW10.get(e as usize) {
        Some(&limit) => m >= u128::from(limit),
        // 10²⁰ and more: beyond any u64.
        None if m >> 64 == 0 => false,
        // Beyond u128, beyond any mantissa.
        None => 10u128.checked_pow(e).is_some_and(|limit| m >= limit),
    }
}

/// Money always carries two decimals, and no negative zero.
pub(crate) fn money2(v: Decimal) -> Decimal {
    if v.scale() == 2 && !v.is_zero() {
        return v;
    }
    let mut v = v;
    v.rescale(2);
    if v.is_zero() {
        v.set_sign_positive(true);
    }
    v
}

/// The tax in an amount of the given basis: `round(base × r, 2)` (exclusive) or
/// `round(base × r ÷ (1 + r), 2)` (inclusive).
pub(crate) fn tax_of(base: Decimal, r: Decimal, incl: bool) -> Option<Decimal> {
    if r.is_zero() {
        return Some(Decimal::new(0, 2));
    }
    let den = if incl {
        Decimal::ONE.checked_add(r)?
    } else {
        Decimal::ONE
    };
    mul_div_round(base, r, den, 2)
}

/// Computes one line; records every problem under `lines[i].*`.
pub(crate) fn compute_line<'a>(ctx: &Ctx, i: usize, input: &LineRef<'a>, issues: &mut Issues) -> Outcome<'a> {
    let f = |name: &str| format!("lines[{i}].{name}");
    let kind = match input.kind.map(str::trim) {
        None | Some("") | Some("normal") => LineKind::Normal,
        Some("discount") => LineKind::Discount,
        Some(other) => {
            issues.push(
                &f("kind"),
                &AmountProblem::LineKindInvalid {
                    found: other.chars().take(40).collect(),
                },
            );
            LineKind::Normal
        }
    };
    let name = clean_text_cow(input.name.unwrap_or(""));
    if name.is_empty() {
        issues.push(&f("name"), &AmountProblem::LineNameRequired);
    }
    let rate = rate::read_rate(issues, i, input.tax_rate);
    rate::check_flags(issues, i, input.zero_rate_flag, input.preferential_policy, rate);

    let q = read(
        issues,
        i,
        "quantity",
        input.quantity,
        NumberKind::Quantity,
        UNIT_INT_DIGITS,
        ctx.qty_dp,
    );
    let p = read(
        issues,
        i,
        "unitPrice",
        input.unit_price,
        NumberKind::UnitPrice,
        UNIT_INT_DIGITS,
        ctx.price_dp,
    );
    let a = read(
        issues,
        i,
        "amount",
        input.amount,
        NumberKind::Amount,
        MONEY_INT_DIGITS,
        2,
    );
    let t = read(
        issues,
        i,
        "taxAmount",
        input.tax_amount,
        NumberKind::Amount,
        MONEY_INT_DIGITS,
        2,
    );
    let d = read(
        issues,
        i,
        "deduction",
        input.deduction,
        NumberKind::Amount,
        MONEY_INT_DIGITS,
        2,
    );
    let d = d.map(|d| d.filter(|d| !d.is_zero()));
    let mut outcome = Outcome {
        kind,
        name,
        rate,
        has_deduction: matches!(d, Ok(Some(_))),
        result: None,
    };
    let (Ok(q), Ok(p), Ok(a), Ok(t), Ok(d), Some(r)) = (q, p, a, t, d, rate) else {
        return outcome;
    };
    let negative = ctx.red || kind == LineKind::Discount;
    let context = if ctx.red {
        SignContext::Red
    } else if kind == LineKind::Discount {
        SignContext::Discount
    } else {
        SignContext::Blue
    };

    // Signs of what was given.
    if let Some(q) = q {
        if q.is_zero() || q.is_sign_negative() != negative {
            issues.push(&f("quantity"), &AmountProblem::QuantitySign { red: negative });
        }
    }
    if let Some(p) = p {
        if p.is_zero() || p.is_sign_negative() {
            issues.push(&f("unitPrice"), &AmountProblem::UnitPriceSign);
        }
    }

    // Any two of quantity, unit price and amount.
    let (q, p, a, tolerance_field) = match (q, p, a) {
        (Some(q), Some(p), Some(a)) => (Some(q), Some(p), a, "amount"),
        (Some(q), Some(p), None) => {
            match mul_div_round(q, p, Decimal::ONE, 2).filter(|a| !too_large(*a, MONEY_INT_DIGITS)) {
                Some(a) => (Some(q), Some(p), a, "amount"),
                None => {
                    issues.push(
                        &f("amount"),
                        &AmountProblem::TooLarge {
                            kind: NumberKind::Amount,
                            max_digits: MONEY_INT_DIGITS,
                        },
                    );
                    return outcome;
                }
            }
        }
        (Some(q), None, Some(a)) => {
            if q.is_zero() {
                return outcome;
            }
            match mul_div_round(a, Decimal::ONE, q, ctx.price_dp).filter(|p| !too_large(*p, UNIT_INT_DIGITS)) {
                Some(p) => (Some(q), Some(p), a, "unitPrice"),
                None => {
                    issues.push(
                        &f("unitPrice"),
                        &AmountProblem::TooLarge {
                            kind: NumberKind::UnitPrice,
                            max_digits: UNIT_INT_DIGITS,
                        },
                    );
                    return outcome;
                }
            }
        }
        (None, Some(p), Some(a)) => {
            if p.is_zero() {
                return outcome;
            }
            match mul_div_round(a, Decimal::ONE, p, ctx.qty_dp).filter(|q| !too_large(*q, UNIT_INT_DIGITS)) {
                Some(q) => (Some(q), Some(p), a, "quantity"),
                None => {
                    issues.push(
                        &f("quantity"),
                        &AmountProblem::TooLarge {
                            kind: NumberKind::Quantity,
                            max_digits: UNIT_INT_DIGITS,
                        },
                    );
                    return outcome;
                }
            }
        }
        (None, None, Some(a)) => (None, None, a, "amount"),
        (None, None, None) => {
            issues.push(&f("amount"), &AmountProblem::LineAmountRequired);
            return outcome;
        }
        (Some(_), None, None) => {
            issues.push(&f("unitPrice"), &AmountProblem::QuantityPriceTogether);
            return outcome;
        }
        (None, Some(_), None) => {
            issues.push(&f("quantity"), &AmountProblem::QuantityPriceTogether);
            return outcome;
        }
    };
    if a.is_zero() {
        issues.push(&f("amount"), &AmountProblem::LineAmountZero);
    } else if a.is_sign_negative() != negative {
        issues.push(&f("amount"), &AmountProblem::LineAmountSign { context });
    }
    if tolerance_field == "quantity" && q.is_some_and(|q| q.is_zero()) {
        issues.push(&f("quantity"), &AmountProblem::QuantitySign { red: negative });
    }

    // 差额征税.
    let deduction = match d {
        None => None,
        Some(_) if kind == LineKind::Discount => {
            issues.push(&f("deduction"), &AmountProblem::DeductionOnDiscount);
            None
        }
        Some(_) if r.is_zero() => {
            issues.push(&f("deduction"), &AmountProblem::DeductionZeroRate);
            None
        }
        Some(d) if d.is_sign_negative() != a.is_sign_negative() || d.abs() >= a.abs() => {
            issues.push(
                &f("deduction"),
                &AmountProblem::DeductionRange {
                    amount: format_money(a),
                },
            );
            None
        }
        Some(d) => Some(d),
    };
    let base = deduction.map_or(a, |d| a - d);

    // 价税分离.
    let Some(computed_tax) = tax_of(base, r, ctx.incl) else {
        issues.push(
            &f("amount"),
            &AmountProblem::TooLarge {
                kind: NumberKind::Amount,
                max_digits: MONEY_INT_DIGITS,
            },
        );
        return outcome;
    };
    let tax = match t {
        None => computed_tax,
        Some(t) => {
            if r.is_zero() && !t.is_zero() {
                issues.push(&f("taxAmount"), &AmountProblem::ZeroRateTax);
            } else if !t.is_zero() && t.is_sign_negative() != a.is_sign_negative() {
                issues.push(&f("taxAmount"), &AmountProblem::LineTaxSign);
            }
            t
        }
    };
    let (excl, incl) = if ctx.incl { (a - tax, a) } else { (a, a + tax) };
    if too_large(excl, MONEY_INT_DIGITS) || too_large(incl, MONEY_INT_DIGITS) {
        issues.push(
            &f("amount"),
            &AmountProblem::TooLarge {
                kind: NumberKind::Amount,
                max_digits: MONEY_INT_DIGITS,
            },
        );
        return outcome;
    }
    // |(金额 − 扣除额) × 税率 − 税额| ≤ 0.06 (exact: ≤ 16 digits × 3 decimals).
    let taxed = deduction.map_or(excl, |d| excl - d);
    if !product_within(taxed, r, tax, TAX_TOLERANCE) {
        let expected = taxed * r;
        issues.push(
            &f("taxAmount"),
            &AmountProblem::LineTaxTolerance {
                expected: format_plain(expected),
                found: format_money(tax),
            },
        );
    }

    // Unit prices in both bases; both must give their amount within 0.01.
    let (mut price_excl, mut price_incl) = (None, None);
    if let (Some(q), Some(p)) = (q, p) {
        if !q.is_zero() {
            let other_amount = if ctx.incl { excl } else { incl };
            let other =
                mul_div_round(other_amount, Decimal::ONE, q, ctx.price_dp).filter(|o| !too_large(*o, UNIT_INT_DIGITS));
            for (price, amount, field) in [(Some(p), a, tolerance_field), (other, other_amount, "unitPrice")] {
                if let Some(price) = price {
                    if !product_within(q, price, amount, AMOUNT_TOLERANCE) {
                        let product = q.checked_mul(price).map(format_plain).unwrap_or_default();
                        issues.push(
                            &f(field),
                            &AmountProblem::LineAmountTolerance {
                                product,
                                amount: format_money(amount),
                            },
                        );
                        break;
                    }
                }
            }
            if ctx.incl {
                (price_incl, price_excl) = (Some(p), other);
            } else {
                (price_excl, price_incl) = (Some(p), other);
            }
        }
    }

    outcome.result = Some(LineResult {
        kind,
        quantity: q.map(normalize),
        unit_price_excl_tax: price_excl.map(normalize),
        unit_price_incl_tax: price_incl.map(normalize),
        amount_excl_tax: money2(excl),
        tax_amount: money2(tax),
        amount_incl_tax: money2(incl),
        tax_rate: r,
        deduction: deduction.map(money2),
    });
    outcome
}

/// The rules between lines: discount lines, one-line 差额 invoices, 专票 and 0%.
pub(crate) fn check_structure(ctx: &Ctx, lines: &[Outcome], issues: &mut Issues) {
    let deductions = lines.iter().filter(|o| o.has_deduction).count();
    if deductions > 0 && lines.len() > 1 {
        for (i, _) in lines.iter().enumerate().filter(|(_, o)| o.has_deduction) {
            issues.push(&format!("lines[{i}].deduction"), &AmountProblem::DeductionSingleLine);
        }
    }
    for (i, o) in lines.iter().enumerate() {
        if ctx.special && o.rate.is_some_and(|r| r.is_zero()) {
            issues.push(&format!("lines[{i}].taxRate"), &AmountProblem::SpecialZeroRate);
        }
        if o.kind != LineKind::Discount {
            continue;
        }
        if ctx.red {
            issues.push(&format!("lines[{i}].kind"), &AmountProblem::RedDiscountLine);
            continue;
        }
        let prev = match i.checked_sub(1).map(|j| &lines[j]) {
            Some(prev) if prev.kind == LineKind::Normal => prev,
            _ => {
                issues.push(&format!("lines[{i}].kind"), &AmountProblem::DiscountPosition);
                continue;
            }
        };
        if !o.name.is_empty() && o.name != prev.name {
            issues.push(
                &format!("lines[{i}].name"),
                &AmountProblem::DiscountName {
                    expected: prev.name.to_string(),
                },
            );
        }
        if let (Some(r), Some(pr)) = (o.rate, prev.rate) {
            if r != pr {
                issues.push(
                    &format!("lines[{i}].taxRate"),
                    &AmountProblem::DiscountRate {
                        expected: format_plain(pr),
                    },
                );
            }
        }
        if let (Some(d), Some(l)) = (&o.result, &prev.result) {
            for (dv, lv) in [
                (d.amount_excl_tax, l.amount_excl_tax),
                (d.amount_incl_tax, l.amount_incl_tax),
            ] {
                if d.amount_excl_tax.is_sign_negative() && dv.abs() > lv {
                    issues.push(
                        &format!("lines[{i}].amount"),
                        &AmountProblem::DiscountExceedsLine {
                            discount: format_money(dv.abs()),
                            amount: format_money(lv),
                        },
                    );
                    break;
                }
            }
        }
    }
}
