//! The Windows side of the encryption capture: BitLocker on the physical drives
//! (`\\.\PhysicalDriveN`, partitions from their MBR/GPT, first sectors read read-only)
//! judged against the volumes Windows has mounted under drive letters. Must never write
//! to a drive, ask for a key, or run a program (manage-bde): the bytes and the volume
//! APIs only.

use super::*;
/// Scan one physical drive and the partitions its MBR/GPT lists. `None` when the drive
/// does not exist.
fn scan_physical_drive(n: u32) -> Option<Result<Vec<PartitionScan>, String>> {
    use std::io::{Read, Seek, SeekFrom};
    let path = format!(r"\\.\PhysicalDrive{n}");
    let mut file = match std::fs::File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
            return Some(Err(format!(
                "{path}: access denied: run fieldkit as Administrator to read disk headers"
            )));
        }
        Err(e) => return Some(Err(format!("{path}: {e}"))),
    };
    // Raw disks are read in whole sectors: offsets and lengths here are multiples of 4 KiB.
    let mut read_at = |offset: u64, len: usize| -> Option<Vec<u8>> {
        file.seek(SeekFrom::Start(offset)).ok()?;
        let mut buf = vec![0u8; len];
        let mut got = 0;
        while got < len {
            match file.read(&mut buf[got..]) {
                Ok(0) => break,
                Ok(k) => got += k,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        buf.truncate(got);
        (!buf.is_empty()).then_some(buf)
    };
    let Some(first) = read_at(0, HEADER_READ) else {
        return Some(Err(format!("{path}: cannot read the first sectors")));
    };
    let mut scans = Vec::new();
    let mut scan = DeviceScan {
        device: format!("PhysicalDrive{n}"),
        path: path.clone(),
        ..DeviceScan::default()
    };
    scan_header(&mut scan, &first);
    scans.push(PartitionScan {
        disk: n,
        offset: 0,
        scan,
    });
    for (offset, label) in partition_offsets(&first, &mut read_at) {
        let Some(head) = read_at(offset, HEADER_READ) else {
            continue;
        };
        let mut scan = DeviceScan {
            device: format!("PhysicalDrive{n} {label}"),
            path: format!("{path}@{offset}"),
            ..DeviceScan::default()
        };
        scan_header(&mut scan, &head);
        scans.push(PartitionScan {
            disk: n,
            offset,
            scan,
        });
    }
    Some(Ok(scans))
}

/// The drive letters Windows has mounted on local disks (fixed and removable; network,
/// CD and RAM drives are never touched), each asked for its disk extents and file system
/// under its own time limit.
fn mounted_volumes(ctx: &Ctx, notes: &mut Vec<String>) -> Vec<MountedVolume> {
    use crate::live::bounded::map_bounded;
    use windows_sys::Win32::Storage::FileSystem::{GetDriveTypeW, GetLogicalDrives};
    // GetDriveTypeW results (winbase.h; windows-sys has them in the large
    // WindowsProgramming module, not worth its compile time for two numbers).
    const DRIVE_REMOVABLE: u32 = 2;
    const DRIVE_FIXED: u32 = 3;
    let wide = |s: &str| -> Vec<u16> { s.encode_utf16().chain(std::iter::once(0)).collect() };
    // SAFETY: GetLogicalDrives takes no arguments and only returns a bit mask.
    let mask = unsafe { GetLogicalDrives() };
    let mut letters = Vec::new();
    for i in 0..26u32 {
        if mask & (1 << i) == 0 {
            continue;
        }
        let letter = format!("{}:", char::from(b'A' + i as u8));
        let root = wide(&format!("{letter}\\"));
        // SAFETY: root is a NUL-terminated UTF-16 string that outlives the call.
        let kind = unsafe { GetDriveTypeW(root.as_ptr()) };
        if kind == DRIVE_FIXED || kind == DRIVE_REMOVABLE {
            letters.push(letter);
        }
    }
    let results = map_bounded(
        letters.clone(),
        2,
        std::time::Duration::from_secs(3),
        ctx.soft_deadline,
        query_volume,
    );
    let mut out = Vec::new();
    for (letter, r) in letters.into_iter().zip(results) {
        match r.into_result(&format!("asking Windows about volume {letter}")) {
            Ok(v) => out.push(v),
            Err(e) => {
                notes.push(e.clone());
                out.push(MountedVolume {
                    letter,
                    error: Some(e),
                    ..MountedVolume::default()
                });
            }
        }
    }
    out
}

fn query_volume(letter: String) -> MountedVolume {
    use std::os::windows::fs::OpenOptionsExt;
    use std::os::windows::io::AsRawHandle;
    use windows_sys::Win32::Storage::FileSystem::{
        FILE_SHARE_READ, FILE_SHARE_WRITE, GetVolumeInformationW,
        IOCTL_VOLUME_GET_VOLUME_DISK_EXTENTS,
    };
    use windows_sys::Win32::System::IO::DeviceIoControl;
    use windows_sys::Win32::System::Ioctl::{DISK_EXTENT, VOLUME_DISK_EXTENTS};

    let mut v = MountedVolume {
        letter: letter.clone(),
        ..MountedVolume::default()
    };
    let mut errors = Vec::new();

    // Extents: a volume handle opened with no access rights at all (no Administrator
    // needed, nothing can be read or written through it).
    let device = format!(r"\\.\{letter}");
    match std::fs::OpenOptions::new()
        .access_mode(0)
        .share_mode(FILE_SHARE_READ | FILE_SHARE_WRITE)
        .open(&device)
    {
        Ok(handle) => {
            // Room for 32 extents (a spanned dynamic volume has several).
            const ROOM: usize = 32;
            let size = std::mem::size_of::<VOLUME_DISK_EXTENTS>()
                + ROOM * std::mem::size_of::<DISK_EXTENT>();
            let mut buf = vec![0u64; size.div_ceil(8)];
            let mut returned = 0u32;
            // SAFETY: the handle is open for the duration of the call; the output buffer
            // is `size` bytes, 8-byte aligned, and owned here; no overlapped I/O.
            let ok = unsafe {
                DeviceIoControl(
                    handle.as_raw_handle(),
                    IOCTL_VOLUME_GET_VOLUME_DISK_EXTENTS,
                    std::ptr::null(),
                    0,
                    buf.as_mut_ptr().cast(),
                    size as u32,
                    &mut returned,
                    std::ptr::null_mut(),
                )
            };
            if ok == 0 {
                errors.push(format!(
                    "{device}: disk extents: {}",
                    std::io::Error::last_os_error()
                ));
            } else {
                // SAFETY: the buffer is large and aligned enough for the header, which
                // DeviceIoControl filled in.
                let header = unsafe { &*(buf.as_ptr() as *const VOLUME_DISK_EXTENTS) };
                let count = (header.NumberOfDiskExtents as usize).min(ROOM + 1);
                let first = std::mem::offset_of!(VOLUME_DISK_EXTENTS, Extents);
                for i in 0..count {
                    let at = first + i * std::mem::size_of::<DISK_EXTENT>();
                    if at + std::mem::size_of::<DISK_EXTENT>() > (returned as usize).min(size) {
                        break;
                    }
                    // SAFETY: `at` lies inside the returned part of the buffer (checked
                    // above); read_unaligned needs no alignment.
                    let e: DISK_EXTENT = unsafe {
                        std::ptr::read_unaligned(buf.as_ptr().cast::<u8>().add(at).cast())
                    };
                    v.extents
                        .push((e.DiskNumber, u64::try_from(e.StartingOffset).unwrap_or(0)));
                }
            }
        }
        Err(e) => errors.push(format!("{device}: {e}")),
    }

    // Does Windows read its file system? (A locked BitLocker volume does not answer.)
    let root: Vec<u16> = format!("{letter}\\")
        .encode_utf16()
        .chain(std::iter::once(0))
        .collect();
    let mut fs_name = [0u16; 64];
    // SAFETY: root is NUL-terminated; fs_name is a buffer of the length given; the other
    // optional outputs are null.
    let ok = unsafe {
        GetVolumeInformationW(
            root.as_ptr(),
            std::ptr::null_mut(),
            0,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            fs_name.as_mut_ptr(),
            fs_name.len() as u32,
        )
    };
    if ok == 0 {
        errors.push(format!(
            "{letter}\\: file system: {}",
            std::io::Error::last_os_error()
        ));
    } else {
        let end = fs_name
            .iter()
            .position(|c| *c == 0)
            .unwrap_or(fs_name.len());
        v.file_system = Some(String::from_utf16_lossy(&fs_name[..end]));
    }
    if !errors.is_empty() {
        v.error = Some(errors.join("; "));
    }
    v
}

fn windows_state(ctx: &Ctx) -> EncryptionState {
    use crate::live::bounded::map_bounded;
    let mut state = EncryptionState::default();
    let results = map_bounded(
        (0..32u32).collect(),
        2,
        std::time::Duration::from_secs(5),
        ctx.soft_deadline,
        scan_physical_drive,
    );
    let mut partitions = Vec::new();
    let mut drive_errors = Vec::new();
    for (n, r) in results.into_iter().enumerate() {
        match r.into_result(&format!("reading PhysicalDrive{n}")) {
            Ok(None) => {}
            Ok(Some(Ok(scans))) => partitions.extend(scans),
            Ok(Some(Err(e))) | Err(e) => {
                state.devices.push(DeviceScan {
                    device: format!("PhysicalDrive{n}"),
                    path: format!(r"\\.\PhysicalDrive{n}"),
                    error: Some(e.clone()),
                    ..DeviceScan::default()
                });
                drive_errors.push(e);
            }
        }
    }
    let volumes = mounted_volumes(ctx, &mut state.notes);
    let system_drive = std::env::var("SystemDrive").unwrap_or_else(|_| "C:".to_string());
    bitlocker_lock_state(&partitions, &volumes, &system_drive, &mut state);
    state.devices.extend(partitions.into_iter().map(|p| p.scan));
    state.not_determined = not_determined_reason(
        &state.devices,
        "run fieldkit as Administrator to read disk headers",
        &mut state.notes,
    );
    state.notes.push(
        "Windows: a BitLocker volume is open when Windows reads its file system under a \
         drive letter (or it holds the running system drive); one Windows cannot read is \
         locked; one without a drive letter is unknown. Not yet: the lock state from \
         Win32_EncryptableVolume.GetLockStatus (WMI), VeraCrypt driver mappings, EFS."
            .to_string(),
    );
    state
}

pub fn capture(ctx: &Ctx) -> Result<EncryptionState, String> {
    Ok(windows_state(ctx))
}

/// On Windows the quick check is the BitLocker judgement itself (a few sectors per
/// partition and one question per drive letter).
pub fn open_check(ctx: &Ctx) -> Result<OpenCheck, String> {
    let state = windows_state(ctx);
    Ok(OpenCheck {
        open_volumes: state.open_volumes,
        device_mapper: Vec::new(),
        notes: state.notes,
    })
}
