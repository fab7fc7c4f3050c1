//! Signing and signature checking: OpenSSH SSHSIG with Ed25519, so `ssh-keygen -Y verify`
//! checks every signature fieldkit makes.
//!
//! Owns key handling (one-time keys, OpenSSH private key files with optional passphrase;
//! `allowed_signers` files in [`allowed_signers`], read exactly as ssh-keygen reads them)
//! and the namespaces: `fieldkit-evidence` for bundles, and any
//! other namespace a caller names (the kit seal uses `fieldkit-kit`, see `kit`), so a
//! signature made for one purpose is never accepted for another. Design notes: SHA256SUMS.sig signs
//! the SHA256SUMS bytes with SHA-512 inside SSHSIG (what `ssh-keygen -Y sign` does); the
//! whole-bundle sidecar `.zip.sig` signs the bundle's SHA-256 (SSHSIG's "sha256" hash
//! algorithm), so the digest taken in the verify-after-write pass is reused instead of a
//! second pass over gigabytes. Never writes a private key anywhere but where `keygen` is
//! told to, and never holds a passphrase longer than the decryption needs.

use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow, bail};
use signature::{Signer as _, Verifier as _};
use ssh_key::{Algorithm, HashAlg, LineEnding, PrivateKey, PublicKey, SshSig};

pub mod allowed_signers;

/// The SSHSIG namespace of every evidence signature (`ssh-keygen -Y verify -n`).
pub const NAMESPACE: &str = "fieldkit-evidence";

pub struct Signer {
    key: PrivateKey,
    /// True for a key generated for this run only.
    pub one_time: bool,
    pub source: Option<PathBuf>,
}

impl Signer {
    /// A fresh Ed25519 key for this run only.
    pub fn one_time(comment: &str) -> anyhow::Result<Self> {
        let mut key = PrivateKey::random(&mut ssh_key::rand_core::OsRng, Algorithm::Ed25519)
            .context("cannot generate a signing key (no OS randomness?)")?;
        key.set_comment(comment);
        Ok(Signer {
            key,
            one_time: true,
            source: None,
        })
    }

    /// Load an OpenSSH private key file; `passphrase` is asked only if it is encrypted.
    pub fn load(
        path: &Path,
        passphrase: impl FnOnce() -> anyhow::Result<String>,
    ) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("{}: cannot read signing key", path.display()))?;
        if let Ok(public) = PublicKey::from_openssh(text.trim()) {
            let private = path.with_extension("");
            bail!(
                "{}: this is a PUBLIC key ({} {}); signing needs the PRIVATE key{} — \
                 the public one is for the lab (verify --pubkey / --allowed-signers)",
                path.display(),
                public.algorithm(),
                public.fingerprint(ssh_key::HashAlg::Sha256),
                if path.extension().is_some_and(|e| e == "pub") && private.is_file() {
                    format!(": --key {}", private.display())
                } else {
                    ", the file `fieldkit keygen` wrote without .pub".to_string()
                }
            );
        }
        let mut key = PrivateKey::from_openssh(&text)
            .map_err(|e| anyhow!("{}: not an OpenSSH private key: {e}", path.display()))?;
        if key.algorithm() != Algorithm::Ed25519 {
            bail!(
                "{}: key type {} is not supported: fieldkit signs with Ed25519 keys \
                 (make one with `fieldkit keygen`)",
                path.display(),
                key.algorithm()
            );
        }
        if key.is_encrypted() {
            let pass = passphrase()?;
            key = key
                .decrypt(pass.as_bytes())
                .map_err(|_| anyhow!("{}: wrong passphrase for the signing key", path.display()))?;
        }
        Ok(Signer {
            key,
            one_time: false,
            source: Some(path.to_path_buf()),
        })
    }

    pub fn public_key(&self) -> &PublicKey {
        self.key.public_key()
    }

    /// `ssh-ed25519 AAAA… comment`
    pub fn public_openssh(&self) -> anyhow::Result<String> {
        self.key
            .public_key()
            .to_openssh()
            .map_err(|e| anyhow!("cannot encode public key: {e}"))
    }

    /// `SHA256:…`, as `ssh-keygen -l` prints it.
    pub fn fingerprint(&self) -> String {
        self.key.fingerprint(HashAlg::Sha256).to_string()
    }

    /// SSHSIG (PEM) over `msg` in the evidence namespace, hashed with SHA-512.
    pub fn sign(&self, msg: &[u8]) -> anyhow::Result<String> {
        self.sign_in(NAMESPACE, msg)
    }

    /// SSHSIG (PEM) over `msg` in `namespace`, hashed with SHA-512 (what
    /// `ssh-keygen -Y sign -n NAMESPACE` makes).
    pub fn sign_in(&self, namespace: &str, msg: &[u8]) -> anyhow::Result<String> {
        let sig = self
            .key
            .sign(namespace, HashAlg::Sha512, msg)
            .map_err(|e| anyhow!("signing failed: {e}"))?;
        sig.to_pem(LineEnding::LF)
            .map_err(|e| anyhow!("cannot encode signature: {e}"))
    }

    /// SSHSIG (PEM, hash algorithm "sha256") over a message whose SHA-256 is `digest`.
    pub fn sign_sha256_digest(&self, digest: &[u8; 32]) -> anyhow::Result<String> {
        let data = signed_data(NAMESPACE, HashAlg::Sha256, digest);
        let signature = self
            .key
            .try_sign(&data)
            .map_err(|e| anyhow!("signing failed: {e}"))?;
        let sig = SshSig::new(
            self.key.public_key().key_data().clone(),
            NAMESPACE,
            HashAlg::Sha256,
            signature,
        )
        .map_err(|e| anyhow!("cannot build signature: {e}"))?;
        sig.to_pem(LineEnding::LF)
            .map_err(|e| anyhow!("cannot encode signature: {e}"))
    }

    /// Write the key pair as OpenSSH files (`path`, `path.pub`), encrypting the private key
    /// when a passphrase is given. Refuses to overwrite.
    pub fn write_keypair(&self, path: &Path, passphrase: Option<&str>) -> anyhow::Result<()> {
        let pub_path = pub_path(path);
        for p in [path, pub_path.as_path()] {
            if p.exists() {
                bail!(
                    "{}: already exists; refusing to overwrite a key",
                    p.display()
                );
            }
        }
        let key = match passphrase {
            Some(pass) => self
                .key
                .encrypt(&mut ssh_key::rand_core::OsRng, pass.as_bytes())
                .map_err(|e| anyhow!("cannot encrypt key: {e}"))?,
            None => self.key.clone(),
        };
        let text = key
            .to_openssh(LineEnding::LF)
            .map_err(|e| anyhow!("cannot encode key: {e}"))?;
        write_private(path, text.as_bytes())
            .with_context(|| format!("{}: cannot write private key", path.display()))?;
        std::fs::write(&pub_path, format!("{}\n", self.public_openssh()?))
            .with_context(|| format!("{}: cannot write public key", pub_path.display()))?;
        Ok(())
    }
}

pub fn pub_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_os_string();
    s.push(".pub");
    PathBuf::from(s)
}

fn write_private(path: &Path, data: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    f.write_all(data)?;
    f.sync_all()
}

/// The SSHSIG "signed data" blob for a message with the given digest.
fn signed_data(namespace: &str, hash_alg: HashAlg, digest: &[u8]) -> Vec<u8> {
    fn string(out: &mut Vec<u8>, s: &[u8]) {
        out.extend_from_slice(&(s.len() as u32).to_be_bytes());
        out.extend_from_slice(s);
    }
    let mut out = b"SSHSIG".to_vec();
    string(&mut out, namespace.as_bytes());
    string(&mut out, b"");
    string(&mut out, hash_alg.as_str().as_bytes());
    string(&mut out, digest);
    out
}

/// The message a signature is checked against.
pub enum Message<'a> {
    Bytes(&'a [u8]),
    Sha256Digest(&'a [u8; 32]),
}

/// Why a signature did not verify.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SigProblem {
    Unreadable(String),
    WrongNamespace { found: String, expected: String },
    BadSignature,
    UnexpectedKey { signed_by: String },
}

impl std::fmt::Display for SigProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SigProblem::Unreadable(e) => write!(f, "not a readable SSH signature: {e}"),
            SigProblem::WrongNamespace { found, expected } => {
                write!(f, "signature namespace is {found:?}, expected {expected:?}")
            }
            SigProblem::BadSignature => f.write_str("signature does not match the signed data"),
            SigProblem::UnexpectedKey { signed_by } => {
                write!(
                    f,
                    "signed by key {signed_by}, which is not an accepted signer"
                )
            }
        }
    }
}

/// Check an SSHSIG PEM over `msg` in the evidence namespace; on success return the
/// signer's public key. `accepted`: the keys allowed to have signed (empty: any key,
/// self-attested).
pub fn verify(
    pem: &[u8],
    msg: Message<'_>,
    accepted: &[PublicKey],
) -> Result<PublicKey, SigProblem> {
    verify_in(NAMESPACE, pem, msg, accepted)
}

/// `verify` for a signature that must be in `namespace`.
pub fn verify_in(
    namespace: &str,
    pem: &[u8],
    msg: Message<'_>,
    accepted: &[PublicKey],
) -> Result<PublicKey, SigProblem> {
    let sig = SshSig::from_pem(pem).map_err(|e| SigProblem::Unreadable(e.to_string()))?;
    if sig.namespace() != namespace {
        return Err(SigProblem::WrongNamespace {
            found: sig.namespace().to_string(),
            expected: namespace.to_string(),
        });
    }
    let signer = PublicKey::new(sig.public_key().clone(), "");
    if !accepted.is_empty() && !accepted.iter().any(|k| k.key_data() == sig.public_key()) {
        return Err(SigProblem::UnexpectedKey {
            signed_by: signer.fingerprint(HashAlg::Sha256).to_string(),
        });
    }
    let data = match msg {
        Message::Bytes(b) => signed_data(namespace, sig.hash_alg(), &sig.hash_alg().digest(b)),
        Message::Sha256Digest(d) => {
            if sig.hash_alg() != HashAlg::Sha256 {
                return Err(SigProblem::Unreadable(format!(
                    "whole-bundle signature uses {}, expected sha256",
                    sig.hash_alg()
                )));
            }
            signed_data(namespace, HashAlg::Sha256, d)
        }
    };
    sig.public_key()
        .verify(&data, sig.signature())
        .map_err(|_| SigProblem::BadSignature)?;
    Ok(signer)
}

pub fn fingerprint_of(key: &PublicKey) -> String {
    key.fingerprint(HashAlg::Sha256).to_string()
}

/// The `allowed_signers` line for an identity (see ssh-keygen(1) ALLOWED SIGNERS).
pub fn allowed_signers_line(identity: &str, public_openssh: &str) -> String {
    allowed_signers_line_in(&[NAMESPACE], identity, public_openssh)
}

/// The `allowed_signers` line for an identity, limited to `namespaces`.
pub fn allowed_signers_line_in(
    namespaces: &[&str],
    identity: &str,
    public_openssh: &str,
) -> String {
    let key: Vec<&str> = public_openssh.split_whitespace().take(2).collect();
    format!(
        "{identity} namespaces=\"{}\" {}",
        namespaces.join(","),
        key.join(" ")
    )
}

/// Principals an `allowed_signers` file accepts `key` for in `namespace` now (the
/// principals field of the first accepting line, split at commas; see
/// [`allowed_signers`]); empty when no line accepts it. Malformed lines are skipped, as
/// ssh-keygen skips them.
pub fn principals_for_key(
    text: &str,
    key: &PublicKey,
    namespace: &str,
    file: &str,
) -> anyhow::Result<Vec<String>> {
    let file = allowed_signers::AllowedSigners::parse(file, text.as_bytes());
    Ok(
        match file.check(key, None, Some(namespace), allowed_signers::now()) {
            allowed_signers::Decision::Accepted { principals, .. } => {
                principals.split(',').map(str::to_string).collect()
            }
            allowed_signers::Decision::Rejected { .. } => Vec::new(),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_verify_and_reject_tampering_and_other_keys() {
        let a = Signer::one_time("a").unwrap();
        let b = Signer::one_time("b").unwrap();
        let pem = a.sign(b"SHA256SUMS content").unwrap();
        let key = verify(pem.as_bytes(), Message::Bytes(b"SHA256SUMS content"), &[]).unwrap();
        assert_eq!(fingerprint_of(&key), a.fingerprint());
        assert_eq!(
            verify(pem.as_bytes(), Message::Bytes(b"SHA256SUMS c0ntent"), &[]),
            Err(SigProblem::BadSignature)
        );
        let only_b = [b.public_key().clone()];
        assert!(matches!(
            verify(
                pem.as_bytes(),
                Message::Bytes(b"SHA256SUMS content"),
                &only_b
            ),
            Err(SigProblem::UnexpectedKey { .. })
        ));
        let digest = [7u8; 32];
        let pem = a.sign_sha256_digest(&digest).unwrap();
        assert!(verify(pem.as_bytes(), Message::Sha256Digest(&digest), &[]).is_ok());
        assert_eq!(
            verify(pem.as_bytes(), Message::Sha256Digest(&[8u8; 32]), &[]),
            Err(SigProblem::BadSignature)
        );
    }

    #[test]
    fn principals_come_from_the_first_accepting_line() {
        let a = Signer::one_time("a").unwrap();
        let pubkey = a.public_openssh().unwrap();
        let text = format!(
            "# comment\nbad ssh-ed25519 !!!\nnons@x namespaces=\"git\" {pubkey}\n{}\n",
            allowed_signers_line("anna@lab.example,bo*", &pubkey)
        );
        assert_eq!(
            principals_for_key(&text, a.public_key(), NAMESPACE, "f").unwrap(),
            ["anna@lab.example", "bo*"]
        );
        assert!(
            principals_for_key(&text, a.public_key(), "git-other", "f")
                .unwrap()
                .is_empty()
        );
    }
}
