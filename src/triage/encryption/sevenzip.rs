//! 7z archives for the `encryption` analyzer: the start header, then the (possibly
//! LZMA/LZMA2-compressed, possibly AES-encrypted) header it points at, read far enough to
//! tell whether contents and names are encrypted.
//!
//! Owns the 7z property walk and the bounded header decompression. It must never
//! decompress past the unpacked size the archive declares (itself at most
//! `MAX_7Z_HEADER`), never decrypt, and never read outside the head and tail the
//! analyzer kept.

use serde_json::json;

use super::{MAX_7Z_HEADER, NAME, le_u64};
use crate::finding::{Finding, Severity};
use crate::triage::new_finding;

/// 7z property IDs used here.
mod k7z {
    pub const END: u8 = 0x00;
    pub const HEADER: u8 = 0x01;
    pub const ARCHIVE_PROPERTIES: u8 = 0x02;
    pub const ADDITIONAL_STREAMS_INFO: u8 = 0x03;
    pub const MAIN_STREAMS_INFO: u8 = 0x04;
    pub const PACK_INFO: u8 = 0x06;
    pub const UNPACK_INFO: u8 = 0x07;
    pub const SIZE: u8 = 0x09;
    pub const CRC: u8 = 0x0a;
    pub const FOLDER: u8 = 0x0b;
    pub const CODERS_UNPACK_SIZE: u8 = 0x0c;
    pub const ENCODED_HEADER: u8 = 0x17;
    pub const AES: &[u8] = &[0x06, 0xf1, 0x07, 0x01];
    pub const LZMA: &[u8] = &[0x03, 0x01, 0x01];
    pub const LZMA2: &[u8] = &[0x21];
}

struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn byte(&mut self) -> Option<u8> {
        let v = *self.b.get(self.at)?;
        self.at += 1;
        Some(v)
    }
    fn bytes(&mut self, n: usize) -> Option<&[u8]> {
        let v = self.b.get(self.at..self.at.checked_add(n)?)?;
        self.at += n;
        Some(v)
    }
    /// 7z NUMBER: leading one bits of the first byte give the count of extra bytes.
    fn number(&mut self) -> Option<u64> {
        let first = self.byte()?;
        let extra = first.leading_ones() as usize;
        if extra == 0 {
            return Some(u64::from(first));
        }
        // The bits below the leading ones and their zero (none when seven ones lead).
        let high = u64::from(first & 0xffu8.checked_shr(extra as u32 + 1).unwrap_or(0));
        let mut value = 0u64;
        for i in 0..extra.min(8) {
            value |= u64::from(self.byte()?) << (8 * i);
        }
        if extra < 8 {
            value |= high << (8 * extra);
        }
        Some(value)
    }
}

#[derive(Debug, Default)]
struct Coder {
    id: Vec<u8>,
    props: Vec<u8>,
}

#[derive(Debug, Default)]
struct StreamsInfo {
    pack_pos: u64,
    pack_sizes: Vec<u64>,
    folders: Vec<Vec<Coder>>,
    unpack_sizes: Vec<u64>,
}

fn read_streams_info(r: &mut Reader<'_>) -> Option<StreamsInfo> {
    let mut info = StreamsInfo::default();
    loop {
        match r.byte()? {
            k7z::END => return Some(info),
            k7z::PACK_INFO => {
                info.pack_pos = r.number()?;
                let count = r.number()?.min(1 << 16) as usize;
                loop {
                    match r.byte()? {
                        k7z::END => break,
                        k7z::SIZE => {
                            for _ in 0..count {
                                info.pack_sizes.push(r.number()?);
                            }
                        }
                        k7z::CRC => skip_digests(r, count)?,
                        _ => return None,
                    }
                }
            }
            k7z::UNPACK_INFO => {
                if r.byte()? != k7z::FOLDER {
                    return None;
                }
                let folders = r.number()?.min(1 << 16) as usize;
                if r.byte()? != 0 {
                    return None; // external folders are not used by 7-Zip
                }
                let mut outs_per_folder = Vec::new();
                for _ in 0..folders {
                    let coders = r.number()?.min(64) as usize;
                    let mut list = Vec::new();
                    let (mut ins, mut outs) = (0u64, 0u64);
                    for _ in 0..coders {
                        let flag = r.byte()?;
                        let id = r.bytes((flag & 0x0f) as usize)?.to_vec();
                        if flag & 0x10 != 0 {
                            ins = ins.saturating_add(r.number()?);
                            outs = outs.saturating_add(r.number()?);
                        } else {
                            ins += 1;
                            outs += 1;
                        }
                        // 7-Zip itself allows at most 64 streams per folder.
                        if ins > 64 || outs > 64 {
                            return None;
                        }
                        let props = if flag & 0x20 != 0 {
                            let n = r.number()? as usize;
                            r.bytes(n)?.to_vec()
                        } else {
                            Vec::new()
                        };
                        list.push(Coder { id, props });
                    }
                    let bind_pairs = outs.saturating_sub(1);
                    for _ in 0..bind_pairs {
                        r.number()?;
                        r.number()?;
                    }
                    let packed = ins.saturating_sub(bind_pairs);
                    if packed > 1 {
                        for _ in 0..packed {
                            r.number()?;
                        }
                    }
                    outs_per_folder.push(outs.min(64) as usize);
                    info.folders.push(list);
                }
                if r.byte()? != k7z::CODERS_UNPACK_SIZE {
                    return None;
                }
                for outs in outs_per_folder {
                    for _ in 0..outs {
                        info.unpack_sizes.push(r.number()?);
                    }
                }
                loop {
                    match r.byte()? {
                        k7z::END => break,
                        k7z::CRC => skip_digests(r, folders)?,
                        _ => return None,
                    }
                }
            }
            // Substreams and later parts are not needed: the coders are known.
            _ => return Some(info),
        }
    }
}

fn skip_digests(r: &mut Reader<'_>, count: usize) -> Option<()> {
    let all_defined = r.byte()?;
    let defined = if all_defined != 0 {
        count
    } else {
        let bits = r.bytes(count.div_ceil(8))?;
        (0..count)
            .filter(|i| bits[i / 8] & (0x80 >> (i % 8)) != 0)
            .count()
    };
    r.bytes(defined * 4)?;
    Some(())
}

fn has_aes(info: &StreamsInfo) -> bool {
    info.folders.iter().flatten().any(|c| c.id == k7z::AES)
}

/// Decompresses an LZMA/LZMA2-coded 7z header (bounded), for archives whose header is
/// compressed but not encrypted.
fn unpack_7z_header(info: &StreamsInfo, packed: &[u8]) -> Result<Vec<u8>, String> {
    let coder = info
        .folders
        .first()
        .and_then(|f| f.first())
        .ok_or("encoded header has no coder")?;
    let size = *info
        .unpack_sizes
        .first()
        .ok_or("encoded header has no size")?;
    if size > MAX_7Z_HEADER {
        return Err(format!(
            "header of {size} bytes exceeds the {MAX_7Z_HEADER}-byte limit"
        ));
    }
    // Never more than the header says it holds (itself capped): a tiny archive must not
    // inflate to hundreds of MiB in the collector.
    let limit = usize::try_from(size).map_err(|_| "header size does not fit in memory")?;
    let mut out = BoundedWriter {
        bytes: Vec::new(),
        limit,
    };
    let mut input = std::io::Cursor::new(packed);
    if coder.id == k7z::LZMA {
        let mut stream = coder.props.clone();
        stream.extend_from_slice(packed);
        let mut input = std::io::Cursor::new(stream);
        let options = lzma_rs::decompress::Options {
            unpacked_size: lzma_rs::decompress::UnpackedSize::UseProvided(Some(size)),
            // The dictionary never needs to exceed what may be written.
            memlimit: Some(limit.max(4096)),
            allow_incomplete: false,
        };
        lzma_rs::lzma_decompress_with_options(&mut input, &mut out, &options)
            .map_err(|e| format!("LZMA header: {e}"))?;
    } else if coder.id == k7z::LZMA2 {
        // lzma-rs keeps a whole LZMA2 dictionary run in memory before it writes: the chunk
        // sizes are checked against the limit first, so nothing larger is ever decoded.
        let declared = lzma2_unpacked_size(packed, size)?;
        if declared > size {
            return Err(format!(
                "LZMA2 header stream unpacks to more than the {size} bytes the archive declares"
            ));
        }
        lzma_rs::lzma2_decompress(&mut input, &mut out)
            .map_err(|e| format!("LZMA2 header: {e}"))?;
    } else {
        return Err(format!(
            "header coder {} not supported",
            crate::triage::hex(&coder.id)
        ));
    }
    Ok(out.bytes)
}

/// A sink that refuses to grow past `limit` bytes.
struct BoundedWriter {
    bytes: Vec<u8>,
    limit: usize,
}

impl std::io::Write for BoundedWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if buf.len() > self.limit.saturating_sub(self.bytes.len()) {
            return Err(std::io::Error::other(format!(
                "decompressed data exceeds {} bytes",
                self.limit
            )));
        }
        self.bytes.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Sum of the unpacked sizes an LZMA2 stream's chunk headers declare, without decoding:
/// stops (returning a sum above `stop`) as soon as the sum passes `stop`. Each chunk's
/// output is bounded by its header in lzma-rs, so this bounds the whole decode.
fn lzma2_unpacked_size(stream: &[u8], stop: u64) -> Result<u64, String> {
    let mut at = 0usize;
    let mut total = 0u64;
    let byte = |i: usize| stream.get(i).copied().ok_or("LZMA2 stream truncated");
    let be16 =
        |i: usize| -> Result<u64, &str> { Ok(u64::from(byte(i)?) << 8 | u64::from(byte(i + 1)?)) };
    loop {
        let control = byte(at)?;
        let (unpacked, next) = match control {
            0 => return Ok(total),
            1 | 2 => {
                let size = be16(at + 1)? + 1;
                let data = usize::try_from(size).map_err(|_| "LZMA2 chunk too large")?;
                (size, (at + 3).checked_add(data))
            }
            0x80..=0xff => {
                let size = (u64::from(control & 0x1f) << 16 | be16(at + 1)?) + 1;
                let packed =
                    usize::try_from(be16(at + 3)? + 1).map_err(|_| "LZMA2 chunk too large")?;
                let header = if control >= 0xc0 { 6 } else { 5 };
                (size, (at + header).checked_add(packed))
            }
            other => return Err(format!("LZMA2 control byte {other:#04x} is invalid")),
        };
        total = total.saturating_add(unpacked);
        if total > stop {
            return Ok(total);
        }
        at = next.ok_or("LZMA2 stream offset overflow")?;
    }
}

pub(super) fn seven_zip(head: &[u8], tail: Option<(&[u8], u64)>) -> Vec<Finding> {
    let verdict = seven_zip_verdict(head, tail);
    let (title, evidence) = match verdict {
        Ok(SevenZip::Plain) => return Vec::new(),
        Ok(SevenZip::HeaderEncrypted) => (
            "Password-protected 7z archive (file names and contents encrypted)",
            json!({ "format": "7z", "headers_encrypted": true, "contents_encrypted": true, "coder": "7zAES" }),
        ),
        Ok(SevenZip::ContentEncrypted) => (
            "Password-protected 7z archive (contents encrypted)",
            json!({ "format": "7z", "headers_encrypted": false, "contents_encrypted": true, "coder": "7zAES" }),
        ),
        Err(reason) => (
            "7z archive whose header could not be read: encryption unknown",
            json!({ "format": "7z", "error": reason }),
        ),
    };
    let severity = if evidence.get("error").is_some() {
        Severity::Info
    } else {
        Severity::Medium
    };
    let kind = if severity == Severity::Info {
        "encryption.archive_unreadable"
    } else {
        "encryption.archive"
    };
    vec![new_finding(
        NAME,
        kind,
        severity,
        title.to_string(),
        evidence,
    )]
}

enum SevenZip {
    Plain,
    ContentEncrypted,
    HeaderEncrypted,
}

fn seven_zip_verdict(head: &[u8], tail: Option<(&[u8], u64)>) -> Result<SevenZip, String> {
    let offset = le_u64(head, 12).ok_or("start header truncated")?;
    let size = le_u64(head, 20).ok_or("start header truncated")?;
    let (bytes, base) = tail.ok_or("no tail kept")?;
    let slice = |start: u64, len: u64| -> Result<&[u8], String> {
        let end = start.checked_add(len).ok_or("offset overflow")?;
        if start < base || end > base + bytes.len() as u64 {
            return Err(format!(
                "bytes {start}..{end} lie outside the last {} bytes kept",
                bytes.len()
            ));
        }
        let from = usize::try_from(start - base).map_err(|_| "offset overflow")?;
        let to = usize::try_from(end - base).map_err(|_| "offset overflow")?;
        bytes
            .get(from..to)
            .ok_or_else(|| "range outside the kept bytes".to_string())
    };
    let header_start = 32u64.checked_add(offset).ok_or("offset overflow")?;
    let header = slice(header_start, size)?;
    let mut r = Reader { b: header, at: 0 };
    match r.byte().ok_or("empty header")? {
        k7z::HEADER => plain_header_verdict(&mut r),
        k7z::ENCODED_HEADER => {
            let info = read_streams_info(&mut r).ok_or("encoded header does not parse")?;
            if has_aes(&info) {
                return Ok(SevenZip::HeaderEncrypted);
            }
            let packed_len = *info
                .pack_sizes
                .first()
                .ok_or("encoded header has no pack size")?;
            let packed_start = 32u64
                .checked_add(info.pack_pos)
                .ok_or("pack position overflow")?;
            let packed = slice(packed_start, packed_len)?;
            let unpacked = unpack_7z_header(&info, packed)?;
            let mut r = Reader {
                b: &unpacked,
                at: 0,
            };
            if r.byte() != Some(k7z::HEADER) {
                return Err("decoded header is not a 7z header".to_string());
            }
            plain_header_verdict(&mut r)
        }
        other => Err(format!("unexpected header property {other:#04x}")),
    }
}

fn plain_header_verdict(r: &mut Reader<'_>) -> Result<SevenZip, String> {
    loop {
        match r.byte().ok_or("header truncated")? {
            k7z::ARCHIVE_PROPERTIES => loop {
                let kind = r.byte().ok_or("header truncated")?;
                if kind == 0 {
                    break;
                }
                let n = r.number().ok_or("header truncated")? as usize;
                r.bytes(n).ok_or("header truncated")?;
            },
            k7z::ADDITIONAL_STREAMS_INFO | k7z::MAIN_STREAMS_INFO => {
                let info = read_streams_info(r).ok_or("streams info does not parse")?;
                return Ok(if has_aes(&info) {
                    SevenZip::ContentEncrypted
                } else {
                    SevenZip::Plain
                });
            }
            _ => return Ok(SevenZip::Plain),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seven_zip_numbers_decode() {
        let mut r = Reader {
            b: &[0x05, 0x81, 0x50, 0xc0, 0x34, 0x12],
            at: 0,
        };
        assert_eq!(r.number(), Some(5));
        assert_eq!(r.number(), Some(0x150));
        assert_eq!(r.number(), Some(0x1234));
        // Seven leading ones: seven bytes follow and the first byte adds nothing.
        let mut r = Reader {
            b: &[
                0xfe, 1, 0, 0, 0, 0, 0, 0x80, 0xff, 1, 0, 0, 0, 0, 0, 0, 0x80,
            ],
            at: 0,
        };
        assert_eq!(r.number(), Some(0x0080_0000_0000_0001));
        assert_eq!(r.number(), Some(0x8000_0000_0000_0001));
        assert_eq!(r.number(), None, "input exhausted");
    }
}
