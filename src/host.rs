//! Identity of the machine fieldkit runs on and of fieldkit itself, for the manifest.
//!
//! Owns reading host name, OS, kernel, machine and boot ids, the current user, the
//! system time zone, hashing our own executable and checking it against the kit it runs
//! from. Uses OS APIs and kernel files only
//! (sysinfo, /etc/machine-id, /proc); never executes a program of the examined system.
//! /etc/machine-id is a file of the examined system: it is read the live step's evidence
//! way (read-only, O_NOATIME, O_NONBLOCK, a size limit), so its access time stays.

use crate::bundle::manifest::{Host, Tool};
use crate::hashing::{AlgSet, MultiHasher, hex};
use crate::version;

/// A Linux identity file (at most 4 KiB, trimmed), opened without touching its access
/// time. Elsewhere these paths mean nothing, and on Windows "/etc/…" would resolve against
/// the current drive — possibly the evidence — so they are not read.
#[cfg(target_os = "linux")]
fn linux_file(path: &str) -> Option<String> {
    crate::live::sys::read_small_file(std::path::Path::new(path), 4096)
        .ok()
        .map(|f| String::from_utf8_lossy(&f.bytes).trim().to_string())
        .filter(|s| !s.is_empty())
}

#[cfg(not(target_os = "linux"))]
fn linux_file(_path: &str) -> Option<String> {
    None
}

pub fn host_identity() -> Host {
    Host {
        hostname: sysinfo::System::host_name().ok(),
        os_name: sysinfo::System::long_os_version()
            .or_else(|_| sysinfo::System::name())
            .ok(),
        os_version: sysinfo::System::os_version().ok(),
        kernel: sysinfo::System::kernel_version().ok(),
        arch: std::env::consts::ARCH.to_string(),
        machine_id: linux_file("/etc/machine-id")
            .or_else(|| linux_file("/var/lib/dbus/machine-id")),
        boot_id: linux_file("/proc/sys/kernel/random/boot_id"),
        run_as: current_user(),
        pid: std::process::id(),
    }
}

fn current_user() -> Option<String> {
    #[cfg(unix)]
    {
        // SAFETY: geteuid has no preconditions and cannot fail.
        let uid = unsafe { libc::geteuid() };
        let name = std::env::var("USER").ok().filter(|u| !u.is_empty());
        Some(match name {
            Some(n) => format!("{n} (uid {uid})"),
            None => format!("uid {uid}"),
        })
    }
    #[cfg(not(unix))]
    {
        std::env::var("USERNAME").ok()
    }
}

/// The running executable's path and SHA-256 (read through /proc/self/exe on Linux, so
/// the binary that actually runs is hashed even if the file was replaced).
pub fn tool_identity() -> Tool {
    let exe = std::env::current_exe().ok();
    let hash_path = if cfg!(target_os = "linux") {
        Some(std::path::PathBuf::from("/proc/self/exe"))
    } else {
        exe.clone()
    };
    let (sha, err) = match hash_path.as_deref().map(hash_own_file) {
        Some(Ok(d)) => (Some(hex(&d)), None),
        Some(Err(e)) => (None, Some(e.to_string())),
        None => (None, Some("executable path unknown".to_string())),
    };
    let kit = crate::kit::running_binary(exe.as_deref(), sha.as_deref());
    Tool {
        name: version::NAME.into(),
        version: version::VERSION.into(),
        commit: version::COMMIT.into(),
        target: version::TARGET.into(),
        executable_path: exe.map(|p| p.display().to_string()).unwrap_or_default(),
        executable_sha256: sha,
        executable_error: err,
        kit: Some(kit),
    }
}

/// SHA-256 of one of our own files (not evidence: symlinks such as /proc/self/exe are
/// followed on purpose).
fn hash_own_file(path: &std::path::Path) -> std::io::Result<[u8; 32]> {
    hash_reader(std::fs::File::open(path)?)
}

/// SHA-256 of everything `r` yields; a read interrupted by a signal (Ctrl-C handler,
/// SIGCHLD, …) is retried, not taken for a failure.
fn hash_reader(mut r: impl std::io::Read) -> std::io::Result<[u8; 32]> {
    let mut h = MultiHasher::new(AlgSet::default());
    let mut buf = vec![0u8; 1 << 20];
    loop {
        match r.read(&mut buf) {
            Ok(0) => return Ok(h.finish().sha256),
            Ok(n) => h.update(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// (IANA name or "unknown", current UTC offset in seconds, local time now as RFC 3339).
pub fn time_zone() -> (String, i32, String) {
    let now = jiff::Zoned::now();
    let tz = now
        .time_zone()
        .iana_name()
        .map(str::to_string)
        .unwrap_or_else(|| "unknown (fixed offset or unnamed)".into());
    let offset = now.offset().seconds();
    (
        tz,
        offset,
        now.timestamp()
            .display_with_offset(now.offset())
            .to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Yields "abc" in pieces, with a signal interruption before each.
    struct Interrupted {
        left: &'static [u8],
        interrupt_next: bool,
    }

    impl std::io::Read for Interrupted {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let interrupt = self.interrupt_next;
            self.interrupt_next = !interrupt;
            if interrupt {
                return Err(std::io::ErrorKind::Interrupted.into());
            }
            let n = self.left.len().min(1).min(buf.len());
            buf[..n].copy_from_slice(&self.left[..n]);
            self.left = &self.left[n..];
            Ok(n)
        }
    }

    #[test]
    fn hashing_our_own_file_retries_reads_interrupted_by_a_signal() {
        use sha2::Digest;
        let got = hash_reader(Interrupted {
            left: b"abc",
            interrupt_next: true,
        })
        .unwrap();
        assert_eq!(got.as_slice(), sha2::Sha256::digest(b"abc").as_slice());
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn identity_files_are_read_without_changing_their_access_time() {
        use crate::live::sys::atime_probe;
        let t = atime_probe::dir();
        let id = t.path().join("machine-id");
        atime_probe::old_file(&id, b"0123456789abcdef0123456789abcdef\n");
        let before = atime_probe::atime(&id);
        assert_eq!(
            linux_file(id.to_str().unwrap()).as_deref(),
            Some("0123456789abcdef0123456789abcdef")
        );
        assert_eq!(atime_probe::atime(&id), before, "O_NOATIME");
    }
}
