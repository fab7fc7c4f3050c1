//! `fieldkit hash`: read-only parallel hashing of files and trees, printed as
//! sha256sum/md5sum lines (checkable with `sha256sum -c`) or hashdeep's format.
//!
//! Must never open a file other than through `source::read` (read-only, O_NOATIME, no
//! following of swapped-in links), never write anything but its output, and never drop a
//! file silently: one that cannot be read is named on stderr and turns the exit code to 1.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;

use anyhow::anyhow;
use rayon::prelude::*;

use crate::cli::HashArgs;
use crate::hashing::{Alg, AlgSet, Digests, hex};

fn sum_line(path: &std::path::Path, digest: &str) -> String {
    let name = path.to_string_lossy();
    if name.contains('\\') || name.contains('\n') || name.contains('\r') {
        // GNU coreutils escaping: a leading backslash marks an escaped name.
        let esc = name
            .replace('\\', "\\\\")
            .replace('\n', "\\n")
            .replace('\r', "\\r");
        format!("\\{digest}  {esc}")
    } else {
        format!("{digest}  {name}")
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
    for p in &args.paths {
        for entry in walkdir::WalkDir::new(p).follow_links(false) {
            match entry {
                Ok(e) if e.file_type().is_file() => files.push(e.into_path()),
                Ok(_) => {}
                Err(e) => {
                    eprintln!(
                        "fieldkit: {}: {e}",
                        e.path()
                            .map(|p| p.display().to_string())
                            .unwrap_or_default()
                    );
                    errors += 1;
                }
            }
        }
    }
    let threads = args.threads.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2)
    });
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads.max(1))
        .build()?;
    let stdout = Mutex::new(std::io::BufWriter::new(std::io::stdout()));
    let failed = std::sync::atomic::AtomicU64::new(0);
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
        let mut out = stdout.lock().map_err(|_| anyhow!("stdout lock poisoned"))?;
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
    pool.install(|| {
        files
            .par_iter()
            .for_each(|path| match crate::acquire::hash_file(path, algs) {
                Ok((d, size)) => {
                    let line = if args.hashdeep {
                        let mut parts = vec![size.to_string()];
                        for alg in [Alg::Md5, Alg::Sha1, Alg::Sha256] {
                            if requested.contains(&alg) {
                                parts.push(pick(&d, alg).unwrap_or_default());
                            }
                        }
                        parts.push(path.to_string_lossy().into_owned());
                        parts.join(",")
                    } else {
                        sum_line(path, &pick(&d, first).unwrap_or_default())
                    };
                    if let Ok(mut out) = stdout.lock() {
                        let _ = writeln!(out, "{line}");
                    }
                }
                Err((reason, detail)) => {
                    eprintln!("fieldkit: {}: {reason}: {detail}", path.display());
                    failed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            })
    });
    stdout
        .lock()
        .map_err(|_| anyhow!("stdout lock poisoned"))?
        .flush()?;
    errors += failed.into_inner();
    Ok(if errors > 0 { 1 } else { 0 })
}
