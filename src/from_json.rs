//! Reads the input types from the crate's JSON values (`crate::json`) for the
//! WebAssembly boundary, where the serde derives' visitors cost more code than all
//! of the rest of the boundary. It reads what the derives read: the same member
//! names, missing members default, `null` only where the field is an `Option`,
//! unknown members ignored, a value of the wrong type an error. A native test
//! (below) holds it to the derives on the same inputs, so the serde attributes stay
//! the one description of the wire format.
#![cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]

use crate::amount::{DecimalInput, InvoiceInput, LineInput, RedInput, RedLineInput, ReversedLine, SplitLimits};
use crate::amount::{WordsOptions, WordsStyle};
use crate::buyer::{BuyerInput, BuyerOptions, InvoiceType};
use crate::json::{Kind, Value};
#[cfg_attr(not(feature = "special-business"), allow(unused_imports))]
use crate::request::{Delivery, IssueForm, RedForm, SchemaVersionInput, SpecialBusiness, Transport};
use crate::taxcode::SearchOptions;

/// Why a value could not be read: the member path and what was expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ReadError(pub String);

type R<T> = Result<T, ReadError>;

/// A type read from a JSON value.
pub(crate) trait FromJson: Sized {
    /// Reads `v`.
    fn from_json(v: Value) -> R<Self>;
}

/// The error for a value of the wrong type.
#[inline(never)]
fn expected<T>(what: &str, v: &Value) -> R<T> {
    let found = match v.kind {
        Kind::Null => "null",
        Kind::Bool(_) => "a boolean",
        Kind::Number(_) => "a number",
        Kind::String(_) => "a string",
        Kind::Array(_) => "an array",
        Kind::Object(_) => "an object",
    };
    Err(ReadError(format!("invalid type: {found}, expected {what}")))
}

/// Adds the member name to an error from inside it.
#[inline(never)]
fn at(key: &str, e: ReadError) -> ReadError {
    ReadError(format!("{key}: {}", e.0))
}

/// The members of an object, for a struct with defaults.
#[inline(never)]
fn members(v: Value) -> R<Vec<(String, Value)>> {
    match v.kind {
        Kind::Object(m) => Ok(m),
        _ => expected("an object", &v),
    }
}

/// Reads one member into its field, naming the member on error.
fn set<T: FromJson>(field: &mut T, key: &str, v: Value) -> R<()> {
    *field = T::from_json(v).map_err(|e| at(key, e))?;
    Ok(())
}

/// A safe integer (|n| < 2⁵³) written without fraction or exponent, as
/// `JSON.stringify` writes one (any other number is a float in JavaScript).
pub(crate) fn safe_integer(text: &str) -> Option<i64> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, text),
    };
    if digits.is_empty() || digits.len() > 16 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n = digits.bytes().fold(0i64, |n, b| n * 10 + i64::from(b - b'0'));
    (n < 1 << 53).then_some(if negative { -n } else { n })
}

/// A non-negative integer no larger than `max`.
#[inline(never)]
fn unsigned(v: &Value, max: u64) -> R<u64> {
    match &v.kind {
        Kind::Number(t) => match safe_integer(t) {
            Some(n) if n >= 0 && n as u64 <= max => Ok(n as u64),
            _ => Err(ReadError(format!(
                "invalid value: {t}, expected an integer from 0 to {max}"
            ))),
        },
        _ => expected("an integer", v),
    }
}

impl FromJson for u32 {
    fn from_json(v: Value) -> R<Self> {
        unsigned(&v, u64::from(u32::MAX)).map(|n| n as u32)
    }
}

impl FromJson for u64 {
    fn from_json(v: Value) -> R<Self> {
        unsigned(&v, u64::MAX)
    }
}

impl FromJson for usize {
    fn from_json(v: Value) -> R<Self> {
        unsigned(&v, usize::MAX as u64).map(|n| n as usize)
    }
}

impl FromJson for bool {
    fn from_json(v: Value) -> R<Self> {
        match v.kind {
            Kind::Bool(b) => Ok(b),
            _ => expected("a boolean", &v),
        }
    }
}

impl FromJson for String {
    fn from_json(v: Value) -> R<Self> {
        match v.kind {
            Kind::String(s) => Ok(s),
            _ => expected("a string", &v),
        }
    }
}

impl<T: FromJson> FromJson for Option<T> {
    fn from_json(v: Value) -> R<Self> {
        match v.kind {
            Kind::Null => Ok(None),
            _ => T::from_json(v).map(Some),
        }
    }
}

impl<T: FromJson> FromJson for Vec<T> {
    fn from_json(v: Value) -> R<Self> {
        match v.kind {
            Kind::Array(items) => items
                .into_iter()
                .enumerate()
                .map(|(i, item)| T::from_json(item).map_err(|e| at(&i.to_string(), e)))
                .collect(),
            _ => expected("an array", &v),
        }
    }
}

impl FromJson for DecimalInput {
    fn from_json(v: Value) -> R<Self> {
        match v.kind {
            Kind::String(s) => Ok(DecimalInput::Text(s)),
            // A number that is not a safe integer arrived as a binary float.
            Kind::Number(t) => Ok(safe_integer(&t).map_or(DecimalInput::NonInteger, DecimalInput::Integer)),
            _ => expected("a decimal string or an integer", &v),
        }
    }
}

impl FromJson for SchemaVersionInput {
    fn from_json(v: Value) -> R<Self> {
        match &v.kind {
            Kind::String(_) => String::from_json(v).map(SchemaVersionInput::Text),
            Kind::Number(_) => u64::from_json(v).map(SchemaVersionInput::Number),
            _ => expected("a number or a string", &v),
        }
    }
}

/// A unit variant written as its name: the index of `s` in `names`.
#[inline(never)]
fn variant(v: &Value, names: &[&str]) -> R<usize> {
    match &v.kind {
        Kind::String(s) => names
            .iter()
            .position(|n| n == s)
            .ok_or_else(|| ReadError(format!("unknown variant `{s}`, expected one of {}", names.join(", ")))),
        _ => expected("a string", v),
    }
}

impl FromJson for InvoiceType {
    fn from_json(v: Value) -> R<Self> {
        Ok([InvoiceType::Special, InvoiceType::Normal][variant(&v, &["special", "normal"])?])
    }
}

impl FromJson for WordsStyle {
    fn from_json(v: Value) -> R<Self> {
        Ok([WordsStyle::Plain, WordsStyle::Invoice][variant(&v, &["plain", "invoice"])?])
    }
}

/// Implements `FromJson` for a struct whose members all default: each listed
/// member is read into its field, others are ignored.
macro_rules! read_struct {
    ($t:ty { $($key:literal => $field:ident),* $(,)? }) => {
        impl FromJson for $t {
            fn from_json(v: Value) -> R<Self> {
                let mut out = <$t>::default();
                for (key, value) in members(v)? {
                    match key.as_str() {
                        $($key => set(&mut out.$field, $key, value)?,)*
                        _ => {}
                    }
                }
                Ok(out)
            }
        }
    };
}

read_struct!(BuyerInput {
    "type" => kind, "name" => name, "taxId" => tax_id, "address" => address, "phone" => phone,
    "bankName" => bank_name, "bankAccount" => bank_account, "email" => email, "mobile" => mobile,
});
read_struct!(BuyerOptions { "invoiceType" => invoice_type, "confirmed" => confirmed });
read_struct!(InvoiceInput {
    "priceIncludesTax" => price_includes_tax, "invoiceType" => invoice_type, "red" => red,
    "priceDecimals" => price_decimals, "quantityDecimals" => quantity_decimals,
    "wordsStyle" => words_style, "lines" => lines,
});
read_struct!(LineInput {
    "name" => name, "taxCode" => tax_code, "spec" => spec, "unit" => unit, "quantity" => quantity,
    "unitPrice" => unit_price, "amount" => amount, "taxAmount" => tax_amount, "taxRate" => tax_rate,
    "kind" => kind, "preferentialPolicy" => preferential_policy, "zeroRateFlag" => zero_rate_flag,
    "deduction" => deduction,
});
read_struct!(WordsOptions { "style" => style });
read_struct!(SplitLimits {
    "maxAmount" => max_amount, "amountIncludesTax" => amount_includes_tax, "maxLines" => max_lines,
});
read_struct!(RedInput {
    "blue" => blue, "reason" => reason, "lines" => lines, "alreadyReversed" => already_reversed,
});
read_struct!(RedLineInput { "blueLineNo" => blue_line_no, "quantity" => quantity, "amount" => amount });
read_struct!(ReversedLine {
    "blueLineNo" => blue_line_no, "amountExclTax" => amount_excl_tax, "taxAmount" => tax_amount,
    "quantity" => quantity,
});
read_struct!(SearchOptions { "limit" => limit });
read_struct!(Delivery { "email" => email, "mobile" => mobile });
read_struct!(IssueForm {
    "schemaVersion" => schema_version, "orderId" => order_id, "invoiceType" => invoice_type,
    "buyer" => buyer, "confirmed" => confirmed, "priceIncludesTax" => price_includes_tax,
    "lines" => lines, "remark" => remark, "delivery" => delivery, "specialBusiness" => special_business,
});
#[cfg(feature = "batch")]
mod batch {
    use super::*;
    use crate::batch::{CheckOptions, ResultError, ResultFiles, ResultRow, Sheet, SheetRow};

    read_struct!(Sheet {
        "headers" => headers, "headerRow" => header_row, "rows" => rows, "source" => source,
        "sheetName" => sheet_name,
    });
    read_struct!(SheetRow { "row" => row, "cells" => cells });
    read_struct!(CheckOptions {
        "priceIncludesTax" => price_includes_tax, "maxAmount" => max_amount,
        "maxAmountIncludesTax" => max_amount_includes_tax, "maxLines" => max_lines, "confirmed" => confirmed,
    });
    read_struct!(ResultRow {
        "orderId" => order_id, "status" => status, "invoiceNumber" => invoice_number, "issuedAt" => issued_at,
        "error" => error, "files" => files,
    });
    read_struct!(ResultError { "code" => code, "message" => message });
    read_struct!(ResultFiles { "pdf" => pdf, "ofd" => ofd, "xml" => xml });
}
read_struct!(RedForm {
    "schemaVersion" => schema_version, "orderId" => order_id, "blueOrderId" => blue_order_id,
    "blueInvoiceNumber" => blue_invoice_number, "reason" => reason, "full" => full, "lines" => lines,
    "blue" => blue, "alreadyReversed" => already_reversed,
});
#[cfg(feature = "special-business")]
read_struct!(SpecialBusiness {
    "type" => kind, "province" => province, "city" => city, "district" => district,
    "address" => address, "projectName" => project_name, "crossCity" => cross_city,
    "crossRegionPermitNo" => cross_region_permit_no, "landVatProjectNo" => land_vat_project_no,
    "propertyCertificateNo" => property_certificate_no, "areaUnit" => area_unit,
    "contractNo" => contract_no, "leaseStart" => lease_start, "leaseEnd" => lease_end,
    "licensePlate" => license_plate, "transports" => transports,
});
/// Without the 特定业务 rules a block is only noted (and refused by the request builder).
#[cfg(not(feature = "special-business"))]
impl FromJson for SpecialBusiness {
    fn from_json(v: Value) -> R<Self> {
        members(v).map(|_| SpecialBusiness::default())
    }
}
#[cfg(feature = "special-business")]
read_struct!(Transport {
    "vehicleType" => vehicle_type, "vehicleNumber" => vehicle_number, "origin" => origin,
    "destination" => destination, "goodsName" => goods_name,
});

/// The boundary's readers, natively, for the differential fuzz target
/// (`fuzz/fuzz_targets/from_json.rs`, which holds them to the serde derives).
/// `None` when the text is not JSON; otherwise what the reader made of it.
#[cfg(not(target_arch = "wasm32"))]
#[doc(hidden)]
pub mod fuzz_hooks {
    use super::FromJson;

    fn read<T: FromJson>(text: &str) -> Option<Result<T, String>> {
        let v = crate::json::parse(text).ok()?;
        Some(T::from_json(v).map_err(|e| e.0))
    }
    /// [`crate::amount::InvoiceInput`].
    pub fn invoice_input(text: &str) -> Option<Result<crate::amount::InvoiceInput, String>> {
        read(text)
    }
    /// [`crate::amount::RedInput`].
    pub fn red_input(text: &str) -> Option<Result<crate::amount::RedInput, String>> {
        read(text)
    }
    /// [`crate::request::IssueForm`].
    pub fn issue_form(text: &str) -> Option<Result<crate::request::IssueForm, String>> {
        read(text)
    }
    /// [`crate::request::RedForm`].
    pub fn red_form(text: &str) -> Option<Result<crate::request::RedForm, String>> {
        read(text)
    }
    /// [`crate::buyer::BuyerInput`].
    pub fn buyer_input(text: &str) -> Option<Result<crate::buyer::BuyerInput, String>> {
        read(text)
    }
}

// serde_json is a native dev-dependency only.
#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use serde::de::DeserializeOwned;

    /// The reader and the serde derives agree on `json`: the same value, or both
    /// refuse it.
    fn same<T: FromJson + DeserializeOwned + PartialEq + core::fmt::Debug>(json: &str) {
        let ours = T::from_json(crate::json::parse(json).expect("test JSON"));
        let serde: Result<T, _> = serde_json::from_str(json);
        match (ours, serde) {
            (Ok(a), Ok(b)) => assert_eq!(a, b, "{json}"),
            (Err(_), Err(_)) => {}
            (a, b) => panic!("{json}: reader {a:?}, serde {b:?}"),
        }
    }

    const LINE: &str = r#"{"name":"*信息技术服务*接口服务费","taxCode":"3040201990000000000","spec":"A","unit":"次",
        "quantity":"2","unitPrice":"56.5","amount":113,"taxAmount":"13","taxRate":"13%","kind":"discount",
        "preferentialPolicy":"01","zeroRateFlag":"1","deduction":"1.00","other":[1,{"x":null}]}"#;

    fn invoice() -> String {
        format!(
            r#"{{"priceIncludesTax":true,"invoiceType":"special","red":false,"priceDecimals":8,
            "quantityDecimals":2,"wordsStyle":"invoice","lines":[{LINE},{{}}]}}"#
        )
    }

    #[test]
    fn reads_what_the_serde_derives_read() {
        same::<BuyerInput>(
            r#"{"type":"person","name":"张三","taxId":null,"address":"a","phone":"p","bankName":"b",
            "bankAccount":"c","email":"e","mobile":"m","extra":true}"#,
        );
        same::<BuyerOptions>(r#"{"invoiceType":"special","confirmed":["TAXID_CHECKSUM"]}"#);
        same::<LineInput>(LINE);
        same::<InvoiceInput>(&invoice());
        same::<WordsOptions>(r#"{"style":"invoice"}"#);
        same::<SplitLimits>(r#"{"maxAmount":"1000","amountIncludesTax":true,"maxLines":10}"#);
        let red = r#"{"blueLineNo":2,"quantity":-1,"amount":"5","amountExclTax":"1","taxAmount":"0.13"}"#;
        same::<RedLineInput>(red);
        same::<ReversedLine>(red);
        same::<RedInput>(&format!(
            r#"{{"blue":{},"reason":"02","lines":[{red}],"alreadyReversed":[{red}]}}"#,
            invoice()
        ));
        same::<SearchOptions>(r#"{"limit":5}"#);
        same::<SearchOptions>(r#"{"limit":null}"#);
        let special = r#"{"type":"04","province":"a","city":"b","district":"c","address":"d",
            "projectName":"e","crossCity":true,"crossRegionPermitNo":"f","landVatProjectNo":"g",
            "propertyCertificateNo":"h","areaUnit":"㎡","contractNo":"i","leaseStart":"2024-01-01",
            "leaseEnd":"2024-12-31","licensePlate":"京A","transports":[{"vehicleType":"1",
            "vehicleNumber":"x","origin":"o","destination":"d","goodsName":"g"}]}"#;
        same::<SpecialBusiness>(special);
        same::<IssueForm>(&format!(
            r#"{{"schemaVersion":1,"orderId":"A-1","invoiceType":"数电专票","buyer":{{"name":"x"}},
            "confirmed":["X"],"priceIncludesTax":false,"lines":[{LINE}],"remark":"r",
            "delivery":{{"email":"a@b.c","mobile":null}},"specialBusiness":{special}}}"#
        ));
        same::<IssueForm>(r#"{"schemaVersion":"1","specialBusiness":null}"#);
        same::<RedForm>(&format!(
            r#"{{"schemaVersion":"1","orderId":"R-1","blueOrderId":"A-1","blueInvoiceNumber":"1","reason":"01",
            "full":true,"lines":[{red}],"blue":{},"alreadyReversed":[]}}"#,
            invoice()
        ));
        same::<RedForm>(r#"{"blue":null}"#);
    }

    #[test]
    fn refuses_what_the_serde_derives_refuse() {
        for bad in [r#"{"name":42}"#, r#"{"type":null,"name":[]}"#, r#""x""#, r#"null"#] {
            same::<BuyerInput>(bad);
        }
        for bad in [
            r#"{"invoiceType":"other"}"#,
            r#"{"invoiceType":null}"#,
            r#"{"confirmed":"X"}"#,
            r#"{"confirmed":[1]}"#,
        ] {
            same::<BuyerOptions>(bad);
        }
        for bad in [
            r#"{"priceIncludesTax":null}"#,
            r#"{"priceIncludesTax":1}"#,
            r#"{"priceDecimals":-1}"#,
            r#"{"priceDecimals":1.5}"#,
            r#"{"priceDecimals":"8"}"#,
            r#"{"priceDecimals":4294967296}"#,
            r#"{"lines":null}"#,
            r#"{"lines":[{"amount":true}]}"#,
            r#"{"lines":[{"taxRate":{}}]}"#,
            r#"{"wordsStyle":"Plain"}"#,
        ] {
            same::<InvoiceInput>(bad);
        }
        for bad in [
            r#"{"schemaVersion":-1}"#,
            r#"{"schemaVersion":true}"#,
            r#"{"buyer":null}"#,
        ] {
            same::<IssueForm>(bad);
        }
        same::<RedLineInput>(r#"{"blueLineNo":-2}"#);
        same::<SearchOptions>(r#"{"limit":"5"}"#);
    }

    #[cfg(feature = "batch")]
    #[test]
    fn batch_types_as_the_serde_derives() {
        use crate::batch::{CheckOptions, ResultRow, Sheet};
        same::<Sheet>(
            r#"{"headers":["订单号","金额"],"headerRow":2,"rows":[{"row":3,"cells":["A","1"]}],"source":"gbk",
            "sheetName":null,"x":1}"#,
        );
        same::<Sheet>(r#"{"rows":[{"row":-1}]}"#);
        same::<Sheet>(r#"{"rows":[{"cells":[1]}]}"#);
        same::<CheckOptions>(
            r#"{"priceIncludesTax":false,"maxAmount":"100000","maxAmountIncludesTax":true,"maxLines":8,
            "confirmed":["TAXID_CHECKSUM"]}"#,
        );
        same::<CheckOptions>(r#"{"maxLines":"8"}"#);
        same::<ResultRow>(
            r#"{"index":0,"orderId":"A","status":"issued","invoiceNumber":"26442000000123456789",
            "issuedAt":"2026-12-05T10:00:00Z","error":{"code":"X","message":"m"},"files":{"pdf":"/p","ofd":null}}"#,
        );
        same::<ResultRow>(r#"{"error":"x"}"#);
    }

    #[test]
    fn an_array_is_not_a_struct() {
        // serde would also read a struct from an array of its fields in order; a
        // JavaScript caller never means that, and it is refused.
        assert!(BuyerInput::from_json(crate::json::parse("[]").unwrap()).is_err());
    }

    #[test]
    fn numbers_as_javascript_has_them() {
        let read = |t: &str| DecimalInput::from_json(crate::json::parse(t).unwrap()).unwrap();
        assert_eq!(read("113"), DecimalInput::Integer(113));
        assert_eq!(read("-3"), DecimalInput::Integer(-3));
        assert_eq!(read("9007199254740991"), DecimalInput::Integer(9_007_199_254_740_991));
        assert_eq!(read("9007199254740992"), DecimalInput::NonInteger);
        assert_eq!(read("1.5"), DecimalInput::NonInteger);
        assert_eq!(read("1e+21"), DecimalInput::NonInteger);
        assert_eq!(read("\"1.50\""), DecimalInput::Text("1.50".into()));
    }
}
