//! Every byte of a bundle is bound (issue 16, item 3): no structural change a forger with a
//! ZIP library can make — any header field of any local header, central record, ZIP64 or
//! end record, the extra fields, times, padding and gaps anywhere, the order of members in
//! the file, the armour of `SHA256SUMS.sig` — leaves a bundle that `fieldkit verify`
//! calls VALID with the original signature, whether the signer's key is given
//! (`--pubkey`) or taken from the bundle (self-attested). The mutations are made by
//! tests/tools/zipforge.py (Python's zipfile reads, its own writer rebuilds every CRC,
//! size, offset and count around the change; the same writer rebuilds an unmutated bundle
//! byte for byte, so a rejection comes from the change and not from the rebuild). The
//! armour variants are also given to the real `ssh-keygen -Y check-novalidate`: fieldkit
//! never accepts what it rejects. Encrypted bundles get the same rules on the inner ZIP:
//! a forger who can decrypt re-encrypts mutated archives with the stock `age`.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::*;

/// One collected bundle and the key that signed it.
struct Signed {
    what: &'static str,
    bundle: PathBuf,
    pubkey: PathBuf,
}

fn evidence(dir: &Path) -> PathBuf {
    let src = dir.join("src");
    std::fs::create_dir_all(src.join("docs")).unwrap();
    std::fs::write(src.join("docs/a.txt"), b"alpha evidence\n").unwrap();
    std::fs::write(src.join("b.txt"), b"bravo evidence\n").unwrap();
    // Times with fractions, before 1970 (rounded down, DOS 1980), and beyond the 32-bit
    // extended timestamp and the DOS range (no 0x5455 field, DOS year 2107).
    std::fs::write(src.join("docs/old.txt"), b"written in 1999\n").unwrap();
    std::fs::write(src.join("docs/1960.txt"), b"written in 1960\n").unwrap();
    std::fs::write(src.join("2200.txt"), b"written in 2200\n").unwrap();
    let r = sh(&format!(
        "cd '{}' && touch -d '1999-12-31 23:59:58.75 UTC' docs/old.txt && \
         touch -d '2030-06-15 12:00:01.5 UTC' b.txt && \
         touch -d '1960-01-01 00:00:00.5 UTC' docs/1960.txt && \
         touch -d '2200-03-04 05:06:07.25 UTC' 2200.txt",
        src.display()
    ));
    assert_eq!(r.code, 0, "{}", r.stderr);
    src
}

/// The bundles under test: signed with a one-time key, and with an examiner's `--key`.
fn bundles(dir: &Path) -> Vec<Signed> {
    let src = evidence(dir);
    let (r, one_time) = collect(&src, &dir.join("out-one-time"), &["--case", "B-1"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let one_time_pub = dir.join("one-time.pub");
    std::fs::write(&one_time_pub, member(&one_time, "signer.pub")).unwrap();
    let key = dir.join("examiner");
    let k = run(&[
        "keygen",
        "--out",
        key.to_str().unwrap(),
        "--identity",
        "anna@lab.example",
    ]);
    assert_eq!(k.code, 0, "{}", k.stderr);
    let (r, keyed) = collect(
        &src,
        &dir.join("out-key"),
        &["--key", key.to_str().unwrap(), "--case", "B-2"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    vec![
        Signed {
            what: "one-time key",
            bundle: one_time,
            pubkey: one_time_pub,
        },
        Signed {
            what: "--key",
            bundle: keyed,
            pubkey: dir.join("examiner.pub"),
        },
    ]
}

/// The two bundles and their mutations, made once for all tests.
struct Fixture {
    _dir: tempfile::TempDir,
    signed: Vec<Signed>,
    mutations: Vec<Vec<(PathBuf, String)>>,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        require_tool("python3", "python3");
        let dir = tempfile::tempdir().unwrap();
        let signed = bundles(dir.path());
        let mutations = signed
            .iter()
            .enumerate()
            .map(|(i, b)| {
                mutations(
                    &b.bundle,
                    &dir.path().join(format!("mut-{i}")),
                    &["--pubkey", b.pubkey.to_str().unwrap()],
                )
            })
            .collect();
        Fixture {
            _dir: dir,
            signed,
            mutations,
        }
    })
}

/// `fieldkit verify` under coreutils' `timeout` (a hang is exit 124, never a stuck test):
/// the exit code and stdout.
fn verify_code(bundle: &Path, extra: &[&str]) -> (i32, String) {
    let out = Command::new("timeout")
        .arg("120")
        .arg(bin())
        .arg("verify")
        .arg(bundle)
        .args(extra)
        .stdin(Stdio::null())
        .output()
        .expect("run fieldkit verify");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// Exit codes that say "intact": valid, valid but incomplete, intact but another signer.
fn accepted(code: i32) -> bool {
    matches!(code, 0 | 4 | 5)
}

fn forge(args: &[&str]) -> serde_json::Value {
    let tool = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/tools/zipforge.py");
    let out = Command::new("python3")
        .arg(tool)
        .args(args)
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "zipforge {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("zipforge prints JSON")
}

/// (file, label) of every mutation of `bundle`, written to `dir`; checks that the forger
/// rebuilds the unmutated bundle byte for byte and that the rebuild verifies.
fn mutations(bundle: &Path, dir: &Path, trust: &[&str]) -> Vec<(PathBuf, String)> {
    std::fs::create_dir_all(dir).unwrap();
    let list = forge(&["mutate", bundle.to_str().unwrap(), dir.to_str().unwrap()]);
    let identity = dir.join("identity.zip");
    assert!(
        std::fs::read(&identity).unwrap() == std::fs::read(bundle).unwrap(),
        "the forger's writer rebuilds the bundle byte for byte"
    );
    let (code, out) = verify_code(&identity, trust);
    assert_eq!(code, 0, "the unmutated rebuild verifies: {out}");
    list.as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                PathBuf::from(m["file"].as_str().unwrap()),
                m["label"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Verify every (file, trust arguments) on two threads (the CI machine has two cores);
/// returns the exit codes in order.
fn verify_all(jobs: &[(PathBuf, Vec<String>)]) -> Vec<i32> {
    let next = AtomicUsize::new(0);
    let codes: Vec<AtomicUsize> = jobs.iter().map(|_| AtomicUsize::new(usize::MAX)).collect();
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some((file, args)) = jobs.get(i) else {
                        break;
                    };
                    let args: Vec<&str> = args.iter().map(String::as_str).collect();
                    let (code, _) = verify_code(file, &args);
                    codes[i].store(code as usize, Ordering::Relaxed);
                }
            });
        }
    });
    codes
        .iter()
        .map(|c| c.load(Ordering::Relaxed) as i32)
        .collect()
}

#[test]
fn no_structural_mutation_of_a_signed_bundle_verifies_with_or_without_the_signers_key() {
    let f = fixture();
    let mut tried = 0usize;
    let mut runs = 0usize;
    let mut wrong = Vec::new();
    for (b, muts) in f.signed.iter().zip(&f.mutations) {
        let pubkey = ["--pubkey".to_string(), b.pubkey.display().to_string()];
        for trust in [&[][..], &pubkey[..]] {
            let (code, out) = verify_code(
                &b.bundle,
                &trust.iter().map(String::as_str).collect::<Vec<_>>(),
            );
            assert_eq!(
                code, 0,
                "{}: the bundle as collected verifies: {out}",
                b.what
            );
        }
        let jobs: Vec<(PathBuf, Vec<String>)> = muts
            .iter()
            .flat_map(|(f, _)| [(f.clone(), Vec::new()), (f.clone(), pubkey.to_vec())])
            .collect();
        let codes = verify_all(&jobs);
        let mut accepted_here = 0;
        for (i, ((_, args), code)) in jobs.iter().zip(&codes).enumerate() {
            if accepted(*code) {
                accepted_here += 1;
                let how = if args.is_empty() {
                    "self-attested"
                } else {
                    "--pubkey"
                };
                wrong.push(format!(
                    "{} bundle, {how}: exit {code}: {}",
                    b.what,
                    muts[i / 2].1
                ));
            }
        }
        eprintln!(
            "bundle_binding: {} bundle: {} structural mutations × 2 trust modes = {} verify \
             runs, {} accepted",
            b.what,
            muts.len(),
            jobs.len(),
            accepted_here
        );
        tried += muts.len();
        runs += jobs.len();
    }
    eprintln!(
        "bundle_binding: hardening count: {tried} structural mutations tried ({runs} verify \
         runs), {} accepted",
        wrong.len()
    );
    assert!(
        wrong.is_empty(),
        "{} mutated bundles verified as intact:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

/// Each class of change that used to pass is named by its own problem code.
#[test]
fn each_formerly_accepted_change_is_named() {
    let f = fixture();
    let (b, muts) = (&f.signed[1], &f.mutations[1]);
    let cases = [
        (
            "files/b.txt: mtime +1 s, dos recomputed (both)",
            "header_time",
        ),
        (
            "files/docs/old.txt: extended timestamp removed, dos kept",
            "header_time",
        ),
        (
            "manifest.json: mtime -1 h, dos recomputed (both)",
            "header_time",
        ),
        (
            "SHA256SUMS.sig: mtime set to 2020-01-01, dos recomputed",
            "header_time",
        ),
        (
            "files.jsonl: ZIP64 sizes in local header (the large-member form)",
            "altered_header",
        ),
        (
            "members 0 and 1 swapped in the file, central order kept",
            "member_order",
        ),
        ("SHA256SUMS.sig armour: CRLF line ends", "signature_armour"),
        (
            "SHA256SUMS.sig armour: no final newline",
            "signature_armour",
        ),
        (
            "SHA256SUMS.sig armour: 300 KiB of text before the header (hidden payload)",
            "signature_armour",
        ),
    ];
    for (label, code) in cases {
        let (file, _) = muts
            .iter()
            .find(|(_, l)| l == label)
            .unwrap_or_else(|| panic!("no mutation {label:?}"));
        let v = verify(file, &["--pubkey", b.pubkey.to_str().unwrap(), "--json"]);
        assert_eq!(v.code, 1, "{label}: {}", v.stdout);
        let report = v.json();
        let problems = report["problems"].as_array().unwrap();
        assert!(
            problems.iter().any(|p| p["code"] == code),
            "{label}: expected [{code}] in {problems:?}"
        );
    }
}

/// `ssh-keygen -Y check-novalidate` over every armour variant of SHA256SUMS.sig: whatever
/// fieldkit accepts, ssh-keygen accepts; whatever ssh-keygen rejects, fieldkit rejects;
/// fieldkit accepts exactly the canonical armour it writes.
#[test]
fn ssh_keygen_and_fieldkit_agree_on_every_armour_variant_of_the_signature() {
    require_tool("ssh-keygen", "openssh-client");
    let dir = tempfile::tempdir().unwrap();
    let b = &fixture().signed[0];
    let sums = dir.path().join("SHA256SUMS");
    std::fs::write(&sums, member(&b.bundle, "SHA256SUMS")).unwrap();
    let sig = dir.path().join("SHA256SUMS.sig");
    std::fs::write(&sig, member(&b.bundle, "SHA256SUMS.sig")).unwrap();
    let vdir = dir.path().join("variants");
    std::fs::create_dir_all(&vdir).unwrap();
    let variants = forge(&["armour", sig.to_str().unwrap(), vdir.to_str().unwrap()]);
    let mut table = BTreeMap::new();
    let mut lenient = Vec::new();
    for (k, v) in variants.as_array().unwrap().iter().enumerate() {
        let file = v["file"].as_str().unwrap();
        let label = v["label"].as_str().unwrap().to_string();
        let keygen = Command::new("ssh-keygen")
            .args([
                "-Y",
                "check-novalidate",
                "-n",
                "fieldkit-evidence",
                "-s",
                file,
            ])
            .stdin(std::fs::File::open(&sums).unwrap())
            .output()
            .expect("ssh-keygen");
        let keygen_ok = keygen.status.success();
        let rebuilt = vdir.join(format!("{k:02}.zip"));
        forge_to(&b.bundle, Path::new(file), &rebuilt);
        if k == 0 {
            assert!(
                std::fs::read(&rebuilt).unwrap() == std::fs::read(&b.bundle).unwrap(),
                "the canonical armour rebuilds the bundle byte for byte"
            );
        }
        let (code, out) = verify_code(&rebuilt, &["--pubkey", b.pubkey.to_str().unwrap()]);
        let (self_code, _) = verify_code(&rebuilt, &[]);
        assert_eq!(
            accepted(code),
            accepted(self_code),
            "{label}: the same verdict with and without --pubkey"
        );
        if k == 0 {
            assert!(keygen_ok, "ssh-keygen accepts fieldkit's own armour");
            assert_eq!(code, 0, "{label}: {out}");
        } else {
            assert_eq!(
                code, 1,
                "{label}: only the canonical armour verifies: {out}"
            );
            if keygen_ok {
                lenient.push(label.clone());
            }
        }
        assert!(
            !accepted(code) || keygen_ok,
            "{label}: fieldkit accepts what ssh-keygen rejects"
        );
        eprintln!(
            "bundle_binding: armour {label:?}: ssh-keygen {}, fieldkit exit {code}",
            if keygen_ok { "good" } else { "rejects" }
        );
        table.insert(label, (keygen_ok, code));
    }
    eprintln!(
        "bundle_binding: {} armour variants; ssh-keygen accepts {} that fieldkit rejects \
         (not byte for byte what fieldkit wrote): {lenient:?}",
        table.len(),
        lenient.len()
    );
    assert!(table.len() >= 20);
}

fn forge_to(bundle: &Path, sig: &Path, out: &Path) {
    let tool = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/tools/zipforge.py");
    let r = Command::new("python3")
        .arg(tool)
        .args(["set-sig"])
        .arg(bundle)
        .arg(sig)
        .arg(out)
        .output()
        .expect("python3");
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
}

/// An encrypted bundle: the inner ZIP is held to the same rules. A forger who holds an
/// identity decrypts with `age -d`, mutates, and re-encrypts to the recipient with `age`.
#[test]
fn an_encrypted_bundles_inner_zip_is_bound_the_same_way() {
    require_tool("python3", "python3");
    require_tool("age", "age");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let identity = d.join("age.key");
    let r = sh(&format!("age-keygen -o '{}' 2>&1", identity.display()));
    assert_eq!(r.code, 0, "{}", r.stdout);
    let recipient = r
        .stdout
        .split_whitespace()
        .find(|w| w.starts_with("age1"))
        .expect("age-keygen prints the recipient")
        .to_string();
    let src = evidence(d);
    let (r, bundle) = collect(&src, &d.join("out"), &["--encrypt-to", &recipient]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let plain = d.join("plain.zip");
    let r = sh(&format!(
        "age -d -i '{}' -o '{}' '{}'",
        identity.display(),
        plain.display(),
        bundle.display()
    ));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let signer = d.join("signer.pub");
    std::fs::write(&signer, member(&plain, "signer.pub")).unwrap();
    let muts = mutations(
        &plain,
        &d.join("mut"),
        &["--pubkey", signer.to_str().unwrap()],
    );
    // The classes that used to pass, and a sample of the rest.
    let chosen: Vec<&(PathBuf, String)> = muts
        .iter()
        .enumerate()
        .filter(|(i, (_, l))| {
            l.contains("mtime")
                || l.contains("armour")
                || l.contains("swapped in the file")
                || l.contains("ZIP64 sizes in local header")
                || i % 40 == 0
        })
        .map(|(_, m)| m)
        .collect();
    let enc = d.join("enc");
    std::fs::create_dir_all(&enc).unwrap();
    let mut jobs = Vec::new();
    for (k, (file, _)) in chosen.iter().enumerate() {
        let out = enc.join(format!("{k:04}.zip.age"));
        jobs.push((out.clone(), file.clone()));
    }
    // Re-encrypted by the stock age, in one shell.
    let mut script = format!(
        "age -r {recipient} -o '{}' '{}' || exit 1\n",
        enc.join("identity.zip.age").display(),
        d.join("mut/identity.zip").display()
    );
    for (out, file) in &jobs {
        script.push_str(&format!(
            "age -r {recipient} -o '{}' '{}' || exit 1\n",
            out.display(),
            file.display()
        ));
    }
    let r = sh(&script);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let id = identity.to_str().unwrap().to_string();
    let (code, out) = verify_code(
        &enc.join("identity.zip.age"),
        &["--identity-file", &id, "--pubkey", signer.to_str().unwrap()],
    );
    assert_eq!(
        code, 0,
        "the unmutated archive re-encrypted by age verifies: {out}"
    );
    let verify_jobs: Vec<(PathBuf, Vec<String>)> = jobs
        .iter()
        .flat_map(|(out, _)| {
            [
                (out.clone(), vec!["--identity-file".into(), id.clone()]),
                (
                    out.clone(),
                    vec![
                        "--identity-file".into(),
                        id.clone(),
                        "--pubkey".into(),
                        signer.display().to_string(),
                    ],
                ),
            ]
        })
        .collect();
    let codes = verify_all(&verify_jobs);
    let wrong: Vec<String> = verify_jobs
        .iter()
        .zip(&codes)
        .filter(|(_, c)| accepted(**c))
        .map(|((out, _), c)| {
            let k = jobs.iter().position(|(o, _)| o == out).unwrap();
            format!("exit {c}: {}", chosen[k].1)
        })
        .collect();
    eprintln!(
        "bundle_binding: encrypted bundle: {} mutations of the inner ZIP re-encrypted × 2 \
         trust modes, {} accepted",
        jobs.len(),
        wrong.len()
    );
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
