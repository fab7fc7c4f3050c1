//! Small pieces every on-disk reader needs: little-endian fields read out of a buffer the
//! reader owns, UTF-16 names turned into UTF-8 without loss, and the directory ancestry
//! that lets a reader refuse a directory cycle.
//!
//! Owns only these helpers. Must never panic on a short buffer (a field past the end
//! reads as 0: every caller reads fixed-size structures it sized itself, and checks its
//! lengths before trusting them) and never hold a lock while doing I/O.

use std::collections::HashMap;
use std::sync::Mutex;

use super::{FileSystem, FsError};

pub(crate) fn le16(b: &[u8], at: usize) -> u16 {
    b.get(at..at + 2)
        .map_or(0, |s| u16::from_le_bytes([s[0], s[1]]))
}

pub(crate) fn le32(b: &[u8], at: usize) -> u32 {
    b.get(at..at + 4)
        .map_or(0, |s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

pub(crate) fn le64(b: &[u8], at: usize) -> u64 {
    b.get(at..at + 8).map_or(0, |s| {
        let mut a = [0u8; 8];
        a.copy_from_slice(s);
        u64::from_le_bytes(a)
    })
}

pub(crate) fn byte(b: &[u8], at: usize) -> u8 {
    b.get(at).copied().unwrap_or(0)
}

/// UTF-16 code units to UTF-8; an unpaired surrogate becomes its WTF-8 encoding (three
/// bytes, as the trait's `DirEntry` promises), so no on-disk name is lost or merged with
/// another by a replacement character.
pub(crate) fn utf16_to_wtf8(units: &[u16]) -> Vec<u8> {
    let mut out = Vec::with_capacity(units.len());
    for r in char::decode_utf16(units.iter().copied()) {
        match r {
            Ok(c) => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
            Err(e) => {
                let u = u32::from(e.unpaired_surrogate());
                out.push(0xE0 | (u >> 12) as u8);
                out.push(0x80 | ((u >> 6) & 0x3F) as u8);
                out.push(0x80 | (u & 0x3F) as u8);
            }
        }
    }
    out
}

/// A name the trait may hand out: not empty, not `.`/`..`, no `/` or NUL. A reader that
/// finds another on disk reports the directory as damaged rather than inventing a name.
pub(crate) fn check_name(name: &[u8], entry_offset: u64) -> Result<(), FsError> {
    if name.is_empty() || name == b"." || name == b".." || name.iter().any(|&b| b == b'/' || b == 0)
    {
        return Err(FsError::new(
            "bad_name",
            Some(entry_offset),
            format!(
                "directory entry with an impossible name {:?}",
                String::from_utf8_lossy(name)
            ),
        ));
    }
    Ok(())
}

/// Which directory (by the reader's own key: first cluster, inode) each listed
/// subdirectory was first found in. A directory whose listing names one of its own
/// ancestors (or itself) is a cycle: following it would walk forever. FAT and exFAT
/// identify an entry by where its directory entry lies, so two entries naming the same
/// clusters have different `NodeId`s and a walker comparing ids could not see the loop;
/// the key here is the data itself.
#[derive(Default)]
pub(crate) struct DirAncestry {
    parent_of: Mutex<HashMap<u64, u64>>,
}

impl DirAncestry {
    /// Check the subdirectories (`children`) found while listing `dir`; record `dir` as
    /// their parent. `Err(child)` names the first child that is `dir` or an ancestor.
    pub(crate) fn check_and_record(&self, dir: u64, children: &[u64]) -> Result<(), u64> {
        let Ok(mut map) = self.parent_of.lock() else {
            // A poisoned map only means another thread panicked mid-insert; the data is
            // still a plain map.
            return Ok(());
        };
        // The ancestors of `dir` as far as they were seen (bounded by the map's size: the
        // map is kept acyclic, but a bound costs nothing).
        let mut ancestors = vec![dir];
        let mut at = dir;
        while let Some(&p) = map.get(&at) {
            if ancestors.contains(&p) || ancestors.len() > map.len() {
                break;
            }
            ancestors.push(p);
            at = p;
        }
        if let Some(&bad) = children.iter().find(|c| ancestors.contains(c)) {
            return Err(bad);
        }
        for &c in children {
            map.entry(c).or_insert(dir);
        }
        Ok(())
    }
}

/// Walk and read everything a file system shows, within fixed budgets (nodes, depth,
/// bytes): every stream (default and named: NTFS alternate data streams) of every entry
/// reachable from the root, then those of the deleted entries, as `collect --deleted`
/// reads them. The fuzz entry points of the readers share it, so every reader is
/// exercised the same way the acquire engine uses it. Errors are expected and ignored; a
/// panic or a hang is the bug it looks for.
pub(crate) fn exercise(fs: &dyn FileSystem) {
    use std::io::Read;
    let _ = fs.info();
    let mut budget_nodes = 4096usize;
    let mut budget_bytes = 1u64 << 20;
    let mut buf = vec![0u8; 64 * 1024];
    let mut read_streams = |id, streams: &[super::StreamInfo], budget_bytes: &mut u64| {
        let names = std::iter::once(None).chain(streams.iter().map(|s| Some(s.name.as_slice())));
        for stream in names {
            let Ok(layout) = fs.layout(id, stream) else {
                continue;
            };
            let Ok(mut reader) =
                super::read::LayoutReader::new(std::sync::Arc::clone(fs.volume()), layout)
            else {
                continue;
            };
            while *budget_bytes > 0 {
                let want = buf.len().min(*budget_bytes as usize);
                match reader.read(&mut buf[..want]) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => *budget_bytes -= n as u64,
                }
            }
        }
    };
    let mut seen = std::collections::HashSet::new();
    let mut stack = vec![(fs.root(), 0usize)];
    while let Some((id, depth)) = stack.pop() {
        if budget_nodes == 0 {
            break;
        }
        budget_nodes -= 1;
        if !seen.insert(id) {
            continue;
        }
        let streams = fs.node(id).map(|n| n.streams).unwrap_or_default();
        read_streams(id, &streams, &mut budget_bytes);
        if depth < 64
            && let Ok(entries) = fs.read_dir(id)
        {
            stack.extend(entries.into_iter().map(|e| (e.id, depth + 1)));
        }
    }
    if let Ok(deleted) = fs.deleted() {
        for d in deleted.entries.iter().take(budget_nodes.max(256)) {
            read_streams(d.node.id, &d.node.streams, &mut budget_bytes);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unpaired_surrogates_survive_as_wtf8_and_pairs_decode() {
        assert_eq!(utf16_to_wtf8(&[0x61, 0xD83D, 0xDE00]), "a😀".as_bytes());
        assert_eq!(utf16_to_wtf8(&[0xD800, 0x62]), [0xED, 0xA0, 0x80, b'b']);
    }

    #[test]
    fn a_listing_that_names_an_ancestor_is_a_cycle() {
        let a = DirAncestry::default();
        assert_eq!(a.check_and_record(1, &[10, 11]), Ok(()));
        assert_eq!(a.check_and_record(10, &[20]), Ok(()));
        assert_eq!(a.check_and_record(20, &[10]), Err(10));
        assert_eq!(a.check_and_record(11, &[11]), Err(11));
        // A cross-link to a directory that is not an ancestor is not a cycle.
        assert_eq!(a.check_and_record(11, &[20]), Ok(()));
    }
}
