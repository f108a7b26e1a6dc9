//! Re-delivery requests: recorded, claimed as a queue, their outcomes.

#[allow(unused_imports)]
use super::*;

/// One delivery request on one channel.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryRow {
    /// Id.
    pub delivery_id: String,
    /// `email` or `phone`.
    pub channel: String,
    /// The address (e-mail or mobile).
    pub address: String,
    /// `requested`, `sent`, `failed`.
    pub state: String,
    /// Why it failed.
    pub error: Option<String>,
    /// Epoch ms.
    pub created_at: i64,
    /// Epoch ms.
    pub updated_at: i64,
}

/// How many deliveries were requested for an order since `since_ms`.
pub async fn deliveries_since(store: &Store, order_id: &str, since_ms: i64) -> Result<i64, StoreError> {
    let id = order_id.to_owned();
    tx(store, move |c| {
        Box::pin(async move {
            c.query_one(
                "SELECT COUNT(DISTINCT created_at) FROM deliveries WHERE order_id = $1 AND created_at >= $2",
                &vals![id, since_ms],
            )
            .await?
            .int(0)
        })
    })
    .await
}

/// Records a delivery request (`requested`) per channel, claimed by `owner` for
/// `lease_ms` (the caller is about to call the provider: its first attempt);
/// returns the ids.
pub async fn delivery_requested(
    store: &Store,
    order_id: &str,
    channels: Vec<(String, String)>,
    owner: &str,
    lease_ms: i64,
) -> Result<Vec<String>, StoreError> {
    let (id, owner) = (order_id.to_owned(), owner.to_owned());
    tx(store, move |c| {
        Box::pin(async move {
            let now = now_ms();
            let mut ids = Vec::new();
            for (channel, address) in channels {
                let did = random_id("dlv");
                c.execute(
                    "INSERT INTO deliveries (delivery_id, order_id, channel, address, state, created_at, updated_at, attempts, next_attempt_at, lease_owner, lease_until)
                     VALUES ($1, $2, $3, $4, 'requested', $5, $5, 1, $5, $6, $7)",
                    &vals![&did, &id, channel, address, now, &owner, now + lease_ms],
                )
                .await?;
                ids.push(did);
            }
            Ok(ids)
        })
    })
    .await
}

/// What became of one attempt to deliver.
#[derive(Debug, Clone, PartialEq)]
pub enum DeliveryOutcome {
    /// The provider accepted it.
    Sent,
    /// Refused for good (or out of attempts): the reason.
    Failed(String),
    /// Unknown outcome (timeout, provider unavailable): try again at the time given.
    Retry(String, i64),
}

/// Records the outcome of an attempt on the delivery rows `ids` that `owner`
/// still holds (a row another instance took over, or already finished, is left
/// alone); when sent, writes the `invoice.delivered` event of `order` in the
/// same transaction. Returns the event id.
pub async fn delivery_attempted(
    store: &Store,
    order: Option<Record>,
    ids: Vec<String>,
    owner: &str,
    outcome: DeliveryOutcome,
) -> Result<Option<String>, StoreError> {
    let owner = owner.to_owned();
    tx(store, move |c| {
        Box::pin(async move {
            let now = now_ms();
            let (state, error, next) = match &outcome {
                DeliveryOutcome::Sent => ("sent", None, now),
                DeliveryOutcome::Failed(e) => ("failed", Some(e.clone()), now),
                DeliveryOutcome::Retry(e, at) => ("requested", Some(e.clone()), *at),
            };
            let mut channels = Vec::new();
            for id in &ids {
                let n = c
                    .execute(
                        "UPDATE deliveries SET state = $3, error = $4, updated_at = $5, next_attempt_at = $6, lease_owner = NULL, lease_until = 0
                         WHERE delivery_id = $1 AND lease_owner = $2 AND state = 'requested'",
                        &vals![id, &owner, state, error.clone(), now, next],
                    )
                    .await?;
                if n == 0 {
                    continue;
                }
                let row = c.query_one("SELECT channel, address FROM deliveries WHERE delivery_id = $1", &vals![id]).await?;
                channels.push(json!({ "channel": row.text(0)?, "address": row.text(1)? }));
            }
            let Some(order) = order.filter(|_| outcome == DeliveryOutcome::Sent && !channels.is_empty()) else { return Ok(None) };
            let extra = json!({ "delivery": channels });
            insert_event(c, &order.order_id, types::DELIVERED, event_data(&order, Some(&extra))).await
        })
    })
    .await
}

/// A delivery waiting to be (re)sent.
#[derive(Debug, Clone)]
pub struct PendingDelivery {
    /// Id.
    pub delivery_id: String,
    /// The order.
    pub order_id: String,
    /// `email` or `phone`.
    pub channel: String,
    /// The address.
    pub address: String,
}

/// Claims up to `limit` deliveries that are due and held by nobody (their
/// requester stopped mid-call, or an attempt is to be retried) for `lease_ms`.
/// Requests older than `max_age_ms` are given up first (`failed`): a re-delivery
/// long after it was asked for would surprise more than help.
pub async fn claim_deliveries(
    store: &Store,
    owner: &str,
    lease_ms: i64,
    limit: usize,
    max_age_ms: i64,
) -> Result<Vec<PendingDelivery>, StoreError> {
    let owner = owner.to_owned();
    tx(store, move |c| {
        Box::pin(async move {
            let now = now_ms();
            c.execute(
                "UPDATE deliveries SET state = 'failed', error = 'not delivered in time; ask again', updated_at = $1
                 WHERE state = 'requested' AND created_at < $2 AND lease_until <= $1",
                &vals![now, now - max_age_ms],
            )
            .await?;
            let sql = format!(
                "UPDATE deliveries SET lease_owner = $1, lease_until = $2 WHERE delivery_id IN (
                   SELECT delivery_id FROM deliveries WHERE state = 'requested' AND next_attempt_at <= $3 AND lease_until <= $3
                   ORDER BY next_attempt_at LIMIT $4{})
                 RETURNING delivery_id, order_id, channel, address",
                c.skip_locked()
            );
            let rows = c.query(&sql, &vals![owner, now + lease_ms, now, limit as i64]).await?;
            let mut out = rows
                .iter()
                .map(|r| Ok(PendingDelivery { delivery_id: r.text(0)?, order_id: r.text(1)?, channel: r.text(2)?, address: r.text(3)? }))
                .collect::<Result<Vec<_>, StoreError>>()?;
            out.sort_by(|a, b| a.delivery_id.cmp(&b.delivery_id));
            Ok(out)
        })
    })
    .await
}

/// Counts a claimed delivery's new attempt (before the provider is called, so a
/// stop during the call still counts it).
pub async fn delivery_attempt_started(store: &Store, delivery_id: &str, owner: &str) -> Result<i64, StoreError> {
    let (id, owner) = (delivery_id.to_owned(), owner.to_owned());
    tx(store, move |c| {
        Box::pin(async move {
            c.execute(
                "UPDATE deliveries SET attempts = attempts + 1 WHERE delivery_id = $1 AND lease_owner = $2",
                &vals![&id, &owner],
            )
            .await?;
            c.query_one("SELECT attempts FROM deliveries WHERE delivery_id = $1", &vals![&id])
                .await?
                .int(0)
        })
    })
    .await
}

/// The earliest time a requested delivery is due (for the sender's sleep).
pub async fn next_delivery_due(store: &Store) -> Result<Option<i64>, StoreError> {
    next_due(store, "deliveries", "requested").await
}

/// An order's deliveries (newest first) and 诺诺's notify statuses.
pub async fn deliveries_of(
    store: &Store,
    order_id: &str,
) -> Result<(Vec<DeliveryRow>, Option<(Option<String>, Option<String>)>), StoreError> {
    let id = order_id.to_owned();
    tx(store, move |c| {
        Box::pin(async move {
            let rows = c
                .query(
                    "SELECT delivery_id, channel, address, state, error, created_at, updated_at FROM deliveries WHERE order_id = $1 ORDER BY created_at DESC, channel LIMIT 20",
                    &vals![&id],
                )
                .await?
                .iter()
                .map(|r| {
                    Ok(DeliveryRow {
                        delivery_id: r.text(0)?,
                        channel: r.text(1)?,
                        address: r.text(2)?,
                        state: r.text(3)?,
                        error: r.opt_text(4)?,
                        created_at: r.int(5)?,
                        updated_at: r.int(6)?,
                    })
                })
                .collect::<Result<Vec<_>, StoreError>>()?;
            let notify = match c.query_opt("SELECT email_status, phone_status FROM provider_notify WHERE order_id = $1", &vals![&id]).await? {
                Some(r) => Some((r.opt_text(0)?, r.opt_text(1)?)),
                None => None,
            };
            Ok((rows, notify))
        })
    })
    .await
}
