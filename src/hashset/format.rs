//! The `.fkhs` on-disk layout: constants, the fixed binary records (trailer, section
//! descriptors, entries) and the JSON metadata. `docs/hashset-format.md` is the normative
//! description; this module and that document change together.
//!
//! Owns encoding and decoding only; it never does I/O and never trusts a decoded value
//! (every offset is range-checked by the caller against the real file length).
//!
//! ```text
//! [prelude 16 B][section data ...][section directory][metadata JSON][block digests][trailer 88 B]
//! |<------------- data: covered by block digests ----->|<--- index: covered by the root --->|
//! ```

use serde::{Deserialize, Serialize};

use super::{Algorithm, SetKind};

/// First bytes of every set: PNG-style, so a text-mode transfer or a truncated header is
/// caught by the first comparison.
pub const PRELUDE_MAGIC: [u8; 8] = *b"FKHS\r\n\x1a\n";
pub const TRAILER_MAGIC: [u8; 8] = *b"FKHS-END";
/// The version this fieldkit writes: 2, with BLAKE3 block digests.
pub const FORMAT_VERSION: u32 = 2;
/// Versions this fieldkit reads: 1 (SHA-256 block digests) and 2.
pub const READ_VERSIONS: std::ops::RangeInclusive<u32> = 1..=2;
pub const PRELUDE_LEN: usize = 16;
pub const TRAILER_LEN: usize = 88;
/// Bytes of the trailer covered by the root digest (everything before the root itself).
pub const TRAILER_HASHED_LEN: usize = 56;
pub const SECTION_DESC_LEN: usize = 48;
/// Data are checked in blocks of this size: a lookup verifies at most a few blocks.
pub const BLOCK_SIZE: u32 = 64 * 1024;
pub const DIGEST_LEN: usize = 32;
/// Per-entry payload after the key: category u16 LE, source u16 LE, flags u8.
pub const PAYLOAD_LEN: usize = 5;
/// Prefix tables never exceed 2^24 + 1 u32 (64 MiB), whatever the set size.
pub const MAX_PREFIX_BITS: u8 = 24;
/// Aim for about this many entries per prefix bucket (a bucket of 37-byte entries then
/// spans one or two 4 KiB pages).
pub const TARGET_BUCKET_ENTRIES: u64 = 64;
pub const FORMAT_NAME: &str = "fieldkit-hashset";

/// Entry flags: why an entry may deserve a second look. See `docs/hashset-format.md`.
pub mod flags {
    /// The key occurred more than once in the inputs.
    pub const DUPLICATE: u8 = 0x01;
    /// The key occurred in more than one source file.
    pub const MULTI_SOURCE: u8 = 0x02;
    /// The occurrences disagreed about the category.
    pub const CATEGORY_CONFLICT: u8 = 0x04;
    pub const KNOWN: u8 = DUPLICATE | MULTI_SOURCE | CATEGORY_CONFLICT;

    /// Names of the set flags, for reports.
    pub fn names(flags: u8) -> Vec<&'static str> {
        let mut out = Vec::new();
        if flags & DUPLICATE != 0 {
            out.push("duplicate");
        }
        if flags & MULTI_SOURCE != 0 {
            out.push("multi-source");
        }
        if flags & CATEGORY_CONFLICT != 0 {
            out.push("category-conflict");
        }
        out
    }
}

/// The number of prefix bits for a section that receives `input_count` keys before
/// de-duplication. Depends only on the inputs, so a rebuild gives the same file.
pub fn prefix_bits_for(input_count: u64) -> u8 {
    let mut bits = 0u8;
    while bits < MAX_PREFIX_BITS && (input_count >> bits) > TARGET_BUCKET_ENTRIES {
        bits += 1;
    }
    bits
}

/// The prefix bucket of a key: its first `bits` bits, big-endian.
#[inline]
pub fn bucket_of(key: &[u8], bits: u8) -> usize {
    if bits == 0 {
        return 0;
    }
    let mut first = [0u8; 4];
    let n = key.len().min(4);
    first[..n].copy_from_slice(&key[..n]);
    (u32::from_be_bytes(first) >> (32 - u32::from(bits))) as usize
}

/// Algorithm numbers used on disk.
pub fn algorithm_id(algorithm: Algorithm) -> u8 {
    match algorithm {
        Algorithm::Md5 => 1,
        Algorithm::Sha1 => 2,
        Algorithm::Sha256 => 3,
    }
}

pub fn algorithm_from_id(id: u8) -> Option<Algorithm> {
    match id {
        1 => Some(Algorithm::Md5),
        2 => Some(Algorithm::Sha1),
        3 => Some(Algorithm::Sha256),
        _ => None,
    }
}

pub fn prelude() -> [u8; PRELUDE_LEN] {
    let mut out = [0u8; PRELUDE_LEN];
    out[..8].copy_from_slice(&PRELUDE_MAGIC);
    out[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    out
}

/// The digest of each data block in the block digest table. Version 1 used SHA-256;
/// version 2 uses BLAKE3 (and names it in the metadata's `block_digest`). Both are
/// cryptographic 256-bit hashes; BLAKE3 checks a 64 KiB block about 3.5 times faster on
/// one core, which is what a fresh process's first lookups spend their time on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BlockDigest {
    Sha256,
    Blake3,
}

impl BlockDigest {
    /// What this fieldkit writes.
    pub const CURRENT: BlockDigest = BlockDigest::Blake3;

    pub fn digest(self, block: &[u8]) -> [u8; DIGEST_LEN] {
        match self {
            BlockDigest::Sha256 => {
                use sha2::Digest;
                sha2::Sha256::digest(block).into()
            }
            BlockDigest::Blake3 => *blake3::hash(block).as_bytes(),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            BlockDigest::Sha256 => "sha256",
            BlockDigest::Blake3 => "blake3",
        }
    }

    /// The block digest of a set of format `version` whose metadata says `named`: a
    /// version-1 set has SHA-256 blocks and names none; version 2 must name one.
    pub fn for_version(version: u32, named: Option<BlockDigest>) -> Result<BlockDigest, String> {
        match (version, named) {
            (1, None | Some(BlockDigest::Sha256)) => Ok(BlockDigest::Sha256),
            (1, Some(other)) => Err(format!(
                "metadata names block digest {} in a version-1 set",
                other.name()
            )),
            (_, Some(named)) => Ok(named),
            (_, None) => Err(format!(
                "metadata of a version-{version} set does not name its block digest"
            )),
        }
    }
}

/// The root digest (last 32 bytes) is SHA-256 in every version, so that
/// `head | tail | sha256sum` re-computes it with standard tools.
pub const ROOT_DIGEST: &str = "sha256";

/// The fixed record at the very end of the file: where the index is, and the root digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trailer {
    /// Format version (equal to the prelude's).
    pub version: u32,
    pub block_size: u32,
    /// Length of the data region `[0, data_len)`, which the block digests cover.
    pub data_len: u64,
    pub sections_len: u64,
    pub metadata_len: u64,
    pub digests_len: u64,
    pub file_len: u64,
    /// SHA-256 of `[data_len, file_len - 32)`: the index and the trailer up to here.
    pub root: [u8; 32],
}

impl Trailer {
    pub fn encode(&self) -> [u8; TRAILER_LEN] {
        let mut out = [0u8; TRAILER_LEN];
        out[0..8].copy_from_slice(&TRAILER_MAGIC);
        out[8..12].copy_from_slice(&self.version.to_le_bytes());
        out[12..16].copy_from_slice(&self.block_size.to_le_bytes());
        out[16..24].copy_from_slice(&self.data_len.to_le_bytes());
        out[24..32].copy_from_slice(&self.sections_len.to_le_bytes());
        out[32..40].copy_from_slice(&self.metadata_len.to_le_bytes());
        out[40..48].copy_from_slice(&self.digests_len.to_le_bytes());
        out[48..56].copy_from_slice(&self.file_len.to_le_bytes());
        out[56..88].copy_from_slice(&self.root);
        out
    }

    /// Decode and check the trailer's own consistency; the caller checks it against the file.
    pub fn decode(bytes: &[u8]) -> Result<Trailer, String> {
        if bytes.len() != TRAILER_LEN {
            return Err("trailer has the wrong length".into());
        }
        if bytes[0..8] != TRAILER_MAGIC {
            return Err("no end-of-set marker (file truncated, extended or not a set)".into());
        }
        let version = le_u32(&bytes[8..12]);
        if !READ_VERSIONS.contains(&version) {
            return Err(format!(
                "format version {version} in the trailer; this fieldkit reads versions {} to {}",
                READ_VERSIONS.start(),
                READ_VERSIONS.end()
            ));
        }
        let mut root = [0u8; 32];
        root.copy_from_slice(&bytes[56..88]);
        let trailer = Trailer {
            version,
            block_size: le_u32(&bytes[12..16]),
            data_len: le_u64(&bytes[16..24]),
            sections_len: le_u64(&bytes[24..32]),
            metadata_len: le_u64(&bytes[32..40]),
            digests_len: le_u64(&bytes[40..48]),
            file_len: le_u64(&bytes[48..56]),
            root,
        };
        if trailer.block_size == 0 || !trailer.block_size.is_power_of_two() {
            return Err(format!("invalid block size {}", trailer.block_size));
        }
        let total = [
            trailer.data_len,
            trailer.sections_len,
            trailer.metadata_len,
            trailer.digests_len,
            TRAILER_LEN as u64,
        ]
        .iter()
        .try_fold(0u64, |acc, &part| acc.checked_add(part));
        if total != Some(trailer.file_len) {
            return Err("region lengths in the trailer do not add up to the file length".into());
        }
        if trailer.digests_len != trailer.block_count().saturating_mul(DIGEST_LEN as u64) {
            return Err("digest table length does not match the data length".into());
        }
        if !trailer.sections_len.is_multiple_of(SECTION_DESC_LEN as u64) {
            return Err("section directory length is not a whole number of entries".into());
        }
        Ok(trailer)
    }

    pub fn block_count(&self) -> u64 {
        self.data_len.div_ceil(u64::from(self.block_size))
    }

    pub fn index_offset(&self) -> u64 {
        self.data_len
    }
}

/// One per algorithm present: where its sorted entries and its prefix table are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SectionDesc {
    pub algorithm: Algorithm,
    pub prefix_bits: u8,
    pub entries_offset: u64,
    pub entry_count: u64,
    /// `2^prefix_bits + 1` u32 LE: bucket b holds entries `[table[b], table[b+1])`.
    pub table_offset: u64,
}

impl SectionDesc {
    pub fn entry_len(&self) -> usize {
        self.algorithm.key_len() + PAYLOAD_LEN
    }

    pub fn table_len(&self) -> u64 {
        ((1u64 << self.prefix_bits) + 1) * 4
    }

    pub fn encode(&self) -> [u8; SECTION_DESC_LEN] {
        let mut out = [0u8; SECTION_DESC_LEN];
        out[0] = algorithm_id(self.algorithm);
        out[1] = self.algorithm.key_len() as u8;
        out[2] = self.entry_len() as u8;
        out[3] = self.prefix_bits;
        out[8..16].copy_from_slice(&self.entries_offset.to_le_bytes());
        out[16..24].copy_from_slice(&self.entry_count.to_le_bytes());
        out[24..32].copy_from_slice(&self.table_offset.to_le_bytes());
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<SectionDesc, String> {
        if bytes.len() != SECTION_DESC_LEN {
            return Err("section descriptor has the wrong length".into());
        }
        let algorithm = algorithm_from_id(bytes[0])
            .ok_or_else(|| format!("unknown algorithm number {} in a section", bytes[0]))?;
        let desc = SectionDesc {
            algorithm,
            prefix_bits: bytes[3],
            entries_offset: le_u64(&bytes[8..16]),
            entry_count: le_u64(&bytes[16..24]),
            table_offset: le_u64(&bytes[24..32]),
        };
        if usize::from(bytes[1]) != algorithm.key_len() || usize::from(bytes[2]) != desc.entry_len()
        {
            return Err(format!(
                "{algorithm} section has an unexpected entry layout"
            ));
        }
        if desc.prefix_bits > MAX_PREFIX_BITS {
            return Err(format!(
                "{algorithm} section has {} prefix bits",
                desc.prefix_bits
            ));
        }
        if desc.entry_count > u64::from(u32::MAX) {
            return Err(format!(
                "{algorithm} section claims {} entries",
                desc.entry_count
            ));
        }
        if bytes[4..8].iter().chain(&bytes[32..48]).any(|&b| b != 0) {
            return Err(format!("{algorithm} section has non-zero reserved bytes"));
        }
        Ok(desc)
    }
}

pub fn le_u32(bytes: &[u8]) -> u32 {
    let mut b = [0u8; 4];
    b.copy_from_slice(&bytes[..4]);
    u32::from_le_bytes(b)
}

pub fn le_u64(bytes: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&bytes[..8]);
    u64::from_le_bytes(b)
}

/// The set's self-description: what it is, what it was built from, how. Serialized as
/// pretty JSON so that `strings`/`tail` show it even without fieldkit. Holds no time and
/// no tool version, so rebuilding from the same sources gives the same bytes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metadata {
    pub format: String,
    pub format_version: u32,
    /// Digest of each data block: absent in version 1 (SHA-256), `blake3` in version 2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block_digest: Option<BlockDigest>,
    /// Digest of the index (the root): always `sha256`; absent in version 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root_digest: Option<String>,
    pub name: String,
    pub kind: SetKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub categories: Vec<CategoryInfo>,
    pub sources: Vec<SourceInfo>,
    pub sections: Vec<SectionInfo>,
    pub build: BuildInfo,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CategoryInfo {
    pub index: u16,
    pub label: String,
    /// The category value as the source wrote it (e.g. a VICS `Category`); none for the
    /// set's default category.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HashCounts {
    pub md5: u64,
    pub sha1: u64,
    pub sha256: u64,
}

impl HashCounts {
    pub fn add(&mut self, algorithm: Algorithm, n: u64) {
        match algorithm {
            Algorithm::Md5 => self.md5 += n,
            Algorithm::Sha1 => self.sha1 += n,
            Algorithm::Sha256 => self.sha256 += n,
        }
    }

    pub fn get(&self, algorithm: Algorithm) -> u64 {
        match algorithm {
            Algorithm::Md5 => self.md5,
            Algorithm::Sha1 => self.sha1,
            Algorithm::Sha256 => self.sha256,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceInfo {
    pub index: u16,
    /// The file's name (no directory: the set must not depend on where the lab kept it).
    pub name: String,
    pub format: String,
    pub size: u64,
    pub sha256: String,
    /// What the source says about itself (e.g. the NSRL `VERSION` table).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Records (lines, rows, VICS media) that carried at least one hash.
    pub records: u64,
    /// Hash values read, per algorithm, before de-duplication.
    pub hashes: HashCounts,
    /// Hash values of algorithms not selected for this set.
    #[serde(default)]
    pub hashes_not_selected: u64,
    /// Records without any usable hash (e.g. VICS media with only a perceptual hash).
    pub records_without_hash: u64,
    /// Records left out because of `--exclude-category`.
    pub records_excluded: u64,
    /// Malformed lines skipped under `--skip-malformed` (0 otherwise: they are errors).
    pub malformed_skipped: u64,
    /// The first few skipped lines, as `line N: reason`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub malformed_examples: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SectionInfo {
    pub algorithm: Algorithm,
    /// Distinct keys stored.
    pub entries: u64,
    /// Keys read before de-duplication.
    pub input_hashes: u64,
    pub prefix_bits: u8,
    /// Stored entries whose key occurred in more than one source.
    pub multi_source_entries: u64,
    /// Stored entries whose occurrences disagreed about the category.
    pub category_conflicts: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BuildInfo {
    pub created_by: String,
    /// Algorithms kept (the rest were read and counted, not stored).
    pub algorithms: Vec<Algorithm>,
    pub skip_malformed: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub excluded_categories: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category_map: Option<CategoryMapInfo>,
    /// How duplicate keys were merged, in words (also in docs/hashset-format.md).
    pub dedup_rule: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CategoryMapInfo {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_sha256: Option<String>,
    /// code → label, sorted by code.
    pub entries: Vec<(String, String)>,
}

pub const DEDUP_RULE: &str = "one entry per distinct key; source = the first source on the \
command line that has it; category = a source-given category beats the set default, and \
among source-given categories the one met first in the inputs wins; flags record \
duplicate, multi-source and category-conflict";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_bits_grow_with_size_and_are_capped() {
        assert_eq!(prefix_bits_for(0), 0);
        assert_eq!(prefix_bits_for(64), 0);
        assert_eq!(prefix_bits_for(65), 1);
        assert_eq!(prefix_bits_for(50_000_000), 20);
        assert_eq!(prefix_bits_for(u64::MAX), MAX_PREFIX_BITS);
    }

    #[test]
    fn bucket_is_the_leading_bits() {
        assert_eq!(bucket_of(&[0xF0, 0, 0, 0], 4), 0xF);
        assert_eq!(bucket_of(&[0xAB, 0xCD, 0xEF, 0x12, 0x34], 20), 0xABCDE);
        assert_eq!(bucket_of(&[0xFF; 16], 0), 0);
    }

    #[test]
    fn trailer_round_trips_and_rejects_inconsistent_lengths() {
        let t = Trailer {
            version: FORMAT_VERSION,
            block_size: BLOCK_SIZE,
            data_len: 100,
            sections_len: 48,
            metadata_len: 10,
            digests_len: 32,
            file_len: 100 + 48 + 10 + 32 + TRAILER_LEN as u64,
            root: [7; 32],
        };
        assert_eq!(Trailer::decode(&t.encode()), Ok(t.clone()));
        let mut bad = t.clone();
        bad.file_len += 1;
        assert!(Trailer::decode(&bad.encode()).is_err());
        let mut v1 = t.clone();
        v1.version = 1;
        assert_eq!(Trailer::decode(&v1.encode()), Ok(v1));
        let mut future = t.clone();
        future.version = 3;
        let err = Trailer::decode(&future.encode()).unwrap_err();
        assert!(err.contains("format version 3"), "{err}");
    }

    #[test]
    fn block_digest_follows_the_version_and_the_metadata() {
        assert_eq!(BlockDigest::for_version(1, None), Ok(BlockDigest::Sha256));
        assert!(BlockDigest::for_version(1, Some(BlockDigest::Blake3)).is_err());
        assert!(BlockDigest::for_version(2, None).is_err());
        assert_eq!(
            BlockDigest::for_version(2, Some(BlockDigest::Blake3)),
            Ok(BlockDigest::Blake3)
        );
        // Known answers: b3sum and sha256sum of "abc".
        assert_eq!(
            crate::hashset::to_hex(&BlockDigest::Blake3.digest(b"abc")),
            "6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85"
        );
        assert_eq!(
            crate::hashset::to_hex(&BlockDigest::Sha256.digest(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
