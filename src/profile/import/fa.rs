//! ForensicArtifacts definitions (the `artifacts` project's YAML) as fieldkit rules.
//!
//! Owns reading the multi-document YAML (serde-saphyr, one document at a time so an
//! error names its artifact and line) and mapping sources: `FILE` and `PATH` glob paths
//! (with `separator`, `**` and its depth suffix `**N`, and the knowledge-base
//! interpolations `%%users.homedir%%`, `%%environ_systemroot%%`, …), `DIRECTORY` (the
//! files in it), `ARTIFACT_GROUP` (followed, with cycle detection), and
//! `REGISTRY_KEY`/`REGISTRY_VALUE` mapped to the hive files that hold them (partly: the
//! whole hive is collected, the key is read from it in the lab). `WMI` and `COMMAND`
//! are not applicable (fieldkit runs nothing on the host). Interpolations that the
//! knowledge base fills from the live registry are given their standard Windows values
//! (Vista and later, and XP's where they differ), and say so in the report.

use std::collections::HashMap;
use std::path::Path;

use serde::Deserialize;
use serde_json::Value;

use super::{
    Definition, Entry, Import, Outcome, RuleDraft, Spec, files_with_extension, read_definition,
    relative,
};
use crate::profile::TargetOs;

/// Depth of a bare `**` (the ForensicArtifacts style guide's default).
const DEFAULT_GLOB_DEPTH: u32 = 3;
/// More expanded patterns than this for one path is an error, not a profile.
const MAX_EXPANSIONS: usize = 256;

#[derive(Deserialize)]
struct FaDoc {
    name: Option<String>,
    #[serde(default)]
    aliases: Vec<String>,
    #[serde(default)]
    doc: Option<String>,
    #[serde(default)]
    sources: Vec<serde_saphyr::Spanned<FaSource>>,
    #[serde(default)]
    supported_os: Vec<String>,
    #[serde(default)]
    labels: Vec<String>,
}

#[derive(Deserialize)]
struct FaSource {
    #[serde(rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    attributes: Value,
    #[serde(default)]
    supported_os: Vec<String>,
}

struct Artifact {
    doc: FaDoc,
    file: String,
    line: usize,
}

/// Split a file into its `---` documents: (first line, text).
fn documents(text: &str) -> Vec<(usize, String)> {
    let mut docs = Vec::new();
    let mut cur = String::new();
    let mut start = 1;
    for (i, line) in text.lines().enumerate() {
        if line.trim_end() == "---" {
            docs.push((start, std::mem::take(&mut cur)));
            start = i + 2;
            continue;
        }
        cur.push_str(line);
        cur.push('\n');
    }
    docs.push((start, cur));
    docs.retain(|(_, t)| {
        t.lines()
            .any(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
    });
    docs
}

/// Parse one document; PyYAML (with which the project validates its files) accepts a
/// flow-mapping key glued to its value (`{paths:['/x']}`), YAML 1.2 does not: at exactly
/// the place the parser names, a space is inserted and the document parsed again.
fn parse_document(text: &str) -> Result<(FaDoc, Option<String>), (usize, String)> {
    let mut text = text.to_string();
    let mut note = None;
    for _ in 0..8 {
        match serde_saphyr::from_str::<FaDoc>(&text) {
            Ok(d) => return Ok((d, note)),
            Err(e) => {
                let msg = e.to_string();
                let first = msg.lines().next().unwrap_or("YAML error").to_string();
                let Some(loc) = e.location() else {
                    return Err((1, first));
                };
                let line = loc.line() as usize;
                let col = loc.column() as usize;
                if line == 0 {
                    return Err((1, first));
                }
                let fixed = text.lines().nth(line.saturating_sub(1)).and_then(|l| {
                    let chars: Vec<char> = l.chars().collect();
                    let at = col.checked_sub(1)?;
                    (chars.get(at) == Some(&':')
                        && matches!(chars.get(at + 1), Some('[' | '{' | '\'' | '"')))
                    .then(|| {
                        let mut c = chars.clone();
                        c.insert(at + 1, ' ');
                        c.into_iter().collect::<String>()
                    })
                });
                match fixed {
                    Some(new_line) => {
                        let mut lines: Vec<&str> = text.lines().collect();
                        lines[line - 1] = &new_line;
                        text = lines.join("\n") + "\n";
                        note = Some(format!(
                            "line {line}: `key:[` without a space after ':' read as PyYAML reads it"
                        ));
                    }
                    None => return Err((line, first)),
                }
            }
        }
    }
    Err((1, "YAML: too many errors".into()))
}

fn os_of(names: &[String]) -> Vec<TargetOs> {
    names
        .iter()
        .filter_map(|n| match n.as_str() {
            "Windows" => Some(TargetOs::Windows),
            "Linux" => Some(TargetOs::Linux),
            "Darwin" => Some(TargetOs::Macos),
            _ => None,
        })
        .collect()
}

/// The values an interpolation stands for, and a note when it is an assumption.
fn interpolation(name: &str) -> Option<(Vec<&'static str>, Option<&'static str>)> {
    let v = match name {
        "users.homedir" | "users.userprofile" => (vec!["${home}"], None),
        "users.appdata" => (
            vec!["${home}/AppData/Roaming", "${home}/Application Data"],
            None,
        ),
        "users.localappdata" => (
            vec![
                "${home}/AppData/Local",
                "${home}/Local Settings/Application Data",
            ],
            None,
        ),
        "users.temp" => (
            vec!["${home}/AppData/Local/Temp", "${home}/Local Settings/Temp"],
            None,
        ),
        "users.username" => (
            vec!["*"],
            Some("%%users.username%% is read as '*' (any name, not only accounts' names)"),
        ),
        "users.sid" => (
            vec!["S-1-*"],
            Some("%%users.sid%% is read as 'S-1-*' (any SID, not only those with a profile)"),
        ),
        "environ_systemroot" | "environ_windir" => (
            vec!["/Windows"],
            Some("%SystemRoot% is read as C:\\Windows (fieldkit reads no registry for it)"),
        ),
        "environ_systemdrive" => (vec![""], None),
        "environ_programfiles" => (vec!["/Program Files"], None),
        "environ_programfilesx86" => (vec!["/Program Files (x86)"], None),
        "environ_allusersappdata" | "environ_programdata" => (
            vec![
                "/ProgramData",
                "/Documents and Settings/All Users/Application Data",
            ],
            None,
        ),
        "environ_allusersprofile" => (
            vec!["/ProgramData", "/Documents and Settings/All Users"],
            None,
        ),
        _ => return None,
    };
    Some(v)
}

/// One definition path in native patterns (several: interpolations and `**N` expand).
fn native_paths(
    path: &str,
    separator: &str,
    notes: &mut Vec<String>,
) -> Result<Vec<String>, String> {
    // Interpolations first, each to all its values.
    let mut variants = vec![String::new()];
    let mut rest = path;
    while let Some(start) = rest.find("%%") {
        let after = &rest[start + 2..];
        let Some(len) = after.find("%%") else {
            return Err(format!("path {path:?}: unterminated %%"));
        };
        let name = &after[..len];
        let Some((values, note)) = interpolation(name) else {
            return Err(format!("path {path:?}: unknown interpolation %%{name}%%"));
        };
        if let Some(n) = note
            && !notes.iter().any(|x| x == n)
        {
            notes.push(n.to_string());
        }
        let literal = &rest[..start];
        let mut next = Vec::new();
        for v in &variants {
            for value in &values {
                // Values are written with '/'; the definition's own separator splits the rest.
                next.push(format!("{v}{}{}", literal.replace(separator, "/"), value));
            }
        }
        variants = next;
        rest = &after[len + 2..];
    }
    for v in variants.iter_mut() {
        v.push_str(&rest.replace(separator, "/"));
    }
    let mut out = Vec::new();
    for v in variants {
        let mut v = v.as_str();
        if v.len() >= 2 && v.as_bytes()[1] == b':' && v.as_bytes()[0].is_ascii_alphabetic() {
            v = &v[2..];
        }
        let (home, body) = match v.strip_prefix("${home}") {
            Some(b) => (true, b),
            None => (false, v),
        };
        if body.contains("${home}") {
            return Err(format!("path {path:?}: a user directory must come first"));
        }
        if !home && !body.starts_with('/') {
            if separator != "\\" && body.contains('\\') {
                return Err(format!(
                    "path {path:?} is not absolute: it is written with '\\' but the definition declares no `separator: '\\'` ('/' is the default)"
                ));
            }
            return Err(format!("path {path:?} is not absolute"));
        }
        // Expand each `**`/`**N` to 0..=N (inside) or 1..=N (last) levels of `*`.
        let comps: Vec<&str> = body.split('/').filter(|c| !c.is_empty()).collect();
        let mut expanded: Vec<Vec<String>> = vec![Vec::new()];
        let last = comps.len().saturating_sub(1);
        for (i, c) in comps.iter().enumerate() {
            if let Some(depth) = c.strip_prefix("**") {
                let depth = if depth.is_empty() {
                    DEFAULT_GLOB_DEPTH
                } else {
                    depth
                        .parse::<u32>()
                        .map_err(|_| format!("path {path:?}: {c:?} is not ** or **N"))?
                };
                let from = if i == last { 1 } else { 0 };
                let mut next = Vec::new();
                for e in &expanded {
                    for n in from..=depth {
                        let mut e = e.clone();
                        e.extend(std::iter::repeat_n("*".to_string(), n as usize));
                        next.push(e);
                    }
                }
                expanded = next;
                if expanded.len() > MAX_EXPANSIONS {
                    return Err(format!(
                        "path {path:?} expands to more than {MAX_EXPANSIONS} patterns"
                    ));
                }
            } else if *c == "." || *c == ".." {
                return Err(format!("path {path:?} contains {c:?}"));
            } else {
                let c =
                    super::escape_component(&backslash_as_any_char(c, path, notes)?, &['{', '}']);
                for e in expanded.iter_mut() {
                    e.push(c.clone());
                }
            }
        }
        for e in expanded {
            let joined = e.join("/");
            let p = match (home, joined.is_empty()) {
                (true, true) => "${home}/**".to_string(),
                (true, false) => format!("${{home}}/{joined}"),
                (false, true) => return Err(format!("path {path:?} names the whole source")),
                (false, false) => format!("/{joined}"),
            };
            if !out.contains(&p) {
                out.push(p);
            }
        }
    }
    Ok(out)
}

/// A backslash left in a component after the definition's separator was split off is a
/// character of the name (a Linux file may have one). Native profile patterns cannot name
/// it (they refuse '\\' so that Windows-style paths are caught), so it becomes `?`, which
/// matches it and any other single character: a documented superset, never a miss. Inside
/// a bracket expression `?` would mean itself, so there it is a definition error.
fn backslash_as_any_char(
    component: &str,
    path: &str,
    notes: &mut Vec<String>,
) -> Result<String, String> {
    if !component.contains('\\') {
        return Ok(component.to_string());
    }
    let mut out = String::with_capacity(component.len());
    let mut in_class = false;
    for ch in component.chars() {
        match ch {
            '[' if !in_class => in_class = true,
            ']' if in_class => in_class = false,
            '\\' if in_class => {
                return Err(format!(
                    "path {path:?}: a '\\' inside [...] cannot be expressed in a fieldkit pattern"
                ));
            }
            _ => {}
        }
        out.push(if ch == '\\' { '?' } else { ch });
    }
    let note = "a literal '\\' in a name is matched by '?' (any one character)";
    if !notes.iter().any(|n| n == note) {
        notes.push(note.to_string());
    }
    Ok(out)
}

/// The hive files that hold a registry key, or why none does.
fn hives_of(key: &str) -> Result<Vec<&'static str>, String> {
    let k = key.to_ascii_uppercase().replace('/', "\\");
    let k = k
        .replace("HKEY_LOCAL_MACHINE", "HKLM")
        .replace("HKEY_CURRENT_USER", "HKCU")
        .replace("HKEY_USERS", "HKU")
        .replace("HKEY_CLASSES_ROOT", "HKCR");
    let machine = |hive: &'static str| -> Vec<&'static str> {
        match hive {
            "SYSTEM" => vec![
                "/Windows/System32/config/SYSTEM",
                "/Windows/System32/config/SYSTEM.LOG*",
            ],
            "SOFTWARE" => vec![
                "/Windows/System32/config/SOFTWARE",
                "/Windows/System32/config/SOFTWARE.LOG*",
            ],
            "SAM" => vec![
                "/Windows/System32/config/SAM",
                "/Windows/System32/config/SAM.LOG*",
            ],
            "SECURITY" => vec![
                "/Windows/System32/config/SECURITY",
                "/Windows/System32/config/SECURITY.LOG*",
            ],
            _ => vec![
                "/Windows/System32/config/DEFAULT",
                "/Windows/System32/config/DEFAULT.LOG*",
            ],
        }
    };
    const NTUSER: [&str; 2] = ["${home}/NTUSER.DAT", "${home}/NTUSER.DAT.LOG*"];
    const USRCLASS: [&str; 2] = [
        "${home}/AppData/Local/Microsoft/Windows/UsrClass.dat",
        "${home}/AppData/Local/Microsoft/Windows/UsrClass.dat.LOG*",
    ];
    let parts: Vec<&str> = k.split('\\').collect();
    let second = parts.get(1).copied().unwrap_or("");
    match parts[0] {
        "HKLM" => match second {
            "SYSTEM" | "SOFTWARE" | "SAM" | "SECURITY" => Ok(machine(match second {
                "SYSTEM" => "SYSTEM",
                "SOFTWARE" => "SOFTWARE",
                "SAM" => "SAM",
                _ => "SECURITY",
            })),
            "HARDWARE" => Err("HKLM\\HARDWARE exists only in memory: no hive file holds it".into()),
            _ => Err(format!("no hive file known for {key:?}")),
        },
        "HKCU" => {
            if parts.get(1) == Some(&"SOFTWARE") && parts.get(2) == Some(&"CLASSES") {
                Ok(USRCLASS.to_vec())
            } else {
                Ok(NTUSER.to_vec())
            }
        }
        "HKU" => {
            if second == ".DEFAULT" {
                Ok(machine("DEFAULT"))
            } else if second.ends_with("_CLASSES")
                || (parts.get(2) == Some(&"SOFTWARE") && parts.get(3) == Some(&"CLASSES"))
            {
                Ok(USRCLASS.to_vec())
            } else {
                Ok(NTUSER.to_vec())
            }
        }
        "HKCR" => {
            let mut v = machine("SOFTWARE");
            v.extend(USRCLASS);
            Ok(v)
        }
        _ => Err(format!("no hive file known for {key:?}")),
    }
}

struct Walk<'a> {
    by_name: &'a HashMap<String, usize>,
    artifacts: &'a [Artifact],
    visited: Vec<bool>,
    report: Vec<Definition>,
    rules: Vec<(RuleDraft, Vec<TargetOs>)>,
}

impl Walk<'_> {
    fn visit(&mut self, index: usize, stack: &mut Vec<String>) {
        if self.visited[index] {
            return;
        }
        self.visited[index] = true;
        let a = &self.artifacts[index];
        let name = a.doc.name.clone().unwrap_or_default();
        let artifact_os = os_of(&a.doc.supported_os);
        let mut entries = Vec::new();
        let report_at = self.report.len();
        self.report.push(Definition::new(
            name.clone(),
            format!("{}:{}", a.file, a.line),
            Vec::new(),
        ));
        stack.push(name.clone());
        if a.doc.sources.is_empty() {
            entries.push(Entry {
                location: format!("{}:{}", a.file, a.line),
                what: "sources".into(),
                outcome: Outcome::Error,
                notes: vec!["no sources".into()],
            });
        }
        let category = a
            .doc
            .labels
            .first()
            .cloned()
            .unwrap_or_else(|| "forensicartifacts".into());
        let description = a
            .doc
            .doc
            .as_deref()
            .and_then(|d| d.lines().next())
            .unwrap_or("")
            .trim()
            .to_string();
        for (i, s) in a.doc.sources.iter().enumerate() {
            let location = format!("{}:{}", a.file, a.line + s.referenced.line() as usize - 1);
            let kind = s.value.kind.clone().unwrap_or_default();
            let os = match os_of(&s.value.supported_os) {
                v if v.is_empty() => artifact_os.clone(),
                v => v,
            };
            let mut notes = Vec::new();
            let mut draft = RuleDraft {
                name: format!("{name} [{}]", i + 1),
                category: category.clone(),
                description: description.clone(),
                origin: vec![location.clone()],
                ..RuleDraft::default()
            };
            let attrs = &s.value.attributes;
            let strings = |key: &str| -> Vec<String> {
                attrs
                    .get(key)
                    .and_then(Value::as_array)
                    .map(|v| {
                        v.iter()
                            .filter_map(|x| x.as_str().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default()
            };
            let outcome = match kind.as_str() {
                "FILE" | "PATH" | "DIRECTORY" => {
                    let separator = attrs
                        .get("separator")
                        .and_then(Value::as_str)
                        .unwrap_or("/")
                        .to_string();
                    let paths = strings("paths");
                    if paths.is_empty() {
                        notes.push("no paths".into());
                        Outcome::Error
                    } else {
                        let mut result = Outcome::Mapped;
                        for p in &paths {
                            match native_paths(p, &separator, &mut notes) {
                                Ok(v) => {
                                    for n in v {
                                        let n = if kind == "DIRECTORY" {
                                            format!("{}/*", n.trim_end_matches("/**"))
                                        } else {
                                            n
                                        };
                                        if !draft.paths.contains(&n) {
                                            draft.paths.push(n);
                                        }
                                    }
                                }
                                Err(e) => {
                                    notes.push(e);
                                    result = Outcome::Error;
                                }
                            }
                        }
                        if kind == "DIRECTORY" {
                            notes.push(
                                "DIRECTORY lists a folder: fieldkit collects the files in it"
                                    .into(),
                            );
                        }
                        if kind == "PATH" {
                            notes.push("PATH names locations: the files among them are collected, folders are not entered".into());
                        }
                        result
                    }
                }
                "REGISTRY_KEY" | "REGISTRY_VALUE" => {
                    let mut keys = strings("keys");
                    if let Some(pairs) = attrs.get("key_value_pairs").and_then(Value::as_array) {
                        keys.extend(
                            pairs
                                .iter()
                                .filter_map(|p| p.get("key")?.as_str().map(str::to_string)),
                        );
                    }
                    let mut any = false;
                    let mut unmapped = Vec::new();
                    for k in &keys {
                        match hives_of(k) {
                            Ok(v) => {
                                any = true;
                                for p in v {
                                    if !draft.paths.iter().any(|x| x == p) {
                                        draft.paths.push(p.to_string());
                                    }
                                }
                            }
                            Err(e) => unmapped.push(e),
                        }
                    }
                    if any {
                        notes.push(format!(
                            "{} read live by the definition: the whole hive file(s) holding the key(s) are collected, the keys are read from them in the lab",
                            kind.to_ascii_lowercase()
                        ));
                        notes.extend(unmapped);
                        Outcome::Partial
                    } else {
                        notes.extend(unmapped);
                        if keys.is_empty() {
                            notes.push("no keys".into());
                        }
                        Outcome::NotApplicable
                    }
                }
                "ARTIFACT_GROUP" => {
                    let names = strings("names");
                    let mut result = Outcome::Mapped;
                    for n in &names {
                        match self.by_name.get(n).copied() {
                            Some(child) => {
                                if stack.iter().any(|s| s == n) {
                                    let mut chain = stack.clone();
                                    chain.push(n.clone());
                                    notes.push(format!("group cycle: {}", chain.join(" -> ")));
                                    result = Outcome::Error;
                                } else {
                                    self.visit(child, stack);
                                }
                            }
                            None => {
                                notes.push(format!("no artifact named {n:?}"));
                                result = Outcome::Error;
                            }
                        }
                    }
                    if names.is_empty() {
                        notes.push("no names".into());
                        result = Outcome::Error;
                    } else if result == Outcome::Mapped {
                        notes.push(format!("group of {}", names.join(", ")));
                    }
                    result
                }
                "WMI" | "COMMAND" => {
                    notes.push(format!(
                        "{kind} runs a query or program on the host: fieldkit runs none"
                    ));
                    Outcome::NotApplicable
                }
                "" => {
                    notes.push("source without a type".into());
                    Outcome::Error
                }
                other => {
                    notes.push(format!("unknown source type {other:?}"));
                    Outcome::Error
                }
            };
            if matches!(outcome, Outcome::Mapped | Outcome::Partial) && !draft.paths.is_empty() {
                draft.notes = notes.clone();
                self.rules.push((draft, os));
            }
            entries.push(Entry {
                location,
                what: kind,
                outcome,
                notes,
            });
        }
        stack.pop();
        let d = &self.report[report_at];
        self.report[report_at] = Definition::new(d.name.clone(), d.location.clone(), entries);
    }
}

pub fn import(spec: &Spec, dir: &Path) -> anyhow::Result<Import> {
    let files = files_with_extension(dir, ".yaml")?;
    if files.is_empty() {
        anyhow::bail!(
            "{}: no .yaml files: give the ForensicArtifacts folder (artifacts/data)",
            dir.display()
        );
    }
    let mut artifacts = Vec::new();
    let mut failed = Vec::new();
    let mut sources = Vec::new();
    let mut file_notes: HashMap<String, String> = HashMap::new();
    for f in &files {
        let rel = relative(dir, f);
        let (text, digest) = match read_definition(f) {
            Ok(t) => t,
            Err(e) => {
                failed.push(Definition::failed(rel.clone(), format!("{rel}:1"), e));
                continue;
            }
        };
        sources.push((rel.clone(), digest));
        for (start, doc) in documents(&text) {
            match parse_document(&doc) {
                Ok((d, note)) => {
                    let line = start;
                    if d.name.is_none() {
                        failed.push(Definition::failed(
                            format!("{rel} (document at line {line})"),
                            format!("{rel}:{line}"),
                            "an artifact without a name".into(),
                        ));
                        continue;
                    }
                    if let (Some(n), Some(name)) = (note, d.name.clone()) {
                        file_notes.insert(name, n);
                    }
                    artifacts.push(Artifact {
                        doc: d,
                        file: rel.clone(),
                        line,
                    });
                }
                Err((line, e)) => failed.push(Definition::failed(
                    format!("{rel} (document at line {start})"),
                    format!("{rel}:{}", start + line - 1),
                    format!("YAML: {e}"),
                )),
            }
        }
    }
    let mut by_name = HashMap::new();
    for (i, a) in artifacts.iter().enumerate() {
        let name = a.doc.name.clone().unwrap_or_default();
        if let Some(&j) = by_name.get(&name) {
            let other: &Artifact = &artifacts[j];
            failed.push(Definition::failed(
                name.clone(),
                format!("{}:{}", a.file, a.line),
                format!(
                    "artifact name also defined at {}:{}",
                    other.file, other.line
                ),
            ));
            continue;
        }
        by_name.insert(name, i);
        for alias in &a.doc.aliases {
            by_name.entry(alias.clone()).or_insert(i);
        }
    }
    let mut walk = Walk {
        by_name: &by_name,
        artifacts: &artifacts,
        visited: vec![false; artifacts.len()],
        report: Vec::new(),
        rules: Vec::new(),
    };
    if spec.selects_all() {
        walk.report.extend(failed);
        for i in 0..artifacts.len() {
            walk.visit(i, &mut Vec::new());
        }
    } else {
        for name in &spec.names {
            let Some(&i) = by_name.get(name) else {
                anyhow::bail!(
                    "fa:{name}: no artifact named {name:?} under {}",
                    dir.display()
                );
            };
            walk.visit(i, &mut Vec::new());
        }
    }
    for d in walk.report.iter_mut() {
        if let Some(n) = file_notes.get(&d.name)
            && let Some(e) = d.entries.first_mut()
        {
            e.notes.push(n.clone());
        }
    }
    let oses: Vec<TargetOs> = walk.rules.iter().flat_map(|(_, o)| o.clone()).collect();
    let os = match oses.first() {
        Some(first) if oses.iter().all(|o| o == first) => *first,
        _ => TargetOs::Any,
    };
    let rules = walk
        .rules
        .into_iter()
        .map(|(mut r, o)| {
            // In a profile for several systems, Windows definitions still ignore case.
            if os != TargetOs::Windows && o.contains(&TargetOs::Windows) {
                r.case_insensitive = Some(true);
            }
            r
        })
        .collect();
    let names = spec.names.join(",");
    Ok(Import {
        spec: spec.clone(),
        definitions_dir: dir.to_path_buf(),
        profile_name: format!("fa-{}", names.replace('*', "all").replace(',', "+")),
        description: format!("ForensicArtifacts {names}, imported from the artifacts project"),
        os,
        rules,
        report: walk.report,
        sources,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_backslash_in_a_slash_separated_name_is_matched_not_an_importer_bug() {
        let mut notes = Vec::new();
        let v = native_paths("/tmp/a\\b/*.log", "/", &mut notes).unwrap();
        assert_eq!(v, ["/tmp/a?b/*.log"]);
        assert_eq!(
            notes,
            ["a literal '\\' in a name is matched by '?' (any one character)"]
        );
        let e = native_paths("/var/log/[abc\\]*.log", "/", &mut notes).unwrap_err();
        assert!(e.contains("inside [...]"), "{e}");
        let e = native_paths("C:\\Temp\\*.txt", "/", &mut notes).unwrap_err();
        assert!(e.contains("declares no `separator"), "{e}");
    }

    #[test]
    fn interpolations_and_glob_depths_expand_to_native_patterns() {
        let mut notes = Vec::new();
        let v = native_paths(
            "%%environ_systemroot%%\\System32\\winevt\\Logs\\*.evtx",
            "\\",
            &mut notes,
        )
        .unwrap();
        assert_eq!(v, ["/Windows/System32/winevt/Logs/*.evtx"]);
        let v = native_paths(
            "%%users.appdata%%\\Mozilla\\**2\\places.sqlite",
            "\\",
            &mut notes,
        )
        .unwrap();
        assert_eq!(
            v,
            [
                "${home}/AppData/Roaming/Mozilla/places.sqlite",
                "${home}/AppData/Roaming/Mozilla/*/places.sqlite",
                "${home}/AppData/Roaming/Mozilla/*/*/places.sqlite",
                "${home}/Application Data/Mozilla/places.sqlite",
                "${home}/Application Data/Mozilla/*/places.sqlite",
                "${home}/Application Data/Mozilla/*/*/places.sqlite",
            ]
        );
        let v = native_paths("/var/log/**", "/", &mut notes).unwrap();
        assert_eq!(v, ["/var/log/*", "/var/log/*/*", "/var/log/*/*/*"]);
        assert!(native_paths("%%environ_nowhere%%\\x", "\\", &mut notes).is_err());
    }

    #[test]
    fn a_flow_key_glued_to_its_value_parses_as_pyyaml_reads_it() {
        let (d, note) =
            parse_document("name: X\nsources:\n- type: FILE\n  attributes: {paths:['/var/x']}\n")
                .unwrap();
        assert_eq!(d.sources[0].value.attributes["paths"][0], "/var/x");
        assert!(note.unwrap().contains("line 4"));
    }

    #[test]
    fn registry_keys_map_to_their_hives() {
        assert_eq!(
            hives_of("HKEY_LOCAL_MACHINE\\System\\CurrentControlSet\\Services\\*").unwrap()[0],
            "/Windows/System32/config/SYSTEM"
        );
        assert_eq!(
            hives_of("HKEY_USERS\\%%users.sid%%\\Software\\Microsoft").unwrap()[0],
            "${home}/NTUSER.DAT"
        );
        assert!(hives_of("HKEY_LOCAL_MACHINE\\HARDWARE\\x").is_err());
    }
}
