//! The canonical dataset hash: one SHA-256 that any two stores built from the same log share.
//!
//! **Definition.** For every quad of the store, except
//! - quads in [`META_GRAPH`](super::META_GRAPH) (cursors: how far a projection got, not what it holds), and
//! - quads whose predicate is a run-local timing term (`lg:receivedAt`, `lg:committedAt`,
//!   `lg:projectedAt`: wall-clock times of this run),
//!
//! take `h = SHA-256(line)` where `line` is the quad's N-Quads line as oxrdf writes it
//! (`<s> <p> "o"^^<dt> <g> .` followed by `\n`, the graph omitted for the default graph).
//! Sort the `h` bytewise and output `SHA-256(h₁ ‖ h₂ ‖ … ‖ hₙ)`. An empty dataset hashes to
//! `SHA-256("")`. Hashing per quad and sorting makes the result independent of storage order.
//! Blank nodes are hashed by label; the projections never write any (the log is skolemized).
//!
//! Memory is 32 bytes per quad (the sorted list); this module does not stream to disk.

use oxrdf::{GraphNameRef, QuadRef};
use sha2::{Digest, Sha256};

use super::vocab::{META_GRAPH, RUN_LOCAL};
use super::{GraphStore, StoreError};

/// Whether a quad takes part in the dataset hash.
pub fn is_hashed(quad: QuadRef<'_>) -> bool {
    quad.graph_name != GraphNameRef::NamedNode(META_GRAPH) && !RUN_LOCAL.contains(&quad.predicate)
}

/// The SHA-256 of one quad's N-Quads line.
pub fn quad_hash(quad: QuadRef<'_>) -> [u8; 32] {
    let line = format!("{quad} .\n");
    Sha256::digest(line.as_bytes()).into()
}

/// Combines per-quad hashes (in any order) into the dataset hash.
pub fn combine(mut hashes: Vec<[u8; 32]>) -> [u8; 32] {
    hashes.sort_unstable();
    let mut total = Sha256::new();
    for h in &hashes {
        total.update(h);
    }
    total.finalize().into()
}

pub(crate) fn dataset_hash(store: &GraphStore) -> Result<[u8; 32], StoreError> {
    let mut hashes = Vec::new();
    for quad in store.oxigraph().iter() {
        let quad = quad.map_err(|e| store.storage_error(e))?;
        if is_hashed(quad.as_ref()) {
            hashes.push(quad_hash(quad.as_ref()));
        }
    }
    Ok(combine(hashes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use oxrdf::{Literal, NamedNodeRef};

    #[test]
    fn quad_line_is_n_quads_with_the_default_graph_omitted() {
        let s = NamedNodeRef::new_unchecked("https://e.org/s");
        let lit = Literal::new_simple_literal("a \"b\"");
        let q = QuadRef::new(s, s, &lit, GraphNameRef::DefaultGraph);
        assert_eq!(
            quad_hash(q),
            <[u8; 32]>::from(Sha256::digest(
                b"<https://e.org/s> <https://e.org/s> \"a \\\"b\\\"\" .\n"
            ))
        );
    }

    #[test]
    fn combine_is_order_independent_and_empty_is_sha256_of_nothing() {
        let a = [1u8; 32];
        let b = [2u8; 32];
        assert_eq!(combine(vec![a, b]), combine(vec![b, a]));
        assert_eq!(combine(vec![]), <[u8; 32]>::from(Sha256::digest(b"")));
    }
}
