//! A full output device (issue 16, item 2): whatever byte the disk fills at — while
//! files are stored, while the records, the report and the central directory are
//! written, or while the sidecars are — collect exits 3 with a clear message, and no
//! state is left in which an intact bundle verifies INVALID: a sidecar that cannot be
//! written is removed and named, never left empty under its name, and the paper-log
//! summary (bundle SHA-256, signer fingerprint) is printed whenever the bundle itself
//! is sound.
//!
//! The device: a small ext4 (1 KiB blocks, no journal, no reserved blocks) in a file,
//! loop-mounted; before each run a filler file leaves exactly the free space under test.
//! The sizes sweep the end of the run block by block, from the last stored file to past
//! the sidecars. (This kernel has no FAT driver; ext4 with 1 KiB blocks gives the finer
//! steps anyway.)

mod common;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::*;

const BLOCK: u64 = 1024;

struct Fixture {
    _dir: tempfile::TempDir,
    src: PathBuf,
    key: PathBuf,
    allowed: PathBuf,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        require_root();
        require_tool("mkfs.ext4", "e2fsprogs");
        require_tool("ssh-keygen", "openssh-client");
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        std::fs::create_dir_all(src.join("d")).unwrap();
        for i in 0..6 {
            std::fs::write(src.join(format!("d/n{i}.txt")), format!("note {i}\n")).unwrap();
        }
        write_random(&src.join("data.bin"), 24_000, 5);
        let key = dir.path().join("examiner");
        let k = run(&[
            "keygen",
            "--out",
            key.to_str().unwrap(),
            "--identity",
            "examiner@lab.example",
        ]);
        assert_eq!(k.code, 0, "{}", k.stderr);
        let allowed = dir.path().join("allowed_signers");
        std::fs::write(&allowed, &k.stdout).unwrap();
        Fixture {
            _dir: dir,
            src,
            key,
            allowed,
        }
    })
}

/// A loop-mounted ext4 made anew for each run.
struct Device {
    _dir: tempfile::TempDir,
    img: PathBuf,
    mnt: PathBuf,
}

impl Device {
    fn new() -> Device {
        let dir = tempfile::tempdir().unwrap();
        let img = dir.path().join("stick.img");
        let mnt = dir.path().join("mnt");
        std::fs::create_dir(&mnt).unwrap();
        let r = sh(&format!("truncate -s 4M '{}'", img.display()));
        assert_eq!(r.code, 0, "{}", r.stderr);
        Device {
            _dir: dir,
            img,
            mnt,
        }
    }

    /// A fresh file system with `out/` on it and exactly `free` bytes left (rounded
    /// down to a block); returns the free space measured.
    fn fresh(&self, free: u64) -> u64 {
        let r = sh(&format!(
            "mkfs.ext4 -q -F -b 1024 -m 0 -N 64 -O ^has_journal '{0}' && mount -o loop '{0}' '{1}' && mkdir '{1}/out'",
            self.img.display(),
            self.mnt.display()
        ));
        assert_eq!(r.code, 0, "make the stick: {}{}", r.stdout, r.stderr);
        self.fill_to(free, "filler")
    }

    /// Grow (or shrink) the file `name` until `free` bytes are left (as close as blocks
    /// allow: its own metadata takes blocks too); returns the free space measured.
    fn fill_to(&self, free: u64, name: &str) -> u64 {
        use std::io::Write;
        let path = self.mnt.join(name);
        let mut filler = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .unwrap();
        for _ in 0..8 {
            let now = self.free();
            if now > free && now - free >= BLOCK {
                let want = (now - free) / BLOCK * BLOCK;
                let _ = filler.write_all(&vec![0u8; want as usize]);
            } else if now < free {
                let len = filler.metadata().unwrap().len();
                filler
                    .set_len(len.saturating_sub((free - now).div_ceil(BLOCK) * BLOCK))
                    .unwrap();
            } else {
                break;
            }
            filler.sync_all().unwrap();
        }
        self.free()
    }

    fn free(&self) -> u64 {
        let s = sh(&format!("stat -f -c '%a %S' '{}'", self.mnt.display()));
        let v: Vec<u64> = s
            .stdout
            .split_whitespace()
            .map(|x| x.parse().unwrap())
            .collect();
        v[0] * v[1]
    }

    fn unmount(&self) {
        let r = sh(&format!("umount '{}'", self.mnt.display()));
        assert_eq!(r.code, 0, "{}", r.stderr);
    }
}

impl Drop for Device {
    /// A failed assertion must not leave the stick mounted.
    fn drop(&mut self) {
        if sh(&format!("mountpoint -q '{}'", self.mnt.display())).code == 0 {
            sh(&format!("umount '{}'", self.mnt.display()));
        }
    }
}

/// When the free space is set: before the run, or while the run is stopped at a phase
/// of the test hook (`FIELDKIT_TEST_PAUSE_AT`), so that the disk fills exactly at the
/// step under test however much room the temporary files took before.
#[derive(Debug, Clone, Copy)]
enum Fill {
    Before(u64),
    At(&'static str, u64),
}

/// One run on a fresh device filled as `fill` says: the collect, then every file it left
/// judged. Returns what went wrong (empty when all is right) and what happened.
fn run_on(dev: &Device, fill: Fill) -> (Vec<String>, String) {
    let f = fixture();
    let out = dev.mnt.join("out");
    let mut wrong = Vec::new();
    let mut cmd = fieldkit();
    cmd.args(["collect", "--threads", "1", "--source"])
        .arg(&f.src)
        .arg("--out")
        .arg(&out)
        .arg("--key")
        .arg(&f.key);
    let (r, ctx) = match fill {
        Fill::Before(free) => {
            let measured = dev.fresh(free);
            (
                run_with_timeout(cmd, Duration::from_secs(120)),
                format!("{measured} bytes free"),
            )
        }
        Fill::At(phase, free) => {
            dev.fresh(u64::MAX);
            cmd.env("FIELDKIT_TEST_PAUSE_AT", phase);
            let child = cmd
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            let pid = child.id();
            let waiter = std::thread::spawn(move || finish(child.wait_with_output().unwrap()));
            let deadline = Instant::now() + Duration::from_secs(60);
            while !stopped(pid) && !waiter.is_finished() {
                assert!(Instant::now() < deadline, "no pause at {phase}");
                std::thread::sleep(Duration::from_millis(2));
            }
            if waiter.is_finished() {
                wrong.push(format!("the run ended without pausing at {phase}"));
            }
            let measured = dev.fill_to(free, "filler-at-phase");
            let _ = sh(&format!("kill -CONT {pid}"));
            (
                waiter.join().unwrap(),
                format!("{measured} bytes free from {phase} on"),
            )
        }
    };
    let mut names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let bundles: Vec<&String> = names
        .iter()
        .filter(|n| {
            n.ends_with(".zip") || n.ends_with(".zip.part") || n.ends_with(".zip.verified.part")
        })
        .collect();
    let what;
    match r.code {
        0 => {
            what = "finalized".to_string();
            if bundles.len() != 1 || !bundles[0].ends_with(".zip") {
                wrong.push(format!("{ctx}: exit 0 but {names:?}"));
            }
        }
        3 => {
            if !(r.stderr.contains("OUTPUT FAILED") && r.stderr.contains("No space left on device"))
            {
                wrong.push(format!(
                    "{ctx}: exit 3 without a clear message:\n{}",
                    r.stderr
                ));
            }
            what = "exit 3".to_string();
        }
        c => {
            what = format!("exit {c}");
            wrong.push(format!(
                "{ctx}: collect exit {c} (0 or 3 expected):\n{}\n{}",
                r.stdout, r.stderr
            ));
        }
    }
    let mut states = Vec::new();
    for name in &bundles {
        let path = out.join(name);
        let v = verify(&path, &["--json"]);
        let j: serde_json::Value = serde_json::from_str(&v.stdout).unwrap_or_default();
        let state = j["state"].as_str().unwrap_or("").to_string();
        states.push(format!("{name}: {} {state}", v.code));
        match (r.code, v.code) {
            (0, 0) => {}
            (3, 3) if !state.is_empty() => {}
            _ => wrong.push(format!(
                "{ctx}: collect exit {}, verify {name} exit {} {state}: {}",
                r.code, v.code, v.stdout
            )),
        }
        // Sound (sealed and verified after write): the summary for the paper log is
        // printed, with this file's SHA-256 and the signer's fingerprint.
        if v.code == 0 || state.starts_with("verified_") {
            let sha = sh(&format!("sha256sum '{}' | cut -d' ' -f1", path.display()))
                .stdout
                .trim()
                .to_string();
            let fp = j["signer_fingerprint"].as_str().unwrap_or("?");
            let printed = r.stdout.contains(&format!("SHA-256       {sha}"))
                && r.stdout.contains(&format!("Signed by     {fp}"));
            if !printed {
                wrong.push(format!(
                    "{ctx}: {name} is sound ({state}) but the summary with its SHA-256 {sha} \
                     and fingerprint {fp} was not printed:\n{}\n{}",
                    r.stdout, r.stderr
                ));
            }
        }
    }
    // Every sidecar left under its name is whole: sha256sum and ssh-keygen accept it.
    for name in &names {
        let path = out.join(name);
        if let Some(bundle) = name.strip_suffix(".sha256")
            && !sidecar_matches(&out, bundle, name)
        {
            wrong.push(format!(
                "{ctx}: sidecar {name} ({} bytes) is not whole",
                std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0)
            ));
        }
        if let Some(bundle) = name.strip_suffix(".sig") {
            let target = [
                bundle.to_string(),
                format!("{bundle}.verified.part"),
                format!("{bundle}.part"),
            ]
            .into_iter()
            .map(|b| out.join(b))
            .find(|p| p.exists());
            let ok = target.is_some_and(|t| {
                sh(&format!(
                    "ssh-keygen -Y verify -f '{}' -I examiner@lab.example -n fieldkit-evidence -s '{}' < '{}' >/dev/null 2>&1",
                    f.allowed.display(),
                    path.display(),
                    t.display()
                ))
                .code
                    == 0
            });
            if !ok {
                wrong.push(format!(
                    "{ctx}: sidecar {name} ({} bytes) does not verify",
                    std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0)
                ));
            }
        }
        if name.ends_with(".sha256.part") || name.ends_with(".sig.part") {
            wrong.push(format!("{ctx}: a temporary sidecar is left: {name}"));
        }
    }
    // A failed sidecar is named.
    for e in ["sha256", "sig"] {
        if r.code == 3
            && r.stderr.contains("sidecar")
            && !names.iter().any(|n| n.ends_with(&format!(".zip.{e}")))
            && bundles.iter().any(|b| b.ends_with(".verified.part"))
            && !r.stderr.contains(&format!(".zip.{e}"))
        {
            wrong.push(format!(
                "{ctx}: the missing sidecar .zip.{e} is not named:\n{}",
                r.stderr
            ));
        }
    }
    dev.unmount();
    (wrong, format!("{what}; {}", states.join(", ")))
}

fn stopped(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rsplit_once(") ").map(|(_, r)| r.starts_with('T')))
        .unwrap_or(false)
}

/// A `.sha256` sidecar is one `sha256sum` line naming the bundle's final name, with the
/// SHA-256 of the bundle under whatever name it has now.
fn sidecar_matches(out: &Path, bundle: &str, name: &str) -> bool {
    let line = std::fs::read_to_string(out.join(name)).unwrap_or_default();
    let Some((hash, named)) = line.split_once("  ") else {
        return false;
    };
    if named != format!("{bundle}\n") {
        return false;
    }
    [
        bundle.to_string(),
        format!("{bundle}.verified.part"),
        format!("{bundle}.part"),
    ]
    .iter()
    .map(|b| out.join(b))
    .filter(|p| p.exists())
    .any(|p| {
        sh(&format!("sha256sum '{}' | cut -d' ' -f1", p.display()))
            .stdout
            .trim()
            == hash
    })
}

#[test]
fn a_disk_that_fills_at_any_point_of_the_run_gives_exit_3_and_never_an_invalid_intact_bundle() {
    let dev = Device::new();
    let stored: u64 = 24_000 + 6 * 7;
    let mut wrong = Vec::new();
    let mut outcomes = Vec::new();
    let mut sizes = 0usize;
    let mut try_fill = |fill: Fill, wrong: &mut Vec<String>, outcomes: &mut Vec<String>| {
        let (w, what) = run_on(&dev, fill);
        sizes += 1;
        wrong.extend(w);
        let finalized = what.starts_with("finalized");
        outcomes.push(format!("{fill:?}: {what}"));
        finalized
    };
    // The least free space that lets a run finish, found by bisection: before the run
    // (the peak is while the records and the report are spooled beside the archive),
    // and from `metadata` on (the archive's buffered tail, SHA256SUMS, its signature,
    // the central directory and both sidecars still to come).
    let mut least = |phase: Option<&'static str>,
                     mut lo: u64,
                     mut hi: u64,
                     wrong: &mut Vec<String>,
                     outcomes: &mut Vec<String>| {
        while hi - lo > BLOCK {
            let mid = (lo + hi) / 2 / BLOCK * BLOCK;
            let fill = match phase {
                None => Fill::Before(mid),
                Some(p) => Fill::At(p, mid),
            };
            if try_fill(fill, wrong, outcomes) {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        hi
    };
    let peak = least(
        None,
        stored,
        stored + 256 * BLOCK,
        &mut wrong,
        &mut outcomes,
    );
    let tail = least(Some("metadata"), 0, 256 * BLOCK, &mut wrong, &mut outcomes);
    let mut fills: Vec<Fill> = Vec::new();
    // Before the run: a few sizes while files are stored, then up to the peak.
    fills.extend([0, BLOCK, 8 * BLOCK, stored / 2].map(Fill::Before));
    let step = ((peak - stored) / 3).max(BLOCK) / BLOCK * BLOCK;
    fills.extend((0..3).map(|i| Fill::Before(stored + i * step)));
    fills.extend([peak - 2 * BLOCK, peak - BLOCK].map(Fill::Before));
    // From `metadata` on, each of the last blocks short: the sidecars, then the central
    // directory, the signature, SHA256SUMS and the buffered tail no longer fit.
    fills.extend((1..=6).map(|k| Fill::At("metadata", tail - k * BLOCK)));
    // At each later step, 0, 1, 2 blocks left: the renames and both sidecars.
    for (phase, ks) in [
        ("acquired", &[0u64, 16, 32][..]),
        ("sealed", &[0, 1]),
        ("verified", &[0, 1]),
        ("marked-verified", &[0, 1, 2]),
        ("sidecar-sha256", &[0, 1]),
    ] {
        fills.extend(ks.iter().map(|k| Fill::At(phase, k * BLOCK)));
    }
    for fill in fills {
        try_fill(fill, &mut wrong, &mut outcomes);
    }
    // Not even room for the output folder: an output failure too (exit 3), not a refusal.
    {
        let f = fixture();
        dev.fresh(0);
        let folder = dev.mnt.join("out/evidence");
        let (r, _) = collect(&f.src, &folder, &[]);
        sizes += 1;
        if r.code != 3 || !r.stderr.contains("No space left on device") || folder.exists() {
            wrong.push(format!(
                "no room for the output folder: exit {} (3 expected): {}",
                r.code, r.stderr
            ));
        }
        outcomes.push(format!("no room for the folder: exit {}", r.code));
        dev.unmount();
    }
    println!(
        "hardening counts: disk full at {sizes} free-space sizes (before the run: 0 to {peak} bytes, the least a run needs; from `metadata` on: up to {tail} bytes, the least the rest needs; 0 to 32 blocks left at 5 later phases), {} wrong verdicts",
        wrong.len()
    );
    println!("{}", outcomes.join("\n"));
    assert!(wrong.is_empty(), "wrong:\n{}", wrong.join("\n"));
    // The sweep reached every stage: failures while writing and while sealing, a sound
    // bundle whose sidecars did not (both, or one) fit, and finalized runs.
    let all = outcomes.join("\n");
    for seen in [
        "writing",
        "verified_sidecars_missing",
        "verified_sidecar_sig_missing",
        "finalized",
    ] {
        assert!(all.contains(seen), "no run ended in {seen}:\n{all}");
    }
}
