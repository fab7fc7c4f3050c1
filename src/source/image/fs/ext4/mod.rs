//! ext2, ext3 and ext4, read-only: superblock, group descriptors (also `64bit` and
//! `meta_bg`), inodes with nanosecond times and creation time, extent trees (sparse and
//! unwritten extents as holes), ext2/3 block maps, inline data (files, directories,
//! symlinks), fast and slow symlinks, linear and hashed (`dir_index`) directories, and
//! device nodes, FIFOs and sockets recorded by kind (never read).
//!
//! Owns `Ext4`, the `FileSystem` for the ext family. Never writes; never follows a block
//! number outside the file system or the volume (`extent_outside_volume`, that file
//! only), never walks an extent tree deeper than 5 levels or back on itself, never
//! lists a directory that names itself or an ancestor (`directory_loop`).
//!
//! Why hand-written: `ext4-view` 1.0 is well made but gives neither the physical mapping
//! (only a `Read` of the content; the records must name byte ranges of the volume),
//! nor inode numbers, change times or device kinds, it refuses `inline_data` (on by
//! default on some distributions' and Android's images) and `meta_bg`, and its handle
//! is `Rc`, so it cannot be shared by parallel workers. The on-disk format (the kernel's
//! `Documentation/filesystems/ext4/`) is stable and the parts needed to read are small.
//!
//! The journal is not replayed. A cleanly unmounted file system has nothing to replay;
//! a dirty one (`needs_recovery`) is read in its on-disk state, as sleuthkit reads it —
//! what a mount would show after replay may differ for the last seconds before the
//! machine stopped — and `info().notes` says so, so the examiner knows. Replay would
//! make recorded metadata come from journal blocks, not from where `istat` finds it;
//! it may be added as an option. Checksums (`metadata_csum`) are not verified: a
//! damaged structure is caught by its own bounds instead. Encrypted (fscrypt) files and
//! directories are recorded as undecodable; names in encrypted directories are not
//! listed. Extended attributes other than inline data are not read.

mod dir;
mod inode;
mod map;

use std::sync::Arc;

use super::ondisk::{DirAncestry, check_name, le16, le32};
use super::{DirEntry, FileSystem, FsError, FsInfo, Layout, Node, NodeId, NodeKind};
use crate::source::image::media::ReadAt;
use inode::*;

const ROOT_INO: u32 = 2;

const INCOMPAT_COMPRESSION: u32 = 0x1;
const INCOMPAT_FILETYPE: u32 = 0x2;
const INCOMPAT_RECOVER: u32 = 0x4;
const INCOMPAT_JOURNAL_DEV: u32 = 0x8;
const INCOMPAT_META_BG: u32 = 0x10;
const INCOMPAT_64BIT: u32 = 0x80;
const INCOMPAT_DIRDATA: u32 = 0x1000;
const INCOMPAT_LARGEDIR: u32 = 0x4000;
const RO_SPARSE_SUPER: u32 = 0x1;
const COMPAT_SPARSE_SUPER2: u32 = 0x200;

const COMPAT_NAMES: &[(u32, &str)] = &[
    (0x1, "dir_prealloc"),
    (0x2, "imagic_inodes"),
    (0x4, "has_journal"),
    (0x8, "ext_attr"),
    (0x10, "resize_inode"),
    (0x20, "dir_index"),
    (0x200, "sparse_super2"),
    (0x400, "fast_commit"),
    (0x1000, "orphan_file"),
];
const INCOMPAT_NAMES: &[(u32, &str)] = &[
    (0x1, "compression"),
    (0x2, "filetype"),
    (0x4, "needs_recovery"),
    (0x8, "journal_dev"),
    (0x10, "meta_bg"),
    (0x40, "extent"),
    (0x80, "64bit"),
    (0x100, "mmp"),
    (0x200, "flex_bg"),
    (0x400, "ea_inode"),
    (0x1000, "dirdata"),
    (0x2000, "metadata_csum_seed"),
    (0x4000, "large_dir"),
    (0x8000, "inline_data"),
    (0x10000, "encrypt"),
    (0x20000, "casefold"),
];
const RO_NAMES: &[(u32, &str)] = &[
    (0x1, "sparse_super"),
    (0x2, "large_file"),
    (0x8, "huge_file"),
    (0x10, "uninit_bg"),
    (0x20, "dir_nlink"),
    (0x40, "extra_isize"),
    (0x100, "quota"),
    (0x200, "bigalloc"),
    (0x400, "metadata_csum"),
    (0x1000, "read-only"),
    (0x2000, "project"),
    (0x8000, "verity"),
    (0x10000, "orphan_present"),
];

pub struct Ext4 {
    volume: Arc<dyn ReadAt>,
    block_size: u64,
    blocks_count: u64,
    inodes_count: u32,
    inodes_per_group: u32,
    inode_size: u64,
    /// Inode table's first block, per group.
    inode_tables: Vec<u64>,
    incompat: u32,
    kind: &'static str,
    label: Option<String>,
    uuid: [u8; 16],
    notes: Vec<String>,
    ancestry: DirAncestry,
}

fn bad_sb(at: u64, what: impl Into<String>) -> FsError {
    FsError::new(
        "bad_superblock",
        Some(1024 + at),
        format!("not an ext2/3/4 file system: {}", what.into()),
    )
}

fn feature_names(bits: u32, names: &[(u32, &str)]) -> Vec<String> {
    let mut out: Vec<String> = names
        .iter()
        .filter(|(b, _)| bits & b != 0)
        .map(|(_, n)| (*n).to_string())
        .collect();
    let known = names.iter().fold(0, |a, (b, _)| a | b);
    if bits & !known != 0 {
        out.push(format!("unknown({:#x})", bits & !known));
    }
    out
}

impl Ext4 {
    /// Open the ext2/3/4 file system on `volume`. A superblock or group descriptor
    /// table that cannot be right is a one-line error naming the field and its offset.
    pub fn open(volume: Arc<dyn ReadAt>) -> Result<Ext4, FsError> {
        let mut sb = [0u8; 1024];
        volume.read_exact_at(1024, &mut sb).map_err(|e| {
            FsError::new(
                "truncated",
                Some(1024),
                format!("cannot read the superblock: {e}"),
            )
        })?;
        if le16(&sb, 56) != 0xEF53 {
            return Err(bad_sb(
                56,
                format!("magic {:#06x}, not 0xef53", le16(&sb, 56)),
            ));
        }
        let log = le32(&sb, 24);
        if log > 6 {
            return Err(bad_sb(
                24,
                format!("block size 2^{} bytes", 10 + u64::from(log)),
            ));
        }
        let block_size = 1024u64 << log;
        let incompat = le32(&sb, 96);
        let ro_compat = le32(&sb, 100);
        let compat = le32(&sb, 92);
        let blocks_count = u64::from(le32(&sb, 4))
            | if incompat & INCOMPAT_64BIT != 0 {
                u64::from(le32(&sb, 336)) << 32
            } else {
                0
            };
        let first_data_block = u64::from(le32(&sb, 20));
        let blocks_per_group = u64::from(le32(&sb, 32));
        let inodes_per_group = le32(&sb, 40);
        let inodes_count = le32(&sb, 0);
        if blocks_per_group == 0 || blocks_per_group > 8 * block_size {
            return Err(bad_sb(32, format!("{blocks_per_group} blocks per group")));
        }
        if inodes_per_group == 0 || u64::from(inodes_per_group) > 8 * block_size {
            return Err(bad_sb(40, format!("{inodes_per_group} inodes per group")));
        }
        if blocks_count.checked_mul(block_size).is_none() {
            return Err(bad_sb(
                4,
                format!("{blocks_count} blocks of {block_size} bytes overflow 64 bits"),
            ));
        }
        if first_data_block >= blocks_count {
            return Err(bad_sb(
                20,
                format!("first data block {first_data_block} of {blocks_count}"),
            ));
        }
        let rev = le32(&sb, 76);
        let inode_size = if rev == 0 {
            128
        } else {
            u64::from(le16(&sb, 88))
        };
        if inode_size < 128 || !inode_size.is_power_of_two() || inode_size > block_size {
            return Err(bad_sb(88, format!("inode size {inode_size}")));
        }
        for (bit, what) in [
            (INCOMPAT_COMPRESSION, "compression"),
            (
                INCOMPAT_JOURNAL_DEV,
                "an external journal device, not a file system",
            ),
            (INCOMPAT_DIRDATA, "Lustre dirdata"),
        ] {
            if incompat & bit != 0 {
                return Err(FsError::new(
                    "unsupported",
                    Some(1024 + 96),
                    format!("ext feature not supported: {what}"),
                ));
            }
        }
        if ro_compat & 0x200 != 0 {
            return Err(FsError::new(
                "unsupported",
                Some(1024 + 100),
                "ext feature not supported: bigalloc",
            ));
        }
        let desc_size = if incompat & INCOMPAT_64BIT != 0 {
            u64::from(le16(&sb, 254))
        } else {
            32
        };
        if desc_size < 32 || !desc_size.is_power_of_two() || desc_size > block_size {
            return Err(bad_sb(254, format!("group descriptor size {desc_size}")));
        }
        let groups = (blocks_count - first_data_block).div_ceil(blocks_per_group);
        if groups.saturating_mul(desc_size) > volume.size() {
            return Err(bad_sb(
                4,
                format!(
                    "{groups} block groups: their descriptors alone are larger than the volume"
                ),
            ));
        }
        if u64::from(inodes_count) > groups * u64::from(inodes_per_group) {
            return Err(bad_sb(
                0,
                format!("{inodes_count} inodes in {groups} groups of {inodes_per_group}"),
            ));
        }
        let per_block = block_size / desc_size;
        let first_meta_bg = u64::from(le32(&sb, 260));
        let backups = [u64::from(le32(&sb, 0x24C)), u64::from(le32(&sb, 0x250))];
        let has_super = |g: u64| -> bool {
            if compat & COMPAT_SPARSE_SUPER2 != 0 {
                return g == 0 || backups.contains(&g);
            }
            if ro_compat & RO_SPARSE_SUPER == 0 || g <= 1 {
                return true;
            }
            [3u64, 5, 7].iter().any(|&p| {
                let mut n = p;
                while n < g {
                    n *= p;
                }
                n == g
            })
        };
        let mut inode_tables = Vec::with_capacity(groups as usize);
        let mut block = vec![0u8; block_size as usize];
        for b in 0..groups.div_ceil(per_block) {
            let at_block = if incompat & INCOMPAT_META_BG == 0 || b < first_meta_bg {
                first_data_block + 1 + b
            } else {
                let g = b * per_block;
                first_data_block + g * blocks_per_group + u64::from(has_super(g))
            };
            let at = at_block * block_size;
            volume.read_exact_at(at, &mut block).map_err(|e| {
                FsError::new(
                    "truncated",
                    Some(at),
                    format!("cannot read group descriptors: {e}"),
                )
            })?;
            for i in 0..per_block {
                if inode_tables.len() as u64 == groups {
                    break;
                }
                let d = (i * desc_size) as usize;
                let lo = u64::from(le32(&block, d + 8));
                let hi = if desc_size >= 64 {
                    u64::from(le32(&block, d + 0x28))
                } else {
                    0
                };
                inode_tables.push(lo | (hi << 32));
            }
        }
        let kind = if incompat & !(INCOMPAT_FILETYPE | INCOMPAT_RECOVER | INCOMPAT_META_BG) != 0
            || ro_compat & !(0x1 | 0x2 | 0x4) != 0
        {
            "ext4"
        } else if compat & 0x4 != 0 {
            "ext3"
        } else {
            "ext2"
        };
        let mut uuid = [0u8; 16];
        uuid.copy_from_slice(&sb[104..120]);
        let label_raw = &sb[120..136];
        let end = label_raw.iter().position(|&b| b == 0).unwrap_or(16);
        let label = (end > 0).then(|| String::from_utf8_lossy(&label_raw[..end]).into_owned());
        let mut notes = Vec::new();
        let mut features = feature_names(compat, COMPAT_NAMES);
        features.extend(feature_names(incompat, INCOMPAT_NAMES));
        features.extend(feature_names(ro_compat, RO_NAMES));
        notes.push(format!("features: {}", features.join(" ")));
        if incompat & INCOMPAT_RECOVER != 0 {
            notes.push(
                "the journal needs recovery: it was not replayed, so this is the on-disk state (as sleuthkit reads it); a mount would replay the journal first"
                    .into(),
            );
        }
        let state = le16(&sb, 58);
        if state & 1 == 0 {
            notes.push("not cleanly unmounted (s_state)".into());
        }
        if state & 2 != 0 {
            notes.push("the kernel recorded errors on this file system (s_state)".into());
        }
        let size = blocks_count * block_size;
        if size > volume.size() {
            notes.push(format!(
                "the file system is {size} bytes but the volume only {}: data past the end is unreadable",
                volume.size()
            ));
        }
        Ok(Ext4 {
            volume,
            block_size,
            blocks_count,
            inodes_count,
            inodes_per_group,
            inode_size,
            inode_tables,
            incompat,
            kind,
            label,
            uuid,
            notes,
            ancestry: DirAncestry::default(),
        })
    }

    fn geometry(&self) -> map::Geometry<'_> {
        map::Geometry {
            volume: self.volume.as_ref(),
            block_size: self.block_size,
            blocks_count: self.blocks_count,
        }
    }

    fn inode(&self, id: NodeId) -> Result<Inode, FsError> {
        let ino = u32::try_from(id.0)
            .ok()
            .filter(|&i| i >= 1 && i <= self.inodes_count)
            .ok_or_else(|| {
                FsError::new(
                    "bad_inode",
                    None,
                    format!("inode {} is outside 1..={}", id.0, self.inodes_count),
                )
            })?;
        let group = ((ino - 1) / self.inodes_per_group) as usize;
        let index = u64::from((ino - 1) % self.inodes_per_group);
        let table = self.inode_tables.get(group).copied().unwrap_or(0);
        let at = table
            .checked_mul(self.block_size)
            .and_then(|t| t.checked_add(index * self.inode_size));
        let Some(at) = at
            .filter(|&a| table != 0 && a + self.inode_size <= self.blocks_count * self.block_size)
        else {
            return Err(FsError::new(
                "extent_outside_volume",
                Some(table.saturating_mul(self.block_size)),
                format!(
                    "inode {ino}: its group's inode table at block {table} lies outside the file system"
                ),
            ));
        };
        let mut raw = vec![0u8; self.inode_size as usize];
        self.volume
            .read_exact_at(at, &mut raw)
            .map_err(|e| FsError::io(at, &e))?;
        Ok(Inode::new(ino, at, raw))
    }

    /// The stored bytes of a symlink's target (fast: in `i_block`; slow: in its blocks;
    /// or inline data).
    fn link_target(&self, ino: &Inode) -> Result<Vec<u8>, FsError> {
        let size = ino.size(false);
        if size > 4096 {
            return Err(FsError::new(
                "bad_symlink",
                Some(ino.offset),
                format!(
                    "inode {}: a {size}-byte symlink target (PATH_MAX is 4096)",
                    ino.ino
                ),
            ));
        }
        match self.data_layout(ino, size)? {
            Layout::Resident { bytes, .. } => Ok(bytes),
            Layout::Extents { extents, .. } => {
                let mut out = Vec::with_capacity(size as usize);
                for e in extents {
                    let start = out.len();
                    out.resize(start + e.len as usize, 0);
                    if let Some(at) = e.volume_offset {
                        self.volume
                            .read_exact_at(at, &mut out[start..])
                            .map_err(|err| FsError::io(at, &err))?;
                    }
                }
                Ok(out)
            }
            _ => Err(FsError::new(
                "undecodable",
                Some(ino.offset),
                "encrypted symlink target",
            )),
        }
    }

    fn is_fast_symlink(&self, ino: &Inode) -> bool {
        let ea_sectors = if ino.file_acl() != 0 {
            self.block_size / 512
        } else {
            0
        };
        ino.flags() & (FL_EXTENTS | FL_INLINE_DATA) == 0
            && ino.blocks().saturating_sub(ea_sectors) == 0
            && ino.size(false) < 60
    }

    fn data_layout(&self, ino: &Inode, size: u64) -> Result<Layout, FsError> {
        let flags = ino.flags();
        if flags & FL_ENCRYPT != 0 {
            return Ok(Layout::Undecodable {
                reason: "ext4 encryption (fscrypt): the stored bytes are ciphertext".into(),
            });
        }
        if flags & FL_INLINE_DATA != 0 {
            return Ok(Layout::Resident {
                bytes: ino.inline_data(size)?,
                volume_offset: Some(ino.offset + 40),
            });
        }
        if ino.kind() == NodeKind::Symlink && self.is_fast_symlink(ino) {
            let mut bytes = ino.i_block().to_vec();
            bytes.truncate(size as usize);
            return Ok(Layout::Resident {
                bytes,
                volume_offset: Some(ino.offset + 40),
            });
        }
        let g = self.geometry();
        let extents = if flags & FL_EXTENTS != 0 {
            map::extent_tree(&g, ino.ino, &ino.i_block(), ino.offset + 40, size)?
        } else {
            map::block_map(&g, ino.ino, &ino.i_block(), size)?
        };
        Ok(Layout::Extents { size, extents })
    }

    fn flag_names(ino: &Inode) -> Vec<&'static str> {
        let f = ino.flags();
        let mut out = Vec::new();
        for (bit, name) in [
            (FL_IMMUTABLE, "immutable"),
            (FL_APPEND, "append_only"),
            (FL_ENCRYPT, "encrypted"),
            (FL_INLINE_DATA, "inline_data"),
            (FL_VERITY, "verity"),
            (FL_CASEFOLD, "casefold"),
            (FL_INDEX, "hashed_dir"),
            (FL_HUGE_FILE, "huge_file"),
        ] {
            if f & bit != 0 {
                out.push(name);
            }
        }
        out
    }
}

impl FileSystem for Ext4 {
    fn info(&self) -> FsInfo {
        let u = &self.uuid;
        let hex =
            |r: std::ops::Range<usize>| u[r].iter().map(|b| format!("{b:02x}")).collect::<String>();
        FsInfo {
            kind: self.kind,
            label: self.label.clone(),
            serial: Some(format!(
                "{}-{}-{}-{}-{}",
                hex(0..4),
                hex(4..6),
                hex(6..8),
                hex(8..10),
                hex(10..16)
            )),
            block_size: self.block_size,
            size: self.blocks_count * self.block_size,
            notes: self.notes.clone(),
        }
    }

    fn root(&self) -> NodeId {
        NodeId(u64::from(ROOT_INO))
    }

    fn read_dir(&self, id: NodeId) -> Result<Vec<DirEntry>, FsError> {
        let ino = self.inode(id)?;
        if ino.kind() != NodeKind::Dir {
            return Err(FsError::new(
                "not_a_directory",
                Some(ino.offset),
                format!("inode {} is not a directory", ino.ino),
            ));
        }
        if ino.flags() & FL_ENCRYPT != 0 {
            return Err(FsError::new(
                "undecodable",
                Some(ino.offset),
                format!(
                    "inode {}: an encrypted directory (its names are ciphertext)",
                    ino.ino
                ),
            ));
        }
        let file_type = self.incompat & INCOMPAT_FILETYPE != 0;
        let size = ino.size(self.incompat & INCOMPAT_LARGEDIR != 0);
        let mut records = Vec::new();
        match self.data_layout(&ino, size)? {
            Layout::Resident { bytes, .. } => {
                // Inline directory: the parent's inode number, then records in the rest
                // of i_block, then more in the system.data attribute.
                let in_block = bytes.len().min(60);
                if in_block > 4 {
                    dir::parse(
                        &bytes[4..in_block],
                        ino.offset + 44,
                        file_type,
                        &mut records,
                    )?;
                }
                if bytes.len() > 60 {
                    dir::parse(&bytes[60..], ino.offset, file_type, &mut records)?;
                }
            }
            Layout::Extents { extents, .. } => {
                let mut block = vec![0u8; self.block_size as usize];
                for e in extents {
                    let Some(at) = e.volume_offset else { continue };
                    let mut off = 0;
                    while off < e.len {
                        let n = (e.len - off).min(self.block_size) as usize;
                        self.volume
                            .read_exact_at(at + off, &mut block[..n])
                            .map_err(|err| FsError::io(at + off, &err))?;
                        dir::parse(&block[..n], at + off, file_type, &mut records)?;
                        off += n as u64;
                    }
                }
            }
            _ => {
                return Err(FsError::new(
                    "undecodable",
                    Some(ino.offset),
                    "directory data cannot be decoded",
                ));
            }
        }
        let mut out = Vec::with_capacity(records.len());
        let mut subdirs = Vec::new();
        for r in records {
            check_name(&r.name, r.offset)?;
            if r.ino == ino.ino {
                return Err(FsError::new(
                    "directory_loop",
                    Some(r.offset),
                    format!("directory inode {} contains an entry for itself", ino.ino),
                ));
            }
            if r.kind == NodeKind::Dir {
                subdirs.push(u64::from(r.ino));
            }
            out.push(DirEntry {
                name: r.name,
                id: NodeId(u64::from(r.ino)),
                kind: r.kind,
            });
        }
        if let Err(child) = self.ancestry.check_and_record(u64::from(ino.ino), &subdirs) {
            return Err(FsError::new(
                "directory_loop",
                Some(ino.offset),
                format!(
                    "directory inode {} lists its own ancestor, inode {child}: a cycle",
                    ino.ino
                ),
            ));
        }
        Ok(out)
    }

    fn node(&self, id: NodeId) -> Result<Node, FsError> {
        let ino = self.inode(id)?;
        let kind = ino.kind();
        let link_target = if kind == NodeKind::Symlink {
            Some(self.link_target(&ino)?)
        } else {
            None
        };
        Ok(Node {
            id,
            kind,
            size: ino.size(self.incompat & INCOMPAT_LARGEDIR != 0),
            times: ino.times(),
            name_times: None,
            mode: Some(u32::from(ino.mode())),
            uid: Some(ino.uid()),
            gid: Some(ino.gid()),
            nlink: Some(u64::from(ino.links())),
            sequence: Some(ino.generation()),
            link_target,
            streams: Vec::new(),
            reparse: None,
            flags: Self::flag_names(&ino),
            allocated: ino.links() > 0,
        })
    }

    fn layout(&self, id: NodeId, stream: Option<&[u8]>) -> Result<Layout, FsError> {
        if stream.is_some() {
            return Err(FsError::new(
                "no_such_stream",
                None,
                "ext file systems have no named streams",
            ));
        }
        let ino = self.inode(id)?;
        match ino.kind() {
            NodeKind::File | NodeKind::Dir | NodeKind::Symlink => {
                let size = ino.size(self.incompat & INCOMPAT_LARGEDIR != 0);
                self.data_layout(&ino, size)
            }
            other => Err(FsError::new(
                "not_regular",
                Some(ino.offset),
                format!(
                    "inode {} is a {}: recorded, it has no data to read",
                    ino.ino,
                    other.record_name()
                ),
            )),
        }
    }

    fn volume(&self) -> &Arc<dyn ReadAt> {
        &self.volume
    }
}

/// Open the bytes as ext2/3/4 and read everything reachable, within bounds (the fuzz
/// harness's entry point; must never panic or hang).
#[doc(hidden)]
pub fn fuzz_entry(data: &[u8]) {
    let volume: Arc<dyn ReadAt> = Arc::new(data.to_vec());
    if let Ok(fs) = Ext4::open(volume) {
        super::ondisk::exercise(&fs);
    }
}
