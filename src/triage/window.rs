//! The recent-activity window of `collect --since/--until`: given a file's modification,
//! change and birth times, says whether and through which times it falls in the window.
//!
//! Owns the comparison only (pure, no I/O, no clock). Bounds are inclusive. A file with
//! no known time is `Unknown`, never silently outside: a caller restricting collection to
//! the window must keep (and record) unknowns rather than lose them.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// A closed time interval; either end may be open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ActivityWindow {
    pub since: Option<Timestamp>,
    pub until: Option<Timestamp>,
}

/// A file's times, in seconds and nanoseconds since the Unix epoch when known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FileTimes {
    pub mtime: Option<(i64, i32)>,
    pub ctime: Option<(i64, i32)>,
    pub btime: Option<(i64, i32)>,
}

/// Which times put the file in the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct InWindow {
    pub modified: bool,
    pub changed: bool,
    pub born: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "verdict")]
pub enum WindowVerdict {
    /// At least one known time lies in the window.
    Inside(InWindow),
    /// Every known time lies outside.
    Outside,
    /// No time is known.
    Unknown,
}

impl ActivityWindow {
    /// Parses `--since`/`--until` (RFC 3339, any offset). Errors name the flag and value.
    pub fn parse(since: Option<&str>, until: Option<&str>) -> anyhow::Result<ActivityWindow> {
        let parse = |flag: &str, value: Option<&str>| -> anyhow::Result<Option<Timestamp>> {
            value
                .map(|v| {
                    v.parse::<Timestamp>().map_err(|e| {
                        anyhow::anyhow!(
                            "{flag} {v:?} is not an RFC 3339 time (e.g. 2026-11-01T00:00:00Z): {e}"
                        )
                    })
                })
                .transpose()
        };
        let window = ActivityWindow {
            since: parse("--since", since)?,
            until: parse("--until", until)?,
        };
        if let (Some(s), Some(u)) = (window.since, window.until)
            && s > u
        {
            anyhow::bail!("--since {s} is after --until {u}: the window is empty");
        }
        Ok(window)
    }

    /// True when neither bound is set (every file is "inside").
    pub fn is_unbounded(&self) -> bool {
        self.since.is_none() && self.until.is_none()
    }

    fn contains(&self, time: Option<(i64, i32)>) -> Option<bool> {
        let (secs, nanos) = time?;
        let ts = Timestamp::new(secs, nanos).ok()?;
        Some(self.since.is_none_or(|s| ts >= s) && self.until.is_none_or(|u| ts <= u))
    }

    pub fn classify(&self, times: &FileTimes) -> WindowVerdict {
        let modified = self.contains(times.mtime);
        let changed = self.contains(times.ctime);
        let born = self.contains(times.btime);
        if modified.is_none() && changed.is_none() && born.is_none() {
            return WindowVerdict::Unknown;
        }
        let inside = InWindow {
            modified: modified == Some(true),
            changed: changed == Some(true),
            born: born == Some(true),
        };
        if inside.modified || inside.changed || inside.born {
            WindowVerdict::Inside(inside)
        } else {
            WindowVerdict::Outside
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Option<(i64, i32)> {
        let ts: Timestamp = s.parse().ok()?;
        Some((ts.as_second(), ts.subsec_nanosecond()))
    }

    #[test]
    fn bounds_are_inclusive_and_offsets_respected() {
        let w = ActivityWindow::parse(
            Some("2026-11-01T00:00:00+01:00"),
            Some("2026-11-02T00:00:00Z"),
        )
        .expect("valid window");
        let inside = FileTimes {
            mtime: at("2026-10-31T23:00:00Z"),
            ..Default::default()
        };
        assert_eq!(
            w.classify(&inside),
            WindowVerdict::Inside(InWindow {
                modified: true,
                changed: false,
                born: false
            })
        );
        let before = FileTimes {
            mtime: at("2026-10-31T22:59:59.999999999Z"),
            ..Default::default()
        };
        assert_eq!(w.classify(&before), WindowVerdict::Outside);
        let end = FileTimes {
            btime: at("2026-11-02T00:00:00Z"),
            ..Default::default()
        };
        assert_eq!(
            w.classify(&end),
            WindowVerdict::Inside(InWindow {
                modified: false,
                changed: false,
                born: true
            })
        );
        let after = FileTimes {
            mtime: at("2026-11-02T00:00:00.000000001Z"),
            ..Default::default()
        };
        assert_eq!(w.classify(&after), WindowVerdict::Outside);
    }

    #[test]
    fn any_time_inside_is_enough_and_no_time_is_unknown() {
        let w = ActivityWindow::parse(Some("2026-01-01T00:00:00Z"), None).expect("valid");
        let t = FileTimes {
            mtime: at("2020-01-01T00:00:00Z"),
            ctime: at("2026-03-01T00:00:00Z"),
            btime: None,
        };
        assert_eq!(
            w.classify(&t),
            WindowVerdict::Inside(InWindow {
                modified: false,
                changed: true,
                born: false
            })
        );
        assert_eq!(w.classify(&FileTimes::default()), WindowVerdict::Unknown);
        assert!(ActivityWindow::default().is_unbounded());
    }

    #[test]
    fn bad_input_is_a_clear_error() {
        let err = ActivityWindow::parse(Some("yesterday"), None)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("--since") && err.contains("yesterday"),
            "{err}"
        );
        let err = ActivityWindow::parse(Some("2026-02-01T00:00:00Z"), Some("2026-01-01T00:00:00Z"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("after --until"), "{err}");
    }
}
