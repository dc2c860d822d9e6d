//! Replay: a store rebuilt from the log alone has the live store's dataset hash, also for a
//! prefix (`to`), and replay refuses what it cannot do correctly.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use common::{Rng, node_key, open};
use ledgraph::event::{ActorKey, Batch, Op};
use ledgraph::log::{Log, LogConfig};
use ledgraph::store::projection::catch_up_events;
use ledgraph::store::replay::{ReplayOptions, replay_from};
use ledgraph::store::{
    Cursors, GraphStore, ProjectionConfig, Projections, StoreError, TimingTable, replay, store_dir,
};
use oxrdf::{GraphName, Literal, NamedNode, Quad};

const WAIT: Duration = Duration::from_secs(120);

fn q(i: u64, graph: Option<u64>) -> Quad {
    Quad::new(
        NamedNode::new_unchecked(format!("https://example.org/s{i}")),
        NamedNode::new_unchecked("https://example.org/p"),
        Literal::from(i as i64),
        graph.map_or(GraphName::DefaultGraph, |g| {
            NamedNode::new_unchecked(format!("https://example.org/g{g}")).into()
        }),
    )
}

fn append(log: &Log, changes: Vec<(Op, Quad)>) -> u64 {
    let actor = ActorKey(node_key().public_key());
    let ack = log.append(Batch::unsigned(actor, changes)).unwrap();
    ack.first_seq + ack.count
}

/// Runs the live projections until they hold the whole log, with timing recorded for some
/// transactions (which the hash must ignore); returns the live store's hash.
fn project_live(log: &Log, data: &Path) -> [u8; 32] {
    let store = GraphStore::open(&store_dir(data)).unwrap();
    let timing = Arc::new(TimingTable::new(1024));
    timing.record(0, 1_000, 2_000);
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
    store.dataset_hash().unwrap()
}

fn random_history(log: &Log, rng: &mut Rng, transactions: u64) {
    for _ in 0..transactions {
        let n = rng.range(1, 20);
        let changes = (0..n)
            .map(|_| {
                let graph = match rng.range(0, 3) {
                    0 => None,
                    g => Some(g),
                };
                let op = if rng.range(0, 3) == 0 {
                    Op::Remove
                } else {
                    Op::Add
                };
                (op, q(rng.range(0, 30), graph))
            })
            .collect();
        append(log, changes);
    }
}

/// The whole log, event graph included.
const FULL: ReplayOptions = ReplayOptions {
    to: None,
    event_graph: true,
};

fn full_to(to: u64) -> ReplayOptions {
    ReplayOptions {
        to: Some(to),
        event_graph: true,
    }
}

#[test]
fn replay_of_the_state_alone_leaves_the_event_graph_to_its_projection() {
    let mut rng = Rng::from_env("replay_of_the_state_alone");
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = open(dir.path(), LogConfig::default());
    random_history(&log, &mut rng, 20);
    let live = project_live(&log, dir.path());
    let into = dir.path().join("replayed");
    replay_from(&log, &into, ReplayOptions::default(), &|_, _| {}).unwrap();
    let replayed = GraphStore::open(&into).unwrap();
    assert_eq!(
        replayed.cursors().unwrap(),
        Cursors {
            state: log.size(),
            events: 0
        }
    );
    assert_ne!(replayed.dataset_hash().unwrap(), live, "no event graph yet");
    let cursors =
        catch_up_events(&log, &replayed, &ProjectionConfig::default(), &|_, _| {}).unwrap();
    assert_eq!(cursors.events, log.size());
    assert_eq!(replayed.dataset_hash().unwrap(), live);
    log.close().unwrap();
}

#[test]
fn replay_gives_the_live_store_hash() {
    let mut rng = Rng::from_env("replay_gives_the_live_store_hash");
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = open(dir.path(), LogConfig::default());
    random_history(&log, &mut rng, 30);
    let live = project_live(&log, dir.path());
    let into = dir.path().join("replayed");
    let report = replay_from(&log, &into, FULL, &|_, _| {}).unwrap();
    assert_eq!(report.events, log.size());
    assert_eq!(report.transactions, 30);
    let replayed = GraphStore::open(&into).unwrap();
    assert_eq!(replayed.dataset_hash().unwrap(), live);
    assert_eq!(
        replayed.cursors().unwrap(),
        Cursors {
            state: log.size(),
            events: log.size()
        }
    );
    log.close().unwrap();
}

#[test]
fn replay_of_large_runs_uses_the_bulk_loader_and_still_matches() {
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = open(dir.path(), LogConfig::default());
    // 30,000 adds (bulk-loaded state and event graph), then removes and re-adds.
    for chunk in 0..3 {
        append(
            &log,
            (chunk * 10_000..(chunk + 1) * 10_000)
                .map(|i| (Op::Add, q(i, None)))
                .collect(),
        );
    }
    append(&log, (0..100).map(|i| (Op::Remove, q(i, None))).collect());
    append(&log, (50..60).map(|i| (Op::Add, q(i, None))).collect());
    let live = project_live(&log, dir.path());
    let into = dir.path().join("replayed");
    let report = replay_from(&log, &into, FULL, &|_, _| {}).unwrap();
    assert!(report.bulk_loads >= 2, "{report:?}");
    let replayed = GraphStore::open(&into).unwrap();
    assert_eq!(replayed.dataset_hash().unwrap(), live);
    assert_eq!(replayed.oxigraph().len().unwrap() as u64, {
        // state: 30,000 − 100 + 10; event graph: 8 per event and 4 per transaction (actor,
        // firstSeq, eventCount, projectedAt: no timing recorded in a replay); cursors: 2.
        let events = log.size();
        (30_000 - 100 + 10) + 8 * events + 4 * 5 + 2
    });
    log.close().unwrap();
}

#[test]
fn replay_to_a_transaction_boundary_matches_the_live_store_at_that_size() {
    let mut rng = Rng::from_env("replay_to_a_transaction_boundary");
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = open(dir.path(), LogConfig::default());
    random_history(&log, &mut rng, 10);
    let prefix = log.size();
    let live_at_prefix = project_live(&log, dir.path());
    random_history(&log, &mut rng, 10);
    let into = dir.path().join("prefix");
    let report = replay_from(&log, &into, full_to(prefix), &|_, _| {}).unwrap();
    assert_eq!(report.events, prefix);
    let replayed = GraphStore::open(&into).unwrap();
    assert_eq!(replayed.dataset_hash().unwrap(), live_at_prefix);
    assert_eq!(replayed.cursors().unwrap().state, prefix);
    log.close().unwrap();
}

#[test]
fn replay_refuses_a_split_transaction_a_size_beyond_the_log_and_a_non_empty_target() {
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = open(dir.path(), LogConfig::default());
    append(&log, vec![(Op::Add, q(0, None))]);
    append(&log, (1..4).map(|i| (Op::Add, q(i, None))).collect()); // events 1..=3
    let err = replay_from(&log, &dir.path().join("a"), full_to(2), &|_, _| {}).unwrap_err();
    let StoreError::Invalid(message) = &err else {
        panic!("{err}")
    };
    assert!(
        message.contains("events 1..=3")
            && message.contains("--to 1")
            && message.contains("--to 4"),
        "{message}"
    );
    assert!(!dir.path().join("a").exists(), "nothing created on refusal");
    let err = replay_from(&log, &dir.path().join("b"), full_to(5), &|_, _| {}).unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err}");
    let full = dir.path().join("full");
    std::fs::create_dir_all(&full).unwrap();
    std::fs::write(full.join("something"), "x").unwrap();
    let err = replay_from(&log, &full, FULL, &|_, _| {}).unwrap_err();
    assert!(
        matches!(&err, StoreError::Invalid(m) if m.contains("not empty")),
        "{err}"
    );
    // --to 0 and an existing empty directory are fine.
    let empty = dir.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    assert_eq!(
        replay_from(&log, &empty, full_to(0), &|_, _| {})
            .unwrap()
            .events,
        0
    );
    log.close().unwrap();
}

#[test]
fn replay_of_a_log_held_by_a_writer_reads_it_read_only() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig {
        checkpoint_store_events: 1,
        ..LogConfig::default()
    };
    let (log, _) = open(dir.path(), config);
    append(&log, vec![(Op::Add, q(0, None)), (Op::Add, q(1, Some(1)))]);
    let live = project_live(&log, dir.path());
    // `log` still holds the lock: replay falls back to a read-only view of the stored checkpoint.
    let into = dir.path().join("replayed");
    let report = replay(dir.path(), &into, FULL, &|_, _| {}).unwrap();
    assert_eq!(report.events, 2);
    assert_eq!(
        GraphStore::open(&into).unwrap().dataset_hash().unwrap(),
        live
    );
    log.close().unwrap();
    // And with nobody holding it, replay opens it itself.
    let again = dir.path().join("again");
    assert_eq!(
        replay(dir.path(), &again, FULL, &|_, _| {}).unwrap().events,
        2
    );
}
