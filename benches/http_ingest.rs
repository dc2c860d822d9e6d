//! Publishing over HTTP: ledgraph (`POST /v1/events`) against the Oxigraph server, the same
//! data, measured in the same run, one system at a time.
//!
//! # Cases
//!
//! 1. `single_event_32c` — one triple per request, distinct per request, from `wrk` with
//!    `LEDGRAPH_BENCH_CONNECTIONS` (32) connections for `LEDGRAPH_BENCH_SECONDS` (20) s:
//!    ledgraph `POST /v1/events` (N-Triples) against Oxigraph `POST /update` (one
//!    `INSERT DATA`). Figure: 2xx responses per second. Target: ledgraph ≥ 4×.
//! 2. `batched_1000` — the BSBM-like data set (`LEDGRAPH_BENCH_TRIPLES`, 1,000,000) in
//!    requests of 1,000 triples from `LEDGRAPH_BENCH_BATCH_CONNECTIONS` (4) client threads:
//!    ledgraph `POST /v1/events` against Oxigraph `POST /store?default` (Graph Store,
//!    N-Triples). The clock stops when the last triple of *every* request is queryable (a
//!    COUNT over a VALUES table of them, polled every 10 ms). Figure: triples per second. Target: ≥ 1.0×. For ledgraph
//!    also the event-graph projection: its lag when the clock stops and the time until
//!    `/readyz` shows `events_applied == log_size`.
//!
//! Every run starts each server on a fresh directory; who goes first alternates between runs.
//! The two servers never run loads at the same time.
//!
//! # Durability is not the same
//!
//! ledgraph answers after `fdatasync` and a signed checkpoint; the Oxigraph server answers
//! after a RocksDB write whose WAL is not synced. The comparison is what each server does by
//! default, not equal guarantees.
//!
//! # How to run
//!
//! `benches/run.sh http_ingest` (installs wrk and Oxigraph first). Environment:
//! `LEDGRAPH_BENCH_RUNS` (3), `LEDGRAPH_BENCH_CASES` (`single_event,batched`), the variables
//! above, `LEDGRAPH_BENCH_WRK_THREADS` (2), `LEDGRAPH_BENCH_DIR` (temp dir; ≈ 3 GB free for
//! 1M triples), `LEDGRAPH_BENCH_CACHE` (data sets). Quick run:
//! `LEDGRAPH_BENCH_RUNS=1 LEDGRAPH_BENCH_SECONDS=3 LEDGRAPH_BENCH_TRIPLES=20000`.
//! Output: JSON lines on stdout (one per system and run, then one summary per case with the
//! medians and `ratio`); progress on stderr.

mod common;

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use common::{Client, Readyz, Server, System, bsbm, emit, env_or, median, round, rounded};
use serde_json::{Value, json};

const BENCH: &str = "http_ingest";
const WRK_SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/wrk/single_event.lua");
const SINGLE_EVENT_TARGET: f64 = 4.0;
const BATCHED_TARGET: f64 = 1.0;
const BATCH_TRIPLES: usize = 1_000;
/// How long the bench waits for the last triples to become queryable, or the event graph to
/// catch up, before it gives up.
const CATCH_UP_TIMEOUT_MS: u64 = 1_800_000;
const POLL_INTERVAL_MS: u64 = 10;
const READYZ_INTERVAL_MS: u64 = 250;

fn main() -> Result<()> {
    let cases = std::env::var("LEDGRAPH_BENCH_CASES").unwrap_or("single_event,batched".into());
    for case in cases.split(',').map(str::trim).filter(|c| !c.is_empty()) {
        match case {
            "single_event" => single_event()?,
            "batched" => batched()?,
            other => bail!("unknown case {other:?} (single_event, batched)"),
        }
    }
    Ok(())
}

// ---- case 1: one event per request, wrk ----

struct WrkResult {
    ok_per_s: f64,
    raw: Value,
}

fn run_wrk(
    system: System,
    base: &str,
    run: usize,
    connections: u32,
    seconds: u32,
) -> Result<WrkResult> {
    let threads: u32 = env_or("LEDGRAPH_BENCH_WRK_THREADS", 2)?;
    let output = common::run_command(
        Command::new("wrk")
            .args(["-t", &threads.to_string(), "-c", &connections.to_string()])
            .args([
                "-d",
                &format!("{seconds}s"),
                "--timeout",
                "30s",
                "-s",
                WRK_SCRIPT,
            ])
            .arg(base)
            .env("BENCH_MODE", system.name())
            .env("BENCH_RUN", run.to_string()),
    )
    .context("wrk (run benches/setup.sh)")?;
    let line = output
        .lines()
        .find_map(|l| l.strip_prefix("BENCH_RESULT "))
        .with_context(|| format!("no BENCH_RESULT line in wrk's output:\n{output}"))?;
    let raw: Value = serde_json::from_str(line).context("wrk BENCH_RESULT")?;
    let get = |k: &str| raw[k].as_f64().unwrap_or(f64::NAN);
    let errors = get("errors_status") + get("errors_connect") + get("errors_timeout");
    ensure!(
        errors == 0.0,
        "{}: wrk saw failed requests ({line}); a bench must not count errors as throughput",
        system.name()
    );
    let ok_per_s = get("requests") / (get("duration_us") / 1e6);
    Ok(WrkResult { ok_per_s, raw })
}

fn single_event() -> Result<()> {
    let runs = common::runs()?;
    let seconds: u32 = env_or("LEDGRAPH_BENCH_SECONDS", 20)?;
    let connections: u32 = env_or("LEDGRAPH_BENCH_CONNECTIONS", 32)?;
    let case = format!("single_event_{connections}c");
    let mut rates: [Vec<f64>; 2] = Default::default();
    let mut cpu: [Vec<f64>; 2] = Default::default();
    for run in 0..runs {
        for system in System::order(run) {
            let dir = common::temp_dir("ledgraph-bench-ingest-")?;
            let server = Server::start(system, &dir.path().join("data"))?;
            let cpu_before = server.cpu_seconds();
            let result = run_wrk(system, &server.base, run, connections, seconds)?;
            let cpu_cores = (server.cpu_seconds() - cpu_before) / f64::from(seconds);
            let mut fields = vec![
                ("system", json!(system.name())),
                ("run", json!(run)),
                ("events_per_s", json!(round(result.ok_per_s))),
                ("server_cpu_cores", json!(round(cpu_cores))),
                ("connections", json!(connections)),
                ("seconds", json!(seconds)),
                ("wrk", result.raw),
            ];
            if system == System::Ledgraph {
                let r = Client::new().readyz(&server.base)?;
                fields.push(("log_size", json!(r.log_size)));
                fields.push(("state_lag_at_end", json!(r.log_size - r.state_applied)));
                fields.push(("events_lag_at_end", json!(r.log_size - r.events_applied)));
            }
            eprintln!(
                "{case} run {run} {}: {:.0} events/s",
                system.name(),
                result.ok_per_s
            );
            emit(BENCH, &case, fields);
            server.stop()?;
            let i = system as usize;
            rates[i].push(result.ok_per_s);
            cpu[i].push(cpu_cores);
        }
    }
    summary(
        &case,
        "events_per_s",
        &rates,
        &cpu,
        SINGLE_EVENT_TARGET,
        vec![
            ("connections", json!(connections)),
            ("seconds", json!(seconds)),
        ],
    );
    Ok(())
}

/// The summary line of a case: medians of both systems and their ratio.
fn summary(
    case: &str,
    unit: &str,
    values: &[Vec<f64>; 2],
    cpu: &[Vec<f64>; 2],
    target: f64,
    extra: Vec<(&str, Value)>,
) {
    let (l, o) = (median(&values[0]), median(&values[1]));
    let ratio = l / o;
    let ratios: Vec<f64> = values[0]
        .iter()
        .zip(&values[1])
        .map(|(a, b)| a / b)
        .collect();
    let mut fields = vec![
        (leak(format!("ledgraph_{unit}")), json!(round(l))),
        (leak(format!("oxigraph_{unit}")), json!(round(o))),
        ("ratio", json!(round(ratio))),
        ("target", json!(target)),
        ("target_met", json!(ratio >= target)),
        ("runs", json!(values[0].len())),
        ("median_of", json!("runs")),
        ("ratio_per_run", rounded(&ratios)),
        ("ledgraph_samples", rounded(&values[0])),
        ("oxigraph_samples", rounded(&values[1])),
        ("ledgraph_server_cpu_cores", json!(round(median(&cpu[0])))),
        ("oxigraph_server_cpu_cores", json!(round(median(&cpu[1])))),
    ];
    fields.extend(extra);
    emit(BENCH, case, fields);
}

fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

// ---- case 2: 1,000 triples per request ----

struct Batched {
    triples_per_s: f64,
    fields: Vec<(&'static str, Value)>,
    cpu_cores: f64,
}

/// Posts every chunk from `connections` threads; returns when all are acknowledged.
fn post_all(
    system: System,
    base: &str,
    chunks: &Arc<Vec<String>>,
    connections: usize,
    mut on_wait: impl FnMut(),
) -> Result<()> {
    let url = match system {
        System::Ledgraph => format!("{base}/v1/events"),
        System::Oxigraph => format!("{base}/store?default"),
    };
    let next = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..connections)
        .map(|_| {
            let (url, next, chunks) = (url.clone(), next.clone(), chunks.clone());
            std::thread::spawn(move || -> Result<()> {
                let client = Client::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(body) = chunks.get(i) else {
                        return Ok(());
                    };
                    client.post_ok(
                        &url,
                        "application/n-triples",
                        "application/json",
                        body.as_bytes(),
                    )?;
                }
            })
        })
        .collect();
    while !workers.iter().all(|w| w.is_finished()) {
        on_wait();
        std::thread::sleep(Duration::from_millis(READYZ_INTERVAL_MS));
    }
    for w in workers {
        w.join()
            .map_err(|_| anyhow::anyhow!("a client thread panicked"))??;
    }
    Ok(())
}

fn wait_until(what: &str, started: Instant, mut done: impl FnMut() -> Result<bool>) -> Result<f64> {
    let deadline = Instant::now() + Duration::from_millis(CATCH_UP_TIMEOUT_MS);
    loop {
        if done()? {
            return Ok(started.elapsed().as_secs_f64());
        }
        ensure!(
            Instant::now() < deadline,
            "{what}: not reached within {CATCH_UP_TIMEOUT_MS} ms"
        );
        std::thread::sleep(Duration::from_millis(POLL_INTERVAL_MS));
    }
}

fn batched_run(
    system: System,
    chunks: &Arc<Vec<String>>,
    probe: &str,
    triples: u64,
    connections: usize,
) -> Result<Batched> {
    let dir = common::temp_dir("ledgraph-bench-batched-")?;
    let data = dir.path().join("data");
    let server = Server::start(system, &data)?;
    let client = Client::new();
    let base = server.base.clone();
    let cpu_before = server.cpu_seconds();
    let mut max_state_lag = 0u64;
    let started = Instant::now();
    post_all(system, &base, chunks, connections, || {
        if system == System::Ledgraph
            && let Ok(r) = client.readyz(&base)
        {
            max_state_lag = max_state_lag.max(r.log_size - r.state_applied);
        }
    })?;
    let acked_s = started.elapsed().as_secs_f64();
    let queryable_s = wait_until("last triples queryable", started, || {
        Ok(client.count(&base, probe)? == chunks.len() as u64)
    })?;
    let triples_per_s = triples as f64 / queryable_s;
    let mut fields = vec![
        ("triples", json!(triples)),
        ("triples_per_s", json!(round(triples_per_s))),
        ("all_acked_s", json!(round(acked_s))),
        ("queryable_s", json!(round(queryable_s))),
    ];
    if system == System::Ledgraph {
        let at_queryable = client.readyz(&base)?;
        ensure!(
            at_queryable.log_size == triples,
            "ledgraph log holds {} events, expected {triples}",
            at_queryable.log_size
        );
        let caught_up_s = wait_until("event graph caught up", started, || {
            let r: Readyz = client.readyz(&base)?;
            Ok(r.events_applied >= r.log_size)
        })?;
        fields.extend([
            ("max_state_lag_events_sampled", json!(max_state_lag)),
            (
                "events_lag_at_queryable",
                json!(at_queryable.log_size - at_queryable.events_applied),
            ),
            ("event_graph_caught_up_s", json!(round(caught_up_s))),
            (
                "event_graph_lag_after_queryable_s",
                json!(round(caught_up_s - queryable_s)),
            ),
        ]);
    }
    // CPU over the timed part (to queryable) would need a sample at that instant; over the whole
    // run including the event graph's catch-up is what the server spent on this load.
    let cpu_cores = (server.cpu_seconds() - cpu_before) / started.elapsed().as_secs_f64();
    fields.push(("server_cpu_cores", json!(round(cpu_cores))));
    server.stop()?;
    fields.push(("disk_bytes", json!(common::disk_bytes(&data))));
    Ok(Batched {
        triples_per_s,
        fields,
        cpu_cores,
    })
}

fn batched() -> Result<()> {
    let runs = common::runs()?;
    let triples = common::dataset_triples()?;
    let connections: usize = env_or("LEDGRAPH_BENCH_BATCH_CONNECTIONS", 4)?;
    let path = bsbm::dataset(triples)?;
    let chunks = Arc::new(bsbm::chunks(&path, BATCH_TRIPLES)?);
    // One row per request: its last triple. A VALUES table, not a 1,000-pattern ASK, whose
    // recursion overflows the Oxigraph server's stack (it aborts).
    let rows: Vec<String> = chunks
        .iter()
        .map(|c| {
            bsbm::last_triple_pattern(c)
                .map(|t| format!("({t})"))
                .context("empty chunk")
        })
        .collect::<Result<_>>()?;
    let probe = format!(
        "SELECT (COUNT(*) AS ?n) WHERE {{ VALUES (?s ?p ?o) {{\n{}\n}} ?s ?p ?o }}",
        rows.join("\n")
    );
    let case = format!("batched_{BATCH_TRIPLES}");
    let mut rates: [Vec<f64>; 2] = Default::default();
    let mut cpu: [Vec<f64>; 2] = Default::default();
    let mut lag: Vec<f64> = Vec::new();
    let mut catch_up: Vec<f64> = Vec::new();
    for run in 0..runs {
        for system in System::order(run) {
            let r = batched_run(system, &chunks, &probe, triples, connections)?;
            eprintln!(
                "{case} run {run} {}: {:.0} triples/s",
                system.name(),
                r.triples_per_s
            );
            let mut fields = vec![("system", json!(system.name())), ("run", json!(run))];
            for (k, v) in &r.fields {
                match *k {
                    "events_lag_at_queryable" => lag.push(v.as_f64().unwrap_or(f64::NAN)),
                    "event_graph_caught_up_s" => catch_up.push(v.as_f64().unwrap_or(f64::NAN)),
                    _ => {}
                }
            }
            fields.extend(r.fields);
            fields.push(("connections", json!(connections)));
            emit(BENCH, &case, fields);
            rates[system as usize].push(r.triples_per_s);
            cpu[system as usize].push(r.cpu_cores);
        }
    }
    summary(
        &case,
        "triples_per_s",
        &rates,
        &cpu,
        BATCHED_TARGET,
        vec![
            ("triples", json!(triples)),
            ("batch_triples", json!(BATCH_TRIPLES)),
            ("connections", json!(connections)),
            (
                "ledgraph_events_lag_at_queryable",
                json!(round(median(&lag))),
            ),
            (
                "ledgraph_event_graph_caught_up_s",
                json!(round(median(&catch_up))),
            ),
        ],
    );
    Ok(())
}
