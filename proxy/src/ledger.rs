//! Persistence of status sync, delivery, archive and reconciliation: the webhook
//! outbox, delivery records, the archive index and reconciliation findings.
//!
//! Kept apart from [`store`](crate::store) on purpose: these are new tables with
//! their own idempotent migration ([`migrate`]), and every function runs through
//! [`Store::call`], i.e. inside the store's transaction. The SQL is written to be
//! portable to PostgreSQL: times are `BIGINT` epoch milliseconds, text is `TEXT`,
//! there are no blobs (archived file bodies live on disk, content-addressed; see
//! [`archive`](crate::archive)), no SQLite-only functions, `INSERT … ON CONFLICT`
//! for upserts, and queue rows are claimed through an explicit lease column
//! (`lease_owner`, `lease_until`) rather than by relying on the single database
//! thread — a PostgreSQL twin adds `FOR UPDATE SKIP LOCKED` to the claim selects.
//!
//! The one place that writes an order row here is [`save_with_event`] (and
//! [`mark_reversed_with_event`]): the status change and its outbox event are one
//! transaction, so an event is never lost when the proxy stops right after.

use rusqlite::{params, Connection, OptionalExtension};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::store::{Record, Status, Store, StoreError};
use crate::time::{cst_rfc3339, now_ms};

/// The ledger's tables (idempotent; run at every start).
pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS webhook_events (
  event_id TEXT PRIMARY KEY,
  order_id TEXT NOT NULL,
  seq BIGINT NOT NULL,
  type TEXT NOT NULL,
  body TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  state TEXT NOT NULL,
  attempts BIGINT NOT NULL DEFAULT 0,
  next_attempt_at BIGINT NOT NULL,
  lease_owner TEXT,
  lease_until BIGINT NOT NULL DEFAULT 0,
  last_status BIGINT,
  last_error TEXT,
  last_attempt_at BIGINT,
  delivered_at BIGINT,
  UNIQUE (order_id, seq)
);
CREATE INDEX IF NOT EXISTS webhook_events_due ON webhook_events (state, next_attempt_at);
CREATE INDEX IF NOT EXISTS webhook_events_created ON webhook_events (created_at);
CREATE TABLE IF NOT EXISTS deliveries (
  delivery_id TEXT PRIMARY KEY,
  order_id TEXT NOT NULL,
  channel TEXT NOT NULL,
  address TEXT NOT NULL,
  state TEXT NOT NULL,
  error TEXT,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS deliveries_order ON deliveries (order_id, created_at);
CREATE TABLE IF NOT EXISTS provider_notify (
  order_id TEXT PRIMARY KEY,
  email_status TEXT,
  phone_status TEXT,
  updated_at BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS archive_files (
  order_id TEXT NOT NULL,
  kind TEXT NOT NULL,
  source_url TEXT NOT NULL,
  state TEXT NOT NULL,
  sha256 TEXT,
  size BIGINT,
  content_type TEXT,
  fetched_at BIGINT,
  attempts BIGINT NOT NULL DEFAULT 0,
  next_attempt_at BIGINT NOT NULL,
  lease_owner TEXT,
  lease_until BIGINT NOT NULL DEFAULT 0,
  last_error TEXT,
  created_at BIGINT NOT NULL,
  PRIMARY KEY (order_id, kind)
);
CREATE INDEX IF NOT EXISTS archive_files_due ON archive_files (state, next_attempt_at);
CREATE TABLE IF NOT EXISTS reconcile_findings (
  finding_id TEXT PRIMARY KEY,
  kind TEXT NOT NULL,
  order_id TEXT,
  invoice_number TEXT,
  detail TEXT NOT NULL,
  first_seen_at BIGINT NOT NULL,
  last_seen_at BIGINT NOT NULL,
  resolved_at BIGINT
);
";

/// Creates the ledger's tables if they are missing.
pub async fn migrate(store: &Store) -> Result<(), StoreError> {
    store.call(|c| c.execute_batch(SCHEMA)).await
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn random_id(prefix: &str) -> String {
    format!("{prefix}_{}", &crate::config::random_key()[..24])
}

/// Event types.
pub mod types {
    /// The order was stored (always seq 1).
    pub const ACCEPTED: &str = "order.accepted";
    /// A blue invoice was issued.
    pub const ISSUED: &str = "invoice.issued";
    /// A red-letter invoice was issued.
    pub const RED_ISSUED: &str = "invoice.red_issued";
    /// The order failed for good.
    pub const FAILED: &str = "invoice.failed";
    /// The blue invoice was reversed in full by a red one.
    pub const REVERSED: &str = "invoice.reversed";
    /// The invoice was (re-)delivered by e-mail and/or SMS.
    pub const DELIVERED: &str = "invoice.delivered";
}

/// The `data` object of an event: the order as the merchant needs it.
pub fn event_data(r: &Record, extra: Option<&Value>) -> Value {
    let req: Value = serde_json::from_str(&r.request).unwrap_or(Value::Null);
    let base = format!("/v1/invoices/{}", r.order_id);
    let mut links = json!({ "self": base });
    for (k, v) in [("pdf", &r.pdf_url), ("ofd", &r.ofd_url), ("xml", &r.xml_url)] {
        if let Some(v) = v {
            links[k] = json!(v);
            links["archived"][k] = json!(format!("{base}/files/{k}"));
        }
    }
    let mut d = json!({
        "status": r.status,
        "kind": r.kind,
        "invoiceNumber": r.invoice_number,
        "issuedAt": r.issued_at.map(cst_rfc3339),
        "totals": req.get("totals").cloned().unwrap_or(Value::Null),
        "links": links,
    });
    if let Some(b) = &r.blue_order_id {
        d["blueOrderId"] = json!(b);
    }
    if let Some(code) = &r.error_code {
        d["error"] = json!({ "code": code, "message": r.error_message, "messageEn": r.error_message_en });
    }
    if let Some(Value::Object(m)) = extra {
        for (k, v) in m {
            d[k] = v.clone();
        }
    }
    d
}

/// Writes one event for `order_id` (inside the caller's transaction). The
/// `order.accepted` event has a deterministic id and is written at most once;
/// any other event first makes sure the order's `order.accepted` exists, so the
/// sequence of every order starts with it. Returns the event id, or `None` when
/// an accepted event existed already.
pub fn insert_event(c: &Connection, order_id: &str, kind: &str, data: Value) -> rusqlite::Result<Option<String>> {
    let now = now_ms();
    let accepted_id = format!("evt_{}", &hex(&Sha256::digest(format!("{order_id}\u{0}{}", types::ACCEPTED).as_bytes()))[..24]);
    let has_accepted: bool = c
        .query_row("SELECT COUNT(*) FROM webhook_events WHERE event_id = ?1", [&accepted_id], |r| r.get::<_, i64>(0))?
        > 0;
    if kind == types::ACCEPTED && has_accepted {
        return Ok(None);
    }
    if kind != types::ACCEPTED && !has_accepted {
        let accepted_data = json!({ "status": "pending" });
        insert_raw(c, &accepted_id, order_id, types::ACCEPTED, accepted_data, now)?;
    }
    let id = if kind == types::ACCEPTED { accepted_id } else { random_id("evt") };
    insert_raw(c, &id, order_id, kind, data, now)?;
    Ok(Some(id))
}

fn insert_raw(c: &Connection, id: &str, order_id: &str, kind: &str, data: Value, now: i64) -> rusqlite::Result<()> {
    let seq: i64 = c.query_row("SELECT COALESCE(MAX(seq), 0) + 1 FROM webhook_events WHERE order_id = ?1", [order_id], |r| r.get(0))?;
    let body = json!({ "id": id, "type": kind, "orderId": order_id, "createdAt": cst_rfc3339(now), "seq": seq, "data": data }).to_string();
    c.execute(
        "INSERT INTO webhook_events (event_id, order_id, seq, type, body, created_at, state, next_attempt_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'pending', ?6)",
        params![id, order_id, seq, kind, body, now],
    )?;
    Ok(())
}

/// Extra facts written with an issued order.
#[derive(Debug, Clone, Default)]
pub struct IssuedExtras {
    /// 诺诺 `emailNotifyStatus`.
    pub email_notify_status: Option<String>,
    /// 诺诺 `phoneNotifyStatus`.
    pub phone_notify_status: Option<String>,
    /// Files to archive: (kind, source URL or `provider:` for [`Provider::document`](crate::provider::Provider::document)).
    pub files: Vec<(String, String)>,
}

/// The files of an issued record to archive: the provider's links, and for a
/// provider that serves its own documents (the sandbox) `provider:` sources.
pub fn files_of(r: &Record) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (k, v) in [("pdf", &r.pdf_url), ("ofd", &r.ofd_url), ("xml", &r.xml_url)] {
        if let Some(u) = v.as_deref().filter(|u| !u.is_empty()) {
            let src = if u.starts_with('/') { format!("provider:{k}") } else { u.to_owned() };
            out.push((k.to_owned(), src));
        }
    }
    out
}

const UPDATE_ORDER: &str = "UPDATE orders SET status = ?2, attempts = ?3, submitted = ?4, next_attempt_at = ?5, provider_ref = ?6,
   invoice_number = ?7, issued_at = ?8, pdf_url = ?9, ofd_url = ?10, xml_url = ?11, error_code = ?12,
   error_message = ?13, error_message_en = ?14, updated_at = ?15 WHERE order_id = ?1";

/// Saves the worker-owned fields of an order (as [`Store::save`]) and, when the
/// status changes to `event`'s status, writes the event (and, for an issued
/// order, the archive queue rows and 诺诺's notify statuses) in the same
/// transaction. Returns the event id when one was written.
pub async fn save_with_event(store: &Store, r: Record, event: Option<&'static str>, extras: IssuedExtras) -> Result<Option<String>, StoreError> {
    store
        .call(move |c| {
            let before: Option<String> = c.query_row("SELECT status FROM orders WHERE order_id = ?1", [&r.order_id], |x| x.get(0)).optional()?;
            c.execute(
                UPDATE_ORDER,
                params![
                    r.order_id,
                    r.status.as_str(),
                    r.attempts,
                    r.submitted as i64,
                    r.next_attempt_at,
                    r.provider_ref,
                    r.invoice_number,
                    r.issued_at,
                    r.pdf_url,
                    r.ofd_url,
                    r.xml_url,
                    r.error_code,
                    r.error_message,
                    r.error_message_en,
                    now_ms(),
                ],
            )?;
            let changed = before.as_deref() != Some(r.status.as_str());
            let Some(kind) = event.filter(|_| changed) else { return Ok(None) };
            if r.status == Status::Issued {
                let now = now_ms();
                for (k, src) in &extras.files {
                    c.execute(
                        "INSERT INTO archive_files (order_id, kind, source_url, state, next_attempt_at, created_at)
                         VALUES (?1, ?2, ?3, 'pending', ?4, ?4) ON CONFLICT (order_id, kind) DO NOTHING",
                        params![r.order_id, k, src, now],
                    )?;
                }
                if extras.email_notify_status.is_some() || extras.phone_notify_status.is_some() {
                    set_notify(c, &r.order_id, extras.email_notify_status.as_deref(), extras.phone_notify_status.as_deref())?;
                }
            }
            insert_event(c, &r.order_id, kind, event_data(&r, None))
        })
        .await
}

fn set_notify(c: &Connection, order_id: &str, email: Option<&str>, phone: Option<&str>) -> rusqlite::Result<()> {
    c.execute(
        "INSERT INTO provider_notify (order_id, email_status, phone_status, updated_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (order_id) DO UPDATE SET email_status = COALESCE(excluded.email_status, provider_notify.email_status),
           phone_status = COALESCE(excluded.phone_status, provider_notify.phone_status), updated_at = excluded.updated_at",
        params![order_id, email, phone, now_ms()],
    )?;
    Ok(())
}

/// Records 诺诺's notify statuses of an order (from a later result query).
pub async fn record_notify(store: &Store, order_id: &str, email: Option<String>, phone: Option<String>) -> Result<(), StoreError> {
    let id = order_id.to_owned();
    store.call(move |c| set_notify(c, &id, email.as_deref(), phone.as_deref())).await
}

/// Marks a blue order reversed (as [`Store::mark_reversed`]) and writes its
/// `invoice.reversed` event in the same transaction. Returns the event id.
pub async fn mark_reversed_with_event(store: &Store, order_id: &str, red_order_id: &str) -> Result<Option<String>, StoreError> {
    let (id, red) = (order_id.to_owned(), red_order_id.to_owned());
    store
        .call(move |c| {
            let n = c.execute("UPDATE orders SET status = 'reversed', updated_at = ?2 WHERE order_id = ?1 AND status = 'issued'", params![id, now_ms()])?;
            if n == 0 {
                return Ok(None);
            }
            let (number, request): (Option<String>, String) =
                c.query_row("SELECT invoice_number, request FROM orders WHERE order_id = ?1", [&id], |r| Ok((r.get(0)?, r.get(1)?)))?;
            let totals = serde_json::from_str::<Value>(&request).ok().and_then(|v| v.get("totals").cloned()).unwrap_or(Value::Null);
            let data = json!({ "status": "reversed", "kind": "blue", "invoiceNumber": number, "totals": totals, "redOrderId": red });
            insert_event(c, &id, types::REVERSED, data)
        })
        .await
}

/// Writes `order.accepted` for a new order (idempotent).
pub async fn emit_accepted(store: &Store, r: &Record) -> Result<Option<String>, StoreError> {
    let (id, data) = (r.order_id.clone(), event_data(r, None));
    store.call(move |c| insert_event(c, &id, types::ACCEPTED, data)).await
}

/// After a start: writes the missing `order.accepted` of orders of the last
/// `window_ms` that have no event at all (a stop between storing an order and
/// writing its event). Returns how many were written.
pub async fn sweep_accepted(store: &Store, window_ms: i64) -> Result<usize, StoreError> {
    store
        .call(move |c| {
            let mut s = c.prepare(
                "SELECT o.order_id, o.kind, o.blue_order_id, o.request, o.status FROM orders o
                 WHERE o.created_at >= ?1 AND NOT EXISTS (SELECT 1 FROM webhook_events e WHERE e.order_id = o.order_id)",
            )?;
            let rows: Vec<(String, String, Option<String>, String)> =
                s.query_map([now_ms() - window_ms], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?.collect::<rusqlite::Result<_>>()?;
            let mut n = 0;
            for (id, kind, blue, request) in rows {
                let totals = serde_json::from_str::<Value>(&request).ok().and_then(|v| v.get("totals").cloned()).unwrap_or(Value::Null);
                let mut data = json!({ "status": "pending", "kind": kind, "totals": totals });
                if let Some(b) = blue {
                    data["blueOrderId"] = json!(b);
                }
                if insert_event(c, &id, types::ACCEPTED, data)?.is_some() {
                    n += 1;
                }
            }
            Ok(n)
        })
        .await
}

/// One outbox row.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OutboxEvent {
    /// Event id.
    pub event_id: String,
    /// Order id.
    pub order_id: String,
    /// Per-order sequence, from 1.
    pub seq: i64,
    /// Event type.
    #[serde(rename = "type")]
    pub kind: String,
    /// The JSON body as sent.
    pub body: String,
    /// Creation time (epoch ms).
    pub created_at: i64,
    /// `pending` or `delivered`.
    pub state: String,
    /// Delivery attempts so far.
    pub attempts: i64,
    /// HTTP status of the last attempt (0: no answer).
    pub last_status: Option<i64>,
    /// What went wrong last.
    pub last_error: Option<String>,
    /// When a 2xx acknowledged it (epoch ms).
    pub delivered_at: Option<i64>,
}

const EVENT_COLUMNS: &str = "event_id, order_id, seq, type, body, created_at, state, attempts, last_status, last_error, delivered_at";

fn outbox_event(r: &rusqlite::Row) -> rusqlite::Result<OutboxEvent> {
    Ok(OutboxEvent {
        event_id: r.get(0)?,
        order_id: r.get(1)?,
        seq: r.get(2)?,
        kind: r.get(3)?,
        body: r.get(4)?,
        created_at: r.get(5)?,
        state: r.get(6)?,
        attempts: r.get(7)?,
        last_status: r.get(8)?,
        last_error: r.get(9)?,
        delivered_at: r.get(10)?,
    })
}

/// Claims up to `limit` due events for `owner` until `now + lease_ms`: only the
/// oldest undelivered event of each order (so event n+1 is never sent before n
/// is acknowledged, and one order's events never travel concurrently), never one
/// under another live lease. PostgreSQL twin: the same select with
/// `FOR UPDATE SKIP LOCKED`, then the same conditional update.
pub async fn claim_webhooks(store: &Store, owner: &str, lease_ms: i64, limit: usize) -> Result<Vec<OutboxEvent>, StoreError> {
    let owner = owner.to_owned();
    store
        .call(move |c| {
            let now = now_ms();
            let mut s = c.prepare_cached(&format!(
                "SELECT {EVENT_COLUMNS} FROM webhook_events e
                 WHERE e.state = 'pending' AND e.next_attempt_at <= ?1 AND e.lease_until <= ?1
                   AND NOT EXISTS (SELECT 1 FROM webhook_events p WHERE p.order_id = e.order_id AND p.state = 'pending' AND p.seq < e.seq)
                 ORDER BY e.next_attempt_at, e.created_at LIMIT ?2"
            ))?;
            let rows: Vec<OutboxEvent> = s.query_map(params![now, limit as i64], outbox_event)?.collect::<rusqlite::Result<_>>()?;
            let mut out = Vec::with_capacity(rows.len());
            for e in rows {
                let n = c.execute(
                    "UPDATE webhook_events SET lease_owner = ?2, lease_until = ?3 WHERE event_id = ?1 AND state = 'pending' AND lease_until <= ?4",
                    params![e.event_id, owner, now + lease_ms, now],
                )?;
                if n == 1 {
                    out.push(e);
                }
            }
            Ok(out)
        })
        .await
}

/// The earliest time a pending event is due (for the dispatcher's sleep).
pub async fn next_webhook_due(store: &Store) -> Result<Option<i64>, StoreError> {
    store
        .call(|c| c.query_row("SELECT MIN(CASE WHEN lease_until > next_attempt_at THEN lease_until ELSE next_attempt_at END) FROM webhook_events WHERE state = 'pending'", [], |r| r.get(0)))
        .await
}

/// Records one delivery attempt: acknowledged (`next_attempt_at` = `None`) or to
/// be retried at `next_attempt_at`. Only the lease holder's answer counts.
pub async fn webhook_attempted(store: &Store, event_id: &str, owner: &str, status: u16, error: Option<String>, next_attempt_at: Option<i64>) -> Result<(), StoreError> {
    let (id, owner) = (event_id.to_owned(), owner.to_owned());
    store
        .call(move |c| {
            let now = now_ms();
            match next_attempt_at {
                None => c.execute(
                    "UPDATE webhook_events SET state = 'delivered', attempts = attempts + 1, last_status = ?3, last_error = NULL, last_attempt_at = ?4,
                       delivered_at = ?4, lease_owner = NULL, lease_until = 0 WHERE event_id = ?1 AND lease_owner = ?2",
                    params![id, owner, status as i64, now],
                )?,
                Some(next) => c.execute(
                    "UPDATE webhook_events SET attempts = attempts + 1, last_status = ?3, last_error = ?4, last_attempt_at = ?5,
                       next_attempt_at = ?6, lease_owner = NULL, lease_until = 0 WHERE event_id = ?1 AND lease_owner = ?2",
                    params![id, owner, status as i64, error, now, next],
                )?,
            };
            Ok(())
        })
        .await
}

/// Marks the events created in `[from_ms, to_ms)` (optionally of one order) for
/// sending again, with their ids and bodies unchanged. Returns how many.
pub async fn replay(store: &Store, from_ms: i64, to_ms: i64, order_id: Option<String>) -> Result<usize, StoreError> {
    store
        .call(move |c| {
            c.execute(
                "UPDATE webhook_events SET state = 'pending', next_attempt_at = ?3, lease_owner = NULL, lease_until = 0
                 WHERE created_at >= ?1 AND created_at < ?2 AND (?4 IS NULL OR order_id = ?4)",
                params![from_ms, to_ms, now_ms(), order_id],
            )
        })
        .await
}

/// The events of an order, in sequence (or, without an order, the latest `limit`).
pub async fn events(store: &Store, order_id: Option<String>, limit: usize) -> Result<Vec<OutboxEvent>, StoreError> {
    store
        .call(move |c| {
            let rows = match order_id {
                Some(id) => {
                    let mut s = c.prepare(&format!("SELECT {EVENT_COLUMNS} FROM webhook_events WHERE order_id = ?1 ORDER BY seq LIMIT ?2"))?;
                    let v = s.query_map(params![id, limit as i64], outbox_event)?.collect::<rusqlite::Result<Vec<_>>>()?;
                    v
                }
                None => {
                    let mut s = c.prepare(&format!("SELECT {EVENT_COLUMNS} FROM webhook_events ORDER BY created_at DESC, seq DESC LIMIT ?1"))?;
                    let v = s.query_map(params![limit as i64], outbox_event)?.collect::<rusqlite::Result<Vec<_>>>()?;
                    v
                }
            };
            Ok(rows)
        })
        .await
}

/// Outbox counts by state (for `/v1/admin/webhooks`).
pub async fn outbox_counts(store: &Store) -> Result<Vec<(String, i64)>, StoreError> {
    store
        .call(|c| {
            let mut s = c.prepare("SELECT state, COUNT(*) FROM webhook_events GROUP BY state")?;
            let v = s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect();
            v
        })
        .await
}

// ---- deliveries ----

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
    store
        .call(move |c| c.query_row("SELECT COUNT(DISTINCT created_at) FROM deliveries WHERE order_id = ?1 AND created_at >= ?2", params![id, since_ms], |r| r.get(0)))
        .await
}

/// Records a delivery request (`requested`) per channel; returns the ids.
pub async fn delivery_requested(store: &Store, order_id: &str, channels: Vec<(String, String)>) -> Result<Vec<String>, StoreError> {
    let id = order_id.to_owned();
    store
        .call(move |c| {
            let now = now_ms();
            let mut ids = Vec::new();
            for (channel, address) in channels {
                let did = random_id("dlv");
                c.execute(
                    "INSERT INTO deliveries (delivery_id, order_id, channel, address, state, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, 'requested', ?5, ?5)",
                    params![did, id, channel, address, now],
                )?;
                ids.push(did);
            }
            Ok(ids)
        })
        .await
}

/// Records a delivery's outcome; on success writes the `invoice.delivered` event
/// in the same transaction. Returns the event id.
pub async fn delivery_finished(store: &Store, order: Record, ids: Vec<String>, error: Option<String>) -> Result<Option<String>, StoreError> {
    store
        .call(move |c| {
            let now = now_ms();
            let state = if error.is_none() { "sent" } else { "failed" };
            let mut channels = Vec::new();
            for id in &ids {
                c.execute("UPDATE deliveries SET state = ?2, error = ?3, updated_at = ?4 WHERE delivery_id = ?1", params![id, state, error, now])?;
                let (ch, addr): (String, String) = c.query_row("SELECT channel, address FROM deliveries WHERE delivery_id = ?1", [id], |r| Ok((r.get(0)?, r.get(1)?)))?;
                channels.push(json!({ "channel": ch, "address": addr }));
            }
            if error.is_some() {
                return Ok(None);
            }
            let extra = json!({ "delivery": channels });
            insert_event(c, &order.order_id, types::DELIVERED, event_data(&order, Some(&extra)))
        })
        .await
}

/// An order's deliveries (newest first) and 诺诺's notify statuses.
pub async fn deliveries_of(store: &Store, order_id: &str) -> Result<(Vec<DeliveryRow>, Option<(Option<String>, Option<String>)>), StoreError> {
    let id = order_id.to_owned();
    store
        .call(move |c| {
            let mut s = c.prepare_cached(
                "SELECT delivery_id, channel, address, state, error, created_at, updated_at FROM deliveries WHERE order_id = ?1 ORDER BY created_at DESC, channel LIMIT 20",
            )?;
            let rows = s
                .query_map([&id], |r| {
                    Ok(DeliveryRow { delivery_id: r.get(0)?, channel: r.get(1)?, address: r.get(2)?, state: r.get(3)?, error: r.get(4)?, created_at: r.get(5)?, updated_at: r.get(6)? })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let notify = c
                .query_row("SELECT email_status, phone_status FROM provider_notify WHERE order_id = ?1", [&id], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            Ok((rows, notify))
        })
        .await
}

// ---- archive ----

/// One archive index row.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ArchiveRow {
    /// Order id.
    pub order_id: String,
    /// `pdf`, `ofd`, `xml`.
    pub kind: String,
    /// Where it comes from (`provider:xml` for the provider's own documents).
    pub source_url: String,
    /// `pending`, `stored`, `refused`.
    pub state: String,
    /// Hex SHA-256 of the stored bytes.
    pub sha256: Option<String>,
    /// Size in bytes.
    pub size: Option<i64>,
    /// MIME type.
    pub content_type: Option<String>,
    /// When it was stored (epoch ms).
    pub fetched_at: Option<i64>,
    /// Fetch attempts.
    pub attempts: i64,
    /// Why the last attempt failed or why it was refused.
    pub last_error: Option<String>,
}

const ARCHIVE_COLUMNS: &str = "order_id, kind, source_url, state, sha256, size, content_type, fetched_at, attempts, last_error";

fn archive_row(r: &rusqlite::Row) -> rusqlite::Result<ArchiveRow> {
    Ok(ArchiveRow {
        order_id: r.get(0)?,
        kind: r.get(1)?,
        source_url: r.get(2)?,
        state: r.get(3)?,
        sha256: r.get(4)?,
        size: r.get(5)?,
        content_type: r.get(6)?,
        fetched_at: r.get(7)?,
        attempts: r.get(8)?,
        last_error: r.get(9)?,
    })
}

/// Queues files of an order for archiving (those already queued are kept).
pub async fn queue_files(store: &Store, order_id: &str, files: Vec<(String, String)>) -> Result<(), StoreError> {
    let id = order_id.to_owned();
    store
        .call(move |c| {
            let now = now_ms();
            for (k, src) in files {
                c.execute(
                    "INSERT INTO archive_files (order_id, kind, source_url, state, next_attempt_at, created_at)
                     VALUES (?1, ?2, ?3, 'pending', ?4, ?4) ON CONFLICT (order_id, kind) DO NOTHING",
                    params![id, k, src, now],
                )?;
            }
            Ok(())
        })
        .await
}

/// Claims up to `limit` due archive rows (lease as for webhooks).
pub async fn claim_archive(store: &Store, owner: &str, lease_ms: i64, limit: usize) -> Result<Vec<ArchiveRow>, StoreError> {
    let owner = owner.to_owned();
    store
        .call(move |c| {
            let now = now_ms();
            let mut s = c.prepare_cached(&format!(
                "SELECT {ARCHIVE_COLUMNS} FROM archive_files WHERE state = 'pending' AND next_attempt_at <= ?1 AND lease_until <= ?1 ORDER BY next_attempt_at LIMIT ?2"
            ))?;
            let rows: Vec<ArchiveRow> = s.query_map(params![now, limit as i64], archive_row)?.collect::<rusqlite::Result<_>>()?;
            let mut out = Vec::new();
            for a in rows {
                let n = c.execute(
                    "UPDATE archive_files SET lease_owner = ?3, lease_until = ?4 WHERE order_id = ?1 AND kind = ?2 AND state = 'pending' AND lease_until <= ?5",
                    params![a.order_id, a.kind, owner, now + lease_ms, now],
                )?;
                if n == 1 {
                    out.push(a);
                }
            }
            Ok(out)
        })
        .await
}

/// The earliest time a pending archive row is due.
pub async fn next_archive_due(store: &Store) -> Result<Option<i64>, StoreError> {
    store
        .call(|c| c.query_row("SELECT MIN(CASE WHEN lease_until > next_attempt_at THEN lease_until ELSE next_attempt_at END) FROM archive_files WHERE state = 'pending'", [], |r| r.get(0)))
        .await
}

/// What became of one fetch.
#[derive(Debug, Clone)]
pub enum ArchiveOutcome {
    /// Stored on disk under its SHA-256.
    Stored {
        /// Hex SHA-256.
        sha256: String,
        /// Bytes.
        size: i64,
        /// MIME type.
        content_type: String,
    },
    /// Never to be fetched (host not allowed, redirect elsewhere, too large).
    Refused(String),
    /// Try again at the given time.
    Retry(String, i64),
}

/// Records the outcome of a fetch by the lease holder.
pub async fn archive_attempted(store: &Store, order_id: &str, kind: &str, owner: &str, outcome: ArchiveOutcome) -> Result<(), StoreError> {
    let (id, kind, owner) = (order_id.to_owned(), kind.to_owned(), owner.to_owned());
    store
        .call(move |c| {
            let now = now_ms();
            match outcome {
                ArchiveOutcome::Stored { sha256, size, content_type } => c.execute(
                    "UPDATE archive_files SET state = 'stored', sha256 = ?4, size = ?5, content_type = ?6, fetched_at = ?7, attempts = attempts + 1,
                       last_error = NULL, lease_owner = NULL, lease_until = 0 WHERE order_id = ?1 AND kind = ?2 AND lease_owner = ?3",
                    params![id, kind, owner, sha256, size, content_type, now],
                )?,
                ArchiveOutcome::Refused(why) => c.execute(
                    "UPDATE archive_files SET state = 'refused', attempts = attempts + 1, last_error = ?4, lease_owner = NULL, lease_until = 0
                     WHERE order_id = ?1 AND kind = ?2 AND lease_owner = ?3",
                    params![id, kind, owner, why],
                )?,
                ArchiveOutcome::Retry(why, next) => c.execute(
                    "UPDATE archive_files SET attempts = attempts + 1, last_error = ?4, next_attempt_at = ?5, lease_owner = NULL, lease_until = 0
                     WHERE order_id = ?1 AND kind = ?2 AND lease_owner = ?3",
                    params![id, kind, owner, why, next],
                )?,
            };
            Ok(())
        })
        .await
}

/// An order's archive rows.
pub async fn archive_of(store: &Store, order_id: &str) -> Result<Vec<ArchiveRow>, StoreError> {
    let id = order_id.to_owned();
    store
        .call(move |c| {
            let mut s = c.prepare_cached(&format!("SELECT {ARCHIVE_COLUMNS} FROM archive_files WHERE order_id = ?1 ORDER BY kind"))?;
            let v = s.query_map([&id], archive_row)?.collect();
            v
        })
        .await
}

/// Files not (yet) stored: pending or refused.
pub async fn archive_missing(store: &Store, limit: usize) -> Result<Vec<ArchiveRow>, StoreError> {
    store
        .call(move |c| {
            let mut s = c.prepare(&format!("SELECT {ARCHIVE_COLUMNS} FROM archive_files WHERE state <> 'stored' ORDER BY created_at LIMIT ?1"))?;
            let v = s.query_map([limit as i64], archive_row)?.collect();
            v
        })
        .await
}

/// One row of an archive export: an issued order in the range and one of its files.
#[derive(Debug, Clone)]
pub struct ExportRow {
    /// Order id.
    pub order_id: String,
    /// Invoice number.
    pub invoice_number: Option<String>,
    /// Issue time (epoch ms).
    pub issued_at: Option<i64>,
    /// The canonical request (buyer, totals).
    pub request: String,
    /// The file's row.
    pub file: ArchiveRow,
}

/// Archive rows of the orders issued in `[from_ms, to_ms)`, by issue time.
pub async fn export_rows(store: &Store, from_ms: i64, to_ms: i64) -> Result<Vec<ExportRow>, StoreError> {
    store
        .call(move |c| {
            let cols: Vec<String> = ARCHIVE_COLUMNS.split(", ").map(|k| format!("a.{k}")).collect();
            let mut s = c.prepare(&format!(
                "SELECT o.order_id, o.invoice_number, o.issued_at, o.request, {} FROM orders o JOIN archive_files a ON a.order_id = o.order_id
                 WHERE o.issued_at >= ?1 AND o.issued_at < ?2 ORDER BY o.issued_at, o.order_id, a.kind",
                cols.join(", ")
            ))?;
            let v = s
                .query_map(params![from_ms, to_ms], |r| {
                    Ok(ExportRow {
                        order_id: r.get(0)?,
                        invoice_number: r.get(1)?,
                        issued_at: r.get(2)?,
                        request: r.get(3)?,
                        file: ArchiveRow {
                            order_id: r.get(4)?,
                            kind: r.get(5)?,
                            source_url: r.get(6)?,
                            state: r.get(7)?,
                            sha256: r.get(8)?,
                            size: r.get(9)?,
                            content_type: r.get(10)?,
                            fetched_at: r.get(11)?,
                            attempts: r.get(12)?,
                            last_error: r.get(13)?,
                        },
                    })
                })?
                .collect();
            v
        })
        .await
}

// ---- reconciliation ----

/// Order ids created or issued in `[from_ms, to_ms)`.
pub async fn orders_in_range(store: &Store, from_ms: i64, to_ms: i64) -> Result<Vec<String>, StoreError> {
    store
        .call(move |c| {
            let mut s = c.prepare(
                "SELECT order_id FROM orders WHERE (created_at >= ?1 AND created_at < ?2) OR (issued_at >= ?1 AND issued_at < ?2) ORDER BY created_at",
            )?;
            let v = s.query_map(params![from_ms, to_ms], |r| r.get(0))?.collect();
            v
        })
        .await
}

/// Records (or refreshes) a reconciliation finding; returns its id.
pub async fn upsert_finding(store: &Store, kind: &str, order_id: Option<String>, invoice_number: Option<String>, detail: Value) -> Result<String, StoreError> {
    let kind = kind.to_owned();
    store
        .call(move |c| {
            let now = now_ms();
            let key = format!("{kind}\u{0}{}\u{0}{}", order_id.as_deref().unwrap_or(""), invoice_number.as_deref().unwrap_or(""));
            let id = format!("fnd_{}", &hex(&Sha256::digest(key.as_bytes()))[..24]);
            c.execute(
                "INSERT INTO reconcile_findings (finding_id, kind, order_id, invoice_number, detail, first_seen_at, last_seen_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)
                 ON CONFLICT (finding_id) DO UPDATE SET detail = excluded.detail, last_seen_at = excluded.last_seen_at",
                params![id, kind, order_id, invoice_number, detail.to_string(), now],
            )?;
            Ok(id)
        })
        .await
}

/// Marks a finding resolved (a repair fixed it).
pub async fn resolve_finding(store: &Store, finding_id: &str) -> Result<(), StoreError> {
    let id = finding_id.to_owned();
    store.call(move |c| c.execute("UPDATE reconcile_findings SET resolved_at = ?2 WHERE finding_id = ?1", params![id, now_ms()]).map(|_| ())).await
}

/// Unresolved findings, newest first.
pub async fn open_findings(store: &Store) -> Result<Vec<Value>, StoreError> {
    store
        .call(|c| {
            let mut s = c.prepare(
                "SELECT finding_id, kind, order_id, invoice_number, detail, first_seen_at, last_seen_at FROM reconcile_findings WHERE resolved_at IS NULL ORDER BY last_seen_at DESC LIMIT 500",
            )?;
            let v = s
                .query_map([], |r| {
                    let detail: String = r.get(4)?;
                    Ok(json!({
                        "id": r.get::<_, String>(0)?, "kind": r.get::<_, String>(1)?, "orderId": r.get::<_, Option<String>>(2)?,
                        "invoiceNumber": r.get::<_, Option<String>>(3)?, "detail": serde_json::from_str::<Value>(&detail).unwrap_or(Value::Null),
                        "firstSeenAt": cst_rfc3339(r.get(5)?), "lastSeenAt": cst_rfc3339(r.get(6)?),
                    }))
                })?
                .collect();
            v
        })
        .await
}

// ---- dates ----

/// Days since 1970-01-01 of a civil date (H. Hinnant's days_from_civil).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The start (epoch ms) of a `YYYY-MM-DD` day in China Standard Time.
pub fn cst_day_start(date: &str) -> Option<i64> {
    let d = date.trim();
    let parts: Vec<&str> = d.split('-').collect();
    if parts.len() != 3 || parts[0].len() != 4 || parts[1].len() != 2 || parts[2].len() != 2 {
        return None;
    }
    let date = fapiao::clock::Date::new(parts[0].parse().ok()?, parts[1].parse().ok()?, parts[2].parse().ok()?)?;
    Some((days_from_civil(date.year as i64, date.month, date.day) * 86_400 - 8 * 3600) * 1000)
}

/// `[from, to]` as inclusive CST dates → `[from_ms, to_ms)`.
pub fn date_range(from: &str, to: &str) -> Result<(i64, i64), String> {
    let a = cst_day_start(from).ok_or_else(|| format!("“{from}” is not a date YYYY-MM-DD"))?;
    let b = cst_day_start(to).ok_or_else(|| format!("“{to}” is not a date YYYY-MM-DD"))? + 86_400_000;
    if b <= a {
        return Err("the range ends before it starts".into());
    }
    Ok((a, b))
}

#[cfg(test)]
mod tests {
    #[test]
    fn cst_days() {
        assert_eq!(super::cst_day_start("2024-01-15"), Some(1_705_248_000_000));
        assert_eq!(crate::time::cst_rfc3339(1_705_248_000_000), "2024-01-15T00:00:00+08:00");
        assert!(super::cst_day_start("2024-02-30").is_none());
        assert!(super::date_range("2024-01-02", "2024-01-01").is_err());
    }
}
