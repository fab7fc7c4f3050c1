//! Identity of the machine fieldkit runs on and of fieldkit itself, for the manifest.
//!
//! Owns reading host name, OS, kernel, machine and boot ids, the current user, the
//! system time zone, hashing our own executable and checking it against the kit it runs
//! from. Uses OS APIs and kernel files only
//! (sysinfo, /etc/machine-id, /proc); never executes a program of the examined system.

use crate::bundle::manifest::{Host, Tool};
use crate::hashing::{AlgSet, MultiHasher, hex};
use crate::version;

fn read_trimmed(path: &str) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

/// A Linux identity file. Elsewhere these paths mean nothing, and on Windows "/etc/…"
/// would resolve against the current drive — possibly the evidence — so they are not read.
fn linux_file(path: &str) -> Option<String> {
    if cfg!(target_os = "linux") {
        read_trimmed(path)
    } else {
        None
    }
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
    use std::io::Read;
    let mut f = std::fs::File::open(path)?;
    let mut h = MultiHasher::new(AlgSet::default());
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            return Ok(h.finish().sha256);
        }
        h.update(&buf[..n]);
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
