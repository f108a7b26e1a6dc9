//! Batches (批量开票): many orders submitted at once by an operator, stored in
//! one transaction, worked by the same queue as single orders.
//!
//! - A batch is a list of positions; each position names an order. A position
//!   whose order id already exists (an earlier position of the same batch, an
//!   earlier batch, a web order) is a **duplicate**: nothing new is stored for
//!   it and it shows the existing order's status, so an order id never gets a
//!   second invoice.
//! - Storing is one transaction over either backend: the new orders (multi-row
//!   `INSERT … ON CONFLICT DO NOTHING RETURNING`), their `order.accepted`
//!   webhook events, the positions, the batch row and the operator's audit
//!   entry. Before it commits nothing is visible; after, every order is as
//!   durable as a single accepted order.
//! - `clientBatchId` makes the creation idempotent per operator (a unique index):
//!   the same id again answers the batch stored the first time.
//! - **Cancel** (撤销) moves orders of the batch that were never sent to the
//!   provider to `cancelled`, in one statement that also takes their worker
//!   lease away: a worker that had claimed one finds its lease gone at its
//!   conditional "submitted" write and drops the order without calling the
//!   provider. An order the worker marked submitted first is not `pending`
//!   any more and is not cancelled.
//!
//! Every statement is written once for both backends (see [`crate::store::tx`]).

use std::collections::{HashMap, HashSet};

use serde::Serialize;
use serde_json::{json, Value};

use crate::ledger::{accepted_event_id, event_body, insert_event, types};
use crate::store::{Row, Status, Store, StoreError, Tx, Val};
use crate::time::{cst_rfc3339, now_ms};
use crate::vals;

/// The most orders one batch may hold.
pub const MAX_ORDERS: usize = 10_000;

/// A validated order of a new batch.
#[derive(Debug, Clone)]
pub struct NewOrder {
    /// The order id.
    pub order_id: String,
    /// SHA-256 of the canonical request.
    pub fingerprint: String,
    /// The canonical request (JSON).
    pub request: String,
    /// The request's totals (for the `order.accepted` event).
    pub totals: Value,
}

/// What [`create`] stored (or found).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Created {
    /// The batch id (`b_…`).
    pub id: String,
    /// Positions in the batch.
    pub total: usize,
    /// Order ids that existed already (or came twice): not issued again.
    pub duplicates: Vec<String>,
    /// True when the batch was stored before under the same `clientBatchId`.
    #[serde(skip)]
    pub existing: bool,
    /// How many orders were stored new.
    #[serde(skip)]
    pub new_orders: usize,
}

/// Counts of a batch's positions by batch status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Accepted, not yet sent to the provider.
    pub pending: i64,
    /// Sent (or possibly sent); the result is not known yet.
    pub submitted: i64,
    /// Issued (also when reversed later).
    pub issued: i64,
    /// Failed for good (or in conflict, waiting for a person).
    pub failed: i64,
    /// Withdrawn before submission.
    pub cancelled: i64,
}

impl Counts {
    fn add(&mut self, status: &str, n: i64) {
        match batch_status(status) {
            "submitted" => self.submitted += n,
            "issued" => self.issued += n,
            "failed" => self.failed += n,
            "cancelled" => self.cancelled += n,
            _ => self.pending += n,
        }
    }
    /// True when no position is pending or submitted.
    pub fn done(&self) -> bool {
        self.pending == 0 && self.submitted == 0
    }
}

/// An order's status as a batch shows it: `pending` (not yet sent),
/// `submitted`, `issued` (reversed ones too), `failed` (conflicts too),
/// `cancelled`.
pub fn batch_status(order_status: &str) -> &'static str {
    match Status::parse(order_status) {
        Status::Pending => "pending",
        Status::Issuing => "submitted",
        Status::Issued | Status::Reversed => "issued",
        Status::Failed | Status::Conflict => "failed",
        Status::Cancelled => "cancelled",
    }
}

/// A batch without its positions.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    /// Batch id.
    pub id: String,
    /// The operator's label.
    pub name: Option<String>,
    /// The operator who created it.
    pub operator: String,
    /// Creation time (RFC 3339, China time).
    pub created_at: String,
    /// Positions.
    pub total: i64,
    /// Positions by status.
    pub counts: Counts,
    /// No position is pending or submitted.
    pub done: bool,
    /// Order ids that existed already when the batch was stored.
    #[serde(skip)]
    pub duplicates: Vec<String>,
}

/// Why an order failed, as stored.
#[derive(Debug, Clone)]
pub struct Failure {
    /// Stable code.
    pub code: String,
    /// The field it is about.
    pub field: Option<String>,
    /// Chinese message.
    pub message: Option<String>,
    /// English message.
    pub message_en: Option<String>,
}

/// One position of a batch with its order's state.
#[derive(Debug, Clone)]
pub struct Position {
    /// 0-based position in the batch.
    pub index: i64,
    /// The order id.
    pub order_id: String,
    /// True when the order existed before this position (not created by it).
    pub duplicate: bool,
    /// The order's stored status.
    pub status: String,
    /// The invoice number, when issued.
    pub invoice_number: Option<String>,
    /// Issue time (epoch ms).
    pub issued_at: Option<i64>,
    /// Why the order failed.
    pub error: Option<Failure>,
    /// PDF, OFD and XML links.
    pub files: [Option<String>; 3],
}

/// Chunk sizes of the multi-row statements: few distinct statements (each is
/// prepared once per connection), few round trips.
const CHUNKS: [usize; 4] = [256, 32, 4, 1];

fn chunked<T>(items: &[T]) -> Vec<&[T]> {
    let mut out = Vec::new();
    let mut rest = items;
    while !rest.is_empty() {
        let size = CHUNKS.iter().copied().find(|&c| c <= rest.len()).unwrap_or(1);
        let (a, b) = rest.split_at(size);
        out.push(a);
        rest = b;
    }
    out
}

/// `($1, $2, …), (…)`: `rows` groups of `per_row` parameters, each row shaped by
/// `shape` (which gets the row's first parameter number).
fn values(rows: usize, per_row: usize, shape: impl Fn(usize) -> String) -> String {
    (0..rows).map(|r| shape(r * per_row + 1)).collect::<Vec<_>>().join(", ")
}

fn random_id(prefix: &str) -> String {
    format!("{prefix}_{}", &crate::config::random_key()[..20])
}

async fn audit(
    c: &mut dyn Tx,
    operator: &str,
    action: &str,
    batch_id: Option<&str>,
    detail: Value,
) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO operator_audit (audit_id, at, operator, action, batch_id, detail) VALUES ($1, $2, $3, $4, $5, $6)",
        &vals![
            random_id("aud"),
            now_ms(),
            operator,
            action,
            batch_id,
            detail.to_string()
        ],
    )
    .await?;
    Ok(())
}

/// Records an operator's action that changes nothing else (an export).
pub async fn record(
    store: &Store,
    operator: &str,
    action: &str,
    batch_id: &str,
    detail: Value,
) -> Result<(), StoreError> {
    let (op, action, id) = (operator.to_owned(), action.to_owned(), batch_id.to_owned());
    store
        .transaction(move |c| Box::pin(async move { audit(c, &op, &action, Some(&id), detail).await }))
        .await
}

async fn find_client(c: &mut dyn Tx, operator: &str, client_id: &str) -> Result<Option<Created>, StoreError> {
    let row = c
        .query_opt(
            "SELECT batch_id, total, duplicates FROM batches WHERE operator = $1 AND client_batch_id = $2",
            &vals![operator, client_id],
        )
        .await?;
    row.map(|r| {
        Ok(Created {
            id: r.text(0)?,
            total: r.int(1)? as usize,
            duplicates: serde_json::from_str(&r.text(2)?).unwrap_or_default(),
            existing: true,
            new_orders: 0,
        })
    })
    .transpose()
}

/// The batch an operator stored under `client_batch_id`, if any.
pub async fn find_by_client_id(
    store: &Store,
    operator: &str,
    client_batch_id: &str,
) -> Result<Option<Created>, StoreError> {
    let (op, id) = (operator.to_owned(), client_batch_id.to_owned());
    store
        .transaction(move |c| Box::pin(async move { find_client(c, &op, &id).await }))
        .await
}

/// Stores a batch and its new orders in one transaction (see the module
/// documentation); with a `client_batch_id` the operator used before, answers
/// that batch instead.
pub async fn create(
    store: &Store,
    operator: &str,
    client_batch_id: Option<String>,
    name: Option<String>,
    orders: Vec<NewOrder>,
) -> Result<Created, StoreError> {
    let op = operator.to_owned();
    let cid = client_batch_id.clone();
    let out = store
        .transaction(move |c| Box::pin(async move { create_in(c, &op, cid, name, orders).await }))
        .await;
    match (out, client_batch_id) {
        // Two requests with one clientBatchId at once (PostgreSQL): the unique
        // index refused the second; answer the first's batch.
        (Err(e), Some(cid)) => match find_by_client_id(store, operator, &cid).await {
            Ok(Some(found)) => Ok(found),
            _ => Err(e),
        },
        (out, _) => out,
    }
}

async fn create_in(
    c: &mut dyn Tx,
    operator: &str,
    client_batch_id: Option<String>,
    name: Option<String>,
    orders: Vec<NewOrder>,
) -> Result<Created, StoreError> {
    if let Some(cid) = &client_batch_id {
        if let Some(found) = find_client(c, operator, cid).await? {
            return Ok(found);
        }
    }
    let now = now_ms();
    let batch_id = random_id("b");
    // The first position of each order id stores it; later ones are duplicates.
    let mut seen: HashSet<&str> = HashSet::with_capacity(orders.len());
    let unique: Vec<&NewOrder> = orders.iter().filter(|o| seen.insert(o.order_id.as_str())).collect();
    let mut inserted: HashSet<String> = HashSet::with_capacity(unique.len());
    for chunk in chunked(&unique) {
        let sql = format!(
            "INSERT INTO orders (order_id, kind, blue_order_id, fingerprint, request, status, next_attempt_at, created_at, updated_at) VALUES {}
             ON CONFLICT (order_id) DO NOTHING RETURNING order_id",
            values(chunk.len(), 4, |p| format!("(${}, 'blue', NULL, ${}, ${}, 'pending', ${}, ${}, ${})", p, p + 1, p + 2, p + 3, p + 3, p + 3))
        );
        let params: Vec<Val> = chunk
            .iter()
            .flat_map(|o| vals![&o.order_id, &o.fingerprint, &o.request, now])
            .collect();
        for r in c.query(&sql, &params).await? {
            inserted.insert(r.text(0)?);
        }
    }
    // The order.accepted event of each new order (seq 1: a new order has no events).
    let fresh: Vec<&&NewOrder> = unique.iter().filter(|o| inserted.contains(&o.order_id)).collect();
    for chunk in chunked(&fresh) {
        let sql = format!(
            "INSERT INTO webhook_events (event_id, order_id, seq, type, body, created_at, state, next_attempt_at) VALUES {} ON CONFLICT DO NOTHING",
            values(chunk.len(), 4, |p| format!("(${}, ${}, 1, '{}', ${}, ${}, 'pending', ${})", p, p + 1, types::ACCEPTED, p + 2, p + 3, p + 3))
        );
        let params: Vec<Val> = chunk
            .iter()
            .flat_map(|o| {
                let id = accepted_event_id(&o.order_id);
                let data = json!({
                    "status": "pending", "kind": "blue", "invoiceNumber": null, "issuedAt": null,
                    "totals": o.totals, "links": { "self": format!("/v1/invoices/{}", o.order_id) },
                });
                let body = event_body(&id, types::ACCEPTED, &o.order_id, now, 1, data);
                vals![id, &o.order_id, body, now]
            })
            .collect();
        c.execute(&sql, &params).await?;
    }
    let mut duplicates: Vec<String> = Vec::new();
    let mut listed: HashSet<&str> = HashSet::new();
    let mut first: HashSet<&str> = HashSet::new();
    let positions: Vec<(i64, &str, bool)> = orders
        .iter()
        .enumerate()
        .map(|(i, o)| {
            let dup = !(inserted.contains(&o.order_id) && first.insert(o.order_id.as_str()));
            if dup && listed.insert(o.order_id.as_str()) {
                duplicates.push(o.order_id.clone());
            }
            (i as i64, o.order_id.as_str(), dup)
        })
        .collect();
    for chunk in chunked(&positions) {
        let sql = format!(
            "INSERT INTO batch_orders (batch_id, idx, order_id, duplicate) VALUES {}",
            values(chunk.len(), 4, |p| format!(
                "(${}, ${}, ${}, ${})",
                p,
                p + 1,
                p + 2,
                p + 3
            ))
        );
        let params: Vec<Val> = chunk
            .iter()
            .flat_map(|(i, id, dup)| vals![&batch_id, *i, *id, *dup as i64])
            .collect();
        c.execute(&sql, &params).await?;
    }
    c.execute(
        "INSERT INTO batches (batch_id, operator, client_batch_id, name, total, duplicates, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &vals![&batch_id, operator, client_batch_id.clone(), name.clone(), orders.len() as i64, json!(duplicates).to_string(), now],
    )
    .await?;
    audit(
        c,
        operator,
        "batch.create",
        Some(&batch_id),
        json!({ "total": orders.len(), "new": inserted.len(), "duplicates": duplicates.len(), "clientBatchId": client_batch_id, "name": name }),
    )
    .await?;
    Ok(Created {
        id: batch_id,
        total: orders.len(),
        duplicates,
        existing: false,
        new_orders: inserted.len(),
    })
}

fn summary(r: &Row) -> Result<Summary, StoreError> {
    Ok(Summary {
        id: r.text(0)?,
        name: r.opt_text(1)?,
        operator: r.text(2)?,
        created_at: cst_rfc3339(r.int(3)?),
        total: r.int(4)?,
        duplicates: serde_json::from_str(&r.text(5)?).unwrap_or_default(),
        counts: Counts::default(),
        done: false,
    })
}

const SUMMARY_COLUMNS: &str = "batch_id, name, operator, created_at, total, duplicates";

/// The newest `limit` batches with their counts.
pub async fn list(store: &Store, limit: usize) -> Result<Vec<Summary>, StoreError> {
    store
        .transaction(move |c| {
            Box::pin(async move {
                let rows = c
                    .query(
                        &format!("SELECT {SUMMARY_COLUMNS} FROM batches ORDER BY created_at DESC, batch_id LIMIT $1"),
                        &vals![limit as i64],
                    )
                    .await?;
                let mut out = rows.iter().map(summary).collect::<Result<Vec<_>, _>>()?;
                let counts = c
                    .query(
                        "SELECT b.batch_id, o.status, COUNT(*) FROM batch_orders b JOIN orders o ON o.order_id = b.order_id
                         WHERE b.batch_id IN (SELECT batch_id FROM batches ORDER BY created_at DESC, batch_id LIMIT $1)
                         GROUP BY b.batch_id, o.status",
                        &vals![limit as i64],
                    )
                    .await?;
                let mut by: HashMap<String, Counts> = HashMap::new();
                for r in counts {
                    by.entry(r.text(0)?).or_default().add(&r.text(1)?, r.int(2)?);
                }
                for s in &mut out {
                    s.counts = by.get(&s.id).copied().unwrap_or_default();
                    s.done = s.counts.done();
                }
                Ok(out)
            })
        })
        .await
}

async fn counts_in(c: &mut dyn Tx, batch_id: &str) -> Result<Counts, StoreError> {
    let rows = c
        .query(
            "SELECT o.status, COUNT(*) FROM batch_orders b JOIN orders o ON o.order_id = b.order_id WHERE b.batch_id = $1 GROUP BY o.status",
            &vals![batch_id],
        )
        .await?;
    let mut counts = Counts::default();
    for r in rows {
        counts.add(&r.text(0)?, r.int(1)?);
    }
    Ok(counts)
}

/// A batch's summary with its counts (`None`: no such batch).
pub async fn summary_of(store: &Store, batch_id: &str) -> Result<Option<Summary>, StoreError> {
    let id = batch_id.to_owned();
    store
        .transaction(move |c| {
            Box::pin(async move {
                let Some(row) = c
                    .query_opt(
                        &format!("SELECT {SUMMARY_COLUMNS} FROM batches WHERE batch_id = $1"),
                        &vals![&id],
                    )
                    .await?
                else {
                    return Ok(None);
                };
                let mut s = summary(&row)?;
                s.counts = counts_in(c, &id).await?;
                s.done = s.counts.done();
                Ok(Some(s))
            })
        })
        .await
}

/// A batch with every position, in order (`None`: no such batch).
pub async fn get(store: &Store, batch_id: &str) -> Result<Option<(Summary, Vec<Position>)>, StoreError> {
    let id = batch_id.to_owned();
    store
        .transaction(move |c| {
            Box::pin(async move {
                let Some(row) = c
                    .query_opt(&format!("SELECT {SUMMARY_COLUMNS} FROM batches WHERE batch_id = $1"), &vals![&id])
                    .await?
                else {
                    return Ok(None);
                };
                let mut s = summary(&row)?;
                let rows = c
                    .query(
                        "SELECT b.idx, b.order_id, b.duplicate, o.status, o.invoice_number, o.issued_at, o.error_code, o.error_field,
                                o.error_message, o.error_message_en, o.pdf_url, o.ofd_url, o.xml_url
                         FROM batch_orders b LEFT JOIN orders o ON o.order_id = b.order_id WHERE b.batch_id = $1 ORDER BY b.idx",
                        &vals![&id],
                    )
                    .await?;
                let mut positions = Vec::with_capacity(rows.len());
                let mut counts = Counts::default();
                for r in rows {
                    let status = r.opt_text(3)?.unwrap_or_else(|| "pending".into());
                    counts.add(&status, 1);
                    positions.push(Position {
                        index: r.int(0)?,
                        order_id: r.text(1)?,
                        duplicate: r.int(2)? != 0,
                        status,
                        invoice_number: r.opt_text(4)?,
                        issued_at: r.opt_int(5)?,
                        error: r
                            .opt_text(6)?
                            .map(|code| {
                                Ok::<_, StoreError>(Failure {
                                    code,
                                    field: r.opt_text(7)?,
                                    message: r.opt_text(8)?,
                                    message_en: r.opt_text(9)?,
                                })
                            })
                            .transpose()?,
                        files: [r.opt_text(10)?, r.opt_text(11)?, r.opt_text(12)?],
                    });
                }
                s.counts = counts;
                s.done = counts.done();
                Ok(Some((s, positions)))
            })
        })
        .await
}

/// The store key of a batch's first order (its seller is the batch's), if the
/// batch exists.
pub async fn first_order(store: &Store, batch_id: &str) -> Result<Option<String>, StoreError> {
    let id = batch_id.to_owned();
    store
        .transaction(move |c| {
            Box::pin(async move {
                c.query(
                    "SELECT order_id FROM batch_orders WHERE batch_id = $1 AND idx = 0",
                    &vals![&id],
                )
                .await?
                .first()
                .map(|r| r.text(0))
                .transpose()
            })
        })
        .await
}

/// The positions' order ids of a batch (for its event stream).
pub async fn order_ids(store: &Store, batch_id: &str) -> Result<HashSet<String>, StoreError> {
    let id = batch_id.to_owned();
    store
        .transaction(move |c| {
            Box::pin(async move {
                c.query("SELECT order_id FROM batch_orders WHERE batch_id = $1", &vals![&id])
                    .await?
                    .iter()
                    .map(|r| r.text(0))
                    .collect()
            })
        })
        .await
}

/// The positions' counts of a batch.
pub async fn counts(store: &Store, batch_id: &str) -> Result<Counts, StoreError> {
    let id = batch_id.to_owned();
    store
        .transaction(move |c| Box::pin(async move { counts_in(c, &id).await }))
        .await
}

/// What [`cancel`] did.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Cancelled {
    /// Orders now `cancelled`.
    pub cancelled: Vec<String>,
    /// Orders asked for that were not cancelled, with their batch status
    /// (`unknown`: not in this batch; a duplicate shows the existing order's
    /// status and is never cancelled through the batch).
    pub not_cancelled: Vec<Value>,
}

const CANCEL: &str = "UPDATE orders SET status = 'cancelled', lease_owner = NULL, lease_until = 0, updated_at = $2
  WHERE status = 'pending' AND submitted = $3 AND order_id IN (SELECT order_id FROM batch_orders WHERE batch_id = $1 AND duplicate = 0)";

/// Cancels (撤销) the orders of a batch that were never sent to the provider:
/// all of them, or those of `order_ids`. Each cancelled order gets an
/// `order.cancelled` webhook event; the operator's action is recorded. `None`:
/// no such batch.
pub async fn cancel(
    store: &Store,
    operator: &str,
    batch_id: &str,
    order_ids: Option<Vec<String>>,
) -> Result<Option<Cancelled>, StoreError> {
    let (op, id) = (operator.to_owned(), batch_id.to_owned());
    store
        .transaction(move |c| {
            Box::pin(async move {
                if c.query_opt("SELECT 1 FROM batches WHERE batch_id = $1", &vals![&id]).await?.is_none() {
                    return Ok(None);
                }
                let now = now_ms();
                let mut cancelled: Vec<String> = Vec::new();
                match &order_ids {
                    None => {
                        for r in c.query(&format!("{CANCEL} RETURNING order_id"), &vals![&id, now, false]).await? {
                            cancelled.push(r.text(0)?);
                        }
                    }
                    Some(ids) => {
                        let wanted: Vec<&String> = {
                            let mut seen = HashSet::new();
                            ids.iter().filter(|x| !x.contains('\0') && seen.insert(x.as_str())).collect()
                        };
                        for chunk in chunked(&wanted) {
                            let list = (0..chunk.len()).map(|i| format!("${}", i + 4)).collect::<Vec<_>>().join(", ");
                            let mut params = vals![&id, now, false].to_vec();
                            params.extend(chunk.iter().map(|x| Val::from(*x)));
                            for r in c.query(&format!("{CANCEL} AND order_id IN ({list}) RETURNING order_id"), &params).await? {
                                cancelled.push(r.text(0)?);
                            }
                        }
                    }
                }
                cancelled.sort();
                for oid in &cancelled {
                    let totals = c
                        .query_opt("SELECT request FROM orders WHERE order_id = $1", &vals![oid])
                        .await?
                        .and_then(|r| r.text(0).ok())
                        .and_then(|t| serde_json::from_str::<Value>(&t).ok())
                        .and_then(|v| v.get("totals").cloned())
                        .unwrap_or(Value::Null);
                    let data = json!({ "status": "cancelled", "kind": "blue", "totals": totals, "batchId": id, "operator": op,
                        "links": { "self": format!("/v1/invoices/{oid}") } });
                    insert_event(c, oid, types::CANCELLED, data).await?;
                }
                // What was asked for and not cancelled, with where it stands.
                let done: HashSet<&str> = cancelled.iter().map(String::as_str).collect();
                let rows = c
                    .query(
                        "SELECT b.order_id, o.status FROM batch_orders b LEFT JOIN orders o ON o.order_id = b.order_id WHERE b.batch_id = $1 ORDER BY b.idx",
                        &vals![&id],
                    )
                    .await?;
                let mut status: HashMap<String, String> = HashMap::new();
                let mut in_order: Vec<String> = Vec::new();
                for r in rows {
                    let oid = r.text(0)?;
                    if !status.contains_key(&oid) {
                        in_order.push(oid.clone());
                    }
                    status.insert(oid, r.opt_text(1)?.unwrap_or_else(|| "pending".into()));
                }
                let asked: Vec<String> = match &order_ids {
                    Some(ids) => {
                        let mut seen = HashSet::new();
                        ids.iter().filter(|x| seen.insert(x.as_str())).cloned().collect()
                    }
                    None => in_order,
                };
                let not_cancelled: Vec<Value> = asked
                    .iter()
                    .filter(|x| !done.contains(x.as_str()))
                    .map(|x| {
                        let s = status.get(x).map(|s| batch_status(s)).unwrap_or("unknown");
                        json!({ "orderId": x, "status": s })
                    })
                    .collect();
                audit(
                    c,
                    &op,
                    "batch.cancel",
                    Some(&id),
                    json!({ "asked": order_ids.as_ref().map(Vec::len), "cancelled": cancelled }),
                )
                .await?;
                Ok(Some(Cancelled { cancelled, not_cancelled }))
            })
        })
        .await
}

/// The audit trail, newest first (for tests and the admin's eyes).
pub async fn audit_trail(store: &Store, limit: usize) -> Result<Vec<Value>, StoreError> {
    store
        .transaction(move |c| {
            Box::pin(async move {
                c.query(
                    "SELECT at, operator, action, batch_id, detail FROM operator_audit ORDER BY at DESC, audit_id LIMIT $1",
                    &vals![limit as i64],
                )
                .await?
                .iter()
                .map(|r| {
                    Ok(json!({
                        "at": cst_rfc3339(r.int(0)?), "operator": r.text(1)?, "action": r.text(2)?,
                        "batchId": r.opt_text(3)?, "detail": serde_json::from_str::<Value>(&r.text(4)?).unwrap_or(Value::Null),
                    }))
                })
                .collect()
            })
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_cover_everything_with_few_shapes() {
        let items: Vec<usize> = (0..10_000).collect();
        let ch = chunked(&items);
        assert_eq!(ch.iter().map(|c| c.len()).sum::<usize>(), 10_000);
        assert!(ch.iter().all(|c| CHUNKS.contains(&c.len())));
        assert_eq!(ch.concat(), items);
        assert_eq!(values(2, 3, |p| format!("(${p})")), "($1), ($4)");
    }

    #[test]
    fn statuses_map_onto_the_batch_view() {
        assert_eq!(batch_status("pending"), "pending");
        assert_eq!(batch_status("issuing"), "submitted");
        assert_eq!(batch_status("reversed"), "issued");
        assert_eq!(batch_status("conflict"), "failed");
        assert_eq!(batch_status("cancelled"), "cancelled");
        let mut c = Counts::default();
        c.add("issued", 2);
        c.add("cancelled", 1);
        assert!(c.done());
        c.add("issuing", 1);
        assert!(!c.done());
    }
}
