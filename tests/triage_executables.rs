//! The executable analyzer on binaries made by real toolchains (mingw-w64, gcc, clang/lld,
//! osslsigncode) and a Microsoft-signed PE from Debian's shim-signed, cross-checked field
//! by field against pefile and readelf.

mod triage_support;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use triage_support::*;

const INJECTOR_C: &str = r#"#include <windows.h>
int main(int argc, char **argv) {
    HANDLE p = OpenProcess(PROCESS_ALL_ACCESS, FALSE, (DWORD)argc);
    LPVOID mem = VirtualAllocEx(p, NULL, 4096, MEM_COMMIT, PAGE_EXECUTE_READWRITE);
    SIZE_T written = 0;
    WriteProcessMemory(p, mem, argv[0], 16, &written);
    CreateRemoteThread(p, NULL, 0, (LPTHREAD_START_ROUTINE)mem, NULL, 0, NULL);
    return 0;
}
"#;

const MINGW: &str = "x86_64-w64-mingw32-gcc";
const MINGW_PKG: &str = "gcc-mingw-w64-x86-64";

fn build_injector(dir: &Path, name: &str) -> PathBuf {
    std::fs::write(dir.join("inject.c"), INJECTOR_C).expect("write source");
    run_tool_in(dir, MINGW, &["-O2", "-o", name, "inject.c"], MINGW_PKG);
    dir.join(name)
}

/// Makes a self-signed certificate (openssl req -x509) in `dir` and Authenticode-signs
/// `input` into `output` with osslsigncode.
fn sign_with_new_certificate(dir: &Path, subject: &str, input: &str, output: &str) {
    let req = [
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "key.pem", "-out", "cert.pem",
        "-days", "30", "-subj", subject,
    ];
    run_tool_in(dir, "openssl", &req, "openssl");
    let sign = [
        "sign",
        "-certs",
        "cert.pem",
        "-key",
        "key.pem",
        "-n",
        "fieldkit test",
        "-in",
        input,
        "-out",
        output,
    ];
    run_tool_in(dir, "osslsigncode", &sign, "osslsigncode");
}

/// pefile's view of a PE: machine, timestamp, sections, imports, certificate directory.
fn pefile_view(path: &Path) -> Value {
    let script = r#"
import json, sys, pefile
pe = pefile.PE(sys.argv[1])
sec = pe.OPTIONAL_HEADER.DATA_DIRECTORY[pefile.DIRECTORY_ENTRY['IMAGE_DIRECTORY_ENTRY_SECURITY']]
imports = []
for entry in getattr(pe, 'DIRECTORY_ENTRY_IMPORT', []):
    for imp in entry.imports:
        if imp.name:
            imports.append(entry.dll.decode() + '!' + imp.name.decode())
print(json.dumps({
    'machine': pe.FILE_HEADER.Machine,
    'timestamp': pe.FILE_HEADER.TimeDateStamp,
    'sections': [{'name': s.Name.rstrip(b'\0').decode('latin-1'), 'size': s.SizeOfRawData,
                  'offset': s.PointerToRawData, 'entropy': s.get_entropy()} for s in pe.sections],
    'imports': imports,
    'security': [sec.VirtualAddress, sec.Size],
}))
"#;
    let out = Command::new(python_with_pefile())
        .args(["-c", script])
        .arg(path)
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("pefile JSON")
}

/// Our PE summary agrees with pefile on every field both report.
fn assert_matches_pefile(summary: &Value, path: &Path) {
    let pefile = pefile_view(path);
    assert_eq!(
        summary["machine_code"],
        format!("{:#06x}", pefile["machine"].as_u64().unwrap_or(0))
    );
    assert_eq!(summary["timestamp"], pefile["timestamp"]);
    let ours = summary["sections"].as_array().expect("sections");
    let theirs = pefile["sections"].as_array().expect("sections");
    assert_eq!(ours.len(), theirs.len(), "section count");
    for (a, b) in ours.iter().zip(theirs) {
        // Long names ("/4") are resolved by goblin but not by pefile; compare short ones.
        if !b["name"].as_str().unwrap_or("").starts_with('/') {
            assert_eq!(a["name"], b["name"]);
        }
        assert_eq!(a["size"], b["size"], "size of {}", b["name"]);
        assert_eq!(a["offset"], b["offset"], "offset of {}", b["name"]);
        let diff = a["entropy"].as_f64().unwrap_or(-1.0) - b["entropy"].as_f64().unwrap_or(9.0);
        assert!(diff.abs() < 0.001, "entropy of {}: {a} vs {b}", b["name"]);
    }
    let security = &pefile["security"];
    if security[1].as_u64() == Some(0) {
        assert_eq!(summary["authenticode"]["present"], false);
    } else {
        assert_eq!(summary["authenticode"]["offset"], security[0]);
        assert_eq!(summary["authenticode"]["size"], security[1]);
    }
}

/// binutils' view of a PE (`objdump -p` and `-h`, BFD's own PE reader): COFF timestamp
/// as UTC text, optional-header magic, subsystem, characteristics, certificate directory,
/// imported DLLs and function count, section names and file offsets.
struct ObjdumpPe {
    time_date: String,
    pe32_plus: bool,
    subsystem: u64,
    characteristics: u64,
    security: (u64, u64),
    dlls: Vec<String>,
    imported_functions: usize,
    sections: Vec<(String, u64)>,
}

fn objdump_view(path: &Path) -> ObjdumpPe {
    let objdump = |flag: &str| -> String {
        let out = Command::new("objdump")
            .arg(flag)
            .arg(path)
            .env("TZ", "UTC")
            .output()
            .expect("objdump: apt-get install -y binutils");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let p = objdump("-p");
    let field = |name: &str| -> String {
        p.lines()
            .find_map(|l| l.strip_prefix(name))
            .unwrap_or_else(|| panic!("no {name} in objdump -p"))
            .trim()
            .to_string()
    };
    let hex = |s: &str| u64::from_str_radix(s.trim_start_matches("0x"), 16).expect("hex");
    let security = p
        .lines()
        .find(|l| l.starts_with("Entry 4 ") && l.contains("Security Directory"))
        .map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            (hex(w[2]), hex(w[3]))
        })
        .expect("Entry 4");
    let mut dlls = Vec::new();
    let mut imported_functions = 0;
    let mut in_table = false;
    for line in p.lines() {
        if let Some(dll) = line.trim().strip_prefix("DLL Name: ") {
            dlls.push(dll.to_string());
            in_table = false;
        } else if line.contains("vma:  Hint/Ord Member-Name") {
            in_table = true;
        } else if in_table && line.trim().is_empty() {
            in_table = false;
        } else if in_table {
            imported_functions += 1;
        }
    }
    let h = objdump("-h");
    let sections = h
        .lines()
        .filter_map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            (w.len() >= 7 && w[0].parse::<usize>().is_ok()).then(|| (w[1].to_string(), hex(w[5])))
        })
        .collect();
    ObjdumpPe {
        time_date: field("Time/Date"),
        pe32_plus: field("Magic").contains("(PE32+)"),
        subsystem: hex(field("Subsystem").split_whitespace().next().unwrap_or("")),
        characteristics: hex(&field("Characteristics")),
        security,
        dlls,
        imported_functions,
        sections,
    }
}

/// Our PE summary agrees with objdump on every field both report.
fn assert_matches_objdump(summary: &Value, path: &Path) {
    let o = objdump_view(path);
    let ts = summary["timestamp"].as_u64().expect("timestamp");
    let date = run_tool(
        "date",
        &["-u", "-d", &format!("@{ts}"), "+%a %b %e %H:%M:%S %Y"],
        "coreutils",
    );
    assert_eq!(
        o.time_date,
        String::from_utf8_lossy(&date.stdout).trim(),
        "Time/Date"
    );
    assert_eq!(summary["pe_type"] == "PE32+", o.pe32_plus);
    assert_eq!(summary["subsystem"], o.subsystem);
    assert_eq!(summary["dll"], o.characteristics & 0x2000 != 0);
    if o.security.1 == 0 {
        assert_eq!(summary["authenticode"]["present"], false);
    } else {
        assert_eq!(summary["authenticode"]["offset"], o.security.0);
        assert_eq!(summary["authenticode"]["size"], o.security.1);
    }
    let ours: Vec<(String, u64)> = summary["sections"]
        .as_array()
        .expect("sections")
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap_or("").to_string(),
                s["offset"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(ours, o.sections, "section names and file offsets");
    if let Some(libraries) = summary["libraries"].as_array() {
        let mut ours: Vec<String> = libraries
            .iter()
            .filter_map(|l| l.as_str().map(str::to_ascii_lowercase))
            .collect();
        let mut theirs: Vec<String> = o.dlls.iter().map(|d| d.to_ascii_lowercase()).collect();
        ours.sort();
        theirs.sort();
        assert_eq!(ours, theirs, "imported DLLs");
        assert_eq!(
            summary["import_count"], o.imported_functions,
            "imported functions"
        );
    }
}

#[test]
fn mingw_injector_is_flagged_and_agrees_with_pefile() {
    let dir = tempfile::tempdir().expect("tempdir");
    let exe = build_injector(dir.path(), "tool.exe");
    let findings = triage(Some(dir.path()), std::slice::from_ref(&exe), &[]);
    let summary = one(&findings, "exe.identified");
    assert_eq!(summary["evidence"]["pe_type"], "PE32+");
    assert_eq!(summary["evidence"]["machine"], "X86_64");
    assert_eq!(summary["title"], "PE32+ executable (X86_64), unsigned");
    assert_matches_pefile(&summary["evidence"], &exe);
    assert_matches_objdump(&summary["evidence"], &exe);

    let imports = one(&findings, "exe.imports_of_note");
    assert_eq!(imports["severity"], "high");
    let injection: Vec<&str> = imports["evidence"]["categories"]["process_injection"]
        .as_array()
        .expect("injection list")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for api in ["VirtualAllocEx", "WriteProcessMemory", "CreateRemoteThread"] {
        assert!(
            injection.iter().any(|i| i.ends_with(&format!("!{api}"))),
            "{api} missing from {injection:?}"
        );
        let pefile = pefile_view(&exe);
        assert!(
            pefile["imports"]
                .as_array()
                .expect("imports")
                .iter()
                .any(|i| i.as_str().is_some_and(|s| s.ends_with(&format!("!{api}")))),
            "pefile does not see {api}"
        );
    }
    // No unusual place and no disguise: relative path "tool.exe".
    assert!(of_kind(&findings, "exe.unusual_location").is_empty());
    assert!(of_kind(&findings, "exe.extension_mismatch").is_empty());
}

#[test]
fn osslsigncode_signature_names_the_signer_and_matches_openssl() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let exe = build_injector(d, "plain.exe");
    sign_with_new_certificate(
        d,
        "/CN=Fieldkit Test Signer/O=Fieldkit Tests",
        "plain.exe",
        "signed.exe",
    );
    let signed = d.join("signed.exe");
    let findings = triage(Some(d), &[exe, signed.clone()], &[]);
    let signed_findings = for_path(&findings, &signed);
    let summary = signed_findings
        .iter()
        .find(|f| f["kind"] == "exe.identified")
        .expect("summary of signed.exe");
    assert_eq!(
        summary["title"],
        "PE32+ executable (X86_64), Authenticode-signed by Fieldkit Test Signer (signature not verified)"
    );
    let auth = &summary["evidence"]["authenticode"];
    assert_eq!(auth["present"], true);
    assert_eq!(auth["signature_verified"], false);
    let signer = &auth["entries"][0]["signers"][0];
    // RFC 4514 order: the last RDN of the encoding (openssl's -subj order) comes first.
    assert_eq!(
        signer["subject"],
        "O=Fieldkit Tests,CN=Fieldkit Test Signer"
    );
    assert_eq!(signer["issuer"], "O=Fieldkit Tests,CN=Fieldkit Test Signer");
    assert_eq!(signer["digest_algorithm"], "sha256");
    // The serial as openssl prints it.
    let serial = run_tool_in(
        d,
        "openssl",
        &["x509", "-in", "cert.pem", "-noout", "-serial"],
        "openssl",
    );
    let serial = String::from_utf8_lossy(&serial.stdout)
        .trim()
        .trim_start_matches("serial=")
        .to_ascii_lowercase();
    let ours = signer["serial"]
        .as_str()
        .unwrap_or("")
        .trim_start_matches('0');
    assert_eq!(ours, serial.trim_start_matches('0'));
    assert_matches_pefile(&summary["evidence"], &signed);
    assert_matches_objdump(&summary["evidence"], &signed);
    // The unsigned original says so.
    let plain = findings
        .iter()
        .find(|f| f["kind"] == "exe.identified" && f["path"] != summary["path"])
        .expect("plain summary");
    assert_eq!(plain["evidence"]["authenticode"]["present"], false);
}

#[test]
fn microsoft_signed_shim_from_debian_is_recognised() {
    let shim = PathBuf::from("/usr/lib/shim/shimx64.efi.signed");
    assert!(
        shim.exists(),
        "missing {}: apt-get install -y shim-signed",
        shim.display()
    );
    let findings = triage(None, std::slice::from_ref(&shim), &[]);
    let summary = one(&findings, "exe.identified");
    let title = summary["title"].as_str().unwrap_or("");
    assert!(
        title.starts_with("PE32+ EFI image (X86_64), Authenticode-signed by Microsoft"),
        "{title}"
    );
    let entries = summary["evidence"]["authenticode"]["entries"]
        .as_array()
        .expect("entries");
    let subjects: Vec<&str> = entries
        .iter()
        .flat_map(|e| e["signers"].as_array().into_iter().flatten())
        .filter_map(|s| s["subject"].as_str())
        .collect();
    assert!(
        subjects
            .iter()
            .all(|s| s.contains("O=Microsoft Corporation")),
        "{subjects:?}"
    );
    // The chain openssl prints from the first WIN_CERTIFICATE entry (located with pefile;
    // osslsigncode refuses shim's two-entry table) is the one we describe.
    let dir = tempfile::tempdir().expect("tempdir");
    let sig = dir.path().join("sig.der");
    let extract = r#"
import sys, struct, pefile
pe = pefile.PE(sys.argv[1], fast_load=True)
sec = pe.OPTIONAL_HEADER.DATA_DIRECTORY[pefile.DIRECTORY_ENTRY['IMAGE_DIRECTORY_ENTRY_SECURITY']]
data = open(sys.argv[1], 'rb').read()
length, revision, kind = struct.unpack_from('<IHH', data, sec.VirtualAddress)
open(sys.argv[2], 'wb').write(data[sec.VirtualAddress + 8:sec.VirtualAddress + length])
"#;
    let out = Command::new(python_with_pefile())
        .args(["-c", extract])
        .arg(&shim)
        .arg(&sig)
        .output()
        .expect("python");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed = run_tool(
        "openssl",
        &[
            "pkcs7",
            "-inform",
            "DER",
            "-in",
            &sig.to_string_lossy(),
            "-print_certs",
            "-noout",
        ],
        "openssl",
    );
    let printed = String::from_utf8_lossy(&printed.stdout);
    let first_chain: Vec<&str> = entries[0]["certificates"]
        .as_array()
        .expect("certificates")
        .iter()
        .filter_map(|c| c["subject"].as_str())
        .collect();
    for subject in &first_chain {
        let cn = subject
            .split(',')
            .next()
            .unwrap_or("")
            .trim_start_matches("CN=");
        assert!(
            printed.contains(cn),
            "openssl does not list {cn}:\n{printed}"
        );
    }
    // shim is built reproducibly: its COFF timestamp is zero.
    assert_eq!(summary["evidence"]["timestamp"], 0);
    one(&findings, "exe.timestamp_zero");
    assert_matches_pefile(&summary["evidence"], &shim);
    assert_matches_objdump(&summary["evidence"], &shim);
}

#[test]
fn upx_style_packed_pe_is_flagged_with_section_entropy_matching_pefile() {
    // UPX is not packaged in Debian bookworm: this PE has UPX's layout (empty UPX0, a
    // high-entropy executable UPX1, the "UPX!" marker) built with the mingw assembler.
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    std::fs::write(d.join("payload.bin"), pseudo_random(40 * 1024, 5)).expect("payload");
    std::fs::write(
        d.join("packed.s"),
        "        .section UPX0,\"bw\"\n        .space 65536\n        .section UPX1,\"xr\"\n        .globl main\nmain:\n        xorl %eax, %eax\n        ret\n        .incbin \"payload.bin\"\n        .section .rdata,\"dr\"\n        .ascii \"UPX!\"\n",
    )
    .expect("asm");
    run_tool_in(
        d,
        MINGW,
        &["-nostdlib", "-e", "main", "-o", "packed.exe", "packed.s"],
        MINGW_PKG,
    );
    let exe = d.join("packed.exe");
    let findings = triage(Some(d), std::slice::from_ref(&exe), &[]);
    let packed = one(&findings, "exe.packed");
    assert_eq!(packed["severity"], "medium");
    assert_eq!(packed["title"], "Executable packed with UPX");
    let evidence = &packed["evidence"];
    assert_eq!(evidence["packers"], serde_json::json!(["UPX"]));
    let marks = evidence["marks"].as_array().expect("marks");
    assert!(marks.iter().any(|m| m["section"] == "UPX0"));
    assert!(marks.iter().any(|m| m["section"] == "UPX1"));
    assert!(marks.iter().any(|m| m["mark"] == "UPX!"));
    let hot = &evidence["high_entropy_code_sections"][0];
    assert_eq!(hot["section"], "UPX1");
    assert!(hot["entropy"].as_f64().unwrap_or(0.0) > 7.9);
    assert_matches_pefile(&one(&findings, "exe.identified")["evidence"], &exe);
    assert_matches_objdump(&one(&findings, "exe.identified")["evidence"], &exe);
}

#[test]
fn large_signed_pe_keeps_its_signature_and_entropy_past_the_parse_prefix() {
    // 20 MiB of initialised data pushes the certificate table past the 16 MiB prefix:
    // it must be captured from the stream.
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    std::fs::write(
        d.join("big.c"),
        "char big[20 << 20] = {1};\nint main(void) { return big[12345]; }\n",
    )
    .expect("source");
    run_tool_in(d, MINGW, &["-O0", "-o", "big.exe", "big.c"], MINGW_PKG);
    sign_with_new_certificate(d, "/CN=Big Signer", "big.exe", "bigs.exe");
    let exe = d.join("bigs.exe");
    assert!(std::fs::metadata(&exe).map(|m| m.len()).unwrap_or(0) > 17 << 20);
    let findings = triage(Some(d), std::slice::from_ref(&exe), &[]);
    let summary = one(&findings, "exe.identified");
    assert_eq!(
        summary["evidence"]["authenticode"]["entries"][0]["signers"][0]["subject"],
        "CN=Big Signer"
    );
    assert_matches_pefile(&summary["evidence"], &exe);
    assert_matches_objdump(&summary["evidence"], &exe);
}

fn readelf(args: &[&str], path: &Path) -> String {
    let out = run_tool(
        "readelf",
        &[args, &[path.to_str().unwrap_or("")]].concat(),
        "binutils",
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn gcc_static_stripped_elf_in_tmp_agrees_with_readelf() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    std::fs::create_dir_all(root.join("tmp")).expect("mkdir");
    std::fs::write(root.join("hello.c"), "int main(void){return 0;}\n").expect("source");
    let elf = root.join("tmp/dropper");
    run_tool_in(
        root,
        "gcc",
        &["-static", "-s", "-o", "tmp/dropper", "hello.c"],
        "gcc libc6-dev",
    );
    let dynamic = root.join("dyn");
    run_tool_in(root, "gcc", &["-o", "dyn", "hello.c"], "gcc");
    let findings = triage(Some(root), &[elf.clone(), dynamic.clone()], &[]);

    let ours = for_path(&findings, &elf);
    let summary = ours
        .iter()
        .find(|f| f["kind"] == "exe.identified")
        .expect("summary");
    let e = &summary["evidence"];
    assert_eq!(e["static"], true);
    assert_eq!(e["stripped"], true);
    assert_eq!(e["interpreter"], Value::Null);
    let header = readelf(&["-h"], &elf);
    let readelf_type = if header.contains("EXEC (Executable file)") {
        "executable"
    } else {
        "shared object"
    };
    assert_eq!(e["type"], readelf_type);
    assert!(header.contains("Advanced Micro Devices X86-64"));
    assert_eq!(e["machine"], "X86_64");
    assert!(!readelf(&["-l"], &elf).contains("INTERP"));
    assert!(!readelf(&["-S"], &elf).contains(".symtab"));
    let place = ours
        .iter()
        .find(|f| f["kind"] == "exe.unusual_location")
        .expect("location");
    assert_eq!(place["evidence"]["place"], "temporary directory");
    assert_eq!(place["severity"], "medium");

    let dynamic_findings = for_path(&findings, &dynamic);
    let d = &dynamic_findings
        .iter()
        .find(|f| f["kind"] == "exe.identified")
        .expect("dynamic summary")["evidence"];
    assert_eq!(d["static"], false);
    assert_eq!(d["stripped"], false);
    let program_headers = readelf(&["-l"], &dynamic);
    let interp = d["interpreter"].as_str().expect("interpreter");
    assert!(
        program_headers.contains(&format!("[Requesting program interpreter: {interp}]")),
        "{interp} not in readelf output"
    );
    assert!(readelf(&["-S"], &dynamic).contains(".symtab"));
    assert!(
        dynamic_findings
            .iter()
            .all(|f| f["kind"] != "exe.unusual_location")
    );
}

#[test]
fn truncated_and_corrupted_binaries_are_findings_never_crashes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let exe = build_injector(d, "good.exe");
    std::fs::write(d.join("hello.c"), "int main(void){return 0;}\n").expect("source");
    run_tool_in(d, "gcc", &["-o", "good.elf", "hello.c"], "gcc");
    let pe = std::fs::read(&exe).expect("read pe");
    let elf = std::fs::read(d.join("good.elf")).expect("read elf");

    // Cut both at many points, and corrupt header fields.
    let mut files = Vec::new();
    for (name, bytes) in [("pe", &pe), ("elf", &elf)] {
        for cut in [
            64,
            100,
            200,
            400,
            1024,
            4096,
            bytes.len() / 3,
            bytes.len() / 2,
            bytes.len() - 7,
        ] {
            let path = d.join(format!("{name}-cut{cut}"));
            std::fs::write(&path, &bytes[..cut.min(bytes.len())]).expect("write cut");
            files.push(path);
        }
    }
    let mut bad_lfanew = pe.clone();
    bad_lfanew[0x3c..0x40].copy_from_slice(&0x7fff_fff0u32.to_le_bytes());
    let mut bad_sections = pe.clone();
    let lfanew = u32::from_le_bytes([pe[0x3c], pe[0x3d], pe[0x3e], pe[0x3f]]) as usize;
    bad_sections[lfanew + 6..lfanew + 8].copy_from_slice(&0xffffu16.to_le_bytes());
    let mut bad_shoff = elf.clone();
    bad_shoff[0x28..0x30].copy_from_slice(&u64::MAX.to_le_bytes());
    for (name, bytes) in [
        ("pe-lfanew", bad_lfanew),
        ("pe-nsections", bad_sections),
        ("elf-shoff", bad_shoff),
    ] {
        let path = d.join(name);
        std::fs::write(&path, bytes).expect("write corrupt");
        files.push(path);
    }
    let findings = triage(Some(d), &files, &[]);
    assert!(
        of_kind(&findings, "triage.analyzer_failed").is_empty(),
        "an analyzer panicked"
    );
    // Every cut or corrupted file is named as malformed or truncated.
    for file in &files {
        let theirs = for_path(&findings, file);
        assert!(
            theirs
                .iter()
                .any(|f| f["kind"] == "exe.parse_error" || f["kind"] == "exe.truncated"),
            "{} is not reported as malformed: {:?}",
            file.display(),
            theirs.iter().map(|f| f["kind"].clone()).collect::<Vec<_>>()
        );
    }
    let half = d.join(format!("pe-cut{}", pe.len() / 2));
    let half_findings = for_path(&findings, &half);
    let truncated = half_findings
        .iter()
        .find(|f| f["kind"] == "exe.truncated")
        .expect("half PE is truncated");
    assert_eq!(truncated["severity"], "low");
    assert_eq!(truncated["evidence"]["file_size"], pe.len() / 2);
    assert!(half_findings.iter().any(|f| f["kind"] == "exe.identified"));
}

#[test]
fn a_jpg_that_is_a_pe_is_unmasked_whatever_the_chunk_size() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let exe = build_injector(d, "x.exe");
    let users = d.join("Users/bob/Downloads");
    std::fs::create_dir_all(&users).expect("mkdir");
    let disguised = users.join("holiday.JPG");
    std::fs::copy(&exe, &disguised).expect("copy");
    let photo = users.join("real.jpg");
    std::fs::write(
        &photo,
        b"\xff\xd8\xff\xe0\x00\x10JFIF\x00 not an executable at all, just a header",
    )
    .expect("jpg");
    let files = vec![disguised.clone(), photo.clone()];
    let findings = triage(Some(d), &files, &[]);
    let mismatch = one(&findings, "exe.extension_mismatch");
    assert_eq!(mismatch["severity"], "high");
    assert_eq!(
        mismatch["title"],
        "File named .jpg is really an executable (PE32+ executable (X86_64))"
    );
    assert_eq!(mismatch["path"], disguised.to_string_lossy().as_ref());
    let place = one(&findings, "exe.unusual_location");
    assert_eq!(place["evidence"]["place"], "Downloads folder");
    assert!(for_path(&findings, &photo).is_empty());
    // Chunking never changes the result.
    for chunk in ["1", "7", "4096"] {
        let again = triage(Some(d), &files, &["--chunk-size", chunk]);
        assert_eq!(again, findings, "chunk size {chunk}");
    }
}

#[test]
fn mach_o_thin_and_fat_binaries_from_clang_and_lld() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    std::fs::write(d.join("m.c"), "int main(void){return 42;}\n").expect("source");
    build_fat_macho(d, "m.c", "fat");
    let files: Vec<PathBuf> = ["x86_64", "arm64", "fat", "x86_64.o"]
        .iter()
        .map(|n| d.join(n))
        .collect();
    let findings = triage(Some(d), &files, &[]);
    let titles: Vec<&str> = of_kind(&findings, "exe.identified")
        .iter()
        .filter_map(|f| f["title"].as_str())
        .collect();
    assert_eq!(
        titles,
        vec![
            "Mach-O executable (x86_64)",
            "Mach-O executable (arm64)",
            "Mach-O universal (fat) binary (x86_64, arm64)",
            "Mach-O object (x86_64)",
        ]
    );
    let lipo = run_tool_in(d, "llvm-lipo-14", &["-archs", "fat"], "llvm");
    assert_eq!(String::from_utf8_lossy(&lipo.stdout).trim(), "x86_64 arm64");
}

/// Builds with gcc an ELF whose 17 MiB `.rodata` array pushes `.dynamic`, the section
/// header table and `.shstrtab` past the 16 MiB parse prefix.
fn build_big_elf(dir: &Path, name: &str, flags: &[&str]) -> PathBuf {
    std::fs::write(
        dir.join("bigelf.c"),
        "const char big[17 << 20] = {1};\nint main(int argc, char **argv) { return big[argc]; }\n",
    )
    .expect("source");
    let args = [flags, &["-o", name, "bigelf.c"]].concat();
    run_tool_in(dir, "gcc", &args, "gcc libc6-dev");
    let path = dir.join(name);
    assert!(std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0) > 17 << 20);
    path
}

/// DT_NEEDED names as readelf -d prints them ("Shared library: [libc.so.6]").
fn readelf_needed(path: &Path) -> Vec<String> {
    readelf(&["-dW"], path)
        .lines()
        .filter_map(|l| l.split("Shared library: [").nth(1))
        .map(|l| l.trim_end_matches(']').to_string())
        .collect()
}

#[test]
fn elf_larger_than_the_parse_prefix_is_described_not_called_malformed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let dynamic = build_big_elf(d, "bigdyn", &[]);
    let stat = build_big_elf(d, "bigstatic", &["-static", "-s"]);
    let findings = triage(Some(d), &[dynamic.clone(), stat.clone()], &[]);
    assert!(
        of_kind(&findings, "exe.parse_error").is_empty()
            && of_kind(&findings, "exe.truncated").is_empty(),
        "a large ELF is neither malformed nor truncated: {findings:#?}"
    );

    let ours = for_path(&findings, &dynamic);
    let e = &ours[0]["evidence"];
    assert_eq!(ours[0]["kind"], "exe.identified");
    assert_eq!(e["size"], std::fs::metadata(&dynamic).expect("stat").len());
    // readelf: the interpreter, a .symtab (not stripped), the NEEDED libraries.
    let interp = e["interpreter"].as_str().expect("interpreter");
    assert!(
        readelf(&["-l"], &dynamic).contains(&format!("[Requesting program interpreter: {interp}]"))
    );
    assert_eq!(e["static"], false);
    assert_eq!(e["stripped"], false);
    assert!(readelf(&["-S"], &dynamic).contains(".symtab"));
    assert_eq!(e["libraries"], serde_json::json!(readelf_needed(&dynamic)));
    assert!(!readelf_needed(&dynamic).is_empty());
    // .dynamic lies past the prefix here: it was read from the stream.
    let sections = readelf(&["-SW"], &dynamic);
    let dyn_offset = sections
        .lines()
        .find(|l| l.contains(" .dynamic "))
        .and_then(|l| l.split_whitespace().skip_while(|w| *w != ".dynamic").nth(3))
        .and_then(|o| u64::from_str_radix(o, 16).ok())
        .expect(".dynamic offset");
    assert!(dyn_offset > 16 << 20, ".dynamic at {dyn_offset}");
    let ours_sections = e["sections"].as_array().expect("sections");
    let names: Vec<&str> = ours_sections
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    for want in [".text", ".rodata", ".dynamic", ".symtab", ".shstrtab"] {
        assert!(names.contains(&want), "{want} missing from {names:?}");
        assert!(sections.contains(want));
    }
    let text = ours_sections
        .iter()
        .find(|s| s["name"] == ".text")
        .expect(".text");
    assert!(
        text["entropy"].as_f64().is_some(),
        ".text lies in the prefix: {text}"
    );
    let title = ours[0]["title"].as_str().unwrap_or("");
    assert!(title.ends_with(", not stripped"), "{title}");

    let ours = for_path(&findings, &stat);
    let e = &ours[0]["evidence"];
    assert_eq!(e["static"], true);
    assert_eq!(e["stripped"], true);
    assert_eq!(e["interpreter"], Value::Null);
    assert_eq!(e["libraries"], serde_json::json!([]));
    assert_eq!(e["size"], std::fs::metadata(&stat).expect("stat").len());
    assert!(!readelf(&["-l"], &stat).contains("INTERP"));
    assert!(!readelf(&["-S"], &stat).contains(".symtab"));
    assert!(readelf_needed(&stat).is_empty());
    assert_eq!(
        ours[0]["title"],
        "ELF 64-bit executable (X86_64), static linking, stripped"
    );
}

#[test]
fn fat_mach_o_whose_slices_lie_past_the_parse_prefix_lists_every_architecture() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    std::fs::write(
        d.join("big.c"),
        "const char big[17 << 20] = {1};\nint main(int argc, char **argv) { return big[argc]; }\n",
    )
    .expect("source");
    build_fat_macho(d, "big.c", "fat");
    // llvm-otool's view of the fat header: both slices, the second past 16 MiB.
    let detail = run_tool_in(d, "llvm-otool-14", &["-f", "fat"], "llvm");
    let detail = String::from_utf8_lossy(&detail.stdout).into_owned();
    let offsets: Vec<u64> = detail
        .lines()
        .filter_map(|l| l.trim().strip_prefix("offset "))
        .filter_map(|o| o.trim().parse().ok())
        .collect();
    assert_eq!(offsets.len(), 2, "{detail}");
    assert!(offsets[1] > 16 << 20, "{detail}");
    let files: Vec<PathBuf> = ["fat", "x86_64"].iter().map(|n| d.join(n)).collect();
    let findings = triage(Some(d), &files, &[]);
    assert!(
        of_kind(&findings, "exe.parse_error").is_empty(),
        "{findings:#?}"
    );
    let fat = for_path(&findings, &files[0]);
    assert_eq!(
        fat[0]["title"],
        "Mach-O universal (fat) binary (x86_64, arm64)"
    );
    let arches = fat[0]["evidence"]["arches"].as_array().expect("arches");
    assert!(
        arches.iter().all(|a| a["filetype"] == "executable"),
        "{arches:?}"
    );
    assert_eq!(
        fat[0]["evidence"]["size"],
        std::fs::metadata(&files[0]).expect("stat").len()
    );
    let lipo = run_tool_in(d, "llvm-lipo-14", &["-archs", "fat"], "llvm");
    assert_eq!(String::from_utf8_lossy(&lipo.stdout).trim(), "x86_64 arm64");
    // The thin 17 MiB slice on its own keeps its load commands in the prefix.
    let thin = for_path(&findings, &files[1]);
    assert_eq!(thin[0]["title"], "Mach-O executable (x86_64)");
    assert_eq!(thin[0]["evidence"]["code_signature"], false);
}

#[test]
fn pe_timestamps_in_the_future_or_before_the_pe_format_are_flagged() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let exe = build_injector(d, "now.exe");
    // pefile rewrites the COFF TimeDateStamp: 0xF0000000 (2097, in the future) and
    // 1990-01-01 (three years before Windows NT 3.1 introduced PE).
    let patch = r#"
import sys, pefile
pe = pefile.PE(sys.argv[1])
pe.FILE_HEADER.TimeDateStamp = int(sys.argv[3])
pe.write(sys.argv[2])
"#;
    for (name, stamp) in [("future.exe", "4026531840"), ("old.exe", "631152000")] {
        let out = Command::new(python_with_pefile())
            .args(["-c", patch])
            .arg(&exe)
            .arg(d.join(name))
            .arg(stamp)
            .output()
            .expect("python");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let files: Vec<PathBuf> = ["now.exe", "future.exe", "old.exe"]
        .iter()
        .map(|n| d.join(n))
        .collect();
    let findings = triage(Some(d), &files, &[]);
    let kinds = |file: &PathBuf| -> Vec<String> {
        for_path(&findings, file)
            .iter()
            .filter_map(|f| f["kind"].as_str())
            .filter(|k| k.starts_with("exe.timestamp"))
            .map(str::to_string)
            .collect()
    };
    assert!(
        kinds(&files[0]).is_empty(),
        "a fresh build has a plausible time"
    );
    assert_eq!(kinds(&files[1]), vec!["exe.timestamp_future"]);
    assert_eq!(kinds(&files[2]), vec!["exe.timestamp_before_pe"]);
    let future = one(&findings, "exe.timestamp_future");
    assert_eq!(future["severity"], "low");
    assert_eq!(future["evidence"]["timestamp"], 4_026_531_840u64);
    // date -u -d @4026531840 (and objdump below) say the same.
    assert_eq!(future["evidence"]["timestamp_utc"], "2097-08-05T09:04:00Z");
    let old = of_kind(&findings, "exe.timestamp_before_pe")[0];
    assert_eq!(old["evidence"]["timestamp_utc"], "1990-01-01T00:00:00Z");
    // pefile and objdump read the same patched stamps.
    for file in &files[1..] {
        let summary = for_path(&findings, file)
            .into_iter()
            .find(|f| f["kind"] == "exe.identified")
            .expect("summary");
        assert_matches_pefile(&summary["evidence"], file);
        assert_matches_objdump(&summary["evidence"], file);
    }
}
