//! Verification: everything a court-appointed expert would check, in one pass over the
//! bundle, with a specific message for every way it can fail.
//!
//! Owns the verdict on a bundle: the ZIP structure (read with the independent `zip`
//! crate, plus our own check that every local header, central directory record and the
//! end records are byte for byte what fieldkit's writer makes of the recorded values, and
//! that members tile the file with nothing hidden between them), whether the file was
//! ever finalized (end records of its own at its very end; never under a name of the
//! lifecycle, whose state it names: `bundle::lifecycle`), member names by the rule
//! extract shares (`naming::check_member_name`, `naming::clashes`), SHA256SUMS
//! both ways and in archive order, every member's
//! SHA-256 and CRC-32, every files.jsonl hash against the stored content, the manifest's
//! counts, the SSHSIG signatures (SHA256SUMS.sig and the `.zip.sig` sidecar) against the
//! trusted keys, and the `.zip.sha256` sidecar. Reads only; never modifies or extracts.
//! Tampering can only ever produce `invalid`: no check is skipped because an earlier one
//! passed. Never trusts a size or offset from the archive: sums are checked, a size beyond
//! the file is a problem, and every read loop stops at its first error — a damaged input
//! must end in a verdict, never a hang or a panic.
//!
//! Split along what is read: `zip_read` (end records, central directory, local headers,
//! the hashing pass), `structure` (what binds each header byte), `records` (files.jsonl
//! and the manifest's counts), `sidecar_check` (the files beside the bundle); this file
//! holds the verdict, the report and the order of the checks.

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;
use ssh_key::PublicKey;

use super::input::BundleInput;
use super::lifecycle;
use super::manifest::{Case, Counts, Manifest};
use super::record::{FileRecord, Status};
use super::zipwriter;
use super::{ACTIONS_JSONL, FILES_JSONL, MANIFEST, SIGNER_PUB, SUMS, SUMS_SIG};
use crate::hashing::{AlgSet, MultiHasher, hex};
use crate::sign;

pub use super::trust::{Trust, TrustReport, TrustState};

mod records;
mod sidecar_check;
mod structure;
mod zip_read;

pub mod early;
use records::check_records;
use sidecar_check::check_sidecars;
use zip_read::*;

#[derive(Debug, Clone)]
pub struct Options {
    pub trust: Trust,
    /// Check `<bundle>.sha256` and `<bundle>.sig` beside the bundle when present.
    pub check_sidecars: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Every check passed and the run completed.
    Valid,
    /// Every check passed, but the manifest says the run did not complete (interrupted).
    ValidIncomplete,
    /// Something does not match: tampered or damaged.
    Invalid,
    /// Every check passed, but the signature is by a key that is not the one trusted
    /// (`--pubkey`, `--allowed-signers`, `--fingerprint`): not tampering, not evidence
    /// from that key either.
    WrongKey,
    /// Not finished: no central directory of its own (killed, disk full, truncated), or
    /// a name of the lifecycle (`NAME.zip.part`, `NAME.zip.verified.part`), whose state
    /// `Report::state` names.
    NotFinalized,
    /// Not a file we can read as a bundle at all.
    Unusable,
}

impl Verdict {
    /// The documented exit code of `fieldkit verify`.
    pub fn exit_code(self) -> u8 {
        match self {
            Verdict::Valid => 0,
            Verdict::Invalid => 1,
            Verdict::Unusable => 2,
            Verdict::NotFinalized => 3,
            Verdict::ValidIncomplete => 4,
            Verdict::WrongKey => 5,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Problem {
    pub code: &'static str,
    pub message: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub bundle: String,
    pub verdict: Verdict,
    /// For a bundle not under its final name (`not_finalized`): the lifecycle state it
    /// is in (`bundle::lifecycle`, docs/bundle-format.md "Lifecycle").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    pub problems: Vec<Problem>,
    pub notes: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bundle_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub incomplete_reason: Option<String>,
    /// SHA-256 of the whole bundle file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    pub size: u64,
    pub members: usize,
    pub records: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signer_fingerprint: Option<String>,
    /// Who signed, and whether that is a key the examiner trusts.
    pub trust: TrustReport,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub case: Option<Case>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub counts: Option<Counts>,
    #[serde(skip)]
    pub whole_sha256: Option<[u8; 32]>,
    /// Verify-after-write: the bytes from the start of the file that were read back
    /// from the device while the collection was still running (`early`); the rest was
    /// read after sealing.
    #[serde(skip_serializing_if = "is_zero")]
    pub read_back_early: u64,
    /// Those early bytes came through `O_DIRECT`, never from the page cache.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub read_back_early_direct: bool,
    /// Encrypted bundles: SHA-256 of the plain archive inside (what `age -d` gives).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inner_sha256: Option<String>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl Report {
    fn new(path: &Path) -> Self {
        Report {
            bundle: path.display().to_string(),
            verdict: Verdict::Valid,
            state: None,
            problems: Vec::new(),
            notes: Vec::new(),
            bundle_id: None,
            status: None,
            incomplete_reason: None,
            sha256: None,
            size: 0,
            members: 0,
            records: 0,
            signer_fingerprint: None,
            trust: TrustReport::default(),
            case: None,
            counts: None,
            whole_sha256: None,
            read_back_early: 0,
            read_back_early_direct: false,
            inner_sha256: None,
        }
    }

    fn problem(&mut self, code: &'static str, message: impl Into<String>) {
        self.problems.push(Problem {
            code,
            message: message.into(),
        });
    }

    fn finish(mut self, fatal: Option<Verdict>) -> Self {
        self.verdict = match fatal {
            Some(v) => v,
            None if !self.problems.is_empty() => Verdict::Invalid,
            // Intact, but not signed by the key the examiner trusts (complete or not).
            None if self.trust.state == TrustState::WrongKey => Verdict::WrongKey,
            None if self.status.as_deref() == Some("complete") => Verdict::Valid,
            None => Verdict::ValidIncomplete,
        };
        self
    }
}

/// Sidecar paths: `<bundle>.sha256` and `<bundle>.sig`.
pub fn sidecar_paths(bundle: &Path) -> (PathBuf, PathBuf) {
    super::sidecars::by_name(bundle)
}
/// Verify the bundle at `path`.
pub fn verify(path: &Path, opts: &Options) -> Report {
    verify_with(path, opts, &[])
}

/// Verify the bundle at `path`; an encrypted one (`NAME.zip.age`) is decrypted on the
/// fly with `identities` (bundle::input), and everything below is checked on the plain
/// archive inside it, the sidecars against the encrypted file.
pub fn verify_with(path: &Path, opts: &Options, identities: &[super::age::Identity]) -> Report {
    verify_inner(path, opts, identities, lifecycle::stage_of(path), None)
}

/// Verify-after-write: the content of a sealed archive that does not have its final name
/// yet (`NAME.zip.part`), checked as if it had (collect gives it that name only after).
pub fn verify_written(path: &Path, opts: &Options, identities: &[super::age::Identity]) -> Report {
    verify_written_after(path, opts, identities, None)
}

/// `verify_written`, resuming the pass over every byte where the early read-back
/// (`early`, made while the archive was written) stopped, when it lines up.
pub fn verify_written_after(
    path: &Path,
    opts: &Options,
    identities: &[super::age::Identity],
    early: Option<early::Prefix>,
) -> Report {
    verify_inner(
        path,
        opts,
        identities,
        (lifecycle::Stage::Final, lifecycle::Names::new(path)),
        early,
    )
}

/// A bundle not under its final name: exit 3, with the state its name, its sidecars
/// and (`sealed`) its content show. Problems found in the content stay listed; none
/// found is said in a note.
fn unfinished(
    mut r: Report,
    path: &Path,
    stage: lifecycle::Stage,
    names: &lifecycle::Names,
    sealed: Option<bool>,
) -> Report {
    if let Some(state) = lifecycle::state(stage, sealed, names) {
        if sealed == Some(true) && r.problems.is_empty() {
            r.notes.push(
                "the sealed archive itself checks out (every check above passed): it only \
                 lacks the finalization steps named in the problem"
                    .into(),
            );
        }
        r.problems.insert(
            0,
            Problem {
                code: "not_finalized",
                message: format!(
                    "{}: not finalized: {} (docs/bundle-format.md, \"Lifecycle\")",
                    path.display(),
                    state.description
                ),
            },
        );
        r.state = Some(state.code);
    }
    r.finish(Some(Verdict::NotFinalized))
}

fn verify_inner(
    path: &Path,
    opts: &Options,
    identities: &[super::age::Identity],
    (stage, life): (lifecycle::Stage, lifecycle::Names),
    early: Option<early::Prefix>,
) -> Report {
    let mut r = Report::new(path);
    r.trust = opts.trust.describe();
    let part = stage != lifecycle::Stage::Final;
    let encrypted = super::input::is_encrypted(path)
        || (part && life.final_name().to_ascii_lowercase().ends_with(".age"));
    let opened = if encrypted {
        if identities.is_empty() {
            if part {
                let sealed = (stage == lifecycle::Stage::Verified).then_some(true);
                r.notes.push(
                    "encrypted: give --identity-file with a key it is encrypted to, to check \
                     its content"
                        .into(),
                );
                return unfinished(r, path, stage, &life, sealed);
            }
            r.problem(
                "encrypted",
                format!(
                    "{}: an encrypted bundle (age): give --identity-file with a key it is \
                     encrypted to",
                    path.display()
                ),
            );
            return r.finish(Some(Verdict::Unusable));
        }
        match BundleInput::open_encrypted(path, identities) {
            Ok(i) => Ok(i),
            // An unfinished file whose encryption does not end in its last chunk was
            // never sealed (or was damaged since).
            Err(super::age::OpenError::Damaged(e) | super::age::OpenError::Format(e)) if part => {
                r.notes.push(format!("{}: {e}", path.display()));
                return unfinished(r, path, stage, &life, Some(false));
            }
            Err(super::age::OpenError::NoIdentity(e)) if part => {
                r.notes.push(format!("{}: {e}", path.display()));
                return unfinished(
                    r,
                    path,
                    stage,
                    &life,
                    (stage == lifecycle::Stage::Verified).then_some(true),
                );
            }
            Err(super::age::OpenError::Damaged(e)) => {
                r.problem("encrypted_damaged", format!("{}: {e}", path.display()));
                return r.finish(Some(Verdict::Invalid));
            }
            Err(super::age::OpenError::NoIdentity(e)) => {
                r.problem("cannot_decrypt", format!("{}: {e}", path.display()));
                return r.finish(Some(Verdict::Unusable));
            }
            Err(super::age::OpenError::Format(e)) => {
                r.problem("not_age", format!("{}: {e}", path.display()));
                return r.finish(Some(Verdict::Unusable));
            }
            Err(super::age::OpenError::Io(e)) => Err(e),
        }
    } else {
        BundleInput::open_plain(path)
    };
    let mut file = match opened {
        Ok(f) => f,
        Err(e) => {
            r.problem("unreadable", format!("{}: {e}", path.display()));
            return r.finish(Some(Verdict::Unusable));
        }
    };
    let len = match file.is_file().and_then(|f| Ok((f, file.byte_len()?))) {
        Ok((true, len)) => len,
        Ok((false, _)) => {
            r.problem(
                "not_a_file",
                format!("{}: not a regular file", path.display()),
            );
            return r.finish(Some(Verdict::Unusable));
        }
        Err(e) => {
            r.problem("unreadable", format!("{}: {e}", path.display()));
            return r.finish(Some(Verdict::Unusable));
        }
    };
    r.size = len;
    let not_finalized = |mut r: Report, why: String| {
        r.problem(
            "not_finalized",
            format!(
                "{}: {why}: the bundle was never finalized (the run was killed, or the disk \
                 filled) or the file is truncated or its end records are damaged",
                path.display()
            ),
        );
        r.finish(Some(Verdict::NotFinalized))
    };
    let mut head = [0u8; 4];
    let starts_like_zip =
        len >= 4 && file.read_exact(&mut head).is_ok() && head == [0x50, 0x4b, 0x03, 0x04];
    // fieldkit never writes an archive comment: its end records are the file's last bytes
    // and describe the central directory right before them. A record that describes some
    // other directory belongs to a ZIP file stored as a member (a .docx, a .jar) at the
    // point where a killed run stopped writing.
    let end = match find_end_records(&mut file, len) {
        Ok(end) => end,
        Err(e) => {
            r.problem("unreadable", format!("{}: {e}", path.display()));
            return r.finish(Some(Verdict::Unusable));
        }
    };
    match end {
        Some(e) if e.is_own() => {}
        // Under a name of the lifecycle (NAME.zip.part, …): whatever it holds (nothing at
        // all after a kill before the first write), it was never sealed.
        _ if part => return unfinished(r, path, stage, &life, Some(false)),
        Some(e) if starts_like_zip => {
            return not_finalized(
                r,
                format!(
                    "no end-of-central-directory record of its own (the one at offset {} \
                     describes a central directory that is not there: it belongs to a ZIP \
                     file stored inside)",
                    e.eocd
                ),
            );
        }
        // Not starting with a local header: prepended data, reported below.
        Some(_) => {}
        None if starts_like_zip => {
            return not_finalized(r, "no end-of-central-directory record".into());
        }
        None => {
            r.problem("not_a_zip", format!("{}: not a ZIP file", path.display()));
            return r.finish(Some(Verdict::Unusable));
        }
    }
    let mut archive = match file
        .try_clone()
        .map_err(zip::result::ZipError::Io)
        .map(|f| BufReader::with_capacity(64 * 1024, f))
        .and_then(zip::ZipArchive::new)
    {
        Ok(a) => a,
        Err(e) => {
            r.problem("corrupt_zip", format!("ZIP structure is damaged: {e}"));
            return r.finish(None);
        }
    };
    if archive.offset() != 0 {
        r.problem(
            "prepended_data",
            format!(
                "{} bytes of unknown data precede the archive",
                archive.offset()
            ),
        );
    }
    if end.is_some_and(|e| e.trailing > 0) {
        r.problem(
            "trailing_data",
            "data follows the end-of-central-directory record (or an archive comment was added)",
        );
    }

    let cd_start = archive.central_directory_start();
    let records = match read_central_directory(&mut file, cd_start) {
        Ok((recs, cd_end)) => {
            // The end records must be exactly the writer's for this central directory.
            let want = zipwriter::end_records_bytes(recs.len() as u64, cd_start, cd_end);
            let have = len
                .checked_sub(cd_end)
                .map(|n| n.min(want.len() as u64) as usize)
                .and_then(|n| read_at(&mut file, cd_end, n).ok())
                .unwrap_or_default();
            if have != want {
                r.problem(
                    "bad_end_record",
                    format!(
                        "the end records after the central directory (offset {cd_end}) are not \
                         the ones its {} records and {} bytes require",
                        recs.len(),
                        cd_end - cd_start
                    ),
                );
            }
            recs
        }
        Err(e) => {
            r.problem(
                "corrupt_zip",
                format!("cannot read the central directory: {e}"),
            );
            Vec::new()
        }
    };
    let mut counts: HashMap<&[u8], usize> = HashMap::new();
    for rec in &records {
        *counts.entry(rec.name_raw.as_slice()).or_default() += 1;
    }
    let mut dups: Vec<String> = counts
        .iter()
        .filter(|(_, c)| **c > 1)
        .map(|(n, _)| String::from_utf8_lossy(n).into_owned())
        .collect();
    dups.sort();
    for d in dups {
        r.problem(
            "duplicate_member",
            format!("member {d} appears twice in the central directory"),
        );
    }
    if records.len() < archive.len() {
        r.problem(
            "corrupt_zip",
            format!(
                "the central directory holds {} readable records, the ZIP reader counts {}",
                records.len(),
                archive.len()
            ),
        );
    }

    // Entries, checked against their local headers (in the sequential pass) and for tiling.
    let mut entries = Vec::with_capacity(records.len());
    for (i, rec) in records.into_iter().enumerate() {
        let CdRecord {
            name_raw,
            method,
            crc,
            csize,
            size,
            header_start,
            dos_time,
            dos_date,
            mtime,
            local_forms,
            noncanonical,
        } = rec;
        let name: Arc<str> = match String::from_utf8(name_raw.clone()) {
            Ok(s) => s.into(),
            Err(_) => {
                r.problem(
                    "bad_member_name",
                    format!("member {i} has a name that is not UTF-8"),
                );
                String::from_utf8_lossy(&name_raw).into_owned().into()
            }
        };
        // Stored (method 0, both sizes equal) or Deflate (method 8, bound by
        // compressed.jsonl below); nothing else is ever written.
        if (method == zipwriter::METHOD_STORED && csize != size)
            || (method != zipwriter::METHOD_STORED && method != zipwriter::METHOD_DEFLATE)
        {
            r.problem(
                "compressed_member",
                format!(
                    "member {name} is compressed with method {method} (sizes {csize}/{size}); \
                     fieldkit stores members or deflates them (method 8)"
                ),
            );
        }
        if let Some(field) = noncanonical {
            r.problem(
                "altered_header",
                format!(
                    "member {name}: its central directory record is not the one fieldkit \
                     writes for it (differs in its {field})"
                ),
            );
        }
        // Local header (at least 30 bytes and the name) and data must end before the
        // central directory; sizes come from the archive, so the sum is checked.
        let data_end = header_start
            .checked_add(30 + name_raw.len() as u64)
            .and_then(|x| x.checked_add(csize));
        if data_end.is_none_or(|end| end > cd_start) || csize > len {
            r.problem(
                "impossible_size",
                format!(
                    "member {name}: the central directory gives it {size} bytes (compressed \
                     {csize}) at offset {header_start}, which does not fit in the {len}-byte \
                     file before its central directory (offset {cd_start})"
                ),
            );
        }
        // The canonical-name rule extract applies too: what it refuses never verifies.
        if let Err(why) = super::naming::check_member_name(&name) {
            r.problem("unsafe_member_name", why);
        }
        entries.push(Entry {
            name,
            name_raw,
            header_start,
            data_start: 0,
            size,
            crc,
            method,
            csize,
            dos_time,
            dos_date,
            mtime,
            local_forms,
            fits: data_end.is_some_and(|end| end <= cd_start),
        });
    }
    r.members = entries.len();
    structure::check_file_order(&entries, &mut r);
    // Names that unpack to one path where case is ignored, or a file that is another
    // member's directory (exact duplicates are reported above).
    for c in super::naming::clashes(entries.iter().map(|e| &*e.name)) {
        if !matches!(c, super::naming::Clash::Duplicate(_)) {
            r.problem("clashing_member_names", c.to_string());
        }
    }
    let archive_order: Vec<Arc<str>> = entries.iter().map(|e| e.name.clone()).collect();
    entries.sort_by_key(|e| e.header_start);
    // Required members.
    let names: HashSet<&str> = entries.iter().map(|e| &*e.name).collect();
    for required in [MANIFEST, FILES_JSONL, ACTIONS_JSONL, SUMS, SUMS_SIG] {
        if !names.contains(required) {
            r.problem(
                "missing_member",
                format!("required member {required} is missing"),
            );
        }
    }

    // The stored forms of Deflate members, checked after the pass over every byte.
    let forms = names
        .contains(super::COMPRESSED_JSONL)
        .then(|| read_member(&mut archive, super::COMPRESSED_JSONL));

    // SHA256SUMS, its order, its signature.
    let sums_bytes = read_member(&mut archive, SUMS).unwrap_or_default();
    let sums = match std::str::from_utf8(&sums_bytes)
        .map_err(|e| e.to_string())
        .and_then(parse_sums)
    {
        Ok(s) => s,
        Err(e) => {
            if names.contains(SUMS) {
                r.problem("bad_sums", format!("{SUMS}: {e}"));
            }
            Vec::new()
        }
    };
    let listed: HashMap<&str, [u8; 32]> = sums.iter().map(|(n, d)| (n.as_str(), *d)).collect();
    for (name, _) in &sums {
        if !names.contains(name.as_str()) {
            r.problem(
                "missing_member",
                format!("member {name} is listed in {SUMS} but missing from the bundle"),
            );
        }
        if name == SUMS || name == SUMS_SIG {
            r.problem(
                "bad_sums",
                format!("{SUMS} lists {name}, which it cannot cover"),
            );
        }
    }
    for name in &archive_order {
        if !listed.contains_key(&**name) && &**name != SUMS && &**name != SUMS_SIG {
            r.problem(
                "unlisted_member",
                format!("member {name} is not listed in {SUMS} (added after signing?)"),
            );
        }
    }
    let expected_order: Vec<&str> = sums
        .iter()
        .map(|(n, _)| n.as_str())
        .chain([SUMS, SUMS_SIG])
        .collect();
    let actual_order: Vec<&str> = archive_order.iter().map(|n| &**n).collect();
    if expected_order.len() == actual_order.len()
        && expected_order.iter().collect::<HashSet<_>>()
            == actual_order.iter().collect::<HashSet<_>>()
        && let Some(i) = expected_order
            .iter()
            .zip(&actual_order)
            .position(|(a, b)| a != b)
    {
        r.problem(
            "member_order",
            format!(
                "member order differs from {SUMS}: position {} holds {} where {SUMS} lists {}",
                i + 1,
                actual_order[i],
                expected_order[i]
            ),
        );
    }

    let signer_pub = read_member(&mut archive, SIGNER_PUB).ok();
    let embedded_key = signer_pub.as_ref().and_then(|b| {
        std::str::from_utf8(b)
            .ok()
            .and_then(|t| PublicKey::from_openssh(t.trim()).ok())
    });
    if signer_pub.is_some() && embedded_key.is_none() {
        r.problem(
            "bad_signer_pub",
            format!("{SIGNER_PUB} is not an OpenSSH public key"),
        );
    }
    // The signature is checked with the key it names; whether that key is trusted is a
    // separate question (trust.rs): a sound signature by another key is not tampering.
    // Self-attested, the key must be the bundle's own signer.pub.
    let own: Vec<PublicKey> = match &opts.trust {
        Trust::SelfAttested => embedded_key.iter().cloned().collect(),
        _ => Vec::new(),
    };
    if matches!(opts.trust, Trust::SelfAttested) && embedded_key.is_none() {
        r.notes.push(format!("no {SIGNER_PUB} in the bundle: any key's signature is accepted; pass --fingerprint, --pubkey or --allowed-signers"));
    }
    let mut signer_key = None;
    let sig_member = read_member(&mut archive, SUMS_SIG);
    if let Ok(pem) = &sig_member {
        structure::check_armour(SUMS_SIG, pem, &mut r);
    }
    match sig_member {
        Ok(pem) => match sign::verify(&pem, sign::Message::Bytes(&sums_bytes), &own) {
            Ok(key) => {
                r.signer_fingerprint = Some(sign::fingerprint_of(&key));
                if let Some(e) = &embedded_key
                    && e.key_data() != key.key_data()
                {
                    r.problem(
                        "signer_mismatch",
                        format!(
                            "{SUMS_SIG} is signed by {}, but {SIGNER_PUB} holds {}",
                            sign::fingerprint_of(&key),
                            sign::fingerprint_of(e)
                        ),
                    );
                }
                signer_key = Some(key);
            }
            Err(p) => r.problem("bad_signature", format!("{SUMS_SIG}: {p}")),
        },
        Err(e) if names.contains(SUMS_SIG) => r.problem("bad_signature", e),
        Err(_) => {}
    }
    r.trust = opts
        .trust
        .evaluate(signer_key.as_ref(), sign::allowed_signers::now());
    r.notes.extend(r.trust.warnings.iter().cloned());

    // Manifest.
    let manifest: Option<Manifest> = match read_member(&mut archive, MANIFEST) {
        Ok(b) => match serde_json::from_slice::<Manifest>(&b) {
            Ok(m) => Some(m),
            Err(e) => {
                r.problem("bad_manifest", format!("{MANIFEST}: {e}"));
                None
            }
        },
        Err(e) => {
            if names.contains(MANIFEST) {
                r.problem("bad_manifest", e);
            }
            None
        }
    };
    let mut algs = AlgSet::default();
    if let Some(m) = &manifest {
        if m.format != super::manifest::FORMAT {
            r.problem(
                "bad_manifest",
                format!(
                    "{MANIFEST}: format is {:?}, not {:?}",
                    m.format,
                    super::manifest::FORMAT
                ),
            );
        }
        if m.format_version > super::manifest::FORMAT_VERSION {
            r.notes.push(format!(
                "bundle format version {} is newer than this fieldkit reads ({})",
                m.format_version,
                super::manifest::FORMAT_VERSION
            ));
        }
        r.bundle_id = Some(m.bundle_id.clone());
        // fieldkit names a bundle …_<first 8 characters of its id>.zip.
        let file = life.final_name();
        let short = m.bundle_id.get(..8).unwrap_or(&m.bundle_id);
        if !short.is_empty() && !file.contains(short) {
            r.notes.push(format!(
                "the file name {file} does not carry this bundle's id {} (fieldkit ends a \
                 bundle's name with the id's first 8 characters): renamed since, or named \
                 after another bundle",
                m.bundle_id
            ));
        }
        r.status = Some(m.status.clone());
        r.incomplete_reason = m.incomplete_reason.clone();
        r.case = Some(m.case.clone());
        r.counts = Some(m.counts.clone());
        algs = AlgSet::parse(&m.hash_algorithms.join(",")).unwrap_or_default();
        if let (Some(fp), false) = (&r.signer_fingerprint, m.signer.fingerprint.is_empty())
            && *fp != m.signer.fingerprint
        {
            r.problem(
                "signer_mismatch",
                format!(
                    "signed by {fp}, but the manifest records signer {}",
                    m.signer.fingerprint
                ),
            );
        }
        if !matches!(m.status.as_str(), "complete" | "incomplete") {
            r.problem(
                "bad_manifest",
                format!("{MANIFEST}: unknown status {:?}", m.status),
            );
        }
    }

    // The one pass over every byte.
    let entries: Vec<Entry> = entries.into_iter().filter(|e| e.fits).collect();
    // The prefix is consumed here: its kept headers are freed as they become passes
    // (at a million members they are ~0.3 KB each).
    let had_early = early.is_some();
    let early_direct = early.as_ref().is_some_and(|p| p.direct);
    let resumed = early.and_then(|p| early::resume(p, &entries, algs, len));
    let pass = match resumed {
        Some((start, whole, mut passes)) => {
            r.read_back_early = start;
            r.read_back_early_direct = early_direct;
            let rest = &entries[passes.len()..];
            stream_pass(&mut file, len, rest, algs, start, whole).map(|(w, more)| {
                passes.extend(more);
                (w, passes)
            })
        }
        None => {
            if had_early {
                r.notes.push(
                    "what was read back while the bundle was written does not line up with \
                     its central directory: the whole bundle was read back again"
                        .into(),
                );
            }
            stream_pass(&mut file, len, &entries, algs, 0, Default::default())
        }
    };
    let (whole, passes) = match pass {
        Ok(x) => x,
        Err(e) => {
            r.problem("unreadable", format!("reading {}: {e}", path.display()));
            return r.finish(Some(Verdict::Unusable));
        }
    };
    let mut digests = Vec::with_capacity(entries.len());
    let mut checked = Vec::with_capacity(entries.len());
    for (mut e, p) in entries.into_iter().zip(passes) {
        match p.local {
            Some(Ok(ds)) => {
                if let Some(msg) = p.altered {
                    r.problem("altered_header", format!("member {}: {msg}", e.name));
                }
                e.data_start = ds;
                checked.push(e);
                digests.push(p.digest);
            }
            Some(Err(msg)) => {
                r.problem("local_header_mismatch", format!("member {}: {msg}", e.name));
            }
            None => r.problem(
                "local_header_mismatch",
                format!("member {}: never reached", e.name),
            ),
        }
    }
    let entries = checked;
    let mut pos = 0u64;
    for e in &entries {
        if e.header_start > pos {
            r.problem(
                "hidden_data",
                format!(
                    "{} unaccounted bytes at offset {pos} (before member {})",
                    e.header_start - pos,
                    e.name
                ),
            );
        } else if e.header_start < pos {
            r.problem(
                "overlapping_members",
                format!(
                    "member {} overlaps the previous member at offset {}",
                    e.name, e.header_start
                ),
            );
        }
        // data_start and size fit in the file (checked above), but the sum is still taken
        // with checked arithmetic: offsets and sizes come from the archive.
        match e.data_start.checked_add(e.csize) {
            Some(end) => pos = pos.max(end),
            None => r.problem(
                "impossible_size",
                format!(
                    "member {}: data at offset {} with {} bytes ends beyond any file",
                    e.name, e.data_start, e.csize
                ),
            ),
        }
    }
    if !entries.is_empty() && archive.central_directory_start() != pos {
        r.problem(
            "hidden_data",
            format!(
                "the central directory starts at {} but the last member ends at {pos}",
                archive.central_directory_start()
            ),
        );
    }

    // An encrypted bundle: the pass read the plain archive; the file (and its sidecars)
    // is the encrypted one.
    let whole = match file.digests() {
        Some((encrypted, inner)) => {
            if inner != whole {
                r.problem(
                    "encrypted_damaged",
                    "the plain archive read twice from the encrypted file differs".to_string(),
                );
            }
            r.inner_sha256 = Some(hex(&inner));
            encrypted
        }
        None => whole,
    };
    r.sha256 = Some(hex(&whole));
    r.whole_sha256 = Some(whole);
    structure::check_deflated(forms, &entries, &digests, &mut r);
    let mut by_name: HashMap<&str, (&Entry, &MemberDigest)> = HashMap::new();
    for (e, d) in entries.iter().zip(&digests) {
        if let Some(why) = &d.inflate_error {
            // Its content could not be read back: the digests below are of nothing.
            r.problem("bad_deflate", format!("member {}: {why}", e.name));
            continue;
        }
        if d.crc != e.crc {
            r.problem(
                "crc_mismatch",
                format!(
                    "member {}: CRC-32 {:08x} does not match the recorded {:08x}",
                    e.name, d.crc, e.crc
                ),
            );
        }
        match listed.get(&*e.name) {
            Some(want) if *want != d.sha256 => r.problem(
                "hash_mismatch",
                format!(
                    "member {}: SHA-256 {} does not match {SUMS} ({})",
                    e.name,
                    hex(&d.sha256),
                    hex(want)
                ),
            ),
            _ => {}
        }
        by_name.insert(&e.name, (e, d));
    }

    // files.jsonl against the stored content; every header's times and form against it.
    let mut bindings = structure::Bindings::default();
    check_records(
        &mut archive,
        &by_name,
        manifest.as_ref(),
        &mut bindings,
        &mut r,
    );
    structure::check_headers(&entries, &bindings, manifest.as_ref(), &mut r);

    // Sidecars (of the final name: an unfinished bundle's sidecars are already theirs).
    if opts.check_sidecars {
        let keys = match (&signer_key, &embedded_key) {
            (Some(k), _) | (None, Some(k)) => vec![k.clone()],
            (None, None) => opts.trust.keys(),
        };
        check_sidecars(&life, &whole, &keys, &mut r);
    }
    if part {
        return unfinished(r, path, stage, &life, Some(true));
    }
    r.finish(None)
}

#[cfg(test)]
mod tests {
    use super::records::count_lines;
    use super::*;
    use crate::bundle::zipwriter::ZipWriter;
    use std::fs::File;

    /// An archive from our writer with a plain member and one streamed with ZIP64 sizes in
    /// its local header (expected ≥ 2 GiB, actually short).
    fn archive(dir: &Path) -> (PathBuf, u64) {
        let path = dir.join("t.zip");
        let mut w = ZipWriter::new(File::create(&path).unwrap());
        w.add("a.txt", b"hello", Some(1_700_000_000), MEMBER_MODE)
            .unwrap();
        w.begin(
            "b.bin",
            Some(-5),
            MEMBER_MODE,
            zipwriter::ZIP64_LOCAL_THRESHOLD,
            crate::bundle::compress::Compression::Never,
        )
        .unwrap();
        w.write_chunk(b"streamed").unwrap();
        w.end().unwrap();
        let (_, len) = w.finish().unwrap();
        (path, len)
    }

    #[test]
    fn the_writers_own_headers_are_canonical_in_both_local_forms() {
        let d = tempfile::tempdir().unwrap();
        let (path, len) = archive(d.path());
        let mut f = BundleInput::Plain(File::open(&path).unwrap());
        let end = find_end_records(&mut f, len).unwrap().unwrap();
        assert!(end.is_own() && end.trailing == 0);
        let (recs, cd_end) = read_central_directory(&mut f, end.cd_start).unwrap();
        assert_eq!(cd_end, end.eocd);
        assert_eq!(recs.len(), 2);
        assert!(recs.iter().all(|r| r.noncanonical.is_none()), "{recs:?}");
        assert_eq!(recs[0].local_forms, [true, false]);
        assert_eq!(recs[1].local_forms, [false, true]);
        assert_eq!(recs[1].mtime, Some(-5));
        for rec in &recs {
            let e = Entry {
                name: String::from_utf8(rec.name_raw.clone()).unwrap().into(),
                name_raw: rec.name_raw.clone(),
                header_start: rec.header_start,
                data_start: 0,
                size: rec.size,
                crc: rec.crc,
                method: rec.method,
                csize: rec.csize,
                dos_time: rec.dos_time,
                dos_date: rec.dos_date,
                mtime: rec.mtime,
                local_forms: rec.local_forms,
                fits: true,
            };
            let n = 30 + rec.name_raw.len() + 9 + if rec.local_forms[1] { 20 } else { 0 };
            let h = read_at(&mut f, rec.header_start, n).unwrap();
            assert_eq!(check_local_header(&h, &e), Ok(None));
            // One changed bit in the time is not a usable difference, but it is reported.
            let mut t = h.clone();
            t[10] ^= 1;
            assert!(matches!(check_local_header(&t, &e), Ok(Some(m)) if m.contains("DOS time")));
        }
    }

    #[test]
    fn an_end_record_of_a_stored_zip_is_not_the_archives_own() {
        let d = tempfile::tempdir().unwrap();
        let (inner, inner_len) = archive(d.path());
        // A killed run's .part: a local header, then a stored ZIP ending the file.
        let mut part = b"PK\x03\x04".to_vec();
        part.extend_from_slice(&[0u8; 60]);
        part.extend_from_slice(&std::fs::read(&inner).unwrap());
        let p = d.path().join("x.zip");
        std::fs::write(&p, &part).unwrap();
        let mut f = BundleInput::Plain(File::open(&p).unwrap());
        let end = find_end_records(&mut f, part.len() as u64)
            .unwrap()
            .unwrap();
        assert_eq!(end.eocd, part.len() as u64 - 22);
        assert!(!end.is_own());
        // Data appended after a real archive: its own record, with trailing bytes.
        let mut appended = std::fs::read(&inner).unwrap();
        appended.extend_from_slice(b"appended");
        std::fs::write(&p, &appended).unwrap();
        let mut f = BundleInput::Plain(File::open(&p).unwrap());
        let end = find_end_records(&mut f, appended.len() as u64)
            .unwrap()
            .unwrap();
        assert!(end.is_own());
        assert_eq!(end.trailing, 8);
        assert_eq!(end.eocd, inner_len - 22);
    }

    #[test]
    fn counting_lines_stops_at_the_first_read_error() {
        struct Broken;
        impl Read for Broken {
            fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
                Err(std::io::Error::other("Invalid checksum"))
            }
        }
        assert!(matches!(count_lines(Broken), Err((1, _))));
        assert_eq!(count_lines(&b"a\n\nb\n"[..]).unwrap(), 2);
    }
}
