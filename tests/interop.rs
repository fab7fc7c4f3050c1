//! Bundles checked with standard tools only, as a lab without fieldkit would: `unzip -t`,
//! `sha256sum -c` inside the bundle and on the sidecar, `ssh-keygen -Y verify` on both
//! signatures, and `hashdeep` agreeing with every hash in files.jsonl. Keys made by
//! fieldkit work in ssh-keygen and keys made by ssh-keygen work in fieldkit.

mod common;

use std::collections::HashMap;
use std::path::Path;

use common::*;

fn sample_tree(dir: &Path) -> std::path::PathBuf {
    let src = dir.join("src");
    std::fs::create_dir_all(src.join("a/b")).unwrap();
    std::fs::write(src.join("a/one.txt"), b"one").unwrap();
    std::fs::write(src.join("a/b/two.txt"), b"two two").unwrap();
    std::fs::write(src.join("a/b/same.txt"), b"one").unwrap();
    std::fs::write(src.join("Grüße.txt"), "umlaut".as_bytes()).unwrap();
    write_random(&src.join("big.bin"), 9 << 20, 11);
    src
}

/// An examiner key made by `fieldkit keygen` in `dir`, and the allowed_signers file
/// built from the line keygen prints for the lab.
fn examiner_key(dir: &Path, identity: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    let key = dir.join("examiner");
    let k = run(&[
        "keygen",
        "--out",
        key.to_str().unwrap(),
        "--identity",
        identity,
    ]);
    assert_eq!(k.code, 0, "{}", k.stderr);
    let allowed = dir.join("allowed_signers");
    std::fs::write(&allowed, &k.stdout).unwrap();
    (key, allowed)
}

/// Without verify-after-write the whole-bundle hash is taken while the fsync runs; the
/// sidecars it feeds must still match the finished file byte for byte.
#[test]
fn sidecars_of_a_run_without_verify_check_with_sha256sum_and_ssh_keygen() {
    require_tool("ssh-keygen", "openssh-client");
    let t = tempfile::tempdir().unwrap();
    let src = sample_tree(t.path());
    let (key, allowed) = examiner_key(t.path(), "ben@lab.example");
    let (r, bundle) = collect(
        &src,
        &t.path().join("out"),
        &["--no-verify", "--key", key.to_str().unwrap()],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let name = bundle.file_name().unwrap().to_str().unwrap();
    let s = sh(&format!(
        "set -e; cd {out}; sha256sum -c {name}.sha256; \
         ssh-keygen -Y verify -f {allowed} -I ben@lab.example -n fieldkit-evidence -s {name}.sig < {name}",
        out = bundle.parent().unwrap().display(),
        allowed = allowed.display()
    ));
    assert_eq!(s.code, 0, "{}\n{}", s.stdout, s.stderr);
    assert!(s.stdout.contains(&format!("{name}: OK")), "{}", s.stdout);
    let json: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let listed = std::fs::read_to_string(bundle.with_extension("zip.sha256")).unwrap();
    assert_eq!(json["sha256"].as_str().unwrap(), &listed[..64]);
}

#[test]
fn a_lab_verifies_the_bundle_with_unzip_sha256sum_and_ssh_keygen_alone() {
    require_tool("unzip", "unzip");
    require_tool("ssh-keygen", "openssh-client");
    let t = tempfile::tempdir().unwrap();
    let src = sample_tree(t.path());
    let (key, allowed) = examiner_key(t.path(), "anna@lab.example");
    let (r, bundle) = collect(
        &src,
        &t.path().join("out"),
        &["--key", key.to_str().unwrap()],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let out = bundle.parent().unwrap();
    let name = bundle.file_name().unwrap().to_str().unwrap();
    let script = format!(
        "set -e; cd {out}; sha256sum -c {name}.sha256; unzip -tq {name}; unzip -q {name} -d x; \
         (cd x && sha256sum -c --strict SHA256SUMS); \
         ssh-keygen -Y verify -f {allowed} -I anna@lab.example -n fieldkit-evidence -s x/SHA256SUMS.sig < x/SHA256SUMS; \
         ssh-keygen -Y verify -f {allowed} -I anna@lab.example -n fieldkit-evidence -s {name}.sig < {name}",
        out = out.display(),
        allowed = allowed.display()
    );
    let s = sh(&script);
    assert_eq!(s.code, 0, "{}\n{}", s.stdout, s.stderr);
    assert!(s.stdout.contains(&format!("{name}: OK")), "{}", s.stdout);
    assert!(
        s.stdout.contains("files/Grüße.txt: OK"),
        "UTF-8 names extract exactly: {}",
        s.stdout
    );
    let all = format!("{}{}", s.stdout, s.stderr);
    assert_eq!(
        all.matches("Good \"fieldkit-evidence\" signature for anna@lab.example")
            .count(),
        2,
        "{all}"
    );
    // The extracted tree holds exactly the original bytes.
    let d = sh(&format!(
        "diff -r {}/a {}/x/files/a",
        src.display(),
        out.display()
    ));
    assert_eq!(
        d.code, 1,
        "same.txt is a duplicate, stored once: {}",
        d.stdout
    );
    let only: Vec<&str> = d.stdout.lines().collect();
    assert_eq!(only.len(), 1, "{}", d.stdout);
    assert!(
        only[0].starts_with("Only in")
            && (only[0].ends_with("same.txt") || only[0].ends_with("one.txt")),
        "{}",
        d.stdout
    );
    assert_eq!(
        sh(&format!(
            "cmp {}/big.bin {}/x/files/big.bin",
            src.display(),
            out.display()
        ))
        .code,
        0
    );
    // ssh-keygen rejects the signature for the wrong principal and the wrong namespace.
    let bad = sh(&format!(
        "cd {} && ssh-keygen -Y verify -f {} -I someone@else -n fieldkit-evidence -s x/SHA256SUMS.sig < x/SHA256SUMS",
        out.display(),
        allowed.display()
    ));
    assert_ne!(bad.code, 0);
    let bad = sh(&format!(
        "cd {} && ssh-keygen -Y verify -f {} -I anna@lab.example -n file -s x/SHA256SUMS.sig < x/SHA256SUMS",
        out.display(),
        allowed.display()
    ));
    assert_ne!(bad.code, 0);
    // fieldkit agrees, with the same allowed_signers file.
    let v = verify(
        &bundle,
        &[
            "--allowed-signers",
            allowed.to_str().unwrap(),
            "--identity",
            "anna@lab.example",
        ],
    );
    assert_eq!(v.code, 0, "{}", v.stdout);
    let v = verify(
        &bundle,
        &[
            "--allowed-signers",
            allowed.to_str().unwrap(),
            "--identity",
            "bob@lab.example",
        ],
    );
    assert_eq!(
        v.code, 5,
        "no key for that identity: intact, not signed by a key trusted for it: {}{}",
        v.stdout, v.stderr
    );
    assert!(
        v.stdout
            .starts_with("INTACT BUT NOT SIGNED BY THE KEY YOU TRUST — "),
        "{}",
        v.stdout
    );
}

#[test]
fn hashdeep_agrees_with_every_hash_in_files_jsonl() {
    require_tool("hashdeep", "hashdeep");
    let t = tempfile::tempdir().unwrap();
    let src = sample_tree(t.path());
    let (r, bundle) = collect(&src, &t.path().join("out"), &["--hash", "sha256,md5,sha1"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let hd = sh(&format!("hashdeep -c md5,sha1,sha256 -r {}", src.display()));
    assert_eq!(hd.code, 0, "{}", hd.stderr);
    let mut expected: HashMap<String, (String, String, String, u64)> = HashMap::new();
    for line in hd
        .stdout
        .lines()
        .filter(|l| !l.starts_with('%') && !l.starts_with('#'))
    {
        let parts: Vec<&str> = line.splitn(5, ',').collect();
        expected.insert(
            parts[4].to_string(),
            (
                parts[1].into(),
                parts[2].into(),
                parts[3].into(),
                parts[0].parse().unwrap(),
            ),
        );
    }
    let recs = records(&bundle);
    assert_eq!(recs.len(), expected.len());
    for rec in &recs {
        let path = rec["path"].as_str().unwrap();
        let (md5, sha1, sha256, size) = expected
            .get(path)
            .unwrap_or_else(|| panic!("hashdeep did not list {path}"));
        assert_eq!(rec["md5"].as_str().unwrap(), md5, "{path}");
        assert_eq!(rec["sha1"].as_str().unwrap(), sha1, "{path}");
        assert_eq!(rec["sha256"].as_str().unwrap(), sha256, "{path}");
        assert_eq!(rec["bytes_read"].as_u64().unwrap(), *size, "{path}");
    }
    // fieldkit hash --hashdeep output is accepted by hashdeep's audit mode.
    let known = t.path().join("known.hashdeep");
    let h = run(&[
        "hash",
        "--hashdeep",
        "--hash",
        "md5,sha256",
        src.to_str().unwrap(),
    ]);
    assert_eq!(h.code, 0, "{}", h.stderr);
    std::fs::write(&known, &h.stdout).unwrap();
    let audit = sh(&format!(
        "hashdeep -c md5,sha256 -a -k {} -r {}",
        known.display(),
        src.display()
    ));
    assert_eq!(
        audit.code, 0,
        "hashdeep audit: {}{}",
        audit.stdout, audit.stderr
    );
    assert!(audit.stdout.contains("Audit passed"), "{}", audit.stdout);
    // And fieldkit hash's default output is checked by sha256sum -c.
    let sums = t.path().join("sums");
    std::fs::write(&sums, run(&["hash", src.to_str().unwrap()]).stdout).unwrap();
    assert_eq!(
        sh(&format!("sha256sum -c --quiet {}", sums.display())).code,
        0
    );
}

#[test]
fn keys_interoperate_with_ssh_keygen_including_passphrases() {
    require_tool("ssh-keygen", "openssh-client");
    let t = tempfile::tempdir().unwrap();
    let src = sample_tree(t.path());
    let pass = t.path().join("pass");
    std::fs::write(&pass, "correct horse battery staple\n").unwrap();
    // A passphrase-protected key made by fieldkit is readable by ssh-keygen.
    let key = t.path().join("fk_key");
    let k = run(&[
        "keygen",
        "--out",
        key.to_str().unwrap(),
        "--identity",
        "anna",
        "--passphrase-file",
        pass.to_str().unwrap(),
    ]);
    assert_eq!(k.code, 0, "{}", k.stderr);
    assert!(
        k.stdout
            .starts_with("anna namespaces=\"fieldkit-evidence\" ssh-ed25519 "),
        "{}",
        k.stdout
    );
    let derived = sh(&format!(
        "ssh-keygen -y -P 'correct horse battery staple' -f {}",
        key.display()
    ));
    assert_eq!(derived.code, 0, "{}", derived.stderr);
    let public = std::fs::read_to_string(format!("{}.pub", key.display())).unwrap();
    assert_eq!(
        derived.stdout.split_whitespace().nth(1),
        public.split_whitespace().nth(1)
    );
    assert_eq!(
        sh(&format!("ssh-keygen -y -P wrong -f {}", key.display())).code,
        255
    );
    let mode = std::fs::metadata(&key).unwrap();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode.permissions()) & 0o777,
        0o600
    );
    // It signs a collection when the passphrase is given…
    let (r, bundle) = collect(
        &src,
        &t.path().join("o1"),
        &[
            "--key",
            key.to_str().unwrap(),
            "--passphrase-file",
            pass.to_str().unwrap(),
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json()["one_time_key"], false);
    assert_eq!(
        verify(&bundle, &["--pubkey", &format!("{}.pub", key.display())]).code,
        0
    );
    // …and refuses, with one clear line and nothing written, when it is wrong.
    let wrong = t.path().join("wrong");
    std::fs::write(&wrong, "nope").unwrap();
    let out2 = t.path().join("o2");
    let r = run(&[
        "collect",
        "--source",
        src.to_str().unwrap(),
        "--out",
        out2.to_str().unwrap(),
        "--key",
        key.to_str().unwrap(),
        "--passphrase-file",
        wrong.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("wrong passphrase"), "{}", r.stderr);
    assert!(!out2.exists());
    // Keygen never overwrites a key.
    let again = run(&[
        "keygen",
        "--out",
        key.to_str().unwrap(),
        "--identity",
        "anna",
    ]);
    assert_eq!(again.code, 2);
    assert!(
        again.stderr.contains("refusing to overwrite"),
        "{}",
        again.stderr
    );
    // A key made by ssh-keygen signs fieldkit bundles.
    let sk = t.path().join("ssh_made");
    assert_eq!(
        sh(&format!(
            "ssh-keygen -q -t ed25519 -N secret -C lab -f {}",
            sk.display()
        ))
        .code,
        0
    );
    let mut cmd = fieldkit();
    cmd.args(["collect", "--json", "--source"])
        .arg(&src)
        .arg("--out")
        .arg(t.path().join("o3"))
        .arg("--key")
        .arg(&sk);
    cmd.env("FIELDKIT_KEY_PASSPHRASE", "secret");
    let r = run_with_timeout(cmd, std::time::Duration::from_secs(120));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let b3 = std::path::PathBuf::from(r.json()["bundle"].as_str().unwrap());
    assert_eq!(
        verify(&b3, &["--pubkey", &format!("{}.pub", sk.display())]).code,
        0
    );
    // Other key types are refused with the reason.
    let rsa = t.path().join("rsa");
    assert_eq!(
        sh(&format!(
            "ssh-keygen -q -t rsa -b 2048 -N '' -f {}",
            rsa.display()
        ))
        .code,
        0
    );
    let r = run(&[
        "collect",
        "--source",
        src.to_str().unwrap(),
        "--out",
        t.path().join("o4").to_str().unwrap(),
        "--key",
        rsa.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .contains("is not supported: fieldkit signs with Ed25519"),
        "{}",
        r.stderr
    );
}

#[test]
fn extract_refuses_names_that_escape_the_target() {
    let t = tempfile::tempdir().unwrap();
    for (i, bad) in ["../escape.txt", "/etc/evil", "a/../../x", "..\\\\win.txt"]
        .iter()
        .enumerate()
    {
        let z = t.path().join(format!("evil{i}.zip"));
        let py = sh(&format!(
            "python3 -c 'import zipfile,sys; z=zipfile.ZipFile(sys.argv[1],\"w\"); z.writestr(\"ok.txt\",\"ok\"); z.writestr(sys.argv[2],\"pwned\"); z.close()' {} '{}'",
            z.display(),
            bad
        ));
        assert_eq!(py.code, 0, "{}", py.stderr);
        let target = t.path().join(format!("x{i}"));
        let r = run(&["extract", z.to_str().unwrap(), target.to_str().unwrap()]);
        assert_eq!(r.code, 1, "{bad}: {}", r.stderr);
        assert!(r.stderr.contains("refusing to extract"), "{}", r.stderr);
        assert!(
            !target.join("ok.txt").exists(),
            "nothing is written when any name is unsafe"
        );
    }
    assert!(!t.path().join("escape.txt").exists());
}

#[test]
fn profiles_list_show_and_check_with_every_error_at_its_line() {
    let l = run(&["profiles", "list"]);
    assert_eq!(l.code, 0);
    for name in [
        "all-files",
        "linux-triage",
        "windows-triage",
        "macos-triage",
    ] {
        assert!(l.stdout.contains(name), "{}", l.stdout);
        let s = run(&["profiles", "show", name]);
        assert_eq!(s.code, 0);
        assert!(s.stdout.contains(&format!("name = \"{name}\"")));
    }
    let t = tempfile::tempdir().unwrap();
    let good = t.path().join("good.toml");
    std::fs::write(&good, run(&["profiles", "show", "linux-triage"]).stdout).unwrap();
    let bad = t.path().join("bad.toml");
    std::fs::write(
        &bad,
        "name = \"bad\"\nformat_version = 1\nos = \"plan9\"\n\n[[rule]]\nname = \"x\"\ncategory = \"c\"\npaths = [\"relative/path\"]\nmax_depht = 3\n",
    )
    .unwrap();
    let c = run(&[
        "profiles",
        "check",
        good.to_str().unwrap(),
        bad.to_str().unwrap(),
    ]);
    assert_eq!(c.code, 1);
    let shown = bad.display().to_string();
    assert!(
        c.stdout
            .contains(&format!("{}: OK: profile linux-triage", good.display())),
        "{}",
        c.stdout
    );
    assert!(
        c.stdout
            .contains(&format!("{shown}:3: os \"plan9\" is not one of")),
        "{}",
        c.stdout
    );
    assert!(
        c.stdout.contains(&format!(
            "{shown}:8: path \"relative/path\" must start with '/'"
        )),
        "{}",
        c.stdout
    );
    assert!(
        c.stdout
            .contains(&format!("{shown}:9: unknown key `max_depht`")),
        "{}",
        c.stdout
    );
    let unknown = run(&[
        "collect",
        "--source",
        "/tmp",
        "--out",
        "/tmp/x",
        "--profile",
        "no-such-profile",
    ]);
    assert_eq!(unknown.code, 2);
    assert!(
        unknown
            .stderr
            .contains("no built-in profile named \"no-such-profile\""),
        "{}",
        unknown.stderr
    );
}
