//! Rejected batches, counted in the meta graph for `queries/metrics/rejected-batches-by-shape.rq`.
//!
//! A batch the SHACL admission refuses is not appended, so the log — the only source of truth
//! — never sees it. To let SPARQL count rejections by shape anyway, this node keeps run-local
//! counters in [`META_GRAPH`](super::META_GRAPH), one per minute, shape set and source shape:
//!
//! ```text
//! <urn:ledgraph:rejections:MINUTE_MS:KEY> lg:rejectionMinute "…"^^xsd:dateTime ;
//!     lg:shapeSet "set" ; lg:sourceShape <shape> | "[sh:path <p>]" ; lg:rejectedBatches N .
//! ```
//!
//! Like the cursors, these quads are excluded from the dataset hash, absent from a replayed
//! store, and never written through the log (they are facts about this node, not the graph).
//! Counting per minute bounds their size by time, not by request rate. A blank-node shape (a
//! property shape written `[ sh:path … ]`) has no stable name, so it is recorded as the text
//! `[sh:path <p>]`. The caller serializes rejections (admission holds the write gate alone).

use oxrdf::{GraphName, Literal, NamedNode, Quad, Term};
use sha2::{Digest, Sha256};

use super::batch::WriteBatch;
use super::event_graph::date_time;
use super::vocab::{
    META_GRAPH, REJECTED_BATCHES, REJECTION_MINUTE, REJECTIONS_PREFIX, SHAPE_SET, SOURCE_SHAPE,
    XSD_INTEGER,
};
use super::{GraphStore, StoreError};

/// Most distinct (shape set, shape) pairs counted for one rejected batch.
pub const SHAPES_PER_REJECTION_MAX: usize = 64;

/// One violated shape of a rejected batch.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct RejectedShape {
    pub shape_set: String,
    /// The source shape as an N-Triples term (`<iri>` or `_:b`), if the result names one.
    pub shape: Option<String>,
    /// The result's path, used to name a blank-node shape.
    pub path: Option<String>,
}

impl RejectedShape {
    fn term(&self) -> Term {
        if let Some(iri) = self
            .shape
            .as_deref()
            .and_then(|s| s.strip_prefix('<'))
            .and_then(|s| s.strip_suffix('>'))
            .and_then(|s| NamedNode::new(s).ok())
        {
            return iri.into();
        }
        let text = match &self.path {
            Some(path) => format!("[sh:path {path}]"),
            None => "[anonymous shape]".to_owned(),
        };
        Literal::new_simple_literal(text).into()
    }
}

/// Adds one rejected batch, at `at_ms` (wall clock), to the counter of each shape it violated.
pub fn record(store: &GraphStore, at_ms: u64, shapes: &[RejectedShape]) -> Result<(), StoreError> {
    let mut shapes: Vec<(String, Term)> = shapes
        .iter()
        .map(|s| (s.shape_set.clone(), s.term()))
        .collect();
    shapes.sort_by(|a, b| (&a.0, a.1.to_string()).cmp(&(&b.0, b.1.to_string())));
    shapes.dedup();
    shapes.truncate(SHAPES_PER_REJECTION_MAX);
    let minute_ms = at_ms - at_ms % 60_000;
    let meta = GraphName::NamedNode(META_GRAPH.into_owned());
    let mut batch = WriteBatch::new();
    for (set, shape) in shapes {
        let mut key = Sha256::new();
        key.update(set.as_bytes());
        key.update([0]);
        key.update(shape.to_string().as_bytes());
        let key = hex::encode(&key.finalize()[..8]);
        let node = NamedNode::new_unchecked(format!("{REJECTIONS_PREFIX}{minute_ms}:{key}"));
        let old = count(store, &node)?;
        if let Some(old) = old {
            batch.remove(Quad::new(
                node.clone(),
                REJECTED_BATCHES,
                integer(old),
                meta.clone(),
            ))?;
        }
        for (p, o) in [
            (REJECTION_MINUTE, date_time(minute_ms)),
            (SHAPE_SET, Literal::new_simple_literal(set).into()),
            (SOURCE_SHAPE, shape),
            (REJECTED_BATCHES, integer(old.unwrap_or(0) + 1)),
        ] {
            batch.insert(Quad::new(node.clone(), p, o, meta.clone()))?;
        }
    }
    batch.commit(store)
}

fn integer(n: u64) -> Term {
    Literal::new_typed_literal(n.to_string(), XSD_INTEGER).into()
}

/// The current count of a counter node, if it exists.
fn count(store: &GraphStore, node: &NamedNode) -> Result<Option<u64>, StoreError> {
    let found = store
        .oxigraph()
        .quads_for_pattern(
            Some(node.as_ref().into()),
            Some(REJECTED_BATCHES),
            None,
            Some(META_GRAPH.into()),
        )
        .next();
    match found {
        None => Ok(None),
        Some(Err(e)) => Err(store.storage_error(e)),
        Some(Ok(q)) => match &q.object {
            Term::Literal(l) => {
                l.value().parse().map(Some).map_err(|_| {
                    store.corruption(format!("{node} has a rejected-batch count of {l}"))
                })
            }
            other => Err(store.corruption(format!("{node} has a rejected-batch count of {other}"))),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_add_up_per_minute_and_shape() {
        let store = GraphStore::in_memory().unwrap();
        let a = RejectedShape {
            shape_set: "demo".into(),
            shape: Some("<https://e.org/PersonShape>".into()),
            path: None,
        };
        let b = RejectedShape {
            shape_set: "demo".into(),
            shape: Some("_:b7".into()),
            path: Some("<https://e.org/age>".into()),
        };
        record(&store, 120_000, &[a.clone(), b.clone(), a.clone()]).unwrap();
        record(&store, 150_000, std::slice::from_ref(&a)).unwrap();
        record(&store, 180_000, &[b]).unwrap();
        let counts: Vec<String> = store
            .oxigraph()
            .quads_for_pattern(None, Some(REJECTED_BATCHES), None, None)
            .map(|q| {
                let q = q.unwrap();
                format!("{} {}", q.subject, q.object)
            })
            .collect();
        assert_eq!(counts.len(), 3, "{counts:?}");
        assert!(
            counts
                .iter()
                .any(|c| c.contains(":120000:") && c.contains("\"2\"")),
            "{counts:?}"
        );
    }
}
