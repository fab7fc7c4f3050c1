//! The OS source: a mounted or live file system read through the operating system's file
//! API, behind the `Source` seam.
//!
//! Owns wiring today's walker (`walk`, `dirlist`: O_NOATIME listing, pseudo and network
//! file systems not entered, the output and kit directories avoided) and the one way
//! evidence files are opened (`read::open_evidence`: read-only, O_NOATIME, O_NOFOLLOW,
//! O_NONBLOCK, `fstat` of the open descriptor) to the engine, and everything about
//! symlinks when a profile follows them (resolved to the canonical path, read only when
//! that lies inside the source, the open descriptor's path checked again on Linux).
//! Never opens for writing, never follows a link out of the source.

use std::ffi::OsStr;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use super::entry::EntryMeta;
use super::mounts::MountTable;
use super::read;
use super::walk::{Avoid, Walker, io_reason, relative_components};
use super::{Candidate, EntryReader, OpenRefused, OpenedEntry, Source, WalkEvent};
use crate::bundle::record::{FileRecord, PathField, Status};
use crate::plan::Plan;

pub struct OsSource<'a> {
    pub root: &'a Path,
    pub plan: &'a Plan,
    pub mounts: &'a MountTable,
    pub avoid: &'a [Avoid],
    /// Live Windows: the raw volume of the source's drive, for locked files and the NTFS
    /// metadata files (`rawvol`); `None` elsewhere.
    pub raw: Option<&'a super::rawvol::RawAccess>,
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

/// The record detail for a file another process holds locked (Windows sharing or lock
/// violation) that the raw NTFS volume did not give either.
pub fn locked_detail(e: &std::io::Error) -> String {
    format!(
        "locked by another process ({e}), e.g. a live registry hive or an open event log; \
         not read: the raw NTFS volume is read only for a live Windows system's local NTFS \
         drive"
    )
}

/// The detail for a locked file whose raw NTFS read failed too.
pub fn locked_raw_failed(e: &std::io::Error, device: &str, why: &dyn std::fmt::Display) -> String {
    format!("locked by another process ({e}); the raw NTFS read through {device} failed too: {why}")
}

impl OsSource<'_> {
    /// Resolve a symlink the profile follows: its canonical target when that lies inside
    /// the source, else the finished record (outside: skipped, never opened).
    fn follow(
        &self,
        path: &Path,
        link: &EntryMeta,
        rec: &mut FileRecord,
    ) -> Result<PathBuf, Box<FileRecord>> {
        rec.link_target = read::read_link(path).ok().map(|t| PathField::from_path(&t));
        match std::fs::canonicalize(path) {
            Ok(real) if real.starts_with(self.root) => {
                rec.resolved_target = Some(PathField::from_path(&real));
                Ok(real)
            }
            Ok(real) => {
                rec.resolved_target = Some(PathField::from_path(&real));
                // The link's own facts: nothing about the place outside is recorded.
                rec.file_type = Some("symlink".into());
                rec.facts = link.facts();
                rec.size = Some(link.size);
                Err(Box::new(skipped(
                    std::mem::take(rec),
                    "symlink_outside_source",
                    format!(
                        "symbolic link to {}, outside the source: recorded, not followed (on a \
                         mounted image it would lead into the examiner's own system)",
                        real.display()
                    ),
                )))
            }
            Err(e) => {
                rec.file_type = Some("symlink".into());
                rec.facts = link.facts();
                rec.size = Some(link.size);
                let rec = std::mem::take(rec);
                Err(Box::new(if e.kind() == std::io::ErrorKind::NotFound {
                    skipped(
                        rec,
                        "symlink",
                        "symbolic link whose target does not exist: recorded, nothing to read",
                    )
                } else {
                    errored(
                        rec,
                        io_reason(&e),
                        format!("symbolic link that cannot be resolved: {e}"),
                    )
                }))
            }
        }
    }

    /// After opening a followed link's target: the file opened still lies inside the
    /// source (Linux: the kernel's name for the open descriptor). Elsewhere, and for paths
    /// that are not links, true.
    fn still_inside(&self, opened: &read::Opened, path: &Path) -> bool {
        if !self.plan.follow_symlinks || !path.is_absolute() {
            return true;
        }
        #[cfg(target_os = "linux")]
        {
            use std::os::unix::io::AsRawFd;
            let fd = opened.file.as_raw_fd();
            match std::fs::read_link(format!("/proc/self/fd/{fd}")) {
                Ok(real) => real.starts_with(self.root),
                // No /proc: the canonical path was checked just before the open.
                Err(_) => true,
            }
        }
        #[cfg(not(target_os = "linux"))]
        {
            let _ = opened;
            true
        }
    }
}

impl Source for OsSource<'_> {
    fn describe(&self) -> String {
        self.root.display().to_string()
    }

    fn walk(&self, interrupt: &AtomicBool, emit: &mut dyn FnMut(WalkEvent) -> bool) {
        let mut seen_metadata = Vec::new();
        let mut go_on = true;
        Walker {
            root: self.root,
            plan: self.plan,
            mounts: self.mounts,
            avoid: self.avoid,
            interrupt,
        }
        .walk(&mut |ev| {
            if let (Some(raw), WalkEvent::Candidate(c)) = (self.raw, &ev)
                && raw
                    .relative(&c.path)
                    .is_some_and(|r| super::rawvol::metadata_file(&r).is_some())
            {
                seen_metadata.push(c.path.clone());
            }
            go_on = emit(ev);
            go_on
        });
        // The NTFS metadata files the rules name: the Windows API lists none of them.
        if let Some(raw) = self.raw
            && go_on
            && !interrupt.load(std::sync::atomic::Ordering::Relaxed)
        {
            for ev in raw.metadata_events(self.root, self.plan, &seen_metadata) {
                if !emit(ev) {
                    return;
                }
            }
        }
    }

    fn stat(&self, c: &Candidate) -> io::Result<EntryMeta> {
        read::lstat(&c.path).map(|m| EntryMeta::from_std(&m))
    }

    fn resolve(
        &self,
        c: &Candidate,
        mut meta: EntryMeta,
        rec: &mut FileRecord,
    ) -> Result<(EntryMeta, Option<PathBuf>), Box<FileRecord>> {
        // With a profile that follows links, a link is read through its target when that
        // lies inside the source; both paths are recorded.
        if !self.plan.follow_symlinks {
            return Ok((meta, None));
        }
        let Ok(link) = read::lstat(&c.path) else {
            return Ok((meta, None));
        };
        if !link.file_type().is_symlink() {
            return Ok((meta, None));
        }
        let real = self.follow(&c.path, &EntryMeta::from_std(&link), rec)?;
        if meta.is_symlink()
            && let Ok(m) = std::fs::metadata(&real)
        {
            // The walk gave the link's own lstat: classify by the target.
            meta = EntryMeta::from_std(&m);
            rec.file_type = Some(meta.kind.name().into());
            rec.facts = meta.facts();
            rec.size = Some(meta.size);
        }
        Ok((meta, Some(real)))
    }

    fn link_target(&self, c: &Candidate) -> Option<PathField> {
        read::read_link(&c.path)
            .ok()
            .map(|t| PathField::from_path(&t))
    }

    fn open(&self, c: &Candidate, instead: Option<&Path>) -> Result<OpenedEntry, OpenRefused> {
        let open_path = instead.unwrap_or(&c.path);
        // An NTFS metadata file: there is no API path to it, only the raw volume.
        if let Some(raw) = self.raw
            && let Some(rel) = raw.relative(open_path)
            && super::rawvol::metadata_file(&rel).is_some()
        {
            return raw
                .open_entry(&rel, "ntfs_metadata", None)
                .map_err(|e| OpenRefused {
                    status: Status::Error,
                    reason: e.reason,
                    detail: format!(
                        "{rel}: the raw NTFS read through {} failed: {e}",
                        raw.device
                    ),
                });
        }
        let opened = match read::open_evidence(open_path) {
            Ok(o) if !self.still_inside(&o, open_path) => {
                return Err(OpenRefused {
                    status: Status::Error,
                    reason: "replaced",
                    detail: "the link's target moved out of the source between resolving and \
                             opening it"
                        .into(),
                });
            }
            Ok(o) => o,
            Err(e) => {
                let reason = io_reason(&e);
                if reason == "locked" {
                    // Held without sharing: the same file through the raw volume.
                    if let Some(raw) = self.raw
                        && let Some(rel) = raw.relative(open_path)
                    {
                        return raw.open_entry(&rel, "locked", Some(e.to_string())).map_err(
                            |why| OpenRefused {
                                status: Status::Locked,
                                reason,
                                detail: locked_raw_failed(&e, &raw.device, &why),
                            },
                        );
                    }
                    return Err(OpenRefused {
                        status: Status::Locked,
                        reason,
                        detail: locked_detail(&e),
                    });
                }
                if reason == "symlink_loop" {
                    return Err(OpenRefused {
                        status: Status::Error,
                        reason: "replaced",
                        detail: format!("replaced by a symbolic link after it was listed: {e}"),
                    });
                }
                return Err(OpenRefused {
                    status: Status::Error,
                    reason,
                    detail: e.to_string(),
                });
            }
        };
        let read_method = if opened.noatime {
            "read(O_RDONLY|O_NOATIME)".into()
        } else if cfg!(unix) {
            format!("read(O_RDONLY) {}", super::read::NOATIME_REFUSED)
        } else {
            "ReadFile(GENERIC_READ, share read|write|delete, reparse points not followed)".into()
        };
        Ok(OpenedEntry {
            before: EntryMeta::from_std(&opened.metadata),
            reader: EntryReader::File(opened.file),
            read_method,
            image_data: None,
            raw: None,
            how_read: cfg!(windows).then_some("api"),
        })
    }

    fn member_components<'a>(&self, c: &'a Candidate) -> Vec<&'a OsStr> {
        relative_components(self.root, &c.path)
    }

    fn source_path(&self, c: &Candidate) -> String {
        relative_components(self.root, &c.path)
            .iter()
            .map(|s| s.to_string_lossy())
            .collect::<Vec<_>>()
            .join("/")
    }

    fn describe_not_walked(&self, path: &Path, rec: &mut FileRecord) {
        if let Ok(m) = read::lstat(path) {
            let meta = EntryMeta::from_std(&m);
            rec.facts = meta.facts();
            if meta.is_symlink() {
                rec.file_type = Some("symlink".into());
                rec.link_target = read::read_link(path).ok().map(|t| PathField::from_path(&t));
                rec.resolved_target = std::fs::canonicalize(path)
                    .ok()
                    .map(|t| PathField::from_path(&t));
            }
        }
    }
}
