//! Several sellers in one proxy: three sellers on two providers — the home
//! seller on the sandbox, one on the 诺诺 fake with its own self-use app, one on
//! the 诺诺 fake through a third-party (ISV) app it authorized — each order
//! going to its seller's provider account and tax ID, tokens and reads kept to
//! their seller, the same order id at two sellers giving two invoices, the
//! ISV token flow (code exchange, userId refresh, userTax, per-app quota), and
//! a reload adding a fourth seller while orders are in flight.
//!
//! Runs on SQLite, or on PostgreSQL with `FAPIAO_TEST_BACKEND=postgres`.

mod common;
mod fakes;

use std::path::Path;
use std::time::Duration;

use common::*;
use fakes::nuonuo::{self as nn, ISV_APP_KEY, ISV_APP_SECRET, ISV_REDIRECT};
use fapiao_proxy::secret::Secret;
use fapiao_proxy::token::{self, Claims, TokenTotals};
use fapiao_proxy::{App, Config};
use serde_json::{json, Value};

const A: &str = "91110000MA0SBX0A01"; // home seller, sandbox
const B: &str = nn::TAX_NO; // 诺诺, self-use app
const C: &str = "91330100MA2ISV0C03"; // 诺诺, through the third-party app
const D: &str = "91440300MA5D0D0D04"; // added by a reload, sandbox
const KEY_A: &str = "merchant-key-of-seller-a-0123456789abcdef";
const KEY_B: &str = "merchant-key-of-seller-b-0123456789abcdef";
const KEY_C: &str = "merchant-key-of-seller-c-0123456789abcdef";
const KEY_D: &str = "merchant-key-of-seller-d-0123456789abcdef";
const ADMIN: &str = "admin-token-0123456789abcdef";

fn key_of(tax: &str) -> &'static str {
    match tax {
        A => KEY_A,
        B => KEY_B,
        C => KEY_C,
        _ => KEY_D,
    }
}

/// The sellers file: A, B, C (and D when `with_d`); the 诺诺 sellers point at the fake.
fn sellers_toml(fake: &str, with_d: bool, isv_quota: u32) -> String {
    let mut t = format!(
        r#"
[[seller]]
tax_id = "{A}"
name = "示例集团总部"
home = true
merchant_key = "{KEY_A}"
allowed_origins = ["https://hq.example.com"]

[[seller]]
tax_id = "{B}"
name = "示例集团杭州公司"
provider = "nuonuo"
merchant_key_file = "b.key"
clerk = "王会计"
address = "杭州市西湖区文三路1号"
phone = "0571-88888888"
bank = "工商银行杭州分行"
bank_account = "1202000000000000001"
invoice_types = ["normal"]
operators = ["ops-b", "ops-all"]
[seller.nuonuo]
app_key = "{app}"
app_secret = "{secret}"
gateway_url = "{fake}/open/v1/services"
token_url = "{fake}/accessToken"

[[seller]]
tax_id = "{C}"
name = "示例集团深圳公司"
provider = "nuonuo"
merchant_key = "{KEY_C}"
operators = ["ops-all"]
[seller.nuonuo]
mode = "isv"
app_key = "{ISV_APP_KEY}"
app_secret = "{ISV_APP_SECRET}"
redirect_uri = "{ISV_REDIRECT}"
gateway_url = "{fake}/open/v1/services"
token_url = "{fake}/accessToken"
token_retry_base_ms = 20
token_retry_max_ms = 100
token_quota = {isv_quota}
"#,
        app = nn::APP_KEY,
        secret = nn::APP_SECRET,
    );
    if with_d {
        t += &format!("\n[[seller]]\ntax_id = \"{D}\"\nname = \"示例集团广州公司\"\nmerchant_key = \"{KEY_D}\"\n");
    }
    t
}

struct Setup {
    r: Running,
    fake: fakes::Fake,
    file: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

async fn setup(isv_quota: u32) -> Setup {
    setup_with(isv_quota, |_| {}).await
}

async fn setup_with(isv_quota: u32, tweak: impl FnOnce(&mut Config)) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("b.key"), format!("{KEY_B}\n")).unwrap();
    let fake = nn::start().await;
    let file = dir.path().join("sellers.toml");
    std::fs::write(&file, sellers_toml(&fake.base, false, isv_quota)).unwrap();
    let mut config = test_config(dir.path()).await;
    config.use_sellers_file(&file).unwrap();
    config.hooks.admin_token = Some(Secret::new(ADMIN));
    tweak(&mut config);
    assert_eq!(
        config.seller_tax_id, A,
        "the home seller's settings are the single-seller ones"
    );
    let store = open_store(&config).await;
    let sbx = sandbox(&store, &config);
    let app = App::start_with(config, store, sbx).await.unwrap();
    Setup {
        r: serve(app).await,
        fake,
        file,
        _dir: dir,
    }
}

/// A configuration whose single-seller fields are `tax`'s (for the token helpers).
fn as_seller(config: &Config, tax: &str) -> Config {
    let mut c = config.clone();
    c.seller_tax_id = tax.into();
    c.merchant_key = Secret::new(key_of(tax));
    c
}

fn claims_for(tax: &str, id: &str) -> Claims {
    let now = fapiao_proxy::time::now_s();
    Claims {
        v: 1,
        merchant: tax.into(),
        order_id: id.into(),
        issued_at: now,
        expires_at: now + 600,
        price_includes_tax: true,
        lines: serde_json::from_value(json!([line("午餐", "106.00")])).unwrap(),
        totals: TokenTotals {
            amount_incl_tax: Some("106.00".into()),
            ..Default::default()
        },
        ..Default::default()
    }
}

/// GET with a bearer credential.
async fn get_as(r: &Running, path: &str, bearer: &str) -> (u16, Value) {
    let resp = r
        .client
        .get(format!("{}{path}", r.base))
        .bearer_auth(bearer)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// Long-polls an order of `tax` until it is final.
async fn final_of(r: &Running, tax: &str, id: &str) -> Value {
    let access = token::access_token(&Secret::new(key_of(tax)), id);
    let path = format!("/v1/invoices/{tax}:{id}?wait=5");
    for _ in 0..60 {
        let (s, v) = get_as(r, &path, &access).await;
        assert_eq!(s, 200, "{tax}:{id}: {v}");
        if matches!(v["status"].as_str(), Some("issued" | "failed")) {
            return v;
        }
    }
    panic!("{tax}:{id} did not finish");
}

async fn authorize_c(s: &Setup) {
    let code = s.fake.authorization_code(C);
    let resp =
        s.r.client
            .post(format!("{}/v1/admin/sellers/{C}/nuonuo/authorize", s.r.base))
            .bearer_auth(ADMIN)
            .json(&json!({ "code": code }))
            .send()
            .await
            .unwrap();
    assert_eq!(resp.status(), 200, "{:?}", resp.text().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_sellers_on_two_providers_stay_apart() {
    let s = setup(nn::TOKEN_QUOTA).await;
    let r = &s.r;
    let cfg = r.state.config.clone();

    // C's order before C authorized the app: accepted, and it waits.
    let (st, v) = post(r, "/v1/invoices", &body(&as_seller(&cfg, C), "ORD-1")).await;
    assert_eq!(st, 202, "{v}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (_, v) = get_as(
        r,
        &format!("/v1/invoices/{C}:ORD-1"),
        &token::access_token(&Secret::new(KEY_C), "ORD-1"),
    )
    .await;
    assert!(matches!(v["status"].as_str(), Some("pending" | "issuing")), "{v}");
    assert_eq!(
        s.fake.with(|f| f.billed_by_tax.get(C).copied()),
        None,
        "nothing reached 诺诺 for C"
    );
    // C authorizes: the code is exchanged for C's token (taxNum, redirect_uri).
    authorize_c(&s).await;
    assert_eq!(s.fake.with(|f| f.isv_exchanges), 1);

    // The same order id at A and B (C has it already): three orders.
    for tax in [A, B] {
        let (st, v) = post(r, "/v1/invoices", &body(&as_seller(&cfg, tax), "ORD-1")).await;
        assert_eq!(st, 202, "{tax}: {v}");
        assert_eq!(v["orderId"], "ORD-1");
        assert_eq!(v["sellerTaxId"], tax);
    }
    let mut numbers = Vec::new();
    for tax in [A, B, C] {
        let v = final_of(r, tax, "ORD-1").await;
        assert_eq!(v["status"], "issued", "{tax}: {v}");
        assert_eq!(v["sellerTaxId"], tax);
        numbers.push(v["invoiceNumber"].as_str().unwrap().to_owned());
    }
    numbers.sort();
    numbers.dedup();
    assert_eq!(numbers.len(), 3, "three invoices, one per seller: {numbers:?}");
    // Each reached its own provider account and tax ID.
    let sbx =
        fapiao_proxy::provider::sandbox::Sandbox::new(r.state.store.clone(), cfg.sandbox.clone(), A.into(), "x".into());
    assert_eq!(sbx.count("ORD-1").await, 1, "A's invoice is the sandbox's");
    assert_eq!(sbx.total().await, 1, "only A is on the sandbox");
    s.fake.with(|f| {
        assert_eq!(f.billed_by_tax.get(B), Some(&1), "B billed once, under its own tax ID");
        assert_eq!(f.billed_by_tax.get(C), Some(&1), "C billed once, under its own tax ID");
        let b = &f.invoices["ORD-1"].request;
        assert_eq!(b["salerTaxNum"], B);
        assert_eq!(b["clerk"], "王会计");
        assert_eq!(b["salerAddress"], "杭州市西湖区文三路1号");
        assert_eq!(b["salerAccount"], "工商银行杭州分行 1202000000000000001");
        assert_eq!(f.invoices[&format!("{C}:ORD-1")].request["salerTaxNum"], C);
    });

    // A's credentials give nothing over B's order: 403 with the order's seller
    // named, and a plain id resolves to A's own order.
    let access_a = token::access_token(&Secret::new(KEY_A), "ORD-1");
    let (st, v) = get_as(r, &format!("/v1/invoices/{B}:ORD-1"), &access_a).await;
    assert_eq!((st, codes(&v)), (403, vec!["SELLER_FORBIDDEN".to_owned()]), "{v}");
    let order_token_a = token::mint(&Secret::new(KEY_A), &claims_for(A, "ORD-1"));
    let (st, _) = get_as(r, &format!("/v1/invoices/{B}:ORD-1/files/pdf"), &order_token_a).await;
    assert_eq!(st, 403);
    let (st, v) = get_as(r, "/v1/invoices/ORD-1", &access_a).await;
    assert_eq!((st, v["sellerTaxId"].as_str()), (200, Some(A)), "{v}");
    let (st, v) = get_as(
        r,
        "/v1/invoices/ORD-1",
        &token::access_token(&Secret::new(KEY_B), "ORD-1"),
    )
    .await;
    assert_eq!((st, v["sellerTaxId"].as_str()), (200, Some(B)), "{v}");
    // A token for B signed with A's key: refused (403), nothing stored.
    let forged = token::mint(&Secret::new(KEY_A), &claims_for(B, "ORD-9"));
    let lines = json!([line("午餐", "106.00")]);
    let (st, v) = post(
        r,
        "/v1/invoices",
        &json!({ "request": request("ORD-9", lines.clone()), "orderToken": forged }),
    )
    .await;
    assert_eq!((st, codes(&v)), (403, vec!["SELLER_FORBIDDEN".to_owned()]), "{v}");
    // A's token on a page of B's (the envelope names B), or from an origin A
    // does not allow: 403.
    let t = token::mint(&Secret::new(KEY_A), &claims_for(A, "ORD-8"));
    let (st, _) = post(
        r,
        "/v1/invoices",
        &json!({ "request": request("ORD-8", lines.clone()), "orderToken": t, "sellerTaxId": B }),
    )
    .await;
    assert_eq!(st, 403);
    let resp = r
        .client
        .post(format!("{}/v1/invoices", r.base))
        .header("origin", "https://evil.example.com")
        .json(&json!({ "request": request("ORD-8", lines.clone()), "orderToken": t }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    // A red letter for B's invoice with A's token: 403.
    let red = json!({ "request": { "orderId": "RED-1", "reason": "sales_return" }, "orderToken": t });
    let (st, _) = post(r, &format!("/v1/invoices/{B}:ORD-1/red"), &red).await;
    assert_eq!(st, 403);
    // B offers 数电普票 only.
    let mut special = request("ORD-7", lines.clone());
    special["invoiceType"] = json!("special");
    let tb = mint(&as_seller(&cfg, B), "ORD-7", &lines, "106.00", 600);
    let (st, v) = post(r, "/v1/invoices", &json!({ "request": special, "orderToken": tb })).await;
    assert_eq!(
        (st, codes(&v)),
        (422, vec!["INVOICE_TYPE_NOT_OFFERED".to_owned()]),
        "{v}"
    );

    // What a page may show of a seller, and nothing secret.
    let (st, v) = get_anonymous(r, &format!("/v1/sellers/{B}")).await;
    assert_eq!(st, 200);
    assert_eq!(
        v,
        json!({ "taxId": B, "name": "示例集团杭州公司", "invoiceTypes": ["normal"] })
    );
    let text = v.to_string();
    assert!(!text.contains(KEY_B) && !text.contains(nn::APP_SECRET));
    assert_eq!(get_anonymous(r, "/v1/sellers/91000000000000000X").await.0, 404);

    // 诺诺 refuses every token given so far: C's is renewed with its refresh
    // token (client_id = C's userId), B's with client credentials.
    let before = s.fake.with(|f| (f.isv_refreshes, f.token_calls));
    s.fake.expire_tokens();
    for tax in [B, C] {
        let (st, v) = post(r, "/v1/invoices", &body(&as_seller(&cfg, tax), "ORD-2")).await;
        assert_eq!(st, 202, "{v}");
    }
    for tax in [B, C] {
        assert_eq!(final_of(r, tax, "ORD-2").await["status"], "issued");
    }
    let after = s.fake.with(|f| (f.isv_refreshes, f.token_calls));
    assert_eq!(after.0, before.0 + 1, "C renewed once, by refresh");
    assert_eq!(after.1, before.1 + 2, "one token call per seller");
    // The token calls are counted per app in the store (the quota's counter).
    let now = fapiao_proxy::time::now_ms();
    assert_eq!(
        fapiao_proxy::provider::nuonuo::token_calls(&r.state.store, ISV_APP_KEY, now).await,
        2
    );
    assert_eq!(
        fapiao_proxy::provider::nuonuo::token_calls(&r.state.store, nn::APP_KEY, now).await,
        2
    );

    // Per seller in the metrics, the reconciliation and the admin view.
    let text = metrics_text(r).await;
    for tax in [A, B, C] {
        assert!(
            text.contains(&format!("fapiao_seller_orders{{seller=\"{tax}\",status=\"issued\"}}")),
            "{tax} in {text}"
        );
    }
    let day = fapiao_proxy::time::now_ms();
    let rep = fapiao_proxy::queues::reconcile::run_for(&r.state, Some(B), day - 86_400_000, day + 60_000).await;
    assert_eq!(
        (rep.sellers.clone(), rep.local_orders),
        (vec![B.to_owned()], 2),
        "{rep:?}"
    );
    assert!(rep.findings.is_empty() && rep.repaired.is_empty(), "{rep:?}");
    let resp = r
        .client
        .post(format!("{}/v1/admin/reconcile", r.base))
        .bearer_auth(ADMIN)
        .json(&json!({ "from": day - 86_400_000, "to": day + 60_000, "seller": C }))
        .send()
        .await
        .unwrap();
    let v: Value = resp.json().await.unwrap();
    assert_eq!(
        (v["sellers"].clone(), v["localOrders"].clone()),
        (json!([C]), json!(2)),
        "{v}"
    );
    let all = fapiao_proxy::queues::reconcile::run(&r.state, day - 86_400_000, day + 60_000).await;
    assert_eq!(all.sellers, [A, B, C]);
    assert_eq!(all.local_orders, 5);

    // The self-test of the seller that authorized the app: every capability
    // through the third-party token and C's userTax (`fapiao-proxy selftest --seller`).
    let before = s.fake.with(|f| f.billed_by_tax.get(C).copied().unwrap_or(0));
    let mut cc = cfg.clone();
    let seller_c = cc.as_seller(C).unwrap();
    let provider = fapiao_proxy::provider::for_seller(&cc, &seller_c, &r.state.store, false).unwrap();
    let opts = fapiao_proxy::selftest::Options {
        poll: Duration::from_millis(20),
        max_polls: 50,
        ..Default::default()
    };
    let report = fapiao_proxy::selftest::run(&cc, provider, &opts).await.unwrap();
    assert!(report.passed(), "{}", report.text());
    let c_invoices = s.fake.with(|f| f.billed_by_tax.get(C).copied().unwrap_or(0));
    assert!(
        c_invoices >= before + 2,
        "the self-test issued at C: {before} → {c_invoices}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_isv_token_quota_is_kept_per_app() {
    // Two token calls allowed for the third-party app: the exchange and one refresh.
    // (Any unfinished order counts as stuck here, to see the alert name its seller.)
    let s = setup_with(2, |c| c.alerts.order_age = Duration::ZERO).await;
    let r = &s.r;
    let cfg = r.state.config.clone();
    authorize_c(&s).await;
    s.fake.expire_tokens();
    let (st, _) = post(r, "/v1/invoices", &body(&as_seller(&cfg, C), "Q-1")).await;
    assert_eq!(st, 202);
    assert_eq!(final_of(r, C, "Q-1").await["status"], "issued");
    // The quota is used up: a refused token is not renewed, the fake is not
    // called again, and the order waits (not failed, not lost).
    s.fake.expire_tokens();
    let calls = s.fake.with(|f| f.app_token_calls.get(ISV_APP_KEY).copied());
    assert_eq!(calls, Some(2));
    let (st, _) = post(r, "/v1/invoices", &body(&as_seller(&cfg, C), "Q-2")).await;
    assert_eq!(st, 202);
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(
        s.fake.with(|f| f.app_token_calls.get(ISV_APP_KEY).copied()),
        Some(2),
        "no call past the quota"
    );
    let access = token::access_token(&Secret::new(KEY_C), "Q-2");
    let (_, v) = get_as(r, &format!("/v1/invoices/{C}:Q-2"), &access).await;
    assert!(matches!(v["status"].as_str(), Some("pending" | "issuing")), "{v}");
    // Why: the refusal stored beside C's token (every instance backs off on it).
    let refused = r
        .state
        .store
        .kv_get(&format!("nuonuo.isv.{ISV_APP_KEY}.{C}.access_token.refused"))
        .await
        .unwrap()
        .map(|(v, _)| v)
        .unwrap_or_default();
    assert!(
        refused.contains("token quota used: 2 token calls in 30 days"),
        "{refused}"
    );
    // The waiting order is C's in the metrics and in the stuck-order alert.
    let text = metrics_text(r).await;
    assert!(
        text.contains(&format!(
            "fapiao_seller_order_oldest_unfinished_age_seconds{{seller=\"{C}\"}}"
        )),
        "{text}"
    );
    let readings = fapiao_proxy::alerts::readings(&r.state).await.unwrap();
    let stuck = readings.iter().find(|x| x.name == "order_stuck").unwrap();
    assert!(
        stuck.active && stuck.summary.contains(C) && !stuck.summary.contains(B),
        "{}",
        stuck.summary
    );
    // The other 诺诺 seller (another app) is not held back.
    let (st, _) = post(r, "/v1/invoices", &body(&as_seller(&cfg, B), "Q-3")).await;
    assert_eq!(st, 202);
    assert_eq!(final_of(r, B, "Q-3").await["status"], "issued");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_reload_adds_a_fourth_seller_while_orders_are_in_flight() {
    let s = setup(nn::TOKEN_QUOTA).await;
    let r = &s.r;
    let cfg = r.state.config.clone();
    authorize_c(&s).await;
    // D is not a seller yet.
    let (st, v) = post(r, "/v1/invoices", &body(&as_seller(&cfg, D), "R-0")).await;
    assert_ne!(st, 202, "{v}");
    // Orders of A, B and C in flight…
    let mut sent = Vec::new();
    for i in 0..15 {
        for tax in [A, B, C] {
            let id = format!("R-{i}");
            let (st, v) = post(r, "/v1/invoices", &body(&as_seller(&cfg, tax), &id)).await;
            assert_eq!(st, 202, "{v}");
            sent.push((tax, id));
        }
    }
    // …while the file gains D and the admin reloads it.
    std::fs::write(&s.file, sellers_toml(&s.fake.base, true, nn::TOKEN_QUOTA)).unwrap();
    let resp = r
        .client
        .post(format!("{}/v1/admin/sellers/reload", r.base))
        .bearer_auth(ADMIN)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["sellers"], json!([A, B, C, D]));
    for i in 0..5 {
        let id = format!("R-{i}");
        let (st, v) = post(r, "/v1/invoices", &body(&as_seller(&cfg, D), &id)).await;
        assert_eq!(st, 202, "{v}");
        sent.push((D, id));
    }
    // A reload of a broken file keeps the sellers in force and names every problem.
    write_broken(&s.file);
    let resp = r
        .client
        .post(format!("{}/v1/admin/sellers/reload", r.base))
        .bearer_auth(ADMIN)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 422);
    let v: Value = resp.json().await.unwrap();
    let msg = v["errors"][0]["messageEn"].as_str().unwrap_or("").to_owned();
    assert!(
        msg.contains("merchant_key: must have at least 32") && msg.contains("provider: “paper”"),
        "{msg}"
    );
    assert_eq!(
        get_anonymous(r, &format!("/v1/sellers/{D}")).await.0,
        200,
        "D is still a seller"
    );
    // Nothing lost: every order issued, once, at its seller.
    for (tax, id) in &sent {
        let v = final_of(r, tax, id).await;
        assert_eq!(v["status"], "issued", "{tax}:{id}: {v}");
    }
    let sbx =
        fapiao_proxy::provider::sandbox::Sandbox::new(r.state.store.clone(), cfg.sandbox.clone(), A.into(), "x".into());
    assert_eq!(sbx.total().await, 20, "15 of A and 5 of D on the sandbox");
    let sbx_d =
        fapiao_proxy::provider::sandbox::Sandbox::new(r.state.store.clone(), cfg.sandbox.clone(), D.into(), "x".into())
            .with_scope(Some(D.into()));
    assert_eq!(sbx_d.count("R-0").await, 1);
    s.fake.with(|f| {
        assert_eq!(f.billed_by_tax.get(B), Some(&15));
        assert_eq!(f.billed_by_tax.get(C), Some(&15));
    });
    let counts = r.state.store.counts().await.unwrap();
    let issued = counts.iter().find(|(k, _)| k == "issued").map(|(_, n)| *n);
    assert_eq!(issued, Some(50));
}

fn write_broken(file: &Path) {
    std::fs::write(
        file,
        format!("[[seller]]\ntax_id = \"{A}\"\nname = \"x\"\nmerchant_key = \"short\"\nprovider = \"paper\"\n"),
    )
    .unwrap();
}

/// The real binary: SIGHUP reads the sellers file again; a broken file is
/// refused and the sellers in force stay.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_the_sellers_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("sellers.toml");
    let one = format!("[[seller]]\ntax_id = \"{A}\"\nname = \"示例集团总部\"\nmerchant_key = \"{KEY_A}\"\n");
    std::fs::write(&file, &one).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_fapiao-proxy"))
        .env_clear()
        .env("FAPIAO_SELLERS_FILE", &file)
        .env("FAPIAO_LISTEN", format!("127.0.0.1:{port}"))
        .env(
            "FAPIAO_DATABASE_URL",
            format!("sqlite:{}", dir.path().join("db.sqlite").display()),
        )
        .env("FAPIAO_LOG", "error")
        .env("FAPIAO_LOG_FORMAT", "json")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // The log, line by line (a refused reload says so, one line per problem).
    let (log_tx, log_rx) = std::sync::mpsc::channel::<String>();
    let out = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
            let _ = log_tx.send(line);
        }
    });
    let client = reqwest::Client::new();
    let status_of = |tax: &'static str| {
        let client = client.clone();
        async move {
            match client
                .get(format!("http://127.0.0.1:{port}/v1/sellers/{tax}"))
                .send()
                .await
            {
                Ok(r) => r.status().as_u16(),
                Err(_) => 0,
            }
        }
    };
    // Started: A is a seller, D is not.
    let mut up = false;
    for _ in 0..400 {
        if status_of(A).await == 200 {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(up, "the proxy did not start");
    assert_eq!(status_of(D).await, 404);
    let hup = || {
        let ok = std::process::Command::new("kill")
            .args(["-HUP", &child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -HUP");
    };
    std::fs::write(
        &file,
        format!("{one}\n[[seller]]\ntax_id = \"{D}\"\nname = \"示例集团广州公司\"\nmerchant_key = \"{KEY_D}\"\n"),
    )
    .unwrap();
    hup();
    // The signal is handled asynchronously: D appears after it (tries, not a clock).
    let mut added = false;
    for _ in 0..400 {
        if status_of(D).await == 200 {
            added = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(added, "SIGHUP did not add the seller");
    // A broken file: refused with each problem logged, both sellers stay.
    write_broken(&file);
    hup();
    let mut problems = Vec::new();
    while problems.len() < 2 {
        let line = log_rx
            .recv_timeout(Duration::from_secs(60))
            .expect("the refused reload is logged");
        if line.contains("sellers not reloaded") {
            problems.push(line);
        }
    }
    assert!(
        problems
            .iter()
            .any(|l| l.contains("merchant_key: must have at least 32")),
        "{problems:?}"
    );
    assert!(problems.iter().any(|l| l.contains("provider: “paper”")), "{problems:?}");
    assert_eq!((status_of(A).await, status_of(D).await), (200, 200));
    child.kill().unwrap();
    child.wait().unwrap();
}

/// A database of a single-seller deployment (schema before the seller column)
/// opened with a sellers file: the schema step adds the column, the old orders
/// are the home seller's, and their ids are free again at the other sellers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_seller_database_becomes_the_home_sellers() {
    if on_postgres() {
        eprintln!("SKIPPED on PostgreSQL: the old schema is built with SQLite here");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("fapiao.sqlite");
    {
        let c = rusqlite::Connection::open(&db).unwrap();
        for sql in &fapiao_proxy::store::SQLITE_MIGRATIONS[..5] {
            c.execute_batch(sql).unwrap();
        }
        c.execute_batch("PRAGMA user_version = 5").unwrap();
        let request = serde_json::to_string(&request("OLD-1", json!([line("午餐", "106.00")]))).unwrap();
        c.execute(
            "INSERT INTO orders (order_id, kind, fingerprint, request, status, next_attempt_at, created_at, updated_at, invoice_number, issued_at)
             VALUES ('OLD-1', 'blue', 'fp', ?1, 'issued', 0, 1, 1, '26332000000000000001', 1)",
            [&request],
        )
        .unwrap();
    }
    let file = dir.path().join("sellers.toml");
    std::fs::write(
        &file,
        format!(
            "[[seller]]\ntax_id = \"{A}\"\nname = \"总部\"\nmerchant_key = \"{KEY_A}\"\n\n[[seller]]\ntax_id = \"{D}\"\nname = \"广州\"\nmerchant_key = \"{KEY_D}\"\n"
        ),
    )
    .unwrap();
    let mut config = Config::for_tests(&db);
    config.use_sellers_file(&file).unwrap();
    let store = open_store(&config).await;
    let sbx = sandbox(&store, &config);
    let r = serve(App::start_with(config.clone(), store, sbx).await.unwrap()).await;
    let (st, v) = get_as(
        &r,
        "/v1/invoices/OLD-1",
        &token::access_token(&Secret::new(KEY_A), "OLD-1"),
    )
    .await;
    assert_eq!(
        (st, v["sellerTaxId"].as_str(), v["status"].as_str()),
        (200, Some(A), Some("issued")),
        "{v}"
    );
    let (st, _) = get_as(
        &r,
        &format!("/v1/invoices/{D}:OLD-1"),
        &token::access_token(&Secret::new(KEY_A), "OLD-1"),
    )
    .await;
    assert_eq!(st, 403, "A's credential is not D's");
    // The id is taken at A, free at D.
    let (st, _) = post(&r, "/v1/invoices", &body(&as_seller(&config, A), "OLD-1")).await;
    assert_eq!(st, 409);
    let (st, v) = post(&r, "/v1/invoices", &body(&as_seller(&config, D), "OLD-1")).await;
    assert_eq!(st, 202, "{v}");
    assert_eq!(final_of(&r, D, "OLD-1").await["status"], "issued");
    let c = rusqlite::Connection::open(&db).unwrap();
    let mut rows: Vec<(String, String)> = c
        .prepare("SELECT order_id, seller FROM orders")
        .unwrap()
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    rows.sort();
    assert_eq!(
        rows,
        [
            (format!("{D}:OLD-1"), D.to_owned()),
            ("OLD-1".to_owned(), String::new())
        ]
    );
    let version: i64 = c.query_row("PRAGMA user_version", [], |row| row.get(0)).unwrap();
    assert_eq!(version as usize, fapiao_proxy::store::SQLITE_MIGRATIONS.len());
    drop(c);

    // The command line, per seller and for the group.
    let today = fapiao_proxy::time::cst_plain(fapiao_proxy::time::now_ms())[..10].to_owned();
    let cli = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_fapiao-proxy"))
            .args(args)
            .env_clear()
            .env("FAPIAO_SELLERS_FILE", &file)
            .env("FAPIAO_DATABASE_URL", format!("sqlite:{}", db.display()))
            .env("FAPIAO_ARCHIVE_DIR", dir.path().join("archive"))
            .output()
            .unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned())
    };
    let (code, text) = cli(&["reconcile", "--from", &today, "--to", &today, "--seller", D, "--json"]);
    let rep: Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("{code:?} {text}"));
    assert_eq!(
        (rep["sellers"].clone(), rep["localOrders"].clone()),
        (json!([D]), json!(1)),
        "{rep}"
    );
    let (_, text) = cli(&["reconcile", "--from", &today, "--to", &today, "--json"]);
    let rep: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(rep["sellers"], json!([A, D]));
    let out = dir.path().join("export");
    let (_, text) = cli(&[
        "archive",
        "export",
        "--from",
        &today,
        "--to",
        &today,
        "--out",
        out.to_str().unwrap(),
    ]);
    for tax in [A, D] {
        assert!(out.join(tax).join("index.csv").exists(), "{tax}: {text}");
    }
    // A token for D signed with D's key from the sellers file.
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_fapiao-proxy"))
        .args(["token", "--seller", D, "--order-id", "CLI-1"])
        .env_clear()
        .env("FAPIAO_SELLERS_FILE", &file)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let lines = json!([line("午餐", "106.00")]).to_string();
        child.stdin.take().unwrap().write_all(lines.as_bytes()).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    let t = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let claims = token::verify(&Secret::new(KEY_D), &t, fapiao_proxy::time::now_s()).unwrap();
    assert_eq!((claims.merchant.as_str(), claims.order_id.as_str()), (D, "CLI-1"));
    assert!(token::verify(&Secret::new(KEY_A), &t, fapiao_proxy::time::now_s()).is_err());
}

/// The seller authorizes the third-party app through 诺诺's page: the proxy's
/// link carries a signed `state` naming the seller, 诺诺 redirects to the
/// proxy with the code, which is exchanged for the seller's token. A forged or
/// altered `state` is refused without any call to 诺诺.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_seller_authorizes_the_app_through_the_redirect() {
    let s = setup(nn::TOKEN_QUOTA).await;
    let r = &s.r;
    let cfg = r.state.config.clone();
    let (st, v) = get_as(r, &format!("/v1/admin/sellers/{C}/nuonuo/authorize-url"), ADMIN).await;
    assert_eq!(st, 200, "{v}");
    let url = reqwest::Url::parse(v["url"].as_str().unwrap()).unwrap();
    assert_eq!((url.host_str(), url.path()), (Some("open.nuonuo.com"), "/authorize"));
    let q: std::collections::HashMap<String, String> = url.query_pairs().into_owned().collect();
    assert_eq!(q["appKey"], ISV_APP_KEY);
    assert_eq!(q["response_type"], "code");
    assert_eq!(q["redirect_uri"], ISV_REDIRECT);
    let state = q["state"].clone();
    assert!(state.starts_with(&format!("{C}.")), "{state}");
    // A self-use seller has no such link.
    assert_eq!(
        get_as(r, &format!("/v1/admin/sellers/{B}/nuonuo/authorize-url"), ADMIN)
            .await
            .0,
        422
    );
    let redirect = |code: &str, state: &str| {
        let u = format!(
            "{}/v1/callbacks/nuonuo/authorized?code={}&state={}",
            r.base,
            code,
            state.replace('+', "%2B")
        );
        let client = r.client.clone();
        async move {
            let resp = client.get(u).send().await.unwrap();
            (
                resp.status().as_u16(),
                resp.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    // Altered: another seller's tax ID, another expiry, a made-up signature.
    let code = s.fake.authorization_code(C);
    let (tax, rest) = state.split_once('.').unwrap();
    let (exp, sig) = rest.split_once('.').unwrap();
    for bad in [
        format!("{A}.{exp}.{sig}"),
        format!("{tax}.{}.{sig}", exp.parse::<i64>().unwrap() + 1),
        format!("{tax}.{exp}.AAAA"),
        String::new(),
    ] {
        let (st, v) = redirect(&code, &bad).await;
        assert_eq!(st, 403, "{bad}: {v}");
    }
    assert_eq!(s.fake.with(|f| f.isv_exchanges), 0, "nothing reached 诺诺");
    // The real redirect: authorized, and C's orders issue.
    let (st, v) = redirect(&code, &state).await;
    assert_eq!((st, v["authorized"].as_bool()), (200, Some(true)), "{v}");
    assert_eq!(s.fake.with(|f| f.isv_exchanges), 1);
    let (st, _) = post(r, "/v1/invoices", &body(&as_seller(&cfg, C), "AUTH-1")).await;
    assert_eq!(st, 202);
    assert_eq!(final_of(r, C, "AUTH-1").await["status"], "issued");
    // The link is used once: replaying it (with any code) reaches nothing.
    let calls = s.fake.with(|f| f.app_token_calls.get(ISV_APP_KEY).copied());
    let (st, _) = redirect(&s.fake.authorization_code(C), &state).await;
    assert_eq!(st, 403);
    assert_eq!(s.fake.with(|f| f.app_token_calls.get(ISV_APP_KEY).copied()), calls);
}

/// Each seller's status events go to its own webhook, signed with its own
/// secret, with the `Fapiao-Seller` header; a seller's receiver sees none of
/// another seller's orders.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn each_seller_gets_its_own_webhooks() {
    type Seen = std::sync::Arc<std::sync::Mutex<Vec<(String, String, String)>>>;
    async fn receiver() -> (String, Seen) {
        let seen: Seen = Default::default();
        let s2 = seen.clone();
        let app = axum::Router::new().route(
            "/hooks",
            axum::routing::post(move |headers: axum::http::HeaderMap, body: String| {
                let seen = s2.clone();
                async move {
                    let h = |k: &str| headers.get(k).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
                    seen.lock()
                        .unwrap()
                        .push((h("fapiao-seller"), h("fapiao-signature"), body));
                    "ok"
                }
            }),
        );
        (format!("{}/hooks", fakes::bind(app).await), seen)
    }
    let (url_a, seen_a) = receiver().await;
    let (url_d, seen_d) = receiver().await;
    let (secret_a, secret_d) = ("whsec-of-seller-a-0123456789", "whsec-of-seller-d-0123456789");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("sellers.toml");
    std::fs::write(
        &file,
        format!(
            "[[seller]]\ntax_id = \"{A}\"\nname = \"总部\"\nmerchant_key = \"{KEY_A}\"\nwebhook_url = \"{url_a}\"\nwebhook_secret = \"{secret_a}\"\n\n\
             [[seller]]\ntax_id = \"{D}\"\nname = \"广州\"\nmerchant_key = \"{KEY_D}\"\nwebhook_url = \"{url_d}\"\nwebhook_secret = \"{secret_d}\"\n"
        ),
    )
    .unwrap();
    let mut config = test_config(dir.path()).await;
    config.use_sellers_file(&file).unwrap();
    let store = open_store(&config).await;
    let sbx = sandbox(&store, &config);
    let r = serve(App::start_with(config.clone(), store, sbx).await.unwrap()).await;
    for tax in [A, D] {
        let (st, v) = post(&r, "/v1/invoices", &body(&as_seller(&config, tax), "HOOK-1")).await;
        assert_eq!(st, 202, "{v}");
    }
    for tax in [A, D] {
        assert_eq!(final_of(&r, tax, "HOOK-1").await["status"], "issued");
    }
    // order.accepted and invoice.issued at each receiver (tries, not a clock).
    for _ in 0..400 {
        if seen_a.lock().unwrap().len() >= 2 && seen_d.lock().unwrap().len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let now = fapiao_proxy::time::now_s();
    for (tax, seen, secret, other) in [(A, &seen_a, secret_a, secret_d), (D, &seen_d, secret_d, secret_a)] {
        let seen = seen.lock().unwrap().clone();
        let types: Vec<String> = seen
            .iter()
            .map(|(_, _, b)| {
                serde_json::from_str::<Value>(b).unwrap()["type"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        assert!(
            types.contains(&"order.accepted".into()) && types.contains(&"invoice.issued".into()),
            "{tax}: {types:?}"
        );
        for (seller, sig, body) in &seen {
            assert_eq!(seller, tax);
            let v: Value = serde_json::from_str(body).unwrap();
            assert_eq!(v["orderId"], "HOOK-1");
            // The home seller's events name no seller in the body; the others' do.
            assert_eq!(v["sellerTaxId"].as_str(), (tax != A).then_some(tax), "{v}");
            use fapiao_proxy::queues::webhooks::{verify, TOLERANCE_S};
            assert!(
                verify(secret, sig, body.as_bytes(), now, TOLERANCE_S).is_ok(),
                "{tax}: signed with its secret"
            );
            assert!(
                verify(other, sig, body.as_bytes(), now, TOLERANCE_S).is_err(),
                "{tax}: not with the other's"
            );
        }
    }
}

/// Operator keys (batches) are scoped to the sellers that name them: a batch is
/// one seller's, an operator submits and sees only its sellers' batches.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn operator_keys_act_only_for_the_sellers_that_name_them() {
    let (key_b, line_b) = fapiao_proxy::operator::generate("ops-b").unwrap();
    let (key_all, line_all) = fapiao_proxy::operator::generate("ops-all").unwrap();
    let (key_none, line_none) = fapiao_proxy::operator::generate("ops-none").unwrap();
    let keys = fapiao_proxy::operator::parse_keys("K", &format!("{line_b}\n{line_all}\n{line_none}")).unwrap();
    let s = setup_with(nn::TOKEN_QUOTA, move |c| c.operator_keys = keys).await;
    let r = &s.r;
    authorize_c(&s).await;
    let orders = json!([request("BAT-1", json!([line("午餐", "106.00")]))]);
    let batch = |key: &str, body: Value| {
        let req = r
            .client
            .post(format!("{}/v1/batches", r.base))
            .bearer_auth(key)
            .json(&body);
        async move {
            let resp = req.send().await.unwrap();
            (
                resp.status().as_u16(),
                resp.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    // ops-b acts for B only: its batch is B's without naming it; C is refused.
    let (st, b1) = batch(&key_b, json!({ "orders": orders })).await;
    assert_eq!(st, 202, "{b1}");
    let (st, v) = batch(&key_b, json!({ "orders": orders, "sellerTaxId": C })).await;
    assert_eq!((st, codes(&v)), (403, vec!["SELLER_FORBIDDEN".to_owned()]), "{v}");
    // ops-all acts for B and C: it must say which; the same order id at C is another order.
    let (st, _) = batch(&key_all, json!({ "orders": orders })).await;
    assert_eq!(st, 400);
    let (st, b2) = batch(&key_all, json!({ "orders": orders, "sellerTaxId": C })).await;
    assert_eq!(st, 202, "{b2}");
    // An operator no seller names acts for none.
    let (st, _) = batch(&key_none, json!({ "orders": orders, "sellerTaxId": A })).await;
    assert_eq!(st, 403);
    for tax in [B, C] {
        assert_eq!(final_of(r, tax, "BAT-1").await["status"], "issued");
    }
    let (id1, id2) = (
        b1["id"].as_str().unwrap().to_owned(),
        b2["id"].as_str().unwrap().to_owned(),
    );
    // Each sees its own sellers' batches only.
    let (_, v) = get_as(r, "/v1/batches", &key_b).await;
    let ids: Vec<&str> = v["batches"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|b| b["id"].as_str())
        .collect();
    assert_eq!(ids, [id1.as_str()], "{v}");
    let (_, v) = get_as(r, "/v1/batches", &key_all).await;
    assert_eq!(v["batches"].as_array().unwrap().len(), 2, "{v}");
    assert_eq!(get_as(r, &format!("/v1/batches/{id2}"), &key_b).await.0, 404);
    assert_eq!(
        get_as(r, &format!("/v1/batches/{id2}/export?format=csv"), &key_b)
            .await
            .0,
        404
    );
    let (st, v) = get_as(r, &format!("/v1/batches/{id2}"), &key_all).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(
        (
            v["orders"][0]["orderId"].as_str(),
            v["orders"][0]["sellerTaxId"].as_str()
        ),
        (Some("BAT-1"), Some(C))
    );
    let resp = r
        .client
        .post(format!("{}/v1/batches/{id2}/cancel", r.base))
        .bearer_auth(&key_b)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404, "ops-b cannot cancel C's batch");
}
