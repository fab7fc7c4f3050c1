//! The live-state summary a responder reads on screen and `fieldkit report` prints: clock
//! offset, listening ports, established connections, suspicious processes, sessions and,
//! first of all, the encryption status.
//!
//! Owns deriving that summary from the `live/*.json` members exactly as they are stored
//! in a bundle, so that `fieldkit live` and a report months later say the same thing. It
//! must never read anything but those bytes, and never fail on a damaged member: what
//! cannot be read is said in the summary.

use serde::{Deserialize, Serialize};

use super::clock::{ClockState, ReferenceOffset};
use super::encryption::{EncryptionState, OPEN_CHECK_KIND, OpenCheck, OpenVolume};
use super::modules::ModulesState;
use super::mounts::MountsState;
use super::network::NetworkState;
use super::processes::ProcessList;
use super::services::ServicesState;
use super::users::UsersState;
use super::{CAPTURES, Envelope};
use crate::action::Outcome;

/// How many sockets or processes of one kind the text lists before "… and N more".
const LIST_LIMIT: usize = 40;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LiveSummary {
    pub captures: Vec<CaptureStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock: Option<ClockSummary>,
    pub encryption: EncryptionSummary,
    pub listening: Vec<SocketLine>,
    pub established: Vec<SocketLine>,
    pub suspicious_processes: Vec<SuspiciousProcess>,
    pub sessions: Vec<String>,
    pub counts: Counts,
    /// Members that were missing or could not be read.
    #[serde(default)]
    pub problems: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CaptureStatus {
    pub name: String,
    pub member: String,
    pub outcome: Option<Outcome>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub start_utc: String,
    pub end_utc: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ClockSummary {
    pub host_utc: String,
    pub host_local: String,
    pub time_zone: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boot_time_utc: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<ReferenceOffset>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ntp_synchronized: Option<bool>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EncryptionSummary {
    /// False when the encryption capture failed or is missing: then nothing is known.
    pub checked: bool,
    pub open: bool,
    pub open_volumes: Vec<OpenVolume>,
    pub locked: Vec<String>,
    pub candidates: Vec<String>,
    pub status_unknown: Vec<String>,
    /// Why nothing could be examined (no privilege, no device): "none found" would be a
    /// guess.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_determined: Option<String>,
}

impl EncryptionSummary {
    /// The one-line verdict, as printed first in the summary and by `collect`.
    pub fn verdict(&self) -> String {
        if self.open {
            format!(
                "OPEN ENCRYPTED VOLUME — DO NOT POWER OFF — image it live: {}",
                self.open_volumes
                    .iter()
                    .map(|v| match &v.name {
                        Some(n) => format!("{} {} ({n})", v.scheme, v.device),
                        None => format!("{} {}", v.scheme, v.device),
                    })
                    .collect::<Vec<_>>()
                    .join("; ")
            )
        } else if !self.checked {
            "encryption status NOT CHECKED (the encryption capture failed or is missing): \
             assume a volume may be open"
                .to_string()
        } else if let Some(why) = &self.not_determined {
            format!("encryption status NOT DETERMINED ({why}): assume a volume may be open")
        } else {
            "no open encrypted volume found".to_string()
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SocketLine {
    pub protocol: String,
    pub local: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote: Option<String>,
    pub state: String,
    /// `pid/name` of every owner.
    pub processes: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SuspiciousProcess {
    pub pid: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ppid: Option<u32>,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exe: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exe_sha256: Option<String>,
    pub reasons: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Counts {
    pub processes: usize,
    pub sockets: usize,
    pub listening: usize,
    pub established: usize,
    pub interfaces: usize,
    pub sessions: usize,
    pub mounts: usize,
    pub block_devices: usize,
    pub modules: usize,
    pub enabled_units: usize,
    pub cron_entries: usize,
}

fn endpoint(addr: &str, port: u16) -> String {
    if addr.contains(':') {
        format!("[{addr}]:{port}")
    } else {
        format!("{addr}:{port}")
    }
}

fn decode<T: serde::de::DeserializeOwned>(
    bytes: &[u8],
    member: &str,
    problems: &mut Vec<String>,
) -> Option<Envelope<T>> {
    match serde_json::from_slice::<Envelope<T>>(bytes) {
        Ok(e) => Some(e),
        Err(err) => {
            problems.push(format!("{member}: cannot read: {err}"));
            None
        }
    }
}

impl LiveSummary {
    /// Build the summary from `live/*.json` members (name, bytes) as stored in a bundle.
    pub fn from_artifacts(artifacts: &[(String, Vec<u8>)]) -> LiveSummary {
        let mut s = LiveSummary::default();
        let find = |member: &str| {
            artifacts
                .iter()
                .find(|(name, _)| name == member)
                .map(|(_, b)| b.as_slice())
        };
        for kind in CAPTURES {
            let Some(bytes) = find(kind.member) else {
                s.problems.push(format!("{}: missing", kind.member));
                s.captures.push(CaptureStatus {
                    name: kind.name.to_string(),
                    member: kind.member.to_string(),
                    ..CaptureStatus::default()
                });
                continue;
            };
            let status = match serde_json::from_slice::<Envelope<serde_json::Value>>(bytes) {
                Ok(e) => CaptureStatus {
                    name: kind.name.to_string(),
                    member: kind.member.to_string(),
                    outcome: Some(e.outcome),
                    error: e.error,
                    start_utc: e.start_utc,
                    end_utc: e.end_utc,
                },
                Err(err) => {
                    s.problems
                        .push(format!("{}: not a live-state record: {err}", kind.member));
                    CaptureStatus {
                        name: kind.name.to_string(),
                        member: kind.member.to_string(),
                        ..CaptureStatus::default()
                    }
                }
            };
            s.captures.push(status);
        }
        let problems = &mut s.problems;
        if let Some(e) = find("live/clock.json")
            .and_then(|b| decode::<ClockState>(b, "live/clock.json", problems))
            && let Some(c) = e.data
        {
            s.clock = Some(ClockSummary {
                host_utc: c.host_utc,
                host_local: c.host_local,
                time_zone: c.time_zone,
                boot_time_utc: c.boot_time_utc,
                reference: c.reference,
                ntp_synchronized: c.ntp.map(|n| n.synchronized),
            });
        }
        if let Some(e) = find("live/network.json")
            .and_then(|b| decode::<NetworkState>(b, "live/network.json", problems))
            && let Some(n) = e.data
        {
            s.counts.sockets = n.sockets.len();
            s.counts.interfaces = n.interfaces.len();
            for sock in &n.sockets {
                let line = SocketLine {
                    protocol: format!(
                        "{}{}",
                        sock.protocol,
                        if sock.family == "ipv6" { "6" } else { "" }
                    ),
                    local: endpoint(&sock.local_address, sock.local_port),
                    remote: sock
                        .is_established()
                        .then(|| endpoint(&sock.remote_address, sock.remote_port)),
                    state: sock.state.clone(),
                    processes: sock
                        .processes
                        .iter()
                        .map(|p| format!("{}/{}", p.pid, p.name))
                        .collect(),
                };
                if sock.is_listening() {
                    s.listening.push(line);
                } else if sock.is_established() {
                    s.established.push(line);
                }
            }
            s.counts.listening = s.listening.len();
            s.counts.established = s.established.len();
        }
        if let Some(e) = find("live/processes.json")
            .and_then(|b| decode::<ProcessList>(b, "live/processes.json", problems))
            && let Some(p) = e.data
        {
            s.counts.processes = p.processes.len();
            s.suspicious_processes = p
                .processes
                .into_iter()
                .filter(|p| !p.suspicious.is_empty())
                .map(|p| SuspiciousProcess {
                    pid: p.pid,
                    ppid: p.ppid,
                    name: p.name,
                    user: p.user,
                    exe: p.exe,
                    exe_sha256: p.exe_sha256,
                    reasons: p.suspicious,
                })
                .collect();
        }
        if let Some(e) = find("live/users.json")
            .and_then(|b| decode::<UsersState>(b, "live/users.json", problems))
            && let Some(u) = e.data
        {
            for r in u.sessions.iter().filter(|r| r.process_alive != Some(false)) {
                let mut line = format!("{} on {}", r.user, r.line);
                if !r.host.is_empty() {
                    line.push_str(&format!(" from {}", r.host));
                }
                if let Some(t) = &r.time_utc {
                    line.push_str(&format!(" since {t}"));
                }
                s.sessions.push(line);
            }
            for l in &u.logind_sessions {
                let get = |k: &str| l.fields.get(k).cloned().unwrap_or_default();
                let mut line = format!("{} (logind session {}", get("USER"), l.id);
                for (key, label) in [("TTY", "tty"), ("REMOTE_HOST", "from"), ("SERVICE", "via")] {
                    let v = get(key);
                    if !v.is_empty() {
                        line.push_str(&format!(", {label} {v}"));
                    }
                }
                line.push(')');
                s.sessions.push(line);
            }
            s.counts.sessions = s.sessions.len();
        }
        if let Some(e) = find("live/mounts.json")
            .and_then(|b| decode::<MountsState>(b, "live/mounts.json", problems))
            && let Some(m) = e.data
        {
            s.counts.mounts = m.mounts.len();
            s.counts.block_devices = m.block_devices.len();
        }
        if let Some(e) = find("live/modules.json")
            .and_then(|b| decode::<ModulesState>(b, "live/modules.json", problems))
            && let Some(m) = e.data
        {
            s.counts.modules = m.modules.len();
        }
        if let Some(e) = find("live/services.json")
            .and_then(|b| decode::<ServicesState>(b, "live/services.json", problems))
            && let Some(v) = e.data
        {
            s.counts.enabled_units = v.systemd_enabled.len();
            s.counts.cron_entries = v.cron_entries.len();
        }
        if let Some(e) = find("live/encryption.json")
            .and_then(|b| decode::<EncryptionState>(b, "live/encryption.json", problems))
            && let Some(enc) = e.data
        {
            s.encryption = EncryptionSummary {
                checked: true,
                open: !enc.open_volumes.is_empty(),
                candidates: enc
                    .devices
                    .iter()
                    .filter(|d| d.signatures.iter().any(|s| s.coverage == "candidate"))
                    .map(|d| match &d.backing_file {
                        Some(b) => format!("{} (backing file {b})", d.path),
                        None => d.path.clone(),
                    })
                    .collect(),
                open_volumes: enc.open_volumes,
                locked: enc.locked_containers,
                status_unknown: enc.status_unknown,
                not_determined: enc.not_determined,
            };
        }
        // The quick check at the start: a volume it saw open stays in the summary even if
        // the full capture failed or no longer sees it.
        if let Some(e) = find(OPEN_CHECK_KIND.member)
            .and_then(|b| decode::<OpenCheck>(b, OPEN_CHECK_KIND.member, &mut s.problems))
            && let Some(early) = e.data
        {
            for v in early.open_volumes {
                if !s
                    .encryption
                    .open_volumes
                    .iter()
                    .any(|o| o.device == v.device && o.scheme == v.scheme)
                {
                    s.encryption.open_volumes.push(v);
                }
            }
            s.encryption.open = !s.encryption.open_volumes.is_empty();
        }
        s
    }

    /// The summary as text for a terminal or a report.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let mut line = |s: String| {
            out.push_str(&s);
            out.push('\n');
        };
        line("== Live state".to_string());
        let enc = &self.encryption;
        if enc.open {
            line(
                "Encryption   OPEN ENCRYPTED VOLUME — DO NOT POWER OFF — image it live".to_string(),
            );
            for v in &enc.open_volumes {
                let mut l = format!("             * {} {}", v.scheme, v.device);
                if let Some(n) = &v.name {
                    l.push_str(&format!(" ({n})"));
                }
                if !v.mount_points.is_empty() {
                    l.push_str(&format!(" mounted at {}", v.mount_points.join(", ")));
                }
                line(l);
            }
            if !enc.checked {
                line(
                    "             (from the quick check: the full encryption capture failed or \
                     is missing)"
                        .to_string(),
                );
            } else if let Some(why) = &enc.not_determined {
                line(format!(
                    "             other devices: encryption status NOT DETERMINED ({why})"
                ));
            }
        } else {
            line(format!("Encryption   {}", enc.verdict()));
        }
        for l in &enc.locked {
            line(format!("             locked: {l}"));
        }
        for c in &enc.candidates {
            line(format!(
                "             possible VeraCrypt/TrueCrypt or wiped device: {c}"
            ));
        }
        for u in &enc.status_unknown {
            line(format!("             CHECK: {u} may be unlocked"));
        }
        match &self.clock {
            Some(c) => {
                let mut l = format!(
                    "Clock        host {} ({}, {})",
                    c.host_utc, c.host_local, c.time_zone
                );
                if c.ntp_synchronized == Some(false) {
                    l.push_str(", not NTP-synchronised");
                }
                line(l);
                match &c.reference {
                    Some(r) => line(format!(
                        "             {:+.3} s against the reference {} ({})",
                        r.host_minus_reference_seconds,
                        r.given,
                        if r.host_minus_reference_ns >= 0 {
                            "host ahead"
                        } else {
                            "host behind"
                        }
                    )),
                    None => line(
                        "             no reference time given: clock offset unknown".to_string(),
                    ),
                }
                if let Some(b) = &c.boot_time_utc {
                    line(format!("             booted {b}"));
                }
            }
            None => line("Clock        not captured".to_string()),
        }
        let sockets = |title: &str, list: &[SocketLine], line: &mut dyn FnMut(String)| {
            line(format!("{title:<12} {}", list.len()));
            for s in list.iter().take(LIST_LIMIT) {
                let owners = if s.processes.is_empty() {
                    "-".to_string()
                } else {
                    s.processes.join(",")
                };
                match &s.remote {
                    Some(r) => line(format!(
                        "             {:<5} {} -> {}  {}",
                        s.protocol, s.local, r, owners
                    )),
                    None => line(format!(
                        "             {:<5} {}  {}",
                        s.protocol, s.local, owners
                    )),
                }
            }
            if list.len() > LIST_LIMIT {
                line(format!(
                    "             … and {} more",
                    list.len() - LIST_LIMIT
                ));
            }
        };
        sockets("Listening", &self.listening, &mut line);
        sockets("Established", &self.established, &mut line);
        line(format!(
            "Processes    {} ({} suspicious)",
            self.counts.processes,
            self.suspicious_processes.len()
        ));
        for p in self.suspicious_processes.iter().take(LIST_LIMIT) {
            line(format!(
                "             pid {} {} [{}] {}{}",
                p.pid,
                p.name,
                p.reasons.join(", "),
                p.exe.as_deref().unwrap_or("?"),
                p.exe_sha256
                    .as_deref()
                    .map(|h| format!(" sha256 {h}"))
                    .unwrap_or_default()
            ));
        }
        if self.suspicious_processes.len() > LIST_LIMIT {
            line(format!(
                "             … and {} more",
                self.suspicious_processes.len() - LIST_LIMIT
            ));
        }
        line(format!("Sessions     {}", self.sessions.len()));
        for sess in self.sessions.iter().take(LIST_LIMIT) {
            line(format!("             {sess}"));
        }
        line(format!(
            "Other        {} mounts, {} block devices, {} kernel modules, {} enabled units, {} cron entries",
            self.counts.mounts,
            self.counts.block_devices,
            self.counts.modules,
            self.counts.enabled_units,
            self.counts.cron_entries
        ));
        let failed: Vec<String> = self
            .captures
            .iter()
            .filter(|c| c.outcome != Some(Outcome::Ok))
            .map(|c| {
                format!(
                    "{}: {}",
                    c.name,
                    match (&c.outcome, &c.error) {
                        (Some(o), Some(e)) => format!("{o:?} ({e})").to_lowercase(),
                        (Some(o), None) => format!("{o:?}").to_lowercase(),
                        (None, _) => "missing".to_string(),
                    }
                )
            })
            .collect();
        if failed.is_empty() {
            line(format!("Captures     all {} ok", self.captures.len()));
        } else {
            line(format!("Captures     NOT COMPLETE: {}", failed.join("; ")));
        }
        for p in &self.problems {
            line(format!("             problem: {p}"));
        }
        out
    }
}

/// Render the live summary from `live/*.json` members as stored in a bundle.
pub fn render_summary(artifacts: &[(String, Vec<u8>)]) -> String {
    LiveSummary::from_artifacts(artifacts).render()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_and_garbage_members_are_problems_not_panics() {
        let s = LiveSummary::from_artifacts(&[
            ("live/clock.json".to_string(), b"{not json".to_vec()),
            ("live/encryption.json".to_string(), b"\x00\xff".to_vec()),
        ]);
        assert!(!s.encryption.checked);
        assert_eq!(s.captures.len(), CAPTURES.len());
        assert!(
            s.problems
                .iter()
                .any(|p| p.starts_with("live/processes.json: missing"))
        );
        assert!(
            s.problems
                .iter()
                .any(|p| p.starts_with("live/clock.json: "))
        );
        let text = s.render();
        assert!(text.contains("Encryption   encryption status NOT CHECKED"));
    }

    fn member(name: &str, data: serde_json::Value) -> (String, Vec<u8>) {
        let kind = CAPTURES.iter().find(|k| k.name == name).unwrap();
        (
            kind.member.to_string(),
            serde_json::to_vec(&serde_json::json!({
                "schema": kind.schema, "schema_version": 1, "outcome": "ok",
                "start_utc": "2026-01-01T00:00:00Z", "end_utc": "2026-01-01T00:00:01Z",
                "platform": "linux", "data": data,
            }))
            .unwrap(),
        )
    }

    #[test]
    fn nothing_examined_is_not_determined_and_the_quick_check_still_counts() {
        let enc = serde_json::json!({"open_volumes": [], "device_mapper": [], "devices": [],
            "not_determined": "none of the 3 devices could be read"});
        let s = LiveSummary::from_artifacts(&[member("encryption", enc)]);
        let text = s.render();
        assert!(
            text.contains("Encryption   encryption status NOT DETERMINED (none of the 3 devices could be read): assume a volume may be open"),
            "{text}"
        );
        assert!(!text.contains("no open encrypted volume found"), "{text}");
        // The quick check saw an open volume, the full capture failed: still OPEN.
        let early = serde_json::json!({"open_volumes": [{"mechanism": "dm-crypt",
            "scheme": "LUKS2", "device": "/dev/dm-0", "evidence": "uuid"}]});
        let s = LiveSummary::from_artifacts(&[member("open_volumes", early)]);
        assert!(s.encryption.open && !s.encryption.checked);
        assert!(
            s.render().contains("OPEN ENCRYPTED VOLUME"),
            "{}",
            s.render()
        );
        assert!(text.contains("Captures     NOT COMPLETE"));
    }
}
