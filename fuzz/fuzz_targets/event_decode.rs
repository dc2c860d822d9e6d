//! Canonical event decoding: never panics, and whatever decodes re-encodes to the same bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(event) = ledgraph::event::decode_event(data) {
        let again = event.to_canonical().expect("a decoded event encodes");
        assert_eq!(again, data, "decoding is not canonical");
    }
    let _ = ledgraph::event::encoding::decode_event_trusted(data);
});
