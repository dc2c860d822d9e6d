//! Time travel: SPARQL on the state as it was at a past log size, without rebuilding a store.
//!
//! The state at log size `N` (after events `0..N`) holds a quad iff the last event before `N`
//! touching that exact quad is an `add` — what the state projection would have left after
//! applying `0..N` in order (reserved graphs excluded, as the projection skips them).
//! [`AsOfDataset`] answers every triple pattern of a query with exactly those quads, through
//! spareval's `QueryableDataset` trait, so Oxigraph's own evaluator runs the query unchanged
//! (joins, OPTIONAL, FILTER, aggregates, GRAPH, ASK, CONSTRUCT, DESCRIBE).
//!
//! **How a pattern is answered.** The event graph (`urn:ledgraph:log`, see
//! [`super::event_graph`]) is an index of the log kept by Oxigraph: `?e lg:subject <s>` finds
//! every event whose triple has subject `s` with one range scan of Oxigraph's GPOS index. The
//! dataset picks the most selective bound term of the pattern — subject, then object, then
//! named graph, then predicate — collects the events naming it with `seq < N` (the sequence
//! number is read off the event IRI `urn:ledgraph:event:SEQ`, no further lookup), reads those
//! events from the log itself (one `pread` each, checked against its Merkle leaf) newest
//! first, and keeps per quad the first op it sees. Patterns with no subject, object or graph
//! bound, or whose object/graph/predicate key names more than
//! [`AsOfLimits::candidate_events_max`] events, are
//! answered by a lazy scan: the set of subjects the history names (from the `lg:subject`
//! index), then each subject's history as above — memory is bounded by the number of distinct
//! subjects plus one subject's history (Oxigraph does not promise an iteration order, so
//! groups are not cut from the index stream).
//!
//! **Cost model.** A pattern with a bound subject or object costs O(events naming that term)
//! index entries and log reads, independent of the log's size: a query touching a handful of
//! subjects reads a few hundred records whether the log holds 10k or 10M events. A pattern
//! bound only by predicate or graph costs O(events with that predicate/graph); an unbound
//! pattern costs O(N) index entries plus one lookup per distinct subject — a full pass over
//! the history, bounded by the query time limit (the dataset checks the query's cancellation
//! token while it scans).
//! Events the event-graph projection has not indexed yet (it may lag the log) are read from
//! the log directly, up to [`AsOfLimits::unindexed_events_max`]; beyond that,
//! [`AsOfDataset::new`] refuses with [`AsOfError::NotIndexed`] and the caller waits.
//!
//! **Named graphs.** A graph is listed by `GRAPH ?g {}` at `N` iff an `add` before `N` put a
//! quad in it — Oxigraph keeps a graph's name after its last quad is removed, and time travel
//! answers what a store replayed to `N` would. The reserved graphs are empty at every `N`:
//! this is a view of the user's data, not of ledgraph's bookkeeping.
//!
//! Not done here: HTTP and CLI parameters (`http::as_of`, `cli`), and SPARQL Update (the past
//! is read-only). `N` must be a transaction boundary: a state inside a transaction never
//! existed.

mod dataset;
pub mod time;

use oxigraph::sparql::QueryEvaluationError;
use oxigraph::store::StorageError;

use crate::log::{LogError, LogReader};

pub use dataset::{AsOfDataset, ReadCounter};

/// Limits of one time-travel query. Each carries its unit.
#[derive(Debug, Clone)]
pub struct AsOfLimits {
    /// Most events past the event graph's cursor read straight from the log for one query
    /// (they are held in memory while it runs). Above it, the query must wait for the
    /// event-graph projection.
    pub unindexed_events_max: u64,
    /// Most events one indexed lookup (by object, graph or predicate) collects in memory
    /// before the pattern falls back to the subject-by-subject scan. A bound subject is not
    /// limited: the scan could only do the same lookup again.
    pub candidate_events_max: usize,
}

impl Default for AsOfLimits {
    fn default() -> Self {
        AsOfLimits {
            unindexed_events_max: 100_000,
            candidate_events_max: 1_000_000,
        }
    }
}

/// Errors of time travel.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AsOfError {
    /// `asOf` is neither a log size nor an RFC 3339 date-time.
    #[error(
        "asOf {value:?} is neither a log size (a non-negative integer) nor an RFC 3339 date-time: {reason}"
    )]
    Unparsable { value: String, reason: String },
    /// A log size past the end of the log.
    #[error("asOf {size} is beyond the log, which holds {log_size} events")]
    Beyond { size: u64, log_size: u64 },
    /// A log size inside a transaction: that state never existed.
    #[error(
        "asOf {size} would split the transaction of events {first}..={last}; use {first} or {}",
        last + 1
    )]
    SplitsTransaction { size: u64, first: u64, last: u64 },
    /// The event graph is too far behind the log for this size.
    #[error(
        "the event graph has indexed {indexed} events; asOf {size} needs it within {unindexed_max} events of that size"
    )]
    NotIndexed {
        size: u64,
        indexed: u64,
        unindexed_max: u64,
    },
    /// The event graph holds something ledgraph cannot have written.
    #[error("corruption in the event graph: {0}")]
    Corruption(String),
    #[error("store: {0}")]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Log(#[from] LogError),
    #[error(transparent)]
    Store(#[from] super::StoreError),
    /// The query was cancelled (time limit, client gone) while this dataset was scanning.
    #[error("the query was cancelled")]
    Cancelled,
}

impl AsOfError {
    /// Whether this error means the bytes on disk (store or log) are damaged.
    pub fn is_corruption(&self) -> bool {
        match self {
            AsOfError::Corruption(_) => true,
            AsOfError::Log(e) => e.is_corruption(),
            AsOfError::Store(e) => e.is_corruption(),
            _ => false,
        }
    }

    /// Whether the request itself is wrong (as opposed to the server or the data).
    pub fn is_bad_request(&self) -> bool {
        matches!(
            self,
            AsOfError::Unparsable { .. }
                | AsOfError::Beyond { .. }
                | AsOfError::SplitsTransaction { .. }
        )
    }

    /// The time-travel error inside a query evaluation error, if that is what stopped it.
    pub fn of_evaluation(e: &QueryEvaluationError) -> Option<&AsOfError> {
        match e {
            QueryEvaluationError::Dataset(inner) => inner.downcast_ref::<AsOfError>(),
            _ => None,
        }
    }
}

/// What `asOf` names: a log size, or an instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AsOfSpec {
    /// The state after events `0..size`.
    Size(u64),
    /// The state after every transaction whose events all have a time at or before this many
    /// milliseconds since the Unix epoch (negative: before 1970, i.e. the empty state).
    UnixMs(i64),
}

impl std::str::FromStr for AsOfSpec {
    type Err = AsOfError;

    /// Digits only: a log size; anything else must be an RFC 3339 date-time.
    fn from_str(text: &str) -> Result<Self, AsOfError> {
        let unparsable = |reason: String| AsOfError::Unparsable {
            value: text.chars().take(64).collect(),
            reason,
        };
        if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
            return text
                .parse()
                .map(AsOfSpec::Size)
                .map_err(|e| unparsable(format!("{e}")));
        }
        time::parse_rfc3339_ms(text)
            .map(AsOfSpec::UnixMs)
            .map_err(|e| unparsable(e.0))
    }
}

/// The log size `spec` names in `reader`'s log: checked against the log's size and its
/// transaction boundaries. An instant maps to the largest size whose events all have an HLC
/// time at or before it (`lg:time` is `ms << 16 | counter`, strictly increasing in log order,
/// so a binary search over the log finds it), rounded down to a transaction boundary: a
/// transaction whose last event is later was not committed at that instant.
pub fn resolve(reader: &LogReader, spec: AsOfSpec) -> Result<u64, AsOfError> {
    let log_size = reader.size();
    match spec {
        AsOfSpec::Size(size) => {
            if size > log_size {
                return Err(AsOfError::Beyond { size, log_size });
            }
            check_boundary(reader, size)?;
            Ok(size)
        }
        AsOfSpec::UnixMs(ms) if ms < 0 => Ok(0),
        AsOfSpec::UnixMs(ms) => {
            let bound = (ms as u64)
                .saturating_mul(1 << crate::event::hlc::COUNTER_BITS)
                .saturating_add((1 << crate::event::hlc::COUNTER_BITS) - 1);
            // Invariant: events 0..lo are at or before `bound`, events hi.. are after it.
            let (mut lo, mut hi) = (0u64, log_size);
            while lo < hi {
                let mid = lo + (hi - lo) / 2;
                if reader.event(mid)?.time <= bound {
                    lo = mid + 1;
                } else {
                    hi = mid;
                }
            }
            transaction_start(reader, lo)
        }
    }
}

/// The largest transaction boundary at or before `size`.
fn transaction_start(reader: &LogReader, size: u64) -> Result<u64, AsOfError> {
    let mut at = size;
    while at > 0 && !reader.ends_transaction(at - 1)? {
        at -= 1;
    }
    Ok(at)
}

fn check_boundary(reader: &LogReader, size: u64) -> Result<(), AsOfError> {
    if size == 0 || reader.ends_transaction(size - 1)? {
        return Ok(());
    }
    let first = transaction_start(reader, size)?;
    let mut last = size;
    while !reader.ends_transaction(last)? {
        last += 1;
    }
    Err(AsOfError::SplitsTransaction { size, first, last })
}
