//! `ledgraph query --as-of SEQ|TIME 'QUERY'` on the local store: the query evaluated on the
//! state at a past log size (or after every transaction committed by an RFC 3339 instant).
//!
//! The store is brought up to the log first (both projections, as `query` does), so the
//! event graph indexes the whole history; with a server holding the log, the store is read as
//! it is and events the event graph has not indexed yet are read from the log (up to
//! [`AsOfLimits::unindexed_events_max`]). The time-travel model is `store::as_of`'s; this
//! module only opens things and prints. `--server` goes through [`super::client`] instead.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;

use super::store_cmd::{QueryFormat, print_results};
use super::{Opened, open_for_reading, progress_bar};
use crate::log::{Log, LogReader};
use crate::store::as_of::{AsOfDataset, AsOfLimits, AsOfSpec, resolve};
use crate::store::projection::catch_up;
use crate::store::{GraphStore, ProjectionConfig, store_dir};

/// Runs `query` on the state `as_of` names; prints the size it resolved to on stderr.
pub fn run_query_as_of(
    data: &Path,
    query: &str,
    format: QueryFormat,
    as_of: &str,
) -> anyhow::Result<()> {
    let spec: AsOfSpec = as_of.parse()?;
    let prepared = crate::queries::evaluator()
        .parse_query(query)
        .context("parsing the query")?;
    let (store, reader, writer) = open(data)?;
    let result = (|| {
        let size = resolve(&reader, spec)?;
        eprintln!("as of log size {size}");
        let past = AsOfDataset::new(&store, reader.clone(), size, &AsOfLimits::default())?;
        let results = prepared
            .on_queryable_dataset(past)
            .execute()
            .context("evaluating the query")?;
        print_results(results, format)
    })();
    if let Some(log) = writer {
        log.close()?;
    }
    result
}

/// The store brought up to the log (unless a server holds it), the log's reader, and the log
/// itself when this process opened it for writing (to close it cleanly).
pub(super) fn open(data: &Path) -> anyhow::Result<(GraphStore, Arc<LogReader>, Option<Log>)> {
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
            Ok((store, log.reader().clone(), Some(log)))
        }
        Opened::Reader(reader) => {
            eprintln!(
                "note: a server holds {}; reading its store as it is now",
                data.display()
            );
            Ok((GraphStore::open_read_only(&dir)?, Arc::from(reader), None))
        }
    }
}
