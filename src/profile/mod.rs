//! Collection profiles: what to collect, independent of where it is collected from.
//!
//! Owns the profile model (rules of path patterns, name patterns, depth and size limits,
//! categories), the native TOML format (`parse`), the built-in profiles embedded in the
//! binary (`builtin`), and the pattern language (`pattern`). The model is deliberately the
//! common core of KAPE targets (Path + FileMask + Recursive), UAC artifacts (path,
//! name_pattern, max_depth, max_file_size) and ForensicArtifacts FILE sources (glob paths
//! with `**` and `%%users.homedir%%`), so importers can map onto it.
//! A profile never touches the filesystem; `plan` resolves it against a source.

pub mod builtin;
pub mod import;
pub mod parse;
pub mod pattern;

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use crate::hashing::{hex, sha256};
use pattern::PathPattern;

/// The operating system a profile is written for: decides case sensitivity and how
/// `${home}` expands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetOs {
    Linux,
    Windows,
    Macos,
    Any,
}

impl TargetOs {
    pub fn name(self) -> &'static str {
        match self {
            TargetOs::Linux => "linux",
            TargetOs::Windows => "windows",
            TargetOs::Macos => "macos",
            TargetOs::Any => "any",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "linux" => Some(TargetOs::Linux),
            "windows" => Some(TargetOs::Windows),
            "macos" => Some(TargetOs::Macos),
            "any" => Some(TargetOs::Any),
            _ => None,
        }
    }
}

/// Where a profile came from, as recorded in the manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Builtin,
    File(PathBuf),
    /// Imported from a third-party library: the spec (`kape:KapeTriage`) and the
    /// definitions folder it was read from.
    Import {
        spec: String,
        definitions: PathBuf,
    },
}

impl Origin {
    /// How the manifest names it.
    pub fn describe(&self) -> String {
        match self {
            Origin::Builtin => "builtin".into(),
            Origin::File(p) => p.display().to_string(),
            Origin::Import { spec, definitions } => {
                format!("import {spec} from {}", definitions.display())
            }
        }
    }
}

/// One thing to collect.
#[derive(Debug, Clone)]
pub struct Rule {
    pub name: String,
    pub category: String,
    pub description: String,
    /// Pattern texts as written (for display and the manifest).
    pub path_texts: Vec<String>,
    /// Compiled patterns; those that started with `${home}` are in `home_paths`.
    pub paths: Vec<PathPattern>,
    pub home_paths: Vec<PathPattern>,
    /// File-name patterns; a file must match one of them (empty: any name).
    pub names: Vec<globset::GlobMatcher>,
    pub name_texts: Vec<String>,
    /// File-name regular expressions (KAPE `regex:` masks); a file matches the rule's
    /// names when it matches one of `names` or one of these (searched, not anchored,
    /// like .NET's `Regex.IsMatch` that KAPE uses).
    pub name_regex: Vec<regex::Regex>,
    pub name_regex_texts: Vec<String>,
    /// Path patterns (same syntax as `paths`, rooted at the source) never collected.
    pub exclude: Vec<PathPattern>,
    /// Maximum depth of a file below the pattern's literal base directory.
    pub max_depth: Option<u32>,
    pub max_file_size: Option<u64>,
    /// Files smaller than this (by the walk's `lstat`) are not wanted by this rule.
    pub min_file_size: Option<u64>,
    /// Whether this rule's patterns ignore case (the profile's setting unless the rule
    /// sets its own: an imported profile may mix Windows and Linux definitions).
    pub case_insensitive: bool,
    /// Read files on pseudo filesystems (/proc, /sys) that this rule names explicitly,
    /// up to `pseudo_max_bytes`, instead of recording them as skipped.
    pub read_pseudo: bool,
    pub pseudo_max_bytes: u64,
    /// Collect only executables: an execute permission bit, or content starting with an
    /// ELF, PE (`MZ`), Mach-O or `#!` signature (decided from the first bytes read).
    pub executables_only: bool,
    /// Line of the rule in its TOML file (for messages).
    pub line: usize,
}

#[derive(Debug, Clone)]
pub struct Profile {
    pub name: String,
    pub description: String,
    pub os: TargetOs,
    pub case_insensitive: bool,
    pub follow_symlinks: bool,
    /// Default size limit for rules that set none (`None`: unlimited).
    pub max_file_size: Option<u64>,
    pub rules: Vec<Rule>,
    pub origin: Origin,
    /// SHA-256 of the profile's TOML text exactly as loaded.
    pub sha256: String,
    pub text: String,
}

impl Profile {
    /// Parse TOML text; `file` names it in error messages.
    pub fn from_toml(text: &str, file: &str, origin: Origin) -> Result<Self, Vec<String>> {
        let mut profile = parse::parse_profile(text, file)?;
        profile.origin = origin;
        profile.sha256 = hex(&sha256(text.as_bytes()));
        profile.text = text.to_string();
        Ok(profile)
    }

    /// The default OS triage profile of the system fieldkit is running on.
    pub fn default_live_name() -> &'static str {
        if cfg!(windows) {
            "windows-triage"
        } else if cfg!(target_os = "macos") {
            "macos-triage"
        } else {
            "linux-triage"
        }
    }
}

/// Load a profile by built-in name, from a TOML file, or imported from a third-party
/// library (`kape:`, `uac:`, `fa:` with `definitions`). An import that lost part of a
/// definition says so on stderr in one line (the details: `profiles import --report`).
pub fn load_any(name: &str, definitions: Option<&Path>) -> anyhow::Result<Profile> {
    match import::Spec::parse(name) {
        None => {
            if definitions.is_some() {
                bail!("--definitions is for kape:, uac: and fa: profiles; {name:?} is not one");
            }
            load(name)
        }
        Some(Err(e)) => bail!("--profile {e}"),
        Some(Ok(spec)) => {
            let (profile, imported) = import::load(&spec, definitions)?;
            let c = imported.counts();
            if c.partial > 0 || c.not_applicable > 0 {
                eprintln!(
                    "fieldkit: {}: {} rules from {} definitions ({} mapped, {} partly mapped, {} not \
                     applicable); details: fieldkit profiles import {} --definitions … --report",
                    spec.text,
                    profile.rules.len(),
                    c.definitions,
                    c.mapped,
                    c.partial,
                    c.not_applicable,
                    spec.text
                );
            }
            Ok(profile)
        }
    }
}

/// When `text` is a KAPE target, a UAC artifact or profile, or a ForensicArtifacts
/// definition file rather than a fieldkit TOML profile: one message saying which, and the
/// exact `--profile LIBRARY:NAME --definitions DIR` that imports it (instead of one TOML
/// error per line).
pub fn foreign_library_file(path: &Path, text: &str) -> Option<String> {
    let keys: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with([' ', '\t', '-', '#']))
        .filter_map(|l| l.split_once(':').map(|(k, _)| k.trim()))
        .collect();
    let has = |k: &str| keys.contains(&k);
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let parent = |p: &Path| -> String {
        p.parent()
            .filter(|d| !d.as_os_str().is_empty())
            .map(|d| d.display().to_string())
            .unwrap_or_else(|| ".".into())
    };
    let shown = path.display();
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase());
    // UAC names an artifact by its path under artifacts/ (with .yaml), a profile by its
    // file stem under profiles/.
    let after = |dir: &str| -> Option<(String, String)> {
        let s = path.to_string_lossy();
        let at = s.rfind(&format!("/{dir}/"))?;
        let rest = &s[at + dir.len() + 2..];
        let name = if dir == "profiles" {
            rest.trim_end_matches(".yaml").trim_end_matches(".yml")
        } else {
            rest
        };
        Some((
            if at == 0 {
                "/".into()
            } else {
                s[..at].to_string()
            },
            name.to_string(),
        ))
    };
    if ext.as_deref() == Some("tkape") || (has("Targets") && (has("Description") || has("Author")))
    {
        return Some(format!(
            "{shown}: this is a KAPE target file (.tkape), not a fieldkit profile (TOML). \
             fieldkit imports it: --profile kape:{stem} --definitions {} (the folder of KAPE \
             targets), or write it out once with `fieldkit profiles import kape:{stem} \
             --definitions {} --out {stem}.toml` (docs/profiles.md)",
            parent(path),
            parent(path)
        ));
    }
    if has("artifacts") {
        let (root, name) = after("artifacts")
            .or_else(|| after("profiles"))
            .unwrap_or_else(|| ("UAC_DIR".into(), stem.clone()));
        let kind = if has("collector") || text.contains("collector:") {
            "a UAC artifact file"
        } else {
            "a UAC profile"
        };
        return Some(format!(
            "{shown}: this is {kind}, not a fieldkit profile (TOML). fieldkit imports it: \
             --profile uac:{name} --definitions {root} (the UAC folder holding artifacts/ and \
             profiles/; @macos etc. selects another OS), or `fieldkit profiles import \
             uac:{name} --definitions {root} --out {stem}.toml` (docs/profiles.md)"
        ));
    }
    if has("doc") && has("sources") && has("name") {
        let names: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("name:"))
            .map(str::trim)
            .take(3)
            .collect();
        let list = names.join(",");
        return Some(format!(
            "{shown}: this is a ForensicArtifacts definitions file ({} artifact(s): {}{}), \
             not a fieldkit profile (TOML). fieldkit imports it: --profile fa:{list} \
             --definitions {} (the folder of definition files), or `fieldkit profiles import \
             'fa:{list}' --definitions {} --out artifacts.toml` (docs/profiles.md)",
            text.lines().filter(|l| l.starts_with("name:")).count(),
            list,
            if names.len() == 3 { ", …" } else { "" },
            parent(path),
            parent(path)
        ));
    }
    None
}

/// Load a profile by built-in name or from a TOML file.
pub fn load(name_or_file: &str) -> anyhow::Result<Profile> {
    if let Some(text) = builtin::get(name_or_file) {
        return Profile::from_toml(text, &format!("builtin:{name_or_file}"), Origin::Builtin)
            .map_err(|errs| anyhow::anyhow!("built-in profile is invalid: {}", errs.join("; ")));
    }
    let path = Path::new(name_or_file);
    if !path.exists() {
        bail!(
            "no built-in profile named {name_or_file:?} and no such file (built-in: {})",
            builtin::names().join(", ")
        );
    }
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("{}: cannot read profile", path.display()))?;
    if let Some(what) = foreign_library_file(path, &text) {
        bail!("{}", what);
    }
    Profile::from_toml(
        &text,
        &path.display().to_string(),
        Origin::File(path.to_path_buf()),
    )
    .map_err(|errs| anyhow::anyhow!("{}", errs.join("\n")))
}

/// Parse a size such as `1048576`, `512KiB`, `2G`, `1.5GiB`, `100MB`.
/// `K/M/G/T` and `KiB/MiB/GiB/TiB` are powers of 1024; `KB/MB/GB/TB` powers of 1000.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let value: f64 = num
        .parse()
        .map_err(|_| format!("bad size {text:?}: expected a number with an optional unit"))?;
    let mult: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kib" => 1024.0,
        "m" | "mib" => 1024.0 * 1024.0,
        "g" | "gib" => 1024.0 * 1024.0 * 1024.0,
        "t" | "tib" => 1024.0f64.powi(4),
        "kb" => 1e3,
        "mb" => 1e6,
        "gb" => 1e9,
        "tb" => 1e12,
        other => return Err(format!("bad size {text:?}: unknown unit {other:?}")),
    };
    let bytes = value * mult;
    if !bytes.is_finite() || bytes < 0.0 || bytes > u64::MAX as f64 {
        return Err(format!("bad size {text:?}: out of range"));
    }
    Ok(bytes.round() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_binary_and_decimal_units() {
        assert_eq!(parse_size("1024"), Ok(1024));
        assert_eq!(parse_size("2K"), Ok(2048));
        assert_eq!(parse_size("1.5GiB"), Ok(1610612736));
        assert_eq!(parse_size("100MB"), Ok(100_000_000));
        assert!(parse_size("12 parsecs").unwrap_err().contains("parsecs"));
        assert!(parse_size("").is_err());
    }

    #[test]
    fn every_builtin_profile_loads() {
        for name in builtin::names() {
            let p = load(name).unwrap_or_else(|e| panic!("{name}: {e:#}"));
            assert_eq!(p.name, name);
            assert!(!p.rules.is_empty());
        }
    }
}
