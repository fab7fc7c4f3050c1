//! Known-file sets inside `collect`: known-bad content is always stored, raises a finding
//! and an alert; known-good content is recorded by hash and not stored; the matched and
//! unmatched lists agree exactly with `hashdeep -k … -m / -x` on the same tree.

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use common::*;

const EICAR: &[u8] = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";

fn eicar_set() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("hashsets/eicar.fkhs")
}

#[test]
fn a_known_bad_file_is_stored_past_size_limits_with_a_finding_and_an_alert() {
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("src");
    std::fs::create_dir_all(src.join("Downloads")).unwrap();
    std::fs::write(src.join("Downloads/invoice.pdf.com"), EICAR).unwrap();
    write_random(&src.join("big.bin"), 4096, 3);
    std::fs::write(src.join("small.txt"), b"tiny").unwrap();
    let set = eicar_set();
    let (r, bundle) = collect(
        &src,
        &t.path().join("out"),
        &[
            "--known-bad",
            set.to_str().unwrap(),
            "--max-file-size",
            "32",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("KNOWN-BAD FILE:") && r.stderr.contains("invoice.pdf.com"),
        "{}",
        r.stderr
    );
    let recs = records(&bundle);
    let bad = record_for(&recs, "invoice.pdf.com");
    assert_eq!(bad["status"], "collected", "{bad}");
    assert!(
        bad["detail"]
            .as_str()
            .unwrap()
            .contains("known-bad: stored although"),
        "{bad}"
    );
    assert_eq!(bad["known"][0]["kind"], "known_bad");
    assert_eq!(member(&bundle, bad["member"].as_str().unwrap()), EICAR);
    // Over the limit and not known-bad: hashed for the check, not stored.
    let big = record_for(&recs, "big.bin");
    assert_eq!(big["status"], "skipped");
    assert_eq!(big["reason"], "too_large");
    assert_eq!(big["sha256"].as_str().unwrap().len(), 64);
    assert!(big["member"].is_null());
    assert_eq!(record_for(&recs, "small.txt")["status"], "collected");
    let findings = String::from_utf8(member(&bundle, "findings.jsonl")).unwrap();
    let f: serde_json::Value = findings
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|f| f["kind"] == "hashset.known_bad")
        .expect("known-bad finding");
    assert_eq!(f["severity"], "critical");
    assert_eq!(f["member"], bad["member"]);
    let m = manifest(&bundle);
    assert_eq!(m["counts"]["known_bad"], 1);
    assert_eq!(m["known_sets"][0]["kind"], "known_bad");
    assert_eq!(m["known_sets"][0]["digest"].as_str().unwrap().len(), 64);
    assert_eq!(verify(&bundle, &[]).code, 0);
    // A set given under the wrong flag is refused before anything is written.
    let wrong = run(&[
        "collect",
        "--source",
        src.to_str().unwrap(),
        "--out",
        t.path().join("o2").to_str().unwrap(),
        "--known-good",
        set.to_str().unwrap(),
    ]);
    assert_eq!(wrong.code, 2);
    assert!(
        wrong.stderr.contains("was given as --known-good"),
        "{}",
        wrong.stderr
    );
    assert!(!t.path().join("o2").exists());
}

#[test]
fn known_good_matching_agrees_with_hashdeep_and_content_is_not_stored() {
    require_tool("hashdeep", "hashdeep");
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("src");
    let reference = t.path().join("reference");
    std::fs::create_dir_all(src.join("sys")).unwrap();
    std::fs::create_dir_all(src.join("user")).unwrap();
    std::fs::create_dir_all(&reference).unwrap();
    for i in 0..30 {
        let body = format!("system file {i}");
        std::fs::write(src.join(format!("sys/lib{i}.so")), &body).unwrap();
        if i % 3 != 0 {
            // The reference installation holds two thirds of them.
            std::fs::write(reference.join(format!("ref{i}")), &body).unwrap();
        }
    }
    for i in 0..10 {
        std::fs::write(
            src.join(format!("user/doc{i}.txt")),
            format!("user document {i}"),
        )
        .unwrap();
    }
    let known = t.path().join("known.hashdeep");
    let hd = sh(&format!(
        "hashdeep -c sha256 -r {} > {}",
        reference.display(),
        known.display()
    ));
    assert_eq!(hd.code, 0, "{}", hd.stderr);
    let set = t.path().join("reference.fkhs");
    let b = run(&[
        "hashset",
        "build",
        "--kind",
        "known-good",
        "--name",
        "reference",
        "--out",
        set.to_str().unwrap(),
        known.to_str().unwrap(),
    ]);
    assert_eq!(b.code, 0, "{}", b.stderr);
    let list = |flag: &str| -> BTreeSet<String> {
        let out = sh(&format!(
            "hashdeep -c sha256 -r -k {} {flag} {}",
            known.display(),
            src.display()
        ));
        out.stdout.lines().map(str::to_string).collect()
    };
    let (matched, unmatched) = (list("-m"), list("-x"));
    assert_eq!(matched.len(), 20);
    let (r, bundle) = collect(
        &src,
        &t.path().join("out"),
        &["--known-good", set.to_str().unwrap()],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let recs = records(&bundle);
    let ours = |good: bool| -> BTreeSet<String> {
        recs.iter()
            .filter(|r| (r["status"] == "known_good") == good)
            .map(|r| r["path"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        ours(true),
        matched,
        "known-good files differ from hashdeep -m"
    );
    assert_eq!(
        ours(false),
        unmatched,
        "other files differ from hashdeep -x"
    );
    for r in recs.iter().filter(|r| r["status"] == "known_good") {
        assert!(r["member"].is_null() && r["duplicate_of"].is_null(), "{r}");
        assert_eq!(r["sha256"].as_str().unwrap().len(), 64);
        assert_eq!(r["known"][0]["set"], "reference");
    }
    assert_eq!(r.json()["counts"]["known_good"], 20);
    assert_eq!(verify(&bundle, &[]).code, 0);
    // --keep-known stores them too.
    let (r, bundle) = collect(
        &src,
        &t.path().join("out2"),
        &["--known-good", set.to_str().unwrap(), "--keep-known"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json()["counts"]["known_good"], 0);
    let recs = records(&bundle);
    assert!(recs.iter().all(|r| r["status"] == "collected"), "{recs:?}");
    assert_eq!(
        recs.iter()
            .filter(|r| r["known"][0]["kind"] == "known_good")
            .count(),
        20
    );
}
