//! Command-line argument types, and nothing else: parsing into these structs is clap's job,
//! acting on them is `commands`'. Flags are documented here once and rendered to `--help`.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// The worker threads to use for `--threads`: omitted or 0 is auto, the number of CPUs
/// (2 if the system does not say); the manifest records the number used.
pub fn worker_threads(given: Option<usize>) -> usize {
    match given {
        Some(n) if n > 0 => n,
        _ => std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2),
    }
}

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
    /// Build, inspect and query known-file hash sets (.fkhs).
    Hashset(HashsetArgs),
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
    /// Lab batch mode: run a job file of exhibits (one bundle each, resumable, sharded by
    /// Slurm arrays or Kubernetes Indexed Jobs), or `batch status OUT` (docs/lab.md).
    Batch(BatchArgs),
    /// Case index: one SQLite database over many bundles (each re-verified first), and
    /// `index query` for shared files, a hash's appearances, findings (docs/lab.md).
    Index(IndexArgs),
    /// Look into a disk image or device without mounting it: container, volumes, file
    /// systems, labels, sizes.
    Image(ImageArgs),
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct BatchArgs {
    #[command(subcommand)]
    pub command: Option<BatchCommand>,
    /// The job file (TOML: `[case]` defaults, one `[[job]]` per exhibit; docs/lab.md).
    #[arg(value_name = "JOBS.toml", required = true)]
    pub jobs: Option<PathBuf>,
    /// Output folder: one `<exhibit>/` folder per job, and the batch log(s).
    #[arg(long, value_name = "DIR", required = true)]
    pub out: Option<PathBuf>,
    /// Run only shard K of N (0 ≤ K < N; jobs by a hash of the exhibit id) [default: from
    /// SLURM_ARRAY_TASK_ID/_COUNT/_MIN/_MAX or JOB_COMPLETION_INDEX + FIELDKIT_SHARD_COUNT,
    /// else all jobs].
    #[arg(long, value_name = "K/N")]
    pub shard: Option<String>,
    /// Jobs run at once [default: min(jobs, max(2, CPUs/4))].
    #[arg(long, value_name = "N")]
    pub jobs_at_once: Option<usize>,
    /// Collect threads per job [default: max(1, CPUs / jobs at once)].
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// Lock lease in seconds: a job lock whose heartbeat is older is stale.
    #[arg(long, value_name = "SECS", default_value = "300")]
    pub lease: u64,
    /// When a source changed since its bundle was made, collect it again into a new
    /// bundle (the old one is moved aside) instead of only reporting it.
    #[arg(long)]
    pub recollect_changed: bool,
    /// Print the end-of-run records as JSON on stdout instead of the table.
    #[arg(long)]
    pub json: bool,
    /// No progress lines on stderr.
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct IndexArgs {
    #[command(subcommand)]
    pub command: Option<IndexCommand>,
    /// Bundles (.zip, .zip.age) or folders searched for them (`aside-*` folders skipped).
    #[arg(value_name = "BUNDLE_OR_DIR", required = true)]
    pub inputs: Vec<PathBuf>,
    /// The index to create (must not exist yet).
    #[arg(long, value_name = "case.sqlite", required = true)]
    pub out: Option<PathBuf>,
    /// Index the content of bundles that do not verify too, marked with their verdict
    /// [default: such a bundle is refused: recorded with its verdict, no content, exit 1].
    #[arg(long)]
    pub allow_invalid: bool,
    /// Age identity file or OpenSSH key to open encrypted bundles.
    #[arg(long, value_name = "FILE")]
    pub identity_file: Option<PathBuf>,
    /// Print one JSON object per bundle indexed.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum IndexCommand {
    /// Ask a case index: --hash H, --shared or --findings SEVERITY.
    Query(IndexQueryArgs),
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("question").required(true).args(["hash", "shared", "findings"])))]
pub struct IndexQueryArgs {
    /// The case index (from `fieldkit index … --out`).
    pub db: PathBuf,
    /// Where else does this file appear (SHA-256, MD5 or SHA-1), in which exhibits.
    #[arg(long, value_name = "HASH")]
    pub hash: Option<String>,
    /// Files (by SHA-256) present in two or more exhibits.
    #[arg(long)]
    pub shared: bool,
    /// Findings of at least this severity (info, low, medium, high, critical).
    #[arg(long, value_name = "SEVERITY")]
    pub findings: Option<String>,
    /// JSON array of objects.
    #[arg(long, conflicts_with = "csv")]
    pub json: bool,
    /// CSV with a header line (RFC 4180).
    #[arg(long)]
    pub csv: bool,
}

#[derive(Debug, Subcommand)]
pub enum BatchCommand {
    /// Merge every shard's log under OUT into one view (latest record per exhibit) and
    /// list the job locks still present (running or stale).
    Status(BatchStatusArgs),
}

#[derive(Debug, Args)]
pub struct BatchStatusArgs {
    /// The batch output folder.
    pub out: PathBuf,
    /// Print the merged view as JSON.
    #[arg(long)]
    pub json: bool,
    /// Lock lease in seconds (as given to the batch).
    #[arg(long, value_name = "SECS", default_value = "300")]
    pub lease: u64,
}

#[derive(Debug, Args)]
pub struct ImageArgs {
    #[command(subcommand)]
    pub command: ImageCommand,
}

#[derive(Debug, Subcommand)]
pub enum ImageCommand {
    /// What an examiner looks at before choosing a profile: the container (format,
    /// size, segments, its own stored hashes), the volume system, each volume (number,
    /// offset, size, type, name, file system, label, or why it cannot be read) and the
    /// profile `collect --source IMAGE` would choose. Reads only metadata; exit 0, or 2
    /// when the image cannot be opened.
    Info(ImageInfoArgs),
}

#[derive(Debug, Args)]
pub struct ImageInfoArgs {
    /// The image (raw/dd, the first file of a split set, E01, VMDK, VHD, VHDX) or a
    /// block device.
    pub image: PathBuf,
    /// Print JSON (the container, volume system and volumes as the library describes
    /// them, each volume's file system, the profile choice).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct CollectArgs {
    /// What to collect from: the running system's root (default), a mounted evidence
    /// folder, or a disk image or block device (raw, split raw, E01, VMDK, VHD(X); read
    /// without mounting).
    #[arg(long, value_name = "PATH")]
    pub source: Option<PathBuf>,
    /// Built-in profile name, a profile TOML file, or a third-party definition imported on
    /// the fly: `kape:TARGET`, `uac:PROFILE[@OS]`, `fa:ARTIFACT,…` (with --definitions)
    /// [default: the OS triage profile for the running system, `all-files` for any other
    /// source].
    #[arg(long, value_name = "NAME|FILE|SPEC")]
    pub profile: Option<String>,
    /// Folder of the KAPE, UAC or ForensicArtifacts library a `kape:`/`uac:`/`fa:`
    /// profile is imported from (none is embedded in fieldkit).
    #[arg(long, value_name = "DIR")]
    pub definitions: Option<PathBuf>,
    /// Encrypt the bundle to this age X25519 (`age1…`) or `ssh-ed25519` public key, or to
    /// every key in this file (repeatable): writes BUNDLE.zip.age, signed, decryptable with
    /// `age -d`; the plain bundle is never written to the output device.
    #[arg(long = "encrypt-to", value_name = "RECIPIENT")]
    pub encrypt_to: Vec<String>,
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
    /// Worker threads; 0 means auto, the number of CPUs (as `xz -T0`) [default: auto].
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
    /// Known-good hash set (.fkhs, repeatable): matching files are recorded with their
    /// hashes and not stored.
    #[arg(long, value_name = "SET")]
    pub known_good: Vec<PathBuf>,
    /// Known-bad hash set (.fkhs, repeatable): matching files are always stored (even past
    /// size limits), raise a finding and an alert on the terminal.
    #[arg(long, value_name = "SET")]
    pub known_bad: Vec<PathBuf>,
    /// Store known-good files too.
    #[arg(long)]
    pub keep_known: bool,
    /// Run no triage analyzer (files are still read, hashed and stored).
    #[arg(long)]
    pub no_triage: bool,
    /// Do not re-read and check the finished bundle (verify-after-write is on by default).
    #[arg(long)]
    pub no_verify: bool,
    /// Deflate bundle members where a quick trial says it pays (`auto`), or store every
    /// member (`never`). Compressed bundles stay readable by unzip, 7-Zip and Python's
    /// zipfile; hashes are always of the content as read.
    #[arg(long, value_name = "WHEN", default_value = "auto", value_parser = ["auto", "never"])]
    pub compress: String,
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
    /// With a disk image or device as --source: the volume to collect (its number in
    /// `fieldkit image info`), or `all` [default: every volume with a file system
    /// fieldkit can read].
    #[arg(long, value_name = "N|all")]
    pub partition: Option<String>,
    /// With an image: also store the content of deleted entries (NTFS MFT records not in
    /// use); without it they are recorded (name, times, size, runs) and not read.
    #[arg(long)]
    pub deleted: bool,
    /// With an image: hash the whole media (SHA-256, and MD5/SHA-1 when the container
    /// stores them, compared) beside the collection and record it in the manifest.
    #[arg(long)]
    pub hash_image: bool,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The bundle (.zip) to verify. With more than one, or a folder (searched for
    /// *.zip / *.zip.age, `aside-*` folders skipped), or --from: bulk verification in
    /// parallel with a summary table (docs/lab.md).
    #[arg(value_name = "BUNDLE", required_unless_present = "from")]
    pub bundles: Vec<PathBuf>,
    /// Bulk: also verify the bundles listed in this file, one path per line (`-`: stdin).
    #[arg(long, value_name = "LIST")]
    pub from: Option<PathBuf>,
    /// Bulk: bundles verified at once [default: number of CPUs].
    #[arg(long, value_name = "N")]
    pub parallel: Option<usize>,
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
    #[arg(long, value_name = "FILE", conflicts_with = "fingerprint")]
    pub pubkey: Option<PathBuf>,
    /// The signer's key fingerprint as the paper log has it (`SHA256:…`, what collect
    /// printed for a one-time key); the signature must be by exactly that key.
    #[arg(long, value_name = "SHA256:…", conflicts_with = "allowed_signers")]
    pub fingerprint: Option<String>,
    /// Print the report as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// Decrypt an encrypted bundle (.zip.age) on the fly with this age identity file or
    /// OpenSSH Ed25519 private key.
    #[arg(long, value_name = "FILE")]
    pub identity_file: Option<PathBuf>,
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
    /// Import KAPE targets, UAC artifacts/profiles or ForensicArtifacts definitions as a
    /// native profile: `kape:KapeTriage`, `uac:ir_triage[@OS]`, `fa:A,B` (`*`: all).
    Import {
        /// What to import: kape:NAME[,…], uac:PROFILE|ARTIFACT[,…][@OS], fa:NAME[,…].
        spec: String,
        /// Folder of the library (KapeFiles, UAC, ForensicArtifacts' artifacts/data).
        #[arg(long, value_name = "DIR")]
        definitions: PathBuf,
        /// Write the native profile TOML here (never overwrites) instead of stdout.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Print, per definition, mapped / partial / not applicable / error with FILE:LINE
        /// and what was lost (instead of the TOML, unless --out is given too).
        #[arg(long)]
        report: bool,
        /// The report as JSON (with --report).
        #[arg(long, requires = "report")]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub struct HashsetArgs {
    #[command(subcommand)]
    pub action: HashsetAction,
}

#[derive(Debug, Subcommand)]
pub enum HashsetAction {
    /// Compile hash lists (NSRL, hashdeep, *sum files, VICS JSON) into a .fkhs set.
    Build(Box<HashsetBuildArgs>),
    /// Check a set completely and print what it is and what it was built from.
    /// Exit status: 0 intact, 1 damaged or modified, 2 cannot be read.
    Info(HashsetInfoArgs),
    /// Look digests up in a set; one tab-separated line per digest: match|miss, algorithm,
    /// digest, category, name. Exit status: 0 if any matched, 1 if none did, 2 on error.
    Lookup(HashsetLookupArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum HashsetKindArg {
    KnownGood,
    KnownBad,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum HashsetFormatArg {
    Auto,
    /// NSRL RDS v3 SQLite database (table FILE).
    NsrlSqlite,
    /// NSRL RDS 2.x NSRLFile.txt.
    NsrlTxt,
    /// hashdeep output (%%%% HASHDEEP-1.0 header).
    Hashdeep,
    /// md5sum/sha1sum/sha256sum output (GNU or --tag) or one digest per line.
    Sums,
    /// Project VIC / CAID VICS JSON (OData).
    Vics,
}

#[derive(Debug, Args)]
pub struct HashsetBuildArgs {
    /// Input hash lists, read in this order (the order decides which source and
    /// category an entry found in several inputs keeps).
    #[arg(required = true, value_name = "INPUT")]
    pub inputs: Vec<PathBuf>,
    /// The set file to write (written under a temporary name, renamed when complete).
    #[arg(long, value_name = "FILE.fkhs")]
    pub out: PathBuf,
    /// What a match means.
    #[arg(long, value_enum)]
    pub kind: HashsetKindArg,
    /// Set name shown in findings and reports [default: the output file's stem].
    #[arg(long, value_name = "TEXT")]
    pub name: Option<String>,
    /// Label for entries whose input gives no category [default: the kind].
    #[arg(long, value_name = "TEXT")]
    pub category: Option<String>,
    /// Free text stored in the set: where the sources came from, release, date.
    #[arg(long, value_name = "TEXT")]
    pub description: Option<String>,
    /// Input format for every input [default: detected per input].
    #[arg(long, value_enum, default_value = "auto")]
    pub format: HashsetFormatArg,
    /// Algorithms to store, comma-separated [default: every one the inputs have].
    #[arg(long, value_name = "ALGS")]
    pub algorithms: Option<String>,
    /// Count and skip malformed lines instead of stopping at the first one.
    #[arg(long)]
    pub skip_malformed: bool,
    /// TOML file mapping category codes to labels, e.g. `1 = "CSAM"`.
    #[arg(long, value_name = "FILE")]
    pub category_map: Option<PathBuf>,
    /// Label one category code (repeatable; overrides --category-map).
    #[arg(long = "category-label", value_name = "CODE=LABEL")]
    pub category_labels: Vec<String>,
    /// Leave out records with this category code (repeatable).
    #[arg(long = "exclude-category", value_name = "CODE")]
    pub exclude_categories: Vec<String>,
    /// Directory for temporary sorted runs [default: the output's directory].
    #[arg(long = "tmp", value_name = "DIR")]
    pub tmp_dir: Option<PathBuf>,
    /// Memory for the sort buffer, e.g. 512MiB, 4G [default: 1GiB].
    #[arg(long, value_name = "SIZE")]
    pub sort_memory: Option<String>,
    /// Replace an existing output file.
    #[arg(long)]
    pub force: bool,
    /// Print the build report as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// No progress lines on stderr.
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct HashsetInfoArgs {
    /// The set (.fkhs).
    pub set: PathBuf,
    /// Print as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct HashsetLookupArgs {
    /// The set (.fkhs).
    pub set: PathBuf,
    /// Hex digests (MD5, SHA-1 or SHA-256, told apart by length).
    #[arg(value_name = "HASH")]
    pub hashes: Vec<String>,
    /// Also read digests from stdin, one per line (sha256sum/md5sum output works: the
    /// rest of the line is echoed as the name).
    #[arg(long)]
    pub stdin: bool,
    /// One JSON object per digest on stdout instead of tab-separated lines.
    #[arg(long)]
    pub json: bool,
    /// Check every block of the set before looking up (default: blocks are checked
    /// when first used; small sets are always checked completely).
    #[arg(long)]
    pub verify_all: bool,
    /// Print counts, throughput and memory use on stderr at the end.
    #[arg(long)]
    pub stats: bool,
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
    /// Worker threads; 0 means auto, the number of CPUs (as `xz -T0`) [default: auto].
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// Treat each path as a disk image or device and hash every file of its readable
    /// volumes (named IMAGE/volN/PATH), read without mounting.
    #[arg(long)]
    pub image: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    Text,
    Json,
    Csv,
    Html,
    /// CASE/UCO 1.x JSON-LD (as the bundle's case.jsonld, plus the bundle file's hash).
    Case,
    /// sleuthkit 3.x bodyfile of every recorded time (`mactime -b FILE`).
    Bodyfile,
    /// Timesketch JSONL: an event per time of each file and per finding.
    Timeline,
    /// Timesketch CSV: the same events with a header line.
    TimelineCsv,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The bundle (.zip).
    pub bundle: PathBuf,
    /// Output format; csv lists the findings; case, bodyfile, timeline, timeline-csv
    /// export for CASE/UCO tools, sleuthkit's mactime and Timesketch.
    #[arg(long, value_enum, default_value = "text")]
    pub format: ReportFormat,
    /// Write to this file instead of stdout (never overwrites).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Check the signature against this public key (otherwise: the key in the bundle).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["allowed_signers", "fingerprint"])]
    pub pubkey: Option<PathBuf>,
    /// OpenSSH allowed_signers file; requires --identity.
    #[arg(
        long,
        value_name = "FILE",
        requires = "identity",
        conflicts_with = "fingerprint"
    )]
    pub allowed_signers: Option<PathBuf>,
    #[arg(long, value_name = "NAME", requires = "allowed_signers")]
    pub identity: Option<String>,
    /// The signer's key fingerprint as the paper log has it (`SHA256:…`).
    #[arg(long, value_name = "SHA256:…")]
    pub fingerprint: Option<String>,
    /// Decrypt an encrypted bundle (.zip.age) on the fly with this age identity file or
    /// OpenSSH Ed25519 private key.
    #[arg(long, value_name = "FILE")]
    pub identity_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct LiveArgs {
    /// Also write the captures: FILE.json (one JSON document, with FILE.json.sha256) or
    /// DIR (live/*.json, actions.jsonl, findings.jsonl and SHA256SUMS, as in a bundle).
    /// Never overwrites; refused on the examined system's own filesystem and inside the
    /// folder holding fieldkit.
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
    /// OpenSSH Ed25519 private key to sign what --out wrote (SHA256SUMS.sig, or
    /// FILE.json.sig); without it the output is hashed but not signed.
    #[arg(long, value_name = "FILE", requires = "out")]
    pub key: Option<PathBuf>,
    /// File holding the key's passphrase (otherwise FIELDKIT_KEY_PASSPHRASE or a prompt).
    #[arg(long, value_name = "FILE", requires = "key")]
    pub passphrase_file: Option<PathBuf>,
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
