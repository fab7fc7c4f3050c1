//! The image source: the file systems found in a disk image or device, walked and read
//! by fieldkit's own readers behind the `Source` seam, so the acquire engine treats an
//! image's files exactly as a mounted folder's (one plan, one set of limits, one read
//! path, one kind of record).
//!
//! Owns the walk of each selected volume's file system (rules rooted at the file
//! system's root; each directory's names in byte order; a directory met twice is a
//! `directory_loop` error, not a second walk), the candidates it yields — every file,
//! every NTFS alternate data stream as its own candidate `path:stream` (taken when a
//! rule names it or its file), the NTFS metadata files (`$MFT`, `$LogFile`, `$Boot`,
//! `$Secure:$SDS`, `$Extend/$UsnJrnl:$J`, …) only where a rule names them literally,
//! deleted entries (status `deleted`; content only with `--deleted`) — and the image
//! facts of each record (volume, identity, every time, the byte ranges of the image
//! that hold the data). Member names are `files/vol<N>/<path>`, so volumes never mix.
//!
//! Must never: write, read bytes other than through `LayoutReader` (which refuses
//! layouts that are not whole or that leave the volume), return undecodable data
//! (compressed or encrypted) as content, or lose an entry silently: an entry whose
//! metadata cannot be parsed is an `error` record naming the offset.

use std::collections::HashSet;
use std::ffi::{OsStr, OsString};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::fs::read::LayoutReader;
use super::fs::{DeletedEntry, FileSystem, FsError, FsInfo, Layout, Node, NodeId, NodeKind};
use crate::bundle::image_record::{
    ImageData, ImageFacts, ImageReparse, ImageRun, ImageTime, ImageTimes,
};
use crate::bundle::record::{FileRecord, PathField, Status};
use crate::plan::Plan;
use crate::source::entry::{EntryKind, EntryMeta, Stamp};
use crate::source::mounts::FsClass;
use crate::source::{Candidate, EntryReader, OpenRefused, OpenedEntry, Source, WalkEvent};

/// Deepest directory nesting walked: a corrupt tree cannot make the walk run forever or
/// grow its stack without bound.
const MAX_DEPTH: usize = 4096;

/// Where a candidate lies in an image: which volume, which entry, which stream.
#[derive(Debug, Clone)]
pub struct ImageEntry {
    /// Index into the source's volumes.
    pub volume: usize,
    pub node: NodeId,
    /// A named data stream (NTFS ADS), or the default stream.
    pub stream: Option<Vec<u8>>,
    /// The member name's components below `files/`, joined with `/`.
    pub member: PathBuf,
    /// The path from the file system's root, `/`-separated.
    pub source_path: String,
    /// A deleted entry (read only with `--deleted`).
    pub deleted: bool,
    /// What the record says about it before it is read.
    pub facts: ImageFacts,
}

/// One file system to collect, with the plan resolved against it.
pub struct ImageVolume {
    /// The volume's number as `image info` shows it.
    pub index: u32,
    /// Its first byte in the image.
    pub offset: u64,
    pub fs: Arc<dyn FileSystem>,
    pub info: FsInfo,
    pub plan: Plan,
}

impl ImageVolume {
    /// The member-name folder of this volume's files.
    pub fn member_prefix(&self) -> String {
        format!("vol{}", self.index)
    }
}

pub struct ImageSource {
    /// The image as the actions log names it.
    pub name: String,
    pub volumes: Vec<ImageVolume>,
    /// `--deleted`: read the content of deleted entries too.
    pub read_deleted: bool,
    /// What each volume's deleted-entry scan found, filled during the walk: the
    /// collector turns each into an `image.deleted_scan` action and a note on the
    /// volume in the manifest (records the scan could not parse: count and offsets).
    pub scan_notes: std::sync::Mutex<Vec<ScanNote>>,
}

/// One volume's deleted-entry scan, as the actions log and the manifest state it.
#[derive(Debug, Clone, PartialEq)]
pub struct ScanNote {
    /// The volume's number (`ImageVolume::index`).
    pub volume: u32,
    /// Records that could not be parsed or lie past the volume's end (0: the scan read
    /// every record).
    pub unreadable: u64,
    /// The sentence: counts, then each unreadable record with its image offset.
    pub detail: String,
}

/// Unreadable records named one by one in a scan note (the rest are counted).
const SCAN_NOTE_LISTED: usize = 50;

/// The sentence of a volume's deleted-entry scan.
fn scan_note(vol: &ImageVolume, scan: &super::fs::DeletedScan) -> ScanNote {
    let mut detail = format!(
        "volume {} ({}): {} metadata record(s) scanned for deleted entries: {} deleted \
         entr(y/ies) listed, {} never used, {} not in use without a name (not listed), \
         {} could not be parsed (not listed)",
        vol.index,
        vol.info.kind,
        scan.scanned,
        scan.entries.len(),
        scan.empty,
        scan.nameless,
        scan.unreadable_total
    );
    if scan.past_end > 0 {
        detail.push_str(&format!(
            ", {} more the $MFT claims lie past the end of the volume (not read: the image \
             is cut short)",
            scan.past_end
        ));
    }
    if scan.unreadable_total > 0 {
        let named: Vec<String> = scan
            .unreadable
            .iter()
            .take(SCAN_NOTE_LISTED)
            .map(|u| match u.offset {
                Some(o) => format!(
                    "record {} at image offset {} [{}]: {}",
                    u.number,
                    o.saturating_add(vol.offset),
                    u.reason,
                    u.detail
                ),
                None => format!("record {} [{}]: {}", u.number, u.reason, u.detail),
            })
            .collect();
        detail.push_str(": ");
        detail.push_str(&named.join("; "));
        let more = scan.unreadable_total - named.len() as u64;
        if more > 0 {
            detail.push_str(&format!("; and {more} more"));
        }
    }
    ScanNote {
        volume: vol.index,
        unreadable: scan.unreadable_total + scan.past_end,
        detail,
    }
}

/// Bytes of a name as an `OsStr` for matching (exact on Unix; lossy elsewhere, where an
/// `OsStr` cannot hold arbitrary bytes).
fn os_name(bytes: &[u8]) -> OsString {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        OsStr::from_bytes(bytes).to_os_string()
    }
    #[cfg(not(unix))]
    {
        OsString::from(String::from_utf8_lossy(bytes).into_owned())
    }
}

fn path_of(comps: &[OsString]) -> PathBuf {
    let mut p = PathBuf::from("/");
    p.extend(comps);
    p
}

fn kind_of(k: NodeKind) -> EntryKind {
    match k {
        NodeKind::File => EntryKind::File,
        NodeKind::Dir => EntryKind::Dir,
        NodeKind::Symlink => EntryKind::Symlink,
        NodeKind::CharDevice => EntryKind::CharDevice,
        NodeKind::BlockDevice => EntryKind::BlockDevice,
        NodeKind::Fifo => EntryKind::Fifo,
        NodeKind::Socket => EntryKind::Socket,
        NodeKind::Other => EntryKind::Other,
    }
}

fn is_ntfs(info: &FsInfo) -> bool {
    info.kind == "ntfs"
}

/// The engine's view of a node (or of one of its named streams, `size` given).
pub fn entry_meta(node: &Node, info: &FsInfo, stream_size: Option<u64>) -> EntryMeta {
    let stamp = |t: Option<super::fs::FsTime>| t.and_then(|t| Stamp::from_unix_nanos(t.unix_nanos));
    EntryMeta {
        kind: if stream_size.is_some() {
            EntryKind::File
        } else {
            kind_of(node.kind)
        },
        size: stream_size.unwrap_or(node.size),
        modified: stamp(node.times.modified),
        accessed: stamp(node.times.accessed),
        changed: stamp(node.times.changed),
        born: stamp(node.times.born),
        mode: node.mode,
        uid: node.uid,
        gid: node.gid,
        inode: Some(if is_ntfs(info) {
            node.id.0 & 0x0000_FFFF_FFFF_FFFF
        } else {
            node.id.0
        }),
        dev: None,
        nlink: node.nlink,
    }
}

pub fn image_times(t: &super::fs::Times) -> ImageTimes {
    let one = |t: Option<super::fs::FsTime>| {
        let t = t?;
        Some(ImageTime {
            utc: Stamp::from_unix_nanos(t.unix_nanos)?.utc()?,
            filetime: t.raw,
        })
    };
    ImageTimes {
        modified: one(t.modified),
        accessed: one(t.accessed),
        changed: one(t.changed),
        born: one(t.born),
    }
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The record's image facts of a node (without data runs: those come when it is opened).
pub fn node_facts(vol: &ImageVolume, node: &Node, stream: Option<&[u8]>) -> ImageFacts {
    let ntfs = is_ntfs(&vol.info);
    let fat = vol.info.kind.starts_with("fat") || vol.info.kind == "exfat";
    ImageFacts {
        volume: vol.index,
        volume_offset: vol.offset,
        fs: vol.info.kind.to_string(),
        mft_record: ntfs.then_some(node.id.0 & 0x0000_FFFF_FFFF_FFFF),
        sequence: node.sequence,
        inode: (!ntfs && !fat).then_some(node.id.0),
        dir_entry_offset: fat.then_some(node.id.0),
        stream: stream.map(lossy),
        times: image_times(&node.times),
        name_times: node.name_times.as_ref().map(image_times),
        data: None,
        flags: node.flags.iter().map(|f| f.to_string()).collect(),
        reparse: node.reparse.as_ref().map(|r| ImageReparse {
            tag: format!("{:#010x}", r.tag),
            target: r.target.as_deref().map(lossy),
        }),
        runs_unallocated: None,
        allocated: node.allocated,
    }
}

/// A layout's byte ranges as offsets of the image.
pub fn image_data(layout: &Layout, volume_offset: u64) -> Option<ImageData> {
    let runs = |extents: &[super::fs::Extent]| {
        extents
            .iter()
            .map(|e| ImageRun {
                file_offset: e.file_offset,
                len: e.len,
                image_offset: e.volume_offset.and_then(|o| o.checked_add(volume_offset)),
                hole: e.volume_offset.is_none(),
            })
            .collect()
    };
    match layout {
        Layout::Extents { size, extents } => Some(ImageData::Runs {
            size: *size,
            runs: runs(extents),
        }),
        Layout::Resident {
            bytes,
            volume_offset: at,
        } => Some(ImageData::Resident {
            len: bytes.len() as u64,
            image_offset: at.and_then(|o| o.checked_add(volume_offset)),
        }),
        Layout::Compressed { .. } | Layout::Undecodable { .. } => None,
    }
}

impl ImageSource {
    fn volume_error(vol: &ImageVolume, e: &FsError) -> String {
        match e.offset {
            Some(o) => format!(
                "{}: {} at volume offset {o} (image offset {}) [{}]",
                vol.info.kind,
                e.detail,
                o.saturating_add(vol.offset),
                e.reason
            ),
            None => format!("{}: {} [{}]", vol.info.kind, e.detail, e.reason),
        }
    }

    fn candidate(
        &self,
        vi: usize,
        comps: &[OsString],
        node: &Node,
        stream: Option<&[u8]>,
        rules: Vec<u16>,
        deleted: bool,
    ) -> Candidate {
        let vol = &self.volumes[vi];
        let stream_size = stream.map(|s| {
            node.streams
                .iter()
                .find(|i| i.name == s)
                .map(|i| i.size)
                .unwrap_or(0)
        });
        let mut member = PathBuf::from(vol.member_prefix());
        member.extend(comps);
        let source_path = comps
            .iter()
            .map(|c| c.to_string_lossy())
            .collect::<Vec<_>>()
            .join("/");
        Candidate {
            path: path_of(comps),
            rules,
            metadata: Some(entry_meta(node, &vol.info, stream_size)),
            fs_class: FsClass::Regular,
            fs_type: Some(vol.info.kind.to_string()),
            image: Some(Box::new(ImageEntry {
                volume: vi,
                node: node.id,
                stream: stream.map(<[u8]>::to_vec),
                member,
                source_path,
                deleted,
                facts: node_facts(vol, node, stream),
            })),
        }
    }

    /// Candidates for a non-directory: the entry itself when a rule wants it, and each of
    /// its named streams when a rule names it or its file. NTFS metadata files (`$…`
    /// in the root, everything in `$Extend`) only where a rule names them literally.
    fn file_candidates(
        &self,
        vi: usize,
        comps: &[OsString],
        node: &Node,
        emit: &mut dyn FnMut(WalkEvent) -> bool,
    ) -> bool {
        let vol = &self.volumes[vi];
        let metadata_file = is_ntfs(&vol.info) && is_ntfs_metadata(comps);
        let want = |comps: &[OsString], size: Option<u64>| {
            let c: Vec<&OsStr> = comps.iter().map(OsString::as_os_str).collect();
            if metadata_file {
                vol.plan.matching_rules_literally(&c, size)
            } else {
                vol.plan.matching_rules(&c, size)
            }
        };
        let rules = want(comps, Some(node.size));
        if !rules.is_empty()
            && !emit(WalkEvent::Candidate(self.candidate(
                vi,
                comps,
                node,
                None,
                rules.clone(),
                false,
            )))
        {
            return false;
        }
        for s in &node.streams {
            let Some(last) = comps.last() else { continue };
            let mut named = comps.to_vec();
            let mut leaf = last.clone();
            leaf.push(":");
            leaf.push(os_name(&s.name));
            if let Some(l) = named.last_mut() {
                *l = leaf;
            }
            let mut stream_rules = want(&named, Some(s.size));
            if stream_rules.is_empty() {
                stream_rules = rules.clone();
            }
            if stream_rules.is_empty() {
                continue;
            }
            if !emit(WalkEvent::Candidate(self.candidate(
                vi,
                &named,
                node,
                Some(&s.name),
                stream_rules,
                false,
            ))) {
                return false;
            }
        }
        true
    }

    fn walk_volume(
        &self,
        vi: usize,
        interrupt: &AtomicBool,
        emit: &mut dyn FnMut(WalkEvent) -> bool,
    ) -> bool {
        let vol = &self.volumes[vi];
        let fs = &vol.fs;
        let root = fs.root();
        let error = |comps: &[OsString], e: &FsError| WalkEvent::Error {
            path: path_of(comps),
            reason: e.reason,
            detail: format!(
                "volume {} (image offset {}): {}",
                vol.index,
                vol.offset,
                Self::volume_error(vol, e)
            ),
        };
        struct Frame {
            comps: Vec<OsString>,
            entries: Vec<super::fs::DirEntry>,
            next: usize,
        }
        let mut seen: HashSet<NodeId> = HashSet::new();
        seen.insert(root);
        let mut stack = match fs.read_dir(root) {
            Ok(mut entries) => {
                entries.sort_by(|a, b| a.name.cmp(&b.name));
                vec![Frame {
                    comps: Vec::new(),
                    entries,
                    next: 0,
                }]
            }
            Err(e) => {
                // The root cannot be listed (a truncated image, a torn root record): the
                // deleted-entry scan reads the records themselves, so it still runs.
                if !emit(error(&[], &e)) {
                    return false;
                }
                return self.walk_deleted(vi, interrupt, emit);
            }
        };
        while let Some(frame) = stack.last_mut() {
            if interrupt.load(Ordering::Relaxed) {
                return false;
            }
            let Some(entry) = frame.entries.get(frame.next) else {
                stack.pop();
                continue;
            };
            frame.next += 1;
            let mut comps = frame.comps.clone();
            comps.push(os_name(&entry.name));
            let node = match fs.node(entry.id) {
                Ok(n) => n,
                Err(e) => {
                    // Reported where the profile would have wanted the entry (by what the
                    // directory entry says it is): a broken record is never silent.
                    let c: Vec<&OsStr> = comps.iter().map(OsString::as_os_str).collect();
                    let wanted = if entry.kind == NodeKind::Dir {
                        vol.plan.may_descend(&c)
                    } else {
                        !vol.plan.matching_rules(&c, None).is_empty()
                    };
                    if wanted && !emit(error(&comps, &e)) {
                        return false;
                    }
                    continue;
                }
            };
            if node.kind != NodeKind::Dir {
                if !self.file_candidates(vi, &comps, &node, emit) {
                    return false;
                }
                continue;
            }
            let c: Vec<&OsStr> = comps.iter().map(OsString::as_os_str).collect();
            let metadata_dir = is_ntfs(&vol.info) && is_ntfs_metadata(&comps);
            if !vol.plan.may_descend(&c) || (metadata_dir && !vol.plan.reaches_literally_below(&c))
            {
                continue;
            }
            if !seen.insert(node.id) {
                let e = FsError::new(
                    "directory_loop",
                    None,
                    format!(
                        "directory entry {} leads back to a directory already walked: not \
                         walked again",
                        node.id.0
                    ),
                );
                if !emit(error(&comps, &e)) {
                    return false;
                }
                continue;
            }
            if stack.len() >= MAX_DEPTH {
                let e = FsError::new(
                    "too_deep",
                    None,
                    format!("directories nested deeper than {MAX_DEPTH}: not walked further"),
                );
                if !emit(error(&comps, &e)) {
                    return false;
                }
                continue;
            }
            match fs.read_dir(node.id) {
                Ok(mut entries) => {
                    entries.sort_by(|a, b| a.name.cmp(&b.name));
                    stack.push(Frame {
                        comps,
                        entries,
                        next: 0,
                    });
                }
                Err(e) => {
                    if !emit(error(&comps, &e)) {
                        return false;
                    }
                }
            }
        }
        self.walk_deleted(vi, interrupt, emit)
    }

    /// Deleted entries the profile wants: a record each (status `deleted`), read only
    /// with `--deleted`. An entry whose path is lost is under `/$OrphanFiles/`, as
    /// sleuthkit shows it.
    fn walk_deleted(
        &self,
        vi: usize,
        interrupt: &AtomicBool,
        emit: &mut dyn FnMut(WalkEvent) -> bool,
    ) -> bool {
        let vol = &self.volumes[vi];
        let scan = match vol.fs.deleted() {
            Ok(d) => d,
            Err(e) => {
                return emit(WalkEvent::Error {
                    path: PathBuf::from("/"),
                    reason: e.reason,
                    detail: format!(
                        "volume {}: listing deleted entries failed: {}",
                        vol.index,
                        Self::volume_error(vol, &e)
                    ),
                });
            }
        };
        if is_ntfs(&vol.info) {
            let note = scan_note(vol, &scan);
            if let Ok(mut notes) = self.scan_notes.lock() {
                notes.push(note);
            }
        }
        let mut deleted = scan.entries;
        deleted.sort_by(|a, b| (&a.path, a.node.id).cmp(&(&b.path, b.node.id)));
        for d in deleted {
            if interrupt.load(Ordering::Relaxed) {
                return false;
            }
            let comps = deleted_components(&d);
            let c: Vec<&OsStr> = comps.iter().map(OsString::as_os_str).collect();
            let rules = vol.plan.matching_rules(&c, Some(d.node.size));
            if rules.is_empty() {
                continue;
            }
            let mut cand = self.candidate(vi, &comps, &d.node, None, rules, true);
            if let Some(e) = cand.image.as_mut() {
                e.facts.runs_unallocated = d.runs_unallocated;
                e.facts.allocated = false;
            }
            let ev = if self.read_deleted && d.node.kind == NodeKind::File {
                WalkEvent::Candidate(cand)
            } else {
                WalkEvent::Record(Box::new(deleted_record(&cand, &vol.plan)))
            };
            if !emit(ev) {
                return false;
            }
        }
        true
    }
}

fn deleted_components(d: &DeletedEntry) -> Vec<OsString> {
    match &d.path {
        Some(p) if !p.is_empty() => p
            .split(|&b| b == b'/')
            .filter(|c| !c.is_empty() && *c != b"." && *c != b"..")
            .map(os_name)
            .collect(),
        _ => vec![OsString::from("$OrphanFiles"), os_name(&d.name)],
    }
}

/// The record of a deleted entry that is not read.
fn deleted_record(c: &Candidate, plan: &Plan) -> FileRecord {
    let meta = c.metadata.as_ref();
    FileRecord {
        path: PathField::from_path(&c.path),
        status: Some(Status::Deleted),
        reason: Some("deleted".into()),
        detail: Some(
            "deleted entry (metadata record not in use): name, times, size and runs recorded; \
             content not read (collect --deleted reads it)"
                .into(),
        ),
        file_type: meta.map(|m| m.kind.name().into()),
        size: meta.map(|m| m.size),
        facts: meta.map(EntryMeta::facts).unwrap_or_default(),
        fs_type: c.fs_type.clone(),
        rules: plan.rule_names(&c.rules),
        image: c.image.as_ref().map(|e| Box::new(e.facts.clone())),
        ..FileRecord::default()
    }
}

/// NTFS's own metadata files: the fixed names of records 0–11 in the root (`$MFT`,
/// `$LogFile`, `$Boot`, `$Secure`, `$Extend`, …; `$Quota` on NT 4) and everything below
/// `$Extend`. Other `$` names in the root are ordinary entries (`$Recycle.Bin`,
/// `$WINDOWS.~BT`, `$SysReset`) and are walked like any folder.
const NTFS_METADATA_NAMES: &[&str] = &[
    "$MFT", "$MFTMirr", "$LogFile", "$Volume", "$AttrDef", "$Bitmap", "$Boot", "$BadClus",
    "$Secure", "$UpCase", "$Extend", "$Quota",
];

fn is_ntfs_metadata(comps: &[OsString]) -> bool {
    comps.first().is_some_and(|c| {
        let c = c.to_string_lossy();
        // The file itself or one of its streams (`$Secure:$SDS`).
        let base = c.split(':').next().unwrap_or(&c);
        NTFS_METADATA_NAMES
            .iter()
            .any(|m| m.eq_ignore_ascii_case(base))
    })
}

impl Source for ImageSource {
    fn describe(&self) -> String {
        self.name.clone()
    }

    fn walk(&self, interrupt: &AtomicBool, emit: &mut dyn FnMut(WalkEvent) -> bool) {
        for vi in 0..self.volumes.len() {
            if !self.walk_volume(vi, interrupt, emit) {
                return;
            }
        }
    }

    fn stat(&self, c: &Candidate) -> io::Result<EntryMeta> {
        let e = entry_of(c)?;
        let vol = self.volume(e)?;
        let node = vol
            .fs
            .node(e.node)
            .map_err(|e| io::Error::other(e.to_string()))?;
        let size = e.stream.as_ref().map(|s| {
            node.streams
                .iter()
                .find(|i| &i.name == s)
                .map(|i| i.size)
                .unwrap_or(0)
        });
        Ok(entry_meta(&node, &vol.info, size))
    }

    fn resolve(
        &self,
        _c: &Candidate,
        meta: EntryMeta,
        _rec: &mut FileRecord,
    ) -> Result<(EntryMeta, Option<PathBuf>), Box<FileRecord>> {
        // Links inside an image are recorded, never followed: their targets name paths
        // of the system the disk came from.
        Ok((meta, None))
    }

    fn link_target(&self, c: &Candidate) -> Option<PathField> {
        let e = c.image.as_ref()?;
        let vol = self.volumes.get(e.volume)?;
        let node = vol.fs.node(e.node).ok()?;
        node.link_target
            .or_else(|| node.reparse.and_then(|r| r.target))
            .map(|t| PathField::from_bytes(&t))
    }

    fn open(&self, c: &Candidate, _instead: Option<&Path>) -> Result<OpenedEntry, OpenRefused> {
        let refuse = |reason: &'static str, detail: String| OpenRefused {
            status: Status::Error,
            reason,
            detail,
        };
        let e = entry_of(c).map_err(|e| refuse("io_error", e.to_string()))?;
        let vol = self
            .volume(e)
            .map_err(|e| refuse("io_error", e.to_string()))?;
        let node = vol
            .fs
            .node(e.node)
            .map_err(|err| refuse(err.reason, Self::volume_error(vol, &err)))?;
        let size = match &e.stream {
            Some(s) => node
                .streams
                .iter()
                .find(|i| &i.name == s)
                .map(|i| i.size)
                .unwrap_or(0),
            None => node.size,
        };
        let layout = vol
            .fs
            .layout(e.node, e.stream.as_deref())
            .map_err(|err| refuse(err.reason, Self::volume_error(vol, &err)))?;
        let data = image_data(&layout, vol.offset);
        let how = match &layout {
            Layout::Extents { extents, .. } => format!(
                "{} reader: {} run(s) of volume {} read from the image",
                vol.info.kind,
                extents.len(),
                vol.index
            ),
            Layout::Resident { .. } => format!(
                "{} reader: resident data of the metadata record, volume {}",
                vol.info.kind, vol.index
            ),
            _ => String::new(),
        };
        let reader = LayoutReader::new(Arc::clone(vol.fs.volume()), layout).map_err(|err| {
            let reason = if err.reason == "undecodable" {
                "undecodable"
            } else {
                err.reason
            };
            refuse(
                reason,
                format!(
                    "{}; not stored (fieldkit never stores bytes it cannot decode)",
                    Self::volume_error(vol, &err)
                ),
            )
        })?;
        if reader.size() != size {
            return Err(refuse(
                "bad_layout",
                format!(
                    "{}: the data runs hold {} bytes but the entry says {size}",
                    vol.info.kind,
                    reader.size()
                ),
            ));
        }
        let mut before = entry_meta(&node, &vol.info, e.stream.as_ref().map(|_| size));
        if e.stream.is_some() {
            before.kind = EntryKind::File;
        }
        Ok(OpenedEntry {
            reader: EntryReader::Image(reader),
            raw: None,
            how_read: None,
            before,
            read_method: how,
            image_data: data,
        })
    }

    fn member_components<'a>(&self, c: &'a Candidate) -> Vec<&'a OsStr> {
        match &c.image {
            Some(e) => e
                .member
                .components()
                .filter_map(|c| match c {
                    std::path::Component::Normal(n) => Some(n),
                    _ => None,
                })
                .collect(),
            None => Vec::new(),
        }
    }

    fn source_path(&self, c: &Candidate) -> String {
        c.image
            .as_ref()
            .map(|e| e.source_path.clone())
            .unwrap_or_default()
    }

    fn describe_not_walked(&self, _path: &Path, _rec: &mut FileRecord) {}
}

fn entry_of(c: &Candidate) -> io::Result<&ImageEntry> {
    c.image
        .as_deref()
        .ok_or_else(|| io::Error::other("not an entry of an image"))
}

impl ImageSource {
    fn volume(&self, e: &ImageEntry) -> io::Result<&ImageVolume> {
        self.volumes
            .get(e.volume)
            .ok_or_else(|| io::Error::other("no such volume"))
    }
}

/// Home resolution (`${home}` in profiles) over an image's file system.
pub struct ImageTree<'a> {
    pub fs: &'a dyn FileSystem,
}

impl ImageTree<'_> {
    fn lookup(&self, comps: &[OsString]) -> Option<Node> {
        let mut id = self.fs.root();
        for c in comps {
            let want = c.to_string_lossy();
            let entries = self.fs.read_dir(id).ok()?;
            id = entries
                .iter()
                .find(|e| String::from_utf8_lossy(&e.name) == want)?
                .id;
        }
        self.fs.node(id).ok()
    }
}

impl crate::source::homes::Tree for ImageTree<'_> {
    fn names(&self, comps: &[OsString]) -> Option<Vec<OsString>> {
        let node = self.lookup(comps)?;
        if node.kind != NodeKind::Dir {
            return None;
        }
        let mut names: Vec<OsString> = self
            .fs
            .read_dir(node.id)
            .ok()?
            .iter()
            .map(|e| os_name(&e.name))
            .collect();
        names.sort();
        Some(names)
    }

    fn is_real_dir(&self, comps: &[OsString]) -> bool {
        self.lookup(comps).is_some_and(|n| n.kind == NodeKind::Dir)
    }

    fn passwd(&self) -> Result<Option<Vec<u8>>, String> {
        use std::io::Read;
        let comps = [OsString::from("etc"), OsString::from("passwd")];
        let Some(node) = self.lookup(&comps) else {
            return Ok(None);
        };
        if node.kind != NodeKind::File {
            return Err(format!(
                "/etc/passwd in the image is a {}: not read",
                kind_of(node.kind).name()
            ));
        }
        let layout = self
            .fs
            .layout(node.id, None)
            .map_err(|e| format!("/etc/passwd in the image: {e}"))?;
        let reader = LayoutReader::new(Arc::clone(self.fs.volume()), layout)
            .map_err(|e| format!("/etc/passwd in the image: {e}"))?;
        let mut text = Vec::new();
        reader
            .take(crate::source::homes::PASSWD_LIMIT)
            .read_to_end(&mut text)
            .map_err(|e| format!("/etc/passwd in the image: {e}"))?;
        Ok(Some(text))
    }
}

/// `--partition`: every volume with a readable file system, or one by its number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartitionChoice {
    All,
    Number(u32),
}

impl std::str::FromStr for PartitionChoice {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s.eq_ignore_ascii_case("all") {
            return Ok(PartitionChoice::All);
        }
        s.parse::<u32>().map(PartitionChoice::Number).map_err(|_| {
            format!("{s:?} is not a volume number or `all` (see `fieldkit image info`)")
        })
    }
}

/// A volume whose file system was opened.
pub struct ReadableVolume {
    pub number: u32,
    pub offset: u64,
    pub fs: Arc<dyn FileSystem>,
    pub info: FsInfo,
}

/// An image opened for collection: every volume described for the manifest, and those
/// to collect with their file systems open.
pub struct PreparedImage {
    pub image: super::open::Image,
    pub readable: Vec<ReadableVolume>,
    pub manifest: crate::bundle::image_record::ImageManifest,
}

/// The reader for a probed file-system kind (the readers that are built in; the others
/// say why not through `open::open_file_system`).
pub fn open_fs(
    kind: super::fs::probe::FsKind,
    volume: Arc<dyn super::ReadAt>,
) -> Result<Arc<dyn FileSystem>, FsError> {
    use super::fs::probe::FsKind;
    Ok(match kind {
        FsKind::Fat12 | FsKind::Fat16 | FsKind::Fat32 => {
            Arc::new(super::fs::fat::Fat::open(volume)?)
        }
        FsKind::ExFat => Arc::new(super::fs::exfat::ExFat::open(volume)?),
        FsKind::Ntfs => Arc::new(super::fs::ntfs::Ntfs::open(volume)?),
        FsKind::Ext2 | FsKind::Ext3 | FsKind::Ext4 => {
            Arc::new(super::fs::ext4::Ext4::open(volume)?)
        }
        other => Arc::from(super::open::open_file_system(other, volume)?),
    })
}

/// Open `path` (an image file, the first of a segmented set, or a block device), read its
/// volume system and open the file system of each selected volume. A volume that is not
/// selected or cannot be read keeps its place in the manifest with the reason; an error
/// only when nothing can be collected.
pub fn prepare(path: &Path, choice: PartitionChoice) -> Result<PreparedImage, String> {
    use crate::bundle::image_record::{ImageManifest, ImageVolumeInfo, StoredHash};
    let image = super::open::open_image(path).map_err(|e| e.to_string())?;
    if let PartitionChoice::Number(n) = choice
        && image.volume(n).is_none()
    {
        let have: Vec<String> = image
            .volumes
            .iter()
            .map(|v| v.info.number.to_string())
            .collect();
        return Err(format!(
            "{}: --partition {n}: no such volume (the image has volume(s) {}; see `fieldkit image info`)",
            path.display(),
            if have.is_empty() {
                "none".into()
            } else {
                have.join(", ")
            }
        ));
    }
    let mut readable = Vec::new();
    let mut volumes = Vec::new();
    for v in &image.volumes {
        let mut entry = ImageVolumeInfo {
            index: v.info.number,
            offset: v.info.offset,
            size: v.info.size,
            partition_type: v.info.partition_type.clone(),
            label: v.info.name.clone(),
            fs: None,
            status: String::new(),
            reason: None,
            member_prefix: None,
            declared_size: (v.info.declared_size != v.info.size).then_some(v.info.declared_size),
            notes: v.info.notes.clone(),
        };
        let selected = match choice {
            PartitionChoice::All => true,
            PartitionChoice::Number(n) => n == v.info.number,
        };
        match (selected, v.file_system) {
            (false, _) => {
                entry.status = "not_selected".into();
                entry.reason = Some("not the volume given with --partition".into());
            }
            (true, None) => {
                entry.status = "no_file_system".into();
                entry.reason =
                    Some("no file system fieldkit recognises in its first sectors".into());
            }
            (true, Some(kind)) => match open_fs(kind, v.reader()) {
                Ok(fs) => {
                    let info = fs.info();
                    entry.fs = serde_json::to_value(&info).ok();
                    entry.status = "collected".into();
                    entry.member_prefix = Some(format!("files/vol{}/", v.info.number));
                    readable.push(ReadableVolume {
                        number: v.info.number,
                        offset: v.info.offset,
                        fs,
                        info,
                    });
                }
                Err(e) => {
                    entry.status = "unreadable".into();
                    entry.reason = Some(match e.offset {
                        Some(o) => format!(
                            "{}: {} at volume offset {o} (image offset {})",
                            kind.name(),
                            e.detail,
                            o.saturating_add(v.info.offset)
                        ),
                        None => format!("{}: {}", kind.name(), e.detail),
                    });
                }
            },
        }
        volumes.push(entry);
    }
    if readable.is_empty() {
        let why: Vec<String> = volumes
            .iter()
            .map(|v| {
                format!(
                    "volume {} at offset {}: {}",
                    v.index,
                    v.offset,
                    v.reason.as_deref().unwrap_or(&v.status)
                )
            })
            .collect();
        return Err(format!(
            "{}: no volume with a file system fieldkit can read{}",
            path.display(),
            if why.is_empty() {
                " (no volume found)".to_string()
            } else {
                format!(": {}", why.join("; "))
            }
        ));
    }
    let c = &image.container;
    let mut stored = Vec::new();
    for (algorithm, v) in [
        ("md5", &c.stored_hashes.md5),
        ("sha1", &c.stored_hashes.sha1),
    ] {
        if let Some(v) = v {
            stored.push(StoredHash {
                algorithm: algorithm.into(),
                value: v.clone(),
            });
        }
    }
    let mut notes = c.notes.clone();
    notes.extend(image.volume_system.notes.iter().cloned());
    let manifest = ImageManifest {
        path: path.display().to_string(),
        container: c.format.to_string(),
        format_detail: Some(c.format_detail.clone()),
        size: c.media_size,
        segments: c
            .segments
            .iter()
            .map(|s| format!("{} ({} bytes)", s.path.display(), s.size))
            .collect(),
        stored_hashes: stored,
        media_hashes: None,
        volume_system: Some(image.volume_system.scheme.to_string()),
        volumes,
        profile_choice: None,
        notes,
    };
    Ok(PreparedImage {
        image,
        readable,
        manifest,
    })
}

/// The profile for an image when none was given: NTFS with a `Windows` folder in its
/// root → `windows-triage`; ext2/3/4 with `/etc` → `linux-triage`; otherwise `all-files`.
/// Returns the name and the sentence that says why.
pub fn choose_profile(volumes: &[ReadableVolume]) -> (&'static str, String) {
    let has_dir = |v: &ReadableVolume, name: &str| {
        v.fs.read_dir(v.fs.root()).is_ok_and(|entries| {
            entries.iter().any(|e| {
                e.kind == NodeKind::Dir
                    && String::from_utf8_lossy(&e.name).eq_ignore_ascii_case(name)
            })
        })
    };
    for v in volumes {
        if v.info.kind == "ntfs" && has_dir(v, "Windows") {
            return (
                "windows-triage",
                format!(
                    "volume {} is NTFS with a Windows folder: windows-triage",
                    v.number
                ),
            );
        }
    }
    for v in volumes {
        if v.info.kind.starts_with("ext") && has_dir(v, "etc") {
            return (
                "linux-triage",
                format!(
                    "volume {} is {} with /etc: linux-triage",
                    v.number, v.info.kind
                ),
            );
        }
    }
    (
        "all-files",
        "no NTFS volume with Windows/ and no ext volume with /etc: all-files".into(),
    )
}

#[cfg(test)]
mod tests {
    //! The NTFS-specific parts of the walk (streams, metadata files, deleted entries,
    //! undecodable data) on an in-memory file system, so they are proven before and
    //! independently of a real NTFS reader; tests/collect_image.rs drives real images.
    use super::*;
    use crate::profile::{Origin, Profile};
    use crate::source::image::fs::{DirEntry, StreamInfo, Times};
    use std::collections::HashMap;

    struct MemFs {
        volume: Arc<dyn super::super::ReadAt>,
        nodes: HashMap<u64, (Node, Vec<DirEntry>)>,
        layouts: HashMap<(u64, Option<Vec<u8>>), Layout>,
        deleted: Vec<DeletedEntry>,
    }

    fn node(id: u64, kind: NodeKind, size: u64) -> Node {
        Node {
            id: NodeId(id),
            kind,
            size,
            times: Times {
                modified: Some(super::super::fs::FsTime::from_filetime(
                    133_000_000_000_000_001,
                )),
                ..Times::default()
            },
            name_times: Some(Times::default()),
            mode: None,
            uid: None,
            gid: None,
            nlink: Some(1),
            sequence: Some(3),
            link_target: None,
            streams: Vec::new(),
            reparse: None,
            flags: Vec::new(),
            allocated: true,
        }
    }

    fn ent(name: &str, id: u64, kind: NodeKind) -> DirEntry {
        DirEntry {
            name: name.as_bytes().to_vec(),
            id: NodeId(id),
            kind,
        }
    }

    impl FileSystem for MemFs {
        fn info(&self) -> FsInfo {
            FsInfo {
                kind: "ntfs",
                label: None,
                serial: None,
                block_size: 4096,
                size: self.volume.size(),
                notes: Vec::new(),
            }
        }
        fn root(&self) -> NodeId {
            NodeId(5)
        }
        fn read_dir(&self, dir: NodeId) -> Result<Vec<DirEntry>, FsError> {
            self.nodes
                .get(&dir.0)
                .map(|(_, e)| e.clone())
                .ok_or_else(|| FsError::new("bad_record", Some(dir.0 * 1024), "no such record"))
        }
        fn node(&self, id: NodeId) -> Result<Node, FsError> {
            self.nodes
                .get(&id.0)
                .map(|(n, _)| n.clone())
                .ok_or_else(|| FsError::new("bad_fixup", Some(id.0 * 1024), "fixup mismatch"))
        }
        fn layout(&self, id: NodeId, stream: Option<&[u8]>) -> Result<Layout, FsError> {
            self.layouts
                .get(&(id.0, stream.map(<[u8]>::to_vec)))
                .cloned()
                .ok_or_else(|| FsError::new("no_data", None, "no such stream"))
        }
        fn deleted(&self) -> Result<super::super::fs::DeletedScan, FsError> {
            Ok(super::super::fs::DeletedScan {
                entries: self.deleted.clone(),
                scanned: 100,
                empty: 10,
                nameless: 8,
                unreadable: vec![super::super::fs::UnreadableRecord {
                    number: 40,
                    offset: Some(40 * 1024),
                    reason: "bad_fixup",
                    detail: "MFT record 40: update sequence mismatch".into(),
                }],
                unreadable_total: 1,
                past_end: 0,
            })
        }
        fn volume(&self) -> &Arc<dyn super::super::ReadAt> {
            &self.volume
        }
    }

    /// Root: `$MFT`, `$Extend/$UsnJrnl` (stream `$J`), `doc.txt` (+ `Zone.Identifier`),
    /// `enc.bin` (EFS), `loop/` (whose child is the root again), `bad` (record that
    /// does not parse); one deleted file.
    fn memfs() -> MemFs {
        use NodeKind::*;
        let volume: Arc<dyn super::super::ReadAt> =
            Arc::new((0..=255u8).cycle().take(65536).collect::<Vec<u8>>());
        let mut nodes = HashMap::new();
        nodes.insert(
            5,
            (
                node(5, Dir, 0),
                vec![
                    ent("$MFT", 0, File),
                    ent("$Extend", 11, Dir),
                    ent("doc.txt", 40, File),
                    ent("enc.bin", 41, File),
                    ent("loop", 42, Dir),
                    ent("bad", 99, File),
                ],
            ),
        );
        nodes.insert(0, (node(0, File, 1024), Vec::new()));
        nodes.insert(11, (node(11, Dir, 0), vec![ent("$UsnJrnl", 12, File)]));
        let mut usn = node(12, File, 0);
        usn.streams = vec![StreamInfo {
            name: b"$J".to_vec(),
            size: 10,
        }];
        nodes.insert(12, (usn, Vec::new()));
        let mut doc = node(40, File, 6);
        doc.streams = vec![StreamInfo {
            name: b"Zone.Identifier".to_vec(),
            size: 4,
        }];
        nodes.insert(40, (doc, Vec::new()));
        nodes.insert(41, (node(41, File, 100), Vec::new()));
        nodes.insert(42, (node(42, Dir, 0), vec![ent("again", 5, Dir)]));
        let mut layouts = HashMap::new();
        let ext = |file_offset, len, at| super::super::fs::Extent {
            file_offset,
            len,
            volume_offset: at,
        };
        layouts.insert(
            (40, None),
            Layout::Extents {
                size: 6,
                extents: vec![ext(0, 4, Some(4096)), ext(4, 2, None)],
            },
        );
        layouts.insert(
            (40, Some(b"Zone.Identifier".to_vec())),
            Layout::Resident {
                bytes: b"[Zo]".to_vec(),
                volume_offset: Some(1024 * 40 + 0x100),
            },
        );
        layouts.insert(
            (41, None),
            Layout::Undecodable {
                reason: "EFS-encrypted ($EFS attribute): fieldkit cannot decrypt it".into(),
            },
        );
        layouts.insert(
            (0, None),
            Layout::Extents {
                size: 1024,
                extents: vec![ext(0, 1024, Some(0))],
            },
        );
        let mut gone = node(77, File, 5);
        gone.allocated = false;
        MemFs {
            volume,
            nodes,
            layouts,
            deleted: vec![DeletedEntry {
                node: gone,
                path: Some(b"/old/secret.txt".to_vec()),
                name: b"secret.txt".to_vec(),
                runs_unallocated: Some(true),
            }],
        }
    }

    fn source(profile: &str) -> ImageSource {
        let p = Profile::from_toml(profile, "test", Origin::Builtin).unwrap();
        let fs: Arc<dyn FileSystem> = Arc::new(memfs());
        let tree = ImageTree { fs: &*fs };
        let (plan, _) = Plan::new_in(&p, &tree, None);
        ImageSource {
            name: "mem".into(),
            volumes: vec![ImageVolume {
                index: 2,
                offset: 1 << 20,
                info: fs.info(),
                fs,
                plan,
            }],
            read_deleted: false,
            scan_notes: Default::default(),
        }
    }

    const ALL: &str = "name = \"t\"\ndescription = \"t\"\nformat_version = 1\nos = \"any\"\n\
        [[rule]]\nname = \"all\"\ncategory = \"all\"\ndescription = \"d\"\npaths = [\"/**\"]\n";
    const META: &str = "name = \"t\"\ndescription = \"t\"\nformat_version = 1\nos = \"any\"\n\
        [[rule]]\nname = \"meta\"\ncategory = \"fs\"\ndescription = \"d\"\n\
        paths = [\"/$MFT\", \"/$Extend/$UsnJrnl:$J\"]\n";

    fn events(src: &ImageSource) -> Vec<WalkEvent> {
        let mut out = Vec::new();
        src.walk(&AtomicBool::new(false), &mut |e| {
            out.push(e);
            true
        });
        out
    }

    fn path_of_event(e: &WalkEvent) -> String {
        match e {
            WalkEvent::Candidate(c) => c.path.display().to_string(),
            WalkEvent::NotWalked { path, .. } | WalkEvent::Error { path, .. } => {
                path.display().to_string()
            }
            WalkEvent::Record(r) => r.path.display(),
        }
    }

    #[test]
    fn streams_are_candidates_of_their_own_and_metadata_files_only_when_named() {
        let src = source(ALL);
        let ev = events(&src);
        let paths: Vec<String> = ev.iter().map(path_of_event).collect();
        assert_eq!(
            paths,
            [
                "/bad",
                "/doc.txt",
                "/doc.txt:Zone.Identifier",
                "/enc.bin",
                "/loop/again",
                "/old/secret.txt"
            ],
            "no $MFT or $Extend under /**; the loop is one error"
        );
        let WalkEvent::Error { reason, detail, .. } = &ev[0] else {
            panic!("{:?}", ev[0])
        };
        assert_eq!(*reason, "bad_fixup");
        assert!(
            detail.contains("volume offset 101376 (image offset 1149952)"),
            "{detail}"
        );
        let WalkEvent::Error { reason, .. } = &ev[4] else {
            panic!("{:?}", ev[4])
        };
        assert_eq!(*reason, "directory_loop");
        let WalkEvent::Candidate(ads) = &ev[2] else {
            panic!()
        };
        let e = ads.image.as_ref().unwrap();
        assert_eq!(e.stream.as_deref(), Some(&b"Zone.Identifier"[..]));
        assert_eq!(ads.metadata.as_ref().unwrap().size, 4);
        assert_eq!(
            e.member,
            PathBuf::from("vol2/doc.txt:Zone.Identifier"),
            "members are per volume"
        );
        assert_eq!(e.facts.mft_record, Some(40));
        assert_eq!(e.facts.sequence, Some(3));
        assert_eq!(
            e.facts.times.modified.as_ref().unwrap().filetime,
            Some(133_000_000_000_000_001),
            "the raw FILETIME is kept"
        );
        assert!(e.facts.name_times.is_some());
        let WalkEvent::Record(del) = &ev[5] else {
            panic!()
        };
        assert_eq!(del.status, Some(Status::Deleted));
        let img = del.image.as_ref().unwrap();
        assert_eq!((img.runs_unallocated, img.allocated), (Some(true), false));
        assert!(del.member.is_none() && del.sha256.is_none());
        let notes = src.scan_notes.lock().unwrap().clone();
        assert_eq!(notes.len(), 1, "one scan note per NTFS volume");
        assert_eq!((notes[0].volume, notes[0].unreadable), (2, 1));
        assert!(
            notes[0].detail.contains(
                "100 metadata record(s) scanned for deleted entries: 1 deleted entr(y/ies) \
                 listed, 10 never used, 8 not in use without a name (not listed), 1 could \
                 not be parsed (not listed): record 40 at image offset 1089536 [bad_fixup]: \
                 MFT record 40: update sequence mismatch"
            ),
            "{}",
            notes[0].detail
        );

        let meta = events(&source(META));
        let paths: Vec<String> = meta.iter().map(path_of_event).collect();
        assert_eq!(paths, ["/$Extend/$UsnJrnl:$J", "/$MFT"]);
    }

    #[test]
    fn opening_gives_runs_as_image_offsets_and_refuses_what_cannot_be_decoded() {
        use std::io::Read;
        let src = source(ALL);
        let ev = events(&src);
        let cand = |p: &str| {
            ev.iter()
                .find_map(|e| match e {
                    WalkEvent::Candidate(c) if c.path == Path::new(p) => Some(c),
                    _ => None,
                })
                .unwrap()
        };
        let mut o = src.open(cand("/doc.txt"), None).ok().unwrap();
        let mut bytes = Vec::new();
        let EntryReader::Image(r) = &mut o.reader else {
            panic!()
        };
        r.read_to_end(&mut bytes).unwrap();
        assert_eq!(bytes, [0, 1, 2, 3, 0, 0]);
        let Some(ImageData::Runs { runs, .. }) = o.image_data else {
            panic!()
        };
        assert_eq!(runs[0].image_offset, Some((1 << 20) + 4096));
        assert!(runs[1].hole && runs[1].image_offset.is_none());
        let ads = src
            .open(cand("/doc.txt:Zone.Identifier"), None)
            .ok()
            .unwrap();
        assert_eq!(
            ads.image_data,
            Some(ImageData::Resident {
                len: 4,
                image_offset: Some((1 << 20) + 40 * 1024 + 0x100)
            })
        );
        let err = src.open(cand("/enc.bin"), None).err().unwrap();
        assert_eq!((err.status, err.reason), (Status::Error, "undecodable"));
        assert!(
            err.detail.contains("EFS") && err.detail.contains("not stored"),
            "{}",
            err.detail
        );
    }
}
