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

#[cfg(test)]
mod tests {
    use super::*;

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
