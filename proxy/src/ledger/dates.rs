//! Days in China Standard Time, for report and export ranges.

#[allow(unused_imports)]
use super::*;

/// Days since 1970-01-01 of a civil date (H. Hinnant's days_from_civil).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The start (epoch ms) of a `YYYY-MM-DD` day in China Standard Time.
pub fn cst_day_start(date: &str) -> Option<i64> {
    let d = date.trim();
    let parts: Vec<&str> = d.split('-').collect();
    if parts.len() != 3 || parts[0].len() != 4 || parts[1].len() != 2 || parts[2].len() != 2 {
        return None;
    }
    let date = fapiao::clock::Date::new(parts[0].parse().ok()?, parts[1].parse().ok()?, parts[2].parse().ok()?)?;
    Some((days_from_civil(date.year as i64, date.month, date.day) * 86_400 - 8 * 3600) * 1000)
}

/// `[from, to]` as inclusive CST dates → `[from_ms, to_ms)`.
pub fn date_range(from: &str, to: &str) -> Result<(i64, i64), String> {
    let a = cst_day_start(from).ok_or_else(|| format!("“{from}” is not a date YYYY-MM-DD"))?;
    let b = cst_day_start(to).ok_or_else(|| format!("“{to}” is not a date YYYY-MM-DD"))? + 86_400_000;
    if b <= a {
        return Err("the range ends before it starts".into());
    }
    Ok((a, b))
}

#[cfg(test)]
mod tests {
    #[test]
    fn cst_days() {
        assert_eq!(super::cst_day_start("2024-01-15"), Some(1_705_248_000_000));
        assert_eq!(crate::time::cst_rfc3339(1_705_248_000_000), "2024-01-15T00:00:00+08:00");
        assert!(super::cst_day_start("2024-02-30").is_none());
        assert!(super::date_range("2024-01-02", "2024-01-01").is_err());
    }
}
