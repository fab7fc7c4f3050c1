//! The field kit: the folder a responder copies to a USB stick (both static binaries,
//! `profiles/`, `hashsets/`, the lab's `allowed_signers`, `QUICKSTART.txt`), sealed by a
//! `SHA256SUMS` over every file in it and `SHA256SUMS.sig`, an OpenSSH SSHSIG in the
//! namespace `fieldkit-kit` (docs/packaging.md says why it is not `fieldkit-evidence`).
//!
//! Owns the seal: listing a kit's files, writing the two seal files (`seal`), checking a kit
//! both ways — every listed file is there and matches, nothing is there that is not listed
//! but documented OS clutter — and its signature (`verify`), and the quick check `collect`
//! records in the manifest: does the running binary match the kit it sits in
//! (`running_binary`). Never writes into a kit except `seal`'s two new files, never
//! follows a symlink inside one, and never trusts a kit because it vouches for itself
//! without saying so.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::Serialize;
use sha2::{Digest, Sha256};
use ssh_key::PublicKey;

use crate::bundle::manifest::KitInfo;
use crate::hashing::{hex, parse_hex};
use crate::sign::{self, Message, Signer};

/// The list of every file of the kit, `sha256sum -c` format, paths relative with `/`.
pub const SUMS: &str = "SHA256SUMS";
/// SSHSIG (Ed25519, SHA-512) over `SHA256SUMS`.
pub const SUMS_SIG: &str = "SHA256SUMS.sig";
/// The lab's `allowed_signers` (ssh-keygen(1) format) shipped in the kit.
pub const ALLOWED_SIGNERS: &str = "allowed_signers";
/// SSHSIG namespace of the kit seal: distinct from the evidence namespace so that a
/// signature over a kit's SHA256SUMS can never pass as a bundle's, and a key can be
/// allowed to seal kits but not to sign evidence (or the reverse) in `allowed_signers`.
pub const NAMESPACE: &str = "fieldkit-kit";

/// Files anywhere in the kit that operating systems create on their own when a stick is
/// browsed; they are reported as ignored, never silently (matched case-insensitively).
const CLUTTER_FILES: &[&str] = &[".DS_Store", "Thumbs.db", "ehthumbs.db", "desktop.ini"];
/// Directories operating systems create at the top of a volume.
const CLUTTER_TOP_DIRS: &[&str] = &[
    "System Volume Information",
    "$RECYCLE.BIN",
    "RECYCLER",
    ".Spotlight-V100",
    ".fseventsd",
    ".Trashes",
    ".TemporaryItems",
    "lost+found",
];

/// True for a name `verify` ignores: OS clutter (see `CLUTTER_FILES`, `CLUTTER_TOP_DIRS`,
/// macOS `._*` AppleDouble files and Linux `.Trash-*` folders).
pub fn is_clutter(name: &str, is_dir: bool, top_level: bool) -> bool {
    if is_dir {
        top_level
            && (CLUTTER_TOP_DIRS
                .iter()
                .any(|c| c.eq_ignore_ascii_case(name))
                || name.starts_with(".Trash-"))
    } else {
        name.starts_with("._") || CLUTTER_FILES.iter().any(|c| c.eq_ignore_ascii_case(name))
    }
}

/// One problem found in a kit, with a stable code.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct KitProblem {
    pub code: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    pub message: String,
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum KitVerdict {
    /// Every file matches the signed SHA256SUMS, nothing unlisted, signer accepted.
    Valid,
    /// Something was changed, added, removed, or the signature does not hold.
    Invalid,
    /// Not a kit that can be checked (no such folder, no SHA256SUMS).
    Unusable,
}

impl KitVerdict {
    /// Exit code of `fieldkit kit verify` (README.md).
    pub fn exit_code(self) -> u8 {
        match self {
            KitVerdict::Valid => 0,
            KitVerdict::Invalid => 1,
            KitVerdict::Unusable => 2,
        }
    }
}

/// What `kit verify` found.
#[derive(Debug, Clone, Serialize)]
pub struct KitReport {
    pub verdict: KitVerdict,
    pub dir: String,
    /// Entries in SHA256SUMS.
    pub files_listed: usize,
    /// Listed files present with the listed SHA-256.
    pub files_matched: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signer_fingerprint: Option<String>,
    /// Principals the trusted `allowed_signers` lists for the signing key.
    pub signer_principals: Vec<String>,
    /// What the signature was checked against.
    pub trust: String,
    /// Clutter that was present and ignored (relative paths).
    pub ignored: Vec<String>,
    pub problems: Vec<KitProblem>,
    pub exit_code: u8,
}

impl KitReport {
    /// A report for `dir` with nothing checked yet: checks downgrade the verdict.
    fn valid(dir: String) -> Self {
        KitReport {
            verdict: KitVerdict::Valid,
            dir,
            files_listed: 0,
            files_matched: 0,
            signer_fingerprint: None,
            signer_principals: Vec::new(),
            trust: String::new(),
            ignored: Vec::new(),
            problems: Vec::new(),
            exit_code: 0,
        }
    }

    fn problem(&mut self, code: &'static str, path: Option<&str>, message: String) {
        self.problems.push(KitProblem {
            code,
            path: path.map(str::to_string),
            message,
        });
    }
}

/// The files actually present in a kit folder.
#[derive(Debug, Default)]
struct Listing {
    /// Relative path with `/` → absolute path.
    files: BTreeMap<String, PathBuf>,
    ignored: Vec<String>,
    /// Entries that cannot belong to a kit (symlinks, special files, non-UTF-8 names,
    /// unreadable directories).
    problems: Vec<KitProblem>,
}

fn list(dir: &Path) -> Listing {
    let mut out = Listing::default();
    let mut walk = walkdir::WalkDir::new(dir)
        .follow_links(false)
        .sort_by_file_name()
        .into_iter();
    while let Some(item) = walk.next() {
        let entry = match item {
            Ok(e) => e,
            Err(e) => {
                let path = e.path().unwrap_or(dir).display().to_string();
                out.problems.push(KitProblem {
                    code: "unreadable",
                    path: Some(path.clone()),
                    message: format!("{path}: cannot be read: {e}"),
                });
                continue;
            }
        };
        if entry.depth() == 0 {
            continue;
        }
        let rel_path = entry.path().strip_prefix(dir).unwrap_or(entry.path());
        let parts: Option<Vec<&str>> = rel_path.iter().map(|c| c.to_str()).collect();
        let Some(parts) = parts else {
            let shown = rel_path.to_string_lossy().into_owned();
            out.problems.push(KitProblem {
                code: "bad_name",
                path: Some(shown.clone()),
                message: format!("{shown}: file name is not valid Unicode; a kit never has one"),
            });
            if entry.file_type().is_dir() {
                walk.skip_current_dir();
            }
            continue;
        };
        let rel = parts.join("/");
        let name = parts.last().copied().unwrap_or_default();
        let ft = entry.file_type();
        if is_clutter(name, ft.is_dir(), entry.depth() == 1) {
            out.ignored.push(rel);
            if ft.is_dir() {
                walk.skip_current_dir();
            }
            continue;
        }
        if ft.is_dir() {
            continue;
        }
        if entry.depth() == 1 && (name == SUMS || name == SUMS_SIG) {
            continue;
        }
        if !ft.is_file() {
            let kind = if ft.is_symlink() {
                "a symbolic link"
            } else {
                "not a regular file"
            };
            out.problems.push(KitProblem {
                code: "not_a_regular_file",
                path: Some(rel.clone()),
                message: format!("{rel}: {kind}; a kit holds regular files only"),
            });
            continue;
        }
        out.files.insert(rel, entry.into_path());
    }
    out
}

/// SHA-256 of a kit file (not evidence: plain read-only open).
fn sha256_file(path: &Path) -> io::Result<[u8; 32]> {
    let mut f = File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        match f.read(&mut buf) {
            Ok(0) => return Ok(h.finalize().into()),
            Ok(n) => h.update(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// One line of SHA256SUMS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SumsEntry {
    pub sha256: [u8; 32],
    pub name: String,
    /// 1-based line number.
    pub line: usize,
}

/// Parse `sha256sum` output (`<64 hex> <space|*><name>`). Returns the entries and one
/// message per line that is not such a line.
pub fn parse_sums(text: &str) -> (Vec<SumsEntry>, Vec<String>) {
    let mut entries = Vec::new();
    let mut bad = Vec::new();
    for (i, line) in text.split_terminator('\n').enumerate() {
        let n = i + 1;
        let parsed = line
            .get(..64)
            .and_then(parse_hex::<32>)
            .zip(line.get(64..66))
            .filter(|(_, sep)| *sep == "  " || *sep == " *")
            .and_then(|(sha, _)| line.get(66..).map(|name| (sha, name)))
            .filter(|(_, name)| !name.is_empty());
        match parsed {
            Some((sha256, name)) => entries.push(SumsEntry {
                sha256,
                name: name.to_string(),
                line: n,
            }),
            None => bad.push(format!(
                "{SUMS}:{n}: not a `sha256sum` line (64 hex digits, two spaces, a name)"
            )),
        }
    }
    (entries, bad)
}

/// Why a listed name cannot be a path inside the kit, if it cannot.
fn unsafe_name(name: &str) -> Option<&'static str> {
    if name.starts_with('/') {
        return Some("absolute path");
    }
    if name.contains(['\\', '\0', ':', '\r']) {
        return Some("contains '\\', ':' or a control character");
    }
    if name
        .split('/')
        .any(|c| c.is_empty() || c == "." || c == "..")
    {
        return Some("empty, '.' or '..' component");
    }
    None
}

fn rel_to_path(dir: &Path, rel: &str) -> PathBuf {
    let mut p = dir.to_path_buf();
    p.extend(rel.split('/'));
    p
}

/// What a kit signature is checked against.
#[derive(Debug, Clone, Default)]
pub struct VerifyOptions {
    /// An `allowed_signers` file from outside the kit (the lab's own copy). Without it the
    /// kit's own `allowed_signers` is used, which only shows the kit is self-consistent.
    pub allowed_signers: Option<PathBuf>,
    /// The signer's key fingerprint (`SHA256:…`) as published by the lab.
    pub fingerprint: Option<String>,
}

/// Check a kit folder: SHA256SUMS both ways and its signature. Never stops at the first
/// problem: every file is checked and every problem reported.
pub fn verify(dir: &Path, opts: &VerifyOptions) -> KitReport {
    let mut r = KitReport::valid(dir.display().to_string());
    let unusable = |mut r: KitReport, code, msg: String| {
        r.problem(code, None, msg);
        r.verdict = KitVerdict::Unusable;
        r.exit_code = r.verdict.exit_code();
        r
    };
    if !dir.is_dir() {
        return unusable(r, "no_kit", not_a_folder(dir));
    }
    let sums_path = dir.join(SUMS);
    let sums_bytes = match std::fs::read(&sums_path) {
        Ok(b) => b,
        Err(e) => {
            return unusable(
                r,
                "no_sums",
                format!(
                    "{}: cannot read ({e}): this folder is not a sealed fieldkit kit",
                    sums_path.display()
                ),
            );
        }
    };
    let sums_text = String::from_utf8_lossy(&sums_bytes);
    let (entries, bad_lines) = parse_sums(&sums_text);
    for msg in bad_lines {
        r.problem("malformed_sums", Some(SUMS), msg);
    }
    r.files_listed = entries.len();
    let listing = list(dir);
    r.ignored = listing.ignored.clone();
    r.problems.extend(listing.problems.iter().cloned());

    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for e in &entries {
        if let Some(first) = seen.insert(&e.name, e.line) {
            r.problem(
                "duplicate_entry",
                Some(&e.name),
                format!(
                    "{SUMS}:{}: {} is listed again (first on line {first})",
                    e.line, e.name
                ),
            );
            continue;
        }
        if let Some(why) = unsafe_name(&e.name) {
            r.problem(
                "unsafe_name",
                Some(&e.name),
                format!(
                    "{SUMS}:{}: {:?} is not a path inside the kit ({why})",
                    e.line, e.name
                ),
            );
            continue;
        }
        let path = rel_to_path(dir, &e.name);
        match std::fs::symlink_metadata(&path) {
            Err(err) if err.kind() == io::ErrorKind::NotFound => r.problem(
                "missing",
                Some(&e.name),
                format!("{}: listed in {SUMS} but missing from the kit", e.name),
            ),
            Err(err) => r.problem(
                "unreadable",
                Some(&e.name),
                format!("{}: cannot be read: {err}", e.name),
            ),
            Ok(m) if !m.is_file() => {
                // Reported by the listing already when it is inside the kit folder.
                if !listing
                    .problems
                    .iter()
                    .any(|p| p.path.as_deref() == Some(&e.name))
                {
                    r.problem(
                        "not_a_regular_file",
                        Some(&e.name),
                        format!("{}: not a regular file", e.name),
                    );
                }
            }
            Ok(_) => match sha256_file(&path) {
                Ok(actual) if actual == e.sha256 => r.files_matched += 1,
                Ok(actual) => r.problem(
                    "modified",
                    Some(&e.name),
                    format!(
                        "{}: SHA-256 is {}, {SUMS} lists {}: the file was changed",
                        e.name,
                        hex(&actual),
                        hex(&e.sha256)
                    ),
                ),
                Err(err) => r.problem(
                    "unreadable",
                    Some(&e.name),
                    format!("{}: cannot be read: {err}", e.name),
                ),
            },
        }
    }
    for rel in listing.files.keys() {
        if !seen.contains_key(rel.as_str()) {
            r.problem(
                "unlisted",
                Some(rel),
                format!("{rel}: present in the kit but not listed in {SUMS}: it was added"),
            );
        }
    }
    check_signature(dir, &sums_bytes, opts, &mut r);
    r.verdict = if r.problems.is_empty() {
        KitVerdict::Valid
    } else {
        KitVerdict::Invalid
    };
    r.exit_code = r.verdict.exit_code();
    r
}

fn check_signature(dir: &Path, sums: &[u8], opts: &VerifyOptions, r: &mut KitReport) {
    let sig_path = dir.join(SUMS_SIG);
    let pem = match std::fs::read(&sig_path) {
        Ok(p) => p,
        Err(e) => {
            r.trust = "none: no signature".into();
            r.problem(
                "signature_missing",
                Some(SUMS_SIG),
                format!(
                    "{}: cannot read ({e}): the kit is not signed",
                    sig_path.display()
                ),
            );
            return;
        }
    };
    let key = match sign::verify_in(NAMESPACE, &pem, Message::Bytes(sums), &[]) {
        Ok(k) => k,
        Err(p) => {
            r.trust = "none: the signature does not hold".into();
            r.problem("bad_signature", Some(SUMS_SIG), format!("{SUMS_SIG}: {p}"));
            return;
        }
    };
    let fingerprint = sign::fingerprint_of(&key);
    r.signer_fingerprint = Some(fingerprint.clone());
    let (signers_path, external) = match &opts.allowed_signers {
        Some(p) => (p.clone(), true),
        None => (dir.join(ALLOWED_SIGNERS), false),
    };
    let mut anchored = false;
    match std::fs::read_to_string(&signers_path) {
        Ok(text) => match signer_principals(&text, &key, &signers_path) {
            Ok(principals) if principals.is_empty() => {
                r.problem(
                    "untrusted_signer",
                    Some(SUMS_SIG),
                    format!(
                        "{SUMS_SIG}: signed by {fingerprint}, a key {} does not allow for \
                         namespace {NAMESPACE}",
                        signers_path.display()
                    ),
                );
            }
            Ok(principals) => {
                r.signer_principals = principals;
                anchored = true;
                r.trust = if external {
                    format!("allowed signers {}", signers_path.display())
                } else {
                    format!(
                        "the kit's own {ALLOWED_SIGNERS} (self-consistent only: compare the \
                         fingerprint {fingerprint} with the one your lab published, or pass \
                         --allowed-signers / --fingerprint)"
                    )
                };
            }
            Err(e) => r.problem("bad_allowed_signers", None, format!("{e:#}")),
        },
        Err(e) if external => r.problem(
            "bad_allowed_signers",
            None,
            format!("{}: cannot read: {e}", signers_path.display()),
        ),
        // A kit without its allowed_signers: the listing reports it as missing when it
        // was sealed with one; --fingerprint can still anchor the check.
        Err(_) => {}
    }
    if let Some(want) = &opts.fingerprint {
        if want.trim() == fingerprint {
            if !anchored {
                r.trust = format!("the fingerprint given on the command line ({fingerprint})");
            } else {
                r.trust
                    .push_str(&format!("; fingerprint {fingerprint} as given"));
            }
            anchored = true;
        } else {
            r.problem(
                "fingerprint_mismatch",
                Some(SUMS_SIG),
                format!(
                    "{SUMS_SIG}: signed by {fingerprint}, not by the expected {}",
                    want.trim()
                ),
            );
        }
    }
    if !anchored && r.problems.iter().all(|p| p.code != "untrusted_signer") {
        r.trust = "none".into();
        r.problem(
            "no_trust_anchor",
            Some(SUMS_SIG),
            format!(
                "{SUMS_SIG}: signed by {fingerprint}, but there is no {ALLOWED_SIGNERS} to check \
                 the key against; pass --allowed-signers or --fingerprint"
            ),
        );
    }
}

fn signer_principals(text: &str, key: &PublicKey, file: &Path) -> anyhow::Result<Vec<String>> {
    sign::principals_for_key(text, key, NAMESPACE, &file.display().to_string())
}

/// What `seal` wrote.
#[derive(Debug, Clone)]
pub struct Sealed {
    pub files: usize,
    pub sums_sha256: String,
    pub signer_fingerprint: String,
}

/// Write `SHA256SUMS` over every file of the kit folder and `SHA256SUMS.sig` (namespace
/// `fieldkit-kit`). Refuses a folder that is already sealed, holds OS clutter, symlinks,
/// special files or names that `sha256sum` would have to escape.
pub fn seal(dir: &Path, signer: &Signer) -> anyhow::Result<Sealed> {
    for name in [SUMS, SUMS_SIG] {
        let p = dir.join(name);
        if p.exists() {
            bail!("{}: already exists; the kit is sealed already", p.display());
        }
    }
    if !dir.is_dir() {
        bail!("{}", not_a_folder(dir));
    }
    let listing = list(dir);
    if let Some(p) = listing.problems.first() {
        bail!("cannot seal {}: {}", dir.display(), p.message);
    }
    if let Some(c) = listing.ignored.first() {
        bail!(
            "cannot seal {}: {c} is OS clutter that `kit verify` ignores; remove it first",
            dir.display()
        );
    }
    if let Some(bad) = listing
        .files
        .keys()
        .find(|n| n.contains('\n') || unsafe_name(n).is_some())
    {
        bail!(
            "cannot seal {}: {bad:?} is not a name SHA256SUMS can list plainly",
            dir.display()
        );
    }
    let mut sums = String::new();
    for (rel, path) in &listing.files {
        let sha = sha256_file(path).with_context(|| format!("{}: cannot read", path.display()))?;
        sums.push_str(&hex(&sha));
        sums.push_str("  ");
        sums.push_str(rel);
        sums.push('\n');
    }
    let sig = signer.sign_in(NAMESPACE, sums.as_bytes())?;
    crate::bundle::write_new(&dir.join(SUMS), sums.as_bytes())?;
    crate::bundle::write_new(&dir.join(SUMS_SIG), sig.as_bytes())?;
    Ok(Sealed {
        files: listing.files.len(),
        sums_sha256: hex(&crate::hashing::sha256(sums.as_bytes())),
        signer_fingerprint: signer.fingerprint(),
    })
}

/// The folder holding the running executable (the default kit for `kit verify`).
pub fn exe_dir() -> Option<PathBuf> {
    std::env::current_exe()
        .ok()
        .and_then(|e| e.canonicalize().ok().or(Some(e)))
        .and_then(|e| e.parent().map(Path::to_path_buf))
}

/// True when `dir` is a sealed kit (holds `SHA256SUMS`).
pub fn is_sealed_kit(dir: &Path) -> bool {
    dir.join(SUMS).is_file()
}

/// Does the running binary belong to the kit it sits in? Cheap enough for every
/// `collect`: reads SHA256SUMS, its signature and allowed_signers beside the executable
/// and compares the executable's SHA-256 (already taken for the manifest) — the other kit
/// files are not hashed (`kit verify` does that).
pub fn running_binary(exe: Option<&Path>, exe_sha256: Option<&str>) -> KitInfo {
    let mut info = KitInfo::default();
    let Some(exe) = exe else {
        info.detail = "the executable's path is unknown: kit not checked".into();
        return info;
    };
    let Some(dir) = exe.parent() else {
        info.detail = "the executable has no parent folder: kit not checked".into();
        return info;
    };
    info.dir = dir.display().to_string();
    let sums = match std::fs::read(dir.join(SUMS)) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            info.detail = format!(
                "no {SUMS} beside the executable: fieldkit is not running from a sealed kit"
            );
            return info;
        }
        Err(e) => {
            info.detail = format!("{}: cannot read: {e}", dir.join(SUMS).display());
            return info;
        }
    };
    info.sums_found = true;
    let (entries, _) = parse_sums(&String::from_utf8_lossy(&sums));
    let name = exe
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let listed = entries.iter().find(|e| e.name == name).or_else(|| {
        // Windows file names are case-insensitive.
        cfg!(windows)
            .then(|| entries.iter().find(|e| e.name.eq_ignore_ascii_case(&name)))
            .flatten()
    });
    let mut notes = Vec::new();
    match listed {
        None => notes.push(format!("{name} is not listed in {SUMS}")),
        Some(e) => {
            info.binary_listed = true;
            match exe_sha256 {
                Some(sha) if sha == hex(&e.sha256) => info.binary_matches = true,
                Some(sha) => notes.push(format!(
                    "the running binary's SHA-256 {sha} differs from the {} listed in {SUMS}",
                    hex(&e.sha256)
                )),
                None => notes.push("the running binary could not be hashed".into()),
            }
        }
    }
    let mut report = KitReport::valid(info.dir.clone());
    check_signature(dir, &sums, &VerifyOptions::default(), &mut report);
    info.signature_valid = report.problems.is_empty();
    info.signer_fingerprint = report.signer_fingerprint;
    info.signer_principals = report.signer_principals;
    notes.extend(report.problems.into_iter().map(|p| p.message));
    info.detail = if notes.is_empty() {
        format!(
            "the running binary matches {SUMS}, whose signature is by a key in the kit's own \
             {ALLOWED_SIGNERS}; the other kit files were not re-hashed (`fieldkit kit verify` \
             does that)"
        )
    } else {
        notes.join("; ")
    };
    info
}

/// Why `dir` is not a kit folder, as a person would say it: missing, a file, or unreadable.
fn not_a_folder(dir: &Path) -> String {
    match std::fs::metadata(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            format!("{}: no such folder", dir.display())
        }
        Err(e) => format!("{}: cannot read: {e}", dir.display()),
        Ok(_) => format!(
            "{}: is a file, not a folder (give the kit's folder, the one holding SHA256SUMS)",
            dir.display()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_lines_are_parsed_strictly() {
        let good = format!("{}  a/b.txt\n{} *bin\n", "ab".repeat(32), "CD".repeat(32));
        let (e, bad) = parse_sums(&good);
        assert!(bad.is_empty(), "{bad:?}");
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].name, "a/b.txt");
        assert_eq!(e[1].sha256, [0xcd; 32]);
        for line in [
            "abc  short".to_string(),
            format!("{}  ", "ab".repeat(32)),
            format!("{} x", "ab".repeat(32)),
            format!("{}\tx", "ab".repeat(32)),
            format!("{}  x", "zz".repeat(32)),
            "".to_string(),
        ] {
            let (e, bad) = parse_sums(&format!("{line}\n"));
            assert!(e.is_empty() && bad.len() == 1, "{line:?} -> {e:?} {bad:?}");
            assert!(bad[0].contains("SHA256SUMS:1"), "{bad:?}");
        }
    }

    #[test]
    fn unsafe_names_are_recognised() {
        for n in [
            "/etc/passwd",
            "../x",
            "a/../b",
            "a//b",
            "a\\b",
            "C:x",
            "./a",
        ] {
            assert!(unsafe_name(n).is_some(), "{n}");
        }
        for n in [
            "fieldkit-x86_64-linux",
            "profiles/all-files.toml",
            "a b/c.d",
        ] {
            assert!(unsafe_name(n).is_none(), "{n}");
        }
    }

    #[test]
    fn clutter_is_recognised_by_name_and_place() {
        assert!(is_clutter(".DS_Store", false, false));
        assert!(is_clutter("thumbs.DB", false, true));
        assert!(is_clutter("._fieldkit", false, false));
        assert!(is_clutter("System Volume Information", true, true));
        assert!(is_clutter(".Trash-1000", true, true));
        assert!(!is_clutter("System Volume Information", true, false));
        assert!(!is_clutter("autorun.inf", false, true));
        assert!(!is_clutter("profiles", true, true));
    }

    fn kit_with(files: &[(&str, &[u8])]) -> (tempfile::TempDir, Signer) {
        let t = tempfile::tempdir().unwrap();
        for (name, data) in files {
            let p = rel_to_path(t.path(), name);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, data).unwrap();
        }
        let signer = Signer::one_time("kit@lab.example").unwrap();
        let line = sign::allowed_signers_line_in(
            &[NAMESPACE],
            "kit@lab.example",
            &signer.public_openssh().unwrap(),
        );
        std::fs::write(t.path().join(ALLOWED_SIGNERS), format!("{line}\n")).unwrap();
        (t, signer)
    }

    fn codes(r: &KitReport) -> Vec<&'static str> {
        r.problems.iter().map(|p| p.code).collect()
    }

    #[test]
    fn a_sealed_kit_verifies_and_every_change_is_named() {
        let (t, signer) = kit_with(&[("bin", b"binary"), ("profiles/p.toml", b"x = 1")]);
        let sealed = seal(t.path(), &signer).unwrap();
        assert_eq!(sealed.files, 3);
        let r = verify(t.path(), &VerifyOptions::default());
        assert_eq!(r.verdict, KitVerdict::Valid, "{:?}", r.problems);
        assert_eq!(r.files_matched, 3);
        assert_eq!(r.signer_principals, vec!["kit@lab.example".to_string()]);
        assert!(seal(t.path(), &signer).is_err(), "sealing twice is refused");

        std::fs::write(t.path().join(".DS_Store"), b"clutter").unwrap();
        let r = verify(t.path(), &VerifyOptions::default());
        assert_eq!(r.verdict, KitVerdict::Valid);
        assert_eq!(r.ignored, vec![".DS_Store".to_string()]);

        std::fs::write(t.path().join("profiles/p.toml"), b"x = 2").unwrap();
        std::fs::write(t.path().join("profiles/extra.toml"), b"").unwrap();
        std::fs::remove_file(t.path().join("bin")).unwrap();
        let r = verify(t.path(), &VerifyOptions::default());
        assert_eq!(r.verdict, KitVerdict::Invalid);
        assert_eq!(codes(&r), vec!["missing", "modified", "unlisted"]);
        assert_eq!(r.exit_code, 1);
    }

    #[test]
    fn signatures_by_other_keys_or_namespaces_are_rejected() {
        let (t, signer) = kit_with(&[("bin", b"binary")]);
        seal(t.path(), &signer).unwrap();
        let sums = std::fs::read(t.path().join(SUMS)).unwrap();
        // Evidence-namespace signature over the same SHA256SUMS.
        std::fs::write(t.path().join(SUMS_SIG), signer.sign(&sums).unwrap()).unwrap();
        let r = verify(t.path(), &VerifyOptions::default());
        assert_eq!(codes(&r), vec!["bad_signature"]);
        assert!(
            r.problems[0].message.contains("fieldkit-kit"),
            "{:?}",
            r.problems
        );
        // A valid kit-namespace signature by a key not in allowed_signers.
        let other = Signer::one_time("other").unwrap();
        std::fs::write(
            t.path().join(SUMS_SIG),
            other.sign_in(NAMESPACE, &sums).unwrap(),
        )
        .unwrap();
        let r = verify(t.path(), &VerifyOptions::default());
        assert_eq!(codes(&r), vec!["untrusted_signer"]);
        // ... which a pinned fingerprint does not rescue.
        let r = verify(
            t.path(),
            &VerifyOptions {
                fingerprint: Some(signer.fingerprint()),
                ..Default::default()
            },
        );
        assert_eq!(codes(&r), vec!["untrusted_signer", "fingerprint_mismatch"]);
    }

    #[test]
    fn an_unsealed_folder_is_unusable() {
        let t = tempfile::tempdir().unwrap();
        let r = verify(t.path(), &VerifyOptions::default());
        assert_eq!(r.verdict, KitVerdict::Unusable);
        assert_eq!(r.exit_code, 2);
        let r = verify(&t.path().join("nope"), &VerifyOptions::default());
        assert_eq!(codes(&r), vec!["no_kit"]);
    }

    #[test]
    fn the_running_binary_check_reports_listing_match_and_signature() {
        let (t, signer) = kit_with(&[("fk", b"the binary")]);
        seal(t.path(), &signer).unwrap();
        let sha = hex(&crate::hashing::sha256(b"the binary"));
        let info = running_binary(Some(&t.path().join("fk")), Some(&sha));
        assert!(info.sums_found && info.binary_listed && info.binary_matches);
        assert!(info.signature_valid, "{}", info.detail);
        assert_eq!(info.signer_fingerprint, Some(signer.fingerprint()));
        let info = running_binary(Some(&t.path().join("fk")), Some(&"0".repeat(64)));
        assert!(info.binary_listed && !info.binary_matches);
        assert!(info.detail.contains("differs"), "{}", info.detail);
        let info = running_binary(Some(&t.path().join("other")), Some(&sha));
        assert!(info.sums_found && !info.binary_listed && !info.binary_matches);
        let bare = tempfile::tempdir().unwrap();
        let info = running_binary(Some(&bare.path().join("fk")), Some(&sha));
        assert!(!info.sums_found && !info.signature_valid);
    }
}
