//! Reading the log: events by sequence number, roots, inclusion and consistency proofs.
//!
//! A [`LogReader`] only ever shows what a signed checkpoint covers: the writer publishes a new
//! size after the group's fsync and checkpoint; a read-only reader (another process) uses the
//! last stored checkpoint. Reads check the record's checksums *and* that the bytes hash to
//! the leaf stored in the tree, so a damaged index or segment is reported, not served.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, RwLock};
use std::time::{Duration, Instant};

use serde::Serialize;

use super::checkpoint::SignedCheckpoint;
use super::derived::DerivedFiles;
use super::merkle::{self, Hash, NodeSource};
use super::record::{KIND_EVENT, RECORD_HEADER_BYTES, read_record_at};
use super::segment::segment_path;
use super::{LogError, checkpoint_store, log_dir};
use crate::event::{Event, decode_event};
use crate::keys::Verifier;

/// An inclusion proof as served to clients (RFC 9162 order).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InclusionProof {
    pub index: u64,
    pub size: u64,
    #[serde(with = "b64")]
    pub leaf_hash: Hash,
    #[serde(with = "b64_list")]
    pub hashes: Vec<Hash>,
    #[serde(with = "b64")]
    pub root: Hash,
}

/// A consistency proof between two tree sizes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConsistencyProof {
    pub from: u64,
    pub to: u64,
    #[serde(with = "b64_list")]
    pub hashes: Vec<Hash>,
    #[serde(with = "b64")]
    pub from_root: Hash,
    #[serde(with = "b64")]
    pub to_root: Hash,
}

pub(crate) mod b64 {
    use base64::Engine;
    pub fn serialize<S: serde::Serializer>(h: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(h))
    }
}

pub(crate) mod b64_list {
    use base64::Engine;
    use serde::ser::SerializeSeq;
    pub fn serialize<S: serde::Serializer>(hs: &[[u8; 32]], s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(hs.len()))?;
        for h in hs {
            seq.serialize_element(&base64::engine::general_purpose::STANDARD.encode(h))?;
        }
        seq.end()
    }
}

/// Read access to one log, shared by the writer's threads and any number of readers.
#[derive(Debug)]
pub struct LogReader {
    log_dir: PathBuf,
    derived: DerivedFiles,
    segments: RwLock<HashMap<u64, Arc<File>>>,
    size: AtomicU64,
    /// Paired with `size_grew`: publishing takes this lock before notifying, so a waiter that
    /// saw the old size under the lock cannot miss the wake-up.
    size_lock: Mutex<()>,
    size_grew: Condvar,
    checkpoint: RwLock<Arc<SignedCheckpoint>>,
    verifier: Verifier,
}

impl LogReader {
    pub(crate) fn new(
        log_dir: PathBuf,
        derived: DerivedFiles,
        checkpoint: SignedCheckpoint,
        verifier: Verifier,
    ) -> Self {
        LogReader {
            log_dir,
            derived,
            segments: RwLock::new(HashMap::new()),
            size: AtomicU64::new(checkpoint.checkpoint.size),
            size_lock: Mutex::new(()),
            size_grew: Condvar::new(),
            checkpoint: RwLock::new(Arc::new(checkpoint)),
            verifier,
        }
    }

    /// Opens a log without writing to it (another process may be appending): it shows the
    /// events covered by the last stored checkpoint.
    pub fn open_read_only(data_dir: &Path, verifier: Verifier) -> Result<Self, LogError> {
        let dir = log_dir(data_dir);
        let loaded = checkpoint_store::load(&dir, &verifier)?;
        let Some(latest) = loaded.checkpoints.last().cloned() else {
            return Err(LogError::Verification(format!(
                "{} holds no signed checkpoint yet",
                dir.display()
            )));
        };
        let derived = DerivedFiles::open(&dir, false)?;
        let reader = LogReader::new(dir, derived, latest.clone(), verifier);
        if reader.root_at(latest.checkpoint.size)? != latest.checkpoint.root {
            return Err(LogError::corruption(
                reader.derived.tree_path(),
                0,
                "tree does not match the stored checkpoint",
            ));
        }
        Ok(reader)
    }

    pub fn log_dir(&self) -> &Path {
        &self.log_dir
    }

    /// Number of events readable (= size of the latest checkpoint).
    pub fn size(&self) -> u64 {
        self.size.load(Ordering::Acquire)
    }

    /// The latest signed checkpoint.
    pub fn checkpoint(&self) -> Arc<SignedCheckpoint> {
        match self.checkpoint.read() {
            Ok(g) => g.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    pub fn verifier(&self) -> &Verifier {
        &self.verifier
    }

    pub(crate) fn derived(&self) -> &DerivedFiles {
        &self.derived
    }

    pub(crate) fn publish(&self, checkpoint: Arc<SignedCheckpoint>) {
        let size = checkpoint.checkpoint.size;
        match self.checkpoint.write() {
            Ok(mut g) => *g = checkpoint,
            Err(poisoned) => *poisoned.into_inner() = checkpoint,
        }
        self.size.store(size, Ordering::Release);
        // Publishing happens once per signed checkpoint, so this lock is uncontended in practice.
        drop(self.size_lock.lock().unwrap_or_else(|p| p.into_inner()));
        self.size_grew.notify_all();
    }

    /// Blocks until at least `min_size` events are readable or `timeout` passes; returns the
    /// size then (which may still be below `min_size`). Projections use it to sleep between
    /// checkpoints instead of polling. A read-only reader never grows: it just times out.
    pub fn wait_for_size(&self, min_size: u64, timeout: Duration) -> u64 {
        let deadline = Instant::now().checked_add(timeout);
        let mut guard = self.size_lock.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            let size = self.size();
            if size >= min_size {
                return size;
            }
            let now = Instant::now();
            let left = match deadline {
                Some(deadline) if deadline > now => deadline - now,
                Some(_) => return size,
                // A timeout too large to represent: wait in long slices.
                None => Duration::from_secs(3600),
            };
            guard = match self.size_grew.wait_timeout(guard, left) {
                Ok((g, _)) => g,
                Err(p) => p.into_inner().0,
            };
        }
    }

    /// Wakes every [`wait_for_size`](Self::wait_for_size) caller without growing the log, so
    /// a waiting projection notices at once that it was asked to stop.
    pub fn notify_waiters(&self) {
        drop(self.size_lock.lock().unwrap_or_else(|p| p.into_inner()));
        self.size_grew.notify_all();
    }

    pub(crate) fn add_segment(&self, number: u64, file: Arc<File>) {
        let mut map = match self.segments.write() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        map.insert(number, file);
    }

    fn segment(&self, number: u64) -> Result<Arc<File>, LogError> {
        if let Some(f) = self
            .segments
            .read()
            .ok()
            .and_then(|m| m.get(&number).cloned())
        {
            return Ok(f);
        }
        let path = segment_path(&self.log_dir, number);
        let file = Arc::new(File::open(&path).map_err(|e| LogError::io(&path, e))?);
        self.add_segment(number, file.clone());
        Ok(file)
    }

    fn check_seq(&self, seq: u64, size: u64) -> Result<(), LogError> {
        if seq >= size {
            return Err(merkle::RangeError::LeafOutOfRange { index: seq, size }.into());
        }
        Ok(())
    }

    /// The canonical bytes of event `seq`, checked against its leaf hash.
    pub fn entry(&self, seq: u64) -> Result<Vec<u8>, LogError> {
        self.check_seq(seq, self.size())?;
        let at = self.derived.entry(seq)?;
        let number = u64::from(at.segment);
        let file = self.segment(number)?;
        let path = segment_path(&self.log_dir, number);
        let (kind, payload) =
            read_record_at(&file, &path, u64::from(at.offset), at.payload_len as usize)?;
        if kind != KIND_EVENT {
            return Err(LogError::corruption(
                &path,
                u64::from(at.offset),
                "index points at a non-event record",
            ));
        }
        if merkle::leaf_hash(&payload) != self.derived.node(0, seq)? {
            return Err(LogError::corruption(
                &path,
                u64::from(at.offset),
                format!("event {seq} does not match its leaf hash"),
            ));
        }
        Ok(payload)
    }

    /// Whether event `seq` is the last of its transaction. Events of one transaction are
    /// adjacent records; a commit record (or a new segment) separates transactions, so the
    /// index alone answers without reading the segments.
    pub fn ends_transaction(&self, seq: u64) -> Result<bool, LogError> {
        self.check_seq(seq, self.size())?;
        if seq + 1 == self.size() {
            return Ok(true);
        }
        let (here, next) = (self.derived.entry(seq)?, self.derived.entry(seq + 1)?);
        let contiguous =
            u64::from(here.offset) + RECORD_HEADER_BYTES as u64 + u64::from(here.payload_len);
        Ok(next.segment != here.segment || u64::from(next.offset) != contiguous)
    }

    /// Event `seq`, decoded.
    pub fn event(&self, seq: u64) -> Result<Event, LogError> {
        let bytes = self.entry(seq)?;
        Ok(decode_event(&bytes)?)
    }

    /// The stored leaf hash of event `seq`.
    pub fn leaf_hash(&self, seq: u64) -> Result<Hash, LogError> {
        self.check_seq(seq, self.size())?;
        self.derived.node(0, seq)
    }

    fn check_size(&self, size: u64) -> Result<(), LogError> {
        let current = self.size();
        if size > current {
            return Err(LogError::Range(merkle::RangeError::SizeOrder {
                from: size,
                to: current,
            }));
        }
        Ok(())
    }

    /// The Merkle root of the first `size` events.
    pub fn root_at(&self, size: u64) -> Result<Hash, LogError> {
        self.check_size(size)?;
        merkle::root(&self.derived, size)
    }

    /// Proof that event `seq` is in the tree of `size` events (default: the latest).
    pub fn inclusion_proof(&self, seq: u64, size: Option<u64>) -> Result<InclusionProof, LogError> {
        let size = size.unwrap_or_else(|| self.size());
        self.check_size(size)?;
        self.check_seq(seq, size)?;
        Ok(InclusionProof {
            index: seq,
            size,
            leaf_hash: self.derived.node(0, seq)?,
            hashes: merkle::inclusion_proof(&self.derived, seq, size)?,
            root: merkle::root(&self.derived, size)?,
        })
    }

    /// Proof that the tree of `from` events is a prefix of the tree of `to` events.
    pub fn consistency_proof(&self, from: u64, to: u64) -> Result<ConsistencyProof, LogError> {
        self.check_size(to)?;
        Ok(ConsistencyProof {
            from,
            to,
            hashes: merkle::consistency_proof(&self.derived, from, to)?,
            from_root: merkle::root(&self.derived, from)?,
            to_root: merkle::root(&self.derived, to)?,
        })
    }
}
