//! Verify-after-write that overlaps acquisition: the part of the archive already
//! complete is flushed to the device, its pages are dropped, and it is read back and
//! hashed on threads of its own while later members are still being written. At the
//! end, the final pass of `verify` resumes where this one stopped instead of reading
//! the whole file again.
//!
//! Why it is the same check: the writer publishes only offsets at which every member
//! before is complete (its local header already patched); it never writes before a
//! published offset again (`ZipWriter::seal_to` refuses it). Each published range is
//! made durable (`fdatasync`), dropped from the page cache (`POSIX_FADV_DONTNEED`) and
//! only then read, through a handle of its own, exactly once: so every byte of it was
//! read back from the device after it was flushed, and it cannot change afterwards
//! through fieldkit.
//!
//! The read uses `O_DIRECT` where the output file system allows it (ext4, XFS, exFAT,
//! …): the device's bytes land in this thread's buffer without passing through the page
//! cache, so no page that survived the drop (a dirty or mapped one, which
//! `POSIX_FADV_DONTNEED` leaves alone) can stand in for the device, and no second copy
//! is made (the kernel's copy out of the page cache was half of this thread's CPU on a
//! 2-core machine). Direct reads are aligned to 4 KiB: the block before a range's start
//! and after its end is read too, and only the range's own bytes are used. Where the
//! open or a read is refused (`EINVAL`: tmpfs, some FUSE and network file systems), the
//! rest is read through the page cache after the drop, as before; `Prefix::direct` says
//! which. Reading and the two passes over what was read (the whole-file SHA-256; each
//! member's header and digests) run on three threads joined by a few 4 MiB chunks in
//! flight (`Hashers`), so the device and both cores overlap rather than take turns;
//! both passes see the chunks in the order read. This pass does what the final pass would do with those bytes — the
//! whole-file SHA-256 (whose state the final pass continues), each member's local header
//! kept byte for byte and its content hashed (inflated when deflated) — and the final
//! pass then judges them exactly as its own: `resume` rebuilds the `MemberPass` of every
//! early member from the kept header against the central directory, and falls back to
//! reading the whole file again whenever the early members do not line up with the
//! central directory one for one, or this pass failed or stopped on something it could
//! not parse. The bundle gets its final name only after the final pass (`lifecycle`).
//!
//! Linux only (the page cache must be droppable for the read to reach the device); plain
//! bundles only (an encrypted bundle is read back through its decryption, at the end).
//! Never writes to the archive.
// Elsewhere `start` refuses and the parser is unused.
#![cfg_attr(not(target_os = "linux"), allow(dead_code, unused_imports))]

use std::fs::File;
use std::io;
use std::path::Path;
use std::sync::mpsc;

use sha2::{Digest, Sha256};

use super::zip_read::{
    Entry, Inflating, MemberDigest, MemberPass, check_local_header, finish_data, le16,
    local_header_len, local_sizes,
};
use crate::hashing::{AlgSet, MultiHasher};

/// How much newly completed archive a range must hold before it is read back early:
/// small enough to overlap, large enough that the `fdatasync` per range is noise.
pub const STEP: u64 = 8 << 20;
const CHUNK: usize = 4 << 20;
/// Offset, length and buffer alignment for `O_DIRECT`: 4 KiB satisfies every logical
/// block size in use (512 B and 4 KiB).
const DIRECT_ALIGN: usize = 4096;

/// One member read back early: its local header as read, and its digests.
#[derive(Debug, Clone)]
pub struct EarlyMember {
    header_start: u64,
    header: Vec<u8>,
    digest: MemberDigest,
}

/// What the early pass read back: `[0, len)`, every member inside it.
#[derive(Debug, Clone)]
pub struct Prefix {
    pub len: u64,
    whole: Sha256,
    members: Vec<EarlyMember>,
    algs: AlgSet,
    /// Set when the bytes read back stopped parsing as fieldkit's members: the final
    /// pass then reads everything again (and reports what it finds).
    broken: Option<String>,
    /// Every byte of `[0, len)` came through `O_DIRECT` (not the page cache).
    pub direct: bool,
}

enum State {
    Header {
        start: u64,
        buf: Vec<u8>,
    },
    Data {
        start: u64,
        header: Vec<u8>,
        left: u64,
        size: u64,
        hasher: Box<MultiHasher>,
        crc: crc32fast::Hasher,
        inflating: Option<Box<Inflating>>,
    },
}

/// The local headers and members of the bytes read back, parsed as they stream past: a
/// member is delimited by its own local header (the central directory is not written
/// yet), which `resume` later holds against the central directory.
struct Parser {
    pos: u64,
    state: State,
    members: Vec<EarlyMember>,
    algs: AlgSet,
    broken: Option<String>,
}

/// Method, stored size and size a complete local header gives.
fn header_values(h: &[u8]) -> Result<(u16, u64, u64), String> {
    match local_sizes(h) {
        (csize, size, true) => Ok((le16(h, 8), csize, size)),
        _ => Err("a local header with saturated sizes and no ZIP64 field".into()),
    }
}

impl Parser {
    fn new(algs: AlgSet) -> Self {
        Parser {
            pos: 0,
            state: State::Header {
                start: 0,
                buf: Vec::with_capacity(64),
            },
            members: Vec::new(),
            algs,
            broken: None,
        }
    }

    fn feed(&mut self, chunk: &[u8]) {
        let mut off = 0;
        while off < chunk.len() && self.broken.is_none() {
            let rem = &chunk[off..];
            match &mut self.state {
                State::Header { start, buf } => {
                    let need = if buf.len() < 30 {
                        30
                    } else {
                        30 + usize::from(le16(buf, 26)) + usize::from(le16(buf, 28))
                    };
                    let take = (need - buf.len()).min(rem.len());
                    buf.extend_from_slice(&rem[..take]);
                    off += take;
                    if buf.len() == 30 && buf[..4] != [0x50, 0x4b, 0x03, 0x04] {
                        self.broken = Some(format!("no local header at offset {start}"));
                        break;
                    }
                    let complete = buf.len() >= 30
                        && buf.len()
                            == 30 + usize::from(le16(buf, 26)) + usize::from(le16(buf, 28));
                    if !complete {
                        continue;
                    }
                    match header_values(buf) {
                        Ok((method, csize, size)) if method == 0 || method == 8 => {
                            let header = std::mem::take(buf);
                            self.state = State::Data {
                                start: *start,
                                header,
                                left: csize,
                                size,
                                hasher: Box::new(MultiHasher::new(self.algs)),
                                crc: crc32fast::Hasher::new(),
                                inflating: (method == 8).then(|| Inflating::new(size)),
                            };
                        }
                        Ok((method, ..)) => {
                            self.broken = Some(format!("method {method} at offset {start}"));
                        }
                        Err(e) => self.broken = Some(format!("{e} at offset {start}")),
                    }
                }
                State::Data {
                    left,
                    hasher,
                    crc,
                    inflating,
                    ..
                } => {
                    let take = (*left).min(rem.len() as u64) as usize;
                    match inflating {
                        Some(i) => i.feed(&rem[..take], hasher, crc),
                        None => {
                            hasher.update(&rem[..take]);
                            crc.update(&rem[..take]);
                        }
                    }
                    *left -= take as u64;
                    off += take;
                }
            }
            self.end_member(self.pos + off as u64);
        }
        self.pos += chunk.len() as u64;
    }

    /// A member whose data is all in completes (an empty one needs no bytes).
    fn end_member(&mut self, at: u64) {
        if let State::Data { left: 0, .. } = self.state
            && let State::Data {
                start,
                header,
                size,
                hasher,
                crc,
                inflating,
                ..
            } = std::mem::replace(
                &mut self.state,
                State::Header {
                    start: at,
                    buf: Vec::with_capacity(64),
                },
            )
        {
            self.members.push(EarlyMember {
                header_start: start,
                header,
                digest: finish_data(hasher, crc, inflating, size),
            });
        }
    }
}

/// The early read-back thread of one bundle (`start`), fed the offsets up to which the
/// archive is complete (`publish`).
pub struct EarlyVerifier {
    tx: Option<mpsc::Sender<u64>>,
    handle: Option<std::thread::JoinHandle<Result<Prefix, String>>>,
}

impl EarlyVerifier {
    /// Read back `path` (the `.part` being written) with its own read-only handle.
    #[cfg(target_os = "linux")]
    pub fn start(path: &Path, algs: AlgSet) -> io::Result<Self> {
        use std::os::unix::fs::OpenOptionsExt;
        let file = File::open(path)?;
        let direct = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_DIRECT)
            .open(path)
            .ok();
        let (tx, rx) = mpsc::channel::<u64>();
        let handle = std::thread::Builder::new()
            .name("early-verify".into())
            .spawn(move || run(file, direct, rx, algs))?;
        Ok(EarlyVerifier {
            tx: Some(tx),
            handle: Some(handle),
        })
    }

    #[cfg(not(target_os = "linux"))]
    pub fn start(_path: &Path, _algs: AlgSet) -> io::Result<Self> {
        Err(io::Error::other("the early read-back needs Linux"))
    }

    /// Everything before `frontier` is complete and will not be written again.
    pub fn publish(&self, frontier: u64) {
        if let Some(tx) = &self.tx {
            // A stopped thread has its result waiting for `finish`.
            let _ = tx.send(frontier);
        }
    }

    /// Wait until every published range is read back; what it read, or why it could
    /// not (the final pass then reads the whole file).
    pub fn finish(mut self) -> Result<Prefix, String> {
        drop(self.tx.take());
        match self.handle.take().map(|h| h.join()) {
            Some(Ok(r)) => r,
            Some(Err(_)) => Err("the early read-back thread failed".into()),
            None => Err("the early read-back was not started".into()),
        }
    }
}

#[cfg(target_os = "linux")]
fn run(
    file: File,
    mut direct: Option<File>,
    rx: mpsc::Receiver<u64>,
    algs: AlgSet,
) -> Result<Prefix, String> {
    let mut hashers =
        Hashers::start(algs).map_err(|e| format!("starting the read-back hash threads: {e}"))?;
    let mut done = 0u64;
    let mut all_direct = direct.is_some();
    while let Ok(mut frontier) = rx.recv() {
        // Catch up with the newest offset at once: one flush and one pass per turn.
        while let Ok(f) = rx.try_recv() {
            frontier = frontier.max(f);
        }
        if frontier <= done {
            continue;
        }
        file.sync_data()
            .map_err(|e| format!("flushing the bundle before reading it back: {e}"))?;
        drop_range(&file, done, frontier - done);
        while done < frontier {
            let mut reader = hashers.buffer();
            let got = match &direct {
                Some(d) => match reader.read_direct(d, done, frontier) {
                    Ok(b) => Some(b),
                    // Refused, not failed: the file system does not do direct reads
                    // here. The rest goes through the (dropped) page cache.
                    Err(e) if e.raw_os_error() == Some(libc::EINVAL) => None,
                    Err(e) => {
                        return Err(format!("reading the bundle back at offset {done}: {e}"));
                    }
                },
                None => None,
            };
            let range = match got {
                Some(r) => r,
                None => {
                    direct = None;
                    all_direct = false;
                    reader
                        .read_buffered(&file, done, frontier)
                        .map_err(|e| format!("reading the bundle back at offset {done}: {e}"))?
                }
            };
            done += range.len() as u64;
            hashers.hash(reader, range);
        }
        crate::bundle::lifecycle::test_phase(&format!("read-back-early {done}"));
    }
    let (whole, mut parser) = hashers.finish()?;
    let broken = parser.broken.take().or_else(|| match parser.state {
        State::Header { ref buf, .. } if buf.is_empty() => None,
        _ => Some(format!("a member is cut at offset {done}")),
    });
    Ok(Prefix {
        len: done,
        whole,
        members: parser.members,
        algs,
        broken,
        direct: all_direct && done > 0,
    })
}

/// Buffers in flight between the reading thread and the hash threads.
#[cfg(target_os = "linux")]
const IN_FLIGHT: usize = 4;

/// A chunk read back, shared by the two hash threads; its buffer goes back to the
/// reading thread when the last of them drops it.
#[cfg(target_os = "linux")]
struct Chunk {
    reader: Option<RangeReader>,
    range: std::ops::Range<usize>,
    back: mpsc::Sender<RangeReader>,
}

#[cfg(target_os = "linux")]
impl Chunk {
    fn bytes(&self) -> &[u8] {
        match &self.reader {
            Some(r) => r.bytes(self.range.clone()),
            None => &[],
        }
    }
}

#[cfg(target_os = "linux")]
impl Drop for Chunk {
    fn drop(&mut self) {
        if let Some(r) = self.reader.take() {
            let _ = self.back.send(r);
        }
    }
}

#[cfg(target_os = "linux")]
type ChunkTx = mpsc::SyncSender<std::sync::Arc<Chunk>>;

/// The two passes over every byte read back, each on a thread of its own: the
/// whole-file SHA-256, and the members (`Parser`: local headers kept, contents hashed
/// or inflated). The reading thread meanwhile flushes and reads the next chunk, so
/// device, whole-file hash and member hashes overlap instead of taking turns. Both
/// threads see the chunks in the order read.
#[cfg(target_os = "linux")]
struct Hashers {
    to_whole: Option<ChunkTx>,
    to_members: Option<ChunkTx>,
    whole: Option<std::thread::JoinHandle<Sha256>>,
    members: Option<std::thread::JoinHandle<Parser>>,
    back_tx: mpsc::Sender<RangeReader>,
    back_rx: mpsc::Receiver<RangeReader>,
    made: usize,
}

#[cfg(target_os = "linux")]
impl Hashers {
    fn start(algs: AlgSet) -> io::Result<Self> {
        let (to_whole, whole_rx) = mpsc::sync_channel::<std::sync::Arc<Chunk>>(IN_FLIGHT);
        let (to_members, members_rx) = mpsc::sync_channel::<std::sync::Arc<Chunk>>(IN_FLIGHT);
        let whole = std::thread::Builder::new()
            .name("early-whole".into())
            .spawn(move || {
                let mut whole = Sha256::new();
                for chunk in whole_rx {
                    whole.update(chunk.bytes());
                }
                whole
            })?;
        let members = std::thread::Builder::new()
            .name("early-members".into())
            .spawn(move || {
                let mut parser = Parser::new(algs);
                for chunk in members_rx {
                    parser.feed(chunk.bytes());
                }
                parser
            })?;
        let (back_tx, back_rx) = mpsc::channel();
        Ok(Hashers {
            to_whole: Some(to_whole),
            to_members: Some(to_members),
            whole: Some(whole),
            members: Some(members),
            back_tx,
            back_rx,
            made: 0,
        })
    }

    /// A buffer to read into: a new one while fewer than `IN_FLIGHT` exist, else one
    /// both hash threads are done with.
    fn buffer(&mut self) -> RangeReader {
        if let Ok(r) = self.back_rx.try_recv() {
            return r;
        }
        if self.made >= IN_FLIGHT
            && let Ok(r) = self.back_rx.recv()
        {
            return r;
        }
        self.made += 1;
        RangeReader::new()
    }

    /// Hand `range` of `reader` to both hash threads.
    fn hash(&mut self, reader: RangeReader, range: std::ops::Range<usize>) {
        let chunk = std::sync::Arc::new(Chunk {
            reader: Some(reader),
            range,
            back: self.back_tx.clone(),
        });
        for tx in [&mut self.to_whole, &mut self.to_members] {
            // A thread that is gone: `finish` reports it.
            if let Some(t) = tx
                && t.send(chunk.clone()).is_err()
            {
                *tx = None;
            }
        }
    }

    fn finish(mut self) -> Result<(Sha256, Parser), String> {
        let sent = self.to_whole.take().is_some() & self.to_members.take().is_some();
        let whole = self.whole.take().map(|h| h.join());
        let members = self.members.take().map(|h| h.join());
        match (whole, members) {
            (Some(Ok(w)), Some(Ok(p))) if sent => Ok((w, p)),
            _ => Err("a read-back hash thread stopped".into()),
        }
    }
}

/// One buffer for the read-back, aligned for `O_DIRECT` (`DIRECT_ALIGN`), with room for
/// a chunk and the aligned block on either side of it.
#[cfg(target_os = "linux")]
struct RangeReader {
    buf: Vec<u8>,
    skip: usize,
}

#[cfg(target_os = "linux")]
impl RangeReader {
    fn new() -> Self {
        let buf = vec![0u8; CHUNK + 3 * DIRECT_ALIGN];
        let skip = buf.as_ptr().align_offset(DIRECT_ALIGN);
        RangeReader { buf, skip }
    }

    fn aligned(&mut self) -> &mut [u8] {
        let skip = self.skip.min(self.buf.len());
        let end = (skip + CHUNK + 2 * DIRECT_ALIGN).min(self.buf.len());
        &mut self.buf[skip..end]
    }

    /// Bytes read by `read_direct` or `read_buffered` (the range they returned).
    fn bytes(&self, range: std::ops::Range<usize>) -> &[u8] {
        let skip = self.skip.min(self.buf.len());
        self.buf
            .get(skip + range.start..skip + range.end)
            .unwrap_or(&[])
    }

    /// Up to a chunk of `[from, to)` read with `O_DIRECT`: the aligned span around it is
    /// read; where its own bytes lie in `bytes`.
    fn read_direct(
        &mut self,
        file: &File,
        from: u64,
        to: u64,
    ) -> io::Result<std::ops::Range<usize>> {
        use std::os::unix::fs::FileExt;
        let align = DIRECT_ALIGN as u64;
        let base = from - from % align;
        let end = to.min(base + CHUNK as u64);
        let span = ((end - base).div_ceil(align) * align) as usize;
        let buf = self.aligned();
        let need = (end - base) as usize;
        let mut have = 0usize;
        while have < need {
            // `have` stays aligned: a short read that is not aligned is the end of file.
            match file.read_at(&mut buf[have..span], base + have as u64) {
                Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
                Ok(n) if !(have + n).is_multiple_of(DIRECT_ALIGN) && have + n < need => {
                    return Err(io::ErrorKind::UnexpectedEof.into());
                }
                Ok(n) => have += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok((from - base) as usize..need)
    }

    /// Up to a chunk of `[from, to)` read through the page cache.
    fn read_buffered(
        &mut self,
        file: &File,
        from: u64,
        to: u64,
    ) -> io::Result<std::ops::Range<usize>> {
        use std::os::unix::fs::FileExt;
        let want = (CHUNK as u64).min(to - from) as usize;
        let buf = self.aligned();
        file.read_exact_at(&mut buf[..want], from)?;
        Ok(0..want)
    }
}

/// Drop the cached pages of a range, so that reading it goes to the device.
#[cfg(target_os = "linux")]
fn drop_range(file: &File, offset: u64, len: u64) {
    use std::os::unix::io::AsRawFd;
    let (Ok(offset), Ok(len)) = (i64::try_from(offset), i64::try_from(len)) else {
        return;
    };
    // SAFETY: the fd is valid for the lifetime of `file`; fadvise only drops clean pages.
    unsafe {
        libc::posix_fadvise(file.as_raw_fd(), offset, len, libc::POSIX_FADV_DONTNEED);
    }
}

/// The final pass's start when `prefix` covers the first members of `entries` (sorted
/// by offset) exactly: their `MemberPass`es, judged against the central directory as
/// `member_pass` would, the whole-file hash state, and how many entries it covered.
/// `None`: it does not line up, and the whole file must be read.
pub(super) fn resume(
    prefix: Prefix,
    entries: &[Entry],
    algs: AlgSet,
    len: u64,
) -> Option<(u64, Sha256, Vec<MemberPass>)> {
    if prefix.broken.is_some() || prefix.algs != algs || prefix.len > len {
        return None;
    }
    let covered = entries
        .iter()
        .take_while(|e| e.header_start < prefix.len)
        .count();
    if covered != prefix.members.len() {
        return None;
    }
    let mut passes = Vec::with_capacity(covered);
    for (e, m) in entries.iter().zip(prefix.members) {
        if e.header_start != m.header_start {
            return None;
        }
        let mut pass = MemberPass::default();
        match local_header_len(&m.header, e) {
            Ok(n) if n == m.header.len() => match check_local_header(&m.header, e) {
                Ok(altered) => {
                    pass.altered = altered;
                    pass.local = Some(Ok(e.header_start + n as u64));
                    pass.digest = m.digest;
                }
                // The member's data was delimited by a header the central directory
                // contradicts: its digests mean nothing; the full pass judges it.
                Err(_) => return None,
            },
            _ => return None,
        }
        passes.push(pass);
    }
    Some((prefix.len, prefix.whole, passes))
}
