//! `ledgraph replay`, `ledgraph store hash` and `ledgraph query`: the store from the command
//! line, with no server running.
//!
//! Commands that read `--data DIR`'s store first bring it up to the log (the projections run
//! on this thread), unless a server holds the log — then the store is opened read-only as it
//! is, with a note on stderr. Query output formatting lives in [`write_results`] so the
//! remote (`--server`) variant can share it. This module does not talk HTTP.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Subcommand, ValueEnum};
use oxigraph::sparql::QueryResults;
use oxigraph::sparql::results::{QueryResultsFormat, QueryResultsSerializer};

use super::{Opened, open_for_reading, progress_bar};
use crate::store::projection::{catch_up, catch_up_events};
use crate::store::replay::{ReplayOptions, replay_from};
use crate::store::{GraphStore, ProjectionConfig, store_dir};

#[derive(Subcommand, Debug)]
pub enum StoreCommand {
    /// Print the canonical dataset hash (hex) of a store.
    Hash {
        /// A store directory (e.g. one built by `replay --into`) instead of --data's store.
        #[arg(long)]
        store: Option<PathBuf>,
    },
}

/// How `query` prints results.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum QueryFormat {
    /// Aligned columns of N-Triples terms.
    #[default]
    Table,
    /// SPARQL 1.1 Query Results JSON.
    Json,
    /// SPARQL 1.1 Query Results CSV.
    Csv,
    /// SPARQL 1.1 Query Results TSV.
    Tsv,
}

pub fn run_store(data: &Path, cmd: StoreCommand) -> anyhow::Result<()> {
    match cmd {
        StoreCommand::Hash { store } => {
            let store = match store {
                Some(dir) => open_replayed_store(data, &dir)?,
                None => open_local_store(data)?,
            };
            println!("{}", hex::encode(store.dataset_hash()?));
            Ok(())
        }
    }
}

/// `ledgraph replay --into DIR [--to SEQ] [--event-graph] [--hash]`.
pub fn run_replay(
    data: &Path,
    into: &Path,
    to: Option<u64>,
    event_graph: bool,
    hash: bool,
) -> anyhow::Result<()> {
    let log = open_for_reading(data)?;
    let bar = progress_bar(log.size(), "replaying");
    let progress = |done: u64, total: u64| {
        bar.set_length(total);
        bar.set_position(done);
    };
    let options = ReplayOptions {
        to,
        event_graph: event_graph || hash,
    };
    let report = replay_from(&log, into, options, &progress)?;
    bar.finish_and_clear();
    if let Opened::Writer(log) = log {
        log.close()?;
    }
    print!(
        "replayed {} events in {} transactions into {}",
        report.events,
        report.transactions,
        into.display(),
    );
    if hash {
        let store = GraphStore::open_read_only(into)?;
        println!("; dataset hash {}", hex::encode(store.dataset_hash()?));
    } else if options.event_graph {
        println!();
    } else {
        println!(" (state; the event graph follows when a server opens the store)");
    }
    if report.reserved_skipped > 0 {
        eprintln!(
            "note: {} events named a reserved graph and were left out of the state",
            report.reserved_skipped
        );
    }
    Ok(())
}

/// `ledgraph query 'QUERY' [--format F]` on the local store.
pub fn run_query(data: &Path, query: &str, format: QueryFormat) -> anyhow::Result<()> {
    run_query_on(&open_local_store(data)?, query, format)
}

/// `ledgraph query --store DIR 'QUERY'`: a store built by `replay` or `replay --select`, read
/// as it is (no log is consulted).
pub fn run_query_in(dir: &Path, query: &str, format: QueryFormat) -> anyhow::Result<()> {
    run_query_on(&GraphStore::open_read_only(dir)?, query, format)
}

fn run_query_on(store: &GraphStore, query: &str, format: QueryFormat) -> anyhow::Result<()> {
    let results = crate::queries::evaluator()
        .parse_query(query)
        .context("parsing the query")?
        .on_store(store.oxigraph())
        .execute()
        .context("evaluating the query")?;
    print_results(results, format)
}

/// A store built by `replay`, its event graph brought up to its state from the log of
/// `data` first (replay leaves it behind unless asked), so the hash covers the same dataset
/// as a live store's.
fn open_replayed_store(data: &Path, dir: &Path) -> anyhow::Result<GraphStore> {
    // Opening read-only first refuses a directory that holds no store (instead of creating one).
    drop(GraphStore::open_read_only(dir)?);
    let log = open_for_reading(data)?;
    let store = GraphStore::open(dir)?;
    let bar = progress_bar(0, "projecting the event graph");
    let progress = |done: u64, total: u64| {
        bar.set_length(total);
        bar.set_position(done);
    };
    catch_up_events(&log, &store, &ProjectionConfig::default(), &progress)?;
    bar.finish_and_clear();
    if let Opened::Writer(log) = log {
        log.close()?;
    }
    Ok(store)
}

/// The store of `data`, brought up to the log unless a server holds it.
fn open_local_store(data: &Path) -> anyhow::Result<GraphStore> {
    let dir = store_dir(data);
    match open_for_reading(data)? {
        Opened::Writer(log) => {
            let store = GraphStore::open(&dir)?;
            let bar = progress_bar(0, "projecting");
            let progress = |done: u64, total: u64| {
                bar.set_length(total);
                bar.set_position(done);
            };
            catch_up(
                log.reader(),
                &store,
                &ProjectionConfig::default(),
                &progress,
            )?;
            bar.finish_and_clear();
            log.close()?;
            Ok(store)
        }
        Opened::Reader(_) => {
            eprintln!(
                "note: a server holds {}; reading its store as it is now",
                data.display()
            );
            Ok(GraphStore::open_read_only(&dir)?)
        }
    }
}

/// [`write_results`] to standard output, buffered.
pub fn print_results(results: QueryResults<'_>, format: QueryFormat) -> anyhow::Result<()> {
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    write_results(results, format, &mut out)?;
    out.flush()?;
    Ok(())
}

/// Writes query results: solutions and booleans in `format`; graphs (CONSTRUCT, DESCRIBE)
/// always as N-Triples.
pub fn write_results(
    results: QueryResults<'_>,
    format: QueryFormat,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let standard = match format {
        QueryFormat::Table => None,
        QueryFormat::Json => Some(QueryResultsFormat::Json),
        QueryFormat::Csv => Some(QueryResultsFormat::Csv),
        QueryFormat::Tsv => Some(QueryResultsFormat::Tsv),
    };
    match (results, standard) {
        (QueryResults::Boolean(value), Some(f)) => {
            QueryResultsSerializer::from_format(f).serialize_boolean_to_writer(&mut *out, value)?;
            if f == QueryResultsFormat::Json {
                writeln!(out)?;
            }
        }
        (QueryResults::Boolean(value), None) => writeln!(out, "{value}")?,
        (QueryResults::Solutions(solutions), Some(f)) => {
            let mut writer = QueryResultsSerializer::from_format(f)
                .serialize_solutions_to_writer(&mut *out, solutions.variables().to_vec())?;
            for solution in solutions {
                writer.serialize(&solution?)?;
            }
            writer.finish()?;
            if f == QueryResultsFormat::Json {
                writeln!(out)?;
            }
        }
        (QueryResults::Solutions(solutions), None) => {
            let header: Vec<String> = solutions
                .variables()
                .iter()
                .map(ToString::to_string)
                .collect();
            let mut rows = Vec::new();
            for solution in solutions {
                let solution = solution?;
                rows.push(
                    solution
                        .values()
                        .iter()
                        .map(|v| v.as_ref().map(ToString::to_string).unwrap_or_default())
                        .collect::<Vec<_>>(),
                );
            }
            write_table(&header, &rows, out)?;
        }
        (QueryResults::Graph(triples), _) => {
            for triple in triples {
                writeln!(out, "{} .", triple?)?;
            }
        }
    }
    Ok(())
}

fn write_table(
    header: &[String],
    rows: &[Vec<String>],
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &[String], out: &mut dyn Write| -> std::io::Result<()> {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        writeln!(out, "| {} |", padded.join(" | "))
    };
    line(header, out)?;
    let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
    writeln!(out, "|-{}-|", rule.join("-|-"))?;
    for row in rows {
        line(row, out)?;
    }
    writeln!(
        out,
        "{} {}",
        rows.len(),
        if rows.len() == 1 { "row" } else { "rows" }
    )?;
    Ok(())
}
