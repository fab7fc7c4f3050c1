//! Triage: analyzers that turn bytes acquisition has already read into findings.
//!
//! Owns the analyzer contract and the per-file driver ([`FileTriage`]) the acquisition
//! engine uses to run them. The engine streams every file it reads through the analyzers
//! that asked for it, chunk by chunk, in order; an analyzer must never open or re-read the
//! source itself (evidence is read once), must keep its memory bounded whatever the file
//! size, and must never panic on malformed input: a file it cannot parse is a finding of
//! its own, not a crash. The driver additionally catches panics, so a bug in one parser
//! costs that analyzer's findings for that file (recorded as a finding) and nothing else;
//! such a panic prints one line on stderr, never a backtrace on the responder's terminal.
//!
//! Analyzers (one module each, documented in docs/triage.md): [`executables`],
//! [`virtual_assets`], [`encryption`]; [`window`] is the recent-activity window used by
//! `collect --since/--until`.

use std::any::Any;
use std::cell::Cell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use crate::finding::{Finding, Severity};

mod authenticode;
mod bip39scan;
mod cryptoaddr;
pub mod encryption;
pub mod entropy;
pub mod executables;
pub mod harness;
mod patterns;
mod text;
pub mod virtual_assets;
pub mod window;

/// What an analyzer may know about a file before its bytes arrive.
#[derive(Debug, Clone, Copy)]
pub struct FileContext<'a> {
    /// The path as opened on the collecting machine.
    pub path: &'a Path,
    /// The path relative to the source root, `/`-separated, lossy UTF-8 (for matching).
    pub source_path: &'a str,
    /// Size from `fstat` when the file was opened (the bytes delivered may differ if the
    /// file changed while being read).
    pub size: u64,
    /// Modification time, seconds since the Unix epoch, when known.
    pub mtime: Option<i64>,
    /// True when `path` names the file on the collecting machine's own file system (the
    /// OS source, `triage-file`), so an analyzer may look up the names of its neighbours
    /// (`lstat` only, never opening or listing a directory). False for an image entry:
    /// its path is inside the image and means nothing on this machine.
    pub on_host: bool,
}

/// The digests of the bytes that were delivered to the analyzer.
#[derive(Debug, Clone, Copy)]
pub struct FileDigests {
    pub sha256: [u8; 32],
    pub md5: Option<[u8; 16]>,
    pub sha1: Option<[u8; 20]>,
}

/// A kind of analysis. Shared by all worker threads; per-file state lives in [`FileScan`].
pub trait Analyzer: Send + Sync {
    /// Stable name recorded in each finding's `analyzer` field.
    fn name(&self) -> &'static str;
    /// Decide from the path and size whether this file is of interest; return the
    /// per-file scanner that will receive its bytes, or `None` to skip it cheaply.
    fn start(&self, ctx: &FileContext<'_>) -> Option<Box<dyn FileScan>>;
}

/// Per-file state of one analyzer: receives the file's bytes in order, then reports.
pub trait FileScan: Send {
    fn update(&mut self, chunk: &[u8]);
    /// False once the scanner has seen all it needs (typically after the first bytes
    /// showed the file is of no interest): the driver then stops calling `update`, which
    /// keeps analyzers nearly free on files they do not care about. `finish` is still
    /// called. Must stay false once it became false.
    fn wants_more(&self) -> bool {
        true
    }
    /// Called once after the last chunk. The engine fills `member` and `sha256` of the
    /// returned findings when the analyzer leaves them empty.
    fn finish(self: Box<Self>, ctx: &FileContext<'_>, digests: &FileDigests) -> Vec<Finding>;
}

/// The analyzers `collect` runs by default.
pub fn default_analyzers() -> Vec<Box<dyn Analyzer>> {
    vec![
        Box::new(executables::ExecutableAnalyzer),
        Box::new(virtual_assets::VirtualAssetAnalyzer),
        Box::new(encryption::EncryptionAnalyzer),
    ]
}

/// Name recorded for findings the driver itself produces (an analyzer that panicked).
pub const DRIVER_NAME: &str = "triage";

thread_local! {
    /// The analyzer this thread is running inside [`guarded`], if any.
    static RUNNING: Cell<Option<&'static str>> = const { Cell::new(None) };
}

/// Runs one call into an analyzer, catching a panic. While it runs, the process panic hook
/// (installed once, chained to the previous one for every other panic) reduces a panic to
/// one line on stderr: the `triage.analyzer_failed` finding records it, and a backtrace
/// (RUST_BACKTRACE is often set) would only alarm the person at the keyboard.
fn guarded<R>(analyzer: &'static str, call: impl FnOnce() -> R) -> std::thread::Result<R> {
    install_panic_hook();
    let outer = RUNNING.with(|r| r.replace(Some(analyzer)));
    let result = catch_unwind(AssertUnwindSafe(call));
    RUNNING.with(|r| r.set(outer));
    result
}

fn install_panic_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let Some(analyzer) = RUNNING.with(Cell::get) else {
                return previous(info);
            };
            let at = info
                .location()
                .map(|l| format!(" ({}:{})", l.file(), l.line()))
                .unwrap_or_default();
            eprintln!(
                "fieldkit: the {analyzer} analyzer failed on a file: {}{at}; its results for \
                 that file are missing and a triage.analyzer_failed finding records it",
                info.payload_as_str().unwrap_or("unknown panic")
            );
        }));
    });
}

/// Runs a set of analyzers over one file, exactly as the acquisition engine must: `start`
/// before the first byte, `update` with every chunk in order, `finish` once with the
/// digests. Every call into an analyzer is guarded by `catch_unwind`: a panicking analyzer
/// is dropped for this file and a `triage.analyzer_failed` finding says so.
pub struct FileTriage {
    scans: Vec<ActiveScan>,
    failures: Vec<Finding>,
}

struct ActiveScan {
    analyzer: &'static str,
    scan: Box<dyn FileScan>,
    wants_more: bool,
}

impl FileTriage {
    /// Asks every analyzer whether it wants this file.
    pub fn start(analyzers: &[Box<dyn Analyzer>], ctx: &FileContext<'_>) -> FileTriage {
        let mut triage = FileTriage {
            scans: Vec::new(),
            failures: Vec::new(),
        };
        for analyzer in analyzers {
            let name = analyzer.name();
            match guarded(name, || analyzer.start(ctx)) {
                Ok(Some(scan)) => triage.scans.push(ActiveScan {
                    analyzer: name,
                    wants_more: true,
                    scan,
                }),
                Ok(None) => {}
                Err(panic) => triage
                    .failures
                    .push(failure_finding(name, "start", &*panic)),
            }
        }
        triage
    }

    /// True while at least one analyzer still wants bytes; the engine may skip calling
    /// [`FileTriage::update`] once this is false (it must still call `finish`).
    pub fn wants_more(&self) -> bool {
        self.scans.iter().any(|s| s.wants_more)
    }

    /// Feeds the next chunk of the file to every analyzer that still wants bytes.
    pub fn update(&mut self, chunk: &[u8]) {
        let mut failed = Vec::new();
        for (index, active) in self.scans.iter_mut().enumerate() {
            if !active.wants_more {
                continue;
            }
            let scan = &mut active.scan;
            match guarded(active.analyzer, || {
                scan.update(chunk);
                scan.wants_more()
            }) {
                Ok(more) => active.wants_more = more,
                Err(panic) => {
                    self.failures
                        .push(failure_finding(active.analyzer, "update", &*panic));
                    failed.push(index);
                }
            }
        }
        for index in failed.into_iter().rev() {
            // A scan that panicked may be inconsistent: even its drop is guarded.
            let broken = self.scans.remove(index);
            let _ = guarded(broken.analyzer, move || drop(broken));
        }
    }

    /// Collects every analyzer's findings; fills `path` (lossy UTF-8 of the opened path)
    /// and `sha256` where the analyzer left them empty.
    pub fn finish(self, ctx: &FileContext<'_>, digests: &FileDigests) -> Vec<Finding> {
        let mut findings = Vec::new();
        for active in self.scans {
            let analyzer = active.analyzer;
            match guarded(analyzer, || active.scan.finish(ctx, digests)) {
                Ok(mut produced) => findings.append(&mut produced),
                Err(panic) => findings.push(failure_finding(analyzer, "finish", &*panic)),
            }
        }
        findings.extend(self.failures);
        // Most files have no finding: their hash is not spelt out here.
        let sha256 = if findings.is_empty() {
            String::new()
        } else {
            hex(&digests.sha256)
        };
        for finding in &mut findings {
            if finding.path.is_none() {
                finding.path = Some(ctx.path.to_string_lossy().into_owned());
            }
            if finding.sha256.is_none() {
                finding.sha256 = Some(sha256.clone());
            }
        }
        findings
    }
}

fn failure_finding(analyzer: &str, phase: &str, panic: &(dyn Any + Send)) -> Finding {
    let message = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_string());
    Finding {
        id: String::new(),
        analyzer: DRIVER_NAME.to_string(),
        kind: "triage.analyzer_failed".to_string(),
        severity: Severity::Low,
        path: None,
        member: None,
        sha256: None,
        title: format!("The {analyzer} analyzer failed on this file; its results are missing"),
        evidence: serde_json::json!({ "analyzer": analyzer, "phase": phase, "panic": message }),
    }
}

/// A finding with the fields every analyzer fills; `path`/`sha256` come from the driver.
pub(crate) fn new_finding(
    analyzer: &str,
    kind: &str,
    severity: Severity,
    title: String,
    evidence: serde_json::Value,
) -> Finding {
    Finding {
        id: String::new(),
        analyzer: analyzer.to_string(),
        kind: kind.to_string(),
        severity,
        path: None,
        member: None,
        sha256: None,
        title,
        evidence,
    }
}

/// Lower-case hex of a byte string (the one hex writer of fieldkit).
pub use crate::hashing::hex;

/// The path components of `source_path` (leading `/` and empty parts dropped).
pub(crate) fn components(source_path: &str) -> impl Iterator<Item = &str> {
    source_path.split(['/', '\\']).filter(|c| !c.is_empty())
}

/// The file name (last component) of `source_path`.
pub(crate) fn file_name(source_path: &str) -> &str {
    components(source_path).last().unwrap_or("")
}

/// The lower-case extension of the file name, without the dot (`""` when none).
pub(crate) fn extension_lower(source_path: &str) -> String {
    let name = file_name(source_path);
    match name.rfind('.') {
        Some(dot) if dot > 0 && dot + 1 < name.len() => name[dot + 1..].to_ascii_lowercase(),
        _ => String::new(),
    }
}

/// Keeps the first `limit` bytes of a stream; the common "look at the start" buffer.
#[derive(Debug, Default)]
pub(crate) struct Prefix {
    pub bytes: Vec<u8>,
    pub limit: usize,
}

impl Prefix {
    pub fn new(limit: usize) -> Prefix {
        Prefix {
            bytes: Vec::new(),
            limit,
        }
    }
    /// Appends what still fits; returns true when the prefix is full.
    pub fn push(&mut self, chunk: &[u8]) -> bool {
        let room = self.limit.saturating_sub(self.bytes.len());
        let take = room.min(chunk.len());
        self.bytes.extend_from_slice(&chunk[..take]);
        self.is_full()
    }
    pub fn is_full(&self) -> bool {
        self.bytes.len() >= self.limit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Panicky;
    struct PanickyScan;
    impl Analyzer for Panicky {
        fn name(&self) -> &'static str {
            "panicky"
        }
        fn start(&self, _ctx: &FileContext<'_>) -> Option<Box<dyn FileScan>> {
            Some(Box::new(PanickyScan))
        }
    }
    impl FileScan for PanickyScan {
        fn update(&mut self, chunk: &[u8]) {
            if chunk.first() == Some(&b'!') {
                panic!("boom at byte 0");
            }
        }
        fn finish(self: Box<Self>, _: &FileContext<'_>, _: &FileDigests) -> Vec<Finding> {
            Vec::new()
        }
    }

    #[test]
    fn a_panicking_analyzer_becomes_a_finding_and_the_others_still_run() {
        let analyzers: Vec<Box<dyn Analyzer>> =
            vec![Box::new(Panicky), Box::new(executables::ExecutableAnalyzer)];
        let path = Path::new("/evidence/x.bin");
        let ctx = FileContext {
            path,
            source_path: "x.bin",
            size: 3,
            mtime: None,
            on_host: false,
        };
        let mut triage = FileTriage::start(&analyzers, &ctx);
        triage.update(b"!ab");
        let digests = FileDigests {
            sha256: [0; 32],
            md5: None,
            sha1: None,
        };
        let findings = triage.finish(&ctx, &digests);
        assert_eq!(findings.len(), 1, "{findings:?}");
        assert_eq!(findings[0].kind, "triage.analyzer_failed");
        assert_eq!(findings[0].evidence["analyzer"], "panicky");
        assert_eq!(findings[0].evidence["panic"], "boom at byte 0");
        assert_eq!(findings[0].path.as_deref(), Some("/evidence/x.bin"));
    }

    /// The panic inside an analyzer reaches the terminal as one line, even with
    /// RUST_BACKTRACE set: this test runs itself again in a child process (libtest would
    /// capture the line otherwise) and reads the child's stderr.
    #[test]
    fn a_caught_analyzer_panic_prints_one_line_and_no_backtrace() {
        const CHILD: &str = "FIELDKIT_TEST_PANIC_CHILD";
        let name = "triage::tests::a_caught_analyzer_panic_prints_one_line_and_no_backtrace";
        if std::env::var_os(CHILD).is_some() {
            let analyzers: Vec<Box<dyn Analyzer>> = vec![Box::new(Panicky)];
            let ctx = FileContext {
                path: Path::new("x"),
                source_path: "x",
                size: 1,
                mtime: None,
                on_host: false,
            };
            let mut triage = FileTriage::start(&analyzers, &ctx);
            triage.update(b"!");
            eprintln!("child done");
            return;
        }
        let exe = std::env::current_exe().unwrap_or_default();
        let out = std::process::Command::new(exe)
            .args(["--exact", name, "--nocapture", "--test-threads=1"])
            .env(CHILD, "1")
            .env("RUST_BACKTRACE", "1")
            .output();
        let Ok(out) = out else {
            panic!("cannot re-run the test binary");
        };
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        let lines: Vec<&str> = stderr.lines().filter(|l| l.contains("boom")).collect();
        assert_eq!(lines.len(), 1, "{stderr}");
        assert!(
            lines[0]
                .starts_with("fieldkit: the panicky analyzer failed on a file: boom at byte 0 ("),
            "{stderr}"
        );
        assert!(!stderr.contains("stack backtrace"), "{stderr}");
        assert!(!stderr.contains("panicked at"), "{stderr}");
        assert!(stderr.contains("child done"), "{stderr}");
    }

    #[test]
    fn extension_and_file_name_follow_the_last_component() {
        assert_eq!(extension_lower("Users/a/Pic.JPG"), "jpg");
        assert_eq!(extension_lower("tmp/.bashrc"), "");
        assert_eq!(extension_lower("tmp/noext"), "");
        assert_eq!(file_name("/a\\b/c.txt"), "c.txt");
    }
}
