//! Time travel: `asOf` latency of point queries against rebuilding the past state by replay,
//! in the same run, at several log sizes (default 10k, 1M and 10M events).
//!
//! For each size E a log is built through the library: transactions of 1,000 events over
//! E / 10 subjects (so a subject has ~10 events), where every fifth event removes a quad the
//! previous transaction added — the state at a past size differs from today's. Its store is
//! built once with `replay --event-graph` (state and event graph, the index time travel uses;
//! the setup line reports how long that took and its size on disk). Then:
//!
//! - **asOf** (ledgraph): 10 point queries `SELECT ?p ?o WHERE { <s> ?p ?o }`, each for a
//!   random subject at a random transaction boundary N, through `AsOfDataset` (open, evaluate,
//!   read every solution), `LEDGRAPH_BENCH_RUNS` rounds. Figure: median and max latency.
//!   Target: under 1 s at 10M events for a query touching a handful of subjects.
//! - **replay** (the peer: what a store without time travel must do): `replay --to N` into a
//!   fresh directory (state only, bulk loader) and the same query on it,
//!   `LEDGRAPH_BENCH_REPLAYS` times (default 1; at 10M each takes minutes).
//!
//! Every asOf answer is checked against the replayed store's for the same N and subject; a
//! difference fails the bench. `ratio` = replay seconds ÷ median asOf seconds.
//!
//! `cargo bench --bench time_travel` (release; the coordinator runs the big sizes). A quick
//! check in debug: `LEDGRAPH_BENCH_TIME_TRAVEL_SIZES=10000 cargo test --bench time_travel`.
//! Environment: `LEDGRAPH_BENCH_TIME_TRAVEL_SIZES` (comma-separated event counts),
//! `LEDGRAPH_BENCH_RUNS` (3), `LEDGRAPH_BENCH_REPLAYS` (1), `LEDGRAPH_BENCH_DIR` (the 10M log
//! with its event graph needs tens of GB), `LEDGRAPH_BENCH_SEED`.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, ensure};
use common::{emit, median, round, rounded};
use ledgraph::event::hlc::SystemClock;
use ledgraph::event::{ActorKey, Batch, Op};
use ledgraph::keys::{self, OsRandom};
use ledgraph::log::{Log, LogConfig};
use ledgraph::store::as_of::{AsOfDataset, AsOfLimits};
use ledgraph::store::replay::{ReplayOptions, replay_from};
use ledgraph::store::{GraphStore, store_dir};
use oxigraph::sparql::{QueryResults, SparqlEvaluator};
use oxrdf::{GraphName, Literal, NamedNode, Quad};
use serde_json::json;

const BENCH: &str = "time_travel";
const TRANSACTION_EVENTS: u64 = 1_000;
const EVENTS_PER_SUBJECT: u64 = 10;
const PREDICATES: u64 = 5;
/// Every this-many-th event removes a quad of the previous transaction.
const REMOVE_EVERY: u64 = 5;
const POINT_QUERIES: usize = 10;
const TARGET_10M_MS_MAX: f64 = 1_000.0;

fn subject(i: u64) -> NamedNode {
    NamedNode::new_unchecked(format!("https://example.org/thing/{i}"))
}

fn added(seq: u64, subjects: u64) -> Quad {
    // Spread a subject's events over the whole log, as updates over time would be.
    let s = seq.wrapping_mul(0x9E37_79B9_7F4A_7C15) % subjects;
    Quad::new(
        subject(s),
        NamedNode::new_unchecked(format!("https://example.org/p{}", seq % PREDICATES)),
        Literal::from(seq as i64),
        GraphName::DefaultGraph,
    )
}

/// Appends `events` events in transactions of `TRANSACTION_EVENTS`; returns seconds.
fn build_log(data: &Path, events: u64) -> Result<f64> {
    std::fs::create_dir_all(data).with_context(|| format!("create {}", data.display()))?;
    let (key, _) = keys::load_or_create_key(data, &mut OsRandom)?;
    let actor = ActorKey(key.public_key());
    let subjects = (events / EVENTS_PER_SUBJECT).max(1);
    let started = Instant::now();
    let (log, _) = Log::open(data, key, LogConfig::default(), Arc::new(SystemClock))?;
    let mut seq = 0;
    while seq < events {
        let end = events.min(seq + TRANSACTION_EVENTS);
        let changes = (seq..end)
            .map(|i| {
                if i % REMOVE_EVERY == 0 && i >= TRANSACTION_EVENTS {
                    (Op::Remove, added(i - TRANSACTION_EVENTS + 1, subjects))
                } else {
                    (Op::Add, added(i, subjects))
                }
            })
            .collect();
        log.append(Batch::unsigned(actor, changes))?;
        seq = end;
    }
    log.close()?;
    Ok(started.elapsed().as_secs_f64())
}

fn point_query(s: &NamedNode) -> String {
    format!("SELECT ?p ?o WHERE {{ {s} ?p ?o }}")
}

fn rows(results: QueryResults<'_>) -> Result<Vec<String>> {
    let QueryResults::Solutions(solutions) = results else {
        anyhow::bail!("not solutions");
    };
    let mut out = Vec::new();
    for solution in solutions {
        let solution = solution?;
        out.push(
            solution
                .values()
                .iter()
                .map(|v| v.as_ref().map(ToString::to_string).unwrap_or_default())
                .collect::<Vec<_>>()
                .join(" "),
        );
    }
    out.sort();
    Ok(out)
}

struct Seeded(u64);

impl Seeded {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

fn one_size(events: u64, runs: usize, replays: usize, rng: &mut Seeded) -> Result<()> {
    let dir = common::temp_dir("ledgraph-bench-time-travel-")?;
    let data = dir.path().join("data");
    eprintln!("time_travel: building a log of {events} events");
    let log_s = build_log(&data, events)?;
    let verifier = keys::load_verifier(&data)?;
    let reader = Arc::new(ledgraph::log::LogReader::open_read_only(&data, verifier)?);
    eprintln!("time_travel: replaying it with the event graph");
    let started = Instant::now();
    let full = ReplayOptions {
        to: None,
        event_graph: true,
    };
    replay_from(&reader, &store_dir(&data), full, &|_, _| {})?;
    let index_s = started.elapsed().as_secs_f64();
    let store = GraphStore::open_read_only(&store_dir(&data))?;
    emit(
        BENCH,
        "setup",
        vec![
            ("events", json!(events)),
            ("log_build_s", json!(round(log_s))),
            ("store_with_event_graph_s", json!(round(index_s))),
            ("store_bytes", json!(common::disk_bytes(&store_dir(&data)))),
            ("log_bytes", json!(common::disk_bytes(&data.join("log")))),
        ],
    );
    let subjects = (events / EVENTS_PER_SUBJECT).max(1);
    let transactions = events.div_ceil(TRANSACTION_EVENTS);
    let boundary = |rng: &mut Seeded| (1 + rng.next() % transactions) * TRANSACTION_EVENTS;
    let cases: Vec<(u64, NamedNode)> = (0..POINT_QUERIES)
        .map(|_| {
            let size = boundary(rng).min(events);
            (size, subject(rng.next() % subjects))
        })
        .collect();

    let limits = AsOfLimits::default();
    let mut latencies_ms = Vec::new();
    let mut answers = Vec::new();
    let mut events_read = Vec::new();
    for run in 0..runs {
        for (size, s) in &cases {
            let started = Instant::now();
            let past = AsOfDataset::new(&store, reader.clone(), *size, &limits)?;
            let reads = past.read_counter();
            let got = rows(
                SparqlEvaluator::new()
                    .parse_query(&point_query(s))?
                    .on_queryable_dataset(past)
                    .execute()?,
            )?;
            latencies_ms.push(started.elapsed().as_secs_f64() * 1e3);
            if run == 0 {
                answers.push(got);
                events_read.push(reads.events() as f64);
            }
        }
    }
    let as_of_ms = median(&latencies_ms);
    let max_ms = latencies_ms.iter().copied().fold(0.0, f64::max);
    emit(
        BENCH,
        "as_of",
        vec![
            ("events", json!(events)),
            ("queries", json!(POINT_QUERIES)),
            ("runs", json!(runs)),
            ("median_ms", json!(round(as_of_ms))),
            ("max_ms", json!(round(max_ms))),
            ("samples_ms", rounded(&latencies_ms)),
            ("rows", json!(answers.iter().map(Vec::len).sum::<usize>())),
            ("log_records_read_per_query", rounded(&events_read)),
        ],
    );

    let mut replay_s = Vec::new();
    for r in 0..replays.max(1) {
        let (size, s) = &cases[r % cases.len()];
        let into = dir.path().join(format!("replay-{r}"));
        let started = Instant::now();
        let options = ReplayOptions {
            to: Some(*size),
            event_graph: false,
        };
        replay_from(&reader, &into, options, &|_, _| {})?;
        let replayed = GraphStore::open(&into)?;
        let expected = rows(
            SparqlEvaluator::new()
                .parse_query(&point_query(s))?
                .on_store(replayed.oxigraph())
                .execute()?,
        )?;
        replay_s.push(started.elapsed().as_secs_f64());
        ensure!(
            expected == answers[r % cases.len()],
            "asOf {size} for {s} differs from replay --to {size}"
        );
        drop(replayed);
        std::fs::remove_dir_all(&into).with_context(|| format!("remove {}", into.display()))?;
    }
    // Check the remaining answers against a replay too, untimed, when replays are few.
    for (i, (size, s)) in cases.iter().enumerate().skip(replays.max(1)) {
        if i >= 3 {
            break;
        }
        let into = dir.path().join(format!("check-{i}"));
        let options = ReplayOptions {
            to: Some(*size),
            event_graph: false,
        };
        replay_from(&reader, &into, options, &|_, _| {})?;
        let replayed = GraphStore::open(&into)?;
        let expected = rows(
            SparqlEvaluator::new()
                .parse_query(&point_query(s))?
                .on_store(replayed.oxigraph())
                .execute()?,
        )?;
        ensure!(
            expected == answers[i],
            "asOf {size} for {s} differs from replay --to {size}"
        );
        drop(replayed);
        std::fs::remove_dir_all(&into).with_context(|| format!("remove {}", into.display()))?;
    }
    let replay_median_s = median(&replay_s);
    let mut summary = vec![
        ("events", json!(events)),
        ("as_of_median_ms", json!(round(as_of_ms))),
        ("as_of_max_ms", json!(round(max_ms))),
        ("replay_median_s", json!(round(replay_median_s))),
        ("replay_s", rounded(&replay_s)),
        ("ratio", json!(round(replay_median_s * 1e3 / as_of_ms))),
        ("ratio_is", json!("replay seconds / median asOf seconds")),
    ];
    if events >= 10_000_000 {
        summary.push(("target_ms_max", json!(TARGET_10M_MS_MAX)));
        summary.push(("target_met", json!(max_ms < TARGET_10M_MS_MAX)));
    }
    emit(BENCH, "summary", summary);
    Ok(())
}

fn main() -> Result<()> {
    let sizes: Vec<u64> = std::env::var("LEDGRAPH_BENCH_TIME_TRAVEL_SIZES")
        .unwrap_or_else(|_| "10000,1000000,10000000".to_owned())
        .split(',')
        .map(|s| {
            s.trim()
                .replace('_', "")
                .parse::<u64>()
                .with_context(|| format!("LEDGRAPH_BENCH_TIME_TRAVEL_SIZES: {s:?}"))
        })
        .collect::<Result<_>>()?;
    ensure!(
        sizes.iter().all(|&n| n >= TRANSACTION_EVENTS),
        "every size must be at least {TRANSACTION_EVENTS} events"
    );
    let runs = common::runs()?;
    let replays = common::env_or("LEDGRAPH_BENCH_REPLAYS", 1usize)?;
    let seed = common::env_or("LEDGRAPH_BENCH_SEED", 0x5eed_u64)?.max(1);
    eprintln!("time_travel: seed {seed}");
    let mut rng = Seeded(seed);
    for events in sizes {
        one_size(events, runs, replays, &mut rng)?;
    }
    Ok(())
}
