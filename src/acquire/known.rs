//! Known-file sets inside the engine: asking every set about a file's digests, with a
//! loud alert and a finding for each known-bad match and for each set that cannot
//! answer.
//!
//! Must never let a failed lookup pass silently: each one is an alert on stderr, a
//! `hashset.lookup_failed` finding and a count in the manifest's `known_sets`; and a
//! known-bad set that cannot answer keeps the file (it might be on the list).

use super::*;
use crate::hashset::SetKind;

/// What the sets said about one file.
pub(super) struct KnownVerdict {
    /// Known-bad matches and lookup failures, as findings.
    pub findings: Vec<Finding>,
    /// Some known-good set matched, no known-bad set did and none failed.
    pub known_good: bool,
    /// Store the file whatever the limits: a known-bad set matched, or a known-bad set
    /// could not answer (the file might be on it).
    pub keep: bool,
}

impl Engine<'_> {
    /// Ask every set about `digests`; records matches in `rec.known` and alerts.
    pub(super) fn check_known(&self, rec: &mut FileRecord, digests: &Digests) -> KnownVerdict {
        let mut verdict = KnownVerdict {
            findings: Vec::new(),
            known_good: false,
            keep: false,
        };
        let Some(known) = self.known else {
            return verdict;
        };
        let answer =
            known.lookup_each(&digests.sha256, digests.md5.as_ref(), digests.sha1.as_ref());
        let display = rec.path.display();
        let mut bad = false;
        for m in &answer.matches {
            let is_bad = m.kind() == SetKind::KnownBad;
            rec.known.push(crate::bundle::record::KnownMatch {
                set: m.set.name().to_string(),
                kind: if is_bad { "known_bad" } else { "known_good" }.into(),
                category: m.category_label().into_owned(),
                algorithm: m.algorithm.name().to_string(),
            });
            if is_bad {
                bad = true;
                verdict.findings.push(m.to_finding(Some(&display)));
                self.progress.alert(format!(
                    "fieldkit: KNOWN-BAD FILE: {display} matches set {:?} ({}) — stored and recorded; collection continues",
                    m.set.name(),
                    m.category_label()
                ));
            }
        }
        let mut bad_set_failed = false;
        for failure in &answer.failures {
            bad_set_failed |= failure.set.kind() == SetKind::KnownBad;
            verdict.findings.push(failure.to_finding(Some(&display)));
            self.progress.alert(format!(
                "fieldkit: KNOWN-FILE CHECK FAILED: {display} could not be checked against {} set {:?} \
                 (damaged set: {:#}); the file is kept and the failure recorded; collection continues",
                failure.set.kind(),
                failure.set.name(),
                failure.error
            ));
        }
        if !answer.failures.is_empty() {
            rec.detail = Some(format!(
                "known-file check failed for {}: see the hashset.lookup_failed finding",
                answer
                    .failures
                    .iter()
                    .map(|f| format!("{:?}", f.set.name()))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        verdict.keep = bad || bad_set_failed;
        verdict.known_good = !verdict.keep && !answer.matches.is_empty();
        verdict
    }
}
