//! The pattern-directed walk of a mounted or live filesystem.
//!
//! Owns deciding, directory by directory, where to descend (only where some rule could
//! still match), which entries are candidates for collection, and which subtrees are
//! deliberately not walked (pseudo and network filesystems, the output directory, the
//! kit's own directory) — each of those is reported, never silently dropped. Never opens
//! a file for reading and never follows a symlink unless the profile asks (then loops are
//! detected and reported instead of followed, and a link to a directory outside the source
//! is recorded and not entered).

use std::ffi::OsStr;
use std::fs::Metadata;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use walkdir::WalkDir;

use super::longpath;
use super::mounts::{FsClass, MountTable};
use crate::plan::Plan;

/// A path some rule wants, with what the walk already knows about it.
#[derive(Debug)]
pub struct Candidate {
    pub path: PathBuf,
    pub rules: Vec<u16>,
    /// `lstat` (or `stat` when following symlinks) taken by the walk.
    pub metadata: Option<Metadata>,
    pub fs_class: FsClass,
    pub fs_type: Option<String>,
}

#[derive(Debug)]
pub enum WalkEvent {
    Candidate(Candidate),
    /// A directory deliberately not walked, with a stable reason code.
    NotWalked {
        path: PathBuf,
        reason: &'static str,
        detail: String,
    },
    /// A directory or entry the walk could not read.
    Error {
        path: PathBuf,
        reason: &'static str,
        detail: String,
    },
}

/// A directory the walk must not enter (the output directory, the kit directory).
#[derive(Debug, Clone)]
pub struct Avoid {
    pub path: PathBuf,
    pub file_id: Option<(u64, u64)>,
    pub reason: &'static str,
    pub detail: String,
}

impl Avoid {
    pub fn new(path: &Path, reason: &'static str, detail: String) -> Self {
        Avoid {
            path: path.to_path_buf(),
            file_id: std::fs::metadata(path).ok().and_then(|m| file_id(&m)),
            reason,
            detail,
        }
    }
}

#[cfg(unix)]
pub fn file_id(m: &Metadata) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    Some((m.dev(), m.ino()))
}

#[cfg(not(unix))]
pub fn file_id(_m: &Metadata) -> Option<(u64, u64)> {
    None
}

#[cfg(unix)]
fn dev_of(m: &Metadata) -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    Some(m.dev())
}

#[cfg(not(unix))]
fn dev_of(_m: &Metadata) -> Option<u64> {
    None
}

/// Components of `path` below `root`.
pub fn relative_components<'a>(root: &Path, path: &'a Path) -> Vec<&'a OsStr> {
    path.strip_prefix(root)
        .unwrap_or(path)
        .components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n),
            _ => None,
        })
        .collect()
}

pub struct Walker<'a> {
    pub root: &'a Path,
    pub plan: &'a Plan,
    pub mounts: &'a MountTable,
    pub avoid: &'a [Avoid],
    pub interrupt: &'a AtomicBool,
}

impl Walker<'_> {
    fn is_avoided(&self, path: &Path, meta: Option<&Metadata>) -> Option<&Avoid> {
        self.avoid
            .iter()
            .find(|a| match (a.file_id, meta.and_then(file_id)) {
                (Some(want), Some(have)) => want == have,
                _ => a.path == path,
            })
    }

    fn class_of(&self, meta: Option<&Metadata>) -> (FsClass, Option<String>) {
        match meta.and_then(dev_of) {
            Some(dev) => (
                self.mounts.class(dev),
                self.mounts.fs_type(dev).map(str::to_string),
            ),
            None => (FsClass::Regular, None),
        }
    }

    /// Whether to enter a directory, or why it is deliberately not walked.
    fn dir_verdict(&self, path: &Path, comps: &[&OsStr], meta: Option<&Metadata>) -> DirVerdict {
        if !self.plan.may_descend(comps) {
            return DirVerdict::Prune;
        }
        if let Some(a) = self.is_avoided(path, meta) {
            return DirVerdict::NotWalked(Box::new(WalkEvent::NotWalked {
                path: path.to_path_buf(),
                reason: a.reason,
                detail: a.detail.clone(),
            }));
        }
        let (class, fs_type) = self.class_of(meta);
        let fs_type = fs_type.unwrap_or_else(|| "unknown".into());
        match class {
            FsClass::Regular => DirVerdict::Descend,
            FsClass::Pseudo if self.plan.reaches_literally_below(comps) => DirVerdict::Descend,
            FsClass::Pseudo => DirVerdict::NotWalked(Box::new(WalkEvent::NotWalked {
                path: path.to_path_buf(),
                reason: "pseudo_filesystem",
                detail: format!(
                    "{fs_type} is a kernel pseudo filesystem; walked only where a rule names a path on it"
                ),
            })),
            FsClass::Network => DirVerdict::NotWalked(Box::new(WalkEvent::NotWalked {
                path: path.to_path_buf(),
                reason: "network_filesystem",
                detail: format!(
                    "{fs_type} is a network filesystem; a read can hang when the server is gone: \
                     collect it separately"
                ),
            })),
        }
    }

    /// `NotWalked` for a symlink (followed by the profile) that resolves outside the
    /// source, or that cannot be resolved at all.
    fn link_out_of_source(&self, path: &Path) -> Option<WalkEvent> {
        match std::fs::canonicalize(path) {
            Ok(real) if real.starts_with(self.root) => None,
            Ok(real) => Some(WalkEvent::NotWalked {
                path: path.to_path_buf(),
                reason: "symlink_outside_source",
                detail: format!(
                    "symbolic link to the directory {}, outside the source: recorded, not \
                     followed (on a mounted image it would lead into the examiner's own system)",
                    real.display()
                ),
            }),
            Err(e) => Some(WalkEvent::Error {
                path: path.to_path_buf(),
                reason: io_reason(&e),
                detail: format!("symbolic link to a directory that cannot be resolved: {e}"),
            }),
        }
    }

    /// The candidate for a non-directory entry, if any rule wants it.
    fn candidate(&self, path: PathBuf, metadata: Option<Metadata>) -> Option<WalkEvent> {
        let rules = self
            .plan
            .matching_rules(&relative_components(self.root, &path));
        if rules.is_empty() {
            return None;
        }
        let (fs_class, fs_type) = self.class_of(metadata.as_ref());
        Some(WalkEvent::Candidate(Candidate {
            path,
            rules,
            metadata,
            fs_class,
            fs_type,
        }))
    }

    /// Walk, calling `emit` for every event; stops early when `emit` returns false or
    /// the interrupt flag is set.
    pub fn walk(&self, mut emit: impl FnMut(WalkEvent) -> bool) {
        let pending: std::cell::RefCell<Vec<WalkEvent>> = std::cell::RefCell::new(Vec::new());
        let root = self.root;
        // Sorted by name: the walk (and files.jsonl with one thread) is repeatable.
        let mut iter = WalkDir::new(root)
            .follow_links(self.plan.follow_symlinks)
            .sort_by_file_name()
            .into_iter()
            .filter_entry(|entry| {
                if entry.depth() == 0 || !entry.file_type().is_dir() {
                    return true;
                }
                // A followed link to a directory outside the source (an absolute link on a
                // mounted image points into the examiner's own system) is not entered.
                if entry.path_is_symlink()
                    && let Some(ev) = self.link_out_of_source(entry.path())
                {
                    pending.borrow_mut().push(ev);
                    return false;
                }
                let comps = relative_components(root, entry.path());
                let meta = entry.metadata().ok();
                match self.dir_verdict(entry.path(), &comps, meta.as_ref()) {
                    DirVerdict::Descend => true,
                    DirVerdict::Prune => false,
                    DirVerdict::NotWalked(ev) => {
                        pending.borrow_mut().push(*ev);
                        false
                    }
                }
            });
        loop {
            if self.interrupt.load(Ordering::Relaxed) {
                return;
            }
            let next = iter.next();
            let drained: Vec<WalkEvent> = pending.borrow_mut().drain(..).collect();
            for ev in drained {
                if !emit(ev) {
                    return;
                }
            }
            let Some(item) = next else { break };
            let event = match item {
                Ok(entry) => {
                    if entry.depth() == 0 || entry.file_type().is_dir() {
                        continue;
                    }
                    let metadata = entry.metadata().ok();
                    match self.candidate(entry.into_path(), metadata) {
                        Some(ev) => ev,
                        None => continue,
                    }
                }
                Err(err) => {
                    let path = err.path().unwrap_or(root).to_path_buf();
                    // Following links, a dangling one fails the walk's stat: it is still
                    // a path considered, recorded as the link it is.
                    if self.plan.follow_symlinks
                        && err
                            .io_error()
                            .is_some_and(|e| e.kind() == std::io::ErrorKind::NotFound)
                        && let Ok(m) = std::fs::symlink_metadata(&path)
                        && m.file_type().is_symlink()
                    {
                        if let Some(ev) = self.candidate(path, Some(m))
                            && !emit(ev)
                        {
                            return;
                        }
                        continue;
                    }
                    if err.io_error().is_some_and(longpath::is_too_long) {
                        // Deeper than one system call can name: continue below it
                        // through directory descriptors.
                        if !self.walk_long(&path, &mut emit) {
                            return;
                        }
                        continue;
                    }
                    if let Some(ancestor) = err.loop_ancestor() {
                        WalkEvent::Error {
                            path,
                            reason: "symlink_loop",
                            detail: format!(
                                "symbolic link loop: leads back to {}",
                                ancestor.display()
                            ),
                        }
                    } else {
                        let (reason, detail) = match err.io_error() {
                            Some(io) => (io_reason(io), io.to_string()),
                            None => ("io_error", err.to_string()),
                        };
                        WalkEvent::Error {
                            path,
                            reason,
                            detail,
                        }
                    }
                }
            };
            if !emit(event) {
                return;
            }
        }
        let drained: Vec<WalkEvent> = pending.borrow_mut().drain(..).collect();
        for ev in drained {
            if !emit(ev) {
                return;
            }
        }
    }

    /// Walk a subtree whose paths exceed PATH_MAX, with the same decisions as `walk`
    /// (symlinks are never followed here). Returns false when `emit` asked to stop.
    fn walk_long(&self, top: &Path, emit: &mut impl FnMut(WalkEvent) -> bool) -> bool {
        let mut stack = vec![top.to_path_buf()];
        while let Some(dir) = stack.pop() {
            if self.interrupt.load(Ordering::Relaxed) {
                return false;
            }
            let listing = longpath::short(&dir).and_then(|s| {
                let mut entries: Vec<std::fs::DirEntry> =
                    std::fs::read_dir(&s.path)?.collect::<Result<_, _>>()?;
                entries.sort_by_key(|e| e.file_name());
                // DirEntry::metadata uses fstatat on the open directory: no long path.
                Ok(entries
                    .into_iter()
                    .map(|e| (e.file_name(), e.metadata().ok()))
                    .collect::<Vec<_>>())
            });
            let entries = match listing {
                Ok(e) => e,
                Err(e) => {
                    if !emit(WalkEvent::Error {
                        path: dir.clone(),
                        reason: io_reason(&e),
                        detail: format!("{e} (path of {} bytes)", dir.as_os_str().len()),
                    }) {
                        return false;
                    }
                    continue;
                }
            };
            let mut subdirs = Vec::new();
            for (name, meta) in entries {
                let path = dir.join(&name);
                if meta.as_ref().is_some_and(|m| m.is_dir()) {
                    let comps = relative_components(self.root, &path);
                    match self.dir_verdict(&path, &comps, meta.as_ref()) {
                        DirVerdict::Descend => subdirs.push(path),
                        DirVerdict::Prune => {}
                        DirVerdict::NotWalked(ev) => {
                            if !emit(*ev) {
                                return false;
                            }
                        }
                    }
                } else if let Some(ev) = self.candidate(path, meta)
                    && !emit(ev)
                {
                    return false;
                }
            }
            // Depth-first in name order, like the main walk.
            stack.extend(subdirs.into_iter().rev());
        }
        true
    }
}

enum DirVerdict {
    Descend,
    Prune,
    NotWalked(Box<WalkEvent>),
}

/// Stable reason code for an I/O error.
pub fn io_reason(e: &std::io::Error) -> &'static str {
    use std::io::ErrorKind::*;
    match e.kind() {
        NotFound => "vanished",
        PermissionDenied => "permission_denied",
        _ => match e.raw_os_error() {
            #[cfg(windows)]
            Some(32) | Some(33) => "locked",
            #[cfg(unix)]
            Some(libc::ELOOP) => "symlink_loop",
            #[cfg(unix)]
            Some(libc::EIO) => "io_error",
            _ => "io_error",
        },
    }
}
