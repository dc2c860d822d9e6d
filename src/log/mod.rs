//! The signed log: ledgraph's source of truth.
//!
//! Events are appended to segment files ([`segment`], [`record`]) by one committer thread that
//! groups concurrent batches; a syncer thread makes each group durable with one `fdatasync`;
//! a signer thread then signs a checkpoint (C2SP `tlog-checkpoint` in a `signed-note`,
//! [`checkpoint`]) over the RFC 6962 Merkle root ([`merkle`]) and only then acknowledges the
//! batches. Tree hashes and the
//! event index live on disk ([`derived`]), so memory does not grow with the log. [`open`]
//! recovers after a crash, [`reader`] serves events and proofs, [`verify`] re-checks
//! everything from the bytes on disk.
//!
//! **Durability contract.** An [`Ack`] means: the batch's records are on stable storage
//! (fdatasync returned), the segment's directory entry is durable, and a checkpoint covering the
//! batch is signed. A crash at any point loses no acknowledged batch; a batch that was not
//! acknowledged is either wholly present after restart or wholly absent. Everything else on
//! disk (index, tree, stored checkpoints) is either fsynced or rebuilt from the segments.
//!
//! This module knows nothing of HTTP, Oxigraph or SHACL.

pub mod backup;
pub mod checkpoint;
pub mod checkpoint_store;
pub mod derived;
mod mapped;
pub mod merkle;
pub mod open;
mod queue;
pub mod reader;
pub mod record;
pub mod segment;
mod sync;
pub mod verify;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use checkpoint::SignedCheckpoint;
pub use open::{Log, QueueFull, RecoveryReport};
pub use reader::LogReader;
pub use writer::{Reply, Stamp};

use crate::event::EventError;
use crate::keys::KeyError;

/// Limits and tuning of one log. Every limit carries its unit in its name.
#[derive(Debug, Clone)]
pub struct LogConfig {
    /// A segment is closed once it reaches this size (a transaction never spans two).
    pub segment_bytes_max: u64,
    /// Most events in one batch (one transaction).
    pub batch_events_max: usize,
    /// Most encoded bytes in one batch.
    pub batch_bytes_max: usize,
    /// Batches waiting for the committer before `append` blocks.
    pub queue_batches_max: usize,
    /// Most events the committer puts into one group commit.
    pub group_events_max: usize,
    /// The index and tree files are fsynced (and the watermark advanced) this often.
    pub derived_sync_events: u64,
    /// A signed checkpoint is stored at least every this many events…
    pub checkpoint_store_events: u64,
    /// …or this many milliseconds of wall time, and always on close.
    pub checkpoint_store_interval_ms: u64,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            segment_bytes_max: 64 << 20,
            batch_events_max: 100_000,
            batch_bytes_max: 64 << 20,
            queue_batches_max: 4096,
            group_events_max: 65_536,
            derived_sync_events: 65_536,
            checkpoint_store_events: 65_536,
            checkpoint_store_interval_ms: 1_000,
        }
    }
}

/// The answer to an append: where the batch landed and the signed checkpoint that covers it.
#[derive(Debug, Clone)]
pub struct Ack {
    /// Sequence number (leaf index) of the batch's first event.
    pub first_seq: u64,
    pub count: u64,
    pub checkpoint: Arc<SignedCheckpoint>,
}

/// Errors of the log.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LogError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Bytes on disk that a crash cannot produce: damage or tampering.
    #[error("corruption in {} at byte {offset}: {reason}", path.display())]
    Corruption {
        path: PathBuf,
        offset: u64,
        reason: String,
    },
    #[error(transparent)]
    Event(#[from] EventError),
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error(transparent)]
    Checkpoint(#[from] checkpoint::CheckpointError),
    #[error(transparent)]
    Range(merkle::RangeError),
    #[error("{what} of {value} exceeds the limit of {max}")]
    Limit {
        what: &'static str,
        value: u64,
        max: u64,
    },
    #[error("the log at {} is in use by another process", path.display())]
    Locked { path: PathBuf },
    #[error("the log stopped accepting writes after a storage failure: {0}")]
    Poisoned(String),
    #[error("the log is closed")]
    Closed,
    #[error("verification failed: {0}")]
    Verification(String),
}

impl LogError {
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        LogError::Io {
            path: path.to_owned(),
            source,
        }
    }

    pub fn corruption(path: &Path, offset: u64, reason: impl Into<String>) -> Self {
        LogError::Corruption {
            path: path.to_owned(),
            offset,
            reason: reason.into(),
        }
    }

    /// Whether this error means the bytes on disk are damaged (as opposed to I/O or input).
    pub fn is_corruption(&self) -> bool {
        matches!(
            self,
            LogError::Corruption { .. } | LogError::Verification(_)
        )
    }
}

/// Directory of the log inside a data directory.
pub fn log_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("log")
}
