//! What files.jsonl and manifest.json say about entries and media read from a disk image
//! (docs/bundle-format.md, "From an image"): enough for anyone to re-derive every file
//! from the image with `dd` alone and to see every time the file system kept.
//!
//! Owns the shape of those fields. Offsets are always byte offsets **of the image** (the
//! media as its container presents it: a raw image's file offset, an E01's decoded
//! media), so a reader needs no partition arithmetic. Never holds file content.

use serde::{Deserialize, Serialize};

/// One time as the file system keeps it: RFC 3339 UTC at full precision and, for NTFS,
/// the on-disk FILETIME (100 ns ticks since 1601-01-01).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageTime {
    pub utc: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filetime: Option<u64>,
}

/// The four times of an entry (NTFS: M, A, C = MFT entry changed, B).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageTimes {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modified: Option<ImageTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accessed: Option<ImageTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changed: Option<ImageTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub born: Option<ImageTime>,
}

/// One piece of a stream: `len` bytes at `file_offset` of the file lie at `image_offset`
/// of the image, or read as zeros (`hole`: sparse, unwritten, past NTFS's initialized
/// size).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageRun {
    pub file_offset: u64,
    pub len: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_offset: Option<u64>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub hole: bool,
}

/// Where a stream's bytes lie in the image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum ImageData {
    /// The runs, in file order, covering exactly `[0, size)`.
    Runs { size: u64, runs: Vec<ImageRun> },
    /// Held inside the metadata (NTFS resident `$DATA`, ext4 inline data): `len` bytes,
    /// at `image_offset` where the reader knows it.
    Resident {
        len: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        image_offset: Option<u64>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageReparse {
    /// The reparse tag, e.g. `0xa000000c` (symbolic link), `0xa0000003` (mount point).
    pub tag: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
}

/// The `image` object of a files.jsonl record.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageFacts {
    /// The volume's index (as `fieldkit image info` numbers it) and its first byte in
    /// the image.
    pub volume: u32,
    pub volume_offset: u64,
    /// `ntfs`, `fat32`, `exfat`, `ext4`, …
    pub fs: String,
    /// NTFS: MFT record number and sequence number (the file reference).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mft_record: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sequence: Option<u32>,
    /// ext2/3/4: inode number (and generation in `sequence`); FAT/exFAT: the byte offset
    /// of the directory entry in the volume.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inode: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dir_entry_offset: Option<u64>,
    /// The named data stream this record is about (NTFS alternate data stream).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<String>,
    /// NTFS `$STANDARD_INFORMATION`; the others: the inode / directory entry.
    pub times: ImageTimes,
    /// NTFS `$FILE_NAME` times of the name the entry was reached by: compared with
    /// `times`, they show timestomping.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_times: Option<ImageTimes>,
    /// Where the bytes lie; present for every entry that was opened for reading.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<ImageData>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flags: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reparse: Option<ImageReparse>,
    /// Deleted entries: whether every cluster of the default stream is still
    /// unallocated (so the content may still be the deleted file's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runs_unallocated: Option<bool>,
    /// False for an entry found in unallocated metadata (a deleted MFT record).
    #[serde(default = "yes", skip_serializing_if = "Clone::clone")]
    pub allocated: bool,
}

fn yes() -> bool {
    true
}

/// The `image` object of manifest.json.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ImageManifest {
    pub path: String,
    /// `raw`, `split-raw`, `e01`, `vmdk`, `vhdx`, `block-device`, …
    pub container: String,
    /// The container's own name for its variant ("EWF (EnCase 6, deflate)").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format_detail: Option<String>,
    /// Size of the media the container presents, in bytes.
    pub size: u64,
    /// The files that make up the image (segments of a split set or an E01).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub segments: Vec<String>,
    /// Hashes the container itself stores (E01: MD5, SHA-1), hex.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stored_hashes: Vec<StoredHash>,
    /// With `--hash-image`: the hashes of the whole media, how they were computed, and
    /// whether they match the container's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_hashes: Option<MediaHashes>,
    /// `mbr`, `gpt`, `none` (a file system without a table).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume_system: Option<String>,
    /// Every volume found, read or not, and why not.
    pub volumes: Vec<ImageVolumeInfo>,
    /// Which profile `collect` chose from what it found, and why (when `--profile` was
    /// not given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile_choice: Option<String>,
    /// Anything else about the container (notes from its reader).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredHash {
    pub algorithm: String,
    pub value: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct MediaHashes {
    pub sha256: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha1: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub md5: Option<String>,
    pub bytes: u64,
    /// How: e.g. "one sequential pass over the media beside the collection".
    pub method: String,
    /// For each hash the container stores: `match` or `MISMATCH` with both values.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub compared: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ImageVolumeInfo {
    pub index: u32,
    pub offset: u64,
    pub size: u64,
    /// Partition type as the table names it (MBR id `0x07`, GPT type GUID), or `none`
    /// for a file system without a table.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// The file system found, as its reader describes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fs: Option<serde_json::Value>,
    /// `collected`, `not_selected` (--partition), `no_file_system`, `unreadable`.
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The member-name folder of this volume's files (`files/vol2/…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member_prefix: Option<String>,
    /// What the table declares, when it differs from `size` (a partition that runs past
    /// the end of the media is read up to the end).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub declared_size: Option<u64>,
    /// What the volume-system reader noticed (clipped, overlapping, …).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// A file of a live Windows volume read through the raw volume (`how_read: raw-ntfs`,
/// docs/live-windows-raw.md): where it lies on the volume, the MFT record's state the
/// read was checked against, and what the NTFS metadata says, beside what the Windows
/// API said (the record's own size and times).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RawNtfsFacts {
    /// The volume device read, e.g. `\\.\C:`.
    pub volume: String,
    /// Why the raw volume was read: `locked` (the API's open was refused with a sharing
    /// or lock violation) or `ntfs_metadata` (a file the API has no path for).
    pub why: String,
    /// The API's refusal, when there was one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_error: Option<String>,
    /// The path as found on the volume (names as stored), `\`-separated.
    pub volume_path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<String>,
    pub mft_record: u64,
    pub sequence: u16,
    /// `$LogFile` sequence number of the MFT record, before and after the data were read.
    pub lsn: u64,
    /// Size of the stream per the MFT record.
    pub size: u64,
    /// Times of `$STANDARD_INFORMATION` at full precision.
    pub times: ImageTimes,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flags: Vec<String>,
    /// Where the bytes lie, as byte offsets of the volume device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<ImageData>,
    /// Reads made: 1 when the record did not change while it was read.
    pub attempts: u32,
    /// What changed during each read that was thrown away (and, for a record whose
    /// status is `changed`, during the last one).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<String>,
}
