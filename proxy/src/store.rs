//! The durable order store: one SQLite file in WAL mode, created on first start.
//!
//! All statements run on one database thread. Work that arrives while a
//! transaction is being written is batched into the next one (group commit), so
//! every caller's write is durable (`synchronous=FULL`) before its future
//! resolves, at the cost of one fsync per batch rather than per order.

use std::path::Path;
use std::sync::mpsc;

use rusqlite::{params, Connection, OptionalExtension, Row};

use crate::time::now_ms;

type Reply = Box<dyn FnOnce(Result<(), String>) + Send>;
type Job = Box<dyn FnOnce(&Connection) -> (bool, Reply) + Send>;

/// A store error: the database could not be read or written.
#[derive(Debug, Clone, thiserror::Error)]
#[error("order store: {0}")]
pub struct StoreError(pub String);

/// Handle to the store; cheap to clone.
#[derive(Clone)]
pub struct Store {
    tx: mpsc::Sender<Job>,
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
        }
    }
    fn parse(s: &str) -> Status {
        match s {
            "issuing" => Status::Issuing,
            "issued" => Status::Issued,
            "failed" => Status::Failed,
            "reversed" => Status::Reversed,
            _ => Status::Pending,
        }
    }
    /// True when nothing will change any more (a reversal aside).
    pub fn is_final(self) -> bool {
        matches!(self, Status::Issued | Status::Failed | Status::Reversed)
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
    /// Creation time (epoch ms).
    pub created_at: i64,
    /// Last change (epoch ms).
    pub updated_at: i64,
}

const COLUMNS: &str = "order_id, kind, blue_order_id, fingerprint, request, status, attempts, submitted, next_attempt_at, \
    provider_ref, invoice_number, issued_at, pdf_url, ofd_url, xml_url, error_code, error_message, error_message_en, created_at, updated_at";

fn record(r: &Row) -> rusqlite::Result<Record> {
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

const SCHEMA: &str = "
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
);
";

impl Store {
    /// Opens (or creates) the database file and starts the database thread.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| StoreError(format!("cannot create {}: {}", dir.display(), e.kind())))?;
        }
        let conn = Connection::open(path).map_err(|e| StoreError(format!("cannot open {}: {e}", path.display())))?;
        conn.execute_batch("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA busy_timeout=5000; PRAGMA foreign_keys=ON;")
            .and_then(|_| conn.execute_batch(SCHEMA))
            .map_err(|e| StoreError(format!("cannot prepare {}: {e}", path.display())))?;
        let (tx, rx) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("fapiao-store".into())
            .spawn(move || db_thread(conn, rx))
            .map_err(|e| StoreError(format!("cannot start the database thread: {e}")))?;
        Ok(Store { tx })
    }

    /// Runs `f` on the database thread inside the current batch's transaction;
    /// resolves after the transaction is committed.
    pub async fn call<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move |conn| {
            let r = f(conn);
            let ok = r.is_ok();
            let reply: Reply = Box::new(move |commit| {
                let out = match (r, commit) {
                    (Err(e), _) => Err(StoreError(e.to_string())),
                    (Ok(_), Err(c)) => Err(StoreError(c)),
                    (Ok(v), Ok(())) => Ok(v),
                };
                let _ = tx.send(out);
            });
            (ok, reply)
        });
        self.tx.send(job).map_err(|_| StoreError("the database thread has stopped".into()))?;
        rx.await.map_err(|_| StoreError("the database thread has stopped".into()))?
    }

    /// Stores a new order, or returns the one stored under the same id.
    pub async fn insert_or_get(
        &self,
        order_id: String,
        kind: &'static str,
        blue_order_id: Option<String>,
        fingerprint: String,
        request: String,
    ) -> Result<Inserted, StoreError> {
        self.call(move |c| {
            let now = now_ms();
            let n = c.execute(
                "INSERT INTO orders (order_id, kind, blue_order_id, fingerprint, request, status, next_attempt_at, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, 'pending', ?6, ?6, ?6) ON CONFLICT(order_id) DO NOTHING",
                params![order_id, kind, blue_order_id, fingerprint, request, now],
            )?;
            let r = c.query_row(&format!("SELECT {COLUMNS} FROM orders WHERE order_id = ?1"), [&order_id], record)?;
            Ok(if n == 1 { Inserted::New(r) } else { Inserted::Existing(r) })
        })
        .await
    }

    /// Stores a red order for `blue_order_id` after `check` approved it, as one
    /// step: the blue record and its earlier red orders are read, `check` decides
    /// (and builds the canonical request), and the insert happens, all inside one
    /// `BEGIN IMMEDIATE` transaction on the single database thread. No other write
    /// can come between the check "never more than what remains un-reversed" and
    /// the insert, so concurrent partial red letters cannot together exceed the
    /// blue invoice.
    ///
    /// `check` gets the blue record (`None` when it does not exist) and the red
    /// orders of the blue, oldest first. When it refuses, nothing is written and
    /// its error is returned as `Ok(Err(_))`; otherwise the answer carries what
    /// the insert found and the fingerprint `check` offered (an existing record
    /// with another fingerprint is a conflict for the caller to report).
    pub async fn insert_red_checked<E, F>(&self, blue_order_id: String, check: F) -> Result<Result<(Inserted, String), E>, StoreError>
    where
        E: Send + 'static,
        F: FnOnce(Option<&Record>, &[Record]) -> Result<NewOrder, E> + Send + 'static,
    {
        self.call(move |c| {
            let blue = c.query_row(&format!("SELECT {COLUMNS} FROM orders WHERE order_id = ?1"), [&blue_order_id], record).optional()?;
            let reds: Vec<Record> = {
                let mut s = c.prepare_cached(&format!("SELECT {COLUMNS} FROM orders WHERE blue_order_id = ?1 ORDER BY created_at, rowid"))?;
                let rows = s.query_map([&blue_order_id], record)?.collect::<rusqlite::Result<_>>()?;
                rows
            };
            let new = match check(blue.as_ref(), &reds) {
                Ok(n) => n,
                Err(e) => return Ok(Err(e)),
            };
            let now = now_ms();
            let n = c.execute(
                "INSERT INTO orders (order_id, kind, blue_order_id, fingerprint, request, status, next_attempt_at, created_at, updated_at)
                 VALUES (?1, 'red', ?2, ?3, ?4, 'pending', ?5, ?5, ?5) ON CONFLICT(order_id) DO NOTHING",
                params![new.order_id, blue_order_id, new.fingerprint, new.request, now],
            )?;
            let r = c.query_row(&format!("SELECT {COLUMNS} FROM orders WHERE order_id = ?1"), [&new.order_id], record)?;
            Ok(Ok((if n == 1 { Inserted::New(r) } else { Inserted::Existing(r) }, new.fingerprint)))
        })
        .await
    }

    /// One order.
    pub async fn get(&self, order_id: &str) -> Result<Option<Record>, StoreError> {
        let id = order_id.to_owned();
        self.call(move |c| c.query_row(&format!("SELECT {COLUMNS} FROM orders WHERE order_id = ?1"), [&id], record).optional())
            .await
    }

    /// The red orders of a blue one.
    pub async fn reds_of(&self, blue_order_id: &str) -> Result<Vec<Record>, StoreError> {
        let id = blue_order_id.to_owned();
        self.call(move |c| {
            let mut s = c.prepare(&format!("SELECT {COLUMNS} FROM orders WHERE blue_order_id = ?1 ORDER BY created_at"))?;
            let rows = s.query_map([&id], record)?.collect();
            rows
        })
        .await
    }

    /// Unfinished orders whose time has come, oldest first.
    pub async fn due(&self, now: i64, limit: usize) -> Result<Vec<Record>, StoreError> {
        self.call(move |c| {
            let mut s = c.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM orders WHERE status IN ('pending', 'issuing') AND next_attempt_at <= ?1 ORDER BY next_attempt_at LIMIT ?2"
            ))?;
            let rows = s.query_map(params![now, limit as i64], record)?.collect();
            rows
        })
        .await
    }

    /// The earliest time an unfinished order is due, if any.
    pub async fn next_due(&self) -> Result<Option<i64>, StoreError> {
        self.call(|c| {
            c.query_row("SELECT MIN(next_attempt_at) FROM orders WHERE status IN ('pending', 'issuing')", [], |r| r.get(0))
        })
        .await
    }

    /// Writes the worker-owned fields of a record back.
    pub async fn save(&self, r: Record) -> Result<(), StoreError> {
        self.call(move |c| {
            c.execute(
                "UPDATE orders SET status = ?2, attempts = ?3, submitted = ?4, next_attempt_at = ?5, provider_ref = ?6,
                   invoice_number = ?7, issued_at = ?8, pdf_url = ?9, ofd_url = ?10, xml_url = ?11, error_code = ?12,
                   error_message = ?13, error_message_en = ?14, updated_at = ?15 WHERE order_id = ?1",
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
            Ok(())
        })
        .await
    }

    /// Marks a blue order reversed (after a full red invoice was issued).
    pub async fn mark_reversed(&self, order_id: &str) -> Result<(), StoreError> {
        let id = order_id.to_owned();
        self.call(move |c| {
            c.execute("UPDATE orders SET status = 'reversed', updated_at = ?2 WHERE order_id = ?1 AND status = 'issued'", params![id, now_ms()])?;
            Ok(())
        })
        .await
    }

    /// Makes an unfinished order due now (a callback's prompt to re-query).
    pub async fn nudge(&self, order_id: &str) -> Result<bool, StoreError> {
        let id = order_id.to_owned();
        self.call(move |c| {
            Ok(c.execute(
                "UPDATE orders SET next_attempt_at = ?2 WHERE order_id = ?1 AND status IN ('pending', 'issuing')",
                params![id, now_ms()],
            )? == 1)
        })
        .await
    }

    /// After a (re)start: every unfinished order is due now.
    pub async fn resume_all(&self) -> Result<usize, StoreError> {
        self.call(|c| c.execute("UPDATE orders SET next_attempt_at = ?1 WHERE status IN ('pending', 'issuing')", [now_ms()]))
            .await
    }

    /// Counts orders by status (for `/metrics`).
    pub async fn counts(&self) -> Result<Vec<(String, i64)>, StoreError> {
        self.call(|c| {
            let mut s = c.prepare_cached("SELECT status, COUNT(*) FROM orders GROUP BY status")?;
            let rows = s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect();
            rows
        })
        .await
    }

    /// A stored value (e.g. the provider's access token).
    pub async fn kv_get(&self, key: &str) -> Result<Option<(String, i64)>, StoreError> {
        let k = key.to_owned();
        self.call(move |c| c.query_row("SELECT value, updated_at FROM kv WHERE key = ?1", [&k], |r| Ok((r.get(0)?, r.get(1)?))).optional())
            .await
    }

    /// Stores a value.
    pub async fn kv_set(&self, key: &str, value: &str) -> Result<(), StoreError> {
        let (k, v) = (key.to_owned(), value.to_owned());
        self.call(move |c| {
            c.execute(
                "INSERT INTO kv (key, value, updated_at) VALUES (?1, ?2, ?3) ON CONFLICT(key) DO UPDATE SET value = ?2, updated_at = ?3",
                params![k, v, now_ms()],
            )?;
            Ok(())
        })
        .await
    }
}

fn db_thread(conn: Connection, rx: mpsc::Receiver<Job>) {
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
            let (ok, reply) = job(&conn);
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
