//! `fieldkit hash` as a lab uses it: output that `sha256sum -c` and `hashdeep -a` accept
//! for names that are not UTF-8 or hold a backslash, one line per regular file in walk
//! order whatever the thread count, symlinks not followed, and a non-zero exit naming
//! the file that could not be read.

mod common;

use std::os::unix::ffi::OsStrExt;

use common::*;

fn tree(root: &std::path::Path, with_links: bool) {
    std::fs::create_dir_all(root.join("d/e")).unwrap();
    std::fs::write(root.join("d/b"), b"a").unwrap();
    std::fs::write(root.join(std::ffi::OsStr::from_bytes(b"d/n\xe9")), b"x").unwrap();
    std::fs::write(root.join("d/back\\slash"), b"y").unwrap();
    std::fs::write(root.join("d/e/f"), b"z").unwrap();
    for i in 0..40 {
        std::fs::write(root.join(format!("d/e/many-{i:02}")), vec![i as u8; 5000]).unwrap();
    }
    if with_links {
        std::os::unix::fs::symlink("b", root.join("d/link")).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", root.join("d/outside")).unwrap();
    }
}

#[test]
fn sums_output_is_exact_ordered_and_checkable_by_sha256sum() {
    let t = tempfile::tempdir().unwrap();
    tree(t.path(), true);
    let one = sh(&format!(
        "cd '{}' && {} hash --threads 1 d",
        t.path().display(),
        bin()
    ));
    assert_eq!(one.code, 0, "{}", one.stderr);
    let two = sh(&format!(
        "cd '{}' && {} hash --threads 2 d",
        t.path().display(),
        bin()
    ));
    assert_eq!(one.stdout, two.stdout, "order depends on threads");
    let lines: Vec<&str> = one.stdout.lines().collect();
    // 44 regular files; the two symlinks are not followed, so /etc/passwd is absent.
    assert_eq!(lines.len(), 44, "{}", one.stdout);
    assert!(!one.stdout.contains("passwd"));
    assert_eq!(
        lines[0],
        "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb  d/b"
    );
    assert!(lines[1].starts_with('\\') && lines[1].ends_with("  d/back\\\\slash"));
    assert!(lines[2].ends_with("  d/e/f"));
    assert!(lines[3].ends_with("  d/e/many-00"));
    // The non-UTF-8 name is written as its bytes, so sha256sum finds the file.
    let raw = std::process::Command::new(bin())
        .current_dir(t.path())
        .args(["hash", "d"])
        .output()
        .unwrap();
    assert!(raw.stdout.windows(4).any(|w| w == b"d/n\xe9"));
    std::fs::write(t.path().join("SUMS"), &raw.stdout).unwrap();
    let check = sh(&format!(
        "cd '{}' && sha256sum -c --strict SUMS",
        t.path().display()
    ));
    assert_eq!(check.code, 0, "{}{}", check.stdout, check.stderr);
    assert_eq!(check.stdout.lines().count(), 44);
}

#[test]
fn hashdeep_output_passes_hashdeeps_own_audit() {
    require_tool("hashdeep", "hashdeep");
    let t = tempfile::tempdir().unwrap();
    // hashdeep follows symlinks itself, so this tree has none.
    tree(t.path(), false);
    let known = sh(&format!(
        "cd '{}' && {} hash --hashdeep --hash md5,sha256 d > known.txt",
        t.path().display(),
        bin()
    ));
    assert_eq!(known.code, 0, "{}", known.stderr);
    let audit = sh(&format!(
        "cd '{}' && hashdeep -c md5,sha256 -l -a -vv -k known.txt -r d",
        t.path().display()
    ));
    assert_eq!(audit.code, 0, "{}{}", audit.stdout, audit.stderr);
    assert!(audit.stdout.contains("Audit passed"), "{}", audit.stdout);
}

#[test]
fn an_unreadable_file_is_named_and_makes_the_exit_status_one() {
    require_root();
    let t = tempfile::tempdir().unwrap();
    std::fs::create_dir(t.path().join("d")).unwrap();
    std::fs::write(t.path().join("d/ok"), b"fine").unwrap();
    std::fs::write(t.path().join("d/secret"), b"no").unwrap();
    sh(&format!(
        "chmod 755 '{0}' '{0}/d' && chmod 000 '{0}/d/secret'",
        t.path().display()
    ));
    // As root chmod 000 stops nothing: run as nobody.
    let r = sh(&format!(
        "cd '{}' && setpriv --reuid 65534 --regid 65534 --clear-groups {} hash d",
        t.path().display(),
        bin()
    ));
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert_eq!(r.stdout.lines().count(), 1, "{}", r.stdout);
    assert!(r.stdout.ends_with("  d/ok\n"), "{}", r.stdout);
    assert!(
        r.stderr.contains("d/secret: permission_denied"),
        "{}",
        r.stderr
    );
}
