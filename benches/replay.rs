//! Rebuilding a store: `ledgraph replay` of a log of N events against `oxigraph load` of the
//! same N triples (N-Triples file), in the same run, one at a time.
//!
//! The log holds the BSBM-like data set (`LEDGRAPH_BENCH_TRIPLES`, 1,000,000) as 1,000-event
//! transactions, built once through the library. Each run times, on a fresh target directory:
//!
//! - ledgraph: `ledgraph --data LOG replay --into DIR` — the whole command, which reads and
//!   checks every event against its Merkle leaf and writes the state (N quads) with the bulk
//!   loader, plus the cursors. The event graph (8 quads per event) is left to its own
//!   projection, as `replay` does by default; `replay --event-graph` writes it too (not
//!   timed here: on 1M events it writes 8M more quads, ~145 s on this machine).
//! - Oxigraph: `oxigraph load --location DIR --file DATA.nt`.
//!
//! Figure: input triples per second (N ÷ wall time). `ratio` = ledgraph ÷ Oxigraph, target
//! ≥ 0.8. The first run also counts what the replayed store holds (state and event-graph
//! quads, read with `oxigraph query`, whose storage format is the same) and both stores'
//! sizes on disk.
//!
//! `benches/run.sh replay`. Environment: `LEDGRAPH_BENCH_RUNS` (3), `LEDGRAPH_BENCH_TRIPLES`,
//! `LEDGRAPH_BENCH_DIR` (≈ 4 GB free for 1M), `LEDGRAPH_BENCH_CACHE`.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result};
use common::{System, bsbm, emit, median, round, rounded};
use serde_json::json;

const BENCH: &str = "replay";
const TARGET_RATIO_MIN: f64 = 0.8;
const LOG_TRANSACTION_EVENTS: usize = 1_000;
const LOG_BUILD_THREADS: usize = 4;
const COUNT_QUERY: &str =
    "SELECT ?g (COUNT(*) AS ?n) WHERE { { ?s ?p ?o } UNION { GRAPH ?g { ?s ?p ?o } } } GROUP BY ?g";

fn timed(command: &mut Command) -> Result<(f64, String)> {
    let started = Instant::now();
    let out = common::run_command(command)?;
    Ok((started.elapsed().as_secs_f64(), out))
}

fn ledgraph_replay(log: &Path, into: &Path) -> Result<(f64, String)> {
    let (replay_s, out) = timed(
        Command::new(common::ledgraph_bin())
            .arg("--data")
            .arg(log)
            .arg("replay")
            .arg("--into")
            .arg(into),
    )?;
    Ok((replay_s, out.trim().to_owned()))
}

/// Quads per graph of a store directory, read with the Oxigraph CLI (same storage version).
fn count_quads(store: &Path) -> Result<String> {
    let out = common::run_command(
        Command::new(common::oxigraph_bin()?)
            .arg("query")
            .arg("--location")
            .arg(store)
            .args(["--query", COUNT_QUERY, "--results-format", "csv"]),
    )?;
    Ok(out.lines().skip(1).collect::<Vec<_>>().join("; "))
}

fn main() -> Result<()> {
    let runs = common::runs()?;
    let triples = common::dataset_triples()?;
    let nt = bsbm::dataset(triples)?;
    let dir = common::temp_dir("ledgraph-bench-replay-")?;
    let log = dir.path().join("log");
    eprintln!("appending {triples} events to a ledgraph log");
    let chunks = bsbm::chunks(&nt, LOG_TRANSACTION_EVENTS)?;
    let build_s = common::build_ledgraph_log(&log, &chunks, LOG_BUILD_THREADS)?;
    drop(chunks);
    emit(
        BENCH,
        "setup",
        vec![
            ("events", json!(triples)),
            (
                "transactions",
                json!(triples.div_ceil(LOG_TRANSACTION_EVENTS as u64)),
            ),
            ("log_build_s", json!(round(build_s))),
            ("log_bytes", json!(common::disk_bytes(&log.join("log")))),
            ("nt_bytes", json!(common::disk_bytes(&nt))),
        ],
    );
    let mut seconds: [Vec<f64>; 2] = Default::default();
    for run in 0..runs {
        for system in System::order(run) {
            let into = dir.path().join(format!("{}-{run}", system.name()));
            let mut fields = vec![("system", json!(system.name())), ("run", json!(run))];
            let wall = match system {
                System::Ledgraph => {
                    let (replay_s, said) = ledgraph_replay(&log, &into)?;
                    fields.extend([("wall_s", json!(round(replay_s))), ("output", json!(said))]);
                    replay_s
                }
                System::Oxigraph => {
                    let mut command = Command::new(common::oxigraph_bin()?);
                    command
                        .arg("load")
                        .arg("--location")
                        .arg(&into)
                        .arg("--file")
                        .arg(&nt);
                    let (s, _) = timed(&mut command)?;
                    fields.push(("wall_s", json!(round(s))));
                    s
                }
            };
            fields.push(("triples_per_s", json!(round(triples as f64 / wall))));
            fields.push(("store_bytes", json!(common::disk_bytes(&into))));
            if run == 0 {
                let counts = count_quads(&into).context("counting the replayed quads")?;
                fields.push(("quads_by_graph", json!(counts)));
            }
            eprintln!("replay run {run} {}: {wall:.1} s", system.name());
            emit(BENCH, "replay", fields);
            seconds[system as usize].push(wall);
            std::fs::remove_dir_all(&into).with_context(|| format!("remove {}", into.display()))?;
        }
    }
    let rate = |s: &[f64]| s.iter().map(|w| triples as f64 / w).collect::<Vec<_>>();
    let (l, o) = (rate(&seconds[0]), rate(&seconds[1]));
    let (lm, om) = (median(&l), median(&o));
    emit(
        BENCH,
        "replay_summary",
        vec![
            ("ledgraph_triples_per_s", json!(round(lm))),
            ("oxigraph_triples_per_s", json!(round(om))),
            ("ratio", json!(round(lm / om))),
            ("target", json!(TARGET_RATIO_MIN)),
            ("target_met", json!(lm / om >= TARGET_RATIO_MIN)),
            ("triples", json!(triples)),
            ("runs", json!(runs)),
            ("median_of", json!("runs")),
            ("ledgraph_wall_s", rounded(&seconds[0])),
            ("oxigraph_wall_s", rounded(&seconds[1])),
        ],
    );
    Ok(())
}
