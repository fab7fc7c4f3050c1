//! Where a bundle's sidecars are: `NAME.zip.sha256` and `NAME.zip.sig` beside it, found
//! by name and — when a lab renamed the bundle alone — by the bundle id that collect puts
//! in every file name it writes (`…_<first 8 characters of the bundle id>.zip`).
//!
//! The renaming rule (README, docs/bundle-format.md): rename a bundle together with its
//! sidecars, keeping their suffixes (`case.zip`, `case.zip.sha256`, `case.zip.sig`); the
//! `.sha256` line keeps the name collect wrote, so it is checked by its hash against the
//! file as it is named now. A bundle renamed without its sidecars still finds them here
//! while they keep the names collect gave them.
//!
//! Owns only the lookup: reads directory names, never file contents, never writes, and
//! never picks a temporary or partial file (`.tmp`, `.part`) as a sidecar.

use std::path::{Path, PathBuf};

/// Sidecar paths by name: `<bundle>.sha256` and `<bundle>.sig`.
pub fn by_name(bundle: &Path) -> (PathBuf, PathBuf) {
    let mut s = bundle.as_os_str().to_os_string();
    s.push(".sha256");
    let mut g = bundle.as_os_str().to_os_string();
    g.push(".sig");
    (PathBuf::from(s), PathBuf::from(g))
}

/// One sidecar and how it was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub path: PathBuf,
    /// False when found by the bundle id rather than by the bundle's own name.
    pub by_name: bool,
}

/// The `.sha256` and `.sig` sidecars of `bundle`, whose manifest gives `bundle_id`.
pub fn find(bundle: &Path, bundle_id: Option<&str>) -> (Option<Found>, Option<Found>) {
    let (sha, sig) = by_name(bundle);
    let exact = |p: PathBuf| {
        p.is_file().then_some(Found {
            path: p,
            by_name: true,
        })
    };
    let (mut sha_found, mut sig_found) = (exact(sha), exact(sig));
    if sha_found.is_some() && sig_found.is_some() {
        return (sha_found, sig_found);
    }
    let Some(id8) = bundle_id.and_then(|id| id.get(..8)) else {
        return (sha_found, sig_found);
    };
    let dir = match bundle.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return (sha_found, sig_found);
    };
    // Names collect gives: …_<id8>.zip or …_<id8>.zip.age, then the sidecar suffix.
    let mut by_id: Vec<(String, PathBuf)> = entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().to_str()?.to_string();
            let p = e.path();
            p.is_file().then_some((name, p))
        })
        .filter(|(name, _)| {
            [".zip", ".zip.age"].iter().any(|ext| {
                [".sha256", ".sig"].iter().any(|suffix| {
                    name.strip_suffix(suffix)
                        .and_then(|n| n.strip_suffix(ext))
                        .is_some_and(|stem| stem.ends_with(&format!("_{id8}")))
                })
            })
        })
        .collect();
    by_id.sort();
    // A plain bundle's sidecars end in .zip.*, an encrypted one's in .zip.age.*.
    let encrypted = bundle
        .file_name()
        .is_some_and(|n| n.to_string_lossy().ends_with(".age"));
    let pick = |suffix: &str| {
        by_id
            .iter()
            .find(|(name, _)| {
                name.ends_with(suffix)
                    && name
                        .strip_suffix(suffix)
                        .is_some_and(|n| n.ends_with(".age"))
                        == encrypted
            })
            .map(|(_, p)| Found {
                path: p.clone(),
                by_name: false,
            })
    };
    if sha_found.is_none() {
        sha_found = pick(".sha256");
    }
    if sig_found.is_none() {
        sig_found = pick(".sig");
    }
    (sha_found, sig_found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sidecars_are_found_by_name_then_by_bundle_id() {
        let d = tempfile::tempdir().unwrap();
        let id = "1234abcd-0000-4000-8000-000000000000";
        let orig = "R-1_host_20261203T080000Z_1234abcd.zip";
        for n in [
            format!("{orig}.sha256"),
            format!("{orig}.sig"),
            "other_99999999.zip.sha256".into(),
            format!("{orig}.sha256.tmp"),
        ] {
            std::fs::write(d.path().join(n), b"x").unwrap();
        }
        let renamed = d.path().join("case.zip");
        let (sha, sig) = find(&renamed, Some(id));
        assert_eq!(sha.unwrap().path, d.path().join(format!("{orig}.sha256")));
        let sig = sig.unwrap();
        assert!(!sig.by_name);
        assert_eq!(sig.path, d.path().join(format!("{orig}.sig")));
        // By name first.
        std::fs::write(d.path().join("case.zip.sha256"), b"y").unwrap();
        let (sha, _) = find(&renamed, Some(id));
        assert_eq!(
            sha.unwrap(),
            Found {
                path: d.path().join("case.zip.sha256"),
                by_name: true
            }
        );
        // Another id, or an encrypted bundle: nothing.
        assert_eq!(find(&renamed, Some("ffffffff-0")).1, None);
        assert_eq!(find(&d.path().join("case.zip.age"), Some(id)).1, None);
    }
}
