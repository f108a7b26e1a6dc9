//! `fapiao-proxy selftest` against the sandbox and the fakes: every capability
//! passes; a fake with one broken capability is named in the report; a
//! production gateway is refused; the invoice budget holds; the command's
//! exit codes and JSON.

mod common;
mod fakes;

use std::time::Duration;

use fapiao_proxy::selftest::{self, Options, Outcome, Report, SelftestError};
use fapiao_proxy::Config;

async fn fake_config(dir: &std::path::Path, env: Vec<(String, String)>) -> Config {
    let base = common::test_config(dir).await;
    let mut all = env;
    all.push((
        "FAPIAO_MERCHANT_KEY".into(),
        "selftest-merchant-key-0123456789abcdef".into(),
    ));
    all.push(("FAPIAO_DEMO".into(), "false".into()));
    all.push(("FAPIAO_PROVIDER_TIMEOUT_MS".into(), "2000".into()));
    let mut c = Config::from_lookup(&move |k| all.iter().find(|(x, _)| x == k).map(|(_, v)| v.clone())).unwrap();
    c.database_path = base.database_path.clone();
    c.postgres = base.postgres.clone();
    c
}

fn opts() -> Options {
    Options {
        poll: Duration::from_millis(20),
        max_polls: 50,
        ..Options::default()
    }
}

async fn run_against(c: &Config, o: &Options) -> Report {
    let store = common::open_store(c).await;
    let provider = fapiao_proxy::provider::from_config(c, &store).unwrap();
    selftest::run(c, provider, o).await.unwrap()
}

fn outcome(r: &Report, capability: &str) -> Outcome {
    r.steps
        .iter()
        .find(|s| s.capability == capability)
        .unwrap_or_else(|| panic!("no step {capability}"))
        .outcome
}

const ALL: [&str; 9] = [
    "token",
    "issue_normal",
    "issue_special",
    "query",
    "files",
    "deliver",
    "red_partial",
    "red_full",
    "reconcile",
];

#[tokio::test]
async fn every_capability_passes_against_the_sandbox_and_both_fakes() {
    // A directory of its own per store (on PostgreSQL its name names the database).
    let (ds, dn, db) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    let sandbox = common::test_config(ds.path()).await;
    let r = run_against(&sandbox, &opts()).await;
    assert!(r.passed(), "{}", r.text());
    assert!(ALL.iter().all(|c| outcome(&r, c) == Outcome::Passed), "{}", r.text());
    assert_eq!(r.invoices_issued, 4);

    let nn = fakes::nuonuo::start().await;
    let r = run_against(&fake_config(dn.path(), fakes::nuonuo::env(&nn)).await, &opts()).await;
    assert!(ALL.iter().all(|c| outcome(&r, c) == Outcome::Passed), "{}", r.text());
    assert_eq!(
        nn.with(|s| (s.invoices.len(), s.deliveries.len(), s.bad_signatures)),
        (4, 1, 0)
    );
    assert!(r
        .steps
        .iter()
        .find(|s| s.capability == "files")
        .unwrap()
        .detail
        .contains("sha256"));

    let bw = fakes::baiwang::start().await;
    let r = run_against(&fake_config(db.path(), fakes::baiwang::env(&bw)).await, &opts()).await;
    assert!(r.passed(), "{}", r.text());
    assert_eq!(outcome(&r, "deliver"), Outcome::Skipped, "百望: no re-delivery method");
    assert!(
        ALL.iter()
            .filter(|c| **c != "deliver")
            .all(|c| outcome(&r, c) == Outcome::Passed),
        "{}",
        r.text()
    );
    assert_eq!(
        bw.with(|s| (s.invoices.len(), s.token_calls, s.bad_signatures)),
        (4, 1, 0)
    );
    assert!(!r.production);
}

#[tokio::test]
async fn a_broken_capability_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let nn = fakes::nuonuo::start().await;
    nn.break_capability("deliver");
    let r = run_against(&fake_config(dir.path(), fakes::nuonuo::env(&nn)).await, &opts()).await;
    assert!(!r.passed());
    assert_eq!(r.failed(), vec!["deliver"], "{}", r.text());
    let step = r.steps.iter().find(|s| s.capability == "deliver").unwrap();
    assert_eq!(
        step.code.as_deref(),
        Some("PROVIDER_REJECTED"),
        "the provider's refusal, with its code"
    );
    assert!(r.text().contains("FAILED: deliver"), "{}", r.text());

    let bw = fakes::baiwang::start().await;
    bw.break_capability("files");
    let dir2 = tempfile::tempdir().unwrap();
    let r = run_against(&fake_config(dir2.path(), fakes::baiwang::env(&bw)).await, &opts()).await;
    assert_eq!(r.failed(), vec!["files"], "{}", r.text());
}

#[tokio::test]
async fn a_production_gateway_needs_production_and_a_budget() {
    let dir = tempfile::tempdir().unwrap();
    let nn = fakes::nuonuo::start().await;
    let mut env = fakes::nuonuo::env(&nn);
    env.retain(|(k, _)| k != "FAPIAO_NUONUO_GATEWAY_URL");
    env.push((
        "FAPIAO_NUONUO_GATEWAY_URL".into(),
        "https://sdk.nuonuo.com/open/v1/services".into(),
    ));
    let prod = fake_config(dir.path(), env).await;
    let store = common::open_store(&prod).await;
    let p = fapiao_proxy::provider::from_config(&prod, &store).unwrap();
    let e = selftest::run(&prod, p.clone(), &opts()).await.unwrap_err();
    assert_eq!(e.code(), "SELFTEST_PRODUCTION_REFUSED");
    assert!(matches!(e, SelftestError::ProductionRefused { .. }));
    let e = selftest::run(
        &prod,
        p,
        &Options {
            production: true,
            ..opts()
        },
    )
    .await
    .unwrap_err();
    assert_eq!(e, SelftestError::MaxInvoicesRequired);
    assert_eq!(nn.with(|s| s.token_calls), 0, "nothing was called");

    // A budget of two: the two blue invoices, no red, and they are reconciled.
    let dir2 = tempfile::tempdir().unwrap();
    let c = fake_config(dir2.path(), fakes::nuonuo::env(&nn)).await;
    let r = run_against(
        &c,
        &Options {
            production: true,
            max_invoices: Some(2),
            ..opts()
        },
    )
    .await;
    assert_eq!(r.invoices_issued, 2, "{}", r.text());
    assert_eq!(
        (outcome(&r, "red_partial"), outcome(&r, "red_full")),
        (Outcome::Skipped, Outcome::Skipped)
    );
    assert_eq!(outcome(&r, "reconcile"), Outcome::Passed, "{}", r.text());
    assert_eq!(nn.with(|s| s.invoices.len()), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_prints_json_and_exits_for_ci() {
    let bw = fakes::baiwang::start().await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("fapiao.sqlite");
    let run = |extra: Vec<(String, String)>, args: &'static [&'static str]| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_fapiao-proxy"));
        cmd.arg("selftest")
            .args(args)
            .env_clear()
            .env("FAPIAO_DATABASE_URL", format!("sqlite:{}", db.display()));
        cmd.env("FAPIAO_MERCHANT_KEY", "selftest-merchant-key-0123456789abcdef")
            .env("FAPIAO_LOG", "error");
        for (k, v) in fakes::baiwang::env(&bw).into_iter().chain(extra) {
            cmd.env(k, v);
        }
        tokio::task::spawn_blocking(move || cmd.output().unwrap())
    };
    let out = run(vec![], &["--json", "--poll-ms", "20"]).await.unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["provider"], "baiwang");
    assert_eq!(v["steps"].as_array().unwrap().len(), 9);
    assert!(
        v["steps"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["ms"].is_u64() && s["outcome"] != "failed"),
        "{v}"
    );

    bw.break_capability("red");
    let out = run(vec![], &["--poll-ms", "20"]).await.unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("FAILED: red_partial, red_full"), "{text}");

    let prod = vec![(
        "FAPIAO_BAIWANG_GATEWAY_URL".to_owned(),
        "https://openapi.baiwang.com/router/rest".to_owned(),
    )];
    let out = run(prod, &[]).await.unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("SELFTEST_PRODUCTION_REFUSED"));
}
