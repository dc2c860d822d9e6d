//! `GET /v1/subscribe`: the bus ([`crate::bus`]) as Server-Sent Events.
//!
//! Parameters `s`, `p`, `o` (N-Triples terms, as in `POST /v1/events` JSON; `s` and `p` may
//! also be bare IRIs), `op` (`add`/`remove`), `from` (a log position; default: now) and
//! `format` (`json`, the default, or `rdf-patch`, also chosen by `Accept:
//! application/rdf-patch`); `limit` ends the stream after that many events. Each event's SSE `id:` is its log position, so a reconnecting
//! client's `Last-Event-ID` resumes just after it (and wins over `from`). Needs the `read`
//! scope; each token may hold at most [`Limits::subscribers_per_token_max`] streams.
//!
//! Each stream runs its subscription on a blocking thread (the bus's receiver blocks); it ends
//! when the client goes away or the bus stops. Not here: WebSocket, CloudEvents payloads,
//! alert topics.
//!
//! [`Limits::subscribers_per_token_max`]: super::Limits::subscribers_per_token_max

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, header};
use axum::response::IntoResponse;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use oxrdf::{GraphName, NamedOrBlankNode, Term};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::auth::Scope;
use super::error::{AppError, query_params};
use crate::bus::{BusError, BusItem, Pattern, Start, Subscription, TriplePattern};
use crate::event::Op;
use crate::event::input::parse_iri;

/// How often a stream with nothing to send checks whether its client is still there.
const IDLE_CHECK_MS: u64 = 1_000;
/// Events a stream may have encoded and not yet written to its connection.
const STREAM_EVENTS_BUFFERED_MAX: usize = 256;

#[derive(Deserialize)]
struct Params {
    s: Option<String>,
    p: Option<String>,
    o: Option<String>,
    op: Option<String>,
    from: Option<String>,
    format: Option<String>,
    /// End the stream after this many events (none: never).
    limit: Option<u64>,
}

#[derive(Clone, Copy)]
enum Format {
    Json,
    RdfPatch,
}

/// Open streams per token name.
#[derive(Debug, Default)]
pub struct SubscriberCounts(Mutex<HashMap<String, usize>>);

/// One stream's place in [`SubscriberCounts`]; released on drop.
struct Slot {
    counts: Arc<SubscriberCounts>,
    token: String,
}

impl SubscriberCounts {
    fn take(self: &Arc<Self>, token: &str, max: usize) -> Result<Slot, AppError> {
        let mut counts = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let count = counts.entry(token.to_owned()).or_default();
        if *count >= max {
            return Err(AppError::TooManyRequests(format!(
                "this token already holds {max} subscriptions (subscribers_per_token_max)"
            )));
        }
        *count += 1;
        Ok(Slot {
            counts: self.clone(),
            token: token.to_owned(),
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut counts = self.counts.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(count) = counts.get_mut(&self.token) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                counts.remove(&self.token);
            }
        }
    }
}

pub async fn subscribe(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<impl IntoResponse, AppError> {
    let token = state.authorize(&headers, Scope::Read)?;
    let params: Params = query_params(raw.as_deref())?;
    let term_max = state.limits.subscribe_term_bytes_max;
    let pattern = pattern(&params, term_max)?;
    let format = format(params.format.as_deref(), &headers)?;
    let start = start(&params, &headers, state.log.size())?;
    if state.is_shutting_down() {
        return Err(AppError::Unavailable("the server is shutting down".into()));
    }
    let slot = state
        .subscriber_counts
        .take(&token, state.limits.subscribers_per_token_max)?;
    let subscription = state
        .bus
        .subscribe(Pattern::Triple(pattern), start)
        .map_err(|e| AppError::Unavailable(e.to_string()))?;
    let (tx, rx) = tokio::sync::mpsc::channel(STREAM_EVENTS_BUFFERED_MAX);
    let limit = params.limit.unwrap_or(u64::MAX);
    tokio::task::spawn_blocking(move || pump(subscription, slot, format, limit, &tx));
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|event| (event, rx))
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

/// Moves events from the subscription to the connection until either ends.
fn pump(
    mut subscription: Subscription,
    _slot: Slot,
    format: Format,
    limit: u64,
    tx: &tokio::sync::mpsc::Sender<Result<SseEvent, std::convert::Infallible>>,
) {
    let mut sent = 0;
    while sent < limit {
        match subscription.recv_timeout(Duration::from_millis(IDLE_CHECK_MS)) {
            Ok(Some(item)) => {
                if tx.blocking_send(Ok(sse_event(&item, format))).is_err() {
                    return;
                }
                sent += 1;
            }
            Ok(None) if tx.is_closed() => return,
            Ok(None) => {}
            Err(BusError::Closed(_)) => return,
            Err(e) => {
                tracing::error!(error = %e, "subscription stream stopped");
                return;
            }
        }
    }
}

#[derive(Serialize)]
struct ItemJson {
    seq: u64,
    op: &'static str,
    s: String,
    p: String,
    o: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    g: Option<String>,
    ends_transaction: bool,
}

fn sse_event(item: &BusItem, format: Format) -> SseEvent {
    let quad = &item.quad;
    let graph = match &quad.graph_name {
        GraphName::DefaultGraph => None,
        other => Some(other.to_string()),
    };
    let data = match format {
        Format::Json => {
            let json = ItemJson {
                seq: item.seq,
                op: item.op.as_str(),
                s: quad.subject.to_string(),
                p: quad.predicate.to_string(),
                o: quad.object.to_string(),
                g: graph,
                ends_transaction: item.ends_transaction,
            };
            // Serializing strings and numbers cannot fail.
            serde_json::to_string(&json).unwrap_or_default()
        }
        Format::RdfPatch => {
            let row = if item.op == Op::Add { "A" } else { "D" };
            match graph {
                Some(g) => format!(
                    "{row} {} {} {} {g} .",
                    quad.subject, quad.predicate, quad.object
                ),
                None => format!(
                    "{row} {} {} {} .",
                    quad.subject, quad.predicate, quad.object
                ),
            }
        }
    };
    SseEvent::default().id(item.seq.to_string()).data(data)
}

fn pattern(params: &Params, term_max: usize) -> Result<TriplePattern, AppError> {
    for (name, value) in [("s", &params.s), ("p", &params.p), ("o", &params.o)] {
        if let Some(v) = value
            && v.len() > term_max
        {
            return Err(AppError::bad_request(format!(
                "{name}: {} bytes is over the limit of {term_max} (subscribe_term_bytes_max)",
                v.len()
            )));
        }
    }
    let subject = match params.s.as_deref() {
        None => None,
        Some(s) if s.starts_with("_:") => match Term::from_str(s) {
            Ok(Term::BlankNode(b)) => Some(NamedOrBlankNode::BlankNode(b)),
            _ => {
                return Err(AppError::bad_request(format!(
                    "s: invalid blank node {s:?}"
                )));
            }
        },
        Some(s) => Some(NamedOrBlankNode::NamedNode(
            parse_iri(s).map_err(|e| AppError::bad_request(format!("s: {e}")))?,
        )),
    };
    let predicate = match params.p.as_deref() {
        None => None,
        Some(p) => Some(parse_iri(p).map_err(|e| AppError::bad_request(format!("p: {e}")))?),
    };
    let object = match params.o.as_deref() {
        None => None,
        Some(o) => Some(Term::from_str(o).map_err(|e| {
            AppError::bad_request(format!("o: {e} (expected an N-Triples term): {o}"))
        })?),
    };
    let op = match params.op.as_deref() {
        None => None,
        Some(op) => Some(Op::from_str(op).map_err(|_| {
            AppError::bad_request(format!("op: unknown op {op:?} (expected add or remove)"))
        })?),
    };
    Ok(TriplePattern {
        subject,
        predicate,
        object,
        op,
    })
}

fn format(param: Option<&str>, headers: &HeaderMap) -> Result<Format, AppError> {
    match param {
        Some("json") => Ok(Format::Json),
        Some("rdf-patch") => Ok(Format::RdfPatch),
        Some(other) => Err(AppError::bad_request(format!(
            "format: unknown format {other:?} (expected json or rdf-patch)"
        ))),
        None => {
            let accept = headers
                .get(header::ACCEPT)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if accept.contains("application/rdf-patch") {
                Ok(Format::RdfPatch)
            } else {
                Ok(Format::Json)
            }
        }
    }
}

/// `Last-Event-ID` (resume after it) wins over `from`; neither means now.
fn start(params: &Params, headers: &HeaderMap, size: u64) -> Result<Start, AppError> {
    if let Some(last) = headers.get("last-event-id") {
        let last = last
            .to_str()
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
            .ok_or_else(|| {
                AppError::bad_request("Last-Event-ID: expected a log position (an integer)")
            })?;
        return Ok(Start::Seq(last.saturating_add(1)));
    }
    match params.from.as_deref() {
        None | Some("now") => Ok(Start::Now),
        Some(text) => {
            let from: u64 = text.parse().map_err(|_| {
                AppError::bad_request(format!(
                    "from: expected a log position or \"now\", got {text:?}"
                ))
            })?;
            if from > size {
                return Err(AppError::bad_request(format!(
                    "from={from} is beyond the log size {size}"
                )));
            }
            Ok(Start::Seq(from))
        }
    }
}
