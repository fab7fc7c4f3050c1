//! Glue between parsed flags and the library: each subcommand's module turns a `cli`
//! struct into library calls, prints the outcome (human on a terminal, `--json` for
//! scripts) and chooses the exit code. No evidence handling lives here.

use std::io::Write;
use std::process::ExitCode;

use crate::cli::{Cli, Command};

/// A line on stderr that never panics: a closed stderr is ignored (the run goes on).
macro_rules! say {
    ($($t:tt)*) => {
        $crate::commands::note(format_args!($($t)*))
    };
}

pub mod batch;
pub mod collect;
pub mod hash;
pub mod hashset;
pub mod image;
pub mod index;
pub mod keys;
pub mod kit;
pub mod live;
pub mod profiles;
pub mod report;
pub mod triage;
pub mod verify;
pub mod verify_bulk;

/// Exit codes shared by all subcommands (documented in README.md).
pub mod exit {
    pub const OK: u8 = 0;
    /// Verification failed / the bundle is not valid.
    pub const INVALID: u8 = 1;
    /// Bad arguments or unusable input; nothing was written.
    pub const USAGE: u8 = 2;
}

/// Write a command's stdout through `print`, then return `code`. A closed stdout (EPIPE:
/// `fieldkit verify B | head -1`) ends the output quietly; the work is done, so the exit
/// status is still the command's own (the verdict, the collection's outcome). Any other
/// write error is named on stderr, and the status stays the same.
pub fn print_then(code: u8, print: impl FnOnce(&mut dyn Write) -> std::io::Result<()>) -> u8 {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match print(&mut out).and_then(|()| out.flush()) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        Err(e) => note(format_args!(
            "fieldkit: error: cannot write the output: {e}"
        )),
    }
    code
}

/// `say!`: one line on stderr, ignoring a closed or failing stderr.
pub fn note(args: std::fmt::Arguments<'_>) {
    let _ = writeln!(std::io::stderr(), "{args}");
}

/// Commands that only print (listings, reports), or print only once the files they make
/// are written and synced (`live --out`, `keygen`, `kit sign`, `hashset build`: nothing
/// goes to stdout before that), end as standard Unix filters do when their
/// stdout is closed: by SIGPIPE, status 141 in the shell, no message (a `println!` would
/// panic instead). `collect`, `verify` and `extract` handle the closed pipe themselves
/// (`print_then`), so a collection is never killed by it.
fn end_on_closed_pipe_like_a_filter(command: &Command) {
    #[cfg(unix)]
    if matches!(
        command,
        Command::Profiles(_)
            | Command::Hash(_)
            | Command::Report(_)
            | Command::Live(_)
            | Command::TriageFile(_)
            | Command::Keygen(_)
            | Command::Kit(_)
            | Command::Hashset(_)
            | Command::Image(_)
    ) {
        // SAFETY: restoring the default disposition of SIGPIPE before any thread starts;
        // no handler is involved.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
    }
    #[cfg(not(unix))]
    let _ = command;
}

pub fn run(cli: Cli) -> ExitCode {
    end_on_closed_pipe_like_a_filter(&cli.command);
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
        Command::Batch(a) => batch::run(a),
        Command::Index(a) => index::run(a),
        Command::Image(a) => image::run(a),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            say!("fieldkit: error: {err:#}");
            ExitCode::from(exit::USAGE)
        }
    }
}
