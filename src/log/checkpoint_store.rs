//! The checkpoints file: signed checkpoints the log has issued, oldest first.
//!
//! ```text
//! checkpoints = magic "LGCKPT\0\x01" ‖ record*   (record kind 3, payload = the signed note text)
//! ```
//!
//! A checkpoint is written only after the events it covers are fsynced, so every stored
//! checkpoint speaks of durable events. The file itself is not fsynced per commit (a lost tail
//! only loses copies of statements that remain true); it is fsynced on close. Not every signed
//! checkpoint is stored — one per [`LogConfig::checkpoint_store_events`] or per interval — which
//! keeps `log verify` from spending its time on signature checks.
//!
//! [`LogConfig::checkpoint_store_events`]: super::LogConfig::checkpoint_store_events

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::LogError;
use super::checkpoint::SignedCheckpoint;
use super::record::{KIND_CHECKPOINT, Next, RecordReader, push_record};
use crate::keys::Verifier;

pub const CHECKPOINTS_FILE: &str = "checkpoints";
pub const CHECKPOINTS_MAGIC: &[u8; 8] = b"LGCKPT\0\x01";

/// What a scan of the checkpoints file found.
#[derive(Debug, Default)]
pub struct Loaded {
    pub checkpoints: Vec<SignedCheckpoint>,
    /// Byte offset where valid records end.
    pub end: u64,
    /// A torn tail (from a crash) starting at `end`, with the reason.
    pub torn: Option<String>,
}

/// Reads and verifies every stored checkpoint; sizes must never decrease.
pub fn load(log_dir: &Path, verifier: &Verifier) -> Result<Loaded, LogError> {
    let path = log_dir.join(CHECKPOINTS_FILE);
    if !path.exists() {
        return Ok(Loaded {
            end: 8,
            ..Loaded::default()
        });
    }
    check_magic(&path)?;
    let mut reader = RecordReader::open(&path, 8)?;
    let mut payload = Vec::new();
    let mut loaded = Loaded {
        end: 8,
        ..Loaded::default()
    };
    loop {
        match reader.next(&mut payload)? {
            Next::End => break,
            Next::Torn { reason, .. } => {
                loaded.torn = Some(reason);
                break;
            }
            Next::Record { kind, offset } => {
                if kind != KIND_CHECKPOINT {
                    return Err(LogError::corruption(
                        &path,
                        offset,
                        "not a checkpoint record",
                    ));
                }
                let note = std::str::from_utf8(&payload)
                    .map_err(|_| LogError::corruption(&path, offset, "checkpoint is not UTF-8"))?;
                let signed = SignedCheckpoint::verify(note, verifier).map_err(|e| {
                    LogError::corruption(&path, offset, format!("stored checkpoint: {e}"))
                })?;
                if let Some(prev) = loaded.checkpoints.last() {
                    if signed.checkpoint.size < prev.checkpoint.size {
                        return Err(LogError::corruption(
                            &path,
                            offset,
                            "checkpoint sizes go backwards",
                        ));
                    }
                }
                loaded.checkpoints.push(signed);
            }
        }
        loaded.end = reader.position();
    }
    Ok(loaded)
}

fn check_magic(path: &Path) -> Result<(), LogError> {
    let file = File::open(path).map_err(|e| LogError::io(path, e))?;
    let mut magic = [0u8; 8];
    match file.read_exact_at(&mut magic, 0) {
        Ok(()) if &magic == CHECKPOINTS_MAGIC => Ok(()),
        _ => Err(LogError::corruption(path, 0, "bad magic")),
    }
}

/// The writable checkpoints file.
#[derive(Debug)]
pub struct CheckpointStore {
    file: File,
    path: PathBuf,
    end: u64,
    buf: Vec<u8>,
}

impl CheckpointStore {
    /// Opens for appending at `end` (from [`load`]), cutting off a torn tail.
    pub fn open(log_dir: &Path, end: u64) -> Result<Self, LogError> {
        let path = log_dir.join(CHECKPOINTS_FILE);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| LogError::io(&path, e))?;
        let len = file.metadata().map_err(|e| LogError::io(&path, e))?.len();
        if len < 8 {
            file.write_all_at(CHECKPOINTS_MAGIC, 0)
                .map_err(|e| LogError::io(&path, e))?;
        }
        file.set_len(end.max(8))
            .map_err(|e| LogError::io(&path, e))?;
        Ok(CheckpointStore {
            file,
            path,
            end: end.max(8),
            buf: Vec::new(),
        })
    }

    /// Appends one signed note (not fsynced; see the module doc).
    pub fn append(&mut self, note: &str) -> Result<(), LogError> {
        self.buf.clear();
        push_record(&mut self.buf, KIND_CHECKPOINT, note.as_bytes());
        self.file
            .write_all_at(&self.buf, self.end)
            .map_err(|e| LogError::io(&self.path, e))?;
        self.end += self.buf.len() as u64;
        Ok(())
    }

    pub fn sync(&self) -> Result<(), LogError> {
        self.file
            .sync_data()
            .map_err(|e| LogError::io(&self.path, e))
    }
}
