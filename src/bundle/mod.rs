//! The evidence bundle: one ZIP that standard tools can check (unzip, sha256sum,
//! ssh-keygen), described in docs/bundle-format.md.
//!
//! Owns writing (`writer`, `zipwriter`, `naming`), the records inside (`manifest`,
//! `record`), and reading back (`verify`, `extract`). Never modifies a finished bundle:
//! verification and extraction only read.

pub mod extract;
pub mod manifest;
pub mod naming;
pub mod record;
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
pub use writer::{SUMS, SUMS_SIG};
