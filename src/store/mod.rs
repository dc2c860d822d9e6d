//! The Oxigraph projection of the log: the current state, the event graph, replay and the
//! canonical dataset hash.
//!
//! One Oxigraph store on RocksDB (`data/store`) holds three kinds of graphs:
//! - **state**: the default graph and the user's named graphs, i.e. the result of applying every
//!   `add` / `remove` of the log in order ([`projection`]);
//! - **the event graph** [`EVENT_GRAPH`]: one node per log event, for audit queries
//!   ([`event_graph`] documents its shape);
//! - **the meta graph** [`META_GRAPH`]: how far each projection got (its cursor), written in the
//!   same Oxigraph transaction as the data it covers, so a restart resumes exactly once
//!   ([`cursor`]).
//!
//! Both reserved graphs are maintained by ledgraph only: events naming them are skipped by the
//! projections, and SPARQL Update ([`update`]) and Graph Store writes ([`graph_delta`]) that
//! would touch them are refused. Writes never go to the store directly: [`update_delta`] and
//! the graph deltas turn a request into log events, and the projection applies them once logged.
//!
//! Deleting the store and replaying the log ([`replay`]) gives the same [`GraphStore::dataset_hash`]
//! ([`hash`]). This module does not serve HTTP or decide admission; it knows the log only
//! through [`LogReader`](crate::log::LogReader).

pub mod as_of;
mod batch;
pub mod cursor;
pub mod event_graph;
pub mod graph_delta;
pub mod hash;
pub mod migration;
pub mod projection;
pub mod rejections;
pub mod replay;
pub mod timing;
pub mod update;
pub mod vocab;

use std::path::{Path, PathBuf};

use oxigraph::store::{StorageError, Store};
use oxrdf::{GraphNameRef, NamedNodeRef};

use crate::log::LogError;

pub use cursor::Cursors;
pub use graph_delta::{clear_graph_delta, replace_graph_delta};
pub use projection::{ProjectionConfig, Projections};
pub use replay::{ReplayReport, replay};
pub use timing::TimingTable;
pub use update::{UpdateDataset, UpdateError, update_delta};

/// The event graph: one node per log event (see [`event_graph`]).
pub const EVENT_GRAPH: &str = "urn:ledgraph:log";
/// The meta graph: projection cursors. Excluded from the dataset hash.
pub const META_GRAPH: &str = "urn:ledgraph:meta";

/// Applied migrations, one node each (see [`migration`]). Unlike the reserved graphs it is
/// projected into the state like any user graph (so replay rebuilds it), but only
/// `ledgraph migrate` writes it.
pub const MIGRATIONS_GRAPH: &str = "urn:ledgraph:migrations";
/// Records of the SHACL shapes in force (`crate::shapes::SHAPES_GRAPH`, spelled out here so
/// the store does not depend on the shapes part).
const SHAPES_RECORDS_GRAPH: &str = "urn:ledgraph:shacl";

/// The store's directory inside a data directory.
pub fn store_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("store")
}

/// Whether a graph is one ledgraph maintains itself ([`EVENT_GRAPH`], [`META_GRAPH`]).
/// Admission should refuse events in these graphs; the projections skip them.
pub fn is_reserved_graph(graph: GraphNameRef<'_>) -> bool {
    match graph {
        GraphNameRef::NamedNode(n) => is_reserved_iri(n),
        _ => false,
    }
}

/// Whether clients may not write `graph`: the reserved graphs, and the graphs whose quads
/// ledgraph appends to the log itself (shapes records, [`MIGRATIONS_GRAPH`], descriptor activations,
/// kernel receipts and alerts). Publishing,
/// SPARQL Update and Graph Store writes refuse them; `CLEAR ALL` leaves them alone.
pub fn is_maintained_graph(graph: GraphNameRef<'_>) -> bool {
    match graph {
        GraphNameRef::NamedNode(n) => {
            is_reserved_iri(n)
                || n.as_str() == MIGRATIONS_GRAPH
                || n.as_str() == SHAPES_RECORDS_GRAPH
                || n.as_str() == crate::kernel::registry::DESCRIPTORS_GRAPH
                || n.as_str() == crate::kernel::runner::RECEIPTS_GRAPH
                || n.as_str() == crate::kernel::alerts::ALERTS_GRAPH
        }
        _ => false,
    }
}

fn is_reserved_iri(n: NamedNodeRef<'_>) -> bool {
    n.as_str() == EVENT_GRAPH || n.as_str() == META_GRAPH
}

/// Errors of the store part.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// Oxigraph / RocksDB failed (I/O, lock held by another process, …).
    #[error("store {}: {source}", path.display())]
    Storage { path: PathBuf, source: StorageError },
    /// Data in the store that ledgraph cannot have written: damage, or a store that belongs to
    /// another log.
    #[error("corruption in the store at {}: {reason}", path.display())]
    Corruption { path: PathBuf, reason: String },
    #[error(transparent)]
    Log(#[from] LogError),
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A write aimed at a graph ledgraph maintains itself.
    #[error("{graph} is maintained by ledgraph and cannot be written")]
    ReservedGraph { graph: String },
    /// Replay or a projection was asked for something the log cannot give.
    #[error("{0}")]
    Invalid(String),
    /// A projection thread stopped on an error, or panicked.
    #[error("projection failed: {0}")]
    Projection(String),
}

impl StoreError {
    /// Whether this error means the bytes on disk (store or log) are damaged.
    pub fn is_corruption(&self) -> bool {
        match self {
            StoreError::Corruption { .. } => true,
            StoreError::Log(e) => e.is_corruption(),
            _ => false,
        }
    }
}

/// The Oxigraph store holding the projections. Cheap to clone (shares one RocksDB).
#[derive(Clone)]
pub struct GraphStore {
    store: Store,
    path: PathBuf,
}

impl std::fmt::Debug for GraphStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GraphStore")
            .field("path", &self.path)
            .finish()
    }
}

impl GraphStore {
    /// Opens (creating if needed) the RocksDB store at `dir`. One process at a time.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::Io {
            path: dir.to_owned(),
            source,
        })?;
        GraphStore::wrap(dir, Store::open(dir))
    }

    /// Opens an existing store without writing to it; works while another process holds it
    /// (it then shows the data as of opening).
    pub fn open_read_only(dir: &Path) -> Result<Self, StoreError> {
        if !dir.is_dir() {
            return Err(StoreError::Io {
                path: dir.to_owned(),
                source: std::io::Error::new(std::io::ErrorKind::NotFound, "no store here"),
            });
        }
        GraphStore::wrap(dir, Store::open_read_only(dir))
    }

    fn wrap(dir: &Path, opened: Result<Store, StorageError>) -> Result<Self, StoreError> {
        let store = opened.map_err(|source| StoreError::Storage {
            path: dir.to_owned(),
            source,
        })?;
        Ok(GraphStore {
            store,
            path: dir.to_owned(),
        })
    }

    /// An in-memory store (tests, scratch work); nothing reaches the disk.
    pub fn in_memory() -> Result<Self, StoreError> {
        let store = Store::new().map_err(|source| StoreError::Storage {
            path: PathBuf::from(":memory:"),
            source,
        })?;
        Ok(GraphStore {
            store,
            path: PathBuf::from(":memory:"),
        })
    }

    /// The underlying Oxigraph store, for queries. Do not write to it: writes go through the log.
    pub fn oxigraph(&self) -> &Store {
        &self.store
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How many log events each projection has applied.
    pub fn cursors(&self) -> Result<Cursors, StoreError> {
        cursor::read(self)
    }

    /// The canonical dataset hash (see [`hash`]).
    pub fn dataset_hash(&self) -> Result<[u8; 32], StoreError> {
        hash::dataset_hash(self)
    }

    pub(crate) fn storage_error(&self, source: StorageError) -> StoreError {
        StoreError::Storage {
            path: self.path.clone(),
            source,
        }
    }

    pub(crate) fn corruption(&self, reason: impl Into<String>) -> StoreError {
        StoreError::Corruption {
            path: self.path.clone(),
            reason: reason.into(),
        }
    }
}
