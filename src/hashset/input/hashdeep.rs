//! hashdeep files: a `%%%% HASHDEEP-1.0` line, a `%%%% size,md5,sha256,filename` line
//! naming the columns, `#` comments, then one line per file. The file name is the last
//! column and may itself contain commas, so a line is split into at most as many fields
//! as there are columns. Columns of algorithms we do not store (tiger, whirlpool) are
//! checked for shape and ignored. Several concatenated hashdeep files are fine: each
//! `%%%%` column line replaces the previous one.
//!
//! Must never read a data line without a column line to name its fields, or one with
//! fewer fields than columns, as a record (malformed, with its line number), and never
//! panic on any input bytes.

use std::path::Path;

use anyhow::Result;

use super::{Location, Record, RecordSink, SourceCtx, SourceDigest};
use crate::hashset::{Algorithm, hex};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Column {
    Size,
    Hash(Algorithm),
    /// A hash column of an algorithm we do not store.
    Other,
    FileName,
}

fn parse_columns(text: &[u8]) -> Result<Vec<Column>, String> {
    let text = String::from_utf8_lossy(text);
    let mut columns = Vec::new();
    for name in text.split(',').map(str::trim) {
        columns.push(match name.to_ascii_lowercase().as_str() {
            "size" => Column::Size,
            "filename" => Column::FileName,
            "tiger" | "whirlpool" | "sha3" | "sha3-256" => Column::Other,
            other => match Algorithm::parse(other) {
                Some(a) => Column::Hash(a),
                None => return Err(format!("unknown hashdeep column {other:?}")),
            },
        });
    }
    if columns.last() != Some(&Column::FileName)
        || columns.iter().filter(|c| **c == Column::FileName).count() != 1
    {
        return Err("hashdeep column line must end with `filename`".into());
    }
    Ok(columns)
}

fn parse_data(columns: &[Column], line: &[u8]) -> Result<Record<'static>, String> {
    let mut record = Record::default();
    let fields = line.splitn(columns.len(), |&b| b == b',');
    let mut seen = 0;
    for (column, field) in columns.iter().zip(fields) {
        seen += 1;
        let bad_hash = |a: &str| format!("{a} column is not a digest: {:?}", lossy(field));
        match column {
            Column::Size => {
                let ok = !field.is_empty() && field.iter().all(u8::is_ascii_digit);
                if !ok {
                    return Err(format!("size column is not a number: {:?}", lossy(field)));
                }
            }
            Column::Hash(Algorithm::Md5) => {
                record.md5 = Some(hex::decode(field).ok_or_else(|| bad_hash("md5"))?);
            }
            Column::Hash(Algorithm::Sha1) => {
                record.sha1 = Some(hex::decode(field).ok_or_else(|| bad_hash("sha1"))?);
            }
            Column::Hash(Algorithm::Sha256) => {
                record.sha256 = Some(hex::decode(field).ok_or_else(|| bad_hash("sha256"))?);
            }
            Column::Other => {
                if field.is_empty() || !field.iter().all(u8::is_ascii_hexdigit) {
                    return Err(format!("hash column is not hex: {:?}", lossy(field)));
                }
            }
            Column::FileName => {}
        }
    }
    if seen != columns.len() {
        return Err(format!(
            "{seen} comma-separated fields, the header names {}",
            columns.len()
        ));
    }
    Ok(record)
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(&bytes[..bytes.len().min(80)]).into_owned()
}

pub fn read(path: &Path, ctx: &mut SourceCtx, sink: &mut dyn RecordSink) -> Result<SourceDigest> {
    let mut lines = super::LineReader::open(path)?;
    let mut columns: Option<Vec<Column>> = None;
    let mut saw_signature = false;
    while let Some(line) = lines.next_line()? {
        let at = Location::Line(line.number);
        if line.too_long {
            ctx.malformed(at, "line longer than 1 MiB")?;
            continue;
        }
        let text = line.text;
        if let Some(header) = text.strip_prefix(b"%%%% ") {
            if header.starts_with(b"HASHDEEP-") {
                if !header.starts_with(b"HASHDEEP-1.") {
                    ctx.malformed(at, "unsupported hashdeep version")?;
                }
                saw_signature = true;
                columns = None;
            } else if !saw_signature {
                ctx.malformed(at, "column line before the `%%%% HASHDEEP-1.0` line")?;
            } else {
                match parse_columns(header) {
                    Ok(c) => columns = Some(c),
                    Err(reason) => {
                        // Without columns no data line can be read: always fatal.
                        anyhow::bail!("{}:{}: {reason}", ctx.display, line.number);
                    }
                }
            }
            continue;
        }
        if text.starts_with(b"#") || text.trim_ascii().is_empty() {
            continue;
        }
        let Some(columns) = &columns else {
            ctx.malformed(at, "data line before the `%%%%` column line")?;
            continue;
        };
        match parse_data(columns, text) {
            Ok(record) => ctx.emit(sink, &record)?,
            Err(reason) => ctx.malformed(at, reason)?,
        }
    }
    lines.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_may_contain_commas() {
        let cols = parse_columns(b"size,md5,sha256,filename").unwrap();
        let line = format!("5,{},{},/tmp/a,b,c", "0".repeat(32), "f".repeat(64));
        let rec = parse_data(&cols, line.as_bytes()).unwrap();
        assert_eq!(rec.md5, Some([0; 16]));
        assert_eq!(rec.sha256, Some([0xFF; 32]));
    }

    #[test]
    fn short_and_bad_lines_are_rejected() {
        let cols = parse_columns(b"size,md5,filename").unwrap();
        assert!(parse_data(&cols, b"5,abc").is_err());
        assert!(parse_data(&cols, format!("x,{},n", "0".repeat(32)).as_bytes()).is_err());
        assert!(parse_columns(b"size,md5").is_err());
        assert!(parse_columns(b"size,crc,filename").is_err());
    }
}
