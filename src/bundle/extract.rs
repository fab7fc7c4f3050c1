//! Extraction of a bundle's members into a directory, for examiners who want the files.
//!
//! Owns refusing anything unsafe before writing a single byte: absolute names, `..`,
//! backslashes, drive letters, duplicate names, and a target directory that is not empty.
//! Never overwrites, never follows a symlink out of the target, never sets permissions
//! or ownership from the archive (evidence copies are plain 0644 files).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Component, Path, PathBuf};

use anyhow::{Context, bail};

/// A member name as a safe relative path, or why it is not.
pub fn safe_relative_path(name: &str) -> Result<PathBuf, String> {
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
        out.push(comp);
    }
    if out.components().any(|c| !matches!(c, Component::Normal(_))) {
        return Err(format!(
            "member name {name:?} does not stay inside the target"
        ));
    }
    Ok(out)
}

/// Extract every member of `bundle` into `dir`; returns the number of files written.
pub fn extract(bundle: &Path, dir: &Path) -> anyhow::Result<usize> {
    let file = File::open(bundle).with_context(|| format!("{}: cannot open", bundle.display()))?;
    let mut archive = zip::ZipArchive::new(file)
        .with_context(|| format!("{}: not a readable ZIP (verify it first)", bundle.display()))?;
    let mut plan = Vec::with_capacity(archive.len());
    let mut seen = std::collections::HashSet::new();
    for i in 0..archive.len() {
        let f = archive
            .by_index_raw(i)
            .with_context(|| format!("{}: entry {i}", bundle.display()))?;
        let name = std::str::from_utf8(f.name_raw())
            .map_err(|_| anyhow::anyhow!("{}: entry {i} has a non-UTF-8 name", bundle.display()))?
            .to_string();
        if f.is_dir() {
            continue;
        }
        let rel = safe_relative_path(&name)
            .map_err(|e| anyhow::anyhow!("{}: refusing to extract: {e}", bundle.display()))?;
        if !seen.insert(name.to_lowercase()) {
            bail!(
                "{}: refusing to extract: member {name:?} appears twice (ignoring case)",
                bundle.display()
            );
        }
        plan.push((i, rel));
    }
    if dir.exists() {
        let mut entries =
            fs::read_dir(dir).with_context(|| format!("{}: cannot read", dir.display()))?;
        if entries.next().is_some() {
            bail!("{}: target directory is not empty", dir.display());
        }
    } else {
        fs::create_dir_all(dir).with_context(|| format!("{}: cannot create", dir.display()))?;
    }
    let root = dir
        .canonicalize()
        .with_context(|| format!("{}: cannot resolve", dir.display()))?;
    for (i, rel) in &plan {
        let target = root.join(rel);
        if let Some(parent) = target.parent() {
            fs::create_dir_all(parent)
                .with_context(|| format!("{}: cannot create", parent.display()))?;
            let real = parent
                .canonicalize()
                .with_context(|| format!("{}: cannot resolve", parent.display()))?;
            if !real.starts_with(&root) {
                bail!(
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
        out.flush()?;
    }
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
}
