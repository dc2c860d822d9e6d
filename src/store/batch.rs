//! Blind, ordered writes committed as one RocksDB write batch: how the projections write.
//!
//! `Store::start_transaction` gives a *readable* transaction, which keeps every write in an
//! indexed batch so the transaction can read its own writes. The projections never read:
//! inserts and deletes are idempotent. Oxigraph's write-only path (a plain write batch) is
//! reached through a SPARQL update made only of `DELETE DATA` / `INSERT DATA` operations,
//! built here as an algebra value, not text — nothing is parsed. The operations apply in
//! order and commit atomically, so a batch can carry data and its cursor together.
//!
//! Quads must be free of blank nodes (the log is skolemized); one that is not is an error.

use oxigraph::sparql::{SparqlEvaluator, UpdateEvaluationError};
use oxrdf::{GraphName, NamedOrBlankNode, Quad, Term};
use spargebra::GraphUpdateOperation;
use spargebra::term::{GraphName as SparGraphName, GroundQuad, GroundTerm, Quad as SparQuad};

use super::{GraphStore, StoreError};

/// Ordered inserts and removes, committed together by [`WriteBatch::commit`].
#[derive(Debug, Default)]
pub(crate) struct WriteBatch {
    operations: Vec<GraphUpdateOperation>,
}

fn unsupported(quad: &Quad) -> StoreError {
    StoreError::Invalid(format!(
        "blank node in {quad}: the store only holds skolemized quads"
    ))
}

fn graph_name(quad: &Quad) -> Result<SparGraphName, StoreError> {
    match &quad.graph_name {
        GraphName::DefaultGraph => Ok(SparGraphName::DefaultGraph),
        GraphName::NamedNode(n) => Ok(SparGraphName::NamedNode(n.clone())),
        GraphName::BlankNode(_) => Err(unsupported(quad)),
    }
}

impl WriteBatch {
    pub fn new() -> Self {
        WriteBatch::default()
    }

    pub fn insert(&mut self, quad: Quad) -> Result<(), StoreError> {
        let graph_name = graph_name(&quad)?;
        let quad = SparQuad {
            subject: quad.subject,
            predicate: quad.predicate,
            object: quad.object,
            graph_name,
        };
        if let Some(GraphUpdateOperation::InsertData { data }) = self.operations.last_mut() {
            data.push(quad);
        } else {
            self.operations
                .push(GraphUpdateOperation::InsertData { data: vec![quad] });
        }
        Ok(())
    }

    pub fn remove(&mut self, quad: Quad) -> Result<(), StoreError> {
        let graph_name = graph_name(&quad)?;
        let NamedOrBlankNode::NamedNode(subject) = quad.subject.clone() else {
            return Err(unsupported(&quad));
        };
        let object = match quad.object.clone() {
            Term::NamedNode(n) => GroundTerm::NamedNode(n),
            Term::Literal(l) => GroundTerm::Literal(l),
            // Blank nodes, and RDF 1.2 triple terms (enabled by rudof's oxrdf features).
            _ => return Err(unsupported(&quad)),
        };
        let quad = GroundQuad {
            subject,
            predicate: quad.predicate,
            object,
            graph_name,
        };
        if let Some(GraphUpdateOperation::DeleteData { data }) = self.operations.last_mut() {
            data.push(quad);
        } else {
            self.operations
                .push(GraphUpdateOperation::DeleteData { data: vec![quad] });
        }
        Ok(())
    }

    /// Applies every operation in order, atomically.
    pub fn commit(self, store: &GraphStore) -> Result<(), StoreError> {
        if self.operations.is_empty() {
            return Ok(());
        }
        let update = spargebra::Update {
            base_iri: None,
            operations: self.operations,
        };
        SparqlEvaluator::new()
            .for_update(update)
            .on_store(store.oxigraph())
            .execute()
            .map_err(|e| match e {
                UpdateEvaluationError::Storage(e) => store.storage_error(e),
                other => StoreError::Invalid(format!("writing to the store: {other}")),
            })
    }
}
