//! The 百望 client beyond the conformance suite: the token is fetched once for
//! every instance on a database, a refusing token endpoint is not called again
//! before the stored back-off ends, the fake rejects a tampered signature, and
//! orders go through the proxy's HTTP API to the page (a wrong buyer tax ID
//! arrives as the code the page knows, at `buyer.taxId`).

mod common;
mod fakes;

use common::*;
use fapiao_proxy::provider::baiwang::sign;
use fapiao_proxy::provider::{Kind, ProviderError, QueryOutcome};
use fapiao_proxy::{App, Config};
use serde_json::{json, Value};

async fn config(dir: &std::path::Path, fake: &fakes::Fake, extra: &[(&str, &str)]) -> Config {
    let base = test_config(dir).await;
    let mut all = fakes::baiwang::env(fake);
    for (k, v) in extra {
        all.retain(|(x, _)| x != k);
        all.push((k.to_string(), v.to_string()));
    }
    for (k, v) in [
        ("FAPIAO_MERCHANT_KEY", "baiwang-merchant-key-0123456789abcdef"),
        ("FAPIAO_DEMO", "false"),
        ("FAPIAO_RATE_LIMIT", "0"),
        ("FAPIAO_PROVIDER_TIMEOUT_MS", "400"),
        ("FAPIAO_POLL_MS", "10"),
        ("FAPIAO_BREAKER_COOLDOWN_MS", "100"),
    ] {
        if !all.iter().any(|(x, _)| x == k) {
            all.push((k.into(), v.into()));
        }
    }
    let mut c = Config::from_lookup(&move |k| all.iter().find(|(x, _)| x == k).map(|(_, v)| v.clone())).unwrap();
    c.database_path = base.database_path.clone();
    c.postgres = base.postgres.clone();
    c
}

fn issue_request(id: &str, remark: &str) -> fapiao::request::IssueRequest {
    let mut v = request(id, json!([line("午餐", "106.00")]));
    v["remark"] = json!(remark);
    let form: fapiao::request::IssueForm = serde_json::from_value(v).unwrap();
    fapiao::request::build_issue_request(&form).request.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_token_for_every_instance_on_the_database() {
    let fake = fakes::baiwang::start().await;
    let dir = tempfile::tempdir().unwrap();
    let c = config(dir.path(), &fake, &[]).await;
    let store_a = open_store(&c).await;
    let store_b = open_store(&c).await;
    let a = fapiao_proxy::provider::from_config(&c, &store_a).unwrap();
    let b = fapiao_proxy::provider::from_config(&c, &store_b).unwrap();
    let (ra, rb) = (issue_request("TA-1", ""), issue_request("TB-1", ""));
    let (x, y) = tokio::join!(a.submit_issue(&ra), b.submit_issue(&rb));
    x.unwrap();
    y.unwrap();
    // A third instance started later finds the stored token.
    let c2 = open_store(&c).await;
    let third = fapiao_proxy::provider::from_config(&c, &c2).unwrap();
    assert!(third.query("TA-1", Kind::Blue).await.is_ok());
    assert_eq!(
        fake.with(|s| (s.token_calls, s.token_refusals, s.bad_signatures)),
        (1, 0, 0)
    );
}

#[tokio::test]
async fn a_refusing_token_endpoint_is_not_called_again_before_the_back_off_ends() {
    let fake = fakes::baiwang::start().await;
    let dir = tempfile::tempdir().unwrap();
    let c = config(
        dir.path(),
        &fake,
        &[
            ("FAPIAO_BAIWANG_PASSWORD", "wrong-password"),
            ("FAPIAO_BAIWANG_TOKEN_RETRY_BASE_MS", "60000"),
        ],
    )
    .await;
    let store = open_store(&c).await;
    let p = fapiao_proxy::provider::from_config(&c, &store).unwrap();
    let e = p.query("X-1", Kind::Blue).await.unwrap_err();
    assert!(
        matches!(&e, ProviderError::Unavailable(m) if m.contains("token endpoint refused: 100004")),
        "{e:?}"
    );
    let h = p.hold().expect("held after a refusal");
    assert_eq!(h.failures, 1);
    // Again, and from another instance on the same database: no call.
    let e = p.query("X-1", Kind::Blue).await.unwrap_err();
    assert!(e.to_string().contains("next try"), "{e}");
    let other = fapiao_proxy::provider::from_config(&c, &open_store(&c).await).unwrap();
    assert!(other.query("X-1", Kind::Blue).await.is_err());
    assert!(other.hold().is_some());
    assert_eq!(fake.with(|s| (s.token_calls, s.token_refusals)), (1, 1));
    // The right password (other credentials) tries at once.
    let good = config(dir.path(), &fake, &[]).await;
    let fixed = fapiao_proxy::provider::from_config(&good, &open_store(&good).await).unwrap();
    assert_eq!(fixed.query("X-1", Kind::Blue).await.unwrap(), QueryOutcome::NotFound);
    assert_eq!(fake.with(|s| s.token_calls), 2);
}

#[tokio::test]
async fn the_fake_rejects_a_tampered_signature_and_an_unknown_token() {
    let fake = fakes::baiwang::start().await;
    let token = fake.with(|s| s.new_token().0);
    let client = reqwest::Client::new();
    let call = |body: String, signed_body: String, token: String| {
        let client = client.clone();
        let base = fake.base.clone();
        async move {
            let mut q: Vec<(String, String)> = [
                ("method", "baiwang.s.outputinvoice.query"),
                ("appKey", fakes::baiwang::APP_KEY),
                ("token", token.as_str()),
                ("timestamp", "1705285800000"),
                ("version", "6.0"),
                ("format", "json"),
                ("type", "sync"),
                ("requestId", "req-1"),
            ]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
            let pairs: Vec<(&str, &str)> = q.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            let s = sign::sign(fakes::baiwang::APP_SECRET, &pairs, &signed_body);
            q.push(("sign".into(), s));
            let url = reqwest::Url::parse_with_params(&format!("{base}/router/rest"), &q).unwrap();
            client
                .post(url)
                .body(body)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    let body = json!({ "taxNo": fakes::baiwang::TAX_NO, "orderNos": ["Q-1"], "detailMark": "1" }).to_string();
    let v = call(body.clone(), body.clone(), token.clone()).await;
    assert_eq!(v["success"], true, "{v}");
    let v = call(body.replace("Q-1", "Q-2"), body.clone(), token.clone()).await;
    assert_eq!(v["errorResponse"]["code"], "100011", "{v}");
    let v = call(body.clone(), body.clone(), "not-a-token".into()).await;
    assert_eq!(v["errorResponse"]["code"], "100002", "{v}");
    assert_eq!(fake.with(|s| (s.bad_signatures, s.expired_answers)), (1, 1));
}

/// Captures every log line of this test binary.
#[derive(Clone, Default)]
struct Logs(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
impl std::io::Write for Logs {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_reach_the_page_through_the_proxy() {
    let logs = Logs::default();
    let l2 = logs.clone();
    tracing_subscriber::fmt()
        .with_writer(move || l2.clone())
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .init();
    let mut seen = String::new();
    let fake = fakes::baiwang::start().await;
    let dir = tempfile::tempdir().unwrap();
    let c = config(dir.path(), &fake, &[]).await;
    let store = open_store(&c).await;
    let provider = fapiao_proxy::provider::from_config(&c, &store).unwrap();
    let r = serve(App::start_with(c.clone(), store, provider).await.unwrap()).await;

    assert_eq!(post(&r, "/v1/invoices", &body(&c, "BW-1")).await.0, 202);
    let v = wait_final(&r, "BW-1", 20).await;
    seen += &v.to_string();
    assert_eq!(v["status"], "issued", "{v}");
    let number = fake.with(|s| s.invoices["BW-1"].number.clone());
    assert_eq!(v["invoiceNumber"], number.as_str());

    // Accepted, answered after the timeout: queried, never a second invoice.
    assert_eq!(post(&r, "/v1/invoices", &body(&c, "LOST-1")).await.0, 202);
    let v = wait_final(&r, "LOST-1", 20).await;
    assert_eq!(v["status"], "issued", "{v}");
    assert_eq!(fake.count("LOST-1"), 1);
    assert!(fake.submissions("LOST-1") >= 1);

    // A wrong buyer tax ID: the page gets the code it knows, at the buyer's tax ID.
    let lines = json!([line("午餐", "106.00")]);
    let mut req = request("BW-2", lines.clone());
    req["remark"] = json!("#sandbox:fail");
    assert_eq!(
        post(
            &r,
            "/v1/invoices",
            &json!({ "request": req, "orderToken": mint(&c, "BW-2", &lines, "106.00", 600) })
        )
        .await
        .0,
        202
    );
    let v = wait_final(&r, "BW-2", 20).await;
    seen += &v.to_string();
    assert_eq!(v["status"], "failed", "{v}");
    assert_eq!(
        (v["error"]["code"].as_str(), v["error"]["field"].as_str()),
        (Some("BUYER_TAXID_NOT_FOUND"), Some("buyer.taxId")),
        "{v}"
    );
    assert_eq!(fake.with(|s| s.bad_signatures), 0);

    // No secret in an answer or a log line.
    seen += &String::from_utf8_lossy(&logs.0.lock().unwrap());
    assert!(seen.contains("BW-2"), "the logs were captured");
    let mut secrets: Vec<String> = [
        fakes::baiwang::APP_SECRET,
        fakes::baiwang::PASSWORD,
        fakes::baiwang::SALT,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    secrets.push(sign::password_hash(fakes::baiwang::PASSWORD, fakes::baiwang::SALT));
    secrets.extend(fake.with(|s| {
        s.valid_tokens
            .iter()
            .chain(s.refresh_tokens.iter())
            .cloned()
            .collect::<Vec<_>>()
    }));
    for secret in secrets {
        assert!(!seen.contains(&secret), "leaked: {secret}");
    }
}

#[test]
fn the_fake_signs_the_worked_example_independently() {
    let q: std::collections::HashMap<String, String> = [
        ("appKey", "1000001"),
        ("format", "json"),
        ("method", "baiwang.s.outputinvoice.query"),
        ("requestId", "req-0001"),
        ("timestamp", "1705285800000"),
        ("token", "tok-abc"),
        ("type", "sync"),
        ("version", "6.0"),
        ("sign", "ignored"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let body = r#"{"taxNo":"91110000000000000X","orderNos":["ORD202401150001"],"detailMark":"1"}"#;
    assert_eq!(
        fakes::baiwang::expected_sign("bw-secret-0001", &q, body),
        "58853888E9828DBEEF5449D14168EE54"
    );
    assert_eq!(
        fakes::baiwang::expected_password("ab", "c"),
        sign::password_hash("ab", "c")
    );
}
