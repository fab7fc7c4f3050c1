//! FAT directory entries: 32-byte 8.3 entries, the VFAT long-name entries before them
//! (checked by sequence number and checksum), the NT case flags, and the volume label.
//!
//! Owns decoding slots in on-disk order. A long name whose sequence breaks or whose
//! checksum does not match its 8.3 entry is ignored (the 8.3 name is used), as Windows
//! and Linux do; it never merges into another entry's name. Never reads past the pieces
//! it was given.

use super::table::{Width, chunked, read_full};
use crate::source::image::fs::ondisk::{byte, le16, le32, utf16_to_wtf8};
use crate::source::image::fs::{FsError, Times};
use crate::source::image::media::ReadAt;

const ATTR_LFN: u8 = 0x0F;
const ATTR_DIR: u8 = 0x10;
const ATTR_LABEL: u8 = 0x08;

/// The upper half of code page 437, the OEM code page of 8.3 names (Linux's default
/// `codepage=437`; DOS and Windows in most of the world).
const CP437_HIGH: &str = "ÇüéâäàåçêëèïîìÄÅÉæÆôöòûùÿÖÜ¢£¥₧ƒáíóúñÑªº¿⌐¬½¼¡«»░▒▓│┤╡╢╖╕╣║╗╝╜╛┐└┴┬├─┼╞╟╚╔╩╦╠═╬╧╨╤╥╙╘╒╓╫╪┘┌█▄▌▐▀αßΓπΣσµτΦΘΩδ∞φε∩≡±≥≤⌠⌡÷≈°∙·√ⁿ²■\u{a0}";

/// One 32-byte 8.3 directory entry.
#[derive(Clone, Copy)]
pub(crate) struct ShortEntry(pub [u8; 32]);

impl ShortEntry {
    pub(crate) fn attr(&self) -> u8 {
        self.0[11]
    }

    /// In use, not a long-name slot, not the volume label, not `.`/`..`.
    pub(crate) fn is_live_short(&self) -> bool {
        let first = self.0[0];
        first != 0
            && first != 0xE5
            && self.attr() & 0x3F != ATTR_LFN
            && self.attr() & ATTR_LABEL == 0
            && !self.is_dot()
    }

    fn is_dot(&self) -> bool {
        &self.0[..11] == b".          " || &self.0[..11] == b"..         "
    }

    pub(crate) fn is_dir(&self) -> bool {
        self.attr() & ATTR_DIR != 0
    }

    pub(crate) fn first_cluster(&self, width: Width) -> u32 {
        let lo = u32::from(le16(&self.0, 26));
        // The high half is an extended-attribute handle on FAT12/16, not a cluster.
        let hi = if width == Width::Fat32 {
            u32::from(le16(&self.0, 20))
        } else {
            0
        };
        ((hi << 16) | lo) & 0x0FFF_FFFF
    }

    pub(crate) fn size(&self) -> u32 {
        le32(&self.0, 28)
    }

    pub(crate) fn times(&self) -> Times {
        Times {
            modified: super::time::fs_time(le16(&self.0, 24), le16(&self.0, 22), 0),
            accessed: super::time::fs_time(le16(&self.0, 18), 0, 0),
            changed: None,
            born: super::time::fs_time(le16(&self.0, 16), le16(&self.0, 14), byte(&self.0, 13)),
        }
    }

    /// The 8.3 name as tools show it: padding dropped, `.` before a non-empty
    /// extension, the NT case flags applied (0x08 base, 0x10 extension in lower case),
    /// OEM bytes decoded as code page 437 (0x05 in the first byte stands for 0xE5).
    pub(crate) fn short_name(&self) -> Vec<u8> {
        let case = self.0[12];
        let mut raw = self.0;
        if raw[0] == 0x05 {
            raw[0] = 0xE5;
        }
        let part = |bytes: &[u8], lower: bool| -> String {
            let end = bytes.iter().rposition(|&b| b != b' ').map_or(0, |i| i + 1);
            bytes[..end]
                .iter()
                .map(|&b| {
                    if b < 0x80 {
                        let c = b as char;
                        if lower { c.to_ascii_lowercase() } else { c }
                    } else {
                        CP437_HIGH
                            .chars()
                            .nth(usize::from(b - 0x80))
                            .unwrap_or('\u{FFFD}')
                    }
                })
                .collect()
        };
        let base = part(&raw[..8], case & 0x08 != 0);
        let ext = part(&raw[8..11], case & 0x10 != 0);
        let mut name = base;
        if !ext.is_empty() {
            name.push('.');
            name.push_str(&ext);
        }
        name.into_bytes()
    }

    fn checksum(&self) -> u8 {
        self.0[..11].iter().fold(0u8, |sum, &b| {
            ((sum & 1) << 7).wrapping_add(sum >> 1).wrapping_add(b)
        })
    }
}

/// The label in an 11-byte field, or `None` for blank / "NO NAME".
pub(crate) fn short_label(field: &[u8]) -> Option<String> {
    let e = ShortEntry({
        let mut raw = [b' '; 32];
        raw[..11].copy_from_slice(field);
        raw
    });
    // A label is 11 characters with no dot between base and extension.
    let raw = &e.0[..11];
    let end = raw.iter().rposition(|&b| b != b' ').map_or(0, |i| i + 1);
    if end == 0 || &raw[..end] == b"NO NAME" {
        return None;
    }
    Some(
        raw[..end]
            .iter()
            .map(|&b| {
                if b < 0x80 {
                    b as char
                } else {
                    CP437_HIGH
                        .chars()
                        .nth(usize::from(b - 0x80))
                        .unwrap_or('\u{FFFD}')
                }
            })
            .collect(),
    )
}

pub(crate) enum Slot {
    Entry {
        offset: u64,
        entry: ShortEntry,
        long: Option<Vec<u8>>,
    },
    Label(String),
}

/// Long-name slots seen so far for the next 8.3 entry.
struct LongName {
    units: Vec<u16>,
    /// The sequence number the next slot must carry (counting down to 1), 0 = none.
    expect: u8,
    checksum: u8,
    complete: bool,
}

impl LongName {
    fn reset(&mut self) {
        self.units.clear();
        self.expect = 0;
        self.complete = false;
    }

    fn push(&mut self, s: &[u8; 32]) {
        let ord = s[0] & 0x1F;
        if s[0] & 0x40 != 0 {
            self.reset();
            if !(1..=20).contains(&ord) {
                return;
            }
            self.units = vec![0xFFFF; usize::from(ord) * 13];
            self.expect = ord;
            self.checksum = s[13];
        } else if self.expect == 0 || ord != self.expect || s[13] != self.checksum {
            self.reset();
            return;
        }
        let base = usize::from(ord - 1) * 13;
        let mut i = 0;
        for (from, n) in [(1usize, 5usize), (14, 6), (28, 2)] {
            for k in 0..n {
                if let Some(u) = self.units.get_mut(base + i) {
                    *u = le16(s, from + 2 * k);
                }
                i += 1;
            }
        }
        self.expect = ord - 1;
        self.complete = self.expect == 0;
    }

    /// The long name if the slots were complete and belong to `e`.
    fn take(&mut self, e: &ShortEntry) -> Option<Vec<u8>> {
        let ok = self.complete && self.checksum == e.checksum();
        let units = std::mem::take(&mut self.units);
        self.reset();
        if !ok {
            return None;
        }
        // A name ends at a 0 unit, padded with 0xFFFF; one that fills its slots has none.
        let end = units.iter().position(|&u| u == 0).unwrap_or(units.len());
        let mut name = units[..end].to_vec();
        while name.last() == Some(&0xFFFF) {
            name.pop();
        }
        (!name.is_empty()).then(|| utf16_to_wtf8(&name))
    }
}

/// Visit the slots of a directory stored in `pieces` (volume offset, length) in order,
/// until the end marker or `visit` returns false.
pub(crate) fn scan(
    vol: &dyn ReadAt,
    pieces: &[(u64, u64)],
    mut visit: impl FnMut(Slot) -> bool,
) -> Result<(), FsError> {
    let mut long = LongName {
        units: Vec::new(),
        expect: 0,
        checksum: 0,
        complete: false,
    };
    let mut buf = Vec::new();
    for (at, len) in chunked(pieces) {
        buf.resize(len as usize, 0);
        let got = read_full(vol, at, &mut buf)?;
        for (i, raw) in buf[..got - got % 32].chunks_exact(32).enumerate() {
            let mut s = [0u8; 32];
            s.copy_from_slice(raw);
            let offset = at + (i as u64) * 32;
            match s[0] {
                0x00 => return Ok(()),
                0xE5 => {
                    long.reset();
                    continue;
                }
                _ => {}
            }
            let e = ShortEntry(s);
            if e.attr() & 0x3F == ATTR_LFN {
                long.push(&s);
                continue;
            }
            if e.attr() & ATTR_LABEL != 0 && e.attr() & ATTR_DIR == 0 {
                long.reset();
                if let Some(l) = short_label(&s[..11])
                    && !visit(Slot::Label(l))
                {
                    return Ok(());
                }
                continue;
            }
            if e.is_dot() {
                long.reset();
                continue;
            }
            let name = long.take(&e);
            if !visit(Slot::Entry {
                offset,
                entry: e,
                long: name,
            }) {
                return Ok(());
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
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn short(name: &[u8; 11], case: u8) -> ShortEntry {
        let mut raw = [0u8; 32];
        raw[..11].copy_from_slice(name);
        raw[12] = case;
        ShortEntry(raw)
    }

    #[test]
    fn short_names_apply_case_flags_and_code_page_437() {
        assert_eq!(short(b"README  TXT", 0x18).short_name(), b"readme.txt");
        assert_eq!(short(b"README  TXT", 0x10).short_name(), b"README.txt");
        assert_eq!(short(b"MAKEFILE   ", 0).short_name(), b"MAKEFILE");
        assert_eq!(
            short(b"\x05BC     \x81  ", 0).short_name(),
            "σBC.ü".as_bytes()
        );
    }

    #[test]
    fn a_long_name_with_a_wrong_checksum_is_ignored() {
        let e = short(b"LONGNA~1TXT", 0);
        let mut lfn = [0u8; 32];
        lfn[0] = 0x41;
        lfn[11] = ATTR_LFN;
        for (k, c) in "ab".encode_utf16().enumerate() {
            lfn[1 + 2 * k..3 + 2 * k].copy_from_slice(&c.to_le_bytes());
        }
        lfn[13] = e.checksum();
        let mut l = LongName {
            units: Vec::new(),
            expect: 0,
            checksum: 0,
            complete: false,
        };
        l.push(&lfn);
        assert_eq!(l.take(&e), Some(b"ab".to_vec()));
        lfn[13] ^= 1;
        l.push(&lfn);
        assert_eq!(l.take(&e), None);
    }
}
