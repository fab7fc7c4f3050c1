//! The virtual-assets analyzer: BIP39 reference vectors (valid, and one word swapped so
//! the checksum fails), published Bitcoin/Ethereum/Monero/Tron address vectors (valid
//! and one character off), wallet files made by real tools (db5.3_load, sqlite3) and
//! browser history databases made with sqlite3.

mod triage_support;

use serde_json::Value;
use sha2::{Digest, Sha256};
use triage_support::*;

fn vectors() -> Vec<String> {
    let text = include_str!("data/bip39-vectors-english.json");
    let json: Value = serde_json::from_str(text).expect("vectors.json");
    json["english"]
        .as_array()
        .expect("english vectors")
        .iter()
        .map(|v| v[1].as_str().expect("mnemonic").to_string())
        .collect()
}

/// BIP39 checksum computed here from the specification (entropy bits + first
/// ENT/32 bits of SHA-256), independently of the analyzer's implementation.
fn checksum_ok(phrase: &str) -> bool {
    let list = bip39::Language::English.word_list();
    let mut bits = Vec::new();
    for word in phrase.split(' ') {
        let Some(index) = list.iter().position(|w| *w == word) else {
            return false;
        };
        for b in (0..11).rev() {
            bits.push((index >> b) & 1 == 1);
        }
    }
    let ent = bits.len() * 32 / 33;
    let entropy: Vec<u8> = bits[..ent]
        .chunks(8)
        .map(|byte| byte.iter().fold(0u8, |acc, &b| (acc << 1) | u8::from(b)))
        .collect();
    let hash = Sha256::digest(&entropy);
    (0..bits.len() - ent).all(|i| bits[ent + i] == ((hash[i / 8] >> (7 - i % 8)) & 1 == 1))
}

/// The vector with word 5 replaced by the first later word that breaks the checksum.
fn swapped(phrase: &str) -> String {
    let list = bip39::Language::English.word_list();
    let mut words: Vec<&str> = phrase.split(' ').collect();
    let original = list.iter().position(|w| *w == words[5]).expect("word");
    for step in 1..2048 {
        words[5] = list[(original + step) % 2048];
        let candidate = words.join(" ");
        if !checksum_ok(&candidate) {
            return candidate;
        }
    }
    panic!("no failing swap found");
}

#[test]
fn bip39_reference_vectors_are_found_and_swapped_words_are_not() {
    let valid = vectors();
    assert_eq!(valid.len(), 24);
    assert!(
        valid.iter().all(|p| checksum_ok(p)),
        "independent checksum disagrees with the vectors"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    // Three layouts: prose + one line, a numbered list, one word per line.
    let mut text = String::from("Notes from the meeting.\n");
    let mut expected_lines = Vec::new();
    for (i, phrase) in valid.iter().enumerate() {
        match i % 3 {
            0 => {
                text.push_str(&format!("backup #{i}: {phrase}\n"));
                expected_lines.push((text.lines().count(), text.lines().count()));
            }
            1 => {
                let start = text.lines().count() + 1;
                for (n, w) in phrase.split(' ').enumerate() {
                    text.push_str(&format!("{}. {w}\n", n + 1));
                }
                expected_lines.push((start, text.lines().count()));
            }
            _ => {
                let start = text.lines().count() + 1;
                for w in phrase.split(' ') {
                    text.push_str(&format!("{w}\n"));
                }
                expected_lines.push((start, text.lines().count()));
            }
        }
        // A separator that is not a BIP39 word (see docs/triage.md on adjacent words).
        text.push_str("-- xyzzy --\n");
    }
    let good = write(d, "Users/bob/Documents/keys.txt", text.as_bytes());
    let bad_text: String = valid
        .iter()
        .map(|p| format!("maybe: {}\n-- xyzzy --\n", swapped(p)))
        .collect();
    let bad = write(d, "Users/bob/Documents/not-keys.txt", bad_text.as_bytes());

    let findings = triage(Some(d), &[good.clone(), bad.clone()], &[]);
    let seeds = of_kind(&findings, "crypto.seed_phrase");
    assert_eq!(seeds.len(), valid.len(), "{seeds:#?}");
    for ((seed, phrase), (line, end_line)) in seeds.iter().zip(&valid).zip(&expected_lines) {
        assert_eq!(seed["path"], good.to_string_lossy().as_ref());
        assert_eq!(seed["severity"], "high");
        assert_eq!(seed["evidence"]["phrase"], phrase.as_str());
        assert_eq!(seed["evidence"]["line"], *line as u64);
        assert_eq!(seed["evidence"]["end_line"], *end_line as u64);
        let words = phrase.split(' ').count();
        let lines = if line == end_line {
            format!("line {line}")
        } else {
            format!("lines {line}–{end_line}")
        };
        // The title is fixed text: no seed word can appear in it.
        assert_eq!(
            seed["title"],
            format!("BIP39 recovery phrase ({words} words, checksum valid) at {lines}")
        );
        // The byte offset points at the first word.
        let offset = seed["evidence"]["offset"].as_u64().expect("offset") as usize;
        let first = phrase.split(' ').next().unwrap_or("");
        assert_eq!(&text[offset..offset + first.len()], first);
    }
    assert!(
        for_path(&findings, &bad).is_empty(),
        "swapped phrases must not match"
    );
    // Chunking never changes the result.
    for chunk in ["1", "5", "4096"] {
        assert_eq!(
            triage(
                Some(d),
                &[good.clone(), bad.clone()],
                &["--chunk-size", chunk]
            ),
            findings
        );
    }
    // Text output shows titles only: no seed words on the terminal.
    let out = std::process::Command::new(fieldkit())
        .args(["triage-file", "--root"])
        .arg(d)
        .arg(&good)
        .output()
        .expect("run");
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(!shown.contains("legal winner thank"), "{shown}");
    assert_eq!(shown.lines().count(), valid.len());
}

#[test]
fn the_bip39_word_list_itself_is_a_word_run_not_a_pile_of_seeds() {
    let dir = tempfile::tempdir().expect("tempdir");
    let list = bip39::Language::English.word_list().join("\n") + "\n";
    let file = write(dir.path(), "english.txt", list.as_bytes());
    let findings = triage(Some(dir.path()), &[file], &[]);
    assert!(of_kind(&findings, "crypto.seed_phrase").is_empty());
    let run = one(&findings, "crypto.bip39_word_run");
    assert_eq!(run["evidence"]["words"], 2048);
    assert_eq!(run["severity"], "low");
}

/// Base58Check written here from the Bitcoin wiki description, to make Litecoin/Tron
/// test addresses independently of the analyzer's decoder.
fn base58check(payload: &[u8]) -> String {
    const A: &[u8] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
    let mut data = payload.to_vec();
    let check = Sha256::digest(Sha256::digest(payload));
    data.extend_from_slice(&check[..4]);
    let mut digits: Vec<u8> = Vec::new();
    for &byte in &data {
        let mut carry = u32::from(byte);
        for d in digits.iter_mut() {
            carry += u32::from(*d) << 8;
            *d = (carry % 58) as u8;
            carry /= 58;
        }
        while carry > 0 {
            digits.push((carry % 58) as u8);
            carry /= 58;
        }
    }
    let zeros = data.iter().take_while(|&&b| b == 0).count();
    std::iter::repeat_n(b'1', zeros)
        .chain(digits.iter().rev().map(|&d| A[d as usize]))
        .map(char::from)
        .collect()
}

/// Changes one character to another of the same class (keeps the token shape).
fn one_off(address: &str, at: usize) -> String {
    let mut chars: Vec<char> = address.chars().collect();
    chars[at] = match chars[at] {
        'z' => 'y',
        'Z' => 'Y',
        '9' => '8',
        c if c.is_ascii_alphanumeric() => {
            let next = (c as u8 + 1) as char;
            // Skip characters outside base58/bech32 alphabets.
            if matches!(next, '0' | 'O' | 'I' | 'l' | 'b' | 'i' | 'o' | '1') {
                (c as u8 + 2) as char
            } else {
                next
            }
        }
        c => c,
    };
    chars.into_iter().collect()
}

#[test]
fn addresses_are_reported_only_when_their_checksum_holds() {
    let hash: Vec<u8> = (1..=20).collect();
    let litecoin = base58check(&[&[0x30], hash.as_slice()].concat());
    let litecoin_p2sh = base58check(&[&[0x32], hash.as_slice()].concat());
    let tron = base58check(&[&[0x41], hash.as_slice()].concat());
    // (address, chain, type, checksum verified)
    let valid: Vec<(String, &str, &str, bool)> = vec![
        // Bitcoin wiki / BIP13 / BIP173 / BIP86 examples.
        ("1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2".into(), "bitcoin", "p2pkh", true),
        ("3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy".into(), "bitcoin", "p2sh", true),
        ("BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4".into(), "bitcoin", "p2wpkh", true),
        ("bc1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3qccfmv3".into(), "bitcoin", "p2wsh", true),
        ("bc1p5cyxnuxmeuwuvkwfem96lqzszd02n6xdcjrs20cac6yqjjwudpxqkedrcr".into(), "bitcoin", "p2tr", true),
        // EIP-55 examples, and an all-caps address (no checksum to verify).
        ("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed".into(), "ethereum", "account", true),
        ("0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359".into(), "ethereum", "account", true),
        ("0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB".into(), "ethereum", "account", true),
        ("0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb".into(), "ethereum", "account", true),
        ("0x52908400098527886E0F7030069857D2E4169EE7".into(), "ethereum", "account", false),
        // Monero general fund donation address (getmonero.org).
        ("44AFFq5kSiGBoZ4NMDwYtN18obc8AemS33DBLWs3H7otXft3XjrpDtQGv7SqSsaBYBb98uNbr2VBBEt7f2wfn3RVGQBEP3A".into(), "monero", "standard", true),
        // Monero subaddress: account 0, index 1 of the wallet whose primary address is
        // 47ewoP19…; monero-ecosystem/monero-python tests/data/mainnet-subaddrs.json,
        // commit e7ed1531ff6e12624c185057945e402ef0abfcb3 (BSD-3-Clause).
        ("84LooD7i35SFppgf4tQ453Vi3q5WexSUXaVgut69ro8MFnmHwuezAArEZTZyLr9fS6QotjqkSAxSF6d1aDgsPoX849izJ7m".into(), "monero", "subaddress", true),
        // Monero standard and integrated address (payment ID 4a6f686e47616c74) of the same
        // keys; monero-python tests/address.py, commit 176ab69638e5b5e45f7f465e5c6eb7228ad52220.
        ("43aeKax1ts4BoEbSyzKVbbDRmc8nsnpZLUpQBYvhUxs3KVrodnaFaBEQMDp69u4VaiEG3LSQXA6M61mXPrztCLuh7PFUAmd".into(), "monero", "standard", true),
        ("4DHKLPmWW8aBoEbSyzKVbbDRmc8nsnpZLUpQBYvhUxs3KVrodnaFaBEQMDp69u4VaiEG3LSQXA6M61mXPrztCLuhAR6GpL18QNwE8h3TuF".into(), "monero", "integrated", true),
        // Litecoin bech32 (BIP173 with HRP "ltc"): Trust Wallet wallet-core,
        // swift/Tests/Blockchains/LitecoinTests.swift, commit
        // 0125c0bdd291551c858b6bc9e7b4d3fdef6a32e7 (Apache-2.0): the P2WPKH address of a
        // fixed key, one derived from a published zpub, and the change address of the
        // signed mainnet transaction 8435d205…2ef8 in the same test.
        ("ltc1qytnqzjknvv03jwfgrsmzt0ycmwqgl0asjnaxwu".into(), "litecoin", "p2wpkh", true),
        ("ltc1qcgnevr9rp7aazy62m4gen0tfzlssa52axwytt6".into(), "litecoin", "p2wpkh", true),
        ("ltc1q0dvup9kzplv6yulzgzzxkge8d35axkq4n45hum".into(), "litecoin", "p2wpkh", true),
        // Litecoin legacy P2PKH from the same file.
        ("LV7LV7Z4bWDEjYkfx9dQo6k6RjGbXsg6hS".into(), "litecoin", "p2pkh", true),
        // Tron: the USDT (TRC-20) contract, and one made here.
        ("TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t".into(), "tron", "account", true),
        (tron, "tron", "account", true),
        (litecoin, "litecoin", "p2pkh", true),
        (litecoin_p2sh, "litecoin", "p2sh", true),
    ];
    let mut invalid: Vec<String> = valid
        .iter()
        .filter(|(_, _, _, verified)| *verified)
        .map(|(a, ..)| one_off(a, a.len() - 3))
        .collect();
    // A Litecoin bech32 address checksummed for Bitcoin's HRP is no address: the HRP is
    // part of the checksum (BIP173).
    invalid.push("ltc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4".into());
    // BIP350: a v0 program encoded with bech32m is invalid; EIP-55 case flipped.
    invalid.push("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kemeawh".into());
    invalid.push("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD".into());

    let dir = tempfile::tempdir().expect("tempdir");
    let mut text = String::from("payment list\n");
    for (address, ..) in &valid {
        text.push_str(&format!("send to {address}, thanks\n"));
    }
    text.push_str(&format!("again: bitcoin:{}?amount=1\n", valid[0].0));
    let good = write(dir.path(), "payments.txt", text.as_bytes());
    let bad_text: String = invalid.iter().map(|a| format!("send to {a}\n")).collect();
    let bad = write(dir.path(), "typos.txt", bad_text.as_bytes());
    let findings = triage(Some(dir.path()), &[good.clone(), bad.clone()], &[]);
    assert!(
        for_path(&findings, &bad).is_empty(),
        "{:#?}",
        for_path(&findings, &bad)
    );
    let found = of_kind(&findings, "crypto.address");
    assert_eq!(found.len(), valid.len());
    for (address, chain, kind, verified) in &valid {
        let f = found
            .iter()
            .find(|f| f["evidence"]["address"] == address.as_str())
            .unwrap_or_else(|| panic!("{address} not found"));
        assert_eq!(f["evidence"]["chain"], *chain, "{address}");
        assert_eq!(f["evidence"]["type"], *kind, "{address}");
        assert_eq!(f["evidence"]["checksum_verified"], *verified, "{address}");
        assert_eq!(f["severity"], if *verified { "medium" } else { "low" });
        let line = text
            .lines()
            .position(|l| l.contains(address.as_str()))
            .expect("line")
            + 1;
        assert_eq!(f["evidence"]["occurrences"][0]["line"], line as u64);
        let offset = f["evidence"]["occurrences"][0]["offset"]
            .as_u64()
            .expect("offset") as usize;
        assert_eq!(&text[offset..offset + address.len()], address.as_str());
    }
    let twice = found
        .iter()
        .find(|f| f["evidence"]["address"] == valid[0].0.as_str())
        .expect("first");
    assert_eq!(twice["evidence"]["count"], 2);
}

#[test]
fn wallet_files_and_browser_history_made_by_real_tools() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    // Bitcoin Core legacy wallet: a Berkeley DB btree written by db5.3_load.
    let bdb_dir = d.join("Users/bob/AppData/Roaming/Bitcoin/wallets/savings");
    std::fs::create_dir_all(&bdb_dir).expect("mkdir");
    let mut load = std::process::Command::new("db5.3_load")
        .args(["-T", "-t", "btree"])
        .arg(bdb_dir.join("wallet.dat"))
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("db5.3_load: apt-get install -y db5.3-util");
    {
        use std::io::Write;
        let mut stdin = load.stdin.take().expect("stdin");
        stdin
            .write_all(b"version\n\\00\\01\\00\\00\nminversion\n\\a0\\8c\\00\\00\n")
            .expect("feed");
    }
    assert!(load.wait().expect("wait").success());
    // Descriptor wallet: SQLite.
    let sqlite_wallet = d.join("home/alice/.bitcoin/wallets/spend/wallet.dat");
    std::fs::create_dir_all(sqlite_wallet.parent().expect("parent")).expect("mkdir");
    run_tool(
        "sqlite3",
        &[
            &sqlite_wallet.to_string_lossy(),
            "CREATE TABLE main(key BLOB PRIMARY KEY, value BLOB); INSERT INTO main VALUES (x'01', x'02');",
        ],
        "sqlite3",
    );
    let renamed = write(d, "Users/bob/Desktop/wallet.dat", b"just some notes\n");
    let electrum = write(
        d,
        "home/alice/.electrum/wallets/default_wallet",
        b"QklFMQNcx0Z2rP5bL7kq...",
    );
    let metamask = write(
        d,
        "Users/bob/AppData/Local/Google/Chrome/User Data/Default/Local Extension Settings/nkbihfbeogaeaoehlefnkodbefgpgknn/000003.log",
        b"\x00\x01vault{\"data\":\"...\"}",
    );
    let lock = write(
        d,
        "Users/bob/AppData/Local/Google/Chrome/User Data/Default/Local Extension Settings/nkbihfbeogaeaoehlefnkodbefgpgknn/LOCK",
        b"",
    );
    // Chrome history (SQLite, as Chrome lays out its urls table) and Firefox places.
    let history = d.join("Users/bob/AppData/Local/Google/Chrome/User Data/Default/History");
    run_tool(
        "sqlite3",
        &[
            &history.to_string_lossy(),
            "CREATE TABLE urls(id INTEGER PRIMARY KEY AUTOINCREMENT, url LONGVARCHAR, title LONGVARCHAR, visit_count INTEGER DEFAULT 0 NOT NULL); \
          INSERT INTO urls(url,title) VALUES ('https://www.binance.com/en/trade/BTC_USDT','Binance'), ('https://accounts.binance.com/login','Log in'), ('https://kraken.com/','Kraken'), ('https://www.notbinance.com/','decoy'), ('https://example.org/','other');",
        ],
        "sqlite3",
    );
    let places = d.join("home/alice/.mozilla/firefox/abcd.default-release/places.sqlite");
    std::fs::create_dir_all(places.parent().expect("parent")).expect("mkdir");
    run_tool(
        "sqlite3",
        &[
            &places.to_string_lossy(),
            "CREATE TABLE moz_places(id INTEGER PRIMARY KEY, url LONGVARCHAR, title LONGVARCHAR); INSERT INTO moz_places(url,title) VALUES ('https://tornado.cash/','Tornado'), ('https://www.debian.org/','Debian');",
        ],
        "sqlite3",
    );
    let files = vec![
        bdb_dir.join("wallet.dat"),
        sqlite_wallet.clone(),
        renamed.clone(),
        electrum,
        metamask,
        lock.clone(),
        history.clone(),
        places,
    ];
    let findings = triage(Some(d), &files, &[]);
    let wallet_titles: Vec<(String, String)> = findings
        .iter()
        .filter(|f| {
            f["kind"]
                .as_str()
                .is_some_and(|k| k.starts_with("crypto.wallet"))
        })
        .map(|f| {
            (
                f["severity"].as_str().unwrap_or("").into(),
                f["title"].as_str().unwrap_or("").into(),
            )
        })
        .collect();
    let e = |s: &str, t: &str| (s.to_string(), t.to_string());
    assert_eq!(
        wallet_titles,
        vec![
            e(
                "high",
                "Cryptocurrency wallet file (bitcoin wallet, Berkeley DB)"
            ),
            e(
                "high",
                "Cryptocurrency wallet file (bitcoin wallet, SQLite (descriptor wallet))"
            ),
            e(
                "low",
                "File named wallet.dat is neither Berkeley DB nor SQLite (renamed or damaged wallet?)"
            ),
            e("high", "Cryptocurrency wallet application data: Electrum"),
            e(
                "high",
                "Wallet browser extension data store: MetaMask (Chrome)"
            ),
        ]
    );
    assert!(for_path(&findings, &lock).is_empty());
    // `file` agrees on the two database formats.
    let described = run_tool(
        "file",
        &["-b", &bdb_dir.join("wallet.dat").to_string_lossy()],
        "file",
    );
    assert!(String::from_utf8_lossy(&described.stdout).contains("Berkeley DB"));
    let described = run_tool("file", &["-b", &sqlite_wallet.to_string_lossy()], "file");
    assert!(String::from_utf8_lossy(&described.stdout).contains("SQLite 3"));

    let hits = of_kind(&findings, "crypto.history_hits");
    assert_eq!(hits.len(), 2);
    let chrome = hits
        .iter()
        .find(|f| f["path"] == history.to_string_lossy().as_ref())
        .expect("chrome");
    assert_eq!(
        chrome["title"],
        "Chromium history mentions 2 cryptocurrency exchange/wallet sites (binance.com, kraken.com)"
    );
    // sqlite3 agrees on how many stored URLs name each domain (the decoy does not count).
    let count = |domain: &str| -> u64 {
        let out = run_tool(
            "sqlite3",
            &[
                &history.to_string_lossy(),
                &format!(
                    "SELECT count(*) FROM urls WHERE url LIKE 'https://{domain}/%' OR url LIKE 'https://%.{domain}/%';"
                ),
            ],
            "sqlite3",
        );
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .unwrap_or(0)
    };
    assert_eq!(
        chrome["evidence"]["domains"]["binance.com"]["count"],
        count("binance.com")
    );
    assert_eq!(
        chrome["evidence"]["domains"]["kraken.com"]["count"],
        count("kraken.com")
    );
    let firefox = hits
        .iter()
        .find(|f| f["path"] != chrome["path"])
        .expect("firefox");
    assert_eq!(
        firefox["title"],
        "Firefox history mentions 1 cryptocurrency exchange/wallet site (tornado.cash)"
    );
}

/// A file to create: its path, its content, and the wallet finding it must give
/// (severity, title), if any.
type PathCase<'a> = (&'a str, Vec<u8>, Option<(&'a str, String)>);

#[test]
fn wallet_app_data_and_extension_stores_are_recognised_on_every_browser_and_platform() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let uuid = "4d9e2c1a-7b3f-4e8a-9c55-1f0b6d2e8a73";
    // prefs.js as Firefox writes it: the add-on ID → UUID map is a JSON object inside a
    // JavaScript string literal (quotes escaped).
    let prefs = format!(
        "// Mozilla User Preferences\n\nuser_pref(\"app.normandy.first_run\", false);\n\
         user_pref(\"extensions.webextensions.uuids\", \"{{\\\"formautofill@mozilla.org\\\":\\\"0c3b5c5e-1111-4f1e-9f0e-2d3c4b5a6978\\\",\\\"webextension@metamask.io\\\":\\\"{uuid}\\\"}}\");\n\
         user_pref(\"browser.startup.homepage_override.mstone\", \"115.0\");\n"
    );
    // (path, content, expected (severity, title) or None)
    let cases: Vec<PathCase<'_>> = vec![
        (
            "Users/bob/AppData/Roaming/Exodus/exodus.wallet/seed.seco",
            b"SECO\x00\x01".to_vec(),
            Some((
                "high",
                "Cryptocurrency wallet application data: Exodus".into(),
            )),
        ),
        (
            "home/alice/.config/Exodus/exodus.wallet/passphrase.json",
            b"{\"passphrase\":\"\"}".to_vec(),
            Some((
                "high",
                "Cryptocurrency wallet application data: Exodus".into(),
            )),
        ),
        (
            "Users/bob/AppData/Roaming/atomic/Local Storage/leveldb/000005.ldb",
            b"\x00\x01\x02".to_vec(),
            Some((
                "high",
                "Cryptocurrency wallet application data: Atomic Wallet".into(),
            )),
        ),
        (
            "Users/bob/AppData/Roaming/atomic/Local Storage/leveldb/LOCK",
            Vec::new(),
            None,
        ),
        (
            "Users/bob/AppData/Roaming/Ledger Live/app.json",
            b"{\"data\":{}}".to_vec(),
            Some((
                "high",
                "Cryptocurrency wallet application data: Ledger Live".into(),
            )),
        ),
        (
            "Users/bob/AppData/Roaming/Ledger Live/logs/live.log",
            b"started\n".to_vec(),
            None,
        ),
        (
            "home/alice/.config/@trezor/suite-desktop/IndexedDB/file__0.indexeddb.leveldb/000003.log",
            b"\x00\x01".to_vec(),
            Some((
                "high",
                "Cryptocurrency wallet application data: Trezor Suite".into(),
            )),
        ),
        (
            "home/alice/.config/@trezor/suite-desktop/Cache/data_0",
            b"\x00".to_vec(),
            None,
        ),
        (
            "home/alice/.config/BraveSoftware/Brave-Browser/Default/Local Extension Settings/bfnaelmomeimhlpmgjnjophhpkkoljpa/000003.log",
            b"\x00\x01vault".to_vec(),
            Some((
                "high",
                "Wallet browser extension data store: Phantom (Brave)".into(),
            )),
        ),
        (
            "home/alice/.config/BraveSoftware/Brave-Browser/Default/Extensions/bfnaelmomeimhlpmgjnjophhpkkoljpa/24.1.0_0/manifest.json",
            b"{\"name\":\"Phantom\"}".to_vec(),
            Some((
                "medium",
                "Wallet browser extension installed: Phantom (Brave)".into(),
            )),
        ),
        (
            "home/alice/.config/BraveSoftware/Brave-Browser/Default/Extensions/bfnaelmomeimhlpmgjnjophhpkkoljpa/24.1.0_0/background.js",
            b"console.log(1)".to_vec(),
            None,
        ),
        (
            "Users/bob/AppData/Local/Microsoft/Edge/User Data/Profile 1/IndexedDB/chrome-extension_hnfanknocfeofbddgcijnmhnfnkdnaad_0.indexeddb.leveldb/000005.ldb",
            b"\x00\x01".to_vec(),
            Some((
                "high",
                "Wallet browser extension data store: Coinbase Wallet (Edge)".into(),
            )),
        ),
        (
            "Users/bob/AppData/Local/Microsoft/Edge/User Data/Default/Local Extension Settings/ejbalbakoplchlghecdalmeeeajnimhm/000003.log",
            b"\x00\x01".to_vec(),
            Some((
                "high",
                "Wallet browser extension data store: MetaMask (Edge Add-ons) (Edge)".into(),
            )),
        ),
        (
            "home/alice/.mozilla/firefox/abcd.default-release/prefs.js",
            prefs.into_bytes(),
            Some((
                "medium",
                format!(
                    "Wallet browser extension installed: MetaMask (Firefox), its data under storage/default/moz-extension+++{uuid}"
                ),
            )),
        ),
        (
            "home/alice/.mozilla/firefox/abcd.default-release/extensions/webextension@metamask.io.xpi",
            b"PK\x03\x04".to_vec(),
            Some((
                "medium",
                "Wallet browser extension installed: MetaMask (Firefox)".into(),
            )),
        ),
    ];
    let files: Vec<std::path::PathBuf> = cases.iter().map(|(p, c, _)| write(d, p, c)).collect();
    let findings = triage(Some(d), &files, &[]);
    for ((path, _, expected), file) in cases.iter().zip(&files) {
        let wallets: Vec<(String, String)> = for_path(&findings, file)
            .iter()
            .filter(|f| {
                f["kind"]
                    .as_str()
                    .is_some_and(|k| k.starts_with("crypto.wallet"))
            })
            .map(|f| {
                (
                    f["severity"].as_str().unwrap_or("").to_string(),
                    f["title"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect();
        let want: Vec<(String, String)> = expected
            .iter()
            .map(|(s, t)| (s.to_string(), t.clone()))
            .collect();
        assert_eq!(wallets, want, "{path}");
    }
    // Where the data lives and what the path says, in the evidence.
    let coinbase = &for_path(&findings, &files[11])[0]["evidence"]["detail"];
    assert_eq!(
        coinbase,
        "extension hnfanknocfeofbddgcijnmhnfnkdnaad, store \"IndexedDB\", profile \"Profile 1\""
    );
    let firefox = &for_path(&findings, &files[13])[0]["evidence"];
    assert_eq!(firefox["addon_id"], "webextension@metamask.io");
    assert_eq!(firefox["uuid"], uuid);
    assert_eq!(
        firefox["storage"],
        format!(
            "home/alice/.mozilla/firefox/abcd.default-release/storage/default/moz-extension+++{uuid}"
        )
    );
}
