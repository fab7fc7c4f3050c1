//! The HTML report on paper: Chromium's own print-to-PDF (`chromium --headless
//! --print-to-pdf`), read back with poppler's `pdftotext`, holds the verdict headline, the
//! severity counts critical → info, the timeline's tick labels and the sentence naming
//! the files left off the time axis (1970, before 1980, after the collection) — nothing
//! the reader would have to hover for. The files have known modification times
//! (`touch -d`), so every label is exact; the bars' positions in the SVG are checked to be
//! linear in time.
//!
//! Needs: chromium, poppler-utils (pdftotext), openssh-client (ssh-keygen -lf).

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::*;

/// pdftotext breaks lines wherever the page wrapped the text (inside a long path too):
/// the comparisons are made with all whitespace removed.
fn squash(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect()
}

fn touch(path: &Path, when: &str, content: &str) {
    std::fs::write(path, content).unwrap();
    let r = Command::new("touch")
        .arg("-d")
        .arg(when)
        .arg(path)
        .status()
        .unwrap();
    assert!(r.success(), "touch -d {when}");
}

#[test]
fn the_printed_pdf_has_the_verdict_severity_order_tick_labels_and_the_outliers() {
    require_tool("chromium", "chromium");
    require_tool("pdftotext", "poppler-utils");
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("src");
    std::fs::create_dir_all(src.join("docs")).unwrap();
    std::fs::create_dir_all(src.join("tmp/.x")).unwrap();
    // Drawn: four files over 67 days (one bar per day, a tick every 7 days).
    touch(&src.join("docs/a.txt"), "2026-09-15T10:00:00Z", "a");
    touch(&src.join("docs/b.txt"), "2026-10-02T10:00:00Z", "b");
    touch(&src.join("docs/c.txt"), "2026-10-02T11:00:00Z", "c");
    touch(&src.join("docs/d.txt"), "2026-11-20T10:00:00Z", "d");
    // Not drawn: epoch 0 twice, 1975, and a time after the collection.
    touch(&src.join("docs/zero1"), "@0", "z1");
    touch(&src.join("docs/zero2"), "@0", "z2");
    touch(&src.join("docs/old.txt"), "1975-06-01T00:00:00Z", "o");
    touch(&src.join("docs/future.txt"), "2099-01-01T00:00:00Z", "f");
    // One high finding (an ELF under a hidden name in tmp) and its info record.
    std::fs::copy("/usr/bin/true", src.join("tmp/.x/.helper")).unwrap();
    let r = Command::new("touch")
        .args(["-d", "2026-10-02T12:00:00Z"])
        .arg(src.join("tmp/.x/.helper"))
        .status()
        .unwrap();
    assert!(r.success());

    // No --examiner: the page must not print "by — (—)".
    let (r, bundle) = collect(&src, &t.path().join("out"), &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let html = t.path().join("report.html");
    let r = run(&[
        "report",
        bundle.to_str().unwrap(),
        "--format",
        "html",
        "--out",
        html.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("@media print{"), "a print stylesheet");

    // Bars linear in time: the axis runs 2026-09-15 .. 2026-11-21 (67 days) over the
    // 804 px from x = 56, so a day d days in starts at 56 + 804·d/67.
    let xs: Vec<String> = page
        .match_indices("<rect x=\"")
        .map(|(i, m)| {
            page[i + m.len()..]
                .split('"')
                .next()
                .unwrap_or("")
                .to_string()
        })
        .collect();
    let want: Vec<String> = [0.0f64, 17.0, 66.0]
        .iter()
        .map(|d| format!("{:.1}", 56.0 + 804.0 * d / 67.0))
        .collect();
    assert_eq!(xs, want, "bars at 09-15, 10-02 and 11-20");
    // Each bar's count is printed over it, not only in its hover title.
    for n in ["1", "3", "1"] {
        assert!(
            page.contains(&format!("class=\"count\">{n}</text>")),
            "count {n}"
        );
    }
    assert_eq!(page.matches("class=\"count\"").count(), 3);

    let pdf = t.path().join("report.pdf");
    let mut cmd = Command::new("chromium");
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-pdf-header-footer",
    ])
    .arg(format!(
        "--user-data-dir={}",
        t.path().join("chromium-profile").display()
    ))
    .arg(format!("--print-to-pdf={}", pdf.display()))
    .arg(format!("file://{}", html.display()));
    let out = run_with_timeout(cmd, Duration::from_secs(120));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let text = Command::new("pdftotext")
        .arg(&pdf)
        .arg("-")
        .output()
        .expect("pdftotext");
    assert!(text.status.success());
    let text = String::from_utf8_lossy(&text.stdout).into_owned();
    let flat = squash(&text);
    let has = |want: &str| {
        assert!(
            flat.contains(&squash(want)),
            "the PDF text lacks {want:?}:\n{text}"
        )
    };

    // The verdict headline, with the fingerprint ssh-keygen computes from signer.pub.
    let pubkey = t.path().join("signer.pub");
    std::fs::write(&pubkey, member(&bundle, "signer.pub")).unwrap();
    let fp = sh(&format!("ssh-keygen -lf {}", pubkey.display()));
    assert_eq!(fp.code, 0, "{}", fp.stderr);
    let fp = fp.stdout.split_whitespace().nth(1).unwrap().to_string();
    has(&format!(
        "INTACT — signer not checked: compare {fp} with the paper log"
    ));
    // Severity counts, most severe first; no examiner invented.
    has("The collection found 2 finding(s) (0 critical, 1 high, 0 medium, 0 low, 1 info).");
    has("(no examiner recorded)");
    assert!(!flat.contains("—(—)"), "{text}");
    // The time axis: ticks every 7 days as text, and what was drawn.
    for tick in [
        "2026-09-19",
        "2026-09-26",
        "2026-10-03",
        "2026-10-10",
        "2026-10-17",
        "2026-10-24",
        "2026-10-31",
        "2026-11-07",
        "2026-11-14",
        "2026-11-21",
        "files per day",
        "last modification (UTC)",
    ] {
        has(tick);
    }
    has(
        "Drawn: 5 files modified from 2026-09-15 to 2026-11-20 (UTC), one bar per day. \
         Busiest: 2026-10-02 (3 files), 2026-09-15 (1 file), 2026-11-20 (1 file).",
    );
    let docs = src.join("docs");
    let d = docs.display();
    has(&format!(
        "2 files dated 1970-01-01, 1 file dated before 1980-01-01 and 1 file dated after the \
         collection are not drawn, so as not to stretch the time axis: \
         {d}/zero1 (1970-01-01 00:00:00 UTC), {d}/zero2 (1970-01-01 00:00:00 UTC); \
         {d}/old.txt (1975-06-01 00:00:00 UTC); {d}/future.txt (2099-01-01 00:00:00 UTC)."
    ));
    // 1970 is only in that sentence: not an axis label stretching the chart.
    assert_eq!(flat.matches("1970-01-01").count(), 3, "{text}");
    // The high finding's card prints its severity and title.
    has("HIGH Executable with a hidden name in a temporary directory (.x)");
}
