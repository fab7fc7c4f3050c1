//! Ground truth for the NTFS reader: images made here with `mkntfs` and files written
//! through an `ntfs-3g` FUSE mount (nested and large directories, resident, fragmented
//! and sparse files, an alternate data stream, a hard link, an Interix and a reparse-
//! point symlink, an LZNT1-compressed file, deleted files), compared with the read-only
//! ntfs-3g mount, with sleuthkit (`fls -r -p`, `fls -d`, `icat` incl. ADS and `$MFT`,
//! `istat` for `$STANDARD_INFORMATION` and `$FILE_NAME` times) and rebuilt from the
//! recorded extents with `dd` alone. Then the binary: windows-triage from an image laid
//! out like a Windows system, against the same profile on the mount (the profile chosen
//! by itself), the NTFS metadata files by name, every file rebuilt from the image with
//! the recorded byte ranges, the image unchanged; a record with a broken fixup and a
//! directory index that loops, each a record with its offset and the rest collected;
//! a torn deleted record named by the deleted scan; `--deleted`; an image cut short (in
//! the data and inside the `$MFT`); and thousands of mutated images that must never
//! panic or hang.

mod common;

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use common::{require_root, require_tool};
use fieldkit::source::image::fs::ntfs::Ntfs;
use fieldkit::source::image::fs::read::LayoutReader;
use fieldkit::source::image::fs::{FileSystem, Layout, Node, NodeId, NodeKind};
use fieldkit::source::image::media::FileMedia;
use serde_json::Value;
use sha2::{Digest, Sha256};

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

fn sha256_file(p: &Path) -> String {
    bash(&format!("sha256sum {} | cut -d' ' -f1", q(p)))
        .trim()
        .to_string()
}

fn require_ntfs_tools() {
    require_root();
    require_tool("mkntfs", "ntfs-3g");
    require_tool("ntfs-3g", "ntfs-3g");
    require_tool("setfattr", "attr");
    require_tool("fls", "sleuthkit");
}

/// A fresh NTFS image of `mib` MiB.
fn mkntfs(image: &Path, mib: u32) {
    bash(&format!(
        "truncate -s {mib}M {i} && mkntfs -F -Q -q -L EVIDENCE {i} 2>/dev/null",
        i = q(image)
    ));
}

/// Run `f` with the image mounted through ntfs-3g (`opts`), unmounting whatever `f` does.
fn ntfs_mounted<T>(image: &Path, opts: &str, f: impl FnOnce(&Path) -> T) -> T {
    let mnt = tempfile::tempdir().unwrap();
    bash(&format!("ntfs-3g -o {opts} {} {}", q(image), q(mnt.path())));
    let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(mnt.path())));
    bash(&format!("umount {}", q(mnt.path())));
    match out {
        Ok(v) => v,
        Err(p) => std::panic::resume_unwind(p),
    }
}

/// The reparse data of a relative symbolic link to `target` (backslashes), for
/// ntfs-3g's `system.ntfs_reparse_data`.
fn symlink_reparse_hex(target: &str) -> String {
    let t: Vec<u8> = target.encode_utf16().flat_map(u16::to_le_bytes).collect();
    let mut body = Vec::new();
    for v in [0u16, t.len() as u16, t.len() as u16, t.len() as u16] {
        body.extend_from_slice(&v.to_le_bytes());
    }
    body.extend_from_slice(&1u32.to_le_bytes());
    body.extend_from_slice(&t);
    body.extend_from_slice(&t);
    let mut d = Vec::new();
    d.extend_from_slice(&0xA000_000Cu32.to_le_bytes());
    d.extend_from_slice(&(body.len() as u16).to_le_bytes());
    d.extend_from_slice(&[0, 0]);
    d.extend_from_slice(&body);
    format!("0x{}", hex(&d))
}

/// The tree every ground-truth check reads, written through ntfs-3g.
fn fill_ground_truth(image: &Path) {
    ntfs_mounted(image, "streams_interface=windows", |m| {
        bash(&format!(
            r#"cd {m}
mkdir -p docs/deep/er/est many other comp fill
printf tiny > docs/tiny.txt
printf '[ZoneTransfer]\r\nZoneId=3\r\n' > 'docs/tiny.txt:Zone.Identifier'
ln docs/tiny.txt other/hard.txt
head -c 300000 /dev/urandom > big.bin
printf 'a resident file of more than one hundred and forty bytes, so that its value crosses the end of the record'"'"'s first 512-byte block and its fixup %.0s' 1 2 3 4 > docs/crossing.txt
for i in $(seq -w 0 59); do echo "file $i" > "many/a file with a long name number $i.txt"; done
# Appends taken in turns: ntfs-3g allocates next-fit, so both files are fragmented.
for i in 1 2 3 4 5; do
  head -c 65536 /dev/urandom >> docs/deep/er/est/frag.bin
  head -c 65536 /dev/urandom >> fill/interleaved.bin
done
truncate -s 3M sparse.bin && printf tail >> sparse.bin
echo 'non-ascii name' > 'résumé – ünïcode.txt'
ln -s docs/tiny.txt interix-link
touch reparse-link
setfattr -h -v 0x00000800 -n system.ntfs_attrib_be comp
head -c 200000 /dev/zero | tr '\0' 'z' > comp/z.txt
head -c 100000 /dev/urandom > gone.bin
echo bye > docs/gone-small.txt
mkdir -p gone-dir/sub
echo inner > gone-dir/sub/inner.txt
echo outer > gone-dir/outer.txt
sync
rm gone.bin docs/gone-small.txt
rm -r gone-dir
"#,
            m = q(m)
        ));
        bash(&format!(
            "setfattr -h -n system.ntfs_reparse_data -v {} {}/reparse-link",
            symlink_reparse_hex("docs\\tiny.txt"),
            q(m)
        ));
    });
}

struct Seen {
    node: Node,
    sha256: Option<String>,
    layout: Option<Layout>,
}

fn read_layout(fs: &dyn FileSystem, layout: Layout) -> Option<String> {
    let mut r = LayoutReader::new(Arc::clone(fs.volume()), layout).ok()?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = r.read(&mut buf).expect("read");
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Some(hex(&h.finalize()))
}

/// Every path (and `path:stream`) below the root, skipping NTFS's own records (0–23).
fn walk(fs: &dyn FileSystem) -> BTreeMap<String, Seen> {
    let mut out = BTreeMap::new();
    let mut stack = vec![(fs.root(), String::new(), 0)];
    while let Some((dir, prefix, depth)) = stack.pop() {
        assert!(depth < 32);
        for e in fs.read_dir(dir).unwrap_or_else(|e| panic!("{prefix}: {e}")) {
            if depth == 0 && (e.id.0 & 0xFFFF_FFFF_FFFF) < 24 {
                continue;
            }
            let name = String::from_utf8(e.name.clone()).unwrap();
            let path = if prefix.is_empty() {
                name
            } else {
                format!("{prefix}/{name}")
            };
            let node = fs.node(e.id).unwrap_or_else(|err| panic!("{path}: {err}"));
            assert_eq!(
                node.id, e.id,
                "{path}: node id is the directory's reference"
            );
            if node.kind == NodeKind::Dir {
                stack.push((e.id, path.clone(), depth + 1));
            }
            let (sha256, layout) = if node.kind == NodeKind::File {
                let l = fs.layout(e.id, None).expect("layout");
                (read_layout(fs, l.clone()), Some(l))
            } else {
                (None, None)
            };
            for s in &node.streams {
                let l = fs.layout(e.id, Some(&s.name)).expect("stream layout");
                let mut n = node.clone();
                n.size = s.size;
                out.insert(
                    format!("{path}:{}", String::from_utf8_lossy(&s.name)),
                    Seen {
                        node: n,
                        sha256: read_layout(fs, l.clone()),
                        layout: Some(l),
                    },
                );
            }
            out.insert(
                path,
                Seen {
                    node,
                    sha256,
                    layout,
                },
            );
        }
    }
    out
}

/// `istat` times of one section: "$STANDARD_INFORMATION" or "$FILE_NAME" (the first).
fn istat_times(image: &Path, inode: u64, section: &str) -> Vec<i128> {
    let out = bash(&format!("istat {} {inode}", q(image)));
    let start = out.find(&format!("{section} Attribute Values:")).unwrap();
    let mut times = Vec::new();
    for line in out[start..].lines().skip(1) {
        if line.contains("Attribute Values:") || line.starts_with("Attributes:") {
            break;
        }
        if let Some((_, t)) = line.split_once(":\t")
            && let Some(t) = t.strip_suffix(" (UTC)")
        {
            times.push(parse_utc(t).unwrap());
        }
    }
    times
}

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

fn ns(t: Option<fieldkit::source::image::fs::FsTime>) -> i128 {
    t.expect("time").unix_nanos
}

/// The four times in istat's order: created, modified, MFT modified, accessed.
fn four(t: &fieldkit::source::image::fs::Times) -> Vec<i128> {
    vec![ns(t.born), ns(t.modified), ns(t.changed), ns(t.accessed)]
}

/// `fls` lines of allocated (or, with `-d`, deleted) entries: path → the address as
/// printed (`67-128-2`).
fn fls(image: &Path, flags: &str) -> BTreeMap<String, String> {
    let out = bash(&format!("timeout 60 fls {flags} {}", q(image)));
    let deleted = flags.contains("-d");
    out.lines()
        .filter_map(|l| {
            let (head, path) = l.split_once(":\t")?;
            if head.contains(" * ") != deleted || head.starts_with("V/V") {
                return None;
            }
            let addr = head.split_whitespace().last()?.to_string();
            Some((path.to_string(), addr))
        })
        .collect()
}

#[test]
fn ntfs_reads_like_the_ntfs3g_mount_and_sleuthkit_and_rebuilds_with_dd() {
    require_ntfs_tools();
    let t = tempfile::tempdir().unwrap();
    let img = t.path().join("ntfs.img");
    mkntfs(&img, 24);
    fill_ground_truth(&img);
    let fs = Ntfs::open(Arc::new(FileMedia::open(&img).unwrap())).unwrap();
    let info = fs.info();
    assert_eq!(
        (info.kind, info.label.as_deref()),
        ("ntfs", Some("EVIDENCE"))
    );
    // mkntfs keeps the last sector for the backup boot sector, outside the file system.
    assert_eq!(info.size, (24 << 20) - 512);
    let ours = walk(&fs);

    // (a) The read-only ntfs-3g mount: names, kinds, sizes, content, record numbers,
    // times, link targets, the alternate data stream.
    ntfs_mounted(&img, "ro,streams_interface=windows", |m| {
        let listed = bash(&format!("cd {} && find . -mindepth 1 | sort", q(m)));
        let mut want: Vec<String> = listed
            .lines()
            .map(|l| l.trim_start_matches("./").to_string())
            .collect();
        want.push("docs/tiny.txt:Zone.Identifier".into());
        want.push("other/hard.txt:Zone.Identifier".into());
        want.sort();
        let got: Vec<String> = ours.keys().cloned().collect();
        assert_eq!(got, want, "the same entries as the mount");
        for (path, s) in &ours {
            let p = m.join(path);
            let meta = std::fs::symlink_metadata(&p).unwrap();
            use std::os::unix::fs::MetadataExt;
            assert_eq!(meta.ino(), s.node.id.0 & 0xFFFF_FFFF_FFFF, "{path}: inode");
            if meta.file_type().is_symlink() {
                assert_eq!(s.node.kind, NodeKind::Symlink, "{path}");
                let target = std::fs::read_link(&p).unwrap();
                let ours = s
                    .node
                    .link_target
                    .clone()
                    .or(s.node.reparse.as_ref().and_then(|r| r.target.clone()))
                    .unwrap();
                assert_eq!(
                    String::from_utf8(ours).unwrap().replace('\\', "/"),
                    target.to_str().unwrap(),
                    "{path}"
                );
                continue;
            }
            if meta.is_dir() {
                assert_eq!(s.node.kind, NodeKind::Dir, "{path}");
                continue;
            }
            assert_eq!(s.node.size, meta.len(), "{path}: size");
            let stat_ns = |sec: i64, nsec: i64| sec as i128 * 1_000_000_000 + nsec as i128;
            assert_eq!(
                ns(s.node.times.modified),
                stat_ns(meta.mtime(), meta.mtime_nsec()),
                "{path}: mtime"
            );
            assert_eq!(
                ns(s.node.times.changed),
                stat_ns(meta.ctime(), meta.ctime_nsec()),
                "{path}: ctime"
            );
            if path.starts_with("comp/") {
                assert!(
                    matches!(s.layout, Some(Layout::Compressed { .. })),
                    "{path}: compressed data is not plain extents"
                );
                assert!(s.node.flags.contains(&"compressed"));
                assert_eq!(s.sha256, None, "never read as plain bytes");
                continue;
            }
            assert_eq!(s.sha256, Some(sha256_file(&p)), "{path}: content");
        }
    });

    // Hard links: one identity; both names counted.
    let (a, b) = (&ours["docs/tiny.txt"].node, &ours["other/hard.txt"].node);
    assert_eq!(a.id, b.id);
    assert_eq!(a.nlink, Some(2));
    assert_eq!(
        ours["interix-link"].node.flags.last(),
        Some(&"interix_symlink")
    );
    let rp = ours["reparse-link"].node.reparse.clone().unwrap();
    assert_eq!(rp.tag, 0xA000_000C);
    assert_eq!(rp.target.as_deref(), Some(&b"docs\\tiny.txt"[..]));
    // The shapes the fixture is for.
    let extents = |p: &str| match &ours[p].layout {
        Some(Layout::Extents { extents, .. }) => extents.clone(),
        other => panic!("{p}: {other:?}"),
    };
    let frag = extents("docs/deep/er/est/frag.bin");
    assert!(
        frag.iter().filter(|e| e.volume_offset.is_some()).count() >= 2,
        "fragmented: {frag:?}"
    );
    assert!(
        extents("sparse.bin")
            .iter()
            .any(|e| e.volume_offset.is_none())
    );
    assert!(matches!(
        ours["docs/tiny.txt"].layout,
        Some(Layout::Resident { .. })
    ));
    assert!(
        extents("docs/crossing.txt").len() >= 3,
        "resident bytes across a block end: the record's pieces and the update sequence array"
    );

    // (b) sleuthkit's listing: every path and ADS at the same MFT record.
    let listing: BTreeMap<String, String> = fls(&img, "-r -p")
        .into_iter()
        .filter(|(p, _)| !p.starts_with('$'))
        .collect();
    let mine: BTreeMap<String, String> = ours
        .iter()
        .map(|(p, s)| (p.clone(), (s.node.id.0 & 0xFFFF_FFFF_FFFF).to_string()))
        .collect();
    let theirs: BTreeMap<String, String> = listing
        .iter()
        .map(|(p, a)| (p.clone(), a.split('-').next().unwrap().to_string()))
        .collect();
    assert_eq!(mine, theirs, "fls -r -p: paths and MFT records");

    // (c) icat: every file and stream (sleuthkit decodes LZNT1; fieldkit refuses it).
    let mut script = String::new();
    let mut want = Vec::new();
    for (p, s) in &ours {
        if let Some(h) = &s.sha256 {
            script.push_str(&format!(
                "icat {} {} | sha256sum | cut -d' ' -f1\n",
                q(&img),
                listing[p]
            ));
            want.push((p.clone(), h.clone()));
        }
    }
    script.push_str(&format!("icat {} 0 | sha256sum | cut -d' ' -f1\n", q(&img)));
    let got = bash(&script);
    let got: Vec<&str> = got.lines().collect();
    for ((p, h), g) in want.iter().zip(&got) {
        assert_eq!(h, g, "{p}: icat");
    }
    let mft = fs.layout(NodeId(0), None).unwrap();
    assert_eq!(
        read_layout(&fs, mft.clone()).as_deref(),
        got.last().copied(),
        "$MFT = icat 0"
    );

    // (d) istat: $STANDARD_INFORMATION and $FILE_NAME times to the 100 ns.
    for p in ["big.bin", "docs/deep/er/est/frag.bin"] {
        let n = &ours[p].node;
        let rec = n.id.0 & 0xFFFF_FFFF_FFFF;
        assert_eq!(
            four(&n.times),
            istat_times(&img, rec, "$STANDARD_INFORMATION"),
            "{p}"
        );
        assert_eq!(
            four(n.name_times.as_ref().unwrap()),
            istat_times(&img, rec, "$FILE_NAME"),
            "{p}"
        );
    }

    // (e) dd: every file and stream from the recorded extents alone.
    let mut script = String::new();
    let mut want = Vec::new();
    let mut all: Vec<(String, Layout, String)> = ours
        .iter()
        .filter_map(|(p, s)| Some((p.clone(), s.layout.clone()?, s.sha256.clone()?)))
        .collect();
    all.push(("$MFT".into(), mft, got.last().unwrap().to_string()));
    for (p, layout, h) in all {
        let extents = match layout {
            Layout::Extents { extents, .. } => extents,
            Layout::Resident {
                bytes,
                volume_offset,
            } => vec![fieldkit::source::image::fs::Extent {
                file_offset: 0,
                len: bytes.len() as u64,
                volume_offset: Some(volume_offset.unwrap()),
            }],
            _ => continue,
        };
        script.push_str("{ :");
        for e in extents {
            match e.volume_offset {
                Some(at) => script.push_str(&format!(
                    "; dd if={} iflag=skip_bytes,count_bytes skip={at} count={} bs=1M status=none",
                    q(&img),
                    e.len
                )),
                None => script.push_str(&format!("; head -c {} /dev/zero", e.len)),
            }
        }
        script.push_str("; } | sha256sum | cut -d' ' -f1\n");
        want.push((p, h));
    }
    let got = bash(&script);
    for ((p, h), g) in want.iter().zip(got.lines()) {
        assert_eq!(h, g, "{p}: rebuilt with dd");
    }
    assert_eq!(got.lines().count(), want.len());

    // (f) Deleted entries against fls -d (records not in use that still have a name).
    let scan = fs.deleted().unwrap();
    let deleted = &scan.entries;
    let mine: BTreeMap<String, u64> = deleted
        .iter()
        .map(|d| {
            let p = d.path.clone().map_or_else(
                || format!("$OrphanFiles/{}", String::from_utf8_lossy(&d.name)),
                |p| String::from_utf8_lossy(&p[1..]).into_owned(),
            );
            (p, d.node.id.0 & 0xFFFF_FFFF_FFFF)
        })
        .collect();
    let fls_d = fls(&img, "-r -d -p");
    let theirs: BTreeMap<String, u64> = fls_d
        .iter()
        .filter(|(p, _)| !p.starts_with("$OrphanFiles/OrphanFile-"))
        .map(|(p, a)| (p.clone(), a.split('-').next().unwrap().parse().unwrap()))
        .collect();
    assert_eq!(mine, theirs, "fls -d");
    // The one documented difference: fls's OrphanFile-N are exactly the records not in
    // use that have attributes but no name, which the scan counts and does not list.
    let orphans = fls_d
        .keys()
        .filter(|p| p.starts_with("$OrphanFiles/OrphanFile-"))
        .count() as u64;
    assert!(orphans >= 8, "the reserved records 16-23: {orphans}");
    assert_eq!(
        scan.nameless, orphans,
        "nameless records = fls's OrphanFile-N"
    );
    assert_eq!(scan.unreadable_total, 0, "{:?}", scan.unreadable);
    let gone = deleted
        .iter()
        .find(|d| d.name == b"gone.bin")
        .expect("gone.bin is listed");
    assert!(!gone.node.allocated);
    assert_eq!(gone.node.size, 100_000);
    assert_eq!(gone.runs_unallocated, Some(true), "its clusters are free");
    assert!(gone.node.times.modified.is_some() && gone.node.name_times.is_some());
    assert!(mine.contains_key("docs/gone-small.txt"), "{mine:?}");
    // A deleted folder's deleted files keep their path through it, as fls -d shows them.
    for p in [
        "gone-dir",
        "gone-dir/sub",
        "gone-dir/sub/inner.txt",
        "gone-dir/outer.txt",
    ] {
        assert!(mine.contains_key(p), "{p}: {mine:?}");
    }
}

// ---------------------------------------------------------------------------------
// Through the binary

fn collect_ok(src: &Path, out: &Path, extra: &[&str]) -> (common::Run, PathBuf) {
    let (r, bundle) = common::collect(src, out, extra);
    assert_eq!(
        r.code,
        0,
        "collect {} {extra:?}:\nstdout {}\nstderr {}",
        src.display(),
        r.stdout,
        r.stderr
    );
    (r, bundle)
}

fn collected(records: &[Value], strip: &str) -> BTreeMap<String, String> {
    records
        .iter()
        .filter(|r| matches!(r["status"].as_str(), Some("collected" | "duplicate")))
        .map(|r| {
            let p = r["path"].as_str().unwrap();
            let rel = p.strip_prefix(strip).unwrap_or(p).trim_start_matches('/');
            (rel.to_string(), r["sha256"].as_str().unwrap().to_string())
        })
        .collect()
}

/// Every collected file rebuilt from the image with the recorded image offsets alone.
fn rebuild_from_runs(image: &Path, records: &[Value], dir: &Path) -> BTreeMap<String, String> {
    let list = dir.join("runs.json");
    let wanted: Vec<&Value> = records
        .iter()
        .filter(|r| matches!(r["status"].as_str(), Some("collected" | "duplicate")))
        .collect();
    std::fs::write(&list, serde_json::to_vec(&wanted).unwrap()).unwrap();
    let script = r#"
import hashlib, json, sys
recs = json.load(open(sys.argv[2]))
with open(sys.argv[1], 'rb') as img:
    for r in recs:
        d = r['image']['data']
        h = hashlib.sha256()
        if d['kind'] == 'runs':
            for run in d['runs']:
                if run.get('hole'):
                    h.update(b'\0' * run['len'])
                else:
                    img.seek(run['image_offset'])
                    b = img.read(run['len'])
                    assert len(b) == run['len'], r['path']
                    h.update(b)
        else:
            img.seek(d['image_offset'])
            h.update(img.read(d['len']))
        print(r['path'] + '\t' + h.hexdigest())
"#;
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(image)
        .arg(&list)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once('\t'))
        .map(|(p, h)| (p.trim_start_matches('/').to_string(), h.to_string()))
        .collect()
}

/// windows-triage on an image laid out like a Windows system: chosen by itself, the
/// same paths and SHA-256s as from the ntfs-3g mount, every file rebuilt from its
/// recorded runs, `$Recycle.Bin` walked like any folder; the metadata files by name
/// (`$MFT` = `icat 0`); the image's bytes and mtime unchanged.
#[test]
fn windows_triage_from_an_ntfs_image_matches_its_mount_and_rebuilds_from_the_runs() {
    require_ntfs_tools();
    require_tool("python3", "python3");
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    let img = d.join("windows.img");
    mkntfs(&img, 32);
    ntfs_mounted(&img, "streams_interface=none", |m| {
        bash(&format!(
            r#"cd {m}
mkdir -p Windows/System32/config/RegBack Windows/System32/winevt/Logs Windows/Prefetch \
  Windows/System32/drivers/etc Windows/System32/Tasks/Microsoft \
  'Users/alice/AppData/Roaming/Microsoft/Windows/PowerShell/PSReadLine' \
  Users/alice/AppData/Local/Microsoft/Windows Users/bob '$Recycle.Bin/S-1-5-21-1-1001' \
  'Program Files/App'
for h in SYSTEM SOFTWARE SAM SECURITY DEFAULT; do head -c 262144 /dev/urandom > Windows/System32/config/$h; done
head -c 4096 /dev/urandom > Windows/System32/config/SYSTEM.LOG1
head -c 1052672 /dev/urandom > Windows/System32/winevt/Logs/Security.evtx
head -c 69632 /dev/urandom > Windows/System32/winevt/Logs/System.evtx
head -c 3000 /dev/urandom > Windows/Prefetch/CMD.EXE-4A81B364.pf
printf '127.0.0.1 localhost\r\n' > Windows/System32/drivers/etc/hosts
printf '<Task/>' > Windows/System32/Tasks/Microsoft/Evil
head -c 524288 /dev/urandom > Users/alice/NTUSER.DAT
head -c 65536 /dev/urandom > Users/alice/AppData/Local/Microsoft/Windows/UsrClass.dat
printf 'whoami\r\nInvoke-Mimikatz\r\n' > Users/alice/AppData/Roaming/Microsoft/Windows/PowerShell/PSReadLine/ConsoleHost_history.txt
head -c 131072 /dev/urandom > Users/bob/NTUSER.DAT
printf 'I-record' > '$Recycle.Bin/S-1-5-21-1-1001/$IABC123.txt'
head -c 90000 /dev/urandom > '$Recycle.Bin/S-1-5-21-1-1001/$RABC123.txt'
head -c 200000 /dev/urandom > 'Program Files/App/app.exe'
"#,
            m = q(m)
        ))
    });
    let before = (
        sha256_file(&img),
        std::fs::metadata(&img).unwrap().modified().unwrap(),
    );

    let (run, bundle) = collect_ok(&img, &d.join("out-image"), &[]);
    assert!(
        run.stderr
            .contains("volume 1 is NTFS with a Windows folder: windows-triage"),
        "{}",
        run.stderr
    );
    let m = common::manifest(&bundle);
    assert_eq!(m["profile"]["name"], "windows-triage");
    assert_eq!(m["image"]["volumes"][0]["fs"]["kind"], "ntfs");
    assert_eq!(m["image"]["volumes"][0]["fs"]["label"], "EVIDENCE");
    let from_image = common::records(&bundle);
    let mounted = ntfs_mounted(&img, "ro", |mnt| {
        let (_, b) = collect_ok(mnt, &d.join("out-mount"), &["--profile", "windows-triage"]);
        (common::records(&b), mnt.canonicalize().unwrap())
    });
    let got = collected(&from_image, "");
    let want = collected(&mounted.0, &mounted.1.display().to_string());
    // windows-triage names the NTFS metadata files (its ntfs-metadata rule): the image
    // gives them, the ntfs-3g mount does not show them.
    let metadata = ["$Boot", "$LogFile", "$MFT", "$Secure:$SDS"];
    let mut files = got.clone();
    for m in metadata {
        assert!(files.remove(m).is_some(), "{m} from the image: {got:?}");
    }
    assert_eq!(files, want, "the same paths and SHA-256s as from the mount");
    for p in [
        "Windows/System32/config/SYSTEM",
        "Windows/System32/winevt/Logs/Security.evtx",
        "Users/alice/NTUSER.DAT",
        "Users/bob/NTUSER.DAT",
        "$Recycle.Bin/S-1-5-21-1-1001/$IABC123.txt",
    ] {
        assert!(got.contains_key(p), "{p}: {got:?}");
    }
    let r = common::record_for(&from_image, "/Users/alice/NTUSER.DAT");
    assert_eq!(r["image"]["fs"], "ntfs");
    assert!(r["image"]["mft_record"].as_u64().unwrap() >= 24, "{r}");
    assert!(r["image"]["sequence"].as_u64().is_some());
    assert!(
        r["image"]["name_times"]["born"]["filetime"]
            .as_u64()
            .is_some()
    );
    assert_eq!(
        rebuild_from_runs(&img, &from_image, d),
        got,
        "every file re-derives from its runs"
    );

    // NTFS's own files, only where a profile names them.
    let prof = d.join("meta.toml");
    std::fs::write(
        &prof,
        "name = \"meta\"\ndescription = \"d\"\nformat_version = 1\nos = \"any\"\n\
         [[rule]]\nname = \"ntfs\"\ncategory = \"fs\"\ndescription = \"d\"\n\
         paths = [\"/$MFT\", \"/$Boot\", \"/$LogFile\", \"/$Secure:$SDS\"]\n",
    )
    .unwrap();
    let (_, b) = collect_ok(
        &img,
        &d.join("out-meta"),
        &["--profile", prof.to_str().unwrap()],
    );
    let recs = common::records(&b);
    let meta = collected(&recs, "");
    let names: Vec<&str> = meta.keys().map(String::as_str).collect();
    assert_eq!(names, ["$Boot", "$LogFile", "$MFT", "$Secure:$SDS"]);
    let icat = |a: &str| bash(&format!("icat {} {a} | sha256sum | cut -d' ' -f1", q(&img)));
    assert_eq!(meta["$MFT"], icat("0").trim());
    assert_eq!(meta["$Boot"], icat("7").trim());
    assert_eq!(
        rebuild_from_runs(&img, &recs, d),
        meta,
        "metadata files re-derive"
    );
    assert_eq!(common::verify(&b, &[]).code, 0);

    assert_eq!(
        (
            sha256_file(&img),
            std::fs::metadata(&img).unwrap().modified().unwrap()
        ),
        before,
        "the image is unchanged"
    );
}

/// The volume offset of MFT record `n` (the records of these small images lie in the
/// $MFT's first run).
fn record_offset(img: &Path, n: u64) -> u64 {
    let b = std::fs::read(img).unwrap();
    let cluster = u64::from(u16::from_le_bytes([b[11], b[12]])) * u64::from(b[13]);
    let mft = u64::from_le_bytes(b[0x30..0x38].try_into().unwrap()) * cluster;
    mft + n * 1024
}

/// A record whose update sequence is broken (a torn write) is an error for that file
/// naming the byte offset; a directory whose index B-tree points back at itself is an
/// `index_loop` error, not a hang; everything else is collected.
#[test]
fn a_broken_fixup_and_a_looping_index_are_records_with_offsets_and_the_rest_is_collected() {
    require_ntfs_tools();
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    let img = d.join("damaged.img");
    mkntfs(&img, 16);
    ntfs_mounted(&img, "streams_interface=none", |m| {
        bash(&format!(
            r#"cd {m}
mkdir keep loop
echo fine > keep/fine.txt
head -c 50000 /dev/urandom > victim.bin
for i in $(seq -w 0 59); do echo "$i" > "loop/a long name to fill the index, number $i"; done
echo gone > keep/gone.txt
echo also gone > keep/gone-intact.txt
head -c 70000 /dev/urandom > {d}/gone-big.orig
cp {d}/gone-big.orig keep/gone-big.bin
sync
rm keep/gone.txt keep/gone-intact.txt keep/gone-big.bin
"#,
            m = q(m),
            d = q(d)
        ))
    });
    let addr = |p: &str| -> u64 {
        fls(&img, "-r -p")[p]
            .split('-')
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    let victim = addr("victim.bin");
    let loop_dir = addr("loop");
    let deleted = fls(&img, "-r -d -p");
    let gone: u64 = deleted["keep/gone.txt"]
        .split('-')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(deleted.contains_key("keep/gone-intact.txt"), "{deleted:?}");
    // (3) A deleted file's record torn too: not an entry the scan can list, so it must be
    // recorded as unparsable with its offset, never skipped in silence.
    let tear_gone = record_offset(&img, gone) + 510;
    bash(&format!(
        "printf '\\x00\\x00' | dd of={} bs=1 seek={tear_gone} conv=notrunc status=none",
        q(&img)
    ));
    // (1) The victim's second fixup slot no longer holds the update sequence number.
    let tear = record_offset(&img, victim) + 1022;
    bash(&format!(
        "printf '\\x00\\x00' | dd of={} bs=1 seek={tear} conv=notrunc status=none",
        q(&img)
    ));
    // (2) The last entry of loop/'s index block gets a subnode pointer to its own block.
    let istat = bash(&format!("istat {} {loop_dir}", q(&img)));
    let after = istat
        .split("$INDEX_ALLOCATION")
        .nth(1)
        .expect("loop/ has an index allocation");
    let cluster: u64 = after
        .lines()
        .nth(1)
        .and_then(|l| l.split_whitespace().next())
        .and_then(|c| c.parse().ok())
        .expect("the index block's cluster");
    bash(&format!(
        r#"python3 - {img} {off} <<'EOF'
import struct, sys
p, off = sys.argv[1], int(sys.argv[2])
f = open(p, 'r+b'); f.seek(off); b = bytearray(f.read(4096))
assert b[:4] == b'INDX'
usa, cnt = struct.unpack_from('<HH', b, 4)
usn = b[usa:usa+2]
for i in range(cnt - 1):
    b[i*512+510:i*512+512] = b[usa+2+2*i:usa+4+2*i]
start = 24 + struct.unpack_from('<I', b, 24)[0]
end = 24 + struct.unpack_from('<I', b, 28)[0]
pos = start
while True:
    ln, = struct.unpack_from('<H', b, pos + 8)
    fl, = struct.unpack_from('<I', b, pos + 12)
    if fl & 2: break
    pos += ln
struct.pack_into('<HHI', b, pos + 8, 24, 0, fl | 1)
struct.pack_into('<Q', b, pos + 16, 0)
struct.pack_into('<I', b, 28, end - 24 + 8)
for i in range(cnt - 1):
    b[usa+2+2*i:usa+4+2*i] = b[i*512+510:i*512+512]
    b[i*512+510:i*512+512] = usn
f.seek(off); f.write(b); f.close()
EOF"#,
        img = q(&img),
        off = cluster * 4096
    ));
    let fs = Ntfs::open(Arc::new(FileMedia::open(&img).unwrap())).unwrap();
    let e = fs.node(NodeId(victim)).unwrap_err();
    assert_eq!((e.reason, e.offset), ("bad_fixup", Some(tear)));
    let e = fs.read_dir(NodeId(loop_dir)).unwrap_err();
    assert_eq!(
        (e.reason, e.offset),
        ("index_loop", Some(cluster * 4096)),
        "{e}"
    );

    let (_, b) = collect_ok(
        &img,
        &d.join("out"),
        &["--profile", "all-files", "--no-verify"],
    );
    let recs = common::records(&b);
    let v = common::record_for(&recs, "/victim.bin");
    assert_eq!(
        (v["status"].as_str(), v["reason"].as_str()),
        (Some("error"), Some("bad_fixup"))
    );
    assert!(
        v["detail"]
            .as_str()
            .unwrap()
            .contains(&format!("volume offset {tear}")),
        "{v}"
    );
    let l = common::record_for(&recs, "/loop");
    assert_eq!(l["reason"], "index_loop", "{l}");
    assert!(l["detail"].as_str().unwrap().contains("offset"), "{l}");
    assert_eq!(
        common::record_for(&recs, "/keep/fine.txt")["status"],
        "collected"
    );
    // The deleted scan: the intact deleted file is listed, the torn one is not, and both
    // torn records (the scan cannot tell in use from not: that flag is in the torn
    // record) are named with their image offsets in the actions and the manifest.
    assert_eq!(
        common::record_for(&recs, "/keep/gone-intact.txt")["status"],
        "deleted"
    );
    assert!(
        !recs.iter().any(|r| r["path"] == "/keep/gone.txt"),
        "a torn record is no entry"
    );
    let acts: Vec<Value> = String::from_utf8(common::member(&b, "actions.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let scans: Vec<&Value> = acts
        .iter()
        .filter(|a| a["action"] == "image.deleted_scan")
        .collect();
    assert_eq!(scans.len(), 1, "{acts:#?}");
    assert_eq!(scans[0]["outcome"], "error", "{}", scans[0]);
    let detail = scans[0]["detail"].as_str().unwrap();
    assert!(
        detail.contains("2 could not be parsed (not listed)"),
        "{detail}"
    );
    for (n, at) in [(victim, tear), (gone, tear_gone)] {
        // The error names the sector end whose fixup failed (offset of the record's
        // 512-byte block end), inside the record.
        let rec = record_offset(&img, n);
        let needle = format!("record {n} at image offset ");
        let pos = detail
            .find(&needle)
            .unwrap_or_else(|| panic!("{needle}: {detail}"));
        let off: u64 = detail[pos + needle.len()..]
            .split(|c: char| !c.is_ascii_digit())
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert!(
            (rec..rec + 1024).contains(&off) && off == at,
            "{n}: {off} vs {at}"
        );
        assert!(detail[pos..].starts_with(&format!("{needle}{at} [bad_fixup]")));
    }
    let m = common::manifest(&b);
    let notes = m["image"]["volumes"][0]["notes"].as_array().unwrap();
    assert!(
        notes.iter().any(|n| n.as_str() == Some(detail)),
        "the manifest's volume carries the same note: {notes:?}"
    );
    // Without --deleted a deleted file is a record only; with it, its content is read
    // from the runs it last had (still free here, so the bytes are the deleted file's),
    // stored, and rebuilds from the recorded ranges like any file.
    let big = common::record_for(&recs, "/keep/gone-big.bin");
    assert_eq!(big["status"], "deleted", "{big}");
    assert!(big["member"].is_null() && big["sha256"].is_null(), "{big}");
    assert_eq!(big["image"]["runs_unallocated"], true, "{big}");
    let (_, bd) = collect_ok(
        &img,
        &d.join("out-deleted"),
        &["--profile", "all-files", "--deleted"],
    );
    let recs = common::records(&bd);
    let big = common::record_for(&recs, "/keep/gone-big.bin");
    assert_eq!(big["status"], "deleted", "{big}");
    assert_eq!(
        big["sha256"].as_str(),
        Some(sha256_file(&d.join("gone-big.orig")).as_str()),
        "{big}"
    );
    assert!(big["member"].as_str().is_some(), "{big}");
    assert!(
        big["detail"]
            .as_str()
            .unwrap()
            .contains("content read from the runs it last had (--deleted)"),
        "{big}"
    );
    let small = common::record_for(&recs, "/keep/gone-intact.txt");
    assert_eq!(small["status"], "deleted", "{small}");
    assert_eq!(
        small["sha256"].as_str(),
        Some(hex(&Sha256::digest(b"also gone\n")).as_str()),
        "resident content of a deleted record: {small}"
    );
    let mut both = recs.clone();
    both.retain(|r| r["path"] == "/keep/gone-big.bin" || r["path"] == "/keep/gone-intact.txt");
    for r in &mut both {
        r["status"] = "collected".into();
    }
    let rebuilt = rebuild_from_runs(&img, &both, d);
    assert_eq!(rebuilt.len(), 2, "{rebuilt:?}");
    for r in &both {
        let p = r["path"].as_str().unwrap().trim_start_matches('/');
        assert_eq!(
            rebuilt.get(p).map(String::as_str),
            r["sha256"].as_str(),
            "{p}"
        );
    }
    assert_eq!(
        common::verify(&bd, &[]).code,
        0,
        "the --deleted bundle verifies"
    );
}

/// A truncated NTFS image through the binary. Cut after 12 of 16 MiB: the file whose
/// clusters lie past the cut is an `extent_outside_volume` error naming the image offset,
/// everything else is collected (an alternate data stream as its own `path:stream`
/// record, equal to `icat`'s), the deleted file still listed. Cut inside the `$MFT`
/// (after record 100), where even the root's index block is gone: the root is one error
/// naming the offset where the media ends, and the deleted-entry scan still runs over
/// the records that are there — it lists the deleted file and says how many records the
/// `$MFT` claims past the end (outcome `error`), in the actions and the manifest.
#[test]
fn a_truncated_ntfs_image_collects_what_lies_before_the_cut_and_says_what_does_not() {
    require_ntfs_tools();
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    let img = d.join("whole.img");
    mkntfs(&img, 16);
    ntfs_mounted(&img, "streams_interface=xattr", |m| {
        bash(&format!(
            r#"cd {m}
mkdir keep many
echo fine > keep/fine.txt
setfattr -n user.Zone.Identifier -v '[ZoneTransfer]' keep/fine.txt
echo gone > keep/gone.txt
for i in $(seq -w 0 59); do echo "$i" > "many/a long name to fill the index, number $i"; done
head -c 3000000 /dev/urandom > big.bin
sync
rm keep/gone.txt
"#,
            m = q(m)
        ))
    });
    let mft_records: u64 = bash(&format!(
        "istat {} 0 | sed -n 's/^Type: \\$DATA (128-1).*  size: \\([0-9]*\\).*/\\1/p'",
        q(&img)
    ))
    .trim()
    .parse::<u64>()
    .expect("the $MFT's size")
        / 1024;
    assert!(mft_records > 100, "{mft_records}");

    // (1) Cut after 12 MiB.
    let cut = d.join("cut12.img");
    bash(&format!(
        "cp {} {c} && truncate -s 12M {c}",
        q(&img),
        c = q(&cut)
    ));
    let (_, b) = collect_ok(&cut, &d.join("o1"), &["--profile", "all-files"]);
    let recs = common::records(&b);
    let big = common::record_for(&recs, "/big.bin");
    assert_eq!(big["status"], "error", "{big}");
    assert_eq!(big["reason"], "extent_outside_volume", "{big}");
    assert!(
        big["detail"].as_str().unwrap().contains("image offset"),
        "{big}"
    );
    assert!(big["member"].is_null() && big["sha256"].is_null(), "{big}");
    assert_eq!(
        common::record_for(&recs, "/keep/fine.txt")["status"],
        "collected"
    );
    // The alternate data stream is a record of its own, `path:stream`, with the bytes
    // sleuthkit's icat gives for it (the stream's attribute id from fls).
    let ads = common::record_for(&recs, "/keep/fine.txt:Zone.Identifier");
    assert_eq!(ads["status"], "collected", "{ads}");
    assert_eq!(ads["image"]["stream"], "Zone.Identifier", "{ads}");
    let addr = &fls(&img, "-r -p")["keep/fine.txt:Zone.Identifier"];
    assert_eq!(
        ads["sha256"].as_str().unwrap(),
        bash(&format!(
            "icat {} {addr} | sha256sum | cut -d' ' -f1",
            q(&img)
        ))
        .trim()
    );
    assert_eq!(
        ads["sha256"].as_str().unwrap(),
        hex(&Sha256::digest(b"[ZoneTransfer]"))
    );
    let many = recs
        .iter()
        .filter(|r| r["status"] == "collected" && r["path"].as_str().unwrap().starts_with("/many/"))
        .count();
    assert_eq!(many, 60);
    assert_eq!(
        common::record_for(&recs, "/keep/gone.txt")["status"],
        "deleted"
    );
    assert_eq!(common::verify(&b, &[]).code, 0);

    // (2) Cut inside the $MFT.
    let at = record_offset(&img, 100);
    let cut = d.join("cutmft.img");
    bash(&format!(
        "cp {} {c} && truncate -s {at} {c}",
        q(&img),
        c = q(&cut)
    ));
    let (_, b) = collect_ok(
        &cut,
        &d.join("o2"),
        &["--profile", "all-files", "--no-verify"],
    );
    let recs = common::records(&b);
    let root = common::record_for(&recs, "/");
    assert_eq!(root["status"], "error", "{root}");
    assert!(
        root["detail"]
            .as_str()
            .unwrap()
            .contains(&format!("the media ends at {at}")),
        "{root}"
    );
    assert_eq!(
        common::record_for(&recs, "/keep/gone.txt")["status"],
        "deleted",
        "the scan still lists the deleted file: {recs:#?}"
    );
    let acts = String::from_utf8(common::member(&b, "actions.jsonl")).unwrap();
    let scan: Value = acts
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|a| a["action"] == "image.deleted_scan")
        .expect("the scan ran");
    assert_eq!(scan["outcome"], "error", "{scan}");
    let detail = scan["detail"].as_str().unwrap();
    assert!(
        detail.contains("100 metadata record(s) scanned")
            && detail.contains(&format!(
                "{} more the $MFT claims lie past the end of the volume",
                mft_records - 100
            )),
        "{detail}"
    );
    let m = common::manifest(&b);
    let v = &m["image"]["volumes"][0];
    assert!(
        v["notes"].as_array().unwrap().iter().any(|n| n == detail),
        "{v}"
    );
    assert!(
        v["fs"]["notes"].as_array().unwrap().iter().any(|n| n
            .as_str()
            .unwrap()
            .contains("records past them are not read")),
        "{v}"
    );
}

// ---------------------------------------------------------------------------------
// Mutated images: never a panic or a hang.

#[test]
fn the_ntfs_reader_survives_thousands_of_mutated_images() {
    require_ntfs_tools();
    let t = tempfile::tempdir().unwrap();
    let img = t.path().join("small.img");
    mkntfs(&img, 2);
    ntfs_mounted(&img, "streams_interface=windows", |m| {
        bash(&format!(
            "cd {m} && mkdir -p d/e && printf tiny > d/t && printf z > d/t:ads && \
             head -c 9000 /dev/urandom > d/e/f && ln d/t h && ln -s d/t l && \
             for i in $(seq 1 30); do echo $i > d/long-name-$i; done && \
             echo x > gone && sync && rm gone",
            m = q(m)
        ))
    });
    let seed = std::fs::read(&img).unwrap();
    let (rounds, limit) = match std::env::var("FIELDKIT_FUZZ_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        Some(n) => (n, Duration::from_secs(3600)),
        None => (4000, Duration::from_secs(15)),
    };
    let start = std::time::Instant::now();
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    // The boot sector and the $MFT's first records hold nearly all the metadata.
    let mft = record_offset(&img, 0) as usize;
    let hot: Vec<(usize, usize)> = vec![(0, 512), (mft, 64 * 1024)];
    let mut done = 0;
    for _ in 0..rounds {
        if start.elapsed() > limit {
            break;
        }
        let mut data = seed.clone();
        let flips = 1 + next() % 8;
        for _ in 0..flips {
            let (base, len) = hot[(next() % 4).min(1) as usize];
            let at = (base + next() as usize % len).min(data.len() - 1);
            match next() % 4 {
                0 => data[at] = 0xFF,
                1 => data[at] = 0,
                2 => data[at] ^= 1 << (next() % 8),
                _ => data[at] = next() as u8,
            }
        }
        if next() % 16 == 0 {
            let keep = next() as usize % data.len();
            data.truncate(keep);
        }
        fieldkit::source::image::fs::ntfs::fuzz_entry(&data);
        done += 1;
    }
    fieldkit::source::image::fs::ntfs::fuzz_entry(&seed);
    eprintln!("{done} mutated NTFS images in {:?}", start.elapsed());
    assert!(done >= 500, "only {done} mutations ran in the time box");
}
