//! `fieldkit kit verify` and `fieldkit kit sign`: flags → `kit::verify` / `kit::seal`, the
//! report (human or `--json`) and the exit code (0 valid, 1 invalid, 2 unusable).
//!
//! Must never change a kit while verifying it, and never report a kit valid whose
//! signature or any listed file did not check out.

use anyhow::anyhow;

use crate::cli::{KitAction, KitArgs, KitSignArgs, KitVerifyArgs};
use crate::kit::{self, KitVerdict, VerifyOptions};
use crate::sign::Signer;

pub fn run(args: KitArgs) -> anyhow::Result<u8> {
    match args.action {
        KitAction::Verify(a) => verify(a),
        KitAction::Sign(a) => sign(a),
    }
}

fn verify(args: KitVerifyArgs) -> anyhow::Result<u8> {
    let dir = match args.dir {
        Some(d) => d,
        None => kit::exe_dir().ok_or_else(|| {
            anyhow!("cannot tell which folder this binary runs from; name the kit folder")
        })?,
    };
    let report = kit::verify(
        &dir,
        &VerifyOptions {
            allowed_signers: args.allowed_signers,
            fingerprint: args.fingerprint,
        },
    );
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(report.exit_code);
    }
    let headline = match report.verdict {
        KitVerdict::Valid => {
            "KIT VALID: every file matches the signed SHA256SUMS and nothing was added"
        }
        KitVerdict::Invalid => {
            "KIT INVALID: do not use this kit: it was changed, or its signature does not hold"
        }
        KitVerdict::Unusable => "KIT UNUSABLE: not a sealed fieldkit kit",
    };
    println!("{headline}");
    println!("  Kit         {}", report.dir);
    println!(
        "  Files       {} listed, {} match",
        report.files_listed, report.files_matched
    );
    if let Some(fp) = &report.signer_fingerprint {
        if report.signer_principals.is_empty() {
            println!("  Signed by   {fp}");
        } else {
            println!(
                "  Signed by   {fp} ({})",
                report.signer_principals.join(", ")
            );
        }
    }
    if !report.trust.is_empty() {
        println!("  Trust       {}", report.trust);
    }
    if !report.ignored.is_empty() {
        println!(
            "  Ignored     {} (OS clutter, see docs/packaging.md)",
            report.ignored.join(", ")
        );
    }
    if !report.problems.is_empty() {
        println!("Problems:");
        for p in &report.problems {
            println!("  - [{}] {}", p.code, p.message);
        }
    }
    Ok(report.exit_code)
}

fn sign(args: KitSignArgs) -> anyhow::Result<u8> {
    let signer = Signer::load(&args.key, || {
        super::collect::passphrase_source(args.passphrase_file.as_deref())
    })?;
    let sealed = kit::seal(&args.dir, &signer)?;
    println!(
        "sealed {}: {} files listed in {}, signed by {} (namespace {})",
        args.dir.display(),
        sealed.files,
        kit::SUMS,
        sealed.signer_fingerprint,
        kit::NAMESPACE
    );
    println!("{} SHA-256: {}", kit::SUMS, sealed.sums_sha256);
    Ok(0)
}
