//! Encryption status (`live/encryption.json`): is any encrypted volume unlocked right
//! now? (The question that decides whether the machine may be switched off.) Also: which
//! attached devices carry encryption headers (LUKS1/2, BitLocker, FileVault 2, APFS with
//! a keybag, VeraCrypt/TrueCrypt candidates), and which encrypted filesystems are
//! mounted (eCryptfs, gocryptfs, CryFS, EncFS, VeraCrypt FUSE, …).
//!
//! Owns detecting these without cryptsetup or any other program: device-mapper UUIDs in
//! sysfs (`CRYPT-LUKS2-…`), the first sectors of block devices (opened read-only, at
//! most 68 KiB each, each read under its own time limit), the mount table, and fscrypt
//! keys in `/proc/keys`. It must never write to a device, never try a key or passphrase,
//! and never keep quiet about an open volume: the banner goes to stderr the moment one
//! is found.
//!
//! This module holds the format detection and the judgements every OS shares; the
//! devices are read by `linux.rs` (sysfs, procfs, block devices) and `windows.rs`
//! (physical drives and mounted volumes).

#![cfg_attr(not(target_os = "linux"), allow(dead_code))]

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{CaptureKind, Captured, Ctx};
use crate::finding::{Finding, Severity};

pub const KIND: CaptureKind = CaptureKind {
    name: "encryption",
    member: "live/encryption.json",
    schema: "fieldkit.live.encryption",
    reads: "/sys/block/dm-*/dm/{uuid,name}, /sys/block/*/{slaves,holders}, first 68 KiB of every block device (read-only), /proc/self/mountinfo, /proc/keys",
};

/// The quick open-volume check that runs before every other capture, so that the banner
/// comes within a second of the start (the full header scan keeps its place at the end).
pub const OPEN_CHECK_KIND: CaptureKind = CaptureKind {
    name: "open_volumes",
    member: "live/open_volumes.json",
    schema: "fieldkit.live.open_volumes",
    reads: "/sys/block/dm-*/dm/{uuid,name}, /sys/block/*/{slaves,holders}, /proc/self/mountinfo, /proc/keys (no device is opened)",
};

/// What the quick check found: the volumes unlocked now (as in [`EncryptionState`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OpenCheck {
    pub open_volumes: Vec<OpenVolume>,
    #[serde(default)]
    pub device_mapper: Vec<DmDevice>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl Captured for OpenCheck {
    fn detail(&self) -> String {
        if self.open_volumes.is_empty() {
            "no open encrypted volume in the kernel's tables (the header scan follows last)"
                .to_string()
        } else {
            open_volumes_detail(&self.open_volumes)
        }
    }
}

/// `Some(reason)` when the header scan examined nothing: no device was found, or not one
/// could be read. `advice` says what would help (run as root / Administrator). When only
/// some devices could not be read, they are named in `notes` instead.
pub fn not_determined_reason(
    scans: &[DeviceScan],
    advice: &str,
    notes: &mut Vec<String>,
) -> Option<String> {
    if scans.is_empty() {
        return Some("no block device to examine was found".to_string());
    }
    let unread: Vec<&DeviceScan> = scans.iter().filter(|d| d.bytes_read == 0).collect();
    let first_error = unread
        .iter()
        .find_map(|d| d.error.clone())
        .unwrap_or_else(|| "nothing read".to_string());
    if unread.len() == scans.len() {
        let mut why = if scans.len() == 1 {
            format!(
                "the only device, {}, could not be read: {first_error}",
                unread[0].path
            )
        } else {
            format!(
                "none of the {} devices could be read ({}: {first_error}, …)",
                scans.len(),
                unread[0].path
            )
        };
        if unread.iter().any(|d| {
            d.error
                .as_deref()
                .is_some_and(|e| e.contains("Permission denied") || e.contains("access denied"))
        }) {
            why.push_str(&format!("; {advice}"));
        }
        return Some(why);
    }
    if !unread.is_empty() {
        notes.push(format!(
            "{} of {} devices could not be read, their headers are unknown: {}",
            unread.len(),
            scans.len(),
            unread
                .iter()
                .map(|d| format!(
                    "{} ({})",
                    d.path,
                    d.error.as_deref().unwrap_or("nothing read")
                ))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    None
}

fn open_volumes_detail(volumes: &[OpenVolume]) -> String {
    format!(
        "OPEN ENCRYPTED VOLUMES: {}",
        volumes
            .iter()
            .map(|v| format!("{} {}", v.scheme, v.device))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// How much of each device is read: the LUKS2 primary header and JSON area (16 KiB by
/// default), the secondary header, and 64 KiB for the randomness test, plus the btrfs
/// superblock magic just past 64 KiB.
pub const HEADER_READ: usize = 68 * 1024;
/// Bytes over which randomness is judged.
pub const ENTROPY_WINDOW: usize = 64 * 1024;
/// Bits per byte above which the start of a device with no known format is taken for a
/// VeraCrypt/TrueCrypt volume (random salt and encrypted header, then encrypted data).
pub const RANDOM_THRESHOLD: f64 = 7.99;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EncryptionState {
    /// Encrypted volumes unlocked right now. Not empty ⇒ do not power off.
    pub open_volumes: Vec<OpenVolume>,
    /// Every device-mapper device, with what its UUID says.
    pub device_mapper: Vec<DmDevice>,
    /// Header scan of every attached block device.
    pub devices: Vec<DeviceScan>,
    /// Encrypted devices found locked (a header, and no open mapping on top of it).
    #[serde(default)]
    pub locked_containers: Vec<String>,
    /// Encrypted volumes whose lock state could not be determined on this OS.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub status_unknown: Vec<String>,
    /// Why the encryption status could not be determined, when no device could be
    /// examined (no privilege, no device found): then "no open volume" would be a guess.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_determined: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OpenVolume {
    /// `dm-crypt`, `fuse`, `ecryptfs`, `fscrypt`.
    pub mechanism: String,
    /// `LUKS2`, `LUKS1`, `PLAIN`, `TCRYPT` (VeraCrypt/TrueCrypt), `BITLK` (BitLocker),
    /// `FVAULT2`, `gocryptfs`, `eCryptfs`, …
    pub scheme: String,
    /// The unlocked (plaintext) device, e.g. `/dev/dm-0`, or the mount source.
    pub device: String,
    /// Mapping name (`/dev/mapper/NAME`) or the mount point of a stacked filesystem.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uuid: Option<String>,
    /// The encrypted devices or directory underneath.
    #[serde(default)]
    pub backing: Vec<String>,
    /// Where the plaintext is mounted (directly or through LVM, …).
    #[serde(default)]
    pub mount_points: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_bytes: Option<u64>,
    /// The kernel fact this conclusion rests on.
    pub evidence: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DmDevice {
    pub device: String,
    pub name: String,
    pub uuid: String,
    #[serde(default)]
    pub slaves: Vec<String>,
    #[serde(default)]
    pub holders: Vec<String>,
    /// What the UUID prefix means (`LUKS2`, `LVM`, `VERITY`, …).
    pub target: String,
    pub encryption: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DeviceScan {
    pub device: String,
    pub path: String,
    pub size_bytes: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backing_file: Option<String>,
    pub bytes_read: u64,
    /// A recognised non-encrypted format at the start (`ext4`, `ntfs`, `mbr`, `gpt`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    #[serde(default)]
    pub signatures: Vec<Signature>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entropy_bits_per_byte: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Signature {
    /// `LUKS1`, `LUKS2`, `BitLocker`, `BitLocker To Go`, `FileVault 2 (CoreStorage)`,
    /// `APFS (keybag present)`, `VeraCrypt/TrueCrypt (candidate)`, `ext4 (encrypt feature)`.
    pub scheme: String,
    pub offset: u64,
    /// `volume` (the whole volume is encrypted), `candidate` (randomness only: could be
    /// VeraCrypt or just random data), `per-file` (a filesystem able to encrypt files).
    pub coverage: String,
    #[serde(default)]
    pub details: BTreeMap<String, String>,
}

impl Captured for EncryptionState {
    fn detail(&self) -> String {
        if let (true, Some(why)) = (self.open_volumes.is_empty(), &self.not_determined) {
            format!("encryption status NOT DETERMINED ({why})")
        } else if self.open_volumes.is_empty() {
            format!(
                "no open encrypted volume; {} devices scanned, {} with encryption headers",
                self.devices.len(),
                self.devices
                    .iter()
                    .filter(|d| d.signatures.iter().any(|s| s.coverage != "per-file"))
                    .count()
            )
        } else {
            open_volumes_detail(&self.open_volumes)
        }
    }
}

fn be_u16(b: &[u8], o: usize) -> Option<u16> {
    Some(u16::from_be_bytes(b.get(o..o + 2)?.try_into().ok()?))
}
fn be_u32(b: &[u8], o: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(o..o + 4)?.try_into().ok()?))
}
fn be_u64(b: &[u8], o: usize) -> Option<u64> {
    Some(u64::from_be_bytes(b.get(o..o + 8)?.try_into().ok()?))
}
fn le_u16(b: &[u8], o: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(o..o + 2)?.try_into().ok()?))
}
fn le_u32(b: &[u8], o: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(o..o + 4)?.try_into().ok()?))
}
fn le_u64(b: &[u8], o: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(o..o + 8)?.try_into().ok()?))
}
fn c_text(b: &[u8], o: usize, len: usize) -> String {
    let s = b.get(o..(o + len).min(b.len())).unwrap_or(&[]);
    let end = s.iter().position(|c| *c == 0).unwrap_or(s.len());
    String::from_utf8_lossy(&s[..end]).trim().to_string()
}
fn at(b: &[u8], o: usize, magic: &[u8]) -> bool {
    b.get(o..o + magic.len()) == Some(magic)
}

const LUKS_MAGIC: &[u8] = b"LUKS\xba\xbe";
const LUKS2_SECONDARY_MAGIC: &[u8] = b"SKUL\xba\xbe";
const BITLOCKER_TO_GO_GUID: [u8; 16] = [
    0x3b, 0xd6, 0x67, 0x49, 0x29, 0x2e, 0xd8, 0x4a, 0x83, 0x99, 0xf6, 0xa3, 0x39, 0xe3, 0xd0, 0x01,
];

fn luks1_details(b: &[u8]) -> BTreeMap<String, String> {
    let mut d = BTreeMap::new();
    d.insert(
        "cipher".into(),
        format!("{}-{}", c_text(b, 8, 32), c_text(b, 40, 32)),
    );
    d.insert("hash".into(), c_text(b, 72, 32));
    d.insert("uuid".into(), c_text(b, 168, 40));
    if let Some(off) = be_u32(b, 104) {
        d.insert("payload_offset_sectors".into(), off.to_string());
    }
    if let Some(kb) = be_u32(b, 108) {
        d.insert("key_bits".into(), (u64::from(kb) * 8).to_string());
    }
    let active = (0..8)
        .filter(|i| be_u32(b, 208 + i * 48) == Some(0x00AC_71F3))
        .count();
    d.insert("active_keyslots".into(), active.to_string());
    d
}

fn luks2_details(b: &[u8], offset: usize) -> BTreeMap<String, String> {
    let mut d = BTreeMap::new();
    let h = &b[offset.min(b.len())..];
    d.insert("uuid".into(), c_text(h, 168, 40));
    let label = c_text(h, 24, 48);
    if !label.is_empty() {
        d.insert("label".into(), label);
    }
    let subsystem = c_text(h, 208, 48);
    if !subsystem.is_empty() {
        d.insert("subsystem".into(), subsystem);
    }
    let hdr_size = be_u64(h, 8).unwrap_or(0);
    d.insert("header_size".into(), hdr_size.to_string());
    if let Some(seq) = be_u64(h, 16) {
        d.insert("sequence_id".into(), seq.to_string());
    }
    // The JSON metadata follows the 4 KiB binary header, NUL-padded to hdr_size.
    let json_end = usize::try_from(hdr_size).unwrap_or(0).min(h.len());
    if json_end > 4096 {
        let area = &h[4096..json_end];
        let end = area.iter().position(|c| *c == 0).unwrap_or(area.len());
        match serde_json::from_slice::<serde_json::Value>(&area[..end]) {
            Ok(meta) => {
                if let Some(ks) = meta.get("keyslots").and_then(|k| k.as_object()) {
                    d.insert("keyslots".into(), ks.len().to_string());
                }
                if let Some(segs) = meta.get("segments").and_then(|s| s.as_object())
                    && let Some(enc) = segs
                        .values()
                        .find_map(|s| s.get("encryption").and_then(|e| e.as_str()))
                {
                    d.insert("cipher".into(), enc.to_string());
                }
                if let Some(tokens) = meta.get("tokens").and_then(|t| t.as_object()) {
                    let types: Vec<String> = tokens
                        .values()
                        .filter_map(|t| t.get("type").and_then(|v| v.as_str()))
                        .map(str::to_string)
                        .collect();
                    if !types.is_empty() {
                        // systemd-tpm2 / systemd-fido2 tokens: unlocked by hardware, not
                        // only by a passphrase.
                        d.insert("tokens".into(), types.join(","));
                    }
                }
            }
            Err(e) => {
                d.insert("json_error".into(), e.to_string());
            }
        }
    } else if json_end < 4096 {
        d.insert(
            "json_error".into(),
            "JSON area not read (header larger than the bytes read)".into(),
        );
    }
    d
}

/// Encryption signatures in the first bytes of a volume (`b` starts at its offset 0).
pub fn detect_signatures(b: &[u8]) -> Vec<Signature> {
    let mut out = Vec::new();
    let sig =
        |scheme: &str, offset: u64, coverage: &str, details: BTreeMap<String, String>| Signature {
            scheme: scheme.to_string(),
            offset,
            coverage: coverage.to_string(),
            details,
        };
    if at(b, 0, LUKS_MAGIC) {
        match be_u16(b, 6) {
            Some(1) => out.push(sig("LUKS1", 0, "volume", luks1_details(b))),
            Some(2) => out.push(sig("LUKS2", 0, "volume", luks2_details(b, 0))),
            Some(v) => {
                let mut d = BTreeMap::new();
                d.insert("version".into(), v.to_string());
                out.push(sig("LUKS (unknown version)", 0, "volume", d));
            }
            None => {}
        }
    } else {
        // A damaged primary: LUKS2 keeps a secondary header at one of these offsets.
        for off in [0x4000usize, 0x8000, 0x10000] {
            if at(b, off, LUKS2_SECONDARY_MAGIC) && be_u16(b, off + 6) == Some(2) {
                let mut d = luks2_details(b, off);
                d.insert(
                    "note".into(),
                    "primary header missing; secondary found".into(),
                );
                out.push(sig("LUKS2", off as u64, "volume", d));
                break;
            }
        }
    }
    if at(b, 3, b"-FVE-FS-") {
        let mut d = BTreeMap::new();
        for (i, o) in [0x1b0usize, 0x1b8, 0x1c0].iter().enumerate() {
            if let Some(v) = le_u64(b, *o) {
                d.insert(format!("fve_metadata_offset_{}", i + 1), v.to_string());
            }
        }
        out.push(sig("BitLocker", 0, "volume", d));
    } else if at(b, 3, b"MSWIN4.1") && at(b, 424, &BITLOCKER_TO_GO_GUID) {
        out.push(sig("BitLocker To Go", 0, "volume", BTreeMap::new()));
    }
    if at(b, 88, b"CS") && le_u16(b, 90) == Some(1) {
        let mut d = BTreeMap::new();
        if let Some(bs) = le_u32(b, 96) {
            d.insert("block_size".into(), bs.to_string());
        }
        out.push(sig("FileVault 2 (CoreStorage)", 0, "volume", d));
    }
    if at(b, 32, b"NXSB") {
        // nx_superblock_t: nx_flags at 1264, nx_keylocker (prange) at 1296.
        let keylocker_blocks = le_u64(b, 1304).unwrap_or(0);
        let flags = le_u64(b, 1264).unwrap_or(0);
        let mut d = BTreeMap::new();
        d.insert("keybag_blocks".into(), keylocker_blocks.to_string());
        d.insert("software_crypto".into(), (flags & 0x4 != 0).to_string());
        if keylocker_blocks > 0 {
            d.insert(
                "meaning".into(),
                "container keybag present: at least one volume is encrypted (FileVault or \
                 hardware encryption)"
                    .into(),
            );
            out.push(sig("APFS (keybag present)", 0, "volume", d));
        }
    }
    // ext4 superblock at 1024: s_magic at +0x38, s_feature_incompat at +0x60.
    if le_u16(b, 1024 + 0x38) == Some(0xEF53)
        && le_u32(b, 1024 + 0x60).is_some_and(|f| f & 0x1_0000 != 0)
    {
        out.push(sig(
            "ext4 (encrypt feature)",
            1024,
            "per-file",
            BTreeMap::new(),
        ));
    }
    out
}

/// A recognised format at the start of a volume that is not encryption (used to rule
/// out the randomness test and to describe the device).
pub fn known_format(b: &[u8]) -> Option<&'static str> {
    let checks: [(usize, &[u8], &'static str); 16] = [
        (512, b"EFI PART", "gpt"),
        (4096, b"EFI PART", "gpt"),
        (3, b"NTFS    ", "ntfs"),
        (3, b"EXFAT   ", "exfat"),
        (0, b"XFSB", "xfs"),
        (0, b"hsqs", "squashfs"),
        (65600, b"_BHRfS_M", "btrfs"),
        (512, b"LABELONE", "lvm2"),
        (4086, b"SWAPSPACE2", "swap"),
        (4086, b"SWAP-SPACE", "swap"),
        (32769, b"CD001", "iso9660"),
        (0, b"\x1f\x8b", "gzip"),
        (0, b"\xfd7zXZ\x00", "xz"),
        (0, b"\x28\xb5\x2f\xfd", "zstd"),
        (1024, b"\x10\x20\xf5\xf2", "f2fs"),
        (0, b"ZFS", "zfs"),
    ];
    for (off, magic, name) in checks {
        if at(b, off, magic) {
            return Some(name);
        }
    }
    if le_u16(b, 1024 + 0x38) == Some(0xEF53) {
        return Some("ext2/3/4");
    }
    if at(b, 54, b"FAT") || at(b, 82, b"FAT32") {
        return Some("fat");
    }
    if at(b, 510, b"\x55\xaa") {
        return Some("mbr/boot sector");
    }
    None
}

/// Shannon entropy in bits per byte.
pub fn entropy(b: &[u8]) -> f64 {
    if b.is_empty() {
        return 0.0;
    }
    let mut counts = [0u64; 256];
    for &x in b {
        counts[x as usize] += 1;
    }
    let n = b.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = c as f64 / n;
            -p * p.log2()
        })
        .sum()
}

/// Everything the first bytes of one device say.
pub fn scan_header(scan: &mut DeviceScan, b: &[u8]) {
    scan.bytes_read = b.len() as u64;
    scan.signatures = detect_signatures(b);
    let fmt = known_format(b);
    let whole_volume = scan.signatures.iter().any(|s| s.coverage == "volume");
    if fmt.is_some() && !whole_volume {
        scan.format = fmt.map(str::to_string);
    }
    if b.len() >= ENTROPY_WINDOW {
        let e = entropy(&b[..ENTROPY_WINDOW]);
        scan.entropy_bits_per_byte = Some((e * 10_000.0).round() / 10_000.0);
        if e >= RANDOM_THRESHOLD && fmt.is_none() && scan.signatures.is_empty() {
            let mut d = BTreeMap::new();
            d.insert(
                "meaning".into(),
                "the first 64 KiB are indistinguishable from random data and match no known \
                 format: typical of a VeraCrypt/TrueCrypt volume (or a wiped or otherwise \
                 encrypted device)"
                    .into(),
            );
            scan.signatures.push(Signature {
                scheme: "VeraCrypt/TrueCrypt (candidate)".to_string(),
                offset: 0,
                coverage: "candidate".to_string(),
                details: d,
            });
        }
    }
}

/// What a device-mapper UUID (and name) says: `Some(scheme)` when it is an encryption
/// mapping. cryptsetup names its mappings `CRYPT-<TYPE>-<uuid>-<name>`; VERITY and
/// INTEGRITY are integrity layers and SUBDEV a helper device, not encryption. VeraCrypt's
/// own mappings are named `veracryptN`.
pub fn classify_dm(uuid: &str, name: &str) -> (String, bool) {
    if let Some(rest) = uuid.strip_prefix("CRYPT-") {
        let kind = rest.split('-').next().unwrap_or("");
        return match kind {
            "VERITY" | "INTEGRITY" | "SUBDEV" => (kind.to_string(), false),
            "" => ("dm-crypt".to_string(), true),
            k => (k.to_string(), true),
        };
    }
    let lower = name.to_ascii_lowercase();
    if lower.starts_with("veracrypt") || lower.starts_with("truecrypt") {
        return ("VeraCrypt/TrueCrypt (mapping name)".to_string(), true);
    }
    let target = uuid
        .split('-')
        .next()
        .filter(|t| !t.is_empty())
        .unwrap_or("none");
    (target.to_string(), false)
}

/// An encrypted filesystem by its mount type (or, for plain `fuse`, its source).
pub fn classify_mount(fs_type: &str, source: &str) -> Option<&'static str> {
    const FUSE: [(&str, &str); 12] = [
        ("gocryptfs", "gocryptfs"),
        ("cryfs", "CryFS"),
        ("encfs", "EncFS"),
        ("securefs", "securefs"),
        ("veracrypt", "VeraCrypt (FUSE)"),
        ("truecrypt", "TrueCrypt (FUSE)"),
        ("dislocker", "BitLocker (dislocker)"),
        ("cryptomator", "Cryptomator"),
        ("cryptofs", "Cryptomator"),
        ("sirikali", "SiriKali"),
        ("fscrypt", "fscrypt"),
        ("ecryptfs", "eCryptfs"),
    ];
    let t = fs_type.to_ascii_lowercase();
    if t == "ecryptfs" {
        return Some("eCryptfs");
    }
    let sub = t
        .strip_prefix("fuse.")
        .or_else(|| t.strip_prefix("fuseblk."))
        .map(str::to_string)
        .or_else(|| (t == "fuse" || t == "fuseblk").then(|| source.to_ascii_lowercase()))?;
    FUSE.iter()
        .find(|(needle, _)| sub.contains(needle))
        .map(|(_, scheme)| *scheme)
}

/// fscrypt v1 master keys in the session keyrings (`logon` keys named `fscrypt:…`,
/// `ext4:…`, `f2fs:…`): a directory encrypted with that key is readable now.
pub fn fscrypt_keys(proc_keys: &str) -> Vec<String> {
    proc_keys
        .lines()
        .filter(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f.len() >= 9
                && f[7] == "logon"
                && ["fscrypt:", "ext4:", "f2fs:", "ubifs:"]
                    .iter()
                    .any(|p| f[8].starts_with(p))
        })
        .map(|l| l.trim().to_string())
        .collect()
}

/// The banner that must not be missed, when any encrypted volume is open.
pub fn banner(state: &EncryptionState) -> Option<String> {
    banner_for(&state.open_volumes)
}

/// The banner for these open volumes (`None` when there are none).
pub fn banner_for(open_volumes: &[OpenVolume]) -> Option<String> {
    if open_volumes.is_empty() {
        return None;
    }
    let rule = "!".repeat(78);
    let mut lines = vec![
        rule.clone(),
        rule.clone(),
        "!!".to_string(),
        "!!   ENCRYPTED VOLUME IS OPEN — DO NOT POWER OFF — image it live".to_string(),
        "!!".to_string(),
        "!!   Switching this machine off locks the data below; without the key it is gone."
            .to_string(),
        "!!".to_string(),
    ];
    for v in open_volumes {
        let mut line = format!("!!   * {} {}", v.scheme, v.device);
        if let Some(n) = &v.name {
            line.push_str(&format!(" ({n})"));
        }
        if !v.backing.is_empty() {
            line.push_str(&format!(" on {}", v.backing.join(", ")));
        }
        if !v.mount_points.is_empty() {
            line.push_str(&format!(", mounted at {}", v.mount_points.join(", ")));
        }
        lines.push(line);
    }
    lines.push("!!".to_string());
    lines.push(rule.clone());
    lines.push(rule);
    Some(lines.join("\n") + "\n")
}

/// Print the banner on stderr, in red on a terminal.
pub fn print_banner(banner: &str) {
    use std::io::{IsTerminal, Write};
    let mut err = std::io::stderr().lock();
    let _ = if std::io::stderr().is_terminal() {
        write!(err, "\x1b[1;97;41m{}\x1b[0m", banner.trim_end()).and_then(|_| writeln!(err))
    } else {
        write!(err, "{banner}")
    };
    let _ = err.flush();
}

/// One critical finding per open volume, pointing at `member`.
fn open_volume_findings(open_volumes: &[OpenVolume], member: &str) -> Vec<Finding> {
    let mut out = Vec::new();
    for v in open_volumes {
        let mut title = format!("Encrypted volume is open: {} {}", v.scheme, v.device);
        if !v.mount_points.is_empty() {
            title.push_str(&format!(" (mounted at {})", v.mount_points.join(", ")));
        }
        title.push_str(" — do not power off, image it live");
        out.push(Finding {
            id: String::new(),
            analyzer: "live".to_string(),
            kind: "encryption.volume_open".to_string(),
            severity: Severity::Critical,
            path: Some(v.device.clone()),
            member: Some(member.to_string()),
            sha256: None,
            title,
            evidence: serde_json::to_value(v).unwrap_or(serde_json::Value::Null),
        });
    }
    out
}

/// Findings of the quick check, for when the full encryption capture produced none.
pub fn open_check_findings(check: &OpenCheck) -> Vec<Finding> {
    open_volume_findings(&check.open_volumes, OPEN_CHECK_KIND.member)
}

/// Findings for the bundle: one critical finding per open volume, one per locked
/// encrypted device, one per volume whose state is unknown.
pub fn findings(state: &EncryptionState) -> Vec<Finding> {
    let mut out = open_volume_findings(&state.open_volumes, KIND.member);
    for d in &state.devices {
        for s in &d.signatures {
            let (kind, severity, what) = match s.coverage.as_str() {
                "volume" => ("encryption.header", Severity::High, "encryption header"),
                "candidate" => (
                    "encryption.candidate",
                    Severity::Medium,
                    "possible encrypted volume",
                ),
                _ => (
                    "encryption.capable_fs",
                    Severity::Info,
                    "encryption-capable filesystem",
                ),
            };
            let mut title = format!("{what}: {} on {}", s.scheme, d.path);
            if let Some(b) = &d.backing_file {
                title.push_str(&format!(" (backing file {b})"));
            }
            out.push(Finding {
                id: String::new(),
                analyzer: "live".to_string(),
                kind: kind.to_string(),
                severity,
                path: Some(d.path.clone()),
                member: Some(KIND.member.to_string()),
                sha256: None,
                title,
                evidence: serde_json::json!({ "device": d.device, "signature": s,
                    "entropy_bits_per_byte": d.entropy_bits_per_byte }),
            });
        }
    }
    if let Some(why) = &state.not_determined {
        out.push(Finding {
            id: String::new(),
            analyzer: "live".to_string(),
            kind: "encryption.not_determined".to_string(),
            severity: Severity::High,
            path: None,
            member: Some(KIND.member.to_string()),
            sha256: None,
            title: format!(
                "Encryption status NOT DETERMINED ({why}): an encrypted volume may be open — \
                 check before powering off"
            ),
            evidence: serde_json::Value::String(why.clone()),
        });
    }
    for u in &state.status_unknown {
        out.push(Finding {
            id: String::new(),
            analyzer: "live".to_string(),
            kind: "encryption.status_unknown".to_string(),
            severity: Severity::High,
            path: None,
            member: Some(KIND.member.to_string()),
            sha256: None,
            title: format!("{u}: may be unlocked now — check before powering off"),
            evidence: serde_json::Value::String(u.clone()),
        });
    }
    out
}

#[cfg(target_os = "linux")]
mod linux;

#[cfg(target_os = "linux")]
pub use linux::{capture, open_check};

/// Partition starts (byte offsets) found in an MBR or GPT at the start of a disk, with a
/// label. `read` fetches `len` bytes at a byte offset (sector-aligned by construction).
pub fn partition_offsets(
    first: &[u8],
    mut read: impl FnMut(u64, usize) -> Option<Vec<u8>>,
) -> Vec<(u64, String)> {
    let mut out = Vec::new();
    for sector in [512u64, 4096] {
        if !at(first, sector as usize, b"EFI PART") {
            continue;
        }
        let h = &first[sector as usize..];
        let (Some(entries_lba), Some(count), Some(size)) =
            (le_u64(h, 72), le_u32(h, 80), le_u32(h, 84))
        else {
            return out;
        };
        let (count, size) = (count.min(256) as usize, size as usize);
        if !(128..=4096).contains(&size) {
            return out;
        }
        let want = (count * size).div_ceil(sector as usize) * sector as usize;
        let Some(table) = read(entries_lba.saturating_mul(sector), want) else {
            return out;
        };
        for i in 0..count {
            let e = match table.get(i * size..i * size + size) {
                Some(e) => e,
                None => break,
            };
            if e[..16].iter().all(|b| *b == 0) {
                continue;
            }
            if let Some(first_lba) = le_u64(e, 32) {
                out.push((
                    first_lba.saturating_mul(sector),
                    format!("gpt partition {}", i + 1),
                ));
            }
        }
        return out;
    }
    if at(first, 510, b"\x55\xaa") {
        for i in 0..4 {
            let e = 446 + i * 16;
            let kind = first.get(e + 4).copied().unwrap_or(0);
            let start = le_u32(first, e + 8).unwrap_or(0);
            if kind != 0 && kind != 0xEE && start != 0 {
                out.push((
                    u64::from(start) * 512,
                    format!("mbr partition {} (type {kind:#04x})", i + 1),
                ));
            }
        }
    }
    out
}

/// The first sectors of one partition (or of a whole disk, offset 0) of a physical drive.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PartitionScan {
    pub disk: u32,
    /// Byte offset of the partition on the disk.
    pub offset: u64,
    pub scan: DeviceScan,
}

/// A volume Windows has mounted under a drive letter, and where it lies on the disks.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MountedVolume {
    /// `C:`.
    pub letter: String,
    /// (disk number, starting byte offset) of each extent
    /// (`IOCTL_VOLUME_GET_VOLUME_DISK_EXTENTS`).
    pub extents: Vec<(u32, u64)>,
    /// The file system Windows reports for it (`GetVolumeInformationW`): present means
    /// Windows reads its files right now.
    pub file_system: Option<String>,
    /// Why the file system or the extents could not be had (a locked BitLocker volume
    /// answers "This drive is locked by BitLocker Drive Encryption").
    pub error: Option<String>,
}

/// BitLocker signatures on the partitions, judged against the mounted volumes: a BitLocker
/// partition that is a volume Windows reads under a drive letter is unlocked (BitLocker
/// presents the plaintext only once the key is in memory), and so is the one holding the
/// system drive of the running Windows. One with a drive letter that Windows cannot read
/// is locked; one without a drive letter (or whose extents are unknown) stays unknown.
pub fn bitlocker_lock_state(
    partitions: &[PartitionScan],
    volumes: &[MountedVolume],
    system_drive: &str,
    state: &mut EncryptionState,
) {
    for p in partitions {
        let Some(sig) = p
            .scan
            .signatures
            .iter()
            .find(|s| s.scheme.starts_with("BitLocker"))
        else {
            continue;
        };
        let volume = volumes
            .iter()
            .find(|v| v.extents.contains(&(p.disk, p.offset)));
        let is_system = volume.is_some_and(|v| v.letter.eq_ignore_ascii_case(system_drive));
        match volume {
            Some(v) if v.file_system.is_some() || is_system => {
                let why = match (&v.file_system, is_system) {
                    (Some(fs), true) => format!(
                        "it is the system drive {} of this running Windows and Windows reads \
                         its {fs} file system",
                        v.letter
                    ),
                    (Some(fs), false) => format!(
                        "volume {} is mounted and Windows reads its {fs} file system",
                        v.letter
                    ),
                    (None, _) => format!(
                        "it holds the system drive {} of this running Windows",
                        v.letter
                    ),
                };
                state.open_volumes.push(OpenVolume {
                    mechanism: "bitlocker".to_string(),
                    scheme: sig.scheme.clone(),
                    device: v.letter.clone(),
                    name: None,
                    uuid: None,
                    backing: vec![p.scan.path.clone()],
                    mount_points: vec![format!("{}\\", v.letter)],
                    size_bytes: (p.scan.size_bytes > 0).then_some(p.scan.size_bytes),
                    evidence: format!(
                        "{} signature at {} ({}); {why}: it is unlocked",
                        sig.scheme, p.scan.path, p.scan.device
                    ),
                });
            }
            Some(v) => state.locked_containers.push(format!(
                "{} on {} ({}): Windows cannot read it{}",
                sig.scheme,
                p.scan.path,
                v.letter,
                v.error
                    .as_deref()
                    .map(|e| format!(" ({e})"))
                    .unwrap_or_default()
            )),
            None => state.status_unknown.push(format!(
                "{} volume at {} ({}): not mounted under a drive letter, lock state not \
                 determined",
                sig.scheme, p.scan.path, p.scan.device
            )),
        }
    }
}

#[cfg(windows)]
mod windows;
#[cfg(windows)]
pub use windows::{capture, open_check};

#[cfg(not(any(target_os = "linux", windows)))]
pub fn open_check(_ctx: &Ctx) -> Result<OpenCheck, String> {
    Ok(OpenCheck {
        notes: vec![
            "no quick open-volume check on this OS: the encryption capture (last) answers"
                .to_string(),
        ],
        ..OpenCheck::default()
    })
}

#[cfg(not(any(target_os = "linux", windows)))]
pub fn capture(_ctx: &Ctx) -> Result<EncryptionState, String> {
    Ok(EncryptionState {
        notes: vec![
            "encryption status: not yet on this OS (planned for macOS: FileVault state \
             from the APFS volume roles through IOKit, never by running fdesetup)"
                .to_string(),
        ],
        not_determined: Some("not implemented on this OS yet".to_string()),
        ..EncryptionState::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn luks1_header() -> Vec<u8> {
        let mut b = vec![0u8; HEADER_READ];
        b[..6].copy_from_slice(LUKS_MAGIC);
        b[6..8].copy_from_slice(&1u16.to_be_bytes());
        b[8..11].copy_from_slice(b"aes");
        b[40..51].copy_from_slice(b"xts-plain64");
        b[72..78].copy_from_slice(b"sha256");
        b[104..108].copy_from_slice(&4096u32.to_be_bytes());
        b[108..112].copy_from_slice(&64u32.to_be_bytes());
        b[168..172].copy_from_slice(b"abcd");
        b[208..212].copy_from_slice(&0x00AC_71F3u32.to_be_bytes());
        b[256..260].copy_from_slice(&0x0000_DEADu32.to_be_bytes());
        b
    }

    #[test]
    fn luks1_header_fields() {
        let s = detect_signatures(&luks1_header());
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].scheme, "LUKS1");
        assert_eq!(s[0].details["cipher"], "aes-xts-plain64");
        assert_eq!(s[0].details["active_keyslots"], "1");
        assert_eq!(s[0].details["key_bits"], "512");
        assert_eq!(s[0].details["uuid"], "abcd");
    }

    #[test]
    fn luks2_header_and_json_metadata() {
        let mut b = vec![0u8; HEADER_READ];
        b[..6].copy_from_slice(LUKS_MAGIC);
        b[6..8].copy_from_slice(&2u16.to_be_bytes());
        b[8..16].copy_from_slice(&16384u64.to_be_bytes());
        b[24..29].copy_from_slice(b"label");
        b[168..172].copy_from_slice(b"uuid");
        let json = br#"{"keyslots":{"0":{},"1":{}},"segments":{"0":{"encryption":"aes-xts-plain64"}},"tokens":{"0":{"type":"systemd-tpm2"}}}"#;
        b[4096..4096 + json.len()].copy_from_slice(json);
        let s = detect_signatures(&b);
        assert_eq!(s[0].scheme, "LUKS2");
        assert_eq!(s[0].details["keyslots"], "2");
        assert_eq!(s[0].details["cipher"], "aes-xts-plain64");
        assert_eq!(s[0].details["tokens"], "systemd-tpm2");
        assert_eq!(s[0].details["label"], "label");
        // Only the secondary header left.
        let mut damaged = b.clone();
        damaged[..8].fill(0);
        damaged[0x4000..0x4006].copy_from_slice(LUKS2_SECONDARY_MAGIC);
        damaged[0x4006..0x4008].copy_from_slice(&2u16.to_be_bytes());
        let s = detect_signatures(&damaged);
        assert_eq!((s[0].scheme.as_str(), s[0].offset), ("LUKS2", 0x4000));
    }

    #[test]
    fn bitlocker_corestorage_apfs_and_ext4_signatures() {
        let mut b = vec![0u8; 8192];
        b[3..11].copy_from_slice(b"-FVE-FS-");
        assert_eq!(detect_signatures(&b)[0].scheme, "BitLocker");
        let mut b = vec![0u8; 8192];
        b[3..11].copy_from_slice(b"MSWIN4.1");
        b[424..440].copy_from_slice(&BITLOCKER_TO_GO_GUID);
        assert_eq!(detect_signatures(&b)[0].scheme, "BitLocker To Go");
        let mut b = vec![0u8; 8192];
        b[88..90].copy_from_slice(b"CS");
        b[90..92].copy_from_slice(&1u16.to_le_bytes());
        assert_eq!(detect_signatures(&b)[0].scheme, "FileVault 2 (CoreStorage)");
        let mut b = vec![0u8; 8192];
        b[32..36].copy_from_slice(b"NXSB");
        assert!(detect_signatures(&b).is_empty(), "no keybag, no claim");
        b[1304..1312].copy_from_slice(&1u64.to_le_bytes());
        assert_eq!(detect_signatures(&b)[0].scheme, "APFS (keybag present)");
        let mut b = vec![0u8; 8192];
        b[1024 + 0x38..1024 + 0x3a].copy_from_slice(&0xEF53u16.to_le_bytes());
        b[1024 + 0x60..1024 + 0x64].copy_from_slice(&0x1_0000u32.to_le_bytes());
        let s = detect_signatures(&b);
        assert_eq!(
            (s[0].scheme.as_str(), s[0].coverage.as_str()),
            ("ext4 (encrypt feature)", "per-file")
        );
    }

    #[test]
    fn random_data_is_a_veracrypt_candidate_and_formatted_data_is_not() {
        // xorshift: deterministic, statistically random enough for 64 KiB.
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let random: Vec<u8> = (0..HEADER_READ)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect();
        let mut scan = DeviceScan::default();
        scan_header(&mut scan, &random);
        assert_eq!(scan.signatures.len(), 1, "{scan:?}");
        assert_eq!(scan.signatures[0].coverage, "candidate");
        let mut gz = random.clone();
        gz[..2].copy_from_slice(b"\x1f\x8b");
        let mut scan = DeviceScan::default();
        scan_header(&mut scan, &gz);
        assert!(scan.signatures.is_empty());
        assert_eq!(scan.format.as_deref(), Some("gzip"));
        let mut scan = DeviceScan::default();
        scan_header(&mut scan, &vec![0u8; HEADER_READ]);
        assert!(scan.signatures.is_empty());
        assert_eq!(scan.entropy_bits_per_byte, Some(0.0));
    }

    #[test]
    fn truncated_headers_never_panic() {
        let full = luks1_header();
        for cut in (0..2048).chain([4095, 4096, 4097, 16383]) {
            let _ = detect_signatures(&full[..cut]);
            let mut scan = DeviceScan::default();
            scan_header(&mut scan, &full[..cut]);
        }
        let mut b = vec![0u8; 200];
        b[..6].copy_from_slice(LUKS_MAGIC);
        b[6..8].copy_from_slice(&2u16.to_be_bytes());
        b[8..16].copy_from_slice(&u64::MAX.to_be_bytes());
        assert_eq!(detect_signatures(&b)[0].scheme, "LUKS2");
    }

    #[test]
    fn dm_uuids_are_classified() {
        assert_eq!(
            classify_dm("CRYPT-LUKS2-0123abcd-cryptroot", "cryptroot"),
            ("LUKS2".into(), true)
        );
        assert_eq!(
            classify_dm("CRYPT-BITLK-0123-win", "win"),
            ("BITLK".into(), true)
        );
        assert_eq!(
            classify_dm("CRYPT-PLAIN-swap", "swap"),
            ("PLAIN".into(), true)
        );
        assert_eq!(
            classify_dm("CRYPT-VERITY-abc-root", "root"),
            ("VERITY".into(), false)
        );
        assert_eq!(
            classify_dm("CRYPT-SUBDEV-abc", "x_dif"),
            ("SUBDEV".into(), false)
        );
        assert_eq!(classify_dm("LVM-abcdef", "vg-root"), ("LVM".into(), false));
        assert_eq!(
            classify_dm("", "veracrypt1"),
            ("VeraCrypt/TrueCrypt (mapping name)".into(), true)
        );
        assert_eq!(classify_dm("", "plain"), ("none".into(), false));
    }

    #[test]
    fn encrypted_mounts_are_classified() {
        assert_eq!(
            classify_mount("fuse.gocryptfs", "/home/u/.c"),
            Some("gocryptfs")
        );
        assert_eq!(
            classify_mount("ecryptfs", "/home/.ecryptfs/u/.Private"),
            Some("eCryptfs")
        );
        assert_eq!(classify_mount("fuse", "cryfs@/x"), Some("CryFS"));
        assert_eq!(
            classify_mount("fuse.veracrypt", "veracrypt"),
            Some("VeraCrypt (FUSE)")
        );
        assert_eq!(classify_mount("fuse.sshfs", "host:/"), None);
        assert_eq!(classify_mount("ext4", "/dev/sda1"), None);
    }

    #[test]
    fn fscrypt_v1_keys_in_proc_keys() {
        let keys = "1a2b3c4d I--Q---     1 perm 3f010000     0     0 logon     fscrypt:0123456789abcdef: 64\n\
                    2b3c4d5e I--Q---     1 perm 1f3f0000     0     0 keyring   _ses: 1\n";
        assert_eq!(fscrypt_keys(keys).len(), 1);
    }

    #[test]
    fn banner_only_when_a_volume_is_open() {
        let mut state = EncryptionState::default();
        assert!(banner(&state).is_none());
        state.open_volumes.push(OpenVolume {
            mechanism: "dm-crypt".into(),
            scheme: "LUKS2".into(),
            device: "/dev/dm-0".into(),
            name: Some("/dev/mapper/cryptroot".into()),
            backing: vec!["/dev/sda2".into()],
            mount_points: vec!["/".into()],
            ..OpenVolume::default()
        });
        let b = banner(&state).unwrap();
        assert!(b.contains("ENCRYPTED VOLUME IS OPEN — DO NOT POWER OFF — image it live"));
        assert!(b.contains("LUKS2 /dev/dm-0 (/dev/mapper/cryptroot) on /dev/sda2, mounted at /"));
        assert!(b.lines().count() >= 8);
        let f = findings(&state);
        assert_eq!(f[0].kind, "encryption.volume_open");
        assert_eq!(f[0].severity, Severity::Critical);
        assert_eq!(f[0].analyzer, "live");
    }

    fn bitlocker_partition(disk: u32, offset: u64) -> PartitionScan {
        let mut b = vec![0u8; 8192];
        b[3..11].copy_from_slice(b"-FVE-FS-");
        let mut scan = DeviceScan {
            device: format!("PhysicalDrive{disk} gpt partition 3"),
            path: format!(r"\\.\PhysicalDrive{disk}@{offset}"),
            ..DeviceScan::default()
        };
        scan_header(&mut scan, &b);
        PartitionScan { disk, offset, scan }
    }

    #[test]
    fn bitlocker_on_a_volume_windows_reads_is_open_and_on_the_system_drive_always() {
        let parts = vec![
            bitlocker_partition(0, 1 << 20),   // C:, the system drive
            bitlocker_partition(0, 500 << 30), // D:, readable
            bitlocker_partition(1, 1 << 20),   // E:, locked
            bitlocker_partition(1, 100 << 30), // no drive letter
        ];
        let volumes = vec![
            MountedVolume {
                letter: "C:".into(),
                extents: vec![(0, 1 << 20)],
                file_system: None,
                error: Some("GetVolumeInformationW timed out".into()),
            },
            MountedVolume {
                letter: "D:".into(),
                extents: vec![(0, 500 << 30)],
                file_system: Some("NTFS".into()),
                error: None,
            },
            MountedVolume {
                letter: "E:".into(),
                extents: vec![(1, 1 << 20)],
                file_system: None,
                error: Some("This drive is locked by BitLocker Drive Encryption.".into()),
            },
        ];
        let mut state = EncryptionState::default();
        bitlocker_lock_state(&parts, &volumes, "c:", &mut state);
        let open: Vec<&str> = state
            .open_volumes
            .iter()
            .map(|v| v.device.as_str())
            .collect();
        assert_eq!(open, ["C:", "D:"]);
        assert!(
            state.open_volumes[0]
                .evidence
                .contains("system drive C: of this running Windows"),
            "{:?}",
            state.open_volumes[0]
        );
        assert!(
            state.open_volumes[1]
                .evidence
                .contains("reads its NTFS file system")
        );
        assert_eq!(state.open_volumes[1].mount_points, ["D:\\"]);
        assert_eq!(state.locked_containers.len(), 1);
        assert!(
            state.locked_containers[0]
                .contains("(E:): Windows cannot read it (This drive is locked")
        );
        assert_eq!(state.status_unknown.len(), 1);
        assert!(state.status_unknown[0].contains("not mounted under a drive letter"));
        // The banner fires and the findings are critical for the open ones.
        assert!(banner(&state).unwrap().contains("BitLocker C:"));
        let f = findings(&state);
        assert_eq!(
            f.iter()
                .filter(|f| f.kind == "encryption.volume_open")
                .count(),
            2
        );
    }

    #[test]
    fn no_readable_device_means_not_determined_not_none_found() {
        let unreadable = |name: &str| DeviceScan {
            device: name.into(),
            path: format!("/dev/{name}"),
            error: Some("open read-only: Permission denied (os error 13)".into()),
            ..DeviceScan::default()
        };
        let mut notes = Vec::new();
        let why = not_determined_reason(
            &[unreadable("vda"), unreadable("loop0")],
            "run fieldkit as root",
            &mut notes,
        )
        .unwrap();
        assert!(
            why.starts_with(
                "none of the 2 devices could be read (/dev/vda: open read-only: Permission denied"
            ),
            "{why}"
        );
        assert!(why.ends_with("; run fieldkit as root"), "{why}");
        assert!(
            not_determined_reason(&[], "x", &mut notes)
                .unwrap()
                .contains("no block device")
        );
        // One device read: determined, and the unread one is named in the notes.
        let mut read = DeviceScan {
            device: "vdb".into(),
            path: "/dev/vdb".into(),
            ..DeviceScan::default()
        };
        scan_header(&mut read, &[0u8; 4096]);
        assert_eq!(
            not_determined_reason(&[unreadable("vda"), read], "x", &mut notes),
            None
        );
        assert!(
            notes[0].starts_with("1 of 2 devices could not be read"),
            "{notes:?}"
        );
        // The finding, the action detail and the summary say so.
        let state = EncryptionState {
            not_determined: Some(why.clone()),
            ..EncryptionState::default()
        };
        assert!(
            state
                .detail()
                .starts_with("encryption status NOT DETERMINED (none of")
        );
        assert!(
            findings(&state)
                .iter()
                .any(|f| f.kind == "encryption.not_determined" && f.severity == Severity::High)
        );
    }

    #[test]
    fn mbr_and_gpt_partition_tables() {
        let mut mbr = vec![0u8; 4096];
        mbr[510..512].copy_from_slice(b"\x55\xaa");
        mbr[446 + 4] = 0x07;
        mbr[446 + 8..446 + 12].copy_from_slice(&2048u32.to_le_bytes());
        mbr[462 + 4] = 0x83;
        mbr[462 + 8..462 + 12].copy_from_slice(&4096u32.to_le_bytes());
        let p = partition_offsets(&mbr, |_, _| None);
        assert_eq!(
            p.iter().map(|(o, _)| *o).collect::<Vec<_>>(),
            vec![1_048_576, 2_097_152]
        );

        let mut gpt = vec![0u8; 4096];
        gpt[510..512].copy_from_slice(b"\x55\xaa");
        gpt[446 + 4] = 0xEE;
        gpt[446 + 8..446 + 12].copy_from_slice(&1u32.to_le_bytes());
        gpt[512..520].copy_from_slice(b"EFI PART");
        gpt[512 + 72..512 + 80].copy_from_slice(&2u64.to_le_bytes());
        gpt[512 + 80..512 + 84].copy_from_slice(&128u32.to_le_bytes());
        gpt[512 + 84..512 + 88].copy_from_slice(&128u32.to_le_bytes());
        let mut table = vec![0u8; 128 * 128];
        table[0] = 0xA2;
        table[32..40].copy_from_slice(&2048u64.to_le_bytes());
        table[128] = 0xAF;
        table[128 + 32..128 + 40].copy_from_slice(&1_050_624u64.to_le_bytes());
        let p = partition_offsets(&gpt, |off, len| {
            assert_eq!(off, 1024);
            Some(table[..len.min(table.len())].to_vec())
        });
        assert_eq!(
            p,
            vec![
                (1_048_576, "gpt partition 1".to_string()),
                (537_919_488, "gpt partition 2".to_string())
            ]
        );
        let _ = partition_offsets(&gpt[..600], |_, _| Some(vec![1, 2, 3]));
    }
}
