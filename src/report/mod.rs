//! Reports: human (text, self-contained HTML) and machine (JSON, CSV) views of a bundle.
//!
//! Owns the report model — case and chain of custody, counts with the reasons files were
//! not collected, findings sorted by severity, a timeline of file activity, and the live
//! summary — built from a bundle's members or, during `collect`, from the same data before
//! the bundle is sealed (so `report.html` can travel inside it). Never changes a bundle and
//! never loads anything from the network: the HTML has no scripts, fonts or links out.

pub mod html;
pub mod text;

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

/// Files modified per day (UTC), for the timeline.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Timeline {
    /// `YYYY-MM-DD` → files whose mtime falls on that day.
    pub mtime_per_day: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Integrity {
    /// `valid`, `invalid`, … when the report was made from a sealed bundle.
    pub verdict: Option<String>,
    pub problems: Vec<String>,
    pub bundle_sha256: Option<String>,
    pub signer_fingerprint: Option<String>,
    pub trust: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub generated_utc: String,
    pub bundle_name: Option<String>,
    pub manifest: Manifest,
    pub integrity: Integrity,
    pub not_collected: Vec<ReasonCount>,
    pub findings: Vec<Finding>,
    pub findings_by_severity: BTreeMap<String, u64>,
    pub timeline: Timeline,
    /// Pre-rendered live-state summary (text), when the bundle holds live state.
    pub live_summary: Option<String>,
    pub live_members: Vec<String>,
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
    let mut reasons: BTreeMap<(String, String), ReasonCount> = BTreeMap::new();
    let mut timeline = Timeline::default();
    for line in files_jsonl.split(b'\n').map_while(Result::ok) {
        let Ok(rec) = serde_json::from_slice::<FileRecord>(&line) else {
            continue;
        };
        if let Some(day) = rec.facts.mtime.as_deref().and_then(|m| m.get(..10))
            && rec.status != Some(Status::Skipped)
        {
            *timeline.mtime_per_day.entry(day.to_string()).or_default() += 1;
        }
        let status = rec.status.unwrap_or(Status::Error);
        if matches!(status, Status::Collected | Status::Duplicate) {
            continue;
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
    let mut findings: Vec<Finding> = findings_jsonl
        .split(b'\n')
        .map_while(Result::ok)
        .filter_map(|l| serde_json::from_slice::<Finding>(&l).ok())
        .collect();
    findings.sort_by(|a, b| b.severity.cmp(&a.severity).then_with(|| a.id.cmp(&b.id)));
    let mut findings_by_severity = BTreeMap::new();
    for f in &findings {
        *findings_by_severity
            .entry(severity_name(f.severity).to_string())
            .or_default() += 1;
    }
    let mut not_collected: Vec<ReasonCount> = reasons.into_values().collect();
    not_collected.sort_by_key(|r| std::cmp::Reverse(r.count));
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

pub fn severity_name(s: Severity) -> &'static str {
    match s {
        Severity::Info => "info",
        Severity::Low => "low",
        Severity::Medium => "medium",
        Severity::High => "high",
        Severity::Critical => "critical",
    }
}

/// Findings as CSV (RFC 4180 quoting), one row per finding.
pub fn findings_csv(report: &Report) -> String {
    fn q(s: &str) -> String {
        if s.contains([',', '"', '\n', '\r']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s.to_string()
        }
    }
    let mut out = String::from("id,severity,analyzer,kind,title,path,member,sha256,evidence\n");
    for f in &report.findings {
        let evidence = f.evidence.to_string();
        let row = [
            f.id.as_str(),
            severity_name(f.severity),
            f.analyzer.as_str(),
            f.kind.as_str(),
            f.title.as_str(),
            f.path.as_deref().unwrap_or(""),
            f.member.as_deref().unwrap_or(""),
            f.sha256.as_deref().unwrap_or(""),
            evidence.as_str(),
        ];
        out.push_str(&row.iter().map(|c| q(c)).collect::<Vec<_>>().join(","));
        out.push('\n');
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
