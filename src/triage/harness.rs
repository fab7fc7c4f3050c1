//! A stand-alone driver that reads one file exactly as the acquisition engine does (opened
//! read-only, once, in fixed-size chunks, SHA-256 computed on the same bytes) and runs the
//! analyzers over it. Used by the developer command `fieldkit triage-file` and by tests
//! until the analyzers are wired into `collect`.
//!
//! Owns nothing but this loop. It never writes, never seeks and never reads a byte twice.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use sha2::{Digest, Sha256};

use super::{Analyzer, FileContext, FileDigests, FileTriage};
use crate::finding::Finding;

/// Opens read-only, with O_NOATIME where the kernel allows it (it refuses for files we do
/// not own unless we are privileged; then a plain read-only open is used).
pub fn open_read_only(path: &Path) -> std::io::Result<File> {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::fs::OpenOptionsExt;
        if let Ok(f) = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOATIME)
            .open(path)
        {
            return Ok(f);
        }
    }
    File::open(path)
}

/// Reads `path` once in `buffer.len()` pieces through the analyzers; `source_path` is
/// the path used for matching (relative to the source root). The buffer is the caller's
/// so one allocation serves every file.
pub fn triage_file(
    analyzers: &[Box<dyn Analyzer>],
    path: &Path,
    source_path: &str,
    buffer: &mut [u8],
) -> anyhow::Result<Vec<Finding>> {
    use anyhow::Context;
    let mut file =
        open_read_only(path).with_context(|| format!("{}: cannot open", path.display()))?;
    let meta = file
        .metadata()
        .with_context(|| format!("{}: cannot stat", path.display()))?;
    if !meta.is_file() {
        anyhow::bail!("{}: not a regular file", path.display());
    }
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| jiff::Timestamp::try_from(t).ok())
        .map(|t| t.as_second());
    let ctx = FileContext {
        path,
        source_path,
        size: meta.len(),
        mtime,
        on_host: true,
    };
    let mut triage = FileTriage::start(analyzers, &ctx);
    let mut hasher = Sha256::new();
    if buffer.is_empty() {
        anyhow::bail!("the read buffer must not be empty");
    }
    let mut offset = 0u64;
    loop {
        let n = match file.read(buffer) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(e)
                    .with_context(|| format!("{}: read error at offset {offset}", path.display()));
            }
        };
        hasher.update(&buffer[..n]);
        if triage.wants_more() {
            triage.update(&buffer[..n]);
        }
        offset += n as u64;
    }
    let digests = FileDigests {
        sha256: hasher.finalize().into(),
        md5: None,
        sha1: None,
    };
    Ok(triage.finish(&ctx, &digests))
}
