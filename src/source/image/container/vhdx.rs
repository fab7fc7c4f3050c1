//! Hyper-V VHDX through `vhdx-core` (imported as `vhdx`; pure Rust, pinned exactly), fixed
//! and dynamic, read through our own read-only (O_NOATIME) handle. The crate replays a
//! dirty log in memory only (an overlay), never into the file. Differencing VHDX (a parent
//! locator) is refused by the crate and so by us: alone, it lacks the parent's bytes.
//!
//! Must never: write the log back, or read a differencing disk without its parent.

use std::path::Path;
use std::sync::Arc;

use super::guard::fenced;
use super::seekable::SeekableMedia;
use super::{Container, ContainerInfo, StoredHashes, segment_infos};
use crate::source::image::media::open_read_only;
use crate::source::image::open::ImageError;

pub fn open(path: &Path) -> Result<Container, ImageError> {
    let file = open_read_only(path).map_err(|e| ImageError::io(path, None, "cannot open", &e))?;
    let reader = fenced(|| vhdx::VhdxReader::from_backing(vhdx::Backing::File(file), None))
        .map_err(|p| {
            ImageError::new(
                path,
                "damaged",
                None,
                format!("not a readable VHDX (internal failure of the vhdx-core reader: {p})"),
            )
        })?
        .map_err(|e| match e {
            vhdx::VhdxError::DifferencingNotSupported => ImageError::new(
                path,
                "unsupported_format",
                None,
                "is a differencing VHDX (its unwritten blocks live in a parent disk): give a merged copy",
            ),
            other => ImageError::new(path, "damaged", None, format!("not a readable VHDX: {other}")),
        })?;
    let size = reader.virtual_disk_size();
    let sector = reader.logical_sector_size();
    let label = format!("VHDX image {}", path.display());
    Ok(Container {
        info: ContainerInfo {
            format: "vhdx",
            format_detail: "VHDX".to_string(),
            path: path.to_path_buf(),
            media_size: size,
            sector_size: Some(sector),
            segments: segment_infos(&[path.to_path_buf()])?,
            metadata: Default::default(),
            stored_hashes: StoredHashes::default(),
            acquisition_errors: Vec::new(),
            notes: Vec::new(),
        },
        media: Arc::new(SeekableMedia::new(reader, size, label, "vhdx-core")),
    })
}
