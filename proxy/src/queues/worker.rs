//! The worker: takes every accepted order to a final state, exactly once.
//!
//! - Before the first call to the provider the order is marked `submitted` in the
//!   store. From then on, whenever the outcome is unknown (timeout, connection
//!   error, crash, restart), the worker **queries the provider by order number
//!   first** and submits again only when the provider has never seen the order.
//!   The provider refuses a second order with the same number (诺诺 E9106), which
//!   the worker treats as "query it", so no path issues a second invoice.
//! - Retries back off exponentially with jitter; result polls slow down the same
//!   way up to 30 s.
//! - A [`Breaker`] stops calls after consecutive provider failures and lets one
//!   probe through after a cool-down that doubles while failures continue.
//! - Orders are **claimed** from the store in chunks with a lease (owner = this instance's
//!   `FAPIAO_INSTANCE_ID`, expiry = `FAPIAO_LEASE_MS`), as many as there are free
//!   worker slots. Several instances on one PostgreSQL database never work the
//!   same order at once (`FOR UPDATE SKIP LOCKED`); every write of a claimed order
//!   is conditional on still holding its lease, and an instance that lost it
//!   drops the order. The orders of an instance that died are claimed by another
//!   once their leases expire.
//! - The claim also writes the "submitted" mark of the orders never submitted,
//!   for the whole chunk in one statement (see
//!   [`Store::claim_to_submit`](crate::store::Store::claim_to_submit)); while the
//!   breaker is open the worker only claims.
//! - On start every unfinished order that no live instance holds is due at once
//!   (crash recovery), and this instance's own leases from a previous run are freed.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fapiao::request::{build_issue_request, build_red_request, IssueForm, IssueRequest, RedForm, RedRequest};
use fapiao::Issue;
use rand::Rng;
use tokio::sync::{broadcast, Notify, Semaphore};

use crate::problem::ProxyProblem;
use crate::provider::{Kind, ProviderError, QueryOutcome};
use crate::sellers::Entry;
use crate::store::{Record, Status};
use crate::time::now_ms;
use crate::AppState;

/// Signals between the API, the worker and waiting clients.
pub struct Events {
    /// Order ids whose record changed.
    pub updates: broadcast::Sender<Arc<str>>,
    /// Wakes the worker (a new order, a callback).
    pub wake: Notify,
}

impl Events {
    /// New channels.
    pub fn new() -> Events {
        Events {
            updates: broadcast::channel(4096).0,
            wake: Notify::new(),
        }
    }
    fn changed(&self, order_id: &str) {
        let _ = self.updates.send(Arc::from(order_id));
    }
}

impl Default for Events {
    fn default() -> Self {
        Events::new()
    }
}

#[derive(Debug)]
struct BreakerState {
    failures: u32,
    open_until: Option<Instant>,
    cooldown: Duration,
    /// Why it is open, when the provider said (a refusing token endpoint).
    reason: Option<String>,
}

/// A circuit breaker around the provider.
pub struct Breaker {
    state: Mutex<BreakerState>,
    threshold: u32,
    base: Duration,
}

impl Breaker {
    /// Opens after `threshold` consecutive failures for `cooldown` (doubling, at most 2 min).
    pub fn new(threshold: u32, cooldown: Duration) -> Breaker {
        Breaker {
            state: Mutex::new(BreakerState {
                failures: 0,
                open_until: None,
                cooldown,
                reason: None,
            }),
            threshold,
            base: cooldown,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BreakerState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `None` when a call may go out; otherwise how long to wait.
    pub fn check(&self) -> Option<Duration> {
        let mut s = self.lock();
        match s.open_until {
            Some(t) if t > Instant::now() => Some(t - Instant::now()),
            Some(_) => {
                // Half-open: let this call probe; close only on success.
                s.open_until = None;
                s.failures = self.threshold.saturating_sub(1);
                None
            }
            None => None,
        }
    }

    /// True while calls are held back.
    pub fn is_open(&self) -> bool {
        matches!(self.lock().open_until, Some(t) if t > Instant::now())
    }

    /// Why the breaker is open, when it is and the provider said why.
    pub fn reason(&self) -> Option<String> {
        let s = self.lock();
        match s.open_until {
            Some(t) if t > Instant::now() => s.reason.clone(),
            _ => None,
        }
    }

    /// Opens at once for `wait` (at least), for a reason the provider gave (its
    /// token endpoint refuses: calls cannot succeed before then).
    pub fn hold(&self, wait: Duration, reason: &str) {
        let mut s = self.lock();
        let until = Instant::now() + wait;
        if s.open_until.is_none_or(|t| t < until) {
            if s.open_until.is_none() {
                tracing::error!(
                    wait_s = wait.as_secs(),
                    reason,
                    "provider circuit breaker opened: the provider cannot be called"
                );
            }
            s.open_until = Some(until);
        }
        s.failures = s.failures.max(self.threshold);
        s.reason = Some(reason.to_owned());
    }

    /// A call succeeded (or the provider answered definitively).
    pub fn success(&self) {
        let mut s = self.lock();
        s.failures = 0;
        s.open_until = None;
        s.cooldown = self.base;
        s.reason = None;
    }

    /// A call failed with an unknown outcome.
    pub fn failure(&self) {
        let mut s = self.lock();
        s.failures += 1;
        if s.failures >= self.threshold && s.open_until.is_none() {
            s.open_until = Some(Instant::now() + s.cooldown);
            tracing::warn!(
                cooldown_ms = s.cooldown.as_millis() as u64,
                "provider circuit breaker opened"
            );
            s.cooldown = (s.cooldown * 2).min(Duration::from_secs(120));
        }
    }
}

/// Exponential back-off with jitter: 200 ms · 2^(n−1), at most 60 s.
pub fn backoff(attempt: i64) -> Duration {
    let exp = attempt.clamp(1, 20) as u32 - 1;
    let base = 200u64.saturating_mul(1u64 << exp.min(16)).min(60_000);
    let jitter = rand::rng().random_range(0..=base / 4);
    Duration::from_millis(base + jitter)
}

/// The worker loop; runs until the task is aborted.
pub async fn run(state: Arc<AppState>) {
    let owner = state.config.instance_id.clone();
    if let Ok(n @ 1..) = state.store.release_leases(&owner).await {
        tracing::info!(orders = n, instance = %owner, "taking back the orders of this instance's previous run");
    }
    match state.store.resume_all().await {
        Ok(n) if n > 0 => tracing::info!(orders = n, "resuming unfinished orders"),
        Ok(_) => {}
        Err(e) => tracing::error!(error = %e, "cannot resume unfinished orders"),
    }
    let in_flight: Arc<Mutex<HashSet<String>>> = Arc::default();
    let permits = Arc::new(Semaphore::new(state.config.workers));
    loop {
        let now = now_ms();
        let free = permits.available_permits().min(256);
        let lease_ms = state.config.lease.as_millis() as i64;
        // While calls may go out, the claim marks the fresh orders submitted
        // (one statement for the chunk); otherwise it only claims them.
        // (With several sellers: while any seller's provider is held back, so
        // that an order of that seller is not marked for nothing.)
        let open = state.breaker.is_open()
            || state.provider.hold().is_some()
            || state
                .sellers
                .get()
                .all()
                .any(|e| e.breaker.is_open() || e.provider.hold().is_some());
        let claimed = if open {
            state
                .store
                .claim_due(&owner, now, free, lease_ms)
                .await
                .map(|v| v.into_iter().map(|r| (r, false)).collect())
        } else {
            state.store.claim_to_submit(&owner, now, free, lease_ms).await
        };
        let due = match claimed {
            Ok(d) => d,
            Err(e) => {
                tracing::error!(error = %e, "cannot claim due orders");
                Vec::new()
            }
        };
        let mut started = 0;
        for (r, marked) in due {
            if marked {
                state.events.changed(&r.order_id);
            }
            let busy = !in_flight
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(r.order_id.clone());
            if busy {
                // Its task has saved it (a held order cannot be claimed) and made
                // it due again (a callback's nudge) but is still winding down.
                // Give the claim back, unchanged: kept, it would sit held by this
                // instance until its lease expired. The task's end wakes the loop.
                save(&state, &r).await;
                continue;
            }
            started += 1;
            let (state, in_flight, permits) = (state.clone(), in_flight.clone(), permits.clone());
            tokio::spawn(async move {
                let _permit = permits.acquire_owned().await;
                let id = r.order_id.clone();
                process_claimed(&state, r, marked).await;
                in_flight.lock().unwrap_or_else(|p| p.into_inner()).remove(&id);
                state.events.wake.notify_one();
            });
        }
        let wait = match state.store.next_due().await {
            _ if free == 0 => Duration::from_secs(1), // woken when a slot frees up
            Ok(Some(t)) if t > now_ms() => Duration::from_millis((t - now_ms()) as u64).min(Duration::from_secs(1)),
            Ok(Some(_)) if started == 0 => Duration::from_millis(50),
            Ok(Some(_)) => Duration::ZERO,
            _ => Duration::from_secs(1),
        };
        if !wait.is_zero() {
            tokio::select! {
                _ = state.events.wake.notified() => {}
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }
}

enum Built {
    Blue(IssueRequest),
    Red(RedRequest, IssueRequest, String),
}

async fn build(state: &AppState, r: &Record) -> Result<Built, Issue> {
    let bad = |detail: &str| Issue::new("request", &ProxyProblem::BodyInvalid { detail: detail.into() });
    if r.kind == "red" {
        let blue_id = r.blue_order_id.clone().unwrap_or_default();
        let blue = state
            .store
            .get(&blue_id)
            .await
            .map_err(|_| bad("the blue order cannot be read"))?
            .ok_or_else(|| bad("the blue order is missing"))?;
        let Built::Blue(blue_req) = Box::pin(build(state, &blue)).await? else {
            return Err(bad("the blue order is red"));
        };
        let mut form: RedForm = serde_json::from_str(&r.request).map_err(|_| bad("stored red request"))?;
        form.blue = Some(blue_req.invoice_input());
        let built = build_red_request(&form);
        let red = built
            .request
            .ok_or_else(|| built.errors.into_iter().next().unwrap_or_else(|| bad("red request")))?;
        Ok(Built::Red(red, blue_req, blue.invoice_number.unwrap_or_default()))
    } else {
        let form: IssueForm = serde_json::from_str(&r.request).map_err(|_| bad("stored request"))?;
        let built = build_issue_request(&form);
        built
            .request
            .map(Built::Blue)
            .ok_or_else(|| built.errors.into_iter().next().unwrap_or_else(|| bad("request")))
    }
}

async fn timed<T>(
    state: &AppState,
    seller: &Entry,
    what: &'static str,
    f: impl std::future::Future<Output = Result<T, ProviderError>>,
) -> Result<T, ProviderError> {
    let started = Instant::now();
    let out = match tokio::time::timeout(state.config.provider_timeout, f).await {
        Ok(r) => r,
        Err(_) => Err(ProviderError::Unavailable(format!("{what}: timeout"))),
    };
    let outcome = match &out {
        Ok(_) => "ok",
        Err(ProviderError::Rejected(_)) => "rejected",
        Err(ProviderError::Duplicate) => "duplicate",
        Err(ProviderError::Unavailable(_)) => "unavailable",
    };
    state.metrics.provider_call(what, outcome, started.elapsed());
    state.metrics.seller_provider_call(&seller.seller.tax_id, what, outcome);
    match &out {
        Err(ProviderError::Unavailable(e)) => {
            tracing::warn!(call = what, seller = %seller.seller.tax_id, error = %e, "provider call failed; the outcome is unknown");
            match seller.provider.hold() {
                Some(h) => seller
                    .breaker
                    .hold(Duration::from_millis((h.until_ms - now_ms()).max(0) as u64), &h.reason),
                None => seller.breaker.failure(),
            }
        }
        _ => seller.breaker.success(),
    }
    out
}

/// Keeps an order queued while the provider is on hold (its token endpoint
/// refuses): due again when the hold ends, with jitter so that the orders do not
/// all come at once; the attempt is not counted. True when the order was held.
async fn held(state: &AppState, seller: &Entry, r: &mut Record) -> bool {
    let Some(h) = seller.provider.hold() else { return false };
    let wait = (h.until_ms - now_ms()).max(0);
    seller.breaker.hold(Duration::from_millis(wait as u64), &h.reason);
    r.next_attempt_at = h.until_ms.max(now_ms()) + rand::rng().random_range(0..1000);
    save(state, r).await;
    true
}

/// Writes a claimed order back while this instance holds its lease; `release`
/// ends the claim. False when the write failed or the lease was lost.
async fn save_as(state: &AppState, r: &Record, release: bool) -> bool {
    let saved = with_store_retries(&r.order_id, || {
        state.store.save_claimed(r.clone(), &state.config.instance_id, release)
    })
    .await;
    match saved {
        Some(true) => {
            state.events.changed(&r.order_id);
            true
        }
        Some(false) => {
            tracing::warn!(order = %r.order_id, "the order's lease was lost; another instance has it");
            false
        }
        None => false,
    }
}

/// Runs a store write, again after a short pause when it fails (a dropped
/// connection, a PostgreSQL deadlock victim): an order whose write is given up
/// stays claimed until its lease expires, so a transient error must not end it.
/// Each attempt is a whole transaction; `None` after the last failure.
async fn with_store_retries<T, F, Fut>(order_id: &str, mut write: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, crate::store::StoreError>>,
{
    const PAUSES_MS: [u64; 3] = [50, 250, 1000];
    for attempt in 0..=PAUSES_MS.len() {
        match write().await {
            Ok(v) => return Some(v),
            Err(e) => {
                tracing::error!(order = %order_id, error = %e, attempt, "cannot save the order");
                let Some(pause) = PAUSES_MS.get(attempt) else { break };
                tokio::time::sleep(Duration::from_millis(*pause)).await;
            }
        }
    }
    None
}

/// Writes a claimed order back and ends the claim.
async fn save(state: &AppState, r: &Record) -> bool {
    save_as(state, r, true).await
}

/// Saves a status change together with its webhook event (one transaction; see
/// [`ledger::save_with_event`](crate::ledger::save_with_event), grouped with
/// others by [`SaveGroups`](crate::ledger::SaveGroups)): a claimed order
/// only while this instance holds its lease (the claim ends), an unclaimed one
/// (a reconciliation repair) whoever holds it.
async fn save_emitting(
    state: &AppState,
    r: &Record,
    claimed: bool,
    event: &'static str,
    extras: crate::ledger::IssuedExtras,
) -> bool {
    let lease = claimed.then(|| (state.config.instance_id.clone(), true));
    let saved = with_store_retries(&r.order_id, || {
        state
            .saves
            .save_with_event(r.clone(), lease.clone(), Some(event), extras.clone())
    })
    .await;
    match saved {
        Some(s) if s.saved => {
            state.events.changed(&r.order_id);
            state.signals.webhooks.notify_one();
            state.signals.archive.notify_one();
            true
        }
        Some(_) => {
            tracing::warn!(order = %r.order_id, "the order's lease was lost; another instance has it");
            false
        }
        None => false,
    }
}

async fn finish_failed(state: &AppState, mut r: Record, issue: Issue) {
    tracing::info!(order = %r.order_id, code = issue.code, "order failed");
    r.status = Status::Failed;
    r.error_code = Some(issue.code.to_owned());
    r.error_field = Some(issue.field);
    r.error_message = Some(issue.message);
    r.error_message_en = Some(issue.message_en);
    if save_emitting(state, &r, true, crate::ledger::types::FAILED, Default::default()).await {
        state.metrics.outcome("failed");
        state
            .metrics
            .seller_outcome(state.sellers.get().seller_of_key(&r.order_id), "failed");
    }
}

/// What became of an invoice the provider reported for an order.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Adoption {
    /// The order is issued with it.
    Issued,
    /// It is not the order's: the order is in `conflict` (the finding is given).
    Conflict(serde_json::Value),
    /// Nothing was saved (the lease was lost, the store failed): tried again later.
    NotSaved,
}

/// Where an invoice the provider reports differs from the blue order it was
/// found for (empty: it is the order's). Facts the provider did not report are
/// not compared; a red order is not compared (its amounts are the blue's, negated).
pub fn differences(r: &Record, facts: &crate::provider::InvoiceFacts) -> Vec<(&'static str, String, String)> {
    use rust_decimal::Decimal;
    let mut out = Vec::new();
    let f = facts;
    let nothing_reported = f.amount_incl_tax.is_none()
        && f.tax_amount.is_none()
        && f.buyer_tax_id.is_none()
        && f.buyer_name.is_none()
        && f.lines.is_none();
    if r.kind != "blue" || nothing_reported {
        return out;
    }
    let Ok(form) = serde_json::from_str::<IssueForm>(&r.request) else {
        return out;
    };
    let Some(req) = build_issue_request(&form).request else {
        return out;
    };
    let money = |s: &str| Decimal::from_str_exact(s.trim()).ok().map(|d| d.normalize());
    let mut amount = |what: &'static str, ours: &str, theirs: &Option<String>| {
        if let Some(t) = theirs.as_deref().filter(|t| !t.trim().is_empty()) {
            if money(ours).is_none() || money(ours) != money(t) {
                out.push((what, ours.to_owned(), t.to_owned()));
            }
        }
    };
    amount("amountInclTax", &req.totals.amount_incl_tax, &facts.amount_incl_tax);
    amount("taxAmount", &req.totals.tax_amount, &facts.tax_amount);
    if let Some(t) = facts.buyer_tax_id.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        if !t.eq_ignore_ascii_case(req.buyer.tax_id.trim()) {
            out.push(("buyer.taxId", req.buyer.tax_id.clone(), t.to_owned()));
        }
    }
    if let Some(t) = facts.buyer_name.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        if t != req.buyer.name.trim() {
            out.push(("buyer.name", req.buyer.name.clone(), t.to_owned()));
        }
    }
    if let Some(n) = facts.lines {
        if n != req.lines.len() {
            out.push(("lines", req.lines.len().to_string(), n.to_string()));
        }
    }
    out
}

/// Puts an order in `conflict`: the provider holds an invoice under its number
/// that is not the order's. Nothing of the invoice is adopted; the order gets the
/// issue `PROVIDER_INVOICE_MISMATCH`, an `invoice.conflict` event, a
/// reconciliation finding `foreign_invoice`, an error log line and the metric
/// `fapiao_orders_conflict_total`.
async fn finish_conflict(
    state: &AppState,
    mut r: Record,
    i: &crate::provider::Issued,
    diffs: Vec<(&'static str, String, String)>,
    claimed: bool,
) -> Adoption {
    let fields: Vec<&str> = diffs.iter().map(|d| d.0).collect();
    tracing::error!(order = %r.order_id, provider_number = %i.number, differs = ?fields,
        "the provider holds another invoice under this order number; NOT adopted, the order is in conflict");
    let issue = fapiao::Issue::new(
        "order",
        &ProxyProblem::ProviderInvoiceMismatch {
            fields: fields.join(", "),
        },
    );
    r.status = Status::Conflict;
    r.error_code = Some(issue.code.to_owned());
    r.error_field = Some(issue.field);
    r.error_message = Some(issue.message);
    r.error_message_en = Some(issue.message_en);
    let detail = serde_json::json!({
        "detail": "the provider holds an invoice under this order number that is not this order's; it was not adopted",
        "local": "conflict",
        "providerNumber": i.number,
        "differences": diffs.iter().map(|(f, ours, theirs)| serde_json::json!({ "field": f, "order": ours, "provider": theirs })).collect::<Vec<_>>(),
    });
    // The finding first (an upsert: true of the provider whatever happens to the
    // save below), so that whoever sees the order in conflict also finds it.
    let num = (!i.number.is_empty()).then(|| i.number.clone());
    let mut finding = detail.clone();
    match crate::ledger::upsert_finding(&state.store, "foreign_invoice", Some(r.order_id.clone()), num, detail).await {
        Ok(id) => finding["id"] = serde_json::json!(id),
        Err(e) => tracing::error!(order = %r.order_id, error = %e, "cannot record the conflict finding"),
    }
    if !save_emitting(state, &r, claimed, crate::ledger::types::CONFLICT, Default::default()).await {
        return Adoption::NotSaved;
    }
    state.metrics.conflict();
    state
        .metrics
        .seller_outcome(state.sellers.get().seller_of_key(&r.order_id), "conflict");
    finding["kind"] = serde_json::json!("foreign_invoice");
    finding["orderId"] = serde_json::json!(r.order_id);
    finding["invoiceNumber"] = serde_json::json!(i.number);
    Adoption::Conflict(finding)
}

/// Marks an order issued with what the provider reported (also used by
/// reconciliation's repairs) — unless the invoice is not the order's
/// ([`differences`]), which puts the order in `conflict` instead.
/// `claimed`: the order is this instance's claim (the worker), else the write
/// happens whoever holds the order.
pub(crate) async fn finish_issued(
    state: &AppState,
    mut r: Record,
    i: crate::provider::Issued,
    claimed: bool,
) -> Adoption {
    let diffs = differences(&r, &i.facts);
    if !diffs.is_empty() {
        return finish_conflict(state, r, &i, diffs, claimed).await;
    }
    let notify = (i.email_notify_status.clone(), i.phone_notify_status.clone());
    r.status = Status::Issued;
    r.invoice_number = Some(i.number);
    r.issued_at = Some(i.issued_at);
    r.pdf_url = i.pdf_url;
    r.ofd_url = i.ofd_url;
    r.xml_url = i.xml_url;
    r.error_code = None;
    r.error_field = None;
    r.error_message = None;
    r.error_message_en = None;
    // A full red invoice reverses its blue one. Marked first (with its
    // `invoice.reversed` event, in one transaction): the red invoice is issued at
    // the provider already, and should this instance die before the red order is
    // saved, the next query issues it and marks again (a no-op). So the blue is
    // never left `issued` once its red order shows `issued`.
    if r.kind == "red" {
        let full = serde_json::from_str::<serde_json::Value>(&r.request)
            .ok()
            .and_then(|v| v["full"].as_bool())
            .unwrap_or(false);
        if let (true, Some(blue)) = (full, &r.blue_order_id) {
            match crate::ledger::mark_reversed_with_event(&state.store, blue, &r.order_id).await {
                Ok(event) => {
                    state.events.changed(blue);
                    if event.is_some() {
                        state.signals.webhooks.notify_one();
                    }
                }
                Err(e) => {
                    // Keep the red order unfinished: it is queried and marked again.
                    tracing::error!(order = %r.order_id, error = %e, "cannot mark the blue order reversed");
                    return Adoption::NotSaved;
                }
            }
        }
    }
    let extras = crate::ledger::IssuedExtras {
        email_notify_status: notify.0,
        phone_notify_status: notify.1,
        files: crate::ledger::files_of(&r),
    };
    let event = if r.kind == "red" {
        crate::ledger::types::RED_ISSUED
    } else {
        crate::ledger::types::ISSUED
    };
    if !save_emitting(state, &r, claimed, event, extras).await {
        return Adoption::NotSaved;
    }
    state.metrics.outcome("issued");
    state
        .metrics
        .seller_outcome(state.sellers.get().seller_of_key(&r.order_id), "issued");
    state
        .metrics
        .issued_after(Duration::from_millis((now_ms() - r.created_at).max(0) as u64));
    Adoption::Issued
}

/// Moves one order one step on, with the provider and breaker of its seller.
pub async fn process(state: &AppState, r: Record) {
    process_claimed(state, r, false).await
}

/// Moves one claimed order one step on; `marked`: the claim marked it submitted
/// (see [`Store::claim_to_submit`](crate::store::Store::claim_to_submit)), so it
/// is submitted without a write of its own first.
async fn process_claimed(state: &AppState, mut r: Record, marked: bool) {
    let Some(seller) = state.sellers.get().of_key(&r.order_id).cloned() else {
        // Its seller is not listed now (a reload removed it, or a file was
        // edited by mistake): the order stays queued, untouched, until it is.
        tracing::warn!(order = %r.order_id, "the order's seller is not configured; the order waits");
        r.next_attempt_at = now_ms() + 60_000;
        save(state, &r).await;
        return;
    };
    let seller = &*seller;
    let order_id = crate::sellers::order_id_of(&r.order_id).to_owned();
    if let Some(wait) = seller.breaker.check() {
        r.next_attempt_at = now_ms() + wait.as_millis() as i64 + rand::rng().random_range(0..250);
        save(state, &r).await;
        return;
    }
    if held(state, seller, &mut r).await {
        return;
    }
    let kind = if r.kind == "red" { Kind::Red } else { Kind::Blue };
    if r.submitted && !marked {
        match timed(state, seller, "query", seller.provider.query(&order_id, kind)).await {
            Ok(QueryOutcome::Issued(i)) => {
                finish_issued(state, r, i, true).await;
                return;
            }
            Ok(QueryOutcome::Failed(issue)) => return finish_failed(state, r, issue).await,
            Ok(QueryOutcome::Pending) => {
                r.attempts += 1;
                let polls = r.attempts.clamp(1, 7) as u32;
                let step = state
                    .config
                    .poll_interval
                    .saturating_mul(1 << (polls - 1))
                    .min(Duration::from_secs(30));
                r.next_attempt_at = now_ms() + step.as_millis() as i64;
                save(state, &r).await;
                return;
            }
            Ok(QueryOutcome::NotFound) => {} // never arrived: submit (again) below
            Err(_) => {
                if held(state, seller, &mut r).await {
                    return;
                }
                r.attempts += 1;
                r.next_attempt_at = now_ms() + backoff(r.attempts).as_millis() as i64;
                save(state, &r).await;
                return;
            }
        }
    }

    let built = match build(state, &r).await {
        Ok(b) => b,
        Err(issue) => return finish_failed(state, r, issue).await,
    };
    // Durably mark the order as possibly submitted before anything leaves
    // (done by the claim already when `marked`).
    if !marked {
        r.status = Status::Issuing;
        r.submitted = true;
        r.attempts += 1;
        // Due again, should this instance die with the submission out, when its claim
        // expires (and any instance may take the order over).
        r.next_attempt_at = r.lease_until.max(now_ms());
        // Keep the claim while the submission is out.
        if !save_as(state, &r, false).await {
            return;
        }
    }
    let result = match &built {
        Built::Blue(req) => {
            timed(
                state,
                seller,
                "submit",
                seller.provider.submit_issue_at(req, r.created_at),
            )
            .await
        }
        Built::Red(red, blue, number) => {
            timed(
                state,
                seller,
                "submit_red",
                seller.provider.submit_red(red, blue, number),
            )
            .await
        }
    };
    match result {
        Ok(accepted) => {
            r.provider_ref = accepted.serial.or(r.provider_ref);
            r.next_attempt_at = now_ms() + state.config.poll_interval.as_millis() as i64;
        }
        // Known to the provider already: find out where it stands.
        Err(ProviderError::Duplicate) => r.next_attempt_at = now_ms() + state.config.poll_interval.as_millis() as i64,
        Err(ProviderError::Rejected(issue)) => return finish_failed(state, r, issue).await,
        Err(ProviderError::Unavailable(_)) => {
            if held(state, seller, &mut r).await {
                return;
            }
            r.next_attempt_at = now_ms() + backoff(r.attempts).as_millis() as i64
        }
    }
    save(state, &r).await;
}
