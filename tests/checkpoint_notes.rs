//! Signed checkpoints and node keys, through the public API only:
//! known answers from Go's reference implementation, round trips, tampering
//! (every single-bit flip, every truncation), resource limits, canonical
//! encodings, and the key files of a data directory.

use std::fs;
use std::path::Path;

use ledgraph::keys::{
    self, KeyError, NodeKey, RandomSource, SKEY_FILE, VKEY_FILE, Verifier, create_key_files,
    default_key_name, key_id, load_key, load_or_create_key, load_verifier,
};
use ledgraph::log::checkpoint::{
    Checkpoint, CheckpointError, NOTE_BYTES_MAX, NOTE_SIGNATURES_MAX, NoteError, SignedCheckpoint,
    open_note, open_note_bytes, sign_note,
};
use proptest::prelude::*;

// Known-answer vectors from the reference implementation's tests,
// golang.org/x/mod, file sumdb/note/note_test.go (TestNewVerifier, TestNewSigner,
// TestSign, TestOpen; commit 02c991387e35f9e4c0a9b7ce137717055f8d716d).
const PETER_VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
const PETER_SKEY: &str =
    "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
const ENOCH_VKEY: &str = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop";
const GO_TEXT: &str = "If you think cryptography is the answer to your problem,\n\
                       then you don't know what your problem is.\n";
const PETER_SIG: &str = "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
const ENOCH_SIG: &str = "— EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n";

/// Deterministic "randomness": a counter, so every test run makes the same keys.
struct CountingRng(u8);

impl RandomSource for CountingRng {
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), KeyError> {
        for b in buf {
            *b = self.0;
            self.0 = self.0.wrapping_add(1);
        }
        Ok(())
    }
}

struct BrokenRng;

impl RandomSource for BrokenRng {
    fn fill(&mut self, _: &mut [u8]) -> Result<(), KeyError> {
        Err(KeyError::Random("entropy source unplugged".into()))
    }
}

fn go_note() -> String {
    format!("{GO_TEXT}\n{PETER_SIG}")
}

fn peter() -> Verifier {
    Verifier::parse_vkey(PETER_VKEY).unwrap()
}

const LOG: &str = "example.com/log";

fn log_key() -> NodeKey {
    NodeKey::from_seed(LOG, [7; 32]).unwrap()
}

fn sample_checkpoint() -> Checkpoint {
    Checkpoint {
        origin: LOG.into(),
        size: 1234567,
        root: std::array::from_fn(|i| (i as u8).wrapping_mul(37)),
        extensions: vec!["ext".into()],
    }
}

fn signed_sample() -> SignedCheckpoint {
    SignedCheckpoint::sign(sample_checkpoint(), &log_key()).unwrap()
}

fn root_b64(len: usize) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(vec![0xAB; len])
}

/// Signs an arbitrary text as a note by the log key, to test checkpoint
/// parsing behind a valid signature.
fn sign_text(text: &str) -> Result<SignedCheckpoint, CheckpointError> {
    let key = log_key();
    SignedCheckpoint::verify(&sign_note(text, &key).unwrap(), &key.verifier())
}

// ---- known answers ---------------------------------------------------------

#[test]
fn go_keys_parse_and_reencode() {
    let v = peter();
    assert_eq!(v.name(), "PeterNeumann");
    assert_eq!(v.key_id(), [0xc7, 0x4f, 0x20, 0xa3]);
    assert_eq!(key_id("PeterNeumann", &v.public_key()), v.key_id());
    assert_eq!(v.to_vkey(), PETER_VKEY);
    assert_eq!(v.to_string(), PETER_VKEY);

    let k = NodeKey::parse_skey(PETER_SKEY).unwrap();
    assert_eq!(k.name(), "PeterNeumann");
    assert_eq!(k.public_key(), v.public_key());
    assert_eq!(k.verifier(), v);
    assert_eq!(k.to_skey(), PETER_SKEY);

    let enoch = Verifier::parse_vkey(ENOCH_VKEY).unwrap();
    assert_eq!(enoch.key_id(), [0xaf, 0x0c, 0xfe, 0x78]);
}

#[test]
fn go_note_signs_byte_for_byte_and_opens() {
    let k = NodeKey::parse_skey(PETER_SKEY).unwrap();
    assert_eq!(sign_note(GO_TEXT, &k).unwrap(), go_note());
    assert_eq!(open_note(&go_note(), &peter()).unwrap(), GO_TEXT);
    assert_eq!(
        open_note_bytes(go_note().as_bytes(), &peter()).unwrap(),
        GO_TEXT
    );
}

#[test]
fn go_open_semantics() {
    let enoch = Verifier::parse_vkey(ENOCH_VKEY).unwrap();
    let both = format!("{GO_TEXT}\n{PETER_SIG}{ENOCH_SIG}");
    // Each verifier accepts, ignoring the other's signature.
    assert_eq!(open_note(&both, &peter()).unwrap(), GO_TEXT);
    assert_eq!(open_note(&both, &enoch).unwrap(), GO_TEXT);
    // Neither signature is ours.
    let other = log_key().verifier();
    assert!(matches!(
        open_note(&both, &other),
        Err(NoteError::NoSignature { .. })
    ));
    // Repeated signatures are fine.
    let repeated = format!("{GO_TEXT}\n{PETER_SIG}{PETER_SIG}{ENOCH_SIG}{ENOCH_SIG}");
    assert_eq!(open_note(&repeated, &peter()).unwrap(), GO_TEXT);
    // Invalid signature by the known key (Go inserts "ABCD" at byte 60).
    let bad = format!("{GO_TEXT}\n{}ABCD{}", &PETER_SIG[..60], &PETER_SIG[60..]);
    assert_eq!(
        open_note(&bad, &peter()),
        Err(NoteError::BadSignature {
            key: "PeterNeumann+c74f20a3".into()
        })
    );
    // A corrupted copy of an unknown key's signature is ignored.
    let enoch_abcd = format!("{}ABCD{}", &ENOCH_SIG[..60], &ENOCH_SIG[60..]);
    let mixed = format!("{GO_TEXT}\n{PETER_SIG}{ENOCH_SIG}{enoch_abcd}");
    assert_eq!(open_note(&mixed, &peter()).unwrap(), GO_TEXT);
    // A renamed signature is an unknown key's.
    let misnamed = go_note().replace("PeterNeumann", "CarmenSandiego");
    assert!(matches!(
        open_note(&misnamed, &peter()),
        Err(NoteError::NoSignature { .. })
    ));
    // 101 signature lines are too many, with or without a known key.
    let many = format!("{GO_TEXT}\n{}", PETER_SIG.repeat(101));
    assert_eq!(
        open_note(&many, &peter()),
        Err(NoteError::TooManySignatures { max: 100 })
    );
}

#[test]
fn go_malformed_notes() {
    let bad_msgs = [
        GO_TEXT.to_owned(),
        format!("{GO_TEXT}\n"),
        format!("{GO_TEXT}\n{}", &PETER_SIG[..PETER_SIG.len() - 1]),
        format!("\x01{GO_TEXT}\n{PETER_SIG}"),
        format!(
            "{GO_TEXT}\n— Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM="
        ),
        format!("{GO_TEXT}\n{PETER_SIG}Unexpected line.\n"),
    ];
    for msg in &bad_msgs {
        let err = open_note(msg, &peter()).unwrap_err();
        assert!(matches!(err, NoteError::Malformed { .. }), "{msg:?}: {err}");
    }
    // "\xff" + text: not UTF-8.
    let mut bytes = vec![0xff];
    bytes.extend_from_slice(go_note().as_bytes());
    assert!(matches!(
        open_note_bytes(&bytes, &peter()),
        Err(NoteError::Malformed { line: 1, .. })
    ));
}

#[test]
fn go_key_manglings_rejected() {
    // As TestNewVerifier/TestNewSigner: every proper substring and every
    // single-byte increment must fail to parse.
    for (key, parse) in [
        (
            PETER_VKEY,
            (|s: &str| Verifier::parse_vkey(s).is_ok()) as fn(&str) -> bool,
        ),
        (PETER_SKEY, |s: &str| NodeKey::parse_skey(s).is_ok()),
    ] {
        let b = key.as_bytes();
        for i in 0..=b.len() {
            for j in i + 1..=b.len() {
                if (i, j) != (0, b.len()) {
                    let s = String::from_utf8_lossy(&b[i..j]);
                    assert!(!parse(&s), "accepted substring {s:?}");
                }
            }
        }
        for i in 0..b.len() {
            let mut m = b.to_vec();
            m[i] = m[i].wrapping_add(1);
            let s = String::from_utf8_lossy(&m);
            assert!(!parse(&s), "accepted mangled {s:?}");
        }
    }
    // Wrong key length and unknown algorithm, with adjusted key IDs.
    for bad in [
        "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==",
        "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
    ] {
        assert!(matches!(
            Verifier::parse_vkey(bad),
            Err(KeyError::Malformed { path: None, .. })
        ));
    }
}

// ---- round trips -----------------------------------------------------------

#[test]
fn checkpoint_round_trip_and_deterministic() {
    let key = log_key();
    let cp = sample_checkpoint();
    let signed = SignedCheckpoint::sign(cp.clone(), &key).unwrap();
    assert!(signed.note.starts_with(&cp.to_text()));
    let root = {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(cp.root)
    };
    assert_eq!(
        cp.to_text(),
        format!("example.com/log\n1234567\n{root}\next\n")
    );
    assert!(signed.note.contains("\n\n— example.com/log "));
    let back = SignedCheckpoint::verify(&signed.note, &key.verifier()).unwrap();
    assert_eq!(back, signed);
    assert_eq!(back.checkpoint, cp);
    assert_eq!(Checkpoint::parse(&cp.to_text()).unwrap(), cp);
    // Ed25519 is deterministic: same checkpoint, same note.
    let again = SignedCheckpoint::sign(cp, &key).unwrap();
    assert_eq!(again.note, signed.note);
    // And the same as the generic note signer.
    assert_eq!(
        sign_note(&signed.checkpoint.to_text(), &key).unwrap(),
        signed.note
    );
}

#[test]
fn empty_tree_and_max_size() {
    for size in [0, 1, u64::MAX] {
        let cp = Checkpoint {
            size,
            extensions: vec![],
            ..sample_checkpoint()
        };
        let signed = SignedCheckpoint::sign(cp.clone(), &log_key()).unwrap();
        let back = SignedCheckpoint::verify(&signed.note, &log_key().verifier()).unwrap();
        assert_eq!(back.checkpoint, cp);
    }
}

// ---- tampering -------------------------------------------------------------

#[test]
fn every_single_bit_flip_is_rejected() {
    let signed = signed_sample();
    let v = log_key().verifier();
    let note = signed.note.as_bytes();
    assert!(SignedCheckpoint::verify_bytes(note, &v).is_ok());
    let mut flipped = note.to_vec();
    // Tally the ways flips are caught, to show every part of the note is hit:
    // text (bad signature), key name and ID (no signature), structure and
    // encodings (malformed).
    let (mut bad, mut none, mut malformed) = (0, 0, 0);
    for i in 0..note.len() {
        for bit in 0..8 {
            flipped[i] ^= 1 << bit;
            match SignedCheckpoint::verify_bytes(&flipped, &v) {
                Ok(_) => panic!("flip of bit {bit} of byte {i} accepted"),
                Err(CheckpointError::Note(NoteError::BadSignature { .. })) => bad += 1,
                Err(CheckpointError::Note(NoteError::NoSignature { .. })) => none += 1,
                Err(_) => malformed += 1,
            }
            flipped[i] ^= 1 << bit;
        }
    }
    assert_eq!(bad + none + malformed, note.len() * 8);
    assert!(
        bad > 0 && none > 0 && malformed > 0,
        "{bad} {none} {malformed}"
    );
}

#[test]
fn every_truncation_is_rejected() {
    let signed = signed_sample();
    let v = log_key().verifier();
    let note = signed.note.as_bytes();
    for len in 0..note.len() {
        assert!(
            SignedCheckpoint::verify_bytes(&note[..len], &v).is_err(),
            "truncation to {len} bytes accepted"
        );
    }
    // Trailing bytes after the final newline are a malformed line.
    let extended = format!("{}x", signed.note);
    assert!(SignedCheckpoint::verify(&extended, &v).is_err());
}

#[test]
fn other_keys() {
    let signed = signed_sample();
    // Same name, different key: a different key ID, so an unknown key.
    let impostor = NodeKey::from_seed(LOG, [8; 32]).unwrap();
    assert_eq!(
        SignedCheckpoint::verify(&signed.note, &impostor.verifier()),
        Err(CheckpointError::Note(NoteError::NoSignature {
            key: format!("{LOG}+{}", hex::encode(impostor.key_id()))
        }))
    );
    // Different name.
    let other = NodeKey::from_seed("example.org/other", [7; 32]).unwrap();
    assert!(matches!(
        SignedCheckpoint::verify(&signed.note, &other.verifier()),
        Err(CheckpointError::Note(NoteError::NoSignature { .. }))
    ));
    // The impostor forges our name and key ID: the signature is checked and fails.
    let text = sample_checkpoint().to_text();
    let impostor_note = sign_note(&text, &impostor).unwrap();
    let sig_b64 = impostor_note.rsplit(' ').next().unwrap().trim_end();
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut raw = b64.decode(sig_b64).unwrap();
    raw[..4].copy_from_slice(&log_key().key_id());
    let forged = format!("{text}\n— {LOG} {}\n", b64.encode(&raw));
    assert_eq!(
        SignedCheckpoint::verify(&forged, &log_key().verifier()),
        Err(CheckpointError::Note(NoteError::BadSignature {
            key: format!("{LOG}+{}", hex::encode(log_key().key_id()))
        }))
    );
}

/// A signature line by a key the verifier does not know.
fn foreign_line(text: &str, name: &str) -> String {
    let key = NodeKey::from_seed(name, [9; 32]).unwrap();
    let note = sign_note(text, &key).unwrap();
    note.rsplit_once("\n\n").unwrap().1.to_owned()
}

#[test]
fn unknown_key_signatures_are_accepted() {
    let signed = signed_sample();
    let v = log_key().verifier();
    let text = signed.checkpoint.to_text();
    let cosig = foreign_line(&text, "witness.example/w1");
    // Appended (cosignature) and prepended.
    let appended = format!("{}{cosig}", signed.note);
    let back = SignedCheckpoint::verify(&appended, &v).unwrap();
    assert_eq!(back.checkpoint, signed.checkpoint);
    assert_eq!(back.note, appended, "cosignatures are preserved");
    let ours = signed.note.rsplit_once("\n\n").unwrap().1;
    let prepended = format!("{text}\n{cosig}{ours}");
    assert!(SignedCheckpoint::verify(&prepended, &v).is_ok());
    // An unknown key's signature that does not even verify is still ignored.
    let junk = format!("{}— witness.example/w2 AAAAAAAA\n", signed.note);
    assert!(SignedCheckpoint::verify(&junk, &v).is_ok());
    // ... but only signatures by unknown keys: a different invalid signature
    // by our key after a valid one rejects the note.
    let ours_again = format!("— {LOG} {}\n", {
        use base64::Engine as _;
        let mut raw = vec![0u8; 68];
        raw[..4].copy_from_slice(&log_key().key_id());
        base64::engine::general_purpose::STANDARD.encode(raw)
    });
    let doubled = format!("{}{ours_again}", signed.note);
    assert!(matches!(
        SignedCheckpoint::verify(&doubled, &v),
        Err(CheckpointError::Note(NoteError::BadSignature { .. }))
    ));
}

#[test]
fn signature_line_limit() {
    let signed = signed_sample();
    let v = log_key().verifier();
    let text = signed.checkpoint.to_text();
    let ours = signed.note.rsplit_once("\n\n").unwrap().1;
    let cosig = foreign_line(&text, "witness.example/w1");
    let at_limit = format!("{text}\n{}{ours}", cosig.repeat(NOTE_SIGNATURES_MAX - 1));
    assert!(SignedCheckpoint::verify(&at_limit, &v).is_ok());
    let over = format!("{text}\n{}{ours}", cosig.repeat(NOTE_SIGNATURES_MAX));
    assert_eq!(
        SignedCheckpoint::verify(&over, &v),
        Err(CheckpointError::Note(NoteError::TooManySignatures {
            max: NOTE_SIGNATURES_MAX
        }))
    );
    // Counted before any line is parsed: 101 garbage lines are "too many",
    // not "malformed".
    let garbage = format!("{text}\n{}", "garbage\n".repeat(NOTE_SIGNATURES_MAX + 1));
    assert!(matches!(
        SignedCheckpoint::verify(&garbage, &v),
        Err(CheckpointError::Note(NoteError::TooManySignatures { .. }))
    ));
}

#[test]
fn size_limit() {
    let v = log_key().verifier();
    let key = log_key();
    // A valid note just over the limit, and garbage that is not even UTF-8:
    // both refused on size alone.
    let big_ext = "x".repeat(NOTE_BYTES_MAX);
    let cp = Checkpoint {
        extensions: vec![big_ext.clone()],
        ..sample_checkpoint()
    };
    assert!(matches!(
        SignedCheckpoint::sign(cp, &key),
        Err(CheckpointError::Note(NoteError::TooLarge { .. }))
    ));
    let text = format!("{}{big_ext}\n", sample_checkpoint().to_text());
    assert!(matches!(
        sign_note(&text, &key),
        Err(NoteError::TooLarge { .. })
    ));
    let note = format!("{text}\n{}", foreign_line("x\n", LOG));
    assert_eq!(
        SignedCheckpoint::verify(&note, &v),
        Err(CheckpointError::Note(NoteError::TooLarge {
            bytes: note.len(),
            max: NOTE_BYTES_MAX
        }))
    );
    let garbage = vec![0xffu8; NOTE_BYTES_MAX + 1];
    assert!(matches!(
        SignedCheckpoint::verify_bytes(&garbage, &v),
        Err(CheckpointError::Note(NoteError::TooLarge { .. }))
    ));
    // Under the limit, a large extension is fine.
    let cp = Checkpoint {
        extensions: vec!["y".repeat(NOTE_BYTES_MAX / 2)],
        ..sample_checkpoint()
    };
    let signed = SignedCheckpoint::sign(cp, &key).unwrap();
    assert!(SignedCheckpoint::verify(&signed.note, &v).is_ok());
}

// ---- canonical encodings ---------------------------------------------------

#[test]
fn non_canonical_sizes_rejected() {
    let root = root_b64(32);
    for size in [
        "01",
        "00",
        "+1",
        "-1",
        " 1",
        "1 ",
        "",
        "1_000",
        "0x10",
        "1e3",
        "\u{0661}",
        "18446744073709551616",
        "99999999999999999999999",
    ] {
        let res = sign_text(&format!("{LOG}\n{size}\n{root}\n"));
        assert!(
            matches!(res, Err(CheckpointError::Malformed { line: 2, .. })),
            "size {size:?}: {res:?}"
        );
    }
    for (size, value) in [("0", 0), ("10", 10), ("18446744073709551615", u64::MAX)] {
        let cp = sign_text(&format!("{LOG}\n{size}\n{root}\n")).unwrap();
        assert_eq!(cp.checkpoint.size, value);
    }
}

#[test]
fn bad_roots_rejected() {
    let url_safe = {
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD.encode([0xfb; 32]);
        assert!(b64.contains('+') && b64.contains('/'));
        b64.replace('+', "-").replace('/', "_")
    };
    let padded_bits = {
        // Same bytes, but nonzero unused bits in the last character.
        let mut r = root_b64(32).into_bytes();
        r[42] = b't';
        String::from_utf8(r).unwrap()
    };
    assert_ne!(padded_bits, root_b64(32));
    for root in [
        root_b64(31),
        root_b64(33),
        root_b64(0),
        root_b64(32).trim_end_matches('=').to_owned(),
        format!("{}=", root_b64(32)),
        url_safe,
        padded_bits,
        hex::encode([0xAB; 32]),
    ] {
        let res = sign_text(&format!("{LOG}\n5\n{root}\n"));
        assert!(
            matches!(res, Err(CheckpointError::Malformed { line: 3, .. })),
            "root {root:?}: {res:?}"
        );
    }
}

#[test]
fn malformed_checkpoint_texts() {
    let root = root_b64(32);
    for (text, line) in [
        (format!("{LOG}\n"), 2),
        (format!("{LOG}\n5\n"), 3),
        (format!("{LOG}\n5\n{root}\n\n"), 4),
        (format!("{LOG}\n5\n{root}\next\n\nmore\n"), 5),
        (format!("\n5\n{root}\n"), 1),
    ] {
        let res = sign_text(&text);
        assert!(
            matches!(res, Err(CheckpointError::Malformed { line: l, .. }) if l == line),
            "{text:?}: {res:?}"
        );
    }
    assert!(matches!(
        Checkpoint::parse(&format!("{LOG}\n5\n{root}")),
        Err(CheckpointError::Malformed { line: 3, .. })
    ));
    assert!(Checkpoint::parse("").is_err());
    // The origin must be the verifier's name.
    assert_eq!(
        sign_text(&format!("example.com/other\n5\n{root}\n")),
        Err(CheckpointError::WrongOrigin {
            expected: LOG.into(),
            found: "example.com/other".into()
        })
    );
}

#[test]
fn signing_refuses_what_verification_would_reject() {
    let key = log_key();
    for cp in [
        Checkpoint {
            origin: "example.com/other".into(),
            ..sample_checkpoint()
        },
        Checkpoint {
            origin: String::new(),
            ..sample_checkpoint()
        },
    ] {
        assert!(SignedCheckpoint::sign(cp, &key).is_err());
    }
    for ext in ["", "a\nb", "tab\there"] {
        let cp = Checkpoint {
            extensions: vec![ext.into()],
            ..sample_checkpoint()
        };
        assert!(matches!(
            SignedCheckpoint::sign(cp, &key),
            Err(CheckpointError::Malformed { line: 4, .. })
        ));
    }
    for text in ["", "no newline", "bell\x07\n"] {
        assert!(matches!(
            sign_note(text, &key),
            Err(NoteError::Malformed { .. })
        ));
    }
}

// ---- keys and key files ----------------------------------------------------

#[test]
fn key_names_and_generation() {
    for bad in ["", "a b", "a+b", "a\u{a0}b", "a\u{3000}b", "a\nb", "a\x01b"] {
        assert!(matches!(
            NodeKey::from_seed(bad, [1; 32]),
            Err(KeyError::InvalidName(_))
        ));
    }
    let a = NodeKey::generate("n", &mut CountingRng(0)).unwrap();
    let b = NodeKey::generate("n", &mut CountingRng(0)).unwrap();
    assert_eq!(a.to_skey(), b.to_skey());
    let c = NodeKey::generate("n", &mut CountingRng(1)).unwrap();
    assert_ne!(a.public_key(), c.public_key());
    assert!(matches!(
        NodeKey::generate("n", &mut BrokenRng),
        Err(KeyError::Random(_))
    ));
    let pk = a.public_key();
    let name = default_key_name(&pk);
    assert_eq!(name.len(), "ledgraph.local/".len() + 16);
    assert!(name.starts_with("ledgraph.local/"));
    assert!(keys::is_valid_key_name(&name));
    // Signatures verify with the verifier, and only for the signed message.
    let sig = a.sign(b"msg");
    assert!(a.verifier().verify(b"msg", &sig));
    assert!(!a.verifier().verify(b"msh", &sig));
    assert!(!c.verifier().verify(b"msg", &sig));
}

#[test]
fn debug_hides_the_secret() {
    let key = NodeKey::parse_skey(PETER_SKEY).unwrap();
    let debug = format!("{key:?}");
    assert!(debug.contains("PeterNeumann"));
    let secret_b64 = PETER_SKEY.rsplit('+').next().unwrap();
    assert!(!debug.contains(secret_b64), "{debug}");
    assert!(!debug.contains("AYEKFALV"), "{debug}");
    assert!(!debug.contains("PRIVATE"), "{debug}");
}

#[test]
fn key_files_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let key =
        create_key_files(&data, Some("example.com/node"), &mut CountingRng(3), false).unwrap();
    assert_eq!(key.name(), "example.com/node");
    assert_eq!(
        fs::read_to_string(data.join(SKEY_FILE)).unwrap(),
        format!("{}\n", key.to_skey())
    );
    assert_eq!(
        fs::read_to_string(data.join(VKEY_FILE)).unwrap(),
        format!("{}\n", key.verifier().to_vkey())
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(data.join(SKEY_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    assert!(!data.join("node.key.tmp").exists());
    let loaded = load_key(&data).unwrap();
    assert_eq!(loaded.to_skey(), key.to_skey());
    assert_eq!(load_verifier(&data).unwrap(), key.verifier());
    // node.vkey is optional for signing.
    fs::remove_file(data.join(VKEY_FILE)).unwrap();
    assert_eq!(load_key(&data).unwrap().to_skey(), key.to_skey());
    // CRLF line endings from an editor are tolerated.
    fs::write(data.join(SKEY_FILE), format!("{}\r\n", key.to_skey())).unwrap();
    assert_eq!(load_key(&data).unwrap().to_skey(), key.to_skey());
}

#[test]
fn key_files_default_name_and_load_or_create() {
    let dir = tempfile::tempdir().unwrap();
    let (key, created) = load_or_create_key(dir.path(), &mut CountingRng(5)).unwrap();
    assert!(created);
    assert_eq!(key.name(), default_key_name(&key.public_key()));
    let (again, created) = load_or_create_key(dir.path(), &mut BrokenRng).unwrap();
    assert!(!created);
    assert_eq!(again.to_skey(), key.to_skey());
    // A public key without its private half is not silently replaced.
    fs::remove_file(dir.path().join(SKEY_FILE)).unwrap();
    assert!(matches!(
        load_or_create_key(dir.path(), &mut CountingRng(6)),
        Err(KeyError::Missing { path }) if path == dir.path().join(SKEY_FILE)
    ));
    // A failing random source creates nothing.
    let empty = tempfile::tempdir().unwrap();
    assert!(matches!(
        load_or_create_key(empty.path(), &mut BrokenRng),
        Err(KeyError::Random(_))
    ));
    assert!(!empty.path().join(SKEY_FILE).exists());
}

#[test]
fn key_files_refuse_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let first = create_key_files(dir.path(), None, &mut CountingRng(0), false).unwrap();
    let err = create_key_files(dir.path(), None, &mut CountingRng(1), false).unwrap_err();
    assert!(
        matches!(&err, KeyError::AlreadyExists { path } if path == &dir.path().join(SKEY_FILE)),
        "{err}"
    );
    assert!(err.to_string().contains(SKEY_FILE));
    assert_eq!(load_key(dir.path()).unwrap().to_skey(), first.to_skey());
    // A lone node.vkey also blocks creation.
    fs::remove_file(dir.path().join(SKEY_FILE)).unwrap();
    assert!(matches!(
        create_key_files(dir.path(), None, &mut CountingRng(1), false),
        Err(KeyError::AlreadyExists { path }) if path == dir.path().join(VKEY_FILE)
    ));
    // With overwrite, both files are replaced consistently.
    let second = create_key_files(dir.path(), None, &mut CountingRng(1), true).unwrap();
    assert_ne!(second.public_key(), first.public_key());
    assert_eq!(load_key(dir.path()).unwrap().to_skey(), second.to_skey());
    assert_eq!(load_verifier(dir.path()).unwrap(), second.verifier());
}

#[test]
fn key_files_mismatch_detected() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    create_key_files(a.path(), Some("n"), &mut CountingRng(0), false).unwrap();
    create_key_files(b.path(), Some("n"), &mut CountingRng(1), false).unwrap();
    fs::copy(b.path().join(VKEY_FILE), a.path().join(VKEY_FILE)).unwrap();
    let err = load_key(a.path()).unwrap_err();
    match &err {
        KeyError::Mismatch {
            skey_path,
            vkey_path,
        } => {
            assert_eq!(skey_path, &a.path().join(SKEY_FILE));
            assert_eq!(vkey_path, &a.path().join(VKEY_FILE));
        }
        other => panic!("expected Mismatch, got {other:?}"),
    }
    let msg = err.to_string();
    assert!(msg.contains(SKEY_FILE) && msg.contains(VKEY_FILE), "{msg}");
}

#[test]
fn key_files_missing() {
    let dir = tempfile::tempdir().unwrap();
    let err = load_key(dir.path()).unwrap_err();
    assert!(matches!(&err, KeyError::Missing { path } if path == &dir.path().join(SKEY_FILE)));
    assert!(
        err.to_string()
            .contains(&*dir.path().join(SKEY_FILE).to_string_lossy())
    );
    assert!(matches!(
        load_verifier(dir.path()),
        Err(KeyError::Missing { path }) if path == dir.path().join(VKEY_FILE)
    ));
}

fn assert_malformed(res: Result<impl std::fmt::Debug, KeyError>, file: &Path, needle: &str) {
    match res {
        Err(err @ KeyError::Malformed { .. }) => {
            let KeyError::Malformed { path, reason } = &err else {
                unreachable!()
            };
            assert_eq!(path.as_deref(), Some(file));
            assert!(
                reason.contains(needle),
                "reason {reason:?} lacks {needle:?}"
            );
            assert!(err.to_string().contains(&*file.to_string_lossy()));
        }
        other => panic!("expected Malformed for {}, got {other:?}", file.display()),
    }
}

#[test]
fn key_files_malformed() {
    let dir = tempfile::tempdir().unwrap();
    let key = create_key_files(dir.path(), Some("n"), &mut CountingRng(0), false).unwrap();
    let skey_path = dir.path().join(SKEY_FILE);
    let vkey_path = dir.path().join(VKEY_FILE);

    fs::write(&skey_path, "hello\n").unwrap();
    assert_malformed(load_key(dir.path()), &skey_path, "PRIVATE+KEY+");
    // The vkey in place of the skey.
    fs::write(&skey_path, key.verifier().to_vkey()).unwrap();
    assert_malformed(load_key(dir.path()), &skey_path, "PRIVATE+KEY+");
    // An altered key ID.
    let skey = key.to_skey();
    let wrong_id = skey.replace(&hex::encode(key.key_id()), "00000000");
    fs::write(&skey_path, &wrong_id).unwrap();
    assert_malformed(load_key(dir.path()), &skey_path, "key ID");
    // Truncated key material.
    fs::write(&skey_path, &skey[..skey.len() - 4]).unwrap();
    assert_malformed(load_key(dir.path()), &skey_path, "expected 32");
    fs::write(&skey_path, format!("{}!", &skey[..skey.len() - 1])).unwrap();
    assert_malformed(load_key(dir.path()), &skey_path, "base64");
    // Not UTF-8, and far too big.
    fs::write(&skey_path, [0xff, 0xfe]).unwrap();
    assert_malformed(load_key(dir.path()), &skey_path, "UTF-8");
    fs::write(&skey_path, vec![b'A'; 1 << 20]).unwrap();
    assert_malformed(load_key(dir.path()), &skey_path, "too large");
    // An invalid name is reported against the file too.
    fs::write(&skey_path, skey.replacen("+n+", "+a b+", 1)).unwrap();
    assert_malformed(load_key(dir.path()), &skey_path, "invalid key name");

    // A broken node.vkey is reported as such, by both loaders.
    fs::write(&skey_path, format!("{skey}\n")).unwrap();
    fs::write(&vkey_path, "n+zzzzzzzz+AAAA\n").unwrap();
    assert_malformed(load_key(dir.path()), &vkey_path, "hexadecimal");
    assert_malformed(load_verifier(dir.path()), &vkey_path, "hexadecimal");
}

// ---- properties ------------------------------------------------------------

fn arb_checkpoint() -> impl Strategy<Value = Checkpoint> {
    (
        any::<u64>(),
        any::<[u8; 32]>(),
        prop::collection::vec("[^\\x00-\\x1f]{1,20}", 0..3),
    )
        .prop_map(|(size, root, extensions)| Checkpoint {
            origin: LOG.into(),
            size,
            root,
            extensions,
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn prop_round_trip(cp in arb_checkpoint()) {
        let key = log_key();
        let signed = SignedCheckpoint::sign(cp.clone(), &key).unwrap();
        let back = SignedCheckpoint::verify(&signed.note, &key.verifier()).unwrap();
        prop_assert_eq!(back.checkpoint, cp);
    }

    #[test]
    fn prop_byte_substitution_rejected(pos in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let signed = signed_sample();
        let mut note = signed.note.into_bytes();
        let i = pos.index(note.len());
        prop_assume!(note[i] != byte);
        note[i] = byte;
        prop_assert!(SignedCheckpoint::verify_bytes(&note, &log_key().verifier()).is_err());
    }

    #[test]
    fn prop_arbitrary_input_never_panics(s in "(?s).{0,300}") {
        let _ = open_note(&s, &peter());
        let _ = Checkpoint::parse(&s);
        let _ = Verifier::parse_vkey(&s);
        let _ = NodeKey::parse_skey(&s);
    }

    #[test]
    fn prop_structured_input_never_panics(
        lines in prop::collection::vec("(— )?[a-zA-Z0-9+/=. ]{0,100}", 0..8),
    ) {
        let note = lines.join("\n") + "\n";
        let _ = SignedCheckpoint::verify(&note, &peter());
        let with_sig = format!("{note}\n{PETER_SIG}");
        let _ = SignedCheckpoint::verify(&with_sig, &peter());
    }
}
