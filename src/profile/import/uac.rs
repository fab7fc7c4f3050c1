//! UAC (Unix-like Artifacts Collector) artifacts and profiles as fieldkit rules.
//!
//! Owns reading UAC's artifact files and profiles and mapping the `file` and `find`
//! collectors: `path` (shell words, globs, `%user_home%` as every home directory),
//! `name_pattern`, `path_pattern`, `exclude_path_pattern`, `exclude_name_pattern`,
//! `max_depth` (find's depth below each path), `file_type`, `min/max_file_size`,
//! `supported_os`. `command`, `hash` and `stat` collectors are reported as not
//! applicable: fieldkit runs no program of the host and changes nothing (UAC's
//! "modifier" artifacts change the live system).
//!
//! The files are read the way UAC reads them (lib/parse_artifact.sh: strip `#…`
//! comments, `key value` per line, `-` between artifacts, `"""` blocks), not with a YAML
//! parser: they are not valid YAML (`path: %user_home%/…` starts a plain scalar with an
//! indicator, `condition: ! cmd` and a profile's `- !path` would be read as YAML tags,
//! silently dropping the negation). Never runs a condition: conditions are noted, and
//! files are collected when they exist.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::{
    Definition, Entry, Import, Outcome, RuleDraft, Spec, files_with_extension, read_definition,
    relative,
};
use crate::profile::TargetOs;

const OSES: &[&str] = &[
    "aix",
    "esxi",
    "freebsd",
    "linux",
    "macos",
    "netbsd",
    "netscaler",
    "openbsd",
    "solaris",
];

/// One `key value` line, with its line number.
#[derive(Debug, Clone)]
struct Line {
    number: usize,
    key: String,
    value: String,
}

/// The lines of a UAC file as UAC's own parser sees them.
fn lines(text: &str) -> Vec<Line> {
    let mut out = Vec::new();
    let mut raw = text.lines().enumerate();
    while let Some((i, line)) = raw.next() {
        let line = match line.find('#') {
            Some(at) => &line[..at],
            None => line,
        };
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let (key, value) = match line.split_once(char::is_whitespace) {
            Some((k, v)) => (k.to_string(), v.trim().to_string()),
            None => (line.to_string(), String::new()),
        };
        // `collector:` → `collector` (a `-` stays as it is).
        let key = if key.len() > 1 {
            key.trim_end_matches(':').to_string()
        } else {
            key
        };
        let mut value = value;
        if value == "\"\"\"" {
            // A multi-line block up to the closing `"""`.
            value.clear();
            for (_, l) in raw.by_ref() {
                let l = l.trim();
                if l == "\"\"\"" {
                    break;
                }
                value.push_str(l);
                value.push('\n');
            }
        }
        out.push(Line {
            number: i + 1,
            key,
            value,
        });
    }
    out
}

/// UAC's `[a, "b", 'c']` lists (lib/array_to_psv.sh).
fn array(value: &str) -> Vec<String> {
    let v = value.trim();
    let v = v.strip_prefix('[').unwrap_or(v);
    let v = v.strip_suffix(']').unwrap_or(v);
    v.replace("\\,", "\u{0}")
        .split(',')
        .map(|s| s.trim().replace(['"', '\''], "").replace('\u{0}', ","))
        .filter(|s| !s.is_empty())
        .collect()
}

/// One artifact entry: its keys in order.
#[derive(Debug, Default, Clone)]
struct Artifact {
    line: usize,
    fields: Vec<Line>,
}

impl Artifact {
    fn get(&self, key: &str) -> Option<&str> {
        self.fields
            .iter()
            .rev()
            .find(|l| l.key == key)
            .map(|l| l.value.as_str())
    }
}

struct ArtifactFile {
    globals: Vec<Line>,
    artifacts: Vec<Artifact>,
}

fn parse_file(text: &str) -> Result<ArtifactFile, (usize, String)> {
    let mut globals = Vec::new();
    let mut artifacts: Vec<Artifact> = Vec::new();
    let mut in_list = false;
    for l in lines(text) {
        if !in_list {
            if l.key == "artifacts" {
                in_list = true;
            } else if l.key == "-" {
                return Err((l.number, "'-' before 'artifacts:'".into()));
            } else {
                globals.push(l);
            }
            continue;
        }
        if l.key == "-" {
            artifacts.push(Artifact {
                line: l.number,
                fields: Vec::new(),
            });
            if !l.value.is_empty() {
                return Err((
                    l.number,
                    format!("unexpected text after '-': {:?}", l.value),
                ));
            }
            continue;
        }
        match artifacts.last_mut() {
            Some(a) => a.fields.push(l),
            None => {
                return Err((
                    l.number,
                    "invalid 'artifacts' sequence: the line after 'artifacts:' must be '-'".into(),
                ));
            }
        }
    }
    if !in_list {
        return Err((1, "no 'artifacts:' list".into()));
    }
    if artifacts.is_empty() {
        return Err((1, "'artifacts:' lists nothing".into()));
    }
    Ok(ArtifactFile { globals, artifacts })
}

/// Shell words of a `path:` value: unquoted whitespace separates, quotes make their
/// contents literal (wildcards in quotes are escaped for native patterns).
fn shell_words(value: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut has = false;
    let mut chars = value.chars();
    let mut quote: Option<char> = None;
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => push_literal(&mut cur, c),
            (None, '"' | '\'') => {
                quote = Some(c);
                has = true;
            }
            (None, '\\') => {
                if let Some(n) = chars.next() {
                    push_literal(&mut cur, n);
                }
            }
            (None, c) if c.is_whitespace() => {
                if has || !cur.is_empty() {
                    words.push(std::mem::take(&mut cur));
                }
                has = false;
            }
            (None, '{' | '}') => push_literal(&mut cur, c),
            (None, c) => cur.push(c),
        }
    }
    if quote.is_some() {
        return Err(format!("unbalanced quote in {value:?}"));
    }
    if has || !cur.is_empty() {
        words.push(cur);
    }
    Ok(words)
}

fn push_literal(s: &mut String, c: char) {
    if matches!(c, '*' | '?' | '[' | ']' | '{' | '}') {
        s.push('[');
        s.push(c);
        s.push(']');
    } else {
        s.push(c);
    }
}

/// A shell glob as a native component pattern: `[...]` classes stay, braces are literal.
fn glob(text: &str) -> String {
    super::escape_component(text, &['{', '}'])
}

fn has_wildcard(component: &str) -> bool {
    component.contains(['*', '?', '['])
}

/// `find -path` patterns as used by UAC (`*/Cache/*`): `*` as a whole leading or
/// trailing component crosses directories; returns the native suffix (`**/Cache/**`).
fn path_pattern_suffix(p: &str) -> Result<String, String> {
    let comps: Vec<&str> = p.split('/').collect();
    let last = comps.len().saturating_sub(1);
    let mut out = Vec::new();
    for (i, c) in comps.iter().enumerate() {
        if (i == 0 || i == last) && *c == "*" {
            out.push("**".to_string());
        } else if c.is_empty() && i == 0 {
            return Err(format!(
                "path_pattern {p:?} is absolute: only patterns below the path are mapped"
            ));
        } else if c.contains('*') && c.len() > 1 {
            return Err(format!(
                "path_pattern {p:?}: a '*' inside a component may cross directories in find; \
                 not mapped exactly"
            ));
        } else if !c.is_empty() {
            out.push(glob(c));
        }
    }
    Ok(out.join("/"))
}

struct Mapper<'a> {
    dir: &'a Path,
    os: &'a str,
}

impl Mapper<'_> {
    fn artifact(
        &self,
        rel: &str,
        index: usize,
        globals: &[Line],
        a: &Artifact,
        rules: &mut Vec<RuleDraft>,
    ) -> Entry {
        let location = format!("{rel}:{}", a.line);
        let description = a.get("description").unwrap_or("").to_string();
        let collector = a.get("collector").unwrap_or("");
        let what = format!(
            "{} collector{}",
            if collector.is_empty() {
                "no"
            } else {
                collector
            },
            if description.is_empty() {
                String::new()
            } else {
                format!(" ({description})")
            }
        );
        let entry = |outcome, notes: Vec<String>| Entry {
            location: location.clone(),
            what: what.clone(),
            outcome,
            notes,
        };
        let supported = a.get("supported_os").map(array).unwrap_or_default();
        if supported.is_empty() {
            return entry(Outcome::Error, vec!["no supported_os".into()]);
        }
        for os in &supported {
            if os != "all" && !OSES.contains(&os.as_str()) {
                return entry(Outcome::Error, vec![format!("unknown supported_os {os:?}")]);
            }
        }
        match collector {
            "file" | "find" => {}
            "command" | "hash" | "stat" => {
                return entry(
                    Outcome::NotApplicable,
                    vec![format!(
                        "the {collector} collector runs {} on the host: fieldkit runs no \
                         program of the system it collects (it hashes and records every \
                         file it takes)",
                        match collector {
                            "command" => "a command",
                            "hash" => "find and a hasher",
                            _ => "find and stat",
                        }
                    )],
                );
            }
            "" => return entry(Outcome::Error, vec!["no collector".into()]),
            other => {
                return entry(Outcome::Error, vec![format!("unknown collector {other:?}")]);
            }
        }
        if !supported.iter().any(|o| o == "all" || o == self.os) {
            return entry(
                Outcome::NotApplicable,
                vec![format!(
                    "supported_os [{}] does not include {}",
                    supported.join(", "),
                    self.os
                )],
            );
        }
        let mut notes = Vec::new();
        let mut lost = false;
        let out_dir = a.get("output_directory").or_else(|| {
            globals
                .iter()
                .rev()
                .find(|l| l.key == "output_directory")
                .map(|l| l.value.as_str())
        });
        if out_dir.is_some_and(|d| d.contains("%temp_directory%")) {
            return entry(
                Outcome::NotApplicable,
                vec![
                    "writes a scratch list for a later command (output in %temp_directory%)".into(),
                ],
            );
        }
        if a.get("is_file_list") == Some("true") {
            return entry(
                Outcome::NotApplicable,
                vec!["the path is a list made at run time by a command".into()],
            );
        }
        if let Some(p) = a.get("permissions") {
            return entry(
                Outcome::NotApplicable,
                vec![format!(
                    "selects by permission bits {p}, which a profile cannot express"
                )],
            );
        }
        if a.get("no_user") == Some("true") || a.get("no_group") == Some("true") {
            return entry(
                Outcome::NotApplicable,
                vec!["selects files whose owner or group has no account, which a profile cannot express".into()],
            );
        }
        let types = a.get("file_type").map(array).unwrap_or_default();
        if !types.is_empty() && !types.iter().any(|t| t == "f" || t == "l") {
            return entry(
                Outcome::NotApplicable,
                vec![format!(
                    "lists entries of type [{}], not file contents",
                    types.join(", ")
                )],
            );
        }
        if collector == "find"
            && let Some(cmd) = a.get("command")
        {
            return entry(
                Outcome::NotApplicable,
                vec![format!(
                    "selects among the files found by running {:?} on them: fieldkit runs no program",
                    cmd.trim()
                )],
            );
        }
        if collector == "find" {
            notes.push(
                "find lists names: fieldkit collects the files (their record holds name, \
                 size, times and hashes)"
                    .into(),
            );
        }
        for global in globals.iter().filter(|l| l.key == "condition") {
            notes.push(format!(
                "file-level condition {:?} not evaluated (fieldkit runs no program): \
                 collected when present",
                global.value.trim()
            ));
        }
        if let Some(c) = a.get("condition") {
            notes.push(format!(
                "condition {:?} not evaluated (fieldkit runs no program): collected when present",
                c.trim()
            ));
        }
        if a.get("exclude_nologin_users") == Some("true") {
            notes.push("every home directory, also of users without a login shell".into());
        }
        if let Some(fs) = a.get("exclude_file_system") {
            let fs = array(fs);
            let pseudo = ["proc", "procfs", "sysfs", "devfs", "tmpfs"];
            if fs.iter().all(|f| pseudo.contains(&f.as_str())) {
                notes.push(format!(
                    "exclude_file_system [{}]: pseudo filesystems are never walked unless named",
                    fs.join(", ")
                ));
            } else {
                notes.push(format!("exclude_file_system [{}] not kept", fs.join(", ")));
                lost = true;
            }
        }
        let Some(path) = a.get("path") else {
            return entry(Outcome::Error, vec!["no path".into()]);
        };
        let words = match shell_words(path) {
            Ok(w) if !w.is_empty() => w,
            Ok(_) => return entry(Outcome::Error, vec!["empty path".into()]),
            Err(e) => return entry(Outcome::Error, vec![e]),
        };
        let mut bases = Vec::new();
        for w in &words {
            let w = w.trim_end_matches('/');
            let w = if w.is_empty() { "/" } else { w };
            let (home, rest) = match w.strip_prefix("%user_home%") {
                Some(r) => (true, r),
                None => (false, w),
            };
            if rest.contains("%temp_directory%") {
                return entry(
                    Outcome::NotApplicable,
                    vec!["reads a scratch file made by a command".into()],
                );
            }
            let rest = rest.replace("%user%", "*");
            if let Some(at) = rest.find('%')
                && rest[at + 1..].contains('%')
            {
                return entry(
                    Outcome::Error,
                    vec![format!(
                        "path {w:?}: unknown variable (UAC paths know %user_home% and %user%)"
                    )],
                );
            }
            if !home && !rest.starts_with('/') {
                // UAC hands the words to find unquoted: a relative word is searched in
                // UAC's working directory, never on the evidence.
                notes.push(format!(
                    "path word {w:?} is relative (an unquoted space in the definition splits \
                     the path): not collected"
                ));
                lost = true;
                continue;
            }
            let comps: Vec<String> = rest
                .split('/')
                .filter(|c| !c.is_empty())
                .map(glob)
                .collect();
            bases.push((home, comps));
        }
        let names: Vec<String> = a
            .get("name_pattern")
            .map(array)
            .unwrap_or_default()
            .iter()
            .map(|n| glob(n))
            .collect();
        let mut suffixes = Vec::new();
        for p in a.get("path_pattern").map(array).unwrap_or_default() {
            match path_pattern_suffix(&p) {
                Ok(s) => suffixes.push(s),
                Err(e) => return entry(Outcome::Error, vec![e]),
            }
        }
        let mut exclude = Vec::new();
        for p in a.get("exclude_path_pattern").map(array).unwrap_or_default() {
            let p = p.trim_end_matches('/');
            if !p.starts_with('/') {
                notes.push(format!(
                    "exclude_path_pattern {p:?} is not absolute: not kept"
                ));
                lost = true;
                continue;
            }
            let body: Vec<String> = p.split('/').filter(|c| !c.is_empty()).map(glob).collect();
            exclude.push(format!("/{}", body.join("/")));
            exclude.push(format!("/{}/**", body.join("/")));
        }
        for n in a.get("exclude_name_pattern").map(array).unwrap_or_default() {
            exclude.push(format!("/**/{}", glob(&n)));
            exclude.push(format!("/**/{}/**", glob(&n)));
        }
        let max_depth = match a.get("max_depth").map(|d| d.trim().parse::<u32>()) {
            Some(Ok(0)) | None => None,
            Some(Ok(d)) => Some(d),
            Some(Err(_)) => {
                return entry(
                    Outcome::Error,
                    vec![format!(
                        "max_depth {:?} is not a number",
                        a.get("max_depth").unwrap_or("")
                    )],
                );
            }
        };
        let size = |key: &str| -> Result<Option<u64>, String> {
            a.get(key)
                .map(|v| crate::profile::parse_size(v).map_err(|e| format!("{key}: {e}")))
                .transpose()
        };
        let (min, max) = match (size("min_file_size"), size("max_file_size")) {
            (Ok(a), Ok(b)) => (a, b),
            (Err(e), _) | (_, Err(e)) => return entry(Outcome::Error, vec![e]),
        };
        for key in a.fields.iter().map(|l| l.key.trim_end_matches(':')) {
            const KNOWN: &[&str] = &[
                "description",
                "supported_os",
                "collector",
                "path",
                "path_pattern",
                "name_pattern",
                "exclude_path_pattern",
                "exclude_name_pattern",
                "exclude_file_system",
                "max_depth",
                "file_type",
                "min_file_size",
                "max_file_size",
                "permissions",
                "no_user",
                "no_group",
                "ignore_date_range",
                "output_directory",
                "output_file",
                "condition",
                "foreach",
                "command",
                "compress_output_file",
                "redirect_stderr_to_stdout",
                "is_file_list",
                "exclude_nologin_users",
            ];
            if !KNOWN.contains(&key) {
                notes.push(format!("unknown key {key:?} ignored (as UAC ignores it)"));
            }
        }
        // One rule per depth offset: find counts depth from each path, the native
        // max_depth from the pattern's literal prefix.
        let mut groups: Vec<(usize, Vec<String>)> = Vec::new();
        for (home, comps) in &bases {
            let literal = comps.iter().take_while(|c| !has_wildcard(c)).count();
            let offset = comps.len() - literal;
            let base = if *home {
                if comps.is_empty() {
                    "${home}".to_string()
                } else {
                    format!("${{home}}/{}", comps.join("/"))
                }
            } else {
                format!("/{}", comps.join("/"))
            };
            let join = |suffix: &str| {
                if base == "/" {
                    format!("/{suffix}")
                } else {
                    format!("{base}/{suffix}")
                }
            };
            let mut patterns = Vec::new();
            if suffixes.is_empty() {
                // A path is a file or a directory taken whole (find recurses).
                if base != "/" && base != "${home}" {
                    patterns.push(base.clone());
                }
                patterns.push(join("**"));
            } else {
                for s in &suffixes {
                    patterns.push(join(s));
                }
            }
            let offset = if max_depth.is_some() { offset } else { 0 };
            match groups.iter_mut().find(|(o, _)| *o == offset) {
                Some((_, p)) => p.extend(patterns),
                None => groups.push((offset, patterns)),
            }
        }
        let category = rel
            .rsplit_once('/')
            .map(|(d, _)| d.to_string())
            .unwrap_or_else(|| "uac".into());
        let stem = rel.trim_end_matches(".yaml");
        for (offset, paths) in groups {
            rules.push(RuleDraft {
                name: format!("{stem} [{index}]"),
                category: category.clone(),
                description: description.clone(),
                paths,
                names: names.clone(),
                exclude: exclude.clone(),
                max_depth: max_depth.map(|d| d + offset as u32),
                min_file_size: min,
                max_file_size: max,
                origin: vec![location.clone()],
                notes: notes.clone(),
                ..RuleDraft::default()
            });
        }
        entry(
            if lost {
                Outcome::Partial
            } else {
                Outcome::Mapped
            },
            notes,
        )
    }

    fn file(
        &self,
        path: &Path,
        rules: Option<&mut Vec<RuleDraft>>,
        sources: &mut Vec<(String, String)>,
    ) -> Definition {
        let rel = relative(&self.dir.join("artifacts"), path);
        let (text, digest) = match read_definition(path) {
            Ok(t) => t,
            Err(e) => return Definition::failed(rel.clone(), format!("{rel}:1"), e),
        };
        sources.push((format!("artifacts/{rel}"), digest));
        let parsed = match parse_file(&text) {
            Ok(p) => p,
            Err((line, e)) => return Definition::failed(rel.clone(), format!("{rel}:{line}"), e),
        };
        if parsed
            .globals
            .iter()
            .any(|l| l.key == "modifier" && l.value == "true")
        {
            return Definition::new(
                rel.clone(),
                format!("{rel}:1"),
                vec![Entry {
                    location: format!("{rel}:1"),
                    what: "modifier artifact".into(),
                    outcome: Outcome::NotApplicable,
                    notes: vec!["changes the live system (UAC runs it only with --enable-modifiers): fieldkit never does".into()],
                }],
            );
        }
        let mut scratch = Vec::new();
        let rules = match rules {
            Some(r) => r,
            None => &mut scratch,
        };
        let entries = parsed
            .artifacts
            .iter()
            .enumerate()
            .map(|(i, a)| self.artifact(&rel, i + 1, &parsed.globals, a, rules))
            .collect();
        Definition::new(rel.clone(), format!("{rel}:1"), entries)
    }
}

/// The artifact files a UAC list selects (`files/logs/*`, `!live_response/x.yaml`), in
/// order, each once — as UAC's `_validate_artifact_list` does with `find`.
fn expand(items: &[String], all: &[PathBuf], artifacts_dir: &Path) -> Result<Vec<PathBuf>, String> {
    let mut out: Vec<PathBuf> = Vec::new();
    for item in items {
        let (exclude, pattern) = match item.strip_prefix('!') {
            Some(p) => (true, p.trim()),
            None => (false, item.trim()),
        };
        let pattern = pattern
            .trim_start_matches("./")
            .trim_start_matches("artifacts/");
        let glob = globset::GlobBuilder::new(pattern.trim_end_matches('/'))
            .literal_separator(true)
            .build()
            .map_err(|e| format!("artifact pattern {item:?}: {}", e.kind()))?
            .compile_matcher();
        let matched: Vec<&PathBuf> = all
            .iter()
            .filter(|f| {
                let rel = relative(artifacts_dir, f);
                // find recurses into a matched directory.
                let mut prefix = String::new();
                rel.split('/').any(|c| {
                    if !prefix.is_empty() {
                        prefix.push('/');
                    }
                    prefix.push_str(c);
                    glob.is_match(&prefix)
                })
            })
            .collect();
        if matched.is_empty() {
            return Err(format!("artifact {pattern:?} does not exist"));
        }
        if exclude {
            out.retain(|f| !matched.contains(&f));
        } else {
            for f in matched {
                if !out.contains(f) {
                    out.push(f.clone());
                }
            }
        }
    }
    Ok(out)
}

/// A profile's artifact list (lib/parse_profile.sh: the `- item` lines).
fn profile_items(text: &str) -> Vec<String> {
    lines(text)
        .into_iter()
        .filter(|l| l.key.starts_with('-'))
        .map(|l| {
            let joined = format!("{} {}", l.key, l.value);
            joined.trim_start_matches('-').trim().to_string()
        })
        .filter(|s| !s.is_empty())
        .collect()
}

pub fn import(spec: &Spec, dir: &Path) -> anyhow::Result<Import> {
    let artifacts_dir = dir.join("artifacts");
    let profiles_dir = dir.join("profiles");
    if !artifacts_dir.is_dir() {
        anyhow::bail!(
            "{}: no artifacts/ folder: give the UAC folder (with artifacts/ and profiles/)",
            dir.display()
        );
    }
    let os = spec.os.clone().unwrap_or_else(|| "linux".into());
    if !OSES.contains(&os.as_str()) {
        anyhow::bail!("uac:…@{os}: UAC knows {}", OSES.join(", "));
    }
    let all = files_with_extension(&artifacts_dir, ".yaml")?;
    let mapper = Mapper { dir, os: &os };
    let mut report = Vec::new();
    let mut rules = Vec::new();
    let mut sources = Vec::new();
    let mut selected = Vec::new();
    if spec.selects_all() {
        selected = all.clone();
        for p in files_with_extension(&profiles_dir, ".yaml").unwrap_or_default() {
            let rel = format!("profiles/{}", relative(&profiles_dir, &p));
            let def = match read_definition(&p) {
                Ok((text, digest)) => {
                    sources.push((rel.clone(), digest));
                    let items = profile_items(&text);
                    match expand(&items, &all, &artifacts_dir) {
                        Ok(files) => Definition::new(
                            rel.clone(),
                            format!("{rel}:1"),
                            vec![Entry {
                                location: format!("{rel}:1"),
                                what: format!("profile of {} artifact files", files.len()),
                                outcome: Outcome::Mapped,
                                notes: Vec::new(),
                            }],
                        ),
                        Err(e) => Definition::failed(rel.clone(), format!("{rel}:1"), e),
                    }
                }
                Err(e) => Definition::failed(rel.clone(), format!("{rel}:1"), e),
            };
            report.push(def);
        }
    } else {
        for name in &spec.names {
            let profile = profiles_dir.join(format!("{name}.yaml"));
            let items = if profile.is_file() {
                let (text, digest) = read_definition(&profile)
                    .map_err(|e| anyhow::anyhow!("{}: {e}", profile.display()))?;
                sources.push((format!("profiles/{name}.yaml"), digest));
                profile_items(&text)
            } else {
                vec![name.clone()]
            };
            let files = expand(&items, &all, &artifacts_dir).map_err(|e| {
                anyhow::anyhow!(
                    "uac:{name}: {e} (neither profiles/{name}.yaml nor an artifact under {})",
                    artifacts_dir.display()
                )
            })?;
            for f in files {
                if !selected.contains(&f) {
                    selected.push(f);
                }
            }
        }
    }
    let mut seen = BTreeSet::new();
    for f in &selected {
        if seen.insert(f.clone()) {
            report.push(mapper.file(f, Some(&mut rules), &mut sources));
        }
    }
    let names = spec.names.join(",").replace('*', "all");
    Ok(Import {
        spec: spec.clone(),
        definitions_dir: dir.to_path_buf(),
        profile_name: format!("uac-{names}-{os}").replace('/', "_"),
        description: format!("UAC {names} for {os}, imported from UAC"),
        os: if os == "macos" {
            TargetOs::Macos
        } else {
            TargetOs::Linux
        },
        rules,
        report,
        sources,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_follow_uacs_own_parser_not_yaml() {
        let text = "version: 1.0\ncondition: ! command_exists \"x\"  # why\nartifacts:\n  -\n    path: %user_home%/.zsh_history /etc/\"a b\"/*\n";
        let f = parse_file(text).unwrap();
        assert_eq!(f.globals[1].value, "! command_exists \"x\"");
        let w = shell_words(f.artifacts[0].get("path").unwrap()).unwrap();
        assert_eq!(w, ["%user_home%/.zsh_history", "/etc/a b/*"]);
        assert_eq!(array("[\"*.gz\", 'b', c]"), ["*.gz", "b", "c"]);
        assert_eq!(path_pattern_suffix("*/Cache/*").unwrap(), "**/Cache/**");
        assert_eq!(
            profile_items("name: x\nartifacts:\n  - a/*\n  - !b/c.yaml\n"),
            ["a/*", "!b/c.yaml"]
        );
    }

    #[test]
    fn malformed_lines_are_errors_not_panics() {
        for text in [
            "",
            "-",
            "artifacts:\n",
            "artifacts:\n  - x\n",
            "version: 1\nartifacts:\n  -\n    path: \"unbalanced\n    collector: file\n    supported_os: [all]\n",
            "artifacts:\n  -\n    command: \"\"\"\n    never closed\n",
            "artifacts:\n  -\n    supported_os: [linux]\n    collector: file\n    path: %user_home%\n    max_depth: x\n",
        ] {
            if let Ok(f) = parse_file(text) {
                let m = Mapper {
                    dir: Path::new("/nonexistent"),
                    os: "linux",
                };
                for a in &f.artifacts {
                    let _ = m.artifact("x.yaml", 1, &f.globals, a, &mut Vec::new());
                }
            }
        }
    }

    #[test]
    fn file_collectors_map_with_depth_names_and_excludes() {
        let t = tempfile::tempdir().unwrap();
        let a = t.path().join("artifacts/files/logs");
        std::fs::create_dir_all(&a).unwrap();
        std::fs::create_dir_all(t.path().join("profiles")).unwrap();
        std::fs::write(
            a.join("x.yaml"),
            "version: 1.0\nartifacts:\n  -\n    description: logs\n    supported_os: [linux]\n    collector: file\n    path: /var/log /proc/[0-9]*\n    name_pattern: [\"*.log\"]\n    exclude_name_pattern: [\"*.gz\"]\n    max_depth: 2\n    max_file_size: 1024\n  -\n    description: cmd\n    supported_os: [all]\n    collector: command\n    command: ls\n  -\n    description: mac only\n    supported_os: [macos]\n    collector: file\n    path: /Library\n",
        )
        .unwrap();
        let spec = Spec::parse("uac:files/logs/*").unwrap().unwrap();
        let imp = super::super::import(&spec, t.path()).unwrap();
        assert_eq!(imp.rules.len(), 2, "{:#?}", imp.rules);
        assert_eq!(imp.rules[0].paths, ["/var/log", "/var/log/**"]);
        assert_eq!(imp.rules[0].max_depth, Some(2));
        assert_eq!(imp.rules[1].paths, ["/proc/[0-9]*", "/proc/[0-9]*/**"]);
        assert_eq!(imp.rules[1].max_depth, Some(3));
        assert_eq!(imp.rules[0].names, ["*.log"]);
        assert_eq!(imp.rules[0].exclude, ["/**/*.gz", "/**/*.gz/**"]);
        assert_eq!(imp.report[0].outcome, Outcome::Mapped);
        let text = imp.report_text();
        assert!(text.contains("runs no program"), "{text}");
        assert!(text.contains("does not include linux"), "{text}");
        imp.to_profile().unwrap();
    }
}
