//! A tampered bundle never verifies: each case below alters a real bundle the way an
//! attacker or a failing disk would (using Python's zipfile, ssh-keygen and sha256sum,
//! never fieldkit's own writer) and asserts the exact exit code and the specific problem
//! `fieldkit verify` names. The t-cases alter a bundle of stored members (`--compress
//! never`, the form every bundle had before compression); the c-cases a compressed one
//! (the default), where a Deflate member's stored bytes must be caught even when they
//! still inflate — to other content under a forged CRC, or to the same content.

mod common;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use common::*;

struct Fixture {
    _dir: tempfile::TempDir,
    bundle: PathBuf,
    other_bundle: PathBuf,
    pubkey: PathBuf,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        std::fs::create_dir_all(src.join("docs")).unwrap();
        std::fs::write(src.join("docs/a.txt"), b"alpha evidence").unwrap();
        std::fs::write(src.join("docs/b.txt"), b"bravo evidence").unwrap();
        std::fs::write(src.join("docs/c.txt"), b"charlie evidence").unwrap();
        write_random(&src.join("blob.bin"), 300_000, 9);
        let key = dir.path().join("examiner");
        let k = run(&[
            "keygen",
            "--out",
            key.to_str().unwrap(),
            "--identity",
            "anna@lab.example",
        ]);
        assert_eq!(k.code, 0, "{}", k.stderr);
        let out = dir.path().join("out");
        let (r, bundle) = collect(
            &src,
            &out,
            &[
                "--key",
                key.to_str().unwrap(),
                "--case",
                "T-1",
                "--compress",
                "never",
            ],
        );
        assert_eq!(r.code, 0, "{}", r.stderr);
        let out2 = dir.path().join("out2");
        let (r2, other_bundle) = collect(
            &src,
            &out2,
            &["--key", key.to_str().unwrap(), "--compress", "never"],
        );
        assert_eq!(r2.code, 0, "{}", r2.stderr);
        Fixture {
            pubkey: dir.path().join("examiner.pub"),
            _dir: dir,
            bundle,
            other_bundle,
        }
    })
}

/// A private copy of the bundle with its sidecars, in a fresh directory.
fn copy_bundle() -> (tempfile::TempDir, PathBuf) {
    let f = fixture();
    let d = tempfile::tempdir().unwrap();
    let name = f.bundle.file_name().unwrap();
    let dst = d.path().join(name);
    std::fs::copy(&f.bundle, &dst).unwrap();
    for ext in [".sha256", ".sig"] {
        let mut s = f.bundle.as_os_str().to_os_string();
        s.push(ext);
        let mut t = dst.as_os_str().to_os_string();
        t.push(ext);
        std::fs::copy(&s, &t).unwrap();
    }
    (d, dst)
}

fn sidecar(b: &Path, ext: &str) -> PathBuf {
    let mut s = b.as_os_str().to_os_string();
    s.push(ext);
    PathBuf::from(s)
}

/// Replace the bundle with a rewritten archive (Python zipfile) after `ops`.
fn rewrite(b: &Path, ops: &[&str]) {
    let tmp = b.with_extension("rewritten");
    let mut args = vec!["rewrite", b.to_str().unwrap(), tmp.to_str().unwrap()];
    args.extend_from_slice(ops);
    let r = zipedit(&args);
    assert_eq!(r.code, 0, "{}", r.stderr);
    std::fs::rename(&tmp, b).unwrap();
}

fn ed(args: &[&str]) {
    let r = zipedit(args);
    assert_eq!(r.code, 0, "zipedit {args:?}: {}", r.stderr);
}

#[track_caller]
fn assert_rejected(b: &Path, code: i32, problem: &str, text: &str) {
    let v = verify(b, &[]);
    assert_eq!(v.code, code, "expected exit {code}\n{}", v.stdout);
    assert!(
        v.stdout.contains(&format!("[{problem}]")),
        "expected problem [{problem}]:\n{}",
        v.stdout
    );
    assert!(
        v.stdout.contains(text),
        "expected {text:?} in:\n{}",
        v.stdout
    );
    let j = verify(b, &["--json"]);
    let report = j.json();
    assert!(
        report["problems"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["code"] == problem)
    );
    assert_ne!(report["verdict"], "valid");
}

#[test]
fn the_untouched_bundle_verifies_with_every_trust_mode() {
    let f = fixture();
    let (_d, b) = copy_bundle();
    assert_eq!(verify(&b, &[]).code, 0);
    assert_eq!(
        verify(&b, &["--pubkey", f.pubkey.to_str().unwrap()]).code,
        0
    );
}

#[test]
fn t01_flipped_byte_in_a_payload() {
    let (_d, b) = copy_bundle();
    ed(&["flip", b.to_str().unwrap(), "files/blob.bin"]);
    assert_rejected(&b, 1, "hash_mismatch", "member files/blob.bin: SHA-256");
    assert_rejected(&b, 1, "crc_mismatch", "files/blob.bin");
    assert_rejected(&b, 1, "record_mismatch", "blob.bin");
}

#[test]
fn t02_flipped_byte_in_manifest() {
    let (_d, b) = copy_bundle();
    ed(&["flip", b.to_str().unwrap(), "manifest.json", "40"]);
    assert_rejected(&b, 1, "hash_mismatch", "member manifest.json: SHA-256");
}

#[test]
fn t03_flipped_byte_in_files_jsonl() {
    let (_d, b) = copy_bundle();
    ed(&["flip", b.to_str().unwrap(), "files.jsonl", "20"]);
    assert_rejected(&b, 1, "hash_mismatch", "member files.jsonl: SHA-256");
}

#[test]
fn t04_flipped_byte_in_sha256sums() {
    let (_d, b) = copy_bundle();
    ed(&["flip", b.to_str().unwrap(), "SHA256SUMS", "3"]);
    assert_rejected(
        &b,
        1,
        "bad_signature",
        "SHA256SUMS.sig: signature does not match the signed data",
    );
}

#[test]
fn t05_flipped_byte_in_the_signature() {
    let (_d, b) = copy_bundle();
    ed(&["flip", b.to_str().unwrap(), "SHA256SUMS.sig", "100"]);
    assert_rejected(&b, 1, "bad_signature", "SHA256SUMS.sig:");
}

#[test]
fn t06_member_removed() {
    let (_d, b) = copy_bundle();
    rewrite(&b, &["remove=files/docs/b.txt"]);
    assert_rejected(
        &b,
        1,
        "missing_member",
        "member files/docs/b.txt is listed in SHA256SUMS but missing",
    );
}

#[test]
fn t07_member_added() {
    let (d, b) = copy_bundle();
    let extra = d.path().join("planted");
    std::fs::write(&extra, b"planted evidence").unwrap();
    let op = format!("add=files/docs/planted.txt:{}", extra.display());
    rewrite(&b, &[&op]);
    assert_rejected(
        &b,
        1,
        "unlisted_member",
        "member files/docs/planted.txt is not listed in SHA256SUMS",
    );
    assert_rejected(&b, 1, "undescribed_member", "files/docs/planted.txt");
}

#[test]
fn t08_member_renamed() {
    let (_d, b) = copy_bundle();
    rewrite(&b, &["rename=files/docs/a.txt:files/docs/z.txt"]);
    assert_rejected(&b, 1, "missing_member", "files/docs/a.txt");
    assert_rejected(&b, 1, "unlisted_member", "files/docs/z.txt");
}

#[test]
fn t09_members_reordered() {
    let (_d, b) = copy_bundle();
    rewrite(&b, &["swap=files/docs/a.txt:files/docs/c.txt"]);
    assert_rejected(
        &b,
        1,
        "member_order",
        "member order differs from SHA256SUMS",
    );
}

#[test]
fn t10_truncated_at_the_end() {
    let (_d, b) = copy_bundle();
    let len = std::fs::metadata(&b).unwrap().len();
    ed(&["truncate", b.to_str().unwrap(), &(len - 100).to_string()]);
    assert_rejected(&b, 3, "not_finalized", "no end-of-central-directory record");
}

#[test]
fn t11_truncated_in_the_middle() {
    let (_d, b) = copy_bundle();
    let len = std::fs::metadata(&b).unwrap().len();
    ed(&["truncate", b.to_str().unwrap(), &(len / 2).to_string()]);
    assert_rejected(&b, 3, "not_finalized", "never finalized");
}

#[test]
fn t12_sha256_sidecar_swapped_for_another_bundles() {
    let (_d, b) = copy_bundle();
    std::fs::copy(
        sidecar(&fixture().other_bundle, ".sha256"),
        sidecar(&b, ".sha256"),
    )
    .unwrap();
    assert_rejected(&b, 1, "sidecar_mismatch", ".zip.sha256: records SHA-256");
}

#[test]
fn t13_signature_sidecar_swapped_for_another_bundles() {
    let (_d, b) = copy_bundle();
    std::fs::copy(
        sidecar(&fixture().other_bundle, ".sig"),
        sidecar(&b, ".sig"),
    )
    .unwrap();
    assert_rejected(&b, 1, "sidecar_signature", "signature does not match");
}

fn ssh_keygen_key(dir: &Path) -> PathBuf {
    require_tool("ssh-keygen", "openssh-client");
    let key = dir.join("mallory");
    let r = sh(&format!(
        "ssh-keygen -q -t ed25519 -N '' -C mallory -f {}",
        key.display()
    ));
    assert_eq!(r.code, 0, "{}", r.stderr);
    key
}

#[test]
fn t14_sha256sums_resigned_by_another_key() {
    let (d, b) = copy_bundle();
    let key = ssh_keygen_key(d.path());
    let sums = d.path().join("SHA256SUMS");
    std::fs::write(&sums, member(&b, "SHA256SUMS")).unwrap();
    let r = sh(&format!(
        "ssh-keygen -Y sign -q -f {} -n fieldkit-evidence {}",
        key.display(),
        sums.display()
    ));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let op = format!("replace=SHA256SUMS.sig:{}.sig", sums.display());
    rewrite(&b, &[&op]);
    assert_rejected(&b, 1, "bad_signature", "which is not an accepted signer");
}

#[test]
fn t15_complete_forgery_by_another_key_fails_against_the_examiners_key() {
    let f = fixture();
    let (d, b) = copy_bundle();
    let key = ssh_keygen_key(d.path());
    // Rewrite the signer everywhere it is recorded, recompute SHA256SUMS with
    // sha256sum in archive order and re-sign it with ssh-keygen.
    let x = d.path().join("x");
    assert_eq!(
        sh(&format!("unzip -q {} -d {}", b.display(), x.display())).code,
        0
    );
    let mallory_pub = std::fs::read_to_string(format!("{}.pub", key.display())).unwrap();
    std::fs::write(x.join("signer.pub"), &mallory_pub).unwrap();
    let mut m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(x.join("manifest.json")).unwrap()).unwrap();
    let fp = sh(&format!(
        "ssh-keygen -lf {}.pub | cut -d' ' -f2",
        key.display()
    ))
    .stdout
    .trim()
    .to_string();
    m["signer"]["fingerprint"] = fp.clone().into();
    m["signer"]["public_key"] = mallory_pub.trim().into();
    std::fs::write(
        x.join("manifest.json"),
        serde_json::to_vec_pretty(&m).unwrap(),
    )
    .unwrap();
    let order: Vec<String> = String::from_utf8(member(&b, "SHA256SUMS"))
        .unwrap()
        .lines()
        .map(|l| l.split_once("  ").unwrap().1.to_string())
        .collect();
    let sums = sh(&format!(
        "cd {} && sha256sum {}",
        x.display(),
        order.join(" ")
    ));
    assert_eq!(sums.code, 0, "{}", sums.stderr);
    std::fs::write(x.join("SHA256SUMS"), &sums.stdout).unwrap();
    std::fs::remove_file(x.join("SHA256SUMS.sig")).unwrap();
    assert_eq!(
        sh(&format!(
            "ssh-keygen -Y sign -q -f {} -n fieldkit-evidence {}/SHA256SUMS",
            key.display(),
            x.display()
        ))
        .code,
        0
    );
    let ops: Vec<String> = [
        "signer.pub",
        "manifest.json",
        "SHA256SUMS",
        "SHA256SUMS.sig",
    ]
    .iter()
    .map(|n| format!("replace={n}:{}", x.join(n).display()))
    .collect();
    let ops: Vec<&str> = ops.iter().map(String::as_str).collect();
    rewrite(&b, &ops);
    std::fs::remove_file(sidecar(&b, ".sha256")).unwrap();
    std::fs::remove_file(sidecar(&b, ".sig")).unwrap();
    // Self-attested, the forgery is internally consistent — but it names mallory's key,
    // which is not the fingerprint on the paper log.
    let v = verify(&b, &[]);
    assert_eq!(v.code, 0, "{}", v.stdout);
    assert!(
        v.stdout.contains(&format!("Signed by   {fp}")),
        "{}",
        v.stdout
    );
    assert!(
        v.stdout.starts_with(&format!(
            "INTACT — signer not checked: compare {fp} with the paper log"
        )),
        "{}",
        v.stdout
    );
    // Against the examiner's real key it is rejected: not as tampering (every hash
    // matches what mallory signed), but as not signed by the key the examiner trusts.
    let v = verify(&b, &["--pubkey", f.pubkey.to_str().unwrap()]);
    assert_eq!(v.code, 5, "{}", v.stdout);
    assert!(
        v.stdout.starts_with(&format!(
            "INTACT BUT NOT SIGNED BY THE KEY YOU TRUST — signed by {fp}, not by the key in {}",
            f.pubkey.display()
        )),
        "{}",
        v.stdout
    );
    assert!(
        v.stdout.contains("re-signed by someone else"),
        "{}",
        v.stdout
    );
    let anna = sh(&format!(
        "ssh-keygen -lf {} | cut -d' ' -f2",
        f.pubkey.display()
    ));
    let v = verify(&b, &["--fingerprint", anna.stdout.trim()]);
    assert_eq!(v.code, 5, "{}", v.stdout);
    let allowed = d.path().join("allowed_signers");
    let line = format!(
        "anna@lab.example namespaces=\"fieldkit-evidence\" {}",
        std::fs::read_to_string(&f.pubkey).unwrap()
    );
    std::fs::write(&allowed, line).unwrap();
    let v = verify(
        &b,
        &[
            "--allowed-signers",
            allowed.to_str().unwrap(),
            "--identity",
            "anna@lab.example",
        ],
    );
    assert_eq!(v.code, 5, "{}", v.stdout);
    assert!(
        v.stdout
            .contains(&format!("no line lists key {fp} for \"anna@lab.example\"")),
        "{}",
        v.stdout
    );
}

#[test]
fn t16_local_header_name_differs_from_central_directory() {
    let (_d, b) = copy_bundle();
    ed(&["local-name", b.to_str().unwrap(), "files/docs/a.txt"]);
    assert_rejected(
        &b,
        1,
        "local_header_mismatch",
        "member files/docs/a.txt: local header names it",
    );
}

#[test]
fn t17_central_directory_crc_altered() {
    let (_d, b) = copy_bundle();
    ed(&["cd-crc", b.to_str().unwrap(), "files/docs/c.txt"]);
    assert_rejected(
        &b,
        1,
        "local_header_mismatch",
        "files/docs/c.txt: local header CRC-32",
    );
}

#[test]
fn t18_data_appended_after_the_archive() {
    let (_d, b) = copy_bundle();
    sh(&format!("printf 'appended' >> {}", b.display()));
    assert_rejected(
        &b,
        1,
        "trailing_data",
        "data follows the end-of-central-directory record",
    );
}

#[test]
fn t19_data_prepended_before_the_archive() {
    let (_d, b) = copy_bundle();
    let bytes = std::fs::read(&b).unwrap();
    let mut v = b"#!/bin/sh\nexit 0\n".to_vec();
    v.extend_from_slice(&bytes);
    std::fs::write(&b, v).unwrap();
    assert_rejected(
        &b,
        1,
        "prepended_data",
        "bytes of unknown data precede the archive",
    );
}

#[test]
fn t20_member_marked_compressed_in_the_central_directory() {
    let (_d, b) = copy_bundle();
    ed(&["cd-method", b.to_str().unwrap(), "files/docs/b.txt"]);
    let v = verify(&b, &[]);
    assert_eq!(v.code, 1, "{}", v.stdout);
    assert!(
        v.stdout.contains(
            "[local_header_mismatch] member files/docs/b.txt: local header gives compression \
             method 0, the central directory 8"
        ),
        "{}",
        v.stdout
    );
}

#[test]
fn t20b_member_given_an_unknown_method_in_the_central_directory() {
    let (_d, b) = copy_bundle();
    // Method 12 (bzip2): low byte of the method field.
    ed(&[
        "cd-set",
        b.to_str().unwrap(),
        "files/docs/b.txt",
        "10",
        "12",
    ]);
    let v = verify(&b, &[]);
    assert_eq!(v.code, 1, "{}", v.stdout);
    assert!(
        v.stdout
            .contains("[compressed_member] member files/docs/b.txt is compressed with method 12"),
        "{}",
        v.stdout
    );
}

#[test]
fn t21_duplicate_member_name() {
    let (_d, b) = copy_bundle();
    rewrite(&b, &["dup=files/docs/a.txt"]);
    assert_rejected(
        &b,
        1,
        "duplicate_member",
        "member files/docs/a.txt appears twice in the central directory",
    );
}

#[test]
fn t22_signer_pub_swapped_for_another_key() {
    let (d, b) = copy_bundle();
    let key = ssh_keygen_key(d.path());
    let op = format!("replace=signer.pub:{}.pub", key.display());
    rewrite(&b, &[&op]);
    assert_rejected(&b, 1, "hash_mismatch", "member signer.pub");
    assert_rejected(&b, 1, "bad_signature", "not an accepted signer");
}

#[test]
fn t23_not_a_zip_and_missing_files_are_unusable() {
    let d = tempfile::tempdir().unwrap();
    let junk = d.path().join("junk.zip");
    std::fs::write(&junk, b"this is not a bundle").unwrap();
    assert_rejected(&junk, 2, "not_a_zip", "not a ZIP file");
    let v = verify(&d.path().join("missing.zip"), &[]);
    assert_eq!(v.code, 2);
    assert!(v.stdout.contains("[unreadable]"), "{}", v.stdout);
}

/// `fieldkit verify` (and `report`, which verifies first) on a damaged bundle, with a
/// deadline: a hang fails the test instead of blocking it.
fn verify_within(b: &Path, limit_secs: u64) -> Run {
    let mut cmd = fieldkit();
    cmd.arg("verify").arg(b);
    run_with_timeout(cmd, std::time::Duration::from_secs(limit_secs))
}

#[test]
fn t24_compressed_size_beyond_the_file_in_the_central_directory_ends_with_a_verdict() {
    let (d, b) = copy_bundle();
    // The high byte of findings.jsonl's compressed size: the member now claims ~4 GB.
    ed(&[
        "cd-set",
        b.to_str().unwrap(),
        "findings.jsonl",
        "23",
        "0xff",
    ]);
    let v = verify_within(&b, 20);
    assert_eq!(v.code, 1, "{}{}", v.stdout, v.stderr);
    assert!(
        v.stdout
            .contains("[impossible_size] member findings.jsonl: the central directory gives it"),
        "{}",
        v.stdout
    );
    assert!(
        v.stdout
            .contains("[unreadable_member] findings.jsonl: cannot read"),
        "{}",
        v.stdout
    );
    // `report` verifies first: it must end too, and say the bundle is not valid.
    let html = d.path().join("r.html");
    let mut cmd = fieldkit();
    cmd.arg("report")
        .arg(&b)
        .args(["--format", "text", "--out"])
        .arg(&html);
    let r = run_with_timeout(cmd, std::time::Duration::from_secs(20));
    assert_ne!(r.code, 101, "{}", r.stderr);
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
}

#[test]
fn t25_zip64_size_that_overflows_an_offset_is_rejected_without_a_panic() {
    // Local header and central directory agree on a size near 2^64: adding it to the
    // member's offset overflows.
    for op in ["zip64-size", "cd-zip64-size"] {
        let (_d, b) = copy_bundle();
        ed(&[
            op,
            b.to_str().unwrap(),
            "files/docs/c.txt",
            "0xfffffffffffffff0",
        ]);
        let v = verify_within(&b, 20);
        assert!(!v.stderr.contains("panicked"), "{op}: {}", v.stderr);
        assert_eq!(v.code, 1, "{op}: {}{}", v.stdout, v.stderr);
        assert!(
            v.stdout.contains(
                "[impossible_size] member files/docs/c.txt: the central directory gives it"
            ),
            "{op}: {}",
            v.stdout
        );
    }
}

/// A small bundle (three short files) without sidecars: every byte of it must be
/// protected by the bundle's own checks.
fn small_bundle(compress: &str) -> (tempfile::TempDir, PathBuf) {
    let d = tempfile::tempdir().unwrap();
    let src = d.path().join("src");
    std::fs::create_dir_all(src.join("d")).unwrap();
    std::fs::write(src.join("d/one.txt"), b"first small file\n").unwrap();
    std::fs::write(src.join("d/two.txt"), b"second small file\n").unwrap();
    std::fs::write(src.join("three.bin"), [0u8, 1, 2, 3, 250, 251, 252]).unwrap();
    std::fs::write(src.join("d/log.txt"), "a log line, again\n".repeat(100)).unwrap();
    let (r, b) = collect(
        &src,
        &d.path().join("out"),
        &["--case", "M-1", "--compress", compress],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let lone = d.path().join("lone.zip");
    std::fs::copy(&b, &lone).unwrap();
    (d, lone)
}

#[test]
fn no_single_byte_change_anywhere_verifies_hangs_or_panics() {
    single_byte_changes("never");
}

#[test]
fn no_single_byte_change_anywhere_in_a_compressed_bundle_verifies_hangs_or_panics() {
    single_byte_changes("auto");
}

fn single_byte_changes(compress: &str) {
    let (d, b) = small_bundle(compress);
    if compress == "auto" {
        let methods = sh(&format!("unzip -Z -v {} | grep -c 'deflated'", b.display()));
        assert!(
            methods.stdout.trim().parse::<u32>().unwrap() >= 3,
            "the compressed bundle has Deflate members: {}",
            methods.stdout
        );
    }
    let original = std::fs::read(&b).unwrap();
    let v = verify_within(&b, 20);
    assert_eq!(v.code, 0, "the untouched copy verifies: {}", v.stdout);
    // Structural bytes (local headers, central directory, end records) are a small part
    // of the file: half of the offsets are drawn from them, half from the whole file.
    let offsets: serde_json::Value =
        serde_json::from_str(&zipedit(&["offsets", b.to_str().unwrap()]).stdout).unwrap();
    let mut regions: Vec<(u64, u64)> = Vec::new();
    let mut data_end = 0;
    for v in offsets.as_object().unwrap().values() {
        let (h, ds, size) = (
            v[0].as_u64().unwrap(),
            v[1].as_u64().unwrap(),
            v[2].as_u64().unwrap(),
        );
        regions.push((h, ds));
        data_end = data_end.max(ds + size);
    }
    regions.push((data_end, original.len() as u64));
    let structural: Vec<u64> = regions.iter().flat_map(|&(a, b)| a..b).collect();
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let m = d.path().join("mutated.zip");
    for i in 0..200 {
        let off = if i % 2 == 0 {
            structural[(next() % structural.len() as u64) as usize]
        } else {
            next() % original.len() as u64
        } as usize;
        let mut bytes = original.clone();
        // Alternate a one-bit flip and an overwrite with another value.
        bytes[off] = if i % 4 < 2 {
            bytes[off] ^ (1 << (next() % 8))
        } else {
            let v = (next() % 255) as u8;
            if v >= bytes[off] { v + 1 } else { v }
        };
        std::fs::write(&m, &bytes).unwrap();
        let r = verify_within(&m, 20);
        let what = format!(
            "mutation {i}: byte {off} {:#04x} -> {:#04x}\n{}{}",
            original[off], bytes[off], r.stdout, r.stderr
        );
        assert!(!r.stderr.contains("panicked"), "{what}");
        assert!(
            matches!(r.code, 1..=3),
            "a changed bundle must be invalid, unusable or not finalized: {what}"
        );
        assert!(!r.stdout.starts_with("VALID"), "{what}");
    }
}

fn extract(b: &Path, dir: &Path) -> Run {
    let mut cmd = fieldkit();
    cmd.arg("extract").arg(b).arg(dir);
    run_with_timeout(cmd, std::time::Duration::from_secs(60))
}

/// Everything below `dir` (relative, sorted), to show what an extraction left.
fn tree_of(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = walk(dir)
        .iter()
        .map(|p| p.strip_prefix(dir).unwrap().display().to_string())
        .collect();
    v.sort();
    v
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            out.push(e.path());
            if e.file_type().unwrap().is_dir() {
                out.extend(walk(&e.path()));
            }
        }
    }
    out
}

#[test]
fn extract_exit_codes_follow_the_readme_and_a_failure_leaves_nothing_that_looks_extracted() {
    let (d, b) = copy_bundle();
    // Bad arguments (2): no such bundle, not a ZIP, a target that is a file.
    let r = extract(&d.path().join("missing.zip"), &d.path().join("x1"));
    assert_eq!(r.code, 2, "{}", r.stderr);
    let junk = d.path().join("junk.zip");
    std::fs::write(&junk, b"not a zip").unwrap();
    assert_eq!(extract(&junk, &d.path().join("x2")).code, 2);
    let file = d.path().join("a-file");
    std::fs::write(&file, b"x").unwrap();
    let r = extract(&b, &file);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("not a directory"), "{}", r.stderr);
    assert!(!d.path().join("x1").exists() && !d.path().join("x2").exists());
    // Refused (1): a target that is not empty.
    let full = d.path().join("full");
    std::fs::create_dir(&full).unwrap();
    std::fs::write(full.join("keep"), b"k").unwrap();
    let r = extract(&b, &full);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(tree_of(&full), vec!["keep"]);
    // Refused (1) before writing anything: an unsafe name, and a name that is both a
    // file and the directory of another member.
    for (op, why) in [
        (
            "rename=files/docs/a.txt:files/../../evil.txt",
            "'..' component",
        ),
        (
            "add=files/docs/a.txt/inner:/dev/null",
            "both a file and a directory",
        ),
    ] {
        let (d2, b2) = copy_bundle();
        rewrite(&b2, &[op]);
        let x = d2.path().join("x");
        let r = extract(&b2, &x);
        assert_eq!(r.code, 1, "{op}: {}", r.stderr);
        assert!(r.stderr.contains(why), "{op}: {}", r.stderr);
        assert_eq!(r.stderr.trim().lines().count(), 1, "{}", r.stderr);
        assert!(!x.exists(), "{op}: nothing created: {:?}", tree_of(&x));
        assert!(!d2.path().join("evil.txt").exists());
    }
    // Failed part-way (1): a damaged member. Members extracted before it must not be
    // left looking like an extraction.
    let (d3, b3) = copy_bundle();
    ed(&["flip", b3.to_str().unwrap(), "manifest.json", "10"]);
    let x = d3.path().join("x");
    std::fs::create_dir(&x).unwrap();
    let r = extract(&b3, &x);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("manifest.json"), "{}", r.stderr);
    assert_eq!(
        tree_of(&x),
        Vec::<String>::new(),
        "the target is left empty"
    );
    // And the untouched bundle extracts (0).
    let x = d.path().join("good");
    let r = extract(&b, &x);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(x.join("files/docs/a.txt").is_file() && x.join("SHA256SUMS").is_file());
    assert!(!tree_of(&x).iter().any(|p| p.contains(".fieldkit-extract")));
}

/// A compressed bundle (the default `--compress auto`) of the fixture's files plus a text
/// log, in a fresh directory with its sidecars.
fn compressed_bundle() -> (tempfile::TempDir, PathBuf) {
    static B: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    let (_keep, made) = B.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        std::fs::create_dir_all(src.join("logs")).unwrap();
        let mut log = String::new();
        for i in 0..3000 {
            log.push_str(&format!(
                "Dec  4 19:{:02}:{:02} host sshd[{}]: Accepted publickey for user{} from 10.0.{}.{}\n",
                i / 60 % 60,
                i % 60,
                4000 + i,
                i % 17,
                i % 5,
                i % 250
            ));
        }
        std::fs::write(src.join("logs/auth.log"), &log).unwrap();
        write_random(&src.join("blob.bin"), 300_000, 9);
        let (r, b) = collect(&src, &dir.path().join("out"), &["--case", "C-1"]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        (dir, b)
    });
    let d = tempfile::tempdir().unwrap();
    let dst = d.path().join(made.file_name().unwrap());
    std::fs::copy(made, &dst).unwrap();
    for ext in [".sha256", ".sig"] {
        std::fs::copy(sidecar(made, ext), sidecar(&dst, ext)).unwrap();
    }
    (d, dst)
}

/// `unzip -Z -v`'s compression method of one member.
fn method_of(b: &Path, member: &str) -> String {
    let z = sh(&format!("unzip -Z -v '{}' '{member}'", b.display()));
    z.stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("compression method:"))
        .map(|m| m.trim().to_string())
        .unwrap_or_default()
}

#[test]
fn c00_the_compressed_bundle_deflates_text_stores_noise_and_passes_every_zip_reader() {
    let (_d, b) = compressed_bundle();
    assert_eq!(verify(&b, &[]).code, 0);
    assert_eq!(method_of(&b, "files/logs/auth.log"), "deflated");
    assert_eq!(method_of(&b, "files.jsonl"), "deflated");
    assert_eq!(method_of(&b, "files/blob.bin"), "none (stored)");
    for always in [
        "SHA256SUMS",
        "SHA256SUMS.sig",
        "signer.pub",
        "compressed.jsonl",
    ] {
        assert_eq!(method_of(&b, always), "none (stored)", "{always}");
    }
    let q = b.display();
    for check in [
        format!("unzip -tq '{q}'"),
        format!("python3 -m zipfile -t '{q}'"),
        format!("7z t '{q}' | grep -q '^Everything is Ok'"),
    ] {
        let r = sh(&check);
        assert_eq!(r.code, 0, "{check}: {}{}", r.stdout, r.stderr);
    }
}

#[test]
fn c01_flipped_byte_in_a_deflated_payload() {
    let (_d, b) = compressed_bundle();
    ed(&["flip", b.to_str().unwrap(), "files/logs/auth.log"]);
    assert_rejected(
        &b,
        1,
        "stored_bytes_mismatch",
        "member files/logs/auth.log: its stored (Deflate) bytes are",
    );
}

#[test]
fn c02_flipped_byte_in_the_deflated_manifest() {
    let (_d, b) = compressed_bundle();
    assert_eq!(method_of(&b, "manifest.json"), "deflated");
    ed(&["flip", b.to_str().unwrap(), "manifest.json", "40"]);
    assert_rejected(&b, 1, "stored_bytes_mismatch", "member manifest.json");
}

#[test]
fn c03_altered_deflate_data_with_a_forged_crc_passes_unzip_but_not_verify() {
    let (_d, b) = compressed_bundle();
    ed(&["deflate-forge", b.to_str().unwrap(), "files/logs/auth.log"]);
    // Every ZIP reader accepts the forgery: the CRC-32 is the altered content's own.
    let q = b.display();
    assert_eq!(sh(&format!("unzip -tq '{q}'")).code, 0);
    assert_eq!(sh(&format!("python3 -m zipfile -t '{q}'")).code, 0);
    assert_rejected(
        &b,
        1,
        "hash_mismatch",
        "member files/logs/auth.log: SHA-256",
    );
    assert_rejected(&b, 1, "stored_bytes_mismatch", "files/logs/auth.log");
    assert_rejected(&b, 1, "record_mismatch", "auth.log");
}

#[test]
fn c04_a_changed_bit_no_decoder_reads_is_still_caught() {
    let (_d, b) = compressed_bundle();
    let q = b.display();
    let before = sh(&format!("unzip -p '{q}' files/logs/auth.log | sha256sum"));
    ed(&["deflate-pad", b.to_str().unwrap(), "files/logs/auth.log"]);
    let after = sh(&format!("unzip -p '{q}' files/logs/auth.log | sha256sum"));
    assert_eq!(
        before.stdout, after.stdout,
        "the content inflates unchanged"
    );
    assert_eq!(sh(&format!("unzip -tq '{q}'")).code, 0);
    let v = verify(&b, &[]);
    assert_eq!(v.code, 1, "{}", v.stdout);
    // Inside the bundle only the stored form says so (content, CRC and records all still
    // agree); outside it, the sidecars' whole-file hash and signature.
    let problems: Vec<&str> = v
        .stdout
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- ["))
        .filter_map(|l| l.split(']').next())
        .collect();
    assert_eq!(
        problems,
        [
            "stored_bytes_mismatch",
            "sidecar_mismatch",
            "sidecar_signature"
        ],
        "{}",
        v.stdout
    );
}

#[test]
fn c05_compressed_jsonl_altered() {
    let (_d, b) = compressed_bundle();
    ed(&["flip", b.to_str().unwrap(), "compressed.jsonl", "30"]);
    assert_rejected(&b, 1, "hash_mismatch", "member compressed.jsonl: SHA-256");
    // The reader refuses the member on its CRC-32 before its lines are compared.
    assert_rejected(&b, 1, "crc_mismatch", "member compressed.jsonl");
    assert_rejected(
        &b,
        1,
        "bad_compressed_record",
        "cannot read member compressed.jsonl",
    );
}

#[test]
fn c06_a_forger_who_stores_every_member_again_leaves_compressed_jsonl_unmatched() {
    let (_d, b) = compressed_bundle();
    // Python's zipfile rebuilds the archive with every member stored, content unchanged.
    rewrite(&b, &[]);
    assert_rejected(
        &b,
        1,
        "bad_compressed_record",
        "compressed.jsonl lists more than the 0 deflated member(s)",
    );
}

#[test]
fn c07_compressed_jsonl_naming_another_member() {
    let (_d, b) = compressed_bundle();
    // One letter of the member's name changed in place inside compressed.jsonl (stored):
    // its line no longer binds the member.
    let offsets: serde_json::Value =
        serde_json::from_str(&zipedit(&["offsets", b.to_str().unwrap()]).stdout).unwrap();
    let ds = offsets["compressed.jsonl"][1].as_u64().unwrap() as usize;
    let mut bytes = std::fs::read(&b).unwrap();
    let name = b"files/logs/auth.log";
    let at = ds
        + bytes[ds..]
            .windows(name.len())
            .position(|w| w == name)
            .unwrap();
    bytes[at + 11] = b'x';
    std::fs::write(&b, &bytes).unwrap();
    // Its CRC-32 forged to match, so its lines are read and compared.
    ed(&["set-crc", b.to_str().unwrap(), "compressed.jsonl"]);
    assert_rejected(
        &b,
        1,
        "stored_bytes_mismatch",
        "compressed.jsonl line 1 records files/logs/xuth.log",
    );
    assert_rejected(&b, 1, "hash_mismatch", "member compressed.jsonl");
}
