//! Containers: the file (or files, or device) an image is stored in, decoded to the
//! media it holds — the bytes of the disk as it was acquired — as one `Arc<dyn ReadAt>`,
//! with a description for `image info` and the manifest (format, media size, segment files
//! and their sizes, the container's own metadata and stored hashes).
//!
//! Formats: raw/dd and any plain file (`raw`), split raw sets `.001 .002 …` / `.aa .ab …`
//! (`raw`), EWF v1 / E01 (`ewf`, through the `ewf` crate's section parser and our own
//! checked chunk decoder), VMDK (`vmdk`, `vmdk-core`), VHDX (`vhdx`, `vhdx-core`), VHD
//! fixed and dynamic (`vhd`, hand-written: see its module doc), and block devices
//! (`device`: `/dev/sdX`, `\\.\PhysicalDriveN`, `\\.\C:`). Detection is by content (magic
//! bytes), never by extension alone; the extension only finds a split set's siblings.
//! What is recognised but not read (Ex01/EWF2, L01 logical evidence, QCOW, VDI, AFF,
//! differencing disks) is refused with a one-line reason; docs/image-containers.md lists
//! each with why.
//!
//! Must never: open anything for writing or lock it, read past a segment's end, return
//! bytes a container's checksum says are damaged (a damaged EWF chunk is a read error
//! naming the chunk and its offsets), or panic on a malformed container.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;

use super::media::{ReadAt, open_read_only};
use super::open::ImageError;

pub mod device;
pub mod ewf;
pub mod guard;
pub mod hash;
pub mod raw;
mod seekable;
pub mod vhd;
pub mod vhdx;
pub mod vmdk;

/// A container, opened: its media and what it says about itself.
pub struct Container {
    pub media: Arc<dyn ReadAt>,
    pub info: ContainerInfo,
}

/// What a container is, for `image info` and the manifest.
#[derive(Debug, Clone, Serialize)]
pub struct ContainerInfo {
    /// `raw`, `split_raw`, `ewf`, `vmdk`, `vhd`, `vhdx`, `device`.
    pub format: &'static str,
    /// Human name of the format and variant ("EWF (EnCase 6, deflate)", "VMDK
    /// monolithicSparse", "VHD dynamic").
    pub format_detail: String,
    /// The path given (the first segment of a set).
    pub path: PathBuf,
    /// Size of the decoded media in bytes.
    pub media_size: u64,
    /// Bytes per sector when the container or device says (EWF, VHDX, a device).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sector_size: Option<u32>,
    /// Every file the media is read from, in order, with its size on disk.
    pub segments: Vec<SegmentInfo>,
    /// The container's own description of the evidence (EWF case number, examiner,
    /// acquisition software and date; VMDK createType and CID; VHD creator; …).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
    /// Hashes of the media the container stores itself (EWF MD5/SHA-1), lower-case hex.
    pub stored_hashes: StoredHashes,
    /// Sector ranges the acquisition tool could not read (EWF error2 section).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub acquisition_errors: Vec<SectorRange>,
    /// What an examiner should know (a repaired structure, a differing segment size, …).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SegmentInfo {
    pub path: PathBuf,
    pub size: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StoredHashes {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub md5: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha1: Option<String>,
}

impl StoredHashes {
    pub fn is_empty(&self) -> bool {
        self.md5.is_none() && self.sha1.is_none()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SectorRange {
    pub first_sector: u64,
    pub sectors: u64,
}

/// What the first bytes of a file say it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Magic {
    EwfV1,
    Ewf2,
    LogicalEvidence,
    Vmdk,
    VmdkDescriptor,
    Vhdx,
    VhdDynamic,
    VhdFixed,
    Qcow,
    Vdi,
    Aff,
    Plain,
}

const EWF_V1: &[u8; 8] = b"EVF\x09\x0d\x0a\xff\x00";
const EWF_V1_LOGICAL: &[u8; 8] = b"LVF\x09\x0d\x0a\xff\x00";
const EWF2: &[u8; 8] = b"EVF2\x0d\x0a\x81\x00";
const EWF2_LOGICAL: &[u8; 8] = b"LEF2\x0d\x0a\x81\x00";

fn sniff(head: &[u8], tail: &[u8]) -> Magic {
    let starts = |m: &[u8]| head.starts_with(m);
    if starts(EWF_V1) {
        Magic::EwfV1
    } else if starts(EWF2) || starts(EWF2_LOGICAL) {
        Magic::Ewf2
    } else if starts(EWF_V1_LOGICAL) {
        Magic::LogicalEvidence
    } else if starts(b"KDMV") || starts(b"COWD") || starts(&[0xbe, 0xba, 0xfe, 0xca, 0, 0, 0, 0]) {
        Magic::Vmdk
    } else if starts(b"# Disk DescriptorFile") {
        Magic::VmdkDescriptor
    } else if starts(b"vhdxfile") {
        Magic::Vhdx
    } else if starts(b"conectix") {
        Magic::VhdDynamic
    } else if vhd::tail_has_footer(tail) {
        Magic::VhdFixed
    } else if starts(b"QFI\xfb") {
        Magic::Qcow
    } else if head.get(64..68) == Some(&[0x7f, 0x10, 0xda, 0xbe]) {
        Magic::Vdi
    } else if starts(b"AFF10\r\n") || starts(b"AFD10\r\n") {
        Magic::Aff
    } else {
        Magic::Plain
    }
}

/// Open whatever `path` names — an image file, the first file of a segmented set, or a
/// block device — and decode it to its media.
pub fn open_container(path: &Path) -> Result<Container, ImageError> {
    if device::is_device_path(path) {
        return device::open(path);
    }
    let meta =
        std::fs::metadata(path).map_err(|e| ImageError::io(path, None, "cannot open", &e))?;
    let file_type = meta.file_type();
    if file_type.is_dir() {
        return Err(ImageError::new(
            path,
            "is_directory",
            None,
            "is a directory, not an image (give the image file, or collect the directory with --source)",
        ));
    }
    if device::is_block_device(&file_type) {
        return device::open(path);
    }
    if !file_type.is_file() {
        return Err(ImageError::new(
            path,
            "not_a_file",
            None,
            "is not a regular file or a block device (a FIFO or character device cannot be read at random offsets)",
        ));
    }
    let size = meta.len();
    if size == 0 {
        return Err(ImageError::new(path, "empty", None, "is empty (0 bytes)"));
    }
    let file = open_read_only(path).map_err(|e| ImageError::io(path, None, "cannot open", &e))?;
    let head = read_head(&file, path, 0, 4096.min(size))?;
    let tail_start = size.saturating_sub(512);
    let tail = read_head(&file, path, tail_start, size - tail_start)?;
    drop(file);
    match sniff(&head, &tail) {
        Magic::EwfV1 => ewf::open(path),
        Magic::Ewf2 => Err(ImageError::new(
            path,
            "unsupported_format",
            None,
            "is an EWF2 (Ex01/Lx01) image: recognised but not read (ewf 0.4 does not decode \
             EWF2 chunk flags or checksums and no Ex01 can be made to test it; convert it to \
             E01 or raw with ewfexport)",
        )),
        Magic::LogicalEvidence => Err(ImageError::new(
            path,
            "unsupported_format",
            None,
            "is an L01 logical evidence file (a set of files, not a disk): not read as an image",
        )),
        Magic::Vmdk => vmdk::open(path, false),
        Magic::VmdkDescriptor => vmdk::open(path, true),
        Magic::Vhdx => vhdx::open(path),
        Magic::VhdDynamic | Magic::VhdFixed => vhd::open(path),
        Magic::Qcow => Err(unsupported(path, "a QCOW image")),
        Magic::Vdi => Err(unsupported(path, "a VirtualBox VDI image")),
        Magic::Aff => Err(unsupported(path, "an AFF image")),
        Magic::Plain => raw::open(path, size),
    }
}

fn unsupported(path: &Path, what: &str) -> ImageError {
    ImageError::new(
        path,
        "unsupported_format",
        None,
        format!(
            "is {what}: recognised but not read (no maintained reader vetted for fieldkit; \
             convert it to raw, e.g. qemu-img convert -O raw)"
        ),
    )
}

/// Read `len` bytes at `offset` of an open file (short only if the file shrank).
fn read_head(
    file: &std::fs::File,
    path: &Path,
    offset: u64,
    len: u64,
) -> Result<Vec<u8>, ImageError> {
    let mut buf = vec![0u8; len as usize];
    let mut done = 0usize;
    while done < buf.len() {
        let res = {
            #[cfg(unix)]
            {
                use std::os::unix::fs::FileExt;
                file.read_at(&mut buf[done..], offset + done as u64)
            }
            #[cfg(windows)]
            {
                use std::os::windows::fs::FileExt;
                file.seek_read(&mut buf[done..], offset + done as u64)
            }
        };
        match res {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                return Err(ImageError::io(
                    path,
                    Some(offset + done as u64),
                    "cannot read",
                    &e,
                ));
            }
        }
    }
    buf.truncate(done);
    Ok(buf)
}

/// A file's size, or an error naming it.
fn file_size(path: &Path) -> Result<u64, ImageError> {
    std::fs::metadata(path)
        .map(|m| m.len())
        .map_err(|e| ImageError::io(path, None, "cannot open", &e))
}

/// Segment descriptions for a list of files.
fn segment_infos(paths: &[PathBuf]) -> Result<Vec<SegmentInfo>, ImageError> {
    paths
        .iter()
        .map(|p| {
            Ok(SegmentInfo {
                path: p.clone(),
                size: file_size(p)?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magic_not_extension_decides() {
        assert_eq!(sniff(b"EVF\x09\x0d\x0a\xff\x00\x01", &[]), Magic::EwfV1);
        assert_eq!(sniff(b"EVF2\x0d\x0a\x81\x00", &[]), Magic::Ewf2);
        assert_eq!(sniff(b"KDMV\x01\0\0\0", &[]), Magic::Vmdk);
        assert_eq!(sniff(b"vhdxfile", &[]), Magic::Vhdx);
        assert_eq!(sniff(b"conectix", &[]), Magic::VhdDynamic);
        assert_eq!(sniff(b"QFI\xfb\0\0\0\x03", &[]), Magic::Qcow);
        assert_eq!(sniff(&[0u8; 512], &[0u8; 512]), Magic::Plain);
    }
}
