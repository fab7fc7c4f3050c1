//! The bindings of the bundle's structure to its signed content: the checks that make
//! every header byte either derived from what the signature covers or fixed, beyond the
//! byte-for-byte header comparison in `verify` (which rebuilds each header from the
//! central directory's own values, and so cannot tell a consistently changed value from
//! the recorded one).
//!
//! Owns: member times (each `files/` member carries the modification time its
//! files.jsonl record gives, every other member the manifest's `times.start_utc`), the
//! local header's ZIP64 form (decided by the recorded size), each Deflate member's stored
//! bytes (their size and SHA-256 exactly as `compressed.jsonl` records), the order of members in the
//! file (the central directory's order, which `verify` holds to SHA256SUMS), and the
//! armour of SSHSIG files (byte for byte what fieldkit writes). docs/bundle-format.md
//! ("What binds each byte") lists every field and the rule that binds it. Reads values
//! `verify` already parsed; never opens the bundle itself and never decides a verdict
//! (problems go into the report, which decides).

use std::collections::HashMap;

use ssh_key::{LineEnding, SshSig};

use super::{Entry, MemberDigest, Report};
use crate::bundle::manifest::Manifest;
use crate::bundle::naming::FILES_PREFIX;
use crate::bundle::record::FileRecord;
use crate::bundle::zipwriter;

/// What files.jsonl says about each member it stores: the first record naming it
/// (`member`), as the writer had it when the member was written.
#[derive(Debug, Default)]
pub(super) struct Bindings {
    by_member: HashMap<String, Recorded>,
}

#[derive(Debug, Clone)]
struct Recorded {
    /// The `mtime` text of the record.
    mtime: Option<String>,
    /// The size recorded when the file was opened (the writer's expected size).
    size: Option<u64>,
}

impl Bindings {
    /// Note one files.jsonl record (called for every record, in file order).
    pub(super) fn record(&mut self, rec: &FileRecord) {
        if let Some(m) = &rec.member {
            self.by_member.entry(m.clone()).or_insert_with(|| Recorded {
                mtime: rec.facts.mtime.clone(),
                size: rec.size,
            });
        }
    }
}

/// Every Deflate member's stored bytes are bound by `compressed.jsonl` (itself listed in
/// SHA256SUMS, so signed): the member must be listed, in archive order, with its stored
/// size and the SHA-256 of its stored bytes, and the file must be exactly the writer's for
/// the archive's Deflate members. Content that inflates to the signed hash is not enough:
/// Deflate leaves bits a decoder ignores (padding, a stored block's alignment), and a
/// changed byte there must be caught too. The members a reader needs first are never
/// deflated (`writer::always_stored`).
pub(super) fn check_deflated(
    forms: Option<Result<Vec<u8>, String>>,
    entries: &[Entry],
    digests: &[MemberDigest],
    r: &mut Report,
) {
    use crate::bundle::COMPRESSED_JSONL;
    let mut expected = Vec::new();
    for (e, d) in entries.iter().zip(digests) {
        if e.method != zipwriter::METHOD_DEFLATE {
            continue;
        }
        if crate::bundle::writer::always_stored(&e.name) {
            r.problem(
                "compressed_member",
                format!("member {} is deflated; fieldkit always stores it", e.name),
            );
        }
        expected.push(zipwriter::DeflatedForm {
            name: e.name.to_string(),
            offset: e.header_start,
            csize: e.csize,
            stored_sha256: d.stored_sha256.unwrap_or_default(),
        });
    }
    let have = match forms {
        None if expected.is_empty() => return,
        None => {
            r.problem(
                "unbound_compression",
                format!(
                    "{} member(s) are deflated (first: {}) but the bundle has no \
                     {COMPRESSED_JSONL} binding their stored bytes",
                    expected.len(),
                    expected[0].name
                ),
            );
            return;
        }
        Some(Err(e)) => {
            r.problem("bad_compressed_record", e);
            return;
        }
        Some(Ok(b)) => b,
    };
    let want = crate::bundle::writer::compressed_jsonl(&expected);
    if have == want.as_bytes() {
        return;
    }
    let text = String::from_utf8_lossy(&have);
    let mut lines = text.lines();
    for (i, f) in expected.iter().enumerate() {
        let line = crate::bundle::writer::compressed_jsonl(std::slice::from_ref(f));
        match lines.next() {
            Some(l) if l == line.trim_end() => continue,
            Some(l) => {
                let recorded: Option<serde_json::Value> = serde_json::from_str(l).ok();
                let field = |k: &str| {
                    recorded
                        .as_ref()
                        .and_then(|v| v.get(k))
                        .map(|v| match v.as_str() {
                            Some(s) => s.to_string(),
                            None => v.to_string(),
                        })
                        .unwrap_or_else(|| "nothing".into())
                };
                r.problem(
                    "stored_bytes_mismatch",
                    format!(
                        "member {}: its stored (Deflate) bytes are {} bytes with SHA-256 {}; \
                         {COMPRESSED_JSONL} line {} records {} for {} bytes with SHA-256 {}",
                        f.name,
                        f.csize,
                        crate::hashing::hex(&f.stored_sha256),
                        i + 1,
                        field("member"),
                        field("stored_size"),
                        field("stored_sha256"),
                    ),
                );
                return;
            }
            None => {
                r.problem(
                    "unbound_compression",
                    format!(
                        "member {} is deflated but {COMPRESSED_JSONL} ends before it",
                        f.name
                    ),
                );
                return;
            }
        }
    }
    r.problem(
        "bad_compressed_record",
        format!(
            "{COMPRESSED_JSONL} lists more than the {} deflated member(s) of the archive, or \
             is not in the form fieldkit writes",
            expected.len()
        ),
    );
}

/// The members in central directory order (the order SHA256SUMS lists) must lie in the
/// file in that order: a forger who moves members around, rebuilding every offset, would
/// otherwise keep every header and hash intact.
pub(super) fn check_file_order(entries_in_cd_order: &[Entry], r: &mut Report) {
    for w in entries_in_cd_order.windows(2) {
        if w[1].header_start <= w[0].header_start {
            r.problem(
                "member_order",
                format!(
                    "member {} lies at offset {}, before member {} (offset {}) that precedes \
                     it in the central directory and {}: fieldkit writes members in that order",
                    w[1].name,
                    w[1].header_start,
                    w[0].name,
                    w[0].header_start,
                    crate::bundle::SUMS
                ),
            );
            return;
        }
    }
}

/// Times and the local header form of every member, against what the signed records
/// say. `entries`: the members whose headers were read (each header is already known to be
/// exactly the writer's for the values in it); `manifest`: None when it is missing or
/// unreadable (reported elsewhere; members outside `files/` are then not checked here).
pub(super) fn check_headers(
    entries: &[Entry],
    bindings: &Bindings,
    manifest: Option<&Manifest>,
    r: &mut Report,
) {
    let start = manifest.map(|m| m.times.start_utc.as_str());
    for e in entries {
        let (recorded_time, expected_size, source) = if e.name.starts_with(FILES_PREFIX) {
            // A member no record describes is reported as `undescribed_member`.
            let Some(rec) = bindings.by_member.get(&*e.name) else {
                continue;
            };
            (
                rec.mtime.as_deref(),
                rec.size.unwrap_or(e.size),
                "its files.jsonl record's mtime",
            )
        } else {
            let Some(start) = start else { continue };
            (
                Some(start),
                e.size,
                "the manifest's start time (times.start_utc, carried by every member outside files/),",
            )
        };
        let t = zipwriter::header_time(recorded_time);
        let want_ext = t.filter(|t| i32::try_from(*t).is_ok());
        let want_dos = zipwriter::dos_datetime(t);
        if e.mtime != want_ext || (e.dos_time, e.dos_date) != want_dos {
            r.problem(
                "header_time",
                format!(
                    "member {}: its headers carry the time {}, but {source} {} makes fieldkit \
                     write {}",
                    e.name,
                    describe_time(e.mtime, e.dos_time, e.dos_date),
                    recorded_time.unwrap_or("absent"),
                    describe_time(want_ext, want_dos.0, want_dos.1),
                ),
            );
        }
        let zip64 = zipwriter::local_zip64(expected_size, e.size);
        // A central record that is not the writer's for either form is reported already.
        if e.local_forms != [false, false] && !e.local_forms[zip64 as usize] {
            r.problem(
                "altered_header",
                format!(
                    "member {}: its local header {} ZIP64 sizes, but fieldkit writes them \
                     exactly for a member recorded at 2 GiB or more or holding 4 GiB or more, \
                     and this one is recorded at {expected_size} bytes and holds {}",
                    e.name,
                    if zip64 { "lacks" } else { "carries" },
                    e.size
                ),
            );
        }
    }
}

/// `2026-12-03T08:42:52Z (DOS 2026-12-03 08:42:52)` or `DOS … and no extended timestamp`.
fn describe_time(ext: Option<i64>, dos_time: u16, dos_date: u16) -> String {
    let dos = format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        1980 + (dos_date >> 9),
        (dos_date >> 5) & 15,
        dos_date & 31,
        dos_time >> 11,
        (dos_time >> 5) & 63,
        (dos_time & 31) * 2
    );
    match ext.and_then(|t| jiff::Timestamp::from_second(t).ok()) {
        Some(ts) => format!("{ts} (DOS {dos})"),
        None => format!("DOS {dos} and no extended timestamp"),
    }
}

/// An SSHSIG file must be exactly the armour fieldkit writes: `-----BEGIN SSH
/// SIGNATURE-----`, the blob in 70-column base64 lines, `-----END SSH SIGNATURE-----`,
/// each line ending in one LF, nothing before or after. Anything else is bytes the
/// signature does not cover (a hidden payload, or a form `ssh-keygen` reads differently).
/// A file that is not an SSH signature at all is left to the signature check.
pub(super) fn check_armour(what: &str, pem: &[u8], r: &mut Report) {
    let Ok(sig) = SshSig::from_pem(pem) else {
        return;
    };
    let Ok(canonical) = sig.to_pem(LineEnding::LF) else {
        return;
    };
    if let Some(how) = armour_difference(pem, canonical.as_bytes()) {
        r.problem(
            "signature_armour",
            format!(
                "{what}: not the canonical armour fieldkit writes (BEGIN line, 70-column \
                 base64 lines, END line, each ending in one LF, nothing else): {how}"
            ),
        );
    }
}

/// How `have` differs from the canonical armour `want`, or None when they are equal.
fn armour_difference(have: &[u8], want: &[u8]) -> Option<String> {
    if have == want {
        return None;
    }
    const BEGIN: &[u8] = b"-----BEGIN SSH SIGNATURE-----";
    const END: &[u8] = b"-----END SSH SIGNATURE-----";
    let find = |needle: &[u8]| have.windows(needle.len()).position(|w| w == needle);
    let mut how = Vec::new();
    match find(BEGIN) {
        Some(0) | None => {}
        Some(n) => how.push(format!("{n} bytes before the BEGIN line")),
    }
    if have.contains(&b'\r') {
        how.push("CR characters (CRLF line ends?)".to_string());
    }
    if let Some(at) = find(END) {
        let after = &have[at + END.len()..];
        let after = after
            .strip_prefix(b"\r\n")
            .or_else(|| after.strip_prefix(b"\n"))
            .unwrap_or(after);
        if !have[at..].contains(&b'\n') {
            how.push("no newline after the END line".to_string());
        } else if !after.is_empty() {
            how.push(format!("{} bytes after the END line", after.len()));
        }
    }
    if how.is_empty() {
        let i = have
            .iter()
            .zip(want)
            .position(|(a, b)| a != b)
            .unwrap_or(have.len().min(want.len()));
        how.push(format!(
            "differs from byte {i} ({} bytes, the canonical form has {}; line width or \
             whitespace?)",
            have.len(),
            want.len()
        ));
    }
    Some(how.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn armour_differences_are_named() {
        let want = b"-----BEGIN SSH SIGNATURE-----\nAAAA\n-----END SSH SIGNATURE-----\n";
        assert_eq!(armour_difference(want, want), None);
        let crlf = b"-----BEGIN SSH SIGNATURE-----\r\nAAAA\r\n-----END SSH SIGNATURE-----\r\n";
        assert!(armour_difference(crlf, want).unwrap().contains("CR"));
        let head = [&b"junk\n"[..], want].concat();
        assert!(
            armour_difference(&head, want)
                .unwrap()
                .contains("5 bytes before")
        );
        let no_nl = &want[..want.len() - 1];
        assert!(
            armour_difference(no_nl, want)
                .unwrap()
                .contains("no newline")
        );
        let tail = [want, &b"x\n"[..]].concat();
        assert!(
            armour_difference(&tail, want)
                .unwrap()
                .contains("2 bytes after")
        );
        let wide = b"-----BEGIN SSH SIGNATURE-----\nAA\nAA\n-----END SSH SIGNATURE-----\n";
        assert!(
            armour_difference(wide, want)
                .unwrap()
                .contains("differs from byte 32")
        );
    }

    #[test]
    fn times_are_described_with_both_forms() {
        let (t, d) = zipwriter::dos_datetime(Some(1_700_000_000));
        assert_eq!(
            describe_time(Some(1_700_000_000), t, d),
            "2023-11-14T22:13:20Z (DOS 2023-11-14 22:13:20)"
        );
        assert_eq!(
            describe_time(None, 0, 33),
            "DOS 1980-01-01 00:00:00 and no extended timestamp"
        );
    }
}
