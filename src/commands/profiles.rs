//! `fieldkit profiles list|show|check`.
//!
//! Must never modify a profile file it is asked to check, and never stop at the first
//! error: `check` reports every problem, each with its file and line.

use crate::cli::{ProfilesAction, ProfilesArgs};
use crate::profile::{self, Origin, Profile, builtin};

pub fn run(args: ProfilesArgs) -> anyhow::Result<u8> {
    match args.action {
        ProfilesAction::List => {
            for name in builtin::names() {
                let p = profile::load(name)?;
                println!(
                    "{:<16} {:>3} rules  {}",
                    p.name,
                    p.rules.len(),
                    p.description
                );
            }
            Ok(0)
        }
        ProfilesAction::Show { name } => {
            let p = profile::load(&name)?;
            print!("{}", p.text);
            Ok(0)
        }
        ProfilesAction::Check { files } => {
            let mut bad = 0;
            for f in &files {
                let shown = f.display().to_string();
                let text = match std::fs::read_to_string(f) {
                    Ok(t) => t,
                    Err(e) => {
                        println!("{shown}: cannot read: {e}");
                        bad += 1;
                        continue;
                    }
                };
                if let Some(what) = crate::profile::foreign_library_file(f, &text) {
                    println!("{what}");
                    bad += 1;
                    continue;
                }
                match Profile::from_toml(&text, &shown, Origin::File(f.clone())) {
                    Ok(p) => println!(
                        "{shown}: OK: profile {} with {} rules",
                        p.name,
                        p.rules.len()
                    ),
                    Err(errors) => {
                        bad += 1;
                        for e in errors {
                            println!("{e}");
                        }
                    }
                }
            }
            Ok(if bad > 0 { 1 } else { 0 })
        }
        ProfilesAction::Import {
            spec,
            definitions,
            out,
            report,
            json,
        } => import(&spec, &definitions, out.as_deref(), report, json),
    }
}

/// `profiles import`: the TOML (to stdout or `--out`) and/or the report. Exit 1 when a
/// definition had an error (the TOML is then not written: it would collect less than
/// the definitions ask for, without saying so where it is used).
fn import(
    spec_text: &str,
    definitions: &std::path::Path,
    out: Option<&std::path::Path>,
    report: bool,
    json: bool,
) -> anyhow::Result<u8> {
    use crate::profile::import::{self, Spec};
    use std::io::Write;
    let spec = match Spec::parse(spec_text) {
        Some(Ok(s)) => s,
        Some(Err(e)) => anyhow::bail!("{e}"),
        None => anyhow::bail!(
            "{spec_text:?}: name the library: kape:NAME, uac:PROFILE[@OS] or fa:NAME[,NAME…]"
        ),
    };
    let imported = import::import(&spec, definitions)?;
    let errors = imported.errors();
    if report {
        if json {
            let v = serde_json::json!({
                "spec": spec.text,
                "definitions_dir": definitions,
                "counts": imported.counts(),
                "rules": imported.rules.len(),
                "definitions": imported.report,
            });
            println!("{v}");
        } else {
            print!("{}", imported.report_text());
        }
    }
    if out.is_some() || !report {
        if !errors.is_empty() {
            for e in &errors {
                eprintln!("{e}");
            }
            anyhow::bail!(
                "{}: {} definition error(s): no profile written",
                spec.text,
                errors.len()
            );
        }
        // Load what is written, so a file that would not load is never produced.
        let profile = imported.to_profile()?;
        let text = imported.to_toml();
        match out {
            Some(path) => {
                let mut f = std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(path)
                    .map_err(|e| {
                        anyhow::anyhow!(
                            "{}: cannot create (never overwritten): {e}",
                            path.display()
                        )
                    })?;
                f.write_all(text.as_bytes())
                    .and_then(|_| f.sync_all())
                    .map_err(|e| anyhow::anyhow!("{}: cannot write: {e}", path.display()))?;
                eprintln!(
                    "fieldkit: wrote {} (profile {}, {} rules, sha256 {})",
                    path.display(),
                    profile.name,
                    profile.rules.len(),
                    profile.sha256
                );
            }
            None => print!("{text}"),
        }
    }
    Ok(if errors.is_empty() { 0 } else { 1 })
}
