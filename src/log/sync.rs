//! After the committer: the syncer makes groups durable, the signer signs and acknowledges.
//!
//! The syncer runs one `fdatasync` for every group written since its last one and hands the
//! durable groups on; it never waits for anything else, so the next fsync starts as soon as
//! the previous one returns. The signer signs one checkpoint for everything that became
//! durable since it last looked — under load several fsyncs share a signature — publishes it
//! to readers, stores it when due, and only then wakes the appenders. Waking 64 blocked
//! threads costs more than an fsync on a 2-core machine; here it overlaps the next fsync.

use std::fs::File;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::checkpoint::{Checkpoint, SignedCheckpoint};
use super::checkpoint_store::CheckpointStore;
use super::derived::{Watermark, write_watermark};
use super::merkle::Hash;
use super::queue::Queue;
use super::reader::LogReader;
use super::writer::{Poison, Reply, SyncItem, fail_all};
use super::{Ack, LogConfig, LogError};
use crate::event::hlc::Clock;
use crate::keys::NodeKey;

/// Groups that are durable, waiting for a signed checkpoint and their acknowledgements.
pub(crate) struct Durable {
    size: u64,
    root: Hash,
    acks: Vec<(Reply, u64, u64)>,
}

/// State owned by the syncer thread.
pub(crate) struct Syncer {
    pub log_dir: PathBuf,
    pub config: LogConfig,
    pub reader: Arc<LogReader>,
    pub poison: Arc<Poison>,
    pub derived_synced: u64,
    pub last_watermark: Option<Watermark>,
    pub durable: Arc<Queue<Durable>>,
}

impl Syncer {
    pub fn run(mut self, items: Arc<Queue<SyncItem>>) -> Result<(), LogError> {
        while let Some(batch) = items.pop_batch(|_| true) {
            self.sync_group(batch);
        }
        let result = self.finish();
        self.durable.close();
        result
    }

    fn sync_group(&mut self, items: Vec<SyncItem>) {
        let Some(last) = items.last() else { return };
        let (size, root, watermark) = (last.size, last.root, last.watermark);
        let outcome = match self.poison.get() {
            Some(reason) => Err(reason),
            None => self.make_durable(&items).map_err(|e| {
                self.poison.set(e.to_string());
                e.to_string()
            }),
        };
        let acks: Vec<_> = items.into_iter().flat_map(|i| i.acks).collect();
        if let Err(reason) = outcome {
            return fail_all(acks.into_iter().map(|a| a.0).collect(), &reason);
        }
        if let Err(durable) = self.durable.push(Durable { size, root, acks }) {
            fail_all(
                durable.acks.into_iter().map(|a| a.0).collect(),
                "the signer stopped",
            );
        }
        self.last_watermark = Some(watermark);
        if let Err(e) = self.sync_derived(size, watermark) {
            self.poison.set(e.to_string());
        }
    }

    fn make_durable(&self, items: &[SyncItem]) -> Result<(), LogError> {
        let mut synced: Vec<&Arc<File>> = Vec::new();
        for file in items.iter().flat_map(|i| i.files.iter()) {
            if synced.iter().any(|s| Arc::ptr_eq(s, file)) {
                continue;
            }
            let started = std::time::Instant::now();
            file.sync_data()
                .map_err(|e| LogError::io(&self.log_dir, e))?;
            // Recorded through the `metrics` facade: a no-op unless the server installed a
            // recorder, so the log stays free of any exporter.
            metrics::histogram!("ledgraph_fsync_seconds").record(started.elapsed().as_secs_f64());
            synced.push(file);
        }
        Ok(())
    }

    /// Makes the derived files durable every `derived_sync_events` events; nothing
    /// acknowledged depends on it (recovery rebuilds them from the segments).
    fn sync_derived(&mut self, size: u64, watermark: Watermark) -> Result<(), LogError> {
        if size - self.derived_synced >= self.config.derived_sync_events {
            self.reader.derived().sync()?;
            write_watermark(&self.log_dir, watermark)?;
            self.derived_synced = size;
        }
        Ok(())
    }

    /// On close: make the derived files durable up to the end.
    fn finish(&mut self) -> Result<(), LogError> {
        match self.last_watermark {
            Some(watermark) if self.poison.get().is_none() => {
                self.reader.derived().sync()?;
                write_watermark(&self.log_dir, watermark)
            }
            _ => Ok(()),
        }
    }
}

/// State owned by the signer thread.
pub(crate) struct Signer {
    pub config: LogConfig,
    pub clock: Arc<dyn Clock>,
    pub key: NodeKey,
    pub reader: Arc<LogReader>,
    pub store: CheckpointStore,
    pub poison: Arc<Poison>,
    pub stored_size: u64,
    pub stored_at_ms: u64,
}

impl Signer {
    pub fn run(mut self, durable: Arc<Queue<Durable>>) -> Result<(), LogError> {
        // Idle for an interval: store the latest checkpoint if it is not yet, so a read-only
        // reader in another process (`open_read_only`, e.g. `receipts verify` against a
        // running server) sees the last commits within about one interval instead of only at
        // the next commit or on close.
        let idle = Duration::from_millis(self.config.checkpoint_store_interval_ms.max(1));
        while let Some(batch) = durable.pop_batch_within(idle, |_| true) {
            if batch.is_empty() {
                self.store_latest_when_idle();
            } else {
                self.acknowledge(batch);
            }
        }
        self.finish()
    }

    fn store_latest_when_idle(&mut self) {
        if self.poison.get().is_some() {
            return;
        }
        let latest = self.reader.checkpoint();
        if latest.checkpoint.size == self.stored_size {
            return;
        }
        match self.store.append(&latest.note) {
            Ok(()) => {
                self.stored_size = latest.checkpoint.size;
                self.stored_at_ms = self.clock.now_ms();
            }
            Err(e) => self.poison.set(e.to_string()),
        }
    }

    fn acknowledge(&mut self, batch: Vec<Durable>) {
        let Some(last) = batch.last() else { return };
        let outcome = match self.poison.get() {
            Some(reason) => Err(reason),
            None => self.sign(last.size, last.root).map_err(|e| {
                self.poison.set(e.to_string());
                e.to_string()
            }),
        };
        let acks = batch.into_iter().flat_map(|d| d.acks);
        let checkpoint = match outcome {
            Ok(checkpoint) => checkpoint,
            Err(reason) => return fail_all(acks.map(|a| a.0).collect(), &reason),
        };
        self.reader.publish(checkpoint.clone());
        // Stored before anyone is told, so a reader opened after an ack sees it (when due).
        if let Err(e) = self.store_checkpoint(&checkpoint) {
            self.poison.set(e.to_string());
        }
        for (reply, first_seq, count) in acks {
            reply(Ok(Ack {
                first_seq,
                count,
                checkpoint: checkpoint.clone(),
            }));
        }
    }

    fn sign(&self, size: u64, root: Hash) -> Result<Arc<SignedCheckpoint>, LogError> {
        let checkpoint = Checkpoint {
            origin: self.key.name().to_owned(),
            size,
            root,
            extensions: Vec::new(),
        };
        Ok(Arc::new(SignedCheckpoint::sign(checkpoint, &self.key)?))
    }

    /// Stores one checkpoint per `checkpoint_store_events` events or interval.
    fn store_checkpoint(&mut self, checkpoint: &SignedCheckpoint) -> Result<(), LogError> {
        let size = checkpoint.checkpoint.size;
        let now = self.clock.now_ms();
        let due_by_time =
            now.saturating_sub(self.stored_at_ms) >= self.config.checkpoint_store_interval_ms;
        if size - self.stored_size >= self.config.checkpoint_store_events || due_by_time {
            self.store.append(&checkpoint.note)?;
            self.stored_size = size;
            self.stored_at_ms = now;
        }
        Ok(())
    }

    /// On close: store the latest checkpoint and make the checkpoints file durable.
    fn finish(&mut self) -> Result<(), LogError> {
        if self.poison.get().is_some() {
            return Ok(());
        }
        let latest = self.reader.checkpoint();
        if latest.checkpoint.size != self.stored_size {
            self.store.append(&latest.note)?;
        }
        self.store.sync()
    }
}
