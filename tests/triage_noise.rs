//! The balance of triage on a developer's machine: a real C build tree in a temporary
//! folder (gcc objects, an `ar` archive, the linked program, Makefile and `.git`), a
//! Cargo-style `target/debug` program and a Node addon under `node_modules` give no
//! finding above info, while one ELF program dropped under a hidden name in the same
//! temporary folder is the single high finding. And the live state of `collect`: a
//! process running from an executable deleted after it started, and one running from a
//! memfd (Python's `os.memfd_create` + `fexecve`), are each a high finding with the pid,
//! the executable path and the reason; one whose executable was replaced by a new file at
//! the same path (what a package upgrade does) is a low one.
//!
//! Needs: gcc, binutils (ar), python3, mount (a tmpfs as the collection stick), root.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::*;
use serde_json::Value;

fn findings_of(bundle: &Path) -> Vec<Value> {
    String::from_utf8(member(bundle, "findings.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn gcc(dir: &Path, args: &[&str]) {
    require_tool("gcc", "gcc libc6-dev");
    let out = Command::new("gcc")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("gcc");
    assert!(
        out.status.success(),
        "gcc {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_build_tree_in_tmp_is_not_noise_and_a_hidden_dropper_is_the_single_high_finding() {
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("src");
    let proj = src.join("tmp/proj");
    std::fs::create_dir_all(proj.join("build")).unwrap();
    std::fs::create_dir_all(proj.join(".git")).unwrap();
    std::fs::write(
        proj.join("a.c"),
        "int add(int a, int b) { return a + b; }\n",
    )
    .unwrap();
    std::fs::write(
        proj.join("b.c"),
        "int mul(int a, int b) { return a * b; }\n",
    )
    .unwrap();
    std::fs::write(
        proj.join("main.c"),
        "int add(int, int); int mul(int, int);\nint main(void) { return add(1, mul(2, 3)) - 7; }\n",
    )
    .unwrap();
    std::fs::write(
        proj.join("Makefile"),
        "build/app: build/main.o build/libab.a\n\tgcc -o $@ $^\n",
    )
    .unwrap();
    for (c, o) in [
        ("a.c", "build/a.o"),
        ("b.c", "build/b.o"),
        ("main.c", "build/main.o"),
    ] {
        gcc(&proj, &["-c", c, "-o", o]);
    }
    require_tool("ar", "binutils");
    let ar = sh(&format!(
        "cd '{}' && ar rcs build/libab.a build/a.o build/b.o",
        proj.display()
    ));
    assert_eq!(ar.code, 0, "{}", ar.stderr);
    gcc(&proj, &["-o", "build/app", "build/main.o", "build/libab.a"]);
    // The program really was linked from them (and runs).
    let ran = Command::new(proj.join("build/app")).status().unwrap();
    assert_eq!(ran.code(), Some(0));
    // A Cargo-style output and a Node native addon: recognised by their paths alone.
    std::fs::create_dir_all(src.join("tmp/rs/target/debug")).unwrap();
    std::fs::copy(proj.join("build/app"), src.join("tmp/rs/target/debug/tool")).unwrap();
    let triple = src.join("tmp/rs/target/x86_64-unknown-linux-gnu/release");
    std::fs::create_dir_all(&triple).unwrap();
    gcc(
        &proj,
        &[
            "-O1",
            "-o",
            triple.join("tool").to_str().unwrap(),
            "main.c",
            "a.c",
            "b.c",
        ],
    );
    let addon_dir = src.join("tmp/web/node_modules/fast/build/Release");
    std::fs::create_dir_all(&addon_dir).unwrap();
    gcc(
        &proj,
        &[
            "-shared",
            "-fPIC",
            "-o",
            addon_dir.join("fast.node").to_str().unwrap(),
            "a.c",
        ],
    );
    // A relocatable object that is a kernel module (a .modinfo section) is loadable code:
    // outside any build tree it stays a finding.
    std::fs::write(
        src.join("tmp/mod.c"),
        "__attribute__((section(\".modinfo\"), used)) static const char l[] = \"license=GPL\";\nint init_module(void) { return 0; }\n",
    )
    .unwrap();
    gcc(&src.join("tmp"), &["-c", "mod.c", "-o", "helper.ko"]);
    std::fs::remove_file(src.join("tmp/mod.c")).unwrap();
    // An AppImage's runtime mount: its hidden folder name alone raises nothing.
    std::fs::create_dir_all(src.join("tmp/.mount_ToolAb12Cd/usr/bin")).unwrap();
    std::fs::copy(
        "/usr/bin/true",
        src.join("tmp/.mount_ToolAb12Cd/usr/bin/tool"),
    )
    .unwrap();
    // The planted one: a program under a hidden name in a hidden folder of tmp.
    std::fs::create_dir_all(src.join("tmp/.cache")).unwrap();
    gcc(
        &proj,
        &[
            "-o",
            src.join("tmp/.cache/.updater").to_str().unwrap(),
            "main.c",
            "a.c",
            "b.c",
        ],
    );

    let (r, bundle) = collect(&src, &t.path().join("out"), &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let findings = findings_of(&bundle);
    let mut got: Vec<(String, String, String)> = findings
        .iter()
        .map(|f| {
            let path = f["path"].as_str().unwrap_or("");
            let rel = path
                .strip_prefix(src.to_str().unwrap())
                .unwrap_or(path)
                .to_string();
            (
                f["severity"].as_str().unwrap().to_string(),
                f["kind"].as_str().unwrap().to_string(),
                rel,
            )
        })
        .collect();
    got.sort();
    let want: Vec<(String, String, String)> = [
        ("high", "exe.unusual_location", "/tmp/.cache/.updater"),
        ("info", "exe.identified", "/tmp/.cache/.updater"),
        (
            "info",
            "exe.identified",
            "/tmp/.mount_ToolAb12Cd/usr/bin/tool",
        ),
        ("info", "exe.identified", "/tmp/helper.ko"),
        ("info", "exe.identified", "/tmp/proj/build/app"),
        ("info", "exe.identified", "/tmp/rs/target/debug/tool"),
        (
            "info",
            "exe.identified",
            "/tmp/rs/target/x86_64-unknown-linux-gnu/release/tool",
        ),
        (
            "info",
            "exe.identified",
            "/tmp/web/node_modules/fast/build/Release/fast.node",
        ),
        ("info", "exe.unusual_location", "/tmp/proj/build/app"),
        ("info", "exe.unusual_location", "/tmp/rs/target/debug/tool"),
        (
            "info",
            "exe.unusual_location",
            "/tmp/rs/target/x86_64-unknown-linux-gnu/release/tool",
        ),
        (
            "info",
            "exe.unusual_location",
            "/tmp/web/node_modules/fast/build/Release/fast.node",
        ),
        (
            "medium",
            "exe.unusual_location",
            "/tmp/.mount_ToolAb12Cd/usr/bin/tool",
        ),
        ("medium", "exe.unusual_location", "/tmp/helper.ko"),
    ]
    .iter()
    .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
    .collect();
    assert_eq!(got, want, "{findings:#?}");
    let by = |path: &str, kind: &str| -> &Value {
        findings
            .iter()
            .find(|f| f["kind"] == kind && f["path"].as_str().is_some_and(|p| p.ends_with(path)))
            .unwrap_or_else(|| panic!("no {kind} for {path}"))
    };
    let planted = by("/tmp/.cache/.updater", "exe.unusual_location");
    assert_eq!(
        planted["title"],
        "Executable with a hidden name in a temporary directory (.cache)"
    );
    assert_eq!(
        planted["evidence"]["severity_reason"],
        "hidden name .cache: raised from medium"
    );
    let app = by("/tmp/proj/build/app", "exe.unusual_location");
    assert_eq!(
        app["title"],
        "Executable in a build tree in a temporary directory (tmp/proj has Makefile)"
    );
    assert_eq!(
        app["evidence"]["build_tree"],
        serde_json::json!({"folder": "tmp/proj", "marker": "Makefile"})
    );
    assert_eq!(
        by("/tmp/rs/target/debug/tool", "exe.unusual_location")["evidence"]["build_tree"],
        serde_json::json!({"folder": "tmp/rs/target/debug", "marker": "target/debug"})
    );
    assert_eq!(
        by("/release/tool", "exe.unusual_location")["evidence"]["build_tree"],
        serde_json::json!({
            "folder": "tmp/rs/target/x86_64-unknown-linux-gnu/release",
            "marker": "target/x86_64-unknown-linux-gnu/release"
        })
    );
    assert_eq!(
        by("fast.node", "exe.unusual_location")["evidence"]["build_tree"],
        serde_json::json!({"folder": "tmp/web/node_modules", "marker": "node_modules"})
    );
    let ko = by("/tmp/helper.ko", "exe.identified");
    assert_eq!(ko["evidence"]["kernel_module"], true);
    assert_eq!(ko["evidence"]["type"], "relocatable object");
    // The objects and the archive are in the bundle, hashed, with no finding.
    let recs = records(&bundle);
    for name in ["build/a.o", "build/b.o", "build/main.o", "build/libab.a"] {
        let rec = record_for(&recs, name);
        assert_eq!(rec["status"], "collected", "{rec}");
        assert!(
            findings
                .iter()
                .all(|f| !f["path"].as_str().unwrap_or("").ends_with(name)),
            "{name} has a finding"
        );
    }
    // The report's summary counts only the one above info among the executables.
    let rep = run(&["report", bundle.to_str().unwrap(), "--format", "json"]);
    assert_eq!(rep.code, 0, "{}", rep.stderr);
    let v = rep.json();
    assert_eq!(v["findings_by_severity"]["high"], 1, "{v}");
    assert_eq!(v["findings_by_severity"]["medium"], 2, "{v}");
    assert_eq!(v["findings_by_severity"]["info"], 11, "{v}");
    // …and names the severities most severe first in the JSON text itself.
    let at = rep.stdout.find("\"findings_by_severity\"").expect("key");
    let keys: Vec<usize> = ["critical", "high", "medium", "low", "info"]
        .iter()
        .map(|k| {
            at + rep.stdout[at..]
                .find(&format!("\"{k}\""))
                .expect("severity key")
        })
        .collect();
    assert!(keys.windows(2).all(|w| w[0] < w[1]), "{}", rep.stdout);
}

struct Kill(Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn_retrying(cmd: &mut Command) -> Child {
    // A freshly copied executable may still be open for writing in a child forked by
    // another test thread (ETXTBSY): retry briefly.
    for _ in 0..50 {
        match cmd.spawn() {
            Ok(c) => return c,
            Err(e) if e.raw_os_error() == Some(26) => std::thread::sleep(Duration::from_millis(50)),
            Err(e) => panic!("spawn {cmd:?}: {e}"),
        }
    }
    panic!("spawn {cmd:?}: text file busy");
}

/// Waits until `/proc/PID/exe` of `pid` reads as `want` (the exec has happened).
fn wait_for_exe(pid: u32, want: &str) {
    for _ in 0..200 {
        if std::fs::read_link(format!("/proc/{pid}/exe"))
            .is_ok_and(|l| l.to_string_lossy().starts_with(want))
        {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("process {pid} never ran from {want}");
}

#[test]
fn processes_running_from_deleted_and_memfd_executables_are_high_findings_of_collect_replaced_ones_low()
 {
    require_root();
    require_tool("python3", "python3");
    let t = tempfile::tempdir().unwrap();
    // A second sleep interval unique to this run (sleep adds it to the 600 s), so the
    // command lines are this test's own.
    let tag = format!("0.{}", std::process::id());
    // Deleted: a copy of sleep, started, then unlinked.
    let copy = t.path().join("sleep-copy");
    std::fs::copy("/usr/bin/sleep", &copy).unwrap();
    let deleted = Kill(spawn_retrying(
        Command::new(&copy)
            .args(["600", &tag])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    ));
    wait_for_exe(deleted.0.id(), copy.to_str().unwrap());
    std::fs::remove_file(&copy).unwrap();
    // Replaced: started, unlinked, and a new file put at its path (a package upgrade).
    let upgraded = t.path().join("daemon");
    std::fs::copy("/usr/bin/sleep", &upgraded).unwrap();
    let replaced = Kill(spawn_retrying(
        Command::new(&upgraded)
            .args(["600", &tag])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    ));
    wait_for_exe(replaced.0.id(), upgraded.to_str().unwrap());
    std::fs::remove_file(&upgraded).unwrap();
    std::fs::copy("/usr/bin/true", &upgraded).unwrap();
    // memfd: Python copies sleep into a memfd and fexecve()s it (same pid).
    let memfd = Kill(spawn_retrying(
        Command::new("python3")
            .args([
                "-c",
                "import os, sys\n\
                 fd = os.memfd_create('fk-payload')\n\
                 os.write(fd, open('/usr/bin/sleep', 'rb').read())\n\
                 os.execve(fd, ['fk-payload', '600', sys.argv[1]], {})\n",
                &tag,
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    ));
    wait_for_exe(memfd.0.id(), "/memfd:fk-payload");

    // Collect the running system (a two-file profile) onto a tmpfs "stick".
    let out = t.path().join("usb");
    std::fs::create_dir(&out).unwrap();
    let m = sh(&format!(
        "mount -t tmpfs -o size=256m fieldkit-usb {}",
        out.display()
    ));
    assert_eq!(m.code, 0, "mount: {}", m.stderr);
    let profile = t.path().join("tiny.toml");
    std::fs::write(
        &profile,
        "name = \"tiny\"\nformat_version = 1\n[[rule]]\nname = \"id\"\ncategory = \"system\"\npaths = [\"/etc/hostname\"]\n",
    )
    .unwrap();
    let mut cmd = fieldkit();
    cmd.args(["collect", "--json", "--source", "/", "--out"])
        .arg(&out)
        .arg("--profile")
        .arg(&profile);
    let r = run_with_timeout(cmd, Duration::from_secs(120));
    let bundle = std::path::PathBuf::from(
        serde_json::from_str::<Value>(&r.stdout)
            .ok()
            .and_then(|v| v["bundle"].as_str().map(str::to_string))
            .unwrap_or_default(),
    );
    let findings = if r.code == 0 {
        findings_of(&bundle)
    } else {
        Vec::new()
    };
    sh(&format!("umount -l {}", out.display()));
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let of_pid = |pid: u32| -> Vec<&Value> {
        findings
            .iter()
            .filter(|f| f["evidence"]["pid"] == pid)
            .collect()
    };
    let copy_s = copy.to_str().unwrap();
    let d = of_pid(deleted.0.id());
    assert_eq!(d.len(), 1, "{findings:#?}");
    assert_eq!(d[0]["kind"], "process.exe_deleted");
    assert_eq!(d[0]["severity"], "high");
    assert_eq!(d[0]["path"], copy_s);
    assert_eq!(d[0]["member"], "live/processes.json");
    assert_eq!(
        d[0]["title"],
        format!(
            "Process {} runs from an executable deleted after it was started: {copy_s} ({copy_s} 600 {tag})",
            deleted.0.id()
        )
    );
    let sleep_sha = sh("sha256sum /usr/bin/sleep").stdout;
    let sleep_sha = sleep_sha.split_whitespace().next().unwrap();
    assert_eq!(d[0]["sha256"], sleep_sha, "hashed through /proc/PID/exe");
    let u = of_pid(replaced.0.id());
    assert_eq!(u.len(), 1, "{findings:#?}");
    assert_eq!(u[0]["kind"], "process.exe_replaced");
    assert_eq!(u[0]["severity"], "low");
    let upgraded_s = upgraded.to_str().unwrap();
    assert_eq!(
        u[0]["title"],
        format!(
            "Process {} runs an executable replaced on disk since it started (as a package upgrade does): {upgraded_s} ({upgraded_s} 600 {tag})",
            replaced.0.id()
        )
    );
    let m = of_pid(memfd.0.id());
    assert_eq!(m.len(), 1, "{findings:#?}");
    assert_eq!(m[0]["kind"], "process.exe_memfd");
    assert_eq!(m[0]["severity"], "high");
    assert_eq!(m[0]["path"], "/memfd:fk-payload");
    assert_eq!(
        m[0]["title"],
        format!(
            "Process {} runs from a memory-only executable (memfd): it never existed as a file: /memfd:fk-payload (fk-payload 600 {tag})",
            memfd.0.id()
        )
    );
    assert_eq!(m[0]["sha256"], sleep_sha);
    assert_eq!(
        m[0]["evidence"]["reason"],
        "runs from a memory-only executable (memfd): it never existed as a file"
    );
}
