//! Triage inside `collect`: analyzers see the bytes as they are read (no second read),
//! findings land in findings.jsonl with their evidence, counts and the reports; seed
//! words never reach the terminal; `--since/--until` marks and can restrict collection.

mod common;

use common::*;

const MNEMONIC: &str =
    "legal winner thank year wave sausage worth useful legal winner thank yellow";

#[test]
fn findings_are_recorded_counted_reported_and_seed_words_stay_off_the_terminal() {
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("src");
    std::fs::create_dir_all(src.join("tmp")).unwrap();
    std::fs::create_dir_all(src.join("home/anna/Documents")).unwrap();
    std::fs::copy("/usr/bin/true", src.join("tmp/dropper")).unwrap();
    std::fs::copy("/usr/bin/true", src.join("home/anna/Documents/holiday.jpg")).unwrap();
    std::fs::write(
        src.join("home/anna/Documents/backup.txt"),
        format!("my wallet words:\n{MNEMONIC}\n"),
    )
    .unwrap();
    std::fs::write(src.join("home/anna/Documents/plain.txt"), b"nothing to see").unwrap();
    let (r, bundle) = collect(&src, &t.path().join("out"), &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    for word in ["sausage", "useful", "yellow"] {
        assert!(
            !r.stdout.contains(word) && !r.stderr.contains(word),
            "seed word {word} on the terminal"
        );
    }
    let findings: Vec<serde_json::Value> = String::from_utf8(member(&bundle, "findings.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let kinds: Vec<&str> = findings
        .iter()
        .map(|f| f["kind"].as_str().unwrap())
        .collect();
    for want in [
        "exe.unusual_location",
        "exe.extension_mismatch",
        "crypto.seed_phrase",
    ] {
        assert!(kinds.contains(&want), "{want} missing from {kinds:?}");
    }
    let seed = findings
        .iter()
        .find(|f| f["kind"] == "crypto.seed_phrase")
        .unwrap();
    assert!(
        !seed["title"].as_str().unwrap().contains("sausage"),
        "{seed}"
    );
    assert_eq!(seed["member"], "files/home/anna/Documents/backup.txt");
    let recs = records(&bundle);
    assert_eq!(seed["sha256"], record_for(&recs, "backup.txt")["sha256"]);
    // IDs are unique and sequential; the manifest counts them.
    let ids: Vec<&str> = findings.iter().map(|f| f["id"].as_str().unwrap()).collect();
    let mut sorted = ids.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), ids.len());
    assert_eq!(manifest(&bundle)["counts"]["findings"], findings.len());
    assert_eq!(r.json()["counts"]["findings"], findings.len());
    // The sealed report and `fieldkit report` show them, titles only on the terminal.
    let html = String::from_utf8(member(&bundle, "report.html")).unwrap();
    assert!(html.contains("exe.extension_mismatch"));
    let text = run(&["report", bundle.to_str().unwrap()]);
    assert!(
        text.stdout
            .contains(&format!("Findings ({}: ", findings.len())),
        "{}",
        text.stdout
    );
    assert!(!text.stdout.contains("sausage"), "{}", text.stdout);
    let csv = run(&["report", bundle.to_str().unwrap(), "--format", "csv"]);
    assert_eq!(csv.stdout.lines().count(), findings.len() + 1);
    assert_eq!(verify(&bundle, &[]).code, 0);
}

#[test]
fn an_activity_window_marks_files_and_can_restrict_collection_to_it() {
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    for (name, when) in [
        ("old.txt", "2020-01-01T00:00:00Z"),
        ("recent.txt", "2026-06-15T12:00:00Z"),
    ] {
        std::fs::write(src.join(name), name.as_bytes()).unwrap();
        assert_eq!(
            sh(&format!("touch -m -d {when} {}", src.join(name).display())).code,
            0
        );
    }
    let window = [
        "--since",
        "2026-06-01T00:00:00Z",
        "--until",
        "2026-07-01T00:00:00+00:00",
    ];
    let (r, bundle) = collect(&src, &t.path().join("o1"), &window);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let recs = records(&bundle);
    assert_eq!(
        record_for(&recs, "recent.txt")["window"]["verdict"],
        "inside"
    );
    assert_eq!(record_for(&recs, "recent.txt")["window"]["modified"], true);
    // old.txt was written just now, so its ctime is inside no 2026-06 window: outside.
    assert_eq!(record_for(&recs, "old.txt")["window"]["verdict"], "outside");
    assert_eq!(record_for(&recs, "old.txt")["status"], "collected");
    assert_eq!(manifest(&bundle)["window"]["since"], "2026-06-01T00:00:00Z");
    let mut only = window.to_vec();
    only.push("--window-only");
    let (r, bundle) = collect(&src, &t.path().join("o2"), &only);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let recs = records(&bundle);
    assert_eq!(record_for(&recs, "old.txt")["status"], "skipped");
    assert_eq!(
        record_for(&recs, "old.txt")["reason"],
        "outside_time_window"
    );
    assert_eq!(record_for(&recs, "recent.txt")["status"], "collected");
    let bad = run(&[
        "collect",
        "--source",
        src.to_str().unwrap(),
        "--out",
        t.path().join("o3").to_str().unwrap(),
        "--window-only",
    ]);
    assert_eq!(bad.code, 2);
    assert!(
        bad.stderr.contains("--window-only needs --since"),
        "{}",
        bad.stderr
    );
}

/// Files larger than the in-memory limit stream into the bundle under its lock while a
/// helper thread hashes and triages them: every analyzer must still see every byte in
/// order (the container test samples blocks across the whole file), and the digest must
/// be the one sha256sum computes.
#[test]
fn large_streamed_files_are_hashed_and_triaged_in_full() {
    require_tool("sha256sum", "coreutils");
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("src");
    std::fs::create_dir_all(src.join("tmp")).unwrap();
    write_random(&src.join("vault.hc"), 16 << 20, 7);
    let mut elf = std::fs::read("/usr/bin/true").unwrap();
    elf.resize(12 << 20, 0);
    std::fs::write(src.join("tmp/big_dropper"), &elf).unwrap();
    let (r, bundle) = collect(&src, &t.path().join("out"), &["--threads", "2"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let findings: Vec<serde_json::Value> = String::from_utf8(member(&bundle, "findings.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let find = |kind: &str| {
        findings
            .iter()
            .find(|f| f["kind"] == kind)
            .unwrap_or_else(|| panic!("{kind} missing from {findings:?}"))
    };
    assert_eq!(
        find("encryption.container_candidate")["member"],
        "files/vault.hc"
    );
    assert_eq!(
        find("exe.unusual_location")["member"],
        "files/tmp/big_dropper"
    );
    let recs = records(&bundle);
    for (name, path) in [
        ("vault.hc", src.join("vault.hc")),
        ("big_dropper", src.join("tmp/big_dropper")),
    ] {
        let s = sh(&format!("sha256sum {}", path.display()));
        assert_eq!(
            record_for(&recs, name)["sha256"].as_str().unwrap(),
            &s.stdout[..64],
            "{name}"
        );
    }
}

const EICAR: &[u8] = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";

/// Severity, kind and analyzer tallies recomputed from the bundle's findings.jsonl.
fn tally(findings: &[serde_json::Value], field: &str) -> std::collections::BTreeMap<String, u64> {
    let mut out = std::collections::BTreeMap::new();
    for f in findings {
        *out.entry(f[field].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    out
}

#[test]
fn the_end_of_run_summary_says_what_matters_by_severity_kind_and_title() {
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("src");
    for d in [
        "tmp",
        "home/anna/Pictures",
        "home/anna/.electrum/wallets",
        "Downloads",
    ] {
        std::fs::create_dir_all(src.join(d)).unwrap();
    }
    std::fs::write(src.join("Downloads/invoice.pdf.com"), EICAR).unwrap();
    std::fs::copy("/usr/bin/true", src.join("tmp/dropper")).unwrap();
    std::fs::copy("/usr/bin/true", src.join("home/anna/Pictures/holiday.jpg")).unwrap();
    std::fs::write(
        src.join("home/anna/backup.txt"),
        format!("my wallet words:\n{MNEMONIC}\nsend to 1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2\n"),
    )
    .unwrap();
    std::fs::write(
        src.join("home/anna/.electrum/wallets/default_wallet"),
        b"{\"seed_version\": 18}",
    )
    .unwrap();
    std::fs::write(
        src.join("home/anna/export.csv"),
        "folder,favorite,type,name,notes,fields,reprompt,login_uri,login_username,login_password,login_totp\n",
    )
    .unwrap();
    std::fs::write(src.join("home/anna/note.txt"), b"meet at noon\n").unwrap();
    sh(&format!(
        "cd {} && zip -q -e -P secret notes.zip note.txt",
        src.join("home/anna").display()
    ));
    let luks = src.join("home/anna/disk.img");
    std::fs::File::create(&luks)
        .and_then(|f| f.set_len(16 << 20))
        .unwrap();
    std::fs::write(t.path().join("key"), b"correct horse battery staple").unwrap();
    sh(&format!(
        "cryptsetup luksFormat --batch-mode --type luks2 --pbkdf pbkdf2 --pbkdf-force-iterations 1000 --key-file {} {}",
        t.path().join("key").display(),
        luks.display()
    ));
    let set = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("hashsets/eicar.fkhs");

    // The paper-log summary on the terminal.
    let mut cmd = fieldkit();
    cmd.args(["collect", "--source"])
        .arg(&src)
        .arg("--out")
        .arg(t.path().join("out"))
        .arg("--known-bad")
        .arg(&set);
    let r = run_with_timeout(cmd, std::time::Duration::from_secs(300));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let bundle = std::fs::read_dir(t.path().join("out"))
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "zip"))
        .unwrap();
    let findings: Vec<serde_json::Value> = String::from_utf8(member(&bundle, "findings.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let sev = tally(&findings, "severity");
    let count = |k: &str| sev.get(k).copied().unwrap_or(0);
    let line = format!(
        "  Findings      {}: {} critical, {} high, {} medium, {} low, {} info\n",
        findings.len(),
        count("critical"),
        count("high"),
        count("medium"),
        count("low"),
        count("info")
    );
    let out = &r.stdout;
    assert!(out.contains(&line), "{line:?} not in\n{out}");
    assert!(count("critical") >= 2, "{sev:?}");
    for want in [
        "    known-bad   1 FILE(S) MATCH A KNOWN-BAD SET\n",
        "    encryption  1 locked volume(s), 0 possible container(s), 1 encrypted archive(s), 1 password database(s) (1 plain-text export(s)), 0 encrypted file(s)\n",
        "    crypto      1 wallet(s), 1 seed phrase(s) (words only in the bundle), 1 address(es), 0 history file(s) naming exchanges/wallets\n",
        "    executables 2 recognised, 2 suspicious file(s): 1 disguised, 0 packed, 0 with injection/keylogging/credential imports, 1 in unusual places\n",
    ] {
        assert!(out.contains(want), "{want:?} not in\n{out}");
    }
    // The most severe titles, critical first.
    let top: Vec<&str> = out
        .lines()
        .skip_while(|l| !l.starts_with("    most severe"))
        .take_while(|l| l.contains(" ["))
        .collect();
    assert!(top.len() >= 4 && top.len() <= 5, "{out}");
    assert!(top[0].contains("[CRITICAL]"), "{top:?}");
    assert!(top.iter().any(|l| l.contains("Known-bad file")), "{top:?}");
    assert!(
        top.iter()
            .any(|l| l.contains("Unencrypted password export")),
        "{top:?}"
    );
    for word in ["sausage", "useful", "yellow"] {
        assert!(
            !out.contains(word) && !r.stderr.contains(word),
            "seed word {word}"
        );
    }

    // The same in the --json summary, tallies matching findings.jsonl.
    let (j, _) = collect(
        &src,
        &t.path().join("out2"),
        &["--known-bad", set.to_str().unwrap()],
    );
    assert_eq!(j.code, 0, "{}", j.stderr);
    let s = &j.json()["findings"];
    assert_eq!(s["total"], findings.len());
    for (k, v) in &sev {
        assert_eq!(s["by_severity"][k], *v, "{k}");
    }
    for (k, v) in tally(&findings, "kind") {
        assert_eq!(s["by_kind"][&k], v, "{k}");
    }
    for (k, v) in tally(&findings, "analyzer") {
        assert_eq!(s["by_analyzer"][&k], v, "{k}");
    }
    assert_eq!(s["known_bad"], 1);
    assert_eq!(s["encryption"]["locked_volumes"], 1);
    assert_eq!(s["encryption"]["plain_password_exports"], 1);
    assert_eq!(s["virtual_assets"]["seed_phrases"], 1);
    assert_eq!(s["virtual_assets"]["wallets"], 1);
    assert_eq!(s["executables"]["disguised"], 1);
    assert_eq!(s["top"][0]["severity"], "critical");
    assert!(
        !j.stdout.contains("sausage"),
        "seed words in the JSON summary"
    );
}
