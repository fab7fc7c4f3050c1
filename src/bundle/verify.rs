//! Verification: everything a court-appointed expert would check, in one pass over the
//! bundle, with a specific message for every way it can fail.
//!
//! Owns the verdict on a bundle: the ZIP structure (read with the independent `zip`
//! crate, plus our own check of every local header and that members tile the file with
//! nothing hidden between them), SHA256SUMS both ways and in archive order, every member's
//! SHA-256 and CRC-32, every files.jsonl hash against the stored content, the manifest's
//! counts, the SSHSIG signatures (SHA256SUMS.sig and the `.zip.sig` sidecar) against the
//! trusted keys, and the `.zip.sha256` sidecar. Reads only; never modifies or extracts.
//! Tampering can only ever produce `invalid`: no check is skipped because an earlier one
//! passed.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;
use ssh_key::PublicKey;

use super::manifest::{Case, Counts, Manifest};
use super::record::{FileRecord, Status};
use super::{ACTIONS_JSONL, FILES_JSONL, MANIFEST, SIGNER_PUB, SUMS, SUMS_SIG};
use crate::hashing::{AlgSet, MultiHasher, hex};
use crate::sign;

/// Whose signature is accepted.
#[derive(Debug, Clone)]
pub enum Trust {
    /// The key recorded in the bundle itself (`signer.pub`): proves the bundle is intact
    /// since signing, not who signed; the fingerprint must be compared with the paper log.
    SelfAttested,
    /// Exactly these keys (from `--pubkey` or `--allowed-signers`/`--identity`).
    Keys {
        keys: Vec<PublicKey>,
        source: String,
    },
}

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
    /// No central directory: the run was killed before finishing, or the file is truncated.
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
    pub trust: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub case: Option<Case>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub counts: Option<Counts>,
    #[serde(skip)]
    pub whole_sha256: Option<[u8; 32]>,
}

impl Report {
    fn new(path: &Path) -> Self {
        Report {
            bundle: path.display().to_string(),
            verdict: Verdict::Valid,
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
            trust: String::new(),
            case: None,
            counts: None,
            whole_sha256: None,
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
const LOCAL_SIG: u32 = 0x0403_4b50;
const METADATA_LIMIT: u64 = 1 << 30;

/// Sidecar paths: `<bundle>.sha256` and `<bundle>.sig`.
pub fn sidecar_paths(bundle: &Path) -> (PathBuf, PathBuf) {
    let mut s = bundle.as_os_str().to_os_string();
    s.push(".sha256");
    let mut g = bundle.as_os_str().to_os_string();
    g.push(".sig");
    (PathBuf::from(s), PathBuf::from(g))
}

fn has_eocd(file: &mut File, len: u64) -> std::io::Result<bool> {
    let tail = len.min(65_557);
    file.seek(SeekFrom::Start(len - tail))?;
    let mut buf = vec![0u8; tail as usize];
    file.read_exact(&mut buf)?;
    Ok(buf.windows(4).any(|w| w == EOCD_SIG))
}

fn tail_is_clean_eocd(file: &mut File, len: u64) -> std::io::Result<bool> {
    if len < 22 {
        return Ok(false);
    }
    file.seek(SeekFrom::Start(len - 22))?;
    let mut buf = [0u8; 22];
    file.read_exact(&mut buf)?;
    Ok(buf[..4] == EOCD_SIG && buf[20..22] == [0, 0])
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

/// Check a complete local header against the central directory entry.
fn check_local_header(h: &[u8], e: &Entry) -> Result<(), String> {
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
    Ok(())
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
}

fn read_central_directory(file: &mut File, cd_start: u64) -> std::io::Result<Vec<CdRecord>> {
    let mut out = Vec::new();
    file.seek(SeekFrom::Start(cd_start))?;
    let mut reader = BufReader::with_capacity(1 << 20, &*file);
    loop {
        let mut h = [0u8; 46];
        if reader.read_exact(&mut h).is_err() || h[..4] != [0x50, 0x4b, 0x01, 0x02] {
            return Ok(out);
        }
        let le16 = |i: usize| u16::from_le_bytes([h[i], h[i + 1]]);
        let le32 = |i: usize| u32::from_le_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]);
        let (n, m, k) = (le16(28) as usize, le16(30) as usize, le16(32) as usize);
        let mut name_raw = vec![0u8; n];
        reader.read_exact(&mut name_raw)?;
        let mut extra = vec![0u8; m];
        reader.read_exact(&mut extra)?;
        let mut comment = vec![0u8; k];
        reader.read_exact(&mut comment)?;
        let mut rec = CdRecord {
            name_raw,
            method: le16(10),
            crc: le32(16),
            csize: le32(20) as u64,
            size: le32(24) as u64,
            header_start: le32(42) as u64,
        };
        // ZIP64 extended information: only the fields saturated above, in this order.
        let mut i = 0;
        while i + 4 <= extra.len() {
            let tag = u16::from_le_bytes([extra[i], extra[i + 1]]);
            let len = u16::from_le_bytes([extra[i + 2], extra[i + 3]]) as usize;
            if tag == 1 {
                let body = &extra[i + 4..(i + 4 + len).min(extra.len())];
                let mut vals = body.chunks_exact(8).map(|c| {
                    let mut b = [0u8; 8];
                    b.copy_from_slice(c);
                    u64::from_le_bytes(b)
                });
                if rec.size == 0xFFFF_FFFF {
                    rec.size = vals.next().unwrap_or(rec.size);
                }
                if rec.csize == 0xFFFF_FFFF {
                    rec.csize = vals.next().unwrap_or(rec.csize);
                }
                if rec.header_start == 0xFFFF_FFFF {
                    rec.header_start = vals.next().unwrap_or(rec.header_start);
                }
            }
            i += 4 + len;
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
    archive: &mut zip::ZipArchive<BufReader<File>>,
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
                            Ok(()) => {
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
    file: &mut File,
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
    let mut r = Report::new(path);
    r.trust = match &opts.trust {
        Trust::SelfAttested => "self-attested (the key recorded in the bundle; compare its fingerprint with the responder's notes)".into(),
        Trust::Keys { source, .. } => source.clone(),
    };
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) => {
            r.problem("unreadable", format!("{}: {e}", path.display()));
            return r.finish(Some(Verdict::Unusable));
        }
    };
    let len = match file.metadata() {
        Ok(m) if m.is_file() => m.len(),
        Ok(_) => {
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
    let mut head = [0u8; 4];
    let starts_like_zip =
        len >= 4 && file.read_exact(&mut head).is_ok() && head == [0x50, 0x4b, 0x03, 0x04];
    match has_eocd(&mut file, len) {
        Ok(true) => {}
        Ok(false) if starts_like_zip => {
            r.problem(
                "not_finalized",
                format!(
                    "{}: no end-of-central-directory record: the bundle was never finalized \
                     (the run was killed, or the disk filled) or the file is truncated",
                    path.display()
                ),
            );
            return r.finish(Some(Verdict::NotFinalized));
        }
        Ok(false) => {
            r.problem("not_a_zip", format!("{}: not a ZIP file", path.display()));
            return r.finish(Some(Verdict::Unusable));
        }
        Err(e) => {
            r.problem("unreadable", format!("{}: {e}", path.display()));
            return r.finish(Some(Verdict::Unusable));
        }
    }
    if path.extension().is_some_and(|e| e == "part") {
        r.notes.push("file name ends in .part: fieldkit never renamed it, so the run did not finish normally".into());
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
    if !tail_is_clean_eocd(&mut file, len).unwrap_or(false) {
        r.problem(
            "trailing_data",
            "data follows the end-of-central-directory record (or an archive comment was added)",
        );
    }

    let records = match read_central_directory(&mut file, archive.central_directory_start()) {
        Ok(recs) => recs,
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
        if name.starts_with('/')
            || name.contains('\\')
            || name.split('/').any(|c| c == ".." || c.is_empty())
        {
            r.problem(
                "unsafe_member_name",
                format!("member name {name:?} is absolute or escapes the bundle"),
            );
        }
        entries.push(Entry {
            name,
            name_raw,
            header_start,
            data_start: 0,
            size,
            crc,
        });
    }
    r.members = entries.len();
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
    let accepted: Vec<PublicKey> = match &opts.trust {
        Trust::Keys { keys, .. } => keys.clone(),
        Trust::SelfAttested => embedded_key.iter().cloned().collect(),
    };
    if matches!(opts.trust, Trust::SelfAttested) && embedded_key.is_none() {
        r.notes.push(format!("no {SIGNER_PUB} in the bundle: any key's signature is accepted; pass --pubkey or --allowed-signers"));
    }
    let mut signer_key = None;
    match read_member(&mut archive, SUMS_SIG) {
        Ok(pem) => match sign::verify(&pem, sign::Message::Bytes(&sums_bytes), &accepted) {
            Ok(key) => {
                r.signer_fingerprint = Some(sign::fingerprint_of(&key));
                signer_key = Some(key);
            }
            Err(p) => r.problem("bad_signature", format!("{SUMS_SIG}: {p}")),
        },
        Err(e) if names.contains(SUMS_SIG) => r.problem("bad_signature", e),
        Err(_) => {}
    }

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
        pos = pos.max(e.data_start + e.size);
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

    // files.jsonl against the stored content.
    check_records(&mut archive, &by_name, manifest.as_ref(), &mut r);

    // Sidecars.
    if opts.check_sidecars {
        check_sidecars(path, &whole, signer_key.as_ref(), &accepted, &mut r);
    }
    r.finish(None)
}

fn check_records(
    archive: &mut zip::ZipArchive<BufReader<File>>,
    by_name: &HashMap<&str, (&Entry, &MemberDigest)>,
    manifest: Option<&Manifest>,
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
                r.problem(
                    "bad_records",
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
        }
        counts.bytes_read += rec.bytes_read.unwrap_or(0);
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
            let lines = BufReader::new(findings)
                .split(b'\n')
                .filter(|l| l.as_ref().map(|l| !l.is_empty()).unwrap_or(true))
                .count() as u64;
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

fn check_sidecars(
    path: &Path,
    whole: &[u8; 32],
    inner_signer: Option<&PublicKey>,
    accepted: &[PublicKey],
    r: &mut Report,
) {
    let (sha_path, sig_path) = sidecar_paths(path);
    match std::fs::read_to_string(&sha_path) {
        Ok(text) => {
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
                    let own = path
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default();
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
        Err(_) => r.notes.push(format!(
            "no {} sidecar beside the bundle",
            sha_path.display()
        )),
    }
    match std::fs::read(&sig_path) {
        Ok(pem) => {
            let want: Vec<PublicKey> = inner_signer.cloned().into_iter().collect();
            let keys = if want.is_empty() { accepted } else { &want[..] };
            if let Err(p) = sign::verify(&pem, sign::Message::Sha256Digest(whole), keys) {
                r.problem("sidecar_signature", format!("{}: {p}", sig_path.display()));
            }
        }
        Err(_) => r.notes.push(format!(
            "no {} sidecar beside the bundle",
            sig_path.display()
        )),
    }
}
