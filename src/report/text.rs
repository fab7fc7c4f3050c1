//! The plain-text report for terminals and paper: what a responder or prosecutor reads
//! first. Never prints evidence content (seed words and the like stay in the bundle).

use std::fmt::Write;

use super::{Report, severity_name};

fn opt(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or("—")
}

pub fn render(r: &Report) -> String {
    let m = &r.manifest;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "fieldkit report{}",
        r.bundle_name
            .as_ref()
            .map(|n| format!(": {n}"))
            .unwrap_or_default()
    );
    let _ = writeln!(s, "{}", "=".repeat(72));
    let words = r.integrity.words();
    let _ = writeln!(s, "Integrity      {}", words.headline);
    let _ = writeln!(s, "               {}", words.detail);
    for p in &r.integrity.problems {
        let _ = writeln!(s, "               - {p}");
    }
    if let Some(h) = &r.integrity.bundle_sha256 {
        let _ = writeln!(s, "Bundle SHA-256 {h}");
    }
    let _ = writeln!(
        s,
        "Signed by      {}{}",
        m.signer.fingerprint,
        if m.signer.one_time_key {
            " (one-time key: compare with the responder's notes)"
        } else {
            ""
        }
    );
    let _ = writeln!(s, "Trust          {}", words.signer);
    let _ = writeln!(
        s,
        "Status         {}{}",
        m.status,
        m.incomplete_reason
            .as_ref()
            .map(|x| format!(" — {x}"))
            .unwrap_or_default()
    );
    let _ = writeln!(s);
    let _ = writeln!(
        s,
        "Case           {}   Exhibit {}",
        opt(&m.case.case_number),
        opt(&m.case.exhibit)
    );
    let _ = writeln!(s, "Examiner       {}", super::scope::examiner(&m.case));
    if let Some(n) = &m.case.notes {
        let _ = writeln!(s, "Notes          {n}");
    }
    let _ = writeln!(
        s,
        "Collected      {} → {} (UTC), host time zone {} (UTC{:+}s)",
        m.times.start_utc, m.times.end_utc, m.times.time_zone, m.times.utc_offset_seconds
    );
    if let Some(rt) = &m.times.reference {
        let _ = writeln!(
            s,
            "Clock          host clock {:+.1} s against the responder's reference {}",
            rt.host_clock_offset_seconds, rt.given
        );
    }
    let _ = writeln!(
        s,
        "Source         {} ({}) on {} — {}",
        m.source.resolved_path,
        if m.source.live_system {
            "live system"
        } else {
            "mounted source"
        },
        opt(&m.host.hostname),
        opt(&m.host.os_name)
    );
    let _ = writeln!(
        s,
        "Tool           {} {} (commit {}), executable SHA-256 {}",
        m.tool.name,
        m.tool.version,
        m.tool.commit,
        opt(&m.tool.executable_sha256)
    );
    let sc = &r.scope;
    let _ = writeln!(
        s,
        "Profile        {} (SHA-256 {})",
        sc.profile, m.profile.sha256
    );
    let c = &m.counts;
    let _ = writeln!(s, "Files          {}", sc.files);
    if let Some(w) = &sc.window {
        let _ = writeln!(s, "Window         {w}");
    }
    let _ = writeln!(s, "Completeness   {}", sc.completeness);
    for w in &sc.warnings {
        let _ = writeln!(s, "WARNING        {w}");
    }
    if c.deleted > 0 {
        let _ = writeln!(
            s,
            "Deleted        {} deleted entr(y/ies) of the image",
            c.deleted
        );
    }
    let u = &r.unparseable;
    let _ = writeln!(
        s,
        "Unreadable     {} line(s) of files.jsonl, {} of findings.jsonl{}",
        u.files_jsonl_lines,
        u.findings_jsonl_lines,
        if u.any() {
            "  DAMAGED OR ALTERED BUNDLE: the lists below are incomplete"
        } else {
            ""
        }
    );
    for e in &u.read_errors {
        let _ = writeln!(s, "               - {e}");
    }
    let _ = writeln!(s);
    let _ = writeln!(
        s,
        "Findings ({}: {})",
        r.findings.len(),
        super::severity_counts_text(&r.findings_by_severity)
    );
    if r.findings.is_empty() {
        let _ = writeln!(s, "  none");
    }
    for f in &r.findings {
        let _ = writeln!(
            s,
            "  [{:<8}] {} — {}{}",
            severity_name(f.severity).to_uppercase(),
            f.title,
            f.path.as_deref().unwrap_or("(no path)"),
            f.member
                .as_ref()
                .map(|m| format!("  [{m}]"))
                .unwrap_or_default()
        );
    }
    if !r.not_collected.is_empty() {
        let _ = writeln!(s);
        let _ = writeln!(s, "Not collected, or collected with a caveat");
        for rc in &r.not_collected {
            let _ = writeln!(
                s,
                "  {:>7}  {}/{}  e.g. {}",
                rc.count,
                rc.status,
                rc.reason,
                rc.examples.first().map(String::as_str).unwrap_or("")
            );
        }
    }
    if let Some(live) = &r.live_summary {
        let _ = writeln!(s);
        let _ = writeln!(s, "Live state");
        for line in live.lines() {
            let _ = writeln!(s, "  {line}");
        }
    }
    let _ = writeln!(s);
    let _ = writeln!(s, "{RECIPE_HEADING}\n{}", super::recipe::for_report(r));
    s
}

/// The line before the stock-tools recipe: the commands follow it as they are to be run,
/// up to the next empty line.
pub const RECIPE_HEADING: &str = "How to check without fieldkit (in the bundle's folder; \
     every command must succeed — in a script, run them with sh -e):";
