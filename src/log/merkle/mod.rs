//! RFC 6962 / RFC 9162 Merkle tree hashing, proofs and proof verification for the event log.
//!
//! The log is an append-only Merkle tree whose leaf `i` is the event with sequence number `i`
//! (0-based). This module is pure computation over hashes: it turns leaf hashes into roots,
//! inclusion proofs and consistency proofs, and checks proofs received from elsewhere.
//!
//! It deliberately does **not** store anything (node hashes are read through a [`NodeSource`]:
//! the log's post-order node file on disk, or [`MemoryTree`] in tests and tools), and it does
//! **not** sign, serialise or parse checkpoints. Those belong to the rest of `log`.
//!
//! # Formulas (RFC 9162 §2.1.1, identical to RFC 6962 §2.1)
//!
//! - leaf hash: `SHA-256(0x00 ‖ entry)` ([`leaf_hash`]);
//! - interior node: `SHA-256(0x01 ‖ left ‖ right)` ([`node_hash`]);
//! - `MTH({}) = SHA-256("")` ([`empty_root`]);
//! - `MTH(D[n]) = node(MTH(D[0:k]), MTH(D[k:n]))`, `k` the largest power of two `< n`.
//!
//! Because every split point is a power of two, a tree of `n` leaves is a row of *perfect*
//! subtrees, one per set bit of `n`, largest first, folded from the right. Node
//! `(level, index)` is the root of the perfect subtree over leaves
//! `[index << level, (index + 1) << level)`. Such a node never changes once complete, which is
//! why it is the unit of storage ([`NodeSource`]) and of the [`Frontier`].
//!
//! | item | implements |
//! |---|---|
//! | [`root`], [`subtree_root`] | MTH, RFC 9162 §2.1.1 |
//! | [`inclusion_proof`] | PATH, RFC 9162 §2.1.3.1 |
//! | [`verify_inclusion`] | RFC 9162 §2.1.3.2 |
//! | [`consistency_proof`] | PROOF / SUBPROOF, RFC 9162 §2.1.4.1 |
//! | [`verify_consistency`] | RFC 9162 §2.1.4.2 |
//! | [`Frontier`], [`postorder_position`] | incremental appends and the on-disk node order |
//!
//! Proofs arrive from the network, so verification treats every argument as hostile: it never
//! panics (sizes up to `u64::MAX`, any proof length), and it checks the exact expected proof
//! length before hashing anything, so extra or missing elements are rejected as such.
//!
//! A proof binds leaves and roots, not tree sizes: different sizes whose proofs have the same
//! shape are indistinguishable (a consistency proof from 3 to 5 also verifies as one from 6 to
//! 10, say). Sizes must come with their roots from signed checkpoints.
//!
//! Consistency from size 0 is rejected ([`RangeError::ZeroSize`], [`VerifyError::ZeroSize`]):
//! RFC 9162 defines consistency proofs only for `0 < first`, the empty tree is a prefix of every
//! tree so there is nothing to prove, and current transparency-dev/merkle (the Go library used
//! by CT logs) refuses it too. A client with no earlier checkpoint simply skips the check.

use sha2::{Digest, Sha256};

/// Number of bytes in a [`Hash`](type@Hash).
pub const HASH_BYTES: usize = 32;

/// A SHA-256 digest: a leaf hash, an interior node or a tree root.
pub type Hash = [u8; HASH_BYTES];

/// Domain separation prefixes (RFC 6962 §2.1) so that a leaf can never be passed off as a node.
const LEAF_PREFIX: u8 = 0x00;
const NODE_PREFIX: u8 = 0x01;

/// The RFC 6962 leaf hash `SHA-256(0x00 ‖ entry)` of one log entry.
pub fn leaf_hash(entry: &[u8]) -> Hash {
    Sha256::new()
        .chain_update([LEAF_PREFIX])
        .chain_update(entry)
        .finalize()
        .into()
}

/// The RFC 6962 interior node hash `SHA-256(0x01 ‖ left ‖ right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    // This is the hot path (every append, proof step and verification). rs_merkle's SHA-256 is
    // the same sha2 code behind a non-generic function, so it is compiled at the dependency's
    // optimisation level: about 10x faster than sha2's generic API in debug builds, the same in
    // release.
    let mut input = [0u8; 1 + 2 * HASH_BYTES];
    input[0] = NODE_PREFIX;
    input[1..=HASH_BYTES].copy_from_slice(left);
    input[1 + HASH_BYTES..].copy_from_slice(right);
    <rs_merkle::algorithms::Sha256 as rs_merkle::Hasher>::hash(&input)
}

/// The root of the empty tree, `MTH({}) = SHA-256("")` (RFC 9162 §2.1.1).
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// A request that cannot be answered for the tree as it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RangeError {
    /// An inclusion proof was requested for a leaf the tree does not have.
    #[error("leaf index {index} is out of range for a tree of {size} leaves")]
    LeafOutOfRange { index: u64, size: u64 },
    /// A consistency proof was requested from a larger tree to a smaller one.
    #[error("tree size {from} is larger than tree size {to}: consistency needs from <= to")]
    SizeOrder { from: u64, to: u64 },
    /// A consistency proof was requested from the empty tree, which every tree extends.
    #[error("no consistency proof from the empty tree: every tree extends it, so sizes start at 1")]
    ZeroSize,
    /// A subtree root was requested for an empty (or reversed) leaf range.
    #[error("leaf range [{start}, {end}) is empty and has no subtree root")]
    EmptyRange { start: u64, end: u64 },
    /// A subtree root was requested for a range the RFC 6962 recursion never produces.
    #[error(
        "leaf range [{start}, {end}) is not an RFC 6962 subtree: its start must be a multiple \
         of the largest power of two <= its length"
    )]
    UnalignedRange { start: u64, end: u64 },
    /// The tree size asked for is larger than what the source holds (for sources that know).
    #[error("tree size {requested} exceeds the {stored} leaves stored")]
    SizeTooLarge { requested: u64, stored: u64 },
    /// The source does not hold this perfect subtree (it lies beyond the stored leaves).
    #[error("node at level {level}, index {index} is not stored (the tree has {size} leaves)")]
    NodeNotStored { level: u32, index: u64, size: u64 },
}

/// Where stored hashes of perfect subtrees come from (a file on disk in the log, memory in tests).
///
/// `node(level, index)` is the root of the perfect subtree over leaves
/// `[index << level, (index + 1) << level)`; level 0 holds the leaf hashes. Proof generation
/// assumes the source is consistent (each node is the hash of its two children) and only asks
/// for nodes that lie entirely within the requested tree size; a source that does not have a
/// node should return an error (typically [`RangeError::NodeNotStored`]), never panic.
pub trait NodeSource {
    /// The source's error; range errors detected by this module are converted into it.
    type Error: From<RangeError>;
    /// Returns the stored root of the perfect subtree `(level, index)`.
    fn node(&self, level: u32, index: u64) -> Result<Hash, Self::Error>;
}

/// Largest power of two `<= n`, for `n > 0`.
fn floor_pow2(n: u64) -> u64 {
    1 << (63 - n.leading_zeros())
}

/// Largest power of two `< n` (the RFC split point `k`), for `n >= 2`.
fn split_point(n: u64) -> u64 {
    floor_pow2(n - 1)
}

/// `MTH(D[start:end])` for a range the RFC 6962 recursion produces: `start` must be a multiple
/// of the largest power of two `<= end - start` (true of `[0, n)` and of every right-hand side
/// `D[k:n]` of a split).
///
/// Such a range is a row of stored perfect subtrees, one per set bit of its length, largest
/// first; they are read (`popcount(end - start)` reads) and folded from the right, as MTH nests.
pub fn subtree_root<S: NodeSource + ?Sized>(
    src: &S,
    start: u64,
    end: u64,
) -> Result<Hash, S::Error> {
    let len = match end.checked_sub(start) {
        Some(len) if len > 0 => len,
        _ => return Err(RangeError::EmptyRange { start, end }.into()),
    };
    if start & (floor_pow2(len) - 1) != 0 {
        return Err(RangeError::UnalignedRange { start, end }.into());
    }
    // Smallest (rightmost) subtree first, so the fold needs no buffer.
    let low = len.trailing_zeros();
    let mut right_start = end - (1 << low);
    let mut acc = src.node(low, right_start >> low)?;
    let mut rest = len & (len - 1);
    while rest != 0 {
        let level = rest.trailing_zeros();
        right_start -= 1 << level;
        acc = node_hash(&src.node(level, right_start >> level)?, &acc);
        rest &= rest - 1;
    }
    Ok(acc)
}

/// The root `MTH(D[0:size])` of the tree of the first `size` leaves; [`empty_root`] for 0.
pub fn root<S: NodeSource + ?Sized>(src: &S, size: u64) -> Result<Hash, S::Error> {
    if size == 0 {
        return Ok(empty_root());
    }
    subtree_root(src, 0, size)
}

/// Proofs for leaves on the right edge read no node touching the last leaf, so without this
/// a proof for a tree larger than the source could be produced.
fn ensure_stored<S: NodeSource + ?Sized>(src: &S, size: u64) -> Result<(), S::Error> {
    match size.checked_sub(1) {
        Some(last) => src.node(0, last).map(drop),
        None => Ok(()),
    }
}

/// The inclusion proof `PATH(index, D[0:size])` of RFC 9162 §2.1.3.1, in RFC order (the sibling
/// nearest the leaf first, the sibling just below the root last).
///
/// Errors with [`RangeError::LeafOutOfRange`] if `index >= size`.
pub fn inclusion_proof<S: NodeSource + ?Sized>(
    src: &S,
    index: u64,
    size: u64,
) -> Result<Vec<Hash>, S::Error> {
    if index >= size {
        return Err(RangeError::LeafOutOfRange { index, size }.into());
    }
    ensure_stored(src, size)?;
    let mut path = Vec::with_capacity(inclusion_proof_len(index, size).unwrap_or(0));
    let (mut start, mut end) = (0, size);
    // Walks down from the root, so the path comes out top-first.
    while end - start > 1 {
        let k = split_point(end - start);
        let mid = start + k;
        if index < mid {
            path.push(subtree_root(src, mid, end)?);
            end = mid;
        } else {
            let level = k.trailing_zeros();
            path.push(src.node(level, start >> level)?);
            start = mid;
        }
    }
    path.reverse();
    Ok(path)
}

/// The consistency proof `PROOF(from, D[0:to]) = SUBPROOF(from, D[0:to], true)` of
/// RFC 9162 §2.1.4.1, in RFC order. Empty when `from == to`.
///
/// Errors with [`RangeError::SizeOrder`] if `from > to` and [`RangeError::ZeroSize`] if
/// `from == 0` (see the module docs).
pub fn consistency_proof<S: NodeSource + ?Sized>(
    src: &S,
    from: u64,
    to: u64,
) -> Result<Vec<Hash>, S::Error> {
    if from > to {
        return Err(RangeError::SizeOrder { from, to }.into());
    }
    if from == 0 {
        return Err(RangeError::ZeroSize.into());
    }
    ensure_stored(src, to)?;
    let mut proof = Vec::with_capacity(consistency_proof_len(from, to).unwrap_or(0));
    // SUBPROOF(m, D[start:end], whole) with m = from - start; start < from <= end throughout.
    let (mut start, mut end, mut whole) = (0, to, true);
    while from != end {
        let k = split_point(end - start);
        let mid = start + k;
        if from <= mid {
            proof.push(subtree_root(src, mid, end)?);
            end = mid;
        } else {
            let level = k.trailing_zeros();
            proof.push(src.node(level, start >> level)?);
            start = mid;
            whole = false;
        }
    }
    // SUBPROOF(m, D[m], false) = MTH(D[m]): the old tree's subtree the verifier cannot know.
    if !whole {
        proof.push(subtree_root(src, start, end)?);
    }
    proof.reverse();
    Ok(proof)
}

/// Why a proof was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The leaf index is not below the tree size.
    #[error("leaf index {index} is out of range for a tree of {size} leaves")]
    IndexOutOfRange { index: u64, size: u64 },
    /// The first tree size of a consistency proof is larger than the second.
    #[error("tree size {from} is larger than tree size {to}: consistency needs from <= to")]
    SizeOrder { from: u64, to: u64 },
    /// Consistency from the empty tree was asked for; it is not a proof of anything.
    #[error("no consistency proof from the empty tree: every tree extends it, so sizes start at 1")]
    ZeroSize,
    /// The proof has extra or missing elements for these sizes.
    #[error("proof has {actual} hashes, but these tree sizes need exactly {expected}")]
    WrongProofLength { expected: usize, actual: usize },
    /// The inclusion proof leads to a different root.
    #[error(
        "inclusion proof leads to root {}, not the expected {}",
        hex::encode(.computed),
        hex::encode(.expected)
    )]
    RootMismatch { expected: Hash, computed: Hash },
    /// The consistency proof does not reproduce the root of the earlier tree.
    #[error(
        "consistency proof leads to old root {}, not the expected {}",
        hex::encode(.computed),
        hex::encode(.expected)
    )]
    FromRootMismatch { expected: Hash, computed: Hash },
    /// The consistency proof does not reproduce the root of the later tree.
    #[error(
        "consistency proof leads to new root {}, not the expected {}",
        hex::encode(.computed),
        hex::encode(.expected)
    )]
    ToRootMismatch { expected: Hash, computed: Hash },
}

/// `(inner, border)` of transparency-dev/merkle: the path to `index` and the path to `size - 1`
/// diverge `inner` levels above the leaves; above that the path only has left siblings, one per
/// set bit of `index >> inner`. Requires `index < size`.
fn decompose_inclusion(index: u64, size: u64) -> (u32, u32) {
    let inner = 64 - (index ^ (size - 1)).leading_zeros();
    let border = index.checked_shr(inner).unwrap_or(0).count_ones();
    (inner, border)
}

/// The exact number of hashes in the inclusion proof for `index` in a tree of `size` leaves,
/// or `None` if `index >= size`. Never panics.
pub fn inclusion_proof_len(index: u64, size: u64) -> Option<usize> {
    if index >= size {
        return None;
    }
    let (inner, border) = decompose_inclusion(index, size);
    Some((inner + border) as usize)
}

/// The exact number of hashes in the consistency proof from `from` to `to` leaves, or `None`
/// unless `1 <= from <= to`. Never panics.
pub fn consistency_proof_len(from: u64, to: u64) -> Option<usize> {
    if from == 0 || from > to {
        return None;
    }
    if from == to {
        return Some(0);
    }
    // The proof is the inclusion path, in the new tree, of the old tree's last perfect subtree
    // (level `shift`), plus that subtree's root unless it is the whole old tree.
    let (inner, border) = decompose_inclusion(from - 1, to);
    let shift = from.trailing_zeros();
    let seed = usize::from(!from.is_power_of_two());
    Some(inner.saturating_sub(shift) as usize + border as usize + seed)
}

/// The walk shared by RFC 9162 §2.1.3.2 and §2.1.4.2: hashes `path` into `seed` bottom-up, for
/// the node `fnode` on the level where the last leaf's ancestor is `snode`. Returns the root of
/// the new tree and, when `old` is given, `old` hashed with the left siblings only (the root of
/// the old tree); `None` if the path does not end exactly at the root.
fn walk(
    mut fnode: u64,
    mut snode: u64,
    seed: Hash,
    path: &[Hash],
    mut old: Option<Hash>,
) -> Option<(Hash, Option<Hash>)> {
    let mut r = seed;
    for c in path {
        if snode == 0 {
            return None;
        }
        if fnode & 1 == 1 || fnode == snode {
            r = node_hash(c, &r);
            old = old.map(|o| node_hash(c, &o));
            // On the right edge: skip the levels where this subtree has no right sibling.
            while fnode & 1 == 0 && fnode != 0 {
                fnode >>= 1;
                snode >>= 1;
            }
        } else {
            // Right siblings are not part of the old tree.
            r = node_hash(&r, c);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    (snode == 0).then_some((r, old))
}

/// Checks that `leaf` (a [`leaf_hash`]) is leaf `index` of the tree of `size` leaves with root
/// `root`, following RFC 9162 §2.1.3.2. The proof must have exactly
/// [`inclusion_proof_len`]`(index, size)` elements. Never panics.
///
/// ```
/// use ledgraph::log::merkle::{MemoryTree, inclusion_proof, leaf_hash, root, verify_inclusion};
///
/// let leaves: Vec<_> = (0u8..5).map(|i| leaf_hash(&[i])).collect();
/// let tree = MemoryTree::from_leaves(&leaves);
/// let root = root(&tree, 5)?;
/// let proof = inclusion_proof(&tree, 3, 5)?;
/// assert_eq!(verify_inclusion(&leaves[3], 3, 5, &proof, &root), Ok(()));
/// assert!(verify_inclusion(&leaves[3], 2, 5, &proof, &root).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn verify_inclusion(
    leaf: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), VerifyError> {
    let expected =
        inclusion_proof_len(index, size).ok_or(VerifyError::IndexOutOfRange { index, size })?;
    let actual = proof.len();
    // The length check makes the walk's own end check redundant; both stay, cheaply.
    let walked = (actual == expected)
        .then(|| walk(index, size - 1, *leaf, proof, None))
        .flatten();
    let Some((computed, _)) = walked else {
        return Err(VerifyError::WrongProofLength { expected, actual });
    };
    if computed != *root {
        let expected = *root;
        return Err(VerifyError::RootMismatch { expected, computed });
    }
    Ok(())
}

/// Checks that the tree of `to` leaves with root `to_root` extends the tree of `from` leaves
/// with root `from_root`, following RFC 9162 §2.1.4.2. `from == to` needs an empty proof and
/// equal roots; `from == 0` is rejected (see the module docs). The proof must have exactly
/// [`consistency_proof_len`]`(from, to)` elements. Never panics.
pub fn verify_consistency(
    from: u64,
    to: u64,
    proof: &[Hash],
    from_root: &Hash,
    to_root: &Hash,
) -> Result<(), VerifyError> {
    if from > to {
        return Err(VerifyError::SizeOrder { from, to });
    }
    let expected = consistency_proof_len(from, to).ok_or(VerifyError::ZeroSize)?;
    let actual = proof.len();
    let wrong_length = VerifyError::WrongProofLength { expected, actual };
    if actual != expected {
        return Err(wrong_length);
    }
    let (old, new) = if from == to {
        (*from_root, *from_root)
    } else {
        // A power-of-two old tree is itself a node of the new one, so the proof leaves it out.
        let (seed, path) = if from.is_power_of_two() {
            (from_root, proof)
        } else {
            proof.split_first().ok_or_else(|| wrong_length.clone())?
        };
        // Start from the old tree's last perfect subtree, `trailing_ones` levels up.
        let levels = (from - 1).trailing_ones();
        let (fnode, snode) = ((from - 1) >> levels, (to - 1) >> levels);
        match walk(fnode, snode, *seed, path, Some(*seed)) {
            Some((new, Some(old))) => (old, new),
            _ => return Err(wrong_length),
        }
    };
    if old != *from_root {
        let expected = *from_root;
        return Err(VerifyError::FromRootMismatch {
            expected,
            computed: old,
        });
    }
    if new != *to_root {
        let expected = *to_root;
        return Err(VerifyError::ToRootMismatch {
            expected,
            computed: new,
        });
    }
    Ok(())
}

/// The right edge of a growing tree: the roots of the perfect subtrees covering `[0, size)`,
/// largest first (one per set bit of `size`, so at most 64 hashes). It is all an appender needs
/// to compute the next root and the nodes each new leaf completes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    // Invariant: subtrees.len() == size.count_ones().
    subtrees: Vec<Hash>,
}

impl Frontier {
    /// The frontier of the empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of leaves appended so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Roots of the perfect subtrees covering `[0, size)`, largest (leftmost) first.
    pub fn subtrees(&self) -> &[Hash] {
        &self.subtrees
    }

    /// Rebuilds the frontier of the first `size` leaves from a source holding at least `size`
    /// leaves (reads `popcount(size)` nodes).
    pub fn load<S: NodeSource + ?Sized>(src: &S, size: u64) -> Result<Self, S::Error> {
        let mut subtrees = Vec::with_capacity(size.count_ones() as usize);
        let mut start = 0u64;
        for level in (0..64u32).rev() {
            if (size >> level) & 1 == 1 {
                subtrees.push(src.node(level, start >> level)?);
                start += 1 << level;
            }
        }
        Ok(Self { size, subtrees })
    }

    /// Appends one leaf hash. Calls `on_node(level, index, &hash)` for the leaf (level 0) and
    /// then for every parent it completes, bottom-up: exactly post-order, so the caller can
    /// append them to a post-order node file (see [`postorder_position`]).
    ///
    /// # Panics
    ///
    /// If the tree already holds `u64::MAX` leaves.
    pub fn push(&mut self, leaf: Hash, mut on_node: impl FnMut(u32, u64, &Hash)) {
        let index = self.size;
        let Some(size) = index.checked_add(1) else {
            panic!("Frontier::push: the tree already holds u64::MAX leaves");
        };
        debug_assert_eq!(self.subtrees.len(), index.count_ones() as usize);
        on_node(0, index, &leaf);
        // Each trailing one bit of the old size is a perfect subtree the new leaf completes.
        let completed = index.trailing_ones() as usize;
        let keep = self.subtrees.len().saturating_sub(completed);
        let mut hash = leaf;
        for (below, left) in self.subtrees.drain(keep..).rev().enumerate() {
            hash = node_hash(&left, &hash);
            let level = below as u32 + 1;
            on_node(level, index >> level, &hash);
        }
        self.subtrees.push(hash);
        self.size = size;
    }

    /// The root of the tree of [`size`](Self::size) leaves; [`empty_root`] when empty.
    pub fn root(&self) -> Hash {
        let mut from_right = self.subtrees.iter().rev();
        match from_right.next() {
            Some(last) => from_right.fold(*last, |acc, left| node_hash(left, &acc)),
            None => empty_root(),
        }
    }
}

/// Position of node `(level, index)` in the post-order node sequence (the order in which
/// [`Frontier::push`] completes nodes), or `None` if it does not fit in a `u64`.
///
/// The nodes before it are those of the first `index << level` leaves,
/// `2k - popcount(k)` for `k` leaves, then its own subtree's `2^(level+1) - 1` nodes, itself last.
pub fn checked_postorder_position(level: u32, index: u64) -> Option<u64> {
    if level >= 64 {
        return None;
    }
    // u128 cannot overflow here: first_leaf < 2^127.
    let first_leaf = u128::from(index) << level;
    let before = 2 * first_leaf - u128::from(first_leaf.count_ones());
    u64::try_from(before + (1u128 << (level + 1)) - 2).ok()
}

/// Number of nodes (all levels) stored for a tree of `size` leaves, `2·size - popcount(size)`,
/// or `None` if it does not fit in a `u64`.
pub fn checked_postorder_len(size: u64) -> Option<u64> {
    u64::try_from(2 * u128::from(size) - u128::from(size.count_ones())).ok()
}

/// [`checked_postorder_position`] for positions that fit in a `u64`.
///
/// # Panics
///
/// If the position does not fit in a `u64`, which happens only past leaf 2^63.
pub fn postorder_position(level: u32, index: u64) -> u64 {
    match checked_postorder_position(level, index) {
        Some(position) => position,
        None => panic!("post-order position of node ({level}, {index}) does not fit in a u64"),
    }
}

/// [`checked_postorder_len`] for sizes whose node count fits in a `u64`.
///
/// # Panics
///
/// If `size > 2^63`, where the node count no longer fits in a `u64`.
pub fn postorder_len(size: u64) -> u64 {
    match checked_postorder_len(size) {
        Some(len) => len,
        None => panic!("post-order node count of a tree of {size} leaves does not fit in a u64"),
    }
}

mod memory;
pub use memory::{MemoryTree, Rfc6962Hasher, rs_merkle_root};
