//! The evidence bundle: one ZIP that standard tools can check (unzip, sha256sum,
//! ssh-keygen), described in docs/bundle-format.md.
//!
//! Owns writing (`writer`, `zipwriter`, `naming`), the records inside (`manifest`,
//! `record`), and reading back (`verify`, `extract`). Never modifies a finished bundle:
//! verification and extraction only read.

pub mod age;
pub mod compress;
pub mod extract;
pub mod image_record;
pub mod input;
pub mod lifecycle;
pub mod manifest;
pub mod naming;
pub mod record;
pub mod sidecars;
pub mod trust;
pub mod verify;
pub mod writer;
pub mod zipwriter;

/// Fixed member names.
pub const MANIFEST: &str = "manifest.json";
pub const FILES_JSONL: &str = "files.jsonl";
pub const ACTIONS_JSONL: &str = "actions.jsonl";
pub const FINDINGS_JSONL: &str = "findings.jsonl";
pub const SIGNER_PUB: &str = "signer.pub";
pub const REPORT_HTML: &str = "report.html";
/// CASE/UCO 1.x JSON-LD of the collection (report::case).
pub const CASE_JSONLD: &str = "case.jsonld";
/// The stored form of every Deflate member (name, stored size, SHA-256 of the stored
/// bytes), signed through SHA256SUMS; only in bundles with a Deflate member.
pub const COMPRESSED_JSONL: &str = "compressed.jsonl";
pub use writer::{SUMS, SUMS_SIG};

/// Creates `path` (never overwriting: a sidecar or kit seal that already exists is an
/// error, not something to replace), writes `data` and syncs it to the device.
pub fn write_new(path: &std::path::Path, data: &[u8]) -> anyhow::Result<()> {
    use anyhow::Context;
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .with_context(|| format!("{}: cannot create", path.display()))?;
    f.write_all(data)
        .and_then(|_| f.sync_all())
        .with_context(|| format!("{}: cannot write", path.display()))
}
