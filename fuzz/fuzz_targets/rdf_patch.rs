//! RDF Patch parser: never panics; whatever it accepts has only well-formed changes and
//! survives a print-and-reparse round trip (the form `ledgraph log export` writes).
#![no_main]
use ledgraph::event::Op;
use ledgraph::event::rdf_patch::parse_rdf_patch;
use libfuzzer_sys::fuzz_target;
use oxrdf::GraphName;

fuzz_target!(|data: &[u8]| {
    let Ok(changes) = parse_rdf_patch(data) else {
        return;
    };
    let mut text = String::from("TX .\n");
    for (op, q) in &changes {
        let row = match op {
            Op::Add => "A",
            Op::Remove => "D",
        };
        match &q.graph_name {
            GraphName::DefaultGraph => {
                text.push_str(&format!("{row} {} {} {} .\n", q.subject, q.predicate, q.object))
            }
            g => text.push_str(&format!(
                "{row} {} {} {} {g} .\n",
                q.subject, q.predicate, q.object
            )),
        }
    }
    text.push_str("TC .\n");
    let again = parse_rdf_patch(text.as_bytes()).expect("printed changes reparse");
    assert_eq!(again, changes);
});
