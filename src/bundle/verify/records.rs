//! files.jsonl and the manifest against the stored members: every record's hashes and
//! sizes, every `files/` member described, the manifest's counts.
//!
//! Reads only what verify already opened; never trusts a count from the manifest
//! without counting, and stops each member at its first read error.
//!
//! files.jsonl is inflated and parsed on a thread of its own, in batches of records
//! handed over in order, while this thread checks them against the members: at 200,000
//! records the two halves took about as long each (1.0 s together, one after the other).

use super::*;

/// Records handed from the parsing thread to the checks at a time, and batches in flight.
const BATCH: usize = 512;
const BATCHES_IN_FLIGHT: usize = 4;

/// A recorded hash against the member's: (algorithm, recorded hex, the member's digest).
type Claim<'a> = (&'static str, Option<&'a String>, Option<&'a [u8]>);

/// One files.jsonl line: its number and its record, or why it is not one.
type Parsed = (u64, Result<FileRecord, String>);

/// Inflate and parse files.jsonl, in order, into `tx`; the first read error ends it
/// (a damaged member's reader may repeat it forever) and is returned with its line.
fn parse_records(
    reader: impl Read,
    tx: std::sync::mpsc::SyncSender<Vec<Parsed>>,
) -> Option<(u64, std::io::Error)> {
    let mut batch = Vec::with_capacity(BATCH);
    let mut line_no = 0u64;
    let mut failed = None;
    for line in BufReader::new(reader).split(b'\n') {
        line_no += 1;
        let line = match line {
            Ok(l) => l,
            Err(e) => {
                failed = Some((line_no, e));
                break;
            }
        };
        if line.is_empty() {
            continue;
        }
        let rec = serde_json::from_slice::<FileRecord>(&line).map_err(|e| e.to_string());
        batch.push((line_no, rec));
        if batch.len() == BATCH
            && tx
                .send(std::mem::replace(&mut batch, Vec::with_capacity(BATCH)))
                .is_err()
        {
            return failed;
        }
    }
    if !batch.is_empty() {
        let _ = tx.send(batch);
    }
    failed
}

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
    // Names borrowed from `by_name`: a record's member is looked up there anyway.
    let mut described: HashSet<&str> = HashSet::with_capacity(by_name.len());
    let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<Parsed>>(BATCHES_IN_FLIGHT);
    let read_error = std::thread::scope(|scope| {
        let parser = std::thread::Builder::new()
            .name("verify-records".into())
            .spawn_scoped(scope, move || parse_records(reader, tx));
        let parser = match parser {
            Ok(p) => p,
            Err(e) => return Some((0, e)),
        };
        for (line_no, rec) in rx.into_iter().flatten() {
            check_record(
                line_no,
                rec,
                by_name,
                &mut counts,
                &mut described,
                bindings,
                r,
            );
        }
        parser
            .join()
            .unwrap_or_else(|_| Some((0, std::io::Error::other("the parsing thread failed"))))
    });
    match read_error {
        // Line 0: no line was read (the parsing thread could not start, or died).
        Some((0, e)) => r.problem(
            "unreadable_member",
            format!("{FILES_JSONL}: cannot be read: {e}"),
        ),
        Some((line_no, e)) => r.problem(
            "unreadable_member",
            format!("{FILES_JSONL}: cannot read line {line_no}: {e}"),
        ),
        None => {}
    }
    r.records = counts.considered;
    for name in by_name.keys() {
        if name.starts_with(crate::bundle::naming::FILES_PREFIX) && !described.contains(name) {
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

/// One record against the members it names: the counts, its member's hashes and size.
fn check_record<'n>(
    line_no: u64,
    rec: Result<FileRecord, String>,
    by_name: &HashMap<&'n str, (&Entry, &MemberDigest)>,
    counts: &mut Counts,
    described: &mut HashSet<&'n str>,
    bindings: &mut structure::Bindings,
    r: &mut Report,
) {
    let rec = match rec {
        Ok(rec) => rec,
        Err(e) => {
            r.problem("bad_records", format!("{FILES_JSONL}:{line_no}: {e}"));
            return;
        }
    };
    counts.count(&rec);
    bindings.record(&rec);
    let status = rec.status.unwrap_or(Status::Error);
    let target = rec.member.as_ref().or(rec.duplicate_of.as_ref());
    // Only a record with a problem needs its place spelt out.
    let where_ = || format!("{FILES_JSONL}:{line_no} ({})", rec.path.display());
    if matches!(
        status,
        Status::Collected | Status::Changed | Status::Duplicate
    ) && target.is_none()
    {
        r.problem(
            "bad_records",
            format!("{}: status {} without a member", where_(), status.name()),
        );
    }
    let Some(target) = target else { return };
    let Some((&name, (e, d))) = by_name.get_key_value(target.as_str()) else {
        r.problem(
            "missing_member",
            format!("{}: member {target} is missing from the bundle", where_()),
        );
        return;
    };
    if rec.member.is_some() {
        described.insert(name);
    }
    let checks: [Claim<'_>; 3] = [
        ("SHA-256", rec.sha256.as_ref(), Some(&d.sha256[..])),
        ("SHA-1", rec.sha1.as_ref(), d.sha1.as_ref().map(|h| &h[..])),
        ("MD5", rec.md5.as_ref(), d.md5.as_ref().map(|h| &h[..])),
    ];
    for (alg, recorded, actual) in checks {
        match (recorded, actual) {
            (Some(want), Some(have)) if !hex_is(want, have) => r.problem(
                "record_mismatch",
                format!(
                    "{}: recorded {alg} {want} but member {target} has {}",
                    where_(),
                    hex(have)
                ),
            ),
            (None, _) if alg == "SHA-256" => {
                r.problem("bad_records", format!("{}: no SHA-256 recorded", where_()))
            }
            _ => {}
        }
    }
    if rec.member.is_some() && rec.bytes_read != Some(e.size) {
        r.problem(
            "record_mismatch",
            format!(
                "{}: recorded {} bytes read but member {target} holds {}",
                where_(),
                rec.bytes_read.unwrap_or(0),
                e.size
            ),
        );
    }
}

/// Whether `text` is the hex of `bytes`, either case (what `eq_ignore_ascii_case` against
/// `hex(bytes)` says, without making that string for every record).
fn hex_is(text: &str, bytes: &[u8]) -> bool {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    text.len() == bytes.len() * 2
        && text.as_bytes().chunks_exact(2).zip(bytes).all(|(pair, b)| {
            pair[0].to_ascii_lowercase() == DIGITS[usize::from(b >> 4)]
                && pair[1].to_ascii_lowercase() == DIGITS[usize::from(b & 0xf)]
        })
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

#[cfg(test)]
mod tests {
    use super::hex_is;

    #[test]
    fn hex_is_the_case_blind_comparison_with_the_hex_of_the_bytes() {
        let bytes = [0x00, 0x9f, 0xa0, 0xff];
        assert!(hex_is("009fa0ff", &bytes));
        assert!(hex_is("009FA0fF", &bytes));
        assert!(!hex_is("009fa0fe", &bytes));
        assert!(!hex_is("009fa0f", &bytes));
        assert!(!hex_is("009fa0ff00", &bytes));
        assert!(!hex_is("009fa0fg", &bytes));
        // Not hex at all, with the right length (and a multi-byte character).
        assert!(!hex_is("009fa0é", &bytes));
        assert!(hex_is("", &[]));
    }
}
