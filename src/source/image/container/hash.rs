//! Hashing a container's whole media — MD5, SHA-1 and SHA-256 in one sequential pass —
//! and comparing the result with the hashes the container stores (EWF's MD5/SHA-1), for
//! `image info --verify` and `collect --hash-image`.
//!
//! The pass reads through the same checked decoders as everything else (a damaged EWF
//! chunk stops it with the chunk's error), in 4 MiB pieces on a reader thread while the
//! caller's thread hashes, so decompression and hashing overlap on two cores.
//!
//! Must never: report a match for bytes it could not read, or compare a hash the
//! container does not store (that is "not stored", never "matches").

use std::io;
use std::sync::Arc;
use std::sync::mpsc;

use serde::Serialize;

use super::StoredHashes;
use crate::hashing::{AlgSet, MultiHasher, hex};
use crate::source::image::media::ReadAt;

const PIECE: usize = 4 << 20;

/// The three digests of the whole media, lower-case hex.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MediaDigests {
    pub bytes: u64,
    pub md5: String,
    pub sha1: String,
    pub sha256: String,
}

/// One stored hash checked against the computed one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HashCheck {
    pub algorithm: &'static str,
    pub stored: String,
    pub computed: String,
    pub matches: bool,
}

/// Hash every byte of `media` in order; `progress` gets the bytes done so far after each
/// piece. An error names the offset the media failed at.
pub fn hash_media(
    media: Arc<dyn ReadAt>,
    mut progress: impl FnMut(u64),
) -> io::Result<MediaDigests> {
    let size = media.size();
    let (tx, rx) = mpsc::sync_channel::<io::Result<Vec<u8>>>(2);
    let reader = std::thread::spawn(move || {
        let mut offset = 0u64;
        while offset < size {
            let len = (size - offset).min(PIECE as u64) as usize;
            let mut piece = vec![0u8; len];
            let result = media.read_exact_at(offset, &mut piece).map(|()| piece);
            let failed = result.is_err();
            if tx.send(result).is_err() || failed {
                return;
            }
            offset += len as u64;
        }
    });
    let mut hasher = MultiHasher::new(AlgSet {
        md5: true,
        sha1: true,
    });
    let mut failure = None;
    for piece in rx {
        match piece {
            Ok(p) => {
                hasher.update(&p);
                progress(hasher.bytes());
            }
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
    }
    // The reader ends by itself once the channel is dropped or the media is read.
    let _ = reader.join();
    if let Some(e) = failure {
        return Err(e);
    }
    if hasher.bytes() != size {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!(
                "the media ended after {} of its {size} bytes",
                hasher.bytes()
            ),
        ));
    }
    let bytes = hasher.bytes();
    let d = hasher.finish();
    Ok(MediaDigests {
        bytes,
        md5: d.md5.map(|h| hex(&h)).unwrap_or_default(),
        sha1: d.sha1.map(|h| hex(&h)).unwrap_or_default(),
        sha256: hex(&d.sha256),
    })
}

/// Each hash the container stores, against the computed one (empty: nothing stored).
pub fn compare(stored: &StoredHashes, computed: &MediaDigests) -> Vec<HashCheck> {
    let mut checks = Vec::new();
    for (algorithm, stored, computed) in [
        ("md5", &stored.md5, &computed.md5),
        ("sha1", &stored.sha1, &computed.sha1),
    ] {
        if let Some(s) = stored {
            checks.push(HashCheck {
                algorithm,
                stored: s.clone(),
                computed: computed.clone(),
                matches: s.eq_ignore_ascii_case(computed),
            });
        }
    }
    checks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_are_those_of_the_bytes_and_compare_only_what_is_stored() {
        let data: Vec<u8> = (0..10_000_000u32).map(|i| (i % 253) as u8).collect();
        let media: Arc<dyn ReadAt> = Arc::new(data.clone());
        let mut calls = 0;
        let d = hash_media(media, |_| calls += 1).unwrap();
        assert_eq!(calls, 3);
        assert_eq!(d.sha256, hex(&crate::hashing::sha256(&data)));
        let stored = StoredHashes {
            md5: Some(d.md5.to_uppercase()),
            sha1: None,
        };
        let checks = compare(&stored, &d);
        assert_eq!(checks.len(), 1);
        assert!(checks[0].matches);
        let wrong = StoredHashes {
            md5: None,
            sha1: Some("00".repeat(20)),
        };
        assert!(!compare(&wrong, &d)[0].matches);
    }
}
