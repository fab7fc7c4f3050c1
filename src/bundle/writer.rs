//! The bundle writer: content members under `files/` (each stored once per distinct
//! content), metadata members, `compressed.jsonl` when any member is deflated, then
//! SHA256SUMS and its signature, then the ZIP's central directory — in that order, so
//! SHA256SUMS lists every member in archive order.
//!
//! Writes the archive as `NAME.zip.part` and seals it (central directory, fsync); the
//! steps from there to the final name — verify-after-write, sidecars, renames — are
//! `collect`'s, in the order `lifecycle` documents, so a killed run never leaves a file
//! that looks complete. Never finalizes implicitly (dropping a writer leaves the `.part`
//! as it is), never renames, never overwrites an existing file.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use sha2::{Digest, Sha256};

use super::age;
use super::compress::{self, Compression, Deflated};
use super::naming::MemberNames;
use super::verify::early::{self, EarlyVerifier, Prefix};
use super::zipwriter::{Output, ZipWriter};
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

/// The archive's destination: the `.part` file itself, or (with `--encrypt-to`) an
/// age stream into it, so the plain archive never reaches the device.
pub enum Sink {
    Plain(File),
    Age(Box<age::Writer<File>>),
}

impl io::Write for Sink {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        match self {
            Sink::Plain(f) => f.write(b),
            Sink::Age(w) => w.write(b),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Sink::Plain(f) => f.flush(),
            Sink::Age(w) => w.flush(),
        }
    }
}

impl io::Seek for Sink {
    fn seek(&mut self, to: io::SeekFrom) -> io::Result<u64> {
        match self {
            Sink::Plain(f) => f.seek(to),
            Sink::Age(w) => w.seek(to),
        }
    }
}

impl Output for Sink {
    fn truncate_to(&mut self, len: u64) -> io::Result<()> {
        match self {
            Sink::Plain(f) => f.set_len(len),
            Sink::Age(w) if w.position() == len => Ok(()),
            Sink::Age(_) => Err(io::Error::other(
                "internal error: an encrypted bundle cannot be cut back",
            )),
        }
    }
}

/// A streamed member of an encrypted bundle, held until its hash says whether it is
/// kept: its bytes go to an unlinked temporary file on the output device, encrypted
/// (age, to a key that exists only in this process's memory), never in plain text.
struct Spooled {
    name: Arc<str>,
    mtime: Option<i64>,
    /// The size recorded before it was read (decides the local header's ZIP64 form).
    expected: u64,
    writer: age::Writer<File>,
    secret: [u8; 32],
    crc: crc32fast::Hasher,
}

pub struct BundleWriter {
    zip: ZipWriter<Sink>,
    /// With `--encrypt-to`: the file key (to read our own output back) and the member
    /// being spooled.
    encrypted: Option<[u8; 16]>,
    spooled: Option<Spooled>,
    dir: PathBuf,
    part_path: PathBuf,
    final_path: PathBuf,
    names: MemberNames,
    sums: Vec<(Arc<str>, [u8; 32])>,
    by_content: HashMap<[u8; 32], Arc<str>>,
    open_member: Option<Arc<str>>,
    stored_bytes: u64,
    /// The header time of every member outside `files/`: the manifest's
    /// `times.start_utc` (`zipwriter::header_time`), so that it is bound to signed content.
    metadata_mtime: Option<i64>,
    /// The first write failure: every later operation reports it instead of a confusing
    /// follow-up error, and the archive is never finalized.
    failed: Option<String>,
    /// `--compress`. Streamed members of an encrypted bundle are spooled, and stored.
    compression: Compression,
    /// Verify-after-write overlapping the writing (`verify::early`), and the offset up
    /// to which it was handed the archive.
    early: Option<EarlyVerifier>,
    published: u64,
}

/// The sealed archive: complete and fsynced, still under its `.part` name.
#[derive(Debug, Clone)]
pub struct Finished {
    /// Where it is: `NAME.zip.part`.
    pub path: PathBuf,
    /// The name it gets once finalized: `NAME.zip`.
    pub final_path: PathBuf,
    pub len: u64,
    pub members: usize,
    /// SHA-256 of the whole archive as written (page cache), when `finish` was asked
    /// (of the encrypted file, for an encrypted bundle).
    pub whole_sha256: Option<[u8; 32]>,
    /// Encrypted bundles: the plain archive's SHA-256 (what `age -d` gives back) and the
    /// file key (for verify-after-write; never written anywhere).
    pub inner_sha256: Option<[u8; 32]>,
    pub file_key: Option<[u8; 16]>,
    /// What verify-after-write read back while the archive was written (`verify::early`),
    /// or why it could not; `None` when it was not started.
    pub early: Option<Result<Prefix, String>>,
}

impl BundleWriter {
    /// Create `dir/<file_name>.part` (never overwriting anything). `metadata_mtime`: the
    /// header time of every member outside `files/` (the manifest's start time, through
    /// `zipwriter::header_time`).
    pub fn create(
        dir: &Path,
        file_name: &str,
        metadata_mtime: Option<i64>,
    ) -> anyhow::Result<Self> {
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
            zip: ZipWriter::new(Sink::Plain(file)),
            encrypted: None,
            spooled: None,
            dir: dir.to_path_buf(),
            part_path,
            final_path,
            names: MemberNames::new(),
            sums: Vec::new(),
            by_content: HashMap::new(),
            open_member: None,
            stored_bytes: 0,
            metadata_mtime,
            failed: None,
            compression: Compression::Never,
            early: None,
            published: 0,
        })
    }

    /// Start reading the archive back while it is written (`verify::early`): plain
    /// bundles on Linux. Returns whether it started; when it does not, verify-after-write
    /// reads the whole bundle after sealing, as it always did.
    pub fn verify_early(&mut self, algs: crate::hashing::AlgSet) -> bool {
        if !cfg!(target_os = "linux") || self.encrypted.is_some() || self.early.is_some() {
            return false;
        }
        match EarlyVerifier::start(&self.part_path, algs) {
            Ok(v) => {
                self.early = Some(v);
                true
            }
            Err(_) => false,
        }
    }

    /// Hand the completed members to the early read-back once there are `early::STEP`
    /// new bytes of them (or any, with `all`).
    fn publish(&mut self, all: bool) -> io::Result<()> {
        if self.early.is_none() {
            return Ok(());
        }
        let end = self.zip.completed_end();
        if end <= self.published || (!all && end - self.published < early::STEP) {
            return Ok(());
        }
        let r = self.zip.seal_to(end);
        self.note(r)?;
        if let Some(v) = &self.early {
            v.publish(end);
        }
        self.published = end;
        Ok(())
    }

    /// Deflate members from now on where it pays (`compress`), or never.
    pub fn set_compression(&mut self, c: Compression) {
        self.compression = c;
    }

    pub fn compression(&self) -> Compression {
        self.compression
    }

    /// Create `dir/<file_name>.age.part`: the archive is encrypted to `recipients` as it
    /// is written (age v1), append-only, and renamed `<file_name>.age` when finalized.
    pub fn create_encrypted(
        dir: &Path,
        file_name: &str,
        metadata_mtime: Option<i64>,
        recipients: &[age::Recipient],
    ) -> anyhow::Result<Self> {
        let mut w = Self::create(dir, &format!("{file_name}.age"), metadata_mtime)?;
        // A second handle on the new, still empty .part: the plain writer made by
        // `create` is dropped unused.
        let file = OpenOptions::new()
            .write(true)
            .open(&w.part_path)
            .with_context(|| format!("{}: cannot open bundle", w.part_path.display()))?;
        let (age, key) = age::Writer::new(file, recipients)
            .with_context(|| format!("{}: writing the age header", w.part_path.display()))?;
        w.zip = ZipWriter::new(Sink::Age(Box::new(age)));
        w.encrypted = Some(key);
        Ok(w)
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

    /// Store a file whose bytes are all in memory (or point at its earlier copy);
    /// `expected_size`: its size as recorded when it was opened; `deflated`: its Deflate
    /// form, made by the caller outside the lock (`compress::deflate_if_worth`), written
    /// instead of `data` unless compression is off.
    #[allow(clippy::too_many_arguments)]
    pub fn store(
        &mut self,
        components: &[&OsStr],
        data: &[u8],
        deflated: Option<&Deflated>,
        sha256: [u8; 32],
        mtime: Option<i64>,
        expected_size: u64,
    ) -> io::Result<Stored> {
        self.check()?;
        if let Some(existing) = self.stored_as(&sha256) {
            return Ok(Stored::Duplicate(existing));
        }
        let name: Arc<str> = self.names.assign(components).into();
        let deflated = deflated.filter(|_| self.compression == Compression::Auto);
        let r = self
            .zip
            .add_expected(&name, data, deflated, mtime, MEMBER_MODE, expected_size);
        self.note(r)?;
        self.stored_bytes += data.len() as u64;
        self.sums.push((name.clone(), sha256));
        self.by_content.insert(sha256, name.clone());
        self.publish(false)?;
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
        if self.encrypted.is_some() {
            let r = self.new_spool(name.clone(), mtime, expected_size);
            self.spooled = Some(self.note(r)?);
            self.open_member = Some(name);
            return Ok(());
        }
        let r = self
            .zip
            .begin(&name, mtime, MEMBER_MODE, expected_size, self.compression);
        self.note(r)?;
        self.open_member = Some(name);
        Ok(())
    }

    /// How many more bytes the streaming member can take (4 GiB − 1 without ZIP64).
    pub fn max_stream_len(&self) -> u64 {
        // A spooled member's header is written once its size is known (ZIP64 when it
        // needs it): no cap.
        if self.spooled.is_some() {
            return u64::MAX;
        }
        self.zip.max_stream_len()
    }

    pub fn write_chunk(&mut self, data: &[u8]) -> io::Result<()> {
        self.check()?;
        if let Some(s) = self.spooled.as_mut() {
            s.crc.update(data);
            let r = io::Write::write_all(&mut s.writer, data);
            return self.note(r);
        }
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
        if let Some(spooled) = self.spooled.take() {
            if let Some(existing) = self.stored_as(&sha256) {
                // Dropped: the spool file is unlinked and its key forgotten.
                return Ok(Stored::Duplicate(existing));
            }
            let r = self.add_spooled(spooled, sha256, len);
            self.note(r)?;
        } else {
            if let Some(existing) = self.stored_as(&sha256) {
                let r = self.zip.abort();
                self.note(r)?;
                return Ok(Stored::Duplicate(existing));
            }
            let r = self.zip.end();
            self.note(r)?;
        }
        self.stored_bytes += len;
        self.sums.push((name.clone(), sha256));
        self.by_content.insert(sha256, name.clone());
        self.publish(false)?;
        Ok(Stored::New(name))
    }

    /// A spool for one member of an encrypted bundle, under a key of its own.
    fn new_spool(&self, name: Arc<str>, mtime: Option<i64>, expected: u64) -> io::Result<Spooled> {
        let mut secret = [0u8; 32];
        getrandom::getrandom(&mut secret).map_err(|e| io::Error::other(e.to_string()))?;
        let file = tempfile::tempfile_in(&self.dir)?;
        let (writer, _) = age::Writer::new(file, &[age::Recipient::from_secret(&secret)])?;
        Ok(Spooled {
            name,
            mtime,
            expected,
            writer,
            secret,
            crc: crc32fast::Hasher::new(),
        })
    }

    /// Copy a spooled member into the archive: its header is written once with the
    /// final CRC and size, then its bytes, decrypted from the spool chunk by chunk (each
    /// authenticated) and hashed again: they must be the bytes whose SHA-256 was taken.
    fn add_spooled(&mut self, s: Spooled, sha256: [u8; 32], len: u64) -> io::Result<()> {
        use io::Seek;
        let (mut file, spooled_sha, n) = s.writer.finish()?;
        if n != len || spooled_sha != sha256 {
            return Err(io::Error::other(format!(
                "{}: the spooled copy ({n} bytes) is not what was hashed ({len} bytes)",
                s.name
            )));
        }
        let total = file.seek(io::SeekFrom::End(0))?;
        let mut reader =
            age::Reader::open(file, total, &[age::Identity::X25519 { secret: s.secret }]).map_err(
                |e| io::Error::other(format!("{}: reading the spool back: {e}", s.name)),
            )?;
        let mut hashing = HashingReader {
            inner: &mut reader,
            sha: Sha256::new(),
        };
        self.zip.add_known(
            &s.name,
            s.mtime,
            MEMBER_MODE,
            s.crc.finalize(),
            len,
            s.expected,
            &mut hashing,
        )?;
        let again: [u8; 32] = hashing.sha.finalize().into();
        if again != sha256 {
            return Err(io::Error::other(format!(
                "{}: the spool read back differs from what was hashed",
                s.name
            )));
        }
        Ok(())
    }

    /// Abandon the streaming member (nothing of it remains in the archive).
    pub fn abort(&mut self) -> io::Result<()> {
        if self.spooled.take().is_some() {
            self.open_member = None;
            return Ok(());
        }
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
        let deflated = (self.compression == Compression::Auto && !always_stored(name))
            .then(|| compress::deflate_if_worth(data))
            .flatten();
        let len = data.len() as u64;
        self.zip
            .add_expected(
                name,
                data,
                deflated.as_ref(),
                self.metadata_mtime,
                MEMBER_MODE,
                len,
            )
            .with_context(|| format!("{}: writing {name}", self.part_path.display()))?;
        self.sums.push((name.into(), sha));
        self.publish(false)
            .with_context(|| format!("{}: writing {name}", self.part_path.display()))?;
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
        let mtime = self.metadata_mtime;
        let part_display = self.part_path.display().to_string();
        let ctx = || format!("{part_display}: writing {name}");
        if self.encrypted.is_some() {
            // Append-only: spooled (encrypted) first, so the header is written once with
            // its CRC and size.
            let mut spool = self.new_spool(name.into(), mtime, len).with_context(ctx)?;
            let mut hasher = Sha256::new();
            let mut n = 0u64;
            let mut buf = vec![0u8; 1 << 20];
            loop {
                let k = reader.read(&mut buf).with_context(ctx)?;
                if k == 0 {
                    break;
                }
                hasher.update(&buf[..k]);
                spool.crc.update(&buf[..k]);
                io::Write::write_all(&mut spool.writer, &buf[..k]).with_context(ctx)?;
                n += k as u64;
            }
            let sha: [u8; 32] = hasher.finalize().into();
            let r = self.add_spooled(spool, sha, n);
            self.note(r).with_context(ctx)?;
            self.sums.push((name.into(), sha));
            return Ok(sha);
        }
        self.zip
            .begin(name, mtime, MEMBER_MODE, len, self.compression)
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
        self.publish(false).with_context(ctx)?;
        Ok(sha)
    }

    /// Write SHA256SUMS and its signature, the central directory; fsync. The sealed
    /// archive keeps its `.part` name (`lifecycle` gives it its final name). With
    /// `hash_whole`, the whole archive is hashed on a second thread while the fsync waits
    /// for the device: the two overlap instead of adding up (a run without
    /// verify-after-write needs the hash for its sidecar).
    pub fn finish(mut self, signer: &Signer, hash_whole: bool) -> anyhow::Result<Finished> {
        self.check()?;
        // Everything but the last members and the central directory goes to the early
        // read-back now; it reads while they are written and the file is synced.
        self.publish(true)?;
        let early = self.early.take();
        let forms = compressed_jsonl(self.zip.deflated());
        if !forms.is_empty() {
            self.add_metadata(super::COMPRESSED_JSONL, forms.as_bytes())?;
        }
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
        let (sink, len): (Sink, u64) = self
            .zip
            .finish()
            .with_context(|| format!("{}: writing the central directory", part.display()))?;
        let (file, inner_sha256) = match sink {
            Sink::Plain(f) => (f, None),
            Sink::Age(w) => {
                let (f, digest, _) = w
                    .finish()
                    .with_context(|| format!("{}: sealing the encryption", part.display()))?;
                (f, Some(digest))
            }
        };
        super::lifecycle::test_phase("central-directory");
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
        drop(file);
        let early = early.map(EarlyVerifier::finish);
        let len = if inner_sha256.is_some() {
            std::fs::metadata(&part).map(|m| m.len()).unwrap_or(len)
        } else {
            len
        };
        Ok(Finished {
            path: part,
            final_path: self.final_path,
            len,
            members,
            whole_sha256,
            inner_sha256,
            file_key: self.encrypted,
            early,
        })
    }
}

/// Members never deflated: what a reader needs before anything else (the sums, their
/// signature, the stored forms), and the signer's key.
pub fn always_stored(name: &str) -> bool {
    matches!(
        name,
        SUMS | SUMS_SIG | super::COMPRESSED_JSONL | super::SIGNER_PUB
    )
}

/// `compressed.jsonl`: one line per Deflate member, in archive order.
pub fn compressed_jsonl(forms: &[super::zipwriter::DeflatedForm]) -> String {
    let mut out = String::new();
    for f in forms {
        let line = serde_json::json!({
            "member": f.name,
            "method": "deflate",
            "stored_size": f.csize,
            "stored_sha256": hex(&f.stored_sha256),
        });
        out.push_str(&line.to_string());
        out.push('\n');
    }
    out
}

/// Hashes what passes through.
struct HashingReader<'a, R: Read> {
    inner: &'a mut R,
    sha: Sha256,
}

impl<R: Read> Read for HashingReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.sha.update(&buf[..n]);
        Ok(n)
    }
}
