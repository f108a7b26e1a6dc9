//! Persistence of status sync, delivery, archive and reconciliation: the webhook
//! outbox, delivery records, the archive index and reconciliation findings.
//!
//! Every function here runs one [`Store::transaction`], the same code on SQLite
//! and on PostgreSQL: the statements are written once, in the `$1` style (SQLite
//! runs them as `?1`), with the portable subset both understand — `BIGINT` epoch
//! milliseconds, `TEXT`, `INSERT … ON CONFLICT`, `CAST($n AS TEXT)` for a typed
//! NULL test, no blobs (archived file bodies live on disk, content-addressed; see
//! [`archive`](crate::archive)). The tables are a numbered migration of both
//! backends ([`SCHEMA`]: SQLite's 3, PostgreSQL's 2; [`DELIVERY_QUEUE`]: SQLite's 4,
//! PostgreSQL's 3).
//!
//! Several instances on one PostgreSQL database:
//! - **Status change and event in one transaction**: [`save_with_event`] and
//!   [`mark_reversed_with_event`] write the order row (the store's own
//!   statements, with the worker's lease check) and its outbox event together,
//!   so an event is never lost when the proxy stops right after, and never
//!   written for a write that lost its lease.
//! - **Per-order sequence**: an event's `seq` is `MAX(seq) + 1` of its order,
//!   taken after locking the order row (`SELECT … FOR UPDATE`), so two instances
//!   never pick the same number.
//! - **Queues** (webhook events, archive files) are claimed with a lease
//!   (`lease_owner`, `lease_until`) by one `UPDATE … WHERE … IN (SELECT … FOR
//!   UPDATE SKIP LOCKED) RETURNING`; only the lease holder's outcome is recorded.
//!   A webhook event is claimable only while it is the oldest undelivered event
//!   of its order (the head-of-line `NOT EXISTS`), so an order's events are sent
//!   one after another, in order, whichever instance sends them.

use futures_util::future::BoxFuture;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::store::{save_params, Record, Row, Status, Store, StoreError, Tx, MARK_REVERSED, SAVE_ORDER};
use crate::time::{cst_rfc3339, now_ms};
use crate::vals;

/// The ledger's tables: a migration of both backends (`IF NOT EXISTS`: a
/// database the ledger created before it was a numbered migration is taken as
/// it is).
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

/// Deliveries become a durable queue (a migration of both backends): a request is
/// claimed with a lease by the instance that calls the provider, so one that
/// stops mid-call leaves it to be sent again (by itself when it restarts under
/// its own name, by any instance once the lease runs out) instead of stuck in
/// `requested`.
pub const DELIVERY_QUEUE: &str = "
ALTER TABLE deliveries ADD COLUMN attempts BIGINT NOT NULL DEFAULT 0;
ALTER TABLE deliveries ADD COLUMN next_attempt_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE deliveries ADD COLUMN lease_owner TEXT;
ALTER TABLE deliveries ADD COLUMN lease_until BIGINT NOT NULL DEFAULT 0;
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (state, next_attempt_at);
";

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
    /// The provider holds another invoice under the order's number; the order
    /// is in `conflict` and needs a person.
    pub const CONFLICT: &str = "invoice.conflict";
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
        d["error"] = json!({ "code": code, "field": r.error_field.as_deref().unwrap_or("order"), "message": r.error_message, "messageEn": r.error_message_en });
    }
    if let Some(Value::Object(m)) = extra {
        for (k, v) in m {
            d[k] = v.clone();
        }
    }
    d
}

/// Runs `f` as one transaction of `store`.
async fn tx<T, F>(store: &Store, f: F) -> Result<T, StoreError>
where
    T: Send + 'static,
    F: for<'c> FnOnce(&'c mut dyn Tx) -> BoxFuture<'c, Result<T, StoreError>> + Send + 'static,
{
    store.transaction(f).await
}

/// Frees the webhook, archive and delivery claims `owner` holds: an instance restarted
/// under the same `FAPIAO_INSTANCE_ID` takes its own rows back at once instead
/// of waiting for their leases (as the worker does with its orders). Returns how
/// many rows were freed.
pub async fn release_leases(store: &Store, owner: &str) -> Result<u64, StoreError> {
    let owner = owner.to_owned();
    tx(store, move |c| {
        Box::pin(async move {
            let events = c
                .execute(
                    "UPDATE webhook_events SET lease_owner = NULL, lease_until = 0 WHERE lease_owner = $1",
                    &vals![&owner],
                )
                .await?;
            let files = c
                .execute(
                    "UPDATE archive_files SET lease_owner = NULL, lease_until = 0 WHERE lease_owner = $1",
                    &vals![&owner],
                )
                .await?;
            let deliveries = c
                .execute(
                    "UPDATE deliveries SET lease_owner = NULL, lease_until = 0 WHERE lease_owner = $1",
                    &vals![&owner],
                )
                .await?;
            Ok(events as u64 + files as u64 + deliveries as u64)
        })
    })
    .await
}

const ACCEPTED_EXISTS: &str = "SELECT COUNT(*) FROM webhook_events WHERE event_id = $1";
const NEXT_SEQ: &str = "SELECT COALESCE(MAX(seq), 0) + 1 FROM webhook_events WHERE order_id = $1";
const INSERT_EVENT: &str =
    "INSERT INTO webhook_events (event_id, order_id, seq, type, body, created_at, state, next_attempt_at)
     VALUES ($1, $2, $3, $4, $5, $6, 'pending', $6)";

/// Locks an order's row until the transaction ends (PostgreSQL; on SQLite the
/// transaction is the only writer): events of one order are numbered one
/// transaction after another.
async fn lock_order(c: &mut dyn Tx, order_id: &str) -> Result<(), StoreError> {
    let lock = c.row_lock();
    if !lock.is_empty() {
        c.query(
            &format!("SELECT 1 FROM orders WHERE order_id = $1{lock}"),
            &vals![order_id],
        )
        .await?;
    }
    Ok(())
}

/// Writes one event for `order_id` (inside the caller's transaction). The
/// `order.accepted` event has a deterministic id and is written at most once;
/// any other event first makes sure the order's `order.accepted` exists, so the
/// sequence of every order starts with it. Returns the event id, or `None` when
/// an accepted event existed already.
pub async fn insert_event(
    c: &mut dyn Tx,
    order_id: &str,
    kind: &str,
    data: Value,
) -> Result<Option<String>, StoreError> {
    lock_order(c, order_id).await?;
    let now = now_ms();
    let accepted_id = format!(
        "evt_{}",
        &hex(&Sha256::digest(
            format!("{order_id}\u{0}{}", types::ACCEPTED).as_bytes()
        ))[..24]
    );
    let has_accepted = c.query_one(ACCEPTED_EXISTS, &vals![&accepted_id]).await?.int(0)? > 0;
    if kind == types::ACCEPTED && has_accepted {
        return Ok(None);
    }
    if kind != types::ACCEPTED && !has_accepted {
        insert_raw(
            c,
            &accepted_id,
            order_id,
            types::ACCEPTED,
            json!({ "status": "pending" }),
            now,
        )
        .await?;
    }
    let id = if kind == types::ACCEPTED {
        accepted_id
    } else {
        random_id("evt")
    };
    insert_raw(c, &id, order_id, kind, data, now).await?;
    Ok(Some(id))
}

async fn insert_raw(
    c: &mut dyn Tx,
    id: &str,
    order_id: &str,
    kind: &str,
    data: Value,
    now: i64,
) -> Result<(), StoreError> {
    let seq = c.query_one(NEXT_SEQ, &vals![order_id]).await?.int(0)?;
    let body =
        json!({ "id": id, "type": kind, "orderId": order_id, "createdAt": cst_rfc3339(now), "seq": seq, "data": data })
            .to_string();
    c.execute(INSERT_EVENT, &vals![id, order_id, seq, kind, body, now])
        .await?;
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
            let src = if u.starts_with('/') {
                format!("provider:{k}")
            } else {
                u.to_owned()
            };
            out.push((k.to_owned(), src));
        }
    }
    out
}

const QUEUE_FILE: &str = "INSERT INTO archive_files (order_id, kind, source_url, state, next_attempt_at, created_at)
     VALUES ($1, $2, $3, 'pending', $4, $4) ON CONFLICT (order_id, kind) DO NOTHING";
const SET_NOTIFY: &str =
    "INSERT INTO provider_notify (order_id, email_status, phone_status, updated_at) VALUES ($1, $2, $3, $4)
     ON CONFLICT (order_id) DO UPDATE SET email_status = COALESCE(excluded.email_status, provider_notify.email_status),
       phone_status = COALESCE(excluded.phone_status, provider_notify.phone_status), updated_at = excluded.updated_at";

/// What [`save_with_event`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Saved {
    /// False when the lease was lost (another instance holds the order): nothing was written.
    pub saved: bool,
    /// The event written with the status change, if any.
    pub event: Option<String>,
}

/// Saves the worker-owned fields of an order (the store's own statement) and,
/// when the status changes, writes `event` (and, for an issued order, the
/// archive queue rows and 诺诺's notify statuses) in the same transaction.
///
/// `lease` as for [`Store::save_claimed`]: `Some((owner, release))` writes only
/// while `owner` holds the order's lease; `None` writes whoever holds it (and
/// frees the lease; reconciliation's repairs). The previous status is read with
/// the row locked, so no other instance changes it in between.
pub async fn save_with_event(
    store: &Store,
    r: Record,
    lease: Option<(String, bool)>,
    event: Option<&'static str>,
    extras: IssuedExtras,
) -> Result<Saved, StoreError> {
    tx(store, move |c| {
        Box::pin(async move {
            let lock = c.row_lock();
            let before = c
                .query_opt(
                    &format!("SELECT status FROM orders WHERE order_id = $1{lock}"),
                    &vals![&r.order_id],
                )
                .await?;
            let before = before.map(|row| row.text(0)).transpose()?;
            if c.execute(SAVE_ORDER, &save_params(&r, lease)).await? != 1 {
                return Ok(Saved {
                    saved: false,
                    event: None,
                });
            }
            let changed = before.as_deref() != Some(r.status.as_str());
            let Some(kind) = event.filter(|_| changed) else {
                return Ok(Saved {
                    saved: true,
                    event: None,
                });
            };
            if r.status == Status::Issued {
                let now = now_ms();
                for (k, src) in &extras.files {
                    c.execute(QUEUE_FILE, &vals![&r.order_id, k, src, now]).await?;
                }
                if extras.email_notify_status.is_some() || extras.phone_notify_status.is_some() {
                    c.execute(
                        SET_NOTIFY,
                        &vals![
                            &r.order_id,
                            extras.email_notify_status.clone(),
                            extras.phone_notify_status.clone(),
                            now
                        ],
                    )
                    .await?;
                }
            }
            let event = insert_event(c, &r.order_id, kind, event_data(&r, None)).await?;
            Ok(Saved { saved: true, event })
        })
    })
    .await
}

/// Records 诺诺's notify statuses of an order (from a later result query).
pub async fn record_notify(
    store: &Store,
    order_id: &str,
    email: Option<String>,
    phone: Option<String>,
) -> Result<(), StoreError> {
    let id = order_id.to_owned();
    tx(store, move |c| {
        Box::pin(async move {
            c.execute(SET_NOTIFY, &vals![id, email, phone, now_ms()])
                .await
                .map(|_| ())
        })
    })
    .await
}

/// Marks a blue order reversed (the store's own statement) and writes its
/// `invoice.reversed` event in the same transaction. Returns the event id
/// (`None`: the order was not `issued`, e.g. already reversed).
pub async fn mark_reversed_with_event(
    store: &Store,
    order_id: &str,
    red_order_id: &str,
) -> Result<Option<String>, StoreError> {
    let (id, red) = (order_id.to_owned(), red_order_id.to_owned());
    tx(store, move |c| {
        Box::pin(async move {
            lock_order(c, &id).await?;
            if c.execute(MARK_REVERSED, &vals![&id, now_ms()]).await? == 0 {
                return Ok(None);
            }
            let row = c.query_one("SELECT invoice_number, request FROM orders WHERE order_id = $1", &vals![&id]).await?;
            let (number, request) = (row.opt_text(0)?, row.text(1)?);
            let totals = serde_json::from_str::<Value>(&request).ok().and_then(|v| v.get("totals").cloned()).unwrap_or(Value::Null);
            let data = json!({ "status": "reversed", "kind": "blue", "invoiceNumber": number, "totals": totals, "redOrderId": red });
            insert_event(c, &id, types::REVERSED, data).await
        })
    })
    .await
}

/// Writes `order.accepted` for a new order (idempotent).
pub async fn emit_accepted(store: &Store, r: &Record) -> Result<Option<String>, StoreError> {
    let (id, data) = (r.order_id.clone(), event_data(r, None));
    tx(store, move |c| {
        Box::pin(async move { insert_event(c, &id, types::ACCEPTED, data).await })
    })
    .await
}

/// After a start: writes the missing `order.accepted` of orders of the last
/// `window_ms` that have no event at all (a stop between storing an order and
/// writing its event). One transaction per order (instances starting together
/// lock one order row at a time; the second finds the event written). Returns
/// how many were written.
pub async fn sweep_accepted(store: &Store, window_ms: i64) -> Result<usize, StoreError> {
    let since = now_ms() - window_ms;
    let rows = tx(store, move |c| {
        Box::pin(async move {
            c.query(
                "SELECT o.order_id, o.kind, o.blue_order_id, o.request FROM orders o
                 WHERE o.created_at >= $1 AND NOT EXISTS (SELECT 1 FROM webhook_events e WHERE e.order_id = o.order_id) ORDER BY o.order_id",
                &vals![since],
            )
            .await
        })
    })
    .await?;
    let mut n = 0;
    for row in rows {
        let (id, kind, blue, request) = (row.text(0)?, row.text(1)?, row.opt_text(2)?, row.text(3)?);
        let totals = serde_json::from_str::<Value>(&request)
            .ok()
            .and_then(|v| v.get("totals").cloned())
            .unwrap_or(Value::Null);
        let mut data = json!({ "status": "pending", "kind": kind, "totals": totals });
        if let Some(b) = blue {
            data["blueOrderId"] = json!(b);
        }
        if tx(store, move |c| {
            Box::pin(async move { insert_event(c, &id, types::ACCEPTED, data).await })
        })
        .await?
        .is_some()
        {
            n += 1;
        }
    }
    Ok(n)
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

const EVENT_COLUMNS: &str =
    "event_id, order_id, seq, type, body, created_at, state, attempts, last_status, last_error, delivered_at";

fn outbox_event(r: &Row) -> Result<OutboxEvent, StoreError> {
    Ok(OutboxEvent {
        event_id: r.text(0)?,
        order_id: r.text(1)?,
        seq: r.int(2)?,
        kind: r.text(3)?,
        body: r.text(4)?,
        created_at: r.int(5)?,
        state: r.text(6)?,
        attempts: r.int(7)?,
        last_status: r.opt_int(8)?,
        last_error: r.opt_text(9)?,
        delivered_at: r.opt_int(10)?,
    })
}

/// Claims up to `limit` due events for `owner` until `now + lease_ms`: only the
/// oldest undelivered event of each order (so event n+1 is never sent before n
/// is acknowledged, and one order's events never travel concurrently, across
/// instances too), never one under another live lease. On PostgreSQL the rows
/// are selected `FOR UPDATE SKIP LOCKED`: instances claiming at the same time
/// take different events instead of waiting for each other.
pub async fn claim_webhooks(
    store: &Store,
    owner: &str,
    lease_ms: i64,
    limit: usize,
) -> Result<Vec<OutboxEvent>, StoreError> {
    let owner = owner.to_owned();
    tx(store, move |c| {
        Box::pin(async move {
            let now = now_ms();
            let sql = format!(
                "UPDATE webhook_events SET lease_owner = $1, lease_until = $2 WHERE event_id IN (
                   SELECT e.event_id FROM webhook_events e
                   WHERE e.state = 'pending' AND e.next_attempt_at <= $3 AND e.lease_until <= $3
                     AND NOT EXISTS (SELECT 1 FROM webhook_events p WHERE p.order_id = e.order_id AND p.state = 'pending' AND p.seq < e.seq)
                   ORDER BY e.next_attempt_at, e.created_at LIMIT $4{})
                 RETURNING {EVENT_COLUMNS}",
                c.skip_locked()
            );
            let rows = c.query(&sql, &vals![owner, now + lease_ms, now, limit as i64]).await?;
            let mut out = rows.iter().map(outbox_event).collect::<Result<Vec<_>, _>>()?;
            out.sort_by(|a, b| (a.created_at, &a.order_id, a.seq).cmp(&(b.created_at, &b.order_id, b.seq)));
            Ok(out)
        })
    })
    .await
}

/// The earliest time a row of a queue table (`webhook_events`, `archive_files`,
/// `deliveries`) in `state` may be claimed: when it is due, or when its lease
/// runs out if that is later.
async fn next_due(store: &Store, table: &'static str, state: &'static str) -> Result<Option<i64>, StoreError> {
    let sql = format!("SELECT MIN(CASE WHEN lease_until > next_attempt_at THEN lease_until ELSE next_attempt_at END) FROM {table} WHERE state = '{state}'");
    tx(store, move |c| {
        Box::pin(async move { c.query_one(&sql, &[]).await?.opt_int(0) })
    })
    .await
}

/// The earliest time a pending event is due (for the dispatcher's sleep).
pub async fn next_webhook_due(store: &Store) -> Result<Option<i64>, StoreError> {
    next_due(store, "webhook_events", "pending").await
}

/// Records one delivery attempt: acknowledged (`next_attempt_at` = `None`) or to
/// be retried at `next_attempt_at`. Only the lease holder's answer counts.
pub async fn webhook_attempted(
    store: &Store,
    event_id: &str,
    owner: &str,
    status: u16,
    error: Option<String>,
    next_attempt_at: Option<i64>,
) -> Result<(), StoreError> {
    let (id, owner) = (event_id.to_owned(), owner.to_owned());
    tx(store, move |c| {
        Box::pin(async move {
            let now = now_ms();
            match next_attempt_at {
                None => {
                    c.execute(
                        "UPDATE webhook_events SET state = 'delivered', attempts = attempts + 1, last_status = $3, last_error = NULL, last_attempt_at = $4,
                           delivered_at = $4, lease_owner = NULL, lease_until = 0 WHERE event_id = $1 AND lease_owner = $2",
                        &vals![id, owner, status as i64, now],
                    )
                    .await?
                }
                Some(next) => {
                    c.execute(
                        "UPDATE webhook_events SET attempts = attempts + 1, last_status = $3, last_error = $4, last_attempt_at = $5,
                           next_attempt_at = $6, lease_owner = NULL, lease_until = 0 WHERE event_id = $1 AND lease_owner = $2",
                        &vals![id, owner, status as i64, error, now, next],
                    )
                    .await?
                }
            };
            Ok(())
        })
    })
    .await
}

/// Marks the events created in `[from_ms, to_ms)` (optionally of one order) for
/// sending again, with their ids and bodies unchanged. Returns how many.
pub async fn replay(store: &Store, from_ms: i64, to_ms: i64, order_id: Option<String>) -> Result<usize, StoreError> {
    tx(store, move |c| {
        Box::pin(async move {
            let n = c
                .execute(
                    "UPDATE webhook_events SET state = 'pending', next_attempt_at = $3, lease_owner = NULL, lease_until = 0
                     WHERE created_at >= $1 AND created_at < $2 AND (CAST($4 AS TEXT) IS NULL OR order_id = $4)",
                    &vals![from_ms, to_ms, now_ms(), order_id],
                )
                .await?;
            Ok(n as usize)
        })
    })
    .await
}

/// The events of an order, in sequence (or, without an order, the latest `limit`).
pub async fn events(store: &Store, order_id: Option<String>, limit: usize) -> Result<Vec<OutboxEvent>, StoreError> {
    tx(store, move |c| {
        Box::pin(async move {
            let rows = match order_id {
                Some(id) => {
                    c.query(
                        &format!(
                            "SELECT {EVENT_COLUMNS} FROM webhook_events WHERE order_id = $1 ORDER BY seq LIMIT $2"
                        ),
                        &vals![id, limit as i64],
                    )
                    .await?
                }
                None => {
                    c.query(
                        &format!(
                            "SELECT {EVENT_COLUMNS} FROM webhook_events ORDER BY created_at DESC, seq DESC LIMIT $1"
                        ),
                        &vals![limit as i64],
                    )
                    .await?
                }
            };
            rows.iter().map(outbox_event).collect()
        })
    })
    .await
}

/// Outbox counts by state (for `/v1/admin/webhooks`).
pub async fn outbox_counts(store: &Store) -> Result<Vec<(String, i64)>, StoreError> {
    tx(store, |c| {
        Box::pin(async move {
            let rows = c
                .query(
                    "SELECT state, COUNT(*) FROM webhook_events GROUP BY state ORDER BY state",
                    &[],
                )
                .await?;
            rows.iter().map(|r| Ok((r.text(0)?, r.int(1)?))).collect()
        })
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

const ARCHIVE_COLUMNS: &str =
    "order_id, kind, source_url, state, sha256, size, content_type, fetched_at, attempts, last_error";

/// The archive row in the ten columns from `at` on.
fn archive_row(r: &Row, at: usize) -> Result<ArchiveRow, StoreError> {
    Ok(ArchiveRow {
        order_id: r.text(at)?,
        kind: r.text(at + 1)?,
        source_url: r.text(at + 2)?,
        state: r.text(at + 3)?,
        sha256: r.opt_text(at + 4)?,
        size: r.opt_int(at + 5)?,
        content_type: r.opt_text(at + 6)?,
        fetched_at: r.opt_int(at + 7)?,
        attempts: r.int(at + 8)?,
        last_error: r.opt_text(at + 9)?,
    })
}

fn archive_rows(rows: &[Row]) -> Result<Vec<ArchiveRow>, StoreError> {
    rows.iter().map(|r| archive_row(r, 0)).collect()
}

/// Queues files of an order for archiving (those already queued are kept).
pub async fn queue_files(store: &Store, order_id: &str, files: Vec<(String, String)>) -> Result<(), StoreError> {
    let id = order_id.to_owned();
    tx(store, move |c| {
        Box::pin(async move {
            let now = now_ms();
            for (k, src) in files {
                c.execute(QUEUE_FILE, &vals![&id, k, src, now]).await?;
            }
            Ok(())
        })
    })
    .await
}

/// Claims up to `limit` due archive rows (lease and `SKIP LOCKED` as for webhooks).
pub async fn claim_archive(
    store: &Store,
    owner: &str,
    lease_ms: i64,
    limit: usize,
) -> Result<Vec<ArchiveRow>, StoreError> {
    let owner = owner.to_owned();
    tx(store, move |c| {
        Box::pin(async move {
            let now = now_ms();
            let sql = format!(
                "UPDATE archive_files SET lease_owner = $1, lease_until = $2 WHERE (order_id, kind) IN (
                   SELECT order_id, kind FROM archive_files WHERE state = 'pending' AND next_attempt_at <= $3 AND lease_until <= $3
                   ORDER BY next_attempt_at LIMIT $4{})
                 RETURNING {ARCHIVE_COLUMNS}",
                c.skip_locked()
            );
            let mut out = archive_rows(&c.query(&sql, &vals![owner, now + lease_ms, now, limit as i64]).await?)?;
            out.sort_by(|a, b| (&a.order_id, &a.kind).cmp(&(&b.order_id, &b.kind)));
            Ok(out)
        })
    })
    .await
}

/// The earliest time a pending archive row is due.
pub async fn next_archive_due(store: &Store) -> Result<Option<i64>, StoreError> {
    next_due(store, "archive_files", "pending").await
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
pub async fn archive_attempted(
    store: &Store,
    order_id: &str,
    kind: &str,
    owner: &str,
    outcome: ArchiveOutcome,
) -> Result<(), StoreError> {
    let (id, kind, owner) = (order_id.to_owned(), kind.to_owned(), owner.to_owned());
    tx(store, move |c| {
        Box::pin(async move {
            let now = now_ms();
            match outcome {
                ArchiveOutcome::Stored { sha256, size, content_type } => {
                    c.execute(
                        "UPDATE archive_files SET state = 'stored', sha256 = $4, size = $5, content_type = $6, fetched_at = $7, attempts = attempts + 1,
                           last_error = NULL, lease_owner = NULL, lease_until = 0 WHERE order_id = $1 AND kind = $2 AND lease_owner = $3",
                        &vals![id, kind, owner, sha256, size, content_type, now],
                    )
                    .await?
                }
                ArchiveOutcome::Refused(why) => {
                    c.execute(
                        "UPDATE archive_files SET state = 'refused', attempts = attempts + 1, last_error = $4, lease_owner = NULL, lease_until = 0
                         WHERE order_id = $1 AND kind = $2 AND lease_owner = $3",
                        &vals![id, kind, owner, why],
                    )
                    .await?
                }
                ArchiveOutcome::Retry(why, next) => {
                    c.execute(
                        "UPDATE archive_files SET attempts = attempts + 1, last_error = $4, next_attempt_at = $5, lease_owner = NULL, lease_until = 0
                         WHERE order_id = $1 AND kind = $2 AND lease_owner = $3",
                        &vals![id, kind, owner, why, next],
                    )
                    .await?
                }
            };
            Ok(())
        })
    })
    .await
}

/// An order's archive rows.
pub async fn archive_of(store: &Store, order_id: &str) -> Result<Vec<ArchiveRow>, StoreError> {
    let id = order_id.to_owned();
    tx(store, move |c| {
        Box::pin(async move {
            archive_rows(
                &c.query(
                    &format!("SELECT {ARCHIVE_COLUMNS} FROM archive_files WHERE order_id = $1 ORDER BY kind"),
                    &vals![id],
                )
                .await?,
            )
        })
    })
    .await
}

/// Files not (yet) stored: pending or refused.
pub async fn archive_missing(store: &Store, limit: usize) -> Result<Vec<ArchiveRow>, StoreError> {
    tx(store, move |c| {
        Box::pin(async move {
            archive_rows(&c.query(&format!("SELECT {ARCHIVE_COLUMNS} FROM archive_files WHERE state <> 'stored' ORDER BY created_at, order_id, kind LIMIT $1"), &vals![limit as i64]).await?)
        })
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
    tx(store, move |c| {
        Box::pin(async move {
            let cols: Vec<String> = ARCHIVE_COLUMNS.split(", ").map(|k| format!("a.{k}")).collect();
            let sql = format!(
                "SELECT o.order_id, o.invoice_number, o.issued_at, o.request, {} FROM orders o JOIN archive_files a ON a.order_id = o.order_id
                 WHERE o.issued_at >= $1 AND o.issued_at < $2 ORDER BY o.issued_at, o.order_id, a.kind",
                cols.join(", ")
            );
            c.query(&sql, &vals![from_ms, to_ms])
                .await?
                .iter()
                .map(|r| Ok(ExportRow { order_id: r.text(0)?, invoice_number: r.opt_text(1)?, issued_at: r.opt_int(2)?, request: r.text(3)?, file: archive_row(r, 4)? }))
                .collect()
        })
    })
    .await
}

// ---- reconciliation ----

/// Order ids created or issued in `[from_ms, to_ms)`.
pub async fn orders_in_range(store: &Store, from_ms: i64, to_ms: i64) -> Result<Vec<String>, StoreError> {
    tx(store, move |c| {
        Box::pin(async move {
            c.query(
                "SELECT order_id FROM orders WHERE (created_at >= $1 AND created_at < $2) OR (issued_at >= $1 AND issued_at < $2) ORDER BY created_at, order_id",
                &vals![from_ms, to_ms],
            )
            .await?
            .iter()
            .map(|r| r.text(0))
            .collect()
        })
    })
    .await
}

/// Records (or refreshes) a reconciliation finding; returns its id.
pub async fn upsert_finding(
    store: &Store,
    kind: &str,
    order_id: Option<String>,
    invoice_number: Option<String>,
    detail: Value,
) -> Result<String, StoreError> {
    let kind = kind.to_owned();
    tx(store, move |c| {
        Box::pin(async move {
            let now = now_ms();
            let key = format!("{kind}\u{0}{}\u{0}{}", order_id.as_deref().unwrap_or(""), invoice_number.as_deref().unwrap_or(""));
            let id = format!("fnd_{}", &hex(&Sha256::digest(key.as_bytes()))[..24]);
            c.execute(
                "INSERT INTO reconcile_findings (finding_id, kind, order_id, invoice_number, detail, first_seen_at, last_seen_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $6)
                 ON CONFLICT (finding_id) DO UPDATE SET detail = excluded.detail, last_seen_at = excluded.last_seen_at",
                &vals![&id, kind, order_id, invoice_number, detail.to_string(), now],
            )
            .await?;
            Ok(id)
        })
    })
    .await
}

/// Marks a finding resolved (a repair fixed it).
pub async fn resolve_finding(store: &Store, finding_id: &str) -> Result<(), StoreError> {
    let id = finding_id.to_owned();
    tx(store, move |c| {
        Box::pin(async move {
            c.execute(
                "UPDATE reconcile_findings SET resolved_at = $2 WHERE finding_id = $1",
                &vals![id, now_ms()],
            )
            .await
            .map(|_| ())
        })
    })
    .await
}

/// Unresolved findings, newest first.
pub async fn open_findings(store: &Store) -> Result<Vec<Value>, StoreError> {
    tx(store, |c| {
        Box::pin(async move {
            c.query(
                "SELECT finding_id, kind, order_id, invoice_number, detail, first_seen_at, last_seen_at FROM reconcile_findings WHERE resolved_at IS NULL ORDER BY last_seen_at DESC LIMIT 500",
                &[],
            )
            .await?
            .iter()
            .map(|r| {
                let detail = r.text(4)?;
                Ok(json!({
                    "id": r.text(0)?, "kind": r.text(1)?, "orderId": r.opt_text(2)?,
                    "invoiceNumber": r.opt_text(3)?, "detail": serde_json::from_str::<Value>(&detail).unwrap_or(Value::Null),
                    "firstSeenAt": cst_rfc3339(r.int(5)?), "lastSeenAt": cst_rfc3339(r.int(6)?),
                }))
            })
            .collect()
        })
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
