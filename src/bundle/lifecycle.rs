//! The bundle's lifecycle on disk: the names a bundle passes through on its way to its
//! final name, and the test hook that stops a run at each step.
//!
//! Owns the phase names of finalization (docs/bundle-format.md, "Lifecycle") and the
//! `FIELDKIT_TEST_PAUSE_AT` hook. Never changes what a run does: without the variable
//! the hook is one environment lookup per run and nothing else.

use std::io::Write;
use std::sync::OnceLock;

/// The test hook: `FIELDKIT_TEST_PAUSE_AT=<phase>[,<phase>…]` (or any other value, e.g.
/// `none`, to only announce). While it is set, collect writes `fieldkit: test phase
/// <phase>` to stderr as it reaches each phase, and stops itself (SIGSTOP) at the phases
/// listed, so a test can SIGKILL it, copy the output device as a power cut would leave
/// it, or let it go on (SIGCONT). Test-only by name; documented in docs/bundle-format.md.
pub const TEST_PAUSE_ENV: &str = "FIELDKIT_TEST_PAUSE_AT";

/// Announce `phase` (and stop here if asked) when the test hook is set.
pub fn test_phase(phase: &str) {
    static SPEC: OnceLock<Option<String>> = OnceLock::new();
    let Some(spec) = SPEC.get_or_init(|| std::env::var(TEST_PAUSE_ENV).ok()) else {
        return;
    };
    let _ = writeln!(std::io::stderr(), "fieldkit: test phase {phase}");
    if spec.split(',').any(|p| p.trim() == phase) {
        #[cfg(unix)]
        // SAFETY: raise has no preconditions; SIGSTOP stops every thread of the process
        // until a SIGCONT (or the SIGKILL the test sends).
        unsafe {
            libc::raise(libc::SIGSTOP);
        }
    }
}
