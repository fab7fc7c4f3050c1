//! The built-in triage profiles collect what they promise, and nothing else, from a
//! source laid out like the real system: a Linux root, a Windows system drive (as a
//! mounted NTFS image shows it, with the case of names as Windows left them) and a macOS
//! volume. Each tree holds every kind of artifact a profile names beside files it must
//! leave alone; the test compares the exact set of collected paths. Also the profile
//! options no built-in profile uses: `names`, `max_depth`, `exclude` and the per-rule
//! size limit.

mod common;

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use common::*;

/// `(path relative to the source, content)`; directories are made as needed. Each file
/// ends with its own path, so no two share content (a duplicate would be recorded as
/// `duplicate` of whichever copy was stored first).
fn tree(root: &Path, files: &[(&str, &[u8])]) {
    for (rel, content) in files {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        let mut bytes = content.to_vec();
        bytes.extend_from_slice(format!("\n{rel}\n").as_bytes());
        std::fs::write(&p, bytes).unwrap();
    }
}

/// Every record of the bundle, keyed by its path relative to `src`, with its status
/// (and reason when it has one).
fn outcome(src: &Path, bundle: &Path) -> BTreeMap<String, String> {
    let prefix = format!("{}/", src.display());
    records(bundle)
        .iter()
        .map(|r| {
            let path = r["path"].as_str().expect("UTF-8 path in this test");
            let rel = path
                .strip_prefix(&prefix)
                .unwrap_or_else(|| panic!("{path} is not under {prefix}"));
            let status = match r["reason"].as_str() {
                Some(reason) => format!("{}/{reason}", r["status"].as_str().unwrap()),
                None => r["status"].as_str().unwrap().to_string(),
            };
            (rel.to_string(), status)
        })
        .collect()
}

fn expect(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(p, s)| (p.to_string(), s.to_string()))
        .collect()
}

fn collect_with(src: &Path, out: &Path, profile: &str) -> BTreeMap<String, String> {
    let (r, bundle) = collect(src, out, &["--profile", profile, "--no-verify"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(verify(&bundle, &[]).code, 0);
    outcome(src, &bundle)
}

const ELF: &[u8] = b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0";
const PE: &[u8] = b"MZ\x90\0\x03\0\0\0";

#[test]
fn linux_triage_takes_logs_accounts_histories_persistence_ssh_browsers_and_temp_executables() {
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("root");
    tree(
        &src,
        &[
            (
                "etc/passwd",
                b"root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000::/home/alice:/bin/bash\n\
                  svc:x:998:998::/srv/svc:/usr/sbin/nologin\n",
            ),
            ("etc/shadow", b"root:*:19000::::::\n"),
            ("etc/sudoers.d/alice", b"alice ALL=(ALL) NOPASSWD: ALL\n"),
            ("etc/hostname", b"seized\n"),
            ("etc/crypttab", b"data UUID=1 none luks\n"),
            ("var/log/auth.log", b"sshd accepted\n"),
            ("var/log/journal/0123/system.journal", b"LPKSHHRH"),
            ("var/log/apt/history.log.1.gz", b"\x1f\x8b"),
            ("root/.bash_history", b"rm -rf /evidence\n"),
            ("home/alice/.bash_history", b"ssh bob@host\n"),
            ("home/alice/.zsh_history", b": 1700000000:0;ls\n"),
            ("home/alice/.bashrc", b"alias ls='ls --color'\n"),
            ("home/alice/.ssh/authorized_keys", b"ssh-ed25519 AAAA x\n"),
            (
                "home/alice/.ssh/id_ed25519",
                b"-----BEGIN OPENSSH PRIVATE KEY-----\n",
            ),
            // A home found only through etc/passwd, outside /home.
            ("srv/svc/.bash_history", b"curl http://c2/\n"),
            ("etc/cron.d/backdoor", b"* * * * * root /tmp/.x\n"),
            (
                "var/spool/cron/crontabs/alice",
                b"@reboot /home/alice/run\n",
            ),
            (
                "etc/systemd/system/evil.service",
                b"[Service]\nExecStart=/tmp/.x\n",
            ),
            (
                "home/alice/.config/systemd/user/miner.service",
                b"[Service]\nExecStart=xmrig\n",
            ),
            ("etc/ld.so.preload", b"/lib/libhide.so\n"),
            (
                "home/alice/.config/google-chrome/Default/History",
                b"SQLite format 3\0",
            ),
            (
                "home/alice/.config/google-chrome/Default/Cache/Cache_Data/data_1",
                b"cache",
            ),
            (
                "home/alice/.mozilla/firefox/abcd.default/places.sqlite",
                b"SQLite format 3\0",
            ),
            (
                "home/alice/.mozilla/firefox/abcd.default/cache2/entries/AB",
                b"cache",
            ),
            ("tmp/.x", ELF),
            ("tmp/notes.txt", b"shopping list\n"),
            ("dev/shm/payload", PE),
            ("var/tmp/stage/run.sh", b"#!/bin/sh\necho hi\n"),
            // Not named by any rule.
            ("home/alice/Documents/contract.odt", b"PK\x03\x04"),
            ("usr/bin/ls", ELF),
            ("opt/app/config.ini", b"[a]\n"),
        ],
    );
    let t_exec = src.join("tmp/notes.txt");
    assert!(std::fs::metadata(&t_exec).unwrap().permissions().mode() & 0o111 == 0);
    let got = collect_with(&src, &t.path().join("out"), "linux-triage");
    let want = expect(&[
        ("etc/passwd", "collected"),
        ("etc/shadow", "collected"),
        ("etc/sudoers.d/alice", "collected"),
        ("etc/hostname", "collected"),
        ("etc/crypttab", "collected"),
        ("var/log/auth.log", "collected"),
        ("var/log/journal/0123/system.journal", "collected"),
        ("var/log/apt/history.log.1.gz", "collected"),
        ("root/.bash_history", "collected"),
        ("home/alice/.bash_history", "collected"),
        ("home/alice/.zsh_history", "collected"),
        ("home/alice/.bashrc", "collected"),
        ("home/alice/.ssh/authorized_keys", "collected"),
        ("home/alice/.ssh/id_ed25519", "collected"),
        ("srv/svc/.bash_history", "collected"),
        ("etc/cron.d/backdoor", "collected"),
        ("var/spool/cron/crontabs/alice", "collected"),
        ("etc/systemd/system/evil.service", "collected"),
        ("home/alice/.config/systemd/user/miner.service", "collected"),
        ("etc/ld.so.preload", "collected"),
        (
            "home/alice/.config/google-chrome/Default/History",
            "collected",
        ),
        (
            "home/alice/.mozilla/firefox/abcd.default/places.sqlite",
            "collected",
        ),
        // Executables by content in temporary directories; other files there are
        // recorded as considered and not taken.
        ("tmp/.x", "collected"),
        ("tmp/notes.txt", "skipped/not_executable"),
        ("dev/shm/payload", "collected"),
        ("var/tmp/stage/run.sh", "collected"),
    ]);
    assert_eq!(got, want);
}

#[test]
fn windows_triage_takes_hives_event_logs_execution_persistence_and_browser_artifacts() {
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("C");
    let cfg = "Windows/System32/config";
    let bob = "Users/bob";
    let paths: Vec<(String, &[u8])> = vec![
        (format!("{cfg}/SAM"), b"regf"),
        (format!("{cfg}/SAM.LOG1"), b"DIRT"),
        (format!("{cfg}/SECURITY"), b"regf"),
        (format!("{cfg}/SOFTWARE"), b"regf"),
        (format!("{cfg}/SYSTEM"), b"regf"),
        (format!("{cfg}/RegBack/SYSTEM"), b"regf"),
        (format!("{cfg}/systemprofile/NTUSER.DAT"), b"regf"),
        (format!("{bob}/NTUSER.DAT"), b"regf"),
        (format!("{bob}/ntuser.dat.LOG1"), b"DIRT"),
        (
            format!("{bob}/AppData/Local/Microsoft/Windows/UsrClass.dat"),
            b"regf",
        ),
        ("Users/alice/NTUSER.DAT".into(), b"regf"),
        (
            "Windows/System32/winevt/Logs/Security.evtx".into(),
            b"ElfFile\0",
        ),
        (
            "Windows/System32/winevt/Logs/Microsoft-Windows-PowerShell%4Operational.evtx".into(),
            b"ElfFile\0",
        ),
        ("Windows/Prefetch/CMD.EXE-4A81B364.pf".into(), b"MAM\x04"),
        ("Windows/AppCompat/Programs/Amcache.hve".into(), b"regf"),
        ("Windows/System32/sru/SRUDB.dat".into(), b"\xef\xcd\xab\x89"),
        (
            "Windows/System32/Tasks/Microsoft/Windows/Updater".into(),
            b"<Task/>",
        ),
        (
            "ProgramData/Microsoft/Windows/Start Menu/Programs/Startup/run.lnk".into(),
            b"L\0\0\0",
        ),
        (
            format!("{bob}/AppData/Roaming/Microsoft/Windows/Start Menu/Programs/Startup/x.bat"),
            b"@echo off\r\n",
        ),
        (
            format!("{bob}/AppData/Roaming/Microsoft/Windows/Recent/secret.docx.lnk"),
            b"L\0\0\0",
        ),
        (
            format!(
                "{bob}/AppData/Roaming/Microsoft/Windows/PowerShell/PSReadLine/ConsoleHost_history.txt"
            ),
            b"Invoke-WebRequest http://c2/\r\n",
        ),
        (
            format!("{bob}/AppData/Local/Google/Chrome/User Data/Default/History"),
            b"SQLite format 3\0",
        ),
        (
            format!("{bob}/AppData/Local/Google/Chrome/User Data/Default/Cache/Cache_Data/f_0001"),
            b"cache",
        ),
        (
            format!(
                "{bob}/AppData/Local/Google/Chrome/User Data/Default/Local Extension Settings/nkbihfbeogaeaoehlefnkodbefgpgknn/000003.log"
            ),
            b"leveldb",
        ),
        // Inside a browser profile but not a name the rule lists.
        (
            format!("{bob}/AppData/Local/Google/Chrome/User Data/Default/Thumbnail.png"),
            b"\x89PNG",
        ),
        (
            format!("{bob}/AppData/Roaming/Mozilla/Firefox/Profiles/x.default/places.sqlite"),
            b"SQLite format 3\0",
        ),
        (
            "$Recycle.Bin/S-1-5-21-1-1-1-1001/$IW1X2Y3.docx".into(),
            b"\x02\0\0\0",
        ),
        // The deleted content itself ($R) is not recycle-bin metadata.
        (
            "$Recycle.Bin/S-1-5-21-1-1-1-1001/$RW1X2Y3.docx".into(),
            b"PK\x03\x04",
        ),
        (
            "Windows/System32/drivers/etc/hosts".into(),
            b"127.0.0.1 x\r\n",
        ),
        // Not named by any rule.
        ("Windows/System32/notepad.exe".into(), PE),
        (format!("{bob}/Documents/plan.docx"), b"PK\x03\x04"),
        ("pagefile.sys".into(), b"\0\0\0\0"),
    ];
    let files: Vec<(&str, &[u8])> = paths.iter().map(|(p, c)| (p.as_str(), *c)).collect();
    tree(&src, &files);
    // The case Windows gave a folder is not the case the profile spells it: an XP-era
    // WINDOWS folder and a lower-case prefetch file are still found (windows profiles
    // match case-insensitively).
    tree(
        &src,
        &[("WINDOWS/Prefetch/notepad.exe-D8414F97.pf", b"SCCA" as &[u8])],
    );
    let got = collect_with(&src, &t.path().join("out"), "windows-triage");
    let want = expect(&[
        ("Windows/System32/config/SAM", "collected"),
        ("Windows/System32/config/SAM.LOG1", "collected"),
        ("Windows/System32/config/SECURITY", "collected"),
        ("Windows/System32/config/SOFTWARE", "collected"),
        ("Windows/System32/config/SYSTEM", "collected"),
        ("Windows/System32/config/RegBack/SYSTEM", "collected"),
        ("Users/bob/NTUSER.DAT", "collected"),
        ("Users/bob/ntuser.dat.LOG1", "collected"),
        (
            "Users/bob/AppData/Local/Microsoft/Windows/UsrClass.dat",
            "collected",
        ),
        ("Users/alice/NTUSER.DAT", "collected"),
        ("Windows/System32/winevt/Logs/Security.evtx", "collected"),
        (
            "Windows/System32/winevt/Logs/Microsoft-Windows-PowerShell%4Operational.evtx",
            "collected",
        ),
        ("Windows/Prefetch/CMD.EXE-4A81B364.pf", "collected"),
        ("WINDOWS/Prefetch/notepad.exe-D8414F97.pf", "collected"),
        ("Windows/AppCompat/Programs/Amcache.hve", "collected"),
        ("Windows/System32/sru/SRUDB.dat", "collected"),
        (
            "Windows/System32/Tasks/Microsoft/Windows/Updater",
            "collected",
        ),
        (
            "ProgramData/Microsoft/Windows/Start Menu/Programs/Startup/run.lnk",
            "collected",
        ),
        (
            "Users/bob/AppData/Roaming/Microsoft/Windows/Start Menu/Programs/Startup/x.bat",
            "collected",
        ),
        (
            "Users/bob/AppData/Roaming/Microsoft/Windows/Recent/secret.docx.lnk",
            "collected",
        ),
        (
            "Users/bob/AppData/Roaming/Microsoft/Windows/PowerShell/PSReadLine/ConsoleHost_history.txt",
            "collected",
        ),
        (
            "Users/bob/AppData/Local/Google/Chrome/User Data/Default/History",
            "collected",
        ),
        (
            "Users/bob/AppData/Local/Google/Chrome/User Data/Default/Local Extension Settings/nkbihfbeogaeaoehlefnkodbefgpgknn/000003.log",
            "collected",
        ),
        (
            "Users/bob/AppData/Roaming/Mozilla/Firefox/Profiles/x.default/places.sqlite",
            "collected",
        ),
        (
            "$Recycle.Bin/S-1-5-21-1-1-1-1001/$IW1X2Y3.docx",
            "collected",
        ),
        ("Windows/System32/drivers/etc/hosts", "collected"),
        // The service account's hive: not a user home, but a hive the registry-user rule
        // names (as KapeTriage takes it).
        (
            "Windows/System32/config/systemprofile/NTUSER.DAT",
            "collected",
        ),
    ]);
    // Absent on purpose: the $R content file, the Chrome cache and thumbnail,
    // notepad.exe, the document and the page file.
    assert_eq!(got, want);
}

#[test]
fn macos_triage_takes_unified_logs_launch_agents_histories_keychains_and_tcc() {
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("Macintosh HD");
    let al = "Users/al";
    let paths: Vec<(String, &[u8])> = vec![
        ("private/var/log/system.log".into(), b"kernel\n"),
        (
            "private/var/db/diagnostics/Persist/0000000000000001.tracev3".into(),
            b"\0",
        ),
        ("private/var/db/uuidtext/00/ABCDEF".into(), b"\0"),
        (
            "private/var/db/dslocal/nodes/Default/users/al.plist".into(),
            b"bplist00",
        ),
        ("Library/LaunchDaemons/com.evil.plist".into(), b"<plist/>"),
        (
            format!("{al}/Library/LaunchAgents/com.miner.plist"),
            b"<plist/>",
        ),
        (format!("{al}/.zsh_history"), b": 1700000000:0;sudo ls\n"),
        (format!("{al}/.zsh_sessions/ABC.history"), b"ls\n"),
        (format!("{al}/.ssh/known_hosts"), b"host ssh-ed25519 AAAA\n"),
        (format!("{al}/Library/Keychains/login.keychain-db"), b"kych"),
        (
            format!("{al}/Library/Application Support/com.apple.TCC/TCC.db"),
            b"SQLite format 3\0",
        ),
        (
            format!("{al}/Library/Safari/History.db"),
            b"SQLite format 3\0",
        ),
        (
            format!("{al}/Library/Application Support/Google/Chrome/Default/History"),
            b"SQLite format 3\0",
        ),
        (
            format!("{al}/Library/Application Support/Google/Chrome/Default/Cache/x"),
            b"cache",
        ),
        (
            "System/Library/CoreServices/SystemVersion.plist".into(),
            b"<plist/>",
        ),
        ("private/tmp/.agent".into(), b"\xcf\xfa\xed\xfe\x07\0\0\x01"),
        ("private/tmp/readme.txt".into(), b"hello\n"),
        // Not named by any rule.
        (format!("{al}/Pictures/cat.jpg"), b"\xff\xd8\xff"),
        (
            "Applications/Calculator.app/Contents/MacOS/Calculator".into(),
            ELF,
        ),
    ];
    let files: Vec<(&str, &[u8])> = paths.iter().map(|(p, c)| (p.as_str(), *c)).collect();
    tree(&src, &files);
    let got = collect_with(&src, &t.path().join("out"), "macos-triage");
    let want = expect(&[
        ("private/var/log/system.log", "collected"),
        (
            "private/var/db/diagnostics/Persist/0000000000000001.tracev3",
            "collected",
        ),
        ("private/var/db/uuidtext/00/ABCDEF", "collected"),
        (
            "private/var/db/dslocal/nodes/Default/users/al.plist",
            "collected",
        ),
        ("Library/LaunchDaemons/com.evil.plist", "collected"),
        ("Users/al/Library/LaunchAgents/com.miner.plist", "collected"),
        ("Users/al/.zsh_history", "collected"),
        ("Users/al/.zsh_sessions/ABC.history", "collected"),
        ("Users/al/.ssh/known_hosts", "collected"),
        ("Users/al/Library/Keychains/login.keychain-db", "collected"),
        (
            "Users/al/Library/Application Support/com.apple.TCC/TCC.db",
            "collected",
        ),
        ("Users/al/Library/Safari/History.db", "collected"),
        (
            "Users/al/Library/Application Support/Google/Chrome/Default/History",
            "collected",
        ),
        (
            "System/Library/CoreServices/SystemVersion.plist",
            "collected",
        ),
        ("private/tmp/.agent", "collected"),
        ("private/tmp/readme.txt", "skipped/not_executable"),
    ]);
    assert_eq!(got, want);
}

#[test]
fn names_max_depth_exclude_and_rule_size_limits_select_exactly_what_they_say() {
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("ev");
    tree(
        &src,
        &[
            ("keys/a.pub", b"k"),
            ("keys/authorized_keys", b"k"),
            ("keys/authorized_keys2", b"k"),
            ("keys/id_rsa", b"secret"),
            ("keys/sub/b.pub", b"k"),
            ("logs/top.log", b"1"),
            ("logs/d1/one.log", b"1"),
            ("logs/d1/d2/two.log", b"1"),
            ("logs/d1/d2/d3/three.log", b"1"),
            ("logs/d1/skip/x.log", b"1"),
            ("big/small.bin", &[7u8; 100]),
            ("big/large.bin", &[8u8; 5000]),
        ],
    );
    let profile = t.path().join("options.toml");
    std::fs::write(
        &profile,
        r#"name = "options"
format_version = 1

[[rule]]
name = "public-keys"
category = "remote-access"
paths = ["/keys/**"]
names = ["*.pub", "authorized_keys*"]
max_depth = 1

[[rule]]
name = "logs"
category = "logs"
paths = ["/logs/**"]
exclude = ["/logs/**/skip/**"]
max_depth = 3

[[rule]]
name = "big"
category = "other"
paths = ["/big/*"]
max_file_size = "1KiB"
"#,
    )
    .unwrap();
    let got = collect_with(&src, &t.path().join("out"), profile.to_str().unwrap());
    let want = expect(&[
        ("keys/a.pub", "collected"),
        ("keys/authorized_keys", "collected"),
        ("keys/authorized_keys2", "collected"),
        // max_depth = 1: the files directly in keys/, nothing below it.
        ("logs/top.log", "collected"),
        ("logs/d1/one.log", "collected"),
        ("logs/d1/d2/two.log", "collected"),
        ("big/small.bin", "collected"),
        ("big/large.bin", "skipped/too_large"),
    ]);
    assert_eq!(got, want);
}
