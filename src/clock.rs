//! Today's date, without a date crate. Natively it comes from the system clock; in
//! WebAssembly (where `SystemTime::now` is not available) from JavaScript's `Date`.

/// A calendar date (proleptic Gregorian).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Date {
    /// Year, e.g. 2026.
    pub year: i32,
    /// Month 1–12.
    pub month: u32,
    /// Day 1–31.
    pub day: u32,
}

impl Date {
    /// Builds a date if it exists on the calendar.
    ///
    /// ```
    /// use fapiao::clock::Date;
    /// assert!(Date::new(2024, 2, 29).is_some());
    /// assert!(Date::new(2023, 2, 29).is_none());
    /// ```
    pub fn new(year: i32, month: u32, day: u32) -> Option<Date> {
        (1..=12).contains(&month).then_some(())?;
        (day >= 1 && day <= days_in_month(year, month)).then_some(Date { year, month, day })
    }

    /// Parses `YYYYMMDD`.
    pub fn parse_compact(s: &str) -> Option<Date> {
        if s.len() != 8 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        Date::new(s[..4].parse().ok()?, s[4..6].parse().ok()?, s[6..].parse().ok()?)
    }

    /// The date as `YYYY-MM-DD`.
    pub fn iso(&self) -> String {
        format!("{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        _ => 28,
    }
}

/// The date for a count of days since 1970-01-01 (H. Hinnant's civil_from_days).
pub fn date_from_unix_days(days: i64) -> Date {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = (yoe + era * 400 + i64::from(month <= 2)) as i32;
    Date { year, month, day }
}

/// Today's date in China (UTC+8), which is the date the tax rules use.
pub fn today() -> Date {
    date_from_unix_days((unix_millis() / 1000 + 8 * 3600).div_euclid(86_400))
}

#[cfg(not(target_arch = "wasm32"))]
fn unix_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[cfg(target_arch = "wasm32")]
fn unix_millis() -> i64 {
    js_sys::Date::now() as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(
            date_from_unix_days(0),
            Date {
                year: 1970,
                month: 1,
                day: 1
            }
        );
        assert_eq!(
            date_from_unix_days(19_782),
            Date {
                year: 2024,
                month: 2,
                day: 29
            }
        );
        assert_eq!(
            date_from_unix_days(-1),
            Date {
                year: 1969,
                month: 12,
                day: 31
            }
        );
        assert!(today().year >= 2024);
    }

    #[test]
    fn parse_compact_rejects_impossible_dates() {
        assert_eq!(Date::parse_compact("19910101").unwrap().iso(), "1991-01-01");
        assert!(Date::parse_compact("19911301").is_none());
        assert!(Date::parse_compact("19910230").is_none());
        assert!(Date::parse_compact("1991010").is_none());
    }
}
