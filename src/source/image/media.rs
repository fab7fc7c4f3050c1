//! Positioned, read-only access to bytes: the one interface between the image layers.
//!
//! Owns `ReadAt` (what containers expose and file systems consume) and `Window` (a
//! volume: a bounded slice of the media). Never writes and never reads outside the
//! bounds it was given: a read past the end is short, not an error, and a window never
//! reaches past its parent's end.

use std::io;
use std::sync::Arc;

/// Read-only random access to a fixed-size sequence of bytes (a container's media, a
/// volume, a decoded stream). `&self` and `Sync`, so parallel workers share one reader.
pub trait ReadAt: Send + Sync {
    /// Size in bytes. Fixed for the life of the reader.
    fn size(&self) -> u64;

    /// Read up to `buf.len()` bytes at `offset`. Returns fewer only at the end of the
    /// media (0 at or past the end). An error carries the offset and what failed.
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize>;

    /// What this is, for error messages and the manifest ("E01 image case.E01 (3
    /// segments)", "partition 2 of /dev/sdb").
    fn describe(&self) -> String;

    /// Fill `buf` from `offset`, or fail naming the offset where the media ended.
    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        let mut done = 0usize;
        while done < buf.len() {
            let at = offset.checked_add(done as u64).ok_or_else(|| {
                io::Error::new(io::ErrorKind::InvalidInput, "offset overflows u64")
            })?;
            match self.read_at(at, &mut buf[done..]) {
                Ok(0) => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        format!(
                            "{}: {} bytes wanted at offset {offset}, the media ends at {}",
                            self.describe(),
                            buf.len(),
                            self.size()
                        ),
                    ));
                }
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

impl<T: ReadAt + ?Sized> ReadAt for Arc<T> {
    fn size(&self) -> u64 {
        (**self).size()
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        (**self).read_at(offset, buf)
    }
    fn describe(&self) -> String {
        (**self).describe()
    }
}

/// Bytes held in memory (tests, fuzzing, resident data).
impl ReadAt for [u8] {
    fn size(&self) -> u64 {
        self.len() as u64
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        let Ok(start) = usize::try_from(offset) else {
            return Ok(0);
        };
        let Some(rest) = self.get(start..) else {
            return Ok(0);
        };
        let n = rest.len().min(buf.len());
        buf[..n].copy_from_slice(&rest[..n]);
        Ok(n)
    }
    fn describe(&self) -> String {
        format!("{} bytes in memory", self.len())
    }
}

impl ReadAt for Vec<u8> {
    fn size(&self) -> u64 {
        self.as_slice().size()
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        self.as_slice().read_at(offset, buf)
    }
    fn describe(&self) -> String {
        self.as_slice().describe()
    }
}

/// A bounded slice `[start, start + len)` of another reader: a partition of the media.
/// The length is clipped to the parent's end, so a partition table that claims more
/// than the media holds gives a shorter window (the caller records that), never reads
/// of bytes that are not there.
#[derive(Clone)]
pub struct Window {
    inner: Arc<dyn ReadAt>,
    start: u64,
    len: u64,
    label: String,
}

impl Window {
    /// The window, and whether it had to be clipped to the parent's size.
    pub fn new(inner: Arc<dyn ReadAt>, start: u64, len: u64, label: String) -> (Self, bool) {
        let avail = inner.size().saturating_sub(start);
        let clipped = len > avail;
        let len = len.min(avail);
        (
            Window {
                inner,
                start,
                len,
                label,
            },
            clipped,
        )
    }

    /// Offset of this window's first byte in the parent media.
    pub fn start(&self) -> u64 {
        self.start
    }

    pub fn parent(&self) -> &Arc<dyn ReadAt> {
        &self.inner
    }
}

impl ReadAt for Window {
    fn size(&self) -> u64 {
        self.len
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        if offset >= self.len {
            return Ok(0);
        }
        let n = (self.len - offset).min(buf.len() as u64) as usize;
        // `start + offset` cannot overflow: both are within the parent's u64 size.
        self.inner.read_at(self.start + offset, &mut buf[..n])
    }
    fn describe(&self) -> String {
        self.label.clone()
    }
}

/// `std::io::Read + Seek` over a `ReadAt`, for libraries that want a cursor (each
/// worker makes its own; the reader underneath is shared).
pub struct Cursor<R: ReadAt + ?Sized> {
    inner: Arc<R>,
    pos: u64,
}

impl<R: ReadAt + ?Sized> Cursor<R> {
    pub fn new(inner: Arc<R>) -> Self {
        Cursor { inner, pos: 0 }
    }
}

impl<R: ReadAt + ?Sized> Clone for Cursor<R> {
    fn clone(&self) -> Self {
        Cursor {
            inner: Arc::clone(&self.inner),
            pos: self.pos,
        }
    }
}

impl<R: ReadAt + ?Sized> io::Read for Cursor<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read_at(self.pos, buf)?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl<R: ReadAt + ?Sized> io::Seek for Cursor<R> {
    fn seek(&mut self, to: io::SeekFrom) -> io::Result<u64> {
        let size = self.inner.size();
        let new = match to {
            io::SeekFrom::Start(p) => Some(p),
            io::SeekFrom::End(d) => size.checked_add_signed(d),
            io::SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        match new {
            Some(p) => {
                self.pos = p;
                Ok(p)
            }
            None => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "seek before the start of the media",
            )),
        }
    }
}

/// A plain file read with positioned reads (`pread` / `ReadFile` with an offset): a raw
/// image, one segment of a split set. Opened read-only; never locked, never written.
pub struct FileMedia {
    file: std::fs::File,
    size: u64,
    path: std::path::PathBuf,
}

impl FileMedia {
    /// Open `path` read-only (O_NOATIME where permitted, like every evidence open).
    pub fn open(path: &std::path::Path) -> io::Result<Self> {
        let file = open_read_only(path)?;
        let size = file.metadata()?.len();
        Ok(FileMedia {
            file,
            size,
            path: path.to_path_buf(),
        })
    }

    pub fn path(&self) -> &std::path::Path {
        &self.path
    }
}

/// Read-only open of an image file or device: `O_NOATIME` when the kernel allows it,
/// `O_CLOEXEC`; never `O_CREAT`, never for writing.
pub fn open_read_only(path: &std::path::Path) -> io::Result<std::fs::File> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        use std::os::unix::fs::OpenOptionsExt;
        let attempt = |flags: i32| {
            std::fs::OpenOptions::new()
                .read(true)
                .custom_flags(flags)
                .open(path)
        };
        match attempt(libc::O_NOATIME | libc::O_CLOEXEC) {
            Err(e) if e.raw_os_error() == Some(libc::EPERM) => attempt(libc::O_CLOEXEC),
            other => other,
        }
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        std::fs::OpenOptions::new().read(true).open(path)
    }
}

impl ReadAt for FileMedia {
    fn size(&self) -> u64 {
        self.size
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        if offset >= self.size {
            return Ok(0);
        }
        let n = (self.size - offset).min(buf.len() as u64) as usize;
        let res = {
            #[cfg(unix)]
            {
                use std::os::unix::fs::FileExt;
                self.file.read_at(&mut buf[..n], offset)
            }
            #[cfg(windows)]
            {
                use std::os::windows::fs::FileExt;
                self.file.seek_read(&mut buf[..n], offset)
            }
        };
        res.map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("{}: read at offset {offset}: {e}", self.path.display()),
            )
        })
    }
    fn describe(&self) -> String {
        self.path.display().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_is_clipped_to_its_parent_and_reads_short_at_its_end() {
        let media: Arc<dyn ReadAt> = Arc::new((0u8..100).collect::<Vec<u8>>());
        let (w, clipped) = Window::new(Arc::clone(&media), 90, 50, "p1".into());
        assert!(clipped);
        assert_eq!(w.size(), 10);
        let mut buf = [0u8; 20];
        assert_eq!(w.read_at(5, &mut buf).unwrap(), 5);
        assert_eq!(&buf[..5], &[95, 96, 97, 98, 99]);
        assert_eq!(w.read_at(10, &mut buf).unwrap(), 0);
        let err = w.read_exact_at(8, &mut buf[..4]).unwrap_err();
        assert!(err.to_string().contains("offset 8"), "{err}");
    }
}
