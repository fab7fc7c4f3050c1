//! The words for *what was collected*: the profile and its rules, the paths considered,
//! collected and skipped (with the top reasons and their counts), the `--since/--until`
//! window, whether the run finished (and, when it did not, what it had not reached), and
//! the loud warnings a responder must see (an empty source, a host clock off the
//! reference). `collect`'s terminal summary and `--json`, and the text, JSON, CSV (on
//! stderr) and HTML reports all take these sentences from here, as they take the verdict
//! from [`super::verdict`], so no view claims more than another.
//!
//! Owns the wording only, from the manifest and the reason tally of files.jsonl. Must
//! never call a collection "a complete copy" (a profile selects; it never copies a whole
//! source), never call an interrupted bundle altered, and never print evidence.

use serde::Serialize;

use super::ReasonCount;
use crate::bundle::manifest::{Case, Manifest};
use crate::bundle::verify::Verdict;

/// A host clock further than this from `--reference-time` (either way) is a warning on
/// the terminal, in every report, and a `clock.offset` finding (docs/triage.md). Two
/// minutes: a responder reads the reference from a phone or a watch to the minute, and
/// a drift beyond that changes which events a timeline puts before which.
pub const CLOCK_OFFSET_THRESHOLD_SECONDS: f64 = 120.0;

/// Reasons named per status in a sentence; the rest are summed as "N other".
const TOP_REASONS: usize = 3;

/// The reason a record carries when the run stopped before reading it.
pub const INTERRUPTED: &str = "interrupted";

/// The sentences, as every view shows them (`scope` in the JSON report and in
/// `collect --json`).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Scope {
    /// `NAME (N rules, ORIGIN)`.
    pub profile: String,
    /// `N considered: … collected, … skipped (… symlink), …`.
    pub files: String,
    /// The `--since/--until` window and what it did to the counts, when one was given.
    pub window: Option<String>,
    /// Whether the run finished; when not, why, and what it had not reached.
    pub completeness: String,
    /// Things a responder must not miss (EMPTY SOURCE, CLOCK …), each one sentence.
    pub warnings: Vec<String>,
}

/// Builds the sentences. `verdict` is the verification verdict when the bundle was
/// checked (a report made during collection has none).
pub fn scope(m: &Manifest, reasons: &[ReasonCount], verdict: Option<Verdict>) -> Scope {
    Scope {
        profile: profile(m),
        files: files(m, reasons),
        window: window(m),
        completeness: completeness(m, reasons, verdict),
        warnings: warnings(m),
    }
}

/// `NAME (N rules, ORIGIN)`, and how it was chosen for an image.
pub fn profile(m: &Manifest) -> String {
    let p = &m.profile;
    let mut s = format!(
        "{} ({} rule{}, {})",
        p.name,
        p.rules,
        if p.rules == 1 { "" } else { "s" },
        p.origin
    );
    if let Some(choice) = m.image.as_ref().and_then(|i| i.profile_choice.as_deref()) {
        s.push_str(&format!("; {choice}"));
    }
    s
}

/// `789 symlink, 3 special_file, 2 other` for one status, most frequent first.
pub fn top_reasons(reasons: &[ReasonCount], status: &str) -> String {
    let mut of: Vec<&ReasonCount> = reasons.iter().filter(|r| r.status == status).collect();
    of.sort_by(|a, b| b.count.cmp(&a.count).then(a.reason.cmp(&b.reason)));
    let mut parts: Vec<String> = of
        .iter()
        .take(TOP_REASONS)
        .map(|r| {
            format!(
                "{} {}",
                r.count,
                if r.reason.is_empty() {
                    "no reason recorded"
                } else {
                    &r.reason
                }
            )
        })
        .collect();
    let rest: u64 = of.iter().skip(TOP_REASONS).map(|r| r.count).sum();
    if rest > 0 {
        parts.push(format!("{rest} other"));
    }
    parts.join(", ")
}

fn with_reasons(n: u64, what: &str, reasons: &[ReasonCount], status: &str) -> String {
    let why = top_reasons(reasons, status);
    if n == 0 || why.is_empty() {
        format!("{n} {what}")
    } else {
        format!("{n} {what} ({why})")
    }
}

/// The counts line: `N collected, … skipped (789 symlink), … errors (…), … (M considered)`.
pub fn files(m: &Manifest, reasons: &[ReasonCount]) -> String {
    let c = &m.counts;
    let known = if c.known_good > 0 {
        format!(", {} known-good", c.known_good)
    } else {
        String::new()
    };
    format!(
        "{} collected, {} duplicate, {} changed while read{known}, {}, {}, {} locked ({} considered)",
        c.collected,
        c.duplicate,
        c.changed,
        with_reasons(c.skipped, "skipped", reasons, "skipped"),
        with_reasons(c.error, "errors", reasons, "error"),
        c.locked,
        c.considered
    )
}

/// The `--since/--until` window, and what it did to the counts.
pub fn window(m: &Manifest) -> Option<String> {
    let w = m.window.as_ref()?;
    let span = match (&w.since, &w.until) {
        (Some(s), Some(u)) => format!("--since {s} --until {u}"),
        (Some(s), None) => format!("--since {s} (no end)"),
        (None, Some(u)) => format!("--until {u} (no start)"),
        (None, None) => return None,
    };
    Some(if w.collect_only_inside {
        format!(
            "{span}, --window-only: only files modified, changed or created inside it (or with \
             no known time) were collected; the others are recorded in files.jsonl, not read \
             (skipped: outside_time_window)"
        )
    } else {
        format!(
            "{span}: every file was collected as the profile says; files.jsonl marks which lie \
             inside the window"
        )
    })
}

/// Whether the run finished; for an interrupted run why, and what it had not reached.
pub fn completeness(m: &Manifest, reasons: &[ReasonCount], verdict: Option<Verdict>) -> String {
    if m.status == "complete" {
        return "the run finished: every path the profile selected was considered".into();
    }
    let why = m
        .incomplete_reason
        .as_deref()
        .unwrap_or("no reason recorded");
    let not_read: u64 = reasons
        .iter()
        .filter(|r| r.reason == INTERRUPTED)
        .map(|r| r.count)
        .sum();
    let state = match verdict {
        Some(Verdict::Valid | Verdict::ValidIncomplete) => {
            "the bundle is complete and valid up to the interruption"
        }
        Some(Verdict::WrongKey) => {
            "the bundle is complete and intact up to the interruption (but see the signer)"
        }
        Some(_) => "the bundle does not verify (see above), so not even that part can be relied on",
        None => "the bundle is complete up to the interruption (verify it before relying on it)",
    };
    let unwalked = if why.contains("not yet walked") {
        ""
    } else {
        ", and paths not yet walked are not listed"
    };
    format!(
        "INTERRUPTED ({why}): {state}; not reached: {not_read} path(s) listed but not read \
         (recorded as interrupted){unwalked}"
    )
}

/// True when the run considered no path at all: an empty or unmounted source, or a
/// profile that selects nothing there.
pub fn source_is_empty(m: &Manifest) -> bool {
    m.source_empty.is_some() || (m.status == "complete" && m.counts.considered == 0)
}

/// The host clock's offset against `--reference-time`, when it is beyond the threshold.
pub fn clock_warning(m: &Manifest) -> Option<String> {
    let r = m.times.reference.as_ref()?;
    let off = r.host_clock_offset_seconds;
    if off.abs() <= CLOCK_OFFSET_THRESHOLD_SECONDS {
        return None;
    }
    Some(format!(
        "CLOCK: the host clock was {} {} the reference time {} (threshold {} s): host times \
         in this bundle (live state, the host's own logs) are off by that much",
        human_duration(off.abs()),
        if off > 0.0 { "ahead of" } else { "behind" },
        r.given,
        CLOCK_OFFSET_THRESHOLD_SECONDS
    ))
}

/// `9 d 0 h 0 min (777600 s)`-style, exact seconds kept.
pub fn human_duration(secs: f64) -> String {
    let s = secs.round() as u64;
    let (d, h, min) = (s / 86_400, (s % 86_400) / 3600, (s % 3600) / 60);
    let exact = format!("{secs:.1} s");
    if d > 0 {
        format!("{d} d {h} h {min} min ({exact})")
    } else if h > 0 {
        format!("{h} h {min} min ({exact})")
    } else if min > 0 {
        format!("{min} min ({exact})")
    } else {
        exact
    }
}

/// The warning for an empty source.
pub fn empty_source_warning(m: &Manifest) -> String {
    if m.source_empty.as_deref() == Some("empty folder") {
        format!(
            "EMPTY SOURCE: {} is an empty folder — nothing was collected. Is the evidence \
             mounted there? (An unmounted mount point is an empty folder.) The bundle records \
             the attempt; collect again from the right place",
            m.source.resolved_path
        )
    } else {
        format!(
            "NOTHING COLLECTED: profile {} selected no path under {} — is that the root of the \
             system the profile expects (e.g. the mount point of the evidence, not one of its \
             folders)? The bundle records the attempt; collect again from the right place",
            m.profile.name, m.source.resolved_path
        )
    }
}

/// Everything a responder must not miss, one sentence each.
pub fn warnings(m: &Manifest) -> Vec<String> {
    let mut w = Vec::new();
    if source_is_empty(m) {
        w.push(empty_source_warning(m));
    }
    if let Some(c) = clock_warning(m) {
        w.push(c);
    }
    w
}

/// Who collected: `Anna (Unit 4)`, `Anna`, `Unit 4`, or `none recorded` — never `— (—)`.
pub fn examiner(c: &Case) -> String {
    match (&c.examiner, &c.organisation) {
        (Some(e), Some(o)) => format!("{e} ({o})"),
        (Some(e), None) => e.clone(),
        (None, Some(o)) => o.clone(),
        (None, None) => "none recorded (no --examiner given)".to_string(),
    }
}

/// The report's opening sentence: what was collected, from where, by whom, how far.
/// Never claims a copy of the whole source, and names no examiner when none was given.
pub fn summary_sentence(m: &Manifest, s: &Scope) -> String {
    let date = m.times.start_utc.get(..10).unwrap_or(&m.times.start_utc);
    let by = if m.case.examiner.is_none() && m.case.organisation.is_none() {
        " (no examiner recorded)".to_string()
    } else {
        format!(" by {}", examiner(&m.case))
    };
    format!(
        "On {date} fieldkit collected from {} on the computer {}{by}, with profile {}. Files: \
         {}.{} Completeness: {}.",
        m.source.resolved_path,
        m.host.hostname.as_deref().unwrap_or("(unknown name)"),
        s.profile,
        s.files,
        s.window
            .as_ref()
            .map(|w| format!(" Time window: {w}."))
            .unwrap_or_default(),
        s.completeness
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rc(status: &str, reason: &str, count: u64) -> ReasonCount {
        ReasonCount {
            status: status.into(),
            reason: reason.into(),
            count,
            examples: vec![],
        }
    }

    #[test]
    fn reasons_are_named_most_frequent_first_and_the_rest_summed() {
        let r = [
            rc("skipped", "symlink", 789),
            rc("skipped", "special_file", 3),
            rc("skipped", "too_large", 2),
            rc("skipped", "a", 1),
            rc("skipped", "b", 1),
            rc("error", "interrupted", 4),
        ];
        assert_eq!(
            top_reasons(&r, "skipped"),
            "789 symlink, 3 special_file, 2 too_large, 2 other"
        );
        let mut m = Manifest::default();
        m.counts.skipped = 796;
        m.counts.error = 4;
        m.counts.considered = 900;
        assert_eq!(
            files(&m, &r),
            "0 collected, 0 duplicate, 0 changed while read, 796 skipped (789 symlink, 3 \
             special_file, 2 too_large, 2 other), 4 errors (4 interrupted), 0 locked (900 considered)"
        );
    }

    #[test]
    fn an_interrupted_run_is_valid_up_to_the_interruption_never_altered() {
        let mut m = Manifest {
            status: "incomplete".into(),
            incomplete_reason: Some("interrupted by signal".into()),
            ..Manifest::default()
        };
        m.counts.considered = 3;
        let r = [rc("skipped", INTERRUPTED, 2), rc("error", INTERRUPTED, 1)];
        let c = completeness(&m, &r, Some(Verdict::ValidIncomplete));
        assert_eq!(
            c,
            "INTERRUPTED (interrupted by signal): the bundle is complete and valid up to the \
             interruption; not reached: 3 path(s) listed but not read (recorded as \
             interrupted), and paths not yet walked are not listed"
        );
        assert!(!c.contains("altered"));
        let s = summary_sentence(&m, &scope(&m, &r, None));
        assert!(s.contains("(no examiner recorded)"), "{s}");
        assert!(!s.contains("copy"), "{s}");
    }

    #[test]
    fn durations_keep_the_exact_seconds() {
        assert_eq!(human_duration(777_600.0), "9 d 0 h 0 min (777600.0 s)");
        assert_eq!(human_duration(42.0), "42.0 s");
    }
}
