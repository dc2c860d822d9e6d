//! Derived files: the event index and the Merkle tree hashes, rebuildable from the segments.
//!
//! ```text
//! index  = magic "LGIDX\0\0\x01" ‖ entry*      entry = segment:u32le offset:u32le payload_len:u32le
//! tree   = magic "LGTREE\0\x01" ‖ hash*        every node of the tree in post-order (see merkle)
//! derived = magic "LGDRV\0\0\x01" ‖ events:u64le ‖ segment:u64le ‖ offset:u64le ‖ crc32c:u32le
//! ```
//!
//! The index makes reading event N one `pread` (entry N is at a fixed offset); the tree file
//! keeps every hash on disk so memory stays bounded however long the log grows (10M events =
//! ~640 MB of hashes on disk, a few KB in RAM). Both are written without fsync on the commit
//! path — they are projections of the segments — and made durable every so often; the
//! `derived` watermark then records how many events they cover durably and where in the
//! segments the next record starts. Recovery trusts them up to the watermark and rebuilds the
//! rest from the segments.

use std::fs::{File, OpenOptions};
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::path::Path;

use super::LogError;
use super::mapped::AppendFile;
use super::merkle::{self, Hash, NodeSource, RangeError};
use super::segment::sync_dir;

pub const INDEX_MAGIC: &[u8; 8] = b"LGIDX\0\0\x01";
pub const TREE_MAGIC: &[u8; 8] = b"LGTREE\0\x01";
pub const WATERMARK_MAGIC: &[u8; 8] = b"LGDRV\0\0\x01";
pub const INDEX_ENTRY_BYTES: u64 = 12;
const MAGIC_BYTES: u64 = 8;
const WATERMARK_BYTES: usize = 36;
pub const INDEX_FILE: &str = "index";
pub const TREE_FILE: &str = "tree";
pub const WATERMARK_FILE: &str = "derived";

/// Where one event's record is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexEntry {
    pub segment: u32,
    pub offset: u32,
    pub payload_len: u32,
}

impl IndexEntry {
    pub fn to_bytes(self) -> [u8; INDEX_ENTRY_BYTES as usize] {
        let mut b = [0u8; INDEX_ENTRY_BYTES as usize];
        b[..4].copy_from_slice(&self.segment.to_le_bytes());
        b[4..8].copy_from_slice(&self.offset.to_le_bytes());
        b[8..].copy_from_slice(&self.payload_len.to_le_bytes());
        b
    }

    pub fn from_bytes(b: &[u8; INDEX_ENTRY_BYTES as usize]) -> Self {
        let word = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        IndexEntry {
            segment: word(0),
            offset: word(4),
            payload_len: word(8),
        }
    }
}

/// Byte offset of index entry `seq`.
pub fn index_offset(seq: u64) -> u64 {
    MAGIC_BYTES + seq * INDEX_ENTRY_BYTES
}

/// Byte offset of tree node number `position` (post-order).
pub fn tree_offset(position: u64) -> u64 {
    MAGIC_BYTES + position * merkle::HASH_BYTES as u64
}

/// The index and tree files of one log.
#[derive(Debug)]
pub struct DerivedFiles {
    index: AppendFile,
    tree: AppendFile,
}

fn open_with_magic(path: &Path, magic: &[u8; 8], writable: bool) -> Result<AppendFile, LogError> {
    let file = OpenOptions::new()
        .read(true)
        .write(writable)
        .create(writable)
        .truncate(false)
        .open(path)
        .map_err(|e| LogError::io(path, e))?;
    let file = AppendFile::new(file, path, writable)?;
    if file.len() == 0 && writable {
        file.write_at(magic, 0)?;
    }
    match file.read_array::<8>(0)? {
        Some(found) if &found == magic => Ok(file),
        Some(_) => Err(LogError::corruption(path, 0, "bad magic")),
        None => Err(LogError::corruption(path, 0, "file shorter than its magic")),
    }
}

impl DerivedFiles {
    /// Opens (creating when `writable`) the index and tree files of `log_dir`. Only the
    /// process holding the log's lock may pass `writable` (it also memory-maps the files).
    pub fn open(log_dir: &Path, writable: bool) -> Result<Self, LogError> {
        let index = open_with_magic(&log_dir.join(INDEX_FILE), INDEX_MAGIC, writable)?;
        let tree = open_with_magic(&log_dir.join(TREE_FILE), TREE_MAGIC, writable)?;
        Ok(DerivedFiles { index, tree })
    }

    pub fn index_path(&self) -> &Path {
        self.index.path()
    }

    pub fn tree_path(&self) -> &Path {
        self.tree.path()
    }

    /// Cuts both files back to what `events` events need; they must hold at least that much.
    pub fn truncate_to(&self, events: u64) -> Result<(), LogError> {
        let index_len = index_offset(events);
        let tree_len = tree_offset(merkle::postorder_len(events));
        for (file, len) in [(&self.index, index_len), (&self.tree, tree_len)] {
            if file.len() < len {
                return Err(LogError::corruption(
                    file.path(),
                    file.len(),
                    format!("durable watermark needs {len} bytes"),
                ));
            }
            file.set_len(len)?;
        }
        Ok(())
    }

    /// Appends index entries for events `first_seq..` and the tree nodes they complete.
    pub fn append(
        &self,
        first_seq: u64,
        index_bytes: &[u8],
        tree_bytes: &[u8],
    ) -> Result<(), LogError> {
        self.index.write_at(index_bytes, index_offset(first_seq))?;
        self.tree
            .write_at(tree_bytes, tree_offset(merkle::postorder_len(first_seq)))
    }

    /// The index entry of event `seq` (the caller checks `seq` against the log size).
    pub fn entry(&self, seq: u64) -> Result<IndexEntry, LogError> {
        let offset = index_offset(seq);
        let bytes = self.index.read_array(offset)?;
        let bytes = bytes.ok_or_else(|| {
            LogError::corruption(self.index.path(), offset, "index entry missing")
        })?;
        Ok(IndexEntry::from_bytes(&bytes))
    }

    /// Makes both files durable.
    pub fn sync(&self) -> Result<(), LogError> {
        self.index.sync()?;
        self.tree.sync()
    }
}

impl NodeSource for DerivedFiles {
    type Error = LogError;

    fn node(&self, level: u32, index: u64) -> Result<Hash, LogError> {
        let offset = tree_offset(merkle::postorder_position(level, index));
        self.tree
            .read_array(offset)?
            .ok_or_else(|| LogError::corruption(self.tree.path(), offset, "tree node missing"))
    }
}

impl From<RangeError> for LogError {
    fn from(e: RangeError) -> Self {
        LogError::Range(e)
    }
}

/// How far the derived files are durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Watermark {
    pub events: u64,
    /// Segment and byte offset where the record after those events starts.
    pub segment: u64,
    pub offset: u64,
}

impl Watermark {
    fn to_bytes(self) -> [u8; WATERMARK_BYTES] {
        let mut b = [0u8; WATERMARK_BYTES];
        b[..8].copy_from_slice(WATERMARK_MAGIC);
        b[8..16].copy_from_slice(&self.events.to_le_bytes());
        b[16..24].copy_from_slice(&self.segment.to_le_bytes());
        b[24..32].copy_from_slice(&self.offset.to_le_bytes());
        let crc = crc32c::crc32c(&b[..32]);
        b[32..].copy_from_slice(&crc.to_le_bytes());
        b
    }
}

/// Reads the watermark; `None` when the log has none yet.
pub fn read_watermark(log_dir: &Path) -> Result<Option<Watermark>, LogError> {
    let path = log_dir.join(WATERMARK_FILE);
    let mut bytes = Vec::new();
    match File::open(&path) {
        Ok(f) => f
            .take(WATERMARK_BYTES as u64 + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| LogError::io(&path, e))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(LogError::io(&path, e)),
    };
    if bytes.len() != WATERMARK_BYTES || &bytes[..8] != WATERMARK_MAGIC {
        return Err(LogError::corruption(
            &path,
            0,
            "malformed derived-files watermark",
        ));
    }
    let word = |i: usize| {
        let mut w = [0u8; 8];
        w.copy_from_slice(&bytes[i..i + 8]);
        u64::from_le_bytes(w)
    };
    let crc = u32::from_le_bytes([bytes[32], bytes[33], bytes[34], bytes[35]]);
    if crc32c::crc32c(&bytes[..32]) != crc {
        return Err(LogError::corruption(
            &path,
            32,
            "watermark checksum mismatch",
        ));
    }
    Ok(Some(Watermark {
        events: word(8),
        segment: word(16),
        offset: word(24),
    }))
}

/// Replaces the watermark atomically (write, fsync, rename, fsync the directory).
pub fn write_watermark(log_dir: &Path, watermark: Watermark) -> Result<(), LogError> {
    let path = log_dir.join(WATERMARK_FILE);
    let tmp = log_dir.join(format!("{WATERMARK_FILE}.tmp"));
    let file = File::create(&tmp).map_err(|e| LogError::io(&tmp, e))?;
    file.write_all_at(&watermark.to_bytes(), 0)
        .map_err(|e| LogError::io(&tmp, e))?;
    file.sync_all().map_err(|e| LogError::io(&tmp, e))?;
    std::fs::rename(&tmp, &path).map_err(|e| LogError::io(&path, e))?;
    sync_dir(log_dir)
}
