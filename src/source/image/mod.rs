//! Evidence without mounting: read-only readers for disk images, devices, partitions and
//! the file systems inside them, layered like sleuthkit's img → vs → fs:
//!
//! ```text
//!  container (raw, split raw, E01, VMDK, VHDX, block device)  ── media: dyn ReadAt
//!    └─ volume system (MBR with EBR chain, GPT, or none)       ── volume: Window of media
//!         └─ file system (NTFS, FAT12/16/32, exFAT, ext2/3/4)  ── dyn FileSystem
//!              └─ nodes: names, identity, times, streams, data layout (byte extents)
//! ```
//!
//! Every layer sees the one below only as `ReadAt` (positioned, `&self`, thread-safe
//! reads), so readers can be tested on a byte buffer, workers read in parallel, and
//! nothing anywhere can write: there is no write method to call. A file's bytes are
//! always described as a `Layout` — extents of the volume, resident bytes, or a reason
//! it cannot be decoded — so the record can name the byte ranges of the image that
//! hold it (anyone can rebuild the file with `dd`) and the acquire engine reads every
//! file system the same way.
//!
//! Must never: write to or lock a container, trust a length or offset read from the
//! image without checking it against the media's size, panic or loop on malformed
//! structures (every error is an `FsError` naming the offset), or return bytes it could
//! not decode as if they were the file's content.

pub mod container;
pub mod fs;
pub mod media;
pub mod open;
pub mod source;
pub mod volume;

pub use media::{ReadAt, Window};
