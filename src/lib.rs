//! ledgraph: an event-sourced, verifiable knowledge graph.
//!
//! Every change is an RDF triple [`event`] appended to a signed Merkle [`log`]; everything
//! else is a projection of that log. The parts, in data-flow order: [`event`] (the model and
//! its canonical bytes) → [`log`] (segments, Merkle tree, checkpoints, proofs, recovery) —
//! with [`keys`] holding the node's signing identity — → [`store`] (the Oxigraph projection,
//! replay, SPARQL Update as a delta) — with [`shapes`] deciding SHACL admission — → [`queries`] (the
//! named metrics, audit and replay queries) → [`http`] (the server) and [`cli`] (the command line).
//! Dependencies point one way: `log` knows nothing of HTTP or Oxigraph.

pub mod bus;
#[cfg(feature = "server")]
pub mod cli;
pub mod demo;
pub mod descriptor;
pub mod event;
#[cfg(feature = "server")]
pub mod http;
pub mod kernel;
pub mod keys;
pub mod log;
#[cfg(feature = "server")]
pub mod queries;
#[cfg(feature = "server")]
pub mod shapes;
#[cfg(feature = "server")]
pub mod store;
