//! Source-neutral metadata of one entry: what the acquire engine knows about a file
//! whichever source it comes from (the OS file API or a file system read from an image).
//!
//! Owns `EntryMeta` (kind, size, the four times, mode/owner/ids, link count, the file
//! system's identity of the entry) and everything the engine derives from it: the facts
//! files.jsonl records, the `--since/--until` times, the execute bit, and the description
//! of a change between two looks at the same entry. The OS source converts each
//! `std::fs::Metadata` once (`EntryMeta::from_std`); an image source fills the same
//! fields from the file system's own structures. Never reads or changes anything.

use std::fs::Metadata;

use crate::source::read::FileFacts;
use crate::timefmt;

/// What kind of object an entry is, as files.jsonl names it (`file_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    File,
    Dir,
    Symlink,
    Fifo,
    Socket,
    CharDevice,
    BlockDevice,
    Other,
}

impl EntryKind {
    pub fn name(self) -> &'static str {
        match self {
            EntryKind::File => "file",
            EntryKind::Dir => "dir",
            EntryKind::Symlink => "symlink",
            EntryKind::Fifo => "fifo",
            EntryKind::Socket => "socket",
            EntryKind::CharDevice => "char_device",
            EntryKind::BlockDevice => "block_device",
            EntryKind::Other => "other",
        }
    }
}

/// A time as seconds and nanoseconds since the Unix epoch (seconds may be negative).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Stamp {
    pub secs: i64,
    pub nanos: u32,
}

impl Stamp {
    fn from_system_time(t: std::time::SystemTime) -> Option<Stamp> {
        let ts = jiff::Timestamp::try_from(t).ok()?;
        Some(Stamp {
            secs: ts.as_second(),
            nanos: u32::try_from(ts.subsec_nanosecond()).ok()?,
        })
    }

    /// From nanoseconds since the epoch (image file systems keep times that way).
    pub fn from_unix_nanos(n: i128) -> Option<Stamp> {
        let secs = i64::try_from(n.div_euclid(1_000_000_000)).ok()?;
        let nanos = u32::try_from(n.rem_euclid(1_000_000_000)).ok()?;
        Some(Stamp { secs, nanos })
    }

    /// RFC 3339 UTC with nanoseconds, as every record time.
    pub fn utc(self) -> Option<String> {
        timefmt::unix_utc(self.secs, self.nanos as i64)
    }
}

/// What the engine knows about an entry, from whichever source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryMeta {
    pub kind: EntryKind,
    pub size: u64,
    pub modified: Option<Stamp>,
    pub accessed: Option<Stamp>,
    /// Inode / MFT entry change time.
    pub changed: Option<Stamp>,
    pub born: Option<Stamp>,
    /// Full `st_mode` (type and permission bits) where the source has one.
    pub mode: Option<u32>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    /// The file system's identity of the entry: inode number, NTFS MFT record number.
    pub inode: Option<u64>,
    /// The device (OS source); an image source leaves it empty (its records name the
    /// volume instead).
    pub dev: Option<u64>,
    pub nlink: Option<u64>,
}

impl EntryMeta {
    /// The one conversion of an OS `stat` result.
    pub fn from_std(m: &Metadata) -> EntryMeta {
        let ft = m.file_type();
        let kind = if ft.is_file() {
            EntryKind::File
        } else if ft.is_dir() {
            EntryKind::Dir
        } else if ft.is_symlink() {
            EntryKind::Symlink
        } else {
            special_kind(&ft)
        };
        let born = m.created().ok().and_then(Stamp::from_system_time);
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            let stamp = |secs: i64, nanos: i64| {
                u32::try_from(nanos).ok().map(|nanos| Stamp { secs, nanos })
            };
            EntryMeta {
                kind,
                size: m.len(),
                modified: stamp(m.mtime(), m.mtime_nsec()),
                accessed: stamp(m.atime(), m.atime_nsec()),
                changed: stamp(m.ctime(), m.ctime_nsec()),
                born,
                mode: Some(m.mode()),
                uid: Some(m.uid()),
                gid: Some(m.gid()),
                inode: Some(m.ino()),
                dev: Some(m.dev()),
                nlink: Some(m.nlink()),
            }
        }
        #[cfg(not(unix))]
        {
            EntryMeta {
                kind,
                size: m.len(),
                modified: m.modified().ok().and_then(Stamp::from_system_time),
                accessed: m.accessed().ok().and_then(Stamp::from_system_time),
                changed: None,
                born,
                mode: None,
                uid: None,
                gid: None,
                inode: None,
                dev: None,
                nlink: None,
            }
        }
    }

    pub fn is_file(&self) -> bool {
        self.kind == EntryKind::File
    }

    pub fn is_dir(&self) -> bool {
        self.kind == EntryKind::Dir
    }

    pub fn is_symlink(&self) -> bool {
        self.kind == EntryKind::Symlink
    }

    /// `(device, inode)`, the identity that recognises a directory seen twice.
    pub fn file_id(&self) -> Option<(u64, u64)> {
        Some((self.dev?, self.inode?))
    }

    /// The metadata facts of a files.jsonl record.
    pub fn facts(&self) -> FileFacts {
        FileFacts {
            mtime: self.modified.and_then(Stamp::utc),
            atime: self.accessed.and_then(Stamp::utc),
            ctime: self.changed.and_then(Stamp::utc),
            btime: self.born.and_then(Stamp::utc),
            mode: self.mode.map(|m| format!("{m:o}")),
            uid: self.uid,
            gid: self.gid,
            inode: self.inode,
            dev: self.dev,
            nlink: self.nlink,
        }
    }

    /// Modification time in whole seconds since the epoch.
    pub fn mtime_secs(&self) -> Option<i64> {
        self.modified.map(|s| s.secs)
    }

    /// True if the execute bit is set for anyone (sources without Unix modes: false, and
    /// the executables-only check then looks at the content's signature alone).
    pub fn has_exec_bit(&self) -> bool {
        self.mode.is_some_and(|m| m & 0o111 != 0)
    }

    /// The times `--since/--until` look at.
    pub fn window_times(&self) -> crate::triage::window::FileTimes {
        let split = |s: Option<Stamp>| s.and_then(|s| Some((s.secs, i32::try_from(s.nanos).ok()?)));
        crate::triage::window::FileTimes {
            mtime: split(self.modified),
            ctime: split(self.changed),
            btime: split(self.born),
        }
    }
}

#[cfg(unix)]
fn special_kind(ft: &std::fs::FileType) -> EntryKind {
    use std::os::unix::fs::FileTypeExt;
    if ft.is_fifo() {
        EntryKind::Fifo
    } else if ft.is_socket() {
        EntryKind::Socket
    } else if ft.is_char_device() {
        EntryKind::CharDevice
    } else if ft.is_block_device() {
        EntryKind::BlockDevice
    } else {
        EntryKind::Other
    }
}

#[cfg(not(unix))]
fn special_kind(_ft: &std::fs::FileType) -> EntryKind {
    EntryKind::Other
}

/// Describe how an entry changed between two looks (before and after reading it), or
/// `None` if it did not.
pub fn change_between(before: &EntryMeta, after: &EntryMeta) -> Option<String> {
    let mut what = Vec::new();
    if before.size != after.size {
        // Say which way: a log rotated (truncated) under the reader is not one that grew.
        let how = if after.size < before.size {
            "truncated"
        } else {
            "grew"
        };
        what.push(format!("{how} (size {} -> {})", before.size, after.size));
    }
    if before.modified != after.modified {
        what.push("mtime changed".to_string());
    }
    if before.changed != after.changed && what.is_empty() {
        what.push("ctime changed".to_string());
    }
    (!what.is_empty()).then(|| what.join(", "))
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    /// The facts from the neutral metadata are exactly those the record had from `stat`.
    #[test]
    fn facts_from_an_os_stat_are_those_of_the_stat() {
        use std::os::unix::fs::MetadataExt;
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("f");
        std::fs::write(&p, b"abc").unwrap();
        let m = std::fs::symlink_metadata(&p).unwrap();
        let e = EntryMeta::from_std(&m);
        let f = e.facts();
        assert_eq!(f.mtime, timefmt::unix_utc(m.mtime(), m.mtime_nsec()));
        assert_eq!(f.ctime, timefmt::unix_utc(m.ctime(), m.ctime_nsec()));
        assert_eq!(f.btime, m.created().ok().and_then(timefmt::system_time_utc));
        assert_eq!(f.mode, Some(format!("{:o}", m.mode())));
        assert_eq!((f.inode, f.dev), (Some(m.ino()), Some(m.dev())));
        assert_eq!(e.kind, EntryKind::File);
        assert_eq!(e.size, 3);
        assert_eq!(change_between(&e, &e), None);
        let mut grown = e.clone();
        grown.size = 5;
        assert_eq!(
            change_between(&e, &grown).as_deref(),
            Some("grew (size 3 -> 5)")
        );
    }

    #[test]
    fn nanosecond_stamps_round_before_the_epoch() {
        let s = Stamp::from_unix_nanos(-1).unwrap();
        assert_eq!((s.secs, s.nanos), (-1, 999_999_999));
        assert_eq!(s.utc().as_deref(), Some("1969-12-31T23:59:59.999999999Z"));
    }
}
