//! `fieldkit collect` on real temporary trees: exact round trips, every special case of a
//! live filesystem recorded with its precise status, and nothing that hangs.

mod common;

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::*;

fn tree() -> tempfile::TempDir {
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("src");
    std::fs::create_dir_all(src.join("docs/deep/er")).unwrap();
    std::fs::create_dir(t.path().join("out")).unwrap();
    std::fs::write(src.join("docs/report.txt"), b"quarterly numbers\n").unwrap();
    std::fs::write(src.join("docs/deep/er/copy.txt"), b"quarterly numbers\n").unwrap();
    std::fs::write(
        src.join("docs/Grüße – ünïcode.txt"),
        "ünïcode content".as_bytes(),
    )
    .unwrap();
    std::fs::write(src.join("docs/a:b*c?.txt"), b"windows-forbidden characters").unwrap();
    std::fs::write(src.join("docs/CON"), b"a reserved device name on Windows").unwrap();
    std::fs::write(src.join("empty"), b"").unwrap();
    let raw = OsStr::from_bytes(b"latin1-caf\xe9-\xff.bin");
    std::fs::write(src.join(raw), b"\x00\x01binary\xfe\xff").unwrap();
    let long = "x".repeat(250);
    std::fs::write(src.join("docs").join(&long), b"long name").unwrap();
    write_random(&src.join("big.bin"), 20 << 20, 7);
    t
}

/// Original bytes of a record's path.
fn original_path(r: &serde_json::Value) -> PathBuf {
    use base64::Engine;
    match (r["path"].as_str(), r["path_b64"].as_str()) {
        (Some(p), _) => p.into(),
        (None, Some(b)) => {
            let bytes = base64::engine::general_purpose::STANDARD.decode(b).unwrap();
            std::path::PathBuf::from(OsStr::from_bytes(&bytes))
        }
        _ => panic!("record without path: {r}"),
    }
}

#[test]
fn collect_then_verify_round_trips_content_and_names_byte_for_byte() {
    let t = tree();
    let src = t.path().join("src");
    let (r, bundle) = collect(
        &src,
        &t.path().join("out"),
        &["--case", "K-1", "--examiner", "Anna"],
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let summary = r.json();
    assert_eq!(summary["status"], "complete");
    assert_eq!(summary["verify_after_write"]["verdict"], "valid");
    assert_eq!(summary["counts"]["collected"], 8);
    assert_eq!(summary["counts"]["duplicate"], 1);

    let v = verify(&bundle, &[]);
    assert_eq!(v.code, 0, "{}", v.stdout);
    // No trust anchor given: intact, and the headline says the signer was not checked.
    assert!(
        v.stdout
            .starts_with("INTACT — signer not checked: compare SHA256:"),
        "{}",
        v.stdout
    );

    // Every stored member holds exactly the original bytes, found by the exact original
    // path recorded in files.jsonl (including the non-UTF-8 one).
    let recs = records(&bundle);
    let x = t.path().join("x");
    let e = run(&["extract", bundle.to_str().unwrap(), x.to_str().unwrap()]);
    assert_eq!(e.code, 0, "{}", e.stderr);
    for rec in &recs {
        let orig = std::fs::read(original_path(rec)).unwrap();
        let member = rec["member"]
            .as_str()
            .or(rec["duplicate_of"].as_str())
            .unwrap();
        assert_eq!(std::fs::read(x.join(member)).unwrap(), orig, "{rec}");
        assert_eq!(member_bytes(&bundle, member), orig);
    }
    let raw = recs
        .iter()
        .find(|r| r["path_b64"].is_string())
        .expect("non-UTF-8 record");
    assert_eq!(
        original_path(raw).as_os_str().as_bytes(),
        src.join(OsStr::from_bytes(b"latin1-caf\xe9-\xff.bin"))
            .as_os_str()
            .as_bytes()
    );
    assert_eq!(raw["member"], "files/latin1-caf%E9-%FF.bin");
    assert_eq!(
        record_for(&recs, "a:b*c?.txt")["member"],
        "files/docs/a%3Ab%2Ac%3F.txt"
    );
    assert_eq!(record_for(&recs, "docs/CON")["member"], "files/docs/%43ON");
    let long = record_for(&recs, &"x".repeat(250));
    assert!(long["member"].as_str().unwrap().len() < 240);
    let dup = record_for(&recs, "copy.txt");
    let orig = record_for(&recs, "report.txt");
    // One of the two identical files is stored, the other points at it.
    let (stored, other) = if dup["status"] == "duplicate" {
        (orig, dup)
    } else {
        (dup, orig)
    };
    assert_eq!(other["status"], "duplicate");
    assert_eq!(other["duplicate_of"], stored["member"]);
    assert_eq!(other["sha256"], stored["sha256"]);

    let m = manifest(&bundle);
    assert_eq!(m["case"]["case_number"], "K-1");
    assert_eq!(m["status"], "complete");
    assert_eq!(m["counts"]["considered"], recs.len());
    assert!(m["tool"]["executable_sha256"].as_str().unwrap().len() == 64);
    assert_eq!(m["command_line"][1], "collect");
    assert_eq!(m["signer"]["one_time_key"], true);
    // The one-time key's public half is in the bundle.
    assert!(
        String::from_utf8(member(&bundle, "signer.pub"))
            .unwrap()
            .starts_with("ssh-ed25519 ")
    );
}

fn member_bytes(bundle: &Path, name: &str) -> Vec<u8> {
    // unzip treats [ ] * ? as wildcards; escape them.
    let escaped: String = name
        .chars()
        .flat_map(|c| {
            if "[]*?".contains(c) {
                vec!['\\', c]
            } else {
                vec![c]
            }
        })
        .collect();
    member(bundle, &escaped)
}

#[test]
fn special_files_are_recorded_and_never_opened_so_nothing_hangs() {
    require_root();
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("src");
    std::fs::create_dir_all(src.join("d")).unwrap();
    std::fs::create_dir(t.path().join("out")).unwrap();
    sh(&format!(
        "mkfifo {0}/fifo && mknod {0}/null c 1 3 && ln -s .. {0}/d/up && ln -s loop2 {0}/loop1 && ln -s loop1 {0}/loop2",
        src.display()
    ));
    let _sock = std::os::unix::net::UnixListener::bind(src.join("sock")).unwrap();
    std::fs::write(src.join("d/plain"), b"plain").unwrap();
    let (r, bundle) = collect(&src, &t.path().join("out"), &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let recs = records(&bundle);
    assert_eq!(record_for(&recs, "/fifo")["reason"], "fifo");
    assert_eq!(record_for(&recs, "/fifo")["status"], "skipped");
    assert_eq!(record_for(&recs, "/sock")["reason"], "socket");
    assert_eq!(record_for(&recs, "/null")["reason"], "char_device");
    assert_eq!(record_for(&recs, "/d/up")["reason"], "symlink");
    assert_eq!(record_for(&recs, "/d/up")["link_target"]["path"], "..");
    assert_eq!(record_for(&recs, "/loop1")["reason"], "symlink");
    assert_eq!(record_for(&recs, "/d/plain")["status"], "collected");
    assert_eq!(recs.len(), 7);
    assert_eq!(verify(&bundle, &[]).code, 0);
}

/// Collect `src` (everything, into `dir/out`) with a profile that follows symlinks.
fn collect_following_links(dir: &Path, src: &Path) -> PathBuf {
    let profile = dir.join("follow.toml");
    std::fs::write(
        &profile,
        "name = \"follow\"\nformat_version = 1\nfollow_symlinks = true\n[[rule]]\nname = \"all\"\ncategory = \"all\"\npaths = [\"/**\"]\n",
    )
    .unwrap();
    let (r, bundle) = collect(
        src,
        &dir.join("out"),
        &["--profile", profile.to_str().unwrap()],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    bundle
}

#[test]
fn symlink_loops_terminate_with_a_precise_error_when_the_profile_follows_links() {
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("src");
    std::fs::create_dir_all(src.join("a/b")).unwrap();
    std::fs::create_dir(t.path().join("out")).unwrap();
    std::fs::write(src.join("a/b/f.txt"), b"f").unwrap();
    std::os::unix::fs::symlink("../..", src.join("a/b/back")).unwrap();
    let bundle = collect_following_links(t.path(), &src);
    let recs = records(&bundle);
    let lp = record_for(&recs, "a/b/back");
    assert_eq!(lp["status"], "error");
    assert_eq!(lp["reason"], "symlink_loop");
    assert!(lp["detail"].as_str().unwrap().contains("leads back to"));
    assert_eq!(record_for(&recs, "a/b/f.txt")["status"], "collected");
}

#[test]
fn unreadable_files_and_directories_are_errors_for_an_unprivileged_collector() {
    require_root();
    require_tool("setpriv", "util-linux");
    let t = tempfile::tempdir().unwrap();
    let base = t.path();
    std::fs::set_permissions(base, std::fs::Permissions::from_mode(0o755)).unwrap();
    let src = base.join("src");
    std::fs::create_dir_all(src.join("locked")).unwrap();
    std::fs::write(src.join("secret"), b"no").unwrap();
    std::fs::write(src.join("open"), b"yes").unwrap();
    std::fs::write(src.join("locked/inside"), b"hidden").unwrap();
    std::fs::set_permissions(src.join("secret"), std::fs::Permissions::from_mode(0o000)).unwrap();
    std::fs::set_permissions(src.join("locked"), std::fs::Permissions::from_mode(0o000)).unwrap();
    let out = base.join("out");
    std::fs::create_dir(&out).unwrap();
    sh(&format!("chown 65534:65534 {}", out.display()));
    let mut cmd = std::process::Command::new("setpriv");
    cmd.args([
        "--reuid",
        "65534",
        "--regid",
        "65534",
        "--clear-groups",
        bin(),
        "collect",
        "--json",
        "--source",
    ])
    .arg(&src)
    .arg("--out")
    .arg(&out);
    let r = run_with_timeout(cmd, Duration::from_secs(120));
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let bundle = std::path::PathBuf::from(r.json()["bundle"].as_str().unwrap());
    let recs = records(&bundle);
    let secret = record_for(&recs, "/secret");
    assert_eq!(secret["status"], "error");
    assert_eq!(secret["reason"], "permission_denied");
    let locked = record_for(&recs, "/locked");
    assert_eq!(locked["status"], "error");
    assert_eq!(locked["reason"], "permission_denied");
    assert_eq!(record_for(&recs, "/open")["status"], "collected");
    assert_eq!(r.json()["counts"]["error"], 2);
    // As an unprivileged user the kernel refuses O_NOATIME on files it does not own.
    assert!(
        record_for(&recs, "/open")["read_method"]
            .as_str()
            .unwrap()
            .contains("O_NOATIME refused")
    );
}

#[test]
fn a_file_that_vanishes_between_walk_and_read_is_recorded_as_vanished() {
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("src");
    let out = t.path().join("out");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::create_dir(&out).unwrap();
    write_random(&src.join("a_big.bin"), 400 << 20, 1);
    std::fs::write(src.join("b_victim.txt"), b"here at walk time").unwrap();
    let mut cmd = fieldkit();
    cmd.args([
        "collect",
        "--json",
        "--threads",
        "1",
        "--no-verify",
        "--source",
    ])
    .arg(&src)
    .arg("--out")
    .arg(&out);
    let child = std::thread::spawn(move || run_with_timeout(cmd, Duration::from_secs(300)));
    // One worker streams a_big.bin (sorted first) while the walk has already listed
    // b_victim.txt: delete it now.
    let part = wait_for_part(&out, Duration::from_secs(60));
    wait_for_size(&part, 4 << 20, Duration::from_secs(60));
    std::fs::remove_file(src.join("b_victim.txt")).unwrap();
    let r = child.join().unwrap();
    assert_eq!(r.code, 0, "{}", r.stderr);
    let recs = records(std::path::Path::new(r.json()["bundle"].as_str().unwrap()));
    let v = record_for(&recs, "b_victim.txt");
    assert_eq!(v["status"], "error", "{v}");
    assert_eq!(v["reason"], "vanished");
}

#[test]
fn a_file_that_grows_while_read_is_stored_as_read_and_marked_changed() {
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("src");
    let out = t.path().join("out");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::create_dir(&out).unwrap();
    let log = src.join("growing.log");
    write_random(&log, 400 << 20, 2);
    let mut cmd = fieldkit();
    cmd.args(["collect", "--json", "--threads", "1", "--source"])
        .arg(&src)
        .arg("--out")
        .arg(&out);
    let child = std::thread::spawn(move || run_with_timeout(cmd, Duration::from_secs(300)));
    let part = wait_for_part(&out, Duration::from_secs(60));
    wait_for_size(&part, 4 << 20, Duration::from_secs(60));
    {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
        f.write_all(b"appended while fieldkit was reading\n")
            .unwrap();
    }
    let r = child.join().unwrap();
    assert_eq!(r.code, 0, "{}", r.stderr);
    let bundle = std::path::PathBuf::from(r.json()["bundle"].as_str().unwrap());
    let recs = records(&bundle);
    let g = record_for(&recs, "growing.log");
    assert_eq!(g["status"], "changed", "{g}");
    assert_eq!(g["reason"], "changed_during_read");
    assert!(g["detail"].as_str().unwrap().contains("size"), "{g}");
    // What was read is what is stored, and its hash is recorded.
    assert_eq!(verify(&bundle, &[]).code, 0);
    assert_eq!(r.json()["counts"]["changed"], 1);
}

/// Send `signal` to a collect that is part-way through a 600 MiB file: it must stop, seal
/// a signed bundle marked incomplete, and record what it did not read.
fn a_signal_mid_run_finalizes_a_signed_incomplete_bundle(signal: &str, seed: u64) {
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("src");
    let out = t.path().join("out");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::create_dir(&out).unwrap();
    write_random(&src.join("a_big.bin"), 600 << 20, seed);
    for i in 0..20 {
        std::fs::write(src.join(format!("z_later_{i}.txt")), format!("later {i}")).unwrap();
    }
    let mut child = fieldkit()
        .args(["collect", "--json", "--threads", "1", "--source"])
        .arg(&src)
        .arg("--out")
        .arg(&out)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let part = wait_for_part(&out, Duration::from_secs(60));
    wait_for_size(&part, 4 << 20, Duration::from_secs(60));
    sh(&format!("kill -{signal} {}", child.id()));
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while child.try_wait().unwrap().is_none() {
        assert!(
            std::time::Instant::now() < deadline,
            "collect did not stop after SIG{signal}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let r = finish(child.wait_with_output().unwrap());
    assert_eq!(r.code, 4, "exit 4 = incomplete\n{}\n{}", r.stdout, r.stderr);
    let s = r.json();
    assert_eq!(s["status"], "incomplete");
    assert_eq!(s["verify_after_write"]["verdict"], "valid_incomplete");
    let bundle = std::path::PathBuf::from(s["bundle"].as_str().unwrap());
    assert!(bundle.extension().unwrap() == "zip");
    let m = manifest(&bundle);
    assert_eq!(m["status"], "incomplete");
    assert!(
        m["incomplete_reason"]
            .as_str()
            .unwrap()
            .contains("interrupted by signal"),
        "{}",
        m["incomplete_reason"]
    );
    let v = verify(&bundle, &[]);
    assert_eq!(v.code, 4, "{}", v.stdout);
    assert!(
        v.stdout
            .starts_with("INTACT BUT INCOMPLETE — signer not checked"),
        "{}",
        v.stdout
    );
    let recs = records(&bundle);
    assert_eq!(record_for(&recs, "a_big.bin")["reason"], "interrupted");
    assert_eq!(
        record_for(&recs, "z_later_19.txt")["reason"],
        "interrupted",
        "files not yet read are recorded as interrupted"
    );
    let actions = String::from_utf8(member(&bundle, "actions.jsonl")).unwrap();
    assert!(actions.contains("collect.interrupted"));
}

#[test]
fn sigint_mid_run_finalizes_a_signed_bundle_marked_incomplete() {
    a_signal_mid_run_finalizes_a_signed_incomplete_bundle("INT", 3);
}

#[test]
fn sigterm_mid_run_finalizes_a_signed_bundle_marked_incomplete() {
    a_signal_mid_run_finalizes_a_signed_incomplete_bundle("TERM", 33);
}

#[test]
fn a_hard_kill_leaves_a_file_that_never_verifies() {
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("src");
    let out = t.path().join("out");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::create_dir(&out).unwrap();
    write_random(&src.join("a_big.bin"), 600 << 20, 4);
    let mut child = fieldkit()
        .args(["collect", "--quiet", "--threads", "1", "--source"])
        .arg(&src)
        .arg("--out")
        .arg(&out)
        .spawn()
        .unwrap();
    let part = wait_for_part(&out, Duration::from_secs(60));
    wait_for_size(&part, 4 << 20, Duration::from_secs(60));
    child.kill().unwrap();
    child.wait().unwrap();
    let names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.iter().all(|n| n.ends_with(".zip.part")),
        "only the .part remains: {names:?}"
    );
    let v = verify(&part, &[]);
    assert_eq!(v.code, 3, "{}", v.stdout);
    assert!(v.stdout.starts_with("NOT FINALIZED"), "{}", v.stdout);
    // Renaming it does not make it valid either.
    let renamed = out.join("renamed.zip");
    std::fs::rename(&part, &renamed).unwrap();
    assert_eq!(verify(&renamed, &[]).code, 3);
    let u = sh(&format!("unzip -t {} 2>&1", renamed.display()));
    assert_ne!(u.code, 0);
}

#[test]
fn size_limits_and_executables_only_rules_select_files_with_recorded_reasons() {
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("src");
    std::fs::create_dir_all(src.join("tmp")).unwrap();
    std::fs::create_dir(t.path().join("out")).unwrap();
    std::fs::write(src.join("tmp/dropper"), b"\x7fELF\x02\x01\x01rest-of-elf").unwrap();
    std::fs::write(src.join("tmp/run.sh"), b"echo hi\n").unwrap();
    std::fs::set_permissions(
        src.join("tmp/run.sh"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    std::fs::write(src.join("tmp/notes.txt"), b"just text").unwrap();
    std::fs::write(src.join("tmp/huge.bin"), vec![1u8; 5000]).unwrap();
    std::fs::set_permissions(
        src.join("tmp/huge.bin"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    let profile = t.path().join("p.toml");
    std::fs::write(
        &profile,
        "name = \"p\"\nformat_version = 1\n[[rule]]\nname = \"tmp-exe\"\ncategory = \"executables\"\n\
         paths = [\"/tmp/**\"]\nexecutables_only = true\nmax_file_size = 4096\n",
    )
    .unwrap();
    let (r, bundle) = collect(
        &src,
        &t.path().join("out"),
        &["--profile", profile.to_str().unwrap()],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let recs = records(&bundle);
    assert_eq!(record_for(&recs, "tmp/dropper")["status"], "collected");
    assert_eq!(record_for(&recs, "tmp/run.sh")["status"], "collected");
    assert_eq!(
        record_for(&recs, "tmp/notes.txt")["reason"],
        "not_executable"
    );
    assert_eq!(record_for(&recs, "tmp/huge.bin")["reason"], "too_large");
    let (r2, bundle2) = collect(
        &src,
        &t.path().join("out"),
        &[
            "--profile",
            profile.to_str().unwrap(),
            "--max-file-size",
            "1MiB",
        ],
    );
    assert_eq!(r2.code, 0);
    assert_eq!(
        record_for(&records(&bundle2), "tmp/huge.bin")["status"],
        "collected"
    );
}

#[test]
fn pseudo_files_are_skipped_unless_a_rule_reads_them_with_a_limit_and_the_usb_mount_is_avoided() {
    require_root();
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("usb");
    std::fs::create_dir(&out).unwrap();
    // The output must be another device when the live root is the source: a tmpfs
    // stands in for the responder's USB stick.
    assert_eq!(
        sh(&format!(
            "mount -t tmpfs -o size=64m fieldkit-usb {}",
            out.display()
        ))
        .code,
        0
    );
    let profile = t.path().join("proc.toml");
    std::fs::write(
        &profile,
        "name = \"proc\"\nformat_version = 1\n\
         [[rule]]\nname = \"version\"\ncategory = \"live\"\npaths = [\"/proc/version\"]\nread_pseudo = true\npseudo_max_bytes = 64\n\
         [[rule]]\nname = \"cmdline\"\ncategory = \"live\"\npaths = [\"/proc/cmdline\"]\n\
         [[rule]]\nname = \"usb\"\ncategory = \"x\"\npaths = [\"/tmp/**\"]\nnames = [\"nothing-matches-this\"]\n",
    )
    .unwrap();
    let (r, bundle) = collect(
        Path::new("/"),
        &out,
        &["--profile", profile.to_str().unwrap()],
    );
    let recs = if r.code == 0 {
        records(&bundle)
    } else {
        Vec::new()
    };
    sh(&format!("umount {}", out.display()));
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let status = record_for(&recs, "/proc/version");
    assert_eq!(status["status"], "collected", "{status}");
    assert_eq!(status["bytes_read"], 64);
    assert!(status["detail"].as_str().unwrap().contains("limit"));
    assert_eq!(status["fs_type"], "proc");
    let env = record_for(&recs, "/proc/cmdline");
    assert_eq!(env["status"], "skipped");
    assert_eq!(env["reason"], "pseudo_filesystem");
    assert_eq!(r.json()["status"], "complete");
}

#[test]
fn more_than_65535_members_use_zip64_and_still_pass_unzip() {
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::create_dir(t.path().join("out")).unwrap();
    for d in 0..70 {
        let dir = src.join(format!("d{d:02}"));
        std::fs::create_dir(&dir).unwrap();
        for i in 0..1000 {
            std::fs::write(dir.join(format!("{i}")), format!("{d}-{i}")).unwrap();
        }
    }
    let (r, bundle) = collect(&src, &t.path().join("out"), &["--quiet"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json()["counts"]["collected"], 70_000);
    let u = sh(&format!("unzip -tq {}", bundle.display()));
    assert_eq!(u.code, 0, "{}{}", u.stdout, u.stderr);
    assert!(u.stdout.contains("No errors detected"), "{}", u.stdout);
    let py = sh(&format!(
        "python3 -c 'import zipfile,sys; z=zipfile.ZipFile(sys.argv[1]); print(len(z.infolist()))' {}",
        bundle.display()
    ));
    // 70 000 files and 10 metadata members (manifest, files, actions, findings, case.jsonld,
    // report, signer.pub, compressed.jsonl — the metadata is deflated —, SHA256SUMS, its
    // signature).
    assert_eq!(py.stdout.trim(), "70010");
}

#[test]
fn the_reference_time_gives_the_recorded_clock_offset_and_case_fields_are_kept() {
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("f"), b"f").unwrap();
    // A reference one hour behind the host clock: the host is ~3600 s ahead.
    let reference = sh("date -u -d '-1 hour' +%Y-%m-%dT%H:%M:%SZ")
        .stdout
        .trim()
        .to_string();
    let (r, bundle) = collect(
        &src,
        &t.path().join("out"),
        &[
            "--reference-time",
            &reference,
            "--case",
            "2026/77",
            "--exhibit",
            "EX 4",
            "--examiner",
            "Anna",
            "--org",
            "Unit",
            "--notes",
            "seized at desk",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let m = manifest(&bundle);
    let off = m["times"]["reference"]["host_clock_offset_seconds"]
        .as_f64()
        .unwrap();
    assert!((off - 3600.0).abs() < 5.0, "offset {off}");
    assert_eq!(m["times"]["reference"]["given"], reference);
    assert_eq!(m["case"]["exhibit"], "EX 4");
    assert_eq!(m["case"]["organisation"], "Unit");
    assert_eq!(m["case"]["notes"], "seized at desk");
    assert!(
        bundle
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("2026_77_EX_4_"),
        "{}",
        bundle.display()
    );
    // A reference without a zone is refused before anything is written.
    let r = run(&[
        "collect",
        "--source",
        src.to_str().unwrap(),
        "--out",
        t.path().join("o2").to_str().unwrap(),
        "--reference-time",
        "2026-11-23 14:05",
    ]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("--reference-time"), "{}", r.stderr);
    assert!(!t.path().join("o2").exists());
}

#[test]
fn paths_longer_than_path_max_are_walked_read_and_recorded_exactly() {
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("src");
    std::fs::create_dir(&src).unwrap();
    // 25 levels of 200-byte names: the file's path is over 5000 bytes, beyond PATH_MAX,
    // so it can only be created (and read) level by level.
    let made = bash(&format!(
        "cd {} && n=$(printf 'd%.0s' $(seq 1 200)) && for i in $(seq 1 25); do mkdir $n && cd $n; done && \
         printf 'hidden deep' > \"$(printf 'deep-\\351.txt')\" && mkfifo pipe",
        src.display()
    ));
    assert_eq!(made.code, 0, "{}", made.stderr);
    let (r, bundle) = collect(&src, &t.path().join("out"), &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let recs = records(&bundle);
    assert_eq!(recs.len(), 2, "{recs:#?}");
    let deep = recs
        .iter()
        .find(|r| r["path_b64"].is_string())
        .expect("non-UTF-8 deep file");
    assert_eq!(deep["status"], "collected", "{deep}");
    let path = original_path(deep);
    assert!(path.as_os_str().len() > 5000);
    assert!(path.as_os_str().as_bytes().ends_with(b"/deep-\xe9.txt"));
    let m = deep["member"].as_str().unwrap();
    assert!(
        m.starts_with("files/~long/") && m.ends_with("/deep-%E9.txt"),
        "{m}"
    );
    assert_eq!(member(&bundle, m), b"hidden deep");
    assert_eq!(record_for(&recs, "/pipe")["reason"], "fifo");
    assert_eq!(verify(&bundle, &[]).code, 0);
}

#[test]
fn a_run_killed_right_after_storing_a_zip_file_is_not_finalized_rather_than_tampered() {
    require_tool("zip", "zip");
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("src");
    let out = t.path().join("out");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::create_dir(&out).unwrap();
    // Walk order with one thread: a_orig.bin, m_inner.zip (streamed: > 8 MiB, so its last
    // chunk and the patched header reach the disk), then hard links of a_orig.bin, which
    // are read and hashed but stored as duplicates: for a few seconds nothing is written
    // and the .part ends exactly with the inner ZIP's end-of-central-directory record.
    write_random(&src.join("a_orig.bin"), 1 << 20, 11);
    let zdir = t.path().join("zsrc");
    std::fs::create_dir(&zdir).unwrap();
    write_random(&zdir.join("blob"), 12 << 20, 12);
    let z = sh(&format!(
        "cd {} && zip -q -0 {} blob",
        zdir.display(),
        src.join("m_inner.zip").display()
    ));
    assert_eq!(z.code, 0, "{}", z.stderr);
    for i in 0..2000 {
        std::fs::hard_link(src.join("a_orig.bin"), src.join(format!("n_dup_{i:04}"))).unwrap();
    }
    let zip_bytes = std::fs::read(src.join("m_inner.zip")).unwrap();
    let mut child = fieldkit()
        .args(["collect", "--quiet", "--threads", "1", "--source"])
        .arg(&src)
        .arg("--out")
        .arg(&out)
        .spawn()
        .unwrap();
    let part = wait_for_part(&out, Duration::from_secs(60));
    wait_for_size(
        &part,
        (1 << 20) + zip_bytes.len() as u64,
        Duration::from_secs(120),
    );
    // Give the patched local header a moment, then kill hard.
    std::thread::sleep(Duration::from_millis(200));
    child.kill().unwrap();
    child.wait().unwrap();
    let tail = std::fs::read(&part).unwrap();
    assert!(
        tail.ends_with(&zip_bytes[zip_bytes.len() - 22..]),
        "the killed .part ends with the inner ZIP's end record (the case under test)"
    );
    let v = verify(&part, &[]);
    assert_eq!(v.code, 3, "{}", v.stdout);
    assert!(v.stdout.starts_with("NOT FINALIZED"), "{}", v.stdout);
    assert!(!v.stdout.contains("prepended_data"), "{}", v.stdout);
    // Renamed, it is still not finalized: the end record at its end is not its own.
    let renamed = out.join("renamed.zip");
    std::fs::rename(&part, &renamed).unwrap();
    let v = verify(&renamed, &[]);
    assert_eq!(v.code, 3, "{}", v.stdout);
    assert!(
        v.stdout.contains("[not_finalized]") && !v.stdout.contains("prepended_data"),
        "{}",
        v.stdout
    );
}

#[test]
fn a_run_killed_before_its_first_write_leaves_an_empty_part_that_is_not_finalized() {
    let t = tempfile::tempdir().unwrap();
    // What a kill before the writer's first buffer flush leaves behind.
    let part = t.path().join("K-1_host_20260101T000000Z_0badcafe.zip.part");
    std::fs::write(&part, b"").unwrap();
    let v = verify(&part, &[]);
    assert_eq!(v.code, 3, "{}", v.stdout);
    assert!(v.stdout.starts_with("NOT FINALIZED"), "{}", v.stdout);
    assert!(v.stdout.contains("[not_finalized]"), "{}", v.stdout);
    // A few bytes of a local header are no better.
    std::fs::write(&part, b"PK\x03").unwrap();
    assert_eq!(verify(&part, &[]).code, 3);
}

#[test]
fn a_profile_that_follows_symlinks_reads_links_inside_the_source_and_records_links_out_of_it() {
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("src");
    std::fs::create_dir_all(src.join("data/sub")).unwrap();
    std::fs::create_dir(t.path().join("out")).unwrap();
    std::fs::write(src.join("data/real.txt"), b"the real content").unwrap();
    std::fs::write(src.join("data/sub/deep.txt"), b"deep content").unwrap();
    // Outside the source: what an absolute link on a mounted image would reach on the
    // examiner's own machine.
    std::fs::create_dir(t.path().join("examiner")).unwrap();
    std::fs::write(t.path().join("examiner/secret.txt"), b"examiner's own file").unwrap();
    let ln =
        |target: &Path, link: &str| std::os::unix::fs::symlink(target, src.join(link)).unwrap();
    ln(Path::new("data/real.txt"), "rel_in");
    ln(&src.join("data/sub/deep.txt"), "abs_in");
    ln(Path::new("sub"), "data/sublink");
    ln(Path::new("../examiner/secret.txt"), "rel_out");
    ln(&t.path().join("examiner/secret.txt"), "abs_out");
    ln(&t.path().join("examiner"), "dir_out");
    ln(Path::new("nowhere"), "dangling");
    let bundle = collect_following_links(t.path(), &src);
    let recs = records(&bundle);
    let sha = |b: &[u8]| {
        use sha2::Digest;
        let d = sha2::Sha256::digest(b);
        d.iter().map(|x| format!("{x:02x}")).collect::<String>()
    };
    // Inside the source: read through the link, both paths recorded.
    for (link, target, content) in [
        (
            "/rel_in",
            "data/real.txt".to_string(),
            &b"the real content"[..],
        ),
        (
            "/abs_in",
            src.join("data/sub/deep.txt").display().to_string(),
            b"deep content",
        ),
    ] {
        let rec = record_for(&recs, link);
        assert!(
            matches!(rec["status"].as_str(), Some("collected" | "duplicate")),
            "{rec}"
        );
        assert_eq!(rec["link_target"]["path"], target.as_str(), "{rec}");
        let resolved = rec["resolved_target"]["path"].as_str().unwrap();
        assert!(resolved.starts_with(src.to_str().unwrap()), "{rec}");
        assert_eq!(rec["sha256"], sha(content), "{rec}");
    }
    assert_eq!(
        record_for(&recs, "/rel_in")["resolved_target"]["path"],
        src.join("data/real.txt").to_str().unwrap()
    );
    // A directory link inside the source is walked.
    let via = record_for(&recs, "/data/sublink/deep.txt");
    assert!(
        matches!(via["status"].as_str(), Some("collected" | "duplicate")),
        "{via}"
    );
    // Out of the source: recorded with both paths, never read.
    for link in ["/rel_out", "/abs_out", "/dir_out"] {
        let rec = record_for(&recs, link);
        assert_eq!(rec["status"], "skipped", "{rec}");
        assert_eq!(rec["reason"], "symlink_outside_source", "{rec}");
        assert!(rec["link_target"]["path"].is_string(), "{rec}");
        assert!(
            rec["resolved_target"]["path"]
                .as_str()
                .unwrap()
                .starts_with(t.path().join("examiner").to_str().unwrap()),
            "{rec}"
        );
        assert!(rec["member"].is_null() && rec["sha256"].is_null(), "{rec}");
    }
    assert!(
        !recs
            .iter()
            .any(|r| r["sha256"] == sha(b"examiner's own file")),
        "nothing of the examiner's machine is read"
    );
    let dangling = record_for(&recs, "/dangling");
    assert_eq!(dangling["status"], "skipped", "{dangling}");
    assert_eq!(dangling["reason"], "symlink", "{dangling}");
    assert_eq!(dangling["link_target"]["path"], "nowhere", "{dangling}");
    assert_eq!(verify(&bundle, &[]).code, 0);
}

#[test]
fn files_jsonl_lists_paths_in_walk_order_whatever_the_thread_timing() {
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("src");
    // ~300 files of mixed sizes (two streamed ones, some identical contents) in nested
    // directories, plus entries that are recorded without being read.
    for d in 0..10 {
        let dir = src
            .join(format!("d{d}"))
            .join(if d % 3 == 0 { "inner" } else { "" });
        std::fs::create_dir_all(&dir).unwrap();
        for i in 0..29 {
            let name = dir.join(format!("f{i:02}.{}", ["txt", "bin", "log"][i % 3]));
            if i % 7 == 0 {
                std::fs::write(&name, format!("shared content {}", i % 2)).unwrap();
            } else {
                write_random(&name, (i * 997 + d * 131) % 40_000, (d * 100 + i) as u64);
            }
        }
    }
    write_random(&src.join("d1/a_big.bin"), 9 << 20, 77);
    write_random(&src.join("d6/z_big.bin"), 10 << 20, 78);
    std::os::unix::fs::symlink("f01.bin", src.join("d2/link")).unwrap();
    let paths = |bundle: &Path| -> Vec<String> {
        records(bundle)
            .iter()
            .map(|r| r["path"].as_str().unwrap().to_string())
            .collect()
    };
    let mut runs = Vec::new();
    for n in 0..2 {
        let (r, bundle) = collect(
            &src,
            &t.path().join(format!("out{n}")),
            &["--threads", "2", "--no-verify"],
        );
        assert_eq!(r.code, 0, "{}", r.stderr);
        runs.push(paths(&bundle));
    }
    let first_difference = |a: &[String], b: &[String]| {
        a.iter()
            .zip(b)
            .position(|(x, y)| x != y)
            .map(|i| format!("position {i}: {} vs {}", a[i], b[i]))
    };
    assert_eq!(runs[0].len(), 10 * 29 + 3);
    assert_eq!(runs[0].len(), runs[1].len());
    assert_eq!(
        first_difference(&runs[0], &runs[1]),
        None,
        "the same tree gives the same files.jsonl order"
    );
    // Walk order: depth first, names sorted byte-wise — the order of the paths' components.
    let mut sorted = runs[0].clone();
    sorted.sort_by(|a, b| Path::new(a).cmp(Path::new(b)));
    assert_eq!(first_difference(&runs[0], &sorted), None, "walk order");
}

#[test]
fn findings_jsonl_is_numbered_in_walk_order_whatever_the_thread_timing() {
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("src");
    // 120 executables (each distinct, so none is a duplicate) and text files with a
    // checksum-valid BIP39 phrase: several findings per file, from files of mixed sizes.
    let exe = std::fs::read("/bin/true").unwrap();
    for i in 0..120 {
        let dir = src.join(format!("tmp/d{}", i % 7));
        std::fs::create_dir_all(&dir).unwrap();
        let mut bytes = exe.clone();
        bytes.extend_from_slice(format!("unique {i}").as_bytes());
        std::fs::write(dir.join(format!("tool{i:03}")), bytes).unwrap();
        if i % 10 == 0 {
            std::fs::write(
                dir.join(format!("notes{i:03}.txt")),
                format!(
                    "note {i}: abandon abandon abandon abandon abandon abandon abandon \
                     abandon abandon abandon abandon about\n"
                ),
            )
            .unwrap();
        }
    }
    write_random(&src.join("tmp/d3/zz_big.bin"), 9 << 20, 5);
    let findings = |bundle: &Path| -> Vec<String> {
        String::from_utf8(member(bundle, "findings.jsonl"))
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect()
    };
    let mut runs = Vec::new();
    for n in 0..2 {
        let (r, bundle) = collect(
            &src,
            &t.path().join(format!("out{n}")),
            &["--threads", "2", "--no-verify"],
        );
        assert_eq!(r.code, 0, "{}", r.stderr);
        runs.push(findings(&bundle));
    }
    assert!(runs[0].len() >= 132, "{} findings", runs[0].len());
    assert_eq!(runs[0].len(), runs[1].len());
    let differ = runs[0].iter().zip(&runs[1]).position(|(a, b)| a != b);
    assert!(
        differ.is_none(),
        "the same tree gives the same findings.jsonl; line {differ:?} differs"
    );
    // Numbered F000001… in order, and in the order of the files they are about.
    let parsed: Vec<serde_json::Value> = runs[0]
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    for (i, f) in parsed.iter().enumerate() {
        assert_eq!(f["id"], format!("F{:06}", i + 1), "{f}");
    }
    let paths: Vec<&str> = parsed.iter().filter_map(|f| f["path"].as_str()).collect();
    let mut sorted = paths.clone();
    sorted.sort_by(|a, b| Path::new(a).cmp(Path::new(b)));
    assert_eq!(
        paths, sorted,
        "findings follow the walk order of their files"
    );
}

/// Run fieldkit with its stdout a pipe whose reading end is already closed (what
/// `| head -1` becomes once head has exited): every write fails with EPIPE.
fn run_with_closed_stdout(args: &[&std::ffi::OsStr]) -> (std::process::ExitStatus, String) {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let mut child = fieldkit()
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        assert!(start.elapsed() < Duration::from_secs(120), "hung: {args:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_closed_stdout_ends_the_output_quietly_with_the_commands_own_exit_status() {
    use std::os::unix::process::ExitStatusExt;
    let t = tree();
    let src = t.path().join("src");
    let out = t.path().join("out");
    // collect: the bundle is finished and verified; only the summary had nowhere to go.
    let (status, stderr) = run_with_closed_stdout(&[
        OsStr::new("collect"),
        OsStr::new("--source"),
        src.as_os_str(),
        OsStr::new("--out"),
        out.as_os_str(),
    ]);
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let bundle = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "zip"))
        .expect("finalized bundle");
    let b = bundle.as_os_str();
    for args in [
        vec![OsStr::new("verify"), b],
        vec![OsStr::new("verify"), b, OsStr::new("--json")],
    ] {
        let (status, stderr) = run_with_closed_stdout(&args);
        assert_eq!(status.code(), Some(0), "{args:?}: {stderr}");
        assert_eq!(stderr, "", "{args:?}: nothing on stderr");
    }
    // The verdict is still the exit status when it is not "valid".
    let bad = t.path().join("bad.zip");
    std::fs::copy(&bundle, &bad).unwrap();
    let len = std::fs::metadata(&bad).unwrap().len();
    zipedit(&["truncate", bad.to_str().unwrap(), &(len - 1).to_string()]);
    let (status, stderr) = run_with_closed_stdout(&[OsStr::new("verify"), bad.as_os_str()]);
    assert_eq!(status.code(), Some(3), "{stderr}");
    assert_eq!(stderr, "");
    let x = t.path().join("x");
    let (status, stderr) = run_with_closed_stdout(&[OsStr::new("extract"), b, x.as_os_str()]);
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert_eq!(stderr, "");
    assert!(x.join("manifest.json").is_file());
    // Listing commands end like standard Unix filters: SIGPIPE (141 in the shell).
    let (status, stderr) = run_with_closed_stdout(&[OsStr::new("profiles"), OsStr::new("list")]);
    assert_eq!(status.signal(), Some(13), "{status:?}: {stderr}");
    assert_eq!(stderr, "");
    // And in a real pipeline.
    let r = bash(&format!(
        "set -o pipefail; {} verify {} | head -1",
        bin(),
        bundle.display()
    ));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.starts_with("INTACT — "), "{}", r.stdout);
    assert_eq!(r.stderr, "");
}

/// An LD_PRELOAD shim that flips one bit of whatever is read from a `*.zip` file at the
/// offset given in FIELDKIT_TEST_FLIP_AT: the finished bundle exists under that name only
/// after sealing, so the writer is untouched and only the read-back disagrees — a device
/// that returns other bytes than it was given. With FIELDKIT_TEST_SLOW_OPEN=SUFFIX, opening
/// a path that ends in SUFFIX takes 2 s (a slow source file, to order the test's events). (The debug fieldkit binary is dynamically
/// linked against glibc, so its open/read/pread64 calls go through the shim.)
const FLIP_SHIM: &str = r#"
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#define MAXFD 65536
static unsigned char watched[MAXFD];

static unsigned char direct_fd[MAXFD];

static int is_bundle(const char *path) {
    size_t n = strlen(path);
    /* The sealed bundle is read back under its .part name (docs/bundle-format.md, "Lifecycle"). */
    return (n > 4 && strcmp(path + n - 4, ".zip") == 0)
        || (n > 9 && strcmp(path + n - 9, ".zip.part") == 0);
}

static void watch(int fd, const char *path, int flags) {
    if (fd < 0 || fd >= MAXFD) return;
    watched[fd] = is_bundle(path);
    direct_fd[fd] = watched[fd] && (flags & O_DIRECT);
}

/* FIELDKIT_TEST_REFUSE_DIRECT=open|read: the output file system refuses O_DIRECT on the
   bundle (EINVAL), at open or at the first read, as tmpfs did before Linux 6.6. */
static int refuse_direct(const char *when) {
    const char *r = getenv("FIELDKIT_TEST_REFUSE_DIRECT");
    return r && strcmp(r, when) == 0;
}

static void flip(int fd, void *buf, ssize_t n, off_t start) {
    if (n <= 0 || fd < 0 || fd >= MAXFD || !watched[fd]) return;
    const char *at_s = getenv("FIELDKIT_TEST_FLIP_AT");
    if (!at_s) return;
    long long at = atoll(at_s);
    if (at >= start && at < start + n) ((unsigned char *)buf)[at - start] ^= 0x01;
}

static void slow(const char *path) {
    const char *suffix = getenv("FIELDKIT_TEST_SLOW_OPEN");
    if (!suffix) return;
    size_t n = strlen(path), k = strlen(suffix);
    if (n >= k && strcmp(path + n - k, suffix) == 0) sleep(2);
}

#define OPEN_LIKE(name, ...) \
    int name(const char *path, int flags, ...) { \
        static int (*real)(const char *, int, ...); \
        if (!real) real = dlsym(RTLD_NEXT, #name); \
        slow(path); \
        if ((flags & O_DIRECT) && is_bundle(path) && refuse_direct("open")) { errno = EINVAL; return -1; } \
        mode_t mode = 0; \
        if (flags & (O_CREAT | O_TMPFILE)) { va_list ap; va_start(ap, flags); mode = va_arg(ap, int); va_end(ap); } \
        int fd = real(path, flags, mode); \
        watch(fd, path, flags); \
        return fd; \
    }
OPEN_LIKE(open)
OPEN_LIKE(open64)

#define OPENAT_LIKE(name) \
    int name(int dirfd, const char *path, int flags, ...) { \
        static int (*real)(int, const char *, int, ...); \
        if (!real) real = dlsym(RTLD_NEXT, #name); \
        slow(path); \
        if ((flags & O_DIRECT) && is_bundle(path) && refuse_direct("open")) { errno = EINVAL; return -1; } \
        mode_t mode = 0; \
        if (flags & (O_CREAT | O_TMPFILE)) { va_list ap; va_start(ap, flags); mode = va_arg(ap, int); va_end(ap); } \
        int fd = real(dirfd, path, flags, mode); \
        watch(fd, path, flags); \
        return fd; \
    }
OPENAT_LIKE(openat)
OPENAT_LIKE(openat64)

int close(int fd) {
    static int (*real)(int);
    if (!real) real = dlsym(RTLD_NEXT, "close");
    if (fd >= 0 && fd < MAXFD) watched[fd] = direct_fd[fd] = 0;
    return real(fd);
}

ssize_t read(int fd, void *buf, size_t count) {
    static ssize_t (*real)(int, void *, size_t);
    if (!real) real = dlsym(RTLD_NEXT, "read");
    off_t start = (fd >= 0 && fd < MAXFD && watched[fd]) ? lseek(fd, 0, SEEK_CUR) : 0;
    ssize_t n = real(fd, buf, count);
    flip(fd, buf, n, start);
    return n;
}

ssize_t pread64(int fd, void *buf, size_t count, off_t offset) {
    static ssize_t (*real)(int, void *, size_t, off_t);
    if (!real) real = dlsym(RTLD_NEXT, "pread64");
    if (fd >= 0 && fd < MAXFD && direct_fd[fd] && refuse_direct("read")) { errno = EINVAL; return -1; }
    ssize_t n = real(fd, buf, count, offset);
    flip(fd, buf, n, offset);
    return n;
}
"#;

/// FLIP_SHIM compiled into `dir` (needs gcc).
fn build_flip_shim(dir: &std::path::Path) -> std::path::PathBuf {
    let c = dir.join("flip.c");
    std::fs::write(&c, FLIP_SHIM).unwrap();
    let so = dir.join("flip.so");
    let g = sh(&format!(
        "gcc -shared -fPIC -O1 -o {} {} -ldl",
        so.display(),
        c.display()
    ));
    assert_eq!(g.code, 0, "{}", g.stderr);
    so
}

/// Verify-after-write read the first 10 MiB back early and names `code` for the member
/// whose message starts with `start`.
#[track_caller]
fn assert_early_problem(v: &serde_json::Value, code: &str, start: &str) {
    assert!(
        v["read_back_early_bytes"].as_u64().unwrap() >= 10 << 20,
        "{v}"
    );
    assert!(
        v["problems"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["code"] == code && p["message"].as_str().unwrap().starts_with(start)),
        "{v}"
    );
}

#[test]
fn a_bundle_that_reads_back_differently_fails_verify_after_write_with_exit_1() {
    require_tool("gcc", "gcc");
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("src");
    std::fs::create_dir(&src).unwrap();
    // One member first in the archive: files/a.txt, data from offset 30 + 11 + 9 = 50.
    std::fs::write(src.join("a.txt"), vec![b'e'; 4000]).unwrap();
    let so = build_flip_shim(t.path());
    let out = t.path().join("out");
    // Stored, so that offset 1000 lies inside files/a.txt's data.
    let mut cmd = fieldkit();
    cmd.args(["collect", "--compress", "never", "--source"])
        .arg(&src)
        .arg("--out")
        .arg(&out)
        .env("LD_PRELOAD", &so)
        .env("FIELDKIT_TEST_FLIP_AT", "1000");
    let r = run_with_timeout(cmd, Duration::from_secs(120));
    assert_eq!(
        r.code, 1,
        "exit 1 = verify-after-write failed\n{}\n{}",
        r.stdout, r.stderr
    );
    assert!(
        r.stdout.contains("Verified      FAILED (Invalid):"),
        "{}",
        r.stdout
    );
    assert!(
        r.stderr.contains("VERIFY-AFTER-WRITE FAILED") && r.stderr.contains("collect again"),
        "{}",
        r.stderr
    );
    assert!(
        r.stdout.contains("- member files/a.txt: SHA-256 ")
            && r.stdout.contains("does not match SHA256SUMS"),
        "{}",
        r.stdout
    );
    // The same with --json for scripts.
    let mut cmd = fieldkit();
    cmd.args(["collect", "--json", "--compress", "never", "--source"])
        .arg(&src)
        .arg("--out")
        .arg(t.path().join("out2"))
        .env("LD_PRELOAD", &so)
        .env("FIELDKIT_TEST_FLIP_AT", "1000");
    let r = run_with_timeout(cmd, Duration::from_secs(120));
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    let s = r.json();
    assert_eq!(s["verify_after_write"]["verdict"], "invalid");
    assert_eq!(s["exit_code"], 1);
    // What is on the disk is intact: read without the shim, the bundle itself verifies
    // apart from the sidecar, which records the hash of the bytes read back.
    let bundle = std::path::PathBuf::from(s["bundle"].as_str().unwrap());
    let lone = t.path().join("lone.zip");
    std::fs::copy(&bundle, &lone).unwrap();
    assert_eq!(verify(&lone, &[]).code, 0);

    // The same flip inside a range read back early, while acquisition is still running:
    // a 10 MiB b.bin after a.txt (one thread: in this order), so the first early range
    // (8 MiB or more of completed members, verify::early::STEP) ends after it, and c.bin,
    // whose open takes 2 s, is read after that range was read back. That range is never
    // read again; the run must still fail, naming the member.
    write_random(&src.join("b.bin"), 10 << 20, 1);
    write_random(&src.join("c.bin"), 1 << 20, 2);
    let early_run = |out: &str, extra: &[&str], flip: &str, refuse_direct: &str| {
        let mut cmd = fieldkit();
        cmd.args(["collect", "--json", "--threads", "1", "--source"])
            .arg(&src)
            .arg("--out")
            .arg(t.path().join(out))
            .args(extra)
            .env("LD_PRELOAD", &so)
            .env("FIELDKIT_TEST_FLIP_AT", flip)
            .env("FIELDKIT_TEST_SLOW_OPEN", "/c.bin")
            .env("FIELDKIT_TEST_REFUSE_DIRECT", refuse_direct)
            .env("FIELDKIT_TEST_PAUSE_AT", "none");
        let r = run_with_timeout(cmd, Duration::from_secs(120));
        // Exit 1 when a bit was flipped on read-back, 0 when none was (flip at -1).
        let flipped = flip != "-1";
        assert_eq!(r.code, i32::from(flipped), "{}\n{}", r.stdout, r.stderr);
        let phases: Vec<&str> = r
            .stderr
            .lines()
            .filter_map(|l| l.strip_prefix("fieldkit: test phase "))
            .collect();
        let first_early = phases
            .iter()
            .position(|p| p.starts_with("read-back-early "));
        let acquired = phases.iter().position(|p| *p == "acquired");
        assert!(
            matches!((first_early, acquired), (Some(e), Some(a)) if e < a),
            "a range was read back before acquisition ended: {phases:?}"
        );
        let first: u64 = phases[first_early.unwrap()]
            .trim_start_matches("read-back-early ")
            .parse()
            .unwrap();
        assert!(
            first >= 10 << 20,
            "the range holds offset 1000 and all of b.bin: {first}"
        );
        r
    };
    let r = early_run("out3", &["--compress", "never"], "1000", "");
    let s = r.json();
    let v = &s["verify_after_write"];
    assert_eq!(v["verdict"], "invalid", "{v}");
    assert_early_problem(v, "hash_mismatch", "member files/a.txt: SHA-256");
    // Without the shim the bundle on the disk verifies.
    let bundle = std::path::PathBuf::from(s["bundle"].as_str().unwrap());
    let lone = t.path().join("lone3.zip");
    std::fs::copy(&bundle, &lone).unwrap();
    assert_eq!(verify(&lone, &[]).code, 0);
    // A compressed bundle the same way: the flip lands in a.txt's Deflate stream.
    let r = early_run("out4", &[], "60", "");
    let v = &r.json()["verify_after_write"];
    assert_early_problem(v, "stored_bytes_mismatch", "member files/a.txt:");

    // The early ranges are read with O_DIRECT wherever the output file system takes it
    // (dd, the oracle, reads a file there with iflag=direct); where it is refused at
    // open or at the first read (EINVAL, from the shim), they are read through the
    // dropped page cache instead, and the run is as valid and says which.
    let probe = t.path().join("probe.bin");
    std::fs::write(&probe, vec![7u8; 8192]).unwrap();
    let dd = sh(&format!(
        "dd if={} of=/dev/null bs=4096 iflag=direct status=none",
        probe.display()
    ));
    for (out, refuse) in [("out5", ""), ("out6", "open"), ("out7", "read")] {
        let r = early_run(out, &[], "-1", refuse);
        let v = &r.json()["verify_after_write"];
        assert_eq!(v["verdict"], "valid", "{v}");
        assert!(
            v["read_back_early_bytes"].as_u64().unwrap() >= 10 << 20,
            "{v}"
        );
        let direct = refuse.is_empty() && dd.code == 0;
        assert_eq!(
            v["read_back_early_direct"].as_bool(),
            Some(direct),
            "refused {refuse:?}, dd iflag=direct exit {}: {v}",
            dd.code
        );
    }
}

#[test]
fn on_a_terminal_collect_shows_progress_on_stderr_and_prints_the_paper_log_summary() {
    require_tool("script", "util-linux");
    require_tool("ssh-keygen", "openssh-client");
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("src");
    std::fs::create_dir(&src).unwrap();
    write_random(&src.join("big.bin"), 64 << 20, 21);
    std::fs::write(src.join("a.txt"), b"small").unwrap();
    std::fs::write(src.join("b.txt"), b"small").unwrap();
    std::fs::write(src.join("z.txt"), b"small").unwrap();
    let out = t.path().join("out");
    let summary = t.path().join("summary.txt");
    // The run must outlast a few of the bar's 200 ms frames however fast the machine:
    // opening z.txt, the last in walk order, takes 2 s (the shim), after big.bin is read.
    require_tool("gcc", "gcc");
    let so = build_flip_shim(t.path());
    // script(1) gives fieldkit a pseudo-terminal as stderr; stdout goes to a file, so
    // what script captures is exactly what fieldkit wrote to stderr.
    let cmd = format!(
        "LD_PRELOAD={} FIELDKIT_TEST_SLOW_OPEN=/z.txt {} collect --source {} --out {} > {}",
        so.display(),
        bin(),
        src.display(),
        out.display(),
        summary.display()
    );
    let mut sc = std::process::Command::new("script");
    sc.args(["-qec", &cmd, "/dev/null"]);
    let r = run_with_timeout(sc, Duration::from_secs(120));
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let tty = &r.stdout;
    assert!(
        tty.contains(&format!(
            "fieldkit: collecting {} with profile all-files",
            src.display()
        )),
        "{tty}"
    );
    // The progress bar: files, bytes, rate, ETA — drawn and cleared again (ESC[2K).
    assert!(tty.contains(" files"), "{tty}");
    assert!(tty.contains("B/s ETA "), "{tty}");
    assert!(tty.contains("MiB/64.00 MiB"), "{tty}");
    assert!(tty.contains("\x1b[2K"), "{tty}");
    let text = std::fs::read_to_string(&summary).unwrap();
    let field = |label: &str| -> String {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("  {label:<14}")))
            .unwrap_or_else(|| panic!("no {label} line in:\n{text}"))
            .to_string()
    };
    assert!(text.contains("fieldkit collect: COMPLETE"), "{text}");
    let bundle = std::path::PathBuf::from(field("Bundle"));
    assert!(bundle.is_file() && bundle.starts_with(&out), "{text}");
    let sha = sh(&format!("sha256sum {}", bundle.display()));
    assert_eq!(
        field("SHA-256"),
        sha.stdout.split_whitespace().next().unwrap(),
        "{text}"
    );
    let signed = field("Signed by");
    let (fingerprint, note) = signed.split_once("  ").unwrap();
    assert_eq!(note, "ONE-TIME KEY: write this fingerprint in your notes");
    let pubkey = t.path().join("signer.pub");
    std::fs::write(&pubkey, member(&bundle, "signer.pub")).unwrap();
    let lf = sh(&format!("ssh-keygen -lf {}", pubkey.display()));
    assert_eq!(lf.code, 0, "{}", lf.stderr);
    assert_eq!(
        lf.stdout.split_whitespace().nth(1),
        Some(fingerprint),
        "{}",
        lf.stdout
    );
    assert_eq!(
        field("Files"),
        "2 collected, 2 duplicate, 0 changed while read, 0 skipped, 0 errors, 0 locked (4 considered)"
    );
    let read = field("Read");
    let secs: f64 = read
        .strip_prefix("64.0 MiB in ")
        .and_then(|r| r.strip_suffix(" s"))
        .unwrap_or_else(|| panic!("{read}"))
        .parse()
        .unwrap();
    assert!(secs > 0.0 && secs < 120.0, "{read}");
    assert!(field("Verified").starts_with("OK: "), "{text}");
    assert_eq!(r.stderr, "");
}

/// Start `collect --threads 1` on `src`, wait until the bundle has grown past 4 MiB (the
/// first large file is being streamed), run `act`, and return the finished run.
fn collect_and_act_mid_read(src: &Path, out: &Path, act: impl FnOnce()) -> Run {
    let mut cmd = fieldkit();
    cmd.args(["collect", "--json", "--threads", "1", "--source"])
        .arg(src)
        .arg("--out")
        .arg(out);
    let child = std::thread::spawn(move || run_with_timeout(cmd, Duration::from_secs(300)));
    let part = wait_for_part(out, Duration::from_secs(60));
    wait_for_size(&part, 4 << 20, Duration::from_secs(60));
    act();
    child.join().unwrap()
}

/// `dir/src` holding one 400 MiB random file `name` (long enough to change it while it is
/// read), and an empty `dir/out`.
fn one_big_file(dir: &Path, name: &str, seed: u64) -> (PathBuf, PathBuf, PathBuf) {
    let src = dir.join("src");
    let out = dir.join("out");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::create_dir(&out).unwrap();
    let f = src.join(name);
    write_random(&f, 400 << 20, seed);
    (src, out, f)
}

#[test]
fn a_file_whose_mtime_changes_while_read_keeps_its_size_and_is_marked_changed() {
    let t = tempfile::tempdir().unwrap();
    let (src, out, f) = one_big_file(t.path(), "touched.db", 31);
    let r = collect_and_act_mid_read(&src, &out, || {
        // A writer that only updates the time (same size, same bytes).
        let file = std::fs::OpenOptions::new().write(true).open(&f).unwrap();
        file.set_modified(std::time::SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000))
            .unwrap();
    });
    assert_eq!(r.code, 0, "{}", r.stderr);
    let bundle = std::path::PathBuf::from(r.json()["bundle"].as_str().unwrap());
    let g = record_for(&records(&bundle), "touched.db").clone();
    assert_eq!(g["status"], "changed", "{g}");
    assert_eq!(g["reason"], "changed_during_read", "{g}");
    let detail = g["detail"].as_str().unwrap();
    assert!(detail.starts_with("mtime changed while being read"), "{g}");
    assert!(!detail.contains("size"), "the size did not change: {g}");
    assert_eq!(g["bytes_read"], 400u64 << 20, "{g}");
    assert_eq!(g["size"], 400u64 << 20, "{g}");
    // The mtime recorded is the one before the read.
    assert!(!g["mtime"].as_str().unwrap().starts_with("2001-"), "{g}");
    assert_eq!(verify(&bundle, &[]).code, 0);
}

#[test]
fn a_file_truncated_while_read_is_stored_as_read_and_marked_truncated() {
    let t = tempfile::tempdir().unwrap();
    let (src, out, f) = one_big_file(t.path(), "rotated.log", 32);
    let r = collect_and_act_mid_read(&src, &out, || {
        // Log rotation: cut to 1 MiB, below what has been read already.
        let file = std::fs::OpenOptions::new().write(true).open(&f).unwrap();
        file.set_len(1 << 20).unwrap();
    });
    assert_eq!(r.code, 0, "{}", r.stderr);
    let bundle = std::path::PathBuf::from(r.json()["bundle"].as_str().unwrap());
    let g = record_for(&records(&bundle), "rotated.log").clone();
    assert_eq!(g["status"], "changed", "{g}");
    assert_eq!(g["reason"], "changed_during_read", "{g}");
    let detail = g["detail"].as_str().unwrap();
    assert!(
        detail.contains(&format!("truncated (size {} -> {})", 400u64 << 20, 1 << 20)),
        "{g}"
    );
    let read = g["bytes_read"].as_u64().unwrap();
    assert!((4 << 20..400 << 20).contains(&read), "{g}");
    assert!(
        detail.contains(&format!("the {read} bytes read are stored")),
        "{g}"
    );
    assert_eq!(g["size"], 400u64 << 20, "size when opened: {g}");
    // What was read is what is stored, and its hash is recorded.
    assert_eq!(verify(&bundle, &[]).code, 0);
    assert_eq!(r.json()["counts"]["changed"], 1);
}
