//! Unprivileged runs (issue 16, item 6): run as an ordinary user, the kernel refuses
//! O_NOATIME on files that user does not own, and reading them changes their access
//! times. collect says so once, loudly, before it reads anything, again in the summary,
//! and records it in the manifest; run as root it says nothing of the kind. The test
//! drops privileges with setpriv onto a tree root owns and user 65534 can read, and
//! shows with stat that the access times did change (so the warning is true).

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use common::*;

const WARNING: &str = "CHANGES THEIR ACCESS TIMES";

/// A tree owned by root, world-readable, with access times far in the past (so that a
/// relatime mount updates them on the next read).
fn tree(base: &Path) -> std::path::PathBuf {
    std::fs::set_permissions(base, std::fs::Permissions::from_mode(0o755)).unwrap();
    let src = base.join("src");
    std::fs::create_dir_all(src.join("d")).unwrap();
    for i in 0..3 {
        std::fs::write(src.join(format!("d/f{i}.txt")), format!("file {i}\n")).unwrap();
    }
    let r = sh(&format!(
        "chmod -R a+rX '{0}' && find '{0}' -type f -exec touch -a -d '2001-02-03 04:05:06' {{}} +",
        src.display()
    ));
    assert_eq!(r.code, 0, "{}", r.stderr);
    src
}

fn atimes(src: &Path) -> String {
    sh(&format!(
        "find '{}' -type f -printf '%P %A@\\n' | sort",
        src.display()
    ))
    .stdout
}

#[test]
fn an_unprivileged_run_says_once_at_the_start_and_in_the_summary_that_access_times_change() {
    require_root();
    require_tool("setpriv", "util-linux");
    let t = tempfile::tempdir().unwrap();
    let src = tree(t.path());
    let out = t.path().join("out");
    std::fs::create_dir(&out).unwrap();
    sh(&format!("chown 65534:65534 '{}'", out.display()));
    let before = atimes(&src);
    let mut cmd = std::process::Command::new("setpriv");
    cmd.args([
        "--reuid",
        "65534",
        "--regid",
        "65534",
        "--clear-groups",
        bin(),
        "collect",
        "--source",
    ])
    .arg(&src)
    .arg("--out")
    .arg(&out);
    let r = run_with_timeout(cmd, Duration::from_secs(120));
    assert_eq!(
        r.code, 0,
        "the bundle is complete\n{}\n{}",
        r.stdout, r.stderr
    );
    let after = atimes(&src);
    assert_ne!(
        before, after,
        "reading as uid 65534 changed the access times"
    );
    // Once, loudly, on stderr, before anything else collect says.
    assert_eq!(r.stderr.matches(WARNING).count(), 1, "{}", r.stderr);
    let first = r.stderr.lines().next().unwrap_or("");
    assert!(
        first.starts_with("fieldkit: WARNING:") && first.contains("uid 65534"),
        "the first line: {}",
        r.stderr
    );
    // In the summary for the paper log.
    assert!(
        r.stdout
            .contains("  Access times  CHANGED: 3 file(s) read without O_NOATIME"),
        "{}",
        r.stdout
    );
    // And in the manifest.
    let bundle = out
        .read_dir()
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "zip"))
        .unwrap();
    let m = manifest(&bundle);
    assert_eq!(m["method"]["noatime_refused"], 3, "{}", m["method"]);
    assert!(
        m["method"]["unprivileged"]
            .as_str()
            .is_some_and(|s| s.contains("uid 65534")),
        "{}",
        m["method"]
    );
    assert_eq!(verify(&bundle, &[]).code, 0);
}

#[test]
fn a_run_as_root_keeps_access_times_and_warns_of_nothing() {
    require_root();
    let t = tempfile::tempdir().unwrap();
    let src = tree(t.path());
    let before = atimes(&src);
    let (r, bundle) = collect(&src, &t.path().join("out"), &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(before, atimes(&src), "O_NOATIME kept every access time");
    assert!(!r.stderr.contains(WARNING), "{}", r.stderr);
    let m = manifest(&bundle);
    assert_eq!(m["method"]["noatime_refused"], 0, "{}", m["method"]);
    assert!(m["method"]["unprivileged"].is_null(), "{}", m["method"]);
}
