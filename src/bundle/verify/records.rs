//! files.jsonl and the manifest against the stored members: every record's hashes and
//! sizes, every `files/` member described, the manifest's counts.
//!
//! Reads only what verify already opened; never trusts a count from the manifest
//! without counting, and stops each member at its first read error.

use super::*;

pub(super) fn check_records(
    archive: &mut zip::ZipArchive<BufReader<BundleInput>>,
    by_name: &HashMap<&str, (&Entry, &MemberDigest)>,
    manifest: Option<&Manifest>,
    bindings: &mut structure::Bindings,
    r: &mut Report,
) {
    let Ok(reader) = archive.by_name(FILES_JSONL) else {
        return;
    };
    let mut counts = Counts::default();
    let mut described: HashSet<String> = HashSet::new();
    let mut line_no = 0u64;
    for line in BufReader::new(reader).split(b'\n') {
        line_no += 1;
        let line = match line {
            Ok(l) => l,
            Err(e) => {
                // Stop at the first error: a damaged member's reader may repeat it forever.
                r.problem(
                    "unreadable_member",
                    format!("{FILES_JSONL}: cannot read line {line_no}: {e}"),
                );
                break;
            }
        };
        if line.is_empty() {
            continue;
        }
        let rec: FileRecord = match serde_json::from_slice(&line) {
            Ok(rec) => rec,
            Err(e) => {
                r.problem("bad_records", format!("{FILES_JSONL}:{line_no}: {e}"));
                continue;
            }
        };
        counts.considered += 1;
        bindings.record(&rec);
        if rec.known.iter().any(|k| k.kind == "known_bad") {
            counts.known_bad += 1;
        }
        let status = rec.status.unwrap_or(Status::Error);
        match status {
            Status::Collected => counts.collected += 1,
            Status::Duplicate => counts.duplicate += 1,
            Status::Changed => counts.changed += 1,
            Status::KnownGood => counts.known_good += 1,
            Status::Skipped => counts.skipped += 1,
            Status::Error => counts.error += 1,
            Status::Locked => counts.locked += 1,
            Status::Deleted => counts.deleted += 1,
        }
        counts.bytes_read = counts
            .bytes_read
            .saturating_add(rec.bytes_read.unwrap_or(0));
        let target = rec.member.as_ref().or(rec.duplicate_of.as_ref());
        let where_ = format!("{FILES_JSONL}:{line_no} ({})", rec.path.display());
        if matches!(
            status,
            Status::Collected | Status::Changed | Status::Duplicate
        ) && target.is_none()
        {
            r.problem(
                "bad_records",
                format!("{where_}: status {} without a member", status.name()),
            );
        }
        let Some(target) = target else { continue };
        if rec.member.is_some() {
            described.insert(target.clone());
        }
        let Some((e, d)) = by_name.get(target.as_str()) else {
            r.problem(
                "missing_member",
                format!("{where_}: member {target} is missing from the bundle"),
            );
            continue;
        };
        let checks: [(&str, Option<&String>, Option<String>); 3] = [
            ("SHA-256", rec.sha256.as_ref(), Some(hex(&d.sha256))),
            ("SHA-1", rec.sha1.as_ref(), d.sha1.map(|h| hex(&h))),
            ("MD5", rec.md5.as_ref(), d.md5.map(|h| hex(&h))),
        ];
        for (alg, recorded, actual) in checks {
            match (recorded, actual) {
                (Some(want), Some(have)) if !want.eq_ignore_ascii_case(&have) => r.problem(
                    "record_mismatch",
                    format!("{where_}: recorded {alg} {want} but member {target} has {have}"),
                ),
                (None, _) if alg == "SHA-256" => {
                    r.problem("bad_records", format!("{where_}: no SHA-256 recorded"))
                }
                _ => {}
            }
        }
        if rec.member.is_some() && rec.bytes_read != Some(e.size) {
            r.problem(
                "record_mismatch",
                format!(
                    "{where_}: recorded {} bytes read but member {target} holds {}",
                    rec.bytes_read.unwrap_or(0),
                    e.size
                ),
            );
        }
    }
    r.records = counts.considered;
    for name in by_name.keys() {
        if name.starts_with(crate::bundle::naming::FILES_PREFIX) && !described.contains(*name) {
            r.problem(
                "undescribed_member",
                format!("member {name} is not described by any {FILES_JSONL} record"),
            );
        }
    }
    if let Some(m) = manifest {
        if let Ok(findings) = archive.by_name(crate::bundle::FINDINGS_JSONL) {
            let lines = match count_lines(findings) {
                Ok(n) => n,
                Err((line, e)) => {
                    r.problem(
                        "unreadable_member",
                        format!(
                            "{}: cannot read line {line}: {e}",
                            crate::bundle::FINDINGS_JSONL
                        ),
                    );
                    m.counts.findings
                }
            };
            if lines != m.counts.findings {
                r.problem(
                    "count_mismatch",
                    format!(
                        "{MANIFEST} counts {} findings but {} holds {lines}",
                        m.counts.findings,
                        crate::bundle::FINDINGS_JSONL
                    ),
                );
            }
        }
        let mut recorded = m.counts.clone();
        recorded.bytes_stored = 0;
        recorded.findings = 0;
        if recorded != counts {
            r.problem(
                "count_mismatch",
                format!(
                    "{MANIFEST} counts (considered {}, collected {}, duplicate {}, changed {}, skipped {}, error {}) \
                     differ from {FILES_JSONL} ({}, {}, {}, {}, {}, {})",
                    m.counts.considered, m.counts.collected, m.counts.duplicate, m.counts.changed, m.counts.skipped, m.counts.error,
                    counts.considered, counts.collected, counts.duplicate, counts.changed, counts.skipped, counts.error
                ),
            );
        }
    }
}

/// Non-empty lines of a member. Stops at the first read error (returned with the line it
/// happened in): the reader of a damaged member can return the same error forever.
pub(super) fn count_lines(reader: impl Read) -> Result<u64, (u64, std::io::Error)> {
    let mut n = 0u64;
    for (i, line) in BufReader::new(reader).split(b'\n').enumerate() {
        match line {
            Ok(l) if l.is_empty() => {}
            Ok(_) => n += 1,
            Err(e) => return Err((i as u64 + 1, e)),
        }
    }
    Ok(n)
}
