//! What file system a volume holds, from the signatures in its first sectors: the kinds
//! fieldkit reads (NTFS, FAT12/16/32, exFAT, ext2/3/4) and the ones it recognises but
//! cannot read — encrypted (LUKS, BitLocker), other file systems (APFS, HFS+, XFS, btrfs,
//! ReFS, F2FS, squashfs, ISO 9660), and containers of other volumes (LVM, Linux RAID) or
//! swap — each with the reason, so `image info` and the manifest list them instead of
//! silently skipping them.
//!
//! Signatures checked: OEM ids at byte 3 (`NTFS    `, `EXFAT   `, `-FVE-FS-`, `ReFS`),
//! the ext superblock magic 0xEF53 at 1024+56 and its feature flags (ext4 if it uses any
//! feature beyond ext3's, ext3 if it has a journal), the FAT BIOS parameter block (sizes
//! and counts that must be powers of two or non-zero, then the cluster count, which alone
//! decides FAT12/16/32 per Microsoft's specification), and the magic numbers of the others
//! at their documented offsets.
//!
//! Must never: read more than the first 68 KiB of a volume, or call something readable
//! that only resembles it (the FAT test is strict; a GRUB or Windows MBR is not a FAT).

use serde::Serialize;

use super::super::media::ReadAt;

/// A file system (or other volume content) recognised by its signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FsKind {
    Ntfs,
    Fat12,
    Fat16,
    Fat32,
    ExFat,
    Ext2,
    Ext3,
    Ext4,
    /// Recognised, not readable by fieldkit.
    Luks,
    BitLocker,
    Apfs,
    HfsPlus,
    Xfs,
    Btrfs,
    ReFs,
    F2fs,
    Squashfs,
    Iso9660,
    LinuxSwap,
    LvmPhysicalVolume,
    LinuxRaid,
    ExtJournal,
}

impl FsKind {
    /// The short name (`ntfs`, `fat32`, `luks`, …) used in records and `image info`.
    pub fn name(self) -> &'static str {
        match self {
            FsKind::Ntfs => "ntfs",
            FsKind::Fat12 => "fat12",
            FsKind::Fat16 => "fat16",
            FsKind::Fat32 => "fat32",
            FsKind::ExFat => "exfat",
            FsKind::Ext2 => "ext2",
            FsKind::Ext3 => "ext3",
            FsKind::Ext4 => "ext4",
            FsKind::Luks => "luks",
            FsKind::BitLocker => "bitlocker",
            FsKind::Apfs => "apfs",
            FsKind::HfsPlus => "hfsplus",
            FsKind::Xfs => "xfs",
            FsKind::Btrfs => "btrfs",
            FsKind::ReFs => "refs",
            FsKind::F2fs => "f2fs",
            FsKind::Squashfs => "squashfs",
            FsKind::Iso9660 => "iso9660",
            FsKind::LinuxSwap => "swap",
            FsKind::LvmPhysicalVolume => "lvm2_pv",
            FsKind::LinuxRaid => "linux_raid",
            FsKind::ExtJournal => "ext_journal",
        }
    }

    /// Why fieldkit cannot read this kind, or `None` for the kinds it reads.
    pub fn unreadable_reason(self) -> Option<&'static str> {
        Some(match self {
            FsKind::Ntfs
            | FsKind::Fat12
            | FsKind::Fat16
            | FsKind::Fat32
            | FsKind::ExFat
            | FsKind::Ext2
            | FsKind::Ext3
            | FsKind::Ext4 => return None,
            FsKind::Luks => {
                "LUKS-encrypted volume: unlock it (cryptsetup open --readonly) and give the opened device"
            }
            FsKind::BitLocker => {
                "BitLocker-encrypted volume: unlock it with the recovery key (e.g. dislocker, read-only) and give the decrypted image"
            }
            FsKind::Apfs => "APFS container: fieldkit has no APFS reader",
            FsKind::HfsPlus => "HFS+ / HFSX: fieldkit has no HFS+ reader",
            FsKind::Xfs => "XFS: fieldkit has no XFS reader",
            FsKind::Btrfs => "btrfs: fieldkit has no btrfs reader",
            FsKind::ReFs => "ReFS: fieldkit has no ReFS reader",
            FsKind::F2fs => "F2FS: fieldkit has no F2FS reader",
            FsKind::Squashfs => "squashfs: fieldkit has no squashfs reader",
            FsKind::Iso9660 => "ISO 9660: fieldkit has no ISO 9660 reader",
            FsKind::LinuxSwap => {
                "Linux swap space: no files (collect it whole as a volume image if needed)"
            }
            FsKind::LvmPhysicalVolume => {
                "LVM2 physical volume: its logical volumes need the LVM metadata, which fieldkit does not read (activate it read-only and give the logical volume)"
            }
            FsKind::LinuxRaid => {
                "Linux software RAID member: assemble the array read-only and give the md device"
            }
            FsKind::ExtJournal => "external ext3/ext4 journal device: no files",
        })
    }

    pub fn readable(self) -> bool {
        self.unreadable_reason().is_none()
    }
}

impl Serialize for FsKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let reason = self.unreadable_reason();
        let mut st = s.serialize_struct("FsKind", if reason.is_some() { 3 } else { 2 })?;
        st.serialize_field("kind", self.name())?;
        st.serialize_field("readable", &reason.is_none())?;
        if let Some(r) = reason {
            st.serialize_field("reason", r)?;
        }
        st.end()
    }
}

/// Bytes read from the start of a volume: enough for btrfs' superblock at 64 KiB.
const PROBE_BYTES: usize = 0x10040 + 64;

/// What the first sectors of `volume` say it holds, or `None` if nothing is recognised
/// (or they cannot be read).
pub fn probe(volume: &dyn ReadAt) -> Option<FsKind> {
    let want = (PROBE_BYTES as u64).min(volume.size()) as usize;
    let mut b = vec![0u8; want];
    let mut got = 0;
    while got < want {
        match volume.read_at(got as u64, &mut b[got..]) {
            Ok(0) | Err(_) => break,
            Ok(n) => got += n,
        }
    }
    b.truncate(got);
    probe_bytes(&b)
}

fn at(b: &[u8], offset: usize, len: usize) -> Option<&[u8]> {
    b.get(offset..offset.checked_add(len)?)
}

fn u16le(b: &[u8], offset: usize) -> Option<u16> {
    at(b, offset, 2).map(|s| u16::from_le_bytes([s[0], s[1]]))
}

fn u32le(b: &[u8], offset: usize) -> Option<u32> {
    at(b, offset, 4).map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

/// The probe over the first bytes of a volume (fewer when the volume is small).
pub fn probe_bytes(b: &[u8]) -> Option<FsKind> {
    let oem = at(b, 3, 8);
    if oem == Some(b"NTFS    ") {
        return Some(FsKind::Ntfs);
    }
    if oem == Some(b"EXFAT   ") {
        return Some(FsKind::ExFat);
    }
    if oem == Some(b"-FVE-FS-") {
        return Some(FsKind::BitLocker);
    }
    if oem == Some(b"ReFS\0\0\0\0") {
        return Some(FsKind::ReFs);
    }
    if at(b, 0, 6) == Some(b"LUKS\xba\xbe") {
        return Some(FsKind::Luks);
    }
    if at(b, 0, 4) == Some(b"XFSB") {
        return Some(FsKind::Xfs);
    }
    if at(b, 0, 4) == Some(b"hsqs") {
        return Some(FsKind::Squashfs);
    }
    if at(b, 32, 4) == Some(b"NXSB") {
        return Some(FsKind::Apfs);
    }
    if at(b, 512, 8) == Some(b"LABELONE") && at(b, 536, 8) == Some(b"LVM2 001") {
        return Some(FsKind::LvmPhysicalVolume);
    }
    if u32le(b, 0) == Some(0xa92b_4efc) || u32le(b, 4096) == Some(0xa92b_4efc) {
        return Some(FsKind::LinuxRaid);
    }
    if let Some(kind) = ext_kind(b) {
        return Some(kind);
    }
    if matches!(at(b, 1024, 2), Some(b"H+") | Some(b"HX")) {
        return Some(FsKind::HfsPlus);
    }
    if u32le(b, 1024) == Some(0xf2f5_2010) {
        return Some(FsKind::F2fs);
    }
    if at(b, 0x10040, 8) == Some(b"_BHRfS_M") {
        return Some(FsKind::Btrfs);
    }
    if at(b, 32769, 5) == Some(b"CD001") {
        return Some(FsKind::Iso9660);
    }
    for page in [4096usize, 8192, 16384, 65536] {
        if matches!(
            at(b, page - 10, 10),
            Some(b"SWAPSPACE2") | Some(b"SWAP-SPACE")
        ) {
            return Some(FsKind::LinuxSwap);
        }
    }
    if let Some(kind) = fat_kind(b) {
        return Some(kind);
    }
    // BitLocker To Go on FAT media keeps a FAT-looking boot sector with this id.
    if at(b, 3, 8) == Some(b"MSWIN4.1") && at(b, 0x1a0, 8).is_some_and(|s| s == b"-FVE-FS-") {
        return Some(FsKind::BitLocker);
    }
    None
}

fn ext_kind(b: &[u8]) -> Option<FsKind> {
    const SB: usize = 1024;
    if u16le(b, SB + 56)? != 0xef53 {
        return None;
    }
    let compat = u32le(b, SB + 92)?;
    let incompat = u32le(b, SB + 96)?;
    let ro_compat = u32le(b, SB + 100)?;
    const HAS_JOURNAL: u32 = 0x4;
    const JOURNAL_DEV: u32 = 0x8;
    // What ext3 knew (e2fsprogs' EXT3_FEATURE_*_SUPP): anything beyond is ext4.
    const EXT3_INCOMPAT: u32 = 0x2 | 0x4 | 0x10; // filetype, recover, meta_bg
    const EXT3_RO_COMPAT: u32 = 0x1 | 0x2 | 0x4; // sparse_super, large_file, btree_dir
    if incompat & JOURNAL_DEV != 0 {
        return Some(FsKind::ExtJournal);
    }
    if incompat & !EXT3_INCOMPAT != 0 || ro_compat & !EXT3_RO_COMPAT != 0 {
        Some(FsKind::Ext4)
    } else if compat & HAS_JOURNAL != 0 {
        Some(FsKind::Ext3)
    } else {
        Some(FsKind::Ext2)
    }
}

fn fat_kind(b: &[u8]) -> Option<FsKind> {
    let jump = at(b, 0, 3)?;
    if !(jump[0] == 0xeb && jump[2] == 0x90 || jump[0] == 0xe9) {
        return None;
    }
    if at(b, 510, 2)? != [0x55, 0xaa] {
        return None;
    }
    let bytes_per_sector = u32::from(u16le(b, 11)?);
    let per_cluster = u32::from(*b.get(13)?);
    let reserved = u32::from(u16le(b, 14)?);
    let fats = u32::from(*b.get(16)?);
    let root_entries = u32::from(u16le(b, 17)?);
    let total16 = u32::from(u16le(b, 19)?);
    let media = *b.get(21)?;
    let fat16_size = u32::from(u16le(b, 22)?);
    let total32 = u32le(b, 32)?;
    let fat32_size = u32le(b, 36)?;
    if !matches!(bytes_per_sector, 512 | 1024 | 2048 | 4096)
        || !per_cluster.is_power_of_two()
        || per_cluster > 128
        || reserved == 0
        || !(1..=2).contains(&fats)
        || !(media == 0xf0 || media >= 0xf8)
    {
        return None;
    }
    let fat_size = if fat16_size != 0 {
        fat16_size
    } else {
        fat32_size
    };
    let total = if total16 != 0 { total16 } else { total32 };
    if fat_size == 0 || total == 0 {
        return None;
    }
    let root_sectors = (root_entries * 32).div_ceil(bytes_per_sector);
    let meta =
        u64::from(reserved) + u64::from(fats) * u64::from(fat_size) + u64::from(root_sectors);
    let data = u64::from(total).checked_sub(meta)?;
    let clusters = data / u64::from(per_cluster);
    Some(if clusters < 4085 {
        FsKind::Fat12
    } else if clusters < 65525 {
        FsKind::Fat16
    } else {
        FsKind::Fat32
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_name_their_kind_and_an_empty_mbr_is_nothing() {
        let mut b = vec![0u8; PROBE_BYTES];
        assert_eq!(probe_bytes(&b), None);
        b[3..11].copy_from_slice(b"-FVE-FS-");
        assert_eq!(probe_bytes(&b), Some(FsKind::BitLocker));
        assert!(!FsKind::BitLocker.readable());
        let mut b = vec![0u8; PROBE_BYTES];
        b[0x10040..0x10048].copy_from_slice(b"_BHRfS_M");
        assert_eq!(probe_bytes(&b), Some(FsKind::Btrfs));
        let mut b = vec![0u8; 4096];
        b[4086..4096].copy_from_slice(b"SWAPSPACE2");
        assert_eq!(probe_bytes(&b), Some(FsKind::LinuxSwap));
        // A GRUB MBR: jump EB 63 90, zeros where a BPB would be, 55 AA.
        let mut b = vec![0u8; 512];
        b[..3].copy_from_slice(&[0xeb, 0x63, 0x90]);
        b[510] = 0x55;
        b[511] = 0xaa;
        assert_eq!(probe_bytes(&b), None);
        assert_eq!(probe_bytes(&[]), None);
    }

    #[test]
    fn a_serialised_kind_says_whether_it_is_readable() {
        let j = serde_json::to_value(FsKind::Luks).unwrap();
        assert_eq!(j["kind"], "luks");
        assert_eq!(j["readable"], false);
        assert!(j["reason"].as_str().unwrap().contains("cryptsetup"));
        let j = serde_json::to_value(FsKind::Ext4).unwrap();
        assert_eq!(j, serde_json::json!({"kind": "ext4", "readable": true}));
    }
}
