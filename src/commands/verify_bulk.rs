//! `fieldkit verify` over many bundles (several arguments, a folder, `--from LIST`): each
//! verified exactly as a single `fieldkit verify` would (same library call, same trust
//! anchor, sidecars checked), several at once, then one table row per bundle (or
//! `--json`) and a count per verdict — the evidence store's periodic integrity check.
//!
//! Exit code: 0 when every bundle's own verify exit code is 0; otherwise the code of the
//! most serious verdict found, in the order 1 (altered) > 3 (not finalized) > 2
//! (unusable) > 5 (wrong key) > 4 (incomplete); 2 also for bad arguments / no bundle.
//! Must never change a bundle, nor soften any single bundle's verdict.

use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::PathBuf;

use anyhow::{Context, anyhow};
use rayon::prelude::*;

use crate::bundle::verify::{self, Options};
use crate::cli::VerifyArgs;
use crate::report::verdict as words;

const SERIOUSNESS: [u8; 5] = [1, 3, 2, 5, 4];

#[derive(serde::Serialize)]
struct Row {
    bundle: PathBuf,
    verdict: verify::Verdict,
    exit_code: u8,
    headline: String,
    sha256: Option<String>,
    exhibit: Option<String>,
    problems: Vec<verify::Problem>,
}

fn list(args: &VerifyArgs) -> anyhow::Result<Vec<PathBuf>> {
    let mut inputs = args.bundles.clone();
    if let Some(from) = &args.from {
        let reader: Box<dyn BufRead> = if from.as_os_str() == "-" {
            Box::new(std::io::BufReader::new(std::io::stdin()))
        } else {
            Box::new(std::io::BufReader::new(
                std::fs::File::open(from)
                    .with_context(|| format!("{}: cannot read", from.display()))?,
            ))
        };
        for (n, line) in reader.lines().enumerate() {
            let line =
                line.with_context(|| format!("{}:{}: cannot read", from.display(), n + 1))?;
            let t = line.trim();
            if !t.is_empty() && !t.starts_with('#') {
                inputs.push(PathBuf::from(t));
            }
        }
    }
    crate::index::find_bundles(&inputs)
}

pub fn run(args: VerifyArgs) -> anyhow::Result<u8> {
    let bundles = list(&args)?;
    if bundles.is_empty() {
        return Err(anyhow!("verify: no bundle (.zip, .zip.age) found"));
    }
    let trust = super::verify::trust_from_args(&args)?;
    let ids = super::verify::identities(args.identity_file.as_deref())?;
    let opts = Options {
        trust,
        check_sidecars: true,
    };
    let threads = args
        .parallel
        .unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        })
        .max(1);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| anyhow!("cannot start {threads} verify threads: {e}"))?;
    let start = std::time::Instant::now();
    let rows: Vec<Row> = pool.install(|| {
        bundles
            .par_iter()
            .map(|b| {
                let r = verify::verify_with(b, &opts, &ids);
                let w = words::wording(
                    r.verdict,
                    &r.trust,
                    r.incomplete_reason.as_deref(),
                    r.problems.len(),
                );
                Row {
                    bundle: b.clone(),
                    verdict: r.verdict,
                    exit_code: r.verdict.exit_code(),
                    headline: w.headline,
                    sha256: r.sha256.clone(),
                    exhibit: r.case.as_ref().and_then(|c| c.exhibit.clone()),
                    problems: r.problems.clone(),
                }
            })
            .collect()
    });
    let code = SERIOUSNESS
        .iter()
        .copied()
        .find(|c| rows.iter().any(|r| r.exit_code == *c))
        .unwrap_or(0);
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for r in &rows {
        let name = serde_json::to_value(r.verdict)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        *counts.entry(name).or_insert(0) += 1;
    }
    let secs = start.elapsed().as_secs_f64();
    if args.json {
        let text = serde_json::to_string_pretty(&serde_json::json!({
            "bundles": rows, "counts": counts, "total": rows.len(),
            "seconds": secs, "exit_code": code,
        }))?;
        return Ok(super::print_then(code, |o| writeln!(o, "{text}")));
    }
    Ok(super::print_then(code, |o| {
        writeln!(
            o,
            "{:<4} {:<18} {:<16} {:<16} BUNDLE",
            "EXIT", "VERDICT", "EXHIBIT", "SHA-256"
        )?;
        for r in &rows {
            let v = serde_json::to_value(r.verdict)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            let sha = r
                .sha256
                .as_deref()
                .map(|s| &s[..s.len().min(16)])
                .unwrap_or("-");
            writeln!(
                o,
                "{:<4} {:<18} {:<16} {:<16} {}",
                r.exit_code,
                v,
                r.exhibit.as_deref().unwrap_or("-"),
                sha,
                r.bundle.display()
            )?;
            for p in r.problems.iter().take(3) {
                writeln!(o, "       - [{}] {}", p.code, p.message)?;
            }
        }
        let c: Vec<String> = counts.iter().map(|(k, v)| format!("{v} {k}")).collect();
        writeln!(
            o,
            "{} bundle(s) in {secs:.1}s: {}",
            rows.len(),
            c.join(", ")
        )
    }))
}
