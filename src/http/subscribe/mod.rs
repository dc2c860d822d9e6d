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
//! `topic=NAME` subscribes to the kernel's alerts of that topic instead of a triple pattern: one
//! event per alert (its record's position in the log, [`crate::kernel::alerts`]), with an alert
//! payload ([`payload::render_alert`]). It cannot be combined with `s`, `p`, `o` or `op`, and
//! RDF Patch rows cannot carry an alert (both are refused with 400). A topic is any non-empty
//! string without control characters or surrounding spaces, up to
//! [`Limits::subscribe_term_bytes_max`] bytes; a topic no descriptor raises is not an error
//! (the stream waits for one that does).
//!
//! Each stream runs its subscription on a blocking thread (the bus's receiver blocks), which
//! also renders the payloads; it ends when the client goes away or the bus stops.
//!
//! [`Limits::subscribers_per_token_max`]: super::Limits::subscribers_per_token_max
//! [`Limits::subscribe_term_bytes_max`]: super::Limits::subscribe_term_bytes_max

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
    /// An alert topic (instead of a triple pattern).
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
    let term_max = state.limits.subscribe_term_bytes_max;
    let format = Format::choose(params.format.as_deref(), headers)?;
    let pattern = match params.topic.as_deref() {
        Some(topic) => topic_pattern(&params, topic, term_max, format)?,
        None => Pattern::Triple(pattern(&params, term_max)?),
    };
    let start = start(&params, headers, state.log.size())?;
    if state.is_shutting_down() {
        return Err(AppError::Unavailable("the server is shutting down".into()));
    }
    let slot = state
        .subscriber_counts
        .take(&token, state.limits.subscribers_per_token_max)?;
    let subscription = state
        .bus
        .subscribe(pattern, start)
        .map_err(|e| AppError::Unavailable(e.to_string()))?;
    Ok(Opened {
        subscription,
        slot,
        format,
        limit: params.limit.unwrap_or(u64::MAX),
    })
}

/// One rendered event: its log position (the SSE `id:`) and its payload.
type Rendered = (u64, String);

/// Starts moving the subscription's events, rendered, to a channel on a blocking thread.
fn spawn_pump(opened: Opened) -> tokio::sync::mpsc::Receiver<Rendered> {
    let (tx, rx) = tokio::sync::mpsc::channel(STREAM_EVENTS_BUFFERED_MAX);
    let Opened {
        subscription,
        slot,
        format,
        limit,
    } = opened;
    tokio::task::spawn_blocking(move || pump(subscription, slot, format, limit, &tx));
    rx
}

fn sse(opened: Opened) -> impl IntoResponse {
    let rx = spawn_pump(opened);
    let stream = futures_util::stream::unfold(rx, move |mut rx| async move {
        let (seq, text) = rx.recv().await?;
        let event = SseEvent::default().id(seq.to_string()).data(text);
        Some((Ok::<_, std::convert::Infallible>(event), rx))
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}

/// Moves events from the subscription to the connection until either ends.
fn pump(
    mut subscription: Subscription,
    _slot: Slot,
    format: Format,
    limit: u64,
    tx: &tokio::sync::mpsc::Sender<Rendered>,
) {
    let mut sent = 0;
    while sent < limit {
        match subscription.recv_timeout(Duration::from_millis(IDLE_CHECK_MS)) {
            Ok(Some(item)) => {
                let text = match render(&subscription, &item, format) {
                    Ok(text) => text,
                    Err(e) => {
                        tracing::error!(error = %e, "subscription stream stopped");
                        return;
                    }
                };
                if tx.blocking_send((item.seq, text)).is_err() {
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

/// The payload of one delivered event: an alert for a topic subscription, else the event.
fn render(subscription: &Subscription, item: &BusItem, format: Format) -> Result<String, BusError> {
    if subscription.topic().is_some() {
        let alert = subscription.alert(item)?;
        return Ok(payload::render_alert(&alert, item.time, format));
    }
    Ok(payload::render(item, format))
}

/// A `topic=` subscription, checked: a valid topic, no triple pattern, a format that carries
/// alerts.
fn topic_pattern(
    params: &Params,
    topic: &str,
    term_max: usize,
    format: Format,
) -> Result<Pattern, AppError> {
    let with_pattern = [
        ("s", &params.s),
        ("p", &params.p),
        ("o", &params.o),
        ("op", &params.op),
    ]
    .into_iter()
    .filter(|(_, v)| v.is_some())
    .map(|(name, _)| name)
    .collect::<Vec<_>>();
    if !with_pattern.is_empty() {
        return Err(AppError::bad_request(format!(
            "topic: cannot be combined with {} (a topic subscription receives alerts, not triples)",
            with_pattern.join(", ")
        )));
    }
    if topic.is_empty() {
        return Err(AppError::bad_request(
            "topic: empty; expected an alert topic such as plant/alarms",
        ));
    }
    if topic.len() > term_max {
        return Err(AppError::bad_request(format!(
            "topic: {} bytes is over the limit of {term_max} (subscribe_term_bytes_max)",
            topic.len()
        )));
    }
    if topic.chars().any(char::is_control) || topic.trim() != topic {
        return Err(AppError::bad_request(format!(
            "topic: {topic:?} has control characters or surrounding spaces"
        )));
    }
    if format == Format::RdfPatch {
        return Err(AppError::bad_request(
            "format: an alert is not one triple: choose json or cloudevents for a topic",
        ));
    }
    Ok(Pattern::Topic(topic.to_owned()))
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
