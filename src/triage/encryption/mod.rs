//! The `encryption` analyzer: encrypted volumes and containers, encrypted archives and
//! password-manager databases among the collected files.
//!
//! Recognised from magic bytes (never from the name alone): LUKS1/2 headers, BitLocker
//! volumes (`-FVE-FS-` at offset 3), KeePass databases, ZIP archives with encrypted
//! entries (traditional PKWARE, strong encryption or WinZip AES), 7z archives with the
//! AES coder (including compressed and encrypted headers), RAR4/RAR5 with encrypted files
//! or headers, age/OpenPGP (armored and binary)/OpenSSL encrypted files. Password-manager files use their
//! path plus a content check (1Password OPVault/agile keychain/1PIF/1PUX/local database,
//! Bitwarden JSON and CSV exports). VeraCrypt/TrueCrypt volumes have no magic at all, so
//! a file is a *candidate* when its size is a multiple of 512, at least
//! [`CONTAINER_MIN_SIZE`], it starts with no known signature, and evenly sampled blocks
//! are statistically indistinguishable from random data (see docs/triage.md).
//!
//! Owns these per-file checks. Memory is bounded (a 64 KiB head, a 1 MiB tail for ZIP and
//! 7z directories, a histogram for sampling); it never decrypts anything and never
//! treats a candidate as proof.

mod sevenzip;

use serde_json::{Value, json};

use super::entropy::BlockSampler;
use super::{Analyzer, FileContext, FileDigests, FileScan, new_finding};
use crate::finding::{Finding, Severity};
use sevenzip::seven_zip;

pub const NAME: &str = "encryption";
/// Smallest file considered as a VeraCrypt/TrueCrypt container candidate.
pub const CONTAINER_MIN_SIZE: u64 = 1 << 20;
/// Blocks sampled, and their size, for the container test.
pub const SAMPLE_BLOCKS: usize = 64;
pub const SAMPLE_BLOCK_LEN: u64 = 4096;
/// Every sampled block must have at least this Shannon entropy (random 4 KiB blocks
/// average 7.955 with a standard deviation near 0.003).
pub const MIN_BLOCK_ENTROPY: f64 = 7.9;
/// The pooled sample's chi-square (255 degrees of freedom) must stay below this: random
/// data gives 255 ± 23; compressed or structured data gives thousands.
pub const MAX_CHI_SQUARE: f64 = 400.0;
/// Bytes of the start of a file kept for header parsing.
const HEAD_LIMIT: usize = 64 << 10;
/// Bytes needed to recognise a signature.
const MAGIC_LEN: usize = 64;
/// Bytes of the end of a ZIP/7z archive kept for its directory/header.
const TAIL_LIMIT: usize = 1 << 20;
/// Largest decompressed 7z header accepted.
const MAX_7Z_HEADER: u64 = 16 << 20;

pub struct EncryptionAnalyzer;

impl Analyzer for EncryptionAnalyzer {
    fn name(&self) -> &'static str {
        NAME
    }

    fn start(&self, ctx: &FileContext<'_>) -> Option<Box<dyn FileScan>> {
        if ctx.size < 8 {
            return None;
        }
        let sampler = (ctx.size >= CONTAINER_MIN_SIZE && ctx.size.is_multiple_of(512))
            .then(|| BlockSampler::new(ctx.size, SAMPLE_BLOCK_LEN, SAMPLE_BLOCKS));
        Some(Box::new(EncScan {
            hint: path_hint(ctx.source_path),
            head: Vec::new(),
            head_need: MAGIC_LEN,
            format: Format::Undecided,
            sampler,
            tail: None,
            delivered: 0,
        }))
    }
}

/// What the path suggests (confirmed from content in `finish`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PathHint {
    OnePasswordOpvault,
    OnePasswordAgile,
    OnePassword1pif,
    OnePassword1pux,
    OnePasswordDb,
    BitwardenJson,
    BitwardenCsv,
    BitwardenApp,
}

fn path_hint(source_path: &str) -> Option<PathHint> {
    let parts: Vec<String> = super::components(source_path)
        .map(str::to_ascii_lowercase)
        .collect();
    let name = parts.last()?.as_str();
    let dirs = &parts[..parts.len() - 1];
    let ext = super::extension_lower(source_path);
    if dirs.iter().any(|d| d.ends_with(".opvault")) && name == "profile.js" {
        return Some(PathHint::OnePasswordOpvault);
    }
    if dirs.iter().any(|d| d.ends_with(".agilekeychain")) && name == "encryptionkeys.js" {
        return Some(PathHint::OnePasswordAgile);
    }
    if ext == "1pif" {
        return Some(PathHint::OnePassword1pif);
    }
    if ext == "1pux" {
        return Some(PathHint::OnePassword1pux);
    }
    if matches!(
        name,
        "1password10.sqlite" | "1password.sqlite" | "b5.sqlite"
    ) {
        return Some(PathHint::OnePasswordDb);
    }
    if dirs.last().is_some_and(|d| d == "bitwarden") && name == "data.json" {
        return Some(PathHint::BitwardenApp);
    }
    if ext == "json" {
        return Some(PathHint::BitwardenJson);
    }
    if ext == "csv" {
        return Some(PathHint::BitwardenCsv);
    }
    None
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Undecided,
    Unknown,
    Luks,
    BitLocker,
    KeePass,
    Zip,
    SevenZip,
    Rar4,
    Rar5,
    Age,
    Pgp,
    /// A binary OpenPGP message: its first packet looks like an encrypted session key
    /// (confirmed in `finish` by the packet chain).
    PgpBinary,
    OpenSsl,
    /// Some other known, benign format: nothing to report, not a container candidate.
    Other,
}

/// Signatures of common formats that are high-entropy by nature (compressed media and
/// archives) or otherwise identified: they are never container candidates.
const BENIGN_MAGICS: &[(usize, &[u8])] = &[
    (0, b"\x1f\x8b"),
    (0, b"BZh"),
    (0, b"\xfd7zXZ\x00"),
    (0, b"\x28\xb5\x2f\xfd"),
    (0, b"\x04\x22\x4d\x18"),
    (0, b"\xff\xd8\xff"),
    (0, b"\x89PNG"),
    (0, b"GIF8"),
    (0, b"%PDF"),
    (4, b"ftyp"),
    (0, b"\x1a\x45\xdf\xa3"),
    (0, b"RIFF"),
    (0, b"OggS"),
    (0, b"fLaC"),
    (0, b"ID3"),
    (0, b"MZ"),
    (0, b"\x7fELF"),
    (0, b"SQLite format 3\0"),
    (0, b"MSCF"),
    (0, b"QFI\xfb"),
    (0, b"vhdxfile"),
    (0, b"KDMV"),
    (0, b"conectix"),
    (0, b"hsqs"),
    (0, b"\xca\xfe\xba\xbe"),
    (0, b"wOFF"),
    (0, b"wOF2"),
    (0, b"PK"),
    (0, b"\xed\xab\xee\xdb"),
    (0, b"!<arch>"),
];

fn starts_with_at(data: &[u8], at: usize, magic: &[u8]) -> bool {
    data.get(at..at + magic.len()) == Some(magic)
}

fn detect(head: &[u8]) -> Format {
    if head.starts_with(b"LUKS\xba\xbe") {
        Format::Luks
    } else if starts_with_at(head, 3, b"-FVE-FS-") {
        Format::BitLocker
    } else if head.starts_with(&[0x03, 0xd9, 0xa2, 0x9a]) {
        Format::KeePass
    } else if head.starts_with(b"PK\x03\x04") {
        Format::Zip
    } else if head.starts_with(b"7z\xbc\xaf\x27\x1c") {
        Format::SevenZip
    } else if head.starts_with(b"Rar!\x1a\x07\x00") {
        Format::Rar4
    } else if head.starts_with(b"Rar!\x1a\x07\x01\x00") {
        Format::Rar5
    } else if head.starts_with(b"age-encryption.org/v1")
        || head.starts_with(b"-----BEGIN AGE ENCRYPTED FILE-----")
    {
        Format::Age
    } else if head.starts_with(b"-----BEGIN PGP MESSAGE-----") {
        Format::Pgp
    } else if head.starts_with(b"Salted__") {
        Format::OpenSsl
    } else if BENIGN_MAGICS
        .iter()
        .any(|(at, magic)| starts_with_at(head, *at, magic))
    {
        Format::Other
    } else if pgp_first_packet(head) {
        Format::PgpBinary
    } else {
        Format::Unknown
    }
}

/// An OpenPGP packet header at `at` (RFC 4880 §4.2, RFC 9580 §4.2): (tag, header
/// length, body length). Partial body lengths are refused: session-key packets never
/// use them.
fn pgp_packet_header(b: &[u8], at: usize) -> Option<(u8, usize, usize)> {
    let first = *b.get(at)?;
    if first & 0x80 == 0 {
        return None;
    }
    if first & 0x40 != 0 {
        let tag = first & 0x3f;
        let l1 = usize::from(*b.get(at.checked_add(1)?)?);
        match l1 {
            0..=191 => Some((tag, 2, l1)),
            192..=223 => {
                let l2 = usize::from(*b.get(at.checked_add(2)?)?);
                Some((tag, 3, ((l1 - 192) << 8) + l2 + 192))
            }
            255 => Some((
                tag,
                6,
                usize::try_from(be_u32(b, at.checked_add(2)?)?).ok()?,
            )),
            _ => None,
        }
    } else {
        let tag = (first >> 2) & 0x0f;
        match first & 3 {
            0 => Some((tag, 2, usize::from(*b.get(at.checked_add(1)?)?))),
            1 => Some((tag, 3, usize::from(be_u16(b, at.checked_add(1)?)?))),
            2 => Some((
                tag,
                5,
                usize::try_from(be_u32(b, at.checked_add(1)?)?).ok()?,
            )),
            _ => None,
        }
    }
}

/// The tag of the packet at `at`, whatever its length encoding.
fn pgp_tag(b: &[u8], at: usize) -> Option<u8> {
    let first = *b.get(at)?;
    if first & 0x80 == 0 {
        None
    } else if first & 0x40 != 0 {
        Some(first & 0x3f)
    } else {
        Some((first >> 2) & 0x0f)
    }
}

fn pgp_symmetric_name(id: u8) -> Option<&'static str> {
    Some(match id {
        1 => "IDEA",
        2 => "TripleDES",
        3 => "CAST5",
        4 => "Blowfish",
        7 => "AES-128",
        8 => "AES-192",
        9 => "AES-256",
        10 => "Twofish",
        11 => "Camellia-128",
        12 => "Camellia-192",
        13 => "Camellia-256",
        _ => return None,
    })
}

fn pgp_public_key_name(id: u8) -> Option<&'static str> {
    Some(match id {
        1 | 2 => "RSA",
        16 => "Elgamal",
        18 => "ECDH",
        25 => "X25519",
        26 => "X448",
        _ => return None,
    })
}

/// What an encrypted-session-key packet body says, when it is one: tag 3 (symmetric,
/// v4/v5/v6) or tag 1 (public key, v3/v6). `None` when the fields are not plausible.
fn pgp_session_key(tag: u8, body: &[u8]) -> Option<Value> {
    match (tag, *body.first()?) {
        (3, 4) => {
            let cipher = pgp_symmetric_name(*body.get(1)?)?;
            let s2k = match *body.get(2)? {
                0 => "simple",
                1 => "salted",
                3 => "iterated and salted",
                _ => return None,
            };
            let hash = match *body.get(3)? {
                1 => "MD5",
                2 => "SHA-1",
                3 => "RIPEMD-160",
                8 => "SHA-256",
                9 => "SHA-384",
                10 => "SHA-512",
                11 => "SHA-224",
                12 => "SHA3-256",
                14 => "SHA3-512",
                _ => return None,
            };
            Some(
                json!({ "type": "symmetric (passphrase)", "version": 4, "cipher": cipher,
                         "s2k": s2k, "s2k_hash": hash }),
            )
        }
        (3, v @ (5 | 6)) => {
            // v5: version, cipher, AEAD; v6: version, count, cipher, AEAD.
            let cipher = if v == 5 { *body.get(1)? } else { *body.get(2)? };
            Some(json!({ "type": "symmetric (passphrase)", "version": v,
                         "cipher": pgp_symmetric_name(cipher)? }))
        }
        (1, 3) => {
            let key_id = super::hex(body.get(1..9)?).to_ascii_uppercase();
            let algorithm = pgp_public_key_name(*body.get(9)?)?;
            Some(
                json!({ "type": "public key", "version": 3, "key_id": key_id,
                         "algorithm": algorithm }),
            )
        }
        (1, 6) => Some(json!({ "type": "public key", "version": 6 })),
        _ => None,
    }
}

/// The first packet of a binary OpenPGP message is an encrypted session key.
fn pgp_first_packet(head: &[u8]) -> bool {
    match pgp_packet_header(head, 0) {
        Some((tag @ (1 | 3), hdr, len)) if (4..=16 << 10).contains(&len) => head
            .get(hdr..)
            .is_some_and(|body| pgp_session_key(tag, body).is_some()),
        _ => false,
    }
}

/// A binary OpenPGP message: one or more encrypted session keys followed by an encrypted
/// data packet (tag 9 SED, 18 SEIPD, 20 AEAD). `None` when the chain says otherwise.
fn pgp_binary(head: &[u8]) -> Option<Finding> {
    let mut at = 0usize;
    let mut keys = Vec::new();
    let data = loop {
        match pgp_packet_header(head, at) {
            Some((tag @ (1 | 3), hdr, len)) if keys.len() < 64 => {
                let body = head.get(at.checked_add(hdr)?..)?;
                let body = body.get(..len).unwrap_or(body);
                keys.push(pgp_session_key(tag, body)?);
                at = at.checked_add(hdr)?.checked_add(len)?;
            }
            _ => match pgp_tag(head, at) {
                Some(9) => break Some("symmetrically encrypted data (tag 9)"),
                Some(18) => {
                    break Some("symmetrically encrypted and integrity protected data (tag 18)");
                }
                Some(20) => break Some("AEAD encrypted data (tag 20)"),
                // The kept head ended among the session keys (many recipients).
                None if at >= head.len() && !keys.is_empty() => break None,
                _ => return None,
            },
        }
    };
    Some(new_finding(
        NAME,
        "encryption.encrypted_file",
        Severity::Medium,
        "Encrypted file (OpenPGP, binary)".to_string(),
        json!({ "format": "OpenPGP (binary)", "session_keys": keys, "data_packet": data }),
    ))
}

struct EncScan {
    hint: Option<PathHint>,
    head: Vec<u8>,
    head_need: usize,
    format: Format,
    sampler: Option<BlockSampler>,
    tail: Option<Tail>,
    delivered: u64,
}

/// The last bytes of a stream.
struct Tail {
    bytes: Vec<u8>,
    limit: usize,
}

impl Tail {
    fn push(&mut self, chunk: &[u8]) {
        if chunk.len() >= self.limit {
            self.bytes.clear();
            self.bytes
                .extend_from_slice(&chunk[chunk.len() - self.limit..]);
            return;
        }
        self.bytes.extend_from_slice(chunk);
        if self.bytes.len() > self.limit * 2 {
            let cut = self.bytes.len() - self.limit;
            self.bytes.drain(..cut);
        }
    }

    /// The kept bytes (at most `limit`) and the absolute offset of the first one.
    fn view(&self, total: u64) -> (&[u8], u64) {
        let keep = self.bytes.len().min(self.limit);
        let bytes = &self.bytes[self.bytes.len() - keep..];
        (bytes, total - keep as u64)
    }
}

impl EncScan {
    fn decide(&mut self) {
        self.format = detect(&self.head);
        self.head_need = match (self.format, self.hint) {
            (Format::Luks | Format::Zip | Format::Rar4 | Format::Rar5 | Format::PgpBinary, _) => {
                HEAD_LIMIT
            }
            (_, Some(_)) => HEAD_LIMIT,
            _ => MAGIC_LEN,
        };
        if matches!(self.format, Format::Zip | Format::SevenZip) {
            self.tail = Some(Tail {
                bytes: Vec::new(),
                limit: TAIL_LIMIT,
            });
        }
        if self.format != Format::Unknown {
            self.sampler = None;
        }
    }
}

impl FileScan for EncScan {
    fn update(&mut self, chunk: &[u8]) {
        self.delivered += chunk.len() as u64;
        if self.head.len() < self.head_need {
            let take = (self.head_need - self.head.len()).min(chunk.len());
            self.head.extend_from_slice(&chunk[..take]);
            if self.format == Format::Undecided && self.head.len() >= MAGIC_LEN {
                self.decide();
                if self.head.len() < self.head_need {
                    let more = (self.head_need - self.head.len()).min(chunk.len() - take);
                    self.head.extend_from_slice(&chunk[take..take + more]);
                }
            }
        }
        if let Some(tail) = &mut self.tail {
            tail.push(chunk);
        }
        if let Some(sampler) = &mut self.sampler {
            sampler.update(chunk);
            // The first block decides cheaply for most files.
            if sampler
                .block_entropies
                .first()
                .is_some_and(|&e| e < MIN_BLOCK_ENTROPY)
            {
                self.sampler = None;
            }
        }
    }

    fn wants_more(&self) -> bool {
        self.head.len() < self.head_need
            || self.format == Format::Undecided
            || self.tail.is_some()
            || self.sampler.as_ref().is_some_and(|s| !s.done())
    }

    fn finish(self: Box<Self>, ctx: &FileContext<'_>, _digests: &FileDigests) -> Vec<Finding> {
        let mut scan = *self;
        if scan.format == Format::Undecided {
            scan.decide();
        }
        let mut findings = Vec::new();
        let head = &scan.head;
        match scan.format {
            Format::Luks => findings.push(luks(head)),
            Format::BitLocker => findings.push(new_finding(
                NAME,
                "encryption.bitlocker",
                Severity::High,
                "BitLocker-encrypted volume (-FVE-FS- signature)".to_string(),
                json!({ "signature": "-FVE-FS-", "offset": 3, "size": scan.delivered }),
            )),
            Format::KeePass => findings.push(keepass(head)),
            Format::Zip => {
                let tail = scan.tail.as_ref().map(|t| t.view(scan.delivered));
                findings.extend(zip(head, tail, scan.hint));
            }
            Format::SevenZip => {
                let tail = scan.tail.as_ref().map(|t| t.view(scan.delivered));
                findings.extend(seven_zip(head, tail));
            }
            Format::Rar4 => findings.extend(rar4(head)),
            Format::Rar5 => findings.extend(rar5(head)),
            Format::Age => findings.push(encrypted_file("age", head)),
            Format::Pgp => findings.push(encrypted_file("OpenPGP (ASCII-armored)", head)),
            Format::PgpBinary => findings.extend(pgp_binary(head)),
            Format::OpenSsl => findings.push(encrypted_file("OpenSSL enc (Salted__)", head)),
            Format::Undecided | Format::Other | Format::Unknown => {}
        }
        if let Some(hint) = scan.hint
            && let Some(f) = password_manager(hint, head)
        {
            findings.push(f);
        }
        if scan.format == Format::Unknown
            && let Some(sampler) = &scan.sampler
            && let Some(f) = container_candidate(sampler, ctx.size, scan.delivered)
        {
            findings.push(f);
        }
        findings
    }
}

fn c_string(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

fn be_u16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(b.get(at..at + 2)?.try_into().ok()?))
}
fn be_u32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}
fn be_u64(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_be_bytes(b.get(at..at + 8)?.try_into().ok()?))
}
fn le_u16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}
fn le_u32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}
fn le_u64(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

fn luks(head: &[u8]) -> Finding {
    let version = be_u16(head, 6).unwrap_or(0);
    let uuid = head.get(168..208).map(c_string).unwrap_or_default();
    let mut evidence = json!({ "version": version, "uuid": uuid });
    match version {
        1 => {
            evidence["cipher"] = json!(head.get(8..40).map(c_string));
            evidence["cipher_mode"] = json!(head.get(40..72).map(c_string));
            evidence["hash"] = json!(head.get(72..104).map(c_string));
            evidence["payload_offset_sectors"] = json!(be_u32(head, 104));
            evidence["key_bytes"] = json!(be_u32(head, 108));
            let active = (0..8)
                .filter(|i| be_u32(head, 208 + i * 48) == Some(0x00ac_71f3))
                .count();
            evidence["active_keyslots"] = json!(active);
        }
        2 => {
            let hdr_size = be_u64(head, 8).unwrap_or(0);
            evidence["header_size"] = json!(hdr_size);
            evidence["label"] = json!(head.get(24..72).map(c_string));
            evidence["checksum_algorithm"] = json!(head.get(72..104).map(c_string));
            let json_end = usize::try_from(hdr_size)
                .unwrap_or(usize::MAX)
                .min(head.len());
            if let Some(json) = head.get(4096..json_end) {
                let text = c_string(json);
                match serde_json::from_str::<Value>(&text) {
                    Ok(meta) => {
                        let segments: Vec<Value> = meta["segments"]
                            .as_object()
                            .map(|m| m.values().map(|s| s["encryption"].clone()).collect())
                            .unwrap_or_default();
                        evidence["segment_encryption"] = json!(segments);
                        evidence["keyslots"] =
                            json!(meta["keyslots"].as_object().map_or(0, |m| m.len()));
                        evidence["tokens"] =
                            json!(meta["tokens"].as_object().map_or(0, |m| m.len()));
                    }
                    Err(e) => evidence["json_error"] = json!(e.to_string()),
                }
            }
        }
        _ => {}
    }
    new_finding(
        NAME,
        "encryption.luks",
        Severity::High,
        format!("LUKS{version} encrypted volume header"),
        evidence,
    )
}

fn keepass(head: &[u8]) -> Finding {
    let sig2 = le_u32(head, 4).unwrap_or(0);
    let minor = le_u16(head, 8).unwrap_or(0);
    let major = le_u16(head, 10).unwrap_or(0);
    let (format, version) = match sig2 {
        0xb54b_fb65 => ("KeePass 1.x (.kdb)".to_string(), None),
        0xb54b_fb66 => (
            "KeePass 2.x pre-release (.kdbx)".to_string(),
            Some(format!("{major}.{minor}")),
        ),
        0xb54b_fb67 => (
            format!("KeePass KDBX {major}.{minor}"),
            Some(format!("{major}.{minor}")),
        ),
        _ => ("KeePass (unknown variant)".to_string(), None),
    };
    new_finding(
        NAME,
        "encryption.password_manager",
        Severity::High,
        format!("Password database: {format}"),
        json!({ "product": "KeePass", "format": format, "version": version,
                "signature2": format!("{sig2:#010x}") }),
    )
}

fn encrypted_file(kind: &str, head: &[u8]) -> Finding {
    let first_line = head
        .split(|&b| b == b'\n')
        .next()
        .map(|l| String::from_utf8_lossy(&l[..l.len().min(64)]).into_owned());
    new_finding(
        NAME,
        "encryption.encrypted_file",
        Severity::Medium,
        format!("Encrypted file ({kind})"),
        json!({ "format": kind, "header": first_line }),
    )
}

/// A ZIP entry's encryption, from its general-purpose flags, method and extra field.
fn zip_entry_encryption(flags: u16, method: u16, extra: &[u8]) -> Option<String> {
    if flags & 1 == 0 {
        return None;
    }
    if method == 99 {
        let mut at = 0;
        while at + 4 <= extra.len() {
            let id = le_u16(extra, at).unwrap_or(0);
            let len = le_u16(extra, at + 2).unwrap_or(0) as usize;
            if id == 0x9901 && len >= 7 {
                let strength = match extra.get(at + 8) {
                    Some(1) => "128",
                    Some(2) => "192",
                    Some(3) => "256",
                    _ => "?",
                };
                return Some(format!("WinZip AES-{strength}"));
            }
            at += 4 + len;
        }
        return Some("WinZip AES".to_string());
    }
    if flags & 0x40 != 0 {
        return Some("PKWARE strong encryption".to_string());
    }
    Some("traditional PKWARE (ZipCrypto)".to_string())
}

/// (entries, central directory size, its offset) from the end-of-central-directory record
/// at `eocd` in `bytes` (absolute offset of `bytes[0]`: `base`). When a field is saturated
/// (0xFFFF / 0xFFFFFFFF) the ZIP64 end record named by the locator just before it gives
/// the 64-bit values (APPNOTE 4.3.14–4.3.15), if it lies in the kept bytes.
fn zip_directory(bytes: &[u8], base: u64, eocd: usize) -> (u64, u64, u64) {
    let entries = le_u16(bytes, eocd + 10).unwrap_or(0);
    let cd_size = le_u32(bytes, eocd + 12).unwrap_or(0);
    let cd_offset = le_u32(bytes, eocd + 16).unwrap_or(0);
    let classic = (u64::from(entries), u64::from(cd_size), u64::from(cd_offset));
    if entries != 0xffff && cd_size != 0xffff_ffff && cd_offset != 0xffff_ffff {
        return classic;
    }
    let zip64 = || -> Option<(u64, u64, u64)> {
        let locator = eocd.checked_sub(20)?;
        if bytes.get(locator..locator + 4)? != b"PK\x06\x07" {
            return None;
        }
        let record = usize::try_from(le_u64(bytes, locator + 8)?.checked_sub(base)?).ok()?;
        if bytes.get(record..record.checked_add(4)?)? != b"PK\x06\x06" {
            return None;
        }
        Some((
            le_u64(bytes, record + 32)?,
            le_u64(bytes, record + 40)?,
            le_u64(bytes, record + 48)?,
        ))
    };
    zip64().unwrap_or(classic)
}

fn zip(head: &[u8], tail: Option<(&[u8], u64)>, hint: Option<PathHint>) -> Vec<Finding> {
    let mut encrypted_names = Vec::new();
    let mut methods = std::collections::BTreeSet::new();
    let mut total = None;
    let mut encrypted = 0u64;
    // The central directory, when it lies in the kept tail.
    if let Some((bytes, base)) = tail
        && let Some(eocd) = memchr::memmem::rfind(bytes, b"PK\x05\x06")
    {
        let (entries, cd_size, cd_offset) = zip_directory(bytes, base, eocd);
        if cd_offset >= base
            && cd_offset.saturating_add(cd_size) <= base + bytes.len() as u64
            && let Ok(mut at) = usize::try_from(cd_offset - base)
        {
            let mut seen = 0u64;
            while seen < entries && bytes.get(at..at + 4) == Some(b"PK\x01\x02") {
                let flags = le_u16(bytes, at + 8).unwrap_or(0);
                let method = le_u16(bytes, at + 10).unwrap_or(0);
                let name_len = le_u16(bytes, at + 28).unwrap_or(0) as usize;
                let extra_len = le_u16(bytes, at + 30).unwrap_or(0) as usize;
                let comment_len = le_u16(bytes, at + 32).unwrap_or(0) as usize;
                let name = bytes.get(at + 46..at + 46 + name_len).unwrap_or_default();
                let extra = bytes
                    .get(at + 46 + name_len..at + 46 + name_len + extra_len)
                    .unwrap_or_default();
                if let Some(how) = zip_entry_encryption(flags, method, extra) {
                    encrypted += 1;
                    methods.insert(how);
                    if encrypted_names.len() < 20 {
                        encrypted_names.push(String::from_utf8_lossy(name).into_owned());
                    }
                }
                seen += 1;
                at += 46 + name_len + extra_len + comment_len;
            }
            total = Some(seen);
        }
    }
    // Otherwise the first local header speaks for the archive.
    if total.is_none() {
        let flags = le_u16(head, 6).unwrap_or(0);
        let method = le_u16(head, 8).unwrap_or(0);
        let name_len = le_u16(head, 26).unwrap_or(0) as usize;
        let extra_len = le_u16(head, 28).unwrap_or(0) as usize;
        let extra = head
            .get(30 + name_len..30 + name_len + extra_len)
            .unwrap_or_default();
        if let Some(how) = zip_entry_encryption(flags, method, extra) {
            encrypted = 1;
            methods.insert(how);
            encrypted_names.push(
                String::from_utf8_lossy(head.get(30..30 + name_len).unwrap_or_default())
                    .into_owned(),
            );
        }
    }
    let mut findings = Vec::new();
    if encrypted > 0 {
        let methods: Vec<String> = methods.into_iter().collect();
        findings.push(new_finding(
            NAME,
            "encryption.archive",
            Severity::Medium,
            format!("Password-protected ZIP archive ({})", methods.join(", ")),
            json!({
                "format": "zip",
                "encryption": methods,
                "encrypted_entries": encrypted,
                "total_entries": total,
                "basis": if total.is_some() { "central directory" } else { "first local header" },
                "encrypted_names": encrypted_names,
            }),
        ));
    }
    if hint == Some(PathHint::OnePassword1pux) {
        findings.push(new_finding(
            NAME,
            "encryption.password_manager",
            Severity::High,
            "1Password export (.1pux): vault contents, not encrypted".to_string(),
            json!({ "product": "1Password", "format": "1PUX export (ZIP)", "encrypted": false }),
        ));
    }
    findings
}

fn rar4(head: &[u8]) -> Vec<Finding> {
    let mut at = 7;
    let mut headers_encrypted = false;
    let mut files_encrypted = None;
    for _ in 0..64 {
        let (Some(kind), Some(flags), Some(size)) =
            (head.get(at + 2), le_u16(head, at + 3), le_u16(head, at + 5))
        else {
            break;
        };
        let size = size as usize;
        if size < 7 {
            break;
        }
        match kind {
            // MHD_PASSWORD in the main header: block headers are encrypted.
            0x73 if flags & 0x0080 != 0 => {
                headers_encrypted = true;
                break;
            }
            0x74 => {
                files_encrypted = Some(flags & 0x0004 != 0);
                break;
            }
            _ => {}
        }
        let add = if flags & 0x8000 != 0 {
            le_u32(head, at + 7).unwrap_or(0) as usize
        } else {
            0
        };
        at = at.saturating_add(size).saturating_add(add);
    }
    rar_finding("RAR4", headers_encrypted, files_encrypted)
}

/// RAR5 variable-length integer: 7 bits per byte, high bit = more.
fn vint(b: &[u8], at: &mut usize) -> Option<u64> {
    let mut value = 0u64;
    for shift in 0..10 {
        let byte = *b.get(*at)?;
        *at += 1;
        value |= u64::from(byte & 0x7f) << (7 * shift);
        if byte & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

fn rar5(head: &[u8]) -> Vec<Finding> {
    let mut at = 8;
    let mut headers_encrypted = false;
    let mut files_encrypted = None;
    for _ in 0..64 {
        let mut p = at + 4;
        let Some(header_size) = vint(head, &mut p) else {
            break;
        };
        let header_start = p;
        let header_end = header_start.saturating_add(header_size as usize);
        let (Some(kind), Some(flags)) = (vint(head, &mut p), vint(head, &mut p)) else {
            break;
        };
        let extra_size = if flags & 1 != 0 {
            vint(head, &mut p)
        } else {
            Some(0)
        };
        let data_size = if flags & 2 != 0 {
            vint(head, &mut p)
        } else {
            Some(0)
        };
        let (Some(extra_size), Some(data_size)) = (extra_size, data_size) else {
            break;
        };
        match kind {
            4 => {
                headers_encrypted = true;
                break;
            }
            2 => {
                let extra_start = header_end.saturating_sub(extra_size as usize);
                let mut e = extra_start;
                let mut encrypted = false;
                while e < header_end {
                    let Some(size) = vint(head, &mut e) else {
                        break;
                    };
                    let record_end = e.saturating_add(size as usize);
                    if vint(head, &mut e) == Some(1) {
                        encrypted = true;
                    }
                    e = record_end;
                }
                files_encrypted = Some(encrypted);
                break;
            }
            5 => break,
            _ => {}
        }
        at = header_end.saturating_add(data_size as usize);
        if header_size == 0 || at >= head.len() {
            break;
        }
    }
    rar_finding("RAR5", headers_encrypted, files_encrypted)
}

fn rar_finding(format: &str, headers: bool, files: Option<bool>) -> Vec<Finding> {
    let what = if headers {
        "file names and contents encrypted"
    } else if files == Some(true) {
        "file contents encrypted"
    } else {
        return Vec::new();
    };
    vec![new_finding(
        NAME,
        "encryption.archive",
        Severity::Medium,
        format!("Password-protected {format} archive ({what})"),
        json!({ "format": format.to_ascii_lowercase(), "headers_encrypted": headers,
                "first_file_encrypted": files }),
    )]
}

fn password_manager(hint: PathHint, head: &[u8]) -> Option<Finding> {
    let text = String::from_utf8_lossy(head);
    let trimmed = text.trim_start_matches('\u{feff}').trim_start();
    let (product, format, encrypted, severity) = match hint {
        PathHint::OnePasswordOpvault if trimmed.starts_with("var profile") => (
            "1Password",
            "OPVault vault (profile.js)",
            true,
            Severity::High,
        ),
        PathHint::OnePasswordAgile if trimmed.starts_with('{') => (
            "1Password",
            "Agile Keychain vault (encryptionKeys.js)",
            true,
            Severity::High,
        ),
        PathHint::OnePassword1pif
            if text.contains("***5642bee8-a5ff-11dc-8314-0800200c9a66***")
                || trimmed.starts_with('{') =>
        {
            (
                "1Password",
                "1PIF export (plain text)",
                false,
                Severity::Critical,
            )
        }
        PathHint::OnePasswordDb if head.starts_with(b"SQLite format 3\0") => (
            "1Password",
            "local vault database (SQLite, items encrypted)",
            true,
            Severity::High,
        ),
        PathHint::BitwardenApp if trimmed.starts_with('{') => (
            "Bitwarden",
            "desktop app data (data.json, vault encrypted)",
            true,
            Severity::High,
        ),
        PathHint::BitwardenJson
            if trimmed.starts_with('{')
                && json_key(&text, "encrypted").is_some()
                && (text.contains("\"items\"")
                    || text.contains("encKeyValidation_DO_NOT_EDIT")) =>
        {
            match json_key(&text, "encrypted") {
                Some(true) if json_key(&text, "passwordProtected") == Some(true) => (
                    "Bitwarden",
                    "JSON export, password-protected",
                    true,
                    Severity::High,
                ),
                Some(true) => (
                    "Bitwarden",
                    "JSON export, encrypted with the account key",
                    true,
                    Severity::High,
                ),
                _ => (
                    "Bitwarden",
                    "JSON export (plain text)",
                    false,
                    Severity::Critical,
                ),
            }
        }
        PathHint::BitwardenCsv
            if trimmed.starts_with("folder,favorite,type,name,notes,fields,reprompt,login_uri")
                || trimmed.starts_with("collections,type,name,notes,fields,reprompt,login_uri") =>
        {
            (
                "Bitwarden",
                "CSV export (plain text)",
                false,
                Severity::Critical,
            )
        }
        _ => return None,
    };
    let title = if encrypted {
        format!("Password manager data: {product} {format}")
    } else {
        format!("Unencrypted password export: {product} {format}")
    };
    Some(new_finding(
        NAME,
        "encryption.password_manager",
        severity,
        title,
        json!({ "product": product, "format": format, "encrypted": encrypted }),
    ))
}

/// The boolean value of `"key": true|false` in JSON text, tolerant of spacing.
fn json_key(text: &str, key: &str) -> Option<bool> {
    let needle = format!("\"{key}\"");
    let at = text.find(&needle)? + needle.len();
    let rest = text.get(at..)?.trim_start().strip_prefix(':')?.trim_start();
    if rest.starts_with("true") {
        Some(true)
    } else if rest.starts_with("false") {
        Some(false)
    } else {
        None
    }
}

fn container_candidate(sampler: &BlockSampler, size: u64, delivered: u64) -> Option<Finding> {
    if !sampler.done() || sampler.planned() == 0 || delivered != size {
        return None;
    }
    let min_entropy = sampler.min_block_entropy();
    let chi = sampler.overall.chi_square();
    if min_entropy < MIN_BLOCK_ENTROPY || chi >= MAX_CHI_SQUARE {
        return None;
    }
    Some(new_finding(
        NAME,
        "encryption.container_candidate",
        Severity::Medium,
        "Possible VeraCrypt/TrueCrypt container: no known format, random-looking content"
            .to_string(),
        json!({
            "size": size,
            "size_multiple_of_512": true,
            "sampled_blocks": sampler.planned(),
            "block_size": SAMPLE_BLOCK_LEN,
            "min_block_entropy": (min_entropy * 10000.0).round() / 10000.0,
            "overall_entropy": (sampler.overall.shannon() * 10000.0).round() / 10000.0,
            "chi_square": (chi * 10.0).round() / 10.0,
            "thresholds": { "min_block_entropy": MIN_BLOCK_ENTROPY, "max_chi_square": MAX_CHI_SQUARE,
                            "min_size": CONTAINER_MIN_SIZE },
            "note": "random-looking data can also be a wiped or compressed file without a header",
        }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_key_reads_booleans() {
        assert_eq!(json_key("{\"encrypted\" :  true}", "encrypted"), Some(true));
        assert_eq!(json_key("{\"encrypted\":false}", "encrypted"), Some(false));
        assert_eq!(json_key("{\"x\":1}", "encrypted"), None);
    }

    #[test]
    fn rar_flags_are_read_from_hand_built_headers() {
        // RAR4: marker, main header (flags 0), file header with the encrypted flag 0x04.
        let mut rar = b"Rar!\x1a\x07\x00".to_vec();
        rar.extend_from_slice(&[0, 0, 0x73, 0, 0, 13, 0, 0, 0, 0, 0, 0, 0]);
        rar.extend_from_slice(&[0, 0, 0x74, 0x04, 0x80, 32, 0, 0, 0, 0, 0]);
        rar.resize(rar.len() + 32, 0);
        let f = rar4(&rar);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].evidence["first_file_encrypted"], true);
        // RAR4 with MHD_PASSWORD in the main header.
        let mut hp = b"Rar!\x1a\x07\x00".to_vec();
        hp.extend_from_slice(&[0, 0, 0x73, 0x80, 0, 13, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(rar4(&hp)[0].evidence["headers_encrypted"], true);
        // RAR5 archive encryption header (type 4) right after the signature.
        let mut r5 = b"Rar!\x1a\x07\x01\x00".to_vec();
        r5.extend_from_slice(&[0, 0, 0, 0, 3, 4, 0, 0]);
        assert_eq!(rar5(&r5)[0].evidence["headers_encrypted"], true);
    }
}
