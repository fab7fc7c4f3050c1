//! `fieldkit collect --source IMAGE` end to end through the binary: images made here with
//! the real tools (mke2fs -d, mkfs.fat + mcopy, sfdisk, ewfacquire, split), collected
//! without mounting, and compared with what the same profile collects from the kernel's
//! loop mount of the same image; every collected file rebuilt from the recorded byte
//! ranges of the image alone (python reading offsets); the image unchanged (bytes and
//! mtime) and readable from a read-only mount; the bundle verified and `unzip -t`ed; and
//! damaged images — truncated, a partition past the end, an ext4 extent outside the
//! volume, a directory that loops, a damaged E01 chunk, garbage — each a clear record or
//! one-line error with the offset, the rest still collected, never a hang.
//!
//! The readers' own ground truth (fls/icat/istat, FUSE) is in tests/image_fat_ext.rs;
//! these tests are about the pipeline around them.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::{require_root, require_tool};
use serde_json::Value;

fn bash(script: &str) -> String {
    let mut cmd = Command::new("bash");
    cmd.arg("-c")
        .arg(format!("set -euo pipefail\n{script}"))
        .env("TZ", "UTC")
        .env("LANG", "C.UTF-8");
    let r = common::run_with_timeout(cmd, Duration::from_secs(120));
    assert_eq!(
        r.code, 0,
        "script failed:\n{script}\nstdout: {}\nstderr: {}",
        r.stdout, r.stderr
    );
    r.stdout
}

fn q(p: &Path) -> String {
    format!("'{}'", p.display().to_string().replace('\'', "'\\''"))
}

fn sha256_file(p: &Path) -> String {
    bash(&format!("sha256sum {} | cut -d' ' -f1", q(p)))
        .trim()
        .to_string()
}

/// Collect; the run must finish (exit 0) with a bundle.
fn collect_ok(src: &Path, out: &Path, extra: &[&str]) -> (common::Run, PathBuf) {
    let (r, bundle) = common::collect(src, out, extra);
    assert_eq!(
        r.code,
        0,
        "collect {} {extra:?} failed:\nstdout {}\nstderr {}",
        src.display(),
        r.stdout,
        r.stderr
    );
    assert!(bundle.is_file(), "no bundle: {}", r.stdout);
    (r, bundle)
}

/// Collected (or duplicate) records: path relative to `strip` → SHA-256.
fn collected(records: &[Value], strip: &str) -> BTreeMap<String, String> {
    records
        .iter()
        .filter(|r| matches!(r["status"].as_str(), Some("collected" | "duplicate")))
        .map(|r| {
            let p = r["path"].as_str().expect("utf-8 path");
            let rel = p.strip_prefix(strip).unwrap_or(p).trim_start_matches('/');
            (
                rel.to_string(),
                r["sha256"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

/// Every record's path (relative) → status.
fn statuses(records: &[Value], strip: &str) -> BTreeMap<String, String> {
    records
        .iter()
        .map(|r| {
            let p = r["path"].as_str().unwrap_or("");
            let rel = p.strip_prefix(strip).unwrap_or(p).trim_start_matches('/');
            // Which of two identical files is stored and which is its duplicate follows
            // thread timing (docs/design.md): both are "collected" here.
            let status = match r["status"].as_str().unwrap_or("") {
                "duplicate" => "collected",
                s => s,
            };
            (rel.to_string(), status.to_string())
        })
        .collect()
}

/// Rebuild every file of `records` that has runs from `image` with nothing but the
/// recorded offsets (a python script seeking and reading), and return path → SHA-256.
fn rebuild_from_runs(image: &Path, records: &[Value], dir: &Path) -> BTreeMap<String, String> {
    let list = dir.join("runs.json");
    let wanted: Vec<&Value> = records
        .iter()
        .filter(|r| matches!(r["status"].as_str(), Some("collected" | "duplicate")))
        .collect();
    std::fs::write(&list, serde_json::to_vec(&wanted).unwrap()).unwrap();
    let script = r#"
import hashlib, json, sys
recs = json.load(open(sys.argv[2]))
with open(sys.argv[1], 'rb') as img:
    for r in recs:
        d = r['image']['data']
        h = hashlib.sha256()
        if d['kind'] == 'runs':
            for run in d['runs']:
                if run.get('hole'):
                    h.update(b'\0' * run['len'])
                else:
                    img.seek(run['image_offset'])
                    b = img.read(run['len'])
                    assert len(b) == run['len'], r['path']
                    h.update(b)
        else:
            img.seek(d['image_offset'])
            h.update(img.read(d['len']))
        print(r['path'] + '\t' + h.hexdigest())
"#;
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(image)
        .arg(&list)
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "rebuild failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once('\t'))
        .map(|(p, h)| (p.trim_start_matches('/').to_string(), h.to_string()))
        .collect()
}

/// A tree laid out like a small Linux system.
fn linux_tree(root: &Path) {
    bash(&format!(
        r#"cd {r}
mkdir -p etc/cron.d etc/ssh home/alice/.ssh home/bob root var/log tmp usr/bin
printf 'root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000::/home/alice:/bin/bash\nbob:x:1001:1001::/home/bob:/bin/sh\n' > etc/passwd
printf 'root:*:19000:0:99999:7:::\n' > etc/shadow
echo '* * * * * root /tmp/x' > etc/cron.d/evil
echo 'PermitRootLogin no' > etc/ssh/sshd_config
printf 'ls\nwget http://x/y\n' > home/alice/.bash_history
echo 'ssh-ed25519 AAAA alice' > home/alice/.ssh/authorized_keys
echo 'cd /' > home/bob/.bash_history
echo 'rm -rf /' > root/.bash_history
head -c 2000000 /dev/urandom > var/log/syslog
head -c 70000 /dev/urandom > var/log/auth.log
: > var/log/empty.log
cp var/log/auth.log var/log/auth.log.1
ln -s /etc/passwd home/alice/passwd-link
truncate -s 3M var/log/sparse.log && printf tail >> var/log/sparse.log
mkfifo tmp/fifo
printf '\x7fELF-not-really' > usr/bin/tool && chmod 755 usr/bin/tool
"#,
        r = q(root)
    ));
}

/// (a) linux-triage on an ext4 image gives the same paths and SHA-256s as on the image's
/// loop mount, with the same metadata; the profile is chosen from the image and said;
/// (b) every collected file rebuilds from its recorded runs; (c) the image is unchanged
/// and can sit on a read-only mount; (e) the bundle verifies and passes `unzip -t`.
#[test]
fn an_ext4_image_collects_as_its_loop_mount_does_and_rebuilds_from_its_runs() {
    require_root();
    require_tool("mkfs.ext4", "e2fsprogs");
    require_tool("unzip", "unzip");
    require_tool("python3", "python3");
    let t = tempfile::tempdir().unwrap();
    let tree = t.path().join("tree");
    std::fs::create_dir(&tree).unwrap();
    linux_tree(&tree);
    // The image on its own read-only mount (c): collect must not need to write near it.
    let store = t.path().join("store");
    let img_rw = t.path().join("linux.img");
    bash(&format!(
        "mkfs.ext4 -q -F -E lazy_itable_init=0 -d {} {} 24M
         mkdir -p {s} && mount -t tmpfs -o size=40m tmpfs {s}
         cp -p {} {s}/linux.img && mount -o remount,ro {s}",
        q(&tree),
        q(&img_rw),
        q(&img_rw),
        s = q(&store)
    ));
    let img = store.join("linux.img");
    let before_sha = sha256_file(&img);
    let before_mtime = std::fs::metadata(&img).unwrap().modified().unwrap();

    let (run, bundle) = collect_ok(&img, &t.path().join("out-image"), &[]);
    assert!(
        run.stderr
            .contains("volume 1 is ext4 with /etc: linux-triage"),
        "the chosen profile is said: {}",
        run.stderr
    );
    let m = common::manifest(&bundle);
    assert_eq!(m["profile"]["name"], "linux-triage");
    assert!(
        m["image"]["profile_choice"]
            .as_str()
            .unwrap()
            .contains("linux-triage")
    );
    assert_eq!(m["image"]["container"], "raw");
    assert_eq!(m["image"]["volumes"][0]["status"], "collected");
    assert_eq!(m["image"]["volumes"][0]["fs"]["kind"], "ext4");
    let from_image = common::records(&bundle);

    let mnt = t.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    bash(&format!("mount -o ro,loop {} {}", q(&img_rw), q(&mnt)));
    let mounted = std::panic::catch_unwind(|| {
        let (_, b) = collect_ok(
            &mnt,
            &t.path().join("out-mount"),
            &["--profile", "linux-triage"],
        );
        common::records(&b)
    });
    bash(&format!("umount {}", q(&mnt)));
    let from_mount = mounted.expect("collect of the loop mount");
    let mnt_prefix = mnt.canonicalize().unwrap().display().to_string();

    let got = collected(&from_image, "");
    let want = collected(&from_mount, &mnt_prefix);
    assert_eq!(got, want, "same paths and SHA-256s as from the loop mount");
    assert!(got.contains_key("etc/passwd") && got.contains_key("var/log/sparse.log"));
    assert!(got.len() >= 10, "{got:?}");
    // Every record (symlink, fifo, skipped …) has the same status both ways.
    let (si, sm) = (
        statuses(&from_image, ""),
        statuses(&from_mount, &mnt_prefix),
    );
    assert_eq!(si, sm, "same record for every path");
    // And the same metadata.
    for r in from_image
        .iter()
        .filter(|r| r["status"] == "collected" || r["status"] == "duplicate")
    {
        let p = r["path"].as_str().unwrap();
        let o = from_mount
            .iter()
            .find(|o| o["path"].as_str() == Some(&format!("{mnt_prefix}{p}")))
            .unwrap();
        for k in [
            "size", "mtime", "atime", "ctime", "btime", "mode", "uid", "gid", "inode",
        ] {
            assert_eq!(r[k], o[k], "{p}: {k}");
        }
        assert_eq!(r["image"]["inode"], o["inode"], "{p}");
        assert!(
            r["member"]
                .as_str()
                .is_none_or(|m| m.starts_with("files/vol1/"))
        );
    }
    assert_eq!(
        common::record_for(&from_image, "/tmp/fifo")["reason"],
        "fifo",
        "a FIFO in the image is recorded, not read"
    );

    // (b) Rebuilt from the image with the recorded byte ranges alone.
    let rebuilt = rebuild_from_runs(&img, &from_image, t.path());
    assert_eq!(rebuilt, got, "every file re-derives from its runs");
    let sparse = common::record_for(&from_image, "/var/log/sparse.log");
    let runs = sparse["image"]["data"]["runs"].as_array().unwrap();
    assert!(runs.iter().any(|r| r["hole"] == true), "{sparse}");

    // `fieldkit hash --image` reads the same bytes.
    let h = common::run(&["hash", "--image", img.to_str().unwrap()]);
    assert_eq!(h.code, 0, "{}", h.stderr);
    let hashed: BTreeMap<String, String> = h
        .stdout
        .lines()
        .filter_map(|l| l.split_once("  "))
        .map(|(d, n)| {
            let rel = n.split_once("/vol1/").map(|(_, r)| r).unwrap_or(n);
            (rel.to_string(), d.to_string())
        })
        .collect();
    for (p, d) in &got {
        assert_eq!(hashed.get(p), Some(d), "hash --image: {p}");
    }

    // (c) The image is unchanged.
    assert_eq!(sha256_file(&img), before_sha);
    assert_eq!(
        std::fs::metadata(&img).unwrap().modified().unwrap(),
        before_mtime
    );
    // (e) The bundle verifies and passes unzip -t.
    let v = common::verify(&bundle, &[]);
    assert_eq!(v.code, 0, "verify: {}{}", v.stdout, v.stderr);
    bash(&format!("unzip -tq {}", q(&bundle)));
    bash(&format!("umount {}", q(&store)));
}

/// An MBR disk with a FAT16 and an ext4 partition and one without a file system: every
/// readable volume is collected under its own member folder, the other is listed with its
/// reason; `--partition 2` takes only the second. The same disk as E01 (compressed), as a
/// split raw set and as qemu-img's VMDK, VHDX and VHD collects the same files, and
/// `--hash-image` records the media's SHA-256 and checks the E01's own MD5.
#[test]
fn a_partitioned_disk_as_raw_e01_and_split_raw_collects_each_volume_apart() {
    require_tool("mkfs.fat", "dosfstools");
    require_tool("mcopy", "mtools");
    require_tool("sfdisk", "fdisk");
    require_tool("ewfacquire", "ewf-tools");
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    bash(&format!(
        r#"cd {d}
mkdir -p tree/etc tree/home/carol
ln -s ../etc/passwd tree/home/carol/link
printf 'carol:x:1000:1000::/home/carol:/bin/bash\n' > tree/etc/passwd
head -c 500000 /dev/urandom > tree/home/carol/data.bin
mkfs.ext4 -q -F -d tree ext.img 8M
head -c 300000 /dev/urandom > report.doc
echo hello > readme.txt
mkfs.fat -F 16 -C fat.img 16384 > /dev/null
mmd -i fat.img ::/Docs
mcopy -i fat.img report.doc ::/Docs/REPORT.DOC
mcopy -i fat.img readme.txt ::/readme.txt
truncate -s 40M disk.raw
printf 'label: dos\nstart=2048, size=32768, type=6\nstart=34816, size=16384, type=83\nstart=51200, size=8192, type=83\n' | sfdisk -q disk.raw
dd if=fat.img of=disk.raw bs=512 seek=2048 conv=notrunc status=none
dd if=ext.img of=disk.raw bs=512 seek=34816 conv=notrunc status=none
ewfacquire -u -t {d}/disk -f encase6 -c deflate:fast -S 10MiB disk.raw > /dev/null
split -d -a 3 --numeric-suffixes=1 -b 7M disk.raw disk.split.
"#,
        d = q(d)
    ));
    let raw = d.join("disk.raw");
    let (_, bundle) = collect_ok(&raw, &d.join("out-raw"), &["--profile", "all-files"]);
    let recs = common::records(&bundle);
    let got = collected(&recs, "");
    let sha = |p: &str| sha256_file(&d.join(p));
    assert_eq!(got.get("Docs/REPORT.DOC"), Some(&sha("report.doc")));
    assert_eq!(got.get("readme.txt"), Some(&sha("readme.txt")));
    assert_eq!(
        got.get("home/carol/data.bin"),
        Some(&sha("tree/home/carol/data.bin"))
    );
    let members: Vec<&str> = recs.iter().filter_map(|r| r["member"].as_str()).collect();
    assert!(
        members.contains(&"files/vol1/Docs/REPORT.DOC"),
        "{members:?}"
    );
    assert!(
        members.contains(&"files/vol2/home/carol/data.bin"),
        "{members:?}"
    );
    let link = common::record_for(&recs, "/home/carol/link");
    assert_eq!(link["status"], "skipped");
    assert_eq!(link["file_type"], "symlink");
    assert_eq!(link["link_target"]["path"], "../etc/passwd");
    let m = common::manifest(&bundle);
    let vols = m["image"]["volumes"].as_array().unwrap();
    assert_eq!(vols.len(), 3, "{vols:?}");
    assert_eq!(vols[0]["fs"]["kind"], "fat16");
    assert_eq!(vols[0]["offset"], 2048 * 512);
    assert_eq!(vols[1]["fs"]["kind"], "ext4");
    assert_eq!(vols[2]["status"], "no_file_system");
    let types: Vec<&str> = vols
        .iter()
        .map(|v| v["partition_type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        ["0x06", "0x83", "0x83"],
        "MBR type IDs as sfdisk set them"
    );
    let sizes: Vec<u64> = vols.iter().map(|v| v["size"].as_u64().unwrap()).collect();
    assert_eq!(sizes, [32768 * 512, 16384 * 512, 8192 * 512]);
    assert_eq!(m["image"]["volume_system"], "mbr");
    let acts = String::from_utf8(common::member(&bundle, "actions.jsonl")).unwrap();
    assert!(acts.contains("volume 3 at offset 26214400"), "{acts}");
    // Records name the volume and its offset; runs are offsets of the disk image.
    let r = common::record_for(&recs, "/Docs/REPORT.DOC");
    assert_eq!(r["image"]["volume"], 1);
    assert_eq!(r["image"]["volume_offset"], 1048576);
    assert_eq!(rebuild_from_runs(&raw, &recs, d), got);
    bash(&format!("unzip -tq {}", q(&bundle)));

    // --partition 2: only the ext4 volume; the FAT one is listed as not selected.
    let (_, b2) = collect_ok(
        &raw,
        &d.join("out-p2"),
        &["--partition", "2", "--profile", "all-files"],
    );
    let m2 = common::manifest(&b2);
    assert_eq!(m2["image"]["volumes"][0]["status"], "not_selected");
    let got2 = collected(&common::records(&b2), "");
    assert!(got2.keys().all(|k| !k.starts_with("Docs")), "{got2:?}");
    assert!(got2.contains_key("home/carol/data.bin"));
    let bad = common::run(&[
        "collect",
        "--source",
        raw.to_str().unwrap(),
        "--out",
        d.join("out-p9").to_str().unwrap(),
        "--partition",
        "9",
    ]);
    assert_ne!(bad.code, 0);
    assert!(
        bad.stderr
            .contains("--partition 9: no such volume (the image has volume(s) 1, 2, 3"),
        "{}",
        bad.stderr
    );

    // E01 (compressed) with --hash-image: the same files, the media's SHA-256, and the
    // E01's stored MD5 compared.
    let (_, be) = collect_ok(
        &d.join("disk.E01"),
        &d.join("out-e01"),
        &["--profile", "all-files", "--hash-image"],
    );
    assert_eq!(collected(&common::records(&be), ""), got, "E01 = raw");
    let me = common::manifest(&be);
    assert_eq!(me["image"]["container"], "ewf");
    let mh = &me["image"]["media_hashes"];
    assert_eq!(mh["sha256"].as_str(), Some(sha256_file(&raw).as_str()));
    assert!(
        mh["compared"][0]
            .as_str()
            .unwrap()
            .starts_with("md5: matches the container's stored value"),
        "{mh}"
    );
    assert!(
        me["image"]["stored_hashes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h["algorithm"] == "md5")
    );
    // Split raw: read as one.
    let (_, bs) = collect_ok(
        &d.join("disk.split.001"),
        &d.join("out-split"),
        &["--profile", "all-files"],
    );
    assert_eq!(collected(&common::records(&bs), ""), got, "split = raw");
    // The same disk as qemu-img writes it to VMDK (monolithic sparse, stream-optimised),
    // VHDX and VHD (dynamic): the same files, the container named in the manifest.
    require_tool("qemu-img", "qemu-utils");
    for (fmt, opts, file, container) in [
        ("vmdk", "subformat=monolithicSparse", "disk.vmdk", "vmdk"),
        (
            "vmdk",
            "subformat=streamOptimized",
            "disk-stream.vmdk",
            "vmdk",
        ),
        ("vhdx", "subformat=dynamic", "disk.vhdx", "vhdx"),
        ("vpc", "subformat=dynamic", "disk.vhd", "vhd"),
    ] {
        bash(&format!(
            "cd {} && qemu-img convert -q -f raw -O {fmt} -o {opts} disk.raw {file}",
            q(d)
        ));
        let (_, bq) = collect_ok(
            &d.join(file),
            &d.join(format!("out-{file}")),
            &["--profile", "all-files", "--no-verify"],
        );
        assert_eq!(collected(&common::records(&bq), ""), got, "{file} = raw");
        assert_eq!(
            common::manifest(&bq)["image"]["container"],
            container,
            "{file}"
        );
    }
    let v = common::verify(&be, &[]);
    assert_eq!(v.code, 0, "{}{}", v.stdout, v.stderr);
}

/// A GPT disk through the binary: the manifest lists every volume with its index, offset
/// and size (as `mmls` gives them), its type GUID, its GPT name and its file
/// system's label; the volume with no file system is listed with the reason it was not
/// read, in the manifest and in the actions; `image info` (text and `--json`) shows the
/// same before anything is collected, and a one-line error for garbage; `--partition 1`
/// lists the other as not selected. MBR type IDs are checked in the partitioned-disk test
/// above.
#[test]
fn a_gpt_disk_lists_every_volume_with_type_name_label_and_why_one_was_not_read() {
    require_tool("sfdisk", "fdisk");
    require_tool("mmls", "sleuthkit");
    require_tool("mkfs.ext4", "e2fsprogs");
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    bash(&format!(
        r#"cd {d}
mkdir -p tree/etc && echo gpt > tree/etc/hostname
mkfs.ext4 -q -F -L rootfs -d tree ext.img 8M
truncate -s 16M disk.raw
printf 'label: gpt\nstart=2048, size=16384, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name="linux data"\nsize=8192, type=EBD0A0A2-B9E5-4433-87C0-68B6B72699C7, name="empty basic"\n' | sfdisk -q disk.raw
dd if=ext.img of=disk.raw bs=512 seek=2048 conv=notrunc status=none
"#,
        d = q(d)
    ));
    let raw = d.join("disk.raw");
    let (_, b) = collect_ok(&raw, &d.join("out"), &["--profile", "all-files"]);
    let m = common::manifest(&b);
    assert_eq!(m["image"]["volume_system"], "gpt");
    let vols = m["image"]["volumes"].as_array().unwrap();
    assert_eq!(vols.len(), 2, "{vols:#?}");
    // mmls: the start and length (sectors) of each GPT partition, in table order.
    let mmls = bash(&format!(
        "mmls -B {} | grep -E '^[0-9]+:  [0-9]{{3}} '",
        q(&raw)
    ));
    let sectors: Vec<(u64, u64)> = mmls
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f[2].parse().unwrap(), f[4].parse().unwrap())
        })
        .collect();
    assert_eq!(sectors.len(), 2, "{mmls}");
    for (v, (start, len)) in vols.iter().zip(&sectors) {
        assert_eq!(v["offset"], start * 512, "{v}");
        assert_eq!(v["size"], len * 512, "{v}");
    }
    let (a, z) = (&vols[0], &vols[1]);
    assert_eq!(a["index"], 1);
    assert_eq!(a["partition_type"], "0FC63DAF-8483-4772-8E79-3D69D8477DE4");
    assert_eq!(a["label"], "linux data");
    assert_eq!(a["fs"]["kind"], "ext4");
    assert_eq!(a["fs"]["label"], "rootfs");
    assert_eq!(a["status"], "collected");
    assert_eq!(a["member_prefix"], "files/vol1/");
    assert_eq!(z["index"], 2);
    assert_eq!(z["partition_type"], "EBD0A0A2-B9E5-4433-87C0-68B6B72699C7");
    assert_eq!(z["label"], "empty basic");
    assert_eq!(z["status"], "no_file_system");
    assert!(z["fs"].is_null(), "{z}");
    let reason = z["reason"].as_str().unwrap();
    assert!(reason.contains("no file system"), "{z}");
    let acts = String::from_utf8(common::member(&b, "actions.jsonl")).unwrap();
    assert!(
        acts.lines().any(|l| l.contains("image.volume")
            && l.contains(&format!(
                "volume 2 at offset {} ({} bytes) not collected: {reason}",
                z["offset"], z["size"]
            ))),
        "{acts}"
    );
    assert_eq!(
        collected(&common::records(&b), "").get("etc/hostname"),
        Some(&sha256_file(&d.join("tree/etc/hostname")))
    );
    // `image info` shows the same volumes before anything is collected.
    let info = common::run(&["image", "info", "--json", raw.to_str().unwrap()]);
    assert_eq!(info.code, 0, "{}", info.stderr);
    let j: Value = serde_json::from_str(&info.stdout).unwrap();
    assert_eq!(j["container"]["format"], "raw");
    assert_eq!(j["container"]["media_size"], 16 << 20);
    assert_eq!(j["volume_system"]["scheme"], "gpt");
    for (i, v) in vols.iter().enumerate() {
        let w = &j["volumes"][i];
        assert_eq!(w["number"], v["index"]);
        assert_eq!(w["offset"], v["offset"]);
        assert_eq!(w["size"], v["size"]);
        assert_eq!(w["partition_type"], v["partition_type"]);
        assert_eq!(w["name"], v["label"]);
    }
    assert_eq!(j["file_systems"][0]["status"], "readable");
    assert_eq!(j["file_systems"][0]["file_system"]["kind"], "ext4");
    assert_eq!(j["file_systems"][0]["file_system"]["label"], "rootfs");
    assert_eq!(j["file_systems"][1]["status"], "no_file_system");
    assert_eq!(j["profile_choice"]["profile"], "linux-triage");
    let text = common::run(&["image", "info", raw.to_str().unwrap()]);
    assert_eq!(text.code, 0, "{}", text.stderr);
    for want in [
        "Container   raw",
        "Volumes     gpt (2 volume(s)",
        "  1  offset 1048576  size 8.0 MiB (8388608 bytes)  type 0FC63DAF-8483-4772-8E79-3D69D8477DE4",
        "name \"linux data\"",
        "     ext4 label \"rootfs\"",
        "  2  offset 9437184  size 4.0 MiB (4194304 bytes)",
        "     not read: no file system fieldkit recognises in its first sectors",
        "Profile     linux-triage",
    ] {
        assert!(text.stdout.contains(want), "{want:?} in:\n{}", text.stdout);
    }
    // A file of zeros is a raw image with nothing fieldkit can read: said, exit 0.
    std::fs::write(d.join("zeros.img"), vec![0u8; 4096]).unwrap();
    let z = common::run(&["image", "info", d.join("zeros.img").to_str().unwrap()]);
    assert_eq!(z.code, 0, "{}", z.stderr);
    assert!(
        z.stdout
            .contains("Profile     none: no volume fieldkit can read"),
        "{}",
        z.stdout
    );
    // An E01 cut after its header cannot be opened: one line naming it, exit 2.
    std::fs::write(
        d.join("cut.E01"),
        b"EVF\x09\x0d\x0a\xff\x00\x01\x01\x00\x00",
    )
    .unwrap();
    for bad in [d.join("cut.E01"), d.join("missing.img")] {
        let r = common::run(&["image", "info", bad.to_str().unwrap()]);
        assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
        assert_eq!(r.stderr.trim().lines().count(), 1, "{}", r.stderr);
        assert!(r.stderr.contains(bad.to_str().unwrap()), "{}", r.stderr);
        assert!(r.stdout.is_empty(), "{}", r.stdout);
    }

    let (_, b1) = collect_ok(
        &raw,
        &d.join("out-p1"),
        &["--partition", "1", "--profile", "all-files"],
    );
    let m1 = common::manifest(&b1);
    assert_eq!(m1["image"]["volumes"][1]["status"], "not_selected");
    assert_eq!(
        m1["image"]["volumes"][1]["reason"],
        "not the volume given with --partition"
    );
}

/// (d) Damaged images through the binary: each problem a record or a one-line error with
/// its offset, the rest collected, no hang.
#[test]
fn damaged_images_give_records_with_offsets_and_the_rest_is_collected() {
    require_tool("mkfs.ext4", "e2fsprogs");
    require_tool("debugfs", "e2fsprogs");
    require_tool("ewfacquire", "ewf-tools");
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    bash(&format!(
        r#"cd {d}
mkdir -p tree/a/b tree/keep
head -c 400000 /dev/urandom > tree/big.bin
head -c 3000000 /dev/urandom > tree/late.bin
echo fine > tree/keep/fine.txt
echo inner > tree/a/b/inner.txt
mkfs.ext4 -q -F -b 1024 -d tree ext.img 8M
cp ext.img bad-extent.img
debugfs -w -R 'set_inode_field /big.bin block[5] 9999999' bad-extent.img 2> /dev/null
cp ext.img loop.img
debugfs -w -R 'link /a /a/b/up' loop.img 2> /dev/null
"#,
        d = q(d)
    ));
    let limit = ["--profile", "all-files", "--no-verify"];

    // An ext4 extent pointing outside the volume: that file is an error naming the
    // offset; the others are collected.
    let (_, b) = collect_ok(&d.join("bad-extent.img"), &d.join("o1"), &limit);
    let recs = common::records(&b);
    let big = common::record_for(&recs, "/big.bin");
    assert_eq!(big["status"], "error", "{big}");
    let detail = big["detail"].as_str().unwrap();
    assert!(detail.contains("offset"), "{big}");
    assert!(
        big["member"].is_null() && big["sha256"].is_null(),
        "never stored: {big}"
    );
    assert_eq!(
        common::record_for(&recs, "/keep/fine.txt")["status"],
        "collected"
    );

    // A directory that leads back to its ancestor: an error record naming the offset,
    // never a second walk (the ext4 reader refuses the directory that holds the link;
    // the walk itself also refuses any directory it has seen before).
    let (_, b) = collect_ok(&d.join("loop.img"), &d.join("o2"), &limit);
    let recs = common::records(&b);
    let looped: Vec<&Value> = recs
        .iter()
        .filter(|r| r["reason"] == "directory_loop")
        .collect();
    assert_eq!(looped.len(), 1, "{recs:#?}");
    assert_eq!(looped[0]["status"], "error");
    assert!(
        looped[0]["detail"].as_str().unwrap().contains("offset"),
        "{}",
        looped[0]
    );
    assert_eq!(
        common::record_for(&recs, "/keep/fine.txt")["status"],
        "collected"
    );
    assert!(recs.len() < 10, "walked once: {recs:#?}");

    // Truncated: the files past the end are errors with the offset, the rest collected.
    bash(&format!(
        "cd {} && cp ext.img cut.img && truncate -s 4M cut.img",
        q(d)
    ));
    let (_, b) = collect_ok(&d.join("cut.img"), &d.join("o3"), &limit);
    let recs = common::records(&b);
    assert_eq!(
        common::record_for(&recs, "/keep/fine.txt")["status"],
        "collected"
    );
    let late = common::record_for(&recs, "/late.bin");
    assert_eq!(late["status"], "error", "{late}");
    assert_eq!(late["reason"], "extent_outside_volume", "{late}");
    assert!(
        late["detail"].as_str().unwrap().contains("image offset"),
        "{late}"
    );
    assert!(late["member"].is_null(), "{late}");

    // A partition that runs past the end of the disk.
    bash(&format!(
        r#"cd {}
truncate -s 12M disk.raw
printf 'label: dos\nstart=2048, size=16384, type=83\n' | sfdisk -q disk.raw
dd if=ext.img of=disk.raw bs=512 seek=2048 conv=notrunc status=none
truncate -s 6M disk.raw
"#,
        q(d)
    ));
    let (_, b) = collect_ok(&d.join("disk.raw"), &d.join("o4"), &limit);
    let recs = common::records(&b);
    assert_eq!(
        common::record_for(&recs, "/keep/fine.txt")["status"],
        "collected"
    );
    let m = common::manifest(&b);
    let v = &m["image"]["volumes"][0];
    assert_eq!(v["declared_size"], 8 << 20, "{v}");
    assert_eq!(v["size"], 5 << 20, "{v}");
    assert!(
        !v["notes"].as_array().unwrap().is_empty(),
        "the clipping is noted: {v}"
    );

    // A damaged E01 chunk: the files in it are errors naming the chunk, the rest read.
    bash(&format!(
        r#"cd {d}
ewfacquire -u -t {d}/dmg -f encase6 -c none -S 20MiB ext.img > /dev/null
python3 - <<'EOF'
import os
p = 'dmg.E01'
data = bytearray(open(p, 'rb').read())
# The late.bin data lies in the second half of the volume: flip bytes there.
at = len(data) * 3 // 5
for i in range(at, at + 64):
    data[i] ^= 0xff
open(p, 'wb').write(data)
EOF
"#,
        d = q(d)
    ));
    let (r, b) = collect_ok(&d.join("dmg.E01"), &d.join("o5"), &limit);
    let recs = common::records(&b);
    let errors: Vec<&Value> = recs.iter().filter(|r| r["status"] == "error").collect();
    assert!(
        !errors.is_empty(),
        "the damaged chunk shows: {recs:#?}\n{}",
        r.stderr
    );
    for e in &errors {
        let detail = e["detail"].as_str().unwrap();
        assert!(detail.contains("chunk") && detail.contains("offset"), "{e}");
        // As for any read error, the bytes before it are stored and marked; the damaged
        // chunk's are not.
        assert!(
            e["bytes_read"].as_u64().unwrap() < e["size"].as_u64().unwrap(),
            "{e}"
        );
    }
    assert!(
        recs.iter().any(|r| r["status"] == "collected"),
        "the rest is collected"
    );

    // Garbage: a one-line error, nothing written.
    std::fs::write(d.join("junk.img"), vec![0x5au8; 1 << 20]).unwrap();
    let r = common::run(&[
        "collect",
        "--source",
        d.join("junk.img").to_str().unwrap(),
        "--out",
        d.join("o6").to_str().unwrap(),
    ]);
    assert_ne!(r.code, 0);
    assert_eq!(r.stderr.trim().lines().count(), 1, "{}", r.stderr);
    assert!(r.stderr.contains("junk.img"), "{}", r.stderr);
    assert!(
        !d.join("o6").exists(),
        "nothing written for an unusable image"
    );
}
