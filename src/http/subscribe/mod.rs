//! `GET /v1/subscribe`: the bus ([`crate::bus`]) as Server-Sent Events, or as a WebSocket
//! when the request asks to upgrade ([`ws`]).
//!
//! Parameters `s`, `p`, `o` (N-Triples terms, as in `POST /v1/events` JSON; `s` and `p` may
//! also be bare IRIs), `op` (`add`/`remove`), `from` (a log position; default: now) and
//! `format` (`json`, the default, `rdf-patch` or `cloudevents`, also chosen by `Accept`; see
//! [`payload`]); `limit` ends the stream after that many events. Each event's SSE `id:` is its
//! log position, so a reconnecting client's `Last-Event-ID` resumes just after it (and wins
//! over `from`). Needs the `read` scope, as a bearer header or, because browsers cannot set
//! headers on `EventSource` and `WebSocket`, an `access_token` parameter; each token may hold
//! at most [`Limits::subscribers_per_token_max`] streams.
//!
//! Each stream runs its subscription on a blocking thread (the bus's receiver blocks); it ends
//! when the client goes away or the bus stops. Not here: alert topics (`topic=` is refused).
//!
//! [`Limits::subscribers_per_token_max`]: super::Limits::subscribers_per_token_max

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

mod payload;
mod ws;

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::{HeaderMap, header};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use oxrdf::{NamedOrBlankNode, Term};
use serde::Deserialize;

use super::AppState;
use super::auth::Scope;
use super::error::{AppError, query_params};
use crate::bus::{BusError, BusItem, Pattern, Start, Subscription, TriplePattern};
use crate::event::Op;
use crate::event::input::parse_iri;
use payload::Format;

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
    /// Alert topics are not delivered yet; the parameter is refused rather than ignored.
    topic: Option<String>,
    /// The bearer token, for clients that cannot send headers (RFC 6750 §2.3).
    access_token: Option<String>,
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

pub async fn subscribe(State(state): State<AppState>, request: Request) -> Response {
    let (mut parts, _body) = request.into_parts();
    let upgrade = if parts.headers.contains_key(header::UPGRADE) {
        match WebSocketUpgrade::from_request_parts(&mut parts, &state).await {
            Ok(upgrade) => Some(upgrade),
            Err(rejection) => return rejection.into_response(),
        }
    } else {
        None
    };
    let raw = parts.uri.query().map(str::to_owned);
    match open(&state, &parts.headers, raw.as_deref()) {
        Ok(stream) => match upgrade {
            Some(upgrade) => ws::serve(upgrade, stream),
            None => sse(stream).into_response(),
        },
        Err(e) => e.into_response(),
    }
}

/// A checked, counted subscription and how its events are written.
struct Opened {
    subscription: Subscription,
    slot: Slot,
    format: Format,
    limit: u64,
}

fn open(state: &AppState, headers: &HeaderMap, raw: Option<&str>) -> Result<Opened, AppError> {
    let params: Params = query_params(raw)?;
    let token = state.tokens.authorize_with_query_token(
        headers,
        params.access_token.as_deref(),
        Scope::Read,
    )?;
    if params.topic.is_some() {
        return Err(AppError::bad_request(
            "topic: alert topics are not delivered yet; subscribe with a triple pattern",
        ));
    }
    let term_max = state.limits.subscribe_term_bytes_max;
    let pattern = pattern(&params, term_max)?;
    let format = Format::choose(params.format.as_deref(), headers)?;
    let start = start(&params, headers, state.log.size())?;
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
    Ok(Opened {
        subscription,
        slot,
        format,
        limit: params.limit.unwrap_or(u64::MAX),
    })
}

/// Starts moving the subscription's events to a channel on a blocking thread.
fn spawn_pump(opened: Opened) -> (tokio::sync::mpsc::Receiver<Arc<BusItem>>, Format) {
    let (tx, rx) = tokio::sync::mpsc::channel(STREAM_EVENTS_BUFFERED_MAX);
    let Opened {
        subscription,
        slot,
        format,
        limit,
    } = opened;
    tokio::task::spawn_blocking(move || pump(subscription, slot, limit, &tx));
    (rx, format)
}

fn sse(opened: Opened) -> impl IntoResponse {
    let (rx, format) = spawn_pump(opened);
    let stream = futures_util::stream::unfold(rx, move |mut rx| async move {
        let item = rx.recv().await?;
        let event = SseEvent::default()
            .id(item.seq.to_string())
            .data(payload::render(&item, format));
        Some((Ok::<_, std::convert::Infallible>(event), rx))
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}

/// Moves events from the subscription to the connection until either ends.
fn pump(
    mut subscription: Subscription,
    _slot: Slot,
    limit: u64,
    tx: &tokio::sync::mpsc::Sender<Arc<BusItem>>,
) {
    let mut sent = 0;
    while sent < limit {
        match subscription.recv_timeout(Duration::from_millis(IDLE_CHECK_MS)) {
            Ok(Some(item)) => {
                if tx.blocking_send(item).is_err() {
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
