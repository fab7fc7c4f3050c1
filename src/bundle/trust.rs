//! Trust: whose signature a verification accepts, and what was found about the signer.
//!
//! Owns the trust anchors `verify` and `report` take (`--pubkey`, `--allowed-signers`
//! with `--identity`, `--fingerprint`, none) and the outcome every view of a verdict
//! shows: self-attested (only the bundle's own `signer.pub` was used), trusted (the
//! signer is the key the examiner trusts, and who that is) or wrong key (the signature is
//! sound but by another key). A wrong key is never reported as tampering: whether the
//! bytes are intact is the verifier's question, who signed them is this one's.
//!
//! Never decides on a signature that did not verify, never accepts a signer an
//! allowed_signers file would not accept for `ssh-keygen -Y verify`
//! (crate::sign::allowed_signers), and never words a verdict (crate::report::verdict
//! does, for every view).

use serde::Serialize;
use ssh_key::PublicKey;

use crate::sign::{self, allowed_signers};

/// Whose signature is accepted.
#[derive(Debug, Clone)]
pub enum Trust {
    /// The key recorded in the bundle itself (`signer.pub`): proves the bundle is intact
    /// since signing, not who signed; the fingerprint must be compared with the paper log.
    SelfAttested,
    /// Exactly these keys, described by `source` ("the key that signed this run").
    Keys {
        keys: Vec<PublicKey>,
        source: String,
    },
    /// `--pubkey FILE`: exactly this key.
    PublicKey { key: PublicKey, file: String },
    /// `--allowed-signers FILE --identity NAME`, with ssh-keygen's rules.
    AllowedSigners {
        signers: allowed_signers::AllowedSigners,
        file: String,
        identity: String,
    },
    /// `--fingerprint SHA256:…`: the value written in the paper log.
    Fingerprint { fingerprint: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum TrustState {
    /// Only the bundle's own signer.pub was used: the signer was not checked.
    #[default]
    SelfAttested,
    /// The signer is a key the examiner trusts.
    Trusted,
    /// The signature is sound, but by a key that is not the one trusted.
    WrongKey,
    /// No signature verified: nothing can be said about a signer.
    NoValidSignature,
}

/// What the trust anchor was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Anchor {
    #[default]
    SignerPub,
    Keys,
    Pubkey,
    AllowedSigners,
    Fingerprint,
}

/// The outcome, in every view of the verdict (`verify --json` as `trust`).
#[derive(Debug, Clone, Serialize, Default)]
pub struct TrustReport {
    pub state: TrustState,
    pub anchor: Anchor,
    /// Who signed, when trusted: the identity (allowed_signers), else the trusted key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    /// The signer's key fingerprint (`SHA256:…`), when a signature verified.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    /// The file the anchor came from (`--pubkey`, `--allowed-signers`), or its description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The identity asked for with `--identity`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,
    /// The allowed_signers line that accepted the signer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    /// The trusted fingerprint(s), when the anchor names keys.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub expected: Vec<String>,
    /// Why the signer is not trusted (one per allowed_signers line that names its key).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<String>,
    /// Lines of the allowed_signers file that were skipped as malformed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// `SHA256:` and the unpadded base64 of 32 bytes, as `ssh-keygen -l` prints it; the
/// prefix may be in any case, and padding and blanks around it are ignored.
pub fn parse_fingerprint(text: &str) -> Result<String, String> {
    use base64::Engine as _;
    let t = text.trim();
    let b64 = match t.get(..7) {
        Some(p) if p.eq_ignore_ascii_case("SHA256:") => &t[7..],
        _ => {
            return Err(format!(
                "{t:?} is not a SHA-256 key fingerprint: give it as `ssh-keygen -l` and the \
                 paper log show it, SHA256: and 43 characters"
            ));
        }
    };
    let b64 = b64.trim_end_matches('=');
    match base64::engine::general_purpose::STANDARD_NO_PAD.decode(b64) {
        Ok(d) if d.len() == 32 => Ok(format!("SHA256:{b64}")),
        _ => Err(format!(
            "{t:?} is not a SHA-256 key fingerprint (SHA256: and 43 base64 characters, as \
             `ssh-keygen -l` prints it)"
        )),
    }
}

impl Trust {
    /// The anchor before anything is checked (what `report` shows for a failed check).
    pub fn describe(&self) -> TrustReport {
        let mut t = TrustReport::default();
        match self {
            Trust::SelfAttested => {}
            Trust::Keys { keys, source } => {
                t.anchor = Anchor::Keys;
                t.source = Some(source.clone());
                t.expected = keys.iter().map(sign::fingerprint_of).collect();
            }
            Trust::PublicKey { key, file } => {
                t.anchor = Anchor::Pubkey;
                t.source = Some(file.clone());
                t.expected = vec![sign::fingerprint_of(key)];
            }
            Trust::AllowedSigners {
                signers,
                file,
                identity,
            } => {
                t.anchor = Anchor::AllowedSigners;
                t.source = Some(file.clone());
                t.identity = Some(identity.clone());
                t.warnings = signers.warnings();
            }
            Trust::Fingerprint { fingerprint } => {
                t.anchor = Anchor::Fingerprint;
                t.expected = vec![fingerprint.clone()];
            }
        }
        t
    }

    /// The keys a sidecar signature may be checked against when the bundle's own
    /// signature did not verify (none: any key).
    pub fn keys(&self) -> Vec<PublicKey> {
        match self {
            Trust::Keys { keys, .. } => keys.clone(),
            Trust::PublicKey { key, .. } => vec![key.clone()],
            _ => Vec::new(),
        }
    }

    /// Judge the key whose signature verified (`None`: no signature verified), at `now`
    /// (seconds since the epoch; allowed_signers validity windows).
    pub fn evaluate(&self, signer: Option<&PublicKey>, now: u64) -> TrustReport {
        let mut t = self.describe();
        let Some(signer) = signer else {
            t.state = TrustState::NoValidSignature;
            return t;
        };
        let fp = sign::fingerprint_of(signer);
        t.fingerprint = Some(fp.clone());
        t.state = match self {
            Trust::SelfAttested => TrustState::SelfAttested,
            Trust::Keys { keys, .. } => {
                if keys.iter().any(|k| k.key_data() == signer.key_data()) {
                    t.by = t.source.clone();
                    TrustState::Trusted
                } else {
                    TrustState::WrongKey
                }
            }
            Trust::PublicKey { key, file } => {
                if key.key_data() == signer.key_data() {
                    t.by = Some(format!("the key in {file}"));
                    TrustState::Trusted
                } else {
                    TrustState::WrongKey
                }
            }
            Trust::AllowedSigners {
                signers, identity, ..
            } => match signers.check(signer, Some(identity), Some(sign::NAMESPACE), now) {
                allowed_signers::Decision::Accepted { line, .. } => {
                    t.by = Some(identity.clone());
                    t.line = Some(line);
                    TrustState::Trusted
                }
                allowed_signers::Decision::Rejected { reasons } => {
                    t.reasons = reasons;
                    TrustState::WrongKey
                }
            },
            Trust::Fingerprint { fingerprint } => {
                if *fingerprint == fp {
                    t.by = Some(fp.clone());
                    TrustState::Trusted
                } else {
                    TrustState::WrongKey
                }
            }
        };
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_are_read_as_ssh_keygen_prints_them() {
        let s = crate::sign::Signer::one_time("x").unwrap();
        let fp = s.fingerprint();
        assert_eq!(parse_fingerprint(&fp).unwrap(), fp);
        assert_eq!(
            parse_fingerprint(&format!("  sha256:{}=\n", &fp[7..])).unwrap(),
            fp
        );
        assert!(parse_fingerprint(&fp[7..]).is_err());
        assert!(parse_fingerprint("SHA256:abc").is_err());
        assert!(parse_fingerprint("MD5:aa:bb").is_err());
        let t = Trust::Fingerprint {
            fingerprint: fp.clone(),
        };
        assert_eq!(
            t.evaluate(Some(s.public_key()), 0).state,
            TrustState::Trusted
        );
        let other = crate::sign::Signer::one_time("y").unwrap();
        let r = t.evaluate(Some(other.public_key()), 0);
        assert_eq!(r.state, TrustState::WrongKey);
        assert_eq!(r.expected, [fp]);
        assert_eq!(t.evaluate(None, 0).state, TrustState::NoValidSignature);
    }
}
