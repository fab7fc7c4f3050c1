//! `md5sum`/`sha1sum`/`sha256sum` output and plain hash lists, line by line:
//! GNU lines (`HEX  name`, binary marker `HEX *name`, a leading `\` when the name was
//! escaped), BSD/`--tag` lines (`SHA256 (name) = HEX`), and bare `HEX` lines. The
//! algorithm comes from the tag or the digest length, so one file may mix algorithms.
//! Blank lines and `#` comments are ignored; anything else is malformed.
//!
//! Must never read a malformed line as a digest (it stops the build with its line number,
//! or is counted and skipped under `--skip-malformed`) and never panic on any input bytes.

use std::ops::Range;
use std::path::Path;

use anyhow::Result;

use super::{Location, Record, RecordSink, SourceCtx, SourceDigest};
use crate::hashset::{Algorithm, hex};

/// A parsed digest: its algorithm and bytes (the longest digest fits).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParsedDigest {
    pub algorithm: Algorithm,
    bytes: [u8; 32],
}

impl ParsedDigest {
    pub fn bytes(&self) -> &[u8] {
        &self.bytes[..self.algorithm.key_len()]
    }

    fn into_record(self) -> Record<'static> {
        let mut record = Record::default();
        match self.algorithm {
            Algorithm::Md5 => record.md5 = self.bytes[..16].try_into().ok(),
            Algorithm::Sha1 => record.sha1 = self.bytes[..20].try_into().ok(),
            Algorithm::Sha256 => record.sha256 = Some(self.bytes),
        }
        record
    }
}

fn decode(algorithm: Algorithm, hex_text: &[u8]) -> Option<ParsedDigest> {
    let mut bytes = [0u8; 32];
    hex::decode_into(hex_text, &mut bytes[..algorithm.key_len()])
        .then_some(ParsedDigest { algorithm, bytes })
}

/// Parse one line: `Ok(None)` for blank and comment lines, `Err(reason)` when malformed.
pub fn parse_line(line: &[u8]) -> Result<Option<ParsedDigest>, String> {
    let line = line.trim_ascii();
    if line.is_empty() || line.starts_with(b"#") {
        return Ok(None);
    }
    // GNU coreutils starts a line with `\` when it escaped `\`, newline or CR in the name.
    let line = line.strip_prefix(b"\\").unwrap_or(line);
    if let Some(tagged) = parse_tagged(line) {
        return tagged.map(Some);
    }
    let token_end = line
        .iter()
        .position(|b| b.is_ascii_whitespace())
        .unwrap_or(line.len());
    let token = &line[..token_end];
    let Some(algorithm) = Algorithm::from_hex_len(token.len()) else {
        return Err(format!(
            "expected a hex digest (32, 40 or 64 digits) at the start of the line, found {:?}",
            preview(token)
        ));
    };
    decode(algorithm, token)
        .map(Some)
        .ok_or_else(|| format!("{algorithm} digest {:?} is not hex", preview(token)))
}

/// Parse a query line (`fieldkit hashset lookup --stdin`): the digest, and where in
/// `line` the name that follows it in GNU (`HEX  name`, `HEX *name`) or BSD
/// (`ALG (name) = HEX`) style is (as written, escapes kept; empty for a bare digest).
pub fn parse_query(line: &[u8]) -> Result<Option<(ParsedDigest, Range<usize>)>, String> {
    let Some(digest) = parse_line(line)? else {
        return Ok(None);
    };
    let start = line.len() - line.trim_ascii_start().len();
    let text = line.trim_ascii();
    let (skip, text) = match text.strip_prefix(b"\\") {
        Some(rest) => (1, rest),
        None => (0, text),
    };
    let base = start + skip;
    let name = match (parse_tagged(text), text.windows(2).position(|w| w == b" (")) {
        (Some(_), Some(open)) => {
            let close = text
                .windows(4)
                .rposition(|w| w == b") = ")
                .unwrap_or(text.len());
            (open + 2).min(close)..close
        }
        _ => {
            let token_end = text
                .iter()
                .position(|b| b.is_ascii_whitespace())
                .unwrap_or(text.len());
            let mut from = (token_end + 1).min(text.len());
            if matches!(text.get(from), Some(b'*' | b' ')) {
                from += 1;
            }
            from..text.len()
        }
    };
    Ok(Some((digest, base + name.start..base + name.end)))
}

/// BSD style `ALG (name) = HEX`; `None` when the line is not in that style at all.
fn parse_tagged(line: &[u8]) -> Option<Result<ParsedDigest, String>> {
    let open = line.windows(2).position(|w| w == b" (")?;
    let tag = &line[..open];
    // Tags are short names (MD5, SHA256, BLAKE2b, SHA3-256); a hex digest is never this short.
    if tag.is_empty()
        || tag.len() > 16
        || !tag[0].is_ascii_alphabetic()
        || !tag.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'-')
    {
        return None;
    }
    let tag_text = String::from_utf8_lossy(tag);
    let Some(algorithm) = Algorithm::parse(&tag_text).filter(|_| !tag.contains(&b'-')) else {
        return Some(Err(format!(
            "{tag_text} digests are not supported (MD5, SHA1 and SHA256 are)"
        )));
    };
    let sep = line.windows(4).rposition(|w| w == b") = ");
    let Some(sep) = sep.filter(|&s| s >= open) else {
        return Some(Err(format!(
            "{tag_text} line without `) = ` before the digest"
        )));
    };
    let hex_text = line[sep + 4..].trim_ascii();
    Some(decode(algorithm, hex_text).ok_or_else(|| {
        format!(
            "{tag_text} line: {:?} is not a {algorithm} digest",
            preview(hex_text)
        )
    }))
}

fn preview(bytes: &[u8]) -> String {
    let mut s = String::from_utf8_lossy(&bytes[..bytes.len().min(80)]).into_owned();
    if bytes.len() > 80 {
        s.push('…');
    }
    s
}

pub fn read(path: &Path, ctx: &mut SourceCtx, sink: &mut dyn RecordSink) -> Result<SourceDigest> {
    let mut lines = super::LineReader::open(path)?;
    while let Some(line) = lines.next_line()? {
        let at = Location::Line(line.number);
        if line.too_long {
            ctx.malformed(at, "line longer than 1 MiB")?;
            continue;
        }
        match parse_line(line.text) {
            Ok(Some(digest)) => ctx.emit(sink, &digest.into_record())?,
            Ok(None) => {}
            Err(reason) => ctx.malformed(at, reason)?,
        }
    }
    lines.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MD5: &str = "d41d8cd98f00b204e9800998ecf8427e";
    const SHA256: &str = "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855";

    fn alg(line: &str) -> Result<Option<Algorithm>, String> {
        parse_line(line.as_bytes()).map(|d| d.map(|d| d.algorithm))
    }

    #[test]
    fn accepts_every_sum_style() {
        assert_eq!(alg(&format!("{MD5}  a file")), Ok(Some(Algorithm::Md5)));
        assert_eq!(alg(&format!("{MD5} *bin.exe")), Ok(Some(Algorithm::Md5)));
        assert_eq!(alg(&format!("\\{MD5}  a\\nb")), Ok(Some(Algorithm::Md5)));
        assert_eq!(
            alg(&format!("SHA256 (x (1).txt) = {SHA256}")),
            Ok(Some(Algorithm::Sha256))
        );
        assert_eq!(
            alg(&format!("\\SHA256 (a\\\\b) = {SHA256}")),
            Ok(Some(Algorithm::Sha256))
        );
        assert_eq!(alg(&format!("  {SHA256}\t")), Ok(Some(Algorithm::Sha256)));
        assert_eq!(
            alg(&format!("{MD5}  name (1).txt")),
            Ok(Some(Algorithm::Md5))
        );
        assert_eq!(alg("# comment"), Ok(None));
        assert_eq!(alg("   "), Ok(None));
    }

    #[test]
    fn query_lines_keep_the_name() {
        let name = |line: String| {
            let range = parse_query(line.as_bytes()).unwrap().unwrap().1;
            line[range].to_string()
        };
        assert_eq!(name(format!("{MD5}  a b.txt")), "a b.txt");
        assert_eq!(name(format!("{MD5} *bin.exe")), "bin.exe");
        assert_eq!(name(format!("SHA256 (x (1).txt) = {SHA256}")), "x (1).txt");
        assert_eq!(name(MD5.to_string()), "");
        assert_eq!(name(format!("  \\{MD5}  a\\nb\r\n")), "a\\nb");
    }

    #[test]
    fn rejects_what_is_not_a_digest() {
        assert!(alg("hello world").is_err());
        assert!(alg(&format!("{MD5}0  x")).is_err());
        assert!(alg(&format!("SHA512 (x) = {SHA256}")).is_err());
        assert!(alg(&format!("SHA3-256 (x) = {SHA256}")).is_err());
        assert!(alg(&format!("MD5 (x) = {SHA256}")).is_err());
        assert!(alg(&format!("{}g", &MD5[..31])).is_err());
    }
}
