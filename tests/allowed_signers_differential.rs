//! `verify --allowed-signers` against `ssh-keygen -Y verify` itself: hundreds of
//! allowed_signers files, generated deterministically (seeded), each checked by both on
//! the same bundles, and every verdict must agree. The variants mix principal patterns
//! (`*`, `?`, `!` negation, comma lists, quoting, case), namespaces lists (patterns,
//! negation, blanks, missing quotes), validity windows around now (dates, minutes,
//! seconds; `Z`, `UTC` or local time in several time zones), `cert-authority`, unknown
//! or repeated options, other keys, malformed keys, comments, blank lines, CRLF, NUL and
//! non-UTF-8 bytes, and several lines per file.
//!
//! The bundles are collected once (one signed with a key from `fieldkit keygen`, one with
//! a one-time key); only the verification runs per variant.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use common::*;

const VARIANTS: usize = 320;
const SEED: u64 = 0x5eed_a110_3d51_9e45;
const IDENTITY: &str = "you@unit.example";

/// splitmix64: a small deterministic generator, so a failure can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// A bundle as both tools see it: the file for fieldkit, SHA256SUMS and its signature
/// for ssh-keygen, and the signer's public key (`type base64`).
struct Signed {
    bundle: PathBuf,
    sums: PathBuf,
    sig: PathBuf,
    key: String,
}

fn key_of(pub_file: &Path) -> String {
    let text = std::fs::read_to_string(pub_file).unwrap();
    text.split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ")
}

fn signed(dir: &Path, src: &Path, name: &str, extra: &[&str]) -> Signed {
    let (r, bundle) = collect(src, &dir.join(name), extra);
    assert_eq!(r.code, 0, "collect: {}{}", r.stdout, r.stderr);
    let x = dir.join(format!("{name}.x"));
    std::fs::create_dir(&x).unwrap();
    for m in ["SHA256SUMS", "SHA256SUMS.sig", "signer.pub"] {
        std::fs::write(x.join(m), member(&bundle, m)).unwrap();
    }
    Signed {
        bundle,
        sums: x.join("SHA256SUMS"),
        sig: x.join("SHA256SUMS.sig"),
        key: key_of(&x.join("signer.pub")),
    }
}

/// Civil date and time (UTC) of a Unix time.
fn civil(t: i64) -> (i64, i64, i64, i64, i64, i64) {
    let days = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (
        if m <= 2 { y + 1 } else { y },
        m,
        d,
        secs / 3600,
        secs % 3600 / 60,
        secs % 60,
    )
}

/// The current UTC offset of a time zone, as `date +%z` gives it (seconds).
fn offset_of(tz: &str) -> i64 {
    let out = Command::new("date")
        .arg("+%z")
        .env("TZ", tz)
        .output()
        .unwrap();
    let z = String::from_utf8(out.stdout).unwrap();
    let z = z.trim();
    let sign = if z.starts_with('-') { -1 } else { 1 };
    let h: i64 = z[1..3].parse().unwrap();
    let m: i64 = z[3..5].parse().unwrap();
    sign * (h * 3600 + m * 60)
}

/// A time option value around `now`: date, minutes or seconds; UTC or local.
fn time_value(rng: &mut Rng, now: i64, tz_offset: i64) -> String {
    if rng.chance(6) {
        // Values OpenSSH rejects (the whole line is then skipped).
        return rng
            .pick(&[
                "20261301Z",
                "2026120Z",
                "20261232",
                "tomorrow",
                "202612011261Z",
                "2026-12-01",
                "19700101Z",
                "",
            ])
            .to_string();
    }
    let utc = rng.chance(60);
    let shown = |t: i64| if utc { t } else { t + tz_offset };
    match rng.below(3) {
        0 => {
            // Whole days: at least two days away, so truncation cannot reach now.
            let delta = *rng.pick(&[-400i64, -30, -3, -2, 2, 3, 30, 400]) * 86_400;
            let (y, m, d, ..) = civil(shown(now + delta));
            let suffix = if utc {
                *rng.pick(&["Z", "z", "UTC", "utc"])
            } else {
                ""
            };
            format!("{y:04}{m:02}{d:02}{suffix}")
        }
        n => {
            // Minutes or seconds: at least 20 minutes away from now.
            let delta = *rng.pick(&[-86_400i64, -7200, -1200, 1200, 7200, 86_400]);
            let (y, mo, d, h, mi, s) = civil(shown(now + delta));
            let suffix = if utc {
                *rng.pick(&["Z", "z", "UTC"])
            } else {
                ""
            };
            if n == 1 {
                format!("{y:04}{mo:02}{d:02}{h:02}{mi:02}{suffix}")
            } else {
                format!("{y:04}{mo:02}{d:02}{h:02}{mi:02}{s:02}{suffix}")
            }
        }
    }
}

fn case_variant(rng: &mut Rng, word: &str) -> String {
    match rng.below(4) {
        0 => word.to_uppercase(),
        1 => {
            let mut c = word.chars();
            c.next()
                .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
                .unwrap_or_default()
        }
        _ => word.to_string(),
    }
}

fn options(rng: &mut Rng, now: i64, tz_offset: i64) -> Option<String> {
    if rng.chance(45) {
        return None;
    }
    let mut opts = Vec::new();
    for _ in 0..1 + rng.below(3) {
        let opt = match rng.below(10) {
            0..=3 => {
                let list = rng.pick(&[
                    "fieldkit-evidence",
                    "git,fieldkit-evidence",
                    "fieldkit-*",
                    "fieldkit-?vidence",
                    "!fieldkit-evidence,*",
                    "*,!fieldkit-evidence",
                    "fieldkit-evidence,!git",
                    "git",
                    "file",
                    "",
                    "FIELDKIT-EVIDENCE",
                    "git, fieldkit-evidence",
                    "*",
                    "!*",
                ]);
                let name = case_variant(rng, "namespaces");
                if rng.chance(7) {
                    format!("{name}={list}")
                } else {
                    format!("{name}=\"{list}\"")
                }
            }
            4..=6 => {
                let name = case_variant(rng, "valid-after");
                format!("{name}=\"{}\"", time_value(rng, now, tz_offset))
            }
            7 | 8 => {
                let name = case_variant(rng, "valid-before");
                format!("{name}=\"{}\"", time_value(rng, now, tz_offset))
            }
            _ => rng
                .pick(&[
                    "cert-authority",
                    "CERT-AUTHORITY",
                    "no-touch-required",
                    "verify-required",
                    "restrict",
                ])
                .to_string(),
        };
        opts.push(opt);
    }
    let mut s = opts.join(",");
    if rng.chance(3) {
        s.push(',');
    }
    Some(s)
}

fn principals(rng: &mut Rng) -> String {
    let pool = [
        IDENTITY,
        "*@unit.example",
        "you@*",
        "y?u@unit.example",
        "?ou@unit.example",
        "*",
        "*@*",
        "you@unit.exampl?",
        "other@unit.example",
        "*.example",
        "YOU@unit.example",
        "!you@unit.example",
        "!*@unit.example",
        "!other@unit.example",
        "!*",
        "you@unit.example.evil",
        "",
    ];
    let n = 1 + rng.below(3);
    let list: Vec<&str> = (0..n).map(|_| *rng.pick(&pool)).collect();
    let mut s = list.join(",");
    match rng.below(12) {
        0 => s = format!("\"{s}\""),
        1 => s = format!("\"{s} x\""),
        2 => s = format!("{s}\"unterminated"),
        _ => {}
    }
    if s.is_empty() {
        s = "\"\"".into();
    }
    s
}

fn key_field(rng: &mut Rng, signer: &str, other: &str) -> String {
    let sep = if rng.chance(15) { "\t" } else { " " };
    let (ty, b64) = match rng.below(20) {
        0..=11 => signer.split_once(' ').unwrap(),
        12..=15 => other.split_once(' ').unwrap(),
        16 => {
            let (t, b) = signer.split_once(' ').unwrap();
            return format!("{t}{sep}{}", &b[..b.len() - 4]);
        }
        17 => return format!("ssh-ed25519{sep}AAAA!!!!"),
        18 => {
            let (_, b) = signer.split_once(' ').unwrap();
            return format!("ssh-rsa{sep}{b}");
        }
        _ => {
            let (t, b) = signer.split_once(' ').unwrap();
            return format!("{t}{sep}{b}=");
        }
    };
    let mut s = format!("{ty}{sep}{b64}");
    if rng.chance(30) {
        s.push_str(" you@unit.example comment");
    }
    s
}

fn noise(rng: &mut Rng, signer: &str, other: &str) -> Vec<u8> {
    match rng.below(9) {
        0 => b"# a comment line\n".to_vec(),
        1 => b"\n".to_vec(),
        2 => b"   \t \n".to_vec(),
        3 => format!("other@unit.example {other}\n").into_bytes(),
        4 => b"you@unit.example ssh-ed25519\n".to_vec(),
        5 => format!("you@unit.example namespaces=\"fieldkit-evidence {signer}\n").into_bytes(),
        6 => {
            let mut l = b"andr\xe9@unit.example ".to_vec();
            l.extend_from_slice(signer.as_bytes());
            l.push(b'\n');
            l
        }
        7 => {
            let mut l = b"you@unit.example\0 ".to_vec();
            l.extend_from_slice(signer.as_bytes());
            l.push(b'\n');
            l
        }
        _ => format!("   # {IDENTITY} {signer}\n").into_bytes(),
    }
}

fn variant(rng: &mut Rng, signer: &str, other: &str, now: i64, tz_offset: i64) -> Vec<u8> {
    let mut file = Vec::new();
    let entries = 1 + usize::from(rng.chance(25));
    for _ in 0..entries {
        for _ in 0..rng.below(3) {
            file.extend(noise(rng, signer, other));
        }
        let mut line = principals(rng);
        if let Some(o) = options(rng, now, tz_offset) {
            line.push(if rng.chance(10) { '\t' } else { ' ' });
            line.push_str(&o);
        }
        line.push(' ');
        line.push_str(&key_field(rng, signer, other));
        file.extend_from_slice(line.as_bytes());
        match rng.below(10) {
            0 => file.extend_from_slice(b"\r\n"),
            1 => {}
            _ => file.push(b'\n'),
        }
        if rng.chance(10) {
            file.extend(noise(rng, signer, other));
        }
    }
    file
}

/// Hand-picked corners of OpenSSH's parser, `{K}` standing for the signer's key.
const CORNERS: &[&str] = &[
    "you@\"unit.example\" {K}",
    "\"you@unit.example\"\t{K}",
    "you@unit.example namespaces=\"fieldkit-evidence\"\t{K}",
    "you@unit.example namespaces=\"fieldkit-evidence\\\",x\" {K}",
    "you@unit.example namespaces=\"x\\\",fieldkit-evidence\" {K}",
    "you@unit.example {K} namespaces=\"git\"",
    "you@unit.example,! {K}",
    "!,you@unit.example {K}",
    "you@unit.example \"namespaces\"=\"fieldkit-evidence\" {K}",
    "you@unit.example namespaces=\"fieldkit-evidence\"cert-authority {K}",
    "you@unit.example cert-authorityx {K}",
    "you@unit.example valid-after=\" 20261203Z\" {K}",
    "you@unit.example valid-after=\"2026 1203Z\" {K}",
    "you@unit.example valid-after=\"202612 3Z\" {K}",
    "you@unit.example valid-before=\"99991231Z\" {K}",
    "you@unit.example valid-before=\"00010101Z\" {K}",
    "you@unit.example valid-after=\"20200231Z\" {K}",
    "you@unit.example valid-after=\"20200101000061Z\" {K}",
    "you@unit.example valid-after=\"20200101Z\",valid-before=\"20200101Z\" {K}",
    "you@unit.example namespaces=\"\" {K}",
    "you@unit.example  {K}",
    "you@unit.example\t\t{K}",
    "you@unit.example namespaces=\"a b\",namespaces=\"c\" {K}",
    "you@unit.example restrict,namespaces=\"fieldkit-evidence\" {K}",
    "you@unit.example namespaces=\"fieldkit-evidence\", {K}",
    "you@unit.example ,namespaces=\"fieldkit-evidence\" {K}",
    "\"\"you@unit.example {K}",
    "you@unit.example\"\" {K}",
    "you@unit.example",
    "you@unit.example {K}\n",
    "\r\nyou@unit.example {K}",
    "\tyou@unit.example {K}",
    "\x0byou@unit.example {K}",
];

#[test]
fn fieldkit_and_ssh_keygen_agree_on_every_allowed_signers_variant() {
    require_tool("ssh-keygen", "openssh-client");
    require_tool("unzip", "unzip");
    let started = Instant::now();
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    let src = d.join("src");
    std::fs::create_dir(&src).unwrap();
    std::fs::write(src.join("a.txt"), "evidence\n").unwrap();
    for (name, identity) in [("you", IDENTITY), ("other", "other@unit.example")] {
        let r = run(&[
            "keygen",
            "--out",
            d.join(name).to_str().unwrap(),
            "--identity",
            identity,
        ]);
        assert_eq!(r.code, 0, "{}", r.stderr);
    }
    let own = signed(d, &src, "own", &["--key", d.join("you").to_str().unwrap()]);
    let one_time = signed(d, &src, "onetime", &[]);
    assert_eq!(own.key, key_of(&d.join("you.pub")));
    let other_key = key_of(&d.join("other.pub"));

    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let zones = [
        "UTC",
        "Europe/Berlin",
        "America/New_York",
        "Asia/Kolkata",
        "Pacific/Chatham",
    ];
    let offsets: Vec<i64> = zones.iter().map(|z| offset_of(z)).collect();
    assert_ne!(
        offsets[1], 0,
        "time zone data missing (Debian package tzdata)"
    );

    let mut rng = Rng(SEED);
    let file = d.join("allowed_signers");
    let (mut agreed_valid, mut agreed_invalid) = (0usize, 0usize);
    let mut disagreements = Vec::new();
    for i in 0..VARIANTS + CORNERS.len() {
        let corner = i.checked_sub(VARIANTS).map(|c| CORNERS[c]);
        let b = if corner.is_none() && rng.chance(20) {
            &one_time
        } else {
            &own
        };
        let zone = if corner.is_none() && rng.chance(35) {
            rng.below(zones.len())
        } else {
            0
        };
        let text = match corner {
            Some(c) => c.replace("{K}", &b.key).into_bytes(),
            None => variant(&mut rng, &b.key, &other_key, now, offsets[zone]),
        };
        let identity = if corner.is_some() || rng.chance(85) {
            IDENTITY
        } else {
            *rng.pick(&[
                "other@unit.example",
                "YOU@unit.example",
                "you@unit.example.evil",
                "y",
            ])
        };
        std::fs::write(&file, &text).unwrap();
        // Both at once: the two cores each run one.
        let fk = Command::new(bin())
            .arg("verify")
            .arg(&b.bundle)
            .arg("--allowed-signers")
            .arg(&file)
            .arg("--identity")
            .arg(identity)
            .arg("--json")
            .env("TZ", zones[zone])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdin = std::fs::File::open(&b.sums).unwrap();
        let ssh = Command::new("ssh-keygen")
            .args(["-Y", "verify", "-f"])
            .arg(&file)
            .args(["-I", identity, "-n", "fieldkit-evidence", "-s"])
            .arg(&b.sig)
            .stdin(stdin)
            .env("TZ", zones[zone])
            .output()
            .unwrap();
        let fk = fk.wait_with_output().unwrap();
        let fk_code = fk.status.code().unwrap_or(-1);
        let ssh_ok = ssh.status.success();
        let fk_ok = fk_code == 0;
        if fk_ok != ssh_ok || !matches!(fk_code, 0 | 5) {
            disagreements.push(format!(
                "variant {i} (TZ={}, -I {identity}): fieldkit exit {fk_code}, ssh-keygen exit {}\n\
                 file: {:?}\nssh-keygen: {}\nfieldkit: {}",
                zones[zone],
                ssh.status.code().unwrap_or(-1),
                String::from_utf8_lossy(&text),
                String::from_utf8_lossy(&ssh.stderr).trim(),
                String::from_utf8_lossy(&fk.stdout)
                    .lines()
                    .find(|l| l.contains("\"headline\""))
                    .unwrap_or_default()
            ));
        } else if fk_ok {
            agreed_valid += 1;
        } else {
            agreed_invalid += 1;
        }
    }
    eprintln!(
        "allowed_signers variants: {} ({VARIANTS} generated with seed {SEED:#x}, {} corners), \
         accepted by both: {agreed_valid}, rejected by both: {agreed_invalid}, disagreements: {} \
         — {:.1} s",
        VARIANTS + CORNERS.len(),
        CORNERS.len(),
        disagreements.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(
        disagreements.is_empty(),
        "{} disagreement(s):\n{}",
        disagreements.len(),
        disagreements.join("\n\n")
    );
    // Both outcomes must be well represented, or the variants prove little.
    assert!(
        agreed_valid >= VARIANTS / 10
            && agreed_invalid >= VARIANTS / 4
            && agreed_valid + agreed_invalid == VARIANTS + CORNERS.len(),
        "accepted {agreed_valid}, rejected {agreed_invalid}"
    );
}
