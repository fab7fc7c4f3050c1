//! `fieldkit report`: verify the bundle, build the report model from its members, render
//! it as text, JSON, CSV (findings) or self-contained HTML. The JSON-lines members are
//! streamed from the ZIP, never read whole (files.jsonl has a line per path considered).
//!
//! Must never modify the bundle, never overwrite an existing `--out` file, and never
//! present a report without the verification verdict (a tampered bundle's report says so
//! and exits non-zero).

use std::io::{BufReader, Read, Write};

use anyhow::{Context, anyhow};

use crate::bundle::input::BundleInput;
use crate::bundle::manifest::Manifest;
use crate::bundle::verify::{self, Options};
use crate::bundle::{FILES_JSONL, FINDINGS_JSONL, MANIFEST};
use crate::cli::{ReportArgs, ReportFormat};
use crate::report::{self, verdict};

/// Load the report model from a sealed bundle (after verifying it).
pub fn load(bundle: &std::path::Path, trust: verify::Trust) -> anyhow::Result<report::Report> {
    load_with(bundle, trust, &[])
}

/// Open a bundle's archive for reading members: the file, or (encrypted) the plain
/// archive decrypted on the fly.
pub fn open_archive(
    bundle: &std::path::Path,
    identities: &[crate::bundle::age::Identity],
) -> anyhow::Result<zip::ZipArchive<BufReader<BundleInput>>> {
    let input = if crate::bundle::input::is_encrypted(bundle) {
        BundleInput::open_encrypted(bundle, identities)
            .map_err(|e| anyhow!("{}: cannot decrypt: {e}", bundle.display()))?
    } else {
        BundleInput::open_plain(bundle)
            .with_context(|| format!("{}: cannot open", bundle.display()))?
    };
    zip::ZipArchive::new(BufReader::new(input)).map_err(|e| {
        anyhow!(
            "{}: not a readable bundle ({e}); run `fieldkit verify`",
            bundle.display()
        )
    })
}

/// `load` for a bundle that may be encrypted (decrypted on the fly with `identities`).
pub fn load_with(
    bundle: &std::path::Path,
    trust: verify::Trust,
    identities: &[crate::bundle::age::Identity],
) -> anyhow::Result<report::Report> {
    let v = verify::verify_with(
        bundle,
        &Options {
            trust,
            check_sidecars: true,
        },
        identities,
    );
    if crate::bundle::input::is_encrypted(bundle) && v.verdict == verify::Verdict::Unusable {
        anyhow::bail!(
            "{}: {}",
            bundle.display(),
            v.problems
                .iter()
                .map(|p| p.message.clone())
                .collect::<Vec<_>>()
                .join("; ")
        );
    }
    let mut zip = open_archive(bundle, identities).map_err(|e| {
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
    r.integrity.verdict = Some(verdict::verdict_name(v.verdict).to_string());
    r.integrity.problems = v
        .problems
        .iter()
        .map(|p| format!("[{}] {}", p.code, p.message))
        .collect();
    r.integrity.bundle_sha256 = v.sha256.clone();
    r.integrity.signer_fingerprint = v.signer_fingerprint.clone();
    r.integrity.wording = Some(verdict::wording(
        v.verdict,
        &v.trust,
        v.incomplete_reason.as_deref(),
        v.problems.len(),
    ));
    r.scope = report::scope::scope(&r.manifest, &r.not_collected, Some(v.verdict));
    r.integrity.exit_code = Some(verdict::report_exit_code(v.verdict));
    r.integrity.trust = Some(v.trust);
    Ok(r)
}

/// The verdict on stderr, for the formats whose stdout is data (CSV and the exports):
/// the headline always, and the problems when there are any.
fn say_verdict(r: &report::Report) {
    let w = r.integrity.words();
    if r.integrity.problems.is_empty() {
        eprintln!("fieldkit report: {}", w.headline);
    } else {
        eprintln!(
            "fieldkit report: {}: {}",
            w.headline,
            r.integrity.problems.join("; ")
        );
    }
    // What was collected, as every other view says it (report::scope).
    eprintln!(
        "fieldkit report: profile {}; files {}{}; {}",
        r.scope.profile,
        r.scope.files,
        r.scope
            .window
            .as_ref()
            .map(|w| format!("; window {w}"))
            .unwrap_or_default(),
        r.scope.completeness
    );
    for warning in &r.scope.warnings {
        eprintln!("fieldkit report: WARNING: {warning}");
    }
}

pub fn run(args: ReportArgs) -> anyhow::Result<u8> {
    let trust = super::verify::trust_from(
        args.pubkey.as_deref(),
        args.allowed_signers.as_deref(),
        args.identity.as_deref(),
        args.fingerprint.as_deref(),
    )?;
    let ids = super::verify::identities(args.identity_file.as_deref())?;
    let r = load_with(&args.bundle, trust, &ids)?;
    if matches!(
        args.format,
        ReportFormat::Case
            | ReportFormat::Bodyfile
            | ReportFormat::Timeline
            | ReportFormat::TimelineCsv
    ) {
        export(&args, &r, &ids)?;
        return Ok(verdict_code(&r));
    }
    let text = match args.format {
        ReportFormat::Text => report::text::render(&r),
        ReportFormat::Json => serde_json::to_string_pretty(&r)? + "\n",
        ReportFormat::Csv => {
            say_verdict(&r);
            report::findings_csv(&r)
        }
        ReportFormat::Html => report::html::render(&r),
        _ => unreachable!("exports are streamed above"),
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
    Ok(verdict_code(&r))
}

fn verdict_code(r: &report::Report) -> u8 {
    r.integrity.exit_code.unwrap_or(1)
}

/// CASE, bodyfile and Timesketch exports: streamed from files.jsonl in the bundle to
/// `--out` (created, never overwritten) or stdout. The verdict is on stderr (the data on
/// stdout stays machine-readable) and in the exit code.
fn export(
    args: &ReportArgs,
    r: &report::Report,
    ids: &[crate::bundle::age::Identity],
) -> anyhow::Result<()> {
    use std::io::BufWriter;
    say_verdict(r);
    let open_zip = || open_archive(&args.bundle, ids);
    let mut out: Box<dyn Write> = match &args.out {
        Some(path) => Box::new(BufWriter::new(
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(path)
                .with_context(|| {
                    format!("{}: cannot create (never overwritten)", path.display())
                })?,
        )),
        None => Box::new(BufWriter::new(std::io::stdout().lock())),
    };
    let mut zip = open_zip()?;
    match args.format {
        ReportFormat::Case => {
            let size = std::fs::metadata(&args.bundle).ok().map(|m| m.len());
            let name = args
                .bundle
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let sha = r.integrity.bundle_sha256.clone();
            // Two passes over files.jsonl, each from its own reading of the archive.
            let mut second = open_zip()?;
            let first = zip
                .by_name(FILES_JSONL)
                .map_err(|e| anyhow!("no {FILES_JSONL}: {e}"))?;
            let again = second
                .by_name(FILES_JSONL)
                .map_err(|e| anyhow!("no {FILES_JSONL}: {e}"))?;
            report::case::write(
                &mut out,
                &r.manifest,
                BufReader::new(first),
                BufReader::new(again),
                &r.findings,
                sha.as_deref().map(|sha256| report::case::BundleFile {
                    name: &name,
                    sha256,
                    size,
                }),
            )?;
        }
        ReportFormat::Bodyfile => {
            let member = zip
                .by_name(FILES_JSONL)
                .map_err(|e| anyhow!("no {FILES_JSONL}: {e}"))?;
            report::timeline::bodyfile(&mut out, BufReader::new(member))?;
        }
        _ => {
            let layout = if args.format == ReportFormat::TimelineCsv {
                report::timeline::Layout::Csv
            } else {
                report::timeline::Layout::Jsonl
            };
            let member = zip
                .by_name(FILES_JSONL)
                .map_err(|e| anyhow!("no {FILES_JSONL}: {e}"))?;
            report::timeline::timesketch(
                &mut out,
                layout,
                BufReader::new(member),
                &r.findings,
                &r.manifest.times.start_utc,
            )?;
        }
    }
    out.flush()?;
    if let Some(p) = &args.out {
        eprintln!("wrote {}", p.display());
    }
    Ok(())
}
