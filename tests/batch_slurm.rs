//! `fieldkit batch` under a real Slurm single-node cluster (Debian's slurm-wlm + munge,
//! the configuration of docs/lab.md: SlurmUser=root, proctrack/linuxproc, task/none,
//! jobacct_gather/none, select/cons_tres CR_Core, every path in a temp dir, its own munge
//! key and socket). The test starts munged, slurmctld and slurmd, submits a 4-task job
//! array over 10 jobs (folders and ext4 images), waits, and proves: every job ran exactly
//! once, the merged `batch status` equals a single-machine batch of the same job file
//! (same exhibits, same file SHA-256s), and each bundle verifies. The daemons are stopped
//! by the PIDs in their pid files, also when the test fails (Drop guard).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{bash, fieldkit, require_root, require_tool, run_with_timeout};

/// Stops the daemons this test started, by PID, whatever happens.
struct Daemons {
    pid_files: Vec<PathBuf>,
}

impl Drop for Daemons {
    fn drop(&mut self) {
        let pids: Vec<i32> = self
            .pid_files
            .iter()
            .filter_map(|p| std::fs::read_to_string(p).ok())
            .filter_map(|s| s.trim().parse().ok())
            .collect();
        for p in &pids {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(p.to_string())
                .status();
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while pids
            .iter()
            .any(|p| Path::new(&format!("/proc/{p}")).exists())
            && Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(50));
        }
        for p in &pids {
            if Path::new(&format!("/proc/{p}")).exists() {
                let _ = Command::new("kill")
                    .arg("-KILL")
                    .arg(p.to_string())
                    .status();
            }
        }
    }
}

fn wait_for(what: &str, limit: Duration, mut ok: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ok() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn file_hashes(bundle: &Path) -> BTreeMap<String, String> {
    let out = Command::new("unzip")
        .arg("-p")
        .arg(bundle)
        .arg("files.jsonl")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", bundle.display());
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

/// exhibit → file SHA-256s of its bundle, from a merged status (all must be done).
fn outcome(status: &serde_json::Value) -> BTreeMap<String, BTreeMap<String, String>> {
    status["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| {
            assert_eq!(j["status"], "done", "{j}");
            let b = PathBuf::from(j["bundle"].as_str().unwrap());
            let v = fieldkit().arg("verify").arg(&b).output().unwrap();
            assert_eq!(v.status.code(), Some(0), "{}", b.display());
            (j["exhibit"].as_str().unwrap().to_string(), file_hashes(&b))
        })
        .collect()
}

fn status(out: &Path) -> serde_json::Value {
    let s = fieldkit()
        .args(["batch", "status", "--json"])
        .arg(out)
        .output()
        .unwrap();
    assert_eq!(
        s.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&s.stdout)
    );
    serde_json::from_slice(&s.stdout).unwrap()
}

#[test]
fn slurm_array_of_four_tasks_runs_ten_jobs_once_equal_to_one_machine() {
    require_root();
    for (t, p) in [
        ("munged", "munge"),
        ("slurmctld", "slurm-wlm"),
        ("slurmd", "slurm-wlm"),
        ("sbatch", "slurm-wlm"),
        ("mkfs.ext4", "e2fsprogs"),
        ("unzip", "unzip"),
    ] {
        require_tool(t, p);
    }
    // Under /tmp, not $TMPDIR: the munge socket path must stay short (108 bytes) and every
    // parent must be searchable by the munge user.
    let t = tempfile::Builder::new()
        .prefix("fk-slurm")
        .tempdir_in("/tmp")
        .unwrap();
    let d = t.path();
    // The job file: 8 folders and 2 images.
    let mut toml =
        String::from("[case]\ncase = \"C-SLURM\"\nno_triage = true\nprofile = \"all-files\"\n\n");
    for i in 0..10 {
        let tree = d.join(format!("ev/t{i}"));
        std::fs::create_dir_all(tree.join("sub")).unwrap();
        std::fs::write(tree.join("sub/item.txt"), format!("item of exhibit {i}\n")).unwrap();
        std::fs::write(tree.join("common.txt"), b"common to all\n").unwrap();
        if i < 2 {
            let img = d.join(format!("ev/disk{i}.img"));
            let r = bash(&format!(
                "mkfs.ext4 -q -F -E lazy_itable_init=0 -d {} {} 8M >/dev/null",
                tree.display(),
                img.display()
            ));
            assert_eq!(r.code, 0, "{}", r.stderr);
            toml.push_str(&format!(
                "[[job]]\nexhibit = \"IMG-{i}\"\nsource = \"ev/disk{i}.img\"\n\n"
            ));
        } else {
            toml.push_str(&format!(
                "[[job]]\nexhibit = \"DIR-{i}\"\nsource = \"ev/t{i}\"\n\n"
            ));
        }
    }
    std::fs::write(d.join("jobs.toml"), toml).unwrap();

    // Ports from our pid, so that two test runs on one machine do not collide.
    let port = 20000 + (std::process::id() % 10000) * 2;
    let script = format!(
        r#"set -e
D={d}
chmod 755 $D
mkdir -p $D/munge $D/state $D/spool $D/log
chown munge:munge $D/munge; chmod 711 $D/munge
dd if=/dev/urandom of=$D/munge/munge.key bs=1024 count=1 status=none
chown munge:munge $D/munge/munge.key; chmod 400 $D/munge/munge.key
setpriv --reuid munge --regid munge --clear-groups munged --key-file=$D/munge/munge.key \
  --socket=$D/munge/munge.socket --pid-file=$D/munge/munged.pid \
  --log-file=$D/munge/munged.log --seed-file=$D/munge/munged.seed
H=$(hostname -s); C=$(nproc); M=$(( $(awk '/MemTotal/{{print $2}}' /proc/meminfo) / 1024 / 2 ))
cat > $D/slurm.conf <<CONF
ClusterName=fktest
SlurmctldHost=$H
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$D/munge/munge.socket
CredType=cred/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
StateSaveLocation=$D/state
SlurmdSpoolDir=$D/spool
SlurmctldPidFile=$D/slurmctld.pid
SlurmdPidFile=$D/slurmd.pid
SlurmctldLogFile=$D/log/slurmctld.log
SlurmdLogFile=$D/log/slurmd.log
SlurmctldPort={p1}
SlurmdPort={p2}
MpiDefault=none
ReturnToService=2
NodeName=$H CPUs=$C RealMemory=$M State=UNKNOWN
PartitionName=debug Nodes=$H Default=YES MaxTime=INFINITE State=UP
CONF
"#,
        d = d.display(),
        p1 = port,
        p2 = port + 1
    );
    let _guard = Daemons {
        pid_files: vec![
            d.join("slurmd.pid"),
            d.join("slurmctld.pid"),
            d.join("munge/munged.pid"),
        ],
    };
    let r = bash(&script);
    assert_eq!(r.code, 0, "munge/slurm setup: {}", r.stderr);
    let conf = d.join("slurm.conf");
    for daemon in ["slurmctld", "slurmd"] {
        let r = bash(&format!("{daemon} -f {}", conf.display()));
        assert_eq!(r.code, 0, "{daemon}: {}", r.stderr);
    }
    wait_for("the node to be idle", Duration::from_secs(30), || {
        let o = Command::new("sinfo")
            .args(["-h", "-o", "%t"])
            .env("SLURM_CONF", &conf)
            .output();
        o.map(|o| String::from_utf8_lossy(&o.stdout).trim() == "idle")
            .unwrap_or(false)
    });

    let out = d.join("out");
    let job = d.join("task.sh");
    std::fs::write(
        &job,
        format!(
            "#!/bin/sh\nexec {} batch {} --out {} -q --threads 1\n",
            common::bin(),
            d.join("jobs.toml").display(),
            out.display()
        ),
    )
    .unwrap();
    let mut cmd = Command::new("sbatch");
    cmd.env("SLURM_CONF", &conf)
        .args(["--wait", "--array=0-3", "--cpus-per-task=1", "-o"])
        .arg(d.join("task-%a.log"))
        .arg(&job);
    let r = run_with_timeout(cmd, Duration::from_secs(180));
    let logs: String = (0..4)
        .map(|k| std::fs::read_to_string(d.join(format!("task-{k}.log"))).unwrap_or_default())
        .collect();
    assert_eq!(
        r.code, 0,
        "sbatch: {}{}\ntask logs: {logs}",
        r.stdout, r.stderr
    );

    // Every task wrote its own log; every job is in exactly one of them, once.
    let mut seen: Vec<String> = Vec::new();
    for k in 0..4 {
        let log = out.join(format!("batch.{k}of4.jsonl"));
        let text = std::fs::read_to_string(&log)
            .unwrap_or_else(|e| panic!("{}: {e}\n{logs}", log.display()));
        for l in text.lines() {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            assert_eq!(v["shard"], format!("{k}/4"));
            seen.push(v["exhibit"].as_str().unwrap().to_string());
        }
    }
    seen.sort();
    let unique: BTreeSet<&String> = seen.iter().collect();
    assert_eq!(seen.len(), 10, "{seen:?}");
    assert_eq!(unique.len(), 10, "{seen:?}");
    let merged = status(&out);
    assert_eq!(merged["total_jobs"], 10);
    assert_eq!(merged["logs"].as_array().unwrap().len(), 4);
    let on_slurm = outcome(&merged);

    // The same job file on one machine.
    let single = d.join("single");
    let mut cmd = fieldkit();
    cmd.arg("batch")
        .arg(d.join("jobs.toml"))
        .arg("--out")
        .arg(&single)
        .arg("-q");
    for v in [
        "SLURM_ARRAY_TASK_ID",
        "SLURM_ARRAY_TASK_COUNT",
        "JOB_COMPLETION_INDEX",
    ] {
        cmd.env_remove(v);
    }
    let r = run_with_timeout(cmd, Duration::from_secs(120));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let alone = outcome(&status(&single));
    assert_eq!(
        on_slurm.keys().collect::<Vec<_>>(),
        alone.keys().collect::<Vec<_>>()
    );
    assert_eq!(on_slurm, alone, "same exhibits, same file SHA-256s");
    assert!(on_slurm.values().all(|h| h.len() >= 2), "{on_slurm:?}");
}
