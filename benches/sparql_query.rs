//! Query latency: a BSBM-like query mix (`benches/queries/*.rq`) against ledgraph's SPARQL
//! endpoint and the Oxigraph server, both holding the same data set.
//!
//! # Set-up (timed, reported, not part of the ratio)
//!
//! - Oxigraph: `oxigraph load --location DIR --file DATA.nt` (its bulk loader), then
//!   `oxigraph serve`.
//! - ledgraph: the data set appended to a fresh log as 1,000-triple transactions (through the
//!   library, as `POST /v1/events` would), then `ledgraph serve`, waiting until `/readyz`
//!   shows both projections (state and event graph) at the log's end — so no projection
//!   writes while queries run. The ledgraph store holds the event graph too (8 quads per
//!   event, in `urn:ledgraph:log`); the queries read the default graph, as on Oxigraph.
//!
//! # Measurement
//!
//! Both servers stay up; queries are sent one at a time (never to both at once) by direct
//! POST to `/query`, JSON results (N-Triples for CONSTRUCT), and the client times the whole
//! request including reading the body. Per run, per query, per system (order alternating
//! with run and query): one warm-up, then `LEDGRAPH_BENCH_QUERY_REPS` (20) timed requests,
//! whose median is the run's figure; a query's figure is the median over runs. The two
//! systems' answers must have the same number of rows (triples for CONSTRUCT).
//!
//! Summary: `ratio` = Σ ledgraph medians ÷ Σ Oxigraph medians over the mix (the mix's
//! latency), target ≤ 1.1; also the geometric mean and the largest of the per-query ratios.
//!
//! # How to run
//!
//! `benches/run.sh sparql_query`. Environment: `LEDGRAPH_BENCH_RUNS` (3),
//! `LEDGRAPH_BENCH_QUERY_REPS` (20), `LEDGRAPH_BENCH_TRIPLES` (1,000,000),
//! `LEDGRAPH_BENCH_QUERIES` (comma-separated name prefixes, default all), `LEDGRAPH_BENCH_DIR`,
//! `LEDGRAPH_BENCH_CACHE`. Quick run: `LEDGRAPH_BENCH_RUNS=1 LEDGRAPH_BENCH_QUERY_REPS=3
//! LEDGRAPH_BENCH_TRIPLES=20000`.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use common::{Client, Server, System, bsbm, emit, env_or, median, round, rounded};
use serde_json::{Value, json};

const BENCH: &str = "sparql_query";
const QUERY_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/queries");
const TARGET_RATIO_MAX: f64 = 1.1;
const LOG_TRANSACTION_EVENTS: usize = 1_000;
const LOG_BUILD_THREADS: usize = 4;
const CATCH_UP_TIMEOUT_MS: u64 = 3_600_000;

struct Query {
    name: String,
    text: String,
    accept: &'static str,
}

fn queries() -> Result<Vec<Query>> {
    let filter = std::env::var("LEDGRAPH_BENCH_QUERIES").unwrap_or_default();
    let wanted: Vec<&str> = filter
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    let mut out = Vec::new();
    for entry in std::fs::read_dir(QUERY_DIR).with_context(|| format!("read {QUERY_DIR}"))? {
        let path = entry?.path();
        if path.extension().is_none_or(|e| e != "rq") {
            continue;
        }
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .context("query file name")?
            .to_owned();
        if !wanted.is_empty() && !wanted.iter().any(|w| name.starts_with(w)) {
            continue;
        }
        let text = std::fs::read_to_string(&path)?;
        let construct = text
            .lines()
            .any(|l| l.trim_start().starts_with("CONSTRUCT"));
        let accept = if construct {
            "application/n-triples"
        } else {
            "application/sparql-results+json"
        };
        out.push(Query { name, text, accept });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    ensure!(!out.is_empty(), "no queries selected in {QUERY_DIR}");
    Ok(out)
}

/// Rows of a JSON result (bindings) or triples of an N-Triples answer.
fn rows(answer: &str, accept: &str) -> Result<usize> {
    if accept == "application/n-triples" {
        return Ok(answer.lines().filter(|l| !l.trim().is_empty()).count());
    }
    let v: Value = serde_json::from_str(answer).context("JSON results")?;
    v["results"]["bindings"]
        .as_array()
        .map(Vec::len)
        .context("JSON results without bindings")
}

fn load_oxigraph(data: &Path, nt: &Path) -> Result<f64> {
    let started = Instant::now();
    common::run_command(
        Command::new(common::oxigraph_bin()?)
            .arg("load")
            .arg("--location")
            .arg(data)
            .arg("--file")
            .arg(nt),
    )?;
    Ok(started.elapsed().as_secs_f64())
}

/// Waits until both of ledgraph's projections have applied the whole log.
fn wait_projected(server: &Server, triples: u64) -> Result<f64> {
    let client = Client::new();
    let started = Instant::now();
    let deadline = started + Duration::from_millis(CATCH_UP_TIMEOUT_MS);
    loop {
        let r = client.readyz(&server.base)?;
        ensure!(
            r.log_size == triples,
            "log holds {} events, expected {triples}",
            r.log_size
        );
        if r.state_applied == r.log_size && r.events_applied == r.log_size {
            return Ok(started.elapsed().as_secs_f64());
        }
        ensure!(
            Instant::now() < deadline,
            "ledgraph's projections did not catch up: {r:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// One warm-up, then `reps` timed requests; returns the median in ms and the row count.
fn time_query(client: &Client, base: &str, q: &Query, reps: usize) -> Result<(f64, usize)> {
    let answer = client
        .query(base, &q.text, q.accept)
        .with_context(|| format!("query {}", q.name))?;
    let count = rows(&answer, q.accept)?;
    let mut samples = Vec::with_capacity(reps);
    for _ in 0..reps {
        let started = Instant::now();
        client.query(base, &q.text, q.accept)?;
        samples.push(started.elapsed().as_secs_f64() * 1e3);
    }
    Ok((median(&samples), count))
}

fn main() -> Result<()> {
    let runs = common::runs()?;
    let reps: usize = env_or("LEDGRAPH_BENCH_QUERY_REPS", 20)?;
    ensure!(reps > 0, "LEDGRAPH_BENCH_QUERY_REPS must be positive");
    let triples = common::dataset_triples()?;
    let queries = queries()?;
    let nt = bsbm::dataset(triples)?;
    let dir = common::temp_dir("ledgraph-bench-query-")?;

    let oxigraph_data = dir.path().join("oxigraph");
    eprintln!("loading {triples} triples into Oxigraph");
    let oxigraph_load_s = load_oxigraph(&oxigraph_data, &nt)?;
    let ledgraph_data = dir.path().join("ledgraph");
    eprintln!("appending {triples} events to a ledgraph log");
    let chunks = bsbm::chunks(&nt, LOG_TRANSACTION_EVENTS)?;
    let log_build_s = common::build_ledgraph_log(&ledgraph_data, &chunks, LOG_BUILD_THREADS)?;
    drop(chunks);
    let ledgraph = Server::start(System::Ledgraph, &ledgraph_data)?;
    eprintln!("waiting for ledgraph's projections");
    let projection_s = wait_projected(&ledgraph, triples)?;
    let oxigraph = Server::start(System::Oxigraph, &oxigraph_data)?;
    emit(
        BENCH,
        "setup",
        vec![
            ("triples", json!(triples)),
            ("oxigraph_bulk_load_s", json!(round(oxigraph_load_s))),
            ("ledgraph_log_append_s", json!(round(log_build_s))),
            ("ledgraph_projection_catch_up_s", json!(round(projection_s))),
            (
                "ledgraph_store_bytes",
                json!(common::disk_bytes(&ledgraph_data.join("store"))),
            ),
            (
                "oxigraph_store_bytes",
                json!(common::disk_bytes(&oxigraph_data)),
            ),
        ],
    );

    let client = Client::new();
    let servers = [&ledgraph, &oxigraph];
    // medians[query][system] = one figure per run
    let mut medians: Vec<[Vec<f64>; 2]> = queries.iter().map(|_| Default::default()).collect();
    let mut counts: Vec<[usize; 2]> = vec![[0; 2]; queries.len()];
    for run in 0..runs {
        for (qi, q) in queries.iter().enumerate() {
            for system in System::order(run + qi) {
                let server = servers[system as usize];
                let (ms, count) = time_query(&client, &server.base, q, reps)?;
                medians[qi][system as usize].push(ms);
                counts[qi][system as usize] = count;
            }
        }
        eprintln!("query run {run} done");
    }

    let mut sums = [0.0f64; 2];
    let mut ratios = Vec::new();
    for (qi, q) in queries.iter().enumerate() {
        let [l, o] = [median(&medians[qi][0]), median(&medians[qi][1])];
        sums[0] += l;
        sums[1] += o;
        ratios.push(l / o);
        emit(
            BENCH,
            &q.name,
            vec![
                ("ledgraph_median_ms", json!(round(l))),
                ("oxigraph_median_ms", json!(round(o))),
                ("ratio", json!(round(l / o))),
                ("rows", json!(counts[qi][0])),
                ("rows_match", json!(counts[qi][0] == counts[qi][1])),
                ("runs", json!(runs)),
                (
                    "median_of",
                    json!(format!("{reps} requests per run, then runs")),
                ),
                ("ledgraph_run_medians_ms", rounded(&medians[qi][0])),
                ("oxigraph_run_medians_ms", rounded(&medians[qi][1])),
            ],
        );
    }
    ledgraph.stop()?;
    oxigraph.stop()?;
    let ratio = sums[0] / sums[1];
    let geomean = (ratios.iter().map(|r| r.ln()).sum::<f64>() / ratios.len() as f64).exp();
    let worst = ratios.iter().copied().fold(f64::NAN, f64::max);
    let mismatched: Vec<&str> = queries
        .iter()
        .zip(&counts)
        .filter(|(_, c)| c[0] != c[1])
        .map(|(q, _)| q.name.as_str())
        .collect();
    emit(
        BENCH,
        "query_mix",
        vec![
            ("ledgraph_mix_ms", json!(round(sums[0]))),
            ("oxigraph_mix_ms", json!(round(sums[1]))),
            ("ratio", json!(round(ratio))),
            ("target", json!(TARGET_RATIO_MAX)),
            ("target_met", json!(ratio <= TARGET_RATIO_MAX)),
            ("geomean_ratio", json!(round(geomean))),
            ("max_ratio", json!(round(worst))),
            ("queries", json!(queries.len())),
            ("rows_mismatch", json!(mismatched)),
            ("triples", json!(triples)),
            ("runs", json!(runs)),
            (
                "median_of",
                json!(format!("{reps} requests per run, then runs")),
            ),
        ],
    );
    Ok(())
}
