//! Byte statistics for triage: histograms, Shannon entropy and chi-square against the
//! uniform distribution, and evenly spaced block sampling over a stream.
//!
//! Owns only arithmetic on bytes handed to it; it never reads files and keeps a fixed
//! amount of memory (a 256-bin histogram, a list of sample positions).

/// Counts of each byte value.
#[derive(Clone)]
pub struct ByteHistogram {
    counts: [u64; 256],
    total: u64,
}

impl Default for ByteHistogram {
    fn default() -> Self {
        ByteHistogram {
            counts: [0; 256],
            total: 0,
        }
    }
}

impl std::fmt::Debug for ByteHistogram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ByteHistogram(total={})", self.total)
    }
}

impl ByteHistogram {
    pub fn add(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.counts[b as usize] += 1;
        }
        self.total += bytes.len() as u64;
    }

    pub fn merge(&mut self, other: &ByteHistogram) {
        for (mine, theirs) in self.counts.iter_mut().zip(other.counts.iter()) {
            *mine += theirs;
        }
        self.total += other.total;
    }

    pub fn total(&self) -> u64 {
        self.total
    }

    /// Shannon entropy in bits per byte (0 for no data; 8 is the maximum).
    pub fn shannon(&self) -> f64 {
        if self.total == 0 {
            return 0.0;
        }
        let total = self.total as f64;
        self.counts
            .iter()
            .filter(|&&c| c > 0)
            .map(|&c| {
                let p = c as f64 / total;
                -p * p.log2()
            })
            .sum::<f64>()
            // A single byte value gives -0.0; entropy is never negative.
            .abs()
    }

    /// Pearson's chi-square statistic against a uniform byte distribution (255 degrees
    /// of freedom: about 255 ± 23 for random data, far higher for anything structured).
    pub fn chi_square(&self) -> f64 {
        if self.total == 0 {
            return 0.0;
        }
        let expected = self.total as f64 / 256.0;
        self.counts
            .iter()
            .map(|&c| {
                let d = c as f64 - expected;
                d * d / expected
            })
            .sum()
    }
}

/// Shannon entropy of a byte slice.
pub fn shannon(bytes: &[u8]) -> f64 {
    let mut h = ByteHistogram::default();
    h.add(bytes);
    h.shannon()
}

/// Picks `count` blocks of `block_len` bytes evenly spaced over a file of `size` bytes and
/// accumulates their bytes as the stream passes by; per-block entropies are kept too.
#[derive(Debug)]
pub struct BlockSampler {
    starts: Vec<u64>,
    block_len: u64,
    /// Index of the first block not yet completely seen.
    next: usize,
    current: ByteHistogram,
    pub overall: ByteHistogram,
    pub block_entropies: Vec<f64>,
    offset: u64,
}

impl BlockSampler {
    pub fn new(size: u64, block_len: u64, count: usize) -> BlockSampler {
        let mut starts = Vec::new();
        if block_len > 0 && size >= block_len && count > 0 {
            let last_start = size - block_len;
            let count = count.min((size / block_len) as usize).max(1);
            for i in 0..count {
                let start = if count == 1 {
                    0
                } else {
                    last_start / (count as u64 - 1) * i as u64
                };
                // Align to the block size so samples never overlap.
                let start = start / block_len * block_len;
                if starts.last() != Some(&start) {
                    starts.push(start);
                }
            }
        }
        BlockSampler {
            starts,
            block_len,
            next: 0,
            current: ByteHistogram::default(),
            overall: ByteHistogram::default(),
            block_entropies: Vec::new(),
            offset: 0,
        }
    }

    /// Number of blocks planned.
    pub fn planned(&self) -> usize {
        self.starts.len()
    }

    /// True when every planned block has been seen.
    pub fn done(&self) -> bool {
        self.next >= self.starts.len()
    }

    pub fn update(&mut self, chunk: &[u8]) {
        let chunk_start = self.offset;
        let chunk_end = chunk_start + chunk.len() as u64;
        while self.next < self.starts.len() {
            let block_start = self.starts[self.next];
            let block_end = block_start + self.block_len;
            if block_start >= chunk_end {
                break;
            }
            let from = block_start.max(chunk_start);
            let to = block_end.min(chunk_end);
            if from < to {
                self.current
                    .add(&chunk[(from - chunk_start) as usize..(to - chunk_start) as usize]);
            }
            if block_end <= chunk_end {
                self.block_entropies.push(self.current.shannon());
                self.overall.merge(&self.current);
                self.current = ByteHistogram::default();
                self.next += 1;
            } else {
                break;
            }
        }
        self.offset = chunk_end;
    }

    /// The lowest per-block entropy seen (8.0 when no block was complete).
    pub fn min_block_entropy(&self) -> f64 {
        self.block_entropies.iter().copied().fold(8.0, f64::min)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entropy_of_constant_and_uniform_data() {
        assert_eq!(shannon(&[7u8; 1000]), 0.0);
        let all: Vec<u8> = (0..=255u8).cycle().take(256 * 16).collect();
        assert!((shannon(&all) - 8.0).abs() < 1e-9);
        let mut h = ByteHistogram::default();
        h.add(&all);
        assert!(h.chi_square().abs() < 1e-9);
    }

    #[test]
    fn sampler_sees_the_same_blocks_whatever_the_chunking() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let mut whole = BlockSampler::new(data.len() as u64, 4096, 8);
        whole.update(&data);
        let mut pieces = BlockSampler::new(data.len() as u64, 4096, 8);
        for chunk in data.chunks(1000) {
            pieces.update(chunk);
        }
        assert_eq!(whole.planned(), 8);
        assert!(whole.done() && pieces.done());
        assert_eq!(whole.block_entropies, pieces.block_entropies);
        assert_eq!(whole.overall.total(), 8 * 4096);
    }
}
