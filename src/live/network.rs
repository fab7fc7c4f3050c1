//! Network capture (`live/network.json`): TCP, UDP and raw sockets (IPv4 and IPv6) with
//! state, addresses and the processes that own them; interfaces with addresses and MACs;
//! routes; the neighbour (ARP / NDP) table; the DNS resolver configuration.
//!
//! Owns joining `/proc/net/{tcp,udp,raw}{,6}` (per network namespace) with the socket
//! inodes found in `/proc/PID/fd`. It must never open a socket to anything but the
//! kernel (rtnetlink, read-only dump requests) and never resolve a name.

#![cfg_attr(not(target_os = "linux"), allow(dead_code))]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde::{Deserialize, Serialize};

use super::{CaptureKind, Captured, Ctx};

pub const KIND: CaptureKind = CaptureKind {
    name: "network",
    member: "live/network.json",
    schema: "fieldkit.live.network",
    reads: "/proc/net/{tcp,tcp6,udp,udp6,raw,raw6,route,ipv6_route,arp} per net namespace, /proc/*/fd, /sys/class/net, getifaddrs, rtnetlink neighbour dump, /etc/resolv.conf, /etc/hosts",
};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NetworkState {
    pub sockets: Vec<Socket>,
    pub interfaces: Vec<Interface>,
    pub routes: Vec<Route>,
    pub neighbours: Vec<Neighbour>,
    pub dns: Dns,
    /// Processes whose descriptors could not be scanned in their time limit: their
    /// sockets are listed, without them as owner.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub descriptor_errors: Vec<DescriptorError>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DescriptorError {
    pub pid: u32,
    pub error: String,
}

/// Time allowed to scan one process's `/proc/PID/fd` (a `readlink` there, or reading its
/// `comm`, can block in the kernel); one that overruns costs only its own owners.
pub const DESCRIPTOR_SCAN_LIMIT: std::time::Duration = std::time::Duration::from_secs(3);

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Socket {
    /// `tcp`, `udp`, `raw`.
    pub protocol: String,
    /// `ipv4`, `ipv6`.
    pub family: String,
    /// Kernel state name: `LISTEN`, `ESTABLISHED`, `TIME_WAIT`, …; `UNCONN` for an
    /// unconnected UDP or raw socket.
    pub state: String,
    pub local_address: String,
    pub local_port: u16,
    pub remote_address: String,
    pub remote_port: u16,
    pub uid: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Socket inode (0 for sockets no longer attached to a process, e.g. TIME_WAIT).
    pub inode: u64,
    pub tx_queue: u64,
    pub rx_queue: u64,
    /// Network namespace inode, when more than one namespace was read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub net_namespace: Option<u64>,
    /// Processes holding the socket open (several after a fork).
    #[serde(default)]
    pub processes: Vec<SocketOwner>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SocketOwner {
    pub pid: u32,
    pub name: String,
}

impl Socket {
    /// A socket waiting for peers: TCP LISTEN, or an unconnected UDP socket bound to a port.
    pub fn is_listening(&self) -> bool {
        match self.protocol.as_str() {
            "tcp" => self.state == "LISTEN",
            "udp" => self.state == "UNCONN" && self.local_port != 0,
            _ => false,
        }
    }

    pub fn is_established(&self) -> bool {
        self.protocol == "tcp" && self.state == "ESTABLISHED"
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Interface {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operstate: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtu: Option<u64>,
    /// Interface flags as the kernel prints them (hex, IFF_*).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flags: Option<String>,
    #[serde(default)]
    pub addresses: Vec<InterfaceAddress>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct InterfaceAddress {
    pub address: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix_len: Option<u8>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Route {
    pub family: String,
    pub interface: String,
    pub destination: String,
    pub prefix_len: u8,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<String>,
    pub metric: u32,
    /// RTF_* flags, hex as in /proc.
    pub flags: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Neighbour {
    pub family: String,
    pub address: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
    pub interface: String,
    /// `REACHABLE`, `STALE`, `PERMANENT`, … (ARP: `COMPLETE`, `INCOMPLETE`, `PERMANENT`).
    pub state: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Dns {
    #[serde(default)]
    pub nameservers: Vec<String>,
    #[serde(default)]
    pub search: Vec<String>,
    #[serde(default)]
    pub options: Vec<String>,
    /// The files the configuration came from, content included.
    #[serde(default)]
    pub files: Vec<ConfigFile>,
}

/// A small configuration file of the examined system, kept whole (up to a limit).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ConfigFile {
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub symlink_target: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtime_utc: Option<String>,
    /// SHA-256 of the bytes read (the whole file unless `truncated`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Captured for NetworkState {
    fn detail(&self) -> String {
        format!(
            "{} sockets ({} listening, {} established), {} interfaces, {} routes, {} neighbours",
            self.sockets.len(),
            self.sockets.iter().filter(|s| s.is_listening()).count(),
            self.sockets.iter().filter(|s| s.is_established()).count(),
            self.interfaces.len(),
            self.routes.len(),
            self.neighbours.len()
        )
    }
}

/// An IPv4 address as /proc/net prints it: the in-memory (network order) bytes read as a
/// native-endian u32 and printed in hex.
pub fn parse_hex_ipv4(hex: &str) -> Option<Ipv4Addr> {
    if hex.len() != 8 {
        return None;
    }
    let v = u32::from_str_radix(hex, 16).ok()?;
    Some(Ipv4Addr::from(v.to_ne_bytes()))
}

/// An IPv6 address as /proc/net prints it: four native-endian u32 words in hex.
pub fn parse_hex_ipv6(hex: &str) -> Option<Ipv6Addr> {
    if hex.len() != 32 || !hex.is_ascii() {
        return None;
    }
    let mut bytes = [0u8; 16];
    for i in 0..4 {
        let v = u32::from_str_radix(&hex[i * 8..i * 8 + 8], 16).ok()?;
        bytes[i * 4..i * 4 + 4].copy_from_slice(&v.to_ne_bytes());
    }
    Some(Ipv6Addr::from(bytes))
}

/// An IPv6 address in /proc/net/ipv6_route and if_inet6: plain hex, network order.
fn parse_plain_hex_ipv6(hex: &str) -> Option<Ipv6Addr> {
    if hex.len() != 32 || !hex.is_ascii() {
        return None;
    }
    let mut bytes = [0u8; 16];
    for (i, b) in bytes.iter_mut().enumerate() {
        *b = u8::from_str_radix(&hex[i * 2..i * 2 + 2], 16).ok()?;
    }
    Some(Ipv6Addr::from(bytes))
}

fn parse_endpoint(field: &str, v6: bool) -> Option<(IpAddr, u16)> {
    let (addr, port) = field.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let ip = if v6 {
        IpAddr::V6(parse_hex_ipv6(addr)?)
    } else {
        IpAddr::V4(parse_hex_ipv4(addr)?)
    };
    Some((ip, port))
}

pub fn tcp_state_name(code: u8) -> &'static str {
    match code {
        0x01 => "ESTABLISHED",
        0x02 => "SYN_SENT",
        0x03 => "SYN_RECV",
        0x04 => "FIN_WAIT1",
        0x05 => "FIN_WAIT2",
        0x06 => "TIME_WAIT",
        0x07 => "CLOSE",
        0x08 => "CLOSE_WAIT",
        0x09 => "LAST_ACK",
        0x0A => "LISTEN",
        0x0B => "CLOSING",
        0x0C => "NEW_SYN_RECV",
        _ => "UNKNOWN",
    }
}

/// Parse one `/proc/net/{tcp,udp,raw}{,6}` table. `protocol` is `tcp`, `udp` or `raw`.
/// Returns the sockets and one note per line that does not parse.
pub fn parse_socket_table(text: &str, protocol: &str, v6: bool) -> (Vec<Socket>, Vec<String>) {
    let mut sockets = Vec::new();
    let mut notes = Vec::new();
    for (n, line) in text.lines().enumerate().skip(1) {
        if line.trim().is_empty() {
            continue;
        }
        match parse_socket_line(line, protocol, v6) {
            Some(s) => sockets.push(s),
            None => notes.push(format!("{protocol} line {}: cannot parse", n + 1)),
        }
    }
    (sockets, notes)
}

fn parse_socket_line(line: &str, protocol: &str, v6: bool) -> Option<Socket> {
    let f: Vec<&str> = line.split_whitespace().collect();
    if f.len() < 10 {
        return None;
    }
    let (local, local_port) = parse_endpoint(f[1], v6)?;
    let (remote, remote_port) = parse_endpoint(f[2], v6)?;
    let code = u8::from_str_radix(f[3], 16).ok()?;
    let state = match (protocol, code) {
        ("tcp", c) => tcp_state_name(c).to_string(),
        (_, 0x07) => "UNCONN".to_string(),
        (_, c) => tcp_state_name(c).to_string(),
    };
    let (tx, rx) = f[4].split_once(':')?;
    Some(Socket {
        protocol: protocol.to_string(),
        family: if v6 { "ipv6" } else { "ipv4" }.to_string(),
        state,
        local_address: local.to_string(),
        local_port,
        remote_address: remote.to_string(),
        remote_port,
        uid: f[7].parse().ok()?,
        user: None,
        inode: f[9].parse().ok()?,
        tx_queue: u64::from_str_radix(tx, 16).ok()?,
        rx_queue: u64::from_str_radix(rx, 16).ok()?,
        net_namespace: None,
        processes: Vec::new(),
    })
}

/// `/proc/net/route` (the IPv4 main table).
pub fn parse_ipv4_routes(text: &str) -> Vec<Route> {
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            if f.len() < 8 {
                return None;
            }
            let dest = parse_hex_ipv4(f[1])?;
            let gw = parse_hex_ipv4(f[2])?;
            let mask = parse_hex_ipv4(f[7])?;
            Some(Route {
                family: "ipv4".to_string(),
                interface: f[0].to_string(),
                destination: dest.to_string(),
                prefix_len: u32::from(mask).count_ones() as u8,
                gateway: (!gw.is_unspecified()).then(|| gw.to_string()),
                metric: f[6].parse().ok()?,
                flags: f[3].to_string(),
            })
        })
        .collect()
}

/// `/proc/net/ipv6_route`.
pub fn parse_ipv6_routes(text: &str) -> Vec<Route> {
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            if f.len() < 10 {
                return None;
            }
            let dest = parse_plain_hex_ipv6(f[0])?;
            let gw = parse_plain_hex_ipv6(f[4])?;
            Some(Route {
                family: "ipv6".to_string(),
                interface: f[9].to_string(),
                destination: dest.to_string(),
                prefix_len: u8::from_str_radix(f[1], 16).ok()?,
                gateway: (!gw.is_unspecified()).then(|| gw.to_string()),
                metric: u32::from_str_radix(f[5], 16).ok()?,
                flags: f[8].to_string(),
            })
        })
        .collect()
}

/// `/proc/net/arp`.
pub fn parse_arp(text: &str) -> Vec<Neighbour> {
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            if f.len() < 6 {
                return None;
            }
            let ip: Ipv4Addr = f[0].parse().ok()?;
            let flags = u32::from_str_radix(f[2].trim_start_matches("0x"), 16).ok()?;
            let state = if flags & 0x04 != 0 {
                "PERMANENT"
            } else if flags & 0x02 != 0 {
                "COMPLETE"
            } else {
                "INCOMPLETE"
            };
            Some(Neighbour {
                family: "ipv4".to_string(),
                address: ip.to_string(),
                mac: (f[3] != "00:00:00:00:00:00").then(|| f[3].to_string()),
                interface: f[5].to_string(),
                state: state.to_string(),
            })
        })
        .collect()
}

/// A neighbour entry as rtnetlink reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct RawNeighbour {
    pub ifindex: i32,
    pub state: u16,
    pub dst: Option<Vec<u8>>,
    pub lladdr: Option<Vec<u8>>,
}

/// Parse one datagram of an RTM_GETNEIGH dump; malformed lengths end the parse with an
/// error instead of reading past the buffer.
pub fn parse_neighbour_datagram(d: &[u8]) -> Result<Vec<RawNeighbour>, String> {
    const NLMSG_ERROR: u16 = 2;
    const NLMSG_DONE: u16 = 3;
    const RTM_NEWNEIGH: u16 = 28;
    let u16_at = |b: &[u8], o: usize| -> Option<u16> {
        Some(u16::from_ne_bytes([*b.get(o)?, *b.get(o + 1)?]))
    };
    let u32_at = |b: &[u8], o: usize| -> Option<u32> {
        Some(u32::from_ne_bytes([
            *b.get(o)?,
            *b.get(o + 1)?,
            *b.get(o + 2)?,
            *b.get(o + 3)?,
        ]))
    };
    let mut out = Vec::new();
    let mut off = 0usize;
    while off + 16 <= d.len() {
        let len = u32_at(d, off).ok_or("truncated header")? as usize;
        let kind = u16_at(d, off + 4).ok_or("truncated header")?;
        if len < 16 || off + len > d.len() {
            return Err(format!("message at offset {off}: bad length {len}"));
        }
        let msg = &d[off..off + len];
        match kind {
            NLMSG_DONE => break,
            NLMSG_ERROR => {
                let code = u32_at(msg, 16).map(|c| c as i32).unwrap_or(-1);
                if code != 0 {
                    return Err(format!("kernel error {}", -code));
                }
            }
            RTM_NEWNEIGH if msg.len() >= 28 => {
                let ifindex = u32_at(msg, 20).ok_or("truncated ndmsg")? as i32;
                let state = u16_at(msg, 24).ok_or("truncated ndmsg")?;
                let mut n = RawNeighbour {
                    ifindex,
                    state,
                    dst: None,
                    lladdr: None,
                };
                let mut a = 28;
                while a + 4 <= msg.len() {
                    let alen = u16_at(msg, a).ok_or("truncated attribute")? as usize;
                    let atype = u16_at(msg, a + 2).ok_or("truncated attribute")? & 0x3fff;
                    if alen < 4 || a + alen > msg.len() {
                        break;
                    }
                    let value = msg[a + 4..a + alen].to_vec();
                    match atype {
                        1 => n.dst = Some(value),
                        2 => n.lladdr = Some(value),
                        _ => {}
                    }
                    a += (alen + 3) & !3;
                }
                out.push(n);
            }
            _ => {}
        }
        off += (len + 3) & !3;
    }
    Ok(out)
}

pub fn neighbour_state_name(state: u16) -> String {
    const NAMES: [(u16, &str); 8] = [
        (0x01, "INCOMPLETE"),
        (0x02, "REACHABLE"),
        (0x04, "STALE"),
        (0x08, "DELAY"),
        (0x10, "PROBE"),
        (0x20, "FAILED"),
        (0x40, "NOARP"),
        (0x80, "PERMANENT"),
    ];
    let names: Vec<&str> = NAMES
        .iter()
        .filter(|(bit, _)| state & bit != 0)
        .map(|(_, n)| *n)
        .collect();
    if names.is_empty() {
        "NONE".to_string()
    } else {
        names.join("|")
    }
}

pub fn format_mac(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// `resolv.conf` directives.
pub fn parse_resolv_conf(text: &str, dns: &mut Dns) {
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        let mut words = line.split_whitespace();
        match words.next() {
            Some("nameserver") => dns.nameservers.extend(words.map(str::to_string)),
            Some("search") | Some("domain") => dns.search.extend(words.map(str::to_string)),
            Some("options") => dns.options.extend(words.map(str::to_string)),
            _ => {}
        }
    }
}

fn prefix_len(mask: IpAddr) -> u8 {
    match mask {
        IpAddr::V4(m) => u32::from(m).count_ones() as u8,
        IpAddr::V6(m) => u128::from(m).count_ones() as u8,
    }
}

#[cfg(target_os = "linux")]
pub(crate) fn read_config_file(
    roots: &super::Roots,
    rel: &str,
    limit: usize,
) -> Option<(ConfigFile, Vec<u8>)> {
    use super::sys;
    let path = roots.fs.join(rel);
    let display = format!("/{rel}");
    let symlink_target = sys::read_link_bytes(&path)
        .ok()
        .map(|t| String::from_utf8_lossy(&t).into_owned());
    match sys::read_small_file(&path, limit) {
        Ok(f) => {
            let cf = ConfigFile {
                path: display,
                symlink_target,
                size: Some(f.size),
                mtime_utc: crate::timefmt::unix_utc(f.mtime, f.mtime_nsec),
                sha256: Some(super::sha256_hex(&f.bytes)),
                content: Some(String::from_utf8_lossy(&f.bytes).into_owned()),
                truncated: f.truncated,
                error: None,
            };
            Some((cf, f.bytes))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && symlink_target.is_none() => None,
        Err(e) => Some((
            ConfigFile {
                path: display,
                symlink_target,
                error: Some(e.to_string()),
                ..ConfigFile::default()
            },
            Vec::new(),
        )),
    }
}

/// What one process's descriptors say: its network namespace, its name, and the socket
/// inodes it holds (`None` when `/proc/PID/fd` could not be listed).
#[cfg(target_os = "linux")]
struct DescriptorScan {
    net_namespace: Option<u64>,
    name: String,
    socket_inodes: Option<Vec<u64>>,
}

#[cfg(target_os = "linux")]
fn net_namespace_of(dir: &std::path::Path) -> Option<u64> {
    let link = super::sys::read_link_bytes(&dir.join("ns/net")).ok()?;
    let s = String::from_utf8_lossy(&link);
    s.strip_prefix("net:[")?.strip_suffix(']')?.parse().ok()
}

/// `socket:[12345]` → 12345.
fn socket_inode(link: &[u8]) -> Option<u64> {
    link.strip_prefix(b"socket:[")
        .and_then(|r| r.strip_suffix(b"]"))
        .and_then(|n| std::str::from_utf8(n).ok()?.parse::<u64>().ok())
}

#[cfg(target_os = "linux")]
fn scan_descriptors(proc: &std::path::Path, pid: u32) -> DescriptorScan {
    use super::sys;
    let dir = proc.join(pid.to_string());
    let mut scan = DescriptorScan {
        net_namespace: net_namespace_of(&dir),
        name: String::new(),
        socket_inodes: None,
    };
    let Ok(fds) = sys::dir_names(&dir.join("fd")) else {
        return scan;
    };
    scan.name = sys::read_attr(&dir.join("comm")).unwrap_or_default();
    scan.socket_inodes = Some(
        fds.iter()
            .filter_map(|fd| sys::read_link_bytes(&dir.join("fd").join(fd)).ok())
            .filter_map(|target| socket_inode(&target))
            .collect(),
    );
    scan
}

#[cfg(target_os = "linux")]
pub fn capture(ctx: &Ctx) -> Result<NetworkState, String> {
    use std::collections::{BTreeMap, HashMap};

    use super::bounded::{Bounded, map_bounded};
    use super::sys;

    let proc = &ctx.roots.proc;
    let mut state = NetworkState::default();
    let users = sys::passwd_names(&ctx.roots.fs);
    let pids = super::processes::list_pids(proc).map_err(|e| format!("{}: {e}", proc.display()))?;

    // Socket inode → owners; network namespace → one process inside it. Each process is
    // scanned under its own time limit: one stuck in the kernel loses only its own owners.
    let own_ns = net_namespace_of(&proc.join("self"));
    let mut owners: HashMap<u64, Vec<SocketOwner>> = HashMap::new();
    let mut namespaces: BTreeMap<u64, u32> = BTreeMap::new();
    let mut fd_errors = 0usize;
    let scan_root = proc.clone();
    let scans = map_bounded(
        pids.clone(),
        2,
        DESCRIPTOR_SCAN_LIMIT,
        ctx.soft_deadline,
        move |pid| scan_descriptors(&scan_root, pid),
    );
    let mut not_started = 0usize;
    for (&pid, scan) in pids.iter().zip(scans) {
        match scan {
            Bounded::Done(scan) => {
                if let Some(ns) = scan.net_namespace {
                    namespaces.entry(ns).or_insert(pid);
                }
                let Some(inodes) = scan.socket_inodes else {
                    fd_errors += 1;
                    continue;
                };
                for inode in inodes {
                    let list = owners.entry(inode).or_default();
                    let owner = SocketOwner {
                        pid,
                        name: scan.name.clone(),
                    };
                    if !list.contains(&owner) {
                        list.push(owner);
                    }
                }
            }
            Bounded::NotStarted => not_started += 1,
            other => state.descriptor_errors.push(DescriptorError {
                pid,
                error: other
                    .into_result(&format!("scanning {}/{pid}/fd", proc.display()))
                    .err()
                    .unwrap_or_default(),
            }),
        }
    }
    if not_started > 0 {
        state.notes.push(format!(
            "time limit reached while scanning process descriptors: {not_started} processes \
             not scanned (their sockets have no owner listed)"
        ));
    }
    if fd_errors > 0 {
        state.notes.push(format!(
            "{fd_errors} processes' descriptors could not be listed (exited or not permitted)"
        ));
    }

    // Read the tables once per network namespace: our own through /proc/net, every other
    // through a process inside it.
    let mut tables: Vec<(Option<u64>, std::path::PathBuf)> = vec![(own_ns, proc.join("net"))];
    for (&ns, &pid) in &namespaces {
        if Some(ns) != own_ns {
            tables.push((Some(ns), proc.join(pid.to_string()).join("net")));
        }
    }
    let several = tables.len() > 1;
    for (ns, net) in &tables {
        for (file, protocol, v6) in [
            ("tcp", "tcp", false),
            ("tcp6", "tcp", true),
            ("udp", "udp", false),
            ("udp6", "udp", true),
            ("raw", "raw", false),
            ("raw6", "raw", true),
        ] {
            let path = net.join(file);
            match sys::read_kernel(&path, 256 << 20) {
                Ok(b) => {
                    let (mut sockets, notes) =
                        parse_socket_table(&String::from_utf8_lossy(&b), protocol, v6);
                    for n in notes {
                        state.notes.push(format!("{}: {n}", path.display()));
                    }
                    for s in &mut sockets {
                        s.user = users.get(&s.uid).cloned();
                        s.net_namespace = if several { *ns } else { None };
                        if s.inode != 0
                            && let Some(o) = owners.get(&s.inode)
                        {
                            s.processes = o.clone();
                            s.processes.sort();
                        }
                    }
                    state.sockets.extend(sockets);
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => state.notes.push(format!("{}: {e}", path.display())),
            }
        }
    }

    interfaces(ctx, &mut state);

    let net = proc.join("net");
    for (file, v6) in [("route", false), ("ipv6_route", true)] {
        let path = net.join(file);
        match sys::read_kernel(&path, 64 << 20) {
            Ok(b) => {
                let text = String::from_utf8_lossy(&b);
                state.routes.extend(if v6 {
                    parse_ipv6_routes(&text)
                } else {
                    parse_ipv4_routes(&text)
                });
            }
            Err(e) => state.notes.push(format!("{}: {e}", path.display())),
        }
    }

    // The neighbour table with its NUD states comes from rtnetlink (as `ip neigh`);
    // /proc/net/arp (IPv4 only, no states) is the fallback.
    let from_netlink = ctx
        .roots
        .is_real()
        .then(|| netlink_neighbours(&state.interfaces));
    match from_netlink {
        Some(Ok(list)) => state.neighbours = list,
        other => {
            if let Some(Err(e)) = other {
                state.notes.push(format!("rtnetlink neighbour dump: {e}"));
            }
            let arp = net.join("arp");
            match sys::read_kernel(&arp, 64 << 20) {
                Ok(b) => state.neighbours = parse_arp(&String::from_utf8_lossy(&b)),
                Err(e) => state.notes.push(format!("{}: {e}", arp.display())),
            }
        }
    }

    for rel in [
        "etc/resolv.conf",
        "run/systemd/resolve/resolv.conf",
        "etc/hosts",
        "etc/nsswitch.conf",
    ] {
        if !ctx.may_read(rel, &mut state.notes) {
            continue;
        }
        if let Some((file, bytes)) = read_config_file(&ctx.roots, rel, 256 * 1024) {
            if rel.ends_with("resolv.conf") {
                let mut parsed = Dns::default();
                parse_resolv_conf(&String::from_utf8_lossy(&bytes), &mut parsed);
                for ns in parsed.nameservers {
                    if !state.dns.nameservers.contains(&ns) {
                        state.dns.nameservers.push(ns);
                    }
                }
                for s in parsed.search {
                    if !state.dns.search.contains(&s) {
                        state.dns.search.push(s);
                    }
                }
                state.dns.options.extend(parsed.options);
            }
            state.dns.files.push(file);
        }
    }
    Ok(state)
}

#[cfg(target_os = "linux")]
fn netlink_neighbours(interfaces: &[Interface]) -> Result<Vec<Neighbour>, String> {
    use std::collections::HashMap;
    let names: HashMap<u32, &str> = interfaces
        .iter()
        .filter_map(|i| Some((i.index?, i.name.as_str())))
        .collect();
    let datagrams = super::sys::netlink_neighbour_dump(0, std::time::Duration::from_secs(2))
        .map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for d in datagrams {
        for n in parse_neighbour_datagram(&d)? {
            let address = match n.dst.as_deref() {
                Some(b) if b.len() == 4 => IpAddr::V4(Ipv4Addr::new(b[0], b[1], b[2], b[3])),
                Some(b) => match <[u8; 16]>::try_from(b) {
                    Ok(a) => IpAddr::V6(Ipv6Addr::from(a)),
                    Err(_) => continue,
                },
                None => continue,
            };
            out.push(Neighbour {
                family: if address.is_ipv4() { "ipv4" } else { "ipv6" }.to_string(),
                address: address.to_string(),
                mac: n.lladdr.as_deref().map(format_mac),
                interface: u32::try_from(n.ifindex)
                    .ok()
                    .and_then(|i| names.get(&i).map(|s| s.to_string()))
                    .unwrap_or_else(|| format!("if{}", n.ifindex)),
                state: neighbour_state_name(n.state),
            });
        }
    }
    Ok(out)
}

#[cfg(target_os = "linux")]
fn interfaces(ctx: &Ctx, state: &mut NetworkState) {
    use super::sys;
    let class = ctx.roots.sys.join("class/net");
    let names = match sys::dir_names(&class) {
        Ok(n) => n,
        Err(e) => {
            state.notes.push(format!("{}: {e}", class.display()));
            Vec::new()
        }
    };
    for name in names {
        let dir = class.join(&name);
        let attr = |a: &str| sys::read_attr(&dir.join(a)).filter(|s| !s.is_empty());
        state.interfaces.push(Interface {
            name: name.to_string_lossy().into_owned(),
            index: attr("ifindex").and_then(|v| v.parse().ok()),
            mac: attr("address"),
            operstate: attr("operstate"),
            mtu: attr("mtu").and_then(|v| v.parse().ok()),
            flags: attr("flags"),
            addresses: Vec::new(),
        });
    }
    if !ctx.roots.is_real() {
        return;
    }
    match sys::interface_addresses() {
        Ok(addrs) => {
            for a in addrs {
                let entry = InterfaceAddress {
                    address: a.address.to_string(),
                    prefix_len: a.netmask.map(prefix_len),
                };
                match state.interfaces.iter_mut().find(|i| i.name == a.interface) {
                    Some(i) => i.addresses.push(entry),
                    None => state.interfaces.push(Interface {
                        name: a.interface,
                        addresses: vec![entry],
                        ..Interface::default()
                    }),
                }
            }
        }
        Err(e) => state.notes.push(format!("getifaddrs: {e}")),
    }
}

#[cfg(not(target_os = "linux"))]
pub fn capture(_ctx: &Ctx) -> Result<NetworkState, String> {
    let mut state = NetworkState::default();
    match sysinfo::Networks::new_with_refreshed_list() {
        Ok(networks) => {
            for (name, data) in networks.iter() {
                state.interfaces.push(Interface {
                    name: name.to_string_lossy().into_owned(),
                    mac: Some(data.mac_address().to_string()),
                    mtu: Some(data.mtu()),
                    operstate: Some(data.operational_state().to_string()),
                    addresses: data
                        .ip_networks()
                        .iter()
                        .map(|n| InterfaceAddress {
                            address: n.addr.to_string(),
                            prefix_len: Some(n.prefix),
                        })
                        .collect(),
                    ..Interface::default()
                });
            }
        }
        Err(e) => state.notes.push(format!("cannot list interfaces: {e}")),
    }
    state.notes.push(
        "sockets, routes, neighbour table and DNS configuration: not yet on this OS \
         (interfaces only, from the OS API)"
            .to_string(),
    );
    Ok(state)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_net_tcp_lines_decode_to_addresses_ports_and_states() {
        let text = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1150 1 0000000000000000 100 0 0 10 0\n   1: 0100007F:1F90 0100007F:D2F0 01 00000002:00000001 00:00000000 00000000  1000        0 1160 1 0000000000000000 20 4 30 10 -1\n";
        let (s, notes) = parse_socket_table(text, "tcp", false);
        assert!(notes.is_empty());
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].local_address, "127.0.0.1");
        assert_eq!(s[0].local_port, 8080);
        assert_eq!(s[0].state, "LISTEN");
        assert!(s[0].is_listening());
        assert_eq!(s[1].remote_port, 0xD2F0);
        assert_eq!(s[1].state, "ESTABLISHED");
        assert_eq!(
            (s[1].uid, s[1].inode, s[1].tx_queue, s[1].rx_queue),
            (1000, 1160, 2, 1)
        );
    }

    #[test]
    fn ipv6_words_are_native_endian() {
        // ::1 as /proc/net/tcp6 prints it on little-endian machines.
        let hex = if cfg!(target_endian = "little") {
            "00000000000000000000000001000000"
        } else {
            "00000000000000000000000000000001"
        };
        assert_eq!(parse_hex_ipv6(hex), Some(Ipv6Addr::LOCALHOST));
        assert_eq!(parse_hex_ipv6("zz"), None);
    }

    #[test]
    fn udp_state_seven_is_unconnected() {
        let text = "header\n  1: 00000000:0035 00000000:0000 07 00000000:00000000 00:00000000 00000000 0 0 42 2 0000000000000000 0\n";
        let (s, _) = parse_socket_table(text, "udp", false);
        assert_eq!(s[0].state, "UNCONN");
        assert!(s[0].is_listening());
    }

    #[test]
    fn routes_and_arp_parse() {
        let r = parse_ipv4_routes(
            "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\neth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\neth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n",
        );
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].gateway.as_deref(), Some("192.0.2.1"));
        assert_eq!(
            (r[1].destination.as_str(), r[1].prefix_len),
            ("192.0.2.0", 24)
        );
        let r6 = parse_ipv6_routes(
            "fd000000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth0\n",
        );
        assert_eq!(
            (r6[0].destination.as_str(), r6[0].prefix_len, r6[0].metric),
            ("fd00::", 64, 256)
        );
        let a = parse_arp(
            "IP address       HW type     Flags       HW address            Mask     Device\n192.0.2.1        0x1         0x2         02:fc:00:00:00:05     *        eth0\n",
        );
        assert_eq!(a[0].mac.as_deref(), Some("02:fc:00:00:00:05"));
        assert_eq!(a[0].state, "COMPLETE");
    }

    #[test]
    fn garbage_tables_give_notes_not_panics() {
        let samples = [
            "h\n0: zz:zz zz 0A\n",
            "h\n0: 0100007F:1F90 0100007F:1F90 0A 0:0 0 0 0 0 x\n",
            "h\n   0: 0100007F:1F90\n",
        ];
        for s in samples {
            let (sockets, notes) = parse_socket_table(s, "tcp", false);
            assert!(sockets.is_empty());
            assert_eq!(notes.len(), 1);
        }
        assert!(parse_ipv4_routes("h\nx y z\n").is_empty());
        assert!(parse_ipv6_routes("short").is_empty());
        assert!(parse_arp("h\n999.1.1.1 0x1 0x2 aa * eth0\n").is_empty());
    }

    #[test]
    fn netlink_neighbour_datagrams_parse_and_malformed_ones_are_errors() {
        let mut msg = Vec::new();
        let attrs_len = (4 + 16) + (4 + 6 + 2);
        let len = 16 + 12 + attrs_len;
        msg.extend_from_slice(&(len as u32).to_ne_bytes());
        msg.extend_from_slice(&28u16.to_ne_bytes());
        msg.extend_from_slice(&[0u8; 10]);
        msg.extend_from_slice(&[10, 0, 0, 0]);
        msg.extend_from_slice(&3i32.to_ne_bytes());
        msg.extend_from_slice(&0x02u16.to_ne_bytes());
        msg.extend_from_slice(&[0, 0]);
        msg.extend_from_slice(&20u16.to_ne_bytes());
        msg.extend_from_slice(&1u16.to_ne_bytes());
        msg.extend_from_slice(&Ipv6Addr::LOCALHOST.octets());
        msg.extend_from_slice(&10u16.to_ne_bytes());
        msg.extend_from_slice(&2u16.to_ne_bytes());
        msg.extend_from_slice(&[2, 0, 0, 0, 0, 1, 0, 0]);
        let parsed = parse_neighbour_datagram(&msg).unwrap();
        assert_eq!(parsed.len(), 1);
        assert_eq!(parsed[0].ifindex, 3);
        assert_eq!(neighbour_state_name(parsed[0].state), "REACHABLE");
        assert_eq!(
            format_mac(parsed[0].lladdr.as_deref().unwrap()),
            "02:00:00:00:00:01"
        );
        for cut in 0..msg.len() {
            let _ = parse_neighbour_datagram(&msg[..cut]);
        }
        let mut bad = msg.clone();
        bad[0] = 0xff;
        assert!(parse_neighbour_datagram(&bad).is_err());
    }

    #[test]
    fn resolv_conf_directives() {
        let mut d = Dns::default();
        parse_resolv_conf(
            "# comment\nnameserver 10.0.0.1\nnameserver ::1\nsearch a.example b.example\noptions edns0\n",
            &mut d,
        );
        assert_eq!(d.nameservers, vec!["10.0.0.1", "::1"]);
        assert_eq!(d.search, vec!["a.example", "b.example"]);
        assert_eq!(d.options, vec!["edns0"]);
    }
}
