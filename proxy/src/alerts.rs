//! Alerts that reach the people on call: a loop that checks a few conditions
//! every `FAPIAO_ALERT_EVAL_MS` and sends a *firing* message when one has held
//! for `FAPIAO_ALERT_HOLD_S`, and a *resolved* message when it has been gone for
//! as long.
//!
//! Conditions: the provider success rate over `FAPIAO_ALERT_WINDOW_S` below
//! `FAPIAO_SUCCESS_RATE_THRESHOLD` (with at least `FAPIAO_ALERT_MIN_SAMPLES`
//! calls in the window); the oldest unfinished order older than
//! `FAPIAO_ALERT_ORDER_AGE_MIN`; the circuit breaker open; the webhook outbox
//! holding more than `FAPIAO_ALERT_OUTBOX_BACKLOG` pending events or one older
//! than `FAPIAO_ALERT_OUTBOX_AGE_MIN`; archive files that failed.
//!
//! Channels (any number at once): a generic JSON webhook, the 企业微信 group
//! robot, the 钉钉 robot (signed with `timestamp`/`sign` in the URL) and the 飞书
//! robot (signed with `timestamp`/`sign` in the body). Their URLs carry access
//! tokens and are kept as secrets: logs name the channel, never its URL.
//!
//! Several instances on one database send one message per condition: a change
//! of an alert's state is made under the store's named lock `alert:<name>`, and
//! the alert's state (firing or not, which instance fired it) is a row of the
//! store's key-value table. The instance that fired an alert resolves it; if that
//! instance stops refreshing the row, another one takes it over.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

use crate::secret::Secret;
use crate::store::StoreError;
use crate::time::now_ms;
use crate::AppState;

/// Alert settings (`FAPIAO_ALERT_*`).
#[derive(Debug, Clone)]
pub struct AlertSettings {
    /// Where messages go (none: alerts are only logged).
    pub channels: Vec<Channel>,
    /// `FAPIAO_ALERT_EVAL_MS`: how often the conditions are checked.
    pub every: Duration,
    /// `FAPIAO_ALERT_HOLD_S`: how long a condition must hold (or be gone) before
    /// a firing (or resolved) message: no flapping.
    pub hold: Duration,
    /// `FAPIAO_ALERT_WINDOW_S`: the window of the provider success rate.
    pub window: Duration,
    /// `FAPIAO_ALERT_MIN_SAMPLES`: provider calls in the window below which the rate is not judged.
    pub min_samples: u64,
    /// `FAPIAO_ALERT_ORDER_AGE_MIN`: the oldest unfinished order may be this old.
    pub order_age: Duration,
    /// `FAPIAO_ALERT_OUTBOX_BACKLOG`: pending webhook events allowed.
    pub outbox_backlog: i64,
    /// `FAPIAO_ALERT_OUTBOX_AGE_MIN`: the oldest pending webhook event may be this old.
    pub outbox_age: Duration,
    /// `FAPIAO_ALERT_ARCHIVE_FAILURES`: archive files refused or failing 3 times or more, allowed below this.
    pub archive_failures: i64,
    /// `FAPIAO_ALERT_MAX_PER_MINUTE`: messages per channel per minute at most (later ones wait).
    pub max_per_minute: usize,
    /// `FAPIAO_ALERT_RETRY_BASE_MS`: first retry delay of a failed delivery (doubles; 6 attempts).
    pub retry_base: Duration,
}

impl Default for AlertSettings {
    fn default() -> AlertSettings {
        AlertSettings {
            channels: Vec::new(),
            every: Duration::from_secs(10),
            hold: Duration::from_secs(60),
            window: Duration::from_secs(300),
            min_samples: 100,
            order_age: Duration::from_secs(30 * 60),
            outbox_backlog: 1000,
            outbox_age: Duration::from_secs(30 * 60),
            archive_failures: 1,
            max_per_minute: 10,
            retry_base: Duration::from_secs(2),
        }
    }
}

/// The robot or webhook formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelKind {
    /// `FAPIAO_ALERT_WEBHOOK_URL`: `{"status","alert","summary",…}` as JSON.
    Webhook,
    /// `FAPIAO_ALERT_WECOM_URL`: 企业微信 group robot (`msgtype: text`).
    WeCom,
    /// `FAPIAO_ALERT_DINGTALK_URL` and `FAPIAO_ALERT_DINGTALK_SECRET`: 钉钉 robot.
    DingTalk,
    /// `FAPIAO_ALERT_FEISHU_URL` and `FAPIAO_ALERT_FEISHU_SECRET`: 飞书 robot.
    Feishu,
}

impl ChannelKind {
    /// The name used in logs and settings.
    pub fn name(self) -> &'static str {
        match self {
            ChannelKind::Webhook => "webhook",
            ChannelKind::WeCom => "wecom",
            ChannelKind::DingTalk => "dingtalk",
            ChannelKind::Feishu => "feishu",
        }
    }
}

/// One channel: its format, its URL (a secret: it carries the robot's token)
/// and the signing secret of 钉钉 and 飞书.
#[derive(Debug, Clone)]
pub struct Channel {
    /// The format.
    pub kind: ChannelKind,
    /// The URL.
    pub url: Secret,
    /// The signing secret (钉钉 加签, 飞书 签名校验), when the robot has one.
    pub secret: Option<Secret>,
}

/// Why an alert message was not delivered (the URL is never part of it).
#[derive(Debug, thiserror::Error)]
pub enum AlertError {
    /// The request failed (connection, timeout).
    #[error("alert_transport: {0}")]
    Transport(String),
    /// The receiver answered with an HTTP error.
    #[error("alert_http_status: HTTP {0}")]
    Status(u16),
    /// The robot answered with an error code in its body.
    #[error("alert_rejected: {0}")]
    Rejected(String),
}

impl AlertError {
    /// The stable code.
    pub fn code(&self) -> &'static str {
        match self {
            AlertError::Transport(_) => "alert_transport",
            AlertError::Status(_) => "alert_http_status",
            AlertError::Rejected(_) => "alert_rejected",
        }
    }
}

/// The conditions, by their stable names.
pub const CONDITIONS: [&str; 6] = [
    "provider_success_rate",
    "order_stuck",
    "breaker_open",
    "outbox_backlog",
    "outbox_age",
    "archive_failures",
];

/// One evaluation of a condition: active or not, with what a person reads.
#[derive(Debug, Clone)]
pub struct Reading {
    /// The condition's name (one of [`CONDITIONS`]).
    pub name: &'static str,
    /// True while the condition holds.
    pub active: bool,
    /// What is wrong (or what was), in one line.
    pub summary: String,
}

/// A message to send.
#[derive(Debug, Clone)]
pub struct Message {
    /// `firing` or `resolved`.
    pub status: &'static str,
    /// The condition.
    pub alert: &'static str,
    /// The line for people.
    pub summary: String,
    /// The instance that sent it.
    pub instance: String,
    /// When the alert started firing (epoch ms).
    pub since_ms: i64,
}

impl Message {
    /// The text of the robots.
    pub fn text(&self) -> String {
        let head = if self.status == "firing" {
            "【告警 FIRING】"
        } else {
            "【恢复 RESOLVED】"
        };
        format!(
            "{head} fapiao-proxy {}: {} (instance {})",
            self.alert, self.summary, self.instance
        )
    }
}

/// HMAC-SHA256 as base64.
fn hmac_b64(key: &[u8], message: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(message);
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// 钉钉's signature: base64 of HMAC-SHA256 under the secret over
/// "timestamp\nsecret" (timestamp in ms), URL-encoded for the query.
pub fn dingtalk_sign(timestamp_ms: i64, secret: &str) -> String {
    percent_encode(&hmac_b64(
        secret.as_bytes(),
        format!("{timestamp_ms}\n{secret}").as_bytes(),
    ))
}

/// 飞书's signature: base64 of HMAC-SHA256 keyed with "timestamp\nsecret"
/// (timestamp in seconds) over an empty message.
pub fn feishu_sign(timestamp_s: i64, secret: &str) -> String {
    hmac_b64(format!("{timestamp_s}\n{secret}").as_bytes(), b"")
}

/// Percent-encodes everything but unreserved characters.
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The URL and body of one message to one channel, at `now_ms`.
pub fn request_of(channel: &Channel, m: &Message, now_ms: i64) -> (String, Value) {
    let text = m.text();
    match channel.kind {
        ChannelKind::Webhook => (
            channel.url.expose().to_owned(),
            json!({
                "status": m.status, "alert": m.alert, "summary": m.summary, "instance": m.instance,
                "startsAt": m.since_ms, "sentAt": now_ms, "source": "fapiao-proxy",
            }),
        ),
        ChannelKind::WeCom => (
            channel.url.expose().to_owned(),
            json!({ "msgtype": "text", "text": { "content": text } }),
        ),
        ChannelKind::DingTalk => {
            let mut url = channel.url.expose().to_owned();
            if let Some(secret) = &channel.secret {
                let sep = if url.contains('?') { '&' } else { '?' };
                url = format!(
                    "{url}{sep}timestamp={now_ms}&sign={}",
                    dingtalk_sign(now_ms, secret.expose())
                );
            }
            (url, json!({ "msgtype": "text", "text": { "content": text } }))
        }
        ChannelKind::Feishu => {
            let mut body = json!({ "msg_type": "text", "content": { "text": text } });
            if let Some(secret) = &channel.secret {
                let ts = now_ms / 1000;
                body["timestamp"] = json!(ts.to_string());
                body["sign"] = json!(feishu_sign(ts, secret.expose()));
            }
            (channel.url.expose().to_owned(), body)
        }
    }
}

/// Sends one message to one channel once.
async fn send_once(client: &reqwest::Client, channel: &Channel, m: &Message) -> Result<(), AlertError> {
    let (url, body) = request_of(channel, m, now_ms());
    let resp = client
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(serde_json::to_vec(&body).unwrap_or_default())
        .send()
        .await
        .map_err(|e| AlertError::Transport(e.without_url().to_string()))?;
    let status = resp.status();
    if !status.is_success() {
        return Err(AlertError::Status(status.as_u16()));
    }
    if channel.kind == ChannelKind::Webhook {
        return Ok(());
    }
    // The robots answer 200 with an error code in the body.
    let bytes = resp
        .bytes()
        .await
        .map_err(|e| AlertError::Transport(e.without_url().to_string()))?;
    let v: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    let code = v
        .get("errcode")
        .or_else(|| v.get("code"))
        .or_else(|| v.get("StatusCode"))
        .and_then(Value::as_i64)
        .unwrap_or(0);
    if code != 0 {
        let msg = v
            .get("errmsg")
            .or_else(|| v.get("msg"))
            .and_then(Value::as_str)
            .unwrap_or("");
        return Err(AlertError::Rejected(format!("code {code} {msg}")));
    }
    Ok(())
}

/// Per-channel send times of the last minute (the rate limit).
#[derive(Default)]
struct Budget(Mutex<VecDeque<Instant>>);

impl Budget {
    /// How long to wait before the next send (zero: go, and the send is counted).
    fn take(&self, max: usize) -> Duration {
        let mut q = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let minute = Duration::from_secs(60);
        while q.front().is_some_and(|t| t.elapsed() >= minute) {
            q.pop_front();
        }
        if q.len() < max.max(1) {
            q.push_back(Instant::now());
            Duration::ZERO
        } else {
            minute.saturating_sub(q.front().map(|t| t.elapsed()).unwrap_or_default()) + Duration::from_millis(10)
        }
    }
}

/// Delivers messages to every channel, each with its rate limit and retries.
pub struct Dispatcher {
    client: reqwest::Client,
    channels: Vec<(Channel, Arc<Budget>)>,
    max_per_minute: usize,
    retry_base: Duration,
}

impl Dispatcher {
    /// A dispatcher for the configured channels.
    pub fn new(settings: &AlertSettings) -> Dispatcher {
        Dispatcher {
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap_or_default(),
            channels: settings
                .channels
                .iter()
                .map(|c| (c.clone(), Arc::new(Budget::default())))
                .collect(),
            max_per_minute: settings.max_per_minute,
            retry_base: settings.retry_base,
        }
    }

    /// Sends `m` to every channel in the background: each channel waits for its
    /// rate limit, and a failed delivery is logged and retried (6 attempts, the
    /// delay doubling from the retry base).
    pub fn send(&self, m: Message) {
        for (channel, budget) in &self.channels {
            let (client, channel, budget, m) = (self.client.clone(), channel.clone(), budget.clone(), m.clone());
            let (max, base) = (self.max_per_minute, self.retry_base);
            tokio::spawn(async move {
                let mut delay = base;
                for attempt in 1..=6u32 {
                    loop {
                        let wait = budget.take(max);
                        if wait.is_zero() {
                            break;
                        }
                        tracing::warn!(
                            channel = channel.kind.name(),
                            wait_ms = wait.as_millis() as u64,
                            "alert channel rate limit: message waits"
                        );
                        tokio::time::sleep(wait).await;
                    }
                    match send_once(&client, &channel, &m).await {
                        Ok(()) => {
                            tracing::info!(
                                channel = channel.kind.name(),
                                alert = m.alert,
                                status = m.status,
                                attempt,
                                "alert delivered"
                            );
                            return;
                        }
                        Err(e) => {
                            tracing::error!(channel = channel.kind.name(), alert = m.alert, status = m.status, attempt, code = e.code(), error = %e, "alert delivery failed");
                            tokio::time::sleep(delay).await;
                            delay = (delay * 2).min(Duration::from_secs(600));
                        }
                    }
                }
                tracing::error!(
                    channel = channel.kind.name(),
                    alert = m.alert,
                    status = m.status,
                    "alert not delivered after 6 attempts"
                );
            });
        }
    }
}

/// The alert's shared state (a row of the store's key-value table).
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
struct Shared {
    firing: bool,
    owner: String,
    since: i64,
    summary: String,
}

/// The current readings of every condition.
pub async fn readings(state: &AppState) -> Result<Vec<Reading>, StoreError> {
    let a = &state.config.alerts;
    let mut out = Vec::new();
    let (ok, total) = state.metrics.window(a.window);
    let rate = if total == 0 { 1.0 } else { ok as f64 / total as f64 };
    out.push(Reading {
        name: "provider_success_rate",
        active: total >= a.min_samples && rate < state.config.success_rate_threshold,
        summary: format!(
            "provider success rate {:.2} % over the last {} s ({ok} of {total} calls), threshold {:.2} %",
            rate * 100.0,
            a.window.as_secs(),
            state.config.success_rate_threshold * 100.0
        ),
    });
    let q = crate::metrics::queues(&state.store).await?;
    let (pending_events, archive_failed) = (q.outbox_pending, q.archive_failed);
    let order_age = (q.oldest_unfinished_s * 1000.0) as i64;
    // Several sellers: the alert names those whose orders are stuck.
    let set = state.sellers.get();
    let stuck: Vec<String> = q
        .seller_oldest_unfinished_s
        .iter()
        .filter(|(_, s)| (*s * 1000.0) as i64 > a.order_age.as_millis() as i64)
        .map(|(seller, s)| {
            let tax = if seller.is_empty() {
                set.home.as_str()
            } else {
                seller.as_str()
            };
            format!("{tax} ({} min)", (*s / 60.0) as i64)
        })
        .collect();
    out.push(Reading {
        name: "order_stuck",
        active: order_age > a.order_age.as_millis() as i64,
        summary: if set.order.len() > 1 && !stuck.is_empty() {
            format!(
                "unfinished orders older than {} min at seller {}",
                a.order_age.as_secs() / 60,
                stuck.join(", ")
            )
        } else {
            format!(
                "the oldest unfinished order is {} min old (limit {} min)",
                order_age / 60_000,
                a.order_age.as_secs() / 60
            )
        },
    });
    // Each seller has its own provider and breaker: the alert names the sellers
    // whose breaker is open (one seller's provider outage is that seller's).
    let open: Vec<String> = set
        .all()
        .filter(|e| e.breaker.is_open())
        .map(|e| match e.breaker.reason() {
            Some(r) => format!("seller {} ({}): {r}", e.seller.tax_id, e.provider.name()),
            None => format!(
                "seller {} ({}): calls to the provider are held back",
                e.seller.tax_id,
                e.provider.name()
            ),
        })
        .collect();
    out.push(Reading {
        name: "breaker_open",
        active: !open.is_empty(),
        summary: match (open.len(), set.order.len()) {
            (_, 1) => match state.breaker.reason() {
                Some(r) => format!("the provider circuit breaker is open: {r}"),
                None => "the provider circuit breaker is open: calls to the provider are held back".into(),
            },
            _ => format!("the provider circuit breaker is open for {}", open.join("; ")),
        },
    });
    // Without a webhook URL events wait by design: no backlog alert.
    let hooks_on = state.config.hooks.webhook_url.is_some() || set.all().any(|e| e.seller.webhook_url.is_some());
    out.push(Reading {
        name: "outbox_backlog",
        active: hooks_on && pending_events > a.outbox_backlog,
        summary: format!(
            "{pending_events} webhook events wait for delivery (limit {})",
            a.outbox_backlog
        ),
    });
    let event_age = (q.outbox_oldest_s * 1000.0) as i64;
    out.push(Reading {
        name: "outbox_age",
        active: hooks_on && event_age > a.outbox_age.as_millis() as i64,
        summary: format!(
            "the oldest undelivered webhook event is {} min old (limit {} min)",
            event_age / 60_000,
            a.outbox_age.as_secs() / 60
        ),
    });
    out.push(Reading {
        name: "archive_failures",
        active: archive_failed >= a.archive_failures,
        summary: format!("{archive_failed} invoice files could not be archived"),
    });
    Ok(out)
}

/// What this instance knows of one condition between evaluations.
#[derive(Default, Clone)]
struct Local {
    active_since: Option<Instant>,
    inactive_since: Option<Instant>,
}

/// The alert loop of one instance.
pub async fn run(state: Arc<AppState>) {
    let a = state.config.alerts.clone();
    let dispatcher = Dispatcher::new(&a);
    let mut local: Vec<Local> = vec![Local::default(); CONDITIONS.len()];
    let mut tick = tokio::time::interval(a.every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let rs = match readings(&state).await {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(error = %e, "alerts: cannot read the store");
                continue;
            }
        };
        for (r, l) in rs.iter().zip(local.iter_mut()) {
            let now = Instant::now();
            if r.active {
                l.inactive_since = None;
                l.active_since.get_or_insert(now);
            } else {
                l.active_since = None;
                l.inactive_since.get_or_insert(now);
            }
            let held = |since: Option<Instant>| since.is_some_and(|t| t.elapsed() >= a.hold);
            let want = if held(l.active_since) {
                Some(true)
            } else if held(l.inactive_since) {
                Some(false)
            } else {
                None
            };
            if let Some(firing) = want {
                if let Err(e) = transition(&state, &dispatcher, r, firing).await {
                    tracing::error!(alert = r.name, error = %e, "alerts: cannot record the alert's state");
                }
            }
        }
    }
}

/// Brings the alert's shared state to `firing`, sending the message when this
/// instance makes the change.
async fn transition(state: &AppState, dispatcher: &Dispatcher, r: &Reading, firing: bool) -> Result<(), StoreError> {
    let key = format!("alert:{}", r.name);
    let me = state.config.instance_id.as_str();
    let stale_ms = (state.config.alerts.every * 3 + state.config.alerts.hold).as_millis() as i64 + 5_000;
    let current = state.store.kv_get(&key).await?;
    let (shared, updated_at): (Shared, i64) = match &current {
        Some((v, at)) => (serde_json::from_str(v).unwrap_or_default(), *at),
        None => (Shared::default(), 0),
    };
    // Nothing to change: the common case needs no lock.
    if shared.firing == firing && (!firing || shared.owner == me && now_ms() - updated_at < stale_ms / 3) {
        return Ok(());
    }
    if !firing && shared.owner != me && now_ms() - updated_at < stale_ms {
        // Another instance fired it and still watches it: it resolves it.
        return Ok(());
    }
    if !state.store.try_lock(&key, me, 30_000).await? {
        return Ok(());
    }
    let result = async {
        // Again under the lock: another instance may have changed it.
        let (shared, updated_at): (Shared, i64) = match state.store.kv_get(&key).await? {
            Some((v, at)) => (serde_json::from_str(&v).unwrap_or_default(), at),
            None => (Shared::default(), 0),
        };
        let now = now_ms();
        if firing {
            if shared.firing {
                // Already firing: refresh it if it is ours, or take it over from
                // an instance that stopped refreshing it; no new message.
                if shared.owner == me || now - updated_at >= stale_ms {
                    let s = Shared {
                        owner: me.to_owned(),
                        ..shared
                    };
                    state
                        .store
                        .kv_set(&key, &serde_json::to_string(&s).unwrap_or_default())
                        .await?;
                }
                return Ok(());
            }
            let s = Shared {
                firing: true,
                owner: me.to_owned(),
                since: now,
                summary: r.summary.clone(),
            };
            state
                .store
                .kv_set(&key, &serde_json::to_string(&s).unwrap_or_default())
                .await?;
            tracing::warn!(alert = r.name, summary = %r.summary, "alert firing");
            dispatcher.send(Message {
                status: "firing",
                alert: r.name,
                summary: r.summary.clone(),
                instance: me.to_owned(),
                since_ms: now,
            });
        } else {
            if !shared.firing || (shared.owner != me && now - updated_at < stale_ms) {
                return Ok(());
            }
            let s = Shared {
                firing: false,
                owner: me.to_owned(),
                since: shared.since,
                summary: String::new(),
            };
            state
                .store
                .kv_set(&key, &serde_json::to_string(&s).unwrap_or_default())
                .await?;
            let summary = format!(
                "resolved after {} s; was: {}",
                (now - shared.since).max(0) / 1000,
                shared.summary
            );
            tracing::info!(alert = r.name, summary = %summary, "alert resolved");
            dispatcher.send(Message {
                status: "resolved",
                alert: r.name,
                summary,
                instance: me.to_owned(),
                since_ms: shared.since,
            });
        }
        Ok(())
    }
    .await;
    let _ = state.store.unlock(&key, me).await;
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dingtalk_signature_matches_a_worked_example() {
        // The same computation as 钉钉's documented Java/Python samples.
        let ts = 1_700_000_000_000i64;
        let secret = "SEC0123456789abcdef";
        let raw = hmac_b64(secret.as_bytes(), format!("{ts}\n{secret}").as_bytes());
        assert_eq!(dingtalk_sign(ts, secret), percent_encode(&raw));
        assert!(!dingtalk_sign(ts, secret).contains('+') && !dingtalk_sign(ts, secret).contains('='));
        assert_ne!(dingtalk_sign(ts + 1, secret), dingtalk_sign(ts, secret));
    }

    #[test]
    fn feishu_signature_keys_on_timestamp_and_secret() {
        let a = feishu_sign(1_700_000_000, "s3cret");
        assert_eq!(a.len(), 44, "base64 of 32 bytes");
        assert_ne!(a, feishu_sign(1_700_000_001, "s3cret"));
        assert_eq!(a, hmac_b64(b"1700000000\ns3cret", b""));
    }

    #[test]
    fn urls_stay_out_of_debug() {
        let c = Channel {
            kind: ChannelKind::WeCom,
            url: Secret::new("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=abc-secret"),
            secret: None,
        };
        assert!(!format!("{c:?}").contains("abc-secret"));
    }

    #[test]
    fn budget_limits_per_minute() {
        let b = Budget::default();
        assert!(b.take(2).is_zero());
        assert!(b.take(2).is_zero());
        let w = b.take(2);
        assert!(w > Duration::from_secs(50) && w <= Duration::from_secs(61), "{w:?}");
    }
}
