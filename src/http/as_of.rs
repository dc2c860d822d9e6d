//! `asOf` on SPARQL queries: the parameter, its errors and the `Ledgraph-As-Of` header.
//!
//! `asOf=SEQ` (a log size) or `asOf=TIME` (RFC 3339) evaluates a query on the state after the
//! first `SEQ` events, or after every transaction committed by `TIME` — see
//! [`crate::store::as_of`] for how, and what it costs. The response names the log size it
//! answered for in `Ledgraph-As-Of`. A value that is unparsable, past the log's end or inside
//! a transaction is a 400; updates take no `asOf` (the past is read-only). When the
//! event-graph projection lags the requested size by more than
//! [`AsOfLimits::unindexed_events_max`], the request waits for it like reads wait for the
//! state (`state_wait_ms`, then 503). This module does not evaluate anything itself.

use std::sync::Arc;

use axum::http::HeaderValue;
use axum::http::header::HeaderName;
use oxigraph::sparql::CancellationToken;

use super::{AppError, AppState};
use crate::log::LogReader;
use crate::store::GraphStore;
use crate::store::as_of::{AsOfDataset, AsOfError, AsOfLimits, AsOfSpec, ReadCounter, resolve};

/// The response header naming the log size a time-travel query answered for.
pub const AS_OF_HEADER: HeaderName = HeaderName::from_static("ledgraph-as-of");
/// The query parameter.
pub const AS_OF_PARAM: &str = "asOf";

/// The one `asOf` value among a request's parameters, if any (400 for several).
pub fn single(values: &[String]) -> Result<Option<&str>, AppError> {
    match values {
        [] => Ok(None),
        [one] => Ok(Some(one)),
        more => Err(AppError::bad_request(format!(
            "expected at most one \"{AS_OF_PARAM}\" parameter, got {}",
            more.len()
        ))),
    }
}

/// Parses and resolves `asOf` against the log (400 when it names no state of the log), then
/// waits until the event graph is close enough to that size (503 if it does not get there
/// within `state_wait_ms`). Returns the log size.
pub async fn prepare(state: &AppState, value: &str) -> Result<u64, AppError> {
    let spec: AsOfSpec = value.parse().map_err(from_as_of)?;
    let reader = state.log.reader().clone();
    let size = tokio::task::spawn_blocking(move || resolve(&reader, spec))
        .await
        .map_err(AppError::internal)?
        .map_err(from_as_of)?;
    let unindexed_max = state.limits.as_of.unindexed_events_max;
    let needed = size.saturating_sub(unindexed_max);
    super::catch_up::wait_for(
        state,
        super::catch_up::Projection::Events,
        needed,
        &format!("asOf {size}: "),
    )
    .await?;
    Ok(size)
}

/// The state at `size` (call it on a blocking thread: it reads the unindexed tail of the log).
pub fn dataset(
    store: &GraphStore,
    log: Arc<LogReader>,
    size: u64,
    limits: &AsOfLimits,
    cancel: CancellationToken,
) -> Result<AsOfDataset, AppError> {
    AsOfDataset::new(store, log, size, limits)
        .map(|d| d.with_cancellation_token(cancel))
        .map_err(from_as_of)
}

/// Counts a time-travel query and what it read (`ledgraph_as_of_queries_total`,
/// `ledgraph_as_of_log_records_read`): the records per query show whether queries stay on
/// bound subjects or scan the history.
pub fn record(reads: &ReadCounter) {
    metrics::counter!("ledgraph_as_of_queries_total").increment(1);
    metrics::histogram!("ledgraph_as_of_log_records_read").record(reads.events() as f64);
}

/// The `Ledgraph-As-Of` header for `size`.
pub fn header(size: u64) -> (HeaderName, HeaderValue) {
    (AS_OF_HEADER, HeaderValue::from(size))
}

/// The status a time-travel error gets.
pub fn from_as_of(e: AsOfError) -> AppError {
    match &e {
        _ if e.is_bad_request() => AppError::bad_request(e.to_string()),
        AsOfError::NotIndexed { .. } => AppError::Unavailable(format!("{e}; retry shortly")),
        AsOfError::Cancelled => AppError::Unavailable("the query was cancelled".into()),
        _ => AppError::internal(e),
    }
}

/// The error a query evaluation stopped on, when it came from the time-travel dataset.
pub fn from_evaluation(e: &oxigraph::sparql::QueryEvaluationError) -> Option<AppError> {
    let inner = AsOfError::of_evaluation(e)?;
    Some(match inner {
        AsOfError::Cancelled => AppError::Unavailable("the query was cancelled".into()),
        AsOfError::NotIndexed { .. } => AppError::Unavailable(format!("{inner}; retry shortly")),
        other => AppError::internal(other),
    })
}
