//! The HTML report's timeline of file activity: files per day of last modification,
//! drawn on a real time axis (bars placed linearly in time, labelled year/month/day ticks
//! printed as SVG text, so a printout or PDF keeps them), with the times that would only
//! stretch the axis — epoch-0 (1970-01-01), before [`FLOOR`], on it (FAT's and ZIP's
//! zero time), after the collection —
//! left out of the drawing and named in a sentence beside it.
//!
//! Owns the tally ([`Timeline::add`], constant memory: one count per day plus a few
//! examples per kind of outlier) and the drawing. Never drops a file silently: every
//! file with a modification time is either in a bar or counted in the outlier sentence.
//! Never needs a script, a font or hover to be read.

use std::collections::BTreeMap;
use std::fmt::Write;

use serde::Serialize;

use super::html::esc;

/// 1980-01-01, the FAT/DOS (and ZIP) epoch: the earliest time the file systems we collect
/// from store for a real write on a machine in use. Earlier times are defaults, resets,
/// archive artefacts or forgeries, and the day itself is what a zeroed FAT or ZIP time
/// decodes to: both are called out, not drawn.
pub const FLOOR: &str = "1980-01-01";
/// The day of time 0 (a reset clock, a zeroed inode, `touch -d @0`).
pub const EPOCH_DAY: &str = "1970-01-01";
/// Examples kept (and printed) per kind of outlier.
const EXAMPLES: usize = 3;

/// Files left out of the drawing, of one kind.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Outliers {
    /// `epoch`, `before_floor`, `dos_epoch` (the day of [`FLOOR`] itself: a zeroed FAT or
    /// ZIP time), `after_collection`.
    pub kind: String,
    pub count: u64,
    /// `(path, modification time)` of the first few, in files.jsonl order.
    pub examples: Vec<(String, String)>,
}

/// Files modified per day (UTC), for the timeline.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Timeline {
    /// `YYYY-MM-DD` → files whose mtime falls on that day (every file with an mtime,
    /// outliers included).
    pub mtime_per_day: BTreeMap<String, u64>,
    /// The same, without the outliers: what the chart draws.
    pub drawn_per_day: BTreeMap<String, u64>,
    /// What was not drawn, in the order epoch, before the floor, after the collection
    /// (only kinds that occur).
    pub outliers: Vec<Outliers>,
}

const KINDS: [&str; 4] = ["epoch", "before_floor", "dos_epoch", "after_collection"];

impl Timeline {
    /// Count one file's modification time (RFC 3339 text). `collection_end` is the end
    /// of the collection (seconds since the epoch), when known.
    pub fn add(&mut self, path: &str, mtime: &str, collection_end: Option<i64>) {
        let Some(day) = mtime.get(..10) else {
            return;
        };
        *self.mtime_per_day.entry(day.to_string()).or_default() += 1;
        let secs = mtime.parse::<jiff::Timestamp>().ok().map(|t| t.as_second());
        let kind = if day == EPOCH_DAY {
            Some(KINDS[0])
        } else if day < FLOOR {
            Some(KINDS[1])
        } else if day == FLOOR {
            Some(KINDS[2])
        } else if let (Some(t), Some(end)) = (secs, collection_end)
            && t > end
        {
            Some(KINDS[3])
        } else {
            None
        };
        let Some(kind) = kind else {
            *self.drawn_per_day.entry(day.to_string()).or_default() += 1;
            return;
        };
        let at = match self.outliers.iter().position(|o| o.kind == kind) {
            Some(i) => i,
            None => {
                self.outliers.push(Outliers {
                    kind: kind.to_string(),
                    ..Outliers::default()
                });
                self.outliers
                    .sort_by_key(|o| KINDS.iter().position(|k| *k == o.kind));
                self.outliers
                    .iter()
                    .position(|o| o.kind == kind)
                    .unwrap_or(0)
            }
        };
        let o = &mut self.outliers[at];
        o.count += 1;
        if o.examples.len() < EXAMPLES {
            o.examples.push((path.to_string(), readable_time(mtime)));
        }
    }
}

/// `2026-12-03 17:20:05 UTC` from RFC 3339 text (the text itself if it does not parse).
fn readable_time(t: &str) -> String {
    t.parse::<jiff::Timestamp>()
        .map(|ts| ts.strftime("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|_| t.to_string())
}

fn files(n: u64) -> String {
    if n == 1 {
        "1 file".to_string()
    } else {
        format!("{n} files")
    }
}

/// The sentence naming what was not drawn, or `None` when everything was:
/// `3 files dated 1970-01-01 and 1 file dated after the collection are not drawn, so as
/// not to stretch the time axis: /a (1970-01-01 00:00:00 UTC), …`.
pub fn outlier_sentence(t: &Timeline) -> Option<String> {
    if t.outliers.is_empty() {
        return None;
    }
    let groups: Vec<String> = t
        .outliers
        .iter()
        .map(|o| {
            let what = match o.kind.as_str() {
                "epoch" => format!("dated {EPOCH_DAY}"),
                "before_floor" => format!("dated before {FLOOR}"),
                "dos_epoch" => format!("dated {FLOOR} (the FAT and ZIP zero time)"),
                _ => "dated after the collection".to_string(),
            };
            format!("{} {what}", files(o.count))
        })
        .collect();
    let total: u64 = t.outliers.iter().map(|o| o.count).sum();
    let joined = match groups.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        _ => groups.join(""),
    };
    let examples: Vec<String> = t
        .outliers
        .iter()
        .map(|o| {
            let mut e = o
                .examples
                .iter()
                .map(|(p, m)| format!("{p} ({m})"))
                .collect::<Vec<_>>()
                .join(", ");
            let more = o.count.saturating_sub(o.examples.len() as u64);
            if more > 0 {
                let _ = write!(e, " and {more} more");
            }
            e
        })
        .collect();
    Some(format!(
        "{joined} {} not drawn, so as not to stretch the time axis: {}.",
        if total == 1 { "is" } else { "are" },
        examples.join("; ")
    ))
}

fn parse_day(day: &str) -> Option<i64> {
    let mut it = day.splitn(3, '-');
    let y = it.next()?.parse().ok()?;
    let m = it.next()?.parse().ok()?;
    let d = it.next()?.parse().ok()?;
    ((1..=12).contains(&m) && (1..=31).contains(&d))
        .then(|| crate::timefmt::days_from_civil(y, m, d))
}

/// A calendar unit the axis is divided in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unit {
    Day,
    Month,
    Year,
}

impl Unit {
    fn name(self) -> &'static str {
        match self {
            Unit::Day => "day",
            Unit::Month => "month",
            Unit::Year => "year",
        }
    }

    /// The start (day number) of the unit holding `day`.
    fn floor(self, day: i64) -> i64 {
        let (y, m, _) = crate::timefmt::civil_from_days(day);
        match self {
            Unit::Day => day,
            Unit::Month => crate::timefmt::days_from_civil(y, m, 1),
            Unit::Year => crate::timefmt::days_from_civil(y, 1, 1),
        }
    }

    /// The start of the unit `n` units after the one starting at `start`.
    fn add(self, start: i64, n: i64) -> i64 {
        let (y, m, _) = crate::timefmt::civil_from_days(start);
        match self {
            Unit::Day => start + n,
            Unit::Month => {
                let months = y * 12 + (m - 1) + n;
                crate::timefmt::days_from_civil(months.div_euclid(12), months.rem_euclid(12) + 1, 1)
            }
            Unit::Year => crate::timefmt::days_from_civil(y + n, 1, 1),
        }
    }

    fn label(self, day: i64) -> String {
        let (y, m, d) = crate::timefmt::civil_from_days(day);
        match self {
            Unit::Day => format!("{y:04}-{m:02}-{d:02}"),
            Unit::Month => format!("{y:04}-{m:02}"),
            Unit::Year => format!("{y:04}"),
        }
    }

    /// Units from the start of `a`'s unit to that of `b`'s.
    fn between(self, a: i64, b: i64) -> i64 {
        let (ya, ma, _) = crate::timefmt::civil_from_days(a);
        let (yb, mb, _) = crate::timefmt::civil_from_days(b);
        match self {
            Unit::Day => b - a,
            Unit::Month => (yb * 12 + mb) - (ya * 12 + ma),
            Unit::Year => yb - ya,
        }
    }
}

/// The bars' unit and the ticks' unit and step for a span of `days` days.
fn scale(days: i64) -> (Unit, Unit, i64) {
    let bar = if days <= 120 {
        Unit::Day
    } else if days <= 8 * 366 {
        Unit::Month
    } else {
        Unit::Year
    };
    // At most about 10 labels: the smallest step of the finest unit that fits.
    let (tick, steps): (Unit, &[i64]) = if days <= 70 {
        (Unit::Day, &[1, 2, 7, 14])
    } else if days <= 6 * 366 {
        (Unit::Month, &[1, 2, 3, 6])
    } else {
        (Unit::Year, &[1, 2, 5, 10, 20, 50, 100])
    };
    let count = |step: i64| match tick {
        Unit::Day => days / step,
        Unit::Month => days / 30 / step,
        Unit::Year => days / 365 / step,
    };
    let step = steps
        .iter()
        .copied()
        .find(|s| count(*s) <= 10)
        .unwrap_or(steps[steps.len() - 1]);
    (bar, tick, step)
}

/// The chart (inline SVG) and the sentences that go with it: what is drawn, the busiest
/// periods, and what was left out. Every number on it is text, readable in print.
pub fn render(t: &Timeline) -> String {
    let mut out = String::new();
    let days: Vec<(i64, u64)> = t
        .drawn_per_day
        .iter()
        .filter_map(|(d, n)| parse_day(d).map(|x| (x, *n)))
        .collect();
    let (Some(first), Some(last)) = (days.first().map(|d| d.0), days.last().map(|d| d.0)) else {
        out.push_str("<p class=\"muted\">No modification times to draw.</p>");
        if let Some(s) = outlier_sentence(t) {
            let _ = write!(out, "<p id=\"timeline-outliers\">{}</p>", esc(&s));
        }
        return out;
    };
    let (bar, tick, step) = scale(last - first + 1);
    // The axis runs over whole bar units, at least a week wide.
    let start = bar.floor(first);
    let mut end = bar.add(bar.floor(last), 1);
    if end - start < 7 {
        end = start + 7;
    }
    let mut bins: BTreeMap<i64, u64> = BTreeMap::new();
    for (d, n) in &days {
        *bins.entry(bar.floor(*d)).or_default() += n;
    }
    let max = bins.values().copied().max().unwrap_or(1).max(1);
    let (w, h) = (900.0f64, 230.0f64);
    // Margins wide enough for a centred day label (`2026-11-21`) at either end.
    let (left, right, top, bottom) = (56.0f64, 40.0f64, 22.0f64, 44.0f64);
    let plot_w = w - left - right;
    let plot_h = h - top - bottom;
    let x = |day: i64| left + plot_w * ((day - start) as f64) / ((end - start) as f64);
    let base = top + plot_h;
    let _ = write!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {w} {h}\" width=\"100%\" role=\"img\" \
         aria-label=\"Files modified per {} from {} to {}\" id=\"timeline-chart\" font-family=\"sans-serif\">",
        bar.name(),
        Unit::Day.label(first),
        Unit::Day.label(last)
    );
    // Axes and the y scale (0 and the largest bar).
    let _ = write!(
        out,
        "<line x1=\"{left}\" y1=\"{base}\" x2=\"{}\" y2=\"{base}\" stroke=\"#444\"/>\
         <line x1=\"{left}\" y1=\"{top}\" x2=\"{left}\" y2=\"{base}\" stroke=\"#444\"/>\
         <text x=\"{}\" y=\"{}\" font-size=\"11\" text-anchor=\"end\">{max}</text>\
         <text x=\"{}\" y=\"{base}\" font-size=\"11\" text-anchor=\"end\">0</text>\
         <text x=\"{left}\" y=\"{}\" font-size=\"11\">files per {}</text>",
        w - right,
        left - 4.0,
        top + 4.0,
        left - 4.0,
        top - 8.0,
        bar.name()
    );
    for (b, n) in &bins {
        let x0 = x(*b);
        let x1 = x(bar.add(*b, 1));
        let bh = plot_h * (*n as f64) / (max as f64);
        let _ = write!(
            out,
            "<rect x=\"{x0:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{bh:.1}\" fill=\"#2e86c1\"><title>{}: {}</title></rect>",
            base - bh,
            (x1 - x0 - 1.0).max(1.0),
            esc(&bar.label(*b)),
            files(*n)
        );
        // The count as text over the bar when there is room (no hover needed on paper).
        let label = n.to_string();
        if x1 - x0 >= 6.0 * label.len() as f64 + 2.0 {
            let _ = write!(
                out,
                "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"9\" text-anchor=\"middle\" class=\"count\">{label}</text>",
                (x0 + x1) / 2.0,
                base - bh - 2.0
            );
        }
    }
    // Ticks at calendar boundaries, every `step` units, labelled.
    let mut tk = tick.floor(start);
    if tk < start {
        tk = tick.add(tk, 1);
    }
    // Align multi-unit steps to round values (years divisible by 5, months 1/4/7/10 …).
    while step > 1 && tick.between(crate::timefmt::days_from_civil(0, 1, 1), tk) % step != 0 {
        tk = tick.add(tk, 1);
    }
    let mut labels = 0;
    while tk <= end && labels < 40 {
        let tx = x(tk);
        let label = tick.label(tk);
        // Centred under its tick; a label that would leave the picture is not drawn
        // (the margins make room for a day label, so only a wider one could).
        let half = label.len() as f64 * 3.3;
        let _ = write!(
            out,
            "<line x1=\"{tx:.1}\" y1=\"{base}\" x2=\"{tx:.1}\" y2=\"{}\" stroke=\"#444\"/>",
            base + 5.0
        );
        if tx - half >= 0.0 && tx + half <= w {
            let _ = write!(
                out,
                "<text x=\"{tx:.1}\" y=\"{}\" font-size=\"11\" text-anchor=\"middle\" class=\"tick\">{label}</text>",
                base + 18.0,
            );
        }
        labels += 1;
        tk = tick.add(tk, step);
    }
    let _ = write!(
        out,
        "<text x=\"{}\" y=\"{}\" font-size=\"11\" text-anchor=\"middle\">last modification (UTC)</text></svg>",
        left + plot_w / 2.0,
        h - 6.0
    );
    let drawn: u64 = days.iter().map(|d| d.1).sum();
    let mut busiest: Vec<(&i64, &u64)> = bins.iter().collect();
    busiest.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    let top_bins: Vec<String> = busiest
        .iter()
        .take(3)
        .map(|(b, n)| format!("{} ({})", bar.label(**b), files(**n)))
        .collect();
    let _ = write!(
        out,
        "<p id=\"timeline-drawn\">Drawn: {} modified from {} to {} (UTC), one bar per {}. Busiest: {}.</p>",
        files(drawn),
        Unit::Day.label(first),
        Unit::Day.label(last),
        bar.name(),
        esc(&top_bins.join(", "))
    );
    if let Some(s) = outlier_sentence(t) {
        let _ = write!(out, "<p id=\"timeline-outliers\">{}</p>", esc(&s));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_days_round_trip_and_agree_with_known_dates() {
        assert_eq!(crate::timefmt::days_from_civil(1970, 1, 1), 0);
        assert_eq!(crate::timefmt::days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(parse_day("2026-12-03"), Some(20_790));
        for z in [-800_000, -1, 0, 59, 11_016, 20_790, 2_000_000] {
            let (y, m, d) = crate::timefmt::civil_from_days(z);
            assert_eq!(crate::timefmt::days_from_civil(y, m, d), z);
        }
        assert_eq!(
            Unit::Month.add(crate::timefmt::days_from_civil(2025, 11, 1), 3),
            crate::timefmt::days_from_civil(2026, 2, 1)
        );
        assert_eq!(
            Unit::Month.between(
                crate::timefmt::days_from_civil(2025, 11, 20),
                crate::timefmt::days_from_civil(2026, 2, 1)
            ),
            3
        );
    }

    #[test]
    fn outliers_are_counted_by_kind_and_named_in_one_sentence() {
        let end = "2026-12-03T12:00:00Z"
            .parse::<jiff::Timestamp>()
            .unwrap()
            .as_second();
        let mut t = Timeline::default();
        t.add("/a", "2026-12-04T00:00:00Z", Some(end));
        for p in ["/e1", "/e2", "/e3", "/e4"] {
            t.add(p, "1970-01-01T00:00:00Z", Some(end));
        }
        t.add("/ok", "2026-12-03T11:00:00Z", Some(end));
        assert_eq!(t.mtime_per_day.values().sum::<u64>(), 6);
        assert_eq!(t.drawn_per_day.values().sum::<u64>(), 1);
        assert_eq!(
            outlier_sentence(&t).unwrap(),
            "4 files dated 1970-01-01 and 1 file dated after the collection are not drawn, so as \
             not to stretch the time axis: /e1 (1970-01-01 00:00:00 UTC), /e2 (1970-01-01 00:00:00 UTC), \
             /e3 (1970-01-01 00:00:00 UTC) and 1 more; /a (2026-12-04 00:00:00 UTC)."
        );
        let mut one = Timeline::default();
        one.add("/old", "1975-06-01T00:00:00Z", None);
        let mut fat = Timeline::default();
        fat.add("/FAT", "1980-01-01T00:00:00Z", None);
        assert_eq!(
            outlier_sentence(&fat).unwrap(),
            "1 file dated 1980-01-01 (the FAT and ZIP zero time) is not drawn, so as not to \
             stretch the time axis: /FAT (1980-01-01 00:00:00 UTC)."
        );
        assert_eq!(
            outlier_sentence(&one).unwrap(),
            "1 file dated before 1980-01-01 is not drawn, so as not to stretch the time axis: \
             /old (1975-06-01 00:00:00 UTC)."
        );
    }

    #[test]
    fn ticks_follow_the_span_years_months_days() {
        assert_eq!(scale(10), (Unit::Day, Unit::Day, 1));
        assert_eq!(scale(60), (Unit::Day, Unit::Day, 7));
        assert_eq!(scale(400), (Unit::Month, Unit::Month, 2));
        assert_eq!(scale(20 * 365), (Unit::Year, Unit::Year, 2));
        let mut t = Timeline::default();
        t.add("/a", "2024-05-01T10:00:00Z", None);
        t.add("/b", "2026-11-30T10:00:00Z", None);
        let svg = render(&t);
        for label in ["2024-07", "2025-01", "2025-07", "2026-01", "2026-07"] {
            assert!(svg.contains(&format!(">{label}</text>")), "{label}: {svg}");
        }
        assert!(svg.contains(
            "Drawn: 2 files modified from 2024-05-01 to 2026-11-30 (UTC), one bar per month."
        ));
    }
}
