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
