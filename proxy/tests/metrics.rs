//! `/metrics` as Prometheus reads it: names by the conventions (`_total`
//! counters, `_seconds` units), the queue gauges the alert rules and the Grafana
//! dashboard use, and — when `promtool` is installed — its own lint.

mod common;

use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_follow_prometheus_conventions() {
    let dir = tempfile::tempdir().unwrap();
    let (r, _sbx) = sandbox_proxy(dir.path(), |_| {}).await;
    for i in 0..3 {
        assert_eq!(
            post(&r, "/v1/invoices", &body(&r.state.config, &format!("M-{i}")))
                .await
                .0,
            202
        );
    }
    for i in 0..3 {
        assert_eq!(wait_final(&r, &format!("M-{i}"), 30).await["status"], "issued");
    }
    let resp = r.client.get(format!("{}/metrics", r.base)).send().await.unwrap();
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/openmetrics-text"));
    let m = resp.text().await.unwrap();
    for want in [
        "fapiao_orders_accepted_total 3",
        "fapiao_order_outcomes_total{outcome=\"issued\"} 3",
        "fapiao_order_issue_latency_seconds_count 3",
        "fapiao_provider_latency_seconds_bucket{le=\"+Inf\",call=\"submit\"} 3",
        "fapiao_provider_calls_total{call=\"submit\",outcome=\"ok\"} 3",
        "fapiao_provider_success_ratio 1.0",
        "fapiao_provider_breaker_open 0",
        "fapiao_orders{status=\"issued\"} 3",
        "fapiao_order_oldest_unfinished_age_seconds 0.0",
        "fapiao_webhook_outbox_pending ",
        "fapiao_webhook_outbox_oldest_age_seconds ",
        "fapiao_archive_failed_files 0",
        "fapiao_http_requests_total{method=\"POST\",route=\"/v1/invoices\",status=\"202\"} 3",
        "# EOF",
    ] {
        assert!(m.contains(want), "missing {want:?} in:\n{m}");
    }
    // Every counter sample ends in _total; every TYPE names a fapiao_ metric.
    let mut counters = Vec::new();
    for l in m.lines() {
        if let Some(rest) = l.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            assert!(name.starts_with("fapiao_"), "{l}");
            if kind == "counter" {
                counters.push(name.to_owned());
            }
        }
    }
    assert!(counters.len() >= 5, "{counters:?}");
    for l in m.lines().filter(|l| !l.starts_with('#')) {
        let name = l.split(['{', ' ']).next().unwrap();
        if counters
            .iter()
            .any(|c| name.starts_with(c.as_str()) && name.len() - c.len() <= "_total".len())
        {
            assert!(name.ends_with("_total"), "counter sample without _total: {l}");
        }
    }
    // Every metric the alert rules and the Grafana dashboard read exists.
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut used = std::collections::BTreeSet::new();
    for f in ["deploy/prometheus/alerts.yml", "deploy/grafana/fapiao-proxy.json"] {
        let text = std::fs::read_to_string(root.join(f)).unwrap();
        let mut rest = text.as_str();
        while let Some(i) = rest.find("fapiao_") {
            let name: String = rest[i..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            rest = &rest[i + name.len()..];
            if name != "fapiao_" {
                used.insert(name);
            }
        }
    }
    assert!(used.len() >= 10, "{used:?}");
    for name in &used {
        assert!(
            m.lines()
                .any(|l| l.starts_with(&format!("{name}{{")) || l.starts_with(&format!("{name} "))),
            "{name} (used by the rules or the dashboard) is not exported:\n{m}"
        );
    }
    // promtool's own lint, when installed (scripts/setup.sh installs it).
    if let Ok(mut child) = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
    {
        use std::io::Write;
        child.stdin.take().unwrap().write_all(m.as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        // promtool lints the classic text format, where a counter's HELP names
        // the `_total` sample; OpenMetrics names the family without it. Only
        // that difference is let through.
        let problems: Vec<&str> = text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .filter(|l| {
                let family = l.strip_suffix(" no help text").and_then(|n| n.strip_suffix("_total"));
                !family.is_some_and(|f| counters.iter().any(|c| c == f))
            })
            .collect();
        assert!(problems.is_empty(), "promtool check metrics:\n{text}\n{m}");
    } else {
        eprintln!("SKIPPED promtool check metrics: promtool is not installed");
    }
    r.kill();
}
