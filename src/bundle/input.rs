//! What `verify` and `report` read: a bundle file, or an encrypted one (`NAME.zip.age`)
//! decrypted on the fly — random access over authenticated chunks, the plain archive
//! never written anywhere.
//!
//! Owns opening either kind behind one `Read + Seek` type, and the first full pass over
//! an encrypted file: every chunk is authenticated (and the encrypted file hashed, for
//! its sidecars) before anything is parsed, so a changed byte is named as such and not
//! as whatever ZIP damage it would look like. Never decrypts without an identity.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;

use super::age::{self, Identity, OpenError};

pub enum BundleInput {
    Plain(File),
    Age {
        reader: Box<age::Reader<File>>,
        file_key: [u8; 16],
        path: std::path::PathBuf,
        /// SHA-256 of the encrypted file (its sidecars are of it).
        encrypted_sha256: [u8; 32],
        /// SHA-256 of the plain archive (what `age -d` gives back).
        inner_sha256: [u8; 32],
    },
}

/// Whether `path` names an encrypted bundle (by name, or by its first bytes).
pub fn is_encrypted(path: &Path) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    if name.ends_with(".age") {
        return true;
    }
    let mut head = [0u8; 21];
    File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .map(|_| &head == b"age-encryption.org/v1")
        .unwrap_or(false)
}

impl BundleInput {
    pub fn open_plain(path: &Path) -> io::Result<BundleInput> {
        File::open(path).map(BundleInput::Plain)
    }

    /// Open an encrypted bundle with `identities`, authenticating all of it first.
    pub fn open_encrypted(path: &Path, identities: &[Identity]) -> Result<BundleInput, OpenError> {
        let file = File::open(path).map_err(OpenError::Io)?;
        let len = file.metadata().map_err(OpenError::Io)?.len();
        let mut reader = age::Reader::open(file, len, identities)?;
        let (encrypted_sha256, inner_sha256) = reader.authenticate_all().map_err(|e| {
            if e.kind() == io::ErrorKind::InvalidData {
                OpenError::Damaged(e.to_string())
            } else {
                OpenError::Io(e)
            }
        })?;
        let file_key = reader.file_key();
        Ok(BundleInput::Age {
            reader: Box::new(reader),
            file_key,
            path: path.to_path_buf(),
            encrypted_sha256,
            inner_sha256,
        })
    }

    /// Length of what is read: the file, or the plain archive inside it.
    pub fn byte_len(&self) -> io::Result<u64> {
        match self {
            BundleInput::Plain(f) => f.metadata().map(|m| m.len()),
            BundleInput::Age { reader, .. } => Ok(reader.len()),
        }
    }

    pub fn is_file(&self) -> io::Result<bool> {
        match self {
            BundleInput::Plain(f) => f.metadata().map(|m| m.is_file()),
            BundleInput::Age { .. } => Ok(true),
        }
    }

    /// A second, independent reader of the same bundle.
    pub fn try_clone(&self) -> io::Result<BundleInput> {
        match self {
            BundleInput::Plain(f) => f.try_clone().map(BundleInput::Plain),
            BundleInput::Age {
                file_key,
                path,
                encrypted_sha256,
                inner_sha256,
                ..
            } => {
                let file = File::open(path)?;
                let len = file.metadata()?.len();
                let reader = age::Reader::open(file, len, &[Identity::FileKey(*file_key)])
                    .map_err(|e| io::Error::other(e.to_string()))?;
                Ok(BundleInput::Age {
                    reader: Box::new(reader),
                    file_key: *file_key,
                    path: path.clone(),
                    encrypted_sha256: *encrypted_sha256,
                    inner_sha256: *inner_sha256,
                })
            }
        }
    }

    /// For an encrypted bundle: (encrypted file's SHA-256, plain archive's SHA-256).
    pub fn digests(&self) -> Option<([u8; 32], [u8; 32])> {
        match self {
            BundleInput::Plain(_) => None,
            BundleInput::Age {
                encrypted_sha256,
                inner_sha256,
                ..
            } => Some((*encrypted_sha256, *inner_sha256)),
        }
    }
}

impl Read for BundleInput {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            BundleInput::Plain(f) => f.read(buf),
            BundleInput::Age { reader, .. } => reader.read(buf),
        }
    }
}

impl Seek for BundleInput {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        match self {
            BundleInput::Plain(f) => f.seek(to),
            BundleInput::Age { reader, .. } => reader.seek(to),
        }
    }
}
