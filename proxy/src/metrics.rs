//! Prometheus metrics through the `prometheus-client` crate (OpenMetrics text at
//! `/metrics`): requests, order intake and outcomes, issue latency, provider calls
//! with a latency histogram, the provider success rate (a warning is logged when
//! it drops below `FAPIAO_SUCCESS_RATE_THRESHOLD`), the breaker, and the queues.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

const BUCKETS: [f64; 12] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];
/// Issue latency: from acceptance to issued (the provider issues asynchronously).
const ISSUE_BUCKETS: [f64; 12] = [0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0, 7200.0];

type Labels = Vec<(&'static str, String)>;
type HistogramFamily = Family<Labels, Histogram, fn() -> Histogram>;

#[derive(Default)]
struct Inner {
    provider_calls: BTreeMap<(String, String), u64>,
    last_warning: Option<Instant>,
    /// Provider calls per second of the last hour: (second, definitive, all).
    recent: std::collections::VecDeque<(u64, u64, u64)>,
}

/// The longest window [`Metrics::window`] can answer for.
const RECENT_SECONDS: u64 = 3600;

/// The queue figures read from the store at each scrape.
#[derive(Debug, Clone, Default)]
pub struct Queues {
    /// Stored orders by status.
    pub orders: Vec<(String, i64)>,
    /// Age of the oldest unfinished order (s), 0 when none.
    pub oldest_unfinished_s: f64,
    /// Webhook events waiting for delivery.
    pub outbox_pending: i64,
    /// Age of the oldest of them (s), 0 when none.
    pub outbox_oldest_s: f64,
    /// Archive files refused or failing 3 times or more.
    pub archive_failed: i64,
    /// Stored orders by seller (tax ID; "" for the home seller) and status.
    pub seller_orders: Vec<(String, String, i64)>,
    /// Per seller ("" for the home seller): the age of its oldest unfinished order (s).
    pub seller_oldest_unfinished_s: Vec<(String, f64)>,
}

/// Reads the queue figures from the store (the same for every instance on it).
pub async fn queues(store: &crate::store::Store) -> Result<Queues, crate::store::StoreError> {
    let orders = store.counts().await?;
    let now = crate::time::now_ms();
    let (oldest, pending, oldest_event, failed) = store
        .transaction(|c| {
            Box::pin(async move {
                let o = c.query_one("SELECT MIN(created_at) FROM orders WHERE status IN ('pending', 'issuing')", &[]).await?.opt_int(0)?;
                let e = c.query_one("SELECT COUNT(*), MIN(created_at) FROM webhook_events WHERE state = 'pending'", &[]).await?;
                let f = c
                    .query_one("SELECT COUNT(*) FROM archive_files WHERE state = 'refused' OR (state = 'pending' AND attempts >= 3)", &[])
                    .await?
                    .int(0)?;
                Ok((o, e.int(0)?, e.opt_int(1)?, f))
            })
        })
        .await?;
    let (seller_orders, seller_oldest) = store
        .transaction(|c| {
            Box::pin(async move {
                let counts = c
                    .query("SELECT seller, status, COUNT(*) FROM orders GROUP BY seller, status", &[])
                    .await?
                    .iter()
                    .map(|r| Ok((r.text(0)?, r.text(1)?, r.int(2)?)))
                    .collect::<Result<Vec<_>, crate::store::StoreError>>()?;
                let oldest = c
                    .query(
                        "SELECT seller, MIN(created_at) FROM orders WHERE status IN ('pending', 'issuing') GROUP BY seller",
                        &[],
                    )
                    .await?
                    .iter()
                    .map(|r| Ok((r.text(0)?, r.int(1)?)))
                    .collect::<Result<Vec<_>, crate::store::StoreError>>()?;
                Ok((counts, oldest))
            })
        })
        .await?;
    let age = |t: Option<i64>| t.map(|t| (now - t).max(0) as f64 / 1000.0).unwrap_or(0.0);
    Ok(Queues {
        seller_oldest_unfinished_s: seller_oldest.into_iter().map(|(s, t)| (s, age(Some(t)))).collect(),
        seller_orders,
        orders,
        oldest_unfinished_s: age(oldest),
        outbox_pending: pending,
        outbox_oldest_s: age(oldest_event),
        archive_failed: failed,
    })
}

/// The metrics.
pub struct Metrics {
    inner: Mutex<Inner>,
    threshold: f64,
    registry: Registry,
    requests: Family<Labels, Counter>,
    accepted: Counter,
    outcomes: Family<Labels, Counter>,
    conflicts: Counter,
    provider_calls: Family<Labels, Counter>,
    provider_latency: HistogramFamily,
    issue_latency: Histogram,
    success_ratio: Gauge<f64, std::sync::atomic::AtomicU64>,
    breaker_open: Gauge,
    token_refused: Gauge,
    token_failures: Gauge,
    orders: Family<Labels, Gauge>,
    oldest_unfinished: Gauge<f64, std::sync::atomic::AtomicU64>,
    outbox_pending: Gauge,
    outbox_oldest: Gauge<f64, std::sync::atomic::AtomicU64>,
    archive_failed: Gauge,
    seller_accepted: Family<Labels, Counter>,
    seller_outcomes: Family<Labels, Counter>,
    seller_provider_calls: Family<Labels, Counter>,
    seller_orders: Family<Labels, Gauge>,
    seller_breaker_open: Family<Labels, Gauge>,
    seller_token_refused: Family<Labels, Gauge>,
    seller_oldest: Family<Labels, Gauge<f64, std::sync::atomic::AtomicU64>>,
}

/// Per seller at a scrape: (tax ID, breaker open, token endpoint refusing).
pub type SellerStates = Vec<(String, bool, bool)>;

fn provider_histogram() -> Histogram {
    Histogram::new(BUCKETS)
}

impl Metrics {
    /// Empty metrics that warn below `threshold`.
    pub fn new(threshold: f64) -> Metrics {
        let mut registry = Registry::with_prefix("fapiao");
        let requests = Family::<Labels, Counter>::default();
        registry.register("http_requests", "HTTP requests answered", requests.clone());
        let accepted = Counter::default();
        registry.register("orders_accepted", "New orders accepted and stored", accepted.clone());
        let outcomes = Family::<Labels, Counter>::default();
        registry.register("order_outcomes", "Orders that reached a final state", outcomes.clone());
        let conflicts = Counter::default();
        registry.register(
            "orders_conflict",
            "Orders put in conflict: the provider holds another invoice under their number (alert on any)",
            conflicts.clone(),
        );
        let provider_calls = Family::<Labels, Counter>::default();
        registry.register(
            "provider_calls",
            "Provider calls by outcome (unavailable: no definitive answer)",
            provider_calls.clone(),
        );
        let provider_latency: HistogramFamily = Family::new_with_constructor(provider_histogram);
        registry.register_with_unit(
            "provider_latency",
            "Provider call latency",
            Unit::Seconds,
            provider_latency.clone(),
        );
        let issue_latency = Histogram::new(ISSUE_BUCKETS);
        registry.register_with_unit(
            "order_issue_latency",
            "From acceptance to issued, per order",
            Unit::Seconds,
            issue_latency.clone(),
        );
        let success_ratio = Gauge::<f64, std::sync::atomic::AtomicU64>::default();
        registry.register(
            "provider_success_ratio",
            "Provider calls with a definitive answer / all calls since start (alert on rates of fapiao_provider_calls_total)",
            success_ratio.clone(),
        );
        let breaker_open = Gauge::default();
        registry.register(
            "provider_breaker_open",
            "1 while the circuit breaker holds calls back",
            breaker_open.clone(),
        );
        let token_refused = Gauge::default();
        registry.register(
            "provider_token_refused",
            "1 while the provider's token endpoint refuses (calls wait for the next try)",
            token_refused.clone(),
        );
        let token_failures = Gauge::default();
        registry.register(
            "provider_token_failures",
            "Consecutive refusals of the token endpoint",
            token_failures.clone(),
        );
        let orders = Family::<Labels, Gauge>::default();
        registry.register("orders", "Stored orders by status", orders.clone());
        let oldest_unfinished = Gauge::<f64, std::sync::atomic::AtomicU64>::default();
        registry.register_with_unit(
            "order_oldest_unfinished_age",
            "Age of the oldest pending or issuing order (0: none)",
            Unit::Seconds,
            oldest_unfinished.clone(),
        );
        let outbox_pending = Gauge::default();
        registry.register(
            "webhook_outbox_pending",
            "Webhook events waiting for delivery",
            outbox_pending.clone(),
        );
        let outbox_oldest = Gauge::<f64, std::sync::atomic::AtomicU64>::default();
        registry.register_with_unit(
            "webhook_outbox_oldest_age",
            "Age of the oldest webhook event waiting (0: none)",
            Unit::Seconds,
            outbox_oldest.clone(),
        );
        let archive_failed = Gauge::default();
        registry.register(
            "archive_failed_files",
            "Invoice files refused by the archive or failing 3 times or more",
            archive_failed.clone(),
        );
        let seller_accepted = Family::<Labels, Counter>::default();
        registry.register(
            "seller_orders_accepted",
            "New orders accepted and stored, by seller",
            seller_accepted.clone(),
        );
        let seller_outcomes = Family::<Labels, Counter>::default();
        registry.register(
            "seller_order_outcomes",
            "Orders that reached a final state, by seller",
            seller_outcomes.clone(),
        );
        let seller_provider_calls = Family::<Labels, Counter>::default();
        registry.register(
            "seller_provider_calls",
            "Provider calls by seller and outcome",
            seller_provider_calls.clone(),
        );
        let seller_orders = Family::<Labels, Gauge>::default();
        registry.register(
            "seller_orders",
            "Stored orders by seller and status",
            seller_orders.clone(),
        );
        let seller_breaker_open = Family::<Labels, Gauge>::default();
        registry.register(
            "seller_provider_breaker_open",
            "1 while the circuit breaker of the seller's provider holds calls back",
            seller_breaker_open.clone(),
        );
        let seller_token_refused = Family::<Labels, Gauge>::default();
        registry.register(
            "seller_provider_token_refused",
            "1 while the token endpoint of the seller's provider refuses",
            seller_token_refused.clone(),
        );
        let seller_oldest = Family::<Labels, Gauge<f64, std::sync::atomic::AtomicU64>>::default();
        registry.register_with_unit(
            "seller_order_oldest_unfinished_age",
            "Age of the seller's oldest pending or issuing order (0: none)",
            Unit::Seconds,
            seller_oldest.clone(),
        );
        Metrics {
            seller_oldest,
            seller_accepted,
            seller_outcomes,
            seller_provider_calls,
            seller_orders,
            seller_breaker_open,
            seller_token_refused,
            inner: Mutex::default(),
            threshold,
            registry,
            requests,
            accepted,
            outcomes,
            conflicts,
            provider_calls,
            provider_latency,
            issue_latency,
            success_ratio,
            breaker_open,
            token_refused,
            token_failures,
            orders,
            oldest_unfinished,
            outbox_pending,
            outbox_oldest,
            archive_failed,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// One HTTP request answered.
    pub fn request(&self, method: &str, route: &str, status: u16) {
        self.requests
            .get_or_create(&vec![
                ("method", method.to_owned()),
                ("route", route.to_owned()),
                ("status", status.to_string()),
            ])
            .inc();
    }

    /// One new order accepted.
    pub fn accepted(&self) {
        self.accepted.inc();
    }

    /// One new order of a seller accepted.
    pub fn seller_accepted(&self, seller: &str) {
        self.seller_accepted
            .get_or_create(&vec![("seller", seller.to_owned())])
            .inc();
    }

    /// An order of a seller reached `issued`, `failed` or `conflict`.
    pub fn seller_outcome(&self, seller: &str, outcome: &str) {
        self.seller_outcomes
            .get_or_create(&vec![("seller", seller.to_owned()), ("outcome", outcome.to_owned())])
            .inc();
    }

    /// One provider call for a seller.
    pub fn seller_provider_call(&self, seller: &str, call: &str, outcome: &str) {
        self.seller_provider_calls
            .get_or_create(&vec![
                ("seller", seller.to_owned()),
                ("call", call.to_owned()),
                ("outcome", outcome.to_owned()),
            ])
            .inc();
    }

    /// The per-seller gauges of a scrape: stored orders (`home` names the
    /// seller of the order keys without a tax ID) and each seller's breaker and
    /// token state.
    pub fn set_sellers(&self, queues: &Queues, home: &str, sellers: &SellerStates) {
        self.seller_orders.clear();
        for (seller, status, n) in &queues.seller_orders {
            let seller = if seller.is_empty() { home } else { seller.as_str() };
            self.seller_orders
                .get_or_create(&vec![("seller", seller.to_owned()), ("status", status.clone())])
                .set(*n);
        }
        self.seller_oldest.clear();
        for (seller, _, _) in sellers {
            self.seller_oldest
                .get_or_create(&vec![("seller", seller.clone())])
                .set(0.0);
        }
        for (seller, age) in &queues.seller_oldest_unfinished_s {
            let seller = if seller.is_empty() { home } else { seller.as_str() };
            self.seller_oldest
                .get_or_create(&vec![("seller", seller.to_owned())])
                .set(*age);
        }
        self.seller_breaker_open.clear();
        self.seller_token_refused.clear();
        for (seller, open, refused) in sellers {
            self.seller_breaker_open
                .get_or_create(&vec![("seller", seller.clone())])
                .set(*open as i64);
            self.seller_token_refused
                .get_or_create(&vec![("seller", seller.clone())])
                .set(*refused as i64);
        }
    }

    /// An order went to `conflict` (another invoice under its number).
    pub fn conflict(&self) {
        self.conflicts.inc();
        self.outcome("conflict");
    }

    /// An order reached `issued` or `failed`.
    pub fn outcome(&self, outcome: &str) {
        self.outcomes
            .get_or_create(&vec![("outcome", outcome.to_owned())])
            .inc();
    }

    /// An order was issued `took` after it was accepted.
    pub fn issued_after(&self, took: Duration) {
        self.issue_latency.observe(took.as_secs_f64());
    }

    /// The provider success rate since start: calls that got a definitive answer ÷ all calls.
    pub fn success_rate(&self) -> Option<f64> {
        let i = self.lock();
        rate(&i)
    }

    /// Provider calls of the last `window` (at most an hour): (definitive, all).
    pub fn window(&self, window: Duration) -> (u64, u64) {
        let now = (crate::time::now_ms() / 1000) as u64;
        let from = now.saturating_sub(window.as_secs().max(1));
        let i = self.lock();
        i.recent
            .iter()
            .filter(|b| b.0 > from)
            .fold((0, 0), |(ok, all), b| (ok + b.1, all + b.2))
    }

    /// One provider call.
    pub fn provider_call(&self, call: &str, outcome: &str, took: Duration) {
        self.provider_calls
            .get_or_create(&vec![("call", call.to_owned()), ("outcome", outcome.to_owned())])
            .inc();
        self.provider_latency
            .get_or_create(&vec![("call", call.to_owned())])
            .observe(took.as_secs_f64());
        let mut i = self.lock();
        *i.provider_calls
            .entry((call.to_owned(), outcome.to_owned()))
            .or_default() += 1;
        let sec = (crate::time::now_ms() / 1000) as u64;
        let ok = (outcome != "unavailable") as u64;
        match i.recent.back_mut() {
            Some(b) if b.0 == sec => {
                b.1 += ok;
                b.2 += 1;
            }
            _ => i.recent.push_back((sec, ok, 1)),
        }
        while i.recent.front().is_some_and(|b| b.0 + RECENT_SECONDS < sec) {
            i.recent.pop_front();
        }
        if let Some(r) = rate(&i) {
            let total: u64 = i.provider_calls.values().sum();
            let recent = i.last_warning.is_some_and(|t| t.elapsed() < Duration::from_secs(60));
            if r < self.threshold && total >= 20 && !recent {
                i.last_warning = Some(Instant::now());
                tracing::warn!(
                    success_rate = r,
                    threshold = self.threshold,
                    "provider success rate below the threshold"
                );
            }
        }
    }

    /// The OpenMetrics text; `queues` are read from the store at the scrape,
    /// `breaker_open` and `hold` (a refusing token endpoint) from the worker.
    pub fn render(&self, queues: &Queues, breaker_open: bool, hold: Option<&crate::provider::Hold>) -> String {
        self.success_ratio.set(self.success_rate().unwrap_or(1.0));
        self.breaker_open.set(breaker_open as i64);
        self.token_refused.set(hold.is_some() as i64);
        self.token_failures.set(hold.map(|h| h.failures as i64).unwrap_or(0));
        self.orders.clear();
        for (k, n) in &queues.orders {
            self.orders.get_or_create(&vec![("status", k.clone())]).set(*n);
        }
        self.oldest_unfinished.set(queues.oldest_unfinished_s);
        self.outbox_pending.set(queues.outbox_pending);
        self.outbox_oldest.set(queues.outbox_oldest_s);
        self.archive_failed.set(queues.archive_failed);
        let mut o = String::new();
        if let Err(e) = encode(&mut o, &self.registry) {
            tracing::error!(error = %e, "cannot encode the metrics");
        }
        o
    }
}

fn rate(i: &Inner) -> Option<f64> {
    let total: u64 = i.provider_calls.values().sum();
    if total == 0 {
        return None;
    }
    let failed: u64 = i
        .provider_calls
        .iter()
        .filter(|((_, k), _)| k == "unavailable")
        .map(|(_, n)| n)
        .sum();
    Some((total - failed) as f64 / total as f64)
}
