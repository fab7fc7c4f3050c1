//! ChaCha20-Poly1305 (RFC 8439) of one buffer, non-generic: fieldkit's age code
//! (`src/bundle/age.rs`) calls these for every 64 KiB chunk. A crate of its own only so
//! that the cipher's generic code is instantiated — and optimised — here: compiled in
//! fieldkit's own unoptimised debug profile it ran at ~8 MB/s, which made the tests of
//! encrypted bundles take minutes. Never does anything but seal and open.

use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};

/// Encrypt and authenticate `plain` (no associated data); `None` only if the cipher
/// refuses the length (over 256 GiB).
pub fn seal(key: &[u8; 32], nonce: &[u8; 12], plain: &[u8]) -> Option<Vec<u8>> {
    ChaCha20Poly1305::new(Key::from_slice(key))
        .encrypt(Nonce::from_slice(nonce), plain)
        .ok()
}

/// Authenticate and decrypt `sealed`; `None` when the tag does not match.
pub fn open(key: &[u8; 32], nonce: &[u8; 12], sealed: &[u8]) -> Option<Vec<u8>> {
    ChaCha20Poly1305::new(Key::from_slice(key))
        .decrypt(Nonce::from_slice(nonce), sealed)
        .ok()
}
