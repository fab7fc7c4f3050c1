//! `collect` on the running system captures volatile state first (live/ members, actions
//! before any file is read), and not when asked not to or when the source is a folder;
//! neither `collect` nor `live` ever starts a program (traced with strace); the report
//! of such a bundle shows the live summary.
//!
//! Needs (as root): strace, iproute2 (ss), util-linux (mount), unzip.

mod common;

use std::path::Path;

use common::*;

fn tmpfs(dir: &Path) {
    let m = sh(&format!(
        "mount -t tmpfs -o size=256m fieldkit-usb {}",
        dir.display()
    ));
    assert_eq!(m.code, 0, "mount: {}", m.stderr);
}

fn profile(dir: &Path) -> std::path::PathBuf {
    let p = dir.join("tiny.toml");
    std::fs::write(&p, "name = \"tiny\"\nformat_version = 1\n[[rule]]\nname = \"id\"\ncategory = \"system\"\npaths = [\"/etc/hostname\", \"/etc/os-release\"]\n").unwrap();
    p
}

#[test]
fn a_live_collection_captures_volatile_state_before_any_file() {
    require_root();
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("usb");
    std::fs::create_dir(&out).unwrap();
    tmpfs(&out);
    let p = profile(t.path());
    let mut cmd = fieldkit();
    cmd.args(["collect", "--json", "--source", "/", "--out"])
        .arg(&out)
        .arg("--profile")
        .arg(&p);
    cmd.args(["--reference-time", "2026-01-01T00:00:00Z"]);
    let r = run_with_timeout(cmd, std::time::Duration::from_secs(180));
    let bundle = std::path::PathBuf::from(r.json()["bundle"].as_str().unwrap_or_default());
    let names = if r.code == 0 {
        sh(&format!("unzip -Z1 {}", bundle.display())).stdout
    } else {
        String::new()
    };
    let actions = if r.code == 0 {
        String::from_utf8(member(&bundle, "actions.jsonl")).unwrap()
    } else {
        String::new()
    };
    let manifest = if r.code == 0 {
        manifest(&bundle)
    } else {
        serde_json::Value::Null
    };
    let report = if r.code == 0 {
        run(&["report", bundle.to_str().unwrap()]).stdout
    } else {
        String::new()
    };
    let v = if r.code == 0 {
        verify(&bundle, &[]).code
    } else {
        -1
    };
    sh(&format!("umount {}", out.display()));
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("live state captured:"),
        "the responder is told at once: {}",
        r.stderr
    );
    let s = r.json();
    assert!(
        s["live"]["counts"]["processes"].as_u64().unwrap() > 3,
        "{s}"
    );
    assert_eq!(s["live"]["encryption"]["checked"], true);
    // live/ members come first in the archive, before any collected file.
    let order: Vec<&str> = names.lines().collect();
    let first_file = order.iter().position(|n| n.starts_with("files/")).unwrap();
    for kind in [
        "open_volumes",
        "clock",
        "network",
        "processes",
        "users",
        "mounts",
        "modules",
        "services",
        "encryption",
    ] {
        let pos = order
            .iter()
            .position(|n| *n == format!("live/{kind}.json"))
            .unwrap_or_else(|| panic!("live/{kind}.json missing: {names}"));
        assert!(pos < first_file, "{kind} after files: {names}");
    }
    // Every capture is an action with start and end times, before the acquisition.
    let lines: Vec<serde_json::Value> = actions
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let acquire = lines.iter().position(|a| a["action"] == "acquire").unwrap();
    let captures: Vec<usize> = lines
        .iter()
        .enumerate()
        .filter(|(_, a)| a["action"].as_str().unwrap().starts_with("live."))
        .map(|(i, _)| i)
        .collect();
    assert_eq!(captures.len(), 9, "{actions}");
    assert!(
        captures
            .iter()
            .all(|&i| i < acquire && lines[i]["end_utc"].is_string())
    );
    assert!(
        manifest["method"]["live_state"]
            .as_str()
            .unwrap()
            .starts_with("captured before any file was read")
    );
    assert_eq!(manifest["method"]["executed_programs_of_source"], false);
    assert!(report.contains("Live state"), "{report}");
    assert_eq!(v, 0);
}

#[test]
fn no_live_and_folder_sources_skip_the_live_step_and_say_why() {
    require_root();
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("usb");
    std::fs::create_dir(&out).unwrap();
    tmpfs(&out);
    let p = profile(t.path());
    let mut cmd = fieldkit();
    cmd.args(["collect", "--json", "--no-live", "--source", "/", "--out"])
        .arg(&out)
        .arg("--profile")
        .arg(&p);
    let r = run_with_timeout(cmd, std::time::Duration::from_secs(120));
    let bundle = std::path::PathBuf::from(r.json()["bundle"].as_str().unwrap_or_default());
    let names = sh(&format!("unzip -Z1 {}", bundle.display())).stdout;
    let actions = String::from_utf8(member(&bundle, "actions.jsonl")).unwrap_or_default();
    sh(&format!("umount {}", out.display()));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!names.contains("live/"), "{names}");
    assert!(actions.contains("--no-live was given"), "{actions}");
    // A folder source is not the running system: no live step.
    let src = t.path().join("folder");
    std::fs::create_dir(&src).unwrap();
    std::fs::write(src.join("f"), b"f").unwrap();
    let (r, bundle) = collect(&src, &t.path().join("o2"), &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.json()["live"].is_null());
    let actions = String::from_utf8(member(&bundle, "actions.jsonl")).unwrap();
    assert!(
        actions.contains("the source is not the running system"),
        "{actions}"
    );
}

/// `strace -f -qq -e trace=execve -o LOG fieldkit ARGS…`: the run and every execve line.
fn traced(log: &Path, args: &[&str]) -> (Run, Vec<String>) {
    require_tool("strace", "strace");
    let mut cmd = std::process::Command::new("strace");
    cmd.args(["-f", "-qq", "-e", "trace=execve", "-o"])
        .arg(log)
        .arg(bin())
        .args(args);
    let r = run_with_timeout(cmd, std::time::Duration::from_secs(300));
    let execs = std::fs::read_to_string(log)
        .unwrap_or_else(|e| panic!("{}: {e}\n{}", log.display(), r.stderr))
        .lines()
        .filter(|l| l.contains("execve("))
        .map(str::to_string)
        .collect();
    (r, execs)
}

#[test]
fn live_and_a_live_collection_execute_no_program_at_all() {
    require_root();
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("usb");
    std::fs::create_dir(&out).unwrap();
    tmpfs(&out);
    let p = profile(t.path());
    let me = format!("execve(\"{}\"", bin());
    let (live, live_execs) = traced(&t.path().join("live.strace"), &["live"]);
    let (coll, coll_execs) = traced(
        &t.path().join("collect.strace"),
        &[
            "collect",
            "--json",
            "--no-verify",
            "--source",
            "/",
            "--out",
            out.to_str().unwrap(),
            "--profile",
            p.to_str().unwrap(),
        ],
    );
    sh(&format!("umount {}", out.display()));
    assert!(live.code == 0 || live.code == 4, "{}", live.stderr);
    assert_eq!(coll.code, 0, "{}\n{}", coll.stdout, coll.stderr);
    assert!(
        coll.json()["live"]["counts"]["processes"].as_u64().unwrap() > 3,
        "the live step ran inside collect"
    );
    for (what, execs) in [("live", &live_execs), ("collect", &coll_execs)] {
        assert_eq!(
            execs.len(),
            1,
            "fieldkit {what} must execute nothing but itself: {execs:#?}"
        );
        assert!(
            execs[0].contains(&me) && execs[0].ends_with("= 0"),
            "{what}: {}",
            execs[0]
        );
    }
}

#[test]
fn the_report_of_a_live_bundle_shows_offset_ports_connections_suspicious_processes_and_encryption()
{
    require_root();
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("usb");
    std::fs::create_dir(&out).unwrap();
    tmpfs(&out);
    let p = profile(t.path());
    // A listener and an established connection, both owned by this test process.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let client = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let (_server_side, _) = listener.accept().unwrap();
    let client_port = client.local_addr().unwrap().port();
    // A copy of sleep running from /tmp, deleted while it runs.
    let tmp = tempfile::Builder::new()
        .prefix("fieldkit-report-")
        .tempdir_in("/tmp")
        .unwrap();
    let copy = tmp.path().join("dropper");
    std::fs::copy("/usr/bin/sleep", &copy).unwrap();
    let mut child = None;
    for _ in 0..50 {
        // A freshly written executable may be busy in a child forked meanwhile (ETXTBSY).
        match std::process::Command::new(&copy).arg("600").spawn() {
            Ok(c) => {
                child = Some(c);
                break;
            }
            Err(e) if e.raw_os_error() == Some(26) => {
                std::thread::sleep(std::time::Duration::from_millis(50))
            }
            Err(e) => panic!("{e}"),
        }
    }
    let mut child = child.expect("start the copy");
    std::thread::sleep(std::time::Duration::from_millis(100));
    std::fs::remove_file(&copy).unwrap();

    // Far in the past, so the host is ahead whatever its clock says.
    let reference = "2001-01-01T00:00:00Z";
    let mut cmd = fieldkit();
    cmd.args(["collect", "--json", "--no-verify", "--source", "/", "--out"])
        .arg(&out)
        .arg("--profile")
        .arg(&p)
        .args(["--reference-time", reference]);
    let collected_at = jiff::Timestamp::now();
    let r = run_with_timeout(cmd, std::time::Duration::from_secs(180));
    let _ = child.kill();
    let _ = child.wait();
    let report = if r.code == 0 {
        let bundle = r.json()["bundle"].as_str().unwrap().to_string();
        run(&["report", &bundle])
    } else {
        Run {
            code: -1,
            stdout: String::new(),
            stderr: String::new(),
        }
    };
    sh(&format!("umount {}", out.display()));
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(report.code, 0, "{}", report.stderr);
    let text = &report.stdout;
    let me = std::process::id();
    let line_with = |needle: &str| -> &str {
        text.lines()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no line with {needle:?} in the report:\n{text}"))
    };

    // The clock offset against the reference, to the second.
    let offset = line_with(&format!("s against the reference {reference}"));
    let secs: f64 = offset.split_whitespace().next().unwrap().parse().unwrap();
    let expected = (collected_at.as_millisecond()
        - reference
            .parse::<jiff::Timestamp>()
            .unwrap()
            .as_millisecond()) as f64
        / 1000.0;
    assert!((secs - expected).abs() < 30.0, "{offset} vs {expected}");
    assert!(offset.ends_with("(host ahead)"), "{offset}");

    // The listener with its PID, the established connection with both ends and its PID.
    let listening = line_with(&format!("tcp   127.0.0.1:{port}  "));
    assert!(listening.contains(&format!("{me}/")), "{listening}");
    let established = line_with(&format!("127.0.0.1:{client_port} -> 127.0.0.1:{port}"));
    assert!(established.contains(&format!("{me}/")), "{established}");
    let sections: Vec<&str> = text
        .lines()
        .map(|l| l.split_whitespace().next().unwrap_or(""))
        .collect();
    let at = |s: &str| sections.iter().position(|x| *x == s).unwrap();
    let row = |l: &str| text.lines().position(|x| x == l).unwrap();
    assert!(at("Listening") < row(listening) && row(listening) < at("Established"));
    assert!(at("Established") < row(established) && row(established) < at("Processes"));

    // The deleted binary running from /tmp, with both reasons and its path.
    let suspicious = line_with(&format!("pid {} ", child.id()));
    for needle in [
        "exe_deleted",
        "exe_in_temp_dir",
        copy.to_str().unwrap(),
        "sha256 ",
    ] {
        assert!(
            suspicious.contains(needle),
            "{needle} missing: {suspicious}"
        );
    }

    // The encryption status line: the same verdict collect printed.
    let enc = line_with("Encryption   ");
    let summary = &r.json()["live"]["encryption"];
    match summary["not_determined"].as_str() {
        Some(why) => assert!(
            enc.contains(&format!("encryption status NOT DETERMINED ({why})")),
            "{enc}"
        ),
        None if summary["open"] == true => assert!(enc.contains("OPEN ENCRYPTED VOLUME"), "{enc}"),
        None => assert_eq!(enc, "Encryption   no open encrypted volume found"),
    }
    drop(client);
}
