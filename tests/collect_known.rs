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

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    hex(&sha2::Sha256::digest(data))
}

/// `fieldkit hashset build` from the given inputs; panics unless it succeeds.
fn build_set(out: &Path, kind: &str, extra: &[&str], inputs: &[&Path]) {
    let mut args = vec![
        "hashset",
        "build",
        "--quiet",
        "--out",
        out.to_str().unwrap(),
        "--kind",
        kind,
    ];
    args.extend_from_slice(extra);
    args.extend(inputs.iter().map(|p| p.to_str().unwrap()));
    let r = run(&args);
    assert_eq!(r.code, 0, "build failed: {}", r.stderr);
}

fn findings(bundle: &Path) -> Vec<serde_json::Value> {
    String::from_utf8(member(bundle, "findings.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Mounts a tmpfs of `size` at `dir` for the life of the value.
struct Tmpfs(std::path::PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Tmpfs {
        std::fs::create_dir_all(dir).unwrap();
        let r = sh(&format!(
            "mount -t tmpfs -o size={size} fieldkit-test {}",
            dir.display()
        ));
        assert_eq!(r.code, 0, "mount tmpfs: {}", r.stderr);
        Tmpfs(dir.to_path_buf())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = sh(&format!("umount {}", self.0.display()));
    }
}

#[test]
fn a_damaged_known_bad_set_is_refused_before_anything_is_collected() {
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("a.txt"), b"a").unwrap();
    // One data byte flipped (inside the first entry): only a full check at open sees it,
    // since a lookup of a.txt would never read that byte.
    let mut bytes = std::fs::read(eicar_set()).unwrap();
    bytes[16 + 3] ^= 0x01;
    let damaged = t.path().join("eicar-damaged.fkhs");
    std::fs::write(&damaged, &bytes).unwrap();
    let out = t.path().join("out");
    let r = run(&[
        "collect",
        "--source",
        src.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--known-bad",
        damaged.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert_eq!(r.stderr.lines().count(), 1, "one line: {}", r.stderr);
    assert!(
        r.stderr.contains("refusing to collect with a damaged set")
            && r.stderr.contains("integrity check failed: data block 0")
            && r.stderr.contains("eicar-damaged.fkhs"),
        "{}",
        r.stderr
    );
    assert!(!out.exists(), "nothing may be written");
}

/// 1,000,000 random SHA-256 plus `extra`, as a known-good set (37 MB: above the size
/// checked whole at open, so it is checked block by block on first use). Returns the
/// set and the sorted keys.
fn large_known_good_set(dir: &Path, extra: &[[u8; 32]]) -> (std::path::PathBuf, Vec<[u8; 32]>) {
    use sha2::Digest;
    let mut keys: Vec<[u8; 32]> = (0..1_000_000u32)
        .map(|i| sha2::Sha256::digest(i.to_be_bytes()).into())
        .collect();
    keys.extend_from_slice(extra);
    let mut text = String::with_capacity(keys.len() * 65);
    for k in &keys {
        text.push_str(&hex(k));
        text.push('\n');
    }
    let list = dir.join("reference.txt");
    std::fs::write(&list, text).unwrap();
    let set = dir.join("reference.fkhs");
    build_set(&set, "known-good", &["--name", "reference"], &[&list]);
    keys.sort();
    (set, keys)
}

#[test]
fn a_damaged_block_in_a_large_known_good_set_is_an_alert_a_finding_and_a_count_and_hides_no_known_bad_match()
 {
    use sha2::Digest;
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("eicar.com"), EICAR).unwrap();
    std::fs::write(src.join("notes.txt"), b"some notes").unwrap();
    // The reference set (wrongly, for this test) also lists EICAR: the known-bad answer
    // must come through even when this set cannot answer.
    let eicar_sha: [u8; 32] = sha2::Sha256::digest(EICAR).into();
    let (set, keys) = large_known_good_set(t.path(), &[eicar_sha]);
    let bad_set = eicar_set();

    // Intact: lazily verified, and its file SHA-256 is still in the manifest.
    let (r, bundle) = collect(
        &src,
        &t.path().join("out1"),
        &[
            "--known-good",
            set.to_str().unwrap(),
            "--known-bad",
            bad_set.to_str().unwrap(),
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let m = manifest(&bundle);
    let good = &m["known_sets"][0];
    assert_eq!(good["name"], "reference");
    assert!(
        good["verification"].as_str().unwrap().starts_with("lazy"),
        "{good}"
    );
    assert_eq!(
        good["file_sha256"],
        sha256_hex(&std::fs::read(&set).unwrap()),
        "{good}"
    );
    assert!(
        good["file_sha256_note"]
            .as_str()
            .unwrap()
            .contains("re-checked every block"),
        "{good}"
    );
    assert_eq!(good["lookup_errors"], 0);
    assert_eq!(good["format_version"], 2);
    assert_eq!(good["block_digest"], "blake3");
    let bad = &m["known_sets"][1];
    assert!(
        bad["verification"].as_str().unwrap().starts_with("full"),
        "{bad}"
    );
    assert_eq!(
        bad["file_sha256"],
        sha256_hex(&std::fs::read(&bad_set).unwrap())
    );
    // EICAR matched both sets; known-bad wins: stored.
    let recs = records(&bundle);
    assert_eq!(record_for(&recs, "eicar.com")["status"], "collected");

    // Damaged: flip a byte of the EICAR entry (entries start after the 16-byte prelude).
    let index = keys.binary_search(&eicar_sha).unwrap();
    let at = 16 + index * 37 + 7;
    let mut bytes = std::fs::read(&set).unwrap();
    bytes[at] ^= 0x01;
    std::fs::write(&set, &bytes).unwrap();
    let (r, bundle) = collect(
        &src,
        &t.path().join("out2"),
        &[
            "--known-good",
            set.to_str().unwrap(),
            "--known-bad",
            bad_set.to_str().unwrap(),
        ],
    );
    assert_eq!(
        r.code, 0,
        "a damaged known-good set does not stop the run: {}",
        r.stderr
    );
    let block = at / 65536;
    assert!(
        r.stderr.contains("KNOWN-FILE CHECK FAILED:")
            && r.stderr.contains("eicar.com")
            && r.stderr.contains(&format!("data block {block} ")),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("KNOWN-BAD FILE:"), "{}", r.stderr);
    let recs = records(&bundle);
    let eicar = record_for(&recs, "eicar.com");
    assert_eq!(eicar["status"], "collected", "{eicar}");
    assert_eq!(eicar["known"][0]["kind"], "known_bad", "{eicar}");
    assert_eq!(member(&bundle, eicar["member"].as_str().unwrap()), EICAR);
    let all = findings(&bundle);
    let failed: Vec<_> = all
        .iter()
        .filter(|f| f["kind"] == "hashset.lookup_failed")
        .collect();
    assert!(!failed.is_empty());
    let eicar_failed = failed
        .iter()
        .find(|f| f["path"].as_str().unwrap().ends_with("eicar.com"))
        .expect("a lookup_failed finding for eicar.com");
    assert_eq!(eicar_failed["severity"], "medium");
    assert_eq!(eicar_failed["evidence"]["set"], "reference");
    assert!(
        eicar_failed["evidence"]["error"]
            .as_str()
            .unwrap()
            .contains("integrity check failed")
    );
    assert!(all.iter().any(|f| f["kind"] == "hashset.known_bad"));
    let m = manifest(&bundle);
    let good = &m["known_sets"][0];
    assert_eq!(good["lookup_errors"], failed.len() as u64, "{good}");
    assert_eq!(m["known_sets"][1]["lookup_errors"], 0);
    // The background pass over the damaged set finds the block too: no file SHA-256.
    assert!(good.get("file_sha256").is_none(), "{good}");
    assert!(
        good["file_sha256_note"]
            .as_str()
            .unwrap()
            .contains(&format!("data block {block} does not match its digest")),
        "{good}"
    );
    assert_eq!(verify(&bundle, &[]).code, 0);
}

#[test]
fn over_limit_files_are_hashed_without_storing_and_only_known_bad_ones_are_read_again() {
    require_root();
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    write_random(&src.join("bad.bin"), 5 << 20, 1);
    write_random(&src.join("big.bin"), 5 << 20, 2);
    std::fs::write(src.join("small.txt"), b"small").unwrap();
    let bad_bytes = std::fs::read(src.join("bad.bin")).unwrap();
    let list = t.path().join("bad.sha256");
    std::fs::write(&list, format!("{}  bad.bin\n", sha256_hex(&bad_bytes))).unwrap();
    let set = t.path().join("bad.fkhs");
    build_set(&set, "known-bad", &["--name", "samples"], &[&list]);
    let profile = t.path().join("limit.toml");
    std::fs::write(
        &profile,
        "name = \"limit-1k\"\nformat_version = 1\nmax_file_size = \"1KiB\"\n\n\
         [[rule]]\nname = \"everything\"\ncategory = \"all\"\npaths = [\"/**\"]\n",
    )
    .unwrap();
    let (r, bundle) = collect(
        &src,
        &t.path().join("out"),
        &[
            "--profile",
            profile.to_str().unwrap(),
            "--known-bad",
            set.to_str().unwrap(),
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("KNOWN-BAD FILE:"), "{}", r.stderr);
    let recs = records(&bundle);
    let bad = record_for(&recs, "bad.bin");
    assert_eq!(bad["status"], "collected", "{bad}");
    assert_eq!(bad["sha256"], sha256_hex(&bad_bytes));
    assert!(
        bad["read_method"].as_str().unwrap().contains("read twice")
            && bad["read_method"]
                .as_str()
                .unwrap()
                .contains("both reads have the same SHA-256"),
        "{bad}"
    );
    assert!(
        bad["detail"]
            .as_str()
            .unwrap()
            .contains("known-bad: stored although"),
        "{bad}"
    );
    assert_eq!(member(&bundle, bad["member"].as_str().unwrap()), bad_bytes);
    let f = findings(&bundle)
        .into_iter()
        .find(|f| f["kind"] == "hashset.known_bad")
        .expect("known-bad finding");
    assert_eq!(f["member"], bad["member"]);
    assert_eq!(f["evidence"]["set"], "samples");
    let big = record_for(&recs, "big.bin");
    assert_eq!(big["status"], "skipped", "{big}");
    assert_eq!(big["reason"], "too_large");
    assert_eq!(
        big["sha256"],
        sha256_hex(&std::fs::read(src.join("big.bin")).unwrap())
    );
    assert!(big["member"].is_null());
    assert!(
        big["detail"]
            .as_str()
            .unwrap()
            .contains("read once and hashed"),
        "{big}"
    );
    assert_eq!(record_for(&recs, "small.txt")["status"], "collected");
    assert_eq!(manifest(&bundle)["counts"]["known_bad"], 1);
    assert_eq!(verify(&bundle, &[]).code, 0);

    // No byte of a skipped over-limit file reaches the output: a 12 MiB file (above
    // the 8 MiB that are read into memory, so it would have been streamed into the
    // bundle's .part) and the 5 MiB one, onto a 3 MiB filesystem.
    let src2 = t.path().join("src2");
    std::fs::create_dir_all(&src2).unwrap();
    write_random(&src2.join("huge.bin"), 12 << 20, 3);
    std::fs::copy(src.join("big.bin"), src2.join("big.bin")).unwrap();
    std::fs::write(src2.join("small.txt"), b"small").unwrap();
    let small_fs = Tmpfs::mount(&t.path().join("small-fs"), "3m");
    let (r, bundle) = collect(
        &src2,
        &small_fs.0.join("out"),
        &[
            "--profile",
            profile.to_str().unwrap(),
            "--known-bad",
            set.to_str().unwrap(),
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let recs = records(&bundle);
    for name in ["huge.bin", "big.bin"] {
        let rec = record_for(&recs, name);
        assert_eq!(rec["status"], "skipped", "{rec}");
        assert_eq!(
            rec["sha256"],
            sha256_hex(&std::fs::read(src2.join(name)).unwrap())
        );
    }
    assert!(std::fs::metadata(&bundle).unwrap().len() < 1 << 20);
    assert_eq!(verify(&bundle, &[]).code, 0);
}

#[test]
fn an_md5_only_vics_set_makes_collect_compute_md5_and_flags_the_file() {
    use md5::Digest;
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("src");
    std::fs::create_dir_all(src.join("Pictures")).unwrap();
    let image = b"\xFF\xD8\xFF\xE0 not really a jpeg, but listed by its MD5";
    std::fs::write(src.join("Pictures/IMG_0001.jpg"), image).unwrap();
    std::fs::write(src.join("Pictures/holiday.jpg"), b"an unlisted picture").unwrap();
    let image_md5 = hex(&md5::Md5::digest(image));
    // Project VIC VICS 2.0 export: Media with MD5 only (no SHA1/SHA256), a Category.
    let vics = format!(
        "{{\"@odata.context\": \"http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/Default/$metadata#Media\",\n\
         \"value\": [\n\
         {{\"MediaID\": 1, \"Category\": 1, \"MD5\": \"{}\", \"MediaSize\": {}}},\n\
         {{\"MediaID\": 2, \"Category\": 2, \"MD5\": \"{}\", \"MediaSize\": 3}}\n]}}\n",
        image_md5.to_uppercase(),
        image.len(),
        hex(&md5::Md5::digest(b"xyz"))
    );
    let json = t.path().join("agency.json");
    std::fs::write(&json, vics).unwrap();
    let set = t.path().join("agency.fkhs");
    build_set(
        &set,
        "known-bad",
        &[
            "--name",
            "agency",
            "--category-label",
            "1=Category 1 (test label)",
        ],
        &[&json],
    );
    let (r, bundle) = collect(
        &src,
        &t.path().join("out"),
        &["--known-bad", set.to_str().unwrap()],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("KNOWN-BAD FILE:") && r.stderr.contains("IMG_0001.jpg"),
        "{}",
        r.stderr
    );
    let m = manifest(&bundle);
    assert!(
        m["hash_algorithms"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!("md5")),
        "{}",
        m["hash_algorithms"]
    );
    let recs = records(&bundle);
    let hit = record_for(&recs, "IMG_0001.jpg");
    assert_eq!(hit["md5"], image_md5);
    assert_eq!(hit["known"][0]["algorithm"], "md5");
    assert_eq!(hit["status"], "collected");
    let other = record_for(&recs, "holiday.jpg");
    assert_eq!(
        other["md5"].as_str().unwrap().len(),
        32,
        "every file gets an MD5"
    );
    assert!(other["known"].as_array().is_none_or(|k| k.is_empty()));
    let f = findings(&bundle)
        .into_iter()
        .find(|f| f["kind"] == "hashset.known_bad")
        .expect("known-bad finding");
    // The set holds MD5 only, so no stronger digest missed: not downgraded.
    assert_eq!(f["severity"], "critical");
    assert_eq!(f["evidence"]["algorithm"], "md5");
    assert_eq!(f["evidence"]["category"], "Category 1 (test label)");
    assert_eq!(f["evidence"]["category_code"], "1");
    assert_eq!(f["evidence"]["digest"], image_md5);
    assert_eq!(m["counts"]["known_bad"], 1);
}

#[test]
fn a_sha1_only_set_makes_collect_compute_sha1_and_flags_the_file() {
    use sha1::Digest;
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    let tool = b"MZ\x90\x00 a listed tool";
    std::fs::write(src.join("tool.exe"), tool).unwrap();
    std::fs::write(src.join("readme.txt"), b"unlisted").unwrap();
    let tool_sha1 = hex(&sha1::Sha1::digest(tool));
    let list = t.path().join("tools.sha1");
    std::fs::write(&list, format!("{tool_sha1} *tool.exe\n")).unwrap();
    let set = t.path().join("tools.fkhs");
    build_set(&set, "known-bad", &["--name", "tools"], &[&list]);
    let (r, bundle) = collect(
        &src,
        &t.path().join("out"),
        &["--known-bad", set.to_str().unwrap()],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let m = manifest(&bundle);
    let algs = m["hash_algorithms"].as_array().unwrap();
    assert!(algs.contains(&serde_json::json!("sha1")), "{algs:?}");
    assert!(!algs.contains(&serde_json::json!("md5")), "{algs:?}");
    let recs = records(&bundle);
    let hit = record_for(&recs, "tool.exe");
    assert_eq!(hit["sha1"], tool_sha1);
    assert_eq!(hit["known"][0]["algorithm"], "sha1");
    assert!(record_for(&recs, "readme.txt")["md5"].is_null());
    let f = findings(&bundle)
        .into_iter()
        .find(|f| f["kind"] == "hashset.known_bad")
        .expect("known-bad finding");
    assert_eq!(f["severity"], "critical");
    assert_eq!(f["evidence"]["algorithm"], "sha1");
    assert_eq!(f["evidence"]["set"], "tools");
}
