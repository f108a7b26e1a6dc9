//! Order tokens: what the merchant's back end (or the receipt printer) signs so
//! that the proxy issues exactly what the merchant sold — never what a browser
//! claims.
//!
//! ## Format (version 1)
//!
//! ```text
//! FP1.<payload>.<signature>
//! payload   = base64url (no padding) of the UTF-8 JSON claims
//! signature = base64url (no padding) of HMAC-SHA256(key, "FP1." + payload)
//! key       = the merchant key (FAPIAO_MERCHANT_KEY) as UTF-8 bytes
//! ```
//!
//! Claims (JSON, camelCase):
//!
//! | field | type | meaning |
//! |---|---|---|
//! | `v` | 1 | format version |
//! | `merchant` | string | the seller's tax ID (`FAPIAO_SELLER_TAX_ID`) |
//! | `purpose` | `"issue"` (default) or `"red"` | what the token allows |
//! | `orderId` | string | the order (for `red`: the red invoice's own order id) |
//! | `blueOrderId` | string | `red` only: the blue order to reverse |
//! | `issuedAt`, `expiresAt` | integer | Unix seconds; the proxy refuses expired tokens, and tokens issued more than 5 minutes in its future (`ORDER_TOKEN_NOT_YET_VALID`) |
//! | `priceIncludesTax` | bool | basis of `amount` and `unitPrice` |
//! | `lines` | array | `issue`: the lines sold — `name`, `taxCode` (required; a discount line may omit it), `quantity`, `unitPrice`, `amount`, `taxRate`, `kind` as in `computeInvoice` (decimal strings) |
//! | `totals` | object | `amountInclTax` (价税合计, required for `issue`; for `red` optional, negative), optionally `amountExclTax`, `taxAmount` |
//! | `specialBusiness` | object | `issue` only, optional: the 特定业务 block (建筑服务, 货物运输, 不动产…) as in `buildIssueRequest` |
//! | `merchantName` | string | optional, display only: the seller's name (`parseReceipt` gives it to the kiosk) |
//!
//! The proxy recomputes the token's lines with the package's amount engine and
//! requires the request's lines (code, name, quantity, amounts, rate, kind) and
//! totals to be the same. A request carries a `specialBusiness` block only when
//! the token carries the same one (compared after the package's normalisation):
//! the project address, vehicle or property printed on the invoice is the
//! seller's statement, never the browser's. The signature is compared in
//! constant time.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use fapiao::amount::{compute_invoice, InvoiceInput, LineInput, LineKind};
use fapiao::issue::Issues;
use fapiao::request::{check_special_business, IssueRequest, RedRequest, SpecialBusiness};
use fapiao::taxcode::parse_item_name;
use hmac::{Hmac, Mac};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::problem::ProxyProblem;
use crate::secret::Secret;

const PREFIX: &str = "FP1.";

/// How far in the future a token's `issuedAt` may lie (clock skew between the
/// signing system and the proxy), in seconds; a token issued later is refused.
pub const MAX_CLOCK_SKEW_S: i64 = 300;

/// Refuses a token whose `issuedAt` lies more than [`MAX_CLOCK_SKEW_S`] after `now_s`.
pub fn check_issued_at(claims: &Claims, now_s: i64) -> Result<(), ProxyProblem> {
    if claims.issued_at > now_s.saturating_add(MAX_CLOCK_SKEW_S) {
        return Err(ProxyProblem::TokenNotYetValid);
    }
    Ok(())
}

/// What a token allows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Purpose {
    /// Issue the blue invoice of `orderId`.
    #[default]
    Issue,
    /// Issue the red invoice `orderId` against `blueOrderId`.
    Red,
}

/// Totals a token binds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TokenTotals {
    /// 价税合计.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amount_incl_tax: Option<String>,
    /// 合计金额.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amount_excl_tax: Option<String>,
    /// 合计税额.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tax_amount: Option<String>,
}

/// The signed claims.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Claims {
    /// Format version, 1.
    pub v: u32,
    /// Seller tax ID.
    pub merchant: String,
    /// What the token allows.
    #[serde(default)]
    pub purpose: Purpose,
    /// The order.
    pub order_id: String,
    /// For `red`: the blue order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blue_order_id: Option<String>,
    /// Unix seconds.
    #[serde(default)]
    pub issued_at: i64,
    /// Unix seconds.
    pub expires_at: i64,
    /// Basis of the lines' amounts.
    #[serde(default)]
    pub price_includes_tax: bool,
    /// The lines sold.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lines: Vec<LineInput>,
    /// Totals.
    #[serde(default)]
    pub totals: TokenTotals,
    /// `issue`: the 特定业务 block the invoice carries (none when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub special_business: Option<SpecialBusiness>,
    /// The seller's name, for display only (a kiosk shows it on the receipt); not
    /// checked against anything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merchant_name: Option<String>,
}

fn mac(key: &Secret) -> Hmac<Sha256> {
    // HMAC accepts keys of any length.
    <Hmac<Sha256> as Mac>::new_from_slice(key.expose().as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes any key length"))
}

/// Signs claims into a token.
pub fn mint(key: &Secret, claims: &Claims) -> String {
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap_or_default());
    let mut m = mac(key);
    m.update(PREFIX.as_bytes());
    m.update(payload.as_bytes());
    let sig = URL_SAFE_NO_PAD.encode(m.finalize().into_bytes());
    format!("{PREFIX}{payload}.{sig}")
}

/// The read-access token of an order: `base64url(HMAC-SHA256(key, "FPA1." +
/// orderId))` without padding (43 characters). The proxy returns it with the
/// order (`accessToken`) and puts it in the order's own links (`?access=`);
/// reading an order, its event stream or its files needs it (or the order's
/// token, or the admin token), so an order id alone reveals nothing. A merchant
/// back end can compute it with its key.
pub fn access_token(key: &Secret, order_id: &str) -> String {
    URL_SAFE_NO_PAD.encode(access_mac(key, order_id).finalize().into_bytes())
}

fn access_mac(key: &Secret, order_id: &str) -> Hmac<Sha256> {
    let mut m = mac(key);
    m.update(b"FPA1.");
    m.update(order_id.as_bytes());
    m
}

/// Whether `presented` lets its holder read `order_id`: the order's access
/// token, or an order token signed with the key for that order (expired or not:
/// a receipt keeps its right to look its invoice up). Compared in constant time.
pub fn grants_read(key: &Secret, order_id: &str, presented: &str) -> bool {
    if presented.starts_with(PREFIX) {
        return verify_signature(key, presented)
            .is_ok_and(|c| c.order_id == order_id && check_issued_at(&c, crate::time::now_s()).is_ok());
    }
    match URL_SAFE_NO_PAD.decode(presented.trim()) {
        Ok(bytes) => access_mac(key, order_id).verify_slice(&bytes).is_ok(),
        Err(_) => false,
    }
}

/// Checks a token's form, signature (in constant time) and expiry, and returns its claims.
pub fn verify(key: &Secret, token: &str, now_s: i64) -> Result<Claims, ProxyProblem> {
    let claims = verify_signature(key, token)?;
    check_issued_at(&claims, now_s)?;
    if claims.expires_at <= now_s {
        return Err(ProxyProblem::TokenExpired);
    }
    Ok(claims)
}

/// Checks a token's form and signature (in constant time), not its expiry.
pub fn verify_signature(key: &Secret, token: &str) -> Result<Claims, ProxyProblem> {
    let rest = token.trim().strip_prefix(PREFIX).ok_or(ProxyProblem::TokenMalformed)?;
    let (payload, sig) = rest.split_once('.').ok_or(ProxyProblem::TokenMalformed)?;
    let sig = URL_SAFE_NO_PAD.decode(sig).map_err(|_| ProxyProblem::TokenMalformed)?;
    let mut m = mac(key);
    m.update(PREFIX.as_bytes());
    m.update(payload.as_bytes());
    m.verify_slice(&sig).map_err(|_| ProxyProblem::TokenSignature)?;
    let json = URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|_| ProxyProblem::TokenMalformed)?;
    let claims: Claims = serde_json::from_slice(&json).map_err(|_| ProxyProblem::TokenMalformed)?;
    if claims.v != 1 {
        return Err(ProxyProblem::TokenMalformed);
    }
    Ok(claims)
}

fn dec(s: &str) -> Option<Decimal> {
    Decimal::from_str_exact(s.trim()).ok().map(|d| d.normalize())
}

fn same(a: &str, b: &str) -> bool {
    matches!((dec(a), dec(b)), (Some(x), Some(y)) if x == y)
}

fn mismatch(what: &'static str, what_zh: &'static str) -> ProxyProblem {
    ProxyProblem::TokenMismatch { what, what_zh }
}

/// Checks that an issuing request is exactly what the token covers.
pub fn check_issue(claims: &Claims, request: &IssueRequest, seller_tax_id: &str) -> Result<(), ProxyProblem> {
    if claims.purpose != Purpose::Issue {
        return Err(mismatch("it is not an issuing token", "不是开票令牌"));
    }
    if claims.merchant != seller_tax_id {
        return Err(mismatch("another seller", "销方不同"));
    }
    if claims.order_id != request.order_id {
        return Err(mismatch("another order", "订单号不同"));
    }
    let total = claims
        .totals
        .amount_incl_tax
        .as_deref()
        .ok_or(mismatch("the token has no total", "令牌缺少价税合计"))?;
    let computed = compute_invoice(&InvoiceInput {
        price_includes_tax: claims.price_includes_tax,
        invoice_type: request.invoice_type,
        lines: claims.lines.clone(),
        ..Default::default()
    });
    if !computed.valid {
        return Err(mismatch("the token's lines are not valid", "令牌中的明细无效"));
    }
    if computed.lines.len() != request.lines.len() {
        return Err(mismatch("the number of lines", "明细行数"));
    }
    for (i, ((token_line, result), line)) in claims.lines.iter().zip(&computed.lines).zip(&request.lines).enumerate() {
        let Some(r) = result else {
            return Err(mismatch("the lines", "明细"));
        };
        // The tax code decides the 简称 printed and the category of the expense, so
        // it is the merchant's to sign, never the browser's to pick; only a
        // discount line may leave it to the line it discounts.
        let code_ok = match token_line.tax_code.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
            Some(code) => code == line.tax_code,
            None if r.kind == LineKind::Discount => i > 0 && request.lines[i - 1].tax_code == line.tax_code,
            None => {
                return Err(mismatch(
                    "a line of the token has no tax code",
                    "令牌中的明细缺少税收分类编码",
                ))
            }
        };
        let token_name = fapiao::text::clean_text(parse_item_name(token_line.name.as_deref().unwrap_or("")).name);
        let request_name = fapiao::text::clean_text(parse_item_name(&line.name).name);
        let qty_ok = match (r.quantity, &line.quantity) {
            (None, None) => true,
            (Some(q), Some(s)) => dec(s) == Some(q.normalize()),
            _ => false,
        };
        if !code_ok || token_name != request_name || r.kind != line.kind || !qty_ok {
            return Err(mismatch("the items", "商品明细"));
        }
        if dec(&line.amount_incl_tax) != Some(r.amount_incl_tax.normalize())
            || dec(&line.amount_excl_tax) != Some(r.amount_excl_tax.normalize())
            || dec(&line.tax_amount) != Some(r.tax_amount.normalize())
            || dec(&line.tax_rate) != Some(r.tax_rate.normalize())
        {
            return Err(mismatch("the amounts", "金额"));
        }
    }
    let t = &request.totals;
    if !same(total, &t.amount_incl_tax) || Some(computed.totals.amount_incl_tax.normalize()) != dec(total) {
        return Err(mismatch("the total", "价税合计"));
    }
    if claims
        .totals
        .amount_excl_tax
        .as_deref()
        .is_some_and(|v| !same(v, &t.amount_excl_tax))
        || claims
            .totals
            .tax_amount
            .as_deref()
            .is_some_and(|v| !same(v, &t.tax_amount))
    {
        return Err(mismatch("the totals", "合计"));
    }
    // The token's block, normalised as the request's was (an invalid one matches nothing).
    let signed = claims
        .special_business
        .as_ref()
        .map(|sb| check_special_business(sb, &claims.lines, &mut Issues::default()));
    match (signed, &request.special_business) {
        (None, None) => {}
        (Some(Some(signed)), Some(sent)) if signed == *sent => {}
        _ => return Err(mismatch("the special business (特定业务)", "特定业务信息")),
    }
    Ok(())
}

/// Checks that a red-letter request is what the token covers.
pub fn check_red(claims: &Claims, red: &RedRequest, seller_tax_id: &str) -> Result<(), ProxyProblem> {
    if claims.purpose != Purpose::Red {
        return Err(mismatch("it is not a red-letter token", "不是红冲令牌"));
    }
    if claims.merchant != seller_tax_id {
        return Err(mismatch("another seller", "销方不同"));
    }
    if claims.order_id != red.order_id || claims.blue_order_id.as_deref() != Some(red.blue_order_id.as_str()) {
        return Err(mismatch("another order", "订单号不同"));
    }
    if let (Some(want), Some(t)) = (&claims.totals.amount_incl_tax, &red.totals) {
        if !same(want, &t.amount_incl_tax) {
            return Err(mismatch("the total", "价税合计"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> Secret {
        Secret::new("k".repeat(32))
    }

    #[test]
    fn round_trip_tamper_expiry() {
        let claims = Claims {
            v: 1,
            merchant: "X".into(),
            order_id: "A1".into(),
            expires_at: 2_000,
            ..Default::default()
        };
        let t = mint(&key(), &claims);
        assert!(t.starts_with("FP1."));
        assert_eq!(verify(&key(), &t, 1_000).unwrap(), claims);
        assert_eq!(verify(&key(), &t, 2_000).unwrap_err(), ProxyProblem::TokenExpired);
        assert_eq!(
            verify(&Secret::new("other".repeat(8)), &t, 1_000).unwrap_err(),
            ProxyProblem::TokenSignature
        );
        // Change one claim, keep the signature.
        let other = mint(
            &key(),
            &Claims {
                order_id: "A2".into(),
                ..claims.clone()
            },
        );
        let forged = format!(
            "{}.{}",
            other.rsplit_once('.').unwrap().0,
            t.rsplit_once('.').unwrap().1
        );
        assert_eq!(
            verify(&key(), &forged, 1_000).unwrap_err(),
            ProxyProblem::TokenSignature
        );
        assert_eq!(
            verify(&key(), "garbage", 1_000).unwrap_err(),
            ProxyProblem::TokenMalformed
        );
    }

    #[test]
    fn access_tokens_are_per_order() {
        let a = access_token(&key(), "A1");
        assert_eq!(a.len(), 43);
        assert!(grants_read(&key(), "A1", &a));
        assert!(!grants_read(&key(), "A2", &a), "another order");
        assert!(!grants_read(&Secret::new("other".repeat(8)), "A1", &a), "another key");
        assert!(!grants_read(&key(), "A1", &a[..42]), "truncated");
        assert!(!grants_read(&key(), "A1", ""));
        // An order token for the order grants reading it, expired or not.
        let t = mint(
            &key(),
            &Claims {
                v: 1,
                merchant: "X".into(),
                order_id: "A1".into(),
                expires_at: 1,
                ..Default::default()
            },
        );
        assert!(grants_read(&key(), "A1", &t));
        assert!(!grants_read(&key(), "A2", &t));
        // Test vector (README): key fapiao-demo-merchant-key-0123456789, order A1.
        assert_eq!(
            access_token(&Secret::new("fapiao-demo-merchant-key-0123456789"), "A1"),
            include_str!("../tests/data/access-vector.txt").trim()
        );
    }

    #[test]
    fn known_vector() {
        // Any back end must produce this token for these claims and key
        // (documented in the README as a test vector).
        let claims = Claims {
            v: 1,
            merchant: "339902999999789113".into(),
            order_id: "A1".into(),
            issued_at: 1_700_000_000,
            expires_at: 1_700_003_600,
            price_includes_tax: true,
            lines: vec![LineInput {
                name: Some("午餐".into()),
                tax_code: Some("3070401000000000000".into()),
                amount: Some("106.00".into()),
                tax_rate: Some("0.06".into()),
                ..Default::default()
            }],
            totals: TokenTotals {
                amount_incl_tax: Some("106.00".into()),
                ..Default::default()
            },
            ..Default::default()
        };
        let t = mint(&Secret::new("fapiao-demo-merchant-key-0123456789"), &claims);
        let payload = t.split('.').nth(1).unwrap();
        let json = String::from_utf8(URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
        assert_eq!(
            json,
            r#"{"v":1,"merchant":"339902999999789113","purpose":"issue","orderId":"A1","issuedAt":1700000000,"expiresAt":1700003600,"priceIncludesTax":true,"lines":[{"name":"午餐","taxCode":"3070401000000000000","amount":"106.00","taxRate":"0.06"}],"totals":{"amountInclTax":"106.00"}}"#
        );
        assert_eq!(
            t.rsplit('.').next().unwrap(),
            include_str!("../tests/data/token-vector.sig").trim()
        );
    }
}
