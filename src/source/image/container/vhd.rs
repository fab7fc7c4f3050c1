//! Legacy VHD (Virtual PC / Hyper-V generation 1, qemu's `vpc`), fixed and dynamic,
//! hand-written.
//!
//! Why not a crate: the one found (`vhd-core` 0.1.4, single author, first released weeks
//! ago) reads the whole file into memory when it opens — a 500 GB VHD would need 500 GB
//! of RAM — and fieldkit's memory must stay flat in image size. The format is small: a
//! fixed VHD is the raw disk followed by a 512-byte footer; a dynamic one is a footer copy,
//! a dynamic header, a block allocation table (BAT) and blocks, each a sector bitmap then
//! the data (MS "Virtual Hard Disk Image Format Specification" 1.0, all fields big-endian).
//! Checked here: both checksums (a damaged tail footer falls back to the copy at offset 0
//! of a dynamic VHD, with a note), the block size, the BAT's size and every block's
//! position inside the file. The sector bitmap is honoured: a sector it marks unwritten
//! reads as zeros, as the specification says. Differencing disks are refused (their
//! unwritten sectors live in the parent).
//!
//! Must never: read a block from outside the file, or return a sector's bytes that the
//! bitmap says were never written.

use std::io;
use std::path::Path;
use std::sync::{Arc, Mutex};

use super::{Container, ContainerInfo, StoredHashes, segment_infos};
use crate::source::image::media::{FileMedia, ReadAt, Window};
use crate::source::image::open::ImageError;

const COOKIE: &[u8; 8] = b"conectix";
const SPARSE_COOKIE: &[u8; 8] = b"cxsparse";
const UNALLOCATED: u32 = 0xffff_ffff;
/// 16 M entries (64 MiB of BAT) is 32 TiB at the default 2 MiB block: far beyond what
/// the format's 2 TiB limit allows.
const MAX_BAT_ENTRIES: u32 = 16 * 1024 * 1024;
const BITMAP_CACHE: usize = 16;

/// Whether the last 512 bytes of a file hold a VHD footer (512-byte, or the 511-byte
/// footer of old Virtual PC versions).
pub fn tail_has_footer(tail: &[u8]) -> bool {
    tail.len() == 512 && (tail.starts_with(COOKIE) || tail[1..].starts_with(COOKIE))
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn be64(b: &[u8], at: usize) -> u64 {
    let mut v = [0u8; 8];
    v.copy_from_slice(&b[at..at + 8]);
    u64::from_be_bytes(v)
}

/// Ones' complement of the byte sum, the checksum field itself counted as zero.
fn checksum(block: &[u8], field: usize) -> u32 {
    let sum = block
        .iter()
        .enumerate()
        .filter(|(i, _)| !(field..field + 4).contains(i))
        .fold(0u32, |acc, (_, &b)| acc.wrapping_add(u32::from(b)));
    !sum
}

#[derive(Debug, Clone)]
struct Footer {
    data_offset: u64,
    current_size: u64,
    disk_type: u32,
    creator: String,
}

fn parse_footer(b: &[u8]) -> Result<Footer, String> {
    if b.len() < 512 || !b.starts_with(COOKIE) {
        return Err("no conectix footer".into());
    }
    let stored = be32(b, 64);
    let computed = checksum(&b[..512], 64);
    if stored != computed {
        return Err(format!(
            "footer checksum {computed:08x} does not match the stored {stored:08x}"
        ));
    }
    Ok(Footer {
        data_offset: be64(b, 16),
        current_size: be64(b, 48),
        disk_type: be32(b, 60),
        creator: String::from_utf8_lossy(&b[28..32]).trim().to_string(),
    })
}

pub fn open(path: &Path) -> Result<Container, ImageError> {
    let file = FileMedia::open(path).map_err(|e| ImageError::io(path, None, "cannot open", &e))?;
    let file_size = file.size();
    let bad = |offset: u64, detail: String| ImageError::new(path, "damaged", Some(offset), detail);
    if file_size < 512 {
        return Err(bad(0, "VHD is shorter than its 512-byte footer".into()));
    }
    let mut tail = vec![0u8; 512];
    file.read_exact_at(file_size - 512, &mut tail)
        .map_err(|e| ImageError::io(path, Some(file_size - 512), "cannot read", &e))?;
    // The 511-byte footer of old Virtual PC versions starts one byte later.
    let (footer_at, tail_footer) = if tail.starts_with(COOKIE) {
        (file_size - 512, tail.clone())
    } else {
        let mut t = tail[1..].to_vec();
        t.push(0);
        (file_size - 511, t)
    };
    let mut head = vec![0u8; 512];
    let head_read = file.read_exact_at(0, &mut head).is_ok();
    let mut notes = Vec::new();
    let footer = match parse_footer(&tail_footer) {
        Ok(f) => f,
        Err(tail_err) => match head_read.then(|| parse_footer(&head)) {
            Some(Ok(f)) if f.disk_type != 2 => {
                notes.push(format!(
                    "the VHD footer at offset {footer_at} is damaged ({tail_err}); the copy at offset 0 was used"
                ));
                f
            }
            _ => return Err(bad(footer_at, format!("VHD footer unusable: {tail_err}"))),
        },
    };
    let mut metadata = std::collections::BTreeMap::new();
    if !footer.creator.is_empty() {
        metadata.insert("creator_application".to_string(), footer.creator.clone());
    }
    let size = footer.current_size;
    let (media, detail): (Arc<dyn ReadAt>, &str) = match footer.disk_type {
        2 => {
            if size > footer_at {
                return Err(ImageError::new(
                    path,
                    "truncated",
                    Some(footer_at),
                    format!("fixed VHD declares {size} bytes of disk but holds {footer_at}"),
                ));
            }
            if size < footer_at {
                notes.push(format!(
                    "{} bytes between the disk data and the footer are not part of the media",
                    footer_at - size
                ));
            }
            let label = format!("VHD image {}", path.display());
            let (window, _) = Window::new(Arc::new(file), 0, size, label);
            (Arc::new(window), "VHD fixed")
        }
        3 => (
            Arc::new(open_dynamic(path, file, &footer, footer_at)?),
            "VHD dynamic",
        ),
        4 => {
            return Err(ImageError::new(
                path,
                "unsupported_format",
                None,
                "is a differencing VHD (its unwritten sectors live in a parent disk): give a merged copy",
            ));
        }
        other => {
            return Err(bad(
                footer_at + 60,
                format!("VHD disk type {other} is not fixed (2), dynamic (3) or differencing (4)"),
            ));
        }
    };
    Ok(Container {
        info: ContainerInfo {
            format: "vhd",
            format_detail: detail.to_string(),
            path: path.to_path_buf(),
            media_size: size,
            sector_size: Some(512),
            segments: segment_infos(&[path.to_path_buf()])?,
            metadata,
            stored_hashes: StoredHashes::default(),
            acquisition_errors: Vec::new(),
            notes,
        },
        media,
    })
}

fn open_dynamic(
    path: &Path,
    file: FileMedia,
    footer: &Footer,
    footer_at: u64,
) -> Result<DynamicVhd, ImageError> {
    let bad = |offset: u64, detail: String| ImageError::new(path, "damaged", Some(offset), detail);
    let at = footer.data_offset;
    let mut header = vec![0u8; 1024];
    if at.checked_add(1024).is_none_or(|end| end > footer_at) {
        return Err(bad(at, "VHD dynamic header lies outside the file".into()));
    }
    file.read_exact_at(at, &mut header)
        .map_err(|e| ImageError::io(path, Some(at), "cannot read", &e))?;
    if !header.starts_with(SPARSE_COOKIE) {
        return Err(bad(at, "VHD dynamic header has no cxsparse cookie".into()));
    }
    let stored = be32(&header, 36);
    let computed = checksum(&header, 36);
    if stored != computed {
        return Err(bad(
            at,
            format!(
                "VHD dynamic header checksum {computed:08x} does not match the stored {stored:08x}"
            ),
        ));
    }
    let table_offset = be64(&header, 16);
    let entries = be32(&header, 28);
    let block_size = u64::from(be32(&header, 32));
    if !block_size.is_power_of_two() || !(512..=256 * 1024 * 1024).contains(&block_size) {
        return Err(bad(
            at + 32,
            format!("VHD block size {block_size} is not a power of two between 512 B and 256 MiB"),
        ));
    }
    let needed = footer.current_size.div_ceil(block_size);
    if entries > MAX_BAT_ENTRIES || u64::from(entries) < needed {
        return Err(bad(
            at + 28,
            format!(
                "VHD block table has {entries} entries where the disk ({} bytes in {block_size}-byte blocks) needs {needed}",
                footer.current_size
            ),
        ));
    }
    let bat_len = u64::from(entries) * 4;
    if table_offset
        .checked_add(bat_len)
        .is_none_or(|end| end > footer_at)
    {
        return Err(bad(
            table_offset,
            "VHD block table lies outside the file".into(),
        ));
    }
    let mut raw = vec![0u8; bat_len as usize];
    file.read_exact_at(table_offset, &mut raw)
        .map_err(|e| ImageError::io(path, Some(table_offset), "cannot read", &e))?;
    let bat: Vec<u32> = raw
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    // One bit per 512-byte sector, padded to whole sectors.
    let bitmap_len = (block_size / 512).div_ceil(8).div_ceil(512) * 512;
    for (i, &sector) in bat.iter().enumerate().take(needed as usize) {
        if sector == UNALLOCATED {
            continue;
        }
        let start = u64::from(sector) * 512;
        if start
            .checked_add(bitmap_len + block_size)
            .is_none_or(|end| end > footer_at)
        {
            return Err(bad(
                table_offset + 4 * i as u64,
                format!(
                    "VHD block {i} is said to lie at offset {start}, outside the file's {footer_at} bytes of data"
                ),
            ));
        }
    }
    Ok(DynamicVhd {
        label: format!("VHD image {}", path.display()),
        file,
        size: footer.current_size,
        bat,
        block_size,
        bitmap_len,
        bitmaps: Mutex::new(Vec::with_capacity(BITMAP_CACHE)),
    })
}

struct DynamicVhd {
    file: FileMedia,
    size: u64,
    bat: Vec<u32>,
    block_size: u64,
    bitmap_len: u64,
    bitmaps: Mutex<Vec<(usize, Arc<Vec<u8>>)>>,
    label: String,
}

impl DynamicVhd {
    fn bitmap(&self, block: usize, at: u64) -> io::Result<Arc<Vec<u8>>> {
        {
            let cache = self.bitmaps.lock().unwrap_or_else(|p| p.into_inner());
            if let Some((_, b)) = cache.iter().find(|(i, _)| *i == block) {
                return Ok(Arc::clone(b));
            }
        }
        let mut b = vec![0u8; self.bitmap_len as usize];
        self.file.read_exact_at(at, &mut b)?;
        let b = Arc::new(b);
        let mut cache = self.bitmaps.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() >= BITMAP_CACHE {
            cache.remove(0);
        }
        cache.push((block, Arc::clone(&b)));
        Ok(b)
    }
}

impl ReadAt for DynamicVhd {
    fn size(&self) -> u64 {
        self.size
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        let mut done = 0usize;
        while done < buf.len() {
            let pos = offset + done as u64;
            if pos >= self.size {
                break;
            }
            let block = (pos / self.block_size) as usize;
            let within = pos % self.block_size;
            // Serve up to the end of this sector run (same bitmap bit), block and media.
            let mut n = (self.block_size - within)
                .min(self.size - pos)
                .min((buf.len() - done) as u64);
            let out = &mut buf[done..];
            let sector = self.bat.get(block).copied().unwrap_or(UNALLOCATED);
            if sector == UNALLOCATED {
                out[..n as usize].fill(0);
            } else {
                let start = u64::from(sector) * 512;
                let bitmap = self.bitmap(block, start)?;
                let first = within / 512;
                let bit = |s: u64| bitmap[(s / 8) as usize] & (0x80 >> (s % 8)) != 0;
                let written = bit(first);
                let mut last = first;
                let sectors = self.block_size / 512;
                while last + 1 < sectors
                    && (last + 1) * 512 < within + n
                    && bit(last + 1) == written
                {
                    last += 1;
                }
                n = n.min((last + 1) * 512 - within);
                if written {
                    self.file
                        .read_exact_at(start + self.bitmap_len + within, &mut out[..n as usize])
                        .map_err(|e| {
                            io::Error::new(e.kind(), format!("{}: block {block}: {e}", self.label))
                        })?;
                } else {
                    out[..n as usize].fill(0);
                }
            }
            done += n as usize;
        }
        Ok(done)
    }

    fn describe(&self) -> String {
        self.label.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_checksum_is_the_complement_of_the_byte_sum_without_its_field() {
        let mut f = vec![0u8; 512];
        f[..8].copy_from_slice(COOKIE);
        f[60..64].copy_from_slice(&2u32.to_be_bytes());
        let c = checksum(&f, 64);
        f[64..68].copy_from_slice(&c.to_be_bytes());
        assert_eq!(parse_footer(&f).unwrap().disk_type, 2);
        f[100] ^= 1;
        assert!(parse_footer(&f).unwrap_err().contains("checksum"));
    }
}
