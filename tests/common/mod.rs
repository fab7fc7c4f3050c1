//! Shared helpers for the integration tests: run the real binary, find the bundle, read
//! members with the real `unzip`, and require the tools and privileges a test relies on
//! (a missing tool is a failure with the package to install, never a silent skip).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_fieldkit")
}

pub fn fieldkit() -> Command {
    Command::new(bin())
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }
}

pub fn finish(out: Output) -> Run {
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Run with a deadline: a hang is a test failure, not a stuck CI job.
pub fn run_with_timeout(mut cmd: Command, limit: Duration) -> Run {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let start = Instant::now();
    loop {
        if child.try_wait().expect("wait").is_some() {
            return finish(child.wait_with_output().expect("output"));
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let out = child.wait_with_output().expect("output");
            panic!(
                "command hung for more than {limit:?}: {cmd:?}\nstderr: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn run(args: &[&str]) -> Run {
    let mut cmd = fieldkit();
    cmd.args(args);
    run_with_timeout(cmd, Duration::from_secs(300))
}

pub fn run_os(args: &[&std::ffi::OsStr]) -> Run {
    let mut cmd = fieldkit();
    cmd.args(args);
    run_with_timeout(cmd, Duration::from_secs(300))
}

/// `fieldkit collect --source SRC --out OUT --json …`; returns the run and the bundle.
pub fn collect(src: &Path, out: &Path, extra: &[&str]) -> (Run, PathBuf) {
    let mut cmd = fieldkit();
    cmd.arg("collect")
        .arg("--source")
        .arg(src)
        .arg("--out")
        .arg(out)
        .arg("--json");
    cmd.args(extra);
    let r = run_with_timeout(cmd, Duration::from_secs(300));
    let bundle = serde_json::from_str::<serde_json::Value>(&r.stdout)
        .ok()
        .and_then(|v| v["bundle"].as_str().map(PathBuf::from))
        .unwrap_or_default();
    (r, bundle)
}

pub fn require_tool(tool: &str, package: &str) {
    let ok = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
        .stdout(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(
        ok,
        "this test needs `{tool}` (Debian package {package}); .ci/run installs it"
    );
}

pub fn require_root() {
    // SAFETY: geteuid has no preconditions.
    let uid = unsafe { libc_geteuid() };
    assert_eq!(
        uid, 0,
        "this test needs root (CI runs as root): it mounts filesystems or drops privileges"
    );
}

unsafe extern "C" {
    #[link_name = "geteuid"]
    fn libc_geteuid() -> u32;
}

pub fn sh(script: &str) -> Run {
    finish(
        Command::new("sh")
            .arg("-c")
            .arg(script)
            .output()
            .expect("sh"),
    )
}

pub fn bash(script: &str) -> Run {
    finish(
        Command::new("bash")
            .arg("-c")
            .arg(script)
            .output()
            .expect("bash"),
    )
}

pub fn zipedit(args: &[&str]) -> Run {
    let tool = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/tools/zipedit.py");
    finish(
        Command::new("python3")
            .arg(tool)
            .args(args)
            .output()
            .expect("python3"),
    )
}

/// A member's bytes, read with the real `unzip -p`.
pub fn member(bundle: &Path, name: &str) -> Vec<u8> {
    let out = Command::new("unzip")
        .arg("-p")
        .arg(bundle)
        .arg(name)
        .output()
        .expect("unzip");
    assert!(
        out.status.success(),
        "unzip -p {name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

pub fn records(bundle: &Path) -> Vec<serde_json::Value> {
    String::from_utf8(member(bundle, "files.jsonl"))
        .expect("utf8")
        .lines()
        .map(|l| serde_json::from_str(l).expect("record json"))
        .collect()
}

pub fn manifest(bundle: &Path) -> serde_json::Value {
    serde_json::from_slice(&member(bundle, "manifest.json")).expect("manifest json")
}

/// The record whose original path ends with `suffix`.
pub fn record_for<'a>(records: &'a [serde_json::Value], suffix: &str) -> &'a serde_json::Value {
    records
        .iter()
        .find(|r| {
            r["path"]
                .as_str()
                .map(|p| p.ends_with(suffix))
                .unwrap_or(false)
                || r["path_display"]
                    .as_str()
                    .map(|p| p.ends_with(suffix))
                    .unwrap_or(false)
        })
        .unwrap_or_else(|| panic!("no record for …{suffix} in {records:#?}"))
}

pub fn verify(bundle: &Path, extra: &[&str]) -> Run {
    let mut cmd = fieldkit();
    cmd.arg("verify").arg(bundle).args(extra);
    run_with_timeout(cmd, Duration::from_secs(300))
}

/// Wait until `path` exists and is at least `min` bytes long.
pub fn wait_for_size(path: &Path, min: u64, limit: Duration) {
    let start = Instant::now();
    while start.elapsed() < limit {
        if std::fs::metadata(path)
            .map(|m| m.len() >= min)
            .unwrap_or(false)
        {
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    panic!(
        "{} did not reach {min} bytes within {limit:?}",
        path.display()
    );
}

/// The single `*.zip.part` in a directory, once it appears.
pub fn wait_for_part(dir: &Path, limit: Duration) -> PathBuf {
    let start = Instant::now();
    while start.elapsed() < limit {
        if let Ok(rd) = std::fs::read_dir(dir) {
            for e in rd.flatten() {
                if e.file_name().to_string_lossy().ends_with(".zip.part") {
                    return e.path();
                }
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    panic!("no .zip.part appeared in {}", dir.display());
}

/// Write `len` bytes of deterministic pseudo-random data (incompressible, no duplicates).
pub fn write_random(path: &Path, len: usize, seed: u64) {
    use std::io::Write;
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).expect("create"));
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407)
        | 1;
    let mut buf = vec![0u8; 1 << 16];
    let mut left = len;
    while left > 0 {
        for chunk in buf.chunks_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let b = x.to_le_bytes();
            chunk.copy_from_slice(&b[..chunk.len()]);
        }
        let n = left.min(buf.len());
        f.write_all(&buf[..n]).expect("write");
        left -= n;
    }
}
