//! Reports: human (text, self-contained HTML) and machine (JSON, CSV) views of a bundle.
//!
//! Owns the report model — case and chain of custody, counts with the reasons files were
//! not collected, findings sorted by severity, a timeline of file activity, and the live
//! summary — built from a bundle's members or, during `collect`, from the same data before
//! the bundle is sealed (so `report.html` can travel inside it). Never changes a bundle,
//! never loads anything from the network (the HTML has no scripts, fonts or links out),
//! never holds a JSON-lines member whole in memory (it is streamed line by line, each line
//! bounded by [`MAX_LINE`]) and never drops a line silently: lines that cannot be read are
//! counted and every format shows the count.

pub mod case;
pub mod chart;
pub mod html;
pub mod recipe;
pub mod scope;
pub mod summary;
pub mod text;
pub mod timeline;
pub mod verdict;

use std::collections::BTreeMap;
use std::io::BufRead;

use serde::Serialize;

use crate::bundle::manifest::Manifest;
use crate::bundle::record::{FileRecord, Status};
use crate::finding::{Finding, Severity};

/// Why files were not collected: (status, reason) → count and a few example paths.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ReasonCount {
    pub status: String,
    pub reason: String,
    pub count: u64,
    pub examples: Vec<String>,
}

pub use chart::Timeline;

#[derive(Debug, Clone, Default, Serialize)]
pub struct Integrity {
    /// `valid`, `invalid`, `wrong key`, … when the report was made from a sealed bundle
    /// (verdict::verdict_name).
    pub verdict: Option<String>,
    pub problems: Vec<String>,
    pub bundle_sha256: Option<String>,
    pub signer_fingerprint: Option<String>,
    /// Who signed and whether that was checked (bundle::trust).
    pub trust: Option<crate::bundle::trust::TrustReport>,
    /// The verdict's words (verdict::wording), the same in every view.
    pub wording: Option<verdict::Wording>,
    /// The exit status `report` ends with.
    pub exit_code: Option<u8>,
}

impl Integrity {
    /// The verdict's words, or those of a report written during collection.
    pub fn words(&self) -> verdict::Wording {
        self.wording
            .clone()
            .unwrap_or_else(verdict::during_collection)
    }
}

/// What could not be read from the bundle's JSON-lines members (a damaged or altered
/// bundle): shown in every format, so no finding or record goes missing unnoticed.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Unparseable {
    /// Lines of `files.jsonl` that are not a file record.
    pub files_jsonl_lines: u64,
    /// Lines of `findings.jsonl` that are not a finding.
    pub findings_jsonl_lines: u64,
    /// Read errors that ended a member early (the lines after them are not counted).
    pub read_errors: Vec<String>,
}

impl Unparseable {
    /// True when something was not read.
    pub fn any(&self) -> bool {
        self.files_jsonl_lines > 0 || self.findings_jsonl_lines > 0 || !self.read_errors.is_empty()
    }

    /// One line for people.
    pub fn describe(&self) -> String {
        let mut s = format!(
            "{} line(s) of files.jsonl and {} line(s) of findings.jsonl could not be read",
            self.files_jsonl_lines, self.findings_jsonl_lines
        );
        for e in &self.read_errors {
            s.push_str("; ");
            s.push_str(e);
        }
        s
    }
}

/// Longest JSON line read from a member; longer lines are counted as unparseable and
/// skipped without being held in memory.
pub const MAX_LINE: usize = 16 << 20;

/// Calls `each` with every non-empty line (without its newline) of a JSON-lines stream,
/// holding at most [`MAX_LINE`] bytes. Returns the number of overlong lines skipped and
/// the read error that ended the stream early, if any.
pub fn for_each_line(
    mut reader: impl BufRead,
    mut each: impl FnMut(&[u8]),
) -> (u64, Option<String>) {
    let mut line = Vec::new();
    let mut overlong = false;
    let mut skipped = 0u64;
    loop {
        let buf = match reader.fill_buf() {
            Ok([]) => break,
            Ok(buf) => buf,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return (skipped, Some(e.to_string())),
        };
        let (part, newline) = match memchr::memchr(b'\n', buf) {
            Some(at) => (&buf[..at], true),
            None => (buf, false),
        };
        if !overlong {
            if line.len() + part.len() > MAX_LINE {
                overlong = true;
                line.clear();
            } else {
                line.extend_from_slice(part);
            }
        }
        let used = part.len() + usize::from(newline);
        reader.consume(used);
        if newline {
            if overlong {
                skipped += 1;
            } else if !line.is_empty() {
                each(&line);
            }
            line.clear();
            overlong = false;
        }
    }
    if overlong {
        skipped += 1;
    } else if !line.is_empty() {
        each(&line);
    }
    (skipped, None)
}

/// The findings of a bundle, read and sorted by severity (highest first), with what
/// could not be read.
#[derive(Debug, Clone, Default)]
pub struct FindingsRead {
    pub findings: Vec<Finding>,
    pub unparseable_lines: u64,
    pub read_error: Option<String>,
}

/// Reads a `findings.jsonl` stream.
pub fn read_findings(findings_jsonl: impl BufRead) -> FindingsRead {
    let mut out = FindingsRead::default();
    let mut bad = 0u64;
    let (overlong, error) = for_each_line(findings_jsonl, |line| {
        match serde_json::from_slice::<Finding>(line) {
            Ok(f) => out.findings.push(f),
            Err(_) => bad += 1,
        }
    });
    out.unparseable_lines = bad + overlong;
    out.read_error = error;
    out.findings
        .sort_by(|a, b| b.severity.cmp(&a.severity).then_with(|| a.id.cmp(&b.id)));
    out
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub generated_utc: String,
    pub bundle_name: Option<String>,
    pub manifest: Manifest,
    pub integrity: Integrity,
    pub not_collected: Vec<ReasonCount>,
    pub findings: Vec<Finding>,
    #[serde(serialize_with = "serialize_by_severity")]
    pub findings_by_severity: BTreeMap<String, u64>,
    pub timeline: Timeline,
    /// Pre-rendered live-state summary (text), when the bundle holds live state.
    pub live_summary: Option<String>,
    pub live_members: Vec<String>,
    /// Lines of files.jsonl / findings.jsonl that could not be read.
    pub unparseable: Unparseable,
    /// What was collected, in the words every view uses (scope::scope).
    pub scope: scope::Scope,
}

const EXAMPLES: usize = 5;

/// Build the model from the manifest and the bundle's JSON-lines members.
pub fn build(
    manifest: Manifest,
    files_jsonl: impl BufRead,
    findings_jsonl: impl BufRead,
    live_members: Vec<String>,
    live_summary: Option<String>,
) -> Report {
    let findings = read_findings(findings_jsonl);
    build_with_findings(manifest, files_jsonl, findings, live_members, live_summary)
}

/// Build the model from findings already read (so a ZIP's members can be streamed one
/// after the other) and a streamed `files.jsonl`.
pub fn build_with_findings(
    manifest: Manifest,
    files_jsonl: impl BufRead,
    findings: FindingsRead,
    live_members: Vec<String>,
    live_summary: Option<String>,
) -> Report {
    let mut reasons: BTreeMap<(String, String), ReasonCount> = BTreeMap::new();
    let mut timeline = Timeline::default();
    // Times after the collection ended are outliers of the timeline (chart.rs).
    let collection_end = [&manifest.times.end_utc, &manifest.times.start_utc]
        .iter()
        .find_map(|t| t.parse::<jiff::Timestamp>().ok())
        .map(|t| t.as_second());
    let mut bad_records = 0u64;
    let (overlong, files_error) = for_each_line(files_jsonl, |line| {
        let Ok(rec) = serde_json::from_slice::<FileRecord>(line) else {
            bad_records += 1;
            return;
        };
        if let Some(mtime) = rec.facts.mtime.as_deref()
            && rec.status != Some(Status::Skipped)
        {
            timeline.add(&rec.path.display(), mtime, collection_end);
        }
        add_reason(&mut reasons, &rec);
    });
    let unparseable = Unparseable {
        files_jsonl_lines: bad_records + overlong,
        findings_jsonl_lines: findings.unparseable_lines,
        read_errors: [
            files_error.map(|e| format!("files.jsonl: read error: {e}")),
            findings
                .read_error
                .map(|e| format!("findings.jsonl: read error: {e}")),
        ]
        .into_iter()
        .flatten()
        .collect(),
    };
    let findings = findings.findings;
    let mut findings_by_severity = BTreeMap::new();
    for f in &findings {
        *findings_by_severity
            .entry(severity_name(f.severity).to_string())
            .or_default() += 1;
    }
    let mut not_collected: Vec<ReasonCount> = reasons.into_values().collect();
    not_collected.sort_by_key(|r| std::cmp::Reverse(r.count));
    let scope = scope::scope(&manifest, &not_collected, None);
    Report {
        generated_utc: crate::timefmt::now_utc(),
        bundle_name: None,
        integrity: Integrity {
            signer_fingerprint: Some(manifest.signer.fingerprint.clone()),
            ..Integrity::default()
        },
        manifest,
        not_collected,
        findings,
        findings_by_severity,
        timeline,
        live_summary,
        live_members,
        unparseable,
        scope,
    }
}

fn add_reason(reasons: &mut BTreeMap<(String, String), ReasonCount>, rec: &FileRecord) {
    let status = rec.status.unwrap_or(Status::Error);
    if matches!(status, Status::Collected | Status::Duplicate) {
        return;
    }
    let reason = rec.reason.clone().unwrap_or_default();
    let entry = reasons
        .entry((status.name().to_string(), reason.clone()))
        .or_insert_with(|| ReasonCount {
            status: status.name().to_string(),
            reason,
            ..ReasonCount::default()
        });
    entry.count += 1;
    if entry.examples.len() < EXAMPLES {
        entry.examples.push(rec.path.display());
    }
}

/// `1.4 GiB`-style size for people (exact byte counts are printed beside it).
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// Severity names, most severe first: the order counts are shown in everywhere.
pub const SEVERITY_ORDER: [&str; 5] = ["critical", "high", "medium", "low", "info"];

/// `2 critical, 0 high, 1 medium, 0 low, 5 info`: always all five, most severe first.
pub fn severity_counts_text(by_severity: &BTreeMap<String, u64>) -> String {
    SEVERITY_ORDER
        .iter()
        .map(|k| format!("{} {k}", by_severity.get(*k).copied().unwrap_or(0)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A severity → count map as a JSON object in severity order (critical first, all five
/// always present), not in the map's alphabetical order.
pub fn serialize_by_severity<S: serde::Serializer>(
    by_severity: &BTreeMap<String, u64>,
    ser: S,
) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut map = ser.serialize_map(None)?;
    for k in SEVERITY_ORDER {
        map.serialize_entry(k, &by_severity.get(k).copied().unwrap_or(0))?;
    }
    for (k, v) in by_severity {
        if !SEVERITY_ORDER.contains(&k.as_str()) {
            map.serialize_entry(k, v)?;
        }
    }
    map.end()
}

pub fn severity_name(s: Severity) -> &'static str {
    match s {
        Severity::Info => "info",
        Severity::Low => "low",
        Severity::Medium => "medium",
        Severity::High => "high",
        Severity::Critical => "critical",
    }
}

/// One CSV cell: RFC 4180 quoting, and neutralised against formula injection (OWASP
/// "CSV Injection"): a cell starting with `=`, `+`, `-`, `@`, TAB or CR — a file name, a
/// title from an altered bundle — gets a leading `'`, so a spreadsheet shows it as text
/// and never evaluates it; the cell is then quoted.
pub fn csv_cell(s: &str) -> String {
    let dangerous = s.starts_with(['=', '+', '-', '@', '\t', '\r']);
    if dangerous {
        format!("\"'{}\"", s.replace('"', "\"\""))
    } else if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Findings as CSV (RFC 4180 quoting, formula injection neutralised), one row per
/// finding, highest severity first. When lines of the bundle could not be read, a last
/// row of kind `report.unparseable_lines` says how many.
pub fn findings_csv(report: &Report) -> String {
    let mut out = String::from("id,severity,analyzer,kind,title,path,member,sha256,evidence\n");
    let mut push = |row: [&str; 9]| {
        out.push_str(&row.map(csv_cell).join(","));
        out.push('\n');
    };
    for f in &report.findings {
        let evidence = f.evidence.to_string();
        push([
            f.id.as_str(),
            severity_name(f.severity),
            f.analyzer.as_str(),
            f.kind.as_str(),
            f.title.as_str(),
            f.path.as_deref().unwrap_or(""),
            f.member.as_deref().unwrap_or(""),
            f.sha256.as_deref().unwrap_or(""),
            evidence.as_str(),
        ]);
    }
    if report.unparseable.any() {
        let evidence = serde_json::to_string(&report.unparseable).unwrap_or_default();
        push([
            "",
            "low",
            "report",
            "report.unparseable_lines",
            &report.unparseable.describe(),
            "",
            "",
            "",
            &evidence,
        ]);
    }
    out
}

/// The live-state summary of a bundle's `live/` members, when it has any.
pub fn live_summary_from_bundle<R: std::io::Read + std::io::Seek>(
    zip: &mut zip::ZipArchive<R>,
) -> Option<String> {
    use std::io::Read;
    let names: Vec<String> = zip
        .file_names()
        .filter_map(Result::ok)
        .filter(|n| n.starts_with("live/"))
        .map(|n| n.into_owned())
        .collect();
    if names.is_empty() {
        return None;
    }
    let mut members = Vec::new();
    for name in names {
        let mut bytes = Vec::new();
        if let Ok(f) = zip.by_name(&name) {
            // A member that cannot be read shows as a problem line in the summary.
            let _ = f.take(256 << 20).read_to_end(&mut bytes);
        }
        members.push((name, bytes));
    }
    Some(crate::live::render_summary(&members))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(data: &[u8], chunk: usize) -> (Vec<Vec<u8>>, u64) {
        let reader = std::io::BufReader::with_capacity(chunk, data);
        let mut seen = Vec::new();
        let (overlong, error) = for_each_line(reader, |l| seen.push(l.to_vec()));
        assert_eq!(error, None);
        (seen, overlong)
    }

    #[test]
    fn lines_are_streamed_whatever_the_buffer_and_overlong_ones_counted() {
        for chunk in [1, 2, 3, 64] {
            let (seen, overlong) = lines(b"a\n\nbc\nlast", chunk);
            assert_eq!(seen, vec![b"a".to_vec(), b"bc".to_vec(), b"last".to_vec()]);
            assert_eq!(overlong, 0);
        }
        let mut data = vec![b'x'; MAX_LINE + 1];
        data.extend_from_slice(b"\nok\n");
        data.extend(vec![b'y'; MAX_LINE + 1]);
        let (seen, overlong) = lines(&data, 1 << 16);
        assert_eq!(seen, vec![b"ok".to_vec()]);
        assert_eq!(
            overlong, 2,
            "one ended by a newline, one by the end of the stream"
        );
    }

    #[test]
    fn unparseable_findings_are_counted_and_the_rest_sorted() {
        let read = read_findings(
            &b"{\"id\":\"F2\",\"analyzer\":\"a\",\"kind\":\"k\",\"severity\":\"low\",\"title\":\"t\",\"evidence\":{}}\n\
               not json\n\
               {\"id\":\"F1\",\"analyzer\":\"a\",\"kind\":\"k\",\"severity\":\"high\",\"title\":\"t\",\"evidence\":{}}\n"[..],
        );
        assert_eq!(read.unparseable_lines, 1);
        let ids: Vec<&str> = read.findings.iter().map(|f| f.id.as_str()).collect();
        assert_eq!(ids, vec!["F1", "F2"]);
    }

    #[test]
    fn csv_cells_that_a_spreadsheet_would_evaluate_are_neutralised() {
        assert_eq!(csv_cell("=1+1"), "\"'=1+1\"");
        assert_eq!(csv_cell("+1"), "\"'+1\"");
        assert_eq!(csv_cell("-1"), "\"'-1\"");
        assert_eq!(csv_cell("@SUM(A1)"), "\"'@SUM(A1)\"");
        assert_eq!(csv_cell("\t=1"), "\"'\t=1\"");
        assert_eq!(csv_cell("\r=1"), "\"'\r=1\"");
        assert_eq!(
            csv_cell("=HYPERLINK(\"http://x\",\"y\")"),
            "\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\""
        );
        assert_eq!(csv_cell("/tmp/a,b"), "\"/tmp/a,b\"");
        assert_eq!(csv_cell("plain"), "plain");
        assert_eq!(csv_cell("a=b"), "a=b", "only a leading sign matters");
    }
}
