//! Issue 12 item 10: a mistake gets one line that says what it is and what to do. A
//! public key given to `--key`; `kit verify` on a folder that does not exist (or a file);
//! a KAPE target, a UAC artifact or a ForensicArtifacts file given as `--profile` — named
//! as such, with the import command, which then works as printed.

mod common;

use std::path::Path;
use std::time::Duration;

use common::*;

fn in_dir(dir: &Path, args: &[&str]) -> Run {
    let mut cmd = fieldkit();
    cmd.current_dir(dir).args(args);
    run_with_timeout(cmd, Duration::from_secs(120))
}

#[test]
fn a_public_key_given_as_the_signing_key_is_named_and_nothing_is_written() {
    let t = tempfile::tempdir().unwrap();
    let key = t.path().join("examiner");
    sh(&format!(
        "ssh-keygen -q -t ed25519 -N '' -C you@unit.example -f {}",
        key.display()
    ));
    let fp = sh(&format!("ssh-keygen -lf {}.pub", key.display()));
    let fp = fp.stdout.split_whitespace().nth(1).unwrap().to_string();
    std::fs::create_dir(t.path().join("src")).unwrap();
    std::fs::write(t.path().join("src/a"), "a").unwrap();
    let r = in_dir(
        t.path(),
        &[
            "collect",
            "--no-live",
            "--source",
            "src",
            "--out",
            "out",
            "--key",
            "examiner.pub",
        ],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert_eq!(
        r.stderr,
        format!(
            "fieldkit: error: examiner.pub: this is a PUBLIC key (ssh-ed25519 {fp}); signing \
             needs the PRIVATE key: --key examiner — the public one is for the lab (verify \
             --pubkey / --allowed-signers)\n"
        )
    );
    let written = std::fs::read_dir(t.path().join("out"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(written, 0, "nothing half-written");
}

#[test]
fn kit_verify_says_no_such_folder() {
    let t = tempfile::tempdir().unwrap();
    let r = in_dir(t.path(), &["kit", "verify", "no-such-kit"]);
    assert_eq!(r.code, 2, "{}", r.stdout);
    assert!(
        r.stdout
            .contains("  - [no_kit] no-such-kit: no such folder\n"),
        "{}",
        r.stdout
    );
    assert!(!r.stdout.contains("not a directory"), "{}", r.stdout);
    std::fs::write(t.path().join("file"), "x").unwrap();
    let r = in_dir(t.path(), &["kit", "verify", "file"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stdout.contains("file: is a file, not a folder"),
        "{}",
        r.stdout
    );
}

/// The backticked command of a message, run as printed (with this build's binary).
fn run_suggested(dir: &Path, message: &str) -> Run {
    let cmd = message
        .split('`')
        .nth(1)
        .unwrap_or_else(|| panic!("no command in {message}"));
    let cmd = cmd
        .strip_prefix("fieldkit ")
        .unwrap_or_else(|| panic!("{cmd}"));
    let mut c = std::process::Command::new("sh");
    c.current_dir(dir)
        .arg("-c")
        .arg(format!("'{}' {cmd}", bin()));
    run_with_timeout(c, Duration::from_secs(60))
}

#[test]
fn kape_uac_and_forensic_artifacts_files_given_as_a_profile_say_how_to_import_them() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    for dir in [
        "src",
        "KapeFiles/Targets/Windows",
        "uac/artifacts/files/logs",
        "fa",
    ] {
        std::fs::create_dir_all(d.join(dir)).unwrap();
    }
    std::fs::write(d.join("src/a"), "a").unwrap();
    std::fs::write(
        d.join("KapeFiles/Targets/Windows/EventLogs.tkape"),
        "Description: Event logs\nAuthor: Eric Zimmerman\nVersion: 1.0\nId: 2da16dbf-ea47-448e-a00f-fc442c3109ba\nRecreateDirectories: true\nTargets:\n    -\n        Name: Event logs Win7+\n        Category: EventLogs\n        Path: C:\\Windows\\System32\\winevt\\logs\\\n        FileMask: '*.evtx'\n",
    )
    .unwrap();
    std::fs::write(
        d.join("uac/artifacts/files/logs/var_log.yaml"),
        "version: 1.0\nartifacts:\n  -\n    description: Collect system logs.\n    supported_os: [linux]\n    collector: file\n    path: /var/log\n",
    )
    .unwrap();
    std::fs::write(
        d.join("fa/linux.yaml"),
        "name: LinuxWtmp\ndoc: Linux wtmp file.\nsources:\n- type: FILE\n  attributes: {paths: ['/var/log/wtmp']}\nsupported_os: [Linux]\n---\nname: LinuxAuthLogs\ndoc: Linux auth log files.\nsources:\n- type: FILE\n  attributes: {paths: ['/var/log/auth.log*']}\nsupported_os: [Linux]\n",
    )
    .unwrap();
    let cases = [
        (
            "KapeFiles/Targets/Windows/EventLogs.tkape",
            "KapeFiles/Targets/Windows/EventLogs.tkape: this is a KAPE target file (.tkape), \
             not a fieldkit profile (TOML). fieldkit imports it: --profile kape:EventLogs \
             --definitions KapeFiles/Targets/Windows",
        ),
        (
            "uac/artifacts/files/logs/var_log.yaml",
            "uac/artifacts/files/logs/var_log.yaml: this is a UAC artifact file, not a fieldkit \
             profile (TOML). fieldkit imports it: --profile uac:files/logs/var_log.yaml \
             --definitions uac ",
        ),
        (
            "fa/linux.yaml",
            "fa/linux.yaml: this is a ForensicArtifacts definitions file (2 artifact(s): \
             LinuxWtmp,LinuxAuthLogs), not a fieldkit profile (TOML). fieldkit imports it: \
             --profile fa:LinuxWtmp,LinuxAuthLogs --definitions fa ",
        ),
    ];
    for (file, want) in cases {
        for args in [
            vec![
                "collect",
                "--no-live",
                "--source",
                "src",
                "--out",
                "out",
                "--profile",
                file,
            ],
            vec!["profiles", "check", file],
        ] {
            let r = in_dir(d, &args);
            assert_ne!(r.code, 0, "{args:?}");
            // collect: an error on stderr; profiles check: its verdict per file on stdout.
            let (out, prefix) = if args[0] == "collect" {
                (&r.stderr, "fieldkit: error: ")
            } else {
                (&r.stdout, "")
            };
            assert_eq!(out.lines().count(), 1, "one line: {out}");
            let msg = out
                .trim_end()
                .strip_prefix(prefix)
                .unwrap_or_else(|| panic!("{out}"));
            assert!(msg.starts_with(want), "{want:?}\nnot the start of\n{msg}");
            let imported = run_suggested(d, msg);
            assert_eq!(imported.code, 0, "{msg}\n{}", imported.stderr);
            assert!(
                imported.stdout.is_empty() && imported.stderr.contains(".toml"),
                "{}",
                imported.stderr
            );
            let toml = msg
                .split('`')
                .nth(1)
                .and_then(|c| c.rsplit(' ').next())
                .unwrap();
            let check = in_dir(d, &["profiles", "check", toml]);
            assert_eq!(check.code, 0, "{}", check.stderr);
            std::fs::remove_file(d.join(toml)).unwrap();
        }
    }
    assert!(!d.join("out").exists(), "nothing collected");
}
