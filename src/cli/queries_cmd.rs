//! `ledgraph query --named NAME --param k=v [--as-of SEQ|TIME]` on the local store: a named
//! query of [`crate::queries`] with its parameters bound as terms.
//!
//! The store is brought up to the log first (both projections, as `query` does), so the event
//! graph the audit, metrics and replay queries read is complete; `?logSize` is the log's size,
//! or the size `--as-of` resolves to. With a server holding the log the store is read as it is,
//! and `?logSize` is what its event graph has indexed. `--server` goes through
//! [`super::client::named_query_remote`] instead. Shared with `replay --select`:
//! [`parse_params`] and [`select_seqs`].

use std::path::Path;

use anyhow::{Context, bail};
use oxigraph::sparql::QueryResults;
use oxrdf::Term;

use super::as_of_cmd;
use super::store_cmd::{QueryFormat, print_results};
use crate::queries::{Catalog, NamedQuery};
use crate::store::GraphStore;
use crate::store::as_of::{AsOfSpec, resolve};

/// `k=v` pairs from `--param`.
pub fn parse_params(raw: &[String]) -> anyhow::Result<Vec<(String, String)>> {
    raw.iter()
        .map(|p| match p.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
            _ => bail!("--param {p:?}: expected NAME=VALUE"),
        })
        .collect()
}

/// A built-in query by name (`audit/subject-history`).
pub fn builtin(name: &str) -> anyhow::Result<&'static NamedQuery> {
    let catalog = Catalog::builtin().map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(catalog.get(name)?)
}

/// Checks a name before it goes into a URL path.
pub fn check_name(name: &str) -> anyhow::Result<()> {
    let ok = name.split('/').all(|part| {
        !part.is_empty()
            && part
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    });
    if !ok || name.matches('/').count() != 1 {
        bail!("{name:?} is not a query name like audit/subject-history");
    }
    Ok(())
}

/// Runs the named query on the local store and prints its results.
pub fn run_named_local(
    data: &Path,
    name: &str,
    raw_params: &[String],
    format: QueryFormat,
    as_of: Option<&str>,
) -> anyhow::Result<()> {
    let query = builtin(name)?;
    let params = parse_params(raw_params)?;
    // Parameters are checked before the store is opened (which may take a while).
    query.bind(&params, 0, as_of.is_some())?;
    let spec: Option<AsOfSpec> = as_of.map(str::parse).transpose()?;
    let as_of_given = spec.is_some();
    let (store, reader, writer) = as_of_cmd::open(data)?;
    let result = (|| {
        let indexed = store.cursors()?.events.min(reader.size());
        let log_size = match spec {
            Some(spec) => {
                let size = resolve(&reader, spec)?;
                eprintln!("as of log size {size}");
                if size > indexed {
                    bail!(
                        "the event graph has indexed {indexed} events, not yet {size}; retry when the server has caught up"
                    );
                }
                size
            }
            None => indexed,
        };
        let bound = query.bind(&params, log_size, as_of_given)?;
        let results = crate::queries::evaluator()
            .for_query(bound)
            .on_store(store.oxigraph())
            .execute()
            .context("evaluating the query")?;
        print_results(results, format)
    })();
    if let Some(log) = writer {
        log.close()?;
    }
    result
}

/// Most events a replay selection may name (they are held in memory, 8 bytes each).
pub const SELECTED_EVENTS_MAX: usize = 100_000_000;

/// Runs a replay selection (`SELECT ?seq …`) bound with `params` on `store` and returns the
/// selected log positions below `log_size`, sorted and without duplicates.
pub fn select_seqs(
    store: &GraphStore,
    query: &NamedQuery,
    params: &[(String, String)],
    log_size: u64,
) -> anyhow::Result<Vec<u64>> {
    let bound = query.bind(params, log_size, false)?;
    let results = crate::queries::evaluator()
        .for_query(bound)
        .on_store(store.oxigraph())
        .execute()
        .with_context(|| format!("evaluating {}", query.name))?;
    let QueryResults::Solutions(solutions) = results else {
        bail!("{}: a replay selection is a SELECT of ?seq", query.name);
    };
    if !solutions.variables().iter().any(|v| v.as_str() == "seq") {
        bail!("{}: a replay selection must select ?seq", query.name);
    }
    let mut seqs = Vec::new();
    for solution in solutions {
        let solution = solution?;
        let Some(Term::Literal(seq)) = solution.get("seq") else {
            bail!("{}: a solution without an integer ?seq", query.name);
        };
        let seq: u64 = seq
            .value()
            .parse()
            .with_context(|| format!("{}: ?seq {seq} is not a log position", query.name))?;
        if seq >= log_size {
            bail!(
                "{}: ?seq {seq} is past the log's {log_size} events",
                query.name
            );
        }
        seqs.push(seq);
        if seqs.len() > SELECTED_EVENTS_MAX {
            bail!(
                "{}: more than {SELECTED_EVENTS_MAX} events selected",
                query.name
            );
        }
    }
    seqs.sort_unstable();
    seqs.dedup();
    Ok(seqs)
}
