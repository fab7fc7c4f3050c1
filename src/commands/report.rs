//! `fieldkit report`: verify the bundle, build the report model from its members, render
//! it as text, JSON, CSV (findings) or self-contained HTML. The JSON-lines members are
//! streamed from the ZIP, never read whole (files.jsonl has a line per path considered).
//!
//! Must never modify the bundle, never overwrite an existing `--out` file, and never
//! present a report without the verification verdict (a tampered bundle's report says so
//! and exits non-zero).

use std::fs::File;
use std::io::{BufReader, Read, Write};

use anyhow::{Context, anyhow};

use crate::bundle::manifest::Manifest;
use crate::bundle::verify::{self, Options};
use crate::bundle::{FILES_JSONL, FINDINGS_JSONL, MANIFEST};
use crate::cli::{ReportArgs, ReportFormat};
use crate::report;

/// Load the report model from a sealed bundle (after verifying it).
pub fn load(bundle: &std::path::Path, trust: verify::Trust) -> anyhow::Result<report::Report> {
    let v = verify::verify(
        bundle,
        &Options {
            trust,
            check_sidecars: true,
        },
    );
    let file = File::open(bundle).with_context(|| format!("{}: cannot open", bundle.display()))?;
    let mut zip = zip::ZipArchive::new(BufReader::new(file)).map_err(|e| {
        anyhow!(
            "{}: not a readable bundle ({e}); run `fieldkit verify`",
            bundle.display()
        )
    })?;
    let mut manifest_bytes = Vec::new();
    zip.by_name(MANIFEST)
        .map_err(|e| anyhow!("{}: no {MANIFEST}: {e}", bundle.display()))?
        .take(1 << 30)
        .read_to_end(&mut manifest_bytes)?;
    let manifest: Manifest = serde_json::from_slice(&manifest_bytes)
        .with_context(|| format!("{}: {MANIFEST} is not valid", bundle.display()))?;
    let live_members: Vec<String> = zip
        .file_names()
        .filter_map(Result::ok)
        .filter(|n| n.starts_with("live/"))
        .map(|n| n.into_owned())
        .collect();
    let live_summary = crate::report::live_summary_from_bundle(&mut zip);
    // Findings first (the report holds them all), then files.jsonl line by line.
    let findings = match zip.by_name(FINDINGS_JSONL) {
        Ok(member) => report::read_findings(BufReader::new(member)),
        Err(e) => report::FindingsRead {
            read_error: Some(format!("no {FINDINGS_JSONL}: {e}")),
            ..report::FindingsRead::default()
        },
    };
    let files = zip
        .by_name(FILES_JSONL)
        .map_err(|e| anyhow!("no {FILES_JSONL}: {e}"))?;
    let mut r = report::build_with_findings(
        manifest,
        BufReader::new(files),
        findings,
        live_members,
        live_summary,
    );
    r.bundle_name = bundle.file_name().map(|n| n.to_string_lossy().into_owned());
    r.integrity.verdict = Some(
        format!("{:?}", v.verdict)
            .to_lowercase()
            .replace("validincomplete", "valid but incomplete")
            .replace("notfinalized", "not finalized"),
    );
    r.integrity.problems = v
        .problems
        .iter()
        .map(|p| format!("[{}] {}", p.code, p.message))
        .collect();
    r.integrity.bundle_sha256 = v.sha256.clone();
    r.integrity.signer_fingerprint = v.signer_fingerprint.clone();
    r.integrity.trust = Some(v.trust.clone());
    Ok(r)
}

pub fn run(args: ReportArgs) -> anyhow::Result<u8> {
    let trust = super::verify::trust_from(
        args.pubkey.as_deref(),
        args.allowed_signers.as_deref(),
        args.identity.as_deref(),
    )?;
    let r = load(&args.bundle, trust)?;
    let text = match args.format {
        ReportFormat::Text => report::text::render(&r),
        ReportFormat::Json => serde_json::to_string_pretty(&r)? + "\n",
        ReportFormat::Csv => report::findings_csv(&r),
        ReportFormat::Html => report::html::render(&r),
    };
    match &args.out {
        Some(path) => {
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(path)
                .with_context(|| {
                    format!("{}: cannot create (never overwritten)", path.display())
                })?;
            f.write_all(text.as_bytes())?;
            eprintln!("wrote {}", path.display());
        }
        None => print!("{text}"),
    }
    Ok(match r.integrity.verdict.as_deref() {
        Some("valid") | Some("valid but incomplete") => 0,
        _ => 1,
    })
}
