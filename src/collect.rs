//! `collect` as a library call: check the request, resolve the profile against the
//! source, run the engine, finalize and sign the bundle, read it back (verify-after-write)
//! and write the sidecars.
//!
//! Owns the run's lifecycle and the refusals that protect the evidence: the output must
//! not be on the filesystem being collected, nor the directory holding fieldkit itself.
//! Never writes anything before those checks pass, and never leaves a file that looks
//! complete when the run failed (the `.part` name stays until finalization succeeds).

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use anyhow::{Context, anyhow};
use base64::Engine as _;

use crate::acquire::spool::Spool;
use crate::acquire::{Engine, Output, Progress};
use crate::action::{Action, Outcome};
use crate::bundle::manifest::{self, Manifest};
use crate::bundle::verify::{self, Report, Trust, Verdict};
use crate::bundle::writer::BundleWriter;
use crate::bundle::{self, ACTIONS_JSONL, FILES_JSONL, FINDINGS_JSONL, MANIFEST, SIGNER_PUB};
use crate::hashing::{AlgSet, hex};
use crate::plan::Plan;
use crate::profile::Profile;
use crate::sign::{self, Signer};
use crate::source::mounts::MountTable;
use crate::source::walk::{Avoid, file_id};
use crate::triage::Analyzer;

mod metadata;

/// Called with the live step's summary as soon as it is known.
pub type LiveNotice = Box<dyn Fn(&crate::live::LiveSummary) + Send + Sync>;

pub struct Request {
    pub source: PathBuf,
    pub profile: Profile,
    pub out_dir: PathBuf,
    pub case: manifest::Case,
    pub reference_time: Option<String>,
    pub algs: AlgSet,
    pub signer: Signer,
    pub max_file_size: Option<u64>,
    pub threads: usize,
    pub verify_after_write: bool,
    /// Capture volatile state first when the source is the running system.
    pub capture_live: bool,
    /// Known-good / known-bad hash sets, and whether to store known-good files anyway.
    pub known: Option<crate::hashset::KnownSets>,
    pub keep_known: bool,
    /// `--since/--until`, and whether to collect only files inside it.
    pub window: Option<crate::triage::window::ActivityWindow>,
    pub window_only: bool,
    /// Time limit of each live capture.
    pub live_timeout: std::time::Duration,
    /// Told what the live step found as soon as it is known (before files are read).
    pub on_live: Option<LiveNotice>,
    pub command_line: Vec<OsString>,
    pub analyzers: Vec<Box<dyn Analyzer>>,
    /// `--encrypt-to`: the bundle is written age-encrypted to these recipients.
    pub encrypt_to: Vec<crate::bundle::age::Recipient>,
    /// False when `profile` is only the default: an image source then picks the profile
    /// from the file systems it finds (and says so).
    pub profile_given: bool,
    /// How to read a source that is a disk image or device.
    pub image: ImageOptions,
    /// `--compress`: members deflated where it pays, or all stored.
    pub compression: crate::bundle::compress::Compression,
}

/// `collect --source IMAGE` options.
#[derive(Debug, Clone, Copy)]
pub struct ImageOptions {
    /// `--partition N|all`.
    pub partition: crate::source::image::source::PartitionChoice,
    /// `--deleted`: store the content of deleted entries too.
    pub read_deleted: bool,
    /// `--hash-image`: hash the whole media beside the collection.
    pub hash_image: bool,
}

impl Default for ImageOptions {
    fn default() -> Self {
        ImageOptions {
            partition: crate::source::image::source::PartitionChoice::All,
            read_deleted: false,
            hash_image: false,
        }
    }
}

/// True if `path` is something to read as a disk image: a regular file or a block
/// device (the image reader then detects the container by its content).
pub fn is_image_input(path: &Path) -> bool {
    match std::fs::metadata(path) {
        Ok(m) if m.is_file() => true,
        #[cfg(unix)]
        Ok(m) => {
            use std::os::unix::fs::FileTypeExt;
            m.file_type().is_block_device()
        }
        _ => false,
    }
}

/// Why a collection did not produce a finalized bundle.
#[derive(Debug)]
pub enum Failure {
    /// Refused before anything was written (bad source, output inside the source, …).
    Refused(anyhow::Error),
    /// Writing the bundle failed (disk full, I/O error); the partial `.part` file, if any,
    /// is not a valid bundle.
    Output {
        error: String,
        partial: Option<PathBuf>,
    },
}

/// A refusal, unless the device is full (or over quota): that is an output failure
/// (exit 3) even before the first byte of the bundle.
fn refused_unless_full(e: anyhow::Error) -> Failure {
    let full = e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>().is_some_and(|io| {
            io.kind() == std::io::ErrorKind::StorageFull
                || io.kind() == std::io::ErrorKind::QuotaExceeded
        })
    });
    if full {
        Failure::Output {
            error: format!("{e:#}"),
            partial: None,
        }
    } else {
        Failure::Refused(e)
    }
}

/// A sealed, signed bundle and what is known about it.
pub struct Collected {
    /// Where the bundle is: its final name once finalized, else the name of the state it
    /// reached (`NAME.zip.part`, `NAME.zip.verified.part`; `bundle::lifecycle`).
    pub bundle: PathBuf,
    /// The name it has once finalized.
    pub final_path: PathBuf,
    /// The state it stopped in, when it is not under its final name.
    pub state: Option<crate::bundle::lifecycle::State>,
    /// Why finalization stopped (a sidecar or a rename failed, e.g. a full disk); `None`
    /// when finalized, or when verify-after-write failed (`verify` says so).
    pub finalize_error: Option<String>,
    pub sha256: String,
    pub size: u64,
    /// Each sidecar tried, and why it could not be written (it was then removed).
    pub sidecars: Vec<SidecarOutcome>,
    pub manifest: Manifest,
    pub verify: Option<Report>,
    /// Why files were not collected (status and reason, with counts and examples): the
    /// report's count over the records files.jsonl holds.
    pub not_collected: Vec<crate::report::ReasonCount>,
    /// The findings by severity and kind: findings.jsonl's tally.
    pub findings: crate::report::summary::FindingsSummary,
    pub one_time_key: bool,
    pub signer_fingerprint: String,
    pub signer_public: String,
    pub elapsed_seconds: f64,
    /// Where the time went, for the paper log and the benchmark.
    pub timings: Timings,
    /// What the live step found (open encrypted volumes above all), when it ran.
    pub live: Option<crate::live::LiveSummary>,
    /// Encrypted bundles: SHA-256 of the plain bundle inside (`age -d` gives it back) and
    /// the run's file key (memory only: to read the findings back for the summary).
    pub inner_sha256: Option<String>,
    pub file_key: Option<[u8; 16]>,
}

/// One sidecar (`NAME.zip.sha256`, `NAME.zip.sig`) and, when it failed, why.
#[derive(Debug, Clone)]
pub struct SidecarOutcome {
    pub path: PathBuf,
    pub error: Option<String>,
}

/// Seconds spent in each phase of a run.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct Timings {
    /// Walk, read, hash, analyze and store every file.
    pub acquire: f64,
    /// Manifest and logs into the bundle, SHA256SUMS, signature, central directory, fsync.
    pub seal: f64,
    /// Verify-after-write: re-read the whole bundle from the output device.
    pub verify: f64,
    /// Whole-file hash (when not verifying) and the sidecars.
    pub sidecars: f64,
}

/// True if `path` is the running system's root (collecting the live system).
/// The live encryption step's evidence that drive `letter` is a BitLocker volume that is
/// unlocked (an open volume of mechanism `bitlocker` on that drive), if it found one.
fn bitlocker_unlocked(lc: Option<&crate::live::LiveCapture>, letter: char) -> Option<String> {
    fn find(v: &serde_json::Value, drive: &str) -> Option<String> {
        match v {
            serde_json::Value::Object(m) => {
                if m.get("mechanism").and_then(|x| x.as_str()) == Some("bitlocker")
                    && m.get("device")
                        .and_then(|x| x.as_str())
                        .is_some_and(|d| d.trim_end_matches('\\').eq_ignore_ascii_case(drive))
                {
                    return Some(
                        m.get("evidence")
                            .and_then(|x| x.as_str())
                            .unwrap_or("BitLocker, unlocked")
                            .to_string(),
                    );
                }
                m.values().find_map(|x| find(x, drive))
            }
            serde_json::Value::Array(a) => a.iter().find_map(|x| find(x, drive)),
            _ => None,
        }
    }
    let (_, bytes) = lc?
        .artifacts
        .iter()
        .find(|(n, _)| n == "live/encryption.json" || n == "live/open_volumes.json")?;
    let v: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    find(&v, &format!("{letter}:"))
}

pub fn is_live_root(path: &Path) -> bool {
    #[cfg(unix)]
    {
        path == Path::new("/")
    }
    #[cfg(windows)]
    {
        let sys = std::env::var("SystemDrive").unwrap_or_else(|_| "C:".into());
        let s = path
            .to_string_lossy()
            .trim_start_matches(r"\\?\")
            .to_ascii_uppercase();
        s.trim_end_matches('\\') == sys.to_ascii_uppercase()
    }
}

/// The default source: `/`, or the system drive on Windows.
pub fn default_source() -> PathBuf {
    #[cfg(windows)]
    {
        let sys = std::env::var("SystemDrive").unwrap_or_else(|_| "C:".into());
        PathBuf::from(format!("{sys}\\"))
    }
    #[cfg(not(windows))]
    {
        PathBuf::from("/")
    }
}

/// An output path resolved without creating anything: the canonical path of the deepest
/// existing ancestor (symlinks resolved) followed by the components that do not exist yet.
#[derive(Debug, Clone)]
pub struct ResolvedOut {
    pub path: PathBuf,
    /// How many trailing components of `path` do not exist yet (create_dir_all makes them).
    pub missing: usize,
}

/// Resolve `path` as the kernel would once the missing directories exist: each existing
/// prefix is canonicalized (so a symlink into the source is seen through), `.` is dropped
/// and `..` pops the previous component — after canonicalizing, so `..` leaves the real
/// parent of a symlinked directory, and lexically only within the part that does not exist
/// yet (`x/nothere/../S` is `x/S`, as it would be after `mkdir -p`).
fn resolve_maybe_missing(path: &Path) -> std::io::Result<ResolvedOut> {
    use std::path::Component;
    let abs = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()?.join(path)
    };
    let mut out = PathBuf::new();
    let mut missing = 0usize;
    for comp in abs.components() {
        match comp {
            Component::Prefix(_) | Component::RootDir => out.push(comp.as_os_str()),
            Component::CurDir => {}
            Component::ParentDir => {
                // Either a missing component (lexical) or the parent of a canonical path.
                out.pop();
                missing = missing.saturating_sub(1);
            }
            Component::Normal(name) => {
                out.push(name);
                if missing > 0 {
                    missing += 1;
                    continue;
                }
                match std::fs::symlink_metadata(&out) {
                    Ok(_) => out = out.canonicalize()?,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => missing = 1,
                    Err(e) => return Err(e),
                }
            }
        }
    }
    Ok(ResolvedOut { path: out, missing })
}

fn device_of(path: &Path) -> Option<u64> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(path).ok().map(|m| m.dev())
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}

/// Check the output location against the source; returns the resolved output directory.
/// Creates nothing: every refusal happens before the first directory is made.
pub fn check_output(source: &Path, out_dir: &Path) -> anyhow::Result<PathBuf> {
    let out = resolve_maybe_missing(out_dir)
        .with_context(|| format!("{}: cannot resolve output directory", out_dir.display()))?;
    check_resolved(source, &out.path)?;
    Ok(out.path)
}

fn check_resolved(source: &Path, out: &Path) -> anyhow::Result<()> {
    if let Some(exe_dir) = std::env::current_exe()
        .ok()
        .and_then(|e| e.canonicalize().ok())
        .and_then(|e| e.parent().map(Path::to_path_buf))
    {
        if out == exe_dir {
            anyhow::bail!(
                "{}: refusing to write next to the fieldkit binary (the kit may be read-only \
                 and must stay unchanged); use a folder beside the kit or another device",
                out.display()
            );
        }
        // Inside a sealed kit, new files would make `kit verify` fail on the next machine.
        if out.starts_with(&exe_dir) && crate::kit::is_sealed_kit(&exe_dir) {
            anyhow::bail!(
                "{}: refusing to write inside the fieldkit kit {} (it must stay unchanged and \
                 verifiable); write to a folder beside the kit, e.g. {}",
                out.display(),
                exe_dir.display(),
                exe_dir
                    .parent()
                    .map(|p| p.join("evidence").display().to_string())
                    .unwrap_or_else(|| "another device".into())
            );
        }
    }
    if out.starts_with(source) {
        // Inside the source: only acceptable on a different device (a USB stick mounted
        // under the live root), which the walk then avoids.
        let mut probe = out.to_path_buf();
        while !probe.exists() {
            if !probe.pop() {
                break;
            }
        }
        let same_device = match (device_of(source), device_of(&probe)) {
            (Some(a), Some(b)) => a == b,
            _ => true,
        };
        if same_device {
            anyhow::bail!(
                "{}: refusing to write inside the source {} on the same filesystem: that would \
                 change the evidence. Write to another device (e.g. the collection USB drive)",
                out.display(),
                source.display()
            );
        }
    }
    Ok(())
}

/// Create the checked output directory, then check again what it really is: a directory
/// swapped for a symlink between the check and the creation must not redirect the output
/// into the source. On a failed re-check the directories made here (empty) are removed.
fn create_output(source: &Path, out_dir: &Path) -> anyhow::Result<PathBuf> {
    let planned = resolve_maybe_missing(out_dir)
        .with_context(|| format!("{}: cannot resolve output directory", out_dir.display()))?;
    std::fs::create_dir_all(&planned.path)
        .with_context(|| format!("{}: cannot create output directory", planned.path.display()))?;
    let recheck = planned
        .path
        .canonicalize()
        .with_context(|| {
            format!(
                "{}: cannot resolve output directory",
                planned.path.display()
            )
        })
        .and_then(|real| check_resolved(source, &real).map(|()| real));
    match recheck {
        Ok(real) => Ok(real),
        Err(e) => {
            let mut made = planned.path.clone();
            for _ in 0..planned.missing {
                // remove_dir only removes an empty directory: nothing else is touched.
                let _ = std::fs::remove_dir(&made);
                made.pop();
            }
            Err(e)
        }
    }
}

fn sanitize(part: &str) -> String {
    let s: String = part
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    s.trim_matches(['_', '.']).chars().take(40).collect()
}

fn bundle_file_name(
    case: &manifest::Case,
    host: Option<&str>,
    start: &jiff::Timestamp,
    id: &str,
) -> String {
    let mut parts = Vec::new();
    if let Some(c) = case
        .case_number
        .as_deref()
        .map(sanitize)
        .filter(|s| !s.is_empty())
    {
        parts.push(c);
    }
    if let Some(e) = case
        .exhibit
        .as_deref()
        .map(sanitize)
        .filter(|s| !s.is_empty())
    {
        parts.push(e);
    }
    parts.push(
        host.map(sanitize)
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "host".into()),
    );
    parts.push(start.strftime("%Y%m%dT%H%M%SZ").to_string());
    parts.push(id[..8.min(id.len())].to_string());
    format!("{}.zip", parts.join("_"))
}

fn encode_args(args: &[OsString]) -> (Vec<String>, Vec<String>) {
    let mut text = Vec::new();
    let mut b64 = Vec::new();
    for a in args {
        let bytes = a.as_encoded_bytes();
        match std::str::from_utf8(bytes) {
            Ok(s) => text.push(s.to_string()),
            Err(_) => {
                text.push(String::from_utf8_lossy(bytes).into_owned());
                b64.push(base64::engine::general_purpose::STANDARD.encode(bytes));
            }
        }
    }
    (text, b64)
}

/// Drop the bundle's cached pages so verify-after-write reads from the output device.
fn drop_cache(path: &Path) {
    #[cfg(target_os = "linux")]
    if let Ok(f) = std::fs::File::open(path) {
        use std::os::unix::io::AsRawFd;
        // SAFETY: fd is valid for the lifetime of `f`; fadvise only drops clean pages.
        unsafe {
            libc::posix_fadvise(f.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED);
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = path;
}

/// Run a collection. `interrupt` is set by SIGINT/SIGTERM; `progress` is polled by the
/// caller's display.
pub fn collect(
    mut req: Request,
    interrupt: &AtomicBool,
    progress: &Progress,
) -> Result<Collected, Failure> {
    let t0 = Instant::now();
    let start = jiff::Timestamp::now();
    let start_utc = start.to_string();
    let (time_zone, utc_offset, start_local) = crate::host::time_zone();
    let source = req
        .source
        .canonicalize()
        .with_context(|| format!("{}: source is not accessible", req.source.display()))
        .map_err(Failure::Refused)?;
    let image_input = !source.is_dir() && is_image_input(&source);
    if !source.is_dir() && !image_input {
        return Err(Failure::Refused(anyhow!(
            "{}: source is not a directory, a disk image or a block device",
            source.display()
        )));
    }
    if !image_input && (req.image.read_deleted || req.image.hash_image) {
        return Err(Failure::Refused(anyhow!(
            "{}: --deleted and --hash-image apply to a disk image or device, and this is a folder",
            source.display()
        )));
    }
    let out_dir = check_output(&source, &req.out_dir).map_err(Failure::Refused)?;
    // A disk image or device: opened (container, volumes, file systems) before anything
    // is written, so a damaged image is refused with its one-line reason.
    let mut prepared = if image_input {
        let p = crate::source::image::source::prepare(&source, req.image.partition)
            .map_err(|e| Failure::Refused(anyhow!(e)))?;
        Some(p)
    } else {
        None
    };
    if let Some(p) = prepared.as_mut() {
        let why = if req.profile_given {
            format!("profile {} given with --profile", req.profile.name)
        } else {
            let (name, why) = crate::source::image::source::choose_profile(&p.readable);
            req.profile = crate::profile::load(name).map_err(Failure::Refused)?;
            eprintln!("fieldkit: {}: {why}", source.display());
            format!("chosen from the image: {why}")
        };
        p.manifest.profile_choice = Some(why);
    }
    let reference = match &req.reference_time {
        Some(t) => Some(crate::live::ReferenceTime::parse(t).map_err(Failure::Refused)?),
        None => None,
    };
    let out_dir = create_output(&source, &out_dir).map_err(refused_unless_full)?;

    let live = is_live_root(&source);
    let host = crate::host::host_identity();
    let bundle_id = uuid::Uuid::new_v4().to_string();
    let file_name = bundle_file_name(&req.case, host.hostname.as_deref(), &start, &bundle_id);
    // Members outside files/ carry the start time the manifest records (times.start_utc).
    let metadata_mtime = bundle::zipwriter::header_time(Some(&start_utc));
    let writer = if req.encrypt_to.is_empty() {
        BundleWriter::create(&out_dir, &file_name, metadata_mtime)
    } else {
        BundleWriter::create_encrypted(&out_dir, &file_name, metadata_mtime, &req.encrypt_to)
    }
    .map_err(refused_unless_full)?;
    let mut writer = writer;
    writer.set_compression(req.compression);
    if req.verify_after_write {
        writer.verify_early(req.algs);
    }
    crate::bundle::lifecycle::test_phase("created");
    let part_path = writer.part_path().to_path_buf();
    let output_failure = |error: String| Failure::Output {
        error,
        partial: Some(part_path.clone()),
    };

    let mut actions = vec![Action {
        start_utc: start_utc.clone(),
        end_utc: None,
        action: "collect.start".into(),
        target: Some(source.display().to_string()),
        outcome: Outcome::Ok,
        detail: Some(format!(
            "profile {} ({} rules), output {}, {}",
            req.profile.name,
            req.profile.rules.len(),
            out_dir.display(),
            if live {
                "live system"
            } else if image_input {
                "disk image (read by fieldkit's own readers, nothing mounted)"
            } else {
                "mounted source"
            }
        )),
    }];
    // Volatile state first (RFC 3227): it is gone when the machine is switched off.
    let mut writer = writer;
    let live_capture = if live && req.capture_live {
        progress
            .phase
            .store(crate::acquire::PHASE_LIVE, Ordering::SeqCst);
        let lc = crate::live::capture(&crate::live::LiveOptions {
            reference_time: reference.clone(),
            timeout: req.live_timeout,
            ..Default::default()
        });
        for (name, bytes) in &lc.artifacts {
            writer
                .add_metadata(name, bytes)
                .map_err(|e| output_failure(format!("{e:#}")))?;
        }
        actions.extend(lc.actions.iter().cloned());
        if let Some(notify) = &req.on_live {
            notify(&lc.summary);
        }
        Some(lc)
    } else {
        let why = if !live {
            "the source is not the running system's root"
        } else {
            "--no-live was given"
        };
        actions.push(Action::event(
            "live",
            Outcome::Skipped,
            Some(format!("volatile state not captured: {why}")),
        ));
        None
    };
    progress
        .phase
        .store(crate::acquire::PHASE_ACQUIRE, Ordering::SeqCst);
    let plan_start = crate::timefmt::now_utc();
    // An image: each volume's plan is resolved against its own file system (its homes);
    // the rules, and so every file's limits, are the same for all.
    let mut image_volumes = Vec::new();
    for v in prepared.iter().flat_map(|p| p.readable.iter()) {
        let tree = crate::source::image::source::ImageTree { fs: &*v.fs };
        let (plan, result) = Plan::new_in(&req.profile, &tree, req.max_file_size);
        let homes: Vec<String> = plan.homes.iter().map(|h| home_text(h)).collect();
        actions.push(Action {
            start_utc: crate::timefmt::now_utc(),
            end_utc: Some(crate::timefmt::now_utc()),
            action: "plan.resolve_homes".into(),
            target: Some(format!("{} volume {}", source.display(), v.number)),
            outcome: if result.is_ok() {
                Outcome::Ok
            } else {
                Outcome::Error
            },
            detail: Some(match &result {
                Ok(()) => format!("{} home director(y/ies): {}", homes.len(), homes.join(", ")),
                Err(e) => e.clone(),
            }),
        });
        image_volumes.push(crate::source::image::source::ImageVolume {
            index: v.number,
            offset: v.offset,
            fs: std::sync::Arc::clone(&v.fs),
            info: v.info.clone(),
            plan,
        });
    }
    for v in prepared.iter().flat_map(|p| p.manifest.volumes.iter()) {
        if v.status != "collected" {
            actions.push(Action::event(
                "image.volume",
                Outcome::Skipped,
                Some(format!(
                    "volume {} at offset {} ({} bytes) not collected: {}",
                    v.index,
                    v.offset,
                    v.size,
                    v.reason.as_deref().unwrap_or(&v.status)
                )),
            ));
        }
    }
    let (plan, homes_result) = match image_volumes.first() {
        Some(v) => (v.plan.clone(), Ok(())),
        None => Plan::new(&req.profile, &source, req.max_file_size),
    };
    let homes: Vec<String> = plan
        .homes
        .iter()
        .map(|h| {
            h.iter()
                .map(|c| c.to_string_lossy())
                .collect::<Vec<_>>()
                .join("/")
        })
        .collect();
    if !image_input {
        actions.push(Action {
            start_utc: plan_start,
            end_utc: Some(crate::timefmt::now_utc()),
            action: "plan.resolve_homes".into(),
            target: Some(source.display().to_string()),
            outcome: if homes_result.is_ok() {
                Outcome::Ok
            } else {
                Outcome::Error
            },
            detail: Some(match &homes_result {
                Ok(()) => format!("{} home director(y/ies): {}", homes.len(), homes.join(", ")),
                Err(e) => e.clone(),
            }),
        });
    }
    let mounts = if live || cfg!(target_os = "linux") {
        MountTable::load()
    } else {
        MountTable::default()
    };
    let mut avoid = vec![Avoid::new(
        &out_dir,
        "output_directory",
        "the bundle is being written here".into(),
    )];
    if let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|e| e.canonicalize().ok())
        .and_then(|e| e.parent().map(Path::to_path_buf))
        && dir != Path::new("/")
        && std::fs::metadata(&dir).ok().and_then(|m| file_id(&m))
            != std::fs::metadata(&source).ok().and_then(|m| file_id(&m))
    {
        avoid.push(Avoid::new(
            &dir,
            "fieldkit_kit",
            "the directory fieldkit runs from".into(),
        ));
    }

    let spools = (|| -> std::io::Result<(Spool, Spool)> {
        Ok((
            Spool::new_ordered_in(&out_dir)?,
            Spool::new_ordered_in(&out_dir)?,
        ))
    })()
    .map_err(|e| {
        output_failure(format!(
            "{}: cannot create temporary files: {e}",
            out_dir.display()
        ))
    })?;
    let (records_spool, mut findings_spool) = spools;
    let mut counts = crate::bundle::manifest::Counts::default();
    if let Some(lc) = &live_capture {
        for f in &lc.findings {
            let mut f = f.clone();
            counts.findings += 1;
            f.id = format!("F{:06}", counts.findings);
            findings_spool
                .push_seq(0, &f)
                .map_err(|e| output_failure(format!("writing the findings spool: {e}")))?;
        }
    }
    // A host clock off the responder's reference: a finding, as the summary warns.
    if let Some(f) = reference
        .as_ref()
        .and_then(|r| clock_offset_finding(start.duration_since(r.utc).as_secs_f64(), r))
    {
        let mut f = f;
        counts.findings += 1;
        f.id = format!("F{:06}", counts.findings);
        findings_spool
            .push_seq(0, &f)
            .map_err(|e| output_failure(format!("writing the findings spool: {e}")))?;
    }
    let writer = Mutex::new(writer);
    // Live Windows: the source drive's raw volume, for what the API cannot open (locked
    // files, the NTFS metadata). Said once and loudly when it cannot be read.
    let raw_access = if !image_input && cfg!(windows) {
        let mut raw = crate::source::rawvol::RawAccess::open_for(&source);
        if let Some(r) = raw.as_mut() {
            r.bitlocker = bitlocker_unlocked(live_capture.as_ref(), r.letter);
            match r.warning() {
                Some(w) => {
                    eprintln!("fieldkit: WARNING: {w}");
                    actions.push(Action::event("raw_volume.open", Outcome::Error, Some(w)));
                }
                None => actions.push(Action::event(
                    "raw_volume.open",
                    Outcome::Ok,
                    Some(format!(
                        "{} opened read-only (share read|write|delete) for locked files and \
                         the NTFS metadata{}",
                        r.device,
                        r.bitlocker
                            .as_ref()
                            .map(|b| format!(
                                "; BitLocker-protected and unlocked, raw reads see decrypted \
                                 data ({b})"
                            ))
                            .unwrap_or_default()
                    )),
                )),
            }
        }
        raw
    } else {
        None
    };
    // `\$Extend` is not for the file API (Windows answers "access denied"): its files
    // come from the raw volume when a rule names them.
    if let Some(r) = raw_access.as_ref().filter(|r| r.volume.is_ok()) {
        avoid.push(Avoid::new(
            &source.join("$Extend"),
            "ntfs_metadata",
            format!(
                "NTFS metadata folder: the files in it a rule names are read through the raw \
                 volume {}",
                r.device
            ),
        ));
    }
    let os_source = crate::source::os::OsSource {
        root: &source,
        plan: &plan,
        mounts: &mounts,
        avoid: &avoid,
        raw: raw_access.as_ref(),
    };
    let image_source = crate::source::image::source::ImageSource {
        name: source.display().to_string(),
        volumes: image_volumes,
        read_deleted: req.image.read_deleted,
        scan_notes: Default::default(),
    };
    let engine_source: &dyn crate::source::Source = if image_input {
        &image_source
    } else {
        &os_source
    };
    // --hash-image: the whole media, sequentially on its own threads while the files
    // are collected (container::hash: one reader thread, one hashing thread).
    let media_hash = match prepared.as_ref() {
        Some(p) if req.image.hash_image => {
            let media = std::sync::Arc::clone(p.image.media());
            let started = crate::timefmt::now_utc();
            Some((
                started,
                std::thread::spawn(move || {
                    crate::source::image::container::hash::hash_media(media, |_| {})
                }),
            ))
        }
        _ => None,
    };
    let engine = Engine {
        source: engine_source,
        plan: &plan,
        algs: req.algs,
        analyzers: &req.analyzers,
        threads: req.threads,
        window: req.window,
        window_only: req.window_only,
        known: req.known.as_ref(),
        keep_known: req.keep_known,
        compression: req.compression,
        interrupt,
        progress,
    };
    let output = engine.run(
        &writer,
        Output {
            records: records_spool,
            findings: findings_spool,
            counts,
            actions: Vec::new(),
        },
    );
    let mut output = match output {
        Ok(o) => o,
        Err(msg) => {
            if let Ok(mut w) = writer.lock() {
                let _ = w.abort();
            }
            return Err(output_failure(msg));
        }
    };
    actions.append(&mut output.actions);
    // Each NTFS volume's deleted-entry scan: an action, and a note on the volume in the
    // manifest, naming every MFT record it could not parse (never a silent gap).
    let scan_notes = image_source
        .scan_notes
        .lock()
        .map(|n| n.clone())
        .unwrap_or_default();
    for note in scan_notes {
        actions.push(Action::event(
            "image.deleted_scan",
            if note.unreadable == 0 {
                Outcome::Ok
            } else {
                Outcome::Error
            },
            Some(note.detail.clone()),
        ));
        if let Some(v) = prepared
            .iter_mut()
            .flat_map(|p| p.manifest.volumes.iter_mut())
            .find(|v| v.index == note.volume && v.status == "collected")
        {
            v.notes.push(note.detail);
        }
    }
    crate::bundle::lifecycle::test_phase("acquired");
    if let (Some((started, handle)), Some(p)) = (media_hash, prepared.as_mut()) {
        let result = handle
            .join()
            .unwrap_or_else(|_| Err(std::io::Error::other("the hashing thread failed")));
        let (outcome, detail) = match result {
            Ok(d) => {
                let checks = crate::source::image::container::hash::compare(
                    &p.image.container.stored_hashes,
                    &d,
                );
                let compared: Vec<String> = checks
                    .iter()
                    .map(|c| {
                        if c.matches {
                            format!(
                                "{}: matches the container's stored value {}",
                                c.algorithm, c.stored
                            )
                        } else {
                            format!(
                                "{}: MISMATCH: the container stores {} but the media hashes to {}",
                                c.algorithm, c.stored, c.computed
                            )
                        }
                    })
                    .collect();
                let bad = checks.iter().any(|c| !c.matches);
                let detail = format!(
                    "sha256 {} of {} bytes{}",
                    d.sha256,
                    d.bytes,
                    if compared.is_empty() {
                        String::new()
                    } else {
                        format!("; {}", compared.join("; "))
                    }
                );
                let stored = &p.image.container.stored_hashes;
                p.manifest.media_hashes = Some(crate::bundle::image_record::MediaHashes {
                    sha256: d.sha256.clone(),
                    sha1: stored.sha1.as_ref().map(|_| d.sha1.clone()),
                    md5: stored.md5.as_ref().map(|_| d.md5.clone()),
                    bytes: d.bytes,
                    method: "one sequential read of the whole media on its own threads while the \
                             files were collected (the files' runs are read separately)"
                        .into(),
                    compared,
                });
                if bad {
                    progress.alert(format!(
                        "fieldkit: IMAGE HASH MISMATCH: {}: {detail}",
                        source.display()
                    ));
                }
                (if bad { Outcome::Error } else { Outcome::Ok }, detail)
            }
            Err(e) => (
                Outcome::Error,
                format!("the whole media could not be hashed: {e}"),
            ),
        };
        actions.push(Action {
            start_utc: started,
            end_utc: Some(crate::timefmt::now_utc()),
            action: "image.hash".into(),
            target: Some(source.display().to_string()),
            outcome,
            detail: Some(detail),
        });
    }
    let mut timings = Timings {
        acquire: t0.elapsed().as_secs_f64(),
        ..Timings::default()
    };
    let t_seal = Instant::now();
    progress
        .phase
        .store(crate::acquire::PHASE_FINALIZE, Ordering::SeqCst);
    let interrupted = interrupt.load(Ordering::SeqCst);
    if interrupted {
        actions.push(Action::event(
            "collect.interrupted",
            Outcome::Interrupted,
            Some(
                "SIGINT/SIGTERM received: stopped reading, finalizing an incomplete bundle".into(),
            ),
        ));
    }
    let end = jiff::Timestamp::now();
    let mut writer = writer
        .into_inner()
        .map_err(|_| output_failure("internal error: bundle writer poisoned".into()))?;
    output.counts.bytes_stored = writer.stored_bytes();

    let (args, args_b64) = encode_args(&req.command_line);
    let public = req
        .signer
        .public_openssh()
        .map_err(|e| output_failure(e.to_string()))?;
    let manifest = Manifest {
        format: manifest::FORMAT.into(),
        format_version: manifest::FORMAT_VERSION,
        bundle_id: bundle_id.clone(),
        status: if interrupted {
            "incomplete"
        } else {
            "complete"
        }
        .into(),
        incomplete_reason: interrupted.then(|| {
            format!(
                "interrupted by signal; paths not yet walked are not listed (stopped at {})",
                crate::timefmt::now_utc()
            )
        }),
        tool: crate::host::tool_identity(),
        case: req.case.clone(),
        host,
        source: manifest::Source {
            path: req.source.display().to_string(),
            resolved_path: source.display().to_string(),
            live_system: live,
            fs_type: if image_input {
                None
            } else {
                device_of(&source).and_then(|d| mounts.fs_type(d).map(str::to_string))
            },
            homes,
            raw_volume: raw_access.as_ref().map(|r| manifest::RawVolumeInfo {
                device: r.device.clone(),
                readable: r.volume.is_ok(),
                warning: r.warning(),
                bitlocker: r.bitlocker.clone(),
            }),
        },
        times: manifest::Times {
            start_utc: start_utc.clone(),
            end_utc: end.to_string(),
            start_local,
            time_zone,
            utc_offset_seconds: utc_offset,
            reference: reference.as_ref().map(|r| manifest::ReferenceTime {
                given: r.given.clone(),
                given_utc: r.utc.to_string(),
                host_clock_offset_seconds: start.duration_since(r.utc).as_secs_f64(),
                host_clock_at_start_utc: start_utc.clone(),
            }),
            elapsed_seconds: t0.elapsed().as_secs_f64(),
        },
        profile: manifest::ProfileInfo {
            name: req.profile.name.clone(),
            sha256: req.profile.sha256.clone(),
            origin: req.profile.origin.describe(),
            rules: req.profile.rules.len(),
            max_file_size_override: req.max_file_size,
        },
        // Waits for the SHA-256 of lazily verified sets (hashed in the background since
        // they were opened; see KnownSet::start_file_sha256).
        known_sets: req
            .known
            .as_ref()
            .map(|k| {
                k.manifest_info(interrupt, &mut |name, done, total| {
                    progress.alert(format!(
                        "fieldkit: finishing the SHA-256 of set {name:?} for the manifest \
                         ({} of {} MB read)",
                        done >> 20,
                        total >> 20
                    ))
                })
            })
            .unwrap_or_default(),
        keep_known: req.keep_known,
        window: req.window.map(|w| manifest::WindowInfo {
            since: w.since.map(|t| t.to_string()),
            until: w.until.map(|t| t.to_string()),
            collect_only_inside: req.window_only,
        }),
        hash_algorithms: req
            .algs
            .algorithms()
            .iter()
            .map(|a| a.name().to_string())
            .collect(),
        counts: output.counts.clone(),
        source_empty: (!interrupted && output.counts.considered == 0).then(|| {
            match std::fs::read_dir(&source).map(|mut d| d.next().is_none()) {
                Ok(true) => "empty folder",
                _ => "nothing selected",
            }
            .to_string()
        }),
        signer: manifest::SignerInfo {
            algorithm: "ssh-ed25519".into(),
            fingerprint: req.signer.fingerprint(),
            public_key: public.clone(),
            namespace: sign::NAMESPACE.into(),
            one_time_key: req.signer.one_time,
        },
        command_line: args,
        command_line_b64: args_b64,
        method: manifest::Method {
            read_only: true,
            noatime: if cfg!(target_os = "linux") {
                "O_NOATIME on every open where the kernel allows it (see read_method per file)"
                    .into()
            } else {
                "not available on this OS (see read_method per file)".into()
            },
            symlinks_followed: req.profile.follow_symlinks,
            threads: req.threads,
            dedup: "by SHA-256: identical content is stored once; duplicates point at it".into(),
            executed_programs_of_source: false,
            triage: if req.analyzers.is_empty() {
                "off".into()
            } else {
                req.analyzers
                    .iter()
                    .map(|a| a.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            },
            verify_after_write: req.verify_after_write,
            noatime_refused: progress.noatime_refused.load(Ordering::SeqCst),
            unprivileged: crate::source::read::noatime_limited(),
            live_state: match &live_capture {
                Some(_) => format!("captured before any file was read. {}", crate::live::METHOD),
                None => "not captured".into(),
            },
            compression: match req.compression {
                bundle::compress::Compression::Never => "none: every member stored".into(),
                bundle::compress::Compression::Auto => bundle::compress::METHOD.into(),
            },
        },
        members: vec![
            member_info(MANIFEST, "this manifest"),
            member_info(FILES_JSONL, "one record per path considered"),
            member_info(ACTIONS_JSONL, "every action taken, UTC"),
            member_info(FINDINGS_JSONL, "triage findings"),
            member_info(
                bundle::CASE_JSONLD,
                "CASE/UCO 1.x JSON-LD of the collection (docs/interop.md)",
            ),
            member_info(
                bundle::REPORT_HTML,
                "self-contained report for reading offline",
            ),
            member_info(SIGNER_PUB, "the signer's OpenSSH public key"),
            member_info(bundle::SUMS, "sha256sum list of every member above"),
            member_info(bundle::SUMS_SIG, "SSHSIG (Ed25519) signature of SHA256SUMS"),
        ],
        encryption: (!req.encrypt_to.is_empty()).then(|| manifest::EncryptionInfo {
            format: "age-encryption.org/v1".into(),
            recipients: req
                .encrypt_to
                .iter()
                .map(|r| r.text().to_string())
                .collect(),
        }),
        image: prepared.map(|p| p.manifest),
    };
    actions.push(Action::event(
        "bundle.finalize",
        Outcome::Ok,
        Some(format!("{} records", output.counts.considered)),
    ));

    let live_members: Vec<String> = live_capture
        .as_ref()
        .map(|lc| lc.artifacts.iter().map(|(n, _)| n.clone()).collect())
        .unwrap_or_default();
    let live_text = live_capture
        .as_ref()
        .map(|lc| crate::live::render_summary(&lc.artifacts));
    let meta = metadata::Metadata {
        manifest: &manifest,
        out_dir: &out_dir,
        live_members: &live_members,
        live_text: live_text.as_deref(),
        public: &public,
    };
    let tallies = match meta.write(&mut writer, output, &actions) {
        Ok(t) => t,
        Err(e) => return Err(output_failure(format!("{e:#}"))),
    };
    crate::bundle::lifecycle::test_phase("metadata");
    let mut finished = writer
        .finish(&req.signer, !req.verify_after_write)
        .map_err(|e| output_failure(format!("{e:#}")))?;
    crate::bundle::lifecycle::test_phase("sealed");

    // Verify-after-write: read the sealed bundle back from the output device, before it
    // is given any name that says more.
    timings.seal = t_seal.elapsed().as_secs_f64();
    let t_verify = Instant::now();
    let report = if req.verify_after_write {
        progress
            .phase
            .store(crate::acquire::PHASE_VERIFY, Ordering::SeqCst);
        drop_cache(&finished.path);
        let opts = verify::Options {
            trust: Trust::Keys {
                keys: vec![req.signer.public_key().clone()],
                source: "the key that signed this run".into(),
            },
            check_sidecars: false,
        };
        // An encrypted bundle is read back with the file key this run made (kept in
        // memory only): decrypted on the fly, every chunk authenticated, nothing plain
        // written.
        let ids: Vec<crate::bundle::age::Identity> = finished
            .file_key
            .map(crate::bundle::age::Identity::FileKey)
            .into_iter()
            .collect();
        let (early, stopped) = match finished.early.take() {
            Some(Ok(p)) => (Some(p), None),
            Some(Err(why)) => (None, Some(why)),
            None => (None, None),
        };
        let mut r = verify::verify_written_after(&finished.path, &opts, &ids, early);
        if let Some(why) = stopped {
            r.notes.push(format!(
                "the early read-back stopped ({why}): the whole bundle was read back after \
                 sealing"
            ));
        }
        Some(r)
    } else {
        None
    };
    let verified = report
        .as_ref()
        .map(|r| matches!(r.verdict, Verdict::Valid | Verdict::ValidIncomplete));
    timings.verify = t_verify.elapsed().as_secs_f64();
    let t_sidecars = Instant::now();
    let whole = match report
        .as_ref()
        .and_then(|r| r.whole_sha256)
        .or(finished.whole_sha256)
    {
        Some(d) => d,
        None => crate::acquire::hash_file(&finished.path, AlgSet::default())
            .map(|(d, _)| d.sha256)
            .map_err(|(_, e)| Failure::Output {
                error: format!(
                    "{}: cannot read back the sealed bundle: {e}",
                    finished.path.display()
                ),
                partial: Some(finished.path.clone()),
            })?,
    };
    let fin = finalize(&finished, verified, &whole, &req.signer);
    timings.sidecars = t_sidecars.elapsed().as_secs_f64();
    let state = {
        let (stage, names) = crate::bundle::lifecycle::stage_of(&fin.at);
        crate::bundle::lifecycle::state(stage, Some(true), &names)
    };
    Ok(Collected {
        inner_sha256: finished.inner_sha256.map(|d| hex(&d)),
        file_key: finished.file_key,
        bundle: fin.at,
        final_path: finished.final_path.clone(),
        state,
        finalize_error: fin.error,
        sha256: hex(&whole),
        size: finished.len,
        sidecars: fin.sidecars,
        manifest,
        verify: report,
        not_collected: tallies.not_collected,
        findings: tallies.findings,
        one_time_key: req.signer.one_time,
        signer_fingerprint: req.signer.fingerprint(),
        signer_public: public,
        elapsed_seconds: t0.elapsed().as_secs_f64(),
        timings,
        live: live_capture.map(|lc| lc.summary),
    })
}

/// Where finalization left the bundle.
struct Finalized {
    at: PathBuf,
    sidecars: Vec<SidecarOutcome>,
    error: Option<String>,
}

/// From the sealed `NAME.zip.part` to the final name, in the order docs/bundle-format.md
/// ("Lifecycle") gives: marked verified (when verify-after-write passed), each sidecar
/// written atomically, the directory synced, renamed `NAME.zip`, the directory synced.
/// Stops at the first step that fails, leaving the bundle under the name of the last
/// state it reached; a verify-after-write that failed leaves it sealed and unverified.
fn finalize(
    finished: &crate::bundle::writer::Finished,
    verified: Option<bool>,
    whole: &[u8; 32],
    signer: &Signer,
) -> Finalized {
    use crate::bundle::lifecycle::{self, test_phase};
    let names = lifecycle::Names::new(&finished.final_path);
    let dir = finished
        .final_path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let mut out = Finalized {
        at: finished.path.clone(),
        sidecars: Vec::new(),
        error: None,
    };
    let sync = |what: &str| {
        lifecycle::sync_dir(&dir)
            .map_err(|e| format!("{}: fsync of the directory {what}: {e}", dir.display()))
    };
    match verified {
        Some(false) => return out,
        Some(true) => {
            test_phase("verified");
            if let Err(e) = lifecycle::rename_new(&out.at, &names.verified) {
                out.error = Some(format!(
                    "renaming {} to {}: {e}",
                    out.at.display(),
                    names.verified.display()
                ));
                return out;
            }
            out.at = names.verified.clone();
            if let Err(e) = sync("after marking the bundle verified") {
                out.error = Some(e);
                return out;
            }
            test_phase("marked-verified");
        }
        None => {}
    }
    let sha_text = format!("{}  {}\n", hex(whole), names.final_name()).into_bytes();
    let sig_text = signer
        .sign_sha256_digest(whole)
        .map(String::into_bytes)
        .map_err(|e| format!("{e:#}"));
    for (path, data, phase) in [
        (&names.sha256, Ok(sha_text), "sidecar-sha256"),
        (&names.sig, sig_text, "sidecar-sig"),
    ] {
        let r =
            data.and_then(|d| lifecycle::write_sidecar(path, &d, phase).map_err(|e| e.to_string()));
        out.sidecars.push(SidecarOutcome {
            path: path.clone(),
            error: r.err(),
        });
    }
    if let Err(e) = sync("after writing the sidecars") {
        out.error = Some(e);
        return out;
    }
    test_phase("sidecars-synced");
    let failed: Vec<String> = out
        .sidecars
        .iter()
        .filter_map(|s| {
            s.error
                .as_ref()
                .map(|e| format!("{}: {e}", s.path.display()))
        })
        .collect();
    if !failed.is_empty() {
        out.error = Some(format!(
            "the sidecar(s) could not be written and were removed: {}",
            failed.join("; ")
        ));
        return out;
    }
    if let Err(e) = lifecycle::rename_new(&out.at, &names.final_path) {
        out.error = Some(format!(
            "renaming {} to {}: {e}",
            out.at.display(),
            names.final_path.display()
        ));
        return out;
    }
    out.at = names.final_path.clone();
    test_phase("final");
    if let Err(e) = sync("after the final rename") {
        out.error = Some(format!("{e}: the final name may not survive a power cut"));
        return out;
    }
    test_phase("durable");
    out
}

/// The `clock.offset` finding when the host clock is further from `--reference-time` than
/// the documented threshold (report::scope::CLOCK_OFFSET_THRESHOLD_SECONDS).
fn clock_offset_finding(
    offset_seconds: f64,
    r: &crate::live::ReferenceTime,
) -> Option<crate::finding::Finding> {
    let threshold = crate::report::scope::CLOCK_OFFSET_THRESHOLD_SECONDS;
    if offset_seconds.abs() <= threshold {
        return None;
    }
    Some(crate::finding::Finding {
        id: String::new(),
        analyzer: "clock".into(),
        kind: "clock.offset".into(),
        severity: crate::finding::Severity::Medium,
        path: None,
        member: None,
        sha256: None,
        title: format!(
            "Host clock {} {} the responder's reference time",
            crate::report::scope::human_duration(offset_seconds.abs()),
            if offset_seconds > 0.0 {
                "ahead of"
            } else {
                "behind"
            }
        ),
        evidence: serde_json::json!({
            "host_clock_offset_seconds": offset_seconds,
            "reference_given": r.given,
            "reference_utc": r.utc.to_string(),
            "threshold_seconds": threshold,
        }),
    })
}

fn home_text(h: &[OsString]) -> String {
    h.iter()
        .map(|c| c.to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

fn member_info(name: &str, description: &str) -> manifest::MemberInfo {
    manifest::MemberInfo {
        name: name.into(),
        description: description.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_dot_after_a_missing_component_is_resolved_not_left_in_the_path() {
        let t = tempfile::tempdir().unwrap();
        let base = t.path().canonicalize().unwrap();
        std::fs::create_dir(base.join("src")).unwrap();
        let r = resolve_maybe_missing(&base.join("nothere/../src/evidence")).unwrap();
        assert_eq!(r.path, base.join("src/evidence"));
        assert_eq!(r.missing, 1);
        let r = resolve_maybe_missing(&base.join("a/./b/../../src")).unwrap();
        assert_eq!(r.path, base.join("src"));
        assert_eq!(r.missing, 0);
        assert!(!base.join("nothere").exists() && !base.join("a").exists());
    }

    #[cfg(unix)]
    #[test]
    fn dot_dot_after_a_symlink_leaves_the_real_parent() {
        let t = tempfile::tempdir().unwrap();
        let base = t.path().canonicalize().unwrap();
        std::fs::create_dir_all(base.join("deep/src")).unwrap();
        std::os::unix::fs::symlink(base.join("deep/src"), base.join("alias")).unwrap();
        // The kernel resolves alias/.. to deep, not to base.
        let r = resolve_maybe_missing(&base.join("alias/../src/x")).unwrap();
        assert_eq!(r.path, base.join("deep/src/x"));
        assert_eq!(r.missing, 1);
    }
}
