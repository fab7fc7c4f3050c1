//! Finalization order (issue 16, item 1): a run killed with SIGKILL, or cut off as by a
//! power failure, at any point — each phase boundary of finalization (the
//! `FIELDKIT_TEST_PAUSE_AT` hook stops the run there) and random moments over the whole
//! run — never leaves a file that `verify` calls VALID unless collect had done everything
//! it promises (sealed, fsynced, verified after write, both sidecars written, fsynced and
//! the directory synced), and every earlier state is exit 3 with its own name.
//!
//! Power cut, emulated: the output directory is on a loop-mounted ext4 in a file, mounted
//! `data=writeback` (metadata such as a rename may reach the disk before file data, as on
//! XFS: the harshest ordering Linux offers). At the moment of the cut the collect is
//! stopped (SIGSTOP: by the hook at a phase, or by the test at a random moment) and the
//! backing file is copied: the copy holds exactly what the kernel had sent to the device,
//! and nothing of what was only in the page cache (no fsync, no writeback yet). The copy
//! is mounted — the journal replayed, as after a reboot — and judged like a killed run.
//! Every sidecar that VALID relies on is checked with `sha256sum -c` and
//! `ssh-keygen -Y verify`.

mod common;

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use common::*;

/// Every phase the hook announces, in order, and the state `verify` must name for a run
/// killed there ("" = VALID: the run had reached its final state).
const PHASES: [(&str, &str); 14] = [
    ("created", "writing"),
    ("acquired", "writing"),
    ("metadata", "writing"),
    ("central-directory", "sealed"),
    ("sealed", "sealed"),
    ("verified", "sealed"),
    ("marked-verified", "verified_sidecars_missing"),
    (
        "sidecar-sha256-temp",
        "verified_sidecar_sha256_being_written",
    ),
    ("sidecar-sha256", "verified_sidecar_sig_missing"),
    ("sidecar-sig-temp", "verified_sidecar_sig_being_written"),
    ("sidecar-sig", "verified_not_renamed"),
    ("sidecars-synced", "verified_not_renamed"),
    ("final", ""),
    ("durable", ""),
];

/// The last phase announced before the final rename: a file may verify VALID only once
/// the run has announced it (everything promised is done and durable; the rename that
/// follows is the commit).
const COMMIT: &str = "sidecars-synced";

struct Fixture {
    _dir: tempfile::TempDir,
    src: PathBuf,
    key: PathBuf,
    pubkey: PathBuf,
    allowed: PathBuf,
    age_identity: PathBuf,
    age_recipient: String,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        require_root();
        require_tool("ssh-keygen", "openssh-client");
        require_tool("sha256sum", "coreutils");
        require_tool("age-keygen", "age");
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        std::fs::create_dir_all(src.join("docs")).unwrap();
        for i in 0..20 {
            std::fs::write(
                src.join(format!("docs/note{i:02}.txt")),
                format!("note {i}\n"),
            )
            .unwrap();
        }
        write_random(&src.join("a.bin"), 1 << 20, 71);
        write_random(&src.join("b.bin"), 1 << 20, 72);
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
        let age_identity = dir.path().join("age.key");
        let r = sh(&format!("age-keygen -o '{}' 2>&1", age_identity.display()));
        assert_eq!(r.code, 0, "{}", r.stdout);
        let age_recipient = r
            .stdout
            .split_whitespace()
            .find(|w| w.starts_with("age1"))
            .expect("age-keygen prints the recipient")
            .to_string();
        Fixture {
            pubkey: dir.path().join("examiner.pub"),
            src,
            key,
            allowed,
            age_identity,
            age_recipient,
            _dir: dir,
        }
    })
}

/// A collect in progress, its stderr read line by line (the hook's announcements).
struct Running {
    child: Child,
    phases: Arc<Mutex<Vec<String>>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Running {
    fn start(out: &Path, pause: &str, extra: &[&str]) -> Running {
        let f = fixture();
        let mut child = Command::new(bin())
            .args(["collect", "--quiet", "--threads", "2", "--source"])
            .arg(&f.src)
            .arg("--out")
            .arg(out)
            .arg("--key")
            .arg(&f.key)
            .args(extra)
            .env("FIELDKIT_TEST_PAUSE_AT", pause)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn collect");
        let stderr = child.stderr.take().unwrap();
        let phases = Arc::new(Mutex::new(Vec::new()));
        let p = phases.clone();
        let reader = std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some(phase) = line.strip_prefix("fieldkit: test phase ") {
                    p.lock().unwrap().push(phase.to_string());
                }
            }
        });
        Running {
            child,
            phases,
            reader: Some(reader),
        }
    }

    fn phases(&self) -> Vec<String> {
        self.phases.lock().unwrap().clone()
    }

    /// Wait until the run has stopped itself at `phase` (SIGSTOP from the hook).
    fn wait_paused_at(&mut self, phase: &str) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Err(format!(
                    "collect ended ({status}) without pausing at {phase}; phases {:?}",
                    self.phases()
                ));
            }
            if self.phases().last().map(String::as_str) == Some(phase)
                && process_state(self.child.id()) == Some('T')
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!("no pause at {phase} within a minute"));
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// Stop the run wherever it is (SIGSTOP), and let the reader take in what it wrote.
    fn stop(&mut self) {
        if self.child.try_wait().unwrap().is_some() {
            return;
        }
        sig(self.child.id(), "STOP");
        let deadline = Instant::now() + Duration::from_secs(10);
        while !matches!(process_state(self.child.id()), Some('T' | 'Z') | None) {
            assert!(Instant::now() < deadline, "SIGSTOP did not stop the run");
            std::thread::sleep(Duration::from_millis(1));
        }
        std::thread::sleep(Duration::from_millis(20));
    }

    /// SIGKILL (a no-op when the run has already ended); returns the phases reached
    /// and whether the run had finished on its own (with its exit code).
    fn kill(mut self) -> (Vec<String>, Option<i32>) {
        let ended = self
            .child
            .try_wait()
            .unwrap()
            .map(|s| s.code().unwrap_or(-1));
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
        (self.phases(), ended)
    }
}

impl Drop for Running {
    /// A failed assertion must not leave a stopped collect behind.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn process_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(") ")?.1.chars().next()
}

fn sig(pid: u32, signal: &str) {
    let r = sh(&format!("kill -{signal} {pid}"));
    assert_eq!(r.code, 0, "kill -{signal}: {}", r.stderr);
}

/// What `verify` said about one file left in an output directory.
#[derive(Debug, Clone)]
struct Verdict {
    file: String,
    code: i32,
    state: String,
}

fn is_bundle_like(name: &str) -> bool {
    [
        ".zip",
        ".zip.part",
        ".zip.verified.part",
        ".zip.age",
        ".zip.age.part",
    ]
    .iter()
    .any(|s| name.ends_with(s))
        || name.ends_with(".zip.age.verified.part")
}

/// Verify every bundle-like file in `out`; every wrong verdict is pushed to `wrong`
/// (with `ctx`): anything but exit 0 or 3, exit 3 without a state name, and — above
/// all — VALID before the run reached its commit point, or VALID with sidecars that the
/// standard tools do not accept.
fn judge(
    out: &Path,
    phases: &[String],
    encrypted: bool,
    ctx: &str,
    wrong: &mut Vec<String>,
) -> Vec<Verdict> {
    let f = fixture();
    let mut verdicts = Vec::new();
    let Ok(rd) = std::fs::read_dir(out) else {
        return verdicts;
    };
    let mut names: Vec<String> = rd
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let bundles: Vec<&String> = names.iter().filter(|n| is_bundle_like(n)).collect();
    if bundles.len() > 1 {
        wrong.push(format!("{ctx}: more than one bundle-like file: {names:?}"));
    }
    for name in bundles {
        let path = out.join(name);
        let mut args = vec!["--json", "--pubkey", f.pubkey.to_str().unwrap()];
        if encrypted {
            args.extend(["--identity-file", f.age_identity.to_str().unwrap()]);
        }
        let v = verify(&path, &args);
        let j: serde_json::Value = serde_json::from_str(&v.stdout).unwrap_or_default();
        let state = j["state"].as_str().unwrap_or("").to_string();
        let verdict = Verdict {
            file: name.clone(),
            code: v.code,
            state: state.clone(),
        };
        match v.code {
            0 => {
                if !phases.iter().any(|p| p == COMMIT) {
                    wrong.push(format!(
                        "{ctx}: {name} verifies VALID, but the run had only reached {:?}",
                        phases.last()
                    ));
                }
                if let Err(e) = sidecars_check_out(out, name) {
                    wrong.push(format!("{ctx}: {name} verifies VALID, but {e}"));
                }
            }
            3 => {
                let named = j["problems"]
                    .as_array()
                    .is_some_and(|p| p.iter().any(|p| p["code"] == "not_finalized"));
                if state.is_empty() || !named {
                    wrong.push(format!(
                        "{ctx}: {name}: exit 3 without a named state: {}",
                        v.stdout
                    ));
                }
            }
            _ => wrong.push(format!(
                "{ctx}: {name}: exit {} (only 0 or 3 are right for a killed run): {}",
                v.code, v.stdout
            )),
        }
        verdicts.push(verdict);
    }
    verdicts
}

/// The sidecars of a bundle that verifies, checked with the standard tools alone.
fn sidecars_check_out(out: &Path, name: &str) -> Result<(), String> {
    let f = fixture();
    let sums = sh(&format!(
        "cd '{}' && sha256sum -c '{name}.sha256' 2>&1",
        out.display()
    ));
    if sums.code != 0 {
        return Err(format!("sha256sum -c {name}.sha256: {}", sums.stdout));
    }
    let sig = sh(&format!(
        "ssh-keygen -Y verify -f '{}' -I examiner@lab.example -n fieldkit-evidence -s '{}/{name}.sig' < '{}/{name}' 2>&1",
        f.allowed.display(),
        out.display(),
        out.display()
    ));
    if sig.code != 0 {
        return Err(format!("ssh-keygen -Y verify {name}.sig: {}", sig.stdout));
    }
    Ok(())
}

/// A small deterministic generator for the random kill moments (seed printed).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// How long a whole run takes here (with the hook announcing, nothing stopped), and how
/// long its finalization (from the `metadata` announcement to the end).
fn run_times(out: &Path) -> (Duration, Duration) {
    let start = Instant::now();
    let mut r = Running::start(out, "none", &[]);
    let mut metadata_at = None;
    while r.child.try_wait().unwrap().is_none() {
        if metadata_at.is_none() && r.phases().iter().any(|p| p == "metadata") {
            metadata_at = Some(start.elapsed());
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let took = start.elapsed();
    let (phases, ended) = r.kill();
    assert_eq!(ended, Some(0), "reference run failed; phases {phases:?}");
    let _ = std::fs::remove_dir_all(out);
    (took, took - metadata_at.unwrap_or_default())
}

/// Where a random moment is drawn: over the whole run, or over its finalization.
#[derive(Debug, Clone, Copy)]
enum Window {
    Run,
    Finalization,
}

/// Start a run and wait until a random moment of `window` (`times` from `run_times`).
fn at_random_moment(
    out: &Path,
    window: Window,
    times: (Duration, Duration),
    rng: &mut Rng,
) -> (Running, Duration) {
    let (whole, fin) = times;
    let span = match window {
        Window::Run => whole,
        Window::Finalization => fin,
    };
    let delay = Duration::from_micros(rng.below(span.as_micros() as u64 * 11 / 10));
    let r = Running::start(out, "none", &[]);
    if let Window::Finalization = window {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !r.phases().iter().any(|p| p == "metadata") && Instant::now() < deadline {
            std::thread::sleep(Duration::from_micros(200));
        }
    }
    std::thread::sleep(delay);
    (r, delay)
}

/// The random moments tried: this many over the whole run, this many over finalization.
const MOMENTS: [(Window, usize); 2] = [(Window::Run, 20), (Window::Finalization, 12)];
const CUT_MOMENTS: [(Window, usize); 2] = [(Window::Run, 6), (Window::Finalization, 6)];

fn record(counts: &str) {
    println!("hardening counts: {counts}");
}

#[test]
fn sigkill_at_every_phase_boundary_leaves_a_named_state_and_valid_only_once_final() {
    let t = tempfile::tempdir().unwrap();
    let mut wrong = Vec::new();
    for (i, (phase, want)) in PHASES.iter().enumerate() {
        let out = t.path().join(format!("out{i}"));
        let mut r = Running::start(&out, phase, &[]);
        if let Err(e) = r.wait_paused_at(phase) {
            wrong.push(format!("SIGKILL at {phase}: {e}"));
        }
        let (phases, _) = r.kill();
        let v = judge(
            &out,
            &phases,
            false,
            &format!("SIGKILL at {phase}"),
            &mut wrong,
        );
        match (v.as_slice(), *want) {
            ([one], "") if one.code == 0 => {}
            ([one], want) if one.code == 3 && one.state == want => {}
            _ => wrong.push(format!(
                "SIGKILL at {phase}: expected {}, got {v:?}",
                if want.is_empty() { "VALID" } else { want }
            )),
        }
    }
    record(&format!(
        "SIGKILL at {} phase boundaries, {} wrong verdicts",
        PHASES.len(),
        wrong.len()
    ));
    assert!(wrong.is_empty(), "wrong verdicts:\n{}", wrong.join("\n"));
    // Distinct states are named distinctly.
    let named: std::collections::BTreeSet<&str> = PHASES
        .iter()
        .map(|(_, s)| *s)
        .filter(|s| !s.is_empty())
        .collect();
    assert_eq!(named.len(), 7, "{named:?}");
    // And the hook announces every phase, in this order, on a run left alone.
    let mut r = Running::start(&t.path().join("whole"), "none", &[]);
    assert!(r.child.wait().unwrap().success());
    let (phases, _) = r.kill();
    // The early read-back announces each range from its own thread, wherever it is then.
    let phases: Vec<_> = phases
        .into_iter()
        .filter(|p| !p.starts_with("read-back-early "))
        .collect();
    let want: Vec<&str> = PHASES.iter().map(|(p, _)| *p).collect();
    assert_eq!(phases, want);
}

#[test]
fn sigkill_at_random_moments_over_the_whole_run_never_leaves_an_early_valid() {
    let t = tempfile::tempdir().unwrap();
    let times = run_times(&t.path().join("reference"));
    let seed = 0x5eed_0016_u64 ^ (times.0.as_micros() as u64);
    let mut rng = Rng(seed | 1);
    let mut wrong = Vec::new();
    let mut by_phase: std::collections::BTreeMap<String, usize> = Default::default();
    let mut kills = 0;
    for (window, n) in MOMENTS {
        for _ in 0..n {
            let out = t.path().join(format!("out{kills}"));
            kills += 1;
            let (r, delay) = at_random_moment(&out, window, times, &mut rng);
            let (phases, ended) = r.kill();
            let at = match ended {
                Some(code) => format!("ended ({code})"),
                None => phases.last().cloned().unwrap_or_else(|| "start".into()),
            };
            *by_phase.entry(at.clone()).or_default() += 1;
            judge(
                &out,
                &phases,
                false,
                &format!("SIGKILL {delay:?} into the {window:?} window (at {at}, seed {seed:#x})"),
                &mut wrong,
            );
            let _ = std::fs::remove_dir_all(&out);
        }
    }
    record(&format!(
        "SIGKILL at {kills} random moments ({MOMENTS:?}; runs of {:?}, finalization {:?}; last phase reached: {by_phase:?}), {} wrong verdicts",
        times.0,
        times.1,
        wrong.len()
    ));
    assert!(wrong.is_empty(), "wrong verdicts:\n{}", wrong.join("\n"));
}

#[test]
fn an_encrypted_bundle_passes_through_the_same_named_states() {
    let f = fixture();
    let t = tempfile::tempdir().unwrap();
    let mut wrong = Vec::new();
    let extra = ["--encrypt-to", f.age_recipient.as_str()];
    for (i, (phase, want)) in PHASES.iter().enumerate() {
        let out = t.path().join(format!("out{i}"));
        let mut r = Running::start(&out, phase, &extra);
        if let Err(e) = r.wait_paused_at(phase) {
            wrong.push(format!("encrypted, SIGKILL at {phase}: {e}"));
        }
        let (phases, _) = r.kill();
        let v = judge(
            &out,
            &phases,
            true,
            &format!("encrypted, SIGKILL at {phase}"),
            &mut wrong,
        );
        match (v.as_slice(), *want) {
            ([one], "") if one.code == 0 && one.file.ends_with(".zip.age") => {}
            ([one], want) if one.code == 3 && one.state == want => {}
            _ => wrong.push(format!(
                "encrypted, SIGKILL at {phase}: expected {}, got {v:?}",
                if want.is_empty() { "VALID" } else { want }
            )),
        }
    }
    record(&format!(
        "encrypted: SIGKILL at {} phase boundaries, {} wrong verdicts",
        PHASES.len(),
        wrong.len()
    ));
    assert!(wrong.is_empty(), "wrong verdicts:\n{}", wrong.join("\n"));
}

/// A loop-mounted ext4 in a file, for the power-cut emulation.
struct LoopFs {
    dir: tempfile::TempDir,
    img: PathBuf,
    mnt: PathBuf,
}

impl LoopFs {
    fn new(mib: u64) -> LoopFs {
        require_root();
        require_tool("mkfs.ext4", "e2fsprogs");
        let dir = tempfile::tempdir().unwrap();
        let img = dir.path().join("out.img");
        let mnt = dir.path().join("mnt");
        std::fs::create_dir(&mnt).unwrap();
        let r = sh(&format!(
            "truncate -s {mib}M '{0}' && mkfs.ext4 -q -F '{0}' && mount -o loop,data=writeback '{0}' '{1}'",
            img.display(),
            mnt.display()
        ));
        assert_eq!(r.code, 0, "loop ext4: {}{}", r.stdout, r.stderr);
        LoopFs { dir, img, mnt }
    }

    /// What the device holds right now, mounted read-write at a new place (journal
    /// replayed) for `judge`; unmounted when the closure returns.
    fn after_power_cut<T>(&self, k: usize, f: impl FnOnce(&Path) -> T) -> T {
        let snap = self.dir.path().join(format!("cut{k}.img"));
        let at = self.dir.path().join(format!("cut{k}"));
        std::fs::create_dir(&at).unwrap();
        let r = sh(&format!(
            "cp --sparse=always '{}' '{}' && mount -o loop '{}' '{}'",
            self.img.display(),
            snap.display(),
            snap.display(),
            at.display()
        ));
        assert_eq!(r.code, 0, "mount the power-cut copy: {}", r.stderr);
        let result = f(&at);
        let u = sh(&format!("umount '{}'", at.display()));
        assert_eq!(u.code, 0, "{}", u.stderr);
        let _ = std::fs::remove_file(&snap);
        result
    }
}

impl Drop for LoopFs {
    fn drop(&mut self) {
        sh(&format!("umount '{}'", self.mnt.display()));
    }
}

#[test]
fn a_power_cut_at_each_phase_and_at_random_moments_never_leaves_an_early_valid() {
    let fs = LoopFs::new(96);
    let mut wrong = Vec::new();
    let mut cuts = 0usize;
    // Where durability is promised, the state after the cut is exact.
    let durable = [
        ("sealed", "sealed"),
        ("marked-verified", "verified_sidecars_missing"),
        ("sidecars-synced", "verified_not_renamed"),
        ("durable", ""),
    ];
    for (i, (phase, _)) in PHASES.iter().enumerate() {
        let out = fs.mnt.join(format!("out{i}"));
        let mut r = Running::start(&out, phase, &[]);
        let ctx = format!("power cut at {phase}");
        if let Err(e) = r.wait_paused_at(phase) {
            wrong.push(format!("{ctx}: {e}"));
            r.stop();
        }
        let phases = r.phases();
        let v = fs.after_power_cut(cuts, |m| {
            judge(&m.join(format!("out{i}")), &phases, false, &ctx, &mut wrong)
        });
        cuts += 1;
        r.kill();
        if let Some((_, want)) = durable.iter().find(|(p, _)| p == phase) {
            let ok = match (v.as_slice(), *want) {
                ([one], "") => one.code == 0,
                ([one], want) => one.code == 3 && one.state == want,
                _ => false,
            };
            if !ok {
                wrong.push(format!("{ctx}: expected {want:?} to be durable, got {v:?}"));
            }
        }
        let _ = std::fs::remove_dir_all(&out);
    }
    // Random moments: stop the run (SIGSTOP) wherever it is, cut, kill.
    let times = run_times(&fs.mnt.join("reference"));
    let seed = 0x00c0_ffee_0016_u64 ^ (times.0.as_micros() as u64);
    let mut rng = Rng(seed | 1);
    let mut by_phase: std::collections::BTreeMap<String, usize> = Default::default();
    let mut random_cuts = 0;
    for (window, n) in CUT_MOMENTS {
        for _ in 0..n {
            let name = format!("rnd{random_cuts}");
            random_cuts += 1;
            let out = fs.mnt.join(&name);
            let (mut r, delay) = at_random_moment(&out, window, times, &mut rng);
            r.stop();
            let phases = r.phases();
            *by_phase
                .entry(phases.last().cloned().unwrap_or_else(|| "start".into()))
                .or_default() += 1;
            let ctx = format!("power cut {delay:?} into the {window:?} window (seed {seed:#x})");
            fs.after_power_cut(cuts, |m| {
                judge(&m.join(&name), &phases, false, &ctx, &mut wrong)
            });
            cuts += 1;
            r.kill();
            let _ = std::fs::remove_dir_all(&out);
        }
    }
    record(&format!(
        "power cut at {} phase boundaries and {random_cuts} random moments ({CUT_MOMENTS:?}; last phase reached: {by_phase:?}), {} wrong verdicts",
        PHASES.len(),
        wrong.len()
    ));
    assert!(wrong.is_empty(), "wrong verdicts:\n{}", wrong.join("\n"));
}
