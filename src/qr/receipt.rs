//! Receipt QR codes: the proxy's order token `FP1.<payload>.<signature>` (README,
//! "Order tokens"), decoded for display. The signature is not checked: only the
//! proxy holds the merchant key, and only it decides what is invoiced.

use serde::Serialize;

use super::{base64_decode, QrProblem};
use crate::amount::{DecimalInput, LineInput};
use crate::issue::{Issue, Issues};
use crate::json::{self, Kind, Value as Json};

const PREFIX: &str = "FP1.";
const FIELD: &str = "receipt";

/// Totals as the token states them (decimal strings).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReceiptTotals {
    /// 价税合计.
    pub amount_incl_tax: Option<String>,
    /// 合计金额.
    pub amount_excl_tax: Option<String>,
    /// 合计税额.
    pub tax_amount: Option<String>,
}

/// A decoded receipt.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Receipt {
    /// The order token itself (what the proxy wants as `orderToken`).
    pub token: String,
    /// The seller's tax ID.
    pub merchant: String,
    /// The store's name, when the token carries one (`merchantName` or `store`).
    pub merchant_name: Option<String>,
    /// The order.
    pub order_id: String,
    /// When the receipt was printed, `YYYY-MM-DDTHH:MM:SS+08:00` (China time).
    pub issued_at: Option<String>,
    /// Until when it can be invoiced, in the same form.
    pub expires_at: Option<String>,
    /// Whether `amount` and `unitPrice` of the lines include VAT.
    pub price_includes_tax: bool,
    /// The lines sold, as `computeInvoice` takes them.
    pub lines: Vec<LineInput>,
    /// The totals the token binds.
    pub totals: ReceiptTotals,
}

/// What [`parse_receipt`] returns.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReceiptResult {
    /// `errors` is empty.
    pub valid: bool,
    /// The receipt (`None` when it could not be read).
    pub receipt: Option<Receipt>,
    /// Problems that make the code unusable.
    pub errors: Vec<Issue>,
    /// Problems to show (an expired receipt).
    pub warnings: Vec<Issue>,
}

/// Decodes a receipt QR (the token alone, or any text containing it, e.g. a URL
/// `…?t=FP1.…`), judging expiry by the current time.
pub fn parse_receipt(text: &str) -> ReceiptResult {
    parse_receipt_at(text, unix_seconds())
}

/// [`parse_receipt`] at a given time (Unix seconds).
///
/// ```
/// let token = "FP1.eyJ2IjoxLCJtZXJjaGFudCI6IjMzOTkwMjk5OTk5OTc4OTExMyIsInB1cnBvc2UiOiJpc3N1ZSIsIm9yZGVySWQiOiJBMSIsImlzc3VlZEF0IjoxNzAwMDAwMDAwLCJleHBpcmVzQXQiOjE3MDAwMDM2MDAsInByaWNlSW5jbHVkZXNUYXgiOnRydWUsImxpbmVzIjpbeyJuYW1lIjoi5Y2I6aSQIiwidGF4Q29kZSI6IjMwNzA0MDEwMDAwMDAwMDAwMDAiLCJhbW91bnQiOiIxMDYuMDAiLCJ0YXhSYXRlIjoiMC4wNiJ9XSwidG90YWxzIjp7ImFtb3VudEluY2xUYXgiOiIxMDYuMDAifX0.POKhyV4xAnB3V1aDJ-DMlgfW3B2-2aW9t5DYgRh6sF4";
/// let r = fapiao::qr::parse_receipt_at(token, 1_700_000_100);
/// assert!(r.valid);
/// let receipt = r.receipt.unwrap();
/// assert_eq!(receipt.order_id, "A1");
/// assert_eq!(receipt.issued_at.as_deref(), Some("2023-11-15T06:13:20+08:00"));
/// ```
pub fn parse_receipt_at(text: &str, now_s: i64) -> ReceiptResult {
    let mut issues = Issues::default();
    let receipt = decode(text, now_s, &mut issues);
    ReceiptResult {
        valid: issues.errors.is_empty(),
        receipt,
        errors: issues.errors,
        warnings: issues.warnings,
    }
}

fn format(detail: &'static str, detail_zh: &'static str) -> QrProblem {
    QrProblem::ReceiptFormat { detail, detail_zh }
}

fn decode(text: &str, now_s: i64, issues: &mut Issues) -> Option<Receipt> {
    if text.trim().is_empty() {
        issues.push(FIELD, &QrProblem::ReceiptEmpty);
        return None;
    }
    let Some(start) = text.find(PREFIX) else {
        issues.push(FIELD, &format("no order token in it", "其中没有订单令牌"));
        return None;
    };
    let token: String = text[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .collect();
    let parts: Vec<&str> = token.split('.').collect();
    if parts.len() != 3 || parts[1].is_empty() || parts[2].is_empty() {
        issues.push(FIELD, &format("the token is incomplete", "令牌不完整"));
        return None;
    }
    let claims = base64_decode(parts[1])
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| json::parse(&s).ok())
        .filter(|v| matches!(v.kind, Kind::Object(_)));
    let Some(claims) = claims else {
        issues.push(FIELD, &format("the token cannot be read", "令牌无法读取"));
        return None;
    };
    if claims.get("v").and_then(Json::text) != Some("1") {
        issues.push(FIELD, &format("an unknown token version", "令牌版本未知"));
        return None;
    }
    if claims.get("purpose").and_then(Json::str).is_some_and(|p| p != "issue") {
        issues.push(FIELD, &QrProblem::ReceiptPurpose);
        return None;
    }
    let text_of = |k: &str| claims.get(k).and_then(Json::text).map(str::to_owned);
    let order_id = text_of("orderId").filter(|s| !s.is_empty());
    let lines: Vec<LineInput> = match claims.get("lines").map(|v| &v.kind) {
        Some(Kind::Array(a)) => a.iter().map(line).collect(),
        _ => Vec::new(),
    };
    let (Some(order_id), false) = (order_id, lines.is_empty()) else {
        issues.push(FIELD, &format("no order number or no lines", "缺少订单号或明细"));
        return None;
    };
    let int = |k: &str| claims.get(k).and_then(Json::text).and_then(|s| s.parse::<i64>().ok());
    let expires = int("expiresAt");
    if expires.is_some_and(|e| e <= now_s) {
        issues.push(FIELD, &QrProblem::ReceiptExpired);
    }
    let totals = claims.get("totals");
    let total = |k: &str| totals.and_then(|t| t.get(k)).and_then(Json::text).map(str::to_owned);
    Some(Receipt {
        token,
        merchant: text_of("merchant").unwrap_or_default(),
        merchant_name: text_of("merchantName").or_else(|| text_of("store")),
        order_id,
        issued_at: int("issuedAt").filter(|&t| t > 0).map(china_time),
        expires_at: expires.map(china_time),
        price_includes_tax: matches!(claims.get("priceIncludesTax").map(|v| &v.kind), Some(Kind::Bool(true))),
        lines,
        totals: ReceiptTotals {
            amount_incl_tax: total("amountInclTax"),
            amount_excl_tax: total("amountExclTax"),
            tax_amount: total("taxAmount"),
        },
    })
}

fn line(v: &Json) -> LineInput {
    let s = |k: &str| v.get(k).and_then(Json::text).map(str::to_owned);
    let d = |k: &str| {
        v.get(k).and_then(|x| match &x.kind {
            Kind::Number(n) => Some(
                n.parse::<i64>()
                    .map(DecimalInput::Integer)
                    .unwrap_or_else(|_| DecimalInput::Text(n.clone())),
            ),
            Kind::String(t) => Some(DecimalInput::Text(t.clone())),
            _ => None,
        })
    };
    LineInput {
        name: s("name"),
        tax_code: s("taxCode"),
        spec: s("spec"),
        unit: s("unit"),
        quantity: d("quantity"),
        unit_price: d("unitPrice"),
        amount: d("amount"),
        tax_amount: d("taxAmount"),
        tax_rate: d("taxRate"),
        kind: s("kind"),
        preferential_policy: s("preferentialPolicy"),
        zero_rate_flag: s("zeroRateFlag"),
        deduction: d("deduction"),
    }
}

/// `YYYY-MM-DDTHH:MM:SS+08:00` for Unix seconds.
fn china_time(s: i64) -> String {
    let local = s + 8 * 3600;
    let date = crate::clock::date_from_unix_days(local.div_euclid(86_400));
    let rem = local.rem_euclid(86_400);
    format!(
        "{}T{:02}:{:02}:{:02}+08:00",
        date.iso(),
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(not(target_arch = "wasm32"))]
fn unix_seconds() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[cfg(target_arch = "wasm32")]
fn unix_seconds() -> i64 {
    (js_sys::Date::now() / 1000.0) as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    // The README's test vector (proxy/src/token.rs `known_vector`).
    const VECTOR: &str = "FP1.eyJ2IjoxLCJtZXJjaGFudCI6IjMzOTkwMjk5OTk5OTc4OTExMyIsInB1cnBvc2UiOiJpc3N1ZSIsIm9yZGVySWQiOiJBMSIsImlzc3VlZEF0IjoxNzAwMDAwMDAwLCJleHBpcmVzQXQiOjE3MDAwMDM2MDAsInByaWNlSW5jbHVkZXNUYXgiOnRydWUsImxpbmVzIjpbeyJuYW1lIjoi5Y2I6aSQIiwidGF4Q29kZSI6IjMwNzA0MDEwMDAwMDAwMDAwMDAiLCJhbW91bnQiOiIxMDYuMDAiLCJ0YXhSYXRlIjoiMC4wNiJ9XSwidG90YWxzIjp7ImFtb3VudEluY2xUYXgiOiIxMDYuMDAifX0.POKhyV4xAnB3V1aDJ-DMlgfW3B2-2aW9t5DYgRh6sF4";

    fn codes(v: &[Issue]) -> Vec<&str> {
        v.iter().map(|i| i.code).collect()
    }

    fn b64url(s: &str) -> String {
        const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let b = s.as_bytes();
        let mut out = String::new();
        for c in b.chunks(3) {
            let n = c
                .iter()
                .enumerate()
                .fold(0u32, |a, (i, &x)| a | u32::from(x) << (16 - 8 * i));
            for i in 0..=c.len() {
                out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            }
        }
        out
    }

    #[test]
    fn the_readme_vector() {
        let r = parse_receipt_at(VECTOR, 1_700_000_100);
        assert!(r.valid && r.warnings.is_empty(), "{r:?}");
        let rc = r.receipt.unwrap();
        assert_eq!(rc.token, VECTOR);
        assert_eq!(rc.merchant, "339902999999789113");
        assert_eq!(rc.merchant_name, None);
        assert_eq!(rc.expires_at.as_deref(), Some("2023-11-15T07:13:20+08:00"));
        assert!(rc.price_includes_tax);
        assert_eq!(rc.lines.len(), 1);
        assert_eq!(rc.lines[0].name.as_deref(), Some("午餐"));
        assert_eq!(rc.lines[0].amount, Some(DecimalInput::Text("106.00".into())));
        assert_eq!(rc.totals.amount_incl_tax.as_deref(), Some("106.00"));
        assert_eq!(rc.totals.tax_amount, None);
    }

    #[test]
    fn inside_a_url_and_expired() {
        let r = parse_receipt_at(&format!("https://shop.example/kiosk?t={VECTOR}&x=1\r"), 1_800_000_000);
        assert!(r.valid);
        assert_eq!(r.receipt.unwrap().token, VECTOR);
        assert_eq!(codes(&r.warnings), ["RECEIPT_EXPIRED"]);
        assert!(parse_receipt(VECTOR)
            .warnings
            .iter()
            .any(|w| w.code == "RECEIPT_EXPIRED"));
    }

    #[test]
    fn store_name_and_integers() {
        let claims = r#"{"v":1,"merchant":"X","orderId":"B2","store":"一楼 A12 号店","expiresAt":9999999999,"lines":[{"name":"水","quantity":2,"unitPrice":"1.50","taxRate":"0.13"}],"totals":{"amountInclTax":"3.00"}}"#;
        let r = parse_receipt_at(&format!("FP1.{}.c2ln", b64url(claims)), 0);
        assert!(r.valid, "{r:?}");
        let rc = r.receipt.unwrap();
        assert_eq!(rc.merchant_name.as_deref(), Some("一楼 A12 号店"));
        assert_eq!(rc.lines[0].quantity, Some(DecimalInput::Integer(2)));
        assert_eq!(rc.issued_at, None);
    }

    #[test]
    fn not_a_receipt() {
        assert_eq!(codes(&parse_receipt_at(" ", 0).errors), ["RECEIPT_EMPTY"]);
        assert_eq!(codes(&parse_receipt_at("$01abc$", 0).errors), ["RECEIPT_FORMAT"]);
        assert_eq!(codes(&parse_receipt_at("FP1.abc", 0).errors), ["RECEIPT_FORMAT"]);
        assert_eq!(codes(&parse_receipt_at("FP1.!!!.sig", 0).errors), ["RECEIPT_FORMAT"]);
        let t = |c: &str| format!("FP1.{}.c2ln", b64url(c));
        assert_eq!(
            codes(&parse_receipt_at(&t(r#"{"v":2,"orderId":"A","lines":[{}]}"#), 0).errors),
            ["RECEIPT_FORMAT"]
        );
        assert_eq!(
            codes(&parse_receipt_at(&t(r#"{"v":1,"purpose":"red","orderId":"A","lines":[{}]}"#), 0).errors),
            ["RECEIPT_PURPOSE"]
        );
        assert_eq!(
            codes(&parse_receipt_at(&t(r#"{"v":1,"orderId":"A","lines":[]}"#), 0).errors),
            ["RECEIPT_FORMAT"]
        );
        assert_eq!(codes(&parse_receipt_at(&t("[1]"), 0).errors), ["RECEIPT_FORMAT"]);
        let r = parse_receipt_at("hello", 0);
        assert!(r.receipt.is_none() && !r.valid);
        assert!(r.errors[0].message.contains("小票"));
    }
}
