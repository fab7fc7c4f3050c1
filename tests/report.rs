//! `fieldkit report` in every format, and the HTML report as a browser shows it: opened
//! in headless Chromium (Debian's) through playwright-core, screenshotted, checked for its
//! sections, and proven to make no request besides loading itself.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::*;

fn bundle_with_variety(dir: &Path) -> PathBuf {
    let src = dir.join("src");
    std::fs::create_dir_all(src.join("docs")).unwrap();
    std::fs::write(src.join("docs/a.txt"), b"a").unwrap();
    // Same bytes as a.txt: one of the two is stored, the other a duplicate, and which
    // one depends on which worker thread gets there first.
    std::fs::write(src.join("docs/b.txt"), b"a").unwrap();
    std::fs::write(src.join("docs/unique.txt"), b"only here").unwrap();
    // A hostile name on a special file: it shows in the report's reasons table.
    sh(&format!(
        "mkfifo '{}/docs/<img src=x onerror=alert(1)>.txt'",
        src.display()
    ));
    sh(&format!(
        "mkfifo {}/pipe && touch -d 2024-05-01T10:00:00Z {}/docs/a.txt",
        src.display(),
        src.display()
    ));
    let (r, bundle) = collect(
        &src,
        &dir.join("out"),
        &[
            "--case",
            "R-9",
            "--exhibit",
            "E1",
            "--examiner",
            "Anna <anna@lab>",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    bundle
}

#[test]
fn text_json_and_csv_reports_carry_the_case_counts_and_reasons() {
    let t = tempfile::tempdir().unwrap();
    let bundle = bundle_with_variety(t.path());
    let b = bundle.to_str().unwrap();
    let text = run(&["report", b]);
    assert_eq!(text.code, 0, "{}", text.stderr);
    assert!(
        text.stdout.contains("Integrity      VALID"),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout.contains("Case           R-9   Exhibit E1"),
        "{}",
        text.stdout
    );
    assert!(text.stdout.contains("skipped/fifo"), "{}", text.stdout);
    let json = run(&["report", b, "--format", "json"]);
    let v = json.json();
    assert_eq!(v["manifest"]["case"]["case_number"], "R-9");
    assert_eq!(v["integrity"]["verdict"], "valid");
    assert_eq!(v["not_collected"][0]["reason"], "fifo");
    assert_eq!(v["timeline"]["mtime_per_day"]["2024-05-01"], 1);
    let csv = run(&["report", b, "--format", "csv"]);
    assert!(
        csv.stdout
            .starts_with("id,severity,analyzer,kind,title,path,member,sha256,evidence\n")
    );
    // A tampered bundle's report says so and exits non-zero. The flipped member is one
    // whose content no other file shares, so it is stored under its own name in every run.
    let tampered = t.path().join("tampered.zip");
    std::fs::copy(&bundle, &tampered).unwrap();
    assert_eq!(
        zipedit(&[
            "flip",
            tampered.to_str().unwrap(),
            "files/docs/unique.txt",
            "0"
        ])
        .code,
        0
    );
    let bad = run(&["report", tampered.to_str().unwrap()]);
    assert_eq!(bad.code, 1);
    assert!(
        bad.stdout.contains("Integrity      INVALID"),
        "{}",
        bad.stdout
    );
    // --out never overwrites.
    let out = t.path().join("r.txt");
    assert_eq!(run(&["report", b, "--out", out.to_str().unwrap()]).code, 0);
    let again = run(&["report", b, "--out", out.to_str().unwrap()]);
    assert_eq!(again.code, 2);
}

#[test]
fn the_html_report_renders_offline_in_chromium_with_every_section_and_no_request() {
    require_tool("chromium", "chromium");
    require_tool("node", "nodejs");
    let here = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/html");
    assert!(
        here.join("node_modules/playwright-core").exists(),
        "run `npm ci --prefix tests/html` first (.ci/run does)"
    );
    let t = tempfile::tempdir().unwrap();
    let bundle = bundle_with_variety(t.path());
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
    let text = std::fs::read_to_string(&html).unwrap();
    assert!(
        !text.contains("<img src=x"),
        "hostile file names are escaped"
    );
    assert!(text.contains("&lt;img src=x onerror=alert(1)&gt;.txt"));
    assert!(text.contains("Anna &lt;anna@lab&gt;"));
    let shot = t.path().join("report.png");
    let mut cmd = std::process::Command::new("node");
    cmd.arg(here.join("check-report.mjs")).arg(&html).arg(&shot);
    let out = run_with_timeout(cmd, Duration::from_secs(120));
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let v: serde_json::Value = serde_json::from_str(out.stdout.trim()).unwrap();
    let url = v["url"].as_str().unwrap();
    assert_eq!(
        v["requests"],
        serde_json::json!([url]),
        "the page requested something else: {v}"
    );
    for id in [
        "integrity",
        "summary",
        "case",
        "custody",
        "findings",
        "timeline",
        "counts",
        "check",
    ] {
        assert!(
            v["sections"].as_array().unwrap().iter().any(|s| s == id),
            "section {id} missing: {v}"
        );
    }
    assert!(
        v["banner"]
            .as_str()
            .unwrap()
            .starts_with("The bundle was verified"),
        "{v}"
    );
    assert_eq!(v["scripts"], 0);
    assert!(v["svgBars"].as_u64().unwrap() >= 2, "timeline bars: {v}");
    assert_eq!(v["consoleErrors"], serde_json::json!([]));
    let png = std::fs::read(&shot).unwrap();
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 20_000,
        "screenshot of {} bytes",
        png.len()
    );
    // The copy sealed inside the bundle is a self-contained page as well.
    let inner = t.path().join("inner.html");
    std::fs::write(&inner, member(&bundle, "report.html")).unwrap();
    let mut cmd = std::process::Command::new("node");
    cmd.arg(here.join("check-report.mjs"))
        .arg(&inner)
        .arg(t.path().join("inner.png"));
    let out = run_with_timeout(cmd, Duration::from_secs(120));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v: serde_json::Value = serde_json::from_str(out.stdout.trim()).unwrap();
    assert_eq!(v["requests"].as_array().unwrap().len(), 1, "{v}");
    assert!(
        v["banner"]
            .as_str()
            .unwrap()
            .contains("sealed inside the bundle"),
        "{v}"
    );
}
