//! The tool's identity as recorded in every manifest and printed by `--version`.
//! Never computed from the environment at run time: these are build facts.

pub const NAME: &str = "fieldkit";
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// Source commit the binary was built from (see build.rs).
pub const COMMIT: &str = env!("FIELDKIT_COMMIT");
/// Rust target triple the binary was built for.
pub const TARGET: &str = env!("FIELDKIT_TARGET");
pub const LONG_VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("FIELDKIT_COMMIT"),
    ", ",
    env!("FIELDKIT_TARGET"),
    ")"
);
