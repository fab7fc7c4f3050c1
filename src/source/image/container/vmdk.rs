//! VMware VMDK through `vmdk-core` (imported as `vmdk`; pure Rust, pinned exactly):
//! monolithicSparse, streamOptimized (compressed grains), monolithicFlat and the
//! twoGbMaxExtent sets (a text descriptor naming extent files).
//!
//! A single-file VMDK is read through our own read-only (O_NOATIME) handle; a descriptor
//! with extent files is opened by the crate itself (`open_path`: plain read-only opens,
//! without O_NOATIME — the only place fieldkit reads evidence without it; noted in
//! docs/image-containers.md). A snapshot (delta) VMDK, whose parentCID names another disk,
//! is refused: read alone, its unallocated grains would read as zeros instead of the
//! parent's bytes.
//!
//! Must never: open an extent for writing, or return zeros for bytes that live in a
//! parent disk.

use std::path::Path;
use std::sync::Arc;

use super::guard::fenced;
use super::seekable::SeekableMedia;
use super::{Container, ContainerInfo, SegmentInfo, StoredHashes, segment_infos};
use crate::source::image::media::{Cursor, FileMedia};
use crate::source::image::open::ImageError;

type Reader = vmdk::VmdkReader<Box<dyn vmdk::ReadSeek + Send>>;

/// Open a VMDK: `is_descriptor` when the file is a text descriptor naming extent files.
pub fn open(path: &Path, is_descriptor: bool) -> Result<Container, ImageError> {
    let failed =
        |e: String| ImageError::new(path, "damaged", None, format!("not a readable VMDK: {e}"));
    let (reader, segments): (Reader, Vec<SegmentInfo>) = if is_descriptor {
        let extents = fenced(|| Reader::extent_dependencies(path))
            .map_err(|p| failed(format!("internal failure of the vmdk-core reader: {p}")))?
            .map_err(|e| failed(e.to_string()))?;
        for e in &extents {
            if !e.exists() {
                return Err(ImageError::new(
                    path,
                    "missing_segment",
                    None,
                    format!("VMDK extent file {} is missing", e.display()),
                ));
            }
        }
        let reader = fenced(|| Reader::open_path(path))
            .map_err(|p| failed(format!("internal failure of the vmdk-core reader: {p}")))?
            .map_err(|e| failed(e.to_string()))?;
        let mut all = vec![path.to_path_buf()];
        all.extend(extents);
        (reader, segment_infos(&all)?)
    } else {
        let file =
            FileMedia::open(path).map_err(|e| ImageError::io(path, None, "cannot open", &e))?;
        let cursor: Box<dyn vmdk::ReadSeek + Send> = Box::new(Cursor::new(Arc::new(file)));
        let reader = fenced(|| vmdk::VmdkReader::open(cursor))
            .map_err(|p| failed(format!("internal failure of the vmdk-core reader: {p}")))?
            .map_err(|e| failed(e.to_string()))?;
        (reader, segment_infos(&[path.to_path_buf()])?)
    };
    let info = fenced(|| reader.info())
        .map_err(|p| failed(format!("internal failure of the vmdk-core reader: {p}")))?;
    if info.parent_cid != 0xffff_ffff {
        return Err(ImageError::new(
            path,
            "unsupported_format",
            None,
            format!(
                "is a VMDK snapshot (delta disk, parentCID {:08x}): its unwritten grains live in the parent disk; \
                 give a flattened copy (qemu-img convert -O raw, or vmware-vdiskmanager)",
                info.parent_cid
            ),
        ));
    }
    let size = info.virtual_disk_size;
    let mut metadata = std::collections::BTreeMap::new();
    metadata.insert("create_type".to_string(), info.disk_type.clone());
    metadata.insert("cid".to_string(), format!("{:08x}", info.cid));
    if info.grain_size_bytes > 0 {
        metadata.insert("grain_size".to_string(), info.grain_size_bytes.to_string());
    }
    let label = format!("VMDK image {}", path.display());
    Ok(Container {
        info: ContainerInfo {
            format: "vmdk",
            format_detail: format!(
                "VMDK {}{}",
                if info.disk_type.is_empty() {
                    "sparse"
                } else {
                    &info.disk_type
                },
                if info.compressed {
                    " (compressed grains)"
                } else {
                    ""
                }
            ),
            path: path.to_path_buf(),
            media_size: size,
            sector_size: None,
            segments,
            metadata,
            stored_hashes: StoredHashes::default(),
            acquisition_errors: Vec::new(),
            notes: Vec::new(),
        },
        media: Arc::new(SeekableMedia::new(reader, size, label, "vmdk-core")),
    })
}
