//! NSRL RDS 2.x `NSRLFile.txt`: quoted CSV with the header
//! `"SHA-1","MD5","CRC32","FileName","FileSize","ProductCode","OpSystemCode","SpecialCode"`.
//! Each line is one record (NSRL file names hold commas and doubled quotes, never line
//! breaks), split by `csv-core` line by line so that a stray quote damages one line, not
//! the rest of the file, and memory stays bounded. The hash columns are found by name.

use std::path::Path;

use anyhow::{Result, bail};

use super::{Location, Record, RecordSink, SourceCtx, SourceDigest};
use crate::hashset::hex;

/// Splits one line into fields, reusing its buffers.
struct LineSplitter {
    reader: csv_core::Reader,
    output: Vec<u8>,
    ends: Vec<usize>,
}

impl LineSplitter {
    fn new() -> Self {
        LineSplitter {
            reader: csv_core::Reader::new(),
            output: Vec::new(),
            ends: vec![0; 64],
        }
    }

    /// The fields of `line`, or `None` when it has more than 64.
    fn split<'s>(&'s mut self, line: &[u8]) -> Option<Vec<&'s [u8]>> {
        self.reader.reset();
        // Unquoting never makes a field longer.
        self.output.resize(line.len().max(1), 0);
        let (mut input, mut out_at, mut end_at) = (line, 0, 0);
        loop {
            let (result, nin, nout, nend) = self.reader.read_record(
                input,
                &mut self.output[out_at..],
                &mut self.ends[end_at..],
            );
            input = &input[nin..];
            out_at += nout;
            end_at += nend;
            match result {
                // The line is consumed; the next call, with no input, ends the record.
                csv_core::ReadRecordResult::InputEmpty => {}
                csv_core::ReadRecordResult::Record | csv_core::ReadRecordResult::End => break,
                csv_core::ReadRecordResult::OutputFull
                | csv_core::ReadRecordResult::OutputEndsFull => return None,
            }
        }
        let mut fields = Vec::with_capacity(end_at);
        let mut start = 0;
        for &end in &self.ends[..end_at] {
            fields.push(&self.output[start..end]);
            start = end;
        }
        Some(fields)
    }
}

pub fn read(path: &Path, ctx: &mut SourceCtx, sink: &mut dyn RecordSink) -> Result<SourceDigest> {
    let mut lines = super::LineReader::open(path)?;
    let mut splitter = LineSplitter::new();
    let Some(header) = lines.next_line()? else {
        bail!(
            "{}: empty file, not an NSRL RDS 2.x NSRLFile.txt",
            ctx.display
        );
    };
    let columns = splitter.split(header.text).unwrap_or_default();
    let column = |name: &[u8]| columns.iter().position(|h| h.trim_ascii() == name);
    let (sha1_col, md5_col, width) = (column(b"SHA-1"), column(b"MD5"), columns.len());
    if sha1_col.is_none() && md5_col.is_none() {
        bail!(
            "{}:1: not an NSRL RDS 2.x file: the header has neither a \"SHA-1\" nor an \"MD5\" column",
            ctx.display
        );
    }
    while let Some(line) = lines.next_line()? {
        let at = Location::Line(line.number);
        if line.too_long {
            ctx.malformed(at, "line longer than 1 MiB")?;
            continue;
        }
        if line.text.trim_ascii().is_empty() {
            continue;
        }
        let Some(fields) = splitter.split(line.text) else {
            ctx.malformed(at, "more than 64 fields")?;
            continue;
        };
        if fields.len() != width {
            let n = fields.len();
            ctx.malformed(at, format!("{n} fields where the header has {width}"))?;
            continue;
        }
        let mut record = Record::default();
        let mut bad = None;
        if let Some(field) = sha1_col.map(|c| fields[c]).filter(|f| !f.is_empty()) {
            record.sha1 = hex::decode(field);
            if record.sha1.is_none() {
                bad = Some(format!(
                    "SHA-1 {:?} is not a digest",
                    String::from_utf8_lossy(field)
                ));
            }
        }
        if let Some(field) = md5_col.map(|c| fields[c]).filter(|f| !f.is_empty()) {
            record.md5 = hex::decode(field);
            if record.md5.is_none() {
                bad = Some(format!(
                    "MD5 {:?} is not a digest",
                    String::from_utf8_lossy(field)
                ));
            }
        }
        match bad {
            Some(reason) => ctx.malformed(at, reason)?,
            None => ctx.emit(sink, &record)?,
        }
    }
    lines.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_quoted_fields_with_commas_and_doubled_quotes() {
        let mut s = LineSplitter::new();
        let fields = s.split(br#""AB","a, ""b""",12,"""#).unwrap();
        assert_eq!(fields, vec![&b"AB"[..], b"a, \"b\"", b"12", b""]);
        let fields = s.split(br#""unterminated,1"#).unwrap();
        assert_eq!(fields.len(), 1);
    }
}
