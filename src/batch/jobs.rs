//! The batch job file (`JOBS.toml`, docs/lab.md): case-level defaults in `[case]`, one
//! `[[job]]` table per exhibit. Owns parsing, validation (unique, file-name-safe exhibit
//! ids; a source that exists) and the merge of defaults into each job.
//!
//! Must never touch a source beyond `stat` (it only checks that it exists), and never
//! accept a file it does not understand: unknown keys are errors, and every error is one
//! line naming the job file and the line.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

/// What a job does with its source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A mounted evidence folder: collected.
    Folder,
    /// A disk image (raw, split raw, E01, VMDK, VHD(X)): collected without mounting.
    Image,
    /// A block device: collected like an image.
    Device,
    /// An existing bundle (.zip / .zip.age): re-verified, never re-collected.
    Bundle,
}

/// Settings a job may take from `[case]` or set itself.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub case: Option<String>,
    pub examiner: Option<String>,
    pub org: Option<String>,
    pub notes: Option<String>,
    pub profile: Option<String>,
    pub definitions: Option<PathBuf>,
    pub hash: Option<String>,
    pub key: Option<PathBuf>,
    pub known_good: Option<Vec<PathBuf>>,
    pub known_bad: Option<Vec<PathBuf>>,
    pub keep_known: Option<bool>,
    pub max_file_size: Option<String>,
    pub no_triage: Option<bool>,
    pub no_verify: Option<bool>,
    pub partition: Option<String>,
    pub deleted: Option<bool>,
    pub hash_image: Option<bool>,
    pub since: Option<String>,
    pub until: Option<String>,
    pub encrypt_to: Option<Vec<String>>,
    /// Identity file to open encrypted bundles of `kind = "bundle"` jobs.
    pub identity_file: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawJob {
    exhibit: Spanned<String>,
    source: Spanned<PathBuf>,
    kind: Option<Kind>,
    #[serde(flatten)]
    settings: Settings,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    case: Settings,
    #[serde(default)]
    job: Vec<RawJob>,
}

/// One job, defaults merged, paths absolute (relative ones are taken from the job file's
/// folder).
#[derive(Debug, Clone)]
pub struct Job {
    pub exhibit: String,
    pub source: PathBuf,
    pub kind: Kind,
    pub settings: Settings,
    /// Line of the `[[job]]`'s exhibit key in the job file (for messages).
    pub line: usize,
}

/// The parsed job file.
#[derive(Debug, Clone)]
pub struct JobFile {
    pub path: PathBuf,
    pub jobs: Vec<Job>,
}

fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

/// An exhibit id becomes a folder name under OUT: letters, digits, `.`, `-`, `_`, not
/// starting with a dot, at most 100 bytes.
pub fn check_exhibit_id(id: &str) -> Result<(), String> {
    if id.is_empty() || id.len() > 100 {
        return Err("exhibit id must be 1 to 100 characters".into());
    }
    if id.starts_with('.') {
        return Err(format!("exhibit id {id:?} must not start with a dot"));
    }
    if let Some(c) = id
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')))
    {
        return Err(format!(
            "exhibit id {id:?} has {c:?}: only letters, digits, '.', '-' and '_' (it names the \
             job's folder under --out)"
        ));
    }
    Ok(())
}

fn merge_list<T: Clone>(job: &Option<Vec<T>>, case: &Option<Vec<T>>) -> Option<Vec<T>> {
    job.clone().or_else(|| case.clone())
}

fn absolute(base: &Path, p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.join(p)
    }
}

fn merge(case: &Settings, job: &Settings, base: &Path) -> Settings {
    let abs = |p: &Option<PathBuf>| p.as_deref().map(|p| absolute(base, p));
    let abs_list = |v: Option<Vec<PathBuf>>| {
        v.map(|v| v.iter().map(|p| absolute(base, p)).collect::<Vec<_>>())
    };
    let pick = |j: &Option<String>, c: &Option<String>| j.clone().or_else(|| c.clone());
    Settings {
        case: pick(&job.case, &case.case),
        examiner: pick(&job.examiner, &case.examiner),
        org: pick(&job.org, &case.org),
        notes: pick(&job.notes, &case.notes),
        profile: pick(&job.profile, &case.profile).map(|p| {
            // A profile given as a file path is taken relative to the job file; a built-in
            // name or an importer spec (kape:, uac:, fa:) is left alone.
            let path = base.join(&p);
            if !p.contains(':') && !Path::new(&p).is_absolute() && path.is_file() {
                path.display().to_string()
            } else {
                p
            }
        }),
        definitions: abs(&job.definitions).or_else(|| abs(&case.definitions)),
        hash: pick(&job.hash, &case.hash),
        key: abs(&job.key).or_else(|| abs(&case.key)),
        known_good: abs_list(merge_list(&job.known_good, &case.known_good)),
        known_bad: abs_list(merge_list(&job.known_bad, &case.known_bad)),
        keep_known: job.keep_known.or(case.keep_known),
        max_file_size: pick(&job.max_file_size, &case.max_file_size),
        no_triage: job.no_triage.or(case.no_triage),
        no_verify: job.no_verify.or(case.no_verify),
        partition: pick(&job.partition, &case.partition),
        deleted: job.deleted.or(case.deleted),
        hash_image: job.hash_image.or(case.hash_image),
        since: pick(&job.since, &case.since),
        until: pick(&job.until, &case.until),
        encrypt_to: merge_list(&job.encrypt_to, &case.encrypt_to),
        identity_file: abs(&job.identity_file).or_else(|| abs(&case.identity_file)),
    }
}

fn guess_kind(source: &Path) -> Kind {
    let name = source
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    match std::fs::metadata(source) {
        Ok(m) if m.is_dir() => Kind::Folder,
        _ if name.ends_with(".zip") || name.ends_with(".zip.age") => Kind::Bundle,
        #[cfg(unix)]
        Ok(m)
            if {
                use std::os::unix::fs::FileTypeExt;
                m.file_type().is_block_device()
            } =>
        {
            Kind::Device
        }
        _ => Kind::Image,
    }
}

impl JobFile {
    /// Read and check a job file. Errors are one line: `FILE:LINE: problem`.
    pub fn load(path: &Path) -> Result<JobFile, String> {
        let shown = path.display();
        let text =
            std::fs::read_to_string(path).map_err(|e| format!("{shown}: cannot read: {e}"))?;
        let raw: RawFile = toml::from_str(&text).map_err(|e| {
            let mut line = e.span().map(|s| line_of(&text, s.start)).unwrap_or(1);
            let msg = e.message().replace('\n', " ");
            // Flattened tables report an unknown key at the table: find the key's own line.
            if let Some(key) = msg
                .strip_prefix("unknown field `")
                .and_then(|r| r.split('`').next())
            {
                let from = e.span().map(|s| s.start).unwrap_or(0).min(text.len());
                let before = line_of(&text, from) - 1;
                if let Some(i) = text[from..].lines().position(|l| {
                    l.trim_start()
                        .strip_prefix(key)
                        .is_some_and(|r| r.trim_start().starts_with('='))
                }) {
                    line = before + i + 1;
                }
            }
            format!("{shown}:{line}: {}", msg.trim())
        })?;
        let base = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        let base = std::fs::canonicalize(&base).unwrap_or(base);
        if raw.job.is_empty() {
            return Err(format!("{shown}:1: no [[job]] table: nothing to do"));
        }
        let mut seen: std::collections::HashMap<String, usize> = Default::default();
        let mut jobs = Vec::with_capacity(raw.job.len());
        for j in raw.job {
            let line = line_of(&text, j.exhibit.span().start);
            let exhibit = j.exhibit.get_ref().clone();
            check_exhibit_id(&exhibit).map_err(|e| format!("{shown}:{line}: {e}"))?;
            // Folder names must not collide on a case-insensitive file system either.
            if let Some(first) = seen.insert(exhibit.to_ascii_lowercase(), line) {
                return Err(format!(
                    "{shown}:{line}: exhibit {exhibit:?} appears twice (first on line {first})"
                ));
            }
            let src_line = line_of(&text, j.source.span().start);
            let source = absolute(&base, j.source.get_ref());
            if std::fs::metadata(&source).is_err() {
                return Err(format!(
                    "{shown}:{src_line}: source {} of exhibit {exhibit:?} does not exist or \
                     cannot be read",
                    source.display()
                ));
            }
            let kind = j.kind.unwrap_or_else(|| guess_kind(&source));
            if kind == Kind::Folder && !source.is_dir() {
                return Err(format!(
                    "{shown}:{src_line}: exhibit {exhibit:?}: kind = \"folder\" but {} is not \
                     a folder",
                    source.display()
                ));
            }
            jobs.push(Job {
                settings: merge(&raw.case, &j.settings, &base),
                exhibit,
                source,
                kind,
                line,
            });
        }
        Ok(JobFile {
            path: path.to_path_buf(),
            jobs,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<JobFile, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        std::fs::create_dir(dir.path().join("src")).map_err(|e| e.to_string())?;
        let p = dir.path().join("jobs.toml");
        std::fs::write(&p, text).map_err(|e| e.to_string())?;
        JobFile::load(&p)
    }

    #[test]
    fn errors_name_the_line() {
        let e = load(
            "[case]\ncase = \"C1\"\n\n[[job]]\nexhibit = \"E1\"\nsource = \"src\"\ncolour = 3\n",
        )
        .unwrap_err();
        assert!(e.contains("jobs.toml:7:"), "{e}");
        let e = load("[[job]]\nexhibit = \"E1\"\nsource = \"src\"\n[[job]]\nexhibit = \"e1\"\nsource = \"src\"\n")
            .unwrap_err();
        assert!(
            e.contains("jobs.toml:5: exhibit \"e1\" appears twice (first on line 2)"),
            "{e}"
        );
        let e = load("[[job]]\nexhibit = \"a/b\"\nsource = \"src\"\n").unwrap_err();
        assert!(e.contains("jobs.toml:2: exhibit id"), "{e}");
        let e = load("[[job]]\nexhibit = \"E1\"\nsource = \"missing\"\n").unwrap_err();
        assert!(e.contains("jobs.toml:3: source"), "{e}");
    }

    #[test]
    fn defaults_merge_and_job_wins() {
        let f = load(
            "[case]\ncase = \"C1\"\nexaminer = \"A\"\nno_triage = true\n[[job]]\nexhibit = \"E1\"\nsource = \"src\"\nexaminer = \"B\"\n",
        )
        .unwrap();
        let j = &f.jobs[0];
        assert_eq!(j.kind, Kind::Folder);
        assert_eq!(j.settings.case.as_deref(), Some("C1"));
        assert_eq!(j.settings.examiner.as_deref(), Some("B"));
        assert_eq!(j.settings.no_triage, Some(true));
        assert!(j.source.is_absolute());
    }
}
