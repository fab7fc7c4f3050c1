//! Finding every user's home directory on a source, to expand `${home}` in profiles.
//!
//! Owns the per-OS rules: Linux reads the source's own `etc/passwd` (never the collecting
//! machine's) plus `home/*` and `root`; Windows lists `Users/*` and `Documents and
//! Settings/*` case-insensitively; macOS lists `Users/*` and `private/var/root`. The rules
//! run over a `Tree` — the OS file system below a root (`OsTree`) or a file system inside
//! an image — so a profile's homes are found the same way on both. Reads directories and
//! one small file read-only; never follows a home that points outside the source (an
//! absolute symlink on evidence must not lead to the examiner's own disk). On the OS, the
//! passwd file is opened the one evidence way (`source::read::open_evidence`: O_NOATIME,
//! O_NOFOLLOW, O_NONBLOCK), so its access time stays as it was.

use std::ffi::OsString;
use std::fs;
use std::io::Read;
use std::path::{Component, Path};

use crate::profile::TargetOs;

pub const PASSWD_LIMIT: u64 = 16 * 1024 * 1024;

/// What home resolution needs to see of a source, as paths of components below its root.
pub trait Tree {
    /// The names in the directory at `comps`, sorted; `None` when it cannot be listed.
    fn names(&self, comps: &[OsString]) -> Option<Vec<OsString>>;
    /// True if `comps` is a directory (not a symlink to one).
    fn is_real_dir(&self, comps: &[OsString]) -> bool;
    /// The source's `etc/passwd` (at most `PASSWD_LIMIT` bytes); `Ok(None)` when there is
    /// none; an error names the file and says why it was not read.
    fn passwd(&self) -> Result<Option<Vec<u8>>, String>;
}

/// The OS file system below `root`.
pub struct OsTree<'a> {
    pub root: &'a Path,
}

impl Tree for OsTree<'_> {
    fn names(&self, comps: &[OsString]) -> Option<Vec<OsString>> {
        let mut p = self.root.to_path_buf();
        p.extend(comps);
        // Listed without changing the directory's access time (dirlist), like the walk.
        super::dirlist::names(&p, false).ok()
    }

    fn is_real_dir(&self, comps: &[OsString]) -> bool {
        let mut p = self.root.to_path_buf();
        p.extend(comps);
        fs::symlink_metadata(&p)
            .map(|m| m.is_dir())
            .unwrap_or(false)
    }

    fn passwd(&self) -> Result<Option<Vec<u8>>, String> {
        let path = self.root.join("etc/passwd");
        let opened = match super::read::open_evidence(&path) {
            Ok(o) => o,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(_) if fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_symlink()) => {
                return Err(format!(
                    "{}: a symbolic link: not followed (it may point off the source)",
                    path.display()
                ));
            }
            Err(e) => return Err(format!("{}: {e}", path.display())),
        };
        if !opened.metadata.is_file() {
            return Err(format!("{}: not a regular file: not read", path.display()));
        }
        let mut text = Vec::new();
        opened
            .file
            .take(PASSWD_LIMIT)
            .read_to_end(&mut text)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(Some(text))
    }
}

/// Home directories as component lists relative to the source root, sorted, unique.
pub fn resolve(root: &Path, os: TargetOs) -> Result<Vec<Vec<OsString>>, String> {
    resolve_in(&OsTree { root }, os)
}

/// `resolve` over any tree.
pub fn resolve_in(tree: &dyn Tree, os: TargetOs) -> Result<Vec<Vec<OsString>>, String> {
    let mut homes = Vec::new();
    let mut notes = Vec::new();
    if matches!(os, TargetOs::Linux | TargetOs::Any) {
        match passwd_homes(tree) {
            Ok(h) => homes.extend(h),
            Err(e) => notes.push(e),
        }
        homes.extend(children(tree, &["home"], false));
        homes.push(vec![OsString::from("root")]);
    }
    if matches!(os, TargetOs::Macos | TargetOs::Any) {
        homes.extend(children(tree, &["Users"], false));
        homes.push(vec!["private".into(), "var".into(), "root".into()]);
    }
    if matches!(os, TargetOs::Windows | TargetOs::Any) {
        let ci = true;
        homes.extend(children(tree, &["Users"], ci));
        homes.extend(children(tree, &["Documents and Settings"], ci));
    }
    homes.retain(|h| tree.is_real_dir(h));
    homes.sort();
    homes.dedup();
    if homes.is_empty() && !notes.is_empty() {
        return Err(notes.join("; "));
    }
    Ok(homes)
}

/// Home fields of the source's etc/passwd, as relative components.
fn passwd_homes(tree: &dyn Tree) -> Result<Vec<Vec<OsString>>, String> {
    let Some(text) = tree.passwd()? else {
        return Ok(Vec::new());
    };
    let mut homes = Vec::new();
    for line in text.split(|&b| b == b'\n') {
        let fields: Vec<&[u8]> = line.split(|&b| b == b':').collect();
        let Some(home) = fields.get(5) else { continue };
        let home = String::from_utf8_lossy(home);
        let comps: Vec<OsString> = Path::new(home.as_ref())
            .components()
            .filter_map(|c| match c {
                Component::Normal(n) => Some(n.to_os_string()),
                _ => None,
            })
            .collect();
        let escapes = Path::new(home.as_ref())
            .components()
            .any(|c| matches!(c, Component::ParentDir));
        if home.starts_with('/') && !comps.is_empty() && !escapes {
            homes.push(comps);
        }
    }
    Ok(homes)
}

/// Subdirectories of `<dir>` (the first path component matched case-insensitively when
/// asked), as relative components.
fn children(tree: &dyn Tree, dir: &[&str], case_insensitive: bool) -> Vec<Vec<OsString>> {
    let mut base: Vec<OsString> = Vec::new();
    for want in dir {
        let found = if case_insensitive {
            tree.names(&base).and_then(|names| {
                names
                    .into_iter()
                    .find(|n| n.to_string_lossy().eq_ignore_ascii_case(want))
            })
        } else {
            Some(OsString::from(want))
        };
        let Some(found) = found else {
            return Vec::new();
        };
        base.push(found);
    }
    let Some(names) = tree.names(&base) else {
        return Vec::new();
    };
    names
        .into_iter()
        .map(|n| {
            let mut c = base.clone();
            c.push(n);
            c
        })
        .filter(|c| tree.is_real_dir(c))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linux_homes_come_from_the_sources_passwd_and_home_dirs() {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        fs::create_dir_all(r.join("etc")).unwrap();
        fs::create_dir_all(r.join("home/alice")).unwrap();
        fs::create_dir_all(r.join("srv/bob")).unwrap();
        fs::create_dir_all(r.join("root")).unwrap();
        fs::write(
            r.join("etc/passwd"),
            "root:x:0:0:root:/root:/bin/bash\nbob:x:1001:1001::/srv/bob:/bin/sh\n\
             evil:x:1:1::/../../etc:/bin/sh\nghost:x:2:2::/nonexistent:/bin/false\nshort\n",
        )
        .unwrap();
        let homes = resolve(r, TargetOs::Linux).unwrap();
        let as_str: Vec<String> = homes
            .iter()
            .map(|c| {
                c.iter()
                    .map(|s| s.to_string_lossy())
                    .collect::<Vec<_>>()
                    .join("/")
            })
            .collect();
        assert_eq!(as_str, vec!["home/alice", "root", "srv/bob"]);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn reading_the_sources_passwd_leaves_its_access_time_alone() {
        use crate::live::sys::atime_probe;
        let t = atime_probe::dir();
        fs::create_dir(t.path().join("etc")).unwrap();
        let passwd = t.path().join("etc/passwd");
        atime_probe::old_file(&passwd, b"bob:x:1001:1001::/srv/bob:/bin/sh\n");
        let before = atime_probe::atime(&passwd);
        let homes = passwd_homes(&OsTree { root: t.path() }).unwrap();
        assert_eq!(
            homes,
            vec![vec![OsString::from("srv"), OsString::from("bob")]]
        );
        assert_eq!(atime_probe::atime(&passwd), before, "O_NOATIME");
        // A symlink in its place (here to the examiner's own passwd) is not followed.
        fs::remove_file(&passwd).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", &passwd).unwrap();
        let e = passwd_homes(&OsTree { root: t.path() }).unwrap_err();
        assert!(
            e.ends_with("etc/passwd: a symbolic link: not followed (it may point off the source)"),
            "{e}"
        );
    }

    #[test]
    fn windows_homes_are_found_case_insensitively() {
        let t = tempfile::tempdir().unwrap();
        fs::create_dir_all(t.path().join("USERS/Alice")).unwrap();
        fs::create_dir_all(t.path().join("USERS/Public")).unwrap();
        let homes = resolve(t.path(), TargetOs::Windows).unwrap();
        assert_eq!(homes.len(), 2);
        assert_eq!(
            homes[0],
            vec![OsString::from("USERS"), OsString::from("Alice")]
        );
    }
}
