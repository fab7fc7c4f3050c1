//! Member names (issue 16, item 5): `verify` rejects every name `extract` refuses — one
//! canonical-name rule for both. Each case is a complete forgery of a real bundle: one
//! member renamed (Python's zipfile, headers as fieldkit writes them), its files.jsonl
//! record changed to match, SHA256SUMS recomputed with sha256sum and re-signed with the
//! examiner's own key by ssh-keygen — so that the name is the only thing to find. A
//! benign rename made the same way verifies VALID, which shows the forgery is otherwise
//! perfect. And a bundle whose file name does not carry its own bundle_id gets a note.

mod common;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use common::*;

struct Fixture {
    _dir: tempfile::TempDir,
    bundle: PathBuf,
    key: PathBuf,
    pubkey: PathBuf,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        require_tool("ssh-keygen", "openssh-client");
        require_tool("python3", "python3");
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        std::fs::create_dir_all(src.join("sub")).unwrap();
        std::fs::write(src.join("sub/b.txt"), b"bravo evidence\n").unwrap();
        std::fs::write(src.join("sub/abc.txt"), b"alpha evidence\n").unwrap();
        std::fs::write(src.join("other.txt"), b"other evidence\n").unwrap();
        let key = dir.path().join("examiner");
        let k = run(&[
            "keygen",
            "--out",
            key.to_str().unwrap(),
            "--identity",
            "examiner@lab.example",
        ]);
        assert_eq!(k.code, 0, "{}", k.stderr);
        let (r, bundle) = collect(
            &src,
            &dir.path().join("out"),
            // Stored members: the forger's rewrite (Python's zipfile) stores every member,
            // so a compressed bundle's compressed.jsonl would be what gives it away.
            &[
                "--key",
                key.to_str().unwrap(),
                "--no-triage",
                "--compress",
                "never",
            ],
        );
        assert_eq!(r.code, 0, "{}", r.stderr);
        Fixture {
            pubkey: dir.path().join("examiner.pub"),
            _dir: dir,
            bundle,
            key,
        }
    })
}

/// The bundle with member `files/sub/abc.txt` renamed `new`, re-signed by the examiner:
/// a copy under the bundle's own file name in a fresh directory (no sidecars).
fn forge(new: &str) -> (tempfile::TempDir, PathBuf) {
    let f = fixture();
    let old = "files/sub/abc.txt";
    let d = tempfile::tempdir().unwrap();
    let x = d.path().join("x");
    let u = sh(&format!(
        "unzip -q '{}' -d '{}'",
        f.bundle.display(),
        x.display()
    ));
    assert_eq!(u.code, 0, "{}", u.stderr);
    let records: Vec<String> = std::fs::read_to_string(x.join("files.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
            if v["member"] == old {
                v["member"] = new.into();
            }
            serde_json::to_string(&v).unwrap() + "\n"
        })
        .collect();
    std::fs::write(x.join("files.jsonl"), records.concat()).unwrap();
    // SHA256SUMS in the same order, the renamed member under its new name.
    let mut sums = String::new();
    for line in String::from_utf8(member(&f.bundle, "SHA256SUMS"))
        .unwrap()
        .lines()
    {
        let name = line.split_once("  ").unwrap().1;
        let h = sh(&format!(
            "sha256sum '{}' | cut -d' ' -f1",
            x.join(name).display()
        ));
        let shown = if name == old { new } else { name };
        sums.push_str(&format!("{}  {shown}\n", h.stdout.trim()));
    }
    std::fs::write(x.join("SHA256SUMS"), &sums).unwrap();
    std::fs::remove_file(x.join("SHA256SUMS.sig")).unwrap();
    let s = sh(&format!(
        "ssh-keygen -Y sign -q -f '{}' -n fieldkit-evidence '{}'",
        f.key.display(),
        x.join("SHA256SUMS").display()
    ));
    assert_eq!(s.code, 0, "{}", s.stderr);
    let forged = d.path().join(f.bundle.file_name().unwrap());
    let ops: Vec<String> = vec![
        format!("rename={old}:{new}"),
        format!("replace=files.jsonl:{}", x.join("files.jsonl").display()),
        format!("replace=SHA256SUMS:{}", x.join("SHA256SUMS").display()),
        format!(
            "replace=SHA256SUMS.sig:{}",
            x.join("SHA256SUMS.sig").display()
        ),
    ];
    let mut args = vec![
        "rewrite".to_string(),
        f.bundle.display().to_string(),
        forged.display().to_string(),
    ];
    args.extend(ops);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let z = zipedit(&args);
    assert_eq!(z.code, 0, "{}", z.stderr);
    (d, forged)
}

fn verify_trusted(b: &Path) -> Run {
    verify(b, &["--pubkey", fixture().pubkey.to_str().unwrap()])
}

fn extract_to(b: &Path, dir: &Path) -> Run {
    run(&["extract", b.to_str().unwrap(), dir.to_str().unwrap()])
}

#[test]
fn a_benign_rename_forged_the_same_way_verifies_valid_so_the_name_is_all_there_is_to_find() {
    let (d, b) = forge("files/sub/abd.txt");
    let v = verify_trusted(&b);
    assert_eq!(v.code, 0, "{}", v.stdout);
    assert_eq!(extract_to(&b, &d.path().join("x2")).code, 0);
}

#[test]
fn verify_rejects_every_member_name_extract_refuses() {
    let cases = [
        // Both unpack to files/sub/b.txt.
        ("files/sub/./b.txt", "unsafe_member_name"),
        // The same file on a case-insensitive file system (Windows, macOS).
        ("files/sub/B.txt", "clashing_member_names"),
        ("files/SUB/b.txt", "clashing_member_names"),
        // A member that is the directory of another.
        ("files/sub/b.txt/c", "clashing_member_names"),
        ("files/other.txt/x", "clashing_member_names"),
        // What Windows cannot hold exactly: an NTFS stream, reserved characters and
        // device names, trailing dots and spaces.
        ("files/sub/b.txt:stream", "unsafe_member_name"),
        ("files/sub/a?c.txt", "unsafe_member_name"),
        ("files/sub/CON", "unsafe_member_name"),
        ("files/sub/nul.txt", "unsafe_member_name"),
        ("files/sub/abc.", "unsafe_member_name"),
        ("files/sub/abc ", "unsafe_member_name"),
        ("files/sub/tab\tname", "unsafe_member_name"),
        // Empty and parent components, absolute names, backslashes, drive letters.
        ("files//abc.txt", "unsafe_member_name"),
        ("files/sub/../abc.txt", "unsafe_member_name"),
        ("/files/sub/abc.txt", "unsafe_member_name"),
        ("files\\sub\\abc.txt", "unsafe_member_name"),
        ("C:/files/abc.txt", "unsafe_member_name"),
    ];
    let mut wrong = Vec::new();
    for (name, problem) in cases {
        let (d, b) = forge(name);
        let e = extract_to(&b, &d.path().join("extracted"));
        if e.code != 1 || !e.stderr.contains("refusing to extract") {
            wrong.push(format!(
                "{name:?}: extract exit {} (1 expected): {}",
                e.code, e.stderr
            ));
        }
        let v = verify_trusted(&b);
        if v.code != 1 || !v.stdout.contains(&format!("[{problem}]")) {
            wrong.push(format!(
                "{name:?}: verify exit {} (1 with [{problem}] expected):\n{}",
                v.code, v.stdout
            ));
        }
    }
    println!(
        "hardening counts: {} forged member names, {} where verify and extract disagree",
        cases.len(),
        wrong.len()
    );
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn a_bundle_whose_file_name_does_not_carry_its_bundle_id_gets_a_note_not_a_failure() {
    let f = fixture();
    let id = manifest(&f.bundle)["bundle_id"]
        .as_str()
        .unwrap()
        .to_string();
    let v = verify(&f.bundle, &["--json"]);
    assert_eq!(v.code, 0, "{}", v.stdout);
    assert!(!v.stdout.contains("does not carry"), "{}", v.stdout);
    let d = tempfile::tempdir().unwrap();
    let renamed = d.path().join("evidence.zip");
    std::fs::copy(&f.bundle, &renamed).unwrap();
    let v = verify(&renamed, &[]);
    assert_eq!(v.code, 0, "a note, not a failure: {}", v.stdout);
    assert!(
        v.stdout.contains(&format!(
            "the file name evidence.zip does not carry this bundle's id {id}"
        )),
        "{}",
        v.stdout
    );
}
