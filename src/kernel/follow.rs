//! The kernel projection in a server: a thread that follows the log, runs the active
//! descriptor on each committed transaction ([`Runner`]) and appends what it derived — the
//! derived triples and the receipt — as one transaction signed by the node key and stamped
//! with logical times (`Stamp::Logical`), so its bytes depend on the log alone (replaying the
//! inputs into a fresh data directory gives the same Merkle root). And the check of a log's
//! receipts ([`verify`]): the same runner over the same log must give every recorded derived
//! transaction back, byte for byte.
//!
//! On start the thread reads the log from the beginning (the runner's state is a function of
//! the log) and appends only the derived transactions that are missing, so a restart neither
//! loses nor repeats one.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use oxrdf::{GraphName, NamedOrBlankNode};

use super::runner::{Committed, Derived, RECEIPT_PREFIX, RECEIPTS_GRAPH, Runner, is_derived};
use crate::event::{ActorKey, Batch, Op};
use crate::keys::NodeKey;
use crate::log::{Log, LogError, LogReader, Stamp};

/// How long the thread sleeps waiting for the log to grow before checking for a stop.
const FOLLOW_WAIT_MS: u64 = 200;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FollowError {
    #[error(transparent)]
    Log(#[from] LogError),
    #[error(transparent)]
    Descriptor(#[from] super::registry::RegistryError),
}

/// The transaction starting at `seq` (which must start one), read whole.
pub fn transaction(reader: &LogReader, seq: u64) -> Result<Vec<Committed>, LogError> {
    let mut events = Vec::new();
    let mut at = seq;
    loop {
        events.push(Committed {
            seq: at,
            event: reader.event(at)?,
            leaf: reader.leaf_hash(at)?,
        });
        if reader.ends_transaction(at)? {
            return Ok(events);
        }
        at += 1;
    }
}

/// The first input seq a derived transaction's receipt names.
fn receipt_of(events: &[Committed]) -> Option<u64> {
    events.iter().find_map(|c| {
        let GraphName::NamedNode(g) = &c.event.quad.graph_name else {
            return None;
        };
        if g.as_str() != RECEIPTS_GRAPH {
            return None;
        }
        match &c.event.quad.subject {
            NamedOrBlankNode::NamedNode(n) => n.as_str().strip_prefix(RECEIPT_PREFIX)?.parse().ok(),
            _ => None,
        }
    })
}

/// A running kernel projection.
pub struct Follower {
    stop: Arc<AtomicBool>,
    /// Log size the follower has read up to.
    pub applied: Arc<AtomicU64>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl Follower {
    /// Starts following `log`; derived transactions are signed with `key` (the node key).
    pub fn start(log: Arc<Log>, key: NodeKey) -> Follower {
        let stop = Arc::new(AtomicBool::new(false));
        let applied = Arc::new(AtomicU64::new(0));
        let (s, a) = (stop.clone(), applied.clone());
        let handle = std::thread::Builder::new()
            .name("kernel".into())
            .spawn(move || {
                if let Err(e) = follow(&log, &key, &s, &a) {
                    tracing::error!(error = %e, "the kernel projection stopped");
                }
            })
            .ok();
        Follower {
            stop,
            applied,
            handle,
        }
    }

    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        self.stop();
    }
}

fn follow(
    log: &Log,
    key: &NodeKey,
    stop: &AtomicBool,
    applied: &AtomicU64,
) -> Result<(), FollowError> {
    let reader = log.reader().clone();
    let mut runner = Runner::new();
    // Inputs that already have their derived transaction in the log.
    let mut done = HashSet::new();
    let mut seq = 0;
    let size = reader.size();
    while seq < size {
        let tx = transaction(&reader, seq)?;
        if let Some(first) = receipt_of(&tx) {
            done.insert(first);
        }
        seq += tx.len() as u64;
    }
    seq = 0;
    while !stop.load(Ordering::Acquire) {
        if seq >= reader.size() {
            reader.wait_for_size(seq + 1, Duration::from_millis(FOLLOW_WAIT_MS));
            continue;
        }
        let tx = transaction(&reader, seq)?;
        seq += tx.len() as u64;
        if let Some(derived) = runner.apply(&tx)? {
            if done.insert(derived.first_seq) {
                // Signed by the node (Ed25519 is deterministic, so a replay signs the same
                // bytes), with logical times: the derived events' bytes depend on the log alone.
                let batch =
                    Batch::signed(ActorKey(key.public_key()), derived.changes, |m| key.sign(m))
                        .map_err(LogError::from)?;
                log.append_stamped(batch, Stamp::Logical)?;
            }
        }
        applied.store(seq, Ordering::Release);
    }
    Ok(())
}

/// What [`verify`] found.
#[derive(Debug, Default)]
pub struct Verification {
    pub transactions: u64,
    pub receipts_checked: u64,
    /// Input transactions with no derived transaction yet (the node had not caught up).
    pub missing: Vec<u64>,
    /// Receipts that do not match the re-execution, with what differs.
    pub mismatches: Vec<String>,
}

/// Re-executes every step from the log with the descriptor active at each position and checks
/// that each recorded derived transaction (derived triples and receipt) is reproduced exactly.
pub fn verify(reader: &LogReader) -> Result<Verification, FollowError> {
    let mut runner = Runner::new();
    let mut expected: BTreeMap<u64, Derived> = BTreeMap::new();
    let mut v = Verification::default();
    let mut seq = 0;
    // Time of the event before the current transaction (0 before the first).
    let mut previous_time = 0;
    while seq < reader.size() {
        let tx = transaction(reader, seq)?;
        seq += tx.len() as u64;
        v.transactions += 1;
        let before = previous_time;
        previous_time = tx.last().map_or(previous_time, |c| c.event.time);
        if is_derived(&tx) {
            let Some(first) = receipt_of(&tx) else {
                continue;
            };
            // Derived transactions are the node's (`log verify` checks their signature).
            let node = ActorKey(reader.verifier().public_key());
            if let Some(c) = tx.iter().find(|c| c.event.actor != node) {
                v.mismatches.push(format!(
                    "receipt for input {first}: derived event {} is not by the node key",
                    c.seq
                ));
                continue;
            }
            // Derived events are stamped with logical ticks (see `Stamp::Logical`).
            if let Some(c) = tx
                .iter()
                .zip(before + 1..)
                .find_map(|(c, t)| (c.event.time != t).then_some(c))
            {
                v.mismatches.push(format!(
                    "receipt for input {first}: derived event {} has time {}, not the logical tick after the previous event",
                    c.seq, c.event.time
                ));
                continue;
            }
            let recorded: Vec<(Op, oxrdf::Quad)> = tx
                .iter()
                .map(|c| (c.event.op, c.event.quad.clone()))
                .collect();
            match expected.remove(&first) {
                Some(d) if d.changes == recorded => v.receipts_checked += 1,
                Some(d) => v.mismatches.push(format!(
                    "receipt for input {first}: recorded {} changes, re-execution gives {} (first difference at {:?})",
                    recorded.len(),
                    d.changes.len(),
                    recorded.iter().zip(&d.changes).position(|(a, b)| a != b)
                )),
                None => v.mismatches.push(format!("receipt for input {first} matches no input transaction")),
            }
            continue;
        }
        if let Some(d) = runner.apply(&tx)? {
            expected.insert(d.first_seq, d);
        }
    }
    v.missing = expected.into_keys().collect();
    Ok(v)
}
