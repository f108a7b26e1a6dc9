//! 诺诺 `X-Nuonuo-Sign` (providers.md §1.5):
//! `Base64(HMAC-SHA1(appSecret, "a=services&l=v1&p=open&k={appKey}&i={senid}&n={nonce}&t={timestamp}&f={body}"))`,
//! where `a`, `l`, `p` are the third, second and first segments of the gateway path.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha1::Sha1;

/// The string to sign.
pub fn string_to_sign(path: &str, app_key: &str, senid: &str, nonce: &str, timestamp: &str, body: &str) -> String {
    let seg: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let at = |i: usize| seg.get(i).copied().unwrap_or("");
    format!(
        "a={}&l={}&p={}&k={app_key}&i={senid}&n={nonce}&t={timestamp}&f={body}",
        at(2),
        at(1),
        at(0)
    )
}

/// The signature for a gateway path (`/open/v1/services`) and the exact body text.
pub fn sign(
    app_secret: &str,
    path: &str,
    app_key: &str,
    senid: &str,
    nonce: &str,
    timestamp: &str,
    body: &str,
) -> String {
    let mut m = <Hmac<Sha1> as Mac>::new_from_slice(app_secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    m.update(string_to_sign(path, app_key, senid, nonce, timestamp, body).as_bytes());
    STANDARD.encode(m.finalize().into_bytes())
}

/// Checks a signature in constant time (for the test double and for any inbound use).
#[allow(clippy::too_many_arguments)] // the signed parts, as 诺诺 lists them
pub fn verify(
    app_secret: &str,
    path: &str,
    app_key: &str,
    senid: &str,
    nonce: &str,
    timestamp: &str,
    body: &str,
    signature: &str,
) -> bool {
    let Ok(sig) = STANDARD.decode(signature.trim()) else {
        return false;
    };
    let mut m = <Hmac<Sha1> as Mac>::new_from_slice(app_secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    m.update(string_to_sign(path, app_key, senid, nonce, timestamp, body).as_bytes());
    m.verify_slice(&sig).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    const PATH: &str = "/open/v1/services";

    #[test]
    fn vector_a_official() {
        let senid = "a".repeat(32);
        assert_eq!(
            string_to_sign(PATH, "app", &senid, "12345678", "1700000000", r#"{"name":"中文"}"#),
            r#"a=services&l=v1&p=open&k=app&i=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa&n=12345678&t=1700000000&f={"name":"中文"}"#
        );
        assert_eq!(
            sign(
                "secret",
                PATH,
                "app",
                &senid,
                "12345678",
                "1700000000",
                r#"{"name":"中文"}"#
            ),
            "4BzcKzrcoqxPis0W/W3X2ae0uIo="
        );
    }

    #[test]
    fn vector_b_issuing_request() {
        let body = r#"{"order":{"buyerName":"测试购方有限公司","buyerTaxNum":"91330106MA2B2ABCDN","salerTaxNum":"339902999999789113","salerTel":"0571-88888888","salerAddress":"杭州市西湖区测试路1号","orderNo":"ORD202401150001","invoiceDate":"2024-01-15 10:30:00","clerk":"张三","pushMode":"-1","invoiceType":"1","invoiceLine":"pc","invoiceDetail":[{"goodsName":"技术服务费","goodsCode":"3040201000000000000","withTaxFlag":"1","price":"106","num":"1","taxRate":"0.06","tax":"6.00","taxExcludedAmount":"100.00","taxIncludedAmount":"106.00","invoiceLineProperty":"0","favouredPolicyFlag":"0"}]}}"#;
        assert_eq!(body.len(), 595);
        let s = sign(
            "TESTAPPSECRET0123456789",
            PATH,
            "TESTAPPKEY01",
            "0123456789abcdef0123456789abcdef",
            "12345678",
            "1705285800",
            body,
        );
        assert_eq!(s, "/59gOzctya7SU1YlKwFoZE9Df1o=");
        assert!(verify(
            "TESTAPPSECRET0123456789",
            PATH,
            "TESTAPPKEY01",
            "0123456789abcdef0123456789abcdef",
            "12345678",
            "1705285800",
            body,
            &s
        ));
        assert!(!verify(
            "TESTAPPSECRET0123456789",
            PATH,
            "TESTAPPKEY01",
            "0123456789abcdef0123456789abcdef",
            "12345678",
            "1705285801",
            body,
            &s
        ));
    }

    #[test]
    fn vector_c_result_query() {
        let body = r#"{"isOfferInvoiceDetail":"0","orderNos":["ORD202401150001"]}"#;
        let s = sign(
            "TESTAPPSECRET0123456789",
            PATH,
            "TESTAPPKEY01",
            "0123456789abcdef0123456789abcdef",
            "87654321",
            "1705285860",
            body,
        );
        assert_eq!(s, "yDkMRo5EdpXf92McEytSp3QFLYI=");
    }
}
