//! Where `collect` may write: output inside the source (also reached through `..`),
//! next to its own binary, on the collected file system of a live root, and a full
//! output device — each refused or failed loudly with nothing left that looks like a
//! bundle. Split from tests/collect.rs (which keeps the round trips and the special
//! cases of what is read).

mod common;

use std::path::Path;
use std::time::Duration;

use common::*;

#[test]
fn output_inside_the_source_is_refused_before_anything_is_written() {
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("src");
    std::fs::create_dir_all(src.join("evidence")).unwrap();
    std::fs::write(src.join("evidence/f"), b"f").unwrap();
    let before = sh(&format!("find {} | sort", src.display())).stdout;
    let r = run(&[
        "collect",
        "--source",
        src.to_str().unwrap(),
        "--out",
        src.join("out").to_str().unwrap(),
    ]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("refusing to write inside the source"),
        "{}",
        r.stderr
    );
    assert_eq!(
        r.stderr.trim().lines().count(),
        1,
        "one clear line: {}",
        r.stderr
    );
    assert_eq!(
        sh(&format!("find {} | sort", src.display())).stdout,
        before,
        "nothing was written"
    );
    // A symlinked path into the source is caught too.
    std::os::unix::fs::symlink(&src, t.path().join("alias")).unwrap();
    let r = run(&[
        "collect",
        "--source",
        src.to_str().unwrap(),
        "--out",
        t.path().join("alias/evidence/o").to_str().unwrap(),
    ]);
    assert_eq!(r.code, 2);
    assert_eq!(sh(&format!("find {} | sort", src.display())).stdout, before);
}

#[test]
fn a_full_output_device_fails_loudly_and_leaves_nothing_that_looks_valid() {
    require_root();
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("src");
    let out = t.path().join("out");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::create_dir(&out).unwrap();
    write_random(&src.join("big.bin"), 24 << 20, 5);
    std::fs::write(src.join("small.txt"), b"small").unwrap();
    let m = sh(&format!(
        "mount -t tmpfs -o size=8m fieldkit-test {}",
        out.display()
    ));
    assert_eq!(m.code, 0, "mount tmpfs: {}", m.stderr);
    let (r, _) = collect(&src, &out, &[]);
    let names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let part = out.join(
        names
            .iter()
            .find(|n| n.ends_with(".part"))
            .cloned()
            .unwrap_or_default(),
    );
    let v = verify(&part, &[]);
    sh(&format!("umount {}", out.display()));
    assert_eq!(r.code, 3, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("OUTPUT FAILED") && r.stderr.contains("No space left on device"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("is NOT a valid bundle"), "{}", r.stderr);
    assert!(
        !names.iter().any(|n| n.ends_with(".zip")),
        "no finalized bundle: {names:?}"
    );
    assert_eq!(v.code, 3, "{}", v.stdout);
}

#[test]
fn output_on_the_collected_filesystem_of_a_live_root_is_refused() {
    // A directory that does not exist yet, directly below `/`: its deepest existing
    // ancestor is `/` itself, so it is on the root filesystem by construction (a temp dir
    // could be on a separate /tmp mount, where the refusal rightly does not apply).
    let unique = format!(
        "/fieldkit-refusal-test-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    let top = Path::new(&unique);
    assert!(!top.exists(), "{unique} must not exist before the test");
    let r = run(&[
        "collect",
        "--source",
        "/",
        "--out",
        top.join("o").to_str().unwrap(),
    ]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("refusing to write inside the source /"),
        "{}",
        r.stderr
    );
    assert!(!top.exists(), "nothing was created: {unique} exists");
}

#[test]
fn fieldkit_never_writes_next_to_its_own_binary() {
    let t = tempfile::tempdir().unwrap();
    let kit = t.path().join("kit");
    std::fs::create_dir(&kit).unwrap();
    let exe = kit.join("fieldkit");
    std::fs::copy(bin(), &exe).unwrap();
    let src = t.path().join("src");
    std::fs::create_dir(&src).unwrap();
    std::fs::write(src.join("f"), b"f").unwrap();
    let before = sh(&format!("ls -A {}", kit.display())).stdout;
    let mut cmd = std::process::Command::new(&exe);
    cmd.args(["collect", "--source"])
        .arg(&src)
        .arg("--out")
        .arg(&kit);
    let r = run_with_timeout(cmd, Duration::from_secs(60));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("refusing to write next to the fieldkit binary"),
        "{}",
        r.stderr
    );
    assert_eq!(sh(&format!("ls -A {}", kit.display())).stdout, before);
    // When the kit lies inside the collected source it is recorded, not collected.
    let out = tempfile::tempdir_in("/dev/shm").unwrap();
    let mut cmd = std::process::Command::new(&exe);
    cmd.args(["collect", "--json", "--source"])
        .arg(t.path())
        .arg("--out")
        .arg(out.path());
    let r = run_with_timeout(cmd, Duration::from_secs(60));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let recs = records(std::path::Path::new(r.json()["bundle"].as_str().unwrap()));
    let k = record_for(&recs, "/kit");
    assert_eq!(k["status"], "skipped");
    assert_eq!(k["reason"], "fieldkit_kit");
    assert!(
        !recs
            .iter()
            .any(|r| r["path"].as_str().unwrap_or("").ends_with("/kit/fieldkit"))
    );
    assert_eq!(record_for(&recs, "src/f")["status"], "collected");
}

/// Every path below `dir`, sorted (what `find` lists), to show nothing was created.
fn listing(dir: &Path) -> String {
    sh(&format!("find {} | sort", dir.display())).stdout
}

/// Exit 2 with `message`, and the tree under `root` exactly as `before`.
fn assert_refused_leaving_nothing(r: &Run, out: &Path, message: &str, root: &Path, before: &str) {
    assert_eq!(r.code, 2, "{}: {}", out.display(), r.stderr);
    assert!(
        r.stderr.contains(message),
        "{}: {}",
        out.display(),
        r.stderr
    );
    assert_eq!(
        listing(root),
        before,
        "nothing was created for {}",
        out.display()
    );
}

#[test]
fn output_inside_the_source_reached_through_dot_dot_is_refused_and_nothing_is_created() {
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("src");
    std::fs::create_dir_all(src.join("evidence")).unwrap();
    std::fs::write(src.join("evidence/f"), b"f").unwrap();
    let before = listing(t.path());
    // `nothere` does not exist: a lexical `..` after it must not hide that the output
    // lands inside the source (creating the path would also create `nothere`).
    for out in [
        t.path().join("nothere/../src/evidence"),
        t.path().join("nothere/deeper/../../src/new"),
        src.join("evidence/../../src/./x"),
    ] {
        let r = run(&[
            "collect",
            "--source",
            src.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]);
        assert_refused_leaving_nothing(
            &r,
            &out,
            "refusing to write inside the source",
            t.path(),
            &before,
        );
    }
}

#[test]
fn output_next_to_the_binary_reached_through_dot_dot_is_refused_and_nothing_is_created() {
    let t = tempfile::tempdir().unwrap();
    let kit = t.path().join("kit");
    std::fs::create_dir(&kit).unwrap();
    let exe = kit.join("fieldkit");
    std::fs::copy(bin(), &exe).unwrap();
    let src = t.path().join("src");
    std::fs::create_dir(&src).unwrap();
    std::fs::write(src.join("f"), b"f").unwrap();
    let before = listing(t.path());
    for out in [
        kit.join("nothere/.."),
        t.path().join("nothere/../kit"),
        t.path().join("a/b/../../kit/c/.."),
    ] {
        let mut cmd = std::process::Command::new(&exe);
        cmd.args(["collect", "--source"])
            .arg(&src)
            .arg("--out")
            .arg(&out);
        let r = run_with_timeout(cmd, Duration::from_secs(60));
        assert_refused_leaving_nothing(
            &r,
            &out,
            "refusing to write next to the fieldkit binary",
            t.path(),
            &before,
        );
    }
}
