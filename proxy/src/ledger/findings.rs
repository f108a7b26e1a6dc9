//! Reconciliation: the orders of a range, and the findings opened and resolved.

#[allow(unused_imports)]
use super::*;

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
