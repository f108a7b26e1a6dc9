// Shared by tests/wasm_node.rs and tests/wasm_browser.rs: the same checks, run
// through the JavaScript boundary in Node and in headless Chromium.

use js_sys::{Array, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::wasm_bindgen_test;

fn get(v: &JsValue, key: &str) -> JsValue {
    Reflect::get(v, &JsValue::from_str(key)).expect("object")
}

fn string(v: &JsValue, key: &str) -> String {
    get(v, key).as_string().unwrap_or_else(|| panic!("{key} is not a string"))
}

fn codes(list: &JsValue) -> Vec<String> {
    list.dyn_ref::<Array>()
        .expect("array")
        .iter()
        .map(|i| string(&i, "code"))
        .collect()
}

fn obj(pairs: &[(&str, &str)]) -> JsValue {
    let o = js_sys::Object::new();
    for (k, v) in pairs {
        Reflect::set(&o, &JsValue::from_str(k), &JsValue::from_str(v)).unwrap();
    }
    o.into()
}

#[wasm_bindgen_test]
fn valid_uscc_has_the_contract_shape() {
    let r = fapiao::wasm::validate_tax_id(" 91110000600037341l ");
    assert_eq!(get(&r, "valid").as_bool(), Some(true));
    assert_eq!(string(&r, "normalized"), "91110000600037341L");
    assert_eq!(string(&r, "kind"), "uscc");
    assert_eq!(Array::from(&get(&r, "errors")).length(), 0);
    assert_eq!(Array::from(&get(&r, "suggestions")).length(), 0);
    let d = get(&r, "details");
    assert_eq!(string(&d, "regionCode"), "110000");
    assert_eq!(string(&d, "regionName"), "北京市");
    assert_eq!(string(&d, "registrationAuthority"), "工商（市场监督管理）");
    assert_eq!(string(&d, "entityType"), "企业");
    assert_eq!(string(&d, "organizationCode"), "600037341");
}

#[wasm_bindgen_test]
fn issues_carry_code_field_and_both_messages() {
    let r = fapiao::wasm::validate_tax_id("91110000600037341N");
    assert_eq!(get(&r, "valid").as_bool(), Some(false));
    let e = Array::from(&get(&r, "errors")).get(0);
    assert_eq!(string(&e, "code"), "TAXID_CHECKSUM");
    assert_eq!(string(&e, "field"), "taxId");
    assert!(string(&e, "message").contains("校验码"));
    assert!(string(&e, "messageEn").contains("check character"));
    assert_eq!(get(&e, "overridable").as_bool(), Some(true));
    let r = fapiao::wasm::validate_tax_id("9111OOOO600037341L");
    let s = Array::from(&get(&r, "suggestions"));
    assert!(s.iter().any(|v| v.as_string().as_deref() == Some("91110000600037341L")));
}

#[wasm_bindgen_test]
fn unknown_region_name_is_null_and_kind_null_for_garbage() {
    let r = fapiao::wasm::validate_tax_id("");
    assert!(get(&r, "kind").is_null());
    assert_eq!(codes(&get(&r, "errors")), ["TAXID_EMPTY"]);
    let r = fapiao::wasm::validate_tax_id("99990000600037341J");
    let d = get(&r, "details");
    assert!(get(&d, "regionName").is_null());
}

#[wasm_bindgen_test]
fn resident_birth_date_uses_the_js_clock() {
    let r = fapiao::wasm::validate_tax_id("110102199101010078");
    assert_eq!(string(&r, "kind"), "resident");
    assert_eq!(string(&get(&r, "details"), "birthDate"), "1991-01-01");
}

#[wasm_bindgen_test]
fn validate_buyer_through_js_objects() {
    let buyer = obj(&[("type", "company"), ("name", "厦门某某贸易有限公司"), ("taxId", "91350203M0001QKT19")]);
    let options = obj(&[("invoiceType", "special")]);
    let r = fapiao::wasm::validate_buyer(buyer.clone(), Some(options)).unwrap();
    assert_eq!(codes(&get(&r, "errors")), ["TAXID_CHECKSUM"]);
    assert_eq!(string(&Array::from(&get(&r, "errors")).get(0), "field"), "buyer.taxId");

    let options = obj(&[("invoiceType", "special")]);
    let confirmed = Array::of1(&JsValue::from_str("TAXID_CHECKSUM"));
    Reflect::set(&options, &JsValue::from_str("confirmed"), &confirmed).unwrap();
    let r = fapiao::wasm::validate_buyer(buyer, Some(options)).unwrap();
    assert_eq!(get(&r, "valid").as_bool(), Some(true));
    assert_eq!(string(&get(&r, "normalized"), "taxId"), "91350203M0001QKT19");
}

#[wasm_bindgen_test]
fn wrong_argument_types_throw() {
    let buyer = js_sys::Object::new();
    Reflect::set(&buyer, &JsValue::from_str("name"), &JsValue::from_f64(42.0)).unwrap();
    assert!(fapiao::wasm::validate_buyer(buyer.into(), None).is_err());
    // Missing options are fine: 数电普票 by default.
    let r = fapiao::wasm::validate_buyer(obj(&[("type", "person"), ("name", "张三")]), None).unwrap();
    assert_eq!(get(&r, "valid").as_bool(), Some(true));
}

fn parse(json: &str) -> JsValue {
    js_sys::JSON::parse(json).expect("test JSON")
}

#[wasm_bindgen_test]
fn compute_invoice_through_js_objects() {
    // rules.md §4.2: 含税 113.00 at 13% → tax 13.00, amount 100.00; 1265.77 at 1% → 12.53 / 1253.24.
    let input = parse(
        r#"{"priceIncludesTax": true, "lines": [
            {"name": "*信息技术服务*接口服务费", "amount": "113.00", "taxRate": "0.13"},
            {"name": "*现代服务*阅卷系统服务费", "amount": "1265.77", "taxRate": "0.01"}
        ]}"#,
    );
    let r = fapiao::wasm::amount::compute_invoice(input).unwrap();
    assert_eq!(get(&r, "valid").as_bool(), Some(true));
    let lines = Array::from(&get(&r, "lines"));
    assert_eq!(string(&lines.get(0), "taxAmount"), "13.00");
    assert_eq!(string(&lines.get(0), "amountExclTax"), "100.00");
    assert_eq!(string(&lines.get(1), "taxAmount"), "12.53");
    assert_eq!(string(&lines.get(1), "amountExclTax"), "1253.24");
    let totals = get(&r, "totals");
    assert_eq!(string(&totals, "amountInclTax"), "1378.77");
    assert_eq!(string(&totals, "amountInclTaxInWords"), "壹仟叁佰柒拾捌元柒角柒分");
}

#[wasm_bindgen_test]
fn compute_invoice_reports_issues_with_line_paths() {
    let input = parse(r#"{"priceIncludesTax": false, "lines": [{"name": "x", "amount": "abc", "taxRate": "0.13"}]}"#);
    let r = fapiao::wasm::amount::compute_invoice(input).unwrap();
    assert_eq!(get(&r, "valid").as_bool(), Some(false));
    let e = Array::from(&get(&r, "errors")).get(0);
    assert_eq!(string(&e, "code"), "AMOUNT_FORMAT");
    assert!(string(&e, "field").starts_with("lines[0]"));
}

/// The lean path of computeInvoice (src/wasm/fast.rs): one number a line says
/// which members follow in the text; 13 numbers a line come back. Text that does
/// not hold exactly the announced values is refused (the caller then takes the
/// general path).
#[wasm_bindgen_test]
fn compute_invoice_lean_path_form_and_refusals() {
    use fapiao::wasm::fast::{compute_invoice, invoice_text};
    const NAME: u32 = 1;
    const QUANTITY: u32 = 1 << 4;
    const UNIT_PRICE: u32 = 1 << 5;
    const AMOUNT: u32 = 1 << 6;
    const RATE: u32 = 1 << 8;
    const KIND: u32 = 1 << 9;
    const SAME_NAME: u32 = 1 << 15;
    let masks = [
        NAME | QUANTITY | UNIT_PRICE | RATE,
        SAME_NAME | AMOUNT | RATE | KIND | (AMOUNT << 16),
    ];
    // 3 × 33.333333 at 13%, tax-inclusive, then a discount of −10 given as a number.
    let text = "*餐饮服务*工作餐\u{1f}3\u{1f}33.333333\u{1f}0.13\u{1f}-10\u{1f}0.13\u{1f}discount\u{1f}";
    let v = compute_invoice(true, &masks, text).unwrap();
    assert_eq!(v.len(), 26);
    // kind, quantity (3, scale 0), unit prices (excl. 29.5, incl. 33.333333),
    // amounts in cents (88.50 + 11.50 = 100.00), rate 0.13, no deduction.
    assert_eq!(&v[..12], &[1.0, 3.0, 0.0, 295.0, 1.0, 33333333.0, 6.0, 8850.0, 1150.0, 10000.0, 13.0, 2.0]);
    assert!(v[12].is_nan());
    assert_eq!(&v[13..16], &[2.0, 0.0, -1.0]);
    assert_eq!(&v[20..23], &[-885.0, -115.0, -1000.0]);
    let head = parse(&invoice_text());
    assert_eq!(get(&head, "valid").as_bool(), Some(true));
    assert_eq!(string(&get(&head, "totals"), "amountInclTax"), "90.00");
    // Refused: a separator inside a value, a value too few, a name "as the line
    // before" on the first line, a number for a text member, unknown bits.
    let refused = |masks: &[u32], text: &str| compute_invoice(true, masks, text).is_err();
    assert!(refused(&[NAME | AMOUNT | RATE], "x\u{1f}1.00\u{1f}2\u{1f}0.13\u{1f}"));
    assert!(refused(&[NAME | AMOUNT | RATE], "x\u{1f}1.00\u{1f}"));
    assert!(refused(&[SAME_NAME | AMOUNT | RATE], "1.00\u{1f}0.13\u{1f}"));
    assert!(refused(&[NAME | AMOUNT | RATE | (NAME << 16)], "1\u{1f}1.00\u{1f}0.13\u{1f}"));
    assert!(refused(&[NAME | AMOUNT | RATE | 1 << 14], "x\u{1f}1.00\u{1f}0.13\u{1f}"));
    assert!(!refused(&[NAME | AMOUNT | RATE], "x\u{1f}1.00\u{1f}0.13\u{1f}"));
    // A figure a double cannot hold exactly: refused too, for the general path.
    assert!(refused(
        &[NAME | QUANTITY | UNIT_PRICE | RATE],
        "x\u{1f}3\u{1f}7654321012.37\u{1f}0.13\u{1f}"
    ));
}

#[wasm_bindgen_test]
fn amount_in_words_both_styles() {
    let words = |v: &str, style: Option<&str>| {
        let options = style.map(|s| obj(&[("style", s)]));
        fapiao::wasm::amount::amount_in_words(JsValue::from_str(v), options).unwrap()
    };
    assert_eq!(words("10020.05", None), "壹万零贰拾元零伍分");
    assert_eq!(words("10020", None), "壹万零贰拾元整");
    assert_eq!(words("1265.77", Some("invoice")), "⊗壹仟贰佰陆拾伍圆柒角柒分");
}

#[wasm_bindgen_test]
fn suggestion_edits_cross_with_their_positions() {
    let r = fapiao::wasm::validate_tax_id("91620105224521729M");
    let edits = Array::from(&get(&r, "suggestionEdits"));
    assert_eq!(edits.length(), Array::from(&get(&r, "suggestions")).length());
    let check = edits
        .iter()
        .find(|e| string(e, "suggestion") == "91620105224521729E")
        .expect("the check-character fix is among the suggestions");
    assert_eq!(string(&check, "kind"), "uscc");
    assert_eq!(string(&check, "edit"), "substitution");
    let positions: Vec<f64> = Array::from(&get(&check, "positions")).iter().filter_map(|v| v.as_f64()).collect();
    assert_eq!(positions, [18.0]);
    // A person's 18 digits with 30 February: the date, not a confirmable checksum.
    let buyer = obj(&[("type", "person"), ("name", "张三"), ("taxId", "110102199102300077")]);
    let options = obj(&[]);
    let confirmed = Array::of2(&JsValue::from_str("TAXID_CHECKSUM"), &JsValue::from_str("TAXID_ORG_CHECKSUM"));
    Reflect::set(&options, &JsValue::from_str("confirmed"), &confirmed).unwrap();
    let r = fapiao::wasm::validate_buyer(buyer, Some(options)).unwrap();
    assert_eq!(codes(&get(&r, "errors")), ["TAXID_BIRTH_DATE"]);
}

#[wasm_bindgen_test]
fn typo_rules_are_the_same_through_js() {
    let strings = |v: &JsValue| -> Vec<String> { Array::from(v).iter().filter_map(|s| s.as_string()).collect() };
    // (input, kind, error codes, a suggestion that must be offered)
    let cases: &[(&str, &str, &[&str], Option<&str>)] = &[
        ("3607291960701667X", "legacy17", &["TAXID_BIRTH_DATE", "TAXID_LEGACY_SUFFIX"], Some("36072919680701667X")),
        ("ABCDEFGHJKLMNPQRTU01", "legacy20", &["TAXID_LEGACY_STRUCTURE"], None),
        ("230207202407233396", "resident", &[], None),
        ("110102199102300077", "resident", &["TAXID_BIRTH_DATE"], None),
        ("45070819730606555X", "resident", &["TAXID_CHECKSUM"], Some("45070219730606555X")),
        ("9111000060003734L", "legacy17", &["TAXID_LEGACY_STRUCTURE"], Some("91110000600037341L")),
    ];
    for (input, kind, errors, suggestion) in cases {
        let r = fapiao::wasm::validate_tax_id(input);
        assert_eq!(string(&r, "kind"), *kind, "{input}");
        assert_eq!(codes(&get(&r, "errors")), *errors, "{input}");
        let native = fapiao::validate_tax_id(input);
        assert_eq!(strings(&get(&r, "suggestions")), native.suggestions, "{input}");
        if let Some(s) = suggestion {
            assert!(native.suggestions.iter().any(|x| x == s), "{input}: {:?}", native.suggestions);
        }
    }
}

/// `text::to_lowercase` hands text that is not ASCII to JavaScript's
/// `toLowerCase`: the same mapping as Rust's `str::to_lowercase`, final sigma
/// included, over every non-ASCII character of the Basic Multilingual Plane that
/// changes case and the sigma's contexts.
#[wasm_bindgen_test]
fn to_lowercase_is_str_to_lowercase() {
    let mut checked = 0;
    for c in (0x80..0x10000u32).filter_map(char::from_u32).filter(|c| c.to_lowercase().ne(Some(*c))) {
        let s = format!("{c}");
        assert_eq!(fapiao::text::to_lowercase(&s), s.to_lowercase(), "{s:?}");
        checked += 1;
    }
    assert!(checked > 1000, "{checked}");
    for s in ["ΑΣ", "ΑΣ Β", "Σ", "ΑΣ.", "Α'Σ", "ΑΣ'", "ΑΣ'Β", "İSTANBUL.COM", "ÄBC.De", "ΌΣΟΣ", "示例.中国"] {
        assert_eq!(fapiao::text::to_lowercase(s), s.to_lowercase(), "{s:?}");
    }
}
