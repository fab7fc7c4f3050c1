//! The pattern-directed walk of a mounted or live filesystem.
//!
//! Owns deciding, directory by directory, where to descend (only where some rule could
//! still match), which entries are candidates for collection, and which subtrees are
//! deliberately not walked (pseudo and network filesystems, the output directory, the
//! kit's own directory) — each of those is reported, never silently dropped. Never opens
//! a file for reading and never follows a symlink unless the profile asks (then loops are
//! detected and reported instead of followed).

use std::ffi::OsStr;
use std::fs::Metadata;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use walkdir::WalkDir;

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

    /// Walk, calling `emit` for every event; stops early when `emit` returns false or
    /// the interrupt flag is set.
    pub fn walk(&self, mut emit: impl FnMut(WalkEvent) -> bool) {
        let pending: std::cell::RefCell<Vec<WalkEvent>> = std::cell::RefCell::new(Vec::new());
        let root = self.root;
        // Sorted by name: the walk (and files.jsonl with one thread) is repeatable.
        let iter = WalkDir::new(root)
            .follow_links(self.plan.follow_symlinks)
            .sort_by_file_name()
            .into_iter()
            .filter_entry(|entry| {
                if entry.depth() == 0 {
                    return true;
                }
                let comps = relative_components(root, entry.path());
                if !entry.file_type().is_dir() {
                    return true;
                }
                if !self.plan.may_descend(&comps) {
                    return false;
                }
                let meta = entry.metadata().ok();
                if let Some(a) = self.is_avoided(entry.path(), meta.as_ref()) {
                    pending.borrow_mut().push(WalkEvent::NotWalked {
                        path: entry.path().to_path_buf(),
                        reason: a.reason,
                        detail: a.detail.clone(),
                    });
                    return false;
                }
                let (class, fs_type) = self.class_of(meta.as_ref());
                let fs_type = fs_type.unwrap_or_else(|| "unknown".into());
                match class {
                    FsClass::Regular => true,
                    FsClass::Pseudo if self.plan.reaches_literally_below(&comps) => true,
                    FsClass::Pseudo => {
                        pending.borrow_mut().push(WalkEvent::NotWalked {
                            path: entry.path().to_path_buf(),
                            reason: "pseudo_filesystem",
                            detail: format!(
                                "{fs_type} is a kernel pseudo filesystem; walked only where a \
                                 rule names a path on it"
                            ),
                        });
                        false
                    }
                    FsClass::Network => {
                        pending.borrow_mut().push(WalkEvent::NotWalked {
                            path: entry.path().to_path_buf(),
                            reason: "network_filesystem",
                            detail: format!(
                                "{fs_type} is a network filesystem; a read can hang when the \
                                 server is gone: collect it separately"
                            ),
                        });
                        false
                    }
                }
            });
        let mut iter = iter;
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
                    let comps = relative_components(root, entry.path());
                    let rules = self.plan.matching_rules(&comps);
                    if rules.is_empty() {
                        continue;
                    }
                    let metadata = entry.metadata().ok();
                    let (fs_class, fs_type) = self.class_of(metadata.as_ref());
                    WalkEvent::Candidate(Candidate {
                        path: entry.into_path(),
                        rules,
                        metadata,
                        fs_class,
                        fs_type,
                    })
                }
                Err(err) => {
                    let path = err.path().unwrap_or(root).to_path_buf();
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
