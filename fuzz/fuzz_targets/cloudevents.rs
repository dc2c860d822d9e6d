//! CloudEvents parsers (one event and batches, every data format): never panic.
#![no_main]
use ledgraph::event::cloudevents::{parse_cloudevent, parse_cloudevents_batch};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = parse_cloudevent(data);
    let _ = parse_cloudevents_batch(data);
});
