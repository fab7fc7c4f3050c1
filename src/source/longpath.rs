//! Paths longer than the kernel accepts in one system call (PATH_MAX, 4096 bytes on
//! Linux). Evidence can hold them — deep nesting is a known way to hide files from tools —
//! so they are reached by opening the parent directory piecewise with `openat` and then
//! naming the file through `/proc/self/fd/N/NAME`, which is short.
//!
//! Owns that translation and nothing else. Never follows a symlink in the path it walks
//! piecewise (`O_NOFOLLOW` on every piece), never opens anything for writing.

use std::io;
use std::path::{Path, PathBuf};

/// Paths up to this many bytes are used as they are.
pub const SHORT_ENOUGH: usize = 3800;

/// A path usable in system calls, with the directory descriptor that keeps it valid.
pub struct Short {
    #[cfg(target_os = "linux")]
    _dir: Option<std::os::fd::OwnedFd>,
    pub path: PathBuf,
}

/// A short stand-in for `path` (the path itself when it is short enough).
pub fn short(path: &Path) -> io::Result<Short> {
    if path.as_os_str().len() <= SHORT_ENOUGH {
        return Ok(Short {
            #[cfg(target_os = "linux")]
            _dir: None,
            path: path.to_path_buf(),
        });
    }
    #[cfg(target_os = "linux")]
    {
        use std::ffi::CString;
        use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
        use std::os::unix::ffi::OsStrExt;

        let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
            return Err(io::Error::from_raw_os_error(libc::ENAMETOOLONG));
        };
        // Group the parent's components into pieces well under PATH_MAX.
        let mut pieces: Vec<Vec<u8>> = Vec::new();
        let mut cur: Vec<u8> = Vec::new();
        for comp in parent.components() {
            let bytes = comp.as_os_str().as_bytes();
            if !cur.is_empty() && cur.len() + bytes.len() + 1 > 3000 {
                pieces.push(std::mem::take(&mut cur));
            }
            if !cur.is_empty() && !cur.ends_with(b"/") {
                cur.push(b'/');
            }
            cur.extend_from_slice(bytes);
        }
        if !cur.is_empty() {
            pieces.push(cur);
        }
        let mut dir: Option<OwnedFd> = None;
        for piece in pieces {
            let c = CString::new(piece).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
            let base = dir
                .as_ref()
                .map(|d| d.as_raw_fd())
                .unwrap_or(libc::AT_FDCWD);
            // SAFETY: `c` is a valid NUL-terminated string; `base` is AT_FDCWD or an fd we own.
            let fd = unsafe {
                libc::openat(
                    base,
                    c.as_ptr(),
                    libc::O_PATH | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC,
                )
            };
            if fd < 0 {
                return Err(io::Error::last_os_error());
            }
            // SAFETY: `fd` was just returned by openat and is owned by nobody else.
            dir = Some(unsafe { OwnedFd::from_raw_fd(fd) });
        }
        let Some(dir) = dir else {
            return Err(io::Error::from_raw_os_error(libc::ENAMETOOLONG));
        };
        let mut p = PathBuf::from(format!("/proc/self/fd/{}", dir.as_raw_fd()));
        p.push(name);
        Ok(Short {
            _dir: Some(dir),
            path: p,
        })
    }
    #[cfg(not(target_os = "linux"))]
    {
        Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "path longer than this system accepts",
        ))
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn files_beyond_path_max_can_be_reached() {
        let t = tempfile::tempdir().unwrap();
        let name = "d".repeat(200);
        let mut rel = PathBuf::new();
        for _ in 0..25 {
            rel.push(&name);
        }
        // Create piecewise (each mkdir relative to a short prefix).
        let mut cur = t.path().to_path_buf();
        for _ in 0..25 {
            let s = short(&cur.join(&name)).unwrap();
            std::fs::create_dir(&s.path).unwrap();
            cur.push(&name);
        }
        let file = cur.join("deep.txt");
        assert!(file.as_os_str().len() > 4096);
        std::fs::write(short(&file).unwrap().path, b"found").unwrap();
        assert!(std::fs::read(&file).is_err());
        assert_eq!(std::fs::read(short(&file).unwrap().path).unwrap(), b"found");
    }
}
