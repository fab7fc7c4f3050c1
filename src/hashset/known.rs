//! The sets a run checks files against, as `collect` uses them: open several sets once,
//! then ask per file "which sets know this file, by which digest?" from any thread.
//!
//! Owns matching across algorithms and turning a match — or a failed check — into a
//! `Finding`, and the record of which sets a collection used. Must never allocate when
//! nothing matches (the common case for every file on a disk), never report a match on
//! a digest the caller did not compute, never hide which algorithm a match rests on (an
//! MD5-only match is weaker evidence and says so), and never let one set's damaged
//! block hide another set's answer.

use std::path::PathBuf;

use anyhow::Result;
use serde_json::json;

use super::format::flags;
use super::{Algorithm, KnownSet, LookupHit, SetKind, Verification, to_hex};
use crate::finding::{Finding, Severity};

/// Opened sets, in the order given. `Sync`: share one `&KnownSets` across workers.
#[derive(Debug, Default)]
pub struct KnownSets {
    sets: Vec<KnownSet>,
}

/// One set that knows a file.
#[derive(Debug, Clone)]
pub struct HashMatch<'s> {
    pub set: &'s KnownSet,
    /// The strongest algorithm that matched (its category and source are reported).
    pub algorithm: Algorithm,
    /// Per [`Algorithm::index`]: this digest was looked up and found.
    pub matched: [bool; 3],
    /// Per [`Algorithm::index`]: the set has this algorithm, the digest was looked up,
    /// and it was not found (an MD5 hit with a SHA-1 miss hints at an MD5 collision).
    pub unmatched: [bool; 3],
    pub category: u16,
    pub source: u16,
    pub flags: u8,
    digest: [u8; 32],
}

impl KnownSets {
    /// Open each set, verifying small sets completely and large ones block by block on
    /// first use (see [`Verification::Auto`]).
    pub fn open(paths: &[PathBuf]) -> Result<KnownSets> {
        KnownSets::open_with(paths, Verification::Auto)
    }

    pub fn open_with(paths: &[PathBuf], verification: Verification) -> Result<KnownSets> {
        let sets = paths
            .iter()
            .map(|p| KnownSet::open(p, verification))
            .collect::<Result<_>>()?;
        Ok(KnownSets { sets })
    }

    pub fn from_sets(sets: Vec<KnownSet>) -> KnownSets {
        KnownSets { sets }
    }

    pub fn sets(&self) -> &[KnownSet] {
        &self.sets
    }

    pub fn is_empty(&self) -> bool {
        self.sets.is_empty()
    }

    /// Some set is keyed by MD5: compute MD5 of every file for [`KnownSets::lookup`].
    pub fn needs_md5(&self) -> bool {
        self.sets.iter().any(|s| s.has(Algorithm::Md5))
    }

    /// Some set is keyed by SHA-1: compute SHA-1 of every file.
    pub fn needs_sha1(&self) -> bool {
        self.sets.iter().any(|s| s.has(Algorithm::Sha1))
    }

    /// Every set that knows the file with these digests, in set order; empty (and no
    /// allocation) when none does. Digests passed as `None` are not checked. Errors
    /// when any set's data turn out to be damaged (see [`KnownSets::lookup_each`] to get
    /// the other sets' answers all the same).
    pub fn lookup(
        &self,
        sha256: &[u8; 32],
        md5: Option<&[u8; 16]>,
        sha1: Option<&[u8; 20]>,
    ) -> Result<Vec<HashMatch<'_>>> {
        let mut answer = self.lookup_each(sha256, md5, sha1);
        match answer.failures.pop() {
            Some(failure) => Err(failure.error),
            None => Ok(answer.matches),
        }
    }

    /// Like [`KnownSets::lookup`], but every set is asked even when another one fails:
    /// the matches of the sets that answered, and a failure for each set that could not
    /// (a damaged block). Neither list allocates when empty.
    pub fn lookup_each(
        &self,
        sha256: &[u8; 32],
        md5: Option<&[u8; 16]>,
        sha1: Option<&[u8; 20]>,
    ) -> Answer<'_> {
        let mut out = Vec::new();
        let mut failures = Vec::new();
        let probes: [(Algorithm, Option<&[u8]>); 3] = [
            (Algorithm::Sha256, Some(&sha256[..])),
            (Algorithm::Sha1, sha1.map(|d| &d[..])),
            (Algorithm::Md5, md5.map(|d| &d[..])),
        ];
        'sets: for set in &self.sets {
            let mut best: Option<(LookupHit, &[u8])> = None;
            let (mut matched, mut unmatched) = ([false; 3], [false; 3]);
            for (algorithm, digest) in probes {
                let Some(digest) = digest.filter(|_| set.has(algorithm)) else {
                    continue;
                };
                match set.lookup(algorithm, digest) {
                    Ok(Some(hit)) => {
                        matched[algorithm.index()] = true;
                        best.get_or_insert((hit, digest));
                    }
                    Ok(None) => unmatched[algorithm.index()] = true,
                    Err(error) => {
                        failures.push(LookupFailure {
                            set,
                            algorithm,
                            error,
                        });
                        continue 'sets;
                    }
                }
            }
            if let Some((hit, digest)) = best {
                let mut stored = [0u8; 32];
                stored[..digest.len()].copy_from_slice(digest);
                out.push(HashMatch {
                    set,
                    algorithm: hit.algorithm,
                    matched,
                    unmatched,
                    category: hit.category,
                    source: hit.source,
                    flags: hit.flags,
                    digest: stored,
                });
            }
        }
        Answer {
            matches: out,
            failures,
        }
    }

    /// What the manifest records of each set: identity (name, kind, path, root digest),
    /// the file's SHA-256 (known after full verification; otherwise waited for from the
    /// background pass that [`KnownSet::start_file_sha256`] started, unless `stop` is
    /// set), how it was verified, and how many lookups failed. `waiting` is told about
    /// each wait that takes more than a second (set name, bytes done, total).
    pub fn manifest_info(
        &self,
        stop: &std::sync::atomic::AtomicBool,
        waiting: &mut dyn FnMut(&str, u64, u64),
    ) -> Vec<crate::bundle::manifest::KnownSetInfo> {
        self.sets
            .iter()
            .map(|set| {
                let verified_at_open = set.file_sha256().is_some();
                let file_sha = set
                    .finish_file_sha256(stop, &mut |done, total| waiting(set.name(), done, total));
                crate::bundle::manifest::KnownSetInfo {
                    name: set.name().to_string(),
                    kind: match set.kind() {
                        SetKind::KnownBad => "known_bad".into(),
                        SetKind::KnownGood => "known_good".into(),
                    },
                    path: set.path().display().to_string(),
                    digest: to_hex(&set.digest()),
                    file_len: Some(set.file_len()),
                    file_sha256: file_sha.as_ref().ok().map(|d| to_hex(d)),
                    file_sha256_note: Some(match &file_sha {
                        Ok(_) if verified_at_open => {
                            "computed while every block was verified at open".to_string()
                        }
                        Ok(_) => "computed during the collection by one pass over the whole \
                                  file that also re-checked every block and the root digest"
                            .to_string(),
                        Err(e) => e.clone(),
                    }),
                    verification: Some(
                        if verified_at_open {
                            "full: every block checked at open"
                        } else {
                            "lazy: each block checked before its first use"
                        }
                        .to_string(),
                    ),
                    format_version: Some(set.format_version()),
                    block_digest: Some(set.block_digest().name().to_string()),
                    lookup_errors: set.lookup_errors(),
                }
            })
            .collect()
    }
}

/// The answer of every set for one file: see [`KnownSets::lookup_each`].
#[derive(Debug)]
pub struct Answer<'s> {
    pub matches: Vec<HashMatch<'s>>,
    pub failures: Vec<LookupFailure<'s>>,
}

/// A set that could not answer for one file: its data failed an integrity check.
#[derive(Debug)]
pub struct LookupFailure<'s> {
    pub set: &'s KnownSet,
    /// The digest being looked up when it failed (the file's other digests in this set
    /// were not looked up).
    pub algorithm: Algorithm,
    pub error: anyhow::Error,
}

impl LookupFailure<'_> {
    /// The finding for a file that could not be checked against a set:
    /// `hashset.lookup_failed`, high for a known-bad set (the file may be known-bad and
    /// was not recognised), medium for a known-good set (the file is treated as unknown:
    /// stored).
    pub fn to_finding(&self, path: Option<&str>) -> Finding {
        let set = self.set;
        let (severity, consequence) = match set.kind() {
            SetKind::KnownBad => (
                Severity::High,
                "the file may be on this known-bad list and was not recognised",
            ),
            SetKind::KnownGood => (
                Severity::Medium,
                "the file is treated as not known-good (stored)",
            ),
        };
        Finding {
            id: String::new(),
            analyzer: "hashset".to_string(),
            kind: "hashset.lookup_failed".to_string(),
            severity,
            path: path.map(str::to_string),
            member: None,
            sha256: None,
            title: format!(
                "Could not check the file against {} set \"{}\": the set is damaged",
                set.kind(),
                set.name()
            ),
            evidence: json!({
                "set": set.name(),
                "set_kind": set.kind().name(),
                "set_path": set.path().display().to_string(),
                "set_digest": to_hex(&set.digest()),
                "algorithm": self.algorithm.name(),
                "error": format!("{:#}", self.error),
                "consequence": consequence,
            }),
        }
    }
}

impl HashMatch<'_> {
    pub fn kind(&self) -> SetKind {
        self.set.kind()
    }

    pub fn category_label(&self) -> std::borrow::Cow<'_, str> {
        self.set.category_label(self.category)
    }

    /// The digest that matched, in the strongest algorithm.
    pub fn digest(&self) -> &[u8] {
        &self.digest[..self.algorithm.key_len()]
    }

    /// Only MD5 matched although a stronger digest of the same set was looked up and
    /// not found: the match may be an MD5 collision.
    pub fn weak(&self) -> bool {
        self.algorithm == Algorithm::Md5 && (self.unmatched[1] || self.unmatched[2])
    }

    fn algorithms(flags: &[bool; 3]) -> Vec<&'static str> {
        Algorithm::ALL
            .into_iter()
            .filter(|a| flags[a.index()])
            .map(Algorithm::name)
            .collect()
    }

    /// The finding for this match: `hashset.known_bad` (critical; high when the match
    /// is [`weak`](Self::weak)) or `hashset.known_good` (info). `path` is the file's
    /// original path for display; the engine fills `member` and `sha256`.
    pub fn to_finding(&self, path: Option<&str>) -> Finding {
        let set = self.set;
        let category = self.category_label().into_owned();
        let (kind, severity, title) = match set.kind() {
            SetKind::KnownBad => (
                "hashset.known_bad",
                if self.weak() {
                    Severity::High
                } else {
                    Severity::Critical
                },
                format!(
                    "Known-bad file: in set \"{}\" ({category}), matched by {}",
                    set.name(),
                    self.algorithm
                ),
            ),
            SetKind::KnownGood => (
                "hashset.known_good",
                Severity::Info,
                format!("Known file: in set \"{}\" ({category})", set.name()),
            ),
        };
        let code = set
            .metadata()
            .categories
            .get(usize::from(self.category))
            .and_then(|c| c.code.clone());
        let mut evidence = json!({
            "set": set.name(),
            "set_kind": set.kind().name(),
            "set_path": set.path().display().to_string(),
            "set_digest": to_hex(&set.digest()),
            "category": category,
            "algorithm": self.algorithm.name(),
            "digest": to_hex(self.digest()),
            "matched_algorithms": Self::algorithms(&self.matched),
            "unmatched_algorithms": Self::algorithms(&self.unmatched),
            "entry_flags": flags::names(self.flags),
        });
        if let Some(map) = evidence.as_object_mut() {
            if let Some(sha) = set.file_sha256() {
                map.insert("set_file_sha256".into(), to_hex(&sha).into());
            }
            if let Some(code) = code {
                map.insert("category_code".into(), code.into());
            }
            if let Some(source) = set.source_name(self.source) {
                map.insert("source".into(), source.into());
            }
            if self.weak() {
                map.insert(
                    "note".into(),
                    "only MD5 matched; a stronger digest in the same set did not (possible MD5 collision)"
                        .into(),
                );
            }
        }
        Finding {
            id: String::new(),
            analyzer: "hashset".to_string(),
            kind: kind.to_string(),
            severity,
            path: path.map(str::to_string),
            member: None,
            sha256: None,
            title,
            evidence,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use md5::Md5;
    use sha1::Sha1;
    use sha2::{Digest, Sha256};

    use super::*;
    use crate::hashset::{BuildOptions, build};

    fn write_set(dir: &Path, name: &str, kind: SetKind, lines: &[String]) -> PathBuf {
        let list = dir.join(format!("{name}.txt"));
        std::fs::write(&list, lines.join("\n")).unwrap();
        let out = dir.join(format!("{name}.fkhs"));
        let mut opts = BuildOptions::new(out.clone(), kind, vec![(list, None)]);
        opts.default_category = Some(format!("{name} files"));
        build(&opts).unwrap();
        out
    }

    #[test]
    fn lookup_reports_each_knowing_set_with_its_strongest_algorithm() {
        fn assert_sync<T: Sync + Send>() {}
        assert_sync::<KnownSets>();

        let t = tempfile::tempdir().unwrap();
        let bad_file = b"malware sample";
        let good_file = b"system library";
        let bad = write_set(
            t.path(),
            "bad",
            SetKind::KnownBad,
            &[
                to_hex(&Md5::digest(bad_file)),
                to_hex(&Sha1::digest(bad_file)),
            ],
        );
        let good = write_set(
            t.path(),
            "good",
            SetKind::KnownGood,
            &[to_hex(&Sha256::digest(good_file))],
        );
        let sets = KnownSets::open(&[good, bad]).unwrap();
        assert!(sets.needs_md5() && sets.needs_sha1());

        let digests = |data: &[u8]| -> ([u8; 32], [u8; 16], [u8; 20]) {
            (
                Sha256::digest(data).into(),
                Md5::digest(data).into(),
                Sha1::digest(data).into(),
            )
        };
        let (s, m, h) = digests(b"something else");
        let miss = sets.lookup(&s, Some(&m), Some(&h)).unwrap();
        assert!(miss.is_empty());
        assert_eq!(miss.capacity(), 0, "a miss must not allocate");

        let (s, m, h) = digests(good_file);
        let hits = sets.lookup(&s, Some(&m), Some(&h)).unwrap();
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].kind(), SetKind::KnownGood);
        assert_eq!(hits[0].algorithm, Algorithm::Sha256);
        assert_eq!(hits[0].category_label(), "good files");
        assert_eq!(hits[0].to_finding(None).severity, Severity::Info);

        let (s, m, h) = digests(bad_file);
        let hits = sets.lookup(&s, Some(&m), Some(&h)).unwrap();
        assert_eq!(hits.len(), 1);
        let hit = &hits[0];
        assert_eq!(hit.algorithm, Algorithm::Sha1);
        assert_eq!(hit.matched, [true, true, false]);
        assert!(!hit.weak());
        let finding = hit.to_finding(Some("/home/x/sample.exe"));
        assert_eq!(finding.analyzer, "hashset");
        assert_eq!(finding.kind, "hashset.known_bad");
        assert_eq!(finding.severity, Severity::Critical);
        assert_eq!(finding.path.as_deref(), Some("/home/x/sample.exe"));
        let e = &finding.evidence;
        assert_eq!(e["set"], "bad");
        assert_eq!(e["set_kind"], "known-bad");
        assert_eq!(e["category"], "bad files");
        assert_eq!(e["algorithm"], "sha1");
        assert_eq!(e["digest"], to_hex(&h));
        assert_eq!(e["matched_algorithms"], serde_json::json!(["md5", "sha1"]));
        assert_eq!(e["set_digest"], to_hex(&hit.set.digest()));
        assert_eq!(e["source"], "bad.txt");
        // Small sets are fully verified at open, so the file's SHA-256 is known.
        let file_sha = to_hex(&Sha256::digest(std::fs::read(hit.set.path()).unwrap()));
        assert_eq!(e["set_file_sha256"], file_sha);

        // MD5 matches but the SHA-1 of the same file is not in the set: weaker evidence.
        let (_, _, other_h) = digests(b"a different file with a colliding md5");
        let hits = sets.lookup(&s, Some(&m), Some(&other_h)).unwrap();
        assert_eq!(hits[0].algorithm, Algorithm::Md5);
        assert!(hits[0].weak());
        let finding = hits[0].to_finding(None);
        assert_eq!(finding.severity, Severity::High);
        assert_eq!(
            finding.evidence["unmatched_algorithms"],
            serde_json::json!(["sha1"])
        );
        assert!(
            finding.evidence["note"]
                .as_str()
                .unwrap()
                .contains("MD5 collision")
        );

        // Digests the caller did not compute are never matched.
        assert!(sets.lookup(&s, None, None).unwrap().is_empty());
    }

    #[test]
    fn a_damaged_set_fails_alone_and_is_counted_and_its_background_hash_says_why() {
        let t = tempfile::tempdir().unwrap();
        let file = b"listed in both";
        let line = to_hex(&Sha256::digest(file));
        let good = write_set(
            t.path(),
            "good",
            SetKind::KnownGood,
            std::slice::from_ref(&line),
        );
        let bad = write_set(t.path(), "bad", SetKind::KnownBad, &[line]);
        // Flip a byte of the known-good set's only entry; open it lazily so the damage
        // is found by the lookup, not at open.
        let mut bytes = std::fs::read(&good).unwrap();
        bytes[16 + 3] ^= 0x01;
        std::fs::write(&good, &bytes).unwrap();
        let damaged = KnownSet::open(&good, Verification::Lazy).unwrap();
        damaged.start_file_sha256().unwrap();
        let intact = KnownSet::open(&bad, Verification::Lazy).unwrap();
        intact.start_file_sha256().unwrap();
        let sets = KnownSets::from_sets(vec![damaged, intact]);

        let sha: [u8; 32] = Sha256::digest(file).into();
        let answer = sets.lookup_each(&sha, None, None);
        assert_eq!(answer.matches.len(), 1, "the intact set still answers");
        assert_eq!(answer.matches[0].kind(), SetKind::KnownBad);
        assert_eq!(answer.failures.len(), 1);
        let failure = &answer.failures[0];
        assert_eq!(failure.set.name(), "good");
        let finding = failure.to_finding(Some("/x"));
        assert_eq!(finding.kind, "hashset.lookup_failed");
        assert_eq!(finding.severity, Severity::Medium);
        assert!(
            finding.evidence["error"]
                .as_str()
                .unwrap()
                .contains("integrity check failed: data block 0"),
            "{}",
            finding.evidence
        );
        assert!(sets.lookup(&sha, None, None).is_err());
        assert_eq!(sets.sets()[0].lookup_errors(), 2);
        assert_eq!(sets.sets()[1].lookup_errors(), 0);

        let stop = std::sync::atomic::AtomicBool::new(false);
        let info = sets.manifest_info(&stop, &mut |_, _, _| {});
        assert!(info[0].file_sha256.is_none());
        let note = info[0].file_sha256_note.as_deref().unwrap();
        assert!(note.contains("data block 0 does not match"), "{note}");
        assert_eq!(info[0].lookup_errors, 2);
        assert_eq!(
            info[1].file_sha256.as_deref(),
            Some(to_hex(&Sha256::digest(std::fs::read(&bad).unwrap())).as_str())
        );
        assert!(info[1].verification.as_deref().unwrap().starts_with("lazy"));
    }
}
