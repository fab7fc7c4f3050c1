//! Path patterns of collection rules, and matching them against paths under a source.
//!
//! Owns the pattern syntax: `/`-separated, rooted at the source, with `*`, `?`, `[...]`,
//! `{a,b}` inside a component (via globset), `**` as a whole component for any depth, and
//! `${home}` as the first component for every user's home directory. Matching works on
//! path components as the OS gives them (raw bytes on Unix), never on lossy strings, so
//! that non-UTF-8 names are matched and collected exactly. Must never touch the filesystem.

use std::ffi::{OsStr, OsString};
use std::path::Path;

use globset::{GlobBuilder, GlobMatcher};

/// The only variable a pattern may start with.
pub const HOME_VAR: &str = "${home}";

#[derive(Debug, Clone)]
pub enum Segment {
    /// A component compared exactly (or case-insensitively).
    Literal(OsString),
    /// A component with wildcards.
    Wild(GlobMatcher),
    /// `**`: zero or more components.
    AnyDepth,
}

/// A compiled path pattern, relative to the source root.
#[derive(Debug, Clone)]
pub struct PathPattern {
    segments: Vec<Segment>,
    case_insensitive: bool,
}

fn has_glob_meta(s: &str) -> bool {
    s.contains(['*', '?', '[', '{'])
}

/// Compile one component glob; errors name the component.
pub fn compile_component(component: &str, case_insensitive: bool) -> Result<GlobMatcher, String> {
    GlobBuilder::new(component)
        .case_insensitive(case_insensitive)
        .literal_separator(true)
        .backslash_escape(false)
        .build()
        .map(|g| g.compile_matcher())
        .map_err(|e| format!("bad wildcard in {component:?}: {}", e.kind()))
}

impl PathPattern {
    /// Compile a pattern body (no `${home}`; it must start with `/`).
    pub fn compile(pattern: &str, case_insensitive: bool) -> Result<Self, String> {
        let body = pattern
            .strip_prefix('/')
            .ok_or_else(|| format!("path {pattern:?} must start with '/' or {HOME_VAR}"))?;
        if pattern.contains('\\') {
            return Err(format!(
                "path {pattern:?} uses '\\': write paths with '/' (also for Windows); \
                 match a literal '*' or '?' with [*] or [?]"
            ));
        }
        let mut segments = Vec::new();
        for comp in body.split('/') {
            if comp.is_empty() {
                continue;
            }
            if comp == "." || comp == ".." {
                return Err(format!("path {pattern:?} must not contain '.' or '..'"));
            }
            if comp.contains("${") {
                return Err(format!(
                    "path {pattern:?}: variables are only allowed as the first component \
                     (and the only one is {HOME_VAR})"
                ));
            }
            if comp == "**" {
                if !matches!(segments.last(), Some(Segment::AnyDepth)) {
                    segments.push(Segment::AnyDepth);
                }
            } else if comp.contains("**") {
                return Err(format!(
                    "path {pattern:?}: '**' must be a whole component (like /a/**/b)"
                ));
            } else if has_glob_meta(comp) {
                segments.push(Segment::Wild(compile_component(comp, case_insensitive)?));
            } else {
                segments.push(Segment::Literal(OsString::from(comp)));
            }
        }
        if segments.is_empty() {
            return Err(format!(
                "path {pattern:?} matches nothing: use '/**' for everything"
            ));
        }
        Ok(PathPattern {
            segments,
            case_insensitive,
        })
    }

    /// This pattern rooted under a literal directory (used to expand `${home}`).
    pub fn under_literal_dir(&self, dir_components: &[OsString]) -> Self {
        let mut segments: Vec<Segment> = dir_components
            .iter()
            .map(|c| Segment::Literal(c.clone()))
            .collect();
        segments.extend(self.segments.iter().cloned());
        PathPattern {
            segments,
            case_insensitive: self.case_insensitive,
        }
    }

    /// Number of leading literal components: the depth of the pattern's base directory.
    pub fn literal_prefix_len(&self) -> usize {
        self.segments
            .iter()
            .take_while(|s| matches!(s, Segment::Literal(_)))
            .count()
    }

    fn component_matches(&self, seg: &Segment, comp: &OsStr) -> bool {
        match seg {
            Segment::Literal(lit) => {
                comp.as_encoded_bytes() == lit.as_encoded_bytes()
                    || (self.case_insensitive && {
                        let (c, l) = (comp.to_string_lossy(), lit.to_string_lossy());
                        c.eq_ignore_ascii_case(&l) || c.to_lowercase() == l.to_lowercase()
                    })
            }
            Segment::Wild(m) => m.is_match(Path::new(comp)),
            Segment::AnyDepth => true,
        }
    }

    /// States (segment indices) reachable after consuming `comps`, with `**` allowed to
    /// match zero components.
    fn states_after(&self, comps: &[&OsStr]) -> Vec<usize> {
        let n = self.segments.len();
        let mut states = self.closure(vec![0]);
        for comp in comps {
            let mut next = Vec::new();
            for &i in &states {
                if i >= n {
                    continue;
                }
                let seg = &self.segments[i];
                if matches!(seg, Segment::AnyDepth) {
                    next.push(i);
                } else if self.component_matches(seg, comp) {
                    next.push(i + 1);
                }
            }
            next.sort_unstable();
            next.dedup();
            states = self.closure(next);
            if states.is_empty() {
                break;
            }
        }
        states
    }

    fn closure(&self, mut states: Vec<usize>) -> Vec<usize> {
        let mut i = 0;
        while i < states.len() {
            let s = states[i];
            if s < self.segments.len()
                && matches!(self.segments[s], Segment::AnyDepth)
                && !states.contains(&(s + 1))
            {
                states.push(s + 1);
            }
            i += 1;
        }
        states.sort_unstable();
        states
    }

    /// True if some path below the directory `comps` could match.
    pub fn may_match_below(&self, comps: &[&OsStr]) -> bool {
        let n = self.segments.len();
        self.states_after(comps).iter().any(|&s| s < n)
    }

    /// True if the path `comps` itself matches.
    pub fn matches(&self, comps: &[&OsStr]) -> bool {
        let n = self.segments.len();
        self.states_after(comps).contains(&n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn comps(p: &str) -> Vec<&OsStr> {
        p.split('/')
            .filter(|c| !c.is_empty())
            .map(OsStr::new)
            .collect()
    }

    #[test]
    fn double_star_matches_any_depth_including_zero() {
        let p = PathPattern::compile("/var/log/**", false).unwrap();
        assert!(p.matches(&comps("/var/log/syslog")));
        assert!(p.matches(&comps("/var/log/a/b/c.gz")));
        assert!(!p.matches(&comps("/var/lib/x")));
        assert!(p.may_match_below(&comps("/var")));
        assert!(!p.may_match_below(&comps("/etc")));
        let q = PathPattern::compile("/home/**/.bash_history", false).unwrap();
        assert!(q.matches(&comps("/home/.bash_history")));
        assert!(q.matches(&comps("/home/alice/.bash_history")));
        assert!(!q.matches(&comps("/home/alice/.zsh_history")));
    }

    #[test]
    fn wildcards_stay_within_one_component() {
        let p = PathPattern::compile("/tmp/*.sh", false).unwrap();
        assert!(p.matches(&comps("/tmp/x.sh")));
        assert!(!p.matches(&comps("/tmp/d/x.sh")));
        assert!(!p.may_match_below(&comps("/tmp/d")));
    }

    #[test]
    fn case_insensitive_patterns_match_windows_style_names() {
        let p = PathPattern::compile("/Windows/System32/config/SAM*", true).unwrap();
        assert!(p.matches(&comps("/WINDOWS/system32/Config/sam.LOG1")));
        let q = PathPattern::compile("/Windows/System32/config/SAM", false).unwrap();
        assert!(!q.matches(&comps("/WINDOWS/system32/config/SAM")));
    }

    #[test]
    fn bad_patterns_are_rejected_with_the_reason() {
        assert!(
            PathPattern::compile("var/log", false)
                .unwrap_err()
                .contains("start with")
        );
        assert!(
            PathPattern::compile("/a/../b", false)
                .unwrap_err()
                .contains("..")
        );
        assert!(
            PathPattern::compile("/a/b**", false)
                .unwrap_err()
                .contains("whole component")
        );
        assert!(
            PathPattern::compile("/a/[z-", false)
                .unwrap_err()
                .contains("bad wildcard")
        );
        assert!(PathPattern::compile("C:\\Windows", false).is_err());
    }

    #[cfg(unix)]
    #[test]
    fn non_utf8_components_match_exactly() {
        use std::os::unix::ffi::OsStrExt;
        let p = PathPattern::compile("/data/**", false).unwrap();
        let raw = OsStr::from_bytes(b"caf\xe9.txt");
        assert!(p.matches(&[OsStr::new("data"), raw]));
        let star = PathPattern::compile("/data/*.txt", false).unwrap();
        assert!(star.matches(&[OsStr::new("data"), raw]));
    }
}
