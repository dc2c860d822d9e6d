//! Publisher input parsers (N-Triples, N-Quads, Turtle, JSON events): never panic.
#![no_main]
use ledgraph::event::input::{parse_json_events, parse_nquads, parse_ntriples, parse_turtle};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = parse_ntriples(data);
    let _ = parse_nquads(data);
    let _ = parse_turtle(data);
    let _ = parse_json_events(data);
});
