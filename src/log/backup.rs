//! A consistent copy of a log that may be appended to while it is copied.
//!
//! [`copy_prefix`] copies the events covered by one signed checkpoint: every segment before
//! the one holding the checkpoint's last event whole (a segment is never written again once
//! the next exists), and that one up to the end of the transaction that ends at the
//! checkpoint's size — whatever the writer appended after it, complete or torn, is left out.
//! The copy's `checkpoints` file holds just that checkpoint, and its `index` and `tree` the
//! prefixes covering it (derived files: without a `derived` watermark the next
//! [`Log::open`](super::Log::open) rebuilds them from the segments, but
//! [`verify_log`](super::verify::verify_log) checks them and uses the tree for a trusted
//! checkpoint). So the copy is a log on its own that can be verified against the checkpoint.
//!
//! Only readers are opened here, never the writer's lock. What it deliberately does not do:
//! copy keys or projections, or verify the copy (the caller decides how much to trust).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::checkpoint::SignedCheckpoint;
use super::checkpoint_store::CheckpointStore;
use super::derived::{INDEX_FILE, INDEX_MAGIC, TREE_FILE, TREE_MAGIC, index_offset, tree_offset};
use super::merkle;
use super::record::{KIND_COMMIT, KIND_EVENT, Next, RecordReader};
use super::segment::{
    HeaderState, SEGMENT_HEADER_BYTES, SEGMENTS_DIR, list_segments, read_header, segment_path,
    sync_dir,
};
use super::{LogError, log_dir};

/// One file written by [`copy_prefix`], relative to the target data directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopiedFile {
    pub path: PathBuf,
    pub bytes: u64,
    pub sha256: [u8; 32],
}

/// Copies the log of `data_dir` up to `checkpoint` into the data directory `into` (whose
/// `log/` must not exist yet). Returns the files written, segments first.
pub fn copy_prefix(
    data_dir: &Path,
    into: &Path,
    checkpoint: &SignedCheckpoint,
) -> Result<Vec<CopiedFile>, LogError> {
    let from = log_dir(data_dir);
    let to = log_dir(into);
    if to.exists() {
        return Err(LogError::io(
            &to,
            io::Error::new(
                io::ErrorKind::AlreadyExists,
                "the target already holds a log",
            ),
        ));
    }
    let segments_to = to.join(SEGMENTS_DIR);
    fs::create_dir_all(&segments_to).map_err(|e| LogError::io(&segments_to, e))?;
    let size = checkpoint.checkpoint.size;
    let plan = plan_segments(&from, size)?;
    let mut files = Vec::with_capacity(plan.len() + 3);
    for (i, &number) in plan.iter().enumerate() {
        let path = segment_path(&from, number);
        let bytes = if i + 1 == plan.len() {
            prefix_end(&path, size)?
        } else {
            fs::metadata(&path)
                .map_err(|e| LogError::io(&path, e))?
                .len()
        };
        let target = segment_path(&to, number);
        let sha256 = copy_hashed(&path, bytes, &target)?;
        files.push(copied(into, &target, bytes, sha256));
    }
    sync_dir(&segments_to)?;
    let mut store = CheckpointStore::open(&to, 8)?;
    store.append(&checkpoint.note)?;
    store.sync()?;
    drop(store);
    let path = to.join(super::checkpoint_store::CHECKPOINTS_FILE);
    let bytes = fs::read(&path).map_err(|e| LogError::io(&path, e))?;
    files.push(copied(
        into,
        &path,
        bytes.len() as u64,
        Sha256::digest(&bytes).into(),
    ));
    let tree_bytes = tree_offset(merkle::postorder_len(size));
    for (name, magic, bytes) in [
        (INDEX_FILE, INDEX_MAGIC, index_offset(size)),
        (TREE_FILE, TREE_MAGIC, tree_bytes),
    ] {
        files.push(copy_derived(&from, into, name, magic, bytes)?);
    }
    sync_dir(&to)?;
    Ok(files)
}

/// Copies the prefix of a derived file (index or tree) that covers the checkpoint: the writer
/// appends to both before it signs a checkpoint, so the prefix is final. A file shorter than
/// that (derived files behind after a crash, not reopened since) is replaced by its magic
/// alone: both are rebuilt from the segments on open, and verification checks what is there.
fn copy_derived(
    from: &Path,
    into: &Path,
    name: &str,
    magic: &[u8; 8],
    bytes: u64,
) -> Result<CopiedFile, LogError> {
    let source = from.join(name);
    let target = log_dir(into).join(name);
    let available = fs::metadata(&source).map(|m| m.len()).unwrap_or(0);
    if available >= bytes {
        let sha256 = copy_hashed(&source, bytes, &target)?;
        return Ok(copied(into, &target, bytes, sha256));
    }
    write_synced(&target, magic)?;
    Ok(copied(into, &target, 8, Sha256::digest(magic).into()))
}

fn copied(into: &Path, path: &Path, bytes: u64, sha256: [u8; 32]) -> CopiedFile {
    CopiedFile {
        path: path.strip_prefix(into).unwrap_or(path).to_owned(),
        bytes,
        sha256,
    }
}

/// The segments holding events `0..size`: all whose first event is below `size` (segment 0
/// alone for an empty log).
fn plan_segments(dir: &Path, size: u64) -> Result<Vec<u64>, LogError> {
    let segments = list_segments(dir)?;
    let mut plan = Vec::new();
    for (i, &number) in segments.iter().enumerate() {
        let path = segment_path(dir, number);
        match read_header(&path, number)? {
            HeaderState::Valid { first_seq } if first_seq < size || number == 0 => {
                plan.push(number)
            }
            HeaderState::Valid { .. } => break,
            // Being created right now, past the checkpoint.
            HeaderState::Torn if i + 1 == segments.len() && number > 0 => break,
            HeaderState::Torn => {
                return Err(LogError::corruption(&path, 0, "segment header is damaged"));
            }
        }
    }
    if plan.is_empty() {
        return Err(LogError::Verification(format!(
            "{} holds no segment",
            dir.display()
        )));
    }
    Ok(plan)
}

/// Where the transaction ending at event `size` ends in the segment at `path`.
fn prefix_end(path: &Path, size: u64) -> Result<u64, LogError> {
    let first_seq = match read_header(path, segment_number(path)?)? {
        HeaderState::Valid { first_seq } => first_seq,
        HeaderState::Torn => {
            return Err(LogError::corruption(path, 0, "segment header is damaged"));
        }
    };
    if first_seq == size {
        return Ok(SEGMENT_HEADER_BYTES);
    }
    let mut reader = RecordReader::open(path, SEGMENT_HEADER_BYTES)?;
    let mut payload = Vec::new();
    let mut seq = first_seq;
    let mut pending = 0u64;
    loop {
        match reader.next(&mut payload)? {
            Next::Record {
                kind: KIND_EVENT, ..
            } => pending += 1,
            Next::Record {
                kind: KIND_COMMIT,
                offset,
            } => {
                seq += pending;
                pending = 0;
                if seq == size {
                    return Ok(reader.position());
                }
                if seq > size {
                    return Err(LogError::corruption(
                        path,
                        offset,
                        format!("no transaction ends at the checkpoint's size {size}"),
                    ));
                }
            }
            Next::Record { offset, .. } => {
                return Err(LogError::corruption(path, offset, "unexpected record kind"));
            }
            Next::End | Next::Torn { .. } => {
                return Err(LogError::Verification(format!(
                    "{} ends at event {seq}, before the checkpoint's size {size}",
                    path.display()
                )));
            }
        }
    }
}

fn segment_number(path: &Path) -> Result<u64, LogError> {
    path.file_stem()
        .and_then(|s| s.to_str())
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| LogError::corruption(path, 0, "not a segment file name"))
}

/// Copies the first `bytes` bytes of `from` to a new file `to`, fsynced; returns their SHA-256.
fn copy_hashed(from: &Path, bytes: u64, to: &Path) -> Result<[u8; 32], LogError> {
    let source = File::open(from).map_err(|e| LogError::io(from, e))?;
    let mut source = source.take(bytes);
    let mut target = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(to)
        .map_err(|e| LogError::io(to, e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut copied = 0u64;
    loop {
        let n = source.read(&mut buf).map_err(|e| LogError::io(from, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        target
            .write_all(&buf[..n])
            .map_err(|e| LogError::io(to, e))?;
        copied += n as u64;
    }
    if copied != bytes {
        return Err(LogError::Verification(format!(
            "{} shrank while it was copied ({copied} of {bytes} bytes)",
            from.display()
        )));
    }
    target.sync_all().map_err(|e| LogError::io(to, e))?;
    Ok(hasher.finalize().into())
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), LogError> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| LogError::io(path, e))?;
    file.write_all(bytes).map_err(|e| LogError::io(path, e))?;
    file.sync_all().map_err(|e| LogError::io(path, e))
}
