//! The durable order store behind one interface, [`Store`], with two backends:
//!
//! - **SQLite** (the default, embedded; this file): one file in WAL mode. All
//!   statements run on one database thread. Work that arrives while a transaction
//!   is being written is batched into the next one (group commit), so every
//!   caller's write is durable (`synchronous=FULL`) before its future resolves, at
//!   the cost of one fsync per batch rather than per order. One proxy process per
//!   file.
//! - **PostgreSQL** ([`postgres`], selected by a `postgres://` URL): several proxy
//!   instances share one database. The worker claims due orders with
//!   `FOR UPDATE SKIP LOCKED` and a lease (owner and expiry), so an order is worked
//!   by one instance at a time and the orders of an instance that died are taken
//!   over when its leases expire; status changes are sent to every instance with
//!   `LISTEN`/`NOTIFY`.
//!
//! Both apply versioned migrations at start ([`SQLITE_MIGRATIONS`] here, the
//! PostgreSQL ones under an advisory lock). The sandbox provider keeps its
//! invoices in the same store (`sandbox_invoices`, unique per order id), so a
//! query-before-resubmit finds them from any instance.

pub mod ledger_schema;
pub mod postgres;
pub mod tx;

use std::any::Any;
use std::path::Path;
use std::sync::mpsc;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use rusqlite::{params, Connection, OptionalExtension, Row as SqlRow};
use tokio::sync::broadcast;

use crate::time::now_ms;
use tx::TxJob;
pub use tx::{Row, Tx, Val};

type Reply = Box<dyn FnOnce(Result<(), String>) + Send>;
type Job = Box<dyn FnOnce(&mut Connection) -> (bool, Reply) + Send>;

/// A store error: the database could not be read or written.
#[derive(Debug, Clone, thiserror::Error)]
#[error("order store: {0}")]
pub struct StoreError(pub String);

/// The earliest retry time among the orders nobody holds, read in the order of
/// the `orders_due` index (one seek, not a scan: it runs after every accepted
/// order). Held orders are left out; the worker wakes at least once a second, so
/// an expired lease of a dead instance is noticed within a second.
pub(crate) const NEXT_DUE: &str = "SELECT next_attempt_at FROM orders WHERE status IN ('pending', 'issuing') AND lease_until <= $1 ORDER BY next_attempt_at LIMIT 1";

/// The check of [`Store::insert_red_checked`], type-erased for the backends.
pub type RedCheck = Box<dyn FnOnce(Option<&Record>, &[Record]) -> Result<NewOrder, Box<dyn Any + Send>> + Send>;

/// What a backend answers to [`Backend::insert_red_checked`].
pub type RedChecked = Result<Result<(Inserted, String), Box<dyn Any + Send>>, StoreError>;

/// A sandbox invoice as stored (see [`crate::provider::sandbox`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxInvoice {
    /// `blue` or `red`.
    pub kind: String,
    /// The request as submitted (JSON).
    pub request: String,
    /// When the invoice is issued (epoch ms); before that a query says pending.
    pub ready_at: i64,
    /// True when the order ends failed.
    pub fail: bool,
    /// The 20-digit invoice number.
    pub number: Option<String>,
    /// Issue time (epoch ms).
    pub issued_at: Option<i64>,
}

/// The operations of a store backend. [`Store`] wraps one and offers the same
/// operations as plain async methods.
pub trait Backend: Send + Sync {
    /// `sqlite` or `postgres`.
    fn name(&self) -> &'static str;
    /// See [`Store::insert_or_get`].
    fn insert_or_get(
        &self,
        order_id: String,
        kind: &'static str,
        blue_order_id: Option<String>,
        fingerprint: String,
        request: String,
    ) -> BoxFuture<'_, Result<Inserted, StoreError>>;
    /// See [`Store::insert_red_checked`].
    fn insert_red_checked(&self, blue_order_id: String, check: RedCheck) -> BoxFuture<'_, RedChecked>;
    /// See [`Store::get`].
    fn get(&self, order_id: String) -> BoxFuture<'_, Result<Option<Record>, StoreError>>;
    /// See [`Store::reds_of`].
    fn reds_of(&self, blue_order_id: String) -> BoxFuture<'_, Result<Vec<Record>, StoreError>>;
    /// See [`Store::due`].
    fn due(&self, now: i64, limit: usize) -> BoxFuture<'_, Result<Vec<Record>, StoreError>>;
    /// See [`Store::claim_due`] and [`Store::claim_to_submit`]: with `mark`, the
    /// claimed orders never submitted are marked submitted in the same
    /// statement (the flag says which).
    fn claim_due(
        &self,
        owner: String,
        now: i64,
        limit: usize,
        lease_ms: i64,
        mark: bool,
    ) -> BoxFuture<'_, Result<Vec<(Record, bool)>, StoreError>>;
    /// See [`Store::next_due`].
    fn next_due(&self) -> BoxFuture<'_, Result<Option<i64>, StoreError>>;
    /// See [`Store::save`] and [`Store::save_claimed`]: with `lease = Some((owner,
    /// release))` the write happens only while `owner` holds the lease.
    fn save(&self, r: Record, lease: Option<(String, bool)>) -> BoxFuture<'_, Result<bool, StoreError>>;
    /// See [`Store::mark_reversed`].
    fn mark_reversed(&self, order_id: String) -> BoxFuture<'_, Result<(), StoreError>>;
    /// See [`Store::nudge`].
    fn nudge(&self, order_id: String, min_interval_ms: i64) -> BoxFuture<'_, Result<bool, StoreError>>;
    /// See [`Store::resume_all`].
    fn resume_all(&self) -> BoxFuture<'_, Result<usize, StoreError>>;
    /// See [`Store::release_leases`].
    fn release_leases(&self, owner: String) -> BoxFuture<'_, Result<usize, StoreError>>;
    /// See [`Store::counts`].
    fn counts(&self) -> BoxFuture<'_, Result<Vec<(String, i64)>, StoreError>>;
    /// See [`Store::kv_get`].
    fn kv_get(&self, key: String) -> BoxFuture<'_, Result<Option<(String, i64)>, StoreError>>;
    /// See [`Store::kv_set`].
    fn kv_set(&self, key: String, value: String) -> BoxFuture<'_, Result<(), StoreError>>;
    /// See [`Store::try_lock`].
    fn try_lock(&self, name: String, owner: String, ttl_ms: i64) -> BoxFuture<'_, Result<bool, StoreError>>;
    /// See [`Store::unlock`].
    fn unlock(&self, name: String, owner: String) -> BoxFuture<'_, Result<(), StoreError>>;
    /// See [`Store::sandbox_insert`].
    fn sandbox_insert(
        &self,
        order_id: String,
        kind: &'static str,
        request: String,
        ready_at: i64,
        fail: bool,
        region: String,
    ) -> BoxFuture<'_, Result<bool, StoreError>>;
    /// See [`Store::sandbox_get`].
    fn sandbox_get(&self, order_id: String) -> BoxFuture<'_, Result<Option<SandboxInvoice>, StoreError>>;
    /// See [`Store::sandbox_count`].
    fn sandbox_count(&self, order_id: Option<String>) -> BoxFuture<'_, Result<i64, StoreError>>;
    /// Runs `job` in one transaction: committed when it succeeds, rolled back
    /// when it fails (see [`Store::transaction`]).
    fn transaction(&self, job: TxJob) -> BoxFuture<'_, Result<Box<dyn Any + Send>, StoreError>>;
    /// Forwards the ids of orders whose status other instances changed to
    /// `updates` (PostgreSQL `LISTEN`); a no-op for a single-process backend.
    fn watch(&self, _updates: broadcast::Sender<Arc<str>>) {}
}

/// Handle to the store; cheap to clone.
#[derive(Clone)]
pub struct Store {
    inner: Arc<dyn Backend>,
}

/// Where an order stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Accepted and stored; not yet sent to the provider.
    Pending,
    /// Sent (or possibly sent) to the provider; the result is not known yet.
    Issuing,
    /// Issued: the invoice number is known.
    Issued,
    /// Definitively refused or failed; the record carries the issue.
    Failed,
    /// A blue invoice reversed in full by a red one.
    Reversed,
    /// The provider holds an invoice under this order number that is not this
    /// order's (other total, tax, buyer or line count): nothing is adopted, the
    /// order waits for a person (the record carries the issue; a reconciliation
    /// finding and an `invoice.conflict` event say what differs).
    Conflict,
    /// Withdrawn by an operator (撤销) before it was ever sent to the provider:
    /// it will never be.
    Cancelled,
}

impl Status {
    /// The stored text.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Issuing => "issuing",
            Status::Issued => "issued",
            Status::Failed => "failed",
            Status::Reversed => "reversed",
            Status::Conflict => "conflict",
            Status::Cancelled => "cancelled",
        }
    }
    pub(crate) fn parse(s: &str) -> Status {
        match s {
            "issuing" => Status::Issuing,
            "issued" => Status::Issued,
            "failed" => Status::Failed,
            "reversed" => Status::Reversed,
            "conflict" => Status::Conflict,
            "cancelled" => Status::Cancelled,
            _ => Status::Pending,
        }
    }
    /// True when nothing will change any more (a reversal aside).
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Status::Issued | Status::Failed | Status::Reversed | Status::Conflict | Status::Cancelled
        )
    }
}

/// One order (blue or red) as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// Order number; the primary key.
    pub order_id: String,
    /// `blue` or `red`.
    pub kind: String,
    /// For a red order: the blue order it reverses.
    pub blue_order_id: Option<String>,
    /// SHA-256 of the canonical request: a different payload under the same order id is a conflict.
    pub fingerprint: String,
    /// The canonical request (JSON).
    pub request: String,
    /// Status.
    pub status: Status,
    /// Provider calls made for this order.
    pub attempts: i64,
    /// True once a submission may have reached the provider: from then on the
    /// worker queries before it submits again.
    pub submitted: bool,
    /// When the worker should look at the order next (epoch ms).
    pub next_attempt_at: i64,
    /// The provider's serial number (流水号), when known.
    pub provider_ref: Option<String>,
    /// The 20-digit invoice number.
    pub invoice_number: Option<String>,
    /// Issue time (epoch ms).
    pub issued_at: Option<i64>,
    /// PDF download link.
    pub pdf_url: Option<String>,
    /// OFD download link.
    pub ofd_url: Option<String>,
    /// XML download link.
    pub xml_url: Option<String>,
    /// Failure: stable code.
    pub error_code: Option<String>,
    /// Failure: Chinese message.
    pub error_message: Option<String>,
    /// Failure: English message.
    pub error_message_en: Option<String>,
    /// Failure: the field the issue is about (`buyer.taxId`, `provider`, …).
    pub error_field: Option<String>,
    /// Creation time (epoch ms).
    pub created_at: i64,
    /// Last change (epoch ms).
    pub updated_at: i64,
    /// The worker instance working on the order right now, if any.
    pub lease_owner: Option<String>,
    /// Until when `lease_owner` holds it (epoch ms); after that any instance may claim it.
    pub lease_until: i64,
}

/// The columns of a [`Record`], in the order both backends read them.
pub(crate) const COLUMNS: &str = "order_id, kind, blue_order_id, fingerprint, request, status, attempts, submitted, next_attempt_at, \
    provider_ref, invoice_number, issued_at, pdf_url, ofd_url, xml_url, error_code, error_message, error_message_en, created_at, updated_at, \
    lease_owner, lease_until, error_field";

fn record(r: &SqlRow) -> rusqlite::Result<Record> {
    Ok(Record {
        order_id: r.get(0)?,
        kind: r.get(1)?,
        blue_order_id: r.get(2)?,
        fingerprint: r.get(3)?,
        request: r.get(4)?,
        status: Status::parse(&r.get::<_, String>(5)?),
        attempts: r.get(6)?,
        submitted: r.get::<_, i64>(7)? != 0,
        next_attempt_at: r.get(8)?,
        provider_ref: r.get(9)?,
        invoice_number: r.get(10)?,
        issued_at: r.get(11)?,
        pdf_url: r.get(12)?,
        ofd_url: r.get(13)?,
        xml_url: r.get(14)?,
        error_code: r.get(15)?,
        error_message: r.get(16)?,
        error_message_en: r.get(17)?,
        created_at: r.get(18)?,
        updated_at: r.get(19)?,
        lease_owner: r.get(20)?,
        lease_until: r.get(21)?,
        error_field: r.get(22)?,
    })
}

/// What [`Store::insert_or_get`] found.
#[derive(Debug, Clone)]
pub enum Inserted {
    /// The order is new and now stored.
    New(Record),
    /// An order with this id was stored before; here it is, unchanged.
    Existing(Record),
}

/// An order to store, as approved by the check of [`Store::insert_red_checked`].
#[derive(Debug, Clone)]
pub struct NewOrder {
    /// Order number.
    pub order_id: String,
    /// SHA-256 of the canonical request.
    pub fingerprint: String,
    /// The canonical request (JSON).
    pub request: String,
}

/// The sandbox's invoice number: year, region, `2`, and a 15-digit sequence.
pub(crate) fn sandbox_number(now: i64, region: &str, seq: i64) -> String {
    let year = crate::time::cst_plain(now)[2..4].to_owned();
    format!("{year}{region}2{seq:015}")
}

/// Writes the worker-owned fields of an order back (both backends, and the
/// ledger's status change with its event); `$18` is the lease holder the write
/// requires, or NULL for none (see [`save_params`]).
pub(crate) const SAVE_ORDER: &str = "UPDATE orders SET status = $2, attempts = $3, submitted = $4, next_attempt_at = $5, provider_ref = $6,
   invoice_number = $7, issued_at = $8, pdf_url = $9, ofd_url = $10, xml_url = $11, error_code = $12,
   error_message = $13, error_message_en = $14, updated_at = $15, lease_owner = $16, lease_until = $17, error_field = $19
 WHERE order_id = $1 AND (CAST($18 AS TEXT) IS NULL OR lease_owner = $18)";

/// What a claim to submit writes into an order never submitted: `issuing`,
/// `submitted`, one more attempt, due again when the claim expires (should the
/// instance die with the submission out, any instance may then take it over).
pub(crate) fn mark_submitted(r: &mut Record, now: i64) {
    r.status = Status::Issuing;
    r.submitted = true;
    r.attempts += 1;
    r.next_attempt_at = r.lease_until.max(now);
    r.updated_at = now;
}

/// Marks an issued blue order reversed (both backends and the ledger).
pub(crate) const MARK_REVERSED: &str =
    "UPDATE orders SET status = 'reversed', updated_at = $2 WHERE order_id = $1 AND status = 'issued'";

/// The parameters of [`SAVE_ORDER`]: with `lease = Some((owner, release))` the
/// write happens only while `owner` holds the lease, and `release` frees it;
/// with `None` it happens whoever holds it, and frees it.
pub(crate) fn save_params(r: &Record, lease: Option<(String, bool)>) -> [Val; 19] {
    let (owner, release) = match lease {
        Some((o, release)) => (Some(o), release),
        None => (None, true),
    };
    let (new_owner, new_until) = if release {
        (None, 0)
    } else {
        (r.lease_owner.clone(), r.lease_until)
    };
    crate::vals![
        &r.order_id,
        r.status.as_str(),
        r.attempts,
        r.submitted,
        r.next_attempt_at,
        r.provider_ref.clone(),
        r.invoice_number.clone(),
        r.issued_at,
        r.pdf_url.clone(),
        r.ofd_url.clone(),
        r.xml_url.clone(),
        r.error_code.clone(),
        r.error_message.clone(),
        r.error_message_en.clone(),
        now_ms(),
        new_owner,
        new_until,
        owner,
        r.error_field.clone(),
    ]
}

/// The SQLite migrations, applied in order; `PRAGMA user_version` is the number
/// applied. Version 1 is the original schema (written with `IF NOT EXISTS`, so a
/// database from before versioning is taken as it is).
pub const SQLITE_MIGRATIONS: &[&str] = &[
    // 1: orders, kv, sandbox invoices.
    "
CREATE TABLE IF NOT EXISTS orders (
  order_id TEXT PRIMARY KEY,
  kind TEXT NOT NULL,
  blue_order_id TEXT,
  fingerprint TEXT NOT NULL,
  request TEXT NOT NULL,
  status TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  submitted INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,
  provider_ref TEXT,
  invoice_number TEXT,
  issued_at INTEGER,
  pdf_url TEXT, ofd_url TEXT, xml_url TEXT,
  error_code TEXT, error_message TEXT, error_message_en TEXT,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS orders_due ON orders(next_attempt_at) WHERE status IN ('pending', 'issuing');
CREATE INDEX IF NOT EXISTS orders_blue ON orders(blue_order_id) WHERE blue_order_id IS NOT NULL;
CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL, updated_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS sandbox_invoices (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  order_id TEXT NOT NULL UNIQUE,
  kind TEXT NOT NULL,
  request TEXT NOT NULL,
  ready_at INTEGER NOT NULL,
  fail INTEGER NOT NULL DEFAULT 0,
  number TEXT,
  issued_at INTEGER,
  created_at INTEGER NOT NULL
);",
    // 2: worker leases (the same columns as on PostgreSQL) and named locks.
    "
ALTER TABLE orders ADD COLUMN lease_owner TEXT;
ALTER TABLE orders ADD COLUMN lease_until INTEGER NOT NULL DEFAULT 0;
CREATE TABLE IF NOT EXISTS locks (name TEXT PRIMARY KEY, owner TEXT NOT NULL, until INTEGER NOT NULL);",
    // 3: the ledger: webhook outbox, deliveries, provider notify statuses, archive
    // index, reconciliation findings (the same DDL on PostgreSQL).
    ledger_schema::SCHEMA,
    // 4: deliveries as a durable queue (the same DDL on PostgreSQL).
    ledger_schema::DELIVERY_QUEUE,
    // 5: the field a failure is about (the same DDL on PostgreSQL).
    ERROR_FIELD,
    // 6: batches, their orders, the operators' audit trail (the same DDL on PostgreSQL).
    BATCHES,
    // 7: the seller of each order (see crate::sellers).
    SELLER_COLUMN,
];

/// Migration: batches of orders submitted by operators, and the audit trail of
/// what each operator did (see [`crate::batches`]).
pub(crate) const BATCHES: &str = "
CREATE TABLE IF NOT EXISTS batches (
  batch_id TEXT PRIMARY KEY,
  operator TEXT NOT NULL,
  client_batch_id TEXT,
  name TEXT,
  total BIGINT NOT NULL,
  duplicates TEXT NOT NULL,
  created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS batches_client ON batches (operator, client_batch_id) WHERE client_batch_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS batches_created ON batches (created_at);
CREATE TABLE IF NOT EXISTS batch_orders (
  batch_id TEXT NOT NULL,
  idx BIGINT NOT NULL,
  order_id TEXT NOT NULL,
  duplicate BIGINT NOT NULL,
  PRIMARY KEY (batch_id, idx)
);
CREATE INDEX IF NOT EXISTS batch_orders_order ON batch_orders (order_id);
CREATE TABLE IF NOT EXISTS operator_audit (
  audit_id TEXT PRIMARY KEY,
  at BIGINT NOT NULL,
  operator TEXT NOT NULL,
  action TEXT NOT NULL,
  batch_id TEXT,
  detail TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS operator_audit_at ON operator_audit (at);
";

/// Migration: the seller of each order, derived from its key: "" for the home
/// seller, else the tax ID before the ":" (see [`crate::sellers`]).
pub(crate) const SELLER_COLUMN: &str = "
ALTER TABLE orders ADD COLUMN seller TEXT GENERATED ALWAYS AS
  (CASE WHEN instr(order_id, ':') > 0 THEN substr(order_id, 1, instr(order_id, ':') - 1) ELSE '' END) VIRTUAL;
CREATE INDEX IF NOT EXISTS orders_seller ON orders(seller, status);";

/// Migration: the field of a stored failure.
pub(crate) const ERROR_FIELD: &str = "ALTER TABLE orders ADD COLUMN error_field TEXT;";

fn migrate_sqlite(conn: &Connection) -> rusqlite::Result<()> {
    // BEGIN IMMEDIATE: a second process starting on the same file waits here.
    conn.execute_batch("BEGIN IMMEDIATE")?;
    let run = || -> rusqlite::Result<()> {
        let applied: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        for (i, sql) in SQLITE_MIGRATIONS.iter().enumerate().skip(applied.max(0) as usize) {
            conn.execute_batch(sql)?;
            conn.execute_batch(&format!("PRAGMA user_version = {}", i + 1))?;
        }
        Ok(())
    };
    match run() {
        Ok(()) => conn.execute_batch("COMMIT"),
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            Err(e)
        }
    }
}

/// The SQLite backend: one connection on one database thread, group commit.
#[derive(Clone)]
pub struct SqliteStore {
    tx: mpsc::Sender<Job>,
}

impl SqliteStore {
    /// Opens (or creates) the database file, migrates it and starts the database thread.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| StoreError(format!("cannot create {}: {}", dir.display(), e.kind())))?;
        }
        let conn = Connection::open(path).map_err(|e| StoreError(format!("cannot open {}: {e}", path.display())))?;
        conn.execute_batch(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA busy_timeout=5000; PRAGMA foreign_keys=ON;",
        )
        .and_then(|_| migrate_sqlite(&conn))
        .map_err(|e| StoreError(format!("cannot prepare {}: {e}", path.display())))?;
        let (tx, rx) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("fapiao-store".into())
            .spawn(move || db_thread(conn, rx))
            .map_err(|e| StoreError(format!("cannot start the database thread: {e}")))?;
        Ok(SqliteStore { tx })
    }

    /// Runs `f` on the database thread inside the current batch's transaction;
    /// resolves after the transaction is committed.
    pub async fn call<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        self.run(move |c| f(c).map_err(|e| StoreError(e.to_string()))).await
    }

    /// Like [`SqliteStore::call`] for work that fails with a [`StoreError`].
    async fn run<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move |conn| {
            let r = f(conn);
            let ok = r.is_ok();
            let reply: Reply = Box::new(move |commit| {
                let out = match (r, commit) {
                    (Err(e), _) => Err(e),
                    (Ok(_), Err(c)) => Err(StoreError(c)),
                    (Ok(v), Ok(())) => Ok(v),
                };
                let _ = tx.send(out);
            });
            (ok, reply)
        });
        self.tx
            .send(job)
            .map_err(|_| StoreError("the database thread has stopped".into()))?;
        rx.await
            .map_err(|_| StoreError("the database thread has stopped".into()))?
    }
}

const INSERT_ORDER: &str = "INSERT INTO orders (order_id, kind, blue_order_id, fingerprint, request, status, next_attempt_at, created_at, updated_at)
     VALUES (?1, ?2, ?3, ?4, ?5, 'pending', ?6, ?6, ?6) ON CONFLICT(order_id) DO NOTHING";

impl Backend for SqliteStore {
    fn name(&self) -> &'static str {
        "sqlite"
    }

    fn insert_or_get(
        &self,
        order_id: String,
        kind: &'static str,
        blue_order_id: Option<String>,
        fingerprint: String,
        request: String,
    ) -> BoxFuture<'_, Result<Inserted, StoreError>> {
        Box::pin(self.call(move |c| {
            let now = now_ms();
            let n = c.execute(
                INSERT_ORDER,
                params![order_id, kind, blue_order_id, fingerprint, request, now],
            )?;
            let r = c.query_row(
                &format!("SELECT {COLUMNS} FROM orders WHERE order_id = ?1"),
                [&order_id],
                record,
            )?;
            Ok(if n == 1 {
                Inserted::New(r)
            } else {
                Inserted::Existing(r)
            })
        }))
    }

    /// The check and the insert run inside one `BEGIN IMMEDIATE` transaction on
    /// the single database thread: no other write can come between them.
    fn insert_red_checked(&self, blue_order_id: String, check: RedCheck) -> BoxFuture<'_, RedChecked> {
        Box::pin(self.call(move |c| {
            let blue = c
                .query_row(
                    &format!("SELECT {COLUMNS} FROM orders WHERE order_id = ?1"),
                    [&blue_order_id],
                    record,
                )
                .optional()?;
            let reds: Vec<Record> = {
                let mut s = c.prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM orders WHERE blue_order_id = ?1 ORDER BY created_at, rowid"
                ))?;
                let rows = s
                    .query_map([&blue_order_id], record)?
                    .collect::<rusqlite::Result<_>>()?;
                rows
            };
            let new = match check(blue.as_ref(), &reds) {
                Ok(n) => n,
                Err(e) => return Ok(Err(e)),
            };
            let n = c.execute(
                INSERT_ORDER,
                params![
                    new.order_id,
                    "red",
                    blue_order_id,
                    new.fingerprint,
                    new.request,
                    now_ms()
                ],
            )?;
            let r = c.query_row(
                &format!("SELECT {COLUMNS} FROM orders WHERE order_id = ?1"),
                [&new.order_id],
                record,
            )?;
            Ok(Ok((
                if n == 1 {
                    Inserted::New(r)
                } else {
                    Inserted::Existing(r)
                },
                new.fingerprint,
            )))
        }))
    }

    fn get(&self, order_id: String) -> BoxFuture<'_, Result<Option<Record>, StoreError>> {
        Box::pin(self.call(move |c| {
            c.query_row(
                &format!("SELECT {COLUMNS} FROM orders WHERE order_id = ?1"),
                [&order_id],
                record,
            )
            .optional()
        }))
    }

    fn reds_of(&self, blue_order_id: String) -> BoxFuture<'_, Result<Vec<Record>, StoreError>> {
        Box::pin(self.call(move |c| {
            let mut s = c.prepare(&format!(
                "SELECT {COLUMNS} FROM orders WHERE blue_order_id = ?1 ORDER BY created_at"
            ))?;
            let rows = s.query_map([&blue_order_id], record)?.collect();
            rows
        }))
    }

    fn due(&self, now: i64, limit: usize) -> BoxFuture<'_, Result<Vec<Record>, StoreError>> {
        Box::pin(self.call(move |c| {
            let mut s = c.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM orders WHERE status IN ('pending', 'issuing') AND next_attempt_at <= ?1 AND lease_until <= ?1
                 ORDER BY next_attempt_at LIMIT ?2"
            ))?;
            let rows = s.query_map(params![now, limit as i64], record)?.collect();
            rows
        }))
    }

    fn claim_due(
        &self,
        owner: String,
        now: i64,
        limit: usize,
        lease_ms: i64,
        mark: bool,
    ) -> BoxFuture<'_, Result<Vec<(Record, bool)>, StoreError>> {
        Box::pin(self.call(move |c| {
            // One writer at a time (the batch's BEGIN IMMEDIATE): the select and
            // the updates cannot interleave with another claim, a cancel or a save.
            if mark {
                let until = now + lease_ms;
                let rows: Vec<Record> = c
                    .prepare_cached(&format!(
                        "SELECT {COLUMNS} FROM orders WHERE status IN ('pending', 'issuing') AND next_attempt_at <= ?1 AND lease_until <= ?1
                         ORDER BY next_attempt_at LIMIT ?2"
                    ))?
                    .query_map(params![now, limit as i64], record)?
                    .collect::<rusqlite::Result<_>>()?;
                let mut out = Vec::with_capacity(rows.len());
                for mut r in rows {
                    let marked = !r.submitted;
                    r.lease_owner = Some(owner.clone());
                    r.lease_until = until;
                    if marked {
                        mark_submitted(&mut r, now);
                    }
                    c.prepare_cached(
                        "UPDATE orders SET lease_owner = ?2, lease_until = ?3, status = ?4, submitted = ?5, attempts = ?6,
                           next_attempt_at = ?7, updated_at = ?8 WHERE order_id = ?1",
                    )?
                    .execute(params![
                        r.order_id,
                        owner,
                        until,
                        r.status.as_str(),
                        r.submitted as i64,
                        r.attempts,
                        r.next_attempt_at,
                        r.updated_at
                    ])?;
                    out.push((r, marked));
                }
                return Ok(out);
            }
            let mut s = c.prepare_cached(&format!(
                "UPDATE orders SET lease_owner = ?1, lease_until = ?2 WHERE order_id IN (
                   SELECT order_id FROM orders WHERE status IN ('pending', 'issuing') AND next_attempt_at <= ?3 AND lease_until <= ?3
                   ORDER BY next_attempt_at LIMIT ?4)
                 RETURNING {COLUMNS}"
            ))?;
            let mut rows: Vec<Record> = s.query_map(params![owner, now + lease_ms, now, limit as i64], record)?.collect::<rusqlite::Result<_>>()?;
            rows.sort_by_key(|r| r.next_attempt_at);
            Ok(rows.into_iter().map(|r| (r, false)).collect())
        }))
    }

    fn next_due(&self) -> BoxFuture<'_, Result<Option<i64>, StoreError>> {
        Box::pin(self.call(|c| {
            c.prepare_cached(&tx::sqlite_sql(NEXT_DUE))?
                .query_row([now_ms()], |r| r.get(0))
                .optional()
        }))
    }

    fn save(&self, r: Record, lease: Option<(String, bool)>) -> BoxFuture<'_, Result<bool, StoreError>> {
        Box::pin(self.call(move |c| {
            Ok(c.execute(
                &tx::sqlite_sql(SAVE_ORDER),
                rusqlite::params_from_iter(save_params(&r, lease).iter()),
            )? == 1)
        }))
    }

    fn mark_reversed(&self, order_id: String) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(self.call(move |c| {
            c.execute(&tx::sqlite_sql(MARK_REVERSED), params![order_id, now_ms()])?;
            Ok(())
        }))
    }

    fn nudge(&self, order_id: String, min_interval_ms: i64) -> BoxFuture<'_, Result<bool, StoreError>> {
        Box::pin(self.call(move |c| {
            Ok(c.execute(
                "UPDATE orders SET next_attempt_at = MAX(?2, updated_at + ?3)
                  WHERE order_id = ?1 AND status IN ('pending', 'issuing') AND lease_until <= ?2 AND next_attempt_at > MAX(?2, updated_at + ?3)",
                params![order_id, now_ms(), min_interval_ms],
            )? == 1)
        }))
    }

    fn resume_all(&self) -> BoxFuture<'_, Result<usize, StoreError>> {
        // One process per file: every lease is a leftover of a previous run.
        Box::pin(self.call(|c| {
            c.execute(
                "UPDATE orders SET next_attempt_at = ?1, lease_owner = NULL, lease_until = 0 WHERE status IN ('pending', 'issuing')",
                [now_ms()],
            )
        }))
    }

    fn release_leases(&self, owner: String) -> BoxFuture<'_, Result<usize, StoreError>> {
        Box::pin(self.call(move |c| {
            c.execute(
                "UPDATE orders SET lease_owner = NULL, lease_until = 0, next_attempt_at = MIN(next_attempt_at, ?2)
                 WHERE lease_owner = ?1 AND status IN ('pending', 'issuing')",
                params![owner, now_ms()],
            )
        }))
    }

    fn counts(&self) -> BoxFuture<'_, Result<Vec<(String, i64)>, StoreError>> {
        Box::pin(self.call(|c| {
            let mut s = c.prepare_cached("SELECT status, COUNT(*) FROM orders GROUP BY status")?;
            let rows = s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect();
            rows
        }))
    }

    fn kv_get(&self, key: String) -> BoxFuture<'_, Result<Option<(String, i64)>, StoreError>> {
        Box::pin(self.call(move |c| {
            c.query_row("SELECT value, updated_at FROM kv WHERE key = ?1", [&key], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()
        }))
    }

    fn kv_set(&self, key: String, value: String) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(self.call(move |c| {
            c.execute(
                "INSERT INTO kv (key, value, updated_at) VALUES (?1, ?2, ?3) ON CONFLICT(key) DO UPDATE SET value = ?2, updated_at = ?3",
                params![key, value, now_ms()],
            )?;
            Ok(())
        }))
    }

    fn try_lock(&self, name: String, owner: String, ttl_ms: i64) -> BoxFuture<'_, Result<bool, StoreError>> {
        Box::pin(self.call(move |c| {
            let now = now_ms();
            let n = c.execute(
                "INSERT INTO locks (name, owner, until) VALUES (?1, ?2, ?3)
                 ON CONFLICT(name) DO UPDATE SET owner = ?2, until = ?3 WHERE locks.until <= ?4 OR locks.owner = ?2",
                params![name, owner, now + ttl_ms, now],
            )?;
            Ok(n == 1)
        }))
    }

    fn unlock(&self, name: String, owner: String) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(self.call(move |c| {
            c.execute("DELETE FROM locks WHERE name = ?1 AND owner = ?2", params![name, owner])?;
            Ok(())
        }))
    }

    fn sandbox_insert(
        &self,
        order_id: String,
        kind: &'static str,
        request: String,
        ready_at: i64,
        fail: bool,
        region: String,
    ) -> BoxFuture<'_, Result<bool, StoreError>> {
        Box::pin(self.call(move |c| {
            let now = now_ms();
            let n = c.execute(
                "INSERT INTO sandbox_invoices (order_id, kind, request, ready_at, fail, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT(order_id) DO NOTHING",
                params![order_id, kind, request, ready_at, fail as i64, now],
            )?;
            if n == 1 {
                let number = sandbox_number(now, &region, c.last_insert_rowid());
                c.execute("UPDATE sandbox_invoices SET number = ?2, issued_at = ?3 WHERE order_id = ?1", params![order_id, number, ready_at])?;
            }
            Ok(n == 1)
        }))
    }

    fn sandbox_get(&self, order_id: String) -> BoxFuture<'_, Result<Option<SandboxInvoice>, StoreError>> {
        Box::pin(self.call(move |c| {
            c.query_row(
                "SELECT kind, request, ready_at, fail, number, issued_at FROM sandbox_invoices WHERE order_id = ?1",
                [&order_id],
                |r| {
                    Ok(SandboxInvoice {
                        kind: r.get(0)?,
                        request: r.get(1)?,
                        ready_at: r.get(2)?,
                        fail: r.get::<_, i64>(3)? != 0,
                        number: r.get(4)?,
                        issued_at: r.get(5)?,
                    })
                },
            )
            .optional()
        }))
    }

    fn sandbox_count(&self, order_id: Option<String>) -> BoxFuture<'_, Result<i64, StoreError>> {
        Box::pin(self.call(move |c| match order_id {
            Some(id) => c.query_row("SELECT COUNT(*) FROM sandbox_invoices WHERE order_id = ?1", [id], |r| {
                r.get(0)
            }),
            None => c.query_row("SELECT COUNT(*) FROM sandbox_invoices", [], |r| r.get(0)),
        }))
    }

    /// The job runs on the database thread inside the batch's transaction (its
    /// own savepoint, rolled back when it fails); every statement completes at
    /// once, so its future is driven there to the end.
    fn transaction(&self, job: TxJob) -> BoxFuture<'_, Result<Box<dyn Any + Send>, StoreError>> {
        Box::pin(self.run(move |c| {
            let mut t = tx::SqliteTx::new(c);
            tx::ready(job(&mut t))
        }))
    }
}

impl Store {
    /// Opens (or creates) the SQLite database file, migrates it and starts the
    /// database thread.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        Ok(Store::with_backend(Arc::new(SqliteStore::open(path)?)))
    }

    /// Connects to PostgreSQL (`postgres://…`), migrates the database and starts
    /// listening for changes made by other instances.
    pub async fn open_postgres(url: &str, pool_size: usize) -> Result<Store, StoreError> {
        Ok(Store::with_backend(Arc::new(
            postgres::PgStore::connect(url, pool_size).await?,
        )))
    }

    /// The store the configuration names.
    pub async fn from_config(config: &crate::Config) -> Result<Store, StoreError> {
        match &config.postgres {
            Some(url) => Store::open_postgres(url.expose(), config.database_pool).await,
            None => Store::open(&config.database_path),
        }
    }

    /// A store over any backend.
    pub fn with_backend(inner: Arc<dyn Backend>) -> Store {
        Store { inner }
    }

    /// `sqlite` or `postgres`.
    pub fn backend(&self) -> &'static str {
        self.inner.name()
    }

    /// Stores a new order, or returns the one stored under the same id (an
    /// idempotent insert: `ON CONFLICT (order_id) DO NOTHING`).
    pub async fn insert_or_get(
        &self,
        order_id: String,
        kind: &'static str,
        blue_order_id: Option<String>,
        fingerprint: String,
        request: String,
    ) -> Result<Inserted, StoreError> {
        self.inner
            .insert_or_get(order_id, kind, blue_order_id, fingerprint, request)
            .await
    }

    /// Stores a red order for `blue_order_id` after `check` approved it, as one
    /// step: the blue record and its earlier red orders are read, `check` decides
    /// (and builds the canonical request), and the insert happens, all in one
    /// transaction — `BEGIN IMMEDIATE` on SQLite's single database thread, a row
    /// lock on the blue order (`SELECT … FOR UPDATE`) on PostgreSQL. No other red
    /// order for the same blue can come between the check "never more than what
    /// remains un-reversed" and the insert, so concurrent partial red letters
    /// cannot together exceed the blue invoice, whichever instance takes them.
    ///
    /// `check` gets the blue record (`None` when it does not exist) and the red
    /// orders of the blue, oldest first. When it refuses, nothing is written and
    /// its error is returned as `Ok(Err(_))`; otherwise the answer carries what
    /// the insert found and the fingerprint `check` offered (an existing record
    /// with another fingerprint is a conflict for the caller to report).
    pub async fn insert_red_checked<E, F>(
        &self,
        blue_order_id: String,
        check: F,
    ) -> Result<Result<(Inserted, String), E>, StoreError>
    where
        E: Send + 'static,
        F: FnOnce(Option<&Record>, &[Record]) -> Result<NewOrder, E> + Send + 'static,
    {
        let erased: RedCheck =
            Box::new(move |blue, reds| check(blue, reds).map_err(|e| Box::new(e) as Box<dyn Any + Send>));
        Ok(match self.inner.insert_red_checked(blue_order_id, erased).await? {
            Ok(v) => Ok(v),
            Err(e) => Err(*e
                .downcast::<E>()
                .map_err(|_| StoreError("red-letter check: unexpected error type".into()))?),
        })
    }

    /// One order.
    pub async fn get(&self, order_id: &str) -> Result<Option<Record>, StoreError> {
        if order_id.contains('\0') {
            // Not a valid order id; PostgreSQL text cannot even hold it.
            return Ok(None);
        }
        self.inner.get(order_id.to_owned()).await
    }

    /// The red orders of a blue one.
    pub async fn reds_of(&self, blue_order_id: &str) -> Result<Vec<Record>, StoreError> {
        if blue_order_id.contains('\0') {
            return Ok(Vec::new());
        }
        self.inner.reds_of(blue_order_id.to_owned()).await
    }

    /// Unfinished orders whose time has come and that no worker holds, oldest
    /// first (read only; the worker uses [`Store::claim_due`]).
    pub async fn due(&self, now: i64, limit: usize) -> Result<Vec<Record>, StoreError> {
        self.inner.due(now, limit).await
    }

    /// Claims up to `limit` unfinished orders whose time has come and whose lease
    /// is free or expired, for `owner` until `now + lease_ms`. An order is claimed
    /// by one worker at a time (on PostgreSQL `FOR UPDATE SKIP LOCKED`: instances
    /// skip each other's rows instead of waiting); the orders of a worker that
    /// died are claimed again once its lease has expired.
    pub async fn claim_due(
        &self,
        owner: &str,
        now: i64,
        limit: usize,
        lease_ms: i64,
    ) -> Result<Vec<Record>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        Ok(self
            .inner
            .claim_due(owner.to_owned(), now, limit, lease_ms, false)
            .await?
            .into_iter()
            .map(|(r, _)| r)
            .collect())
    }

    /// Like [`Store::claim_due`], and in the same statement marks each claimed
    /// order that was never submitted as submitted (`issuing`, `submitted`, one
    /// more attempt, due again when the claim expires) — the durable mark the
    /// worker needs before it calls the provider, written for a whole chunk of
    /// orders at once instead of one transaction per order. The flag is true
    /// for the orders this claim marked: the worker submits those at once; any
    /// other submitted order is queried before it is submitted again. An order
    /// marked here that the worker then does not submit (breaker open, a crash)
    /// is queried first next time, which finds nothing and submits it: never two
    /// invoices, at most one extra query.
    pub async fn claim_to_submit(
        &self,
        owner: &str,
        now: i64,
        limit: usize,
        lease_ms: i64,
    ) -> Result<Vec<(Record, bool)>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        self.inner.claim_due(owner.to_owned(), now, limit, lease_ms, true).await
    }

    /// The earliest time an unfinished order is due (and not leased), if any.
    pub async fn next_due(&self) -> Result<Option<i64>, StoreError> {
        self.inner.next_due().await
    }

    /// Writes the worker-owned fields of a record back, whoever holds it, and
    /// frees its lease.
    pub async fn save(&self, r: Record) -> Result<(), StoreError> {
        self.inner.save(r, None).await.map(|_| ())
    }

    /// Writes the worker-owned fields of a claimed record back, only while `owner`
    /// still holds its lease; `release` frees the lease, otherwise the record's
    /// `lease_until` is stored. False when the lease was lost (another instance
    /// took the order over): the caller must drop the order.
    pub async fn save_claimed(&self, r: Record, owner: &str, release: bool) -> Result<bool, StoreError> {
        self.inner.save(r, Some((owner.to_owned(), release))).await
    }

    /// Marks a blue order reversed (after a full red invoice was issued).
    pub async fn mark_reversed(&self, order_id: &str) -> Result<(), StoreError> {
        self.inner.mark_reversed(order_id.to_owned()).await
    }

    /// Makes an unfinished order due soon (a callback's prompt to re-query): now,
    /// or `min_interval_ms` after the order was last written (its last provider
    /// call), whichever is later. An order a worker holds is left alone (its
    /// call is in flight), and an order due earlier anyway keeps its time, so
    /// any number of prompts make at most one query per order per interval.
    /// True when the order's time moved.
    pub async fn nudge(&self, order_id: &str, min_interval_ms: i64) -> Result<bool, StoreError> {
        if order_id.contains('\0') {
            return Ok(false);
        }
        self.inner.nudge(order_id.to_owned(), min_interval_ms.max(0)).await
    }

    /// After a (re)start: every unfinished order that no live instance holds is
    /// due now.
    pub async fn resume_all(&self) -> Result<usize, StoreError> {
        self.inner.resume_all().await
    }

    /// Frees the leases `owner` holds (an instance restarted under the same
    /// `FAPIAO_INSTANCE_ID` takes its unfinished orders back at once); they are due now.
    pub async fn release_leases(&self, owner: &str) -> Result<usize, StoreError> {
        self.inner.release_leases(owner.to_owned()).await
    }

    /// Counts orders by status (for `/metrics`).
    pub async fn counts(&self) -> Result<Vec<(String, i64)>, StoreError> {
        self.inner.counts().await
    }

    /// A stored value (e.g. the provider's access token).
    pub async fn kv_get(&self, key: &str) -> Result<Option<(String, i64)>, StoreError> {
        self.inner.kv_get(key.to_owned()).await
    }

    /// Stores a value.
    pub async fn kv_set(&self, key: &str, value: &str) -> Result<(), StoreError> {
        self.inner.kv_set(key.to_owned(), value.to_owned()).await
    }

    /// Takes the named lock for `owner` for `ttl_ms` (a lease: it frees itself if
    /// the owner dies); true when taken (or already held by `owner`). Shared by
    /// every instance on the same database (e.g. only one fetches a provider token).
    pub async fn try_lock(&self, name: &str, owner: &str, ttl_ms: i64) -> Result<bool, StoreError> {
        self.inner.try_lock(name.to_owned(), owner.to_owned(), ttl_ms).await
    }

    /// Frees the named lock if `owner` holds it.
    pub async fn unlock(&self, name: &str, owner: &str) -> Result<(), StoreError> {
        self.inner.unlock(name.to_owned(), owner.to_owned()).await
    }

    /// The sandbox provider: stores an invoice for `order_id` unless one exists
    /// (a unique constraint on the order id); false when one existed.
    pub async fn sandbox_insert(
        &self,
        order_id: &str,
        kind: &'static str,
        request: String,
        ready_at: i64,
        fail: bool,
        region: &str,
    ) -> Result<bool, StoreError> {
        self.inner
            .sandbox_insert(order_id.to_owned(), kind, request, ready_at, fail, region.to_owned())
            .await
    }

    /// The sandbox provider's invoice for an order.
    pub async fn sandbox_get(&self, order_id: &str) -> Result<Option<SandboxInvoice>, StoreError> {
        self.inner.sandbox_get(order_id.to_owned()).await
    }

    /// How many sandbox invoices exist for an order (`None`: in all).
    pub async fn sandbox_count(&self, order_id: Option<&str>) -> Result<i64, StoreError> {
        self.inner.sandbox_count(order_id.map(str::to_owned)).await
    }

    /// Runs `f` in one transaction over either backend, with statements written
    /// once in PostgreSQL's `$1` style (see [`tx`]): committed when `f` succeeds,
    /// rolled back when it fails. On SQLite the transaction is the database
    /// thread's (no other write comes between its statements); on PostgreSQL it
    /// is `READ COMMITTED` on one pooled connection, and `f` takes the row locks
    /// it needs ([`Tx::row_lock`], [`Tx::skip_locked`]).
    pub async fn transaction<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut dyn Tx) -> BoxFuture<'c, Result<T, StoreError>> + Send + 'static,
    {
        let job: TxJob = Box::new(move |t| {
            let fut = f(t);
            Box::pin(async move { fut.await.map(|v| Box::new(v) as Box<dyn Any + Send>) })
        });
        let out = self.inner.transaction(job).await?;
        out.downcast::<T>()
            .map(|b| *b)
            .map_err(|_| StoreError("transaction: unexpected result type".into()))
    }

    /// Forwards status changes made by other instances to `updates`.
    pub fn watch(&self, updates: broadcast::Sender<Arc<str>>) {
        self.inner.watch(updates)
    }
}

fn db_thread(mut conn: Connection, rx: mpsc::Receiver<Job>) {
    const BATCH: usize = 256;
    while let Ok(first) = rx.recv() {
        let mut jobs = vec![first];
        while jobs.len() < BATCH {
            match rx.try_recv() {
                Ok(j) => jobs.push(j),
                Err(_) => break,
            }
        }
        let began = conn.execute_batch("BEGIN IMMEDIATE");
        let mut replies = Vec::with_capacity(jobs.len());
        for job in jobs {
            if began.is_ok() {
                let _ = conn.execute_batch("SAVEPOINT job");
            }
            let (ok, reply) = job(&mut conn);
            if began.is_ok() {
                if !ok {
                    let _ = conn.execute_batch("ROLLBACK TO job");
                }
                let _ = conn.execute_batch("RELEASE job");
            }
            replies.push(reply);
        }
        let commit = match began {
            Err(e) => Err(format!("cannot begin a transaction: {e}")),
            Ok(()) => conn.execute_batch("COMMIT").map_err(|e| {
                let _ = conn.execute_batch("ROLLBACK");
                format!("cannot commit: {e}")
            }),
        };
        for reply in replies {
            reply(commit.clone());
        }
    }
}
