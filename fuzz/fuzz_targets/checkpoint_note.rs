//! Signed notes, checkpoints and key strings from untrusted input: never panic.
#![no_main]
use ledgraph::keys::{NodeKey, Verifier};
use ledgraph::log::checkpoint::{Checkpoint, SignedCheckpoint, open_note_bytes};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let key = NodeKey::from_seed("fuzz.local/log", [3u8; 32]).expect("valid key");
    let verifier = key.verifier();
    let _ = open_note_bytes(data, &verifier);
    let _ = SignedCheckpoint::verify_bytes(data, &verifier);
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(cp) = Checkpoint::parse(text) {
            assert_eq!(Checkpoint::parse(&cp.to_text()).ok(), Some(cp), "checkpoint text does not round-trip");
        }
        let _ = Verifier::parse_vkey(text);
        let _ = NodeKey::parse_skey(text);
    }
});
