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
    }
}
