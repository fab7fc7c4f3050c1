//! JSON-lines spools: files.jsonl and findings.jsonl grow with the number of files, so
//! they are written to an anonymous temporary file on the output device (never the
//! source, never beside the binary) and copied into the bundle at the end. Memory stays
//! flat whatever the number of files; an unlinked temp file leaves nothing behind if the
//! process is killed.

use std::fs::File;
use std::io::{self, BufWriter, Seek, SeekFrom, Write};
use std::path::Path;

use serde::Serialize;

pub struct Spool {
    out: BufWriter<File>,
    lines: u64,
    bytes: u64,
}

impl Spool {
    pub fn new_in(dir: &Path) -> io::Result<Self> {
        let file = tempfile::tempfile_in(dir)?;
        Ok(Spool {
            out: BufWriter::with_capacity(256 * 1024, file),
            lines: 0,
            bytes: 0,
        })
    }

    pub fn push<T: Serialize>(&mut self, value: &T) -> io::Result<()> {
        let mut line = serde_json::to_vec(value).map_err(io::Error::other)?;
        line.push(b'\n');
        self.out.write_all(&line)?;
        self.lines += 1;
        self.bytes += line.len() as u64;
        Ok(())
    }

    pub fn lines(&self) -> u64 {
        self.lines
    }

    /// The spooled bytes, rewound, and their length.
    pub fn into_reader(self) -> io::Result<(File, u64)> {
        let mut file = self.out.into_inner().map_err(|e| e.into_error())?;
        file.seek(SeekFrom::Start(0))?;
        Ok((file, self.bytes))
    }
}
