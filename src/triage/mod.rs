//! Triage: analyzers that turn bytes acquisition has already read into findings.
//!
//! Owns the analyzer contract. The acquisition engine streams every file it reads through
//! the analyzers that asked for it, chunk by chunk, in order; an analyzer must never open
//! or re-read the source itself (evidence is read once), must keep its memory bounded
//! whatever the file size, and must never panic on malformed input: a file it cannot
//! parse is a finding of its own, not a crash.

use std::path::Path;

use crate::finding::Finding;

/// What an analyzer may know about a file before its bytes arrive.
#[derive(Debug, Clone, Copy)]
pub struct FileContext<'a> {
    /// The path as opened on the collecting machine.
    pub path: &'a Path,
    /// The path relative to the source root, `/`-separated, lossy UTF-8 (for matching).
    pub source_path: &'a str,
    /// Size from `fstat` when the file was opened (the bytes delivered may differ if the
    /// file changed while being read).
    pub size: u64,
    /// Modification time, seconds since the Unix epoch, when known.
    pub mtime: Option<i64>,
}

/// The digests of the bytes that were delivered to the analyzer.
#[derive(Debug, Clone, Copy)]
pub struct FileDigests {
    pub sha256: [u8; 32],
    pub md5: Option<[u8; 16]>,
    pub sha1: Option<[u8; 20]>,
}

/// A kind of analysis. Shared by all worker threads; per-file state lives in [`FileScan`].
pub trait Analyzer: Send + Sync {
    /// Stable name recorded in each finding's `analyzer` field.
    fn name(&self) -> &'static str;
    /// Decide from the path and size whether this file is of interest; return the
    /// per-file scanner that will receive its bytes, or `None` to skip it cheaply.
    fn start(&self, ctx: &FileContext<'_>) -> Option<Box<dyn FileScan>>;
}

/// Per-file state of one analyzer: receives the file's bytes in order, then reports.
pub trait FileScan: Send {
    fn update(&mut self, chunk: &[u8]);
    /// Called once after the last chunk. The engine fills `member` and `sha256` of the
    /// returned findings when the analyzer leaves them empty.
    fn finish(self: Box<Self>, ctx: &FileContext<'_>, digests: &FileDigests) -> Vec<Finding>;
}

/// The analyzers `collect` runs by default.
pub fn default_analyzers() -> Vec<Box<dyn Analyzer>> {
    Vec::new()
}
