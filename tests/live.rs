//! `fieldkit live` on this machine, checked against independent sources: `ps` for
//! processes, `ss` for sockets, `sha256sum` for executable images, `cryptsetup` and
//! `losetup` for encryption headers, and synthetic sysfs/procfs trees for open
//! dm-crypt mappings where the kernel has no device-mapper.
//!
//! Needs (as root): procps (ps), iproute2 (ss, ip), coreutils, util-linux (losetup,
//! setpriv, mount), cryptsetup-bin (cryptsetup), openssh-client (ssh-keygen). A missing
//! tool fails the test with the package to install. Outputs go to a tmpfs (`Usb`):
//! `fieldkit live --out` refuses the examined system's own filesystem.
//!
//! FIELDKIT_REQUIRE_DMCRYPT=1: the real LUKS open/close test fails instead of printing
//! SKIPPED when `cryptsetup open` cannot create a dm-crypt mapping on this machine.

mod live_support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use live_support::*;
use serde_json::Value;

#[test]
fn processes_agree_with_ps_and_a_started_sleep_has_its_parent_command_line_and_hash() {
    let t = tempfile::tempdir().unwrap();
    let tag = unique();
    let sleeper = Kill(
        Command::new("/usr/bin/sleep")
            .args(["600", &tag])
            .current_dir(t.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start sleep"),
    );
    let started = jiff::Timestamp::now();
    std::thread::sleep(Duration::from_millis(100));
    let before = ps();
    let c = capture(&[]);
    let after = ps();
    let procs = c.data("processes");

    let p = process_by_argv(&procs, &["/usr/bin/sleep", "600", &tag]);
    assert_eq!(p["pid"], sleeper.0.id());
    assert_eq!(p["ppid"], std::process::id(), "the test is the parent");
    let (ps_ppid, ps_comm, ps_args) = &after[&sleeper.0.id()];
    assert_eq!(p["ppid"], *ps_ppid);
    assert_eq!(p["name"], ps_comm.as_str());
    assert_eq!(
        p["argv"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap())
            .collect::<Vec<_>>()
            .join(" "),
        *ps_args
    );
    assert!(
        p.get("cmdline_b64").is_none(),
        "plain UTF-8 argv needs no raw copy"
    );
    let real_sleep = std::fs::canonicalize("/usr/bin/sleep").unwrap();
    assert_eq!(p["exe"], real_sleep.to_str().unwrap());
    assert_eq!(p["exe_sha256"], sha256sum(&real_sleep));
    assert_eq!(p["exe_deleted"], false);
    assert_eq!(p["uid"], 0);
    assert_eq!(p["user"], "root");
    assert_eq!(
        p["cwd"],
        std::fs::canonicalize(t.path()).unwrap().to_str().unwrap()
    );
    let fds = std::fs::read_dir(format!("/proc/{}/fd", sleeper.0.id()))
        .unwrap()
        .count();
    assert_eq!(p["open_files"], fds);
    let start: jiff::Timestamp = p["start_utc"].as_str().unwrap().parse().unwrap();
    let skew = (start.as_nanosecond() - started.as_nanosecond()).abs();
    assert!(
        skew < 1_500_000_000,
        "start time {start} vs spawned at {started}"
    );

    // Every process ps saw before and after, unchanged, is in the capture with the same
    // parent and name (kernel worker names change with the work they do).
    let ours: BTreeMap<u64, &Value> = procs["processes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["pid"].as_u64().unwrap(), p))
        .collect();
    let mut compared = 0;
    for (pid, b) in &before {
        if after.get(pid) != Some(b) || b.1 == "ps" {
            continue;
        }
        let p = ours
            .get(&u64::from(*pid))
            .unwrap_or_else(|| panic!("pid {pid} ({}) seen by ps is missing", b.1));
        assert_eq!(p["ppid"], b.0, "ppid of {pid}");
        // ps cuts names at 15 bytes (TASK_COMM_LEN); the kernel gives kernel threads
        // their full name in /proc/PID/stat.
        let name = p["name"].as_str().unwrap();
        if !b.1.starts_with("kworker") {
            assert!(
                name == b.1 || (b.1.len() == 15 && name.starts_with(b.1.as_str())),
                "name of {pid}: {name} vs ps {}",
                b.1
            );
        }
        compared += 1;
    }
    assert!(compared > 10, "only {compared} processes compared");
    assert!(!c.run.stderr.contains(BANNER), "{}", c.run.stderr);
}

#[test]
fn a_deleted_running_executable_is_flagged_and_still_hashed() {
    let t = tempfile::tempdir().unwrap();
    let copy = t.path().join("sleep-copy");
    std::fs::copy("/usr/bin/sleep", &copy).unwrap();
    let tag = unique();
    let child = Kill(spawn_retrying(
        Command::new(&copy)
            .args(["600", &tag])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    ));
    std::thread::sleep(Duration::from_millis(100));
    std::fs::remove_file(&copy).unwrap();
    let c = capture(&[]);
    let procs = c.data("processes");
    let copy_s = copy.to_str().unwrap();
    let p = process_by_argv(&procs, &[copy_s, "600", &tag]);
    assert_eq!(p["pid"], child.0.id());
    assert_eq!(p["exe_deleted"], true);
    assert_eq!(p["exe"], copy_s, "path without the ' (deleted)' suffix");
    assert_eq!(
        p["exe_sha256"],
        sha256sum(Path::new("/usr/bin/sleep")),
        "the deleted image is hashed through /proc/PID/exe"
    );
    let reasons: Vec<&str> = p["suspicious"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    assert!(reasons.contains(&"exe_deleted"), "{reasons:?}");
    if copy_s.starts_with("/tmp/") {
        assert!(reasons.contains(&"exe_in_temp_dir"), "{reasons:?}");
    }
    // The human summary names it.
    let line = c
        .run
        .stdout
        .lines()
        .find(|l| l.contains(&format!("pid {} ", child.0.id())))
        .unwrap_or_else(|| panic!("summary does not list the process:\n{}", c.run.stdout));
    assert!(
        line.contains("exe_deleted") && line.contains(copy_s),
        "{line}"
    );
}

/// `ss -tanpH` as (state, local, peer, pids).
fn ss() -> Vec<(String, String, String, BTreeSet<u32>)> {
    ss_sockets("-tanpH")
}

/// `ss FLAGS` (numeric, with processes, no header) as (state, local, peer, pids).
fn ss_sockets(flags: &str) -> Vec<(String, String, String, BTreeSet<u32>)> {
    let text = tool_ok("ss", "iproute2", &[flags]);
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            if f.len() < 5 {
                return None;
            }
            let users = f[5..].join(" ");
            let pids = users
                .split("pid=")
                .skip(1)
                .filter_map(|s| s.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok())
                .collect();
            Some((f[0].to_string(), f[3].to_string(), f[4].to_string(), pids))
        })
        .collect()
}

/// Our sockets of one protocol as `ss` prints them: (state, local, peer).
fn ss_view(sockets: &[Value], protocol: &str) -> BTreeSet<(String, String, String)> {
    sockets
        .iter()
        .filter(|s| s["protocol"] == protocol)
        .map(|s| {
            let state = match s["state"].as_str().unwrap() {
                "ESTABLISHED" => "ESTAB",
                "SYN_SENT" => "SYN-SENT",
                "SYN_RECV" => "SYN-RECV",
                "FIN_WAIT1" => "FIN-WAIT-1",
                "FIN_WAIT2" => "FIN-WAIT-2",
                "TIME_WAIT" => "TIME-WAIT",
                "CLOSE_WAIT" => "CLOSE-WAIT",
                "LAST_ACK" => "LAST-ACK",
                other => other,
            };
            let local = endpoint(
                s["local_address"].as_str().unwrap(),
                s["local_port"].as_u64().unwrap(),
            );
            let peer = match s["remote_port"].as_u64().unwrap() {
                0 => format!(
                    "{}*",
                    endpoint(s["remote_address"].as_str().unwrap(), 0)
                        .strip_suffix('0')
                        .unwrap()
                ),
                p => endpoint(s["remote_address"].as_str().unwrap(), p),
            };
            (state.to_string(), local, peer)
        })
        .collect()
}

fn endpoint(addr: &str, port: u64) -> String {
    if addr.contains(':') {
        format!("[{addr}]:{port}")
    } else {
        format!("{addr}:{port}")
    }
}

#[test]
fn sockets_agree_with_ss_and_a_listener_shows_its_pid() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let client = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let (_server_side, _) = listener.accept().unwrap();
    let client_port = client.local_addr().unwrap().port();
    let ss_before = ss();
    let c = capture(&[]);
    let ss_after = ss();
    let net = c.data("network");
    let sockets = net["sockets"].as_array().unwrap();
    let me = u64::from(std::process::id());

    let ours = sockets
        .iter()
        .find(|s| s["protocol"] == "tcp" && s["state"] == "LISTEN" && s["local_port"] == port)
        .unwrap_or_else(|| panic!("listener on {port} missing"));
    assert_eq!(ours["local_address"], "127.0.0.1");
    let owners: Vec<u64> = ours["processes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["pid"].as_u64().unwrap())
        .collect();
    assert_eq!(owners, vec![me]);
    let local = format!("127.0.0.1:{port}");
    let ss_pids = &ss_after
        .iter()
        .find(|s| s.0 == "LISTEN" && s.1 == local)
        .expect("ss sees the listener")
        .3;
    assert_eq!(
        ss_pids.iter().map(|p| u64::from(*p)).collect::<Vec<_>>(),
        owners,
        "ss -tanp agrees"
    );

    let est = sockets
        .iter()
        .find(|s| s["state"] == "ESTABLISHED" && s["local_port"] == client_port)
        .expect("client connection");
    assert_eq!(est["remote_port"], port);
    assert_eq!(est["processes"][0]["pid"], me);

    // Every TCP socket ss reported both before and after is in the capture, same state.
    let ours_set = ss_view(sockets, "tcp");
    let mut compared = 0;
    for s in &ss_before {
        if !ss_after.contains(s) || s.0 == "TIME-WAIT" {
            continue;
        }
        // ss prints v4-mapped and wildcard addresses its own way; compare the ones it
        // prints plainly.
        let key = (s.0.clone(), s.1.clone(), s.2.clone());
        if s.1.starts_with('*') || s.1.contains("%") {
            continue;
        }
        assert!(
            ours_set.contains(&key),
            "{key:?} from ss missing in {ours_set:?}"
        );
        compared += 1;
    }
    assert!(compared >= 3, "only {compared} sockets compared");

    let summary_line = c
        .run
        .stdout
        .lines()
        .find(|l| l.contains(&local))
        .unwrap_or_else(|| panic!("listener not in the summary:\n{}", c.run.stdout));
    assert!(summary_line.contains(&format!("{me}/")), "{summary_line}");
    drop(client);
}

#[test]
fn udp_sockets_agree_with_ss_and_ours_show_their_pid() {
    let unconnected = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = unconnected.local_addr().unwrap().port();
    let connected = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    connected.connect(("127.0.0.1", port)).unwrap();
    let connected_port = connected.local_addr().unwrap().port();
    let v6 = std::net::UdpSocket::bind("[::1]:0").ok();
    let ss_before = ss_sockets("-uanpH");
    let c = capture(&[]);
    let ss_after = ss_sockets("-uanpH");
    let net = c.data("network");
    let sockets = net["sockets"].as_array().unwrap();
    let me = std::process::id();
    let find = |local: &str, port: u16| {
        sockets
            .iter()
            .find(|s| {
                s["protocol"] == "udp" && s["local_address"] == local && s["local_port"] == port
            })
            .unwrap_or_else(|| panic!("udp {local}:{port} missing"))
    };
    let pids = |s: &Value| -> BTreeSet<u32> {
        s["processes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["pid"].as_u64().unwrap() as u32)
            .collect()
    };
    let ss_pids = |state: &str, local: &str| {
        ss_after
            .iter()
            .find(|s| s.0 == state && s.1 == local)
            .unwrap_or_else(|| panic!("ss -uanp does not show {state} {local}"))
            .3
            .clone()
    };
    let u = find("127.0.0.1", port);
    assert_eq!(u["state"], "UNCONN");
    assert_eq!(u["family"], "ipv4");
    assert_eq!(pids(u), BTreeSet::from([me]));
    assert_eq!(pids(u), ss_pids("UNCONN", &format!("127.0.0.1:{port}")));
    let e = find("127.0.0.1", connected_port);
    assert_eq!(e["state"], "ESTABLISHED");
    assert_eq!(
        (e["remote_address"].as_str(), e["remote_port"].as_u64()),
        (Some("127.0.0.1"), Some(u64::from(port)))
    );
    assert_eq!(
        pids(e),
        ss_pids("ESTAB", &format!("127.0.0.1:{connected_port}"))
    );
    if let Some(v6) = &v6 {
        let p6 = v6.local_addr().unwrap().port();
        let s6 = find("::1", p6);
        assert_eq!(s6["family"], "ipv6");
        assert_eq!(pids(s6), ss_pids("UNCONN", &format!("[::1]:{p6}")));
    }
    // Every UDP socket ss showed before and after is in the capture, same state.
    let ours = ss_view(sockets, "udp");
    let mut compared = 0;
    for s in ss_before.iter().filter(|s| ss_after.contains(s)) {
        if s.1.starts_with('*') || s.1.contains('%') {
            continue;
        }
        let key = (s.0.clone(), s.1.clone(), s.2.clone());
        assert!(ours.contains(&key), "{key:?} from ss missing in {ours:?}");
        compared += 1;
    }
    assert!(compared >= 2, "only {compared} UDP sockets compared");
    // A bound, unconnected UDP socket waits for peers: listed as listening, with its PID.
    let line = c
        .run
        .stdout
        .lines()
        .find(|l| l.contains(&format!("udp   127.0.0.1:{port}  ")))
        .unwrap_or_else(|| panic!("not in the summary:\n{}", c.run.stdout));
    assert!(line.contains(&format!("{me}/")), "{line}");
}

/// `ip -j [-6] route show table T` as (destination/prefix, gateway, device, metric).
fn ip_routes(v6: bool, table: &str) -> Vec<(String, Option<String>, String, u64, Value)> {
    let mut args = vec!["-j"];
    if v6 {
        args.push("-6");
    }
    args.extend(["route", "show", "table", table]);
    let v: Value = serde_json::from_str(&tool_ok("ip", "iproute2", &args)).unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .filter(|r| r.get("nexthops").is_none())
        .map(|r| {
            let dst = r["dst"].as_str().unwrap();
            let dst = match (dst, v6) {
                ("default", false) => "0.0.0.0/0".to_string(),
                ("default", true) => "::/0".to_string(),
                (d, false) if !d.contains('/') => format!("{d}/32"),
                (d, true) if !d.contains('/') => format!("{d}/128"),
                (d, _) => d.to_string(),
            };
            (
                dst,
                r["gateway"].as_str().map(str::to_string),
                r["dev"].as_str().unwrap_or("").to_string(),
                r["metric"].as_u64().unwrap_or(0),
                r.clone(),
            )
        })
        .collect()
}

#[test]
fn routes_agree_with_ip_route() {
    let c = capture(&[]);
    let v4_theirs = ip_routes(false, "main");
    let v6_theirs = ip_routes(true, "all");
    let net = c.data("network");
    let ours = |family: &str| -> BTreeSet<(String, Option<String>, String, u64)> {
        net["routes"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["family"] == family)
            // The kernel's null route (RTF_REJECT on lo, metric 0xffffffff) that every IPv6
            // table ends with: /proc lists it, `ip route` does not.
            .filter(|r| {
                let flags = u32::from_str_radix(r["flags"].as_str().unwrap(), 16).unwrap();
                !(family == "ipv6" && flags & 0x0200 != 0 && r["metric"] == u64::from(u32::MAX))
            })
            .map(|r| {
                (
                    format!(
                        "{}/{}",
                        r["destination"].as_str().unwrap(),
                        r["prefix_len"].as_u64().unwrap()
                    ),
                    r["gateway"].as_str().map(str::to_string),
                    r["interface"].as_str().unwrap().to_string(),
                    r["metric"].as_u64().unwrap(),
                )
            })
            .collect()
    };
    let strip = |v: &[(String, Option<String>, String, u64, Value)]| {
        v.iter()
            .map(|(a, b, c, d, _)| (a.clone(), b.clone(), c.clone(), *d))
            .collect::<BTreeSet<_>>()
    };
    assert!(!v4_theirs.is_empty(), "no IPv4 route here to compare");
    assert_eq!(
        ours("ipv4"),
        strip(&v4_theirs),
        "IPv4 main table vs `ip route`"
    );
    assert_eq!(
        ours("ipv6"),
        strip(&v6_theirs),
        "IPv6, all tables, vs `ip -6 route show table all`"
    );
}

/// One 384-byte glibc utmp record (64-bit Linux layout; see src/live/users.rs). The
/// address field holds `host` when it is an IPv4 address, as login and sshd write it.
fn utmp_record(
    kind: i16,
    pid: i32,
    line: &str,
    id: &str,
    user: &str,
    host: &str,
    secs: i32,
) -> Vec<u8> {
    let mut r = vec![0u8; 384];
    r[0..2].copy_from_slice(&kind.to_le_bytes());
    r[4..8].copy_from_slice(&pid.to_le_bytes());
    r[8..8 + line.len()].copy_from_slice(line.as_bytes());
    r[40..40 + id.len()].copy_from_slice(id.as_bytes());
    r[44..44 + user.len()].copy_from_slice(user.as_bytes());
    r[76..76 + host.len()].copy_from_slice(host.as_bytes());
    r[340..344].copy_from_slice(&secs.to_le_bytes());
    if let Ok(a) = host.parse::<std::net::Ipv4Addr>() {
        r[348..352].copy_from_slice(&a.octets());
    }
    r
}

/// The login minute as `who` prints it in the C locale and UTC: `Nov 14 22:13`.
fn who_minute(secs: i64) -> String {
    jiff::Timestamp::from_second(secs)
        .unwrap()
        .strftime("%b %e %H:%M")
        .to_string()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn sessions_and_recent_logins_agree_with_who_and_last_on_the_same_files() {
    // This machine may have no utmp at all: a fixture root holds utmp/wtmp records, read
    // by fieldkit (--fs-root) and by `who FILE` / `last -f FILE` alike.
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("root");
    std::fs::create_dir_all(root.join("run")).unwrap();
    std::fs::create_dir_all(root.join("var/log")).unwrap();
    let me = std::process::id() as i32;
    let (login_a, login_b, boot) = (1_700_000_000i32, 1_700_003_600i32, 1_699_990_000i32);
    let mut utmp = utmp_record(2, 0, "~", "~~", "reboot", "6.1.0-test", boot);
    utmp.extend(utmp_record(
        7,
        me,
        "pts/7",
        "ts/7",
        "alice",
        "192.0.2.7",
        login_a,
    ));
    utmp.extend(utmp_record(
        7,
        999_999_999,
        "tty2",
        "tty2",
        "bob",
        "",
        login_b,
    ));
    utmp.extend(utmp_record(8, 4242, "pts/9", "ts/9", "", "", login_a));
    std::fs::write(root.join("run/utmp"), &utmp).unwrap();
    let mut wtmp = utmp_record(2, 0, "~", "~~", "reboot", "6.1.0-test", boot);
    wtmp.extend(utmp_record(
        7,
        4100,
        "pts/3",
        "ts/3",
        "carol",
        "198.51.100.9",
        login_a,
    ));
    wtmp.extend(utmp_record(8, 4100, "pts/3", "ts/3", "", "", login_b));
    wtmp.extend(utmp_record(
        7,
        me,
        "pts/7",
        "ts/7",
        "alice",
        "192.0.2.7",
        login_b,
    ));
    std::fs::write(root.join("var/log/wtmp"), &wtmp).unwrap();
    let root_s = root.to_str().unwrap();
    let c = capture(&["--fs-root", root_s]);
    let users = c.data("users");

    // who FILE: USER_PROCESS entries, user, line, login minute (UTC), host.
    let who = Command::new("who")
        .arg(root.join("run/utmp"))
        .env("TZ", "UTC")
        .env("LC_ALL", "C")
        .output()
        .expect("who is needed (apt-get install -y coreutils)");
    let who = String::from_utf8_lossy(&who.stdout).into_owned();
    let theirs: BTreeSet<(String, String, String)> = who
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f[0].to_string(), f[1].to_string(), f[2..5].join(" "))
        })
        .collect();
    let ours: BTreeSet<(String, String, String)> = users["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let t: jiff::Timestamp = r["time_utc"].as_str().unwrap().parse().unwrap();
            (
                r["user"].as_str().unwrap().to_string(),
                r["line"].as_str().unwrap().to_string(),
                who_minute(t.as_second()),
            )
        })
        .collect();
    assert_eq!(ours, theirs, "sessions vs `who FILE`:\n{who}");
    let alice = &users["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["user"] == "alice")
        .unwrap();
    assert_eq!(alice["host"], "192.0.2.7");
    assert!(who.contains("(192.0.2.7)"), "{who}");
    assert_eq!(alice["address"], "192.0.2.7");
    assert_eq!(alice["process_alive"], true, "the test process is alive");
    let bob = users["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["user"] == "bob")
        .unwrap();
    assert_eq!(bob["process_alive"], false);
    // The summary lists the live session, not the dead one.
    assert!(
        c.run
            .stdout
            .contains("alice on pts/7 from 192.0.2.7 since 2023-11-14T22:13:20Z"),
        "{}",
        c.run.stdout
    );
    assert!(!c.run.stdout.contains("bob on tty2"), "{}", c.run.stdout);

    // last -f FILE: every login and the boot, with user, line, host and login time.
    let last = Command::new("last")
        .args([
            "-f",
            root.join("var/log/wtmp").to_str().unwrap(),
            "-w",
            "--time-format",
            "iso",
        ])
        .env("TZ", "UTC")
        .output()
        .expect("last is needed (apt-get install -y util-linux)");
    let last = String::from_utf8_lossy(&last.stdout).into_owned();
    let theirs: BTreeSet<(String, String, String, String)> = last
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with("wtmp begins"))
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            if f[0] == "reboot" {
                // reboot   system boot  6.1.0-test  2023-11-14T19:26:40+00:00 …
                ("reboot".into(), "~".into(), f[3].into(), f[4].to_string())
            } else {
                (f[0].into(), f[1].into(), f[2].into(), f[3].to_string())
            }
        })
        .collect();
    let ours: BTreeSet<(String, String, String, String)> = users["recent_logins"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["kind"] == "USER_PROCESS" || r["kind"] == "BOOT_TIME")
        .map(|r| {
            let t: jiff::Timestamp = r["time_utc"].as_str().unwrap().parse().unwrap();
            (
                r["user"].as_str().unwrap().to_string(),
                r["line"].as_str().unwrap().to_string(),
                r["host"].as_str().unwrap().to_string(),
                t.strftime("%Y-%m-%dT%H:%M:%S+00:00").to_string(),
            )
        })
        .collect();
    assert_eq!(ours, theirs, "recent logins vs `last -f`:\n{last}");
    assert_eq!(
        users["recent_logins"].as_array().unwrap().len(),
        4,
        "the logout record too"
    );
}

#[test]
fn an_executable_in_a_user_writable_directory_is_flagged_and_one_in_a_root_directory_is_not() {
    // Outside every temporary directory, so that only the directory's owner and mode
    // decide: not under the checkout's target dir (a clone may itself lie under /tmp)
    // nor $TMPDIR, but in /var/lib, which no temp-dir rule names.
    let base = tempfile::Builder::new()
        .prefix("fieldkit-live-test-")
        .tempdir_in("/var/lib")
        .unwrap();
    let dirs = [
        ("nobody-owned", 0o755, 65534),
        ("world-writable", 0o777, 0),
        ("root-only", 0o755, 0),
    ];
    let mut children = Vec::new();
    let tag = unique();
    for (name, mode, uid) in dirs {
        use std::os::unix::fs::PermissionsExt;
        let d = base.path().join(name);
        std::fs::create_dir(&d).unwrap();
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(mode)).unwrap();
        std::os::unix::fs::chown(&d, Some(uid), Some(0)).unwrap();
        let exe = d.join("sleeper");
        std::fs::copy("/usr/bin/sleep", &exe).unwrap();
        let child = Kill(spawn_retrying(
            Command::new(&exe)
                .args(["600", &tag])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
        ));
        children.push((d, exe, child));
    }
    std::thread::sleep(Duration::from_millis(100));
    let c = capture(&[]);
    let procs = c.data("processes");
    for (dir, exe, child) in &children {
        // find(1) judges the directory by the same rule: not owned by root, world-writable,
        // or group-writable by a group other than root.
        let judged = tool_ok(
            "find",
            "findutils",
            &[
                dir.to_str().unwrap(),
                "-maxdepth",
                "0",
                "(",
                "!",
                "-uid",
                "0",
                "-o",
                "-perm",
                "-0002",
                "-o",
                "(",
                "-perm",
                "-0020",
                "!",
                "-gid",
                "0",
                ")",
                ")",
                "-print",
            ],
        );
        let writable = !judged.trim().is_empty();
        let p = process_by_argv(&procs, &[exe.to_str().unwrap(), "600", &tag]);
        assert_eq!(p["pid"], child.0.id());
        let reasons: Vec<&str> = p["suspicious"]
            .as_array()
            .map(|a| a.iter().map(|r| r.as_str().unwrap()).collect())
            .unwrap_or_default();
        assert_eq!(
            reasons.contains(&"exe_in_user_writable_dir"),
            writable,
            "{}: {reasons:?}",
            dir.display()
        );
        assert!(!reasons.contains(&"exe_in_temp_dir"), "{reasons:?}");
    }
    assert_eq!(
        children
            .iter()
            .filter(|(d, ..)| !d.ends_with("root-only"))
            .count(),
        2
    );
}

#[test]
fn clock_offset_from_a_reference_time_is_exact() {
    let usb = Usb::new();
    let out = usb.path().join("live.json");
    let before = jiff::Timestamp::now();
    let r = fieldkit(&[
        "live",
        "--reference-time",
        "2001-02-03T04:05:06.123456789+02:00",
        "--out",
        out.to_str().unwrap(),
        "--json",
    ]);
    let after = jiff::Timestamp::now();
    assert!(r.code == 0 || r.code == 4, "{}", r.stderr);
    let doc: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(doc["schema"], "fieldkit.live.capture");
    let clock = doc["captures"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["member"] == "live/clock.json")
        .unwrap()["record"]["data"]
        .clone();
    let host: jiff::Timestamp = clock["host_utc"].as_str().unwrap().parse().unwrap();
    assert!(
        before <= host && host <= after,
        "{host} not in [{before}, {after}]"
    );
    let reference: jiff::Timestamp = "2001-02-03T02:05:06.123456789Z".parse().unwrap();
    let expected = host.as_nanosecond() - reference.as_nanosecond();
    assert_eq!(
        clock["reference"]["host_minus_reference_ns"]
            .as_i64()
            .map(i128::from),
        Some(expected)
    );
    assert_eq!(
        clock["reference"]["given"],
        "2001-02-03T04:05:06.123456789+02:00"
    );
    assert_eq!(
        clock["reference"]["given_utc"],
        "2001-02-03T02:05:06.123456789Z"
    );
    // The same number reaches the --json summary.
    let printed: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(
        printed["summary"]["clock"]["reference"]["host_minus_reference_ns"],
        clock["reference"]["host_minus_reference_ns"]
    );
    // Every capture is in the file, in order of volatility, each with an action.
    let members: Vec<&str> = doc["captures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["member"].as_str().unwrap())
        .collect();
    assert_eq!(
        members,
        [
            "live/open_volumes.json",
            "live/clock.json",
            "live/network.json",
            "live/processes.json",
            "live/users.json",
            "live/mounts.json",
            "live/modules.json",
            "live/services.json",
            "live/encryption.json"
        ]
    );
    let actions: Vec<&str> = doc["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions[..2], ["live.open_volumes", "live.clock"]);
    assert_eq!(actions.len(), 9);
}

#[test]
fn bad_arguments_and_existing_outputs_are_refused() {
    let usb = Usb::new();
    let r = fieldkit(&["live", "--reference-time", "2026-11-23T14:05:00"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .contains("--reference-time \"2026-11-23T14:05:00\""),
        "{}",
        r.stderr
    );
    let existing = usb.path().join("x.json");
    std::fs::write(&existing, b"keep me").unwrap();
    let r = fieldkit(&["live", "--out", existing.to_str().unwrap()]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("already exists"), "{}", r.stderr);
    assert_eq!(std::fs::read(&existing).unwrap(), b"keep me");
    let r = fieldkit(&["live", "--timeout", "0"]);
    assert_eq!(r.code, 2);
}

/// Every entry under `dir`, relative, sorted (to show that a refused run created nothing).
fn tree(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            out.push(p.strip_prefix(dir).unwrap().display().to_string());
            if e.file_type().unwrap().is_dir() {
                todo.push(p);
            }
        }
    }
    out.sort();
    out
}

#[test]
fn live_out_is_refused_before_anything_is_created_on_the_system_disk_in_the_kit_or_over_a_file() {
    // On the examined system's own filesystem (a new directory right under /, which is
    // on the root filesystem whatever else is mounted): refused, and not even created.
    let on_root = PathBuf::from(format!("/fieldkit-refusal-test-{}", std::process::id()));
    let r = fieldkit(&["live", "--out", on_root.to_str().unwrap()]);
    let created = on_root.exists();
    let _ = std::fs::remove_dir_all(&on_root);
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("refusing to write inside the source /"),
        "{}",
        r.stderr
    );
    assert!(!created, "refused, yet {} was created", on_root.display());
    let file_on_root = on_root.with_extension("json");
    let r = fieldkit(&["live", "--out", file_on_root.to_str().unwrap()]);
    let created = file_on_root.exists();
    let _ = std::fs::remove_file(&file_on_root);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        !created,
        "refused, yet {} was created",
        file_on_root.display()
    );

    // Inside the folder holding fieldkit (a kit on its own stick): refused before the
    // directory is created.
    let kit = Usb::new();
    let exe = kit.path().join("fieldkit");
    std::fs::copy(env!("CARGO_BIN_EXE_fieldkit"), &exe).unwrap();
    let in_kit = kit.path().join("out");
    let mut cmd = Command::new(&exe);
    cmd.args(["live", "--out", in_kit.to_str().unwrap()]);
    let out = spawn_retrying(cmd.stdout(Stdio::piped()).stderr(Stdio::piped()))
        .wait_with_output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("inside the directory holding fieldkit"),
        "{stderr}"
    );
    assert_eq!(tree(kit.path()), ["fieldkit"], "refused, yet created");

    // A directory already holding one of the names written: nothing else is created.
    let usb = Usb::new();
    let dir = usb.path().join("out");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("SHA256SUMS"), b"keep").unwrap();
    let r = fieldkit(&["live", "--out", dir.to_str().unwrap()]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("SHA256SUMS: already exists"),
        "{}",
        r.stderr
    );
    assert_eq!(tree(usb.path()), ["out", "out/SHA256SUMS"]);
    assert_eq!(std::fs::read(dir.join("SHA256SUMS")).unwrap(), b"keep");
}

#[test]
fn live_out_lists_what_it_wrote_in_sha256sums_and_signs_it_with_the_given_key() {
    let usb = Usb::new();
    let key = usb.path().join("examiner");
    let k = fieldkit(&[
        "keygen",
        "--out",
        key.to_str().unwrap(),
        "--identity",
        "ann@lab.example",
    ]);
    assert_eq!(k.code, 0, "{}", k.stderr);
    let allowed = usb.path().join("allowed_signers");
    std::fs::write(&allowed, &k.stdout).unwrap();
    let dir = usb.path().join("out");
    let r = fieldkit(&[
        "live",
        "--out",
        dir.to_str().unwrap(),
        "--key",
        key.to_str().unwrap(),
    ]);
    assert!(r.code == 0 || r.code == 4, "{}", r.stderr);
    let check = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "set -e; cd {dir}; sha256sum --strict -c SHA256SUMS; \
             ssh-keygen -Y verify -f {allowed} -I ann@lab.example -n fieldkit-evidence \
             -s SHA256SUMS.sig < SHA256SUMS",
            dir = dir.display(),
            allowed = allowed.display()
        ))
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&check.stdout);
    assert!(
        check.status.success(),
        "{said}\n{}",
        String::from_utf8_lossy(&check.stderr)
    );
    // Every file written is listed, and nothing else is in the directory.
    let listed: BTreeSet<String> = std::fs::read_to_string(dir.join("SHA256SUMS"))
        .unwrap()
        .lines()
        .map(|l| l.split_once("  ").unwrap().1.to_string())
        .collect();
    let mut on_disk: BTreeSet<String> = tree(&dir)
        .into_iter()
        .filter(|p| p != "live" && p != "SHA256SUMS" && p != "SHA256SUMS.sig")
        .collect();
    assert_eq!(listed, on_disk);
    assert!(on_disk.remove("live/encryption.json") && on_disk.remove("actions.jsonl"));
    assert_eq!(said.matches(": OK").count(), listed.len());
    assert!(r.stdout.contains("Signed       "), "{}", r.stdout);

    // A single JSON file gets its own sha256sum line beside it.
    let file = usb.path().join("one.json");
    let r = fieldkit(&["live", "--out", file.to_str().unwrap()]);
    assert!(r.code == 0 || r.code == 4, "{}", r.stderr);
    let check = Command::new("sha256sum")
        .args(["--strict", "-c", "one.json.sha256"])
        .current_dir(usb.path())
        .output()
        .unwrap();
    assert!(
        check.status.success() && String::from_utf8_lossy(&check.stdout) == "one.json: OK\n",
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );
}

/// A loop device attached read-only to a file, detached on drop.
#[test]
fn a_capture_that_hangs_times_out_and_the_others_still_run() {
    let t = tempfile::tempdir().unwrap();
    let roots = synthetic_tree(t.path(), "LVM-x", "");
    // A FIFO where the mount table should be: opening it blocks forever.
    let mountinfo = t.path().join("proc/self/mountinfo");
    std::fs::remove_file(&mountinfo).unwrap();
    tool_ok("mkfifo", "coreutils", &[mountinfo.to_str().unwrap()]);
    let mut args: Vec<&str> = roots.iter().map(String::as_str).collect();
    args.extend(["--timeout", "1"]);
    let started = Instant::now();
    let usb = Usb::new();
    let dir = usb.path().join("out");
    let mut all = vec!["live", "--out", dir.to_str().unwrap()];
    all.extend(args);
    let r = fieldkit(&all);
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(
        r.code, 4,
        "incomplete run exits 4:\n{}\n{}",
        r.stdout, r.stderr
    );
    let actions: Vec<Value> = std::fs::read_to_string(dir.join("actions.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let outcome = |name: &str| {
        actions
            .iter()
            .find(|a| a["action"] == format!("live.{name}"))
            .unwrap()["outcome"]
            .clone()
    };
    assert_eq!(outcome("mount_table"), "timeout");
    assert_eq!(outcome("mounts"), "timeout");
    for ok in [
        "open_volumes",
        "clock",
        "network",
        "processes",
        "users",
        "modules",
        "services",
        "encryption",
    ] {
        assert_eq!(outcome(ok), "ok", "{ok}");
    }
    let mounts: Value =
        serde_json::from_slice(&std::fs::read(dir.join("live/mounts.json")).unwrap()).unwrap();
    assert_eq!(mounts["outcome"], "timeout");
    assert!(mounts["data"].is_null());
    assert!(mounts["error"].as_str().unwrap().contains("abandoned"));
    assert!(
        r.stdout.contains("Captures     NOT COMPLETE"),
        "{}",
        r.stdout
    );
}

#[test]
fn a_process_whose_descriptor_scan_hangs_loses_only_its_own_socket_owners() {
    let t = tempfile::tempdir().unwrap();
    let roots = synthetic_tree(t.path(), "LVM-x", "");
    synthetic_processes(t.path(), 100, 200);
    let mut args: Vec<&str> = roots.iter().map(String::as_str).collect();
    args.extend(["--timeout", "10"]);
    let started = Instant::now();
    let c = capture(&args);
    assert!(started.elapsed() < Duration::from_secs(60));
    // The capture as a whole completed: the stuck process did not take the socket data
    // of every other process with it.
    let net = c.data("network");
    let listener = net["sockets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["inode"] == 4242)
        .unwrap_or_else(|| panic!("socket 4242 missing: {net}"));
    assert_eq!(listener["local_address"], "127.0.0.1");
    assert_eq!(listener["local_port"], 8080);
    assert_eq!(listener["state"], "LISTEN");
    assert_eq!(
        listener["processes"],
        serde_json::json!([{"pid": 200, "name": "sshd"}])
    );
    let errors = net["descriptor_errors"]
        .as_array()
        .expect("descriptor_errors");
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0]["pid"], 100);
    let error = errors[0]["error"].as_str().unwrap();
    assert!(
        error.contains("/100/fd") && error.contains("did not finish in time"),
        "{error}"
    );
    assert!(
        c.run.stdout.contains("127.0.0.1:8080  200/sshd"),
        "{}",
        c.run.stdout
    );
}

#[test]
fn interfaces_and_neighbours_agree_with_ip() {
    let ip_addr: Value = serde_json::from_str(&tool_ok("ip", "iproute2", &["-j", "addr"])).unwrap();
    let c = capture(&[]);
    let ip_neigh: Value = serde_json::from_str(&tool_ok(
        "ip",
        "iproute2",
        &["-j", "neigh", "show", "nud", "all"],
    ))
    .unwrap();
    let net = c.data("network");

    let theirs: BTreeSet<(String, String, u64)> = ip_addr
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|i| {
            let name = i["ifname"].as_str().unwrap().to_string();
            i["addr_info"].as_array().unwrap().iter().map(move |a| {
                (
                    name.clone(),
                    a["local"].as_str().unwrap().to_string(),
                    a["prefixlen"].as_u64().unwrap(),
                )
            })
        })
        .collect();
    let ours: BTreeSet<(String, String, u64)> = net["interfaces"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|i| {
            let name = i["name"].as_str().unwrap().to_string();
            i["addresses"].as_array().unwrap().iter().map(move |a| {
                (
                    name.clone(),
                    a["address"].as_str().unwrap().to_string(),
                    a["prefix_len"].as_u64().unwrap(),
                )
            })
        })
        .collect();
    assert_eq!(ours, theirs, "addresses agree with `ip -j addr`");
    for i in ip_addr.as_array().unwrap() {
        let ours = net["interfaces"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["name"] == i["ifname"])
            .unwrap();
        assert_eq!(ours["mac"], i["address"], "MAC of {}", i["ifname"]);
        assert_eq!(ours["index"], i["ifindex"]);
    }

    let theirs: BTreeSet<(String, String, Option<String>)> = ip_neigh
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["dst"].as_str().unwrap().to_string(),
                n["dev"].as_str().unwrap().to_string(),
                n["lladdr"].as_str().map(str::to_string),
            )
        })
        .collect();
    let ours: BTreeSet<(String, String, Option<String>)> = net["neighbours"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["address"].as_str().unwrap().to_string(),
                n["interface"].as_str().unwrap().to_string(),
                n["mac"].as_str().map(str::to_string),
            )
        })
        .collect();
    assert_eq!(
        ours, theirs,
        "neighbours agree with `ip neigh show nud all`"
    );
}

#[test]
fn files_on_a_network_filesystem_are_never_read() {
    let t = tempfile::tempdir().unwrap();
    let roots = synthetic_tree(
        t.path(),
        "LVM-x",
        "70 1 0:70 / /etc rw - nfs4 server:/etc rw,vers=4.2\n",
    );
    let etc = t.path().join("root/etc");
    std::fs::create_dir_all(etc.join("cron.d")).unwrap();
    std::fs::write(etc.join("resolv.conf"), "nameserver 10.9.9.9\n").unwrap();
    std::fs::write(etc.join("crontab"), "* * * * * root /bin/true\n").unwrap();
    let args: Vec<&str> = roots.iter().map(String::as_str).collect();
    let c = capture(&args);
    let net = c.data("network");
    assert!(net["dns"]["files"].as_array().unwrap().is_empty(), "{net}");
    assert!(net["dns"]["nameservers"].as_array().unwrap().is_empty());
    let notes: Vec<&str> = net["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect();
    assert!(
        notes.contains(&"/etc/resolv.conf: on a network filesystem (nfs4 /etc): not read"),
        "{notes:?}"
    );
    let services = c.data("services");
    assert!(
        services["cron_files"].as_array().unwrap().is_empty(),
        "{services}"
    );
    assert!(
        services["notes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n == "/etc/crontab: on a network filesystem (nfs4 /etc): not read")
    );
    let mounts = c.data("mounts");
    assert!(
        mounts["mounts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["mount_point"] == "/etc" && m["network"] == true)
    );
}

#[test]
fn a_zombie_process_is_listed_without_hanging() {
    // Not waited for: once it exits it stays a zombie until `reap` runs.
    let zombie = Command::new("/usr/bin/true").spawn().expect("start true");
    let pid = zombie.id();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .unwrap()
        .contains(") Z ")
    {
        assert!(Instant::now() < deadline, "child did not become a zombie");
        std::thread::sleep(Duration::from_millis(20));
    }
    let started = Instant::now();
    let c = capture(&[]);
    assert!(started.elapsed() < Duration::from_secs(30));
    let procs = c.data("processes");
    let z = procs["processes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["pid"] == pid)
        .expect("the zombie is listed");
    assert_eq!(z["state"], "Z");
    assert_eq!(z["ppid"], std::process::id());
    assert!(z.get("exe_sha256").is_none());
    assert!(z["exe_error"].as_str().is_some(), "{z}");
    let mut reap = Kill(zombie);
    let _ = reap.0.wait();
}

#[test]
fn without_root_the_capture_completes_and_records_what_it_could_not_read() {
    let usb = Usb::new();
    let dir = usb.path().join("out");
    let out = Command::new("setpriv")
        .args(["--reuid", "65534", "--regid", "65534", "--clear-groups"])
        .arg(env!("CARGO_BIN_EXE_fieldkit"))
        .args(["live", "--out", dir.to_str().unwrap()])
        .output()
        .expect("setpriv is needed (apt-get install -y util-linux)");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("not running as root"), "{stderr}");
    let c = Captured {
        run: Run {
            code: 0,
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: stderr.into_owned(),
            stderr_lines: Vec::new(),
        },
        dir,
        _usb: Some(usb),
    };
    let procs = c.data("processes");
    // Process 1 belongs to root: its image cannot be read, and the record says why.
    let init = procs["processes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["pid"] == 1)
        .expect("pid 1 listed");
    assert!(init.get("exe_sha256").is_none());
    assert!(
        init["exe_error"]
            .as_str()
            .unwrap()
            .contains("Permission denied"),
        "{init}"
    );

    // No block device can be opened without root: the encryption status is NOT
    // DETERMINED, never "no open encrypted volume found" (sysfs still shows that no
    // dm-crypt mapping is open, but locked or unknown containers cannot be seen).
    let enc = c.data("encryption");
    assert!(
        enc["devices"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["bytes_read"] == 0 && d["error"].as_str().is_some()),
        "every device header read failed: {enc}"
    );
    let why = enc["not_determined"].as_str().expect("not_determined");
    assert!(
        why.contains(" be read") && why.ends_with("; run fieldkit as root to read device headers"),
        "{why}"
    );
    let verdict = c
        .run
        .stdout
        .lines()
        .find(|l| l.starts_with("Encryption   "))
        .unwrap_or_else(|| panic!("no encryption line:\n{}", c.run.stdout));
    assert!(
        verdict
            == format!(
                "Encryption   encryption status NOT DETERMINED ({why}): assume a volume may be open"
            ),
        "{verdict}"
    );
    assert!(
        !c.run.stdout.contains("no open encrypted volume found"),
        "{}",
        c.run.stdout
    );
    let f = c
        .findings()
        .into_iter()
        .find(|f| f["kind"] == "encryption.not_determined")
        .expect("a not_determined finding");
    assert_eq!(f["severity"], "high");
    let action = c
        .actions()
        .into_iter()
        .find(|a| a["action"] == "live.encryption")
        .unwrap();
    assert!(
        action["detail"]
            .as_str()
            .unwrap()
            .starts_with("encryption status NOT DETERMINED"),
        "{action}"
    );
}
