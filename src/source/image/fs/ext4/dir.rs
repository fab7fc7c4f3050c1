//! ext2/3/4 directory entries (`ext4_dir_entry_2`) in a block or an inline-data region.
//!
//! Owns parsing one region of linked records. Hashed (htree / `dir_index`) directories
//! need nothing special: their index blocks are, by design, single empty records to
//! a linear reader, and the leaf blocks are ordinary. The `metadata_csum` tail is an
//! empty record too. A record whose length is impossible is an error naming its byte
//! offset; the walk through a region always advances, so it ends.

use crate::source::image::fs::ondisk::{le16, le32};
use crate::source::image::fs::{FsError, NodeKind};

pub(super) struct Dirent {
    pub ino: u32,
    pub name: Vec<u8>,
    pub kind: NodeKind,
    pub offset: u64,
}

/// The live records of `region` (which lies at volume offset `at`), `.` and `..`
/// excluded. `file_type`: whether the `filetype` feature is on (else the name length
/// is 16 bits and there is no type byte).
pub(super) fn parse(
    region: &[u8],
    at: u64,
    file_type: bool,
    out: &mut Vec<Dirent>,
) -> Result<(), FsError> {
    let mut pos = 0usize;
    while pos + 8 <= region.len() {
        let ino = le32(region, pos);
        let rec_len = usize::from(le16(region, pos + 4));
        let (name_len, kind_byte) = if file_type {
            (usize::from(region[pos + 6]), region[pos + 7])
        } else {
            (usize::from(le16(region, pos + 6)), 0)
        };
        let offset = at + pos as u64;
        if rec_len < 8 || rec_len % 4 != 0 || pos + rec_len > region.len() {
            return Err(FsError::new(
                "bad_dirent",
                Some(offset),
                format!(
                    "directory record length {rec_len} at {pos} of a {}-byte block",
                    region.len()
                ),
            ));
        }
        if ino != 0 {
            if 8 + name_len > rec_len {
                return Err(FsError::new(
                    "bad_dirent",
                    Some(offset),
                    format!("a {name_len}-byte name in a {rec_len}-byte record"),
                ));
            }
            let name = &region[pos + 8..pos + 8 + name_len];
            if name != b"." && name != b".." {
                let kind = match kind_byte {
                    1 => NodeKind::File,
                    2 => NodeKind::Dir,
                    3 => NodeKind::CharDevice,
                    4 => NodeKind::BlockDevice,
                    5 => NodeKind::Fifo,
                    6 => NodeKind::Socket,
                    7 => NodeKind::Symlink,
                    _ => NodeKind::Other,
                };
                out.push(Dirent {
                    ino,
                    name: name.to_vec(),
                    kind,
                    offset,
                });
            }
        }
        pos += rec_len;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(ino: u32, rec_len: u16, name: &[u8], t: u8) -> Vec<u8> {
        let mut r = ino.to_le_bytes().to_vec();
        r.extend_from_slice(&rec_len.to_le_bytes());
        r.push(name.len() as u8);
        r.push(t);
        r.extend_from_slice(name);
        r.resize(rec_len as usize, 0);
        r
    }

    #[test]
    fn records_dot_entries_and_a_bad_length_are_handled() {
        let mut block = rec(2, 12, b".", 2);
        block.extend(rec(2, 12, b"..", 2));
        block.extend(rec(12, 16, b"file", 1));
        block.extend(rec(0, 24, b"", 0));
        let mut out = Vec::new();
        parse(&block, 4096, true, &mut out).unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(
            (out[0].ino, out[0].name.as_slice(), out[0].offset),
            (12, &b"file"[..], 4096 + 24)
        );
        let mut bad = rec(12, 16, b"file", 1);
        bad[4] = 6;
        let e = parse(&bad, 8192, true, &mut Vec::new()).unwrap_err();
        assert_eq!((e.reason, e.offset), ("bad_dirent", Some(8192)));
    }
}
