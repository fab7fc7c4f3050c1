//! The acquisition engine: parallel read + hash + triage + store, fed by the walk.
//!
//! Owns the per-file procedure — classify, apply limits, open read-only, read each byte
//! once while hashing it with every requested algorithm, feeding the analyzers and
//! streaming it into the bundle, detect changes during the read — and turning every
//! outcome into a files.jsonl record. Concurrency: one walker thread feeds a bounded
//! channel with batches of events (one hand-off and one record-sink lock per batch); a
//! rayon pool processes them; small files (≤ 8 MiB) are read into memory
//! before taking the bundle lock, large ones stream under the lock, so memory stays
//! bounded by threads × 8 MiB whatever the file sizes. Records carry the walk index of
//! their path, so files.jsonl comes out in walk order with any number of threads. Never
//! aborts the run for one file: every failure is a record. An output failure (disk full)
//! stops everything.

mod known;
mod pipe;
pub mod spool;

use std::ffi::OsStr;
use std::io::{Read, Write};
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rayon::prelude::*;

use crate::action::{Action, Outcome};
use crate::bundle::manifest::Counts;
use crate::bundle::record::{FileRecord, PathField, Status};
use crate::bundle::writer::{BundleWriter, Stored};
use crate::finding::Finding;
use crate::hashing::{AlgSet, Digests, MultiHasher, hex};
use crate::plan::Plan;
use crate::source::entry::{EntryMeta, change_between};
use crate::source::mounts::FsClass;
use crate::source::read;
use crate::source::walk::io_reason;
use crate::source::{Candidate, EntryReader, Source, WalkEvent};
use crate::triage::{Analyzer, FileContext, FileDigests, FileTriage};
use spool::Spool;

/// Walk events go to the readers in batches: one channel hand-off and one lock of the
/// record sink per batch, not per file (issue 15: 2.3 futex calls per small file). A
/// batch closes at `BATCH` events or `BATCH_BYTES` of planned content (a file of unknown
/// size counts as large), so large files still spread over the readers.
const BATCH: usize = 64;
const BATCH_BYTES: u64 = 1 << 20;
/// Files up to this size are read into memory before the bundle lock is taken.
pub const SMALL_FILE: usize = 8 << 20;
const CHUNK: usize = 1 << 20;
/// The reason an attempt at a raw read hands back when its MFT record changed while it
/// was read and another attempt is allowed (never in a finished record).
const RAW_RETRY: &str = "raw_changed_retry";
/// Longest a read of one pseudo-filesystem file may take.
const PSEUDO_TIME_LIMIT: Duration = Duration::from_secs(5);

/// Live counters for the progress display.
#[derive(Debug, Default)]
pub struct Progress {
    pub files_done: AtomicU64,
    pub bytes_done: AtomicU64,
    pub bytes_planned: AtomicU64,
    pub files_planned: AtomicU64,
    pub walk_done: AtomicBool,
    /// Files opened without O_NOATIME because the kernel refused it.
    pub noatime_refused: AtomicU64,
    /// What the run is doing now (`PHASE_*`), for the display.
    pub phase: std::sync::atomic::AtomicU8,
    /// Set by a display that shows alerts itself; otherwise alerts go to stderr at once.
    pub display_active: AtomicBool,
    alerts: Mutex<Vec<String>>,
}

impl Progress {
    /// A line the responder must see now (a known-bad file): queued for the progress
    /// display, or printed on stderr when there is none.
    pub fn alert(&self, line: String) {
        if self.display_active.load(Ordering::SeqCst)
            && let Ok(mut q) = self.alerts.lock()
        {
            q.push(line);
            return;
        }
        // Never a panic on a closed stderr: that would abort the worker and the run.
        let _ = writeln!(std::io::stderr(), "{line}");
    }

    /// Alerts waiting for the display.
    pub fn take_alerts(&self) -> Vec<String> {
        self.alerts
            .lock()
            .map(|mut q| std::mem::take(&mut *q))
            .unwrap_or_default()
    }
}

pub const PHASE_ACQUIRE: u8 = 0;
pub const PHASE_LIVE: u8 = 3;
pub const PHASE_FINALIZE: u8 = 1;
pub const PHASE_VERIFY: u8 = 2;

/// What a run produced besides the stored members.
pub struct Output {
    pub records: Spool,
    pub findings: Spool,
    pub counts: Counts,
    pub actions: Vec<Action>,
}

pub struct Engine<'a> {
    /// Where the entries come from (the OS file API or an image's file systems): the
    /// engine does the same for every source (`source` module doc).
    pub source: &'a dyn Source,
    /// The plan the source walks with; the engine takes each file's limits from it.
    pub plan: &'a Plan,
    pub algs: AlgSet,
    pub analyzers: &'a [Box<dyn Analyzer>],
    pub threads: usize,
    /// `--since/--until`: files are marked; with `window_only`, files whose known times
    /// all fall outside are recorded and not read (files with no known time are read).
    pub window: Option<crate::triage::window::ActivityWindow>,
    pub window_only: bool,
    /// Known-good and known-bad sets: known-good files are recorded with their hashes and
    /// not stored (unless `keep_known`); known-bad files are always stored, even past size
    /// limits, and raise a finding and an alert.
    pub known: Option<&'a crate::hashset::KnownSets>,
    pub keep_known: bool,
    /// `--compress auto`: a file read into memory is deflated by its worker, before the
    /// bundle lock is taken (bundle::compress).
    pub compression: crate::bundle::compress::Compression,
    /// Set by SIGINT/SIGTERM: stop walking, record what is left as interrupted.
    pub interrupt: &'a AtomicBool,
    pub progress: &'a Progress,
}

struct Shared<'w> {
    writer: &'w Mutex<BundleWriter>,
    out: Mutex<Output>,
    /// First output (bundle-side) failure; set once, stops the run.
    fatal: Mutex<Option<String>>,
    stop: AtomicBool,
}

impl Shared<'_> {
    fn fail(&self, msg: String) {
        if let Ok(mut f) = self.fatal.lock()
            && f.is_none()
        {
            *f = Some(msg);
        }
        self.stop.store(true, Ordering::SeqCst);
    }

    /// Record the outcomes of a batch of walk events, `(seq, record, findings)` for the
    /// walk's `seq`-th event, under one lock of the sink (files.jsonl is written in walk
    /// order, whatever order the workers finish in).
    fn record_all(&self, done: Vec<(u64, FileRecord, Vec<Finding>)>) {
        if done.is_empty() {
            return;
        }
        let Ok(mut out) = self.out.lock() else {
            self.fail("internal error: record sink poisoned".into());
            return;
        };
        for (seq, rec, findings) in done {
            if let Err(e) = record_one(&mut out, seq, &rec, findings) {
                drop(out);
                self.fail(e);
                return;
            }
        }
    }
}

/// One outcome into the sink: counts, its files.jsonl line, its findings.
fn record_one(
    out: &mut Output,
    seq: u64,
    rec: &FileRecord,
    findings: Vec<Finding>,
) -> Result<(), String> {
    out.counts.count(rec);
    out.records
        .push_seq(seq, rec)
        .map_err(|e| format!("writing the files.jsonl spool: {e}"))?;
    // Findings go in at the file's walk position (after the live state's, which sit
    // at 0); their ids are given in that order when the bundle is sealed, so the same
    // tree gives the same findings.jsonl whatever the thread timing.
    for f in findings {
        out.findings
            .push_seq(seq.saturating_add(1), &f)
            .map_err(|e| format!("writing the findings spool: {e}"))?;
        out.counts.findings += 1;
    }
    Ok(())
}

/// What was read: byte count, every digest computed, and when the read finished.
fn record_digests(rec: &mut FileRecord, bytes: u64, digests: &Digests) {
    rec.bytes_read = Some(bytes);
    rec.sha256 = Some(hex(&digests.sha256));
    rec.sha1 = digests.sha1.map(|h| hex(&h));
    rec.md5 = digests.md5.map(|h| hex(&h));
    rec.acquired_utc = Some(crate::timefmt::now_utc());
}

fn skipped(mut rec: FileRecord, reason: &str, detail: impl Into<String>) -> FileRecord {
    rec.status = Some(Status::Skipped);
    rec.reason = Some(reason.to_string());
    rec.detail = Some(detail.into());
    rec
}

fn errored(mut rec: FileRecord, reason: &str, detail: impl Into<String>) -> FileRecord {
    rec.status = Some(Status::Error);
    rec.reason = Some(reason.to_string());
    rec.detail = Some(detail.into());
    rec
}

impl Engine<'_> {
    /// Run the walk and the acquisition; returns what to put in the bundle, or the first
    /// output failure (the bundle cannot be finalized then).
    pub fn run(&self, writer: &Mutex<BundleWriter>, out: Output) -> Result<Output, String> {
        let shared = Shared {
            writer,
            out: Mutex::new(out),
            fatal: Mutex::new(None),
            stop: AtomicBool::new(false),
        };
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<(u64, WalkEvent)>>(4096 / BATCH);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(self.threads.max(1))
            .thread_name(|i| format!("fieldkit-acquire-{i}"))
            .build();
        let walk_start = crate::timefmt::now_utc();
        std::thread::scope(|scope| {
            let source = self.source;
            let interrupt = self.interrupt;
            let stop = &shared.stop;
            let progress = self.progress;
            scope.spawn(move || {
                // Each event's place in the walk, which is sorted: files.jsonl order.
                let mut seq = 0u64;
                let mut batch = Vec::with_capacity(BATCH);
                let mut batch_bytes = 0u64;
                let mut open = true;
                source.walk(interrupt, &mut |ev| {
                    if stop.load(Ordering::Relaxed) {
                        return false;
                    }
                    // A file of unknown size may be large: it closes its batch.
                    let mut size = Some(0);
                    if let WalkEvent::Candidate(c) = &ev {
                        progress.files_planned.fetch_add(1, Ordering::Relaxed);
                        size = c.metadata.as_ref().map(|m| m.size);
                        progress
                            .bytes_planned
                            .fetch_add(size.unwrap_or(0), Ordering::Relaxed);
                    }
                    batch.push((seq, ev));
                    seq += 1;
                    batch_bytes = batch_bytes.saturating_add(size.unwrap_or(u64::MAX));
                    if batch.len() >= BATCH || batch_bytes >= BATCH_BYTES {
                        batch_bytes = 0;
                        let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
                        open = tx.send(full).is_ok();
                    }
                    open
                });
                if open && !batch.is_empty() {
                    let _ = tx.send(batch);
                }
                progress.walk_done.store(true, Ordering::SeqCst);
            });
            let work = |batch: Vec<(u64, WalkEvent)>| {
                let done = batch
                    .into_iter()
                    .filter_map(|(seq, ev)| self.handle(seq, ev, &shared))
                    .collect();
                shared.record_all(done);
            };
            match &pool {
                Ok(pool) => pool.install(|| rx.into_iter().par_bridge().for_each(work)),
                Err(_) => rx.into_iter().for_each(work),
            }
        });
        let mut output = match shared.out.into_inner() {
            Ok(o) => o,
            Err(p) => p.into_inner(),
        };
        let fatal = shared.fatal.into_inner().ok().flatten();
        let interrupted = self.interrupt.load(Ordering::SeqCst);
        output.actions.push(Action {
            start_utc: walk_start,
            end_utc: Some(crate::timefmt::now_utc()),
            action: "acquire".into(),
            target: Some(self.source.describe()),
            outcome: if fatal.is_some() {
                Outcome::Error
            } else if interrupted {
                Outcome::Interrupted
            } else {
                Outcome::Ok
            },
            detail: Some(format!(
                "walked and read with {} thread(s); {} path(s) recorded",
                self.threads.max(1),
                output.counts.considered
            )),
        });
        match fatal {
            Some(msg) => Err(msg),
            None => Ok(output),
        }
    }

    /// The outcome of the walk's `seq`-th event, to be recorded (none once the run stops).
    fn handle(
        &self,
        seq: u64,
        ev: WalkEvent,
        shared: &Shared<'_>,
    ) -> Option<(u64, FileRecord, Vec<Finding>)> {
        let rec = match ev {
            WalkEvent::Candidate(c) => {
                if shared.stop.load(Ordering::Relaxed) {
                    return None;
                }
                if self.interrupt.load(Ordering::Relaxed) {
                    let mut rec = base_record(&c, self.plan);
                    rec = skipped(
                        rec,
                        "interrupted",
                        "collection was interrupted before this file was read",
                    );
                    return Some((seq, rec, Vec::new()));
                }
                let deleted = c.image.as_ref().is_some_and(|e| e.deleted);
                let (mut rec, findings) = self.acquire(c, shared);
                if deleted {
                    mark_deleted(&mut rec);
                }
                self.progress.files_done.fetch_add(1, Ordering::Relaxed);
                return Some((seq, rec, findings));
            }
            WalkEvent::NotWalked {
                path,
                reason,
                detail,
            } => {
                let mut rec = FileRecord {
                    path: PathField::from_path(&path),
                    file_type: Some("dir".into()),
                    ..FileRecord::default()
                };
                self.source.describe_not_walked(&path, &mut rec);
                skipped(rec, reason, detail)
            }
            WalkEvent::Error {
                path,
                reason,
                detail,
            } => {
                let rec = FileRecord {
                    path: PathField::from_path(&path),
                    ..FileRecord::default()
                };
                errored(rec, reason, detail)
            }
            WalkEvent::Record(rec) => *rec,
        };
        Some((seq, rec, Vec::new()))
    }

    /// Everything about one candidate file.
    fn acquire(&self, mut c: Candidate, shared: &Shared<'_>) -> (FileRecord, Vec<Finding>) {
        let mut rec = base_record(&c, self.plan);
        let meta = match c.metadata.take() {
            Some(m) => m,
            None => match self.source.stat(&c) {
                Ok(m) => m,
                Err(e) => return (errored(rec, io_reason(&e), e.to_string()), Vec::new()),
            },
        };
        rec.file_type = Some(meta.kind.name().into());
        rec.facts = meta.facts();
        rec.size = Some(meta.size);
        let (meta, open_instead) = match self.source.resolve(&c, meta, &mut rec) {
            Ok(resolved) => resolved,
            Err(done) => return (*done, Vec::new()),
        };
        match meta.kind.name() {
            "file" => {}
            "symlink" => {
                // Following, a link still seen as a link here has no target to read.
                let detail = if self.plan.follow_symlinks {
                    "symbolic link whose target does not exist: recorded, nothing to read"
                } else {
                    "symbolic link: recorded with its target, not followed (reading \
                     the target updates the link's access time on a read-write mount \
                     without noatime; the times recorded here were taken before)"
                };
                rec.link_target = self.source.link_target(&c);
                return (skipped(rec, "symlink", detail), Vec::new());
            }
            kind @ ("fifo" | "socket" | "char_device" | "block_device") => {
                return (
                    skipped(
                        rec,
                        kind,
                        format!(
                            "special file ({kind}): recorded, not opened (reading it could block or never end)"
                        ),
                    ),
                    Vec::new(),
                );
            }
            other => {
                return (
                    skipped(
                        rec,
                        "not_a_regular_file",
                        format!("{other}: not a regular file"),
                    ),
                    Vec::new(),
                );
            }
        }
        if let Some(w) = &self.window {
            let verdict = w.classify(&meta.window_times());
            rec.window = Some(verdict);
            if self.window_only && verdict == crate::triage::window::WindowVerdict::Outside {
                return (
                    skipped(
                        rec,
                        "outside_time_window",
                        "every known time of the file lies outside --since/--until",
                    ),
                    Vec::new(),
                );
            }
        }
        let limits = self.plan.limits(&c.rules);
        let pseudo = c.fs_class == FsClass::Pseudo;
        if pseudo && !limits.read_pseudo {
            return (
                skipped(
                    rec,
                    "pseudo_filesystem",
                    format!(
                        "on {} (a kernel pseudo filesystem); set read_pseudo in the rule to read it with a size limit",
                        c.fs_type.as_deref().unwrap_or("?")
                    ),
                ),
                Vec::new(),
            );
        }
        let has_bad_sets = self.known.is_some_and(|k| {
            k.sets()
                .iter()
                .any(|s| s.kind() == crate::hashset::SetKind::KnownBad)
        });
        let over_limit = !pseudo && limits.max_file_size.is_some_and(|max| meta.size > max);
        if over_limit
            && !has_bad_sets
            && let Some(max) = limits.max_file_size
        {
            return (
                skipped(
                    rec,
                    "too_large",
                    format!("{} bytes exceeds the size limit of {max} bytes", meta.size),
                ),
                Vec::new(),
            );
        }
        // A file read through a live raw volume whose MFT record changed while it was
        // read is read again (the torn copy is thrown away), a bounded number of times.
        let mut changes = Vec::new();
        let mut attempt = 1u32;
        loop {
            let (mut r, f) = self.open_and_read(
                &c,
                rec.clone(),
                open_instead.as_deref(),
                limits,
                pseudo,
                over_limit,
                attempt,
                shared,
            );
            if r.reason.as_deref() == Some(RAW_RETRY) {
                changes.push(format!(
                    "read {attempt}: {}",
                    r.detail.take().unwrap_or_default()
                ));
                attempt += 1;
                continue;
            }
            if let Some(raw) = r.raw_ntfs.as_mut() {
                raw.attempts = attempt;
                if r.status == Some(Status::Changed)
                    && let Some(d) = &r.detail
                {
                    changes.push(format!("read {attempt}: {d}"));
                }
                raw.changes = changes;
            }
            return (r, f);
        }
    }

    /// Open the candidate and read it (one attempt; see `acquire`).
    #[allow(clippy::too_many_arguments)]
    fn open_and_read(
        &self,
        c: &Candidate,
        mut rec: FileRecord,
        open_instead: Option<&Path>,
        limits: crate::plan::Limits,
        pseudo: bool,
        over_limit: bool,
        attempt: u32,
        shared: &Shared<'_>,
    ) -> (FileRecord, Vec<Finding>) {
        let mut opened = match self.source.open(c, open_instead) {
            Ok(o) => o,
            Err(refused) => {
                let mut rec = errored(rec, refused.reason, refused.detail);
                rec.status = Some(refused.status);
                return (rec, Vec::new());
            }
        };
        let before = opened.before;
        if !before.is_file() {
            rec.file_type = Some(before.kind.name().into());
            return (
                errored(
                    rec,
                    "replaced",
                    format!("replaced by a {} after it was listed", before.kind.name()),
                ),
                Vec::new(),
            );
        }
        rec.how_read = opened.how_read.map(str::to_string);
        if let EntryReader::Raw(r) = &mut opened.reader {
            r.attempt = attempt;
        }
        if let Some(raw) = opened.raw.take() {
            // The API's metadata (from the walk) stays in the record where there was one;
            // the NTFS record's is in `raw_ntfs`.
            if rec.facts == Default::default() {
                rec.facts = before.facts();
            }
            rec.raw_ntfs = Some(raw);
        } else {
            rec.facts = before.facts();
        }
        rec.size = Some(before.size);
        if opened
            .read_method
            .contains(crate::source::read::NOATIME_REFUSED)
        {
            self.progress
                .noatime_refused
                .fetch_add(1, Ordering::Relaxed);
        }
        rec.read_method = Some(opened.read_method);
        if let (Some(img), Some(data)) = (rec.image.as_mut(), opened.image_data) {
            img.data = Some(data);
        }
        let rel = self.source.member_components(c);
        let source_path = self.source.source_path(c);
        let ctx = FileContext {
            path: &c.path,
            source_path: &source_path,
            size: before.size,
            mtime: before.mtime_secs(),
            on_host: c.image.is_none(),
        };
        if over_limit {
            // Known-bad sets are in use: hash without storing first (known.rs).
            return self.over_limit(rec, opened.reader, before, limits, &rel, &ctx, shared);
        }
        self.read_and_store(
            rec,
            opened.reader,
            before,
            limits,
            pseudo,
            over_limit,
            &rel,
            &ctx,
            shared,
            None,
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn read_and_store(
        &self,
        mut rec: FileRecord,
        mut file: EntryReader,
        before: EntryMeta,
        limits: crate::plan::Limits,
        pseudo: bool,
        over_limit: bool,
        rel: &[&OsStr],
        ctx: &FileContext<'_>,
        shared: &Shared<'_>,
        // The first read of an over-limit file that matched a known-bad set (known.rs).
        first: Option<known::FirstRead>,
    ) -> (FileRecord, Vec<Finding>) {
        let size = before.size;
        // The member's header time is derived from the record's mtime (what verify
        // checks it against), not taken from the stat a second time.
        let mtime = crate::bundle::zipwriter::header_time(rec.facts.mtime.as_deref());
        let mut hasher = MultiHasher::new(self.algs);
        let mut scans = FileTriage::start(self.analyzers, ctx);
        let mut memory: Vec<u8> = Vec::new();
        let mut guard = None;
        let mut problem: Option<(&'static str, String)> = None;
        let mut truncated_note = None;
        let not_executable = |rec| {
            (
                skipped(
                    rec,
                    "not_executable",
                    "rule collects executables only: no execute bit and no executable signature",
                ),
                Vec::new(),
            )
        };
        let output_failed = |rec| {
            (
                errored(rec, "output_failed", "the bundle could not be written"),
                Vec::new(),
            )
        };
        // Small regular files: one read_to_end straight into a buffer of the right size,
        // before the bundle lock is taken. Large, growing and pseudo files: chunk loop.
        let mut chunked = pseudo || size as usize > SMALL_FILE;
        let mut first_checked = false;
        if !chunked {
            memory.reserve_exact(size as usize + 1);
            if let Err(e) = (&mut file)
                .take(SMALL_FILE as u64 + 1)
                .read_to_end(&mut memory)
            {
                problem = Some((
                    "read_error",
                    format!("read failed at offset {}: {e}", memory.len()),
                ));
            }
            if limits.executables_only && !before.has_exec_bit() && !read::looks_executable(&memory)
            {
                return not_executable(rec);
            }
            first_checked = true;
            hasher.update(&memory);
            for part in memory.chunks(CHUNK) {
                if !scans.wants_more() {
                    break;
                }
                scans.update(part);
            }
            self.progress
                .bytes_done
                .fetch_add(memory.len() as u64, Ordering::Relaxed);
            if memory.len() > SMALL_FILE && problem.is_none() {
                // It grew past the in-memory limit while being read: stream the rest.
                if let Err(e) = start_stream(shared.writer, &mut guard, rel, mtime, size, &memory) {
                    shared.fail(e);
                    return output_failed(rec);
                }
                memory = Vec::new();
                chunked = true;
            }
        } else if !pseudo
            && let Err(e) = start_stream(shared.writer, &mut guard, rel, mtime, size, &[])
        {
            shared.fail(e);
            return output_failed(rec);
        }
        let started = Instant::now();
        let mut chunk = ChunkBuf::take();
        // A large file streamed under the bundle lock is hashed beside the reader (see
        // pipe.rs); if no helper thread can be started, inline as before.
        let mut pipe = None;
        if chunked && guard.is_some() {
            match pipe::HashPipe::start(hasher, scans, CHUNK) {
                Ok(p) => {
                    pipe = Some(p);
                    hasher = MultiHasher::new(self.algs);
                    scans = FileTriage::start(&[], ctx);
                }
                Err(back) => (hasher, scans) = *back,
            }
        }
        let mut read_total = hasher.bytes();
        if chunked {
            loop {
                let mut want = CHUNK;
                if let Some(w) = guard.as_ref() {
                    let room = w.max_stream_len();
                    if room == 0 {
                        truncated_note = Some(
                            "file grew beyond 4 GiB while being read; stored up to 4 GiB − 1 bytes"
                                .to_string(),
                        );
                        break;
                    }
                    want = want.min(room.min(CHUNK as u64) as usize);
                }
                if pseudo {
                    let left = limits.pseudo_max_bytes.saturating_sub(read_total);
                    if left == 0 {
                        truncated_note = Some(format!(
                            "pseudo file read up to the rule's limit of {} bytes",
                            limits.pseudo_max_bytes
                        ));
                        break;
                    }
                    want = want.min(left.min(CHUNK as u64) as usize);
                    if started.elapsed() > PSEUDO_TIME_LIMIT {
                        problem = Some((
                            "read_timeout",
                            format!("pseudo file read stopped after {PSEUDO_TIME_LIMIT:?}"),
                        ));
                        break;
                    }
                }
                let mut piped = match pipe.as_mut() {
                    Some(p) => match p.buffer() {
                        Some(b) => Some(b),
                        None => {
                            shared.fail(helper_failed(&rec));
                            return output_failed(rec);
                        }
                    },
                    None => None,
                };
                let buf = match piped.as_mut() {
                    Some(b) => &mut b[..],
                    None => &mut chunk.0[..],
                };
                let n = match file.read(&mut buf[..want]) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {
                        if let (Some(p), Some(b)) = (pipe.as_mut(), piped.take()) {
                            p.give_back(b);
                        }
                        continue;
                    }
                    Err(e) if io_reason(&e) == "locked" => {
                        // A byte-range lock (LockFileEx) by another process.
                        problem = Some((
                            "locked",
                            format!(
                                "read stopped at offset {}: {}",
                                read_total,
                                crate::source::os::locked_detail(&e)
                            ),
                        ));
                        break;
                    }
                    Err(e) => {
                        problem = Some((
                            "read_error",
                            format!("read failed at offset {read_total}: {e}"),
                        ));
                        break;
                    }
                };
                let data = &buf[..n];
                read_total += n as u64;
                if !first_checked {
                    first_checked = true;
                    if limits.executables_only
                        && !before.has_exec_bit()
                        && !read::looks_executable(data)
                    {
                        if let Some(mut w) = guard.take()
                            && let Err(e) = w.abort()
                        {
                            shared.fail(format!("{}: {e}", w.part_path().display()));
                        }
                        return not_executable(rec);
                    }
                }
                if pipe.is_none() {
                    hasher.update(data);
                    scans.update(data);
                }
                self.progress
                    .bytes_done
                    .fetch_add(n as u64, Ordering::Relaxed);
                match guard.as_mut() {
                    Some(w) => {
                        if let Err(e) = w.write_chunk(data) {
                            // Record the failure before releasing the lock, so it is the
                            // first one reported.
                            shared.fail(format!("{}: {e}", w.part_path().display()));
                            drop(guard.take());
                            return output_failed(rec);
                        }
                    }
                    None => memory.extend_from_slice(data),
                }
                if let (Some(p), Some(b)) = (pipe.as_mut(), piped.take())
                    && !p.send(b, n)
                {
                    shared.fail(helper_failed(&rec));
                    drop(guard.take());
                    return output_failed(rec);
                }
                if self.interrupt.load(Ordering::Relaxed) || shared.stop.load(Ordering::Relaxed) {
                    problem = Some((
                        "interrupted",
                        format!("collection was interrupted after {read_total} bytes"),
                    ));
                    break;
                }
            }
        }
        drop(chunk);
        if let Some(p) = pipe.take() {
            match p.finish() {
                Some((h, s)) => (hasher, scans) = (h, s),
                None => {
                    shared.fail(helper_failed(&rec));
                    drop(guard.take());
                    return output_failed(rec);
                }
            }
        }
        if !first_checked && problem.is_none() && limits.executables_only && !before.has_exec_bit()
        {
            // Empty: no signature to look at, and no execute bit.
            if let Some(mut w) = guard.take()
                && let Err(e) = w.abort()
            {
                shared.fail(format!("{}: {e}", w.part_path().display()));
            }
            return not_executable(rec);
        }
        let bytes = hasher.bytes();
        let after = file.metadata_after();
        // A raw read: the MFT record looked at again. Changed, with attempts left: the
        // copy is thrown away and the file read again (`acquire`).
        let raw_change = match &file {
            EntryReader::Raw(r) => match r.changed() {
                Ok(c) => c.map(|c| (c, r.attempt)),
                Err(e) => Some((
                    format!("the MFT record could not be read again after the data: {e}"),
                    r.attempt,
                )),
            },
            _ => None,
        };
        if let Some((what, attempt)) = &raw_change
            && *attempt < crate::source::rawvol::MAX_ATTEMPTS
            && problem.is_none()
            && first.is_none()
        {
            if let Some(mut w) = guard.take()
                && let Err(e) = w.abort()
            {
                shared.fail(format!("{}: {e}", w.part_path().display()));
                return output_failed(rec);
            }
            rec.reason = Some(RAW_RETRY.into());
            rec.detail = Some(what.clone());
            return (rec, Vec::new());
        }
        let digests = hasher.finish();
        record_digests(&mut rec, bytes, &digests);
        // Known-file sets decide whether the content is kept (known.rs); an over-limit
        // file arrives here only on its second read, after a known-bad match.
        let (known_findings, known_good, is_bad) = match &first {
            Some(f) => (f.verdict.findings.clone(), false, true),
            None => {
                let v = self.check_known(&mut rec, &digests);
                (v.findings, v.known_good, v.keep)
            }
        };
        let discard = known_good && !self.keep_known && problem.is_none();
        if discard {
            if let Some(mut w) = guard.take()
                && let Err(e) = w.abort()
            {
                shared.fail(format!("{}: {e}", w.part_path().display()));
                return output_failed(rec);
            }
            rec.status = Some(Status::KnownGood);
            rec.reason = Some("known_good".into());
            rec.detail = Some(format!(
                "matches a known-good set ({}); hashes recorded, content not stored (--keep-known stores it)",
                rec.known
                    .iter()
                    .map(|k| k.set.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
            return (rec, Vec::new());
        }
        // Deflated here, on this worker's core, not under the bundle lock (a duplicate's
        // trial is wasted: whether it is one is only known under the lock).
        let deflated = match (&guard, self.compression) {
            (None, crate::bundle::compress::Compression::Auto) => {
                crate::bundle::compress::deflate_if_worth(&memory)
            }
            _ => None,
        };
        let stored = match guard.as_mut() {
            Some(w) => w
                .end(digests.sha256, bytes)
                .map_err(|e| format!("{}: {e}", w.part_path().display())),
            None => match shared.writer.lock() {
                Ok(mut w) => w
                    .store(rel, &memory, deflated.as_ref(), digests.sha256, mtime, size)
                    .map_err(|e| format!("{}: {e}", w.part_path().display())),
                Err(_) => Err("bundle writer poisoned".to_string()),
            },
        };
        drop(guard);
        let stored = match stored {
            Ok(s) => s,
            Err(e) => {
                shared.fail(e);
                return (
                    errored(rec, "output_failed", "the bundle could not be written"),
                    Vec::new(),
                );
            }
        };
        match &stored {
            Stored::New(m) => rec.member = Some(m.to_string()),
            Stored::Duplicate(m) => rec.duplicate_of = Some(m.to_string()),
        }
        let change = match raw_change {
            Some((what, _)) => Some(what),
            None => after.as_ref().and_then(|a| change_between(&before, a)),
        };
        match (problem, change) {
            (Some((reason, detail)), _) => {
                rec.status = Some(if reason == "locked" {
                    Status::Locked
                } else {
                    Status::Error
                });
                rec.reason = Some(reason.into());
                rec.detail = Some(format!(
                    "{detail}; the {bytes} bytes read are stored and hashed"
                ));
            }
            (None, Some(what)) => {
                rec.status = Some(Status::Changed);
                rec.reason = Some("changed_during_read".into());
                rec.detail = Some(format!(
                    "{what} while being read; the {bytes} bytes read are stored and hashed"
                ));
            }
            (None, None) if !pseudo && bytes != size => {
                rec.status = Some(Status::Changed);
                rec.reason = Some("changed_during_read".into());
                rec.detail = Some(format!(
                    "size was {size} when opened but {bytes} bytes were read"
                ));
            }
            (None, None) => {
                rec.status = Some(if matches!(stored, Stored::Duplicate(_)) {
                    Status::Duplicate
                } else {
                    Status::Collected
                });
                if let Some(note) = truncated_note {
                    rec.detail = Some(note);
                }
            }
        }
        if let Some(first) = &first {
            self.second_read_checked(&mut rec, first, &digests.sha256);
        }
        if matches!(stored, Stored::Duplicate(_)) && rec.status != Some(Status::Duplicate) {
            // Partial or changed content identical to an earlier member: the record keeps
            // its precise status and points at that member.
            rec.member = None;
        }
        let fd = FileDigests {
            sha256: digests.sha256,
            md5: digests.md5,
            sha1: digests.sha1,
        };
        let mut findings = scans.finish(ctx, &fd);
        findings.extend(known_findings);
        if is_bad && over_limit {
            rec.detail = Some(format!(
                "known-bad: stored although {size} bytes exceeds the size limit{}",
                rec.detail
                    .as_ref()
                    .map(|d| format!("; {d}"))
                    .unwrap_or_default()
            ));
        }
        let member = rec.member.clone().or_else(|| rec.duplicate_of.clone());
        for f in &mut findings {
            if f.member.is_none() {
                f.member = member.clone();
            }
            if f.sha256.is_none() {
                f.sha256 = rec.sha256.clone();
            }
            if f.path.is_none() {
                f.path = Some(rec.path.display());
            }
        }
        (rec, findings)
    }
}

/// The 1 MiB read buffer of the current worker thread, allocated (and zeroed) once per
/// thread rather than once per file; handed back when dropped.
struct ChunkBuf(Vec<u8>);

thread_local! {
    static CHUNK_BUFFER: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

impl ChunkBuf {
    fn take() -> Self {
        let mut buf = CHUNK_BUFFER.with(|b| std::mem::take(&mut *b.borrow_mut()));
        if buf.len() < CHUNK {
            buf = vec![0u8; CHUNK];
        }
        ChunkBuf(buf)
    }
}

impl Drop for ChunkBuf {
    fn drop(&mut self) {
        let buf = std::mem::take(&mut self.0);
        CHUNK_BUFFER.with(|b| *b.borrow_mut() = buf);
    }
}

/// The run-stopping error when the helper thread hashing a streamed file has died: the
/// digest of that file can no longer be trusted to cover every byte.
fn helper_failed(rec: &FileRecord) -> String {
    format!(
        "{}: the thread hashing this file while it streamed into the bundle failed",
        rec.path.display()
    )
}

/// Take the bundle lock and start streaming a member, writing `prefix` first.
fn start_stream<'w>(
    writer: &'w Mutex<BundleWriter>,
    guard: &mut Option<std::sync::MutexGuard<'w, BundleWriter>>,
    rel: &[&OsStr],
    mtime: Option<i64>,
    size: u64,
    prefix: &[u8],
) -> Result<(), String> {
    let mut w = writer
        .lock()
        .map_err(|_| "bundle writer poisoned".to_string())?;
    w.begin(rel, mtime, size)
        .map_err(|e| format!("{}: {e}", w.part_path().display()))?;
    if !prefix.is_empty() {
        w.write_chunk(prefix)
            .map_err(|e| format!("{}: {e}", w.part_path().display()))?;
    }
    *guard = Some(w);
    Ok(())
}

fn base_record(c: &Candidate, plan: &Plan) -> FileRecord {
    FileRecord {
        path: PathField::from_path(&c.path),
        fs_type: c.fs_type.clone(),
        rules: plan.rule_names(&c.rules),
        image: c.image.as_ref().map(|e| Box::new(e.facts.clone())),
        ..FileRecord::default()
    }
}

/// A deleted entry of an image read with `--deleted`: stored content keeps its member,
/// and the record says `deleted` (the runs may since have been reused: the record's
/// `image.runs_unallocated` says whether they still were free).
fn mark_deleted(rec: &mut FileRecord) {
    if matches!(rec.status, Some(Status::Collected | Status::Duplicate)) {
        rec.status = Some(Status::Deleted);
        rec.reason = Some("deleted".into());
        rec.detail = Some(
            "deleted entry (metadata record not in use): content read from the runs it last \
             had (--deleted); they may have been reused since"
                .into(),
        );
    } else {
        let was = rec.detail.take().unwrap_or_default();
        rec.detail = Some(format!("deleted entry; {was}"));
    }
}

/// Hash a file (read-only, as evidence) without storing it: for `fieldkit hash`.
pub fn hash_file(path: &Path, algs: AlgSet) -> Result<(Digests, u64), (String, String)> {
    let opened =
        read::open_evidence(path).map_err(|e| (io_reason(&e).to_string(), e.to_string()))?;
    if !opened.metadata.is_file() {
        return Err(("not_a_regular_file".into(), "not a regular file".into()));
    }
    let mut file = opened.file;
    let mut hasher = MultiHasher::new(algs);
    let mut buf = ChunkBuf::take();
    loop {
        match file.read(&mut buf.0) {
            Ok(0) => break,
            Ok(n) => hasher.update(&buf.0[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                return Err((
                    "read_error".into(),
                    format!("at offset {}: {e}", hasher.bytes()),
                ));
            }
        }
    }
    let n = hasher.bytes();
    Ok((hasher.finish(), n))
}

/// Hash one regular-file candidate of any source without storing it (`fieldkit hash`
/// over an image): opened and read exactly as `collect` reads it.
pub fn hash_candidate(
    source: &dyn Source,
    c: &Candidate,
    algs: AlgSet,
) -> Result<(Digests, u64), (String, String)> {
    let mut opened = source
        .open(c, None)
        .map_err(|r| (r.reason.to_string(), r.detail))?;
    let mut hasher = MultiHasher::new(algs);
    let mut buf = ChunkBuf::take();
    loop {
        match opened.reader.read(&mut buf.0) {
            Ok(0) => break,
            Ok(n) => hasher.update(&buf.0[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                return Err((
                    "read_error".into(),
                    format!("at offset {}: {e}", hasher.bytes()),
                ));
            }
        }
    }
    let n = hasher.bytes();
    Ok((hasher.finish(), n))
}
