//! Helpers shared by tests/live.rs and tests/live_encryption.rs: run the binary with a
//! deadline and timestamped stderr, a tmpfs standing in for the USB stick, the capture
//! and its JSON, the independent tools (a missing one fails with the package to install),
//! a LUKS container on a loop device, the synthetic sysfs/procfs/dev tree and processes.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub const BANNER: &str = "ENCRYPTED VOLUME IS OPEN — DO NOT POWER OFF — image it live";

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    /// Each stderr line with the time the test read it.
    pub stderr_lines: Vec<(jiff::Timestamp, String)>,
}

/// Run fieldkit with a deadline: a hang is a failure, not a stuck CI job. Both pipes are
/// drained while it runs; each stderr line is timestamped as it arrives.
pub fn fieldkit(args: &[&str]) -> Run {
    use std::io::{BufRead, Read};
    let mut child = Command::new(env!("CARGO_BIN_EXE_fieldkit"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn fieldkit");
    let mut stdout_pipe = child.stdout.take().unwrap();
    let stderr_pipe = child.stderr.take().unwrap();
    let stdout = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout_pipe.read_to_string(&mut text);
        text
    });
    let stderr = std::thread::spawn(move || {
        let mut lines = Vec::new();
        for line in std::io::BufReader::new(stderr_pipe).lines() {
            match line {
                Ok(l) => lines.push((jiff::Timestamp::now(), l)),
                Err(_) => break,
            }
        }
        lines
    });
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if start.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            panic!("fieldkit {args:?} hung");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stderr_lines = stderr.join().unwrap();
    Run {
        code: status.code().unwrap_or(-1),
        stdout: stdout.join().unwrap(),
        stderr: stderr_lines.iter().map(|(_, l)| format!("{l}\n")).collect(),
        stderr_lines,
    }
}

pub fn tool(name: &str, package: &str, args: &[&str]) -> Output {
    Command::new(name)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{name} is needed (apt-get install -y {package}): {e}"))
}

pub fn tool_ok(name: &str, package: &str, args: &[&str]) -> String {
    let out = tool(name, package, args);
    assert!(
        out.status.success(),
        "{name} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Say something on the real stderr, past the test harness's capture.
pub fn announce(text: &str) {
    let _ = std::io::stderr().write_all(format!("\n{text}\n").as_bytes());
}

/// A tmpfs standing in for the collection USB stick: `fieldkit live --out` refuses the
/// examined system's own filesystem, so every output goes to a filesystem of its own.
/// Unmounted (and its mount point removed) on drop.
pub struct Usb {
    pub dir: tempfile::TempDir,
}

impl Usb {
    pub fn new() -> Usb {
        // SAFETY: geteuid has no preconditions.
        assert_eq!(
            unsafe { geteuid() },
            0,
            "this test needs root (CI runs as root): it mounts a tmpfs for the output"
        );
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=1g,mode=0777", "fieldkit-usb"])
            .arg(dir.path())
            .output()
            .expect("mount is needed (apt-get install -y mount)");
        assert!(
            out.status.success(),
            "mount tmpfs: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Usb { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Usb {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

unsafe extern "C" {
    pub fn geteuid() -> u32;
}

/// `fieldkit live --out DIR` and the parsed members.
pub struct Captured {
    pub run: Run,
    pub dir: PathBuf,
    pub _usb: Option<Usb>,
}

impl Captured {
    pub fn member(&self, name: &str) -> Value {
        let path = self.dir.join("live").join(format!("{name}.json"));
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let v: Value = serde_json::from_slice(&bytes).expect("member is JSON");
        assert_eq!(v["schema"], format!("fieldkit.live.{name}"));
        assert_eq!(v["schema_version"], 1);
        assert_eq!(v["outcome"], "ok", "{name}: {v}");
        v
    }

    pub fn data(&self, name: &str) -> Value {
        self.member(name)["data"].clone()
    }

    pub fn actions(&self) -> Vec<Value> {
        std::fs::read_to_string(self.dir.join("actions.jsonl"))
            .expect("actions.jsonl")
            .lines()
            .map(|l| serde_json::from_str(l).expect("action is JSON"))
            .collect()
    }

    pub fn findings(&self) -> Vec<Value> {
        std::fs::read_to_string(self.dir.join("findings.jsonl"))
            .expect("findings.jsonl")
            .lines()
            .map(|l| serde_json::from_str(l).expect("finding is JSON"))
            .collect()
    }
}

/// `fieldkit live --out USB/out EXTRA…`, the output on a fresh tmpfs.
pub fn capture(extra: &[&str]) -> Captured {
    let usb = Usb::new();
    let dir = usb.path().join("out");
    let dir_s = dir.to_str().unwrap().to_string();
    let mut args = vec!["live", "--out", dir_s.as_str()];
    args.extend_from_slice(extra);
    let run = fieldkit(&args);
    assert!(
        run.code == 0 || run.code == 4,
        "fieldkit live failed ({}):\n{}\n{}",
        run.code,
        run.stdout,
        run.stderr
    );
    Captured {
        run,
        dir,
        _usb: Some(usb),
    }
}

pub struct Kill(pub Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn spawn_retrying(cmd: &mut Command) -> Child {
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

pub fn sha256sum(path: &Path) -> String {
    tool_ok("sha256sum", "coreutils", &[path.to_str().unwrap()])
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

pub fn unique() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("0.{}{:09}", std::process::id(), nanos)
}

pub fn process_by_argv<'a>(procs: &'a Value, argv: &[&str]) -> &'a Value {
    procs["processes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| {
            p["argv"].as_array().is_some_and(|a| {
                a.iter()
                    .map(|x| x.as_str().unwrap_or(""))
                    .eq(argv.iter().copied())
            })
        })
        .unwrap_or_else(|| panic!("no process with argv {argv:?}"))
}

/// `ps -eo pid,ppid,comm,args` as pid → (ppid, comm, args).
pub fn ps() -> BTreeMap<u32, (u32, String, String)> {
    let text = tool_ok("ps", "procps", &["-eo", "pid=,ppid=,comm=,args="]);
    text.lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let pid = f.next()?.parse().ok()?;
            let ppid = f.next()?.parse().ok()?;
            let comm = f.next()?.to_string();
            let args = f.collect::<Vec<_>>().join(" ");
            Some((pid, (ppid, comm, args)))
        })
        .collect()
}

pub struct Loop(pub String);
impl Drop for Loop {
    fn drop(&mut self) {
        let _ = Command::new("losetup").args(["-d", &self.0]).status();
    }
}

pub fn luks_container(dir: &Path, kind: &str) -> (PathBuf, String) {
    let key = dir.join("key");
    std::fs::write(&key, b"correct horse battery staple").unwrap();
    let img = dir.join(format!("{kind}.img"));
    let f = std::fs::File::create(&img).unwrap();
    f.set_len(32 << 20).unwrap();
    drop(f);
    tool_ok(
        "cryptsetup",
        "cryptsetup-bin",
        &[
            "luksFormat",
            "--batch-mode",
            "--type",
            kind,
            "--pbkdf",
            "pbkdf2",
            "--pbkdf-force-iterations",
            "1000",
            "--key-file",
            key.to_str().unwrap(),
            img.to_str().unwrap(),
        ],
    );
    let uuid = tool_ok(
        "cryptsetup",
        "cryptsetup-bin",
        &["luksUUID", img.to_str().unwrap()],
    )
    .trim()
    .to_string();
    (img, uuid)
}

/// A synthetic kernel view: sysfs with dm-0 on loop5, procfs with a mount table, /dev with
/// a real LUKS2 header in "loop5".
pub fn synthetic_tree(t: &Path, dm_uuid: &str, extra_mount: &str) -> [String; 8] {
    let sys = t.join("sys");
    let dev_virtual = sys.join("devices/virtual/block");
    for (name, dev, size) in [("dm-0", "253:0", "61440"), ("loop5", "7:5", "65536")] {
        let d = dev_virtual.join(name);
        std::fs::create_dir_all(d.join("holders")).unwrap();
        std::fs::create_dir_all(d.join("slaves")).unwrap();
        std::fs::write(d.join("dev"), format!("{dev}\n")).unwrap();
        std::fs::write(d.join("size"), format!("{size}\n")).unwrap();
        std::fs::write(d.join("ro"), "0\n").unwrap();
        for link in [
            sys.join("block").join(name),
            sys.join("class/block").join(name),
        ] {
            std::fs::create_dir_all(link.parent().unwrap()).unwrap();
            std::os::unix::fs::symlink(&d, &link).unwrap();
        }
    }
    let dm = dev_virtual.join("dm-0");
    std::fs::create_dir_all(dm.join("dm")).unwrap();
    std::fs::write(dm.join("dm/uuid"), format!("{dm_uuid}\n")).unwrap();
    std::fs::write(dm.join("dm/name"), "cryptdata\n").unwrap();
    std::fs::create_dir(dm.join("slaves/loop5")).unwrap();
    let lp = dev_virtual.join("loop5");
    std::fs::create_dir(lp.join("holders/dm-0")).unwrap();
    std::fs::create_dir_all(lp.join("loop")).unwrap();
    std::fs::write(
        lp.join("loop/backing_file"),
        "/srv/evidence/container.img\n",
    )
    .unwrap();

    let proc = t.join("proc");
    std::fs::create_dir_all(proc.join("self")).unwrap();
    std::fs::write(
        proc.join("self/mountinfo"),
        format!(
            "1 0 254:0 / / rw - ext4 /dev/vda rw\n\
             50 1 253:0 / /mnt/secret rw,relatime - ext4 /dev/mapper/cryptdata rw\n{extra_mount}"
        ),
    )
    .unwrap();
    std::fs::write(proc.join("swaps"), "Filename Type Size Used Priority\n").unwrap();

    let dev = t.join("dev");
    std::fs::create_dir_all(&dev).unwrap();
    let (img, _) = luks_container(t, "luks2");
    let header = std::fs::read(&img).unwrap();
    std::fs::write(dev.join("loop5"), &header[..128 * 1024]).unwrap();
    std::fs::write(dev.join("dm-0"), vec![0u8; 128 * 1024]).unwrap();
    let fs = t.join("root");
    std::fs::create_dir_all(&fs).unwrap();
    [
        "--proc-root".to_string(),
        proc.to_str().unwrap().to_string(),
        "--sys-root".to_string(),
        sys.to_str().unwrap().to_string(),
        "--dev-root".to_string(),
        dev.to_str().unwrap().to_string(),
        "--fs-root".to_string(),
        fs.to_str().unwrap().to_string(),
    ]
}

/// Processes in a synthetic procfs: `stuck` has descriptors whose scan blocks (its `comm`
/// and `stat` are FIFOs nobody writes to: opening them waits forever, as a `readlink` in
/// `/proc/PID/fd` can in a real kernel); `owner` holds socket 4242, the 127.0.0.1:8080
/// listener of the synthetic `/proc/net/tcp`.
pub fn synthetic_processes(t: &Path, stuck: u32, owner: u32) {
    let proc = t.join("proc");
    std::fs::create_dir_all(proc.join("net")).unwrap();
    std::fs::write(
        proc.join("net/tcp"),
        "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
         \x20  0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242 1 0000000000000000 100 0 0 10 0\n",
    )
    .unwrap();
    let s = proc.join(stuck.to_string());
    std::fs::create_dir_all(s.join("fd")).unwrap();
    std::os::unix::fs::symlink("socket:[999]", s.join("fd/0")).unwrap();
    for fifo in ["comm", "stat"] {
        tool_ok("mkfifo", "coreutils", &[s.join(fifo).to_str().unwrap()]);
    }
    let o = proc.join(owner.to_string());
    std::fs::create_dir_all(o.join("fd")).unwrap();
    std::os::unix::fs::symlink("/dev/null", o.join("fd/0")).unwrap();
    std::os::unix::fs::symlink("socket:[4242]", o.join("fd/3")).unwrap();
    std::fs::write(o.join("comm"), "sshd\n").unwrap();
}
