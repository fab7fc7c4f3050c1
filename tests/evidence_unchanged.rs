//! Principle 1, measured: collecting from a filesystem changes nothing on it. The source
//! is a real ext4 image mounted read-write with `strictatime` (the mount option under
//! which every read would update an access time), so any open without `O_NOATIME`, any
//! write, rename or metadata change would show in the `stat` of some file or directory.
//! Runs as root (CI does): loop devices and mounts need it.

mod common;

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use common::*;

/// Unmounts and detaches on drop, so a failed assertion leaves no mount behind.
struct Mounted {
    dir: PathBuf,
}

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = sh(&format!("umount '{}'", self.dir.display()));
    }
}

/// Every entry below `root`, directories included. Listing a directory updates its
/// access time on this mount, so the list is made once, before the first snapshot.
fn entries(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(p) = stack.pop() {
        if std::fs::symlink_metadata(&p).unwrap().is_dir() {
            for e in std::fs::read_dir(&p).unwrap() {
                stack.push(e.unwrap().path());
            }
        }
        out.push(p);
    }
    out
}

/// Every timestamp (to the nanosecond), size, inode, mode and link count of each entry,
/// read with `lstat` (which changes no time).
fn snapshot(paths: &[PathBuf]) -> BTreeMap<PathBuf, String> {
    paths
        .iter()
        .map(|p| {
            let m = std::fs::symlink_metadata(p).unwrap();
            (
                p.clone(),
                format!(
                    "atime {}.{:09} mtime {}.{:09} ctime {}.{:09} size {} ino {} mode {:o} nlink {}",
                    m.atime(),
                    m.atime_nsec(),
                    m.mtime(),
                    m.mtime_nsec(),
                    m.ctime(),
                    m.ctime_nsec(),
                    m.size(),
                    m.ino(),
                    m.mode(),
                    m.nlink()
                ),
            )
        })
        .collect()
}

#[test]
fn collecting_or_hashing_a_strictatime_ext4_mount_changes_no_time_size_or_inode_on_it() {
    require_root();
    require_tool("mkfs.ext4", "e2fsprogs");
    let t = tempfile::tempdir().unwrap();
    let content = t.path().join("content");
    for (rel, bytes) in [
        ("home/alice/.bash_history", &b"ssh bob@10.0.0.5\n"[..]),
        ("home/alice/notes.txt", b"meeting at 10\n"),
        ("home/alice/deep/er/still/file.bin", &[0xAB; 70_000]),
        ("var/log/auth.log", b"Accepted publickey for alice\n"),
        ("etc/hostname", b"seized\n"),
        ("empty", b""),
    ] {
        let p = content.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, bytes).unwrap();
    }
    std::os::unix::fs::symlink("notes.txt", content.join("home/alice/link")).unwrap();
    // Old times, so a read that updated atime could not hide behind "relatime" rules
    // even if the mount option were ignored.
    assert_eq!(
        sh(&format!(
            "find '{}' -exec touch -h -d 2024-01-02T03:04:05Z {{}} +",
            content.display()
        ))
        .code,
        0
    );
    let image = t.path().join("ev.ext4");
    let mk = sh(&format!(
        "mkfs.ext4 -q -F -d '{}' '{}' 16M",
        content.display(),
        image.display()
    ));
    assert_eq!(mk.code, 0, "{}", mk.stderr);
    let mnt = t.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    let m = sh(&format!(
        "mount -o loop,rw,strictatime '{}' '{}'",
        image.display(),
        mnt.display()
    ));
    assert_eq!(m.code, 0, "mount: {}", m.stderr);
    let _mounted = Mounted { dir: mnt.clone() };

    let paths = entries(&mnt);
    let before = snapshot(&paths);
    assert!(before.len() >= 12, "{before:?}");
    let (r, bundle) = collect(&mnt, &t.path().join("out"), &["--profile", "all-files"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let after = snapshot(&paths);
    // A symlink's target cannot be read without updating the link's own atime (Linux
    // has no O_NOATIME for readlink): that one change is allowed, and the record keeps
    // the time from before. Everything else must be exactly as it was.
    let link = mnt.join("home/alice/link");
    let without_atime = |s: &str| s.split_once(" mtime ").map(|(_, r)| r.to_string());
    assert_eq!(without_atime(&before[&link]), without_atime(&after[&link]));
    let changed: Vec<String> = before
        .iter()
        .filter(|(p, _)| **p != link)
        .filter(|(p, s)| after.get(*p) != Some(s))
        .map(|(p, s)| format!("{}\n  before {s}\n  after  {}", p.display(), after[p]))
        .collect();
    assert!(
        changed.is_empty(),
        "collect changed the source:\n{}",
        changed.join("\n")
    );
    // `fieldkit hash` over the same mount changes nothing either (not even the link).
    let hashed = sh(&format!("{} hash '{}'", bin(), mnt.display()));
    assert_eq!(hashed.code, 0, "{}", hashed.stderr);
    assert_eq!(hashed.stdout.lines().count(), 6, "{}", hashed.stdout);
    assert_eq!(snapshot(&paths), after, "fieldkit hash changed the source");
    // And it did read every file: the check above is not vacuous.
    let recs = records(&bundle);
    let link_rec = record_for(&recs, "home/alice/link");
    assert_eq!(link_rec["status"], "skipped");
    assert_eq!(link_rec["link_target"]["path"], "notes.txt");
    assert_eq!(link_rec["atime"], "2024-01-02T03:04:05Z", "{link_rec}");
    let collected = recs.iter().filter(|r| r["status"] == "collected").count();
    assert_eq!(collected, 6, "{recs:?}");
    for r in recs.iter().filter(|r| r["status"] == "collected") {
        assert!(
            r["read_method"]
                .as_str()
                .unwrap_or_default()
                .contains("O_NOATIME"),
            "{r}"
        );
    }
}
