//! The README's "Without fieldkit" recipe, run as written with the real sha256sum, unzip
//! and ssh-keygen: on a one-time-key bundle and an own-key bundle it succeeds, on an
//! altered bundle, a re-hashed altered bundle and another responder's bundle it fails;
//! after a rename done as the README says it still succeeds. The recipe each report
//! prints (text report, and the report.html sealed in the bundle) is run as printed too.
//! And `verify` finds the sidecars of a bundle renamed without them by the bundle id.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

const IDENTITY: &str = "you@unit.example";

/// The fenced `sh` block after `<!-- recipe:NAME` in README.md.
fn readme_block(name: &str) -> String {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let at = readme
        .find(&format!("<!-- recipe:{name}"))
        .unwrap_or_else(|| panic!("README.md has no recipe:{name} block"));
    let after = &readme[at..];
    let start = after.find("```sh\n").unwrap() + "```sh\n".len();
    let end = after[start..].find("```").unwrap();
    after[start..start + end].to_string()
}

struct Bundle {
    path: PathBuf,
    fingerprint: String,
}

fn collect_bundle(src: &Path, out: &Path, extra: &[&str]) -> Bundle {
    let (r, path) = collect(src, out, extra);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    Bundle {
        path,
        fingerprint: r.json()["signer_fingerprint"].as_str().unwrap().to_string(),
    }
}

/// A fresh folder holding the bundle and its sidecars under `name` (renamed together,
/// keeping the suffixes, as the README says).
fn folder_with(b: &Path, dir: &Path, name: &str) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    for suffix in ["", ".sha256", ".sig"] {
        let mut from = b.as_os_str().to_os_string();
        from.push(suffix);
        std::fs::copy(&from, dir.join(format!("{name}{suffix}"))).unwrap();
    }
    dir.join(name)
}

/// Run `script` with `sh -e` in `dir` with these variables.
fn run_sh(dir: &Path, script: &str, vars: &[(&str, &str)]) -> Run {
    let mut cmd = Command::new("sh");
    cmd.arg("-ec").arg(script).current_dir(dir);
    for (k, v) in vars {
        cmd.env(k, v);
    }
    finish(cmd.output().unwrap())
}

fn one_time_recipe() -> String {
    readme_block("check") + &readme_block("one-time-key")
}

fn own_key_recipe() -> String {
    readme_block("check") + &readme_block("own-key")
}

/// Change one byte of a member's stored content (members are stored, not compressed).
fn alter(bundle: &Path, needle: &[u8]) {
    let mut data = std::fs::read(bundle).unwrap();
    let at = data
        .windows(needle.len())
        .position(|w| w == needle)
        .expect("content in the bundle");
    data[at] ^= 0x20;
    std::fs::write(bundle, data).unwrap();
}

fn html_unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

#[test]
fn the_readme_recipe_checks_one_time_and_own_key_bundles_and_rejects_altered_ones() {
    for (tool, package) in [
        ("sha256sum", "coreutils"),
        ("unzip", "unzip"),
        ("ssh-keygen", "openssh-client"),
    ] {
        require_tool(tool, package);
    }
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    let src = d.join("src");
    std::fs::create_dir_all(src.join("docs")).unwrap();
    std::fs::write(src.join("docs/a.txt"), "the evidence, word for word\n").unwrap();
    std::fs::write(src.join("b.bin"), vec![7u8; 3000]).unwrap();
    let key = d.join("examiner");
    let kg = run(&[
        "keygen",
        "--out",
        key.to_str().unwrap(),
        "--identity",
        IDENTITY,
    ]);
    assert_eq!(kg.code, 0, "{}", kg.stderr);
    // The lab's allowed_signers file is the line keygen printed.
    let lab_signers = d.join("lab_allowed_signers");
    std::fs::write(&lab_signers, &kg.stdout).unwrap();

    let one_time = collect_bundle(&src, &d.join("out-ot"), &[]);
    let own = collect_bundle(&src, &d.join("out-own"), &["--key", key.to_str().unwrap()]);
    let another = collect_bundle(&src, &d.join("out-another"), &[]);
    let name = |b: &Bundle| b.path.file_name().unwrap().to_str().unwrap().to_string();

    // One-time key, under the name collect gave it and renamed as the README says.
    for (i, n) in [name(&one_time), "case.zip".to_string()].iter().enumerate() {
        let dir = folder_with(&one_time.path, &d.join(format!("ot{i}")), n)
            .parent()
            .unwrap()
            .to_path_buf();
        let r = run_sh(
            &dir,
            &one_time_recipe(),
            &[("B", n), ("FP", &one_time.fingerprint)],
        );
        assert_eq!(
            r.code, 0,
            "one-time recipe on {n}: {}{}",
            r.stdout, r.stderr
        );
        assert!(r.stdout.contains(&format!("{n}: OK")), "{}", r.stdout);
        assert!(
            r.stdout
                .contains("Good \"fieldkit-evidence\" signature for responder"),
            "{}",
            r.stdout
        );
    }
    // A plain `sha256sum -c` of the renamed bundle looks for the old name: why the
    // recipe checks the recorded hash against the name given.
    let plain = sh(&format!(
        "cd {} && sha256sum -c case.zip.sha256",
        d.join("ot1").display()
    ));
    assert_ne!(plain.code, 0, "{}", plain.stdout);

    // Own key, with the lab's allowed_signers file and the examiner's identity.
    for (i, n) in [name(&own), "case.zip".to_string()].iter().enumerate() {
        let dir = d.join(format!("own{i}"));
        folder_with(&own.path, &dir, n);
        let r = run_sh(
            &dir,
            &own_key_recipe(),
            &[
                ("B", n),
                ("A", lab_signers.to_str().unwrap()),
                ("I", IDENTITY),
            ],
        );
        assert_eq!(r.code, 0, "own-key recipe on {n}: {}{}", r.stdout, r.stderr);
        assert!(
            r.stdout.contains(&format!(
                "Good \"fieldkit-evidence\" signature for {IDENTITY}"
            )),
            "{}",
            r.stdout
        );
    }
    // The own-key recipe refuses the one-time bundle: its key is not the lab's.
    let dir = d.join("own-wrong");
    folder_with(&one_time.path, &dir, "case.zip");
    let r = run_sh(
        &dir,
        &own_key_recipe(),
        &[
            ("B", "case.zip"),
            ("A", lab_signers.to_str().unwrap()),
            ("I", IDENTITY),
        ],
    );
    assert_ne!(r.code, 0, "{}{}", r.stdout, r.stderr);

    // Altered: the stored content changed, the sidecar not. The first command fails.
    let dir = d.join("altered");
    let b = folder_with(&one_time.path, &dir, "case.zip");
    alter(&b, b"the evidence, word for word");
    let r = run_sh(
        &dir,
        &one_time_recipe(),
        &[("B", "case.zip"), ("FP", &one_time.fingerprint)],
    );
    assert_ne!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("case.zip: FAILED"), "{}", r.stdout);
    // Altered and the .sha256 sidecar re-made to match: the member check fails.
    let whole = sh(&format!("sha256sum {} | cut -d' ' -f1", b.display()));
    std::fs::write(
        dir.join("case.zip.sha256"),
        format!("{}  case.zip\n", whole.stdout.trim()),
    )
    .unwrap();
    let r = run_sh(
        &dir,
        &one_time_recipe(),
        &[("B", "case.zip"), ("FP", &one_time.fingerprint)],
    );
    assert_ne!(r.code, 0, "{}{}", r.stdout, r.stderr);
    // unzip already reports the CRC-32 of the altered member; nothing after it runs.
    assert!(
        r.stderr.contains("files/docs/a.txt") && r.stderr.contains("bad CRC"),
        "{}",
        r.stderr
    );
    assert!(!r.stdout.contains("Good "), "{}", r.stdout);
    // Altered as a forger with a ZIP library would (the member replaced, its CRC-32 and
    // every offset rebuilt) and the .sha256 re-made: sha256sum of the members catches it.
    let dir = d.join("forged");
    let b = folder_with(&one_time.path, &dir, "case.zip");
    let forged = d.join("forged-a.txt");
    std::fs::write(&forged, "the evidence, word for WORD\n").unwrap();
    let out = d.join("forged.zip");
    let r = zipedit(&[
        "rewrite",
        b.to_str().unwrap(),
        out.to_str().unwrap(),
        &format!("replace=files/docs/a.txt:{}", forged.display()),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    std::fs::rename(&out, &b).unwrap();
    let whole = sh(&format!("sha256sum {} | cut -d' ' -f1", b.display()));
    std::fs::write(
        dir.join("case.zip.sha256"),
        format!("{}  case.zip\n", whole.stdout.trim()),
    )
    .unwrap();
    let r = run_sh(
        &dir,
        &one_time_recipe(),
        &[("B", "case.zip"), ("FP", &one_time.fingerprint)],
    );
    assert_ne!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("files/docs/a.txt: FAILED"),
        "{}",
        r.stdout
    );
    assert!(!r.stdout.contains("Good "), "{}", r.stdout);
    // Another responder's intact bundle passed off as this one: the fingerprint in the
    // paper log does not match its key.
    let dir = d.join("another");
    folder_with(&another.path, &dir, "case.zip");
    let r = run_sh(
        &dir,
        &one_time_recipe(),
        &[("B", "case.zip"), ("FP", &one_time.fingerprint)],
    );
    assert_ne!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(!r.stdout.contains("Good "), "{}", r.stdout);

    // The recipe each report prints runs as printed: the text report of both bundles,
    // and the report.html collect sealed into the one-time bundle.
    for (b, extra) in [
        (&one_time, vec![]),
        (
            &own,
            vec![
                "--allowed-signers".to_string(),
                lab_signers.to_str().unwrap().to_string(),
                "--identity".to_string(),
                IDENTITY.to_string(),
            ],
        ),
        (&own, vec![]),
    ] {
        let dir = d.join(format!("report-{}", name(b)));
        let _ = std::fs::remove_dir_all(&dir);
        let bundle = folder_with(&b.path, &dir, &name(b));
        let mut args = vec!["report".to_string(), bundle.to_str().unwrap().to_string()];
        args.extend(extra.iter().cloned());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let rep = run(&args);
        assert_eq!(rep.code, 0, "{}", rep.stderr);
        let heading = rep
            .stdout
            .find("How to check without fieldkit")
            .expect("the text report has the recipe");
        let body = &rep.stdout[heading..];
        let body = &body[body.find('\n').unwrap() + 1..];
        let script = body.split("\n\n").next().unwrap();
        assert!(
            script.contains(&readme_block("check")),
            "the report's recipe is the README's:\n{script}"
        );
        if extra.is_empty() && b.path == own.path {
            // Without --allowed-signers the lab's file is called allowed_signers, and the
            // identity is the one keygen gave the key.
            assert!(script.contains(&format!("I={IDENTITY} ")), "{script}");
            std::fs::copy(&lab_signers, dir.join("allowed_signers")).unwrap();
        }
        let r = run_sh(&dir, script, &[]);
        assert_eq!(
            r.code, 0,
            "report recipe:\n{script}\n{}{}",
            r.stdout, r.stderr
        );
    }
    let sealed = String::from_utf8(member(&one_time.path, "report.html")).unwrap();
    let pre = &sealed[sealed.find("<pre id=\"recipe\">").unwrap() + "<pre id=\"recipe\">".len()..];
    let script = html_unescape(&pre[..pre.find("</pre>").unwrap()]);
    assert!(
        script.starts_with(&format!(
            "B={}\nFP={}",
            name(&one_time),
            one_time.fingerprint
        )),
        "{script}"
    );
    let dir = d.join("sealed-report");
    folder_with(&one_time.path, &dir, &name(&one_time));
    let r = run_sh(&dir, &script, &[]);
    assert_eq!(
        r.code, 0,
        "report.html recipe:\n{script}\n{}{}",
        r.stdout, r.stderr
    );
}

#[test]
fn verify_finds_the_sidecars_of_a_renamed_bundle_by_name_and_by_bundle_id() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    let src = d.join("src");
    std::fs::create_dir(&src).unwrap();
    std::fs::write(src.join("a.txt"), "renamed evidence\n").unwrap();
    let b = collect_bundle(&src, &d.join("out"), &[]);
    let original = b.path.file_name().unwrap().to_str().unwrap().to_string();

    // Renamed with its sidecars: found by name; the .sha256 still names the original.
    let dir = d.join("together");
    let case = folder_with(&b.path, &dir, "case.zip");
    let v = verify(&case, &["--json"]).json();
    assert_eq!(v["exit_code"], 0, "{v}");
    let notes: Vec<String> = serde_json::from_value(v["notes"].clone()).unwrap();
    assert!(
        notes.iter().any(|n| n.contains(&format!(
            "names {original:?}, the bundle is now called \"case.zip\""
        ))),
        "{notes:?}"
    );
    assert!(
        !notes
            .iter()
            .any(|n| n.contains("no ") && n.contains("sidecar")),
        "{notes:?}"
    );

    // Renamed alone: the sidecars keep the names collect gave them, found by the bundle id.
    let dir = d.join("alone");
    folder_with(&b.path, &dir, &original);
    std::fs::rename(dir.join(&original), dir.join("case.zip")).unwrap();
    let v = verify(&dir.join("case.zip"), &["--json"]).json();
    assert_eq!(v["exit_code"], 0, "{v}");
    let notes: Vec<String> = serde_json::from_value(v["notes"].clone()).unwrap();
    for suffix in [".sha256", ".sig"] {
        assert!(
            notes.iter().any(|n| n.starts_with(&format!(
                "sidecar {} found by the bundle id",
                dir.join(format!("{original}{suffix}")).display()
            ))),
            "{notes:?}"
        );
    }
    // What is found is checked: a wrong hash in it makes the bundle invalid.
    std::fs::write(
        dir.join(format!("{original}.sha256")),
        format!("{}  {original}\n", "0".repeat(64)),
    )
    .unwrap();
    let v = verify(&dir.join("case.zip"), &[]);
    assert_eq!(v.code, 1, "{}", v.stdout);
    assert!(v.stdout.contains("[sidecar_mismatch]"), "{}", v.stdout);
    // Without its sidecars at all it says so and stays intact.
    let dir = d.join("bare");
    std::fs::create_dir(&dir).unwrap();
    std::fs::copy(&b.path, dir.join("case.zip")).unwrap();
    let v = verify(&dir.join("case.zip"), &[]);
    assert_eq!(v.code, 0, "{}", v.stdout);
    assert!(
        v.stdout
            .contains("case.zip.sha256 sidecar beside the bundle"),
        "{}",
        v.stdout
    );
}
