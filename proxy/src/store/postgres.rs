//! The PostgreSQL backend: several proxy instances on one database.
//!
//! - **Connections**: `tokio-postgres` without TLS (a loopback or private-network
//!   connection) and a small pool of its own: at most `pool_size` connections,
//!   each with its prepared statements; a connection that broke, or that was
//!   dropped inside a transaction (a cancelled request), is not reused.
//! - **Migrations**: numbered, applied at start inside one transaction that first
//!   takes `pg_advisory_xact_lock`, so instances starting together apply each
//!   migration once; `schema_migrations` records what was applied.
//! - **Claims**: `UPDATE … WHERE order_id IN (SELECT … FOR UPDATE SKIP LOCKED)`
//!   sets `lease_owner` and `lease_until`; only unleased or expired rows are
//!   claimed, and the worker's writes are conditional on still holding the lease.
//! - **Red letters**: the blue row is locked (`SELECT … FOR UPDATE`) for the check
//!   and the insert of a red order, so red orders for one blue are decided one
//!   after another across instances.
//! - **Changes**: a trigger sends `NOTIFY fapiao_orders, '<order id>'` when an
//!   order's status changes; each instance `LISTEN`s on its own connection and
//!   wakes its long polls and event streams.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::future::BoxFuture;
use tokio::sync::{broadcast, Semaphore, SemaphorePermit};
use tokio_postgres::types::ToSql;
use tokio_postgres::{AsyncMessage, Client, NoTls, Row, Statement};

use super::tx::{self, Tx, TxJob, Val};
use super::{
    save_params, Backend, Inserted, Record, RedCheck, RedChecked, SandboxInvoice, Status, StoreError, COLUMNS,
    MARK_REVERSED, SAVE_ORDER,
};
use crate::secret::redact_url as redact;
use crate::time::now_ms;

/// The PostgreSQL migrations, applied in order (version = index + 1).
pub const MIGRATIONS: &[&str] = &[
    // 1: orders (with worker leases), kv, named locks, sandbox invoices, change notifications.
    r#"
CREATE TABLE orders (
  order_id TEXT PRIMARY KEY,
  kind TEXT NOT NULL,
  blue_order_id TEXT,
  fingerprint TEXT NOT NULL,
  request TEXT NOT NULL,
  status TEXT NOT NULL,
  attempts BIGINT NOT NULL DEFAULT 0,
  submitted BOOLEAN NOT NULL DEFAULT false,
  next_attempt_at BIGINT NOT NULL,
  provider_ref TEXT,
  invoice_number TEXT,
  issued_at BIGINT,
  pdf_url TEXT, ofd_url TEXT, xml_url TEXT,
  error_code TEXT, error_message TEXT, error_message_en TEXT,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  lease_owner TEXT,
  lease_until BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX orders_due ON orders(next_attempt_at) WHERE status IN ('pending', 'issuing');
CREATE INDEX orders_blue ON orders(blue_order_id) WHERE blue_order_id IS NOT NULL;
CREATE TABLE kv (key TEXT PRIMARY KEY, value TEXT NOT NULL, updated_at BIGINT NOT NULL);
CREATE TABLE locks (name TEXT PRIMARY KEY, owner TEXT NOT NULL, until BIGINT NOT NULL);
CREATE SEQUENCE sandbox_invoice_seq;
CREATE TABLE sandbox_invoices (
  seq BIGINT PRIMARY KEY,
  order_id TEXT NOT NULL UNIQUE,
  kind TEXT NOT NULL,
  request TEXT NOT NULL,
  ready_at BIGINT NOT NULL,
  fail BOOLEAN NOT NULL DEFAULT false,
  number TEXT,
  issued_at BIGINT,
  created_at BIGINT NOT NULL
);
CREATE FUNCTION fapiao_order_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('fapiao_orders', NEW.order_id);
  RETURN NULL;
END $$;
CREATE TRIGGER orders_status_changed AFTER UPDATE ON orders
  FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status) EXECUTE FUNCTION fapiao_order_changed();
"#,
    // 2: the ledger: webhook outbox, deliveries, provider notify statuses, archive
    // index, reconciliation findings (the same DDL as SQLite's migration 3).
    super::ledger_schema::SCHEMA,
    // 3: deliveries as a durable queue.
    super::ledger_schema::DELIVERY_QUEUE,
    // 4: the field of a stored failure.
    super::ERROR_FIELD,
    // 5: batches, their orders, the operators' audit trail.
    super::BATCHES,
    // 6: the seller of each order (as SQLite's SELLER_COLUMN).
    SELLER_COLUMN,
];

/// Migration: the seller of each order, derived from its key: "" for the home
/// seller, else the tax ID before the ":" (see [`crate::sellers`]).
const SELLER_COLUMN: &str = "
ALTER TABLE orders ADD COLUMN IF NOT EXISTS seller TEXT GENERATED ALWAYS AS
  (CASE WHEN strpos(order_id, ':') > 0 THEN split_part(order_id, ':', 1) ELSE '' END) STORED;
CREATE INDEX IF NOT EXISTS orders_seller ON orders(seller, status);";

/// The advisory lock key that serialises migrations ("fapiao" in ASCII).
const MIGRATION_LOCK: i64 = 0x66_61_70_69_61_6f;

/// The channel of status-change notifications.
const CHANNEL: &str = "fapiao_orders";

fn err(e: tokio_postgres::Error) -> StoreError {
    match e.as_db_error() {
        Some(db) => StoreError(format!("postgres: {} ({})", db.message(), db.code().code())),
        None => StoreError(format!("postgres: {e}")),
    }
}

fn record(r: &Row) -> Record {
    Record {
        order_id: r.get(0),
        kind: r.get(1),
        blue_order_id: r.get(2),
        fingerprint: r.get(3),
        request: r.get(4),
        status: Status::parse(r.get::<_, &str>(5)),
        attempts: r.get(6),
        submitted: r.get(7),
        next_attempt_at: r.get(8),
        provider_ref: r.get(9),
        invoice_number: r.get(10),
        issued_at: r.get(11),
        pdf_url: r.get(12),
        ofd_url: r.get(13),
        xml_url: r.get(14),
        error_code: r.get(15),
        error_message: r.get(16),
        error_message_en: r.get(17),
        created_at: r.get(18),
        updated_at: r.get(19),
        lease_owner: r.get(20),
        lease_until: r.get(21),
        error_field: r.get(22),
    }
}

struct PgConn {
    client: Client,
    statements: HashMap<String, Statement>,
}

/// A pooled connection; goes back to the pool when dropped, unless it broke or
/// was dropped inside a transaction.
struct Conn<'a> {
    pool: &'a Pool,
    conn: Option<PgConn>,
    in_tx: bool,
    _permit: SemaphorePermit<'a>,
}

impl Conn<'_> {
    fn c(&mut self) -> &mut PgConn {
        self.conn
            .as_mut()
            .expect("a pooled connection is present until dropped")
    }

    async fn prepare(&mut self, sql: &str) -> Result<Statement, StoreError> {
        let c = self.c();
        if let Some(s) = c.statements.get(sql) {
            return Ok(s.clone());
        }
        let s = c.client.prepare(sql).await.map_err(err)?;
        c.statements.insert(sql.to_owned(), s.clone());
        Ok(s)
    }

    async fn query(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>, StoreError> {
        let s = self.prepare(sql).await?;
        self.c().client.query(&s, params).await.map_err(err)
    }

    async fn query_opt(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Option<Row>, StoreError> {
        Ok(self.query(sql, params).await?.into_iter().next())
    }

    async fn execute(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<u64, StoreError> {
        let s = self.prepare(sql).await?;
        self.c().client.execute(&s, params).await.map_err(err)
    }

    async fn batch(&mut self, sql: &str) -> Result<(), StoreError> {
        self.c().client.batch_execute(sql).await.map_err(err)
    }

    async fn begin(&mut self) -> Result<(), StoreError> {
        self.in_tx = true;
        self.batch("BEGIN").await
    }

    async fn commit(&mut self) -> Result<(), StoreError> {
        self.batch("COMMIT").await?;
        self.in_tx = false;
        Ok(())
    }

    async fn rollback(&mut self) {
        if self.batch("ROLLBACK").await.is_ok() {
            self.in_tx = false;
        }
    }

    /// Ends the transaction opened by [`Conn::begin`]: commits when the work
    /// succeeded (a failed commit is the answer), rolls back when it did not.
    async fn finish<T>(&mut self, work: Result<T, StoreError>) -> Result<T, StoreError> {
        match work {
            Ok(v) => {
                self.commit().await?;
                Ok(v)
            }
            Err(e) => {
                self.rollback().await;
                Err(e)
            }
        }
    }
}

impl Drop for Conn<'_> {
    fn drop(&mut self) {
        if let Some(c) = self.conn.take() {
            if !self.in_tx && !c.client.is_closed() {
                self.pool.idle.lock().unwrap_or_else(|p| p.into_inner()).push(c);
            }
        }
    }
}

struct Pool {
    config: tokio_postgres::Config,
    idle: Mutex<Vec<PgConn>>,
    permits: Semaphore,
}

async fn connect(config: &tokio_postgres::Config) -> Result<Client, StoreError> {
    let (client, connection) = config.connect(NoTls).await.map_err(err)?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::warn!(error = %err(e), "database connection closed");
        }
    });
    Ok(client)
}

impl Pool {
    async fn get(&self) -> Result<Conn<'_>, StoreError> {
        let permit = tokio::time::timeout(Duration::from_secs(30), self.permits.acquire())
            .await
            .map_err(|_| StoreError("postgres: no free connection in 30 s".into()))?
            .map_err(|_| StoreError("postgres: the pool is closed".into()))?;
        loop {
            let idle = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
            match idle {
                Some(c) if !c.client.is_closed() => {
                    return Ok(Conn {
                        pool: self,
                        conn: Some(c),
                        in_tx: false,
                        _permit: permit,
                    })
                }
                Some(_) => continue,
                None => break,
            }
        }
        let client = connect(&self.config).await?;
        Ok(Conn {
            pool: self,
            conn: Some(PgConn {
                client,
                statements: HashMap::new(),
            }),
            in_tx: false,
            _permit: permit,
        })
    }
}

/// The PostgreSQL backend.
pub struct PgStore {
    pool: Arc<Pool>,
}

impl PgStore {
    /// Connects, applies the migrations (under an advisory lock) and returns the store.
    pub async fn connect(url: &str, pool_size: usize) -> Result<PgStore, StoreError> {
        let mut config = tokio_postgres::Config::from_str(url)
            .map_err(|_| StoreError(format!("“{}” is not a PostgreSQL URL", redact(url))))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(10));
        }
        config.application_name("fapiao-proxy");
        let pool = Arc::new(Pool {
            config,
            idle: Mutex::new(Vec::new()),
            permits: Semaphore::new(pool_size.max(2)),
        });
        let store = PgStore { pool };
        store
            .migrate()
            .await
            .map_err(|e| StoreError(format!("{} ({})", e.0, redact(url))))?;
        Ok(store)
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        let mut c = self.pool.get().await?;
        c.begin().await?;
        let r = async {
            c.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK]).await?;
            c.batch("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)").await?;
            let applied: i32 = c.query("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", &[]).await?[0].get(0);
            for (i, sql) in MIGRATIONS.iter().enumerate().skip(applied.max(0) as usize) {
                c.batch(sql).await?;
                c.execute("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)", &[&(i as i32 + 1), &now_ms()]).await?;
                tracing::info!(version = i + 1, "database migrated");
            }
            Ok::<_, StoreError>(())
        }
        .await;
        c.finish(r).await
    }

    async fn one(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Option<Row>, StoreError> {
        self.pool.get().await?.query_opt(sql, params).await
    }

    async fn exec(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<u64, StoreError> {
        self.pool.get().await?.execute(sql, params).await
    }

    async fn insert_red(&self, blue_order_id: String, check: RedCheck) -> RedChecked {
        let mut c = self.pool.get().await?;
        c.begin().await?;
        let r = async {
            // The row lock on the blue order serialises red letters for it across instances.
            let blue = c
                .query_opt(
                    &format!("SELECT {COLUMNS} FROM orders WHERE order_id = $1 FOR UPDATE"),
                    &[&blue_order_id],
                )
                .await?
                .map(|r| record(&r));
            let reds: Vec<Record> = c
                .query(
                    &format!("SELECT {COLUMNS} FROM orders WHERE blue_order_id = $1 ORDER BY created_at, order_id"),
                    &[&blue_order_id],
                )
                .await?
                .iter()
                .map(record)
                .collect();
            let new = match check(blue.as_ref(), &reds) {
                Ok(n) => n,
                Err(e) => return Ok(Err(e)),
            };
            let inserted = c
                .query_opt(
                    INSERT_ORDER,
                    &[
                        &new.order_id,
                        &"red",
                        &Some(&blue_order_id),
                        &new.fingerprint,
                        &new.request,
                        &now_ms(),
                    ],
                )
                .await?;
            let r = match inserted {
                Some(r) => Inserted::New(record(&r)),
                None => Inserted::Existing(record(
                    &c.query(
                        &format!("SELECT {COLUMNS} FROM orders WHERE order_id = $1"),
                        &[&new.order_id],
                    )
                    .await?[0],
                )),
            };
            Ok(Ok((r, new.fingerprint)))
        }
        .await;
        c.finish(r).await
    }
}

const INSERT_ORDER: &str = "INSERT INTO orders (order_id, kind, blue_order_id, fingerprint, request, status, next_attempt_at, created_at, updated_at)
     VALUES ($1, $2, $3, $4, $5, 'pending', $6, $6, $6) ON CONFLICT (order_id) DO NOTHING
     RETURNING order_id, kind, blue_order_id, fingerprint, request, status, attempts, submitted, next_attempt_at, \
     provider_ref, invoice_number, issued_at, pdf_url, ofd_url, xml_url, error_code, error_message, error_message_en, created_at, updated_at, \
     lease_owner, lease_until, error_field";

impl Backend for PgStore {
    fn name(&self) -> &'static str {
        "postgres"
    }

    fn insert_or_get(
        &self,
        order_id: String,
        kind: &'static str,
        blue_order_id: Option<String>,
        fingerprint: String,
        request: String,
    ) -> BoxFuture<'_, Result<Inserted, StoreError>> {
        Box::pin(async move {
            let mut c = self.pool.get().await?;
            if let Some(r) = c
                .query_opt(
                    INSERT_ORDER,
                    &[&order_id, &kind, &blue_order_id, &fingerprint, &request, &now_ms()],
                )
                .await?
            {
                return Ok(Inserted::New(record(&r)));
            }
            let r = c
                .query_opt(
                    &format!("SELECT {COLUMNS} FROM orders WHERE order_id = $1"),
                    &[&order_id],
                )
                .await?;
            r.map(|r| Inserted::Existing(record(&r)))
                .ok_or_else(|| StoreError("postgres: the order vanished".into()))
        })
    }

    fn insert_red_checked(&self, blue_order_id: String, check: RedCheck) -> BoxFuture<'_, RedChecked> {
        Box::pin(self.insert_red(blue_order_id, check))
    }

    fn get(&self, order_id: String) -> BoxFuture<'_, Result<Option<Record>, StoreError>> {
        Box::pin(async move {
            Ok(self
                .one(
                    &format!("SELECT {COLUMNS} FROM orders WHERE order_id = $1"),
                    &[&order_id],
                )
                .await?
                .map(|r| record(&r)))
        })
    }

    fn reds_of(&self, blue_order_id: String) -> BoxFuture<'_, Result<Vec<Record>, StoreError>> {
        Box::pin(async move {
            let rows = self
                .pool
                .get()
                .await?
                .query(
                    &format!("SELECT {COLUMNS} FROM orders WHERE blue_order_id = $1 ORDER BY created_at, order_id"),
                    &[&blue_order_id],
                )
                .await?;
            Ok(rows.iter().map(record).collect())
        })
    }

    fn due(&self, now: i64, limit: usize) -> BoxFuture<'_, Result<Vec<Record>, StoreError>> {
        Box::pin(async move {
            let rows = self
                .pool
                .get()
                .await?
                .query(
                    &format!("SELECT {COLUMNS} FROM orders WHERE status IN ('pending', 'issuing') AND next_attempt_at <= $1 AND lease_until <= $1 ORDER BY next_attempt_at LIMIT $2"),
                    &[&now, &(limit as i64)],
                )
                .await?;
            Ok(rows.iter().map(record).collect())
        })
    }

    fn claim_due(
        &self,
        owner: String,
        now: i64,
        limit: usize,
        lease_ms: i64,
        mark: bool,
    ) -> BoxFuture<'_, Result<Vec<(Record, bool)>, StoreError>> {
        Box::pin(async move {
            if mark {
                // The right-hand sides read the row as it was; `c.was` says
                // whether it had been submitted before this claim.
                let cols: Vec<String> = COLUMNS.split(',').map(|c| format!("o.{}", c.trim())).collect();
                let rows = self
                    .pool
                    .get()
                    .await?
                    .query(
                        &format!(
                            "UPDATE orders o SET lease_owner = $1, lease_until = $2,
                               status = CASE WHEN c.was THEN o.status ELSE 'issuing' END,
                               submitted = true,
                               attempts = CASE WHEN c.was THEN o.attempts ELSE o.attempts + 1 END,
                               next_attempt_at = CASE WHEN c.was THEN o.next_attempt_at ELSE GREATEST($2, $3) END,
                               updated_at = CASE WHEN c.was THEN o.updated_at ELSE $3 END
                             FROM (SELECT order_id, submitted AS was FROM orders
                                   WHERE status IN ('pending', 'issuing') AND next_attempt_at <= $3 AND lease_until <= $3
                                   ORDER BY next_attempt_at LIMIT $4 FOR UPDATE SKIP LOCKED) c
                             WHERE o.order_id = c.order_id
                             RETURNING {}, c.was",
                            cols.join(", ")
                        ),
                        &[&owner, &(now + lease_ms), &now, &(limit as i64)],
                    )
                    .await?;
                let mut out: Vec<(Record, bool)> = rows.iter().map(|r| (record(r), !r.get::<_, bool>(23))).collect();
                out.sort_by_key(|(r, _)| r.next_attempt_at);
                return Ok(out);
            }
            let rows = self
                .pool
                .get()
                .await?
                .query(
                    &format!(
                        "UPDATE orders SET lease_owner = $1, lease_until = $2 WHERE order_id IN (
                           SELECT order_id FROM orders WHERE status IN ('pending', 'issuing') AND next_attempt_at <= $3 AND lease_until <= $3
                           ORDER BY next_attempt_at LIMIT $4 FOR UPDATE SKIP LOCKED)
                         RETURNING {COLUMNS}"
                    ),
                    &[&owner, &(now + lease_ms), &now, &(limit as i64)],
                )
                .await?;
            let mut out: Vec<Record> = rows.iter().map(record).collect();
            out.sort_by_key(|r| r.next_attempt_at);
            Ok(out.into_iter().map(|r| (r, false)).collect())
        })
    }

    fn next_due(&self) -> BoxFuture<'_, Result<Option<i64>, StoreError>> {
        Box::pin(async move {
            let row = self.one(crate::store::NEXT_DUE, &[&now_ms()]).await?;
            Ok(row.and_then(|r| r.get::<_, Option<i64>>(0)))
        })
    }

    fn save(&self, r: Record, lease: Option<(String, bool)>) -> BoxFuture<'_, Result<bool, StoreError>> {
        Box::pin(async move {
            let p = save_params(&r, lease);
            let p: Vec<&(dyn ToSql + Sync)> = p.iter().map(|v| v as &(dyn ToSql + Sync)).collect();
            Ok(self.exec(SAVE_ORDER, &p).await? == 1)
        })
    }

    fn mark_reversed(&self, order_id: String) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async move {
            self.exec(MARK_REVERSED, &[&order_id, &now_ms()]).await?;
            Ok(())
        })
    }

    fn nudge(&self, order_id: String, min_interval_ms: i64) -> BoxFuture<'_, Result<bool, StoreError>> {
        Box::pin(async move {
            let n = self
                .exec(
                    "UPDATE orders SET next_attempt_at = GREATEST($2, updated_at + $3)
                      WHERE order_id = $1 AND status IN ('pending', 'issuing') AND lease_until <= $2 AND next_attempt_at > GREATEST($2, updated_at + $3)",
                    &[&order_id, &now_ms(), &min_interval_ms],
                )
                .await?;
            Ok(n == 1)
        })
    }

    fn resume_all(&self) -> BoxFuture<'_, Result<usize, StoreError>> {
        // Other instances may be alive: leased orders stay with their holders.
        Box::pin(async move {
            let now = now_ms();
            let n = self
                .exec("UPDATE orders SET next_attempt_at = $1 WHERE status IN ('pending', 'issuing') AND lease_until <= $1 AND next_attempt_at > $1", &[&now])
                .await?;
            Ok(n as usize)
        })
    }

    fn release_leases(&self, owner: String) -> BoxFuture<'_, Result<usize, StoreError>> {
        Box::pin(async move {
            let n = self
                .exec(
                    "UPDATE orders SET lease_owner = NULL, lease_until = 0, next_attempt_at = LEAST(next_attempt_at, $2)
                     WHERE lease_owner = $1 AND status IN ('pending', 'issuing')",
                    &[&owner, &now_ms()],
                )
                .await?;
            Ok(n as usize)
        })
    }

    fn counts(&self) -> BoxFuture<'_, Result<Vec<(String, i64)>, StoreError>> {
        Box::pin(async move {
            let rows = self
                .pool
                .get()
                .await?
                .query("SELECT status, COUNT(*) FROM orders GROUP BY status", &[])
                .await?;
            Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
        })
    }

    fn kv_get(&self, key: String) -> BoxFuture<'_, Result<Option<(String, i64)>, StoreError>> {
        Box::pin(async move {
            Ok(self
                .one("SELECT value, updated_at FROM kv WHERE key = $1", &[&key])
                .await?
                .map(|r| (r.get(0), r.get(1))))
        })
    }

    fn kv_set(&self, key: String, value: String) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async move {
            self.exec(
                "INSERT INTO kv (key, value, updated_at) VALUES ($1, $2, $3) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = EXCLUDED.updated_at",
                &[&key, &value, &now_ms()],
            )
            .await?;
            Ok(())
        })
    }

    fn try_lock(&self, name: String, owner: String, ttl_ms: i64) -> BoxFuture<'_, Result<bool, StoreError>> {
        Box::pin(async move {
            let now = now_ms();
            let n = self
                .exec(
                    "INSERT INTO locks (name, owner, until) VALUES ($1, $2, $3)
                     ON CONFLICT (name) DO UPDATE SET owner = EXCLUDED.owner, until = EXCLUDED.until WHERE locks.until <= $4 OR locks.owner = EXCLUDED.owner",
                    &[&name, &owner, &(now + ttl_ms), &now],
                )
                .await?;
            Ok(n == 1)
        })
    }

    fn unlock(&self, name: String, owner: String) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async move {
            self.exec("DELETE FROM locks WHERE name = $1 AND owner = $2", &[&name, &owner])
                .await?;
            Ok(())
        })
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
        Box::pin(async move {
            let now = now_ms();
            let number = super::sandbox_number(now, &region, 0);
            let prefix = &number[..number.len() - 15];
            // One statement: the unique order id refuses a second invoice.
            let n = self
                .exec(
                    "WITH s AS (SELECT nextval('sandbox_invoice_seq') AS seq)
                     INSERT INTO sandbox_invoices (seq, order_id, kind, request, ready_at, fail, number, issued_at, created_at)
                     SELECT s.seq, $1, $2, $3, $4, $5, $6 || lpad(s.seq::TEXT, 15, '0'), $4, $7 FROM s
                     ON CONFLICT (order_id) DO NOTHING",
                    &[&order_id, &kind, &request, &ready_at, &fail, &prefix, &now],
                )
                .await?;
            Ok(n == 1)
        })
    }

    fn sandbox_get(&self, order_id: String) -> BoxFuture<'_, Result<Option<SandboxInvoice>, StoreError>> {
        Box::pin(async move {
            let row = self
                .one(
                    "SELECT kind, request, ready_at, fail, number, issued_at FROM sandbox_invoices WHERE order_id = $1",
                    &[&order_id],
                )
                .await?;
            Ok(row.map(|r| SandboxInvoice {
                kind: r.get(0),
                request: r.get(1),
                ready_at: r.get(2),
                fail: r.get(3),
                number: r.get(4),
                issued_at: r.get(5),
            }))
        })
    }

    fn sandbox_count(&self, order_id: Option<String>) -> BoxFuture<'_, Result<i64, StoreError>> {
        Box::pin(async move {
            let row = match order_id {
                Some(id) => {
                    self.one("SELECT COUNT(*) FROM sandbox_invoices WHERE order_id = $1", &[&id])
                        .await?
                }
                None => self.one("SELECT COUNT(*) FROM sandbox_invoices", &[]).await?,
            };
            Ok(row.map(|r| r.get(0)).unwrap_or(0))
        })
    }

    fn transaction(&self, job: TxJob) -> BoxFuture<'_, Result<Box<dyn std::any::Any + Send>, StoreError>> {
        Box::pin(async move {
            let mut c = self.pool.get().await?;
            c.begin().await?;
            let r = job(&mut PgTx { c: &mut c }).await;
            c.finish(r).await
        })
    }

    fn watch(&self, updates: broadcast::Sender<Arc<str>>) {
        let config = self.pool.config.clone();
        tokio::spawn(async move {
            loop {
                match config.connect(NoTls).await {
                    Ok((client, mut connection)) => {
                        let tx = updates.clone();
                        let pump = tokio::spawn(async move {
                            while let Some(m) = std::future::poll_fn(|cx| connection.poll_message(cx)).await {
                                match m {
                                    Ok(AsyncMessage::Notification(n)) => {
                                        let _ = tx.send(Arc::from(n.payload()));
                                    }
                                    Ok(_) => {}
                                    Err(_) => break,
                                }
                            }
                        });
                        match client.batch_execute(&format!("LISTEN {CHANNEL}")).await {
                            Ok(()) => {
                                let _ = pump.await;
                                tracing::warn!("the change-notification connection closed; reconnecting");
                            }
                            Err(e) => {
                                pump.abort();
                                tracing::warn!(error = %err(e), "cannot listen for changes");
                            }
                        }
                    }
                    Err(e) => tracing::warn!(error = %err(e), "cannot connect to listen for changes"),
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
    }
}

/// A transaction on one pooled connection (see [`Backend::transaction`]).
struct PgTx<'a, 'p> {
    c: &'a mut Conn<'p>,
}

fn pg_params(params: &[Val]) -> Vec<&(dyn ToSql + Sync)> {
    params.iter().map(|v| v as &(dyn ToSql + Sync)).collect()
}

impl Tx for PgTx<'_, '_> {
    fn backend(&self) -> &'static str {
        "postgres"
    }
    fn execute<'a>(&'a mut self, sql: &'a str, params: &'a [Val]) -> BoxFuture<'a, Result<u64, StoreError>> {
        Box::pin(async move { self.c.execute(sql, &pg_params(params)).await })
    }
    fn query<'a>(&'a mut self, sql: &'a str, params: &'a [Val]) -> BoxFuture<'a, Result<Vec<tx::Row>, StoreError>> {
        Box::pin(async move {
            self.c
                .query(sql, &pg_params(params))
                .await?
                .iter()
                .map(tx::pg_row)
                .collect()
        })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn redacts_passwords() {
        assert_eq!(
            super::redact("postgres://app:s3cret@db:5432/fapiao"),
            "postgres://app@db:5432/fapiao"
        );
        assert_eq!(
            super::redact("postgresql://db/fapiao?user=a&password=s3cret"),
            "postgresql://db/fapiao?user=a&password=…"
        );
        assert_eq!(super::redact("postgres://db"), "postgres://db");
    }
}
