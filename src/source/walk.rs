//! The pattern-directed walk of a mounted or live filesystem (the OS source's walk).
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

use super::mounts::{FsClass, MountTable};
use super::{dirlist, longpath};
use crate::plan::Plan;

use super::entry::EntryMeta;
pub use super::{Candidate, WalkEvent};

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
        let size = metadata.as_ref().filter(|m| m.is_file()).map(|m| m.len());
        let rules = self
            .plan
            .matching_rules(&relative_components(self.root, &path), size);
        if rules.is_empty() {
            return None;
        }
        let (fs_class, fs_type) = self.class_of(metadata.as_ref());
        Some(WalkEvent::Candidate(Candidate {
            path,
            rules,
            metadata: metadata.as_ref().map(EntryMeta::from_std),
            fs_class,
            fs_type,
            image: None,
        }))
    }

    /// Walk, calling `emit` for every event; stops early when `emit` returns false or
    /// the interrupt flag is set. Depth first, each directory's entries in byte order of
    /// their names (a directory's contents come right after it), so the walk is
    /// repeatable. Directories are listed through `dirlist` (O_NOATIME: listing does not
    /// change their access time) and every entry is `lstat`ed (or `stat`ed when the
    /// profile follows symlinks), at any path length.
    pub fn walk(&self, mut emit: impl FnMut(WalkEvent) -> bool) {
        let follow = self.plan.follow_symlinks;
        let root_id = stat_of(self.root, true).ok().as_ref().and_then(file_id);
        let root_names = match dirlist::names(self.root, true) {
            Ok(n) => n,
            Err(e) => {
                emit(self.listing_error(self.root, &e));
                return;
            }
        };
        // One frame per directory being listed: its path, its sorted entry names, the
        // next one to look at, and (when following links) the identity of it and of every
        // directory above it, to recognise a link that leads back up.
        struct Frame {
            dir: PathBuf,
            names: Vec<std::ffi::OsString>,
            next: usize,
            ancestors: Vec<((u64, u64), PathBuf)>,
        }
        let mut stack = vec![Frame {
            dir: self.root.to_path_buf(),
            names: root_names,
            next: 0,
            ancestors: root_id
                .map(|id| vec![(id, self.root.to_path_buf())])
                .unwrap_or_default(),
        }];
        while let Some(frame) = stack.last_mut() {
            if self.interrupt.load(Ordering::Relaxed) {
                return;
            }
            let Some(name) = frame.names.get(frame.next) else {
                stack.pop();
                continue;
            };
            frame.next += 1;
            let path = frame.dir.join(name);
            let link_meta = stat_of(&path, false).ok();
            let is_link = link_meta
                .as_ref()
                .is_some_and(|m| m.file_type().is_symlink());
            // Following: a link is seen as what it points to; a dangling link stays a link.
            let meta = if follow && is_link {
                stat_of(&path, true).ok().or(link_meta)
            } else {
                link_meta
            };
            if !meta.as_ref().is_some_and(|m| m.is_dir()) {
                if let Some(ev) = self.candidate(path, meta)
                    && !emit(ev)
                {
                    return;
                }
                continue;
            }
            let comps = relative_components(self.root, &path);
            match self.dir_verdict(&path, &comps, meta.as_ref()) {
                DirVerdict::Prune => continue,
                DirVerdict::NotWalked(ev) => {
                    if !emit(*ev) {
                        return;
                    }
                    continue;
                }
                DirVerdict::Descend => {}
            }
            let id = meta.as_ref().and_then(file_id);
            // A followed link to a directory outside the source (an absolute link on a
            // mounted image points into the examiner's own system) is not entered.
            if is_link && let Some(ev) = self.link_out_of_source(&path) {
                if !emit(ev) {
                    return;
                }
                continue;
            }
            if is_link {
                let back = id.and_then(|id| frame.ancestors.iter().find(|(a, _)| *a == id));
                let loop_event = match (back, id) {
                    (Some((_, ancestor)), _) => Some(format!(
                        "symbolic link loop: leads back to {}",
                        ancestor.display()
                    )),
                    // Without an identity a cycle cannot be recognised: not followed.
                    (None, None) => Some(
                        "symbolic link to a directory whose identity this system does not \
                         report: not followed, so a loop cannot run forever"
                            .to_string(),
                    ),
                    (None, Some(_)) => None,
                };
                if let Some(detail) = loop_event {
                    if !emit(WalkEvent::Error {
                        path,
                        reason: "symlink_loop",
                        detail,
                    }) {
                        return;
                    }
                    continue;
                }
            }
            let names = match dirlist::names(&path, is_link) {
                Ok(n) => n,
                Err(e) => {
                    if !emit(self.listing_error(&path, &e)) {
                        return;
                    }
                    continue;
                }
            };
            let mut ancestors = frame.ancestors.clone();
            if let Some(id) = id {
                ancestors.push((id, path.clone()));
            }
            stack.push(Frame {
                dir: path,
                names,
                next: 0,
                ancestors,
            });
        }
    }

    fn listing_error(&self, dir: &Path, e: &std::io::Error) -> WalkEvent {
        let len = dir.as_os_str().len();
        WalkEvent::Error {
            path: dir.to_path_buf(),
            reason: io_reason(e),
            detail: if len > longpath::SHORT_ENOUGH {
                format!("{e} (path of {len} bytes)")
            } else {
                e.to_string()
            },
        }
    }
}

/// `lstat` (or `stat` with `follow`) at any path length; neither changes a time.
fn stat_of(path: &Path, follow: bool) -> std::io::Result<Metadata> {
    let short = longpath::short(path)?;
    if follow {
        std::fs::metadata(&short.path)
    } else {
        std::fs::symlink_metadata(&short.path)
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
