//! Cryptocurrency address recognition for text tokens, always checksum-validated:
//! Bitcoin and Litecoin base58check (P2PKH/P2SH) and bech32/bech32m segwit (v0/v1),
//! Ethereum with EIP-55 (mixed case verified; single-case accepted as unverified),
//! Monero (base58 Monero variant with Keccak-256 checksum) and Tron (base58check, 0x41).
//!
//! Owns classification of one token. It never guesses: a token whose checksum fails is
//! not an address, whatever it looks like.

use sha3::{Digest, Keccak256};

/// A recognised address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    /// "bitcoin", "litecoin", "ethereum", "monero", "tron".
    pub chain: &'static str,
    /// Address type, e.g. "p2pkh", "p2wpkh", "p2tr", "standard", "eoa".
    pub kind: &'static str,
    /// True when a checksum was verified; false only for single-case Ethereum addresses,
    /// which carry no checksum.
    pub checksum_verified: bool,
    /// A note for ambiguous cases (e.g. `3…` P2SH shared by Bitcoin and Litecoin).
    pub note: Option<&'static str>,
}

/// Classifies a token made of ASCII letters and digits.
pub fn classify(token: &str) -> Option<Address> {
    let len = token.len();
    let first = token.as_bytes().first().copied()?;
    if len == 42 && (token.starts_with("0x") || token.starts_with("0X")) {
        return ethereum(&token[2..]);
    }
    if (14..=90).contains(&len) {
        let lower = token
            .get(..4)
            .map(str::to_ascii_lowercase)
            .unwrap_or_default();
        if lower.starts_with("bc1") || lower.starts_with("ltc1") {
            return segwit(token);
        }
    }
    if (len == 95 || len == 106) && (first == b'4' || first == b'8') {
        return monero(token);
    }
    if (26..=35).contains(&len) && matches!(first, b'1' | b'3' | b'L' | b'M' | b'T') {
        return base58check(token);
    }
    None
}

fn base58check(token: &str) -> Option<Address> {
    let payload = bs58::decode(token).with_check(None).into_vec().ok()?;
    if payload.len() != 21 {
        return None;
    }
    let (chain, kind, note) = match payload[0] {
        0x00 => ("bitcoin", "p2pkh", None),
        0x05 => (
            "bitcoin",
            "p2sh",
            Some("version 0x05 P2SH is also used by legacy Litecoin addresses"),
        ),
        0x30 => ("litecoin", "p2pkh", None),
        0x32 => ("litecoin", "p2sh", None),
        0x41 => ("tron", "account", None),
        _ => return None,
    };
    Some(Address {
        chain,
        kind,
        checksum_verified: true,
        note,
    })
}

fn segwit(token: &str) -> Option<Address> {
    let (hrp, version, program) = bech32::segwit::decode(token).ok()?;
    let chain = match hrp.to_lowercase().as_str() {
        "bc" => "bitcoin",
        "ltc" => "litecoin",
        _ => return None,
    };
    let kind = match (version.to_u8(), program.len()) {
        (0, 20) => "p2wpkh",
        (0, 32) => "p2wsh",
        (1, 32) => "p2tr",
        _ => "segwit",
    };
    Some(Address {
        chain,
        kind,
        checksum_verified: true,
        note: None,
    })
}

fn ethereum(hex: &str) -> Option<Address> {
    if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let has_lower = hex.bytes().any(|b| b.is_ascii_lowercase());
    let has_upper = hex.bytes().any(|b| b.is_ascii_uppercase());
    if has_lower && has_upper {
        if !eip55_valid(hex) {
            return None;
        }
        return Some(Address {
            chain: "ethereum",
            kind: "account",
            checksum_verified: true,
            note: None,
        });
    }
    Some(Address {
        chain: "ethereum",
        kind: "account",
        checksum_verified: false,
        note: Some("single-case hex carries no EIP-55 checksum: format only"),
    })
}

/// EIP-55: a letter is upper-case exactly when the matching nibble of
/// keccak256(lower-case hex) is 8 or more.
pub fn eip55_valid(hex: &str) -> bool {
    let lower = hex.to_ascii_lowercase();
    let hash = Keccak256::digest(lower.as_bytes());
    hex.bytes().enumerate().all(|(i, c)| {
        let nibble = if i % 2 == 0 {
            hash[i / 2] >> 4
        } else {
            hash[i / 2] & 0x0f
        };
        if c.is_ascii_digit() {
            true
        } else if nibble >= 8 {
            c.is_ascii_uppercase()
        } else {
            c.is_ascii_lowercase()
        }
    })
}

const BASE58_ALPHABET: &[u8; 58] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
/// Monero base58 encodes 8-byte blocks as 11 characters; a shorter final block of n
/// bytes takes ENCODED_BLOCK_SIZES[n] characters.
const ENCODED_BLOCK_SIZES: [usize; 9] = [0, 2, 3, 5, 6, 7, 9, 10, 11];

fn monero_decode(token: &str) -> Option<Vec<u8>> {
    let bytes = token.as_bytes();
    let mut out = Vec::with_capacity(bytes.len() / 11 * 8 + 8);
    for block in bytes.chunks(11) {
        let decoded_len = ENCODED_BLOCK_SIZES.iter().position(|&n| n == block.len())?;
        let mut value: u128 = 0;
        for &c in block {
            let digit = BASE58_ALPHABET.iter().position(|&a| a == c)? as u128;
            value = value * 58 + digit;
        }
        if decoded_len < 8 && value >> (decoded_len * 8) != 0 {
            return None;
        }
        if value > u128::from(u64::MAX) {
            return None;
        }
        let be = (value as u64).to_be_bytes();
        out.extend_from_slice(&be[8 - decoded_len..]);
    }
    Some(out)
}

fn monero(token: &str) -> Option<Address> {
    let data = monero_decode(token)?;
    if data.len() < 5 {
        return None;
    }
    let (body, checksum) = data.split_at(data.len() - 4);
    if Keccak256::digest(body)[..4] != *checksum {
        return None;
    }
    let kind = match (body[0], body.len()) {
        (18, 65) => "standard",
        (42, 65) => "subaddress",
        (19, 73) => "integrated",
        _ => return None,
    };
    Some(Address {
        chain: "monero",
        kind,
        checksum_verified: true,
        note: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn monero_block_decoding_round_trips_known_sizes() {
        // "11" decodes to one zero byte; a 2-char block cannot exceed one byte.
        assert_eq!(monero_decode("11"), Some(vec![0]));
        assert_eq!(monero_decode("zz"), None);
    }

    #[test]
    fn junk_is_not_an_address() {
        assert_eq!(classify("hello"), None);
        assert_eq!(classify("1111111111111111111111111111"), None);
        assert_eq!(
            classify("0xZZ2908400098527886E0F7030069857D2E4169EE7"),
            None
        );
    }
}
