//! The profiles embedded in the binary, so `collect` works with nothing beside it.
//! The TOML files in `profiles/` are the single source; never edit a copy here.

const BUILTIN: &[(&str, &str)] = &[
    ("all-files", include_str!("../../profiles/all-files.toml")),
    (
        "linux-triage",
        include_str!("../../profiles/linux-triage.toml"),
    ),
    (
        "windows-triage",
        include_str!("../../profiles/windows-triage.toml"),
    ),
    (
        "macos-triage",
        include_str!("../../profiles/macos-triage.toml"),
    ),
];

/// Names of the built-in profiles.
pub fn names() -> Vec<&'static str> {
    BUILTIN.iter().map(|(n, _)| *n).collect()
}

/// The TOML text of a built-in profile.
pub fn get(name: &str) -> Option<&'static str> {
    BUILTIN.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
}
