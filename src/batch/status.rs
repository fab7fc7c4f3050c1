//! `fieldkit batch status OUT`: one view of a batch from every shard's log under OUT
//! (`batch.jsonl`, `batch.KofN.jsonl`), the latest record of each exhibit winning (by end
//! time), plus the locks still present in job folders (running, or stale and why).
//!
//! Must never write anything: it reads logs and lock files only.

use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use super::lock;
use super::run::Record;

#[derive(Debug, Serialize)]
pub struct Merged {
    pub out: PathBuf,
    pub logs: Vec<PathBuf>,
    /// Jobs in the job file, as the logs recorded it (the largest value seen).
    pub total_jobs: usize,
    pub jobs: Vec<Record>,
    pub locks: Vec<LockRow>,
    pub counts: BTreeMap<String, usize>,
    pub unreadable_lines: usize,
    /// Every job in the file has a record, and each one succeeded.
    pub all_succeeded: bool,
}

#[derive(Debug, Serialize)]
pub struct LockRow {
    pub exhibit: String,
    #[serde(flatten)]
    pub found: lock::Found,
}

pub fn is_log_name(name: &str) -> bool {
    name == "batch.jsonl"
        || (name.starts_with("batch.") && name.ends_with(".jsonl") && name.contains("of"))
}

/// A record's end time as a timestamp (RFC 3339 strings do not sort as text when the
/// fraction's length differs); an unreadable one sorts first.
fn ended(r: &Record) -> Option<jiff::Timestamp> {
    r.ended.parse().ok()
}

pub fn merge(out: &Path, lease: Duration) -> anyhow::Result<Merged> {
    let rd = std::fs::read_dir(out)
        .map_err(|e| anyhow::anyhow!("{}: cannot read: {e}", out.display()))?;
    let mut logs: Vec<PathBuf> = rd
        .flatten()
        .filter(|e| is_log_name(&e.file_name().to_string_lossy()))
        .map(|e| e.path())
        .collect();
    logs.sort();
    if logs.is_empty() {
        anyhow::bail!(
            "{}: no batch log (batch.jsonl or batch.KofN.jsonl)",
            out.display()
        );
    }
    let mut latest: BTreeMap<String, Record> = BTreeMap::new();
    let (mut total, mut bad) = (0usize, 0usize);
    for log in &logs {
        let f = std::fs::File::open(log)
            .map_err(|e| anyhow::anyhow!("{}: cannot read: {e}", log.display()))?;
        for line in std::io::BufReader::new(f).lines() {
            let Ok(line) = line else {
                bad += 1;
                continue;
            };
            if line.trim().is_empty() {
                continue;
            }
            match serde_json::from_str::<Record>(&line) {
                Ok(r) => {
                    total = total.max(r.total_jobs);
                    // A "locked" line says only that another run had it: it never hides
                    // that run's own outcome.
                    let keep = match latest.get(&r.exhibit) {
                        None => true,
                        Some(old) if r.status == "locked" => {
                            old.status == "locked" && ended(&r) > ended(old)
                        }
                        Some(old) => old.status == "locked" || ended(&r) >= ended(old),
                    };
                    if keep {
                        latest.insert(r.exhibit.clone(), r);
                    }
                }
                Err(_) => bad += 1,
            }
        }
    }
    let mut locks = Vec::new();
    let mut dirs: Vec<_> = std::fs::read_dir(out)
        .map(|rd| rd.flatten().filter(|e| e.path().is_dir()).collect())
        .unwrap_or_else(|_| Vec::new());
    dirs.sort_by_key(|e| e.file_name());
    for d in dirs {
        if let Some(found) = lock::inspect(&d.path(), lease) {
            locks.push(LockRow {
                exhibit: d.file_name().to_string_lossy().into_owned(),
                found,
            });
        }
    }
    let mut counts = BTreeMap::new();
    for r in latest.values() {
        *counts.entry(r.status.clone()).or_insert(0) += 1;
    }
    let jobs: Vec<Record> = latest.into_values().collect();
    let all_succeeded =
        jobs.len() >= total && jobs.iter().all(Record::succeeded) && locks.is_empty();
    Ok(Merged {
        out: out.to_path_buf(),
        logs,
        total_jobs: total,
        jobs,
        locks,
        counts,
        unreadable_lines: bad,
        all_succeeded,
    })
}

/// The human table: one row per job, then totals and locks.
pub fn print_table(out: &mut dyn std::io::Write, jobs: &[Record]) -> std::io::Result<()> {
    writeln!(
        out,
        "{:<16} {:<15} {:>8} {:>12} {:>8} {:>8}  BUNDLE / NOTE",
        "EXHIBIT", "STATUS", "FILES", "BYTES", "FINDINGS", "SECONDS"
    )?;
    for r in jobs {
        let files = r
            .counts
            .as_ref()
            .and_then(|c| c["considered"].as_u64())
            .map(|n| n.to_string())
            .unwrap_or_else(|| "-".into());
        let bytes = r
            .counts
            .as_ref()
            .and_then(|c| c["bytes_read"].as_u64())
            .map(|n| n.to_string())
            .unwrap_or_else(|| "-".into());
        let findings = r
            .findings
            .as_ref()
            .and_then(|f| f["total"].as_u64())
            .map(|n| n.to_string())
            .unwrap_or_else(|| "-".into());
        let note = match (&r.bundle, &r.error) {
            (_, Some(e)) if !r.succeeded() => e.clone(),
            (Some(b), _) => b.display().to_string(),
            (None, _) => String::new(),
        };
        writeln!(
            out,
            "{:<16} {:<15} {:>8} {:>12} {:>8} {:>8.1}  {}",
            r.exhibit, r.status, files, bytes, findings, r.elapsed_seconds, note
        )?;
    }
    Ok(())
}
