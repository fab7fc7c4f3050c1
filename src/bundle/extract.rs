//! Extraction of a bundle's members into a directory, for examiners who want the files.
//!
//! Owns refusing anything unsafe before writing a single byte: absolute names, `..`,
//! backslashes, drive letters, duplicate names, a name that is both a file and another
//! member's directory, names Windows cannot hold when run on Windows (`:` would write an
//! NTFS alternate data stream), and a target directory that is not empty. Members are
//! written into a hidden temporary directory inside the target and moved into place only
//! once every one of them is complete, so a failure part-way (a damaged member, a full
//! disk) leaves the target as it was. Never overwrites, never follows a symlink out of the
//! target, never sets permissions or ownership from the archive (evidence copies are plain
//! 0644 files).

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Component, Path, PathBuf};

use anyhow::{Context, anyhow};

/// Why an extraction did not happen (README: exit 1 for the first two, 2 for the last).
#[derive(Debug)]
pub enum Error {
    /// Refused before anything was written: unsafe or clashing names, a target that is not
    /// empty.
    Refused(anyhow::Error),
    /// Failed part-way (damaged member, write error); the target is left as it was.
    Failed(anyhow::Error),
    /// Unusable arguments: no such bundle, not a ZIP, a target that is not a directory.
    Usage(anyhow::Error),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Refused(e) | Error::Failed(e) | Error::Usage(e) => write!(f, "{e:#}"),
        }
    }
}

/// A member name as a safe relative path on this platform, or why it is not.
pub fn safe_relative_path(name: &str) -> Result<PathBuf, String> {
    safe_relative_path_for(name, cfg!(windows))
}

/// As `safe_relative_path`, with Windows' naming rules applied when `windows`.
pub fn safe_relative_path_for(name: &str, windows: bool) -> Result<PathBuf, String> {
    if name.is_empty() {
        return Err("empty member name".into());
    }
    if name.starts_with('/') || name.contains('\\') || name.contains('\0') {
        return Err(format!(
            "member name {name:?} is absolute or contains a backslash or NUL"
        ));
    }
    if name.len() >= 2 && name.as_bytes()[1] == b':' {
        return Err(format!("member name {name:?} starts with a drive letter"));
    }
    let mut out = PathBuf::new();
    for comp in name.split('/') {
        if comp.is_empty() || comp == "." || comp == ".." {
            return Err(format!(
                "member name {name:?} has an empty, '.' or '..' component"
            ));
        }
        if windows && let Some(why) = windows_name_problem(comp) {
            return Err(format!(
                "member name {name:?} cannot be written on Windows: {why}"
            ));
        }
        out.push(comp);
    }
    if out.components().any(|c| !matches!(c, Component::Normal(_))) {
        return Err(format!(
            "member name {name:?} does not stay inside the target"
        ));
    }
    Ok(out)
}

/// Why Windows cannot hold `comp` as a file or directory name exactly (it would refuse
/// it, alter it, or — for `:` — write an alternate data stream of another file).
pub fn windows_name_problem(comp: &str) -> Option<String> {
    if let Some(c) = comp
        .chars()
        .find(|c| matches!(c, '<' | '>' | ':' | '"' | '|' | '?' | '*') || (*c as u32) < 32)
    {
        return Some(if c == ':' {
            format!("{comp:?} contains ':' (an NTFS alternate data stream)")
        } else {
            format!("{comp:?} contains the character {c:?}")
        });
    }
    if comp.ends_with('.') || comp.ends_with(' ') {
        return Some(format!(
            "{comp:?} ends with a dot or a space (Windows drops them)"
        ));
    }
    let stem = comp.split('.').next().unwrap_or(comp).trim_end();
    let upper = stem.to_ascii_uppercase();
    let reserved = matches!(
        upper.as_str(),
        "CON" | "PRN" | "AUX" | "NUL" | "CONIN$" | "CONOUT$"
    ) || (upper.len() == 4
        && (upper.starts_with("COM") || upper.starts_with("LPT"))
        && upper.as_bytes()[3].is_ascii_digit());
    if reserved {
        return Some(format!("{comp:?} is a reserved device name"));
    }
    None
}

/// Refuse a plan in which one member's path is a directory of another (`a` and `a/b`),
/// ignoring case as Windows and macOS do: it cannot be written completely anywhere.
fn check_clashes(plan: &[(usize, PathBuf, String)]) -> Result<(), String> {
    let mut files: HashMap<String, &str> = HashMap::new();
    for (_, rel, name) in plan {
        files.insert(rel.to_string_lossy().to_lowercase(), name);
    }
    for (_, rel, name) in plan {
        let mut dir = rel.clone();
        while dir.pop() && !dir.as_os_str().is_empty() {
            if let Some(file) = files.get(&dir.to_string_lossy().to_lowercase()) {
                return Err(format!(
                    "member {file:?} is both a file and a directory (of member {name:?})"
                ));
            }
        }
    }
    Ok(())
}

/// Extract every member of `bundle` into `dir`; returns the number of files written.
pub fn extract(bundle: &Path, dir: &Path) -> Result<usize, Error> {
    let file = File::open(bundle)
        .with_context(|| format!("{}: cannot open", bundle.display()))
        .map_err(Error::Usage)?;
    let mut archive = zip::ZipArchive::new(file)
        .with_context(|| format!("{}: not a readable ZIP (verify it first)", bundle.display()))
        .map_err(Error::Usage)?;
    let refused =
        |msg: String| Error::Refused(anyhow!("{}: refusing to extract: {msg}", bundle.display()));
    let mut plan = Vec::with_capacity(archive.len());
    let mut seen = std::collections::HashSet::new();
    for i in 0..archive.len() {
        let f = archive
            .by_index_raw(i)
            .with_context(|| format!("{}: entry {i}", bundle.display()))
            .map_err(Error::Usage)?;
        let name = std::str::from_utf8(f.name_raw())
            .map_err(|_| refused(format!("entry {i} has a name that is not UTF-8")))?
            .to_string();
        if f.is_dir() {
            continue;
        }
        let rel = safe_relative_path(&name).map_err(refused)?;
        if !seen.insert(name.to_lowercase()) {
            return Err(refused(format!(
                "member {name:?} appears twice (ignoring case)"
            )));
        }
        plan.push((i, rel, name));
    }
    check_clashes(&plan).map_err(refused)?;
    let created = match fs::metadata(dir) {
        Ok(m) if m.is_dir() => {
            let mut entries = fs::read_dir(dir)
                .with_context(|| format!("{}: cannot read", dir.display()))
                .map_err(Error::Usage)?;
            if entries.next().is_some() {
                return Err(Error::Refused(anyhow!(
                    "{}: target directory is not empty",
                    dir.display()
                )));
            }
            false
        }
        Ok(_) => {
            return Err(Error::Usage(anyhow!(
                "{}: the target exists and is not a directory",
                dir.display()
            )));
        }
        Err(_) => {
            fs::create_dir_all(dir)
                .with_context(|| format!("{}: cannot create", dir.display()))
                .map_err(Error::Usage)?;
            true
        }
    };
    let result = write_all(&mut archive, bundle, dir, &plan);
    if result.is_err() && created {
        // Only removes the directory if it is empty, which it is after a failure.
        let _ = fs::remove_dir(dir);
    }
    result.map_err(Error::Failed)
}

/// Write every member into a temporary directory inside `dir`, then move the top-level
/// entries into `dir`: nothing appears in the target until every member is complete.
fn write_all(
    archive: &mut zip::ZipArchive<File>,
    bundle: &Path,
    dir: &Path,
    plan: &[(usize, PathBuf, String)],
) -> anyhow::Result<usize> {
    let root = dir
        .canonicalize()
        .with_context(|| format!("{}: cannot resolve", dir.display()))?;
    let staging = tempfile::Builder::new()
        .prefix(".fieldkit-extract-")
        .tempdir_in(&root)
        .with_context(|| format!("{}: cannot create a temporary directory", root.display()))?;
    let stage = staging.path().to_path_buf();
    for (i, rel, _) in plan {
        let target = stage.join(rel);
        if let Some(parent) = target.parent() {
            fs::create_dir_all(parent)
                .with_context(|| format!("{}: cannot create", parent.display()))?;
            let real = parent
                .canonicalize()
                .with_context(|| format!("{}: cannot resolve", parent.display()))?;
            if !real.starts_with(&stage) {
                anyhow::bail!(
                    "{}: refusing to extract outside the target",
                    target.display()
                );
            }
        }
        let mut out = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&target)
            .with_context(|| format!("{}: cannot create", target.display()))?;
        let mut member = archive
            .by_index(*i)
            .with_context(|| format!("{}: member {}", bundle.display(), rel.display()))?;
        io::copy(&mut member, &mut out)
            .with_context(|| format!("{}: extracting {}", bundle.display(), rel.display()))?;
        out.flush()
            .with_context(|| format!("{}: writing", target.display()))?;
    }
    // Every member is complete: move them into place (same filesystem, renames only).
    let tops = fs::read_dir(&stage).with_context(|| format!("{}: cannot read", stage.display()))?;
    for entry in tops {
        let entry = entry.with_context(|| format!("{}: cannot read", stage.display()))?;
        let to = root.join(entry.file_name());
        fs::rename(entry.path(), &to)
            .with_context(|| format!("moving {} to {}", entry.path().display(), to.display()))?;
    }
    staging
        .close()
        .with_context(|| format!("{}: cannot remove", stage.display()))?;
    Ok(plan.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsafe_names_are_refused() {
        for bad in [
            "/etc/passwd",
            "../x",
            "a/../../x",
            "a\\..\\x",
            "C:/x",
            "a//b",
            "./a",
            "",
        ] {
            assert!(safe_relative_path(bad).is_err(), "{bad}");
        }
        assert_eq!(
            safe_relative_path("files/a/b").unwrap(),
            PathBuf::from("files/a/b")
        );
    }

    #[test]
    fn names_windows_cannot_hold_are_refused_under_windows_rules() {
        for bad in [
            "files/evidence.txt:hidden",
            "files/a<b",
            "files/q?.txt",
            "files/pipe|x",
            "files/tab\tname",
            "files/trailing.",
            "files/trailing ",
            "files/CON",
            "files/nul.txt",
            "files/Com1.log",
            "files/LPT9",
            "CONOUT$/x",
        ] {
            assert!(safe_relative_path_for(bad, true).is_err(), "{bad}");
            // Linux can hold them (fieldkit's own names never contain them: they are
            // escaped when collected).
            assert!(safe_relative_path_for(bad, false).is_ok(), "{bad}");
        }
        let why = safe_relative_path_for("files/a.txt:ads", true).unwrap_err();
        assert!(why.contains("alternate data stream"), "{why}");
        for good in [
            "files/%43ON",
            "files/a%3Ab.txt",
            "files/console.txt",
            "files/COM10",
        ] {
            assert!(safe_relative_path_for(good, true).is_ok(), "{good}");
        }
    }

    #[test]
    fn a_name_that_is_both_a_file_and_a_directory_is_refused() {
        let plan = |names: &[&str]| -> Vec<(usize, PathBuf, String)> {
            names
                .iter()
                .enumerate()
                .map(|(i, n)| (i, PathBuf::from(n), n.to_string()))
                .collect()
        };
        assert!(check_clashes(&plan(&["files/a", "files/a/b"])).is_err());
        assert!(check_clashes(&plan(&["files/A", "files/a/b/c"])).is_err());
        assert!(check_clashes(&plan(&["files/a", "files/ab", "files/b/a"])).is_ok());
    }
}
