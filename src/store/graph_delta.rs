//! Graph Store Protocol writes as deltas: what `PUT` (replace a graph) and `DELETE` (clear a
//! graph) would change, as log events, computed against the current state.
//!
//! Like [`super::update`], nothing is written to the store here: the caller appends the
//! changes as one log transaction and the projection applies them. Only effective changes are
//! returned (a `PUT` of the graph's current content is empty). `POST` (add triples) needs no
//! delta: adds are idempotent. The reserved graphs are refused. Blank nodes must be
//! skolemized by the caller first (they cannot reach the log), so they are refused too.

use std::collections::HashSet;

use oxrdf::{GraphName, NamedOrBlankNode, Quad, Term, Triple};

use super::{GraphStore, StoreError, is_maintained_graph};
use crate::event::Op;

fn check_graph(graph: &GraphName) -> Result<(), StoreError> {
    if is_maintained_graph(graph.as_ref()) {
        return Err(StoreError::ReservedGraph {
            graph: graph.to_string(),
        });
    }
    Ok(())
}

fn current(store: &GraphStore, graph: &GraphName) -> Result<Vec<Quad>, StoreError> {
    store
        .oxigraph()
        .quads_for_pattern(None, None, None, Some(graph.as_ref()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| store.storage_error(e))
}

/// The changes that make `graph` hold exactly `triples`: removes first, then adds.
pub fn replace_graph_delta(
    store: &GraphStore,
    graph: &GraphName,
    triples: Vec<Triple>,
) -> Result<Vec<(Op, Quad)>, StoreError> {
    check_graph(graph)?;
    if let Some(t) = triples.iter().find(|t| {
        matches!(t.subject, NamedOrBlankNode::BlankNode(_))
            || matches!(t.object, Term::BlankNode(_))
    }) {
        return Err(StoreError::Invalid(format!(
            "blank node in {t}: skolemize the graph before computing its delta"
        )));
    }
    let old = current(store, graph)?;
    let wanted: HashSet<&Triple> = triples.iter().collect();
    let mut changes: Vec<(Op, Quad)> = old
        .iter()
        .filter(|q| !wanted.contains(&Triple::from(Quad::clone(q))))
        .map(|q| (Op::Remove, q.clone()))
        .collect();
    let present: HashSet<Triple> = old.into_iter().map(Triple::from).collect();
    let mut added = HashSet::new();
    for t in triples {
        if !present.contains(&t) && added.insert(t.clone()) {
            changes.push((Op::Add, t.in_graph(graph.clone())));
        }
    }
    Ok(changes)
}

/// The changes that empty `graph`.
pub fn clear_graph_delta(
    store: &GraphStore,
    graph: &GraphName,
) -> Result<Vec<(Op, Quad)>, StoreError> {
    check_graph(graph)?;
    Ok(current(store, graph)?
        .into_iter()
        .map(|q| (Op::Remove, q))
        .collect())
}
