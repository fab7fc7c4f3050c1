//! FAT12, FAT16 and FAT32, read-only: the BIOS parameter block, the allocation table,
//! 8.3 and VFAT long names, and every file's data as byte extents of the volume.
//!
//! Owns `Fat`, the `FileSystem` for these three variants. Never writes; never trusts a
//! cluster number, chain or size without checking it against the volume (a chain that
//! loops, leaves the FAT, or is shorter than the size is an error for that file); never
//! walks a directory that names itself or an ancestor (`directory_loop`).
//!
//! Why hand-written: the format is small and fully specified (Microsoft's FAT
//! specification), and what the records need is the physical mapping of each file —
//! cluster runs as volume byte ranges — plus lossless names and exact times. The one
//! reader crate that fits read-only forensic use (`fat-core` 0.1) decodes long names
//! lossily (`from_utf16_lossy`: an unpaired surrogate becomes U+FFFD, so two names can
//! merge), ignores the 8.3 case flags, numbers entries by a 16-bit slot (a larger
//! directory aliases), and serialises all reads behind one `Mutex`; `fatfs` is a
//! read-write driver. Parsing is ~600 lines here, tested against mtools, sleuthkit and
//! `dd`.
//!
//! Identity: a `NodeId` is the volume byte offset of the entry's 8.3 directory entry
//! (the root is 0, which is the boot sector and so never an entry). Times: write time
//! (2 s) → `modified`, access date → `accessed`, creation time with its 10 ms count →
//! `born`; FAT has no change time. FAT stores the writer's local time without a zone:
//! the values are recorded as if they were UTC (as Linux does with its default `tz`),
//! and `info().notes` says so.
//!
//! Deleted entries (first byte 0xE5) are skipped by `read_dir` and not listed by
//! `deleted()` yet: their first name byte and cluster chain are gone, and recovering
//! them is guesswork the records should not present as fact.

mod dir;
pub(crate) mod table;
pub(crate) mod time;

use std::sync::Arc;

use super::ondisk::{DirAncestry, byte, le16, le32};
use super::{DirEntry, Extent, FileSystem, FsError, FsInfo, Layout, Node, NodeId, NodeKind, Times};
use crate::source::image::media::ReadAt;
use table::{Run, Table, Width};

/// FAT directories hold at most 65,536 entries (the specification's limit; Linux's too).
const MAX_DIR_BYTES: u64 = 65_536 * 32;

pub struct Fat {
    volume: Arc<dyn ReadAt>,
    table: Table,
    /// FAT12/16: the fixed root directory region (offset, bytes). FAT32: `None`.
    fixed_root: Option<(u64, u64)>,
    /// FAT32 root directory's first cluster.
    root_cluster: u32,
    size: u64,
    label: Option<String>,
    serial: u32,
    notes: Vec<String>,
    ancestry: DirAncestry,
}

fn bad_bpb(at: u64, what: impl Into<String>) -> FsError {
    FsError::new(
        "bad_boot_sector",
        Some(at),
        format!("not a FAT file system: {}", what.into()),
    )
}

impl Fat {
    /// Open the FAT12/16/32 file system at the start of `volume`. A boot sector that is
    /// not a valid BPB is a one-line error naming the field and its offset.
    pub fn open(volume: Arc<dyn ReadAt>) -> Result<Fat, FsError> {
        let mut bs = [0u8; 512];
        volume.read_exact_at(0, &mut bs).map_err(|e| {
            FsError::new(
                "truncated",
                Some(0),
                format!("cannot read the boot sector: {e}"),
            )
        })?;
        if &bs[3..11] == b"EXFAT   " {
            return Err(bad_bpb(3, "this is exFAT"));
        }
        if &bs[3..11] == b"NTFS    " {
            return Err(bad_bpb(3, "this is NTFS"));
        }
        if le16(&bs, 510) != 0xAA55 {
            return Err(bad_bpb(
                510,
                format!("boot signature is {:#06x}, not 0xaa55", le16(&bs, 510)),
            ));
        }
        let bps = u64::from(le16(&bs, 11));
        if !matches!(bps, 512 | 1024 | 2048 | 4096) {
            return Err(bad_bpb(11, format!("{bps} bytes per sector")));
        }
        let spc = u64::from(byte(&bs, 13));
        if spc == 0 || !spc.is_power_of_two() {
            return Err(bad_bpb(13, format!("{spc} sectors per cluster")));
        }
        let reserved = u64::from(le16(&bs, 14));
        if reserved == 0 {
            return Err(bad_bpb(14, "no reserved sectors"));
        }
        let nfats = u64::from(byte(&bs, 16));
        if nfats == 0 {
            return Err(bad_bpb(16, "no FAT"));
        }
        let root_entries = u64::from(le16(&bs, 17));
        let total = match le16(&bs, 19) {
            0 => u64::from(le32(&bs, 32)),
            n => u64::from(n),
        };
        let fat32_layout = le16(&bs, 22) == 0;
        let fat_sectors = if fat32_layout {
            u64::from(le32(&bs, 36))
        } else {
            u64::from(le16(&bs, 22))
        };
        if fat_sectors == 0 {
            return Err(bad_bpb(36, "FAT size 0"));
        }
        let root_sectors = (root_entries * 32).div_ceil(bps);
        let data_start = reserved + nfats * fat_sectors + root_sectors;
        if total <= data_start {
            return Err(bad_bpb(
                19,
                format!(
                    "{total} sectors in total, but the data area starts at sector {data_start}"
                ),
            ));
        }
        let clusters = (total - data_start) / spc;
        let width = if clusters < 4085 {
            Width::Fat12
        } else if clusters < 65525 {
            Width::Fat16
        } else {
            Width::Fat32
        };
        if (width == Width::Fat32) != fat32_layout || (width == Width::Fat32 && root_entries != 0) {
            return Err(bad_bpb(
                22,
                format!(
                    "{clusters} clusters make it {width:?}, but the BPB is laid out for {}",
                    if fat32_layout { "FAT32" } else { "FAT12/16" }
                ),
            ));
        }
        if width != Width::Fat32 && root_entries == 0 {
            return Err(bad_bpb(17, "no root directory entries"));
        }
        let mut notes = Vec::new();
        // FAT32 may run with mirroring off and one active FAT (extended flags bit 7).
        let mut active = 0u64;
        if width == Width::Fat32 {
            let ext_flags = le16(&bs, 40);
            if ext_flags & 0x80 != 0 {
                active = u64::from(ext_flags & 0x0F);
                if active >= nfats {
                    return Err(bad_bpb(40, format!("active FAT {active} of {nfats}")));
                }
                notes.push(format!("FAT mirroring off: FAT {active} is the active one"));
            }
        }
        let fat_bytes = fat_sectors * bps;
        let entry_bits = match width {
            Width::Fat12 => 12,
            Width::Fat16 => 16,
            _ => 32,
        };
        let entries = fat_bytes * 8 / entry_bits;
        let mut count = clusters;
        if entries < clusters + 2 {
            notes.push(format!(
                "the FAT holds entries for {} of the {clusters} clusters",
                entries.saturating_sub(2)
            ));
            count = entries.saturating_sub(2);
        }
        let count = u32::try_from(count.min(0x0FFF_FFF5)).unwrap_or(0x0FFF_FFF5);
        let table = Table {
            offset: (reserved + active * fat_sectors) * bps,
            bytes: fat_bytes,
            width,
            heap: data_start * bps,
            cluster_size: spc * bps,
            count,
        };
        let (fixed_root, root_cluster, serial_at, label_at) = if width == Width::Fat32 {
            let rc = le32(&bs, 44) & 0x0FFF_FFFF;
            if !table.valid(rc) {
                return Err(bad_bpb(44, format!("root directory cluster {rc}")));
            }
            (None, rc, 67, 71)
        } else {
            (
                Some(((reserved + nfats * fat_sectors) * bps, root_entries * 32)),
                0,
                39,
                43,
            )
        };
        // The extended boot signature (0x29) says whether serial and label are there.
        let ext_sig = byte(&bs, serial_at - 1);
        let serial = if ext_sig == 0x29 || ext_sig == 0x28 {
            le32(&bs, serial_at)
        } else {
            0
        };
        let bpb_label = if ext_sig == 0x29 {
            dir::short_label(&bs[label_at..label_at + 11])
        } else {
            None
        };
        let size = total * bps;
        if size > volume.size() {
            notes.push(format!(
                "the file system is {size} bytes but the volume only {}: data past the end is unreadable",
                volume.size()
            ));
        }
        notes.push(
            "FAT times are the writer's local time without a zone: recorded as if UTC".into(),
        );
        let mut fat = Fat {
            volume,
            table,
            fixed_root,
            root_cluster,
            size,
            label: bpb_label,
            serial,
            notes,
            ancestry: DirAncestry::default(),
        };
        // The root directory's volume-label entry is what tools show; the BPB copy is a
        // fallback (mkfs writes both, later relabels often only the entry).
        if let Ok(label) = fat.root_label()
            && label.is_some()
        {
            fat.label = label;
        }
        Ok(fat)
    }

    fn kind_name(&self) -> &'static str {
        match self.table.width {
            Width::Fat12 => "fat12",
            Width::Fat16 => "fat16",
            _ => "fat32",
        }
    }

    /// Extents of a cluster chain's first `bytes` bytes (runs merged, the last cut).
    fn runs_to_extents(&self, runs: &[Run], bytes: u64) -> Vec<Extent> {
        let mut out = Vec::with_capacity(runs.len());
        let mut file_offset = 0u64;
        for r in runs {
            if file_offset >= bytes {
                break;
            }
            let len = (u64::from(r.count) * self.table.cluster_size).min(bytes - file_offset);
            out.push(Extent {
                file_offset,
                len,
                volume_offset: Some(self.table.cluster_offset(r.first)),
            });
            file_offset += len;
        }
        out
    }

    /// Where a directory's entries lie: (volume offset, length) pieces in order, and the
    /// key its cycles are judged by (first cluster; the root is 0).
    fn dir_pieces(&self, id: NodeId) -> Result<(Vec<(u64, u64)>, u64), FsError> {
        if id.0 == 0 {
            if let Some((at, len)) = self.fixed_root {
                return Ok((vec![(at, len)], 0));
            }
            let (runs, _) = self.dir_chain(self.root_cluster)?;
            return Ok((self.pieces(&runs), 0));
        }
        let e = self.entry_at(id)?;
        if !e.is_dir() {
            return Err(FsError::new(
                "not_a_directory",
                Some(id.0),
                "the entry is not a directory",
            ));
        }
        let first = e.first_cluster(self.table.width);
        if self.dir_key(first) == 0 {
            return Err(FsError::new(
                "directory_loop",
                Some(id.0),
                "a subdirectory entry points at the root directory",
            ));
        }
        let (runs, _) = self.dir_chain(first)?;
        Ok((self.pieces(&runs), u64::from(first)))
    }

    fn dir_chain(&self, first: u32) -> Result<(Vec<Run>, bool), FsError> {
        let max = MAX_DIR_BYTES.div_ceil(self.table.cluster_size).max(1);
        // One cluster more than the limit: a chain that ends exactly at it is fine.
        let (runs, ended) = self
            .table
            .chain(self.volume.as_ref(), first, max + 1)
            .map_err(|mut err| {
                err.detail = format!("directory from cluster {first}: {}", err.detail);
                err
            })?;
        if runs.iter().map(|r| u64::from(r.count)).sum::<u64>() > max {
            // Either a chain that never ends or a directory past the 65,536-entry limit:
            // the first `max` clusters are listed, and that is said.
            return Err(FsError::new(
                "directory_too_large",
                Some(self.table.cluster_offset(first)),
                format!("directory chain from cluster {first} runs past the 65,536-entry limit"),
            ));
        }
        Ok((runs, ended))
    }

    fn pieces(&self, runs: &[Run]) -> Vec<(u64, u64)> {
        runs.iter()
            .map(|r| {
                (
                    self.table.cluster_offset(r.first),
                    u64::from(r.count) * self.table.cluster_size,
                )
            })
            .collect()
    }

    fn dir_key(&self, cluster: u32) -> u64 {
        if cluster == 0 || (self.table.width == Width::Fat32 && cluster == self.root_cluster) {
            0
        } else {
            u64::from(cluster)
        }
    }

    fn entry_at(&self, id: NodeId) -> Result<dir::ShortEntry, FsError> {
        let mut raw = [0u8; 32];
        self.volume
            .read_exact_at(id.0, &mut raw)
            .map_err(|e| FsError::io(id.0, &e))?;
        let e = dir::ShortEntry(raw);
        if !e.is_live_short() {
            return Err(FsError::new(
                "bad_node",
                Some(id.0),
                "no live 8.3 directory entry at this offset",
            ));
        }
        Ok(e)
    }

    fn root_label(&self) -> Result<Option<String>, FsError> {
        let (pieces, _) = self.dir_pieces(NodeId(0))?;
        let mut found = None;
        dir::scan(self.volume.as_ref(), &pieces, |slot| {
            if let dir::Slot::Label(l) = slot {
                found = Some(l);
                return false;
            }
            true
        })?;
        Ok(found)
    }
}

impl FileSystem for Fat {
    fn info(&self) -> FsInfo {
        FsInfo {
            kind: self.kind_name(),
            label: self.label.clone(),
            serial: (self.serial != 0)
                .then(|| format!("{:04X}-{:04X}", self.serial >> 16, self.serial & 0xFFFF)),
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
        let mut failure = None;
        dir::scan(self.volume.as_ref(), &pieces, |slot| {
            if let dir::Slot::Entry {
                offset,
                entry,
                long,
            } = slot
            {
                let name = long.unwrap_or_else(|| entry.short_name());
                if let Err(e) = super::ondisk::check_name(&name, offset) {
                    failure = Some(e);
                    return false;
                }
                let kind = if entry.is_dir() {
                    NodeKind::Dir
                } else {
                    NodeKind::File
                };
                if entry.is_dir() {
                    let first = entry.first_cluster(self.table.width);
                    let k = self.dir_key(first);
                    if k == key {
                        failure = Some(FsError::new(
                            "directory_loop",
                            Some(offset),
                            "the directory contains an entry for itself",
                        ));
                        return false;
                    }
                    subdirs.push(k);
                }
                out.push(DirEntry {
                    name,
                    id: NodeId(offset),
                    kind,
                });
            }
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
        Ok(out)
    }

    fn node(&self, id: NodeId) -> Result<Node, FsError> {
        if id.0 == 0 {
            return Ok(Node {
                id,
                kind: NodeKind::Dir,
                size: 0,
                times: Times::default(),
                name_times: None,
                mode: None,
                uid: None,
                gid: None,
                nlink: None,
                sequence: None,
                link_target: None,
                streams: Vec::new(),
                reparse: None,
                flags: Vec::new(),
                allocated: true,
            });
        }
        let e = self.entry_at(id)?;
        let attr = e.attr();
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
        Ok(Node {
            id,
            kind: if e.is_dir() {
                NodeKind::Dir
            } else {
                NodeKind::File
            },
            size: if e.is_dir() { 0 } else { u64::from(e.size()) },
            times: e.times(),
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
        })
    }

    fn layout(&self, id: NodeId, stream: Option<&[u8]>) -> Result<Layout, FsError> {
        if stream.is_some() {
            return Err(FsError::new(
                "no_such_stream",
                None,
                "FAT has no named streams",
            ));
        }
        if id.0 == 0 {
            let (pieces, _) = self.dir_pieces(id)?;
            return Ok(pieces_layout(&pieces));
        }
        let e = self.entry_at(id)?;
        if e.is_dir() {
            let (pieces, _) = self.dir_pieces(id)?;
            return Ok(pieces_layout(&pieces));
        }
        let size = u64::from(e.size());
        if size == 0 {
            return Ok(Layout::Extents {
                size: 0,
                extents: Vec::new(),
            });
        }
        let first = e.first_cluster(self.table.width);
        let need = size.div_ceil(self.table.cluster_size);
        if need > u64::from(self.table.count) {
            return Err(FsError::new(
                "bad_size",
                Some(id.0),
                format!(
                    "the entry says {size} bytes, more than the volume's {} clusters hold",
                    self.table.count
                ),
            ));
        }
        let (runs, _) = self
            .table
            .chain(self.volume.as_ref(), first, need)
            .map_err(|mut err| {
                err.detail = format!("file at entry {}: {}", id.0, err.detail);
                err.offset = err.offset.or(Some(id.0));
                err
            })?;
        let got: u64 = runs.iter().map(|r| u64::from(r.count)).sum();
        if got < need {
            return Err(FsError::new(
                "chain_short",
                Some(
                    self.table
                        .entry_offset(runs.last().map_or(first, |r| r.first + r.count - 1)),
                ),
                format!(
                    "the cluster chain ends after {got} clusters; the size ({size} bytes) needs {need}"
                ),
            ));
        }
        Ok(Layout::Extents {
            size,
            extents: self.runs_to_extents(&runs, size),
        })
    }

    fn volume(&self) -> &Arc<dyn ReadAt> {
        &self.volume
    }
}

fn pieces_layout(pieces: &[(u64, u64)]) -> Layout {
    let mut extents = Vec::with_capacity(pieces.len());
    let mut file_offset = 0;
    for &(at, len) in pieces {
        extents.push(Extent {
            file_offset,
            len,
            volume_offset: Some(at),
        });
        file_offset += len;
    }
    Layout::Extents {
        size: file_offset,
        extents,
    }
}

/// Open the bytes as FAT and read everything reachable, within bounds (the fuzz
/// harness's entry point; must never panic or hang).
#[doc(hidden)]
pub fn fuzz_entry(data: &[u8]) {
    let volume: Arc<dyn ReadAt> = Arc::new(data.to_vec());
    if let Ok(fs) = Fat::open(volume) {
        super::ondisk::exercise(&fs);
    }
}
