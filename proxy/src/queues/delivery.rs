//! Re-delivery of issued invoices by e-mail and SMS (`POST
//! /v1/invoices/{orderId}/deliver`, 诺诺 `deliveryInvoice`) as a durable queue.
//!
//! The request handler records one `deliveries` row per channel, already claimed
//! by this instance (`FAPIAO_INSTANCE_ID`) for the provider timeout plus a
//! margin, and makes the first attempt itself so that the caller learns the
//! outcome at once. What happens next depends on the answer:
//! - accepted: `sent`, and an `invoice.delivered` webhook event in the same
//!   transaction;
//! - refused (诺诺 answered with an error code): `failed` with the reason, and
//!   the caller gets `DELIVERY_FAILED` 502;
//! - no answer (timeout, connection failure, 5xx): still `requested`, retried by
//!   [`run`] with back-off up to [`MAX_ATTEMPTS`] attempts; the caller gets 202.
//!
//! If the instance stops during the call, the row stays `requested` under its
//! lease: the same instance restarted under its own name frees its claims at
//! start ([`ledger::release_leases`]), any other instance takes the row once the
//! lease runs out, and [`run`] sends it. A request not delivered within
//! [`MAX_AGE`] is given up (`failed`) rather than sent long after it was asked
//! for. Sending twice (a provider that received the call but whose answer was
//! lost) is possible; losing a request is not.

use std::sync::Arc;
use std::time::Duration;

use crate::ledger::{self, DeliveryOutcome, PendingDelivery};
use crate::provider::{Delivery, ProviderError};
use crate::store::{Record, Status};
use crate::time::now_ms;
use crate::AppState;

/// Attempts per delivery, the requester's first one included.
pub const MAX_ATTEMPTS: i64 = 5;

/// How long a requested delivery may wait before it is given up.
pub const MAX_AGE: Duration = Duration::from_secs(24 * 3600);

/// The lease a sender holds on a delivery while it calls the provider.
pub fn lease_ms(state: &AppState) -> i64 {
    state.config.provider_timeout.as_millis() as i64 + 10_000
}

/// One call to the seller's provider, bounded by the provider timeout, and what
/// to record for it after `attempts` attempts (this one included).
pub async fn attempt(state: &AppState, seller: &crate::sellers::Entry, d: &Delivery, attempts: i64) -> DeliveryOutcome {
    let answer = match tokio::time::timeout(state.config.provider_timeout, seller.provider.deliver(d)).await {
        Ok(a) => a,
        Err(_) => Err(ProviderError::Unavailable("deliver: timeout".into())),
    };
    match answer {
        Ok(()) => DeliveryOutcome::Sent,
        Err(ProviderError::Rejected(i)) => DeliveryOutcome::Failed(format!("{}: {}", i.code, i.message)),
        Err(ProviderError::Duplicate) => DeliveryOutcome::Failed("duplicate".into()),
        Err(ProviderError::Unavailable(e)) if attempts >= MAX_ATTEMPTS => {
            DeliveryOutcome::Failed(format!("{e} (after {attempts} attempts)"))
        }
        Err(ProviderError::Unavailable(e)) => {
            let delay = crate::queues::webhooks::retry_delay(
                attempts,
                state.config.hooks.delivery_retry_base,
                Duration::from_secs(600),
            );
            DeliveryOutcome::Retry(e, now_ms() + delay.as_millis() as i64)
        }
    }
}

/// The sender of requested deliveries; runs until aborted.
pub async fn run(state: Arc<AppState>) {
    let owner = state.config.instance_id.clone();
    loop {
        // One at a time: a claim's lease covers one provider call, so claiming
        // several and sending them in turn could let a lease run out mid-queue
        // and another instance send the same request again.
        let claimed = ledger::claim_deliveries(&state.store, &owner, lease_ms(&state), 1, MAX_AGE.as_millis() as i64)
            .await
            .unwrap_or_default();
        if let Some(p) = claimed.into_iter().next() {
            send_one(&state, &owner, p).await;
            continue;
        }
        let wait = match ledger::next_delivery_due(&state.store).await {
            Ok(Some(t)) if t > now_ms() => Duration::from_millis((t - now_ms()) as u64).min(Duration::from_secs(2)),
            Ok(Some(_)) => Duration::from_millis(50),
            _ => Duration::from_secs(2),
        };
        tokio::time::sleep(wait).await;
    }
}

async fn send_one(state: &AppState, owner: &str, p: PendingDelivery) {
    let order = match state.store.get(&p.order_id).await {
        Ok(Some(r)) => r,
        Ok(None) => return give_up(state, owner, &p, "the order is gone").await,
        Err(e) => return tracing::error!(error = %e, delivery = %p.delivery_id, "cannot load the order of a delivery"),
    };
    let number = match (&order.status, &order.invoice_number) {
        (Status::Issued, Some(n)) => n.clone(),
        _ => return give_up(state, owner, &p, "the invoice is no longer issued").await,
    };
    let attempts = match ledger::delivery_attempt_started(&state.store, &p.delivery_id, owner).await {
        Ok(n) => n,
        Err(e) => return tracing::error!(error = %e, delivery = %p.delivery_id, "cannot count a delivery attempt"),
    };
    let d = Delivery {
        order_id: crate::sellers::order_id_of(&p.order_id).to_owned(),
        invoice_number: number,
        email: (p.channel == "email").then(|| p.address.clone()),
        phone: (p.channel == "phone").then(|| p.address.clone()),
    };
    let Some(seller) = state.sellers.get().of_key(&p.order_id).cloned() else {
        // The seller is not listed now (a reload removed it): tried again later.
        let outcome = DeliveryOutcome::Retry("the seller is not configured".into(), now_ms() + 60_000);
        return record(state, owner, &p, Some(order), outcome).await;
    };
    let outcome = attempt(state, &seller, &d, attempts).await;
    match &outcome {
        DeliveryOutcome::Sent => {
            tracing::info!(order = %p.order_id, channel = %p.channel, attempts, "invoice delivered")
        }
        DeliveryOutcome::Failed(e) => {
            tracing::warn!(order = %p.order_id, channel = %p.channel, attempts, error = %e, "delivery failed")
        }
        DeliveryOutcome::Retry(e, _) => {
            tracing::warn!(order = %p.order_id, channel = %p.channel, attempts, error = %e, "delivery not confirmed; will retry")
        }
    }
    record(state, owner, &p, Some(order), outcome).await;
}

async fn give_up(state: &AppState, owner: &str, p: &PendingDelivery, why: &str) {
    tracing::warn!(order = %p.order_id, delivery = %p.delivery_id, reason = why, "delivery given up");
    record(state, owner, p, None, DeliveryOutcome::Failed(why.to_owned())).await;
}

async fn record(state: &AppState, owner: &str, p: &PendingDelivery, order: Option<Record>, outcome: DeliveryOutcome) {
    let order_id = p.order_id.clone();
    match ledger::delivery_attempted(&state.store, order, vec![p.delivery_id.clone()], owner, outcome).await {
        Ok(_) => {
            state.signals.webhooks.notify_one();
            state.events.updates.send(Arc::from(order_id.as_str())).ok();
        }
        Err(e) => tracing::error!(error = %e, order = %order_id, "cannot record a delivery attempt"),
    }
}
