//! `fieldkit hashset build|info|lookup` on inputs made by the real tools (sha256sum,
//! md5sum, sha1sum, hashdeep, sqlite3) and on hand-made NSRL 2.x and VICS files: every
//! reader, malformed lines (file:line errors, or counted and skipped), duplicates, mixed
//! case, BOMs and CRLF; damaged sets refused; deterministic builds; and a cross-check
//! against `hashdeep -k` on the same tree and known list.
//!
//! Needs the apt packages `hashdeep`, `sqlite3` and `b3sum` (coreutils provides the *sum
//! tools).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use md5::Md5;
use sha1::Sha1;
use sha2::{Digest, Sha256};

const BIN: &str = env!("CARGO_BIN_EXE_fieldkit");

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Out {
    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout))
    }

    fn json_lines(&self) -> Vec<serde_json::Value> {
        self.stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

fn run_with(cmd: &mut Command, stdin: Option<&[u8]>) -> Out {
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    if let Some(input) = stdin {
        let mut pipe = child.stdin.take().unwrap();
        let input = input.to_vec();
        std::thread::spawn(move || pipe.write_all(&input).unwrap());
    }
    let out = child.wait_with_output().unwrap();
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn fk<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Out {
    run_with(Command::new(BIN).args(args), None)
}

fn fk_stdin<S: AsRef<std::ffi::OsStr>>(args: &[S], input: &[u8]) -> Out {
    run_with(Command::new(BIN).args(args), Some(input))
}

/// Run a third-party tool in `dir`; its stdout.
fn tool(dir: &Path, program: &str, args: &[&str]) -> Vec<u8> {
    let out = Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("{program} not runnable ({e}); install it with apt"));
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// hashdeep in a matching mode: exit status bits 1 (unused known hashes) and 2 (unmatched
/// inputs) report what it found, not a failure.
fn hashdeep_matching(dir: &Path, args: &[&str]) -> Vec<u8> {
    let out = Command::new("hashdeep")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("hashdeep not runnable; install it with apt");
    let code = out.status.code().unwrap_or(-1);
    assert!(
        (0..=3).contains(&code),
        "hashdeep {args:?} exited {code}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn sha256(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}
fn sha1(data: &[u8]) -> String {
    hex(&Sha1::digest(data))
}
fn md5(data: &[u8]) -> String {
    hex(&Md5::digest(data))
}

/// Build a set; panics with the tool's output unless it succeeds.
fn build(out: &Path, kind: &str, extra: &[&str], inputs: &[&Path]) -> Out {
    let mut args: Vec<String> = vec![
        "hashset".into(),
        "build".into(),
        "--quiet".into(),
        "--json".into(),
        "--out".into(),
        out.display().to_string(),
        "--kind".into(),
        kind.into(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    args.extend(inputs.iter().map(|p| p.display().to_string()));
    let r = fk(&args);
    assert_eq!(r.code, 0, "build failed:\n{}\n{}", r.stdout, r.stderr);
    r
}

fn build_fails(out: &Path, extra: &[&str], inputs: &[&Path]) -> Out {
    let mut args: Vec<String> = vec![
        "hashset".into(),
        "build".into(),
        "--quiet".into(),
        "--out".into(),
        out.display().to_string(),
        "--kind".into(),
        "known-bad".into(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    args.extend(inputs.iter().map(|p| p.display().to_string()));
    let r = fk(&args);
    assert_eq!(r.code, 2, "build should fail:\n{}\n{}", r.stdout, r.stderr);
    assert!(!out.exists(), "a failed build left {}", out.display());
    r
}

fn info(set: &Path) -> serde_json::Value {
    let r = fk(&["hashset", "info", "--json", set.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    r.json()
}

/// `lookup --json` of each digest: (matched, category label or "").
fn lookup(set: &Path, digests: &[&str]) -> Vec<(bool, String)> {
    let mut args = vec!["hashset", "lookup", "--json", set.to_str().unwrap()];
    args.extend(digests);
    let r = fk(&args);
    assert!(r.code == 0 || r.code == 1, "{}\n{}", r.stdout, r.stderr);
    r.json_lines()
        .iter()
        .map(|v| {
            (
                v["match"].as_bool().unwrap(),
                v["category"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

fn matched(set: &Path, digest: &str) -> bool {
    lookup(set, &[digest])[0].0
}

/// Files of assorted content and awkward names; returns (relative name, content).
fn make_files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let files: Vec<(String, Vec<u8>)> = vec![
        ("plain.txt".into(), b"hello\n".to_vec()),
        ("with space.bin".into(), vec![0u8, 1, 2, 255]),
        ("comma, name.doc".into(), b"commas, in the name".to_vec()),
        ("back\\slash.txt".into(), b"escaped by sha256sum".to_vec()),
        ("empty".into(), Vec::new()),
        (
            "big.dat".into(),
            (0..200_000u32).flat_map(|i| i.to_le_bytes()).collect(),
        ),
    ];
    for (name, content) in &files {
        std::fs::write(dir.join(name), content).unwrap();
    }
    files
}

fn no_temp_leftovers(dir: &Path) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        assert!(
            !name.ends_with(".partial") && !name.starts_with(".fkhs-sort-"),
            "temporary file left behind: {name}"
        );
    }
}

#[test]
fn sums_reader_takes_real_gnu_bsd_binary_and_escaped_output_plus_messy_lists() {
    let t = tempfile::tempdir().unwrap();
    let files_dir = t.path().join("files");
    std::fs::create_dir(&files_dir).unwrap();
    let files = make_files(&files_dir);
    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    let gnu256 = tool(&files_dir, "sha256sum", &names);
    assert!(
        String::from_utf8_lossy(&gnu256).contains("\\"),
        "sha256sum should have escaped the backslash name"
    );
    let mut tag_args = vec!["--tag"];
    tag_args.extend(&names);
    let bsd256 = tool(&files_dir, "sha256sum", &tag_args);
    let mut bin_args = vec!["-b"];
    bin_args.extend(&names);
    let md5_bin = tool(&files_dir, "md5sum", &bin_args);
    let sha1_tag = tool(&files_dir, "sha1sum", &tag_args);
    for (name, bytes) in [
        ("gnu.sha256", &gnu256),
        ("bsd.sha256", &bsd256),
        ("bin.md5", &md5_bin),
        ("tag.sha1", &sha1_tag),
    ] {
        std::fs::write(t.path().join(name), bytes).unwrap();
    }
    // A hand-kept list: BOM, CRLF, comments, blank lines, upper case, duplicates.
    let mut list = b"\xEF\xBB\xBF# known files\r\n\r\n".to_vec();
    for (_, content) in &files {
        list.extend(sha256(content).to_uppercase().as_bytes());
        list.extend(b"\r\n");
    }
    list.extend(sha256(&files[0].1).as_bytes());
    list.extend(b"\r\n   \r\n");
    std::fs::write(t.path().join("list.txt"), &list).unwrap();

    let set = t.path().join("files.fkhs");
    let inputs: Vec<PathBuf> = [
        "gnu.sha256",
        "bsd.sha256",
        "bin.md5",
        "tag.sha1",
        "list.txt",
    ]
    .iter()
    .map(|n| t.path().join(n))
    .collect();
    let input_refs: Vec<&Path> = inputs.iter().map(PathBuf::as_path).collect();
    let report = build(&set, "known-good", &[], &input_refs).json();
    let n = files.len() as u64;
    let sections = &report["metadata"]["sections"];
    let section = |alg: &str| {
        sections
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["algorithm"] == alg)
            .unwrap_or_else(|| panic!("no {alg} section in {sections}"))
            .clone()
    };
    assert_eq!(section("sha256")["entries"], n);
    // gnu + bsd + list (n + 1 duplicate line) read before de-duplication.
    assert_eq!(section("sha256")["input_hashes"], 3 * n + 1);
    assert_eq!(section("sha256")["multi_source_entries"], n);
    assert_eq!(section("md5")["entries"], n);
    assert_eq!(section("sha1")["entries"], n);
    let sources = report["metadata"]["sources"].as_array().unwrap();
    assert!(sources.iter().all(|s| s["format"] == "sums"));
    assert_eq!(sources[4]["records"], n + 1);
    assert_eq!(
        sources[4]["sha256"],
        sha256(&std::fs::read(&inputs[4]).unwrap())
    );
    assert_eq!(sources[4]["size"], list.len() as u64);

    for (name, content) in &files {
        for digest in [sha256(content), md5(content), sha1(content)] {
            assert!(matched(&set, &digest), "{name}: {digest} not found");
            assert!(matched(&set, &digest.to_uppercase()));
        }
    }
    let absent = b"not one of the files";
    assert_eq!(
        lookup(&set, &[&sha256(absent), &md5(absent), &sha1(absent)]),
        vec![(false, String::new()); 3]
    );
}

#[test]
fn malformed_lines_stop_the_build_with_file_and_line_or_are_counted_when_skipping() {
    let t = tempfile::tempdir().unwrap();
    let good = t.path().join("good.txt");
    std::fs::write(&good, format!("{}\n", sha256(b"a"))).unwrap();
    let bad = t.path().join("bad.txt");
    std::fs::write(
        &bad,
        format!(
            "{}  one\n# comment\n{}  two\nthis is not a digest\n{}x  three\nSHA512 (x) = {}\n",
            sha256(b"1"),
            md5(b"2"),
            sha256(b"3"),
            sha256(b"4")
        ),
    )
    .unwrap();
    let set = t.path().join("bad.fkhs");
    let r = build_fails(&set, &[], &[&good, &bad]);
    assert!(
        r.stderr
            .contains(&format!("{}:4: expected a hex digest", bad.display())),
        "{}",
        r.stderr
    );
    no_temp_leftovers(t.path());

    let report = build(&set, "known-bad", &["--skip-malformed"], &[&good, &bad]).json();
    let source = &report["metadata"]["sources"][1];
    assert_eq!(source["records"], 2);
    assert_eq!(source["malformed_skipped"], 3);
    let examples: Vec<&str> = source["malformed_examples"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap())
        .collect();
    assert!(examples[0].starts_with("line 4: expected a hex digest"));
    assert!(examples[1].starts_with("line 5: expected a hex digest"));
    assert!(examples[2].starts_with("line 6: SHA512 digests are not supported"));
    assert!(matched(&set, &md5(b"2")));
    assert!(!matched(&set, &sha256(b"3")));
    let human = fk(&["hashset", "info", set.to_str().unwrap()]);
    assert!(
        human.stdout.contains("malformed skipped 3"),
        "{}",
        human.stdout
    );
    assert!(
        human
            .stdout
            .contains("skipped line 4: expected a hex digest")
    );
}

#[test]
fn hashdeep_files_from_the_real_tool_are_read_with_commas_in_names() {
    let t = tempfile::tempdir().unwrap();
    let files_dir = t.path().join("files");
    std::fs::create_dir(&files_dir).unwrap();
    let files = make_files(&files_dir);
    let listing = tool(
        t.path(),
        "hashdeep",
        &["-c", "md5,sha1,sha256", "-r", "files"],
    );
    let hd = t.path().join("known.hashdeep");
    std::fs::write(&hd, &listing).unwrap();
    let set = t.path().join("hd.fkhs");
    let report = build(&set, "known-good", &[], &[&hd]).json();
    let source = &report["metadata"]["sources"][0];
    assert_eq!(source["format"], "hashdeep");
    assert_eq!(source["records"], files.len() as u64);
    for (name, content) in &files {
        for digest in [sha256(content), md5(content), sha1(content)] {
            assert!(matched(&set, &digest), "{name}");
        }
    }

    // A damaged data line: error at its line; skipped and counted on request.
    let mut text = String::from_utf8(listing).unwrap();
    text.push_str("12,zz,notahash,/tmp/x\n");
    let lines = text.lines().count();
    std::fs::write(&hd, text).unwrap();
    let set2 = t.path().join("hd2.fkhs");
    let r = build_fails(&set2, &[], &[&hd]);
    assert!(
        r.stderr.contains(&format!(
            "{}:{lines}: md5 column is not a digest",
            hd.display()
        )),
        "{}",
        r.stderr
    );
    let report = build(&set2, "known-good", &["--skip-malformed"], &[&hd]).json();
    assert_eq!(report["metadata"]["sources"][0]["malformed_skipped"], 1);
}

fn sqlite(db: &Path, sql: &str) {
    let mut child = Command::new("sqlite3")
        .arg(db)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sqlite3 not runnable; install it with apt");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(sql.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "sqlite3: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn nsrl_rds_v3_sqlite_is_read_read_only_with_duplicates_and_bad_rows() {
    let t = tempfile::tempdir().unwrap();
    let rds = t.path().join("rds");
    std::fs::create_dir(&rds).unwrap();
    let db = rds.join("RDS_2024.03.1_modern_minimal.db");
    let mut sql = String::from(
        "PRAGMA journal_mode=WAL;\n\
         CREATE TABLE FILE (sha256 VARCHAR NOT NULL, sha1 VARCHAR NOT NULL, md5 VARCHAR NOT NULL, \
         crc32 VARCHAR NOT NULL, file_name VARCHAR NOT NULL, file_size INTEGER NOT NULL, \
         package_id INTEGER NOT NULL);\n\
         CREATE TABLE VERSION (version VARCHAR, build_set VARCHAR, build_date TIMESTAMP, \
         release_date TIMESTAMP, description VARCHAR);\n\
         INSERT INTO VERSION VALUES ('2024.03.1', 'Modern', '2024-02-28', '2024-03-01', 'minimal');\n",
    );
    let contents: Vec<Vec<u8>> = (0..50).map(|i| format!("file {i}").into_bytes()).collect();
    for (i, c) in contents.iter().enumerate() {
        // Every file twice (two packages), as in the RDS.
        for package in [1, 2] {
            sql.push_str(&format!(
                "INSERT INTO FILE VALUES ('{}', '{}', '{}', '00000000', 'f{i}.dll', {}, {package});\n",
                sha256(c).to_uppercase(),
                sha1(c).to_uppercase(),
                md5(c).to_uppercase(),
                c.len()
            ));
        }
    }
    sqlite(&db, &sql);
    assert_eq!(
        std::fs::read_dir(&rds).unwrap().count(),
        1,
        "sqlite3 left more than the database"
    );

    let set = t.path().join("nsrl.fkhs");
    let report = build(&set, "known-good", &["--name", "NSRL test"], &[&db]).json();
    let meta = &report["metadata"];
    assert_eq!(meta["sources"][0]["format"], "nsrl-sqlite");
    assert_eq!(meta["sources"][0]["records"], 100);
    assert_eq!(
        meta["sources"][0]["sha256"],
        sha256(&std::fs::read(&db).unwrap())
    );
    let description = meta["sources"][0]["description"].as_str().unwrap();
    assert!(description.contains("version=2024.03.1"), "{description}");
    for s in meta["sections"].as_array().unwrap() {
        assert_eq!(s["entries"], 50);
        assert_eq!(s["input_hashes"], 100);
    }
    // Read-only and immutable: no journal, WAL or shared-memory file appeared.
    let names: Vec<String> = std::fs::read_dir(&rds)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, vec!["RDS_2024.03.1_modern_minimal.db".to_string()]);
    for c in &contents {
        assert!(matched(&set, &sha256(c)));
        assert!(matched(&set, &sha1(c)));
        assert!(matched(&set, &md5(c)));
    }

    // A row whose sha256 is not a digest: error naming the row; skipped on request.
    sqlite(
        &db,
        "INSERT INTO FILE VALUES ('NOT-A-HASH', '', '', '0', 'bad', 0, 3);",
    );
    let r = build_fails(&t.path().join("bad.fkhs"), &[], &[&db]);
    assert!(
        r.stderr.contains(&format!(
            "{}: row 101: sha256 \"NOT-A-HASH\" is not a digest",
            db.display()
        )),
        "{}",
        r.stderr
    );
    let report = build(
        &t.path().join("bad.fkhs"),
        "known-good",
        &["--skip-malformed"],
        &[&db],
    )
    .json();
    assert_eq!(report["metadata"]["sources"][0]["malformed_skipped"], 1);

    // Something that is not an RDS.
    let other = t.path().join("other.db");
    sqlite(&other, "CREATE TABLE t (x);");
    let r = build_fails(&t.path().join("o.fkhs"), &[], &[&other]);
    assert!(
        r.stderr.contains("not an NSRL RDS v3 database"),
        "{}",
        r.stderr
    );
}

#[test]
fn nsrl_rds2_text_with_bom_crlf_and_quoted_names() {
    let t = tempfile::tempdir().unwrap();
    let a = b"first";
    let b = b"second";
    let text = format!(
        "\u{FEFF}\"SHA-1\",\"MD5\",\"CRC32\",\"FileName\",\"FileSize\",\"ProductCode\",\"OpSystemCode\",\"SpecialCode\"\r\n\
         \"{}\",\"{}\",\"7A5407CA\",\"a, \"\"quoted\"\" name.dll\",1540,190,\"362\",\"\"\r\n\
         \"{}\",\"{}\",\"00000000\",\"plain.exe\",9,191,\"362\",\"\"\r\n",
        sha1(a).to_uppercase(),
        md5(a).to_uppercase(),
        sha1(b),
        md5(b).to_uppercase(),
    );
    let file = t.path().join("NSRLFile.txt");
    std::fs::write(&file, &text).unwrap();
    let set = t.path().join("rds2.fkhs");
    let report = build(&set, "known-good", &[], &[&file]).json();
    assert_eq!(report["metadata"]["sources"][0]["format"], "nsrl-txt");
    assert_eq!(report["metadata"]["sources"][0]["records"], 2);
    for c in [&a[..], &b[..]] {
        assert!(matched(&set, &sha1(c)));
        assert!(matched(&set, &md5(c)));
    }

    std::fs::write(
        &file,
        format!("{text}\"{}\",\"{}\",\"1\"\r\n", sha1(b"x"), md5(b"x")),
    )
    .unwrap();
    let r = build_fails(&t.path().join("bad.fkhs"), &[], &[&file]);
    assert!(
        r.stderr.contains(&format!(
            "{}:4: 3 fields where the header has 8",
            file.display()
        )),
        "{}",
        r.stderr
    );
}

fn vics_media(id: u32, category: &str, md5: &str, sha1: &str) -> String {
    format!(
        "{{\"MediaID\": {id}, \"Category\": {category}, \"MD5\": \"{md5}\", \"SHA1\": \"{sha1}\", \"MediaSize\": 10, \"IsPrecategorized\": \"true\"}}"
    )
}

#[test]
fn vics_json_keeps_categories_with_labels_exclusions_and_conflicts() {
    let t = tempfile::tempdir().unwrap();
    let (a, b, c) = (&b"image a"[..], &b"image b"[..], &b"image c"[..]);
    let media = [
        vics_media(1, "1", &md5(a).to_uppercase(), &sha1(a).to_uppercase()),
        vics_media(2, "2", &md5(b), &sha1(b)),
        vics_media(3, "0", &md5(c), &sha1(c)),
        // Image a again, with another category: the first met (1) wins, flagged.
        vics_media(4, "3", &md5(a), &sha1(a)),
        "{\"MediaID\": 5, \"Category\": 1, \"PhotoDNA\": \"AAAA\"}".to_string(),
    ];
    let json = format!(
        "\u{FEFF}{{\r\n\"@odata.context\": \"http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/Default/$metadata#Media\",\r\n\"value\": [\r\n{}\r\n]\r\n}}\r\n",
        media.join(",\r\n")
    );
    let file = t.path().join("vics.json");
    std::fs::write(&file, &json).unwrap();
    let map = t.path().join("categories.toml");
    std::fs::write(
        &map,
        "# agency labels\n1 = \"Category one\"\n3 = \"Category three\"\n",
    )
    .unwrap();
    let set = t.path().join("vics.fkhs");
    let report = build(
        &set,
        "known-bad",
        &[
            "--category-map",
            map.to_str().unwrap(),
            "--category-label",
            "2=Two (flag)",
            "--exclude-category",
            "0",
        ],
        &[&file],
    )
    .json();
    let meta = &report["metadata"];
    let source = &meta["sources"][0];
    assert_eq!(source["format"], "vics");
    assert_eq!(source["records"], 4);
    assert_eq!(source["records_without_hash"], 1);
    assert_eq!(source["records_excluded"], 1);
    assert_eq!(
        meta["build"]["category_map"]["file_sha256"],
        sha256(&std::fs::read(&map).unwrap())
    );
    let labels: Vec<(String, String)> = meta["categories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["code"].as_str().unwrap_or("-").to_string(),
                c["label"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        labels,
        vec![
            ("-".to_string(), "known-bad".to_string()),
            ("1".into(), "Category one".into()),
            ("2".into(), "Two (flag)".into()),
            ("3".into(), "Category three".into()),
        ]
    );

    let r = fk(&[
        "hashset",
        "lookup",
        "--json",
        set.to_str().unwrap(),
        &md5(a),
        &sha1(b),
        &md5(c),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let answers = r.json_lines();
    assert_eq!(answers[0]["category"], "Category one");
    assert_eq!(answers[0]["category_code"], "1");
    assert_eq!(
        answers[0]["flags"],
        serde_json::json!(["duplicate", "category-conflict"])
    );
    assert_eq!(answers[0]["source"], "vics.json");
    assert_eq!(answers[1]["category"], "Two (flag)");
    assert_eq!(answers[2]["match"], false, "category 0 was excluded");

    // VICS 1.x: Cases holding Media arrays; categories default to "VICS category N".
    let nested = format!(
        "{{\"odata.metadata\": \"x#Cases\", \"value\": [{{\"CaseNumber\": \"C1\", \"Media\": [{}]}}]}}",
        vics_media(1, "\"5\"", &md5(c), &sha1(c))
    );
    std::fs::write(&file, nested).unwrap();
    let set2 = t.path().join("vics1.fkhs");
    build(&set2, "known-bad", &[], &[&file]);
    assert_eq!(
        lookup(&set2, &[&sha1(c)]),
        vec![(true, "VICS category 5".to_string())]
    );
}

#[test]
fn vics_json_errors_name_the_line_and_broken_json_never_panics() {
    let t = tempfile::tempdir().unwrap();
    let file = t.path().join("vics.json");
    let good = vics_media(1, "1", &md5(b"a"), &sha1(b"a"));
    let bad = vics_media(2, "1", "XYZ", &sha1(b"b"));
    std::fs::write(&file, format!("{{\n\"value\": [\n{good},\n{bad}\n]\n}}\n")).unwrap();
    let r = build_fails(&t.path().join("x.fkhs"), &[], &[&file]);
    assert!(
        r.stderr.contains(&format!(
            "{}:4: Media MD5 \"XYZ\" is not a digest",
            file.display()
        )),
        "{}",
        r.stderr
    );
    let set = t.path().join("skip.fkhs");
    let report = build(&set, "known-bad", &["--skip-malformed"], &[&file]).json();
    assert_eq!(report["metadata"]["sources"][0]["malformed_skipped"], 1);
    assert!(matched(&set, &md5(b"a")));

    for (name, text) in [
        ("truncated", format!("{{\n\"value\": [\n{good},\n")),
        ("garbage", "{\"value\": [ {\"MD5\": tru }]}".to_string()),
        ("no value", "{\"other\": []}".to_string()),
        ("trailing", format!("{{\"value\": [{good}]}} extra")),
    ] {
        std::fs::write(&file, text).unwrap();
        let r = build_fails(&t.path().join("y.fkhs"), &["--format", "vics"], &[&file]);
        assert!(
            r.stderr.contains(&file.display().to_string()) && !r.stderr.contains("panicked"),
            "{name}: {}",
            r.stderr
        );
    }
}

#[test]
fn garbage_inputs_of_every_format_are_errors_not_panics() {
    let t = tempfile::tempdir().unwrap();
    let mut seed = 0x9E37_79B9_7F4A_7C15u64;
    let mut garbage = Vec::new();
    for _ in 0..20_000 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        garbage.push((seed >> 24) as u8);
    }
    let file = t.path().join("garbage");
    let mut sqlite_like = b"SQLite format 3\0".to_vec();
    sqlite_like.extend(&garbage);
    for format in ["sums", "hashdeep", "nsrl-txt", "vics", "nsrl-sqlite"] {
        for bytes in [&garbage, &sqlite_like] {
            std::fs::write(&file, bytes).unwrap();
            let r = fk(&[
                "hashset",
                "build",
                "--quiet",
                "--format",
                format,
                "--kind",
                "known-bad",
                "--out",
                t.path().join("g.fkhs").to_str().unwrap(),
                file.to_str().unwrap(),
            ]);
            assert_eq!(r.code, 2, "{format}: {}", r.stderr);
            assert!(
                r.stderr.starts_with("fieldkit: error: "),
                "{format}: {}",
                r.stderr
            );
            assert!(!r.stderr.contains("panicked"), "{format}: {}", r.stderr);
        }
    }
    no_temp_leftovers(t.path());
}

#[test]
fn damaged_sets_are_refused_at_open_with_a_clear_message() {
    let t = tempfile::tempdir().unwrap();
    let list = t.path().join("list.txt");
    let digests: Vec<String> = (0..1000)
        .map(|i| sha256(format!("{i}").as_bytes()))
        .collect();
    std::fs::write(&list, digests.join("\n")).unwrap();
    let set = t.path().join("set.fkhs");
    build(&set, "known-bad", &[], &[&list]);
    let original = std::fs::read(&set).unwrap();
    let len = original.len();
    let trailer = len - 88;
    let data_len =
        u64::from_le_bytes(original[trailer + 16..trailer + 24].try_into().unwrap()) as usize;

    let damaged = t.path().join("damaged.fkhs");
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "entry byte",
            flip(&original, 16 + 37 * 500 + 3),
            "integrity check failed: data block 0",
        ),
        (
            "prefix table",
            flip(&original, data_len - 5),
            "integrity check failed: data block 0",
        ),
        (
            "metadata",
            flip(&original, data_len + 48 + 20),
            "does not match the set's root digest",
        ),
        (
            "root",
            flip(&original, len - 1),
            "does not match the set's root digest",
        ),
        (
            "truncated",
            original[..len - 1].to_vec(),
            "no end-of-set marker",
        ),
        (
            "appended",
            [&original[..], b"\n"].concat(),
            "no end-of-set marker",
        ),
        (
            "length field",
            flip(&original, trailer + 48),
            "do not add up to the file length",
        ),
        ("prelude", flip(&original, 2), "not a fieldkit hash set"),
        (
            "tiny",
            original[..40].to_vec(),
            "shorter than the smallest possible set",
        ),
        ("text", b"not a set\n".repeat(20), "not a fieldkit hash set"),
    ];
    for (what, bytes, message) in cases {
        std::fs::write(&damaged, &bytes).unwrap();
        let r = fk(&["hashset", "info", damaged.to_str().unwrap()]);
        assert_eq!(r.code, 1, "{what}: {}", r.stderr);
        assert!(
            r.stderr.contains(&format!("{}: ", damaged.display())) && r.stderr.contains(message),
            "{what}: {}",
            r.stderr
        );
        let r = fk(&["hashset", "lookup", damaged.to_str().unwrap(), &digests[0]]);
        assert_eq!(r.code, 2, "{what}: lookup must refuse: {}", r.stdout);
        assert!(r.stderr.contains(message), "{what}: {}", r.stderr);
    }
    let r = fk(&[
        "hashset",
        "info",
        t.path().join("missing.fkhs").to_str().unwrap(),
    ]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("missing.fkhs: cannot open"),
        "{}",
        r.stderr
    );
}

fn flip(bytes: &[u8], at: usize) -> Vec<u8> {
    let mut out = bytes.to_vec();
    out[at] ^= 0x01;
    out
}

#[test]
fn large_sets_check_each_block_before_first_use() {
    // 1,000,000 SHA-256 entries: 37 MB of data, above the size checked whole at open.
    let t = tempfile::tempdir().unwrap();
    let mut keys: Vec<[u8; 32]> = (0..1_000_000u32)
        .map(|i| Sha256::digest(i.to_le_bytes()).into())
        .collect();
    let mut text = String::with_capacity(keys.len() * 65);
    for k in &keys {
        text.push_str(&hex(k));
        text.push('\n');
    }
    let list = t.path().join("list.txt");
    std::fs::write(&list, text).unwrap();
    let set = t.path().join("big.fkhs");
    build(&set, "known-good", &[], &[&list]);
    keys.sort();
    let mut bytes = std::fs::read(&set).unwrap();
    // Damage the key of sorted entry 500,000 (entries start after the 16-byte prelude).
    let at = 16 + 500_000 * 37 + 10;
    bytes[at] ^= 0x80;
    let damaged = t.path().join("damaged.fkhs");
    std::fs::write(&damaged, &bytes).unwrap();
    let path = damaged.to_str().unwrap();

    let r = fk(&[
        "hashset",
        "lookup",
        "--stats",
        path,
        &hex(&keys[0]),
        &hex(&keys[999_999]),
    ]);
    assert_eq!(r.code, 0, "untouched blocks still answer: {}", r.stderr);
    assert!(r.stderr.contains("blocks verified 3/"), "{}", r.stderr);
    let block = at / 65536;
    let r = fk(&["hashset", "lookup", path, &hex(&keys[500_000])]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains(&format!(
            "integrity check failed: data block {block} (bytes"
        )),
        "{}",
        r.stderr
    );
    let r = fk(&["hashset", "lookup", "--verify-all", path, &hex(&keys[0])]);
    assert_eq!(r.code, 2, "--verify-all checks every block at open");
    let r = fk(&["hashset", "info", path]);
    assert_eq!(r.code, 1);
}

#[test]
fn lookup_exit_status_and_stdin_answers() {
    let t = tempfile::tempdir().unwrap();
    let list = t.path().join("l.txt");
    std::fs::write(&list, format!("{}\n{}\n", sha256(b"x"), md5(b"y"))).unwrap();
    let set = t.path().join("s.fkhs");
    build(&set, "known-bad", &["--category", "test files"], &[&list]);
    let s = set.to_str().unwrap();
    assert_eq!(fk(&["hashset", "lookup", s, &sha256(b"x")]).code, 0);
    assert_eq!(fk(&["hashset", "lookup", s, &sha256(b"nope")]).code, 1);
    let r = fk(&["hashset", "lookup", s, "xyz"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("argument:1: expected a hex digest"),
        "{}",
        r.stderr
    );
    let input = format!(
        "{}  file one\r\n{} *bin two\n\nMD5 (tag three) = {}\n",
        sha256(b"nope"),
        md5(b"y").to_uppercase(),
        md5(b"y")
    );
    let r = fk_stdin(&["hashset", "lookup", "--stdin", s], input.as_bytes());
    assert_eq!(r.code, 0, "{}", r.stderr);
    let overlong = format!("{}\n{}\n", "f".repeat(2 << 20), sha256(b"x"));
    let r2 = fk_stdin(&["hashset", "lookup", "--stdin", s], overlong.as_bytes());
    assert_eq!(
        r2.code, 2,
        "an invalid line makes the status 2 even with a match"
    );
    assert!(
        r2.stderr.contains("stdin:1: line longer than 1 MiB"),
        "{}",
        r2.stderr
    );
    assert!(r2.stdout.starts_with("match\tsha256\t"), "{}", r2.stdout);
    assert_eq!(
        r.stdout,
        format!(
            "miss\tsha256\t{}\t\tfile one\nmatch\tmd5\t{}\ttest files\tbin two\nmatch\tmd5\t{}\ttest files\ttag three\n",
            sha256(b"nope"),
            md5(b"y"),
            md5(b"y")
        )
    );
}

#[test]
fn builds_are_byte_identical_whatever_the_sort_memory_and_paths() {
    let t = tempfile::tempdir().unwrap();
    let (d1, d2) = (t.path().join("one"), t.path().join("two"));
    std::fs::create_dir(&d1).unwrap();
    std::fs::create_dir(&d2).unwrap();
    // 120,000 SHA-256 + 60,000 MD5 (with duplicates across inputs) spill many runs in 1 MiB.
    let mut a = String::new();
    let mut b = String::new();
    for i in 0..120_000u32 {
        a.push_str(&format!("{}\n", sha256(&i.to_le_bytes())));
        if i % 2 == 0 {
            b.push_str(&format!("{}  n{i}\n", md5(&i.to_le_bytes())));
            b.push_str(&format!(
                "{}  n{i}\n",
                sha256(&i.to_le_bytes()).to_uppercase()
            ));
        }
    }
    for d in [&d1, &d2] {
        std::fs::write(d.join("a.txt"), &a).unwrap();
        std::fs::write(d.join("b.md5"), &b).unwrap();
    }
    let small = build(
        &d1.join("s.fkhs"),
        "known-good",
        &["--sort-memory", "1MiB", "--tmp", t.path().to_str().unwrap()],
        &[&d1.join("a.txt"), &d1.join("b.md5")],
    )
    .json();
    assert!(small["runs_spilled"].as_u64().unwrap() >= 8, "{small}");
    let large = build(
        &d2.join("s.fkhs"),
        "known-good",
        &[],
        &[&d2.join("a.txt"), &d2.join("b.md5")],
    )
    .json();
    assert_eq!(large["runs_spilled"], 0);
    assert_eq!(small["file_sha256"], large["file_sha256"]);
    assert_eq!(
        std::fs::read(d1.join("s.fkhs")).unwrap(),
        std::fs::read(d2.join("s.fkhs")).unwrap()
    );
    let sections = &large["metadata"]["sections"];
    assert_eq!(sections[0]["algorithm"], "md5");
    assert_eq!(sections[0]["entries"], 60_000);
    assert_eq!(sections[1]["entries"], 120_000);
    assert_eq!(sections[1]["input_hashes"], 180_000);
    assert_eq!(sections[1]["multi_source_entries"], 60_000);
    // The build output names the same file SHA-256 as sha256sum.
    let sum = tool(&d1, "sha256sum", &["s.fkhs"]);
    assert!(String::from_utf8_lossy(&sum).starts_with(small["file_sha256"].as_str().unwrap()));
    no_temp_leftovers(&d1);
    no_temp_leftovers(t.path());
}

#[test]
fn existing_sets_are_not_replaced_without_force_and_failed_builds_leave_nothing() {
    let t = tempfile::tempdir().unwrap();
    let list = t.path().join("l.txt");
    std::fs::write(&list, format!("{}\n", sha256(b"1"))).unwrap();
    let set = t.path().join("s.fkhs");
    build(&set, "known-good", &[], &[&list]);
    let before = std::fs::read(&set).unwrap();
    std::fs::write(&list, format!("{}\n", sha256(b"2"))).unwrap();
    let r = fk(&[
        "hashset",
        "build",
        "--quiet",
        "--kind",
        "known-good",
        "--out",
        set.to_str().unwrap(),
        list.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("already exists (use --force"),
        "{}",
        r.stderr
    );
    assert_eq!(std::fs::read(&set).unwrap(), before);
    build(&set, "known-good", &["--force"], &[&list]);
    assert!(matched(&set, &sha256(b"2")));
    assert!(!matched(&set, &sha256(b"1")));
    // A build that fails in its second input leaves the old set untouched.
    let bad = t.path().join("bad.txt");
    std::fs::write(&bad, "nonsense\n").unwrap();
    let r = fk(&[
        "hashset",
        "build",
        "--quiet",
        "--force",
        "--kind",
        "known-good",
        "--out",
        set.to_str().unwrap(),
        list.to_str().unwrap(),
        bad.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 2);
    assert!(matched(&set, &sha256(b"2")));
    no_temp_leftovers(t.path());
}

#[test]
fn the_shipped_eicar_set_rebuilds_byte_identically_and_matches_eicar() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("hashsets");
    let committed = root.join("eicar.fkhs");
    let t = tempfile::tempdir().unwrap();
    let rebuilt = t.path().join("eicar.fkhs");
    let out = Command::new("sh")
        .arg(root.join("build-eicar.sh"))
        .arg(&rebuilt)
        .env("FIELDKIT", BIN)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read(&rebuilt).unwrap(),
        std::fs::read(&committed).unwrap(),
        "hashsets/eicar.fkhs is not what hashsets/build-eicar.sh builds"
    );
    let meta = info(&committed);
    assert_eq!(meta["metadata"]["kind"], "known-bad");
    assert_eq!(meta["integrity"], "ok");
    // The EICAR test string, assembled here so that this file itself is not flagged.
    let eicar = [
        "X5O!P%@AP[4\\PZX54(P^)7CC)7}$",
        "EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*",
    ]
    .concat();
    let answers = lookup(
        &committed,
        &[
            &sha256(eicar.as_bytes()),
            &sha1(eicar.as_bytes()),
            &md5(eicar.as_bytes()),
        ],
    );
    for (hit, category) in answers {
        assert!(hit);
        assert_eq!(category, "EICAR anti-malware test file (harmless)");
    }
}

#[test]
fn nsrl_rds2_duplicates_across_products_are_one_entry_flagged_duplicate() {
    let t = tempfile::tempdir().unwrap();
    let (a, b) = (&b"shared library"[..], &b"only once"[..]);
    let header = "\"SHA-1\",\"MD5\",\"CRC32\",\"FileName\",\"FileSize\",\"ProductCode\",\"OpSystemCode\",\"SpecialCode\"\r\n";
    let line = |c: &[u8], name: &str, product: u32, upper: bool| {
        let (s, m) = if upper {
            (sha1(c).to_uppercase(), md5(c).to_uppercase())
        } else {
            (sha1(c), md5(c))
        };
        format!(
            "\"{s}\",\"{m}\",\"00000000\",\"{name}\",{},{product},\"362\",\"\"\r\n",
            c.len()
        )
    };
    // The same file in three products (as the RDS lists it), once in lower case.
    let text = [
        header.to_string(),
        line(a, "lib.dll", 190, true),
        line(b, "once.exe", 190, true),
        line(a, "lib.dll", 191, true),
        line(a, "LIB.DLL", 2044, false),
    ]
    .concat();
    let file = t.path().join("NSRLFile.txt");
    std::fs::write(&file, &text).unwrap();
    let set = t.path().join("rds2.fkhs");
    let report = build(&set, "known-good", &[], &[&file]).json();
    let meta = &report["metadata"];
    assert_eq!(meta["sources"][0]["records"], 4);
    assert_eq!(meta["sources"][0]["malformed_skipped"], 0);
    for section in meta["sections"].as_array().unwrap() {
        assert_eq!(section["entries"], 2, "{section}");
        assert_eq!(section["input_hashes"], 4, "{section}");
        assert_eq!(section["multi_source_entries"], 0, "{section}");
    }
    let r = fk(&[
        "hashset",
        "lookup",
        "--json",
        set.to_str().unwrap(),
        &sha1(a),
        &md5(a),
        &sha1(b),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let answers = r.json_lines();
    assert_eq!(answers[0]["flags"], serde_json::json!(["duplicate"]));
    assert_eq!(answers[1]["flags"], serde_json::json!(["duplicate"]));
    assert_eq!(answers[2]["flags"], serde_json::json!([]));
    assert!(answers.iter().all(|v| v["match"] == true));
}

#[test]
fn hashdeep_files_with_a_bom_and_crlf_line_ends_are_read() {
    let t = tempfile::tempdir().unwrap();
    let files_dir = t.path().join("files");
    std::fs::create_dir(&files_dir).unwrap();
    let files = make_files(&files_dir);
    let listing = tool(t.path(), "hashdeep", &["-c", "md5,sha256", "-r", "files"]);
    let text = String::from_utf8(listing).unwrap();
    assert!(text.starts_with("%%%% HASHDEEP-1."), "{text}");
    // As a Windows editor saves it: UTF-8 BOM, CRLF.
    let windows = format!("\u{FEFF}{}", text.replace('\n', "\r\n"));
    let hd = t.path().join("known-windows.hashdeep");
    std::fs::write(&hd, windows).unwrap();
    let set = t.path().join("hd.fkhs");
    let report = build(&set, "known-good", &[], &[&hd]).json();
    let source = &report["metadata"]["sources"][0];
    assert_eq!(
        source["format"], "hashdeep",
        "the BOM must not hide the header"
    );
    assert_eq!(source["records"], files.len() as u64);
    assert_eq!(source["malformed_skipped"], 0);
    for (name, content) in &files {
        assert!(matched(&set, &sha256(content)), "{name}");
        assert!(matched(&set, &md5(content)), "{name}");
    }
    // The CRLF file gives exactly the entries of the same listing with LF line ends.
    let lf = t.path().join("known.hashdeep");
    std::fs::write(&lf, text).unwrap();
    let set_lf = t.path().join("hd-lf.fkhs");
    build(&set_lf, "known-good", &[], &[&lf]);
    assert_eq!(
        info(&set)["metadata"]["sections"],
        info(&set_lf)["metadata"]["sections"]
    );
}

/// The same tree checked against the same known list by `hashdeep -k … -m/-x` and by
/// `sha256sum | fieldkit hashset lookup --stdin` gives the same matched and unmatched files.
#[test]
fn cross_check_with_hashdeep_matching_mode() {
    let t = tempfile::tempdir().unwrap();
    let tree = t.path().join("tree");
    let known = t.path().join("known");
    std::fs::create_dir_all(tree.join("sub dir")).unwrap();
    std::fs::create_dir_all(&known).unwrap();
    let mut all = Vec::new();
    for i in 0..60u32 {
        let name = match i % 4 {
            0 => format!("file {i}.txt"),
            1 => format!("sub dir/data,{i}.bin"),
            2 => format!("f{i}"),
            _ => format!("sub dir/copy of {}", i - 3),
        };
        // Every fourth file duplicates the content of an earlier one.
        let content = if i % 4 == 3 {
            format!("content {}", i - 3).into_bytes()
        } else {
            format!("content {i}").into_bytes()
        };
        std::fs::write(tree.join(&name), &content).unwrap();
        if i % 3 == 0 {
            std::fs::write(known.join(format!("k{i}")), &content).unwrap();
        }
        all.push(tree.join(&name));
    }
    for algorithm in ["sha256", "sha1", "md5"] {
        let known_list = tool(t.path(), "hashdeep", &["-c", algorithm, "-r", "known"]);
        let known_file = t.path().join(format!("known.{algorithm}.hashdeep"));
        std::fs::write(&known_file, &known_list).unwrap();
        let tree_arg = tree.to_str().unwrap();
        let known_arg = known_file.to_str().unwrap();
        let lines = |bytes: Vec<u8>| {
            let mut v: Vec<String> = String::from_utf8(bytes)
                .unwrap()
                .lines()
                .map(str::to_string)
                .collect();
            v.sort();
            v
        };
        let hd_matched = lines(hashdeep_matching(
            t.path(),
            &["-c", algorithm, "-m", "-k", known_arg, "-r", tree_arg],
        ));
        let hd_unmatched = lines(hashdeep_matching(
            t.path(),
            &["-c", algorithm, "-x", "-k", known_arg, "-r", tree_arg],
        ));
        assert!(!hd_matched.is_empty() && !hd_unmatched.is_empty());
        assert_eq!(hd_matched.len() + hd_unmatched.len(), all.len());

        let set = t.path().join(format!("known.{algorithm}.fkhs"));
        build(&set, "known-good", &[], &[&known_file]);
        let mut sum_args: Vec<&str> = vec![];
        let paths: Vec<String> = all.iter().map(|p| p.display().to_string()).collect();
        sum_args.extend(paths.iter().map(String::as_str));
        let sums = tool(t.path(), &format!("{algorithm}sum"), &sum_args);
        let r = fk_stdin(
            &["hashset", "lookup", "--stdin", set.to_str().unwrap()],
            &sums,
        );
        assert_eq!(r.code, 0, "{}", r.stderr);
        let (mut fk_matched, mut fk_unmatched) = (Vec::new(), Vec::new());
        for line in r.stdout.lines() {
            let fields: Vec<&str> = line.split('\t').collect();
            match fields[0] {
                "match" => fk_matched.push(fields[4].to_string()),
                "miss" => fk_unmatched.push(fields[4].to_string()),
                other => panic!("unexpected status {other}"),
            }
        }
        fk_matched.sort();
        fk_unmatched.sort();
        assert_eq!(fk_matched, hd_matched, "{algorithm}: matched files differ");
        assert_eq!(
            fk_unmatched, hd_unmatched,
            "{algorithm}: unmatched files differ"
        );
    }
}

/// The commands docs/hashset-format.md gives for checking a set with standard tools only:
/// the root digest with `sha256sum`, each data block with `b3sum` (Debian package b3sum).
/// Prints `root STORED COMPUTED` then `block N STORED COMPUTED` per block.
const STANDARD_TOOLS_CHECK: &str = r#"
len=$(stat -c %s "$F")
data_len=$(tail -c 72 "$F" | head -c 8 | od -An -tu8 | tr -d ' ')
digests_len=$(tail -c 48 "$F" | head -c 8 | od -An -tu8 | tr -d ' ')
digests_at=$((len - 88 - digests_len))
echo "root $(tail -c 32 "$F" | od -An -tx1 | tr -d ' \n') $(head -c $((len - 32)) "$F" | tail -c +$((data_len + 1)) | sha256sum | cut -d' ' -f1)"
n=0
while [ $((n * 65536)) -lt "$data_len" ]; do
  size=$((data_len - n * 65536)); [ "$size" -gt 65536 ] && size=65536
  stored=$(tail -c +$((digests_at + n * 32 + 1)) "$F" | head -c 32 | od -An -tx1 | tr -d ' \n')
  echo "block $n $stored $(tail -c +$((n * 65536 + 1)) "$F" | head -c "$size" | b3sum --no-names)"
  n=$((n + 1))
done
"#;

fn standard_tools_check(set: &Path) -> Vec<(String, String, String)> {
    let out = Command::new("sh")
        .arg("-c")
        .arg(STANDARD_TOOLS_CHECK)
        .env("F", set)
        .output()
        .expect("sh");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.rsplitn(3, ' ').collect();
            (f[2].to_string(), f[1].to_string(), f[0].to_string())
        })
        .collect()
}

#[test]
fn block_digests_are_blake3_and_recheck_with_b3sum_the_root_with_sha256sum() {
    let probe = Command::new("sh")
        .arg("-c")
        .arg("command -v b3sum")
        .output()
        .unwrap();
    assert!(
        probe.status.success(),
        "this test needs `b3sum` (Debian package b3sum); .ci/run installs it"
    );
    let t = tempfile::tempdir().unwrap();
    // 3,000 SHA-256 entries (111 kB) + prefix table: one full block and one partial block.
    let list = t.path().join("list.txt");
    let text: String = (0..3000u32)
        .map(|i| format!("{}\n", sha256(&i.to_le_bytes())))
        .collect();
    std::fs::write(&list, text).unwrap();
    let set = t.path().join("set.fkhs");
    build(&set, "known-good", &[], &[&list]);
    let meta = info(&set);
    assert_eq!(meta["format_version"], 2);
    assert_eq!(meta["block_digest"], "blake3");
    assert_eq!(meta["metadata"]["block_digest"], "blake3");
    assert_eq!(meta["metadata"]["root_digest"], "sha256");
    let checks = standard_tools_check(&set);
    assert_eq!(checks.len(), 3, "{checks:?}");
    assert_eq!(checks[0].0, "root");
    assert_eq!(checks[0].1, meta["set_digest"].as_str().unwrap());
    for (what, stored, computed) in &checks {
        assert_eq!(
            stored, computed,
            "{what}: stored digest differs from the tool's"
        );
    }
    // A flipped byte in block 1 is what b3sum and fieldkit both see.
    let mut bytes = std::fs::read(&set).unwrap();
    bytes[70_000] ^= 0x10;
    let damaged = t.path().join("damaged.fkhs");
    std::fs::write(&damaged, &bytes).unwrap();
    let checks = standard_tools_check(&damaged);
    assert_eq!(checks[1].1, checks[1].2, "block 0 is intact");
    assert_ne!(checks[2].1, checks[2].2, "b3sum sees the damage in block 1");
    let r = fk(&["hashset", "info", damaged.to_str().unwrap()]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .contains("integrity check failed: data block 1 (bytes 65536..")
            && r.stderr.lines().count() == 1,
        "{}",
        r.stderr
    );
}

#[test]
fn version_1_sets_with_sha256_blocks_still_open_and_are_still_checked() {
    // tests/data/eicar-v1.fkhs: hashsets/eicar.fkhs as format version 1 built it.
    let v1 = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/eicar-v1.fkhs");
    let meta = info(&v1);
    assert_eq!(meta["format_version"], 1);
    assert_eq!(meta["block_digest"], "sha256");
    assert_eq!(meta["metadata"]["name"], "eicar-test");
    assert!(meta["metadata"].get("block_digest").is_none());
    let eicar = [
        "X5O!P%@AP[4\\PZX54(P^)7CC)7}$",
        "EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*",
    ]
    .concat();
    assert!(matched(&v1, &sha256(eicar.as_bytes())));
    assert!(matched(&v1, &md5(eicar.as_bytes())));
    // Its blocks are checked with SHA-256: a flipped entry byte is caught.
    let t = tempfile::tempdir().unwrap();
    let damaged = t.path().join("v1-damaged.fkhs");
    std::fs::write(&damaged, flip(&std::fs::read(&v1).unwrap(), 16 + 5)).unwrap();
    let r = fk(&["hashset", "info", damaged.to_str().unwrap()]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(
        r.stderr.contains("integrity check failed: data block 0"),
        "{}",
        r.stderr
    );
    // A version this fieldkit does not know is refused in one line that says so.
    let mut future = std::fs::read(&v1).unwrap();
    future[8] = 9;
    std::fs::write(&damaged, &future).unwrap();
    let r = fk(&[
        "hashset",
        "lookup",
        damaged.to_str().unwrap(),
        &sha256(b"x"),
    ]);
    assert_eq!(r.code, 2);
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("set format version 9; this fieldkit reads versions 1 to 2"),
        "{}",
        r.stderr
    );
}
