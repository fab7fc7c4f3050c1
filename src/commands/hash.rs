//! `fieldkit hash`: read-only parallel hashing of files and trees, printed as
//! sha256sum/md5sum lines (checkable with `sha256sum -c`) or hashdeep's format, one line
//! per regular file in walk order (depth first, names in byte order), so two runs over
//! the same tree print the same output; names are printed as their exact bytes.
//!
//! Must never open a file other than through `source::read` (read-only, O_NOATIME, no
//! following of swapped-in links), never list a directory other than through
//! `source::dirlist` (O_NOATIME), never follow a symlink, never write anything but its
//! output, and never drop a file silently: one that cannot be read is named on stderr and
//! turns the exit code to 1. With `--image`, each path is a disk image or device (its
//! container detected by content) hashed file by file through the image reader, each
//! file named `IMAGE/volN/PATH` — without it a file is hashed as itself, image or not.

use std::ffi::OsStr;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::anyhow;
use rayon::prelude::*;

use crate::cli::HashArgs;
use crate::hashing::{Alg, AlgSet, Digests, hex};
use crate::source::dirlist;

#[cfg(unix)]
fn name_bytes(name: &OsStr) -> std::borrow::Cow<'_, [u8]> {
    use std::os::unix::ffi::OsStrExt;
    std::borrow::Cow::Borrowed(name.as_bytes())
}

#[cfg(not(unix))]
fn name_bytes(name: &OsStr) -> std::borrow::Cow<'_, [u8]> {
    std::borrow::Cow::Owned(name.to_string_lossy().into_owned().into_bytes())
}

/// A `sha256sum` line: the name's exact bytes; GNU coreutils' escaping (a leading
/// backslash, `\\`, `\n`, `\r`) when the name holds a backslash or a line break.
fn sum_line(path: &Path, digest: &str) -> Vec<u8> {
    let name = name_bytes(path.as_os_str());
    let mut line = Vec::with_capacity(name.len() + digest.len() + 4);
    if name.iter().any(|b| matches!(b, b'\\' | b'\n' | b'\r')) {
        line.push(b'\\');
        line.extend_from_slice(digest.as_bytes());
        line.extend_from_slice(b"  ");
        for &b in name.iter() {
            match b {
                b'\\' => line.extend_from_slice(b"\\\\"),
                b'\n' => line.extend_from_slice(b"\\n"),
                b'\r' => line.extend_from_slice(b"\\r"),
                _ => line.push(b),
            }
        }
    } else {
        line.extend_from_slice(digest.as_bytes());
        line.extend_from_slice(b"  ");
        line.extend_from_slice(&name);
    }
    line
}

/// Every regular file under `top` (or `top` itself), depth first in name order, without
/// following symlinks; what cannot be listed is reported and counted.
fn regular_files(top: &Path, files: &mut Vec<PathBuf>, errors: &mut u64) {
    let mut stack = vec![top.to_path_buf()];
    while let Some(p) = stack.pop() {
        let meta = match std::fs::symlink_metadata(&p) {
            Ok(m) => m,
            Err(e) => {
                eprintln!("fieldkit: {}: {e}", p.display());
                *errors += 1;
                continue;
            }
        };
        if meta.is_file() {
            files.push(p);
        } else if meta.is_dir() {
            match dirlist::names(&p, false) {
                // Reversed onto the stack so the first name comes off first.
                Ok(names) => stack.extend(names.iter().rev().map(|n| p.join(n))),
                Err(e) => {
                    eprintln!("fieldkit: {}: cannot list: {e}", p.display());
                    *errors += 1;
                }
            }
        }
    }
}

fn pick(d: &Digests, alg: Alg) -> Option<String> {
    match alg {
        Alg::Sha256 => Some(hex(&d.sha256)),
        Alg::Sha1 => d.sha1.map(|h| hex(&h)),
        Alg::Md5 => d.md5.map(|h| hex(&h)),
    }
}

pub fn run(args: HashArgs) -> anyhow::Result<u8> {
    let requested: Vec<Alg> = args
        .hash
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|s| s.parse::<Alg>())
        .collect::<Result<_, _>>()
        .map_err(|e| anyhow!("--hash: {e}"))?;
    let first = *requested
        .first()
        .ok_or_else(|| anyhow!("--hash: no algorithm given"))?;
    let algs = AlgSet::parse(&args.hash).map_err(|e| anyhow!("--hash: {e}"))?;
    let mut files: Vec<PathBuf> = Vec::new();
    let mut errors = 0u64;
    let mut images = Vec::new();
    for p in &args.paths {
        let p = Path::new(p);
        if args.image {
            match image_files(p) {
                Ok(i) => images.push(i),
                Err(e) => {
                    eprintln!("fieldkit: {e}");
                    errors += 1;
                }
            }
        } else {
            regular_files(p, &mut files, &mut errors);
        }
    }
    let threads = crate::cli::worker_threads(args.threads);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads.max(1))
        .build()?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    if args.hashdeep {
        let mut cols = vec!["size"];
        for (alg, name) in [
            (Alg::Md5, "md5"),
            (Alg::Sha1, "sha1"),
            (Alg::Sha256, "sha256"),
        ] {
            if requested.contains(&alg) {
                cols.push(name);
            }
        }
        writeln!(out, "%%%% HASHDEEP-1.0")?;
        writeln!(out, "%%%% {},filename", cols.join(","))?;
        writeln!(
            out,
            "## Invoked from: {}",
            std::env::current_dir()
                .map(|d| d.display().to_string())
                .unwrap_or_default()
        )?;
        writeln!(
            out,
            "## $ {}",
            std::env::args().collect::<Vec<_>>().join(" ")
        )?;
        writeln!(out, "##")?;
    }
    // Hashed in parallel, printed in walk order: the output does not depend on which
    // thread finished first.
    let results: Vec<Result<(Digests, u64), (String, String)>> = pool.install(|| {
        files
            .par_iter()
            .map(|path| crate::acquire::hash_file(path, algs))
            .collect()
    });
    for (path, result) in files.iter().zip(results) {
        match result {
            Ok((d, size)) => {
                let line = if args.hashdeep {
                    let mut line = size.to_string().into_bytes();
                    for alg in [Alg::Md5, Alg::Sha1, Alg::Sha256] {
                        if requested.contains(&alg) {
                            line.push(b',');
                            line.extend_from_slice(pick(&d, alg).unwrap_or_default().as_bytes());
                        }
                    }
                    line.push(b',');
                    line.extend_from_slice(&name_bytes(path.as_os_str()));
                    line
                } else {
                    sum_line(path, &pick(&d, first).unwrap_or_default())
                };
                out.write_all(&line)?;
                out.write_all(b"\n")?;
            }
            Err((reason, detail)) => {
                eprintln!("fieldkit: {}: {reason}: {detail}", path.display());
                errors += 1;
            }
        }
    }
    // Images: every regular file (and NTFS stream) of every readable volume, named
    // IMAGE/volN/PATH, read through the image source exactly as collect reads it.
    for (image, source, cands) in &images {
        let results: Vec<Result<(Digests, u64), (String, String)>> = pool.install(|| {
            cands
                .par_iter()
                .map(|c| crate::acquire::hash_candidate(source, c, algs))
                .collect()
        });
        for (c, result) in cands.iter().zip(results) {
            let vol = c
                .image
                .as_ref()
                .and_then(|e| source.volumes.get(e.volume))
                .map(|v| v.index)
                .unwrap_or(0);
            let mut name = image.clone().into_os_string();
            name.push(format!("/vol{vol}"));
            name.push(c.path.as_os_str());
            let name = PathBuf::from(name);
            match result {
                Ok((d, size)) => {
                    let line = if args.hashdeep {
                        let mut line = size.to_string().into_bytes();
                        for alg in [Alg::Md5, Alg::Sha1, Alg::Sha256] {
                            if requested.contains(&alg) {
                                line.push(b',');
                                line.extend_from_slice(
                                    pick(&d, alg).unwrap_or_default().as_bytes(),
                                );
                            }
                        }
                        line.push(b',');
                        line.extend_from_slice(&name_bytes(name.as_os_str()));
                        line
                    } else {
                        sum_line(&name, &pick(&d, first).unwrap_or_default())
                    };
                    out.write_all(&line)?;
                    out.write_all(b"\n")?;
                }
                Err((reason, detail)) => {
                    eprintln!("fieldkit: {}: {reason}: {detail}", name.display());
                    errors += 1;
                }
            }
        }
    }
    out.flush()?;
    Ok(if errors > 0 { 1 } else { 0 })
}

type ImageFiles = (
    PathBuf,
    crate::source::image::source::ImageSource,
    Vec<crate::source::Candidate>,
);

/// The regular files of every readable volume of an image, in walk order.
fn image_files(p: &Path) -> anyhow::Result<ImageFiles> {
    use crate::source::image::source::{ImageSource, ImageTree, ImageVolume, PartitionChoice};
    let prepared =
        crate::source::image::source::prepare(p, PartitionChoice::All).map_err(|e| anyhow!(e))?;
    let profile = crate::profile::load("all-files")?;
    let volumes = prepared
        .readable
        .iter()
        .map(|v| {
            let (plan, _) = crate::plan::Plan::new_in(&profile, &ImageTree { fs: &*v.fs }, None);
            ImageVolume {
                index: v.number,
                offset: v.offset,
                fs: std::sync::Arc::clone(&v.fs),
                info: v.info.clone(),
                plan,
            }
        })
        .collect();
    let source = ImageSource {
        name: p.display().to_string(),
        volumes,
        read_deleted: false,
        scan_notes: Default::default(),
    };
    let mut cands = Vec::new();
    let stop = std::sync::atomic::AtomicBool::new(false);
    crate::source::Source::walk(&source, &stop, &mut |ev| {
        match ev {
            crate::source::WalkEvent::Candidate(c)
                if c.metadata.as_ref().is_some_and(|m| m.is_file()) =>
            {
                cands.push(c)
            }
            crate::source::WalkEvent::Error { path, detail, .. } => {
                eprintln!("fieldkit: {}{}: {detail}", p.display(), path.display())
            }
            _ => {}
        }
        true
    });
    Ok((p.to_path_buf(), source, cands))
}
