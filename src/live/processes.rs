//! Process capture (`live/processes.json`): every process with PID, parent, user, start
//! time (UTC), exact command line, executable path and the SHA-256 of the executable
//! image, current directory and open-file count, plus the reasons a process looks
//! suspicious (deleted or memory-only executable, executable in a temporary or
//! user-writable directory, a kernel-thread name on a user process); a deleted or memfd
//! image is also a high finding ([`findings`]).
//!
//! Owns reading `/proc/PID/*`. On Linux the image is read through `/proc/PID/exe`, so a
//! binary deleted after it was started is still hashed (and flagged). It must never
//! signal, trace or attach to a process, never read a file on a network filesystem, and
//! never let one stuck process (a `cmdline` read blocks while the process holds its
//! memory lock) stall the capture: every process and every hash has its own time limit.

#![cfg_attr(not(target_os = "linux"), allow(dead_code))]

use serde::{Deserialize, Serialize};

use super::{CaptureKind, Captured, Ctx};

pub const KIND: CaptureKind = CaptureKind {
    name: "processes",
    member: "live/processes.json",
    schema: "fieldkit.live.processes",
    reads: "/proc/*/{stat,status,cmdline,comm,exe,cwd,root,fd}, /etc/passwd",
};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProcessList {
    pub processes: Vec<Process>,
    /// Boot instant the start times are counted from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boot_time_utc: Option<String>,
    /// Distinct executable images hashed.
    #[serde(default)]
    pub images_hashed: usize,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Process {
    pub pid: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ppid: Option<u32>,
    /// The kernel's short name (`comm`, at most 15 bytes).
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// Real and effective user id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub euid: Option<u32>,
    /// Name of the real user id in the examined system's /etc/passwd.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_utc: Option<String>,
    /// The command line, one string per argument (lossy UTF-8).
    #[serde(default)]
    pub argv: Vec<String>,
    /// The exact bytes of `/proc/PID/cmdline`, base64, present only when `argv` joined
    /// with NUL and NUL-terminated would not reproduce them (not UTF-8, or rewritten by
    /// the process).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cmdline_b64: Option<String>,
    /// The executable path, without the kernel's ` (deleted)` suffix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exe: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exe_b64: Option<String>,
    /// The image has no name left on disk (unlinked, or a memfd).
    #[serde(default)]
    pub exe_deleted: bool,
    /// Deleted, and a regular file is at the same path again (seen from the process's
    /// root): replaced on disk since it started, as a package upgrade does.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub exe_replaced: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exe_sha256: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exe_size: Option<u64>,
    /// `major:minor` of the image's filesystem and its inode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exe_device: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exe_inode: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exe_fs_type: Option<String>,
    /// Why the image could not be hashed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exe_error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwd: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwd_b64: Option<String>,
    /// The process's root directory, when it is not `/` (chroot, container).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub open_files: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threads: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<u32>,
    /// Controlling terminal device number (0: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tty_nr: Option<u32>,
    #[serde(default)]
    pub kernel_thread: bool,
    /// Machine codes: `exe_deleted`, `exe_memfd`, `exe_in_temp_dir`,
    /// `exe_in_user_writable_dir`, `kernel_thread_name_on_user_process`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub suspicious: Vec<String>,
    /// What could not be read for this process, and why.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
}

impl Captured for ProcessList {
    fn detail(&self) -> String {
        format!(
            "{} processes, {} images hashed, {} suspicious",
            self.processes.len(),
            self.images_hashed,
            self.processes
                .iter()
                .filter(|p| !p.suspicious.is_empty())
                .count()
        )
    }
}

/// One `high` finding per process whose executable has no name left on disk: unlinked
/// after it was started, or a memfd (a program that only ever existed in memory). Both
/// are how droppers hide; the image was hashed through `/proc/PID/exe` while it ran. An
/// image deleted but with a file at its path again (`exe_replaced`: a package upgrade of
/// a daemon not restarted since, the usual case on a server) is `low`.
/// Temp-dir and user-writable-dir reasons alone stay in `suspicious` (a build or a
/// user's own tools run from there every day).
pub fn findings(list: &ProcessList) -> Vec<crate::finding::Finding> {
    let mut out = Vec::new();
    for p in &list.processes {
        let memfd = p.suspicious.iter().any(|r| r == "exe_memfd");
        let deleted = p.exe_deleted || p.suspicious.iter().any(|r| r == "exe_deleted");
        if !memfd && !deleted {
            continue;
        }
        let exe = p.exe.clone().unwrap_or_else(|| "(unknown)".to_string());
        let (kind, why, severity) = if memfd {
            (
                "process.exe_memfd",
                "runs from a memory-only executable (memfd): it never existed as a file",
                crate::finding::Severity::High,
            )
        } else if p.exe_replaced {
            (
                "process.exe_replaced",
                "runs an executable replaced on disk since it started (as a package upgrade does)",
                crate::finding::Severity::Low,
            )
        } else {
            (
                "process.exe_deleted",
                "runs from an executable deleted after it was started",
                crate::finding::Severity::High,
            )
        };
        let command = if p.argv.is_empty() {
            p.name.clone()
        } else {
            p.argv.join(" ")
        };
        out.push(crate::finding::Finding {
            id: String::new(),
            analyzer: "live".to_string(),
            kind: kind.to_string(),
            severity,
            path: Some(exe.clone()),
            member: Some(KIND.member.to_string()),
            sha256: p.exe_sha256.clone(),
            title: format!("Process {} {why}: {exe} ({command})", p.pid),
            evidence: serde_json::json!({
                "pid": p.pid,
                "ppid": p.ppid,
                "user": p.user,
                "uid": p.uid,
                "start_utc": p.start_utc,
                "argv": p.argv,
                "exe": exe,
                "exe_sha256": p.exe_sha256,
                "exe_size": p.exe_size,
                "exe_error": p.exe_error,
                "reason": why,
                "suspicious": p.suspicious,
            }),
        });
    }
    out
}

/// `/proc/PID/stat` fields after the command name.
#[derive(Debug, Clone, PartialEq)]
pub struct Stat {
    pub comm: String,
    pub state: char,
    pub ppid: u32,
    pub session: u32,
    pub tty_nr: u32,
    pub flags: u32,
    pub threads: u64,
    pub start_ticks: u64,
}

/// Parse `/proc/PID/stat`. The command name may contain spaces and parentheses, so it
/// runs from the first `(` to the last `)`.
pub fn parse_stat(text: &str) -> Option<Stat> {
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    if close < open {
        return None;
    }
    let comm = text[open + 1..close].to_string();
    let rest: Vec<&str> = text.get(close + 1..)?.split_whitespace().collect();
    if rest.len() < 20 {
        return None;
    }
    Some(Stat {
        comm,
        state: rest[0].chars().next()?,
        ppid: rest[1].parse().ok()?,
        session: rest[3].parse().ok()?,
        tty_nr: rest[4].parse::<i64>().ok()? as u32,
        flags: rest[6].parse().ok()?,
        threads: rest[17].parse().ok()?,
        start_ticks: rest[19].parse().ok()?,
    })
}

/// Real and effective uid from `/proc/PID/status`.
pub fn parse_status_uids(text: &str) -> Option<(u32, u32)> {
    let line = text.lines().find_map(|l| l.strip_prefix("Uid:"))?;
    let mut ids = line.split_whitespace();
    Some((ids.next()?.parse().ok()?, ids.next()?.parse().ok()?))
}

/// Split `/proc/PID/cmdline` into arguments; the second value is the exact bytes in
/// base64 when the arguments would not reproduce them.
pub fn split_cmdline(raw: &[u8]) -> (Vec<String>, Option<String>) {
    if raw.is_empty() {
        return (Vec::new(), None);
    }
    let body = raw.strip_suffix(b"\0").unwrap_or(raw);
    let argv: Vec<String> = body
        .split(|b| *b == 0)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    let mut rebuilt = argv.join("\0").into_bytes();
    rebuilt.push(0);
    let exact = if rebuilt == raw {
        None
    } else {
        use base64::Engine;
        Some(base64::engine::general_purpose::STANDARD.encode(raw))
    };
    (argv, exact)
}

const TEMP_DIRS: [&str; 6] = [
    "/tmp/",
    "/var/tmp/",
    "/dev/shm/",
    "/run/shm/",
    "/dev/mqueue/",
    "/run/user/",
];

/// The reasons an executable path alone makes a process worth a look.
pub fn path_reasons(exe: &str, deleted: bool) -> Vec<String> {
    let mut r = Vec::new();
    if deleted {
        r.push("exe_deleted".to_string());
    }
    if exe.starts_with("/memfd:") {
        r.push("exe_memfd".to_string());
    }
    if TEMP_DIRS.iter().any(|d| exe.starts_with(d)) || in_windows_temp_dir(exe) {
        r.push("exe_in_temp_dir".to_string());
    }
    r
}

/// Windows temporary folders (and the recycle bin), in a path whose separators are
/// already `/` (`C:/Users/x/AppData/Local/Temp/a.exe`); case-insensitive, as NTFS is.
fn in_windows_temp_dir(exe: &str) -> bool {
    let lower = exe.to_ascii_lowercase();
    // Only paths that name a drive: `C:/…` or `//?/C:/…`.
    let rest = lower.strip_prefix("//?/").unwrap_or(&lower);
    let bytes = rest.as_bytes();
    if !(bytes.len() > 3 && bytes[0].is_ascii_alphabetic() && &bytes[1..3] == b":/") {
        return false;
    }
    const WINDOWS_TEMP: [&str; 4] = [
        "/appdata/local/temp/",
        "/windows/temp/",
        "/$recycle.bin/",
        "/users/public/",
    ];
    WINDOWS_TEMP.iter().any(|d| rest[2..].contains(d))
}

/// PIDs in procfs (numeric directory names), ascending.
#[cfg(target_os = "linux")]
pub fn list_pids(proc: &std::path::Path) -> std::io::Result<Vec<u32>> {
    let mut pids: Vec<u32> = super::sys::dir_names(proc)?
        .iter()
        .filter_map(|n| n.to_str()?.parse().ok())
        .collect();
    pids.sort_unstable();
    Ok(pids)
}

#[cfg(target_os = "linux")]
mod linux {
    use std::collections::HashMap;
    use std::path::{Path, PathBuf};
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use super::super::bounded::{Bounded, lock, map_bounded};
    use super::super::mounts::MountTable;
    use super::super::sys;
    use super::*;

    /// The identity of an executable image: same key, same bytes (the inode is pinned
    /// while a process runs it).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    struct ImageKey {
        dev_major: u32,
        dev_minor: u32,
        ino: u64,
        size: u64,
        mtime: i64,
        mtime_nsec: u32,
    }

    struct Shared {
        proc: PathBuf,
        users: HashMap<u32, String>,
        mounts: Mutex<MountTable>,
        boot_ns: Option<i128>,
        ticks: u64,
    }

    struct Read1 {
        process: Process,
        image: Option<ImageKey>,
    }

    pub fn capture(ctx: &Ctx) -> Result<ProcessList, String> {
        let proc = ctx.roots.proc.clone();
        let pids = list_pids(&proc).map_err(|e| format!("{}: {e}", proc.display()))?;
        let mut list = ProcessList::default();
        let boot_ns = if ctx.roots.is_real() {
            sys::realtime_and_boottime_ns().map(|(real, boot)| real - boot)
        } else {
            // A synthetic tree carries its own boot time in stat's btime.
            sys::read_attr(&proc.join("stat")).and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("btime "))
                    .and_then(|v| v.trim().parse::<i64>().ok())
                    .map(|b| i128::from(b) * 1_000_000_000)
            })
        };
        list.boot_time_utc = boot_ns
            .and_then(|b| jiff::Timestamp::from_nanosecond(b).ok())
            .map(|t| t.to_string());
        let mounts = MountTable::clone(&ctx.mounts);
        if mounts.mounts.is_empty() {
            list.notes.push(
                "mount table unavailable: network filesystems cannot be recognised".to_string(),
            );
        }
        let shared = Arc::new(Shared {
            users: sys::passwd_names(&ctx.roots.fs),
            mounts: Mutex::new(mounts),
            boot_ns,
            ticks: sys::clock_ticks_per_second(),
            proc,
        });

        let workers = std::thread::available_parallelism().map_or(2, |n| n.get().min(4));
        let s = Arc::clone(&shared);
        let results = map_bounded(
            pids.clone(),
            workers,
            Duration::from_secs(3),
            ctx.soft_deadline,
            move |pid| read_process(&s, pid),
        );
        let mut reads = Vec::new();
        let mut vanished = 0usize;
        for (pid, r) in pids.iter().zip(results) {
            match r {
                Bounded::Done(Some(read)) => reads.push(read),
                Bounded::Done(None) => vanished += 1,
                other => reads.push(Read1 {
                    process: Process {
                        pid: *pid,
                        errors: other
                            .into_result("reading /proc")
                            .err()
                            .into_iter()
                            .collect(),
                        ..Process::default()
                    },
                    image: None,
                }),
            }
        }
        if vanished > 0 {
            list.notes.push(format!(
                "{vanished} processes exited while the list was read"
            ));
        }

        // Hash each distinct image once, through any process that runs it.
        let mut runners: HashMap<ImageKey, Vec<u32>> = HashMap::new();
        for r in &reads {
            if let Some(k) = r.image {
                runners.entry(k).or_default().push(r.process.pid);
            }
        }
        let jobs: Vec<(ImageKey, Vec<u32>)> = runners.into_iter().collect();
        let keys: Vec<ImageKey> = jobs.iter().map(|(k, _)| *k).collect();
        let s = Arc::clone(&shared);
        let hashes = map_bounded(
            jobs,
            2,
            Duration::from_secs(20),
            ctx.soft_deadline,
            move |(key, pids)| hash_image(&s.proc, key, &pids),
        );
        let mut by_key: HashMap<ImageKey, Result<String, String>> = HashMap::new();
        for (k, h) in keys.into_iter().zip(hashes) {
            by_key.insert(k, h.into_result("hashing the image").and_then(|r| r));
        }
        list.images_hashed = by_key.values().filter(|r| r.is_ok()).count();
        for mut r in reads {
            if let Some(k) = r.image {
                match by_key.get(&k) {
                    Some(Ok(sha)) => r.process.exe_sha256 = Some(sha.clone()),
                    Some(Err(e)) => r.process.exe_error = Some(e.clone()),
                    None => {}
                }
            }
            list.processes.push(r.process);
        }
        Ok(list)
    }

    fn link_text(path: &Path) -> Result<Vec<u8>, String> {
        sys::read_link_bytes(path).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Everything about one process except its image hash; `None` if it has exited.
    fn read_process(s: &Shared, pid: u32) -> Option<Read1> {
        let dir = s.proc.join(pid.to_string());
        let stat_path = dir.join("stat");
        let stat_text = match sys::read_kernel(&stat_path, 64 * 1024) {
            Ok(b) => String::from_utf8_lossy(&b).into_owned(),
            Err(e) if e.raw_os_error() == Some(libc::ESRCH) => return None,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
            Err(e) => {
                return Some(Read1 {
                    process: Process {
                        pid,
                        errors: vec![format!("{}: {e}", stat_path.display())],
                        ..Process::default()
                    },
                    image: None,
                });
            }
        };
        let mut p = Process {
            pid,
            ..Process::default()
        };
        match parse_stat(&stat_text) {
            Some(st) => {
                p.name = st.comm;
                p.state = Some(st.state.to_string());
                p.ppid = Some(st.ppid);
                p.session = Some(st.session);
                p.tty_nr = Some(st.tty_nr);
                p.threads = Some(st.threads);
                // PF_KTHREAD
                p.kernel_thread = st.flags & 0x0020_0000 != 0;
                if let Some(boot) = s.boot_ns {
                    let start =
                        boot + i128::from(st.start_ticks) * 1_000_000_000 / i128::from(s.ticks);
                    p.start_utc = jiff::Timestamp::from_nanosecond(start)
                        .ok()
                        .map(|t| t.to_string());
                }
            }
            None => p
                .errors
                .push(format!("{}: cannot parse", stat_path.display())),
        }
        if p.name.is_empty()
            && let Some(c) = sys::read_attr(&dir.join("comm"))
        {
            p.name = c;
        }
        match sys::read_kernel(&dir.join("status"), 256 * 1024) {
            Ok(b) => {
                if let Some((uid, euid)) = parse_status_uids(&String::from_utf8_lossy(&b)) {
                    p.uid = Some(uid);
                    p.euid = Some(euid);
                    p.user = s.users.get(&uid).cloned();
                }
            }
            Err(e) => p.errors.push(format!("status: {e}")),
        }
        match sys::read_kernel(&dir.join("cmdline"), 1 << 20) {
            Ok(raw) => (p.argv, p.cmdline_b64) = split_cmdline(&raw),
            Err(e) => p.errors.push(format!("cmdline: {e}")),
        }
        match link_text(&dir.join("cwd")) {
            Ok(cwd) => {
                let (text, b64) = super::super::text_and_b64(&cwd);
                (p.cwd, p.cwd_b64) = (Some(text), b64);
            }
            Err(e) if !p.kernel_thread => p.errors.push(e),
            Err(_) => {}
        }
        if let Ok(root) = sys::read_link_bytes(&dir.join("root"))
            && root != b"/"
        {
            p.root = Some(String::from_utf8_lossy(&root).into_owned());
        }
        match sys::dir_names(&dir.join("fd")) {
            Ok(fds) => p.open_files = Some(fds.len() as u64),
            Err(e) if !p.kernel_thread => p.errors.push(format!("fd: {e}")),
            Err(_) => {}
        }
        let mut image = None;
        if !p.kernel_thread {
            image = read_image_facts(s, pid, &dir, &mut p);
        }
        if !p.kernel_thread
            && p.argv.len() == 1
            && p.argv[0].starts_with('[')
            && p.argv[0].ends_with(']')
        {
            p.suspicious
                .push("kernel_thread_name_on_user_process".to_string());
        }
        Some(Read1 { process: p, image })
    }

    /// The executable's path, deletion, filesystem and directory; returns the image key
    /// when the image may be hashed.
    fn read_image_facts(s: &Shared, pid: u32, dir: &Path, p: &mut Process) -> Option<ImageKey> {
        let exe_link = dir.join("exe");
        let raw = match sys::read_link_bytes(&exe_link) {
            Ok(raw) => raw,
            Err(e) => {
                p.exe_error = Some(format!("{}: {e}", exe_link.display()));
                return None;
            }
        };
        let (path_bytes, marked_deleted) = match raw.strip_suffix(b" (deleted)") {
            Some(stripped) => (stripped.to_vec(), true),
            None => (raw, false),
        };
        let (exe, exe_b64) = super::super::text_and_b64(&path_bytes);
        let st = sys::statx_cached(&exe_link, true);
        let mut key = None;
        let mut deleted = marked_deleted;
        match &st {
            Ok(st) => {
                // No name left: the kernel's suffix can be forged by naming a file
                // "x (deleted)", the link count cannot.
                deleted = st.nlink == 0;
                p.exe_size = Some(st.size);
                p.exe_inode = Some(st.ino);
                p.exe_device = Some(format!("{}:{}", st.dev_major, st.dev_minor));
                key = Some(ImageKey {
                    dev_major: st.dev_major,
                    dev_minor: st.dev_minor,
                    ino: st.ino,
                    size: st.size,
                    mtime: st.mtime,
                    mtime_nsec: st.mtime_nsec,
                });
            }
            Err(e) => p.exe_error = Some(format!("{}: {e}", exe_link.display())),
        }
        p.exe_deleted = deleted;
        // Which filesystem is the image on? By mount id when the kernel tells it, else
        // by path; an id from another mount namespace is looked up in that process's
        // own table.
        let fs = st.as_ref().ok().and_then(|st| st.mnt_id).and_then(|id| {
            let mut table = lock(&s.mounts);
            if let Some(m) = table.by_id(id) {
                return Some((m.fs_type.clone(), m.network));
            }
            if let Ok(theirs) = MountTable::read(&s.proc, &pid.to_string()) {
                table.mounts.extend(theirs.mounts);
            }
            table.by_id(id).map(|m| (m.fs_type.clone(), m.network))
        });
        let fs = fs.or_else(|| {
            lock(&s.mounts)
                .containing(&path_bytes)
                .map(|m| (m.fs_type.clone(), m.network))
        });
        let on_network = fs.as_ref().is_some_and(|(_, n)| *n);
        p.exe_fs_type = fs.map(|(t, _)| t);
        p.suspicious.extend(path_reasons(&exe, deleted));
        p.exe = Some(exe);
        p.exe_b64 = exe_b64;
        if on_network {
            p.exe_error = Some(format!(
                "image on a network filesystem ({}): not read during live capture",
                p.exe_fs_type.as_deref().unwrap_or("?")
            ));
            return None;
        }
        // Deleted, but a file is at that path again (seen from the process's own root):
        // the program was replaced on disk after it started — what a package upgrade
        // does to every daemon not restarted since.
        if deleted && !path_bytes.starts_with(b"/memfd:") {
            use std::os::unix::ffi::OsStrExt;
            let rel = path_bytes.strip_prefix(b"/").unwrap_or(&path_bytes);
            let now = dir.join("root").join(std::ffi::OsStr::from_bytes(rel));
            p.exe_replaced =
                sys::statx_cached(&now, true).is_ok_and(|st| st.mode & 0o170000 == 0o100000);
        }
        let dir_reachable = lock(&s.mounts).on_network(&path_bytes).is_none();
        if !deleted
            && dir_reachable
            && let Some(parent) = Path::new(std::ffi::OsStr::new(
                std::str::from_utf8(&path_bytes).unwrap_or(""),
            ))
            .parent()
            && parent.is_absolute()
            && let Ok(d) = sys::statx_cached(parent, true)
        {
            let group_writable = d.mode & 0o020 != 0 && d.gid != 0;
            if d.uid != 0 || d.mode & 0o002 != 0 || group_writable {
                p.suspicious.push("exe_in_user_writable_dir".to_string());
            }
        }
        key
    }

    /// SHA-256 of an image read through `/proc/PID/exe` of the first process that still
    /// runs it (and still has the same image).
    fn hash_image(proc: &Path, key: ImageKey, pids: &[u32]) -> Result<String, String> {
        use std::os::unix::fs::MetadataExt;
        let mut last = String::from("no process left running the image");
        for pid in pids {
            let link = proc.join(pid.to_string()).join("exe");
            let file = match sys::open_evidence(&link) {
                Ok(f) => f,
                Err(e) => {
                    last = format!("{}: {e}", link.display());
                    continue;
                }
            };
            match file.metadata() {
                Ok(m)
                    if m.ino() == key.ino
                        && m.size() == key.size
                        && m.dev() == libc::makedev(key.dev_major, key.dev_minor) => {}
                Ok(_) => {
                    last = format!("{}: the process now runs another image", link.display());
                    continue;
                }
                Err(e) => {
                    last = format!("{}: {e}", link.display());
                    continue;
                }
            }
            match super::super::sha256_stream(&file) {
                Ok(sha) => return Ok(sha),
                Err(e) => last = format!("{}: read: {e}", link.display()),
            }
        }
        Err(last)
    }
}

#[cfg(target_os = "linux")]
pub use linux::capture;

#[cfg(not(target_os = "linux"))]
pub fn capture(ctx: &Ctx) -> Result<ProcessList, String> {
    use std::collections::HashMap;
    use std::path::PathBuf;
    use std::time::Duration;

    use super::bounded::map_bounded;
    use sysinfo::{ProcessRefreshKind, ProcessesToUpdate, UpdateKind};

    let mut system = sysinfo::System::new().map_err(|e| format!("cannot query processes: {e}"))?;
    // No CPU usage: on Windows it would need pdh.dll.
    system.refresh_processes_specifics(
        ProcessesToUpdate::All,
        true,
        ProcessRefreshKind::nothing()
            .with_cmd(UpdateKind::Always)
            .with_exe(UpdateKind::Always)
            .with_cwd(UpdateKind::Always)
            .with_user(UpdateKind::Always),
    );
    let users = sysinfo::Users::new_with_refreshed_list().ok();
    let mut list = ProcessList::default();
    let mut pids: Vec<_> = system.processes().keys().copied().collect();
    pids.sort();
    let mut images: Vec<PathBuf> = Vec::new();
    for pid in pids {
        let Some(proc_) = system.process(pid) else {
            continue;
        };
        let mut p = Process {
            pid: pid.as_u32(),
            ppid: proc_.parent().map(|p| p.as_u32()),
            name: proc_.name().to_string_lossy().into_owned(),
            state: Some(proc_.status().to_string()),
            start_utc: i64::try_from(proc_.start_time())
                .ok()
                .and_then(|s| crate::timefmt::unix_utc(s, 0)),
            argv: proc_
                .cmd()
                .iter()
                .map(|a| a.to_string_lossy().into_owned())
                .collect(),
            cwd: proc_.cwd().map(|c| c.display().to_string()),
            open_files: proc_.open_files().map(|n| n as u64),
            ..Process::default()
        };
        if let (Some(uid), Some(users)) = (proc_.user_id(), users.as_ref()) {
            p.user = users.get_user_by_id(uid).map(|u| u.name().to_string());
        }
        if let Some(exe) = proc_.exe() {
            let text = exe.display().to_string();
            // Deleted only when the OS says there is no such file: an access error
            // (a protected process) or an empty path is not a deletion.
            p.exe_deleted = !text.is_empty()
                && exe.is_absolute()
                && matches!(std::fs::metadata(exe), Err(e) if e.kind() == std::io::ErrorKind::NotFound);
            p.suspicious
                .extend(path_reasons(&text.replace('\\', "/"), p.exe_deleted));
            if !images.iter().any(|i| i == exe) {
                images.push(exe.to_path_buf());
            }
            p.exe = Some(text);
        }
        list.processes.push(p);
    }
    let results = map_bounded(
        images.clone(),
        2,
        Duration::from_secs(20),
        ctx.soft_deadline,
        |path| hash_path(&path),
    );
    let hashes: HashMap<String, Result<String, String>> = images
        .iter()
        .zip(results)
        .map(|(path, r)| {
            (
                path.display().to_string(),
                r.into_result("hashing the image").and_then(|r| r),
            )
        })
        .collect();
    for p in &mut list.processes {
        match p.exe.as_ref().and_then(|e| hashes.get(e)) {
            Some(Ok(sha)) => p.exe_sha256 = Some(sha.clone()),
            Some(Err(e)) => p.exe_error = Some(e.clone()),
            None => {}
        }
    }
    list.images_hashed = hashes.values().filter(|h| h.is_ok()).count();
    list.notes.push(
        "from the OS process API (sysinfo): images hashed by path (a deleted image cannot \
         be read), start times in whole seconds, no uid numbers; not yet: per-process \
         time limits for the process query itself"
            .to_string(),
    );
    Ok(list)
}

#[cfg(not(target_os = "linux"))]
fn hash_path(path: &std::path::Path) -> Result<String, String> {
    std::fs::File::open(path)
        .and_then(super::sha256_stream)
        .map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_with_spaces_and_parentheses_in_the_name() {
        let text = "4242 (evil) (x) y) S 1 4242 4242 34816 4242 4194560 1 0 0 0 3 1 0 0 20 0 1 0 123456 1000 10 18446744073709551615\n";
        let st = parse_stat(text).unwrap();
        assert_eq!(st.comm, "evil) (x) y");
        assert_eq!(
            (st.state, st.ppid, st.session, st.tty_nr),
            ('S', 1, 4242, 34816)
        );
        assert_eq!((st.threads, st.start_ticks), (1, 123456));
        for cut in 0..text.len() {
            let _ = parse_stat(&text[..cut]);
        }
        assert!(parse_stat(")(").is_none());
    }

    #[test]
    fn cmdline_exact_bytes_are_kept_when_argv_cannot_reproduce_them() {
        assert_eq!(
            split_cmdline(b"sleep\x00300\x00"),
            (vec!["sleep".to_string(), "300".to_string()], None)
        );
        assert_eq!(split_cmdline(b""), (Vec::new(), None));
        let (argv, exact) = split_cmdline(b"a\xff\x00b\x00");
        assert_eq!(argv.len(), 2);
        assert!(exact.is_some());
        // A process that rewrote its title without NULs.
        let (argv, exact) = split_cmdline(b"nginx: worker process");
        assert_eq!(argv, vec!["nginx: worker process"]);
        assert!(exact.is_some());
        // An empty argument in the middle survives.
        let (argv, exact) = split_cmdline(b"x\x00\x00y\x00");
        assert_eq!(argv, vec!["x", "", "y"]);
        assert!(exact.is_none());
    }

    #[test]
    fn status_uids() {
        assert_eq!(
            parse_status_uids("Name:\tx\nUid:\t1000\t0\t0\t0\nGid:\t1\n"),
            Some((1000, 0))
        );
        assert_eq!(parse_status_uids("Uid:\tx"), None);
    }

    #[test]
    fn deleted_and_memfd_images_are_high_findings_and_temp_dirs_alone_are_not() {
        let p = |pid, exe: &str, deleted| Process {
            pid,
            name: "x".into(),
            argv: vec![exe.to_string(), "600".into()],
            exe: Some(exe.to_string()),
            exe_deleted: deleted,
            suspicious: path_reasons(exe, deleted),
            ..Process::default()
        };
        let list = ProcessList {
            processes: vec![
                p(10, "/tmp/sleep-copy", true),
                p(11, "/memfd:payload", true),
                p(12, "/tmp/build/app", false),
                p(13, "/usr/bin/sleep", false),
                Process {
                    exe_replaced: true,
                    ..p(14, "/usr/sbin/sshd", true)
                },
            ],
            ..ProcessList::default()
        };
        let f = findings(&list);
        let kinds: Vec<(&str, u64)> = f
            .iter()
            .map(|f| (f.kind.as_str(), f.evidence["pid"].as_u64().unwrap_or(0)))
            .collect();
        assert_eq!(
            kinds,
            vec![
                ("process.exe_deleted", 10),
                ("process.exe_memfd", 11),
                ("process.exe_replaced", 14)
            ]
        );
        use crate::finding::Severity::{High, Low};
        let sev: Vec<_> = f.iter().map(|f| f.severity).collect();
        assert_eq!(sev, vec![High, High, Low]);
        assert_eq!(
            f[0].title,
            "Process 10 runs from an executable deleted after it was started: /tmp/sleep-copy (/tmp/sleep-copy 600)"
        );
    }

    #[test]
    fn temp_and_deleted_paths_are_reasons() {
        assert_eq!(path_reasons("/usr/bin/sleep", false), Vec::<String>::new());
        assert_eq!(
            path_reasons("/tmp/x/sleep", true),
            vec!["exe_deleted", "exe_in_temp_dir"]
        );
        assert_eq!(
            path_reasons("/memfd:payload", true),
            vec!["exe_deleted", "exe_memfd"]
        );
        assert_eq!(path_reasons("/dev/shm/.x", false), vec!["exe_in_temp_dir"]);
        // Windows paths arrive with `/` separators.
        for exe in [
            "C:/Users/bob/AppData/Local/Temp/7zS1/setup.exe",
            "//?/C:/WINDOWS/Temp/x.exe",
            "D:/$Recycle.Bin/S-1-5-21-1/$R1.exe",
            "C:/Users/Public/svchost.exe",
        ] {
            assert_eq!(path_reasons(exe, false), vec!["exe_in_temp_dir"], "{exe}");
        }
        for exe in [
            "C:/Windows/System32/svchost.exe",
            "C:/Program Files/Temp Tools/t.exe",
            "/home/u/appdata/local/temp/x",
        ] {
            assert!(path_reasons(exe, false).is_empty(), "{exe}");
        }
    }
}
