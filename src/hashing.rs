//! Hash algorithms and the multi-hasher every byte read goes through.
//!
//! Owns the algorithm names as they appear in flags, manifests and files.jsonl, and the
//! incremental hashing of a byte stream with all requested algorithms at once. SHA-256 is
//! always computed (it names members and backs SHA256SUMS); MD5 and SHA-1 only on request.
//! Never hashes anything twice for one read.

use std::fmt;
use std::str::FromStr;

use md5::Md5;
use sha1::Sha1;
use sha2::{Digest, Sha256};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Alg {
    Md5,
    Sha1,
    Sha256,
}

impl Alg {
    pub fn name(self) -> &'static str {
        match self {
            Alg::Md5 => "md5",
            Alg::Sha1 => "sha1",
            Alg::Sha256 => "sha256",
        }
    }
}

impl fmt::Display for Alg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Alg {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().replace('-', "").as_str() {
            "md5" => Ok(Alg::Md5),
            "sha1" => Ok(Alg::Sha1),
            "sha256" => Ok(Alg::Sha256),
            other => Err(format!(
                "unknown hash algorithm {other:?} (supported: sha256, sha1, md5)"
            )),
        }
    }
}

/// Which algorithms to compute besides the mandatory SHA-256.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AlgSet {
    pub md5: bool,
    pub sha1: bool,
}

impl AlgSet {
    /// Parse a comma-separated list such as `sha256,md5`; SHA-256 is implied.
    pub fn parse(list: &str) -> Result<Self, String> {
        let mut set = AlgSet::default();
        for part in list.split(',').filter(|p| !p.trim().is_empty()) {
            match part.parse::<Alg>()? {
                Alg::Md5 => set.md5 = true,
                Alg::Sha1 => set.sha1 = true,
                Alg::Sha256 => {}
            }
        }
        Ok(set)
    }

    /// The algorithms in the order records list them.
    pub fn algorithms(self) -> Vec<Alg> {
        let mut v = vec![Alg::Sha256];
        if self.sha1 {
            v.push(Alg::Sha1);
        }
        if self.md5 {
            v.push(Alg::Md5);
        }
        v
    }

    pub fn union(self, other: AlgSet) -> AlgSet {
        AlgSet {
            md5: self.md5 || other.md5,
            sha1: self.sha1 || other.sha1,
        }
    }
}

/// Digests of one byte stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Digests {
    pub sha256: [u8; 32],
    pub sha1: Option<[u8; 20]>,
    pub md5: Option<[u8; 16]>,
}

/// Incremental hashing with every requested algorithm.
#[derive(Clone)]
pub struct MultiHasher {
    sha256: Sha256,
    sha1: Option<Sha1>,
    md5: Option<Md5>,
    bytes: u64,
}

impl MultiHasher {
    pub fn new(algs: AlgSet) -> Self {
        MultiHasher {
            sha256: Sha256::new(),
            sha1: algs.sha1.then(Sha1::new),
            md5: algs.md5.then(Md5::new),
            bytes: 0,
        }
    }

    pub fn update(&mut self, data: &[u8]) {
        self.sha256.update(data);
        if let Some(h) = self.sha1.as_mut() {
            h.update(data);
        }
        if let Some(h) = self.md5.as_mut() {
            h.update(data);
        }
        self.bytes += data.len() as u64;
    }

    /// Bytes hashed so far.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    pub fn finish(self) -> Digests {
        Digests {
            sha256: self.sha256.finalize().into(),
            sha1: self.sha1.map(|h| h.finalize().into()),
            md5: self.md5.map(|h| h.finalize().into()),
        }
    }
}

/// SHA-256 of a byte slice.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

/// Parse hex (either case) into exactly `N` bytes.
pub fn parse_hex<const N: usize>(s: &str) -> Option<[u8; N]> {
    let s = s.as_bytes();
    if s.len() != N * 2 {
        return None;
    }
    let mut out = [0u8; N];
    for (i, pair) in s.chunks_exact(2).enumerate() {
        let hi = (pair[0] as char).to_digit(16)?;
        let lo = (pair[1] as char).to_digit(16)?;
        out[i] = (hi * 16 + lo) as u8;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vectors_for_every_algorithm() {
        let mut h = MultiHasher::new(AlgSet {
            md5: true,
            sha1: true,
        });
        h.update(b"ab");
        h.update(b"c");
        let d = h.finish();
        assert_eq!(
            hex(&d.sha256),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            hex(&d.sha1.unwrap()),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
        assert_eq!(hex(&d.md5.unwrap()), "900150983cd24fb0d6963f7d28e17f72");
    }

    #[test]
    fn alg_list_parsing_implies_sha256_and_rejects_unknown() {
        assert_eq!(
            AlgSet::parse("sha256,md5").unwrap().algorithms(),
            vec![Alg::Sha256, Alg::Md5]
        );
        assert_eq!(
            AlgSet::parse("SHA-1").unwrap().algorithms(),
            vec![Alg::Sha256, Alg::Sha1]
        );
        assert!(AlgSet::parse("crc32").unwrap_err().contains("crc32"));
    }

    #[test]
    fn hex_round_trip_and_bad_input() {
        let b = [0u8, 1, 0xab, 0xff];
        assert_eq!(parse_hex::<4>(&hex(&b)), Some(b));
        assert_eq!(parse_hex::<4>("00ABFF"), None);
        assert_eq!(parse_hex::<2>("zz00"), None);
    }
}
