//! Findings: the one shape every analyzer (triage, known-file sets, live state) reports in.
//!
//! Owns the `Finding` record written to `findings.jsonl`. It must never carry secrets in
//! `title` (the title is printed on the responder's terminal); sensitive material such as
//! seed words belongs only in `evidence`, which stays inside the bundle.

use serde::{Deserialize, Serialize};

/// How much a finding matters to the person reading the report, lowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

/// One claim about the evidence, with what supports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// Unique within the bundle (`F000001`, …); assigned when the finding is recorded.
    #[serde(default)]
    pub id: String,
    /// Which analyzer produced it (`executable`, `wallet`, `encryption`, `hashset`, `live`).
    pub analyzer: String,
    /// A stable machine code for the kind of finding, e.g. `exe.packed`, `crypto.seed_phrase`.
    pub kind: String,
    pub severity: Severity,
    /// The original path (lossy UTF-8 for display; files.jsonl holds the exact bytes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// The bundle member holding the content, when it was stored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub member: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// One line a non-specialist can read; never secret material.
    pub title: String,
    /// Everything an examiner needs to check the claim.
    pub evidence: serde_json::Value,
}
