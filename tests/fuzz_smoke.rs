//! CI's fuzz smoke run: for every target of `fieldkit::fuzz_targets`, its seed corpus
//! (`fuzz/corpus/<target>/`) and a fixed number of seeded, deterministic mutations of it
//! (bit flips, interesting bytes and words, length-field bumps, truncation, extension,
//! block insertion and deletion, splices of two seeds, text tokens) run through the same
//! function the libFuzzer binaries call. A panic fails the test naming the target and the
//! mutation, with the input saved under `target/tmp/fuzz-smoke/<target>/`; an input that
//! runs longer than [`HANG_SECS`] is saved and ends the run (a hang is a bug too).
//! Each target prints how many inputs it ran (docs/fuzzing.md, BENCHMARKS.md).
//!
//! Knobs for a longer run by hand (same seeds, same RNG): `FIELDKIT_FUZZ_SMOKE_SCALE=20`
//! multiplies every count; `FIELDKIT_FUZZ_SMOKE_SALT=n` draws other mutations;
//! `FIELDKIT_FUZZ_REPRO=FILE cargo test --test fuzz_smoke TARGET` runs one saved input.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::io::Write;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fieldkit::fuzz_targets::{self, Target};

/// One input running longer than this (debug build, loaded machine) is a hang.
const HANG_SECS: u64 = 30;

/// xorshift64*: small, deterministic, good enough to pick mutations.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
    fn chance(&mut self, one_in: u64) -> bool {
        self.next().is_multiple_of(one_in)
    }
}

const INTERESTING_8: [u8; 9] = [0, 1, 0x7f, 0x80, 0xff, 0x10, 0x20, 0x40, 0xfe];
const INTERESTING_32: [u32; 10] = [
    0,
    1,
    0x7fff_ffff,
    0x8000_0000,
    0xffff_ffff,
    0xffff,
    0x1_0000,
    512,
    4096,
    0x7fff,
];
const TOKENS: [&str; 32] = [
    "\"",
    "'",
    "\n",
    "\r\n",
    "\\",
    "[",
    "]",
    "{",
    "}",
    ":",
    ",",
    "=",
    "*",
    "**",
    "?",
    "%user%",
    "..",
    "/",
    "\0",
    "-1",
    "18446744073709551616",
    "1e999",
    "\u{feff}",
    "é",
    "---\n",
    "- ",
    "    ",
    "\t",
    "!",
    "#",
    "${",
    "[[rules]]\n",
];

/// A position, biased to the front: headers and tables sit in the first sectors.
fn position(rng: &mut Rng, len: usize) -> usize {
    if len == 0 {
        return 0;
    }
    match rng.below(4) {
        0 | 1 => rng.below(len.min(4096)),
        2 => rng.below(len.min(64 * 1024)),
        _ => rng.below(len),
    }
}

/// Apply one mutation; returns its name (for the failure message).
fn mutate_once(rng: &mut Rng, data: &mut Vec<u8>, seeds: &[Vec<u8>]) -> &'static str {
    let len = data.len();
    match rng.below(12) {
        0 if len > 0 => {
            let at = position(rng, len);
            data[at] ^= 1 << rng.below(8);
            "bit flip"
        }
        1 if len > 0 => {
            let at = position(rng, len);
            data[at] = INTERESTING_8[rng.below(INTERESTING_8.len())];
            "interesting byte"
        }
        2 if len >= 4 => {
            let at = position(rng, len - 3);
            let v = INTERESTING_32[rng.below(INTERESTING_32.len())];
            let bytes = if rng.chance(2) {
                v.to_le_bytes()
            } else {
                v.to_be_bytes()
            };
            let width = [1usize, 2, 4][rng.below(3)];
            let from = if bytes[0] == 0 && width < 4 {
                4 - width
            } else {
                0
            };
            data[at..at + width].copy_from_slice(&bytes[from..from + width]);
            "interesting word"
        }
        3 if len >= 4 => {
            // A length or count field nudged: aligned, little or big endian.
            let width = [2usize, 4, 8][rng.below(3)];
            if len < width {
                return "none";
            }
            let at = (position(rng, len - width + 1) / width) * width;
            let at = at.min(len - width);
            let mut b = [0u8; 8];
            let le = rng.below(4) != 0;
            b[..width].copy_from_slice(&data[at..at + width]);
            let mut v = if le {
                u64::from_le_bytes(b)
            } else {
                u64::from_be_bytes(b)
            };
            let delta = [1u64, 2, 8, 16, 255, 512, 4096, 1 << 20][rng.below(8)];
            v = match rng.below(4) {
                0 => v.wrapping_add(delta),
                1 => v.wrapping_sub(delta),
                2 => v.wrapping_mul(2),
                _ => v ^ (1 << rng.below(width * 8)),
            };
            let out = if le { v.to_le_bytes() } else { v.to_be_bytes() };
            data[at..at + width].copy_from_slice(&out[..width]);
            "length-field bump"
        }
        4 if len > 0 => {
            let keep = if rng.chance(2) {
                len - rng.below(len.min(64)) - 1
            } else {
                rng.below(len)
            };
            data.truncate(keep);
            "truncation"
        }
        5 => {
            let most = if rng.chance(4) { 8192 } else { 64 };
            let n = 1 + rng.below(most);
            match rng.below(3) {
                0 => data.extend(std::iter::repeat_n(0u8, n)),
                1 => data.extend((0..n).map(|_| rng.next() as u8)),
                _ => {
                    let tail: Vec<u8> = data[len.saturating_sub(n)..].to_vec();
                    data.extend_from_slice(&tail);
                }
            }
            "extension"
        }
        6 if !seeds.is_empty() && len > 0 => {
            let other = &seeds[rng.below(seeds.len())];
            let cut = position(rng, len);
            let from = rng.below(other.len() + 1);
            data.truncate(cut);
            data.extend_from_slice(&other[from..]);
            "splice of two seeds"
        }
        7 if len > 1 => {
            let at = position(rng, len);
            let n = 1 + rng.below((len - at).min(512));
            data.drain(at..at + n);
            "block deletion"
        }
        8 if len > 0 => {
            let at = position(rng, len);
            let from = rng.below(len);
            let n = 1 + rng.below((len - from).min(512));
            let block: Vec<u8> = data[from..from + n].to_vec();
            data.splice(at..at, block);
            "block insertion"
        }
        9 if len > 0 => {
            let at = position(rng, len);
            let n = 1 + rng.below((len - at).min(64));
            let fill = INTERESTING_8[rng.below(INTERESTING_8.len())];
            data[at..at + n].fill(fill);
            "block overwrite"
        }
        10 => {
            let at = position(rng, len);
            let token = TOKENS[rng.below(TOKENS.len())].as_bytes();
            if rng.chance(2) && at + token.len() <= len {
                data[at..at + token.len()].copy_from_slice(token);
            } else {
                data.splice(at..at, token.iter().copied());
            }
            "text token"
        }
        _ if len > 0 => {
            // Several random bytes at once.
            for _ in 0..1 + rng.below(16) {
                let at = position(rng, len);
                data[at] = rng.next() as u8;
            }
            "random bytes"
        }
        _ => "none",
    }
}

fn seeds_of(target: &Target) -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target.name);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: no seed corpus: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    assert!(
        !files.is_empty(),
        "{}: the seed corpus is empty",
        dir.display()
    );
    files
        .into_iter()
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&p).unwrap())
        })
        .collect()
}

fn crash_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("fuzz-smoke")
        .join(target)
}

fn save(target: &str, kind: &str, data: &[u8]) -> PathBuf {
    let dir = crash_dir(target);
    std::fs::create_dir_all(&dir).unwrap();
    let mut h = DefaultHasher::new();
    data.hash(&mut h);
    let path = dir.join(format!("{kind}-{:016x}", h.finish()));
    std::fs::write(&path, data).unwrap();
    path
}

/// The input that is running now, for the watchdog.
struct Current {
    execs: AtomicU64,
    input: Mutex<Vec<u8>>,
    done: AtomicBool,
}

fn watchdog(target: &'static str, current: Arc<Current>) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut last = u64::MAX;
        let mut since = Instant::now();
        while !current.done.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(200));
            let n = current.execs.load(Ordering::Relaxed);
            if n != last {
                last = n;
                since = Instant::now();
            } else if since.elapsed() > Duration::from_secs(HANG_SECS) {
                let input = current.input.lock().map(|i| i.clone()).unwrap_or_default();
                let path = save(target, "hang", &input);
                // Straight to stderr (not the test's captured output): the process ends.
                let _ = writeln!(
                    std::io::stderr(),
                    "fuzz_smoke: {target}: an input ran over {HANG_SECS} s (hang?); saved as {}; \
                     reproduce: FIELDKIT_FUZZ_REPRO={} cargo test --test fuzz_smoke {target}",
                    path.display(),
                    path.display()
                );
                std::process::exit(101);
            }
        }
    })
}

/// Run the seeds and `mutations` mutated inputs through `target`.
fn smoke(name: &str, mutations: usize) {
    let target = fuzz_targets::find(name).unwrap_or_else(|| panic!("no fuzz target {name}"));
    if let Ok(file) = std::env::var("FIELDKIT_FUZZ_REPRO") {
        let data = std::fs::read(&file).unwrap();
        (target.run)(&data);
        eprintln!("fuzz_smoke: {name}: {file} ran without a panic");
        return;
    }
    let scale: f64 = std::env::var("FIELDKIT_FUZZ_SMOKE_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0);
    let salt: u64 = std::env::var("FIELDKIT_FUZZ_SMOKE_SALT")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let mutations = (mutations as f64 * scale) as usize;
    let seeds = seeds_of(target);
    let seed_bytes: Vec<Vec<u8>> = seeds.iter().map(|(_, d)| d.clone()).collect();
    let mut h = DefaultHasher::new();
    name.hash(&mut h);
    let mut rng = Rng::new(h.finish() ^ salt.wrapping_mul(0x9E37_79B9_7F4A_7C15));

    let current = Arc::new(Current {
        execs: AtomicU64::new(0),
        input: Mutex::new(Vec::new()),
        done: AtomicBool::new(false),
    });
    let dog = watchdog(target.name, Arc::clone(&current));
    let start = Instant::now();
    let mut slowest = (Duration::ZERO, String::new());
    let mut failures: Vec<String> = Vec::new();
    let total = seeds.len() + mutations;
    for i in 0..total {
        let (data, what) = if i < seeds.len() {
            (seeds[i].1.clone(), format!("seed {}", seeds[i].0))
        } else {
            let (seed_name, seed) = &seeds[rng.below(seeds.len())];
            let mut data = seed.clone();
            let mut kinds = Vec::new();
            let stack = if rng.chance(3) { 8 } else { 2 };
            for _ in 0..1 + rng.below(stack) {
                kinds.push(mutate_once(&mut rng, &mut data, &seed_bytes));
            }
            (data, format!("{} of seed {seed_name}", kinds.join(" + ")))
        };
        if let Ok(mut slot) = current.input.lock() {
            slot.clone_from(&data);
        }
        let t = Instant::now();
        let result = catch_unwind(AssertUnwindSafe(|| (target.run)(&data)));
        let took = t.elapsed();
        current.execs.fetch_add(1, Ordering::Relaxed);
        if took > slowest.0 {
            slowest = (took, what.clone());
        }
        if let Err(panic) = result {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            let path = save(target.name, "crash", &data);
            failures.push(format!(
                "{name}: input {i} ({what}) panicked: {message}\n  saved as {p}\n  reproduce: \
                 FIELDKIT_FUZZ_REPRO={p} cargo test --test fuzz_smoke {name}",
                p = path.display()
            ));
            if failures.len() >= 5 {
                break;
            }
        }
    }
    let elapsed = start.elapsed();
    current.done.store(true, Ordering::Relaxed);
    let _ = dog.join();
    let ran = current.execs.load(Ordering::Relaxed);
    eprintln!(
        "fuzz_smoke: {name}: {ran} executions ({} seeds + {} mutations) in {:.2} s, {:.0}/s; \
         slowest {:.0} ms ({})",
        seeds.len(),
        ran as usize - seeds.len().min(ran as usize),
        elapsed.as_secs_f64(),
        ran as f64 / elapsed.as_secs_f64().max(1e-9),
        slowest.0.as_secs_f64() * 1000.0,
        slowest.1
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(ran as usize, total);
}

/// Every target in `fuzz_targets::TARGETS` has a test here with its mutation count
/// (sized so the whole file stays within CI's 45 s on a loaded 2-core machine, debug
/// build): a target added there and not here fails this test.
#[test]
fn every_target_has_a_smoke_test_and_a_seed_corpus() {
    let listed: Vec<&str> = COUNTS.iter().map(|(n, _)| *n).collect();
    for t in fuzz_targets::TARGETS {
        assert!(
            listed.contains(&t.name),
            "{}: no smoke test in COUNTS",
            t.name
        );
        assert!(!seeds_of(t).is_empty());
    }
    assert_eq!(listed.len(), fuzz_targets::TARGETS.len());
    // The committed corpus stays small (docs/fuzzing.md).
    let mut total = 0u64;
    for t in fuzz_targets::TARGETS {
        total += seeds_of(t).iter().map(|(_, d)| d.len() as u64).sum::<u64>();
    }
    assert!(total < 1_500_000, "the seed corpus is {total} bytes");
}

macro_rules! smoke_tests {
    ($($name:ident: $count:expr,)*) => {
        const COUNTS: &[(&str, usize)] = &[$((stringify!($name), $count),)*];
        $(
            #[test]
            fn $name() {
                smoke(stringify!($name), $count);
            }
        )*
    };
}

smoke_tests! {
    profile_toml: 1000,
    import_kape: 500,
    import_uac: 1200,
    import_fa: 600,
    hashlist_sums: 1200,
    hashlist_hashdeep: 700,
    hashlist_nsrl_txt: 1200,
    hashlist_nsrl_sqlite: 500,
    hashlist_vics: 1000,
    hashset_fkhs: 1000,
    bundle_verify: 500,
    age_reader: 3000,
    age_bundle_verify: 900,
    allowed_signers: 3000,
    triage_executables: 3000,
    triage_encryption: 3000,
    triage_virtual_assets: 3000,
    container_ewf: 700,
    container_vhd: 1500,
    container_vhdx: 400,
    container_vmdk: 800,
    container_split_raw: 800,
    volume_table: 3000,
    fs_fat: 3000,
    fs_exfat: 3000,
    fs_ext4: 3000,
    fs_ntfs: 1500,
}
