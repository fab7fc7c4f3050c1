//! `ReadAt` over a third-party container reader that only offers `Read + Seek` with
//! `&mut self` (`vmdk-core`, `vhdx-core`): one reader behind a mutex, every call fenced.
//!
//! Reads through one of these are serial (the crates keep a cursor and caches inside);
//! that is the price of using them unmodified, and is what the benchmark of a VMDK/VHDX
//! source measures. A read that ends before the media's declared end is an error naming
//! the offset (the crates return 0 for a grain past the end of a truncated file).
//!
//! Must never: hand out a short read inside the media as if it were the end, or let a
//! panic inside the crate escape.

use std::io::{self, Read, Seek, SeekFrom};
use std::sync::Mutex;

use super::guard::fenced;
use crate::source::image::media::ReadAt;

pub struct SeekableMedia<R: Read + Seek + Send> {
    inner: Mutex<R>,
    size: u64,
    label: String,
    /// The crate's name, for errors ("the vmdk-core reader").
    crate_name: &'static str,
}

impl<R: Read + Seek + Send> SeekableMedia<R> {
    pub fn new(inner: R, size: u64, label: String, crate_name: &'static str) -> Self {
        SeekableMedia {
            inner: Mutex::new(inner),
            size,
            label,
            crate_name,
        }
    }
}

impl<R: Read + Seek + Send> ReadAt for SeekableMedia<R> {
    fn size(&self) -> u64 {
        self.size
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        if offset >= self.size || buf.is_empty() {
            return Ok(0);
        }
        let want = (self.size - offset).min(buf.len() as u64) as usize;
        let buf = &mut buf[..want];
        let mut reader = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let result = fenced(|| -> io::Result<usize> {
            reader.seek(SeekFrom::Start(offset))?;
            let mut done = 0;
            while done < buf.len() {
                match reader.read(&mut buf[done..]) {
                    Ok(0) => break,
                    Ok(n) => done += n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
            Ok(done)
        });
        let done = match result {
            Ok(Ok(n)) => n,
            Ok(Err(e)) => {
                return Err(io::Error::new(
                    e.kind(),
                    format!("{}: read at media offset {offset}: {e}", self.label),
                ));
            }
            Err(panic) => {
                return Err(io::Error::other(format!(
                    "{}: read at media offset {offset}: internal failure of the {} reader: {panic}",
                    self.label, self.crate_name
                )));
            }
        };
        if done < want {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!(
                    "{}: the container ends at media offset {} before the media's declared size {} (truncated?)",
                    self.label,
                    offset + done as u64,
                    self.size
                ),
            ));
        }
        Ok(done)
    }

    fn describe(&self) -> String {
        self.label.clone()
    }
}
