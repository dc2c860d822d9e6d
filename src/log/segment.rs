//! Segment files: where records live, named by their number, each starting with a header.
//!
//! ```text
//! segments/00000000000000000000.seg
//! header = magic "LGSEG\0\0\x01" ‖ number:u64le ‖ first_seq:u64le ‖ crc32c(previous 24 bytes):u32le
//! then records (see `record`): event records, each transaction closed by a commit record
//! ```
//!
//! A transaction never spans two segments, so every segment starts at a transaction boundary
//! and only the last segment can hold a torn tail. A new segment is made durable (file and
//! directory fsynced) before any record is written to it.

use std::fs::{self, File, OpenOptions};
use std::path::{Path, PathBuf};

use super::LogError;

pub const SEGMENT_MAGIC: &[u8; 8] = b"LGSEG\0\0\x01";
pub const SEGMENT_HEADER_BYTES: u64 = 28;
pub const SEGMENTS_DIR: &str = "segments";

/// The path of segment `number` under the log directory.
pub fn segment_path(log_dir: &Path, number: u64) -> PathBuf {
    log_dir.join(SEGMENTS_DIR).join(format!("{number:020}.seg"))
}

/// The header bytes of a segment.
pub fn header_bytes(number: u64, first_seq: u64) -> [u8; SEGMENT_HEADER_BYTES as usize] {
    let mut h = [0u8; SEGMENT_HEADER_BYTES as usize];
    h[..8].copy_from_slice(SEGMENT_MAGIC);
    h[8..16].copy_from_slice(&number.to_le_bytes());
    h[16..24].copy_from_slice(&first_seq.to_le_bytes());
    let crc = crc32c::crc32c(&h[..24]);
    h[24..].copy_from_slice(&crc.to_le_bytes());
    h
}

/// Outcome of reading a segment header.
#[derive(Debug, PartialEq, Eq)]
pub enum HeaderState {
    Valid {
        first_seq: u64,
    },
    /// Shorter than a header, or all zeros: a segment whose creation was interrupted.
    Torn,
}

/// Reads and checks a segment's header; `number` is what its file name says.
pub fn read_header(path: &Path, number: u64) -> Result<HeaderState, LogError> {
    use std::io::Read;
    let file = File::open(path).map_err(|e| LogError::io(path, e))?;
    let mut bytes = Vec::with_capacity(SEGMENT_HEADER_BYTES as usize);
    file.take(SEGMENT_HEADER_BYTES)
        .read_to_end(&mut bytes)
        .map_err(|e| LogError::io(path, e))?;
    check_header(path, number, &bytes)
}

/// Checks the first bytes of a segment (at most a header's worth).
pub fn check_header(path: &Path, number: u64, bytes: &[u8]) -> Result<HeaderState, LogError> {
    let short = bytes.len() < SEGMENT_HEADER_BYTES as usize;
    let magic_prefix = SEGMENT_MAGIC.starts_with(&bytes[..bytes.len().min(8)]);
    if bytes.iter().all(|&b| b == 0) || (short && magic_prefix) {
        return Ok(HeaderState::Torn);
    }
    if short || &bytes[..8] != SEGMENT_MAGIC {
        return Err(LogError::corruption(
            path,
            0,
            "not a segment file (bad magic)",
        ));
    }
    let crc = u32::from_le_bytes([bytes[24], bytes[25], bytes[26], bytes[27]]);
    if crc32c::crc32c(&bytes[..24]) != crc {
        return Err(LogError::corruption(
            path,
            0,
            "segment header checksum mismatch",
        ));
    }
    let mut n = [0u8; 8];
    n.copy_from_slice(&bytes[8..16]);
    if u64::from_le_bytes(n) != number {
        return Err(LogError::corruption(
            path,
            8,
            "segment number differs from the file name",
        ));
    }
    n.copy_from_slice(&bytes[16..24]);
    Ok(HeaderState::Valid {
        first_seq: u64::from_le_bytes(n),
    })
}

/// The segment numbers present, in order; they must be 0, 1, 2, … without gaps.
pub fn list_segments(log_dir: &Path) -> Result<Vec<u64>, LogError> {
    let dir = log_dir.join(SEGMENTS_DIR);
    let mut numbers = Vec::new();
    for entry in fs::read_dir(&dir).map_err(|e| LogError::io(&dir, e))? {
        let entry = entry.map_err(|e| LogError::io(&dir, e))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some(stem) = name.strip_suffix(".seg") else {
            continue;
        };
        let number = stem
            .parse::<u64>()
            .ok()
            .filter(|_| stem.len() == 20)
            .ok_or_else(|| {
                LogError::corruption(
                    &entry.path(),
                    0,
                    "segment file name is not a 20-digit number",
                )
            })?;
        numbers.push(number);
    }
    numbers.sort_unstable();
    for (expected, &number) in numbers.iter().enumerate() {
        if number != expected as u64 {
            let path = segment_path(log_dir, expected as u64);
            return Err(LogError::corruption(&path, 0, "segment file missing"));
        }
    }
    Ok(numbers)
}

/// Creates segment `number`, durable (file and directory fsynced) before it is returned.
pub fn create_segment(log_dir: &Path, number: u64, first_seq: u64) -> Result<File, LogError> {
    let path = segment_path(log_dir, number);
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&path)
        .map_err(|e| LogError::io(&path, e))?;
    use std::os::unix::fs::FileExt;
    file.write_all_at(&header_bytes(number, first_seq), 0)
        .map_err(|e| LogError::io(&path, e))?;
    file.sync_all().map_err(|e| LogError::io(&path, e))?;
    sync_dir(&log_dir.join(SEGMENTS_DIR))?;
    Ok(file)
}

/// Opens an existing segment for reading and appending.
pub fn open_segment(log_dir: &Path, number: u64) -> Result<File, LogError> {
    let path = segment_path(log_dir, number);
    OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .map_err(|e| LogError::io(&path, e))
}

/// fsyncs a directory so that entries created or renamed in it survive a crash.
pub fn sync_dir(dir: &Path) -> Result<(), LogError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| LogError::io(dir, e))
}
