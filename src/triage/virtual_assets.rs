//! The `virtual_assets` analyzer: traces of cryptocurrency holdings.
//!
//! - wallet files and wallet application data recognised by path (Bitcoin Core-style
//!   `wallet.dat` confirmed by its Berkeley DB / SQLite magic, Electrum, Exodus, Atomic,
//!   Ledger Live, Trezor Suite, wallet browser extensions by extension ID; Firefox
//!   wallet add-ons from the `extensions.webextensions.uuids` map in a profile's
//!   `prefs.js`, which names the `storage/default/moz-extension+++<uuid>` directory that
//!   holds their data);
//! - in text files up to [`TEXT_SCAN_LIMIT`] bytes: checksum-valid BIP39 seed phrases and
//!   checksum-valid addresses (see `cryptoaddr`);
//! - in browser history files up to [`HISTORY_SCAN_LIMIT`] bytes: exchange, wallet and
//!   mixer domains.
//!
//! Owns these per-file scans. It never puts seed words in a finding's `title` (only in its
//! `evidence`, which stays in the bundle), keeps memory bounded (one token, at most
//! [`bip39scan::MAX_FREE_RUN`] words, capped hit lists) and decides from the path and the
//! first bytes whether a file deserves a look.

use std::collections::BTreeMap;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use serde_json::{Value, json};

use super::bip39scan::{self, SeedTracker};
use super::patterns::{ASSET_DOMAINS, WALLET_APP_DIRS, WALLET_EXTENSION_IDS, WALLET_FIREFOX_IDS};
use super::text::{self, Encoding, Tokenizer};
use super::{Analyzer, FileContext, FileDigests, FileScan, new_finding};
use crate::finding::{Finding, Severity};

pub const NAME: &str = "virtual_assets";
/// Largest text file searched for seeds and addresses.
pub const TEXT_SCAN_LIMIT: u64 = 64 << 20;
/// Largest browser history file searched for domains.
pub const HISTORY_SCAN_LIMIT: u64 = 1 << 30;
/// Distinct addresses reported per file (more are counted, not listed).
pub const MAX_ADDRESSES: usize = 200;
/// Occurrences listed per address.
pub const MAX_OCCURRENCES: usize = 10;
/// Seed phrases reported per file.
pub const MAX_SEEDS: usize = 100;
/// Bytes of a wallet file kept to check its magic.
const HEAD_LEN: usize = 64;
/// Longest `prefs.js` line kept (the add-on UUID map is one line).
const MAX_PREFS_LINE: usize = 1 << 20;
/// The Firefox preference mapping add-on IDs to their per-installation UUIDs.
const UUIDS_PREF: &[u8] = b"user_pref(\"extensions.webextensions.uuids\",";

pub struct VirtualAssetAnalyzer;

impl Analyzer for VirtualAssetAnalyzer {
    fn name(&self) -> &'static str {
        NAME
    }

    fn start(&self, ctx: &FileContext<'_>) -> Option<Box<dyn FileScan>> {
        let wallet = wallet_by_path(ctx.source_path);
        let history = history_kind(ctx.source_path).filter(|_| ctx.size <= HISTORY_SCAN_LIMIT);
        let text = ctx.size > 0 && ctx.size <= TEXT_SCAN_LIMIT;
        let prefs = is_firefox_prefs(ctx.source_path);
        if wallet.is_none() && history.is_none() && !text && !prefs {
            return None;
        }
        Some(Box::new(AssetScan {
            wallet,
            prefs: prefs.then(PrefsScan::default),
            head: Vec::new(),
            text: if text {
                TextState::Sniffing(Vec::new())
            } else {
                TextState::Off
            },
            history: history.map(DomainScan::new),
        }))
    }
}

/// What the path says about a wallet.
#[derive(Debug, Clone)]
struct WalletHit {
    kind: &'static str,
    app: String,
    detail: Option<String>,
    severity: Severity,
}

fn lower_parts(source_path: &str) -> Vec<String> {
    super::components(source_path)
        .map(str::to_ascii_lowercase)
        .collect()
}

fn contains_sequence(parts: &[String], sequence: &[&str]) -> bool {
    parts
        .windows(sequence.len())
        .any(|w| w.iter().zip(sequence).all(|(a, b)| a == b))
}

fn browser_of(parts: &[String]) -> &'static str {
    let has = |seq: &[&str]| contains_sequence(parts, seq);
    if has(&["google", "chrome"]) || parts.iter().any(|p| p == "google-chrome") {
        "Chrome"
    } else if has(&["microsoft", "edge"]) || parts.iter().any(|p| p == "microsoft-edge") {
        "Edge"
    } else if parts.iter().any(|p| p == "bravesoftware") {
        "Brave"
    } else if parts.iter().any(|p| p == "chromium") {
        "Chromium"
    } else if parts.iter().any(|p| p.starts_with("opera")) {
        "Opera"
    } else {
        "Chromium-based browser"
    }
}

/// LevelDB bookkeeping files carry no wallet data.
fn is_leveldb_bookkeeping(name: &str) -> bool {
    matches!(name, "lock" | "log" | "log.old" | "current")
}

fn wallet_by_path(source_path: &str) -> Option<WalletHit> {
    let parts = lower_parts(source_path);
    let name = parts.last()?.as_str();
    if name == "wallet.dat" {
        let app = ["litecoin", "dogecoin", "dashcore", "bitcoin"]
            .iter()
            .find(|a| parts.iter().any(|p| p.contains(*a)))
            .map_or("Bitcoin Core-style wallet".to_string(), |a| {
                format!("{a} wallet")
            });
        return Some(WalletHit {
            kind: "crypto.wallet_file",
            app,
            detail: None,
            severity: Severity::High,
        });
    }
    let dirs = &parts[..parts.len() - 1];
    // Browser extension stores (Chromium family) by extension ID.
    for (id, wallet) in WALLET_EXTENSION_IDS {
        let indexeddb = format!("chrome-extension_{id}_0.indexeddb.leveldb");
        let at = dirs.iter().position(|d| d == id || *d == indexeddb);
        if let Some(at) = at {
            let store = if at > 0 { dirs[at - 1].as_str() } else { "" };
            let installed_code = store == "extensions";
            if installed_code && name != "manifest.json" {
                return None;
            }
            if is_leveldb_bookkeeping(name) {
                return None;
            }
            let browser = browser_of(&parts);
            // <profile>/<store>/<ID or IndexedDB dir>/…, names as written on disk.
            let original: Vec<&str> = super::components(source_path).collect();
            let named = |i: Option<usize>| i.and_then(|i| original.get(i)).copied().unwrap_or("?");
            let store_name = named(at.checked_sub(1));
            let profile = named(at.checked_sub(2));
            return Some(WalletHit {
                kind: if installed_code {
                    "crypto.wallet_extension_installed"
                } else {
                    "crypto.wallet_extension_data"
                },
                app: format!("{wallet} ({browser})"),
                detail: Some(format!(
                    "extension {id}, store \"{store_name}\", profile \"{profile}\""
                )),
                severity: if installed_code {
                    Severity::Medium
                } else {
                    Severity::High
                },
            });
        }
    }
    // Firefox add-ons are installed as extensions/<id>.xpi in the profile.
    if dirs.last().is_some_and(|d| d == "extensions") {
        for (id, wallet) in WALLET_FIREFOX_IDS {
            if name == format!("{id}.xpi") {
                return Some(WalletHit {
                    kind: "crypto.wallet_extension_installed",
                    app: format!("{wallet} (Firefox)"),
                    detail: Some(format!("add-on {id}")),
                    severity: Severity::Medium,
                });
            }
        }
    }
    for (sequence, app) in WALLET_APP_DIRS {
        if contains_sequence(dirs, sequence) {
            let cache = dirs
                .iter()
                .any(|d| d.contains("cache") || d == "blob_storage" || d == "crashpad");
            if cache || is_leveldb_bookkeeping(name) {
                return None;
            }
            // Ledger Live keeps its accounts in app.json; the rest is logs and caches.
            if *app == "Ledger Live" && name != "app.json" {
                return None;
            }
            return Some(WalletHit {
                kind: "crypto.wallet_app_data",
                app: app.to_string(),
                detail: None,
                severity: Severity::High,
            });
        }
    }
    None
}

/// A `prefs.js` inside a Firefox profile (any path with a `firefox` component:
/// `.mozilla/firefox/<profile>`, `AppData/Roaming/Mozilla/Firefox/Profiles/<profile>`,
/// `Library/Application Support/Firefox/Profiles/<profile>`).
fn is_firefox_prefs(source_path: &str) -> bool {
    let parts = lower_parts(source_path);
    parts.last().is_some_and(|n| n == "prefs.js") && parts.iter().any(|p| p == "firefox")
}

/// Finds the `extensions.webextensions.uuids` line of a prefs.js, line by line, holding
/// one line of at most [`MAX_PREFS_LINE`] bytes.
#[derive(Default)]
struct PrefsScan {
    line: Vec<u8>,
    overlong: bool,
    found: Option<Vec<u8>>,
}

impl PrefsScan {
    fn update(&mut self, chunk: &[u8]) {
        let mut rest = chunk;
        while self.found.is_none() && !rest.is_empty() {
            let (part, newline) = match memchr::memchr(b'\n', rest) {
                Some(at) => (&rest[..at], true),
                None => (rest, false),
            };
            rest = &rest[part.len() + usize::from(newline)..];
            if !self.overlong {
                if self.line.len() + part.len() > MAX_PREFS_LINE {
                    self.overlong = true;
                    self.line.clear();
                } else {
                    self.line.extend_from_slice(part);
                }
            }
            if newline {
                self.end_line();
            }
        }
    }

    fn end_line(&mut self) {
        if !self.overlong && self.line.starts_with(UUIDS_PREF) {
            self.found = Some(std::mem::take(&mut self.line));
        }
        self.line.clear();
        self.overlong = false;
    }

    fn finish(mut self, source_path: &str) -> Vec<Finding> {
        if self.found.is_none() {
            self.end_line();
        }
        let Some(line) = self.found else {
            return Vec::new();
        };
        let Some(map) = firefox_uuid_map(&line) else {
            return Vec::new();
        };
        let profile = source_path
            .rsplit_once(['/', '\\'])
            .map_or("", |(dir, _)| dir);
        let mut findings = Vec::new();
        for (id, wallet) in WALLET_FIREFOX_IDS {
            let Some(uuid) = map.get(*id) else {
                continue;
            };
            let storage = format!("storage/default/moz-extension+++{uuid}");
            findings.push(new_finding(
                NAME,
                "crypto.wallet_extension_installed",
                Severity::Medium,
                format!("Wallet browser extension installed: {wallet} (Firefox), its data under {storage}"),
                json!({
                    "application": format!("{wallet} (Firefox)"),
                    "detail": format!("add-on {id}, internal UUID {uuid} (prefs.js extensions.webextensions.uuids)"),
                    "addon_id": id,
                    "uuid": uuid,
                    "storage": format!("{profile}/{storage}"),
                }),
            ));
        }
        findings
    }
}

/// The add-on ID → UUID map from a `user_pref("extensions.webextensions.uuids", "…");`
/// line: a JavaScript string literal holding a JSON object.
fn firefox_uuid_map(line: &[u8]) -> Option<BTreeMap<String, String>> {
    let text = std::str::from_utf8(line.get(UUIDS_PREF.len()..)?).ok()?;
    let literal = text.trim_start().strip_prefix('"')?;
    let mut value = String::new();
    let mut chars = literal.chars();
    loop {
        match chars.next()? {
            '"' => break,
            '\\' => match chars.next()? {
                'n' => value.push('\n'),
                'r' => value.push('\r'),
                't' => value.push('\t'),
                'u' => {
                    let hex: String = chars.by_ref().take(4).collect();
                    value.push(char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?);
                }
                other => value.push(other),
            },
            c => value.push(c),
        }
    }
    serde_json::from_str(&value).ok()
}

/// Browser history files by name: `(browser family, format)`.
fn history_kind(source_path: &str) -> Option<&'static str> {
    let name = super::file_name(source_path);
    match name {
        "History" | "Archived History" | "History-journal" => Some("Chromium history"),
        "places.sqlite" | "places.sqlite-wal" => Some("Firefox history"),
        "History.db" | "History.db-wal" => Some("Safari history"),
        _ if name.to_ascii_lowercase().contains("history") => Some("history-named file"),
        _ => None,
    }
}

enum TextState {
    Off,
    Sniffing(Vec<u8>),
    Scanning(Box<TextScan>),
}

struct AssetScan {
    wallet: Option<WalletHit>,
    /// A Firefox profile's prefs.js: its add-on UUID map.
    prefs: Option<PrefsScan>,
    head: Vec<u8>,
    text: TextState,
    history: Option<DomainScan>,
}

impl FileScan for AssetScan {
    fn update(&mut self, chunk: &[u8]) {
        if self.wallet.is_some() && self.head.len() < HEAD_LEN {
            let take = (HEAD_LEN - self.head.len()).min(chunk.len());
            self.head.extend_from_slice(&chunk[..take]);
        }
        if let Some(history) = &mut self.history {
            history.update(chunk);
        }
        if let Some(prefs) = &mut self.prefs {
            prefs.update(chunk);
        }
        match &mut self.text {
            TextState::Off => {}
            TextState::Scanning(scan) => scan.update(chunk),
            TextState::Sniffing(buffer) => {
                let take = (text::SNIFF_LEN - buffer.len()).min(chunk.len());
                buffer.extend_from_slice(&chunk[..take]);
                if buffer.len() >= text::SNIFF_LEN {
                    let sniffed = std::mem::take(buffer);
                    self.text = start_text(&sniffed);
                    if let TextState::Scanning(scan) = &mut self.text {
                        scan.update(&chunk[take..]);
                    }
                }
            }
        }
    }

    fn wants_more(&self) -> bool {
        !matches!(self.text, TextState::Off)
            || self.history.is_some()
            || self.prefs.as_ref().is_some_and(|p| p.found.is_none())
            || (self.wallet.is_some() && self.head.len() < HEAD_LEN)
    }

    fn finish(self: Box<Self>, ctx: &FileContext<'_>, _digests: &FileDigests) -> Vec<Finding> {
        let mut scan = *self;
        let mut findings = Vec::new();
        if let Some(hit) = &scan.wallet {
            findings.push(wallet_finding(hit, &scan.head));
        }
        if let Some(prefs) = scan.prefs.take() {
            findings.extend(prefs.finish(ctx.source_path));
        }
        if let Some(history) = scan.history.take() {
            findings.extend(history.finish());
        }
        let text = std::mem::replace(&mut scan.text, TextState::Off);
        let text = match text {
            TextState::Sniffing(buffer) => start_text(&buffer),
            other => other,
        };
        if let TextState::Scanning(text) = text {
            findings.extend(text.finish());
        }
        findings
    }
}

fn start_text(sniffed: &[u8]) -> TextState {
    match text::sniff(sniffed) {
        Some(encoding) if !sniffed.is_empty() => {
            let mut scan = Box::new(TextScan::new(encoding));
            scan.update(sniffed);
            TextState::Scanning(scan)
        }
        _ => TextState::Off,
    }
}

fn wallet_finding(hit: &WalletHit, head: &[u8]) -> Finding {
    let mut evidence = json!({ "application": hit.app });
    if let Some(detail) = &hit.detail {
        evidence["detail"] = json!(detail);
    }
    let mut severity = hit.severity;
    let mut kind = hit.kind;
    let title = if hit.kind == "crypto.wallet_file" {
        let bdb = head.len() >= 16
            && (head[12..16] == [0x62, 0x31, 0x05, 0x00]
                || head[12..16] == [0x00, 0x05, 0x31, 0x62]);
        let sqlite = head.starts_with(b"SQLite format 3\0");
        let format = if bdb {
            "Berkeley DB"
        } else if sqlite {
            "SQLite (descriptor wallet)"
        } else {
            "unrecognised format"
        };
        evidence["format"] = json!(format);
        if bdb || sqlite {
            format!("Cryptocurrency wallet file ({}, {format})", hit.app)
        } else {
            severity = Severity::Low;
            kind = "crypto.wallet_file_unconfirmed";
            "File named wallet.dat is neither Berkeley DB nor SQLite (renamed or damaged wallet?)"
                .to_string()
        }
    } else {
        if hit.app.starts_with("Electrum") {
            let format = if head.starts_with(b"QklFMQ") {
                "encrypted (password-protected, BIE1)"
            } else if head.first() == Some(&b'{') {
                "JSON (check use_encryption for key encryption)"
            } else {
                "unrecognised"
            };
            evidence["format"] = json!(format);
        }
        match hit.kind {
            "crypto.wallet_extension_installed" => {
                format!("Wallet browser extension installed: {}", hit.app)
            }
            "crypto.wallet_extension_data" => {
                format!("Wallet browser extension data store: {}", hit.app)
            }
            _ => format!("Cryptocurrency wallet application data: {}", hit.app),
        }
    };
    new_finding(NAME, kind, severity, title, evidence)
}

/// Seeds and addresses in one text file.
struct TextScan {
    tokenizer: Tokenizer,
    seeds: SeedTracker,
    addresses: BTreeMap<String, AddressSeen>,
    more_addresses: u64,
}

struct AddressSeen {
    address: super::cryptoaddr::Address,
    count: u64,
    occurrences: Vec<(u64, u64)>,
}

impl TextScan {
    fn new(encoding: Encoding) -> TextScan {
        TextScan {
            tokenizer: Tokenizer::new(encoding),
            seeds: SeedTracker::new(MAX_SEEDS),
            addresses: BTreeMap::new(),
            more_addresses: 0,
        }
    }

    fn update(&mut self, chunk: &[u8]) {
        let TextScan {
            tokenizer,
            seeds,
            addresses,
            more_addresses,
        } = self;
        tokenizer.feed(chunk, &mut |token, offset, line| {
            on_token(token, offset, line, seeds, addresses, more_addresses)
        });
    }

    fn finish(mut self) -> Vec<Finding> {
        let TextScan {
            tokenizer,
            seeds,
            addresses,
            more_addresses,
        } = &mut self;
        tokenizer.finish(&mut |token, offset, line| {
            on_token(token, offset, line, seeds, addresses, more_addresses)
        });
        self.seeds.breaker();
        let mut findings = Vec::new();
        for hit in &self.seeds.hits {
            let count = hit.words.len();
            let lines = if hit.end_line == hit.line {
                format!("line {}", hit.line)
            } else {
                format!("lines {}–{}", hit.line, hit.end_line)
            };
            findings.push(new_finding(
                NAME,
                "crypto.seed_phrase",
                Severity::High,
                format!("BIP39 recovery phrase ({count} words, checksum valid) at {lines}"),
                json!({
                    "word_count": count,
                    "offset": hit.offset,
                    "line": hit.line,
                    "end_line": hit.end_line,
                    "wordlist": "english",
                    "checksum": "valid",
                    "phrase": hit.phrase(),
                }),
            ));
        }
        if self.seeds.dropped_hits > 0 {
            findings.push(new_finding(
                NAME,
                "crypto.seed_phrase_more",
                Severity::High,
                format!(
                    "{} more BIP39 recovery phrases in this file (not listed)",
                    self.seeds.dropped_hits
                ),
                json!({ "not_listed": self.seeds.dropped_hits, "listed": MAX_SEEDS }),
            ));
        }
        for run in &self.seeds.long_runs {
            findings.push(new_finding(
                NAME,
                "crypto.bip39_word_run",
                Severity::Low,
                format!(
                    "{} consecutive BIP39 words from line {}: a BIP39 word list or several phrases",
                    run.words, run.line
                ),
                json!({ "offset": run.offset, "line": run.line, "words": run.words }),
            ));
        }
        for (text, seen) in &self.addresses {
            let a = &seen.address;
            let chain = capitalise(a.chain);
            let verified = if a.checksum_verified {
                "checksum valid"
            } else {
                "no checksum (unverified)"
            };
            let occurrences: Vec<Value> = seen
                .occurrences
                .iter()
                .map(|(offset, line)| json!({ "offset": offset, "line": line }))
                .collect();
            findings.push(new_finding(
                NAME,
                "crypto.address",
                if a.checksum_verified {
                    Severity::Medium
                } else {
                    Severity::Low
                },
                format!(
                    "{chain} address {text} ({}, {verified}), {} occurrence{} from line {}",
                    a.kind,
                    seen.count,
                    if seen.count == 1 { "" } else { "s" },
                    seen.occurrences.first().map_or(0, |o| o.1)
                ),
                json!({
                    "address": text,
                    "chain": a.chain,
                    "type": a.kind,
                    "checksum_verified": a.checksum_verified,
                    "note": a.note,
                    "count": seen.count,
                    "occurrences": occurrences,
                }),
            ));
        }
        if self.more_addresses > 0 {
            findings.push(new_finding(
                NAME,
                "crypto.address_more",
                Severity::Medium,
                format!(
                    "{} more cryptocurrency address occurrences in this file (not listed)",
                    self.more_addresses
                ),
                json!({ "not_listed_occurrences": self.more_addresses, "listed_addresses": MAX_ADDRESSES }),
            ));
        }
        findings
    }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
        .unwrap_or_default()
}

fn on_token(
    token: &[u8],
    offset: u64,
    line: u64,
    seeds: &mut SeedTracker,
    addresses: &mut BTreeMap<String, AddressSeen>,
    more_addresses: &mut u64,
) {
    if let Some(index) = bip39scan::word_index(token) {
        seeds.word(index, offset, line, bip39scan::Case::of(token));
        return;
    }
    // Numbers of a numbered list ("1. abandon 2. ability") do not break a phrase.
    if !token.is_empty() && token.len() <= 3 && token.iter().all(u8::is_ascii_digit) {
        return;
    }
    seeds.breaker();
    if token.len() < 26 {
        return;
    }
    let Ok(text) = std::str::from_utf8(token) else {
        return;
    };
    let Some(address) = super::cryptoaddr::classify(text) else {
        return;
    };
    if let Some(seen) = addresses.get_mut(text) {
        seen.count += 1;
        if seen.occurrences.len() < MAX_OCCURRENCES {
            seen.occurrences.push((offset, line));
        }
    } else if addresses.len() < MAX_ADDRESSES {
        addresses.insert(
            text.to_string(),
            AddressSeen {
                address,
                count: 1,
                occurrences: vec![(offset, line)],
            },
        );
    } else {
        *more_addresses += 1;
    }
}

/// Exchange/wallet domains in a browser history file, across chunk boundaries.
struct DomainScan {
    kind: &'static str,
    /// The last bytes of the previous chunk (longest domain + 1 for the boundary check).
    carry: Vec<u8>,
    /// Absolute offset of `carry[0]`.
    carry_start: u64,
    /// Matches starting before this offset have been decided.
    decided_until: u64,
    hits: BTreeMap<&'static str, (u64, Vec<u64>)>,
}

fn matcher() -> Option<&'static AhoCorasick> {
    static MATCHER: std::sync::OnceLock<Option<AhoCorasick>> = std::sync::OnceLock::new();
    MATCHER
        .get_or_init(|| {
            AhoCorasickBuilder::new()
                .ascii_case_insensitive(true)
                .match_kind(MatchKind::Standard)
                .build(ASSET_DOMAINS)
                .ok()
        })
        .as_ref()
}

fn longest_domain() -> usize {
    ASSET_DOMAINS.iter().map(|d| d.len()).max().unwrap_or(0)
}

fn is_label_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

impl DomainScan {
    fn new(kind: &'static str) -> DomainScan {
        DomainScan {
            kind,
            carry: Vec::new(),
            carry_start: 0,
            decided_until: 0,
            hits: BTreeMap::new(),
        }
    }

    fn update(&mut self, chunk: &[u8]) {
        self.scan(chunk, false);
    }

    fn scan(&mut self, chunk: &[u8], last: bool) {
        let mut buffer = std::mem::take(&mut self.carry);
        buffer.extend_from_slice(chunk);
        let base = self.carry_start;
        let end = base + buffer.len() as u64;
        // A match starting at or after this point may need bytes not yet seen.
        let decidable = if last {
            end
        } else {
            end.saturating_sub(longest_domain() as u64)
        };
        // The list is a constant aho-corasick accepts; without a matcher nothing matches.
        let Some(matcher) = matcher() else { return };
        for m in matcher.find_overlapping_iter(&buffer) {
            let start = base + m.start() as u64;
            if start < self.decided_until || start >= decidable {
                continue;
            }
            let before_ok = if m.start() == 0 {
                base == 0
            } else {
                !is_label_byte(buffer[m.start() - 1])
            };
            let after_ok = buffer.get(m.end()).is_none_or(|&b| !is_label_byte(b));
            if before_ok && after_ok {
                let domain = ASSET_DOMAINS[m.pattern().as_usize()];
                let entry = self.hits.entry(domain).or_insert((0, Vec::new()));
                entry.0 += 1;
                if entry.1.len() < MAX_OCCURRENCES {
                    entry.1.push(start);
                }
            }
        }
        self.decided_until = self.decided_until.max(decidable);
        let keep = (longest_domain() + 1).min(buffer.len());
        self.carry_start = end - keep as u64;
        self.carry = buffer.split_off(buffer.len() - keep);
    }

    fn finish(mut self) -> Option<Finding> {
        self.scan(&[], true);
        if self.hits.is_empty() {
            return None;
        }
        let names: Vec<&str> = self.hits.keys().copied().collect();
        let total: u64 = self.hits.values().map(|v| v.0).sum();
        let domains: serde_json::Map<String, Value> = self
            .hits
            .iter()
            .map(|(d, (count, offsets))| {
                (d.to_string(), json!({ "count": count, "offsets": offsets }))
            })
            .collect();
        Some(new_finding(
            NAME,
            "crypto.history_hits",
            Severity::Medium,
            format!(
                "{} mentions {} cryptocurrency exchange/wallet site{} ({})",
                self.kind,
                names.len(),
                if names.len() == 1 { "" } else { "s" },
                names.join(", ")
            ),
            json!({ "source": self.kind, "total_hits": total, "domains": domains }),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn domains_in(data: &[u8], chunk: usize) -> Vec<(String, u64)> {
        let mut scan = DomainScan::new("test");
        for c in data.chunks(chunk) {
            scan.update(c);
        }
        let Some(f) = scan.finish() else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (d, v) in f.evidence["domains"].as_object().into_iter().flatten() {
            for o in v["offsets"].as_array().into_iter().flatten() {
                out.push((d.clone(), o.as_u64().unwrap_or(u64::MAX)));
            }
        }
        out.sort();
        out
    }

    #[test]
    fn domains_are_found_once_across_any_chunking_with_label_boundaries() {
        let data =
            b"https://www.binance.com/x notbinance.com kraken.com\0coinbase.company KRAKEN.COM";
        let expected = vec![
            ("binance.com".to_string(), 12),
            ("kraken.com".to_string(), 41),
            ("kraken.com".to_string(), 69),
        ];
        for chunk in 1..=data.len() {
            assert_eq!(domains_in(data, chunk), expected, "chunk {chunk}");
        }
    }

    #[test]
    fn the_firefox_uuid_map_is_read_from_prefs_js_whatever_the_chunking() {
        let prefs = b"user_pref(\"a\", 1);\nuser_pref(\"extensions.webextensions.uuids\", \"{\\\"webextension@metamask.io\\\":\\\"u-1\\\",\\\"x@y\\\":\\\"\\u0041\\\"}\");\nuser_pref(\"z\", 2);";
        for chunk in [1, 5, 64, prefs.len()] {
            let mut scan = PrefsScan::default();
            for c in prefs.chunks(chunk) {
                scan.update(c);
            }
            let findings = scan.finish("home/a/.mozilla/firefox/p/prefs.js");
            assert_eq!(findings.len(), 1, "chunk {chunk}");
            assert_eq!(findings[0].evidence["uuid"], "u-1");
            assert_eq!(
                findings[0].evidence["storage"],
                "home/a/.mozilla/firefox/p/storage/default/moz-extension+++u-1"
            );
        }
        let line =
            b"user_pref(\"extensions.webextensions.uuids\", \"{\\\"x@y\\\":\\\"\\u0041\\\"}\");";
        let map = firefox_uuid_map(line).unwrap_or_default();
        assert_eq!(map.get("x@y").map(String::as_str), Some("A"));
        assert!(firefox_uuid_map(b"user_pref(\"extensions.webextensions.uuids\", 5);").is_none());
        assert!(is_firefox_prefs(
            "Users/b/AppData/Roaming/Mozilla/Firefox/Profiles/x/prefs.js"
        ));
        assert!(!is_firefox_prefs("home/b/project/prefs.js"));
    }

    #[test]
    fn wallet_paths_are_recognised() {
        let hit = wallet_by_path(
            "Users/bob/AppData/Local/Google/Chrome/User Data/Default/Local Extension Settings/nkbihfbeogaeaoehlefnkodbefgpgknn/000003.log",
        )
        .map(|h| (h.kind, h.app));
        assert_eq!(
            hit,
            Some((
                "crypto.wallet_extension_data",
                "MetaMask (Chrome)".to_string()
            ))
        );
        assert!(wallet_by_path(
            "home/u/.config/BraveSoftware/Brave-Browser/Default/Local Extension Settings/bfnaelmomeimhlpmgjnjophhpkkoljpa/LOCK"
        )
        .is_none());
        let electrum = wallet_by_path("home/u/.electrum/wallets/default_wallet").map(|h| h.app);
        assert_eq!(electrum.as_deref(), Some("Electrum"));
        assert!(wallet_by_path("home/u/Documents/notes.txt").is_none());
    }
}
