//! Where evidence bytes come from, behind one seam so the pipeline does not care.
//!
//! The acquire engine sees a source only through the `Source` trait: a walk that emits
//! `WalkEvent`s (candidates carrying source-neutral `EntryMeta`, directories not walked,
//! errors) in a repeatable order, a way to open a candidate for one sequential read
//! (`OpenedEntry`: the bytes, the metadata taken when it was opened, how it was read),
//! and the few questions the records ask (a link's target, the member name's
//! components). Planning, limits, `--since` windows, the executables-only check,
//! hashing, de-duplication, triage, known-file sets, change detection and the records
//! are therefore one code path (`acquire`) for every source. Two implement it:
//! - `os::OsSource`: a mounted or live file system through the OS file API (`walk`,
//!   `dirlist`, `read::open_evidence`: O_NOATIME, O_NOFOLLOW, no time changed).
//! - `image::source::ImageSource`: the file systems inside a disk image or device,
//!   read by fieldkit's own readers (`image`) without mounting anything.
//!
//! Nothing in this module ever writes to a source.

use std::ffi::OsStr;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

pub mod dirlist;
pub mod entry;
pub mod homes;
pub mod image;
pub mod longpath;
pub mod mounts;
pub mod os;
pub mod rawvol;
pub mod read;
pub mod walk;

use crate::bundle::record::{FileRecord, PathField, Status};
use entry::EntryMeta;
use mounts::FsClass;

/// A path some rule wants, with what the walk already knows about it.
#[derive(Debug)]
pub struct Candidate {
    /// The path as recorded (OS: the path on the collecting machine; image: the path in
    /// its file system, from its root).
    pub path: PathBuf,
    pub rules: Vec<u16>,
    /// What the walk saw (OS: `lstat`, or `stat` when following symlinks).
    pub metadata: Option<EntryMeta>,
    pub fs_class: FsClass,
    pub fs_type: Option<String>,
    /// Where the entry lies in an image (none for the OS source).
    pub image: Option<Box<image::source::ImageEntry>>,
}

// Candidates are nearly every event: boxing them would cost an allocation per file for
// the rare other kinds.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum WalkEvent {
    Candidate(Candidate),
    /// A directory deliberately not walked, with a stable reason code.
    NotWalked {
        path: PathBuf,
        reason: &'static str,
        detail: String,
    },
    /// A directory or entry the walk could not read.
    Error {
        path: PathBuf,
        reason: &'static str,
        detail: String,
    },
    /// A finished record the source made itself (an image's deleted entry that is not
    /// read, an entry whose metadata cannot be parsed), in walk order.
    Record(Box<FileRecord>),
}

/// Why a candidate could not be opened: the record's status, reason and detail.
#[derive(Debug)]
pub struct OpenRefused {
    pub status: Status,
    pub reason: &'static str,
    pub detail: String,
}

/// A candidate opened for one sequential read.
pub struct OpenedEntry {
    pub reader: EntryReader,
    /// The metadata when it was opened (OS: `fstat` of the open descriptor).
    pub before: EntryMeta,
    /// How the bytes are read, for the record (`read_method`).
    pub read_method: String,
    /// From an image: where the bytes lie in it (the record's `image.data`).
    pub image_data: Option<crate::bundle::image_record::ImageData>,
    /// Read through the raw NTFS volume (live Windows): where, and the MFT record's state.
    pub raw: Option<Box<crate::bundle::image_record::RawNtfsFacts>>,
    /// The record's `how_read` (Windows: `api` or `raw-ntfs`), when the source says.
    pub how_read: Option<&'static str>,
}

/// The bytes of an opened entry. An enum rather than a boxed reader: the OS path stays
/// a plain `File` read, with nothing in between.
pub enum EntryReader {
    File(std::fs::File),
    Image(image::fs::read::LayoutReader),
    /// A live volume's file through the raw volume; checked for a change after the read.
    Raw(Box<rawvol::RawReader>),
}

impl io::Read for EntryReader {
    #[inline]
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            EntryReader::File(f) => f.read(buf),
            EntryReader::Image(r) => r.read(buf),
            EntryReader::Raw(r) => r.read(buf),
        }
    }
}

impl EntryReader {
    /// Back to the first byte, for a second read of the same open entry.
    pub fn rewind(&mut self) -> io::Result<()> {
        match self {
            EntryReader::File(f) => {
                use std::io::Seek;
                f.seek(io::SeekFrom::Start(0)).map(|_| ())
            }
            EntryReader::Image(r) => {
                r.rewind();
                Ok(())
            }
            EntryReader::Raw(r) => {
                r.rewind();
                Ok(())
            }
        }
    }

    /// The metadata after the read, to detect a change while reading (OS: `fstat`).
    /// An image does not change under the reader, and a raw read is checked against its
    /// MFT record instead (`rawvol::RawReader::changed`): `None`.
    pub fn metadata_after(&self) -> Option<EntryMeta> {
        match self {
            EntryReader::File(f) => f.metadata().ok().map(|m| EntryMeta::from_std(&m)),
            EntryReader::Image(_) | EntryReader::Raw(_) => None,
        }
    }
}

/// What the engine asks of a source.
pub trait Source: Sync {
    /// What is being collected, for the actions log (`/mnt/evidence`, `disk.E01`).
    fn describe(&self) -> String;

    /// Walk with the plan the source was made with, calling `emit` for every event in a
    /// repeatable order; stop early when `emit` returns false or `interrupt` is set.
    fn walk(&self, interrupt: &AtomicBool, emit: &mut dyn FnMut(WalkEvent) -> bool);

    /// The metadata of a candidate the walk could not describe.
    fn stat(&self, c: &Candidate) -> io::Result<EntryMeta>;

    /// Before classifying a candidate: a source that follows links (the OS source, when
    /// the profile asks) resolves it here. Returns the metadata to classify by and the
    /// path to open instead of the candidate's own (`None`: the candidate itself), or
    /// the finished record (a link out of the source).
    fn resolve(
        &self,
        c: &Candidate,
        meta: EntryMeta,
        rec: &mut FileRecord,
    ) -> Result<(EntryMeta, Option<PathBuf>), Box<FileRecord>>;

    /// A symlink's target as stored.
    fn link_target(&self, c: &Candidate) -> Option<PathField>;

    /// Open a regular file for reading, or say why it cannot be.
    fn open(&self, c: &Candidate, instead: Option<&Path>) -> Result<OpenedEntry, OpenRefused>;

    /// The components of a candidate's member name under `files/`.
    fn member_components<'a>(&self, c: &'a Candidate) -> Vec<&'a OsStr>;

    /// The candidate's path relative to its file system's root, `/`-separated (what the
    /// analyzers match on).
    fn source_path(&self, c: &Candidate) -> String;

    /// Fill in what is known about a directory the walk did not enter.
    fn describe_not_walked(&self, path: &Path, rec: &mut FileRecord);
}
