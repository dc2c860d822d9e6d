//! Waiting, off the executor, for a projection of the log to reach a size before answering.
//!
//! Reads wait so a client sees its own acknowledged writes; `asOf` and named queries wait for
//! the event graph they read. Past `state_wait_ms` the request gets 503 with how far the
//! projection has got, never a stale answer.

use std::time::Duration;

use super::{AppError, AppState};
use crate::store::Projections;

/// The projection a request reads.
#[derive(Debug, Clone, Copy)]
pub enum Projection {
    /// The state graph (what `/sparql` queries).
    State,
    /// The event graph `urn:ledgraph:log` (history, audit, `asOf`).
    Events,
}

impl Projection {
    fn applied(self, projections: &Projections) -> u64 {
        match self {
            Projection::State => projections.state_applied(),
            Projection::Events => projections.events_applied(),
        }
    }

    fn wait(self, projections: &Projections, size: u64, wait: Duration) -> bool {
        match self {
            Projection::State => projections.wait_state(size, wait),
            Projection::Events => projections.wait_events(size, wait),
        }
    }

    fn busy(self) -> &'static str {
        match self {
            Projection::State => "the store is still applying the log",
            Projection::Events => "the event graph is still indexing the log",
        }
    }
}

/// Returns once `which` holds the first `size` events, or 503 after `state_wait_ms`;
/// `context` (e.g. "asOf 12: ") prefixes the 503 message.
pub async fn wait_for(
    state: &AppState,
    which: Projection,
    size: u64,
    context: &str,
) -> Result<(), AppError> {
    if which.applied(&state.projections) >= size {
        return Ok(());
    }
    let projections = state.projections.clone();
    let wait = Duration::from_millis(state.limits.state_wait_ms);
    let caught_up = tokio::task::spawn_blocking(move || which.wait(&projections, size, wait))
        .await
        .map_err(AppError::internal)?;
    if caught_up {
        Ok(())
    } else {
        Err(AppError::Unavailable(format!(
            "{context}{} (at {} of {size} events); retry shortly",
            which.busy(),
            which.applied(&state.projections)
        )))
    }
}
