//! Volume systems: how the media is divided into volumes — an MBR (with its chain of
//! extended boot records for logical partitions), a GPT, or no table at all (a bare
//! file-system image, or media nothing recognises: then the whole media is one volume).
//!
//! Both parsers are hand-written and small, and checked against sleuthkit's `mmls` and
//! `sgdisk` in tests/image_containers.rs. Why not a crate: `gpt` 4.1 needs `Write` even
//! to read (it takes a `Read + Write + Seek` device), and `mbrman` pulls in bincode 2,
//! which RUSTSEC-2025-0141 marks unmaintained; neither reads both tables through a
//! positioned `&self` reader. CRC32 is `crc32fast`.
//!
//! Numbering (`number`, what `--partition N` takes) is Linux's, as `sfdisk -d` and
//! `lsblk` show it: MBR primary entries are 1–4 by their slot in the table (an empty slot
//! keeps its number unused), logical partitions 5, 6, … in the order of the EBR chain; GPT
//! entries are their 1-based index in the entry array; a bare volume is 1. `slot` is
//! sleuthkit's: `mmls` prints MBR partitions as `TTT:EEE` (table 0 is the MBR, tables
//! 1, 2, … the EBRs in chain order; EEE the entry inside that table) and GPT partitions
//! as `EEE` (0-based entry index); a bare volume has no slot.
//!
//! A partition that runs past the end of the media is kept with a window clipped to the
//! media (and a note saying so): no read ever goes past the end. Anything odd — a damaged
//! or differing backup GPT, a loop in the EBR chain, overlapping partitions, a hybrid MBR
//! — is a note on the volume system or the volume; nothing stops the other volumes.
//!
//! Must never: read outside the media, follow a chain without a bound, or drop a volume
//! because a neighbour is damaged.

use std::sync::Arc;

use serde::Serialize;

use super::fs::probe::probe;
use super::media::{ReadAt, Window};

mod gpt;
mod mbr;

/// The volume system as a whole.
#[derive(Debug, Clone, Serialize)]
pub struct VolumeSystemInfo {
    /// `mbr`, `gpt`, `none` (no partition table), `unreadable` (the first sectors could
    /// not be read).
    pub scheme: &'static str,
    /// The sector size the table is read with (LBA units).
    pub sector_size: u32,
    /// MBR disk signature (`0x1234abcd`) or GPT disk GUID.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disk_id: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// One volume: where it lies and what the table says it is.
#[derive(Debug, Clone, Serialize)]
pub struct VolumeInfo {
    /// Linux-style partition number (see the module doc).
    pub number: u32,
    /// `mmls`'s slot (`000:001`, `001:000`, `003`); `None` for a bare volume.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slot: Option<String>,
    /// `primary`, `logical`, `gpt`, `whole` (no table).
    pub kind: &'static str,
    /// Byte offset in the media.
    pub offset: u64,
    /// Bytes readable (the declared size, clipped to the media's end).
    pub size: u64,
    /// Bytes the table declares.
    pub declared_size: u64,
    /// First sector and sector count as the table declares them (LBA units).
    pub start_sector: u64,
    pub sectors: u64,
    /// MBR type id (`0x83`) or GPT type GUID.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partition_type: Option<String>,
    /// Name of that type ("Linux", "Microsoft basic data").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub type_name: Option<&'static str>,
    /// GPT partition name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// GPT unique partition GUID.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub guid: Option<String>,
    /// MBR boot flag (0x80).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub bootable: bool,
    /// GPT attribute bits, hex, when any is set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attributes: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl VolumeInfo {
    /// A volume at `start_sector` for `sectors` sectors, clipped to `media_size`.
    #[allow(clippy::too_many_arguments)]
    fn new(
        number: u32,
        slot: Option<String>,
        kind: &'static str,
        start_sector: u64,
        sectors: u64,
        sector_size: u64,
        media_size: u64,
    ) -> VolumeInfo {
        let mut notes = Vec::new();
        let offset = start_sector.checked_mul(sector_size);
        let declared = sectors.checked_mul(sector_size);
        let (offset, declared) = match (offset, declared) {
            (Some(o), Some(d)) => (o, d),
            _ => {
                notes.push(format!(
                    "declared at sector {start_sector} for {sectors} sectors, which overflows 64-bit byte offsets: read as empty"
                ));
                (media_size, 0)
            }
        };
        let available = media_size.saturating_sub(offset);
        let size = declared.min(available);
        if offset >= media_size && declared > 0 {
            notes.push(format!(
                "starts at byte {offset}, past the end of the media ({media_size} bytes): nothing of it can be read"
            ));
        } else if size < declared {
            notes.push(format!(
                "runs past the end of the media: declared {declared} bytes at offset {offset}, the media ends at {media_size}; read as the {size} bytes that exist"
            ));
        }
        VolumeInfo {
            number,
            slot,
            kind,
            offset,
            size,
            declared_size: declared,
            start_sector,
            sectors,
            partition_type: None,
            type_name: None,
            name: None,
            guid: None,
            bootable: false,
            attributes: None,
            notes,
        }
    }

    fn end(&self) -> u64 {
        self.offset.saturating_add(self.declared_size)
    }
}

/// A volume system with its volumes, in table order.
pub struct VolumeSystem {
    pub info: VolumeSystemInfo,
    pub volumes: Vec<VolumeInfo>,
}

/// Read the partition table of `media` (`sector_hint`: the sector size the container
/// or device reports, if any).
pub fn read_volume_system(media: &Arc<dyn ReadAt>, sector_hint: Option<u32>) -> VolumeSystem {
    let size = media.size();
    let mut head = vec![0u8; 8192.min(size) as usize];
    if let Err(e) = media.read_exact_at(0, &mut head) {
        return VolumeSystem {
            info: VolumeSystemInfo {
                scheme: "unreadable",
                sector_size: sector_hint.unwrap_or(512),
                disk_id: None,
                notes: vec![format!("the first sectors cannot be read: {e}")],
            },
            volumes: Vec::new(),
        };
    }
    let mbr_signed = head.get(510..512) == Some(&[0x55, 0xaa]);
    let gpt_at = |ss: usize| head.get(ss..ss + 8) == Some(b"EFI PART");
    let protective = mbr_signed && mbr::has_protective_entry(&head[..512]);
    let sector_size = if gpt_at(512) {
        Some(512)
    } else if gpt_at(4096) {
        Some(4096)
    } else if protective {
        // A protective MBR whose primary header is gone: look for the backup.
        gpt::backup_sector_size(media.as_ref(), sector_hint)
    } else {
        None
    };
    if let Some(ss) = sector_size {
        return gpt::read(media.as_ref(), &head, ss);
    }
    let ss = u64::from(
        sector_hint
            .filter(|s| s.is_power_of_two() && *s >= 512)
            .unwrap_or(512),
    );
    // A boot sector at 0 (FAT, NTFS and exFAT ones end in 55 AA too) is a bare file
    // system, whatever its boot code looks like as partition entries.
    if probe(media.as_ref()).is_some() {
        return bare(size, ss, Vec::new());
    }
    if mbr_signed {
        match mbr::read(media.as_ref(), &head[..512], ss) {
            Ok(system) => return system,
            Err(why) => {
                return bare(
                    size,
                    ss,
                    vec![format!(
                        "sector 0 ends in 55 AA but is not a partition table ({why}); the media is treated as one volume"
                    )],
                );
            }
        }
    }
    bare(size, ss, Vec::new())
}

/// No partition table: the whole media is volume 1.
fn bare(size: u64, ss: u64, notes: Vec<String>) -> VolumeSystem {
    let mut v = VolumeInfo::new(1, None, "whole", 0, size.div_ceil(ss), ss, size);
    v.declared_size = size;
    v.size = size;
    v.notes.clear();
    VolumeSystem {
        info: VolumeSystemInfo {
            scheme: "none",
            sector_size: ss as u32,
            disk_id: None,
            notes,
        },
        volumes: vec![v],
    }
}

/// Notes on volumes that overlap one another (each pair once, on the later one).
fn note_overlaps(volumes: &mut [VolumeInfo]) {
    let spans: Vec<(u32, u64, u64)> = volumes
        .iter()
        .map(|v| (v.number, v.offset, v.end()))
        .collect();
    for (i, v) in volumes.iter_mut().enumerate() {
        for &(other, start, end) in &spans[..i] {
            if v.declared_size > 0 && start < v.end() && v.offset < end {
                v.notes.push(format!("overlaps partition {other}"));
            }
        }
    }
}

/// The bytes of a volume: a window of the media, clipped to its end.
pub fn volume_reader(media: &Arc<dyn ReadAt>, v: &VolumeInfo) -> Arc<dyn ReadAt> {
    let label = format!("partition {} of {}", v.number, media.describe());
    let (window, _) = Window::new(Arc::clone(media), v.offset, v.size, label);
    Arc::new(window)
}

/// Format a GUID stored in the mixed-endian on-disk layout as `sgdisk` prints it.
fn guid_string(b: &[u8]) -> String {
    format!(
        "{:02X}{:02X}{:02X}{:02X}-{:02X}{:02X}-{:02X}{:02X}-{:02X}{:02X}-{:02X}{:02X}{:02X}{:02X}{:02X}{:02X}",
        b[3],
        b[2],
        b[1],
        b[0],
        b[5],
        b[4],
        b[7],
        b[6],
        b[8],
        b[9],
        b[10],
        b[11],
        b[12],
        b[13],
        b[14],
        b[15]
    )
}

fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn le64(b: &[u8], at: usize) -> u64 {
    let mut v = [0u8; 8];
    v.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(v)
}

/// Run a parser over arbitrary bytes as media (fuzzing and the mutation tests): every
/// entry point of this module, bounded, must return without panicking.
#[doc(hidden)]
pub fn fuzz_entry(data: &[u8]) {
    let media: Arc<dyn ReadAt> = Arc::new(data.to_vec());
    for hint in [None, Some(4096)] {
        let system = read_volume_system(&media, hint);
        for v in &system.volumes {
            let r = volume_reader(&media, v);
            let mut b = [0u8; 16];
            let _ = r.read_at(0, &mut b);
            let _ = r.read_at(r.size().saturating_sub(8), &mut b);
        }
    }
}
