//! The file-system layer of the image reader: one trait every on-disk format implements
//! (NTFS, FAT12/16/32, exFAT, ext2/3/4), and the types it speaks in.
//!
//! Owns the vocabulary the acquire engine and the records use for entries of an image:
//! `NodeId` (the file system's own identity of an entry), `Node` (what the metadata
//! says: kind, size, every time at full precision, owner, streams, flags), `DirEntry`
//! (a name in a directory), and `Layout` (where a stream's bytes lie: extents of the
//! volume, resident bytes, or why they cannot be decoded). Reading is always "follow
//! the layout over the volume" (`LayoutReader`), so every format is hashed, limited and
//! recorded by one code path, and every record can name the byte ranges that hold it.
//!
//! Must never: write, return undecoded bytes (compressed, encrypted) as content, follow
//! an offset outside the volume, or recurse/loop without a bound on malformed input
//! (directory cycles, run lists, extent trees). Errors are `FsError`s that say what and
//! at which byte offset of the volume.

use std::fmt;
use std::io;
use std::sync::Arc;

use serde::Serialize;

use super::media::ReadAt;

pub mod probe;
pub mod read;

pub mod exfat;
pub mod ext4;
pub mod fat;
pub mod ntfs;
pub(crate) mod ondisk;

/// An entry's identity inside one file system: NTFS file reference (MFT record number
/// in the low 48 bits, sequence number in the high 16), ext inode number, FAT/exFAT
/// the byte offset of its directory entry in the volume (the root: 0). Opaque to
/// everything but the reader that made it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct NodeId(pub u64);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeKind {
    File,
    Dir,
    Symlink,
    CharDevice,
    BlockDevice,
    Fifo,
    Socket,
    Other,
}

impl NodeKind {
    /// The `file_type` word files.jsonl uses (the same as for the OS source).
    pub fn record_name(self) -> &'static str {
        match self {
            NodeKind::File => "file",
            NodeKind::Dir => "dir",
            NodeKind::Symlink => "symlink",
            NodeKind::CharDevice => "char_device",
            NodeKind::BlockDevice => "block_device",
            NodeKind::Fifo => "fifo",
            NodeKind::Socket => "socket",
            NodeKind::Other => "other",
        }
    }
}

/// A point in time at the file system's own precision, as nanoseconds since the Unix
/// epoch (NTFS 100 ns ticks, ext4 ns, exFAT 10 ms, FAT 2 s are all exact in it; i128
/// holds every NTFS and ext4 value). `raw` keeps the on-disk value where it differs
/// (NTFS FILETIME ticks), so nothing is lost in conversion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct FsTime {
    pub unix_nanos: i128,
    /// On-disk value (NTFS: FILETIME, 100 ns since 1601-01-01) when the format has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raw: Option<u64>,
}

impl FsTime {
    /// From an NTFS FILETIME (100 ns intervals since 1601-01-01 UTC).
    pub fn from_filetime(ticks: u64) -> Self {
        // 11_644_473_600 s between 1601-01-01 and 1970-01-01.
        let unix_nanos = (ticks as i128) * 100 - 11_644_473_600i128 * 1_000_000_000;
        FsTime {
            unix_nanos,
            raw: Some(ticks),
        }
    }

    pub fn from_unix(secs: i64, nanos: u32) -> Self {
        FsTime {
            unix_nanos: (secs as i128) * 1_000_000_000 + nanos as i128,
            raw: None,
        }
    }
}

/// The four times of an entry. Which on-disk field fills which slot:
/// NTFS: modified = M, accessed = A, changed = MFT entry modified (C), born = B;
/// ext4: mtime, atime, ctime (inode change), crtime; FAT/exFAT: write, access (date
/// only on FAT), none, create. A slot the format does not have is `None`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Times {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub modified: Option<FsTime>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accessed: Option<FsTime>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub changed: Option<FsTime>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub born: Option<FsTime>,
}

/// A named data stream of an entry besides its default one (NTFS alternate data
/// streams, e.g. `Zone.Identifier`, `$UsnJrnl:$J`, `$Secure:$SDS`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StreamInfo {
    /// The stream's name (UTF-8; an NTFS name that is not valid UTF-16 is WTF-8).
    pub name: Vec<u8>,
    pub size: u64,
}

/// What the file system's metadata says about one entry.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Node {
    pub id: NodeId,
    pub kind: NodeKind,
    /// Logical size of the default data stream (0 for directories where the format has
    /// no meaningful size).
    pub size: u64,
    /// NTFS: `$STANDARD_INFORMATION`; the others: the inode / directory entry.
    pub times: Times,
    /// NTFS only: the `$FILE_NAME` times of the name this entry was reached by (the
    /// difference from `times` is how timestomping shows).
    pub name_times: Option<Times>,
    /// Unix permission and type bits (ext), or `None`.
    pub mode: Option<u32>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    /// Hard links: NTFS `$FILE_NAME` count in the base record (DOS short names not
    /// counted), ext `i_links_count`.
    pub nlink: Option<u64>,
    /// NTFS sequence number / ext generation: with `id`, identifies this incarnation.
    pub sequence: Option<u32>,
    /// A symlink's target as stored (ext fast/slow symlink); NTFS symbolic links and
    /// junctions are reparse points and appear in `reparse`.
    pub link_target: Option<Vec<u8>>,
    /// NTFS named `$DATA` streams (never the default, unnamed one).
    pub streams: Vec<StreamInfo>,
    /// NTFS reparse point: tag (`0xA000000C` symlink, `0xA0000003` mount point, …) and,
    /// where the reader decodes it, the substitute name.
    pub reparse: Option<Reparse>,
    /// Format flags worth recording: `compressed`, `encrypted`, `sparse`, `hidden`,
    /// `system`, `readonly`, `immutable`, `inline_data`, `deleted`, …
    pub flags: Vec<&'static str>,
    /// False for an entry found in unallocated metadata (a deleted NTFS MFT record).
    pub allocated: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reparse {
    pub tag: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<Vec<u8>>,
}

/// One name in a directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirEntry {
    /// The name as stored, as UTF-8 bytes (NTFS/exFAT/VFAT long names are UTF-16 on
    /// disk: converted losslessly, unpaired surrogates as WTF-8; ext names are raw bytes
    /// and stay so). Never contains `/` or NUL; never `.` or `..`.
    pub name: Vec<u8>,
    pub id: NodeId,
    /// Kind as the directory entry says (ext dirent type, FAT attribute, NTFS
    /// `$FILE_NAME` flags); `node()` is authoritative.
    pub kind: NodeKind,
}

/// One contiguous piece of a stream: `len` bytes of the file starting at `file_offset`
/// lie at `volume_offset` of the volume — or are a hole (sparse, unwritten extent,
/// beyond NTFS initialized size) that reads as zeros when `volume_offset` is `None`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Extent {
    pub file_offset: u64,
    pub len: u64,
    pub volume_offset: Option<u64>,
}

/// Where a stream's bytes are.
#[derive(Debug, Clone, PartialEq)]
pub enum Layout {
    /// Extents in file order covering exactly `[0, size)`, with no gaps or overlaps.
    Extents { size: u64, extents: Vec<Extent> },
    /// Bytes stored inside the metadata (NTFS resident `$DATA`, ext4 inline data, a fast
    /// symlink), with the volume offset where they lie when known.
    Resident {
        bytes: Vec<u8>,
        volume_offset: Option<u64>,
    },
    /// NTFS LZNT1 compression: the raw (compressed) extents and the compression unit in
    /// bytes. Decoded while reading when the reader supports it; otherwise the record
    /// says `undecodable`.
    Compressed {
        size: u64,
        unit: u64,
        extents: Vec<Extent>,
    },
    /// The bytes cannot be decoded by fieldkit (EFS-encrypted, WOF/CompactOS, ext4
    /// encryption, …): recorded as an error with this reason, never stored.
    Undecodable { reason: String },
}

/// What a reader says about the file system as a whole (for `image info` and the
/// manifest).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FsInfo {
    /// `ntfs`, `fat12`, `fat16`, `fat32`, `exfat`, `ext2`, `ext3`, `ext4`.
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// Volume serial number (NTFS, FAT, exFAT) or UUID (ext), as the format's tools
    /// print it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub serial: Option<String>,
    /// Cluster / block size in bytes.
    pub block_size: u64,
    /// Size of the file system in bytes (may be less than the volume).
    pub size: u64,
    /// Anything else an examiner wants before choosing a profile (NTFS version, ext
    /// features, whether the journal needed replay, dirty flag, …).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// An error reading the file system's structures, naming what and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FsError {
    /// Stable reason code for the record (`bad_fixup`, `directory_loop`,
    /// `extent_outside_volume`, `io_error`, `unsupported`, …).
    pub reason: &'static str,
    /// Byte offset in the volume of the structure at fault, when known.
    pub offset: Option<u64>,
    pub detail: String,
}

impl FsError {
    pub fn new(reason: &'static str, offset: Option<u64>, detail: impl Into<String>) -> Self {
        FsError {
            reason,
            offset,
            detail: detail.into(),
        }
    }

    pub fn io(offset: u64, e: &io::Error) -> Self {
        FsError::new("io_error", Some(offset), e.to_string())
    }
}

impl fmt::Display for FsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.offset {
            Some(o) => write!(f, "{} at volume offset {o}", self.detail),
            None => f.write_str(&self.detail),
        }
    }
}

impl std::error::Error for FsError {}

/// A deleted entry found in unallocated metadata (NTFS: an MFT record not in use).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeletedEntry {
    pub node: Node,
    /// Best-known full path (from the `$FILE_NAME` parent chain; `None` when the chain
    /// is broken), as UTF-8/WTF-8 bytes.
    pub path: Option<Vec<u8>>,
    /// The name in the record itself.
    pub name: Vec<u8>,
    /// Whether every cluster of its default stream is still unallocated in the volume's
    /// allocation bitmap (so the content may still be the deleted file's).
    pub runs_unallocated: Option<bool>,
}

/// A metadata record the deleted-entry scan looked at and could not parse (NTFS: an MFT
/// record with neither a valid `FILE` header nor a matching update sequence), so it is
/// not listed as an entry. Never dropped silently: the collector records the count and
/// the offsets (actions `image.deleted_scan`, the volume's notes in the manifest).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UnreadableRecord {
    /// The record's number (NTFS: MFT record number).
    pub number: u64,
    /// Its byte offset in the volume, when known.
    pub offset: Option<u64>,
    pub reason: &'static str,
    pub detail: String,
}

/// What a scan for deleted entries found.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DeletedScan {
    pub entries: Vec<DeletedEntry>,
    /// Metadata records scanned (NTFS: every record of the `$MFT`).
    pub scanned: u64,
    /// Records never used: all zeros, or (NTFS) a `FILE` header with no attribute, as
    /// mkntfs and Windows initialise the `$MFT`'s spare records. Nothing to list.
    pub empty: u64,
    /// Records not in use that parse and have attributes but no name (NTFS: no
    /// `$FILE_NAME`), such as the reserved records 16–23 (only `$STANDARD_INFORMATION`):
    /// not listed; sleuthkit's `fls -d` shows exactly these as
    /// `$OrphanFiles/OrphanFile-N`.
    pub nameless: u64,
    /// Records that could not be parsed (in use or not: the header that says so is the
    /// part that failed), the first [`MAX_UNREADABLE_LISTED`] of them. One the directory
    /// walk reaches is also an error record there.
    pub unreadable: Vec<UnreadableRecord>,
    /// How many records could not be parsed (all of them, listed or not).
    pub unreadable_total: u64,
    /// Records the metadata says exist but that lie past the end of the volume (a cut
    /// image): not read at all.
    pub past_end: u64,
}

/// Unreadable records a deleted scan lists one by one; past this only the count grows
/// (a volume of garbage cannot make the list, and the record of it, unbounded).
pub const MAX_UNREADABLE_LISTED: usize = 1000;

/// A read-only file system. `&self` and `Sync`: workers read different files at once.
pub trait FileSystem: Send + Sync {
    fn info(&self) -> FsInfo;

    fn root(&self) -> NodeId;

    /// The names in a directory, in on-disk order (the walk sorts them). A directory
    /// that loops back, or entries that fail to parse, are errors for this directory
    /// only; `partial` entries that could be read come back with the error.
    fn read_dir(&self, dir: NodeId) -> Result<Vec<DirEntry>, FsError>;

    fn node(&self, id: NodeId) -> Result<Node, FsError>;

    /// Where the bytes of the default stream (`stream: None`) or a named stream lie.
    fn layout(&self, id: NodeId, stream: Option<&[u8]>) -> Result<Layout, FsError>;

    /// Deleted entries (NTFS: MFT records not in use that still parse), with what the
    /// scan could not read. Formats without this return an empty scan.
    fn deleted(&self) -> Result<DeletedScan, FsError> {
        Ok(DeletedScan::default())
    }

    /// The volume this file system lives on (for reading layouts).
    fn volume(&self) -> &Arc<dyn ReadAt>;
}
