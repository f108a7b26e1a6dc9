//! Hostile input over HTTP: malformed JSON, huge bodies, wrong content
//! types, forged/expired/replayed order tokens, tampered amounts and callback spam.
//! Each gets its 4xx with a stable code in `{ errors }`, nothing is issued, and
//! `/healthz` stays OK.
//!
//! Already covered in `api.rs` and not repeated here: a missing token, `FP1.abc`,
//! an expired token for a new order, a token for another order id, a line amount or
//! total larger than the token's, a forged signature over larger claims, a JSON
//! string as body (`only_what_a_valid_unexpired_token_covers`); a body over the
//! limit answering 413 and one form-encoded callback
//! (`limits_cors_health_metrics_demo_and_callbacks`).

mod common;

use common::*;
use fapiao_proxy::token::{Claims, Purpose, TokenTotals};
use serde_json::{json, Value};

async fn raw(r: &Running, path: &str, content_type: Option<&str>, body: impl Into<reqwest::Body>) -> (u16, Value) {
    let mut b = r.client.post(format!("{}{path}", r.base)).body(body);
    if let Some(ct) = content_type {
        b = b.header("content-type", ct);
    }
    let resp = b.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// Writes a request by hand and reads the answer (whatever arrives before a close).
async fn http_raw(r: &Running, head: String, body: Vec<u8>) -> String {
    let addr = r.base.trim_start_matches("http://").to_owned();
    tokio::task::spawn_blocking(move || {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(std::time::Duration::from_secs(10))).unwrap();
        let _ = s.write_all(head.as_bytes()).and_then(|_| s.write_all(&body));
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        String::from_utf8_lossy(&out).into_owned()
    })
    .await
    .unwrap()
}

async fn assert_healthy_and_nothing_issued(r: &Running, sbx: &fapiao_proxy::provider::sandbox::Sandbox) {
    let (s, h) = get(r, "/healthz").await;
    assert_eq!((s, h["status"].as_str()), (200, Some("ok")), "{h}");
    assert_eq!(sbx.total().await, 0, "nothing was issued");
}

fn one(code: &str) -> Vec<String> {
    vec![code.to_owned()]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_json_is_400_request_body_invalid() {
    let dir = tempfile::tempdir().unwrap();
    let (r, sbx) = sandbox_proxy(dir.path(), |c| c.rate_limit_per_second = 0.0).await;
    let good = body(&r.state.config, "M-1");
    let good_text = good.to_string();
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let deep_request = format!(
        r#"{{"orderToken":{},"request":{}1{}}}"#,
        good["orderToken"],
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    let bodies: Vec<(&str, Vec<u8>)> = vec![
        ("empty", Vec::new()),
        ("truncated", good_text.as_bytes()[..good_text.len() / 2].to_vec()),
        ("trailing garbage", format!("{good_text}}}").into_bytes()),
        ("not UTF-8", b"{\"request\":\"\xff\xfe\",\"orderToken\":\"x\"}".to_vec()),
        ("a NUL", b"\0".to_vec()),
        ("an array", b"[1,2,3]".to_vec()),
        ("null", b"null".to_vec()),
        ("deeply nested", deep.into_bytes()),
        ("deeply nested request", deep_request.into_bytes()),
        (
            "a number as request",
            json!({ "request": 5, "orderToken": good["orderToken"] })
                .to_string()
                .into_bytes(),
        ),
        ("lines as a string", {
            let mut b = good.clone();
            b["request"]["lines"] = json!("午餐 106.00");
            b.to_string().into_bytes()
        }),
        (
            "a token that is not a string",
            json!({ "request": good["request"], "orderToken": 42 })
                .to_string()
                .into_bytes(),
        ),
        (
            "no request",
            json!({ "orderToken": good["orderToken"] }).to_string().into_bytes(),
        ),
    ];
    for (what, b) in bodies {
        let (s, v) = raw(&r, "/v1/invoices", Some("application/json"), b).await;
        assert_eq!((s, codes(&v)), (400, one("REQUEST_BODY_INVALID")), "{what}: {v}");
    }
    // The red endpoint parses the same way.
    let (s, v) = raw(&r, "/v1/invoices/M-1/red", Some("application/json"), "{\"request\":").await;
    assert_eq!((s, codes(&v)), (400, one("REQUEST_BODY_INVALID")), "{v}");
    assert_eq!(get(&r, "/v1/invoices/M-1").await.0, 404);
    assert_healthy_and_nothing_issued(&r, &sbx).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_bodies_are_413_with_a_code_whether_announced_or_streamed() {
    let dir = tempfile::tempdir().unwrap();
    let (r, sbx) = sandbox_proxy(dir.path(), |c| {
        c.rate_limit_per_second = 0.0;
        c.body_limit = 8 * 1024;
    })
    .await;
    // A valid order padded past the limit, announced with Content-Length: the
    // answer comes from the headers alone (the body is not sent, so that the
    // server's early close cannot reset the connection under the test).
    let mut b = body(&r.state.config, "H-1");
    b["request"]["remark"] = json!("备".repeat(5_000));
    let len = b.to_string().len();
    for path in [
        "/v1/invoices",
        "/v1/invoices/H-1/red",
        "/v1/demo/order-token",
        "/v1/callbacks/nuonuo",
    ] {
        let answer = http_raw(&r, format!("POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n"), Vec::new()).await;
        assert!(
            answer.starts_with("HTTP/1.1 413") && answer.contains("REQUEST_BODY_TOO_LARGE"),
            "{path}: {answer}"
        );
    }
    // Streamed (chunked, no length) past the limit: the server reads up to the
    // limit. It may reset the connection before the client reads the answer, so
    // one of a few tries must see the 413.
    let mut chunked = Vec::new();
    for _ in 0..3 {
        chunked.extend_from_slice(format!("1000\r\n{}\r\n", " ".repeat(0x1000)).as_bytes());
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    let mut answers = Vec::new();
    for _ in 0..5 {
        let head = "POST /v1/invoices HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
        let answer = http_raw(&r, head.into(), chunked.clone()).await;
        if answer.starts_with("HTTP/1.1 413") {
            assert!(answer.contains("REQUEST_BODY_TOO_LARGE"), "{answer}");
            answers.clear();
            break;
        }
        answers.push(answer);
    }
    assert!(answers.is_empty(), "{answers:?}");
    assert_eq!(get(&r, "/v1/invoices/H-1").await.0, 404);
    // Just under the limit still works.
    assert_eq!(post(&r, "/v1/invoices", &body(&r.state.config, "H-2")).await.0, 202);
    assert_eq!(get(&r, "/healthz").await.1["status"], "ok");
    assert_eq!(sbx.count("H-1").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_content_types_are_415() {
    let dir = tempfile::tempdir().unwrap();
    let (r, sbx) = sandbox_proxy(dir.path(), |c| c.rate_limit_per_second = 0.0).await;
    // A valid body: only the content type is wrong (a cross-site form can send
    // text/plain without a CORS preflight).
    let text = body(&r.state.config, "CT-1").to_string();
    for ct in [
        None,
        Some("text/plain"),
        Some("text/plain;charset=UTF-8"),
        Some("application/x-www-form-urlencoded"),
        Some("multipart/form-data; boundary=x"),
        Some("application/jsonx"),
        Some(""),
    ] {
        let (s, v) = raw(&r, "/v1/invoices", ct, text.clone()).await;
        assert_eq!((s, codes(&v)), (415, one("REQUEST_CONTENT_TYPE")), "{ct:?}: {v}");
        let (s, v) = raw(&r, "/v1/invoices/CT-1/red", ct, "{}").await;
        assert_eq!((s, codes(&v)), (415, one("REQUEST_CONTENT_TYPE")), "red {ct:?}: {v}");
        let (s, v) = raw(&r, "/v1/demo/order-token", ct, r#"{"lines":[]}"#).await;
        assert_eq!((s, codes(&v)), (415, one("REQUEST_CONTENT_TYPE")), "demo {ct:?}: {v}");
    }
    assert_eq!(get(&r, "/v1/invoices/CT-1").await.0, 404);
    assert_healthy_and_nothing_issued(&r, &sbx).await;
    // JSON with parameters or in another case is JSON.
    let (s, v) = raw(&r, "/v1/invoices", Some("Application/JSON; charset=utf-8"), text).await;
    assert_eq!(s, 202, "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_and_expired_tokens_are_401() {
    let dir = tempfile::tempdir().unwrap();
    let (r, sbx) = sandbox_proxy(dir.path(), |c| c.rate_limit_per_second = 0.0).await;
    let c = r.state.config.clone();
    let lines = json!([line("午餐", "106.00")]);
    let req = request("K-1", lines.clone());
    let good = mint(&c, "K-1", &lines, "106.00", 600);
    let (head, sig) = good.rsplit_once('.').unwrap();
    let payload = head.strip_prefix("FP1.").unwrap();
    let claims = |f: &dyn Fn(&mut Claims)| {
        let now = fapiao_proxy::time::now_s();
        let mut cl = Claims {
            v: 1,
            merchant: c.seller_tax_id.clone(),
            order_id: "K-1".into(),
            issued_at: now,
            expires_at: now + 600,
            price_includes_tax: true,
            lines: serde_json::from_value(lines.clone()).unwrap(),
            totals: TokenTotals {
                amount_incl_tax: Some("106.00".into()),
                ..Default::default()
            },
            ..Default::default()
        };
        f(&mut cl);
        fapiao_proxy::token::mint(&c.merchant_key, &cl)
    };
    let mut flipped = sig.as_bytes().to_vec();
    flipped[0] = if flipped[0] == b'A' { b'B' } else { b'A' };
    let cases: Vec<(&str, String, &str)> = vec![
        ("no signature", format!("FP1.{payload}."), "ORDER_TOKEN_SIGNATURE"),
        (
            "one character of the signature changed",
            format!("{head}.{}", String::from_utf8(flipped).unwrap()),
            "ORDER_TOKEN_SIGNATURE",
        ),
        (
            "signature truncated",
            format!("{head}.{}", &sig[..20]),
            "ORDER_TOKEN_SIGNATURE",
        ),
        (
            "signature of another key",
            {
                let other = fapiao_proxy::token::mint(
                    &fapiao_proxy::secret::Secret::new("y".repeat(40)),
                    &Claims {
                        v: 1,
                        order_id: "K-1".into(),
                        ..Default::default()
                    },
                );
                format!("{head}.{}", other.rsplit_once('.').unwrap().1)
            },
            "ORDER_TOKEN_SIGNATURE",
        ),
        (
            "signature not base64url",
            format!("{head}.!!!!"),
            "ORDER_TOKEN_MALFORMED",
        ),
        (
            "another version prefix",
            format!("FP2.{payload}.{sig}"),
            "ORDER_TOKEN_MALFORMED",
        ),
        ("no dots", good.replace('.', ""), "ORDER_TOKEN_MALFORMED"),
        (
            "a JWT with alg none",
            "eyJhbGciOiJub25lIn0.eyJvcmRlcklkIjoiSy0xIn0.".into(),
            "ORDER_TOKEN_MALFORMED",
        ),
        (
            "a signed token of version 2",
            claims(&|cl| cl.v = 2),
            "ORDER_TOKEN_MALFORMED",
        ),
        (
            "expired a second ago",
            claims(&|cl| cl.expires_at = fapiao_proxy::time::now_s() - 1),
            "ORDER_TOKEN_EXPIRED",
        ),
        (
            "expired long ago",
            claims(&|cl| {
                cl.issued_at = 1_600_000_000;
                cl.expires_at = 1_600_000_600;
            }),
            "ORDER_TOKEN_EXPIRED",
        ),
        (
            "expires now",
            claims(&|cl| cl.expires_at = fapiao_proxy::time::now_s()),
            "ORDER_TOKEN_EXPIRED",
        ),
    ];
    for (what, t, code) in cases {
        let (s, v) = post(&r, "/v1/invoices", &json!({ "request": req, "orderToken": t })).await;
        assert_eq!((s, codes(&v)), (401, one(code)), "{what}: {v}");
    }
    // A token of another merchant, validly signed (the seller differs): 403.
    let (s, v) = post(
        &r,
        "/v1/invoices",
        &json!({ "request": req, "orderToken": claims(&|cl| cl.merchant = "91110000600037341L".into()) }),
    )
    .await;
    assert_eq!((s, codes(&v)), (403, one("ORDER_TOKEN_MISMATCH")), "{v}");
    // A very long token inside the body limit.
    let (s, v) = post(
        &r,
        "/v1/invoices",
        &json!({ "request": req, "orderToken": format!("FP1.{}.{}", "A".repeat(100_000), sig) }),
    )
    .await;
    assert_eq!(s, 401, "{v}");
    assert_eq!(get(&r, "/v1/invoices/K-1").await.0, 404);
    assert_healthy_and_nothing_issued(&r, &sbx).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replayed_tokens_issue_nothing_new() {
    let dir = tempfile::tempdir().unwrap();
    let (r, sbx) = sandbox_proxy(dir.path(), |c| c.rate_limit_per_second = 0.0).await;
    let c = r.state.config.clone();
    let lines = json!([line("午餐", "106.00")]);
    let t = mint(&c, "R-1", &lines, "106.00", 600);
    assert_eq!(
        post(
            &r,
            "/v1/invoices",
            &json!({ "request": request("R-1", lines.clone()), "orderToken": t })
        )
        .await
        .0,
        202
    );
    assert_eq!(wait_final(&r, "R-1", 10).await["status"], "issued");
    // The same token, the same lines, another buyer (so another payload): a conflict.
    let mut other_buyer = request("R-1", lines.clone());
    other_buyer["buyer"] = json!({ "type": "person", "name": "张三" });
    let (s, v) = post(&r, "/v1/invoices", &json!({ "request": other_buyer, "orderToken": t })).await;
    assert_eq!((s, codes(&v)), (409, one("ORDER_CONFLICT")), "{v}");
    // Another delivery address only: still another payload.
    let mut other_mail = request("R-1", lines.clone());
    other_mail["delivery"] = json!({ "email": "attacker@example.com" });
    let (s, v) = post(&r, "/v1/invoices", &json!({ "request": other_mail, "orderToken": t })).await;
    assert_eq!((s, codes(&v)), (409, one("ORDER_CONFLICT")), "{v}");
    // The same token for other order ids (a receipt photographed and replayed).
    for id in ["R-2", "R-1 ", "r-1", "R-1\u{200b}"] {
        let (s, v) = post(
            &r,
            "/v1/invoices",
            &json!({ "request": request(id, lines.clone()), "orderToken": t }),
        )
        .await;
        assert!(
            (s == 403 && codes(&v) == one("ORDER_TOKEN_MISMATCH"))
                || (s == 422 && !codes(&v).is_empty())
                || (s == 200 && v["orderId"] == "R-1"),
            "{id:?}: {s} {v}"
        );
    }
    // The blue token presented as a red-letter token.
    let (s, v) = post(
        &r,
        "/v1/invoices/R-1/red",
        &json!({ "request": { "orderId": "R-1-R", "reason": "02", "full": true }, "orderToken": t }),
    )
    .await;
    assert_eq!((s, codes(&v)), (403, one("ORDER_TOKEN_MISMATCH")), "{v}");
    // A red token replayed against another blue order, and for a second red order.
    let now = fapiao_proxy::time::now_s();
    let red = fapiao_proxy::token::mint(
        &c.merchant_key,
        &Claims {
            v: 1,
            merchant: c.seller_tax_id.clone(),
            purpose: Purpose::Red,
            order_id: "R-1-R".into(),
            blue_order_id: Some("R-1".into()),
            issued_at: now,
            expires_at: now + 600,
            ..Default::default()
        },
    );
    let t2 = mint(&c, "R-9", &lines, "106.00", 600);
    assert_eq!(
        post(
            &r,
            "/v1/invoices",
            &json!({ "request": request("R-9", lines.clone()), "orderToken": t2 })
        )
        .await
        .0,
        202
    );
    assert_eq!(wait_final(&r, "R-9", 10).await["status"], "issued");
    let (s, v) = post(
        &r,
        "/v1/invoices/R-9/red",
        &json!({ "request": { "orderId": "R-1-R", "reason": "02", "full": true }, "orderToken": red }),
    )
    .await;
    assert_eq!((s, codes(&v)), (403, one("ORDER_TOKEN_MISMATCH")), "{v}");
    let (s, v) = post(
        &r,
        "/v1/invoices/R-1/red",
        &json!({ "request": { "orderId": "R-1-R2", "reason": "02", "full": true }, "orderToken": red }),
    )
    .await;
    assert_eq!((s, codes(&v)), (403, one("ORDER_TOKEN_MISMATCH")), "{v}");
    assert_eq!(get(&r, "/v1/invoices/R-1-R").await.0, 404);
    assert_eq!(get(&r, "/v1/invoices/R-2").await.0, 404);
    assert_eq!(
        (sbx.count("R-1").await, sbx.count("R-9").await, sbx.total().await),
        (1, 1, 2)
    );
    assert_eq!(get(&r, "/healthz").await.1["status"], "ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tampered_amounts_are_403_or_422() {
    let dir = tempfile::tempdir().unwrap();
    let (r, sbx) = sandbox_proxy(dir.path(), |c| c.rate_limit_per_second = 0.0).await;
    let c = r.state.config.clone();
    let sold = json!([{ "name": "笔", "taxCode": "1060201030000000000", "quantity": "2", "unitPrice": "5.65", "taxRate": "0.13" }]);
    let t = mint(&c, "TA-1", &sold, "11.30", 600);
    let variant = |f: &dyn Fn(&mut Value)| {
        let mut l = sold.clone();
        f(&mut l);
        json!({ "request": request("TA-1", l), "orderToken": t })
    };
    let mismatches: Vec<(&str, Value)> = vec![
        ("another rate", variant(&|l| l[0]["taxRate"] = json!("0.01"))),
        ("a lower unit price", variant(&|l| l[0]["unitPrice"] = json!("0.01"))),
        ("a larger quantity", variant(&|l| l[0]["quantity"] = json!("200"))),
        (
            "quantity and price swapped to the same amount",
            variant(&|l| {
                l[0]["quantity"] = json!("1");
                l[0]["unitPrice"] = json!("11.30");
            }),
        ),
        (
            "the amount given instead of quantity × price",
            variant(&|l| {
                *l = json!([{ "name": "笔", "taxCode": "1060201030000000000", "amount": "11.30", "taxRate": "0.13" }])
            }),
        ),
        (
            "split in two lines",
            variant(&|l| {
                let one = json!({ "name": "笔", "taxCode": "1060201030000000000", "quantity": "1", "unitPrice": "5.65", "taxRate": "0.13" });
                *l = json!([one, one]);
            }),
        ),
        (
            "an extra line",
            variant(&|l| {
                l.as_array_mut().unwrap().push(
                    json!({ "name": "笔", "taxCode": "1060201030000000000", "amount": "0.01", "taxRate": "0.13" }),
                )
            }),
        ),
        (
            "another tax code",
            variant(&|l| l[0]["taxCode"] = json!("1060201010000000000")),
        ),
    ];
    for (what, b) in mismatches {
        let (s, v) = post(&r, "/v1/invoices", &b).await;
        assert!(
            (s == 403 && codes(&v) == one("ORDER_TOKEN_MISMATCH")) || (s == 422 && !codes(&v).is_empty()),
            "{what}: {s} {v}"
        );
    }
    // Amounts no engine should take: the package's 422, never a 500 or a panic.
    for bad in [
        "-11.30",
        "1e3",
        "NaN",
        "0x10",
        "99999999999999999999999999999999",
        "0.000000000000000000000000000001",
        "",
        " ",
        "１１.３０",
    ] {
        let b = variant(&|l| l[0]["unitPrice"] = json!(bad));
        let (s, v) = post(&r, "/v1/invoices", &b).await;
        assert!((s == 422 || s == 403) && !codes(&v).is_empty(), "{bad:?}: {s} {v}");
        // The same in a token: the token's lines are not valid.
        let mut l = sold.clone();
        l[0]["unitPrice"] = json!(bad);
        let (s, v) = post(
            &r,
            "/v1/invoices",
            &json!({ "request": request("TA-1", sold.clone()), "orderToken": mint(&c, "TA-1", &l, "11.30", 600) }),
        )
        .await;
        assert_eq!((s, codes(&v)), (403, one("ORDER_TOKEN_MISMATCH")), "token {bad:?}: {v}");
    }
    // A token that leaves the tax code open does not let the browser pick one
    // (餐饮 → 办公用品 is the classic request); a discount line may leave it to
    // the line it discounts, and then only that code is accepted.
    let mut open = sold.clone();
    open[0].as_object_mut().unwrap().remove("taxCode");
    let (s, v) = post(
        &r,
        "/v1/invoices",
        &json!({ "request": request("TA-1", sold.clone()), "orderToken": mint(&c, "TA-1", &open, "11.30", 600) }),
    )
    .await;
    assert_eq!(
        (s, codes(&v)),
        (403, one("ORDER_TOKEN_MISMATCH")),
        "a token line without a tax code: {v}"
    );
    let discounted = json!([
        { "name": "笔", "taxCode": "1060201030000000000", "amount": "11.30", "taxRate": "0.13" },
        { "name": "笔", "kind": "discount", "amount": "-1.30", "taxRate": "0.13" },
    ]);
    let with_code = |code: &str| {
        let mut l = discounted.clone();
        l[1]["taxCode"] = json!(code);
        l
    };
    let token = mint(&c, "TA-D", &discounted, "10.00", 600);
    let (s, v) = post(
        &r,
        "/v1/invoices",
        &json!({ "request": request("TA-D", with_code("1040201100000000000")), "orderToken": token }),
    )
    .await;
    // (The package refuses it already: a discount line carries the name, so the
    // 简称, of the line it discounts.)
    assert!(
        (s == 403 || s == 422) && !codes(&v).is_empty(),
        "a discount line under another code: {s} {v}"
    );
    assert_eq!(get(&r, "/v1/invoices/TA-1").await.0, 404);
    assert_healthy_and_nothing_issued(&r, &sbx).await;
    let (s, v) = post(
        &r,
        "/v1/invoices",
        &json!({ "request": request("TA-D", with_code("1060201030000000000")), "orderToken": token }),
    )
    .await;
    assert_eq!(s, 202, "a discount line under the discounted line's code: {v}");
    // The untampered order goes through.
    assert_eq!(
        post(
            &r,
            "/v1/invoices",
            &json!({ "request": request("TA-1", sold.clone()), "orderToken": t })
        )
        .await
        .0,
        202
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn callback_spam_issues_nothing_and_wrong_tokens_are_401() {
    let dir = tempfile::tempdir().unwrap();
    let (r, sbx) = sandbox_proxy(dir.path(), |c| {
        c.rate_limit_per_second = 1.0;
        c.rate_limit_burst = 5.0;
        c.callback_token = Some(fapiao_proxy::secret::Secret::new("cb-token-0123456789"));
        // The callback rate limit has its own test (probe.rs); here every post is answered.
        c.callback_rate_limit_per_second = 0.0;
        c.sandbox.issue_delay_ms = (300, 300);
    })
    .await;
    assert_eq!(post(&r, "/v1/invoices", &body(&r.state.config, "S-1")).await.0, 202);
    let r = std::sync::Arc::new(r);
    let mut tasks = Vec::new();
    for i in 0..300 {
        let r = r.clone();
        tasks.push(tokio::spawn(async move {
            let token = match i % 3 {
                0 => "?token=cb-token-0123456789",
                1 => "?token=cb-token-0123456788",
                _ => "",
            };
            let order = if i % 2 == 0 { "S-1".to_owned() } else { format!("NOPE-{i}") };
            let resp = r
                .client
                .post(format!("{}/v1/callbacks/nuonuo{token}", r.base))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(format!("operater=callback&orderno={order}&content=%7B%22c_status%22%3A%222%22%2C%22c_fpdm%22%3A%2200000000000000000000%22%7D"))
                .send()
                .await
                .unwrap();
            let status = resp.status().as_u16();
            (i, status, resp.json::<Value>().await.unwrap_or(Value::Null))
        }));
    }
    for t in tasks {
        let (i, s, v) = t.await.unwrap();
        if i % 3 == 0 {
            assert_eq!((s, v["status"].as_str()), (200, Some("0000")), "{v}");
        } else {
            assert_eq!((s, codes(&v)), (401, one("CALLBACK_UNAUTHORIZED")), "{v}");
        }
    }
    // Garbage callbacks with the right token: answered, nothing trusted.
    for junk in [&b"\xff\xfe"[..], b"{", b"orderno=%ZZ%&content=%7B", b"[]", b"orderno"] {
        let (s, _) = raw(
            &r,
            "/v1/callbacks/nuonuo?token=cb-token-0123456789",
            Some("application/x-www-form-urlencoded"),
            junk.to_vec(),
        )
        .await;
        assert_eq!(s, 200);
    }
    // The push's content (an invoice number) was never trusted: one invoice, from the provider.
    let done = wait_final(&r, "S-1", 10).await;
    assert_eq!(done["status"], "issued", "{done}");
    assert_ne!(done["invoiceNumber"], "00000000000000000000");
    assert_eq!(get(&r, "/v1/invoices/NOPE-1").await.0, 404);
    assert_eq!((sbx.count("S-1").await, sbx.total().await), (1, 1));
    assert_eq!(get(&r, "/healthz").await.1["status"], "ok");
}
