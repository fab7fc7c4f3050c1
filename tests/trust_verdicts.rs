//! Trust is part of the verdict, in every view: `verify` (terminal and `--json`) and
//! `report` (text, JSON, CSV, HTML) say the same headline for the same bundle and anchor;
//! a bundle checked only against its own signer.pub is INTACT with the fingerprint to
//! compare, one checked against the examiner's key is VALID and says by whom, and a sound
//! bundle signed by another key is INTACT BUT NOT SIGNED BY THE KEY YOU TRUST, exit 5 —
//! never "altered" (exit 1), which stays for real changes.

mod common;

use std::path::Path;

use common::*;

const IDENTITY: &str = "you@unit.example";

struct Setup {
    _t: tempfile::TempDir,
    dir: std::path::PathBuf,
    bundle: std::path::PathBuf,
    fingerprint: String,
    other_fingerprint: String,
}

fn setup() -> Setup {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().to_path_buf();
    let src = dir.join("src");
    std::fs::create_dir(&src).unwrap();
    std::fs::write(src.join("a.txt"), "trust me\n").unwrap();
    let mut fps = Vec::new();
    for (name, id) in [("you", IDENTITY), ("other", "other@unit.example")] {
        let r = run(&[
            "keygen",
            "--out",
            dir.join(name).to_str().unwrap(),
            "--identity",
            id,
        ]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        std::fs::write(dir.join(format!("{name}.allowed")), &r.stdout).unwrap();
        let fp = r
            .stderr
            .lines()
            .find_map(|l| l.strip_prefix("fingerprint: "))
            .unwrap()
            .to_string();
        fps.push(fp);
    }
    let (r, bundle) = collect(
        &src,
        &dir.join("out"),
        &["--key", dir.join("you").to_str().unwrap()],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json()["signer_fingerprint"], fps[0].as_str());
    Setup {
        _t: t,
        dir,
        bundle,
        fingerprint: fps[0].clone(),
        other_fingerprint: fps[1].clone(),
    }
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// The same headline in the terminal, `--json`, and the text, JSON, CSV and HTML
/// reports; returns it with the exit code (the same for verify and report).
fn headline_everywhere(s: &Setup, anchor: &[&str]) -> (i32, String, serde_json::Value) {
    let b = p(&s.bundle);
    let v = verify(&s.bundle, anchor);
    let headline = v.stdout.lines().next().unwrap().to_string();
    let j = verify(&s.bundle, &[anchor, &["--json"]].concat());
    let json = j.json();
    assert_eq!(j.code, v.code);
    assert_eq!(json["exit_code"], v.code);
    assert_eq!(json["headline"], headline.as_str());
    let report = |format: &str| run(&[&["report", b, "--format", format][..], anchor].concat());
    let text = report("text");
    assert_eq!(text.code, v.code, "{}", text.stderr);
    assert!(
        text.stdout
            .contains(&format!("Integrity      {headline}\n")),
        "{}",
        text.stdout
    );
    let rj = report("json");
    assert_eq!(rj.code, v.code);
    let rj = rj.json();
    assert_eq!(rj["integrity"]["wording"]["headline"], headline.as_str());
    assert_eq!(rj["integrity"]["trust"], json["trust"]);
    let csv = report("csv");
    assert_eq!(csv.code, v.code);
    assert_eq!(
        csv.stderr.lines().next().unwrap(),
        format!("fieldkit report: {headline}")
    );
    let html = report("html");
    assert_eq!(html.code, v.code);
    let escaped = headline
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    assert!(
        html.stdout
            .contains(&format!("id=\"integrity\">{escaped}<br>")),
        "{headline}"
    );
    // No view of an intact bundle claims what was not checked.
    for view in [&text.stdout, &html.stdout] {
        assert!(!view.contains("Nothing has been changed since it was collected"));
        assert!(!view.contains("altered or damaged") || v.code == 1);
    }
    (v.code, headline, json)
}

#[test]
fn the_headline_carries_the_trust_state_in_every_view() {
    let s = setup();
    let fp = &s.fingerprint;

    // No anchor: intact, signer not checked, the fingerprint to compare.
    let (code, h, j) = headline_everywhere(&s, &[]);
    assert_eq!(code, 0);
    assert_eq!(
        h,
        format!("INTACT — signer not checked: compare {fp} with the paper log")
    );
    assert_eq!(j["trust"]["state"], "self-attested");
    assert_eq!(j["trust"]["fingerprint"], fp.as_str());
    assert_eq!(j["tone"], "caution");

    // The paper log's fingerprint: trusted exactly when it matches.
    let (code, h, j) = headline_everywhere(&s, &["--fingerprint", fp]);
    assert_eq!(code, 0);
    assert_eq!(
        h,
        format!("VALID — signer matches {fp} given with --fingerprint")
    );
    assert_eq!(j["trust"]["state"], "trusted");
    assert_eq!(j["tone"], "good");
    let (code, h, j) = headline_everywhere(&s, &["--fingerprint", &s.other_fingerprint]);
    assert_eq!(code, 5);
    assert_eq!(
        h,
        format!(
            "INTACT BUT NOT SIGNED BY THE KEY YOU TRUST — signed by {fp}, not {}",
            s.other_fingerprint
        )
    );
    assert_eq!(j["trust"]["state"], "wrong-key");
    assert_eq!(j["verdict"], "wrong_key");
    assert_eq!(j["problems"], serde_json::json!([]));

    // The examiner's public key, and another one.
    let you = s.dir.join("you.pub");
    let (code, h, _) = headline_everywhere(&s, &["--pubkey", p(&you)]);
    assert_eq!(code, 0);
    assert_eq!(
        h,
        format!("VALID — signed by the key in {} ({fp})", you.display())
    );
    let other = s.dir.join("other.pub");
    let (code, h, j) = headline_everywhere(&s, &["--pubkey", p(&other)]);
    assert_eq!(code, 5);
    assert_eq!(
        h,
        format!(
            "INTACT BUT NOT SIGNED BY THE KEY YOU TRUST — signed by {fp}, not by the key in {}",
            other.display()
        )
    );
    assert_eq!(j["trust"]["expected"][0], s.other_fingerprint.as_str());

    // The lab's allowed_signers file: by whom, and a file without the signer.
    let lab = s.dir.join("you.allowed");
    let (code, h, j) =
        headline_everywhere(&s, &["--allowed-signers", p(&lab), "--identity", IDENTITY]);
    assert_eq!(code, 0);
    assert_eq!(
        h,
        format!(
            "VALID — signed by {IDENTITY} (allowed_signers {})",
            lab.display()
        )
    );
    assert_eq!(j["trust"]["by"], IDENTITY);
    assert_eq!(j["trust"]["line"], 1);
    let wrong = s.dir.join("other.allowed");
    let (code, h, j) = headline_everywhere(
        &s,
        &["--allowed-signers", p(&wrong), "--identity", IDENTITY],
    );
    assert_eq!(code, 5);
    assert_eq!(
        h,
        format!(
            "INTACT BUT NOT SIGNED BY THE KEY YOU TRUST — {} does not accept signer {fp} for {IDENTITY}",
            wrong.display()
        )
    );
    assert_eq!(
        j["trust"]["reasons"][0],
        format!("no line lists key {fp} for \"{IDENTITY}\"")
    );
}

#[test]
fn revoked_expired_and_certificate_authority_lines_do_not_trust_the_signer() {
    let s = setup();
    let key = std::fs::read_to_string(s.dir.join("you.pub")).unwrap();
    let key = key.trim();
    let file = s.dir.join("lab");
    let check = |text: &str| {
        std::fs::write(&file, text).unwrap();
        let v = verify(
            &s.bundle,
            &[
                "--allowed-signers",
                p(&file),
                "--identity",
                IDENTITY,
                "--json",
            ],
        );
        (v.code, v.json())
    };
    let (code, j) = check(&format!("*@unit.example,!{IDENTITY} {key}\n"));
    assert_eq!(code, 5);
    assert!(
        j["trust"]["reasons"][0]
            .as_str()
            .unwrap()
            .contains(&format!("which excludes \"{IDENTITY}\"")),
        "{j}"
    );
    let (code, j) = check(&format!("{IDENTITY} valid-before=\"20200101Z\" {key}\n"));
    assert_eq!(code, 5);
    assert!(
        j["trust"]["reasons"][0].as_str().unwrap().starts_with(
            "line 1: the key expired at 2020-01-01 00:00:00 UTC (valid-before; checked at "
        ),
        "{j}"
    );
    let (code, j) = check(&format!("{IDENTITY} cert-authority {key}\n"));
    assert_eq!(code, 5);
    assert!(
        j["trust"]["reasons"][0]
            .as_str()
            .unwrap()
            .contains("cert-authority"),
        "{j}"
    );
    let (code, j) = check(&format!(
        "{IDENTITY} namespaces=\"git,!fieldkit-*\" {key}\n"
    ));
    assert_eq!(code, 5, "{j}");
    // A malformed line is skipped with a warning that names it; the next line counts.
    let (code, j) = check(&format!(
        "{IDENTITY} namespaces=fieldkit-evidence {key}\n{IDENTITY} valid-after=\"20200101\" {key}\n"
    ));
    assert_eq!(code, 0, "{j}");
    assert_eq!(j["trust"]["line"], 2);
    let notes: Vec<String> = serde_json::from_value(j["notes"].clone()).unwrap();
    assert!(
        notes.iter().any(|n| n
            == &format!(
                "{}:1: bad options: missing start quote; the line is skipped (as ssh-keygen skips it)",
                file.display()
            )),
        "{notes:?}"
    );
}

#[test]
fn tampering_stays_invalid_whatever_the_anchor_and_bad_anchors_are_usage_errors() {
    let s = setup();
    let other = s.dir.join("other.pub");
    let r = zipedit(&["flip", p(&s.bundle), "files/a.txt"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    for anchor in [
        vec![],
        vec!["--pubkey", p(&other)],
        vec!["--fingerprint", &s.fingerprint],
    ] {
        let v = verify(&s.bundle, &anchor);
        assert_eq!(v.code, 1, "{anchor:?}: {}", v.stdout);
        assert!(
            v.stdout
                .starts_with("INVALID: the bundle has been altered or damaged\n"),
            "{}",
            v.stdout
        );
    }
    let v = verify(&s.bundle, &["--fingerprint", "SHA256:not-a-fingerprint"]);
    assert_eq!(v.code, 2, "{}", v.stdout);
    assert!(
        v.stderr.contains(
            "--fingerprint: \"SHA256:not-a-fingerprint\" is not a SHA-256 key fingerprint"
        ),
        "{}",
        v.stderr
    );
    let v = verify(
        &s.bundle,
        &["--fingerprint", &s.fingerprint, "--pubkey", p(&other)],
    );
    assert_eq!(v.code, 2, "one trust anchor at a time: {}", v.stderr);
    let v = verify(
        &s.bundle,
        &[
            "--allowed-signers",
            p(&s.dir.join("missing")),
            "--identity",
            IDENTITY,
        ],
    );
    assert_eq!(v.code, 2, "{}", v.stderr);
}
