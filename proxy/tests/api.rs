//! The HTTP API against the sandbox provider: the issuing flow, idempotency,
//! tokens, validation, red letters, waiting, limits, metrics.

mod common;

use std::time::Duration;

use common::*;
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issues_through_the_sandbox_with_files_and_long_poll() {
    let dir = tempfile::tempdir().unwrap();
    let (r, sbx) = sandbox_proxy(dir.path(), |_| {}).await;
    let (status, v) = post(&r, "/v1/invoices", &body(&r.state.config, "A-1")).await;
    assert_eq!(status, 202, "{v}");
    assert_eq!(v["orderId"], "A-1");
    assert!(matches!(v["status"].as_str(), Some("pending" | "issuing")), "{v}");
    let done = wait_final(&r, "A-1", 10).await;
    assert_eq!(done["status"], "issued", "{done}");
    let number = done["invoiceNumber"].as_str().unwrap();
    assert!(
        number.len() == 20 && number.bytes().all(|b| b.is_ascii_digit()),
        "{number}"
    );
    assert_eq!(done["totals"]["amountInclTax"], "106.00");
    assert!(done["issuedAt"].as_str().unwrap().ends_with("+08:00"));
    let xml = r
        .client
        .get(format!("{}{}", r.base, done["links"]["xml"].as_str().unwrap()))
        .send()
        .await
        .unwrap();
    assert_eq!(xml.status(), 200);
    let xml = xml.text().await.unwrap();
    assert!(
        xml.contains(number) && xml.contains("<AmountInclTax>106.00</AmountInclTax>"),
        "{xml}"
    );
    let html = r
        .client
        .get(format!("{}{}", r.base, done["links"]["view"].as_str().unwrap()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains(number) && html.contains("壹佰零陆圆整"), "{html}");
    assert_eq!(sbx.count("A-1").await, 1);
    // Unknown order.
    let (status, v) = get(&r, "/v1/invoices/NOPE").await;
    assert_eq!((status, codes(&v)), (404, vec!["ORDER_NOT_FOUND".to_owned()]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_order_twice_is_one_invoice_and_another_payload_is_a_conflict() {
    let dir = tempfile::tempdir().unwrap();
    let (r, sbx) = sandbox_proxy(dir.path(), |_| {}).await;
    let b = body(&r.state.config, "A-2");
    let (s1, v1) = post(&r, "/v1/invoices", &b).await;
    let (s2, v2) = post(&r, "/v1/invoices", &b).await;
    assert_eq!((s1, s2), (202, 200));
    assert_eq!(v1["orderId"], v2["orderId"]);
    assert_eq!(v1["createdAt"], v2["createdAt"]);
    // Same order id, another (validly signed) payload.
    let lines = json!([line("晚餐", "212.00")]);
    let other = json!({ "request": request("A-2", lines.clone()), "orderToken": mint(&r.state.config, "A-2", &lines, "212.00", 600) });
    let (s3, v3) = post(&r, "/v1/invoices", &other).await;
    assert_eq!((s3, codes(&v3)), (409, vec!["ORDER_CONFLICT".to_owned()]));
    assert_eq!(wait_final(&r, "A-2", 10).await["status"], "issued");
    // After issuing, a repeat still answers with the record and issues nothing.
    let (s4, v4) = post(&r, "/v1/invoices", &b).await;
    assert_eq!((s4, v4["status"].as_str()), (200, Some("issued")));
    assert_eq!(sbx.count("A-2").await, 1);
    assert_eq!(sbx.total().await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_duplicates_make_one_invoice() {
    let dir = tempfile::tempdir().unwrap();
    let (r, sbx) = sandbox_proxy(dir.path(), |_| {}).await;
    let b = body(&r.state.config, "A-3");
    let mut tasks = Vec::new();
    for _ in 0..32 {
        let (client, url, b) = (r.client.clone(), format!("{}/v1/invoices", r.base), b.clone());
        tasks.push(tokio::spawn(async move {
            client.post(url).json(&b).send().await.unwrap().status().as_u16()
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    assert_eq!(statuses.iter().filter(|s| **s == 202).count(), 1, "{statuses:?}");
    assert!(statuses.iter().all(|s| *s == 202 || *s == 200), "{statuses:?}");
    assert_eq!(wait_final(&r, "A-3", 10).await["status"], "issued");
    assert_eq!(sbx.count("A-3").await, 1);
    assert_eq!(sbx.total().await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_what_a_valid_unexpired_token_covers() {
    let dir = tempfile::tempdir().unwrap();
    let (r, sbx) = sandbox_proxy(dir.path(), |_| {}).await;
    let c = r.state.config.clone();
    let lines = json!([line("午餐", "106.00")]);
    let req = request("T-1", lines.clone());
    let cases: Vec<(Value, u16, &str)> = vec![
        (json!({ "request": req }), 401, "ORDER_TOKEN_MISSING"),
        (
            json!({ "request": req, "orderToken": "FP1.abc" }),
            401,
            "ORDER_TOKEN_MALFORMED",
        ),
        (
            json!({ "request": req, "orderToken": mint(&c, "T-1", &lines, "106.00", -5) }),
            401,
            "ORDER_TOKEN_EXPIRED",
        ),
        // The browser asks for more than the merchant sold.
        (
            json!({ "request": request("T-1", json!([line("午餐", "1060.00")])), "orderToken": mint(&c, "T-1", &lines, "106.00", 600) }),
            403,
            "ORDER_TOKEN_MISMATCH",
        ),
        // A token for another order.
        (
            json!({ "request": req, "orderToken": mint(&c, "T-2", &lines, "106.00", 600) }),
            403,
            "ORDER_TOKEN_MISMATCH",
        ),
        // A total that does not add up.
        (
            json!({ "request": req, "orderToken": mint(&c, "T-1", &lines, "100.00", 600) }),
            403,
            "ORDER_TOKEN_MISMATCH",
        ),
        (json!("not an object"), 400, "REQUEST_BODY_INVALID"),
    ];
    for (b, status, code) in cases {
        let (s, v) = post(&r, "/v1/invoices", &b).await;
        assert_eq!((s, codes(&v)), (status, vec![code.to_owned()]), "{b}");
    }
    // A forged signature: claims changed to a larger amount, signature kept.
    let good = mint(&c, "T-1", &lines, "106.00", 600);
    let big = json!([line("午餐", "1060.00")]);
    let evil = mint(
        &fapiao_proxy::Config {
            merchant_key: fapiao_proxy::secret::Secret::new("x".repeat(40)),
            ..c.clone()
        },
        "T-1",
        &big,
        "1060.00",
        600,
    );
    let forged = format!(
        "{}.{}",
        evil.rsplit_once('.').unwrap().0,
        good.rsplit_once('.').unwrap().1
    );
    let (s, v) = post(
        &r,
        "/v1/invoices",
        &json!({ "request": request("T-1", big), "orderToken": forged }),
    )
    .await;
    assert_eq!((s, codes(&v)), (401, vec!["ORDER_TOKEN_SIGNATURE".to_owned()]));
    // The package's validation, with the package's codes.
    let bad_lines =
        json!([{ "name": "午餐", "taxCode": "3070400000000000000", "amount": "106.00", "taxRate": "0.06" }]);
    let (s, v) = post(&r, "/v1/invoices", &json!({ "request": request("T-1", bad_lines.clone()), "orderToken": mint(&c, "T-1", &bad_lines, "106.00", 600) })).await;
    assert_eq!(s, 422);
    assert!(codes(&v).contains(&"TAXCODE_SUMMARY".to_owned()), "{v}");
    assert_eq!(sbx.total().await, 0, "nothing was issued");
    // An expired token still fetches the order it created, and creates nothing new.
    let (s, _) = post(&r, "/v1/invoices", &json!({ "request": req, "orderToken": good })).await;
    assert_eq!(s, 202);
    let (s, v) = post(
        &r,
        "/v1/invoices",
        &json!({ "request": req, "orderToken": mint(&c, "T-1", &lines, "106.00", -5) }),
    )
    .await;
    assert_eq!((s, v["orderId"].as_str()), (200, Some("T-1")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn red_letters_full_and_partial() {
    let dir = tempfile::tempdir().unwrap();
    let (r, sbx) = sandbox_proxy(dir.path(), |_| {}).await;
    let c = r.state.config.clone();
    let lines = json!([line("午餐", "106.00"), line("晚餐", "212.00")]);
    let b = json!({ "request": request("B-1", lines.clone()), "orderToken": mint(&c, "B-1", &lines, "318.00", 600) });
    assert_eq!(post(&r, "/v1/invoices", &b).await.0, 202);
    let blue = wait_final(&r, "B-1", 10).await;
    assert_eq!(blue["status"], "issued");
    let red_token = |id: &str| {
        let now = fapiao_proxy::time::now_s();
        fapiao_proxy::token::mint(
            &c.merchant_key,
            &fapiao_proxy::token::Claims {
                v: 1,
                merchant: c.seller_tax_id.clone(),
                purpose: fapiao_proxy::token::Purpose::Red,
                order_id: id.into(),
                blue_order_id: Some("B-1".into()),
                issued_at: now,
                expires_at: now + 600,
                ..Default::default()
            },
        )
    };
    // Partial: a 销售折让 of 10.00 on line 2.
    let partial = json!({ "request": { "orderId": "B-1-R1", "reason": "销售折让", "lines": [{ "blueLineNo": 2, "amount": "10.00" }] }, "orderToken": red_token("B-1-R1") });
    let (s, v) = post(&r, "/v1/invoices/B-1/red", &partial).await;
    assert_eq!(s, 202, "{v}");
    assert_eq!(v["totals"]["amountInclTax"], "-10.00");
    assert_eq!(wait_final(&r, "B-1-R1", 10).await["status"], "issued");
    assert_eq!(
        get(&r, "/v1/invoices/B-1").await.1["status"],
        "issued",
        "a partial red leaves the blue issued"
    );
    // 开票有误 cannot be partial.
    let bad = json!({ "request": { "orderId": "B-1-R2", "reason": "01", "lines": [{ "blueLineNo": 1, "amount": "1.00" }] }, "orderToken": red_token("B-1-R2") });
    let (s, v) = post(&r, "/v1/invoices/B-1/red", &bad).await;
    assert_eq!(s, 422);
    assert!(codes(&v).contains(&"RED_PARTIAL_REASON".to_owned()), "{v}");
    // Full reversal of what remains.
    let full =
        json!({ "request": { "orderId": "B-1-R3", "reason": "02", "full": true }, "orderToken": red_token("B-1-R3") });
    let (s, v) = post(&r, "/v1/invoices/B-1/red", &full).await;
    assert_eq!(s, 202, "{v}");
    assert_eq!(
        v["totals"]["amountInclTax"], "-308.00",
        "318.00 less the 10.00 already reversed"
    );
    assert_eq!(wait_final(&r, "B-1-R3", 10).await["status"], "issued");
    assert_eq!(get(&r, "/v1/invoices/B-1").await.1["status"], "reversed");
    // A blue token does not authorise a red letter.
    let wrong = json!({ "request": { "orderId": "B-1-R4", "reason": "02", "full": true }, "orderToken": mint(&c, "B-1-R4", &lines, "318.00", 600) });
    assert_eq!(
        post(&r, "/v1/invoices/B-1/red", &wrong).await.0,
        409,
        "the blue is reversed already"
    );
    assert_eq!(sbx.total().await, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_sent_events_end_with_the_final_status() {
    let dir = tempfile::tempdir().unwrap();
    let (r, _) = sandbox_proxy(dir.path(), |c| c.sandbox.issue_delay_ms = (200, 200)).await;
    assert_eq!(post(&r, "/v1/invoices", &body(&r.state.config, "E-1")).await.0, 202);
    let resp = r
        .client
        .get(format!("{}/v1/invoices/E-1/events", r.base))
        .bearer_auth(access(&r.state.config, "E-1"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let text = tokio::time::timeout(Duration::from_secs(10), resp.text())
        .await
        .expect("the stream ends")
        .unwrap();
    let statuses: Vec<String> = text
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .map(|d| {
            serde_json::from_str::<Value>(d).unwrap()["status"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(statuses.last().map(String::as_str), Some("issued"), "{text}");
    assert!(statuses.len() >= 2, "{statuses:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_come_back_as_issues() {
    let dir = tempfile::tempdir().unwrap();
    let (r, _) = sandbox_proxy(dir.path(), |_| {}).await;
    let c = r.state.config.clone();
    for (id, remark, code) in [
        ("F-1", "#sandbox:fail", "BUYER_TAXID_NOT_FOUND"),
        ("F-2", "#sandbox:reject", "LINE_TAX_TOLERANCE"),
    ] {
        let lines = json!([line("午餐", "106.00")]);
        let mut req = request(id, lines.clone());
        req["remark"] = json!(remark);
        let (s, _) = post(
            &r,
            "/v1/invoices",
            &json!({ "request": req, "orderToken": mint(&c, id, &lines, "106.00", 600) }),
        )
        .await;
        assert_eq!(s, 202);
        let v = wait_final(&r, id, 10).await;
        assert_eq!(v["status"], "failed");
        assert_eq!(v["error"]["code"], code, "{v}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_cors_health_metrics_demo_and_callbacks() {
    let dir = tempfile::tempdir().unwrap();
    let (r, _) = sandbox_proxy(dir.path(), |c| {
        c.rate_limit_per_second = 1.0;
        c.rate_limit_burst = 3.0;
        c.body_limit = 4096;
        c.allowed_origins = vec!["https://shop.example".into()];
    })
    .await;
    // Demo token → order.
    let (s, t) = post(
        &r,
        "/v1/demo/order-token",
        &json!({ "priceIncludesTax": true, "lines": [line("午餐", "106.00")] }),
    )
    .await;
    assert_eq!(s, 200, "{t}");
    let id = t["orderId"].as_str().unwrap().to_owned();
    let (s, _) = post(
        &r,
        "/v1/invoices",
        &json!({ "request": request(&id, json!([line("午餐", "106.00")])), "orderToken": t["orderToken"] }),
    )
    .await;
    assert_eq!(s, 202);
    // Body limit.
    let big = json!({ "request": { "remark": "x".repeat(10_000) }, "orderToken": "FP1.a.b" });
    let resp = r
        .client
        .post(format!("{}/v1/invoices", r.base))
        .json(&big)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 413);
    // Rate limit: the budget of 3 is spent.
    let (s, v) = get(&r, "/v1/invoices/X").await;
    assert_eq!((s, codes(&v)), (429, vec!["RATE_LIMITED".to_owned()]));
    // Health and metrics are not rate limited.
    assert_eq!(get(&r, "/healthz").await.1["status"], "ok");
    let m = metrics_text(&r).await;
    assert!(m.contains("fapiao_orders_accepted_total 1"), "{m}");
    assert!(
        m.contains("fapiao_http_requests_total{method=\"POST\",route=\"/v1/invoices\",status=\"202\"} 1"),
        "{m}"
    );
    // CORS: the allowed origin only.
    let pre = |origin: &'static str| {
        r.client
            .request(reqwest::Method::OPTIONS, format!("{}/healthz", r.base))
            .header("Origin", origin)
            .header("Access-Control-Request-Method", "POST")
            .send()
    };
    let ok = pre("https://shop.example").await.unwrap();
    assert_eq!(
        ok.headers()
            .get("access-control-allow-origin")
            .map(|v| v.to_str().unwrap()),
        Some("https://shop.example")
    );
    let no = pre("https://evil.example").await.unwrap();
    assert!(no.headers().get("access-control-allow-origin").is_none());
    // A callback is answered the way 诺诺 expects and only nudges the worker.
    let resp = post_callback(&r, "", &id, "1").await;
    assert_eq!(resp.json::<Value>().await.unwrap()["status"], "0000");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_the_demo_pages_and_the_package() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("www")).unwrap();
    std::fs::create_dir_all(dir.path().join("pkg")).unwrap();
    std::fs::write(dir.path().join("www/index.html"), "<h1>demo</h1>").unwrap();
    std::fs::write(dir.path().join("pkg/fapiao_bg.wasm"), b"\0asm").unwrap();
    let (www, pkg) = (dir.path().join("www"), dir.path().join("pkg"));
    let (r, _) = sandbox_proxy(dir.path(), |c| {
        c.static_dir = www;
        c.pkg_dir = pkg;
    })
    .await;
    let page = r.client.get(format!("{}/", r.base)).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(page.text().await.unwrap(), "<h1>demo</h1>");
    let wasm = r
        .client
        .get(format!("{}/pkg/fapiao_bg.wasm", r.base))
        .send()
        .await
        .unwrap();
    assert_eq!(wasm.headers()["content-type"], "application/wasm");
    assert_eq!(wasm.bytes().await.unwrap().as_ref(), b"\0asm");
    // With a precompressed copy beside it, a client that accepts gzip gets that.
    std::fs::write(dir.path().join("pkg/fapiao_bg.wasm.gz"), b"gzipped bytes").unwrap();
    let gz = r
        .client
        .get(format!("{}/pkg/fapiao_bg.wasm", r.base))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(gz.headers()["content-encoding"], "gzip");
    assert_eq!(gz.headers()["content-type"], "application/wasm");
    // An unknown order: 404 normally, 200 with null when asked with optional=true.
    let (status, _) = get(&r, "/v1/invoices/NO-SUCH-ORDER").await;
    assert_eq!(status, 404);
    let (status, body) = get(&r, "/v1/invoices/NO-SUCH-ORDER?optional=true").await;
    assert_eq!((status, body), (200, Value::Null));
}

/// Check and insert of a red letter are one transaction: twelve concurrent partial
/// red letters of 40.00 + 80.00 each against a 106.00 + 212.00 blue invoice — only
/// two fit, and exactly two are accepted; the others get a 422 with
/// `RED_EXCEEDS_REMAINING` (or `RED_NOTHING_LEFT`).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_partial_red_letters_never_exceed_the_blue() {
    let dir = tempfile::tempdir().unwrap();
    let (r, _) = sandbox_proxy(dir.path(), |c| {
        c.rate_limit_per_second = 0.0;
        c.sandbox.issue_delay_ms = (300, 300);
    })
    .await;
    let c = r.state.config.clone();
    let lines = json!([line("午餐", "106.00"), line("晚餐", "212.00")]);
    let b = json!({ "request": request("C-1", lines.clone()), "orderToken": mint(&c, "C-1", &lines, "318.00", 600) });
    assert_eq!(post(&r, "/v1/invoices", &b).await.0, 202);
    assert_eq!(wait_final(&r, "C-1", 10).await["status"], "issued");
    let red_token = |id: &str| {
        let now = fapiao_proxy::time::now_s();
        fapiao_proxy::token::mint(
            &c.merchant_key,
            &fapiao_proxy::token::Claims {
                v: 1,
                merchant: c.seller_tax_id.clone(),
                purpose: fapiao_proxy::token::Purpose::Red,
                order_id: id.into(),
                blue_order_id: Some("C-1".into()),
                issued_at: now,
                expires_at: now + 600,
                ..Default::default()
            },
        )
    };
    let r = std::sync::Arc::new(r);
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(12));
    let mut tasks = Vec::new();
    for i in 0..12 {
        let id = format!("C-1-R{i}");
        let body = json!({ "request": { "orderId": id, "reason": "销售折让",
            "lines": [{ "blueLineNo": 1, "amount": "40.00" }, { "blueLineNo": 2, "amount": "80.00" }] }, "orderToken": red_token(&id) });
        let (r, barrier) = (r.clone(), barrier.clone());
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            post(&r, "/v1/invoices/C-1/red", &body).await
        }));
    }
    let mut accepted = rust_decimal::Decimal::ZERO;
    let mut n_accepted = 0;
    for t in tasks {
        let (s, v) = t.await.unwrap();
        match s {
            202 => {
                n_accepted += 1;
                accepted -= v["totals"]["amountInclTax"]
                    .as_str()
                    .unwrap()
                    .parse::<rust_decimal::Decimal>()
                    .unwrap();
            }
            409 | 422 => {
                let codes = codes(&v);
                assert!(
                    codes
                        .iter()
                        .any(|c| c == "RED_EXCEEDS_REMAINING" || c == "RED_NOTHING_LEFT"),
                    "{s} {v}"
                );
            }
            _ => panic!("unexpected answer {s}: {v}"),
        }
    }
    assert!(accepted <= "318.00".parse().unwrap(), "accepted {accepted} of 318.00");
    assert_eq!(
        n_accepted, 2,
        "two reds of 120.00 fit (line 1: 2 × 40.00 ≤ 106.00), a third does not"
    );
    assert_eq!(accepted, "240.00".parse::<rust_decimal::Decimal>().unwrap());
    // What the store holds agrees: exactly two red orders for the blue.
    assert_eq!(r.state.store.reds_of("C-1").await.unwrap().len(), 2);
}

/// The sandbox accepts a special-business invoice and echoes the block in its XML
/// and HTML views; the canonical request rebuilds to itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sandbox_echoes_special_business() {
    let dir = tempfile::tempdir().unwrap();
    let (r, _) = sandbox_proxy(dir.path(), |_| {}).await;
    let c = r.state.config.clone();
    let lines = json!([{ "name": "运费", "taxCode": "3010102020100000000", "amount": "1090.00", "taxRate": "0.09" }]);
    let mut req = request("F-1", lines.clone());
    let row = json!({ "vehicleType": "2", "vehicleNumber": "粤B12345", "origin": "深圳市", "destination": "广州市", "goodsName": "电子元件" });
    req["specialBusiness"] = json!({ "type": "04", "transports": [row, row, row] });
    // A bad row is reported with its path.
    let mut bad = req.clone();
    bad["specialBusiness"]["transports"][2]["origin"] = json!("");
    let (s, v) = post(
        &r,
        "/v1/invoices",
        &json!({ "request": bad, "orderToken": mint(&c, "F-1", &lines, "1090.00", 600) }),
    )
    .await;
    assert_eq!(s, 422);
    assert_eq!(v["errors"][0]["field"], "specialBusiness.transports[2].origin", "{v}");

    // The block must be the one the merchant signed: absent from the token, added
    // by the browser, or altered in one field, it is refused and nothing is issued.
    let sb = req["specialBusiness"].clone();
    let mut altered = sb.clone();
    altered["transports"][1]["vehicleNumber"] = json!("粤B99999");
    let mut plain = req.clone();
    plain.as_object_mut().unwrap().remove("specialBusiness");
    for (what, sent, signed) in [
        ("added by the browser", &req, None),
        ("altered", &req, Some(&altered)),
        ("dropped", &plain, Some(&sb)),
    ] {
        let token = mint_special(&c, "F-1", &lines, "1090.00", 600, signed);
        let (s, v) = post(&r, "/v1/invoices", &json!({ "request": sent, "orderToken": token })).await;
        assert_eq!(
            (s, codes(&v)),
            (403, vec!["ORDER_TOKEN_MISMATCH".to_owned()]),
            "{what}: {v}"
        );
    }
    assert!(r.state.store.get("F-1").await.unwrap().is_none(), "nothing stored");

    // Signed with the type's Chinese name and a padded field: the same block once
    // normalised, so it matches the request's.
    let mut signed = sb.clone();
    signed["type"] = json!("货物运输服务");
    signed["transports"][0]["origin"] = json!(" 深圳市 ");
    let token = mint_special(&c, "F-1", &lines, "1090.00", 600, Some(&signed));
    let (s, v) = post(&r, "/v1/invoices", &json!({ "request": req, "orderToken": token })).await;
    assert_eq!(s, 202, "{v}");
    let done = wait_final(&r, "F-1", 10).await;
    assert_eq!(done["status"], "issued", "{done}");
    let xml = r
        .client
        .get(format!("{}{}", r.base, done["links"]["xml"].as_str().unwrap()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        xml.contains("<SpecialBusiness>") && xml.contains("<type>04</type>") && xml.contains("<origin>深圳市</origin>"),
        "{xml}"
    );
    let html = r
        .client
        .get(format!("{}{}", r.base, done["links"]["view"].as_str().unwrap()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("特定业务") && html.contains("粤B12345"), "{html}");

    let rec = r.state.store.get("F-1").await.unwrap().unwrap();
    let form: fapiao::request::IssueForm = serde_json::from_str(&rec.request).unwrap();
    let again = serde_json::to_string(&fapiao::request::build_issue_request(&form).request.unwrap()).unwrap();
    assert_eq!(
        again, rec.request,
        "a canonical request with specialBusiness rebuilds to itself"
    );
}

/// An order id alone reveals nothing: its record, event stream and files need the
/// access token the proxy returned with the order (as `?access=` or a bearer),
/// the order's own token (even expired), or the admin token; the order's links
/// carry the access token and open on their own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reading_an_order_needs_its_access_token() {
    let dir = tempfile::tempdir().unwrap();
    let (r, _) = sandbox_proxy(dir.path(), |c| {
        c.hooks.admin_token = Some(fapiao_proxy::secret::Secret::new("admin-token-0123456789abcdef"))
    })
    .await;
    let c = r.state.config.clone();
    let (s, accepted) = post(&r, "/v1/invoices", &body(&c, "ACC-1")).await;
    assert_eq!(s, 202);
    let token = accepted["accessToken"].as_str().unwrap().to_owned();
    assert_eq!(token, access(&c, "ACC-1"));
    assert_eq!(wait_final(&r, "ACC-1", 10).await["status"], "issued");

    // Without a credential, with another order's, with a wrong one: 401, and an
    // unknown order looks the same as a known one.
    let denied = |v: &Value| codes(v) == ["ORDER_ACCESS_DENIED"];
    for path in [
        "/v1/invoices/ACC-1".to_owned(),
        "/v1/invoices/ACC-1?optional=true".to_owned(),
        "/v1/invoices/NO-SUCH?optional=true".to_owned(),
        "/v1/invoices/ACC-1/events".to_owned(),
        "/v1/invoices/ACC-1/files/xml".to_owned(),
        format!("/v1/invoices/ACC-1?access={}", access(&c, "ACC-2")),
        format!("/v1/invoices/ACC-1?access={}x", &token[..42]),
    ] {
        let (s, v) = get_anonymous(&r, &path).await;
        assert!(s == 401 && denied(&v), "{path}: {s} {v}");
    }
    // An unknown order with its own access token: null, as before.
    assert_eq!(
        get_anonymous(
            &r,
            &format!("/v1/invoices/NO-SUCH?optional=true&access={}", access(&c, "NO-SUCH"))
        )
        .await,
        (200, Value::Null)
    );

    // The access token, the order token (expired too) and the admin token open it.
    let (s, v) = get_anonymous(&r, &format!("/v1/invoices/ACC-1?access={token}")).await;
    assert_eq!((s, v["status"].as_str()), (200, Some("issued")));
    let lines = json!([line("午餐", "106.00")]);
    let expired = mint(&c, "ACC-1", &lines, "106.00", -60);
    for bearer in [token.as_str(), expired.as_str(), "admin-token-0123456789abcdef"] {
        let resp = r
            .client
            .get(format!("{}/v1/invoices/ACC-1", r.base))
            .bearer_auth(bearer)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
    }
    let other = mint(&c, "ACC-2", &lines, "106.00", 600);
    let resp = r
        .client
        .get(format!("{}/v1/invoices/ACC-1", r.base))
        .bearer_auth(other)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401, "another order's token");

    // Every link of the proxy's own carries the token and opens without a header.
    let links = v["links"].as_object().unwrap();
    assert!(
        links.contains_key("view") && links.contains_key("xml") && links.contains_key("events"),
        "{v}"
    );
    for (k, link) in links {
        let link = link.as_str().unwrap();
        assert!(link.ends_with(&format!("access={token}")), "{k}: {link}");
        let resp = r.client.get(format!("{}{link}", r.base)).send().await.unwrap();
        assert_eq!(resp.status(), 200, "{k}: {link}");
        if k == "events" {
            drop(resp); // an open stream
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_receipt_codes_resolve_to_their_order_token() {
    let dir = tempfile::tempdir().unwrap();
    let (r, _) = sandbox_proxy(dir.path(), |_| {}).await;
    // No code unless asked for.
    let (s, t) = post(
        &r,
        "/v1/demo/order-token",
        &json!({ "priceIncludesTax": true, "lines": [line("午餐", "106.00")] }),
    )
    .await;
    assert_eq!(s, 200, "{t}");
    assert!(t.get("receiptCode").is_none(), "{t}");
    let (s, t) = post(
        &r,
        "/v1/demo/order-token",
        &json!({ "priceIncludesTax": true, "lines": [line("午餐", "106.00")], "receiptCode": true }),
    )
    .await;
    assert_eq!(s, 200, "{t}");
    let code = t["receiptCode"].as_str().unwrap().to_owned();
    assert_eq!(code.len(), 8);
    assert!(
        code.bytes().all(|b| b"23456789ABCDEFGHJKMNPQRSTUVWXYZ".contains(&b)),
        "{code}"
    );
    // As typed: lower case, a dash.
    let typed = format!("{}-{}", &code[..4], &code[4..]).to_lowercase();
    let (s, v) = get(&r, &format!("/v1/demo/receipts/{typed}")).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["orderToken"], t["orderToken"]);
    // The token it gives is good for the order.
    let id = t["orderId"].as_str().unwrap().to_owned();
    let (s, _) = post(
        &r,
        "/v1/invoices",
        &json!({ "request": request(&id, json!([line("午餐", "106.00")])), "orderToken": v["orderToken"] }),
    )
    .await;
    assert_eq!(s, 202);
    // Unknown and malformed codes.
    let (s, v) = get(&r, "/v1/demo/receipts/ZZZZZZZZ").await;
    assert_eq!((s, codes(&v)), (404, vec!["ORDER_NOT_FOUND".to_owned()]));
    let (s, _) = get(&r, "/v1/demo/receipts/FP1.abc").await;
    assert_eq!(s, 404);
}
