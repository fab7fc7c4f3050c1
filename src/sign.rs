//! Signing and signature checking: OpenSSH SSHSIG with Ed25519, so `ssh-keygen -Y verify`
//! checks every signature fieldkit makes.
//!
//! Owns key handling (one-time keys, OpenSSH private key files with optional passphrase,
//! `allowed_signers` parsing) and the namespaces: `fieldkit-evidence` for bundles, and any
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

/// Keys an `allowed_signers` file accepts for `identity` in the evidence namespace.
pub fn allowed_keys(text: &str, identity: &str, file: &str) -> anyhow::Result<Vec<PublicKey>> {
    Ok(allowed_signers_in(text, NAMESPACE, file)?
        .into_iter()
        .filter(|(principals, _)| {
            principals
                .split(',')
                .any(|p| glob_match(p.trim_matches('"'), identity))
        })
        .map(|(_, key)| key)
        .collect())
}

/// Principal patterns an `allowed_signers` file lists for `key` in `namespace` (what
/// `ssh-keygen -Y find-principals` answers); empty when the key is not accepted there.
pub fn principals_for_key(
    text: &str,
    key: &PublicKey,
    namespace: &str,
    file: &str,
) -> anyhow::Result<Vec<String>> {
    Ok(allowed_signers_in(text, namespace, file)?
        .into_iter()
        .filter(|(_, k)| k.key_data() == key.key_data())
        .flat_map(|(principals, _)| {
            principals
                .split(',')
                .map(|p| p.trim_matches('"').to_string())
                .collect::<Vec<_>>()
        })
        .collect())
}

/// The (principals, key) entries of an `allowed_signers` file valid in `namespace`
/// (certificate authorities are not supported and are left out).
fn allowed_signers_in(
    text: &str,
    namespace: &str,
    file: &str,
) -> anyhow::Result<Vec<(String, PublicKey)>> {
    let mut keys = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (principals, rest) = split_field(line);
        let mut rest = rest.trim_start();
        let mut namespaces_ok = true;
        let mut cert_authority = false;
        // Options come before the key type; key types start with "ssh-", "ecdsa-" or "sk-".
        if !looks_like_key_type(rest) {
            let (opts, after) = split_field(rest);
            rest = after.trim_start();
            for opt in split_options(opts) {
                let lower = opt.to_ascii_lowercase();
                if let Some(v) = lower.strip_prefix("namespaces=") {
                    let v = v.trim_matches('"');
                    namespaces_ok = v.split(',').any(|ns| glob_match(ns.trim(), namespace));
                } else if lower == "cert-authority" {
                    cert_authority = true;
                }
            }
        }
        if cert_authority {
            continue;
        }
        if !namespaces_ok {
            continue;
        }
        let key = PublicKey::from_openssh(rest.trim())
            .map_err(|e| anyhow!("{file}:{}: bad public key: {e}", n + 1))?;
        keys.push((principals.to_string(), key));
    }
    Ok(keys)
}

fn looks_like_key_type(s: &str) -> bool {
    s.starts_with("ssh-") || s.starts_with("ecdsa-") || s.starts_with("sk-")
}

/// Split off the first whitespace-separated field, honouring double quotes.
fn split_field(s: &str) -> (&str, &str) {
    let mut in_quotes = false;
    for (i, c) in s.char_indices() {
        match c {
            '"' => in_quotes = !in_quotes,
            c if c.is_whitespace() && !in_quotes => return (&s[..i], &s[i..]),
            _ => {}
        }
    }
    (s, "")
}

fn split_options(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_quotes = false;
    for c in s.chars() {
        match c {
            '"' => {
                in_quotes = !in_quotes;
                cur.push(c);
            }
            ',' if !in_quotes => out.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    out.push(cur);
    out
}

/// OpenSSH pattern match: `*` and `?` wildcards.
fn glob_match(pattern: &str, text: &str) -> bool {
    fn m(p: &[u8], t: &[u8]) -> bool {
        match (p.first(), t.first()) {
            (None, None) => true,
            (Some(b'*'), _) => m(&p[1..], t) || (!t.is_empty() && m(p, &t[1..])),
            (Some(b'?'), Some(_)) => m(&p[1..], &t[1..]),
            (Some(a), Some(b)) if a == b => m(&p[1..], &t[1..]),
            _ => false,
        }
    }
    m(pattern.as_bytes(), text.as_bytes())
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
    fn allowed_signers_select_by_principal_and_namespace() {
        let a = Signer::one_time("a").unwrap();
        let pubkey = a.public_openssh().unwrap();
        let text = format!(
            "# comment\n{}\nother@x {pubkey}\nwild*@lab.example namespaces=\"git,fieldkit-*\" {pubkey}\n\
             nons@x namespaces=\"git\" {pubkey}\n",
            allowed_signers_line("anna@lab.example", &pubkey)
        );
        assert_eq!(
            allowed_keys(&text, "anna@lab.example", "f").unwrap().len(),
            1
        );
        assert_eq!(
            allowed_keys(&text, "wildcard@lab.example", "f")
                .unwrap()
                .len(),
            1
        );
        assert_eq!(allowed_keys(&text, "nons@x", "f").unwrap().len(), 0);
        assert_eq!(allowed_keys(&text, "nobody", "f").unwrap().len(), 0);
        assert!(
            allowed_keys("x ssh-ed25519 !!!\n", "x", "f")
                .unwrap_err()
                .to_string()
                .contains("f:1")
        );
    }
}
