//! Building a `.fkhs` set: read every input once (streaming), keep binary entries in a
//! bounded sort buffer, spill sorted runs to temporary files when the buffer is full,
//! then k-way merge the runs of each algorithm straight into the output, de-duplicating
//! on the way, and finish with the index, the block digests and the root.
//!
//! Owns the build pipeline and the de-duplication rule. Must never hold more than the
//! sort budget of entries (plus one prefix table and the merge buffers), never leave a
//! file at the output path unless it is complete (temporary name, fsync, rename), and
//! never let the sort budget, the temporary directory or the machine change the output:
//! merging is commutative, so the same inputs give the same bytes.

use std::collections::{BTreeMap, BinaryHeap, HashMap, HashSet};
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use rayon::prelude::*;
use sha2::{Digest, Sha256};
use tempfile::NamedTempFile;

use super::format::{
    self, BLOCK_SIZE, BlockDigest, BuildInfo, CategoryInfo, CategoryMapInfo, DEDUP_RULE,
    FORMAT_NAME, FORMAT_VERSION, HashCounts, Metadata, PAYLOAD_LEN, SectionDesc, SectionInfo,
    SourceInfo, TRAILER_HASHED_LEN, Trailer, flags,
};
use super::input::{self, InputFormat, Record, RecordSink, SourceCtx};
use super::{Algorithm, KnownSet, SetKind, Verification, hex};

/// Default sort budget: enough for ~28 million SHA-256 entries per run.
pub const DEFAULT_SORT_MEMORY: usize = 1 << 30;
pub const MIN_SORT_MEMORY: usize = 1 << 20;
/// At most this many runs are merged at once (open files, read buffers).
const MAX_FANIN: usize = 64;
const RUN_BUFFER: usize = 256 * 1024;

#[derive(Debug, Clone)]
pub struct BuildOptions {
    pub out: PathBuf,
    pub kind: SetKind,
    /// Set name [default: the output file's stem].
    pub name: Option<String>,
    pub description: Option<String>,
    /// Label of records that carry no category [default: the kind, e.g. `known-bad`].
    pub default_category: Option<String>,
    /// Inputs in order, each with a forced format or `None` to detect it.
    pub inputs: Vec<(PathBuf, Option<InputFormat>)>,
    /// Algorithms to store [default: every algorithm found in the inputs].
    pub algorithms: Option<Vec<Algorithm>>,
    pub skip_malformed: bool,
    /// TOML file of `CODE = "label"` lines for source category codes.
    pub category_map: Option<PathBuf>,
    /// `CODE=LABEL` pairs given on the command line (override the map file).
    pub category_labels: Vec<(String, String)>,
    pub exclude_categories: Vec<String>,
    /// Directory for sorted runs [default: the output's directory].
    pub tmp_dir: Option<PathBuf>,
    pub sort_memory: usize,
    /// Replace an existing output file.
    pub force: bool,
    /// Progress lines on stderr.
    pub verbose: bool,
}

impl BuildOptions {
    pub fn new(out: PathBuf, kind: SetKind, inputs: Vec<(PathBuf, Option<InputFormat>)>) -> Self {
        BuildOptions {
            out,
            kind,
            name: None,
            description: None,
            default_category: None,
            inputs,
            algorithms: None,
            skip_malformed: false,
            category_map: None,
            category_labels: Vec::new(),
            exclude_categories: Vec::new(),
            tmp_dir: None,
            sort_memory: DEFAULT_SORT_MEMORY,
            force: false,
            verbose: false,
        }
    }
}

#[derive(Debug, Clone)]
pub struct BuildReport {
    pub path: PathBuf,
    pub file_len: u64,
    /// SHA-256 of the whole file, as `sha256sum` prints it.
    pub file_sha256: [u8; 32],
    /// The set's root digest (see `KnownSet::digest`).
    pub digest: [u8; 32],
    pub metadata: Metadata,
    /// Hash values read from all inputs, all algorithms, before de-duplication.
    pub input_hashes: u64,
    /// Sorted runs written to the temporary directory (0 when everything fit in memory).
    pub runs_spilled: usize,
    pub read_time: Duration,
    pub write_time: Duration,
}

/// Build a set as `opts` says; returns only once the file is complete and renamed.
pub fn build(opts: &BuildOptions) -> Result<BuildReport> {
    let started = Instant::now();
    if opts.inputs.is_empty() {
        bail!("no inputs given");
    }
    if opts.inputs.len() > usize::from(u16::MAX) {
        bail!("at most {} inputs per set", u16::MAX);
    }
    if opts.sort_memory < MIN_SORT_MEMORY {
        bail!("sort memory must be at least 1 MiB");
    }
    let out_dir = match opts.out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if !out_dir.is_dir() {
        bail!("{}: output directory does not exist", out_dir.display());
    }
    if !opts.force && opts.out.exists() {
        bail!(
            "{}: already exists (use --force to replace it)",
            opts.out.display()
        );
    }
    let name = match &opts.name {
        Some(n) => n.clone(),
        None => opts
            .out
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .filter(|s| !s.is_empty())
            .ok_or_else(|| anyhow!("{}: cannot derive a set name", opts.out.display()))?,
    };
    let tmp_parent = opts.tmp_dir.clone().unwrap_or_else(|| out_dir.clone());
    let tmp = tempfile::Builder::new()
        .prefix(".fkhs-sort-")
        .tempdir_in(&tmp_parent)
        .with_context(|| {
            format!(
                "{}: cannot create a temporary directory",
                tmp_parent.display()
            )
        })?;

    let (labels, map_info) = load_category_labels(opts)?;
    let default_label = opts
        .default_category
        .clone()
        .unwrap_or_else(|| opts.kind.name().to_string());
    let mut categories = Categories {
        list: vec![CategoryInfo {
            index: 0,
            label: default_label,
            code: None,
        }],
        by_code: HashMap::new(),
        labels,
        excluded: opts.exclude_categories.iter().cloned().collect(),
    };
    let selected = match &opts.algorithms {
        Some(list) => Algorithm::ALL.map(|a| list.contains(&a)),
        None => [true; 3],
    };
    let mut spools = Spools::new(opts.sort_memory, tmp.path().to_path_buf());
    let sources = read_sources(opts, selected, &mut categories, &mut spools)?;
    let input_hashes = spools.input_counts().iter().sum::<u64>();
    if input_hashes == 0 {
        bail!("no hashes to store: the inputs hold no digest of a selected algorithm");
    }
    let read_time = started.elapsed();

    let write_started = Instant::now();
    let out_name = opts
        .out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let partial_prefix = format!(".{out_name}.");
    let mut partial_builder = tempfile::Builder::new();
    partial_builder.prefix(&partial_prefix).suffix(".partial");
    // Like any file a tool writes: 0666 less the umask (tempfile's default is 0600).
    #[cfg(unix)]
    partial_builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666));
    let mut partial = partial_builder
        .tempfile_in(&out_dir)
        .with_context(|| format!("{}: cannot create the output file", out_dir.display()))?;
    let mut writer = BlockWriter::new(partial.as_file_mut());
    writer.write(&format::prelude())?;
    let mut descs = Vec::new();
    let mut section_infos = Vec::new();
    for algorithm in Algorithm::ALL {
        if spools.input_counts()[algorithm.index()] == 0 {
            continue;
        }
        let (desc, info) = spools.write_section(algorithm, &mut writer)?;
        descs.push(desc);
        section_infos.push(info);
    }
    let runs_spilled = spools.runs_spilled;
    drop(spools);
    let (data_len, digests) = writer.finish_data()?;

    let metadata = Metadata {
        format: FORMAT_NAME.to_string(),
        format_version: FORMAT_VERSION,
        block_digest: Some(BlockDigest::CURRENT),
        root_digest: Some(format::ROOT_DIGEST.to_string()),
        name,
        kind: opts.kind,
        description: opts.description.clone(),
        categories: categories.list,
        sources,
        sections: section_infos,
        build: BuildInfo {
            created_by: "fieldkit hashset build".to_string(),
            algorithms: Algorithm::ALL
                .into_iter()
                .filter(|a| selected[a.index()])
                .collect(),
            skip_malformed: opts.skip_malformed,
            excluded_categories: {
                let mut v = opts.exclude_categories.clone();
                v.sort();
                v.dedup();
                v
            },
            category_map: map_info,
            dedup_rule: DEDUP_RULE.to_string(),
        },
    };
    let metadata_json = serde_json::to_vec_pretty(&metadata).context("encoding metadata")?;
    let sections_bytes: Vec<u8> = descs.iter().flat_map(|d| d.encode()).collect();
    let mut trailer = Trailer {
        version: FORMAT_VERSION,
        block_size: BLOCK_SIZE,
        data_len,
        sections_len: sections_bytes.len() as u64,
        metadata_len: metadata_json.len() as u64,
        digests_len: digests.len() as u64,
        file_len: 0,
        root: [0; 32],
    };
    trailer.file_len = data_len
        + trailer.sections_len
        + trailer.metadata_len
        + trailer.digests_len
        + format::TRAILER_LEN as u64;
    let mut root = Sha256::new();
    root.update(&sections_bytes);
    root.update(&metadata_json);
    root.update(&digests);
    root.update(&trailer.encode()[..TRAILER_HASHED_LEN]);
    trailer.root = root.finalize().into();
    writer.write_raw(&sections_bytes)?;
    writer.write_raw(&metadata_json)?;
    writer.write_raw(&digests)?;
    writer.write_raw(&trailer.encode())?;
    let file_sha256 = writer.finish()?;

    let out_display = opts.out.display().to_string();
    partial
        .as_file()
        .sync_all()
        .with_context(|| format!("{out_display}: cannot flush the new set to disk"))?;
    // Check the structure before the file gets its real name.
    let written = KnownSet::open(partial.path(), Verification::Lazy)
        .with_context(|| format!("{out_display}: the set just written does not open"))?;
    if written.digest() != trailer.root || written.file_len() != trailer.file_len {
        bail!("{out_display}: the set just written does not read back as written");
    }
    drop(written);
    if opts.force {
        partial
            .persist(&opts.out)
            .map_err(|e| anyhow!("{out_display}: cannot rename into place: {}", e.error))?;
    } else {
        partial
            .persist_noclobber(&opts.out)
            .map_err(|e| anyhow!("{out_display}: cannot rename into place: {}", e.error))?;
    }
    sync_dir(&out_dir);
    Ok(BuildReport {
        path: opts.out.clone(),
        file_len: trailer.file_len,
        file_sha256,
        digest: trailer.root,
        metadata,
        input_hashes,
        runs_spilled,
        read_time,
        write_time: write_started.elapsed(),
    })
}

/// Read every input in order into the spools; one `SourceInfo` per input.
fn read_sources(
    opts: &BuildOptions,
    selected: [bool; 3],
    categories: &mut Categories,
    spools: &mut Spools,
) -> Result<Vec<SourceInfo>> {
    let mut sources = Vec::with_capacity(opts.inputs.len());
    for (index, (path, forced)) in opts.inputs.iter().enumerate() {
        let format = match forced {
            Some(f) => *f,
            None => input::detect(path)?,
        };
        if opts.verbose {
            eprintln!("fieldkit: hashset: reading {} as {format}", path.display());
        }
        let mut ctx = SourceCtx::new(path, opts.skip_malformed);
        let mut collector = Collector {
            spools,
            categories,
            source: index as u16,
            format,
            selected,
            hashes: HashCounts::default(),
            not_selected: 0,
            excluded: 0,
        };
        let digest = input::read(format, path, &mut ctx, &mut collector)?;
        let file_name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| path.display().to_string());
        sources.push(SourceInfo {
            index: index as u16,
            name: file_name,
            format: format.name().to_string(),
            size: digest.size,
            sha256: hex::encode(&digest.sha256),
            description: ctx.description,
            records: ctx.records,
            hashes: collector.hashes,
            hashes_not_selected: collector.not_selected,
            records_without_hash: ctx.records_without_hash,
            records_excluded: collector.excluded,
            malformed_skipped: ctx.malformed_skipped,
            malformed_examples: ctx.malformed_examples,
        });
    }
    Ok(sources)
}

/// Make the rename durable (best effort: not every platform can open a directory).
fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    #[cfg(not(unix))]
    let _ = dir;
}

type Labels = BTreeMap<String, String>;

fn load_category_labels(opts: &BuildOptions) -> Result<(Labels, Option<CategoryMapInfo>)> {
    let mut labels = Labels::new();
    let mut file_info = (None, None);
    if let Some(path) = &opts.category_map {
        let bytes =
            std::fs::read(path).with_context(|| format!("{}: cannot read", path.display()))?;
        let text = std::str::from_utf8(&bytes)
            .map_err(|_| anyhow!("{}: not UTF-8 text", path.display()))?;
        let table: toml::Table = toml::from_str(text.trim_start_matches('\u{FEFF}'))
            .map_err(|e| anyhow!("{}: not a category map: {e}", path.display()))?;
        for (code, value) in table {
            let Some(label) = value.as_str() else {
                bail!(
                    "{}: category {code:?}: the label must be a string",
                    path.display()
                );
            };
            labels.insert(code, label.to_string());
        }
        file_info = (
            path.file_name().map(|n| n.to_string_lossy().into_owned()),
            Some(hex::encode(&Sha256::digest(&bytes))),
        );
    }
    for (code, label) in &opts.category_labels {
        labels.insert(code.clone(), label.clone());
    }
    let info = (!labels.is_empty() || file_info.0.is_some()).then(|| CategoryMapInfo {
        file: file_info.0,
        file_sha256: file_info.1,
        entries: labels.iter().map(|(c, l)| (c.clone(), l.clone())).collect(),
    });
    Ok((labels, info))
}

struct Categories {
    list: Vec<CategoryInfo>,
    by_code: HashMap<String, u16>,
    labels: Labels,
    excluded: HashSet<String>,
}

impl Categories {
    /// The index for a record's category code; `None` when the code is excluded.
    fn index_for(&mut self, code: Option<&str>, format: InputFormat) -> Result<Option<u16>> {
        let Some(code) = code else {
            return Ok(Some(0));
        };
        if self.excluded.contains(code) {
            return Ok(None);
        }
        if let Some(&i) = self.by_code.get(code) {
            return Ok(Some(i));
        }
        if code.len() > 200 {
            bail!("category code longer than 200 characters");
        }
        let index = u16::try_from(self.list.len())
            .map_err(|_| anyhow!("more than {} distinct categories", u16::MAX))?;
        let label = match self.labels.get(code) {
            Some(l) => l.clone(),
            None if format == InputFormat::Vics => format!("VICS category {code}"),
            None => format!("category {code}"),
        };
        self.list.push(CategoryInfo {
            index,
            label,
            code: Some(code.to_string()),
        });
        self.by_code.insert(code.to_string(), index);
        Ok(Some(index))
    }
}

/// The record sink for one input: category lookup, algorithm selection, spooling.
struct Collector<'a> {
    spools: &'a mut Spools,
    categories: &'a mut Categories,
    source: u16,
    format: InputFormat,
    selected: [bool; 3],
    hashes: HashCounts,
    not_selected: u64,
    excluded: u64,
}

impl RecordSink for Collector<'_> {
    fn record(&mut self, record: &Record<'_>) -> Result<()> {
        let Some(category) = self.categories.index_for(record.category, self.format)? else {
            self.excluded += 1;
            return Ok(());
        };
        let payload = Payload {
            category,
            source: self.source,
            flags: 0,
        };
        if let Some(key) = &record.md5 {
            self.take(Algorithm::Md5);
            if self.selected[0] {
                self.spools.push(|s| &mut s.md5, key, payload)?;
            }
        }
        if let Some(key) = &record.sha1 {
            self.take(Algorithm::Sha1);
            if self.selected[1] {
                self.spools.push(|s| &mut s.sha1, key, payload)?;
            }
        }
        if let Some(key) = &record.sha256 {
            self.take(Algorithm::Sha256);
            if self.selected[2] {
                self.spools.push(|s| &mut s.sha256, key, payload)?;
            }
        }
        Ok(())
    }
}

impl Collector<'_> {
    fn take(&mut self, algorithm: Algorithm) {
        self.hashes.add(algorithm, 1);
        if !self.selected[algorithm.index()] {
            self.not_selected += 1;
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Payload {
    category: u16,
    source: u16,
    flags: u8,
}

impl Payload {
    /// Merge another occurrence of the same key. Commutative and associative, so the
    /// result does not depend on sort order, run boundaries or merge order.
    fn absorb(&mut self, other: Payload) {
        let mut f = self.flags | other.flags | flags::DUPLICATE;
        if self.source != other.source {
            f |= flags::MULTI_SOURCE;
            self.source = self.source.min(other.source);
        }
        if self.category != other.category {
            f |= flags::CATEGORY_CONFLICT;
            // A source-given category (index > 0) beats the default (0); between two
            // source-given ones, the one met first in the inputs (lower index) wins.
            self.category = match (self.category, other.category) {
                (0, c) | (c, 0) => c,
                (a, b) => a.min(b),
            };
        }
        self.flags = f;
    }
}

#[derive(Clone, Copy)]
struct Entry<const K: usize> {
    key: [u8; K],
    payload: Payload,
}

impl<const K: usize> Entry<K> {
    const DISK_LEN: usize = K + PAYLOAD_LEN;

    fn encode(&self, out: &mut [u8]) {
        out[..K].copy_from_slice(&self.key);
        out[K..K + 2].copy_from_slice(&self.payload.category.to_le_bytes());
        out[K + 2..K + 4].copy_from_slice(&self.payload.source.to_le_bytes());
        out[K + 4] = self.payload.flags;
    }

    fn decode(bytes: &[u8]) -> Self {
        let mut key = [0u8; K];
        key.copy_from_slice(&bytes[..K]);
        Entry {
            key,
            payload: Payload {
                category: u16::from_le_bytes([bytes[K], bytes[K + 1]]),
                source: u16::from_le_bytes([bytes[K + 2], bytes[K + 3]]),
                flags: bytes[K + 4],
            },
        }
    }
}

/// Key order: the first 8 bytes as a big-endian integer decide almost every comparison.
#[inline]
fn key_cmp<const K: usize>(a: &[u8; K], b: &[u8; K]) -> std::cmp::Ordering {
    let head = |k: &[u8; K]| {
        let mut h = [0u8; 8];
        h.copy_from_slice(&k[..8]);
        u64::from_be_bytes(h)
    };
    head(a).cmp(&head(b)).then_with(|| a[8..].cmp(&b[8..]))
}

/// Sort by key and merge equal keys in place.
fn sort_dedup<const K: usize>(buf: &mut Vec<Entry<K>>) {
    buf.par_sort_unstable_by(|a, b| key_cmp(&a.key, &b.key));
    if buf.is_empty() {
        return;
    }
    let mut w = 0;
    for r in 1..buf.len() {
        if buf[r].key == buf[w].key {
            let p = buf[r].payload;
            buf[w].payload.absorb(p);
        } else {
            w += 1;
            buf[w] = buf[r];
        }
    }
    buf.truncate(w + 1);
}

/// The sort buffer budget shared by the three spools, in bytes of capacity.
struct Budget {
    limit: usize,
    used: usize,
}

impl Budget {
    fn free(&self) -> usize {
        self.limit.saturating_sub(self.used)
    }
}

/// One algorithm's sort buffer and its spilled runs.
struct Spool<const K: usize> {
    buf: Vec<Entry<K>>,
    runs: Vec<NamedTempFile>,
    input_count: u64,
}

impl<const K: usize> Spool<K> {
    fn new() -> Self {
        Spool {
            buf: Vec::new(),
            runs: Vec::new(),
            input_count: 0,
        }
    }

    /// Double the buffer (at least 4096 entries) within `free` bytes; the bytes added,
    /// or `None` when fewer than 1024 entries fit.
    fn try_grow(&mut self, free: usize) -> Option<usize> {
        let size = size_of::<Entry<K>>();
        let have = self.buf.capacity();
        let want = have.max(4096).min(free / size);
        if want < 1024 {
            return None;
        }
        self.buf.reserve_exact(want);
        Some((self.buf.capacity() - have) * size)
    }

    fn spill(&mut self, dir: &Path) -> Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        sort_dedup(&mut self.buf);
        let buf = &self.buf;
        let run = write_run::<K>(dir, &mut |put| buf.iter().try_for_each(put))?;
        self.runs.push(run);
        self.buf.clear();
        Ok(())
    }

    /// Give an empty buffer's memory back to the budget.
    fn release(&mut self, budget: &mut Budget) {
        if self.buf.is_empty() {
            budget.used = budget
                .used
                .saturating_sub(self.buf.capacity() * size_of::<Entry<K>>());
            self.buf = Vec::new();
        }
    }

    /// Merge everything (runs and the in-memory buffer), calling `emit` once per key.
    fn merge(&mut self, dir: &Path, emit: &mut Emit<'_, K>) -> Result<()> {
        sort_dedup(&mut self.buf);
        while self.runs.len() + 1 > MAX_FANIN {
            let batch: Vec<NamedTempFile> = self.runs.drain(..MAX_FANIN).collect();
            let run = write_run::<K>(dir, &mut |put| merge_sources::<K>(&batch, &[], put))?;
            self.runs.push(run);
        }
        merge_sources(&self.runs, &self.buf, emit)
    }
}

/// Receives merged entries one by one, in key order.
type Emit<'a, const K: usize> = dyn FnMut(&Entry<K>) -> Result<()> + 'a;

/// Write a sorted run to a new temporary file in `dir`: `fill` hands every entry, in
/// order, to the writer it is given.
fn write_run<const K: usize>(
    dir: &Path,
    fill: &mut dyn FnMut(&mut Emit<'_, K>) -> Result<()>,
) -> Result<NamedTempFile> {
    let failed = || format!("{}: cannot write a sort run", dir.display());
    let mut run = tempfile::Builder::new()
        .prefix("run-")
        .tempfile_in(dir)
        .with_context(|| format!("{}: cannot create a sort run", dir.display()))?;
    {
        let mut w = BufWriter::with_capacity(RUN_BUFFER, run.as_file_mut());
        let mut bytes = vec![0u8; Entry::<K>::DISK_LEN];
        fill(&mut |e| {
            e.encode(&mut bytes);
            w.write_all(&bytes).with_context(failed)
        })?;
        w.flush().with_context(failed)?;
    }
    Ok(run)
}

/// K-way merge of sorted, de-duplicated runs and one sorted in-memory slice.
fn merge_sources<const K: usize>(
    runs: &[NamedTempFile],
    memory: &[Entry<K>],
    emit: &mut Emit<'_, K>,
) -> Result<()> {
    enum Source<'m, const K: usize> {
        Disk(BufReader<File>, PathBuf),
        Memory(std::slice::Iter<'m, Entry<K>>),
    }
    impl<const K: usize> Source<'_, K> {
        fn next(&mut self) -> Result<Option<Entry<K>>> {
            match self {
                Source::Memory(it) => Ok(it.next().copied()),
                Source::Disk(r, path) => {
                    let mut bytes = [0u8; 64];
                    let bytes = &mut bytes[..Entry::<K>::DISK_LEN];
                    let mut filled = 0;
                    while filled < bytes.len() {
                        match r.read(&mut bytes[filled..]) {
                            Ok(0) => break,
                            Ok(n) => filled += n,
                            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                            Err(e) => {
                                return Err(e).with_context(|| {
                                    format!("{}: cannot read a sort run", path.display())
                                });
                            }
                        }
                    }
                    match filled {
                        0 => Ok(None),
                        n if n == bytes.len() => Ok(Some(Entry::decode(bytes))),
                        _ => bail!("{}: sort run ends mid-entry", path.display()),
                    }
                }
            }
        }
    }
    struct Head<const K: usize> {
        entry: Entry<K>,
        source: usize,
    }
    impl<const K: usize> PartialEq for Head<K> {
        fn eq(&self, other: &Self) -> bool {
            self.entry.key == other.entry.key && self.source == other.source
        }
    }
    impl<const K: usize> Eq for Head<K> {}
    impl<const K: usize> PartialOrd for Head<K> {
        fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
            Some(self.cmp(other))
        }
    }
    impl<const K: usize> Ord for Head<K> {
        // Reversed: BinaryHeap is a max-heap and we want the smallest key first.
        fn cmp(&self, other: &Self) -> std::cmp::Ordering {
            key_cmp(&other.entry.key, &self.entry.key).then(other.source.cmp(&self.source))
        }
    }

    let mut sources: Vec<Source<'_, K>> = Vec::with_capacity(runs.len() + 1);
    for run in runs {
        let file = File::open(run.path())
            .with_context(|| format!("{}: cannot reopen a sort run", run.path().display()))?;
        sources.push(Source::Disk(
            BufReader::with_capacity(RUN_BUFFER, file),
            run.path().to_path_buf(),
        ));
    }
    sources.push(Source::Memory(memory.iter()));
    let mut heap = BinaryHeap::with_capacity(sources.len());
    for (i, s) in sources.iter_mut().enumerate() {
        if let Some(entry) = s.next()? {
            heap.push(Head { entry, source: i });
        }
    }
    while let Some(Head { mut entry, source }) = heap.pop() {
        if let Some(next) = sources[source].next()? {
            heap.push(Head {
                entry: next,
                source,
            });
        }
        while let Some(top) = heap.peek() {
            if top.entry.key != entry.key {
                break;
            }
            let Some(Head {
                entry: same,
                source,
            }) = heap.pop()
            else {
                break;
            };
            entry.payload.absorb(same.payload);
            if let Some(next) = sources[source].next()? {
                heap.push(Head {
                    entry: next,
                    source,
                });
            }
        }
        emit(&entry)?;
    }
    Ok(())
}

struct Spools {
    md5: Spool<16>,
    sha1: Spool<20>,
    sha256: Spool<32>,
    budget: Budget,
    /// Where sorted runs go.
    dir: PathBuf,
    runs_spilled: usize,
}

impl Spools {
    fn new(limit: usize, dir: PathBuf) -> Self {
        Spools {
            md5: Spool::new(),
            sha1: Spool::new(),
            sha256: Spool::new(),
            budget: Budget { limit, used: 0 },
            dir,
            runs_spilled: 0,
        }
    }

    fn input_counts(&self) -> [u64; 3] {
        [
            self.md5.input_count,
            self.sha1.input_count,
            self.sha256.input_count,
        ]
    }

    /// Add one key to the spool `pick` selects. When its buffer is full and the budget
    /// is spent, every spool spills a sorted run and gives its memory back.
    #[inline]
    fn push<const K: usize>(
        &mut self,
        pick: impl Fn(&mut Spools) -> &mut Spool<K>,
        key: &[u8; K],
        payload: Payload,
    ) -> Result<()> {
        let free = self.budget.free();
        let spool = pick(self);
        if spool.buf.len() == spool.buf.capacity() {
            let added = match spool.try_grow(free) {
                Some(added) => added,
                None => {
                    self.spill_all()?;
                    let free = self.budget.free();
                    pick(self)
                        .try_grow(free)
                        .ok_or_else(|| anyhow!("sort memory too small for one buffer"))?
                }
            };
            self.budget.used += added;
        }
        let spool = pick(self);
        spool.buf.push(Entry { key: *key, payload });
        spool.input_count += 1;
        Ok(())
    }

    fn spill_all(&mut self) -> Result<()> {
        let before = self.md5.runs.len() + self.sha1.runs.len() + self.sha256.runs.len();
        self.md5.spill(&self.dir)?;
        self.sha1.spill(&self.dir)?;
        self.sha256.spill(&self.dir)?;
        self.md5.release(&mut self.budget);
        self.sha1.release(&mut self.budget);
        self.sha256.release(&mut self.budget);
        let after = self.md5.runs.len() + self.sha1.runs.len() + self.sha256.runs.len();
        self.runs_spilled += after - before;
        Ok(())
    }

    fn write_section(
        &mut self,
        algorithm: Algorithm,
        writer: &mut BlockWriter<'_>,
    ) -> Result<(SectionDesc, SectionInfo)> {
        let dir = self.dir.clone();
        let result = match algorithm {
            Algorithm::Md5 => write_spool(&mut self.md5, algorithm, &dir, writer),
            Algorithm::Sha1 => write_spool(&mut self.sha1, algorithm, &dir, writer),
            Algorithm::Sha256 => write_spool(&mut self.sha256, algorithm, &dir, writer),
        };
        self.md5.release(&mut self.budget);
        self.sha1.release(&mut self.budget);
        self.sha256.release(&mut self.budget);
        result
    }
}

fn write_spool<const K: usize>(
    spool: &mut Spool<K>,
    algorithm: Algorithm,
    dir: &Path,
    writer: &mut BlockWriter<'_>,
) -> Result<(SectionDesc, SectionInfo)> {
    let bits = format::prefix_bits_for(spool.input_count);
    let mut table = vec![0u32; (1usize << bits) + 1];
    let entries_offset = writer.position();
    let mut count = 0u64;
    let (mut multi, mut conflicts) = (0u64, 0u64);
    let mut bytes = vec![0u8; Entry::<K>::DISK_LEN];
    spool.merge(dir, &mut |e| {
        count += 1;
        if count > u64::from(u32::MAX) {
            bail!(
                "more than {} distinct {algorithm} keys in one set",
                u32::MAX
            );
        }
        table[format::bucket_of(&e.key, bits) + 1] += 1;
        multi += u64::from(e.payload.flags & flags::MULTI_SOURCE != 0);
        conflicts += u64::from(e.payload.flags & flags::CATEGORY_CONFLICT != 0);
        e.encode(&mut bytes);
        writer.write(&bytes)
    })?;
    spool.buf.clear();
    spool.runs.clear();
    for i in 1..table.len() {
        table[i] += table[i - 1];
    }
    let table_offset = writer.position();
    let mut table_bytes = Vec::with_capacity(64 * 1024);
    for chunk in table.chunks(16 * 1024) {
        table_bytes.clear();
        for v in chunk {
            table_bytes.extend_from_slice(&v.to_le_bytes());
        }
        writer.write(&table_bytes)?;
    }
    Ok((
        SectionDesc {
            algorithm,
            prefix_bits: bits,
            entries_offset,
            entry_count: count,
            table_offset,
        },
        SectionInfo {
            algorithm,
            entries: count,
            input_hashes: spool.input_count,
            prefix_bits: bits,
            multi_source_entries: multi,
            category_conflicts: conflicts,
        },
    ))
}

/// Sequential writer of the output: digests each data block as it fills, and hashes
/// every byte for the file's SHA-256.
struct BlockWriter<'f> {
    file: &'f mut File,
    block: Vec<u8>,
    digests: Vec<u8>,
    file_hash: Sha256,
    position: u64,
}

impl<'f> BlockWriter<'f> {
    fn new(file: &'f mut File) -> Self {
        BlockWriter {
            file,
            block: Vec::with_capacity(BLOCK_SIZE as usize),
            digests: Vec::new(),
            file_hash: Sha256::new(),
            position: 0,
        }
    }

    fn position(&self) -> u64 {
        self.position
    }

    /// Append data-region bytes.
    fn write(&mut self, mut bytes: &[u8]) -> Result<()> {
        let block_size = BLOCK_SIZE as usize;
        self.position += bytes.len() as u64;
        while !bytes.is_empty() {
            let take = (block_size - self.block.len()).min(bytes.len());
            self.block.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
            if self.block.len() == block_size {
                self.flush_block()?;
            }
        }
        Ok(())
    }

    fn flush_block(&mut self) -> Result<()> {
        if self.block.is_empty() {
            return Ok(());
        }
        let (digest, ()) = rayon::join(
            || BlockDigest::CURRENT.digest(&self.block),
            || self.file_hash.update(&self.block),
        );
        self.digests.extend_from_slice(&digest);
        self.file
            .write_all(&self.block)
            .context("writing the set")?;
        self.block.clear();
        Ok(())
    }

    /// End of the data region: its length and the block digest table.
    fn finish_data(&mut self) -> Result<(u64, Vec<u8>)> {
        self.flush_block()?;
        Ok((self.position, std::mem::take(&mut self.digests)))
    }

    /// Append index bytes (not part of any block).
    fn write_raw(&mut self, bytes: &[u8]) -> Result<()> {
        self.file_hash.update(bytes);
        self.file.write_all(bytes).context("writing the set")?;
        self.position += bytes.len() as u64;
        Ok(())
    }

    fn finish(self) -> Result<[u8; 32]> {
        self.file.flush().context("writing the set")?;
        Ok(self.file_hash.finalize().into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(category: u16, source: u16) -> Payload {
        Payload {
            category,
            source,
            flags: 0,
        }
    }

    #[test]
    fn merging_occurrences_does_not_depend_on_order() {
        let occurrences = [p(0, 2), p(3, 1), p(2, 1), p(0, 0)];
        let mut results = Vec::new();
        for rotation in 0..occurrences.len() {
            let mut order = occurrences.to_vec();
            order.rotate_left(rotation);
            let mut acc = order[0];
            for o in &order[1..] {
                acc.absorb(*o);
            }
            results.push(acc);
        }
        assert!(results.windows(2).all(|w| w[0] == w[1]));
        assert_eq!(results[0].category, 2);
        assert_eq!(results[0].source, 0);
        assert_eq!(results[0].flags, flags::KNOWN);
    }
}
