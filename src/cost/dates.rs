//! Calendar dates (UTC) for spend periods: `YYYY-MM-DD` text, day numbers since the epoch.

/// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date of a day number.
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// A day as `YYYY-MM-DD`.
pub fn format_day(day: i64) -> String {
    let (y, m, d) = civil_from_days(day);
    format!("{y:04}-{m:02}-{d:02}")
}

/// `YYYY-MM-DD` → day number.
pub fn parse_day(text: &str) -> Option<i64> {
    let mut parts = text.get(..10)?.split('-');
    let y: i64 = parts.next()?.parse().ok()?;
    let m: u32 = parts.next()?.parse().ok()?;
    let d: u32 = parts.next()?.parse().ok()?;
    ((1..=12).contains(&m) && (1..=31).contains(&d)).then(|| days_from_civil(y, m, d))
}

/// Today (UTC) from a clock in ms since the epoch.
pub fn today(now_ms: i64) -> i64 {
    now_ms.div_euclid(86_400_000)
}

/// The first day of the month `offset` months from `day`'s month (0: its own month).
pub fn month_start(day: i64, offset: i64) -> i64 {
    let (y, m, _) = civil_from_days(day);
    let index = y * 12 + i64::from(m) - 1 + offset;
    days_from_civil(index.div_euclid(12), (index.rem_euclid(12) + 1) as u32, 1)
}

/// `YYYY-MM` of a day.
pub fn month_of(day: i64) -> String {
    let (y, m, _) = civil_from_days(day);
    format!("{y:04}-{m:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip_and_months_roll_over() {
        let d = parse_day("2026-12-01").expect("a date");
        assert_eq!(format_day(d), "2026-12-01");
        assert_eq!(format_day(month_start(d, 1)), "2027-01-01");
        assert_eq!(format_day(month_start(d, -3)), "2026-09-01");
        assert_eq!(
            format_day(month_start(parse_day("2024-03-31").unwrap(), -1)),
            "2024-02-01"
        );
        assert_eq!(format_day(d - 1), "2026-11-30");
        assert_eq!(month_of(d), "2026-12");
        assert_eq!(today(0), 0);
        assert_eq!(format_day(today(1_767_225_600_000)), "2026-01-01");
        assert_eq!(parse_day("2026-13-01"), None);
    }
}
