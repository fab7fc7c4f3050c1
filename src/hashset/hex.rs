//! Hex digits to digest bytes and back, for the hot path of reading tens of millions of
//! hash lines. Accepts either case; never allocates when decoding.

const INVALID: u8 = 0xFF;

const fn nibble_table() -> [u8; 256] {
    let mut table = [INVALID; 256];
    let mut i = 0;
    while i < 10 {
        table[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        table[b'a' as usize + i] = 10 + i as u8;
        table[b'A' as usize + i] = 10 + i as u8;
        i += 1;
    }
    table
}

static NIBBLE: [u8; 256] = nibble_table();

/// Decode `hex` into `out`; false (and `out` unspecified) unless `hex` is exactly
/// `2 * out.len()` hex digits.
pub fn decode_into(hex: &[u8], out: &mut [u8]) -> bool {
    if hex.len() != out.len() * 2 {
        return false;
    }
    let mut bad = 0u8;
    for (byte, pair) in out.iter_mut().zip(hex.chunks_exact(2)) {
        let hi = NIBBLE[pair[0] as usize];
        let lo = NIBBLE[pair[1] as usize];
        // One branch per digest instead of one per digit: INVALID has its high bit set.
        bad |= hi | lo;
        *byte = (hi << 4) | (lo & 0x0F);
    }
    bad & 0x80 == 0
}

/// Decode a digest of exactly `N` bytes.
pub fn decode<const N: usize>(hex: &[u8]) -> Option<[u8; N]> {
    let mut out = [0u8; N];
    decode_into(hex, &mut out).then_some(out)
}

/// Lowercase hex into `out` (at least twice as long as `bytes`); the written part.
pub fn encode_into<'o>(bytes: &[u8], out: &'o mut [u8]) -> &'o [u8] {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for (pair, &b) in out.chunks_exact_mut(2).zip(bytes) {
        pair[0] = DIGITS[usize::from(b >> 4)];
        pair[1] = DIGITS[usize::from(b & 0x0F)];
    }
    &out[..bytes.len() * 2]
}

/// Lowercase hex.
pub fn encode(bytes: &[u8]) -> String {
    let mut out = vec![0u8; bytes.len() * 2];
    encode_into(bytes, &mut out);
    // Only ASCII hex digits were written.
    String::from_utf8(out).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_both_cases_and_rejects_non_hex() {
        assert_eq!(decode::<2>(b"aB0f"), Some([0xAB, 0x0F]));
        assert_eq!(decode::<2>(b"ab0g"), None);
        assert_eq!(decode::<2>(b"ab0"), None);
        assert_eq!(decode::<2>(b"ab0f0"), None);
        assert_eq!(encode(&[0xAB, 0x0F]), "ab0f");
    }
}
