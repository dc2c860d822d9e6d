//! Projection cursors: how many log events each projection has applied.
//!
//! A cursor is one quad in [`META_GRAPH`](super::META_GRAPH):
//!
//! ```text
//! <urn:ledgraph:projection:state>  lg:appliedSize "N"^^xsd:integer  <urn:ledgraph:meta> .
//! <urn:ledgraph:projection:events> lg:appliedSize "M"^^xsd:integer  <urn:ledgraph:meta> .
//! ```
//!
//! `N` is a log size: events `0..N` are applied. The projections rewrite their cursor in the
//! same Oxigraph transaction as the data it covers, so after a crash the store holds either
//! both or neither, and a restart resumes at exactly the next event. A missing quad means 0;
//! anything else that is not exactly one non-negative integer is [`StoreError::Corruption`].
//! This module does not decide when cursors advance; the projections do.

use oxrdf::{GraphNameRef, Literal, NamedNodeRef, Quad, QuadRef, Term};

use super::batch::WriteBatch;
use super::vocab::{APPLIED_SIZE, EVENTS_PROJECTION, META_GRAPH, STATE_PROJECTION, XSD_INTEGER};
use super::{GraphStore, StoreError};

/// The log sizes applied by the two projections.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Cursors {
    /// Events applied to the state (default graph and named graphs).
    pub state: u64,
    /// Events projected into the event graph.
    pub events: u64,
}

/// Which cursor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Projection {
    State,
    Events,
}

impl Projection {
    pub fn subject(self) -> NamedNodeRef<'static> {
        match self {
            Projection::State => STATE_PROJECTION,
            Projection::Events => EVENTS_PROJECTION,
        }
    }
}

pub(crate) fn read(store: &GraphStore) -> Result<Cursors, StoreError> {
    Ok(Cursors {
        state: read_one(store, Projection::State)?,
        events: read_one(store, Projection::Events)?,
    })
}

fn read_one(store: &GraphStore, which: Projection) -> Result<u64, StoreError> {
    let mut found = None;
    let quads = store.oxigraph().quads_for_pattern(
        Some(which.subject().into()),
        Some(APPLIED_SIZE),
        None,
        Some(META_GRAPH.into()),
    );
    for quad in quads {
        let quad = quad.map_err(|e| store.storage_error(e))?;
        if found.is_some() {
            return Err(store.corruption(format!("more than one cursor for {}", which.subject())));
        }
        found = Some(parse_value(&quad.object).ok_or_else(|| {
            store.corruption(format!(
                "cursor of {} is not a non-negative xsd:integer: {}",
                which.subject(),
                quad.object
            ))
        })?);
    }
    Ok(found.unwrap_or(0))
}

fn parse_value(term: &Term) -> Option<u64> {
    match term {
        Term::Literal(l) if l.datatype() == XSD_INTEGER => l.value().parse().ok(),
        _ => None,
    }
}

/// The cursor quad for `size`.
pub(crate) fn quad(which: Projection, size: u64) -> Quad {
    QuadRef::new(
        which.subject(),
        APPLIED_SIZE,
        &Literal::new_typed_literal(size.to_string(), XSD_INTEGER),
        GraphNameRef::NamedNode(META_GRAPH),
    )
    .into_owned()
}

/// Moves a cursor from `old` to `new` as part of `batch`.
pub(crate) fn set(
    batch: &mut WriteBatch,
    which: Projection,
    old: u64,
    new: u64,
) -> Result<(), StoreError> {
    batch.remove(quad(which, old))?;
    batch.insert(quad(which, new))
}
