//! Files of a live NTFS volume read through the raw volume (`\\.\C:`, or any device or
//! file holding one NTFS volume) by fieldkit's own NTFS reader: what the live Windows
//! collection falls back to for a file another process holds without sharing (live
//! registry hives, event logs in use) and for the NTFS metadata files that have no API
//! path (`$MFT`, `$LogFile`, `$Extend\$UsnJrnl:$J`, `$Secure:$SDS`, `$Boot`).
//!
//! Owns finding a file by its path (case-insensitive, as NTFS looks names up; a final
//! `:stream` names a named `$DATA` stream) or by MFT record number, reading its stream
//! through its runs (sparse runs and bytes past the valid data length as zeros), and the
//! consistency a live volume allows: the MFT record is read before and after the data,
//! and a change of sequence, `$LogFile` LSN, size, runs or in-use flag means the bytes
//! may be torn (`RawReader::changed`, `read_consistent`: bounded retries, then the
//! change is reported — never a torn copy as a good one). docs/live-windows-raw.md.
//!
//! Must never: write to or lock the volume (it is only `ReadAt`), open the volume for
//! anything but reading with full sharing, or return bytes of a stream the reader cannot
//! decode (compressed, encrypted: errors with the reason).

use std::io::{self, Read};
use std::path::Path;
use std::sync::Arc;

use crate::source::image::fs::ntfs::{Ntfs, RecordState};
use crate::source::image::fs::read::LayoutReader;
use crate::source::image::fs::{FileSystem, FsError, Node, NodeId};
use crate::source::image::media::ReadAt;

/// Attempts at a consistent read of one file (the first and two retries).
pub const MAX_ATTEMPTS: u32 = 3;

/// The NTFS metadata files the live collection reads through the raw volume only (they
/// have no path the Windows file API opens), as `path[:stream]` from the volume's root.
pub const METADATA_FILES: &[&str] = &[
    "$MFT",
    "$LogFile",
    "$Boot",
    "$Extend/$UsnJrnl:$J",
    "$Extend/$UsnJrnl:$Max",
    "$Secure:$SDS",
    "$Extend/$RmMetadata/$TxfLog/$Tops:$T",
];

/// A raw NTFS volume, opened read-only.
pub struct RawVolume {
    fs: Ntfs,
    name: String,
}

/// A file (and stream) found on the volume.
#[derive(Debug, Clone, PartialEq)]
pub struct Located {
    /// File reference (record number | sequence << 48).
    pub id: NodeId,
    /// A named stream (`$J`, `$SDS`, `Zone.Identifier`), or the default one.
    pub stream: Option<Vec<u8>>,
    /// The path as found on the volume (the names as stored), `\`-separated.
    pub path: String,
}

impl Located {
    pub fn record(&self) -> u64 {
        self.id.0 & 0x0000_FFFF_FFFF_FFFF
    }
}

/// What one read through the raw volume did.
#[derive(Debug, Clone, PartialEq)]
pub struct RawOutcome {
    /// Reads made (1 when the first was consistent).
    pub attempts: u32,
    /// The record's state before the last read.
    pub state: RecordState,
    /// Bytes of the last read.
    pub bytes: u64,
    /// `None`: the record did not change during the last read. `Some`: every attempt
    /// saw a change; what changed in the last one.
    pub changed: Option<String>,
}

/// What a change between two looks at a record was, or `None` when they are the same.
pub fn describe_change(before: &RecordState, after: &RecordState) -> Option<String> {
    let mut what = Vec::new();
    if before.sequence != after.sequence {
        what.push(format!(
            "MFT record {} sequence {} → {} (deleted and reused)",
            before.record, before.sequence, after.sequence
        ));
    }
    if before.in_use != after.in_use {
        what.push(format!(
            "MFT record {} in use {} → {}",
            before.record, before.in_use, after.in_use
        ));
    }
    if before.lsn != after.lsn {
        what.push(format!("$LogFile LSN {} → {}", before.lsn, after.lsn));
    }
    if before.size != after.size {
        what.push(format!("size {} → {}", before.size, after.size));
    }
    if before.extents != after.extents || before.layout != after.layout {
        what.push(format!(
            "data runs changed ({} → {} extents)",
            before.extents.len(),
            after.extents.len()
        ));
    }
    (!what.is_empty()).then(|| what.join("; "))
}

/// Case-insensitive name comparison as NTFS does it (simple Unicode upper-casing; the
/// volume's `$UpCase` table agrees for every name Windows creates).
fn same_name(a: &[u8], b: &str) -> bool {
    let a = String::from_utf8_lossy(a);
    a == b || a.to_uppercase() == b.to_uppercase()
}

impl RawVolume {
    /// The NTFS volume on `volume` (`name` for messages and records: `\\.\C:`).
    pub fn new(volume: Arc<dyn ReadAt>, name: impl Into<String>) -> Result<Self, FsError> {
        Ok(RawVolume {
            fs: Ntfs::open(volume)?,
            name: name.into(),
        })
    }

    /// Open a volume device (`\\.\C:`, `/dev/sdb1`) or a file holding one NTFS volume,
    /// read-only with full sharing. The error is one line naming the path.
    pub fn open(path: &Path) -> Result<Self, RawOpenError> {
        let media = crate::source::image::container::device::open_volume(path).map_err(|e| {
            RawOpenError {
                access_denied: e.kind() == io::ErrorKind::PermissionDenied,
                detail: format!(
                    "{}: cannot open the raw volume read-only: {e}",
                    path.display()
                ),
            }
        })?;
        RawVolume::new(media, path.display().to_string()).map_err(|e| RawOpenError {
            access_denied: false,
            detail: format!("{}: not a readable NTFS volume: {e}", path.display()),
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn fs(&self) -> &Ntfs {
        &self.fs
    }

    /// Find `path` (from the volume's root, `\` or `/` separated, case-insensitive; a
    /// final `name:stream` names a stream, `::$DATA` the default one).
    pub fn locate(&self, path: &str) -> Result<Located, FsError> {
        let parts: Vec<&str> = path
            .split(['/', '\\'])
            .filter(|p| !p.is_empty() && *p != ".")
            .collect();
        let mut id = self.fs.root();
        let mut found = Vec::new();
        let mut stream = None;
        for (i, part) in parts.iter().enumerate() {
            let last = i + 1 == parts.len();
            let (name, s) = match part.split_once(':') {
                Some((n, s)) if last => (n, Some(s.trim_end_matches(":$DATA"))),
                _ => (*part, None),
            };
            stream = s.filter(|s| !s.is_empty()).map(|s| s.as_bytes().to_vec());
            let entries = self.fs.read_dir(id)?;
            let hit = entries
                .iter()
                .find(|e| e.name == name.as_bytes())
                .or_else(|| entries.iter().find(|e| same_name(&e.name, name)))
                .ok_or_else(|| {
                    FsError::new(
                        "not_found",
                        None,
                        format!(
                            "{}: no {name:?} in \\{} on the raw volume",
                            self.name,
                            found.join("\\")
                        ),
                    )
                })?;
            found.push(String::from_utf8_lossy(&hit.name).into_owned());
            id = hit.id;
        }
        let mut shown = found.join("\\");
        if let Some(s) = &stream {
            shown.push(':');
            shown.push_str(&String::from_utf8_lossy(s));
        }
        Ok(Located {
            id,
            stream,
            path: shown,
        })
    }

    /// The file whose base record is MFT record `number` (any sequence).
    pub fn locate_record(&self, number: u64, stream: Option<&[u8]>) -> Result<Located, FsError> {
        let node = self.fs.node(NodeId(number))?;
        Ok(Located {
            id: node.id,
            stream: stream.map(<[u8]>::to_vec),
            path: format!("MFT record {number}"),
        })
    }

    /// What the file's metadata says now.
    pub fn node(&self, loc: &Located) -> Result<Node, FsError> {
        self.fs.node(loc.id)
    }

    /// The record's state now.
    pub fn state(&self, loc: &Located) -> Result<RecordState, FsError> {
        self.fs.record_state(loc.id, loc.stream.as_deref())
    }

    /// One read: the state before, and a reader over the stream as that state lays it
    /// out. `RawReader::changed` takes the look after.
    pub fn open_reader(self: &Arc<Self>, loc: &Located) -> Result<RawReader, FsError> {
        let before = self.state(loc)?;
        let reader = LayoutReader::new(Arc::clone(self.fs.volume()), before.layout.clone())?;
        Ok(RawReader {
            attempt: 1,
            volume: Arc::clone(self),
            loc: loc.clone(),
            before,
            reader,
        })
    }

    /// Read `loc` consistently: `begin(attempt)` starts an attempt (the sink throws away
    /// what an earlier one gave it), `data` takes the bytes in order; after each read the
    /// record is looked at again, and a changed one is read again, `max_attempts` in all.
    /// `between(attempt)` runs after the data and before the second look (tests change the
    /// volume there).
    pub fn read_consistent(
        self: &Arc<Self>,
        loc: &Located,
        max_attempts: u32,
        sink: &mut dyn RawSink,
        between: &mut dyn FnMut(u32),
    ) -> Result<RawOutcome, RawReadError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut r = self.open_reader(loc).map_err(RawReadError::Fs)?;
            sink.begin(attempt).map_err(RawReadError::Sink)?;
            let mut buf = vec![0u8; 1 << 20];
            let mut bytes = 0u64;
            loop {
                let n = match r.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(RawReadError::Fs(FsError::io(bytes, &e))),
                };
                bytes += n as u64;
                sink.data(&buf[..n]).map_err(RawReadError::Sink)?;
            }
            between(attempt);
            let changed = r.changed().map_err(RawReadError::Fs)?;
            if changed.is_none() || attempt >= max_attempts.max(1) {
                return Ok(RawOutcome {
                    attempts: attempt,
                    state: r.before,
                    bytes,
                    changed,
                });
            }
        }
    }
}

/// Why the raw volume could not be opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawOpenError {
    /// The OS refused access (no administrator rights on Windows).
    pub access_denied: bool,
    pub detail: String,
}

impl std::fmt::Display for RawOpenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.detail)
    }
}

#[derive(Debug)]
pub enum RawReadError {
    /// The volume or its structures.
    Fs(FsError),
    /// The sink (the bundle writer).
    Sink(io::Error),
}

impl std::fmt::Display for RawReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RawReadError::Fs(e) => write!(f, "{e}"),
            RawReadError::Sink(e) => write!(f, "{e}"),
        }
    }
}

/// Where `read_consistent` puts the bytes.
pub trait RawSink {
    /// A new attempt starts: forget the bytes of an earlier one.
    fn begin(&mut self, attempt: u32) -> io::Result<()>;
    fn data(&mut self, bytes: &[u8]) -> io::Result<()>;
}

/// One read of a stream through the raw volume, with the record's state before it.
pub struct RawReader {
    /// Which attempt at a consistent read this is (1 = the first; the engine sets it).
    pub attempt: u32,
    volume: Arc<RawVolume>,
    loc: Located,
    before: RecordState,
    reader: LayoutReader,
}

impl RawReader {
    pub fn before(&self) -> &RecordState {
        &self.before
    }

    pub fn located(&self) -> &Located {
        &self.loc
    }

    pub fn volume(&self) -> &Arc<RawVolume> {
        &self.volume
    }

    /// Look at the record again: what changed since the read began, or `None`. A record
    /// that can no longer be read at all is a change too.
    pub fn changed(&self) -> Result<Option<String>, FsError> {
        match self.volume.state(&self.loc) {
            Ok(after) => Ok(describe_change(&self.before, &after)),
            Err(e) if e.reason == "stale_reference" || e.reason == "no_data" => {
                Ok(Some(format!("the record changed: {e}")))
            }
            Err(e) => Err(e),
        }
    }

    /// Back to the first byte (a second read of the same layout).
    pub fn rewind(&mut self) {
        self.reader.rewind();
    }
}

impl Read for RawReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.reader.read(buf)
    }
}

/// The drive letter and the `\`-separated path below the drive's root of a Windows path
/// (`X:\a\b`, `\\?\X:\a\b`), or `None` for any other path. Pure text: works anywhere.
pub fn on_drive(path: &Path) -> Option<(char, String)> {
    let s = path.to_string_lossy();
    let s = s.strip_prefix(r"\\?\").unwrap_or(&s);
    let mut chars = s.chars();
    let letter = chars.next().filter(char::is_ascii_alphabetic)?;
    if chars.next() != Some(':') {
        return None;
    }
    let rest = chars.as_str();
    if !(rest.is_empty() || rest.starts_with(['\\', '/'])) {
        return None;
    }
    let rel = rest
        .split(['\\', '/'])
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("\\");
    Some((letter.to_ascii_uppercase(), rel))
}

/// Whether `rel` (below the volume's root) names one of the NTFS metadata files read
/// through the raw volume only (case-insensitive).
pub fn metadata_file(rel: &str) -> Option<&'static str> {
    let rel = rel.replace('\\', "/");
    METADATA_FILES
        .iter()
        .copied()
        .find(|m| m.eq_ignore_ascii_case(rel.trim_start_matches('/')))
}

/// The raw volume of a live Windows collection's drive, opened once at the start: either
/// readable, or why not (no administrator rights: said once, loudly, and in the
/// manifest; API reads carry on).
pub struct RawAccess {
    /// `\\.\X:`.
    pub device: String,
    pub letter: char,
    pub volume: Result<Arc<RawVolume>, RawOpenError>,
    /// The volume is BitLocker-protected and unlocked (the live encryption step's
    /// evidence): the raw reads see decrypted data.
    pub bitlocker: Option<String>,
}

impl RawAccess {
    /// Open the raw volume of the drive `root` lies on; `None` when it is not on a drive
    /// letter.
    pub fn open_for(root: &Path) -> Option<RawAccess> {
        let (letter, _) = on_drive(root)?;
        let device = format!(r"\\.\{letter}:");
        Some(Self::open_device(letter, &device, Path::new(&device)))
    }

    /// The raw volume `path` standing for drive `letter` (tests: an image file).
    pub fn open_device(letter: char, device: &str, path: &Path) -> RawAccess {
        RawAccess {
            device: device.to_string(),
            letter,
            volume: RawVolume::open(path).map(Arc::new),
            bitlocker: None,
        }
    }

    /// The warning for the start of the run and the manifest when the volume cannot be
    /// read, or `None`.
    pub fn warning(&self) -> Option<String> {
        let e = self.volume.as_ref().err()?;
        Some(if e.access_denied {
            format!(
                "the raw volume {} cannot be opened (access denied: fieldkit is not running \
                 as administrator): files that Windows holds locked (live registry hives, \
                 event logs in use) and the NTFS metadata ($MFT, $LogFile, $UsnJrnl:$J) \
                 are NOT collected; API reads continue — run as administrator to get them",
                self.device
            )
        } else {
            format!(
                "the raw volume {} cannot be read ({}): locked files and the NTFS metadata \
                 are not collected; API reads continue",
                self.device, e.detail
            )
        })
    }

    /// `path`'s place below this volume's root, when it lies on this drive.
    pub fn relative(&self, path: &Path) -> Option<String> {
        on_drive(path)
            .filter(|(l, _)| *l == self.letter)
            .map(|(_, rel)| rel)
    }

    /// Open `rel` through the raw volume for one read. `why`: `locked` or
    /// `ntfs_metadata`; `api_error`: the API's refusal.
    pub fn open_entry(
        &self,
        rel: &str,
        why: &str,
        api_error: Option<String>,
    ) -> Result<super::OpenedEntry, FsError> {
        let vol = self
            .volume
            .as_ref()
            .map_err(|e| FsError::new("raw_volume_unreadable", None, e.detail.clone()))?;
        let loc = vol.locate(rel)?;
        let node = vol.node(&loc)?;
        if loc.stream.is_none() && node.kind != crate::source::image::fs::NodeKind::File {
            return Err(FsError::new(
                "not_a_regular_file",
                None,
                format!(
                    "{}: {} is not a regular file on the raw volume",
                    self.device, loc.path
                ),
            ));
        }
        let reader = vol.open_reader(&loc)?;
        let st = reader.before().clone();
        let info = vol.fs().info();
        let mut before = crate::source::image::source::entry_meta(
            &node,
            &info,
            loc.stream.as_ref().map(|_| st.size),
        );
        before.size = st.size;
        let facts = crate::bundle::image_record::RawNtfsFacts {
            volume: self.device.clone(),
            why: why.to_string(),
            api_error,
            volume_path: loc.path.clone(),
            stream: loc
                .stream
                .as_ref()
                .map(|s| String::from_utf8_lossy(s).into_owned()),
            mft_record: st.record,
            sequence: st.sequence,
            lsn: st.lsn,
            size: st.size,
            times: crate::source::image::source::image_times(&node.times),
            flags: node.flags.iter().map(|f| f.to_string()).collect(),
            data: crate::source::image::source::image_data(&st.layout, 0),
            attempts: 1,
            changes: Vec::new(),
        };
        let mut read_method = format!(
            "raw NTFS: {} opened read-only (share read|write|delete), MFT record {} \
             sequence {}, read through its runs",
            self.device, st.record, st.sequence
        );
        if let Some(b) = &self.bitlocker {
            read_method.push_str(&format!(
                "; the volume is BitLocker-protected and unlocked, the raw read sees \
                 decrypted data ({b})"
            ));
        }
        Ok(super::OpenedEntry {
            reader: super::EntryReader::Raw(Box::new(reader)),
            before,
            read_method,
            image_data: None,
            raw: Some(Box::new(facts)),
            how_read: Some("raw-ntfs"),
        })
    }

    /// Candidates for the NTFS metadata files that a rule of `plan` names literally
    /// (`/$MFT`, `/$Extend/$UsnJrnl:$J`, …) below `root`: the Windows API lists none of
    /// them. One that the volume does not have is a `skipped` record with the reason.
    pub fn metadata_events(
        &self,
        root: &Path,
        plan: &crate::plan::Plan,
        already: &[std::path::PathBuf],
    ) -> Vec<super::WalkEvent> {
        let mut out = Vec::new();
        // Only a collection of the whole drive: the rules' `/` is the volume's root.
        if self.relative(root).is_none_or(|r| !r.is_empty()) {
            return out;
        }
        let vol = match self.volume.as_ref() {
            Ok(v) => v,
            Err(e) => {
                // Never a silent drop: each metadata file a rule names, and why not.
                for m in METADATA_FILES {
                    let comps: Vec<&std::ffi::OsStr> =
                        m.split('/').map(std::ffi::OsStr::new).collect();
                    let rules = plan.matching_rules_literally(&comps, None);
                    if rules.is_empty() {
                        continue;
                    }
                    let mut path = root.to_path_buf();
                    for c in &comps {
                        path.push(c);
                    }
                    out.push(super::WalkEvent::Record(Box::new(
                        crate::bundle::record::FileRecord {
                            path: crate::bundle::record::PathField::from_path(&path),
                            status: Some(crate::bundle::record::Status::Locked),
                            reason: Some("raw_volume_unreadable".into()),
                            detail: Some(format!(
                                "{m}: NTFS metadata has no API path, only the raw volume, \
                                 which cannot be read: {}",
                                e.detail
                            )),
                            rules: plan.rule_names(&rules),
                            ..Default::default()
                        },
                    )));
                }
                return out;
            }
        };
        for m in METADATA_FILES {
            let comps: Vec<&std::ffi::OsStr> = m.split('/').map(std::ffi::OsStr::new).collect();
            let rules = plan.matching_rules_literally(&comps, None);
            if rules.is_empty() {
                continue;
            }
            let mut path = root.to_path_buf();
            for c in &comps {
                path.push(c);
            }
            if already.iter().any(|p| p == &path) {
                continue;
            }
            match vol.locate(m).and_then(|loc| {
                let node = vol.node(&loc)?;
                let st = vol.state(&loc)?;
                let info = vol.fs().info();
                let mut meta = crate::source::image::source::entry_meta(
                    &node,
                    &info,
                    loc.stream.as_ref().map(|_| st.size),
                );
                meta.size = st.size;
                Ok(meta)
            }) {
                Ok(meta) => out.push(super::WalkEvent::Candidate(super::Candidate {
                    path,
                    rules,
                    metadata: Some(meta),
                    fs_class: super::mounts::FsClass::Regular,
                    fs_type: Some("ntfs".into()),
                    image: None,
                })),
                Err(e) => {
                    let rec = crate::bundle::record::FileRecord {
                        path: crate::bundle::record::PathField::from_path(&path),
                        status: Some(crate::bundle::record::Status::Skipped),
                        reason: Some(if e.reason == "not_found" {
                            "not_present".into()
                        } else {
                            e.reason.into()
                        }),
                        detail: Some(if e.reason == "not_found" {
                            format!(
                                "{m}: not on the volume ({e}){}",
                                if m.contains("UsnJrnl") {
                                    "; the NTFS change journal is not enabled on it"
                                } else {
                                    ""
                                }
                            )
                        } else {
                            format!("{m}: cannot be read from the raw volume: {e}")
                        }),
                        rules: plan.rule_names(&rules),
                        how_read: Some("raw-ntfs".into()),
                        ..Default::default()
                    };
                    out.push(super::WalkEvent::Record(Box::new(rec)));
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};
    use std::sync::RwLock;

    /// A volume in memory that a test can change between reads (as a live system does).
    struct Live(RwLock<Vec<u8>>);

    impl ReadAt for Live {
        fn size(&self) -> u64 {
            self.0.read().map(|v| v.len() as u64).unwrap_or(0)
        }
        fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
            let v = self.0.read().map_err(|_| io::Error::other("poisoned"))?;
            v.as_slice().read_at(offset, buf)
        }
        fn describe(&self) -> String {
            "test volume".into()
        }
    }

    /// The committed NTFS fuzz seed (mkntfs + files written through ntfs-3g: nested
    /// folders, an index block, alternate data streams, a sparse file), unpacked.
    fn seed_volume() -> Vec<u8> {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/fuzz/corpus/fs_ntfs/mkntfs-ntfs3g.fksparse"
        );
        crate::source::image::fs::ntfs::fuzz_volume(&std::fs::read(path).unwrap())
    }

    fn live() -> (Arc<Live>, Arc<RawVolume>) {
        let live = Arc::new(Live(RwLock::new(seed_volume())));
        let vol = RawVolume::new(Arc::clone(&live) as Arc<dyn ReadAt>, "test").unwrap();
        (live, Arc::new(vol))
    }

    #[derive(Default)]
    struct Collect {
        bytes: Vec<u8>,
        begins: Vec<u32>,
    }

    impl RawSink for Collect {
        fn begin(&mut self, attempt: u32) -> io::Result<()> {
            self.begins.push(attempt);
            self.bytes.clear();
            Ok(())
        }
        fn data(&mut self, bytes: &[u8]) -> io::Result<()> {
            self.bytes.extend_from_slice(bytes);
            Ok(())
        }
    }

    /// Add `by` to the LSN (header offset 8) of MFT record `number`, as the file system
    /// does when it logs a change to the record.
    fn bump_lsn(live: &Live, vol: &RawVolume, number: u64, by: u64) {
        let at = vol.fs().record_offset(number).unwrap() as usize + 8;
        let mut v = live.0.write().unwrap();
        let lsn = u64::from_le_bytes(v[at..at + 8].try_into().unwrap()) + by;
        v[at..at + 8].copy_from_slice(&lsn.to_le_bytes());
    }

    #[test]
    fn windows_paths_give_their_drive_and_the_path_below_its_root() {
        assert_eq!(
            on_drive(Path::new(r"\\?\x:\Windows\System32\config\SAM")),
            Some(('X', r"Windows\System32\config\SAM".to_string()))
        );
        assert_eq!(on_drive(Path::new("C:\\")), Some(('C', String::new())));
        assert_eq!(on_drive(Path::new("C:")), Some(('C', String::new())));
        assert_eq!(on_drive(Path::new("/mnt/c")), None);
        assert_eq!(on_drive(Path::new("CD:\\x")), None);
        assert_eq!(
            metadata_file(r"$extend\$usnjrnl:$J"),
            Some("$Extend/$UsnJrnl:$J")
        );
        assert_eq!(metadata_file("$MFT"), Some("$MFT"));
        assert_eq!(metadata_file("Windows/$MFT"), None);
    }

    #[test]
    fn paths_are_found_case_insensitively_and_metadata_files_by_name() {
        let (_, vol) = live();
        let a = vol.locate("/A.TXT").unwrap();
        assert_eq!(a.path, "a.txt");
        let b = vol.locate("\\a.txt").unwrap();
        assert_eq!(a.id, b.id);
        let mft = vol.locate("$mft").unwrap();
        assert_eq!(mft.record(), 0);
        assert_eq!(mft.path, "$MFT");
        let sds = vol.locate("$Secure:$SDS").unwrap();
        assert_eq!(sds.record(), 9);
        assert_eq!(sds.stream.as_deref(), Some(&b"$SDS"[..]));
        let e = vol.locate("/docs/nothing-here").unwrap_err();
        assert_eq!(e.reason, "not_found");
        assert!(e.detail.contains("\"nothing-here\""), "{e}");
        assert_eq!(vol.locate_record(0, None).unwrap().id, mft.id);
    }

    #[test]
    fn a_stable_file_is_read_once_with_the_bytes_its_runs_hold() {
        let (_, vol) = live();
        for path in ["a.txt", "sparse.bin", "$MFT", "$Secure:$SDS", "$Boot"] {
            let loc = vol.locate(path).unwrap();
            let mut sink = Collect::default();
            let out = vol
                .read_consistent(&loc, MAX_ATTEMPTS, &mut sink, &mut |_| {})
                .unwrap();
            assert_eq!(out.attempts, 1, "{path}");
            assert_eq!(out.changed, None, "{path}");
            assert_eq!(out.bytes, sink.bytes.len() as u64, "{path}");
            assert_eq!(out.bytes, out.state.size, "{path}");
            // The same bytes as the image reader's own layout reader gives.
            let layout = vol.fs().layout(loc.id, loc.stream.as_deref()).unwrap();
            let mut r = LayoutReader::new(Arc::clone(vol.fs().volume()), layout).unwrap();
            let mut want = Vec::new();
            r.read_to_end(&mut want).unwrap();
            assert_eq!(Sha256::digest(&sink.bytes), Sha256::digest(&want), "{path}");
        }
        let boot = vol.locate("$Boot").unwrap();
        let mut sink = Collect::default();
        vol.read_consistent(&boot, 1, &mut sink, &mut |_| {})
            .unwrap();
        assert_eq!(&sink.bytes[3..11], b"NTFS    ");
    }

    #[test]
    fn a_record_that_changes_once_is_read_again_and_the_second_read_is_good() {
        let (live, vol) = live();
        let loc = vol.locate("a.txt").unwrap();
        let mut sink = Collect::default();
        let out = vol
            .read_consistent(&loc, MAX_ATTEMPTS, &mut sink, &mut |attempt| {
                if attempt == 1 {
                    bump_lsn(&live, &vol, loc.record(), 77);
                }
            })
            .unwrap();
        assert_eq!(out.attempts, 2);
        assert_eq!(out.changed, None);
        assert_eq!(sink.begins, [1, 2], "the torn first copy was thrown away");
        assert_eq!(sink.bytes.len() as u64, out.bytes);
    }

    #[test]
    fn a_record_that_keeps_changing_is_retried_a_bounded_number_of_times_then_reported() {
        let (live, vol) = live();
        let loc = vol.locate("a.txt").unwrap();
        let lsn0 = vol.state(&loc).unwrap().lsn;
        let mut sink = Collect::default();
        let mut calls = 0;
        let out = vol
            .read_consistent(&loc, MAX_ATTEMPTS, &mut sink, &mut |_| {
                calls += 1;
                bump_lsn(&live, &vol, loc.record(), 5);
            })
            .unwrap();
        assert_eq!(calls, 3);
        assert_eq!(out.attempts, 3);
        assert_eq!(sink.begins, [1, 2, 3]);
        let what = out.changed.expect("reported as changed");
        assert_eq!(
            what,
            format!("$LogFile LSN {} → {}", lsn0 + 10, lsn0 + 15),
            "the last attempt's change is named"
        );
    }

    #[test]
    fn a_size_or_run_change_is_named() {
        let (_, vol) = live();
        let loc = vol.locate("a.txt").unwrap();
        let before = vol.state(&loc).unwrap();
        let mut after = before.clone();
        after.size += 4096;
        after.sequence += 1;
        after.extents.push(crate::source::image::fs::Extent {
            file_offset: 0,
            len: 4096,
            volume_offset: Some(8192),
        });
        let what = describe_change(&before, &after).unwrap();
        assert!(what.contains("sequence"), "{what}");
        assert!(what.contains(&format!("size {} → {}", before.size, before.size + 4096)));
        assert!(what.contains("data runs changed"), "{what}");
        assert_eq!(describe_change(&before, &before), None);
    }

    #[test]
    fn a_record_deleted_and_reused_during_the_read_is_a_change_not_an_error() {
        let (live, vol) = live();
        let loc = vol.locate("a.txt").unwrap();
        let r = vol.open_reader(&loc).unwrap();
        // Bump the record's sequence number (header offset 16): the file was deleted and
        // the record reused while it was read.
        let at = vol.fs().record_offset(loc.record()).unwrap() as usize + 16;
        {
            let mut v = live.0.write().unwrap();
            v[at] = v[at].wrapping_add(1);
        }
        let what = r.changed().unwrap().unwrap();
        assert!(what.contains("deleted and reused"), "{what}");
    }
}
