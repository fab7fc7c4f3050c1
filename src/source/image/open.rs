//! Opening an image end to end: container → volume system → a file-system probe of every
//! volume, as one `Image` that says everything an examiner looks at before choosing a
//! profile (`fieldkit image info`) and hands each volume's bytes to a file-system reader.
//!
//! Owns `ImageError` (the one-line error every layer below returns: the file, what is
//! wrong, and the offset where it applies) and the place where a probed kind is turned
//! into a reader (`open_file_system`).
//!
//! Must never: write to anything, open a file system the probe did not recognise, or
//! fail the whole image for what only concerns one volume (a volume that cannot be read
//! keeps its place in the list with a note).

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;

use super::container::{self, ContainerInfo};
use super::fs::probe::{FsKind, probe};
use super::fs::{FileSystem, FsError};
use super::media::ReadAt;
use super::volume::{self, VolumeInfo, VolumeSystemInfo};

/// An image that could not be opened, or a structure in it that is unusable.
#[derive(Debug, Clone)]
pub struct ImageError {
    /// The file (or device) at fault: the one given, or the segment concerned.
    pub path: PathBuf,
    /// Stable reason code (`not_found`, `is_directory`, `empty`, `truncated`,
    /// `missing_segment`, `unsupported_format`, `damaged`, `io_error`, …).
    pub reason: &'static str,
    /// Byte offset in that file (or in the media) where the problem is, when known.
    pub offset: Option<u64>,
    pub detail: String,
}

impl ImageError {
    pub fn new(
        path: &Path,
        reason: &'static str,
        offset: Option<u64>,
        detail: impl Into<String>,
    ) -> Self {
        ImageError {
            path: path.to_path_buf(),
            reason,
            offset,
            detail: detail.into(),
        }
    }

    /// An OS error while doing `what` (`cannot open`, `cannot read`).
    pub fn io(path: &Path, offset: Option<u64>, what: &str, e: &io::Error) -> Self {
        let reason = match e.kind() {
            io::ErrorKind::NotFound => "not_found",
            io::ErrorKind::PermissionDenied => "permission_denied",
            io::ErrorKind::UnexpectedEof => "truncated",
            io::ErrorKind::InvalidData => "damaged",
            _ => "io_error",
        };
        ImageError::new(path, reason, offset, format!("{what}: {e}"))
    }
}

impl fmt::Display for ImageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.detail)?;
        if let Some(o) = self.offset {
            write!(f, " (at offset {o})")?;
        }
        Ok(())
    }
}

impl std::error::Error for ImageError {}

/// An opened image: the container, its volume system and every volume with the file
/// system the probe found. Serialises to what `image info --json` prints.
#[derive(Serialize)]
pub struct Image {
    pub container: ContainerInfo,
    pub volume_system: VolumeSystemInfo,
    pub volumes: Vec<ImageVolume>,
    #[serde(skip)]
    media: Arc<dyn ReadAt>,
}

/// One volume of an image.
#[derive(Serialize)]
pub struct ImageVolume {
    #[serde(flatten)]
    pub info: VolumeInfo,
    /// What the first sectors of the volume say it holds; `None`: nothing recognised.
    pub file_system: Option<FsKind>,
    #[serde(skip)]
    reader: Arc<dyn ReadAt>,
}

impl Image {
    /// The decoded media (the whole disk), e.g. for `--hash-image`.
    pub fn media(&self) -> &Arc<dyn ReadAt> {
        &self.media
    }

    /// The volume with this number (the `number` column of `image info`).
    pub fn volume(&self, number: u32) -> Option<&ImageVolume> {
        self.volumes.iter().find(|v| v.info.number == number)
    }
}

impl ImageVolume {
    /// The volume's bytes: a window of the media (clipped to the media's end).
    pub fn reader(&self) -> Arc<dyn ReadAt> {
        Arc::clone(&self.reader)
    }
}

/// Open the image at `path` (a file, the first file of a segmented set, or a device):
/// detect its container by content, read its partition table, probe every volume.
pub fn open_image(path: &Path) -> Result<Image, ImageError> {
    let container = container::open_container(path)?;
    let media = container.media;
    let system = volume::read_volume_system(&media, container.info.sector_size);
    let mut volumes = Vec::with_capacity(system.volumes.len());
    for v in system.volumes {
        let reader = volume::volume_reader(&media, &v);
        let file_system = probe(reader.as_ref());
        volumes.push(ImageVolume {
            info: v,
            file_system,
            reader,
        });
    }
    Ok(Image {
        container: container.info,
        volume_system: system.info,
        volumes,
        media,
    })
}

/// Open the file-system reader for a probed kind over a volume: the one dispatch from
/// `FsKind` to the readers in `fs/` (NTFS, FAT12/16/32, exFAT, ext2/3/4). A kind that
/// has no reader yet, or that fieldkit recognises but cannot read (LUKS, BitLocker,
/// APFS, …), is an `unsupported` error carrying the reason.
pub fn open_file_system(
    kind: FsKind,
    volume: Arc<dyn ReadAt>,
) -> Result<Box<dyn FileSystem>, FsError> {
    use super::fs::{exfat::ExFat, ext4::Ext4, fat::Fat, ntfs::Ntfs};
    Ok(match kind {
        FsKind::Ntfs => Box::new(Ntfs::open(volume)?),
        FsKind::Fat12 | FsKind::Fat16 | FsKind::Fat32 => Box::new(Fat::open(volume)?),
        FsKind::ExFat => Box::new(ExFat::open(volume)?),
        FsKind::Ext2 | FsKind::Ext3 | FsKind::Ext4 => Box::new(Ext4::open(volume)?),
        other => {
            let reason = other
                .unreadable_reason()
                .unwrap_or("no reader for this file system in this build");
            return Err(FsError::new("unsupported", None, reason));
        }
    })
}
