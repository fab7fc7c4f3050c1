//! Command-line argument types, and nothing else: parsing into these structs is clap's job,
//! acting on them is `commands`'. Flags are documented here once and rendered to `--help`.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "fieldkit",
    version = crate::version::LONG_VERSION,
    about = "Forensic field kit: collect, hash and sign evidence; verify bundles",
    long_about = "Forensic field kit: collect files and volatile state from a live system or a \
mounted evidence folder into a signed, hash-verified evidence bundle (a ZIP any examiner can \
check with unzip, sha256sum and ssh-keygen), and verify such bundles in the lab."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Collect evidence into a signed bundle (the main job).
    Collect(Box<CollectArgs>),
    /// Verify a bundle: every hash, the member list, the signatures and the sidecars.
    Verify(VerifyArgs),
    /// Extract a bundle's members into a directory, refusing unsafe names.
    Extract(ExtractArgs),
    /// Create an Ed25519 signing key pair in OpenSSH format.
    Keygen(KeygenArgs),
    /// List, show and check collection profiles.
    Profiles(ProfilesArgs),
    /// Hash files (read-only, parallel) and print sha256sum- or hashdeep-style lines.
    Hash(HashArgs),
    /// Report on a bundle: case, chain of custody, findings, live state, timeline.
    Report(ReportArgs),
    /// Capture only the volatile state of this running machine (clock, network,
    /// processes, users, mounts, modules, services, encryption) and say whether an
    /// encrypted volume is open.
    Live(LiveArgs),
    /// Developer tool: stream files through the triage analyzers exactly as collect does
    /// (read once, in chunks) and print the findings.
    #[command(name = "triage-file", hide = true)]
    TriageFile(TriageFileArgs),
    /// Check (or seal) a USB field kit: its SHA256SUMS and signature.
    Kit(KitArgs),
}

#[derive(Debug, Args)]
pub struct CollectArgs {
    /// What to collect from: the running system's root (default) or a mounted evidence folder.
    #[arg(long, value_name = "PATH")]
    pub source: Option<PathBuf>,
    /// Built-in profile name or a profile TOML file [default: the OS triage profile for the
    /// running system, `all-files` for any other source].
    #[arg(long, value_name = "NAME|FILE")]
    pub profile: Option<String>,
    /// Directory the bundle is written to (must not be inside the source, nor the
    /// directory holding fieldkit itself).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Case number, recorded in the manifest and the bundle name.
    #[arg(long, value_name = "TEXT")]
    pub case: Option<String>,
    /// Exhibit / evidence item number.
    #[arg(long, value_name = "TEXT")]
    pub exhibit: Option<String>,
    /// Name of the person running the collection.
    #[arg(long, value_name = "NAME")]
    pub examiner: Option<String>,
    /// Organisation or unit.
    #[arg(long = "org", value_name = "TEXT")]
    pub organisation: Option<String>,
    /// Free-text notes (circumstances, who was present, …).
    #[arg(long, value_name = "TEXT")]
    pub notes: Option<String>,
    /// Your trusted clock reading (RFC 3339, e.g. 2026-11-23T14:05:00Z or with an offset);
    /// the host clock's offset from it is recorded.
    #[arg(long, value_name = "TIME")]
    pub reference_time: Option<String>,
    /// Hash algorithms, comma-separated; sha256 is always computed.
    #[arg(long = "hash", value_name = "ALGS", default_value = "sha256")]
    pub hash: String,
    /// OpenSSH Ed25519 private key to sign with [default: a one-time key whose public half
    /// is stored in the bundle and whose fingerprint you must write in your notes].
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,
    /// File holding the key's passphrase (otherwise FIELDKIT_KEY_PASSPHRASE or a prompt).
    #[arg(long, value_name = "FILE")]
    pub passphrase_file: Option<PathBuf>,
    /// Skip files larger than this (e.g. 512MiB, 2G); overrides the profile's limits.
    #[arg(long, value_name = "SIZE")]
    pub max_file_size: Option<String>,
    /// Worker threads [default: number of CPUs].
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// Start of the recent-activity window (RFC 3339): files modified, changed or created
    /// inside it are marked in files.jsonl.
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// End of the recent-activity window (RFC 3339).
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    /// Collect only files inside --since/--until (the others are recorded, not read;
    /// files with no known time are collected).
    #[arg(long)]
    pub window_only: bool,
    /// Run no triage analyzer (files are still read, hashed and stored).
    #[arg(long)]
    pub no_triage: bool,
    /// Do not re-read and check the finished bundle (verify-after-write is on by default).
    #[arg(long)]
    pub no_verify: bool,
    /// Do not capture volatile state (processes, network, users, mounts, encryption) first.
    /// It is captured only when the source is the running system's root.
    #[arg(long)]
    pub no_live: bool,
    /// Time limit of each live capture, in seconds.
    #[arg(long, value_name = "SECS", default_value = "20")]
    pub live_timeout: f64,
    /// Print the end-of-run summary as one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
    /// No progress display.
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The bundle (.zip) to verify.
    pub bundle: PathBuf,
    /// OpenSSH allowed_signers file; requires --identity.
    #[arg(
        long,
        value_name = "FILE",
        requires = "identity",
        conflicts_with = "pubkey"
    )]
    pub allowed_signers: Option<PathBuf>,
    /// Principal the signature must belong to in --allowed-signers.
    #[arg(long, value_name = "NAME", requires = "allowed_signers")]
    pub identity: Option<String>,
    /// The signer's public key (.pub); the signature must be by exactly this key.
    #[arg(long, value_name = "FILE")]
    pub pubkey: Option<PathBuf>,
    /// Print the report as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ExtractArgs {
    /// The bundle (.zip) to extract.
    pub bundle: PathBuf,
    /// Target directory (created; must be empty if it exists).
    pub dir: PathBuf,
}

#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// Where to write the private key; the public key goes to FILE.pub.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Identity (principal) for the allowed_signers line, e.g. the examiner's e-mail.
    #[arg(long, value_name = "NAME")]
    pub identity: String,
    /// Protect the private key with a passphrase read from this file.
    #[arg(long, value_name = "FILE", conflicts_with = "ask_passphrase")]
    pub passphrase_file: Option<PathBuf>,
    /// Protect the private key with a passphrase typed at the terminal.
    #[arg(long)]
    pub ask_passphrase: bool,
}

#[derive(Debug, Args)]
pub struct ProfilesArgs {
    #[command(subcommand)]
    pub action: ProfilesAction,
}

#[derive(Debug, Subcommand)]
pub enum ProfilesAction {
    /// List the built-in profiles.
    List,
    /// Print a built-in profile's TOML (or a file's, normalised).
    Show { name: String },
    /// Check profile files; every error is reported as FILE:LINE: message.
    Check {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

#[derive(Debug, Args)]
pub struct HashArgs {
    /// Files or directories (walked recursively, symlinks not followed).
    #[arg(required = true)]
    pub paths: Vec<OsString>,
    /// Algorithms, comma-separated (sha256, sha1, md5).
    #[arg(long = "hash", value_name = "ALGS", default_value = "sha256")]
    pub hash: String,
    /// Output hashdeep format (size,hashes…,filename) instead of sha256sum lines.
    #[arg(long)]
    pub hashdeep: bool,
    /// Worker threads [default: number of CPUs].
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    Text,
    Json,
    Csv,
    Html,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The bundle (.zip).
    pub bundle: PathBuf,
    /// Output format; csv lists the findings.
    #[arg(long, value_enum, default_value = "text")]
    pub format: ReportFormat,
    /// Write to this file instead of stdout (never overwrites).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Check the signature against this public key (otherwise: the key in the bundle).
    #[arg(long, value_name = "FILE", conflicts_with = "allowed_signers")]
    pub pubkey: Option<PathBuf>,
    /// OpenSSH allowed_signers file; requires --identity.
    #[arg(long, value_name = "FILE", requires = "identity")]
    pub allowed_signers: Option<PathBuf>,
    #[arg(long, value_name = "NAME", requires = "allowed_signers")]
    pub identity: Option<String>,
}

#[derive(Debug, Args)]
pub struct LiveArgs {
    /// Also write the captures: FILE.json (one JSON document) or DIR (live/*.json,
    /// actions.jsonl, findings.jsonl, as in a bundle). Never overwrites.
    #[arg(long, value_name = "FILE.json|DIR")]
    pub out: Option<PathBuf>,
    /// Print the summary, actions and findings as one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
    /// Your trusted clock reading (RFC 3339 with a zone); the host clock's offset from it
    /// is recorded.
    #[arg(long, value_name = "TIME")]
    pub reference_time: Option<String>,
    /// Time limit for each capture, in seconds.
    #[arg(long, value_name = "SECS", default_value = "20")]
    pub timeout: f64,
    /// procfs to read instead of /proc (testing against synthetic trees).
    #[arg(long, value_name = "DIR", hide = true)]
    pub proc_root: Option<PathBuf>,
    /// sysfs to read instead of /sys (testing).
    #[arg(long, value_name = "DIR", hide = true)]
    pub sys_root: Option<PathBuf>,
    /// Device directory to read instead of /dev (testing).
    #[arg(long, value_name = "DIR", hide = true)]
    pub dev_root: Option<PathBuf>,
    /// Root of the system's own files instead of / (testing).
    #[arg(long, value_name = "DIR", hide = true)]
    pub fs_root: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct TriageFileArgs {
    /// Files to analyze (read-only; directories are refused).
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Match paths relative to this directory, as collect matches paths relative to its
    /// source root [default: the paths as given].
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Bytes per read (the engine uses 1 MiB); small values prove chunk independence.
    #[arg(long, value_name = "BYTES", default_value_t = 1 << 20)]
    pub chunk_size: usize,
    /// Print findings as JSON lines (the findings.jsonl shape) instead of text.
    #[arg(long)]
    pub json: bool,
    /// Read and hash only, running no analyzer (the benchmark's baseline).
    #[arg(long)]
    pub no_analyzers: bool,
}

#[derive(Debug, Args)]
pub struct KitArgs {
    #[command(subcommand)]
    pub action: KitAction,
}

#[derive(Debug, Subcommand)]
pub enum KitAction {
    /// Check a kit before trusting it: every file against SHA256SUMS (nothing missing,
    /// changed or added) and SHA256SUMS.sig against the allowed signers.
    /// Exit codes: 0 valid, 1 invalid (tampered, unsigned, untrusted signer), 2 unusable
    /// (no such folder, no SHA256SUMS, bad arguments).
    Verify(KitVerifyArgs),
    /// Seal a kit folder: write SHA256SUMS over every file and SHA256SUMS.sig
    /// (namespace fieldkit-kit). Used by packaging/build-kit.
    Sign(KitSignArgs),
}

#[derive(Debug, Args)]
pub struct KitVerifyArgs {
    /// The kit folder [default: the folder holding this fieldkit binary].
    pub dir: Option<PathBuf>,
    /// The lab's allowed_signers file [default: the kit's own, which only shows the kit
    /// is self-consistent: compare the printed fingerprint with the published one].
    #[arg(long, value_name = "FILE")]
    pub allowed_signers: Option<PathBuf>,
    /// The key fingerprint (SHA256:…) the kit must be signed with.
    #[arg(long, value_name = "SHA256:…")]
    pub fingerprint: Option<String>,
    /// Print the report as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct KitSignArgs {
    /// The kit folder to seal (must not hold SHA256SUMS yet).
    pub dir: PathBuf,
    /// OpenSSH Ed25519 private key (e.g. made with `fieldkit keygen`).
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
    /// File holding the key's passphrase (otherwise FIELDKIT_KEY_PASSPHRASE or a prompt).
    #[arg(long, value_name = "FILE")]
    pub passphrase_file: Option<PathBuf>,
}
