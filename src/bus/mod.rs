//! The bus: committed events delivered to subscribers, filtered by triple patterns, in log
//! order, never lost — a projection of the log like the store's.
//!
//! One feeder thread follows the log ([`LogReader::wait_for_size`], behind the
//! [`EventSource`] trait so a benchmark can measure the bus without the log); publishing never
//! waits for it. For each event it looks up the interested subscribers in an index — by
//! predicate, else by subject, else the wildcard list — so the cost per event is the number of
//! candidate subscribers, not all of them. It gathers each subscriber's matches for a chunk of
//! events and hands them over under one lock, waking the receiver only if it sleeps
//! ([`subscription`]). A subscriber whose bounded buffer
//! ([`BusConfig::subscriber_buffer_events_max`]) is full is switched to reading the log
//! itself and rejoins the live stream when it has caught up.
//!
//! Alert topics ([`Pattern::Topic`]) are indexed by topic: the kernel records each alert in
//! the log ([`crate::kernel::alerts`]), and a topic subscriber receives the record's `lg:topic`
//! triple (in the alerts graph only, so a published look-alike triple does not match);
//! [`Subscription::alert`] reads the rest of the record.
//!
//! The bus does not persist subscriptions, authenticate, or know about HTTP; and it does not
//! filter triple patterns by graph name.

mod pattern;
mod source;
mod subscription;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use oxrdf::{NamedNode, NamedOrBlankNode, Quad, Term};

use crate::event::Op;
use crate::log::{LogError, LogReader};

pub use pattern::{Pattern, Start, TriplePattern};
pub use source::{EventSource, MemorySource};
use subscription::SubscriberSlot;
pub use subscription::Subscription;

/// Tuning of the bus. Every limit carries its unit.
#[derive(Debug, Clone)]
pub struct BusConfig {
    /// Events a subscriber may have waiting before it is switched to reading the log.
    pub subscriber_buffer_events_max: usize,
    /// Most log events a catching-up subscriber reads per step (it rechecks its state between).
    pub catchup_read_events_max: u64,
    /// Most events the feeder offers per hold of the subscriber registry.
    pub feeder_chunk_events_max: u64,
    /// How long the feeder sleeps waiting for the log to grow before checking for stop.
    pub poll_interval_ms: u64,
}

impl Default for BusConfig {
    fn default() -> Self {
        BusConfig {
            subscriber_buffer_events_max: 4_096,
            catchup_read_events_max: 1_024,
            feeder_chunk_events_max: 256,
            poll_interval_ms: 200,
        }
    }
}

/// One delivered event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusItem {
    /// Log position.
    pub seq: u64,
    pub op: Op,
    pub quad: Quad,
    /// Hybrid-logical-clock time ([`crate::event::hlc`]).
    pub time: u64,
    /// Whether this is the last event of its log transaction.
    pub ends_transaction: bool,
}

/// Errors of the bus.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BusError {
    /// Reading the log failed (a catching-up subscriber reads it directly).
    #[error(transparent)]
    Log(#[from] LogError),
    /// The bus stopped (shut down, or its feeder failed: the reason says which).
    #[error("the bus is closed: {0}")]
    Closed(String),
}

impl BusError {
    /// Damage on disk (as opposed to a shut-down bus or an I/O error).
    pub fn is_corruption(&self) -> bool {
        matches!(self, BusError::Log(e) if e.is_corruption())
    }
}

/// A registered subscriber as the index holds it.
type Entry = (u64, Arc<SubscriberSlot>);

/// Where each subscriber is indexed: by its predicate if it has one, else its subject.
#[derive(Debug, Default)]
struct Registry {
    slots: HashMap<u64, Arc<SubscriberSlot>>,
    by_predicate: HashMap<NamedNode, Vec<Entry>>,
    by_subject: HashMap<NamedOrBlankNode, Vec<Entry>>,
    /// Topic subscribers, by the topic literal.
    by_topic: HashMap<Term, Vec<Entry>>,
    wildcard: Vec<Entry>,
    next_id: u64,
}

impl Registry {
    fn insert(&mut self, slot: Arc<SubscriberSlot>) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        let entry = (id, slot.clone());
        if let Some(topic) = &slot.topic {
            self.by_topic.entry(topic.clone()).or_default().push(entry);
            self.slots.insert(id, slot);
            return id;
        }
        match (&slot.pattern.predicate, &slot.pattern.subject) {
            (Some(p), _) => self.by_predicate.entry(p.clone()).or_default().push(entry),
            (None, Some(s)) => self.by_subject.entry(s.clone()).or_default().push(entry),
            (None, None) => self.wildcard.push(entry),
        }
        self.slots.insert(id, slot);
        id
    }

    fn remove(&mut self, id: u64) {
        let Some(slot) = self.slots.remove(&id) else {
            return;
        };
        fn drop_id<K: std::hash::Hash + Eq>(map: &mut HashMap<K, Vec<Entry>>, key: &K, id: u64) {
            if let Some(entries) = map.get_mut(key) {
                entries.retain(|(i, _)| *i != id);
                if entries.is_empty() {
                    map.remove(key);
                }
            }
        }
        if let Some(topic) = &slot.topic {
            drop_id(&mut self.by_topic, topic, id);
            return;
        }
        match (&slot.pattern.predicate, &slot.pattern.subject) {
            (Some(p), _) => drop_id(&mut self.by_predicate, p, id),
            (None, Some(s)) => drop_id(&mut self.by_subject, s, id),
            (None, None) => self.wildcard.retain(|(i, _)| *i != id),
        }
    }

    /// Adds each matching subscriber's share of `items` to `matches`, in log order.
    fn gather(&self, items: &[Arc<BusItem>], matches: &mut Matches) {
        for item in items {
            // Skipping empty indexes saves hashing the term when no one filters that way.
            let by_predicate = (!self.by_predicate.is_empty())
                .then(|| self.by_predicate.get(&item.quad.predicate))
                .flatten();
            let by_subject = (!self.by_subject.is_empty())
                .then(|| self.by_subject.get(&item.quad.subject))
                .flatten();
            let by_topic = (!self.by_topic.is_empty()
                && crate::kernel::alerts::is_topic_triple(&item.quad))
            .then(|| self.by_topic.get(&item.quad.object))
            .flatten();
            for entries in [by_predicate, by_subject, by_topic, Some(&self.wildcard)]
                .into_iter()
                .flatten()
            {
                for (id, slot) in entries {
                    if slot.matches(item.op, &item.quad) {
                        matches.add(*id, slot, item);
                    }
                }
            }
        }
    }
}

/// Subscriber ids are small counters the bus hands out itself: they need no hashing against
/// collision attacks, and the lookup runs once per matching event.
#[derive(Debug, Default)]
struct IdHasher(u64);

impl std::hash::Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// One chunk's matches per subscriber; reused across chunks to keep its allocations.
#[derive(Debug, Default)]
struct Matches {
    by_id: HashMap<u64, usize, std::hash::BuildHasherDefault<IdHasher>>,
    lists: Vec<(Arc<SubscriberSlot>, Vec<Arc<BusItem>>)>,
    used: usize,
}

impl Matches {
    fn add(&mut self, id: u64, slot: &Arc<SubscriberSlot>, item: &Arc<BusItem>) {
        let index = *self.by_id.entry(id).or_insert_with(|| {
            if self.used == self.lists.len() {
                self.lists.push((slot.clone(), Vec::new()));
            } else {
                self.lists[self.used].0 = slot.clone();
            }
            self.used += 1;
            self.used - 1
        });
        self.lists[index].1.push(item.clone());
    }

    /// Hands every subscriber its matches; returns how many overflowed.
    fn deliver(&mut self) -> u64 {
        let mut overflowed = 0;
        for (slot, items) in &mut self.lists[..self.used] {
            overflowed += slot.offer_many(items);
            items.clear();
        }
        self.by_id.clear();
        self.used = 0;
        overflowed
    }
}

/// State shared by the feeder, the subscriptions and the [`Bus`] handle.
#[derive(Debug)]
struct Inner {
    source: Arc<dyn EventSource>,
    config: BusConfig,
    registry: Mutex<Registry>,
    /// Every event below this position has been offered to every subscriber.
    feeder_done: AtomicU64,
    /// Times a subscriber's buffer overflowed and it was switched to reading the log.
    catchups: AtomicU64,
    stop: AtomicBool,
    failure: Mutex<Option<String>>,
}

impl Inner {
    fn registry(&self) -> MutexGuard<'_, Registry> {
        self.registry.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn unregister(&self, id: u64) {
        self.registry().remove(id);
    }

    fn close_all(&self, reason: &str) {
        for slot in self.registry().slots.values() {
            slot.close(reason);
        }
    }
}

/// The bus; see the module docs. Dropping it stops the feeder.
#[derive(Debug)]
pub struct Bus {
    inner: Arc<Inner>,
    feeder: Mutex<Option<JoinHandle<()>>>,
}

impl Bus {
    /// Starts the feeder at the log's current size: subscribers starting earlier read the log
    /// first and rejoin the feeder.
    pub fn start(reader: Arc<LogReader>, config: BusConfig) -> Result<Self, BusError> {
        Self::start_on(reader, config)
    }

    /// [`start`](Self::start) on any [`EventSource`].
    pub fn start_on(source: Arc<dyn EventSource>, config: BusConfig) -> Result<Self, BusError> {
        let inner = Arc::new(Inner {
            feeder_done: AtomicU64::new(source.size()),
            catchups: AtomicU64::new(0),
            source,
            config,
            registry: Mutex::new(Registry::default()),
            stop: AtomicBool::new(false),
            failure: Mutex::new(None),
        });
        let feeder_inner = inner.clone();
        let feeder = std::thread::Builder::new()
            .name("ledgraph-bus".into())
            .spawn(move || feed(&feeder_inner))
            .map_err(|e| BusError::Closed(format!("cannot start the feeder thread: {e}")))?;
        Ok(Bus {
            inner,
            feeder: Mutex::new(Some(feeder)),
        })
    }

    /// Subscribes to the events matching `pattern` from `start` on.
    pub fn subscribe(&self, pattern: Pattern, start: Start) -> Result<Subscription, BusError> {
        let (pattern, topic) = match pattern {
            Pattern::Triple(p) => (p, None),
            Pattern::Topic(name) => {
                let topic = Term::from(oxrdf::Literal::new_simple_literal(name));
                let pattern = TriplePattern {
                    predicate: Some(NamedNode::new_unchecked(crate::kernel::alerts::TOPIC)),
                    object: Some(topic.clone()),
                    op: Some(Op::Add),
                    subject: None,
                };
                (pattern, Some(topic))
            }
        };
        if let Some(reason) = self.failure() {
            return Err(BusError::Closed(reason));
        }
        if self.inner.stop.load(Ordering::Acquire) {
            return Err(BusError::Closed("shut down".into()));
        }
        let start = match start {
            Start::Seq(n) => n,
            Start::Now => self.inner.source.size(),
        };
        let mut registry = self.inner.registry();
        // The feeder offers under this lock, so `feeder_done` is exact here.
        let done = self.inner.feeder_done.load(Ordering::Acquire);
        let slot = Arc::new(SubscriberSlot::new(
            pattern,
            topic,
            start,
            start == done,
            self.inner.config.subscriber_buffer_events_max,
        ));
        let id = registry.insert(slot.clone());
        drop(registry);
        Ok(Subscription::new(id, slot, self.inner.clone()))
    }

    /// Every event below this position has been offered to the live subscribers.
    pub fn position(&self) -> u64 {
        self.inner.feeder_done.load(Ordering::Acquire)
    }

    /// Times a subscriber's buffer overflowed and it was switched to reading the log.
    pub fn catchups(&self) -> u64 {
        self.inner.catchups.load(Ordering::Relaxed)
    }

    /// Live subscriptions.
    pub fn subscribers(&self) -> usize {
        self.inner.registry().slots.len()
    }

    /// Why the feeder stopped, if it failed.
    pub fn failure(&self) -> Option<String> {
        self.inner
            .failure
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Stops the feeder and closes every subscription (each still gets what it was sent).
    pub fn stop(&self) {
        self.inner.stop.store(true, Ordering::Release);
        self.inner.source.notify_waiters();
        let feeder = self.feeder.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(feeder) = feeder
            && feeder.join().is_err()
        {
            tracing::error!("the bus feeder panicked");
        }
        self.inner.close_all("shut down");
    }
}

impl Drop for Bus {
    fn drop(&mut self) {
        self.stop();
    }
}

fn feed(inner: &Inner) {
    if let Err(e) = feed_loop(inner) {
        let message = format!("bus feeder: {e}");
        tracing::error!("{message}");
        inner
            .failure
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_or_insert(message.clone());
        inner.close_all(&message);
    }
}

fn feed_loop(inner: &Inner) -> Result<(), LogError> {
    let poll = Duration::from_millis(inner.config.poll_interval_ms.max(1));
    let mut next = inner.feeder_done.load(Ordering::Acquire);
    let mut items = Vec::new();
    let mut matches = Matches::default();
    while !inner.stop.load(Ordering::Acquire) {
        let size = inner.source.wait_for_size(next + 1, poll);
        while next < size && !inner.stop.load(Ordering::Acquire) {
            let end = size.min(next + inner.config.feeder_chunk_events_max.max(1));
            // Read outside the registry lock; match and hand over under it.
            items.clear();
            for seq in next..end {
                items.push(inner.source.item(seq)?);
            }
            let registry = inner.registry();
            registry.gather(&items, &mut matches);
            let overflowed = matches.deliver();
            inner.feeder_done.store(end, Ordering::Release);
            drop(registry);
            if overflowed > 0 {
                inner.catchups.fetch_add(overflowed, Ordering::Relaxed);
                metrics::counter!("ledgraph_bus_catchups_total").increment(overflowed);
            }
            metrics::counter!("ledgraph_bus_events_total").increment(end - next);
            next = end;
        }
    }
    Ok(())
}
