//! A cheap identity of a job's source, recorded when its bundle is made and compared on a
//! rerun so that a changed source is reported instead of silently skipped.
//!
//! A file, image or device: its size, mtime (ns) and the SHA-256 of its first MiB. A
//! folder: the number of entries, the total size, the newest mtime and the SHA-256 of the
//! sorted list of (relative path, size, mtime ns) — a `stat` walk, no content read.
//! Must never open the source for writing nor change its access times beyond a read.

use std::io::Read;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::hashing::hex;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Fingerprint {
    pub size: u64,
    pub mtime_ns: i128,
    /// Files: SHA-256 of the first MiB; folders: SHA-256 of the entry list.
    pub digest: String,
    /// Folders: entries seen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entries: Option<u64>,
}

const FIRST: u64 = 1 << 20;

fn mtime_ns(m: &std::fs::Metadata) -> i128 {
    match m.modified() {
        Ok(t) => match t.duration_since(std::time::UNIX_EPOCH) {
            Ok(d) => d.as_nanos() as i128,
            Err(e) => -(e.duration().as_nanos() as i128),
        },
        Err(_) => 0,
    }
}

pub fn of(path: &Path) -> std::io::Result<Fingerprint> {
    let meta = std::fs::metadata(path)?;
    if meta.is_dir() {
        return of_folder(path);
    }
    use sha2::Digest;
    let mut f = std::fs::File::open(path)?;
    // Only Unix corrects the size (block devices); elsewhere it is never reassigned.
    #[cfg_attr(not(unix), allow(unused_mut))]
    let mut size = meta.len();
    #[cfg(unix)]
    {
        use std::io::Seek;
        use std::os::unix::fs::FileTypeExt;
        if meta.file_type().is_block_device() {
            size = f.seek(std::io::SeekFrom::End(0))?;
            f.seek(std::io::SeekFrom::Start(0))?;
        }
    }
    let mut h = sha2::Sha256::new();
    let mut buf = Vec::with_capacity(FIRST as usize);
    (&mut f).take(FIRST).read_to_end(&mut buf)?;
    h.update(&buf);
    Ok(Fingerprint {
        size,
        mtime_ns: mtime_ns(&meta),
        digest: hex(&h.finalize()),
        entries: None,
    })
}

fn of_folder(root: &Path) -> std::io::Result<Fingerprint> {
    use sha2::Digest;
    let mut list: Vec<(Vec<u8>, u64, i128)> = Vec::new();
    for e in walkdir::WalkDir::new(root).follow_links(false) {
        let e = e.map_err(std::io::Error::other)?;
        let m = e.metadata().map_err(std::io::Error::other)?;
        let rel = e.path().strip_prefix(root).unwrap_or(e.path());
        let size = if m.is_file() { m.len() } else { 0 };
        list.push((
            rel.as_os_str().as_encoded_bytes().to_vec(),
            size,
            mtime_ns(&m),
        ));
    }
    list.sort();
    let mut h = sha2::Sha256::new();
    let (mut total, mut newest) = (0u64, i128::MIN);
    for (p, s, t) in &list {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p);
        h.update(s.to_le_bytes());
        h.update(t.to_le_bytes());
        total += s;
        newest = newest.max(*t);
    }
    Ok(Fingerprint {
        size: total,
        mtime_ns: if list.is_empty() { 0 } else { newest },
        digest: hex(&h.finalize()),
        entries: Some(list.len() as u64),
    })
}

/// What differs between two fingerprints, in words.
pub fn differences(old: &Fingerprint, new: &Fingerprint) -> Vec<String> {
    let mut d = Vec::new();
    if old.size != new.size {
        d.push(format!("size {} → {}", old.size, new.size));
    }
    if old.mtime_ns != new.mtime_ns {
        d.push("mtime changed".to_string());
    }
    if old.entries != new.entries {
        d.push(format!(
            "entries {} → {}",
            old.entries.unwrap_or(0),
            new.entries.unwrap_or(0)
        ));
    }
    if old.digest != new.digest {
        d.push(if new.entries.is_some() {
            "entry list hash changed".to_string()
        } else {
            "first-MiB hash changed".to_string()
        });
    }
    d
}
