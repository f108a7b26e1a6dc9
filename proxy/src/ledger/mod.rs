//! Persistence of status sync, delivery, archive and reconciliation: the webhook
//! outbox, delivery records, the archive index and reconciliation findings.
//!
//! Every function here runs one [`Store::transaction`], the same code on SQLite
//! and on PostgreSQL: the statements are written once, in the `$1` style (SQLite
//! runs them as `?1`), with the portable subset both understand — `BIGINT` epoch
//! milliseconds, `TEXT`, `INSERT … ON CONFLICT`, `CAST($n AS TEXT)` for a typed
//! NULL test, no blobs (archived file bodies live on disk, content-addressed; see
//! [`archive`](crate::queues::archive)). The tables are a numbered migration of both
//! backends ([`SCHEMA`]: SQLite's 3, PostgreSQL's 2; [`DELIVERY_QUEUE`]: SQLite's 4,
//! PostgreSQL's 3), defined with the store.
//!
//! By concern: this module holds the shared helpers, the event types and the
//! webhook outbox; [`deliveries`], [`archive_index`], [`findings`] (reconciliation)
//! and [`dates`] (China Standard Time days of the reports) the rest.
//!
//! Several instances on one PostgreSQL database:
//! - **Status change and event in one transaction**: [`save_with_event`] and
//!   [`mark_reversed_with_event`] write the order row (the store's own
//!   statements, with the worker's lease check) and its outbox event together,
//!   so an event is never lost when the proxy stops right after, and never
//!   written for a write that lost its lease.
//! - **Grouped commits**: the worker's status changes go through
//!   [`SaveGroups`], which writes those that arrive together in shared
//!   transactions (PostgreSQL commits `NOTIFY`ing transactions one at a time).
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

pub mod archive_index;
pub mod dates;
pub mod deliveries;
pub mod findings;

pub use archive_index::*;
pub use dates::*;
pub use deliveries::*;
pub use findings::*;

pub use crate::store::ledger_schema::{DELIVERY_QUEUE, SCHEMA};

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
    /// An operator withdrew the order (撤销) before it was sent to the provider.
    pub const CANCELLED: &str = "order.cancelled";
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
        d["blueOrderId"] = json!(crate::sellers::order_id_of(b));
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

/// Whether the order's `order.accepted` exists, and its next sequence number.
const ACCEPTED_AND_SEQ: &str = "SELECT (SELECT COUNT(*) FROM webhook_events WHERE event_id = $1),
   (SELECT COALESCE(MAX(seq), 0) + 1 FROM webhook_events WHERE order_id = $2)";
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

/// The id of an order's `order.accepted` event: derived from the order id, so
/// that it is written at most once.
pub(crate) fn accepted_event_id(order_id: &str) -> String {
    format!(
        "evt_{}",
        &hex(&Sha256::digest(
            format!("{order_id}\u{0}{}", types::ACCEPTED).as_bytes()
        ))[..24]
    )
}

/// The body of an outbox event as it is stored and sent.
///
/// `order_id` is the order's store key: the body carries the order's own id,
/// and an order of a seller other than the home seller also names its seller
/// (every delivery also carries the `Fapiao-Seller` header).
pub(crate) fn event_body(id: &str, kind: &str, order_id: &str, now: i64, seq: i64, data: Value) -> String {
    let (seller, plain) = crate::sellers::split_key(order_id);
    let mut body =
        json!({ "id": id, "type": kind, "orderId": plain, "createdAt": cst_rfc3339(now), "seq": seq, "data": data });
    if let Some(s) = seller {
        body["sellerTaxId"] = json!(s);
    }
    body.to_string()
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
    insert_event_locked(c, order_id, kind, data).await
}

/// [`insert_event`] for an order whose row the transaction has locked already.
async fn insert_event_locked(
    c: &mut dyn Tx,
    order_id: &str,
    kind: &str,
    data: Value,
) -> Result<Option<String>, StoreError> {
    let now = now_ms();
    let accepted_id = accepted_event_id(order_id);
    let row = c.query_one(ACCEPTED_AND_SEQ, &vals![&accepted_id, order_id]).await?;
    let (has_accepted, mut seq) = (row.int(0)? > 0, row.int(1)?);
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
            seq,
        )
        .await?;
        seq += 1;
    }
    let id = if kind == types::ACCEPTED {
        accepted_id
    } else {
        random_id("evt")
    };
    insert_raw(c, &id, order_id, kind, data, now, seq).await?;
    Ok(Some(id))
}

async fn insert_raw(
    c: &mut dyn Tx,
    id: &str,
    order_id: &str,
    kind: &str,
    data: Value,
    now: i64,
    seq: i64,
) -> Result<(), StoreError> {
    let body = event_body(id, kind, order_id, now, seq, data);
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
        Box::pin(async move { save_with_event_in(c, &r, lease, event, &extras).await })
    })
    .await
}

/// The statements of [`save_with_event`], inside the caller's transaction.
async fn save_with_event_in(
    c: &mut dyn Tx,
    r: &Record,
    lease: Option<(String, bool)>,
    event: Option<&'static str>,
    extras: &IssuedExtras,
) -> Result<Saved, StoreError> {
    let lock = c.row_lock();
    let before = c
        .query_opt(
            &format!("SELECT status FROM orders WHERE order_id = $1{lock}"),
            &vals![&r.order_id],
        )
        .await?;
    let before = before.map(|row| row.text(0)).transpose()?;
    if c.execute(SAVE_ORDER, &save_params(r, lease)).await? != 1 {
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
    // The order's row is locked since the first statement.
    let event = insert_event_locked(c, &r.order_id, kind, event_data(r, None)).await?;
    Ok(Saved { saved: true, event })
}

/// What one [`save_with_event`] writes.
#[derive(Clone)]
struct SaveItem {
    r: Record,
    lease: Option<(String, bool)>,
    event: Option<&'static str>,
    extras: IssuedExtras,
}

/// One [`save_with_event`] waiting for its group.
struct GroupedSave {
    item: SaveItem,
    reply: tokio::sync::oneshot::Sender<Result<Saved, StoreError>>,
}

/// [`save_with_event`] for many orders at once, on PostgreSQL: the status
/// changes that arrive together are written in shared transactions (at most
/// [`SaveGroups::GROUP`] orders each, [`SaveGroups::WRITERS`] transactions at a
/// time), each order's statements exactly as alone. A status change notifies
/// the other instances (`NOTIFY`), and PostgreSQL commits notifying
/// transactions one after another, each with its own flush to disk: one commit
/// per order would cap a busy instance at one order per flush. Should a shared
/// transaction fail, each of its orders is written again on its own, so one
/// order's failure is never another's. On SQLite the store's database thread
/// groups commits already: a call is [`save_with_event`].
pub struct SaveGroups {
    store: Store,
    queue: Option<tokio::sync::mpsc::UnboundedSender<GroupedSave>>,
}

impl SaveGroups {
    /// Orders per shared transaction at most.
    pub const GROUP: usize = 32;
    /// Shared transactions at a time.
    pub const WRITERS: usize = 4;

    /// The groups of `store` (the writers start on PostgreSQL only; call from
    /// within the runtime).
    pub fn new(store: Store) -> SaveGroups {
        if store.backend() != "postgres" {
            return SaveGroups { store, queue: None };
        }
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<GroupedSave>();
        let rx = std::sync::Arc::new(tokio::sync::Mutex::new(rx));
        for _ in 0..Self::WRITERS {
            let (rx, store) = (rx.clone(), store.clone());
            tokio::spawn(async move {
                loop {
                    let mut group = Vec::with_capacity(Self::GROUP);
                    {
                        let mut rx = rx.lock().await;
                        match rx.recv().await {
                            Some(first) => group.push(first),
                            None => return,
                        }
                        while group.len() < Self::GROUP {
                            match rx.try_recv() {
                                Ok(more) => group.push(more),
                                Err(_) => break,
                            }
                        }
                    }
                    write_group(&store, group).await;
                }
            });
        }
        SaveGroups { store, queue: Some(tx) }
    }

    /// [`save_with_event`], written with the other orders that come at the same time.
    pub async fn save_with_event(
        &self,
        r: Record,
        lease: Option<(String, bool)>,
        event: Option<&'static str>,
        extras: IssuedExtras,
    ) -> Result<Saved, StoreError> {
        let Some(queue) = &self.queue else {
            return save_with_event(&self.store, r, lease, event, extras).await;
        };
        let (reply, answer) = tokio::sync::oneshot::channel();
        let item = SaveItem {
            r,
            lease,
            event,
            extras,
        };
        if let Err(e) = queue.send(GroupedSave { item, reply }) {
            let SaveItem {
                r,
                lease,
                event,
                extras,
            } = e.0.item;
            return save_with_event(&self.store, r, lease, event, extras).await;
        }
        answer.await.map_err(|_| StoreError("the save group stopped".into()))?
    }
}

async fn write_group(store: &Store, group: Vec<GroupedSave>) {
    let items: Vec<SaveItem> = group.iter().map(|g| g.item.clone()).collect();
    let shared = tx(store, move |c| {
        Box::pin(async move {
            let mut out = Vec::with_capacity(items.len());
            for i in &items {
                out.push(save_with_event_in(c, &i.r, i.lease.clone(), i.event, &i.extras).await?);
            }
            Ok(out)
        })
    })
    .await;
    match shared {
        Ok(saved) => {
            for (g, s) in group.into_iter().zip(saved) {
                let _ = g.reply.send(Ok(s));
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, orders = group.len(), "a shared save failed; saving each order alone");
            for g in group {
                let i = g.item;
                let one = save_with_event(store, i.r, i.lease, i.event, i.extras).await;
                let _ = g.reply.send(one);
            }
        }
    }
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
