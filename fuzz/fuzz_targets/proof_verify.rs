//! Proof verification on attacker-chosen sizes, indices and hashes: never panics.
#![no_main]
use ledgraph::log::merkle::{Hash, verify_consistency, verify_inclusion};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 16 + 64 {
        return;
    }
    let a = u64::from_le_bytes(data[..8].try_into().expect("8 bytes"));
    let b = u64::from_le_bytes(data[8..16].try_into().expect("8 bytes"));
    let r1: Hash = data[16..48].try_into().expect("32 bytes");
    let r2: Hash = data[48..80].try_into().expect("32 bytes");
    let proof: Vec<Hash> = data[80..].chunks_exact(32).map(|c| c.try_into().expect("32 bytes")).collect();
    let _ = verify_inclusion(&r1, a, b, &proof, &r2);
    let _ = verify_consistency(a, b, &proof, &r1, &r2);
});
