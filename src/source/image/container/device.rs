//! Block devices as media: Linux `/dev/sdX`, `/dev/nvme0n1`, `/dev/loopN` (any block
//! special file), Windows `\\.\PhysicalDriveN` and volumes `\\.\C:`. Opened read-only
//! (never `O_EXCL`, never locked, no write access requested); the size comes from the
//! device (`BLKGETSIZE64`, falling back to seeking to the end; Windows
//! `IOCTL_DISK_GET_LENGTH_INFO`), the logical sector size from `BLKSSZGET` /
//! `IOCTL_DISK_GET_DRIVE_GEOMETRY_EX`.
//!
//! A Windows raw device refuses reads whose offset or length is not a multiple of the
//! sector size, so every Windows device is wrapped in `Aligned`, which widens each read
//! to whole sectors and copies out the bytes asked for (it is tested on Linux over a fake
//! device that refuses unaligned reads). Linux block devices accept any offset through
//! the page cache and are read directly.
//!
//! Must never: open a device for writing, dismount or lock a volume, or issue an unaligned
//! read to a Windows device.

use std::io;
use std::path::Path;
use std::sync::Arc;

use super::{Container, ContainerInfo, SegmentInfo, StoredHashes};
use crate::source::image::media::ReadAt;
use crate::source::image::open::ImageError;

/// `\\.\PhysicalDrive1`, `\\.\C:`, `\\?\GLOBALROOT\…`: Windows device namespace paths,
/// which have no metadata a `stat` would show.
pub fn is_device_path(path: &Path) -> bool {
    let s = path.to_string_lossy();
    s.starts_with(r"\\.\") || s.starts_with(r"\\?\GLOBALROOT\")
}

#[cfg(unix)]
pub fn is_block_device(t: &std::fs::FileType) -> bool {
    use std::os::unix::fs::FileTypeExt;
    t.is_block_device()
}

#[cfg(not(unix))]
pub fn is_block_device(_t: &std::fs::FileType) -> bool {
    false
}

/// A device: positioned reads on a read-only handle of a fixed size.
pub struct DeviceMedia {
    file: std::fs::File,
    size: u64,
    label: String,
}

impl ReadAt for DeviceMedia {
    fn size(&self) -> u64 {
        self.size
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        if offset >= self.size {
            return Ok(0);
        }
        let n = (self.size - offset).min(buf.len() as u64) as usize;
        let mut done = 0usize;
        while done < n {
            let at = offset + done as u64;
            let res = {
                #[cfg(unix)]
                {
                    use std::os::unix::fs::FileExt;
                    self.file.read_at(&mut buf[done..n], at)
                }
                #[cfg(windows)]
                {
                    use std::os::windows::fs::FileExt;
                    self.file.seek_read(&mut buf[done..n], at)
                }
            };
            match res {
                Ok(0) => break,
                Ok(k) => done += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    return Err(io::Error::new(
                        e.kind(),
                        format!("{}: read at offset {at}: {e}", self.label),
                    ));
                }
            }
        }
        Ok(done)
    }

    fn describe(&self) -> String {
        self.label.clone()
    }
}

pub fn open(path: &Path) -> Result<Container, ImageError> {
    let file = crate::source::image::media::open_read_only(path)
        .map_err(|e| ImageError::io(path, None, "cannot open the device read-only", &e))?;
    let (size, sector) = device_geometry(&file)
        .map_err(|e| ImageError::io(path, None, "cannot read the device's size", &e))?;
    if size == 0 {
        return Err(ImageError::new(
            path,
            "empty",
            None,
            "device has no media (size 0)",
        ));
    }
    let label = format!("device {}", path.display());
    let device = DeviceMedia { file, size, label };
    let media: Arc<dyn ReadAt> = if cfg!(windows) {
        Arc::new(Aligned::new(Arc::new(device), sector.max(512)))
    } else {
        Arc::new(device)
    };
    Ok(Container {
        info: ContainerInfo {
            format: "device",
            format_detail: "block device".to_string(),
            path: path.to_path_buf(),
            media_size: size,
            sector_size: Some(sector),
            segments: vec![SegmentInfo {
                path: path.to_path_buf(),
                size,
            }],
            metadata: Default::default(),
            stored_hashes: StoredHashes::default(),
            acquisition_errors: Vec::new(),
            notes: Vec::new(),
        },
        media,
    })
}

/// A volume device (`\\.\C:`, `/dev/sdb1`) or a file holding one volume, as media for
/// the live raw reader (`source::rawvol`): opened read-only with full sharing, Windows
/// reads aligned to sectors. The size is the device's; where the device does not say
/// (Wine answers neither `IOCTL_DISK_GET_LENGTH_INFO` nor a size for a `dosdevices`
/// device), the NTFS boot sector's: total sectors plus the backup boot sector.
pub fn open_volume(path: &Path) -> io::Result<Arc<dyn ReadAt>> {
    let file = crate::source::image::media::open_read_only(path)?;
    let file_len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let (size, sector) = match device_geometry(&file) {
        Ok((size, sector)) if size > 0 => (size, sector),
        _ if file_len > 0 => (file_len, 512),
        _ => (0, 512),
    };
    let label = format!("volume {}", path.display());
    let wrap = |media: DeviceMedia| -> Arc<dyn ReadAt> {
        if cfg!(windows) {
            Arc::new(Aligned::new(Arc::new(media), sector.max(512)))
        } else {
            Arc::new(media)
        }
    };
    if size > 0 {
        return Ok(wrap(DeviceMedia { file, size, label }));
    }
    // Size unknown: read the boot sector through a view as large as one sector.
    let probe = wrap(DeviceMedia {
        file,
        size: u64::from(sector.max(512)),
        label: label.clone(),
    });
    let mut boot = [0u8; 512];
    probe.read_exact_at(0, &mut boot)?;
    let bps = u64::from(u16::from_le_bytes([boot[11], boot[12]]));
    let total = u64::from_le_bytes(boot[0x28..0x30].try_into().unwrap_or([0; 8]));
    if &boot[3..11] != b"NTFS    " || !bps.is_power_of_two() || !(256..=4096).contains(&bps) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{label}: the device has no size and no NTFS boot sector to take it from"),
        ));
    }
    let size = total
        .checked_add(1)
        .and_then(|n| n.checked_mul(bps))
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{label}: {total} sectors"),
            )
        })?;
    drop(probe);
    let file = crate::source::image::media::open_read_only(path)?;
    Ok(wrap(DeviceMedia { file, size, label }))
}

/// Size in bytes and logical sector size of an open block device.
#[cfg(target_os = "linux")]
fn device_geometry(file: &std::fs::File) -> io::Result<(u64, u32)> {
    use std::os::fd::AsRawFd;
    // <linux/fs.h>: BLKGETSIZE64 = _IOR(0x12, 114, size_t), BLKSSZGET = _IO(0x12, 104).
    // The request's C type differs by libc (glibc: unsigned long, musl: int); the cast
    // keeps the 32 request bits either way.
    const BLKGETSIZE64: libc::Ioctl = 0x8008_1272_u32 as libc::Ioctl;
    const BLKSSZGET: libc::Ioctl = 0x1268 as libc::Ioctl;
    let fd = file.as_raw_fd();
    let mut size: u64 = 0;
    // SAFETY: BLKGETSIZE64 writes one u64 through the pointer, which is valid for it.
    let size = if unsafe { libc::ioctl(fd, BLKGETSIZE64, &mut size as *mut u64) } == 0 {
        size
    } else {
        use std::io::Seek;
        let mut f = file;
        f.seek(io::SeekFrom::End(0))?
    };
    let mut sector: libc::c_int = 0;
    // SAFETY: BLKSSZGET writes one int through the pointer, which is valid for it.
    let sector = if unsafe { libc::ioctl(fd, BLKSSZGET, &mut sector as *mut libc::c_int) } == 0
        && sector > 0
    {
        sector as u32
    } else {
        512
    };
    Ok((size, sector))
}

#[cfg(all(unix, not(target_os = "linux")))]
fn device_geometry(file: &std::fs::File) -> io::Result<(u64, u32)> {
    use std::io::Seek;
    let mut f = file;
    Ok((f.seek(io::SeekFrom::End(0))?, 512))
}

#[cfg(windows)]
fn device_geometry(file: &std::fs::File) -> io::Result<(u64, u32)> {
    use std::os::windows::io::AsRawHandle;
    use windows_sys::Win32::System::IO::DeviceIoControl;
    use windows_sys::Win32::System::Ioctl::{
        DISK_GEOMETRY_EX, GET_LENGTH_INFORMATION, IOCTL_DISK_GET_DRIVE_GEOMETRY_EX,
        IOCTL_DISK_GET_LENGTH_INFO,
    };
    let handle = file.as_raw_handle();
    let mut length = GET_LENGTH_INFORMATION::default();
    let mut returned = 0u32;
    // SAFETY: the handle is open for the call; the output buffer is a
    // GET_LENGTH_INFORMATION owned here, of the size passed; no overlapped I/O.
    let ok = unsafe {
        DeviceIoControl(
            handle,
            IOCTL_DISK_GET_LENGTH_INFO,
            std::ptr::null(),
            0,
            (&mut length as *mut GET_LENGTH_INFORMATION).cast(),
            std::mem::size_of::<GET_LENGTH_INFORMATION>() as u32,
            &mut returned,
            std::ptr::null_mut(),
        )
    };
    if ok == 0 {
        return Err(io::Error::last_os_error());
    }
    let mut geometry = DISK_GEOMETRY_EX::default();
    // SAFETY: as above, with a DISK_GEOMETRY_EX as the output buffer.
    let ok = unsafe {
        DeviceIoControl(
            handle,
            IOCTL_DISK_GET_DRIVE_GEOMETRY_EX,
            std::ptr::null(),
            0,
            (&mut geometry as *mut DISK_GEOMETRY_EX).cast(),
            std::mem::size_of::<DISK_GEOMETRY_EX>() as u32,
            &mut returned,
            std::ptr::null_mut(),
        )
    };
    let sector = if ok != 0 && geometry.Geometry.BytesPerSector > 0 {
        geometry.Geometry.BytesPerSector
    } else {
        512
    };
    Ok((length.Length.max(0) as u64, sector))
}

/// Reads widened to whole sectors: for devices that refuse a read whose offset or
/// length is not a multiple of the sector size (Windows raw disks and volumes).
pub struct Aligned {
    inner: Arc<dyn ReadAt>,
    sector: u64,
}

/// Largest aligned read issued at once (bounds the bounce buffer).
const MAX_BOUNCE: u64 = 1 << 20;

impl Aligned {
    pub fn new(inner: Arc<dyn ReadAt>, sector: u32) -> Self {
        Aligned {
            inner,
            sector: u64::from(sector.max(1)),
        }
    }
}

impl Aligned {
    /// One device read of at most `MAX_BOUNCE` bytes covering the start of `buf`.
    fn read_some(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        let s = self.sector;
        let len = (buf.len() as u64).min(MAX_BOUNCE);
        if offset.is_multiple_of(s) && len.is_multiple_of(s) {
            return self.inner.read_at(offset, &mut buf[..len as usize]);
        }
        let start = offset - offset % s;
        let end = (offset + len).min(start + MAX_BOUNCE);
        // Round up to a whole sector; a device's size is a whole number of sectors.
        let aligned_end = end.div_ceil(s) * s;
        let mut bounce = vec![0u8; (aligned_end - start) as usize];
        let mut got = 0usize;
        while got < bounce.len() {
            match self.inner.read_at(start + got as u64, &mut bounce[got..]) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
            if !(got as u64).is_multiple_of(s) {
                // A device answers in whole sectors; anything else is its end.
                break;
            }
        }
        let skip = (offset - start) as usize;
        if got <= skip {
            return Ok(0);
        }
        let n = (got - skip).min((end - offset) as usize);
        buf[..n].copy_from_slice(&bounce[skip..skip + n]);
        Ok(n)
    }
}

impl ReadAt for Aligned {
    fn size(&self) -> u64 {
        self.inner.size()
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        let size = self.inner.size();
        if offset >= size || buf.is_empty() {
            return Ok(0);
        }
        let want = (size - offset).min(buf.len() as u64) as usize;
        let mut done = 0usize;
        while done < want {
            let n = self.read_some(offset + done as u64, &mut buf[done..want])?;
            if n == 0 {
                break;
            }
            done += n;
        }
        Ok(done)
    }

    fn describe(&self) -> String {
        self.inner.describe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A device like Windows' raw disks: refuses any read not in whole sectors.
    struct SectorOnly {
        data: Vec<u8>,
        sector: u64,
    }

    impl ReadAt for SectorOnly {
        fn size(&self) -> u64 {
            self.data.len() as u64
        }
        fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
            if !offset.is_multiple_of(self.sector)
                || !(buf.len() as u64).is_multiple_of(self.sector)
            {
                return Err(io::Error::from_raw_os_error(87)); // ERROR_INVALID_PARAMETER
            }
            self.data.as_slice().read_at(offset, buf)
        }
        fn describe(&self) -> String {
            "sector-only device".into()
        }
    }

    #[test]
    fn unaligned_reads_are_widened_to_whole_sectors() {
        let data: Vec<u8> = (0..8192u32).map(|i| (i * 7 % 251) as u8).collect();
        let dev: Arc<dyn ReadAt> = Arc::new(SectorOnly {
            data: data.clone(),
            sector: 512,
        });
        let mut probe = [0u8; 3];
        assert!(dev.read_at(1, &mut probe).is_err(), "the fake must refuse");
        let aligned = Aligned::new(Arc::clone(&dev), 512);
        for (offset, len) in [
            (0u64, 512usize),
            (1, 3),
            (511, 2),
            (100, 4000),
            (7000, 5000),
            (8191, 1),
            (0, 8192),
        ] {
            let mut buf = vec![0u8; len];
            let end = (offset as usize + len).min(data.len());
            aligned
                .read_exact_at(offset, &mut buf[..end - offset as usize])
                .unwrap();
            assert_eq!(
                &buf[..end - offset as usize],
                &data[offset as usize..end],
                "{offset}+{len}"
            );
        }
        let mut buf = vec![0u8; 10];
        assert_eq!(aligned.read_at(8192, &mut buf).unwrap(), 0);
        assert_eq!(aligned.read_at(8190, &mut buf).unwrap(), 2);
    }
}
