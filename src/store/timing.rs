//! Run-local timing of transactions: when the HTTP layer received a batch and when the log
//! acknowledged it, kept until the event-graph projection writes them as `lg:receivedAt` /
//! `lg:committedAt` on the transaction node.
//!
//! The table is bounded: when full, the oldest transactions (lowest first seq) are dropped
//! and their timing is simply not projected. Nothing here is durable or part of the dataset
//! hash — after a restart or a replay these quads are absent, by design.

use std::collections::BTreeMap;
use std::sync::Mutex;

/// A sensible bound: a minute of ingest at ~1,000 transactions per second.
pub const TIMING_ENTRIES_MAX_DEFAULT: usize = 65_536;

/// Wall-clock times (ms since the Unix epoch) of one transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    pub received_at_ms: u64,
    pub committed_at_ms: u64,
}

/// Timing keyed by a transaction's first sequence number; see the module docs.
#[derive(Debug)]
pub struct TimingTable {
    entries: Mutex<BTreeMap<u64, Timing>>,
    entries_max: usize,
}

impl Default for TimingTable {
    fn default() -> Self {
        TimingTable::new(TIMING_ENTRIES_MAX_DEFAULT)
    }
}

impl TimingTable {
    pub fn new(entries_max: usize) -> Self {
        TimingTable {
            entries: Mutex::new(BTreeMap::new()),
            entries_max: entries_max.max(1),
        }
    }

    /// Records a transaction's timing; drops the oldest entry when the table is full.
    pub fn record(&self, first_seq: u64, received_at_ms: u64, committed_at_ms: u64) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.insert(
            first_seq,
            Timing {
                received_at_ms,
                committed_at_ms,
            },
        );
        while entries.len() > self.entries_max {
            entries.pop_first();
        }
    }

    /// Removes and returns the timing of the transaction starting at `first_seq`, if known.
    pub fn take(&self, first_seq: u64) -> Option<Timing> {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        // Transactions below `first_seq` are projected already: their timing arrived too late.
        while entries
            .first_key_value()
            .is_some_and(|(&seq, _)| seq < first_seq)
        {
            entries.pop_first();
        }
        entries.remove(&first_seq)
    }

    pub fn len(&self) -> usize {
        self.entries.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_table_drops_the_oldest_transaction() {
        let t = TimingTable::new(2);
        t.record(0, 1, 2);
        t.record(10, 3, 4);
        t.record(20, 5, 6);
        assert_eq!(t.len(), 2);
        assert_eq!(t.take(0), None);
        assert_eq!(
            t.take(10),
            Some(Timing {
                received_at_ms: 3,
                committed_at_ms: 4
            })
        );
        assert_eq!(t.take(10), None);
    }

    #[test]
    fn taking_a_later_transaction_discards_earlier_leftovers() {
        let t = TimingTable::new(10);
        t.record(0, 1, 2);
        t.record(5, 1, 2);
        assert!(t.take(5).is_some());
        assert!(t.is_empty());
    }
}
