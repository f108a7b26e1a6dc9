//! Batches (批量开票): operator keys, one invoice per order id (within a batch,
//! across batches, against web orders), 422 with field paths, cancel before
//! submission (also against a worker that holds the order), progress over SSE,
//! the result export, and a proxy killed with SIGKILL mid-batch.
//!
//! SQLite by default; `FAPIAO_TEST_BACKEND=postgres` runs them on PostgreSQL.

mod common;

use std::time::Duration;

use common::*;
use fapiao_proxy::store::Status;
use fapiao_proxy::Config;
use serde_json::{json, Value};

const ADMIN: &str = "admin-token-0123456789abcdef";

/// Two operator keys, configured as their hashes.
struct Keys {
    wang: String,
    li: String,
    config: String,
}

fn keys() -> Keys {
    let (wang, l1) = fapiao_proxy::operator::generate("finance-wang").unwrap();
    let (li, l2) = fapiao_proxy::operator::generate("finance-li").unwrap();
    Keys {
        wang,
        li,
        config: format!("{l1}\n{l2}"),
    }
}

fn with_keys(k: &Keys) -> impl FnOnce(&mut Config) + '_ {
    move |c: &mut Config| {
        c.allowed_origins = vec!["https://finance.example".into()];
        c.operator_keys = fapiao_proxy::operator::parse_keys("FAPIAO_OPERATOR_KEYS", &k.config).unwrap();
        c.hooks.admin_token = Some(fapiao_proxy::secret::Secret::new(ADMIN));
    }
}

/// An IssueForm for `id` with one line of `amount`.
fn form(id: &str, amount: &str) -> Value {
    request(id, json!([line("咨询服务费", amount)]))
}

async fn send(r: &Running, method: &str, path: &str, key: Option<&str>, body: Option<&Value>) -> (u16, Value) {
    let url = format!("{}{path}", r.base);
    let mut req = match method {
        "POST" => r.client.post(url),
        _ => r.client.get(url),
    };
    if let Some(k) = key {
        req = req.bearer_auth(k);
    }
    if let Some(b) = body {
        req = req.json(b);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn wait_done(r: &Running, key: &str, id: &str, secs: u64) -> Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(secs);
    loop {
        let (s, v) = send(r, "GET", &format!("/v1/batches/{id}"), Some(key), None).await;
        assert_eq!(s, 200, "{v}");
        if v["done"] == json!(true) {
            return v;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "batch not done in {secs} s: {}",
            v["counts"]
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_operators_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let k = keys();
    let (r, sbx) = sandbox_proxy(dir.path(), with_keys(&k)).await;
    let batch = json!({ "orders": [form("NOP-1", "106.00")] });
    // An order token and an order's access token grant one order, never batches.
    let order_token = body(&r.state.config, "NOP-1")["orderToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let access_token = access(&r.state.config, "NOP-1");
    for (key, status, code) in [
        (None, 401, "OPERATOR_KEY_REQUIRED"),
        (Some("fop_0000"), 403, "OPERATOR_KEY_INVALID"),
        (Some(ADMIN), 403, "OPERATOR_KEY_INVALID"),
        (Some(order_token.as_str()), 403, "OPERATOR_KEY_INVALID"),
        (Some(access_token.as_str()), 403, "OPERATOR_KEY_INVALID"),
    ] {
        let (s, v) = send(&r, "POST", "/v1/batches", key, Some(&batch)).await;
        assert_eq!((s, codes(&v)), (status, vec![code.to_owned()]), "POST with {key:?}");
        let (s, v) = send(&r, "GET", "/v1/batches", key, None).await;
        assert_eq!((s, codes(&v)), (status, vec![code.to_owned()]), "GET with {key:?}");
    }
    // A page on an allowed origin may call the batch endpoints (CORS as for orders).
    let pre = r
        .client
        .request(reqwest::Method::OPTIONS, format!("{}/v1/batches", r.base))
        .header("origin", "https://finance.example")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "authorization, content-type")
        .send()
        .await
        .unwrap();
    assert_eq!(pre.status(), 200);
    assert_eq!(pre.headers()["access-control-allow-origin"], "https://finance.example");
    let other = r
        .client
        .request(reqwest::Method::OPTIONS, format!("{}/v1/batches", r.base))
        .header("origin", "https://evil.example")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert!(other.headers().get("access-control-allow-origin").is_none());
    // The admin token still works where it belongs.
    let (s, _) = send(&r, "GET", "/v1/admin/webhooks", Some(ADMIN), None).await;
    assert_eq!(s, 200);
    // Nothing was stored by the refused requests.
    assert!(r.state.store.get("NOP-1").await.unwrap().is_none());
    // The operator is let in, and each batch endpoint asks for the key.
    let (s, v) = send(&r, "POST", "/v1/batches", Some(&k.li), Some(&batch)).await;
    assert_eq!(s, 202, "{v}");
    let id = v["id"].as_str().unwrap().to_owned();
    for path in [
        format!("/v1/batches/{id}"),
        format!("/v1/batches/{id}/events"),
        format!("/v1/batches/{id}/export?format=csv"),
    ] {
        assert_eq!(send(&r, "GET", &path, None, None).await.0, 401, "{path}");
        assert_eq!(send(&r, "GET", &path, Some(ADMIN), None).await.0, 403, "{path}");
    }
    assert_eq!(
        send(
            &r,
            "POST",
            &format!("/v1/batches/{id}/cancel"),
            Some(ADMIN),
            Some(&json!({}))
        )
        .await
        .0,
        403
    );
    wait_done(&r, &k.li, &id, 20).await;
    assert_eq!(sbx.total().await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sandbox_demo_hands_out_its_operator_key_only_when_none_is_configured() {
    // The demo (sandbox, no operator keys): a key drawn for the run, good for batches.
    let dir = tempfile::tempdir().unwrap();
    let (r, sbx) = sandbox_proxy(dir.path(), |_| {}).await;
    let (s, v) = send(&r, "GET", "/v1/demo/operator-key", None, None).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["name"], "demo");
    let key = v["key"].as_str().unwrap().to_owned();
    assert!(key.starts_with("fop_"), "{key}");
    let batch = json!({ "orders": [form("DEMO-OP-1", "106.00")] });
    let (s, v) = send(&r, "POST", "/v1/batches", Some(&key), Some(&batch)).await;
    assert_eq!(s, 202, "{v}");
    let done = wait_done(&r, &key, v["id"].as_str().unwrap(), 20).await;
    assert_eq!(done["operator"], "demo");
    assert_eq!(sbx.total().await, 1);
    // A new run draws a new key: the old one opens nothing there.
    let dir2 = tempfile::tempdir().unwrap();
    let (r2, _) = sandbox_proxy(dir2.path(), |_| {}).await;
    let (s, v) = send(&r2, "GET", "/v1/batches", Some(&key), None).await;
    assert_eq!((s, codes(&v)), (403, vec!["OPERATOR_KEY_INVALID".to_owned()]));

    // Operator keys configured: no demo key, only theirs.
    let dir3 = tempfile::tempdir().unwrap();
    let k = keys();
    let (r3, _) = sandbox_proxy(dir3.path(), with_keys(&k)).await;
    let (s, v) = send(&r3, "GET", "/v1/demo/operator-key", None, None).await;
    assert_eq!((s, v), (204, Value::Null));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_orders_are_refused_with_every_field_path() {
    let dir = tempfile::tempdir().unwrap();
    let k = keys();
    let (r, _) = sandbox_proxy(dir.path(), with_keys(&k)).await;
    let mut bad_tax_id = form("BAD-1", "106.00");
    bad_tax_id["buyer"]["taxId"] = json!("91110000600037341X");
    let mut no_lines = form("BAD-2", "106.00");
    no_lines["lines"] = json!([]);
    let mut no_name = form("BAD-3", "106.00");
    no_name["buyer"]["name"] = json!("");
    let orders = json!([
        form("OK-0", "106.00"),
        bad_tax_id,
        no_lines,
        form("OK-3", "53.00"),
        no_name
    ]);
    let (s, v) = send(
        &r,
        "POST",
        "/v1/batches",
        Some(&k.wang),
        Some(&json!({ "orders": orders })),
    )
    .await;
    assert_eq!(s, 422, "{v}");
    let fields: Vec<String> = v["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap().to_owned())
        .collect();
    assert!(fields.iter().any(|f| f == "orders[1].buyer.taxId"), "{fields:?}");
    assert!(fields.iter().any(|f| f.starts_with("orders[2].lines")), "{fields:?}");
    assert!(fields.iter().any(|f| f == "orders[4].buyer.name"), "{fields:?}");
    assert!(
        fields
            .iter()
            .all(|f| !f.starts_with("orders[0]") && !f.starts_with("orders[3]")),
        "{fields:?}"
    );
    // The whole batch was refused: nothing stored, no batch listed.
    assert!(r.state.store.get("OK-0").await.unwrap().is_none());
    let (_, list) = send(&r, "GET", "/v1/batches", Some(&k.wang), None).await;
    assert_eq!(list["batches"], json!([]));
    // A body that is not a batch, an empty batch.
    let (s, v) = send(&r, "POST", "/v1/batches", Some(&k.wang), Some(&json!({ "orders": [] }))).await;
    assert_eq!((s, codes(&v)), (422, vec!["BATCH_SIZE".to_owned()]));
    let (s, v) = send(&r, "POST", "/v1/batches", Some(&k.wang), Some(&json!({ "order": [] }))).await;
    assert_eq!((s, codes(&v)), (400, vec!["REQUEST_BODY_INVALID".to_owned()]));
    let (s, v) = send(&r, "GET", "/v1/batches/b_nothing", Some(&k.wang), None).await;
    assert_eq!((s, codes(&v)), (404, vec!["BATCH_NOT_FOUND".to_owned()]));
}

/// Reads the batch's event stream until an event says `done`; returns the events' data.
async fn progress_events(r: &Running, key: &str, id: &str) -> Vec<Value> {
    let mut resp = r
        .client
        .get(format!("{}/v1/batches/{id}/events", r.base))
        .bearer_auth(key)
        .timeout(Duration::from_secs(60))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    let mut text = String::new();
    let mut out = Vec::new();
    // The stream ends after the event with done: true.
    while let Some(chunk) = resp.chunk().await.unwrap() {
        text.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = text.find("\n\n") {
            let block: String = text.drain(..end + 2).collect();
            if block.lines().any(|l| l == "event: progress") {
                let data = block.lines().find_map(|l| l.strip_prefix("data: ")).unwrap();
                out.push(serde_json::from_str::<Value>(data).unwrap());
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_invoice_per_order_id_within_and_across_batches() {
    let dir = tempfile::tempdir().unwrap();
    let k = keys();
    let (r, sbx) = sandbox_proxy(dir.path(), with_keys(&k)).await;
    // A web order that an ERP export also holds.
    assert_eq!(post(&r, "/v1/invoices", &body(&r.state.config, "DUP-WEB")).await.0, 202);
    let mut orders: Vec<Value> = (0..30).map(|i| form(&format!("DUP-{i}"), "106.00")).collect();
    orders.push(form("DUP-3", "106.00")); // twice in the batch
    orders.push(form("DUP-WEB", "106.00")); // a web order
    let batch = json!({ "clientBatchId": "erp-2026-12-05", "name": "十二月第一批", "orders": orders });
    let (s, created) = send(&r, "POST", "/v1/batches", Some(&k.wang), Some(&batch)).await;
    assert_eq!(s, 202, "{created}");
    assert_eq!(created["total"], 32);
    assert_eq!(created["duplicates"], json!(["DUP-3", "DUP-WEB"]));
    let id = created["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("b_"));
    // The same clientBatchId again (a page that lost the answer): the same batch.
    let (s, again) = send(&r, "POST", "/v1/batches", Some(&k.wang), Some(&batch)).await;
    assert_eq!((s, &again), (200, &created));
    // The progress stream reaches done.
    let events = progress_events(&r, &k.wang, &id).await;
    let last = events.last().expect("at least one progress event");
    assert_eq!(last["done"], true, "{events:?}");
    assert_eq!(last["total"], 32);
    assert_eq!(last["issued"], 32);
    assert_eq!(events.iter().filter(|e| e["done"] == true).count(), 1);
    let v = wait_done(&r, &k.wang, &id, 30).await;
    assert_eq!(
        v["counts"],
        json!({ "pending": 0, "submitted": 0, "issued": 32, "failed": 0, "cancelled": 0 })
    );
    assert_eq!(v["operator"], "finance-wang");
    assert_eq!(v["name"], "十二月第一批");
    let rows = v["orders"].as_array().unwrap();
    assert_eq!(rows.len(), 32);
    for (i, row) in rows.iter().enumerate() {
        assert_eq!(row["index"], i);
        assert_eq!(row["status"], "issued", "{row}");
        assert_eq!(row["invoiceNumber"].as_str().unwrap().len(), 20, "{row}");
        // The sandbox's XML link opens on its own (it carries the access token).
        let xml = row["files"]["xml"].as_str().unwrap();
        assert!(xml.starts_with(&format!(
            "/v1/invoices/{}/files/xml?access=",
            row["orderId"].as_str().unwrap()
        )));
    }
    assert_eq!(rows[30]["invoiceNumber"], rows[3]["invoiceNumber"]);
    assert_eq!(rows[30]["duplicate"], true);
    let (_, web) = get(&r, "/v1/invoices/DUP-WEB").await;
    assert_eq!(rows[31]["invoiceNumber"], web["invoiceNumber"]);
    // A later batch with some of the same ids: nothing issued twice.
    let later: Vec<Value> = (25..35).map(|i| form(&format!("DUP-{i}"), "106.00")).collect();
    let (s, v2) = send(
        &r,
        "POST",
        "/v1/batches",
        Some(&k.li),
        Some(&json!({ "orders": later })),
    )
    .await;
    assert_eq!(s, 202);
    assert_eq!(
        v2["duplicates"],
        json!(["DUP-25", "DUP-26", "DUP-27", "DUP-28", "DUP-29"])
    );
    let id2 = v2["id"].as_str().unwrap().to_owned();
    wait_done(&r, &k.li, &id2, 30).await;
    assert_eq!(sbx.total().await, 36, "30 + the web order + 5 new ones");
    // Webhooks per order as for single orders: accepted (written with the batch), then issued.
    for oid in ["DUP-0", "DUP-3", "DUP-WEB", "DUP-34"] {
        let ev = fapiao_proxy::ledger::events(&r.state.store, Some(oid.into()), 10)
            .await
            .unwrap();
        let kinds: Vec<(&str, i64)> = ev.iter().map(|e| (e.kind.as_str(), e.seq)).collect();
        assert_eq!(kinds, vec![("order.accepted", 1), ("invoice.issued", 2)], "{oid}");
    }
    for i in 0..35 {
        assert_eq!(sbx.count(&format!("DUP-{i}")).await, 1, "DUP-{i}");
    }
    // The list, newest first, with counts.
    let (_, list) = send(&r, "GET", "/v1/batches", Some(&k.li), None).await;
    let ids: Vec<&str> = list["batches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![id2.as_str(), id.as_str()]);
    assert_eq!(list["batches"][1]["counts"]["issued"], 32);
    assert_eq!(list["batches"][0]["operator"], "finance-li");
    // Exports: CSV (with a BOM, for Excel) and JSON, every invoice number in them.
    let resp = r
        .client
        .get(format!("{}/v1/batches/{id}/export?format=csv", r.base))
        .bearer_auth(&k.wang)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
    let csv = resp.text().await.unwrap();
    assert!(csv.starts_with("\u{feff}index,orderId,status,invoiceNumber"));
    assert_eq!(csv.lines().count(), 33);
    for row in rows {
        assert!(csv.contains(row["invoiceNumber"].as_str().unwrap()));
    }
    let (s, j) = send(
        &r,
        "GET",
        &format!("/v1/batches/{id}/export?format=json"),
        Some(&k.wang),
        None,
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(j["orders"].as_array().unwrap().len(), 32);
    assert_eq!(j["orders"][5]["invoiceNumber"], rows[5]["invoiceNumber"]);
    let (s, _) = send(
        &r,
        "GET",
        &format!("/v1/batches/{id}/export?format=xls"),
        Some(&k.wang),
        None,
    )
    .await;
    assert_eq!(s, 400);
    // Each action is recorded with the operator's name.
    let trail = fapiao_proxy::batches::audit_trail(&r.state.store, 20).await.unwrap();
    let actions: Vec<(String, String)> = trail
        .iter()
        .map(|a| {
            (
                a["operator"].as_str().unwrap().to_owned(),
                a["action"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    for want in [
        ("finance-wang", "batch.create"),
        ("finance-li", "batch.create"),
        ("finance-wang", "batch.export"),
    ] {
        assert!(
            actions.contains(&(want.0.into(), want.1.into())),
            "{want:?} in {actions:?}"
        );
    }
    assert_eq!(
        actions.iter().filter(|a| a.1 == "batch.create").count(),
        2,
        "the resent batch is not a new one"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_before_submission() {
    let dir = tempfile::tempdir().unwrap();
    let k = keys();
    let (mut a, _) = sandbox_proxy(dir.path(), with_keys(&k)).await;
    // No worker: every order stays pending.
    a.stop_worker();
    let orders: Vec<Value> = (0..6).map(|i| form(&format!("CX-{i}"), "106.00")).collect();
    let (s, v) = send(
        &a,
        "POST",
        "/v1/batches",
        Some(&k.wang),
        Some(&json!({ "orders": orders })),
    )
    .await;
    assert_eq!(s, 202);
    let id = v["id"].as_str().unwrap().to_owned();
    // A worker instance claims CX-5 and is about to mark it submitted.
    let claimed = a
        .state
        .store
        .claim_due("other-instance", fapiao_proxy::time::now_ms(), 100, 60_000)
        .await
        .unwrap();
    let mut held = claimed
        .into_iter()
        .find(|r| r.order_id == "CX-5")
        .expect("CX-5 claimed");
    let (s, out) = send(
        &a,
        "POST",
        &format!("/v1/batches/{id}/cancel"),
        Some(&k.li),
        Some(&json!({ "orderIds": ["CX-1", "CX-2", "CX-5", "NOT-IN-BATCH"] })),
    )
    .await;
    assert_eq!(s, 200, "{out}");
    assert_eq!(out["cancelled"], json!(["CX-1", "CX-2", "CX-5"]));
    assert_eq!(
        out["notCancelled"],
        json!([{ "orderId": "NOT-IN-BATCH", "status": "unknown" }])
    );
    // The worker's "submitted" write finds its lease gone: it never calls the provider.
    held.status = Status::Issuing;
    held.submitted = true;
    assert!(!a.state.store.save_claimed(held, "other-instance", false).await.unwrap());
    assert_eq!(
        a.state.store.get("CX-5").await.unwrap().unwrap().status,
        Status::Cancelled
    );
    // That instance stops; what it held is free again.
    assert_eq!(a.state.store.release_leases("other-instance").await.unwrap(), 3);
    // A worker that claims to submit marks the order submitted in its claim:
    // from then on it cannot be cancelled.
    let marked = a
        .state
        .store
        .claim_to_submit("third-instance", fapiao_proxy::time::now_ms(), 1, 60_000)
        .await
        .unwrap();
    assert_eq!(marked.len(), 1);
    let (taken, fresh) = &marked[0];
    assert!(*fresh && taken.submitted && taken.status == Status::Issuing);
    let (_, out) = send(
        &a,
        "POST",
        &format!("/v1/batches/{id}/cancel"),
        Some(&k.li),
        Some(&json!({ "orderIds": [taken.order_id] })),
    )
    .await;
    assert_eq!(out["cancelled"], json!([]));
    assert_eq!(
        out["notCancelled"],
        json!([{ "orderId": taken.order_id, "status": "submitted" }])
    );
    assert_eq!(a.state.store.release_leases("third-instance").await.unwrap(), 1);
    // The order endpoint shows it too, as final.
    let (_, v) = get(&a, "/v1/invoices/CX-1").await;
    assert_eq!(v["status"], "cancelled");
    // Each cancelled order has its webhook event.
    let ev = fapiao_proxy::ledger::events(&a.state.store, Some("CX-2".into()), 10)
        .await
        .unwrap();
    let kinds: Vec<&str> = ev.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, vec!["order.accepted", "order.cancelled"]);
    a.kill();
    // A proxy with a worker: the rest are issued, the cancelled never reach the provider.
    let (b, sbx) = sandbox_proxy(dir.path(), with_keys(&k)).await;
    let v = wait_done(&b, &k.wang, &id, 30).await;
    assert_eq!(v["counts"]["issued"], 3);
    assert_eq!(v["counts"]["cancelled"], 3);
    assert_eq!(sbx.total().await, 3);
    for i in [1, 2, 5] {
        assert_eq!(sbx.count(&format!("CX-{i}")).await, 0);
    }
    // Issued orders cannot be cancelled.
    let (s, out) = send(
        &b,
        "POST",
        &format!("/v1/batches/{id}/cancel"),
        Some(&k.wang),
        Some(&json!({})),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(out["cancelled"], json!([]));
    assert_eq!(out["notCancelled"].as_array().unwrap().len(), 6);
    assert_eq!(out["notCancelled"][0], json!({ "orderId": "CX-0", "status": "issued" }));
    assert_eq!(
        out["notCancelled"][1],
        json!({ "orderId": "CX-1", "status": "cancelled" })
    );
    let trail = fapiao_proxy::batches::audit_trail(&b.state.store, 20).await.unwrap();
    assert!(trail.iter().any(|a| a["action"] == "batch.cancel"
        && a["operator"] == "finance-li"
        && a["detail"]["cancelled"] == json!(["CX-1", "CX-2", "CX-5"])));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_duplicate_of_a_web_order_is_never_cancelled_through_the_batch() {
    let dir = tempfile::tempdir().unwrap();
    let k = keys();
    let (mut r, _) = sandbox_proxy(dir.path(), with_keys(&k)).await;
    r.stop_worker();
    assert_eq!(post(&r, "/v1/invoices", &body(&r.state.config, "SHOP-1")).await.0, 202);
    let (s, v) = send(
        &r,
        "POST",
        "/v1/batches",
        Some(&k.wang),
        Some(&json!({ "orders": [form("SHOP-1", "106.00"), form("ERP-1", "106.00")] })),
    )
    .await;
    assert_eq!(s, 202);
    let id = v["id"].as_str().unwrap();
    let (_, out) = send(
        &r,
        "POST",
        &format!("/v1/batches/{id}/cancel"),
        Some(&k.wang),
        Some(&json!({})),
    )
    .await;
    assert_eq!(out["cancelled"], json!(["ERP-1"]));
    assert_eq!(
        out["notCancelled"],
        json!([{ "orderId": "SHOP-1", "status": "pending" }])
    );
    assert_eq!(
        r.state.store.get("SHOP-1").await.unwrap().unwrap().status,
        Status::Pending
    );
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn spawn_proxy(config: &Config, port: u16, keys: &str) -> std::process::Child {
    let db = match &config.postgres {
        Some(url) => url.expose().to_owned(),
        None => format!("sqlite:{}", config.database_path.display()),
    };
    std::process::Command::new(env!("CARGO_BIN_EXE_fapiao-proxy"))
        .env_clear()
        .env("FAPIAO_LISTEN", format!("127.0.0.1:{port}"))
        .env("FAPIAO_DATABASE_URL", db)
        .env("FAPIAO_ARCHIVE_DIR", config.archive_dir())
        .env("FAPIAO_MERCHANT_KEY", "test-merchant-key-0123456789abcdef")
        .env("FAPIAO_OPERATOR_KEYS", keys)
        .env("FAPIAO_INSTANCE_ID", "batch-crash-test")
        .env("FAPIAO_RATE_LIMIT", "0")
        // Few calls in flight, so that the kill below finds most of the batch
        // not yet at the provider whatever the default.
        .env("FAPIAO_WORKERS", "4")
        .env("FAPIAO_SANDBOX_LATENCY_MS", "5")
        .env("FAPIAO_SANDBOX_ISSUE_DELAY_MS", "100-400")
        .env("FAPIAO_POLL_MS", "50")
        .env("FAPIAO_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_batch_and_restart_gives_one_invoice_per_order() {
    let dir = tempfile::tempdir().unwrap();
    let config = test_config(dir.path()).await;
    let k = keys();
    let client = reqwest::Client::new();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let up = |client: reqwest::Client, base: String| async move {
        for _ in 0..400 {
            if client.get(format!("{base}/healthz")).send().await.is_ok() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("the proxy did not start");
    };
    let n = 400;
    let orders: Vec<Value> = (0..n).map(|i| form(&format!("KB-{i}"), "106.00")).collect();
    let mut child = spawn_proxy(&config, port, &k.config);
    up(client.clone(), base.clone()).await;
    let resp = client
        .post(format!("{base}/v1/batches"))
        .bearer_auth(&k.wang)
        .json(&json!({ "orders": orders }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 202);
    let id = resp.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    // Kill once some orders are out at the provider and most are not done.
    let store = open_store(&config).await;
    for _ in 0..400 {
        if store.sandbox_count(None).await.unwrap() >= 20 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let before = store.sandbox_count(None).await.unwrap();
    assert!(before < n, "killed mid-batch ({before} of {n} at the provider)");
    let mut child = spawn_proxy(&config, port, &k.config);
    up(client.clone(), base.clone()).await;
    let mut v = Value::Null;
    for _ in 0..600 {
        v = client
            .get(format!("{base}/v1/batches/{id}"))
            .bearer_auth(&k.wang)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if v["done"] == true {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(
        v["done"], true,
        "the batch completes after the restart: {}",
        v["counts"]
    );
    assert_eq!(v["counts"]["issued"], n, "{}", v["counts"]);
    assert_eq!(
        store.sandbox_count(None).await.unwrap(),
        n,
        "one invoice per order in all"
    );
    for (i, row) in v["orders"].as_array().unwrap().iter().enumerate() {
        let oid = format!("KB-{i}");
        assert_eq!(
            store.sandbox_count(Some(&oid)).await.unwrap(),
            1,
            "exactly one invoice for {oid}"
        );
        let sandbox = store.sandbox_get(&oid).await.unwrap().unwrap();
        assert_eq!(
            row["invoiceNumber"].as_str(),
            sandbox.number.as_deref(),
            "{oid} reports its invoice"
        );
    }
}

/// Runs `fapiao-proxy ARGS` in `dir` with the proxy's URL and `key`; exit code and standard output.
async fn cli(dir: &std::path::Path, base: &str, key: &str, args: &[&str]) -> (i32, String, String) {
    let (dir, base, key) = (dir.to_owned(), base.to_owned(), key.to_owned());
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_fapiao-proxy"))
            .current_dir(&dir)
            .env_clear()
            .env("FAPIAO_URL", base)
            .env("FAPIAO_OPERATOR_KEY", key)
            .args(&args)
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_line_checks_submits_follows_and_exports_a_sheet() {
    let dir = tempfile::tempdir().unwrap();
    let k = keys();
    let (r, sbx) = sandbox_proxy(dir.path(), with_keys(&k)).await;
    let d = dir.path();
    // The template (an example row for two orders), and a copy with two planted errors.
    let (code, _, err) = cli(d, &r.base, &k.wang, &["batch", "template", "--out", "t.csv"]).await;
    assert_eq!(code, 0, "{err}");
    let good = std::fs::read_to_string(d.join("t.csv")).unwrap();
    let bad = good
        .replace("91110000600037341L", "911100OO600037341L")
        .replace(",张三,", ",,");
    assert_ne!(good, bad);
    std::fs::write(d.join("bad.csv"), &bad).unwrap();
    // The same sheet as a Chinese Excel saves it: GBK, no byte-order mark.
    std::fs::write(d.join("bad-gbk.csv"), gbk(bad.trim_start_matches('\u{feff}'))).unwrap();
    for file in ["bad.csv", "bad-gbk.csv"] {
        let (code, out, _) = cli(d, &r.base, &k.wang, &["batch", "submit", file, "--dry-run"]).await;
        assert_eq!(code, 1, "{out}");
        assert!(
            out.contains("row 2 购买方税号 (buyerTaxId): error TAXID_CHARSET"),
            "{out}"
        );
        assert!(out.contains("fix: 改为 91110000600037341L"), "{out}");
        assert!(
            out.contains("row 4 购买方名称 (buyerName): error BUYER_NAME_REQUIRED"),
            "{out}"
        );
        assert_eq!(out.lines().filter(|l| l.starts_with("row ")).count(), 2, "{out}");
        assert!(out.contains("nothing sent"));
        // Without --dry-run a sheet with errors is not sent either.
        let (code, _, err) = cli(d, &r.base, &k.wang, &["batch", "submit", file]).await;
        assert_eq!(code, 1, "{err}");
    }
    let (_, list) = send(&r, "GET", "/v1/batches", Some(&k.wang), None).await;
    assert_eq!(list["batches"], json!([]), "nothing was sent");
    // A key that is not an operator's.
    let (code, _, err) = cli(d, &r.base, ADMIN, &["batch", "submit", "t.csv"]).await;
    assert_eq!(code, 2);
    assert!(err.contains("OPERATOR_KEY_INVALID"), "{err}");
    // The good sheet: submitted and followed to the end.
    let (code, out, err) = cli(
        d,
        &r.base,
        &k.wang,
        &["batch", "submit", "t.csv", "--name", "样例", "--wait"],
    )
    .await;
    assert_eq!(code, 0, "{out}{err}");
    let id = out
        .split_whitespace()
        .find(|w| w.starts_with("b_"))
        .expect("the batch id is printed")
        .trim_end_matches(':')
        .to_owned();
    assert!(out.contains("2 issued"), "{out}");
    assert_eq!(sbx.total().await, 2);
    let (code, out, _) = cli(d, &r.base, &k.wang, &["batch", "status", &id]).await;
    assert_eq!(code, 0);
    assert!(out.contains("“样例” by finance-wang"), "{out}");
    // The results as .xlsx (the core's writer) and .csv (the proxy's export).
    let (_, v) = send(&r, "GET", &format!("/v1/batches/{id}"), Some(&k.wang), None).await;
    let numbers: Vec<String> = v["orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["invoiceNumber"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(numbers.len(), 2);
    for out_file in ["results.xlsx", "results.csv"] {
        let (code, _, err) = cli(d, &r.base, &k.wang, &["batch", "export", &id, "--out", out_file]).await;
        assert_eq!(code, 0, "{err}");
        let bytes = std::fs::read(d.join(out_file)).unwrap();
        let sheet = fapiao::batch::read_sheet(&bytes, out_file).unwrap();
        assert_eq!(sheet.rows.len(), 2, "{out_file}");
        for n in &numbers {
            assert!(
                sheet.rows.iter().any(|row| row.cells.iter().any(|c| c == n)),
                "{out_file} holds {n}: {sheet:?}"
            );
        }
    }
    let xlsx = fapiao::batch::read_sheet(&std::fs::read(d.join("results.xlsx")).unwrap(), "results.xlsx").unwrap();
    assert!(
        xlsx.rows
            .iter()
            .flat_map(|row| row.cells.iter())
            .any(|c| c.starts_with(&format!("{}/v1/invoices/", r.base))),
        "links in the file are absolute: {xlsx:?}"
    );
}

/// UTF-8 text as GBK, converted by the system's iconv as Chinese Excel would save it.
fn gbk(text: &str) -> Vec<u8> {
    use std::io::Write;
    let mut child = std::process::Command::new("iconv")
        .args(["-f", "UTF-8", "-t", "GBK"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("iconv");
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "iconv");
    assert!(std::str::from_utf8(&out.stdout).is_err(), "GBK, not UTF-8");
    out.stdout
}
