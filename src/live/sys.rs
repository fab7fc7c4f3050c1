//! Thin, safe wrappers over the Linux system calls the live captures need (bounded reads,
//! `statx` without a server round trip, clocks), so that no capture holds `unsafe` code.
//!
//! Owns nothing but these calls. It must never open anything for writing, never follow
//! a path on a network filesystem on its own initiative, and never read without a limit.

use std::collections::HashMap;
use std::ffi::{CString, OsString};
use std::fs::File;
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;

/// Read a kernel file (procfs, sysfs) up to `limit` bytes.
pub fn read_kernel(path: &Path, limit: usize) -> io::Result<Vec<u8>> {
    let file = File::open(path)?;
    let mut buf = Vec::new();
    file.take(limit as u64).read_to_end(&mut buf)?;
    Ok(buf)
}

/// A kernel file as trimmed text (lossy), e.g. a sysfs attribute.
pub fn read_attr(path: &Path) -> Option<String> {
    read_kernel(path, 64 * 1024)
        .ok()
        .map(|b| String::from_utf8_lossy(&b).trim().to_string())
}

/// Open a file of the examined system for reading without changing it: read-only,
/// `O_NOATIME` where allowed, `O_NONBLOCK` so a FIFO planted in its place cannot block us.
pub fn open_evidence(path: &Path) -> io::Result<File> {
    let flags = libc::O_NONBLOCK | libc::O_CLOEXEC;
    match std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(flags | libc::O_NOATIME)
        .open(path)
    {
        Err(e) if e.raw_os_error() == Some(libc::EPERM) => std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(flags)
            .open(path),
        other => other,
    }
}

/// A small regular file of the examined system: its bytes (at most `limit`), its size
/// and modification time, and whether it was longer than `limit`.
pub struct SmallFile {
    pub bytes: Vec<u8>,
    pub size: u64,
    pub mtime: i64,
    pub mtime_nsec: i64,
    pub truncated: bool,
}

pub fn read_small_file(path: &Path, limit: usize) -> io::Result<SmallFile> {
    let file = open_evidence(path)?;
    let meta = file.metadata()?;
    if !meta.file_type().is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file",
        ));
    }
    let mut bytes = Vec::new();
    let reader = &file;
    match reader.take(limit as u64).read_to_end(&mut bytes) {
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
        Err(e) => return Err(e),
    }
    Ok(SmallFile {
        truncated: meta.size() > bytes.len() as u64,
        size: meta.size(),
        mtime: meta.mtime(),
        mtime_nsec: meta.mtime_nsec(),
        bytes,
    })
}

/// The target of a symbolic link (or `/proc` magic link) as raw bytes.
pub fn read_link_bytes(path: &Path) -> io::Result<Vec<u8>> {
    std::fs::read_link(path).map(|p| p.into_os_string().into_vec())
}

use std::os::unix::ffi::OsStringExt;

/// Entry names of a directory (no stat of the entries).
pub fn dir_names(path: &Path) -> io::Result<Vec<OsString>> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(path)? {
        names.push(entry?.file_name());
    }
    names.sort();
    Ok(names)
}

/// What `statx` reports about a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Statx {
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub nlink: u32,
    pub ino: u64,
    pub size: u64,
    pub dev_major: u32,
    pub dev_minor: u32,
    pub mtime: i64,
    pub mtime_nsec: u32,
    /// Mount id, when the kernel reports it (5.8+).
    pub mnt_id: Option<u64>,
}

/// `statx` with `AT_STATX_DONT_SYNC`: network filesystems answer from their cache
/// instead of asking a server that may never reply.
pub fn statx_cached(path: &Path, follow: bool) -> io::Result<Statx> {
    let c_path = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains NUL"))?;
    let mut flags = libc::AT_STATX_DONT_SYNC;
    if !follow {
        flags |= libc::AT_SYMLINK_NOFOLLOW;
    }
    // SAFETY: statx is plain old data; an all-zero value is valid.
    let mut buf: libc::statx = unsafe { std::mem::zeroed() };
    // SAFETY: c_path is NUL-terminated and outlives the call; buf is a valid, writable
    // statx buffer; AT_FDCWD with an absolute or relative path is always allowed.
    let rc = unsafe {
        libc::statx(
            libc::AT_FDCWD,
            c_path.as_ptr(),
            flags,
            libc::STATX_BASIC_STATS | libc::STATX_MNT_ID,
            &mut buf,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(Statx {
        mode: u32::from(buf.stx_mode),
        uid: buf.stx_uid,
        gid: buf.stx_gid,
        nlink: buf.stx_nlink,
        ino: buf.stx_ino,
        size: buf.stx_size,
        dev_major: buf.stx_dev_major,
        dev_minor: buf.stx_dev_minor,
        mtime: buf.stx_mtime.tv_sec,
        mtime_nsec: buf.stx_mtime.tv_nsec,
        mnt_id: (buf.stx_mask & libc::STATX_MNT_ID != 0).then_some(buf.stx_mnt_id),
    })
}

/// A clock as nanoseconds.
pub fn clock_ns(clock: libc::clockid_t) -> Option<i128> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: ts is a valid, writable timespec.
    let rc = unsafe { libc::clock_gettime(clock, &mut ts) };
    (rc == 0).then(|| i128::from(ts.tv_sec) * 1_000_000_000 + i128::from(ts.tv_nsec))
}

/// Realtime and boottime read back to back, so that their difference (the boot instant)
/// is as exact as the clocks allow.
pub fn realtime_and_boottime_ns() -> Option<(i128, i128)> {
    let real = clock_ns(libc::CLOCK_REALTIME)?;
    let boot = clock_ns(libc::CLOCK_BOOTTIME)?;
    Some((real, boot))
}

/// Clock ticks per second of `/proc/PID/stat` times.
pub fn clock_ticks_per_second() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let v = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if v > 0 { v as u64 } else { 100 }
}

/// What the kernel's NTP discipline says about the clock (`adjtimex` with no change
/// requested, i.e. a pure read).
pub struct NtpState {
    pub synchronized: bool,
    pub offset_us: i64,
    pub max_error_us: i64,
    pub est_error_us: i64,
    pub status: i32,
}

pub fn ntp_state() -> Option<NtpState> {
    // SAFETY: timex is plain old data; all-zero (modes = 0) asks for a read only.
    let mut tx: libc::timex = unsafe { std::mem::zeroed() };
    // SAFETY: tx is valid and writable; modes == 0 changes nothing.
    let state = unsafe { libc::adjtimex(&mut tx) };
    if state < 0 {
        return None;
    }
    Some(NtpState {
        synchronized: state != libc::TIME_ERROR,
        offset_us: tx.offset,
        max_error_us: tx.maxerror,
        est_error_us: tx.esterror,
        status: tx.status,
    })
}

/// uid → user name from the examined system's `/etc/passwd` (parsed here: asking the C
/// library could load NSS modules of the examined system).
pub fn passwd_names(fs_root: &Path) -> HashMap<u32, String> {
    let mut map = HashMap::new();
    if let Ok(f) = read_small_file(&fs_root.join("etc/passwd"), 16 << 20) {
        for line in String::from_utf8_lossy(&f.bytes).lines() {
            let mut parts = line.split(':');
            let (Some(name), Some(_), Some(uid)) = (parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            if let Ok(uid) = uid.parse::<u32>() {
                map.entry(uid).or_insert_with(|| name.to_string());
            }
        }
    }
    map
}

/// One address of a network interface, from `getifaddrs` (which asks the kernel over
/// netlink; no file of the examined system is involved).
pub struct IfAddr {
    pub interface: String,
    pub address: std::net::IpAddr,
    pub netmask: Option<std::net::IpAddr>,
}

/// # Safety
/// `sa` must be null or point to a socket address of the size its family implies.
unsafe fn sockaddr_ip(sa: *const libc::sockaddr) -> Option<std::net::IpAddr> {
    if sa.is_null() {
        return None;
    }
    // SAFETY: the caller guarantees sa points to a sockaddr; sa_family is its first field.
    let family = i32::from(unsafe { (*sa).sa_family });
    match family {
        libc::AF_INET => {
            // SAFETY: an AF_INET address is a sockaddr_in.
            let sin = unsafe { &*(sa as *const libc::sockaddr_in) };
            Some(std::net::IpAddr::V4(std::net::Ipv4Addr::from(
                sin.sin_addr.s_addr.to_ne_bytes(),
            )))
        }
        libc::AF_INET6 => {
            // SAFETY: an AF_INET6 address is a sockaddr_in6.
            let sin6 = unsafe { &*(sa as *const libc::sockaddr_in6) };
            Some(std::net::IpAddr::V6(std::net::Ipv6Addr::from(
                sin6.sin6_addr.s6_addr,
            )))
        }
        _ => None,
    }
}

pub fn interface_addresses() -> io::Result<Vec<IfAddr>> {
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: head is a valid out-pointer; on success it owns a list freed below.
    if unsafe { libc::getifaddrs(&mut head) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let mut out = Vec::new();
    let mut cur = head;
    while !cur.is_null() {
        // SAFETY: cur is a node of the list getifaddrs returned, not yet freed.
        let ifa = unsafe { &*cur };
        // SAFETY: the addresses in a getifaddrs node are null or valid for their family.
        if let Some(address) = unsafe { sockaddr_ip(ifa.ifa_addr) } {
            let interface = if ifa.ifa_name.is_null() {
                String::new()
            } else {
                // SAFETY: ifa_name is a NUL-terminated string owned by the list.
                unsafe { std::ffi::CStr::from_ptr(ifa.ifa_name) }
                    .to_string_lossy()
                    .into_owned()
            };
            out.push(IfAddr {
                interface,
                address,
                // SAFETY: as above.
                netmask: unsafe { sockaddr_ip(ifa.ifa_netmask) },
            });
        }
        cur = ifa.ifa_next;
    }
    // SAFETY: head came from getifaddrs and is freed exactly once.
    unsafe { libc::freeifaddrs(head) };
    Ok(out)
}

/// A netlink route socket, closed on drop.
struct NetlinkSocket(libc::c_int);

impl Drop for NetlinkSocket {
    fn drop(&mut self) {
        // SAFETY: the descriptor is owned by this value and closed once.
        unsafe { libc::close(self.0) };
    }
}

#[repr(C)]
struct SockaddrNl {
    family: libc::sa_family_t,
    pad: u16,
    pid: u32,
    groups: u32,
}

/// Dump the kernel's neighbour table for one address family over rtnetlink (the same
/// request `ip neigh` makes) and return the raw reply bytes of every datagram until the
/// end-of-dump message. Waits at most `limit` for each reply.
pub fn netlink_neighbour_dump(family: u8, limit: std::time::Duration) -> io::Result<Vec<Vec<u8>>> {
    const NETLINK_ROUTE: libc::c_int = 0;
    const NLM_F_REQUEST: u16 = 0x1;
    const NLM_F_DUMP: u16 = 0x300;
    // SAFETY: socket has no memory preconditions.
    let fd = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            NETLINK_ROUTE,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    let sock = NetlinkSocket(fd);
    let tv = libc::timeval {
        tv_sec: limit.as_secs().min(3600) as _,
        tv_usec: limit.subsec_micros() as _,
    };
    // SAFETY: tv is a valid timeval of the size given.
    unsafe {
        libc::setsockopt(
            sock.0,
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            &tv as *const libc::timeval as *const libc::c_void,
            std::mem::size_of::<libc::timeval>() as libc::socklen_t,
        )
    };
    // nlmsghdr (16 bytes) + ndmsg (12 bytes), native endian as the kernel expects.
    let mut req = Vec::with_capacity(28);
    req.extend_from_slice(&28u32.to_ne_bytes());
    req.extend_from_slice(&libc::RTM_GETNEIGH.to_ne_bytes());
    req.extend_from_slice(&(NLM_F_REQUEST | NLM_F_DUMP).to_ne_bytes());
    req.extend_from_slice(&1u32.to_ne_bytes());
    req.extend_from_slice(&0u32.to_ne_bytes());
    req.push(family);
    req.extend_from_slice(&[0u8; 11]);
    let dest = SockaddrNl {
        family: libc::AF_NETLINK as libc::sa_family_t,
        pad: 0,
        pid: 0,
        groups: 0,
    };
    // SAFETY: req and dest are valid for the lengths given.
    let sent = unsafe {
        libc::sendto(
            sock.0,
            req.as_ptr() as *const libc::c_void,
            req.len(),
            0,
            &dest as *const SockaddrNl as *const libc::sockaddr,
            std::mem::size_of::<SockaddrNl>() as libc::socklen_t,
        )
    };
    if sent < 0 {
        return Err(io::Error::last_os_error());
    }
    let mut replies = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    // A dump ends with NLMSG_DONE; bound the number of datagrams anyway.
    for _ in 0..4096 {
        // SAFETY: buf is valid and writable for its length.
        let n = unsafe { libc::recv(sock.0, buf.as_mut_ptr() as *mut libc::c_void, buf.len(), 0) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let chunk = buf[..n as usize].to_vec();
        let done = netlink_done(&chunk);
        replies.push(chunk);
        if done || n == 0 {
            return Ok(replies);
        }
    }
    Err(io::Error::other("netlink dump did not end"))
}

/// True when a datagram holds the end-of-dump (or an error) message.
fn netlink_done(datagram: &[u8]) -> bool {
    let mut off = 0;
    while off + 16 <= datagram.len() {
        let len = u32::from_ne_bytes([
            datagram[off],
            datagram[off + 1],
            datagram[off + 2],
            datagram[off + 3],
        ]) as usize;
        let kind = u16::from_ne_bytes([datagram[off + 4], datagram[off + 5]]);
        if kind == 2 || kind == 3 {
            return true;
        }
        if len < 16 {
            return true;
        }
        off += (len + 3) & !3;
    }
    false
}

/// For tests of "reading evidence leaves its access time alone": a directory where a
/// plain read does update atime, and a file in it whose atime is two days old (older than
/// `relatime`'s one-day rule and newer than its mtime, so a plain read would move it).
#[cfg(test)]
pub(crate) mod atime_probe {
    use std::path::{Path, PathBuf};
    use std::time::{Duration, SystemTime};

    pub fn atime(path: &Path) -> SystemTime {
        std::fs::metadata(path).and_then(|m| m.accessed()).unwrap()
    }

    pub fn old_file(path: &Path, content: &[u8]) {
        std::fs::write(path, content).unwrap();
        let now = SystemTime::now();
        let times = std::fs::FileTimes::new()
            .set_modified(now - Duration::from_secs(3 * 86_400))
            .set_accessed(now - Duration::from_secs(2 * 86_400));
        std::fs::File::options()
            .write(true)
            .open(path)
            .unwrap()
            .set_times(times)
            .unwrap();
    }

    /// A temporary directory (the system's, else /dev/shm) on a filesystem that updates
    /// access times on a plain read; panics when there is none, since such a test could
    /// not fail.
    pub fn dir() -> tempfile::TempDir {
        for base in [std::env::temp_dir(), PathBuf::from("/dev/shm")] {
            let Ok(d) = tempfile::tempdir_in(&base) else {
                continue;
            };
            let probe = d.path().join("probe");
            old_file(&probe, b"probe");
            let before = atime(&probe);
            let _ = std::fs::read(&probe).unwrap();
            if atime(&probe) != before {
                return d;
            }
        }
        panic!(
            "no temporary filesystem here updates access times (noatime?): cannot test O_NOATIME"
        )
    }
}
