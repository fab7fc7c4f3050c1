//! The curated lists the analyzers match against: imports of note, packer marks, unusual
//! locations, wallet application paths and extension IDs, exchange and wallet domains.
//!
//! Owns data only, so docs/triage.md can be checked against one place. Every entry says
//! where it comes from in docs/triage.md; nothing here is matched against by extension
//! alone where the content can say more.

/// Windows API imports whose presence is worth an examiner's attention, by category.
/// Names are matched exactly, and also with an `A`/`W` suffix removed or a `Nt`/`Zw`
/// prefix swapped, so `SetWindowsHookExW` and `ZwUnmapViewOfSection` match.
pub const IMPORTS_OF_NOTE: &[(&str, &[&str])] = &[
    (
        "process_injection",
        &[
            "VirtualAllocEx",
            "VirtualProtectEx",
            "WriteProcessMemory",
            "CreateRemoteThread",
            "CreateRemoteThreadEx",
            "NtUnmapViewOfSection",
            "ZwUnmapViewOfSection",
            "NtWriteVirtualMemory",
            "NtCreateThreadEx",
            "RtlCreateUserThread",
            "QueueUserAPC",
            "NtQueueApcThread",
            "SetThreadContext",
            "Wow64SetThreadContext",
        ],
    ),
    (
        "keylogging",
        &[
            "SetWindowsHookExA",
            "SetWindowsHookExW",
            "GetAsyncKeyState",
            "GetKeyboardState",
            "RegisterRawInputDevices",
        ],
    ),
    (
        "credential_access",
        &[
            "CredEnumerateA",
            "CredEnumerateW",
            "CredReadA",
            "CredReadW",
            "LsaRetrievePrivateData",
            "LsaEnumerateLogonSessions",
            "MiniDumpWriteDump",
            "CryptUnprotectData",
            "SamConnect",
            "SamQueryInformationUser",
        ],
    ),
];

/// Section names left by known packers/protectors (exact, case-sensitive as written by
/// the tools).
pub const PACKER_SECTIONS: &[(&str, &str)] = &[
    ("UPX0", "UPX"),
    ("UPX1", "UPX"),
    ("UPX2", "UPX"),
    ("UPX!", "UPX"),
    (".aspack", "ASPack"),
    (".adata", "ASPack"),
    (".MPRESS1", "MPRESS"),
    (".MPRESS2", "MPRESS"),
    (".petite", "Petite"),
    ("pec1", "PECompact"),
    ("PEC2", "PECompact"),
    (".nsp0", "NsPack"),
    (".nsp1", "NsPack"),
    (".nsp2", "NsPack"),
    (".themida", "Themida"),
    (".winlice", "WinLicense"),
    (".vmp0", "VMProtect"),
    (".vmp1", "VMProtect"),
    (".vmp2", "VMProtect"),
    (".enigma1", "Enigma Protector"),
    (".enigma2", "Enigma Protector"),
    ("MEW", "MEW"),
    (".packed", "generic packer"),
];

/// Byte markers packers leave in the first 64 KiB of a file.
pub const PACKER_MAGICS: &[(&[u8], &str)] = &[(b"UPX!", "UPX"), (b"$Id: UPX", "UPX")];

/// Entropy (bits per byte) above which an executable section counts as compressed or
/// encrypted (plain machine code is typically 5.5–6.8).
pub const HIGH_SECTION_ENTROPY: f64 = 7.2;

/// Places where executables are unusual, as lower-case path-component sequences matched
/// anywhere in the source path, with the severity reason shown to the reader.
pub const UNUSUAL_PLACES: &[(&[&str], &str)] = &[
    (&["dev", "shm"], "shared-memory tmpfs (/dev/shm)"),
    (&["tmp"], "temporary directory"),
    (&["temp"], "temporary directory"),
    (&["$recycle.bin"], "Windows recycle bin"),
    (&["recycler"], "Windows recycle bin (XP)"),
    (&[".trash"], "trash folder"),
    (&["downloads"], "Downloads folder"),
    (&["appdata"], "user AppData"),
    (&["users", "public"], "Windows public user folder"),
];

/// Files or folders whose presence in a folder marks it as part of a build tree (make,
/// CMake, Ninja, Meson, autotools, Cargo, npm, Go, Python, a git checkout). Looked up by
/// name with `lstat` in the folders between an unusual place and an executable, only for
/// files on the collecting machine itself (docs/triage.md, "Build trees").
pub const BUILD_TREE_MARKERS: &[&str] = &[
    "Makefile",
    "makefile",
    "GNUmakefile",
    "CMakeCache.txt",
    "CMakeLists.txt",
    "build.ninja",
    "meson.build",
    "configure",
    "config.status",
    "Cargo.toml",
    "package.json",
    "go.mod",
    "pyproject.toml",
    "setup.py",
    ".git",
];

/// Path components (lower case) that only build tools create: found in the path itself,
/// so they work for images too. `target` counts only followed by `debug` or `release`,
/// directly or after a target triple (Cargo's layout).
pub const BUILD_TREE_COMPONENTS: &[&str] = &["cmakefiles", "node_modules", ".libs", ".deps"];

/// ELF sections that make a relocatable object a Linux kernel module (loadable code,
/// unlike an ordinary `.o`).
pub const KERNEL_MODULE_SECTIONS: &[&str] = &[".modinfo", ".gnu.linkonce.this_module"];

/// Extensions of documents and media: an executable carrying one of these is disguised.
pub const NON_EXECUTABLE_EXTENSIONS: &[&str] = &[
    "jpg", "jpeg", "png", "gif", "bmp", "tif", "tiff", "webp", "ico", "heic", "svg", "pdf", "doc",
    "docx", "xls", "xlsx", "ppt", "pptx", "odt", "ods", "rtf", "txt", "csv", "log", "mp3", "wav",
    "flac", "mp4", "avi", "mkv", "mov", "wmv", "zip", "rar", "7z", "gz", "iso", "htm", "html",
    "xml", "json",
];

/// Chromium-family browser extension IDs of wallet extensions (Chrome Web Store and Edge
/// Add-ons IDs; sources in docs/triage.md).
pub const WALLET_EXTENSION_IDS: &[(&str, &str)] = &[
    ("nkbihfbeogaeaoehlefnkodbefgpgknn", "MetaMask"),
    (
        "ejbalbakoplchlghecdalmeeeajnimhm",
        "MetaMask (Edge Add-ons)",
    ),
    ("bfnaelmomeimhlpmgjnjophhpkkoljpa", "Phantom"),
    ("hnfanknocfeofbddgcijnmhnfnkdnaad", "Coinbase Wallet"),
    ("egjidjbpglichdcondbcbdnbeeppgdph", "Trust Wallet"),
    ("ibnejdfjmmkpcnlpebklmnkoeoihofec", "TronLink"),
];

/// Firefox add-on IDs of wallet extensions (the `id` in their manifest); Firefox stores the
/// extension as `extensions/<id>.xpi` in the profile.
pub const WALLET_FIREFOX_IDS: &[(&str, &str)] = &[("webextension@metamask.io", "MetaMask")];

/// Desktop wallet applications recognised by a path-component sequence (lower-case).
pub const WALLET_APP_DIRS: &[(&[&str], &str)] = &[
    (&["electrum", "wallets"], "Electrum"),
    (&[".electrum", "wallets"], "Electrum"),
    (&["electrum-ltc", "wallets"], "Electrum-LTC"),
    (&[".electrum-ltc", "wallets"], "Electrum-LTC"),
    (&["exodus", "exodus.wallet"], "Exodus"),
    (&["atomic", "local storage", "leveldb"], "Atomic Wallet"),
    (&["ledger live"], "Ledger Live"),
    (&["@trezor", "suite-desktop"], "Trezor Suite"),
    (&["monero", "wallets"], "Monero GUI"),
    (&["wasabi", "client", "wallets"], "Wasabi Wallet"),
];

/// Domains of exchanges, wallets and mixers looked for in browser history files. A hit
/// needs a non-label character (or a dot for subdomains) before and after the name.
pub const ASSET_DOMAINS: &[&str] = &[
    "binance.com",
    "coinbase.com",
    "kraken.com",
    "bitstamp.net",
    "bitfinex.com",
    "kucoin.com",
    "okx.com",
    "bybit.com",
    "huobi.com",
    "htx.com",
    "gate.io",
    "crypto.com",
    "gemini.com",
    "bitpanda.com",
    "bitvavo.com",
    "localbitcoins.com",
    "localmonero.co",
    "bisq.network",
    "hodlhodl.com",
    "paxful.com",
    "changenow.io",
    "changelly.com",
    "fixedfloat.com",
    "simpleswap.io",
    "sideshift.ai",
    "tornado.cash",
    "wasabiwallet.io",
    "samouraiwallet.com",
    "metamask.io",
    "phantom.app",
    "trustwallet.com",
    "exodus.com",
    "electrum.org",
    "ledger.com",
    "trezor.io",
    "blockchain.com",
    "blockchair.com",
    "etherscan.io",
    "tronscan.org",
    "mempool.space",
    "getmonero.org",
    "uniswap.org",
    "pancakeswap.finance",
    "opensea.io",
];
