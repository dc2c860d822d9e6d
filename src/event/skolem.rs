//! Skolemization: blank nodes become `.well-known/genid/` IRIs on admission.
//!
//! Blank node labels are scoped to one document, so a label means nothing once events from
//! many batches share a log. RDF 1.1 §3.5 recommends replacing them by *Skolem IRIs* under the
//! minting authority's `/.well-known/genid/` path (RFC 7511-style). The rule:
//!
//! `_:label` in a batch ↦ `{base}/.well-known/genid/{hex(SHA-256(nonce ‖ label))[..32]}`
//!
//! where `base` is the node's configured authority (default [`DEFAULT_GENID_BASE`]) and `nonce`
//! is 16 random bytes drawn once per batch. The same label within one batch maps to the same
//! IRI (so a batch keeps its internal links); the same label in two batches maps to different
//! IRIs. The mapping is applied before the events are encoded, so the log stores the Skolem IRIs
//! and replay needs no randomness.

use std::collections::HashMap;

use oxrdf::{BlankNode, GraphName, NamedNode, NamedOrBlankNode, Quad, Term};
use sha2::{Digest, Sha256};

use super::Op;

/// Authority under which Skolem IRIs are minted unless configured otherwise.
pub const DEFAULT_GENID_BASE: &str = "https://ledgraph.local";

/// Replaces blank nodes in one batch.
#[derive(Debug)]
pub struct Skolemizer {
    prefix: String,
    nonce: [u8; 16],
    minted: HashMap<String, NamedNode>,
}

impl Skolemizer {
    /// `base` is an absolute IRI without a trailing slash; `nonce` must be fresh per batch.
    pub fn new(base: &str, nonce: [u8; 16]) -> Self {
        let prefix = format!("{}/.well-known/genid/", base.trim_end_matches('/'));
        Skolemizer {
            prefix,
            nonce,
            minted: HashMap::new(),
        }
    }

    /// The Skolem IRI for one blank node label.
    pub fn iri(&mut self, node: &BlankNode) -> NamedNode {
        if let Some(iri) = self.minted.get(node.as_str()) {
            return iri.clone();
        }
        let mut hasher = Sha256::new();
        hasher.update(self.nonce);
        hasher.update(node.as_str().as_bytes());
        let digest = hasher.finalize();
        let iri =
            NamedNode::new_unchecked(format!("{}{}", self.prefix, hex::encode(&digest[..16])));
        self.minted.insert(node.as_str().to_owned(), iri.clone());
        iri
    }

    /// Replaces every blank node of a quad.
    pub fn quad(&mut self, quad: Quad) -> Quad {
        let subject = match quad.subject {
            NamedOrBlankNode::BlankNode(b) => NamedOrBlankNode::NamedNode(self.iri(&b)),
            other => other,
        };
        let object = match quad.object {
            Term::BlankNode(b) => Term::NamedNode(self.iri(&b)),
            other => other,
        };
        let graph_name = match quad.graph_name {
            GraphName::BlankNode(b) => GraphName::NamedNode(self.iri(&b)),
            other => other,
        };
        Quad {
            subject,
            predicate: quad.predicate,
            object,
            graph_name,
        }
    }

    /// Replaces every blank node of a batch's changes.
    pub fn changes(&mut self, changes: Vec<(Op, Quad)>) -> Vec<(Op, Quad)> {
        changes
            .into_iter()
            .map(|(op, q)| (op, self.quad(q)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_label_same_iri_within_a_batch_and_different_across_batches() {
        let b = BlankNode::new_unchecked("x");
        let mut one = Skolemizer::new("https://ex.org/", [1; 16]);
        let mut two = Skolemizer::new("https://ex.org", [2; 16]);
        let a1 = one.iri(&b);
        assert_eq!(a1, one.iri(&b));
        assert_ne!(a1, two.iri(&b));
        assert!(a1.as_str().starts_with("https://ex.org/.well-known/genid/"));
        assert!(NamedNode::new(a1.as_str()).is_ok());
    }
}
