//! The encryption analyzer on containers, archives and password databases made by the
//! real tools (cryptsetup, tcplay, keepassxc-cli, zip, 7z, age, gpg, openssl), with the
//! fields cross-checked against the tools' own reports.

mod triage_support;

use std::path::{Path, PathBuf};

use serde_json::Value;
use triage_support::*;

fn luks_dump_field(image: &Path, field: &str) -> String {
    let out = run_tool(
        "cryptsetup",
        &["luksDump", &image.to_string_lossy()],
        "cryptsetup-bin",
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.trim().strip_prefix(field).map(|v| v.trim().to_string()))
        .unwrap_or_default()
}

#[test]
fn luks1_and_luks2_headers_from_cryptsetup() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let key = write(d, "key", b"correct horse battery staple");
    let mut images = Vec::new();
    for version in ["luks1", "luks2"] {
        let image = d.join(format!("{version}.img"));
        std::fs::File::create(&image)
            .and_then(|f| f.set_len(16 << 20))
            .expect("image");
        let mut args = vec![
            "luksFormat",
            "--batch-mode",
            "--type",
            version,
            "--pbkdf-force-iterations",
            "1000",
            "--key-file",
        ];
        let key_s = key.to_string_lossy().into_owned();
        let image_s = image.to_string_lossy().into_owned();
        args.push(&key_s);
        if version == "luks2" {
            args.extend(["--pbkdf", "pbkdf2", "--label", "exhibit-7"]);
        }
        args.push(&image_s);
        run_tool("cryptsetup", &args, "cryptsetup-bin");
        images.push(image);
    }
    let findings = triage(Some(d), &images, &[]);
    let luks = of_kind(&findings, "encryption.luks");
    assert_eq!(luks.len(), 2);
    for (finding, image) in luks.iter().zip(&images) {
        assert_eq!(finding["severity"], "high");
        let uuid = run_tool(
            "cryptsetup",
            &["luksUUID", &image.to_string_lossy()],
            "cryptsetup-bin",
        );
        assert_eq!(
            finding["evidence"]["uuid"],
            String::from_utf8_lossy(&uuid.stdout).trim()
        );
    }
    assert_eq!(luks[0]["title"], "LUKS1 encrypted volume header");
    assert_eq!(
        luks[0]["evidence"]["cipher"],
        luks_dump_field(&images[0], "Cipher name:")
    );
    assert_eq!(
        luks[0]["evidence"]["cipher_mode"],
        luks_dump_field(&images[0], "Cipher mode:")
    );
    assert_eq!(luks[0]["evidence"]["active_keyslots"], 1);
    assert_eq!(luks[1]["title"], "LUKS2 encrypted volume header");
    assert_eq!(luks[1]["evidence"]["label"], "exhibit-7");
    assert_eq!(
        luks[1]["evidence"]["label"],
        luks_dump_field(&images[1], "Label:")
    );
    assert_eq!(
        luks[1]["evidence"]["segment_encryption"][0],
        luks_dump_field(&images[1], "cipher:")
    );
    assert_eq!(luks[1]["evidence"]["keyslots"], 1);
    // A LUKS header is never also a "random container" candidate.
    assert!(of_kind(&findings, "encryption.container_candidate").is_empty());
}

#[test]
fn truecrypt_volume_from_tcplay_is_a_container_candidate_and_controls_are_not() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let volume = d.join("evidence.tc");
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/tools/make-tcplay-volume.py"
    );
    run_tool(
        "python3",
        &[script, &volume.to_string_lossy(), "4", "correct horse"],
        "tcplay python3",
    );
    // Controls: zeros, text, and compressed-looking data without a header (raw deflate of
    // text) padded to a multiple of 512.
    let zeros = write(d, "zeros.img", &vec![0u8; 4 << 20]);
    let text = write(
        d,
        "text.img",
        &b"All work and no play. ".repeat((4 << 20) / 22 + 1)[..4 << 20],
    );
    let raw_deflate = {
        let out = run_tool(
            "python3",
            &[
                "-c",
                "import sys,zlib,random\nr=random.Random(1)\nwords=[''.join(r.choice('abcdefghij') for _ in range(5)) for _ in range(500)]\ndata=' '.join(r.choice(words) for _ in range(2000000)).encode()\nc=zlib.compressobj(9,zlib.DEFLATED,-15)\nz=c.compress(data)+c.flush()\nz=z[:len(z)//512*512]\nsys.stdout.buffer.write(z)",
            ],
            "python3",
        );
        write(d, "deflate.bin", &out.stdout)
    };
    let not_multiple = write(d, "odd.bin", &pseudo_random((4 << 20) + 100, 9));
    let files = vec![
        volume.clone(),
        zeros,
        text,
        raw_deflate.clone(),
        not_multiple,
    ];
    let findings = triage(Some(d), &files, &[]);
    let candidate = one(&findings, "encryption.container_candidate");
    assert_eq!(candidate["path"], volume.to_string_lossy().as_ref());
    assert_eq!(candidate["severity"], "medium");
    let e = &candidate["evidence"];
    assert_eq!(e["size"], 4 << 20);
    assert_eq!(e["sampled_blocks"], 64);
    assert!(e["min_block_entropy"].as_f64().unwrap_or(0.0) >= 7.9);
    assert!(e["chi_square"].as_f64().unwrap_or(1e9) < 400.0);
    assert!(
        std::fs::metadata(&raw_deflate)
            .map(|m| m.len())
            .unwrap_or(0)
            >= 1 << 20,
        "control too small"
    );
}

#[test]
fn keepass_database_from_keepassxc_cli() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let db = d.join("Passwords.kdbx");
    let mut child = std::process::Command::new("keepassxc-cli")
        .args(["db-create", "-p"])
        .arg(&db)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("keepassxc-cli: apt-get install -y keepassxc");
    use std::io::Write;
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"hunter2\nhunter2\n")
        .expect("password");
    assert!(
        child.wait().expect("wait").success(),
        "keepassxc-cli db-create failed"
    );
    let findings = triage(Some(d), &[db], &[]);
    let kp = one(&findings, "encryption.password_manager");
    assert_eq!(kp["severity"], "high");
    assert_eq!(kp["evidence"]["product"], "KeePass");
    // keepassxc 2.7 writes KDBX 3.1 with the AES KDF (db-info says "KDF: AES").
    assert_eq!(kp["title"], "Password database: KeePass KDBX 3.1");
}

#[test]
fn encrypted_zip_and_7z_archives_from_the_real_tools() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    for i in 0..40 {
        write(
            d,
            &format!("docs/file{i:02}.txt"),
            format!("secret ledger line {i}\n").as_bytes(),
        );
    }
    let docs: Vec<String> = (0..40).map(|i| format!("docs/file{i:02}.txt")).collect();
    let docs: Vec<&str> = docs.iter().map(String::as_str).collect();
    let zip_args = |extra: &[&'static str], out: &'static str| -> Vec<&str> {
        let mut v: Vec<&str> = extra.to_vec();
        v.push(out);
        v.extend(docs.iter().copied());
        v
    };
    run_tool_in(
        d,
        "zip",
        &zip_args(&["-q", "-e", "-P", "secret"], "zipcrypto.zip"),
        "zip",
    );
    run_tool_in(d, "zip", &zip_args(&["-q"], "plain.zip"), "zip");
    run_tool_in(
        d,
        "7z",
        &zip_args(&["a", "-tzip", "-mem=AES256", "-psecret"], "aes.zip"),
        "p7zip-full",
    );
    run_tool_in(
        d,
        "7z",
        &["a", "-psecret", "small.7z", "docs/file00.txt"],
        "p7zip-full",
    );
    run_tool_in(
        d,
        "7z",
        &zip_args(&["a", "-psecret"], "many.7z"),
        "p7zip-full",
    );
    run_tool_in(
        d,
        "7z",
        &zip_args(&["a", "-psecret", "-mhe=on"], "hidden.7z"),
        "p7zip-full",
    );
    run_tool_in(d, "7z", &zip_args(&["a"], "plain.7z"), "p7zip-full");
    let names = [
        "zipcrypto.zip",
        "plain.zip",
        "aes.zip",
        "small.7z",
        "many.7z",
        "hidden.7z",
        "plain.7z",
    ];
    let files: Vec<PathBuf> = names.iter().map(|n| d.join(n)).collect();
    let findings = triage(Some(d), &files, &[]);
    let titles: Vec<(String, String)> = of_kind(&findings, "encryption.archive")
        .iter()
        .map(|f| {
            let path = f["path"].as_str().unwrap_or("");
            (
                path.rsplit('/').next().unwrap_or("").to_string(),
                f["title"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    let expect = |n: &str, t: &str| (n.to_string(), t.to_string());
    assert_eq!(
        titles,
        vec![
            expect(
                "zipcrypto.zip",
                "Password-protected ZIP archive (traditional PKWARE (ZipCrypto))"
            ),
            expect("aes.zip", "Password-protected ZIP archive (WinZip AES-256)"),
            expect(
                "small.7z",
                "Password-protected 7z archive (contents encrypted)"
            ),
            expect(
                "many.7z",
                "Password-protected 7z archive (contents encrypted)"
            ),
            expect(
                "hidden.7z",
                "Password-protected 7z archive (file names and contents encrypted)"
            ),
        ]
    );
    // Entry counts come from the central directory and match unzip's listing.
    let zipcrypto = &of_kind(&findings, "encryption.archive")[0]["evidence"];
    let listed = run_tool_in(d, "unzip", &["-Z1", "zipcrypto.zip"], "unzip");
    let count = String::from_utf8_lossy(&listed.stdout).lines().count() as u64;
    assert_eq!(zipcrypto["total_entries"], count);
    assert_eq!(zipcrypto["encrypted_entries"], count);
    assert_eq!(zipcrypto["basis"], "central directory");
    // many.7z has an LZMA-compressed header: 7z itself confirms it is encrypted.
    let slt = run_tool_in(d, "7z", &["l", "-slt", "-psecret", "many.7z"], "p7zip-full");
    assert!(String::from_utf8_lossy(&slt.stdout).contains("7zAES"));
}

#[test]
fn age_openpgp_and_openssl_encrypted_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    write(d, "note.txt", b"meet at the usual place\n");
    run_tool_in(d, "age-keygen", &["-o", "age.key"], "age");
    let key = std::fs::read_to_string(d.join("age.key")).expect("key");
    let recipient = key
        .lines()
        .find_map(|l| l.strip_prefix("# public key: "))
        .expect("public key line")
        .to_string();
    run_tool_in(
        d,
        "age",
        &["-r", &recipient, "-o", "note.age", "note.txt"],
        "age",
    );
    let home = d.join("gnupg");
    std::fs::create_dir_all(&home).expect("gnupg home");
    run_tool_in(
        d,
        "gpg",
        &[
            "--homedir",
            &home.to_string_lossy(),
            "--batch",
            "--yes",
            "--pinentry-mode",
            "loopback",
            "--passphrase",
            "x",
            "--armor",
            "-c",
            "-o",
            "note.asc",
            "note.txt",
        ],
        "gnupg",
    );
    run_tool_in(
        d,
        "openssl",
        &[
            "enc",
            "-aes-256-cbc",
            "-pbkdf2",
            "-salt",
            "-pass",
            "pass:x",
            "-in",
            "note.txt",
            "-out",
            "note.enc",
        ],
        "openssl",
    );
    let files: Vec<PathBuf> = ["note.age", "note.asc", "note.enc", "note.txt"]
        .iter()
        .map(|n| d.join(n))
        .collect();
    let findings = triage(Some(d), &files, &[]);
    let titles: Vec<&str> = of_kind(&findings, "encryption.encrypted_file")
        .iter()
        .filter_map(|f| f["title"].as_str())
        .collect();
    assert_eq!(
        titles,
        vec![
            "Encrypted file (age)",
            "Encrypted file (OpenPGP (ASCII-armored))",
            "Encrypted file (OpenSSL enc (Salted__))",
        ]
    );
}

#[test]
fn zip64_archive_from_info_zip_is_counted_from_its_zip64_central_directory() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    for i in 1..=3 {
        write(
            d,
            &format!("f{i}.txt"),
            format!("ledger page {i}\n").as_bytes(),
        );
    }
    // zip -fz forces the ZIP64 format: the classic end record holds 0xFFFFFFFF and the
    // real directory offset is in the ZIP64 end record the locator points to.
    run_tool_in(
        d,
        "zip",
        &[
            "-q", "-fz", "-e", "-P", "secret", "z64.zip", "f1.txt", "f2.txt",
        ],
        "zip",
    );
    run_tool_in(d, "zip", &["-q", "-fz", "z64.zip", "f3.txt"], "zip");
    let bytes = std::fs::read(d.join("z64.zip")).expect("zip");
    let eocd = bytes.len() - 22;
    assert_eq!(&bytes[eocd..eocd + 4], b"PK\x05\x06");
    assert_eq!(
        &bytes[eocd + 16..eocd + 20],
        &[0xff; 4],
        "classic offset saturated"
    );
    assert_eq!(&bytes[eocd - 20..eocd - 16], b"PK\x06\x07", "ZIP64 locator");
    let findings = triage(Some(d), &[d.join("z64.zip")], &[]);
    let zip = one(&findings, "encryption.archive");
    assert_eq!(zip["evidence"]["basis"], "central directory");
    // unzip and zipinfo agree on the entries and which of them are encrypted.
    let listed = run_tool_in(d, "unzip", &["-Z1", "z64.zip"], "unzip");
    assert_eq!(
        zip["evidence"]["total_entries"],
        String::from_utf8_lossy(&listed.stdout).lines().count() as u64
    );
    let info = run_tool_in(d, "zipinfo", &["-v", "z64.zip"], "unzip");
    let encrypted = String::from_utf8_lossy(&info.stdout)
        .lines()
        .filter_map(|l| l.split("file security status:").nth(1))
        .filter(|status| status.trim() == "encrypted")
        .count() as u64;
    assert_eq!(encrypted, 2);
    assert_eq!(zip["evidence"]["encrypted_entries"], encrypted);
    assert_eq!(
        zip["evidence"]["encrypted_names"],
        serde_json::json!(["f1.txt", "f2.txt"])
    );
}

/// gpg with its home in `home`, non-interactive.
fn gpg(dir: &Path, home: &Path, args: &[&str]) -> std::process::Output {
    let home = home.to_string_lossy();
    let base = [
        "--homedir",
        &home,
        "--batch",
        "--yes",
        "--pinentry-mode",
        "loopback",
    ];
    run_tool_in(dir, "gpg", &[&base[..], args].concat(), "gnupg")
}

#[test]
fn binary_openpgp_messages_from_gpg_are_encrypted_files_and_other_packets_are_not() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let home = d.join("gnupg");
    std::fs::create_dir_all(&home).expect("gnupg home");
    write(d, "note.txt", b"meet at the usual place\n");
    // Without --armor: a binary packet stream (symmetric, then to a new RSA key).
    gpg(
        d,
        &home,
        &[
            "--passphrase",
            "x",
            "--symmetric",
            "-o",
            "note.gpg",
            "note.txt",
        ],
    );
    gpg(
        d,
        &home,
        &[
            "--passphrase",
            "",
            "--quick-gen-key",
            "Exhibit Key <key@example.org>",
            "rsa3072",
            "encr",
            "never",
        ],
    );
    gpg(
        d,
        &home,
        &[
            "--trust-model",
            "always",
            "-r",
            "key@example.org",
            "--encrypt",
            "-o",
            "to-key.gpg",
            "note.txt",
        ],
    );
    // Controls: binary OpenPGP that is not encrypted (signed data, an exported key).
    gpg(
        d,
        &home,
        &[
            "--passphrase",
            "",
            "--quick-gen-key",
            "Signer <sig@example.org>",
            "ed25519",
            "sign",
            "never",
        ],
    );
    gpg(
        d,
        &home,
        &[
            "-u",
            "sig@example.org",
            "--sign",
            "-o",
            "signed.gpg",
            "note.txt",
        ],
    );
    gpg(d, &home, &["--export", "-o", "keys.gpg", "key@example.org"]);
    let files: Vec<PathBuf> = ["note.gpg", "to-key.gpg", "signed.gpg", "keys.gpg"]
        .iter()
        .map(|n| d.join(n))
        .collect();
    let findings = triage(Some(d), &files, &[]);
    let encrypted = of_kind(&findings, "encryption.encrypted_file");
    assert_eq!(encrypted.len(), 2, "{findings:#?}");
    for f in &encrypted {
        assert_eq!(f["title"], "Encrypted file (OpenPGP, binary)");
        assert_eq!(f["severity"], "medium");
        assert_eq!(
            f["evidence"]["data_packet"],
            "symmetrically encrypted and integrity protected data (tag 18)"
        );
    }
    assert!(for_path(&findings, &files[2]).is_empty() && for_path(&findings, &files[3]).is_empty());
    // gpg --list-packets agrees on the session-key packets.
    let listed = |name: &str| -> String {
        let out = std::process::Command::new("gpg")
            .args([
                "--homedir",
                &home.to_string_lossy(),
                "--batch",
                "--list-packets",
            ])
            .arg(d.join(name))
            .output()
            .expect("gpg");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let sym = &for_path(&findings, &files[0])[0]["evidence"]["session_keys"][0];
    assert_eq!(sym["type"], "symmetric (passphrase)");
    let packets = listed("note.gpg");
    assert!(
        packets.contains(":symkey enc packet: version 4, cipher 9"),
        "{packets}"
    );
    assert_eq!(
        sym["cipher"], "AES-256",
        "cipher 9 is AES-256 (RFC 4880 9.2)"
    );
    let pk = &for_path(&findings, &files[1])[0]["evidence"]["session_keys"][0];
    assert_eq!(pk["algorithm"], "RSA");
    let packets = listed("to-key.gpg");
    let key_id = pk["key_id"].as_str().expect("key id");
    assert!(
        packets.contains(&format!(
            ":pubkey enc packet: version 3, algo 1, keyid {key_id}"
        )),
        "{key_id} not in {packets}"
    );
}

#[test]
fn password_manager_exports_and_bitlocker_signature() {
    // No Debian tool writes these: the fixtures follow the published formats (Bitwarden
    // export JSON/CSV, 1Password 1PIF, the BitLocker volume boot record signature).
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let protected = write(
        d,
        "bitwarden_encrypted_export_20261101.json",
        br#"{"encrypted": true, "passwordProtected": true, "salt": "c2FsdA==", "kdfType": 0, "kdfIterations": 600000, "encKeyValidation_DO_NOT_EDIT": "2.abc|def|ghi", "data": "2.xyz|uvw|rst"}"#,
    );
    let plain = write(
        d,
        "bitwarden_export_20261101.json",
        br#"{"encrypted": false, "folders": [], "items": [{"type": 1, "name": "bank", "login": {"username": "u", "password": "p"}}]}"#,
    );
    let csv = write(
        d,
        "export.csv",
        b"folder,favorite,type,name,notes,fields,reprompt,login_uri,login_username,login_password,login_totp\n,,login,bank,,,0,https://bank.example,u,p,\n",
    );
    let pif = write(
        d,
        "1PasswordExport/data.1pif",
        b"{\"uuid\":\"A1\",\"title\":\"bank\"}\n***5642bee8-a5ff-11dc-8314-0800200c9a66***\n",
    );
    let opvault = write(
        d,
        "Dropbox/1Password.opvault/default/profile.js",
        b"var profile={\"lastUpdatedBy\":\"Dropbox\",\"salt\":\"x\",\"masterKey\":\"b3BkYXRh\"};",
    );
    let unrelated = write(
        d,
        "package.json",
        br#"{"name": "left-pad", "encrypted": false}"#,
    );
    let mut vbr = vec![0u8; 1 << 20];
    vbr[..11].copy_from_slice(b"\xeb\x58\x90-FVE-FS-");
    vbr[510] = 0x55;
    vbr[511] = 0xaa;
    let bitlocker = write(d, "usb.img", &vbr);
    let files = vec![
        protected,
        plain,
        csv,
        pif,
        opvault,
        unrelated.clone(),
        bitlocker,
    ];
    let findings = triage(Some(d), &files, &[]);
    let got: Vec<(String, String)> = of_kind(&findings, "encryption.password_manager")
        .iter()
        .map(|f| {
            (
                f["severity"].as_str().unwrap_or("").to_string(),
                f["title"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    let e = |s: &str, t: &str| (s.to_string(), t.to_string());
    assert_eq!(
        got,
        vec![
            e(
                "high",
                "Password manager data: Bitwarden JSON export, password-protected"
            ),
            e(
                "critical",
                "Unencrypted password export: Bitwarden JSON export (plain text)"
            ),
            e(
                "critical",
                "Unencrypted password export: Bitwarden CSV export (plain text)"
            ),
            e(
                "critical",
                "Unencrypted password export: 1Password 1PIF export (plain text)"
            ),
            e(
                "high",
                "Password manager data: 1Password OPVault vault (profile.js)"
            ),
        ]
    );
    assert!(for_path(&findings, &unrelated).is_empty());
    let bl = one(&findings, "encryption.bitlocker");
    assert_eq!(bl["severity"], "high");
    assert_eq!(bl["evidence"]["offset"], 3);
    let _: &Value = bl;
}

/// Writes 7z archives whose (unencrypted) header is LZMA2-compressed, as 7-Zip's format
/// allows (7z.exe itself uses LZMA for headers, so python3's lzma module encodes them):
/// `good.7z` holds a real header declaring a 7zAES content coder; `bomb.7z` declares a
/// 100-byte header whose LZMA2 stream inflates to 96 MiB of zeros.
const MAKE_LZMA2_HEADERS: &str = r#"
import lzma, struct, sys, zlib
def num(n):
    return bytes([n]) if n < 0x80 else b'\xff' + struct.pack('<Q', n)
def archive(packed, unpack_size):
    hdr = b'\x17' + b'\x06' + num(0) + num(1) + b'\x09' + num(len(packed)) + b'\x00'
    hdr += b'\x07\x0b' + num(1) + b'\x00' + num(1) + b'\x21' + b'\x21' + num(1) + b'\x18'
    hdr += b'\x0c' + num(unpack_size) + b'\x00' + b'\x00'
    start = struct.pack('<QQI', len(packed), len(hdr), zlib.crc32(hdr))
    return b'7z\xbc\xaf\x27\x1c\x00\x04' + struct.pack('<I', zlib.crc32(start)) + start + packed + hdr
lzma2 = lambda data: lzma.compress(data, format=lzma.FORMAT_RAW,
                                   filters=[{'id': lzma.FILTER_LZMA2, 'dict_size': 1 << 24}])
# Header > MainStreamsInfo > PackInfo (1 stream of 10 bytes) > UnpackInfo: one folder with
# the 7zAES coder (06F10701, one property byte), unpack size 10.
plain = (b'\x01\x04' + b'\x06' + num(0) + num(1) + b'\x09' + num(10) + b'\x00'
         + b'\x07\x0b' + num(1) + b'\x00' + num(1) + b'\x24\x06\xf1\x07\x01' + num(1) + b'\x00'
         + b'\x0c' + num(10) + b'\x00' + b'\x00')
open(sys.argv[1] + '/good.7z', 'wb').write(archive(lzma2(plain), len(plain)))
open(sys.argv[1] + '/bomb.7z', 'wb').write(archive(lzma2(b'\x00' * (96 << 20)), 100))
"#;

/// Runs `fieldkit triage-file --json FILE` and returns its stdout and peak RSS in KiB
/// (wait4's rusage of that one child).
// The child is reaped by wait4 itself, which std's Child::wait cannot do with rusage.
#[allow(clippy::zombie_processes)]
fn triage_with_peak_rss(file: &Path) -> (String, i64) {
    let out_path = file.with_extension("out");
    let out = std::fs::File::create(&out_path).expect("create");
    let child = std::process::Command::new(fieldkit())
        .args(["triage-file", "--json"])
        .arg(file)
        .stdout(std::process::Stdio::from(out))
        .spawn()
        .expect("spawn fieldkit");
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: a zeroed rusage is a valid value; wait4 only writes into the two pointers.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(waited, pid, "wait4");
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "fieldkit exited with status {status:#x}"
    );
    (
        std::fs::read_to_string(&out_path).expect("stdout"),
        usage.ru_maxrss,
    )
}

#[test]
fn a_7z_header_bomb_is_refused_before_it_is_inflated() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    run_tool(
        "python3",
        &["-c", MAKE_LZMA2_HEADERS, &d.to_string_lossy()],
        "python3",
    );
    // The legitimate LZMA2-coded header is still decoded and read.
    let good = triage(None, &[d.join("good.7z")], &[]);
    assert_eq!(
        one(&good, "encryption.archive")["title"],
        "Password-protected 7z archive (contents encrypted)"
    );
    let bomb = d.join("bomb.7z");
    assert!(std::fs::metadata(&bomb).expect("stat").len() < 64 << 10);
    let (stdout, peak_kib) = triage_with_peak_rss(&bomb);
    let findings: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    let unreadable = one(&findings, "encryption.archive_unreadable");
    assert_eq!(
        unreadable["evidence"]["error"],
        "LZMA2 header stream unpacks to more than the 100 bytes the archive declares"
    );
    // Inflating the 96 MiB would show in the peak; the refusal costs nothing.
    assert!(peak_kib < 48 << 10, "peak RSS {peak_kib} KiB");
}

/// xorshift64*: the mutation test's fixed-seed randomness.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// A copy of `sample` with 1–8 bytes changed (mostly in the first and last 4 KiB, where
/// headers and directories live), sometimes also cut short.
fn mutant(sample: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut bytes = sample.to_vec();
    let len = bytes.len();
    for _ in 0..[1, 2, 4, 8][rng.below(4)] {
        let at = match rng.below(4) {
            0 | 1 => rng.below(len.min(4096)),
            2 => len - 1 - rng.below(len.min(4096)),
            _ => rng.below(len),
        };
        bytes[at] = match rng.below(4) {
            0 => 0,
            1 => 0xff,
            2 => bytes[at] ^ (1 << rng.below(8)),
            _ => rng.next() as u8,
        };
    }
    if rng.below(10) == 0 {
        bytes.truncate(1 + rng.below(len));
    }
    bytes
}

/// Real samples of every format the analyzers parse, made by the real tools.
fn mutation_samples(d: &Path) -> Vec<(&'static str, Vec<u8>)> {
    let mingw = "x86_64-w64-mingw32-gcc";
    write(
        d,
        "tool.c",
        b"#include <windows.h>\nint main(int c, char **v) { HANDLE p = OpenProcess(PROCESS_ALL_ACCESS, FALSE, c);\n\
          LPVOID m = VirtualAllocEx(p, NULL, 4096, MEM_COMMIT, PAGE_EXECUTE_READWRITE);\n\
          WriteProcessMemory(p, m, v[0], 16, NULL); return GetAsyncKeyState(c); }\n",
    );
    run_tool_in(
        d,
        mingw,
        &["-O2", "-o", "tool.exe", "tool.c"],
        "gcc-mingw-w64-x86-64",
    );
    run_tool_in(
        d,
        "openssl",
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "key.pem",
            "-out",
            "cert.pem",
            "-days",
            "30",
            "-subj",
            "/CN=Mutation Test",
        ],
        "openssl",
    );
    run_tool_in(
        d,
        "osslsigncode",
        &[
            "sign",
            "-certs",
            "cert.pem",
            "-key",
            "key.pem",
            "-in",
            "tool.exe",
            "-out",
            "signed.exe",
        ],
        "osslsigncode",
    );
    write(
        d,
        "hello.c",
        b"#include <stdio.h>\nint main(void){puts(\"hi\");return 0;}\n",
    );
    run_tool_in(d, "gcc", &["-o", "hello.elf", "hello.c"], "gcc");
    write(d, "m.c", b"int main(void){return 42;}\n");
    build_fat_macho(d, "m.c", "fat.macho");
    for i in 0..12 {
        write(
            d,
            &format!("docs/f{i}.txt"),
            format!("ledger line {i}\n").as_bytes(),
        );
    }
    run_tool_in(
        d,
        "7z",
        &["a", "-psecret", "lzma-header.7z", "docs"],
        "p7zip-full",
    );
    run_tool_in(
        d,
        "7z",
        &["a", "-psecret", "-mhe=on", "hidden.7z", "docs"],
        "p7zip-full",
    );
    run_tool_in(
        d,
        "zip",
        &["-q", "-r", "-e", "-P", "secret", "crypt.zip", "docs"],
        "zip",
    );
    run_tool_in(
        d,
        "7z",
        &["a", "-tzip", "-mem=AES256", "-psecret", "aes.zip", "docs"],
        "p7zip-full",
    );
    let mut child = std::process::Command::new("keepassxc-cli")
        .args(["db-create", "-p"])
        .arg(d.join("db.kdbx"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("keepassxc-cli: apt-get install -y keepassxc");
    use std::io::Write;
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"hunter2\nhunter2\n")
        .expect("password");
    assert!(child.wait().expect("wait").success(), "keepassxc-cli");
    let key = write(d, "luks.key", b"correct horse battery staple");
    let mut samples = Vec::new();
    for version in ["luks1", "luks2"] {
        let image = d.join(format!("{version}.img"));
        std::fs::File::create(&image)
            .and_then(|f| f.set_len(16 << 20))
            .expect("image");
        run_tool(
            "cryptsetup",
            &[
                "luksFormat",
                "--batch-mode",
                "--type",
                version,
                "--pbkdf",
                "pbkdf2",
                "--pbkdf-force-iterations",
                "1000",
                "--key-file",
                &key.to_string_lossy(),
                &image.to_string_lossy(),
            ],
            "cryptsetup-bin",
        );
        let header = std::fs::read(&image).expect("image");
        samples.push((
            if version == "luks1" {
                "luks1.hdr"
            } else {
                "luks2.hdr"
            },
            header[..64 << 10].to_vec(),
        ));
    }
    let home = d.join("gnupg");
    std::fs::create_dir_all(&home).expect("gnupg home");
    gpg(
        d,
        &home,
        &[
            "--passphrase",
            "x",
            "--symmetric",
            "-o",
            "note.gpg",
            "hello.c",
        ],
    );
    samples.push(("note.gpg", std::fs::read(d.join("note.gpg")).expect("gpg")));
    let text = "seed phrase:\nlegal winner thank year wave sausage worth useful legal winner thank yellow\n\
                pay 1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2 or 0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed\n\
                https://www.binance.com/ https://kraken.com/\n";
    samples.push(("history.txt", text.as_bytes().to_vec()));
    for name in [
        "tool.exe",
        "signed.exe",
        "hello.elf",
        "fat.macho",
        "lzma-header.7z",
        "hidden.7z",
        "crypt.zip",
        "aes.zip",
        "db.kdbx",
    ] {
        samples.push((name, std::fs::read(d.join(name)).expect("sample")));
    }
    samples
}

#[test]
fn mutated_real_samples_never_panic_an_analyzer() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let samples = mutation_samples(d);
    // FIELDKIT_MUTANTS=N runs a deeper search locally; the default is CI's fixed set.
    let mutants: usize = std::env::var("FIELDKIT_MUTANTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(400);
    for (index, (name, sample)) in samples.iter().enumerate() {
        let mut rng = Rng(0x5eed_0000 + index as u64);
        let out = d.join(format!("mutants-{index}"));
        std::fs::create_dir_all(&out).expect("mkdir");
        let mut files = vec![write(&out, name, sample)];
        for m in 0..mutants {
            files.push(write(
                &out,
                &format!("{m:03}-{name}"),
                &mutant(sample, &mut rng),
            ));
        }
        let run = std::process::Command::new(fieldkit())
            .args(["triage-file", "--json"])
            .args(&files)
            .output()
            .expect("run fieldkit");
        let stderr = String::from_utf8_lossy(&run.stderr);
        let stdout = String::from_utf8_lossy(&run.stdout);
        let failed: Vec<&str> = stdout
            .lines()
            .filter(|l| l.contains("triage.analyzer_failed"))
            .collect();
        let clean = run.status.code() == Some(0)
            && !stderr.contains("panicked")
            && !stderr.contains("analyzer failed")
            && failed.is_empty();
        if !clean {
            // The samples carry the tools' random salts: keep the mutants to reproduce.
            let kept = dir.keep();
            panic!(
                "{name} (seed {:#x}, mutants kept in {}): exit {:?}\n{stderr}\n{failed:#?}",
                0x5eed_0000 + index as u64,
                kept.display(),
                run.status.code()
            );
        }
        std::fs::remove_dir_all(&out).expect("clean up");
    }
}

/// 7z headers whose numbers overflow when added or shifted (the audit's pack position
/// 2^64-1, a coder declaring 2^64-1 input streams, a NUMBER with seven leading one bits):
/// each is an unreadable-header finding, never a panic.
const MAKE_OVERFLOWING_7Z: &str = r#"
import struct, sys, zlib
def num(n):
    return bytes([n]) if n < 0x80 else b'\xff' + struct.pack('<Q', n)
def archive(hdr, body=b'\x00' * 16):
    start = struct.pack('<QQI', len(body), len(hdr), zlib.crc32(hdr))
    return b'7z\xbc\xaf\x27\x1c\x00\x04' + struct.pack('<I', zlib.crc32(start)) + start + body + hdr
def encoded(pack_pos, coders):
    return (b'\x17\x06' + pack_pos + num(1) + b'\x09' + num(16) + b'\x00'
            + b'\x07\x0b' + num(1) + b'\x00' + coders + b'\x0c' + num(100) + b'\x00\x00')
lzma2 = num(1) + b'\x21\x21' + num(1) + b'\x18'
out = sys.argv[1]
open(out + '/pack-pos.7z', 'wb').write(archive(encoded(num(2**64 - 1), lzma2)))
# Two complex coders (flag 0x11: 1-byte id, stream counts follow) of 2^64-1 streams each.
streams = num(2) + (b'\x11\x21' + num(2**64 - 1) + num(1)) * 2
open(out + '/streams.7z', 'wb').write(archive(encoded(num(0), streams)))
# Pack position written with seven leading one bits (0xfe + 7 bytes).
open(out + '/seven-ones.7z', 'wb').write(archive(encoded(b'\xfe' + b'\x00' * 7, lzma2)))
"#;

#[test]
fn crafted_7z_headers_with_overflowing_numbers_are_findings_not_panics() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    run_tool(
        "python3",
        &["-c", MAKE_OVERFLOWING_7Z, &d.to_string_lossy()],
        "python3",
    );
    let files: Vec<PathBuf> = ["pack-pos.7z", "streams.7z", "seven-ones.7z"]
        .iter()
        .map(|n| d.join(n))
        .collect();
    let findings = triage(Some(d), &files, &[]);
    assert!(of_kind(&findings, "triage.analyzer_failed").is_empty());
    let errors: Vec<&str> = of_kind(&findings, "encryption.archive_unreadable")
        .iter()
        .filter_map(|f| f["evidence"]["error"].as_str())
        .collect();
    assert_eq!(
        errors,
        vec![
            "pack position overflow",
            "encoded header does not parse",
            // 0xfe 00… is a valid NUMBER (0); the packed stream is empty.
            "decoded header is not a 7z header",
        ],
        "{findings:#?}"
    );
}
