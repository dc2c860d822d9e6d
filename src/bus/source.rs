//! Where the bus reads committed events: the log ([`LogReader`]) in the server; an
//! in-memory sequence ([`MemorySource`]) where a test or benchmark measures the bus alone.
//!
//! The bus only needs what a log offers a follower: its size, a way to wait for it to grow,
//! and event `seq` by position. It never writes.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use super::BusItem;
use crate::log::{LogError, LogReader};

/// A follower's view of an append-only sequence of committed events.
pub trait EventSource: Send + Sync + std::fmt::Debug + 'static {
    /// Events committed so far (positions `0..size`).
    fn size(&self) -> u64;
    /// Waits until `size() >= min_size` or `timeout` passes; returns the size.
    fn wait_for_size(&self, min_size: u64, timeout: Duration) -> u64;
    /// Wakes every [`wait_for_size`](Self::wait_for_size) caller (so a stopping feeder notices).
    fn notify_waiters(&self);
    /// Event `seq`, which is below [`size`](Self::size).
    fn item(&self, seq: u64) -> Result<Arc<BusItem>, LogError>;
}

impl EventSource for LogReader {
    fn size(&self) -> u64 {
        LogReader::size(self)
    }

    fn wait_for_size(&self, min_size: u64, timeout: Duration) -> u64 {
        LogReader::wait_for_size(self, min_size, timeout)
    }

    fn notify_waiters(&self) {
        LogReader::notify_waiters(self);
    }

    fn item(&self, seq: u64) -> Result<Arc<BusItem>, LogError> {
        let event = self.event(seq)?;
        Ok(Arc::new(BusItem {
            seq,
            op: event.op,
            quad: event.quad,
            time: event.time,
            ends_transaction: self.ends_transaction(seq)?,
        }))
    }
}

/// Events held in memory and made visible by [`MemorySource::publish_up_to`]: the bus's
/// own cost without the log's reads and decoding (benchmarks, tests).
#[derive(Debug)]
pub struct MemorySource {
    items: Vec<Arc<BusItem>>,
    size: AtomicU64,
    size_lock: Mutex<()>,
    size_grew: Condvar,
}

impl MemorySource {
    /// `items[i]` must have `seq == i`; none is visible until published.
    pub fn new(items: Vec<Arc<BusItem>>) -> Self {
        MemorySource {
            items,
            size: AtomicU64::new(0),
            size_lock: Mutex::new(()),
            size_grew: Condvar::new(),
        }
    }

    /// Makes events `0..size` visible (clamped to the events held) and wakes the waiters.
    pub fn publish_up_to(&self, size: u64) {
        let size = size.min(self.items.len() as u64);
        let _guard = self.size_lock.lock().unwrap_or_else(|p| p.into_inner());
        self.size.fetch_max(size, Ordering::Release);
        self.size_grew.notify_all();
    }
}

impl EventSource for MemorySource {
    fn size(&self) -> u64 {
        self.size.load(Ordering::Acquire)
    }

    fn wait_for_size(&self, min_size: u64, timeout: Duration) -> u64 {
        let deadline = Instant::now().checked_add(timeout);
        let mut guard = self.size_lock.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            let size = self.size();
            let now = Instant::now();
            let left = match deadline {
                _ if size >= min_size => return size,
                Some(d) if d > now => d - now,
                Some(_) => return size,
                None => Duration::from_secs(3600),
            };
            guard = match self.size_grew.wait_timeout(guard, left) {
                Ok((g, _)) => g,
                Err(p) => p.into_inner().0,
            };
        }
    }

    fn notify_waiters(&self) {
        drop(self.size_lock.lock().unwrap_or_else(|p| p.into_inner()));
        self.size_grew.notify_all();
    }

    fn item(&self, seq: u64) -> Result<Arc<BusItem>, LogError> {
        let size = self.size();
        match self.items.get(seq as usize) {
            Some(item) if seq < size => Ok(item.clone()),
            _ => Err(LogError::Range(
                crate::log::merkle::RangeError::LeafOutOfRange { index: seq, size },
            )),
        }
    }
}
