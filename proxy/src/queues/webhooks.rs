//! Signed status webhooks to the merchant, from the durable outbox in
//! [`ledger`].
//!
//! Each event is POSTed as JSON to `FAPIAO_WEBHOOK_URL` with
//!
//! ```text
//! Fapiao-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>
//! Fapiao-Event-Id: <event id>
//! Fapiao-Event-Type: <type>
//! ```
//!
//! and retried with capped exponential back-off (with jitter) until a 2xx
//! acknowledges it. Per order, event n+1 is sent only after event n was
//! acknowledged, and never two events of one order at once; different orders do
//! not wait for each other. The outbox survives restarts; receivers de-duplicate
//! by event id (a replay re-sends the same ids).

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use rand::Rng;
use sha2::Sha256;
use tokio::sync::Semaphore;

use crate::ledger::{self, OutboxEvent};
use crate::time::{now_ms, now_s};
use crate::AppState;

/// The signature header.
pub const SIGNATURE_HEADER: &str = "Fapiao-Signature";
/// The event id header.
pub const EVENT_ID_HEADER: &str = "Fapiao-Event-Id";
/// The event type header.
pub const EVENT_TYPE_HEADER: &str = "Fapiao-Event-Type";
/// Signatures older (or newer) than this are refused by [`verify`].
pub const TOLERANCE_S: i64 = 300;

fn mac(secret: &str) -> Hmac<Sha256> {
    <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes any key length"))
}

/// The `Fapiao-Signature` value for `body` sent at `timestamp` (unix seconds).
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut m = mac(secret);
    m.update(format!("{timestamp}.").as_bytes());
    m.update(body);
    let sig: String = m.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    format!("t={timestamp},v1={sig}")
}

/// Why a webhook did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// The header is missing parts or is not `t=…,v1=…`.
    #[error("malformed signature header")]
    Malformed,
    /// The timestamp is more than [`TOLERANCE_S`] away from now.
    #[error("timestamp outside the tolerance")]
    Stale,
    /// No `v1` signature matches.
    #[error("signature mismatch")]
    Mismatch,
}

/// Verifies a received webhook as a merchant should: parse `t` and every `v1`,
/// refuse a timestamp more than `tolerance_s` from `now_s`, recompute
/// `HMAC-SHA256(secret, "<t>.<raw body>")` and compare in constant time.
pub fn verify(secret: &str, header: &str, body: &[u8], now_s: i64, tolerance_s: i64) -> Result<i64, VerifyError> {
    let mut t = None;
    let mut sigs = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => t = Some(v.parse::<i64>().map_err(|_| VerifyError::Malformed)?),
            Some(("v1", v)) => sigs.push(v.to_owned()),
            _ => {}
        }
    }
    let t = t.ok_or(VerifyError::Malformed)?;
    if sigs.is_empty() {
        return Err(VerifyError::Malformed);
    }
    if (now_s - t).abs() > tolerance_s {
        return Err(VerifyError::Stale);
    }
    for s in sigs {
        let Some(bytes) = decode_hex(&s) else { continue };
        let mut m = mac(secret);
        m.update(format!("{t}.").as_bytes());
        m.update(body);
        if m.verify_slice(&bytes).is_ok() {
            return Ok(t);
        }
    }
    Err(VerifyError::Mismatch)
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Retry delay after `attempts` failed attempts: `base · 2^(attempts−1)`, at most
/// `max`, with "equal jitter" (a random value between half and all of it).
pub fn retry_delay(attempts: i64, base: Duration, max: Duration) -> Duration {
    let exp = (attempts.clamp(1, 30) - 1) as u32;
    let d = base.saturating_mul(1u32 << exp.min(20)).min(max);
    let half = d / 2;
    half + Duration::from_millis(rand::rng().random_range(0..=half.as_millis().max(1) as u64))
}

/// The dispatcher; runs until aborted. Without `FAPIAO_WEBHOOK_URL` it only
/// writes missing `order.accepted` events (the outbox keeps them for later).
pub async fn run(state: Arc<AppState>) {
    match ledger::sweep_accepted(&state.store, 7 * 86_400_000).await {
        Ok(n) if n > 0 => tracing::info!(events = n, "wrote missing order.accepted events"),
        Ok(_) => {}
        Err(e) => tracing::error!(error = %e, "cannot sweep the outbox"),
    }
    let h = &state.config.hooks;
    let client = match reqwest::Client::builder()
        .timeout(h.webhook_timeout)
        .connect_timeout(h.webhook_timeout.min(Duration::from_secs(5)))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("fapiao-proxy/", env!("CARGO_PKG_VERSION")))
        .build()
    {
        Ok(c) => c,
        Err(e) => return tracing::error!(error = %e, "FAPIAO_WEBHOOK_URL: cannot build the HTTP client"),
    };
    // Claims carry the instance's name, so that a restart under the same name
    // takes them back at once (`App::start_with`).
    let owner = state.config.instance_id.clone();
    let lease_ms = h.webhook_timeout.as_millis() as i64 + 10_000;
    let permits = Arc::new(Semaphore::new(h.webhook_concurrency));
    let in_flight: Arc<Mutex<HashSet<String>>> = Arc::default();
    loop {
        // Each seller's events go to its own URL, signed with its own secret.
        // While no seller has one, nothing is claimed (a reload may add one).
        let sellers = state.sellers.get();
        let any = sellers
            .all()
            .any(|e| e.seller.webhook_url.is_some() && e.seller.webhook_secret.is_some());
        if !any {
            tokio::select! {
                _ = state.signals.webhooks.notified() => {}
                _ = tokio::time::sleep(Duration::from_secs(5)) => {}
            }
            continue;
        }
        let free = permits.available_permits();
        let claimed = if free > 0 {
            ledger::claim_webhooks(&state.store, &owner, lease_ms, free)
                .await
                .unwrap_or_default()
        } else {
            Vec::new()
        };
        for ev in claimed {
            let target = sellers.of_key(&ev.order_id).and_then(|e| {
                Some((
                    e.seller.webhook_url.clone()?,
                    e.seller.webhook_secret.clone()?,
                    e.seller.tax_id.clone(),
                ))
            });
            let Some((url, secret, seller)) = target else {
                // This seller has no webhook: kept in the outbox, tried again later.
                let next = now_ms() + h.webhook_retry_max.as_millis() as i64;
                let why = Some("no webhook URL for this seller".to_owned());
                if let Err(e) = ledger::webhook_attempted(&state.store, &ev.event_id, &owner, 0, why, Some(next)).await
                {
                    tracing::error!(error = %e, "cannot record a webhook attempt");
                }
                continue;
            };
            if !in_flight
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(ev.order_id.clone())
            {
                continue; // cannot happen (one head per order); the lease expires
            }
            let Ok(permit) = permits.clone().acquire_owned().await else {
                return;
            };
            let (state, client, owner, in_flight) = (state.clone(), client.clone(), owner.clone(), in_flight.clone());
            tokio::spawn(async move {
                let id = ev.order_id.clone();
                deliver(&state, &client, (&url, secret.expose(), &seller), &owner, ev).await;
                in_flight.lock().unwrap_or_else(|p| p.into_inner()).remove(&id);
                drop(permit);
                state.signals.webhooks.notify_one();
            });
        }
        let wait = match ledger::next_webhook_due(&state.store).await {
            Ok(Some(t)) if t > now_ms() => Duration::from_millis((t - now_ms()) as u64).min(Duration::from_secs(1)),
            Ok(Some(_)) => Duration::from_millis(if permits.available_permits() == 0 { 1000 } else { 20 }),
            _ => Duration::from_secs(1),
        };
        tokio::select! {
            _ = state.signals.webhooks.notified() => {}
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

/// The name of the header carrying the seller's tax ID on every event.
pub const SELLER_HEADER: &str = "Fapiao-Seller";

async fn deliver(
    state: &AppState,
    client: &reqwest::Client,
    (url, secret, seller): (&str, &str, &str),
    owner: &str,
    ev: OutboxEvent,
) {
    let started = Instant::now();
    let signature = sign(secret, now_s(), ev.body.as_bytes());
    let sent = client
        .post(url)
        .header("Content-Type", "application/json")
        .header(SIGNATURE_HEADER, signature)
        .header(EVENT_ID_HEADER, &ev.event_id)
        .header(EVENT_TYPE_HEADER, &ev.kind)
        .header(SELLER_HEADER, seller)
        .body(ev.body.clone())
        .send()
        .await;
    let (status, error) = match sent {
        Ok(resp) if resp.status().is_success() => (resp.status().as_u16(), None),
        Ok(resp) => (resp.status().as_u16(), Some(format!("HTTP {}", resp.status().as_u16()))),
        Err(e) if e.is_timeout() => (0, Some("timeout".to_owned())),
        Err(e) if e.is_connect() => (0, Some("connection failed".to_owned())),
        Err(_) => (0, Some("request failed".to_owned())),
    };
    let h = &state.config.hooks;
    let next = error
        .as_ref()
        .map(|_| now_ms() + retry_delay(ev.attempts + 1, h.webhook_retry_base, h.webhook_retry_max).as_millis() as i64);
    match &error {
        None => {
            tracing::debug!(event = %ev.event_id, order = %ev.order_id, seq = ev.seq, ms = started.elapsed().as_millis() as u64, "webhook delivered")
        }
        Some(e) => {
            tracing::warn!(event = %ev.event_id, order = %ev.order_id, seq = ev.seq, attempts = ev.attempts + 1, error = %e, "webhook not acknowledged; will retry")
        }
    }
    if let Err(e) = ledger::webhook_attempted(&state.store, &ev.event_id, owner, status, error, next).await {
        tracing::error!(error = %e, "cannot record a webhook attempt");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The test vector of README and docs/webhooks.md.
    #[test]
    fn documented_vector() {
        let secret = "whsec_test_0123456789abcdef";
        let body = br#"{"id":"evt_0001","type":"invoice.issued","orderId":"A1","createdAt":"2024-01-15T10:30:00+08:00","seq":2,"data":{"status":"issued"}}"#;
        let h = sign(secret, 1_705_285_800, body);
        assert_eq!(
            h,
            "t=1705285800,v1=1a41e4e681e3e20cc125e8fcc4d1de187dcf2394c30adf400bb3bc3cd02c8fd5"
        );
        assert_eq!(verify(secret, &h, body, 1_705_285_900, TOLERANCE_S), Ok(1_705_285_800));
    }

    #[test]
    fn tampering_fails() {
        let secret = "whsec_test_0123456789abcdef";
        let body = br#"{"id":"evt_1","seq":1}"#;
        let h = sign(secret, 1000, body);
        assert_eq!(
            verify(secret, &h, br#"{"id":"evt_1","seq":2}"#, 1000, 300),
            Err(VerifyError::Mismatch)
        );
        let moved = h.replace("t=1000", "t=1001");
        assert_eq!(verify(secret, &moved, body, 1001, 300), Err(VerifyError::Mismatch));
        assert_eq!(verify(secret, &h, body, 1000 + 301, 300), Err(VerifyError::Stale));
        assert_eq!(
            verify("another-secret-0123456789", &h, body, 1000, 300),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(verify(secret, "v1=abc", body, 1000, 300), Err(VerifyError::Malformed));
    }

    #[test]
    fn delays_grow_and_cap() {
        let (b, m) = (Duration::from_millis(100), Duration::from_millis(1000));
        for _ in 0..50 {
            let d1 = retry_delay(1, b, m);
            assert!(
                d1 >= Duration::from_millis(50) && d1 <= Duration::from_millis(101),
                "{d1:?}"
            );
            let d9 = retry_delay(9, b, m);
            assert!(
                d9 >= Duration::from_millis(500) && d9 <= Duration::from_millis(1001),
                "{d9:?}"
            );
        }
    }
}
