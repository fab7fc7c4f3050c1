//! One ext2/3/4 inode as stored: type and permission bits, sizes, owners, the four
//! times at nanosecond precision (with the epoch bits that carry them past 2038), flags,
//! `i_block` (extent root, block map, fast symlink or inline data) and the in-inode
//! extended attributes where inline data continues.
//!
//! Owns decoding only; every field beyond the 128-byte base is read only when
//! `i_extra_isize` says it is there. Never reads outside the inode's own bytes.

use crate::source::image::fs::ondisk::{le16, le32};
use crate::source::image::fs::{FsError, FsTime, NodeKind, Times};

pub(super) const FL_IMMUTABLE: u32 = 0x10;
pub(super) const FL_APPEND: u32 = 0x20;
pub(super) const FL_ENCRYPT: u32 = 0x800;
pub(super) const FL_INDEX: u32 = 0x1000;
pub(super) const FL_HUGE_FILE: u32 = 0x4_0000;
pub(super) const FL_EXTENTS: u32 = 0x8_0000;
pub(super) const FL_VERITY: u32 = 0x10_0000;
pub(super) const FL_INLINE_DATA: u32 = 0x1000_0000;
pub(super) const FL_CASEFOLD: u32 = 0x4000_0000;

pub(super) struct Inode {
    pub ino: u32,
    /// Volume byte offset of the inode.
    pub offset: u64,
    pub raw: Vec<u8>,
    /// Bytes of the extra part that are valid (`i_extra_isize`, 0 for 128-byte inodes).
    extra: usize,
}

impl Inode {
    pub(super) fn new(ino: u32, offset: u64, raw: Vec<u8>) -> Self {
        let extra = if raw.len() > 128 {
            let e = usize::from(le16(&raw, 128));
            if 128 + e <= raw.len() && e >= 4 { e } else { 0 }
        } else {
            0
        };
        Inode {
            ino,
            offset,
            raw,
            extra,
        }
    }

    pub(super) fn mode(&self) -> u16 {
        le16(&self.raw, 0)
    }

    pub(super) fn kind(&self) -> NodeKind {
        match self.mode() & 0xF000 {
            0x8000 => NodeKind::File,
            0x4000 => NodeKind::Dir,
            0xA000 => NodeKind::Symlink,
            0x2000 => NodeKind::CharDevice,
            0x6000 => NodeKind::BlockDevice,
            0x1000 => NodeKind::Fifo,
            0xC000 => NodeKind::Socket,
            _ => NodeKind::Other,
        }
    }

    /// `i_size` with its high half (`i_size_high`; on old ext2 directories this field
    /// was `i_dir_acl`, so for directories it counts only with `large_dir`).
    pub(super) fn size(&self, large_dir: bool) -> u64 {
        let lo = u64::from(le32(&self.raw, 4));
        let hi = u64::from(le32(&self.raw, 108));
        if self.kind() == NodeKind::Dir && !large_dir {
            lo
        } else {
            lo | (hi << 32)
        }
    }

    pub(super) fn flags(&self) -> u32 {
        le32(&self.raw, 32)
    }

    pub(super) fn links(&self) -> u16 {
        le16(&self.raw, 26)
    }

    pub(super) fn uid(&self) -> u32 {
        u32::from(le16(&self.raw, 2)) | (u32::from(le16(&self.raw, 120)) << 16)
    }

    pub(super) fn gid(&self) -> u32 {
        u32::from(le16(&self.raw, 24)) | (u32::from(le16(&self.raw, 122)) << 16)
    }

    pub(super) fn generation(&self) -> u32 {
        le32(&self.raw, 100)
    }

    /// 512-byte sectors (or fs blocks with `huge_file` + the inode's flag) in use.
    pub(super) fn blocks(&self) -> u64 {
        u64::from(le32(&self.raw, 28)) | (u64::from(le16(&self.raw, 116)) << 32)
    }

    pub(super) fn file_acl(&self) -> u64 {
        u64::from(le32(&self.raw, 104)) | (u64::from(le16(&self.raw, 118)) << 32)
    }

    pub(super) fn i_block(&self) -> [u8; 60] {
        let mut b = [0u8; 60];
        b.copy_from_slice(&self.raw[40..100]);
        b
    }

    /// Whether a field of `len` bytes at inode offset `at` lies in the valid extra part.
    fn has(&self, at: usize, len: usize) -> bool {
        at + len <= 128 + self.extra
    }

    fn time(&self, at: usize, extra_at: usize) -> FsTime {
        let secs = i64::from(le32(&self.raw, at) as i32);
        if self.has(extra_at, 4) {
            let extra = le32(&self.raw, extra_at);
            // Two epoch bits extend the signed 32-bit seconds past 2038; the other 30
            // bits are nanoseconds.
            FsTime::from_unix(secs + (i64::from(extra & 3) << 32), extra >> 2)
        } else {
            FsTime::from_unix(secs, 0)
        }
    }

    pub(super) fn times(&self) -> Times {
        Times {
            modified: Some(self.time(16, 136)),
            accessed: Some(self.time(8, 140)),
            changed: Some(self.time(12, 132)),
            born: self.has(144, 4).then(|| self.time(144, 148)),
        }
    }

    /// The value of the in-inode extended attribute `system.data` (where inline data
    /// continues past `i_block`), or an empty slice.
    pub(super) fn inline_xattr(&self) -> Result<&[u8], FsError> {
        let bad = |what: &str| {
            FsError::new(
                "bad_inline_data",
                Some(self.offset),
                format!("inode {}: {what}", self.ino),
            )
        };
        let start = 128 + self.extra;
        if start + 4 > self.raw.len() || le32(&self.raw, start) != 0xEA02_0000 {
            return Ok(&[]);
        }
        let base = start + 4;
        let mut at = base;
        // Each entry is at least 16 bytes: the loop ends within the inode.
        while at + 16 <= self.raw.len() {
            if le32(&self.raw, at) == 0 {
                break;
            }
            let name_len = usize::from(self.raw[at]);
            let index = self.raw[at + 1];
            let value_offs = usize::from(le16(&self.raw, at + 2));
            let value_inum = le32(&self.raw, at + 4);
            let value_size = le32(&self.raw, at + 8) as usize;
            let name = self
                .raw
                .get(at + 16..at + 16 + name_len)
                .ok_or_else(|| bad("xattr name past the inode"))?;
            if index == 7 && name == b"data" {
                if value_inum != 0 {
                    return Err(bad("inline data stored in an EA inode"));
                }
                return self
                    .raw
                    .get(base + value_offs..base + value_offs + value_size)
                    .ok_or_else(|| bad("system.data value past the inode"));
            }
            at += (16 + name_len + 3) & !3;
        }
        Ok(&[])
    }

    /// The inline content: `i_block` then `system.data`, cut to `size`.
    pub(super) fn inline_data(&self, size: u64) -> Result<Vec<u8>, FsError> {
        let mut bytes = self.i_block().to_vec();
        bytes.extend_from_slice(self.inline_xattr()?);
        if size > bytes.len() as u64 {
            return Err(FsError::new(
                "bad_inline_data",
                Some(self.offset),
                format!(
                    "inode {}: size {size} but only {} bytes of inline data",
                    self.ino,
                    bytes.len()
                ),
            ));
        }
        bytes.truncate(size as usize);
        Ok(bytes)
    }
}
