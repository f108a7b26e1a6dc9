//! The amount engine through its public API: worked examples (rules.md §4.2, §4.5,
//! §4.7 and hand-computed ones), every rule's issue code, and property tests for
//! the invariants (金额 + 税额 = 含税金额, totals = sums, signs, tolerances, splits
//! and spreads adding up to the cent).
#![cfg(not(target_arch = "wasm32"))]

use fapiao::amount::rounding::product_within;
use fapiao::amount::{
    amount_in_words, apply_order_discount, compute_invoice, compute_red, split_invoice, spread_discount, InvoiceInput,
    InvoiceResult, LineInput, LineResult, RedInput, RedLineInput, ReversedLine, SplitLimits, WordsOptions, WordsStyle,
};
use fapiao::InvoiceType;
use proptest::prelude::*;
use rust_decimal::Decimal;

fn d(s: &str) -> Decimal {
    s.parse().unwrap()
}

fn amount_line(name: &str, amount: &str, rate: &str) -> LineInput {
    LineInput {
        name: Some(name.into()),
        amount: Some(amount.into()),
        tax_rate: Some(rate.into()),
        ..Default::default()
    }
}

fn qp_line(name: &str, q: &str, p: &str, rate: &str) -> LineInput {
    LineInput {
        name: Some(name.into()),
        quantity: Some(q.into()),
        unit_price: Some(p.into()),
        tax_rate: Some(rate.into()),
        ..Default::default()
    }
}

fn discount(name: &str, amount: &str, rate: &str) -> LineInput {
    LineInput {
        kind: Some("discount".into()),
        ..amount_line(name, amount, rate)
    }
}

fn invoice(incl: bool, lines: Vec<LineInput>) -> InvoiceInput {
    InvoiceInput {
        price_includes_tax: incl,
        lines,
        ..Default::default()
    }
}

fn line(r: &InvoiceResult, i: usize) -> &LineResult {
    r.lines[i].as_ref().expect("line computed")
}

/// (金额, 税额, 含税金额) of a line as strings.
fn ati(l: &LineResult) -> (String, String, String) {
    (
        l.amount_excl_tax.to_string(),
        l.tax_amount.to_string(),
        l.amount_incl_tax.to_string(),
    )
}

fn error_codes(r: &InvoiceResult) -> Vec<(&'static str, String)> {
    r.errors.iter().map(|e| (e.code, e.field.clone())).collect()
}

fn has_error(r: &InvoiceResult, code: &str, field: &str) -> bool {
    r.errors.iter().any(|e| e.code == code && e.field == field)
}

// ---------------------------------------------------------------- worked examples

#[test]
fn rules_4_2_tax_inclusive_examples() {
    // 含税 113.00 @ 13% → 税额 13.00, 金额 100.00.
    let r = compute_invoice(&invoice(true, vec![amount_line("*服务*费", "113.00", "0.13")]));
    assert!(r.valid, "{:?}", r.errors);
    assert_eq!(ati(line(&r, 0)), ("100.00".into(), "13.00".into(), "113.00".into()));
    // 含税 1265.77 @ 1% → 税额 12.53, 金额 1253.24; the real invoice prints ⊗壹仟贰佰陆拾伍圆柒角柒分.
    let mut input = invoice(true, vec![amount_line("*现代服务*阅卷系统服务费", "1265.77", "0.01")]);
    input.words_style = WordsStyle::Invoice;
    let r = compute_invoice(&input);
    assert!(r.valid, "{:?}", r.errors);
    assert_eq!(ati(line(&r, 0)), ("1253.24".into(), "12.53".into(), "1265.77".into()));
    assert_eq!(r.totals.amount_excl_tax.to_string(), "1253.24");
    assert_eq!(r.totals.tax_amount.to_string(), "12.53");
    assert_eq!(
        r.totals.amount_incl_tax_in_words.as_deref(),
        Some("⊗壹仟贰佰陆拾伍圆柒角柒分")
    );
}

#[test]
fn rules_4_2_tax_exclusive_by_hand() {
    // 3 × 33.335 = 100.005 → 100.01 (half-up, not banker's); tax 100.01 × 6% = 6.0006 → 6.00.
    let r = compute_invoice(&invoice(false, vec![qp_line("*咨询*服务", "3", "33.335", "0.06")]));
    assert!(r.valid, "{:?}", r.errors);
    let l = line(&r, 0);
    assert_eq!(ati(l), ("100.01".into(), "6.00".into(), "106.01".into()));
    // 含税单价 = 106.01 ÷ 3 = 35.33666666… → 35.33666667 (8 decimals).
    assert_eq!(l.unit_price_incl_tax, Some(d("35.33666667")));
    assert_eq!(l.unit_price_excl_tax, Some(d("33.335")));
    // 2.675 is 2.68 in decimal arithmetic (binary floats give 2.67).
    let r = compute_invoice(&invoice(false, vec![qp_line("x", "1", "2.675", "0.13")]));
    assert_eq!(line(&r, 0).amount_excl_tax, d("2.68"));
    assert_eq!(line(&r, 0).tax_amount, d("0.35")); // 2.68 × 0.13 = 0.3484
}

#[test]
fn inclusive_quantity_and_price_by_hand() {
    // 3 pens at 3.33333333 含税: 含税金额 round(9.99999999) = 10.00; 税额 = 10 × 0.13 ÷ 1.13
    // = 1.1504… → 1.15; 金额 8.85; 不含税单价 8.85 ÷ 3 = 2.95.
    let r = compute_invoice(&invoice(true, vec![qp_line("*办公用品*笔", "3", "3.33333333", "13%")]));
    assert!(r.valid, "{:?}", r.errors);
    let l = line(&r, 0);
    assert_eq!(ati(l), ("8.85".into(), "1.15".into(), "10.00".into()));
    assert_eq!(l.unit_price_excl_tax, Some(d("2.95")));
    assert_eq!(l.quantity, Some(d("3")));
}

#[test]
fn any_two_of_quantity_price_amount() {
    // Amount and quantity → unit price, rounded to 8 (or the configured) decimals.
    let mut l = amount_line("x", "100", "0.13");
    l.quantity = Some("3".into());
    let r = compute_invoice(&invoice(false, vec![l.clone()]));
    assert!(r.valid, "{:?}", r.errors);
    assert_eq!(line(&r, 0).unit_price_excl_tax, Some(d("33.33333333")));
    let mut input = invoice(false, vec![l]);
    input.price_decimals = Some(13);
    let r = compute_invoice(&input);
    assert_eq!(line(&r, 0).unit_price_excl_tax, Some(d("33.3333333333333")));
    // Amount and unit price → quantity.
    let mut l = amount_line("x", "10", "0.13");
    l.unit_price = Some("3".into());
    let r = compute_invoice(&invoice(false, vec![l]));
    assert!(r.valid, "{:?}", r.errors);
    assert_eq!(line(&r, 0).quantity, Some(d("3.33333333")));
    // Amount only: no quantity, no unit price.
    let r = compute_invoice(&invoice(false, vec![amount_line("x", "10", "0.13")]));
    assert_eq!(line(&r, 0).quantity, None);
    assert_eq!(line(&r, 0).unit_price_incl_tax, None);
    // One of quantity and price without the amount.
    let mut l = amount_line("x", "", "0.13");
    l.quantity = Some("3".into());
    let r = compute_invoice(&invoice(false, vec![l]));
    assert!(
        has_error(&r, "LINE_QUANTITY_PRICE_TOGETHER", "lines[0].unitPrice"),
        "{:?}",
        error_codes(&r)
    );
    let r = compute_invoice(&invoice(false, vec![amount_line("x", "", "0.13")]));
    assert!(has_error(&r, "LINE_AMOUNT_REQUIRED", "lines[0].amount"));
}

#[test]
fn rules_4_5_deduction() {
    // 含税 10 000, 扣除额 5 000, 6% → 税额 round(5000 ÷ 1.06 × 0.06) = 283.02, 金额 9 716.98.
    let mut l = amount_line("*经纪代理服务*代理费", "10000", "0.06");
    l.deduction = Some("5000".into());
    let r = compute_invoice(&invoice(true, vec![l.clone()]));
    assert!(r.valid, "{:?}", r.errors);
    assert_eq!(ati(line(&r, 0)), ("9716.98".into(), "283.02".into(), "10000.00".into()));
    assert_eq!(line(&r, 0).deduction, Some(d("5000.00")));
    // Tax-exclusive, same figures: (9 716.98 − 5 000) × 6% = 283.0188 → 283.02.
    let mut lx = amount_line("*经纪代理服务*代理费", "9716.98", "0.06");
    lx.deduction = Some("5000".into());
    let r = compute_invoice(&invoice(false, vec![lx]));
    assert_eq!(ati(line(&r, 0)), ("9716.98".into(), "283.02".into(), "10000.00".into()));
    // One line only.
    let r = compute_invoice(&invoice(true, vec![l.clone(), amount_line("y", "1", "0.06")]));
    assert!(has_error(&r, "DEDUCTION_SINGLE_LINE", "lines[0].deduction"));
    // Less than the amount, positive, not at 0%.
    let mut big = l.clone();
    big.deduction = Some("10000".into());
    assert!(has_error(
        &compute_invoice(&invoice(true, vec![big])),
        "DEDUCTION_RANGE",
        "lines[0].deduction"
    ));
    let mut neg = l.clone();
    neg.deduction = Some("-1".into());
    assert!(has_error(
        &compute_invoice(&invoice(true, vec![neg])),
        "DEDUCTION_RANGE",
        "lines[0].deduction"
    ));
    let mut zero_rate = l;
    zero_rate.tax_rate = Some("0".into());
    zero_rate.zero_rate_flag = Some("3".into());
    assert!(has_error(
        &compute_invoice(&invoice(true, vec![zero_rate])),
        "DEDUCTION_ZERO_RATE",
        "lines[0].deduction"
    ));
}

#[test]
fn rules_4_7_words() {
    let plain = WordsOptions::default();
    for (v, w) in [
        ("1409.50", "壹仟肆佰零玖元伍角"),
        ("6007.14", "陆仟零柒元壹角肆分"),
        ("1680.32", "壹仟陆佰捌拾元零叁角贰分"),
        ("107000.53", "壹拾万柒仟元零伍角叁分"),
        ("16409.02", "壹万陆仟肆佰零玖元零贰分"),
        ("325.04", "叁佰贰拾伍元零肆分"),
        ("100000001", "壹亿零壹元整"),
        ("10020.05", "壹万零贰拾元零伍分"),
        ("10020.00", "壹万零贰拾元整"),
        ("10020", "壹万零贰拾元整"),
    ] {
        assert_eq!(amount_in_words(v, plain).unwrap(), w, "{v}");
    }
    let inv = WordsOptions {
        style: WordsStyle::Invoice,
    };
    assert_eq!(amount_in_words("1265.77", inv).unwrap(), "⊗壹仟贰佰陆拾伍圆柒角柒分");
    assert_eq!(amount_in_words("106.00", inv).unwrap(), "⊗壹佰零陆圆整");
    assert_eq!(amount_in_words("10020", inv).unwrap(), "⊗壹万零贰拾圆整");
}

// ---------------------------------------------------------------- rules and codes

#[test]
fn tolerances() {
    // 3 × 3.33 = 9.99: 0.01 from 10.00 is allowed; 10.02 is not.
    let mut l = qp_line("x", "3", "3.33", "0.13");
    l.amount = Some("10.00".into());
    assert!(compute_invoice(&invoice(false, vec![l.clone()])).valid);
    l.amount = Some("10.02".into());
    let r = compute_invoice(&invoice(false, vec![l]));
    assert_eq!(
        error_codes(&r),
        [("LINE_AMOUNT_TOLERANCE", "lines[0].amount".to_owned())]
    );
    assert!(r.errors[0].message.contains("0.01") && r.errors[0].message_en.contains("9.99"));
    // Given tax: 100 × 13% = 13; 13.06 passes, 13.07 does not.
    let mut l = amount_line("x", "100", "0.13");
    l.tax_amount = Some("13.06".into());
    let r = compute_invoice(&invoice(false, vec![l.clone()]));
    assert!(r.valid);
    assert_eq!(line(&r, 0).amount_incl_tax, d("113.06"));
    l.tax_amount = Some("13.07".into());
    let r = compute_invoice(&invoice(false, vec![l.clone()]));
    assert_eq!(
        error_codes(&r),
        [("LINE_TAX_TOLERANCE", "lines[0].taxAmount".to_owned())]
    );
    l.tax_amount = Some("-0.01".into());
    l.amount = Some("0.05".into());
    assert!(has_error(
        &compute_invoice(&invoice(false, vec![l])),
        "LINE_TAX_SIGN",
        "lines[0].taxAmount"
    ));
    // Given tax on a 0% line.
    let mut z = amount_line("x", "100", "0");
    z.zero_rate_flag = Some("1".into());
    z.preferential_policy = Some("03".into());
    z.tax_amount = Some("0.05".into());
    assert!(has_error(
        &compute_invoice(&invoice(false, vec![z])),
        "ZERO_RATE_TAX",
        "lines[0].taxAmount"
    ));
}

#[test]
fn number_formats() {
    let cases: [(LineInput, &str, &str); 8] = [
        (
            amount_line("x", "12.345", "0.13"),
            "AMOUNT_PRECISION",
            "lines[0].amount",
        ),
        (amount_line("x", "1,000", "0.13"), "AMOUNT_FORMAT", "lines[0].amount"),
        (
            amount_line("x", "99999999999999", "0.13"),
            "AMOUNT_TOO_LARGE",
            "lines[0].amount",
        ),
        (
            qp_line("x", "1.123456789", "1", "0.13"),
            "QUANTITY_PRECISION",
            "lines[0].quantity",
        ),
        (
            qp_line("x", "1", "abc", "0.13"),
            "UNIT_PRICE_FORMAT",
            "lines[0].unitPrice",
        ),
        (
            qp_line("x", "1", "1234567890123", "0.13"),
            "UNIT_PRICE_TOO_LARGE",
            "lines[0].unitPrice",
        ),
        (
            amount_line("x", "1", "0.17"),
            "TAX_RATE_UNSUPPORTED",
            "lines[0].taxRate",
        ),
        (amount_line("x", "1", ""), "TAX_RATE_REQUIRED", "lines[0].taxRate"),
    ];
    for (l, code, field) in cases {
        let r = compute_invoice(&invoice(false, vec![l]));
        assert!(has_error(&r, code, field), "{code}: {:?}", error_codes(&r));
        assert!(r.lines[0].is_none(), "{code}: an unreadable line is not computed");
    }
    let mut l = amount_line("x", "1", "0.13");
    l.amount = Some(fapiao::amount::DecimalInput::NonInteger);
    assert!(has_error(
        &compute_invoice(&invoice(false, vec![l])),
        "AMOUNT_FORMAT",
        "lines[0].amount"
    ));
    // Derived amounts that overflow the field.
    let r = compute_invoice(&invoice(
        false,
        vec![qp_line("x", "999999999999", "999999999999", "0.13")],
    ));
    assert!(has_error(&r, "AMOUNT_TOO_LARGE", "lines[0].amount"));
    let mut input = invoice(false, vec![amount_line("x", "1", "0.13")]);
    input.price_decimals = Some(14);
    assert!(has_error(
        &compute_invoice(&input),
        "DECIMALS_OPTION_INVALID",
        "priceDecimals"
    ));
}

#[test]
fn signs_and_structure() {
    let r = compute_invoice(&invoice(false, vec![amount_line("x", "0", "0.13")]));
    assert!(has_error(&r, "LINE_AMOUNT_ZERO", "lines[0].amount"));
    let r = compute_invoice(&invoice(
        false,
        vec![amount_line("x", "-5", "0.13"), amount_line("y", "10", "0.13")],
    ));
    assert!(has_error(&r, "LINE_AMOUNT_SIGN", "lines[0].amount"));
    let r = compute_invoice(&invoice(false, vec![qp_line("x", "-1", "5", "0.13")]));
    assert!(has_error(&r, "QUANTITY_SIGN", "lines[0].quantity"));
    let r = compute_invoice(&invoice(false, vec![qp_line("x", "1", "-5", "0.13")]));
    assert!(has_error(&r, "UNIT_PRICE_SIGN", "lines[0].unitPrice"));
    let r = compute_invoice(&invoice(false, vec![]));
    assert!(has_error(&r, "INVOICE_NO_LINES", "lines"));
    let mut l = amount_line("x", "1", "0.13");
    l.kind = Some("gift".into());
    assert!(has_error(
        &compute_invoice(&invoice(false, vec![l])),
        "LINE_KIND_INVALID",
        "lines[0].kind"
    ));
    let r = compute_invoice(&invoice(false, vec![amount_line("  ", "1", "0.13")]));
    assert!(has_error(&r, "LINE_NAME_REQUIRED", "lines[0].name"));
    // 2000 lines are fine, 2001 are not.
    let many = |n: usize| {
        invoice(
            false,
            (0..n).map(|i| amount_line(&format!("x{i}"), "1.00", "0.13")).collect(),
        )
    };
    let r = compute_invoice(&many(2000));
    assert!(r.valid);
    assert_eq!(r.totals.amount_excl_tax, d("2000.00"));
    assert_eq!(r.totals.tax_amount, d("260.00"));
    assert!(has_error(
        &compute_invoice(&many(2001)),
        "INVOICE_TOO_MANY_LINES",
        "lines"
    ));
}

#[test]
fn zero_rates_and_policies() {
    let zero = |flag: Option<&str>, policy: Option<&str>| {
        let mut l = amount_line("*出口*货物", "100", "0");
        l.zero_rate_flag = flag.map(Into::into);
        l.preferential_policy = policy.map(Into::into);
        l
    };
    let r = compute_invoice(&invoice(false, vec![zero(Some("1"), Some("03"))]));
    assert!(r.valid && r.warnings.is_empty(), "{:?}", r.errors);
    assert_eq!(line(&r, 0).tax_amount, d("0"));
    let r = compute_invoice(&invoice(false, vec![zero(None, None)]));
    assert!(r.valid);
    assert_eq!(r.warnings[0].code, "ZERO_RATE_UNSPECIFIED");
    let mut special = invoice(false, vec![zero(Some("3"), None)]);
    special.invoice_type = InvoiceType::Special;
    assert!(has_error(
        &compute_invoice(&special),
        "SPECIAL_INVOICE_ZERO_RATE",
        "lines[0].taxRate"
    ));
    let mut l = amount_line("x", "100", "0.13");
    l.zero_rate_flag = Some("2".into());
    assert!(has_error(
        &compute_invoice(&invoice(false, vec![l])),
        "ZERO_RATE_FLAG_RATE",
        "lines[0].zeroRateFlag"
    ));
    let mut l = amount_line("x", "100", "0.06");
    l.preferential_policy = Some("04".into());
    assert!(has_error(
        &compute_invoice(&invoice(false, vec![l])),
        "PREFERENTIAL_POLICY_RATE",
        "lines[0].preferentialPolicy"
    ));
    let r = compute_invoice(&invoice(false, vec![zero(Some("2"), Some("03"))]));
    assert!(has_error(&r, "ZERO_RATE_POLICY_MISMATCH", "lines[0].zeroRateFlag"));
    let mut l = amount_line("x", "100", "0.015");
    l.preferential_policy = Some("10".into());
    assert!(compute_invoice(&invoice(false, vec![l])).valid);
    for rate in [
        "0.13", "0.09", "0.06", "0.05", "0.03", "0.015", "0.01", "0.005", "13%", "1.5%", "0.5%",
    ] {
        assert!(
            compute_invoice(&invoice(false, vec![amount_line("x", "100", rate)])).valid,
            "{rate}"
        );
    }
}

#[test]
fn discount_lines() {
    // 100.00 @ 13% less 10.00: the discount's tax is computed on the discount.
    let r = compute_invoice(&invoice(
        false,
        vec![
            amount_line("*食品*茶", "100", "0.13"),
            discount("*食品*茶", "-10", "0.13"),
        ],
    ));
    assert!(r.valid, "{:?}", r.errors);
    assert_eq!(ati(line(&r, 1)), ("-10.00".into(), "-1.30".into(), "-11.30".into()));
    assert_eq!(r.totals.amount_incl_tax, d("101.70"));
    assert_eq!(r.totals.amount_incl_tax_in_words.as_deref(), Some("壹佰零壹元柒角"));
    // Tax-inclusive discount of 1.00 @ 13%: 1 × 0.13 ÷ 1.13 = 0.115… → 0.12.
    let r = compute_invoice(&invoice(
        true,
        vec![amount_line("茶", "10", "0.13"), discount("茶", "-1", "0.13")],
    ));
    assert_eq!(ati(line(&r, 1)), ("-0.88".into(), "-0.12".into(), "-1.00".into()));

    let cases: [(Vec<LineInput>, &str, &str); 7] = [
        (
            vec![discount("茶", "-1", "0.13"), amount_line("茶", "10", "0.13")],
            "DISCOUNT_POSITION",
            "lines[0].kind",
        ),
        (
            vec![
                amount_line("茶", "10", "0.13"),
                discount("茶", "-1", "0.13"),
                discount("茶", "-1", "0.13"),
            ],
            "DISCOUNT_POSITION",
            "lines[2].kind",
        ),
        (
            vec![amount_line("茶", "10", "0.13"), discount("咖啡", "-1", "0.13")],
            "DISCOUNT_NAME_MISMATCH",
            "lines[1].name",
        ),
        (
            vec![amount_line("茶", "10", "0.13"), discount("茶", "-1", "0.09")],
            "DISCOUNT_RATE_MISMATCH",
            "lines[1].taxRate",
        ),
        (
            vec![amount_line("茶", "10", "0.13"), discount("茶", "-10.01", "0.13")],
            "DISCOUNT_EXCEEDS_LINE",
            "lines[1].amount",
        ),
        (
            vec![amount_line("茶", "10", "0.13"), discount("茶", "1", "0.13")],
            "LINE_AMOUNT_SIGN",
            "lines[1].amount",
        ),
        (
            vec![amount_line("茶", "10", "0.13"), discount("茶", "-10", "0.13")],
            "INVOICE_TOTAL_NOT_POSITIVE",
            "totals.amountInclTax",
        ),
    ];
    for (lines, code, field) in cases {
        let r = compute_invoice(&invoice(false, lines));
        assert!(has_error(&r, code, field), "{code}: {:?}", error_codes(&r));
    }
}

#[test]
fn red_invoices_by_sign() {
    let red = |lines| InvoiceInput {
        red: true,
        ..invoice(true, lines)
    };
    let r = compute_invoice(&red(vec![qp_line("x", "-3", "3.33333333", "0.13")]));
    assert!(r.valid, "{:?}", r.errors);
    assert_eq!(ati(line(&r, 0)), ("-8.85".into(), "-1.15".into(), "-10.00".into()));
    assert_eq!(line(&r, 0).unit_price_excl_tax, Some(d("2.95")));
    assert_eq!(r.totals.amount_incl_tax_in_words, None);
    let r = compute_invoice(&red(vec![amount_line("x", "10", "0.13")]));
    assert!(has_error(&r, "LINE_AMOUNT_SIGN", "lines[0].amount"));
    assert!(has_error(&r, "RED_TOTAL_NOT_NEGATIVE", "totals.amountInclTax"));
    let r = compute_invoice(&red(vec![qp_line("x", "3", "-1", "0.13")]));
    assert!(
        has_error(&r, "QUANTITY_SIGN", "lines[0].quantity") && has_error(&r, "UNIT_PRICE_SIGN", "lines[0].unitPrice")
    );
    let r = compute_invoice(&red(vec![amount_line("x", "-10", "0.13"), discount("x", "-1", "0.13")]));
    assert!(has_error(&r, "RED_DISCOUNT_LINE", "lines[1].kind"));
}

fn blue_with_discount() -> InvoiceInput {
    invoice(
        false,
        vec![
            qp_line("*纸制品*打印纸", "10", "25", "0.13"),
            discount("*纸制品*打印纸", "-20", "0.13"),
            qp_line("*服务*安装费", "1", "99.99", "0.06"),
        ],
    )
}

#[test]
fn red_against_blue_full_merges_discounts() {
    let blue = blue_with_discount();
    let b = compute_invoice(&blue);
    assert!(b.valid, "{:?}", b.errors);
    let r = compute_red(&RedInput {
        blue: blue.clone(),
        reason: Some("01".into()),
        ..Default::default()
    });
    assert!(r.valid && r.full, "{:?}", r.errors);
    // Line 1 net: 250 − 20 = 230.00, tax 32.50 − 2.60 = 29.90; line 3: 99.99, 6.00.
    assert_eq!(r.lines.len(), 2);
    assert_eq!((r.lines[0].blue_line_no, r.lines[1].blue_line_no), (1, 3));
    assert_eq!(
        ati(&r.lines[0].line),
        ("-230.00".into(), "-29.90".into(), "-259.90".into())
    );
    assert_eq!(r.lines[0].line.quantity, Some(d("-10")));
    assert_eq!(r.lines[0].line.unit_price_excl_tax, Some(d("23")));
    assert_eq!(
        ati(&r.lines[1].line),
        ("-99.99".into(), "-6.00".into(), "-105.99".into())
    );
    assert_eq!(r.totals.amount_incl_tax, -b.totals.amount_incl_tax);
    assert_eq!(r.totals.tax_amount, -b.totals.tax_amount);
    assert!(r
        .remaining
        .iter()
        .all(|x| x.amount_incl_tax.is_zero() && x.quantity.is_none_or(|q| q.is_zero())));
    assert!(compute_invoice(&r.invoice).valid);
    // Reversed in full already: nothing left.
    let again = compute_red(&RedInput {
        blue,
        already_reversed: r
            .lines
            .iter()
            .map(|l| ReversedLine {
                blue_line_no: l.blue_line_no,
                amount_excl_tax: Some(l.line.amount_excl_tax.into()),
                tax_amount: Some(l.line.tax_amount.into()),
                quantity: l.line.quantity.map(Into::into),
            })
            .collect(),
        ..Default::default()
    });
    assert_eq!(again.errors[0].code, "RED_NOTHING_LEFT");
}

#[test]
fn red_against_blue_partial() {
    let blue = blue_with_discount();
    let partial = |lines: Vec<RedLineInput>, reason: &str| RedInput {
        blue: blue.clone(),
        reason: Some(reason.into()),
        lines,
        ..Default::default()
    };
    let by_qty = |no, q: &str| RedLineInput {
        blue_line_no: no,
        quantity: Some(q.into()),
        amount: None,
    };
    let by_amount = |no, a: &str| RedLineInput {
        blue_line_no: no,
        quantity: None,
        amount: Some(a.into()),
    };
    // 3 of 10 returned: 230 × 3/10 = 69.00, tax 69 × 13% = 8.97.
    let r = compute_red(&partial(vec![by_qty(1, "3")], "02"));
    assert!(r.valid, "{:?}", r.errors);
    assert_eq!(
        ati(&r.lines[0].line),
        ("-69.00".into(), "-8.97".into(), "-77.97".into())
    );
    assert_eq!(r.remaining[0].amount_excl_tax, d("161.00"));
    assert_eq!(r.remaining[0].tax_amount, d("20.93"));
    assert_eq!(r.remaining[0].quantity, Some(d("7")));
    // An allowance of 10.00 on the installation (销售折让), either sign accepted.
    let r = compute_red(&partial(vec![by_amount(3, "-10")], "04"));
    assert!(r.valid, "{:?}", r.errors);
    assert_eq!(
        ati(&r.lines[0].line),
        ("-10.00".into(), "-0.60".into(), "-10.60".into())
    );
    // Problems.
    let codes = |input: RedInput| {
        compute_red(&input)
            .errors
            .iter()
            .map(|e| (e.code, e.field.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        codes(partial(vec![by_qty(1, "3")], "01")),
        [("RED_PARTIAL_REASON", "reason".to_owned())]
    );
    assert_eq!(
        codes(partial(vec![by_qty(1, "11")], "02")),
        [("RED_EXCEEDS_REMAINING", "lines[0].quantity".to_owned())]
    );
    assert_eq!(
        codes(partial(vec![by_amount(3, "100")], "04")),
        [("RED_EXCEEDS_REMAINING", "lines[0].amount".to_owned())]
    );
    assert_eq!(
        codes(partial(vec![by_qty(2, "1")], "02")),
        [("RED_LINE_UNKNOWN", "lines[0].blueLineNo".to_owned())]
    );
    assert_eq!(
        codes(partial(vec![by_qty(3, "1"), by_qty(1, "1")], "02")),
        [("RED_LINE_ORDER", "lines[1].blueLineNo".to_owned())]
    );
    assert_eq!(
        codes(partial(vec![by_amount(3, "")], "02")),
        [("RED_LINE_EMPTY", "lines[0].amount".to_owned())]
    );
    assert_eq!(
        codes(partial(vec![by_qty(1, "1")], "09")),
        [("RED_REASON_INVALID", "reason".to_owned())]
    );
    let mut bad_blue = partial(vec![], "01");
    bad_blue.blue.lines[0].tax_rate = Some("0.17".into());
    assert_eq!(
        codes(bad_blue),
        [("TAX_RATE_UNSUPPORTED", "blue.lines[0].taxRate".to_owned())]
    );
}

#[test]
fn red_partials_then_the_rest_add_up_to_the_blue_invoice() {
    // 7 units at 1.43 (10.01), returned one unit at a time: each 1.43, tax 0.19 (0.1859),
    // and the last return takes exactly what remains.
    let blue = invoice(false, vec![qp_line("x", "7", "1.43", "0.13")]);
    let b = compute_invoice(&blue);
    let mut reversed: Vec<ReversedLine> = Vec::new();
    let (mut excl, mut tax) = (Decimal::ZERO, Decimal::ZERO);
    for _ in 0..7 {
        let r = compute_red(&RedInput {
            blue: blue.clone(),
            reason: Some("02".into()),
            lines: vec![RedLineInput {
                blue_line_no: 1,
                quantity: Some("1".into()),
                amount: None,
            }],
            already_reversed: reversed.clone(),
        });
        assert!(r.valid, "{:?}", r.errors);
        let l = &r.lines[0].line;
        excl += l.amount_excl_tax;
        tax += l.tax_amount;
        reversed.push(ReversedLine {
            blue_line_no: 1,
            amount_excl_tax: Some(l.amount_excl_tax.into()),
            tax_amount: Some(l.tax_amount.into()),
            quantity: l.quantity.map(Into::into),
        });
    }
    assert_eq!(excl, -b.totals.amount_excl_tax);
    assert_eq!(tax, -b.totals.tax_amount);
}

#[test]
fn order_discount() {
    let input = invoice(
        true,
        vec![
            amount_line("a", "30", "0.13"),
            amount_line("b", "30", "0.13"),
            amount_line("c", "30", "0.06"),
        ],
    );
    let r = apply_order_discount(&input, &"10".into());
    assert!(r.valid, "{:?}", r.errors);
    let amounts: Vec<_> = r.input.lines.iter().map(|l| l.amount.clone()).collect();
    assert_eq!(amounts[1], Some("-3.34".into()));
    assert_eq!(amounts[3], Some("-3.33".into()));
    assert_eq!(amounts[5], Some("-3.33".into()));
    assert_eq!(r.result.totals.amount_incl_tax, d("80.00"));
    // A line that already has a discount line: the discount line grows.
    let input = invoice(
        false,
        vec![
            amount_line("a", "100", "0.13"),
            discount("a", "-50", "0.13"),
            amount_line("b", "50", "0.13"),
        ],
    );
    let r = apply_order_discount(&input, &"10".into());
    assert!(r.valid, "{:?}", r.errors);
    assert_eq!(r.input.lines.len(), 4);
    assert_eq!(r.input.lines[1].amount, Some("-55.00".into()));
    assert_eq!(r.input.lines[3].amount, Some("-5.00".into()));
    let r = apply_order_discount(&input, &"100.01".into());
    assert_eq!(r.errors[0].code, "DISCOUNT_SPREAD_RANGE");
}

#[test]
fn split_by_lines_keeps_discounts_with_their_lines() {
    let mut lines = Vec::new();
    for i in 0..5 {
        lines.push(amount_line(&format!("x{i}"), "10", "0.13"));
        lines.push(discount(&format!("x{i}"), "-1", "0.13"));
    }
    let input = invoice(false, lines);
    let r = split_invoice(
        &input,
        &SplitLimits {
            max_lines: Some(3),
            ..Default::default()
        },
    );
    assert!(r.valid, "{:?}", r.errors);
    assert_eq!(r.parts.len(), 5);
    for p in &r.parts {
        assert_eq!(p.source_lines.len(), 2);
        assert_eq!(p.source_lines[1], p.source_lines[0] + 1);
    }
    let r = split_invoice(
        &input,
        &SplitLimits {
            max_lines: Some(1),
            ..Default::default()
        },
    );
    assert_eq!(r.errors[0].code, "SPLIT_LIMIT_INVALID");
}

#[test]
fn split_cuts_a_large_line_and_its_discount() {
    // 25 × 8 000 less 1 000: net 199 000 over a 100 000 limit.
    let input = invoice(
        false,
        vec![
            qp_line("*计算机*笔记本电脑", "25", "8000", "0.13"),
            discount("*计算机*笔记本电脑", "-1000", "0.13"),
            amount_line("鼠标", "99.9", "0.13"),
        ],
    );
    let limits = SplitLimits {
        max_amount: Some("100000".into()),
        ..Default::default()
    };
    let r = split_invoice(&input, &limits);
    assert!(r.valid, "{:?}", r.errors);
    assert!(r.parts.len() >= 2);
    let sum = |f: fn(&InvoiceResult) -> Decimal| r.parts.iter().map(|p| f(&p.result)).sum::<Decimal>();
    assert_eq!(sum(|x| x.totals.amount_excl_tax), r.totals.amount_excl_tax);
    assert_eq!(sum(|x| x.totals.tax_amount), r.totals.tax_amount);
    assert_eq!(sum(|x| x.totals.amount_incl_tax), r.totals.amount_incl_tax);
    let qty: Decimal = r
        .parts
        .iter()
        .flat_map(|p| p.result.lines.iter().flatten())
        .filter_map(|l| l.quantity)
        .sum();
    assert_eq!(qty, d("25"));
    for p in &r.parts {
        assert!(p.result.valid && p.result.totals.amount_excl_tax <= d("100000"));
    }
    // One unit above the limit cannot be cut.
    let r = split_invoice(&invoice(false, vec![qp_line("x", "2", "150000", "0.13")]), &limits);
    assert_eq!(r.errors[0].code, "SPLIT_UNIT_TOO_LARGE");
    let red = InvoiceInput {
        red: true,
        ..invoice(false, vec![amount_line("x", "-1", "0.13")])
    };
    assert_eq!(split_invoice(&red, &limits).errors[0].code, "SPLIT_UNSUPPORTED");
    let r = split_invoice(
        &input,
        &SplitLimits {
            max_amount: Some("-1".into()),
            ..Default::default()
        },
    );
    assert_eq!(r.errors[0].code, "SPLIT_LIMIT_INVALID");
}

#[test]
fn junk_never_panics() {
    let mut junk: Vec<String> = [
        "",
        " ",
        "-",
        "+",
        ".",
        "1e308",
        "NaN",
        "∞",
        "😀",
        "１２３．４５",
        "--1",
        "0x1F",
        "\u{0}",
        "-0",
    ]
    .map(String::from)
    .to_vec();
    junk.push("9".repeat(70));
    junk.push(format!("0.{}1", "0".repeat(40)));
    for a in &junk {
        for b in &junk {
            let l = LineInput {
                name: Some(a.clone()),
                quantity: Some(a.as_str().into()),
                unit_price: Some(b.as_str().into()),
                amount: Some(b.as_str().into()),
                tax_amount: Some(a.as_str().into()),
                tax_rate: Some(b.as_str().into()),
                kind: Some(a.clone()),
                preferential_policy: Some(b.clone()),
                zero_rate_flag: Some(a.clone()),
                deduction: Some(a.as_str().into()),
                ..Default::default()
            };
            let input = invoice(a.len() % 2 == 0, vec![l.clone(), l]);
            let _ = compute_invoice(&input);
            let _ = split_invoice(
                &input,
                &SplitLimits {
                    max_amount: Some(b.as_str().into()),
                    ..Default::default()
                },
            );
            let _ = apply_order_discount(&input, &a.as_str().into());
            let _ = compute_red(&RedInput {
                blue: input,
                ..Default::default()
            });
            let _ = amount_in_words(a, WordsOptions::default());
        }
    }
    // Extremes that are valid numbers.
    let r = compute_invoice(&invoice(
        false,
        vec![qp_line("x", "999999999999.99999999", "999999999999.99999999", "0.13")],
    ));
    assert!(!r.valid);
    let r = compute_invoice(&invoice(true, vec![amount_line("x", "9999999999999.99", "0.13")]));
    assert!(r.valid, "{:?}", r.errors);
}

// ---------------------------------------------------------------- properties

fn dec(mantissa: i64, scale: u32) -> Decimal {
    Decimal::new(mantissa, scale)
}

const RATES: [&str; 9] = ["0.13", "0.09", "0.06", "0.05", "0.03", "0.015", "0.01", "0.005", "0"];

/// A valid blue line: quantity × price, or an amount only; any rate.
fn arb_line() -> impl Strategy<Value = LineInput> {
    (
        0usize..RATES.len(),
        prop_oneof![
            (1i64..1_000_000, 0u32..4, 1i64..10_000_000_000, 0u32..9).prop_map(|(q, qs, p, ps)| (
                Some(dec(q, qs)),
                Some(dec(p, ps)),
                None
            )),
            (1i64..100_000_000_000, Just(2u32)).prop_map(|(a, s)| (None, None, Some(dec(a, s)))),
        ],
    )
        .prop_filter(
            "amount must stay within 13 digits and not round to 0",
            |(_, (q, p, a))| match (q, p, a) {
                (Some(q), Some(p), _) => {
                    let prod = *q * *p;
                    prod >= d("0.005") && prod < d("1000000000000")
                }
                _ => true,
            },
        )
        .prop_map(|(ri, (q, p, a))| LineInput {
            name: Some("*商品*x".into()),
            quantity: q.map(Into::into),
            unit_price: p.map(Into::into),
            amount: a.map(Into::into),
            tax_rate: Some(RATES[ri].into()),
            zero_rate_flag: (ri == RATES.len() - 1).then(|| "3".into()),
            ..Default::default()
        })
}

fn arb_invoice() -> impl Strategy<Value = InvoiceInput> {
    (any::<bool>(), prop::collection::vec(arb_line(), 1..40)).prop_map(|(incl, lines)| invoice(incl, lines))
}

/// Independent oracle: the tax of a line in integer cents, half-up.
fn oracle_tax(amount: Decimal, rate: Decimal, incl: bool) -> Decimal {
    let mut a = amount;
    a.rescale(2);
    let cents = a.mantissa(); // amount × 100
    let mut r = rate;
    r.rescale(3);
    let rm = r.mantissa(); // rate × 1000
    let (num, den) = if incl {
        (cents * rm, 1000 + rm)
    } else {
        (cents * rm, 1000)
    };
    let (q, rem) = (num / den, num % den);
    let q = if 2 * rem.abs() >= den { q + num.signum() } else { q };
    Decimal::from_i128_with_scale(q, 2)
}

/// Independent oracle: `round((n ÷ 10^ns) ÷ (d ÷ 10^ds), dp)`, half-up, in `i128`.
fn oracle_div(n: i128, ns: u32, d: i128, ds: u32, dp: u32) -> Decimal {
    let (num, den) = (n * 10i128.pow(ds + dp), d * 10i128.pow(ns));
    let (q, rem) = (num / den, num % den);
    let q = if 2 * rem.abs() >= den.abs() {
        q + num.signum() * den.signum()
    } else {
        q
    };
    Decimal::from_i128_with_scale(q, dp)
}

proptest! {
    // 256 cases by default; PROPTEST_CASES=… for a longer run.

    #[test]
    fn every_line_balances_and_totals_are_sums(input in arb_invoice()) {
        let r = compute_invoice(&input);
        prop_assert!(r.valid, "{:?}", r.errors);
        let (mut a, mut t, mut i) = (Decimal::ZERO, Decimal::ZERO, Decimal::ZERO);
        for (l, src) in r.lines.iter().zip(&input.lines) {
            let l = l.as_ref().unwrap();
            // 金额 + 税额 = 含税金额, exactly, with two decimals everywhere.
            prop_assert_eq!(l.amount_excl_tax + l.tax_amount, l.amount_incl_tax);
            prop_assert_eq!((l.amount_excl_tax.scale(), l.tax_amount.scale(), l.amount_incl_tax.scale()), (2, 2, 2));
            // Signs of a blue line.
            prop_assert!(l.amount_excl_tax > Decimal::ZERO || (l.amount_excl_tax.is_zero() && l.amount_incl_tax > Decimal::ZERO));
            prop_assert!(l.tax_amount >= Decimal::ZERO);
            // The tax is the formula's, computed independently in integer cents.
            let basis = l.amount_in_basis(input.price_includes_tax);
            prop_assert_eq!(l.tax_amount, oracle_tax(basis, l.tax_rate, input.price_includes_tax));
            // |金额 × 税率 − 税额| ≤ 0.06 (in fact ≤ 0.006).
            prop_assert!((l.amount_excl_tax * l.tax_rate - l.tax_amount).abs() <= d("0.006"));
            // |单价 × 数量 − 金额| ≤ 0.01 in both bases.
            if let Some(q) = l.quantity {
                prop_assert!(product_within(q, l.unit_price_excl_tax.unwrap(), l.amount_excl_tax, d("0.01")));
                prop_assert!(product_within(q, l.unit_price_incl_tax.unwrap(), l.amount_incl_tax, d("0.01")));
                prop_assert!(l.unit_price_excl_tax.unwrap().scale() <= 8 && l.unit_price_incl_tax.unwrap().scale() <= 8);
            }
            // A given quantity and price give round(q × p, 2) in their basis, and the
            // other basis's unit price is round(its amount ÷ q, 8): both checked in
            // integer arithmetic of their own.
            if let (Some(_), Some(_)) = (&src.quantity, &src.unit_price) {
                let q = l.quantity.unwrap();
                let p = l.unit_price_in_basis(input.price_includes_tax).unwrap();
                prop_assert_eq!(basis, fapiao::amount::rounding::mul_div_round(q, p, Decimal::ONE, 2).unwrap());
                prop_assert_eq!(basis, oracle_div(q.mantissa() * p.mantissa(), q.scale() + p.scale(), 1, 0, 2));
                let other = l.amount_in_basis(!input.price_includes_tax);
                let other_price = l.unit_price_in_basis(!input.price_includes_tax).unwrap();
                prop_assert_eq!(other_price, oracle_div(other.mantissa(), other.scale(), q.mantissa(), q.scale(), 8));
            }
            a += l.amount_excl_tax; t += l.tax_amount; i += l.amount_incl_tax;
        }
        prop_assert_eq!((a, t, i), (r.totals.amount_excl_tax, r.totals.tax_amount, r.totals.amount_incl_tax));
        prop_assert!(r.totals.amount_incl_tax_in_words.is_some());
    }

    #[test]
    fn a_red_invoice_mirrors_the_blue_one(input in arb_invoice()) {
        let blue = compute_invoice(&input);
        let neg = |v: &Option<fapiao::amount::DecimalInput>| v.as_ref().map(|x| match x {
            fapiao::amount::DecimalInput::Text(t) => fapiao::amount::DecimalInput::Text(format!("-{t}")),
            other => other.clone(),
        });
        let red_lines = input.lines.iter().map(|l| LineInput { quantity: neg(&l.quantity), amount: neg(&l.amount), ..l.clone() }).collect();
        let red = compute_invoice(&InvoiceInput { red: true, ..invoice(input.price_includes_tax, red_lines) });
        prop_assert!(red.valid, "{:?}", red.errors);
        for (b, r) in blue.lines.iter().zip(&red.lines) {
            let (b, r) = (b.as_ref().unwrap(), r.as_ref().unwrap());
            prop_assert_eq!(r.amount_excl_tax, -b.amount_excl_tax);
            prop_assert_eq!(r.tax_amount, -b.tax_amount);
            prop_assert_eq!(r.quantity, b.quantity.map(|q| -q));
            prop_assert_eq!(r.unit_price_excl_tax, b.unit_price_excl_tax);
        }
        prop_assert_eq!(red.totals.amount_incl_tax, -blue.totals.amount_incl_tax);
    }

    #[test]
    fn full_red_against_blue_cancels_it(input in arb_invoice()) {
        let blue = compute_invoice(&input);
        let r = compute_red(&RedInput { blue: input, reason: Some("01".into()), ..Default::default() });
        prop_assert!(r.valid, "{:?}", r.errors);
        prop_assert_eq!(r.totals.amount_excl_tax, -blue.totals.amount_excl_tax);
        prop_assert_eq!(r.totals.tax_amount, -blue.totals.tax_amount);
        prop_assert!(r.remaining.iter().all(|x| x.amount_excl_tax.is_zero() && x.tax_amount.is_zero()));
    }

    #[test]
    fn partial_reds_never_exceed_and_close_exactly(input in arb_invoice(), steps in prop::collection::vec((0usize..40, 1u32..100), 1..6)) {
        let blue = compute_invoice(&input);
        let mut reversed: Vec<ReversedLine> = Vec::new();
        let (mut excl, mut tax) = (Decimal::ZERO, Decimal::ZERO);
        for (li, pct) in steps {
            let no = li % input.lines.len() + 1;
            let state = compute_red(&RedInput { blue: input.clone(), already_reversed: reversed.clone(), lines: vec![], ..Default::default() });
            let Some(rem) = state.remaining.iter().find(|x| x.blue_line_no == no) else { continue };
            let basis = if input.price_includes_tax { rem.amount_incl_tax } else { rem.amount_excl_tax };
            let amount = fapiao::amount::rounding::mul_div_round(basis, Decimal::from(pct), Decimal::ONE_HUNDRED, 2).unwrap();
            if amount.is_zero() { continue; }
            let r = compute_red(&RedInput {
                blue: input.clone(),
                reason: Some("04".into()),
                lines: vec![RedLineInput { blue_line_no: no, quantity: None, amount: Some(amount.into()) }],
                already_reversed: reversed.clone(),
            });
            prop_assert!(r.valid, "{:?}", r.errors);
            prop_assert!(r.remaining.iter().all(|x| x.amount_excl_tax >= Decimal::ZERO && x.tax_amount >= Decimal::ZERO));
            let l = &r.lines[0].line;
            prop_assert!(l.amount_in_basis(input.price_includes_tax) == -amount);
            excl += l.amount_excl_tax; tax += l.tax_amount;
            reversed.push(ReversedLine { blue_line_no: no, amount_excl_tax: Some(l.amount_excl_tax.into()), tax_amount: Some(l.tax_amount.into()), quantity: None });
        }
        // Whatever remains, a full red takes exactly; all reds together cancel the blue invoice.
        let last = compute_red(&RedInput { blue: input.clone(), already_reversed: reversed, ..Default::default() });
        if last.valid {
            excl += last.totals.amount_excl_tax; tax += last.totals.tax_amount;
        } else {
            prop_assert_eq!(last.errors[0].code, "RED_NOTHING_LEFT");
        }
        prop_assert_eq!(excl, -blue.totals.amount_excl_tax);
        prop_assert_eq!(tax, -blue.totals.tax_amount);
    }

    #[test]
    fn split_parts_add_up_and_respect_limits(input in arb_invoice(), max_lines in 1usize..8, pct in 1u32..150, incl_limit in any::<bool>()) {
        // A limit between 1% and 150% of the order, so that at most about a hundred parts are needed.
        let whole = compute_invoice(&input);
        let base = if incl_limit { whole.totals.amount_incl_tax } else { whole.totals.amount_excl_tax };
        let max = fapiao::amount::rounding::mul_div_round(base, Decimal::from(pct), Decimal::ONE_HUNDRED, 2).unwrap().max(Decimal::ONE);
        let limits = SplitLimits { max_amount: Some(max.into()), max_lines: Some(max_lines), amount_includes_tax: incl_limit };
        let r = split_invoice(&input, &limits);
        if !r.valid {
            // Only a unit that cannot be cut is a reason not to split.
            prop_assert!(r.errors.iter().all(|e| e.code == "SPLIT_UNIT_TOO_LARGE"), "{:?}", r.errors);
            return Ok(());
        }
        let (mut a, mut t, mut i) = (Decimal::ZERO, Decimal::ZERO, Decimal::ZERO);
        for p in &r.parts {
            prop_assert!(p.result.valid, "{:?}", p.result.errors);
            prop_assert!(p.input.lines.len() <= max_lines);
            let m = if limits.amount_includes_tax { p.result.totals.amount_incl_tax } else { p.result.totals.amount_excl_tax };
            prop_assert!(m <= max);
            a += p.result.totals.amount_excl_tax; t += p.result.totals.tax_amount; i += p.result.totals.amount_incl_tax;
        }
        prop_assert_eq!((a, t, i), (r.totals.amount_excl_tax, r.totals.tax_amount, r.totals.amount_incl_tax));
        prop_assert_eq!(r.totals.amount_incl_tax, whole.totals.amount_incl_tax);
        // Every order line is in exactly one part, in order (pieces of a cut line repeat its index).
        let sources: Vec<usize> = r.parts.iter().flat_map(|p| p.source_lines.iter().copied()).collect();
        prop_assert!(sources.windows(2).all(|w| w[0] <= w[1]));
        let mut distinct = sources.clone();
        distinct.dedup();
        prop_assert_eq!(distinct, (0..input.lines.len()).collect::<Vec<_>>());
    }

    #[test]
    fn split_with_discounts_keeps_them_together(lines in prop::collection::vec((1i64..10_000_000, 0i64..100), 1..30), max_lines in 2usize..7) {
        let mut inputs = Vec::new();
        for (k, (cents, pct)) in lines.iter().enumerate() {
            let name = format!("x{k}");
            inputs.push(amount_line(&name, &dec(*cents, 2).to_string(), "0.13"));
            let disc = cents * pct / 100;
            if disc > 0 && disc < *cents {
                inputs.push(discount(&name, &dec(-disc, 2).to_string(), "0.13"));
            }
        }
        let input = invoice(false, inputs);
        let r = split_invoice(&input, &SplitLimits { max_lines: Some(max_lines), max_amount: Some("50000".into()), ..Default::default() });
        prop_assert!(r.valid, "{:?}", r.errors);
        for p in &r.parts {
            for (k, l) in p.input.lines.iter().enumerate() {
                if l.kind.as_deref() == Some("discount") {
                    prop_assert!(k > 0 && p.input.lines[k - 1].name == l.name && p.input.lines[k - 1].kind.is_none());
                }
            }
        }
    }

    #[test]
    fn spread_adds_up_and_stays_proportional(amounts in prop::collection::vec(0i64..100_000_000, 1..50), frac in 1u32..1000) {
        let amounts: Vec<Decimal> = amounts.iter().map(|&c| dec(c, 2)).collect();
        let total: Decimal = amounts.iter().sum();
        prop_assume!(total > Decimal::ZERO);
        let discount = fapiao::amount::rounding::mul_div_round(total, Decimal::from(frac), Decimal::from(1000), 2).unwrap();
        prop_assume!(discount > Decimal::ZERO);
        let shares = spread_discount(&amounts, discount).unwrap();
        prop_assert_eq!(shares.iter().sum::<Decimal>(), discount);
        for (s, a) in shares.iter().zip(&amounts) {
            prop_assert!(*s >= Decimal::ZERO && s <= a);
            // Within a cent of the exact proportional share.
            let exact = discount * *a / total;
            prop_assert!((*s - exact).abs() < d("0.01"), "{} vs {}", s, exact);
        }
    }

    #[test]
    fn words_read_back(cents in 0u64..1_000_000_000_000_000_000, invoice_style in any::<bool>()) {
        let v = Decimal::from_i128_with_scale(i128::from(cents), 2);
        let style = if invoice_style { WordsStyle::Invoice } else { WordsStyle::Plain };
        let w = fapiao::amount::decimal_in_words(v, style).unwrap();
        prop_assert_eq!(read_words(&w), Some(i128::from(cents)), "{}", w);
        prop_assert!(!w.contains("零零"));
        prop_assert_eq!(w.ends_with('整'), cents % 100 == 0);
        prop_assert_eq!(w.starts_with('⊗'), invoice_style);
        let other_unit = if invoice_style { '元' } else { '圆' };
        prop_assert!(!w.contains(other_unit));
    }

    #[test]
    fn arbitrary_text_never_panics(a in ".{0,30}", b in "[-+0-9.%]{0,30}") {
        let l = LineInput {
            name: Some(a.clone()), quantity: Some(b.as_str().into()), unit_price: Some(a.as_str().into()),
            amount: Some(b.as_str().into()), tax_rate: Some(b.as_str().into()), kind: Some(a.clone()),
            ..Default::default()
        };
        let input = invoice(true, vec![l]);
        let r = compute_invoice(&input);
        prop_assert_eq!(r.valid, r.errors.is_empty());
        let _ = amount_in_words(&b, WordsOptions::default());
    }
}

/// Reads Chinese capitals back into cents (test oracle for `decimal_in_words`).
fn read_words(w: &str) -> Option<i128> {
    let digit = |c| "零壹贰叁肆伍陆柒捌玖".chars().position(|x| x == c).map(|d| d as i128);
    let (mut total, mut section, mut d, mut cents) = (0i128, 0i128, 0i128, 0i128);
    let mut after_yuan = false;
    for c in w.chars() {
        match c {
            '⊗' | '整' => {}
            '拾' => {
                section += d * 10;
                d = 0;
            }
            '佰' => {
                section += d * 100;
                d = 0;
            }
            '仟' => {
                section += d * 1000;
                d = 0;
            }
            '万' => {
                total += (section + d) * 10_000;
                section = 0;
                d = 0;
            }
            '亿' => {
                total = (total + section + d) * 100_000_000;
                section = 0;
                d = 0;
            }
            '元' | '圆' => {
                total += section + d;
                section = 0;
                d = 0;
                after_yuan = true;
            }
            '角' => {
                cents += d * 10;
                d = 0;
            }
            '分' => {
                cents += d;
                d = 0;
            }
            c => d = digit(c)?,
        }
    }
    let _ = after_yuan;
    Some(total * 100 + cents)
}
