//! ledgraph: an event-sourced, verifiable knowledge graph.
//!
//! Every change is an RDF triple [`event`] appended to a signed Merkle [`log`]; everything
//! else is a projection of that log. The parts, in data-flow order: [`event`] (the model and
//! its canonical bytes) → [`log`] (segments, Merkle tree, checkpoints, proofs, recovery) →
//! [`store`] (the Oxigraph projection: state, event graph, replay) — with [`keys`] holding the
//! node's signing identity and [`cli`] the command line over them.
//! Dependencies point one way: `log` knows nothing of HTTP or Oxigraph.

pub mod cli;
pub mod event;
pub mod keys;
pub mod log;
pub mod store;

/// The demo ontologies compiled into the binary, so `ledgraph demo` works from anywhere.
pub mod demo {
    /// The platform vocabulary.
    pub const PLATFORM_ONTOLOGY: &str = include_str!("../ontology/ledgraph.ttl");
    /// The demo domain (sensors, assets, maintenance).
    pub const DEMO_ONTOLOGY: &str = include_str!("../ontology/demo.ttl");
}
