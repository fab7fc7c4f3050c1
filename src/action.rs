//! Actions: the record of everything fieldkit did on the source system (`actions.jsonl`).
//!
//! Owns the `Action` shape. Every capture, walk, signal and failure that touches the
//! evidence is one line with UTC times and an outcome; an action is never dropped because
//! it failed (a failure is an outcome, not a reason to stay silent).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Ok,
    Error,
    Timeout,
    Skipped,
    Interrupted,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Action {
    /// When the action started (RFC 3339 UTC, nanoseconds).
    pub start_utc: String,
    /// When it ended; absent for instantaneous events.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_utc: Option<String>,
    /// What was done, as a stable code: `collect.start`, `walk`, `live.processes`, …
    pub action: String,
    /// What it was done to (a path, a kernel interface), when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    pub outcome: Outcome,
    /// Human-readable detail: the error, the count, the reason.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl Action {
    /// An instantaneous event, stamped now.
    pub fn event(action: &str, outcome: Outcome, detail: Option<String>) -> Self {
        Action {
            start_utc: crate::timefmt::now_utc(),
            end_utc: None,
            action: action.to_string(),
            target: None,
            outcome,
            detail,
        }
    }
}
