//! Live state: the volatile state of the running machine, taken before any file is
//! collected and in order of volatility (RFC 3227): clock, network, processes, users and
//! sessions, mounts and block devices, kernel modules, persistence, encryption.
//!
//! Owns reading kernel interfaces (`/proc`, `/sys`, netlink, device headers) and
//! documented OS APIs, and turning them into the `live/*.json` bundle members (one per
//! kind, schemas in docs/live-state.md), one action per capture and the findings — above
//! all "an encrypted volume is open", which is also shouted on stderr.
//!
//! It must never execute a program of the examined system (its binaries cannot be
//! trusted), never write anywhere, never touch a path on a network filesystem (a stuck
//! server hangs every process that asks), and never wait on a capture past its limit: a
//! capture that fails or times out is recorded with its error and the others go on.

mod bounded;
pub mod clock;
pub mod encryption;
pub mod modules;
pub mod mounts;
pub mod network;
pub mod processes;
pub mod services;
mod summary;
#[cfg(target_os = "linux")]
pub(crate) mod sys;
pub mod users;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::action::{Action, Outcome};
use crate::finding::Finding;

pub use summary::{LiveSummary, render_summary};

/// For the manifest: how live state was obtained.
pub const METHOD: &str = "Volatile state was read directly from kernel interfaces (/proc, /sys, \
netlink, the first sectors of block devices, read-only) and documented OS APIs; no program of \
the examined system was executed.";

/// Version of every `live/*.json` schema; bumped on an incompatible change.
pub const SCHEMA_VERSION: u32 = 1;

/// Where the kernel interfaces and the examined system's files are found. Always the real
/// ones in the field; tests point them at synthetic trees.
#[derive(Debug, Clone)]
pub struct Roots {
    /// procfs (`/proc`).
    pub proc: PathBuf,
    /// sysfs (`/sys`).
    pub sys: PathBuf,
    /// Device nodes (`/dev`).
    pub dev: PathBuf,
    /// The system's own files: `/etc`, `/var`, `/run` (`/`).
    pub fs: PathBuf,
}

impl Default for Roots {
    fn default() -> Self {
        Roots {
            proc: PathBuf::from("/proc"),
            sys: PathBuf::from("/sys"),
            dev: PathBuf::from("/dev"),
            fs: PathBuf::from("/"),
        }
    }
}

impl Roots {
    /// True when every root is the real one (OS APIs that cannot be redirected, such as
    /// netlink, only describe the real system).
    pub fn is_real(&self) -> bool {
        let d = Roots::default();
        self.proc == d.proc && self.sys == d.sys && self.dev == d.dev && self.fs == d.fs
    }
}

/// The responder's trusted clock reading.
#[derive(Debug, Clone, PartialEq)]
pub struct ReferenceTime {
    /// As typed (kept verbatim for the record).
    pub given: String,
    pub utc: jiff::Timestamp,
}

impl ReferenceTime {
    /// Parse RFC 3339 with a zone (`2026-11-23T14:05:00Z`, `…+01:00`).
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        let utc = text.trim().parse::<jiff::Timestamp>().map_err(|e| {
            anyhow::anyhow!(
                "--reference-time {text:?}: {e} (give RFC 3339 with a zone, e.g. \
                 2026-11-23T14:05:00Z or 2026-11-23T15:05:00+01:00)"
            )
        })?;
        Ok(ReferenceTime {
            given: text.to_string(),
            utc,
        })
    }
}

#[derive(Debug, Clone)]
pub struct LiveOptions {
    pub reference_time: Option<ReferenceTime>,
    /// Limit for each capture; one that overruns is recorded as `timeout`.
    pub timeout: Duration,
    pub roots: Roots,
    /// Print the "encrypted volume is open" banner on stderr the moment it is known.
    pub banner: bool,
}

impl Default for LiveOptions {
    fn default() -> Self {
        LiveOptions {
            reference_time: None,
            timeout: Duration::from_secs(20),
            roots: Roots::default(),
            banner: true,
        }
    }
}

/// Everything the live step produced, for the bundle (or `fieldkit live`).
#[derive(Debug, Clone, Default)]
pub struct LiveCapture {
    /// Bundle member name (`live/processes.json`) and its JSON bytes, in capture order.
    pub artifacts: Vec<(String, Vec<u8>)>,
    /// One per capture, with start/end UTC and outcome.
    pub actions: Vec<Action>,
    pub findings: Vec<Finding>,
    pub summary: LiveSummary,
}

/// One kind of capture: its name, bundle member, schema and the interfaces it reads.
#[derive(Debug, Clone, Copy)]
pub struct CaptureKind {
    pub name: &'static str,
    pub member: &'static str,
    pub schema: &'static str,
    /// What is read (recorded as the action's target).
    pub reads: &'static str,
}

/// The captures in the order they run: the quick open-volume check first (the banner
/// must not wait for slow captures), then most volatile first.
pub const CAPTURES: [CaptureKind; 9] = [
    encryption::OPEN_CHECK_KIND,
    clock::KIND,
    network::KIND,
    processes::KIND,
    users::KIND,
    mounts::KIND,
    modules::KIND,
    services::KIND,
    encryption::KIND,
];

/// The JSON shape shared by every `live/*.json` member; `data` is the capture's own
/// record, absent when it failed or timed out.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Envelope<T> {
    pub schema: String,
    pub schema_version: u32,
    pub start_utc: String,
    pub end_utc: String,
    pub outcome: Outcome,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// `linux`, `windows`, `macos`: which implementation produced the data.
    pub platform: String,
    pub data: Option<T>,
}

/// What a capture's code gets: where to read, and when to stop starting new work so that
/// a partial result is returned before the hard limit.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub roots: Roots,
    pub soft_deadline: Instant,
    /// The mount table as read when the live step started, to keep away from network
    /// filesystems.
    pub mounts: std::sync::Arc<mounts::MountTable>,
}

impl Ctx {
    /// The network filesystem `/rel` of the examined system lies on, if any: such a path
    /// is not touched during live capture.
    pub fn network_mount_of(&self, rel: &str) -> Option<&mounts::Mount> {
        let abs = format!("/{}", rel.trim_start_matches('/'));
        self.mounts.on_network(abs.as_bytes())
    }

    /// False, with a note saying why, when `/rel` may not be touched because it lies on
    /// (or is reached through) a network filesystem.
    pub fn may_read(&self, rel: &str, notes: &mut Vec<String>) -> bool {
        match self.network_mount_of(rel) {
            Some(m) => {
                notes.push(format!(
                    "/{}: on a network filesystem ({} {}): not read",
                    rel.trim_start_matches('/'),
                    m.fs_type,
                    m.mount_point
                ));
                false
            }
            None => true,
        }
    }
}

/// A capture's record can describe itself in one line for actions.jsonl.
pub trait Captured {
    fn detail(&self) -> String;
}

fn run_capture<T, F>(
    out: &mut LiveCapture,
    opts: &LiveOptions,
    mounts: &std::sync::Arc<mounts::MountTable>,
    kind: CaptureKind,
    f: F,
) -> Option<T>
where
    T: Serialize + Captured + Send + 'static,
    F: FnOnce(&Ctx) -> Result<T, String> + Send + 'static,
{
    let start = crate::timefmt::now_utc();
    let t0 = Instant::now();
    // Leave a fifth of the time (at most 2 s) to hand back what was gathered so far.
    let margin = (opts.timeout / 5).min(Duration::from_secs(2));
    let ctx = Ctx {
        roots: opts.roots.clone(),
        soft_deadline: t0 + opts.timeout.saturating_sub(margin),
        mounts: std::sync::Arc::clone(mounts),
    };
    let result = bounded::run_with_limit(&format!("live-{}", kind.name), opts.timeout, move || {
        f(&ctx)
    });
    let end = crate::timefmt::now_utc();
    let outcome = result.outcome();
    let (outcome, error, data) = match result.into_result(&format!("the {} capture", kind.name)) {
        Ok(Ok(data)) => (outcome, None, Some(data)),
        Ok(Err(e)) => (Outcome::Error, Some(e), None),
        Err(e) => (outcome, Some(e), None),
    };
    let envelope = Envelope {
        schema: kind.schema.to_string(),
        schema_version: SCHEMA_VERSION,
        start_utc: start.clone(),
        end_utc: end.clone(),
        outcome,
        error: error.clone(),
        platform: std::env::consts::OS.to_string(),
        data: data.as_ref(),
    };
    let bytes = match serde_json::to_vec_pretty(&envelope) {
        Ok(b) => b,
        Err(e) => format!(
            "{{\"schema\":\"{}\",\"schema_version\":{},\"outcome\":\"error\",\"error\":\"cannot encode: {}\",\"data\":null}}",
            kind.schema,
            SCHEMA_VERSION,
            e.to_string().replace(['"', '\\'], "'")
        )
        .into_bytes(),
    };
    out.artifacts.push((kind.member.to_string(), bytes));
    out.actions.push(Action {
        start_utc: start,
        end_utc: Some(end),
        action: format!("live.{}", kind.name),
        target: Some(kind.reads.to_string()),
        outcome,
        detail: error.or_else(|| data.as_ref().map(Captured::detail)),
    });
    data
}

/// Capture the live state, most volatile first. Never fails as a whole: every capture's
/// outcome is in `actions` and in its own member.
pub fn capture(opts: &LiveOptions) -> LiveCapture {
    let mut out = LiveCapture::default();
    let mounts = std::sync::Arc::new(initial_mount_table(&opts.roots, opts.timeout, &mut out));
    // Is anything unlocked right now? From the kernel's tables alone (no device read), so
    // that the banner is on screen before the slow captures start.
    let early = run_capture(
        &mut out,
        opts,
        &mounts,
        encryption::OPEN_CHECK_KIND,
        encryption::open_check,
    );
    let announced = early
        .as_ref()
        .map(|e| e.open_volumes.clone())
        .unwrap_or_default();
    if opts.banner
        && let Some(banner) = encryption::banner_for(&announced)
    {
        encryption::print_banner(&banner);
    }
    let reference = opts.reference_time.clone();
    run_capture(&mut out, opts, &mounts, clock::KIND, move |ctx| {
        clock::capture(ctx, reference.as_ref())
    });
    run_capture(&mut out, opts, &mounts, network::KIND, network::capture);
    if let Some(list) = run_capture(&mut out, opts, &mounts, processes::KIND, processes::capture) {
        out.findings.extend(processes::findings(&list));
    }
    run_capture(&mut out, opts, &mounts, users::KIND, users::capture);
    run_capture(&mut out, opts, &mounts, mounts::KIND, mounts::capture);
    run_capture(&mut out, opts, &mounts, modules::KIND, modules::capture);
    run_capture(&mut out, opts, &mounts, services::KIND, services::capture);
    let encryption = run_capture(
        &mut out,
        opts,
        &mounts,
        encryption::KIND,
        encryption::capture,
    );
    match encryption {
        Some(state) => {
            // Again only when the full scan knows of a volume the early banner did not show.
            let new = state.open_volumes.iter().any(|v| {
                !announced
                    .iter()
                    .any(|a| a.device == v.device && a.scheme == v.scheme)
            });
            if opts.banner
                && new
                && let Some(banner) = encryption::banner(&state)
            {
                encryption::print_banner(&banner);
            }
            out.findings.extend(encryption::findings(&state));
        }
        // The full capture failed: the quick check's open volumes still become findings.
        None => {
            if let Some(early) = &early {
                out.findings.extend(encryption::open_check_findings(early));
            }
        }
    }
    out.summary = LiveSummary::from_artifacts(&out.artifacts);
    out
}

/// The mount table, read from the kernel (never from a mounted filesystem), bounded
/// like everything else. Without it network filesystems cannot be recognised: that is
/// recorded as a failed action.
fn initial_mount_table(
    roots: &Roots,
    limit: Duration,
    out: &mut LiveCapture,
) -> mounts::MountTable {
    #[cfg(target_os = "linux")]
    {
        let proc = roots.proc.clone();
        let limit = limit.min(Duration::from_secs(5));
        let start = crate::timefmt::now_utc();
        let result = bounded::run_with_limit("live-mountinfo", limit, move || {
            mounts::MountTable::read(&proc, "self")
        });
        let outcome = result.outcome();
        let (outcome, detail) = match result.into_result("reading the mount table") {
            Ok(Ok(table)) => return table,
            Ok(Err(e)) => (Outcome::Error, e.to_string()),
            Err(e) => (outcome, e),
        };
        out.actions.push(Action {
            start_utc: start,
            end_utc: Some(crate::timefmt::now_utc()),
            action: "live.mount_table".to_string(),
            target: Some(roots.proc.join("self/mountinfo").display().to_string()),
            outcome,
            detail: Some(format!(
                "{detail}: network filesystems cannot be recognised during this live capture"
            )),
        });
        mounts::MountTable::default()
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (roots, limit, out);
        mounts::MountTable::default()
    }
}

/// SHA-256 of bytes as lowercase hex.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    format!("{:x}", sha2::Sha256::digest(bytes))
}

/// SHA-256 of everything a reader yields, as lowercase hex.
pub(crate) fn sha256_stream(mut reader: impl std::io::Read) -> std::io::Result<String> {
    use sha2::Digest;
    let mut hasher = sha2::Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        match reader.read(&mut buf) {
            Ok(0) => return Ok(format!("{:x}", hasher.finalize())),
            Ok(n) => hasher.update(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// Text for display plus the exact bytes in base64 when they are not UTF-8.
pub(crate) fn text_and_b64(bytes: &[u8]) -> (String, Option<String>) {
    match std::str::from_utf8(bytes) {
        Ok(s) => (s.to_string(), None),
        Err(_) => {
            use base64::Engine;
            (
                String::from_utf8_lossy(bytes).into_owned(),
                Some(base64::engine::general_purpose::STANDARD.encode(bytes)),
            )
        }
    }
}
