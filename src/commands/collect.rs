//! `fieldkit collect`: flags → `collect::collect`, a progress display on stderr, the
//! end-of-run summary for the paper log (or `--json`), and the exit code.
//!
//! Must never touch the evidence or the bundle itself (all of that is `collect::collect`'s),
//! never report success when verify-after-write failed, and never let the terminal kill a
//! run: a closed stdout or stderr ends the printing, not the collection.

use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, anyhow};

use super::exit;
use crate::acquire::Progress;
use crate::bundle::manifest::Case;
use crate::bundle::verify::Verdict;
use crate::cli::CollectArgs;
use crate::collect::{self, Failure, Request};
use crate::hashing::AlgSet;
use crate::profile::{self, Profile};
use crate::sign::Signer;

/// Exit codes of `collect` (README.md).
pub const EXIT_VERIFY_FAILED: u8 = 1;
pub const EXIT_OUTPUT_FAILED: u8 = 3;
pub const EXIT_INCOMPLETE: u8 = 4;
/// The run finished and the bundle is sealed and verified, but no path was considered:
/// an empty (often unmounted) source. Not 0, so a script or a tired responder cannot take
/// it for a collection; the bundle is kept, as the record of what was looked at (README).
pub const EXIT_EMPTY_SOURCE: u8 = 6;

/// Open the known-good and known-bad sets, refusing a set given under the wrong flag.
///
/// Known-bad sets are verified completely before collection starts (they are small; a
/// damaged block would otherwise only show when a lookup touches it, and a known-bad
/// file could be missed): a damaged one is refused and nothing is collected. Large
/// known-good sets are checked block by block on first use; their file SHA-256 is
/// computed on a background thread for the manifest (`KnownSet::start_file_sha256`).
fn open_known_sets(
    good: &[std::path::PathBuf],
    bad: &[std::path::PathBuf],
) -> anyhow::Result<Option<crate::hashset::KnownSets>> {
    use crate::hashset::{DamagedSet, KnownSet, KnownSets, SetKind, Verification};
    if good.is_empty() && bad.is_empty() {
        return Ok(None);
    }
    let mut sets = Vec::new();
    for (paths, want, flag, mode) in [
        (good, SetKind::KnownGood, "--known-good", Verification::Auto),
        (bad, SetKind::KnownBad, "--known-bad", Verification::Full),
    ] {
        for p in paths {
            let started = std::time::Instant::now();
            let set = KnownSet::open(p, mode).map_err(|e| {
                if e.downcast_ref::<DamagedSet>().is_some() {
                    anyhow!(
                        "{flag} {}: refusing to collect with a damaged set: {e:#}",
                        p.display()
                    )
                } else {
                    anyhow!("{}: cannot use as {flag}: {e:#}", p.display())
                }
            })?;
            if set.kind() != want {
                anyhow::bail!(
                    "{}: set {:?} is {:?}, but was given as {flag}",
                    p.display(),
                    set.name(),
                    set.kind()
                );
            }
            if mode == Verification::Full && set.file_len() > crate::hashset::AUTO_FULL_LIMIT {
                eprintln!(
                    "fieldkit: known-bad set {:?}: all {} MB verified in {:.1} s before collecting",
                    set.name(),
                    set.file_len() >> 20,
                    started.elapsed().as_secs_f64()
                );
            }
            set.start_file_sha256()?;
            sets.push(set);
        }
    }
    Ok(Some(KnownSets::from_sets(sets)))
}

/// One line on what the live step found, encryption first.
pub fn live_line(s: &crate::live::LiveSummary) -> String {
    let enc = if s.encryption.open || !s.encryption.checked || s.encryption.not_determined.is_some()
    {
        s.encryption.verdict()
    } else {
        format!(
            "no open encrypted volume found ({} locked)",
            s.encryption.locked.len()
        )
    };
    format!(
        "live state captured: {} processes, {} listening / {} established sockets, {} sessions; {enc}",
        s.counts.processes, s.counts.listening, s.counts.established, s.counts.sessions
    )
}

/// Passphrase for an encrypted key: --passphrase-file, FIELDKIT_KEY_PASSPHRASE, or a prompt.
pub fn passphrase_source(file: Option<&std::path::Path>) -> anyhow::Result<String> {
    if let Some(f) = file {
        let text = std::fs::read_to_string(f)
            .with_context(|| format!("{}: cannot read passphrase file", f.display()))?;
        return Ok(text.trim_end_matches(['\r', '\n']).to_string());
    }
    if let Ok(p) = std::env::var("FIELDKIT_KEY_PASSPHRASE") {
        return Ok(p);
    }
    if std::io::stdin().is_terminal() {
        return rpassword::prompt_password("Passphrase for the signing key: ")
            .context("cannot read passphrase");
    }
    Err(anyhow!(
        "the signing key is encrypted: give --passphrase-file or FIELDKIT_KEY_PASSPHRASE"
    ))
}

fn spawn_progress(
    progress: Arc<Progress>,
    done: Arc<AtomicBool>,
) -> Option<std::thread::JoinHandle<()>> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    Some(std::thread::spawn(move || {
        let bar =
            indicatif::ProgressBar::with_draw_target(None, indicatif::ProgressDrawTarget::stderr());
        let style = indicatif::ProgressStyle::with_template(
            "{spinner} {msg} [{elapsed_precise}] {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
        bar.set_style(style);
        progress.display_active.store(true, Ordering::SeqCst);
        while !done.load(Ordering::SeqCst) {
            for line in progress.take_alerts() {
                bar.println(line);
            }
            let files = progress.files_done.load(Ordering::Relaxed);
            let planned = progress.files_planned.load(Ordering::Relaxed);
            let walking = if progress.walk_done.load(Ordering::Relaxed) {
                ""
            } else {
                " (still walking)"
            };
            bar.set_length(progress.bytes_planned.load(Ordering::Relaxed));
            bar.set_position(progress.bytes_done.load(Ordering::Relaxed));
            bar.set_message(match progress.phase.load(Ordering::Relaxed) {
                crate::acquire::PHASE_FINALIZE => {
                    format!("{files} files read; sealing and signing the bundle")
                }
                crate::acquire::PHASE_VERIFY => {
                    format!("{files} files read; verifying the bundle from the output device")
                }
                _ => format!("{files}/{planned} files{walking}"),
            });
            bar.tick();
            std::thread::sleep(Duration::from_millis(200));
        }
        bar.finish_and_clear();
        progress.display_active.store(false, Ordering::SeqCst);
        for line in progress.take_alerts() {
            say!("{line}");
        }
    }))
}

pub fn run(args: Box<CollectArgs>) -> anyhow::Result<u8> {
    let mut algs = AlgSet::parse(&args.hash).map_err(|e| anyhow!("--hash: {e}"))?;
    let known = open_known_sets(&args.known_good, &args.known_bad)?;
    if let Some(k) = &known {
        // Match with whichever algorithms the sets hold.
        algs = algs.union(AlgSet {
            md5: k.needs_md5(),
            sha1: k.needs_sha1(),
        });
    }
    let source = args.source.clone().unwrap_or_else(collect::default_source);
    let live = source
        .canonicalize()
        .map(|s| collect::is_live_root(&s))
        .unwrap_or(false);
    let profile_name = args.profile.clone().unwrap_or_else(|| {
        if live {
            Profile::default_live_name()
        } else {
            "all-files"
        }
        .to_string()
    });
    let profile = profile::load_any(&profile_name, args.definitions.as_deref())?;
    let max_file_size = args
        .max_file_size
        .as_deref()
        .map(profile::parse_size)
        .transpose()
        .map_err(|e| anyhow!("--max-file-size: {e}"))?;
    if let Some(t) = &args.reference_time {
        crate::live::ReferenceTime::parse(t)?;
    }
    let window = if args.since.is_some() || args.until.is_some() {
        Some(crate::triage::window::ActivityWindow::parse(
            args.since.as_deref(),
            args.until.as_deref(),
        )?)
    } else if args.window_only {
        anyhow::bail!("--window-only needs --since and/or --until");
    } else {
        None
    };
    let mut encrypt_to = Vec::new();
    for r in &args.encrypt_to {
        encrypt_to.extend(
            crate::bundle::age::Recipient::parse_arg(r).map_err(|e| anyhow!("--encrypt-to {e}"))?,
        );
    }
    let signer = match &args.key {
        Some(path) => Signer::load(path, || passphrase_source(args.passphrase_file.as_deref()))?,
        None => Signer::one_time(&format!(
            "fieldkit one-time key {}",
            jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ")
        ))?,
    };
    let threads = crate::cli::worker_threads(args.threads).clamp(1, 256);
    let interrupt = Arc::new(AtomicBool::new(false));
    {
        let flag = interrupt.clone();
        let _ = ctrlc::set_handler(move || {
            if flag.swap(true, Ordering::SeqCst) {
                say!(
                    "fieldkit: second interrupt: stopping now; the bundle stays unfinished (.part)"
                );
                std::process::exit(130);
            }
            say!(
                "fieldkit: interrupt received: finishing a signed bundle marked incomplete (interrupt again to abandon it)"
            );
        });
    }
    // Once, loudly, before anything is read (also with --quiet: it is about the evidence).
    if let Some(why) = crate::source::read::noatime_limited() {
        say!(
            "fieldkit: WARNING: {why}. Reading the files of other users CHANGES THEIR ACCESS \
             TIMES (atime) on the source: each such file's record says `O_NOATIME refused`, \
             and the summary and the manifest count them. Run as root to keep them."
        );
    }
    if !args.quiet && std::io::stderr().is_terminal() {
        say!(
            "fieldkit: collecting {} with profile {} into {}",
            source.display(),
            profile.name,
            args.out.display()
        );
    }
    let progress = Arc::new(Progress::default());
    let done = Arc::new(AtomicBool::new(false));
    let display = if args.quiet {
        None
    } else {
        spawn_progress(progress.clone(), done.clone())
    };
    let request = Request {
        source,
        profile,
        out_dir: args.out.clone(),
        case: Case {
            case_number: args.case.clone(),
            exhibit: args.exhibit.clone(),
            examiner: args.examiner.clone(),
            organisation: args.organisation.clone(),
            notes: args.notes.clone(),
        },
        reference_time: args.reference_time.clone(),
        algs,
        signer,
        max_file_size,
        threads,
        verify_after_write: !args.no_verify,
        compression: crate::bundle::compress::Compression::parse(&args.compress)
            .unwrap_or(crate::bundle::compress::Compression::Auto),
        capture_live: !args.no_live,
        window,
        window_only: args.window_only,
        known,
        keep_known: args.keep_known,
        on_live: if args.quiet {
            None
        } else {
            Some(Box::new(|s: &crate::live::LiveSummary| {
                say!("fieldkit: {}", live_line(s))
            }))
        },
        live_timeout: std::time::Duration::from_secs_f64(args.live_timeout.max(0.1)),
        command_line: std::env::args_os().collect(),
        encrypt_to,
        analyzers: if args.no_triage {
            Vec::new()
        } else {
            crate::triage::default_analyzers()
        },
        profile_given: args.profile.is_some(),
        image: collect::ImageOptions {
            partition: match args.partition.as_deref() {
                Some(p) => p.parse().map_err(|e| anyhow!("--partition: {e}"))?,
                None => crate::source::image::source::PartitionChoice::All,
            },
            read_deleted: args.deleted,
            hash_image: args.hash_image,
        },
    };
    let result = collect::collect(request, &interrupt, &progress);
    done.store(true, Ordering::SeqCst);
    if let Some(h) = display {
        let _ = h.join();
    }
    let c = match result {
        Ok(c) => c,
        Err(Failure::Refused(e)) => return Err(e),
        Err(Failure::Output { error, partial }) => {
            say!("fieldkit: error: OUTPUT FAILED: {error}");
            if let Some(p) = partial {
                say!(
                    "fieldkit: the unfinished file {} is NOT a valid bundle (no central directory, no signature); \
                     keep it, but collect again to another device",
                    p.display()
                );
            }
            if args.json {
                let summary = serde_json::json!({"status": "failed", "error": error});
                return Ok(super::print_then(EXIT_OUTPUT_FAILED, |out| {
                    writeln!(out, "{summary}")
                }));
            }
            return Ok(EXIT_OUTPUT_FAILED);
        }
    };
    let m = &c.manifest;
    if let Some(k) = m.tool.kit.as_ref().filter(|k| k.sums_found)
        && !(k.binary_matches && k.signature_valid)
    {
        say!(
            "fieldkit: WARNING: this fieldkit binary does NOT match the signed kit it runs from \
             ({}); the manifest records this. Check the kit with `fieldkit kit verify`.",
            k.detail
        );
    }
    let verdict = c.verify.as_ref().map(|r| r.verdict);
    let verify_ok = matches!(
        verdict,
        None | Some(Verdict::Valid) | Some(Verdict::ValidIncomplete)
    );
    if !verify_ok && let Some(r) = &c.verify {
        say!(
            "fieldkit: error: VERIFY-AFTER-WRITE FAILED: {} does not read back as it was \
             written ({} problem(s)); keep it, but collect again to another device",
            c.bundle.display(),
            r.problems.len()
        );
    }
    if let Some(e) = &c.finalize_error {
        say!("fieldkit: error: OUTPUT FAILED: {e}");
        say!(
            "fieldkit: the bundle {} is sealed{}, and its summary follows, but it is NOT \
             FINALIZED: {}. Keep it and the summary; `fieldkit verify` names its state",
            c.bundle.display(),
            if c.verify.is_some() {
                " and verified after write"
            } else {
                " (verify-after-write skipped)"
            },
            c.state
                .as_ref()
                .map(|s| s.description.as_str())
                .unwrap_or("see above")
        );
    }
    let code = if !verify_ok {
        EXIT_VERIFY_FAILED
    } else if c.finalize_error.is_some() {
        EXIT_OUTPUT_FAILED
    } else if m.status != "complete" {
        EXIT_INCOMPLETE
    } else if crate::report::scope::source_is_empty(m) {
        EXIT_EMPTY_SOURCE
    } else {
        exit::OK
    };
    // What the findings mean (titles only, never evidence) and why files were not
    // collected, as the seal tallied them from the bytes findings.jsonl and files.jsonl
    // hold.
    let findings = &c.findings;
    let reasons = &c.not_collected;
    let scope = crate::report::scope::scope(m, reasons, verdict);
    // Loud, on stderr, also with --quiet and --json: a responder must be stopped here.
    for w in &scope.warnings {
        say!("fieldkit: WARNING: {w}");
    }
    if args.json {
        let summary = serde_json::json!({
            "status": m.status,
            "incomplete_reason": m.incomplete_reason,
            "bundle": c.bundle,
            "sha256": c.sha256,
            "size": c.size,
            "bundle_id": m.bundle_id,
            "signer_fingerprint": c.signer_fingerprint,
            "signer_public_key": c.signer_public,
            "one_time_key": c.one_time_key,
            "counts": m.counts,
            "not_collected": reasons,
            "scope": scope,
            "source_empty": m.source_empty,
            "warnings": scope.warnings,
            "elapsed_seconds": c.elapsed_seconds,
            "timings_seconds": c.timings,
            "verify_after_write": c.verify.as_ref().map(|r| serde_json::json!({
                "verdict": r.verdict, "problems": r.problems, "members": r.members,
                "read_back_early_bytes": r.read_back_early,
                "read_back_early_direct": r.read_back_early_direct,
            })),
            "finalized": c.state.is_none(),
            "state": c.state.as_ref().map(|s| s.code.clone()),
            "finalize_error": c.finalize_error,
            "sidecars": c.sidecars.iter().filter(|s| s.error.is_none()).map(|s| &s.path).collect::<Vec<_>>(),
            "sidecar_errors": c.sidecars.iter().filter_map(|s| s.error.as_ref().map(|e| serde_json::json!({"path": s.path, "error": e}))).collect::<Vec<_>>(),
            "encrypted_to": m.encryption.as_ref().map(|e| e.recipients.clone()),
            "inner_sha256": c.inner_sha256,
            "noatime_refused": m.method.noatime_refused,
            "unprivileged": m.method.unprivileged,
            "kit": m.tool.kit,
            "live": c.live,
            "findings": findings,
            "exit_code": code,
        });
        return Ok(super::print_then(code, |out| writeln!(out, "{summary}")));
    }
    Ok(super::print_then(code, |out| {
        print_summary(out, &c, findings, &scope)
    }))
}

/// The end-of-run summary for the paper log.
fn print_summary(
    out: &mut dyn Write,
    c: &collect::Collected,
    findings: &crate::report::summary::FindingsSummary,
    scope: &crate::report::scope::Scope,
) -> std::io::Result<()> {
    let m = &c.manifest;
    let n = &m.counts;
    writeln!(out)?;
    writeln!(
        out,
        "fieldkit collect: {}{}",
        if m.status == "complete" && m.source_empty.is_some() {
            // The run is complete, but a bare COMPLETE over nothing reads as success.
            "COMPLETE — NOTHING COLLECTED: EMPTY SOURCE (exit 6)".to_string()
        } else if m.status == "complete" {
            "COMPLETE".to_string()
        } else {
            format!(
                "INCOMPLETE ({})",
                m.incomplete_reason.clone().unwrap_or_default()
            )
        },
        match &c.state {
            Some(s) => format!(", but NOT FINALIZED: {}", s.description),
            None => String::new(),
        }
    )?;
    writeln!(out, "  Bundle        {}", c.bundle.display())?;
    writeln!(out, "  SHA-256       {}", c.sha256)?;
    if let (Some(e), Some(inner)) = (&m.encryption, &c.inner_sha256) {
        writeln!(
            out,
            "  Encrypted     age, to {} recipient(s); decrypted bundle SHA-256 {inner}",
            e.recipients.len()
        )?;
    }
    writeln!(
        out,
        "  Size          {} ({} bytes)",
        crate::report::human_bytes(c.size),
        c.size
    )?;
    if c.one_time_key {
        writeln!(
            out,
            "  Signed by     {}  ONE-TIME KEY: write this fingerprint in your notes",
            c.signer_fingerprint
        )?;
    } else {
        writeln!(out, "  Signed by     {}", c.signer_fingerprint)?;
    }
    match &m.tool.kit {
        Some(k) if k.sums_found && k.binary_matches && k.signature_valid => writeln!(
            out,
            "  Kit           binary matches the signed kit {} ({})",
            k.dir,
            k.signer_fingerprint.as_deref().unwrap_or("?")
        )?,
        Some(k) if k.sums_found => writeln!(out, "  Kit           DOES NOT MATCH: {}", k.detail)?,
        _ => writeln!(out, "  Kit           not run from a sealed kit")?,
    }
    writeln!(out, "  Profile       {}", scope.profile)?;
    writeln!(out, "  Files         {}", scope.files)?;
    if let Some(w) = &scope.window {
        writeln!(out, "  Window        {w}")?;
    }
    if m.status != "complete" {
        writeln!(out, "  Completeness  {}", scope.completeness)?;
    }
    for w in &scope.warnings {
        writeln!(out, "  WARNING       {w}")?;
    }
    if n.deleted > 0 {
        writeln!(
            out,
            "  Deleted       {} deleted entr(y/ies) of the image recorded{}",
            n.deleted,
            if m.command_line.iter().any(|a| a == "--deleted") {
                " (content read: --deleted)"
            } else {
                " (not read; --deleted reads them)"
            }
        )?;
    }
    if let Some(img) = &m.image {
        writeln!(
            out,
            "  Image         {} {} ({} bytes), {} volume(s) collected of {}; profile {}",
            img.container,
            img.path,
            img.size,
            img.volumes
                .iter()
                .filter(|v| v.status == "collected")
                .count(),
            img.volumes.len(),
            img.profile_choice.as_deref().unwrap_or("?")
        )?;
    }
    if n.known_good > 0 || !m.known_sets.is_empty() {
        writeln!(
            out,
            "  Known files   {} known-good (not stored{}), {} known-bad (stored, see findings)",
            n.known_good,
            if m.keep_known {
                ": --keep-known stored them"
            } else {
                ""
            },
            n.known_bad
        )?;
    }
    write!(
        out,
        "{}",
        findings.render(m.known_sets.iter().any(|s| s.kind == "known_bad"))
    )?;
    if findings.total > 0 {
        writeln!(
            out,
            "                (details: fieldkit report, or report.html in the bundle)"
        )?;
    }
    match (&m.method.unprivileged, m.method.noatime_refused) {
        (why, n) if n > 0 => writeln!(
            out,
            "  Access times  CHANGED: {n} file(s) read without O_NOATIME ({}); their \
             records say so (read_method)",
            why.as_deref().unwrap_or("the kernel refused it")
        )?,
        (Some(why), _) => writeln!(
            out,
            "  Access times  kept: {why}, but every file read was this user's own"
        )?,
        _ => {}
    }
    writeln!(
        out,
        "  Read          {} in {:.1} s",
        crate::report::human_bytes(n.bytes_read),
        c.elapsed_seconds
    )?;
    match &c.verify {
        Some(r) if matches!(r.verdict, Verdict::Valid | Verdict::ValidIncomplete) => writeln!(
            out,
            "  Verified      OK: {} members re-read from the output device and checked{}",
            r.members,
            if r.read_back_early > 0 {
                format!(
                    " ({} of the file while collecting)",
                    crate::report::human_bytes(r.read_back_early)
                )
            } else {
                String::new()
            }
        )?,
        Some(r) => {
            writeln!(out, "  Verified      FAILED ({:?}):", r.verdict)?;
            for p in &r.problems {
                writeln!(out, "                - {}", p.message)?;
            }
        }
        None => writeln!(out, "  Verified      skipped (--no-verify)")?,
    }
    if c.sidecars.is_empty() {
        return writeln!(
            out,
            "  Sidecars      not written (the bundle did not pass verify-after-write)"
        );
    }
    let sidecars: Vec<String> = c
        .sidecars
        .iter()
        .map(|s| match &s.error {
            None => s.path.display().to_string(),
            Some(e) => format!("{} NOT WRITTEN ({e}; removed)", s.path.display()),
        })
        .collect();
    writeln!(out, "  Sidecars      {}", sidecars.join(", "))
}
