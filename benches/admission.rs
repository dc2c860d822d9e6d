//! SHACL admission: events per second validated by `ledgraph::shapes::validate_batch` (context
//! read from the store + rudof) for batches of 1, 100 and 1,000 events, against stores of 10k
//! and of `LEDGRAPH_BENCH_ADMISSION_LARGE` triples, and pySHACL on the same batches in the same
//! run (given the same context graph ledgraph validated, so both check the same triples).
//!
//! The stores hold demo-domain data (`shapes/demo.ttl` applies): pumps, sensors monitoring
//! them with readings, work orders; they are filled with Oxigraph's bulk loader directly (not
//! through the log: the log is not what is measured). A batch of n events adds n/3 new
//! sensors (type, `ex:monitors` an existing pump, `ex:reading`), all valid, so every batch is
//! admitted and validated in full.
//!
//! Figures per case: `ledgraph_events_per_s`, `pyshacl_events_per_s`, `ratio` (ledgraph ÷
//! pySHACL, target ≥ 5 for 1,000-event batches, and ≥ 40,000 events/s), and per batch size
//! `scaling` = time per batch on the large store ÷ on 10k (target ≤ 1.5).
//!
//! `cargo bench --bench admission` or `benches/run.sh admission`. Environment:
//! `LEDGRAPH_BENCH_ADMISSION_LARGE` (default 1,000,000 triples — 10M takes ~2 min to load and
//! ~3 GB; the figure is for 10,000,000), `LEDGRAPH_BENCH_ADMISSION_BATCHES` (batches per
//! case, 20), `LEDGRAPH_BENCH_RUNS` (3; the median run counts), `LEDGRAPH_BENCH_PYTHON` (the
//! Python with pySHACL, default the tests' venv).

mod common;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, ensure};
use ledgraph::event::Op;
use ledgraph::shapes::{Shapes, context_graph, validate_batch};
use ledgraph::store::GraphStore;
use oxrdf::vocab::{rdf, rdfs, xsd};
use oxrdf::{GraphName, Literal, NamedNode, Quad};
use serde_json::json;

const BENCH: &str = "admission";
const SMALL_TRIPLES: u64 = 10_000;
const BATCH_SIZES: [usize; 3] = [1, 100, 1_000];
const TARGET_RATIO_MIN: f64 = 5.0;
const TARGET_EVENTS_PER_S_MIN: f64 = 40_000.0;
const TARGET_SCALING_MAX: f64 = 1.5;
const EX: &str = "https://example.org/plant#";
/// Triples per generated entity group (pump + sensor + work order, see [`entity_quads`]).
const TRIPLES_PER_GROUP: u64 = 9;

fn ex(local: &str) -> NamedNode {
    NamedNode::new_unchecked(format!("{EX}{local}"))
}

fn q(s: NamedNode, p: NamedNode, o: impl Into<oxrdf::Term>) -> Quad {
    Quad::new(s, p, o.into(), GraphName::DefaultGraph)
}

fn entity_quads(i: u64) -> Vec<Quad> {
    let pump = ex(&format!("pump-{i}"));
    let sensor = ex(&format!("sensor-{i}"));
    let order = ex(&format!("wo-{i}"));
    vec![
        q(pump.clone(), rdf::TYPE.into_owned(), ex("Pump")),
        q(
            pump.clone(),
            rdfs::LABEL.into_owned(),
            Literal::new_simple_literal(format!("pump {i}")),
        ),
        q(
            sensor.clone(),
            rdf::TYPE.into_owned(),
            ex("TemperatureSensor"),
        ),
        q(sensor.clone(), ex("monitors"), pump.clone()),
        q(
            sensor,
            ex("reading"),
            Literal::new_typed_literal(format!("{}.5", i % 100), xsd::DECIMAL),
        ),
        q(order.clone(), rdf::TYPE.into_owned(), ex("WorkOrder")),
        q(order.clone(), ex("forAsset"), pump),
        q(
            order.clone(),
            ex("status"),
            Literal::new_simple_literal("open"),
        ),
        q(
            order,
            rdfs::LABEL.into_owned(),
            Literal::new_simple_literal(format!("order {i}")),
        ),
    ]
}

fn ontology_quads() -> Vec<Quad> {
    vec![
        q(ex("Pump"), rdfs::SUB_CLASS_OF.into_owned(), ex("Asset")),
        q(
            ex("TemperatureSensor"),
            rdfs::SUB_CLASS_OF.into_owned(),
            ex("Sensor"),
        ),
    ]
}

fn fill(dir: &Path, triples: u64) -> Result<(GraphStore, u64)> {
    let store = GraphStore::open(dir)?;
    let groups = triples.div_ceil(TRIPLES_PER_GROUP);
    let quads = ontology_quads()
        .into_iter()
        .chain((0..groups).flat_map(entity_quads));
    let mut loader = store.oxigraph().bulk_loader();
    loader.load_quads(quads).context("bulk load")?;
    loader.commit().context("bulk load commit")?;
    Ok((store, groups))
}

/// `events` valid events adding new sensors that monitor existing pumps (of `groups`).
fn batch(tag: &str, events: usize, groups: u64, seed: u64) -> Vec<(Op, Quad)> {
    let mut out = Vec::with_capacity(events);
    let mut k = 0u64;
    while out.len() < events {
        let sensor = ex(&format!("new-{tag}-{k}"));
        let pump = ex(&format!(
            "pump-{}",
            (seed.wrapping_mul(7919) + k * 104_729) % groups
        ));
        let three = [
            q(
                sensor.clone(),
                rdf::TYPE.into_owned(),
                ex("TemperatureSensor"),
            ),
            q(sensor.clone(), ex("monitors"), pump),
            q(
                sensor,
                ex("reading"),
                Literal::new_typed_literal("20.5", xsd::DECIMAL),
            ),
        ];
        out.extend(
            three
                .into_iter()
                .take(events - out.len())
                .map(|q| (Op::Add, q)),
        );
        k += 1;
    }
    out
}

fn python() -> PathBuf {
    std::env::var_os("LEDGRAPH_BENCH_PYTHON").map_or_else(
        || {
            let home =
                std::env::var_os("HOME").map_or_else(|| PathBuf::from("/root"), PathBuf::from);
            home.join(".cache/ledgraph/venv/bin/python")
        },
        PathBuf::from,
    )
}

/// Seconds pySHACL takes on each context file of `dir` (by file name).
fn pyshacl_seconds(shapes: &Path, dir: &Path) -> Result<BTreeMap<String, f64>> {
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/admission/pyshacl_validate.py");
    let out = common::run_command(Command::new(python()).arg(script).arg(shapes).arg(dir))?;
    let mut seconds = BTreeMap::new();
    for line in out.lines().filter(|l| l.starts_with('{')) {
        let v: serde_json::Value = serde_json::from_str(line)?;
        ensure!(
            v["conforms"] == true,
            "pySHACL found a violation in a valid batch: {line}"
        );
        seconds.insert(
            v["file"].as_str().unwrap_or_default().to_owned(),
            v["seconds"].as_f64().unwrap_or(f64::NAN),
        );
    }
    Ok(seconds)
}

fn main() -> Result<()> {
    let large = common::env_or("LEDGRAPH_BENCH_ADMISSION_LARGE", 1_000_000u64)?;
    let batches = common::env_or("LEDGRAPH_BENCH_ADMISSION_BATCHES", 20usize)?;
    let runs = common::runs()?;
    ensure!(
        batches > 0,
        "LEDGRAPH_BENCH_ADMISSION_BATCHES must be positive"
    );
    let shapes_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("shapes/demo.ttl");
    let shapes = Shapes::load(&shapes_path)?;
    let mut per_batch_s: BTreeMap<(u64, usize), f64> = BTreeMap::new();
    for store_triples in [SMALL_TRIPLES, large] {
        let dir = common::temp_dir("ledgraph-admission-")?;
        eprintln!("loading {store_triples} triples");
        let (store, groups) = fill(dir.path(), store_triples)?;
        for &events in &BATCH_SIZES {
            let case = format!("store_{store_triples}_batch_{events}");
            let work: Vec<Vec<(Op, Quad)>> = (0..batches)
                .map(|b| batch(&format!("{events}-{b}"), events, groups, b as u64))
                .collect();
            // ledgraph: the median of `runs` over the whole set of batches.
            let mut seconds = Vec::with_capacity(runs);
            for _ in 0..runs {
                let started = Instant::now();
                for changes in &work {
                    let verdict = validate_batch(store.oxigraph(), &shapes, changes, 0)?;
                    ensure!(!verdict.rejects(), "{case}: a valid batch was refused");
                }
                seconds.push(started.elapsed().as_secs_f64());
            }
            let median_s = common::median(&seconds);
            let total_events = (events * batches) as f64;
            let ledgraph_eps = total_events / median_s;
            per_batch_s.insert((store_triples, events), median_s / batches as f64);
            // pySHACL on the same context graphs.
            let contexts = common::temp_dir("ledgraph-admission-ctx-")?;
            let mut context_triples = 0usize;
            let mut context_s = 0.0;
            for (b, changes) in work.iter().enumerate() {
                let started = Instant::now();
                let graph = context_graph(store.oxigraph(), &shapes, changes, 0)?;
                context_s += started.elapsed().as_secs_f64();
                context_triples += graph.len();
                let mut file = std::fs::File::create(contexts.path().join(format!("{b:05}.nt")))?;
                for t in graph.iter() {
                    writeln!(file, "{t} .")?;
                }
            }
            let py = pyshacl_seconds(&shapes_path, contexts.path())?;
            let py_total: f64 = py.values().sum();
            let py_eps = total_events / py_total;
            let ratio = ledgraph_eps / py_eps;
            common::emit(
                BENCH,
                &case,
                vec![
                    ("store_triples", json!(store_triples)),
                    ("batch_events", json!(events)),
                    ("batches", json!(batches)),
                    (
                        "context_triples_per_batch",
                        json!(context_triples / batches),
                    ),
                    // The share of ledgraph's time spent reading the context from the store.
                    ("context_share", json!(common::round(context_s / median_s))),
                    ("ledgraph_events_per_s", json!(common::round(ledgraph_eps))),
                    ("pyshacl_events_per_s", json!(common::round(py_eps))),
                    ("ratio", json!(common::round(ratio))),
                    (
                        "meets_target",
                        json!(
                            events < 1_000
                                || (ratio >= TARGET_RATIO_MIN
                                    && ledgraph_eps >= TARGET_EVENTS_PER_S_MIN)
                        ),
                    ),
                ],
            );
        }
    }
    for &events in &BATCH_SIZES {
        let small = per_batch_s
            .get(&(SMALL_TRIPLES, events))
            .copied()
            .unwrap_or(f64::NAN);
        let big = per_batch_s
            .get(&(large, events))
            .copied()
            .unwrap_or(f64::NAN);
        let scaling = big / small;
        common::emit(
            BENCH,
            &format!("scaling_batch_{events}"),
            vec![
                ("small_store_triples", json!(SMALL_TRIPLES)),
                ("large_store_triples", json!(large)),
                ("scaling", json!(common::round(scaling))),
                ("meets_target", json!(scaling <= TARGET_SCALING_MAX)),
            ],
        );
    }
    Ok(())
}
