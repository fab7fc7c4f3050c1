//! NTFS, read-only: the boot sector, the `$MFT` (its own run list, also when an
//! attribute list spreads it), file records with their update sequences, attribute
//! lists, resident and non-resident `$DATA` (sparse runs and the bytes past the valid
//! data length as holes), named streams (alternate data streams, `$Secure:$SDS`,
//! `$UsnJrnl:$J`), `$I30` directory indexes, hard links (every name of a record gives
//! the same `NodeId`: record number | sequence << 48), reparse points (tag; target of
//! symbolic links and junctions), ntfs-3g's Interix symbolic links, and deleted entries
//! (records not in use) with the state of their clusters in `$Bitmap`.
//!
//! Owns `Ntfs`, the `FileSystem` for NTFS. Never writes (it only has `ReadAt`), never
//! returns bytes it cannot decode: LZNT1-compressed streams are `Layout::Compressed`
//! (the layout reader refuses them: the record says `undecodable`), EFS-encrypted ones,
//! WOF/CompactOS (reparse tag 0x80000017) and Data Deduplication (0x80000013) files are
//! `Layout::Undecodable` with that reason. Every loop is bounded: attributes by the
//! record's size, run lists by their bytes, attribute lists by their entries (and never
//! followed from an extension record), index B-trees by a visited set (`index_loop`),
//! parent chains of deleted entries by depth and a visited set. A record whose update
//! sequence does not match is a `bad_fixup` error for that entry, with its byte offset;
//! the rest of the volume is still read.
//!
//! Why not the `ntfs` crate (0.4.0, Colin Finck), as preferred: checked against this
//! reader's needs it (1) panics on a malformed record — a non-resident attribute header
//! cut short at the record's end makes `NtfsAttribute::value` slice out of range
//! (attribute.rs:318; found with an mkntfs image and one edited attribute), and the
//! collector must never panic on evidence; (2) does not expose the initialized size
//! (valid data length: bytes past it must read as zeros, not as what the clusters hold)
//! nor the compression unit; (3) gives data runs only for a value held in one attribute,
//! not for one an attribute list spreads over extension records (`$MFT` and big
//! fragmented files), and reads `$MFT` assuming it has no attribute list; (4) walks an
//! index B-tree without a bound, so a subnode pointer that leads back never ends;
//! (5) decodes record 0's run list again for every record looked up. What is parsed here
//! is the narrow, stable part of the format (record header and fixups, attribute
//! headers, mapping pairs, index nodes, four value layouts), each bounds-checked field
//! by field; compression is not decoded at all.
//!
//! The `$LogFile` is not replayed (as sleuthkit reads it); a volume marked dirty says so
//! in `info().notes`.

mod deleted;
mod index;
mod live;
mod record;
mod runs;
mod values;

use std::sync::Arc;

use super::ondisk::{le16, le64, utf16_to_wtf8};
use super::{
    DirEntry, Extent, FileSystem, FsError, FsInfo, Layout, Node, NodeId, NodeKind, Reparse,
    StreamInfo,
};
use crate::source::image::media::ReadAt;
use record::{
    AT_DATA, AT_EFS, AT_FILE_NAME, AT_REPARSE_POINT, AT_STANDARD_INFORMATION,
    AT_VOLUME_INFORMATION, AT_VOLUME_NAME, Attr, Body, Record, bad,
};
use values::*;

pub use live::RecordState;

const REF_MASK: u64 = 0x0000_FFFF_FFFF_FFFF;
const ROOT_RECORD: u64 = 5;
/// Largest reparse point read (Windows limits them to 16 KiB).
const MAX_REPARSE: u64 = 16 * 1024;
/// Largest Interix symlink read (`IntxLNK\1` + a UTF-16 path).
const MAX_INTERIX: u64 = 8 + 2 * 4096;

pub struct Ntfs {
    volume: Arc<dyn ReadAt>,
    cluster_size: u64,
    record_size: u64,
    total_clusters: u64,
    /// Bytes the file system says it spans (total sectors × sector size).
    fs_size: u64,
    serial: u64,
    /// The `$MFT`'s `$DATA`, as extents of the volume.
    mft_extents: Vec<Extent>,
    mft_size: u64,
    /// Records the `$MFT`'s run list claims, also those past the volume's end (a cut
    /// image), which `mft_size` leaves out: the deleted scan says how many it missed.
    mft_claimed_records: u64,
    root: NodeId,
    label: Option<String>,
    notes: Vec<String>,
}

fn boot_error(at: u64, what: impl Into<String>) -> FsError {
    FsError::new(
        "bad_boot_sector",
        Some(at),
        format!("not a usable NTFS boot sector: {}", what.into()),
    )
}

impl Ntfs {
    /// Open the NTFS file system on `volume`: check the boot sector, read the `$MFT`'s
    /// own record and run list, and the volume's label and version. A boot sector that
    /// cannot be right, or an `$MFT` record that does not parse, is a one-line error
    /// naming the field and its offset.
    pub fn open(volume: Arc<dyn ReadAt>) -> Result<Ntfs, FsError> {
        let mut b = [0u8; 512];
        volume.read_exact_at(0, &mut b).map_err(|e| {
            FsError::new(
                "truncated",
                Some(0),
                format!("cannot read the boot sector: {e}"),
            )
        })?;
        if &b[3..11] != b"NTFS    " {
            return Err(boot_error(3, "no NTFS OEM id"));
        }
        let bps = u64::from(le16(&b, 11));
        if !bps.is_power_of_two() || !(256..=4096).contains(&bps) {
            return Err(boot_error(11, format!("{bps} bytes per sector")));
        }
        let spc_raw = b[13];
        let spc: u64 = if spc_raw > 0x80 {
            let shift = 256 - u32::from(spc_raw);
            if shift > 16 {
                return Err(boot_error(13, format!("sectors per cluster 2^{shift}")));
            }
            1 << shift
        } else if spc_raw.is_power_of_two() {
            u64::from(spc_raw)
        } else {
            return Err(boot_error(13, format!("{spc_raw} sectors per cluster")));
        };
        let cluster_size = bps * spc;
        if cluster_size > 2 << 20 {
            return Err(boot_error(13, format!("cluster size {cluster_size}")));
        }
        let size_of = |raw: u8, at: u64| -> Result<u64, FsError> {
            let v = raw as i8;
            let size = if v > 0 {
                u64::from(v as u8) * cluster_size
            } else {
                let shift = u32::from(v.unsigned_abs());
                if shift > 20 {
                    return Err(boot_error(at, format!("record size 2^{shift}")));
                }
                1u64 << shift
            };
            if !size.is_power_of_two() || !(512..=65536).contains(&size) {
                return Err(boot_error(at, format!("record size {size}")));
            }
            Ok(size)
        };
        let record_size = size_of(b[0x40], 0x40)?;
        let total_sectors = le64(&b, 0x28);
        let fs_size = total_sectors
            .checked_mul(bps)
            .ok_or_else(|| boot_error(0x28, format!("{total_sectors} sectors")))?;
        let total_clusters = fs_size / cluster_size;
        let mft_lcn = le64(&b, 0x30);
        if mft_lcn == 0 || mft_lcn >= total_clusters {
            return Err(boot_error(
                0x30,
                format!("$MFT at cluster {mft_lcn} of {total_clusters}"),
            ));
        }
        let mut notes = Vec::new();
        if fs_size > volume.size() {
            notes.push(format!(
                "the file system spans {fs_size} bytes but the volume holds {}: files past \
                 its end are errors",
                volume.size()
            ));
        }
        // Bootstrap: record 0 lies at the start of the $MFT's first run.
        let mut fs = Ntfs {
            volume,
            cluster_size,
            record_size,
            total_clusters,
            fs_size,
            serial: le64(&b, 0x48),
            mft_extents: vec![Extent {
                file_offset: 0,
                len: record_size,
                volume_offset: Some(mft_lcn * cluster_size),
            }],
            mft_size: record_size,
            mft_claimed_records: 1,
            root: NodeId(ROOT_RECORD),
            label: None,
            notes,
        };
        let rec0 = fs.record(0).map_err(|e| mft_error(&e))?;
        let own: Vec<&Attr> = rec0
            .attrs
            .iter()
            .filter(|a| a.ty == AT_DATA && a.name.is_empty())
            .collect();
        fs.set_mft(&own).map_err(|e| mft_error(&e))?;
        // An attribute list spreads the $MFT's runs over extension records (read through
        // the runs known so far, which always hold them).
        let all = fs.attributes(&rec0).map_err(|e| mft_error(&e))?;
        let data: Vec<&Attr> = all
            .iter()
            .filter(|a| a.ty == AT_DATA && a.name.is_empty())
            .collect();
        if data.len() > own.len() {
            fs.set_mft(&data).map_err(|e| mft_error(&e))?;
        }
        if let Ok(root) = fs.record(ROOT_RECORD) {
            fs.root = NodeId(root.reference());
        }
        fs.read_volume_facts();
        Ok(fs)
    }

    fn set_mft(&mut self, frags: &[&Attr]) -> Result<(), FsError> {
        match self.value_layout(frags)? {
            Layout::Extents { size, extents } if size >= self.record_size => {
                // Only the part of the $MFT that lies in the volume holds records: a run
                // list that claims more (damage, a cut image) must not make the reader
                // look for millions of records that are not there.
                let vol = self.volume.size();
                let mut usable = 0u64;
                for e in &extents {
                    match e.volume_offset {
                        Some(at) if at < vol => {
                            let n = e.len.min(vol - at);
                            usable = e.file_offset + n;
                            if n < e.len {
                                break;
                            }
                        }
                        _ => break,
                    }
                }
                let usable = usable.min(size) / self.record_size * self.record_size;
                if usable < size {
                    self.notes.push(format!(
                        "the $MFT's runs hold {size} bytes, only the first {usable} lie in \
                         the volume: records past them are not read"
                    ));
                }
                if usable == 0 {
                    return Err(FsError::new(
                        "bad_mft",
                        None,
                        "the $MFT's first run lies outside the volume",
                    ));
                }
                self.mft_extents = extents;
                self.mft_size = usable;
                self.mft_claimed_records = size / self.record_size;
                Ok(())
            }
            _ => Err(FsError::new(
                "bad_mft",
                None,
                "the $MFT's $DATA is not a plain non-resident value",
            )),
        }
    }

    /// Label ($VOLUME_NAME), version and dirty flag ($VOLUME_INFORMATION) of record 3.
    fn read_volume_facts(&mut self) {
        let attrs = match self.record(3).and_then(|r| self.attributes(&r)) {
            Ok(a) => a,
            Err(e) => {
                self.notes
                    .push(format!("$Volume (record 3) unreadable: {e}"));
                return;
            }
        };
        for a in &attrs {
            let Some(v) = a.resident_value() else {
                continue;
            };
            if a.ty == AT_VOLUME_NAME {
                let units: Vec<u16> = v
                    .chunks_exact(2)
                    .map(|c| u16::from_le_bytes([c[0], c[1]]))
                    .collect();
                if !units.is_empty() {
                    self.label = Some(String::from_utf8_lossy(&utf16_to_wtf8(&units)).into_owned());
                }
            } else if a.ty == AT_VOLUME_INFORMATION && v.len() >= 12 {
                self.notes.push(format!("NTFS version {}.{}", v[8], v[9]));
                if le16(v, 10) & 0x1 != 0 {
                    self.notes.push(
                        "the volume is marked dirty (not cleanly unmounted): read as it lies \
                         on disk, $LogFile not replayed"
                            .into(),
                    );
                }
            }
        }
        self.notes.push(format!(
            "$MFT: {} records of {} bytes",
            self.record_count(),
            self.record_size
        ));
    }

    /// A base record by file reference, checked: in the `$MFT`, a base record, and (when
    /// the reference carries one) of the same sequence.
    fn base_record(&self, id: NodeId) -> Result<Record, FsError> {
        let number = id.0 & REF_MASK;
        let seq = (id.0 >> 48) as u16;
        let rec = self.record(number)?;
        if rec.base & REF_MASK != 0 {
            return Err(bad(
                "bad_reference",
                rec.offset,
                format!(
                    "MFT record {number} is an extension record of record {}",
                    rec.base & REF_MASK
                ),
            ));
        }
        if seq != 0 && rec.sequence != seq {
            return Err(bad(
                "stale_reference",
                rec.offset,
                format!(
                    "the reference names MFT record {number} sequence {seq}, the record is at \
                     sequence {} (deleted and reused since)",
                    rec.sequence
                ),
            ));
        }
        Ok(rec)
    }

    fn data_frags<'a>(attrs: &'a [Attr], name: &[u16]) -> Vec<&'a Attr> {
        attrs
            .iter()
            .filter(|a| a.ty == AT_DATA && a.name == name)
            .collect()
    }

    /// The logical size of a stream from its fragments (the first one says).
    fn stream_size(frags: &[&Attr]) -> u64 {
        frags
            .iter()
            .find(|a| match &a.body {
                Body::Resident { .. } => true,
                Body::NonResident(n) => n.lowest_vcn == 0,
            })
            .map_or(0, |a| a.value_size())
    }

    /// The node of a base record whose attributes are gathered.
    fn build_node(&self, rec: &Record, attrs: &[Attr]) -> Node {
        let si = attrs
            .iter()
            .find(|a| a.ty == AT_STANDARD_INFORMATION)
            .and_then(|a| a.resident_value())
            .and_then(standard_information);
        let names: Vec<FileName> = attrs
            .iter()
            .filter(|a| a.ty == AT_FILE_NAME)
            .filter_map(|a| a.resident_value().and_then(file_name))
            .collect();
        let primary = names
            .iter()
            .find(|n| n.namespace != NAMESPACE_DOS)
            .or(names.first());
        let mut streams: Vec<StreamInfo> = Vec::new();
        for a in attrs
            .iter()
            .filter(|a| a.ty == AT_DATA && !a.name.is_empty())
        {
            let name = utf16_to_wtf8(&a.name);
            if streams.iter().any(|s| s.name == name) {
                continue;
            }
            let size = Self::stream_size(&Self::data_frags(attrs, &a.name));
            streams.push(StreamInfo { name, size });
        }
        let reparse = attrs
            .iter()
            .find(|a| a.ty == AT_REPARSE_POINT)
            .and_then(|a| self.attribute_bytes(a, MAX_REPARSE).ok())
            .and_then(|v| reparse_point(&v));
        let data = Self::data_frags(attrs, &[]);
        let attributes = si.as_ref().map_or(0, |s| s.attributes);
        let mut kind = match &reparse {
            Some(r) if matches!(r.tag, TAG_SYMLINK | TAG_MOUNT_POINT) => NodeKind::Symlink,
            _ if rec.is_dir() => NodeKind::Dir,
            _ => NodeKind::File,
        };
        let size = if kind == NodeKind::Dir {
            0
        } else {
            Self::stream_size(&data)
        };
        let mut link_target = None;
        if kind == NodeKind::File
            && attributes & FILE_ATTRIBUTE_SYSTEM != 0
            && (10..=MAX_INTERIX).contains(&size)
            && let Some(a) = data.first()
            && data.len() == 1
            && let Ok(bytes) = self.attribute_bytes(a, MAX_INTERIX)
            && let Some(t) = interix_symlink(&bytes)
        {
            kind = NodeKind::Symlink;
            link_target = Some(t);
        }
        let mut flags = attribute_flag_names(attributes);
        for a in &data {
            for (bit, name) in [
                (record::ATTR_COMPRESSED, "compressed"),
                (record::ATTR_ENCRYPTED, "encrypted"),
                (record::ATTR_SPARSE, "sparse"),
            ] {
                if a.flags & bit != 0 && !flags.contains(&name) {
                    flags.push(name);
                }
            }
        }
        if data.first().is_some_and(|a| a.resident_value().is_some()) {
            flags.push("resident");
        }
        if link_target.is_some() {
            flags.push("interix_symlink");
        }
        if !rec.in_use() {
            flags.push("deleted");
        }
        Node {
            id: NodeId(rec.reference()),
            kind,
            size,
            times: si.map(|s| s.times).unwrap_or_default(),
            name_times: primary.map(|n| n.times),
            mode: None,
            uid: None,
            gid: None,
            nlink: Some(
                names
                    .iter()
                    .filter(|n| n.namespace != NAMESPACE_DOS)
                    .count() as u64,
            ),
            sequence: Some(u32::from(rec.sequence)),
            link_target,
            streams,
            reparse: reparse.map(|r| Reparse {
                tag: r.tag,
                target: r.target,
            }),
            flags,
            allocated: rec.in_use(),
        }
    }

    fn layout_of(
        &self,
        rec: &Record,
        attrs: &[Attr],
        stream: Option<&[u8]>,
    ) -> Result<Layout, FsError> {
        let si_attributes = attrs
            .iter()
            .find(|a| a.ty == AT_STANDARD_INFORMATION)
            .and_then(|a| a.resident_value())
            .and_then(standard_information)
            .map_or(0, |s| s.attributes);
        let encrypted = si_attributes & FILE_ATTRIBUTE_ENCRYPTED != 0
            || attrs
                .iter()
                .any(|a| a.ty == AT_EFS && utf16_to_wtf8(&a.name) == b"$EFS");
        let frags: Vec<&Attr> = attrs
            .iter()
            .filter(|a| {
                a.ty == AT_DATA
                    && match stream {
                        None => a.name.is_empty(),
                        Some(s) => !a.name.is_empty() && utf16_to_wtf8(&a.name) == s,
                    }
            })
            .collect();
        if frags.is_empty() {
            let what = match stream {
                None if rec.is_dir() => "a directory has no default data stream".to_string(),
                None => "no $DATA attribute".to_string(),
                Some(s) => format!("no stream named {:?}", String::from_utf8_lossy(s)),
            };
            return Err(bad(
                "no_data",
                rec.offset,
                format!("MFT record {}: {what}", rec.number),
            ));
        }
        if encrypted {
            return Ok(Layout::Undecodable {
                reason: format!(
                    "MFT record {}: EFS-encrypted ($EFS): fieldkit cannot decrypt it",
                    rec.number
                ),
            });
        }
        if stream.is_none()
            && let Some(a) = attrs.iter().find(|a| a.ty == AT_REPARSE_POINT)
            && let Ok(v) = self.attribute_bytes(a, MAX_REPARSE)
            && let Some(r) = reparse_point(&v)
        {
            let why = match r.tag {
                TAG_WOF => Some(
                    "WOF/CompactOS-compressed (reparse tag 0x80000017; data in the \
                     WofCompressedData stream, XPRESS/LZX): fieldkit does not decode it",
                ),
                TAG_DEDUP => Some(
                    "Data Deduplication reparse point (tag 0x80000013): the content is in \
                     the chunk store, fieldkit does not reassemble it",
                ),
                _ => None,
            };
            if let Some(why) = why {
                return Ok(Layout::Undecodable {
                    reason: format!("MFT record {}: {why}", rec.number),
                });
            }
        }
        self.value_layout(&frags)
    }
}

fn mft_error(e: &FsError) -> FsError {
    FsError::new(
        if e.reason == "bad_fixup" {
            "bad_fixup"
        } else {
            "bad_mft"
        },
        e.offset,
        format!("the $MFT's own record (record 0) is unusable: {}", e.detail),
    )
}

impl FileSystem for Ntfs {
    fn info(&self) -> FsInfo {
        FsInfo {
            kind: "ntfs",
            label: self.label.clone(),
            serial: Some(format!("{:016X}", self.serial)),
            block_size: self.cluster_size,
            size: self.fs_size,
            notes: self.notes.clone(),
        }
    }

    fn root(&self) -> NodeId {
        self.root
    }

    fn read_dir(&self, dir: NodeId) -> Result<Vec<DirEntry>, FsError> {
        let rec = self.base_record(dir)?;
        if !rec.is_dir() {
            return Err(bad(
                "not_a_directory",
                rec.offset,
                format!("MFT record {} is not a directory", rec.number),
            ));
        }
        let attrs = self.attributes(&rec)?;
        self.list_dir(&rec, &attrs)
    }

    fn node(&self, id: NodeId) -> Result<Node, FsError> {
        let rec = self.base_record(id)?;
        let attrs = self.attributes(&rec)?;
        Ok(self.build_node(&rec, &attrs))
    }

    fn layout(&self, id: NodeId, stream: Option<&[u8]>) -> Result<Layout, FsError> {
        let rec = self.base_record(id)?;
        let attrs = self.attributes(&rec)?;
        self.layout_of(&rec, &attrs, stream)
    }

    fn deleted(&self) -> Result<super::DeletedScan, FsError> {
        Ok(self.scan_deleted())
    }

    fn volume(&self) -> &Arc<dyn ReadAt> {
        &self.volume
    }
}

/// Magic of a packed fuzz input: `FKSPARSE`, the volume's size (u64 LE), then pieces of
/// `offset` (u64 LE), `len` (u32 LE) and `len` bytes; every other byte is zero.
const FUZZ_PACKED: &[u8; 8] = b"FKSPARSE";
/// Largest volume a packed fuzz input unpacks to.
const FUZZ_MAX_VOLUME: u64 = 4 << 20;

/// A fuzz input as a volume: the bytes themselves, or a packed input unpacked. The
/// smallest mkntfs volume (1 MiB) puts `$MFTMirr` in its middle and its files' clusters
/// after a 256 KiB `$LogFile`, so a useful seed would be most of a megabyte of zeros and
/// 0xFF; packed, it is its non-zero sectors only (fuzz/make-seeds.sh). Pieces past the
/// size or the cap are dropped; a cut-short piece keeps what is there.
pub(crate) fn fuzz_volume(data: &[u8]) -> Vec<u8> {
    let Some(rest) = data.strip_prefix(FUZZ_PACKED) else {
        return data.to_vec();
    };
    let Some(size) = rest.get(..8).map(|b| le64(b, 0).min(FUZZ_MAX_VOLUME)) else {
        return Vec::new();
    };
    let mut volume = vec![0u8; size as usize];
    let mut pos = 8usize;
    while let Some(head) = rest.get(pos..pos + 12) {
        let offset = le64(head, 0);
        let len = super::ondisk::le32(head, 8) as usize;
        pos += 12;
        let bytes = &rest[pos..rest.len().min(pos.saturating_add(len))];
        pos = pos.saturating_add(len);
        if let Some(end) = offset.checked_add(bytes.len() as u64)
            && end <= size
        {
            volume[offset as usize..end as usize].copy_from_slice(bytes);
        }
    }
    volume
}

/// Open the bytes (raw, or packed as `fuzz_volume` reads them) as NTFS and read
/// everything reachable, deleted entries included, within bounds (the fuzz harness's
/// entry point; must never panic or hang).
#[doc(hidden)]
pub fn fuzz_entry(data: &[u8]) {
    let volume: Arc<dyn ReadAt> = Arc::new(fuzz_volume(data));
    if let Ok(fs) = Ntfs::open(volume) {
        super::ondisk::exercise(&fs);
    }
}

#[cfg(test)]
mod fuzz_seed_tests {
    use super::*;

    /// The committed fs_ntfs seed unpacks to a volume the reader walks: the fuzz target
    /// starts from real structures (nested folders, an index block, ADS, deleted files),
    /// not from a boot-sector error.
    #[test]
    fn the_packed_fuzz_seed_unpacks_to_a_walkable_volume() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/fuzz/corpus/fs_ntfs/mkntfs-ntfs3g.fksparse"
        );
        let data = std::fs::read(path).unwrap();
        let volume = fuzz_volume(&data);
        assert_eq!(volume.len(), 1040 * 1024);
        let fs = Ntfs::open(Arc::new(volume)).unwrap();
        let names = |id| -> Vec<String> {
            let mut n: Vec<String> = fs
                .read_dir(id)
                .unwrap()
                .iter()
                .map(|e| String::from_utf8_lossy(&e.name).into_owned())
                .collect();
            n.sort();
            n
        };
        let root = names(fs.root());
        for want in ["a.txt", "docs", "many", "link", "sparse.bin", "Windows"] {
            assert!(root.iter().any(|n| n == want), "{want} in {root:?}");
        }
        let many = fs
            .read_dir(fs.root())
            .unwrap()
            .into_iter()
            .find(|e| e.name == b"many")
            .unwrap();
        assert_eq!(names(many.id).len(), 23, "an $I30 index block is read");
        let scan = fs.deleted().unwrap();
        let mut gone: Vec<String> = scan
            .entries
            .iter()
            .map(|d| String::from_utf8_lossy(&d.name).into_owned())
            .collect();
        gone.sort();
        assert_eq!(
            gone,
            [
                "del.txt",
                "deleted-big.txt",
                "entry number 7 with a longer name.txt"
            ]
        );
        assert_eq!(scan.unreadable_total, 0);
        // Raw bytes are taken as they are; a short or damaged packed header is empty.
        assert_eq!(fuzz_volume(b"NTFS"), b"NTFS");
        assert!(fuzz_volume(b"FKSPARSE\x01").is_empty());
        let mut bad = b"FKSPARSE".to_vec();
        bad.extend_from_slice(&16u64.to_le_bytes());
        bad.extend_from_slice(&10u64.to_le_bytes());
        bad.extend_from_slice(&100u32.to_le_bytes());
        bad.extend_from_slice(b"abcdefgh");
        assert_eq!(
            fuzz_volume(&bad),
            vec![0u8; 16],
            "a piece past the size is dropped"
        );
    }
}
