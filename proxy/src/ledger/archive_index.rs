//! The archive index: invoice files queued, claimed, stored or refused, and the export rows.

#[allow(unused_imports)]
use super::*;

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
