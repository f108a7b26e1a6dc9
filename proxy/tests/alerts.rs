//! Alerts reach a local receiver in each robot's format: two instances on one
//! store watch the sandbox's 5xx share rise until the provider success rate is
//! below the threshold, and each channel gets exactly one *firing* message
//! (signatures checked the way 钉钉 and 飞书 check them), then exactly one
//! *resolved* message once the sandbox recovers.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Query, State};
use axum::http::{StatusCode, Uri};
use axum::Json;
use base64::Engine;
use common::*;
use fapiao_proxy::alerts::{Channel, ChannelKind};
use fapiao_proxy::secret::Secret;
use fapiao_proxy::App;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

const DING_SECRET: &str = "SECd1n9-t4lk-s3cret";
const FEISHU_SECRET: &str = "fe1shu-s3cret";

#[derive(Default)]
struct Inbox {
    /// (channel, status) of each accepted message.
    accepted: Vec<(String, String, String)>,
    /// Requests refused because their signature was wrong.
    bad_signatures: Vec<String>,
    /// Requests to the webhook answered 500 on purpose (the first one).
    webhook_failures: usize,
}

type Shared = Arc<Mutex<Inbox>>;

fn b64_hmac(key: &[u8], msg: &[u8]) -> String {
    let mut m = Hmac::<Sha256>::new_from_slice(key).unwrap();
    m.update(msg);
    base64::engine::general_purpose::STANDARD.encode(m.finalize().into_bytes())
}

fn status_of_text(text: &str) -> String {
    if text.contains("FIRING") {
        "firing".into()
    } else if text.contains("RESOLVED") {
        "resolved".into()
    } else {
        "?".into()
    }
}

async fn receive(
    State(inbox): State<Shared>,
    uri: Uri,
    Query(q): Query<std::collections::HashMap<String, String>>,
    Json(body): Json<Value>,
) -> (StatusCode, Json<Value>) {
    let path = uri.path().to_owned();
    let now_ms = fapiao_proxy::time::now_ms();
    let mut i = inbox.lock().unwrap();
    match path.as_str() {
        "/hook" => {
            if i.webhook_failures == 0 {
                // The first delivery fails: the proxy must retry.
                i.webhook_failures += 1;
                return (StatusCode::INTERNAL_SERVER_ERROR, Json(json!({})));
            }
            let status = body["status"].as_str().unwrap_or("?").to_owned();
            i.accepted.push((
                "webhook".into(),
                status,
                body["alert"].as_str().unwrap_or("").to_owned(),
            ));
            (StatusCode::OK, Json(json!({})))
        }
        "/wecom" => {
            assert_eq!(q.get("key").map(String::as_str), Some("wecom-key"));
            assert_eq!(body["msgtype"], "text");
            let text = body["text"]["content"].as_str().unwrap_or("").to_owned();
            i.accepted.push(("wecom".into(), status_of_text(&text), text));
            (StatusCode::OK, Json(json!({ "errcode": 0, "errmsg": "ok" })))
        }
        "/dingtalk" => {
            // 钉钉: timestamp (ms) within an hour, sign = urlencode(base64(HMAC-SHA256(secret, "timestamp\nsecret"))).
            let ts: i64 = q.get("timestamp").and_then(|t| t.parse().ok()).unwrap_or(0);
            let sign = q.get("sign").cloned().unwrap_or_default();
            let want = b64_hmac(DING_SECRET.as_bytes(), format!("{ts}\n{DING_SECRET}").as_bytes());
            if (now_ms - ts).abs() > 3_600_000 || sign != want {
                i.bad_signatures.push(format!("dingtalk ts={ts} sign={sign}"));
                return (
                    StatusCode::OK,
                    Json(json!({ "errcode": 310000, "errmsg": "sign not match" })),
                );
            }
            let text = body["text"]["content"].as_str().unwrap_or("").to_owned();
            i.accepted.push(("dingtalk".into(), status_of_text(&text), text));
            (StatusCode::OK, Json(json!({ "errcode": 0, "errmsg": "ok" })))
        }
        "/feishu" => {
            // 飞书: timestamp (s) within an hour, sign = base64(HMAC-SHA256(key "timestamp\nsecret", "")).
            let ts: i64 = body["timestamp"].as_str().and_then(|t| t.parse().ok()).unwrap_or(0);
            let sign = body["sign"].as_str().unwrap_or("").to_owned();
            let want = b64_hmac(format!("{ts}\n{FEISHU_SECRET}").as_bytes(), b"");
            if (now_ms / 1000 - ts).abs() > 3600 || sign != want {
                i.bad_signatures.push(format!("feishu ts={ts} sign={sign}"));
                return (
                    StatusCode::OK,
                    Json(
                        json!({ "code": 19021, "msg": "sign match fail or timestamp is not within one hour from current time" }),
                    ),
                );
            }
            assert_eq!(body["msg_type"], "text");
            let text = body["content"]["text"].as_str().unwrap_or("").to_owned();
            i.accepted.push(("feishu".into(), status_of_text(&text), text));
            (StatusCode::OK, Json(json!({ "code": 0, "msg": "success" })))
        }
        _ => (StatusCode::NOT_FOUND, Json(json!({}))),
    }
}

async fn receiver(inbox: Shared) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new()
        .fallback(axum::routing::post(receive))
        .with_state(inbox);
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    format!("http://{addr}")
}

fn count(inbox: &Shared, status: &str) -> Vec<(String, usize)> {
    let i = inbox.lock().unwrap();
    ["webhook", "wecom", "dingtalk", "feishu"]
        .iter()
        .map(|c| {
            (
                c.to_string(),
                i.accepted.iter().filter(|(ch, s, _)| ch == c && s == status).count(),
            )
        })
        .collect()
}

fn all(inbox: &Shared, status: &str) -> bool {
    count(inbox, status).iter().all(|(_, n)| *n >= 1)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn success_rate_alert_fires_once_per_robot_and_resolves() {
    let dir = tempfile::tempdir().unwrap();
    let inbox: Shared = Arc::default();
    let base = receiver(inbox.clone()).await;

    let mut config = test_config(dir.path()).await;
    config.alerts.channels = vec![
        Channel {
            kind: ChannelKind::Webhook,
            url: Secret::new(format!("{base}/hook")),
            secret: None,
        },
        Channel {
            kind: ChannelKind::WeCom,
            url: Secret::new(format!("{base}/wecom?key=wecom-key")),
            secret: None,
        },
        Channel {
            kind: ChannelKind::DingTalk,
            url: Secret::new(format!("{base}/dingtalk?access_token=ding-token")),
            secret: Some(Secret::new(DING_SECRET)),
        },
        Channel {
            kind: ChannelKind::Feishu,
            url: Secret::new(format!("{base}/feishu")),
            secret: Some(Secret::new(FEISHU_SECRET)),
        },
    ];
    config.alerts.every = Duration::from_millis(50);
    config.alerts.hold = Duration::from_millis(300);
    config.alerts.window = Duration::from_secs(2);
    config.alerts.min_samples = 10;
    config.alerts.retry_base = Duration::from_millis(100);
    // Only the success rate is under test: the breaker stays closed.
    config.breaker_threshold = 1_000_000;
    let store = open_store(&config).await;
    let sbx = sandbox(&store, &config);
    let a = serve(
        App::start_with(config.clone(), store.clone(), sbx.clone())
            .await
            .unwrap(),
    )
    .await;
    // A second instance on the same store: it sees the same outage and must not
    // send a second message.
    let mut config_b = config.clone();
    config_b.instance_id = "test-instance-b".into();
    let b = serve(App::start_with(config_b, store.clone(), sbx.clone()).await.unwrap()).await;

    // Healthy traffic: no alert.
    for i in 0..20 {
        assert_eq!(
            post(&a, "/v1/invoices", &body(&a.state.config, &format!("AL-OK-{i}")))
                .await
                .0,
            202
        );
    }
    for i in 0..20 {
        assert_eq!(wait_final(&a, &format!("AL-OK-{i}"), 30).await["status"], "issued");
    }
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(
        inbox.lock().unwrap().accepted.is_empty(),
        "no alert while healthy: {:?}",
        inbox.lock().unwrap().accepted
    );

    // The outage: a third of the calls answer 503. Orders go on arriving until
    // every channel got its firing message (at most 2,000 orders).
    sbx.set_error_rate(0.3);
    let mut crossed: Option<Instant> = None;
    let mut n = 0;
    while !all(&inbox, "firing") {
        assert!(
            n < 2000,
            "no firing message on every channel after {n} orders: {:?}",
            count(&inbox, "firing")
        );
        let target = if n % 2 == 0 { &a } else { &b };
        assert_eq!(
            post(target, "/v1/invoices", &body(&a.state.config, &format!("AL-BAD-{n}")))
                .await
                .0,
            202
        );
        n += 1;
        if crossed.is_none() {
            let (ok, total) = a.state.metrics.window(Duration::from_secs(2));
            if total >= 10 && (ok as f64) < 0.999 * total as f64 {
                crossed = Some(Instant::now());
            }
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let fire_latency = crossed.map(|t| t.elapsed());
    // Ten more evaluations of both instances while the outage lasts: still one
    // message per channel.
    for i in 0..40 {
        post(&a, "/v1/invoices", &body(&a.state.config, &format!("AL-BAD2-{i}"))).await;
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(
        count(&inbox, "firing"),
        vec![
            ("webhook".into(), 1),
            ("wecom".into(), 1),
            ("dingtalk".into(), 1),
            ("feishu".into(), 1)
        ]
    );
    assert_eq!(count(&inbox, "resolved").iter().map(|c| c.1).sum::<usize>(), 0);

    // Recovery: calls succeed again; the failures leave the 2 s window.
    sbx.set_error_rate(0.0);
    let recovered = Instant::now();
    let mut m = 0;
    while !all(&inbox, "resolved") {
        assert!(
            m < 2000,
            "no resolved message on every channel after {m} orders: {:?}",
            count(&inbox, "resolved")
        );
        let target = if m % 2 == 0 { &a } else { &b };
        post(target, "/v1/invoices", &body(&a.state.config, &format!("AL-REC-{m}"))).await;
        m += 1;
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let resolve_latency = recovered.elapsed();
    tokio::time::sleep(Duration::from_millis(600)).await;

    let i = inbox.lock().unwrap();
    assert!(i.bad_signatures.is_empty(), "{:?}", i.bad_signatures);
    assert_eq!(
        i.webhook_failures, 1,
        "the first webhook delivery failed and was retried"
    );
    assert_eq!(
        count(&inbox_clone(&inbox, &i), "firing")
            .iter()
            .map(|c| c.1)
            .sum::<usize>(),
        4
    );
    for ch in ["webhook", "wecom", "dingtalk", "feishu"] {
        let msgs: Vec<_> = i
            .accepted
            .iter()
            .filter(|(c, _, _)| c == ch)
            .map(|(_, s, _)| s.as_str())
            .collect();
        assert_eq!(msgs, ["firing", "resolved"], "{ch}");
    }
    for (ch, _, text) in &i.accepted {
        assert!(text.contains("provider_success_rate"), "{ch}: {text}");
        assert!(
            !text.contains("ding-token") && !text.contains(DING_SECRET),
            "{ch}: {text}"
        );
    }
    eprintln!(
        "alerts: firing on all 4 channels {:?} after the success rate crossed the threshold ({n} outage orders); resolved {:?} after recovery ({m} orders)",
        fire_latency, resolve_latency
    );
    drop(i);
    a.kill();
    b.kill();
}

/// A copy of the inbox for counting while its lock is held.
fn inbox_clone(_: &Shared, i: &Inbox) -> Shared {
    Arc::new(Mutex::new(Inbox {
        accepted: i.accepted.clone(),
        bad_signatures: Vec::new(),
        webhook_failures: i.webhook_failures,
    }))
}
