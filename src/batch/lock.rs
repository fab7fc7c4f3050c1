//! Per-job lock files (`OUT/<exhibit>/job.lock`) so that shards sharing one output folder
//! never work on the same exhibit at once, and so that a lock left by a dead process or a
//! dead node is recognised instead of trusted forever.
//!
//! A lock is created with `O_CREAT|O_EXCL` and holds one JSON line: host, pid, boot id
//! (`/proc/sys/kernel/random/boot_id`), start time (UTC), shard. While the job runs its
//! owner touches the file's mtime every `lease / 4` (heartbeat). Another run finds the
//! lock **stale** when it is on the same host and boot and the pid is gone (or is another
//! boot's), or when its mtime is older than the lease (a node that died cannot beat). A
//! stale lock is moved aside (never deleted) and reported; a live one is respected.
//!
//! Must never delete a lock it does not own, and never take over a live one.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

pub const LOCK_NAME: &str = "job.lock";

/// Default lease: a lock whose heartbeat is older than this is stale.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(300);

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Holder {
    pub host: String,
    pub pid: u32,
    pub boot_id: String,
    pub started: String,
    #[serde(default)]
    pub shard: String,
}

impl Holder {
    pub fn me(shard: &str) -> Holder {
        Holder {
            host: hostname(),
            pid: std::process::id(),
            boot_id: boot_id(),
            started: crate::timefmt::now_utc(),
            shard: shard.to_string(),
        }
    }
}

pub fn hostname() -> String {
    sysinfo::System::host_name().unwrap_or_else(|_| "unknown-host".into())
}

pub fn boot_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

#[cfg(unix)]
fn pid_alive(pid: u32) -> bool {
    let Ok(p) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: signal 0 only checks that the process exists; no signal is sent.
    let r = unsafe { libc::kill(p, 0) };
    r == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

#[cfg(not(unix))]
fn pid_alive(_pid: u32) -> bool {
    true
}

/// Why a lock is stale, or None when it is live.
pub fn stale_reason(holder: Option<&Holder>, age: Duration, lease: Duration) -> Option<String> {
    if age > lease {
        return Some(format!(
            "heartbeat {}s old, lease {}s",
            age.as_secs(),
            lease.as_secs()
        ));
    }
    let h = holder?;
    if h.host == hostname() {
        let boot = boot_id();
        if !h.boot_id.is_empty() && !boot.is_empty() && h.boot_id != boot {
            return Some(format!(
                "taken before this host rebooted (boot id {})",
                h.boot_id
            ));
        }
        if !pid_alive(h.pid) {
            return Some(format!("pid {} on this host is gone", h.pid));
        }
    }
    None
}

/// The outcome of trying to take a job's lock.
pub enum Acquire {
    Taken(Lock),
    /// Held by a live run (holder as read, or None if unreadable but fresh).
    Held(Option<Holder>),
}

/// A lock this process holds; dropping it stops the heartbeat and removes the file.
pub struct Lock {
    path: PathBuf,
    stop: Arc<AtomicBool>,
    beat: Option<std::thread::JoinHandle<()>>,
    /// A stale lock found and moved aside before this one was taken.
    pub replaced_stale: Option<StaleLock>,
}

#[derive(Debug, Clone, Serialize)]
pub struct StaleLock {
    pub holder: Option<Holder>,
    pub reason: String,
    pub moved_to: PathBuf,
}

fn read_holder(path: &Path) -> Option<Holder> {
    let text = std::fs::read_to_string(path).ok()?;
    serde_json::from_str(text.trim()).ok()
}

fn age_of(path: &Path) -> Duration {
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| SystemTime::now().duration_since(t).ok())
        .unwrap_or_default()
}

fn create(path: &Path, holder: &Holder) -> std::io::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)?;
    let line = serde_json::to_string(holder).map_err(std::io::Error::other)?;
    writeln!(f, "{line}")?;
    f.sync_all()
}

/// Take the lock in `dir`, moving a stale one into `aside` first.
pub fn acquire(
    dir: &Path,
    holder: &Holder,
    lease: Duration,
    aside: &Path,
) -> std::io::Result<Acquire> {
    let path = dir.join(LOCK_NAME);
    let mut replaced = None;
    for _ in 0..3 {
        match create(&path, holder) {
            Ok(()) => {
                let stop = Arc::new(AtomicBool::new(false));
                let beat = {
                    let stop = stop.clone();
                    let path = path.clone();
                    let every = (lease / 4).max(Duration::from_millis(200));
                    std::thread::Builder::new()
                        .name("lock-heartbeat".into())
                        .spawn(move || heartbeat(&path, &stop, every))
                        .ok()
                };
                return Ok(Acquire::Taken(Lock {
                    path,
                    stop,
                    beat,
                    replaced_stale: replaced,
                }));
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let found = read_holder(&path);
                let age = age_of(&path);
                // A lock being written this very moment has no content yet: give it the lease.
                let reason = match &found {
                    Some(_) => stale_reason(found.as_ref(), age, lease),
                    None if age > lease => stale_reason(None, age, lease),
                    None => None,
                };
                let Some(reason) = reason else {
                    return Ok(Acquire::Held(found));
                };
                std::fs::create_dir_all(aside)?;
                let moved_to = aside.join(format!(
                    "job.lock.stale-{}",
                    crate::timefmt::now_utc().replace(':', "")
                ));
                match std::fs::rename(&path, &moved_to) {
                    Ok(()) => {
                        replaced = Some(StaleLock {
                            holder: found,
                            reason,
                            moved_to,
                        })
                    }
                    // Another run moved it first: try again (it may hold a fresh one now).
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(e),
                }
            }
            Err(e) => return Err(e),
        }
    }
    Ok(Acquire::Held(read_holder(&path)))
}

fn heartbeat(path: &Path, stop: &AtomicBool, every: Duration) {
    let step = Duration::from_millis(100);
    let mut waited = Duration::ZERO;
    while !stop.load(Ordering::SeqCst) {
        std::thread::sleep(step);
        waited += step;
        if waited >= every {
            waited = Duration::ZERO;
            if let Ok(f) = std::fs::OpenOptions::new().append(true).open(path) {
                let _ = f.set_modified(SystemTime::now());
            }
        }
    }
}

impl Lock {
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(h) = self.beat.take() {
            let _ = h.join();
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

/// A lock found in a job folder, for `batch status`.
#[derive(Debug, Clone, Serialize)]
pub struct Found {
    pub holder: Option<Holder>,
    pub age_seconds: u64,
    pub stale: Option<String>,
}

pub fn inspect(dir: &Path, lease: Duration) -> Option<Found> {
    let path = dir.join(LOCK_NAME);
    if !path.exists() {
        return None;
    }
    let holder = read_holder(&path);
    let age = age_of(&path);
    Some(Found {
        stale: stale_reason(holder.as_ref(), age, lease),
        holder,
        age_seconds: age.as_secs(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn holder(host: &str, pid: u32, boot: &str) -> Holder {
        Holder {
            host: host.into(),
            pid,
            boot_id: boot.into(),
            started: "2026-12-03T00:00:00Z".into(),
            shard: "0/1".into(),
        }
    }

    #[test]
    fn staleness_rules() {
        let lease = Duration::from_secs(60);
        let me = holder(&hostname(), std::process::id(), &boot_id());
        assert_eq!(stale_reason(Some(&me), Duration::ZERO, lease), None);
        // Same host and boot, a pid that cannot exist.
        let dead = holder(&hostname(), u32::MAX - 1, &boot_id());
        assert!(
            stale_reason(Some(&dead), Duration::ZERO, lease)
                .unwrap()
                .contains("is gone")
        );
        // Another host: only the lease decides.
        let far = holder("other-node", 1, "x");
        assert_eq!(
            stale_reason(Some(&far), Duration::from_secs(59), lease),
            None
        );
        assert!(
            stale_reason(Some(&far), Duration::from_secs(61), lease)
                .unwrap()
                .contains("lease 60s")
        );
        // This host, before a reboot.
        if !boot_id().is_empty() {
            let old = holder(&hostname(), std::process::id(), "another-boot");
            assert!(
                stale_reason(Some(&old), Duration::ZERO, lease)
                    .unwrap()
                    .contains("rebooted")
            );
        }
    }

    #[test]
    fn second_taker_is_refused_and_drop_releases() {
        let d = tempfile::tempdir().unwrap();
        let h = Holder::me("0/1");
        let lease = Duration::from_secs(60);
        let Ok(Acquire::Taken(l)) = acquire(d.path(), &h, lease, &d.path().join("aside")) else {
            panic!("first take");
        };
        let Ok(Acquire::Held(Some(found))) = acquire(d.path(), &h, lease, &d.path().join("aside"))
        else {
            panic!("second take must be refused");
        };
        assert_eq!(found, h);
        drop(l);
        assert!(!d.path().join(LOCK_NAME).exists());
    }
}
