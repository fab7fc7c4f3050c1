//! The age encryption format v1 (C2SP age, https://age-encryption.org/v1), exactly as
//! much of it as fieldkit needs: X25519 (`age1…`) and `ssh-ed25519` recipients and
//! identities, the header with its HMAC, and the STREAM payload (ChaCha20-Poly1305 in
//! 64 KiB chunks with counter nonces).
//!
//! Why not the `age` crate: 0.12 adds about 80 crates to a binary that ships on a USB
//! stick, and its SSH support pulls `rsa` (RUSTSEC-2023-0071). What is here is the
//! specification's two recipient types over RustCrypto primitives already in the tree
//! (curve25519-dalek via ed25519-dalek, ChaCha20/Poly1305, HMAC, SHA-2) plus two small
//! crates (chacha20poly1305, hkdf); it is checked against the stock `age` CLI in both
//! directions (tests/encrypted_bundle.rs).
//!
//! Owns: parsing recipients and identities, writing an encrypted stream append-only
//! (never a byte rewritten: a chunk nonce is never used twice), and reading one with
//! random access, every chunk authenticated before its bytes are returned. Never holds a
//! file key longer than its writer or reader, and never returns unauthenticated
//! plaintext: a wrong key, a truncated file or a changed byte is a clear error.

use std::io::{self, Read, Seek, SeekFrom, Write};

use curve25519_dalek::edwards::CompressedEdwardsY;
use curve25519_dalek::montgomery::MontgomeryPoint;
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256, Sha512};

const INTRO: &[u8] = b"age-encryption.org/v1\n";
const X25519_LABEL: &[u8] = b"age-encryption.org/v1/X25519";
const SSH_LABEL: &[u8] = b"age-encryption.org/v1/ssh-ed25519";
/// Plaintext bytes per payload chunk.
pub const CHUNK: usize = 64 * 1024;
const TAG: usize = 16;
/// A header longer than this is not one fieldkit (or age) wrote.
const MAX_HEADER: usize = 64 * 1024;

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD_NO_PAD
}

fn random<const N: usize>() -> io::Result<[u8; N]> {
    let mut b = [0u8; N];
    getrandom::getrandom(&mut b).map_err(|e| io::Error::other(format!("no randomness: {e}")))?;
    Ok(b)
}

fn hkdf(ikm: &[u8], salt: &[u8], info: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    // 32 bytes is always a valid HKDF-SHA-256 output length.
    let _ = Hkdf::<Sha256>::new(Some(salt), ikm).expand(info, &mut out);
    out
}

/// Whom a bundle is encrypted to.
#[derive(Clone, PartialEq, Eq)]
pub enum Recipient {
    X25519 {
        public: [u8; 32],
        text: String,
    },
    SshEd25519 {
        wire: Vec<u8>,
        ed25519: [u8; 32],
        text: String,
    },
}

impl std::fmt::Debug for Recipient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.text())
    }
}

impl Recipient {
    /// `age1…` or an OpenSSH `ssh-ed25519 AAAA… [comment]` line.
    pub fn parse(text: &str) -> Result<Recipient, String> {
        let t = text.trim();
        if t.starts_with("age1") {
            let (hrp, data) =
                bech32::decode(t).map_err(|e| format!("{t:?}: not an age recipient: {e}"))?;
            if hrp.as_str() != "age" || data.len() != 32 {
                return Err(format!("{t:?}: not an age X25519 recipient"));
            }
            let mut public = [0u8; 32];
            public.copy_from_slice(&data);
            return Ok(Recipient::X25519 {
                public,
                text: t.to_string(),
            });
        }
        if t.starts_with("ssh-ed25519 ") {
            let key = ssh_key::PublicKey::from_openssh(t)
                .map_err(|e| format!("{t:?}: not an OpenSSH public key: {e}"))?;
            let Some(ed) = key.key_data().ed25519() else {
                return Err(format!("{t:?}: not an Ed25519 key"));
            };
            let wire = key
                .to_bytes()
                .map_err(|e| format!("{t:?}: cannot encode: {e}"))?;
            return Ok(Recipient::SshEd25519 {
                wire,
                ed25519: ed.0,
                text: t.to_string(),
            });
        }
        if t.starts_with("ssh-rsa ") || t.starts_with("ecdsa-") || t.starts_with("sk-") {
            return Err(format!(
                "{}: only age X25519 (age1…) and ssh-ed25519 recipients are supported (RSA \
                 would need the rsa crate, RUSTSEC-2023-0071)",
                t.split_whitespace().next().unwrap_or(t)
            ));
        }
        Err(format!(
            "{t:?}: not a recipient (expected age1… or ssh-ed25519 AAAA…, or a file of them)"
        ))
    }

    /// `--encrypt-to`: a recipient, or a file with one per line (`#` comments).
    pub fn parse_arg(arg: &str) -> Result<Vec<Recipient>, String> {
        if arg.starts_with("age1") || arg.starts_with("ssh-") {
            return Recipient::parse(arg).map(|r| vec![r]);
        }
        let text = std::fs::read_to_string(arg)
            .map_err(|e| format!("{arg}: not a recipient, and cannot read it as a file: {e}"))?;
        let mut out = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            out.push(Recipient::parse(line).map_err(|e| format!("{arg}:{}: {e}", i + 1))?);
        }
        if out.is_empty() {
            return Err(format!("{arg}: no recipient in the file"));
        }
        Ok(out)
    }

    /// The X25519 recipient of a secret key (the writer's own spool key).
    pub fn from_secret(secret: &[u8; 32]) -> Recipient {
        Recipient::X25519 {
            public: MontgomeryPoint::mul_base_clamped(*secret).to_bytes(),
            text: "spool".into(),
        }
    }

    pub fn text(&self) -> &str {
        match self {
            Recipient::X25519 { text, .. } | Recipient::SshEd25519 { text, .. } => text,
        }
    }

    fn stanza(&self, file_key: &[u8; 16]) -> io::Result<String> {
        let e: [u8; 32] = random()?;
        let share = MontgomeryPoint::mul_base_clamped(e);
        let (kind, args, shared, salt, label) = match self {
            Recipient::X25519 { public, .. } => {
                let shared = MontgomeryPoint(*public).mul_clamped(e);
                let mut salt = share.to_bytes().to_vec();
                salt.extend_from_slice(public);
                (
                    "X25519",
                    String::new(),
                    shared.to_bytes(),
                    salt,
                    X25519_LABEL,
                )
            }
            Recipient::SshEd25519 { wire, ed25519, .. } => {
                let pk = CompressedEdwardsY(*ed25519)
                    .decompress()
                    .ok_or_else(|| io::Error::other("the ssh-ed25519 key is not a curve point"))?
                    .to_montgomery();
                let tweak = hkdf(&[], wire, SSH_LABEL);
                let shared = MontgomeryPoint(pk.mul_clamped(e).to_bytes()).mul_clamped(tweak);
                let mut salt = share.to_bytes().to_vec();
                salt.extend_from_slice(&pk.to_bytes());
                let tag = &Sha256::digest(wire)[..4];
                (
                    "ssh-ed25519",
                    format!(" {}", base64::Engine::encode(&b64(), tag)),
                    shared.to_bytes(),
                    salt,
                    SSH_LABEL,
                )
            }
        };
        if shared == [0u8; 32] {
            return Err(io::Error::other(
                "recipient key gives an all-zero shared secret",
            ));
        }
        let wrap = hkdf(&shared, &salt, label);
        let body = fieldkit_chunk_aead::seal(&wrap, &[0u8; 12], &file_key[..])
            .ok_or_else(|| io::Error::other("wrapping the file key failed"))?;
        let mut s = format!(
            "-> {kind}{args} {}\n",
            base64::Engine::encode(&b64(), share.to_bytes())
        );
        s.push_str(&wrap_lines(&base64::Engine::encode(&b64(), body)));
        Ok(s)
    }
}

/// Base64 body lines of a stanza: 64 columns, the last line shorter (maybe empty).
fn wrap_lines(b: &str) -> String {
    let mut s = String::new();
    let mut rest = b;
    loop {
        let (line, tail) = rest.split_at(rest.len().min(64));
        s.push_str(line);
        s.push('\n');
        if line.len() < 64 {
            break;
        }
        rest = tail;
    }
    s
}

/// Who can decrypt: an age X25519 secret key, an OpenSSH Ed25519 private key, or (in
/// collect's own verify-after-write) the file key itself.
pub enum Identity {
    X25519 {
        secret: [u8; 32],
    },
    SshEd25519 {
        wire: Vec<u8>,
        secret: [u8; 32],
        tag: [u8; 4],
    },
    FileKey([u8; 16]),
}

impl Identity {
    /// An identity file: `AGE-SECRET-KEY-1…` lines (as age-keygen writes) or one OpenSSH
    /// private key (Ed25519; `passphrase` is asked only if it is encrypted).
    pub fn load(
        path: &std::path::Path,
        passphrase: &mut dyn FnMut() -> anyhow::Result<String>,
    ) -> anyhow::Result<Vec<Identity>> {
        use anyhow::{Context, anyhow, bail};
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("{}: cannot read identity file", path.display()))?;
        if text.contains("-----BEGIN OPENSSH PRIVATE KEY-----") {
            let mut key = ssh_key::PrivateKey::from_openssh(text.trim())
                .map_err(|e| anyhow!("{}: not an OpenSSH private key: {e}", path.display()))?;
            if key.is_encrypted() {
                key = key
                    .decrypt(passphrase()?.as_bytes())
                    .map_err(|_| anyhow!("{}: wrong passphrase", path.display()))?;
            }
            let Some(pair) = key.key_data().ed25519() else {
                bail!(
                    "{}: not an Ed25519 key (only ssh-ed25519 identities are supported)",
                    path.display()
                );
            };
            let wire = key.public_key().to_bytes().map_err(|e| anyhow!("{e}"))?;
            let h = Sha512::digest(pair.private.as_ref());
            let mut secret = [0u8; 32];
            secret.copy_from_slice(&h[..32]);
            let mut tag = [0u8; 4];
            tag.copy_from_slice(&Sha256::digest(&wire)[..4]);
            return Ok(vec![Identity::SshEd25519 { wire, secret, tag }]);
        }
        let mut out = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (hrp, data) = bech32::decode(line)
                .map_err(|e| anyhow!("{}:{}: not an age identity: {e}", path.display(), i + 1))?;
            if !hrp.as_str().eq_ignore_ascii_case("age-secret-key-") || data.len() != 32 {
                bail!("{}:{}: not an age X25519 identity", path.display(), i + 1);
            }
            let mut secret = [0u8; 32];
            secret.copy_from_slice(&data);
            out.push(Identity::X25519 { secret });
        }
        if out.is_empty() {
            bail!("{}: no identity in the file", path.display());
        }
        Ok(out)
    }

    /// The file key, if this identity opens the stanza.
    fn unwrap(&self, stanza: &Stanza) -> Option<[u8; 16]> {
        let share_of = |s: &str| -> Option<[u8; 32]> {
            let v = base64::Engine::decode(&b64(), s).ok()?;
            v.try_into().ok()
        };
        let (shared, salt, label) = match (self, stanza.kind.as_str(), stanza.args.as_slice()) {
            (Identity::X25519 { secret }, "X25519", [share]) => {
                let share = share_of(share)?;
                let shared = MontgomeryPoint(share).mul_clamped(*secret);
                let public = MontgomeryPoint::mul_base_clamped(*secret);
                let mut salt = share.to_vec();
                salt.extend_from_slice(&public.to_bytes());
                (shared.to_bytes(), salt, X25519_LABEL)
            }
            (Identity::SshEd25519 { wire, secret, tag }, "ssh-ed25519", [t, share]) => {
                if base64::Engine::decode(&b64(), t).ok()?.as_slice() != tag {
                    return None;
                }
                let share = share_of(share)?;
                let tweak = hkdf(&[], wire, SSH_LABEL);
                let dh = MontgomeryPoint(share).mul_clamped(*secret);
                let shared = MontgomeryPoint(dh.to_bytes()).mul_clamped(tweak);
                let public = MontgomeryPoint::mul_base_clamped(*secret);
                let mut salt = share.to_vec();
                salt.extend_from_slice(&public.to_bytes());
                (shared.to_bytes(), salt, SSH_LABEL)
            }
            _ => return None,
        };
        let wrap = hkdf(&shared, &salt, label);
        let key = fieldkit_chunk_aead::open(&wrap, &[0u8; 12], stanza.body.as_slice())?;
        key.try_into().ok()
    }
}

struct Stanza {
    kind: String,
    args: Vec<String>,
    body: Vec<u8>,
}

fn header_mac(file_key: &[u8; 16], header_up_to_dashes: &[u8]) -> [u8; 32] {
    let key = hkdf(file_key, &[], b"header");
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&key).expect("HMAC takes any key length");
    mac.update(header_up_to_dashes);
    mac.finalize().into_bytes().into()
}

fn payload_key(file_key: &[u8; 16], nonce: &[u8; 16]) -> [u8; 32] {
    hkdf(file_key, nonce, b"payload")
}

fn chunk_nonce(counter: u64, last: bool) -> [u8; 12] {
    let mut n = [0u8; 12];
    n[3..11].copy_from_slice(&counter.to_be_bytes());
    n[11] = u8::from(last);
    n
}

/// An age-encrypted stream being written, append-only: a full chunk is encrypted only
/// once the next byte arrives (so the last chunk is known to be last); nothing is ever
/// rewritten. `seek` answers only "where am I" (the ZIP writer asks), never moves.
pub struct Writer<W: Write> {
    inner: W,
    cipher: [u8; 32],
    buf: Vec<u8>,
    counter: u64,
    /// Plaintext bytes taken (the position the ZIP writer sees).
    pos: u64,
    /// SHA-256 of the plaintext (the inner bundle's digest after decryption).
    plain: Sha256,
    finished: bool,
}

impl<W: Write> Writer<W> {
    /// Write the header for `recipients` and the payload nonce; returns the writer and
    /// the file key (kept by the caller only to read its own output back).
    pub fn new(mut inner: W, recipients: &[Recipient]) -> io::Result<(Self, [u8; 16])> {
        if recipients.is_empty() {
            return Err(io::Error::other("no recipient"));
        }
        let file_key: [u8; 16] = random()?;
        let mut header = INTRO.to_vec();
        for r in recipients {
            header.extend_from_slice(r.stanza(&file_key)?.as_bytes());
        }
        header.extend_from_slice(b"---");
        let mac = header_mac(&file_key, &header);
        header.extend_from_slice(format!(" {}\n", base64::Engine::encode(&b64(), mac)).as_bytes());
        let nonce: [u8; 16] = random()?;
        inner.write_all(&header)?;
        inner.write_all(&nonce)?;
        Ok((
            Writer {
                inner,
                cipher: payload_key(&file_key, &nonce),
                buf: Vec::with_capacity(CHUNK),
                counter: 0,
                pos: 0,
                plain: Sha256::new(),
                finished: false,
            },
            file_key,
        ))
    }

    fn seal(&mut self, last: bool) -> io::Result<()> {
        let ct =
            fieldkit_chunk_aead::seal(&self.cipher, &chunk_nonce(self.counter, last), &self.buf)
                .ok_or_else(|| io::Error::other("encrypting a chunk failed"))?;
        self.counter = self
            .counter
            .checked_add(1)
            .ok_or_else(|| io::Error::other("too many chunks"))?;
        self.buf.clear();
        self.inner.write_all(&ct)
    }

    /// Encrypt the last chunk; returns the inner writer and the plaintext's SHA-256.
    pub fn finish(mut self) -> io::Result<(W, [u8; 32], u64)> {
        self.seal(true)?;
        self.finished = true;
        self.inner.flush()?;
        let digest = std::mem::take(&mut self.plain).finalize().into();
        Ok((self.inner, digest, self.pos))
    }

    pub fn position(&self) -> u64 {
        self.pos
    }
}

impl<W: Write> Write for Writer<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.finished {
            return Err(io::Error::other("the encrypted stream is finished"));
        }
        let mut rest = data;
        while !rest.is_empty() {
            if self.buf.len() == CHUNK {
                self.seal(false)?;
            }
            let take = (CHUNK - self.buf.len()).min(rest.len());
            self.buf.extend_from_slice(&rest[..take]);
            self.plain.update(&rest[..take]);
            rest = &rest[take..];
        }
        self.pos += data.len() as u64;
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        // Buffered plaintext stays in memory until it is sealed: only ciphertext is flushed.
        self.inner.flush()
    }
}

impl<W: Write> Seek for Writer<W> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let want = match to {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::Current(0) => Some(self.pos),
            SeekFrom::End(0) => Some(self.pos),
            _ => None,
        };
        match want {
            Some(p) if p == self.pos => Ok(p),
            _ => Err(io::Error::other(
                "an encrypted bundle is written append-only: nothing already written can be \
                 changed (internal error: the writer tried to go back)",
            )),
        }
    }
}

/// An age-encrypted file read with random access: every chunk is authenticated before
/// any of its bytes are returned, and `open` checks the header MAC and that the file ends
/// with the chunk marked last (so a truncated file is an error, not a shorter bundle).
pub struct Reader<R: Read + Seek> {
    inner: R,
    file_key: [u8; 16],
    cipher: [u8; 32],
    payload_start: u64,
    len: u64,
    chunks: u64,
    pos: u64,
    cached: Option<(u64, Vec<u8>)>,
}

/// Why an encrypted file cannot be read.
#[derive(Debug)]
pub enum OpenError {
    /// Not an age file, or a damaged header.
    Format(String),
    /// No identity opens any stanza.
    NoIdentity(String),
    /// Authentication failed: truncated, altered or damaged.
    Damaged(String),
    Io(io::Error),
}

impl std::fmt::Display for OpenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OpenError::Format(s) | OpenError::NoIdentity(s) | OpenError::Damaged(s) => {
                f.write_str(s)
            }
            OpenError::Io(e) => write!(f, "{e}"),
        }
    }
}

impl<R: Read + Seek> Reader<R> {
    pub fn open(mut inner: R, total_len: u64, identities: &[Identity]) -> Result<Self, OpenError> {
        inner.seek(SeekFrom::Start(0)).map_err(OpenError::Io)?;
        let mut head = vec![0u8; MAX_HEADER.min(total_len as usize)];
        inner.read_exact(&mut head).map_err(OpenError::Io)?;
        if !head.starts_with(INTRO) {
            return Err(OpenError::Format(
                "not an age-encrypted file (no age-encryption.org/v1 header)".into(),
            ));
        }
        // Lines up to "--- MAC\n".
        let mut stanzas = Vec::new();
        let mut at = INTRO.len();
        let line_end = |from: usize| -> Result<usize, OpenError> {
            head[from..]
                .iter()
                .position(|&b| b == b'\n')
                .map(|p| from + p)
                .ok_or_else(|| {
                    OpenError::Format(format!("the age header is incomplete (byte {from})"))
                })
        };
        let (mac_text, header_len) = loop {
            let end = line_end(at)?;
            let line = std::str::from_utf8(&head[at..end]).map_err(|_| {
                OpenError::Format(format!("the age header is not text (byte {at})"))
            })?;
            if let Some(mac) = line.strip_prefix("--- ") {
                break (mac.to_string(), end + 1);
            }
            let Some(rest) = line.strip_prefix("-> ") else {
                return Err(OpenError::Format(format!(
                    "unexpected age header line at byte {at}"
                )));
            };
            let mut parts = rest.split(' ');
            let kind = parts.next().unwrap_or("").to_string();
            let args: Vec<String> = parts.map(str::to_string).collect();
            at = end + 1;
            let mut body_text = String::new();
            loop {
                let end = line_end(at)?;
                let l = std::str::from_utf8(&head[at..end]).map_err(|_| {
                    OpenError::Format(format!("the age header is not text (byte {at})"))
                })?;
                body_text.push_str(l);
                at = end + 1;
                if l.len() < 64 {
                    break;
                }
            }
            let body = base64::Engine::decode(&b64(), &body_text).map_err(|_| {
                OpenError::Format(format!("a stanza body is not base64 (before byte {at})"))
            })?;
            stanzas.push(Stanza { kind, args, body });
        };
        let dashes_end = header_len - 1 - mac_text.len() - 1;
        let file_key = identities
            .iter()
            .find_map(|id| match id {
                Identity::FileKey(k) => Some(*k),
                _ => stanzas.iter().find_map(|s| id.unwrap(s)),
            })
            .ok_or_else(|| {
                let kinds: Vec<String> = stanzas
                    .iter()
                    .map(|s| match s.kind.as_str() {
                        "ssh-ed25519" => format!(
                            "ssh-ed25519 (tag {})",
                            s.args.first().cloned().unwrap_or_default()
                        ),
                        k => k.to_string(),
                    })
                    .collect();
                OpenError::NoIdentity(format!(
                    "none of the given identities can decrypt it (it is encrypted to: {})",
                    kinds.join(", ")
                ))
            })?;
        let mac = base64::Engine::decode(&b64(), &mac_text)
            .map_err(|_| OpenError::Format("the header MAC is not base64".into()))?;
        if mac != header_mac(&file_key, &head[..dashes_end]) {
            return Err(OpenError::Damaged(
                "the age header fails its MAC: it was altered or damaged".into(),
            ));
        }
        let payload_start = header_len as u64 + 16;
        let Some(ct_len) = total_len
            .checked_sub(payload_start)
            .filter(|&l| l >= TAG as u64)
        else {
            return Err(OpenError::Damaged(
                "truncated: the file ends before its first chunk".into(),
            ));
        };
        let mut nonce = [0u8; 16];
        nonce.copy_from_slice(head.get(header_len..header_len + 16).ok_or_else(|| {
            OpenError::Format(format!("the age header is longer than {MAX_HEADER} bytes"))
        })?);
        let full = (CHUNK + TAG) as u64;
        let chunks = ct_len.div_ceil(full);
        let last_len = ct_len - (chunks - 1) * full;
        if last_len < TAG as u64 {
            return Err(OpenError::Damaged(format!(
                "truncated or damaged: the last chunk has {last_len} bytes, fewer than its tag"
            )));
        }
        let len = ct_len - chunks * TAG as u64;
        let mut r = Reader {
            inner,
            file_key,
            cipher: payload_key(&file_key, &nonce),
            payload_start,
            len,
            chunks,
            pos: 0,
            cached: None,
        };
        // The last chunk must authenticate as the last: otherwise the file was cut.
        r.chunk(chunks - 1).map_err(|e| match e.kind() {
            io::ErrorKind::InvalidData => OpenError::Damaged(format!(
                "truncated or altered: the last chunk (number {}) does not authenticate as \
                 the end of the stream",
                chunks - 1
            )),
            _ => OpenError::Io(e),
        })?;
        Ok(r)
    }

    /// The file key (to open the same file again without the identity).
    pub fn file_key(&self) -> [u8; 16] {
        self.file_key
    }

    /// Plaintext length.
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Authenticate every chunk (one sequential pass), hashing the ciphertext file as it
    /// is read: returns the encrypted file's SHA-256 and the plaintext's.
    pub fn authenticate_all(&mut self) -> io::Result<([u8; 32], [u8; 32])> {
        let mut whole = Sha256::new();
        let mut plain = Sha256::new();
        self.inner.seek(SeekFrom::Start(0))?;
        let mut head = vec![0u8; self.payload_start as usize];
        self.inner.read_exact(&mut head)?;
        whole.update(&head);
        for i in 0..self.chunks {
            let (ct, pt) = self.read_chunk(i)?;
            whole.update(&ct);
            plain.update(&pt);
        }
        self.cached = None;
        Ok((whole.finalize().into(), plain.finalize().into()))
    }

    fn read_chunk(&mut self, index: u64) -> io::Result<(Vec<u8>, Vec<u8>)> {
        let full = (CHUNK + TAG) as u64;
        let offset = self.payload_start + index * full;
        let size = if index + 1 == self.chunks {
            self.len + self.chunks * TAG as u64 - index * full
        } else {
            full
        };
        self.inner.seek(SeekFrom::Start(offset))?;
        let mut ct = vec![0u8; size as usize];
        self.inner.read_exact(&mut ct)?;
        let last = index + 1 == self.chunks;
        let pt = fieldkit_chunk_aead::open(&self.cipher, &chunk_nonce(index, last), ct.as_slice())
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "encrypted chunk {index} (file offset {offset}) fails authentication: the \
                         encrypted bundle was altered, truncated or damaged"
                    ),
                )
            })?;
        if !last && pt.len() != CHUNK {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "a short chunk before the last",
            ));
        }
        Ok((ct, pt))
    }

    fn chunk(&mut self, index: u64) -> io::Result<&[u8]> {
        if self.cached.as_ref().map(|(i, _)| *i) != Some(index) {
            let (_, pt) = self.read_chunk(index)?;
            self.cached = Some((index, pt));
        }
        Ok(self
            .cached
            .as_ref()
            .map(|(_, v)| v.as_slice())
            .unwrap_or(&[]))
    }
}

impl<R: Read + Seek> Read for Reader<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.pos >= self.len || out.is_empty() {
            return Ok(0);
        }
        let index = self.pos / CHUNK as u64;
        let within = (self.pos % CHUNK as u64) as usize;
        let chunk = self.chunk(index)?;
        let n = (chunk.len() - within).min(out.len());
        out[..n].copy_from_slice(&chunk[within..within + n]);
        self.pos += n as u64;
        Ok(n)
    }
}

impl<R: Read + Seek> Seek for Reader<R> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let p = match to {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
            SeekFrom::End(d) => self.len.checked_add_signed(d),
        }
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "seek before the start"))?;
        self.pos = p;
        Ok(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn x25519_pair() -> (Recipient, Identity) {
        let secret: [u8; 32] = random().unwrap();
        let public = MontgomeryPoint::mul_base_clamped(secret).to_bytes();
        let hrp = bech32::Hrp::parse("age").unwrap();
        let text = bech32::encode::<bech32::Bech32>(hrp, &public).unwrap();
        (
            Recipient::parse(&text).unwrap(),
            Identity::X25519 { secret },
        )
    }

    fn encrypt(data: &[u8], to: &[Recipient]) -> Vec<u8> {
        let (mut w, _) = Writer::new(Vec::new(), to).unwrap();
        w.write_all(data).unwrap();
        w.finish().unwrap().0
    }

    #[test]
    fn round_trips_at_chunk_boundaries_with_random_access() {
        let (r, id) = x25519_pair();
        for size in [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK] {
            let data: Vec<u8> = (0..size).map(|i| (i * 7 % 251) as u8).collect();
            let ct = encrypt(&data, std::slice::from_ref(&r));
            let mut rd = Reader::open(
                io::Cursor::new(&ct),
                ct.len() as u64,
                std::slice::from_ref(&id),
            )
            .unwrap();
            assert_eq!(rd.len(), size as u64);
            let mut back = Vec::new();
            rd.read_to_end(&mut back).unwrap();
            assert_eq!(back, data, "size {size}");
            if size > 10 {
                rd.seek(SeekFrom::Start(size as u64 - 5)).unwrap();
                let mut tail = Vec::new();
                rd.read_to_end(&mut tail).unwrap();
                assert_eq!(tail, &data[size - 5..]);
            }
        }
    }

    #[test]
    fn wrong_key_truncation_and_tampering_are_distinct_errors() {
        let (r, id) = x25519_pair();
        let (_, other) = x25519_pair();
        let data = vec![42u8; 2 * CHUNK + 10];
        let ct = encrypt(&data, std::slice::from_ref(&r));
        let open = |b: &[u8], id: &Identity| {
            Reader::open(
                io::Cursor::new(b.to_vec()),
                b.len() as u64,
                std::slice::from_ref(id),
            )
        };
        assert!(matches!(open(&ct, &other), Err(OpenError::NoIdentity(_))));
        // Cut at a chunk boundary: the new last chunk was not sealed as the last.
        let header = ct.len() - (data.len() + 3 * TAG);
        let boundary = header + 2 * (CHUNK + TAG);
        assert!(matches!(
            open(&ct[..boundary], &id),
            Err(OpenError::Damaged(_))
        ));
        assert!(matches!(
            open(&ct[..ct.len() - 3], &id),
            Err(OpenError::Damaged(_))
        ));
        // A changed byte in the middle: found by the pass over every chunk.
        let mut bad = ct.clone();
        bad[header + CHUNK / 2] ^= 1;
        let mut rd = open(&bad, &id).unwrap();
        let e = rd.authenticate_all().unwrap_err();
        assert!(e.to_string().contains("chunk 0"), "{e}");
        // A changed header byte: the MAC.
        let mut bad = ct.clone();
        bad[header - 20] ^= 1;
        assert!(open(&bad, &id).is_err());
        let mut rd = open(&ct, &id).unwrap();
        rd.authenticate_all().unwrap();
    }

    #[test]
    fn mutated_and_cut_files_never_panic() {
        let (r, id) = x25519_pair();
        let ct = encrypt(&vec![7u8; CHUNK + 100], std::slice::from_ref(&r));
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for round in 0..600 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let mut b = ct.clone();
            match round % 3 {
                0 => b.truncate((x as usize) % (ct.len() + 1)),
                1 => {
                    let at = (x as usize) % b.len();
                    b[at] ^= (x >> 32) as u8 | 1;
                }
                _ => {
                    let at = (x as usize) % 300;
                    b.insert(at.min(b.len()), b'\n');
                }
            }
            if let Ok(mut rd) = Reader::open(
                io::Cursor::new(b.clone()),
                b.len() as u64,
                std::slice::from_ref(&id),
            ) {
                let _ = rd.authenticate_all();
                let mut out = Vec::new();
                let _ = rd.read_to_end(&mut out);
            }
        }
    }

    #[test]
    fn ssh_ed25519_recipients_round_trip() {
        let key = ssh_key::PrivateKey::random(
            &mut ssh_key::rand_core::OsRng,
            ssh_key::Algorithm::Ed25519,
        )
        .unwrap();
        let public = key.public_key().to_openssh().unwrap();
        let r = Recipient::parse(&public).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("id");
        std::fs::write(
            &path,
            key.to_openssh(ssh_key::LineEnding::LF).unwrap().as_bytes(),
        )
        .unwrap();
        let ids = Identity::load(&path, &mut || Ok(String::new())).unwrap();
        let ct = encrypt(b"evidence", &[r]);
        let mut rd = Reader::open(io::Cursor::new(&ct), ct.len() as u64, &ids).unwrap();
        let mut back = Vec::new();
        rd.read_to_end(&mut back).unwrap();
        assert_eq!(back, b"evidence");
        assert!(
            Recipient::parse("ssh-rsa AAAAB3NzaC1yc2E")
                .unwrap_err()
                .contains("RUSTSEC-2023-0071")
        );
    }
}
