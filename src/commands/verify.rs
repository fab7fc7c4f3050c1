//! `fieldkit verify` and `fieldkit extract`: print the verdict (human or `--json`, in the
//! words of report::verdict) and exit with the verdict's code (0 intact, 1 invalid,
//! 2 unusable, 3 not finalized — with the lifecycle state it stopped in —, 4 intact but
//! incomplete, 5 intact but not signed by the key you trust); extract exits 0 extracted,
//! 1 refused or failed (target left as it was), 2 bad arguments.
//!
//! Must never change the bundle or soften a verdict: the exit code is the library's
//! verdict even when the output cannot be written (a closed pipe ends the printing only).

use std::io::Write;

use anyhow::{Context, anyhow};
use ssh_key::PublicKey;

use crate::bundle::verify::{self, Options, Trust};
use crate::cli::{ExtractArgs, VerifyArgs};
use crate::report::verdict::{self as words, Wording};
use crate::sign::allowed_signers::AllowedSigners;

pub fn trust_from_args(args: &VerifyArgs) -> anyhow::Result<Trust> {
    trust_from(
        args.pubkey.as_deref(),
        args.allowed_signers.as_deref(),
        args.identity.as_deref(),
        args.fingerprint.as_deref(),
    )
}

/// The trust anchor from `--pubkey`, `--allowed-signers` + `--identity` or
/// `--fingerprint` (else self-attested). An unreadable anchor is an error (exit 2); an
/// anchor that does not name the signer is a verdict (exit 5), found by verifying.
pub fn trust_from(
    pubkey: Option<&std::path::Path>,
    allowed_signers: Option<&std::path::Path>,
    identity: Option<&str>,
    fingerprint: Option<&str>,
) -> anyhow::Result<Trust> {
    if let Some(p) = pubkey {
        let text = std::fs::read_to_string(p)
            .with_context(|| format!("{}: cannot read public key", p.display()))?;
        let key = PublicKey::from_openssh(text.trim())
            .map_err(|e| anyhow!("{}: not an OpenSSH public key: {e}", p.display()))?;
        return Ok(Trust::PublicKey {
            key,
            file: p.display().to_string(),
        });
    }
    if let (Some(file), Some(identity)) = (allowed_signers, identity) {
        let bytes = std::fs::read(file)
            .with_context(|| format!("{}: cannot read allowed signers", file.display()))?;
        let name = file.display().to_string();
        return Ok(Trust::AllowedSigners {
            signers: AllowedSigners::parse(&name, &bytes),
            file: name,
            identity: identity.to_string(),
        });
    }
    if let Some(fp) = fingerprint {
        let fingerprint = crate::bundle::trust::parse_fingerprint(fp)
            .map_err(|e| anyhow!("--fingerprint: {e}"))?;
        return Ok(Trust::Fingerprint { fingerprint });
    }
    Ok(Trust::SelfAttested)
}

/// `--identity-file`: the identities to decrypt an encrypted bundle with.
pub fn identities(
    file: Option<&std::path::Path>,
) -> anyhow::Result<Vec<crate::bundle::age::Identity>> {
    match file {
        None => Ok(Vec::new()),
        Some(f) => {
            crate::bundle::age::Identity::load(f, &mut || super::collect::passphrase_source(None))
        }
    }
}

pub fn run(args: VerifyArgs) -> anyhow::Result<u8> {
    let single = match (args.bundles.as_slice(), &args.from) {
        ([one], None) if !one.is_dir() => one.clone(),
        _ => return super::verify_bulk::run(args),
    };
    let trust = trust_from_args(&args)?;
    let ids = identities(args.identity_file.as_deref())?;
    let report = verify::verify_with(
        &single,
        &Options {
            trust,
            check_sidecars: true,
        },
        &ids,
    );
    let code = report.verdict.exit_code();
    let wording = words::wording(
        report.verdict,
        &report.trust,
        report.incomplete_reason.as_deref(),
        report.problems.len(),
    );
    if args.json {
        #[derive(serde::Serialize)]
        struct Out<'a> {
            headline: &'a str,
            detail: &'a str,
            tone: words::Tone,
            exit_code: u8,
            #[serde(flatten)]
            report: &'a verify::Report,
        }
        let text = serde_json::to_string_pretty(&Out {
            headline: &wording.headline,
            detail: &wording.detail,
            tone: wording.tone,
            exit_code: code,
            report: &report,
        })?;
        return Ok(super::print_then(code, |out| writeln!(out, "{text}")));
    }
    Ok(super::print_then(code, |out| {
        print_report(out, &report, &wording)
    }))
}

fn print_report(
    out: &mut dyn Write,
    report: &verify::Report,
    wording: &Wording,
) -> std::io::Result<()> {
    writeln!(out, "{}", wording.headline)?;
    writeln!(out, "  {}", wording.detail)?;
    writeln!(out, "  Bundle      {}", report.bundle)?;
    if let Some(state) = &report.state {
        writeln!(
            out,
            "  State       {state} (docs/bundle-format.md, \"Lifecycle\")"
        )?;
    }
    if let Some(s) = &report.sha256 {
        writeln!(out, "  SHA-256     {s}")?;
    }
    if let Some(s) = &report.inner_sha256 {
        writeln!(
            out,
            "  Decrypted   SHA-256 {s} (the bundle inside, as age -d gives it)"
        )?;
    }
    if let Some(id) = &report.bundle_id {
        writeln!(out, "  Bundle ID   {id}")?;
    }
    if let Some(case) = &report.case {
        let parts: Vec<String> = [
            case.case_number.as_ref().map(|c| format!("case {c}")),
            case.exhibit.as_ref().map(|e| format!("exhibit {e}")),
            case.examiner.as_ref().map(|e| format!("examiner {e}")),
        ]
        .into_iter()
        .flatten()
        .collect();
        if !parts.is_empty() {
            writeln!(out, "  Case        {}", parts.join(", "))?;
        }
    }
    if let Some(r) = &report.incomplete_reason {
        writeln!(out, "  Incomplete  {r}")?;
    }
    if let Some(fp) = &report.signer_fingerprint {
        writeln!(out, "  Signed by   {fp}")?;
    }
    writeln!(out, "  Trust       {}", wording.signer)?;
    writeln!(
        out,
        "  Checked     {} members, {} bytes, {} file records",
        report.members, report.size, report.records
    )?;
    if !report.problems.is_empty() {
        writeln!(out, "Problems:")?;
        for p in &report.problems {
            writeln!(out, "  - [{}] {}", p.code, p.message)?;
        }
    }
    if !report.notes.is_empty() {
        writeln!(out, "Notes:")?;
        for n in &report.notes {
            writeln!(out, "  - {n}")?;
        }
    }
    Ok(())
}

pub fn extract(args: ExtractArgs) -> anyhow::Result<u8> {
    match crate::bundle::extract::extract(&args.bundle, &args.dir) {
        Ok(n) => Ok(super::print_then(super::exit::OK, |out| {
            writeln!(out, "extracted {n} members into {}", args.dir.display())
        })),
        Err(e) => {
            use crate::bundle::extract::Error;
            say!("fieldkit: error: {e}");
            Ok(match e {
                Error::Refused(_) | Error::Failed(_) => super::exit::INVALID,
                Error::Usage(_) => super::exit::USAGE,
            })
        }
    }
}
