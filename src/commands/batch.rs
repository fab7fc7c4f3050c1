//! `fieldkit batch JOBS --out OUT` and `fieldkit batch status OUT`: flags to the batch
//! library, the human table or `--json` on stdout, and the exit code — 0 every job of this
//! shard succeeded (done, skipped as already complete, or a bundle re-verified), 1 at
//! least one failed, was incomplete, did not verify or has a changed source, 2 bad
//! arguments or job file, 3 none failed but some are held by another live run.
//! `batch status` exits 0 when every job of the file has succeeded and no lock is left.
//!
//! Must never decide anything about evidence itself: that is the batch library's.

use std::time::Duration;

use anyhow::anyhow;

use crate::batch::{jobs::JobFile, run, shard, status};
use crate::cli::{BatchArgs, BatchCommand, BatchStatusArgs};

pub fn run(args: BatchArgs) -> anyhow::Result<u8> {
    if let Some(BatchCommand::Status(a)) = args.command {
        return status_cmd(a);
    }
    let (Some(jobs), Some(out)) = (args.jobs, args.out) else {
        return Err(anyhow!(
            "batch: give JOBS.toml and --out DIR (or `batch status OUT`)"
        ));
    };
    let file = JobFile::load(&jobs).map_err(|e| anyhow!("{e}"))?;
    let shard = match args.shard.as_deref() {
        Some(s) => shard::Shard::parse(s).map_err(|e| anyhow!("{e}"))?,
        None => match shard::from_env(&|k| std::env::var(k).ok()).map_err(|e| anyhow!("{e}"))? {
            Some((s, origin)) => {
                if !args.quiet {
                    say!("fieldkit batch: shard {s} from the {origin:?} environment");
                }
                s
            }
            None => shard::Shard::ALL,
        },
    };
    let exe = std::env::current_exe()
        .map_err(|e| anyhow!("cannot find this fieldkit executable: {e}"))?;
    let records = run::run(
        &file,
        &run::Options {
            out,
            shard,
            jobs: args.jobs_at_once,
            threads: args.threads,
            lease: Duration::from_secs(args.lease),
            exe,
            quiet: args.quiet,
            recollect_changed: args.recollect_changed,
        },
    )?;
    let failed = records
        .iter()
        .filter(|r| !r.succeeded() && r.status != "locked")
        .count();
    let locked = records.iter().filter(|r| r.status == "locked").count();
    let code = if failed > 0 {
        1
    } else if locked > 0 {
        3
    } else {
        0
    };
    if args.json {
        let text = serde_json::to_string_pretty(&serde_json::json!({
            "shard": shard.to_string(),
            "jobs": records,
            "failed": failed,
            "locked": locked,
            "exit_code": code,
        }))?;
        return Ok(super::print_then(code, |o| writeln!(o, "{text}")));
    }
    Ok(super::print_then(code, |o| {
        status::print_table(o, &records)?;
        writeln!(
            o,
            "fieldkit batch: shard {shard}: {} job(s), {} succeeded, {failed} failed, {locked} held by another run",
            records.len(),
            records.len() - failed - locked
        )
    }))
}

fn status_cmd(a: BatchStatusArgs) -> anyhow::Result<u8> {
    let m = status::merge(&a.out, Duration::from_secs(a.lease))?;
    let code = if m.all_succeeded { 0 } else { 1 };
    if a.json {
        let text = serde_json::to_string_pretty(&m)?;
        return Ok(super::print_then(code, |o| writeln!(o, "{text}")));
    }
    Ok(super::print_then(code, |o| {
        status::print_table(o, &m.jobs)?;
        let counts: Vec<String> = m.counts.iter().map(|(k, v)| format!("{v} {k}")).collect();
        writeln!(
            o,
            "{} of {} job(s) recorded in {} log(s): {}",
            m.jobs.len(),
            m.total_jobs,
            m.logs.len(),
            counts.join(", ")
        )?;
        for l in &m.locks {
            let who = l
                .found
                .holder
                .as_ref()
                .map(|h| format!("{} pid {} since {}", h.host, h.pid, h.started))
                .unwrap_or_else(|| "unreadable".into());
            match &l.found.stale {
                Some(why) => writeln!(o, "STALE LOCK {}: {who} ({why})", l.exhibit)?,
                None => writeln!(o, "running   {}: {who}", l.exhibit)?,
            }
        }
        if m.unreadable_lines > 0 {
            writeln!(o, "{} unreadable log line(s)", m.unreadable_lines)?;
        }
        Ok(())
    }))
}
