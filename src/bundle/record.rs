//! The files.jsonl record: one line per path considered, whatever happened to it.
//!
//! Owns the record's shape and the encoding of original paths (exact bytes: the UTF-8
//! string when valid, otherwise base64 of the raw bytes plus a lossy display form). A
//! record never claims more than happened: `collected` means the member holds every byte
//! read and the hashes are of exactly those bytes.

use std::path::Path;

use base64::Engine;
use serde::{Deserialize, Serialize};

use crate::source::read::FileFacts;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Read completely and stored as `member`.
    Collected,
    /// Same content as an earlier file; stored once, at `duplicate_of`.
    Duplicate,
    /// Stored, but size/mtime/ctime changed while it was read: the member and hashes are
    /// of the bytes actually read.
    Changed,
    /// Known-good by a hash set: hashes recorded, content not stored.
    KnownGood,
    /// Deliberately not read (special file, too large, symlink, …): see `reason`.
    Skipped,
    /// Could not be read (completely): see `reason`; a partial read is stored and marked.
    Error,
    /// Another process holds the file without read sharing, or a byte-range lock stopped
    /// the read (Windows: a live registry hive, an open event log). Not read, or read up to
    /// the lock (stored and marked); raw-volume access for these is a later feature.
    Locked,
    /// A deleted entry found in an image's unallocated metadata (an NTFS MFT record not
    /// in use): recorded with its name, times and runs; its content is stored (`member`)
    /// only with `collect --deleted`.
    Deleted,
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Status::Collected => "collected",
            Status::Duplicate => "duplicate",
            Status::Changed => "changed",
            Status::KnownGood => "known_good",
            Status::Skipped => "skipped",
            Status::Error => "error",
            Status::Locked => "locked",
            Status::Deleted => "deleted",
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PathField {
    /// The original path when it is valid UTF-8.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Base64 (standard, padded) of the original path bytes when they are not UTF-8
    /// (on Windows: the WTF-8 encoding of the UTF-16 name).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path_b64: Option<String>,
    /// Lossy UTF-8 rendering for people, present only alongside `path_b64`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path_display: Option<String>,
}

impl PathField {
    pub fn from_path(p: &Path) -> Self {
        Self::from_bytes(p.as_os_str().as_encoded_bytes())
    }

    pub fn from_bytes(bytes: &[u8]) -> Self {
        match std::str::from_utf8(bytes) {
            Ok(s) => PathField {
                path: Some(s.to_string()),
                ..PathField::default()
            },
            Err(_) => PathField {
                path: None,
                path_b64: Some(base64::engine::general_purpose::STANDARD.encode(bytes)),
                path_display: Some(String::from_utf8_lossy(bytes).into_owned()),
            },
        }
    }

    /// The exact original bytes.
    pub fn bytes(&self) -> Option<Vec<u8>> {
        match (&self.path, &self.path_b64) {
            (Some(p), _) => Some(p.as_bytes().to_vec()),
            (None, Some(b)) => base64::engine::general_purpose::STANDARD.decode(b).ok(),
            _ => None,
        }
    }

    pub fn display(&self) -> String {
        self.path
            .clone()
            .or_else(|| self.path_display.clone())
            .unwrap_or_default()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(from = "FlatRecord")]
pub struct FileRecord {
    #[serde(flatten)]
    pub path: PathField,
    pub status: Option<Status>,
    /// Stable reason code for anything but `collected`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// `file`, `symlink`, `fifo`, `socket`, `char_device`, `block_device`, `dir`, `other`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub member: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duplicate_of: Option<String>,
    /// Size from `fstat` when opened (or `lstat` when not opened).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// Bytes actually read and hashed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes_read: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha1: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub md5: Option<String>,
    #[serde(flatten)]
    pub facts: FileFacts,
    /// For a symlink: its target as stored in the link (`readlink`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link_target: Option<PathField>,
    /// For a symlink when the profile follows links: the canonical path it resolves to —
    /// the file read when it lies inside the source, or the place outside it that was
    /// deliberately not read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolved_target: Option<PathField>,
    /// How the bytes were read, e.g. `read(O_RDONLY|O_NOATIME)`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read_method: Option<String>,
    /// When the read finished (UTC).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acquired_utc: Option<String>,
    /// Filesystem type the file lives on, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fs_type: Option<String>,
    /// Where the file's times fall against `--since/--until`, when a window was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window: Option<crate::triage::window::WindowVerdict>,
    /// Known-file sets that know this content.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub known: Vec<KnownMatch>,
    /// Profile rules that selected this path.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<String>,
    /// From a disk image: the volume, the file system's identity of the entry, every
    /// time at full precision and the byte ranges of the image that hold it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<Box<crate::bundle::image_record::ImageFacts>>,
    /// On Windows: how the bytes were read, `api` (the Windows file API) or `raw-ntfs`
    /// (the raw volume through fieldkit's NTFS reader, `raw_ntfs` says where).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub how_read: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw_ntfs: Option<Box<crate::bundle::image_record::RawNtfsFacts>>,
}

/// A files.jsonl line as it lies: every key at the top level, as `FileRecord` writes it
/// (its `path` and `facts` are flattened). Read through this instead of serde's flatten,
/// which buffers each record's keys into an intermediate map before the flattened parts
/// see them: on 200,000 records that was most of the time spent parsing files.jsonl
/// (in the report, the CASE document and verify). Same keys, same types, unknown keys
/// ignored as before.
#[derive(Deserialize)]
struct FlatRecord {
    path: Option<String>,
    path_b64: Option<String>,
    path_display: Option<String>,
    status: Option<Status>,
    reason: Option<String>,
    detail: Option<String>,
    file_type: Option<String>,
    member: Option<String>,
    duplicate_of: Option<String>,
    size: Option<u64>,
    bytes_read: Option<u64>,
    sha256: Option<String>,
    sha1: Option<String>,
    md5: Option<String>,
    mtime: Option<String>,
    atime: Option<String>,
    ctime: Option<String>,
    btime: Option<String>,
    mode: Option<String>,
    uid: Option<u32>,
    gid: Option<u32>,
    inode: Option<u64>,
    dev: Option<u64>,
    nlink: Option<u64>,
    link_target: Option<PathField>,
    resolved_target: Option<PathField>,
    read_method: Option<String>,
    acquired_utc: Option<String>,
    fs_type: Option<String>,
    window: Option<crate::triage::window::WindowVerdict>,
    #[serde(default)]
    known: Vec<KnownMatch>,
    #[serde(default)]
    rules: Vec<String>,
    image: Option<Box<crate::bundle::image_record::ImageFacts>>,
    how_read: Option<String>,
    raw_ntfs: Option<Box<crate::bundle::image_record::RawNtfsFacts>>,
}

impl From<FlatRecord> for FileRecord {
    fn from(f: FlatRecord) -> Self {
        FileRecord {
            path: PathField {
                path: f.path,
                path_b64: f.path_b64,
                path_display: f.path_display,
            },
            status: f.status,
            reason: f.reason,
            detail: f.detail,
            file_type: f.file_type,
            member: f.member,
            duplicate_of: f.duplicate_of,
            size: f.size,
            bytes_read: f.bytes_read,
            sha256: f.sha256,
            sha1: f.sha1,
            md5: f.md5,
            facts: FileFacts {
                mtime: f.mtime,
                atime: f.atime,
                ctime: f.ctime,
                btime: f.btime,
                mode: f.mode,
                uid: f.uid,
                gid: f.gid,
                inode: f.inode,
                dev: f.dev,
                nlink: f.nlink,
            },
            link_target: f.link_target,
            resolved_target: f.resolved_target,
            read_method: f.read_method,
            acquired_utc: f.acquired_utc,
            fs_type: f.fs_type,
            window: f.window,
            known: f.known,
            rules: f.rules,
            image: f.image,
            how_read: f.how_read,
            raw_ntfs: f.raw_ntfs,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The flat reading gives back every field the flattened writing wrote, and ignores
    /// keys it does not know, as serde's flatten did.
    #[test]
    fn a_record_reads_back_as_written_with_every_field_and_unknown_keys_ignored() {
        let rec = FileRecord {
            path: PathField::from_bytes(b"/data/caf\xe9"),
            status: Some(Status::Changed),
            reason: Some("changed_while_read".into()),
            detail: Some("size 3 -> 4".into()),
            file_type: Some("file".into()),
            member: Some("files/data/caf%E9".into()),
            duplicate_of: Some("files/x".into()),
            size: Some(4),
            bytes_read: Some(3),
            sha256: Some("ab".repeat(32)),
            sha1: Some("cd".repeat(20)),
            md5: Some("ef".repeat(16)),
            facts: FileFacts {
                mtime: Some("2026-01-01T00:00:00Z".into()),
                atime: Some("2026-01-02T00:00:00Z".into()),
                ctime: Some("2026-01-03T00:00:00Z".into()),
                btime: Some("2026-01-04T00:00:00Z".into()),
                mode: Some("100644".into()),
                uid: Some(1000),
                gid: Some(100),
                inode: Some(u64::MAX),
                dev: Some(65024),
                nlink: Some(2),
            },
            link_target: Some(PathField::from_bytes(b"../t")),
            resolved_target: Some(PathField::from_bytes(b"/t")),
            read_method: Some("read(O_RDONLY|O_NOATIME)".into()),
            acquired_utc: Some("2026-01-05T00:00:00Z".into()),
            fs_type: Some("ext4".into()),
            window: None,
            known: vec![KnownMatch {
                set: "nsrl".into(),
                kind: "known_good".into(),
                category: "os".into(),
                algorithm: "sha256".into(),
            }],
            rules: vec!["everything".into()],
            image: None,
            how_read: Some("api".into()),
            raw_ntfs: None,
        };
        let line = serde_json::to_string(&rec).unwrap();
        let back: FileRecord = serde_json::from_str(&line).unwrap();
        assert_eq!(back, rec);
        let mut v: serde_json::Value = serde_json::from_str(&line).unwrap();
        v["a_later_key"] = serde_json::json!({"nested": [1, 2]});
        let back: FileRecord = serde_json::from_value(v).unwrap();
        assert_eq!(back, rec);
        // A wrong type in a once-flattened field is still an error.
        let bad = line.replace("\"uid\":1000", "\"uid\":\"1000\"");
        assert!(serde_json::from_str::<FileRecord>(&bad).is_err(), "{bad}");
    }

    #[test]
    fn utf8_paths_are_kept_as_text_and_others_as_exact_bytes() {
        let f = PathField::from_bytes("C:\\Users\\Zoë\\x.txt".as_bytes());
        assert_eq!(f.path.as_deref(), Some("C:\\Users\\Zoë\\x.txt"));
        assert!(f.path_b64.is_none());
        let raw = b"/data/caf\xe9";
        let f = PathField::from_bytes(raw);
        assert!(f.path.is_none());
        assert_eq!(f.bytes().as_deref(), Some(&raw[..]));
        assert_eq!(f.display(), "/data/caf\u{fffd}");
    }

    /// NTFS names are UTF-16 code units that need not be valid UTF-16; std keeps them as
    /// WTF-8, and the record keeps those bytes exactly (run under Wine: docs/packaging.md).
    #[cfg(windows)]
    #[test]
    fn windows_names_that_are_not_valid_utf16_round_trip_through_path_b64() {
        use std::ffi::{OsStr, OsString};
        use std::os::windows::ffi::{OsStrExt, OsStringExt};
        let wide: Vec<u16> = "C:\\x\\lone-"
            .encode_utf16()
            .chain([0xD800])
            .chain(".txt".encode_utf16())
            .collect();
        let name = OsString::from_wide(&wide);
        let f = PathField::from_path(Path::new(&name));
        assert!(f.path.is_none(), "{f:?}");
        let bytes = f.bytes().unwrap();
        assert!(
            bytes.windows(3).any(|w| w == [0xED, 0xA0, 0x80]),
            "{bytes:?}"
        );
        // SAFETY: the bytes came from `as_encoded_bytes` on this platform.
        let back = unsafe { OsStr::from_encoded_bytes_unchecked(&bytes) };
        assert_eq!(back.encode_wide().collect::<Vec<u16>>(), wide);
    }
}

/// One known-file set's match on a file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct KnownMatch {
    pub set: String,
    /// `known_good` or `known_bad`.
    pub kind: String,
    pub category: String,
    /// The strongest algorithm that matched.
    pub algorithm: String,
}
