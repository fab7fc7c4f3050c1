//! Runs a job file: picks this shard's jobs, takes each job's lock, decides (resume) whether
//! the job is already done, moves leftovers aside, runs the collection and appends one
//! record per job to this shard's log (`OUT/batch.jsonl` or `OUT/batch.KofN.jsonl`).
//!
//! **Each collection is a child process: this very executable, `fieldkit collect`.** A
//! job is then isolated exactly as a responder's run is — its own address space, signal
//! handling (an interrupted collect still seals an incomplete bundle), thread pool and
//! exit code, the same code path the rest of the test suite proves — and a job that
//! crashes, is killed or runs out of memory ends as that job's failure while the others go
//! on. The child gets SIGTERM if the batch dies (`PR_SET_PDEATHSIG`), so a killed batch
//! leaves incomplete bundles and a stale lock, never an orphan that keeps writing.
//! Re-verification (`kind = "bundle"` jobs and resume checks) runs in-process: it only reads.
//!
//! Parallelism: J jobs at once × T collect threads each. Default J = min(jobs, max(2,
//! CPUs/4)), T = max(1, CPUs/J): on 2 cores two jobs of one thread (small exhibits spend
//! much of their time in single-threaded sealing and signing), on 16 cores 4 × 4.
//! `--jobs` and `--threads` override either.
//!
//! Must never delete anything under OUT (leftovers are moved into `OUT/<exhibit>/aside-…/`
//! and named in the log), never write into a source, and never let one job's failure
//! stop another.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::fingerprint::{self, Fingerprint};
use super::jobs::{Job, JobFile, Kind};
use super::lock::{self, Acquire, Holder};
use super::shard::Shard;
use crate::bundle::verify::{self, Trust, Verdict};

/// The state a finished job leaves in `OUT/<exhibit>/job.json`.
pub const STATE_NAME: &str = "job.json";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct State {
    pub exhibit: String,
    pub source: PathBuf,
    pub kind: Kind,
    pub fingerprint: Fingerprint,
    /// File name of the bundle inside the job folder.
    pub bundle: String,
    pub sha256: Option<String>,
    pub finished: String,
    /// The findings summary of the collection (so a skipped job still reports it).
    #[serde(default)]
    pub findings: Option<serde_json::Value>,
}

/// One line of a batch log.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct Record {
    pub exhibit: String,
    /// done | skipped | verified | incomplete | empty_source | failed | invalid | source_changed
    /// | locked
    pub status: String,
    pub kind: Option<Kind>,
    pub source: PathBuf,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bundle: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verdict: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counts: Option<serde_json::Value>,
    /// Findings: total and by severity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub findings: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// What changed in the source since its bundle was made.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<String>,
    /// Leftovers of an earlier run moved aside (never deleted).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub moved_aside: Vec<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stale_lock: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held_by: Option<Holder>,
    pub shard: String,
    pub total_jobs: usize,
    pub host: String,
    pub pid: u32,
    pub started: String,
    pub ended: String,
    pub elapsed_seconds: f64,
}

impl Record {
    pub fn succeeded(&self) -> bool {
        matches!(self.status.as_str(), "done" | "skipped" | "verified")
    }
}

pub struct Options {
    pub out: PathBuf,
    pub shard: Shard,
    pub jobs: Option<usize>,
    pub threads: Option<usize>,
    pub lease: Duration,
    /// The fieldkit executable collections run as.
    pub exe: PathBuf,
    pub quiet: bool,
    /// Collect a job again (into a new bundle beside the old one) when its source changed.
    pub recollect_changed: bool,
}

/// Sizing as documented in the module comment.
pub fn sizing(pending: usize, jobs: Option<usize>, threads: Option<usize>) -> (usize, usize) {
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let j = jobs
        .unwrap_or_else(|| (cpus / 4).max(2))
        .clamp(1, pending.max(1));
    let t = threads.unwrap_or_else(|| (cpus / j).max(1)).max(1);
    (j, t)
}

struct Shared {
    log: Mutex<std::fs::File>,
    done: AtomicUsize,
    bytes: AtomicU64,
    running: Mutex<Vec<(String, PathBuf)>>,
}

fn human_bytes(b: u64) -> String {
    const U: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = b as f64;
    let mut i = 0;
    while v >= 1024.0 && i < U.len() - 1 {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{b} B")
    } else {
        format!("{v:.1} {}", U[i])
    }
}

/// Bytes written so far by running collections: the size of their `.part` files.
fn part_bytes(dirs: &[(String, PathBuf)]) -> u64 {
    dirs.iter()
        .filter_map(|(_, d)| std::fs::read_dir(d).ok())
        .flat_map(|rd| rd.flatten())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".part"))
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len())
        .sum()
}

/// Run the shard's jobs; returns the records written.
pub fn run(file: &JobFile, opts: &Options) -> anyhow::Result<Vec<Record>> {
    std::fs::create_dir_all(&opts.out)
        .map_err(|e| anyhow::anyhow!("{}: cannot create: {e}", opts.out.display()))?;
    let mine: Vec<&Job> = file
        .jobs
        .iter()
        .filter(|j| opts.shard.owns(&j.exhibit))
        .collect();
    let total = file.jobs.len();
    let log_path = opts.out.join(opts.shard.log_name());
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(|e| anyhow::anyhow!("{}: cannot open the batch log: {e}", log_path.display()))?;
    let (j, t) = sizing(mine.len(), opts.jobs, opts.threads);
    if !opts.quiet {
        say!(
            "fieldkit batch: shard {} has {} of {} jobs; {} at once × {} threads; log {}",
            opts.shard,
            mine.len(),
            total,
            j,
            t,
            log_path.display()
        );
    }
    let shared = Arc::new(Shared {
        log: Mutex::new(log),
        done: AtomicUsize::new(0),
        bytes: AtomicU64::new(0),
        running: Mutex::new(Vec::new()),
    });
    let next = AtomicUsize::new(0);
    let records: Mutex<Vec<Record>> = Mutex::new(Vec::new());
    let finished = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        if !opts.quiet {
            let shared = shared.clone();
            let finished = &finished;
            let n = mine.len();
            s.spawn(move || progress(&shared, n, finished));
        }
        let workers: Vec<_> = (0..j)
            .map(|_| {
                s.spawn(|| {
                    loop {
                        let i = next.fetch_add(1, Ordering::SeqCst);
                        let Some(job) = mine.get(i) else { break };
                        let r = run_job(job, opts, t, total, &shared);
                        append(&shared.log, &log_path, &r);
                        shared.done.fetch_add(1, Ordering::SeqCst);
                        if !opts.quiet {
                            say!(
                                "fieldkit batch: [{}/{}] {} {}{}",
                                shared.done.load(Ordering::SeqCst),
                                mine.len(),
                                r.exhibit,
                                r.status,
                                r.error
                                    .as_deref()
                                    .map(|e| format!(": {e}"))
                                    .unwrap_or_default()
                            );
                        }
                        if let Ok(mut v) = records.lock() {
                            v.push(r);
                        }
                    }
                })
            })
            .collect();
        for w in workers {
            let _ = w.join();
        }
        finished.store(true, Ordering::SeqCst);
    });
    let mut v = records.into_inner().unwrap_or_default();
    v.sort_by(|a, b| a.exhibit.cmp(&b.exhibit));
    Ok(v)
}

/// Append one record to the shard's log and sync it (a crash loses no finished job).
fn append(log: &Mutex<std::fs::File>, path: &Path, r: &Record) {
    let written = serde_json::to_string(r)
        .map_err(std::io::Error::other)
        .and_then(|line| {
            let mut f = log
                .lock()
                .map_err(|_| std::io::Error::other("log lock poisoned"))?;
            writeln!(f, "{line}").and_then(|()| f.sync_data())
        });
    if let Err(e) = written {
        say!(
            "fieldkit batch: error: {}: cannot write the record of {}: {e}",
            path.display(),
            r.exhibit
        );
    }
}

fn progress(shared: &Shared, total: usize, finished: &std::sync::atomic::AtomicBool) {
    let mut last = Instant::now();
    while !finished.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(200));
        if last.elapsed() < Duration::from_secs(5) {
            continue;
        }
        last = Instant::now();
        let running = shared.running.lock().map(|r| r.clone()).unwrap_or_default();
        let names: Vec<&str> = running.iter().map(|(n, _)| n.as_str()).collect();
        say!(
            "fieldkit batch: {}/{} jobs done, {} read by finished jobs, {} being written by {}",
            shared.done.load(Ordering::SeqCst),
            total,
            human_bytes(shared.bytes.load(Ordering::SeqCst)),
            human_bytes(part_bytes(&running)),
            if names.is_empty() {
                "-".to_string()
            } else {
                names.join(" ")
            }
        );
    }
}

fn aside_dir(dir: &Path) -> PathBuf {
    dir.join(format!(
        "aside-{}",
        crate::timefmt::now_utc().replace(':', "")
    ))
}

/// Move every leftover of an earlier run (anything but the lock, logs and earlier aside
/// folders) into `aside`; returns where each went.
fn move_leftovers(dir: &Path, aside: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut moved = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = e.file_name().to_string_lossy().into_owned();
        if name == lock::LOCK_NAME || name.starts_with("aside-") || name.ends_with(".log") {
            continue;
        }
        std::fs::create_dir_all(aside)?;
        let to = aside.join(&name);
        std::fs::rename(e.path(), &to)?;
        moved.push(to);
    }
    Ok(moved)
}

fn verify_bundle(path: &Path, identity: Option<&Path>) -> anyhow::Result<verify::Report> {
    let ids = crate::commands::verify::identities(identity)?;
    Ok(verify::verify_with(
        path,
        &verify::Options {
            trust: Trust::SelfAttested,
            check_sidecars: true,
        },
        &ids,
    ))
}

fn file_sha256(path: &Path) -> std::io::Result<String> {
    use sha2::Digest;
    use std::io::Read;
    let mut f = std::fs::File::open(path)?;
    let mut h = sha2::Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(crate::hashing::hex(&h.finalize()))
}

fn verdict_name(v: Verdict) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| format!("{v:?}"))
}

fn run_job(job: &Job, opts: &Options, threads: usize, total: usize, shared: &Shared) -> Record {
    let start = Instant::now();
    let mut r = Record {
        exhibit: job.exhibit.clone(),
        kind: Some(job.kind),
        source: job.source.clone(),
        shard: opts.shard.to_string(),
        total_jobs: total,
        host: lock::hostname(),
        pid: std::process::id(),
        started: crate::timefmt::now_utc(),
        ..Record::default()
    };
    let outcome = job_body(job, opts, threads, shared, &mut r);
    if let Err(e) = outcome {
        r.status = "failed".into();
        r.error = Some(format!("{e:#}"));
    }
    r.ended = crate::timefmt::now_utc();
    r.elapsed_seconds = (start.elapsed().as_secs_f64() * 1000.0).round() / 1000.0;
    r
}

fn job_body(
    job: &Job,
    opts: &Options,
    threads: usize,
    shared: &Shared,
    r: &mut Record,
) -> anyhow::Result<()> {
    use anyhow::Context;
    let dir = opts.out.join(&job.exhibit);
    std::fs::create_dir_all(&dir).with_context(|| format!("{}: cannot create", dir.display()))?;
    let aside = aside_dir(&dir);
    let holder = Holder::me(&opts.shard.to_string());
    let lock = match lock::acquire(&dir, &holder, opts.lease, &aside)
        .with_context(|| format!("{}: cannot take the job lock", dir.display()))?
    {
        Acquire::Held(h) => {
            r.status = "locked".into();
            r.error = Some(match &h {
                Some(h) => format!(
                    "held by {} pid {} since {} (shard {}): left to it",
                    h.host, h.pid, h.started, h.shard
                ),
                None => "held by another run (lock not readable yet): left to it".into(),
            });
            r.held_by = h;
            return Ok(());
        }
        Acquire::Taken(l) => l,
    };
    if let Some(st) = &lock.replaced_stale {
        say!(
            "fieldkit batch: {}: STALE LOCK ({}) moved to {}",
            job.exhibit,
            st.reason,
            st.moved_to.display()
        );
        r.stale_lock = serde_json::to_value(st).ok();
        r.moved_aside.push(st.moved_to.clone());
    }
    let fp = fingerprint::of(&job.source)
        .with_context(|| format!("{}: cannot read the source", job.source.display()))?;

    if job.kind == Kind::Bundle {
        let rep = verify_bundle(&job.source, job.settings.identity_file.as_deref())?;
        let json = serde_json::to_vec_pretty(&rep)?;
        let path = dir.join("verify.json");
        std::fs::write(&path, json).with_context(|| format!("{}: cannot write", path.display()))?;
        r.bundle = Some(job.source.clone());
        r.sha256 = rep.sha256.clone();
        r.size = Some(rep.size);
        r.verdict = Some(verdict_name(rep.verdict));
        r.exit_code = Some(i32::from(rep.verdict.exit_code()));
        r.counts = rep
            .counts
            .as_ref()
            .and_then(|c| serde_json::to_value(c).ok());
        r.status = if rep.verdict == Verdict::Valid {
            "verified"
        } else {
            "invalid"
        }
        .into();
        if rep.verdict != Verdict::Valid {
            r.error = Some(format!("{} problem(s)", rep.problems.len()));
        }
        drop(lock);
        return Ok(());
    }

    // Resume: a finished job's state and bundle.
    let state_path = dir.join(STATE_NAME);
    if let Ok(text) = std::fs::read_to_string(&state_path)
        && let Ok(state) = serde_json::from_str::<State>(&text)
    {
        let bundle = dir.join(&state.bundle);
        let changes = fingerprint::differences(&state.fingerprint, &fp);
        if !changes.is_empty() && !opts.recollect_changed {
            r.status = "source_changed".into();
            r.bundle = Some(bundle);
            r.sha256 = state.sha256;
            r.error = Some(format!(
                "the source changed since its bundle was made ({}); the bundle is kept, nothing \
                 was collected (rerun with --recollect-changed for a new bundle)",
                changes.join(", ")
            ));
            r.changes = changes;
            return Ok(());
        }
        let encrypted = bundle.to_string_lossy().ends_with(".age");
        if changes.is_empty() && encrypted && job.settings.identity_file.is_none() {
            // No key to open it here: the file must still be byte for byte the one that
            // collect verified after writing (its SHA-256 recorded in job.json).
            let now = file_sha256(&bundle).ok();
            if now.is_some() && now == state.sha256 {
                r.status = "skipped".into();
                r.verdict = Some("unchanged_encrypted".into());
                r.findings = state.findings.clone();
                r.bundle = Some(bundle);
                r.sha256 = now;
                return Ok(());
            }
            say!(
                "fieldkit batch: {}: the earlier encrypted bundle {} is missing or its SHA-256 \
                 changed: collecting again",
                job.exhibit,
                bundle.display()
            );
        } else if changes.is_empty() {
            let rep = verify_bundle(&bundle, job.settings.identity_file.as_deref())?;
            if rep.verdict == Verdict::Valid {
                r.status = "skipped".into();
                r.findings = state.findings.clone();
                r.verdict = Some(verdict_name(rep.verdict));
                r.bundle = Some(bundle);
                r.sha256 = rep.sha256;
                r.size = Some(rep.size);
                r.counts = rep
                    .counts
                    .as_ref()
                    .and_then(|c| serde_json::to_value(c).ok());
                return Ok(());
            }
            say!(
                "fieldkit batch: {}: the earlier bundle {} does not verify ({}): collecting again",
                job.exhibit,
                bundle.display(),
                verdict_name(rep.verdict)
            );
        }
        r.changes = changes;
    }
    let moved = move_leftovers(&dir, &aside)
        .with_context(|| format!("{}: cannot move leftovers aside", dir.display()))?;
    for m in &moved {
        say!(
            "fieldkit batch: {}: moved aside {}",
            job.exhibit,
            m.display()
        );
    }
    r.moved_aside.extend(moved);

    if let Ok(mut v) = shared.running.lock() {
        v.push((job.exhibit.clone(), dir.clone()));
    }
    let result = collect(job, &dir, threads, opts);
    if let Ok(mut v) = shared.running.lock() {
        v.retain(|(n, _)| n != &job.exhibit);
    }
    let (code, summary) = result?;
    r.exit_code = code;
    let s = summary.unwrap_or(serde_json::Value::Null);
    r.bundle = s["bundle"].as_str().map(PathBuf::from);
    r.sha256 = s["sha256"].as_str().map(str::to_string);
    r.size = s["size"].as_u64();
    if !s["counts"].is_null() {
        r.counts = Some(s["counts"].clone());
        shared.bytes.fetch_add(
            s["counts"]["bytes_read"].as_u64().unwrap_or(0),
            Ordering::SeqCst,
        );
    }
    if !s["findings"].is_null() {
        r.findings = Some(serde_json::json!({
            "total": s["findings"]["total"],
            "by_severity": s["findings"]["by_severity"],
            "known_bad": s["findings"]["known_bad"],
        }));
    }
    match code {
        Some(0) => {
            r.status = "done".into();
            let bundle_name = r
                .bundle
                .as_ref()
                .and_then(|b| b.file_name())
                .map(|n| n.to_string_lossy().into_owned())
                .ok_or_else(|| anyhow::anyhow!("collect succeeded but named no bundle"))?;
            let state = State {
                exhibit: job.exhibit.clone(),
                source: job.source.clone(),
                kind: job.kind,
                fingerprint: fp,
                bundle: bundle_name,
                sha256: r.sha256.clone(),
                finished: crate::timefmt::now_utc(),
                findings: r.findings.clone(),
            };
            let tmp = dir.join("job.json.part");
            std::fs::write(&tmp, serde_json::to_vec_pretty(&state)?)
                .and_then(|()| std::fs::rename(&tmp, &state_path))
                .with_context(|| format!("{}: cannot write", state_path.display()))?;
        }
        Some(4) => {
            r.status = "incomplete".into();
            r.error = s["incomplete_reason"].as_str().map(str::to_string);
        }
        Some(6) => {
            // Not a success: an exhibit with nothing in it is almost always a source
            // that was not mounted or the wrong path, and a lab must look before it is
            // filed. No job.json is written, so a rerun collects it again.
            r.status = "empty_source".into();
            r.error = Some(format!(
                "nothing to collect: {} (an unmounted mount point or a wrong path?); the sealed bundle is kept as the record",
                s["source_empty"].as_str().unwrap_or("the source is empty")
            ));
        }
        other => {
            r.status = "failed".into();
            r.error = Some(s["error"].as_str().map(str::to_string).unwrap_or_else(
                || match other {
                    Some(c) => format!("collect exited with {c}; see the log in {}", dir.display()),
                    None => format!(
                        "collect was killed by a signal; see the log in {}",
                        dir.display()
                    ),
                },
            ));
        }
    }
    drop(lock);
    Ok(())
}

/// `fieldkit collect` for one job, as a child process; returns its exit code (None when
/// killed by a signal) and its `--json` summary. Its stderr goes to a log in the job folder.
fn collect(
    job: &Job,
    dir: &Path,
    threads: usize,
    opts: &Options,
) -> anyhow::Result<(Option<i32>, Option<serde_json::Value>)> {
    use anyhow::Context;
    let s = &job.settings;
    let mut cmd = Command::new(&opts.exe);
    cmd.arg("collect")
        .arg("--source")
        .arg(&job.source)
        .arg("--out")
        .arg(dir)
        .arg("--exhibit")
        .arg(&job.exhibit)
        .arg("--json")
        .arg("--quiet")
        .arg("--no-live")
        .arg("--threads")
        .arg(threads.to_string());
    let opt = |cmd: &mut Command, flag: &str, v: &Option<String>| {
        if let Some(v) = v {
            cmd.arg(flag).arg(v);
        }
    };
    opt(&mut cmd, "--case", &s.case);
    opt(&mut cmd, "--examiner", &s.examiner);
    opt(&mut cmd, "--org", &s.org);
    opt(&mut cmd, "--notes", &s.notes);
    opt(&mut cmd, "--profile", &s.profile);
    opt(&mut cmd, "--hash", &s.hash);
    opt(&mut cmd, "--max-file-size", &s.max_file_size);
    opt(&mut cmd, "--partition", &s.partition);
    opt(&mut cmd, "--since", &s.since);
    opt(&mut cmd, "--until", &s.until);
    if let Some(d) = &s.definitions {
        cmd.arg("--definitions").arg(d);
    }
    if let Some(k) = &s.key {
        cmd.arg("--key").arg(k);
    }
    for p in s.known_good.iter().flatten() {
        cmd.arg("--known-good").arg(p);
    }
    for p in s.known_bad.iter().flatten() {
        cmd.arg("--known-bad").arg(p);
    }
    for p in s.encrypt_to.iter().flatten() {
        cmd.arg("--encrypt-to").arg(p);
    }
    for (flag, on) in [
        ("--keep-known", s.keep_known),
        ("--no-triage", s.no_triage),
        ("--no-verify", s.no_verify),
        ("--deleted", s.deleted),
        ("--hash-image", s.hash_image),
    ] {
        if on == Some(true) {
            cmd.arg(flag);
        }
    }
    let log_path = dir.join(format!(
        "collect-{}.log",
        crate::timefmt::now_utc().replace(':', "")
    ));
    let log = std::fs::File::create(&log_path)
        .with_context(|| format!("{}: cannot create", log_path.display()))?;
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log));
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::process::CommandExt;
        // SAFETY: prctl is async-signal-safe and touches no memory of the parent.
        unsafe {
            cmd.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
    let mut child = cmd
        .spawn()
        .with_context(|| format!("cannot run {}", opts.exe.display()))?;
    let mut last = None;
    if let Some(out) = child.stdout.take() {
        for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) {
                last = Some(v);
            }
        }
    }
    let status = child.wait().context("waiting for collect")?;
    Ok((status.code(), last))
}
