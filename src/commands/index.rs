//! `fieldkit index BUNDLE_OR_DIR… --out case.sqlite` and `fieldkit index query`: flags to
//! the index library, a line per bundle on stderr, the outcome on stdout. Exit codes:
//! index 0 every bundle verified and indexed, 1 at least one did not verify (refused, or
//! indexed and marked with --allow-invalid), 2 bad arguments or unusable input (no index
//! left behind); query 0 (rows or none), 2 bad arguments or not an index.
//! Must never decide verdicts itself: those are bundle::verify's.

use anyhow::anyhow;

use crate::cli::{IndexArgs, IndexCommand, IndexQueryArgs};
use crate::index::{self, query};

pub fn run(args: IndexArgs) -> anyhow::Result<u8> {
    if let Some(IndexCommand::Query(q)) = args.command {
        return run_query(q);
    }
    let out = args
        .out
        .ok_or_else(|| anyhow!("index: give --out case.sqlite"))?;
    let bundles = index::find_bundles(&args.inputs)?;
    if bundles.is_empty() {
        return Err(anyhow!(
            "index: no bundle (.zip, .zip.age) found in the arguments"
        ));
    }
    let ids = super::verify::identities(args.identity_file.as_deref())?;
    let start = std::time::Instant::now();
    let rows = index::build(&bundles, &out, args.allow_invalid, &ids, &|r| {
        let what = if r.verdict == "valid" || r.verdict == "valid_incomplete" {
            format!(
                "indexed {} file records, {} findings",
                r.records, r.findings
            )
        } else if r.indexed {
            format!(
                "DOES NOT VERIFY ({}): indexed and marked (--allow-invalid)",
                r.verdict
            )
        } else {
            format!(
                "REFUSED: does not verify ({}); recorded without content",
                r.verdict
            )
        };
        say!(
            "fieldkit index: {} [{}]: {what}",
            r.path.display(),
            r.exhibit
        );
    })?;
    let bad = rows
        .iter()
        .filter(|r| r.verdict != "valid" && r.verdict != "valid_incomplete")
        .count();
    let records: u64 = rows.iter().map(|r| r.records).sum();
    let secs = start.elapsed().as_secs_f64();
    let code = if bad > 0 { 1 } else { 0 };
    let text = if args.json {
        serde_json::to_string_pretty(&serde_json::json!({
            "index": out, "bundles": rows, "refused_or_marked": bad,
            "records": records, "seconds": secs, "exit_code": code,
        }))?
    } else {
        format!(
            "fieldkit index: {} bundle(s), {records} file records into {} in {secs:.1}s; {bad} did not verify",
            rows.len(),
            out.display()
        )
    };
    Ok(super::print_then(code, |o| writeln!(o, "{text}")))
}

fn run_query(q: IndexQueryArgs) -> anyhow::Result<u8> {
    let question = if let Some(h) = &q.hash {
        if !matches!(h.len(), 32 | 40 | 64) || !h.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(anyhow!(
                "--hash {h:?}: not a hex digest (64 hex digits SHA-256, 40 SHA-1, 32 MD5)"
            ));
        }
        query::Question::Hash(h.clone())
    } else if q.shared {
        query::Question::Shared
    } else {
        let s = q.findings.as_deref().unwrap_or("high").to_ascii_lowercase();
        let rank = index::severity_rank(&s)
            .ok_or_else(|| anyhow!("--findings {s:?}: one of info, low, medium, high, critical"))?;
        query::Question::Findings(rank)
    };
    if !q.db.is_file() {
        return Err(anyhow!("{}: no such index", q.db.display()));
    }
    let rows = query::ask(&q.db, &question)?;
    Ok(super::print_then(0, |o| {
        if q.json {
            writeln!(o, "{}", rows.to_json())
        } else if q.csv {
            rows.write_csv(o)
        } else {
            rows.write_text(o)
        }
    }))
}
