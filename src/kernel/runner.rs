//! The kernel as a projection of the log: transactions in log order → derived triples and a
//! receipt per transaction, as the changes of one derived transaction.
//!
//! Everything a [`Runner`] decides comes from the log alone: which descriptor is active (the
//! activation transactions in [`DESCRIPTORS_GRAPH`], whose first activation carries the file),
//! the runtime ids of unknown terms (assigned in log order), the node classes. Derived
//! transactions (the ones carrying a receipt, in [`RECEIPTS_GRAPH`]) are not inputs: they are
//! skipped, so the result does not depend on how the node interleaved its own appends with the
//! publishers'. Replaying the same log therefore gives the same derived transactions, byte for
//! byte, on any machine — what `ledgraph receipts verify` checks.
//!
//! A receipt (`lg:Receipt`, node `urn:ledgraph:receipt:<first input seq>`) records the
//! descriptor digest, the input range, SHA-256 of the input events' Merkle leaf hashes, SHA-256
//! of the derived triples (N-Triples, in order), the counts, and the hash of the previous
//! receipt, so receipts form a chain.

use std::collections::HashMap;
use std::sync::Arc;

use base64::Engine as _;
use oxrdf::vocab::{rdf, xsd};
use oxrdf::{GraphName, Literal, NamedNode, NamedOrBlankNode, Quad, Term};
use sha2::{Digest, Sha256};

use super::registry::{self, Active, DESCRIPTOR_PREFIX, DESCRIPTORS_GRAPH};
use super::{ActionTemplate, Actions, Receipt, State, step};
use crate::event::{Event, Op};

/// The named graph of receipts; a transaction holding one is a derived transaction.
pub const RECEIPTS_GRAPH: &str = "urn:ledgraph:receipts";
/// Prefix of receipt nodes: `urn:ledgraph:receipt:<first input seq>`.
pub const RECEIPT_PREFIX: &str = "urn:ledgraph:receipt:";

const LG: &str = "https://ledgraph.dev/ns#";

fn lg(local: &str) -> NamedNode {
    NamedNode::new_unchecked(format!("{LG}{local}"))
}

/// One committed event as the runner reads it.
#[derive(Debug, Clone)]
pub struct Committed {
    pub seq: u64,
    pub event: Event,
    /// The event's Merkle leaf hash.
    pub leaf: [u8; 32],
}

/// What one input transaction produced: the changes of its derived transaction.
#[derive(Debug, Clone, PartialEq)]
pub struct Derived {
    pub first_seq: u64,
    pub changes: Vec<(Op, Quad)>,
    pub receipt: Receipt,
}

/// Whether a transaction is one the kernel derived (it carries a receipt).
pub fn is_derived(events: &[Committed]) -> bool {
    events.iter().any(|c| {
        matches!(&c.event.quad.graph_name, GraphName::NamedNode(g) if g.as_str() == RECEIPTS_GRAPH)
    })
}

/// The kernel following a log (see the module documentation).
#[derive(Default)]
pub struct Runner {
    active: Option<(Arc<Active>, State)>,
    interner: Option<super::intern::Interner>,
    /// Descriptor files seen in the log, by digest.
    files: HashMap<String, Vec<u8>>,
    previous: [u8; 32],
    /// Receipts produced so far (for the previous-receipt chain).
    pub receipts: u64,
}

impl Runner {
    pub fn new() -> Runner {
        Runner::default()
    }

    /// The digest of the descriptor in force, if any.
    pub fn active_digest(&self) -> Option<&str> {
        self.active.as_ref().map(|(a, _)| a.info.digest.as_str())
    }

    /// Feeds one committed transaction (every event of it, in order). Returns the derived
    /// transaction to append, if a descriptor is active and the transaction is an input.
    pub fn apply(
        &mut self,
        events: &[Committed],
    ) -> Result<Option<Derived>, registry::RegistryError> {
        if events.is_empty() || is_derived(events) {
            return Ok(None);
        }
        if self.activations(events)? {
            return Ok(None);
        }
        let (Some((active, state)), Some(interner)) =
            (self.active.as_mut(), self.interner.as_mut())
        else {
            return Ok(None);
        };
        let mut batch = Vec::with_capacity(events.len());
        for c in events
            .iter()
            .filter(|c| c.event.quad.graph_name.is_default_graph())
        {
            let q = &c.event.quad;
            let o = interner
                .observe(
                    c.event.op,
                    q.subject.as_ref().into(),
                    q.predicate.as_ref().into(),
                    q.object.as_ref(),
                )
                .map_err(|e| registry::RegistryError::Invalid(e.to_string()))?;
            batch.push(o);
        }
        let digest = active.info.digest.clone();
        let view = active.view();
        state.ensure_nodes(interner.len());
        let mut out = Actions::for_batch(&view, batch.len());
        let receipt = step(&view, state, &batch, &mut out);
        let mut changes = Vec::new();
        let mut output = Sha256::new();
        for e in out
            .emitted
            .iter()
            .filter(|e| e.kind == u32::from(ActionTemplate::EMIT))
        {
            let (Some(s), Some(Term::NamedNode(p)), Some(o)) =
                (interner.term(e.s), interner.term(e.p), interner.term(e.o))
            else {
                continue;
            };
            let s = match s {
                Term::NamedNode(n) => NamedOrBlankNode::NamedNode(n.clone()),
                Term::BlankNode(b) => NamedOrBlankNode::BlankNode(b.clone()),
                _ => continue,
            };
            let quad = Quad::new(s, p.clone(), o.clone(), GraphName::DefaultGraph);
            output.update(format!("{quad} .\n").as_bytes());
            changes.push((Op::Add, quad));
        }
        // Alert records (kernel::alerts) follow the receipt; the output digest covers them.
        let inputs: Vec<u64> = events
            .iter()
            .filter(|c| c.event.quad.graph_name.is_default_graph())
            .map(|c| c.seq)
            .collect();
        let alerts = super::alerts::of_step(active, interner, &out.emitted, &inputs);
        for quad in &alerts {
            output.update(format!("{quad} .\n").as_bytes());
        }
        let first_seq = events[0].seq;
        let mut input = Sha256::new();
        for c in events {
            input.update(c.leaf);
        }
        let receipt_quads = self.receipt_quads(
            &digest,
            first_seq,
            events.len() as u64,
            input.finalize().into(),
            output.finalize().into(),
            &receipt,
            changes.len() as u64,
        );
        changes.extend(receipt_quads.into_iter().map(|q| (Op::Add, q)));
        changes.extend(alerts.into_iter().map(|q| (Op::Add, q)));
        Ok(Some(Derived {
            first_seq,
            changes,
            receipt,
        }))
    }

    /// Handles the descriptor records of a transaction; true if it was an activation.
    fn activations(&mut self, events: &[Committed]) -> Result<bool, registry::RegistryError> {
        let mut activated = None;
        let mut any = false;
        for c in events {
            let q = &c.event.quad;
            let GraphName::NamedNode(g) = &q.graph_name else {
                continue;
            };
            if g.as_str() != DESCRIPTORS_GRAPH {
                continue;
            }
            any = true;
            let NamedOrBlankNode::NamedNode(s) = &q.subject else {
                continue;
            };
            if q.predicate == lg("descriptorBytes") {
                if let (Some(digest), Term::Literal(l)) =
                    (s.as_str().strip_prefix(DESCRIPTOR_PREFIX), &q.object)
                {
                    let bytes = base64::engine::general_purpose::STANDARD
                        .decode(l.value().as_bytes())
                        .map_err(|e| registry::RegistryError::Corruption {
                            digest: digest.to_owned(),
                            reason: e.to_string(),
                        })?;
                    self.files.insert(digest.to_owned(), bytes);
                }
            }
            if q.predicate == lg("activeDescriptor") && c.event.op == Op::Add {
                if let Term::NamedNode(d) = &q.object {
                    activated = d
                        .as_str()
                        .strip_prefix(DESCRIPTOR_PREFIX)
                        .map(str::to_owned);
                }
            }
        }
        if let Some(digest) = activated {
            let bytes = self
                .files
                .get(&digest)
                .cloned()
                .ok_or_else(|| registry::RegistryError::Unknown(digest.clone()))?;
            let active = Arc::new(registry::load(bytes, None)?);
            let view = active.view();
            let state = State::new(&view);
            // Runtime ids restart with each descriptor (its own term ids): replay reproduces it.
            self.interner = Some(active.interner.fork());
            self.active = Some((active, state));
        }
        Ok(any)
    }

    #[allow(clippy::too_many_arguments)]
    fn receipt_quads(
        &mut self,
        digest: &str,
        first_seq: u64,
        count: u64,
        input: [u8; 32],
        output: [u8; 32],
        r: &Receipt,
        derived: u64,
    ) -> Vec<Quad> {
        let g = NamedNode::new_unchecked(RECEIPTS_GRAPH);
        let node = NamedNode::new_unchecked(format!("{RECEIPT_PREFIX}{first_seq}"));
        let int = |n: u64| Term::Literal(Literal::new_typed_literal(n.to_string(), xsd::INTEGER));
        let text = |t: String| Term::Literal(Literal::new_simple_literal(t));
        let q = |p: NamedNode, o: Term| Quad::new(node.clone(), p, o, g.clone());
        let quads = vec![
            q(rdf::TYPE.into_owned(), lg("Receipt").into()),
            q(
                lg("descriptor"),
                NamedNode::new_unchecked(format!("{DESCRIPTOR_PREFIX}{digest}")).into(),
            ),
            q(lg("inputFirstSeq"), int(first_seq)),
            q(lg("inputCount"), int(count)),
            q(lg("inputDigest"), text(hex::encode(input))),
            q(lg("outputDigest"), text(hex::encode(output))),
            q(lg("derivedCount"), int(derived)),
            q(lg("alertCount"), int(r.alerts)),
            q(lg("violationCount"), int(r.violations)),
            q(lg("rulesFired"), int(r.rules_fired)),
            q(lg("previousReceipt"), text(hex::encode(self.previous))),
        ];
        let mut h = Sha256::new();
        for quad in &quads {
            h.update(format!("{quad} .\n").as_bytes());
        }
        self.previous = h.finalize().into();
        self.receipts += 1;
        quads
    }
}
