//! What a reader of a *live* NTFS volume needs beyond the image reader: the state of one
//! file's MFT record (number, sequence, `$LogFile` LSN, in-use flag, the stream's size and
//! where its bytes lie), taken fresh from the volume each time it is asked, so that a
//! look before and a look after reading the data can be compared (`source::rawvol`).
//!
//! Owns `RecordState` and `Ntfs::record_state`. Never caches a record (the point is to
//! see a change) and never writes.

use serde::Serialize;

use super::super::{Extent, FsError, Layout, NodeId};
use super::{Ntfs, REF_MASK};

/// One look at a file's MFT record and the layout of one of its streams.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecordState {
    /// MFT record number.
    pub record: u64,
    pub sequence: u16,
    /// `$LogFile` sequence number of the record's last logged change.
    pub lsn: u64,
    pub in_use: bool,
    /// Logical size of the stream.
    pub size: u64,
    /// Where the stream's bytes lie (volume extents), empty for resident data.
    pub extents: Vec<Extent>,
    /// The layout itself, to read from.
    #[serde(skip)]
    pub layout: Layout,
}

impl Ntfs {
    /// The current state of the base record `id` (sequence checked when `id` carries one)
    /// and of its default stream (`None`) or named stream, read from the volume now.
    pub fn record_state(&self, id: NodeId, stream: Option<&[u8]>) -> Result<RecordState, FsError> {
        let rec = self.base_record(id)?;
        let attrs = self.attributes(&rec)?;
        let layout = self.layout_of(&rec, &attrs, stream)?;
        let (size, extents) = match &layout {
            Layout::Extents { size, extents } => (*size, extents.clone()),
            Layout::Compressed { size, extents, .. } => (*size, extents.clone()),
            Layout::Resident { bytes, .. } => (bytes.len() as u64, Vec::new()),
            Layout::Undecodable { .. } => (0, Vec::new()),
        };
        Ok(RecordState {
            record: rec.number & REF_MASK,
            sequence: rec.sequence,
            lsn: rec.lsn,
            in_use: rec.in_use(),
            size,
            extents,
            layout,
        })
    }

    /// Byte offset in the volume of MFT record `number` (for tests and records).
    pub fn record_offset(&self, number: u64) -> Result<u64, FsError> {
        self.record(number).map(|r| r.offset)
    }
}
