//! `fieldkit index`: one SQLite database per case across many bundles (docs/lab.md,
//! "Case index"). Owns the schema (`SCHEMA`), building it (`build`) and the lab's daily
//! questions (`query`).
//!
//! Every bundle is re-verified (the full `verify`, sidecars included) before a single
//! record of it is read; one that does not verify is recorded in `bundles` with its
//! verdict and no content (refused), or, with `--allow-invalid`, indexed and marked. The
//! database is written to `OUT.part` and renamed into place only when complete.
//! Must never modify a bundle, and never index content it has not verified unless told.

pub mod query;

use std::borrow::Cow;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow};
use rusqlite::{Connection, params};

use crate::bundle::verify::{self, Trust, Verdict};

pub const SCHEMA_VERSION: i64 = 1;

/// The documented schema (docs/lab.md).
pub const SCHEMA: &str = "
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE bundles(
  id INTEGER PRIMARY KEY,
  path TEXT NOT NULL,          -- as given (or found under a given folder)
  sha256 TEXT,                 -- of the whole bundle file
  bundle_id TEXT,
  case_number TEXT,
  exhibit TEXT NOT NULL,       -- manifest case.exhibit, else the file name
  examiner TEXT,
  status TEXT,                 -- manifest: complete | incomplete
  verdict TEXT NOT NULL,       -- valid | valid_incomplete | invalid | not_finalized | unusable | wrong_key
  verify_exit INTEGER NOT NULL,-- fieldkit verify's exit code for it
  problems INTEGER NOT NULL,
  indexed INTEGER NOT NULL,    -- 1: its records are in files/findings; 0: refused
  records INTEGER NOT NULL,    -- files rows from it
  findings INTEGER NOT NULL,   -- findings rows from it
  indexed_at TEXT NOT NULL
);
CREATE TABLE files(
  bundle INTEGER NOT NULL REFERENCES bundles(id),
  exhibit TEXT NOT NULL,
  path TEXT,                   -- original path; 'base64:…' when not UTF-8
  member TEXT,
  status TEXT,                 -- collected | duplicate | known_good | skipped | error | …
  size INTEGER,
  sha256 TEXT, md5 TEXT, sha1 TEXT,
  mtime TEXT, atime TEXT, ctime TEXT, btime TEXT
);
CREATE TABLE findings(
  bundle INTEGER NOT NULL REFERENCES bundles(id),
  exhibit TEXT NOT NULL,
  id TEXT, analyzer TEXT, kind TEXT,
  severity TEXT,               -- info | low | medium | high | critical
  rank INTEGER,                -- 0 info … 4 critical
  path TEXT, sha256 TEXT, title TEXT
);
";

/// Built after the load (one sort each instead of a B-tree update per row).
/// `files_sha256` covers `exhibit` and `size`: `query --shared` reads the index alone,
/// never the 10 M-row table. MD5 and SHA-1 (only when collected with them) get partial
/// indexes, empty otherwise. `ANALYZE` gives the planner the row counts.
const INDEXES: &str = "
CREATE INDEX files_sha256 ON files(sha256, exhibit, size);
CREATE INDEX files_md5 ON files(md5) WHERE md5 IS NOT NULL;
CREATE INDEX files_sha1 ON files(sha1) WHERE sha1 IS NOT NULL;
CREATE INDEX files_exhibit ON files(exhibit);
CREATE INDEX findings_rank ON findings(rank);
ANALYZE;
";

pub fn severity_rank(s: &str) -> Option<i64> {
    Some(match s {
        "info" => 0,
        "low" => 1,
        "medium" => 2,
        "high" => 3,
        "critical" => 4,
        _ => return None,
    })
}

/// Bundles named by the arguments: files as given, folders searched recursively for
/// `*.zip` / `*.zip.age` (skipping `aside-*` folders of batch leftovers), sorted.
pub fn find_bundles(inputs: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in inputs {
        let meta = std::fs::metadata(p).with_context(|| format!("{}: cannot read", p.display()))?;
        if !meta.is_dir() {
            out.push(p.clone());
            continue;
        }
        let mut found = Vec::new();
        let walk = walkdir::WalkDir::new(p)
            .follow_links(false)
            .into_iter()
            .filter_entry(|e| {
                !(e.file_type().is_dir() && e.file_name().to_string_lossy().starts_with("aside-"))
            });
        for e in walk {
            let e = e.map_err(|e| anyhow!("{}: {e}", p.display()))?;
            let name = e.file_name().to_string_lossy();
            if e.file_type().is_file() && (name.ends_with(".zip") || name.ends_with(".zip.age")) {
                found.push(e.path().to_path_buf());
            }
        }
        found.sort();
        out.extend(found);
    }
    Ok(out)
}

#[derive(Debug, serde::Serialize)]
pub struct Indexed {
    pub path: PathBuf,
    pub exhibit: String,
    pub verdict: String,
    pub indexed: bool,
    pub records: u64,
    pub findings: u64,
}

fn verdict_name(v: Verdict) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// One files.jsonl record, borrowed from the line where it has no escapes (the fast
/// path); a line this does not fit (a field of another type, a duplicate key) is read
/// again as a generic JSON value, as before.
#[derive(serde::Deserialize)]
struct FileLine<'a> {
    #[serde(borrow)]
    path: Option<Cow<'a, str>>,
    #[serde(borrow)]
    path_b64: Option<Cow<'a, str>>,
    #[serde(borrow)]
    member: Option<Cow<'a, str>>,
    #[serde(borrow)]
    status: Option<Cow<'a, str>>,
    size: Option<i64>,
    #[serde(borrow)]
    sha256: Option<Cow<'a, str>>,
    #[serde(borrow)]
    md5: Option<Cow<'a, str>>,
    #[serde(borrow)]
    sha1: Option<Cow<'a, str>>,
    #[serde(borrow)]
    mtime: Option<Cow<'a, str>>,
    #[serde(borrow)]
    atime: Option<Cow<'a, str>>,
    #[serde(borrow)]
    ctime: Option<Cow<'a, str>>,
    #[serde(borrow)]
    btime: Option<Cow<'a, str>>,
}

impl<'a> FileLine<'a> {
    fn parse(line: &'a str) -> Option<FileLine<'a>> {
        if let Ok(r) = serde_json::from_str::<FileLine<'a>>(line) {
            return Some(r);
        }
        let v = serde_json::from_str::<serde_json::Value>(line).ok()?;
        let s = |k: &str| v[k].as_str().map(|s| Cow::Owned(s.to_string()));
        Some(FileLine {
            path: s("path"),
            path_b64: s("path_b64"),
            member: s("member"),
            status: s("status"),
            size: v["size"].as_i64(),
            sha256: s("sha256"),
            md5: s("md5"),
            sha1: s("sha1"),
            mtime: s("mtime"),
            atime: s("atime"),
            ctime: s("ctime"),
            btime: s("btime"),
        })
    }
}

/// Build the index at `out` (refusing an existing file). Returns one row per bundle.
///
/// Bundles are verified one ahead of the one being loaded (a second thread), so the
/// hashing of the next bundle overlaps the SQLite inserts of this one; records are
/// still read only from a bundle whose verdict is known. The load runs into a `.part`
/// file with no journal and no fsync until the end (it is renamed only when complete,
/// so a crash leaves nothing that looks finished), one transaction per bundle, one
/// prepared statement, and the indexes are built after the load.
pub fn build(
    bundles: &[PathBuf],
    out: &Path,
    allow_invalid: bool,
    identities: &[crate::bundle::age::Identity],
    progress: &dyn Fn(&Indexed),
) -> anyhow::Result<Vec<Indexed>> {
    if out.exists() {
        anyhow::bail!("{}: already exists; index into a new file", out.display());
    }
    let part = PathBuf::from(format!("{}.part", out.display()));
    let _ = std::fs::remove_file(&part);
    let mut db =
        Connection::open(&part).with_context(|| format!("{}: cannot create", part.display()))?;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    db.execute_batch(&format!(
        "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA locking_mode=EXCLUSIVE;
         PRAGMA cache_size=-{CACHE_KIB}; PRAGMA threads={threads};"
    ))?;
    db.execute_batch(SCHEMA)?;
    db.execute(
        "INSERT INTO meta VALUES ('schema_version', ?1), ('tool', ?2), ('created', ?3)",
        params![
            SCHEMA_VERSION.to_string(),
            format!("fieldkit {}", env!("CARGO_PKG_VERSION")),
            crate::timefmt::now_utc()
        ],
    )?;
    let opts = verify::Options {
        trust: Trust::SelfAttested,
        check_sidecars: true,
    };
    let mut rows = Vec::new();
    std::thread::scope(|scope| -> anyhow::Result<()> {
        // Rendezvous: at most one bundle verified ahead of the one being loaded.
        let (tx, rx) = std::sync::mpsc::sync_channel::<verify::Report>(0);
        let opts = &opts;
        scope.spawn(move || {
            for b in bundles {
                if tx.send(verify::verify_with(b, opts, identities)).is_err() {
                    break; // the loader failed and stopped listening
                }
            }
        });
        for (b, rep) in bundles.iter().zip(rx.iter()) {
            let row = load_one(&mut db, b, &rep, allow_invalid, identities)?;
            progress(&row);
            rows.push(row);
        }
        Ok(())
    })?;
    db.execute_batch(INDEXES)?;
    drop(db);
    let f = std::fs::File::open(&part)?;
    f.sync_all()?;
    std::fs::rename(&part, out)
        .with_context(|| format!("{}: cannot rename into place", out.display()))?;
    Ok(rows)
}

/// SQLite page cache of the build (KiB): the sorts of the index builds at the end stay
/// in memory up to this, a fixed bound whatever the number of bundles.
const CACHE_KIB: u32 = 64 * 1024;

/// One bundle, verified already (`rep`): its `bundles` row, and its records when it
/// verified (or `allow_invalid`), in one transaction.
fn load_one(
    db: &mut Connection,
    b: &Path,
    rep: &verify::Report,
    allow_invalid: bool,
    identities: &[crate::bundle::age::Identity],
) -> anyhow::Result<Indexed> {
    let ok = rep.verdict == Verdict::Valid || rep.verdict == Verdict::ValidIncomplete;
    let index_it = ok || allow_invalid;
    let exhibit = rep
        .case
        .as_ref()
        .and_then(|c| c.exhibit.clone())
        .unwrap_or_else(|| {
            b.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        });
    let tx = db.transaction()?;
    tx.execute(
        "INSERT INTO bundles(path, sha256, bundle_id, case_number, exhibit, examiner, status, verdict, verify_exit, problems, indexed, records, findings, indexed_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 0, 0, 0, ?11)",
        params![
            b.display().to_string(),
            rep.sha256,
            rep.bundle_id,
            rep.case.as_ref().and_then(|c| c.case_number.clone()),
            exhibit,
            rep.case.as_ref().and_then(|c| c.examiner.clone()),
            rep.status,
            verdict_name(rep.verdict),
            i64::from(rep.verdict.exit_code()),
            rep.problems.len() as i64,
            crate::timefmt::now_utc(),
        ],
    )?;
    let id = tx.last_insert_rowid();
    let (mut nrec, mut nfind) = (0u64, 0u64);
    if index_it {
        let mut zip = crate::commands::report::open_archive(b, identities)?;
        {
            let mut ins = tx.prepare(
                "INSERT INTO files VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
            )?;
            let member = zip
                .by_name(crate::bundle::FILES_JSONL)
                .map_err(|e| anyhow!("{}: no files.jsonl: {e}", b.display()))?;
            let mut reader = BufReader::with_capacity(1 << 16, member);
            let mut line = String::new();
            for n in 1u64.. {
                line.clear();
                let got = reader
                    .read_line(&mut line)
                    .with_context(|| format!("{}: files.jsonl line {n}", b.display()))?;
                if got == 0 {
                    break;
                }
                let Some(r) = FileLine::parse(line.trim_end_matches(['\n', '\r'])) else {
                    continue;
                };
                let path = match (r.path, r.path_b64) {
                    (Some(p), _) => Some(p),
                    (None, Some(p)) => Some(Cow::Owned(format!("base64:{p}"))),
                    (None, None) => None,
                };
                ins.execute(params![
                    id, exhibit, path, r.member, r.status, r.size, r.sha256, r.md5, r.sha1,
                    r.mtime, r.atime, r.ctime, r.btime
                ])?;
                nrec += 1;
            }
        }
        {
            let mut ins = tx
                .prepare("INSERT INTO findings VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)")?;
            if let Ok(member) = zip.by_name(crate::bundle::FINDINGS_JSONL) {
                let mut reader = BufReader::new(member);
                let mut line = String::new();
                for n in 1u64.. {
                    line.clear();
                    let got = reader
                        .read_line(&mut line)
                        .with_context(|| format!("{}: findings.jsonl line {n}", b.display()))?;
                    if got == 0 {
                        break;
                    }
                    let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) else {
                        continue;
                    };
                    let s = |k: &str| v[k].as_str().map(str::to_string);
                    let sev = s("severity");
                    ins.execute(params![
                        id,
                        exhibit,
                        s("id"),
                        s("analyzer"),
                        s("kind"),
                        sev,
                        sev.as_deref().and_then(severity_rank),
                        s("path"),
                        s("sha256"),
                        s("title")
                    ])?;
                    nfind += 1;
                }
            }
        }
        tx.execute(
            "UPDATE bundles SET indexed = 1, records = ?2, findings = ?3 WHERE id = ?1",
            params![id, nrec as i64, nfind as i64],
        )?;
    }
    tx.commit()?;
    Ok(Indexed {
        path: b.to_path_buf(),
        exhibit,
        verdict: verdict_name(rep.verdict),
        indexed: index_it,
        records: nrec,
        findings: nfind,
    })
}
