//! `fieldkit batch` on one machine, driven through the real binary: folders and a real
//! ext4 image (mkfs.ext4 -d) become one verified bundle each; a rerun skips what verifies;
//! a changed source is reported, not skipped; a job SIGKILLed mid-run is redone and its
//! `.part` kept aside; a dead batch's lock is found stale; shards cover every job exactly
//! once whatever the job file's order; Slurm/Kubernetes env give the same shards.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Run, fieldkit, require_tool, run_with_timeout};

fn write(p: &Path, data: &[u8]) {
    if let Some(d) = p.parent() {
        std::fs::create_dir_all(d).unwrap();
    }
    std::fs::write(p, data).unwrap();
}

fn batch(args: &[&std::ffi::OsStr], env: &[(&str, &str)]) -> Run {
    let mut cmd = fieldkit();
    cmd.arg("batch").args(args);
    for v in [
        "SLURM_ARRAY_TASK_ID",
        "SLURM_ARRAY_TASK_COUNT",
        "SLURM_ARRAY_TASK_MIN",
        "SLURM_ARRAY_TASK_MAX",
        "JOB_COMPLETION_INDEX",
        "FIELDKIT_SHARD_COUNT",
    ] {
        cmd.env_remove(v);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    run_with_timeout(cmd, Duration::from_secs(120))
}

fn os(s: &str) -> &std::ffi::OsStr {
    std::ffi::OsStr::new(s)
}

fn log_lines(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn verify(bundle: &Path) -> i32 {
    let out = fieldkit().arg("verify").arg(bundle).output().unwrap();
    out.status.code().unwrap_or(-1)
}

fn sha256sum(p: &Path) -> String {
    let out = Command::new("sha256sum").arg(p).output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string()
}

/// File SHA-256s of a bundle's files.jsonl (collected records), by original path.
fn file_hashes(bundle: &Path) -> BTreeMap<String, String> {
    let out = Command::new("unzip")
        .arg("-p")
        .arg(bundle)
        .arg("files.jsonl")
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| {
            Some((
                v["path"].as_str()?.to_string(),
                v["sha256"].as_str()?.to_string(),
            ))
        })
        .collect()
}

fn folders(root: &Path, n: usize) -> String {
    let mut toml =
        String::from("[case]\ncase = \"C-13\"\nexaminer = \"Ann Lab\"\nno_triage = true\n\n");
    for i in 0..n {
        let src = root.join(format!("src{i}"));
        write(&src.join("docs/a.txt"), format!("exhibit {i}\n").as_bytes());
        write(
            &src.join("shared.bin"),
            b"the same bytes in every exhibit\n",
        );
        toml.push_str(&format!(
            "[[job]]\nexhibit = \"EX-{i:02}\"\nsource = \"src{i}\"\n\n"
        ));
    }
    toml
}

#[test]
fn batch_of_folders_image_and_bundles_one_verified_bundle_each() {
    require_tool("mkfs.ext4", "e2fsprogs");
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    let mut toml = folders(root, 2);
    // A real ext4 image, read without mounting.
    write(&root.join("imgtree/etc/hostname"), b"suspect-pc\n");
    write(&root.join("imgtree/home/u/notes.txt"), b"meet at 10\n");
    let mk = Command::new("mkfs.ext4")
        .args(["-q", "-F", "-E", "lazy_itable_init=0", "-d"])
        .arg(root.join("imgtree"))
        .arg(root.join("disk.img"))
        .arg("8M")
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(mk.success());
    toml.push_str("[[job]]\nexhibit = \"IMG-1\"\nsource = \"disk.img\"\nexaminer = \"Bob\"\nprofile = \"all-files\"\n\n");
    // An existing bundle to re-verify, and a tampered copy of it.
    let (r, made) = common::collect(
        &root.join("src0"),
        &root.join("prior"),
        &["--quiet", "--no-triage"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let tampered = root.join("tampered/t.zip");
    write(&tampered, &std::fs::read(&made).unwrap());
    let mut bytes = std::fs::read(&tampered).unwrap();
    let at = bytes.windows(10).position(|w| w == b"exhibit 0\n").unwrap();
    bytes[at] = b'E';
    std::fs::write(&tampered, bytes).unwrap();
    toml.push_str(&format!(
        "[[job]]\nexhibit = \"OLD-1\"\nsource = \"{}\"\n\n[[job]]\nexhibit = \"OLD-2\"\nsource = \"tampered/t.zip\"\nkind = \"bundle\"\n",
        made.display()
    ));
    write(&root.join("jobs.toml"), toml.as_bytes());
    let out = root.join("out");
    let r = batch(
        &[
            root.join("jobs.toml").as_os_str(),
            os("--out"),
            out.as_os_str(),
        ],
        &[],
    );
    // The tampered bundle fails its job (exit 1); every other job still ran.
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("jobs done") || r.stderr.contains("[5/5]"),
        "{}",
        r.stderr
    );
    let lines = log_lines(&out.join("batch.jsonl"));
    assert_eq!(lines.len(), 5);
    let by: BTreeMap<String, &serde_json::Value> = lines
        .iter()
        .map(|l| (l["exhibit"].as_str().unwrap().to_string(), l))
        .collect();
    for ex in ["EX-00", "EX-01", "IMG-1"] {
        let l = by[ex];
        assert_eq!(l["status"], "done", "{l}");
        let bundle = PathBuf::from(l["bundle"].as_str().unwrap());
        assert_eq!(bundle.parent().unwrap(), out.join(ex));
        assert_eq!(verify(&bundle), 0, "{}", bundle.display());
        assert_eq!(l["sha256"].as_str().unwrap(), sha256sum(&bundle));
        assert!(l["counts"]["collected"].as_u64().unwrap() >= 2, "{l}");
        assert!(l["findings"]["total"].is_u64(), "{l}");
        assert!(l["elapsed_seconds"].is_f64(), "{l}");
    }
    let img = PathBuf::from(by["IMG-1"]["bundle"].as_str().unwrap());
    let h = file_hashes(&img);
    assert!(
        h.iter().any(|(p, s)| p.ends_with("home/u/notes.txt")
            && *s == sha256sum(&root.join("imgtree/home/u/notes.txt"))),
        "{h:?}"
    );
    let manifest = Command::new("unzip")
        .arg("-p")
        .arg(&img)
        .arg("manifest.json")
        .output()
        .unwrap();
    let m: serde_json::Value = serde_json::from_slice(&manifest.stdout).unwrap();
    assert_eq!(m["case"]["case_number"], "C-13");
    assert_eq!(m["case"]["exhibit"], "IMG-1");
    assert_eq!(m["case"]["examiner"], "Bob");
    assert_eq!(by["OLD-1"]["status"], "verified");
    assert_eq!(by["OLD-1"]["sha256"].as_str().unwrap(), sha256sum(&made));
    assert_eq!(by["OLD-2"]["status"], "invalid");
    assert_eq!(by["OLD-2"]["exit_code"], 1);
    assert!(
        r.stdout.contains("OLD-2") && r.stdout.contains("invalid"),
        "{}",
        r.stdout
    );

    // A bad job file: one line naming the file and the line, exit 2, nothing run.
    write(
        &root.join("bad.toml"),
        b"[[job]]\nexhibit = \"X\"\nsource = \"src0\"\nprofil = \"all-files\"\n",
    );
    let r = batch(
        &[
            root.join("bad.toml").as_os_str(),
            os("--out"),
            root.join("o2").as_os_str(),
        ],
        &[],
    );
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("bad.toml:4:") && r.stderr.contains("profil"),
        "{}",
        r.stderr
    );
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    assert!(!root.join("o2").exists());
}

#[test]
fn rerun_skips_verified_jobs_and_reports_a_changed_source() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    write(&root.join("jobs.toml"), folders(root, 3).as_bytes());
    let out = root.join("out");
    let args = [
        root.join("jobs.toml").into_os_string(),
        "--out".into(),
        out.clone().into_os_string(),
    ];
    let a: Vec<&std::ffi::OsStr> = args.iter().map(|s| s.as_os_str()).collect();
    let r = batch(&a, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let first = log_lines(&out.join("batch.jsonl"));
    let r = batch(&a, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let second = &log_lines(&out.join("batch.jsonl"))[3..];
    assert!(
        second.iter().all(|l| l["status"] == "skipped"),
        "{second:?}"
    );
    for l in second {
        let f = first.iter().find(|f| f["exhibit"] == l["exhibit"]).unwrap();
        assert_eq!(f["bundle"], l["bundle"]);
        assert_eq!(f["sha256"], l["sha256"]);
    }
    // Change one file of EX-01 (same size, new content and mtime).
    write(&root.join("src1/docs/a.txt"), b"exhibit X\n");
    let r = batch(&a, &[]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let third = &log_lines(&out.join("batch.jsonl"))[6..];
    let changed: Vec<_> = third
        .iter()
        .filter(|l| l["status"] == "source_changed")
        .collect();
    assert_eq!(changed.len(), 1, "{third:?}");
    assert_eq!(changed[0]["exhibit"], "EX-01");
    assert!(
        changed[0]["error"]
            .as_str()
            .unwrap()
            .contains("the source changed")
    );
    // The old bundle is kept and still verifies.
    let b = PathBuf::from(changed[0]["bundle"].as_str().unwrap());
    assert_eq!(verify(&b), 0);
    // --recollect-changed makes a new bundle and moves the old one aside (not deleted).
    let mut a2 = a.clone();
    a2.push(os("--recollect-changed"));
    let r = batch(&a2, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let fourth = log_lines(&out.join("batch.jsonl"));
    let redo = fourth[9..]
        .iter()
        .find(|l| l["exhibit"] == "EX-01")
        .unwrap();
    assert_eq!(redo["status"], "done");
    assert_ne!(redo["bundle"], changed[0]["bundle"]);
    let aside: Vec<String> = redo["moved_aside"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    let old_name = b.file_name().unwrap().to_string_lossy().to_string();
    let kept = aside
        .iter()
        .find(|p| p.ends_with(&old_name))
        .expect("old bundle moved aside");
    assert_eq!(
        sha256sum(Path::new(kept)),
        changed[0]["sha256"].as_str().unwrap()
    );
}

/// PIDs of the children of `pid` (all threads).
fn children(pid: u32) -> Vec<u32> {
    let mut v = Vec::new();
    if let Ok(rd) = std::fs::read_dir(format!("/proc/{pid}/task")) {
        for t in rd.flatten() {
            if let Ok(s) = std::fs::read_to_string(t.path().join("children")) {
                v.extend(s.split_whitespace().filter_map(|x| x.parse::<u32>().ok()));
            }
        }
    }
    v
}

fn signal(pid: u32, sig: &str) {
    assert!(
        Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(pid.to_string())
            .status()
            .unwrap()
            .success()
    );
}

#[test]
fn sigkilled_job_is_redone_its_part_kept_aside_and_the_dead_batch_lock_found_stale() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    // Big enough that the collection runs for a while (≈1 s here).
    let big = root.join("big");
    std::fs::create_dir_all(&big).unwrap();
    let mut f = std::fs::File::create(big.join("blob.bin")).unwrap();
    let chunk: Vec<u8> = (0..(1 << 20))
        .map(|i: u32| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    for i in 0..192u32 {
        let mut c = chunk.clone();
        c[..4].copy_from_slice(&i.to_le_bytes());
        std::io::Write::write_all(&mut f, &c).unwrap();
    }
    drop(f);
    write(
        &root.join("jobs.toml"),
        b"[[job]]\nexhibit = \"BIG\"\nsource = \"big\"\nno_triage = true\n",
    );
    let out = root.join("out");
    let mut cmd = fieldkit();
    cmd.arg("batch")
        .arg(root.join("jobs.toml"))
        .arg("--out")
        .arg(&out)
        .arg("-q")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut batch_proc = cmd.spawn().unwrap();
    let dir = out.join("BIG");
    let start = Instant::now();
    let part = loop {
        let found = std::fs::read_dir(&dir).ok().and_then(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .find(|p| p.to_string_lossy().ends_with(".zip.part"))
        });
        if let Some(p) = found
            && std::fs::metadata(&p).map(|m| m.len() > 0).unwrap_or(false)
        {
            break p;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no .part appeared"
        );
        std::thread::sleep(Duration::from_millis(5));
    };
    // Freeze the batch, SIGKILL its collect child, then SIGKILL the batch: the job dies
    // mid-write (its .part stays) and the batch dies holding the job lock.
    let bpid = batch_proc.id();
    signal(bpid, "STOP");
    let kids = children(bpid);
    assert_eq!(kids.len(), 1, "one collect child: {kids:?}");
    signal(kids[0], "KILL");
    signal(bpid, "KILL");
    let _ = batch_proc.wait();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Path::new(&format!("/proc/{}", kids[0])).exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(
        dir.join("job.lock").exists(),
        "the dead batch's lock is left"
    );
    assert!(part.exists());
    let part_sha = sha256sum(&part);
    let part_name = part.file_name().unwrap().to_string_lossy().to_string();

    let r = batch(
        &[
            root.join("jobs.toml").as_os_str(),
            os("--out"),
            out.as_os_str(),
        ],
        &[],
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("STALE LOCK"), "{}", r.stderr);
    let lines = log_lines(&out.join("batch.jsonl"));
    let l = lines.last().unwrap();
    assert_eq!(l["status"], "done", "{l}");
    assert!(
        l["stale_lock"]["reason"]
            .as_str()
            .unwrap()
            .contains(&format!("pid {bpid} on this host is gone")),
        "{l}"
    );
    let aside: Vec<PathBuf> = l["moved_aside"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| PathBuf::from(v.as_str().unwrap()))
        .collect();
    let kept = aside
        .iter()
        .find(|p| p.file_name().unwrap().to_string_lossy() == part_name)
        .expect("part named in the log");
    assert_eq!(
        sha256sum(kept),
        part_sha,
        "the .part was moved, not changed"
    );
    assert!(
        kept.parent()
            .unwrap()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("aside-")
    );
    assert!(aside.iter().any(|p| {
        p.file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("job.lock.stale-")
    }));
    assert_eq!(verify(Path::new(l["bundle"].as_str().unwrap())), 0);
    assert!(!dir.join("job.lock").exists());
}

#[test]
fn foreign_locks_fresh_are_respected_and_expired_are_stale() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    write(&root.join("jobs.toml"), folders(root, 2).as_bytes());
    let out = root.join("out");
    let lock = |ex: &str| {
        let p = out.join(ex).join("job.lock");
        write(&p, b"{\"host\":\"node-that-died\",\"pid\":4242,\"boot_id\":\"x\",\"started\":\"2026-12-01T00:00:00Z\",\"shard\":\"1/4\"}\n");
        p
    };
    lock("EX-00");
    let old = lock("EX-01");
    let ten_min_ago = std::time::SystemTime::now() - Duration::from_secs(600);
    std::fs::File::options()
        .append(true)
        .open(&old)
        .unwrap()
        .set_modified(ten_min_ago)
        .unwrap();
    let r = batch(
        &[
            root.join("jobs.toml").as_os_str(),
            os("--out"),
            out.as_os_str(),
            os("--lease"),
            os("120"),
        ],
        &[],
    );
    // EX-00 held by a live-looking foreign lock: left alone, exit 3; EX-01's lease expired.
    assert_eq!(r.code, 3, "{}\n{}", r.stdout, r.stderr);
    let lines = log_lines(&out.join("batch.jsonl"));
    let get = |ex: &str| lines.iter().find(|l| l["exhibit"] == ex).unwrap().clone();
    assert_eq!(get("EX-00")["status"], "locked");
    assert_eq!(get("EX-00")["held_by"]["host"], "node-that-died");
    assert_eq!(get("EX-01")["status"], "done");
    assert!(
        get("EX-01")["stale_lock"]["reason"]
            .as_str()
            .unwrap()
            .contains("lease 120s")
    );
    let s = fieldkit()
        .args(["batch", "status"])
        .arg(&out)
        .args(["--lease", "120"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&s.stdout);
    assert_eq!(s.status.code(), Some(1), "{text}");
    assert!(
        text.contains("running   EX-00: node-that-died pid 4242"),
        "{text}"
    );
}

fn exhibits_of(log: &Path) -> BTreeSet<String> {
    log_lines(log)
        .iter()
        .map(|l| l["exhibit"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn shards_cover_every_job_exactly_once_stable_under_reordering_and_from_env() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    let toml = folders(root, 10);
    write(&root.join("jobs.toml"), toml.as_bytes());
    // The same jobs, in reverse order.
    let (head, rest) = toml.split_at(toml.find("[[job]]").unwrap());
    let mut jobs: Vec<&str> = rest
        .split("[[job]]")
        .filter(|s| !s.trim().is_empty())
        .collect();
    jobs.reverse();
    let reversed = format!(
        "{head}{}",
        jobs.iter()
            .map(|j| format!("[[job]]{j}"))
            .collect::<String>()
    );
    write(&root.join("reversed.toml"), reversed.as_bytes());
    let out = root.join("out");
    let mut union = Vec::new();
    for k in 0..3 {
        let shard = format!("{k}/3");
        let r = batch(
            &[
                root.join("jobs.toml").as_os_str(),
                os("--out"),
                out.as_os_str(),
                os("--shard"),
                os(&shard),
                os("-q"),
            ],
            &[],
        );
        assert_eq!(r.code, 0, "{}", r.stderr);
        union.extend(exhibits_of(&out.join(format!("batch.{k}of3.jsonl"))));
    }
    let all: BTreeSet<String> = (0..10).map(|i| format!("EX-{i:02}")).collect();
    assert_eq!(union.len(), 10, "{union:?}");
    assert_eq!(union.iter().cloned().collect::<BTreeSet<_>>(), all);
    // Reordered file, Slurm env (ids 1..3, MIN 1 / MAX 3) and Kubernetes env: same shards.
    let out2 = root.join("out2");
    for k in 0..3u32 {
        let id = (k + 1).to_string();
        let env: Vec<(&str, &str)> = if k == 2 {
            vec![("JOB_COMPLETION_INDEX", "2"), ("FIELDKIT_SHARD_COUNT", "3")]
        } else {
            vec![
                ("SLURM_ARRAY_TASK_ID", &id),
                ("SLURM_ARRAY_TASK_MIN", "1"),
                ("SLURM_ARRAY_TASK_MAX", "3"),
            ]
        };
        let r = batch(
            &[
                root.join("reversed.toml").as_os_str(),
                os("--out"),
                out2.as_os_str(),
            ],
            &env,
        );
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert_eq!(
            exhibits_of(&out2.join(format!("batch.{k}of3.jsonl"))),
            exhibits_of(&out.join(format!("batch.{k}of3.jsonl"))),
            "shard {k}"
        );
    }
    let s = fieldkit()
        .args(["batch", "status", "--json"])
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(s.status.code(), Some(0));
    let m: serde_json::Value = serde_json::from_slice(&s.stdout).unwrap();
    assert_eq!(m["total_jobs"], 10);
    assert_eq!(m["jobs"].as_array().unwrap().len(), 10);
    assert_eq!(m["logs"].as_array().unwrap().len(), 3);
    assert_eq!(m["all_succeeded"], true);
    // A bad env is a one-line error, exit 2.
    let r = batch(
        &[
            root.join("jobs.toml").as_os_str(),
            os("--out"),
            out.as_os_str(),
        ],
        &[("JOB_COMPLETION_INDEX", "0")],
    );
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("FIELDKIT_SHARD_COUNT"), "{}", r.stderr);
}

#[test]
fn an_empty_source_is_its_own_status_not_a_success_and_a_rerun_collects_it_once_filled() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    std::fs::create_dir_all(root.join("mnt")).unwrap();
    write(
        &root.join("jobs.toml"),
        b"[case]\ncase = \"2026-0815\"\nprofile = \"all-files\"\n[[job]]\nexhibit = \"EX-E\"\nsource = \"mnt\"\n",
    );
    let out = root.join("out");
    let args = [
        root.join("jobs.toml").into_os_string(),
        "--out".into(),
        out.clone().into_os_string(),
    ];
    let a: Vec<&std::ffi::OsStr> = args.iter().map(|s| s.as_os_str()).collect();
    let r = batch(&a, &[]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let first = log_lines(&out.join("batch.jsonl"));
    assert_eq!(first.len(), 1, "{first:?}");
    assert_eq!(first[0]["status"], "empty_source");
    assert_eq!(first[0]["exit_code"], 6);
    assert_eq!(
        first[0]["error"],
        "nothing to collect: empty folder (an unmounted mount point or a wrong path?); the sealed bundle is kept as the record"
    );
    let empty_bundle = PathBuf::from(first[0]["bundle"].as_str().unwrap());
    assert_eq!(verify(&empty_bundle), 0, "the record of what was looked at");
    assert!(r.stdout.contains("empty_source"), "{}", r.stdout);
    // The "mount" appears: the rerun collects it; the empty bundle is moved aside, kept.
    write(&root.join("mnt/report.txt"), b"found\n");
    let r = batch(&a, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let second = &log_lines(&out.join("batch.jsonl"))[1..];
    assert_eq!(second[0]["status"], "done", "{second:?}");
    assert_eq!(second[0]["counts"]["collected"], 1);
    let old_name = empty_bundle
        .file_name()
        .unwrap()
        .to_string_lossy()
        .to_string();
    let aside = second[0]["moved_aside"].as_array().unwrap();
    assert!(
        aside
            .iter()
            .any(|p| p.as_str().unwrap().ends_with(&old_name)),
        "{aside:?}"
    );
}
