//! Time travel: a query on `AsOfDataset` at log size N gives exactly the results of the same
//! query on a store replayed to N (`replay --to N`), for random logs, random N and queries of
//! every shape; and `asOf` refuses what names no state of the log.
//!
//! The regular run checks at least 200 (N, query) cases; `LEDGRAPH_LONG_TESTS=1` checks more.

mod common;

use std::path::Path;
use std::sync::Arc;

use common::{Rng, node_key, open};
use ledgraph::event::hlc::ManualClock;
use ledgraph::event::{ActorKey, Batch, Op};
use ledgraph::log::{Log, LogConfig};
use ledgraph::store::as_of::{AsOfDataset, AsOfError, AsOfLimits, AsOfSpec, resolve};
use ledgraph::store::projection::catch_up;
use ledgraph::store::replay::{ReplayOptions, replay_from};
use ledgraph::store::{GraphStore, ProjectionConfig};
use oxigraph::sparql::{QueryResults, SparqlEvaluator};
use oxrdf::vocab::xsd;
use oxrdf::{GraphName, Literal, NamedNode, Quad, Term};

const EX: &str = "https://example.org/";
const SUBJECTS: u64 = 6;
const PREDICATES: u64 = 3;
const GRAPHS: u64 = 2;
/// The same graph name a store's cursors live in: events naming it are skipped by the state.
const RESERVED: &str = "urn:ledgraph:meta";

fn iri(kind: &str, i: u64) -> NamedNode {
    NamedNode::new_unchecked(format!("{EX}{kind}{i}"))
}

/// Objects: a subject (so patterns chain) or a small integer (so FILTER compares), sometimes
/// written in a non-canonical form Oxigraph stores as the same value (`"01"^^xsd:integer`,
/// `"1"^^xsd:int`), so adds and removes must match by value as the store does.
fn object(rng: &mut Rng) -> Term {
    let n = rng.range(0, 4);
    match rng.range(0, 6) {
        0..=2 => iri("s", rng.range(0, SUBJECTS)).into(),
        3 => Literal::new_typed_literal(format!("0{n}"), xsd::INTEGER).into(),
        4 => Literal::new_typed_literal(n.to_string(), xsd::INT).into(),
        _ => Literal::from(n as i64).into(),
    }
}

fn random_quad(rng: &mut Rng) -> Quad {
    let graph = match rng.range(0, 10) {
        0..=5 => GraphName::DefaultGraph,
        6..=8 => iri("g", rng.range(0, GRAPHS)).into(),
        _ => NamedNode::new_unchecked(RESERVED).into(),
    };
    Quad::new(
        iri("s", rng.range(0, SUBJECTS)),
        iri("p", rng.range(0, PREDICATES)),
        object(rng),
        graph,
    )
}

/// A history where quads are added, removed and re-added, some in named graphs, some in a
/// reserved graph (which the state never shows).
fn random_history(log: &Log, clock: &ManualClock, rng: &mut Rng, transactions: u64) {
    let actor = ActorKey(node_key().public_key());
    let mut added: Vec<Quad> = Vec::new();
    for t in 0..transactions {
        clock.set(1_700_000_000_000 + t * 10);
        let changes = (0..rng.range(1, 7))
            .map(|_| {
                if !added.is_empty() && rng.range(0, 5) < 2 {
                    let q = added[rng.range(0, added.len() as u64) as usize].clone();
                    (Op::Remove, q)
                } else {
                    let q = random_quad(rng);
                    added.push(q.clone());
                    let op = if rng.range(0, 8) == 0 {
                        Op::Remove
                    } else {
                        Op::Add
                    };
                    (op, q)
                }
            })
            .collect();
        log.append(Batch::unsigned(actor, changes)).unwrap();
    }
}

/// The sizes that end a transaction, 0 included.
fn boundaries(log: &Log) -> Vec<u64> {
    let mut out = vec![0];
    for seq in 0..log.size() {
        if log.ends_transaction(seq).unwrap() {
            out.push(seq + 1);
        }
    }
    out
}

fn queries(rng: &mut Rng) -> Vec<String> {
    let s = iri("s", rng.range(0, SUBJECTS));
    let s2 = iri("s", rng.range(0, SUBJECTS));
    let p = iri("p", rng.range(0, PREDICATES));
    let p2 = iri("p", rng.range(0, PREDICATES));
    let o = object(rng);
    let g = iri("g", rng.range(0, GRAPHS));
    vec![
        format!("SELECT ?p ?o WHERE {{ {s} ?p ?o }}"),
        format!("SELECT ?s WHERE {{ ?s {p} {o} }}"),
        format!("SELECT ?s ?o WHERE {{ ?s {p} ?o }}"),
        "SELECT ?s ?p ?o WHERE { ?s ?p ?o }".to_owned(),
        format!("SELECT ?s ?p WHERE {{ ?s ?p {s2} }}"),
        format!("SELECT ?s ?o ?x WHERE {{ ?s {p} ?o OPTIONAL {{ ?o {p2} ?x }} }}"),
        "SELECT ?s ?v WHERE { ?s ?p ?v FILTER(isLiteral(?v) && ?v > 1) }".to_owned(),
        "SELECT ?p (COUNT(*) AS ?n) WHERE { ?s ?p ?o } GROUP BY ?p".to_owned(),
        "SELECT ?g ?s ?p ?o WHERE { GRAPH ?g { ?s ?p ?o } FILTER(!STRSTARTS(STR(?g), \"urn:ledgraph:\")) }".to_owned(),
        format!("SELECT ?g ?p ?o WHERE {{ GRAPH ?g {{ {s} ?p ?o }} }}"),
        "SELECT ?g WHERE { GRAPH ?g { } FILTER(!STRSTARTS(STR(?g), \"urn:ledgraph:\")) }"
            .to_owned(),
        format!("SELECT ?s ?p ?o WHERE {{ GRAPH {g} {{ ?s ?p ?o }} }}"),
        format!("ASK {{ {s} {p} {o} }}"),
        format!("CONSTRUCT {{ ?s {p} ?o }} WHERE {{ ?s {p} ?o }}"),
        format!("SELECT (COUNT(DISTINCT ?s) AS ?n) WHERE {{ GRAPH ?g {{ ?s {p} ?o }} }}"),
        format!("DESCRIBE {s}"),
        format!("SELECT ?s ?p ?o FROM {g} WHERE {{ ?s ?p ?o }}"),
        format!("SELECT ?g ?s ?o FROM NAMED {g} WHERE {{ GRAPH ?g {{ ?s {p} ?o }} }}"),
    ]
}

/// Results in a form that compares as a multiset: sorted rows of N-Triples terms.
fn canonical(results: QueryResults<'_>) -> Vec<String> {
    let mut rows = match results {
        QueryResults::Boolean(b) => vec![b.to_string()],
        QueryResults::Solutions(solutions) => {
            let variables = solutions.variables().to_vec();
            solutions
                .map(|s| {
                    let s = s.unwrap();
                    variables
                        .iter()
                        .map(|v| s.get(v).map(ToString::to_string).unwrap_or_default())
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .collect()
        }
        QueryResults::Graph(triples) => triples.map(|t| t.unwrap().to_string()).collect(),
    };
    rows.sort();
    rows
}

fn on_store(store: &GraphStore, query: &str) -> Vec<String> {
    let results = SparqlEvaluator::new()
        .parse_query(query)
        .unwrap()
        .on_store(store.oxigraph())
        .execute()
        .unwrap();
    canonical(results)
}

fn as_of(store: &GraphStore, log: &Log, size: u64, query: &str) -> Vec<String> {
    let past = AsOfDataset::new(store, log.reader().clone(), size, &AsOfLimits::default())
        .unwrap_or_else(|e| panic!("asOf {size}: {e}"));
    let results = SparqlEvaluator::new()
        .parse_query(query)
        .unwrap()
        .on_queryable_dataset(past)
        .execute()
        .unwrap_or_else(|e| panic!("asOf {size}: {query}: {e}"));
    canonical(results)
}

fn replayed_to(log: &Log, dir: &Path, size: u64) -> GraphStore {
    let into = dir.join(format!("replay-{size}"));
    if !into.exists() {
        let options = ReplayOptions {
            to: Some(size),
            event_graph: false,
        };
        replay_from(log, &into, options, &|_, _| {}).unwrap();
    }
    GraphStore::open(&into).unwrap()
}

fn long_run() -> bool {
    std::env::var("LEDGRAPH_LONG_TESTS").is_ok_and(|v| v == "1")
}

#[test]
fn as_of_n_equals_a_store_replayed_to_n() {
    let mut rng = Rng::from_env("as_of_n_equals_a_store_replayed_to_n");
    let (transactions, sizes) = if long_run() { (400, 120) } else { (60, 15) };
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(1_700_000_000_000));
    let (log, _) = common::open_with_clock(dir.path(), LogConfig::default(), clock.clone());
    random_history(&log, &clock, &mut rng, transactions);
    let ends = boundaries(&log);

    // One store with the whole event graph, one whose event graph stops half way (the rest
    // of the history is read from the log, as while the event-graph projection lags).
    let indexed = GraphStore::in_memory().unwrap();
    catch_up(&log, &indexed, &ProjectionConfig::default(), &|_, _| {}).unwrap();
    let half = ends[ends.len() / 2];
    let lagging_dir = dir.path().join("lagging");
    let lagging_options = ReplayOptions {
        to: Some(half),
        event_graph: true,
    };
    replay_from(&log, &lagging_dir, lagging_options, &|_, _| {}).unwrap();
    let lagging = GraphStore::open(&lagging_dir).unwrap();
    assert_eq!(lagging.cursors().unwrap().events, half);

    let mut cases = 0;
    let mut picks: Vec<u64> = vec![0, log.size()];
    while picks.len() < sizes {
        picks.push(ends[rng.range(0, ends.len() as u64) as usize]);
    }
    for size in picks {
        let reference = replayed_to(&log, dir.path(), size);
        for query in queries(&mut rng) {
            let expected = on_store(&reference, &query);
            for (name, store) in [("indexed", &indexed), ("lagging", &lagging)] {
                let got = as_of(store, &log, size, &query);
                assert_eq!(
                    got, expected,
                    "asOf {size} on the {name} store differs from replay --to {size} for {query}"
                );
            }
            cases += 1;
        }
    }
    assert!(cases >= 200, "only {cases} cases");
    eprintln!("{cases} (size, query) cases agree");
    log.close().unwrap();
}

#[test]
fn as_of_the_log_size_equals_the_live_state() {
    let mut rng = Rng::from_env("as_of_the_log_size_equals_the_live_state");
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = open(dir.path(), LogConfig::default());
    let clock = ManualClock::new(0);
    random_history(&log, &clock, &mut rng, 40);
    let store = GraphStore::in_memory().unwrap();
    catch_up(&log, &store, &ProjectionConfig::default(), &|_, _| {}).unwrap();
    for query in queries(&mut rng) {
        assert_eq!(
            as_of(&store, &log, log.size(), &query),
            on_store(&store, &query),
            "{query}"
        );
    }
    log.close().unwrap();
}

fn small_log(dir: &Path) -> (Log, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(1_000));
    let (log, _) = common::open_with_clock(dir, LogConfig::default(), clock.clone());
    let actor = ActorKey(node_key().public_key());
    let q = |i: u64| {
        Quad::new(
            iri("s", i),
            iri("p", 0),
            iri("o", i),
            GraphName::DefaultGraph,
        )
    };
    for (ms, changes) in [
        (1_000, vec![(Op::Add, q(0)), (Op::Add, q(1))]),
        (2_000, vec![(Op::Add, q(2))]),
        (3_000, vec![(Op::Remove, q(0)), (Op::Add, q(3))]),
    ] {
        clock.set(ms);
        log.append(Batch::unsigned(actor, changes)).unwrap();
    }
    (log, clock)
}

#[test]
fn as_of_a_time_is_the_last_transaction_committed_by_then() {
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = small_log(dir.path());
    let at = |text: &str| resolve(&log, text.parse::<AsOfSpec>().unwrap()).unwrap();
    assert_eq!(at("1970-01-01T00:00:00.999Z"), 0);
    assert_eq!(at("1970-01-01T00:00:01Z"), 2);
    assert_eq!(at("1970-01-01T00:00:01.999Z"), 2);
    assert_eq!(at("1970-01-01T01:00:02+01:00"), 3);
    assert_eq!(at("1970-01-01T00:00:03Z"), 5);
    assert_eq!(at("2999-12-31T23:59:59Z"), 5);
    assert_eq!(at("1960-01-01T00:00:00Z"), 0);
    assert_eq!(at("3"), 3, "a size stays a size");
    log.close().unwrap();
}

#[test]
fn as_of_refuses_sizes_beyond_the_log_or_inside_a_transaction() {
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = small_log(dir.path());
    let store = GraphStore::in_memory().unwrap();
    catch_up(&log, &store, &ProjectionConfig::default(), &|_, _| {}).unwrap();
    let open_at = |size| {
        AsOfDataset::new(&store, log.reader().clone(), size, &AsOfLimits::default()).unwrap_err()
    };
    assert!(matches!(
        open_at(6),
        AsOfError::Beyond {
            size: 6,
            log_size: 5
        }
    ));
    let split = open_at(1);
    assert!(
        matches!(
            split,
            AsOfError::SplitsTransaction {
                size: 1,
                first: 0,
                last: 1
            }
        ),
        "{split}"
    );
    assert!(split.to_string().contains("use 0 or 2"), "{split}");
    assert!(matches!(open_at(4), AsOfError::SplitsTransaction { .. }));
    for bad in ["", "-1", "1.5", "18446744073709551616", "now", "2026-11-23"] {
        let e = bad.parse::<AsOfSpec>().unwrap_err();
        assert!(matches!(e, AsOfError::Unparsable { .. }), "{bad:?}: {e}");
        assert!(e.is_bad_request());
    }
    log.close().unwrap();
}

#[test]
fn as_of_refuses_when_the_event_graph_lags_beyond_its_limit() {
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = small_log(dir.path());
    let store = GraphStore::in_memory().unwrap();
    let limits = AsOfLimits {
        unindexed_events_max: 2,
        ..AsOfLimits::default()
    };
    let e = AsOfDataset::new(&store, log.reader().clone(), 5, &limits).unwrap_err();
    assert!(
        matches!(
            e,
            AsOfError::NotIndexed {
                size: 5,
                indexed: 0,
                unindexed_max: 2
            }
        ),
        "{e}"
    );
    let past = AsOfDataset::new(&store, log.reader().clone(), 2, &limits).unwrap();
    assert_eq!(past.unindexed_events(), 2);
    log.close().unwrap();
}

#[test]
fn as_of_falls_back_to_the_subject_scan_past_the_candidate_limit() {
    let mut rng = Rng::from_env("as_of_falls_back_to_the_subject_scan");
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = open(dir.path(), LogConfig::default());
    let clock = ManualClock::new(0);
    random_history(&log, &clock, &mut rng, 40);
    let store = GraphStore::in_memory().unwrap();
    catch_up(&log, &store, &ProjectionConfig::default(), &|_, _| {}).unwrap();
    let tight = AsOfLimits {
        candidate_events_max: 1,
        ..AsOfLimits::default()
    };
    let ends = boundaries(&log);
    let size = ends[ends.len() / 2];
    for query in queries(&mut rng) {
        let scanned = AsOfDataset::new(&store, log.reader().clone(), size, &tight).unwrap();
        let results = SparqlEvaluator::new()
            .parse_query(&query)
            .unwrap()
            .on_queryable_dataset(scanned)
            .execute()
            .unwrap();
        assert_eq!(
            canonical(results),
            as_of(&store, &log, size, &query),
            "{query}"
        );
    }
    log.close().unwrap();
}

/// What keeps a point query fast on a 10M-event log: its cost is the history of the subjects
/// it names, not the log's size. The log here holds 20,000 events about other subjects and 4
/// about the one queried.
#[test]
fn a_point_query_reads_only_its_subjects_history() {
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = open(dir.path(), LogConfig::default());
    let actor = ActorKey(node_key().public_key());
    let target = iri("target", 0);
    let about = |s: &NamedNode, i: u64| {
        Quad::new(
            s.clone(),
            iri("p", i % 3),
            Literal::from(i as i64),
            GraphName::DefaultGraph,
        )
    };
    for t in 0..20u64 {
        let mut changes: Vec<(Op, Quad)> = (0..1_000)
            .map(|i| (Op::Add, about(&iri("other", (t * 1_000 + i) % 2_000), i)))
            .collect();
        if t % 5 == 0 {
            changes.push((Op::Add, about(&target, t)));
        }
        log.append(Batch::unsigned(actor, changes)).unwrap();
    }
    let store = GraphStore::in_memory().unwrap();
    catch_up(&log, &store, &ProjectionConfig::default(), &|_, _| {}).unwrap();
    let past = AsOfDataset::new(
        &store,
        log.reader().clone(),
        log.size(),
        &AsOfLimits::default(),
    )
    .unwrap();
    let reads = past.read_counter();
    let results = SparqlEvaluator::new()
        .parse_query(&format!("SELECT ?p ?o WHERE {{ {target} ?p ?o }}"))
        .unwrap()
        .on_queryable_dataset(past)
        .execute()
        .unwrap();
    assert_eq!(canonical(results).len(), 4);
    assert_eq!(reads.events(), 4, "log records read");
    assert_eq!(reads.index_entries(), 4, "event-graph entries visited");
    log.close().unwrap();
}
