//! NSRL RDS v3: an SQLite database whose table (or view) `FILE` has the columns `sha256`,
//! `sha1`, `md5` (uppercase hex), `crc32`, `file_name`, `file_size`, `package_id`.
//!
//! Read with SQLite itself (compiled in), opened read-only and `immutable=1` so it never
//! creates a journal, WAL or lock file next to the database; rows are stepped one at a
//! time. The database file is hashed on a second thread while SQLite reads it, and its
//! size and modification time must be unchanged at the end.

use std::io::Read;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, Result, bail};
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};

use super::{HashingReader, Location, Record, RecordSink, SourceCtx, SourceDigest};
use crate::hashset::{Algorithm, hex};

pub fn read(path: &Path, ctx: &mut SourceCtx, sink: &mut dyn RecordSink) -> Result<SourceDigest> {
    let file = super::open_input(path)?;
    let stamp = |f: &std::fs::File| f.metadata().map(|m| (m.len(), m.modified().ok()));
    let before = stamp(&file).with_context(|| format!("{}: cannot stat", ctx.display))?;
    let check = file
        .try_clone()
        .with_context(|| format!("{}: cannot reopen", ctx.display))?;
    let stop = Arc::new(AtomicBool::new(false));
    let reader = Stoppable {
        file,
        stop: Arc::clone(&stop),
    };
    let hashing = std::thread::spawn(move || HashingReader::new(reader).finish());

    let result = read_rows(path, ctx, sink);
    if result.is_err() {
        // The digest is useless now: do not wait for the rest of a many-GB file.
        stop.store(true, Ordering::Relaxed);
    }
    let digest = hashing
        .join()
        .map_err(|_| anyhow::anyhow!("{}: hashing thread failed", ctx.display))?
        .with_context(|| format!("{}: read error", ctx.display))?;
    result?;
    let after = stamp(&check).with_context(|| format!("{}: cannot stat", ctx.display))?;
    if after != before || digest.size != before.0 {
        bail!(
            "{}: the database changed while it was being read; build again from a stable copy",
            ctx.display
        );
    }
    Ok(digest)
}

/// The database file as read by the hashing thread, which can be told to stop early.
struct Stoppable {
    file: std::fs::File,
    stop: Arc<AtomicBool>,
}

impl Read for Stoppable {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.stop.load(Ordering::Relaxed) {
            return Ok(0);
        }
        self.file.read(buf)
    }
}

fn read_rows(path: &Path, ctx: &mut SourceCtx, sink: &mut dyn RecordSink) -> Result<()> {
    let sqlite_err = |what: &str| format!("{}: {what}", ctx.display);
    let conn = Connection::open_with_flags(
        sqlite_uri(path)?,
        OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_URI
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .with_context(|| sqlite_err("cannot open as an SQLite database"))?;
    let columns: Vec<String> = {
        let mut stmt = conn
            .prepare("SELECT lower(name) FROM pragma_table_info('FILE')")
            .with_context(|| sqlite_err("cannot read the schema"))?;
        let names = stmt
            .query_map([], |row| row.get::<_, String>(0))
            .with_context(|| sqlite_err("cannot read the schema"))?;
        names
            .collect::<rusqlite::Result<_>>()
            .with_context(|| sqlite_err("cannot read the schema"))?
    };
    let has = |name: &str| columns.iter().any(|c| c == name);
    let wanted = [Algorithm::Sha256, Algorithm::Sha1, Algorithm::Md5];
    if !wanted.iter().any(|a| has(a.name())) {
        bail!(
            "{}: not an NSRL RDS v3 database: no table or view FILE with sha256, sha1 or md5 columns",
            ctx.display
        );
    }
    ctx.description = version_description(&conn);
    let select: Vec<&str> = wanted
        .iter()
        .map(|a| if has(a.name()) { a.name() } else { "NULL" })
        .collect();
    let sql = format!("SELECT {} FROM FILE", select.join(", "));
    let mut stmt = conn
        .prepare(&sql)
        .with_context(|| sqlite_err("cannot query table FILE"))?;
    let mut rows = stmt
        .query([])
        .with_context(|| sqlite_err("cannot query table FILE"))?;
    let mut number = 0u64;
    while let Some(row) = rows
        .next()
        .with_context(|| format!("{}: row {}: SQLite error", ctx.display, number + 1))?
    {
        number += 1;
        let mut record = Record::default();
        let mut bad = None;
        for (i, algorithm) in wanted.iter().enumerate() {
            let value = row
                .get_ref(i)
                .with_context(|| format!("{}: row {number}: SQLite error", ctx.display))?;
            let text = match value {
                ValueRef::Null => continue,
                ValueRef::Text(b"") => continue,
                ValueRef::Text(t) => t,
                _ => {
                    bad = Some(format!("{algorithm} column is not text"));
                    continue;
                }
            };
            let ok = match algorithm {
                Algorithm::Sha256 => hex::decode(text).map(|k| record.sha256 = Some(k)),
                Algorithm::Sha1 => hex::decode(text).map(|k| record.sha1 = Some(k)),
                Algorithm::Md5 => hex::decode(text).map(|k| record.md5 = Some(k)),
            };
            if ok.is_none() {
                let shown = String::from_utf8_lossy(&text[..text.len().min(80)]).into_owned();
                bad = Some(format!("{algorithm} {shown:?} is not a digest"));
            }
        }
        match bad {
            Some(reason) => ctx.malformed(Location::Row(number), reason)?,
            None => ctx.emit(sink, &record)?,
        }
    }
    Ok(())
}

/// What the RDS says about itself (its `VERSION` table), when it has one.
fn version_description(conn: &Connection) -> Option<String> {
    // Column names from the schema as bytes (rusqlite's column_name panics on a name that
    // is not UTF-8, which a damaged database can hold), in `SELECT *` order.
    let names: Vec<String> = {
        let mut info = conn
            .prepare("SELECT name FROM pragma_table_info('VERSION') ORDER BY cid")
            .ok()?;
        let mut rows = info.query([]).ok()?;
        let mut names = Vec::new();
        while let Ok(Some(row)) = rows.next() {
            names.push(match row.get_ref(0) {
                Ok(ValueRef::Text(t)) => String::from_utf8_lossy(t).into_owned(),
                _ => format!("column {}", names.len() + 1),
            });
        }
        names
    };
    let mut stmt = conn.prepare("SELECT * FROM VERSION LIMIT 4").ok()?;
    let mut rows = stmt.query([]).ok()?;
    let mut parts = Vec::new();
    while let Ok(Some(row)) = rows.next() {
        for (i, name) in names.iter().enumerate() {
            let value = match row.get_ref(i) {
                Ok(ValueRef::Text(t)) => String::from_utf8_lossy(t).into_owned(),
                Ok(ValueRef::Integer(n)) => n.to_string(),
                Ok(ValueRef::Real(x)) => x.to_string(),
                _ => continue,
            };
            parts.push(format!("{name}={value}"));
        }
    }
    let mut text = parts.join("; ");
    if text.is_empty() {
        return None;
    }
    if text.len() > 1000 {
        let mut cut = 1000;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
    }
    Some(format!("NSRL VERSION: {text}"))
}

/// `file:` URI for a read-only, immutable open, with every byte outside the unreserved
/// set percent-encoded (so `?`, `#` and `%` in paths cannot be taken as URI syntax).
fn sqlite_uri(path: &Path) -> Result<String> {
    let absolute = std::path::absolute(path)
        .with_context(|| format!("{}: cannot resolve path", path.display()))?;
    #[cfg(unix)]
    let bytes = {
        use std::os::unix::ffi::OsStrExt;
        absolute.as_os_str().as_bytes().to_vec()
    };
    #[cfg(not(unix))]
    let bytes = {
        let text = absolute.to_string_lossy().replace('\\', "/");
        if text.starts_with('/') {
            text.into_bytes()
        } else {
            format!("/{text}").into_bytes()
        }
    };
    let mut uri = String::from("file:");
    for b in bytes {
        if b.is_ascii_alphanumeric() || matches!(b, b'/' | b'.' | b'_' | b'-' | b'~' | b':') {
            uri.push(b as char);
        } else {
            uri.push_str(&format!("%{b:02X}"));
        }
    }
    uri.push_str("?mode=ro&immutable=1");
    Ok(uri)
}
