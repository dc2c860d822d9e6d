//! Differential: the compiled descriptor's admission guards and rudof agree on every generated
//! event, for the SHACL constraints the compiler lowers (datatype, numeric bounds, lengths,
//! `sh:in`, `sh:hasValue`, node kind, class, pattern). Seeded (`LEDGRAPH_TEST_SEED`), 100,000
//! events by default (`LEDGRAPH_TEST_KERNEL_EVENTS`), in chunks of 1,000 validated together.
//!
//! A case's verdict on each side: does any lowered constraint of a shape (not the compiler's
//! own axioms such as datatype ranges) fail with the case's subject as focus node.

mod common;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::Path;

use ledgraph::descriptor;
use ledgraph::event::Op;
use ledgraph::kernel::events::{EventGen, case_index};
use ledgraph::kernel::{admit, registry};
use ledgraph::shapes::{Shapes, validate_graph};
use oxrdf::vocab::rdf;
use oxrdf::{Graph, NamedOrBlankNode, Quad, Term, TripleRef};

const CHUNK: usize = 1_000;
const SH: &str = "http://www.w3.org/ns/shacl#";
/// The constraint components the compiler lowers to kernel guards.
const LOWERED: [&str; 12] = [
    "DatatypeConstraintComponent",
    "MinInclusiveConstraintComponent",
    "MinExclusiveConstraintComponent",
    "MaxInclusiveConstraintComponent",
    "MaxExclusiveConstraintComponent",
    "MinLengthConstraintComponent",
    "MaxLengthConstraintComponent",
    "InConstraintComponent",
    "HasValueConstraintComponent",
    "NodeKindConstraintComponent",
    "ClassConstraintComponent",
    "PatternConstraintComponent",
];

/// Node shapes of the shapes directory, in N-Triples syntax (what guards are named after).
fn node_shapes(dir: &Path) -> HashSet<String> {
    let mut out = HashSet::new();
    for entry in std::fs::read_dir(dir).expect("shapes dir") {
        let path = entry.expect("entry").path();
        if path.extension().is_none_or(|e| e != "ttl") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("read shapes");
        for t in oxttl::TurtleParser::new().for_slice(text.as_bytes()) {
            let t = t.expect("valid shapes");
            if t.predicate == rdf::TYPE && t.object.to_string() == format!("<{SH}NodeShape>") {
                out.insert(t.subject.to_string());
            }
        }
    }
    out
}

#[test]
fn kernel_admission_agrees_with_rudof_on_generated_events() {
    let events: usize = std::env::var("LEDGRAPH_TEST_KERNEL_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let seed = common::Rng::from_env("kernel_admission_agrees_with_rudof").next();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let compiled = descriptor::compile_paths(
        &[&root.join("ontology"), &root.join("shapes")],
        &common::node_key(),
    )
    .expect("the demo compiles");
    let active = registry::load(compiled.bytes, Some("demo")).expect("the demo descriptor loads");
    let shapes = Shapes::load(&root.join("shapes")).expect("the demo shapes load");
    let names = node_shapes(&root.join("shapes"));
    let store = oxigraph::store::Store::new().expect("in-memory store");
    let mut generator = EventGen::new(active.view(), seed, |name| names.contains(name));
    assert!(
        !generator.is_empty(),
        "the demo descriptor has shape guards"
    );
    let hierarchy = generator.hierarchy();
    let (mut disagreements, mut flagged, mut total) = (Vec::new(), 0usize, 0usize);
    while total < events {
        let cases: Vec<_> = (0..CHUNK.min(events - total))
            .filter_map(|_| generator.case())
            .collect();
        total += cases.len();
        let changes: Vec<(Op, Quad)> = cases
            .iter()
            .flat_map(|c| c.quads.iter().cloned().map(|q| (Op::Add, q)))
            .collect();
        let kernel: BTreeSet<u64> = admit::check(&active, &store, &changes)
            .expect("kernel admission")
            .iter()
            .filter(|f| {
                f.source
                    .as_ref()
                    .is_some_and(|s| names.contains(&s.to_string()))
            })
            .filter_map(|f| case_index(&changes[f.event].1.subject))
            .collect();
        let mut graph = Graph::new();
        for q in hierarchy.iter().chain(changes.iter().map(|(_, q)| q)) {
            graph.insert(TripleRef::new(
                q.subject.as_ref(),
                q.predicate.as_ref(),
                q.object.as_ref(),
            ));
        }
        let report = validate_graph(&shapes, &graph).expect("rudof validates");
        // The guarded predicate of each case (its last triple).
        let predicates: HashMap<u64, String> = cases
            .iter()
            .filter_map(|c| {
                let k = case_index(&NamedOrBlankNode::NamedNode(c.subject.clone()))?;
                Some((k, c.quads.last()?.predicate.as_str().to_owned()))
            })
            .collect();
        let rudof: BTreeSet<u64> = report
            .findings
            .iter()
            .filter_map(|f| {
                let c = Term::from(f.result.constraint_component().clone()).to_string();
                if !LOWERED.iter().any(|l| c == format!("<{SH}{l}>")) {
                    return None;
                }
                let k = match Term::from(f.result.focus_node().clone()) {
                    Term::NamedNode(n) => case_index(&NamedOrBlankNode::NamedNode(n))?,
                    _ => return None,
                };
                // sh:hasValue is lowered as "each value is v" (with sh:maxCount 1); a node
                // with no value on the path at all is a cardinality matter left to rudof.
                let path = f.result.path().map(|p| p.to_string());
                let on_case_path = path
                    .as_deref()
                    .map(|p| p.trim_matches(['<', '>']))
                    .is_some_and(|p| predicates.get(&k).is_some_and(|q| q == p));
                let has_value = c == format!("<{SH}HasValueConstraintComponent>");
                (!has_value || on_case_path).then_some(k)
            })
            .collect();
        flagged += rudof.len();
        for case in &cases {
            let Some(k) = case_index(&NamedOrBlankNode::NamedNode(case.subject.clone())) else {
                continue;
            };
            if kernel.contains(&k) != rudof.contains(&k) {
                let why: Vec<String> = report
                    .findings
                    .iter()
                    .filter(|f| {
                        Term::from(f.result.focus_node().clone())
                            == Term::NamedNode(case.subject.clone())
                    })
                    .map(|f| format!("{}", Term::from(f.result.constraint_component().clone())))
                    .collect();
                disagreements.push(format!(
                    "case {k}: kernel rejects {}, rudof {} {why:?}\n  {}",
                    kernel.contains(&k),
                    rudof.contains(&k),
                    case.quads
                        .iter()
                        .map(|q| format!("{q} ."))
                        .collect::<Vec<_>>()
                        .join("\n  ")
                ));
            }
        }
    }
    eprintln!(
        "{total} events, {flagged} refused by rudof on lowered constraints, {} disagreements",
        disagreements.len()
    );
    assert!(
        flagged > total / 10 && flagged < total * 9 / 10,
        "cases exercise both verdicts: {flagged}/{total}"
    );
    assert!(
        disagreements.is_empty(),
        "{} disagreements (seed {seed}), first ones:\n{}",
        disagreements.len(),
        disagreements
            .iter()
            .take(10)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}
