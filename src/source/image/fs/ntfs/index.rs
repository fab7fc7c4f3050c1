//! Directories: the `$I30` file-name index — `$INDEX_ROOT` (resident) and the `INDX`
//! blocks of `$INDEX_ALLOCATION` reached through the B-tree's subnode pointers — turned
//! into `DirEntry`s (DOS 8.3 aliases left out: the full name of the same file is listed).
//!
//! Owns `Ntfs::list_dir`. Must never: visit an index block twice (a subnode pointer that
//! leads back is an `index_loop` error naming the block's offset, not a hang), read more
//! blocks than the allocation holds, accept an entry that runs past its block, or hand
//! out a name the trait forbids (`bad_name`).

use std::collections::HashSet;

use super::super::ondisk::{check_name, le16, le32, le64};
use super::super::{DirEntry, Extent, FsError, Layout, NodeKind};
use super::Ntfs;
use super::record::{
    AT_INDEX_ALLOCATION, AT_INDEX_ROOT, Attr, FIXUP_BLOCK, Record, apply_fixup, bad,
};
use super::runs::read_extents;
use super::values::{FILE_NAME_DIRECTORY, NAMESPACE_DOS, TAG_MOUNT_POINT, TAG_SYMLINK, file_name};

const REF_MASK: u64 = 0x0000_FFFF_FFFF_FFFF;
const ENTRY_SUBNODE: u32 = 0x1;
const ENTRY_LAST: u32 = 0x2;

fn is_i30(a: &Attr) -> bool {
    a.name == [0x24, 0x49, 0x33, 0x30] // "$I30"
}

impl Ntfs {
    /// The names in directory record `rec` (already read, its attributes gathered).
    pub(crate) fn list_dir(&self, rec: &Record, attrs: &[Attr]) -> Result<Vec<DirEntry>, FsError> {
        let Some(root) = attrs.iter().find(|a| a.ty == AT_INDEX_ROOT && is_i30(a)) else {
            return Err(bad(
                "bad_directory",
                rec.offset,
                format!("directory record {} has no $I30 index root", rec.number),
            ));
        };
        let Some(v) = root.resident_value() else {
            return Err(bad(
                "bad_directory",
                root.offset,
                "$INDEX_ROOT is not resident",
            ));
        };
        let block_size = u64::from(le32(v, 8));
        let mut out = Vec::new();
        let mut pending = Vec::new();
        let root_off = root.offset;
        let entries_start = 16 + le32(v, 16) as usize;
        let entries_end = 16 + le32(v, 20) as usize;
        self.parse_entries(
            rec.number,
            v,
            entries_start,
            entries_end,
            root_off,
            &mut out,
            &mut pending,
        )?;
        if pending.is_empty() {
            return Ok(out);
        }
        // The allocation: every block reachable from the root, each at most once.
        let frags: Vec<&Attr> = attrs
            .iter()
            .filter(|a| a.ty == AT_INDEX_ALLOCATION && is_i30(a))
            .collect();
        let extents = match self.value_layout(&frags)? {
            Layout::Extents { extents, .. } => extents,
            _ => {
                return Err(bad(
                    "bad_directory",
                    rec.offset,
                    "$INDEX_ALLOCATION is not a plain non-resident value",
                ));
            }
        };
        if !block_size.is_power_of_two() || block_size < FIXUP_BLOCK as u64 || block_size > 65536 {
            return Err(bad(
                "bad_directory",
                root_off,
                format!("index block size {block_size}"),
            ));
        }
        let size: u64 = extents.iter().map(|e| e.len).sum();
        let vcn_unit = if block_size >= self.cluster_size {
            self.cluster_size
        } else {
            FIXUP_BLOCK as u64
        };
        let max_blocks = size / block_size + 1;
        let mut seen = HashSet::new();
        let mut buf = vec![0u8; block_size as usize];
        while let Some(vcn) = pending.pop() {
            let at = vcn
                .checked_mul(vcn_unit)
                .filter(|&a| a < size)
                .ok_or_else(|| {
                    bad(
                        "bad_index",
                        root_off,
                        format!("subnode VCN {vcn} lies past the index allocation ({size} bytes)"),
                    )
                })?;
            let vol = volume_offset(&extents, at).unwrap_or(root_off);
            if !seen.insert(vcn) || seen.len() as u64 > max_blocks {
                return Err(bad(
                    "index_loop",
                    vol,
                    format!(
                        "directory record {}: index block VCN {vcn} is reached twice (the \
                         B-tree loops); listing refused",
                        rec.number
                    ),
                ));
            }
            let n = read_extents(self.volume.as_ref(), &extents, at, &mut buf)?;
            if n < buf.len() {
                return Err(bad(
                    "bad_index",
                    vol,
                    format!("index block VCN {vcn} is cut short by the allocation's end"),
                ));
            }
            if buf.get(0..4) != Some(b"INDX") {
                return Err(bad(
                    "bad_index",
                    vol,
                    format!("index block VCN {vcn} has no INDX signature"),
                ));
            }
            apply_fixup(&mut buf, vol, &format!("index block VCN {vcn}"))?;
            let start = 24 + le32(&buf, 24) as usize;
            let end = 24 + le32(&buf, 28) as usize;
            self.parse_entries(rec.number, &buf, start, end, vol, &mut out, &mut pending)?;
        }
        Ok(out)
    }

    /// Entries of one index node in `b[start..end]`; subnode VCNs go to `pending`.
    #[allow(clippy::too_many_arguments)]
    fn parse_entries(
        &self,
        dir: u64,
        b: &[u8],
        start: usize,
        end: usize,
        at: u64,
        out: &mut Vec<DirEntry>,
        pending: &mut Vec<u64>,
    ) -> Result<(), FsError> {
        if start > end || end > b.len() {
            return Err(bad(
                "bad_index",
                at,
                format!(
                    "index entries [{start}, {end}) do not fit the {}-byte node",
                    b.len()
                ),
            ));
        }
        let mut pos = start;
        while pos + 16 <= end {
            let reference = le64(b, pos);
            let len = le16(b, pos + 8) as usize;
            let key_len = le16(b, pos + 10) as usize;
            let flags = le32(b, pos + 12);
            let entry_at = at + pos as u64;
            if len < 16 || !len.is_multiple_of(8) || pos + len > end {
                return Err(bad(
                    "bad_index",
                    entry_at,
                    format!("index entry of length {len} at {pos} (node ends at {end})"),
                ));
            }
            if flags & ENTRY_SUBNODE != 0 {
                if len < 24 {
                    return Err(bad(
                        "bad_index",
                        entry_at,
                        "index entry with a subnode but no room for its VCN",
                    ));
                }
                pending.push(le64(b, pos + len - 8));
            }
            if flags & ENTRY_LAST != 0 {
                break;
            }
            let Some(key) = b.get(pos + 16..pos + 16 + key_len) else {
                return Err(bad("bad_index", entry_at, "index key runs past the entry"));
            };
            let Some(fname) = file_name(key) else {
                return Err(bad("bad_index", entry_at, "index key is not a $FILE_NAME"));
            };
            pos += len;
            let record = reference & REF_MASK;
            if fname.namespace == NAMESPACE_DOS || record == dir {
                continue;
            }
            let name = fname.name_utf8();
            check_name(&name, entry_at)?;
            let kind = if fname.flags & super::values::FILE_ATTRIBUTE_REPARSE != 0
                && matches!(fname.reparse_tag, TAG_SYMLINK | TAG_MOUNT_POINT)
            {
                NodeKind::Symlink
            } else if fname.flags & FILE_NAME_DIRECTORY != 0 {
                NodeKind::Dir
            } else {
                NodeKind::File
            };
            out.push(DirEntry {
                name,
                id: super::super::NodeId(reference),
                kind,
            });
        }
        Ok(())
    }
}

fn volume_offset(extents: &[Extent], at: u64) -> Option<u64> {
    extents
        .iter()
        .find(|e| at >= e.file_offset && at < e.file_offset + e.len)
        .and_then(|e| e.volume_offset.map(|v| v + (at - e.file_offset)))
}
