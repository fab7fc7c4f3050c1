//! The DOS/MBR partition table: four primary entries in sector 0 and, inside an extended
//! partition, a chain of extended boot records (EBRs) each holding one logical partition
//! (relative to that EBR) and a link to the next EBR (relative to the start of the
//! extended partition). Hand-written: see the parent module's doc for why.
//!
//! Must never: follow the chain in a loop (every EBR sector is visited once; at most
//! `MAX_EBRS`), read an EBR outside the media, or lose the partitions found before a
//! damaged link (the chain stops there with a note).

use std::collections::HashSet;

use super::{VolumeInfo, VolumeSystem, VolumeSystemInfo, le32, note_overlaps};
use crate::source::image::media::ReadAt;

/// More logical partitions than any partitioning tool makes; past it the chain is cut.
const MAX_EBRS: usize = 1024;

#[derive(Debug, Clone, Copy)]
struct Entry {
    status: u8,
    kind: u8,
    start: u64,
    sectors: u64,
}

fn entries(sector: &[u8]) -> [Entry; 4] {
    std::array::from_fn(|i| {
        let e = &sector[446 + 16 * i..446 + 16 * (i + 1)];
        Entry {
            status: e[0],
            kind: e[4],
            start: u64::from(le32(e, 8)),
            sectors: u64::from(le32(e, 12)),
        }
    })
}

fn is_empty(e: &Entry) -> bool {
    e.kind == 0 || e.sectors == 0
}

fn is_extended(kind: u8) -> bool {
    matches!(kind, 0x05 | 0x0f | 0x85)
}

/// Whether sector 0 has a GPT-protective (0xEE) entry.
pub(super) fn has_protective_entry(sector0: &[u8]) -> bool {
    entries(sector0).iter().any(|e| e.kind == 0xee)
}

/// The non-empty entries besides the protective one (a hybrid MBR), for a note.
pub(super) fn hybrid_entries(sector0: &[u8]) -> Vec<String> {
    entries(sector0)
        .iter()
        .filter(|e| !is_empty(e) && e.kind != 0xee)
        .map(|e| format!("0x{:02x} at sector {}", e.kind, e.start))
        .collect()
}

/// Read the MBR in `sector0` and the EBR chain of each extended partition.
pub(super) fn read(media: &dyn ReadAt, sector0: &[u8], ss: u64) -> Result<VolumeSystem, String> {
    let primary = entries(sector0);
    if let Some((i, e)) = primary
        .iter()
        .enumerate()
        .find(|(_, e)| e.status != 0x00 && e.status != 0x80)
    {
        return Err(format!(
            "entry {i} has boot flag 0x{:02x} where only 0x00 or 0x80 are valid",
            e.status
        ));
    }
    let media_size = media.size();
    let mut notes = Vec::new();
    let mut volumes = Vec::new();
    let mut extended = Vec::new();
    for (i, e) in primary.iter().enumerate() {
        if is_empty(e) {
            continue;
        }
        if is_extended(e.kind) {
            extended.push(*e);
            continue;
        }
        let mut v = VolumeInfo::new(
            i as u32 + 1,
            Some(format!("000:{i:03}")),
            "primary",
            e.start,
            e.sectors,
            ss,
            media_size,
        );
        describe(&mut v, e);
        volumes.push(v);
    }
    let mut table = 1u32;
    let mut number = 5u32;
    for ext in &extended {
        walk_chain(
            media,
            ext,
            ss,
            &mut table,
            &mut number,
            &mut volumes,
            &mut notes,
        );
    }
    if volumes.is_empty() && extended.is_empty() {
        notes.push("the MBR has no partitions".to_string());
    }
    note_overlaps(&mut volumes);
    let signature = le32(sector0, 440);
    Ok(VolumeSystem {
        info: VolumeSystemInfo {
            scheme: "mbr",
            sector_size: ss as u32,
            disk_id: (signature != 0).then(|| format!("0x{signature:08x}")),
            notes,
        },
        volumes,
    })
}

fn describe(v: &mut VolumeInfo, e: &Entry) {
    v.partition_type = Some(format!("0x{:02x}", e.kind));
    v.type_name = type_name(e.kind);
    v.bootable = e.status == 0x80;
    if e.kind == 0x42 {
        v.notes.push(
            "Windows dynamic disk (LDM): its volumes are described in the LDM database at the end of the disk, which fieldkit does not read".to_string(),
        );
    }
    if e.kind == 0xee {
        v.notes
            .push("GPT-protective entry, but no valid GPT was found".to_string());
    }
}

#[allow(clippy::too_many_arguments)]
fn walk_chain(
    media: &dyn ReadAt,
    ext: &Entry,
    ss: u64,
    table: &mut u32,
    number: &mut u32,
    volumes: &mut Vec<VolumeInfo>,
    notes: &mut Vec<String>,
) {
    let media_size = media.size();
    let base = ext.start;
    let end = ext.start + ext.sectors;
    let mut ebr = base;
    let mut seen = HashSet::new();
    let mut sector = vec![0u8; ss as usize];
    loop {
        if !seen.insert(ebr) {
            notes.push(format!(
                "the extended partition's EBR chain loops back to sector {ebr}: the chain is cut there ({} logical partitions read)",
                seen.len()
            ));
            return;
        }
        if seen.len() > MAX_EBRS {
            notes.push(format!(
                "the EBR chain is longer than {MAX_EBRS} links: the rest is not read"
            ));
            return;
        }
        let Some(at) = ebr
            .checked_mul(ss)
            .filter(|at| at.saturating_add(512) <= media_size)
        else {
            notes.push(format!(
                "the EBR at sector {ebr} lies past the end of the media: the logical partitions from there on cannot be read"
            ));
            return;
        };
        if let Err(e) = media.read_exact_at(at, &mut sector) {
            notes.push(format!("the EBR at sector {ebr} cannot be read: {e}"));
            return;
        }
        if sector[510..512] != [0x55, 0xaa] {
            notes.push(format!(
                "the EBR at sector {ebr} (offset {at}) has no 55 AA signature: the chain ends there"
            ));
            return;
        }
        let mut next = None;
        for (i, e) in entries(&sector).iter().enumerate() {
            if is_empty(e) {
                continue;
            }
            if is_extended(e.kind) {
                if next.is_none() {
                    next = Some(base.saturating_add(e.start));
                }
                continue;
            }
            let start = ebr.saturating_add(e.start);
            let mut v = VolumeInfo::new(
                *number,
                Some(format!("{:03}:{i:03}", *table)),
                "logical",
                start,
                e.sectors,
                ss,
                media_size,
            );
            describe(&mut v, e);
            if start < base || start.saturating_add(e.sectors) > end {
                v.notes.push(format!(
                    "lies outside its extended partition (sectors {base}..{end})"
                ));
            }
            volumes.push(v);
            *number += 1;
        }
        *table += 1;
        match next {
            Some(n) => ebr = n,
            None => return,
        }
    }
}

fn type_name(kind: u8) -> Option<&'static str> {
    Some(match kind {
        0x01 => "FAT12",
        0x04 => "FAT16 (<32 MB)",
        0x05 => "DOS extended",
        0x06 => "FAT16",
        0x07 => "NTFS / exFAT / HPFS",
        0x0b => "FAT32 (CHS)",
        0x0c => "FAT32 (LBA)",
        0x0e => "FAT16 (LBA)",
        0x0f => "Win95 extended (LBA)",
        0x11 => "hidden FAT12",
        0x12 => "OEM recovery / diagnostics",
        0x14 => "hidden FAT16 (<32 MB)",
        0x16 => "hidden FAT16",
        0x17 => "hidden NTFS / exFAT",
        0x1b => "hidden FAT32",
        0x1c => "hidden FAT32 (LBA)",
        0x1e => "hidden FAT16 (LBA)",
        0x27 => "Windows recovery",
        0x42 => "Windows dynamic disk (LDM)",
        0x82 => "Linux swap / Solaris",
        0x83 => "Linux",
        0x85 => "Linux extended",
        0x8e => "Linux LVM",
        0xa5 => "FreeBSD",
        0xa6 => "OpenBSD",
        0xa8 => "Apple UFS",
        0xa9 => "NetBSD",
        0xab => "Apple boot",
        0xaf => "Apple HFS / HFS+",
        0xee => "GPT protective",
        0xef => "EFI system",
        0xfb => "VMware VMFS",
        0xfd => "Linux RAID",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn put(sector: &mut [u8], i: usize, status: u8, kind: u8, start: u32, sectors: u32) {
        let e = &mut sector[446 + 16 * i..446 + 16 * (i + 1)];
        e[0] = status;
        e[4] = kind;
        e[8..12].copy_from_slice(&start.to_le_bytes());
        e[12..16].copy_from_slice(&sectors.to_le_bytes());
        sector[510] = 0x55;
        sector[511] = 0xaa;
    }

    /// A 1 MiB disk: primary 1 at 1..100, extended at 200..2000 with three logical
    /// partitions; `loop_back` makes the third EBR link to the first.
    fn disk(loop_back: bool) -> Vec<u8> {
        let mut d = vec![0u8; 2048 * 512];
        put(&mut d[..512], 0, 0x80, 0x83, 1, 99);
        put(&mut d[..512], 1, 0, 0x05, 200, 1800);
        let ebrs = [200u32, 500, 800];
        for (k, &at) in ebrs.iter().enumerate() {
            let s = &mut d[at as usize * 512..(at as usize + 1) * 512];
            put(s, 0, 0, 0x07, 10, 100);
            if k + 1 < ebrs.len() {
                put(s, 1, 0, 0x05, ebrs[k + 1] - 200, 300);
            } else if loop_back {
                put(s, 1, 0, 0x05, 0, 300);
            }
        }
        d
    }

    #[test]
    fn logical_partitions_follow_the_ebr_chain_and_a_loop_is_cut_with_a_note() {
        for loop_back in [false, true] {
            let d = disk(loop_back);
            let media: Arc<dyn ReadAt> = Arc::new(d.clone());
            let sys = read(media.as_ref(), &d[..512], 512).unwrap();
            let got: Vec<(u32, &str, u64)> = sys
                .volumes
                .iter()
                .map(|v| (v.number, v.slot.as_deref().unwrap_or(""), v.start_sector))
                .collect();
            assert_eq!(
                got,
                [
                    (1, "000:000", 1),
                    (5, "001:000", 210),
                    (6, "002:000", 510),
                    (7, "003:000", 810)
                ]
            );
            assert!(sys.volumes[0].bootable);
            assert_eq!(
                sys.info.notes.iter().any(|n| n.contains("loops back")),
                loop_back
            );
        }
    }

    #[test]
    fn mutated_tables_never_panic() {
        let seed = disk(true);
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for round in 0..3000 {
            let mut d = seed.clone();
            for _ in 0..(1 + round % 8) {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                // Mutate the tables where they are: sector 0 and the three EBRs.
                let sector = [0usize, 200, 500, 800][(state % 4) as usize];
                let at = sector * 512 + 446 + ((state >> 8) % 66) as usize;
                d[at] = (state >> 24) as u8;
            }
            super::super::fuzz_entry(&d);
        }
    }
}
