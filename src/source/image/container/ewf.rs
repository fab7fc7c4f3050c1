//! EWF v1 (E01, as EnCase, FTK Imager, Guymager and `ewfacquire` write it; also SMART
//! `.s01`): segment files found from the first one, sections and chunk tables parsed by
//! the `ewf` crate (pure Rust, pinned exactly, no default features, kept behind this
//! module), chunks decoded and checked by fieldkit.
//!
//! Why our own chunk decoder: `ewf` 0.4.10 returns an uncompressed chunk's bytes without
//! checking the Adler-32 stored after it, and a compressed chunk that inflates to fewer
//! bytes than a chunk is padded with zeros — both would hand wrong bytes to the hashes.
//! So the crate gives us where each chunk lies (`debug_chunk`, its lazy table: memory
//! stays flat in image size) and we read it from our own read-only (O_NOATIME) segment
//! handles: an uncompressed chunk must match its Adler-32, a compressed one must inflate
//! (zlib checks its own Adler-32) to exactly the chunk's length. A damaged chunk is a read
//! error naming the chunk, its media offset and where it lies in which segment.
//!
//! Also owns the EWF's stored MD5/SHA-1 (`stored_hashes`), case metadata and the
//! acquisition's error ranges for the manifest. Ex01 (EWF2) is refused at detection: see
//! `container/mod.rs`.
//!
//! Must never: return bytes of a chunk whose checksum fails, read a chunk from outside its
//! segment, or let a panic in the crate end the run (calls into it are `guard::fenced`).

use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::guard::fenced;
use super::{Container, ContainerInfo, SectorRange, StoredHashes, segment_infos};
use crate::hashing::hex;
use crate::source::image::media::{FileMedia, ReadAt, open_read_only};
use crate::source::image::open::ImageError;

/// Largest chunk accepted (the crate's own bound is 128 MiB; real images use 32 KiB).
const MAX_CHUNK_SIZE: u64 = 64 * 1024 * 1024;
/// Decoded chunks kept for reads that land in the same chunk again (acquire reads
/// files in pieces; a 32 KiB chunk is often read several times in a row).
const CACHE_CHUNKS: usize = 64;
/// The last segment number EWF v1 naming reaches (`.E01`–`.E99`, then `.EAA`–`.ZZZ`).
const MAX_SEGMENTS: u32 = 99 + 26 * 26 * 26 - 26 * 26 * 4;

/// Open the EWF set whose first segment is `path`.
pub fn open(path: &Path) -> Result<Container, ImageError> {
    let paths = segment_paths(path)?;
    let mut sources = Vec::with_capacity(paths.len());
    let mut files = Vec::with_capacity(paths.len());
    for (i, p) in paths.iter().enumerate() {
        let number = segment_number(p)?;
        if number != i as u32 + 1 {
            return Err(ImageError::new(
                p,
                "bad_segment",
                Some(9),
                format!(
                    "EWF segment file says it is segment {number}, but its name makes it segment {}",
                    i + 1
                ),
            ));
        }
        let file = open_read_only(p).map_err(|e| ImageError::io(p, None, "cannot open", &e))?;
        sources.push(::ewf::SegmentSource::File(file));
        files.push(FileMedia::open(p).map_err(|e| ImageError::io(p, None, "cannot open", &e))?);
    }
    let reader = fenced(|| ::ewf::EwfReader::open_lazy_from_sources(sources))
        .map_err(|panic| {
            ImageError::new(
                path,
                "damaged",
                None,
                format!("not a readable EWF image (internal failure of the ewf reader: {panic})"),
            )
        })?
        .map_err(|e| ewf_error(path, &e))?;

    let size = reader.total_size();
    let chunk_size = reader.chunk_size();
    let chunks = reader.chunk_count() as u64;
    if chunk_size == 0 || chunk_size > MAX_CHUNK_SIZE {
        return Err(ImageError::new(
            path,
            "damaged",
            None,
            format!("EWF chunk size {chunk_size} is not usable"),
        ));
    }
    let needed = size.div_ceil(chunk_size);
    if chunks < needed {
        let last = paths
            .last()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        return Err(ImageError::new(
            path,
            "missing_segment",
            None,
            format!(
                "EWF set is not whole: its {} segment(s) hold {chunks} chunks but the media \
                 ({size} bytes) needs {needed}; the segment after {last} is missing or a \
                 segment is truncated",
                paths.len()
            ),
        ));
    }

    let stored = reader.stored_hashes();
    let meta = reader.metadata();
    let mut metadata = std::collections::BTreeMap::new();
    for (key, value) in [
        ("case_number", &meta.case_number),
        ("evidence_number", &meta.evidence_number),
        ("description", &meta.description),
        ("examiner", &meta.examiner),
        ("notes", &meta.notes),
        ("acquisition_software", &meta.acquiry_software),
        ("acquisition_os", &meta.os_version),
        ("acquisition_date", &meta.acquiry_date),
        ("system_date", &meta.system_date),
    ] {
        if let Some(v) = value {
            metadata.insert(key.to_string(), v.clone());
        }
    }
    metadata.insert("chunk_size".into(), chunk_size.to_string());
    let acquisition_errors = reader
        .acquisition_errors()
        .iter()
        .map(|e| SectorRange {
            first_sector: u64::from(e.first_sector),
            sectors: u64::from(e.sector_count),
        })
        .collect();
    let mut notes = Vec::new();
    if stored.md5.is_none() && stored.sha1.is_none() {
        notes.push("the EWF stores no hash of the media".to_string());
    }
    let info = ContainerInfo {
        format: "ewf",
        format_detail: format!("EWF v1 (E01), {} segment(s)", paths.len()),
        path: path.to_path_buf(),
        media_size: size,
        sector_size: None,
        segments: segment_infos(&paths)?,
        metadata,
        stored_hashes: StoredHashes {
            md5: stored.md5.map(|h| hex(&h)),
            sha1: stored.sha1.map(|h| hex(&h)),
        },
        acquisition_errors,
        notes,
    };
    let media = EwfMedia {
        reader,
        segments: files,
        size,
        chunk_size,
        cache: Mutex::new(Vec::with_capacity(CACHE_CHUNKS)),
        label: format!("EWF image {}", path.display()),
    };
    Ok(Container {
        media: Arc::new(media),
        info,
    })
}

fn ewf_error(path: &Path, e: &::ewf::EwfError) -> ImageError {
    use ::ewf::EwfError as E;
    let (reason, detail) = match e {
        E::Io(io) if io.kind() == io::ErrorKind::UnexpectedEof => {
            ("truncated", format!("EWF image is truncated: {io}"))
        }
        E::Io(io) => ("io_error", format!("cannot read the EWF image: {io}")),
        E::SegmentGap { expected, got } => (
            "missing_segment",
            format!("EWF set is not whole: segment {expected} is missing (found {got})"),
        ),
        E::MissingVolume => (
            "damaged",
            "EWF image has no volume section (truncated or damaged)".to_string(),
        ),
        other => ("damaged", format!("not a readable EWF image: {other}")),
    };
    ImageError::new(path, reason, None, detail)
}

/// `.E01` → `.E02` … `.E99`, `.EAA` … `.EZZ`, `.FAA` … (libewf's naming), keeping the
/// case of the first segment's extension.
fn segment_extension(first_ext: &str, number: u32) -> Option<String> {
    let mut chars = first_ext.chars();
    let lead = chars.next()?;
    let upper = lead.is_ascii_uppercase();
    if number == 0 {
        return None;
    }
    if number <= 99 {
        return Some(format!("{lead}{number:02}"));
    }
    let m = number - 100;
    let letter = |v: u32, base: char| char::from_u32(base as u32 + v);
    let base = if upper { 'A' } else { 'a' };
    let first = char::from_u32(lead as u32 + m / (26 * 26))?;
    if !first.is_ascii_alphabetic() || first.is_ascii_uppercase() != upper {
        return None;
    }
    Some(format!(
        "{first}{}{}",
        letter((m / 26) % 26, base)?,
        letter(m % 26, base)?
    ))
}

/// The segment files of the set `first` begins, in order. `first` must be segment 1;
/// a hole in the numbering is refused.
fn segment_paths(first: &Path) -> Result<Vec<PathBuf>, ImageError> {
    let ext = first.extension().and_then(|e| e.to_str()).unwrap_or("");
    let stem = first.file_stem().and_then(|s| s.to_str());
    let number = segment_number(first)?;
    if number != 1 {
        return Err(ImageError::new(
            first,
            "not_first_segment",
            Some(9),
            format!("is segment {number} of an EWF set: give the first segment (.E01)"),
        ));
    }
    let named_like_a_set =
        ext.len() == 3 && ext[1..].eq_ignore_ascii_case("01") && ext.is_char_boundary(1);
    let (Some(stem), true) = (stem, named_like_a_set) else {
        // A lone segment under another name (case.bin): read it alone; a set would
        // then show as "the segment after … is missing".
        return Ok(vec![first.to_path_buf()]);
    };
    let mut paths = vec![first.to_path_buf()];
    let mut n = 2u32;
    while n <= MAX_SEGMENTS {
        let Some(e) = segment_extension(ext, n) else {
            break;
        };
        let p = first.with_file_name(format!("{stem}.{e}"));
        if !p.exists() {
            break;
        }
        paths.push(p);
        n += 1;
    }
    // A later segment present beyond the first missing one: a hole in the set.
    for later in n + 1..(n + 200).min(MAX_SEGMENTS + 1) {
        let Some(e) = segment_extension(ext, later) else {
            break;
        };
        let p = first.with_file_name(format!("{stem}.{e}"));
        if p.exists() {
            let missing = segment_extension(ext, n).unwrap_or_default();
            return Err(ImageError::new(
                first,
                "missing_segment",
                None,
                format!(
                    "EWF set is not whole: segment {stem}.{missing} is missing but {} exists",
                    p.display()
                ),
            ));
        }
    }
    Ok(paths)
}

/// The segment number in a segment file's 13-byte header.
fn segment_number(path: &Path) -> Result<u32, ImageError> {
    let f = open_read_only(path).map_err(|e| ImageError::io(path, None, "cannot open", &e))?;
    let mut header = [0u8; 13];
    let mut r = io::BufReader::new(f);
    r.read_exact(&mut header)
        .map_err(|e| ImageError::io(path, Some(0), "EWF segment header unreadable", &e))?;
    if &header[..8] != b"EVF\x09\x0d\x0a\xff\x00" {
        return Err(ImageError::new(
            path,
            "bad_segment",
            Some(0),
            "is not an EWF segment file (no EVF signature)",
        ));
    }
    Ok(u32::from(u16::from_le_bytes([header[9], header[10]])))
}

/// The media of an EWF set: chunks located by the crate's table, read and checked here.
pub struct EwfMedia {
    reader: ::ewf::EwfReader,
    segments: Vec<FileMedia>,
    size: u64,
    chunk_size: u64,
    cache: Mutex<Vec<(u64, Arc<Vec<u8>>)>>,
    label: String,
}

impl EwfMedia {
    fn damaged(&self, chunk: u64, where_: &str, why: impl std::fmt::Display) -> io::Error {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "{}: EWF chunk {chunk} (media offset {}{where_}) is damaged: {why}",
                self.label,
                chunk * self.chunk_size
            ),
        )
    }

    fn cached(&self, chunk: u64) -> Option<Arc<Vec<u8>>> {
        let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        cache
            .iter()
            .find(|(c, _)| *c == chunk)
            .map(|(_, d)| Arc::clone(d))
    }

    fn remember(&self, chunk: u64, data: Arc<Vec<u8>>) {
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() >= CACHE_CHUNKS {
            cache.remove(0);
        }
        cache.push((chunk, data));
    }

    /// The decoded bytes of chunk `chunk` (its length: the chunk size, or what is left
    /// of the media for the last one).
    fn chunk(&self, chunk: u64) -> io::Result<Arc<Vec<u8>>> {
        if let Some(hit) = self.cached(chunk) {
            return Ok(hit);
        }
        let want = self.chunk_size.min(self.size - chunk * self.chunk_size) as usize;
        let index =
            usize::try_from(chunk).map_err(|_| self.damaged(chunk, "", "chunk index overflows"))?;
        let located = fenced(|| self.reader.debug_chunk(index))
            .map_err(|panic| self.damaged(chunk, "", format!("its table entry cannot be read (internal failure of the ewf reader: {panic})")))?
            .map_err(|e| self.damaged(chunk, "", format!("its table entry cannot be read: {e}")))?;
        let (offset, stored_len, compressed, segment) = located;
        let Some(file) = self.segments.get(segment) else {
            return Err(self.damaged(
                chunk,
                "",
                format!(
                    "its table names segment {} of {}",
                    segment + 1,
                    self.segments.len()
                ),
            ));
        };
        let where_ = format!(", {} offset {offset}", file.path().display());
        let data = if compressed {
            if stored_len == 0 || stored_len > 2 * self.chunk_size + 4096 {
                return Err(self.damaged(
                    chunk,
                    &where_,
                    format!("its stored size {stored_len} is not plausible"),
                ));
            }
            let mut raw = vec![0u8; stored_len as usize];
            let got = read_fully(file, offset, &mut raw)?;
            raw.truncate(got);
            let mut out = Vec::with_capacity(want);
            let mut decoder = flate2::read::ZlibDecoder::new(&raw[..]).take(self.chunk_size + 1);
            decoder
                .read_to_end(&mut out)
                .map_err(|e| self.damaged(chunk, &where_, format!("decompression failed ({e})")))?;
            if out.len() < want || out.len() as u64 > self.chunk_size {
                return Err(self.damaged(
                    chunk,
                    &where_,
                    format!(
                        "it decompresses to {} bytes where {want} were expected",
                        out.len()
                    ),
                ));
            }
            out.truncate(want);
            out
        } else {
            // Uncompressed: the data, then its Adler-32 (little-endian).
            let mut raw = vec![0u8; want + 4];
            let got = read_fully(file, offset, &mut raw)?;
            if got < raw.len() {
                return Err(self.damaged(
                    chunk,
                    &where_,
                    format!("the segment ends after {got} of its {} bytes", raw.len()),
                ));
            }
            let stored =
                u32::from_le_bytes([raw[want], raw[want + 1], raw[want + 2], raw[want + 3]]);
            let computed = adler2::adler32_slice(&raw[..want]);
            if stored != computed {
                return Err(self.damaged(
                    chunk,
                    &where_,
                    format!(
                        "Adler-32 checksum {computed:08x} does not match the stored {stored:08x}"
                    ),
                ));
            }
            raw.truncate(want);
            raw
        };
        let data = Arc::new(data);
        self.remember(chunk, Arc::clone(&data));
        Ok(data)
    }
}

fn read_fully(file: &FileMedia, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
    let mut done = 0;
    while done < buf.len() {
        match file.read_at(offset + done as u64, &mut buf[done..]) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

impl ReadAt for EwfMedia {
    fn size(&self) -> u64 {
        self.size
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        let mut done = 0usize;
        while done < buf.len() {
            let at = offset + done as u64;
            if at >= self.size {
                break;
            }
            let chunk = at / self.chunk_size;
            let within = (at % self.chunk_size) as usize;
            let data = self.chunk(chunk)?;
            let n = (data.len() - within).min(buf.len() - done);
            buf[done..done + n].copy_from_slice(&data[within..within + n]);
            done += n;
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
    fn segment_names_follow_libewf() {
        assert_eq!(segment_extension("E01", 2).as_deref(), Some("E02"));
        assert_eq!(segment_extension("E01", 99).as_deref(), Some("E99"));
        assert_eq!(segment_extension("E01", 100).as_deref(), Some("EAA"));
        assert_eq!(segment_extension("E01", 101).as_deref(), Some("EAB"));
        assert_eq!(
            segment_extension("E01", 100 + 26 * 26).as_deref(),
            Some("FAA")
        );
        assert_eq!(segment_extension("e01", 100).as_deref(), Some("eaa"));
        assert_eq!(
            segment_extension("E01", 100 + 26 * 26 * 22).as_deref(),
            None
        );
    }
}
