//! Baselines for `benches/kernel` that need the store (ignored by default; JSON lines):
//! `cargo test --test kernel_baselines -- --ignored --nocapture`.
//!
//! - the demo rules as SPARQL CONSTRUCT over Oxigraph (`queries/kernel/ontology-axioms.rq`,
//!   `queries/kernel/demo-rules.rq`) on a sample of rule-triggering events: nanoseconds per
//!   observation (one evaluation of both queries ÷ events);
//! - admission: events per second of rudof validating generated events against the demo shapes
//!   and of the kernel's admission (`kernel::admit::check`: interning, classes from the store,
//!   `step`, regexes) on the same events.
//!
//! Oxigraph and rudof are dependencies, built with `opt-level = 2` in the test profile; this
//! crate's own code is not optimized here, so the kernel figures of this file are conservative
//! (the release bench measures `step` itself).

mod common;

use std::collections::HashSet;
use std::path::Path;
use std::time::Instant;

use ledgraph::event::Op;
use ledgraph::kernel::events::EventGen;
use ledgraph::kernel::{admit, registry};
use ledgraph::shapes::{Shapes, validate_graph};
use oxigraph::sparql::{QueryResults, SparqlEvaluator};
use oxigraph::store::Store;
use oxrdf::vocab::rdf;
use oxrdf::{Graph, NamedNode, Quad, TripleRef};

const AXIOMS: &str = include_str!("../queries/kernel/ontology-axioms.rq");
const RULES: &str = include_str!("../queries/kernel/demo-rules.rq");
const SPARQL_CASES: usize = 20_000;
const ADMISSION_EVENTS: usize = 20_000;
const CHUNK: usize = 1_000;

fn demo() -> registry::Active {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let (ontology, shapes) = (root.join("ontology"), root.join("shapes"));
    let compiled = ledgraph::descriptor::compile_paths(&[&ontology, &shapes], &common::node_key())
        .expect("the demo compiles");
    registry::load(compiled.bytes, Some("demo")).expect("the demo descriptor loads")
}

fn count(store: &Store, query: &str) -> usize {
    match SparqlEvaluator::new()
        .parse_query(query)
        .expect("valid query")
        .on_store(store)
        .execute()
        .expect("query runs")
    {
        QueryResults::Graph(triples) => triples.count(),
        QueryResults::Solutions(rows) => rows.count(),
        QueryResults::Boolean(_) => 1,
    }
}

#[test]
#[ignore = "a measurement: cargo test --test kernel_baselines -- --ignored --nocapture"]
fn sparql_evaluation_of_the_demo_rules() {
    let active = demo();
    let mut generator = EventGen::for_rules(active.view(), 1);
    let quads: Vec<Quad> = (0..SPARQL_CASES)
        .filter_map(|_| generator.case())
        .flat_map(|c| c.quads)
        .collect();
    let store = Store::new().expect("store");
    let ontology = NamedNode::new_unchecked("urn:ledgraph:ontology");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("ontology");
    for entry in std::fs::read_dir(root).expect("ontology dir") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "ttl") {
            let text = std::fs::read_to_string(&path).expect("read");
            for t in oxttl::TurtleParser::new().for_slice(text.as_bytes()) {
                let t = t.expect("valid ontology");
                let q = Quad::new(t.subject, t.predicate, t.object, ontology.clone());
                store.insert(&q).expect("insert");
            }
        }
    }
    store.extend(quads.iter().cloned()).expect("insert events");
    let mut times = Vec::new();
    let mut rows = 0;
    for _ in 0..3 {
        let t0 = Instant::now();
        rows = count(&store, AXIOMS) + count(&store, RULES);
        times.push(t0.elapsed().as_nanos() as f64 / quads.len() as f64);
    }
    times.sort_by(f64::total_cmp);
    println!(
        "{{\"bench\":\"kernel\",\"case\":\"sparql_oxigraph/demo_rules\",\"observations\":{},\"derived\":{rows},\"ns_per_obs\":{:.1}}}",
        quads.len(),
        times[1]
    );
}

#[test]
#[ignore = "a measurement: cargo test --test kernel_baselines -- --ignored --nocapture"]
fn admission_events_per_second_kernel_and_rudof() {
    let active = demo();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let shapes = Shapes::load(&root.join("shapes")).expect("the demo shapes load");
    let mut names = HashSet::new();
    for entry in std::fs::read_dir(root.join("shapes")).expect("shapes dir") {
        let path = entry.expect("entry").path();
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        for t in oxttl::TurtleParser::new()
            .for_slice(text.as_bytes())
            .flatten()
        {
            if t.predicate == rdf::TYPE
                && t.object.to_string() == "<http://www.w3.org/ns/shacl#NodeShape>"
            {
                names.insert(t.subject.to_string());
            }
        }
    }
    let mut generator = EventGen::new(active.view(), 1, |n| names.contains(n));
    let hierarchy = generator.hierarchy();
    let empty = Store::new().expect("store");
    let (mut kernel_s, mut rudof_s, mut events) = (0.0, 0.0, 0usize);
    while events < ADMISSION_EVENTS {
        let changes: Vec<(Op, Quad)> = (0..CHUNK)
            .filter_map(|_| generator.case())
            .flat_map(|c| c.quads)
            .map(|q| (Op::Add, q))
            .collect();
        events += changes.len();
        let t0 = Instant::now();
        let findings = admit::check(&active, &empty, &changes).expect("kernel admission");
        kernel_s += t0.elapsed().as_secs_f64();
        std::hint::black_box(findings);
        let mut graph = Graph::new();
        for q in hierarchy.iter().chain(changes.iter().map(|(_, q)| q)) {
            graph.insert(TripleRef::new(
                q.subject.as_ref(),
                q.predicate.as_ref(),
                q.object.as_ref(),
            ));
        }
        let t0 = Instant::now();
        let report = validate_graph(&shapes, &graph).expect("rudof validates");
        rudof_s += t0.elapsed().as_secs_f64();
        std::hint::black_box(report);
    }
    let (k, r) = (events as f64 / kernel_s, events as f64 / rudof_s);
    println!(
        "{{\"bench\":\"kernel\",\"case\":\"admission/demo_shapes\",\"events\":{events},\"kernel_events_per_s\":{k:.0},\"rudof_events_per_s\":{r:.0},\"ratio\":{:.1},\"target_ratio_min\":100,\"kernel_profile\":\"test (unoptimized ledgraph)\"}}",
        k / r
    );
}
