//! The findings part of `collect`'s end-of-run summary: what a first responder must see at
//! a glance (known-bad hits, encryption, virtual assets, suspicious executables), as
//! counts by severity, analyzer and kind, plus the titles of the most severe findings.
//!
//! Owns the tally and its terminal rendering. Reads findings as they are (streamed, line
//! by line, never a whole member in memory). It must never print evidence: titles carry no
//! secrets by contract (`crate::finding`), so seed words never reach the terminal.

use std::collections::BTreeMap;
use std::io::BufRead;

use serde::Serialize;

use crate::finding::{Finding, Severity};

/// Critical/high titles listed on the terminal.
pub const TOP: usize = 5;

/// Encryption found on the machine (live state) and in its files.
#[derive(Debug, Clone, Default, Serialize)]
pub struct EncryptionCounts {
    /// Volumes open right now (live state): image them before power-off.
    pub open_volumes: u64,
    /// Locked encrypted volumes: devices with an encryption header (live state) and
    /// LUKS/BitLocker volume files.
    pub locked_volumes: u64,
    /// Volumes whose state could not be determined (live state).
    pub status_unknown: u64,
    /// Why the live step could not tell whether any volume is encrypted (open or locked),
    /// when it could not: then the locked-volume count is not a count of anything.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_determined: Option<String>,
    /// Random-looking files and devices that may be VeraCrypt/TrueCrypt containers.
    pub possible_containers: u64,
    pub encrypted_archives: u64,
    /// Password-manager databases and exports.
    pub password_managers: u64,
    /// Of those, exports in plain text.
    pub plain_password_exports: u64,
    /// age, OpenPGP and OpenSSL encrypted files.
    pub encrypted_files: u64,
}

/// Traces of cryptocurrency holdings.
#[derive(Debug, Clone, Default, Serialize)]
pub struct AssetCounts {
    /// Wallet files, wallet application data, wallet browser extensions.
    pub wallets: u64,
    /// Checksum-valid recovery phrases (the words are in the bundle only).
    pub seed_phrases: u64,
    /// Distinct addresses per file, summed.
    pub addresses: u64,
    /// Browser history files naming exchanges, wallets or mixers.
    pub history_hits: u64,
}

/// Executables: how many were recognised and what about them is suspicious.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ExecutableCounts {
    pub recognised: u64,
    /// Distinct files with at least one executable finding above `info`.
    pub suspicious_files: u64,
    pub disguised: u64,
    pub packed: u64,
    pub imports_of_note: u64,
    pub unusual_location: u64,
}

/// One of the most severe findings, for the terminal.
#[derive(Debug, Clone, Serialize)]
pub struct TopFinding {
    pub id: String,
    pub severity: Severity,
    pub title: String,
    pub path: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct FindingsSummary {
    pub total: u64,
    /// `critical`, `high`, `medium`, `low`, `info` → count (all five always present, in
    /// that order in JSON too).
    #[serde(serialize_with = "super::serialize_by_severity")]
    pub by_severity: BTreeMap<String, u64>,
    pub by_analyzer: BTreeMap<String, u64>,
    pub by_kind: BTreeMap<String, u64>,
    pub known_bad: u64,
    pub encryption: EncryptionCounts,
    pub virtual_assets: AssetCounts,
    pub executables: ExecutableCounts,
    /// Up to [`TOP`] critical and high findings, most severe first, then by ID.
    pub top: Vec<TopFinding>,
    /// Lines of findings.jsonl that could not be read.
    pub unparseable_lines: u64,
}

impl FindingsSummary {
    /// Tallies a `findings.jsonl` stream.
    pub fn from_jsonl(reader: impl BufRead) -> FindingsSummary {
        let mut s = FindingsSummary::default();
        for name in ["critical", "high", "medium", "low", "info"] {
            s.by_severity.insert(name.to_string(), 0);
        }
        let mut suspicious = std::collections::BTreeSet::new();
        let mut top = Vec::new();
        let mut bad = 0u64;
        let (overlong, _) = super::for_each_line(reader, |line| {
            match serde_json::from_slice::<Finding>(line) {
                Ok(f) => s.add(&f, &mut suspicious, &mut top),
                Err(_) => bad += 1,
            }
        });
        s.unparseable_lines = bad + overlong;
        s.executables.suspicious_files = suspicious.len() as u64;
        top.sort_by(|a: &TopFinding, b| b.severity.cmp(&a.severity).then(a.id.cmp(&b.id)));
        top.truncate(TOP);
        s.top = top;
        s
    }

    /// Tallies the `findings.jsonl` of a sealed bundle.
    pub fn from_bundle(bundle: &std::path::Path) -> anyhow::Result<FindingsSummary> {
        use anyhow::Context;
        let file = std::fs::File::open(bundle)
            .with_context(|| format!("{}: cannot open", bundle.display()))?;
        let mut zip = zip::ZipArchive::new(std::io::BufReader::new(file))
            .with_context(|| format!("{}: not a readable bundle", bundle.display()))?;
        let member = zip
            .by_name(crate::bundle::FINDINGS_JSONL)
            .with_context(|| format!("{}: no findings.jsonl", bundle.display()))?;
        Ok(FindingsSummary::from_jsonl(std::io::BufReader::new(member)))
    }

    fn add(
        &mut self,
        f: &Finding,
        suspicious: &mut std::collections::BTreeSet<String>,
        top: &mut Vec<TopFinding>,
    ) {
        self.total += 1;
        *self
            .by_severity
            .entry(super::severity_name(f.severity).to_string())
            .or_default() += 1;
        *self.by_analyzer.entry(f.analyzer.clone()).or_default() += 1;
        *self.by_kind.entry(f.kind.clone()).or_default() += 1;
        let e = &mut self.encryption;
        let a = &mut self.virtual_assets;
        let x = &mut self.executables;
        match f.kind.as_str() {
            "hashset.known_bad" => self.known_bad += 1,
            "encryption.volume_open" => e.open_volumes += 1,
            "encryption.header" | "encryption.luks" | "encryption.bitlocker" => {
                e.locked_volumes += 1
            }
            "encryption.status_unknown" => e.status_unknown += 1,
            "encryption.not_determined" => {
                e.not_determined = Some(
                    f.evidence
                        .as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| "no reason recorded".into()),
                )
            }
            "encryption.candidate" | "encryption.container_candidate" => e.possible_containers += 1,
            "encryption.archive" => e.encrypted_archives += 1,
            "encryption.password_manager" => {
                e.password_managers += 1;
                if f.evidence["encrypted"] == false {
                    e.plain_password_exports += 1;
                }
            }
            "encryption.encrypted_file" => e.encrypted_files += 1,
            "crypto.wallet_file"
            | "crypto.wallet_app_data"
            | "crypto.wallet_extension_data"
            | "crypto.wallet_extension_installed" => a.wallets += 1,
            "crypto.seed_phrase" => a.seed_phrases += 1,
            "crypto.seed_phrase_more" => {
                a.seed_phrases += f.evidence["not_listed"].as_u64().unwrap_or(0)
            }
            "crypto.address" => a.addresses += 1,
            "crypto.history_hits" => a.history_hits += 1,
            "exe.identified" => x.recognised += 1,
            "exe.extension_mismatch" => x.disguised += 1,
            "exe.packed" => x.packed += 1,
            "exe.imports_of_note" => x.imports_of_note += 1,
            "exe.unusual_location" => x.unusual_location += 1,
            _ => {}
        }
        if f.analyzer == crate::triage::executables::NAME && f.severity > Severity::Info {
            suspicious.insert(f.path.clone().unwrap_or_default());
        }
        if f.severity >= Severity::High {
            top.push(TopFinding {
                id: f.id.clone(),
                severity: f.severity,
                title: f.title.clone(),
                path: f.path.clone(),
            });
            // Keep the list short while reading: the most severe, then the lowest IDs.
            if top.len() > TOP * 4 {
                top.sort_by(|a, b| b.severity.cmp(&a.severity).then(a.id.cmp(&b.id)));
                top.truncate(TOP);
            }
        }
    }

    /// The terminal lines (each starting with two spaces, as the rest of the summary).
    /// `known_sets` says whether known-file sets were given (otherwise no known-bad check
    /// was possible).
    pub fn render(&self, known_sets: bool) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        let sev = super::severity_counts_text(&self.by_severity);
        let _ = writeln!(s, "  Findings      {}: {sev}", self.total);
        if self.total > 0 {
            let mut analyzers: Vec<(&String, &u64)> = self.by_analyzer.iter().collect();
            analyzers.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
            let _ = writeln!(
                s,
                "    by analyzer {}",
                analyzers
                    .iter()
                    .map(|(k, v)| format!("{k} {v}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        let _ = writeln!(
            s,
            "    known-bad   {}",
            if known_sets {
                if self.known_bad > 0 {
                    format!("{} FILE(S) MATCH A KNOWN-BAD SET", self.known_bad)
                } else {
                    "no match".to_string()
                }
            } else {
                "not checked (no --known-bad set given)".to_string()
            }
        );
        let e = &self.encryption;
        let open = if e.open_volumes > 0 {
            format!(
                "{} OPEN VOLUME(S): image before power-off; ",
                e.open_volumes
            )
        } else {
            String::new()
        };
        let unknown = if e.status_unknown > 0 {
            format!("; {} volume(s) of UNKNOWN state", e.status_unknown)
        } else {
            String::new()
        };
        // Never "0 locked volume(s)" when the live step could not look.
        let locked = match &e.not_determined {
            Some(why) if e.locked_volumes == 0 => {
                format!("volume encryption NOT DETERMINED ({why}): assume a volume may be open")
            }
            Some(why) => format!(
                "{} locked volume(s) found, the rest NOT DETERMINED ({why})",
                e.locked_volumes
            ),
            None => format!("{} locked volume(s)", e.locked_volumes),
        };
        let _ = writeln!(
            s,
            "    encryption  {open}{locked}, {} possible container(s), {} encrypted archive(s), {} password database(s) ({} plain-text export(s)), {} encrypted file(s){unknown}",
            e.possible_containers,
            e.encrypted_archives,
            e.password_managers,
            e.plain_password_exports,
            e.encrypted_files,
        );
        let a = &self.virtual_assets;
        let _ = writeln!(
            s,
            "    crypto      {} wallet(s), {} seed phrase(s){}, {} address(es), {} history file(s) naming exchanges/wallets",
            a.wallets,
            a.seed_phrases,
            if a.seed_phrases > 0 {
                " (words only in the bundle)"
            } else {
                ""
            },
            a.addresses,
            a.history_hits
        );
        let x = &self.executables;
        let _ = writeln!(
            s,
            "    executables {} recognised, {} suspicious file(s): {} disguised, {} packed, {} with injection/keylogging/credential imports, {} in unusual places",
            x.recognised,
            x.suspicious_files,
            x.disguised,
            x.packed,
            x.imports_of_note,
            x.unusual_location
        );
        for (i, t) in self.top.iter().enumerate() {
            let _ = writeln!(
                s,
                "    {} [{}] {}{}",
                if i == 0 { "most severe" } else { "           " },
                super::severity_name(t.severity).to_uppercase(),
                t.title,
                t.path
                    .as_ref()
                    .map(|p| format!(" — {p}"))
                    .unwrap_or_default()
            );
        }
        if self.unparseable_lines > 0 {
            let _ = writeln!(
                s,
                "    WARNING     {} line(s) of findings.jsonl could not be read",
                self.unparseable_lines
            );
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(id: &str, analyzer: &str, kind: &str, severity: &str, evidence: &str) -> String {
        format!(
            "{{\"id\":\"{id}\",\"analyzer\":\"{analyzer}\",\"kind\":\"{kind}\",\"severity\":\"{severity}\",\"path\":\"/p/{id}\",\"title\":\"title {id}\",\"evidence\":{evidence}}}\n"
        )
    }

    #[test]
    fn findings_are_tallied_by_severity_kind_and_what_they_mean() {
        let data = [
            line("F1", "hashset", "hashset.known_bad", "critical", "{}"),
            line(
                "F2",
                "virtual_assets",
                "crypto.seed_phrase",
                "high",
                "{\"phrase\":\"legal winner\"}",
            ),
            line(
                "F3",
                "encryption",
                "encryption.password_manager",
                "critical",
                "{\"encrypted\":false}",
            ),
            line("F4", "executable", "exe.identified", "info", "{}"),
            line("F5", "executable", "exe.extension_mismatch", "high", "{}"),
            line("F6", "executable", "exe.unusual_location", "medium", "{}"),
            line("F7", "live", "encryption.volume_open", "critical", "{}"),
            line("F8", "encryption", "encryption.luks", "high", "{}"),
            line("F9", "virtual_assets", "crypto.address", "medium", "{}"),
            line(
                "FA",
                "virtual_assets",
                "crypto.seed_phrase_more",
                "high",
                "{\"not_listed\":3}",
            ),
            line("FB", "encryption", "encryption.archive", "medium", "{}"),
            "garbage\n".to_string(),
        ]
        .concat();
        let s = FindingsSummary::from_jsonl(data.as_bytes());
        assert_eq!(s.total, 11);
        assert_eq!(s.unparseable_lines, 1);
        assert_eq!(s.by_severity["critical"], 3);
        assert_eq!(s.by_severity["high"], 4);
        assert_eq!(s.by_severity["low"], 0);
        assert_eq!(s.by_analyzer["executable"], 3);
        assert_eq!(s.by_kind["exe.identified"], 1);
        assert_eq!(s.known_bad, 1);
        assert_eq!(s.encryption.open_volumes, 1);
        assert_eq!(s.encryption.locked_volumes, 1);
        assert_eq!(s.encryption.plain_password_exports, 1);
        assert_eq!(s.encryption.encrypted_archives, 1);
        assert_eq!(s.virtual_assets.seed_phrases, 4);
        assert_eq!(s.virtual_assets.addresses, 1);
        assert_eq!(s.executables.recognised, 1);
        // F5 and F6 are two different files (paths /p/F5, /p/F6).
        assert_eq!(s.executables.suspicious_files, 2);
        let top: Vec<&str> = s.top.iter().map(|t| t.id.as_str()).collect();
        assert_eq!(top, vec!["F1", "F3", "F7", "F2", "F5"]);
        let text = s.render(true);
        assert!(
            text.contains("  Findings      11: 3 critical, 4 high, 3 medium, 0 low, 1 info\n"),
            "{text}"
        );
        assert!(text.contains("1 FILE(S) MATCH A KNOWN-BAD SET"), "{text}");
        assert!(text.contains("1 OPEN VOLUME(S)"), "{text}");
        assert!(!text.contains("legal"), "evidence never printed: {text}");
    }

    #[test]
    fn an_undetermined_encryption_status_is_never_zero_locked_volumes() {
        let data = line(
            "F1",
            "live",
            "encryption.not_determined",
            "high",
            "\"none of 2 block devices could be read\"",
        );
        let text = FindingsSummary::from_jsonl(data.as_bytes()).render(false);
        assert!(!text.contains("0 locked volume(s)"), "{text}");
        assert!(
            text.contains(
                "    encryption  volume encryption NOT DETERMINED (none of 2 block devices could \
                 be read): assume a volume may be open, 0 possible container(s)"
            ),
            "{text}"
        );
    }
}
