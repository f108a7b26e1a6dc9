//! The order-token parser. The first byte chooses the mode:
//! - even: the rest is a token as a client sends it (`verify`);
//! - odd: the rest is a claims payload, signed here with the key, so that the fuzzer
//!   reaches the JSON claims and `check_issue` behind the signature.
#![no_main]
use fapiao_proxy::secret::Secret;
use fapiao_proxy::token;
use libfuzzer_sys::fuzz_target;

const KEY: &str = "fuzz-merchant-key-0123456789abcdef";

fn request() -> fapiao::IssueRequest {
    let form: fapiao::IssueForm = serde_json::from_str(
        r#"{"schemaVersion":1,"orderId":"A1","invoiceType":"normal","buyer":{"type":"person","name":"张三"},"priceIncludesTax":true,"lines":[{"name":"午餐","taxCode":"3070401000000000000","amount":"106.00","taxRate":"0.06"}]}"#,
    )
    .unwrap();
    fapiao::build_issue_request(&form).request.unwrap()
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    let key = Secret::new(KEY);
    let text = if mode % 2 == 0 {
        let Ok(s) = std::str::from_utf8(rest) else { return };
        s.to_owned()
    } else {
        use base64::Engine;
        use hmac::Mac;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let payload = b64.encode(rest);
        let mut m = hmac::Hmac::<sha2::Sha256>::new_from_slice(KEY.as_bytes()).unwrap();
        m.update(b"FP1.");
        m.update(payload.as_bytes());
        format!("FP1.{payload}.{}", b64.encode(m.finalize().into_bytes()))
    };
    if let Ok(claims) = token::verify(&key, &text, 1_700_000_000) {
        let _ = token::check_issue(&claims, &request(), "339902999999789113");
    }
});
