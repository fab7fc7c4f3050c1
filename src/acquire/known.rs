//! Known-file sets inside the engine: asking every set about a file's digests (a loud
//! alert and a finding for each known-bad match and for each set that cannot answer),
//! and files over the size limit while known-bad sets are in use, which are hashed
//! without storing a byte and re-read and stored only when they match.
//!
//! Must never let a byte of an over-limit file reach the bundle before the file is
//! known to be known-bad (a skipped 50 GB file must not fill the output device), never
//! store a second read without checking that it is the content that matched (its
//! SHA-256 equals the first read's, or the record says it changed, with both hashes),
//! and never let a failed lookup pass silently: each one is an alert on stderr, a
//! `hashset.lookup_failed` finding and a count in the manifest's `known_sets`.

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

/// The first read of an over-limit file that matched: what the second read, which
/// stores it, must reproduce.
pub(super) struct FirstRead {
    pub sha256: [u8; 32],
    pub bytes: u64,
    pub verdict: KnownVerdict,
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
            let bad_set = failure.set.kind() == SetKind::KnownBad;
            bad_set_failed |= bad_set;
            verdict.findings.push(failure.to_finding(Some(&display)));
            self.progress.alert(format!(
                "fieldkit: KNOWN-FILE CHECK FAILED: {display} could not be checked against {} set {:?} \
                 (damaged set: {:#}); {}; recorded as a finding; collection continues",
                failure.set.kind(),
                failure.set.name(),
                failure.error,
                if bad_set {
                    "the file is kept whatever the limits (it may be on that list)"
                } else {
                    "the file is treated as not known-good"
                }
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

    /// A file over the size limit while known-bad sets are in use: read once, hashing
    /// only (nothing goes to the bundle); if a known-bad set matches, rewind and read it
    /// again through the normal path, which stores it, and compare the two reads.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn over_limit(
        &self,
        mut rec: FileRecord,
        mut file: EntryReader,
        before: EntryMeta,
        limits: crate::plan::Limits,
        rel: &[&OsStr],
        ctx: &FileContext<'_>,
        shared: &Shared<'_>,
    ) -> (FileRecord, Vec<Finding>) {
        let size = before.size;
        let max = limits.max_file_size.unwrap_or(0);
        let mut hasher = MultiHasher::new(self.algs);
        let mut chunk = ChunkBuf::take();
        let mut first_chunk = true;
        loop {
            let n = match file.read(&mut chunk.0) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    let reason = if io_reason(&e) == "locked" {
                        "locked"
                    } else {
                        "read_error"
                    };
                    let detail = format!(
                        "read failed at offset {} while hashing for the known-bad check ({size} \
                         bytes exceeds the size limit of {max} bytes; nothing stored): {e}",
                        hasher.bytes()
                    );
                    return (errored(rec, reason, detail), Vec::new());
                }
            };
            let data = &chunk.0[..n];
            if first_chunk {
                first_chunk = false;
                if limits.executables_only
                    && !before.has_exec_bit()
                    && !read::looks_executable(data)
                {
                    let rec = skipped(
                        rec,
                        "not_executable",
                        "rule collects executables only: no execute bit and no executable signature",
                    );
                    return (rec, Vec::new());
                }
            }
            hasher.update(data);
            self.progress
                .bytes_done
                .fetch_add(n as u64, Ordering::Relaxed);
            if self.interrupt.load(Ordering::Relaxed) || shared.stop.load(Ordering::Relaxed) {
                let detail = format!(
                    "collection was interrupted after {} bytes of the known-bad check (over the size limit; nothing stored)",
                    hasher.bytes()
                );
                return (skipped(rec, "interrupted", detail), Vec::new());
            }
        }
        drop(chunk);
        let bytes = hasher.bytes();
        let digests = hasher.finish();
        super::record_digests(&mut rec, bytes, &digests);
        let verdict = self.check_known(&mut rec, &digests);
        if !verdict.keep {
            let mut findings = verdict.findings;
            for f in &mut findings {
                f.sha256 = rec.sha256.clone();
            }
            if verdict.known_good {
                rec.status = Some(Status::KnownGood);
                rec.reason = Some("known_good".into());
                rec.detail = Some(format!(
                    "matches a known-good set ({}); {size} bytes exceeds the size limit of {max} \
                     bytes; read once and hashed, content not stored",
                    rec.known
                        .iter()
                        .map(|k| k.set.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
                return (rec, findings);
            }
            let failed = rec.detail.take();
            let mut rec = skipped(
                rec,
                "too_large",
                format!(
                    "{size} bytes exceeds the size limit of {max} bytes; read once and hashed for \
                     the known-bad check (no match), not stored{}",
                    failed.map(|d| format!("; {d}")).unwrap_or_default()
                ),
            );
            rec.member = None;
            return (rec, findings);
        }
        // Known-bad: store it after all, from a second read of the same open file.
        if let Err(e) = file.rewind() {
            let mut findings = verdict.findings;
            for f in &mut findings {
                f.sha256 = rec.sha256.clone();
            }
            let detail = format!(
                "matched a known-bad set on a first read (hashing only, over the size limit), \
                 but could not rewind to read it again for storing: {e}"
            );
            return (errored(rec, "read_error", detail), findings);
        }
        self.progress
            .bytes_planned
            .fetch_add(size, Ordering::Relaxed);
        let first = FirstRead {
            sha256: digests.sha256,
            bytes,
            verdict,
        };
        self.read_and_store(
            rec,
            file,
            before,
            limits,
            false,
            true,
            rel,
            ctx,
            shared,
            Some(first),
        )
    }

    /// After the second read of an over-limit known-bad file: say how it was read, and
    /// whether both reads saw the same content.
    pub(super) fn second_read_checked(
        &self,
        rec: &mut FileRecord,
        first: &FirstRead,
        second: &[u8; 32],
    ) {
        let how = rec.read_method.take().unwrap_or_default();
        if first.sha256 == *second {
            rec.read_method = Some(format!(
                "{how}; read twice: first hashed only (over the size limit, nothing stored), then \
                 read again and stored after the known-bad match; both reads have the same SHA-256"
            ));
            return;
        }
        rec.read_method = Some(format!(
            "{how}; read twice: first hashed only (over the size limit, nothing stored), then \
             read again and stored after the known-bad match; the reads differ"
        ));
        if rec.status == Some(Status::Error) {
            // The second read failed part-way: keep its reason, add what the first saw.
            rec.detail = Some(format!(
                "{}; the first read ({} bytes, sha256 {}) matched a known-bad set",
                rec.detail.as_deref().unwrap_or("second read failed"),
                first.bytes,
                hex(&first.sha256)
            ));
            return;
        }
        rec.status = Some(Status::Changed);
        rec.reason = Some("changed_between_reads".into());
        let display = rec.path.display();
        rec.detail = Some(format!(
            "the first read ({} bytes, sha256 {}) matched a known-bad set; the second read, which \
             is stored, has {} bytes and sha256 {}: the file changed between the reads",
            first.bytes,
            hex(&first.sha256),
            rec.bytes_read.unwrap_or(0),
            hex(second)
        ));
        self.progress.alert(format!(
            "fieldkit: KNOWN-BAD FILE CHANGED between two reads: {display} — the second read is \
             stored and both hashes are recorded"
        ));
    }
}
