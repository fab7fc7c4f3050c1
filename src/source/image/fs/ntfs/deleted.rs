//! Deleted entries: every base record of the `$MFT` that is not in use but still parses
//! and still has a `$FILE_NAME` — its name, the path its parent chain still gives, its
//! times and size, and whether every cluster of its default stream is still free in
//! `$Bitmap` (so the clusters may still hold the deleted content).
//!
//! A parent chain runs through deleted directories too (as `fls -d` shows a deleted
//! folder's deleted files under its name): a parent in use must carry the sequence
//! number the name recorded, a deleted one that number or the next (freeing a record
//! bumps it once).
//!
//! Owns `Ntfs::scan_deleted`. Must never: follow a parent chain further than
//! `MAX_DEPTH` or around a cycle, take a parent whose sequence number says the record
//! was reused since the name was written (the path is then unknown, and the entry is
//! listed under `$OrphanFiles`), or read more of
//! `$Bitmap` than the runs it checks, or skip a record silently. A record that does not
//! parse (no `FILE` signature, a torn update sequence, a bad attribute header) is not an
//! entry: it is returned in `DeletedScan::unreadable` with its number, offset and reason,
//! and the collector records the count and offsets. Records never used (all zeros, or a
//! `FILE` header without attributes) and nameless records not in use (attributes but no
//! `$FILE_NAME`: the reserved records 16–23, which sleuthkit lists as
//! `$OrphanFiles/OrphanFile-N`) are counted, not listed. docs/design.md ("NTFS is read
//! by our own parser too") says exactly where this list differs from `fls -d`.

use std::collections::HashMap;

use super::super::{
    DeletedEntry, DeletedScan, Extent, Layout, MAX_UNREADABLE_LISTED, UnreadableRecord,
};
use super::record::{AT_DATA, AT_FILE_NAME, Attr, Body};
use super::values::{FileName, NAMESPACE_DOS, file_name};
use super::{Ntfs, REF_MASK, ROOT_RECORD};

/// Deepest parent chain followed.
const MAX_DEPTH: usize = 256;

fn primary_name(attrs: &[Attr]) -> Option<FileName> {
    let names: Vec<FileName> = attrs
        .iter()
        .filter(|a| a.ty == AT_FILE_NAME)
        .filter_map(|a| a.resident_value().and_then(file_name))
        .collect();
    names
        .iter()
        .find(|n| n.namespace != NAMESPACE_DOS)
        .or(names.first())
        .cloned()
}

impl Ntfs {
    pub(crate) fn scan_deleted(&self) -> DeletedScan {
        let bitmap = self
            .record(6)
            .and_then(|r| {
                let attrs = self.attributes(&r)?;
                self.layout_of(&r, &attrs, None)
            })
            .ok()
            .and_then(|l| match l {
                Layout::Extents { extents, .. } => Some(extents),
                _ => None,
            });
        let mut dirs: HashMap<u64, Option<(u16, bool, FileName)>> = HashMap::new();
        let mut scan = DeletedScan {
            scanned: self.record_count(),
            past_end: self.mft_claimed_records.saturating_sub(self.record_count()),
            ..DeletedScan::default()
        };
        for n in 0..self.record_count() {
            let rec = match self.record(n) {
                Ok(rec) => rec,
                Err(e) if e.reason == "empty_record" => {
                    scan.empty += 1;
                    continue;
                }
                Err(e) => {
                    scan.unreadable_total += 1;
                    if scan.unreadable.len() >= MAX_UNREADABLE_LISTED {
                        continue;
                    }
                    scan.unreadable.push(UnreadableRecord {
                        number: n,
                        offset: e.offset,
                        reason: e.reason,
                        detail: e.detail,
                    });
                    continue;
                }
            };
            if rec.in_use() || rec.base & REF_MASK != 0 {
                continue;
            }
            let attrs = self.attributes(&rec).unwrap_or_else(|_| rec.attrs.clone());
            let Some(fname) = primary_name(&attrs) else {
                if attrs.is_empty() {
                    scan.empty += 1;
                } else {
                    scan.nameless += 1;
                }
                continue;
            };
            let node = self.build_node(&rec, &attrs);
            let name = fname.name_utf8();
            let path = self.parent_path(&fname, &mut dirs);
            let runs_unallocated = bitmap
                .as_deref()
                .and_then(|b| self.runs_unallocated(&attrs, b));
            scan.entries.push(DeletedEntry {
                node,
                path,
                name,
                runs_unallocated,
            });
        }
        scan
    }

    /// `/dir/…/name` from the `$FILE_NAME` parent chain, or `None` where it is broken.
    fn parent_path(
        &self,
        fname: &FileName,
        dirs: &mut HashMap<u64, Option<(u16, bool, FileName)>>,
    ) -> Option<Vec<u8>> {
        let mut comps = vec![fname.name_utf8()];
        let mut parent = fname.parent;
        let mut visited = Vec::new();
        for _ in 0..MAX_DEPTH {
            let number = parent & REF_MASK;
            let seq = (parent >> 48) as u16;
            if number == ROOT_RECORD {
                let mut path = Vec::new();
                for c in comps.iter().rev() {
                    path.push(b'/');
                    path.extend_from_slice(c);
                }
                return Some(path);
            }
            if visited.contains(&number) {
                return None;
            }
            visited.push(number);
            let entry = dirs.entry(number).or_insert_with(|| {
                let rec = self.record(number).ok()?;
                if !rec.is_dir() || rec.base & REF_MASK != 0 {
                    return None;
                }
                let attrs = self.attributes(&rec).ok()?;
                Some((rec.sequence, rec.in_use(), primary_name(&attrs)?))
            });
            let (dir_seq, dir_in_use, dir_name) = entry.as_ref()?;
            // A directory in use must carry the sequence the name recorded; a deleted one
            // that sequence or the next (freeing a record bumps it once). Anything else is
            // a record reused since: the path is unknown.
            let same = *dir_seq == seq || (!dir_in_use && *dir_seq == seq.wrapping_add(1));
            if seq != 0 && !same {
                return None;
            }
            comps.push(dir_name.name_utf8());
            parent = dir_name.parent;
        }
        None
    }

    /// Whether every cluster of the default stream is clear in `$Bitmap`; `None` for
    /// resident or empty data, or runs that cannot be decoded.
    fn runs_unallocated(&self, attrs: &[Attr], bitmap: &[Extent]) -> Option<bool> {
        let frags: Vec<&Attr> = attrs
            .iter()
            .filter(|a| a.ty == AT_DATA && a.name.is_empty())
            .collect();
        if frags.is_empty()
            || frags
                .iter()
                .any(|a| matches!(a.body, Body::Resident { .. }))
        {
            return None;
        }
        let (_, _, runs) = self.fragment_runs(&frags).ok()?;
        let mut any = false;
        let mut buf = vec![0u8; 64 * 1024];
        for r in runs {
            let Some(lcn) = r.lcn else { continue };
            any = true;
            let mut c = lcn;
            let end = lcn + r.clusters;
            while c < end {
                let first_byte = c / 8;
                let want = ((end - 1) / 8 - first_byte + 1).min(buf.len() as u64) as usize;
                let got = super::runs::read_extents(
                    self.volume.as_ref(),
                    bitmap,
                    first_byte,
                    &mut buf[..want],
                )
                .ok()?;
                if got == 0 {
                    return None;
                }
                for (i, &b) in buf[..got].iter().enumerate() {
                    for bit in 0..8u64 {
                        let cluster = (first_byte + i as u64) * 8 + bit;
                        if cluster >= c && cluster < end && b & (1 << bit) != 0 {
                            return Some(false);
                        }
                    }
                }
                c = (first_byte + got as u64) * 8;
            }
        }
        any.then_some(true)
    }
}
