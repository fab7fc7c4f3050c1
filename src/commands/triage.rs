//! `fieldkit triage-file`: the developer harness that streams files through the triage
//! analyzers (see `triage::harness`) and prints findings, as text or as findings.jsonl
//! lines. Text output shows titles only, never evidence (which may hold seed words).

use std::io::Write;

use crate::cli::TriageFileArgs;
use crate::commands::exit;
use crate::triage::{default_analyzers, harness};

pub fn run_triage_file(args: &TriageFileArgs) -> anyhow::Result<u8> {
    let analyzers = if args.no_analyzers {
        Vec::new()
    } else {
        default_analyzers()
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut failures = 0usize;
    let mut next_id = 1usize;
    let mut buffer = vec![0u8; args.chunk_size.max(1)];
    for path in &args.files {
        let relative = match &args.root {
            Some(root) => path.strip_prefix(root).unwrap_or(path),
            None => path.as_path(),
        };
        let source_path = relative.to_string_lossy().replace('\\', "/");
        match harness::triage_file(&analyzers, path, &source_path, &mut buffer) {
            Ok(findings) => {
                for mut finding in findings {
                    finding.id = format!("F{next_id:06}");
                    next_id += 1;
                    if args.json {
                        writeln!(out, "{}", serde_json::to_string(&finding)?)?;
                    } else {
                        writeln!(
                            out,
                            "{:<8} {:<34} {}: {}",
                            format!("{:?}", finding.severity).to_lowercase(),
                            finding.kind,
                            finding.path.as_deref().unwrap_or(""),
                            finding.title
                        )?;
                    }
                }
            }
            Err(e) => {
                eprintln!("fieldkit: error: {e:#}");
                failures += 1;
            }
        }
    }
    out.flush()?;
    Ok(if failures > 0 { exit::USAGE } else { exit::OK })
}
