//! KAPE targets (`.tkape`, from the KapeFiles repository) as fieldkit rules.
//!
//! Owns reading `.tkape` YAML (serde-saphyr) and mapping each target entry: `Path` with
//! the drive letter as the source root and `%user%`/`%users%` as every folder under it
//! (KAPE expands them to each user-profile directory, so `C:\Users\%user%\` is
//! `/Users/*/`), `FileMask` globs and `regex:` masks, `Recursive`, `IsDirectory`,
//! `MinSize`/`MaxSize`, `SaveAsFileName`, `AlwaysAddToQueue`; compound targets (a `Path`
//! naming another `.tkape`) are followed with cycle detection, and targets under
//! `!Disabled` are not loaded, as in KAPE. Never guesses silently: anything that changes
//! or loses what KAPE would take is a note in the report (and a comment in the TOML).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

use super::{
    Definition, Entry, Import, Outcome, RuleDraft, Spec, escape_component, files_with_extension,
    read_definition, relative,
};
use crate::profile::TargetOs;

/// Characters that are wildcards in native patterns but literal in KAPE paths and masks
/// (KAPE knows only `*` and `?`).
const LITERAL: &[char] = &['[', ']', '{', '}'];

#[derive(Deserialize)]
struct TkapeDoc {
    #[serde(rename = "Description", default)]
    description: Option<Value>,
    #[serde(rename = "Targets", default)]
    targets: Option<Vec<serde_saphyr::Spanned<Value>>>,
}

struct Library {
    dir: PathBuf,
    /// Lower-case file stem → enabled `.tkape` files with that name.
    enabled: HashMap<String, Vec<PathBuf>>,
    /// Lower-case file stem → files under `!Disabled`.
    disabled: HashMap<String, Vec<PathBuf>>,
    all: Vec<PathBuf>,
}

impl Library {
    fn load(dir: &Path) -> anyhow::Result<Library> {
        let all = files_with_extension(dir, ".tkape")?;
        let mut enabled: HashMap<String, Vec<PathBuf>> = HashMap::new();
        let mut disabled: HashMap<String, Vec<PathBuf>> = HashMap::new();
        for p in &all {
            let stem = stem_of(p);
            let is_disabled = p
                .strip_prefix(dir)
                .unwrap_or(p)
                .components()
                .any(|c| c.as_os_str().eq_ignore_ascii_case("!Disabled"));
            let map = if is_disabled {
                &mut disabled
            } else {
                &mut enabled
            };
            map.entry(stem.to_lowercase()).or_default().push(p.clone());
        }
        if all.is_empty() {
            anyhow::bail!(
                "{}: no .tkape files: give the KapeFiles folder (or its Targets folder)",
                dir.display()
            );
        }
        Ok(Library {
            dir: dir.to_path_buf(),
            enabled,
            disabled,
            all,
        })
    }
}

fn stem_of(p: &Path) -> String {
    let name = p
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    match name.len().checked_sub(6) {
        Some(cut) if name.is_char_boundary(cut) && name[cut..].eq_ignore_ascii_case(".tkape") => {
            name[..cut].to_string()
        }
        _ => name,
    }
}

struct Walk<'a> {
    lib: &'a Library,
    report: Vec<Definition>,
    rules: Vec<RuleDraft>,
    sources: Vec<(String, String)>,
    visited: HashMap<PathBuf, ()>,
}

enum Resolved {
    File(PathBuf),
    Disabled(PathBuf),
    Missing,
    Ambiguous(Vec<PathBuf>),
}

impl Walk<'_> {
    fn resolve(&self, name: &str) -> Resolved {
        let key = name.trim();
        let key = stem_of(Path::new(key)).to_lowercase();
        match self.lib.enabled.get(&key) {
            Some(v) if v.len() == 1 => Resolved::File(v[0].clone()),
            Some(v) => Resolved::Ambiguous(v.clone()),
            None => match self.lib.disabled.get(&key) {
                Some(v) => Resolved::Disabled(v[0].clone()),
                None => Resolved::Missing,
            },
        }
    }

    /// Map one `.tkape` file (and, depth first, everything it references).
    fn visit(&mut self, file: &Path, stack: &mut Vec<String>, load_rules: bool) {
        if self.visited.contains_key(file) {
            return;
        }
        self.visited.insert(file.to_path_buf(), ());
        let rel = relative(&self.lib.dir, file);
        let stem = stem_of(file);
        let (text, digest) = match read_definition(file) {
            Ok(t) => t,
            Err(e) => {
                self.report
                    .push(Definition::failed(stem, format!("{rel}:1"), e));
                return;
            }
        };
        self.sources.push((rel.clone(), digest));
        let doc: TkapeDoc = match serde_saphyr::from_str(&text) {
            Ok(d) => d,
            Err(e) => {
                let line = e.location().map(|l| l.line()).unwrap_or(1);
                let msg = e.to_string();
                let first = msg.lines().next().unwrap_or("YAML error").to_string();
                self.report.push(Definition::failed(
                    stem,
                    format!("{rel}:{line}"),
                    format!("YAML: {first}"),
                ));
                return;
            }
        };
        let description = doc
            .description
            .as_ref()
            .map(scalar_text)
            .unwrap_or_default();
        let index = self.report.len();
        self.report.push(Definition::new(
            stem.clone(),
            format!("{rel}:1"),
            Vec::new(),
        ));
        let mut entries = Vec::new();
        let targets = doc.targets.unwrap_or_default();
        if targets.is_empty() {
            entries.push(Entry {
                location: format!("{rel}:1"),
                what: "Targets".into(),
                outcome: Outcome::Error,
                notes: vec!["no Targets: the file defines nothing".into()],
            });
        }
        stack.push(stem.clone());
        for t in &targets {
            let location = format!("{rel}:{}", t.referenced.line());
            let entry = match t.value.as_object() {
                Some(map) => self.target(map, &location, &stem, &description, stack, load_rules),
                None => Entry {
                    location,
                    what: "target".into(),
                    outcome: Outcome::Error,
                    notes: vec!["a target must be a mapping of Name, Path, FileMask, …".into()],
                },
            };
            entries.push(entry);
        }
        stack.pop();
        let name = self.report[index].name.clone();
        let location = self.report[index].location.clone();
        self.report[index] = Definition::new(name, location, entries);
    }

    fn target(
        &mut self,
        map: &serde_json::Map<String, Value>,
        location: &str,
        stem: &str,
        file_description: &str,
        stack: &mut Vec<String>,
        load_rules: bool,
    ) -> Entry {
        // KAPE's keys are PascalCase; read them case-insensitively.
        let fields: BTreeMap<String, &Value> = map
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v))
            .collect();
        let get = |k: &str| fields.get(k).copied();
        let name = get("name")
            .map(scalar_text)
            .unwrap_or_else(|| stem.to_string());
        let mut notes = Vec::new();
        let mut outcome = Outcome::Mapped;
        for key in map.keys() {
            let known = [
                "name",
                "category",
                "path",
                "filemask",
                "recursive",
                "isdirectory",
                "alwaysaddtoqueue",
                "saveasfilename",
                "minsize",
                "maxsize",
                "comment",
            ];
            if !known.contains(&key.to_ascii_lowercase().as_str()) {
                notes.push(format!("unknown key {key:?} ignored"));
                outcome = Outcome::Partial;
            }
        }
        let Some(path) = get("path")
            .map(scalar_text)
            .filter(|p| !p.trim().is_empty())
        else {
            return Entry {
                location: location.into(),
                what: name,
                outcome: Outcome::Error,
                notes: vec!["no Path".into()],
            };
        };
        // A compound target: the Path names another target file.
        if path.trim().to_ascii_lowercase().ends_with(".tkape") {
            let child = path.trim().to_string();
            return match self.resolve(&child) {
                Resolved::File(f) => {
                    let child_stem = stem_of(&f);
                    if let Some(at) = stack
                        .iter()
                        .position(|s| s.eq_ignore_ascii_case(&child_stem))
                    {
                        let mut chain: Vec<String> = stack[at..].to_vec();
                        chain.push(child_stem);
                        Entry {
                            location: location.into(),
                            what: format!("{name} -> {child}"),
                            outcome: Outcome::Error,
                            notes: vec![format!("reference cycle: {}", chain.join(" -> "))],
                        }
                    } else {
                        self.visit(&f, stack, load_rules);
                        Entry {
                            location: location.into(),
                            what: format!("{name} -> {child}"),
                            outcome: Outcome::Mapped,
                            notes,
                        }
                    }
                }
                Resolved::Disabled(f) => Entry {
                    location: location.into(),
                    what: format!("{name} -> {child}"),
                    outcome: Outcome::NotApplicable,
                    notes: vec![format!(
                        "{} is disabled (under !Disabled): KAPE does not load it",
                        relative(&self.lib.dir, &f)
                    )],
                },
                Resolved::Missing => Entry {
                    location: location.into(),
                    what: format!("{name} -> {child}"),
                    outcome: Outcome::Error,
                    notes: vec![format!("no target {child} in the library")],
                },
                Resolved::Ambiguous(v) => Entry {
                    location: location.into(),
                    what: format!("{name} -> {child}"),
                    outcome: Outcome::Error,
                    notes: vec![format!(
                        "{child} is defined {} times: {}",
                        v.len(),
                        v.iter()
                            .map(|p| relative(&self.lib.dir, p))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )],
                },
            };
        }
        let category = get("category")
            .map(scalar_text)
            .filter(|c| !c.is_empty())
            .unwrap_or_else(|| "kape".into());
        let recursive = match get("recursive").map(flag) {
            Some(Ok(b)) => b,
            Some(Err(t)) => {
                return error(
                    location,
                    name,
                    format!("Recursive {t:?} is not true or false"),
                );
            }
            None => false,
        };
        let is_directory = match get("isdirectory").map(flag) {
            Some(Ok(b)) => b,
            Some(Err(t)) => {
                return error(
                    location,
                    name,
                    format!("IsDirectory {t:?} is not true or false"),
                );
            }
            None => true,
        };
        let min = match get("minsize").map(size) {
            Some(Ok(n)) => Some(n),
            Some(Err(t)) => {
                return error(location, name, format!("MinSize {t:?} is not a byte count"));
            }
            None => None,
        };
        let max = match get("maxsize").map(size) {
            Some(Ok(n)) => Some(n),
            Some(Err(t)) => {
                return error(location, name, format!("MaxSize {t:?} is not a byte count"));
            }
            None => None,
        };
        let mut components = match path_components(&path, &mut notes) {
            Ok(c) => c,
            Err(e) => return error(location, name, e),
        };
        if notes.iter().any(|n| n.contains("inside the component")) {
            outcome = Outcome::Partial;
        }
        let mut mask = get("filemask").map(scalar_text).filter(|m| !m.is_empty());
        if !is_directory && mask.is_none() {
            // Older targets name the file itself in Path.
            mask = components.pop();
        }
        let mask = mask.unwrap_or_else(|| "*".to_string());
        let mut draft = RuleDraft {
            name: format!("{stem}: {name}"),
            category,
            description: get("comment")
                .map(scalar_text)
                .filter(|c| !c.is_empty())
                .unwrap_or_else(|| {
                    if file_description.is_empty() {
                        name.clone()
                    } else {
                        file_description.to_string()
                    }
                }),
            min_file_size: min,
            max_file_size: max,
            origin: vec![location.to_string()],
            ..RuleDraft::default()
        };
        let dir = if components.is_empty() {
            String::new()
        } else {
            format!("/{}", components.join("/"))
        };
        let lower = mask.to_ascii_lowercase();
        if let Some(re) = lower.strip_prefix("regex:").map(|_| &mask[6..]) {
            let mut re = re.to_string();
            if re.starts_with('*') {
                // `*.+\.(db)`: a glob habit at the start of KAPE regexes; .NET would reject
                // a leading quantifier, so it is read as `.*`.
                re.insert(0, '.');
                notes.push("the regex's leading '*' is read as '.*'".into());
            }
            if let Err(e) = regex::RegexBuilder::new(&re).size_limit(1 << 20).build() {
                return error(
                    location,
                    name,
                    format!(
                        "bad regex {re:?}: {}",
                        e.to_string().lines().last().unwrap_or("invalid")
                    ),
                );
            }
            draft.name_regex = vec![re];
            draft.paths = vec![if recursive {
                format!("{dir}/**")
            } else {
                format!("{dir}/*")
            }];
        } else {
            if mask.contains(':') {
                notes.push(format!(
                    "FileMask {mask:?} names an alternate data stream: not collected (the \
                     file API reads a file's main stream; raw NTFS access is a later feature)"
                ));
                return Entry {
                    location: location.into(),
                    what: name,
                    outcome: Outcome::Partial,
                    notes,
                };
            }
            let mut mask_parts: Vec<String> = mask
                .split(['\\', '/'])
                .filter(|p| !p.is_empty())
                .map(|p| escape_component(p, LITERAL))
                .collect();
            let file = mask_parts.pop().unwrap_or_else(|| "*".into());
            let sub = if mask_parts.is_empty() {
                String::new()
            } else {
                format!("/{}", mask_parts.join("/"))
            };
            draft.paths = vec![if recursive {
                format!("{dir}/**{sub}/{file}")
            } else {
                format!("{dir}{sub}/{file}")
            }];
        }
        if let Some(save_as) = get("saveasfilename").map(scalar_text) {
            if save_as.eq_ignore_ascii_case(&mask) {
                notes.push("SaveAsFileName is the file's own name".into());
            } else {
                notes.push(format!(
                    "SaveAsFileName {save_as:?} not applied: a member keeps its original \
                     path (docs/bundle-format.md); files.jsonl maps it"
                ));
                outcome = Outcome::Partial;
            }
        }
        if get("alwaysaddtoqueue").map(flag) == Some(Ok(true)) {
            notes.push(
                "AlwaysAddToQueue: every file is read the same way; one held by another \
                 process is recorded as locked"
                    .into(),
            );
        }
        draft.notes = notes.clone();
        if load_rules {
            self.rules.push(draft);
        }
        Entry {
            location: location.into(),
            what: name,
            outcome,
            notes,
        }
    }
}

fn error(location: &str, what: String, message: String) -> Entry {
    Entry {
        location: location.into(),
        what,
        outcome: Outcome::Error,
        notes: vec![message],
    }
}

/// A YAML scalar as text (KAPE files have numbers and booleans where text is meant).
fn scalar_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.trim().to_string(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn flag(v: &Value) -> Result<bool, String> {
    match v {
        Value::Bool(b) => Ok(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Ok(false),
        other => Err(scalar_text(other)),
    }
}

fn size(v: &Value) -> Result<u64, String> {
    match v {
        Value::Number(n) => n.as_u64().ok_or_else(|| n.to_string()),
        Value::String(s) => s.trim().parse().map_err(|_| s.clone()),
        other => Err(scalar_text(other)),
    }
}

/// `C:\Users\%user%\AppData\` → `["Users", "*", "AppData"]`, components escaped.
fn path_components(path: &str, notes: &mut Vec<String>) -> Result<Vec<String>, String> {
    let mut rest = path.trim();
    // The drive letter is the source's root (KAPE replaces it with --tsource).
    if rest.len() >= 2 && rest.as_bytes()[1] == b':' && rest.as_bytes()[0].is_ascii_alphabetic() {
        rest = &rest[2..];
    }
    let mut out = Vec::new();
    for comp in rest.split(['\\', '/']).filter(|c| !c.is_empty()) {
        if comp == "." || comp == ".." {
            return Err(format!("Path {path:?} contains {comp:?}"));
        }
        let mut text = escape_component(comp, LITERAL);
        let lower = text.to_ascii_lowercase();
        if lower == "%user%" || lower == "%users%" {
            out.push("*".to_string());
            continue;
        }
        for var in ["%users%", "%user%"] {
            while let Some(at) = text.to_ascii_lowercase().find(var) {
                notes.push(format!(
                    "{var} inside the component {comp:?} is read as '*' (the definition \
                     probably lacks a '\\')"
                ));
                text.replace_range(at..at + var.len(), "*");
            }
        }
        if let Some(start) = text.find('%')
            && let Some(len) = text[start + 1..].find('%')
            && len > 0
        {
            return Err(format!(
                "Path {path:?}: unknown variable {} (KAPE targets know %user% and %users%)",
                &text[start..start + len + 2]
            ));
        }
        out.push(text);
    }
    Ok(out)
}

pub fn import(spec: &Spec, dir: &Path) -> anyhow::Result<Import> {
    let lib = Library::load(dir)?;
    let mut walk = Walk {
        lib: &lib,
        report: Vec::new(),
        rules: Vec::new(),
        sources: Vec::new(),
        visited: HashMap::new(),
    };
    if spec.selects_all() {
        // Every file, for the report; disabled ones are read but give no rules.
        for f in &lib.all {
            let disabled = !lib
                .enabled
                .get(&stem_of(f).to_lowercase())
                .is_some_and(|v| v.contains(f));
            walk.visit(f, &mut Vec::new(), !disabled);
        }
    } else {
        for name in &spec.names {
            match walk.resolve(name) {
                Resolved::File(f) => walk.visit(&f, &mut Vec::new(), true),
                Resolved::Disabled(f) => anyhow::bail!(
                    "kape:{name}: {} is disabled (under !Disabled): KAPE does not load it",
                    relative(dir, &f)
                ),
                Resolved::Missing => anyhow::bail!(
                    "kape:{name}: no target {name}.tkape under {}",
                    dir.display()
                ),
                Resolved::Ambiguous(v) => anyhow::bail!(
                    "kape:{name}: defined {} times: {}",
                    v.len(),
                    v.iter()
                        .map(|p| relative(dir, p))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            }
        }
    }
    let names = spec.names.join(",");
    Ok(Import {
        spec: spec.clone(),
        definitions_dir: dir.to_path_buf(),
        profile_name: format!("kape-{}", names.replace('*', "all")),
        description: format!("KAPE target(s) {names}, imported from KapeFiles"),
        os: TargetOs::Windows,
        rules: walk.rules,
        report: walk.report,
        sources: walk.sources,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn library(files: &[(&str, &str)]) -> tempfile::TempDir {
        let t = tempfile::tempdir().unwrap();
        for (name, text) in files {
            let p = t.path().join(name);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        t
    }

    const HEAD: &str =
        "Description: t\nAuthor: a\nVersion: 1.0\nId: x\nRecreateDirectories: true\nTargets:\n";

    #[test]
    fn masks_variables_recursion_and_regexes_map_onto_native_patterns() {
        let t = library(&[(
            "Targets/Windows/T.tkape",
            &format!(
                "{HEAD}    -\n        Name: Hives\n        Category: Registry\n        Path: C:\\Users\\%user%\\\n        FileMask: NTUSER.DAT*\n    -\n        Name: Logs\n        Category: Logs\n        Path: C:\\Windows\\Logs\\[x]\\\n        Recursive: true\n        MaxSize: 1000\n    -\n        Name: Db\n        Category: Apps\n        Path: C:\\Data\\\n        FileMask: regex:*.+\\.(db|db-wal)\n        MinSize: 10\n"
            ),
        )]);
        let spec = Spec::parse("kape:T").unwrap().unwrap();
        let imp = super::super::import(&spec, t.path()).unwrap();
        let paths: Vec<_> = imp.rules.iter().map(|r| r.paths.clone()).collect();
        assert_eq!(
            paths,
            [
                vec!["/Users/*/NTUSER.DAT*".to_string()],
                vec!["/Windows/Logs/[[]x[]]/**/*".to_string()],
                vec!["/Data/*".to_string()]
            ]
        );
        assert_eq!(imp.rules[1].max_file_size, Some(1000));
        assert_eq!(imp.rules[2].name_regex, [".*.+\\.(db|db-wal)"]);
        assert_eq!(imp.rules[2].min_file_size, Some(10));
        let p = imp.to_profile().unwrap();
        assert!(p.case_insensitive);
        assert_eq!(p.rules.len(), 3);
    }

    #[test]
    fn compound_targets_recurse_detect_cycles_and_skip_disabled_ones() {
        let t = library(&[
            (
                "A.tkape",
                &format!(
                    "{HEAD}    -\n        Name: b\n        Category: T\n        Path: B.tkape\n    -\n        Name: off\n        Category: T\n        Path: Off.tkape\n"
                ),
            ),
            (
                "B.tkape",
                &format!(
                    "{HEAD}    -\n        Name: a\n        Category: T\n        Path: A.tkape\n    -\n        Name: f\n        Category: F\n        Path: C:\\f\\\n"
                ),
            ),
            (
                "!Disabled/Off.tkape",
                &format!(
                    "{HEAD}    -\n        Name: x\n        Category: F\n        Path: C:\\x\\\n"
                ),
            ),
        ]);
        let spec = Spec::parse("kape:A").unwrap().unwrap();
        let imp = super::super::import(&spec, t.path()).unwrap();
        let text = imp.report_text();
        assert!(text.contains("reference cycle: A -> B -> A"), "{text}");
        assert!(text.contains("!Disabled/Off.tkape is disabled"), "{text}");
        assert_eq!(imp.rules.len(), 1);
        assert_eq!(imp.rules[0].paths, ["/f/*"]);
        assert_eq!(imp.errors().len(), 1, "{text}");
        assert!(super::super::load(&spec, Some(t.path())).is_err());
    }

    #[test]
    fn alternate_streams_and_renames_are_reported_as_lost() {
        let t = library(&[(
            "J.tkape",
            &format!(
                "{HEAD}    -\n        Name: $J\n        Category: FileSystem\n        Path: C:\\$Extend\\\n        FileMask: $UsnJrnl:$J\n        SaveAsFileName: $J\n    -\n        Name: $J\n        Category: FileSystem\n        Path: C:\\$Extend\\\n        FileMask: $J\n        SaveAsFileName: $J\n"
            ),
        )]);
        let spec = Spec::parse("kape:J").unwrap().unwrap();
        let imp = super::super::import(&spec, t.path()).unwrap();
        assert_eq!(imp.report[0].outcome, Outcome::Partial);
        assert!(imp.report_text().contains("alternate data stream"));
        assert_eq!(imp.rules.len(), 1);
        assert_eq!(imp.rules[0].paths, ["/$Extend/$J"]);
    }
}
