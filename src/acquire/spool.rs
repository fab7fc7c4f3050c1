//! JSON-lines spools: files.jsonl and findings.jsonl grow with the number of files, so
//! they are written to an anonymous temporary file on the output device (never the
//! source, never beside the binary) and copied into the bundle at the end. Memory stays
//! flat whatever the number of files; an unlinked temp file leaves nothing behind if the
//! process is killed.
//!
//! An ordered spool (files.jsonl) also keeps, per line, its sequence number (the walk
//! index of the path) and where the line lies in the temp file — 24 bytes, not the
//! record — so that lines pushed in whatever order the worker threads finish are read
//! back in walk order: the same tree gives the same files.jsonl. Never holds the records
//! themselves in memory.

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::Path;

use serde::Serialize;

/// Where one line of an ordered spool lies.
#[derive(Debug, Clone, Copy)]
struct Slot {
    seq: u64,
    offset: u64,
    len: u32,
}

pub struct Spool {
    out: BufWriter<File>,
    lines: u64,
    bytes: u64,
    order: Option<Vec<Slot>>,
}

/// Read back at most this much of consecutive lines at once.
const READ_AHEAD: usize = 1 << 20;

impl Spool {
    /// A spool read back in the order lines were pushed.
    pub fn new_in(dir: &Path) -> io::Result<Self> {
        Self::create(dir, None)
    }

    /// A spool read back in the order of the sequence numbers given to `push_seq`.
    pub fn new_ordered_in(dir: &Path) -> io::Result<Self> {
        Self::create(dir, Some(Vec::new()))
    }

    fn create(dir: &Path, order: Option<Vec<Slot>>) -> io::Result<Self> {
        let file = tempfile::tempfile_in(dir)?;
        Ok(Spool {
            out: BufWriter::with_capacity(256 * 1024, file),
            lines: 0,
            bytes: 0,
            order,
        })
    }

    pub fn push<T: Serialize>(&mut self, value: &T) -> io::Result<()> {
        let seq = self.lines;
        self.push_seq(seq, value)
    }

    /// Append a line that belongs at position `seq` (ordered spools; others ignore it).
    pub fn push_seq<T: Serialize>(&mut self, seq: u64, value: &T) -> io::Result<()> {
        let mut line = serde_json::to_vec(value).map_err(io::Error::other)?;
        line.push(b'\n');
        let len = u32::try_from(line.len())
            .map_err(|_| io::Error::other("a spooled line is longer than 4 GiB"))?;
        self.out.write_all(&line)?;
        if let Some(order) = &mut self.order {
            order.push(Slot {
                seq,
                offset: self.bytes,
                len,
            });
        }
        self.lines += 1;
        self.bytes += line.len() as u64;
        Ok(())
    }

    pub fn lines(&self) -> u64 {
        self.lines
    }

    /// The spooled lines, flushed, ready to be read (in order) as many times as needed.
    pub fn into_contents(self) -> io::Result<Contents> {
        let file = self.out.into_inner().map_err(|e| e.into_error())?;
        let mut order = self.order;
        if let Some(o) = &mut order {
            // Stable: lines with the same number keep the order they were pushed in.
            o.sort_by_key(|s| s.seq);
        }
        Ok(Contents {
            file,
            bytes: self.bytes,
            order,
        })
    }
}

/// A finished spool.
pub struct Contents {
    file: File,
    bytes: u64,
    order: Option<Vec<Slot>>,
}

impl Contents {
    /// Total length of the lines.
    pub fn len(&self) -> u64 {
        self.bytes
    }

    pub fn is_empty(&self) -> bool {
        self.bytes == 0
    }

    /// Read all lines from the start (in sequence order for an ordered spool).
    pub fn reader(&self) -> Reader<'_> {
        Reader {
            contents: self,
            next_slot: 0,
            pos: 0,
            buf: Vec::new(),
            buf_pos: 0,
        }
    }
}

/// Reads a spool's lines without moving a shared file cursor (positioned reads), so
/// several readers of the same contents do not disturb each other.
pub struct Reader<'a> {
    contents: &'a Contents,
    /// Ordered: the next slot to load. Unordered: unused.
    next_slot: usize,
    /// Unordered: the next offset to read.
    pos: u64,
    buf: Vec<u8>,
    buf_pos: usize,
}

impl Reader<'_> {
    /// Load the next run of slots that lie one after the other in the file (lines pushed
    /// in walk order mostly do) with one read.
    fn refill(&mut self, order: &[Slot]) -> io::Result<()> {
        let Some(first) = order.get(self.next_slot) else {
            self.buf.clear();
            self.buf_pos = 0;
            return Ok(());
        };
        let start = first.offset;
        let mut end = start + first.len as u64;
        self.next_slot += 1;
        while let Some(s) = order.get(self.next_slot) {
            if s.offset != end || (end - start) as usize + s.len as usize > READ_AHEAD {
                break;
            }
            end += s.len as u64;
            self.next_slot += 1;
        }
        self.buf.resize((end - start) as usize, 0);
        read_exact_at(&self.contents.file, &mut self.buf, start)?;
        self.buf_pos = 0;
        Ok(())
    }
}

impl Read for Reader<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        match &self.contents.order {
            Some(order) => {
                if self.buf_pos >= self.buf.len() {
                    self.refill(order)?;
                }
                let n = out.len().min(self.buf.len() - self.buf_pos);
                out[..n].copy_from_slice(&self.buf[self.buf_pos..self.buf_pos + n]);
                self.buf_pos += n;
                Ok(n)
            }
            None => {
                let left = self.contents.bytes.saturating_sub(self.pos);
                let n = (out.len() as u64).min(left) as usize;
                if n == 0 {
                    return Ok(0);
                }
                read_exact_at(&self.contents.file, &mut out[..n], self.pos)?;
                self.pos += n as u64;
                Ok(n)
            }
        }
    }
}

#[cfg(unix)]
fn read_exact_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buf, offset)
}

#[cfg(windows)]
fn read_exact_at(file: &File, mut buf: &mut [u8], mut offset: u64) -> io::Result<()> {
    use std::os::windows::fs::FileExt;
    while !buf.is_empty() {
        match file.seek_read(buf, offset) {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => {
                buf = &mut buf[n..];
                offset += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ordered_spool_reads_back_in_sequence_order_however_it_was_pushed() {
        let d = tempfile::tempdir().unwrap();
        let mut s = Spool::new_ordered_in(d.path()).unwrap();
        for seq in [3u64, 0, 4, 1, 2, 5] {
            s.push_seq(seq, &format!("line {seq}")).unwrap();
        }
        let c = s.into_contents().unwrap();
        for _ in 0..2 {
            let mut text = String::new();
            c.reader().read_to_string(&mut text).unwrap();
            let want: String = (0..6).map(|i| format!("\"line {i}\"\n")).collect();
            assert_eq!(text, want);
            assert_eq!(text.len() as u64, c.len());
        }
        let mut plain = Spool::new_in(d.path()).unwrap();
        plain.push(&"b").unwrap();
        plain.push(&"a").unwrap();
        let c = plain.into_contents().unwrap();
        let mut text = String::new();
        c.reader().read_to_string(&mut text).unwrap();
        assert_eq!(text, "\"b\"\n\"a\"\n");
    }
}
