//! From an inode's `i_block` to the byte extents of the volume that hold its data: the
//! ext4 extent tree (index and leaf nodes, unwritten extents) and the ext2/3 block map
//! (direct, single, double and triple indirect blocks). Holes and unwritten extents
//! become extents without a volume offset (they read as zeros, as the kernel returns).
//!
//! Owns the walk and its bounds. The tree's depth must fall by exactly one per level
//! (at most 5, the kernel's limit), so a node cannot point back to itself or an
//! ancestor; extents must come in increasing logical order, so a leaf reached twice is
//! refused; every block number is checked against the file system's block count and
//! the volume before it is read or recorded (`extent_outside_volume` with the byte
//! offset it names). Never reads more tree blocks than the volume has blocks.

use crate::source::image::fs::ondisk::{le16, le32};
use crate::source::image::fs::{Extent, FsError};
use crate::source::image::media::ReadAt;

/// The kernel's `EXT4_MAX_EXTENT_DEPTH`.
const MAX_DEPTH: u16 = 5;

pub(super) struct Geometry<'a> {
    pub volume: &'a dyn ReadAt,
    pub block_size: u64,
    pub blocks_count: u64,
}

impl Geometry<'_> {
    /// Physical blocks `[start, start + len)` lie in the file system and the volume.
    fn check_blocks(&self, ino: u32, start: u64, len: u64, what: &str) -> Result<(), FsError> {
        let end = start.checked_add(len);
        let at = start.saturating_mul(self.block_size);
        let volume_blocks = self.volume.size() / self.block_size;
        if end.is_none_or(|e| e > self.blocks_count || e > volume_blocks) || start == 0 {
            return Err(FsError::new(
                "extent_outside_volume",
                Some(at),
                format!(
                    "inode {ino}: {what} of {len} blocks at block {start} lies outside the file system ({} blocks; the volume holds {volume_blocks})",
                    self.blocks_count
                ),
            ));
        }
        Ok(())
    }

    fn read_block(&self, block: u64) -> Result<Vec<u8>, FsError> {
        let at = block * self.block_size;
        let mut buf = vec![0u8; self.block_size as usize];
        self.volume
            .read_exact_at(at, &mut buf)
            .map_err(|e| FsError::io(at, &e))?;
        Ok(buf)
    }

    /// Bound on tree and indirect blocks read for one file: no honest file needs more
    /// than the volume has.
    fn node_budget(&self) -> u64 {
        self.blocks_count.min(self.volume.size() / self.block_size) + 1
    }
}

/// Builds the layout in file order, merging adjacent pieces.
struct Builder {
    block_size: u64,
    size: u64,
    /// Next logical block expected (everything before is emitted).
    next_block: u64,
    out: Vec<Extent>,
}

impl Builder {
    fn new(block_size: u64, size: u64) -> Self {
        Builder {
            block_size,
            size,
            next_block: 0,
            out: Vec::new(),
        }
    }

    /// `len` blocks from logical block `logical`, at physical block `physical` (None:
    /// a hole or unwritten extent). Blocks at or past the end of the file are dropped.
    fn push(&mut self, logical: u64, len: u64, physical: Option<u64>) {
        let file_blocks = self.size.div_ceil(self.block_size);
        if logical >= file_blocks || len == 0 {
            return;
        }
        let len = len.min(file_blocks - logical);
        if logical > self.next_block {
            self.piece(self.next_block, logical - self.next_block, None);
        }
        self.piece(logical, len, physical);
        self.next_block = logical + len;
    }

    fn piece(&mut self, logical: u64, len: u64, physical: Option<u64>) {
        let file_offset = logical * self.block_size;
        let bytes = (len * self.block_size).min(self.size - file_offset);
        let volume_offset = physical.map(|p| p * self.block_size);
        if let Some(last) = self.out.last_mut() {
            let contiguous = match (last.volume_offset, volume_offset) {
                (None, None) => true,
                (Some(a), Some(b)) => a + last.len == b,
                _ => false,
            };
            if contiguous && last.file_offset + last.len == file_offset {
                last.len += bytes;
                return;
            }
        }
        self.out.push(Extent {
            file_offset,
            len: bytes,
            volume_offset,
        });
    }

    fn finish(mut self) -> Vec<Extent> {
        let file_blocks = self.size.div_ceil(self.block_size);
        if self.next_block < file_blocks {
            self.piece(self.next_block, file_blocks - self.next_block, None);
        }
        self.out
    }
}

/// The extents of a file whose `i_block` is an extent tree root.
pub(super) fn extent_tree(
    g: &Geometry,
    ino: u32,
    root: &[u8; 60],
    root_offset: u64,
    size: u64,
) -> Result<Vec<Extent>, FsError> {
    let mut b = Builder::new(g.block_size, size);
    let mut budget = g.node_budget();
    // The logical block after the last extent seen: extents must not go back.
    let mut seen_end = 0u64;
    walk(
        g,
        ino,
        root,
        root_offset,
        None,
        &mut budget,
        &mut seen_end,
        &mut b,
    )?;
    Ok(b.finish())
}

#[allow(clippy::too_many_arguments)]
fn walk(
    g: &Geometry,
    ino: u32,
    node: &[u8],
    node_offset: u64,
    expect_depth: Option<u16>,
    budget: &mut u64,
    seen_end: &mut u64,
    b: &mut Builder,
) -> Result<(), FsError> {
    let bad = |what: String| {
        FsError::new(
            "bad_extent_tree",
            Some(node_offset),
            format!("inode {ino}: {what}"),
        )
    };
    if le16(node, 0) != 0xF30A {
        return Err(bad(format!(
            "extent node magic {:#06x}, not 0xf30a",
            le16(node, 0)
        )));
    }
    let entries = usize::from(le16(node, 2));
    let max = usize::from(le16(node, 4));
    let depth = le16(node, 6);
    if entries > max || 12 + 12 * max > node.len() {
        return Err(bad(format!(
            "{entries} of {max} entries do not fit a {}-byte node",
            node.len()
        )));
    }
    match expect_depth {
        None if depth > MAX_DEPTH => {
            return Err(bad(format!(
                "extent tree {depth} levels deep (the limit is {MAX_DEPTH})"
            )));
        }
        Some(d) if depth != d => {
            return Err(bad(format!(
                "node at depth {depth} where depth {d} was expected (a loop or a damaged index)"
            )));
        }
        _ => {}
    }
    for i in 0..entries {
        let e = &node[12 + 12 * i..24 + 12 * i];
        let logical = u64::from(le32(e, 0));
        if depth == 0 {
            let raw_len = le16(e, 4);
            let (len, unwritten) = if raw_len > 32768 {
                (raw_len - 32768, true)
            } else {
                (raw_len, false)
            };
            let len = u64::from(len);
            let start = u64::from(le32(e, 8)) | (u64::from(le16(e, 6)) << 32);
            if logical < *seen_end {
                return Err(bad(format!(
                    "extent at logical block {logical} goes back before block {}",
                    *seen_end
                )));
            }
            if len == 0 {
                continue;
            }
            g.check_blocks(ino, start, len, "an extent")?;
            *seen_end = logical + len;
            b.push(logical, len, (!unwritten).then_some(start));
        } else {
            let child = u64::from(le32(e, 4)) | (u64::from(le16(e, 8)) << 32);
            if logical < *seen_end {
                return Err(bad(format!(
                    "index at logical block {logical} goes back before block {}",
                    *seen_end
                )));
            }
            if *budget == 0 {
                return Err(bad(
                    "more extent tree nodes than the volume has blocks".into()
                ));
            }
            *budget -= 1;
            g.check_blocks(ino, child, 1, "an extent index block")?;
            let block = g.read_block(child)?;
            walk(
                g,
                ino,
                &block,
                child * g.block_size,
                Some(depth - 1),
                budget,
                seen_end,
                b,
            )?;
        }
    }
    Ok(())
}

/// The extents of a file mapped by the ext2/3 block map in `i_block`.
pub(super) fn block_map(
    g: &Geometry,
    ino: u32,
    i_block: &[u8; 60],
    size: u64,
) -> Result<Vec<Extent>, FsError> {
    let mut b = Builder::new(g.block_size, size);
    let file_blocks = size.div_ceil(g.block_size);
    let per = g.block_size / 4;
    let mut budget = g.node_budget();
    let mut mapped = 0u64;
    let mut ctx = MapWalk {
        g,
        ino,
        file_blocks,
        per,
        budget: &mut budget,
        mapped: &mut mapped,
        b: &mut b,
    };
    for i in 0..12u64 {
        ctx.leaf(i, u64::from(le32(i_block, 4 * i as usize)))?;
    }
    let mut logical = 12u64;
    for level in 1..=3u32 {
        if logical >= file_blocks {
            break;
        }
        let ptr = u64::from(le32(i_block, 48 + 4 * (level as usize - 1)));
        ctx.indirect(ptr, level, logical)?;
        logical += per.pow(level);
    }
    Ok(b.finish())
}

struct MapWalk<'a, 'g> {
    g: &'a Geometry<'g>,
    ino: u32,
    file_blocks: u64,
    per: u64,
    budget: &'a mut u64,
    mapped: &'a mut u64,
    b: &'a mut Builder,
}

impl MapWalk<'_, '_> {
    fn leaf(&mut self, logical: u64, ptr: u64) -> Result<(), FsError> {
        if logical >= self.file_blocks || ptr == 0 {
            return Ok(());
        }
        self.g.check_blocks(self.ino, ptr, 1, "a mapped block")?;
        *self.mapped += 1;
        if *self.mapped > self.g.node_budget() {
            return Err(FsError::new(
                "bad_block_map",
                None,
                format!(
                    "inode {}: the block map maps more blocks than the volume has",
                    self.ino
                ),
            ));
        }
        self.b.push(logical, 1, Some(ptr));
        Ok(())
    }

    fn indirect(&mut self, ptr: u64, level: u32, first_logical: u64) -> Result<(), FsError> {
        if ptr == 0 || first_logical >= self.file_blocks {
            return Ok(());
        }
        if *self.budget == 0 {
            return Err(FsError::new(
                "bad_block_map",
                Some(ptr * self.g.block_size),
                format!(
                    "inode {}: more indirect blocks than the volume has",
                    self.ino
                ),
            ));
        }
        *self.budget -= 1;
        self.g.check_blocks(self.ino, ptr, 1, "an indirect block")?;
        let block = self.g.read_block(ptr)?;
        let span = self.per.pow(level - 1);
        for i in 0..self.per {
            let logical = first_logical + i * span;
            if logical >= self.file_blocks {
                break;
            }
            let child = u64::from(le32(&block, (4 * i) as usize));
            if level == 1 {
                self.leaf(logical, child)?;
            } else {
                self.indirect(child, level - 1, logical)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaf_root(extents: &[(u32, u16, u32)], depth: u16) -> [u8; 60] {
        let mut r = [0u8; 60];
        r[0..2].copy_from_slice(&0xF30Au16.to_le_bytes());
        r[2..4].copy_from_slice(&(extents.len() as u16).to_le_bytes());
        r[4..6].copy_from_slice(&4u16.to_le_bytes());
        r[6..8].copy_from_slice(&depth.to_le_bytes());
        for (i, &(l, n, p)) in extents.iter().enumerate() {
            let e = 12 + 12 * i;
            r[e..e + 4].copy_from_slice(&l.to_le_bytes());
            if depth == 0 {
                r[e + 4..e + 6].copy_from_slice(&n.to_le_bytes());
                r[e + 8..e + 12].copy_from_slice(&p.to_le_bytes());
            } else {
                r[e + 4..e + 8].copy_from_slice(&p.to_le_bytes());
            }
        }
        r
    }

    #[test]
    fn holes_unwritten_extents_and_the_partial_last_block_are_laid_out_exactly() {
        let vol = vec![0u8; 1024 * 100];
        let g = Geometry {
            volume: &vol,
            block_size: 1024,
            blocks_count: 100,
        };
        // Blocks 0-1 at 10, hole at 2, block 3 unwritten, block 4 at 50; 4.5 KiB file.
        let root = leaf_root(&[(0, 2, 10), (3, 32769, 20), (4, 1, 50)], 0);
        let ex = extent_tree(&g, 12, &root, 0, 4 * 1024 + 512).unwrap();
        let want = vec![
            Extent {
                file_offset: 0,
                len: 2048,
                volume_offset: Some(10 * 1024),
            },
            Extent {
                file_offset: 2048,
                len: 2048,
                volume_offset: None,
            },
            Extent {
                file_offset: 4096,
                len: 512,
                volume_offset: Some(50 * 1024),
            },
        ];
        assert_eq!(ex, want);
    }

    #[test]
    fn an_extent_outside_the_volume_names_its_offset_and_a_self_loop_is_refused() {
        let vol = vec![0u8; 1024 * 100];
        let g = Geometry {
            volume: &vol,
            block_size: 1024,
            blocks_count: 200,
        };
        let root = leaf_root(&[(0, 4, 150)], 0);
        let e = extent_tree(&g, 12, &root, 0, 4096).unwrap_err();
        assert_eq!(e.reason, "extent_outside_volume");
        assert_eq!(e.offset, Some(150 * 1024));
        // An index block that points at itself: same depth where one less is required.
        let mut vol = vec![0u8; 1024 * 100];
        let node = leaf_root(&[(0, 0, 30)], 1);
        vol[30 * 1024..30 * 1024 + 60].copy_from_slice(&node);
        let g = Geometry {
            volume: &vol,
            block_size: 1024,
            blocks_count: 100,
        };
        let root = leaf_root(&[(0, 0, 30)], 2);
        let e = extent_tree(&g, 12, &root, 0, 4096).unwrap_err();
        assert_eq!(e.reason, "bad_extent_tree");
        assert!(e.detail.contains("depth"), "{e:?}");
        let deep = leaf_root(&[(0, 0, 30)], 6);
        assert_eq!(
            extent_tree(&g, 12, &deep, 0, 4096).unwrap_err().reason,
            "bad_extent_tree"
        );
    }
}
