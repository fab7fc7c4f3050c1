//! The `fieldkit` binary: parse flags, hand over to the library, turn the outcome into an
//! exit code. Nothing else belongs here.

use clap::Parser;

fn main() -> std::process::ExitCode {
    fieldkit::commands::run(fieldkit::cli::Cli::parse())
}
