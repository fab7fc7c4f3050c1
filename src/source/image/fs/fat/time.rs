//! DOS date and time fields (FAT and exFAT) to `FsTime`.
//!
//! Owns the decoding only: a date is day/month/year-since-1980, a time has 2-second
//! steps, an optional 10 ms count (0..=199) refines it. FAT stores the local time of the
//! machine that wrote it and no zone; exFAT may add a UTC offset. Never rejects a damaged
//! field by panicking: impossible values give `None` (the slot stays empty).

use crate::source::image::fs::FsTime;

/// Seconds since the epoch of a DOS date/time read as if UTC, plus the 10 ms count.
/// `None` for an unset date (0) or fields out of range.
pub(crate) fn dos(date: u16, time: u16, centis: u8) -> Option<(i64, u32)> {
    if date == 0 {
        return None;
    }
    let day = i64::from(date & 0x1F);
    let month = i64::from((date >> 5) & 0x0F);
    let year = 1980 + i64::from(date >> 9);
    let secs2 = i64::from(time & 0x1F) * 2;
    let minute = i64::from((time >> 5) & 0x3F);
    let hour = i64::from(time >> 11);
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || secs2 > 58
        || centis > 199
    {
        return None;
    }
    let secs = crate::timefmt::days_from_civil(year, month, day) * 86_400
        + hour * 3600
        + minute * 60
        + secs2
        + i64::from(centis / 100);
    Some((secs, u32::from(centis % 100) * 10_000_000))
}

pub(crate) fn fs_time(date: u16, time: u16, centis: u8) -> Option<FsTime> {
    dos(date, time, centis).map(|(s, ns)| FsTime::from_unix(s, ns))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dos_fields_decode_to_the_second_and_10ms() {
        // 2021-06-15 13:37:20 + 1.50 s
        let date = (41 << 9) | (6 << 5) | 15;
        let time = (13 << 11) | (37 << 5) | 10;
        assert_eq!(dos(date, time, 150), Some((1_623_764_241, 500_000_000)));
        assert_eq!(dos(0, 0, 0), None);
        assert_eq!(dos(date, 24 << 11, 0), None);
        assert_eq!(dos((1 << 5) | 1, 0, 0), Some((315_532_800, 0)));
    }
}
