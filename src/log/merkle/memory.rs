//! In-memory trees: [`MemoryTree`] for tests and small tools, and the `rs_merkle` integration
//! that `log verify` uses as an independent implementation of RFC 6962 roots.

use super::{Hash, NodeSource, RangeError, empty_root, leaf_hash, node_hash};

/// An RFC 6962 hasher for `rs_merkle`, whose leaves are our [`leaf_hash`]es.
///
/// `rs_merkle` pairs nodes level by level and carries a lone last node up unchanged. That is
/// exactly RFC 6962's shape for any size: pairing from the left builds the same perfect
/// subtrees over aligned blocks, and the carried node is the root of the incomplete rightmost
/// block, which MTH also joins only at the level where its left neighbour is complete
/// (checked for every size up to 256 and random larger sizes by the tests).
#[derive(Clone, Copy, Debug, Default)]
pub struct Rfc6962Hasher;

impl rs_merkle::Hasher for Rfc6962Hasher {
    type Hash = Hash;

    /// The RFC 6962 leaf hash (`rs_merkle` itself only hashes through `concat_and_hash`).
    fn hash(data: &[u8]) -> Hash {
        leaf_hash(data)
    }

    fn concat_and_hash(left: &Hash, right: Option<&Hash>) -> Hash {
        match right {
            Some(right) => node_hash(left, right),
            None => *left,
        }
    }
}

/// The root of a run of leaf hashes computed by `rs_merkle` (used by `log verify` to check
/// tiles independently of this module's tree code); [`empty_root`] for no leaves.
pub fn rs_merkle_root(leaves: &[Hash]) -> Hash {
    // rs_merkle has no root for an empty tree; RFC 9162 does.
    if leaves.is_empty() {
        return empty_root();
    }
    rs_merkle::MerkleTree::<Rfc6962Hasher>::from_leaves(leaves)
        .root()
        .unwrap_or_else(empty_root)
}

/// An in-memory [`NodeSource`] over leaf hashes with every complete node precomputed, for
/// tests, small logs and the CLI tools.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemoryTree {
    // levels[l][i] is node (l, i); only complete perfect subtrees are present.
    levels: Vec<Vec<Hash>>,
}

impl MemoryTree {
    /// An empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// A tree over `leaves` (leaf hashes, in log order).
    pub fn from_leaves(leaves: &[Hash]) -> Self {
        let mut tree = Self::new();
        for leaf in leaves {
            tree.push(*leaf);
        }
        tree
    }

    /// Appends one leaf hash and the parents it completes.
    pub fn push(&mut self, leaf: Hash) {
        let mut level = 0;
        let mut hash = leaf;
        loop {
            if self.levels.len() == level {
                self.levels.push(Vec::new());
            }
            let row = &mut self.levels[level];
            row.push(hash);
            match row.as_slice() {
                [.., left, right] if row.len() % 2 == 0 => hash = node_hash(left, right),
                _ => break,
            }
            level += 1;
        }
    }

    /// Number of leaves.
    pub fn size(&self) -> u64 {
        self.leaves().len() as u64
    }

    /// The leaf hashes, in log order.
    pub fn leaves(&self) -> &[Hash] {
        self.levels.first().map_or(&[], Vec::as_slice)
    }
}

impl NodeSource for MemoryTree {
    type Error = RangeError;

    fn node(&self, level: u32, index: u64) -> Result<Hash, RangeError> {
        let row = usize::try_from(level).ok().and_then(|l| self.levels.get(l));
        let at = usize::try_from(index).ok();
        row.zip(at)
            .and_then(|(row, at)| row.get(at))
            .copied()
            .ok_or(RangeError::NodeNotStored {
                level,
                index,
                size: self.size(),
            })
    }
}
