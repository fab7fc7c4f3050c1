//! Known-file hash sets: compile reference lists (NSRL, hashdeep, `*sum` files, Project VIC
//! VICS JSON) once into a `.fkhs` file, then answer "is this hash known?" from a memory map
//! with no load time.
//!
//! Owns the `.fkhs` format (documented in `docs/hashset-format.md`), the input readers, the
//! external-sort builder and the lookup side used by `fieldkit hashset` and by `collect`.
//!
//! Must never: hold a whole input or a whole set in memory (inputs are streamed, sorting
//! spills to disk, lookups touch a page or two of the map), write a `.fkhs` that looks
//! complete before it is (the builder writes a temporary file and renames it last), use
//! a byte of a set before it has been checked against the digest the file's root commits
//! to, or panic on a malformed input or a damaged set file.

pub mod build;
pub mod format;
mod hex;
pub mod input;
mod known;
mod set;

use serde::{Deserialize, Serialize};

pub use build::{BuildOptions, BuildReport, build};
pub use input::InputFormat;
pub use known::{Answer, HashMatch, KnownSets, LookupFailure};
pub use set::{AUTO_FULL_LIMIT, DamagedSet, KnownSet, LookupHit, Verification};

/// A hash algorithm a set can be keyed by, weakest first (the order matters: when a file
/// matches by several algorithms the strongest one is reported).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Algorithm {
    Md5,
    Sha1,
    Sha256,
}

impl Algorithm {
    pub const ALL: [Algorithm; 3] = [Algorithm::Md5, Algorithm::Sha1, Algorithm::Sha256];

    /// Digest length in bytes.
    pub const fn key_len(self) -> usize {
        match self {
            Algorithm::Md5 => 16,
            Algorithm::Sha1 => 20,
            Algorithm::Sha256 => 32,
        }
    }

    pub const fn name(self) -> &'static str {
        match self {
            Algorithm::Md5 => "md5",
            Algorithm::Sha1 => "sha1",
            Algorithm::Sha256 => "sha256",
        }
    }

    /// Position in fixed per-algorithm arrays (and the section order in a file).
    pub const fn index(self) -> usize {
        match self {
            Algorithm::Md5 => 0,
            Algorithm::Sha1 => 1,
            Algorithm::Sha256 => 2,
        }
    }

    /// The algorithm whose hex digest has this many characters.
    pub const fn from_hex_len(len: usize) -> Option<Algorithm> {
        match len {
            32 => Some(Algorithm::Md5),
            40 => Some(Algorithm::Sha1),
            64 => Some(Algorithm::Sha256),
            _ => None,
        }
    }

    pub fn parse(name: &str) -> Option<Algorithm> {
        match name.to_ascii_lowercase().replace('-', "").as_str() {
            "md5" => Some(Algorithm::Md5),
            "sha1" => Some(Algorithm::Sha1),
            "sha256" => Some(Algorithm::Sha256),
            _ => None,
        }
    }
}

impl std::fmt::Display for Algorithm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What a match means: a file to set aside, or a file to flag and always keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SetKind {
    KnownGood,
    KnownBad,
}

impl SetKind {
    pub const fn name(self) -> &'static str {
        match self {
            SetKind::KnownGood => "known-good",
            SetKind::KnownBad => "known-bad",
        }
    }
}

impl std::fmt::Display for SetKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Lowercase hex of a digest.
pub fn to_hex(bytes: &[u8]) -> String {
    hex::encode(bytes)
}

/// Lowercase hex of a digest into a caller's buffer (no allocation).
pub fn to_hex_into<'b>(bytes: &[u8], buf: &'b mut [u8; 64]) -> &'b [u8] {
    hex::encode_into(&bytes[..bytes.len().min(32)], buf)
}
