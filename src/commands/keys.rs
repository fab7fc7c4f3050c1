//! `fieldkit keygen`: make an Ed25519 signing key pair and print what the lab needs.
//!
//! Must never overwrite an existing key file, never write the private key readable by
//! others (0600), and never print or log the private key or its passphrase.

use anyhow::Context;

use crate::cli::KeygenArgs;
use crate::sign::{self, Signer};

pub fn run(args: KeygenArgs) -> anyhow::Result<u8> {
    let passphrase = if let Some(f) = &args.passphrase_file {
        let text = std::fs::read_to_string(f)
            .with_context(|| format!("{}: cannot read passphrase file", f.display()))?;
        Some(text.trim_end_matches(['\r', '\n']).to_string())
    } else if args.ask_passphrase {
        let a = rpassword::prompt_password("New passphrase: ").context("cannot read passphrase")?;
        let b =
            rpassword::prompt_password("Repeat passphrase: ").context("cannot read passphrase")?;
        if a != b {
            anyhow::bail!("the passphrases differ; no key was written");
        }
        Some(a)
    } else {
        None
    };
    if passphrase.as_deref() == Some("") {
        anyhow::bail!("empty passphrase; omit --passphrase-file for an unencrypted key");
    }
    let signer = Signer::one_time(&args.identity)?;
    signer.write_keypair(&args.out, passphrase.as_deref())?;
    let public = signer.public_openssh()?;
    eprintln!(
        "wrote {} and {}",
        args.out.display(),
        sign::pub_path(&args.out).display()
    );
    eprintln!("fingerprint: {}", signer.fingerprint());
    eprintln!("allowed_signers line (give it to the lab):");
    println!("{}", sign::allowed_signers_line(&args.identity, &public));
    Ok(0)
}
