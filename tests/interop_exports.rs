//! Exports read by the tools labs run: the CASE/UCO JSON-LD (`case.jsonld` in the bundle
//! and `report --format case`) passes `case_validate` (PyPI case-utils 0.18.0, CASE
//! 1.5.0) on a real collection with findings and duplicates; the bodyfile is read by
//! sleuthkit's `mactime -b` and its times are the `stat` times of the source files; the
//! Timesketch timeline has an event per recorded time and per finding.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

fn case_validate() -> PathBuf {
    let tool = std::env::var_os("FIELDKIT_CASE_VALIDATE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("target/case-utils/bin/case_validate")
        });
    assert!(
        tool.is_file(),
        "this test needs case_validate (PyPI case-utils==0.18.0; .ci/run installs it into \
         target/case-utils): none at {} — set FIELDKIT_CASE_VALIDATE",
        tool.display()
    );
    tool
}

const EICAR: &[u8] = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";

/// A tree with a duplicate pair, a known-bad file and an executable (findings).
fn evidence(dir: &Path) -> PathBuf {
    let src = dir.join("src");
    std::fs::create_dir_all(src.join("a")).unwrap();
    std::fs::create_dir_all(src.join("b")).unwrap();
    std::fs::write(src.join("a/one.txt"), b"same content\n").unwrap();
    std::fs::write(src.join("b/two.txt"), b"same content\n").unwrap();
    std::fs::write(src.join("eicar.com"), EICAR).unwrap();
    std::fs::copy("/bin/true", src.join("a/tool")).unwrap();
    std::fs::write(src.join("a/pipe|name.txt"), b"a name with a bar\n").unwrap();
    src
}

fn collect_evidence(t: &Path) -> (PathBuf, PathBuf) {
    let src = evidence(t);
    let eicar = Path::new(env!("CARGO_MANIFEST_DIR")).join("hashsets/eicar.fkhs");
    let (r, bundle) = collect(
        &src,
        &t.join("out"),
        &[
            "--case",
            "2026-1142",
            "--exhibit",
            "EX-3",
            "--examiner",
            "A. Example",
            "--org",
            "Cyber Unit",
            "--known-bad",
            eicar.to_str().unwrap(),
            "--hash",
            "sha256,md5",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    (src, bundle)
}

fn validate(file: &Path) {
    let out = Command::new(case_validate()).arg(file).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("Conforms: True"),
        "case_validate {}:\n{text}\n{}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    // Not even informational results (every IRI ends with a UUID, hashes are strings).
    assert!(
        text.contains("Results (0)") || !text.contains("Results ("),
        "{text}"
    );
}

fn nodes_of<'a>(doc: &'a serde_json::Value, kind: &str) -> Vec<&'a serde_json::Value> {
    doc["@graph"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["@type"] == kind)
        .collect()
}

#[test]
fn case_jsonld_of_a_collection_with_findings_and_duplicates_validates_against_case_1_5() {
    let t = tempfile::tempdir().unwrap();
    let (src, bundle) = collect_evidence(t.path());
    // A member like every other: listed in SHA256SUMS and checked by sha256sum.
    let x = t.path().join("x");
    assert!(
        sh(&format!(
            "unzip -q '{}' -d '{}'",
            bundle.display(),
            x.display()
        ))
        .code
            == 0
    );
    let sums = std::fs::read_to_string(x.join("SHA256SUMS")).unwrap();
    assert!(sums.lines().any(|l| l.ends_with("  case.jsonld")), "{sums}");
    let check = sh(&format!(
        "cd '{}' && sha256sum -c --quiet SHA256SUMS",
        x.display()
    ));
    assert_eq!(check.code, 0, "{}", check.stdout);
    let member = x.join("case.jsonld");
    validate(&member);

    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&member).unwrap()).unwrap();
    let files = nodes_of(&doc, "observable:File");
    let path_of = |n: &serde_json::Value| -> Option<String> {
        n["core:hasFacet"][0]["observable:filePath"]
            .as_str()
            .map(str::to_string)
    };
    let by_path: BTreeMap<String, &serde_json::Value> = files
        .iter()
        .filter_map(|n| Some((path_of(n)?, *n)))
        .collect();
    let p = |rel: &str| format!("{}/{rel}", src.display());
    for rel in [
        "a/one.txt",
        "b/two.txt",
        "eicar.com",
        "a/tool",
        "a/pipe|name.txt",
    ] {
        assert!(
            by_path.contains_key(&p(rel)),
            "no observable for {rel}: {by_path:#?}"
        );
    }
    assert_eq!(by_path.len(), 6, "five files and the source folder");
    // Hashes are the records' (SHA-256 of the source, MD5 asked for).
    let records = records(&bundle);
    let eicar_record = record_for(&records, "eicar.com");
    let eicar_node = by_path[&p("eicar.com")];
    let hashes = &eicar_node["core:hasFacet"][1]["observable:hash"];
    let hash = |alg: &str| {
        hashes
            .as_array()
            .unwrap()
            .iter()
            .find(|h| h["types:hashMethod"] == alg)
            .map(|h| h["types:hashValue"].clone())
    };
    assert_eq!(hash("SHA256").unwrap(), eicar_record["sha256"]);
    assert_eq!(hash("MD5").unwrap(), eicar_record["md5"]);
    assert_eq!(
        eicar_node["core:hasFacet"][0]["observable:modifiedTime"],
        eicar_record["mtime"]
    );
    // The duplicate points at the stored copy.
    let rels = nodes_of(&doc, "observable:ObservableRelationship");
    let dups: Vec<_> = rels
        .iter()
        .filter(|r| r["core:kindOfRelationship"] == "Duplicate_Of")
        .collect();
    assert_eq!(dups.len(), 1, "{dups:#?}");
    let ends = [
        by_path[&p("a/one.txt")]["@id"].clone(),
        by_path[&p("b/two.txt")]["@id"].clone(),
    ];
    assert!(
        ends.contains(&dups[0]["core:source"]["@id"])
            && ends.contains(&dups[0]["core:target"]["@id"])
    );
    assert_ne!(dups[0]["core:source"]["@id"], dups[0]["core:target"]["@id"]);
    // Every file is contained in the source: one relationship whose sources are the
    // five file observables.
    let contained: Vec<_> = rels
        .iter()
        .filter(|r| r["core:kindOfRelationship"] == "Contained_Within")
        .collect();
    assert_eq!(contained.len(), 1, "{contained:#?}");
    let sources: Vec<_> = contained[0]["core:source"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["@id"].clone())
        .collect();
    assert_eq!(sources.len(), 5);
    for rel in [
        "a/one.txt",
        "b/two.txt",
        "eicar.com",
        "a/tool",
        "a/pipe|name.txt",
    ] {
        assert!(sources.contains(&by_path[&p(rel)]["@id"]), "{rel}");
    }
    let source_folder = files
        .iter()
        .find(|n| n["core:hasFacet"][0]["observable:isDirectory"] == true)
        .expect("the source folder's observable");
    assert_eq!(contained[0]["core:target"]["@id"], source_folder["@id"]);
    // The known-bad finding is an annotation on the eicar file.
    let notes = nodes_of(&doc, "core:Annotation");
    let bad = notes
        .iter()
        .find(|a| a["core:name"] == "hashset.known_bad")
        .expect("known-bad annotation");
    assert_eq!(bad["core:object"][0]["@id"], eicar_node["@id"]);
    let findings = String::from_utf8(member_bytes(&bundle, "findings.jsonl")).unwrap();
    assert_eq!(notes.len(), findings.lines().count());
    // Who, when, with what.
    let m = manifest(&bundle);
    let action = nodes_of(&doc, "case-investigation:InvestigativeAction")[0];
    assert_eq!(action["action:startTime"], m["times"]["start_utc"]);
    assert_eq!(action["action:endTime"], m["times"]["end_utc"]);
    let person = nodes_of(&doc, "identity:Person")[0];
    assert_eq!(person["core:name"], "A. Example");
    assert_eq!(action["action:performer"]["@id"], person["@id"]);
    let tool = nodes_of(&doc, "tool:ConfiguredTool")[0];
    assert_eq!(action["action:instrument"]["@id"], tool["@id"]);
    let prov = nodes_of(&doc, "case-investigation:ProvenanceRecord")[0];
    assert_eq!(prov["case-investigation:exhibitNumber"], "EX-3");
    assert_eq!(prov["core:object"].as_array().unwrap().len(), 5);
    assert_eq!(
        nodes_of(&doc, "case-investigation:Investigation")[0]["core:name"],
        "2026-1142"
    );

    // report --format case: the same graph plus the bundle file and its SHA-256.
    let out = t.path().join("report.jsonld");
    let r = run(&[
        "report",
        bundle.to_str().unwrap(),
        "--format",
        "case",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    validate(&out);
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    let whole = sh(&format!("sha256sum '{}'", bundle.display())).stdout;
    let whole = whole.split_whitespace().next().unwrap();
    let bundle_node = nodes_of(&doc, "observable:File")
        .into_iter()
        .find(|n| n["core:hasFacet"][1]["observable:hash"][0]["types:hashValue"] == whole)
        .expect("the bundle's own observable with its sha256");
    assert!(
        bundle_node["core:hasFacet"][0]["observable:fileName"]
            .as_str()
            .unwrap()
            .ends_with(".zip")
    );
}

fn member_bytes(bundle: &Path, name: &str) -> Vec<u8> {
    member(bundle, name)
}

/// `stat` of a file: (atime, mtime, ctime, btime) in whole seconds, inode, size.
fn stat(path: &Path) -> (i64, i64, i64, i64, u64, u64) {
    let out = Command::new("stat")
        .args(["-c", "%X %Y %Z %W %i %s"])
        .arg(path)
        .output()
        .unwrap();
    let v: Vec<i64> = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(|x| x.parse().unwrap())
        .collect();
    (v[0], v[1], v[2], v[3].max(0), v[4] as u64, v[5] as u64)
}

#[test]
fn mactime_reads_the_bodyfile_and_its_times_are_the_source_files_stat_times() {
    require_tool("mactime", "sleuthkit");
    let t = tempfile::tempdir().unwrap();
    let src = evidence(t.path());
    // Distinct, old access and modification times, so each shows as its own row.
    let touch = |rel: &str, a: &str, m: &str| {
        let f = src.join(rel);
        assert_eq!(
            sh(&format!(
                "touch -a -d '{a}' '{}' && touch -m -d '{m}' '{}'",
                f.display(),
                f.display()
            ))
            .code,
            0
        );
    };
    touch("a/one.txt", "2021-03-04 05:06:07Z", "2020-01-02 03:04:05Z");
    touch("eicar.com", "2022-06-07 08:09:10Z", "2019-11-12 13:14:15Z");
    let rels = [
        "a/one.txt",
        "b/two.txt",
        "eicar.com",
        "a/tool",
        "a/pipe|name.txt",
    ];
    let before: BTreeMap<&str, _> = rels.iter().map(|r| (*r, stat(&src.join(r)))).collect();
    let (r, bundle) = collect(&src, &t.path().join("out"), &["--hash", "sha256,md5"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let body = t.path().join("body.txt");
    let rep = run(&[
        "report",
        bundle.to_str().unwrap(),
        "--format",
        "bodyfile",
        "--out",
        body.to_str().unwrap(),
    ]);
    assert_eq!(rep.code, 0, "{}", rep.stderr);
    let text = std::fs::read_to_string(&body).unwrap();
    let md5 = |rel: &str| {
        let o = sh(&format!("md5sum '{}'", src.join(rel).display())).stdout;
        o.split_whitespace().next().unwrap().to_string()
    };
    for rel in rels {
        let name = format!("{}/{}", src.display(), rel).replace('|', "%7C");
        let line = text
            .lines()
            .find(|l| l.split('|').nth(1) == Some(name.as_str()))
            .unwrap_or_else(|| panic!("no bodyfile line for {name}:\n{text}"));
        let f: Vec<&str> = line.split('|').collect();
        assert_eq!(f.len(), 11, "{line}");
        let (a, m, c, b, ino, size) = before[rel];
        assert_eq!(f[0], md5(rel), "{line}");
        assert_eq!(f[2].parse::<u64>().unwrap(), ino, "{line}");
        assert_eq!(f[6].parse::<u64>().unwrap(), size, "{line}");
        assert_eq!(f[7].parse::<i64>().unwrap(), a, "atime {line}");
        assert_eq!(f[8].parse::<i64>().unwrap(), m, "mtime {line}");
        assert_eq!(f[9].parse::<i64>().unwrap(), c, "ctime {line}");
        assert_eq!(f[10].parse::<i64>().unwrap(), b, "btime {line}");
    }
    // mactime itself: every file, at each of its times, with the right letters.
    let out = Command::new("mactime")
        .args(["-b"])
        .arg(&body)
        .args(["-d", "-y", "-z", "UTC"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let csv = String::from_utf8(out.stdout).unwrap();
    // (mactime shows the escaped `%7C` of a name with a bar as the bar again.)
    let row = |rel: &str, date: &str, letter: char| {
        let name = format!("{}/{}", src.display(), rel);
        csv.lines().any(|l| {
            let cols: Vec<&str> = l.split(',').collect();
            cols.len() >= 8
                && cols[0].starts_with(date)
                && cols[2].contains(letter)
                && l.ends_with(&format!("\"{name}\""))
        })
    };
    assert!(row("a/one.txt", "2020-01-02T03:04:05", 'm'), "{csv}");
    assert!(row("a/one.txt", "2021-03-04T05:06:07", 'a'), "{csv}");
    assert!(row("eicar.com", "2019-11-12T13:14:15", 'm'), "{csv}");
    assert!(row("eicar.com", "2022-06-07T08:09:10", 'a'), "{csv}");
    assert!(row("a/pipe|name.txt", "", 'm'), "{csv}");
}

#[test]
fn the_timesketch_timeline_has_an_event_per_recorded_time_and_per_finding() {
    let t = tempfile::tempdir().unwrap();
    let (_src, bundle) = collect_evidence(t.path());
    let records = records(&bundle);
    let times: usize = records
        .iter()
        .map(|r| {
            ["mtime", "atime", "ctime", "btime"]
                .iter()
                .filter(|k| r[**k].is_string())
                .count()
        })
        .sum();
    let findings = String::from_utf8(member(&bundle, "findings.jsonl")).unwrap();
    let r = run(&["report", bundle.to_str().unwrap(), "--format", "timeline"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let events: Vec<serde_json::Value> = r
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(events.len(), times + findings.lines().count());
    for e in &events {
        for k in ["message", "datetime", "timestamp_desc"] {
            assert!(
                e[k].is_string() && !e[k].as_str().unwrap().is_empty(),
                "{e}"
            );
        }
        let dt: jiff::Timestamp = e["datetime"].as_str().unwrap().parse().unwrap();
        assert_eq!(dt.as_microsecond(), e["timestamp"].as_i64().unwrap(), "{e}");
    }
    let eicar = record_for(&records, "eicar.com");
    let bad = events
        .iter()
        .find(|e| e["data_type"] == "fieldkit:finding" && e["status"] == "hashset.known_bad")
        .expect("finding event");
    let read: jiff::Timestamp = eicar["acquired_utc"].as_str().unwrap().parse().unwrap();
    assert_eq!(bad["timestamp"].as_i64().unwrap(), read.as_microsecond());
    let m = events
        .iter()
        .find(|e| e["path"] == eicar["path"] && e["timestamp_desc"] == "Content Modification Time")
        .unwrap();
    let mtime: jiff::Timestamp = eicar["mtime"].as_str().unwrap().parse().unwrap();
    assert_eq!(m["timestamp"].as_i64().unwrap(), mtime.as_microsecond());
    // CSV: the same events under a header Timesketch maps by name.
    let csv = run(&[
        "report",
        bundle.to_str().unwrap(),
        "--format",
        "timeline-csv",
    ]);
    assert_eq!(csv.code, 0);
    let mut lines = csv.stdout.lines();
    assert_eq!(
        lines.next().unwrap(),
        "message,datetime,timestamp_desc,timestamp,data_type,path,sha256,status,detail"
    );
    assert_eq!(lines.count(), events.len());
}
