//! A minimal ZIP writer for evidence bundles: stored or Deflate members (`compress`
//! decides which), real CRC-32s and sizes in both local and central headers, ZIP64
//! exactly where needed, UTF-8 names (flag bit 11), Unix permissions and an
//! extended-timestamp field with the UTC modification time. A Deflate member's stored
//! bytes are hashed (SHA-256) as they are written, for the bundle's `compressed.jsonl`.
//!
//! Why our own writer instead of the `zip` crate's: collection needs to stream a member
//! whose final hash decides whether it is kept (a large duplicate is rolled back), to
//! truncate exactly at the end, and — above all — never to finalize an archive implicitly
//! (the crate's writer writes a central directory on drop, which would make an aborted
//! run look like a complete ZIP). The `zip` crate remains the *reader* in `verify`, so
//! every bundle is checked by an independent implementation (and by `unzip -t` in tests).
//!
//! The header layouts are public functions (`local_header_bytes`, `central_record_bytes`,
//! `end_records_bytes`) so that `verify` can require every header of a bundle to be exactly
//! what this writer produces: a changed byte anywhere in the ZIP structure is then caught
//! even where a ZIP reader would not care (times, flags, attributes).
//!
//! Never writes a central directory except in `finish`, and never reads the source.

use std::fs::File;
use std::io::{self, BufWriter, Seek, SeekFrom, Write};

use sha2::{Digest, Sha256};

use super::compress::{self, Compression, Deflated};

const LOCAL_SIG: u32 = 0x0403_4b50;
const CENTRAL_SIG: u32 = 0x0201_4b50;
const EOCD_SIG: u32 = 0x0605_4b50;
const ZIP64_EOCD_SIG: u32 = 0x0606_4b50;
const ZIP64_LOCATOR_SIG: u32 = 0x0706_4b50;
const FLAG_UTF8: u16 = 1 << 11;
const VERSION_ZIP64: u16 = 45;
const VERSION_STORED: u16 = 20;
/// ZIP compression methods fieldkit writes: 0 (stored) and 8 (Deflate).
pub const METHOD_STORED: u16 = 0;
pub const METHOD_DEFLATE: u16 = 8;
/// "Made by" Unix (3) so external attributes carry the mode.
const MADE_BY: u16 = (3 << 8) | VERSION_ZIP64;
const U32_MAX: u64 = 0xFFFF_FFFF;
/// Members expected to reach this size get ZIP64 sizes in their local header up front.
pub const ZIP64_LOCAL_THRESHOLD: u64 = 0x8000_0000;

/// Everything a member's local header and central directory record are built from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub name: Vec<u8>,
    pub crc: u32,
    pub size: u64,
    /// `METHOD_STORED` or `METHOD_DEFLATE`.
    pub method: u16,
    /// Bytes of member data in the archive (`size` when stored).
    pub csize: u64,
    /// Offset of the local header.
    pub offset: u64,
    pub dos_time: u16,
    pub dos_date: u16,
    /// UTC modification time for the extended-timestamp field (absent when unknown or
    /// outside its 32-bit range).
    pub mtime: Option<i64>,
    pub mode: u32,
    /// The local header carries ZIP64 sizes (decided from the size expected up front).
    pub zip64_local: bool,
}

/// Where the archive goes: a file (plain bundles), or an append-only encrypting stream
/// (`bundle::age`, for `--encrypt-to`), which refuses every seek backwards.
pub trait Output: Write + Seek {
    /// Cut the output at `len` (a plain file drops what a rolled-back member left).
    fn truncate_to(&mut self, len: u64) -> io::Result<()>;
}

impl Output for File {
    fn truncate_to(&mut self, len: u64) -> io::Result<()> {
        self.set_len(len)
    }
}

/// The member currently being streamed.
struct Open {
    entry: Entry,
    hasher: crc32fast::Hasher,
    written: u64,
    /// `Auto`: the first chunk decides (`compress::worth_deflating`).
    policy: Compression,
    decided: bool,
    deflating: Option<Box<compress::StreamDeflater>>,
}

/// A Deflate member as the archive holds it: what `compressed.jsonl` records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeflatedForm {
    pub name: String,
    pub offset: u64,
    pub csize: u64,
    /// SHA-256 of the stored (compressed) bytes.
    pub stored_sha256: [u8; 32],
}

pub struct ZipWriter<W: Output = File> {
    out: BufWriter<W>,
    pos: u64,
    entries: Vec<Entry>,
    open: Option<Open>,
    deflated: Vec<DeflatedForm>,
    /// Nothing before this offset is ever written again (`seal_to`): it may already have
    /// been read back (verify-after-write, `verify::early`).
    sealed_to: u64,
}

/// Whether a member's local header carries ZIP64 sizes: when the size recorded for it
/// before it was written (`expected`: a streamed file's size when opened) reaches 2 GiB,
/// or when it holds 4 GiB or more. The one rule for every member, so that `verify` can
/// derive the form from the recorded size instead of accepting either.
pub fn local_zip64(expected: u64, size: u64) -> bool {
    expected >= ZIP64_LOCAL_THRESHOLD || size >= U32_MAX
}

/// The header time (whole UTC seconds, rounded down) of a recorded RFC 3339 time: a
/// `files/` member carries its record's `mtime`, every other member the manifest's
/// `times.start_utc`. The writer is given the value through this function and `verify`
/// derives it through it, so the times in the headers are bound to the signed records.
pub fn header_time(recorded: Option<&str>) -> Option<i64> {
    let ts: jiff::Timestamp = recorded?.parse().ok()?;
    Some(ts.as_second() - i64::from(ts.subsec_nanosecond() < 0))
}

/// DOS date/time of a UTC timestamp (clamped to the DOS range 1980–2107).
pub fn dos_datetime(mtime: Option<i64>) -> (u16, u16) {
    let Some(secs) = mtime else {
        return (0, (1 << 5) | 1);
    };
    let Ok(ts) = jiff::Timestamp::from_second(secs) else {
        return (0, (1 << 5) | 1);
    };
    let dt = ts.to_zoned(jiff::tz::TimeZone::UTC).datetime();
    let year = dt.year().clamp(1980, 2107);
    if dt.year() < 1980 {
        return (0, (1 << 5) | 1);
    }
    let time = ((dt.hour() as u16) << 11) | ((dt.minute() as u16) << 5) | (dt.second() as u16 / 2);
    let date = (((year - 1980) as u16) << 9) | ((dt.month() as u16) << 5) | dt.day() as u16;
    (time, date)
}

fn extended_timestamp(mtime: Option<i64>) -> Vec<u8> {
    match mtime.and_then(|m| i32::try_from(m).ok()) {
        Some(m) => {
            let mut v = Vec::with_capacity(9);
            v.extend_from_slice(&0x5455u16.to_le_bytes());
            v.extend_from_slice(&5u16.to_le_bytes());
            v.push(1);
            v.extend_from_slice(&m.to_le_bytes());
            v
        }
        None => Vec::new(),
    }
}

/// Length of the extra fields of `e`'s local header (ZIP64 sizes, extended timestamp).
fn local_extra_len(e: &Entry) -> u64 {
    (if e.zip64_local { 20 } else { 0 }) + extended_timestamp(e.mtime).len() as u64
}

/// The local header of `e` exactly as the writer puts it in the archive (for a streamed
/// member, `crc` and `size` are patched in when it ends).
pub fn local_header_bytes(e: &Entry) -> Vec<u8> {
    let mut h = Vec::with_capacity(64 + e.name.len());
    h.extend_from_slice(&LOCAL_SIG.to_le_bytes());
    let needed = if e.zip64_local {
        VERSION_ZIP64
    } else {
        VERSION_STORED
    };
    common_fields(&mut h, needed, e, e.zip64_local);
    let mut extra = Vec::new();
    if e.zip64_local {
        extra.extend_from_slice(&1u16.to_le_bytes());
        extra.extend_from_slice(&16u16.to_le_bytes());
        extra.extend_from_slice(&e.size.to_le_bytes());
        extra.extend_from_slice(&e.csize.to_le_bytes());
    }
    extra.extend_from_slice(&extended_timestamp(e.mtime));
    h.extend_from_slice(&(extra.len() as u16).to_le_bytes());
    h.extend_from_slice(&e.name);
    h.extend_from_slice(&extra);
    h
}

/// The fields local header and central record share, from "version needed" to the name
/// length: the method, UTF-8 names, compressed size then size; `size_in_zip64` puts
/// 0xFFFFFFFF in both size fields (the sizes are then in the ZIP64 extra field).
fn common_fields(h: &mut Vec<u8>, needed: u16, e: &Entry, size_in_zip64: bool) {
    h.extend_from_slice(&needed.to_le_bytes());
    h.extend_from_slice(&FLAG_UTF8.to_le_bytes());
    h.extend_from_slice(&e.method.to_le_bytes());
    h.extend_from_slice(&e.dos_time.to_le_bytes());
    h.extend_from_slice(&e.dos_date.to_le_bytes());
    h.extend_from_slice(&e.crc.to_le_bytes());
    let (csize, size) = if size_in_zip64 {
        (U32_MAX as u32, U32_MAX as u32)
    } else {
        (e.csize as u32, e.size as u32)
    };
    h.extend_from_slice(&csize.to_le_bytes());
    h.extend_from_slice(&size.to_le_bytes());
    h.extend_from_slice(&(e.name.len() as u16).to_le_bytes());
}

/// The central directory record of `e` exactly as `finish` writes it.
pub fn central_record_bytes(e: &Entry) -> Vec<u8> {
    let need64_size = e.size >= U32_MAX || e.csize >= U32_MAX;
    let need64_off = e.offset >= U32_MAX;
    let mut zip64 = Vec::new();
    if need64_size {
        zip64.extend_from_slice(&e.size.to_le_bytes());
        zip64.extend_from_slice(&e.csize.to_le_bytes());
    }
    if need64_off {
        zip64.extend_from_slice(&e.offset.to_le_bytes());
    }
    let mut extra = Vec::new();
    if !zip64.is_empty() {
        extra.extend_from_slice(&1u16.to_le_bytes());
        extra.extend_from_slice(&(zip64.len() as u16).to_le_bytes());
        extra.extend_from_slice(&zip64);
    }
    extra.extend_from_slice(&extended_timestamp(e.mtime));
    let needed = if e.zip64_local || !zip64.is_empty() {
        VERSION_ZIP64
    } else {
        VERSION_STORED
    };
    let mut h = Vec::with_capacity(46 + e.name.len() + extra.len());
    h.extend_from_slice(&CENTRAL_SIG.to_le_bytes());
    h.extend_from_slice(&MADE_BY.to_le_bytes());
    common_fields(&mut h, needed, e, need64_size);
    h.extend_from_slice(&(extra.len() as u16).to_le_bytes());
    h.extend_from_slice(&0u16.to_le_bytes()); // comment length
    h.extend_from_slice(&0u16.to_le_bytes()); // disk number start
    h.extend_from_slice(&0u16.to_le_bytes()); // internal attributes
    h.extend_from_slice(&(e.mode << 16).to_le_bytes());
    let small_off = if need64_off {
        U32_MAX as u32
    } else {
        e.offset as u32
    };
    h.extend_from_slice(&small_off.to_le_bytes());
    h.extend_from_slice(&e.name);
    h.extend_from_slice(&extra);
    h
}

/// The end records (ZIP64 end record and locator when needed, then the end-of-central-
/// directory record, no comment) for `count` members whose central directory spans
/// `cd_start..cd_end`: the last bytes of every bundle.
pub fn end_records_bytes(count: u64, cd_start: u64, cd_end: u64) -> Vec<u8> {
    let cd_size = cd_end.saturating_sub(cd_start);
    let need64 = count >= 0xFFFF || cd_size >= U32_MAX || cd_start >= U32_MAX;
    let mut r = Vec::with_capacity(56 + 20 + 22);
    if need64 {
        r.extend_from_slice(&ZIP64_EOCD_SIG.to_le_bytes());
        r.extend_from_slice(&44u64.to_le_bytes());
        r.extend_from_slice(&MADE_BY.to_le_bytes());
        r.extend_from_slice(&VERSION_ZIP64.to_le_bytes());
        r.extend_from_slice(&0u32.to_le_bytes());
        r.extend_from_slice(&0u32.to_le_bytes());
        r.extend_from_slice(&count.to_le_bytes());
        r.extend_from_slice(&count.to_le_bytes());
        r.extend_from_slice(&cd_size.to_le_bytes());
        r.extend_from_slice(&cd_start.to_le_bytes());
        r.extend_from_slice(&ZIP64_LOCATOR_SIG.to_le_bytes());
        r.extend_from_slice(&0u32.to_le_bytes());
        r.extend_from_slice(&cd_end.to_le_bytes());
        r.extend_from_slice(&1u32.to_le_bytes());
    }
    r.extend_from_slice(&EOCD_SIG.to_le_bytes());
    r.extend_from_slice(&0u16.to_le_bytes());
    r.extend_from_slice(&0u16.to_le_bytes());
    let small_count = count.min(0xFFFF) as u16;
    r.extend_from_slice(&small_count.to_le_bytes());
    r.extend_from_slice(&small_count.to_le_bytes());
    r.extend_from_slice(&(cd_size.min(U32_MAX) as u32).to_le_bytes());
    r.extend_from_slice(&(cd_start.min(U32_MAX) as u32).to_le_bytes());
    r.extend_from_slice(&0u16.to_le_bytes());
    r
}

impl<W: Output> ZipWriter<W> {
    pub fn new(file: W) -> Self {
        ZipWriter {
            out: BufWriter::with_capacity(1 << 20, file),
            pos: 0,
            entries: Vec::new(),
            open: None,
            deflated: Vec::new(),
            sealed_to: 0,
        }
    }

    /// Where the completed members end: the start of the open member, if any.
    pub fn completed_end(&self) -> u64 {
        match &self.open {
            Some(o) => o.entry.offset,
            None => self.pos,
        }
    }

    /// Hand everything before `at` (at most `completed_end`) to the file and promise
    /// never to write there again; a later attempt (rolling back a completed member) is
    /// refused.
    pub fn seal_to(&mut self, at: u64) -> io::Result<()> {
        if at > self.completed_end() {
            return Err(io::Error::other(
                "internal error: sealing past the completed members",
            ));
        }
        self.out.flush()?;
        self.sealed_to = self.sealed_to.max(at);
        Ok(())
    }

    /// Bytes written so far (the archive's current length).
    pub fn position(&self) -> u64 {
        self.pos
    }

    pub fn member_count(&self) -> usize {
        self.entries.len()
    }

    /// Every Deflate member written so far, in archive order.
    pub fn deflated(&self) -> &[DeflatedForm] {
        &self.deflated
    }

    fn put(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.out.write_all(bytes)?;
        self.pos += bytes.len() as u64;
        Ok(())
    }

    fn new_entry(
        &self,
        name: &str,
        mtime: Option<i64>,
        mode: u32,
        zip64_local: bool,
    ) -> io::Result<Entry> {
        if name.len() > u16::MAX as usize {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "member name too long",
            ));
        }
        if self.open.is_some() {
            return Err(io::Error::other("a member is still open"));
        }
        let (dos_time, dos_date) = dos_datetime(mtime);
        Ok(Entry {
            name: name.as_bytes().to_vec(),
            crc: 0,
            size: 0,
            method: METHOD_STORED,
            csize: 0,
            offset: self.pos,
            dos_time,
            dos_date,
            mtime,
            mode,
            zip64_local,
        })
    }

    /// Write a whole member whose bytes are in memory.
    pub fn add(
        &mut self,
        name: &str,
        data: &[u8],
        mtime: Option<i64>,
        mode: u32,
    ) -> io::Result<()> {
        self.add_expected(name, data, None, mtime, mode, data.len() as u64)
    }

    /// `add` for a member whose recorded size (`expected`, see `local_zip64`) may differ
    /// from what was read; `deflated`: its Deflate form (`compress::deflate_if_worth`),
    /// written instead of `data`.
    pub fn add_expected(
        &mut self,
        name: &str,
        data: &[u8],
        deflated: Option<&Deflated>,
        mtime: Option<i64>,
        mode: u32,
        expected: u64,
    ) -> io::Result<()> {
        let size = data.len() as u64;
        let mut e = self.new_entry(name, mtime, mode, local_zip64(expected, size))?;
        e.size = size;
        let body = match deflated {
            Some(d) => {
                e.crc = d.crc;
                e.method = METHOD_DEFLATE;
                &d.bytes[..]
            }
            None => {
                e.crc = crc32fast::hash(data);
                data
            }
        };
        e.csize = body.len() as u64;
        self.put(&local_header_bytes(&e))?;
        self.put(body)?;
        if e.method == METHOD_DEFLATE {
            self.deflated.push(DeflatedForm {
                name: name.to_string(),
                offset: e.offset,
                csize: e.csize,
                stored_sha256: Sha256::digest(body).into(),
            });
        }
        self.entries.push(e);
        Ok(())
    }

    /// Write a whole stored member whose CRC and size are known, copying exactly `size`
    /// bytes from `data`: no header is patched afterwards (an encrypted bundle is
    /// append-only). `expected`: the size recorded before it was read (see `local_zip64`).
    #[allow(clippy::too_many_arguments)]
    pub fn add_known(
        &mut self,
        name: &str,
        mtime: Option<i64>,
        mode: u32,
        crc: u32,
        size: u64,
        expected: u64,
        data: &mut dyn io::Read,
    ) -> io::Result<()> {
        let mut e = self.new_entry(name, mtime, mode, local_zip64(expected, size))?;
        e.crc = crc;
        e.size = size;
        e.csize = size;
        self.put(&local_header_bytes(&e))?;
        let mut buf = vec![0u8; 1 << 20];
        let mut left = size;
        while left > 0 {
            let want = (buf.len() as u64).min(left) as usize;
            data.read_exact(&mut buf[..want])?;
            self.put(&buf[..want])?;
            left -= want as u64;
        }
        self.entries.push(e);
        Ok(())
    }

    /// Start streaming a member; `expected_size` decides whether its local header carries
    /// ZIP64 sizes (a member without them is capped at 4 GiB − 1, see `max_stream_len`).
    /// With `Compression::Auto` its first chunk decides whether it is deflated.
    pub fn begin(
        &mut self,
        name: &str,
        mtime: Option<i64>,
        mode: u32,
        expected_size: u64,
        policy: Compression,
    ) -> io::Result<()> {
        // The size is not known yet: 0 (a member without ZIP64 sizes is capped below
        // 4 GiB, see `max_stream_len`, so the rule holds when it ends). The header is
        // written again, whole, when the member ends: its length does not depend on the
        // values patched in.
        let e = self.new_entry(name, mtime, mode, local_zip64(expected_size, 0))?;
        self.put(&local_header_bytes(&e))?;
        self.open = Some(Open {
            entry: e,
            hasher: crc32fast::Hasher::new(),
            written: 0,
            policy,
            decided: false,
            deflating: None,
        });
        Ok(())
    }

    /// How many more bytes the open member can take. A Deflate member without ZIP64
    /// sizes keeps a margin below 4 GiB for Deflate's worst-case growth (an eighth,
    /// `compress::MAX_GROWTH`), so its stored size stays below 4 GiB too.
    pub fn max_stream_len(&self) -> u64 {
        match &self.open {
            Some(o) if !o.entry.zip64_local => {
                let cap = if o.policy == Compression::Never {
                    U32_MAX
                } else {
                    U32_MAX - compress::MAX_GROWTH
                };
                cap.saturating_sub(o.written)
            }
            Some(_) => u64::MAX,
            None => 0,
        }
    }

    pub fn write_chunk(&mut self, data: &[u8]) -> io::Result<()> {
        let room = self.max_stream_len();
        let Some(open) = self.open.as_mut() else {
            return Err(io::Error::other("no member is open"));
        };
        if data.len() as u64 > room {
            return Err(io::Error::other("member exceeds 4 GiB without ZIP64 sizes"));
        }
        if !open.decided && !data.is_empty() {
            open.decided = true;
            if open.policy == Compression::Auto && compress::worth_deflating(data) {
                open.deflating = Some(Box::new(compress::StreamDeflater::new()));
            }
        }
        open.hasher.update(data);
        open.written += data.len() as u64;
        match open.deflating.as_mut() {
            Some(d) => {
                let out = &mut self.out;
                let mut n = 0u64;
                d.write(data, &mut |c| {
                    n += c.len() as u64;
                    out.write_all(c)
                })?;
                self.pos += n;
            }
            None => {
                self.out.write_all(data)?;
                self.pos += data.len() as u64;
            }
        }
        Ok(())
    }

    /// Complete the open member: its local header is written again, whole, with the
    /// real method, CRC and sizes.
    pub fn end(&mut self) -> io::Result<()> {
        let Some(mut open) = self.open.take() else {
            return Err(io::Error::other("no member is open"));
        };
        let mut stored_sha256 = None;
        if let Some(mut d) = open.deflating.take() {
            let out = &mut self.out;
            let mut n = 0u64;
            let sha = d.finish(&mut |c| {
                n += c.len() as u64;
                out.write_all(c)
            })?;
            self.pos += n;
            stored_sha256 = Some(sha);
            open.entry.method = METHOD_DEFLATE;
        }
        let mut e = open.entry;
        e.crc = open.hasher.finalize();
        e.size = open.written;
        let header_len = 30 + e.name.len() as u64 + local_extra_len(&e);
        e.csize = self.pos - e.offset - header_len;
        if !e.zip64_local && e.csize >= U32_MAX {
            return Err(io::Error::other(
                "member's stored size exceeds 4 GiB without ZIP64 sizes",
            ));
        }
        let end = self.pos;
        self.out.seek(SeekFrom::Start(e.offset))?;
        self.out.write_all(&local_header_bytes(&e))?;
        self.out.seek(SeekFrom::Start(end))?;
        if let Some(sha) = stored_sha256 {
            self.deflated.push(DeflatedForm {
                name: String::from_utf8_lossy(&e.name).into_owned(),
                offset: e.offset,
                csize: e.csize,
                stored_sha256: sha,
            });
        }
        self.entries.push(e);
        Ok(())
    }

    /// Drop the open member (or, if none is open, the last completed one): later writes
    /// overwrite it and `finish` truncates anything left beyond the end.
    pub fn abort(&mut self) -> io::Result<()> {
        let offset = match self.open.take() {
            Some(o) => o.entry.offset,
            None => match self.entries.pop() {
                Some(e) => e.offset,
                None => return Ok(()),
            },
        };
        if offset < self.sealed_to {
            return Err(io::Error::other(
                "internal error: rolling back a member that was already read back",
            ));
        }
        self.deflated.retain(|d| d.offset < offset);
        self.out.seek(SeekFrom::Start(offset))?;
        self.pos = offset;
        Ok(())
    }

    /// Write the central directory and end records, truncate and flush. The caller fsyncs
    /// (so it can hash the file from the page cache while the device catches up).
    /// Returns the file and the archive's final length.
    pub fn finish(mut self) -> io::Result<(W, u64)> {
        if self.open.is_some() {
            return Err(io::Error::other("finish with a member still open"));
        }
        let cd_start = self.pos;
        let entries = std::mem::take(&mut self.entries);
        for e in &entries {
            let h = central_record_bytes(e);
            self.put(&h)?;
        }
        let cd_end = self.pos;
        let r = end_records_bytes(entries.len() as u64, cd_start, cd_end);
        self.put(&r)?;
        self.out.flush()?;
        let len = self.pos;
        let mut file = self.out.into_inner().map_err(|e| e.into_error())?;
        file.truncate_to(len)?;
        Ok((file, len))
    }

    /// Flush buffered bytes (used before reporting a partial bundle after an error).
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn members_round_trip_through_the_zip_crate_reader() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.zip");
        let mut w = ZipWriter::new(File::create(&path).unwrap());
        w.add("a.txt", b"hello", Some(1_700_000_000), 0o100644)
            .unwrap();
        let text = "an event log line, again and again\n".repeat(4000);
        w.begin("files/dup", None, 0o100644, 10, Compression::Auto)
            .unwrap();
        w.write_chunk(text.as_bytes()).unwrap();
        w.abort().unwrap();
        w.begin("files/big/ü.bin", Some(0), 0o100644, 3, Compression::Never)
            .unwrap();
        w.write_chunk(b"ab").unwrap();
        w.write_chunk(b"c").unwrap();
        w.end().unwrap();
        // Deflated: streamed (ZIP64 local form) and in memory.
        w.begin(
            "log.txt",
            None,
            0o100644,
            ZIP64_LOCAL_THRESHOLD,
            Compression::Auto,
        )
        .unwrap();
        for part in text.as_bytes().chunks(10_000) {
            w.write_chunk(part).unwrap();
        }
        w.end().unwrap();
        let d = compress::deflate_if_worth(text.as_bytes()).unwrap();
        w.add_expected("mem.txt", text.as_bytes(), Some(&d), None, 0o100644, 1)
            .unwrap();
        assert_eq!(
            w.deflated().iter().map(|d| &d.name[..]).collect::<Vec<_>>(),
            ["log.txt", "mem.txt"]
        );
        let (_, len) = w.finish().unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), len);
        let mut z = zip::ZipArchive::new(File::open(&path).unwrap()).unwrap();
        assert_eq!(z.len(), 4);
        for name in ["log.txt", "mem.txt"] {
            let mut f = z.by_name(name).unwrap();
            assert_eq!(f.compression(), zip::CompressionMethod::Deflated);
            assert!(f.compressed_size() * 10 < f.size());
            let mut s = String::new();
            f.read_to_string(&mut s).unwrap();
            assert_eq!(s, text);
        }
        let mut s = String::new();
        z.by_name("files/big/ü.bin")
            .unwrap()
            .read_to_string(&mut s)
            .unwrap();
        assert_eq!(s, "abc");
        s.clear();
        z.by_name("a.txt").unwrap().read_to_string(&mut s).unwrap();
        assert_eq!(s, "hello");
    }

    #[test]
    fn nothing_before_a_sealed_offset_is_written_again() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.zip");
        let mut w = ZipWriter::new(File::create(&path).unwrap());
        w.add("a.txt", b"kept", None, 0o100644).unwrap();
        w.begin("b.txt", None, 0o100644, 4, Compression::Never)
            .unwrap();
        w.write_chunk(b"open").unwrap();
        // The open member is not complete: sealing stops at its start.
        assert!(w.seal_to(w.position()).is_err());
        let end_of_a = w.completed_end();
        w.seal_to(end_of_a).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), w.position());
        // The open member can still be rolled back; a sealed one cannot.
        w.abort().unwrap();
        assert!(w.abort().is_err(), "a.txt lies before the sealed offset");
    }

    #[test]
    fn dos_times_are_utc_and_clamped() {
        // 2023-11-14T22:13:20Z
        let (t, d) = dos_datetime(Some(1_700_000_000));
        assert_eq!(d >> 9, 2023 - 1980);
        assert_eq!((d >> 5) & 15, 11);
        assert_eq!(d & 31, 14);
        assert_eq!(t >> 11, 22);
        assert_eq!(dos_datetime(Some(0)), (0, 33));
    }

    #[test]
    fn header_times_round_recorded_times_down_to_whole_seconds() {
        assert_eq!(
            header_time(Some("2023-11-14T22:13:20.999999999Z")),
            Some(1_700_000_000)
        );
        assert_eq!(header_time(Some("1969-12-31T23:59:59.5Z")), Some(-1));
        assert_eq!(header_time(Some("1970-01-01T00:00:00Z")), Some(0));
        assert_eq!(header_time(Some("not a time")), None);
        assert_eq!(header_time(None), None);
    }

    #[test]
    fn the_local_zip64_form_follows_the_recorded_size() {
        assert!(!local_zip64(5, 5));
        assert!(local_zip64(ZIP64_LOCAL_THRESHOLD, 5));
        assert!(!local_zip64(5, ZIP64_LOCAL_THRESHOLD));
        assert!(local_zip64(0, U32_MAX));
    }
}
