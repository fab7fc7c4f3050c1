//! Member names: how an original path becomes a name under `files/` that extracts safely
//! on Linux and Windows and still mirrors the original path wherever it can.
//!
//! Owns the escaping rules (documented in docs/bundle-format.md): each component is kept
//! as UTF-8 where it is valid and harmless; anything else — bytes that are not UTF-8,
//! control characters, characters Windows forbids (`<>:"/\|?*`), `%` itself, a trailing
//! dot or space, Windows device names (CON, NUL, COM1, …) — is percent-encoded. Over-long
//! components and names are shortened with a hash of the original so they stay unique;
//! names that would collide on a case-insensitive filesystem get a `~N` suffix. The exact
//! original path is always in files.jsonl; a member name is never the evidence of a path.
//!
//! Also owns the canonical-name rule that `verify` and `extract` share
//! (`check_member_name`, `clashes`): a name either unpacks to one path of its own on
//! every system, or the bundle is rejected and not extracted. Never accepts in one place
//! a name the other refuses.

use std::collections::HashMap;
use std::ffi::OsStr;

use crate::hashing::{hex, sha256};

/// Longest escaped component kept as is (bytes); NTFS allows 255 UTF-16 units.
const MAX_COMPONENT: usize = 200;
/// Longest member name kept mirroring the original path (Windows MAX_PATH is 260 and the
/// examiner's extraction directory needs some of it).
const MAX_NAME: usize = 240;

pub const FILES_PREFIX: &str = "files/";

fn is_reserved_device(component: &str) -> bool {
    let stem = component.split('.').next().unwrap_or("").trim_end();
    let upper = stem.to_ascii_uppercase();
    matches!(
        upper.as_str(),
        "CON" | "PRN" | "AUX" | "NUL" | "CONIN$" | "CONOUT$"
    ) || ((upper.starts_with("COM") || upper.starts_with("LPT"))
        && upper.len() == 4
        && upper.as_bytes()[3].is_ascii_digit())
        || ((upper.starts_with("COM") || upper.starts_with("LPT"))
            && ["¹", "²", "³"]
                .iter()
                .any(|s| stem.len() == 3 + s.len() && stem.ends_with(s)))
}

fn push_escaped(out: &mut String, bytes: &[u8]) {
    for b in bytes {
        out.push_str(&format!("%{b:02X}"));
    }
}

/// Escape one path component (raw bytes as the OS gave them).
pub fn escape_component(raw: &[u8]) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while !rest.is_empty() {
        match std::str::from_utf8(rest) {
            Ok(valid) => {
                escape_str(&mut out, valid);
                rest = &[];
            }
            Err(e) => {
                let (good, bad) = rest.split_at(e.valid_up_to());
                escape_str(&mut out, std::str::from_utf8(good).unwrap_or_default());
                let bad_len = e.error_len().unwrap_or(bad.len()).max(1).min(bad.len());
                push_escaped(&mut out, &bad[..bad_len]);
                rest = &bad[bad_len..];
            }
        }
    }
    // Windows strips trailing dots and spaces, which would merge distinct names.
    let kept = out.trim_end_matches(['.', ' ']).len();
    if kept < out.len() {
        let tail: String = out[kept..]
            .chars()
            .map(|c| if c == '.' { "%2E" } else { "%20" })
            .collect();
        out.truncate(kept);
        out.push_str(&tail);
    }
    if is_reserved_device(&out) {
        let first = out.remove(0);
        let mut enc = String::new();
        push_escaped(&mut enc, first.to_string().as_bytes());
        out = enc + &out;
    }
    if out.is_empty() {
        out.push_str("%00");
    }
    if out.len() > MAX_COMPONENT {
        let mut cut = MAX_COMPONENT - 18;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out = format!("{}~{}", &out[..cut], &hex(&sha256(raw))[..16]);
    }
    out
}

fn escape_str(out: &mut String, s: &str) {
    for c in s.chars() {
        let forbidden = c.is_control()
            || matches!(
                c,
                '<' | '>' | ':' | '"' | '/' | '\\' | '|' | '?' | '*' | '%'
            )
            || c == '\u{FEFF}';
        if forbidden {
            let mut buf = [0u8; 4];
            push_escaped(out, c.encode_utf8(&mut buf).as_bytes());
        } else {
            out.push(c);
        }
    }
}

/// The mirrored member name for a path given as components below the source root.
pub fn mirrored_name(components: &[&OsStr]) -> String {
    let mut name = String::from(FILES_PREFIX);
    for (i, c) in components.iter().enumerate() {
        if i > 0 {
            name.push('/');
        }
        name.push_str(&escape_component(c.as_encoded_bytes()));
    }
    name
}

/// Fallback name for a path too long to mirror: still unique, still ends with the file's
/// own (escaped) name so an examiner browsing the extraction recognises it.
fn shortened_name(components: &[&OsStr]) -> String {
    let mut all = Vec::new();
    for c in components {
        all.extend_from_slice(c.as_encoded_bytes());
        all.push(b'/');
    }
    let last = components
        .last()
        .map(|c| escape_component(c.as_encoded_bytes()))
        .unwrap_or_default();
    let mut cut = last.len().min(100);
    while !last.is_char_boundary(cut) {
        cut -= 1;
    }
    // The cut may end in a dot or a space, which Windows drops: escaped, as everywhere.
    let kept = last[..cut].trim_end_matches(['.', ' ']);
    let tail: String = last[kept.len()..cut]
        .chars()
        .map(|c| if c == '.' { "%2E" } else { "%20" })
        .collect();
    format!(
        "{FILES_PREFIX}~long/{}/{kept}{tail}",
        &hex(&sha256(&all))[..32],
    )
}

/// Assigns member names, keeping them unique on case-insensitive filesystems too.
#[derive(Debug, Default)]
pub struct MemberNames {
    /// Lower-cased name → whether it is a stored file (true) or a directory prefix.
    taken: HashMap<String, bool>,
}

impl MemberNames {
    pub fn new() -> Self {
        MemberNames::default()
    }

    fn prefix_conflicts(&self, name: &str) -> bool {
        let lower = name.to_lowercase();
        lower
            .match_indices('/')
            .any(|(i, _)| self.taken.get(&lower[..i]) == Some(&true))
    }

    fn free(&self, name: &str) -> bool {
        !self.taken.contains_key(&name.to_lowercase()) && !self.prefix_conflicts(name)
    }

    fn claim(&mut self, name: &str) {
        let lower = name.to_lowercase();
        for (i, _) in lower.match_indices('/') {
            self.taken.entry(lower[..i].to_string()).or_insert(false);
        }
        self.taken.insert(lower, true);
    }

    /// Reserve and return the member name for a file at `components`.
    pub fn assign(&mut self, components: &[&OsStr]) -> String {
        let mut base = mirrored_name(components);
        if base.len() > MAX_NAME || self.prefix_conflicts(&base) {
            base = shortened_name(components);
        }
        if self.free(&base) {
            self.claim(&base);
            return base;
        }
        let (stem, ext) = match base.rfind('.') {
            Some(dot) if dot > base.rfind('/').unwrap_or(0) + 1 => base.split_at(dot),
            _ => (base.as_str(), ""),
        };
        let mut n = 2u64;
        loop {
            let candidate = format!("{stem}~{n}{ext}");
            if self.free(&candidate) {
                self.claim(&candidate);
                return candidate;
            }
            n += 1;
        }
    }

    /// Reserve a fixed name (metadata members).
    pub fn claim_fixed(&mut self, name: &str) -> bool {
        if self.free(name) {
            self.claim(name);
            true
        } else {
            false
        }
    }
}

/// Why one component of a member name is not one that every system holds exactly (in
/// particular Windows: it would refuse it, alter it, or — for `:` — write an alternate
/// data stream of another file), or `None`. fieldkit's own names never have these: the
/// escaping above removes them.
pub fn component_problem(comp: &str) -> Option<String> {
    if let Some(c) = comp
        .chars()
        .find(|c| matches!(c, '<' | '>' | ':' | '"' | '|' | '?' | '*') || c.is_control())
    {
        return Some(if c == ':' {
            format!("{comp:?} contains ':' (an NTFS alternate data stream, or a drive letter)")
        } else {
            format!("{comp:?} contains the character {c:?}")
        });
    }
    if comp.ends_with('.') || comp.ends_with(' ') {
        return Some(format!(
            "{comp:?} ends with a dot or a space (Windows drops them)"
        ));
    }
    if is_reserved_device(comp) {
        return Some(format!("{comp:?} is a reserved device name"));
    }
    None
}

/// Why `name` is not a canonical member name, the one rule `verify` and `extract` share
/// (docs/bundle-format.md, "Member names"): a relative path of non-empty components
/// separated by `/`, none `.` or `..`, no backslash, and each component one that every
/// system holds exactly (`component_problem`). Clashes between names are `clashes`.
pub fn check_member_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("empty member name".into());
    }
    if name.starts_with('/') || name.contains('\\') {
        return Err(format!(
            "member name {name:?} is absolute or contains a backslash"
        ));
    }
    for comp in name.split('/') {
        if comp.is_empty() || comp == "." || comp == ".." {
            return Err(format!(
                "member name {name:?} has an empty, '.' or '..' component"
            ));
        }
        if let Some(why) = component_problem(comp) {
            return Err(format!(
                "member name {name:?} is not one every system can write: {why}"
            ));
        }
    }
    Ok(())
}

/// Two member names that cannot both be unpacked as themselves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Clash {
    /// The same name twice.
    Duplicate(String),
    /// Equal when case is ignored (one file on Windows and macOS).
    SameIgnoringCase(String, String),
    /// `file` is a directory of `member` (ignoring case): it cannot be both.
    FileIsDirectory { file: String, member: String },
}

impl std::fmt::Display for Clash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Clash::Duplicate(n) => write!(f, "member {n:?} appears twice"),
            Clash::SameIgnoringCase(a, b) => write!(
                f,
                "members {a:?} and {b:?} are the same file where case is ignored"
            ),
            Clash::FileIsDirectory { file, member } => write!(
                f,
                "member {file:?} is both a file and a directory (of member {member:?})"
            ),
        }
    }
}

/// Every clash among `names` (in their order; case folded as `MemberNames` folds it).
pub fn clashes<'a>(names: impl IntoIterator<Item = &'a str>) -> Vec<Clash> {
    let mut out = Vec::new();
    let mut files: HashMap<String, &str> = HashMap::new();
    let names: Vec<&str> = names.into_iter().collect();
    for &n in &names {
        match files.get(&n.to_lowercase()) {
            Some(&first) if first == n => out.push(Clash::Duplicate(n.to_string())),
            Some(&first) => out.push(Clash::SameIgnoringCase(first.to_string(), n.to_string())),
            None => {
                files.insert(n.to_lowercase(), n);
            }
        }
    }
    for &n in &names {
        let lower = n.to_lowercase();
        for (i, _) in lower.match_indices('/') {
            if let Some(&file) = files.get(&lower[..i]) {
                out.push(Clash::FileIsDirectory {
                    file: file.to_string(),
                    member: n.to_string(),
                });
                break;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(s: &str) -> &OsStr {
        OsStr::new(s)
    }

    #[test]
    fn plain_names_mirror_the_path() {
        assert_eq!(
            mirrored_name(&[os("etc"), os("passwd")]),
            "files/etc/passwd"
        );
        assert_eq!(escape_component("Grüße.txt".as_bytes()), "Grüße.txt");
    }

    #[test]
    fn unsafe_characters_are_percent_encoded() {
        assert_eq!(escape_component(b"a:b*c?.txt"), "a%3Ab%2Ac%3F.txt");
        assert_eq!(escape_component(b"100%"), "100%25");
        assert_eq!(escape_component(b"tab\there"), "tab%09here");
        assert_eq!(escape_component(b"back\\slash"), "back%5Cslash");
        assert_eq!(escape_component(b"caf\xe9"), "caf%E9");
        assert_eq!(escape_component(b"trailing. "), "trailing%2E%20");
        assert_eq!(escape_component(b"dots.."), "dots%2E%2E");
        assert_eq!(escape_component(b"CON"), "%43ON");
        assert_eq!(escape_component(b"nul.txt"), "%6Eul.txt");
        assert_eq!(escape_component(b"COM1.log"), "%43OM1.log");
        assert_eq!(escape_component(b"CONSOLE"), "CONSOLE");
    }

    #[test]
    fn long_components_and_names_stay_unique_and_bounded() {
        let a = "x".repeat(300) + "a";
        let b = "x".repeat(300) + "b";
        let ea = escape_component(a.as_bytes());
        let eb = escape_component(b.as_bytes());
        assert!(ea.len() <= MAX_COMPONENT && eb.len() <= MAX_COMPONENT);
        assert_ne!(ea, eb);
        let deep: Vec<String> = (0..40).map(|i| format!("directory{i}")).collect();
        let comps: Vec<&OsStr> = deep.iter().map(OsStr::new).collect();
        let mut names = MemberNames::new();
        let n = names.assign(&comps);
        assert!(
            n.starts_with("files/~long/") && n.ends_with("/directory39"),
            "{n}"
        );
        assert!(n.len() <= MAX_NAME);
    }

    #[test]
    fn every_name_the_writer_makes_is_canonical_and_clash_free() {
        let mut names = MemberNames::new();
        let raw: [&[u8]; 12] = [
            b"a:b*c?.txt",
            b"CON",
            b"nul.txt",
            b"trailing. ",
            b"tab\there",
            b"caf\xe9",
            b"COM\xc2\xb9",
            b"Report.txt",
            b"report.TXT",
            b".",
            b"..",
            b"back\\slash",
        ];
        let mut assigned = Vec::new();
        for r in raw {
            let os = unsafe_os(r);
            let n = names.assign(&[OsStr::new("d"), &os]);
            assert_eq!(check_member_name(&n), Ok(()), "{n}");
            assigned.push(n);
        }
        assert!(
            clashes(assigned.iter().map(String::as_str)).is_empty(),
            "{assigned:?}"
        );
    }

    #[test]
    fn a_shortened_name_cut_after_a_dot_or_space_stays_canonical() {
        let deep: Vec<String> = (0..30).map(|i| format!("directory{i}")).collect();
        for last in [
            format!("{}. y", "x".repeat(99)),
            format!("{} y", "x".repeat(99)),
        ] {
            let mut comps: Vec<&OsStr> = deep.iter().map(OsStr::new).collect();
            comps.push(OsStr::new(&last));
            let n = MemberNames::new().assign(&comps);
            assert!(n.starts_with("files/~long/"), "{n}");
            assert_eq!(check_member_name(&n), Ok(()), "{n}");
        }
    }

    #[cfg(unix)]
    fn unsafe_os(b: &[u8]) -> std::ffi::OsString {
        use std::os::unix::ffi::OsStrExt;
        OsStr::from_bytes(b).to_os_string()
    }

    #[cfg(not(unix))]
    fn unsafe_os(b: &[u8]) -> std::ffi::OsString {
        String::from_utf8_lossy(b).into_owned().into()
    }

    #[test]
    fn the_shared_rule_refuses_what_unpacks_to_another_path_or_nowhere() {
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../../x",
            "a\\..\\x",
            "C:/x",
            "a//b",
            "./a",
            "files/sub/./b.txt",
            "files/evidence.txt:hidden",
            "files/CON",
            "files/Com1.log",
            "files/trailing.",
            "files/nul\0",
        ] {
            assert!(check_member_name(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            clashes(["files/a", "files/A", "files/a/b", "files/a"]),
            vec![
                Clash::SameIgnoringCase("files/a".into(), "files/A".into()),
                Clash::Duplicate("files/a".into()),
                Clash::FileIsDirectory {
                    file: "files/a".into(),
                    member: "files/a/b".into()
                },
            ]
        );
    }

    #[test]
    fn case_insensitive_collisions_get_suffixes() {
        let mut names = MemberNames::new();
        assert_eq!(
            names.assign(&[os("d"), os("Report.txt")]),
            "files/d/Report.txt"
        );
        assert_eq!(
            names.assign(&[os("d"), os("report.TXT")]),
            "files/d/report~2.TXT"
        );
        assert_eq!(
            names.assign(&[os("D"), os("REPORT.txt")]),
            "files/D/REPORT~3.txt"
        );
        // A file named like an existing directory, and a directory named like a file.
        assert_eq!(names.assign(&[os("d")]), "files/d~2");
        assert_eq!(names.assign(&[os("x")]), "files/x");
        let n = names.assign(&[os("X"), os("inner")]);
        assert!(n.starts_with("files/~long/"), "{n}");
    }
}
