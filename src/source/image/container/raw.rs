//! Raw media: a plain file (`.raw .dd .img .bin`, or any file no other container claims)
//! and split raw sets read as one — numeric (`disk.001 disk.002 …`, any width, from `000`
//! or `001`) and alphabetic (`disk.aa disk.ab …`, as `split` names them).
//!
//! Owns finding every segment of a set from its first file, refusing a set that is not
//! whole (the first file given is not the first of its set, a number is skipped, a segment
//! is empty), and serving reads that cross segment boundaries. A set whose *last* segment
//! is missing cannot be told from a shorter disk by names alone: the volume layer then
//! notes the partitions that run past the end.
//!
//! Must never: open a segment for writing, guess a segment order from anything but its
//! name, or read bytes past the set's end.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{Container, ContainerInfo, StoredHashes, segment_infos};
use crate::source::image::media::{FileMedia, ReadAt};
use crate::source::image::open::ImageError;

/// Open a plain file, or the split set it starts.
pub fn open(path: &Path, size: u64) -> Result<Container, ImageError> {
    let set = split_set(path)?;
    if set.len() <= 1 {
        let media =
            FileMedia::open(path).map_err(|e| ImageError::io(path, None, "cannot open", &e))?;
        return Ok(Container {
            info: ContainerInfo {
                format: "raw",
                format_detail: "raw (plain file)".into(),
                path: path.to_path_buf(),
                media_size: size,
                sector_size: None,
                segments: segment_infos(&[path.to_path_buf()])?,
                metadata: Default::default(),
                stored_hashes: StoredHashes::default(),
                acquisition_errors: Vec::new(),
                notes: Vec::new(),
            },
            media: Arc::new(media),
        });
    }
    let media = SplitMedia::open(&set)?;
    let mut notes = Vec::new();
    if let Some(first) = media.parts.first() {
        let first_len = first.media.size();
        for part in &media.parts[1..media.parts.len() - 1] {
            if part.media.size() != first_len {
                notes.push(format!(
                    "segment {} is {} bytes where the first is {first_len}: segments of a split set are normally equal",
                    part.media.path().display(),
                    part.media.size()
                ));
            }
        }
    }
    let segments = segment_infos(&set)?;
    Ok(Container {
        info: ContainerInfo {
            format: "split_raw",
            format_detail: format!("split raw ({} segments)", set.len()),
            path: path.to_path_buf(),
            media_size: media.size,
            sector_size: None,
            segments,
            metadata: Default::default(),
            stored_hashes: StoredHashes::default(),
            acquisition_errors: Vec::new(),
            notes,
        },
        media: Arc::new(media),
    })
}

/// How a split set's segment names count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Counting {
    /// `.000`/`.001` …: decimal of a fixed width.
    Numeric { width: usize },
    /// `.aa` `.ab` …: base-26 letters of a fixed width, lower or upper case.
    Letters { width: usize, upper: bool },
}

impl Counting {
    fn of(ext: &str) -> Option<(Counting, u64)> {
        let width = ext.len();
        if width >= 2 && ext.bytes().all(|b| b.is_ascii_digit()) {
            let n = ext.parse::<u64>().ok()?;
            return Some((Counting::Numeric { width }, n));
        }
        if (2..=6).contains(&width) && ext.bytes().all(|b| b.is_ascii_lowercase()) {
            return Some((
                Counting::Letters {
                    width,
                    upper: false,
                },
                letters_value(ext),
            ));
        }
        if (2..=6).contains(&width) && ext.bytes().all(|b| b.is_ascii_uppercase()) {
            return Some((Counting::Letters { width, upper: true }, letters_value(ext)));
        }
        None
    }

    fn name(self, n: u64) -> Option<String> {
        match self {
            Counting::Numeric { width } => {
                let s = format!("{n:0width$}");
                (s.len() == width).then_some(s)
            }
            Counting::Letters { width, upper } => {
                let base = if upper { b'A' } else { b'a' };
                let mut digits = vec![base; width];
                let mut rest = n;
                for d in digits.iter_mut().rev() {
                    *d = base + (rest % 26) as u8;
                    rest /= 26;
                }
                (rest == 0).then(|| String::from_utf8_lossy(&digits).into_owned())
            }
        }
    }

    /// The number a set of this kind starts at: `.aa` is 0; numeric sets start at 000 or
    /// 001 (FTK and `split --numeric-suffixes=1` use 001, `split -d` uses 00).
    fn is_first(self, n: u64) -> bool {
        match self {
            Counting::Numeric { .. } => n <= 1,
            Counting::Letters { .. } => n == 0,
        }
    }
}

fn letters_value(ext: &str) -> u64 {
    ext.bytes().fold(0u64, |acc, b| {
        acc * 26 + u64::from(b.to_ascii_lowercase() - b'a')
    })
}

/// The segments of the split set `first` begins, in order; a one-element list when
/// `first` is not named like a segment or has no siblings.
fn split_set(first: &Path) -> Result<Vec<PathBuf>, ImageError> {
    let (Some(stem), Some(ext)) = (
        first.file_stem().and_then(|s| s.to_str()),
        first.extension().and_then(|e| e.to_str()),
    ) else {
        return Ok(vec![first.to_path_buf()]);
    };
    let Some((counting, start)) = Counting::of(ext) else {
        return Ok(vec![first.to_path_buf()]);
    };
    let sibling = |n: u64| {
        counting
            .name(n)
            .map(|e| first.with_file_name(format!("{stem}.{e}")))
    };
    // A set starting at 000 has 001 as its second segment; any later name has earlier ones.
    let earlier = if counting.is_first(start) {
        (start == 1)
            .then(|| sibling(0))
            .flatten()
            .filter(|p| p.exists())
    } else {
        (0..start)
            .rev()
            .take(2)
            .find_map(|n| sibling(n).filter(|p| p.exists()))
    };
    if let Some(earlier) = earlier {
        return Err(ImageError::new(
            first,
            "not_first_segment",
            None,
            format!(
                "is not the first segment of its split set ({} exists): give the first one",
                earlier.display()
            ),
        ));
    }
    if !counting.is_first(start) {
        // `disk.img`, `backup.2024`: named like a segment but not the start of a set.
        return Ok(vec![first.to_path_buf()]);
    }
    let mut set = vec![first.to_path_buf()];
    let mut n = start;
    while let Some(next) = n.checked_add(1).and_then(sibling) {
        if !next.exists() {
            break;
        }
        set.push(next);
        n += 1;
    }
    // A later segment beyond the first missing one means a hole in the set.
    if let Some(gap) = later_segment(first, stem, counting, n + 1) {
        let missing = sibling(n + 1)
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        return Err(ImageError::new(
            first,
            "missing_segment",
            None,
            format!(
                "split raw set is not whole: segment {missing} is missing but {} exists",
                gap.display()
            ),
        ));
    }
    Ok(set)
}

/// A sibling named like a segment of the same set numbered `from` or later.
fn later_segment(first: &Path, stem: &str, counting: Counting, from: u64) -> Option<PathBuf> {
    let dir = match first.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let prefix = format!("{stem}.");
    let entries = std::fs::read_dir(dir).ok()?;
    entries.flatten().find_map(|entry| {
        let name = entry.file_name();
        let ext = name.to_str()?.strip_prefix(&prefix)?;
        let (kind, n) = Counting::of(ext)?;
        (kind == counting && n >= from).then(|| entry.path())
    })
}

struct Part {
    start: u64,
    media: FileMedia,
}

/// Segments read as one: each read is served from the segment(s) it falls in.
pub struct SplitMedia {
    parts: Vec<Part>,
    size: u64,
    label: String,
}

impl SplitMedia {
    pub fn open(paths: &[PathBuf]) -> Result<SplitMedia, ImageError> {
        let mut parts = Vec::with_capacity(paths.len());
        let mut start = 0u64;
        for p in paths {
            let media = FileMedia::open(p)
                .map_err(|e| ImageError::io(p, None, "cannot open segment", &e))?;
            if media.size() == 0 {
                return Err(ImageError::new(
                    p,
                    "empty_segment",
                    None,
                    "segment of a split raw set is empty (0 bytes)",
                ));
            }
            let len = media.size();
            parts.push(Part { start, media });
            start = start.checked_add(len).ok_or_else(|| {
                ImageError::new(p, "too_large", None, "split set size overflows 64 bits")
            })?;
        }
        let label = paths
            .first()
            .map(|p| format!("split raw set {} ({} segments)", p.display(), paths.len()))
            .unwrap_or_default();
        Ok(SplitMedia {
            parts,
            size: start,
            label,
        })
    }
}

impl ReadAt for SplitMedia {
    fn size(&self) -> u64 {
        self.size
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        if offset >= self.size || buf.is_empty() {
            return Ok(0);
        }
        // The last part starting at or before `offset`.
        let idx = self
            .parts
            .partition_point(|p| p.start <= offset)
            .saturating_sub(1);
        let mut done = 0usize;
        for part in &self.parts[idx..] {
            if done == buf.len() {
                break;
            }
            let at = offset + done as u64 - part.start;
            let n = part.media.read_at(at, &mut buf[done..])?;
            if n == 0 && at < part.media.size() {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!(
                        "{}: segment ended early at offset {at} (it was {} bytes when opened)",
                        part.media.path().display(),
                        part.media.size()
                    ),
                ));
            }
            done += n;
            if at + (n as u64) < part.media.size() {
                // A short read inside a segment: hand back what we have.
                break;
            }
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
    fn segment_names_count_like_split_and_ftk() {
        let (c, n) = Counting::of("001").unwrap();
        assert_eq!((c, n), (Counting::Numeric { width: 3 }, 1));
        assert_eq!(c.name(2).as_deref(), Some("002"));
        assert_eq!(c.name(1000), None);
        let (c, n) = Counting::of("az").unwrap();
        assert_eq!(n, 25);
        assert_eq!(c.name(26).as_deref(), Some("ba"));
        assert_eq!(c.name(26 * 26), None);
        assert!(Counting::of("img").is_some_and(|(c, n)| !c.is_first(n)));
        assert!(Counting::of("raw0").is_none());
    }

    #[test]
    fn reads_cross_segment_boundaries() {
        let dir = tempfile::tempdir().unwrap();
        let data: Vec<u8> = (0..=255u8).cycle().take(2500).collect();
        let mut paths = Vec::new();
        for (i, chunk) in data.chunks(1000).enumerate() {
            let p = dir.path().join(format!("d.{:03}", i + 1));
            std::fs::write(&p, chunk).unwrap();
            paths.push(p);
        }
        assert_eq!(split_set(&paths[0]).unwrap(), paths);
        let m = SplitMedia::open(&paths).unwrap();
        assert_eq!(m.size(), 2500);
        let mut buf = vec![0u8; 2500];
        m.read_exact_at(0, &mut buf).unwrap();
        assert_eq!(buf, data);
        let mut buf = vec![0u8; 1200];
        m.read_exact_at(900, &mut buf).unwrap();
        assert_eq!(buf, data[900..2100]);
        assert_eq!(m.read_at(2499, &mut buf).unwrap(), 1);
        assert_eq!(m.read_at(2500, &mut buf).unwrap(), 0);

        let e = split_set(&paths[1]).unwrap_err();
        assert_eq!(e.reason, "not_first_segment");
        std::fs::remove_file(&paths[1]).unwrap();
        let e = split_set(&paths[0]).unwrap_err();
        assert_eq!(e.reason, "missing_segment");
        assert!(e.to_string().contains("d.002 is missing"), "{e}");
    }
}
