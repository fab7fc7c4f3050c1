//! Ground truth for the FAT12/16/32, exFAT and ext2/3/4 readers: images made here with
//! the real tools (mke2fs -d, mkfs.fat + mtools, mkfs.exfat + exfat-fuse), compared with
//! what the kernel (ext loop mount) or FUSE (exFAT) shows, with what sleuthkit reads
//! (fls, icat, istat), and rebuilt from the recorded volume extents with `dd` alone.
//! Then damaged images: each a clear error for the one file or directory at fault.
//!
//! The `fieldkit` binary reads images only once the seam integrates them; until then
//! these tests drive the library's readers directly (`fieldkit::source::image::fs`).

mod common;

use std::collections::BTreeMap;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use common::{require_root, require_tool};
use fieldkit::source::image::fs::exfat::ExFat;
use fieldkit::source::image::fs::ext4::Ext4;
use fieldkit::source::image::fs::fat::Fat;
use fieldkit::source::image::fs::read::LayoutReader;
use fieldkit::source::image::fs::{FileSystem, Layout, Node, NodeKind};
use fieldkit::source::image::media::{FileMedia, ReadAt};
use sha2::{Digest, Sha256};

// ---------------------------------------------------------------------------------
// Helpers

/// Run a bash script with a deadline; a failure or a hang fails the test with output.
fn bash(script: &str) -> String {
    let mut cmd = Command::new("bash");
    cmd.arg("-c")
        .arg(format!("set -euo pipefail\n{script}"))
        .env("TZ", "UTC")
        .env("LANG", "C.UTF-8");
    let r = common::run_with_timeout(cmd, Duration::from_secs(120));
    assert_eq!(
        r.code, 0,
        "script failed:\n{script}\nstdout: {}\nstderr: {}",
        r.stdout, r.stderr
    );
    r.stdout
}

fn q(p: &Path) -> String {
    format!("'{}'", p.display().to_string().replace('\'', "'\\''"))
}

fn hex(d: &[u8]) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}

fn sha256(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// Deterministic pseudo-random bytes (xorshift), so content is incompressible and
/// every block differs.
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

fn open_image(path: &Path) -> Arc<dyn ReadAt> {
    Arc::new(FileMedia::open(path).expect("open image"))
}

/// What the reader shows for one path.
struct Seen {
    node: Node,
    kind: NodeKind,
    sha256: Option<String>,
    layout: Option<Layout>,
}

/// Every path below the root (relative, `/`-joined raw bytes), depth-first.
fn walk(fs: &dyn FileSystem) -> BTreeMap<Vec<u8>, Seen> {
    let mut out = BTreeMap::new();
    let mut stack = vec![(fs.root(), Vec::new(), 0)];
    while let Some((dir, prefix, depth)) = stack.pop() {
        assert!(depth < 32, "walk deeper than 32 levels");
        let entries = fs.read_dir(dir).unwrap_or_else(|e| {
            panic!(
                "read_dir {:?}: {e} ({})",
                String::from_utf8_lossy(&prefix),
                e.reason
            )
        });
        for e in entries {
            let mut path = prefix.clone();
            if !path.is_empty() {
                path.push(b'/');
            }
            path.extend_from_slice(&e.name);
            let node = fs
                .node(e.id)
                .unwrap_or_else(|err| panic!("node {:?}: {err}", String::from_utf8_lossy(&path)));
            assert_eq!(
                node.kind,
                e.kind,
                "{:?}: directory entry kind and node kind differ",
                String::from_utf8_lossy(&path)
            );
            let (sha, layout) = if node.kind == NodeKind::File {
                let layout = fs.layout(e.id, None).unwrap_or_else(|err| {
                    panic!("layout {:?}: {err}", String::from_utf8_lossy(&path))
                });
                let mut r = LayoutReader::new(Arc::clone(fs.volume()), layout.clone())
                    .expect("layout reader");
                let mut h = Sha256::new();
                let mut buf = vec![0u8; 1 << 16];
                loop {
                    let n = r.read(&mut buf).expect("read");
                    if n == 0 {
                        break;
                    }
                    h.update(&buf[..n]);
                }
                (Some(hex(&h.finalize())), Some(layout))
            } else {
                (None, None)
            };
            if node.kind == NodeKind::Dir {
                stack.push((e.id, path.clone(), depth + 1));
            }
            out.insert(
                path,
                Seen {
                    kind: node.kind,
                    node,
                    sha256: sha,
                    layout,
                },
            );
        }
    }
    out
}

/// What a mount (or the source tree) shows for one path.
#[derive(Debug)]
struct Truth {
    kind: NodeKind,
    size: u64,
    sha256: Option<String>,
    link: Option<Vec<u8>>,
    mtime: i128,
    atime: i128,
    ctime: i128,
    btime: Option<i128>,
    ino: u64,
}

fn walk_tree(root: &Path) -> BTreeMap<Vec<u8>, Truth> {
    fn go(root: &Path, dir: &Path, out: &mut BTreeMap<Vec<u8>, Truth>) {
        for e in std::fs::read_dir(dir).expect("read_dir") {
            let e = e.expect("entry");
            let p = e.path();
            let m = std::fs::symlink_metadata(&p).expect("lstat");
            let ft = m.file_type();
            let kind = if ft.is_dir() {
                NodeKind::Dir
            } else if ft.is_symlink() {
                NodeKind::Symlink
            } else if ft.is_file() {
                NodeKind::File
            } else if ft.is_char_device() {
                NodeKind::CharDevice
            } else if ft.is_block_device() {
                NodeKind::BlockDevice
            } else if ft.is_fifo() {
                NodeKind::Fifo
            } else {
                NodeKind::Socket
            };
            let ns = |s: i64, n: i64| s as i128 * 1_000_000_000 + n as i128;
            let rel = p
                .strip_prefix(root)
                .expect("prefix")
                .as_os_str()
                .as_bytes()
                .to_vec();
            let btime = m
                .created()
                .ok()
                .map(|t| match t.duration_since(std::time::UNIX_EPOCH) {
                    Ok(d) => d.as_nanos() as i128,
                    Err(e) => -(e.duration().as_nanos() as i128),
                });
            out.insert(
                rel,
                Truth {
                    kind,
                    size: m.len(),
                    sha256: (kind == NodeKind::File)
                        .then(|| sha256(&std::fs::read(&p).expect("read"))),
                    link: (kind == NodeKind::Symlink).then(|| {
                        std::fs::read_link(&p)
                            .expect("readlink")
                            .as_os_str()
                            .as_bytes()
                            .to_vec()
                    }),
                    mtime: ns(m.mtime(), m.mtime_nsec()),
                    atime: ns(m.atime(), m.atime_nsec()),
                    ctime: ns(m.ctime(), m.ctime_nsec()),
                    btime,
                    ino: m.ino(),
                },
            );
            if kind == NodeKind::Dir {
                go(root, &p, out);
            }
        }
    }
    let mut out = BTreeMap::new();
    go(root, root, &mut out);
    out
}

/// The reader's paths as the tools print them (their output is read as text).
fn by_lossy_name(ours: &BTreeMap<Vec<u8>, Seen>) -> BTreeMap<String, &Seen> {
    ours.iter().map(|(k, v)| (show(k), v)).collect()
}

fn show(p: &[u8]) -> String {
    String::from_utf8_lossy(p).into_owned()
}

/// Names, kinds, sizes (files and symlinks), content and link targets agree.
fn assert_same_tree(what: &str, ours: &BTreeMap<Vec<u8>, Seen>, truth: &BTreeMap<Vec<u8>, Truth>) {
    let a: Vec<String> = ours.keys().map(|k| show(k)).collect();
    let b: Vec<String> = truth.keys().map(|k| show(k)).collect();
    assert_eq!(a, b, "{what}: the listings differ");
    for (path, t) in truth {
        let s = &ours[path];
        assert_eq!(s.kind, t.kind, "{what}: {}: kind", show(path));
        if matches!(t.kind, NodeKind::File | NodeKind::Symlink) {
            assert_eq!(s.node.size, t.size, "{what}: {}: size", show(path));
        }
        assert_eq!(s.sha256, t.sha256, "{what}: {}: content", show(path));
        assert_eq!(
            s.node.link_target,
            t.link,
            "{what}: {}: symlink target",
            show(path)
        );
    }
}

/// Rebuild each file from its recorded volume extents with `dd` (holes from
/// /dev/zero) and compare the SHA-256 with the reader's: the records re-derive without
/// fieldkit. Returns how many files were rebuilt from extents.
fn assert_dd_rebuilds(
    what: &str,
    image: &Path,
    volume_offset: u64,
    ours: &BTreeMap<Vec<u8>, Seen>,
) -> usize {
    let mut script = String::new();
    let mut expected = Vec::new();
    for (path, s) in ours {
        let Some(Layout::Extents { extents, .. }) = &s.layout else {
            continue;
        };
        script.push_str("{ :");
        for e in extents {
            match e.volume_offset {
                Some(at) => script.push_str(&format!(
                    "; dd if={} iflag=skip_bytes,count_bytes skip={} count={} bs=1M status=none",
                    q(image),
                    volume_offset + at,
                    e.len
                )),
                None => script.push_str(&format!("; head -c {} /dev/zero", e.len)),
            }
        }
        script.push_str("; } | sha256sum | cut -d' ' -f1\n");
        expected.push((show(path), s.sha256.clone().unwrap_or_default()));
    }
    let got = bash(&script);
    let got: Vec<&str> = got.lines().collect();
    assert_eq!(got.len(), expected.len(), "{what}: dd output");
    for ((path, want), got) in expected.iter().zip(got) {
        assert_eq!(
            got, want,
            "{what}: {path}: rebuilt with dd from the recorded extents"
        );
    }
    expected.len()
}

/// sleuthkit's listing: path → (type letter, inode address).
/// Keys are lossy UTF-8: the tools' output is read as text.
fn fls(image: &Path, extra: &str) -> BTreeMap<String, (String, String)> {
    let out = bash(&format!("timeout 60 fls -r -p -u {extra} {}", q(image)));
    let mut map = BTreeMap::new();
    for line in out.lines() {
        let Some((head, path)) = line.split_once(":\t") else {
            continue;
        };
        let mut parts = head.split_whitespace();
        let t = parts.next().unwrap_or("").to_string();
        let inode = parts.last().unwrap_or("").to_string();
        if t.starts_with("v/v")
            || t.starts_with("V/V")
            || path.starts_with('$')
            || path.contains("/$")
            || path.contains("(Volume Label Entry)")
        {
            continue;
        }
        map.insert(path.to_string(), (t, inode));
    }
    map
}

/// `icat` of each listed regular file: SHA-256 by path.
fn icat_hashes(
    image: &Path,
    extra: &str,
    listing: &BTreeMap<String, (String, String)>,
) -> BTreeMap<String, String> {
    let mut script = String::new();
    let mut paths = Vec::new();
    // Every file of an ordinary directory; in the few directories of hundreds of
    // files (hashed, fill) the first 16: one icat process per file is what costs time,
    // and those files are compared with the mount in full anyway.
    let mut per_dir: BTreeMap<&str, usize> = BTreeMap::new();
    for (path, (t, inode)) in listing {
        let dir = path.rsplit_once('/').map_or("", |(d, _)| d);
        let seen = per_dir.entry(dir).or_default();
        *seen += 1;
        if t.starts_with("r/") && *seen <= 16 {
            script.push_str(&format!(
                "timeout 60 icat {extra} {} {inode} | sha256sum | cut -d' ' -f1\n",
                q(image)
            ));
            paths.push(path.clone());
        }
    }
    let out = bash(&script);
    paths
        .into_iter()
        .zip(out.lines().map(str::to_string))
        .collect()
}

/// `istat` times: label ("Written", "Accessed", …) → ns since the epoch.
fn istat_times(image: &Path, extra: &str, inode: &str) -> BTreeMap<String, i128> {
    let out = bash(&format!("timeout 60 istat {extra} {} {inode}", q(image)));
    let mut m = BTreeMap::new();
    for line in out.lines() {
        let Some((label, rest)) = line.split_once(":\t") else {
            continue;
        };
        let Some(t) = rest.strip_suffix(" (UTC)") else {
            continue;
        };
        if let Some(ns) = parse_utc(t) {
            m.insert(label.trim().to_string(), ns);
        }
    }
    m
}

/// "2026-12-02 19:47:28.000000000" (or without a fraction) → ns since the epoch.
fn parse_utc(t: &str) -> Option<i128> {
    let (date, time) = t.split_once(' ')?;
    let mut d = date.split('-').map(|x| x.parse::<i64>());
    let (y, mo, da) = (d.next()?.ok()?, d.next()?.ok()?, d.next()?.ok()?);
    let (hms, frac) = time.split_once('.').unwrap_or((time, "0"));
    let mut h = hms.split(':').map(|x| x.parse::<i64>());
    let (hh, mi, ss) = (h.next()?.ok()?, h.next()?.ok()?, h.next()?.ok()?);
    let frac: i128 = format!("{frac:0<9}")[..9].parse().ok()?;
    let y2 = if mo <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let doy = (153 * ((mo + 9) % 12) + 2) / 5 + da - 1;
    let days = era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468;
    Some((days * 86_400 + hh * 3600 + mi * 60 + ss) as i128 * 1_000_000_000 + frac)
}

fn ns(t: Option<fieldkit::source::image::fs::FsTime>) -> Option<i128> {
    t.map(|t| t.unix_nanos)
}

// ---------------------------------------------------------------------------------
// ext2/3/4

/// A tree with what real systems hold: nested directories, empty, tiny, 60-byte and
/// block-sized files, a double-indirect-sized file, a sparse file, non-ASCII and
/// non-UTF-8 names, a hard link, fast and slow symlinks, a FIFO and device nodes.
fn make_source_tree(dir: &Path) {
    std::fs::create_dir_all(dir.join("dir/sub/deeper")).unwrap();
    std::fs::create_dir_all(dir.join("dir/other")).unwrap();
    std::fs::write(dir.join("empty"), b"").unwrap();
    std::fs::write(dir.join("small.txt"), b"hello, world\n").unwrap();
    std::fs::write(dir.join("sixty"), noise(60, 1)).unwrap();
    std::fs::write(dir.join("block-1"), noise(4095, 2)).unwrap();
    std::fs::write(dir.join("dir/sub/deeper/m1"), noise(1 << 20, 3)).unwrap();
    std::fs::write(dir.join("dir/other/héllo wörld.txt"), b"non-ascii name\n").unwrap();
    std::fs::write(
        dir.join(std::ffi::OsStr::from_bytes(b"dir/raw-\xff\xfe-name")),
        b"not utf-8\n",
    )
    .unwrap();
    std::fs::hard_link(dir.join("small.txt"), dir.join("dir/hardlink")).unwrap();
    std::os::unix::fs::symlink("small.txt", dir.join("fast-link")).unwrap();
    std::os::unix::fs::symlink(
        "dir/".repeat(30) + "target-of-a-slow-symlink",
        dir.join("slow-link"),
    )
    .unwrap();
    bash(&format!(
        "cd {d}; mkfifo fifo; mknod chr c 1 3; mknod blk b 7 0; \
         truncate -s 8M sparse; printf middle | dd of=sparse bs=1 seek=3145728 conv=notrunc status=none; \
         printf end | dd of=sparse bs=1 seek=8388605 conv=notrunc status=none; \
         touch -d '2001-02-03 04:05:06.123456789' small.txt; touch -a -d '1999-12-31 23:59:59' block-1",
        d = q(dir)
    ));
}

fn mounted<T>(image: &Path, opts: &str, f: impl FnOnce(&Path) -> T) -> T {
    let mnt = tempfile::tempdir().unwrap();
    bash(&format!(
        "mount -o {opts},loop {} {}",
        q(image),
        q(mnt.path())
    ));
    let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(mnt.path())));
    bash(&format!("umount {}", q(mnt.path())));
    match out {
        Ok(v) => v,
        Err(p) => std::panic::resume_unwind(p),
    }
}

/// Check one ext image against its read-only loop mount and sleuthkit.
fn check_ext(
    what: &str,
    image: &Path,
    want_kind: &str,
    min_extent_files: usize,
) -> BTreeMap<Vec<u8>, Seen> {
    let fs = Ext4::open(open_image(image)).unwrap_or_else(|e| panic!("{what}: open: {e}"));
    assert_eq!(fs.info().kind, want_kind, "{what}: {:?}", fs.info());
    let ours = walk(&fs);
    let truth = mounted(image, "ro", walk_tree);
    assert_same_tree(what, &ours, &truth);
    for (path, t) in &truth {
        let n = &ours[path].node;
        assert_eq!(n.id.0, t.ino, "{what}: {}: inode", show(path));
        assert_eq!(
            ns(n.times.modified),
            Some(t.mtime),
            "{what}: {}: mtime",
            show(path)
        );
        assert_eq!(
            ns(n.times.accessed),
            Some(t.atime),
            "{what}: {}: atime",
            show(path)
        );
        assert_eq!(
            ns(n.times.changed),
            Some(t.ctime),
            "{what}: {}: ctime",
            show(path)
        );
        assert_eq!(ns(n.times.born), t.btime, "{what}: {}: crtime", show(path));
    }
    // sleuthkit: the same files under the same inodes, the same content.
    let listing = fls(image, "");
    let lossy = by_lossy_name(&ours);
    assert_eq!(
        lossy.keys().collect::<Vec<_>>(),
        listing.keys().collect::<Vec<_>>(),
        "{what}: fls -r -p lists other paths"
    );
    for (path, (_, inode)) in &listing {
        assert_eq!(
            lossy[path].node.id.0.to_string(),
            *inode,
            "{what}: {path}: fls inode"
        );
    }
    for (path, h) in icat_hashes(image, "", &listing) {
        assert_eq!(
            lossy[&path].sha256.as_deref(),
            Some(h.as_str()),
            "{what}: {path}: icat content"
        );
    }
    let n = assert_dd_rebuilds(what, image, 0, &ours);
    assert!(
        n >= min_extent_files,
        "{what}: only {n} files rebuilt from extents"
    );
    ours
}

#[test]
fn ext2_ext3_and_ext4_with_inline_data_read_like_the_kernel_and_sleuthkit() {
    require_root();
    for (t, p) in [
        ("mke2fs", "e2fsprogs"),
        ("fls", "sleuthkit"),
        ("icat", "sleuthkit"),
        ("istat", "sleuthkit"),
    ] {
        require_tool(t, p);
    }
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    make_source_tree(&src);

    // ext2 with 1 KiB blocks: block maps, the 1 MiB file needs double indirect blocks.
    let ext2 = tmp.path().join("ext2.img");
    bash(&format!(
        "mke2fs -q -F -t ext2 -b 1024 -d {} {} 16M",
        q(&src),
        q(&ext2)
    ));
    let ours = check_ext("ext2", &ext2, "ext2", 6);
    assert!(
        matches!(&ours[&b"sparse"[..]].layout, Some(Layout::Extents { extents, .. }) if extents.iter().any(|e| e.volume_offset.is_none()))
    );

    // ext3: a journal, block maps, 4 KiB blocks.
    let ext3 = tmp.path().join("ext3.img");
    bash(&format!(
        "mke2fs -q -F -t ext3 -d {} {} 16M",
        q(&src),
        q(&ext3)
    ));
    check_ext("ext3", &ext3, "ext3", 6);

    // ext4 with inline_data (small files and directories inside the inode).
    let inline = tmp.path().join("inline.img");
    bash(&format!(
        "mkfs.ext4 -q -F -O inline_data,metadata_csum,64bit -d {} {} 16M",
        q(&src),
        q(&inline)
    ));
    let ours = check_ext("ext4 inline_data", &inline, "ext4", 3);
    let sixty = &ours[&b"sixty"[..]];
    assert!(
        sixty.node.flags.contains(&"inline_data"),
        "{:?}",
        sixty.node.flags
    );
    assert!(matches!(sixty.layout, Some(Layout::Resident { .. })));
    assert!(
        ours[&b"dir/other"[..]].node.flags.contains(&"inline_data"),
        "an inline directory"
    );
}

#[test]
fn ext4_as_the_kernel_writes_it_fragmented_unwritten_hashed_directories_and_times() {
    require_root();
    for (t, p) in [
        ("mkfs.ext4", "e2fsprogs"),
        ("fls", "sleuthkit"),
        ("fallocate", "util-linux"),
    ] {
        require_tool(t, p);
    }
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    make_source_tree(&src);
    let image = tmp.path().join("ext4.img");
    bash(&format!(
        "mkfs.ext4 -q -F -O 64bit,metadata_csum,huge_file,dir_index -d {} {} 32M",
        q(&src),
        q(&image)
    ));
    // Written by the kernel: a directory large enough to be hashed (htree), a file
    // fragmented by filling and thinning the free space first, unwritten (fallocated)
    // extents inside and past the end of a file, nanosecond times.
    let big = noise(4 << 20, 7);
    std::fs::write(tmp.path().join("big"), &big).unwrap();
    mounted(&image, "rw", |m| {
        bash(&format!(
            "cd {m}; mkdir hashed fill; for i in $(seq -w 0 399); do echo \"entry $i\" > hashed/file-with-a-long-name-$i; done; \
             i=0; while head -c 262144 /dev/zero > fill/$i 2>/dev/null; do i=$((i+1)); done; rm -f fill/$i; sync; \
             for f in fill/*[02468]; do rm $f; done; sync; \
             cp {big} fragmented; sync; \
             printf head > prealloc; fallocate -o 4096 -l 1M prealloc; printf tail | dd of=prealloc bs=1 seek=2097152 conv=notrunc status=none; \
             fallocate -n -o 3M -l 1M prealloc; sync",
            m = q(m),
            big = q(&tmp.path().join("big"))
        ));
    });
    let ours = check_ext("ext4", &image, "ext4", 6);
    let frag = &ours[&b"fragmented"[..]];
    assert_eq!(frag.sha256.as_deref(), Some(sha256(&big).as_str()));
    let Some(Layout::Extents { extents, .. }) = &frag.layout else {
        panic!("fragmented: {:?}", frag.layout)
    };
    assert!(
        extents.len() > 8,
        "the file is in {} pieces: not fragmented enough to need an extent index",
        extents.len()
    );
    let hashed = &ours[&b"hashed"[..]];
    assert!(
        hashed.node.flags.contains(&"hashed_dir"),
        "hashed: {:?}",
        hashed.node.flags
    );
    let Some(Layout::Extents { extents, .. }) = &ours[&b"prealloc"[..]].layout else {
        panic!()
    };
    assert!(
        extents
            .iter()
            .any(|e| e.volume_offset.is_none() && e.len >= 1 << 20),
        "{extents:?}"
    );
    // Times against istat too (kernel-written: nanoseconds, creation time).
    let listing = fls(&image, "");
    for name in ["fragmented", "prealloc", "hashed", "small.txt"] {
        let (_, inode) = &listing[name];
        let t = istat_times(&image, "", inode);
        let n = &ours[name.as_bytes()].node;
        assert_eq!(
            ns(n.times.modified),
            t.get("File Modified").copied(),
            "{name}: mtime vs istat"
        );
        assert_eq!(
            ns(n.times.accessed),
            t.get("Accessed").copied(),
            "{name}: atime vs istat"
        );
        assert_eq!(
            ns(n.times.changed),
            t.get("Inode Modified").copied(),
            "{name}: ctime vs istat"
        );
        assert_eq!(
            ns(n.times.born),
            t.get("File Created").copied(),
            "{name}: crtime vs istat"
        );
    }
    let small = &ours[&b"small.txt"[..]].node;
    assert_eq!(
        small.times.modified.map(|t| t.unix_nanos / 1_000_000_000),
        Some(981_173_106),
        "touch -d"
    );
    let kinds: Vec<NodeKind> = ["fifo", "chr", "blk"]
        .iter()
        .map(|n| ours[n.as_bytes()].kind)
        .collect();
    assert_eq!(
        kinds,
        [NodeKind::Fifo, NodeKind::CharDevice, NodeKind::BlockDevice]
    );
    let fs = Ext4::open(open_image(&image)).unwrap();
    // One reader shared by parallel workers (`&self`, Sync) reads the same bytes.
    let hashes: Vec<Option<String>> = ours.values().map(|s| s.sha256.clone()).collect();
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..4).map(|_| scope.spawn(|| walk(&fs))).collect();
        for w in workers {
            let seen = w.join().unwrap();
            assert_eq!(
                seen.values().map(|s| s.sha256.clone()).collect::<Vec<_>>(),
                hashes
            );
        }
    });
    let chr = fs
        .read_dir(fs.root())
        .unwrap()
        .into_iter()
        .find(|e| e.name == b"chr")
        .unwrap();
    assert_eq!(
        fs.layout(chr.id, None).unwrap_err().reason,
        "not_regular",
        "device nodes are recorded, never read"
    );
}

// ---------------------------------------------------------------------------------
// FAT12/16/32

/// Names FAT keeps in different ways: 8.3 upper case, 8.3 with the lower-case flags,
/// VFAT long names (mixed case, spaces, several slots, non-ASCII, CJK), nested
/// directories, a directory of more entries than one cluster holds.
fn make_fat_tree(dir: &Path) {
    std::fs::create_dir_all(dir.join("docs/sub/deeper")).unwrap();
    std::fs::create_dir_all(dir.join("docs/many")).unwrap();
    std::fs::create_dir_all(dir.join("frag")).unwrap();
    std::fs::write(dir.join("readme.txt"), b"lower-case 8.3 name\n").unwrap();
    std::fs::write(dir.join("UPPER.TXT"), b"upper-case 8.3 name\n").unwrap();
    std::fs::write(dir.join("MixedCase.Txt"), b"mixed\n").unwrap();
    std::fs::write(dir.join("Grüße an alle.txt"), b"umlauts\n").unwrap();
    std::fs::write(dir.join("日本語のファイル.txt"), b"cjk\n").unwrap();
    std::fs::write(
        dir.join("a long file name with spaces that needs five slots.data"),
        noise(5000, 11),
    )
    .unwrap();
    std::fs::write(dir.join("empty"), b"").unwrap();
    std::fs::write(dir.join("docs/sub/deeper/file.bin"), noise(100_000, 12)).unwrap();
    for i in 0..90 {
        std::fs::write(
            dir.join(format!("docs/many/entry number {i}.txt")),
            format!("{i}\n"),
        )
        .unwrap();
    }
    for i in 0..24 {
        std::fs::write(dir.join(format!("frag/f{i:02}")), noise(3000, 100 + i)).unwrap();
    }
    bash(&format!(
        "cd {}; touch -d '2003-04-05 06:07:09' readme.txt; touch -d '1999-12-31 23:59:58' UPPER.TXT",
        q(dir)
    ));
}

/// Copy the tree with mtools, then thin out `frag/` and write a large file into the
/// holes, so it is fragmented; the tree is changed the same way, so it stays the truth.
fn fill_fat(image: &Path, src: &Path) -> Vec<u8> {
    bash(&format!("mcopy -s -m -i {} {}/* ::/", q(image), q(src)));
    let mut dels = String::new();
    for i in (0..24).step_by(2) {
        std::fs::remove_file(src.join(format!("frag/f{i:02}"))).unwrap();
        dels.push_str(&format!(" ::/frag/f{i:02}"));
    }
    let big = noise(40_000, 99);
    std::fs::write(src.join("big.bin"), &big).unwrap();
    // FAT32's FSInfo sector hints where the next free cluster is, and mtools allocates
    // from there: reset the hint to "unknown" (0xFFFFFFFF at byte 492 of the FSInfo
    // sector, whose number is at BPB offset 48), so the freed clusters are used first.
    bash(&format!(
        "mdel -i {img}{dels}; \
         if [ \"$(dd if={img} bs=1 skip=82 count=5 status=none)\" = FAT32 ]; then \
           fsinfo=$(od -An -tu2 -j48 -N2 {img} | tr -d ' '); \
           printf '\\377\\377\\377\\377' | dd of={img} bs=1 seek=$((fsinfo * 512 + 492)) conv=notrunc status=none; \
         fi; \
         mcopy -m -i {img} {big} ::/big.bin",
        img = q(image),
        big = q(&src.join("big.bin"))
    ));
    big
}

#[test]
fn fat12_fat16_and_fat32_read_like_sleuthkit_and_the_tree_copied_in() {
    for (t, p) in [
        ("mkfs.fat", "dosfstools"),
        ("mcopy", "mtools"),
        ("fls", "sleuthkit"),
        ("istat", "sleuthkit"),
    ] {
        require_tool(t, p);
    }
    let tmp = tempfile::tempdir().unwrap();
    for (bits, kib, cluster) in [(12, 2048, 2048), (16, 16384, 2048), (32, 40960, 512)] {
        let what = format!("FAT{bits}");
        let src = tmp.path().join(format!("src{bits}"));
        make_fat_tree(&src);
        let image = tmp.path().join(format!("fat{bits}.img"));
        bash(&format!(
            "mkfs.fat -C -F {bits} -S 512 -s {} -n FIELDKIT -i 1234ABCD {} {kib} >/dev/null",
            cluster / 512,
            q(&image)
        ));
        let big = fill_fat(&image, &src);
        let fs = Fat::open(open_image(&image)).unwrap_or_else(|e| panic!("{what}: {e}"));
        let info = fs.info();
        assert_eq!(info.kind, format!("fat{bits}"), "{info:?}");
        assert_eq!(info.label.as_deref(), Some("FIELDKIT"));
        assert_eq!(info.serial.as_deref(), Some("1234-ABCD"));
        let ours = walk(&fs);
        let truth = walk_tree(&src);
        assert_same_tree(&what, &ours, &truth);
        let Some(Layout::Extents { extents, .. }) = &ours[&b"big.bin"[..]].layout else {
            panic!()
        };
        assert!(
            extents.len() > 2,
            "{what}: big.bin in {} pieces: the test did not fragment it",
            extents.len()
        );
        assert_eq!(ours[&b"big.bin"[..]].sha256, Some(sha256(&big)));
        // Write times: FAT keeps 2-second steps, mtools rounds down.
        for (path, t) in &truth {
            if t.kind == NodeKind::File {
                let m = ns(ours[path].node.times.modified).unwrap();
                assert!(
                    m <= t.mtime && t.mtime - m < 2_000_000_000,
                    "{what}: {}: mtime {m} vs {}",
                    show(path),
                    t.mtime
                );
            }
        }
        let listing = fls(&image, "");
        let lossy = by_lossy_name(&ours);
        assert_eq!(
            lossy.keys().collect::<Vec<_>>(),
            listing.keys().collect::<Vec<_>>(),
            "{what}: fls lists other paths"
        );
        for (path, h) in icat_hashes(&image, "", &listing) {
            assert_eq!(
                lossy[&path].sha256.as_deref(),
                Some(h.as_str()),
                "{what}: {path}: icat content"
            );
        }
        for name in [
            "readme.txt",
            "UPPER.TXT",
            "Grüße an alle.txt",
            "docs/sub/deeper/file.bin",
            "big.bin",
        ] {
            let t = istat_times(&image, "", &listing[name].1);
            let n = &lossy[name].node;
            assert_eq!(
                ns(n.times.modified),
                t.get("Written").copied(),
                "{what}: {name}: write time vs istat"
            );
            assert_eq!(
                ns(n.times.accessed),
                t.get("Accessed").copied(),
                "{what}: {name}: access date vs istat"
            );
            assert_eq!(
                ns(n.times.born),
                t.get("Created").copied(),
                "{what}: {name}: creation time vs istat"
            );
        }
        assert_eq!(
            ns(lossy["readme.txt"].node.times.modified),
            Some(1_049_522_828_000_000_000),
            "2003-04-05 06:07:08 (09 rounded down)"
        );
        let n = assert_dd_rebuilds(&what, &image, 0, &ours);
        assert!(n > 100, "{what}: {n} files rebuilt with dd");
    }
}

// ---------------------------------------------------------------------------------
// exFAT

/// Mount an exFAT image through a loop device with exfat-fuse (this kernel has no
/// exFAT module), run `f`, and unmount and detach whatever happens.
fn exfat_mounted<T>(image: &Path, ro: bool, f: impl FnOnce(&Path) -> T) -> T {
    let mnt = tempfile::tempdir().unwrap();
    let dev = bash(&format!(
        "losetup -f --show {}{}",
        if ro { "-r " } else { "" },
        q(image)
    ));
    let dev = dev.trim().to_string();
    let opts = if ro { "-o ro " } else { "" };
    let mounted = bash(&format!(
        "mount.exfat-fuse {opts}{dev} {} >/dev/null 2>&1 && echo yes || echo no",
        q(mnt.path())
    ));
    let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        assert_eq!(mounted.trim(), "yes", "mount.exfat-fuse {dev} failed");
        f(mnt.path())
    }));
    if mounted.trim() == "yes" {
        bash(&format!("umount {}", q(mnt.path())));
    }
    bash(&format!("losetup -d {dev}"));
    match out {
        Ok(v) => v,
        Err(p) => std::panic::resume_unwind(p),
    }
}

#[test]
fn exfat_reads_like_exfat_fuse_and_sleuthkit() {
    require_root();
    for (t, p) in [
        ("mkfs.exfat", "exfatprogs"),
        ("mount.exfat-fuse", "exfat-fuse"),
        ("losetup", "mount"),
        ("fls", "sleuthkit"),
    ] {
        require_tool(t, p);
    }
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    make_fat_tree(&src);
    let image = tmp.path().join("exfat.img");
    bash(&format!(
        "truncate -s 32M {img}; mkfs.exfat -L FIELDKIT {img} >/dev/null",
        img = q(&image)
    ));
    let big = noise(300_000, 5);
    std::fs::write(tmp.path().join("big.bin"), &big).unwrap();
    exfat_mounted(&image, false, |m| {
        bash(&format!(
            "cp -r --preserve=timestamps {src}/. {m}/; cd {m}; \
             for i in $(seq -w 0 2 23); do rm frag/f$i; done; sync; \
             cp {big} big.bin; printf 'ten bytes.' > grown; truncate -s 200000 grown; sync",
            src = q(&src),
            m = q(m),
            big = q(&tmp.path().join("big.bin"))
        ));
    });
    let fs = ExFat::open(open_image(&image)).unwrap_or_else(|e| panic!("exFAT: {e}"));
    let info = fs.info();
    assert_eq!(
        (info.kind, info.label.as_deref()),
        ("exfat", Some("FIELDKIT")),
        "{info:?}"
    );
    let ours = walk(&fs);
    let truth = exfat_mounted(&image, true, walk_tree);
    assert_same_tree("exFAT", &ours, &truth);
    for (path, t) in &truth {
        let n = &ours[path].node;
        assert_eq!(
            ns(n.times.modified),
            Some(t.mtime),
            "exFAT: {}: mtime vs exfat-fuse",
            show(path)
        );
    }
    let listing = fls(&image, "");
    let lossy = by_lossy_name(&ours);
    assert_eq!(
        lossy.keys().collect::<Vec<_>>(),
        listing.keys().collect::<Vec<_>>(),
        "exFAT: fls lists other paths"
    );
    for (path, h) in icat_hashes(&image, "", &listing) {
        assert_eq!(
            lossy[&path].sha256.as_deref(),
            Some(h.as_str()),
            "exFAT: {path}: icat content"
        );
    }
    for name in ["readme.txt", "Grüße an alle.txt", "big.bin", "grown"] {
        let t = istat_times(&image, "", &listing[name].1);
        let n = &lossy[name].node;
        // sleuthkit 4.11 drops the 10 ms increments (exfat-fuse, compared above for the
        // write time, and the specification add them): equal to its 2-second step.
        for (label, ours_t) in [("Written", n.times.modified), ("Created", n.times.born)] {
            let (o, tsk) = (ns(ours_t).unwrap(), t[label]);
            assert!(
                o >= tsk && o - tsk < 2_000_000_000,
                "exFAT: {name}: {label} {o} vs istat {tsk}"
            );
        }
        assert_eq!(
            ns(n.times.accessed),
            t.get("Accessed").copied(),
            "exFAT: {name}: access time vs istat"
        );
    }
    // exfat-fuse writes NoFatChain (contiguous) files; big.bin went into the holes
    // left in frag/, so it follows the FAT.
    assert!(
        lossy["grown"].node.flags.contains(&"contiguous"),
        "{:?}",
        lossy["grown"].node.flags
    );
    let Some(Layout::Extents { extents, .. }) = &lossy["big.bin"].layout else {
        panic!()
    };
    assert!(extents.len() > 2, "big.bin in {} pieces", extents.len());
    let n = assert_dd_rebuilds("exFAT", &image, 0, &ours);
    assert!(n > 100, "exFAT: {n} files rebuilt with dd");
}

/// The exFAT set checksum (specification 6.3.3), for patching a fixture.
fn exfat_set_checksum(set: &[u8]) -> u16 {
    let mut sum: u16 = 0;
    for (i, &b) in set.iter().enumerate() {
        if i != 2 && i != 3 {
            sum = sum.rotate_right(1).wrapping_add(u16::from(b));
        }
    }
    sum
}

#[test]
fn exfat_bytes_past_the_valid_data_length_read_as_zeros_as_the_specification_says() {
    require_root();
    require_tool("mount.exfat-fuse", "exfat-fuse");
    let tmp = tempfile::tempdir().unwrap();
    let image = tmp.path().join("vdl.img");
    bash(&format!(
        "truncate -s 8M {img}; mkfs.exfat {img} >/dev/null",
        img = q(&image)
    ));
    let content = noise(100_000, 8);
    std::fs::write(tmp.path().join("f"), &content).unwrap();
    exfat_mounted(&image, false, |m| {
        bash(&format!("cp {} {}/f; sync", q(&tmp.path().join("f")), q(m)))
    });
    // Lower the valid data length to 1000, as Windows leaves a file it preallocated
    // and wrote only partly (SetFileValidData, a crash mid-write).
    let fs = ExFat::open(open_image(&image)).unwrap();
    let id = fs
        .read_dir(fs.root())
        .unwrap()
        .into_iter()
        .find(|e| e.name == b"f")
        .unwrap()
        .id
        .0;
    let mut img = std::fs::read(&image).unwrap();
    let at = id as usize;
    let n = 1 + img[at + 1] as usize;
    img[at + 32 + 8..at + 32 + 16].copy_from_slice(&1000u64.to_le_bytes());
    let sum = exfat_set_checksum(&img[at..at + 32 * n]);
    img[at + 2..at + 4].copy_from_slice(&sum.to_le_bytes());
    std::fs::write(&image, &img).unwrap();
    let fs = ExFat::open(open_image(&image)).unwrap();
    let ours = walk(&fs);
    let f = &ours[&b"f"[..]];
    let Some(Layout::Extents { extents, .. }) = &f.layout else {
        panic!()
    };
    assert_eq!(
        extents
            .last()
            .map(|e| (e.file_offset, e.len, e.volume_offset)),
        Some((1000, 99_000, None)),
        "{extents:?}"
    );
    let mut want = content[..1000].to_vec();
    want.resize(100_000, 0);
    assert_eq!(f.sha256, Some(sha256(&want)));
    assert!(f.node.flags.contains(&"sparse"));
    // A set whose checksum no longer matches is refused (with the File entry's offset),
    // never half-read.
    let mut broken = img.clone();
    broken[at + 32 + 8] ^= 0x40;
    let bad = tmp.path().join("broken-set.img");
    std::fs::write(&bad, &broken).unwrap();
    let fs = ExFat::open(open_image(&bad)).unwrap();
    let e = fs.read_dir(fs.root()).unwrap_err();
    assert_eq!((e.reason, e.offset), ("bad_entry_set", Some(id)), "{e}");
    // exfat-fuse 1.3 ignores the valid data length and shows the stale bytes behind it
    // (Windows and the Linux exfat driver return zeros, as the specification says):
    // those bytes are still on the volume, named by the allocated clusters, but are not
    // the file's content.
    let truth = exfat_mounted(&image, true, walk_tree);
    assert_eq!(truth[&b"f"[..]].sha256, Some(sha256(&content)));
}

// ---------------------------------------------------------------------------------
// Damaged images: each an error for the one file or directory at fault, with the
// offset; everything else still read.

/// Files read (path → SHA-256) and errors (path → reason, offset) of a tolerant walk.
type Tolerant = (
    BTreeMap<String, String>,
    BTreeMap<String, (String, Option<u64>)>,
);

/// Walk, collecting errors by path instead of failing: (readable files, errors).
fn walk_tolerant(fs: &dyn FileSystem) -> Tolerant {
    let mut files = BTreeMap::new();
    let mut errors = BTreeMap::new();
    let mut stack = vec![(fs.root(), String::new(), 0)];
    while let Some((dir, prefix, depth)) = stack.pop() {
        assert!(
            depth < 64,
            "the walk went 64 levels deep: a loop was not refused"
        );
        let entries = match fs.read_dir(dir) {
            Ok(e) => e,
            Err(e) => {
                errors.insert(prefix, (e.reason.to_string(), e.offset));
                continue;
            }
        };
        for e in entries {
            let path = if prefix.is_empty() {
                show(&e.name)
            } else {
                format!("{prefix}/{}", show(&e.name))
            };
            match e.kind {
                NodeKind::Dir => stack.push((e.id, path, depth + 1)),
                NodeKind::File => {
                    let read = fs.layout(e.id, None).and_then(|l| {
                        let mut r = LayoutReader::new(Arc::clone(fs.volume()), l)?;
                        let mut v = Vec::new();
                        r.read_to_end(&mut v).map_err(|err| {
                            fieldkit::source::image::fs::FsError::new(
                                "io_error",
                                None,
                                err.to_string(),
                            )
                        })?;
                        Ok(sha256(&v))
                    });
                    match read {
                        Ok(h) => {
                            files.insert(path, h);
                        }
                        Err(err) => {
                            errors.insert(path, (err.reason.to_string(), err.offset));
                        }
                    }
                }
                _ => {}
            }
        }
    }
    (files, errors)
}

fn le(img: &[u8], at: usize, n: usize) -> u64 {
    img[at..at + n]
        .iter()
        .rev()
        .fold(0, |a, &b| (a << 8) | u64::from(b))
}

#[test]
fn ext4_damage_extent_outside_the_volume_too_deep_a_tree_a_directory_cycle_and_truncation() {
    require_root();
    require_tool("debugfs", "e2fsprogs");
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    std::fs::create_dir_all(src.join("a/b")).unwrap();
    for name in ["outside", "deep", "fine", "a/b/inner"] {
        std::fs::write(src.join(name), noise(20_000, name.len() as u64)).unwrap();
    }
    let image = tmp.path().join("damaged.img");
    let pristine = tmp.path().join("pristine.img");
    bash(&format!(
        "mkfs.ext4 -q -F -b 1024 -d {} {} 4M; cp {img} {}",
        q(&src),
        q(&image),
        q(&pristine),
        img = q(&image)
    ));
    // With debugfs: the first extent of `outside` moved to block 3,000,000 (the volume
    // has 4,096); `deep`'s extent header claims depth 7; /a/b gets an entry for /a.
    bash(&format!(
        "debugfs -w -R 'sif /outside block[5] 3000000' {img} 2>/dev/null; \
         debugfs -w -R 'sif /deep block[1] 0x70004' {img} 2>/dev/null; \
         debugfs -w -R 'link /a /a/b/up' {img} 2>/dev/null",
        img = q(&image)
    ));
    let fs = Ext4::open(open_image(&image)).unwrap();
    let (files, errors) = walk_tolerant(&fs);
    assert_eq!(
        errors["outside"],
        ("extent_outside_volume".to_string(), Some(3_000_000 * 1024)),
        "{errors:?}"
    );
    assert_eq!(errors["deep"].0, "bad_extent_tree", "{errors:?}");
    assert_eq!(errors["a/b"].0, "directory_loop", "{errors:?}");
    assert_eq!(errors.len(), 3, "{errors:?}");
    assert_eq!(
        files["fine"],
        sha256(&noise(20_000, 4)),
        "the rest of the volume is still read"
    );
    let e = fs
        .layout(
            fs.read_dir(fs.root())
                .unwrap()
                .into_iter()
                .find(|e| e.name == b"outside")
                .unwrap()
                .id,
            None,
        )
        .unwrap_err();
    assert!(
        e.to_string().contains("at volume offset 3072000000") && !e.to_string().contains('\n'),
        "{e}"
    );

    // A bad superblock: one line, naming the offset.
    let mut raw = std::fs::read(&pristine).unwrap();
    raw[1024 + 56] = 0;
    let bad = tmp.path().join("bad-sb.img");
    std::fs::write(&bad, &raw).unwrap();
    let e = Ext4::open(open_image(&bad)).err().unwrap();
    assert_eq!((e.reason, e.offset), ("bad_superblock", Some(1080)), "{e}");
    assert!(!e.to_string().contains('\n'));

    // A truncated image: files whose blocks are gone are errors, the others are read.
    let raw = std::fs::read(&pristine).unwrap();
    let cut = tmp.path().join("cut.img");
    std::fs::write(&cut, &raw[..raw.len() / 2]).unwrap();
    let fs = Ext4::open(open_image(&cut)).unwrap();
    assert!(
        fs.info()
            .notes
            .iter()
            .any(|n| n.contains("the volume only")),
        "{:?}",
        fs.info().notes
    );
    let (_files, errors) = walk_tolerant(&fs);
    for (path, (reason, _)) in &errors {
        assert!(
            matches!(
                reason.as_str(),
                "extent_outside_volume" | "io_error" | "truncated"
            ),
            "{path}: {reason}"
        );
    }
}

#[test]
fn fat_damage_a_chain_loop_a_chain_past_the_fat_a_directory_cycle_and_a_bad_bpb() {
    require_tool("mkfs.fat", "dosfstools");
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    std::fs::create_dir_all(src.join("a/b")).unwrap();
    for name in ["loop.bin", "past.bin", "fine.bin", "a/b/inner.bin"] {
        std::fs::write(src.join(name), noise(10_000, name.len() as u64)).unwrap();
    }
    let image = tmp.path().join("fat16.img");
    bash(&format!(
        "mkfs.fat -C -F 16 -s 1 {} 8192 >/dev/null; mcopy -s -m -i {img} {}/* ::/",
        q(&image),
        q(&src),
        img = q(&image)
    ));
    let mut img = std::fs::read(&image).unwrap();
    let (bps, spc, reserved) = (le(&img, 11, 2), le(&img, 13, 1), le(&img, 14, 2));
    let fat_at = (reserved * bps) as usize;
    let fs = Fat::open(open_image(&image)).unwrap();
    let root = fs.read_dir(fs.root()).unwrap();
    let id_of = |list: &[fieldkit::source::image::fs::DirEntry], name: &[u8]| {
        list.iter().find(|e| e.name == name).unwrap().id
    };
    let first_cluster =
        |img: &[u8], id: fieldkit::source::image::fs::NodeId| le(img, id.0 as usize + 26, 2);
    // loop.bin: its second cluster links back to its first.
    let c = first_cluster(&img, id_of(&root, b"loop.bin"));
    let second = le(&img, fat_at + 2 * c as usize, 2);
    img[fat_at + 2 * second as usize..][..2].copy_from_slice(&(c as u16).to_le_bytes());
    // past.bin: its first cluster links to cluster 0xFFF0, past the volume's clusters.
    let p = first_cluster(&img, id_of(&root, b"past.bin"));
    img[fat_at + 2 * p as usize..][..2].copy_from_slice(&0xFFF0u16.to_le_bytes());
    // a/b/inner.bin becomes a directory entry for /a: a cycle.
    let a = id_of(&root, b"a");
    let b = id_of(&fs.read_dir(a).unwrap(), b"b");
    let inner = id_of(&fs.read_dir(b).unwrap(), b"inner.bin");
    img[inner.0 as usize + 11] = 0x10;
    let a_cluster = img[a.0 as usize + 26..a.0 as usize + 28].to_vec();
    img[inner.0 as usize + 26..inner.0 as usize + 28].copy_from_slice(&a_cluster);
    std::fs::write(&image, &img).unwrap();
    let _ = spc;

    let fs = Fat::open(open_image(&image)).unwrap();
    let (files, errors) = walk_tolerant(&fs);
    assert_eq!(errors["loop.bin"].0, "cluster_loop", "{errors:?}");
    assert_eq!(
        errors["past.bin"],
        (
            "cluster_out_of_range".to_string(),
            Some(fat_at as u64 + 2 * p)
        ),
        "{errors:?}"
    );
    assert_eq!(errors["a/b"].0, "directory_loop", "{errors:?}");
    assert_eq!(errors.len(), 3, "{errors:?}");
    assert_eq!(files["fine.bin"], sha256(&noise(10_000, 8)));

    // A bad BPB: one line naming the field's offset.
    let mut raw = std::fs::read(&image).unwrap();
    raw[11..13].copy_from_slice(&700u16.to_le_bytes());
    let bad = tmp.path().join("bad.img");
    std::fs::write(&bad, &raw).unwrap();
    let e = Fat::open(open_image(&bad)).err().unwrap();
    assert_eq!((e.reason, e.offset), ("bad_boot_sector", Some(11)), "{e}");
    assert_eq!(
        e.to_string(),
        "not a FAT file system: 700 bytes per sector at volume offset 11"
    );
    // exFAT refuses the FAT boot sector, with its offset too.
    let e = ExFat::open(open_image(&image)).err().unwrap();
    assert_eq!((e.reason, e.offset), ("bad_boot_sector", Some(3)), "{e}");
}

#[test]
fn exfat_damage_a_broken_set_checksum_and_a_bad_boot_sector() {
    require_tool("mkfs.exfat", "exfatprogs");
    let tmp = tempfile::tempdir().unwrap();
    let image = tmp.path().join("exfat.img");
    bash(&format!(
        "truncate -s 4M {img}; mkfs.exfat {img} >/dev/null",
        img = q(&image)
    ));
    let mut img = std::fs::read(&image).unwrap();
    img[108] = 20;
    let bad = tmp.path().join("bad.img");
    std::fs::write(&bad, &img).unwrap();
    let e = ExFat::open(open_image(&bad)).err().unwrap();
    assert_eq!((e.reason, e.offset), ("bad_boot_sector", Some(108)), "{e}");
    assert!(!e.to_string().contains('\n'));
}

// ---------------------------------------------------------------------------------
// Fuzzing the readers over mutated real images (until the repository's fuzz harness
// runs them): deterministic, bounded in count and time; a panic or a hang fails.

fn mutate_and_run(
    seed: &[u8],
    rounds: usize,
    limit: Duration,
    salt: u64,
    entry: fn(&[u8]),
) -> usize {
    let start = std::time::Instant::now();
    let mut x = salt | 1;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    // Metadata sits at the front of these small images: most mutations go there.
    let hot = seed.len().min(96 * 1024);
    let mut done = 0;
    for _ in 0..rounds {
        if start.elapsed() > limit {
            break;
        }
        let mut data = seed.to_vec();
        let kind = next() % 8;
        let flips = 1 + next() % 12;
        for _ in 0..flips {
            let at = if kind == 0 {
                next() as usize % data.len()
            } else {
                next() as usize % hot
            };
            match next() % 4 {
                0 => data[at] = 0xFF,
                1 => data[at] = 0,
                2 => data[at] ^= 1 << (next() % 8),
                _ => data[at] = next() as u8,
            }
        }
        if kind == 7 {
            let keep = next() as usize % data.len();
            data.truncate(keep);
        }
        entry(&data);
        done += 1;
    }
    entry(seed);
    done
}

#[test]
fn the_readers_survive_thousands_of_mutated_images() {
    require_root();
    for (t, p) in [
        ("mkfs.fat", "dosfstools"),
        ("mcopy", "mtools"),
        ("mkfs.exfat", "exfatprogs"),
        ("mkfs.ext4", "e2fsprogs"),
    ] {
        require_tool(t, p);
    }
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    std::fs::create_dir_all(src.join("d/e")).unwrap();
    std::fs::write(src.join("a long file name.txt"), noise(3000, 1)).unwrap();
    std::fs::write(src.join("d/e/f"), noise(9000, 2)).unwrap();
    std::fs::write(src.join("d/tiny"), b"tiny").unwrap();
    std::os::unix::fs::symlink("d/tiny", src.join("link")).unwrap();
    let fat = tmp.path().join("fat.img");
    let ext = tmp.path().join("ext.img");
    let exfat = tmp.path().join("exfat.img");
    bash(&format!(
        "mkfs.fat -C -F 12 {fat} 160 >/dev/null; mcopy -s -i {fat} {src}/a* {src}/d ::/; \
         mkfs.ext4 -q -F -b 1024 -N 32 -O inline_data,^has_journal -d {src} {ext} 256K; \
         truncate -s 1M {exfat}; mkfs.exfat -c 4K -b 16K {exfat} >/dev/null",
        fat = q(&fat),
        ext = q(&ext),
        exfat = q(&exfat),
        src = q(&src)
    ));
    exfat_mounted(&exfat, false, |m| {
        bash(&format!(
            "cp -r {}/a* {}/d {m}/; sync",
            q(&src),
            q(&src),
            m = q(m)
        ))
    });
    type Seed<'a> = (&'a Path, fn(&[u8]));
    let seeds: [Seed; 3] = [
        (&fat, fieldkit::source::image::fs::fat::fuzz_entry),
        (&ext, fieldkit::source::image::fs::ext4::fuzz_entry),
        (&exfat, fieldkit::source::image::fs::exfat::fuzz_entry),
    ];
    for (i, (path, entry)) in seeds.into_iter().enumerate() {
        let seed = std::fs::read(path).unwrap();
        // FIELDKIT_FUZZ_ROUNDS=N runs a longer campaign by hand (same seeds and RNG).
        let (rounds, limit) = match std::env::var("FIELDKIT_FUZZ_ROUNDS")
            .ok()
            .and_then(|v| v.parse().ok())
        {
            Some(n) => (n, Duration::from_secs(3600)),
            None => (5000, Duration::from_secs(12)),
        };
        let n = mutate_and_run(
            &seed,
            rounds,
            limit,
            0x9E37_79B9_7F4A_7C15 + i as u64,
            entry,
        );
        eprintln!("{}: {n} mutated images", path.display());
        assert!(
            n >= 1000,
            "{}: only {n} mutations ran in the time box",
            path.display()
        );
    }
}
