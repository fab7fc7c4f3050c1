//! Shared helpers for the triage integration tests: run the real `fieldkit triage-file`
//! binary and real third-party tools, failing loudly (with the Debian package to install)
//! when a tool is missing, never skipping.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

pub fn fieldkit() -> &'static str {
    env!("CARGO_BIN_EXE_fieldkit")
}

/// Runs a tool and insists on success; the message names the Debian package.
pub fn run_tool(program: &str, args: &[&str], package: &str) -> Output {
    run(None, program, args, package)
}

/// Same, in a working directory.
pub fn run_tool_in(dir: &Path, program: &str, args: &[&str], package: &str) -> Output {
    run(Some(dir), program, args, package)
}

fn run(dir: Option<&Path>, program: &str, args: &[&str], package: &str) -> Output {
    let mut cmd = Command::new(program);
    if let Some(dir) = dir {
        cmd.current_dir(dir);
    }
    let out = cmd
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program} ({e}): apt-get install -y {package}"));
    assert!(
        out.status.success(),
        "{program} {args:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Writes `bytes` to `dir/name`, creating parent directories.
pub fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("mkdir");
    }
    std::fs::write(&path, bytes).expect("write");
    path
}

/// `fieldkit triage-file --json [--root ROOT] [extra…] FILES…`: the findings, one JSON
/// object each. Fails on a non-zero exit or a panic message.
pub fn triage(root: Option<&Path>, files: &[PathBuf], extra: &[&str]) -> Vec<Value> {
    let mut cmd = Command::new(fieldkit());
    cmd.arg("triage-file").arg("--json");
    if let Some(root) = root {
        cmd.arg("--root").arg(root);
    }
    cmd.args(extra).args(files);
    let out = cmd.output().expect("run fieldkit");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "triage-file failed: {stderr}");
    assert!(
        !stderr.contains("panicked"),
        "a panic was printed: {stderr}"
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON line {l}: {e}")))
        .collect()
}

pub fn of_kind<'a>(findings: &'a [Value], kind: &str) -> Vec<&'a Value> {
    findings.iter().filter(|f| f["kind"] == kind).collect()
}

pub fn for_path<'a>(findings: &'a [Value], path: &Path) -> Vec<&'a Value> {
    let p = path.to_string_lossy();
    findings
        .iter()
        .filter(|f| f["path"].as_str() == Some(p.as_ref()))
        .collect()
}

/// The one finding of `kind`, with a readable failure listing what there was.
pub fn one<'a>(findings: &'a [Value], kind: &str) -> &'a Value {
    let hits = of_kind(findings, kind);
    assert_eq!(
        hits.len(),
        1,
        "expected one {kind}, got {}: {:#?}",
        hits.len(),
        findings
            .iter()
            .map(|f| format!("{} {}", f["kind"], f["title"]))
            .collect::<Vec<_>>()
    );
    hits[0]
}

/// A Python 3 that can `import pefile` (Debian python3-pefile installs it for
/// /usr/bin/python3; `pip install pefile` works for any other).
pub fn python_with_pefile() -> String {
    for candidate in ["python3", "/usr/bin/python3"] {
        let ok = Command::new(candidate)
            .args(["-c", "import pefile"])
            .output()
            .is_ok_and(|o| o.status.success());
        if ok {
            return candidate.to_string();
        }
    }
    panic!("no python3 with pefile: apt-get install -y python3-pefile (or pip install pefile)");
}

/// Deterministic pseudo-random bytes (xorshift64*), for high-entropy payloads.
pub fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.max(1);
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        out.extend_from_slice(&state.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Compile `source` (a C file in `dir`) for macOS x86_64 and arm64 with clang, link each
/// with lld's Mach-O linker, and join them with llvm-lipo: leaves `x86_64`, `arm64` (thin
/// executables), `x86_64.o`, `arm64.o` and the fat binary `fat_name` in `dir`.
pub fn build_fat_macho(dir: &Path, source: &str, fat_name: &str) {
    for (target, arch) in [
        ("x86_64-apple-macos11", "x86_64"),
        ("arm64-apple-macos11", "arm64"),
    ] {
        run_tool_in(
            dir,
            "clang",
            &["-target", target, "-c", source, "-o", &format!("{arch}.o")],
            "clang",
        );
        run_tool_in(
            dir,
            "ld64.lld-14",
            &[
                "-arch",
                arch,
                "-platform_version",
                "macos",
                "11.0",
                "11.0",
                "-e",
                "_main",
                "-o",
                arch,
                &format!("{arch}.o"),
            ],
            "lld",
        );
    }
    run_tool_in(
        dir,
        "llvm-lipo-14",
        &["-create", "x86_64", "arm64", "-output", fat_name],
        "llvm",
    );
}
