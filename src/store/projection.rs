//! The live projections: two threads that follow the log into the store.
//!
//! - The **state projection** applies whole log transactions in log order: `add` inserts the
//!   quad (a no-op if present), `remove` deletes it (a no-op if absent). Several small log
//!   transactions share one Oxigraph transaction — up to
//!   [`ProjectionConfig::transaction_events_max`] events, never splitting a log transaction —
//!   and that Oxigraph transaction also moves the state cursor ([`super::cursor`]), so a
//!   restart resumes exactly once. It writes blindly (no reads, Oxigraph's write-only batch,
//!   see [`super::batch`]), because inserts and deletes are idempotent, and a helper thread
//!   commits one batch while the next is read and decoded: this is what keeps it near
//!   Oxigraph's raw insert rate.
//! - The **event-graph projection** ([`super::event_graph`]) has its own cursor and may lag:
//!   the state never waits for it, and while the state projection is more than
//!   [`ProjectionConfig::event_graph_state_lag_events_max`] events behind the log it does not
//!   start a batch (2 cores are shared with the log's writer threads).
//!
//! Events in the reserved graphs are skipped by the state projection (see
//! [`super::is_reserved_graph`]). Both threads wake on [`LogReader::wait_for_size`]. A thread
//! that hits an error stops and reports it through [`Projections::failure`]; it does not
//! retry, since a storage error or corrupted log needs an operator.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::event::Op;
use crate::log::LogReader;

use super::batch::WriteBatch;
use super::cursor::{self, Cursors, Projection};
use super::event_graph::EventGraphWriter;
use super::timing::TimingTable;
use super::{GraphStore, StoreError, is_reserved_graph};

/// Tuning of the projections. Every limit carries its unit.
#[derive(Debug, Clone)]
pub struct ProjectionConfig {
    /// Most events per Oxigraph transaction of the state projection. A larger log transaction
    /// is applied alone, whole.
    pub transaction_events_max: usize,
    /// Most events per Oxigraph transaction of the event-graph projection (it may split a
    /// log transaction: the transaction node is completed by the batch holding its last event).
    pub event_graph_transaction_events_max: usize,
    /// How long a projection sleeps waiting for the log to grow before checking for stop.
    pub poll_interval_ms: u64,
    /// The event-graph projection waits while the state projection is more than this many
    /// events behind the log: on 2 cores, a batch of event-graph quads (9 per event) would
    /// otherwise take the CPU the state needs. Under an ingest rate the state cannot follow,
    /// the event graph waits until the load drops.
    pub event_graph_state_lag_events_max: u64,
    /// Scheduling niceness of the event-graph thread (Linux; 0 leaves it alone). The event
    /// graph is audit, written at ~14 quads per event: at the default it yields the CPU to
    /// acknowledgements and the state under load and catches up when the load drops.
    pub event_graph_thread_nice: i32,
}

impl Default for ProjectionConfig {
    fn default() -> Self {
        ProjectionConfig {
            transaction_events_max: 8_192,
            event_graph_transaction_events_max: 4_096,
            poll_interval_ms: 200,
            event_graph_state_lag_events_max: 8_192,
            event_graph_thread_nice: 10,
        }
    }
}

/// Progress and health shared by the threads and their owner.
#[derive(Debug, Default)]
struct Shared {
    state_applied: AtomicU64,
    events_applied: AtomicU64,
    applied_lock: Mutex<()>,
    applied_grew: Condvar,
    stop: AtomicBool,
    failure: Mutex<Option<String>>,
}

impl Shared {
    fn advance(&self, which: Projection, size: u64) {
        match which {
            Projection::State => self.state_applied.store(size, Ordering::Release),
            Projection::Events => self.events_applied.store(size, Ordering::Release),
        }
        drop(self.applied_lock.lock().unwrap_or_else(|p| p.into_inner()));
        self.applied_grew.notify_all();
    }

    fn fail(&self, which: Projection, error: &StoreError) {
        let message = format!("{} projection: {error}", which.name());
        tracing::error!("{message}");
        let mut failure = self.failure.lock().unwrap_or_else(|p| p.into_inner());
        failure.get_or_insert(message);
        drop(failure);
        drop(self.applied_lock.lock().unwrap_or_else(|p| p.into_inner()));
        self.applied_grew.notify_all();
    }

    /// Sleeps until the state projection advances (or `timeout`).
    fn wait_for_state(&self, timeout: Duration) {
        let guard = self.applied_lock.lock().unwrap_or_else(|p| p.into_inner());
        drop(self.applied_grew.wait_timeout(guard, timeout));
    }

    fn stopping(&self) -> bool {
        self.stop.load(Ordering::Acquire)
    }
}

impl Projection {
    fn name(self) -> &'static str {
        match self {
            Projection::State => "state",
            Projection::Events => "event-graph",
        }
    }
}

type Worker = JoinHandle<Result<(), StoreError>>;

/// The two projection threads; see the module docs. Dropping it stops them too.
pub struct Projections {
    shared: Arc<Shared>,
    reader: Arc<LogReader>,
    threads: Vec<(Projection, Worker)>,
}

impl std::fmt::Debug for Projections {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Projections")
            .field("state_applied", &self.state_applied())
            .field("events_applied", &self.events_applied())
            .finish()
    }
}

impl Projections {
    /// Checks the store's cursors against the log and starts both threads.
    pub fn start(
        reader: Arc<LogReader>,
        store: GraphStore,
        timing: Arc<TimingTable>,
        config: ProjectionConfig,
    ) -> Result<Self, StoreError> {
        let cursors = store.cursors()?;
        for (which, applied) in [
            (Projection::State, cursors.state),
            (Projection::Events, cursors.events),
        ] {
            check_cursor(&store, &reader, which, applied)?;
        }
        let shared = Arc::new(Shared::default());
        shared.state_applied.store(cursors.state, Ordering::Release);
        shared
            .events_applied
            .store(cursors.events, Ordering::Release);
        let mut projections = Projections {
            shared: shared.clone(),
            reader: reader.clone(),
            threads: Vec::new(),
        };
        let state = StateWorker {
            reader: reader.clone(),
            store: store.clone(),
            shared: shared.clone(),
            config: config.clone(),
            applied: cursors.state,
        };
        projections.spawn(Projection::State, move || state.run())?;
        let events = EventsWorker {
            writer: EventGraphWriter::resume(&reader, cursors.events, timing)?,
            reader,
            store,
            shared,
            config,
            applied: cursors.events,
        };
        projections.spawn(Projection::Events, move || events.run())?;
        Ok(projections)
    }

    fn spawn(
        &mut self,
        which: Projection,
        body: impl FnOnce() -> Result<(), StoreError> + Send + 'static,
    ) -> Result<(), StoreError> {
        let shared = self.shared.clone();
        let handle = std::thread::Builder::new()
            .name(format!("ledgraph-{}", which.name()))
            .spawn(move || {
                let result = body();
                if let Err(e) = &result {
                    shared.fail(which, e);
                }
                result
            })
            .map_err(|e| StoreError::Projection(format!("cannot start a thread: {e}")))?;
        self.threads.push((which, handle));
        Ok(())
    }

    /// Log size applied to the state (default graph and named graphs).
    pub fn state_applied(&self) -> u64 {
        self.shared.state_applied.load(Ordering::Acquire)
    }

    /// Log size projected into the event graph.
    pub fn events_applied(&self) -> u64 {
        self.shared.events_applied.load(Ordering::Acquire)
    }

    /// Blocks until the state has applied `size` events; false on timeout or if the state
    /// projection failed.
    pub fn wait_state(&self, size: u64, timeout: Duration) -> bool {
        self.wait(Projection::State, size, timeout)
    }

    /// Blocks until the event graph holds `size` events; false on timeout or failure.
    pub fn wait_events(&self, size: u64, timeout: Duration) -> bool {
        self.wait(Projection::Events, size, timeout)
    }

    fn wait(&self, which: Projection, size: u64, timeout: Duration) -> bool {
        let applied = || match which {
            Projection::State => self.state_applied(),
            Projection::Events => self.events_applied(),
        };
        let deadline = Instant::now().checked_add(timeout);
        let mut guard = self
            .shared
            .applied_lock
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        loop {
            if applied() >= size {
                return true;
            }
            if self.failure().is_some() {
                return false;
            }
            let now = Instant::now();
            let left = match deadline {
                Some(d) if d > now => d - now,
                Some(_) => return false,
                None => Duration::from_secs(3600),
            };
            guard = match self.shared.applied_grew.wait_timeout(guard, left) {
                Ok((g, _)) => g,
                Err(p) => p.into_inner().0,
            };
        }
    }

    /// Why a projection thread stopped, if one did (for `/readyz`).
    pub fn failure(&self) -> Option<String> {
        self.shared
            .failure
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Stops both threads (they finish the Oxigraph transaction in hand, which is atomic with
    /// its cursor) and returns the first error a thread stopped on.
    pub fn stop(mut self) -> Result<(), StoreError> {
        self.stop_threads()
    }

    fn stop_threads(&mut self) -> Result<(), StoreError> {
        self.shared.stop.store(true, Ordering::Release);
        self.reader.notify_waiters();
        drop(
            self.shared
                .applied_lock
                .lock()
                .unwrap_or_else(|p| p.into_inner()),
        );
        self.shared.applied_grew.notify_all();
        let mut first_error = None;
        for (which, handle) in self.threads.drain(..) {
            let result = match handle.join() {
                Ok(result) => result,
                Err(_) => Err(StoreError::Projection(format!(
                    "the {} projection thread panicked",
                    which.name()
                ))),
            };
            if let Err(e) = result {
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}

impl Drop for Projections {
    fn drop(&mut self) {
        if !self.threads.is_empty() {
            let _ = self.stop_threads();
        }
    }
}

/// A cursor beyond the log, or inside a transaction, means the store was not built from this
/// log (or the log lost acknowledged events): refuse rather than project on top of it.
fn check_cursor(
    store: &GraphStore,
    reader: &LogReader,
    which: Projection,
    applied: u64,
) -> Result<(), StoreError> {
    let size = reader.size();
    if applied > size {
        return Err(store.corruption(format!(
            "the {} projection has applied {applied} events but the log holds only {size}",
            which.name()
        )));
    }
    if which == Projection::State && applied > 0 && !reader.ends_transaction(applied - 1)? {
        return Err(store.corruption(format!(
            "the state cursor {applied} is not at a log transaction boundary"
        )));
    }
    Ok(())
}

struct StateWorker {
    reader: Arc<LogReader>,
    store: GraphStore,
    shared: Arc<Shared>,
    config: ProjectionConfig,
    applied: u64,
}

impl StateWorker {
    /// Reads and decodes the next batch while a committer thread writes the previous one:
    /// decoding is about a quarter of the work, and the second core is often idle.
    fn run(mut self) -> Result<(), StoreError> {
        let (to_commit, batches) = std::sync::mpsc::sync_channel::<(WriteBatch, u64)>(1);
        let store = self.store.clone();
        let shared = self.shared.clone();
        let committer = std::thread::Builder::new()
            .name("ledgraph-state-commit".into())
            .spawn(move || -> Result<(), StoreError> {
                for (batch, end) in batches {
                    batch.commit(&store)?;
                    shared.advance(Projection::State, end);
                }
                Ok(())
            })
            .map_err(|e| StoreError::Projection(format!("cannot start a thread: {e}")))?;
        let read = self.read_batches(&to_commit);
        drop(to_commit);
        let committed = committer.join().unwrap_or_else(|_| {
            Err(StoreError::Projection(
                "the state commit thread panicked".into(),
            ))
        });
        // A failed commit closes the channel, which ends the reading: report the cause.
        committed.and(read)
    }

    fn read_batches(
        &mut self,
        to_commit: &std::sync::mpsc::SyncSender<(WriteBatch, u64)>,
    ) -> Result<(), StoreError> {
        let poll = Duration::from_millis(self.config.poll_interval_ms.max(1));
        while !self.shared.stopping() {
            let size = self.reader.size();
            if self.applied >= size {
                self.reader.wait_for_size(self.applied + 1, poll);
                continue;
            }
            let (batch, end) = read_state(
                &self.reader,
                self.applied,
                size,
                self.config.transaction_events_max,
            )?;
            if to_commit.send((batch, end)).is_err() {
                break;
            }
            self.applied = end;
        }
        Ok(())
    }
}

/// Applies whole log transactions from `from` (a transaction boundary) towards `size`, at
/// least one transaction and otherwise at most `events_max` events, in one Oxigraph
/// write with the cursor. Returns the new applied size.
pub(crate) fn apply_state(
    store: &GraphStore,
    reader: &LogReader,
    from: u64,
    size: u64,
    events_max: usize,
) -> Result<u64, StoreError> {
    let (batch, end) = read_state(reader, from, size, events_max)?;
    batch.commit(store)?;
    Ok(end)
}

/// The write of [`apply_state`], not yet committed, and the applied size it leads to.
fn read_state(
    reader: &LogReader,
    from: u64,
    size: u64,
    events_max: usize,
) -> Result<(WriteBatch, u64), StoreError> {
    let mut batch = WriteBatch::new();
    let mut end = from;
    let mut seq = from;
    while seq < size {
        let event = reader.event(seq)?;
        if !is_reserved_graph(event.quad.graph_name.as_ref()) {
            match event.op {
                Op::Add => batch.insert(event.quad)?,
                Op::Remove => batch.remove(event.quad)?,
            }
        }
        seq += 1;
        if reader.ends_transaction(seq - 1)? {
            end = seq;
            if end - from >= events_max as u64 {
                break;
            }
        }
    }
    if end != seq {
        // `size` always ends a transaction (checkpoints cover whole transactions).
        return Err(StoreError::Invalid(format!(
            "log size {size} does not end a transaction"
        )));
    }
    cursor::set(&mut batch, Projection::State, from, end)?;
    Ok((batch, end))
}

/// Projects events `from..to` into the event graph in one Oxigraph transaction with the
/// event-graph cursor.
pub(crate) fn apply_events(
    store: &GraphStore,
    reader: &LogReader,
    writer: &mut EventGraphWriter,
    from: u64,
    to: u64,
) -> Result<(), StoreError> {
    let mut batch = WriteBatch::new();
    let mut result = Ok(());
    writer.project(reader, from, to, &mut |q| {
        if result.is_ok() {
            result = batch.insert(q);
        }
    })?;
    result?;
    cursor::set(&mut batch, Projection::Events, from, to)?;
    batch.commit(store)
}

/// Brings both projections of `store` up to the log's current size on the calling thread
/// (the CLI does this before querying a local store); `progress(done, total)`.
pub fn catch_up(
    reader: &LogReader,
    store: &GraphStore,
    config: &ProjectionConfig,
    progress: &dyn Fn(u64, u64),
) -> Result<Cursors, StoreError> {
    let mut cursors = store.cursors()?;
    check_cursor(store, reader, Projection::State, cursors.state)?;
    check_cursor(store, reader, Projection::Events, cursors.events)?;
    let size = reader.size();
    let total = (size - cursors.state) + (size - cursors.events);
    let mut done = 0;
    while cursors.state < size {
        let end = apply_state(
            store,
            reader,
            cursors.state,
            size,
            config.transaction_events_max,
        )?;
        done += end - cursors.state;
        cursors.state = end;
        progress(done, total);
    }
    cursors.events = events_up_to(reader, store, config, cursors.events, size, &|n| {
        progress(done + n, total)
    })?;
    Ok(cursors)
}

/// Brings the event graph of `store` up to its state cursor (a store replayed without the
/// event graph, say) on the calling thread; `progress(done, total)`.
pub fn catch_up_events(
    reader: &LogReader,
    store: &GraphStore,
    config: &ProjectionConfig,
    progress: &dyn Fn(u64, u64),
) -> Result<Cursors, StoreError> {
    let mut cursors = store.cursors()?;
    check_cursor(store, reader, Projection::Events, cursors.events)?;
    let (from, to) = (cursors.events, cursors.state);
    let total = to.saturating_sub(from);
    cursors.events = events_up_to(reader, store, config, from, to, &|n| progress(n, total))?;
    Ok(cursors)
}

/// Projects events `from..to` into the event graph, in Oxigraph transactions of at most
/// `event_graph_transaction_events_max` events; `progress(events done)`. Returns `to`.
fn events_up_to(
    reader: &LogReader,
    store: &GraphStore,
    config: &ProjectionConfig,
    from: u64,
    to: u64,
    progress: &dyn Fn(u64),
) -> Result<u64, StoreError> {
    let mut writer = EventGraphWriter::resume(reader, from, Arc::new(TimingTable::new(1)))?;
    let mut at = from;
    while at < to {
        let end = to.min(at + config.event_graph_transaction_events_max.max(1) as u64);
        apply_events(store, reader, &mut writer, at, end)?;
        at = end;
        progress(at - from);
    }
    Ok(at.max(from))
}

struct EventsWorker {
    reader: Arc<LogReader>,
    store: GraphStore,
    shared: Arc<Shared>,
    config: ProjectionConfig,
    writer: EventGraphWriter,
    applied: u64,
}

impl EventsWorker {
    fn run(mut self) -> Result<(), StoreError> {
        lower_thread_priority(self.config.event_graph_thread_nice);
        let poll = Duration::from_millis(self.config.poll_interval_ms.max(1));
        while !self.shared.stopping() {
            let size = self.reader.size();
            if self.applied >= size {
                self.reader.wait_for_size(self.applied + 1, poll);
                continue;
            }
            self.defer_to_state();
            let to = size
                .min(self.applied + self.config.event_graph_transaction_events_max.max(1) as u64);
            apply_events(
                &self.store,
                &self.reader,
                &mut self.writer,
                self.applied,
                to,
            )?;
            self.applied = to;
            self.shared.advance(Projection::Events, to);
        }
        Ok(())
    }

    /// The state is what queries and read-your-writes wait on; the event graph is audit.
    fn defer_to_state(&self) {
        let poll = Duration::from_millis(self.config.poll_interval_ms.max(1));
        while !self.shared.stopping()
            && self
                .reader
                .size()
                .saturating_sub(self.shared.state_applied.load(Ordering::Acquire))
                > self.config.event_graph_state_lag_events_max
        {
            self.shared.wait_for_state(poll);
        }
    }
}

/// Makes the calling thread nicer by `nice` (Linux threads have their own niceness). A
/// failure only costs speed, so it is logged, not returned.
fn lower_thread_priority(nice: i32) {
    #[cfg(target_os = "linux")]
    if nice > 0 {
        // SAFETY: gettid and setpriority only read their integer arguments.
        let result = unsafe {
            let tid = libc::gettid();
            libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, nice)
        };
        if result != 0 {
            tracing::debug!(nice, "could not lower the event-graph thread's priority");
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = nice;
}
