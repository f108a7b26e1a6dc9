use super::*;
use crate::amount::DecimalInput;

fn line(name: &str, code: &str, amount: &str, rate: &str) -> LineInput {
    LineInput {
        name: Some(name.into()),
        tax_code: Some(code.into()),
        amount: Some(amount.into()),
        tax_rate: Some(rate.into()),
        ..Default::default()
    }
}

fn form() -> IssueForm {
    IssueForm {
        order_id: Some("ORD-1".into()),
        invoice_type: Some("special".into()),
        buyer: BuyerInput {
            name: Some("北京某某科技有限公司".into()),
            tax_id: Some("91110000600037341L".into()),
            ..Default::default()
        },
        price_includes_tax: true,
        lines: vec![
            line("打印纸", "1060201070000000000", "113.00", "0.13"),
            LineInput {
                kind: Some("discount".into()),
                tax_code: None,
                ..line("打印纸", "", "-11.30", "0.13")
            },
        ],
        remark: Some("  订单 ORD-1 ".into()),
        delivery: Delivery {
            email: Some("A@Example.COM".into()),
            mobile: Some("13800138000".into()),
        },
        ..Default::default()
    }
}

fn codes(errors: &[Issue]) -> Vec<&'static str> {
    errors.iter().map(|e| e.code).collect()
}

#[test]
fn builds_a_canonical_request() {
    let r = build_issue_request(&form());
    assert!(r.valid, "{:?}", r.errors);
    let req = r.request.unwrap();
    assert_eq!(req.order_id, "ORD-1");
    assert_eq!(req.invoice_type, InvoiceType::Special);
    assert_eq!(req.lines.len(), 2);
    assert!(
        req.lines[0].name.starts_with('*') && req.lines[0].name.ends_with("*打印纸"),
        "{}",
        req.lines[0].name
    );
    assert_eq!(
        req.lines[1].tax_code, "1060201070000000000",
        "discount line takes the discounted line's code"
    );
    assert_eq!(req.lines[1].kind, LineKind::Discount);
    assert_eq!(req.totals.amount_incl_tax, "101.70");
    assert_eq!(req.remark, "订单 ORD-1");
    assert_eq!(req.delivery.email, "A@example.com");
    assert_eq!(req.delivery.mobile, "13800138000");
}

#[test]
fn a_canonical_request_rebuilds_to_itself() {
    let first = build_issue_request(&form()).request.unwrap();
    // Read the canonical request back as a form, the way the proxy does with JSON.
    let again = IssueForm {
        schema_version: Some(SchemaVersionInput::Number(1)),
        order_id: Some(first.order_id.clone()),
        invoice_type: Some("special".into()),
        buyer: BuyerInput {
            kind: Some("company".into()),
            name: Some(first.buyer.name.clone()),
            tax_id: Some(first.buyer.tax_id.clone()),
            email: Some(first.buyer.email.clone()),
            mobile: Some(first.buyer.mobile.clone()),
            ..Default::default()
        },
        price_includes_tax: first.price_includes_tax,
        lines: first.invoice_input().lines,
        remark: Some(first.remark.clone()),
        ..Default::default()
    };
    let second = build_issue_request(&again);
    assert!(second.valid, "{:?}", second.errors);
    assert_eq!(second.request.unwrap(), first);
}

#[test]
fn summary_unknown_and_missing_codes_are_refused() {
    let mut f = form();
    f.lines[0].tax_code = Some("1060200000000000000".into());
    assert!(codes(&build_issue_request(&f).errors).contains(&"TAXCODE_SUMMARY"));
    f.lines[0].tax_code = None;
    assert!(codes(&build_issue_request(&f).errors).contains(&"TAXCODE_EMPTY"));
    f.lines[0].tax_code = Some("1999999999999999999".into());
    let r = build_issue_request(&f);
    assert!(codes(&r.errors).contains(&"TAXCODE_UNKNOWN"));
    // An unknown code is overridable: a newer table may have it.
    f.confirmed = vec!["TAXCODE_UNKNOWN".into()];
    assert!(build_issue_request(&f).valid);
}

#[test]
fn buyer_amount_and_request_rules_all_apply() {
    let mut f = form();
    f.order_id = Some("订单 1".into());
    f.invoice_type = Some("paper".into());
    f.buyer.tax_id = Some("91110000600037341N".into());
    f.lines[0].amount = Some(DecimalInput::NonInteger);
    f.remark = Some("备".repeat(201));
    f.schema_version = Some(SchemaVersionInput::Number(2));
    let r = build_issue_request(&f);
    assert!(!r.valid && r.request.is_none());
    let c = codes(&r.errors);
    for want in [
        "ORDER_ID_FORMAT",
        "INVOICE_TYPE_INVALID",
        "TAXID_CHECKSUM",
        "AMOUNT_NOT_A_STRING",
        "REMARK_TOO_LONG",
        "REQUEST_SCHEMA_VERSION",
    ] {
        assert!(
            c.iter().any(|x| x.starts_with(want.split('_').next().unwrap())),
            "{want} missing in {c:?}"
        );
    }
    assert!(c.contains(&"TAXID_CHECKSUM") && c.contains(&"REMARK_TOO_LONG") && c.contains(&"ORDER_ID_FORMAT"));
}

#[test]
fn an_empty_name_is_reported_once() {
    let mut f = form();
    f.lines.truncate(1);
    f.lines[0].name = Some("  ".into());
    let r = build_issue_request(&f);
    let at: Vec<_> = r.errors.iter().filter(|e| e.field == "lines[0].name").collect();
    assert_eq!(at.len(), 1, "{at:?}");
}

fn blue() -> InvoiceInput {
    build_issue_request(&form()).request.unwrap().invoice_input()
}

#[test]
fn red_requests() {
    let base = RedForm {
        order_id: Some("ORD-1-R1".into()),
        blue_order_id: Some("ORD-1".into()),
        blue_invoice_number: Some("2644 2000 0001 2345 6789".into()),
        reason: Some("销售折让".into()),
        lines: vec![RedLineInput {
            blue_line_no: 1,
            quantity: None,
            amount: Some("10.00".into()),
        }],
        blue: Some(blue()),
        ..Default::default()
    };
    let r = build_red_request(&base);
    assert!(r.valid, "{:?}", r.errors);
    let req = r.request.unwrap();
    assert_eq!(req.blue_invoice_number, "26442000000123456789");
    assert_eq!(req.reason, RedReason::SalesAllowance);
    assert_eq!(req.totals.unwrap().amount_incl_tax, "-10.00");

    // 开票有误 allows only a full reversal.
    let r = build_red_request(&RedForm {
        reason: Some("01".into()),
        ..base.clone()
    });
    assert!(!r.valid);
    let full = build_red_request(&RedForm {
        reason: Some("01".into()),
        full: true,
        lines: vec![],
        ..base.clone()
    });
    assert!(full.valid, "{:?}", full.errors);
    assert_eq!(full.request.unwrap().totals.unwrap().amount_incl_tax, "-101.70");

    let bad = build_red_request(&RedForm {
        order_id: Some("ORD-1".into()),
        blue_invoice_number: Some("1234".into()),
        reason: Some("x".into()),
        full: true,
        ..base
    });
    let c = codes(&bad.errors);
    for want in [
        "RED_ORDER_ID_SAME",
        "RED_BLUE_NUMBER_FORMAT",
        "RED_REASON_INVALID",
        "RED_SCOPE",
    ] {
        assert!(c.contains(&want), "{want} missing in {c:?}");
    }
}
