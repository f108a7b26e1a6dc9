//! Prometheus text metrics: requests, order outcomes, provider calls with a
//! latency histogram, and the provider success rate (a warning is logged when it
//! drops below `FAPIAO_SUCCESS_RATE_THRESHOLD`).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const BUCKETS: [f64; 12] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

#[derive(Default)]
struct Inner {
    requests: BTreeMap<(String, String, u16), u64>,
    outcomes: BTreeMap<String, u64>,
    conflicts: u64,
    provider_calls: BTreeMap<(String, String), u64>,
    provider_latency: BTreeMap<String, Histogram>,
    accepted: u64,
    last_warning: Option<Instant>,
    /// Provider calls per second of the last hour: (second, definitive, all).
    recent: std::collections::VecDeque<(u64, u64, u64)>,
}

/// The longest window [`Metrics::window`] can answer for.
const RECENT_SECONDS: u64 = 3600;

/// The counters.
pub struct Metrics {
    inner: Mutex<Inner>,
    threshold: f64,
}

impl Metrics {
    /// Empty metrics that warn below `threshold`.
    pub fn new(threshold: f64) -> Metrics {
        Metrics { inner: Mutex::default(), threshold }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// One HTTP request answered.
    pub fn request(&self, method: &str, route: &str, status: u16) {
        *self.lock().requests.entry((method.to_owned(), route.to_owned(), status)).or_default() += 1;
    }

    /// One new order accepted.
    pub fn accepted(&self) {
        self.lock().accepted += 1;
    }

    /// An order went to `conflict` (another invoice under its number).
    pub fn conflict(&self) {
        let mut i = self.lock();
        i.conflicts += 1;
        *i.outcomes.entry("conflict".to_owned()).or_default() += 1;
    }

    /// An order reached `issued` or `failed`.
    pub fn outcome(&self, outcome: &str) {
        *self.lock().outcomes.entry(outcome.to_owned()).or_default() += 1;
    }

    /// The provider success rate: calls that got a definitive answer ÷ all calls.
    pub fn success_rate(&self) -> Option<f64> {
        let i = self.lock();
        rate(&i)
    }

    /// Provider calls of the last `window` (at most an hour): (definitive, all).
    pub fn window(&self, window: Duration) -> (u64, u64) {
        let now = (crate::time::now_ms() / 1000) as u64;
        let from = now.saturating_sub(window.as_secs().max(1));
        let i = self.lock();
        i.recent.iter().filter(|b| b.0 > from).fold((0, 0), |(ok, all), b| (ok + b.1, all + b.2))
    }

    /// One provider call.
    pub fn provider_call(&self, call: &str, outcome: &str, took: Duration) {
        let mut i = self.lock();
        *i.provider_calls.entry((call.to_owned(), outcome.to_owned())).or_default() += 1;
        let h = i.provider_latency.entry(call.to_owned()).or_default();
        let s = took.as_secs_f64();
        for (b, c) in BUCKETS.iter().zip(h.counts.iter_mut()) {
            if s <= *b {
                *c += 1;
            }
        }
        h.sum += s;
        h.count += 1;
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
                tracing::warn!(success_rate = r, threshold = self.threshold, "provider success rate below the threshold");
            }
        }
    }

    /// The Prometheus text; `orders` are the stored orders by status.
    /// `hold`: the provider's hold, if any (a refusing token endpoint).
    pub fn render(&self, orders: &[(String, i64)], breaker_open: bool, hold: Option<&crate::provider::Hold>) -> String {
        let i = self.lock();
        let mut o = String::new();
        let _ = writeln!(o, "# HELP fapiao_http_requests_total HTTP requests answered.\n# TYPE fapiao_http_requests_total counter");
        for ((m, r, s), n) in &i.requests {
            let _ = writeln!(o, "fapiao_http_requests_total{{method=\"{m}\",route=\"{r}\",status=\"{s}\"}} {n}");
        }
        let _ = writeln!(o, "# HELP fapiao_orders_accepted_total New orders accepted and stored.\n# TYPE fapiao_orders_accepted_total counter");
        let _ = writeln!(o, "fapiao_orders_accepted_total {}", i.accepted);
        let _ = writeln!(o, "# HELP fapiao_order_outcomes_total Orders that reached a final state.\n# TYPE fapiao_order_outcomes_total counter");
        for (k, n) in &i.outcomes {
            let _ = writeln!(o, "fapiao_order_outcomes_total{{outcome=\"{k}\"}} {n}");
        }
        let _ = writeln!(o, "# HELP fapiao_orders_conflict_total Orders put in conflict: the provider holds another invoice under their number (alert on any).\n# TYPE fapiao_orders_conflict_total counter");
        let _ = writeln!(o, "fapiao_orders_conflict_total {}", i.conflicts);
        let _ = writeln!(o, "# HELP fapiao_provider_token_refused 1 while the provider's token endpoint refuses (calls wait for the next try).\n# TYPE fapiao_provider_token_refused gauge");
        let _ = writeln!(o, "fapiao_provider_token_refused {}", hold.is_some() as u8);
        let _ = writeln!(o, "# HELP fapiao_provider_token_failures Consecutive refusals of the token endpoint.\n# TYPE fapiao_provider_token_failures gauge");
        let _ = writeln!(o, "fapiao_provider_token_failures {}", hold.map(|h| h.failures).unwrap_or(0));
        let _ = writeln!(o, "# HELP fapiao_orders Stored orders by status.\n# TYPE fapiao_orders gauge");
        for (k, n) in orders {
            let _ = writeln!(o, "fapiao_orders{{status=\"{k}\"}} {n}");
        }
        let _ = writeln!(o, "# HELP fapiao_provider_calls_total Provider calls by outcome.\n# TYPE fapiao_provider_calls_total counter");
        for ((c, k), n) in &i.provider_calls {
            let _ = writeln!(o, "fapiao_provider_calls_total{{call=\"{c}\",outcome=\"{k}\"}} {n}");
        }
        let _ = writeln!(o, "# HELP fapiao_provider_latency_seconds Provider call latency.\n# TYPE fapiao_provider_latency_seconds histogram");
        for (c, h) in &i.provider_latency {
            for (b, n) in BUCKETS.iter().zip(h.counts.iter()) {
                let _ = writeln!(o, "fapiao_provider_latency_seconds_bucket{{call=\"{c}\",le=\"{b}\"}} {n}");
            }
            let _ = writeln!(o, "fapiao_provider_latency_seconds_bucket{{call=\"{c}\",le=\"+Inf\"}} {}", h.count);
            let _ = writeln!(o, "fapiao_provider_latency_seconds_sum{{call=\"{c}\"}} {}", h.sum);
            let _ = writeln!(o, "fapiao_provider_latency_seconds_count{{call=\"{c}\"}} {}", h.count);
        }
        let _ = writeln!(o, "# HELP fapiao_provider_success_ratio Provider calls with a definitive answer / all calls.\n# TYPE fapiao_provider_success_ratio gauge");
        let _ = writeln!(o, "fapiao_provider_success_ratio {}", rate(&i).unwrap_or(1.0));
        let _ = writeln!(o, "# HELP fapiao_provider_breaker_open 1 while the circuit breaker holds calls back.\n# TYPE fapiao_provider_breaker_open gauge");
        let _ = writeln!(o, "fapiao_provider_breaker_open {}", breaker_open as u8);
        o
    }
}

fn rate(i: &Inner) -> Option<f64> {
    let total: u64 = i.provider_calls.values().sum();
    if total == 0 {
        return None;
    }
    let failed: u64 = i.provider_calls.iter().filter(|((_, k), _)| k == "unavailable").map(|(_, n)| n).sum();
    Some((total - failed) as f64 / total as f64)
}
