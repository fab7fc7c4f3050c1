//! `fieldkit index query`: the lab's daily questions over a case index, as rows with
//! named columns, printed as aligned text, JSON (array of objects) or CSV (RFC 4180).
//! Must never write to the database (it is opened read-only).

use std::path::Path;

use rusqlite::{Connection, OpenFlags, types::Value};

pub enum Question {
    /// Where does a file with this SHA-256 (or MD5/SHA-1: 32/40 hex digits) appear?
    Hash(String),
    /// Files (by SHA-256) present in two or more exhibits.
    Shared,
    /// Findings of at least this severity across the case.
    Findings(i64),
}

pub struct Rows {
    pub columns: Vec<&'static str>,
    pub rows: Vec<Vec<Value>>,
}

pub fn ask(db: &Path, q: &Question) -> anyhow::Result<Rows> {
    let conn = Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| anyhow::anyhow!("{}: cannot open the index: {e}", db.display()))?;
    let (columns, sql, arg): (Vec<&'static str>, &str, Option<Value>) = match q {
        // One column, chosen by the digest's length, so that its index answers (an OR
        // over the three columns was a scan of every row: seconds on 10 M records).
        Question::Hash(h) => (
            vec!["exhibit", "path", "size", "status", "sha256", "bundle"],
            match h.len() {
                32 => {
                    "SELECT f.exhibit, f.path, f.size, f.status, f.sha256, b.path FROM files f JOIN bundles b ON b.id = f.bundle
                     WHERE f.md5 = ?1 ORDER BY f.exhibit, f.path"
                }
                40 => {
                    "SELECT f.exhibit, f.path, f.size, f.status, f.sha256, b.path FROM files f JOIN bundles b ON b.id = f.bundle
                     WHERE f.sha1 = ?1 ORDER BY f.exhibit, f.path"
                }
                _ => {
                    "SELECT f.exhibit, f.path, f.size, f.status, f.sha256, b.path FROM files f JOIN bundles b ON b.id = f.bundle
                     WHERE f.sha256 = ?1 ORDER BY f.exhibit, f.path"
                }
            },
            Some(Value::Text(h.to_ascii_lowercase())),
        ),
        Question::Shared => (
            vec!["sha256", "exhibits", "files", "size", "exhibit_list"],
            // One pass over the covering index files(sha256, exhibit, size), grouped in
            // its order: no per-hash subquery (was: a table lookup per row) and no
            // temporary B-tree of (sha256, exhibit) groups.
            "SELECT sha256, COUNT(DISTINCT exhibit) AS n, COUNT(*), MAX(size),
                    group_concat(DISTINCT exhibit ORDER BY exhibit)
             FROM files WHERE sha256 IS NOT NULL GROUP BY sha256 HAVING n >= 2
             ORDER BY n DESC, sha256",
            None,
        ),
        Question::Findings(rank) => (
            vec!["exhibit", "severity", "analyzer", "kind", "path", "title", "id"],
            "SELECT exhibit, severity, analyzer, kind, path, title, id FROM findings WHERE rank >= ?1
             ORDER BY rank DESC, exhibit, id",
            Some(Value::Integer(*rank)),
        ),
    };
    let mut stmt = conn
        .prepare(sql)
        .map_err(|e| anyhow::anyhow!("{}: not a fieldkit index ({e})", db.display()))?;
    let n = columns.len();
    let map = |r: &rusqlite::Row<'_>| {
        (0..n)
            .map(|i| r.get::<_, Value>(i))
            .collect::<Result<Vec<_>, _>>()
    };
    let rows = match arg {
        Some(a) => stmt.query_map([a], map)?.collect::<Result<Vec<_>, _>>()?,
        None => stmt.query_map([], map)?.collect::<Result<Vec<_>, _>>()?,
    };
    Ok(Rows { columns, rows })
}

fn text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::Integer(i) => i.to_string(),
        Value::Real(f) => f.to_string(),
        Value::Text(s) => s.clone(),
        Value::Blob(b) => crate::hashing::hex(b),
    }
}

fn json(v: &Value) -> serde_json::Value {
    match v {
        Value::Null => serde_json::Value::Null,
        Value::Integer(i) => (*i).into(),
        Value::Real(f) => serde_json::json!(f),
        _ => text(v).into(),
    }
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

impl Rows {
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::Value::Array(
            self.rows
                .iter()
                .map(|r| {
                    serde_json::Value::Object(
                        self.columns
                            .iter()
                            .zip(r)
                            .map(|(c, v)| (c.to_string(), json(v)))
                            .collect(),
                    )
                })
                .collect(),
        )
    }

    pub fn write_csv(&self, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        write!(out, "{}\r\n", self.columns.join(","))?;
        for r in &self.rows {
            let f: Vec<String> = r.iter().map(|v| csv_field(&text(v))).collect();
            write!(out, "{}\r\n", f.join(","))?;
        }
        Ok(())
    }

    pub fn write_text(&self, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        let cells: Vec<Vec<String>> = self
            .rows
            .iter()
            .map(|r| {
                r.iter()
                    .map(|v| text(v).replace(['\n', '\r', '\t'], " "))
                    .collect()
            })
            .collect();
        let mut w: Vec<usize> = self.columns.iter().map(|c| c.len()).collect();
        for r in &cells {
            for (i, c) in r.iter().enumerate() {
                w[i] = w[i].max(c.chars().count()).min(80);
            }
        }
        let line = |cols: Vec<String>| -> String {
            cols.iter()
                .enumerate()
                .map(|(i, c)| format!("{c:<width$}", width = w[i]))
                .collect::<Vec<_>>()
                .join("  ")
                .trim_end()
                .to_string()
        };
        writeln!(
            out,
            "{}",
            line(self.columns.iter().map(|c| c.to_uppercase()).collect())
        )?;
        for r in cells {
            writeln!(out, "{}", line(r))?;
        }
        writeln!(out, "({} row(s))", self.rows.len())
    }
}
