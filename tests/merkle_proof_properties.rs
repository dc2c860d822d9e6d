//! Properties of `ledgraph::log::merkle` proofs: every proof of every tree up to 256 leaves
//! verifies, every corruption of one is rejected, and verification never panics.
//!
//! Exhaustive where cheap (all sizes up to 256, every bit of every proof up to 64 leaves),
//! sampled with proptest elsewhere. Failing proptest cases are shrunk and printed, and their
//! seeds saved under `proptest-regressions/` so they are replayed first on the next run.
//! `PROPTEST_CASES=N` overrides every test's default number of cases.

use std::sync::LazyLock;

use ledgraph::log::merkle::{
    Frontier, HASH_BYTES, Hash, MemoryTree, NodeSource, RangeError, VerifyError,
    checked_postorder_len, checked_postorder_position, consistency_proof, consistency_proof_len,
    empty_root, inclusion_proof, inclusion_proof_len, leaf_hash, node_hash, postorder_len,
    postorder_position, root, rs_merkle_root, subtree_root, verify_consistency, verify_inclusion,
};
use proptest::prelude::*;

/// Largest tree checked exhaustively.
const MAX: u64 = 256;
/// Largest tree whose proofs get every single bit flipped.
const FLIP_ALL_MAX: u64 = 64;

struct Fixture {
    leaves: Vec<Hash>,
    tree: MemoryTree,
    /// roots[n] is the root of the first n leaves.
    roots: Vec<Hash>,
}

static FIXTURE: LazyLock<Fixture> = LazyLock::new(|| {
    let leaves: Vec<Hash> = (0..MAX).map(|i| leaf_hash(&i.to_le_bytes())).collect();
    let tree = MemoryTree::from_leaves(&leaves);
    let roots = (0..=MAX).map(|n| root(&tree, n).expect("root")).collect();
    Fixture {
        leaves,
        tree,
        roots,
    }
});

fn leaf(index: u64) -> Hash {
    FIXTURE.leaves[index as usize]
}

fn root_of(size: u64) -> Hash {
    FIXTURE.roots[size as usize]
}

fn incl(index: u64, size: u64) -> Vec<Hash> {
    inclusion_proof(&FIXTURE.tree, index, size).expect("inclusion proof")
}

fn cons(from: u64, to: u64) -> Vec<Hash> {
    consistency_proof(&FIXTURE.tree, from, to).expect("consistency proof")
}

/// Verifies a proof for fixture leaf `index` against the fixture root of `size`.
fn check_incl(index: u64, size: u64, proof: &[Hash]) -> Result<(), VerifyError> {
    verify_inclusion(&leaf(index), index, size, proof, &root_of(size))
}

/// Verifies a proof between the fixture roots of `from` and `to`.
fn check_cons(from: u64, to: u64, proof: &[Hash]) -> Result<(), VerifyError> {
    verify_consistency(from, to, proof, &root_of(from), &root_of(to))
}

fn all_inclusions(max: u64) -> impl Iterator<Item = (u64, u64)> {
    (1..=max).flat_map(|size| (0..size).map(move |index| (index, size)))
}

fn all_consistencies(max: u64) -> impl Iterator<Item = (u64, u64)> {
    (1..=max).flat_map(|to| (1..=to).map(move |from| (from, to)))
}

/// Calls `rejected` with every single-bit corruption of `proof`, in place.
fn for_each_bit_flip(proof: &mut [Hash], mut rejected: impl FnMut(&[Hash], usize, usize)) {
    for element in 0..proof.len() {
        for bit in 0..HASH_BYTES * 8 {
            proof[element][bit / 8] ^= 1 << (bit % 8);
            rejected(proof, element, bit);
            proof[element][bit / 8] ^= 1 << (bit % 8);
        }
    }
}

/// The proof with one element inserted at the start, the middle and the end.
fn with_insertions(proof: &[Hash], extra: Hash) -> Vec<Vec<Hash>> {
    [0, proof.len() / 2, proof.len()]
        .into_iter()
        .map(|at| {
            let mut p = proof.to_vec();
            p.insert(at, extra);
            p
        })
        .collect()
}

fn wrong_length(expected: usize, actual: usize) -> Result<(), VerifyError> {
    Err(VerifyError::WrongProofLength { expected, actual })
}

/// Which side of the running hash a proof element goes on.
#[derive(Debug, PartialEq, Eq)]
enum Side {
    Left,
    Right,
}

/// Largest power of two below `n` (n >= 2), spelled out independently of the module.
fn split(n: u64) -> u64 {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

/// All a verifier can learn about `(index, size)` from a proof: the side of each element,
/// bottom-up, read off the RFC 9162 PATH recursion (not the verifier). Proofs do not bind
/// sizes (signed checkpoints do), so claims with the same shape are indistinguishable.
fn inclusion_shape(index: u64, size: u64) -> Option<Vec<Side>> {
    if index >= size {
        return None;
    }
    let (mut start, mut end, mut sides) = (0, size, Vec::new());
    while end - start > 1 {
        let mid = start + split(end - start);
        if index < mid {
            sides.push(Side::Right);
            end = mid;
        } else {
            sides.push(Side::Left);
            start = mid;
        }
    }
    sides.reverse();
    Some(sides)
}

/// The same for `(from, to)` from the SUBPROOF recursion, plus whether the old root is the
/// seed (true) or the proof's first element is.
fn consistency_shape(from: u64, to: u64) -> Option<(Vec<Side>, bool)> {
    if from == 0 || from > to {
        return None;
    }
    let (mut start, mut end, mut whole, mut sides) = (0, to, true, Vec::new());
    while from != end {
        let mid = start + split(end - start);
        if from <= mid {
            sides.push(Side::Right);
            end = mid;
        } else {
            sides.push(Side::Left);
            start = mid;
            whole = false;
        }
    }
    sides.reverse();
    Some((sides, whole))
}

/// Proptest config with `default` cases unless `PROPTEST_CASES` says otherwise.
fn cases(default: u32) -> ProptestConfig {
    let mut config = ProptestConfig::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = default;
    }
    config
}

// ---- Completeness -------------------------------------------------------------------------

#[test]
fn every_inclusion_proof_up_to_256_leaves_verifies() {
    for (index, size) in all_inclusions(MAX) {
        let proof = incl(index, size);
        assert_eq!(
            Some(proof.len()),
            inclusion_proof_len(index, size),
            "{index} in {size}"
        );
        assert_eq!(check_incl(index, size, &proof), Ok(()), "{index} in {size}");
    }
}

#[test]
fn every_consistency_proof_up_to_256_leaves_verifies() {
    for (from, to) in all_consistencies(MAX) {
        let proof = cons(from, to);
        assert_eq!(
            Some(proof.len()),
            consistency_proof_len(from, to),
            "{from} to {to}"
        );
        assert_eq!(check_cons(from, to, &proof), Ok(()), "{from} to {to}");
    }
}

#[test]
fn frontier_memory_tree_and_rs_merkle_agree_on_every_root() {
    let mut frontier = Frontier::new();
    for size in 0..=MAX {
        if size > 0 {
            frontier.push(leaf(size - 1), |_, _, _| {});
        }
        let expected = root_of(size);
        assert_eq!(frontier.size(), size);
        assert_eq!(
            frontier.subtrees().len(),
            size.count_ones() as usize,
            "size {size}"
        );
        assert_eq!(frontier.root(), expected, "Frontier root of {size}");
        assert_eq!(
            rs_merkle_root(&FIXTURE.leaves[..size as usize]),
            expected,
            "rs_merkle {size}"
        );
        assert_eq!(
            Frontier::load(&FIXTURE.tree, size),
            Ok(frontier.clone()),
            "load {size}"
        );
    }
}

#[test]
fn frontier_push_reports_nodes_in_exact_postorder() {
    let mut frontier = Frontier::new();
    let mut seen: Vec<(u32, u64, Hash)> = Vec::new();
    for i in 0..MAX {
        frontier.push(leaf(i), |level, index, hash| {
            seen.push((level, index, *hash))
        });
        assert_eq!(seen.len() as u64, postorder_len(i + 1), "after leaf {i}");
    }
    for (position, (level, index, hash)) in seen.iter().enumerate() {
        assert_eq!(
            postorder_position(*level, *index),
            position as u64,
            "node ({level}, {index})"
        );
        assert_eq!(
            FIXTURE.tree.node(*level, *index),
            Ok(*hash),
            "node ({level}, {index})"
        );
    }
}

#[test]
fn postorder_layout_matches_small_tree_and_refuses_overflow() {
    // Leaves 0..4: l0 l1 n(1,0) l2 l3 n(1,1) n(2,0) l4
    let expected = [
        (0, 0),
        (0, 1),
        (1, 0),
        (0, 2),
        (0, 3),
        (1, 1),
        (2, 0),
        (0, 4),
    ];
    for (position, (level, index)) in expected.into_iter().enumerate() {
        assert_eq!(postorder_position(level, index), position as u64);
    }
    assert_eq!(postorder_len(0), 0);
    assert_eq!(postorder_len(5), 8);
    assert_eq!(checked_postorder_len(1 << 62), Some((1 << 63) - 1));
    assert_eq!(checked_postorder_len(u64::MAX), None);
    assert_eq!(checked_postorder_position(64, 0), None);
    assert_eq!(checked_postorder_position(0, u64::MAX), None);
    assert_eq!(checked_postorder_position(63, 0), Some(u64::MAX - 1));
    assert_eq!(checked_postorder_position(63, 1), None);
}

#[test]
fn memory_tree_pushes_match_from_leaves() {
    let mut tree = MemoryTree::new();
    for i in 0..MAX {
        tree.push(leaf(i));
    }
    assert_eq!(tree, FIXTURE.tree);
    assert_eq!(tree.size(), MAX);
    assert_eq!(tree.leaves(), &FIXTURE.leaves[..]);
}

// ---- Requests the tree cannot answer ------------------------------------------------------

#[test]
fn proof_requests_outside_the_tree_are_range_errors() {
    let tree = MemoryTree::from_leaves(&FIXTURE.leaves[..5]);
    assert_eq!(
        inclusion_proof(&tree, 5, 5),
        Err(RangeError::LeafOutOfRange { index: 5, size: 5 })
    );
    assert_eq!(
        inclusion_proof(&tree, 0, 0),
        Err(RangeError::LeafOutOfRange { index: 0, size: 0 })
    );
    assert_eq!(
        inclusion_proof(&tree, u64::MAX, u64::MAX),
        Err(RangeError::LeafOutOfRange {
            index: u64::MAX,
            size: u64::MAX
        })
    );
    // The requested size is larger than what is stored, even on the right edge.
    assert!(matches!(
        inclusion_proof(&tree, 5, 6),
        Err(RangeError::NodeNotStored { .. })
    ));
    assert!(matches!(
        inclusion_proof(&tree, 0, u64::MAX),
        Err(RangeError::NodeNotStored { .. })
    ));
    assert!(matches!(
        consistency_proof(&tree, 6, 6),
        Err(RangeError::NodeNotStored { .. })
    ));
    assert!(matches!(
        consistency_proof(&tree, 2, 9),
        Err(RangeError::NodeNotStored { .. })
    ));
    assert!(matches!(
        root(&tree, 6),
        Err(RangeError::NodeNotStored { .. })
    ));
    assert!(matches!(
        Frontier::load(&tree, 6),
        Err(RangeError::NodeNotStored { .. })
    ));
    assert_eq!(
        consistency_proof(&tree, 3, 2),
        Err(RangeError::SizeOrder { from: 3, to: 2 })
    );
    assert_eq!(
        subtree_root(&tree, 3, 3),
        Err(RangeError::EmptyRange { start: 3, end: 3 })
    );
    assert_eq!(
        subtree_root(&tree, 4, 3),
        Err(RangeError::EmptyRange { start: 4, end: 3 })
    );
    assert_eq!(
        subtree_root(&tree, 1, 3),
        Err(RangeError::UnalignedRange { start: 1, end: 3 })
    );
    assert_eq!(
        subtree_root(&tree, 2, 7),
        Err(RangeError::UnalignedRange { start: 2, end: 7 })
    );
    assert_eq!(subtree_root(&tree, 4, 5), tree.node(0, 4));
    let (n11, l4) = (
        tree.node(1, 1).expect("stored"),
        tree.node(0, 4).expect("stored"),
    );
    assert_eq!(subtree_root(&tree, 2, 5), Ok(node_hash(&n11, &l4)));
}

#[test]
fn consistency_from_the_empty_tree_is_refused() {
    let empty = empty_root();
    assert_eq!(
        consistency_proof(&FIXTURE.tree, 0, 5),
        Err(RangeError::ZeroSize)
    );
    assert_eq!(
        consistency_proof(&FIXTURE.tree, 0, 0),
        Err(RangeError::ZeroSize)
    );
    assert_eq!(
        verify_consistency(0, 5, &[], &empty, &root_of(5)),
        Err(VerifyError::ZeroSize)
    );
    assert_eq!(
        verify_consistency(0, 0, &[], &empty, &empty),
        Err(VerifyError::ZeroSize)
    );
    assert_eq!(
        verify_consistency(1, 0, &[], &empty, &empty),
        Err(VerifyError::SizeOrder { from: 1, to: 0 })
    );
}

#[test]
fn consistency_between_equal_sizes_needs_equal_roots_and_no_proof() {
    assert_eq!(
        verify_consistency(7, 7, &[], &root_of(7), &root_of(7)),
        Ok(())
    );
    assert_eq!(
        verify_consistency(7, 7, &[], &root_of(7), &root_of(6)),
        Err(VerifyError::ToRootMismatch {
            expected: root_of(6),
            computed: root_of(7)
        })
    );
    assert_eq!(
        verify_consistency(7, 7, &[root_of(7)], &root_of(7), &root_of(7)),
        wrong_length(0, 1)
    );
}

// ---- Corrupted inclusion proofs -----------------------------------------------------------

#[test]
fn inclusion_proof_for_neighbouring_index_is_rejected() {
    for (index, size) in all_inclusions(MAX) {
        let proof = incl(index, size);
        for wrong in [index.wrapping_sub(1), index + 1] {
            assert_ne!(inclusion_shape(wrong, size), inclusion_shape(index, size));
            let result = verify_inclusion(&leaf(index), wrong, size, &proof, &root_of(size));
            assert!(result.is_err(), "leaf {index} claimed at {wrong} in {size}");
        }
    }
}

#[test]
fn inclusion_proof_for_doubled_or_halved_size_is_rejected() {
    for (index, size) in all_inclusions(MAX) {
        let proof = incl(index, size);
        for wrong in [size * 2, size / 2] {
            let result = verify_inclusion(&leaf(index), index, wrong, &proof, &root_of(size));
            if inclusion_shape(index, wrong) == inclusion_shape(index, size) {
                assert_eq!(
                    result,
                    Ok(()),
                    "{index} in {size} is also a proof for size {wrong}"
                );
            } else {
                assert!(
                    result.is_err(),
                    "{index} in {size} claimed for size {wrong}"
                );
            }
        }
    }
}

#[test]
fn inclusion_proof_against_wrong_root_is_rejected() {
    for (index, size) in all_inclusions(MAX) {
        let proof = incl(index, size);
        let mut flipped = root_of(size);
        flipped[index as usize % HASH_BYTES] ^= 0x80;
        for wrong in [
            root_of(size - 1),
            root_of((size + 1).min(MAX)),
            flipped,
            empty_root(),
        ] {
            if wrong != root_of(size) {
                assert!(matches!(
                    verify_inclusion(&leaf(index), index, size, &proof, &wrong),
                    Err(VerifyError::RootMismatch { .. })
                ));
            }
        }
    }
}

#[test]
fn inclusion_proof_with_flipped_bit_is_rejected() {
    for (index, size) in all_inclusions(FLIP_ALL_MAX) {
        let mut proof = incl(index, size);
        for_each_bit_flip(&mut proof, |p, element, bit| {
            assert!(
                check_incl(index, size, p).is_err(),
                "{index} in {size}: [{element}] bit {bit}"
            );
        });
    }
}

#[test]
fn inclusion_proof_with_flipped_leaf_bit_is_rejected() {
    for (index, size) in all_inclusions(FLIP_ALL_MAX) {
        let proof = incl(index, size);
        let mut leaf = [leaf(index)];
        for_each_bit_flip(&mut leaf, |l, _, bit| {
            let result = verify_inclusion(&l[0], index, size, &proof, &root_of(size));
            assert!(result.is_err(), "{index} in {size}: leaf bit {bit}");
        });
    }
}

#[test]
fn inclusion_proof_with_element_removed_is_rejected() {
    for (index, size) in all_inclusions(MAX) {
        let proof = incl(index, size);
        for at in 0..proof.len() {
            let mut p = proof.clone();
            p.remove(at);
            assert_eq!(
                check_incl(index, size, &p),
                wrong_length(proof.len(), p.len())
            );
        }
    }
}

#[test]
fn inclusion_proof_with_element_added_is_rejected() {
    for (index, size) in all_inclusions(MAX) {
        let proof = incl(index, size);
        for extra in [
            leaf(index),
            root_of(size),
            proof.first().copied().unwrap_or([0; 32]),
        ] {
            for p in with_insertions(&proof, extra) {
                assert_eq!(
                    check_incl(index, size, &p),
                    wrong_length(proof.len(), p.len())
                );
            }
        }
    }
}

// ---- Corrupted consistency proofs ---------------------------------------------------------

/// A consistency proof for `(from, to)` offered for other sizes: rejected, unless the other
/// sizes have the same proof shape, where no verifier could tell (sizes come from checkpoints).
fn assert_rejected_unless_same_shape(from: u64, to: u64, wf: u64, wt: u64, proof: &[Hash]) {
    let result = verify_consistency(wf, wt, proof, &root_of(from), &root_of(to));
    if consistency_shape(wf, wt) == consistency_shape(from, to) {
        assert_eq!(
            result,
            Ok(()),
            "{from} to {to} is also a proof for {wf} to {wt}"
        );
    } else {
        assert!(result.is_err(), "{from} to {to} claimed for {wf} to {wt}");
    }
}

#[test]
fn consistency_proof_for_neighbouring_sizes_is_rejected_unless_indistinguishable() {
    for (from, to) in all_consistencies(MAX) {
        let proof = cons(from, to);
        for (wrong_from, wrong_to) in [
            (from - 1, to),
            (from + 1, to),
            (from, to - 1),
            (from, to + 1),
        ] {
            assert_rejected_unless_same_shape(from, to, wrong_from, wrong_to, &proof);
        }
    }
}

#[test]
fn consistency_proof_for_doubled_or_halved_size_is_rejected() {
    for (from, to) in all_consistencies(MAX) {
        let proof = cons(from, to);
        let (f, t) = (root_of(from), root_of(to));
        for (wrong_from, wrong_to) in [
            (from * 2, to),
            (from / 2, to),
            (from, to * 2),
            (from, to / 2),
        ] {
            if (wrong_from, wrong_to) != (from, to) {
                let result = verify_consistency(wrong_from, wrong_to, &proof, &f, &t);
                assert!(
                    result.is_err(),
                    "{from} to {to} claimed for {wrong_from} to {wrong_to}"
                );
            }
        }
    }
}

/// Doubling both sizes adds one level under every node of the proof and changes nothing a
/// verifier sees: sizes are bound by signed checkpoints, not by consistency proofs.
#[test]
fn consistency_proof_also_verifies_for_both_sizes_doubled() {
    for (from, to) in all_consistencies(MAX) {
        let proof = cons(from, to);
        assert_eq!(
            consistency_shape(from * 2, to * 2),
            consistency_shape(from, to)
        );
        let result = verify_consistency(from * 2, to * 2, &proof, &root_of(from), &root_of(to));
        assert_eq!(result, Ok(()), "{from} to {to}");
    }
}

#[test]
fn consistency_proof_against_wrong_roots_is_rejected() {
    for (from, to) in all_consistencies(MAX) {
        let proof = cons(from, to);
        let (f, t) = (root_of(from), root_of(to));
        let mut flipped_f = f;
        flipped_f[from as usize % HASH_BYTES] ^= 1;
        let mut flipped_t = t;
        flipped_t[to as usize % HASH_BYTES] ^= 1;
        for (wf, wt) in [
            (flipped_f, t),
            (f, flipped_t),
            (root_of(from - 1), t),
            (f, root_of(to - 1)),
        ] {
            if (wf, wt) != (f, t) {
                assert!(
                    verify_consistency(from, to, &proof, &wf, &wt).is_err(),
                    "{from} to {to}"
                );
            }
        }
    }
}

#[test]
fn consistency_proof_with_flipped_bit_is_rejected() {
    for (from, to) in all_consistencies(FLIP_ALL_MAX) {
        let mut proof = cons(from, to);
        for_each_bit_flip(&mut proof, |p, element, bit| {
            assert!(
                check_cons(from, to, p).is_err(),
                "{from} to {to}: [{element}] bit {bit}"
            );
        });
    }
}

#[test]
fn consistency_proof_with_element_removed_is_rejected() {
    for (from, to) in all_consistencies(MAX) {
        let proof = cons(from, to);
        for at in 0..proof.len() {
            let mut p = proof.clone();
            p.remove(at);
            assert_eq!(check_cons(from, to, &p), wrong_length(proof.len(), p.len()));
        }
    }
}

#[test]
fn consistency_proof_with_element_added_is_rejected() {
    for (from, to) in all_consistencies(MAX) {
        let proof = cons(from, to);
        for extra in [
            root_of(from),
            root_of(to),
            proof.first().copied().unwrap_or([0; 32]),
        ] {
            for p in with_insertions(&proof, extra) {
                assert_eq!(check_cons(from, to, &p), wrong_length(proof.len(), p.len()));
            }
        }
    }
}

// ---- Sampled corruptions and large trees --------------------------------------------------

fn inclusion_case(min: u64) -> impl Strategy<Value = (u64, u64)> {
    (min..=MAX).prop_flat_map(|size| (0..size, Just(size)))
}

fn consistency_case(min: u64) -> impl Strategy<Value = (u64, u64)> {
    (min..=MAX).prop_flat_map(|to| (1..=to, Just(to)))
}

/// A consistent NodeSource for a tree of `size` identical leaves: level `l` is always the root
/// of 2^l copies of the leaf, so trees up to `u64::MAX` leaves cost 64 hashes.
struct UniformTree {
    size: u64,
    perfect: Vec<Hash>,
}

impl UniformTree {
    fn new(size: u64) -> Self {
        let mut perfect = vec![leaf_hash(b"uniform")];
        for level in 1..64 {
            let below = perfect[level - 1];
            perfect.push(node_hash(&below, &below));
        }
        Self { size, perfect }
    }
}

impl NodeSource for UniformTree {
    type Error = RangeError;

    fn node(&self, level: u32, index: u64) -> Result<Hash, RangeError> {
        if level < 64 && (u128::from(index) + 1) << level <= u128::from(self.size) {
            Ok(self.perfect[level as usize])
        } else {
            Err(RangeError::NodeNotStored {
                level,
                index,
                size: self.size,
            })
        }
    }
}

/// Sizes spread over the whole u64 range, with the edges well represented.
fn any_size() -> impl Strategy<Value = u64> {
    prop_oneof![
        Just(0u64),
        Just(1u64),
        Just(u64::MAX),
        0u64..300,
        any::<u64>(),
        (u64::MAX - 300)..=u64::MAX,
        (0u32..64).prop_map(|bit| 1u64 << bit),
        (1u32..64).prop_map(|bit| (1u64 << bit) - 1),
        (0u32..64).prop_map(|bit| (1u64 << bit) + 1),
    ]
}

fn any_proof() -> impl Strategy<Value = Vec<Hash>> {
    prop::collection::vec(any::<[u8; 32]>(), 0..70)
}

/// The proof cycled or truncated to `len` elements, so verification reaches the hashing loop.
fn resized(proof: &[Hash], len: usize) -> Vec<Hash> {
    let filler = proof.iter().copied().chain(std::iter::repeat([7; 32]));
    filler.cycle().take(len).collect()
}

proptest! {
    #![proptest_config(cases(512))]

    #[test]
    fn inclusion_proof_with_flipped_bit_in_larger_tree_is_rejected(
        (index, size) in inclusion_case(FLIP_ALL_MAX + 1),
        element in any::<prop::sample::Index>(),
        bit in 0..HASH_BYTES * 8,
    ) {
        let mut proof = incl(index, size);
        let element = element.index(proof.len());
        proof[element][bit / 8] ^= 1 << (bit % 8);
        prop_assert!(check_incl(index, size, &proof).is_err());
    }

    #[test]
    fn consistency_proof_with_flipped_bit_in_larger_tree_is_rejected(
        (from, to) in consistency_case(FLIP_ALL_MAX + 1),
        element in any::<prop::sample::Index>(),
        bit in 0..HASH_BYTES * 8,
    ) {
        let mut proof = cons(from, to);
        prop_assume!(!proof.is_empty());
        let element = element.index(proof.len());
        proof[element][bit / 8] ^= 1 << (bit % 8);
        prop_assert!(check_cons(from, to, &proof).is_err());
    }

    #[test]
    fn inclusion_proof_with_garbage_appended_is_rejected(
        (index, size) in inclusion_case(1),
        garbage in any::<[u8; 32]>(),
    ) {
        let mut proof = incl(index, size);
        proof.push(garbage);
        prop_assert_eq!(check_incl(index, size, &proof), wrong_length(proof.len() - 1, proof.len()));
    }

    #[test]
    fn consistency_proof_with_garbage_appended_is_rejected(
        (from, to) in consistency_case(1),
        garbage in any::<[u8; 32]>(),
    ) {
        let mut proof = cons(from, to);
        proof.push(garbage);
        prop_assert_eq!(check_cons(from, to, &proof), wrong_length(proof.len() - 1, proof.len()));
    }

    #[test]
    fn verification_never_panics_on_arbitrary_input(
        a in any_size(),
        b in any_size(),
        proof in any_proof(),
        leaf in any::<[u8; 32]>(),
        roots in any::<([u8; 32], [u8; 32])>(),
    ) {
        // Results do not matter here, only that every path returns.
        let _ = verify_inclusion(&leaf, a, b, &proof, &roots.0);
        let _ = verify_consistency(a, b, &proof, &roots.0, &roots.1);
        if let Some(len) = inclusion_proof_len(a, b) {
            prop_assert!(len <= 128);
            let exact = resized(&proof, len);
            let _ = verify_inclusion(&leaf, a, b, &exact, &roots.0);
        }
        if let Some(len) = consistency_proof_len(a, b) {
            prop_assert!(len <= 129);
            let exact = resized(&proof, len);
            let _ = verify_consistency(a, b, &exact, &roots.0, &roots.1);
        }
    }
}

proptest! {
    #![proptest_config(cases(128))]

    #[test]
    fn proofs_in_huge_trees_verify_and_reject_flipped_bits(
        size in any_size().prop_filter("non-empty", |s| *s > 0),
        pick in any::<(u64, u64)>(),
        bit in 0..HASH_BYTES * 8,
    ) {
        let tree = UniformTree::new(size);
        let index = pick.0 % size;
        let from = pick.1 % size + 1;
        let to_root = root(&tree, size)?;

        let mut proof = inclusion_proof(&tree, index, size)?;
        prop_assert_eq!(Some(proof.len()), inclusion_proof_len(index, size));
        prop_assert_eq!(verify_inclusion(&tree.perfect[0], index, size, &proof, &to_root), Ok(()));
        if let Some(first) = proof.first_mut() {
            first[bit / 8] ^= 1 << (bit % 8);
            prop_assert!(verify_inclusion(&tree.perfect[0], index, size, &proof, &to_root).is_err());
        }

        let from_root = root(&tree, from)?;
        let mut proof = consistency_proof(&tree, from, size)?;
        prop_assert_eq!(Some(proof.len()), consistency_proof_len(from, size));
        prop_assert_eq!(verify_consistency(from, size, &proof, &from_root, &to_root), Ok(()));
        if let Some(last) = proof.last_mut() {
            last[bit / 8] ^= 1 << (bit % 8);
            prop_assert!(verify_consistency(from, size, &proof, &from_root, &to_root).is_err());
        }
    }
}

proptest! {
    #![proptest_config(cases(32))]

    #[test]
    fn rs_merkle_matches_rfc6962_for_larger_sizes(size in 257usize..4096) {
        let leaves: Vec<Hash> = (0..size as u64).map(|i| leaf_hash(&i.to_be_bytes())).collect();
        let tree = MemoryTree::from_leaves(&leaves);
        prop_assert_eq!(rs_merkle_root(&leaves), root(&tree, size as u64)?);
    }
}
