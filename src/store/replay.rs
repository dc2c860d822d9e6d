//! Replay: rebuild a store (state, optionally the event graph, and cursors) from the log alone.
//!
//! By default replay rebuilds the *state* only and leaves the event-graph cursor at 0: the
//! event graph is audit, about eight times the state's size, and has its own projection
//! that fills it in the background when a server opens the store (or at once through
//! [`catch_up_events`], which `ledgraph store hash` runs). With
//! [`ReplayOptions::event_graph`] it is written here too. Either way the finished store is
//! the one the live projections would have built from the same events, so its
//! [dataset hash](super::hash) equals the live store's — which is how the two are
//! compared. Replay streams the log once, in order:
//! - event-graph quads are only ever added, so they go to Oxigraph's bulk loader (writes
//!   sorted SST files, ~1.5× faster than transactions) in chunks of [`REPLAY_BULK_QUADS`];
//! - the state alternates runs of adds and runs of removes; order matters only between the
//!   two, so a run of adds is flushed (bulk loader when large, a transaction when small)
//!   before a remove is applied, and removes (which need a transaction) before an add.
//!
//! The cursors are written last: a replay that stops half way leaves a store without them,
//! which the projections would redo from 0 (harmless, adds and removes are idempotent, but
//! slower than deleting the directory and replaying again). Replay refuses a non-empty
//! target directory and a `to` that is not a transaction boundary. It does not verify
//! signatures or checkpoints (`ledgraph log verify` does); each event is still checked
//! against its Merkle leaf as it is read.

use std::path::Path;
use std::sync::Arc;

use oxrdf::Quad;

use super::batch::WriteBatch;
use super::cursor::{self, Projection};
use super::event_graph::EventGraphWriter;
use super::timing::TimingTable;
use super::{GraphStore, StoreError, is_reserved_graph};
use crate::event::Op;
use crate::event::hlc::SystemClock;
use crate::keys;
use crate::log::{Log, LogConfig, LogError, LogReader};

/// Quads buffered before a bulk-loader run (memory: roughly 200 bytes each).
pub const REPLAY_BULK_QUADS: usize = 500_000;
/// A run of state adds shorter than this goes through a transaction: the bulk loader's
/// fixed cost (SST files, ingestion) outweighs its speed on small runs.
pub const REPLAY_BULK_MIN_QUADS: usize = 20_000;
/// Most removes per Oxigraph transaction.
pub const REPLAY_REMOVES_MAX: usize = 100_000;
/// How often (in events) progress is reported.
const PROGRESS_EVENTS: u64 = 4_096;

/// What a replay did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplayReport {
    /// Events replayed (the log size the new store's cursors record).
    pub events: u64,
    pub transactions: u64,
    /// Events in a reserved graph, left out of the state as the live projection does.
    pub reserved_skipped: u64,
    /// Bulk-loader runs and transactions used (for tuning).
    pub bulk_loads: u64,
    pub transactions_committed: u64,
}

/// Opens the log of `data_dir` (read-only if a server holds it) and replays it into `into`.
pub fn replay(
    data_dir: &Path,
    into: &Path,
    options: ReplayOptions,
    progress: &dyn Fn(u64, u64),
) -> Result<ReplayReport, StoreError> {
    let key = keys::load_key(data_dir).map_err(LogError::from)?;
    match Log::open(data_dir, key, LogConfig::default(), Arc::new(SystemClock)) {
        Ok((log, _)) => {
            let report = replay_from(&log, into, options, progress);
            log.close()?;
            report
        }
        Err(LogError::Locked { .. }) => {
            let verifier = keys::load_verifier(data_dir).map_err(LogError::from)?;
            let reader = LogReader::open_read_only(data_dir, verifier)?;
            replay_from(&reader, into, options, progress)
        }
        Err(e) => Err(e.into()),
    }
}

/// Checks that `to` (default: the whole log) is a transaction boundary of `reader`.
pub fn check_replay_size(reader: &LogReader, to: Option<u64>) -> Result<u64, StoreError> {
    let size = reader.size();
    let Some(to) = to else { return Ok(size) };
    if to > size {
        return Err(StoreError::Invalid(format!(
            "cannot replay {to} events: the log holds {size}"
        )));
    }
    if to == 0 || reader.ends_transaction(to - 1)? {
        return Ok(to);
    }
    let mut before = to - 1;
    while before > 0 && !reader.ends_transaction(before - 1)? {
        before -= 1;
    }
    let mut after = to;
    while !reader.ends_transaction(after)? {
        after += 1;
    }
    Err(StoreError::Invalid(format!(
        "--to {to} would split the transaction of events {before}..={after}; use --to {before} or --to {}",
        after + 1
    )))
}

fn check_empty(into: &Path) -> Result<(), StoreError> {
    match std::fs::read_dir(into) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                return Err(StoreError::Invalid(format!(
                    "{} is not empty; replay builds a new store",
                    into.display()
                )));
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(StoreError::Io {
            path: into.to_owned(),
            source,
        }),
    }
}

/// What to replay.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReplayOptions {
    /// Replay the first `to` events (a transaction boundary); default: the whole log.
    pub to: Option<u64>,
    /// Also write the event graph (otherwise its projection fills it later).
    pub event_graph: bool,
}

/// Replays `reader` into a new store at `into`.
pub fn replay_from(
    reader: &LogReader,
    into: &Path,
    options: ReplayOptions,
    progress: &dyn Fn(u64, u64),
) -> Result<ReplayReport, StoreError> {
    let to = check_replay_size(reader, options.to)?;
    check_empty(into)?;
    let store = GraphStore::open(into)?;
    let mut loader = Loader::new(&store);
    let mut writer = EventGraphWriter::resume(reader, 0, Arc::new(TimingTable::new(1)))?;
    for seq in 0..to {
        let event = reader.event(seq)?;
        let ends = reader.ends_transaction(seq)?;
        if options.event_graph {
            let leaf = reader.leaf_hash(seq)?;
            writer.project_event(seq, &event, &leaf, ends, &mut |q| loader.events.push(q));
        }
        if is_reserved_graph(event.quad.graph_name.as_ref()) {
            loader.report.reserved_skipped += 1;
        } else {
            loader.state(event.op, event.quad)?;
        }
        if loader.events.len() >= REPLAY_BULK_QUADS {
            loader.flush_events()?;
        }
        if ends {
            loader.report.transactions += 1;
        }
        if (seq + 1) % PROGRESS_EVENTS == 0 {
            progress(seq + 1, to);
        }
    }
    loader.flush_adds()?;
    loader.flush_removes()?;
    loader.flush_events()?;
    if to > 0 {
        let mut batch = WriteBatch::new();
        cursor::set(&mut batch, Projection::State, 0, to)?;
        if options.event_graph {
            cursor::set(&mut batch, Projection::Events, 0, to)?;
        }
        batch.commit(&store)?;
    }
    store
        .oxigraph()
        .flush()
        .map_err(|e| store.storage_error(e))?;
    progress(to, to);
    loader.report.events = to;
    Ok(loader.report)
}

/// Replays only the events `seqs` of `reader` (strictly increasing log positions, as a
/// replay selection query returns them) into a new store at `into`: the state those events
/// alone give, applied in log order. Such a store is not a projection of the log — it has no
/// cursors (a server opening it would project the whole log onto it); instead
/// `<urn:ledgraph:selection>` in the meta graph records `lg:selection` (what selected the
/// events, e.g. `replay/except-actor actor=…`), `lg:selectedEvents` and `lg:selectedFromLogSize`.
/// No event graph is written: it would describe events the store does not hold.
pub fn replay_selected(
    reader: &LogReader,
    into: &Path,
    seqs: &[u64],
    selection: &str,
    progress: &dyn Fn(u64, u64),
) -> Result<ReplayReport, StoreError> {
    let size = reader.size();
    if let Some(pair) = seqs.windows(2).find(|w| w[0] >= w[1]) {
        return Err(StoreError::Invalid(format!(
            "selected events must be strictly increasing, got {} then {}",
            pair[0], pair[1]
        )));
    }
    if let Some(&last) = seqs.last().filter(|&&last| last >= size) {
        return Err(StoreError::Invalid(format!(
            "event {last} was selected but the log holds {size}"
        )));
    }
    check_empty(into)?;
    let store = GraphStore::open(into)?;
    let mut loader = Loader::new(&store);
    let total = seqs.len() as u64;
    for (done, &seq) in seqs.iter().enumerate() {
        let event = reader.event(seq)?;
        if is_reserved_graph(event.quad.graph_name.as_ref()) {
            loader.report.reserved_skipped += 1;
        } else {
            loader.state(event.op, event.quad)?;
        }
        if (done as u64 + 1) % PROGRESS_EVENTS == 0 {
            progress(done as u64 + 1, total);
        }
    }
    loader.flush_adds()?;
    loader.flush_removes()?;
    let mut batch = WriteBatch::new();
    let node = super::vocab::SELECTION.into_owned();
    let meta = oxrdf::GraphName::NamedNode(super::vocab::META_GRAPH.into_owned());
    let integer =
        |n: u64| oxrdf::Literal::new_typed_literal(n.to_string(), super::vocab::XSD_INTEGER);
    for (p, o) in [
        (
            super::vocab::SELECTION_TEXT,
            oxrdf::Literal::new_simple_literal(selection),
        ),
        (super::vocab::SELECTED_EVENTS, integer(total)),
        (super::vocab::SELECTED_FROM_LOG_SIZE, integer(size)),
    ] {
        batch.insert(Quad::new(node.clone(), p, o, meta.clone()))?;
    }
    batch.commit(&store)?;
    store
        .oxigraph()
        .flush()
        .map_err(|e| store.storage_error(e))?;
    progress(total, total);
    loader.report.events = total;
    Ok(loader.report)
}

struct Loader<'a> {
    store: &'a GraphStore,
    adds: Vec<Quad>,
    removes: Vec<Quad>,
    events: Vec<Quad>,
    report: ReplayReport,
}

impl<'a> Loader<'a> {
    fn new(store: &'a GraphStore) -> Self {
        Loader {
            store,
            adds: Vec::new(),
            removes: Vec::new(),
            events: Vec::new(),
            report: ReplayReport::default(),
        }
    }

    fn state(&mut self, op: Op, quad: Quad) -> Result<(), StoreError> {
        match op {
            Op::Add => {
                self.flush_removes()?;
                self.adds.push(quad);
                if self.adds.len() >= REPLAY_BULK_QUADS {
                    self.flush_adds()?;
                }
            }
            Op::Remove => {
                self.flush_adds()?;
                self.removes.push(quad);
                if self.removes.len() >= REPLAY_REMOVES_MAX {
                    self.flush_removes()?;
                }
            }
        }
        Ok(())
    }

    fn bulk_load(&mut self, quads: Vec<Quad>) -> Result<(), StoreError> {
        let store = self.store;
        let mut loader = store.oxigraph().bulk_loader();
        loader
            .load_quads(quads)
            .map_err(|e| store.storage_error(e))?;
        loader.commit().map_err(|e| store.storage_error(e))?;
        self.report.bulk_loads += 1;
        Ok(())
    }

    fn transaction(&mut self, op: Op, quads: Vec<Quad>) -> Result<(), StoreError> {
        let mut batch = WriteBatch::new();
        for q in quads {
            match op {
                Op::Add => batch.insert(q)?,
                Op::Remove => batch.remove(q)?,
            }
        }
        batch.commit(self.store)?;
        self.report.transactions_committed += 1;
        Ok(())
    }

    fn flush_adds(&mut self) -> Result<(), StoreError> {
        let adds = std::mem::take(&mut self.adds);
        match adds.len() {
            0 => Ok(()),
            n if n >= REPLAY_BULK_MIN_QUADS => self.bulk_load(adds),
            _ => self.transaction(Op::Add, adds),
        }
    }

    fn flush_removes(&mut self) -> Result<(), StoreError> {
        let removes = std::mem::take(&mut self.removes);
        if removes.is_empty() {
            return Ok(());
        }
        self.transaction(Op::Remove, removes)
    }

    fn flush_events(&mut self) -> Result<(), StoreError> {
        let events = std::mem::take(&mut self.events);
        match events.len() {
            0 => Ok(()),
            n if n >= REPLAY_BULK_MIN_QUADS => self.bulk_load(events),
            _ => self.transaction(Op::Add, events),
        }
    }
}
