//! Issue 12 items 3, 4, 5: every view says exactly what was collected and warns where a
//! responder must be stopped. An interrupted (SIGINT) bundle is complete and valid up to
//! the interruption — never "altered", never "a incomplete copy" — in verify, the text,
//! JSON and HTML reports (the page as Chromium shows it); incomplete and signed by another
//! key exits 5. A triage profile is named with its rules, the skip reasons are counted
//! (symlinks), and the `--since` window is named wherever the counts are. An empty source
//! exits 6 with a warning and a manifest flag; a clock 9 days off `--reference-time` is a
//! warning and a finding; `--threads 0` means auto.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::*;

fn text_report(bundle: &Path, extra: &[&str]) -> Run {
    let mut cmd = fieldkit();
    cmd.arg("report").arg(bundle).args(extra);
    run_with_timeout(cmd, Duration::from_secs(120))
}

/// The page as Chromium renders it (tests/html/check-report.mjs): banner and visible text.
fn rendered(html: &Path, dir: &Path) -> serde_json::Value {
    require_tool("chromium", "chromium");
    require_tool("node", "nodejs");
    let here = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/html");
    assert!(
        here.join("node_modules/playwright-core").exists(),
        "run `npm ci --prefix tests/html` first (.ci/run does)"
    );
    let mut cmd = std::process::Command::new("node");
    cmd.arg(here.join("check-report.mjs"))
        .arg(html)
        .arg(dir.join("shot.png"));
    let r = run_with_timeout(cmd, Duration::from_secs(120));
    assert_eq!(r.code, 0, "{}", r.stderr);
    r.json()
}

/// A run stopped by SIGINT right after it created its .part file.
fn interrupted_bundle(dir: &Path) -> PathBuf {
    let src = dir.join("src");
    let out = dir.join("out");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::create_dir(&out).unwrap();
    write_random(&src.join("a_big.bin"), 300 << 20, 7);
    for i in 0..5 {
        std::fs::write(src.join(format!("z_{i}.txt")), format!("later {i}")).unwrap();
    }
    let mut child = fieldkit()
        .args([
            "collect",
            "--json",
            "--no-live",
            "--threads",
            "1",
            "--source",
        ])
        .arg(&src)
        .arg("--out")
        .arg(&out)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_part(&out, Duration::from_secs(60));
    sh(&format!("kill -INT {}", child.id()));
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while child.try_wait().unwrap().is_none() {
        assert!(std::time::Instant::now() < deadline, "collect did not stop");
        std::thread::sleep(Duration::from_millis(20));
    }
    let r = finish(child.wait_with_output().unwrap());
    assert_eq!(r.code, 4, "exit 4 = incomplete\n{}\n{}", r.stdout, r.stderr);
    let s = r.json();
    assert!(
        s["scope"]["completeness"]
            .as_str()
            .unwrap()
            .starts_with("INTERRUPTED (interrupted by signal"),
        "{s}"
    );
    PathBuf::from(s["bundle"].as_str().unwrap())
}

#[test]
fn an_interrupted_bundle_is_valid_up_to_the_interruption_in_every_view() {
    let t = tempfile::tempdir().unwrap();
    let bundle = interrupted_bundle(t.path());
    // How far the walk got depends on the moment of the signal; the records say.
    let listed = records(&bundle)
        .iter()
        .filter(|r| r["reason"] == "interrupted")
        .count();
    let completeness = format!(
        "INTERRUPTED ({}): the bundle is complete and valid up to the interruption; not \
         reached: {listed} path(s) listed but not read (recorded as interrupted)",
        manifest(&bundle)["incomplete_reason"].as_str().unwrap()
    );

    let v = verify(&bundle, &[]);
    assert_eq!(v.code, 4, "{}", v.stdout);
    assert!(
        v.stdout.starts_with("INTACT BUT INCOMPLETE — "),
        "{}",
        v.stdout
    );

    // Incomplete and signed by another key: who signed comes first (README, exit 5).
    let other = t.path().join("other");
    sh(&format!(
        "ssh-keygen -q -t ed25519 -N '' -f {}",
        other.display()
    ));
    let fp = sh(&format!("ssh-keygen -lf {}.pub", other.display()));
    let fp = fp.stdout.split_whitespace().nth(1).unwrap().to_string();
    let wrong = verify(&bundle, &["--fingerprint", &fp]);
    assert_eq!(wrong.code, 5, "{}", wrong.stdout);
    assert!(
        wrong
            .stdout
            .starts_with("INTACT BUT NOT SIGNED BY THE KEY YOU TRUST — "),
        "{}",
        wrong.stdout
    );
    let wrong_report = text_report(&bundle, &["--fingerprint", &fp]);
    assert_eq!(wrong_report.code, 5, "{}", wrong_report.stderr);

    let text = text_report(&bundle, &[]);
    assert_eq!(text.code, 0, "{}", text.stderr);
    let line = text
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("Completeness   "))
        .unwrap_or_else(|| panic!("{}", text.stdout));
    assert_eq!(line, completeness);
    let json = text_report(&bundle, &["--format", "json"]).json();
    assert_eq!(json["scope"]["completeness"], completeness.as_str());
    let csv = text_report(&bundle, &["--format", "csv"]);
    assert!(csv.stderr.contains(&completeness), "{}", csv.stderr);

    let html = t.path().join("r.html");
    let r = text_report(
        &bundle,
        &["--format", "html", "--out", html.to_str().unwrap()],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let source = std::fs::read_to_string(&html).unwrap();
    assert!(source.contains("<div class=\"banner warn\" id=\"integrity\">"));
    let page = rendered(&html, t.path());
    let shown = page["visibleText"].as_str().unwrap();
    assert!(
        page["banner"]
            .as_str()
            .unwrap()
            .starts_with("INTACT BUT INCOMPLETE — "),
        "{}",
        page["banner"]
    );
    assert!(shown.contains(&completeness), "{shown}");
    assert!(shown.contains("(no examiner recorded)"), "{shown}");
    // The report sealed inside the bundle says the same, before verification.
    let inside = String::from_utf8(member(&bundle, "report.html")).unwrap();
    assert!(
        inside.contains("the bundle is complete up to the interruption (verify it before"),
        "{inside}"
    );
    for view in [&text.stdout, &source, &inside, &shown.to_string()] {
        for never in [
            "may have been altered",
            "has been altered",
            "INVALID",
            "a incomplete",
            "<em>incomplete</em> copy",
            "copy was taken",
            "by — (—)",
        ] {
            assert!(!view.contains(never), "{never:?} in\n{view}");
        }
    }
}

/// A small system tree for linux-triage: logs, ssh config, a history, three symlinks.
fn triage_tree(dir: &Path) -> PathBuf {
    let src = dir.join("root");
    for d in ["etc/ssh", "var/log", "home/anna", "srv/data"] {
        std::fs::create_dir_all(src.join(d)).unwrap();
    }
    std::fs::write(src.join("etc/ssh/sshd_config"), "Port 22\n").unwrap();
    std::fs::write(src.join("var/log/syslog"), "boot\n").unwrap();
    std::fs::write(src.join("var/log/old.log"), "old\n").unwrap();
    std::fs::write(src.join("home/anna/.bash_history"), "ls\n").unwrap();
    std::fs::write(src.join("srv/data/not-in-profile.txt"), "x").unwrap();
    for i in 0..3 {
        std::os::unix::fs::symlink("/etc/hosts", src.join(format!("var/log/link{i}"))).unwrap();
    }
    sh(&format!(
        "touch -d 2020-01-01T00:00:00Z {}",
        src.join("var/log/old.log").display()
    ));
    src
}

#[test]
fn a_triage_collection_names_its_profile_skip_reasons_and_window_everywhere() {
    let t = tempfile::tempdir().unwrap();
    let src = triage_tree(t.path());
    let out = t.path().join("out");
    let mut cmd = fieldkit();
    cmd.args([
        "collect",
        "--no-live",
        "--profile",
        "linux-triage",
        "--source",
    ])
    .arg(&src)
    .arg("--out")
    .arg(&out)
    .args(["--since", "2026-01-01T00:00:00Z", "--threads", "0"]);
    let r = run_with_timeout(cmd, Duration::from_secs(120));
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let field = |label: &str| -> String {
        r.stdout
            .lines()
            .find_map(|l| l.strip_prefix(&format!("  {label:<14}")))
            .unwrap_or_else(|| panic!("no {label} line in:\n{}", r.stdout))
            .to_string()
    };
    let profile = "linux-triage (10 rules, builtin)";
    let files = "4 collected, 0 duplicate, 0 changed while read, 3 skipped (3 symlink), 0 \
                 errors, 0 locked (7 considered)";
    let window = "--since 2026-01-01T00:00:00Z (no end): every file was collected as the \
                  profile says; files.jsonl marks which lie inside the window";
    assert_eq!(field("Profile"), profile);
    assert_eq!(field("Files"), files);
    assert_eq!(field("Window"), window);
    let bundle = PathBuf::from(field("Bundle"));
    // --threads 0 is auto: the number of CPUs, recorded.
    let cpus: u64 = sh("nproc").stdout.trim().parse().unwrap();
    assert_eq!(manifest(&bundle)["method"]["threads"], cpus);

    let text = text_report(&bundle, &[]);
    assert_eq!(text.code, 0, "{}", text.stderr);
    let tf = |label: &str| -> String {
        text.stdout
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{label:<15}")))
            .unwrap_or_else(|| panic!("no {label} in\n{}", text.stdout))
            .to_string()
    };
    assert!(tf("Profile").starts_with(&format!("{profile} (SHA-256 ")));
    assert_eq!(tf("Files"), files);
    assert_eq!(tf("Window"), window);
    let json = text_report(&bundle, &["--format", "json"]).json();
    assert_eq!(json["scope"]["profile"], profile);
    assert_eq!(json["scope"]["files"], files);
    assert_eq!(json["scope"]["window"], window);
    let csv = text_report(&bundle, &["--format", "csv"]);
    assert!(csv.stderr.contains(files) && csv.stderr.contains(window));

    let html = t.path().join("r.html");
    let h = text_report(
        &bundle,
        &["--format", "html", "--out", html.to_str().unwrap()],
    );
    assert_eq!(h.code, 0, "{}", h.stderr);
    let page = rendered(&html, t.path());
    let shown = page["visibleText"].as_str().unwrap();
    let summary = format!(
        "fieldkit collected from {} on the computer",
        src.canonicalize().unwrap().display()
    );
    for want in [
        summary.as_str(),
        &format!("with profile {profile}. Files: {files}. Time window: {window}."),
        "Completeness: the run finished: every path the profile selected was considered.",
    ] {
        assert!(shown.contains(want), "{want:?} not in\n{shown}");
    }
    assert!(!shown.contains("copy was taken"), "{shown}");
}

#[test]
fn an_empty_source_and_a_wrong_clock_are_loud() {
    let t = tempfile::tempdir().unwrap();
    let empty = t.path().join("mnt");
    std::fs::create_dir(&empty).unwrap();
    let out = t.path().join("out");
    // Nine days off: the reference is 9 days before the host's clock.
    let reference = sh("date -u -d '9 days ago' +%Y-%m-%dT%H:%M:%SZ")
        .stdout
        .trim()
        .to_string();
    let mut cmd = fieldkit();
    cmd.args(["collect", "--no-live", "--source"])
        .arg(&empty)
        .arg("--out")
        .arg(&out)
        .args(["--reference-time", &reference]);
    let r = run_with_timeout(cmd, Duration::from_secs(120));
    assert_eq!(
        r.code, 6,
        "exit 6 = empty source\n{}\n{}",
        r.stdout, r.stderr
    );
    let empty_warning = format!(
        "EMPTY SOURCE: {} is an empty folder — nothing was collected.",
        empty.canonicalize().unwrap().display()
    );
    assert!(
        r.stdout
            .contains("fieldkit collect: COMPLETE — NOTHING COLLECTED: EMPTY SOURCE (exit 6)\n"),
        "the headline itself must not read as a plain success\n{}",
        r.stdout
    );
    for out in [&r.stdout, &r.stderr] {
        assert!(out.contains(&empty_warning), "{out}");
        assert!(out.contains("CLOCK: the host clock was 9 d 0 h "), "{out}");
    }
    let bundle = PathBuf::from(
        r.stdout
            .lines()
            .find_map(|l| l.strip_prefix("  Bundle        "))
            .unwrap(),
    );
    let m = manifest(&bundle);
    assert_eq!(m["source_empty"], "empty folder");
    assert_eq!(m["status"], "complete");
    // The bundle itself is sound: it records the attempt.
    assert_eq!(verify(&bundle, &[]).code, 0);
    let findings: Vec<serde_json::Value> = String::from_utf8(member(&bundle, "findings.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert_eq!(findings[0]["kind"], "clock.offset");
    assert_eq!(findings[0]["severity"], "medium");
    assert_eq!(findings[0]["evidence"]["threshold_seconds"], 120.0);
    let off = findings[0]["evidence"]["host_clock_offset_seconds"]
        .as_f64()
        .unwrap();
    assert!((off - 9.0 * 86_400.0).abs() < 120.0, "{off}");
    let text = text_report(&bundle, &[]);
    assert!(
        text.stdout
            .contains(&format!("WARNING        {empty_warning}")),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout.contains("WARNING        CLOCK: "),
        "{}",
        text.stdout
    );

    // A folder with files the profile does not select: the same exit, its own words.
    let other = t.path().join("data");
    std::fs::create_dir(&other).unwrap();
    std::fs::write(other.join("notes.txt"), "x").unwrap();
    let now = sh("date -u +%Y-%m-%dT%H:%M:%SZ").stdout.trim().to_string();
    let (r, bundle) = collect(
        &other,
        &out,
        &[
            "--no-live",
            "--profile",
            "linux-triage",
            "--reference-time",
            &now,
        ],
    );
    assert_eq!(r.code, 6, "{}", r.stderr);
    assert_eq!(manifest(&bundle)["source_empty"], "nothing selected");
    assert!(
        r.stderr
            .contains("NOTHING COLLECTED: profile linux-triage selected no path under"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("CLOCK"), "{}", r.stderr);
}
