//! The words of every verdict: `verify` (terminal and `--json`), and the text, JSON, CSV
//! and HTML reports all take their headline, explanation and signer sentence from here,
//! so no view can say more (or less) than another.
//!
//! Owns the wording only: the verdict comes from bundle::verify, the signer's standing
//! from bundle::trust. Must never call a bundle valid without naming whether its signer
//! was checked, never call a wrong key tampering, and never call an incomplete bundle
//! altered.

use serde::Serialize;

use crate::bundle::trust::{Anchor, TrustReport, TrustState};
use crate::bundle::verify::Verdict;
use crate::sign::NAMESPACE;

/// How a view should present a verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Tone {
    /// Intact and signed by a key the examiner trusts.
    Good,
    /// Intact, but something is to be done or known: the signer was not checked, or the
    /// run did not finish.
    Caution,
    /// Altered, damaged, unusable, or not signed by the trusted key.
    Bad,
    /// Not verified at all (a report written during collection).
    Info,
}

/// The sentences for one verdict.
#[derive(Debug, Clone, Serialize)]
pub struct Wording {
    /// The first line: the state in capitals, then what it rests on.
    pub headline: String,
    /// What was checked and what it does and does not prove.
    pub detail: String,
    /// Who signed, and whether that was checked against a key the examiner trusts.
    pub signer: String,
    pub tone: Tone,
}

/// The machine name of a verdict in reports (`integrity.verdict`).
pub fn verdict_name(v: Verdict) -> &'static str {
    match v {
        Verdict::Valid => "valid",
        Verdict::ValidIncomplete => "valid but incomplete",
        Verdict::Invalid => "invalid",
        Verdict::WrongKey => "wrong key",
        Verdict::NotFinalized => "not finalized",
        Verdict::Unusable => "unusable",
    }
}

fn or_unknown(fp: &Option<String>) -> &str {
    fp.as_deref().unwrap_or("the signer's key")
}

fn source(t: &TrustReport) -> &str {
    t.source.as_deref().unwrap_or("the trusted keys")
}

fn expected(t: &TrustReport) -> String {
    t.expected.join(", ")
}

/// The sentence about the signer, for every state.
pub fn signer_sentence(t: &TrustReport) -> String {
    let fp = or_unknown(&t.fingerprint);
    match t.state {
        TrustState::SelfAttested => format!(
            "not checked: only the bundle's own signer.pub was used ({fp}); compare it with \
             the fingerprint in the paper log, or give that with --fingerprint"
        ),
        TrustState::Trusted => match t.anchor {
            Anchor::AllowedSigners => format!(
                "signed by {}: {} line {} accepts {fp} for {} in namespace {NAMESPACE}",
                t.by.as_deref().unwrap_or_default(),
                source(t),
                t.line.unwrap_or_default(),
                t.identity.as_deref().unwrap_or_default()
            ),
            Anchor::Pubkey => format!("signed by the key in {} ({fp})", source(t)),
            Anchor::Fingerprint => {
                format!("the signer {fp} matches the fingerprint given with --fingerprint")
            }
            Anchor::Keys | Anchor::SignerPub => format!("signed by {} ({fp})", source(t)),
        },
        TrustState::WrongKey => match t.anchor {
            Anchor::AllowedSigners => format!(
                "signed by {fp}, which {} does not accept for {}: {}",
                source(t),
                t.identity.as_deref().unwrap_or_default(),
                t.reasons.join("; ")
            ),
            Anchor::Pubkey => format!(
                "signed by {fp}, not by the key in {} ({})",
                source(t),
                expected(t)
            ),
            Anchor::Fingerprint => {
                format!(
                    "signed by {fp}, not by {} given with --fingerprint",
                    expected(t)
                )
            }
            Anchor::Keys | Anchor::SignerPub => {
                format!("signed by {fp}, not by {} ({})", source(t), expected(t))
            }
        },
        TrustState::NoValidSignature => {
            "unknown: no signature verified, so nothing says who made the bundle".into()
        }
    }
}

/// What a trusted signer is, in a headline.
fn trusted_clause(t: &TrustReport) -> String {
    let fp = or_unknown(&t.fingerprint);
    match t.anchor {
        Anchor::AllowedSigners => format!(
            "signed by {} (allowed_signers {})",
            t.by.as_deref().unwrap_or_default(),
            source(t)
        ),
        Anchor::Pubkey => format!("signed by the key in {} ({fp})", source(t)),
        Anchor::Fingerprint => format!("signer matches {fp} given with --fingerprint"),
        Anchor::Keys | Anchor::SignerPub => format!("signed by {} ({fp})", source(t)),
    }
}

fn self_clause(t: &TrustReport) -> String {
    format!(
        "signer not checked: compare {} with the paper log",
        or_unknown(&t.fingerprint)
    )
}

fn wrong_clause(t: &TrustReport) -> String {
    let fp = or_unknown(&t.fingerprint);
    match t.anchor {
        Anchor::AllowedSigners => format!(
            "{} does not accept signer {fp} for {}",
            source(t),
            t.identity.as_deref().unwrap_or_default()
        ),
        Anchor::Pubkey => format!("signed by {fp}, not by the key in {}", source(t)),
        Anchor::Fingerprint => format!("signed by {fp}, not {}", expected(t)),
        Anchor::Keys | Anchor::SignerPub => format!("signed by {fp}, not by {}", source(t)),
    }
}

const INTACT_DETAIL: &str = "Every file's SHA-256, the member list and the signature check out";

/// The words for a verdict on a sealed bundle.
pub fn wording(
    verdict: Verdict,
    trust: &TrustReport,
    incomplete_reason: Option<&str>,
    problems: usize,
) -> Wording {
    let signer = signer_sentence(trust);
    let fp = or_unknown(&trust.fingerprint);
    let trusted = trust.state == TrustState::Trusted;
    let incomplete = format!(
        " The collection did not finish ({}): everything the bundle holds is intact, but paths \
         it had not reached when it stopped are not in it.",
        incomplete_reason.unwrap_or("no reason recorded")
    );
    let self_detail = format!(
        "{INTACT_DETAIL} against the key recorded in the bundle itself (signer.pub). That proves \
         nothing has changed since that key signed the bundle — not whose key it is: anyone can \
         make a consistent bundle with a key of their own. Compare {fp} with the fingerprint the \
         responder wrote in the paper log, or give it with --fingerprint (or the examiner's key \
         with --pubkey or --allowed-signers) and fieldkit compares it."
    );
    let trusted_detail = format!(
        "{INTACT_DETAIL}, and the signature is by the key you trust: nothing in the bundle has \
         changed since that key signed it."
    );
    let (headline, detail, tone) = match verdict {
        Verdict::Valid if trusted => (
            format!("VALID — {}", trusted_clause(trust)),
            trusted_detail,
            Tone::Good,
        ),
        Verdict::Valid => (
            format!("INTACT — {}", self_clause(trust)),
            self_detail,
            Tone::Caution,
        ),
        Verdict::ValidIncomplete if trusted => (
            format!(
                "VALID BUT INCOMPLETE — {}; the run did not finish",
                trusted_clause(trust)
            ),
            trusted_detail + &incomplete,
            Tone::Caution,
        ),
        Verdict::ValidIncomplete => (
            format!(
                "INTACT BUT INCOMPLETE — {}; the run did not finish",
                self_clause(trust)
            ),
            self_detail + &incomplete,
            Tone::Caution,
        ),
        Verdict::WrongKey => (
            format!(
                "INTACT BUT NOT SIGNED BY THE KEY YOU TRUST — {}",
                wrong_clause(trust)
            ),
            format!(
                "Every file's SHA-256 and the member list check out and the signature is sound, \
                 but it was made by {fp}, not by the key you trust{}. Nothing has changed since \
                 that key signed the bundle, but nothing ties the bundle to the key you trust: it \
                 may be another responder's bundle, signed by a key your lab has revoked, let \
                 expire or not listed for this identity, or a copy re-signed by someone else. Do \
                 not rely on it as evidence signed by that key until the signer is explained.{}",
                match trust.anchor {
                    Anchor::Pubkey | Anchor::Fingerprint | Anchor::Keys => {
                        format!(" ({})", expected(trust))
                    }
                    Anchor::AllowedSigners => format!(
                        " ({} for {}: {})",
                        source(trust),
                        trust.identity.as_deref().unwrap_or_default(),
                        trust.reasons.join("; ")
                    ),
                    Anchor::SignerPub => String::new(),
                },
                if incomplete_reason.is_some() {
                    incomplete
                } else {
                    String::new()
                }
            ),
            Tone::Bad,
        ),
        Verdict::Invalid => (
            "INVALID: the bundle has been altered or damaged".into(),
            format!(
                "Something in the bundle does not match what was signed: it has been altered or \
                 damaged since it was made ({problems} problem(s) listed)."
            ),
            Tone::Bad,
        ),
        Verdict::NotFinalized => (
            "NOT FINALIZED: this file was never completed and cannot be trusted as a bundle".into(),
            "The run that wrote it was killed or ran out of space before the bundle was \
             finalized, or the file was truncated: it proves nothing about the evidence."
                .into(),
            Tone::Bad,
        ),
        Verdict::Unusable => (
            "UNUSABLE: not a bundle that can be read".into(),
            "fieldkit cannot read this file as a bundle (see the problem listed), so nothing in \
             it was checked."
                .into(),
            Tone::Bad,
        ),
    };
    Wording {
        headline,
        detail,
        signer,
        tone,
    }
}

/// The words for a report written during collection, before the bundle was sealed.
pub fn during_collection() -> Wording {
    Wording {
        headline: "NOT YET VERIFIED — this report was written during collection".into(),
        detail: "This report was written during collection and sealed inside the bundle. Check \
                 the bundle with `fieldkit verify` (or sha256sum and ssh-keygen, as shown below) \
                 before relying on it."
            .into(),
        signer: "not checked: the report was written before the bundle was signed".into(),
        tone: Tone::Info,
    }
}

/// `report`'s exit status for a verdict: 0 intact (complete or not), 5 intact but not
/// signed by the trusted key, 1 otherwise.
pub fn report_exit_code(v: Verdict) -> u8 {
    match v {
        Verdict::Valid | Verdict::ValidIncomplete => 0,
        Verdict::WrongKey => 5,
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(state: TrustState, anchor: Anchor) -> TrustReport {
        TrustReport {
            state,
            anchor,
            by: Some("you@unit.example".into()),
            fingerprint: Some("SHA256:abc".into()),
            source: Some("lab_signers".into()),
            identity: Some("you@unit.example".into()),
            line: Some(2),
            expected: vec!["SHA256:def".into()],
            reasons: vec!["no line lists key SHA256:abc".into()],
            warnings: vec![],
        }
    }

    #[test]
    fn headlines_carry_the_trust_state() {
        let h = |v, s, a| wording(v, &t(s, a), Some("interrupted"), 0).headline;
        assert_eq!(
            h(Verdict::Valid, TrustState::SelfAttested, Anchor::SignerPub),
            "INTACT — signer not checked: compare SHA256:abc with the paper log"
        );
        assert_eq!(
            h(Verdict::Valid, TrustState::Trusted, Anchor::AllowedSigners),
            "VALID — signed by you@unit.example (allowed_signers lab_signers)"
        );
        assert_eq!(
            h(Verdict::Valid, TrustState::Trusted, Anchor::Fingerprint),
            "VALID — signer matches SHA256:abc given with --fingerprint"
        );
        assert_eq!(
            h(Verdict::WrongKey, TrustState::WrongKey, Anchor::Fingerprint),
            "INTACT BUT NOT SIGNED BY THE KEY YOU TRUST — signed by SHA256:abc, not SHA256:def"
        );
        assert!(
            h(
                Verdict::ValidIncomplete,
                TrustState::SelfAttested,
                Anchor::SignerPub
            )
            .starts_with("INTACT BUT INCOMPLETE — ")
        );
        let w = wording(
            Verdict::ValidIncomplete,
            &t(TrustState::Trusted, Anchor::Pubkey),
            Some("interrupted (SIGINT)"),
            0,
        );
        assert!(w.detail.contains("(interrupted (SIGINT))"), "{}", w.detail);
        assert!(!w.detail.contains("altered"), "{}", w.detail);
        assert_eq!(w.tone, Tone::Caution);
    }
}
