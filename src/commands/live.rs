//! `fieldkit live`: run only the live-state step, print the summary a responder needs
//! (encryption first), optionally write the captures to a file or directory.
//!
//! Glue only: flags → `live::capture`, output, exit code. Every check on `--out` runs
//! before anything is created: it must never overwrite a file, never write onto the
//! examined system's own filesystem (the same-device rule `collect` applies, shared
//! through `collect::check_output`), and never write into the directory holding fieldkit
//! itself (the stick may be read-only, and a sealed kit must stay unchanged). What it
//! writes is listed with its SHA-256 (`SHA256SUMS`, `sha256sum -c` format) and signed
//! when a key is given.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use sha2::Digest;

use super::exit;
use crate::action::Outcome;
use crate::cli::LiveArgs;
use crate::live::{self, LiveCapture, LiveOptions, ReferenceTime, Roots};
use crate::sign::Signer;

/// Some capture failed or timed out (its error is in the output).
pub const EXIT_INCOMPLETE: u8 = 4;

pub fn run(args: LiveArgs) -> anyhow::Result<u8> {
    if !(args.timeout.is_finite() && args.timeout > 0.0 && args.timeout <= 3600.0) {
        bail!(
            "--timeout {}: give seconds between 0 and 3600",
            args.timeout
        );
    }
    let reference_time = args
        .reference_time
        .as_deref()
        .map(ReferenceTime::parse)
        .transpose()?;
    let defaults = Roots::default();
    let roots = Roots {
        proc: args.proc_root.clone().unwrap_or(defaults.proc),
        sys: args.sys_root.clone().unwrap_or(defaults.sys),
        dev: args.dev_root.clone().unwrap_or(defaults.dev),
        fs: args.fs_root.clone().unwrap_or(defaults.fs),
    };
    // The examined system's files: output on that filesystem would change the evidence.
    let source = match &args.fs_root {
        Some(root) => root.clone(),
        None => crate::collect::default_source(),
    };
    let target = match &args.out {
        Some(out) => Some(prepare_output(out, &source, args.key.is_some())?),
        None => None,
    };
    let signer = match &args.key {
        Some(path) => Some(Signer::load(path, || {
            super::collect::passphrase_source(args.passphrase_file.as_deref())
        })?),
        None => None,
    };
    // Every check passed: only now is anything created (before the capture, so that an
    // output that cannot be created is known before minutes of capturing).
    if let Some(Target::Dir(dir)) = &target {
        std::fs::create_dir_all(dir.join("live"))
            .with_context(|| format!("{}: cannot create the output directory", dir.display()))?;
    }
    #[cfg(unix)]
    {
        // SAFETY: geteuid has no preconditions and cannot fail.
        if unsafe { libc::geteuid() } != 0 {
            eprintln!(
                "fieldkit: note: not running as root: other users' processes, socket owners \
                 and device headers will be missing"
            );
        }
    }
    let opts = LiveOptions {
        reference_time,
        timeout: Duration::from_secs_f64(args.timeout),
        roots,
        banner: true,
    };
    let mut capture = live::capture(&opts);
    for (i, f) in capture.findings.iter_mut().enumerate() {
        f.id = format!("F{:06}", i + 1);
    }
    let written = match &target {
        Some(t) => write_output(t, &capture, signer.as_ref())?,
        None => Written::default(),
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if args.json {
        let doc = serde_json::json!({
            "summary": capture.summary,
            "actions": capture.actions,
            "findings": capture.findings,
            "written": written.files,
            "sums": written.sums,
            "sums_sha256": written.sums_sha256,
            "signature": written.signature,
            "signer_fingerprint": signer.as_ref().map(Signer::fingerprint),
        });
        serde_json::to_writer_pretty(&mut out, &doc)?;
        writeln!(out)?;
    } else {
        write!(out, "{}", capture.summary.render())?;
        for w in &written.files {
            writeln!(out, "Written      {w}")?;
        }
        if let (Some(sums), Some(sha)) = (&written.sums, &written.sums_sha256) {
            writeln!(out, "Hashes       {sums} (its SHA-256: {sha})")?;
        }
        if let (Some(sig), Some(s)) = (&written.signature, &signer) {
            writeln!(out, "Signed       {sig} by key {}", s.fingerprint())?;
        }
    }
    let complete = capture.actions.iter().all(|a| a.outcome == Outcome::Ok);
    Ok(if complete { exit::OK } else { EXIT_INCOMPLETE })
}

#[derive(Debug)]
enum Target {
    File(PathBuf),
    Dir(PathBuf),
}

/// The hash list and signature names for a target.
const DIR_SUMS: &str = "SHA256SUMS";
const DIR_SIG: &str = "SHA256SUMS.sig";

fn file_sidecars(path: &Path) -> (PathBuf, PathBuf) {
    let with = |suffix: &str| {
        let mut s = path.as_os_str().to_os_string();
        s.push(suffix);
        PathBuf::from(s)
    };
    (with(".sha256"), with(".sig"))
}

/// Decide file or directory and refuse, before anything is created: an output on the
/// examined system's filesystem, inside the folder holding fieldkit, or one that would
/// overwrite a file.
fn prepare_output(out: &Path, source: &Path, signing: bool) -> anyhow::Result<Target> {
    let is_file = out
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"))
        && !out.is_dir();
    let dir = if is_file {
        let parent = out
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        if !parent.is_dir() {
            bail!(
                "{}: the directory for {} does not exist",
                parent.display(),
                out.display()
            );
        }
        parent.to_path_buf()
    } else {
        out.to_path_buf()
    };
    let source = source
        .canonicalize()
        .with_context(|| format!("{}: examined system root not accessible", source.display()))?;
    let resolved = crate::collect::check_output(&source, &dir)?;
    if let Some(exe_dir) = std::env::current_exe()
        .ok()
        .and_then(|e| e.canonicalize().ok())
        .and_then(|e| e.parent().map(Path::to_path_buf))
        && resolved.starts_with(&exe_dir)
    {
        return Err(anyhow!(
            "{}: inside the directory holding fieldkit ({}); write elsewhere",
            out.display(),
            exe_dir.display()
        ));
    }
    let mut ours: Vec<PathBuf> = Vec::new();
    if is_file {
        let (sums, sig) = file_sidecars(out);
        ours.push(out.to_path_buf());
        ours.push(sums);
        if signing {
            ours.push(sig);
        }
    } else {
        for name in ["live", "actions.jsonl", "findings.jsonl", DIR_SUMS] {
            ours.push(out.join(name));
        }
        if signing {
            ours.push(out.join(DIR_SIG));
        }
    }
    for p in ours {
        // symlink_metadata: a dangling symlink is "existing" too.
        if std::fs::symlink_metadata(&p).is_ok() {
            bail!("{}: already exists; refusing to overwrite", p.display());
        }
    }
    Ok(if is_file {
        Target::File(out.to_path_buf())
    } else {
        Target::Dir(out.to_path_buf())
    })
}

fn jsonl<T: serde::Serialize>(items: &[T]) -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::new();
    for i in items {
        serde_json::to_writer(&mut out, i)?;
        out.push(b'\n');
    }
    Ok(out)
}

/// What `--out` produced.
#[derive(Debug, Default)]
struct Written {
    files: Vec<String>,
    sums: Option<String>,
    sums_sha256: Option<String>,
    signature: Option<String>,
}

/// Write `bytes` as a new file and add its `sha256sum` line (name relative to the list).
fn write_listed(
    path: &Path,
    listed_as: &str,
    bytes: &[u8],
    sums: &mut String,
    written: &mut Written,
) -> anyhow::Result<()> {
    crate::bundle::write_new(path, bytes)?;
    sums.push_str(&format!("{:x}  {listed_as}\n", sha2::Sha256::digest(bytes)));
    written.files.push(path.display().to_string());
    Ok(())
}

fn write_output(
    target: &Target,
    capture: &LiveCapture,
    signer: Option<&Signer>,
) -> anyhow::Result<Written> {
    let mut written = Written::default();
    let mut sums = String::new();
    // SHA256SUMS.sig signs the list (as in a bundle); FILE.json.sig signs the file
    // itself (as a bundle's .zip.sig does): `ssh-keygen -Y verify … < FILE.json`.
    let (sums_path, sig_path, signed) = match target {
        Target::File(path) => {
            let captures: Vec<serde_json::Value> = capture
                .artifacts
                .iter()
                .map(|(member, bytes)| {
                    serde_json::json!({
                        "member": member,
                        "record": serde_json::from_slice::<serde_json::Value>(bytes)
                            .unwrap_or(serde_json::Value::Null),
                    })
                })
                .collect();
            let doc = serde_json::json!({
                "schema": "fieldkit.live.capture",
                "schema_version": live::SCHEMA_VERSION,
                "tool": {
                    "name": crate::version::NAME,
                    "version": crate::version::VERSION,
                    "commit": crate::version::COMMIT,
                    "target": crate::version::TARGET,
                },
                "method": live::METHOD,
                "captures": captures,
                "actions": capture.actions,
                "findings": capture.findings,
            });
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let bytes = serde_json::to_vec_pretty(&doc)?;
            write_listed(path, &name, &bytes, &mut sums, &mut written)?;
            let (sums_path, sig_path) = file_sidecars(path);
            (sums_path, sig_path, Some(bytes))
        }
        Target::Dir(dir) => {
            for (member, bytes) in &capture.artifacts {
                write_listed(&dir.join(member), member, bytes, &mut sums, &mut written)?;
            }
            for (name, bytes) in [
                ("actions.jsonl", jsonl(&capture.actions)?),
                ("findings.jsonl", jsonl(&capture.findings)?),
            ] {
                write_listed(&dir.join(name), name, &bytes, &mut sums, &mut written)?;
            }
            (dir.join(DIR_SUMS), dir.join(DIR_SIG), None)
        }
    };
    crate::bundle::write_new(&sums_path, sums.as_bytes())?;
    written.sums = Some(sums_path.display().to_string());
    written.sums_sha256 = Some(format!("{:x}", sha2::Sha256::digest(sums.as_bytes())));
    if let Some(signer) = signer {
        let sig = signer.sign(signed.as_deref().unwrap_or(sums.as_bytes()))?;
        crate::bundle::write_new(&sig_path, sig.as_bytes())?;
        written.signature = Some(sig_path.display().to_string());
    }
    Ok(written)
}
