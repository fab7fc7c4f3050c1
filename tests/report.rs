//! `fieldkit report` in every format, and the HTML report as a browser shows it: opened
//! in headless Chromium (Debian's) through playwright-core, screenshotted, checked for its
//! sections and its severity-sorted findings, and proven to make no request besides
//! loading itself. The bundle carries findings of every severity made from real
//! artifacts (an ELF disguised as a photo, one in tmp/, a BIP39 reference vector, a LUKS
//! header from cryptsetup, a plain Bitwarden export, an unverified address).

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::*;

/// BIP39 reference vector (trezor/python-mnemonic vectors.json, tests/data): its words
/// must reach findings.jsonl and never the open page or the terminal.
const MNEMONIC: &str =
    "legal winner thank year wave sausage worth useful legal winner thank yellow";

/// Severity names, highest first.
const SEVERITIES: [&str; 5] = ["critical", "high", "medium", "low", "info"];

fn findings_of(bundle: &Path) -> Vec<serde_json::Value> {
    String::from_utf8(member(bundle, "findings.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn bundle_with_variety(dir: &Path) -> PathBuf {
    let src = dir.join("src");
    std::fs::create_dir_all(src.join("docs")).unwrap();
    // Findings of every severity, from real artifacts.
    std::fs::create_dir_all(src.join("tmp")).unwrap();
    std::fs::create_dir_all(src.join("home/anna/Pictures")).unwrap();
    std::fs::copy("/usr/bin/true", src.join("tmp/dropper")).unwrap();
    std::fs::copy("/usr/bin/true", src.join("home/anna/Pictures/holiday.jpg")).unwrap();
    std::fs::write(
        src.join("home/anna/backup.txt"),
        format!("my wallet words:\n{MNEMONIC}\n"),
    )
    .unwrap();
    std::fs::write(
        src.join("home/anna/export.csv"),
        "folder,favorite,type,name,notes,fields,reprompt,login_uri,login_username,login_password,login_totp\n\
         ,,login,bank,,,0,https://bank.example,anna,hunter2,\n",
    )
    .unwrap();
    std::fs::write(
        src.join("home/anna/pay.txt"),
        "send to 0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed\n",
    )
    .unwrap();
    let luks = src.join("home/anna/disk.img");
    std::fs::File::create(&luks)
        .and_then(|f| f.set_len(16 << 20))
        .unwrap();
    std::fs::write(dir.join("luks.key"), b"correct horse battery staple").unwrap();
    sh(&format!(
        "cryptsetup luksFormat --batch-mode --type luks2 --pbkdf pbkdf2 --pbkdf-force-iterations 1000 --key-file {} {}",
        dir.join("luks.key").display(),
        luks.display()
    ));
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
    let severities: Vec<String> = findings_of(&bundle)
        .iter()
        .map(|f| f["severity"].as_str().unwrap().to_string())
        .collect();
    for want in SEVERITIES {
        assert!(
            severities.iter().any(|s| s == want),
            "no {want} finding in {severities:?}"
        );
    }
    bundle
}

/// CSV rows parsed with Python's csv module (an independent RFC 4180 reader).
fn csv_rows(csv: &str, dir: &Path) -> Vec<Vec<String>> {
    let file = dir.join("rows.csv");
    std::fs::write(&file, csv).unwrap();
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            "import csv, json, sys; print(json.dumps(list(csv.reader(open(sys.argv[1], newline='')))))",
        ])
        .arg(&file)
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::remove_file(&file).unwrap();
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn text_json_and_csv_reports_carry_the_case_counts_and_reasons() {
    let t = tempfile::tempdir().unwrap();
    let bundle = bundle_with_variety(t.path());
    let b = bundle.to_str().unwrap();
    let text = run(&["report", b]);
    assert_eq!(text.code, 0, "{}", text.stderr);
    assert!(
        text.stdout
            .contains("Integrity      INTACT — signer not checked: compare SHA256:"),
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
    assert!(
        text.stdout
            .contains("Unreadable     0 line(s) of files.jsonl, 0 of findings.jsonl\n"),
        "{}",
        text.stdout
    );
    assert!(
        !text.stdout.contains("sausage"),
        "seed words in the text report"
    );
    assert_eq!(v["unparseable"]["files_jsonl_lines"], 0);
    assert_eq!(v["unparseable"]["findings_jsonl_lines"], 0);
    // CSV: one row per finding, in the report's severity order, each row matching its
    // finding in findings.jsonl field by field.
    let csv = run(&["report", b, "--format", "csv"]);
    assert!(
        csv.stdout
            .starts_with("id,severity,analyzer,kind,title,path,member,sha256,evidence\n")
    );
    let rows = csv_rows(&csv.stdout, t.path());
    let findings = findings_of(&bundle);
    assert_eq!(
        rows.len(),
        findings.len() + 1,
        "header + one row per finding"
    );
    let rank = |s: &str| SEVERITIES.iter().position(|x| *x == s).unwrap();
    for pair in rows[1..].windows(2) {
        assert!(
            rank(&pair[0][1]) <= rank(&pair[1][1]),
            "{pair:?} out of order"
        );
    }
    for row in &rows[1..] {
        assert_eq!(row.len(), 9, "{row:?}");
        let f = findings
            .iter()
            .find(|f| f["id"] == row[0].as_str())
            .unwrap();
        assert_eq!(row[1], f["severity"].as_str().unwrap());
        assert_eq!(row[2], f["analyzer"].as_str().unwrap());
        assert_eq!(row[3], f["kind"].as_str().unwrap());
        assert_eq!(row[4], f["title"].as_str().unwrap());
        assert_eq!(row[5], f["path"].as_str().unwrap_or(""));
        assert_eq!(row[6], f["member"].as_str().unwrap_or(""));
        assert_eq!(row[7], f["sha256"].as_str().unwrap_or(""));
        let evidence: serde_json::Value = serde_json::from_str(&row[8]).unwrap();
        assert_eq!(evidence, f["evidence"]);
    }
    let seed_row = rows.iter().find(|r| r[3] == "crypto.seed_phrase").unwrap();
    assert_eq!(seed_row[1], "high");
    assert!(!seed_row[4].contains("sausage"), "seed words in a title");
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
    // Every section, in reading order.
    let sections: Vec<&str> = v["sections"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s.as_str())
        .collect();
    let order = [
        "integrity",
        "summary",
        "case",
        "custody",
        "findings",
        "findings-info",
        "timeline",
        "counts",
        "check",
    ];
    let positions: Vec<usize> = order
        .iter()
        .map(|id| {
            sections
                .iter()
                .position(|s| s == id)
                .unwrap_or_else(|| panic!("section {id} missing: {sections:?}"))
        })
        .collect();
    assert!(
        positions.windows(2).all(|w| w[0] < w[1]),
        "sections out of order: {sections:?}"
    );
    // Findings: a card per warning, highest severity first, then every informational
    // finding as a row of the closed compact table; all of them, none twice.
    let findings = findings_of(&bundle);
    let cards: Vec<String> = v["cardSeverities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_lowercase())
        .collect();
    let rank = |s: &str| SEVERITIES.iter().position(|x| *x == s).unwrap();
    assert!(
        cards.windows(2).all(|w| rank(&w[0]) <= rank(&w[1])),
        "cards not sorted by severity: {cards:?}"
    );
    for want in ["critical", "high", "medium", "low"] {
        assert!(cards.iter().any(|c| c == want), "no {want} card: {cards:?}");
    }
    assert!(!cards.iter().any(|c| c == "info"), "{cards:?}");
    let info = findings.iter().filter(|f| f["severity"] == "info").count();
    assert!(info > 0);
    assert_eq!(v["infoRows"], info, "{v}");
    assert_eq!(cards.len() + info, findings.len());
    assert_eq!(
        v["infoOpen"],
        serde_json::json!([false]),
        "info table starts closed"
    );
    // The seed words are evidence in the bundle; the page holds them only in a closed
    // box (docs/triage.md, "Reports"): not on screen until the examiner opens it.
    let seed = findings
        .iter()
        .find(|f| f["kind"] == "crypto.seed_phrase")
        .unwrap();
    assert_eq!(seed["evidence"]["phrase"], MNEMONIC);
    assert!(
        text.contains(MNEMONIC),
        "the phrase is in the page's evidence"
    );
    assert_eq!(v["secrets"], serde_json::json!([false]));
    let visible = v["visibleText"].as_str().unwrap();
    for word in ["sausage", "useful", "yellow"] {
        assert!(
            !visible.contains(word),
            "seed word {word} visible on the page"
        );
    }
    assert!(visible.contains("BIP39 recovery phrase (12 words, checksum valid)"));
    assert!(v["revealedText"].as_str().unwrap().contains(MNEMONIC));
    // No trust anchor given: the banner says the bundle is intact and that the signer was
    // not checked; it never claims more.
    let banner = v["banner"].as_str().unwrap();
    assert!(
        banner.starts_with("INTACT — signer not checked: compare SHA256:"),
        "{v}"
    );
    assert!(banner.contains("with the paper log"), "{v}");
    assert!(!banner.contains("since it was collected"), "{v}");
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

#[test]
fn a_damaged_bundle_with_hostile_names_shows_what_was_unreadable_and_csv_stays_inert() {
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("src");
    std::fs::create_dir_all(src.join("tmp")).unwrap();
    std::fs::copy("/usr/bin/true", src.join("tmp/x")).unwrap();
    let (r, bundle) = collect(&src, &t.path().join("out"), &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // An altered bundle: findings whose path and title start like spreadsheet formulas,
    // a line that is not a finding, a cut-off line; files.jsonl gains a garbage line.
    let mut findings = String::from_utf8(member(&bundle, "findings.jsonl")).unwrap();
    let hostile = [
        "=HYPERLINK(\"http://evil.example\",\"open\")",
        "+1+cmd|' /C calc'!A0",
        "-2+3",
        "@SUM(1+1)*cmd|' /C calc'!A0",
        "\t=2+2",
        "\r=3+3",
    ];
    for (i, h) in hostile.iter().enumerate() {
        let f = serde_json::json!({
            "id": format!("H{i}"), "analyzer": "executable", "kind": "exe.identified",
            "severity": "info", "path": h, "title": h, "evidence": {},
        });
        findings.push_str(&format!("{f}\n"));
    }
    findings.push_str("this is not JSON\n{\"id\": \"cut\", \"analyzer\": \"exe\n");
    let mut files = String::from_utf8(member(&bundle, "files.jsonl")).unwrap();
    files.push_str("garbage\n");
    std::fs::write(t.path().join("findings.jsonl"), &findings).unwrap();
    std::fs::write(t.path().join("files.jsonl"), &files).unwrap();
    let altered = t.path().join("altered.zip");
    let edit = zipedit(&[
        "rewrite",
        bundle.to_str().unwrap(),
        altered.to_str().unwrap(),
        &format!(
            "replace=findings.jsonl:{}",
            t.path().join("findings.jsonl").display()
        ),
        &format!(
            "replace=files.jsonl:{}",
            t.path().join("files.jsonl").display()
        ),
    ]);
    assert_eq!(edit.code, 0, "{}", edit.stderr);
    let a = altered.to_str().unwrap();

    let text = run(&["report", a]);
    assert_eq!(text.code, 1, "an altered bundle is invalid");
    assert!(
        text.stdout.contains(
            "Unreadable     1 line(s) of files.jsonl, 2 of findings.jsonl  DAMAGED OR ALTERED BUNDLE"
        ),
        "{}",
        text.stdout
    );
    let json = run(&["report", a, "--format", "json"]).json();
    assert_eq!(json["unparseable"]["files_jsonl_lines"], 1);
    assert_eq!(json["unparseable"]["findings_jsonl_lines"], 2);
    let html = run(&["report", a, "--format", "html"]).stdout;
    assert!(html.contains("id=\"unparseable\""), "banner missing");
    assert!(html.contains(
        "<tr><th>Unreadable lines in findings.jsonl (damaged or altered bundle)</th><td>2</td></tr>"
    ));

    let csv = run(&["report", a, "--format", "csv"]);
    assert_eq!(csv.code, 1);
    let rows = csv_rows(&csv.stdout, t.path());
    for h in hostile {
        let row = rows
            .iter()
            .find(|r| r[4].ends_with(h.trim_start_matches(['\t', '\r'])))
            .unwrap_or_else(|| panic!("no row for {h:?}"));
        // OWASP: a leading ' makes the spreadsheet show the cell as text.
        assert_eq!(row[4], format!("'{h}"), "title cell");
        assert_eq!(row[5], format!("'{h}"), "path cell");
    }
    for row in &rows[1..] {
        for cell in row {
            assert!(
                !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                "live formula cell {cell:?}"
            );
        }
    }
    let last = rows.last().unwrap();
    assert_eq!(last[3], "report.unparseable_lines");
    assert_eq!(
        last[4],
        "1 line(s) of files.jsonl and 2 line(s) of findings.jsonl could not be read"
    );
}

/// The HTML report of a live collection (the running system as source, as root, onto a
/// tmpfs standing in for the USB stick) in Chromium: the live-state section is there,
/// after the findings and before the timeline (the order issue 5 gives), and says what
/// the responder needs (the clock
/// offset against the given reference time, processes, listening sockets, encryption).
#[test]
fn the_html_report_of_a_live_collection_shows_the_live_state_in_chromium() {
    require_root();
    require_tool("chromium", "chromium");
    require_tool("node", "nodejs");
    let here = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/html");
    assert!(
        here.join("node_modules/playwright-core").exists(),
        "run `npm ci --prefix tests/html` first (.ci/run does)"
    );
    let t = tempfile::tempdir().unwrap();
    let usb = t.path().join("usb");
    std::fs::create_dir(&usb).unwrap();
    let m = sh(&format!(
        "mount -t tmpfs -o size=128m fieldkit-usb '{}'",
        usb.display()
    ));
    assert_eq!(m.code, 0, "mount: {}", m.stderr);
    let profile = t.path().join("tiny.toml");
    std::fs::write(
        &profile,
        "name = \"tiny\"\nformat_version = 1\n[[rule]]\nname = \"id\"\ncategory = \"system\"\npaths = [\"/etc/hostname\"]\n",
    )
    .unwrap();
    let mut cmd = fieldkit();
    cmd.args(["collect", "--json", "--quiet", "--source", "/", "--out"])
        .arg(&usb)
        .arg("--profile")
        .arg(&profile)
        .args(["--reference-time", "2026-01-01T00:00:00Z"]);
    let r = run_with_timeout(cmd, Duration::from_secs(180));
    let html = t.path().join("live.html");
    let rendered = if r.code == 0 {
        let bundle = r.json()["bundle"].as_str().unwrap_or_default().to_string();
        run(&[
            "report",
            &bundle,
            "--format",
            "html",
            "--out",
            html.to_str().unwrap(),
        ])
    } else {
        r
    };
    sh(&format!("umount '{}'", usb.display()));
    assert_eq!(rendered.code, 0, "{}\n{}", rendered.stdout, rendered.stderr);
    let shot = t.path().join("live.png");
    let mut node = std::process::Command::new("node");
    node.arg(here.join("check-report.mjs"))
        .arg(&html)
        .arg(&shot);
    let out = run_with_timeout(node, Duration::from_secs(120));
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let v: serde_json::Value = serde_json::from_str(out.stdout.trim()).unwrap();
    let url = v["url"].as_str().unwrap();
    assert_eq!(v["requests"], serde_json::json!([url]), "{v}");
    let sections: Vec<&str> = v["sections"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s.as_str())
        .collect();
    let at = |id: &str| {
        sections
            .iter()
            .position(|s| *s == id)
            .unwrap_or_else(|| panic!("section {id} missing: {sections:?}"))
    };
    assert!(
        at("findings") < at("live") && at("live") < at("timeline"),
        "{sections:?}"
    );
    let text = v["visibleText"].as_str().unwrap();
    let live = &text[text.find("Live state").expect("Live state heading")..];
    for want in [
        "2026-01-01T00:00:00Z",
        "Processes",
        "Listening",
        "Encryption",
    ] {
        assert!(live.contains(want), "live section lacks {want:?}:\n{live}");
    }
    assert!(std::fs::metadata(&shot).unwrap().len() > 10_000);
}
