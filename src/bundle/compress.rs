//! Whether and how a bundle member is deflated (`collect --compress`).
//!
//! Owns the per-member decision and the Deflate encoders; the ZIP layout is
//! `zipwriter`'s. The decision is cheap and made once per member from its first bytes:
//! members under `MIN_SIZE` are stored (a few bytes saved at most); a member whose first
//! `SAMPLE` bytes look random (byte entropy at least `RANDOM_BITS` per byte: media,
//! archives, encrypted containers, already-compressed data) is stored without a trial, at
//! the cost of counting 16 KiB; anything else is deflated when a trial on its first `TRIAL`
//! bytes saves at least a tenth. Incompressible data is therefore stored as before, for
//! the price of a byte count; an in-memory member whose whole Deflate form turns out
//! no smaller is stored too. A member is deflated by the worker thread that read it
//! (in memory, outside the bundle lock) or, streamed, by the thread holding the lock while
//! the hashing runs beside it (acquire/pipe.rs): both cores work.
//!
//! Never changes what is hashed: the signed records keep the SHA-256 of the content as
//! read; the stored (compressed) bytes get a SHA-256 of their own (`compressed.jsonl`).

use std::io;

use flate2::{Compress, FlushCompress, Status};
use sha2::{Digest, Sha256};

/// What the manifest says of `--compress auto` (`method.compression`).
pub const METHOD: &str = "Deflate (zlib level 1) for members of 512 bytes or more whose first \
16 KiB do not look random (byte entropy below 7.5 bits) and where a trial on their first \
64 KiB saves at least a tenth, every other member stored; SHA256SUMS, its \
signature, signer.pub and compressed.jsonl always stored. compressed.jsonl lists each \
Deflate member's stored size and the SHA-256 of its stored bytes; every other hash is of \
the content as read";

/// The `--compress` policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// Every member stored (method 0), as bundles were before compression existed.
    Never,
    /// Deflate where a trial says it pays (`worth_deflating`).
    Auto,
}

impl Compression {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "never" => Some(Compression::Never),
            "auto" => Some(Compression::Auto),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Compression::Never => "never",
            Compression::Auto => "auto",
        }
    }
}

/// Members smaller than this are always stored.
pub const MIN_SIZE: usize = 512;
/// How much of a member the trial compresses.
pub const TRIAL: usize = 64 << 10;
/// How much of a member's start the entropy check counts, and the entropy (bits per byte)
/// from which it is taken for random: deflate at level 1 saves nothing on such data.
pub const SAMPLE: usize = 16 << 10;
pub const RANDOM_BITS: f64 = 7.5;
/// zlib level: 1 is the fastest and already takes registry hives, event logs and text
/// to a fraction; higher levels cost several times the CPU for a few percent
/// (BENCHMARKS.md, "Compression").
const LEVEL: u32 = 1;
/// Deflate's worst-case growth allowance for a member that may reach 4 GiB: level 1 can
/// code incompressible bytes with fixed Huffman codes (9 bits for 8), so an eighth is
/// allowed (measured: 0.09 % on random data, test below); a streamed Deflate member
/// without ZIP64 sizes stops this much short of 4 GiB so its stored size stays below it.
pub const MAX_GROWTH: u64 = 0xFFFF_FFFF / 8 + 1024;

/// A member's Deflate form, made before the bundle lock is taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deflated {
    pub bytes: Vec<u8>,
    /// CRC-32 of the original content (what the ZIP headers carry).
    pub crc: u32,
}

fn encoder() -> Compress {
    Compress::new(flate2::Compression::new(LEVEL), false)
}

fn err(e: impl std::fmt::Display) -> io::Error {
    io::Error::other(format!("deflate: {e}"))
}

/// Raw Deflate (no zlib header) of all of `data`.
fn deflate_all(data: &[u8]) -> io::Result<Vec<u8>> {
    let mut c = encoder();
    let mut out = Vec::with_capacity(data.len() / 2 + 64);
    loop {
        if out.len() == out.capacity() {
            out.reserve(out.capacity().max(4096));
        }
        let consumed = usize::try_from(c.total_in()).map_err(err)?;
        let rest = data.get(consumed..).unwrap_or_default();
        match c.compress_vec(rest, &mut out, FlushCompress::Finish) {
            Ok(Status::StreamEnd) => return Ok(out),
            Ok(_) => {}
            Err(e) => return Err(err(e)),
        }
    }
}

/// Looks random from its first `SAMPLE` bytes: not worth a trial.
fn looks_random(first: &[u8]) -> bool {
    crate::triage::entropy::shannon(&first[..first.len().min(SAMPLE)]) >= RANDOM_BITS
}

/// Whether a member starting with `first` is deflated: at least `MIN_SIZE` bytes, not
/// random-looking, and the trial on its first `TRIAL` bytes saves at least a tenth.
pub fn worth_deflating(first: &[u8]) -> bool {
    if first.len() < MIN_SIZE || looks_random(first) {
        return false;
    }
    let sample = &first[..first.len().min(TRIAL)];
    match deflate_all(sample) {
        Ok(out) => out.len() * 10 <= sample.len() * 9,
        Err(_) => false,
    }
}

/// The Deflate form of an in-memory member, when it is worth storing that way (and
/// smaller than the content); `None`: store it as it is.
pub fn deflate_if_worth(data: &[u8]) -> Option<Deflated> {
    if data.len() < MIN_SIZE || looks_random(data) {
        return None;
    }
    let bytes = if data.len() <= TRIAL {
        let out = deflate_all(data).ok()?;
        (out.len() * 10 <= data.len() * 9).then_some(out)?
    } else if worth_deflating(data) {
        deflate_all(data).ok()?
    } else {
        return None;
    };
    (bytes.len() < data.len()).then(|| Deflated {
        bytes,
        crc: crc32fast::hash(data),
    })
}

/// Deflate for a streamed member: content in, stored bytes out through `sink`, with the
/// SHA-256 of the stored bytes taken as they pass.
pub struct StreamDeflater {
    c: Compress,
    buf: Vec<u8>,
    stored: Sha256,
}

impl Default for StreamDeflater {
    fn default() -> Self {
        Self::new()
    }
}

impl StreamDeflater {
    pub fn new() -> Self {
        StreamDeflater {
            c: encoder(),
            buf: vec![0u8; 256 << 10],
            stored: Sha256::new(),
        }
    }

    fn run(
        &mut self,
        mut input: &[u8],
        flush: FlushCompress,
        sink: &mut dyn FnMut(&[u8]) -> io::Result<()>,
    ) -> io::Result<Status> {
        loop {
            let (in0, out0) = (self.c.total_in(), self.c.total_out());
            let status = self.c.compress(input, &mut self.buf, flush).map_err(err)?;
            let used = usize::try_from(self.c.total_in() - in0).map_err(err)?;
            let made = usize::try_from(self.c.total_out() - out0).map_err(err)?;
            input = input.get(used..).unwrap_or_default();
            if made > 0 {
                self.stored.update(&self.buf[..made]);
                sink(&self.buf[..made])?;
            }
            let done = match flush {
                FlushCompress::Finish => status == Status::StreamEnd,
                _ => input.is_empty() && made < self.buf.len(),
            };
            if done {
                return Ok(status);
            }
            if used == 0 && made == 0 {
                return Err(err("the encoder made no progress"));
            }
        }
    }

    /// Deflate `data`, handing every stored byte made so far to `sink`.
    pub fn write(
        &mut self,
        data: &[u8],
        sink: &mut dyn FnMut(&[u8]) -> io::Result<()>,
    ) -> io::Result<()> {
        self.run(data, FlushCompress::None, sink).map(|_| ())
    }

    /// End the stream; returns the SHA-256 of every stored byte.
    pub fn finish(
        &mut self,
        sink: &mut dyn FnMut(&[u8]) -> io::Result<()>,
    ) -> io::Result<[u8; 32]> {
        self.run(&[], FlushCompress::Finish, sink)?;
        Ok(std::mem::take(&mut self.stored).finalize().into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn inflate(b: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        flate2::read::DeflateDecoder::new(b)
            .read_to_end(&mut out)
            .unwrap();
        out
    }

    fn noise(n: usize) -> Vec<u8> {
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect()
    }

    #[test]
    fn text_is_deflated_noise_and_tiny_members_are_stored() {
        let text = "2026-12-04 19:00:00 sshd[811]: Accepted publickey for root\n".repeat(2000);
        let d = deflate_if_worth(text.as_bytes()).unwrap();
        assert!(d.bytes.len() * 10 < text.len());
        assert_eq!(inflate(&d.bytes), text.as_bytes());
        assert_eq!(d.crc, crc32fast::hash(text.as_bytes()));
        assert!(deflate_if_worth(&noise(200_000)).is_none());
        assert!(!worth_deflating(&noise(200_000)));
        assert!(deflate_if_worth(&[b'a'; MIN_SIZE - 1]).is_none());
        assert!(looks_random(&noise(SAMPLE)));
        assert!(!looks_random(text.as_bytes()));
        assert!(deflate_if_worth(&[b'a'; MIN_SIZE]).is_some());
    }

    #[test]
    fn the_stream_encoder_matches_its_input_and_hashes_what_it_emits() {
        let mut data = "registry value\0\0\0\0".repeat(100_000).into_bytes();
        data.extend(noise(300_000));
        let mut d = StreamDeflater::new();
        let mut stored = Vec::new();
        for part in data.chunks(1 << 20) {
            d.write(part, &mut |c| {
                stored.extend_from_slice(c);
                Ok(())
            })
            .unwrap();
        }
        let sha = d
            .finish(&mut |c| {
                stored.extend_from_slice(c);
                Ok(())
            })
            .unwrap();
        assert_eq!(inflate(&stored), data);
        assert_eq!(sha, <[u8; 32]>::from(Sha256::digest(&stored)));
        assert!(stored.len() < data.len());
    }

    #[test]
    fn incompressible_streams_grow_by_less_than_the_margin() {
        let data = noise(4 << 20);
        let mut d = StreamDeflater::new();
        let mut n = 0u64;
        d.write(&data, &mut |c| {
            n += c.len() as u64;
            Ok(())
        })
        .unwrap();
        d.finish(&mut |c| {
            n += c.len() as u64;
            Ok(())
        })
        .unwrap();
        assert!(n <= data.len() as u64 + data.len() as u64 / 100, "{n}");
        assert!(n <= data.len() as u64 + data.len() as u64 / 8 + 1024);
    }
}
