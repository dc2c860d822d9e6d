//! An append-only file whose written bytes are read through a memory map.
//!
//! Proofs read ~2·log₂(n) scattered 32-byte hashes from the tree file; one `pread` each costs a
//! syscall (~1 µs here), a mapped read a memory load. The map is created larger than the file
//! (doubling on demand) so that appends do not force a remap, and reads are only ever served
//! from bytes known to be written (`len`), so the map is never touched past the end of the
//! file. Only the process holding the log's lock maps a file: nobody else truncates it while it
//! is mapped. Read-only openers (another process owns the log) use `pread` instead.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};

use memmap2::{Mmap, MmapOptions};

use super::LogError;

const MAP_BYTES_MIN: u64 = 1 << 24;

#[derive(Debug)]
pub struct AppendFile {
    file: File,
    path: PathBuf,
    /// Bytes known to be in the file (written by us or present at open).
    len: AtomicU64,
    map: Option<RwLock<Option<Mmap>>>,
}

impl AppendFile {
    /// Wraps `file`; `mapped` when this process holds the log's lock.
    pub fn new(file: File, path: &Path, mapped: bool) -> Result<Self, LogError> {
        let len = file.metadata().map_err(|e| LogError::io(path, e))?.len();
        Ok(AppendFile {
            file,
            path: path.to_owned(),
            len: AtomicU64::new(len),
            map: mapped.then(|| RwLock::new(None)),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn len(&self) -> u64 {
        self.len.load(Ordering::Acquire)
    }

    /// Cuts the file to `len` bytes. Only before any mapped read (recovery, at open).
    pub fn set_len(&self, len: u64) -> Result<(), LogError> {
        self.file
            .set_len(len)
            .map_err(|e| LogError::io(&self.path, e))?;
        self.len.store(len, Ordering::Release);
        Ok(())
    }

    /// Writes `bytes` at `offset` (at or before the end: the file only grows).
    pub fn write_at(&self, bytes: &[u8], offset: u64) -> Result<(), LogError> {
        self.file
            .write_all_at(bytes, offset)
            .map_err(|e| LogError::io(&self.path, e))?;
        self.len
            .fetch_max(offset + bytes.len() as u64, Ordering::AcqRel);
        Ok(())
    }

    pub fn sync(&self) -> Result<(), LogError> {
        self.file
            .sync_data()
            .map_err(|e| LogError::io(&self.path, e))
    }

    /// Reads `N` bytes at `offset`; `None` if they are not (yet) in the file.
    pub fn read_array<const N: usize>(&self, offset: u64) -> Result<Option<[u8; N]>, LogError> {
        let end = offset.saturating_add(N as u64);
        if end > self.len() {
            return Ok(None);
        }
        let mut out = [0u8; N];
        let Some(map) = &self.map else {
            self.file
                .read_exact_at(&mut out, offset)
                .map_err(|e| LogError::io(&self.path, e))?;
            return Ok(Some(out));
        };
        {
            let guard = map.read().unwrap_or_else(|p| p.into_inner());
            if let Some(m) = guard.as_ref().filter(|m| end <= m.len() as u64) {
                out.copy_from_slice(&m[offset as usize..end as usize]);
                return Ok(Some(out));
            }
        }
        let mut guard = map.write().unwrap_or_else(|p| p.into_inner());
        let mapped = guard.as_ref().map_or(0, |m| m.len() as u64);
        if end > mapped {
            let want = end.max(MAP_BYTES_MIN).next_power_of_two() * 2;
            // SAFETY: the map is read only below `len`, bytes this process wrote or found at open
            // under the log's exclusive lock; no other process writes or truncates the file while
            // we hold that lock, and we truncate only before the first mapped read.
            let m = unsafe { MmapOptions::new().len(want as usize).map(&self.file) }
                .map_err(|e| LogError::io(&self.path, e))?;
            *guard = Some(m);
        }
        let m = guard
            .as_ref()
            .ok_or_else(|| LogError::corruption(&self.path, offset, "map missing"))?;
        out.copy_from_slice(&m[offset as usize..end as usize]);
        Ok(Some(out))
    }
}
