//! `fieldkit live`: run only the live-state step, print the summary a responder needs
//! (encryption first), optionally write the captures to a file or directory.
//!
//! Glue only: flags → `live::capture`, output, exit code. It must never overwrite a file,
//! and never write into the directory holding fieldkit itself (the stick may be the
//! evidence drive's only safe place, or read-only).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, anyhow, bail};

use super::exit;
use crate::action::Outcome;
use crate::cli::LiveArgs;
use crate::live::{self, LiveCapture, LiveOptions, ReferenceTime, Roots};

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
    let target = match &args.out {
        Some(out) => Some(prepare_output(out)?),
        None => None,
    };
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
        Some(t) => write_output(t, &capture)?,
        None => Vec::new(),
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if args.json {
        let doc = serde_json::json!({
            "summary": capture.summary,
            "actions": capture.actions,
            "findings": capture.findings,
            "written": written,
        });
        serde_json::to_writer_pretty(&mut out, &doc)?;
        writeln!(out)?;
    } else {
        write!(out, "{}", capture.summary.render())?;
        for w in &written {
            writeln!(out, "Written      {w}")?;
        }
    }
    let complete = capture.actions.iter().all(|a| a.outcome == Outcome::Ok);
    Ok(if complete { exit::OK } else { EXIT_INCOMPLETE })
}

enum Target {
    File(PathBuf),
    Dir(PathBuf),
}

/// Decide file or directory, and refuse anything that would overwrite or write beside
/// our own executable — before any capture runs.
fn prepare_output(out: &Path) -> anyhow::Result<Target> {
    let is_file = out
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"))
        && !out.is_dir();
    let dir_to_check = if is_file {
        if out.exists() {
            bail!("{}: already exists; refusing to overwrite", out.display());
        }
        out.parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_path_buf()
    } else {
        std::fs::create_dir_all(out)
            .with_context(|| format!("{}: cannot create output directory", out.display()))?;
        for name in ["live", "actions.jsonl", "findings.jsonl"] {
            if out.join(name).exists() {
                bail!(
                    "{}: already exists; refusing to overwrite",
                    out.join(name).display()
                );
            }
        }
        out.to_path_buf()
    };
    let dir = dir_to_check.canonicalize().with_context(|| {
        format!(
            "{}: output directory is not accessible",
            dir_to_check.display()
        )
    })?;
    if let Some(exe_dir) = std::env::current_exe()
        .ok()
        .and_then(|e| e.canonicalize().ok())
        .and_then(|e| e.parent().map(Path::to_path_buf))
        && dir.starts_with(&exe_dir)
    {
        return Err(anyhow!(
            "{}: inside the directory holding fieldkit ({}); write elsewhere",
            out.display(),
            exe_dir.display()
        ));
    }
    Ok(if is_file {
        Target::File(out.to_path_buf())
    } else {
        Target::Dir(out.to_path_buf())
    })
}

fn create_new(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .with_context(|| format!("{}: cannot create", path.display()))?;
    f.write_all(bytes)
        .and_then(|_| f.sync_all())
        .with_context(|| format!("{}: cannot write", path.display()))
}

fn jsonl<T: serde::Serialize>(items: &[T]) -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::new();
    for i in items {
        serde_json::to_writer(&mut out, i)?;
        out.push(b'\n');
    }
    Ok(out)
}

fn write_output(target: &Target, capture: &LiveCapture) -> anyhow::Result<Vec<String>> {
    match target {
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
            create_new(path, &serde_json::to_vec_pretty(&doc)?)?;
            Ok(vec![path.display().to_string()])
        }
        Target::Dir(dir) => {
            let live_dir = dir.join("live");
            std::fs::create_dir(&live_dir)
                .with_context(|| format!("{}: cannot create", live_dir.display()))?;
            let mut written = Vec::new();
            for (member, bytes) in &capture.artifacts {
                let path = dir.join(member);
                create_new(&path, bytes)?;
                written.push(path.display().to_string());
            }
            for (name, bytes) in [
                ("actions.jsonl", jsonl(&capture.actions)?),
                ("findings.jsonl", jsonl(&capture.findings)?),
            ] {
                let path = dir.join(name);
                create_new(&path, &bytes)?;
                written.push(path.display().to_string());
            }
            Ok(written)
        }
    }
}
