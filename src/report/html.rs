//! The self-contained HTML report (`report.html` in the bundle and `fieldkit report
//! --format html`): one file, inline CSS and SVG, no scripts, no fonts, no links out, so it
//! opens offline on any lab machine and makes no request. Every value is HTML-escaped.
//!
//! Findings are listed highest severity first: everything above `info` as a card with its
//! evidence, then the informational ones (one per recognised executable: hundreds on a
//! system disk) as one compact table inside a closed `<details>`, each row keeping its
//! evidence. Every finding is in the page. Secret material in evidence (a recovery
//! phrase) is never on screen, in a screenshot or a printout unless the reader opens the
//! closed `<details class="secret">` that holds it; it must never be shown in the open.

use std::fmt::Write;

use super::{Report, severity_name};

pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn row(s: &mut String, k: &str, v: &str) {
    let _ = writeln!(s, "<tr><th>{}</th><td>{}</td></tr>", esc(k), esc(v));
}

fn o(v: &Option<String>) -> String {
    v.clone().unwrap_or_else(|| "—".into())
}

const STYLE: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:2em auto;max-width:70em;color:#1b1b1b;line-height:1.4}\
h1{font-size:1.6em;margin-bottom:.2em}h2{border-bottom:2px solid #ccc;padding-bottom:.2em;margin-top:1.6em}\
table{border-collapse:collapse;width:100%;margin:.5em 0}th,td{border:1px solid #ddd;padding:.3em .5em;text-align:left;vertical-align:top}\
th{background:#f4f4f4;width:16em}td code,pre{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.9em}\
pre{background:#f7f7f7;padding:.5em;overflow-x:auto;white-space:pre-wrap;word-break:break-all}\
.banner{padding:.8em 1em;border-radius:6px;font-weight:600;margin:1em 0}.ok{background:#e3f4e3;border:1px solid #7bbf7b}\
.bad{background:#fbe3e3;border:1px solid #d77}.info{background:#eef3fb;border:1px solid #9ab}\
.warn{background:#fdf3d8;border:1px solid #d9b44a}.banner .detail{font-weight:400}\
.sev{display:inline-block;min-width:6em;text-align:center;border-radius:4px;padding:.1em .4em;font-weight:700;color:#fff}\
.sev-critical{background:#8b0000}.sev-high{background:#c0392b}.sev-medium{background:#d68910}.sev-low{background:#2e86c1}.sev-info{background:#7f8c8d}\
.finding{border:1px solid #ddd;border-radius:6px;padding:.6em .8em;margin:.6em 0}.muted{color:#666;font-size:.9em}\
table.compact th{width:auto}table.compact td{font-size:.9em}summary{cursor:pointer;font-weight:600}\
details.secret{border:1px dashed #c0392b;border-radius:4px;padding:.3em .6em;margin:.4em 0}\
td,th{overflow-wrap:anywhere}\
@media print{body{margin:0;max-width:none;font-size:10pt;color:#000}\
.banner,.ok,.bad,.warn,.info,th,pre{background:none}.banner{border:2px solid #000}\
.sev{color:#000;background:none;border:1px solid #000}\
h2,h3{break-after:avoid}tr,.finding,.banner,svg,#timeline-drawn,#timeline-outliers{break-inside:avoid}\
pre{white-space:pre-wrap;word-break:break-all;border:1px solid #999}.muted{color:#333}}";

/// Evidence fields that are secrets: rendered only inside a closed `<details>`.
const SECRET_FIELDS: &[&str] = &["phrase"];

/// A finding's evidence as an escaped `<pre>`, with secret fields moved into closed
/// `<details class="secret">` elements after it.
fn evidence_html(f: &crate::finding::Finding) -> String {
    let mut shown = f.evidence.clone();
    let mut secrets = String::new();
    if let Some(map) = shown.as_object_mut() {
        for field in SECRET_FIELDS {
            if let Some(serde_json::Value::String(secret)) = map.get(*field).cloned() {
                map.insert(
                    (*field).to_string(),
                    serde_json::Value::String("(hidden: open the box below)".to_string()),
                );
                let _ = write!(
                    secrets,
                    "<details class=\"secret\"><summary>Show the recovery phrase (whoever has it controls the funds: open only when needed)</summary><pre>{}</pre></details>",
                    esc(&secret)
                );
            }
        }
    }
    let pretty = serde_json::to_string_pretty(&shown).unwrap_or_default();
    format!("<pre>{}</pre>{secrets}", esc(&pretty))
}

/// `2 critical, 0 high, 1 medium, 0 low, 5 info`: always all five, most severe first.
pub fn severity_counts(r: &Report) -> String {
    super::severity_counts_text(&r.findings_by_severity)
}

pub fn render(r: &Report) -> String {
    let m = &r.manifest;
    let mut s = String::new();
    let title = format!(
        "Evidence report — case {} exhibit {}",
        m.case.case_number.as_deref().unwrap_or("(none)"),
        m.case.exhibit.as_deref().unwrap_or("(none)")
    );
    let _ = write!(
        s,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>{}</title><style>{STYLE}</style></head><body>\n",
        esc(&title)
    );
    let _ = writeln!(s, "<h1 id=\"top\">{}</h1>", esc(&title));
    let _ = writeln!(
        s,
        "<p class=\"muted\">Made by {} {} on {} from bundle {}.</p>",
        esc(&m.tool.name),
        esc(&m.tool.version),
        esc(&r.generated_utc),
        esc(r.bundle_name.as_deref().unwrap_or(&m.bundle_id))
    );

    // The one-paragraph answer for a non-specialist, in the words every view uses.
    let words = r.integrity.words();
    let cls = match words.tone {
        super::verdict::Tone::Good => "ok",
        super::verdict::Tone::Caution => "warn",
        super::verdict::Tone::Bad => "bad",
        super::verdict::Tone::Info => "info",
    };
    let _ = writeln!(
        s,
        "<div class=\"banner {cls}\" id=\"integrity\">{}<br><span class=\"detail\">{}</span></div>",
        esc(&words.headline),
        esc(&words.detail)
    );
    if !r.integrity.problems.is_empty() {
        let _ = writeln!(
            s,
            "<ul>{}</ul>",
            r.integrity
                .problems
                .iter()
                .map(|p| format!("<li>{}</li>", esc(p)))
                .collect::<String>()
        );
    }
    let c = &m.counts;
    for w in &r.scope.warnings {
        let _ = writeln!(
            s,
            "<div class=\"banner bad warning\">WARNING — {}</div>",
            esc(w)
        );
    }
    let _ = writeln!(
        s,
        "<p id=\"summary\">{} The collection found <strong>{} finding(s)</strong>{}.</p>",
        esc(&super::scope::summary_sentence(m, &r.scope)),
        r.findings.len(),
        if r.findings.is_empty() {
            String::new()
        } else {
            format!(" ({})", esc(&severity_counts(r)))
        }
    );

    let _ = writeln!(s, "<h2 id=\"case\">Case</h2><table>");
    row(&mut s, "Case number", &o(&m.case.case_number));
    row(&mut s, "Exhibit / evidence number", &o(&m.case.exhibit));
    row(&mut s, "Examiner", &super::scope::examiner(&m.case));
    row(&mut s, "Organisation", &o(&m.case.organisation));
    row(&mut s, "Notes", &o(&m.case.notes));
    let _ = writeln!(s, "</table>");

    let _ = writeln!(s, "<h2 id=\"custody\">Chain of custody</h2><table>");
    row(&mut s, "Bundle ID", &m.bundle_id);
    row(
        &mut s,
        "Status",
        &format!(
            "{}{}",
            m.status,
            m.incomplete_reason
                .as_ref()
                .map(|x| format!(" — {x}"))
                .unwrap_or_default()
        ),
    );
    if let Some(h) = &r.integrity.bundle_sha256 {
        row(&mut s, "Bundle SHA-256", h);
    }
    row(
        &mut s,
        "Signed by (key fingerprint)",
        &format!(
            "{}{}",
            m.signer.fingerprint,
            if m.signer.one_time_key {
                " — one-time key: must match the fingerprint in the responder's notes"
            } else {
                ""
            }
        ),
    );
    row(&mut s, "Signer checked", &words.signer);
    row(&mut s, "Collection start (UTC)", &m.times.start_utc);
    row(&mut s, "Collection end (UTC)", &m.times.end_utc);
    row(
        &mut s,
        "Host local time at start",
        &format!(
            "{} ({}, UTC offset {} s)",
            m.times.start_local, m.times.time_zone, m.times.utc_offset_seconds
        ),
    );
    if let Some(rt) = &m.times.reference {
        row(
            &mut s,
            "Host clock vs. responder's reference",
            &format!(
                "{:+.1} s (reference {} given; host clock {})",
                rt.host_clock_offset_seconds, rt.given, rt.host_clock_at_start_utc
            ),
        );
    }
    row(
        &mut s,
        "Source",
        &format!(
            "{} — {}",
            m.source.resolved_path,
            if m.source.live_system {
                "the running system"
            } else {
                "a mounted folder or image"
            }
        ),
    );
    row(
        &mut s,
        "Host",
        &format!(
            "{} — {} — kernel {} — {}",
            o(&m.host.hostname),
            o(&m.host.os_name),
            o(&m.host.kernel),
            m.host.arch
        ),
    );
    row(&mut s, "Machine ID", &o(&m.host.machine_id));
    row(&mut s, "Run as", &o(&m.host.run_as));
    row(
        &mut s,
        "Tool",
        &format!(
            "{} {} (commit {}, {})",
            m.tool.name, m.tool.version, m.tool.commit, m.tool.target
        ),
    );
    row(
        &mut s,
        "Tool executable SHA-256",
        &o(&m.tool.executable_sha256),
    );
    row(
        &mut s,
        "Profile",
        &format!(
            "{} ({} rules, SHA-256 {}, {})",
            m.profile.name, m.profile.rules, m.profile.sha256, m.profile.origin
        ),
    );
    row(&mut s, "Hash algorithms", &m.hash_algorithms.join(", "));
    row(&mut s, "Command line", &m.command_line.join(" "));
    row(
        &mut s,
        "Method",
        &format!(
            "read-only: {}; access times: {}; symlinks followed: {}; programs of the examined system executed: {}; {}",
            m.method.read_only,
            m.method.noatime,
            m.method.symlinks_followed,
            m.method.executed_programs_of_source,
            m.method.dedup
        ),
    );
    let _ = writeln!(s, "</table>");

    let _ = writeln!(
        s,
        "<h2 id=\"findings\">Findings ({})</h2>",
        r.findings.len()
    );
    if r.unparseable.any() {
        let _ = writeln!(
            s,
            "<div class=\"banner bad\" id=\"unparseable\">Parts of this bundle could not be read ({}): findings or file records may be missing from this report.</div>",
            esc(&r.unparseable.describe())
        );
    }
    if r.findings.is_empty() {
        let _ = writeln!(s, "<p>No findings.</p>");
    }
    // Sorted highest first, so the informational findings are the tail.
    let (warnings, info): (Vec<_>, Vec<_>) = r
        .findings
        .iter()
        .partition(|f| f.severity != crate::finding::Severity::Info);
    for f in &warnings {
        let sev = severity_name(f.severity);
        let _ = writeln!(
            s,
            "<div class=\"finding\"><span class=\"sev sev-{sev}\">{}</span> <strong>{}</strong>\
             <div class=\"muted\">{} · {} · {}</div><table>",
            esc(&sev.to_uppercase()),
            esc(&f.title),
            esc(&f.id),
            esc(&f.analyzer),
            esc(&f.kind)
        );
        row(&mut s, "Path", f.path.as_deref().unwrap_or("—"));
        row(&mut s, "Bundle member", f.member.as_deref().unwrap_or("—"));
        row(&mut s, "SHA-256", f.sha256.as_deref().unwrap_or("—"));
        let _ = writeln!(s, "</table>{}</div>", evidence_html(f));
    }
    if !info.is_empty() {
        let _ = writeln!(
            s,
            "<details id=\"findings-info\"><summary>{} informational finding(s): facts such as every executable recognised, listed for the examiner</summary>\
             <table class=\"compact\"><tr><th>ID</th><th>Kind</th><th>Title</th><th>Path</th><th>SHA-256</th><th>Evidence</th></tr>",
            info.len()
        );
        for f in &info {
            let _ = writeln!(
                s,
                "<tr class=\"info-finding\"><td>{}</td><td><code>{}</code></td><td>{}</td><td><code>{}</code></td><td><code>{}</code></td><td><details><summary>evidence</summary>{}</details></td></tr>",
                esc(&f.id),
                esc(&f.kind),
                esc(&f.title),
                esc(f.path.as_deref().unwrap_or("—")),
                esc(f.sha256.as_deref().unwrap_or("—")),
                evidence_html(f)
            );
        }
        let _ = writeln!(s, "</table></details>");
    }

    if r.live_summary.is_some() || !r.live_members.is_empty() {
        let _ = writeln!(s, "<h2 id=\"live\">Live state</h2>");
        if let Some(live) = &r.live_summary {
            let _ = writeln!(s, "<pre>{}</pre>", esc(live));
        }
        if !r.live_members.is_empty() {
            let _ = writeln!(
                s,
                "<p class=\"muted\">Captured: {}</p>",
                esc(&r.live_members.join(", "))
            );
        }
    }

    let _ = writeln!(
        s,
        "<h2 id=\"timeline\">Timeline of file activity</h2><p>Files by time of last modification (UTC), on a time axis.</p>{}",
        super::chart::render(&r.timeline)
    );

    let _ = writeln!(s, "<h2 id=\"counts\">What was collected</h2><table>");
    row(&mut s, "Profile", &r.scope.profile);
    row(&mut s, "Files", &r.scope.files);
    if let Some(w) = &r.scope.window {
        row(&mut s, "Time window", w);
    }
    row(&mut s, "Completeness", &r.scope.completeness);
    for (k, v) in [
        ("Paths considered", c.considered),
        ("Collected", c.collected),
        ("Identical copies (stored once)", c.duplicate),
        ("Changed while being read (stored as read)", c.changed),
        ("Known-good (hash recorded, not stored)", c.known_good),
        ("Deliberately not collected", c.skipped),
        ("Could not be read", c.error),
        (
            "Unreadable lines in files.jsonl (damaged or altered bundle)",
            r.unparseable.files_jsonl_lines,
        ),
        (
            "Unreadable lines in findings.jsonl (damaged or altered bundle)",
            r.unparseable.findings_jsonl_lines,
        ),
    ] {
        row(&mut s, k, &v.to_string());
    }
    for e in &r.unparseable.read_errors {
        row(&mut s, "Read error", e);
    }
    row(
        &mut s,
        "Bytes read and hashed",
        &format!("{} ({})", c.bytes_read, super::human_bytes(c.bytes_read)),
    );
    row(
        &mut s,
        "Bytes stored",
        &format!(
            "{} ({})",
            c.bytes_stored,
            super::human_bytes(c.bytes_stored)
        ),
    );
    let _ = writeln!(s, "</table>");
    if !r.not_collected.is_empty() {
        let _ = writeln!(
            s,
            "<h3>Reasons</h3><table><tr><th>Status / reason</th><th>Count</th><th>Examples</th></tr>"
        );
        for rc in &r.not_collected {
            let _ = writeln!(
                s,
                "<tr><td><code>{}/{}</code></td><td>{}</td><td>{}</td></tr>",
                esc(&rc.status),
                esc(&rc.reason),
                rc.count,
                rc.examples
                    .iter()
                    .map(|e| format!("<code>{}</code>", esc(e)))
                    .collect::<Vec<_>>()
                    .join("<br>")
            );
        }
        let _ = writeln!(s, "</table>");
    }
    let _ = writeln!(
        s,
        "<h2 id=\"check\">How to check this bundle yourself</h2><p>With sha256sum, unzip and \
         ssh-keygen alone, in the bundle's folder; every command must succeed (in a script, run \
         them with <code>sh -e</code>). A renamed bundle: rename its .sha256 and .sig with it \
         and set <code>B</code> to the new name.</p><pre id=\"recipe\">{}</pre>",
        esc(&super::recipe::for_report(r))
    );
    s.push_str("</body></html>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn everything_is_escaped() {
        assert_eq!(
            esc("<script>alert('x')</script>&\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&quot;"
        );
    }
}
