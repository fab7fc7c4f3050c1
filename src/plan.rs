//! The plan: a profile resolved against one source — `${home}` expanded to the source's
//! real home directories, rules ready to answer "descend into this directory?" and "which
//! rules want this file?" for the walk.
//!
//! Owns rule matching and how limits combine when several rules want the same file (the
//! most permissive limit wins, so a file is never skipped by one rule that another rule
//! explicitly asked for). Never reads file contents.

use std::ffi::{OsStr, OsString};
use std::path::Path;

use crate::profile::pattern::PathPattern;
use crate::profile::{Profile, Rule};

#[derive(Debug, Clone)]
pub struct PlannedRule {
    pub name: String,
    pub category: String,
    patterns: Vec<PathPattern>,
    names: Vec<globset::GlobMatcher>,
    name_regex: Vec<regex::Regex>,
    exclude: Vec<PathPattern>,
    min_file_size: Option<u64>,
    max_depth: Option<u32>,
    pub max_file_size: Option<u64>,
    pub read_pseudo: bool,
    pub pseudo_max_bytes: u64,
    pub executables_only: bool,
}

impl PlannedRule {
    fn from_rule(rule: &Rule, homes: &[Vec<OsString>], default_max: Option<u64>) -> Self {
        let mut patterns = rule.paths.clone();
        for home_pattern in &rule.home_paths {
            for home in homes {
                patterns.push(home_pattern.under_literal_dir(home));
            }
        }
        PlannedRule {
            name: rule.name.clone(),
            category: rule.category.clone(),
            patterns,
            names: rule.names.clone(),
            name_regex: rule.name_regex.clone(),
            exclude: rule.exclude.clone(),
            min_file_size: rule.min_file_size,
            max_depth: rule.max_depth,
            max_file_size: rule.max_file_size.or(default_max),
            read_pseudo: rule.read_pseudo,
            pseudo_max_bytes: rule.pseudo_max_bytes,
            executables_only: rule.executables_only,
        }
    }

    fn excluded(&self, comps: &[&OsStr]) -> bool {
        self.exclude.iter().any(|p| p.matches(comps))
    }

    fn depth_ok(&self, pattern: &PathPattern, comps_len: usize, is_dir: bool) -> bool {
        let Some(max) = self.max_depth else {
            return true;
        };
        let depth = comps_len.saturating_sub(pattern.literal_prefix_len());
        if is_dir {
            depth < max as usize
        } else {
            depth <= max as usize
        }
    }

    fn may_descend(&self, comps: &[&OsStr]) -> bool {
        !self.excluded(comps)
            && self
                .patterns
                .iter()
                .any(|p| self.depth_ok(p, comps.len(), true) && p.may_match_below(comps))
    }

    /// True if some pattern names a path below `comps` literally (used to enter pseudo
    /// filesystems only where a rule explicitly points, e.g. /dev/shm under /dev).
    fn reaches_literally_below(&self, comps: &[&OsStr]) -> bool {
        self.patterns
            .iter()
            .any(|p| p.literal_prefix_len() > comps.len() && p.may_match_below(comps))
    }

    /// `size`: what the walk's `lstat` says, when it knows (a rule's minimum size cannot
    /// turn a file away whose size is unknown).
    fn wants(&self, comps: &[&OsStr], size: Option<u64>) -> bool {
        let Some(name) = comps.last() else {
            return false;
        };
        let by_glob = || self.names.iter().any(|n| n.is_match(Path::new(name)));
        // Regexes see the name as text; a name that is not UTF-8 is matched in its lossy
        // form (a regex cannot address the raw bytes of an OS string portably).
        let by_regex = || {
            let text = name.to_string_lossy();
            self.name_regex.iter().any(|r| r.is_match(&text))
        };
        let name_ok =
            (self.names.is_empty() && self.name_regex.is_empty()) || by_glob() || by_regex();
        let size_ok = match (self.min_file_size, size) {
            (Some(min), Some(size)) => size >= min,
            _ => true,
        };
        name_ok
            && size_ok
            && !self.excluded(comps)
            && self
                .patterns
                .iter()
                .any(|p| self.depth_ok(p, comps.len(), false) && p.matches(comps))
    }
}

/// What the rules that want one file allow, combined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_file_size: Option<u64>,
    pub read_pseudo: bool,
    pub pseudo_max_bytes: u64,
    pub executables_only: bool,
}

#[derive(Debug, Clone)]
pub struct Plan {
    pub rules: Vec<PlannedRule>,
    pub follow_symlinks: bool,
    /// Home directories found on the source (relative components), for the record.
    pub homes: Vec<Vec<OsString>>,
}

impl Plan {
    /// Resolve `profile` against the source at `root`. `max_file_size_override` (from the
    /// command line) replaces every rule's size limit.
    pub fn new(
        profile: &Profile,
        root: &Path,
        max_file_size_override: Option<u64>,
    ) -> (Plan, Result<(), String>) {
        Self::new_in(
            profile,
            &crate::source::homes::OsTree { root },
            max_file_size_override,
        )
    }

    /// `new` for any source: homes are found in `tree` (an image's file system, rooted
    /// at its root).
    pub fn new_in(
        profile: &Profile,
        tree: &dyn crate::source::homes::Tree,
        max_file_size_override: Option<u64>,
    ) -> (Plan, Result<(), String>) {
        let needs_homes = profile.rules.iter().any(|r| !r.home_paths.is_empty());
        let (homes, home_result) = if needs_homes {
            match crate::source::homes::resolve_in(tree, profile.os) {
                Ok(h) => (h, Ok(())),
                Err(e) => (Vec::new(), Err(e)),
            }
        } else {
            (Vec::new(), Ok(()))
        };
        let rules = profile
            .rules
            .iter()
            .map(|r| {
                let mut pr = PlannedRule::from_rule(r, &homes, profile.max_file_size);
                if max_file_size_override.is_some() {
                    pr.max_file_size = max_file_size_override;
                }
                pr
            })
            .collect();
        (
            Plan {
                rules,
                follow_symlinks: profile.follow_symlinks,
                homes,
            },
            home_result,
        )
    }

    pub fn may_descend(&self, comps: &[&OsStr]) -> bool {
        self.rules.iter().any(|r| r.may_descend(comps))
    }

    pub fn reaches_literally_below(&self, comps: &[&OsStr]) -> bool {
        self.rules
            .iter()
            .any(|r| r.may_descend(comps) && r.reaches_literally_below(comps))
    }

    /// Indices of the rules that want the file at `comps`, whose size (from the walk's
    /// `lstat` of a regular file) is `size` when known.
    pub fn matching_rules(&self, comps: &[&OsStr], size: Option<u64>) -> Vec<u16> {
        self.rules
            .iter()
            .enumerate()
            .filter(|(_, r)| r.wants(comps, size))
            .map(|(i, _)| i as u16)
            .collect()
    }

    /// Indices of the rules that name the file at `comps` literally (every component of
    /// some pattern up to this one is literal): how an image's file-system metadata
    /// (`$MFT`, `$Extend/$UsnJrnl:$J`) is collected only where a profile asks for it.
    pub fn matching_rules_literally(&self, comps: &[&OsStr], size: Option<u64>) -> Vec<u16> {
        self.rules
            .iter()
            .enumerate()
            .filter(|(_, r)| {
                r.wants(comps, size)
                    && r.patterns
                        .iter()
                        .any(|p| p.literal_prefix_len() >= comps.len() && p.matches(comps))
            })
            .map(|(i, _)| i as u16)
            .collect()
    }

    pub fn limits(&self, rule_ids: &[u16]) -> Limits {
        let rules = || rule_ids.iter().filter_map(|&i| self.rules.get(i as usize));
        let unlimited = rules().any(|r| r.max_file_size.is_none());
        Limits {
            max_file_size: if unlimited {
                None
            } else {
                rules().filter_map(|r| r.max_file_size).max()
            },
            read_pseudo: rules().any(|r| r.read_pseudo),
            pseudo_max_bytes: rules().map(|r| r.pseudo_max_bytes).max().unwrap_or(0),
            executables_only: rules().all(|r| r.executables_only),
        }
    }

    pub fn rule_names(&self, rule_ids: &[u16]) -> Vec<String> {
        rule_ids
            .iter()
            .filter_map(|&i| self.rules.get(i as usize))
            .map(|r| r.name.clone())
            .collect()
    }
}
