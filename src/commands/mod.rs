//! Glue between parsed flags and the library: each subcommand's module turns a `cli`
//! struct into library calls, prints the outcome (human on a terminal, `--json` for
//! scripts) and chooses the exit code. No evidence handling lives here.

use std::process::ExitCode;

use crate::cli::{Cli, Command};

pub mod collect;
pub mod hash;
pub mod hashset;
pub mod keys;
pub mod kit;
pub mod live;
pub mod profiles;
pub mod report;
pub mod triage;
pub mod verify;

/// Exit codes shared by all subcommands (documented in README.md).
pub mod exit {
    pub const OK: u8 = 0;
    /// Verification failed / the bundle is not valid.
    pub const INVALID: u8 = 1;
    /// Bad arguments or unusable input; nothing was written.
    pub const USAGE: u8 = 2;
}

pub fn run(cli: Cli) -> ExitCode {
    let result: anyhow::Result<u8> = match cli.command {
        Command::Collect(a) => collect::run(a),
        Command::Verify(a) => verify::run(a),
        Command::Extract(a) => verify::extract(a),
        Command::Keygen(a) => keys::run(a),
        Command::Profiles(a) => profiles::run(a),
        Command::Hash(a) => hash::run(a),
        Command::Report(a) => report::run(a),
        Command::Live(a) => live::run(a),
        Command::TriageFile(args) => triage::run_triage_file(&args),
        Command::Kit(a) => kit::run(a),
        Command::Hashset(args) => hashset::run(args),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            eprintln!("fieldkit: error: {err:#}");
            ExitCode::from(exit::USAGE)
        }
    }
}
