//! Live Windows: files held open without sharing and the NTFS metadata files, read
//! through the raw volume (docs/live-windows-raw.md) — the Windows build under Wine,
//! drive X: mapped to an NTFS image: `\\.\X:` is the image's read-only loop device
//! (`dosdevices/x::`), `X:\` its read-only ntfs-3g mount (`dosdevices/x:`). A helper
//! process holds hives and event logs with share mode 0, so fieldkit's API open gets
//! `ERROR_SHARING_VIOLATION`; they must come out `raw-ntfs` with the SHA-256 that
//! sleuthkit's `icat` gives for the same MFT record, as must `$MFT`, `$LogFile`, `$Boot`,
//! `$Secure:$SDS` and the change journal `$Extend\$UsnJrnl:$J`/`:$Max` (made with
//! libntfs-3g by tests/tools/make-usnjrnl.c); an unlocked file comes out `api`; the
//! image is unchanged.
//! Without a readable raw volume the run says so loudly and in the manifest, and the
//! held file stays `locked` with the reason.
//!
//! The Windows binary is the one `packaging/build-kit --binary-only windows` builds into
//! target/tmp/kit-test/target-a, which `.ci/run` warms (`--binary-only both`) so that CI
//! builds it once for this test and tests/kit.rs; `FIELDKIT_WINDOWS_EXE` names another.
#![cfg(target_os = "linux")]

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

fn src_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn work() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("live-windows-raw")
}

fn cmd_out(cmd: &mut Command) -> Run {
    finish(cmd.stdin(Stdio::null()).output().expect("spawn"))
}

fn wine_loader() -> PathBuf {
    for p in ["/usr/lib/wine/wine64", "/usr/bin/wine64"] {
        if Path::new(p).exists() {
            return PathBuf::from(p);
        }
    }
    panic!("this test needs Wine's 64-bit loader (Debian package wine64); .ci/run installs it");
}

/// The Windows build: `FIELDKIT_WINDOWS_EXE`, or build-kit's (warm in CI).
fn windows_exe() -> PathBuf {
    if let Some(p) = std::env::var_os("FIELDKIT_WINDOWS_EXE") {
        let p = PathBuf::from(p);
        assert!(
            p.is_file(),
            "FIELDKIT_WINDOWS_EXE={}: no such file",
            p.display()
        );
        return p;
    }
    let out = work().join("bin");
    let start = Instant::now();
    let mut cmd = Command::new(src_dir().join("packaging/build-kit"));
    cmd.current_dir(src_dir())
        .args(["--binary-only", "windows", "--out"])
        .arg(&out)
        .arg("--target-dir")
        .arg(Path::new(env!("CARGO_TARGET_TMPDIR")).join("kit-test/target-a"));
    let r = run_with_timeout(cmd, Duration::from_secs(40 * 60));
    assert_eq!(r.code, 0, "build-kit --binary-only windows:\n{}", r.stderr);
    eprintln!(
        "live_windows_raw: Windows binary ready in {:.0} s",
        start.elapsed().as_secs_f64()
    );
    out.join("fieldkit-x86_64-windows.exe")
}

struct Wine {
    prefix: PathBuf,
    tools: PathBuf,
}

impl Wine {
    fn cmd(&self, exe: &Path) -> Command {
        let mut c = Command::new(wine_loader());
        c.arg(exe)
            .env("WINEPREFIX", &self.prefix)
            .env("WINEDEBUG", "-all")
            .env_remove("DISPLAY")
            .current_dir(work());
        c
    }

    fn run(&self, exe: &Path, args: &[&str]) -> Run {
        let mut c = self.cmd(exe);
        c.args(args);
        run_with_timeout(c, Duration::from_secs(180))
    }

    /// Hold every path open with share mode 0 until the child is killed.
    fn hold(&self, paths: &[String]) -> std::process::Child {
        use std::io::BufRead;
        let mut child = self
            .cmd(&self.tools.join("wintool.exe"))
            .arg("lock-all")
            .arg("120")
            .args(paths)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("wintool");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(
            line.trim(),
            format!("locked {}", paths.len()),
            "wintool could not hold {paths:?}"
        );
        child
    }
}

/// A fresh prefix with the test-only bcryptprimitives.dll (Rust's std needs ProcessPrng,
/// which Wine 8.0 lacks: tests/wine/bcryptprimitives.c) and the wintool helper.
fn wine() -> Wine {
    require_tool("x86_64-w64-mingw32-gcc", "gcc-mingw-w64-x86-64");
    let prefix = work().join("wine-prefix");
    let tools = work().join("wine-tools");
    let _ = std::fs::remove_dir_all(&prefix);
    let _ = std::fs::remove_dir_all(&tools);
    std::fs::create_dir_all(&tools).unwrap();
    let w = Wine { prefix, tools };
    let boot = w.run(Path::new("wineboot"), &["--init"]);
    assert!(
        w.prefix.join("drive_c/windows/system32").is_dir(),
        "wineboot failed: {}",
        boot.stderr
    );
    let t = src_dir().join("tests/wine");
    let cc = cmd_out(
        Command::new("x86_64-w64-mingw32-gcc")
            .args(["-shared", "-O2", "-s", "-o"])
            .arg(
                w.prefix
                    .join("drive_c/windows/system32/bcryptprimitives.dll"),
            )
            .arg(t.join("bcryptprimitives.c"))
            .arg("-ladvapi32"),
    );
    assert_eq!(cc.code, 0, "{}", cc.stderr);
    let cc = cmd_out(
        Command::new("x86_64-w64-mingw32-gcc")
            .args(["-municode", "-O2", "-s", "-o"])
            .arg(w.tools.join("wintool.exe"))
            .arg(t.join("wintool.c")),
    );
    assert_eq!(cc.code, 0, "{}", cc.stderr);
    w
}

/// The Windows (Z: drive) name of a Linux path under Wine.
fn win(p: &Path) -> String {
    format!("Z:{}", p.display()).replace('/', "\\")
}

fn sha256_of(path: &Path) -> String {
    let r = cmd_out(Command::new("sha256sum").arg(path));
    assert_eq!(r.code, 0, "{}", r.stderr);
    r.stdout.split_whitespace().next().unwrap().to_string()
}

/// `icat IMG ADDR | sha256sum`: sleuthkit's reading of an MFT record's stream.
fn icat_sha256(img: &Path, addr: &str) -> String {
    let r = bash(&format!(
        "set -o pipefail; icat '{}' '{addr}' | sha256sum",
        img.display()
    ));
    assert_eq!(r.code, 0, "icat {addr}: {}", r.stderr);
    r.stdout.split_whitespace().next().unwrap().to_string()
}

/// `ifind -n PATH IMG`: sleuthkit's MFT record number for a path.
fn ifind(img: &Path, path: &str) -> u64 {
    let r = cmd_out(Command::new("ifind").arg("-n").arg(path).arg(img));
    assert_eq!(r.code, 0, "ifind {path}: {}{}", r.stdout, r.stderr);
    r.stdout
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("ifind {path}: {}", r.stdout))
}

/// `fls IMG [DIR]` line `r/r 9-128-8:\t$Secure:$SDS` → `9-128-8` (DIR: the MFT record
/// of the folder to list, the root when empty; `$Extend` is 11).
fn fls_addr(img: &Path, dir: &str, name: &str) -> String {
    let r = cmd_out(
        Command::new("fls")
            .arg(img)
            .args((!dir.is_empty()).then_some(dir)),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    r.stdout
        .lines()
        .find_map(|l| {
            let (head, n) = l.split_once(":\t")?;
            (n == name).then(|| head.split_whitespace().last().unwrap().to_string())
        })
        .unwrap_or_else(|| panic!("fls has no {name}:\n{}", r.stdout))
}

/// The held files (path on the volume, size in bytes; a sparse one made by truncating).
const HELD: &[(&str, usize)] = &[
    ("Windows/System32/config/SAM", 262_144),
    ("Windows/System32/config/SYSTEM", 3 << 20),
    ("Windows/System32/winevt/Logs/Security.evtx", 1_052_672),
    ("Users/alice/NTUSER.DAT", 524_288),
    ("Windows/System32/sru/SRUDB.dat", 65_536),
];
const SPARSE: &str = "Windows/System32/winevt/Logs/System.evtx";
/// An NTFS-compressed folder (ntfs-3g's compression attribute): what even the raw read
/// cannot give (the reader does not decode LZNT1).
const COMPRESSED_DIR: &str = "Windows/System32/config/RegBack";

/// Undo the mount, the loop device and the Wine drive even when an assertion fails.
struct Mapped {
    mnt: PathBuf,
    loopdev: String,
}

impl Drop for Mapped {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.mnt).status();
        let _ = Command::new("losetup").args(["-d", &self.loopdev]).status();
    }
}

fn by_path(recs: &[serde_json::Value]) -> BTreeMap<String, serde_json::Value> {
    recs.iter()
        .filter_map(|r| {
            let p = r["path"].as_str()?;
            let below = p
                .trim_start_matches(r"\\?\")
                .get(3..)
                .unwrap_or_default()
                .replace('\\', "/");
            Some((below, r.clone()))
        })
        .collect()
}

#[test]
fn held_files_and_ntfs_metadata_come_out_through_the_raw_volume_with_icat_s_sha256() {
    require_root();
    for (tool, pkg) in [
        ("mkntfs", "ntfs-3g"),
        ("ntfs-3g", "ntfs-3g"),
        ("losetup", "mount"),
        ("icat", "sleuthkit"),
        ("ifind", "sleuthkit"),
        ("fls", "sleuthkit"),
        ("sha256sum", "coreutils"),
        ("setfattr", "attr"),
        ("gcc", "gcc"),
    ] {
        require_tool(tool, pkg);
    }
    let _ = std::fs::remove_dir_all(work());
    std::fs::create_dir_all(work()).unwrap();
    let exe = windows_exe();
    let start = Instant::now();
    let w = wine();

    // The volume: files written through ntfs-3g, then the image is never written again.
    let img = work().join("live.img");
    let mnt = work().join("mnt");
    std::fs::create_dir_all(&mnt).unwrap();
    let mut script = format!(
        "set -e; truncate -s 64M '{img}'; mkntfs -F -Q -L LIVE '{img}' >/dev/null 2>&1\n\
         ntfs-3g '{img}' '{mnt}'; cd '{mnt}'\n\
         mkdir -p Windows/System32/config Windows/System32/winevt/Logs Windows/System32/sru \
         Windows/System32/drivers/etc Users/alice\n\
         printf '127.0.0.1 localhost\\r\\n' > Windows/System32/drivers/etc/hosts\n\
         mkdir -p {COMPRESSED_DIR}; setfattr -h -v 0x00000800 -n system.ntfs_attrib_be {COMPRESSED_DIR}\n\
         head -c 200000 /dev/zero | tr '\\0' z > {COMPRESSED_DIR}/SAM\n\
         truncate -s 4194304 {SPARSE}; printf 'ElfChnk' | dd of={SPARSE} bs=1 seek=2097152 conv=notrunc status=none\n",
        img = img.display(),
        mnt = mnt.display(),
    );
    for (p, len) in HELD {
        script.push_str(&format!("head -c {len} /dev/urandom > {p}\n"));
    }
    script.push_str(&format!("cd /; umount '{}'\n", mnt.display()));
    let r = bash(&script);
    assert_eq!(r.code, 0, "making the volume: {}", r.stderr);
    // The change journal, as Windows lays it out (tests/tools/make-usnjrnl.c, written
    // with libntfs-3g: mkntfs makes none and the FUSE driver refuses files in $Extend).
    assert!(
        Path::new("/usr/include/ntfs-3g/volume.h").exists(),
        "this test needs libntfs-3g's headers (Debian package ntfs-3g-dev); .ci/run installs it"
    );
    let maker = work().join("make-usnjrnl");
    let r = bash(&format!(
        "set -e; gcc -O1 -o '{maker}' '{c}' -lntfs-3g; '{maker}' '{img}'",
        maker = maker.display(),
        c = src_dir().join("tests/tools/make-usnjrnl.c").display(),
        img = img.display(),
    ));
    assert_eq!(r.code, 0, "make-usnjrnl: {}{}", r.stdout, r.stderr);
    let image_sha = sha256_of(&img);

    let lo = cmd_out(
        Command::new("losetup")
            .args(["-r", "-f", "--show"])
            .arg(&img),
    );
    assert_eq!(lo.code, 0, "losetup: {}", lo.stderr);
    let mapped = Mapped {
        mnt: mnt.clone(),
        loopdev: lo.stdout.trim().to_string(),
    };
    let m = cmd_out(
        Command::new("ntfs-3g")
            .args(["-o", "ro"])
            .arg(&mapped.loopdev)
            .arg(&mnt),
    );
    assert_eq!(m.code, 0, "ntfs-3g -o ro: {}", m.stderr);
    let dos = w.prefix.join("dosdevices");
    std::os::unix::fs::symlink(&mapped.loopdev, dos.join("x::")).unwrap();
    std::os::unix::fs::symlink(&mnt, dos.join("x:")).unwrap();

    let mut held: Vec<String> = HELD
        .iter()
        .map(|(p, _)| format!("X:\\{}", p.replace('/', "\\")))
        .collect();
    held.push(format!("X:\\{}", SPARSE.replace('/', "\\")));
    held.push(format!("X:\\{}\\SAM", COMPRESSED_DIR.replace('/', "\\")));
    let mut holder = w.hold(&held);
    let out = work().join("out");
    let r = w.run(
        &exe,
        &[
            "collect",
            "--source",
            "X:\\",
            "--profile",
            "windows-triage",
            "--out",
            &win(&out),
            "--json",
            "--quiet",
        ],
    );
    let _ = holder.kill();
    let _ = holder.wait();
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let collect_secs = start.elapsed().as_secs_f64();
    let bundle = PathBuf::from(
        r.json()["bundle"]
            .as_str()
            .unwrap()
            .trim_start_matches(r"\\?\")
            .trim_start_matches("Z:")
            .replace('\\', "/"),
    );
    // The bundle verifies with the Linux build (members named `$Secure:$SDS` included).
    let v = verify(&bundle, &[]);
    assert_eq!(v.code, 0, "{}{}", v.stdout, v.stderr);
    let recs = by_path(&records(&bundle));
    let man = manifest(&bundle);
    assert_eq!(
        man["source"]["raw_volume"]["device"], r"\\.\X:",
        "{}",
        man["source"]
    );
    assert_eq!(
        man["source"]["raw_volume"]["readable"], true,
        "{}",
        man["source"]
    );

    // Every held file: read through the raw volume, the MFT record sleuthkit finds for
    // the path, the bytes icat gives for it.
    for p in HELD.iter().map(|(p, _)| *p).chain([SPARSE]) {
        let rec = recs
            .get(p)
            .unwrap_or_else(|| panic!("no record for {p}: {recs:#?}"));
        assert_eq!(rec["status"], "collected", "{p}: {rec}");
        assert_eq!(rec["how_read"], "raw-ntfs", "{p}: {rec}");
        let raw = &rec["raw_ntfs"];
        assert_eq!(raw["why"], "locked", "{p}: {rec}");
        assert!(
            raw["api_error"].as_str().unwrap().contains("os error 32"),
            "the API open met the sharing violation: {rec}"
        );
        assert_eq!(raw["volume"], r"\\.\X:");
        assert_eq!(raw["attempts"], 1, "{rec}");
        let number = ifind(&img, &format!("/{p}"));
        assert_eq!(raw["mft_record"], number, "{p}: {rec}");
        assert_eq!(
            rec["sha256"].as_str().unwrap(),
            icat_sha256(&img, &number.to_string()),
            "{p}: the SHA-256 icat gives for MFT record {number}"
        );
        assert_eq!(rec["size"], raw["size"], "{p}: {rec}");
    }
    let sparse = &recs[SPARSE]["raw_ntfs"];
    assert!(
        sparse["data"]["runs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["hole"] == true),
        "the sparse log's holes are recorded: {sparse}"
    );

    // The NTFS metadata: no API path, read by name from the raw volume.
    for (p, addr) in [
        ("$MFT", "0".to_string()),
        ("$LogFile", "2".to_string()),
        ("$Boot", "7".to_string()),
        ("$Secure:$SDS", fls_addr(&img, "", "$Secure:$SDS")),
        // The change journal: a real $Extend\$UsnJrnl (make-usnjrnl.c), $J sparse.
        ("$Extend/$UsnJrnl:$J", fls_addr(&img, "11", "$UsnJrnl:$J")),
        (
            "$Extend/$UsnJrnl:$Max",
            fls_addr(&img, "11", "$UsnJrnl:$Max"),
        ),
    ] {
        let rec = recs
            .get(p)
            .unwrap_or_else(|| panic!("no record for {p}: {recs:#?}"));
        assert_eq!(rec["status"], "collected", "{p}: {rec}");
        assert_eq!(rec["how_read"], "raw-ntfs", "{p}: {rec}");
        assert_eq!(rec["raw_ntfs"]["why"], "ntfs_metadata", "{p}: {rec}");
        assert_eq!(
            rec["sha256"].as_str().unwrap(),
            icat_sha256(&img, &addr),
            "{p}: the SHA-256 icat gives for {addr}"
        );
    }
    let j = &recs["$Extend/$UsnJrnl:$J"]["raw_ntfs"];
    assert!(
        j["data"]["runs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["hole"] == true),
        "$J's freed leading range is a hole: {j}"
    );
    // No transactional NTFS was ever used here: said, not dropped.
    let tops = &recs["$Extend/$RmMetadata/$TxfLog/$Tops:$T"];
    assert_eq!(tops["status"], "skipped", "{tops}");
    assert_eq!(tops["reason"], "not_present", "{tops}");

    // Held and NTFS-compressed: even the raw read cannot give it; locked, with why.
    let comp = &recs[&format!("{COMPRESSED_DIR}/SAM")];
    assert_eq!(comp["status"], "locked", "{comp}");
    assert_eq!(comp["reason"], "locked", "{comp}");
    let why = comp["detail"].as_str().unwrap();
    assert!(
        why.contains(r"the raw NTFS read through \\.\X: failed too") && why.contains("LZNT1"),
        "{comp}"
    );
    assert!(comp["member"].is_null(), "{comp}");

    // A file nobody holds: the API, as before.
    let hosts = &recs["Windows/System32/drivers/etc/hosts"];
    assert_eq!(hosts["status"], "collected", "{hosts}");
    assert_eq!(hosts["how_read"], "api", "{hosts}");
    assert!(hosts["raw_ntfs"].is_null(), "{hosts}");

    // A drive with no raw device (Z: is Wine's view of /): one loud warning, in the
    // manifest too, and the held file stays locked with both reasons.
    let plain = work().join("plain");
    std::fs::create_dir_all(&plain).unwrap();
    std::fs::write(plain.join("held.dat"), b"held without sharing\n").unwrap();
    let mut holder = w.hold(&[win(&plain.join("held.dat"))]);
    let r2 = w.run(
        &exe,
        &[
            "collect",
            "--source",
            &win(&plain),
            "--profile",
            "all-files",
            "--out",
            &win(&work().join("out-plain")),
            "--json",
            "--quiet",
        ],
    );
    let _ = holder.kill();
    let _ = holder.wait();
    assert_eq!(r2.code, 0, "{}\n{}", r2.stdout, r2.stderr);
    assert_eq!(
        r2.stderr
            .matches("WARNING: the raw volume \\\\.\\Z:")
            .count(),
        1,
        "{}",
        r2.stderr
    );
    let b2 = PathBuf::from(
        r2.json()["bundle"]
            .as_str()
            .unwrap()
            .trim_start_matches(r"\\?\")
            .trim_start_matches("Z:")
            .replace('\\', "/"),
    );
    let m2 = manifest(&b2);
    assert_eq!(
        m2["source"]["raw_volume"]["readable"], false,
        "{}",
        m2["source"]
    );
    assert!(
        m2["source"]["raw_volume"]["warning"]
            .as_str()
            .unwrap()
            .contains("API reads continue"),
        "{}",
        m2["source"]
    );
    let held_rec = records(&b2)
        .into_iter()
        .find(|r| r["path"].as_str().is_some_and(|p| p.ends_with("held.dat")))
        .unwrap();
    assert_eq!(held_rec["status"], "locked", "{held_rec}");
    assert!(
        held_rec["detail"]
            .as_str()
            .unwrap()
            .contains("the raw NTFS read through \\\\.\\Z: failed too"),
        "{held_rec}"
    );

    drop(mapped);
    assert_eq!(sha256_of(&img), image_sha, "the image is unchanged");
    eprintln!(
        "live_windows_raw: collect under Wine {collect_secs:.1} s, whole test {:.1} s",
        start.elapsed().as_secs_f64()
    );
}
