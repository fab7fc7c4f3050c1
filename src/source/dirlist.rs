//! Listing one directory of the source without changing it.
//!
//! Owns the single way the walk reads a directory's entries. On Linux the directory is
//! opened with `O_NOATIME` (where the kernel allows it: owner or CAP_FOWNER), so
//! listing it does not update its access time, which a plain `opendir` (and therefore
//! `std::fs::read_dir` and walkdir) does on a `strictatime` or `relatime` mount. Paths
//! beyond PATH_MAX are reached through `longpath`. Never opens anything for writing,
//! never follows a symlink in the last component unless the caller follows links, never
//! returns `.` or `..`.

use std::ffi::OsString;
use std::io;
use std::path::Path;

/// The names in `dir`, sorted bytewise (the walk's order). `through_link`: `dir` may
/// itself be a symbolic link to the directory to list (the profile follows links).
pub fn names(dir: &Path, through_link: bool) -> io::Result<Vec<OsString>> {
    let mut names = list(dir, through_link)?;
    names.sort();
    Ok(names)
}

#[cfg(target_os = "linux")]
fn list(dir: &Path, through_link: bool) -> io::Result<Vec<OsString>> {
    use std::ffi::{CStr, CString};
    use std::os::unix::ffi::{OsStrExt, OsStringExt};

    let short = super::longpath::short(dir)?;
    let c = CString::new(short.path.as_os_str().as_bytes())
        .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    let nofollow = if through_link { 0 } else { libc::O_NOFOLLOW };
    let base = libc::O_RDONLY | libc::O_DIRECTORY | nofollow | libc::O_CLOEXEC;
    // SAFETY: `c` is a valid NUL-terminated path.
    let mut fd = unsafe { libc::open(c.as_ptr(), base | libc::O_NOATIME) };
    if fd < 0 && io::Error::last_os_error().raw_os_error() == Some(libc::EPERM) {
        // O_NOATIME is refused for directories we do not own without CAP_FOWNER.
        // SAFETY: as above.
        fd = unsafe { libc::open(c.as_ptr(), base) };
    }
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` is an open directory descriptor that fdopendir takes over (closedir
    // closes it); on failure it is still ours to close.
    let stream = unsafe { libc::fdopendir(fd) };
    if stream.is_null() {
        let e = io::Error::last_os_error();
        // SAFETY: fdopendir failed, so `fd` is still open and owned here.
        unsafe { libc::close(fd) };
        return Err(e);
    }
    struct Stream(*mut libc::DIR);
    impl Drop for Stream {
        fn drop(&mut self) {
            // SAFETY: the stream came from fdopendir and is closed exactly once.
            unsafe { libc::closedir(self.0) };
        }
    }
    let stream = Stream(stream);
    let mut out = Vec::new();
    loop {
        // readdir signals the end and an error both with NULL; errno tells them apart.
        // SAFETY: errno is thread-local; setting it to 0 is always allowed.
        unsafe { *libc::__errno_location() = 0 };
        // SAFETY: `stream.0` is a valid open DIR*, used by this thread only.
        let ent = unsafe { libc::readdir(stream.0) };
        if ent.is_null() {
            let e = io::Error::last_os_error();
            return match e.raw_os_error() {
                Some(0) | None => Ok(out),
                _ => Err(e),
            };
        }
        // SAFETY: readdir returned a valid dirent whose d_name is NUL-terminated and
        // stays valid until the next readdir call on this stream.
        let name = unsafe { CStr::from_ptr((*ent).d_name.as_ptr()) }.to_bytes();
        if name == b"." || name == b".." {
            continue;
        }
        out.push(OsString::from_vec(name.to_vec()));
    }
}

#[cfg(not(target_os = "linux"))]
fn list(dir: &Path, _through_link: bool) -> io::Result<Vec<OsString>> {
    let short = super::longpath::short(dir)?;
    std::fs::read_dir(&short.path)?
        .map(|e| e.map(|e| e.file_name()))
        .collect()
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn lists_every_name_sorted_including_non_utf8_and_hidden_ones() {
        use std::os::unix::ffi::OsStrExt;
        let t = tempfile::tempdir().unwrap();
        for n in [&b"b"[..], b".hidden", b"a", b"\xff\xfe", b"dir"] {
            let p = t.path().join(std::ffi::OsStr::from_bytes(n));
            if n == b"dir" {
                std::fs::create_dir(p).unwrap();
            } else {
                std::fs::write(p, b"").unwrap();
            }
        }
        let got: Vec<Vec<u8>> = names(t.path(), false)
            .unwrap()
            .iter()
            .map(|n| n.as_bytes().to_vec())
            .collect();
        assert_eq!(
            got,
            vec![
                b".hidden".to_vec(),
                b"a".to_vec(),
                b"b".to_vec(),
                b"dir".to_vec(),
                b"\xff\xfe".to_vec()
            ]
        );
    }

    #[test]
    fn a_symlink_to_a_directory_is_listed_through_only_when_following() {
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir(t.path().join("real")).unwrap();
        std::os::unix::fs::symlink("real", t.path().join("link")).unwrap();
        std::fs::write(t.path().join("real/inside"), b"").unwrap();
        let e = names(&t.path().join("link"), false).unwrap_err();
        // O_DIRECTORY|O_NOFOLLOW on a link: ENOTDIR (ELOOP on older kernels).
        assert!(
            matches!(e.raw_os_error(), Some(libc::ENOTDIR) | Some(libc::ELOOP)),
            "{e}"
        );
        assert_eq!(names(&t.path().join("link"), true).unwrap(), ["inside"]);
        assert!(names(&t.path().join("missing"), false).is_err());
    }
}
