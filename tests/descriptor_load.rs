//! The descriptor loader refuses damaged, truncated, re-signed or wrongly signed files with a
//! typed error and never panics, whatever bytes it gets.

mod common;

use std::path::Path;

use common::Rng;
use ledgraph::descriptor::format::{HEADER_BYTES, SIGNATURE_BYTES};
use ledgraph::descriptor::{AlignedBytes, Descriptor, LoadError};
use ledgraph::keys::NodeKey;

fn demo_bytes() -> Vec<u8> {
    std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("descriptors/demo.lgd"))
        .expect("demo.lgd")
}

fn demo_key() -> NodeKey {
    let text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("descriptors/demo.key"))
            .expect("demo key");
    NodeKey::parse_skey(text.trim()).expect("demo key parses")
}

/// Loads like the fuzz target does: whatever is accepted must also render (every table walked).
fn load(bytes: &[u8]) -> Result<(), LoadError> {
    let aligned = AlignedBytes::copy_from(bytes);
    let d = Descriptor::load(aligned.as_bytes(), None)?;
    let _ = ledgraph::descriptor::inspect::dump(&d);
    Ok(())
}

/// Replaces the signature with a valid one over the (modified) body, so the structural checks
/// behind the signature are exercised too.
fn resign(bytes: &mut [u8], key: &NodeKey) {
    let end = bytes.len() - SIGNATURE_BYTES;
    let sig = key.sign(&bytes[..end]);
    bytes[end..].copy_from_slice(&sig);
}

#[test]
fn demo_descriptor_loads() {
    load(&demo_bytes()).expect("demo.lgd loads");
}

#[test]
fn any_flipped_byte_is_refused_as_bad_signature() {
    let original = demo_bytes();
    let mut rng = Rng::from_env("any_flipped_byte_is_refused_as_bad_signature");
    for _ in 0..300 {
        let mut bytes = original.clone();
        let at = rng.range(0, bytes.len() as u64) as usize;
        bytes[at] ^= 1 << rng.range(0, 8);
        let err = load(&bytes).expect_err("a flipped byte is refused");
        assert!(
            matches!(
                err,
                LoadError::BadSignature
                    | LoadError::BadMagic
                    | LoadError::Version { .. }
                    | LoadError::Corruption(_)
            ),
            "byte {at}: {err:?}"
        );
    }
}

#[test]
fn resigned_random_damage_never_panics() {
    let original = demo_bytes();
    let key = demo_key();
    let mut rng = Rng::from_env("resigned_random_damage_never_panics");
    let body = original.len() - SIGNATURE_BYTES;
    let mut refused = 0;
    for round in 0..2_000 {
        let mut bytes = original.clone();
        for _ in 0..rng.range(1, 4) {
            // Mostly the header and section table, where offsets and lengths live.
            let at = if round % 2 == 0 {
                rng.range(8, (HEADER_BYTES + 12 * 24) as u64)
            } else {
                rng.range(8, body as u64)
            } as usize;
            bytes[at] = rng.next() as u8;
        }
        resign(&mut bytes, &key);
        if load(&bytes).is_err() {
            refused += 1;
        }
    }
    assert!(
        refused > 1_000,
        "only {refused} of 2000 damaged files refused"
    );
}

#[test]
fn truncated_files_are_refused() {
    let bytes = demo_bytes();
    for len in [
        0,
        7,
        8,
        HEADER_BYTES,
        HEADER_BYTES + 64,
        bytes.len() / 2,
        bytes.len() - 1,
    ] {
        assert!(load(&bytes[..len]).is_err(), "{len} bytes accepted");
    }
}

#[test]
fn section_pointing_outside_the_file_is_corruption() {
    let mut bytes = demo_bytes();
    // First section entry's length field (offset 112 + 16).
    bytes[HEADER_BYTES + 16..HEADER_BYTES + 24].copy_from_slice(&u64::MAX.to_le_bytes());
    resign(&mut bytes, &demo_key());
    assert!(matches!(load(&bytes), Err(LoadError::Corruption(_))));
}

#[test]
fn signature_by_another_key_is_refused_when_a_key_is_pinned() {
    let mut bytes = demo_bytes();
    let other = common::node_key();
    // Embed the other key and sign with it: self-consistent, but not the trusted key.
    bytes[80..112].copy_from_slice(&other.public_key());
    resign(&mut bytes, &other);
    let aligned = AlignedBytes::copy_from(&bytes);
    assert!(
        Descriptor::load(aligned.as_bytes(), None).is_ok(),
        "self-consistent file loads unpinned"
    );
    let trusted = demo_key().verifier();
    let err =
        Descriptor::load(aligned.as_bytes(), Some(&trusted)).expect_err("pinned key refuses it");
    assert!(matches!(err, LoadError::WrongKey { .. }), "{err:?}");
}

#[test]
fn body_signed_by_a_key_other_than_the_embedded_one_is_bad_signature() {
    let mut bytes = demo_bytes();
    resign(&mut bytes, &common::node_key());
    assert_eq!(load(&bytes), Err(LoadError::BadSignature));
}

#[test]
fn misaligned_buffer_is_refused_not_misread() {
    let bytes = demo_bytes();
    let mut shifted = AlignedBytes::copy_from(&[&[0u8][..], &bytes].concat());
    let view = &shifted.as_bytes()[1..];
    assert_eq!(
        Descriptor::load(view, None).err(),
        Some(LoadError::Misaligned)
    );
    shifted = AlignedBytes::copy_from(&bytes);
    assert!(Descriptor::load(shifted.as_bytes(), None).is_ok());
}
