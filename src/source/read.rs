//! Reading evidence files without changing them.
//!
//! Owns the one way fieldkit opens a source file: read-only, `O_NOATIME` where the kernel
//! permits (so access times on the evidence stay as they were), `O_NOFOLLOW` (a file
//! swapped for a symlink after the walk is not followed), `O_NONBLOCK` (a file swapped for
//! a FIFO cannot block the open), then `fstat` to confirm it is still a regular file. The
//! facts files.jsonl records come from `entry::EntryMeta`, made once from the `fstat`.
//! On Windows the same guarantees come from opening the reparse point itself (a file
//! swapped for a link is not followed) with read/write/delete sharing; there is no
//! counterpart of O_NOATIME (docs/packaging.md, "Windows").
//! Never opens for writing, never uses mmap on evidence (a file truncated under a mapping
//! would kill the process with SIGBUS).

use std::fs::{File, Metadata};

use std::io;
use std::path::Path;

use serde::{Deserialize, Serialize};

pub struct Opened {
    pub file: File,
    /// Whether `O_NOATIME` was in effect (false where the kernel refused it).
    pub noatime: bool,
    pub metadata: Metadata,
}

/// Open a source file for reading as described in the module doc.
pub fn open_evidence(path: &Path) -> io::Result<Opened> {
    let short = super::longpath::short(path)?;
    let path = short.path.as_path();
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        let base = libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC;
        #[cfg(any(target_os = "linux", target_os = "android"))]
        let noatime_flag = libc::O_NOATIME;
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        let noatime_flag = 0;
        let attempt = |flags: i32| {
            std::fs::OpenOptions::new()
                .read(true)
                .custom_flags(flags)
                .open(path)
        };
        let (file, noatime) = match attempt(base | noatime_flag) {
            Ok(f) => (f, noatime_flag != 0),
            // EPERM: O_NOATIME is only allowed to the file's owner or CAP_FOWNER.
            Err(e) if noatime_flag != 0 && e.raw_os_error() == Some(libc::EPERM) => {
                (attempt(base)?, false)
            }
            Err(e) => return Err(e),
        };
        let metadata = file.metadata()?;
        Ok(Opened {
            file,
            noatime,
            metadata,
        })
    }
    #[cfg(windows)]
    {
        // The Windows counterpart of O_NOFOLLOW: open the reparse point itself, so a file
        // swapped for a symlink or junction after the walk shows up as one (the caller
        // then records `replaced`) instead of being followed. std's share mode is
        // read|write|delete, so a file another process has open is still readable unless
        // that process denied sharing (ERROR_SHARING_VIOLATION → `locked`).
        use std::os::windows::fs::{MetadataExt, OpenOptionsExt};
        const FILE_FLAG_OPEN_REPARSE_POINT: u32 = 0x0020_0000;
        const FILE_ATTRIBUTE_REPARSE_POINT: u32 = 0x0000_0400;
        let file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(FILE_FLAG_OPEN_REPARSE_POINT)
            .open(path)?;
        let metadata = file.metadata()?;
        if metadata.file_attributes() & FILE_ATTRIBUTE_REPARSE_POINT != 0
            && !metadata.file_type().is_symlink()
        {
            // A reparse point that is not a link (deduplicated, WOF-compressed, cloud
            // placeholder): its content is only served through an ordinary open.
            let file = File::open(path)?;
            let metadata = file.metadata()?;
            return Ok(Opened {
                file,
                noatime: false,
                metadata,
            });
        }
        Ok(Opened {
            file,
            noatime: false,
            metadata,
        })
    }
    #[cfg(not(any(unix, windows)))]
    {
        let file = File::open(path)?;
        let metadata = file.metadata()?;
        Ok(Opened {
            file,
            noatime: false,
            metadata,
        })
    }
}

/// The mark `source::os` puts in a record's `read_method` when the kernel refused
/// O_NOATIME for that file (its access time may have changed).
pub const NOATIME_REFUSED: &str = "(O_NOATIME refused)";

/// Why this process cannot open every file with O_NOATIME, or `None` when it can (or the
/// OS has no such flag). Linux allows O_NOATIME to a file's owner and to a process with
/// CAP_FOWNER in its effective set (root has it): anyone else changes the access time of
/// every file of another user it reads.
pub fn noatime_limited() -> Option<String> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        const CAP_FOWNER: u32 = 3;
        // SAFETY: geteuid has no preconditions.
        let euid = unsafe { libc::geteuid() };
        let cap_fowner = std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("CapEff:"))
                    .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
            })
            .map(|caps| caps & (1 << CAP_FOWNER) != 0)
            .unwrap_or(euid == 0);
        if cap_fowner {
            return None;
        }
        Some(format!(
            "running as uid {euid} without CAP_FOWNER{}: the kernel allows O_NOATIME only on \
             files and directories this user owns",
            if euid == 0 { "" } else { " (not root)" }
        ))
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        None
    }
}

/// `lstat`, also for paths longer than PATH_MAX.
pub fn lstat(path: &Path) -> io::Result<Metadata> {
    std::fs::symlink_metadata(super::longpath::short(path)?.path)
}

/// `readlink`, also for paths longer than PATH_MAX.
pub fn read_link(path: &Path) -> io::Result<std::path::PathBuf> {
    std::fs::read_link(super::longpath::short(path)?.path)
}

/// Metadata facts as they appear in a files.jsonl record.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FileFacts {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mtime: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub atime: Option<String>,
    /// Inode change time (Unix); absent where the OS has none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ctime: Option<String>,
    /// Birth (creation) time where the filesystem records it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub btime: Option<String>,
    /// Full st_mode in octal (type and permission bits).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uid: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gid: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inode: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dev: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nlink: Option<u64>,
}

/// True if `head` starts like an executable or script (ELF, MZ/PE, Mach-O, fat, `#!`).
pub fn looks_executable(head: &[u8]) -> bool {
    const MAGICS: &[&[u8]] = &[
        b"\x7fELF",
        b"MZ",
        b"#!",
        &[0xfe, 0xed, 0xfa, 0xce],
        &[0xfe, 0xed, 0xfa, 0xcf],
        &[0xce, 0xfa, 0xed, 0xfe],
        &[0xcf, 0xfa, 0xed, 0xfe],
        &[0xca, 0xfe, 0xba, 0xbe],
    ];
    MAGICS.iter().any(|m| head.starts_with(m))
}
