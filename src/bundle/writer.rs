//! The bundle writer: content members under `files/` (each stored once per distinct
//! content), metadata members, then SHA256SUMS and its signature, then the ZIP's central
//! directory — in that order, so SHA256SUMS lists every member in archive order.
//!
//! Owns the `.part` lifecycle: the archive is written as `NAME.zip.part` and renamed to
//! `NAME.zip` only after the central directory is written and fsynced, so a killed run
//! never leaves a file that looks complete. Never finalizes implicitly (dropping a writer
//! leaves the `.part` as it is), never overwrites an existing file.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use sha2::{Digest, Sha256};

use super::naming::MemberNames;
use super::zipwriter::ZipWriter;
use crate::hashing::hex;
use crate::sign::Signer;

pub const SUMS: &str = "SHA256SUMS";
pub const SUMS_SIG: &str = "SHA256SUMS.sig";
const MEMBER_MODE: u32 = 0o100644;

/// Where a file's content ended up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stored {
    New(Arc<str>),
    Duplicate(Arc<str>),
}

pub struct BundleWriter {
    zip: ZipWriter,
    part_path: PathBuf,
    final_path: PathBuf,
    names: MemberNames,
    sums: Vec<(Arc<str>, [u8; 32])>,
    by_content: HashMap<[u8; 32], Arc<str>>,
    open_member: Option<Arc<str>>,
    stored_bytes: u64,
    /// The first write failure: every later operation reports it instead of a confusing
    /// follow-up error, and the archive is never finalized.
    failed: Option<String>,
}

/// The finalized archive.
#[derive(Debug, Clone)]
pub struct Finished {
    pub path: PathBuf,
    pub len: u64,
    pub members: usize,
    /// SHA-256 of the whole archive as written (page cache), when `finish` was asked.
    pub whole_sha256: Option<[u8; 32]>,
}

impl BundleWriter {
    /// Create `dir/<file_name>.part` (never overwriting anything).
    pub fn create(dir: &Path, file_name: &str) -> anyhow::Result<Self> {
        let final_path = dir.join(file_name);
        let part_path = dir.join(format!("{file_name}.part"));
        if final_path.exists() {
            anyhow::bail!(
                "{}: already exists; refusing to overwrite",
                final_path.display()
            );
        }
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&part_path)
            .with_context(|| format!("{}: cannot create bundle", part_path.display()))?;
        Ok(BundleWriter {
            zip: ZipWriter::new(file),
            part_path,
            final_path,
            names: MemberNames::new(),
            sums: Vec::new(),
            by_content: HashMap::new(),
            open_member: None,
            stored_bytes: 0,
            failed: None,
        })
    }

    fn check(&self) -> io::Result<()> {
        match &self.failed {
            Some(e) => Err(io::Error::other(e.clone())),
            None => Ok(()),
        }
    }

    fn note<T>(&mut self, r: io::Result<T>) -> io::Result<T> {
        if let Err(e) = &r
            && self.failed.is_none()
        {
            self.failed = Some(e.to_string());
        }
        r
    }

    pub fn part_path(&self) -> &Path {
        &self.part_path
    }

    pub fn final_path(&self) -> &Path {
        &self.final_path
    }

    /// Bytes of file content stored under `files/` so far.
    pub fn stored_bytes(&self) -> u64 {
        self.stored_bytes
    }

    /// The member already holding this content, if any.
    pub fn stored_as(&self, sha256: &[u8; 32]) -> Option<Arc<str>> {
        self.by_content.get(sha256).cloned()
    }

    /// Store a file whose bytes are all in memory (or point at its earlier copy).
    pub fn store(
        &mut self,
        components: &[&OsStr],
        data: &[u8],
        sha256: [u8; 32],
        mtime: Option<i64>,
    ) -> io::Result<Stored> {
        self.check()?;
        if let Some(existing) = self.stored_as(&sha256) {
            return Ok(Stored::Duplicate(existing));
        }
        let name: Arc<str> = self.names.assign(components).into();
        let r = self.zip.add(&name, data, mtime, MEMBER_MODE);
        self.note(r)?;
        self.stored_bytes += data.len() as u64;
        self.sums.push((name.clone(), sha256));
        self.by_content.insert(sha256, name.clone());
        Ok(Stored::New(name))
    }

    /// Start streaming a file too large to hold in memory.
    pub fn begin(
        &mut self,
        components: &[&OsStr],
        mtime: Option<i64>,
        expected_size: u64,
    ) -> io::Result<()> {
        self.check()?;
        let name: Arc<str> = self.names.assign(components).into();
        let r = self.zip.begin(&name, mtime, MEMBER_MODE, expected_size);
        self.note(r)?;
        self.open_member = Some(name);
        Ok(())
    }

    /// How many more bytes the streaming member can take (4 GiB − 1 without ZIP64).
    pub fn max_stream_len(&self) -> u64 {
        self.zip.max_stream_len()
    }

    pub fn write_chunk(&mut self, data: &[u8]) -> io::Result<()> {
        self.check()?;
        let r = self.zip.write_chunk(data);
        self.note(r)
    }

    /// Finish the streaming member; if its content was already stored, roll it back.
    pub fn end(&mut self, sha256: [u8; 32], len: u64) -> io::Result<Stored> {
        self.check()?;
        let name = self
            .open_member
            .take()
            .ok_or_else(|| io::Error::other("no member is being streamed"))?;
        if let Some(existing) = self.stored_as(&sha256) {
            let r = self.zip.abort();
            self.note(r)?;
            return Ok(Stored::Duplicate(existing));
        }
        let r = self.zip.end();
        self.note(r)?;
        self.stored_bytes += len;
        self.sums.push((name.clone(), sha256));
        self.by_content.insert(sha256, name.clone());
        Ok(Stored::New(name))
    }

    /// Abandon the streaming member (nothing of it remains in the archive).
    pub fn abort(&mut self) -> io::Result<()> {
        if self.open_member.take().is_some() {
            let r = self.zip.abort();
            self.note(r)?;
        }
        Ok(())
    }

    /// Add a metadata member (manifest, logs, …) from memory; returns its SHA-256.
    pub fn add_metadata(&mut self, name: &str, data: &[u8]) -> anyhow::Result<[u8; 32]> {
        self.check()?;
        if !self.names.claim_fixed(name) {
            anyhow::bail!("internal error: member name {name} used twice");
        }
        let sha: [u8; 32] = Sha256::digest(data).into();
        let now = jiff::Timestamp::now().as_second();
        self.zip
            .add(name, data, Some(now), MEMBER_MODE)
            .with_context(|| format!("{}: writing {name}", self.part_path.display()))?;
        self.sums.push((name.into(), sha));
        Ok(sha)
    }

    /// Add a metadata member streamed from a reader (a spooled files.jsonl).
    pub fn add_metadata_stream(
        &mut self,
        name: &str,
        mut reader: impl Read,
        len: u64,
    ) -> anyhow::Result<[u8; 32]> {
        if !self.names.claim_fixed(name) {
            anyhow::bail!("internal error: member name {name} used twice");
        }
        let now = jiff::Timestamp::now().as_second();
        let ctx = || format!("{}: writing {name}", self.part_path.display());
        self.zip
            .begin(name, Some(now), MEMBER_MODE, len)
            .with_context(ctx)?;
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = reader.read(&mut buf).with_context(ctx)?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            self.zip.write_chunk(&buf[..n]).with_context(ctx)?;
        }
        self.zip.end().with_context(ctx)?;
        let sha: [u8; 32] = hasher.finalize().into();
        self.sums.push((name.into(), sha));
        Ok(sha)
    }

    /// Write SHA256SUMS and its signature, the central directory; fsync; rename the
    /// `.part` to its final name. With `hash_whole`, the whole archive is hashed on a
    /// second thread while the fsync waits for the device: the two overlap instead of
    /// adding up (a run without verify-after-write needs the hash for its sidecar).
    pub fn finish(mut self, signer: &Signer, hash_whole: bool) -> anyhow::Result<Finished> {
        self.check()?;
        let mut sums = String::new();
        for (name, sha) in &self.sums {
            sums.push_str(&hex(sha));
            sums.push_str("  ");
            sums.push_str(name);
            sums.push('\n');
        }
        let sig = signer.sign(sums.as_bytes())?;
        self.add_metadata(SUMS, sums.as_bytes())?;
        self.add_metadata(SUMS_SIG, sig.as_bytes())?;
        let members = self.zip.member_count();
        let part = self.part_path.clone();
        let (file, len): (File, u64) = self
            .zip
            .finish()
            .with_context(|| format!("{}: writing the central directory", part.display()))?;
        let whole_sha256 = std::thread::scope(|scope| -> anyhow::Result<Option<[u8; 32]>> {
            let hashing = hash_whole.then(|| {
                scope.spawn(|| crate::acquire::hash_file(&part, crate::hashing::AlgSet::default()))
            });
            let synced = file.sync_all();
            let whole = match hashing.map(|h| h.join()) {
                None => None,
                Some(Ok(Ok((digests, _)))) => Some(digests.sha256),
                Some(Ok(Err((_, e)))) => {
                    anyhow::bail!("{}: cannot read back the archive: {e}", part.display())
                }
                Some(Err(_)) => anyhow::bail!("{}: hashing the archive failed", part.display()),
            };
            synced.with_context(|| format!("{}: fsync", part.display()))?;
            Ok(whole)
        })?;
        // Closed before the rename: Windows refuses to rename a file that is still open
        // without FILE_SHARE_DELETE.
        drop(file);
        if self.final_path.exists() {
            anyhow::bail!(
                "{}: appeared while collecting; the finished bundle stays at {}",
                self.final_path.display(),
                part.display()
            );
        }
        std::fs::rename(&part, &self.final_path).with_context(|| {
            format!(
                "renaming {} to {}",
                part.display(),
                self.final_path.display()
            )
        })?;
        if let Some(dir) = self.final_path.parent() {
            sync_dir(dir);
        }
        Ok(Finished {
            path: self.final_path,
            len,
            members,
            whole_sha256,
        })
    }
}

/// fsync a directory so a rename survives power loss (best effort; not on Windows).
pub fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    #[cfg(not(unix))]
    let _ = dir;
}
