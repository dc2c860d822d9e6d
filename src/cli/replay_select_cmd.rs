//! `ledgraph replay --select queries/replay/NAME.rq [--param k=v] --into DIR`: a store built
//! from only the events a selection query picks — "the graph without actor X's events".
//!
//! The selection is a named query returning `?seq` ([`crate::queries`], header and parameters
//! as usual): a file given by path is read from disk (so custom selections work), and a path
//! or name of a built-in one (`queries/replay/except-actor.rq`, `replay/except-actor`) falls
//! back to the copy compiled into the binary, so it works from any directory. It runs on
//! `--data`'s store, brought up to the log first (as `query` does), then the selected events
//! are applied in log order to a new store ([`crate::store::replay::replay_selected`]).

use std::path::Path;

use anyhow::{Context, bail};

use super::queries_cmd::{builtin, parse_params, select_seqs};
use super::{as_of_cmd, progress_bar};
use crate::queries::NamedQuery;
use crate::store::GraphStore;
use crate::store::replay::replay_selected;

/// Largest selection file read, in bytes.
pub const SELECTION_FILE_BYTES_MAX: u64 = 1 << 20;

/// The selection `select` names: a file on disk, else a built-in query.
pub fn load_selection(select: &str) -> anyhow::Result<NamedQuery> {
    let path = Path::new(select);
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let group = path
        .parent()
        .and_then(Path::file_name)
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "replay".to_owned());
    let name = format!("{group}/{stem}");
    if path.is_file() {
        let size = std::fs::metadata(path)?.len();
        if size > SELECTION_FILE_BYTES_MAX {
            bail!("{select}: {size} bytes, the limit is {SELECTION_FILE_BYTES_MAX}");
        }
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {select}"))?;
        return Ok(NamedQuery::parse(&name, &text)?);
    }
    let name = select
        .trim_start_matches("./")
        .trim_start_matches("queries/")
        .trim_end_matches(".rq");
    builtin(name)
        .cloned()
        .with_context(|| format!("{select} is neither a file nor a built-in selection"))
}

pub fn run(data: &Path, select: &str, raw_params: &[String], into: &Path) -> anyhow::Result<()> {
    let query = load_selection(select)?;
    let params = parse_params(raw_params)?;
    // Parameters are checked before the store is opened.
    query.bind(&params, 0, false)?;
    let mut selection = query.name.clone();
    for (k, v) in &params {
        selection.push_str(&format!(" {k}={v}"));
    }
    let (store, reader, writer) = as_of_cmd::open(data)?;
    let result = (|| {
        let indexed = store.cursors()?.events.min(reader.size());
        if indexed < reader.size() {
            eprintln!(
                "note: the event graph has indexed {indexed} of {} events; selecting among those",
                reader.size()
            );
        }
        let seqs = select_seqs(&store, &query, &params, indexed)?;
        let bar = progress_bar(seqs.len() as u64, "replaying the selection");
        let progress = |done: u64, total: u64| {
            bar.set_length(total);
            bar.set_position(done);
        };
        let report = replay_selected(&reader, into, &seqs, &selection, &progress)?;
        bar.finish_and_clear();
        let hash = GraphStore::open_read_only(into)?.dataset_hash()?;
        println!(
            "replayed {} of {indexed} events selected by {selection} into {}; dataset hash {}",
            report.events,
            into.display(),
            hex::encode(hash)
        );
        if report.reserved_skipped > 0 {
            eprintln!(
                "note: {} selected events named a reserved graph and were left out of the state",
                report.reserved_skipped
            );
        }
        Ok(())
    })();
    if let Some(log) = writer {
        log.close()?;
    }
    result
}
