//! Full verification of a log from the bytes on disk, trusting nothing but the verifier key.
//!
//! `verify_log` reads every segment record by record and checks: segment headers and
//! numbering; every record checksum; that every event decodes as canonical; every commit record
//! against its transaction; every publisher batch signature; the tree file node by node and
//! the index entry by entry against what the events recompute; every 256-leaf tile root
//! against an independent implementation (`rs_merkle`); every stored checkpoint's signature
//! and that its root equals the recomputed root at its size. Equal roots at every checkpointed
//! size imply that every pair of checkpoints is consistent (each is a prefix of one recomputed
//! tree), which is what a consistency proof would show. An optional trusted checkpoint (one a
//! client saw earlier) is checked the same way: the log must extend it.
//!
//! It never writes. A torn tail left by a crash (an unacknowledged transaction that the next
//! open will truncate) is reported, not failed — unless a checkpoint covers it.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::checkpoint::SignedCheckpoint;
use super::checkpoint_store;
use super::derived::{self, INDEX_FILE, IndexEntry, TREE_FILE, read_watermark};
use super::merkle::{self, Frontier, Hash};
use super::record::{KIND_COMMIT, KIND_EVENT, Next, RecordReader};
use super::segment::{HeaderState, SEGMENT_HEADER_BYTES, list_segments, read_header, segment_path};
use super::writer::{Commit, check_commit};
use super::{LogError, log_dir};
use crate::event::encoding::{BATCH_SIGNING_PREFIX, decode_event_trusted, signed_part};
use crate::event::{ActorKey, verify_ed25519};
use crate::keys::{self, Verifier};

/// Leaves per tile cross-checked with rs_merkle.
const TILE_LEAVES: usize = 256;

/// What to verify beyond the log itself.
#[derive(Default)]
pub struct VerifyOptions<'a> {
    /// A signed checkpoint note a client saw before: the log must extend it.
    pub trusted_checkpoint: Option<&'a str>,
    /// Called every 65,536 events with the number of events checked so far.
    pub progress: Option<&'a dyn Fn(u64)>,
}

/// What was verified.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct VerifyReport {
    pub events: u64,
    pub transactions: u64,
    pub segments: u64,
    pub signed_batches: u64,
    pub checkpoints: u64,
    #[serde(with = "super::reader::b64")]
    pub root: Hash,
    /// Bytes of an unacknowledged torn tail that the next open will truncate.
    pub torn_tail_bytes: u64,
    /// The index or tree file stops short of the log after a crash (rebuilt on the next open).
    pub derived_behind: bool,
    /// Size of the trusted checkpoint the log was shown to extend.
    pub trusted_size: Option<u64>,
}

/// Verifies the log of `data_dir` against `verifier` (see the module doc).
pub fn verify_log(
    data_dir: &Path,
    verifier: &Verifier,
    options: &VerifyOptions<'_>,
) -> Result<VerifyReport, LogError> {
    if data_dir.join(keys::SKEY_FILE).exists() {
        let key = keys::load_key(data_dir)?;
        if &key.verifier() != verifier {
            return Err(LogError::Verification(
                "the node key does not match the verifier key".into(),
            ));
        }
    }
    let dir = log_dir(data_dir);
    let loaded = checkpoint_store::load(&dir, verifier)?;
    let mut checkpoints = loaded.checkpoints;
    let trusted = match options.trusted_checkpoint {
        Some(note) => Some(SignedCheckpoint::verify(note, verifier)?),
        None => None,
    };
    let mut v = Scan::new(&dir, options)?;
    v.check_checkpoints(&mut checkpoints, &dir)?;
    let segments = list_segments(&dir)?;
    for (i, &number) in segments.iter().enumerate() {
        v.segment(number, i + 1 == segments.len(), &mut checkpoints)?;
    }
    v.finish(&checkpoints, trusted.as_ref(), segments.len() as u64)
}

/// Streams the stored tree or index file for comparison with recomputed values.
struct Stored {
    behind: bool,
    reader: BufReader<File>,
    path: PathBuf,
    offset: u64,
}

impl Stored {
    fn open(path: PathBuf, expected_magic: &[u8; 8]) -> Result<Self, LogError> {
        let file = File::open(&path).map_err(|e| LogError::io(&path, e))?;
        let mut reader = BufReader::with_capacity(1 << 20, file);
        let mut magic = [0u8; 8];
        reader
            .read_exact(&mut magic)
            .map_err(|_| LogError::corruption(&path, 0, "file shorter than its magic"))?;
        if &magic != expected_magic {
            return Err(LogError::corruption(&path, 0, "bad magic"));
        }
        Ok(Stored {
            behind: false,
            reader,
            path,
            offset: 8,
        })
    }

    /// Reads the next `N` bytes and compares them with `expected`.
    /// Reads the next `N` bytes and compares them with `expected`. Past the durable watermark
    /// (`may_end`) the file may simply stop — a crash before the derived files caught up —
    /// and comparison ends there; the next open rebuilds the rest.
    fn expect<const N: usize>(
        &mut self,
        expected: &[u8; N],
        what: &str,
        may_end: bool,
    ) -> Result<(), LogError> {
        if self.behind {
            return Ok(());
        }
        let mut found = [0u8; N];
        if self.reader.read_exact(&mut found).is_err() {
            if may_end {
                self.behind = true;
                return Ok(());
            }
            return Err(LogError::corruption(
                &self.path,
                self.offset,
                format!("{what} missing"),
            ));
        }
        if &found != expected {
            return Err(LogError::corruption(
                &self.path,
                self.offset,
                format!("{what} differs from the recomputed value"),
            ));
        }
        self.offset += N as u64;
        Ok(())
    }

    fn expect_end(&mut self) -> Result<(), LogError> {
        let mut extra = [0u8; 1];
        match self.reader.read(&mut extra) {
            Ok(0) => Ok(()),
            _ => Err(LogError::corruption(
                &self.path,
                self.offset,
                "bytes beyond the end of the log",
            )),
        }
    }
}

struct Scan<'a> {
    dir: PathBuf,
    options: &'a VerifyOptions<'a>,
    frontier: Frontier,
    tree: Stored,
    index: Stored,
    watermark: derived::Watermark,
    watermark_seen: bool,
    tile: Vec<Hash>,
    tile_roots: Vec<Hash>,
    seq: u64,
    transactions: u64,
    signed_batches: u64,
    checkpoints_checked: u64,
    torn_tail_bytes: u64,
    payload: Vec<u8>,
}

impl<'a> Scan<'a> {
    fn new(dir: &Path, options: &'a VerifyOptions<'a>) -> Result<Self, LogError> {
        let watermark = read_watermark(dir)?.unwrap_or(derived::Watermark {
            events: 0,
            segment: 0,
            offset: SEGMENT_HEADER_BYTES,
        });
        Ok(Scan {
            dir: dir.to_owned(),
            options,
            frontier: Frontier::new(),
            tree: Stored::open(dir.join(TREE_FILE), derived::TREE_MAGIC)?,
            index: Stored::open(dir.join(INDEX_FILE), derived::INDEX_MAGIC)?,
            watermark,
            watermark_seen: false,
            tile: Vec::with_capacity(TILE_LEAVES),
            tile_roots: Vec::new(),
            seq: 0,
            transactions: 0,
            signed_batches: 0,
            checkpoints_checked: 0,
            torn_tail_bytes: 0,
            payload: Vec::new(),
        })
    }

    fn segment(
        &mut self,
        number: u64,
        is_last: bool,
        checkpoints: &mut Vec<SignedCheckpoint>,
    ) -> Result<(), LogError> {
        let path = segment_path(&self.dir, number);
        match read_header(&path, number)? {
            HeaderState::Valid { first_seq } if first_seq == self.seq => {}
            HeaderState::Valid { .. } => {
                return Err(LogError::corruption(
                    &path,
                    16,
                    "first sequence number does not follow the previous segment",
                ));
            }
            HeaderState::Torn if is_last && number > 0 => {
                self.torn_tail_bytes += std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
                return Ok(());
            }
            HeaderState::Torn => {
                return Err(LogError::corruption(&path, 0, "segment header is damaged"));
            }
        }
        self.check_watermark(number, SEGMENT_HEADER_BYTES, &path)?;
        let mut reader = RecordReader::open(&path, SEGMENT_HEADER_BYTES)?;
        let mut pending: Vec<(u64, Vec<u8>)> = Vec::new();
        let mut txn_end = SEGMENT_HEADER_BYTES;
        loop {
            match reader.next(&mut self.payload)? {
                Next::End => break,
                Next::Torn { .. } => break,
                Next::Record {
                    kind: KIND_EVENT,
                    offset,
                } => {
                    decode_event_trusted(&self.payload).map_err(|e| {
                        LogError::corruption(&path, offset, format!("event record: {e}"))
                    })?;
                    pending.push((offset, std::mem::take(&mut self.payload)));
                }
                Next::Record {
                    kind: KIND_COMMIT,
                    offset,
                } => {
                    let commit =
                        check_commit(&self.payload, self.seq, pending.len(), &path, offset)?;
                    self.transaction(number, &path, offset, &commit, &pending)?;
                    pending.clear();
                    txn_end = reader.position();
                    self.check_watermark(number, txn_end, &path)?;
                    self.check_checkpoints(checkpoints, &path)?;
                }
                Next::Record { offset, .. } => {
                    return Err(LogError::corruption(
                        &path,
                        offset,
                        "unexpected record kind",
                    ));
                }
            }
        }
        if txn_end != reader.file_len() {
            if !is_last {
                return Err(LogError::corruption(
                    &path,
                    txn_end,
                    "incomplete transaction before the last segment",
                ));
            }
            self.torn_tail_bytes += reader.file_len() - txn_end;
        }
        Ok(())
    }

    fn transaction(
        &mut self,
        segment: u64,
        path: &Path,
        offset: u64,
        commit: &Commit,
        events: &[(u64, Vec<u8>)],
    ) -> Result<(), LogError> {
        if let Some(signature) = &commit.signature {
            check_batch_signature(events, signature)
                .map_err(|reason| LogError::corruption(path, offset, reason))?;
            self.signed_batches += 1;
        }
        for (event_offset, bytes) in events {
            let entry = IndexEntry {
                segment: segment as u32,
                offset: *event_offset as u32,
                payload_len: bytes.len() as u32,
            };
            let may_end = self.seq >= self.watermark.events;
            self.index
                .expect(&entry.to_bytes(), "index entry", may_end)?;
            let leaf = merkle::leaf_hash(bytes);
            let (tree, tile_roots) = (&mut self.tree, &mut self.tile_roots);
            let mut failure = None;
            self.frontier.push(leaf, |level, _, hash| {
                if failure.is_none() {
                    failure = tree.expect(hash, "tree node", may_end).err();
                }
                if level == 8 {
                    tile_roots.push(*hash);
                }
            });
            if let Some(e) = failure {
                return Err(e);
            }
            self.tile.push(leaf);
            if self.tile.len() == TILE_LEAVES {
                let independent = merkle::rs_merkle_root(&self.tile);
                if self.tile_roots.pop() != Some(independent) {
                    return Err(LogError::Verification(format!(
                        "tile ending at event {} disagrees with rs_merkle",
                        self.seq
                    )));
                }
                self.tile.clear();
            }
            self.seq += 1;
            if self.seq % 65_536 == 0 {
                if let Some(progress) = self.options.progress {
                    progress(self.seq);
                }
            }
        }
        self.transactions += 1;
        Ok(())
    }

    fn check_watermark(&mut self, segment: u64, offset: u64, path: &Path) -> Result<(), LogError> {
        if self.seq == self.watermark.events
            && !self.watermark_seen
            && self.watermark.segment == segment
        {
            if self.watermark.offset != offset {
                return Err(LogError::corruption(
                    path,
                    offset,
                    "derived-files watermark points elsewhere",
                ));
            }
            self.watermark_seen = true;
        }
        Ok(())
    }

    /// Compares every checkpoint whose size is the current size with the recomputed root.
    fn check_checkpoints(
        &mut self,
        checkpoints: &mut Vec<SignedCheckpoint>,
        path: &Path,
    ) -> Result<(), LogError> {
        while let Some(first) = checkpoints.first() {
            let cp = &first.checkpoint;
            if cp.size > self.seq {
                break;
            }
            if cp.size < self.seq {
                return Err(LogError::corruption(
                    path,
                    0,
                    format!(
                        "checkpoint of size {} is not at a transaction boundary",
                        cp.size
                    ),
                ));
            }
            if cp.size == self.seq && cp.root != self.frontier.root() {
                return Err(LogError::Verification(format!(
                    "checkpoint of size {} has a root the events do not produce",
                    cp.size
                )));
            }
            self.checkpoints_checked += 1;
            checkpoints.remove(0);
        }
        Ok(())
    }

    fn finish(
        mut self,
        remaining: &[SignedCheckpoint],
        trusted: Option<&SignedCheckpoint>,
        segments: u64,
    ) -> Result<VerifyReport, LogError> {
        if let Some(cp) = remaining.iter().find(|c| c.checkpoint.size > self.seq) {
            return Err(LogError::Verification(format!(
                "a checkpoint covers {} events but the log holds {}: acknowledged events are missing",
                cp.checkpoint.size, self.seq
            )));
        }
        if !(self.watermark_seen || self.watermark.events == 0 && self.seq == 0) {
            return Err(LogError::Verification(
                "the derived-files watermark does not match the log".into(),
            ));
        }
        let derived_behind = self.tree.behind || self.index.behind;
        if self.watermark.events == self.seq && self.torn_tail_bytes == 0 && !derived_behind {
            self.tree.expect_end()?;
            self.index.expect_end()?;
        }
        let trusted_size = match trusted {
            None => None,
            Some(t) => Some(self.check_trusted(t)?),
        };
        Ok(VerifyReport {
            events: self.seq,
            transactions: self.transactions,
            segments,
            signed_batches: self.signed_batches,
            checkpoints: self.checkpoints_checked,
            root: self.frontier.root(),
            torn_tail_bytes: self.torn_tail_bytes,
            derived_behind,
            trusted_size,
        })
    }

    fn check_trusted(&self, trusted: &SignedCheckpoint) -> Result<u64, LogError> {
        let size = trusted.checkpoint.size;
        if size > self.seq {
            return Err(LogError::Verification(format!(
                "the trusted checkpoint has {size} events, the log only {}",
                self.seq
            )));
        }
        let tree = derived::DerivedFiles::open(&self.dir, false)?;
        if merkle::root(&tree, size)? != trusted.checkpoint.root {
            return Err(LogError::Verification(format!(
                "the log does not extend the trusted checkpoint of size {size}"
            )));
        }
        Ok(size)
    }
}

/// Rebuilds the batch signing message from stored events and checks the publisher signature.
fn check_batch_signature(events: &[(u64, Vec<u8>)], signature: &[u8; 64]) -> Result<(), String> {
    let actor_of = |bytes: &[u8]| bytes.get(10..42).and_then(|a| <[u8; 32]>::try_from(a).ok());
    let actor = events
        .first()
        .and_then(|(_, b)| actor_of(b))
        .ok_or("empty signed batch")?;
    let mut message = Vec::with_capacity(64 + events.len() * 160);
    message.extend_from_slice(BATCH_SIGNING_PREFIX);
    message.extend_from_slice(&actor);
    message.extend_from_slice(&(events.len() as u32).to_be_bytes());
    for (_, bytes) in events {
        if actor_of(bytes) != Some(actor) {
            return Err("a signed batch mixes actors".into());
        }
        let (op, rest) = signed_part(bytes).ok_or("event too short")?;
        message.push(op);
        message.extend_from_slice(rest);
    }
    verify_ed25519(&ActorKey(actor), &message, signature).map_err(|e| e.to_string())
}
