//! The GUID partition table (UEFI 2.x, chapter 5): the protective MBR, the primary header
//! at LBA 1 and its entry array, and the backup header at the last LBA with its own
//! array. Hand-written: see the parent module's doc for why. Both headers' CRC32 and both
//! arrays' CRC32 are checked (`crc32fast`); the backup is compared with the primary and
//! every difference is a note; a damaged primary falls back to an intact backup (noted).
//!
//! Must never: trust an entry count or size without a bound, read an array outside the
//! media, or use a header whose CRC fails as if it were intact.

use super::{
    VolumeInfo, VolumeSystem, VolumeSystemInfo, guid_string, le32, le64, mbr, note_overlaps,
};
use crate::source::image::media::ReadAt;

/// Entry arrays larger than this are refused (the usual one is 16 KiB: 128 × 128 bytes).
const MAX_ARRAY_BYTES: u64 = 4 << 20;

#[derive(Debug, Clone)]
struct Header {
    lba: u64,
    alternate_lba: u64,
    first_usable: u64,
    last_usable: u64,
    disk_guid: String,
    entries_lba: u64,
    entry_count: u32,
    entry_size: u32,
    entries_crc: u32,
}

/// The sector size under which a backup GPT header sits in the last sector, if any.
pub(super) fn backup_sector_size(media: &dyn ReadAt, hint: Option<u32>) -> Option<u64> {
    let size = media.size();
    let mut sizes = vec![512u64, 4096];
    if let Some(h) = hint
        .map(u64::from)
        .filter(|h| h.is_power_of_two() && *h >= 512)
    {
        sizes.insert(0, h);
    }
    sizes.into_iter().find(|&ss| {
        let mut sig = [0u8; 8];
        size >= 2 * ss
            && media.read_exact_at((size / ss - 1) * ss, &mut sig).is_ok()
            && &sig == b"EFI PART"
    })
}

fn read_header(media: &dyn ReadAt, lba: u64, ss: u64) -> Result<Header, String> {
    let at = lba.checked_mul(ss).ok_or("its LBA overflows")?;
    let mut b = vec![0u8; ss as usize];
    media
        .read_exact_at(at, &mut b)
        .map_err(|e| format!("cannot be read ({e})"))?;
    if &b[..8] != b"EFI PART" {
        return Err("has no EFI PART signature".into());
    }
    let header_size = le32(&b, 12) as usize;
    if !(92..=b.len()).contains(&header_size) {
        return Err(format!("declares a header size of {header_size} bytes"));
    }
    let stored = le32(&b, 16);
    let mut copy = b[..header_size].to_vec();
    copy[16..20].fill(0);
    let computed = crc32fast::hash(&copy);
    if stored != computed {
        return Err(format!(
            "fails its CRC32 (stored {stored:08x}, computed {computed:08x})"
        ));
    }
    let h = Header {
        lba: le64(&b, 24),
        alternate_lba: le64(&b, 32),
        first_usable: le64(&b, 40),
        last_usable: le64(&b, 48),
        disk_guid: guid_string(&b[56..72]),
        entries_lba: le64(&b, 72),
        entry_count: le32(&b, 80),
        entry_size: le32(&b, 84),
        entries_crc: le32(&b, 88),
    };
    if h.lba != lba {
        return Err(format!(
            "says it lies at LBA {} but was read at LBA {lba}",
            h.lba
        ));
    }
    if h.entry_size < 128 || !h.entry_size.is_multiple_of(8) {
        return Err(format!("declares {}-byte partition entries", h.entry_size));
    }
    if u64::from(h.entry_count) * u64::from(h.entry_size) > MAX_ARRAY_BYTES {
        return Err(format!(
            "declares {} entries of {} bytes, more than fieldkit reads",
            h.entry_count, h.entry_size
        ));
    }
    Ok(h)
}

fn read_array(media: &dyn ReadAt, h: &Header, ss: u64) -> Result<Vec<u8>, String> {
    let len = u64::from(h.entry_count) * u64::from(h.entry_size);
    let at = h
        .entries_lba
        .checked_mul(ss)
        .filter(|at| at.checked_add(len).is_some_and(|end| end <= media.size()))
        .ok_or_else(|| {
            format!(
                "its entry array at LBA {} lies outside the media",
                h.entries_lba
            )
        })?;
    let mut b = vec![0u8; len as usize];
    media
        .read_exact_at(at, &mut b)
        .map_err(|e| format!("its entry array cannot be read ({e})"))?;
    let computed = crc32fast::hash(&b);
    if computed != h.entries_crc {
        return Err(format!(
            "its entry array at LBA {} fails its CRC32 (stored {:08x}, computed {computed:08x})",
            h.entries_lba, h.entries_crc
        ));
    }
    Ok(b)
}

/// Read the GPT of `media` with `ss`-byte sectors; `head` holds the first sectors.
pub(super) fn read(media: &dyn ReadAt, head: &[u8], ss: u64) -> VolumeSystem {
    let media_size = media.size();
    let last_lba = (media_size / ss).saturating_sub(1);
    let mut notes = Vec::new();

    let sector0 = &head[..512.min(head.len())];
    if sector0.len() < 512
        || sector0[510..512] != [0x55, 0xaa]
        || !mbr::has_protective_entry(sector0)
    {
        notes.push("no protective MBR (sector 0 has no 0xEE entry)".to_string());
    } else {
        let hybrid = mbr::hybrid_entries(sector0);
        if !hybrid.is_empty() {
            notes.push(format!(
                "hybrid MBR: besides the protective entry it lists {} (ignored: the GPT is read)",
                hybrid.join(", ")
            ));
        }
    }

    let primary = read_header(media, 1, ss);
    let primary_array = primary.as_ref().ok().map(|h| read_array(media, h, ss));
    let backup_lba = match &primary {
        Ok(h) if h.alternate_lba != 0 && h.alternate_lba <= last_lba => h.alternate_lba,
        _ => last_lba,
    };
    if let Ok(h) = &primary
        && h.alternate_lba != last_lba
    {
        notes.push(format!(
                "the primary header places the backup at LBA {} but the media's last LBA is {last_lba} (the disk was resized, or the image is truncated)",
                h.alternate_lba
            ));
    }
    let backup = read_header(media, backup_lba, ss);
    let backup_array = backup.as_ref().ok().map(|h| read_array(media, h, ss));

    // Which header and array to read the partitions from.
    let chosen = match (&primary, &primary_array) {
        (Ok(h), Some(Ok(a))) => {
            match (&backup, &backup_array) {
                (Err(why), _) => {
                    notes.push(format!("the backup GPT header at LBA {backup_lba} {why}"))
                }
                (Ok(_), Some(Err(why))) => {
                    notes.push(format!("the backup GPT header at LBA {backup_lba}: {why}"))
                }
                (Ok(b), _) => {
                    let mut diffs = Vec::new();
                    if b.disk_guid != h.disk_guid {
                        diffs.push(format!("disk GUID {} vs {}", b.disk_guid, h.disk_guid));
                    }
                    if b.entries_crc != h.entries_crc
                        || b.entry_count != h.entry_count
                        || b.entry_size != h.entry_size
                    {
                        diffs.push("its partition entries differ".to_string());
                    }
                    if b.first_usable != h.first_usable || b.last_usable != h.last_usable {
                        diffs.push("the usable range differs".to_string());
                    }
                    if b.alternate_lba != 1 {
                        diffs.push(format!("it points to a primary at LBA {}", b.alternate_lba));
                    }
                    if !diffs.is_empty() {
                        notes.push(format!(
                            "the backup GPT at LBA {backup_lba} differs from the primary: {} (the primary is read)",
                            diffs.join("; ")
                        ));
                    }
                }
            }
            Some((h.clone(), a.clone(), "primary"))
        }
        _ => {
            let why = match (&primary, &primary_array) {
                (Err(why), _) => format!("the primary GPT header at LBA 1 {why}"),
                (Ok(_), Some(Err(why))) => format!("the primary GPT header at LBA 1: {why}"),
                _ => "the primary GPT is unusable".to_string(),
            };
            match (&backup, &backup_array) {
                (Ok(b), Some(Ok(a))) => {
                    notes.push(format!(
                        "{why}; the partitions are read from the backup GPT at LBA {backup_lba}"
                    ));
                    Some((b.clone(), a.clone(), "backup"))
                }
                (Err(bwhy), _) | (Ok(_), Some(Err(bwhy))) => {
                    notes.push(format!("{why}, and the backup GPT at LBA {backup_lba} {bwhy}: no partition can be read"));
                    None
                }
                _ => {
                    notes.push(format!("{why}: no partition can be read"));
                    None
                }
            }
        }
    };

    let mut volumes = Vec::new();
    let mut disk_id = None;
    if let Some((h, array, _)) = chosen {
        disk_id = Some(h.disk_guid.clone());
        for (i, e) in array.chunks_exact(h.entry_size as usize).enumerate() {
            if e[..16].iter().all(|&b| b == 0) {
                continue;
            }
            let first = le64(e, 32);
            let last = le64(e, 40);
            let number = i as u32 + 1;
            let sectors = if last >= first { last - first + 1 } else { 0 };
            let mut v = VolumeInfo::new(
                number,
                Some(format!("{i:03}")),
                "gpt",
                first,
                sectors,
                ss,
                media_size,
            );
            if last < first {
                v.notes.push(format!(
                    "its last LBA {last} is before its first LBA {first}: read as empty"
                ));
            } else if first < h.first_usable || last > h.last_usable {
                v.notes.push(format!(
                    "lies outside the table's usable sectors {}..={}",
                    h.first_usable, h.last_usable
                ));
            }
            let type_guid = guid_string(&e[..16]);
            v.type_name = type_name(&type_guid);
            v.partition_type = Some(type_guid);
            v.guid = Some(guid_string(&e[16..32]));
            let attrs = le64(e, 48);
            v.attributes = (attrs != 0).then(|| format!("0x{attrs:016x}"));
            let units: Vec<u16> = e[56..128]
                .chunks_exact(2)
                .map(|c| u16::from_le_bytes([c[0], c[1]]))
                .take_while(|&u| u != 0)
                .collect();
            let name = String::from_utf16_lossy(&units);
            v.name = (!name.is_empty()).then_some(name);
            volumes.push(v);
        }
    }
    note_overlaps(&mut volumes);
    VolumeSystem {
        info: VolumeSystemInfo {
            scheme: "gpt",
            sector_size: ss as u32,
            disk_id,
            notes,
        },
        volumes,
    }
}

fn type_name(guid: &str) -> Option<&'static str> {
    Some(match guid {
        "C12A7328-F81F-11D2-BA4B-00A0C93EC93B" => "EFI system",
        "21686148-6449-6E6F-744E-656564454649" => "BIOS boot",
        "E3C9E316-0B5C-4DB8-817D-F92DF00215AE" => "Microsoft reserved",
        "EBD0A0A2-B9E5-4433-87C0-68B6B72699C7" => "Microsoft basic data",
        "DE94BBA4-06D1-4D40-A16A-BFD50179D6AC" => "Windows recovery",
        "5808C8AA-7E8F-42E0-85D2-E1E90434CFB3" => "Windows LDM metadata",
        "AF9B60A0-1431-4F62-BC68-3311714A69AD" => "Windows LDM data",
        "E75CAF8F-F680-4CEE-AFA3-B001E56EFC2D" => "Windows Storage Spaces",
        "0FC63DAF-8483-4772-8E79-3D69D8477DE4" => "Linux filesystem",
        "4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709" => "Linux root (x86-64)",
        "44479540-F297-41B2-9AF7-D131D5F0458A" => "Linux root (x86)",
        "B921B045-1DF0-41C3-AF44-4C6F280D3FAE" => "Linux root (ARM64)",
        "933AC7E1-2EB4-4F13-B844-0E14E2AEF915" => "Linux home",
        "3B8F8425-20E0-4F3B-907F-1A25A76F98E8" => "Linux server data",
        "0657FD6D-A4AB-43C4-84E5-0933C84B4F4F" => "Linux swap",
        "E6D6D379-F507-44C2-A23C-238F2A3DF928" => "Linux LVM",
        "A19D880F-05FC-4D3B-A006-743F0F84911E" => "Linux RAID",
        "CA7D7CCB-63ED-4C53-861C-1742536059CC" => "Linux LUKS",
        "BC13C2FF-59E6-4262-A352-B275FD6F7172" => "Linux extended boot",
        "7C3457EF-0000-11AA-AA11-00306543ECAC" => "Apple APFS",
        "48465300-0000-11AA-AA11-00306543ECAC" => "Apple HFS+",
        "426F6F74-0000-11AA-AA11-00306543ECAC" => "Apple boot",
        "516E7CB4-6ECF-11D6-8FF8-00022D09712B" => "FreeBSD data",
        "516E7CB6-6ECF-11D6-8FF8-00022D09712B" => "FreeBSD UFS",
        "516E7CBA-6ECF-11D6-8FF8-00022D09712B" => "FreeBSD ZFS",
        "6A898CC3-1DD2-11B2-99A6-080020736631" => "Solaris / Apple ZFS",
        "AA31E02A-400F-11DB-9590-000C2911D1B8" => "VMware VMFS",
        "FE3A2A5D-4F32-41A7-B725-ACCC3285A309" => "ChromeOS kernel",
        "3CB8E202-3B7E-47DD-8A3C-7FF2A13CFCEC" => "ChromeOS root",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    /// A 1 MiB disk with a GPT of two partitions, both headers and arrays intact.
    fn disk() -> Vec<u8> {
        let ss = 512usize;
        let sectors = 2048u64;
        let mut d = vec![0u8; sectors as usize * ss];
        // Protective MBR.
        d[446 + 4] = 0xee;
        d[446 + 8..446 + 12].copy_from_slice(&1u32.to_le_bytes());
        d[446 + 12..446 + 16].copy_from_slice(&((sectors - 1) as u32).to_le_bytes());
        d[510] = 0x55;
        d[511] = 0xaa;
        let mut array = vec![0u8; 128 * 128];
        for (i, (first, last, name)) in [(34u64, 99u64, "one"), (100, 2000, "two")]
            .iter()
            .enumerate()
        {
            let e = &mut array[i * 128..(i + 1) * 128];
            e[..16].copy_from_slice(&[
                0xaf, 0x3d, 0xc6, 0x0f, 0x83, 0x84, 0x72, 0x47, 0x8e, 0x79, 0x3d, 0x69, 0xd8, 0x47,
                0x7d, 0xe4,
            ]);
            e[16] = i as u8 + 1;
            e[32..40].copy_from_slice(&first.to_le_bytes());
            e[40..48].copy_from_slice(&last.to_le_bytes());
            for (k, u) in name.encode_utf16().enumerate() {
                e[56 + 2 * k..58 + 2 * k].copy_from_slice(&u.to_le_bytes());
            }
        }
        let array_crc = crc32fast::hash(&array);
        let mut write = |lba: u64, alt: u64, entries: u64| {
            let mut h = vec![0u8; 92];
            h[..8].copy_from_slice(b"EFI PART");
            h[8..12].copy_from_slice(&0x0001_0000u32.to_le_bytes());
            h[12..16].copy_from_slice(&92u32.to_le_bytes());
            h[24..32].copy_from_slice(&lba.to_le_bytes());
            h[32..40].copy_from_slice(&alt.to_le_bytes());
            h[40..48].copy_from_slice(&34u64.to_le_bytes());
            h[48..56].copy_from_slice(&(sectors - 34).to_le_bytes());
            h[56] = 0x42;
            h[72..80].copy_from_slice(&entries.to_le_bytes());
            h[80..84].copy_from_slice(&128u32.to_le_bytes());
            h[84..88].copy_from_slice(&128u32.to_le_bytes());
            h[88..92].copy_from_slice(&array_crc.to_le_bytes());
            let crc = crc32fast::hash(&h);
            h[16..20].copy_from_slice(&crc.to_le_bytes());
            let at = lba as usize * ss;
            d[at..at + 92].copy_from_slice(&h);
            let at = entries as usize * ss;
            d[at..at + array.len()].copy_from_slice(&array);
        };
        write(1, sectors - 1, 2);
        write(sectors - 1, 1, sectors - 33);
        d
    }

    type Listed = Vec<(u32, u64, u64, Option<String>)>;

    fn volumes(d: &[u8]) -> (Listed, Vec<String>) {
        let media: Arc<dyn ReadAt> = Arc::new(d.to_vec());
        let sys = read(media.as_ref(), &d[..8192], 512);
        (
            sys.volumes
                .iter()
                .map(|v| (v.number, v.start_sector, v.sectors, v.name.clone()))
                .collect(),
            sys.info.notes,
        )
    }

    #[test]
    fn an_intact_gpt_reads_without_notes_and_a_damaged_primary_falls_back_to_the_backup() {
        let d = disk();
        let (v, notes) = volumes(&d);
        assert_eq!(
            v,
            [
                (1, 34, 66, Some("one".into())),
                (2, 100, 1901, Some("two".into()))
            ]
        );
        assert!(notes.is_empty(), "{notes:?}");

        let mut bad = d.clone();
        bad[512 + 40] ^= 1; // primary header: CRC now fails
        let (v2, notes) = volumes(&bad);
        assert_eq!(v2, v);
        assert!(
            notes
                .iter()
                .any(|n| n.contains("fails its CRC32") && n.contains("backup")),
            "{notes:?}"
        );

        let mut bad_backup = d.clone();
        bad_backup[2047 * 512 + 40] ^= 1;
        let (v3, notes) = volumes(&bad_backup);
        assert_eq!(v3, v);
        assert!(
            notes
                .iter()
                .any(|n| n.contains("backup GPT header at LBA 2047")),
            "{notes:?}"
        );

        bad[2047 * 512 + 40] ^= 1; // both damaged
        let (v4, notes) = volumes(&bad);
        assert!(v4.is_empty());
        assert!(
            notes.iter().any(|n| n.contains("no partition can be read")),
            "{notes:?}"
        );
    }

    #[test]
    fn mutated_gpts_never_panic() {
        let seed = disk();
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        for round in 0..2000 {
            let mut d = seed.clone();
            for _ in 0..(1 + round % 6) {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                // Headers, arrays and their CRCs: primary (LBA 1..34) or backup (last 33).
                let at = if state & 1 == 0 {
                    512 + ((state >> 8) % (33 * 512)) as usize
                } else {
                    (2048 - 33) * 512 + ((state >> 8) % (33 * 512)) as usize
                };
                d[at] = (state >> 32) as u8;
            }
            // Fix up the primary's CRC now and then, so the parser reads past it.
            if round % 3 == 0 {
                let mut h = d[512..604].to_vec();
                h[16..20].fill(0);
                let crc = crc32fast::hash(&h);
                d[528..532].copy_from_slice(&crc.to_le_bytes());
            }
            super::super::fuzz_entry(&d);
        }
    }
}
