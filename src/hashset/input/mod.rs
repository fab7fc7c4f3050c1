//! Readers for reference hash lists: NSRL RDS v3 (SQLite), NSRL RDS 2.x `NSRLFile.txt`,
//! hashdeep files, `md5sum`/`sha1sum`/`sha256sum` output (GNU and BSD `--tag`, plain
//! one-hash-per-line lists) and Project VIC VICS JSON.
//!
//! Owns format detection and turning each input into a stream of [`Record`]s, while
//! hashing every byte of the input (the set records each source's SHA-256 and size).
//! Must never hold a whole input in memory (lines are capped, JSON is parsed as a stream,
//! SQLite rows are stepped), never write to or next to an input (SQLite is opened
//! read-only and immutable), and never panic on malformed data: a bad line is an error
//! naming `file:line`, or, with `--skip-malformed`, counted and skipped.

pub mod hashdeep;
pub mod nsrl_sqlite;
pub mod nsrl_txt;
pub mod sums;
pub mod vics;

use std::fmt::Display;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use anyhow::{Context, Result, bail};
use sha2::{Digest, Sha256};

/// How many skipped malformed lines are quoted in the set's metadata.
pub const MAX_MALFORMED_EXAMPLES: usize = 10;
/// Longer lines are malformed (no hash list has them) and are never held whole.
pub const MAX_LINE_LEN: usize = 1 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputFormat {
    NsrlSqlite,
    NsrlTxt,
    Hashdeep,
    Sums,
    Vics,
}

impl InputFormat {
    pub const ALL: [InputFormat; 5] = [
        InputFormat::NsrlSqlite,
        InputFormat::NsrlTxt,
        InputFormat::Hashdeep,
        InputFormat::Sums,
        InputFormat::Vics,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            InputFormat::NsrlSqlite => "nsrl-sqlite",
            InputFormat::NsrlTxt => "nsrl-txt",
            InputFormat::Hashdeep => "hashdeep",
            InputFormat::Sums => "sums",
            InputFormat::Vics => "vics",
        }
    }

    pub fn parse(name: &str) -> Option<InputFormat> {
        InputFormat::ALL.into_iter().find(|f| f.name() == name)
    }
}

impl Display for InputFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One reference record: the digests it carries and the category code the source gave.
#[derive(Debug, Clone, Copy, Default)]
pub struct Record<'a> {
    pub md5: Option<[u8; 16]>,
    pub sha1: Option<[u8; 20]>,
    pub sha256: Option<[u8; 32]>,
    pub category: Option<&'a str>,
}

impl Record<'_> {
    pub fn has_hash(&self) -> bool {
        self.md5.is_some() || self.sha1.is_some() || self.sha256.is_some()
    }
}

/// Receives records in input order.
pub trait RecordSink {
    fn record(&mut self, record: &Record<'_>) -> Result<()>;
}

/// Where in an input a problem is.
#[derive(Debug, Clone, Copy)]
pub enum Location {
    Line(u64),
    /// SQLite row, counted from 1 in `SELECT` order.
    Row(u64),
}

/// Per-input bookkeeping shared by all readers.
#[derive(Debug)]
pub struct SourceCtx {
    /// The path as the user gave it, for messages.
    pub display: String,
    pub skip_malformed: bool,
    pub records: u64,
    pub records_without_hash: u64,
    pub malformed_skipped: u64,
    pub malformed_examples: Vec<String>,
    pub description: Option<String>,
}

impl SourceCtx {
    pub fn new(path: &Path, skip_malformed: bool) -> SourceCtx {
        SourceCtx {
            display: path.display().to_string(),
            skip_malformed,
            records: 0,
            records_without_hash: 0,
            malformed_skipped: 0,
            malformed_examples: Vec::new(),
            description: None,
        }
    }

    /// A malformed line: an error naming `file:line` unless skipping was asked for.
    pub fn malformed(&mut self, at: Location, reason: impl Display) -> Result<()> {
        let place = match at {
            Location::Line(n) => format!("line {n}"),
            Location::Row(n) => format!("row {n}"),
        };
        if !self.skip_malformed {
            match at {
                Location::Line(n) => bail!(
                    "{}:{n}: {reason} (use --skip-malformed to count and skip such lines)",
                    self.display
                ),
                Location::Row(_) => bail!(
                    "{}: {place}: {reason} (use --skip-malformed to count and skip such rows)",
                    self.display
                ),
            }
        }
        self.malformed_skipped += 1;
        if self.malformed_examples.len() < MAX_MALFORMED_EXAMPLES {
            let mut reason = reason.to_string();
            // Quoted lines are the input's bytes: cut at a character boundary.
            let mut cut = reason.len().min(200);
            while !reason.is_char_boundary(cut) {
                cut -= 1;
            }
            reason.truncate(cut);
            self.malformed_examples.push(format!("{place}: {reason}"));
        }
        Ok(())
    }

    /// Hand a record to the sink, counting it.
    pub fn emit(&mut self, sink: &mut dyn RecordSink, record: &Record<'_>) -> Result<()> {
        if record.has_hash() {
            self.records += 1;
            sink.record(record)
        } else {
            self.records_without_hash += 1;
            Ok(())
        }
    }
}

/// Size and SHA-256 of every byte of an input.
#[derive(Debug, Clone, Copy)]
pub struct SourceDigest {
    pub size: u64,
    pub sha256: [u8; 32],
}

/// Read one input as `format`, feeding `sink`.
pub fn read(
    format: InputFormat,
    path: &Path,
    ctx: &mut SourceCtx,
    sink: &mut dyn RecordSink,
) -> Result<SourceDigest> {
    match format {
        InputFormat::NsrlSqlite => nsrl_sqlite::read(path, ctx, sink),
        InputFormat::NsrlTxt => nsrl_txt::read(path, ctx, sink),
        InputFormat::Hashdeep => hashdeep::read(path, ctx, sink),
        InputFormat::Sums => sums::read(path, ctx, sink),
        InputFormat::Vics => vics::read(path, ctx, sink),
    }
}

/// Guess an input's format from its first bytes.
pub fn detect(path: &Path) -> Result<InputFormat> {
    let file = open_input(path)?;
    let mut head = Vec::with_capacity(64 * 1024);
    file.take(64 * 1024)
        .read_to_end(&mut head)
        .with_context(|| format!("{}: cannot read", path.display()))?;
    if head.starts_with(b"SQLite format 3\0") {
        return Ok(InputFormat::NsrlSqlite);
    }
    check_not_utf16(&head, path)?;
    let text = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&head);
    let first_line = text
        .split(|&b| b == b'\n')
        .map(|l| l.trim_ascii())
        .find(|l| !l.is_empty())
        .unwrap_or_default();
    Ok(if first_line.starts_with(b"%%%% HASHDEEP") {
        InputFormat::Hashdeep
    } else if first_line.starts_with(b"\"SHA-1\"") {
        InputFormat::NsrlTxt
    } else if first_line.starts_with(b"{") {
        InputFormat::Vics
    } else {
        InputFormat::Sums
    })
}

pub fn open_input(path: &Path) -> Result<File> {
    let file = File::open(path).with_context(|| format!("{}: cannot open", path.display()))?;
    let meta = file
        .metadata()
        .with_context(|| format!("{}: cannot stat", path.display()))?;
    if meta.is_dir() {
        bail!("{}: is a directory, not a hash list", path.display());
    }
    Ok(file)
}

fn check_not_utf16(head: &[u8], path: &Path) -> Result<()> {
    if head.starts_with(b"\xFF\xFE") || head.starts_with(b"\xFE\xFF") {
        bail!(
            "{}: UTF-16 text is not supported; convert it first, e.g. `iconv -f UTF-16 -t UTF-8`",
            path.display()
        );
    }
    Ok(())
}

/// A `Read` that hashes and counts every byte passing through it.
pub struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
    count: u64,
}

impl<R: Read> HashingReader<R> {
    pub fn new(inner: R) -> Self {
        HashingReader {
            inner,
            hasher: Sha256::new(),
            count: 0,
        }
    }

    /// Read what is left (so the digest covers the whole input) and return it.
    pub fn finish(mut self) -> std::io::Result<SourceDigest> {
        std::io::copy(&mut self, &mut std::io::sink())?;
        Ok(SourceDigest {
            size: self.count,
            sha256: self.hasher.finalize().into(),
        })
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
}

/// Buffered input for the hashing stream, with a UTF-8 BOM skipped and UTF-16 refused.
pub fn open_text(path: &Path) -> Result<BufReader<HashingReader<File>>> {
    let file = open_input(path)?;
    let mut reader = BufReader::with_capacity(256 * 1024, HashingReader::new(file));
    let head = reader
        .fill_buf()
        .with_context(|| format!("{}: cannot read", path.display()))?;
    check_not_utf16(head, path)?;
    if head.starts_with(b"\xEF\xBB\xBF") {
        reader.consume(3);
    }
    Ok(reader)
}

/// One line as read: without its `\n` / `\r\n`; `too_long` when it exceeded
/// [`MAX_LINE_LEN`] (the text then holds only the start).
pub struct Line<'a> {
    pub number: u64,
    pub text: &'a [u8],
    pub too_long: bool,
}

/// Line-by-line reading over the hashing stream, with bounded memory per line.
pub struct LineReader {
    inner: BufReader<HashingReader<File>>,
    buf: Vec<u8>,
    number: u64,
    display: String,
}

impl LineReader {
    pub fn open(path: &Path) -> Result<LineReader> {
        Ok(LineReader {
            inner: open_text(path)?,
            buf: Vec::with_capacity(4096),
            number: 0,
            display: path.display().to_string(),
        })
    }

    pub fn next_line(&mut self) -> Result<Option<Line<'_>>> {
        let read = read_line_bounded(&mut self.inner, &mut self.buf)
            .with_context(|| format!("{}:{}: read error", self.display, self.number + 1))?;
        let Some(too_long) = read else {
            return Ok(None);
        };
        self.number += 1;
        Ok(Some(Line {
            number: self.number,
            text: &self.buf,
            too_long,
        }))
    }

    pub fn finish(self) -> Result<SourceDigest> {
        let display = self.display;
        self.inner
            .into_inner()
            .finish()
            .with_context(|| format!("{display}: read error"))
    }
}

/// Read one line into `buf` without its `\n` or `\r\n`, keeping at most
/// [`MAX_LINE_LEN`] bytes of it (the rest of an overlong line is consumed and dropped).
/// `None` at end of input, else whether the line was too long.
pub fn read_line_bounded(
    reader: &mut impl BufRead,
    buf: &mut Vec<u8>,
) -> std::io::Result<Option<bool>> {
    buf.clear();
    let mut too_long = false;
    let mut saw_any = false;
    loop {
        let chunk = match reader.fill_buf() {
            Ok(c) => c,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if chunk.is_empty() {
            break;
        }
        saw_any = true;
        let (take, done) = match memchr::memchr(b'\n', chunk) {
            Some(i) => (i, true),
            None => (chunk.len(), false),
        };
        let room = MAX_LINE_LEN.saturating_sub(buf.len());
        too_long |= take > room;
        buf.extend_from_slice(&chunk[..take.min(room)]);
        reader.consume(if done { take + 1 } else { take });
        if done {
            break;
        }
    }
    if !saw_any {
        return Ok(None);
    }
    if buf.last() == Some(&b'\r') {
        buf.pop();
    }
    Ok(Some(too_long))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_skipped_line_quoted_past_200_bytes_is_cut_at_a_character_boundary() {
        // Found by the fuzz smoke test: a malformed line of non-ASCII text, skipped with
        // --skip-malformed, panicked when its quote was cut inside a UTF-8 character.
        let mut ctx = SourceCtx::new(Path::new("list.txt"), true);
        let reason = format!("not a digest: {:?}", format!("{}é", "x".repeat(184)));
        assert!(!reason.is_char_boundary(200));
        ctx.malformed(Location::Line(3), &reason).unwrap();
        assert_eq!(ctx.malformed_skipped, 1);
        assert!(ctx.malformed_examples[0].starts_with("line 3: not a digest: \"xxx"));
        assert!(ctx.malformed_examples[0].len() <= 200 + "line 3: ".len());
    }
}
