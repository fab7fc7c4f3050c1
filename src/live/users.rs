//! Users and sessions (`live/users.json`): who is logged on now (utmp, systemd-logind),
//! recent logins and reboots (the tail of wtmp) and recent failed logins (btmp).
//!
//! Owns parsing the utmp record format. The layout is glibc's `struct utmp` on 64-bit
//! Linux (x86_64, aarch64), 384 bytes, little-endian, written by login, sshd and systemd:
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 2 | `ut_type` (i16; 2 bytes padding follow) |
//! | 4 | 4 | `ut_pid` (i32) |
//! | 8 | 32 | `ut_line` (tty, NUL-padded) |
//! | 40 | 4 | `ut_id` |
//! | 44 | 32 | `ut_user` |
//! | 76 | 256 | `ut_host` |
//! | 332 | 4 | `ut_exit` (`e_termination` i16, `e_exit` i16) |
//! | 336 | 4 | `ut_session` (i32) |
//! | 340 | 8 | `ut_tv` (`tv_sec` i32, `tv_usec` i32) |
//! | 348 | 16 | `ut_addr_v6` (4 × u32, network order; IPv4 in the first word only) |
//! | 364 | 20 | reserved |
//!
//! It must never write to these files (login accounting is evidence), never read more
//! than a bounded tail of wtmp, and never panic on a torn or garbage record.

#![cfg_attr(not(target_os = "linux"), allow(dead_code))]

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{CaptureKind, Captured, Ctx};

pub const KIND: CaptureKind = CaptureKind {
    name: "users",
    member: "live/users.json",
    schema: "fieldkit.live.users",
    reads: "/run/utmp, /var/log/wtmp, /var/log/btmp (tails), /run/systemd/sessions/*",
};

/// Size of one utmp record.
pub const UTMP_SIZE: usize = 384;
/// How many of the newest wtmp / btmp records are kept.
pub const TAIL_RECORDS: usize = 500;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UsersState {
    /// USER_PROCESS entries of utmp: the sessions open now.
    pub sessions: Vec<UtmpRecord>,
    #[serde(default)]
    pub logind_sessions: Vec<LogindSession>,
    /// The newest wtmp records (logins, logouts, boots), oldest first.
    pub recent_logins: Vec<UtmpRecord>,
    /// The newest btmp records (failed logins), oldest first.
    #[serde(default)]
    pub failed_logins: Vec<UtmpRecord>,
    /// The files read and what was found in them.
    #[serde(default)]
    pub sources: Vec<AccountingFile>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UtmpRecord {
    /// `USER_PROCESS`, `DEAD_PROCESS`, `BOOT_TIME`, `LOGIN_PROCESS`, … (`TYPE_n` if unknown).
    pub kind: String,
    pub pid: i32,
    pub line: String,
    pub id: String,
    pub user: String,
    pub host: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    pub session: i32,
    pub exit_termination: i16,
    pub exit_status: i16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_utc: Option<String>,
    /// For a session: whether its process still exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub process_alive: Option<bool>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LogindSession {
    pub id: String,
    /// The session file's KEY=VALUE pairs as written by systemd-logind (USER, UID, TTY,
    /// REMOTE_HOST, SERVICE, LEADER, STATE, …).
    pub fields: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AccountingFile {
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// Whole records in the file.
    #[serde(default)]
    pub records_in_file: u64,
    /// Records parsed (the tail for wtmp and btmp).
    #[serde(default)]
    pub records_read: u64,
    /// Bytes after the last whole record (a torn write, or not a utmp file).
    #[serde(default)]
    pub trailing_bytes: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Captured for UsersState {
    fn detail(&self) -> String {
        format!(
            "{} utmp sessions, {} logind sessions, {} recent wtmp records, {} failed logins",
            self.sessions.len(),
            self.logind_sessions.len(),
            self.recent_logins.len(),
            self.failed_logins.len()
        )
    }
}

pub fn utmp_type_name(t: i16) -> String {
    match t {
        0 => "EMPTY",
        1 => "RUN_LVL",
        2 => "BOOT_TIME",
        3 => "NEW_TIME",
        4 => "OLD_TIME",
        5 => "INIT_PROCESS",
        6 => "LOGIN_PROCESS",
        7 => "USER_PROCESS",
        8 => "DEAD_PROCESS",
        9 => "ACCOUNTING",
        other => return format!("TYPE_{other}"),
    }
    .to_string()
}

fn c_string(b: &[u8]) -> String {
    let end = b.iter().position(|c| *c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

/// Parse one 384-byte record; `None` if the slice is shorter.
pub fn parse_utmp_record(r: &[u8]) -> Option<UtmpRecord> {
    let r = r.get(..UTMP_SIZE)?;
    let i16_at = |o: usize| i16::from_le_bytes([r[o], r[o + 1]]);
    let i32_at = |o: usize| i32::from_le_bytes([r[o], r[o + 1], r[o + 2], r[o + 3]]);
    let kind = i16_at(0);
    let secs = i32_at(340);
    let usecs = i32_at(344);
    let mut addr = [0u8; 16];
    addr.copy_from_slice(&r[348..364]);
    let address = if addr == [0u8; 16] {
        None
    } else if addr[4..] == [0u8; 12] {
        Some(std::net::Ipv4Addr::new(addr[0], addr[1], addr[2], addr[3]).to_string())
    } else {
        Some(std::net::Ipv6Addr::from(addr).to_string())
    };
    Some(UtmpRecord {
        kind: utmp_type_name(kind),
        pid: i32_at(4),
        line: c_string(&r[8..40]),
        id: c_string(&r[40..44]),
        user: c_string(&r[44..76]),
        host: c_string(&r[76..332]),
        address,
        session: i32_at(336),
        exit_termination: i16_at(332),
        exit_status: i16_at(334),
        time_utc: (secs != 0 || usecs != 0)
            .then(|| crate::timefmt::unix_utc(i64::from(secs), i64::from(usecs) * 1000))
            .flatten(),
        process_alive: None,
    })
}

/// Parse consecutive records; the second value is the count of trailing bytes that do
/// not make a whole record.
pub fn parse_utmp(bytes: &[u8]) -> (Vec<UtmpRecord>, usize) {
    let records = bytes
        .chunks_exact(UTMP_SIZE)
        .filter_map(parse_utmp_record)
        .collect();
    (records, bytes.len() % UTMP_SIZE)
}

pub fn parse_logind_session(id: &str, text: &str) -> LogindSession {
    let fields = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    LogindSession {
        id: id.to_string(),
        fields,
    }
}

#[cfg(target_os = "linux")]
fn read_tail(
    roots: &super::Roots,
    rel: &str,
    tail: Option<usize>,
) -> Option<(AccountingFile, Vec<UtmpRecord>)> {
    use std::io::{Read, Seek, SeekFrom};
    use std::os::unix::fs::MetadataExt;

    use super::sys;

    let path = roots.fs.join(rel);
    let mut info = AccountingFile {
        path: format!("/{rel}"),
        ..AccountingFile::default()
    };
    let mut file = match sys::open_evidence(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => {
            info.error = Some(e.to_string());
            return Some((info, Vec::new()));
        }
    };
    let result = (|| -> std::io::Result<Vec<UtmpRecord>> {
        let meta = file.metadata()?;
        if !meta.file_type().is_file() {
            return Err(std::io::Error::other("not a regular file"));
        }
        let size = meta.size();
        info.size = Some(size);
        let whole = size / UTMP_SIZE as u64;
        info.records_in_file = whole;
        info.trailing_bytes = size % UTMP_SIZE as u64;
        let first = match tail {
            Some(n) => whole.saturating_sub(n as u64),
            None => 0,
        };
        let wanted = (whole - first).min(1 << 16) as usize;
        file.seek(SeekFrom::Start(first * UTMP_SIZE as u64))?;
        let mut bytes = Vec::new();
        (&mut file)
            .take((wanted * UTMP_SIZE) as u64)
            .read_to_end(&mut bytes)?;
        let (records, _) = parse_utmp(&bytes);
        info.records_read = records.len() as u64;
        Ok(records)
    })();
    match result {
        Ok(records) => Some((info, records)),
        Err(e) => {
            info.error = Some(e.to_string());
            Some((info, Vec::new()))
        }
    }
}

#[cfg(target_os = "linux")]
pub fn capture(ctx: &Ctx) -> Result<UsersState, String> {
    use super::sys;
    let mut state = UsersState::default();
    let utmp_paths = ["run/utmp", "var/run/utmp"];
    let mut utmp_found = false;
    let skip = |rel: &str, notes: &mut Vec<String>| !ctx.may_read(rel, notes);
    for rel in utmp_paths {
        // /var/run is normally a symlink to /run: read the file once.
        if utmp_found {
            break;
        }
        if skip(rel, &mut state.notes) {
            continue;
        }
        if let Some((info, records)) = read_tail(&ctx.roots, rel, None) {
            utmp_found = info.error.is_none();
            for mut r in records.into_iter().filter(|r| r.kind == "USER_PROCESS") {
                r.process_alive = Some(ctx.roots.proc.join(r.pid.to_string()).exists());
                state.sessions.push(r);
            }
            state.sources.push(info);
        }
    }
    if !utmp_found {
        state.notes.push(
            "no utmp file: sessions come from systemd-logind only (utmp is gone on systems \
             using wtmpdb/logind alone)"
                .to_string(),
        );
    }
    for (rel, failed) in [("var/log/wtmp", false), ("var/log/btmp", true)] {
        if skip(rel, &mut state.notes) {
            continue;
        }
        if let Some((info, records)) = read_tail(&ctx.roots, rel, Some(TAIL_RECORDS)) {
            if failed {
                state.failed_logins = records;
            } else {
                state.recent_logins = records;
            }
            state.sources.push(info);
        }
    }
    let sessions_dir = ctx.roots.fs.join("run/systemd/sessions");
    let sessions = if skip("run/systemd/sessions", &mut state.notes) {
        Ok(Vec::new())
    } else {
        sys::dir_names(&sessions_dir)
    };
    match sessions {
        Ok(names) => {
            for name in names {
                let name = name.to_string_lossy().into_owned();
                // NAME.ref are FIFOs logind holds open: never opened.
                if name.ends_with(".ref") {
                    continue;
                }
                match sys::read_small_file(&sessions_dir.join(&name), 64 * 1024) {
                    Ok(f) => state.logind_sessions.push(parse_logind_session(
                        &name,
                        &String::from_utf8_lossy(&f.bytes),
                    )),
                    Err(e) => state
                        .notes
                        .push(format!("{}: {e}", sessions_dir.join(&name).display())),
                }
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => state.notes.push(format!("{}: {e}", sessions_dir.display())),
    }
    if !skip("var/lib/wtmpdb", &mut state.notes)
        && ctx.roots.fs.join("var/lib/wtmpdb/wtmp.db").exists()
    {
        state.notes.push(
            "/var/lib/wtmpdb/wtmp.db (SQLite login database) exists: not parsed yet; collect \
             the file"
                .to_string(),
        );
    }
    Ok(state)
}

#[cfg(not(target_os = "linux"))]
pub fn capture(_ctx: &Ctx) -> Result<UsersState, String> {
    let mut state = UsersState::default();
    match sysinfo::Users::new_with_refreshed_list() {
        Ok(users) => state.notes.push(format!(
            "local accounts: {}",
            users
                .iter()
                .map(|u| u.name().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )),
        Err(e) => state.notes.push(format!("cannot list accounts: {e}")),
    }
    state.notes.push(
        "logged-on sessions and recent logins: not yet on this OS (planned: \
         WTSEnumerateSessions and the Security event log on Windows, utmpx on macOS)"
            .to_string(),
    );
    Ok(state)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(
        kind: i16,
        pid: i32,
        line: &str,
        user: &str,
        host: &str,
        secs: i32,
        addr: [u8; 16],
    ) -> Vec<u8> {
        let mut r = vec![0u8; UTMP_SIZE];
        r[0..2].copy_from_slice(&kind.to_le_bytes());
        r[4..8].copy_from_slice(&pid.to_le_bytes());
        r[8..8 + line.len()].copy_from_slice(line.as_bytes());
        r[40..42].copy_from_slice(b"ts");
        r[44..44 + user.len()].copy_from_slice(user.as_bytes());
        r[76..76 + host.len()].copy_from_slice(host.as_bytes());
        r[336..340].copy_from_slice(&7i32.to_le_bytes());
        r[340..344].copy_from_slice(&secs.to_le_bytes());
        r[344..348].copy_from_slice(&250_000i32.to_le_bytes());
        r[348..364].copy_from_slice(&addr);
        r
    }

    #[test]
    fn utmp_records_decode_field_by_field() {
        let mut v4 = [0u8; 16];
        v4[..4].copy_from_slice(&[192, 0, 2, 7]);
        let mut bytes = record(7, 1234, "pts/0", "alice", "192.0.2.7", 1_700_000_000, v4);
        bytes.extend(record(2, 0, "~", "reboot", "6.1.0", 1_699_999_000, [0; 16]));
        bytes.extend([1, 2, 3]);
        let (records, trailing) = parse_utmp(&bytes);
        assert_eq!(trailing, 3);
        assert_eq!(records.len(), 2);
        let r = &records[0];
        assert_eq!(
            (r.kind.as_str(), r.pid, r.line.as_str()),
            ("USER_PROCESS", 1234, "pts/0")
        );
        assert_eq!(
            (r.user.as_str(), r.host.as_str(), r.id.as_str()),
            ("alice", "192.0.2.7", "ts")
        );
        assert_eq!(r.address.as_deref(), Some("192.0.2.7"));
        assert_eq!(r.session, 7);
        assert_eq!(r.time_utc.as_deref(), Some("2023-11-14T22:13:20.25Z"));
        assert_eq!(records[1].kind, "BOOT_TIME");
        assert_eq!(records[1].address, None);
    }

    #[test]
    fn garbage_records_never_panic() {
        let mut junk = vec![0xffu8; UTMP_SIZE * 2 + 17];
        for (i, b) in junk.iter_mut().enumerate() {
            *b = (i * 37 % 251) as u8;
        }
        let (records, trailing) = parse_utmp(&junk);
        assert_eq!(records.len(), 2);
        assert_eq!(trailing, 17);
        assert!(parse_utmp_record(&junk[..100]).is_none());
    }

    #[test]
    fn logind_session_files_are_key_value() {
        let s = parse_logind_session(
            "3",
            "# comment\nUID=1000\nUSER=alice\nREMOTE_HOST=192.0.2.9\n",
        );
        assert_eq!(s.fields.get("USER").map(String::as_str), Some("alice"));
        assert_eq!(s.fields.len(), 3);
    }
}
