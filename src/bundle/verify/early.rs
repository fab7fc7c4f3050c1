//! Verify-after-write that overlaps acquisition: the part of the archive already
//! complete is flushed to the device, its pages are dropped, and it is read back and
//! hashed on a thread of its own while later members are still being written. At the
//! end, the final pass of `verify` resumes where this one stopped instead of reading
//! the whole file again.
//!
//! Why it is the same check: the writer publishes only offsets at which every member
//! before is complete (its local header already patched); it never writes before a
//! published offset again (`ZipWriter::seal_to` refuses it). Each published range is
//! made durable (`fdatasync`), dropped from the page cache (`POSIX_FADV_DONTNEED`) and
//! only then read, through a handle of its own, exactly once: so every byte of it was
//! read back from the device after it was flushed, and it cannot change afterwards
//! through fieldkit. This pass does what the final pass would do with those bytes — the
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
    Entry, Inflating, MemberDigest, MemberPass, check_local_header, finish_data, local_header_len,
};
use crate::hashing::{AlgSet, MultiHasher};

/// How much newly completed archive a range must hold before it is read back early:
/// small enough to overlap, large enough that the `fdatasync` per range is noise.
pub const STEP: u64 = 8 << 20;
const CHUNK: usize = 4 << 20;

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

fn le16(b: &[u8], i: usize) -> u64 {
    u64::from(u16::from_le_bytes([b[i], b[i + 1]]))
}

fn le32(b: &[u8], i: usize) -> u64 {
    u64::from(u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]))
}

/// Method, stored size and size a complete local header gives.
fn header_values(h: &[u8]) -> Result<(u16, u64, u64), String> {
    let (method, mut csize, mut size) = (le16(h, 8) as u16, le32(h, 18), le32(h, 22));
    if csize == 0xFFFF_FFFF || size == 0xFFFF_FFFF {
        let name_len = le16(h, 26) as usize;
        let extra = &h[30 + name_len..];
        let mut i = 0;
        let mut found = false;
        while i + 4 <= extra.len() {
            let tag = le16(extra, i);
            let len = le16(extra, i + 2) as usize;
            if tag == 1 && len >= 16 && i + 20 <= extra.len() {
                let mut a = [0u8; 8];
                a.copy_from_slice(&extra[i + 4..i + 12]);
                size = u64::from_le_bytes(a);
                a.copy_from_slice(&extra[i + 12..i + 20]);
                csize = u64::from_le_bytes(a);
                found = true;
            }
            i += 4 + len;
        }
        if !found {
            return Err("a local header with saturated sizes and no ZIP64 field".into());
        }
    }
    Ok((method, csize, size))
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
                        30 + le16(buf, 26) as usize + le16(buf, 28) as usize
                    };
                    let take = (need - buf.len()).min(rem.len());
                    buf.extend_from_slice(&rem[..take]);
                    off += take;
                    if buf.len() == 30 && buf[..4] != [0x50, 0x4b, 0x03, 0x04] {
                        self.broken = Some(format!("no local header at offset {start}"));
                        break;
                    }
                    let complete = buf.len() >= 30
                        && buf.len() == 30 + le16(buf, 26) as usize + le16(buf, 28) as usize;
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
        let file = File::open(path)?;
        let (tx, rx) = mpsc::channel::<u64>();
        let handle = std::thread::Builder::new()
            .name("early-verify".into())
            .spawn(move || run(file, rx, algs))?;
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
fn run(file: File, rx: mpsc::Receiver<u64>, algs: AlgSet) -> Result<Prefix, String> {
    use std::os::unix::fs::FileExt;
    let mut parser = Parser::new(algs);
    let mut whole = Sha256::new();
    let mut done = 0u64;
    let mut buf = vec![0u8; CHUNK];
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
            let want = (CHUNK as u64).min(frontier - done) as usize;
            file.read_exact_at(&mut buf[..want], done)
                .map_err(|e| format!("reading the bundle back at offset {done}: {e}"))?;
            whole.update(&buf[..want]);
            parser.feed(&buf[..want]);
            done += want as u64;
        }
        crate::bundle::lifecycle::test_phase(&format!("read-back-early {done}"));
    }
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
    })
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
    prefix: &Prefix,
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
    for (e, m) in entries.iter().zip(&prefix.members) {
        if e.header_start != m.header_start {
            return None;
        }
        let mut pass = MemberPass::default();
        match local_header_len(&m.header, e) {
            Ok(n) if n == m.header.len() => match check_local_header(&m.header, e) {
                Ok(altered) => {
                    pass.altered = altered;
                    pass.local = Some(Ok(e.header_start + n as u64));
                    pass.digest = m.digest.clone();
                }
                // The member's data was delimited by a header the central directory
                // contradicts: its digests mean nothing; the full pass judges it.
                Err(_) => return None,
            },
            _ => return None,
        }
        passes.push(pass);
    }
    Some((prefix.len, prefix.whole.clone(), passes))
}
