//! Differential: the triples the compiled demo descriptor's rules derive equal what the same
//! rules give as SPARQL CONSTRUCT over the store (`queries/kernel/ontology-axioms.rq` and
//! `queries/kernel/demo-rules.rq`, applied until nothing new appears). Seeded events aimed at
//! the rules (`kernel::events::EventGen::for_rules`), `LEDGRAPH_TEST_SEED` replays a run.

mod common;

use std::collections::HashSet;
use std::path::Path;

use ledgraph::descriptor;
use ledgraph::event::Op;
use ledgraph::kernel::events::EventGen;
use ledgraph::kernel::{ActionTemplate, Actions, State, registry, step};
use oxigraph::sparql::{QueryResults, SparqlEvaluator};
use oxigraph::store::Store;
use oxrdf::vocab::rdf;
use oxrdf::{GraphName, GraphNameRef, NamedNode, Quad, Triple};

const AXIOMS: &str = include_str!("../queries/kernel/ontology-axioms.rq");
const RULES: &str = include_str!("../queries/kernel/demo-rules.rq");
const ONTOLOGY_GRAPH: &str = "urn:ledgraph:ontology";
const CASES: usize = 3_000;
/// Rounds of CONSTRUCT before giving up on a fixpoint (the compiler refuses unbounded cycles).
const ROUNDS_MAX: usize = 10;

fn construct(store: &Store, query: &str) -> HashSet<Triple> {
    match SparqlEvaluator::new()
        .parse_query(query)
        .expect("valid query")
        .on_store(store)
        .execute()
        .expect("query runs")
    {
        QueryResults::Graph(triples) => triples.map(|t| t.expect("triple")).collect(),
        _ => panic!("not a CONSTRUCT"),
    }
}

#[test]
fn derived_triples_equal_sparql_construct_to_fixpoint() {
    let seed = common::Rng::from_env("derived_triples_equal_sparql_construct").next();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let compiled = descriptor::compile_paths(
        &[&root.join("ontology"), &root.join("shapes")],
        &common::node_key(),
    )
    .expect("the demo compiles");
    let active = registry::load(compiled.bytes, Some("demo")).expect("the demo descriptor loads");
    let view = active.view();
    let mut generator = EventGen::for_rules(view, seed);
    let quads: Vec<Quad> = (0..CASES)
        .filter_map(|_| generator.case())
        .flat_map(|c| c.quads)
        .collect();

    // Kernel: the whole set as one batch.
    let mut interner = active.interner.fork();
    let batch: Vec<_> = quads
        .iter()
        .map(|q| {
            interner
                .observe(
                    Op::Add,
                    q.subject.as_ref().into(),
                    q.predicate.as_ref().into(),
                    q.object.as_ref(),
                )
                .expect("intern")
        })
        .collect();
    let mut types = State::new(&view);
    types.ensure_nodes(interner.len());
    let mut out = Actions::for_batch(&view, batch.len());
    let receipt = step(&view, &mut types, &batch, &mut out);
    assert_eq!(receipt.dropped, 0);
    let term = |id| interner.term(id).cloned().expect("known id");
    let kernel: HashSet<Triple> = out
        .emitted
        .iter()
        .filter(|e| e.kind == u32::from(ActionTemplate::EMIT))
        .filter_map(|e| {
            let s = match term(e.s) {
                oxrdf::Term::NamedNode(n) => oxrdf::NamedOrBlankNode::NamedNode(n),
                oxrdf::Term::BlankNode(b) => oxrdf::NamedOrBlankNode::BlankNode(b),
                _ => return None,
            };
            let oxrdf::Term::NamedNode(p) = term(e.p) else {
                return None;
            };
            Some(Triple::new(s, p, term(e.o)))
        })
        .collect();

    // SPARQL: ontology in its graph, events in the default graph, CONSTRUCT to a fixpoint.
    let store = Store::new().expect("store");
    let ontology = NamedNode::new_unchecked(ONTOLOGY_GRAPH);
    for entry in std::fs::read_dir(root.join("ontology")).expect("ontology dir") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "ttl") {
            let text = std::fs::read_to_string(&path).expect("read");
            for t in oxttl::TurtleParser::new().for_slice(text.as_bytes()) {
                let t = t.expect("valid ontology");
                store
                    .insert(&Quad::new(
                        t.subject,
                        t.predicate,
                        t.object,
                        ontology.clone(),
                    ))
                    .expect("insert");
            }
        }
    }
    store.extend(quads.iter().cloned()).expect("insert events");
    // Derived classes go to a graph of their own: rules test the classes the data asserts (the
    // kernel's subject-class conditions see asserted classes and their superclasses).
    let derived_types = NamedNode::new_unchecked("urn:test:derived-types");
    let mut sparql = HashSet::new();
    for round in 0.. {
        assert!(round < ROUNDS_MAX, "no fixpoint after {ROUNDS_MAX} rounds");
        let mut new = construct(&store, AXIOMS);
        new.extend(construct(&store, RULES));
        let before = sparql.len();
        for t in &new {
            let graph: GraphName = if t.predicate == rdf::TYPE {
                derived_types.clone().into()
            } else {
                GraphName::DefaultGraph
            };
            store
                .insert(&Quad::new(
                    t.subject.clone(),
                    t.predicate.clone(),
                    t.object.clone(),
                    graph,
                ))
                .expect("insert");
        }
        sparql.extend(new);
        if sparql.len() == before {
            break;
        }
    }
    // Compare what is new (a rule may re-derive an input), with literals in the store's
    // canonical form on both sides.
    let canonical = |triples: &HashSet<Triple>| -> HashSet<Triple> {
        let s = Store::new().expect("store");
        for t in triples {
            s.insert(&Quad::new(
                t.subject.clone(),
                t.predicate.clone(),
                t.object.clone(),
                GraphName::DefaultGraph,
            ))
            .expect("insert");
        }
        s.quads_for_pattern(None, None, None, Some(GraphNameRef::DefaultGraph))
            .map(|q| q.expect("quad"))
            .map(|q| Triple::new(q.subject, q.predicate, q.object))
            .collect()
    };
    let inputs: HashSet<Triple> = canonical(
        &quads
            .iter()
            .map(|q| Triple::new(q.subject.clone(), q.predicate.clone(), q.object.clone()))
            .collect(),
    );
    let kernel: HashSet<Triple> = canonical(&kernel).difference(&inputs).cloned().collect();
    let sparql: HashSet<Triple> = canonical(&sparql).difference(&inputs).cloned().collect();
    let sorted = |set: HashSet<&Triple>| {
        let mut v: Vec<String> = set.into_iter().map(ToString::to_string).collect();
        v.sort();
        v.truncate(10);
        v
    };
    let only_kernel = sorted(kernel.difference(&sparql).collect());
    let only_sparql = sorted(sparql.difference(&kernel).collect());
    eprintln!(
        "{} events, {} derived by the kernel, {} by SPARQL",
        quads.len(),
        kernel.len(),
        sparql.len()
    );
    assert!(kernel.len() > 100, "the cases fire rules");
    let inputs_of = |triples: &[String]| -> Vec<String> {
        let mut out = Vec::new();
        for t in triples.iter().take(4) {
            let node = t.split(' ').next().unwrap_or_default().to_owned();
            out.push(format!("for {t}:"));
            for q in quads
                .iter()
                .filter(|q| q.subject.to_string() == node || q.object.to_string() == node)
            {
                out.push(format!("    {q}"));
            }
        }
        out
    };
    eprintln!(
        "inputs (kernel side):\n{}",
        inputs_of(&only_kernel).join("\n")
    );
    eprintln!(
        "inputs (SPARQL side):\n{}",
        inputs_of(&only_sparql).join("\n")
    );
    assert!(
        only_kernel.is_empty() && only_sparql.is_empty(),
        "seed {seed}: only the kernel: {only_kernel:#?}\nonly SPARQL: {only_sparql:#?}"
    );
}
