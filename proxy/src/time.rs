//! Wall-clock helpers without a date crate.

use std::time::{SystemTime, UNIX_EPOCH};

/// A source of the current time, so that timing decisions (the token back-off
/// of the 诺诺 client) can be tested on simulated time.
pub trait Clock: Send + Sync {
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> i64;
}

/// The system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        now_ms()
    }
}

/// A clock that moves only when told to (tests).
#[derive(Debug, Default)]
pub struct ManualClock(std::sync::atomic::AtomicI64);

impl ManualClock {
    /// A clock showing `ms`.
    pub fn new(ms: i64) -> ManualClock {
        ManualClock(std::sync::atomic::AtomicI64::new(ms))
    }
    /// Moves the clock to `ms`.
    pub fn set(&self, ms: i64) {
        self.0.store(ms, std::sync::atomic::Ordering::SeqCst);
    }
    /// Moves the clock on by `ms`.
    pub fn advance(&self, ms: i64) {
        self.0.fetch_add(ms, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.0.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Seconds since the Unix epoch.
pub fn now_s() -> i64 {
    now_ms() / 1000
}

/// `2026-11-23T10:30:00+08:00` (China Standard Time) for epoch milliseconds.
pub fn cst_rfc3339(ms: i64) -> String {
    let (date, h, m, s) = cst_parts(ms);
    format!("{}T{h:02}:{m:02}:{s:02}+08:00", date.iso())
}

/// `2026-11-23 10:30:00` (China Standard Time), as 诺诺 wants `invoiceDate`.
pub fn cst_plain(ms: i64) -> String {
    let (date, h, m, s) = cst_parts(ms);
    format!("{} {h:02}:{m:02}:{s:02}", date.iso())
}

fn cst_parts(ms: i64) -> (fapiao::clock::Date, i64, i64, i64) {
    let secs = ms.div_euclid(1000) + 8 * 3600;
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    (
        fapiao::clock::date_from_unix_days(days),
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn formats_china_time() {
        assert_eq!(super::cst_rfc3339(1_705_285_800_000), "2024-01-15T10:30:00+08:00");
        assert_eq!(super::cst_plain(1_705_285_800_000), "2024-01-15 10:30:00");
    }
}
