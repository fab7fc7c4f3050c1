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

mod structure;

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
    /// Encrypted bundles: SHA-256 of the plain archive inside (what `age -d` gives).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inner_sha256: Option<String>,
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

/// One member as the central directory and its local header describe it.
#[derive(Debug, Clone)]
struct Entry {
    name: Arc<str>,
    name_raw: Vec<u8>,
    header_start: u64,
    /// From the local header, once the sequential pass has read it.
    data_start: u64,
    size: u64,
    crc: u32,
    /// DOS time and date the headers must carry (from the extended timestamp when there
    /// is one), the extended timestamp itself, and which local header forms (without,
    /// with ZIP64 sizes) the central directory record allows.
    dos_time: u16,
    dos_date: u16,
    mtime: Option<i64>,
    local_forms: [bool; 2],
    /// Header and data fit before the central directory; a member that cannot is
    /// reported and left out of the sequential pass.
    fits: bool,
}

impl Entry {
    /// The writer's description of this member, for rebuilding its headers.
    fn header(&self, zip64_local: bool) -> zipwriter::Entry {
        zipwriter::Entry {
            name: self.name_raw.clone(),
            crc: self.crc,
            size: self.size,
            offset: self.header_start,
            dos_time: self.dos_time,
            dos_date: self.dos_date,
            mtime: self.mtime,
            mode: MEMBER_MODE,
            zip64_local,
        }
    }
}

#[derive(Debug, Clone, Default)]
struct MemberDigest {
    sha256: [u8; 32],
    sha1: Option<[u8; 20]>,
    md5: Option<[u8; 16]>,
    crc: u32,
}

impl MemberDigest {
    fn finish(hasher: MultiHasher, crc: crc32fast::Hasher) -> Self {
        let d = hasher.finish();
        MemberDigest {
            sha256: d.sha256,
            sha1: d.sha1,
            md5: d.md5,
            crc: crc.finalize(),
        }
    }
}

const EOCD_SIG: [u8; 4] = [0x50, 0x4b, 0x05, 0x06];
const ZIP64_EOCD_SIG: [u8; 4] = [0x50, 0x4b, 0x06, 0x06];
const ZIP64_LOCATOR_SIG: [u8; 4] = [0x50, 0x4b, 0x06, 0x07];
const LOCAL_SIG: u32 = 0x0403_4b50;
const METADATA_LIMIT: u64 = 1 << 30;
/// Every member is a plain 0644 file (docs/bundle-format.md).
const MEMBER_MODE: u32 = 0o100644;

/// Sidecar paths: `<bundle>.sha256` and `<bundle>.sig`.
pub fn sidecar_paths(bundle: &Path) -> (PathBuf, PathBuf) {
    super::sidecars::by_name(bundle)
}

/// What an end-of-central-directory record near the end of the file says.
#[derive(Debug, Clone, Copy)]
struct EndRecords {
    /// Offset of the end-of-central-directory record.
    eocd: u64,
    /// Where the end records begin: the ZIP64 end record when there is one, else `eocd`.
    start: u64,
    cd_start: u64,
    cd_size: u64,
    /// Bytes after the record: an archive comment or appended data.
    trailing: u64,
}

impl EndRecords {
    /// The record describes a central directory lying right before it, at the offsets it
    /// names: the end of *this* archive, not of a ZIP file stored as one of its members
    /// (whose offsets are relative to that file) and not shifted by prepended data.
    fn is_own(&self) -> bool {
        self.cd_start.checked_add(self.cd_size) == Some(self.start)
    }
}

fn read_at(file: &mut BundleInput, offset: u64, len: usize) -> std::io::Result<Vec<u8>> {
    file.seek(SeekFrom::Start(offset))?;
    let mut buf = vec![0u8; len];
    file.read_exact(&mut buf)?;
    Ok(buf)
}

fn le16(b: &[u8], i: usize) -> u16 {
    u16::from_le_bytes([b[i], b[i + 1]])
}

fn le32(b: &[u8], i: usize) -> u32 {
    u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]])
}

fn le64(b: &[u8], i: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[i..i + 8]);
    u64::from_le_bytes(a)
}

/// Parse the end record at `eocd` (22 bytes in `rec`), following the ZIP64 locator and
/// end record when its fields are saturated.
fn end_records_at(
    file: &mut BundleInput,
    len: u64,
    eocd: u64,
    rec: &[u8],
) -> std::io::Result<Option<EndRecords>> {
    let comment = le16(rec, 20) as u64;
    let Some(trailing) = len.checked_sub(eocd + 22) else {
        return Ok(None);
    };
    if comment > trailing {
        return Ok(None);
    }
    let mut end = EndRecords {
        eocd,
        start: eocd,
        cd_start: le32(rec, 16) as u64,
        cd_size: le32(rec, 12) as u64,
        trailing,
    };
    let saturated =
        le16(rec, 10) == 0xFFFF || end.cd_size == 0xFFFF_FFFF || end.cd_start == 0xFFFF_FFFF;
    if saturated && eocd >= 20 {
        let loc = read_at(file, eocd - 20, 20)?;
        if loc[..4] == ZIP64_LOCATOR_SIG {
            let z64 = le64(&loc, 8);
            // The ZIP64 end record must end exactly where the locator starts.
            if z64.checked_add(56) == Some(eocd - 20) {
                let r = read_at(file, z64, 56)?;
                if r[..4] == ZIP64_EOCD_SIG && le64(&r, 4) == 44 {
                    end.start = z64;
                    end.cd_size = le64(&r, 40);
                    end.cd_start = le64(&r, 48);
                }
            }
        }
    }
    Ok(Some(end))
}

/// The end records of the archive: the last end-of-central-directory record in the final
/// 64 KiB that is the archive's own, else the last one found (which then belongs to
/// something else), or none.
fn find_end_records(file: &mut BundleInput, len: u64) -> std::io::Result<Option<EndRecords>> {
    let tail = len.min(65_557);
    let base = len - tail;
    let buf = read_at(file, base, tail as usize)?;
    let mut last = None;
    let Some(highest) = buf.len().checked_sub(22) else {
        return Ok(None);
    };
    for at in (0..=highest).rev() {
        if buf[at..at + 4] != EOCD_SIG {
            continue;
        }
        if let Some(end) = end_records_at(file, len, base + at as u64, &buf[at..at + 22])? {
            if end.is_own() {
                return Ok(Some(end));
            }
            last.get_or_insert(end);
        }
    }
    Ok(last)
}

/// Length of a local header from its first 30 bytes (30 + name + extra), or what is
/// wrong with it.
fn local_header_len(h: &[u8], e: &Entry) -> Result<usize, String> {
    let le16 = |i: usize| u16::from_le_bytes([h[i], h[i + 1]]) as usize;
    if h[..4] != LOCAL_SIG.to_le_bytes() {
        return Err(format!(
            "no local header signature at offset {}",
            e.header_start
        ));
    }
    Ok(30 + le16(26) + le16(28))
}

/// Check a complete local header against the central directory entry: `Err` when it
/// contradicts the entry (the member cannot be located or trusted), `Ok(Some(..))` when it
/// agrees on name, CRC and sizes but is not byte for byte the header fieldkit writes.
fn check_local_header(h: &[u8], e: &Entry) -> Result<Option<String>, String> {
    let le16 = |i: usize| u16::from_le_bytes([h[i], h[i + 1]]);
    let le32 = |i: usize| u32::from_le_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]);
    if le16(8) != 0 {
        return Err(format!(
            "compression method {} (fieldkit stores members uncompressed)",
            le16(8)
        ));
    }
    let name_len = le16(26) as usize;
    let name = &h[30..30 + name_len];
    let extra = &h[30 + name_len..];
    if name != e.name_raw.as_slice() {
        return Err(format!(
            "local header names it {:?}",
            String::from_utf8_lossy(name)
        ));
    }
    if le32(14) != e.crc {
        return Err(format!(
            "local header CRC-32 {:08x} differs from the central directory's {:08x}",
            le32(14),
            e.crc
        ));
    }
    let (mut csize, mut usize_) = (le32(18) as u64, le32(22) as u64);
    if csize == 0xFFFF_FFFF || usize_ == 0xFFFF_FFFF {
        let mut i = 0;
        while i + 4 <= extra.len() {
            let tag = u16::from_le_bytes([extra[i], extra[i + 1]]);
            let len = u16::from_le_bytes([extra[i + 2], extra[i + 3]]) as usize;
            if tag == 1 && len >= 16 && i + 4 + 16 <= extra.len() {
                let v = |o: usize| {
                    let mut b = [0u8; 8];
                    b.copy_from_slice(&extra[i + 4 + o..i + 12 + o]);
                    u64::from_le_bytes(b)
                };
                usize_ = v(0);
                csize = v(8);
            }
            i += 4 + len;
        }
    }
    if csize != e.size || usize_ != e.size {
        return Err(format!(
            "local header sizes {csize}/{usize_} differ from the central directory's {}",
            e.size
        ));
    }
    // Byte for byte what the writer puts there, given the central directory's record.
    // When the record itself is not the writer's (reported on its own), either form.
    let any = e.local_forms == [false, false];
    let forms = [false, true]
        .into_iter()
        .filter(|z| any || e.local_forms[*z as usize])
        .map(|z| zipwriter::local_header_bytes(&e.header(z)));
    let mut first_difference = None;
    for want in forms {
        match first_difference_at(h, &want) {
            None => return Ok(None),
            Some(i) => first_difference = first_difference.max(Some(i)),
        }
    }
    Ok(Some(format!(
        "its local header is not the one fieldkit writes for its central directory record \
         (differs in its {})",
        local_field_name(first_difference.unwrap_or(0))
    )))
}

/// Index of the first byte where `a` and `b` differ (a length difference counts).
fn first_difference_at(a: &[u8], b: &[u8]) -> Option<usize> {
    match a.iter().zip(b).position(|(x, y)| x != y) {
        Some(i) => Some(i),
        None if a.len() != b.len() => Some(a.len().min(b.len())),
        None => None,
    }
}

fn local_field_name(i: usize) -> &'static str {
    match i {
        0..4 => "signature",
        4..6 => "version needed",
        6..8 => "flags",
        8..10 => "method",
        10..12 => "DOS time",
        12..14 => "DOS date",
        14..18 => "CRC-32",
        18..22 => "compressed size",
        22..26 => "size",
        26..28 => "name length",
        28..30 => "extra field length",
        _ => "name or extra fields (sizes, extended timestamp)",
    }
}

fn central_field_name(i: usize) -> &'static str {
    match i {
        0..4 => "signature",
        4..6 => "version made by",
        6..8 => "version needed",
        8..10 => "flags",
        10..12 => "method",
        12..14 => "DOS time",
        14..16 => "DOS date",
        16..20 => "CRC-32",
        20..24 => "compressed size",
        24..28 => "size",
        28..30 => "name length",
        30..32 => "extra field length",
        32..34 => "comment length",
        34..36 => "disk number",
        36..38 => "internal attributes",
        38..42 => "external attributes (mode)",
        42..46 => "local header offset",
        _ => "name, extra fields (ZIP64, extended timestamp) or comment",
    }
}

/// One central directory record as written, read by our own parser (the `zip` crate's
/// index keeps one entry per name, hiding duplicates, and reads each local header when
/// asked for an entry, which would mean one random read per member).
#[derive(Debug, Clone)]
struct CdRecord {
    name_raw: Vec<u8>,
    method: u16,
    crc: u32,
    csize: u64,
    size: u64,
    header_start: u64,
    dos_time: u16,
    dos_date: u16,
    mtime: Option<i64>,
    /// Which local header forms (without, with ZIP64 sizes) this record is exactly the
    /// writer's record for; neither means the record itself was altered.
    local_forms: [bool; 2],
    /// Where the record differs from the writer's, when it does.
    noncanonical: Option<&'static str>,
}

/// The central directory from `cd_start`; returns its records and where it ends.
fn read_central_directory(
    file: &mut BundleInput,
    cd_start: u64,
) -> std::io::Result<(Vec<CdRecord>, u64)> {
    let mut out = Vec::new();
    let mut pos = cd_start;
    file.seek(SeekFrom::Start(cd_start))?;
    let mut reader = BufReader::with_capacity(1 << 20, &mut *file);
    loop {
        let mut h = [0u8; 46];
        if reader.read_exact(&mut h).is_err() || h[..4] != [0x50, 0x4b, 0x01, 0x02] {
            return Ok((out, pos));
        }
        let (n, m, k) = (
            le16(&h, 28) as usize,
            le16(&h, 30) as usize,
            le16(&h, 32) as usize,
        );
        let mut raw = Vec::with_capacity(46 + n + m + k);
        raw.extend_from_slice(&h);
        raw.resize(46 + n + m + k, 0);
        reader.read_exact(&mut raw[46..])?;
        pos += raw.len() as u64;
        let name_raw = raw[46..46 + n].to_vec();
        let extra = &raw[46 + n..46 + n + m];
        let mut rec = CdRecord {
            name_raw,
            method: le16(&h, 10),
            crc: le32(&h, 16),
            csize: le32(&h, 20) as u64,
            size: le32(&h, 24) as u64,
            header_start: le32(&h, 42) as u64,
            dos_time: le16(&h, 12),
            dos_date: le16(&h, 14),
            mtime: None,
            local_forms: [false; 2],
            noncanonical: None,
        };
        // ZIP64 extended information (only the fields saturated above, in this order) and
        // the extended timestamp.
        let mut i = 0;
        while i + 4 <= extra.len() {
            let tag = le16(extra, i);
            let len = le16(extra, i + 2) as usize;
            let body = &extra[i + 4..(i + 4 + len).min(extra.len())];
            if tag == 1 {
                let mut vals = body.chunks_exact(8).map(|c| le64(c, 0));
                if rec.size == 0xFFFF_FFFF {
                    rec.size = vals.next().unwrap_or(rec.size);
                }
                if rec.csize == 0xFFFF_FFFF {
                    rec.csize = vals.next().unwrap_or(rec.csize);
                }
                if rec.header_start == 0xFFFF_FFFF {
                    rec.header_start = vals.next().unwrap_or(rec.header_start);
                }
            } else if tag == 0x5455 && body.len() == 5 && body[0] == 1 {
                rec.mtime = Some(le32(body, 1) as i32 as i64);
            }
            i += 4 + len;
        }
        if rec.mtime.is_some() {
            // The DOS fields hold the same instant (UTC): derived, not free.
            (rec.dos_time, rec.dos_date) = zipwriter::dos_datetime(rec.mtime);
        }
        let mut furthest = 0;
        for (z, form) in rec.local_forms.iter_mut().enumerate() {
            let want = zipwriter::central_record_bytes(&zipwriter::Entry {
                name: rec.name_raw.clone(),
                crc: rec.crc,
                size: rec.size,
                offset: rec.header_start,
                dos_time: rec.dos_time,
                dos_date: rec.dos_date,
                mtime: rec.mtime,
                mode: MEMBER_MODE,
                zip64_local: z == 1,
            });
            match first_difference_at(&raw, &want) {
                None => *form = true,
                Some(d) => furthest = furthest.max(d),
            }
        }
        if rec.local_forms == [false, false] {
            rec.noncanonical = Some(central_field_name(furthest));
        }
        out.push(rec);
    }
}

/// Parse SHA256SUMS into (name, digest) in file order.
fn parse_sums(text: &str) -> Result<Vec<(String, [u8; 32])>, String> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let parsed = line
            .split_once("  ")
            .or_else(|| line.split_once(" *"))
            .and_then(|(h, name)| {
                crate::hashing::parse_hex::<32>(h).map(|d| (name.to_string(), d))
            });
        match parsed {
            Some(p) => out.push(p),
            None => return Err(format!("line {} is not `<sha256>  <name>`", n + 1)),
        }
    }
    Ok(out)
}

fn read_member(
    archive: &mut zip::ZipArchive<BufReader<BundleInput>>,
    name: &str,
) -> Result<Vec<u8>, String> {
    let f = archive
        .by_name(name)
        .map_err(|e| format!("cannot open member {name}: {e}"))?;
    let mut buf = Vec::new();
    f.take(METADATA_LIMIT)
        .read_to_end(&mut buf)
        .map_err(|e| format!("cannot read member {name}: {e}"))?;
    Ok(buf)
}

/// What the sequential pass found for one member.
#[derive(Debug, Clone, Default)]
struct MemberPass {
    /// Data offset from the local header, or what is wrong with the header.
    local: Option<Result<u64, String>>,
    /// How a usable local header differs from the one fieldkit writes.
    altered: Option<String>,
    digest: MemberDigest,
}

enum PassState {
    Seeking,
    Header(Vec<u8>),
    Data {
        left: u64,
        hasher: Box<MultiHasher>,
        crc: crc32fast::Hasher,
    },
}

/// Parse local headers and hash every member in file order as the chunks stream past.
fn member_pass(
    rx: std::sync::mpsc::Receiver<Arc<Vec<u8>>>,
    entries: &[Entry],
    algs: AlgSet,
) -> Vec<MemberPass> {
    let mut out = vec![MemberPass::default(); entries.len()];
    let mut idx = 0usize;
    let mut state = PassState::Seeking;
    let mut pos = 0u64;
    for chunk in rx {
        let mut off = 0usize;
        while off < chunk.len() && idx < entries.len() {
            let e = &entries[idx];
            let abs = pos + off as u64;
            let rem = chunk.len() - off;
            match &mut state {
                PassState::Seeking => {
                    if abs < e.header_start {
                        off += (e.header_start - abs).min(rem as u64) as usize;
                    } else if abs > e.header_start {
                        out[idx].local = Some(Err(format!(
                            "its local header at offset {} lies inside the previous member",
                            e.header_start
                        )));
                        idx += 1;
                    } else {
                        state = PassState::Header(Vec::with_capacity(64));
                    }
                }
                PassState::Header(buf) => {
                    let need = if buf.len() < 30 {
                        30
                    } else {
                        match local_header_len(buf, e) {
                            Ok(n) => n,
                            Err(msg) => {
                                out[idx].local = Some(Err(msg));
                                idx += 1;
                                state = PassState::Seeking;
                                continue;
                            }
                        }
                    };
                    let take = (need - buf.len()).min(rem);
                    buf.extend_from_slice(&chunk[off..off + take]);
                    off += take;
                    let complete = buf.len() >= 30
                        && matches!(local_header_len(buf, e), Ok(n) if n == buf.len());
                    if complete {
                        match check_local_header(buf, e) {
                            Ok(altered) => {
                                out[idx].altered = altered;
                                out[idx].local = Some(Ok(e.header_start + need as u64));
                                state = PassState::Data {
                                    left: e.size,
                                    hasher: Box::new(MultiHasher::new(algs)),
                                    crc: crc32fast::Hasher::new(),
                                };
                            }
                            Err(msg) => {
                                out[idx].local = Some(Err(msg));
                                idx += 1;
                                state = PassState::Seeking;
                            }
                        }
                    }
                }
                PassState::Data { left, hasher, crc } => {
                    let take = (*left).min(rem as u64) as usize;
                    hasher.update(&chunk[off..off + take]);
                    crc.update(&chunk[off..off + take]);
                    *left -= take as u64;
                    off += take;
                }
            }
            if let PassState::Data { left: 0, .. } = state
                && let PassState::Data { hasher, crc, .. } =
                    std::mem::replace(&mut state, PassState::Seeking)
            {
                out[idx].digest = MemberDigest::finish(*hasher, crc);
                idx += 1;
            }
        }
        pos += chunk.len() as u64;
    }
    // An empty last member completes without further bytes.
    if let PassState::Data {
        left: 0,
        hasher,
        crc,
    } = state
        && idx < entries.len()
    {
        out[idx].digest = MemberDigest::finish(*hasher, crc);
    }
    for m in &mut out {
        if m.local.is_none() {
            m.local = Some(Err("the file ends before this member".into()));
        }
    }
    out
}

/// One sequential read of the whole file, overlapping I/O with hashing: this thread
/// reads, one thread hashes the whole file, one parses local headers and hashes members.
fn stream_pass(
    file: &mut BundleInput,
    len: u64,
    entries: &[Entry],
    algs: AlgSet,
) -> std::io::Result<([u8; 32], Vec<MemberPass>)> {
    use sha2::{Digest, Sha256};
    const CHUNK: usize = 4 << 20;
    file.seek(SeekFrom::Start(0))?;
    let (whole_tx, whole_rx) = std::sync::mpsc::sync_channel::<Arc<Vec<u8>>>(4);
    let (member_tx, member_rx) = std::sync::mpsc::sync_channel::<Arc<Vec<u8>>>(4);
    std::thread::scope(|scope| {
        let whole = scope.spawn(move || {
            let mut h = Sha256::new();
            for chunk in whole_rx {
                h.update(&chunk[..]);
            }
            <[u8; 32]>::from(h.finalize())
        });
        let members = scope.spawn(move || member_pass(member_rx, entries, algs));
        let mut pos = 0u64;
        let mut result = Ok(());
        while pos < len {
            let want = (CHUNK as u64).min(len - pos) as usize;
            let mut buf = vec![0u8; want];
            if let Err(e) = file.read_exact(&mut buf) {
                result = Err(e);
                break;
            }
            let chunk = Arc::new(buf);
            if whole_tx.send(chunk.clone()).is_err() || member_tx.send(chunk).is_err() {
                break;
            }
            pos += want as u64;
        }
        drop(whole_tx);
        drop(member_tx);
        let whole = whole.join();
        let members = members.join();
        match (result, whole, members) {
            (Ok(()), Ok(w), Ok(m)) => Ok((w, m)),
            (Err(e), _, _) => Err(e),
            _ => Err(std::io::Error::other("a hashing thread failed")),
        }
    })
}

/// Verify the bundle at `path`.
pub fn verify(path: &Path, opts: &Options) -> Report {
    verify_with(path, opts, &[])
}

/// Verify the bundle at `path`; an encrypted one (`NAME.zip.age`) is decrypted on the
/// fly with `identities` (bundle::input), and everything below is checked on the plain
/// archive inside it, the sidecars against the encrypted file.
pub fn verify_with(path: &Path, opts: &Options, identities: &[super::age::Identity]) -> Report {
    verify_inner(path, opts, identities, lifecycle::stage_of(path))
}

/// Verify-after-write: the content of a sealed archive that does not have its final name
/// yet (`NAME.zip.part`), checked as if it had (collect gives it that name only after).
pub fn verify_written(path: &Path, opts: &Options, identities: &[super::age::Identity]) -> Report {
    verify_inner(
        path,
        opts,
        identities,
        (lifecycle::Stage::Final, lifecycle::Names::new(path)),
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
        if method != 0 || csize != size {
            r.problem(
                "compressed_member",
                format!("member {name} is compressed (method {method}); fieldkit stores members uncompressed"),
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
            .and_then(|x| x.checked_add(size));
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
    let (whole, passes) = match stream_pass(&mut file, len, &entries, algs) {
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
        match e.data_start.checked_add(e.size) {
            Some(end) => pos = pos.max(end),
            None => r.problem(
                "impossible_size",
                format!(
                    "member {}: data at offset {} with {} bytes ends beyond any file",
                    e.name, e.data_start, e.size
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
    let mut by_name: HashMap<&str, (&Entry, &MemberDigest)> = HashMap::new();
    for (e, d) in entries.iter().zip(&digests) {
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

fn check_records(
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
        if name.starts_with(super::naming::FILES_PREFIX) && !described.contains(*name) {
            r.problem(
                "undescribed_member",
                format!("member {name} is not described by any {FILES_JSONL} record"),
            );
        }
    }
    if let Some(m) = manifest {
        if let Ok(findings) = archive.by_name(super::FINDINGS_JSONL) {
            let lines = match count_lines(findings) {
                Ok(n) => n,
                Err((line, e)) => {
                    r.problem(
                        "unreadable_member",
                        format!("{}: cannot read line {line}: {e}", super::FINDINGS_JSONL),
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
                        super::FINDINGS_JSONL
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
fn count_lines(reader: impl Read) -> Result<u64, (u64, std::io::Error)> {
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

/// `.sha256` and `.sig` of the bundle's final name (an unfinished bundle's sidecars are
/// already named after it), found by name, else by the bundle id (sidecars.rs); the
/// `.sig` must be by `keys` (the key that signed SHA256SUMS; none: any key).
fn check_sidecars(life: &lifecycle::Names, whole: &[u8; 32], keys: &[PublicKey], r: &mut Report) {
    let (sha, sig) = super::sidecars::find(&life.final_path, r.bundle_id.as_deref());
    let (want_sha, want_sig) = sidecar_paths(&life.final_path);
    let own = life.final_name();
    for found in [&sha, &sig].into_iter().flatten() {
        if !found.by_name {
            r.notes.push(format!(
                "sidecar {} found by the bundle id in its name (the bundle is now called \
                 {own:?}; rename sidecars with the bundle, keeping their suffixes)",
                found.path.display()
            ));
        }
    }
    match sha.map(|f| (std::fs::read_to_string(&f.path), f.path)) {
        Some((Ok(text), sha_path)) => {
            let first = text.lines().next().unwrap_or("");
            match parse_sums(first).ok().and_then(|v| v.into_iter().next()) {
                Some((name, digest)) => {
                    if digest != *whole {
                        r.problem(
                            "sidecar_mismatch",
                            format!(
                                "{}: records SHA-256 {} but the bundle's is {}",
                                sha_path.display(),
                                hex(&digest),
                                hex(whole)
                            ),
                        );
                    }
                    if name != own {
                        r.notes.push(format!(
                            "{} names {name:?}, the bundle is now called {own:?}",
                            sha_path.display()
                        ));
                    }
                }
                None => r.problem(
                    "sidecar_mismatch",
                    format!("{}: not a sha256sum line", sha_path.display()),
                ),
            }
        }
        Some((Err(e), sha_path)) => r
            .notes
            .push(format!("{}: cannot read: {e}", sha_path.display())),
        None => r.notes.push(format!(
            "no {} sidecar beside the bundle",
            want_sha.display()
        )),
    }
    match sig.map(|f| (std::fs::read(&f.path), f.path)) {
        Some((Ok(pem), sig_path)) => {
            structure::check_armour(&sig_path.display().to_string(), &pem, r);
            if let Err(p) = sign::verify(&pem, sign::Message::Sha256Digest(whole), keys) {
                r.problem("sidecar_signature", format!("{}: {p}", sig_path.display()));
            }
        }
        Some((Err(e), sig_path)) => r
            .notes
            .push(format!("{}: cannot read: {e}", sig_path.display())),
        None => r.notes.push(format!(
            "no {} sidecar beside the bundle",
            want_sig.display()
        )),
    }
}

#[cfg(test)]
mod tests {
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
