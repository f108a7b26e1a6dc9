//! The compliance archive (合规归档): the files of every issued invoice (PDF, OFD,
//! XML — whatever the provider gives) are fetched into the proxy's own store and
//! served from there.
//!
//! - Bodies live on disk under `FAPIAO_ARCHIVE_DIR`, content-addressed:
//!   `sha256/<first two hex digits>/<hex SHA-256>`; the index (order, kind,
//!   source, size, SHA-256, fetched-at) is in the database ([`ledger`]).
//! - Only hosts in `FAPIAO_FILE_HOSTS` are fetched from, over https (plain http
//!   only for loopback hosts with `FAPIAO_FILE_ALLOW_HTTP_LOOPBACK=true`, for
//!   tests); a redirect is followed only to an allowed host; size cap and
//!   timeout. A URL on another host is refused and recorded as refused.
//! - A failed fetch is retried with back-off from the durable queue; a file not
//!   stored stays listed (`GET /v1/admin/archive/pending`).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;

use crate::config::Config;
use crate::ledger::{self, ArchiveOutcome, ArchiveRow};
use crate::store::Store;
use crate::time::{cst_plain, now_ms};
use crate::AppState;

/// The MIME type of a file kind.
pub fn content_type(kind: &str) -> &'static str {
    match kind {
        "pdf" => "application/pdf",
        "ofd" => "application/ofd",
        "xml" => "application/xml; charset=utf-8",
        _ => "application/octet-stream",
    }
}

fn is_loopback(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    h.eq_ignore_ascii_case("localhost") || h.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Why a URL may not be fetched, or `Ok` when it may.
pub fn check_url(url: &reqwest::Url, hosts: &[String], http_loopback: bool) -> Result<(), String> {
    let host = url.host_str().ok_or("no host")?.to_ascii_lowercase();
    match url.scheme() {
        "https" => {}
        "http" if http_loopback && is_loopback(&host) => {}
        s => return Err(format!("scheme {s} not allowed (https only)")),
    }
    let port = url.port_or_known_default().unwrap_or(0);
    let with_port = format!("{host}:{port}");
    if hosts.iter().any(|h| *h == host || *h == with_port) {
        Ok(())
    } else {
        Err(format!("host {host} is not in FAPIAO_FILE_HOSTS"))
    }
}

/// The HTTP client for file downloads: timeout, and redirects only to allowed hosts.
pub fn client(config: &Config) -> Result<reqwest::Client, String> {
    let hosts = config.hooks.file_hosts.clone();
    let loopback = config.hooks.file_allow_http_loopback;
    let policy = reqwest::redirect::Policy::custom(move |attempt| {
        if attempt.previous().len() >= 3 {
            attempt.error("too many redirects")
        } else if let Err(why) = check_url(attempt.url(), &hosts, loopback) {
            attempt.error(format!("redirect refused: {why}"))
        } else {
            attempt.follow()
        }
    });
    reqwest::Client::builder()
        .timeout(config.hooks.file_timeout)
        .connect_timeout(config.hooks.file_timeout.min(Duration::from_secs(10)))
        .redirect(policy)
        .build()
        .map_err(|e| format!("cannot build the file client: {e}"))
}

/// The path of a stored body.
pub fn path_of(dir: &Path, sha256: &str) -> PathBuf {
    dir.join("sha256").join(&sha256[..2.min(sha256.len())]).join(sha256)
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Writes `body` under its SHA-256 (write to a temporary file, fsync, rename);
/// returns the hex digest.
pub fn put(dir: &Path, body: &[u8]) -> std::io::Result<String> {
    let sha = hex(&Sha256::digest(body));
    let path = path_of(dir, &sha);
    if path.exists() {
        return Ok(sha);
    }
    let parent = path.parent().unwrap_or(dir);
    std::fs::create_dir_all(parent)?;
    let tmp = parent.join(format!(".{sha}.{}.tmp", &crate::config::random_key()[..8]));
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(body)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, &path)?;
    if let Ok(d) = std::fs::File::open(parent) {
        let _ = d.sync_all();
    }
    Ok(sha)
}

/// Reads a stored body and checks its SHA-256.
pub fn get(dir: &Path, sha256: &str) -> std::io::Result<Vec<u8>> {
    let body = std::fs::read(path_of(dir, sha256))?;
    if hex(&Sha256::digest(&body)) != sha256 {
        return Err(std::io::Error::other("checksum mismatch"));
    }
    Ok(body)
}

enum Fetched {
    Body(Vec<u8>, String),
    Refused(String),
    Failed(String),
}

async fn fetch(state: &AppState, http: &reqwest::Client, row: &ArchiveRow) -> Fetched {
    if let Some(kind) = row.source_url.strip_prefix("provider:") {
        let provider = state
            .sellers
            .get()
            .of_key(&row.order_id)
            .map(|e| e.provider.clone())
            .unwrap_or_else(|| state.provider.clone());
        return match provider
            .document(crate::sellers::order_id_of(&row.order_id), kind)
            .await
        {
            Some(d) => Fetched::Body(d.body, d.content_type.to_owned()),
            None => Fetched::Failed("the provider has no such document (yet)".into()),
        };
    }
    let h = &state.config.hooks;
    let url = match reqwest::Url::parse(&row.source_url) {
        Ok(u) => u,
        Err(_) => return Fetched::Refused("not a URL".into()),
    };
    if let Err(why) = check_url(&url, &h.file_hosts, h.file_allow_http_loopback) {
        return Fetched::Refused(why);
    }
    let mut resp = match http.get(url).send().await {
        Ok(r) => r,
        Err(e) if e.is_redirect() => {
            return Fetched::Refused(format!("redirect to a host not allowed ({})", redirect_reason(&e)))
        }
        Err(e) if e.is_timeout() => return Fetched::Failed("timeout".into()),
        Err(e) if e.is_connect() => return Fetched::Failed("connection failed".into()),
        Err(_) => return Fetched::Failed("request failed".into()),
    };
    if resp.status().is_redirection() {
        return Fetched::Refused("redirect not followed".into());
    }
    if !resp.status().is_success() {
        return Fetched::Failed(format!("HTTP {}", resp.status().as_u16()));
    }
    if resp.content_length().is_some_and(|n| n > h.file_max_bytes) {
        return Fetched::Refused(format!("larger than FAPIAO_FILE_MAX_BYTES ({})", h.file_max_bytes));
    }
    let ct = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let mut body = Vec::new();
    loop {
        match resp.chunk().await {
            Ok(Some(c)) => {
                if body.len() as u64 + c.len() as u64 > h.file_max_bytes {
                    return Fetched::Refused(format!("larger than FAPIAO_FILE_MAX_BYTES ({})", h.file_max_bytes));
                }
                body.extend_from_slice(&c);
            }
            Ok(None) => break,
            Err(e) if e.is_timeout() => return Fetched::Failed("timeout".into()),
            Err(_) => return Fetched::Failed("the download broke off".into()),
        }
    }
    let ct = if ct.is_empty() || ct.starts_with("application/octet-stream") {
        content_type(&row.kind).to_owned()
    } else {
        ct
    };
    Fetched::Body(body, ct)
}

fn redirect_reason(e: &reqwest::Error) -> String {
    let mut s = String::new();
    let mut cur: Option<&dyn std::error::Error> = std::error::Error::source(e);
    while let Some(c) = cur {
        s = c.to_string();
        cur = c.source();
    }
    s.chars().take(120).collect()
}

/// The archiver; runs until aborted.
pub async fn run(state: Arc<AppState>) {
    let http = match client(&state.config) {
        Ok(c) => c,
        Err(e) => return tracing::error!(error = %e, "archive disabled"),
    };
    let dir = state.config.archive_dir();
    let owner = state.config.instance_id.clone(); // see webhooks::run
    let lease_ms = state.config.hooks.file_timeout.as_millis() as i64 + 30_000;
    let permits = Arc::new(Semaphore::new(4));
    loop {
        let free = permits.available_permits();
        let claimed = if free > 0 {
            ledger::claim_archive(&state.store, &owner, lease_ms, free)
                .await
                .unwrap_or_default()
        } else {
            Vec::new()
        };
        for row in claimed {
            let Ok(permit) = permits.clone().acquire_owned().await else {
                return;
            };
            let (state, http, dir, owner) = (state.clone(), http.clone(), dir.clone(), owner.clone());
            tokio::spawn(async move {
                archive_one(&state, &http, &dir, &owner, row).await;
                drop(permit);
                state.signals.archive.notify_one();
            });
        }
        let wait = match ledger::next_archive_due(&state.store).await {
            Ok(Some(t)) if t > now_ms() => Duration::from_millis((t - now_ms()) as u64).min(Duration::from_secs(2)),
            Ok(Some(_)) => Duration::from_millis(if permits.available_permits() == 0 { 1000 } else { 50 }),
            _ => Duration::from_secs(2),
        };
        tokio::select! {
            _ = state.signals.archive.notified() => {}
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

async fn archive_one(state: &AppState, http: &reqwest::Client, dir: &Path, owner: &str, row: ArchiveRow) {
    let outcome = match fetch(state, http, &row).await {
        Fetched::Body(body, ct) => {
            let size = body.len() as i64;
            let d = dir.to_owned();
            match tokio::task::spawn_blocking(move || put(&d, &body)).await {
                Ok(Ok(sha256)) => {
                    tracing::info!(order = %row.order_id, kind = %row.kind, size, sha256 = %sha256, "invoice file archived");
                    ArchiveOutcome::Stored {
                        sha256,
                        size,
                        content_type: ct,
                    }
                }
                Ok(Err(e)) => retry(state, &row, format!("cannot write the archive: {}", e.kind())),
                Err(_) => retry(state, &row, "cannot write the archive".into()),
            }
        }
        Fetched::Refused(why) => {
            tracing::warn!(order = %row.order_id, kind = %row.kind, reason = %why, "invoice file refused");
            ArchiveOutcome::Refused(why)
        }
        Fetched::Failed(why) => {
            tracing::warn!(order = %row.order_id, kind = %row.kind, attempts = row.attempts + 1, reason = %why, "invoice file not fetched; will retry");
            retry(state, &row, why)
        }
    };
    if let Err(e) = ledger::archive_attempted(&state.store, &row.order_id, &row.kind, owner, outcome).await {
        tracing::error!(error = %e, "cannot record an archive attempt");
    }
}

fn retry(state: &AppState, row: &ArchiveRow, why: String) -> ArchiveOutcome {
    let delay = crate::queues::webhooks::retry_delay(
        row.attempts + 1,
        state.config.hooks.archive_retry_base,
        Duration::from_secs(3600),
    );
    ArchiveOutcome::Retry(why, now_ms() + delay.as_millis() as i64)
}

/// What an export wrote.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportSummary {
    /// Files copied (checksums verified).
    pub files: usize,
    /// Files of orders in the range that are not stored (pending or refused).
    pub missing: Vec<Value>,
    /// Files whose bytes no longer match their SHA-256 (not copied).
    pub corrupt: Vec<Value>,
}

fn csv(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

/// `fapiao-proxy archive export`: copies the stored files of the orders issued in
/// `[from_ms, to_ms)` to `out`, verifying each checksum as it copies, and writes
/// `index.csv` and `index.json` (order id, invoice number, issue date, buyer,
/// amount, kind, file name, size, sha256).
pub async fn export(
    store: &Store,
    archive_dir: &Path,
    from_ms: i64,
    to_ms: i64,
    out: &Path,
) -> Result<ExportSummary, String> {
    export_where(store, archive_dir, from_ms, to_ms, out, &|_: &str| true, false).await
}

/// Like [`export`] for one seller's orders only (its order ids, without the
/// seller's tax ID, in the index and the file names).
pub async fn export_seller(
    store: &Store,
    archive_dir: &Path,
    from_ms: i64,
    to_ms: i64,
    out: &Path,
    sellers: &crate::sellers::SellerSet,
    tax_id: &str,
) -> Result<ExportSummary, String> {
    export_where(
        store,
        archive_dir,
        from_ms,
        to_ms,
        out,
        &|key: &str| sellers.seller_of_key(key) == tax_id,
        true,
    )
    .await
}

async fn export_where(
    store: &Store,
    archive_dir: &Path,
    from_ms: i64,
    to_ms: i64,
    out: &Path,
    keep: &(dyn Fn(&str) -> bool + Sync),
    strip: bool,
) -> Result<ExportSummary, String> {
    let rows: Vec<_> = ledger::export_rows(store, from_ms, to_ms)
        .await
        .map_err(|e| e.to_string())?
        .into_iter()
        .filter(|r| keep(&r.order_id))
        .map(|mut r| {
            if strip {
                r.order_id = crate::sellers::order_id_of(&r.order_id).to_owned();
            }
            r
        })
        .collect();
    std::fs::create_dir_all(out).map_err(|e| format!("cannot create {}: {}", out.display(), e.kind()))?;
    let mut index = Vec::new();
    let mut summary = ExportSummary {
        files: 0,
        missing: Vec::new(),
        corrupt: Vec::new(),
    };
    for r in rows {
        let f = &r.file;
        let Some(sha) = f.sha256.clone().filter(|_| f.state == "stored") else {
            summary
                .missing
                .push(json!({ "orderId": r.order_id, "kind": f.kind, "state": f.state, "error": f.last_error }));
            continue;
        };
        let body = match get(archive_dir, &sha) {
            Ok(b) => b,
            Err(e) => {
                summary
                    .corrupt
                    .push(json!({ "orderId": r.order_id, "kind": f.kind, "sha256": sha, "error": e.to_string() }));
                continue;
            }
        };
        let safe: String = r
            .order_id
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let name = format!("{safe}.{}", f.kind);
        let target = out.join(&name);
        std::fs::write(&target, &body).map_err(|e| format!("cannot write {}: {}", target.display(), e.kind()))?;
        let copied =
            std::fs::read(&target).map_err(|e| format!("cannot read back {}: {}", target.display(), e.kind()))?;
        if hex(&Sha256::digest(&copied)) != sha {
            return Err(format!("{}: the copy does not match its SHA-256", target.display()));
        }
        let req: Value = serde_json::from_str(&r.request).unwrap_or(Value::Null);
        index.push(json!({
            "orderId": r.order_id,
            "invoiceNumber": r.invoice_number,
            "issueDate": r.issued_at.map(|t| cst_plain(t)[..10].to_owned()),
            "buyerName": req["buyer"]["name"],
            "buyerTaxId": req["buyer"]["taxId"],
            "amount": req["totals"]["amountInclTax"],
            "kind": f.kind,
            "fileName": name,
            "size": body.len(),
            "sha256": sha,
        }));
        summary.files += 1;
    }
    let mut text =
        String::from("order_id,invoice_number,issue_date,buyer_name,buyer_tax_id,amount,kind,file_name,size,sha256\n");
    for i in &index {
        let s = |k: &str| match &i[k] {
            Value::String(s) => s.clone(),
            Value::Null => String::new(),
            v => v.to_string(),
        };
        let cols: Vec<String> = [
            "orderId",
            "invoiceNumber",
            "issueDate",
            "buyerName",
            "buyerTaxId",
            "amount",
            "kind",
            "fileName",
            "size",
            "sha256",
        ]
        .iter()
        .map(|k| csv(&s(k)))
        .collect();
        text += &cols.join(",");
        text += "\n";
    }
    std::fs::write(out.join("index.csv"), text).map_err(|e| format!("cannot write index.csv: {}", e.kind()))?;
    let json = serde_json::to_string_pretty(
        &json!({ "files": index, "missing": summary.missing, "corrupt": summary.corrupt }),
    )
    .unwrap_or_default();
    std::fs::write(out.join("index.json"), json).map_err(|e| format!("cannot write index.json: {}", e.kind()))?;
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allow_list() {
        let hosts = vec!["inv.jss.com.cn".to_owned(), "127.0.0.1:9000".to_owned()];
        let u = |s: &str| reqwest::Url::parse(s).unwrap();
        assert!(check_url(&u("https://inv.jss.com.cn/a.pdf"), &hosts, false).is_ok());
        assert!(
            check_url(&u("http://inv.jss.com.cn/a.pdf"), &hosts, true).is_err(),
            "http only for loopback"
        );
        assert!(check_url(&u("https://evil.example/a.pdf"), &hosts, false).is_err());
        assert!(check_url(&u("https://inv.jss.com.cn.evil.example/a.pdf"), &hosts, false).is_err());
        assert!(
            check_url(&u("http://127.0.0.1:9000/a.pdf"), &hosts, false).is_err(),
            "no http without the override"
        );
        assert!(check_url(&u("http://127.0.0.1:9000/a.pdf"), &hosts, true).is_ok());
        assert!(
            check_url(&u("http://127.0.0.1:9001/a.pdf"), &hosts, true).is_err(),
            "another port"
        );
        assert!(
            check_url(&u("http://localhost:9000/a.pdf"), &hosts, true).is_err(),
            "another name"
        );
    }

    #[test]
    fn content_addressed() {
        let dir = tempfile::tempdir().unwrap();
        let sha = put(dir.path(), b"hello").unwrap();
        assert_eq!(sha, "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
        assert_eq!(get(dir.path(), &sha).unwrap(), b"hello");
        std::fs::write(path_of(dir.path(), &sha), b"tampered").unwrap();
        assert!(get(dir.path(), &sha).is_err());
    }
}
