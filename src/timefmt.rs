//! Time formatting for records: RFC 3339 in UTC with nanoseconds, always. Local time and
//! zone names appear only where a field says so; nothing here reads or changes any clock
//! other than the host's UTC clock.

use std::time::SystemTime;

/// Now, as RFC 3339 UTC (`2026-11-23T06:35:23.123456789Z`).
pub fn now_utc() -> String {
    jiff::Timestamp::now().to_string()
}

/// A file time as RFC 3339 UTC; `None` for times outside the representable range.
pub fn system_time_utc(t: SystemTime) -> Option<String> {
    jiff::Timestamp::try_from(t).ok().map(|ts| ts.to_string())
}

/// Seconds and nanoseconds since the epoch (may be negative) as RFC 3339 UTC.
pub fn unix_utc(secs: i64, nanos: i64) -> Option<String> {
    let nanos = i32::try_from(nanos).ok()?;
    jiff::Timestamp::new(secs, nanos)
        .ok()
        .map(|ts| ts.to_string())
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// (year, month, day) of a day number (H. Hinnant's civil_from_days).
pub fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}
