//! Extraction of a bundle's members into a directory, for examiners who want the files.
//!
//! Owns refusing anything unsafe before writing a single byte: whatever the
//! canonical-name rule it shares with `verify` refuses (`naming::check_member_name`,
//! `naming::clashes`: absolute names, `.`/`..`, backslashes, drive letters, duplicate
//! names ignoring case, a name that is both a file and another member's directory, names
//! Windows cannot hold — `:` would write an NTFS alternate data stream — on every
//! system), and a target directory that is not empty. Members are
//! written into a hidden temporary directory inside the target and moved into place only
//! once every one of them is complete, so a failure part-way (a damaged member, a full
//! disk) leaves the target as it was. Never overwrites, never follows a symlink out of the
//! target, never sets permissions or ownership from the archive (evidence copies are plain
//! 0644 files).

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

/// A member name as a safe relative path, or why it is not: the canonical-name rule
/// `verify` applies too (`naming::check_member_name`), the same on every system, so
/// nothing is extracted on one system that verify rejects, or refused on another.
pub fn safe_relative_path(name: &str) -> Result<PathBuf, String> {
    super::naming::check_member_name(name)?;
    let out: PathBuf = name.split('/').collect();
    if out.components().any(|c| !matches!(c, Component::Normal(_))) {
        return Err(format!(
            "member name {name:?} does not stay inside the target"
        ));
    }
    Ok(out)
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
        plan.push((i, rel, name));
    }
    if let Some(c) = super::naming::clashes(plan.iter().map(|(_, _, n)| n.as_str()))
        .into_iter()
        .next()
    {
        return Err(refused(c.to_string()));
    }
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
    fn names_windows_cannot_hold_are_refused_everywhere() {
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
            // On Linux too: verify rejects them wherever it runs, so extract does
            // (fieldkit's own names never contain them: they are escaped when collected).
            assert!(safe_relative_path(bad).is_err(), "{bad}");
        }
        let why = safe_relative_path("files/a.txt:ads").unwrap_err();
        assert!(why.contains("alternate data stream"), "{why}");
        for good in [
            "files/%43ON",
            "files/a%3Ab.txt",
            "files/console.txt",
            "files/COM10",
        ] {
            assert!(safe_relative_path(good).is_ok(), "{good}");
        }
    }
}
