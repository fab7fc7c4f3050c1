//! The file allocation table: cluster numbers to volume byte offsets, and cluster chains
//! followed with bounds. Shared by FAT12/16/32 and exFAT (whose FAT has the same job
//! for files without NoFatChain; only the entry width and marker values differ).
//!
//! Owns reading FAT entries (a 4 KiB block at a time, cached per walk so a chain costs
//! one read per block, with no lock shared between workers) and turning a chain into
//! runs of adjacent clusters. Must never follow an entry past the FAT, a cluster outside
//! the data area, a free or bad cluster, or a chain that revisits a cluster: each is an
//! `FsError` naming the FAT entry's volume offset, for that file only.

use crate::source::image::fs::FsError;
use crate::source::image::fs::ondisk::{le16, le32};
use crate::source::image::media::ReadAt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Width {
    Fat12,
    Fat16,
    Fat32,
    ExFat,
}

/// A run of `count` adjacent clusters starting at cluster `first`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Run {
    pub first: u32,
    pub count: u32,
}

pub(crate) struct Table {
    /// Volume byte offset of the FAT in use and its length in bytes.
    pub offset: u64,
    pub bytes: u64,
    pub width: Width,
    /// Volume byte offset of cluster 2 and the cluster size.
    pub heap: u64,
    pub cluster_size: u64,
    /// Number of data clusters: valid cluster numbers are `2 ..= count + 1`.
    pub count: u32,
}

const BLOCK: u64 = 4096;

/// One walk's cache of the FAT block it last read (chains are mostly sequential).
pub(crate) struct Cache {
    at: u64,
    len: usize,
    buf: Vec<u8>,
}

impl Cache {
    pub(crate) fn new() -> Self {
        Cache {
            at: u64::MAX,
            len: 0,
            buf: vec![0u8; BLOCK as usize],
        }
    }
}

enum Next {
    Cluster(u32),
    End,
}

impl Table {
    pub(crate) fn valid(&self, cluster: u32) -> bool {
        cluster >= 2 && u64::from(cluster) <= u64::from(self.count) + 1
    }

    /// Volume byte offset of a (valid) cluster.
    pub(crate) fn cluster_offset(&self, cluster: u32) -> u64 {
        self.heap + u64::from(cluster.saturating_sub(2)) * self.cluster_size
    }

    /// Volume byte offset of the FAT entry for `cluster`.
    pub(crate) fn entry_offset(&self, cluster: u32) -> u64 {
        let c = u64::from(cluster);
        self.offset
            + match self.width {
                Width::Fat12 => c + c / 2,
                Width::Fat16 => c * 2,
                Width::Fat32 | Width::ExFat => c * 4,
            }
    }

    fn entry(&self, vol: &dyn ReadAt, cluster: u32, cache: &mut Cache) -> Result<u32, FsError> {
        let at = self.entry_offset(cluster);
        let width = match self.width {
            Width::Fat12 | Width::Fat16 => 2,
            Width::Fat32 | Width::ExFat => 4,
        };
        if at + width > self.offset + self.bytes {
            return Err(FsError::new(
                "cluster_out_of_range",
                Some(at),
                format!(
                    "cluster {cluster} has no entry in the FAT (it ends at {})",
                    self.offset + self.bytes
                ),
            ));
        }
        let block = at - at % BLOCK;
        let within = (at - block) as usize;
        let raw = if within + width as usize <= BLOCK as usize {
            if cache.at != block {
                let want = (self.offset + self.bytes - block).min(BLOCK) as usize;
                let got = read_full(vol, block, &mut cache.buf[..want])?;
                cache.at = block;
                cache.len = got;
            }
            if within + width as usize > cache.len {
                return Err(FsError::new(
                    "truncated",
                    Some(at),
                    format!("the volume ends inside the FAT entry of cluster {cluster}"),
                ));
            }
            let b = &cache.buf[within..within + width as usize];
            if width == 2 {
                u32::from(le16(b, 0))
            } else {
                le32(b, 0)
            }
        } else {
            // A FAT12 entry straddling a block boundary.
            let mut b = [0u8; 2];
            vol.read_exact_at(at, &mut b)
                .map_err(|e| FsError::io(at, &e))?;
            u32::from(le16(&b, 0))
        };
        Ok(match self.width {
            Width::Fat12 => {
                if cluster % 2 == 1 {
                    raw >> 4
                } else {
                    raw & 0x0FFF
                }
            }
            Width::Fat16 => raw,
            Width::Fat32 => raw & 0x0FFF_FFFF,
            Width::ExFat => raw,
        })
    }

    fn next(&self, vol: &dyn ReadAt, cluster: u32, cache: &mut Cache) -> Result<Next, FsError> {
        let v = self.entry(vol, cluster, cache)?;
        let (bad, eoc) = match self.width {
            Width::Fat12 => (0xFF7, 0xFF8),
            Width::Fat16 => (0xFFF7, 0xFFF8),
            Width::Fat32 => (0x0FFF_FFF7, 0x0FFF_FFF8),
            Width::ExFat => (0xFFFF_FFF7, 0xFFFF_FFF8),
        };
        let at = Some(self.entry_offset(cluster));
        if v >= eoc {
            Ok(Next::End)
        } else if v == bad {
            Err(FsError::new(
                "bad_cluster",
                at,
                format!("the chain reaches cluster {cluster}, whose successor is marked bad"),
            ))
        } else if v == 0 {
            Err(FsError::new(
                "chain_broken",
                at,
                format!("the chain reaches cluster {cluster}, which the FAT says is free"),
            ))
        } else if !self.valid(v) {
            Err(FsError::new(
                "cluster_out_of_range",
                at,
                format!(
                    "cluster {cluster} links to cluster {v}, past the {} clusters of the volume",
                    self.count
                ),
            ))
        } else {
            Ok(Next::Cluster(v))
        }
    }

    /// Follow the chain from `first` for at most `max` clusters. Returns the runs and
    /// whether the chain ended (an end-of-chain mark) within them. The entry after the
    /// `max`-th cluster is not read: a file needs only as many clusters as its size.
    pub(crate) fn chain(
        &self,
        vol: &dyn ReadAt,
        first: u32,
        max: u64,
    ) -> Result<(Vec<Run>, bool), FsError> {
        if !self.valid(first) {
            return Err(FsError::new(
                "cluster_out_of_range",
                None,
                format!(
                    "first cluster {first} is outside the volume's clusters 2..={}",
                    u64::from(self.count) + 1
                ),
            ));
        }
        let mut cache = Cache::new();
        let mut runs: Vec<Run> = vec![Run { first, count: 1 }];
        let mut cur = first;
        let mut taken = 1u64;
        let mut ended = false;
        while taken < max {
            match self.next(vol, cur, &mut cache)? {
                Next::End => {
                    ended = true;
                    break;
                }
                Next::Cluster(n) => {
                    let last = runs.last_mut();
                    match last {
                        Some(r) if u64::from(r.first) + u64::from(r.count) == u64::from(n) => {
                            r.count += 1
                        }
                        _ => runs.push(Run { first: n, count: 1 }),
                    }
                    cur = n;
                    taken += 1;
                }
            }
        }
        self.check_no_revisit(&runs)?;
        Ok((runs, ended))
    }

    /// A chain that revisits a cluster loops (or two parts of one file share clusters):
    /// sorted runs must not overlap. Checked once per chain, O(runs log runs), so the
    /// walk itself needs no per-cluster set.
    fn check_no_revisit(&self, runs: &[Run]) -> Result<(), FsError> {
        let mut sorted: Vec<Run> = runs.to_vec();
        sorted.sort_by_key(|r| r.first);
        for w in sorted.windows(2) {
            if u64::from(w[0].first) + u64::from(w[0].count) > u64::from(w[1].first) {
                let c = w[1].first;
                return Err(FsError::new(
                    "cluster_loop",
                    Some(self.entry_offset(c)),
                    format!("the cluster chain visits cluster {c} twice (a loop in the FAT)"),
                ));
            }
        }
        Ok(())
    }
}

/// Read as much of `buf` as the volume holds from `at`; the count read.
pub(crate) fn read_full(vol: &dyn ReadAt, at: u64, buf: &mut [u8]) -> Result<usize, FsError> {
    let mut done = 0;
    while done < buf.len() {
        match vol.read_at(at + done as u64, &mut buf[done..]) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(FsError::io(at + done as u64, &e)),
        }
    }
    Ok(done)
}

/// Directory pieces split into reads of at most 64 KiB (a multiple of the 32-byte
/// entry), so a directory that claims to be huge costs memory only as it is read.
pub(crate) fn chunked(pieces: &[(u64, u64)]) -> impl Iterator<Item = (u64, u64)> + '_ {
    const CHUNK: u64 = 64 * 1024;
    pieces.iter().flat_map(|&(at, len)| {
        (0..len.div_ceil(CHUNK)).map(move |i| (at + i * CHUNK, (len - i * CHUNK).min(CHUNK)))
    })
}
