//! The structured attribute values the reader interprets: `$STANDARD_INFORMATION`
//! (times, file attributes), `$FILE_NAME` (parent, name, namespace, its own four times),
//! `$REPARSE_POINT` (tag; target of symbolic links and junctions), and ntfs-3g's Interix
//! symbolic links (a system file whose data is `IntxLNK\1` + UTF-16 target).
//!
//! Owns these decoders only. Must never read outside the value it was given (a short
//! value is `None`, the caller records what is missing) and never guess a name.

use super::super::ondisk::{byte, le16, le32, le64, utf16_to_wtf8};
use super::super::{FsTime, Times};

pub(crate) const FILE_ATTRIBUTE_READONLY: u32 = 0x1;
pub(crate) const FILE_ATTRIBUTE_HIDDEN: u32 = 0x2;
pub(crate) const FILE_ATTRIBUTE_SYSTEM: u32 = 0x4;
pub(crate) const FILE_ATTRIBUTE_ARCHIVE: u32 = 0x20;
pub(crate) const FILE_ATTRIBUTE_SPARSE: u32 = 0x200;
pub(crate) const FILE_ATTRIBUTE_REPARSE: u32 = 0x400;
pub(crate) const FILE_ATTRIBUTE_COMPRESSED: u32 = 0x800;
pub(crate) const FILE_ATTRIBUTE_ENCRYPTED: u32 = 0x4000;
/// In `$FILE_NAME` flags: the entry is a directory (has an `$I30` index).
pub(crate) const FILE_NAME_DIRECTORY: u32 = 0x1000_0000;

pub(crate) const TAG_MOUNT_POINT: u32 = 0xA000_0003;
pub(crate) const TAG_SYMLINK: u32 = 0xA000_000C;
pub(crate) const TAG_DEDUP: u32 = 0x8000_0013;
pub(crate) const TAG_WOF: u32 = 0x8000_0017;

/// `$FILE_NAME` namespace 2: the DOS 8.3 alias of a name given in full elsewhere.
pub(crate) const NAMESPACE_DOS: u8 = 2;

/// Four FILETIMEs in the on-disk order created, modified, MFT changed, accessed.
fn times(v: &[u8], at: usize) -> Times {
    let t = |i: usize| Some(FsTime::from_filetime(le64(v, at + 8 * i)));
    Times {
        born: t(0),
        modified: t(1),
        changed: t(2),
        accessed: t(3),
    }
}

pub(crate) struct StandardInformation {
    pub times: Times,
    pub attributes: u32,
}

pub(crate) fn standard_information(v: &[u8]) -> Option<StandardInformation> {
    (v.len() >= 36).then(|| StandardInformation {
        times: times(v, 0),
        attributes: le32(v, 32),
    })
}

#[derive(Debug, Clone)]
pub(crate) struct FileName {
    /// Parent directory's file reference (record and sequence).
    pub parent: u64,
    pub times: Times,
    pub flags: u32,
    /// The reparse tag when `flags` has the reparse bit (else extended-attribute size).
    pub reparse_tag: u32,
    pub namespace: u8,
    pub name: Vec<u16>,
}

impl FileName {
    pub(crate) fn name_utf8(&self) -> Vec<u8> {
        utf16_to_wtf8(&self.name)
    }
}

pub(crate) fn file_name(v: &[u8]) -> Option<FileName> {
    let len = byte(v, 64) as usize;
    let raw = v.get(66..66 + 2 * len)?;
    Some(FileName {
        parent: le64(v, 0),
        times: times(v, 8),
        flags: le32(v, 56),
        reparse_tag: le32(v, 60),
        namespace: byte(v, 65),
        name: raw
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect(),
    })
}

pub(crate) struct ReparsePoint {
    pub tag: u32,
    pub target: Option<Vec<u8>>,
}

/// A reparse point's tag, and for symbolic links and junctions the target (the print
/// name when there is one, else the substitute name).
pub(crate) fn reparse_point(v: &[u8]) -> Option<ReparsePoint> {
    if v.len() < 8 {
        return None;
    }
    let tag = le32(v, 0);
    let data = v.get(8..)?;
    let header = match tag {
        TAG_SYMLINK => 12,
        TAG_MOUNT_POINT => 8,
        _ => return Some(ReparsePoint { tag, target: None }),
    };
    let name = |off: usize, len: usize| -> Option<Vec<u8>> {
        let raw = data.get(header + off..header + off + len)?;
        let units: Vec<u16> = raw
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        Some(utf16_to_wtf8(&units))
    };
    let subst = name(le16(data, 0) as usize, le16(data, 2) as usize);
    let print = name(le16(data, 4) as usize, le16(data, 6) as usize);
    let target = match print {
        Some(p) if !p.is_empty() => Some(p),
        _ => subst,
    };
    Some(ReparsePoint { tag, target })
}

/// The target of an Interix symbolic link (how ntfs-3g stores a POSIX symlink without
/// a reparse point): `IntxLNK\1` followed by the target in UTF-16LE.
pub(crate) fn interix_symlink(data: &[u8]) -> Option<Vec<u8>> {
    let rest = data.strip_prefix(b"IntxLNK\x01")?;
    if !rest.len().is_multiple_of(2) {
        return None;
    }
    let units: Vec<u16> = rest
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    Some(utf16_to_wtf8(&units))
}

/// The record's flag words as the records name them.
pub(crate) fn attribute_flag_names(attributes: u32) -> Vec<&'static str> {
    [
        (FILE_ATTRIBUTE_READONLY, "readonly"),
        (FILE_ATTRIBUTE_HIDDEN, "hidden"),
        (FILE_ATTRIBUTE_SYSTEM, "system"),
        (FILE_ATTRIBUTE_ARCHIVE, "archive"),
        (FILE_ATTRIBUTE_SPARSE, "sparse"),
        (FILE_ATTRIBUTE_REPARSE, "reparse_point"),
        (FILE_ATTRIBUTE_COMPRESSED, "compressed"),
        (FILE_ATTRIBUTE_ENCRYPTED, "encrypted"),
    ]
    .iter()
    .filter(|(bit, _)| attributes & bit != 0)
    .map(|(_, n)| *n)
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_symlink_reparse_point_gives_its_print_name_and_short_values_give_none() {
        let target: Vec<u8> = "a\\b"
            .encode_utf16()
            .flat_map(|u| u.to_le_bytes())
            .collect();
        let mut v = Vec::new();
        v.extend_from_slice(&TAG_SYMLINK.to_le_bytes());
        v.extend_from_slice(&((12 + 2 * target.len()) as u16).to_le_bytes());
        v.extend_from_slice(&[0, 0]);
        // substitute at 0, print name after it
        v.extend_from_slice(&0u16.to_le_bytes());
        v.extend_from_slice(&(target.len() as u16).to_le_bytes());
        v.extend_from_slice(&(target.len() as u16).to_le_bytes());
        v.extend_from_slice(&(target.len() as u16).to_le_bytes());
        v.extend_from_slice(&1u32.to_le_bytes());
        v.extend_from_slice(&target);
        v.extend_from_slice(&target);
        let r = reparse_point(&v).unwrap();
        assert_eq!(
            (r.tag, r.target.as_deref()),
            (TAG_SYMLINK, Some(&b"a\\b"[..]))
        );
        assert!(reparse_point(&v[..4]).is_none());
        assert!(reparse_point(&v[..20]).unwrap().target.is_none());
        assert!(file_name(&[0u8; 60]).is_none());
        assert_eq!(
            interix_symlink(b"IntxLNK\x01a\0/\0b\0").as_deref(),
            Some(&b"a/b"[..])
        );
    }
}
