//! Timelines of a bundle: a sleuthkit 3.x bodyfile (`mactime -b` reads it) and a
//! Timesketch-importable JSONL or CSV (`message`, `datetime`, `timestamp_desc`, one event
//! per recorded time of each file and one per finding).
//!
//! Owns finding the times in a files.jsonl record *generically*: the four file times
//! (`mtime`, `atime`, `ctime`, `btime`) at the top level, and any object field holding
//! such times (an image reader's NTFS `$FILE_NAME` times, say) as a further set, named by
//! its key — so new time fields reach both timelines without a change here. A record
//! marked `deleted` is named as fls names it (`… (deleted)`). Streams: one record in
//! memory at a time. Never invents a time: a time the record does not hold is 0 in the
//! bodyfile (sleuthkit's convention) and no event in the Timesketch timeline.

use std::collections::HashMap;
use std::io::{self, BufRead, Write};

use serde_json::{Map, Value, json};

use crate::finding::Finding;

/// The time names of a set, in bodyfile column order, with Timesketch's descriptions.
const TIMES: [(&str, &str); 4] = [
    ("atime", "Last Access Time"),
    ("mtime", "Content Modification Time"),
    ("ctime", "Metadata Change Time"),
    ("btime", "Creation Time"),
];

/// Keys that hold times that are not the file's own (the read, the window verdict).
const NOT_FILE_TIMES: &[&str] = &["window", "known", "link_target", "resolved_target"];

/// One set of times: `None` for the file's own, `Some(key)` for a nested set.
#[derive(Debug, Clone, PartialEq)]
pub struct TimeSet {
    pub label: Option<String>,
    /// (name, RFC 3339 text, seconds since epoch, nanoseconds)
    pub times: Vec<(&'static str, String, i64, u32)>,
}

fn parse_time(text: &str) -> Option<(i64, u32)> {
    let ts: jiff::Timestamp = text.parse().ok()?;
    Some((ts.as_second(), ts.subsec_nanosecond().max(0) as u32))
}

/// Other spellings of the four times a nested set may use (`created` for `btime`, …).
fn aliases(name: &str) -> &'static [&'static str] {
    match name {
        "atime" => &["atime", "accessed"],
        "mtime" => &["mtime", "modified"],
        "ctime" => &["ctime", "changed"],
        _ => &["btime", "created", "born"],
    }
}

fn set_of(obj: &Map<String, Value>, label: Option<String>) -> Option<TimeSet> {
    let mut times = Vec::new();
    for (name, _) in TIMES {
        let found = aliases(name)
            .iter()
            .find_map(|a| obj.get(*a).and_then(Value::as_str));
        if let Some(t) = found
            && let Some((s, ns)) = parse_time(t)
        {
            times.push((name, t.to_string(), s, ns));
        }
    }
    (!times.is_empty()).then_some(TimeSet { label, times })
}

/// Every set of times in a record: its own first, then nested ones in key order.
pub fn time_sets(record: &Map<String, Value>) -> Vec<TimeSet> {
    let mut sets: Vec<TimeSet> = set_of(record, None).into_iter().collect();
    for (key, value) in record {
        if NOT_FILE_TIMES.contains(&key.as_str()) {
            continue;
        }
        if let Some(obj) = value.as_object()
            && let Some(s) = set_of(obj, Some(key.clone()))
        {
            sets.push(s);
        }
    }
    sets
}

fn path_of(record: &Map<String, Value>) -> String {
    record
        .get("path")
        .or_else(|| record.get("path_display"))
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string()
}

fn is_deleted(record: &Map<String, Value>) -> bool {
    record.get("deleted").and_then(Value::as_bool) == Some(true)
        || record.get("status").and_then(Value::as_str) == Some("deleted")
}

/// sleuthkit's `mode_as_string`: `r/rrw-r--r--` (name type / meta type and permissions).
fn mode_string(record: &Map<String, Value>) -> String {
    let kind = match record.get("file_type").and_then(Value::as_str) {
        Some("file") => 'r',
        Some("dir") => 'd',
        Some("symlink") => 'l',
        Some("fifo") => 'p',
        Some("socket") => 's',
        Some("char_device") => 'c',
        Some("block_device") => 'b',
        _ => '-',
    };
    let Some(mode) = record
        .get("mode")
        .and_then(Value::as_str)
        .and_then(|m| u32::from_str_radix(m, 8).ok())
    else {
        return format!("{kind}/{kind}---------");
    };
    let mut perms = String::with_capacity(9);
    for (bit, c) in [
        (0o400, 'r'),
        (0o200, 'w'),
        (0o100, 'x'),
        (0o040, 'r'),
        (0o020, 'w'),
        (0o010, 'x'),
        (0o004, 'r'),
        (0o002, 'w'),
        (0o001, 'x'),
    ] {
        perms.push(if mode & bit != 0 { c } else { '-' });
    }
    format!("{kind}/{kind}{perms}")
}

/// A name as a bodyfile field: `|` separates fields and a line ends the record, so
/// those (and nothing else) are percent-escaped.
fn bodyfile_name(name: &str) -> String {
    name.replace('|', "%7C")
        .replace('\n', "%0A")
        .replace('\r', "%0D")
}

fn num(record: &Map<String, Value>, key: &str) -> u64 {
    record.get(key).and_then(Value::as_u64).unwrap_or(0)
}

/// Counts of what was written.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Written {
    pub lines: u64,
    pub unreadable_lines: u64,
}

/// The bodyfile (sleuthkit 3.x): `MD5|name|inode|mode|UID|GID|size|atime|mtime|ctime|crtime`,
/// one line per record and time set (times in whole seconds since the epoch, 0 when not
/// recorded; MD5 the record's when the run computed it, else 0, as sleuthkit writes).
pub fn bodyfile(out: &mut dyn Write, files_jsonl: impl BufRead) -> io::Result<Written> {
    let mut w = Written::default();
    let mut failure = None;
    let (_, err) = super::for_each_line(files_jsonl, |line| {
        if failure.is_some() {
            return;
        }
        let Ok(Value::Object(r)) = serde_json::from_slice::<Value>(line) else {
            w.unreadable_lines += 1;
            return;
        };
        let mut name = path_of(&r);
        if is_deleted(&r) {
            name.push_str(" (deleted)");
        }
        let sets = time_sets(&r);
        let sets = if sets.is_empty() {
            vec![TimeSet {
                label: None,
                times: Vec::new(),
            }]
        } else {
            sets
        };
        for set in sets {
            let get = |n: &str| {
                set.times
                    .iter()
                    .find(|(t, ..)| *t == n)
                    .map(|(_, _, s, _)| *s)
                    .unwrap_or(0)
            };
            let shown = match &set.label {
                None => name.clone(),
                Some(l) => format!("{name} ({l})"),
            };
            let line = format!(
                "{}|{}|{}|{}|{}|{}|{}|{}|{}|{}|{}\n",
                r.get("md5").and_then(Value::as_str).unwrap_or("0"),
                bodyfile_name(&shown),
                num(&r, "inode"),
                mode_string(&r),
                num(&r, "uid"),
                num(&r, "gid"),
                num(&r, "size"),
                get("atime"),
                get("mtime"),
                get("ctime"),
                get("btime"),
            );
            if let Err(e) = out.write_all(line.as_bytes()) {
                failure = Some(e);
                return;
            }
            w.lines += 1;
        }
    });
    if let Some(e) = failure {
        return Err(e);
    }
    if let Some(e) = err {
        return Err(io::Error::other(format!("reading files.jsonl: {e}")));
    }
    Ok(w)
}

/// Timesketch's layout: JSON lines or CSV with a header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    Jsonl,
    Csv,
}

const CSV_COLUMNS: [&str; 9] = [
    "message",
    "datetime",
    "timestamp_desc",
    "timestamp",
    "data_type",
    "path",
    "sha256",
    "status",
    "detail",
];

fn emit(out: &mut dyn Write, layout: Layout, e: &Value) -> io::Result<()> {
    match layout {
        Layout::Jsonl => {
            serde_json::to_writer(&mut *out, e).map_err(io::Error::other)?;
            out.write_all(b"\n")
        }
        Layout::Csv => {
            let cells: Vec<String> = CSV_COLUMNS
                .iter()
                .map(|c| match &e[*c] {
                    Value::Null => String::new(),
                    Value::String(s) => super::csv_cell(s),
                    other => super::csv_cell(&other.to_string()),
                })
                .collect();
            out.write_all(cells.join(",").as_bytes())?;
            out.write_all(b"\n")
        }
    }
}

/// RFC 3339 with microseconds, as Timesketch shows it, and microseconds since the epoch.
fn stamp(seconds: i64, nanos: u32) -> (String, i64) {
    let micros = seconds.saturating_mul(1_000_000) + i64::from(nanos / 1000);
    let text = jiff::Timestamp::from_microsecond(micros)
        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%S%.6f+00:00").to_string())
        .unwrap_or_default();
    (text, micros)
}

/// The Timesketch timeline: an event per time of every record (and per nested time set),
/// then an event per finding at the time its file was read (or the run's start when the
/// finding concerns no file, e.g. live state).
pub fn timesketch(
    out: &mut dyn Write,
    layout: Layout,
    files_jsonl: impl BufRead,
    findings: &[Finding],
    run_start: &str,
) -> io::Result<Written> {
    let mut w = Written::default();
    if layout == Layout::Csv {
        out.write_all(CSV_COLUMNS.join(",").as_bytes())?;
        out.write_all(b"\n")?;
    }
    let wanted: std::collections::HashSet<&str> =
        findings.iter().filter_map(|f| f.path.as_deref()).collect();
    let mut read_at: HashMap<String, String> = HashMap::new();
    let mut failure = None;
    let (_, err) = super::for_each_line(files_jsonl, |line| {
        if failure.is_some() {
            return;
        }
        let Ok(Value::Object(r)) = serde_json::from_slice::<Value>(line) else {
            w.unreadable_lines += 1;
            return;
        };
        let path = path_of(&r);
        if wanted.contains(path.as_str())
            && let Some(t) = r.get("acquired_utc").and_then(Value::as_str)
        {
            read_at.insert(path.clone(), t.to_string());
        }
        let status = r.get("status").and_then(Value::as_str).unwrap_or("");
        let deleted = if is_deleted(&r) { " (deleted)" } else { "" };
        for set in time_sets(&r) {
            for (name, _, secs, nanos) in &set.times {
                let desc = TIMES
                    .iter()
                    .find(|(n, _)| n == name)
                    .map(|(_, d)| *d)
                    .unwrap_or(name);
                let desc = match &set.label {
                    None => desc.to_string(),
                    Some(l) => format!("{desc} ({l})"),
                };
                let (datetime, timestamp) = stamp(*secs, *nanos);
                let e = json!({
                    "message": format!("{path}{deleted}: {desc} [{status}]"),
                    "datetime": datetime,
                    "timestamp_desc": desc,
                    "timestamp": timestamp,
                    "data_type": "fieldkit:file",
                    "path": path,
                    "sha256": r.get("sha256"),
                    "size": r.get("size"),
                    "status": status,
                    "detail": r.get("member").or_else(|| r.get("reason")),
                });
                if let Err(e) = emit(out, layout, &e) {
                    failure = Some(e);
                    return;
                }
                w.lines += 1;
            }
        }
    });
    if let Some(e) = failure {
        return Err(e);
    }
    if let Some(e) = err {
        return Err(io::Error::other(format!("reading files.jsonl: {e}")));
    }
    for f in findings {
        let when = f
            .path
            .as_deref()
            .and_then(|p| read_at.get(p))
            .map(String::as_str)
            .unwrap_or(run_start);
        let Some((s, ns)) = parse_time(when) else {
            continue;
        };
        let (datetime, timestamp) = stamp(s, ns);
        let severity = serde_json::to_value(f.severity).unwrap_or_default();
        let e = json!({
            "message": format!("{} [{}] {}", f.title, severity.as_str().unwrap_or(""), f.path.as_deref().unwrap_or("")),
            "datetime": datetime,
            "timestamp_desc": "Finding (time the file was read)",
            "timestamp": timestamp,
            "data_type": "fieldkit:finding",
            "path": f.path,
            "sha256": f.sha256,
            "status": f.kind,
            "detail": f.id,
            "severity": severity,
            "analyzer": f.analyzer,
        });
        emit(out, layout, &e)?;
        w.lines += 1;
    }
    Ok(w)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_time_sets_and_deleted_entries_get_their_own_bodyfile_lines() {
        let line = r#"{"path":"/C/a|b.txt","status":"collected","file_type":"file","mode":"100644","uid":1,"gid":2,"inode":7,"size":5,"md5":"d41d8cd98f00b204e9800998ecf8427e","mtime":"2026-01-02T03:04:05.5Z","atime":"2026-01-02T03:04:06Z","fn_times":{"mtime":"2020-01-01T00:00:00Z","btime":"2020-01-01T00:00:01Z"},"window":{"modified":"2026-01-02T03:04:05Z"},"deleted":true}
"#;
        let mut out = Vec::new();
        let w = bodyfile(&mut out, line.as_bytes()).unwrap();
        assert_eq!(w.lines, 2);
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "d41d8cd98f00b204e9800998ecf8427e|/C/a%7Cb.txt (deleted)|7|r/rrw-r--r--|1|2|5|1767323046|1767323045|0|0"
        );
        assert_eq!(
            lines[1],
            "d41d8cd98f00b204e9800998ecf8427e|/C/a%7Cb.txt (deleted) (fn_times)|7|r/rrw-r--r--|1|2|5|0|1577836800|0|1577836801"
        );
        let mut out = Vec::new();
        let w = timesketch(
            &mut out,
            Layout::Jsonl,
            line.as_bytes(),
            &[],
            "2026-01-01T00:00:00Z",
        )
        .unwrap();
        assert_eq!(w.lines, 4);
        let first: Value =
            serde_json::from_slice(out.split(|&b| b == b'\n').next().unwrap()).unwrap();
        assert_eq!(first["timestamp_desc"], "Last Access Time");
        assert_eq!(first["datetime"], "2026-01-02T03:04:06.000000+00:00");
    }
}
