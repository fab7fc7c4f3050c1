//! The bundle's lifecycle on disk: the names a bundle passes through on its way to its
//! final name, the durable steps between them, what `verify` can tell of a bundle's
//! state from the files it finds, and the test hook that stops a run at each step.
//!
//! Owns the order of finalization (docs/bundle-format.md, "Lifecycle"): the archive is
//! written, sealed and fsynced as `P.part`; once verify-after-write has passed it is
//! renamed `P.verified.part`; each sidecar is written as `P.sha256.part`/`P.sig.part`,
//! fsynced and renamed; the directory is fsynced; and only then is the bundle renamed
//! `P` (and the directory fsynced again). The final name is the commit: it appears only
//! when everything collect promises is done and durable. Never renames over an existing
//! file, never leaves a partial sidecar under its final name, and never removes anything
//! but its own temporary sidecar.

use std::fs::OpenOptions;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The suffix of a bundle being written, or sealed but not yet verified after write.
pub const PART: &str = ".part";
/// The suffix of a bundle verified after write whose sidecars are being written.
pub const VERIFIED_PART: &str = ".verified.part";

/// The files of one bundle: its final name `P` and the names it passes through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Names {
    pub final_path: PathBuf,
    /// `P.part`: being written; or sealed (complete, fsynced), not verified after write.
    pub part: PathBuf,
    /// `P.verified.part`: sealed and verified after write; sidecars being written.
    pub verified: PathBuf,
    /// The sidecars `P.sha256` and `P.sig`.
    pub sha256: PathBuf,
    pub sig: PathBuf,
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_os_string();
    s.push(suffix);
    PathBuf::from(s)
}

impl Names {
    pub fn new(final_path: &Path) -> Names {
        Names {
            final_path: final_path.to_path_buf(),
            part: with_suffix(final_path, PART),
            verified: with_suffix(final_path, VERIFIED_PART),
            sha256: with_suffix(final_path, ".sha256"),
            sig: with_suffix(final_path, ".sig"),
        }
    }

    /// The final file name (`P` without its directory), as the sidecar names it.
    pub fn final_name(&self) -> String {
        self.final_path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }
}

/// The temporary name a sidecar is written under: `P.sha256.part`, `P.sig.part`.
pub fn temp_of(sidecar: &Path) -> PathBuf {
    with_suffix(sidecar, PART)
}

/// Where a name stands in the lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// `P.part`.
    Part,
    /// `P.verified.part`.
    Verified,
    /// Any other name: the final name (or a name given by someone else).
    Final,
}

/// `path`'s stage, told by its name alone, and its bundle's names.
pub fn stage_of(path: &Path) -> (Stage, Names) {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    for (suffix, stage) in [(VERIFIED_PART, Stage::Verified), (PART, Stage::Part)] {
        if let Some(stem) = name.strip_suffix(suffix)
            && !stem.is_empty()
        {
            return (stage, Names::new(&path.with_file_name(stem)));
        }
    }
    (Stage::Final, Names::new(path))
}

/// A sidecar as found beside an unfinished bundle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sidecar {
    Present,
    /// Only its temporary (`….part`) exists: the run stopped while writing it.
    BeingWritten,
    Absent,
}

pub fn sidecar_state(path: &Path) -> Sidecar {
    if std::fs::symlink_metadata(path).is_ok() {
        Sidecar::Present
    } else if std::fs::symlink_metadata(temp_of(path)).is_ok() {
        Sidecar::BeingWritten
    } else {
        Sidecar::Absent
    }
}

/// A named intermediate state (`verify` exit 3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct State {
    /// Stable, for scripts (`verify --json` `state`).
    pub code: String,
    pub description: String,
}

/// The state of a bundle at `stage` whose archive is sealed (`Some(true)`: its own end
/// records end it), not sealed (`Some(false)`), or cannot be looked at (`None`: an
/// encrypted file without an identity). `None` for a bundle under its final name.
pub fn state(stage: Stage, sealed: Option<bool>, names: &Names) -> Option<State> {
    let state = |code: &str, description: String| {
        Some(State {
            code: code.into(),
            description,
        })
    };
    match (stage, sealed) {
        (Stage::Final, _) => None,
        (Stage::Part, Some(false)) => state(
            "writing",
            "not sealed: still being written (no central directory and end records of \
             its own); the run was killed, or failed, before it sealed the archive"
                .into(),
        ),
        (Stage::Part, None) => state(
            "writing_or_sealed",
            "still being written, or sealed but not verified after write (encrypted: \
             --identity-file with a key it is encrypted to tells which)"
                .into(),
        ),
        (Stage::Verified, Some(false)) => state(
            "verified_but_damaged",
            "named as verified after write, but it holds no complete archive (cut short \
             or damaged since)"
                .into(),
        ),
        (Stage::Part, Some(true)) => {
            let (code, text) = sidecars(names);
            if code == "sidecars_missing" {
                state(
                    "sealed",
                    "sealed but not verified after write: complete and fsynced, but never \
                     read back from the output device (the run was killed, or the disk \
                     filled, before that check passed, or the check failed)"
                        .into(),
                )
            } else {
                state(
                    &format!("sealed_no_verify_{code}"),
                    format!("sealed, not verified after write (a --no-verify run), and {text}"),
                )
            }
        }
        (Stage::Verified, _) => {
            let (code, text) = sidecars(names);
            state(
                &format!("verified_{code}"),
                format!("sealed and verified after write, but {text}"),
            )
        }
    }
}

/// What the sidecars of an unfinished bundle say: a code and a sentence.
fn sidecars(names: &Names) -> (&'static str, String) {
    let file = |p: &Path| {
        p.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    let (sha, sig) = (file(&names.sha256), file(&names.sig));
    let temp = |p: &Path| file(&temp_of(p));
    match (sidecar_state(&names.sha256), sidecar_state(&names.sig)) {
        (Sidecar::Present, Sidecar::Present) => (
            "not_renamed",
            format!(
                "its sidecars are written; it was never renamed {} (the last step)",
                names.final_name()
            ),
        ),
        (Sidecar::Absent, Sidecar::Absent) => (
            "sidecars_missing",
            format!("its sidecars {sha} and {sig} were never written"),
        ),
        (Sidecar::BeingWritten, _) => (
            "sidecar_sha256_being_written",
            format!(
                "its sidecar {sha} was being written ({} is left){}",
                temp(&names.sha256),
                if sidecar_state(&names.sig) == Sidecar::Present {
                    String::new()
                } else {
                    format!(" and {sig} is missing")
                }
            ),
        ),
        (Sidecar::Present, Sidecar::BeingWritten) => (
            "sidecar_sig_being_written",
            format!(
                "its sidecar {sig} was being written ({} is left)",
                temp(&names.sig)
            ),
        ),
        (Sidecar::Present, Sidecar::Absent) => (
            "sidecar_sig_missing",
            format!("its sidecar {sig} is missing"),
        ),
        (Sidecar::Absent, _) => (
            "sidecar_sha256_missing",
            format!("its sidecar {sha} is missing"),
        ),
    }
}

/// fsync a directory, so that the renames in it survive a power cut. A file system that
/// cannot sync a directory (EINVAL) is not an error.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        match std::fs::File::open(dir).and_then(|d| d.sync_all()) {
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => Ok(()),
            r => r,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

/// Rename `from` to `to`, never replacing a file that exists at `to` (atomically where
/// the kernel offers it: renameat2 RENAME_NOREPLACE).
pub fn rename_new(from: &Path, to: &Path) -> io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::ffi::OsStrExt;
        let c = |p: &Path| {
            std::ffi::CString::new(p.as_os_str().as_bytes())
                .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in a path"))
        };
        let (a, b) = (c(from)?, c(to)?);
        // SAFETY: both are valid NUL-terminated paths for the duration of the call.
        let r = unsafe {
            libc::syscall(
                libc::SYS_renameat2,
                libc::AT_FDCWD,
                a.as_ptr(),
                libc::AT_FDCWD,
                b.as_ptr(),
                libc::RENAME_NOREPLACE,
            )
        };
        if r == 0 {
            return Ok(());
        }
        let e = io::Error::last_os_error();
        // Kernels or file systems without the flag: check, then rename.
        if !matches!(e.raw_os_error(), Some(libc::EINVAL | libc::ENOSYS)) {
            return Err(e);
        }
    }
    if std::fs::symlink_metadata(to).is_ok() {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("{} already exists", to.display()),
        ));
    }
    std::fs::rename(from, to)
}

/// Write a sidecar atomically: `data` into `temp_of(path)` (created new), fsynced, then
/// renamed `path` (never over an existing file). `phase` names the test hook's phases
/// (`<phase>-temp` once the temporary is synced, `<phase>` once renamed). On any error
/// the temporary is removed: no partial sidecar remains under either name. The caller
/// fsyncs the directory.
pub fn write_sidecar(path: &Path, data: &[u8], phase: &str) -> io::Result<()> {
    let temp = temp_of(path);
    let written = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp)?;
        f.write_all(data)?;
        f.sync_all()
    })();
    if let Err(e) = written {
        if e.kind() != io::ErrorKind::AlreadyExists {
            let _ = std::fs::remove_file(&temp);
        }
        return Err(e);
    }
    test_phase(&format!("{phase}-temp"));
    if let Err(e) = rename_new(&temp, path) {
        let _ = std::fs::remove_file(&temp);
        return Err(e);
    }
    test_phase(phase);
    Ok(())
}

/// The test hook: `FIELDKIT_TEST_PAUSE_AT=<phase>[,<phase>…]` (or any other value, e.g.
/// `none`, to only announce). While it is set, collect writes `fieldkit: test phase
/// <phase>` to stderr as it reaches each phase, and stops itself (SIGSTOP) at the phases
/// listed, so a test can SIGKILL it, copy the output device as a power cut would leave
/// it, or let it go on (SIGCONT). Test-only by name; documented in docs/bundle-format.md.
pub const TEST_PAUSE_ENV: &str = "FIELDKIT_TEST_PAUSE_AT";

/// Announce `phase` (and stop here if asked) when the test hook is set.
pub fn test_phase(phase: &str) {
    static SPEC: OnceLock<Option<String>> = OnceLock::new();
    let Some(spec) = SPEC.get_or_init(|| std::env::var(TEST_PAUSE_ENV).ok()) else {
        return;
    };
    let _ = writeln!(std::io::stderr(), "fieldkit: test phase {phase}");
    if spec.split(',').any(|p| p.trim() == phase) {
        #[cfg(unix)]
        // SAFETY: raise has no preconditions; SIGSTOP stops every thread of the process
        // until a SIGCONT (or the SIGKILL the test sends).
        unsafe {
            libc::raise(libc::SIGSTOP);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_tells_its_stage_and_its_final_name() {
        let (s, n) = stage_of(Path::new("/o/b.zip.verified.part"));
        assert_eq!(s, Stage::Verified);
        assert_eq!(n.final_path, Path::new("/o/b.zip"));
        assert_eq!(n.sig, Path::new("/o/b.zip.sig"));
        let (s, n) = stage_of(Path::new("/o/b.zip.age.part"));
        assert_eq!(s, Stage::Part);
        assert_eq!(n.final_path, Path::new("/o/b.zip.age"));
        assert_eq!(n.verified, Path::new("/o/b.zip.age.verified.part"));
        assert_eq!(stage_of(Path::new("/o/b.zip")).0, Stage::Final);
        assert_eq!(stage_of(Path::new("/o/.part")).0, Stage::Final);
    }

    #[test]
    fn a_sidecar_is_never_left_partial_under_its_name_and_never_replaces_a_file() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("b.zip.sha256");
        write_sidecar(&p, b"x  b.zip\n", "t").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"x  b.zip\n");
        assert!(!temp_of(&p).exists());
        let e = write_sidecar(&p, b"other", "t").unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read(&p).unwrap(), b"x  b.zip\n");
        assert!(!temp_of(&p).exists(), "the temporary is removed");
    }
}
