//! Importers: KAPE targets (`kape`), UAC artifacts and profiles (`uac`) and
//! ForensicArtifacts definitions (`fa`), each turned into fieldkit's own profile model.
//!
//! Owns the import spec (`kape:KapeTriage`, `uac:ir_triage`, `fa:A,B`), the drafts of
//! rules every importer produces, the per-definition report (mapped / partly mapped /
//! not applicable / error, each with file:line and what was lost) and the rendering of a
//! draft as native profile TOML. An import is always rendered to TOML and loaded through
//! the native parser, so `--profile kape:X` and `--profile` of the file `profiles import`
//! writes behave identically, and everything downstream (plan, walk, acquire) is
//! unchanged. Never embeds a library (the definitions folder is always given), never
//! drops a definition silently (whatever is not mapped is in the report), and never
//! touches the source being collected.

pub mod fa;
pub mod kape;
pub mod uac;

use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow, bail};
use serde::Serialize;

use super::{Origin, Profile, TargetOs};
use crate::hashing::{hex, sha256};

/// Largest definition file read (the real ones are under 100 KB).
pub const MAX_DEFINITION_BYTES: u64 = 4 << 20;

/// Which library a spec names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Library {
    Kape,
    Uac,
    Fa,
}

impl Library {
    pub fn prefix(self) -> &'static str {
        match self {
            Library::Kape => "kape",
            Library::Uac => "uac",
            Library::Fa => "fa",
        }
    }
}

/// `kape:NAME[,NAME…]`, `uac:PROFILE|ARTIFACT[,…][@OS]`, `fa:NAME[,NAME…]`; `*` selects
/// every definition (for the report).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec {
    pub library: Library,
    pub names: Vec<String>,
    /// UAC only: the operating system to select artifacts for (default linux).
    pub os: Option<String>,
    pub text: String,
}

impl Spec {
    /// `None` when `text` names no importer (then it is a built-in name or a file).
    pub fn parse(text: &str) -> Option<Result<Spec, String>> {
        let (prefix, rest) = text.split_once(':')?;
        let library = match prefix {
            "kape" => Library::Kape,
            "uac" => Library::Uac,
            "fa" => Library::Fa,
            _ => return None,
        };
        let (list, os) = match (library, rest.rsplit_once('@')) {
            (Library::Uac, Some((list, os))) => (list, Some(os.to_string())),
            _ => (rest, None),
        };
        let names: Vec<String> = list
            .split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_string)
            .collect();
        if names.is_empty() {
            return Some(Err(format!(
                "{text:?}: name at least one definition after {prefix}: (e.g. {})",
                match library {
                    Library::Kape => "kape:KapeTriage",
                    Library::Uac => "uac:ir_triage",
                    Library::Fa => "fa:WindowsEventLogs,BrowserHistory",
                }
            )));
        }
        Some(Ok(Spec {
            library,
            names,
            os,
            text: text.to_string(),
        }))
    }

    pub fn selects_all(&self) -> bool {
        self.names.iter().any(|n| n == "*")
    }
}

/// How much of a definition (or one entry of it) fieldkit collects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Everything it asks for is collected, exactly or as a documented superset.
    Mapped,
    /// Collected in part: the notes say what was lost.
    Partial,
    /// Nothing to collect as files (a command, a registry value read live, …).
    NotApplicable,
    /// Could not be read or understood: the notes say why, with file:line.
    Error,
}

impl Outcome {
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Mapped => "mapped",
            Outcome::Partial => "partial",
            Outcome::NotApplicable => "not_applicable",
            Outcome::Error => "error",
        }
    }

    /// A definition's outcome from its entries'.
    pub fn combine(entries: impl IntoIterator<Item = Outcome>) -> Outcome {
        let (mut any, mut mapped, mut partial) = (false, false, false);
        for o in entries {
            any = true;
            match o {
                Outcome::Error => return Outcome::Error,
                Outcome::Mapped => mapped = true,
                Outcome::Partial => partial = true,
                Outcome::NotApplicable => {}
            }
        }
        // An entry that is not applicable loses nothing: a definition with mapped and
        // not-applicable entries is mapped (its report lists both).
        if !any {
            Outcome::NotApplicable
        } else if partial {
            Outcome::Partial
        } else if mapped {
            Outcome::Mapped
        } else {
            Outcome::NotApplicable
        }
    }
}

/// One entry of a definition (a KAPE target line, a UAC artifact, an FA source).
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    /// `FILE:LINE` relative to the definitions folder.
    pub location: String,
    pub what: String,
    pub outcome: Outcome,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// One definition: a `.tkape` file, a UAC artifact file or profile, an FA artifact.
#[derive(Debug, Clone, Serialize)]
pub struct Definition {
    pub name: String,
    pub location: String,
    pub outcome: Outcome,
    pub entries: Vec<Entry>,
}

impl Definition {
    pub fn new(name: String, location: String, entries: Vec<Entry>) -> Self {
        let outcome = Outcome::combine(entries.iter().map(|e| e.outcome));
        Definition {
            name,
            location,
            outcome,
            entries,
        }
    }

    /// A definition that could not be read at all.
    pub fn failed(name: String, location: String, message: String) -> Self {
        Definition {
            name,
            location: location.clone(),
            outcome: Outcome::Error,
            entries: vec![Entry {
                location,
                what: "definition".into(),
                outcome: Outcome::Error,
                notes: vec![message],
            }],
        }
    }
}

/// A rule as an importer drafts it, in native pattern syntax.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RuleDraft {
    pub name: String,
    pub category: String,
    pub description: String,
    pub paths: Vec<String>,
    pub names: Vec<String>,
    pub name_regex: Vec<String>,
    pub exclude: Vec<String>,
    pub max_depth: Option<u32>,
    pub max_file_size: Option<u64>,
    pub min_file_size: Option<u64>,
    pub case_insensitive: Option<bool>,
    /// Where it came from (`FILE:LINE`), written as a comment above the rule.
    pub origin: Vec<String>,
    /// What the mapping changed or could not keep, written as comments.
    pub notes: Vec<String>,
}

impl RuleDraft {
    /// Two drafts that differ only in their paths (and origins) become one rule.
    fn same_selection(&self, other: &RuleDraft) -> bool {
        self.name == other.name
            && self.category == other.category
            && self.names == other.names
            && self.name_regex == other.name_regex
            && self.exclude == other.exclude
            && self.max_depth == other.max_depth
            && self.max_file_size == other.max_file_size
            && self.min_file_size == other.min_file_size
            && self.case_insensitive == other.case_insensitive
    }
}

/// The result of an import: the rules, the report, and what was read.
#[derive(Debug, Clone)]
pub struct Import {
    pub spec: Spec,
    pub definitions_dir: PathBuf,
    pub profile_name: String,
    pub description: String,
    pub os: TargetOs,
    pub rules: Vec<RuleDraft>,
    /// Every definition read for this import (selected and referenced), in order.
    pub report: Vec<Definition>,
    /// Definition files read, relative to the folder, with their SHA-256: written into
    /// the TOML, so the profile's own SHA-256 (in the manifest) pins the exact texts.
    pub sources: Vec<(String, String)>,
}

/// Counts per outcome.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub definitions: usize,
    pub mapped: usize,
    pub partial: usize,
    pub not_applicable: usize,
    pub error: usize,
}

impl Import {
    pub fn counts(&self) -> Counts {
        let mut c = Counts::default();
        for d in &self.report {
            c.definitions += 1;
            match d.outcome {
                Outcome::Mapped => c.mapped += 1,
                Outcome::Partial => c.partial += 1,
                Outcome::NotApplicable => c.not_applicable += 1,
                Outcome::Error => c.error += 1,
            }
        }
        c
    }

    /// The errors, one line each (`FILE:LINE: message`).
    pub fn errors(&self) -> Vec<String> {
        self.report
            .iter()
            .flat_map(|d| d.entries.iter())
            .filter(|e| e.outcome == Outcome::Error)
            .map(|e| format!("{}: {}: {}", e.location, e.what, e.notes.join("; ")))
            .collect()
    }

    /// The report as text: one line per definition, indented lines for entries that
    /// were not mapped as they are.
    pub fn report_text(&self) -> String {
        let mut s = String::new();
        for d in &self.report {
            s.push_str(&format!(
                "{:<14} {} ({})\n",
                d.outcome.name(),
                d.name,
                d.location
            ));
            for e in &d.entries {
                if e.outcome == Outcome::Mapped && e.notes.is_empty() {
                    continue;
                }
                s.push_str(&format!(
                    "  {:<12} {}: {}{}\n",
                    e.outcome.name(),
                    e.location,
                    e.what,
                    if e.notes.is_empty() {
                        String::new()
                    } else {
                        format!(": {}", e.notes.join("; "))
                    }
                ));
            }
        }
        let c = self.counts();
        s.push_str(&format!(
            "{}: {} definitions: {} mapped, {} partial, {} not applicable, {} errors; {} rules\n",
            self.spec.text,
            c.definitions,
            c.mapped,
            c.partial,
            c.not_applicable,
            c.error,
            self.rules.len()
        ));
        s
    }

    /// The native profile TOML: deterministic (no times, sorted nothing the import did
    /// not order), with the origin of every rule and the definition files' SHA-256.
    pub fn to_toml(&self) -> String {
        let mut s = String::new();
        s.push_str(&format!(
            "# fieldkit profile imported by `fieldkit profiles import {}`.\n",
            self.spec.text
        ));
        s.push_str(
            "# Generated: edit the definitions, or copy this file and edit it as your own.\n",
        );
        s.push_str("# Definition files read (SHA-256, relative to --definitions):\n");
        for (file, digest) in &self.sources {
            s.push_str(&format!("#   {digest}  {file}\n"));
        }
        let c = self.counts();
        s.push_str(&format!(
            "# Definitions: {} mapped, {} partly mapped, {} not applicable, {} errors \
             (details: `fieldkit profiles import … --report`).\n",
            c.mapped, c.partial, c.not_applicable, c.error
        ));
        s.push_str(&format!("name = {}\n", quote(&self.profile_name)));
        s.push_str(&format!("description = {}\n", quote(&self.description)));
        s.push_str("format_version = 1\n");
        s.push_str(&format!("os = {}\n", quote(self.os.name())));
        for r in &self.rules {
            s.push('\n');
            for o in &r.origin {
                s.push_str(&format!("# from {o}\n"));
            }
            for n in &r.notes {
                s.push_str(&format!("# note: {}\n", n.replace('\n', " ")));
            }
            s.push_str("[[rule]]\n");
            s.push_str(&format!("name = {}\n", quote(&r.name)));
            s.push_str(&format!("category = {}\n", quote(&r.category)));
            if !r.description.is_empty() {
                s.push_str(&format!("description = {}\n", quote(&r.description)));
            }
            if let Some(ci) = r.case_insensitive {
                s.push_str(&format!("case_insensitive = {ci}\n"));
            }
            s.push_str(&format!("paths = {}\n", list(&r.paths)));
            if !r.names.is_empty() {
                s.push_str(&format!("names = {}\n", list(&r.names)));
            }
            if !r.name_regex.is_empty() {
                s.push_str(&format!("name_regex = {}\n", list(&r.name_regex)));
            }
            if !r.exclude.is_empty() {
                s.push_str(&format!("exclude = {}\n", list(&r.exclude)));
            }
            if let Some(d) = r.max_depth {
                s.push_str(&format!("max_depth = {d}\n"));
            }
            if let Some(n) = r.min_file_size {
                s.push_str(&format!("min_file_size = {n}\n"));
            }
            if let Some(n) = r.max_file_size {
                s.push_str(&format!("max_file_size = {n}\n"));
            }
        }
        s
    }

    /// The imported profile, loaded through the native parser.
    pub fn to_profile(&self) -> anyhow::Result<Profile> {
        if self.rules.is_empty() {
            bail!(
                "{}: nothing to collect: no definition maps onto files ({})",
                self.spec.text,
                summary_line(&self.counts())
            );
        }
        let text = self.to_toml();
        Profile::from_toml(
            &text,
            &self.spec.text,
            Origin::Import {
                spec: self.spec.text.clone(),
                definitions: self.definitions_dir.clone(),
            },
        )
        .map_err(|errs| {
            anyhow!(
                "{}: the imported profile does not load (an importer bug; please report): {}",
                self.spec.text,
                errs.join("; ")
            )
        })
    }
}

fn summary_line(c: &Counts) -> String {
    format!(
        "{} mapped, {} partial, {} not applicable, {} errors",
        c.mapped, c.partial, c.not_applicable, c.error
    )
}

fn quote(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

fn list(items: &[String]) -> String {
    let inner: Vec<String> = items.iter().map(|i| quote(i)).collect();
    if inner.iter().map(String::len).sum::<usize>() < 80 {
        format!("[{}]", inner.join(", "))
    } else {
        format!("[\n  {},\n]", inner.join(",\n  "))
    }
}

/// Run the importer the spec names over `definitions`.
pub fn import(spec: &Spec, definitions: &Path) -> anyhow::Result<Import> {
    let meta = std::fs::metadata(definitions).with_context(|| {
        format!(
            "{}: cannot read the definitions folder",
            definitions.display()
        )
    })?;
    if !meta.is_dir() {
        bail!(
            "{}: --definitions must be the folder of the {} library",
            definitions.display(),
            spec.library.prefix()
        );
    }
    let mut import = match spec.library {
        Library::Kape => kape::import(spec, definitions)?,
        Library::Uac => uac::import(spec, definitions)?,
        Library::Fa => fa::import(spec, definitions)?,
    };
    merge_rules(&mut import.rules);
    unique_names(&mut import.rules);
    Ok(import)
}

/// Load `--profile SPEC` with `--definitions DIR`: refuses an import with errors (a
/// profile that silently collects less is worse than none).
pub fn load(spec: &Spec, definitions: Option<&Path>) -> anyhow::Result<(Profile, Import)> {
    let dir = definitions.ok_or_else(|| {
        anyhow!(
            "--profile {}: give --definitions DIR, the folder of the {} library (fieldkit \
             embeds no third-party definitions)",
            spec.text,
            match spec.library {
                Library::Kape => "KapeFiles (Targets)",
                Library::Uac => "UAC (artifacts/ and profiles/)",
                Library::Fa => "ForensicArtifacts (artifacts/data)",
            }
        )
    })?;
    let import = import(spec, dir)?;
    let errors = import.errors();
    if !errors.is_empty() {
        bail!(
            "--profile {}: {} definition error(s); nothing collected:\n{}",
            spec.text,
            errors.len(),
            errors.join("\n")
        );
    }
    let profile = import.to_profile()?;
    Ok((profile, import))
}

/// Drafts that select the same way under the same name are one rule with all the paths.
fn merge_rules(rules: &mut Vec<RuleDraft>) {
    let mut out: Vec<RuleDraft> = Vec::new();
    for r in rules.drain(..) {
        match out.iter_mut().find(|o| o.same_selection(&r)) {
            Some(o) => {
                for p in r.paths {
                    if !o.paths.contains(&p) {
                        o.paths.push(p);
                    }
                }
                o.origin.extend(r.origin);
                for n in r.notes {
                    if !o.notes.contains(&n) {
                        o.notes.push(n);
                    }
                }
            }
            None => out.push(r),
        }
    }
    *rules = out;
}

/// Rule names must be unique in a profile: later namesakes get ` #2`, ` #3`, …
fn unique_names(rules: &mut [RuleDraft]) {
    let mut seen = std::collections::HashMap::<String, usize>::new();
    for r in rules.iter_mut() {
        let n = seen.entry(r.name.clone()).or_insert(0);
        *n += 1;
        if *n > 1 {
            r.name = format!("{} #{}", r.name, n);
        }
    }
}

/// A definition file's text, bounded, with its SHA-256.
pub fn read_definition(path: &Path) -> Result<(String, String), String> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(|e| format!("cannot open: {e}"))?;
    let mut bytes = Vec::new();
    file.take(MAX_DEFINITION_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read: {e}"))?;
    if bytes.len() as u64 > MAX_DEFINITION_BYTES {
        return Err(format!(
            "larger than {} MiB: not a definition file",
            MAX_DEFINITION_BYTES >> 20
        ));
    }
    let digest = hex(&sha256(&bytes));
    // KapeFiles and UAC are UTF-8; a BOM (written by some Windows editors) is dropped.
    let text = String::from_utf8(bytes)
        .map_err(|e| format!("not UTF-8 (byte offset {})", e.utf8_error().valid_up_to()))?;
    Ok((text.trim_start_matches('\u{feff}').to_string(), digest))
}

/// Every file under `dir` whose name ends with `ext`, sorted by path (so imports are
/// repeatable), skipping symlinks (a definitions folder is read, never followed out of).
pub fn files_with_extension(dir: &Path, ext: &str) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for entry in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let entry = entry.with_context(|| format!("{}: cannot list", dir.display()))?;
        if entry.file_type().is_file()
            && entry
                .file_name()
                .to_string_lossy()
                .to_ascii_lowercase()
                .ends_with(ext)
        {
            out.push(entry.into_path());
        }
    }
    Ok(out)
}

/// `path` relative to `dir`, with `/`.
pub fn relative(dir: &Path, path: &Path) -> String {
    path.strip_prefix(dir)
        .unwrap_or(path)
        .to_string_lossy()
        .replace('\\', "/")
}

/// A component escaped for the native pattern syntax: the characters in `literal` are
/// wildcards in native patterns but plain characters in the source syntax.
pub fn escape_component(component: &str, literal: &[char]) -> String {
    let mut s = String::with_capacity(component.len());
    for c in component.chars() {
        if literal.contains(&c) {
            s.push('[');
            s.push(c);
            s.push(']');
        } else {
            s.push(c);
        }
    }
    s
}

/// The line (1-based) of byte `offset` in `text`.
pub fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_name_the_library_and_the_definitions() {
        let s = Spec::parse("fa:WindowsEventLogs, BrowserHistory")
            .unwrap()
            .unwrap();
        assert_eq!(s.library, Library::Fa);
        assert_eq!(s.names, ["WindowsEventLogs", "BrowserHistory"]);
        let u = Spec::parse("uac:ir_triage@macos").unwrap().unwrap();
        assert_eq!(u.os.as_deref(), Some("macos"));
        assert!(Spec::parse("linux-triage").is_none());
        assert!(Spec::parse("./x.toml").is_none());
        assert!(Spec::parse("kape:").unwrap().is_err());
    }

    #[test]
    fn outcomes_combine_to_the_worst_loss() {
        use Outcome::*;
        assert_eq!(Outcome::combine([Mapped, Mapped]), Mapped);
        assert_eq!(Outcome::combine([Mapped, NotApplicable]), Mapped);
        assert_eq!(Outcome::combine([Mapped, Partial, NotApplicable]), Partial);
        assert_eq!(Outcome::combine([NotApplicable]), NotApplicable);
        assert_eq!(Outcome::combine([Mapped, Error]), Error);
        assert_eq!(Outcome::combine([]), NotApplicable);
    }

    #[test]
    fn literal_brackets_are_escaped_for_native_patterns() {
        assert_eq!(
            escape_component("a[1]{x}", &['[', ']', '{', '}']),
            "a[[]1[]][{]x[}]"
        );
        let p = crate::profile::pattern::PathPattern::compile(
            &format!("/{}", escape_component("a[1]{x}", &['[', ']', '{', '}'])),
            false,
        )
        .unwrap();
        assert!(p.matches(&[std::ffi::OsStr::new("a[1]{x}")]));
    }
}
