//! `collect --encrypt-to`: the bundle travels as `NAME.zip.age` (age v1), signed, with
//! the recipients in the inner manifest. The stock `age` CLI decrypts it (X25519 and
//! ssh-ed25519 identities) to a bundle that verifies; `verify`/`report --identity-file`
//! decrypt on the fly; a wrong key, a truncated file and a changed byte are each a clear
//! error (and the stock `age` agrees); `age`'s own output decrypts in fieldkit; and the
//! plain bundle is never written to the output device — a scan of the whole output
//! filesystem image, free blocks included, finds no plain byte of the evidence.

mod common;

use std::path::{Path, PathBuf};

use common::*;

struct Keys {
    age_identity: PathBuf,
    age_recipient: String,
    ssh_identity: PathBuf,
    ssh_recipient: String,
}

fn keys(dir: &Path) -> Keys {
    require_tool("age-keygen", "age");
    require_tool("ssh-keygen", "openssh-client");
    let age_identity = dir.join("age.key");
    let r = sh(&format!("age-keygen -o '{}' 2>&1", age_identity.display()));
    assert_eq!(r.code, 0, "{}", r.stdout);
    let age_recipient = r
        .stdout
        .split_whitespace()
        .find(|w| w.starts_with("age1"))
        .expect("age-keygen prints the recipient")
        .to_string();
    let ssh_identity = dir.join("id_ed25519");
    let r = sh(&format!(
        "ssh-keygen -q -t ed25519 -N '' -C lab@example -f '{}'",
        ssh_identity.display()
    ));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let ssh_recipient = std::fs::read_to_string(dir.join("id_ed25519.pub"))
        .unwrap()
        .trim()
        .to_string();
    Keys {
        age_identity,
        age_recipient,
        ssh_identity,
        ssh_recipient,
    }
}

/// A marker no other file holds: found on a device only where evidence was written plain.
const MARKER: &str = "FIELDKIT-PLAINTEXT-MARKER-7f3a9c1e5b";

fn evidence(dir: &Path) -> PathBuf {
    let src = dir.join("src");
    std::fs::create_dir_all(src.join("d")).unwrap();
    std::fs::write(src.join("small.txt"), format!("{MARKER} small\n")).unwrap();
    // Over the 8 MiB in-memory limit: streamed (spooled encrypted), and a duplicate of it.
    let mut big = Vec::with_capacity(9 << 20);
    let mut x: u32 = 1;
    while big.len() < (9 << 20) {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
        big.extend_from_slice(&x.to_le_bytes());
        if big.len() % (1 << 20) == 0 {
            big.extend_from_slice(MARKER.as_bytes());
        }
    }
    std::fs::write(src.join("big.bin"), &big).unwrap();
    std::fs::write(src.join("d/big-copy.bin"), &big).unwrap();
    src
}

fn encrypted_collect(src: &Path, out: &Path, k: &Keys) -> (serde_json::Value, PathBuf) {
    let (r, bundle) = collect(
        src,
        out,
        &[
            "--encrypt-to",
            &k.age_recipient,
            "--encrypt-to",
            &k.ssh_recipient,
            "--examiner",
            "A. Example",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    (r.json(), bundle)
}

#[test]
fn the_stock_age_cli_recovers_a_bundle_that_verifies_and_fieldkit_decrypts_on_the_fly() {
    let t = tempfile::tempdir().unwrap();
    let k = keys(t.path());
    let src = evidence(t.path());
    let out = t.path().join("out");
    let (summary, bundle) = encrypted_collect(&src, &out, &k);
    assert!(
        bundle.to_string_lossy().ends_with(".zip.age"),
        "{}",
        bundle.display()
    );
    assert_eq!(
        summary["verify_after_write"]["verdict"], "valid",
        "{summary}"
    );
    // Beside it only its sidecars: no plain bundle, no temporary file.
    let mut names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let base = bundle.file_name().unwrap().to_string_lossy().into_owned();
    assert_eq!(
        names,
        [
            base.clone(),
            format!("{base}.sha256"),
            format!("{base}.sig")
        ]
    );
    // The sidecars are of the encrypted file: sha256sum and ssh-keygen check them.
    assert_eq!(
        sh(&format!(
            "cd '{}' && sha256sum -c '{base}.sha256'",
            out.display()
        ))
        .code,
        0
    );
    let sig = sh(&format!(
        "ssh-keygen -Y check-novalidate -n fieldkit-evidence -s '{}.sig' < '{}'",
        bundle.display(),
        bundle.display()
    ));
    assert_eq!(sig.code, 0, "{}{}", sig.stdout, sig.stderr);
    assert!(
        sig.stdout
            .contains(summary["signer_fingerprint"].as_str().unwrap()),
        "{}",
        sig.stdout
    );

    // Stock age, both identity types, gives back the same plain bundle, which verifies.
    for (n, id) in [("x", &k.age_identity), ("s", &k.ssh_identity)] {
        let plain = t.path().join(format!("plain-{n}.zip"));
        let r = sh(&format!(
            "age -d -i '{}' -o '{}' '{}'",
            id.display(),
            plain.display(),
            bundle.display()
        ));
        assert_eq!(r.code, 0, "{}", r.stderr);
        let v = verify(&plain, &[]);
        assert_eq!(v.code, 0, "{}", v.stdout);
        let digest = sh(&format!("sha256sum '{}'", plain.display())).stdout;
        assert_eq!(
            digest.split_whitespace().next(),
            summary["inner_sha256"].as_str()
        );
        assert_eq!(sh(&format!("unzip -tq '{}'", plain.display())).code, 0);
        let m = manifest(&plain);
        assert_eq!(
            m["encryption"]["recipients"],
            serde_json::json!([k.age_recipient, k.ssh_recipient])
        );
        assert_eq!(m["encryption"]["format"], "age-encryption.org/v1");
        // The streamed duplicate was rolled back: stored once.
        let recs = records(&plain);
        let dup = record_for(&recs, "d/big-copy.bin");
        let orig = record_for(&recs, "/big.bin");
        assert!(
            (dup["status"] == "duplicate") ^ (orig["status"] == "duplicate"),
            "{dup} {orig}"
        );
        let sizes = std::fs::metadata(src.join("big.bin")).unwrap().len()
            + std::fs::metadata(src.join("small.txt")).unwrap().len();
        assert_eq!(
            m["counts"]["bytes_stored"].as_u64().unwrap(),
            sizes,
            "{}",
            m["counts"]
        );
    }

    // fieldkit itself, on the fly, with either identity: verify and report.
    for id in [&k.age_identity, &k.ssh_identity] {
        let v = run(&[
            "verify",
            bundle.to_str().unwrap(),
            "--identity-file",
            id.to_str().unwrap(),
        ]);
        assert_eq!(v.code, 0, "{}", v.stdout);
        assert!(
            v.stdout.contains(summary["inner_sha256"].as_str().unwrap()),
            "{}",
            v.stdout
        );
    }
    let rep = run(&[
        "report",
        bundle.to_str().unwrap(),
        "--identity-file",
        k.age_identity.to_str().unwrap(),
    ]);
    assert_eq!(rep.code, 0, "{}", rep.stderr);
    assert!(
        rep.stdout
            .contains("Integrity      INTACT — signer not checked"),
        "{}",
        rep.stdout
    );
    let body = run(&[
        "report",
        bundle.to_str().unwrap(),
        "--identity-file",
        k.ssh_identity.to_str().unwrap(),
        "--format",
        "bodyfile",
    ]);
    assert_eq!(body.code, 0, "{}", body.stderr);
    assert_eq!(body.stdout.lines().count(), 3);

    // And fieldkit reads what the stock age writes.
    let plain = t.path().join("plain-x.zip");
    let by_age = t.path().join("by-age.zip.age");
    let r = sh(&format!(
        "age -r '{}' -o '{}' '{}'",
        k.age_recipient,
        by_age.display(),
        plain.display()
    ));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v = run(&[
        "verify",
        by_age.to_str().unwrap(),
        "--identity-file",
        k.age_identity.to_str().unwrap(),
    ]);
    assert_eq!(v.code, 0, "{}", v.stdout);
}

#[test]
fn a_wrong_key_a_truncated_file_and_a_changed_byte_are_each_a_clear_error() {
    let t = tempfile::tempdir().unwrap();
    let k = keys(t.path());
    let src = evidence(t.path());
    let (_, bundle) = encrypted_collect(&src, &t.path().join("out"), &k);
    let other = keys(&{
        let d = t.path().join("other");
        std::fs::create_dir_all(&d).unwrap();
        d
    });
    let id = k.age_identity.to_str().unwrap();
    let verify_with =
        |file: &Path, id: &str| run(&["verify", file.to_str().unwrap(), "--identity-file", id]);
    // No identity, a wrong one: unusable (2), saying why.
    let v = run(&["verify", bundle.to_str().unwrap()]);
    assert_eq!(v.code, 2, "{}", v.stdout);
    assert!(v.stdout.contains("give --identity-file"), "{}", v.stdout);
    for wrong in [&other.age_identity, &other.ssh_identity] {
        let v = verify_with(&bundle, wrong.to_str().unwrap());
        assert_eq!(v.code, 2, "{}", v.stdout);
        assert!(
            v.stdout
                .contains("none of the given identities can decrypt it"),
            "{}",
            v.stdout
        );
        assert_ne!(
            sh(&format!(
                "age -d -i '{}' '{}' > /dev/null",
                wrong.display(),
                bundle.display()
            ))
            .code,
            0
        );
    }
    let bytes = std::fs::read(&bundle).unwrap();
    // Truncated, in a chunk and near a chunk boundary: invalid (1), naming the end.
    for (name, len) in [
        ("cut.zip.age", bytes.len() - 1000),
        ("cut-boundary.zip.age", bytes.len() - (bytes.len() % 65552)),
    ] {
        let f = t.path().join(name);
        std::fs::write(&f, &bytes[..len]).unwrap();
        let v = verify_with(&f, id);
        assert_eq!(v.code, 1, "{name}: {}", v.stdout);
        assert!(
            v.stdout.contains("[encrypted_damaged]") && v.stdout.contains("truncated"),
            "{}",
            v.stdout
        );
        assert_ne!(
            sh(&format!("age -d -i '{id}' '{}' > /dev/null", f.display())).code,
            0
        );
    }
    // One changed byte in the middle: invalid, naming the chunk.
    let mut changed = bytes.clone();
    let at = bytes.len() / 2;
    changed[at] ^= 0x20;
    let f = t.path().join("changed.zip.age");
    std::fs::write(&f, &changed).unwrap();
    let v = verify_with(&f, id);
    assert_eq!(v.code, 1, "{}", v.stdout);
    assert!(v.stdout.contains("fails authentication"), "{}", v.stdout);
    assert_ne!(
        sh(&format!("age -d -i '{id}' '{}' > /dev/null", f.display())).code,
        0
    );
    // report refuses what it cannot decrypt, and says so.
    let r = run(&["report", f.to_str().unwrap(), "--identity-file", id]);
    assert_ne!(r.code, 0);
    assert!(
        r.stderr.contains("fails authentication") || r.stdout.contains("INVALID"),
        "{}{}",
        r.stdout,
        r.stderr
    );
    // An RSA recipient is refused before anything is written.
    let out = t.path().join("rsa-out");
    let (r, _) = collect(
        &src,
        &out,
        &[
            "--encrypt-to",
            "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7 x@y",
        ],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("RUSTSEC-2023-0071"), "{}", r.stderr);
    assert!(!out.exists());
}

/// Collect into a fresh ext4 image (loop-mounted), unmount, and look for the marker in
/// every byte of the image — files, the unlinked spools' freed blocks, the journal.
fn marker_on_device(t: &Path, src: &Path, extra: &[&str]) -> bool {
    let img = t.join(format!("out-{}.img", extra.len()));
    let mnt = t.join(format!("mnt-{}", extra.len()));
    std::fs::create_dir_all(&mnt).unwrap();
    let r = sh(&format!(
        "truncate -s 96M '{0}' && mkfs.ext4 -q -F '{0}' && mount -o loop '{0}' '{1}'",
        img.display(),
        mnt.display()
    ));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let (run, _) = collect(src, &mnt.join("evidence"), extra);
    let umount = sh(&format!("sync && umount '{}'", mnt.display()));
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(umount.code, 0, "{}", umount.stderr);
    let found = sh(&format!("grep -c -a -F '{MARKER}' '{}'", img.display()));
    found.stdout.trim().parse::<u64>().unwrap_or(0) > 0
}

#[test]
fn the_plain_bundle_never_reaches_the_output_device() {
    require_root();
    require_tool("mkfs.ext4", "e2fsprogs");
    let t = tempfile::tempdir().unwrap();
    let k = keys(t.path());
    let src = evidence(t.path());
    // The control: a plain bundle on the same kind of device shows the marker.
    assert!(
        marker_on_device(t.path(), &src, &[]),
        "the scan must find plain evidence"
    );
    assert!(
        !marker_on_device(t.path(), &src, &["--encrypt-to", &k.age_recipient]),
        "plain evidence found on the device of an encrypted collection"
    );
}
