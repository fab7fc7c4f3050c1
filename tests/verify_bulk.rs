//! `fieldkit verify` over many bundles: a folder and a --from list, verified in parallel,
//! each row's verdict and exit code equal to the single-bundle `fieldkit verify` of that
//! bundle; the overall exit code is the most serious one; single-bundle use unchanged.

mod common;

use std::path::{Path, PathBuf};

use common::run;

fn write(p: &Path, data: &[u8]) {
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, data).unwrap();
}

#[test]
fn bulk_verify_rows_equal_single_verifies_and_exit_is_the_most_serious() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    let mut b: Vec<PathBuf> = Vec::new();
    for i in 0..4 {
        let src = root.join(format!("s{i}"));
        write(&src.join("f.txt"), format!("content {i}\n").as_bytes());
        let (r, bundle) = common::collect(
            &src,
            &root.join(format!("store/E{i}")),
            &["--quiet", "--no-triage", "--exhibit", &format!("E{i}")],
        );
        assert_eq!(r.code, 0, "{}", r.stderr);
        b.push(bundle);
    }
    // E1 tampered (exit 1); E2 cut short (not finalized, exit 3).
    let mut bytes = std::fs::read(&b[1]).unwrap();
    let at = bytes.windows(10).position(|w| w == b"content 1\n").unwrap();
    bytes[at] = b'C';
    std::fs::write(&b[1], &bytes).unwrap();
    let bytes = std::fs::read(&b[2]).unwrap();
    std::fs::write(&b[2], &bytes[..bytes.len() / 2]).unwrap();
    let r = run(&["verify", root.join("store").to_str().unwrap(), "--json"]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    let v = r.json();
    assert_eq!(v["total"], 4);
    for row in v["bundles"].as_array().unwrap() {
        let single = run(&["verify", row["bundle"].as_str().unwrap(), "--json"]);
        assert_eq!(
            row["exit_code"].as_i64().unwrap(),
            i64::from(single.code),
            "{row}"
        );
        assert_eq!(row["verdict"], single.json()["verdict"]);
        assert_eq!(row["headline"], single.json()["headline"]);
    }
    let codes: Vec<i64> = v["bundles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["exit_code"].as_i64().unwrap())
        .collect();
    assert_eq!(codes, vec![0, 1, 3, 0]);
    // Without the tampered one, the most serious is 3; a --from list and text table.
    let list = root.join("list.txt");
    write(
        &list,
        format!("# store check\n{}\n{}\n", b[0].display(), b[2].display()).as_bytes(),
    );
    let r = run(&[
        "verify",
        "--from",
        list.to_str().unwrap(),
        b[3].to_str().unwrap(),
    ]);
    assert_eq!(r.code, 3, "{}", r.stdout);
    assert!(
        r.stdout.contains("3 bundle(s)") && r.stdout.contains("1 not_finalized, 2 valid"),
        "{}",
        r.stdout
    );
    // Single-bundle verify: unchanged output form and codes.
    let r = run(&["verify", b[0].to_str().unwrap()]);
    assert_eq!(r.code, 0);
    assert!(!r.stdout.contains("bundle(s) in"), "{}", r.stdout);
    assert_eq!(run(&["verify", b[1].to_str().unwrap()]).code, 1);
    assert_eq!(
        run(&["verify", root.join("nothing-here").to_str().unwrap()]).code,
        2
    );
}
