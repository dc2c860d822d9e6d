//! `POST /v1/events`: one request is one transaction.
//!
//! The body's media type picks the parser (JSON events, N-Triples, Turtle, RDF Patch,
//! CloudEvents); blank nodes are skolemized; the batch is appended and the response (201) is
//! sent only once the log has made it durable and signed a checkpoint covering it. Any error —
//! syntax (400 with line:column), size (413), media type (415) — appends nothing.
//! [`append_changes`] is the one way every HTTP write reaches the log.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use oxrdf::Quad;
use serde::Serialize;

use super::auth::Scope;
use super::error::{AppError, Body};
use super::{AppState, media};
use crate::event::input::{self, InputError};
use crate::event::skolem::Skolemizer;
use crate::event::{Batch, Op};
use crate::keys::{OsRandom, RandomSource};
use crate::log::Ack;

/// The media types `POST /v1/events` reads, and the parser for each.
pub const PUBLISH_MEDIA_TYPES: &[&str] = &[
    "application/json",
    "application/n-triples",
    "application/n-quads",
    "text/turtle",
    "application/rdf-patch",
    "application/cloudevents+json",
    "application/cloudevents-batch+json",
];

type Parser = fn(&[u8]) -> Result<Vec<(Op, Quad)>, InputError>;

fn parser_for(media_type: &str) -> Option<Parser> {
    Some(match media_type {
        "application/json" => input::parse_json_events,
        "application/n-triples" | "text/plain" => input::parse_ntriples,
        "application/n-quads" => input::parse_nquads,
        "text/turtle" | "application/x-turtle" => input::parse_turtle,
        "application/rdf-patch" | "text/rdf-patch" => crate::event::rdf_patch::parse_rdf_patch,
        "application/cloudevents+json" => crate::event::cloudevents::parse_cloudevent,
        "application/cloudevents-batch+json" => crate::event::cloudevents::parse_cloudevents_batch,
        _ => return None,
    })
}

/// What a successful append answers.
#[derive(Debug, Serialize)]
pub struct Appended {
    pub first_seq: u64,
    pub count: u64,
    /// Sequence number of the last event (absent when nothing was appended).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_seq: Option<u64>,
    /// Size of the tree of `checkpoint`, which covers the appended events.
    pub tree_size: u64,
    /// The signed checkpoint (a C2SP signed note).
    pub checkpoint: String,
}

impl From<&Ack> for Appended {
    fn from(ack: &Ack) -> Self {
        Appended {
            first_seq: ack.first_seq,
            count: ack.count,
            last_seq: (ack.count > 0).then(|| ack.first_seq + ack.count - 1),
            tree_size: ack.checkpoint.checkpoint.size,
            checkpoint: ack.checkpoint.note.clone(),
        }
    }
}

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Replaces blank nodes by Skolem IRIs, with a fresh nonce for this batch.
pub fn skolemize(state: &AppState, changes: Vec<(Op, Quad)>) -> Result<Vec<(Op, Quad)>, AppError> {
    Ok(new_skolemizer(state)?.changes(changes))
}

pub fn new_skolemizer(state: &AppState) -> Result<Skolemizer, AppError> {
    let mut nonce = [0u8; 16];
    OsRandom.fill(&mut nonce).map_err(AppError::internal)?;
    Ok(Skolemizer::new(&state.genid_base, nonce))
}

/// Batches up to this many events are encoded and queued on the executor thread.
const INLINE_APPEND_EVENTS_MAX: u64 = 64;
/// Bodies up to this size are parsed on the executor thread (a few microseconds of work).
const INLINE_PARSE_BODY_BYTES_MAX: usize = 8 * 1024;

/// Admits `changes` (SHACL, see [`super::admission`]) and appends them as one transaction, then
/// waits for the durable, signed acknowledgement. The caller holds the write gate from
/// [`AppState::write_lock`] (or alone, for writes that read the state), so a SPARQL Update
/// never interleaves with a publish it did not see, and validation sees every earlier write.
/// A `warn` shape set's report is appended in the same transaction, after the batch.
pub async fn append_changes(
    state: &AppState,
    mut changes: Vec<(Op, Quad)>,
    received_at_ms: u64,
) -> Result<Ack, AppError> {
    if state.is_shutting_down() {
        return Err(AppError::Unavailable("the server is shutting down".into()));
    }
    refuse_reserved_graphs(&changes)?;
    let recorded = super::admission::admit(state, &changes).await?;
    changes.extend(recorded);
    append_internal(state, changes, received_at_ms).await
}

/// Appends changes ledgraph itself makes (shape digests) without admission or the reserved
/// graph check.
pub(super) async fn append_internal(
    state: &AppState,
    changes: Vec<(Op, Quad)>,
    received_at_ms: u64,
) -> Result<Ack, AppError> {
    if state.is_shutting_down() {
        return Err(AppError::Unavailable("the server is shutting down".into()));
    }
    let events = changes.len() as u64;
    let batch = Batch::unsigned(state.actor, changes);
    let (tx, rx) = tokio::sync::oneshot::channel();
    let started = Instant::now();
    let log = state.log.clone();
    let reply: crate::log::Reply = Box::new(move |result| {
        let _ = tx.send(result);
    });
    // Encoding runs on the caller's thread; a small batch encodes in microseconds, less than
    // a hand-off to the blocking pool costs, so only large batches (or a full queue) leave
    // the executor.
    if events <= INLINE_APPEND_EVENTS_MAX {
        if let Err(full) = log.try_append_with(batch, reply) {
            tokio::task::spawn_blocking(move || log.append_when_room(full))
                .await
                .map_err(AppError::internal)?;
        }
    } else {
        tokio::task::spawn_blocking(move || log.append_with(batch, reply))
            .await
            .map_err(AppError::internal)?;
    }
    let ack = rx
        .await
        .map_err(|_| AppError::internal("the log dropped an append without answering"))??;
    let committed_at_ms = now_ms();
    metrics::histogram!("ledgraph_commit_seconds").record(started.elapsed().as_secs_f64());
    metrics::histogram!("ledgraph_batch_events").record(events as f64);
    metrics::counter!("ledgraph_events_appended_total").increment(events);
    metrics::counter!("ledgraph_transactions_appended_total").increment(1);
    state
        .timing
        .record(ack.first_seq, received_at_ms, committed_at_ms);
    Ok(ack)
}

/// The event graph, the projections' metadata and the shapes records are written by ledgraph
/// alone.
fn refuse_reserved_graphs(changes: &[(Op, Quad)]) -> Result<(), AppError> {
    let reserved = |g: oxrdf::GraphNameRef<'_>| {
        crate::store::is_reserved_graph(g)
            || matches!(g, oxrdf::GraphNameRef::NamedNode(n) if n.as_str() == crate::shapes::SHAPES_GRAPH)
            || crate::kernel::registry::is_descriptors_graph(g)
    };
    match changes
        .iter()
        .position(|(_, q)| reserved(q.graph_name.as_ref()))
    {
        Some(index) => Err(AppError::BadRequest {
            message: format!(
                "graph {} is maintained by ledgraph and cannot be written",
                changes[index].1.graph_name
            ),
            position: Some(format!("event {index}")),
        }),
        None => Ok(()),
    }
}

/// Parses a request body with the parser of its media type (off the executor).
pub async fn parse_body(
    headers: &HeaderMap,
    body: Bytes,
    what: &str,
) -> Result<Vec<(Op, Quad)>, AppError> {
    let Some(media_type) = media::content_type(headers) else {
        return Err(AppError::UnsupportedMediaType(format!(
            "{what} needs a Content-Type: one of {}",
            PUBLISH_MEDIA_TYPES.join(", ")
        )));
    };
    let Some(parse) = parser_for(&media_type) else {
        return Err(AppError::UnsupportedMediaType(format!(
            "{what} does not read {media_type}; use one of {}",
            PUBLISH_MEDIA_TYPES.join(", ")
        )));
    };
    media::require_utf8(headers)?;
    if body.len() <= INLINE_PARSE_BODY_BYTES_MAX {
        return Ok(parse(&body)?);
    }
    let parsed = tokio::task::spawn_blocking(move || parse(&body))
        .await
        .map_err(AppError::internal)?;
    Ok(parsed?)
}

pub async fn publish(
    State(state): State<AppState>,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<impl IntoResponse, AppError> {
    let received_at_ms = now_ms();
    state.authorize(&headers, Scope::Publish)?;
    let changes = parse_body(&headers, body, "publishing").await?;
    if changes.is_empty() {
        return Err(AppError::bad_request("the body holds no events"));
    }
    let batch_events_max = state.log.config().batch_events_max;
    if changes.len() > batch_events_max {
        return Err(AppError::TooLarge(format!(
            "{} events in one request; the limit is {batch_events_max}",
            changes.len()
        )));
    }
    let changes = skolemize(&state, changes)?;
    let _gate = state.write_lock().await;
    let ack = append_changes(&state, changes, received_at_ms).await?;
    Ok((StatusCode::CREATED, Json(Appended::from(&ack))))
}
