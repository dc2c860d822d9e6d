//! The RFC 6962 reference vectors (the 8 leaves used by Certificate Transparency
//! implementations) against every way this crate computes roots and proofs.

use std::path::PathBuf;

use ledgraph::log::merkle::{
    Frontier, Hash, MemoryTree, consistency_proof, empty_root, inclusion_proof, leaf_hash, root,
    rs_merkle_root, verify_consistency, verify_inclusion,
};
use serde_json::Value;

const VECTORS: &str = "shared/testdata/rfc6962-vectors.json";

/// The vectors live next to the crate (`<crate>/../shared`); a scratch crate that builds these
/// tests from elsewhere falls back to the repository's fixed location.
fn vectors_path() -> PathBuf {
    let beside = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(VECTORS);
    if beside.exists() {
        beside
    } else {
        PathBuf::from("/work").join(VECTORS)
    }
}

struct Vectors {
    leaves: Vec<Vec<u8>>,
    leaf_hashes: Vec<Hash>,
    /// roots[n] is the root of the first n leaves, for n >= 1.
    roots: Vec<(u64, Hash)>,
    empty_root: Hash,
    inclusion: Vec<(u64, u64, Vec<Hash>)>,
    consistency: Vec<(u64, u64, Vec<Hash>)>,
}

fn hash(value: &Value) -> Hash {
    let text = value.as_str().expect("hash is a hex string");
    hex::decode(text)
        .expect("hash is valid hex")
        .try_into()
        .expect("hash is 32 bytes")
}

fn hashes(value: &Value) -> Vec<Hash> {
    value
        .as_array()
        .expect("proof is an array")
        .iter()
        .map(hash)
        .collect()
}

fn number(value: &Value, key: &str) -> u64 {
    value[key]
        .as_u64()
        .unwrap_or_else(|| panic!("{key} is a number"))
}

fn load() -> Vectors {
    let path = vectors_path();
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let json: Value = serde_json::from_str(&text).expect("vectors are valid JSON");
    let leaves = json["leaves_hex"]
        .as_array()
        .expect("leaves_hex is an array")
        .iter()
        .map(|v| hex::decode(v.as_str().expect("leaf is a string")).expect("leaf is hex"))
        .collect();
    let mut roots: Vec<(u64, Hash)> = json["roots"]
        .as_object()
        .expect("roots is an object")
        .iter()
        .map(|(size, root)| (size.parse().expect("root key is a size"), hash(root)))
        .collect();
    roots.sort();
    let proofs = |key: &str, a: &str, b: &str| -> Vec<(u64, u64, Vec<Hash>)> {
        json[key]
            .as_array()
            .unwrap_or_else(|| panic!("{key} is an array"))
            .iter()
            .map(|case| (number(case, a), number(case, b), hashes(&case["proof"])))
            .collect()
    };
    Vectors {
        leaves,
        leaf_hashes: hashes(&json["leaf_hashes"]),
        roots,
        empty_root: hash(&json["empty_root"]),
        inclusion: proofs("inclusion", "index", "size"),
        consistency: proofs("consistency", "from", "to"),
    }
}

fn tree(v: &Vectors) -> MemoryTree {
    MemoryTree::from_leaves(&v.leaf_hashes)
}

#[test]
fn vectors_cover_every_proof_of_the_eight_leaf_tree() {
    let v = load();
    assert_eq!(v.leaves.len(), 8);
    assert_eq!(
        v.roots.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
        (1..=8).collect::<Vec<_>>()
    );
    // Every (index, size) and every (from, to) with 1 <= from <= to <= 8: 36 each.
    assert_eq!(v.inclusion.len(), 36);
    assert_eq!(v.consistency.len(), 36);
}

#[test]
fn leaf_hashes_match_vectors() {
    let v = load();
    for (i, (leaf, expected)) in v.leaves.iter().zip(&v.leaf_hashes).enumerate() {
        assert_eq!(leaf_hash(leaf), *expected, "leaf {i}");
    }
}

#[test]
fn empty_tree_root_matches_vector_everywhere() {
    let v = load();
    assert_eq!(empty_root(), v.empty_root);
    assert_eq!(root(&MemoryTree::new(), 0), Ok(v.empty_root));
    assert_eq!(Frontier::new().root(), v.empty_root);
    assert_eq!(rs_merkle_root(&[]), v.empty_root);
}

#[test]
fn roots_match_vectors_via_memory_tree_frontier_and_rs_merkle() {
    let v = load();
    let tree = tree(&v);
    let mut frontier = Frontier::new();
    for (size, expected) in &v.roots {
        let n = *size as usize;
        while frontier.size() < *size {
            frontier.push(v.leaf_hashes[frontier.size() as usize], |_, _, _| {});
        }
        assert_eq!(
            root(&tree, *size),
            Ok(*expected),
            "MemoryTree root of size {size}"
        );
        assert_eq!(frontier.root(), *expected, "Frontier root of size {size}");
        assert_eq!(
            rs_merkle_root(&v.leaf_hashes[..n]),
            *expected,
            "rs_merkle root of size {size}"
        );
        let loaded = Frontier::load(&tree, *size).expect("frontier loads");
        assert_eq!(loaded, frontier, "Frontier::load of size {size}");
    }
}

fn root_of(v: &Vectors, size: u64) -> Hash {
    v.roots
        .iter()
        .find(|(n, _)| *n == size)
        .map(|(_, r)| *r)
        .unwrap_or_else(|| panic!("no root vector for size {size}"))
}

#[test]
fn inclusion_proofs_match_vectors_and_verify() {
    let v = load();
    let tree = tree(&v);
    for (index, size, expected) in &v.inclusion {
        let proof = inclusion_proof(&tree, *index, *size).expect("proof generates");
        assert_eq!(&proof, expected, "inclusion proof of {index} in {size}");
        let leaf = &v.leaf_hashes[*index as usize];
        assert_eq!(
            verify_inclusion(leaf, *index, *size, expected, &root_of(&v, *size)),
            Ok(()),
            "vector inclusion proof of {index} in {size}"
        );
    }
}

#[test]
fn consistency_proofs_match_vectors_and_verify() {
    let v = load();
    let tree = tree(&v);
    for (from, to, expected) in &v.consistency {
        let proof = consistency_proof(&tree, *from, *to).expect("proof generates");
        assert_eq!(&proof, expected, "consistency proof from {from} to {to}");
        assert_eq!(
            verify_consistency(*from, *to, expected, &root_of(&v, *from), &root_of(&v, *to)),
            Ok(()),
            "vector consistency proof from {from} to {to}"
        );
    }
}
