//! Hashing and triage of a large file on a helper thread while the worker that holds the
//! bundle lock reads the file and writes it into the archive.
//!
//! Why: a large member must be written contiguously, so its whole read+write happens
//! under the bundle lock. Hashing inside that section serialised the run on the largest
//! files (on the benchmark corpus two thirds of the bytes are in four disk images, and one
//! core sat idle). With the pipe the lock holder only reads and writes; the digest runs
//! beside it on a few recycled 1 MiB buffers, so memory stays bounded (DEPTH × CHUNK per
//! streamed file, and one file streams at a time).
//!
//! Must never: reorder or drop a chunk (one channel, one consumer), or let a failed
//! helper look like a finished digest (`finish` returns None and the caller fails the
//! file).

use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

use crate::hashing::MultiHasher;
use crate::triage::FileTriage;

/// Buffers in flight per streamed file: one being read, one being hashed, one queued.
const DEPTH: usize = 3;

pub struct HashPipe {
    work: Option<SyncSender<(Vec<u8>, usize)>>,
    free: Receiver<Vec<u8>>,
    handle: Option<JoinHandle<Option<(MultiHasher, FileTriage)>>>,
    allocated: usize,
    /// Buffers handed back unused (a read interrupted by a signal), reused first.
    spare: Vec<Vec<u8>>,
    chunk: usize,
}

impl HashPipe {
    /// Starts the helper thread with `hasher` and `scans`; gives them back unchanged if
    /// the thread cannot be created (the caller then hashes inline).
    pub fn start(
        hasher: MultiHasher,
        scans: FileTriage,
        chunk: usize,
    ) -> Result<Self, Box<(MultiHasher, FileTriage)>> {
        let (work_tx, work_rx) = sync_channel::<(Vec<u8>, usize)>(DEPTH);
        let (free_tx, free_rx) = sync_channel::<Vec<u8>>(DEPTH);
        // The pair travels through a channel rather than the closure, so a failed spawn
        // (which drops the closure) cannot lose bytes already hashed.
        let (state_tx, state_rx) = sync_channel::<(MultiHasher, FileTriage)>(1);
        let spawned = std::thread::Builder::new()
            .name("fieldkit-hash".into())
            .spawn(move || {
                let Ok((mut hasher, mut scans)) = state_rx.recv() else {
                    return None;
                };
                for (buf, n) in work_rx {
                    hasher.update(&buf[..n]);
                    scans.update(&buf[..n]);
                    // The reader may have stopped early and dropped its end: fine.
                    let _ = free_tx.send(buf);
                }
                Some((hasher, scans))
            });
        let handle = match spawned {
            Ok(h) => h,
            Err(_) => return Err(Box::new((hasher, scans))),
        };
        if let Err(e) = state_tx.send((hasher, scans)) {
            // The thread exists but is gone already: nothing was hashed yet.
            let _ = handle.join();
            return Err(Box::new(e.0));
        }
        Ok(HashPipe {
            work: Some(work_tx),
            free: free_rx,
            handle: Some(handle),
            allocated: 0,
            spare: Vec::new(),
            chunk,
        })
    }

    /// A buffer to read the next chunk into (recycled once the helper is done with it).
    /// None when the helper has failed.
    pub fn buffer(&mut self) -> Option<Vec<u8>> {
        if let Some(b) = self.spare.pop() {
            return Some(b);
        }
        if self.allocated < DEPTH {
            self.allocated += 1;
            return Some(vec![0u8; self.chunk]);
        }
        self.free.recv().ok()
    }

    /// Returns a buffer that was not sent, so the pool never shrinks (with every buffer
    /// lost, `buffer` would wait for one forever).
    pub fn give_back(&mut self, buf: Vec<u8>) {
        self.spare.push(buf);
    }

    /// Hands `buf[..n]` to the helper, in order. False when the helper has failed.
    pub fn send(&mut self, buf: Vec<u8>, n: usize) -> bool {
        match &self.work {
            Some(tx) => tx.send((buf, n)).is_ok(),
            None => false,
        }
    }

    /// Waits for every chunk to be hashed and returns the hasher and scans; None when
    /// the helper failed (its digest cannot be trusted to cover every byte).
    pub fn finish(mut self) -> Option<(MultiHasher, FileTriage)> {
        drop(self.work.take());
        self.handle.take()?.join().ok().flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hashing::AlgSet;
    use crate::triage::FileContext;

    #[test]
    fn the_pipe_digests_every_chunk_in_order_even_with_buffers_given_back() {
        let ctx = FileContext {
            path: std::path::Path::new("/x"),
            source_path: "x",
            size: 0,
            mtime: None,
            on_host: false,
        };
        let data: Vec<u8> = (0..10_000u32).flat_map(|i| i.to_le_bytes()).collect();
        let mut direct = MultiHasher::new(AlgSet::default());
        direct.update(&data);
        let mut pipe = match HashPipe::start(
            MultiHasher::new(AlgSet::default()),
            FileTriage::start(&[], &ctx),
            1000,
        ) {
            Ok(p) => p,
            Err(_) => panic!("no helper thread"),
        };
        for (i, part) in data.chunks(999).enumerate() {
            if i % 4 == 0 {
                // As after a read interrupted by a signal: the buffer comes back unused.
                let unused = pipe.buffer().unwrap();
                pipe.give_back(unused);
            }
            let mut b = pipe.buffer().unwrap();
            b[..part.len()].copy_from_slice(part);
            assert!(pipe.send(b, part.len()));
        }
        let (hasher, _) = pipe.finish().unwrap();
        assert_eq!(hasher.bytes(), data.len() as u64);
        assert_eq!(hasher.finish().sha256, direct.finish().sha256);
    }
}
