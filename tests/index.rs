//! `fieldkit index` over bundles with overlapping content: the shared hashes it finds
//! equal a direct computation by Python over the bundles' files.jsonl members (read with
//! the real `unzip`), its tables agree with the `sqlite3` CLI, `--hash` names every
//! exhibit holding a file, and a tampered bundle is refused (or marked with
//! --allow-invalid).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{fieldkit, require_tool, run};

fn write(p: &Path, data: &[u8]) {
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, data).unwrap();
}

fn bundles(root: &Path) -> Vec<PathBuf> {
    // Exhibit i holds common.txt (all), pair-{i/2}.txt (shared by two) and own-i.txt.
    (0..4)
        .map(|i| {
            let src = root.join(format!("src{i}"));
            write(&src.join("common.txt"), b"in every exhibit\n");
            write(
                &src.join(format!("pair/{}.txt", i / 2)),
                format!("pair {}\n", i / 2).as_bytes(),
            );
            write(
                &src.join(format!("own-{i}.txt")),
                format!("only {i}\n").as_bytes(),
            );
            let ex = format!("E{i}");
            let mut flags = vec!["--quiet", "--exhibit", &ex];
            if i == 0 {
                // High-entropy bytes: the triage analyzers raise findings on E0 only.
                let noise: Vec<u8> = (0..(1u32 << 20))
                    .map(|k| ((k.wrapping_mul(2654435761) >> 11) as u8) ^ ((k >> 3) as u8))
                    .collect();
                write(&src.join("vault.bin"), &noise);
            } else {
                flags.push("--no-triage");
            }
            let (r, b) = common::collect(&src, &root.join(format!("out/E{i}")), &flags);
            assert_eq!(r.code, 0, "{}", r.stderr);
            b
        })
        .collect()
}

#[test]
fn shared_hashes_equal_a_direct_computation_and_a_tampered_bundle_is_refused() {
    require_tool("python3", "python3");
    require_tool("sqlite3", "sqlite3");
    require_tool("unzip", "unzip");
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    let b = bundles(root);
    let db = root.join("case.sqlite");
    let r = run(&[
        "index",
        root.join("out").to_str().unwrap(),
        "--out",
        db.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let q = run(&["index", "query", db.to_str().unwrap(), "--shared", "--json"]);
    assert_eq!(q.code, 0, "{}", q.stderr);
    let mut ours: Vec<(String, String)> = q
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["sha256"].as_str().unwrap().to_string(),
                r["exhibit_list"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    ours.sort();
    // Python over the files.jsonl members, exhibit from each manifest.
    let py = r#"
import json, subprocess, sys, collections
seen = collections.defaultdict(set)
for b in sys.argv[1:]:
    m = json.loads(subprocess.run(["unzip", "-p", b, "manifest.json"], check=True, capture_output=True).stdout)
    ex = m["case"]["exhibit"]
    for line in subprocess.run(["unzip", "-p", b, "files.jsonl"], check=True, capture_output=True).stdout.splitlines():
        r = json.loads(line)
        if r.get("sha256"):
            seen[r["sha256"]].add(ex)
for h in sorted(seen):
    if len(seen[h]) >= 2:
        print(h, ",".join(sorted(seen[h])))
"#;
    let out = Command::new("python3")
        .arg("-c")
        .arg(py)
        .args(&b)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut direct: Vec<(String, String)> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let (h, e) = l.split_once(' ').unwrap();
            (h.to_string(), e.to_string())
        })
        .collect();
    direct.sort();
    assert_eq!(direct.len(), 3, "common + two pairs: {direct:?}");
    assert_eq!(ours, direct);
    // The sqlite3 CLI reads the same database: 4 bundles valid, records match files.jsonl.
    let s = Command::new("sqlite3")
        .arg(&db)
        .arg("SELECT COUNT(*), SUM(indexed), SUM(verdict = 'valid') FROM bundles; SELECT COUNT(*) FROM files;")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&s.stdout).to_string();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "4|4|4", "{text}");
    let total: usize = b
        .iter()
        .map(|b| {
            let o = Command::new("unzip")
                .arg("-p")
                .arg(b)
                .arg("files.jsonl")
                .output()
                .unwrap();
            String::from_utf8_lossy(&o.stdout).lines().count()
        })
        .sum();
    assert_eq!(lines[1], total.to_string());
    // --hash: the common file is in all four exhibits; text and CSV agree.
    let common = &direct.iter().find(|(_, e)| e == "E0,E1,E2,E3").unwrap().0;
    let q = run(&[
        "index",
        "query",
        db.to_str().unwrap(),
        "--hash",
        common,
        "--csv",
    ]);
    assert_eq!(q.code, 0);
    let rows: Vec<&str> = q.stdout.lines().collect();
    assert_eq!(rows[0].trim_end(), "exhibit,path,size,status,sha256,bundle");
    assert_eq!(rows.len(), 5, "{}", q.stdout);
    let q = run(&[
        "index",
        "query",
        db.to_str().unwrap(),
        "--hash",
        &common.to_uppercase(),
    ]);
    assert!(q.stdout.contains("(4 row(s))"), "{}", q.stdout);
    // Findings: as many rows at or above info as findings.jsonl lines in all bundles, all
    // from E0; at or above high exactly the high and critical ones.
    let lines: Vec<serde_json::Value> = b
        .iter()
        .flat_map(|b| {
            let o = Command::new("unzip")
                .arg("-p")
                .arg(b)
                .arg("findings.jsonl")
                .output()
                .unwrap();
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(
        !lines.is_empty(),
        "the noise file raises at least one finding"
    );
    let q = run(&[
        "index",
        "query",
        db.to_str().unwrap(),
        "--findings",
        "info",
        "--json",
    ]);
    assert_eq!(q.code, 0);
    let rows = q.json();
    assert_eq!(rows.as_array().unwrap().len(), lines.len(), "{}", q.stdout);
    assert!(
        rows.as_array()
            .unwrap()
            .iter()
            .all(|r| r["exhibit"] == "E0")
    );
    let high = lines
        .iter()
        .filter(|l| l["severity"] == "high" || l["severity"] == "critical")
        .count();
    let q = run(&[
        "index",
        "query",
        db.to_str().unwrap(),
        "--findings",
        "high",
        "--json",
    ]);
    assert_eq!(q.json().as_array().unwrap().len(), high, "{}", q.stdout);
    let q = run(&[
        "index",
        "query",
        db.to_str().unwrap(),
        "--findings",
        "severe",
    ]);
    assert_eq!(q.code, 2);

    // Tamper with E3's bundle: one byte of a stored file.
    let mut bytes = std::fs::read(&b[3]).unwrap();
    let at = bytes.windows(7).position(|w| w == b"only 3\n").unwrap();
    bytes[at] = b'O';
    std::fs::write(&b[3], bytes).unwrap();
    let db2 = root.join("case2.sqlite");
    let r = run(&[
        "index",
        root.join("out").to_str().unwrap(),
        "--out",
        db2.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("REFUSED") && r.stderr.contains("[E3]"),
        "{}",
        r.stderr
    );
    let s = Command::new("sqlite3")
        .arg(&db2)
        .arg("SELECT exhibit, verdict, indexed, (SELECT COUNT(*) FROM files f WHERE f.bundle = b.id) FROM bundles b ORDER BY exhibit;")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&s.stdout).to_string();
    assert_eq!(text.lines().last().unwrap(), "E3|invalid|0|0", "{text}");
    // The refused bundle's files no longer count: only E2 holds pair 1 now.
    let q = run(&[
        "index",
        "query",
        db2.to_str().unwrap(),
        "--shared",
        "--json",
    ]);
    assert_eq!(q.json().as_array().unwrap().len(), 2, "{}", q.stdout);
    // --allow-invalid indexes it, marked.
    let db3 = root.join("case3.sqlite");
    let r = run(&[
        "index",
        root.join("out").to_str().unwrap(),
        "--out",
        db3.to_str().unwrap(),
        "--allow-invalid",
    ]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("indexed and marked"), "{}", r.stderr);
    let s = Command::new("sqlite3")
        .arg(&db3)
        .arg("SELECT verdict, indexed FROM bundles WHERE exhibit = 'E3';")
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&s.stdout).trim(), "invalid|1");
    // An existing index is never overwritten.
    let r = run(&[
        "index",
        root.join("out").to_str().unwrap(),
        "--out",
        db.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("already exists"), "{}", r.stderr);
    assert_eq!(
        fieldkit().arg("--version").output().unwrap().status.code(),
        Some(0)
    );
}
