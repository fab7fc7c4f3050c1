//! exFAT, read-only: the boot region, the FAT (for chained files), directory entry sets
//! (File + Stream Extension + File Name, checked by their set checksum), contiguous
//! (NoFatChain) files, valid data length, and times with 10 ms and UTC offset.
//!
//! Owns `ExFat`, the `FileSystem` for exFAT. Never writes; never trusts a cluster, chain,
//! length or entry set without checking it (a set whose checksum fails, a chain that
//! loops or leaves the FAT, a contiguous run past the cluster heap are errors naming the
//! offset); never walks a directory that names itself or an ancestor.
//!
//! Why hand-written: the same reasons as FAT (see `fat`): the records need each file's
//! clusters as volume byte ranges and its bytes past the valid data length as a hole,
//! lossless names and UTC-corrected times; `fat-core` 0.1 reads none of valid data
//! length, UTC offsets or set checksums and decodes names lossily. The format is small
//! (Microsoft's exFAT specification) and shares the FAT walk with `fat::table`.
//!
//! Identity: a `NodeId` is the volume byte offset of the entry set's File entry (0x85);
//! the root is 0 (the boot sector). An entry set may run across a cluster boundary into
//! a cluster that is not adjacent: `read_dir` remembers where such sets continue, and
//! `node` re-checks every set's checksum, so a set is never assembled from the wrong
//! bytes.
//!
//! Not used: the up-case table (needed to compare names case-insensitively and to check
//! name hashes; listing never looks a name up) and the allocation bitmap (needed only to
//! judge deleted entries, which are not listed yet: their sets remain on disk with the
//! in-use bit cleared, but their clusters may already belong to another file).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::fat::table::{Run, Table, Width, chunked, read_full};
use super::fat::time::dos;
use super::ondisk::{DirAncestry, byte, check_name, le16, le32, le64, utf16_to_wtf8};
use super::{
    DirEntry, Extent, FileSystem, FsError, FsInfo, FsTime, Layout, Node, NodeId, NodeKind, Times,
};
use crate::source::image::media::ReadAt;

/// The specification's largest directory: 256 MiB.
const MAX_DIR_BYTES: u64 = 256 << 20;

const TYPE_FILE: u8 = 0x85;
const TYPE_STREAM: u8 = 0xC0;
const TYPE_NAME: u8 = 0xC1;
const TYPE_LABEL: u8 = 0x83;
const ATTR_DIR: u16 = 0x10;

pub struct ExFat {
    volume: Arc<dyn ReadAt>,
    table: Table,
    root_cluster: u32,
    size: u64,
    serial: u32,
    label: Option<String>,
    notes: Vec<String>,
    ancestry: DirAncestry,
    /// Entry sets that cross into a non-adjacent cluster: File entry offset → the
    /// volume offset of each of its slots.
    split_sets: Mutex<HashMap<u64, Vec<u64>>>,
}

fn bad_boot(at: u64, what: impl Into<String>) -> FsError {
    FsError::new(
        "bad_boot_sector",
        Some(at),
        format!("not an exFAT file system: {}", what.into()),
    )
}

/// One decoded entry set.
struct EntrySet {
    file: [u8; 32],
    stream: [u8; 32],
    name: Vec<u8>,
}

impl EntrySet {
    fn attributes(&self) -> u16 {
        le16(&self.file, 4)
    }

    fn is_dir(&self) -> bool {
        self.attributes() & ATTR_DIR != 0
    }

    fn no_fat_chain(&self) -> bool {
        self.stream[1] & 0x02 != 0
    }

    fn first_cluster(&self) -> u32 {
        le32(&self.stream, 20)
    }

    fn data_length(&self) -> u64 {
        le64(&self.stream, 24)
    }

    fn valid_data_length(&self) -> u64 {
        le64(&self.stream, 8)
    }

    fn times(&self) -> Times {
        let f = &self.file;
        Times {
            modified: timestamp(le32(f, 12), byte(f, 21), byte(f, 23)),
            accessed: timestamp(le32(f, 16), 0, byte(f, 24)),
            changed: None,
            born: timestamp(le32(f, 8), byte(f, 20), byte(f, 22)),
        }
    }
}

/// An exFAT timestamp: DOS date (high 16 bits) and time (low 16), a 10 ms count, and a
/// UTC offset in 15-minute steps (bit 7: valid; bits 0-6: signed). Without a valid
/// offset the value is the writer's local time, recorded as if UTC.
fn timestamp(raw: u32, centis: u8, utc_offset: u8) -> Option<FsTime> {
    let (secs, nanos) = dos((raw >> 16) as u16, (raw & 0xFFFF) as u16, centis)?;
    let offset_minutes = if utc_offset & 0x80 != 0 {
        // Sign-extend the 7-bit field.
        i64::from(((utc_offset << 1) as i8) >> 1) * 15
    } else {
        0
    };
    Some(FsTime::from_unix(secs - offset_minutes * 60, nanos))
}

/// The set checksum: every byte of every slot except the checksum field itself.
fn set_checksum(slots: &[[u8; 32]]) -> u16 {
    let mut sum: u16 = 0;
    for (i, s) in slots.iter().enumerate() {
        for (j, &b) in s.iter().enumerate() {
            if i == 0 && (j == 2 || j == 3) {
                continue;
            }
            sum = sum.rotate_right(1).wrapping_add(u16::from(b));
        }
    }
    sum
}

/// Decode a set from its slots (File entry first), checking types, name length and the
/// checksum.
fn decode_set(slots: &[[u8; 32]], at: u64) -> Result<EntrySet, FsError> {
    let bad = |what: String| FsError::new("bad_entry_set", Some(at), what);
    let file = slots[0];
    if file[0] != TYPE_FILE {
        return Err(bad(format!(
            "entry type {:#04x} where a File entry was expected",
            file[0]
        )));
    }
    let stored = le16(&file, 2);
    let computed = set_checksum(slots);
    if stored != computed {
        return Err(bad(format!(
            "entry set checksum {computed:#06x} differs from the stored {stored:#06x}"
        )));
    }
    let Some(stream) = slots.get(1).copied().filter(|s| s[0] == TYPE_STREAM) else {
        return Err(bad(
            "the File entry is not followed by a Stream Extension".into()
        ));
    };
    let name_len = usize::from(stream[3]);
    let mut units = Vec::with_capacity(name_len);
    for s in &slots[2..] {
        if s[0] != TYPE_NAME || units.len() >= name_len {
            break;
        }
        for k in 0..15 {
            if units.len() < name_len {
                units.push(le16(s, 2 + 2 * k));
            }
        }
    }
    if name_len == 0 || units.len() != name_len {
        return Err(bad(format!(
            "the name needs {name_len} characters, the set holds {}",
            units.len()
        )));
    }
    Ok(EntrySet {
        file,
        stream,
        name: utf16_to_wtf8(&units),
    })
}

impl ExFat {
    /// Open the exFAT file system at the start of `volume`. A boot sector that is not a
    /// valid exFAT boot sector is a one-line error naming the field and its offset.
    pub fn open(volume: Arc<dyn ReadAt>) -> Result<ExFat, FsError> {
        let mut bs = [0u8; 512];
        volume.read_exact_at(0, &mut bs).map_err(|e| {
            FsError::new(
                "truncated",
                Some(0),
                format!("cannot read the boot sector: {e}"),
            )
        })?;
        if &bs[3..11] != b"EXFAT   " {
            return Err(bad_boot(3, "no \"EXFAT   \" signature"));
        }
        if le16(&bs, 510) != 0xAA55 {
            return Err(bad_boot(
                510,
                format!("boot signature is {:#06x}, not 0xaa55", le16(&bs, 510)),
            ));
        }
        let bps_shift = byte(&bs, 108);
        if !(9..=12).contains(&bps_shift) {
            return Err(bad_boot(108, format!("bytes-per-sector shift {bps_shift}")));
        }
        let spc_shift = byte(&bs, 109);
        if u32::from(spc_shift) + u32::from(bps_shift) > 25 {
            return Err(bad_boot(
                109,
                format!("sectors-per-cluster shift {spc_shift}"),
            ));
        }
        let bps = 1u64 << bps_shift;
        let cluster_size = bps << spc_shift;
        let nfats = byte(&bs, 110);
        if !(1..=2).contains(&nfats) {
            return Err(bad_boot(110, format!("{nfats} FATs")));
        }
        let volume_sectors = le64(&bs, 72);
        let fat_offset = u64::from(le32(&bs, 80));
        let fat_length = u64::from(le32(&bs, 84));
        let heap_offset = u64::from(le32(&bs, 88));
        let count = le32(&bs, 92);
        let root_cluster = le32(&bs, 96);
        let serial = le32(&bs, 100);
        let flags = le16(&bs, 106);
        if fat_offset < 24 || fat_length == 0 {
            return Err(bad_boot(
                80,
                format!("FAT at sector {fat_offset}, {fat_length} sectors long"),
            ));
        }
        if (u64::from(count) + 2) * 4 > fat_length * bps {
            return Err(bad_boot(
                84,
                format!("a {fat_length}-sector FAT cannot hold {count} clusters"),
            ));
        }
        if heap_offset < fat_offset + fat_length * u64::from(nfats) {
            return Err(bad_boot(
                88,
                format!("cluster heap at sector {heap_offset} overlaps the FAT"),
            ));
        }
        let heap_end = heap_offset * bps + u64::from(count) * cluster_size;
        if volume_sectors.checked_mul(bps).is_none_or(|v| v < heap_end) {
            return Err(bad_boot(
                72,
                format!("volume length {volume_sectors} sectors is shorter than its cluster heap"),
            ));
        }
        let active = if nfats == 2 && flags & 1 != 0 { 1 } else { 0 };
        let table = Table {
            offset: (fat_offset + active * fat_length) * bps,
            bytes: fat_length * bps,
            width: Width::ExFat,
            heap: heap_offset * bps,
            cluster_size,
            count,
        };
        if !table.valid(root_cluster) {
            return Err(bad_boot(
                96,
                format!("root directory cluster {root_cluster}"),
            ));
        }
        let mut notes = Vec::new();
        if active == 1 {
            notes.push("the second FAT is the active one".into());
        }
        if flags & 0x02 != 0 {
            notes.push("volume dirty flag set (not cleanly unmounted)".into());
        }
        let size = volume_sectors * bps;
        if size > volume.size() {
            notes.push(format!(
                "the file system is {size} bytes but the volume only {}: data past the end is unreadable",
                volume.size()
            ));
        }
        match boot_checksum_ok(volume.as_ref(), bps) {
            Ok(true) => {}
            Ok(false) => notes.push("boot region checksum does not match (sector 11)".into()),
            Err(e) => notes.push(format!("boot region checksum not checked: {e}")),
        }
        let mut fs = ExFat {
            volume,
            table,
            root_cluster,
            size,
            serial,
            label: None,
            notes,
            ancestry: DirAncestry::default(),
            split_sets: Mutex::new(HashMap::new()),
        };
        let pieces = fs.root_pieces()?;
        let mut label = None;
        scan(fs.volume.as_ref(), &pieces, |item| {
            if let Item::Label(l) = item {
                label = Some(l);
                return false;
            }
            true
        })?;
        fs.label = label;
        Ok(fs)
    }

    fn root_pieces(&self) -> Result<Vec<(u64, u64)>, FsError> {
        let max = MAX_DIR_BYTES / self.table.cluster_size;
        let (runs, _) = self
            .table
            .chain(self.volume.as_ref(), self.root_cluster, max.max(1) + 1)
            .map_err(|mut e| {
                e.detail = format!("root directory: {}", e.detail);
                e
            })?;
        if runs.iter().map(|r| u64::from(r.count)).sum::<u64>() > max.max(1) {
            return Err(FsError::new(
                "directory_too_large",
                Some(self.table.cluster_offset(self.root_cluster)),
                "the root directory's chain runs past exFAT's 256 MiB directory limit",
            ));
        }
        Ok(self.pieces(&runs, u64::MAX))
    }

    fn pieces(&self, runs: &[Run], limit: u64) -> Vec<(u64, u64)> {
        let mut out = Vec::with_capacity(runs.len());
        let mut left = limit;
        for r in runs {
            if left == 0 {
                break;
            }
            let len = (u64::from(r.count) * self.table.cluster_size).min(left);
            out.push((self.table.cluster_offset(r.first), len));
            left -= len;
        }
        out
    }

    /// The clusters of a set's data: runs covering `data_length`, from the FAT or (for
    /// NoFatChain) one contiguous run, every cluster checked against the heap.
    fn data_runs(&self, set: &EntrySet, at: u64) -> Result<Vec<Run>, FsError> {
        let length = set.data_length();
        let first = set.first_cluster();
        let need = length.div_ceil(self.table.cluster_size);
        if need > u64::from(self.table.count) {
            return Err(FsError::new(
                "bad_size",
                Some(at),
                format!(
                    "the entry says {length} bytes, more than the volume's {} clusters hold",
                    self.table.count
                ),
            ));
        }
        if set.no_fat_chain() {
            let last = u64::from(first) + need.saturating_sub(1);
            if !self.table.valid(first) || last > u64::from(self.table.count) + 1 {
                return Err(FsError::new(
                    "cluster_out_of_range",
                    Some(at),
                    format!(
                        "contiguous data of clusters {first}..={last} runs past the {} clusters of the volume",
                        self.table.count
                    ),
                ));
            }
            return Ok(vec![Run {
                first,
                count: need as u32,
            }]);
        }
        let (runs, _) = self
            .table
            .chain(self.volume.as_ref(), first, need)
            .map_err(|mut e| {
                e.detail = format!("entry at {at}: {}", e.detail);
                e.offset = e.offset.or(Some(at));
                e
            })?;
        let got: u64 = runs.iter().map(|r| u64::from(r.count)).sum();
        if got < need {
            return Err(FsError::new(
                "chain_short",
                Some(at),
                format!("the cluster chain ends after {got} clusters; {length} bytes need {need}"),
            ));
        }
        Ok(runs)
    }

    fn set_at(&self, id: NodeId) -> Result<EntrySet, FsError> {
        let known = self
            .split_sets
            .lock()
            .ok()
            .and_then(|m| m.get(&id.0).cloned());
        let mut first = [0u8; 32];
        self.volume
            .read_exact_at(id.0, &mut first)
            .map_err(|e| FsError::io(id.0, &e))?;
        if first[0] != TYPE_FILE {
            return Err(FsError::new(
                "bad_node",
                Some(id.0),
                "no File entry at this offset",
            ));
        }
        let n = usize::from(first[1]);
        if !(2..=18).contains(&n) {
            return Err(FsError::new(
                "bad_entry_set",
                Some(id.0),
                format!("{n} secondary entries"),
            ));
        }
        let offsets: Vec<u64> = match known {
            Some(o) => o,
            None => (0..=n as u64).map(|i| id.0 + 32 * i).collect(),
        };
        let mut slots = Vec::with_capacity(offsets.len());
        for at in offsets {
            let mut s = [0u8; 32];
            self.volume
                .read_exact_at(at, &mut s)
                .map_err(|e| FsError::io(at, &e))?;
            slots.push(s);
        }
        decode_set(&slots, id.0)
    }

    fn dir_pieces(&self, id: NodeId) -> Result<(Vec<(u64, u64)>, u64), FsError> {
        if id.0 == 0 {
            return Ok((self.root_pieces()?, 0));
        }
        let set = self.set_at(id)?;
        if !set.is_dir() {
            return Err(FsError::new(
                "not_a_directory",
                Some(id.0),
                "the entry is not a directory",
            ));
        }
        if set.data_length() > MAX_DIR_BYTES {
            return Err(FsError::new(
                "directory_too_large",
                Some(id.0),
                format!(
                    "a {}-byte directory (exFAT's limit is 256 MiB)",
                    set.data_length()
                ),
            ));
        }
        let key = self.dir_key(set.first_cluster());
        if key == 0 {
            return Err(FsError::new(
                "directory_loop",
                Some(id.0),
                "a subdirectory entry points at the root directory",
            ));
        }
        let runs = self.data_runs(&set, id.0)?;
        Ok((self.pieces(&runs, set.data_length()), key))
    }

    fn dir_key(&self, cluster: u32) -> u64 {
        if cluster == self.root_cluster {
            0
        } else {
            u64::from(cluster)
        }
    }
}

fn boot_checksum_ok(vol: &dyn ReadAt, bps: u64) -> Result<bool, FsError> {
    let mut region = vec![0u8; (bps * 12) as usize];
    vol.read_exact_at(0, &mut region)
        .map_err(|e| FsError::io(0, &e))?;
    let mut sum: u32 = 0;
    for (i, &b) in region[..(bps * 11) as usize].iter().enumerate() {
        if i == 106 || i == 107 || i == 112 {
            continue;
        }
        sum = sum.rotate_right(1).wrapping_add(u32::from(b));
    }
    Ok(le32(&region, (bps * 11) as usize) == sum)
}

enum Item {
    Set {
        at: u64,
        slots: Vec<u64>,
        set: EntrySet,
    },
    Label(String),
}

/// Visit the entry sets of a directory stored in `pieces`, in order, until the end
/// marker or `visit` returns false. A damaged set is an error for the directory.
fn scan(
    vol: &dyn ReadAt,
    pieces: &[(u64, u64)],
    mut visit: impl FnMut(Item) -> bool,
) -> Result<(), FsError> {
    // The slots of the set being gathered and their offsets (a set may span pieces).
    let mut pending: Vec<[u8; 32]> = Vec::new();
    let mut offsets: Vec<u64> = Vec::new();
    let mut want = 0usize;
    let mut buf = Vec::new();
    for (at, len) in chunked(pieces) {
        buf.resize(len as usize, 0);
        let got = read_full(vol, at, &mut buf)?;
        for (i, raw) in buf[..got - got % 32].chunks_exact(32).enumerate() {
            let mut s = [0u8; 32];
            s.copy_from_slice(raw);
            let offset = at + 32 * i as u64;
            if want > 0 {
                if s[0] & 0xC0 != 0xC0 {
                    return Err(FsError::new(
                        "bad_entry_set",
                        Some(offsets[0]),
                        format!("the set ends early: entry type {:#04x} at {offset}", s[0]),
                    ));
                }
                pending.push(s);
                offsets.push(offset);
                want -= 1;
                if want == 0 {
                    let set = decode_set(&pending, offsets[0])?;
                    let item = Item::Set {
                        at: offsets[0],
                        slots: std::mem::take(&mut offsets),
                        set,
                    };
                    pending.clear();
                    if !visit(item) {
                        return Ok(());
                    }
                }
                continue;
            }
            match s[0] {
                0x00 => return Ok(()),
                TYPE_FILE => {
                    let n = usize::from(s[1]);
                    if !(2..=18).contains(&n) {
                        return Err(FsError::new(
                            "bad_entry_set",
                            Some(offset),
                            format!("{n} secondary entries"),
                        ));
                    }
                    pending.push(s);
                    offsets.push(offset);
                    want = n;
                }
                TYPE_LABEL => {
                    let n = usize::from(s[1]).min(11);
                    let units: Vec<u16> = (0..n).map(|k| le16(&s, 2 + 2 * k)).collect();
                    if !visit(Item::Label(
                        String::from_utf8_lossy(&utf16_to_wtf8(&units)).into_owned(),
                    )) {
                        return Ok(());
                    }
                }
                // Bitmap, up-case table, GUID, padding, deleted and unknown benign entries.
                _ => {}
            }
        }
        if (got as u64) < len {
            return Err(FsError::new(
                "truncated",
                Some(at + got as u64),
                "the volume ends inside a directory",
            ));
        }
    }
    if want > 0 {
        return Err(FsError::new(
            "bad_entry_set",
            offsets.first().copied(),
            "the directory ends inside an entry set",
        ));
    }
    Ok(())
}

impl FileSystem for ExFat {
    fn info(&self) -> FsInfo {
        FsInfo {
            kind: "exfat",
            label: self.label.clone(),
            serial: Some(format!(
                "{:04X}-{:04X}",
                self.serial >> 16,
                self.serial & 0xFFFF
            )),
            block_size: self.table.cluster_size,
            size: self.size,
            notes: self.notes.clone(),
        }
    }

    fn root(&self) -> NodeId {
        NodeId(0)
    }

    fn read_dir(&self, id: NodeId) -> Result<Vec<DirEntry>, FsError> {
        let (pieces, key) = self.dir_pieces(id)?;
        let mut out = Vec::new();
        let mut subdirs = Vec::new();
        let mut split = Vec::new();
        let mut failure = None;
        scan(self.volume.as_ref(), &pieces, |item| {
            let Item::Set { at, slots, set } = item else {
                return true;
            };
            if let Err(e) = check_name(&set.name, at) {
                failure = Some(e);
                return false;
            }
            if set.is_dir() {
                let k = self.dir_key(set.first_cluster());
                if k == key {
                    failure = Some(FsError::new(
                        "directory_loop",
                        Some(at),
                        "the directory contains an entry for itself",
                    ));
                    return false;
                }
                subdirs.push(k);
            }
            if slots.windows(2).any(|w| w[1] != w[0] + 32) {
                split.push((at, slots));
            }
            let kind = if set.is_dir() {
                NodeKind::Dir
            } else {
                NodeKind::File
            };
            out.push(DirEntry {
                name: set.name,
                id: NodeId(at),
                kind,
            });
            true
        })?;
        if let Some(e) = failure {
            return Err(e);
        }
        if let Err(child) = self.ancestry.check_and_record(key, &subdirs) {
            return Err(FsError::new(
                "directory_loop",
                Some(self.table.cluster_offset(child as u32)),
                format!("the directory lists its own ancestor (cluster {child}): a cycle"),
            ));
        }
        if !split.is_empty()
            && let Ok(mut m) = self.split_sets.lock()
        {
            m.extend(split);
        }
        Ok(out)
    }

    fn node(&self, id: NodeId) -> Result<Node, FsError> {
        let blank = |kind, size, times, flags| Node {
            id,
            kind,
            size,
            times,
            name_times: None,
            mode: None,
            uid: None,
            gid: None,
            nlink: None,
            sequence: None,
            link_target: None,
            streams: Vec::new(),
            reparse: None,
            flags,
            allocated: true,
        };
        if id.0 == 0 {
            return Ok(blank(NodeKind::Dir, 0, Times::default(), Vec::new()));
        }
        let set = self.set_at(id)?;
        let attr = set.attributes();
        let mut flags = Vec::new();
        for (bit, name) in [
            (0x01, "readonly"),
            (0x02, "hidden"),
            (0x04, "system"),
            (0x20, "archive"),
        ] {
            if attr & bit != 0 {
                flags.push(name);
            }
        }
        if set.no_fat_chain() {
            flags.push("contiguous");
        }
        if set.valid_data_length() < set.data_length() {
            flags.push("sparse");
        }
        let (kind, size) = if set.is_dir() {
            (NodeKind::Dir, 0)
        } else {
            (NodeKind::File, set.data_length())
        };
        Ok(blank(kind, size, set.times(), flags))
    }

    fn layout(&self, id: NodeId, stream: Option<&[u8]>) -> Result<Layout, FsError> {
        if stream.is_some() {
            return Err(FsError::new(
                "no_such_stream",
                None,
                "exFAT has no named streams",
            ));
        }
        if id.0 == 0 {
            let pieces = self.root_pieces()?;
            let mut extents = Vec::new();
            let mut file_offset = 0;
            for (at, len) in pieces {
                extents.push(Extent {
                    file_offset,
                    len,
                    volume_offset: Some(at),
                });
                file_offset += len;
            }
            return Ok(Layout::Extents {
                size: file_offset,
                extents,
            });
        }
        let set = self.set_at(id)?;
        let size = set.data_length();
        if size == 0 {
            return Ok(Layout::Extents {
                size: 0,
                extents: Vec::new(),
            });
        }
        let runs = self.data_runs(&set, id.0)?;
        // Bytes past the valid data length were never written: they read as zeros
        // (what Windows returns), whatever the clusters hold.
        let valid = set.valid_data_length().min(size);
        let mut extents = Vec::with_capacity(runs.len() + 1);
        let mut file_offset = 0u64;
        for r in &runs {
            if file_offset >= valid {
                break;
            }
            let len = (u64::from(r.count) * self.table.cluster_size).min(valid - file_offset);
            extents.push(Extent {
                file_offset,
                len,
                volume_offset: Some(self.table.cluster_offset(r.first)),
            });
            file_offset += len;
        }
        if file_offset < size {
            extents.push(Extent {
                file_offset,
                len: size - file_offset,
                volume_offset: None,
            });
        }
        Ok(Layout::Extents { size, extents })
    }

    fn volume(&self) -> &Arc<dyn ReadAt> {
        &self.volume
    }
}

/// Open the bytes as exFAT and read everything reachable, within bounds (the fuzz
/// harness's entry point; must never panic or hang).
#[doc(hidden)]
pub fn fuzz_entry(data: &[u8]) {
    let volume: Arc<dyn ReadAt> = Arc::new(data.to_vec());
    if let Ok(fs) = ExFat::open(volume) {
        super::ondisk::exercise(&fs);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_offsets_are_signed_quarter_hours() {
        // 2020-01-01 12:00:00 local, UTC+01:00 (4 quarters, valid bit set).
        let date = (40u32 << 9) | (1 << 5) | 1;
        let raw = (date << 16) | (12 << 11);
        let t = timestamp(raw, 0, 0x80 | 4).unwrap();
        assert_eq!(t.unix_nanos, (1_577_880_000 - 3600) as i128 * 1_000_000_000);
        // UTC-05:00: -20 quarters in 7 bits is 0x6C.
        let t = timestamp(raw, 150, 0x80 | 0x6C).unwrap();
        assert_eq!(
            t.unix_nanos,
            (1_577_880_000 + 1 + 5 * 3600) as i128 * 1_000_000_000 + 500_000_000
        );
        // Offset not valid: local time as if UTC.
        assert_eq!(
            timestamp(raw, 0, 4).unwrap().unix_nanos,
            1_577_880_000i128 * 1_000_000_000
        );
    }
}
