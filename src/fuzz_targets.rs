//! Fuzz targets: one function per parser of outside data, each taking arbitrary bytes,
//! running the parser the way fieldkit uses it and ignoring the result. Every fuzz engine
//! calls these same functions: the coverage-guided libFuzzer binaries in `fuzz/` (one per
//! target, built with stable-Rust sanitizer-coverage flags by `fuzz/run`) and the
//! deterministic mutation smoke test `tests/fuzz_smoke.rs` that CI runs. The seed corpus of
//! each target is `fuzz/corpus/<name>/`, made by `fuzz/make-seeds.sh`; docs/fuzzing.md
//! says how to run each engine and what was found.
//!
//! A target must never panic or hang on any input: that is the bug the engines look for.
//! Errors are expected and ignored. Parsers that only read from a path (containers, hash
//! lists, the bundle verifier, the importers' definition folders) get the input as a file
//! in a per-thread scratch directory (a temporary directory, removed when the thread
//! ends), overwritten on each call; nothing else on the machine is read or written.
//!
//! Must never: catch a panic itself (the engines must see it), read anything but the
//! input and its scratch copy, or run without a bound (every loop here is capped).

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use crate::source::image::ReadAt;

/// A fuzz target: its name (the corpus directory and the libFuzzer binary are named
/// after it), the parser it drives and the function that drives it.
pub struct Target {
    pub name: &'static str,
    pub parser: &'static str,
    pub run: fn(&[u8]),
}

macro_rules! targets {
    ($($name:ident: $parser:literal,)*) => {
        /// Every target, in the order the smoke test runs them.
        pub const TARGETS: &[Target] = &[
            $(Target { name: stringify!($name), parser: $parser, run: $name },)*
        ];
    };
}

targets! {
    profile_toml: "profile TOML (profile::parse, Profile::from_toml)",
    import_kape: "KAPE .tkape importer (profile::import::kape)",
    import_uac: "UAC artifact YAML importer (profile::import::uac)",
    import_fa: "ForensicArtifacts YAML importer (profile::import::fa)",
    hashlist_sums: "md5sum/sha1sum/sha256sum lists, GNU and BSD --tag (hashset::input::sums)",
    hashlist_hashdeep: "hashdeep files (hashset::input::hashdeep)",
    hashlist_nsrl_txt: "NSRL RDS 2.x NSRLFile.txt (hashset::input::nsrl_txt)",
    hashlist_nsrl_sqlite: "NSRL RDS v3 SQLite (hashset::input::nsrl_sqlite)",
    hashlist_vics: "Project VIC VICS JSON (hashset::input::vics)",
    hashset_fkhs: "fieldkit .fkhs hash set files (hashset::KnownSet)",
    bundle_verify: "bundle ZIP reader and verify (bundle::verify)",
    age_reader: "age v1 header and STREAM payload (bundle::age::Reader)",
    age_bundle_verify: "encrypted bundle .zip.age through verify (bundle::input, bundle::verify)",
    allowed_signers: "allowed_signers files (sign::allowed_keys)",
    triage_executables: "PE/ELF/Mach-O and Authenticode (triage::executables, authenticode)",
    triage_encryption: "7z/ZIP/RAR/LUKS/BitLocker/KeePass/PGP/age detectors (triage::encryption)",
    triage_virtual_assets: "BIP39 seeds, crypto addresses, prefs.js, history domains (triage::virtual_assets)",
    container_ewf: "EWF/E01 container (source::image::container::ewf)",
    container_vhd: "VHD fixed/dynamic container (source::image::container::vhd)",
    container_vhdx: "VHDX container (source::image::container::vhdx)",
    container_vmdk: "VMDK sparse container (source::image::container::vmdk)",
    container_split_raw: "split raw .001/.002 set (source::image::container::raw)",
    volume_table: "MBR/EBR and GPT volume tables (source::image::volume)",
    fs_fat: "FAT12/16/32 reader (source::image::fs::fat)",
    fs_exfat: "exFAT reader (source::image::fs::exfat)",
    fs_ext4: "ext2/3/4 reader (source::image::fs::ext4)",
    fs_ntfs: "NTFS reader incl. ADS and the deleted-entry scan (source::image::fs::ntfs)",
}

/// The target with this name.
pub fn find(name: &str) -> Option<&'static Target> {
    TARGETS.iter().find(|t| t.name == name)
}

// ---------------------------------------------------------------------------------
// Scratch files

thread_local! {
    static SCRATCH: RefCell<Option<tempfile::TempDir>> = const { RefCell::new(None) };
}

/// A directory of this thread's scratch space (created on first use), for one target.
fn scratch_dir(sub: &str) -> Option<PathBuf> {
    SCRATCH.with(|s| {
        let mut s = s.borrow_mut();
        if s.is_none() {
            *s = tempfile::Builder::new()
                .prefix("fieldkit-fuzz-")
                .tempdir()
                .ok();
        }
        let dir = s.as_ref()?.path().join(sub);
        std::fs::create_dir_all(&dir).ok()?;
        Some(dir)
    })
}

/// Write `data` as `name` in the scratch directory `sub`; its path.
fn scratch_file(sub: &str, name: &str, data: &[u8]) -> Option<PathBuf> {
    let path = scratch_dir(sub)?.join(name);
    std::fs::write(&path, data).ok()?;
    Some(path)
}

// ---------------------------------------------------------------------------------
// Profiles and importers

pub fn profile_toml(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let Ok(profile) =
        crate::profile::Profile::from_toml(&text, "fuzz.toml", crate::profile::Origin::Builtin)
    else {
        return;
    };
    // What collect does next: compile the rules into a plan (over an empty source, so no
    // file of this machine is looked at) and match paths against it.
    let Some(root) = scratch_dir("profile-root") else {
        return;
    };
    let (plan, _) = crate::plan::Plan::new(&profile, &root, None);
    for path in [
        &["Windows", "System32", "config", "SAM"][..],
        &["Users", "u", "NTUSER.DAT"],
        &["etc", "passwd"],
        &["home", "u", ".bash_history"],
        &["a"],
    ] {
        let comps: Vec<&std::ffi::OsStr> = path.iter().map(std::ffi::OsStr::new).collect();
        let _ = plan.may_descend(&comps);
        let _ = plan.matching_rules(&comps, Some(1000));
    }
}

/// Run an importer over a one-file library holding `data`, then render and reload the
/// import as native TOML, as `--profile kape:…` does.
fn import_one(sub: &str, file: &str, spec: &str, data: &[u8]) {
    let Some(dir) = scratch_dir(sub) else { return };
    let path = dir.join(file);
    if let Some(parent) = path.parent()
        && std::fs::create_dir_all(parent).is_err()
    {
        return;
    }
    if std::fs::write(&path, data).is_err() {
        return;
    }
    let Some(Ok(spec)) = crate::profile::import::Spec::parse(spec) else {
        return;
    };
    if let Ok(import) = crate::profile::import::import(&spec, &dir) {
        let _ = import.report_text();
        let _ = import.counts();
        let _ = import.to_toml();
        let _ = import.to_profile();
    }
}

pub fn import_kape(data: &[u8]) {
    import_one("kape", "Targets/Fuzz.tkape", "kape:*", data);
}

pub fn import_uac(data: &[u8]) {
    import_one("uac", "artifacts/live_response/fuzz.yaml", "uac:*", data);
}

pub fn import_fa(data: &[u8]) {
    import_one("fa", "fuzz.yaml", "fa:*", data);
}

// ---------------------------------------------------------------------------------
// Hash lists and hash sets

struct CountSink(u64);

impl crate::hashset::input::RecordSink for CountSink {
    fn record(&mut self, _: &crate::hashset::input::Record<'_>) -> anyhow::Result<()> {
        self.0 += 1;
        Ok(())
    }
}

fn hashlist(format: crate::hashset::InputFormat, file: &str, data: &[u8]) {
    use crate::hashset::input;
    let Some(path) = scratch_file("hashlist", file, data) else {
        return;
    };
    let _ = input::detect(&path);
    let mut sink = CountSink(0);
    let mut ctx = input::SourceCtx::new(&path, true);
    let _ = input::read(format, &path, &mut ctx, &mut sink);
}

pub fn hashlist_sums(data: &[u8]) {
    use crate::hashset::input::sums;
    // The line parsers `hash --check`-style queries use, one line at a time.
    for line in data.split(|&b| b == b'\n').take(256) {
        let _ = sums::parse_line(line);
        let _ = sums::parse_query(line);
    }
    hashlist(crate::hashset::InputFormat::Sums, "list.sha256", data);
}

pub fn hashlist_hashdeep(data: &[u8]) {
    hashlist(crate::hashset::InputFormat::Hashdeep, "list.hashdeep", data);
}

pub fn hashlist_nsrl_txt(data: &[u8]) {
    hashlist(crate::hashset::InputFormat::NsrlTxt, "NSRLFile.txt", data);
}

pub fn hashlist_nsrl_sqlite(data: &[u8]) {
    hashlist(crate::hashset::InputFormat::NsrlSqlite, "rds.db", data);
}

pub fn hashlist_vics(data: &[u8]) {
    hashlist(crate::hashset::InputFormat::Vics, "vics.json", data);
}

pub fn hashset_fkhs(data: &[u8]) {
    use crate::hashset::{Algorithm, KnownSet, Verification};
    let Some(path) = scratch_file("fkhs", "set.fkhs", data) else {
        return;
    };
    for mode in [Verification::Lazy, Verification::Full] {
        let Ok(mut set) = KnownSet::open(&path, mode) else {
            continue;
        };
        let _ = set.verify_all();
        for algorithm in Algorithm::ALL {
            for fill in [0u8, 0x44, 0xff] {
                let key = vec![fill; algorithm.key_len()];
                let _ = set.lookup(algorithm, &key);
            }
        }
        for index in 0..4 {
            let _ = set.category_label(index);
            let _ = set.source_name(index);
        }
    }
}

// ---------------------------------------------------------------------------------
// Bundles, age, signatures

fn verify_options() -> crate::bundle::verify::Options {
    crate::bundle::verify::Options {
        trust: crate::bundle::verify::Trust::SelfAttested,
        check_sidecars: false,
    }
}

pub fn bundle_verify(data: &[u8]) {
    let Some(path) = scratch_file("bundle", "fuzz.zip", data) else {
        return;
    };
    let _ = crate::bundle::verify::verify(&path, &verify_options());
}

/// The age identity the seeds of `age_reader` and `age_bundle_verify` are encrypted to
/// (a key made for the seed corpus only: it protects nothing).
pub const SEED_AGE_IDENTITY: &str = include_str!("../fuzz/keys/seed-identity.age");

fn seed_identities() -> &'static [crate::bundle::age::Identity] {
    static IDS: OnceLock<Vec<crate::bundle::age::Identity>> = OnceLock::new();
    IDS.get_or_init(|| {
        let Some(path) = scratch_file("age-key", "seed-identity.age", SEED_AGE_IDENTITY.as_bytes())
        else {
            return Vec::new();
        };
        crate::bundle::age::Identity::load(&path, &mut || Ok(String::new())).unwrap_or_default()
    })
}

pub fn age_reader(data: &[u8]) {
    use std::io::{Read, Seek, SeekFrom};
    let ids = seed_identities();
    let cursor = std::io::Cursor::new(data);
    let Ok(mut reader) = crate::bundle::age::Reader::open(cursor, data.len() as u64, ids) else {
        return;
    };
    let len = reader.len();
    let _ = reader.authenticate_all();
    let mut buf = vec![0u8; 4096];
    // Random access as verify uses it: the start, across the first chunk boundary, the end.
    for at in [
        0,
        (crate::bundle::age::CHUNK as u64).saturating_sub(100),
        len.saturating_sub(10),
    ] {
        if reader.seek(SeekFrom::Start(at)).is_ok() {
            let _ = reader.read(&mut buf);
        }
    }
    let _ = reader.seek(SeekFrom::End(0));
    let _ = reader.seek(SeekFrom::Current(-5));
    let _ = reader.read(&mut buf);
}

pub fn age_bundle_verify(data: &[u8]) {
    let Some(path) = scratch_file("age-bundle", "fuzz.zip.age", data) else {
        return;
    };
    let _ = crate::bundle::verify::verify_with(&path, &verify_options(), seed_identities());
}

/// The key the allowed_signers seeds list, so mutations reach the key-matching checks.
const SEED_SIGNER: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMXi171G/B7qJMf37Goh5NRosXgIrFlowd7OI9/KcBlc";

pub fn allowed_signers(data: &[u8]) {
    use crate::sign::allowed_signers::AllowedSigners;
    let file = AllowedSigners::parse("allowed_signers", data);
    let _ = file.warnings();
    let Ok(key) = ssh_key::PublicKey::from_openssh(SEED_SIGNER) else {
        return;
    };
    for principal in [Some("examiner@lab.example"), Some("x"), None] {
        for namespace in [Some(crate::sign::NAMESPACE), None] {
            let _ = file.check(&key, principal, namespace, 1_700_000_000);
        }
    }
}

// ---------------------------------------------------------------------------------
// Triage analyzers: driven exactly as the acquisition engine drives them (start, update
// with each chunk in order, finish), but without the engine's panic guard.

/// Chunk length: odd, so chunk boundaries fall inside structures, not on their alignment.
const TRIAGE_CHUNK: usize = 4093;

fn triage(analyzer: &dyn crate::triage::Analyzer, source_path: &str, data: &[u8]) {
    use crate::triage::{FileContext, FileDigests};
    let ctx = FileContext {
        path: Path::new(source_path),
        source_path,
        size: data.len() as u64,
        mtime: Some(1_700_000_000),
        on_host: false,
    };
    let Some(mut scan) = analyzer.start(&ctx) else {
        return;
    };
    for chunk in data.chunks(TRIAGE_CHUNK) {
        if !scan.wants_more() {
            break;
        }
        scan.update(chunk);
    }
    let digests = FileDigests {
        sha256: crate::hashing::sha256(data),
        md5: None,
        sha1: None,
    };
    let _ = scan.finish(&ctx, &digests);
}

pub fn triage_executables(data: &[u8]) {
    triage(
        &crate::triage::executables::ExecutableAnalyzer,
        "Users/u/AppData/Local/Temp/setup.exe",
        data,
    );
}

pub fn triage_encryption(data: &[u8]) {
    // The path decides which password-manager parser looks at the content.
    for path in [
        "evidence/blob.bin",
        "Users/u/Dropbox/1Password.opvault/default/profile.js",
        "Users/u/Dropbox/1Password.agilekeychain/data/default/encryptionKeys.js",
        "Users/u/export.1pif",
        "Users/u/export.1pux",
        "Users/u/Library/Group Containers/2BUA8C4S2C.com.1password/b5.sqlite",
        "Users/u/AppData/Roaming/Bitwarden/data.json",
        "Users/u/Downloads/bitwarden_export.json",
        "Users/u/Downloads/bitwarden_export.csv",
    ] {
        triage(&crate::triage::encryption::EncryptionAnalyzer, path, data);
    }
}

pub fn triage_virtual_assets(data: &[u8]) {
    use crate::triage::virtual_assets::VirtualAssetAnalyzer;
    // A text file (BIP39 seeds and addresses), a Firefox prefs.js (the add-on UUID map, and
    // text), a browser history (domains, and text), a wallet.dat (its magic).
    for path in [
        "Users/u/Desktop/notes.txt",
        "Users/u/AppData/Roaming/Mozilla/Firefox/Profiles/x.default/prefs.js",
        "Users/u/AppData/Local/Google/Chrome/User Data/Default/History",
        "Users/u/AppData/Roaming/Bitcoin/wallet.dat",
    ] {
        triage(&VirtualAssetAnalyzer, path, data);
    }
}

// ---------------------------------------------------------------------------------
// Image reader: containers, volume tables, file systems

/// Read a container's media the way the acquire engine and `--hash-image` do, within a
/// budget: the first 256 KiB in pieces, then samples across it and the end.
fn exercise_media(media: &Arc<dyn ReadAt>) {
    let size = media.size();
    let _ = media.describe();
    let mut buf = vec![0u8; 64 * 1024];
    let mut at = 0u64;
    while at < size.min(256 * 1024) {
        match media.read_at(at, &mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => at += n as u64,
        }
    }
    for i in 0..8u64 {
        let _ = media.read_at(size / 8 * i + i * 511, &mut buf[..4096]);
    }
    let _ = media.read_at(size.saturating_sub(1000), &mut buf[..4096]);
    let _ = media.read_at(size, &mut buf[..16]);
    let _ = media.read_at(u64::MAX - 8, &mut buf[..16]);
    let _ = crate::source::image::fs::probe::probe(media.as_ref());
}

fn container(
    file: &str,
    data: &[u8],
    open: fn(
        &Path,
    ) -> Result<
        crate::source::image::container::Container,
        crate::source::image::open::ImageError,
    >,
) {
    let Some(path) = scratch_file("container", file, data) else {
        return;
    };
    if let Ok(c) = open(&path) {
        let _ = serde_json::to_string(&c.info);
        exercise_media(&c.media);
    }
}

pub fn container_ewf(data: &[u8]) {
    container(
        "image.E01",
        data,
        crate::source::image::container::ewf::open,
    );
}

pub fn container_vhd(data: &[u8]) {
    container(
        "image.vhd",
        data,
        crate::source::image::container::vhd::open,
    );
}

/// vhdx-core refuses a file shorter than 2.25 MiB (its `MIN_CONTAINER_SIZE`), which no
/// seed of a small corpus can be: a shorter input is extended with zeros to that length
/// (a sparse file), so the seeds are VHDX files cut after their last structure.
const VHDX_MIN_LEN: u64 = 0x25_0000;

pub fn container_vhdx(data: &[u8]) {
    let Some(path) = scratch_file("container", "image.vhdx", data) else {
        return;
    };
    if (data.len() as u64) < VHDX_MIN_LEN {
        let extended = std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .and_then(|f| f.set_len(VHDX_MIN_LEN));
        if extended.is_err() {
            return;
        }
    }
    if let Ok(c) = crate::source::image::container::vhdx::open(&path) {
        let _ = serde_json::to_string(&c.info);
        exercise_media(&c.media);
    }
}

pub fn container_vmdk(data: &[u8]) {
    // Sparse (self-contained) VMDKs only: a descriptor names extent files by path, and a
    // fuzzed one would read arbitrary files of this machine.
    container("image.vmdk", data, |p| {
        crate::source::image::container::vmdk::open(p, false)
    });
}

pub fn container_split_raw(data: &[u8]) {
    // Two segments: the reader must join them at the cut, wherever it falls.
    let cut = data.len() / 2;
    let (Some(first), Some(_)) = (
        scratch_file("split", "image.001", &data[..cut]),
        scratch_file("split", "image.002", &data[cut..]),
    ) else {
        return;
    };
    if let Ok(c) = crate::source::image::container::open_container(&first) {
        let _ = serde_json::to_string(&c.info);
        exercise_media(&c.media);
        let mut b = [0u8; 64];
        let _ = c.media.read_at((cut as u64).saturating_sub(32), &mut b);
    }
}

pub fn volume_table(data: &[u8]) {
    crate::source::image::volume::fuzz_entry(data);
}

pub fn fs_fat(data: &[u8]) {
    crate::source::image::fs::fat::fuzz_entry(data);
}

pub fn fs_exfat(data: &[u8]) {
    crate::source::image::fs::exfat::fuzz_entry(data);
}

pub fn fs_ext4(data: &[u8]) {
    crate::source::image::fs::ext4::fuzz_entry(data);
}

/// The input is a volume, or (seeds) one packed as `FKSPARSE` pieces: the smallest
/// useful NTFS volume is 1 MiB, mostly `$LogFile` and zeros (fs::ntfs::fuzz_entry).
pub fn fs_ntfs(data: &[u8]) {
    crate::source::image::fs::ntfs::fuzz_entry(data);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_every_target_takes_empty_and_tiny_inputs() {
        let mut names: Vec<_> = TARGETS.iter().map(|t| t.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), TARGETS.len());
        for t in TARGETS {
            (t.run)(b"");
            (t.run)(b"\0");
            (t.run)(b"PK\x03\x04");
        }
        assert!(find("profile_toml").is_some());
        assert!(!seed_identities().is_empty(), "the seed age identity loads");
    }
}
