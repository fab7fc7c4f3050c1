//! Where an executable lies (`exe.unusual_location`, `exe.extension_mismatch`): the
//! unusual places (temp dirs, recycle bins, Downloads, AppData, …), raised a step for a
//! hidden name, lowered to info inside a recognisable build tree (docs/triage.md,
//! "Build trees"), and document extensions on an executable.
//!
//! Owns the path rules only. Looks at the file system solely to `lstat` build-tree
//! marker names next to a file on the collecting machine itself (`FileContext::on_host`);
//! never lists or opens a directory, and never looks at this machine for an image entry.

use serde_json::json;

use super::Report;
use crate::finding::Severity;
use crate::triage::FileContext;
use crate::triage::patterns::{
    BUILD_TREE_COMPONENTS, BUILD_TREE_MARKERS, NON_EXECUTABLE_EXTENSIONS, UNUSUAL_PLACES,
};

/// The build tree an executable at `comps` lies in, looking only at the folders from
/// index `below` (the first one under the unusual place) down to the file's own: by a
/// path component only build tools create (any source), else by a marker file or folder
/// next to it (only when the path is on this machine). `(folder, marker)`.
fn build_tree(ctx: &FileContext<'_>, comps: &[&str], below: usize) -> Option<(String, String)> {
    let file_at = comps.len().checked_sub(1)?;
    for i in below..file_at {
        let c = comps[i].to_ascii_lowercase();
        // Cargo: target/debug, target/release, or with a target triple in between
        // (target/x86_64-unknown-linux-gnu/release).
        let profile_at = (i + 1..=i + 2).filter(|j| *j < file_at).find(|j| {
            comps[*j].eq_ignore_ascii_case("debug") || comps[*j].eq_ignore_ascii_case("release")
        });
        if c == "target"
            && let Some(j) = profile_at
        {
            return Some((comps[..=j].join("/"), comps[i..=j].join("/")));
        }
        if BUILD_TREE_COMPONENTS.contains(&c.as_str()) {
            return Some((comps[..=i].join("/"), comps[i].to_string()));
        }
    }
    // The path on this machine must be the source path's: then its ancestors are the
    // folders named in `comps` (a symlink followed to elsewhere is not looked around).
    if !ctx.on_host || !ctx.path.ends_with(std::path::Path::new(&comps.join("/"))) {
        return None;
    }
    let mut dirs = ctx.path.ancestors().skip(1);
    for i in (below..file_at).rev() {
        let dir = dirs.next()?;
        for marker in BUILD_TREE_MARKERS {
            if std::fs::symlink_metadata(dir.join(marker)).is_ok() {
                return Some((comps[..=i].join("/"), (*marker).to_string()));
            }
        }
    }
    None
}

fn raised(s: Severity) -> Severity {
    match s {
        Severity::Info => Severity::Low,
        Severity::Low => Severity::Medium,
        _ => Severity::High,
    }
}

pub(super) fn location_findings(ctx: &FileContext<'_>, label: &str, report: &mut Report) {
    let comps: Vec<&str> = crate::triage::components(ctx.source_path).collect();
    let parts: Vec<String> = comps.iter().map(|c| c.to_ascii_lowercase()).collect();
    let dirs = &parts[..parts.len().saturating_sub(1)];
    for (sequence, place) in UNUSUAL_PLACES {
        let found = dirs
            .windows(sequence.len())
            .position(|w| w.iter().zip(sequence.iter()).all(|(a, b)| a == b));
        if let Some(at) = found {
            let base = match *place {
                "Downloads folder" | "user AppData" => Severity::Low,
                _ => Severity::Medium,
            };
            let below = at + sequence.len();
            let name = comps.last().copied().unwrap_or("");
            // AppImage runs its programs from its own mount, `/tmp/.mount_NAMExxxxxx`:
            // that hidden folder alone raises nothing (the place's severity stays).
            let appimage = comps
                .get(below)
                .is_some_and(|c| c.starts_with(".mount_") && below + 1 < comps.len());
            let hidden = comps[below..]
                .iter()
                .enumerate()
                .find(|(i, c)| c.starts_with('.') && !(appimage && *i == 0))
                .map(|(_, c)| *c);
            let tree = build_tree(ctx, &comps, below);
            let mut evidence = json!({
                "place": place,
                "component": dirs[below - 1],
                "format": label,
            });
            let (severity, title, reason) = match (&tree, hidden) {
                (Some((dir, marker)), _) if !name.starts_with('.') => (
                    Severity::Info,
                    format!("Executable in a build tree in a {place} ({dir} has {marker})"),
                    format!(
                        "inside a build tree ({dir} has {marker}): most likely built there, \
                         so recorded as info rather than {}",
                        crate::report::severity_name(base)
                    ),
                ),
                (_, Some(h)) => (
                    raised(base),
                    format!("Executable with a hidden name in a {place} ({h})"),
                    format!(
                        "hidden name {h}: raised from {}",
                        crate::report::severity_name(base)
                    ),
                ),
                _ => (
                    base,
                    format!("Executable stored in a {place}"),
                    "executable in a place programs are not installed to".to_string(),
                ),
            };
            if let Some((dir, marker)) = &tree {
                evidence["build_tree"] = json!({ "folder": dir, "marker": marker });
            }
            if let Some(h) = hidden {
                evidence["hidden"] = json!(h);
            }
            evidence["severity_reason"] = json!(reason);
            report.push("exe.unusual_location", severity, title, evidence);
            break;
        }
    }
    let extension = crate::triage::extension_lower(ctx.source_path);
    if NON_EXECUTABLE_EXTENSIONS.contains(&extension.as_str()) {
        report.push(
            "exe.extension_mismatch",
            Severity::High,
            format!("File named .{extension} is really an executable ({label})"),
            json!({ "extension": extension, "real_type": label }),
        );
    }
}
