//! The native profile format: TOML, documented in docs/profiles.md.
//!
//! Owns turning TOML text into a `Profile` and reporting *every* problem at once as
//! `FILE:LINE: message` (syntax errors, unknown keys, wrong types, bad patterns, bad
//! sizes), so an examiner fixing a profile sees the whole list. Never guesses: an unknown
//! key is an error, not ignored, because a typo in a profile silently collects less.

use std::collections::HashSet;
use std::ops::Range;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::pattern::{HOME_VAR, PathPattern, compile_component};
use super::{Origin, Profile, Rule, TargetOs, parse_size};

pub const FORMAT_VERSION: i64 = 1;
const DEFAULT_PSEUDO_MAX_BYTES: u64 = 16 * 1024 * 1024;

struct Ctx<'a> {
    text: &'a str,
    file: &'a str,
    errors: Vec<String>,
}

impl Ctx<'_> {
    fn line_of(&self, offset: usize) -> usize {
        let end = offset.min(self.text.len());
        self.text.as_bytes()[..end]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1
    }

    fn err(&mut self, span: Range<usize>, msg: impl Into<String>) {
        let line = self.line_of(span.start);
        self.errors
            .push(format!("{}:{}: {}", self.file, line, msg.into()));
    }

    fn string(&mut self, v: &Spanned<DeValue<'_>>, what: &str) -> Option<String> {
        match v.get_ref() {
            DeValue::String(s) => Some(s.to_string()),
            other => {
                self.err(
                    v.span(),
                    format!("{what} must be a string, not {}", other.type_str()),
                );
                None
            }
        }
    }

    fn boolean(&mut self, v: &Spanned<DeValue<'_>>, what: &str) -> Option<bool> {
        match v.get_ref() {
            DeValue::Boolean(b) => Some(*b),
            other => {
                self.err(
                    v.span(),
                    format!("{what} must be true or false, not {}", other.type_str()),
                );
                None
            }
        }
    }

    fn integer(&mut self, v: &Spanned<DeValue<'_>>, what: &str) -> Option<i64> {
        match v.get_ref() {
            DeValue::Integer(i) => {
                match i64::from_str_radix(&i.as_str().replace('_', ""), i.radix()) {
                    Ok(n) => Some(n),
                    Err(_) => {
                        self.err(v.span(), format!("{what}: integer out of range"));
                        None
                    }
                }
            }
            other => {
                self.err(
                    v.span(),
                    format!("{what} must be an integer, not {}", other.type_str()),
                );
                None
            }
        }
    }

    fn size(&mut self, v: &Spanned<DeValue<'_>>, what: &str) -> Option<u64> {
        match v.get_ref() {
            DeValue::Integer(_) => {
                let n = self.integer(v, what)?;
                match u64::try_from(n) {
                    Ok(n) => Some(n),
                    Err(_) => {
                        self.err(v.span(), format!("{what} must not be negative"));
                        None
                    }
                }
            }
            DeValue::String(s) => match parse_size(s) {
                Ok(n) => Some(n),
                Err(e) => {
                    self.err(v.span(), format!("{what}: {e}"));
                    None
                }
            },
            other => {
                self.err(
                    v.span(),
                    format!(
                        "{what} must be a size like \"512MiB\" or a byte count, not {}",
                        other.type_str()
                    ),
                );
                None
            }
        }
    }

    fn strings(&mut self, v: &Spanned<DeValue<'_>>, what: &str) -> Vec<(String, Range<usize>)> {
        match v.get_ref() {
            DeValue::Array(items) => items
                .iter()
                .filter_map(|item| self.string(item, what).map(|s| (s, item.span())))
                .collect(),
            DeValue::String(s) => vec![(s.to_string(), v.span())],
            other => {
                self.err(
                    v.span(),
                    format!("{what} must be a list of strings, not {}", other.type_str()),
                );
                Vec::new()
            }
        }
    }
}

/// Parse and validate; on failure return every error found, each as `FILE:LINE: message`.
pub fn parse_profile(text: &str, file: &str) -> Result<Profile, Vec<String>> {
    let mut ctx = Ctx {
        text,
        file,
        errors: Vec::new(),
    };
    let (root, syntax_errors) = DeTable::parse_recoverable(text);
    for e in &syntax_errors {
        let span = e.span().unwrap_or(0..0);
        let msg = e
            .message()
            .lines()
            .next()
            .unwrap_or("TOML syntax error")
            .to_string();
        ctx.err(span, format!("TOML syntax error: {msg}"));
    }
    if !syntax_errors.is_empty() {
        return Err(ctx.errors);
    }
    let root_span = root.span();
    let root = root.into_inner();

    let mut name = None;
    let mut description = String::new();
    let mut os = TargetOs::Any;
    let mut case_insensitive = None;
    let mut follow_symlinks = false;
    let mut max_file_size = None;
    let mut rule_values = None;
    let mut version_seen = false;

    for (key, value) in root.iter() {
        match key.get_ref().as_ref() {
            "name" => name = ctx.string(value, "name"),
            "description" => description = ctx.string(value, "description").unwrap_or_default(),
            "format_version" => {
                version_seen = true;
                if let Some(v) = ctx.integer(value, "format_version")
                    && v != FORMAT_VERSION
                {
                    ctx.err(
                        value.span(),
                        format!("format_version {v} is not supported (this fieldkit reads {FORMAT_VERSION})"),
                    );
                }
            }
            "os" => {
                if let Some(s) = ctx.string(value, "os") {
                    match TargetOs::parse(&s) {
                        Some(o) => os = o,
                        None => ctx.err(
                            value.span(),
                            format!("os {s:?} is not one of linux, windows, macos, any"),
                        ),
                    }
                }
            }
            "case_insensitive" => case_insensitive = ctx.boolean(value, "case_insensitive"),
            "follow_symlinks" => {
                follow_symlinks = ctx.boolean(value, "follow_symlinks").unwrap_or(false)
            }
            "max_file_size" => max_file_size = ctx.size(value, "max_file_size"),
            "rule" => rule_values = Some(value),
            other => ctx.err(
                key.span(),
                format!(
                    "unknown key `{other}` (profile keys: name, description, format_version, os, \
                     case_insensitive, follow_symlinks, max_file_size, [[rule]])"
                ),
            ),
        }
    }
    if name.is_none() && !ctx.errors.iter().any(|e| e.contains("name must")) {
        ctx.err(root_span.clone(), "missing `name`");
    }
    if !version_seen {
        ctx.err(
            root_span.clone(),
            format!("missing `format_version = {FORMAT_VERSION}`"),
        );
    }
    let case_insensitive =
        case_insensitive.unwrap_or(matches!(os, TargetOs::Windows | TargetOs::Macos));

    let mut rules = Vec::new();
    match rule_values {
        None => ctx.err(
            root_span,
            "no [[rule]] tables: a profile must collect something",
        ),
        Some(v) => match v.get_ref() {
            DeValue::Array(items) => {
                let mut seen = HashSet::new();
                for item in items.iter() {
                    if let Some(rule) = parse_rule(&mut ctx, item, case_insensitive) {
                        if !seen.insert(rule.name.clone()) {
                            ctx.err(item.span(), format!("duplicate rule name {:?}", rule.name));
                        }
                        rules.push(rule);
                    }
                }
            }
            other => ctx.err(
                v.span(),
                format!("`rule` must be [[rule]] tables, not {}", other.type_str()),
            ),
        },
    }

    if !ctx.errors.is_empty() {
        return Err(ctx.errors);
    }
    Ok(Profile {
        name: name.unwrap_or_default(),
        description,
        os,
        case_insensitive,
        follow_symlinks,
        max_file_size,
        rules,
        origin: Origin::Builtin,
        sha256: String::new(),
        text: String::new(),
    })
}

fn parse_rule(ctx: &mut Ctx<'_>, item: &Spanned<DeValue<'_>>, ci: bool) -> Option<Rule> {
    let DeValue::Table(table) = item.get_ref() else {
        ctx.err(item.span(), "each [[rule]] must be a table");
        return None;
    };
    let before = ctx.errors.len();
    let line = ctx.line_of(item.span().start);
    // Read first: the rule's own case sensitivity decides how its patterns compile.
    let mut case_insensitive = None;
    if let Some(v) = table.get("case_insensitive") {
        case_insensitive = ctx.boolean(v, "case_insensitive");
    }
    let ci = case_insensitive.unwrap_or(ci);
    let mut name = None;
    let mut category = None;
    let mut description = String::new();
    let mut path_texts = Vec::new();
    let mut paths = Vec::new();
    let mut home_paths = Vec::new();
    let mut names = Vec::new();
    let mut name_texts = Vec::new();
    let mut exclude = Vec::new();
    let mut max_depth = None;
    let mut max_file_size = None;
    let mut min_file_size = None;
    let mut name_regex = Vec::new();
    let mut name_regex_texts = Vec::new();
    let mut read_pseudo = false;
    let mut executables_only = false;
    let mut pseudo_max_bytes = DEFAULT_PSEUDO_MAX_BYTES;
    let mut paths_seen = false;

    for (key, value) in table.iter() {
        match key.get_ref().as_ref() {
            "name" => name = ctx.string(value, "rule name"),
            "category" => category = ctx.string(value, "category"),
            "description" => description = ctx.string(value, "description").unwrap_or_default(),
            "paths" => {
                paths_seen = true;
                for (text, span) in ctx.strings(value, "paths") {
                    let (body, is_home) = match text.strip_prefix(HOME_VAR) {
                        Some(rest) if rest.is_empty() || rest.starts_with('/') => (
                            if rest.is_empty() {
                                "/**".to_string()
                            } else {
                                rest.to_string()
                            },
                            true,
                        ),
                        _ => (text.clone(), false),
                    };
                    match PathPattern::compile(&body, ci) {
                        Ok(p) if is_home => home_paths.push(p),
                        Ok(p) => paths.push(p),
                        Err(e) => ctx.err(span, e),
                    }
                    path_texts.push(text);
                }
            }
            "names" => {
                for (text, span) in ctx.strings(value, "names") {
                    if text.contains('/') {
                        ctx.err(
                            span,
                            format!("name pattern {text:?} must not contain '/' (use paths)"),
                        );
                        continue;
                    }
                    match compile_component(&text, ci) {
                        Ok(m) => names.push(m),
                        Err(e) => ctx.err(span, e),
                    }
                    name_texts.push(text);
                }
            }
            "name_regex" => {
                for (text, span) in ctx.strings(value, "name_regex") {
                    match regex::RegexBuilder::new(&text)
                        .case_insensitive(ci)
                        .size_limit(1 << 20)
                        .build()
                    {
                        Ok(re) => name_regex.push(re),
                        Err(e) => ctx.err(
                            span,
                            format!(
                                "bad name_regex {text:?}: {}",
                                e.to_string().lines().last().unwrap_or("invalid")
                            ),
                        ),
                    }
                    name_regex_texts.push(text);
                }
            }
            "case_insensitive" => {}
            "min_file_size" => min_file_size = ctx.size(value, "min_file_size"),
            "exclude" => {
                for (text, span) in ctx.strings(value, "exclude") {
                    match PathPattern::compile(&text, ci) {
                        Ok(p) => exclude.push(p),
                        Err(e) => ctx.err(span, e),
                    }
                }
            }
            "max_depth" => {
                if let Some(d) = ctx.integer(value, "max_depth") {
                    match u32::try_from(d) {
                        Ok(d) => max_depth = Some(d),
                        Err(_) => ctx.err(value.span(), "max_depth must be 0 or more"),
                    }
                }
            }
            "max_file_size" => max_file_size = ctx.size(value, "max_file_size"),
            "read_pseudo" => read_pseudo = ctx.boolean(value, "read_pseudo").unwrap_or(false),
            "executables_only" => {
                executables_only = ctx.boolean(value, "executables_only").unwrap_or(false)
            }
            "pseudo_max_bytes" => {
                pseudo_max_bytes = ctx
                    .size(value, "pseudo_max_bytes")
                    .unwrap_or(DEFAULT_PSEUDO_MAX_BYTES)
            }
            other => ctx.err(
                key.span(),
                format!(
                    "unknown key `{other}` in [[rule]] (rule keys: name, category, description, \
                     paths, names, name_regex, exclude, max_depth, max_file_size, min_file_size, \
                     case_insensitive, executables_only, read_pseudo, pseudo_max_bytes)"
                ),
            ),
        }
    }
    if name.is_none() {
        ctx.err(item.span(), "[[rule]] is missing `name`");
    }
    if category.is_none() {
        ctx.err(item.span(), "[[rule]] is missing `category`");
    }
    if !paths_seen {
        ctx.err(item.span(), "[[rule]] is missing `paths`");
    } else if path_texts.is_empty() {
        ctx.err(item.span(), "[[rule]] `paths` is empty");
    }
    if ctx.errors.len() > before {
        return None;
    }
    Some(Rule {
        name: name.unwrap_or_default(),
        category: category.unwrap_or_default(),
        description,
        path_texts,
        paths,
        home_paths,
        names,
        name_texts,
        name_regex,
        name_regex_texts,
        exclude,
        max_depth,
        max_file_size,
        min_file_size,
        case_insensitive: ci,
        read_pseudo,
        pseudo_max_bytes,
        executables_only,
        line,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_is_reported_with_its_line() {
        let text = r#"name = "t"
format_version = 1
colour = "blue"

[[rule]]
name = "a"
category = "logs"
paths = ["var/log"]
max_file_size = "12 parsecs"

[[rule]]
name = "b"
paths = ["/x/**"]
max_depth = -1
"#;
        let errs = parse_profile(text, "p.toml").unwrap_err();
        let joined = errs.join("\n");
        assert!(
            joined.contains("p.toml:3: unknown key `colour`"),
            "{joined}"
        );
        assert!(
            joined.contains("p.toml:8: path \"var/log\" must start with"),
            "{joined}"
        );
        assert!(
            joined.contains("p.toml:9: max_file_size: bad size"),
            "{joined}"
        );
        assert!(
            joined.contains("p.toml:14: max_depth must be 0 or more"),
            "{joined}"
        );
        assert!(joined.contains("missing `category`"), "{joined}");
        assert_eq!(errs.len(), 5, "{joined}");
    }

    #[test]
    fn syntax_errors_carry_the_line() {
        let errs =
            parse_profile("name = \"x\"\nformat_version = 1\n[[rule]\n", "q.toml").unwrap_err();
        assert!(
            errs[0].starts_with("q.toml:3: TOML syntax error"),
            "{errs:?}"
        );
    }

    #[test]
    fn home_variable_and_defaults() {
        let text = r#"name = "h"
format_version = 1
os = "windows"
[[rule]]
name = "hist"
category = "browser"
paths = ["${home}/AppData/**/History"]
"#;
        let p = parse_profile(text, "h.toml").unwrap();
        assert!(p.case_insensitive);
        assert_eq!(p.rules[0].home_paths.len(), 1);
        assert!(p.rules[0].paths.is_empty());
    }
}
