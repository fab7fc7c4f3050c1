//! One opened `.fkhs` set: memory-mapped, checked, searched.
//!
//! Owns integrity at open and at use. Opening checks the structure and the root digest
//! (which commits to every byte of the file through the block digests); data blocks are
//! checked against their digests either all at open (`Verification::Full`) or each on
//! first use (`Verification::Lazy`), so no byte ever decides an answer unchecked.
//! Must never panic on a damaged file, never allocate on a lookup miss, never write.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use anyhow::{Context, Result};
use memmap2::Mmap;
use rayon::prelude::*;
use sha2::{Digest, Sha256};

use super::Algorithm;
use super::format::{
    self, BlockDigest, DIGEST_LEN, FORMAT_NAME, Metadata, PRELUDE_LEN, PRELUDE_MAGIC,
    READ_VERSIONS, SECTION_DESC_LEN, SectionDesc, TRAILER_HASHED_LEN, TRAILER_LEN, Trailer,
};

/// How much of a set is checked when it is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verification {
    /// Check every block now (reads the whole file) and compute the file's SHA-256.
    Full,
    /// Check the index now and each data block the first time a lookup uses it.
    Lazy,
    /// `Full` for sets whose data fit in [`AUTO_FULL_LIMIT`] bytes, `Lazy` above.
    Auto,
}

/// The set file is damaged or was modified: it failed a structural or digest check.
/// Distinguishable (via `anyhow::Error::downcast_ref`) from "cannot open the file".
#[derive(Debug)]
pub struct DamagedSet(pub String);

impl std::fmt::Display for DamagedSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DamagedSet {}

/// Sets up to this size are checked completely at open (a few milliseconds).
pub const AUTO_FULL_LIMIT: u64 = 32 * 1024 * 1024;

#[derive(Debug, Clone)]
struct Section {
    desc: SectionDesc,
    entry_len: usize,
    key_len: usize,
    entries_offset: usize,
    table_offset: usize,
}

/// What a set says about one key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LookupHit {
    pub algorithm: Algorithm,
    pub category: u16,
    pub source: u16,
    pub flags: u8,
}

/// An opened set. `Sync`: lookups take `&self` from any number of threads.
pub struct KnownSet {
    path: PathBuf,
    map: Mmap,
    trailer: Trailer,
    metadata: Metadata,
    sections: [Option<Section>; 3],
    digests_offset: usize,
    /// How the data blocks are digested (SHA-256 in version 1, BLAKE3 in version 2).
    block_digest: BlockDigest,
    /// One bit per data block: set once the block matched its digest.
    verified: Box<[AtomicU64]>,
    /// Time spent checking blocks on first use (for `--stats` and benchmarks).
    verify_nanos: AtomicU64,
    /// Lookups that failed because a block did not match its digest.
    lookup_errors: AtomicU64,
    /// The open file (kept for a background pass over it; lookups use the map).
    file: File,
    /// SHA-256 of the whole file, once computed (full verification or background pass).
    file_sha256: OnceLock<[u8; 32]>,
    /// Why the background pass gave no SHA-256, once it has ended that way.
    file_sha256_error: OnceLock<String>,
    background: Mutex<Option<Background>>,
}

/// The thread computing the file's SHA-256 during a collection.
struct Background {
    handle: std::thread::JoinHandle<Result<[u8; 32], String>>,
    cancel: Arc<AtomicBool>,
    /// Bytes hashed so far.
    done: Arc<AtomicU64>,
}

impl Drop for KnownSet {
    fn drop(&mut self) {
        if let Ok(mut bg) = self.background.lock()
            && let Some(bg) = bg.take()
        {
            bg.cancel.store(true, Ordering::Relaxed);
        }
    }
}

impl std::fmt::Debug for KnownSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KnownSet")
            .field("path", &self.path)
            .field("name", &self.metadata.name)
            .field("kind", &self.metadata.kind)
            .finish_non_exhaustive()
    }
}

impl KnownSet {
    /// Open, check the structure and the root digest, then verify data as `mode` says.
    pub fn open(path: &Path, mode: Verification) -> Result<KnownSet> {
        let file = File::open(path).with_context(|| format!("{}: cannot open", path.display()))?;
        let len = file
            .metadata()
            .with_context(|| format!("{}: cannot stat", path.display()))?
            .len();
        let min_len = (PRELUDE_LEN + TRAILER_LEN) as u64;
        if len < min_len {
            return Err(anyhow::Error::new(DamagedSet(format!(
                "{}: not a fieldkit hash set: {len} bytes is shorter than the smallest possible set",
                path.display()
            ))));
        }
        // SAFETY: the map is read-only and private to this process; fieldkit never writes
        // set files after they are renamed into place. A file truncated by someone else
        // while mapped could fault; that is the accepted cost of zero-copy lookups, and
        // such a change would otherwise be caught by the digests.
        let map = unsafe { Mmap::map(&file) }
            .with_context(|| format!("{}: cannot memory-map", path.display()))?;
        let fail =
            |what: String| anyhow::Error::new(DamagedSet(format!("{}: {what}", path.display())));
        if map.len() as u64 != len {
            return Err(fail("file changed size while being opened".into()));
        }
        if map[..8] != PRELUDE_MAGIC {
            return Err(fail("not a fieldkit hash set (no FKHS signature)".into()));
        }
        let version = format::le_u32(&map[8..12]);
        if !READ_VERSIONS.contains(&version) {
            return Err(fail(format!(
                "set format version {version}; this fieldkit reads versions {} to {} \
                 (a newer fieldkit built it: use that one, or rebuild the set)",
                READ_VERSIONS.start(),
                READ_VERSIONS.end()
            )));
        }
        let trailer_at = map.len() - TRAILER_LEN;
        let trailer =
            Trailer::decode(&map[trailer_at..]).map_err(|e| fail(format!("damaged set: {e}")))?;
        if trailer.version != version {
            return Err(fail(format!(
                "damaged set: the prelude says format version {version}, the trailer {}",
                trailer.version
            )));
        }
        if trailer.file_len != len {
            return Err(fail(format!(
                "damaged set: the trailer says {} bytes but the file has {len} (truncated or appended to)",
                trailer.file_len
            )));
        }
        let index_start = to_usize(trailer.index_offset());
        if index_start < PRELUDE_LEN {
            return Err(fail(
                "damaged set: data region is shorter than the prelude".into(),
            ));
        }
        // The index is read whole right now: one large read-ahead instead of a page
        // fault per 4 KiB (on a cold USB stick that is most of the open time).
        #[cfg(unix)]
        let _ = map.advise_range(
            memmap2::Advice::WillNeed,
            index_start,
            map.len() - index_start,
        );
        let root = Sha256::digest(&map[index_start..map.len() - 32]);
        if root[..] != trailer.root {
            return Err(fail(
                "integrity check failed: the index does not match the set's root digest \
                 (the file is corrupted or was modified after it was built)"
                    .into(),
            ));
        }
        let sections_start = index_start;
        let metadata_start = sections_start + to_usize(trailer.sections_len);
        let digests_offset = metadata_start + to_usize(trailer.metadata_len);
        let metadata: Metadata = serde_json::from_slice(&map[metadata_start..digests_offset])
            .map_err(|e| fail(format!("damaged set: metadata is not valid JSON ({e})")))?;
        if metadata.format != FORMAT_NAME || metadata.format_version != version {
            return Err(fail(format!(
                "metadata names format {:?} version {}",
                metadata.format, metadata.format_version
            )));
        }
        let block_digest = BlockDigest::for_version(version, metadata.block_digest)
            .map_err(|e| fail(format!("damaged set: {e}")))?;
        if let Some(root) = metadata.root_digest.as_deref()
            && root != format::ROOT_DIGEST
        {
            return Err(fail(format!(
                "damaged set: metadata names root digest {root:?}; sets use {}",
                format::ROOT_DIGEST
            )));
        }
        let mut sections: [Option<Section>; 3] = [None, None, None];
        for chunk in map[sections_start..metadata_start].chunks_exact(SECTION_DESC_LEN) {
            let desc = SectionDesc::decode(chunk).map_err(|e| fail(format!("damaged set: {e}")))?;
            let section = check_section(desc, trailer.data_len)
                .map_err(|e| fail(format!("damaged set: {e}")))?;
            let slot = &mut sections[section.desc.algorithm.index()];
            if slot.is_some() {
                return Err(fail(format!(
                    "damaged set: two {} sections",
                    section.desc.algorithm
                )));
            }
            let listed = metadata
                .sections
                .iter()
                .find(|s| s.algorithm == section.desc.algorithm)
                .map(|s| s.entries);
            if listed != Some(section.desc.entry_count) {
                return Err(fail(format!(
                    "damaged set: {} entry count differs between directory and metadata",
                    section.desc.algorithm
                )));
            }
            *slot = Some(section);
        }
        if metadata.sections.len() != sections.iter().flatten().count() {
            return Err(fail(
                "damaged set: metadata lists sections the directory does not have".into(),
            ));
        }
        let blocks = trailer.block_count();
        let words = to_usize(blocks.div_ceil(64));
        let verified = (0..words).map(|_| AtomicU64::new(0)).collect();
        let mut set = KnownSet {
            path: path.to_path_buf(),
            map,
            trailer,
            metadata,
            sections,
            digests_offset,
            block_digest,
            verified,
            verify_nanos: AtomicU64::new(0),
            lookup_errors: AtomicU64::new(0),
            file,
            file_sha256: OnceLock::new(),
            file_sha256_error: OnceLock::new(),
            background: Mutex::new(None),
        };
        let full = match mode {
            Verification::Full => true,
            Verification::Lazy => false,
            Verification::Auto => set.trailer.data_len <= AUTO_FULL_LIMIT,
        };
        if full {
            set.verify_all()?;
        }
        Ok(set)
    }

    /// Check every data block and compute the SHA-256 of the whole file (what `sha256sum`
    /// prints), on two threads: the file hash and the block digests in parallel.
    pub fn verify_all(&mut self) -> Result<[u8; 32]> {
        let map = &self.map[..];
        let block_size = self.trailer.block_size as usize;
        let data = &map[..to_usize(self.trailer.data_len)];
        let digests = &map[self.digests_offset..self.digests_offset + self.digests_len()];
        let block_digest = self.block_digest;
        let (file_hash, bad_block) = rayon::join(
            || {
                let mut h = Sha256::new();
                for chunk in map.chunks(1 << 20) {
                    h.update(chunk);
                }
                let out: [u8; 32] = h.finalize().into();
                out
            },
            || {
                data.par_chunks(block_size)
                    .zip(digests.par_chunks_exact(DIGEST_LEN))
                    .enumerate()
                    .find_first(|(_, (block, want))| block_digest.digest(block)[..] != want[..])
                    .map(|(i, _)| i)
            },
        );
        if let Some(block) = bad_block {
            return Err(self.block_error(block));
        }
        for word in self.verified.iter() {
            word.store(u64::MAX, Ordering::Relaxed);
        }
        let _ = self.file_sha256.set(file_hash);
        Ok(file_hash)
    }

    /// Start computing the file's SHA-256 on a background thread, unless it is known:
    /// one sequential read of the file through a mapping of its own, which also checks
    /// every data block and the root again, so the SHA-256 it yields is that of bytes the
    /// set's root commits to. For `collect` on lazily verified sets: the manifest records
    /// the SHA-256 that `sha256sum` prints without adding a full read before collection.
    pub fn start_file_sha256(&self) -> Result<()> {
        if self.file_sha256.get().is_some() {
            return Ok(());
        }
        let Ok(mut slot) = self.background.lock() else {
            return Ok(());
        };
        if slot.is_some() {
            return Ok(());
        }
        // SAFETY: as for the lookup map (see `open`): read-only, private, never written by
        // fieldkit; a change by someone else is caught by the digests this pass checks.
        let map = unsafe { Mmap::map(&self.file) }
            .with_context(|| format!("{}: cannot memory-map", self.path.display()))?;
        #[cfg(unix)]
        let _ = map.advise(memmap2::Advice::Sequential);
        let cancel = Arc::new(AtomicBool::new(false));
        let done = Arc::new(AtomicU64::new(0));
        let layout = Layout {
            trailer: self.trailer.clone(),
            digests_offset: self.digests_offset,
            block_digest: self.block_digest,
        };
        let (c, d) = (cancel.clone(), done.clone());
        let handle = std::thread::Builder::new()
            .name("fieldkit-set-sha256".into())
            .spawn(move || layout.check_pass(&map, &c, &d))
            .with_context(|| format!("{}: cannot start a thread", self.path.display()))?;
        *slot = Some(Background {
            handle,
            cancel,
            done,
        });
        Ok(())
    }

    /// The file's SHA-256: known already, or the result of the background pass started by
    /// [`KnownSet::start_file_sha256`], waited for. `waiting(bytes done, file length)` is
    /// called about once a second while waiting; setting `stop` gives up (the pass is
    /// cancelled). `Err` says why there is none.
    pub fn finish_file_sha256(
        &self,
        stop: &AtomicBool,
        waiting: &mut dyn FnMut(u64, u64),
    ) -> std::result::Result<[u8; 32], String> {
        if let Some(sha) = self.file_sha256.get() {
            return Ok(*sha);
        }
        if let Some(e) = self.file_sha256_error.get() {
            return Err(e.clone());
        }
        let Some(bg) = self.background.lock().ok().and_then(|mut b| b.take()) else {
            return Err("not computed: the set was verified lazily and no pass over the whole file was made".into());
        };
        let started = std::time::Instant::now();
        let mut reported = 0u64;
        while !bg.handle.is_finished() {
            if stop.load(Ordering::Relaxed) {
                bg.cancel.store(true, Ordering::Relaxed);
                let e = format!(
                    "not computed: the collection was interrupted after {} of {} bytes",
                    bg.done.load(Ordering::Relaxed),
                    self.trailer.file_len
                );
                let _ = self.file_sha256_error.set(e.clone());
                return Err(e);
            }
            // Tell the caller after a second, then every five.
            let secs = started.elapsed().as_secs();
            if secs > reported && (reported == 0 || secs >= reported + 5) {
                reported = secs;
                waiting(bg.done.load(Ordering::Relaxed), self.trailer.file_len);
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let result = match bg.handle.join() {
            Ok(r) => r,
            Err(_) => Err("not computed: the thread computing it failed".into()),
        };
        match result {
            Ok(sha) => {
                let _ = self.file_sha256.set(sha);
                Ok(sha)
            }
            Err(e) => {
                let e = format!("{}: {e}", self.path.display());
                let _ = self.file_sha256_error.set(e.clone());
                Err(e)
            }
        }
    }

    /// Lookups so far that failed on a damaged block.
    pub fn lookup_errors(&self) -> u64 {
        self.lookup_errors.load(Ordering::Relaxed)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn metadata(&self) -> &Metadata {
        &self.metadata
    }

    pub fn name(&self) -> &str {
        &self.metadata.name
    }

    pub fn kind(&self) -> super::SetKind {
        self.metadata.kind
    }

    /// The root digest: SHA-256 of the index, which lists a digest of every data block.
    /// It identifies the whole content and is known without reading the data.
    pub fn digest(&self) -> [u8; 32] {
        self.trailer.root
    }

    /// SHA-256 of the whole file, when it is known (fully verified at open, or after
    /// [`KnownSet::finish_file_sha256`]).
    pub fn file_sha256(&self) -> Option<[u8; 32]> {
        self.file_sha256.get().copied()
    }

    /// Whether every data block has been checked (at open, or by use).
    pub fn fully_verified(&self) -> bool {
        self.blocks_verified() == self.block_count()
    }

    pub fn file_len(&self) -> u64 {
        self.trailer.file_len
    }

    /// The file's format version (1 or 2).
    pub fn format_version(&self) -> u32 {
        self.trailer.version
    }

    /// How the data blocks are digested.
    pub fn block_digest(&self) -> BlockDigest {
        self.block_digest
    }

    pub fn block_count(&self) -> u64 {
        self.trailer.block_count()
    }

    /// Number of data blocks verified so far.
    pub fn blocks_verified(&self) -> u64 {
        let words: u64 = self
            .verified
            .iter()
            .map(|w| u64::from(w.load(Ordering::Relaxed).count_ones()))
            .sum();
        words.min(self.block_count())
    }

    /// Time spent so far checking blocks on first use (not counting `Full` at open).
    pub fn lazy_verification_time(&self) -> std::time::Duration {
        std::time::Duration::from_nanos(self.verify_nanos.load(Ordering::Relaxed))
    }

    pub fn has(&self, algorithm: Algorithm) -> bool {
        self.sections[algorithm.index()].is_some()
    }

    pub fn entry_count(&self, algorithm: Algorithm) -> u64 {
        self.sections[algorithm.index()]
            .as_ref()
            .map_or(0, |s| s.desc.entry_count)
    }

    /// The label of a category index (an unknown index reads as "category N").
    pub fn category_label(&self, index: u16) -> std::borrow::Cow<'_, str> {
        match self.metadata.categories.get(usize::from(index)) {
            Some(c) => std::borrow::Cow::Borrowed(c.label.as_str()),
            None => std::borrow::Cow::Owned(format!("category {index}")),
        }
    }

    pub fn source_name(&self, index: u16) -> Option<&str> {
        self.metadata
            .sources
            .get(usize::from(index))
            .map(|s| s.name.as_str())
    }

    /// Look a digest up. `key` must be the algorithm's digest length; a wrong length, or
    /// an algorithm this set does not have, is a miss. Errors only on a damaged block.
    pub fn lookup(&self, algorithm: Algorithm, key: &[u8]) -> Result<Option<LookupHit>> {
        let Some(section) = self.section_for(algorithm, key) else {
            return Ok(None);
        };
        let answer = self
            .bucket_span(section, key)
            .and_then(|span| self.search_span(section, key, span));
        if answer.is_err() {
            self.lookup_errors.fetch_add(1, Ordering::Relaxed);
        }
        answer
    }

    /// Look many digests up, appending one answer per query to `out`. Same answers as
    /// [`KnownSet::lookup`], faster: the memory reads of a batch of queries are started
    /// together (prefetch) instead of waiting for each in turn.
    pub fn lookup_many(
        &self,
        queries: &[(Algorithm, &[u8])],
        out: &mut Vec<Option<LookupHit>>,
    ) -> Result<()> {
        const BATCH: usize = 32;
        for batch in queries.chunks(BATCH) {
            for &(algorithm, key) in batch {
                if let Some(section) = self.section_for(algorithm, key) {
                    let bucket = format::bucket_of(key, section.desc.prefix_bits);
                    prefetch(&self.map[section.table_offset + bucket * 4]);
                }
            }
            let mut spans = [(0usize, 0usize); BATCH];
            for (span, &(algorithm, key)) in spans.iter_mut().zip(batch) {
                if let Some(section) = self.section_for(algorithm, key) {
                    *span = self.bucket_span(section, key)?;
                    if span.0 < span.1 {
                        let guess =
                            span.0 + guess_index(key, section.desc.prefix_bits, span.1 - span.0);
                        prefetch(&self.map[section.entries_offset + guess * section.entry_len]);
                    }
                }
            }
            for (span, &(algorithm, key)) in spans.iter().zip(batch) {
                out.push(match self.section_for(algorithm, key) {
                    Some(section) => self.search_span(section, key, *span)?,
                    None => None,
                });
            }
        }
        Ok(())
    }

    fn section_for(&self, algorithm: Algorithm, key: &[u8]) -> Option<&Section> {
        self.sections[algorithm.index()]
            .as_ref()
            .filter(|s| key.len() == s.key_len && s.desc.entry_count > 0)
    }

    /// The entry index range of `key`'s prefix bucket.
    fn bucket_span(&self, section: &Section, key: &[u8]) -> Result<(usize, usize)> {
        let bucket = format::bucket_of(key, section.desc.prefix_bits);
        let slot = section.table_offset + bucket * 4;
        let bounds = self.checked(slot..slot + 8)?;
        let start = format::le_u32(&bounds[..4]) as usize;
        let end = format::le_u32(&bounds[4..]) as usize;
        if start > end || end > to_usize(section.desc.entry_count) {
            return Err(anyhow::Error::new(DamagedSet(format!(
                "{}: damaged set: {} prefix table entry {bucket} is out of order",
                self.path.display(),
                section.desc.algorithm
            ))));
        }
        Ok((start, end))
    }

    fn search_span(
        &self,
        section: &Section,
        key: &[u8],
        (start, end): (usize, usize),
    ) -> Result<Option<LookupHit>> {
        if start == end {
            return Ok(None);
        }
        let from = section.entries_offset + start * section.entry_len;
        let entries = self.checked(from..from + (end - start) * section.entry_len)?;
        let found = search(entries, section.entry_len, key, section.desc.prefix_bits);
        Ok(found.map(|entry| {
            let payload = &entry[section.key_len..];
            LookupHit {
                algorithm: section.desc.algorithm,
                category: u16::from_le_bytes([payload[0], payload[1]]),
                source: u16::from_le_bytes([payload[2], payload[3]]),
                flags: payload[4],
            }
        }))
    }

    /// The bytes of `range` within the data region, after checking every block they touch.
    fn checked(&self, range: std::ops::Range<usize>) -> Result<&[u8]> {
        let block_size = self.trailer.block_size as usize;
        let first = range.start / block_size;
        let last = (range.end - 1) / block_size;
        for block in first..=last {
            let (word, bit) = (block / 64, 1u64 << (block % 64));
            if self.verified[word].load(Ordering::Acquire) & bit != 0 {
                continue;
            }
            let started = std::time::Instant::now();
            let start = block * block_size;
            let end = (start + block_size).min(to_usize(self.trailer.data_len));
            let want = &self.map[self.digests_offset + block * DIGEST_LEN..][..DIGEST_LEN];
            if self.block_digest.digest(&self.map[start..end])[..] != want[..] {
                return Err(self.block_error(block));
            }
            self.verified[word].fetch_or(bit, Ordering::Release);
            let spent = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
            self.verify_nanos.fetch_add(spent, Ordering::Relaxed);
        }
        Ok(&self.map[range])
    }

    fn block_error(&self, block: usize) -> anyhow::Error {
        let block_size = u64::from(self.trailer.block_size);
        let start = block as u64 * block_size;
        let end = (start + block_size).min(self.trailer.data_len);
        anyhow::Error::new(DamagedSet(format!(
            "{}: integrity check failed: data block {block} (bytes {start}..{end}) does not match \
             its digest (the file is corrupted or was modified after it was built)",
            self.path.display()
        )))
    }

    fn digests_len(&self) -> usize {
        to_usize(self.trailer.digests_len)
    }
}

/// What a pass over the whole file needs to know of the set's layout.
struct Layout {
    trailer: Trailer,
    digests_offset: usize,
    block_digest: BlockDigest,
}

impl Layout {
    /// One sequential pass on one thread: the SHA-256 of the whole file, every data block
    /// against its digest, and the index against the root digest read at open. `done`
    /// counts the bytes hashed; `cancel` stops the pass.
    fn check_pass(
        &self,
        map: &[u8],
        cancel: &AtomicBool,
        done: &AtomicU64,
    ) -> std::result::Result<[u8; 32], String> {
        if map.len() as u64 != self.trailer.file_len {
            return Err("the file changed size since it was opened".into());
        }
        let block_size = self.trailer.block_size as usize;
        let data_len = to_usize(self.trailer.data_len);
        let mut file_hash = Sha256::new();
        for (i, block) in map[..data_len].chunks(block_size).enumerate() {
            if cancel.load(Ordering::Relaxed) {
                return Err("cancelled".into());
            }
            let want = &map[self.digests_offset + i * DIGEST_LEN..][..DIGEST_LEN];
            if self.block_digest.digest(block)[..] != want[..] {
                return Err(format!(
                    "integrity check failed: data block {i} does not match its digest (the file \
                     is damaged, or was changed after it was built)"
                ));
            }
            file_hash.update(block);
            done.fetch_add(block.len() as u64, Ordering::Relaxed);
        }
        let index = &map[data_len..];
        if Sha256::digest(&index[..index.len() - 32])[..] != self.trailer.root
            || index[index.len() - 32..] != self.trailer.root
        {
            return Err(
                "the index no longer matches the root digest read at open (the file was \
                 changed after it was opened)"
                    .into(),
            );
        }
        file_hash.update(index);
        done.fetch_add(index.len() as u64, Ordering::Relaxed);
        Ok(file_hash.finalize().into())
    }
}

/// Find `key` among sorted fixed-width `entries` (one prefix bucket). Digests are
/// uniformly distributed, so the bits after the prefix predict the position: look
/// there, walk a few entries (usually within the same cache line), and fall back to
/// binary search only if the guess was far off. A binary search alone would touch
/// about six cache lines per lookup; this touches one or two.
fn search<'a>(
    entries: &'a [u8],
    entry_len: usize,
    key: &[u8],
    prefix_bits: u8,
) -> Option<&'a [u8]> {
    const PROBES: usize = 8;
    let n = entries.len() / entry_len;
    let at = |i: usize| &entries[i * entry_len..(i + 1) * entry_len];
    let guess = guess_index(key, prefix_bits, n);
    let (mut lo, mut hi) = (0usize, n);
    let mut i = guess.min(n - 1);
    for _ in 0..PROBES {
        match at(i)[..key.len()].cmp(key) {
            std::cmp::Ordering::Equal => return Some(at(i)),
            std::cmp::Ordering::Less => {
                lo = i + 1;
                if lo >= hi {
                    return None;
                }
                i = lo;
            }
            std::cmp::Ordering::Greater => {
                hi = i;
                if lo >= hi {
                    return None;
                }
                i = hi - 1;
            }
        }
    }
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        match at(mid)[..key.len()].cmp(key) {
            std::cmp::Ordering::Less => lo = mid + 1,
            std::cmp::Ordering::Greater => hi = mid,
            std::cmp::Ordering::Equal => return Some(at(mid)),
        }
    }
    None
}

/// Where in a bucket of `n` entries `key` probably is: the 32 bits after the prefix,
/// scaled to `n`. Always `< n` for `n > 0`.
#[inline]
fn guess_index(key: &[u8], prefix_bits: u8, n: usize) -> usize {
    let mut head = [0u8; 8];
    head.copy_from_slice(&key[..8]);
    let fraction = (u64::from_be_bytes(head) << prefix_bits) >> 32;
    (((fraction * n as u64) >> 32) as usize).min(n.saturating_sub(1))
}

/// Ask the CPU to start loading the cache line holding `byte`; a hint with no effect on
/// results (and none on targets without a prefetch instruction).
#[inline]
fn prefetch(byte: &u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: prefetching is a hint; it never faults and reads nothing observable. The
    // pointer comes from a live reference.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
            (byte as *const u8).cast::<i8>(),
        );
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = byte;
}

/// Range-check a section against the data region so lookups can index without checks
/// beyond the prefix table values.
fn check_section(desc: SectionDesc, data_len: u64) -> Result<Section, String> {
    let entry_len = desc.entry_len() as u64;
    let entries_end = desc
        .entry_count
        .checked_mul(entry_len)
        .and_then(|n| n.checked_add(desc.entries_offset));
    let table_end = desc.table_offset.checked_add(desc.table_len());
    match (entries_end, table_end) {
        (Some(e), Some(t))
            if desc.entries_offset >= PRELUDE_LEN as u64
                && desc.table_offset >= PRELUDE_LEN as u64
                && e <= data_len
                && t <= data_len => {}
        _ => {
            return Err(format!(
                "{} section lies outside the data region",
                desc.algorithm
            ));
        }
    }
    Ok(Section {
        entry_len: desc.entry_len(),
        key_len: desc.algorithm.key_len(),
        entries_offset: to_usize(desc.entries_offset),
        table_offset: to_usize(desc.table_offset),
        desc,
    })
}

/// Offsets were checked against the mapped length, which fits in `usize`.
fn to_usize(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

const _: () = assert!(TRAILER_HASHED_LEN + 32 == TRAILER_LEN);
