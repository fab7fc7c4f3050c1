//! MFT file records: reading one by number through the `$MFT` run list, checking and
//! applying its update sequence (fixups), and cutting it into attributes — including the
//! attributes an `$ATTRIBUTE_LIST` moves into extension records.
//!
//! Owns `Record` (one fixed-up record and where each of its bytes lies in the volume),
//! `Attr` (one attribute header and its value or run list, bounds-checked) and
//! `RecordMap` (record byte → volume byte, so resident values can be named as byte
//! ranges of the image even where a fixup replaced two of their bytes).
//!
//! Must never: trust a length or offset inside a record before checking it against the
//! record (every field is read through `ondisk` helpers that read 0 past the end, and
//! every slice is `get`), follow an `$ATTRIBUTE_LIST` found in an extension record (no
//! cycles), load more extension records than the list has entries, or return a record
//! whose update sequence does not match (`bad_fixup`, with the byte offset of the sector
//! that failed).

use std::collections::HashSet;
use std::sync::Arc;

use super::super::ondisk::{byte, le16, le32, le64};
use super::super::{Extent, FsError};
use super::Ntfs;

/// NTFS protects every 512-byte block of a multi-sector structure with its update
/// sequence, whatever the sector size.
pub(crate) const FIXUP_BLOCK: usize = 512;

pub(crate) const AT_STANDARD_INFORMATION: u32 = 0x10;
pub(crate) const AT_ATTRIBUTE_LIST: u32 = 0x20;
pub(crate) const AT_FILE_NAME: u32 = 0x30;
pub(crate) const AT_VOLUME_NAME: u32 = 0x60;
pub(crate) const AT_VOLUME_INFORMATION: u32 = 0x70;
pub(crate) const AT_DATA: u32 = 0x80;
pub(crate) const AT_INDEX_ROOT: u32 = 0x90;
pub(crate) const AT_INDEX_ALLOCATION: u32 = 0xA0;
pub(crate) const AT_REPARSE_POINT: u32 = 0xC0;
pub(crate) const AT_EFS: u32 = 0x100; // $LOGGED_UTILITY_STREAM, named $EFS when encrypted
pub(crate) const AT_END: u32 = 0xFFFF_FFFF;

pub(crate) const REC_IN_USE: u16 = 0x1;
pub(crate) const REC_DIRECTORY: u16 = 0x2;

pub(crate) const ATTR_COMPRESSED: u16 = 0x00FF;
pub(crate) const ATTR_ENCRYPTED: u16 = 0x4000;
pub(crate) const ATTR_SPARSE: u16 = 0x8000;

/// Most extension records one file may pull in through its attribute list.
const MAX_EXTENSION_RECORDS: usize = 4096;
/// Largest attribute list read (Windows keeps them far smaller).
pub(crate) const MAX_ATTRIBUTE_LIST: u64 = 1 << 20;

/// Where the bytes of one record lie in the volume: contiguous pieces of the record
/// (usually one; several when a record straddles `$MFT` runs), and for each 512-byte
/// block the volume offset of the two bytes in the update sequence array that the fixup
/// put back at the block's end.
#[derive(Debug)]
pub(crate) struct RecordMap {
    pieces: Vec<(u64, u64, u64)>, // (record offset, len, volume offset)
    fixup_sources: Vec<u64>,
}

impl RecordMap {
    fn volume_offset(&self, rec_off: u64) -> Option<(u64, u64)> {
        self.pieces.iter().find_map(|&(start, len, at)| {
            (rec_off >= start && rec_off < start + len)
                .then(|| (at + (rec_off - start), start + len - rec_off))
        })
    }

    /// The volume extents that hold `len` bytes of the fixed-up record from `start`: the
    /// stored bytes, except the last two of each 512-byte block, which come from the
    /// update sequence array. `None` if a byte is not mapped.
    pub(crate) fn extents(&self, start: u64, len: u64) -> Option<Vec<Extent>> {
        let mut out: Vec<Extent> = Vec::new();
        let mut pos = start;
        let end = start.checked_add(len)?;
        let push = |out: &mut Vec<Extent>, file_offset: u64, len: u64, at: u64| {
            if let Some(last) = out.last_mut()
                && last.volume_offset.is_some_and(|v| v + last.len == at)
            {
                last.len += len;
                return;
            }
            out.push(Extent {
                file_offset,
                len,
                volume_offset: Some(at),
            });
        };
        while pos < end {
            let block = pos / FIXUP_BLOCK as u64;
            let tail = block * FIXUP_BLOCK as u64 + FIXUP_BLOCK as u64 - 2;
            if pos >= tail {
                let src = *self.fixup_sources.get(block as usize)?;
                let within = pos - tail;
                let n = (2 - within).min(end - pos);
                push(&mut out, pos - start, n, src + within);
                pos += n;
                continue;
            }
            let (at, run) = self.volume_offset(pos)?;
            let n = run.min(tail - pos).min(end - pos);
            push(&mut out, pos - start, n, at);
            pos += n;
        }
        Some(out)
    }
}

/// One attribute, as its header says, with its value (resident) or run list.
#[derive(Debug, Clone)]
pub(crate) struct Attr {
    pub ty: u32,
    /// UTF-16 code units of the name (empty for the unnamed attribute).
    pub name: Vec<u16>,
    pub flags: u16,
    pub id: u16,
    /// Volume offset of the attribute header.
    pub offset: u64,
    pub body: Body,
    /// The record the attribute lies in (for resident values' byte ranges).
    pub map: Arc<RecordMap>,
}

#[derive(Debug, Clone)]
pub(crate) enum Body {
    Resident {
        value: Vec<u8>,
        /// Offset of the value inside its record.
        rec_off: u64,
    },
    NonResident(NonResident),
}

#[derive(Debug, Clone)]
pub(crate) struct NonResident {
    pub lowest_vcn: u64,
    pub compression_unit: u8,
    pub allocated_size: u64,
    pub data_size: u64,
    pub initialized_size: u64,
    /// The raw mapping pairs.
    pub runs: Vec<u8>,
    /// Volume offset of the mapping pairs (for errors).
    pub runs_offset: u64,
}

impl Attr {
    pub(crate) fn resident_value(&self) -> Option<&[u8]> {
        match &self.body {
            Body::Resident { value, .. } => Some(value),
            Body::NonResident(_) => None,
        }
    }

    pub(crate) fn value_size(&self) -> u64 {
        match &self.body {
            Body::Resident { value, .. } => value.len() as u64,
            Body::NonResident(n) => n.data_size,
        }
    }
}

/// One file record after the fixup.
#[derive(Debug)]
pub(crate) struct Record {
    pub number: u64,
    /// Volume offset of the record's first byte.
    pub offset: u64,
    pub sequence: u16,
    /// The `$LogFile` sequence number of the record's last logged change (header offset
    /// 8): what a live raw read compares before and after reading the data.
    pub lsn: u64,
    pub flags: u16,
    /// Base record reference (0 for a base record).
    pub base: u64,
    /// Its own attributes (an `$ATTRIBUTE_LIST` not yet followed).
    pub attrs: Vec<Attr>,
}

impl Record {
    pub(crate) fn in_use(&self) -> bool {
        self.flags & REC_IN_USE != 0
    }

    pub(crate) fn is_dir(&self) -> bool {
        self.flags & REC_DIRECTORY != 0
    }

    pub(crate) fn reference(&self) -> u64 {
        (self.number & 0x0000_FFFF_FFFF_FFFF) | (u64::from(self.sequence) << 48)
    }
}

pub(crate) fn bad(reason: &'static str, at: u64, what: impl Into<String>) -> FsError {
    FsError::new(reason, Some(at), what.into())
}

/// Check and apply the update sequence of a multi-sector structure (`FILE` or `INDX`)
/// in place. `at` is the volume offset of `buf[0]` (for errors). Returns the offsets in
/// `buf` of the update sequence array's entries (one per 512-byte block).
pub(crate) fn apply_fixup(buf: &mut [u8], at: u64, what: &str) -> Result<Vec<usize>, FsError> {
    let usa_off = le16(buf, 4) as usize;
    let usa_count = le16(buf, 6) as usize;
    let blocks = buf.len() / FIXUP_BLOCK;
    if usa_count != blocks + 1 || usa_off < 8 || usa_off + 2 * usa_count > buf.len() {
        return Err(bad(
            "bad_fixup",
            at + 4,
            format!(
                "{what}: update sequence array of {usa_count} entries at offset {usa_off} \
                 does not fit a {}-byte structure",
                buf.len()
            ),
        ));
    }
    let usn = [byte(buf, usa_off), byte(buf, usa_off + 1)];
    let mut sources = Vec::with_capacity(blocks);
    for i in 0..blocks {
        let tail = i * FIXUP_BLOCK + FIXUP_BLOCK - 2;
        if buf[tail..tail + 2] != usn {
            return Err(bad(
                "bad_fixup",
                at + tail as u64,
                format!(
                    "{what}: update sequence mismatch at the end of block {i} (torn or \
                     damaged write: {:02x}{:02x} where {:02x}{:02x} was expected)",
                    buf[tail],
                    buf[tail + 1],
                    usn[0],
                    usn[1]
                ),
            ));
        }
        let src = usa_off + 2 + 2 * i;
        buf[tail] = buf[src];
        buf[tail + 1] = buf[src + 1];
        sources.push(src);
    }
    Ok(sources)
}

impl Ntfs {
    /// The volume extents holding bytes `[start, start + len)` of the `$MFT` data.
    fn mft_pieces(&self, start: u64, len: u64) -> Option<Vec<(u64, u64, u64)>> {
        let mut out = Vec::new();
        let mut pos = start;
        let end = start.checked_add(len)?;
        while pos < end {
            let e = self
                .mft_extents
                .iter()
                .find(|e| pos >= e.file_offset && pos < e.file_offset + e.len)?;
            let at = e.volume_offset? + (pos - e.file_offset);
            let n = (e.file_offset + e.len - pos).min(end - pos);
            out.push((pos - start, n, at));
            pos += n;
        }
        Some(out)
    }

    /// Number of records the `$MFT` holds.
    pub(crate) fn record_count(&self) -> u64 {
        self.mft_size / self.record_size
    }

    /// Read record `number` (not following its attribute list).
    pub(crate) fn record(&self, number: u64) -> Result<Record, FsError> {
        if number >= self.record_count() {
            return Err(FsError::new(
                "bad_reference",
                None,
                format!(
                    "MFT record {number} does not exist (the $MFT holds {} records)",
                    self.record_count()
                ),
            ));
        }
        let pieces = self
            .mft_pieces(number * self.record_size, self.record_size)
            .ok_or_else(|| {
                FsError::new(
                    "bad_layout",
                    None,
                    format!("MFT record {number} lies in no run of the $MFT"),
                )
            })?;
        let mut buf = vec![0u8; self.record_size as usize];
        for &(off, len, at) in &pieces {
            let Some(slot) = buf.get_mut(off as usize..(off + len) as usize) else {
                continue;
            };
            self.volume
                .read_exact_at(at, slot)
                .map_err(|e| FsError::io(at, &e))?;
        }
        let offset = pieces.first().map_or(0, |p| p.2);
        parse_record(number, offset, buf, pieces)
    }

    /// Every attribute of a base record, the ones in extension records included, in the
    /// order of the attribute list (or of the record when it has none).
    pub(crate) fn attributes(&self, rec: &Record) -> Result<Vec<Attr>, FsError> {
        let Some(list) = rec.attrs.iter().find(|a| a.ty == AT_ATTRIBUTE_LIST) else {
            return Ok(rec.attrs.clone());
        };
        let bytes = self.attribute_bytes(list, MAX_ATTRIBUTE_LIST)?;
        let mut out: Vec<Attr> = Vec::new();
        // (record, type, instance) of every attribute taken: each at most once.
        let mut taken: HashSet<(u64, u32, u16)> = HashSet::new();
        let mut loaded: Vec<Record> = Vec::new();
        let mut pos = 0usize;
        let mut wanted = Vec::new();
        while pos + 26 <= bytes.len() {
            let ty = le32(&bytes, pos);
            let len = le16(&bytes, pos + 4) as usize;
            if ty == AT_END || ty == 0 {
                break;
            }
            if len < 26 || pos + len > bytes.len() {
                return Err(bad(
                    "bad_attribute_list",
                    list.offset,
                    format!(
                        "attribute list entry at {pos} has length {len} (list of {} bytes)",
                        bytes.len()
                    ),
                ));
            }
            let reference = le64(&bytes, pos + 16);
            let id = le16(&bytes, pos + 24);
            wanted.push((ty, reference & 0x0000_FFFF_FFFF_FFFF, id));
            pos += len;
        }
        for (ty, record_no, id) in wanted {
            if ty == AT_ATTRIBUTE_LIST {
                continue;
            }
            let source: &Record = if record_no == rec.number {
                rec
            } else {
                match loaded.iter().position(|r| r.number == record_no) {
                    Some(i) => &loaded[i],
                    None => {
                        if loaded.len() >= MAX_EXTENSION_RECORDS {
                            return Err(bad(
                                "bad_attribute_list",
                                list.offset,
                                format!(
                                    "attribute list names more than {MAX_EXTENSION_RECORDS} \
                                     extension records"
                                ),
                            ));
                        }
                        let ext = self.record(record_no)?;
                        if ext.base & 0x0000_FFFF_FFFF_FFFF != rec.number {
                            return Err(bad(
                                "bad_attribute_list",
                                ext.offset,
                                format!(
                                    "attribute list of record {} points to record {record_no}, \
                                     which belongs to record {}",
                                    rec.number,
                                    ext.base & 0x0000_FFFF_FFFF_FFFF
                                ),
                            ));
                        }
                        loaded.push(ext);
                        let i = loaded.len() - 1;
                        &loaded[i]
                    }
                }
            };
            if let Some(a) = source.attrs.iter().find(|a| a.ty == ty && a.id == id)
                && taken.insert((source.number, ty, id))
            {
                out.push(a.clone());
            }
        }
        // Attributes of the base record the list forgot (never dropped silently).
        for a in &rec.attrs {
            if a.ty != AT_ATTRIBUTE_LIST && taken.insert((rec.number, a.ty, a.id)) {
                out.push(a.clone());
            }
        }
        Ok(out)
    }
}

fn parse_record(
    number: u64,
    offset: u64,
    mut buf: Vec<u8>,
    pieces: Vec<(u64, u64, u64)>,
) -> Result<Record, FsError> {
    let what = format!("MFT record {number}");
    if buf.get(0..4) != Some(b"FILE") {
        let reason = if buf.iter().all(|&b| b == 0) {
            "empty_record"
        } else {
            "bad_record"
        };
        return Err(bad(
            reason,
            offset,
            format!(
                "{what}: no FILE signature ({:02x?})",
                &buf[..4.min(buf.len())]
            ),
        ));
    }
    let sources = apply_fixup(&mut buf, offset, &what)?;
    let fixup_sources = sources
        .iter()
        .map(|&s| {
            pieces
                .iter()
                .find(|p| (s as u64) >= p.0 && (s as u64) < p.0 + p.1)
                .map_or(0, |p| p.2 + (s as u64 - p.0))
        })
        .collect();
    let map = Arc::new(RecordMap {
        pieces,
        fixup_sources,
    });
    let first = le16(&buf, 20) as usize;
    let used = (le32(&buf, 24) as usize).min(buf.len());
    let rec = |reason, field: usize, detail: String| bad(reason, offset + field as u64, detail);
    if first < 42 || first >= used {
        return Err(rec(
            "bad_record",
            20,
            format!("{what}: first attribute at {first} of {used} bytes in use"),
        ));
    }
    let mut attrs = Vec::new();
    let mut pos = first;
    // Each attribute is at least 16 bytes: at most used / 16 of them.
    for _ in 0..=used / 16 {
        if pos + 4 > used {
            break;
        }
        let ty = le32(&buf, pos);
        if ty == AT_END {
            break;
        }
        let len = le32(&buf, pos + 4) as usize;
        if len < 24 || !len.is_multiple_of(8) || pos + len > used {
            return Err(rec(
                "bad_attribute",
                pos,
                format!(
                    "{what}: attribute {ty:#x} at {pos} has length {len} ({used} bytes in use)"
                ),
            ));
        }
        let a = &buf[pos..pos + len];
        let non_resident = byte(a, 8) != 0;
        let name_len = byte(a, 9) as usize;
        let name_off = le16(a, 10) as usize;
        let name = if name_len == 0 {
            Vec::new()
        } else {
            let Some(raw) = a.get(name_off..name_off + 2 * name_len) else {
                return Err(rec(
                    "bad_attribute",
                    pos,
                    format!("{what}: attribute {ty:#x} name runs past the attribute"),
                ));
            };
            raw.chunks_exact(2)
                .map(|c| u16::from_le_bytes([c[0], c[1]]))
                .collect()
        };
        let flags = le16(a, 12);
        let id = le16(a, 14);
        let body = if !non_resident {
            let vlen = le32(a, 16) as usize;
            let voff = le16(a, 20) as usize;
            let Some(value) = a.get(voff..voff.saturating_add(vlen)) else {
                return Err(rec(
                    "bad_attribute",
                    pos,
                    format!(
                        "{what}: resident attribute {ty:#x}: {vlen} bytes at {voff} do not fit \
                         its {len} bytes"
                    ),
                ));
            };
            Body::Resident {
                value: value.to_vec(),
                rec_off: (pos + voff) as u64,
            }
        } else {
            if len < 64 {
                return Err(rec(
                    "bad_attribute",
                    pos,
                    format!("{what}: non-resident attribute {ty:#x} of only {len} bytes"),
                ));
            }
            let runs_off = le16(a, 32) as usize;
            let Some(runs) = a.get(runs_off..) else {
                return Err(rec(
                    "bad_attribute",
                    pos,
                    format!("{what}: attribute {ty:#x}: mapping pairs at {runs_off} of {len}"),
                ));
            };
            Body::NonResident(NonResident {
                lowest_vcn: le64(a, 16),
                compression_unit: byte(a, 34),
                allocated_size: le64(a, 40),
                data_size: le64(a, 48),
                initialized_size: le64(a, 56),
                runs: runs.to_vec(),
                runs_offset: offset + (pos + runs_off) as u64,
            })
        };
        attrs.push(Attr {
            ty,
            name,
            flags,
            id,
            offset: offset + pos as u64,
            body,
            map: Arc::clone(&map),
        });
        pos += len;
    }
    Ok(Record {
        number,
        offset,
        sequence: le16(&buf, 16),
        lsn: le64(&buf, 8),
        flags: le16(&buf, 22),
        base: le64(&buf, 32),
        attrs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fixup_mismatch_names_the_block_end_and_a_good_one_restores_the_bytes() {
        let mut b = vec![0u8; 1024];
        b[4] = 0x30; // USA at 48, 3 entries
        b[6] = 3;
        b[48] = 0xAB;
        b[49] = 0xCD;
        b[50] = 1;
        b[51] = 2;
        b[52] = 3;
        b[53] = 4;
        b[510] = 0xAB;
        b[511] = 0xCD;
        b[1022] = 0xAB;
        b[1023] = 0xCD;
        let mut good = b.clone();
        assert_eq!(apply_fixup(&mut good, 4096, "r").unwrap(), vec![50, 52]);
        assert_eq!(&good[510..512], &[1, 2]);
        assert_eq!(&good[1022..1024], &[3, 4]);
        b[1023] = 0;
        let e = apply_fixup(&mut b, 4096, "r").unwrap_err();
        assert_eq!((e.reason, e.offset), ("bad_fixup", Some(4096 + 1022)));
    }

    #[test]
    fn resident_bytes_that_cross_a_block_end_map_to_the_update_sequence_array() {
        let m = RecordMap {
            pieces: vec![(0, 1024, 10_000)],
            fixup_sources: vec![10_050, 10_052],
        };
        let e = m.extents(500, 20).unwrap();
        let got: Vec<(u64, u64, Option<u64>)> = e
            .iter()
            .map(|e| (e.file_offset, e.len, e.volume_offset))
            .collect();
        assert_eq!(
            got,
            [
                (0, 10, Some(10_500)),
                (10, 2, Some(10_050)),
                (12, 8, Some(10_512))
            ]
        );
        assert_eq!(m.extents(0, 100).unwrap().len(), 1);
    }
}
