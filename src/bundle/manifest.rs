//! manifest.json: the bundle's chain-of-custody header — who, when, what, how, and whether
//! the run completed. Documented field by field in docs/bundle-format.md.
//!
//! Owns the manifest's shape and its format version. Fields are only ever added within a
//! format version; a reader must ignore fields it does not know. Never holds secrets.

use serde::{Deserialize, Serialize};

pub const FORMAT: &str = "fieldkit-bundle";
pub const FORMAT_VERSION: u32 = 1;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub format_version: u32,
    pub bundle_id: String,
    /// `complete` or `incomplete`.
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub incomplete_reason: Option<String>,
    pub tool: Tool,
    pub case: Case,
    pub host: Host,
    pub source: Source,
    pub times: Times,
    pub profile: ProfileInfo,
    /// Known-file hash sets the run checked every file against.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub known_sets: Vec<KnownSetInfo>,
    /// Known-good files were stored anyway (`--keep-known`).
    #[serde(default)]
    pub keep_known: bool,
    /// `--since/--until`, when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<WindowInfo>,
    pub hash_algorithms: Vec<String>,
    pub counts: Counts,
    /// Set when the run finished but considered no path, saying why: `empty folder` (an
    /// empty, often unmounted, source) or `nothing selected` (the profile selects no path
    /// there). `collect` warns and exits 6.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_empty: Option<String>,
    pub signer: SignerInfo,
    /// The exact command line (each argument; base64 in `argv_b64` when not UTF-8).
    pub command_line: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub command_line_b64: Vec<String>,
    /// Statements about how the collection was done that a defence expert would ask.
    pub method: Method,
    /// Other members and what they hold.
    #[serde(default)]
    pub members: Vec<MemberInfo>,
    /// With `--encrypt-to`: how the bundle file is encrypted and to whom.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption: Option<EncryptionInfo>,
    /// When the source was a disk image or device: the container, its own hashes, the
    /// volumes and file systems found (docs/bundle-format.md, "From an image").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<crate::bundle::image_record::ImageManifest>,
}

/// The encryption of the bundle file (this manifest is inside it, so it travels
/// encrypted too; docs/encryption.md).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct EncryptionInfo {
    /// `age-encryption.org/v1`.
    pub format: String,
    /// The recipients as given (`age1…`, `ssh-ed25519 AAAA… comment`).
    pub recipients: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Tool {
    pub name: String,
    pub version: String,
    pub commit: String,
    pub target: String,
    pub executable_path: String,
    /// SHA-256 of the fieldkit executable that ran (or the reason it could not be read).
    pub executable_sha256: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub executable_error: Option<String>,
    /// Whether the running binary belongs to the sealed kit it was started from (absent
    /// in bundles made before this field existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kit: Option<KitInfo>,
}

/// The running binary against the kit's `SHA256SUMS` beside it (see `kit::running_binary`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KitInfo {
    /// The folder holding the executable.
    pub dir: String,
    /// A `SHA256SUMS` was found beside the executable.
    pub sums_found: bool,
    /// The executable's file name is listed in it.
    pub binary_listed: bool,
    /// The running executable's SHA-256 equals the listed one.
    pub binary_matches: bool,
    /// `SHA256SUMS.sig` holds (namespace `fieldkit-kit`) and its key is in the kit's own
    /// `allowed_signers` (self-consistency; the lab compares `signer_fingerprint`).
    pub signature_valid: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signer_fingerprint: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub signer_principals: Vec<String>,
    /// What was found, in words.
    pub detail: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Case {
    pub case_number: Option<String>,
    pub exhibit: Option<String>,
    pub examiner: Option<String>,
    pub organisation: Option<String>,
    pub notes: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Host {
    pub hostname: Option<String>,
    pub os_name: Option<String>,
    pub os_version: Option<String>,
    pub kernel: Option<String>,
    pub arch: String,
    pub machine_id: Option<String>,
    pub boot_id: Option<String>,
    /// The user fieldkit ran as.
    pub run_as: Option<String>,
    pub pid: u32,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Source {
    /// The source root as given and as resolved.
    pub path: String,
    pub resolved_path: String,
    /// True when the source is the running system's own root.
    pub live_system: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fs_type: Option<String>,
    /// Home directories `${home}` expanded to (relative to the source root).
    #[serde(default)]
    pub homes: Vec<String>,
    /// Live Windows: the raw volume locked files and the NTFS metadata are read through
    /// (docs/live-windows-raw.md), whether it could be opened, and why not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw_volume: Option<RawVolumeInfo>,
}

/// The raw volume of a live Windows collection.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RawVolumeInfo {
    /// `\\.\C:`.
    pub device: String,
    pub readable: bool,
    /// Why not, said loudly: locked files and the NTFS metadata are not collected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
    /// The volume is BitLocker-protected and unlocked: the raw reads saw decrypted data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bitlocker: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Times {
    pub start_utc: String,
    pub end_utc: String,
    /// The host's local time at start, with its UTC offset.
    pub start_local: String,
    pub time_zone: String,
    pub utc_offset_seconds: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference: Option<ReferenceTime>,
    pub elapsed_seconds: f64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ReferenceTime {
    /// The responder's trusted clock reading, as given.
    pub given: String,
    pub given_utc: String,
    /// Host clock minus reference, in seconds (positive: host clock is ahead).
    pub host_clock_offset_seconds: f64,
    pub host_clock_at_start_utc: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct KnownSetInfo {
    pub name: String,
    /// `known_good` or `known_bad`.
    pub kind: String,
    pub path: String,
    /// The set's digest (`fieldkit hashset info` prints it): identifies its exact content.
    pub digest: String,
    /// Size of the set file in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_len: Option<u64>,
    /// SHA-256 of the whole set file (what `sha256sum` prints), computed by this run from
    /// bytes that matched the set's digests; absent when it could not be (see the note).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_sha256: Option<String>,
    /// How `file_sha256` was obtained, or why there is none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_sha256_note: Option<String>,
    /// How the set's data were checked: all at open, or each block before first use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification: Option<String>,
    /// The set file's format version and block digest (`sha256` in v1, `blake3` in v2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format_version: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block_digest: Option<String>,
    /// Lookups that failed on a damaged block of this set: each is also a
    /// `hashset.lookup_failed` finding and was an alert on stderr.
    #[serde(default)]
    pub lookup_errors: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct WindowInfo {
    pub since: Option<String>,
    pub until: Option<String>,
    /// True when files outside the window were recorded but not collected.
    pub collect_only_inside: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ProfileInfo {
    pub name: String,
    pub sha256: String,
    /// `builtin` or the profile file's path.
    pub origin: String,
    pub rules: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_file_size_override: Option<u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Records in files.jsonl.
    pub considered: u64,
    pub collected: u64,
    pub duplicate: u64,
    pub changed: u64,
    pub known_good: u64,
    pub skipped: u64,
    pub error: u64,
    /// Held by another process without read sharing (Windows): not read.
    #[serde(default)]
    pub locked: u64,
    /// Deleted entries of an image recorded (content stored only with --deleted).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub deleted: u64,
    /// Bytes read from the source and hashed.
    pub bytes_read: u64,
    /// Bytes stored under files/ (after de-duplication).
    pub bytes_stored: u64,
    /// Lines in findings.jsonl.
    pub findings: u64,
    /// Files that matched a known-bad set (stored whatever their status says).
    #[serde(default)]
    pub known_bad: u64,
}

impl Counts {
    /// Count one files.jsonl record: the writer tallies the manifest's counts with this,
    /// and verify recounts files.jsonl with it, so both mean the same thing. A record
    /// without a status counts as an error.
    pub fn count(&mut self, rec: &super::record::FileRecord) {
        use super::record::Status;
        self.considered += 1;
        self.bytes_read = self.bytes_read.saturating_add(rec.bytes_read.unwrap_or(0));
        if rec.known.iter().any(|k| k.kind == "known_bad") {
            self.known_bad += 1;
        }
        match rec.status.unwrap_or(Status::Error) {
            Status::Collected => self.collected += 1,
            Status::Duplicate => self.duplicate += 1,
            Status::Changed => self.changed += 1,
            Status::KnownGood => self.known_good += 1,
            Status::Skipped => self.skipped += 1,
            Status::Error => self.error += 1,
            Status::Locked => self.locked += 1,
            Status::Deleted => self.deleted += 1,
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SignerInfo {
    pub algorithm: String,
    pub fingerprint: String,
    pub public_key: String,
    pub namespace: String,
    /// True when the key was generated for this run only (its public half is in
    /// `signer.pub`; its fingerprint must be in the responder's notes).
    pub one_time_key: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Method {
    pub read_only: bool,
    pub noatime: String,
    pub symlinks_followed: bool,
    pub threads: usize,
    pub dedup: String,
    pub executed_programs_of_source: bool,
    /// Analyzers run on the bytes as they were read (`off` when disabled).
    #[serde(default)]
    pub triage: String,
    pub verify_after_write: bool,
    /// Files read without O_NOATIME because the kernel refused it (their `read_method`
    /// says so): their access times on the source may have changed.
    #[serde(default)]
    pub noatime_refused: u64,
    /// Set when fieldkit ran without the privilege to open every file with O_NOATIME:
    /// who it ran as and what that means (docs/bundle-format.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unprivileged: Option<String>,
    /// Whether and how volatile state (live/) was captured.
    #[serde(default)]
    pub live_state: String,
    /// `--compress`: which members are deflated and where their stored form is recorded.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub compression: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct MemberInfo {
    pub name: String,
    pub description: String,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}
