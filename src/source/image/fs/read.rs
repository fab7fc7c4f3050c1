//! Reading a stream by following its `Layout` over the volume: the one way bytes of an
//! image file reach the acquire engine, whatever the file system.
//!
//! Owns turning extents into a sequential `Read` (holes read as zeros; resident bytes
//! served from memory) and refusing layouts that are not whole (gaps, overlaps, extents
//! past the volume's end) before a byte is read. Never returns bytes of a `Compressed`
//! layout undecoded, nor anything for an `Undecodable` one.

use std::io;
use std::sync::Arc;

use super::{Extent, FsError, Layout};
use crate::source::image::media::ReadAt;

/// Check that `extents` cover `[0, size)` in order without gaps or overlaps and lie
/// inside a volume of `volume_size` bytes.
pub fn check_extents(size: u64, extents: &[Extent], volume_size: u64) -> Result<(), FsError> {
    let mut next = 0u64;
    for (i, e) in extents.iter().enumerate() {
        if e.file_offset != next {
            return Err(FsError::new(
                "bad_layout",
                e.volume_offset,
                format!(
                    "extent {i} starts at file offset {} where {next} was expected",
                    e.file_offset
                ),
            ));
        }
        if let Some(at) = e.volume_offset {
            let end = at.checked_add(e.len);
            if end.is_none_or(|end| end > volume_size) {
                return Err(FsError::new(
                    "extent_outside_volume",
                    Some(at),
                    format!(
                        "extent {i} ({} bytes at volume offset {at}) runs past the volume's end at {volume_size}",
                        e.len
                    ),
                ));
            }
        }
        next = next.checked_add(e.len).ok_or_else(|| {
            FsError::new("bad_layout", e.volume_offset, "extent lengths overflow")
        })?;
    }
    if next != size {
        return Err(FsError::new(
            "bad_layout",
            None,
            format!("extents cover {next} bytes of a {size}-byte stream"),
        ));
    }
    Ok(())
}

/// A sequential reader over an uncompressed layout.
pub struct LayoutReader {
    volume: Arc<dyn ReadAt>,
    source: Source,
    pos: u64,
    size: u64,
}

enum Source {
    Resident(Vec<u8>),
    Extents { extents: Vec<Extent>, index: usize },
}

impl LayoutReader {
    /// A reader for `layout` on `volume`, or why it cannot be read as plain bytes.
    pub fn new(volume: Arc<dyn ReadAt>, layout: Layout) -> Result<Self, FsError> {
        match layout {
            Layout::Resident { bytes, .. } => Ok(LayoutReader {
                volume,
                size: bytes.len() as u64,
                source: Source::Resident(bytes),
                pos: 0,
            }),
            Layout::Extents { size, extents } => {
                check_extents(size, &extents, volume.size())?;
                Ok(LayoutReader {
                    volume,
                    size,
                    source: Source::Extents { extents, index: 0 },
                    pos: 0,
                })
            }
            Layout::Compressed { .. } => Err(FsError::new(
                "undecodable",
                None,
                "NTFS-compressed (LZNT1) data: this reader does not decode it",
            )),
            Layout::Undecodable { reason } => Err(FsError::new("undecodable", None, reason)),
        }
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// Back to the first byte (a second read of the same stream).
    pub fn rewind(&mut self) {
        self.pos = 0;
        if let Source::Extents { index, .. } = &mut self.source {
            *index = 0;
        }
    }
}

impl io::Read for LayoutReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() || self.pos >= self.size {
            return Ok(0);
        }
        match &mut self.source {
            Source::Resident(bytes) => {
                let start = self.pos as usize;
                let n = (bytes.len() - start).min(buf.len());
                buf[..n].copy_from_slice(&bytes[start..start + n]);
                self.pos += n as u64;
                Ok(n)
            }
            Source::Extents { extents, index } => {
                while let Some(e) = extents.get(*index) {
                    if self.pos < e.file_offset + e.len {
                        break;
                    }
                    *index += 1;
                }
                let Some(e) = extents.get(*index) else {
                    return Ok(0);
                };
                let within = self.pos - e.file_offset;
                let n = (e.len - within).min(buf.len() as u64) as usize;
                let got = match e.volume_offset {
                    None => {
                        buf[..n].fill(0);
                        n
                    }
                    Some(at) => {
                        let got = self.volume.read_at(at + within, &mut buf[..n])?;
                        if got == 0 {
                            return Err(io::Error::new(
                                io::ErrorKind::UnexpectedEof,
                                format!(
                                    "{}: the volume ended at offset {} inside an extent",
                                    self.volume.describe(),
                                    at + within
                                ),
                            ));
                        }
                        got
                    }
                };
                self.pos += got as u64;
                Ok(got)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn ext(file_offset: u64, len: u64, volume_offset: Option<u64>) -> Extent {
        Extent {
            file_offset,
            len,
            volume_offset,
        }
    }

    #[test]
    fn extents_and_holes_read_in_file_order() {
        let vol: Arc<dyn ReadAt> = Arc::new((0u8..=255).collect::<Vec<u8>>());
        let layout = Layout::Extents {
            size: 10,
            extents: vec![ext(0, 3, Some(200)), ext(3, 4, None), ext(7, 3, Some(10))],
        };
        let mut r = LayoutReader::new(vol, layout).unwrap();
        let mut out = Vec::new();
        r.read_to_end(&mut out).unwrap();
        assert_eq!(out, [200, 201, 202, 0, 0, 0, 0, 10, 11, 12]);
    }

    #[test]
    fn an_extent_past_the_volume_or_a_gap_is_refused_before_reading() {
        let vol: Arc<dyn ReadAt> = Arc::new(vec![0u8; 100]);
        let past = Layout::Extents {
            size: 10,
            extents: vec![ext(0, 10, Some(95))],
        };
        let e = LayoutReader::new(Arc::clone(&vol), past).err().unwrap();
        assert_eq!(e.reason, "extent_outside_volume");
        assert_eq!(e.offset, Some(95));
        let gap = Layout::Extents {
            size: 10,
            extents: vec![ext(0, 4, Some(0)), ext(5, 5, Some(10))],
        };
        assert_eq!(
            LayoutReader::new(vol, gap).err().unwrap().reason,
            "bad_layout"
        );
    }
}
