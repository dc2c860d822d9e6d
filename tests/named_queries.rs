//! Named queries on a store projected from a real log: the audit and replay queries answer
//! what the log says (at any `?logSize`), the latency percentiles are the nearest-rank ones,
//! and parameters carrying SPARQL syntax are bound as terms — matched as data, never run.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use common::{node_key, open, publisher_key};
use ledgraph::event::{ActorKey, Batch, Op};
use ledgraph::log::{Log, LogConfig};
use ledgraph::queries::{Catalog, NamedQuery, QueryError};
use ledgraph::store::{GraphStore, ProjectionConfig, Projections, TimingTable, store_dir};
use oxigraph::sparql::QueryResults;
use oxrdf::{GraphName, Literal, NamedNode, Quad};

const WAIT: Duration = Duration::from_secs(60);

fn iri(s: &str) -> NamedNode {
    NamedNode::new_unchecked(format!("https://example.org/{s}"))
}

fn quad(s: &str, p: &str, o: impl Into<oxrdf::Term>) -> Quad {
    Quad::new(iri(s), iri(p), o, GraphName::DefaultGraph)
}

fn node_actor() -> ActorKey {
    ActorKey(node_key().public_key())
}

fn other_actor() -> ActorKey {
    ActorKey(publisher_key().public_key())
}

fn append(log: &Log, actor: ActorKey, changes: Vec<(Op, Quad)>) -> u64 {
    log.append(Batch::unsigned(actor, changes))
        .unwrap()
        .first_seq
}

/// Projects the whole log (state and event graph) into the data directory's store.
fn project(log: &Log, dir: &std::path::Path, timing: Arc<TimingTable>) -> GraphStore {
    let store = GraphStore::open(&store_dir(dir)).unwrap();
    let p = Projections::start(
        log.reader().clone(),
        store.clone(),
        timing,
        ProjectionConfig::default(),
    )
    .unwrap();
    assert!(p.wait_state(log.size(), WAIT));
    assert!(p.wait_events(log.size(), WAIT));
    p.stop().unwrap();
    store
}

fn named(name: &str) -> &'static NamedQuery {
    Catalog::builtin().unwrap().get(name).unwrap()
}

fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// Each solution as variable → N-Triples term.
fn run(
    store: &GraphStore,
    query: &NamedQuery,
    pairs: &[(&str, &str)],
    log_size: u64,
) -> Vec<BTreeMap<String, String>> {
    let bound = query.bind(&params(pairs), log_size, false).unwrap();
    let QueryResults::Solutions(solutions) = ledgraph::queries::evaluator()
        .for_query(bound)
        .on_store(store.oxigraph())
        .execute()
        .unwrap()
    else {
        panic!("not a SELECT")
    };
    solutions
        .map(|s| {
            s.unwrap()
                .iter()
                .map(|(v, t)| (v.as_str().to_owned(), t.to_string()))
                .collect()
        })
        .collect()
}

fn column(rows: &[BTreeMap<String, String>], var: &str) -> Vec<String> {
    rows.iter()
        .map(|r| r.get(var).cloned().unwrap_or_default())
        .collect()
}

fn seqs(rows: &[BTreeMap<String, String>]) -> Vec<u64> {
    column(rows, "seq").iter().map(|t| int(t)).collect()
}

/// `"5"^^<…#integer>` → 5.
fn int(term: &str) -> u64 {
    let l: Literal = term.parse().unwrap_or_else(|e| panic!("{term}: {e}"));
    l.value().parse().unwrap()
}

/// A log of two actors: `a` gets a name, a changed age and a removed nickname; `b` is the
/// other actor's.
fn history(log: &Log) -> u64 {
    let name = quad("a", "name", Literal::new_simple_literal("Ada"));
    let age1 = quad("a", "age", Literal::from(36));
    let age2 = quad("a", "age", Literal::from(37));
    let nick = quad("a", "nick", Literal::new_simple_literal("A"));
    append(
        log,
        node_actor(),
        vec![(Op::Add, name), (Op::Add, age1.clone())],
    ); // 0, 1
    append(
        log,
        other_actor(),
        vec![
            (Op::Add, nick.clone()),
            (
                Op::Add,
                quad("b", "name", Literal::new_simple_literal("Bob")),
            ),
        ],
    ); // 2, 3
    append(log, node_actor(), vec![(Op::Remove, age1), (Op::Add, age2)]); // 4, 5
    append(log, other_actor(), vec![(Op::Remove, nick)]) // 6
}

#[test]
fn audit_queries_answer_from_the_event_graph_at_any_log_size() {
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = open(dir.path(), LogConfig::default());
    history(&log);
    let store = project(&log, dir.path(), Arc::new(TimingTable::new(1)));
    let a = "https://example.org/a";

    let rows = run(
        &store,
        named("audit/subject-history"),
        &[("s", a)],
        log.size(),
    );
    assert_eq!(seqs(&rows), [0, 1, 2, 4, 5, 6]);
    assert_eq!(
        column(&rows, "op"),
        [
            "\"add\"",
            "\"add\"",
            "\"add\"",
            "\"remove\"",
            "\"add\"",
            "\"remove\""
        ]
    );
    let other = format!("\"{}\"", hex::encode(other_actor().0));
    assert_eq!(column(&rows, "actor")[2], other);
    assert!(column(&rows, "time")[0].ends_with("#dateTime>"), "{rows:?}");
    assert_eq!(
        column(&rows, "leafHash")[0],
        format!("\"{}\"", hex::encode(log.leaf_hash(0).unwrap()))
    );
    // At log size 4 only the events before it.
    let rows = run(&store, named("audit/subject-history"), &[("s", a)], 4);
    assert_eq!(seqs(&rows), [0, 1, 2]);

    // Provenance: the current triples and the event that asserted each.
    let rows = run(&store, named("audit/provenance"), &[("s", a)], log.size());
    let found: Vec<(String, u64)> = rows
        .iter()
        .map(|r| (r["p"].clone(), int(&r["seq"])))
        .collect();
    assert_eq!(
        found,
        [
            ("<https://example.org/age>".to_owned(), 5),
            ("<https://example.org/name>".to_owned(), 0)
        ]
    );
    // Before the changes: age 36 from event 1, and the nickname from the other actor.
    let rows = run(&store, named("audit/provenance"), &[("s", a)], 4);
    let mut found: Vec<u64> = seqs(&rows);
    found.sort();
    assert_eq!(found, [0, 1, 2]);

    let rows = run(
        &store,
        named("audit/actor-activity"),
        &[("actor", &hex::encode(other_actor().0))],
        log.size(),
    );
    assert_eq!(seqs(&rows), [2, 3, 6]);
    let rows = run(
        &store,
        named("audit/actor-activity"),
        &[
            ("actor", &hex::encode(other_actor().0)),
            ("from", "2100-01-01T00:00:00Z"),
        ],
        log.size(),
    );
    assert!(rows.is_empty(), "{rows:?}");
    log.close().unwrap();
}

#[test]
fn replay_selections_pick_events_by_actor_time_and_predicate() {
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = open(dir.path(), LogConfig::default());
    history(&log);
    let store = project(&log, dir.path(), Arc::new(TimingTable::new(1)));
    let other = hex::encode(other_actor().0);
    let size = log.size();
    let sel = |name: &str, p: &[(&str, &str)]| seqs(&run(&store, named(name), p, size));
    assert_eq!(sel("replay/by-actor", &[("actor", &other)]), [2, 3, 6]);
    assert_eq!(
        sel("replay/except-actor", &[("actor", &other)]),
        [0, 1, 4, 5]
    );
    assert_eq!(
        sel("replay/by-predicate", &[("p", "https://example.org/age")]),
        [1, 4, 5]
    );
    assert_eq!(sel("replay/time-range", &[]), [0, 1, 2, 3, 4, 5, 6]);
    assert!(sel("replay/time-range", &[("to", "2000-01-01T00:00:00Z")]).is_empty());
    let events_per_minute = run(
        &store,
        named("metrics/events-per-minute-per-actor"),
        &[],
        size,
    );
    let total: u64 = column(&events_per_minute, "events")
        .iter()
        .map(|t| int(t))
        .sum();
    assert_eq!(total, size);
    assert!(
        column(&events_per_minute, "minute")[0].contains(":00Z\"^^"),
        "{events_per_minute:?}"
    );
    log.close().unwrap();
}

#[test]
fn latency_percentiles_are_nearest_rank_per_minute_and_stage() {
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = open(dir.path(), LogConfig::default());
    let timing = Arc::new(TimingTable::new(1_000));
    // 100 transactions in one minute, commit latencies 1..=100 ms.
    let minute = 1_700_000_040_000u64; // a whole minute
    for i in 0..100u64 {
        let first = append(
            &log,
            node_actor(),
            vec![(
                Op::Add,
                quad(&format!("t{i}"), "p", Literal::from(i as i64)),
            )],
        );
        let received = minute + 1_000 + i * 100;
        timing.record(first, received, received + (i + 1));
    }
    let store = project(&log, dir.path(), timing);
    let rows = run(&store, named("metrics/ingest-latency"), &[], log.size());
    let commit: Vec<_> = rows.iter().filter(|r| r["stage"] == "\"commit\"").collect();
    assert_eq!(commit.len(), 1, "{rows:?}");
    let row = commit[0];
    assert!(
        row["minute"].starts_with("\"2023-11-14T22:14:00"),
        "{row:?}"
    );
    assert!(row["transactions"].starts_with("\"100\""), "{row:?}");
    let duration = |t: &str| t.split('"').nth(1).unwrap().to_owned();
    assert_eq!(duration(&row["p50"]), "PT0.05S");
    assert_eq!(duration(&row["p90"]), "PT0.09S");
    assert_eq!(duration(&row["p99"]), "PT0.099S");
    assert_eq!(duration(&row["max"]), "PT0.1S");
    // per=range: one row per stage, no minute.
    let rows = run(
        &store,
        named("metrics/ingest-latency"),
        &[("per", "range")],
        log.size(),
    );
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert!(rows.iter().all(|r| !r.contains_key("minute")), "{rows:?}");
    assert!(
        rows.iter()
            .all(|r| r["transactions"].starts_with("\"100\"")),
        "{rows:?}"
    );
    // A range that excludes the minute leaves nothing.
    let rows = run(
        &store,
        named("metrics/ingest-latency"),
        &[("to", "2023-11-14T22:14:00Z")],
        log.size(),
    );
    assert!(rows.is_empty(), "{rows:?}");
    let lag = run(&store, named("metrics/projection-lag"), &[], log.size() + 5);
    assert_eq!(column(&lag, "lagEvents").len(), 2, "{lag:?}");
    assert!(
        column(&lag, "lagEvents")
            .iter()
            .all(|l| l.starts_with("\"5\"")),
        "{lag:?}"
    );
    log.close().unwrap();
}

/// Values that would change the query if spliced into its text.
const INJECTIONS: &[&str] = &[
    "x\" } ; DROP ALL ; #",
    "\"} UNION { ?s ?p ?o } #",
    "'; DELETE WHERE { ?s ?p ?o } ; '",
    "}}}}{{{{",
    "\\\" ) ) } } LIMIT 0 #",
    "x\n} ; CLEAR ALL",
];

#[test]
fn parameters_with_sparql_syntax_are_bound_as_terms_and_never_run() {
    let store = GraphStore::in_memory().unwrap();
    for (i, text) in INJECTIONS.iter().enumerate() {
        let q = quad(&format!("s{i}"), "p", Literal::new_simple_literal(*text));
        store.oxigraph().insert(&q).unwrap();
    }
    store
        .oxigraph()
        .insert(&quad("other", "p", Literal::new_simple_literal("other")))
        .unwrap();
    let before = store.oxigraph().len().unwrap();
    let text = "# title: by object\n# description: test\n\
                # param: o string — the object\n# param: lit literal optional — as a literal\n\
                SELECT ?s WHERE { VALUES ?o { UNDEF } VALUES ?lit { UNDEF } ?s ?p ?o \
                FILTER (!BOUND(?lit) || ?o = ?lit) }";
    let query = NamedQuery::parse("test/by-object", text).unwrap();
    for (i, value) in INJECTIONS.iter().enumerate() {
        let rows = run(&store, &query, &[("o", value)], 0);
        assert_eq!(
            column(&rows, "s"),
            [format!("<https://example.org/s{i}>")],
            "{value:?} must match exactly the triple holding it"
        );
        // As an N-Triples literal too.
        let literal = Literal::new_simple_literal(*value).to_string();
        let rows = run(&store, &query, &[("o", value), ("lit", &literal)], 0);
        assert_eq!(rows.len(), 1, "{literal}");
    }
    assert_eq!(
        store.oxigraph().len().unwrap(),
        before,
        "nothing was changed"
    );
    // IRIs carrying syntax are refused, not bound.
    let iri_query = named("audit/subject-history");
    for value in [
        "https://e.org/a> } ; DROP ALL ; <x",
        "https://e.org/{a}",
        "https://e.org/a b",
        "not an iri",
        "<https://e.org/a",
    ] {
        match iri_query.bind(&params(&[("s", value)]), 0, false) {
            Err(QueryError::InvalidValue { .. }) => {}
            other => panic!("{value:?}: {other:?}"),
        }
    }
    match iri_query.bind(&params(&[("s", "https://e.org/a"), ("s2", "x")]), 0, false) {
        Err(QueryError::UnknownParam { .. }) => {}
        other => panic!("{other:?}"),
    }
}
