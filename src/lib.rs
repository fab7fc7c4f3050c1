//! fieldkit: forensic field-kit triage.
//!
//! The binary (`src/main.rs`) is only flag parsing and glue; every capability lives in a
//! library module with its own tests. Data flows one way:
//! `cli → profile/plan → acquire (read once, hash, triage) → bundle (zip, manifest) → sign`,
//! and `bundle::verify` reads a bundle back for labs and courts.
//!
//! What the library must never do: write to the source being collected, write next to
//! its own executable, or panic on input from the evidence.

pub mod acquire;
pub mod action;
pub mod batch;
pub mod bundle;
pub mod cli;
pub mod collect;
pub mod commands;
pub mod finding;
#[doc(hidden)]
pub mod fuzz_targets;
pub mod hashing;
pub mod hashset;
pub mod host;
pub mod index;
pub mod kit;
pub mod live;
pub mod plan;
pub mod profile;
pub mod report;
pub mod sign;
pub mod source;
pub mod timefmt;
pub mod triage;
pub mod version;
