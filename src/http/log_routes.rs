//! The log over HTTP: the signed checkpoint, the verifier key, entries, and proofs.
//!
//! Proof hashes are base64 in RFC 9162 order, as `ledgraph log proof` prints them, so a client
//! can check them against the checkpoint's root with any RFC 6962 implementation. Entries carry
//! their canonical bytes (base64): SHA-256(0x00 ‖ entry) is the leaf hash. All read routes need
//! the `read` scope. The C2SP tlog-tiles paths are not served: the log keeps a post-order tree
//! file, not tiles.

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, header};
use axum::response::IntoResponse;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use oxrdf::GraphName;
use serde::{Deserialize, Serialize};

use super::AppState;
use super::auth::Scope;
use super::error::{AppError, query_params};

const NOTE_MEDIA_TYPE: &str = "text/plain; charset=utf-8";

pub async fn checkpoint(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<impl IntoResponse, AppError> {
    state.authorize(&headers, Scope::Read)?;
    let note = state.log.checkpoint().note.clone();
    Ok(([(header::CONTENT_TYPE, NOTE_MEDIA_TYPE)], note))
}

pub async fn vkey(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<impl IntoResponse, AppError> {
    state.authorize(&headers, Scope::Read)?;
    let line = format!("{}\n", state.log.verifier().to_vkey());
    Ok(([(header::CONTENT_TYPE, NOTE_MEDIA_TYPE)], line))
}

#[derive(Deserialize)]
pub struct EntriesParams {
    #[serde(default)]
    from: u64,
    limit: Option<u64>,
}

#[derive(Serialize)]
struct EntryJson {
    seq: u64,
    op: &'static str,
    s: String,
    p: String,
    o: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    g: Option<String>,
    time: u64,
    actor: String,
    /// The canonical bytes, base64.
    entry: String,
    /// Whether this event ends its transaction.
    ends_transaction: bool,
}

#[derive(Serialize)]
struct EntriesPage {
    entries: Vec<EntryJson>,
    /// The log size the page was read at.
    size: u64,
    /// Where the next page starts, if there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    next: Option<u64>,
}

pub async fn entries(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<impl IntoResponse, AppError> {
    state.authorize(&headers, Scope::Read)?;
    let params: EntriesParams = query_params(raw.as_deref())?;
    let page_max = state.limits.log_entries_page_max;
    let limit = params.limit.unwrap_or(100).min(page_max);
    let log = state.log.clone();
    let page = tokio::task::spawn_blocking(move || -> Result<EntriesPage, AppError> {
        let size = log.size();
        if params.from > size {
            return Err(AppError::bad_request(format!(
                "from={} is beyond the log size {size}",
                params.from
            )));
        }
        let end = params.from.saturating_add(limit).min(size);
        let mut entries = Vec::with_capacity((end - params.from) as usize);
        for seq in params.from..end {
            let bytes = log.entry(seq)?;
            let event = crate::event::decode_event(&bytes).map_err(AppError::internal)?;
            entries.push(EntryJson {
                seq,
                op: event.op.as_str(),
                s: event.quad.subject.to_string(),
                p: event.quad.predicate.to_string(),
                o: event.quad.object.to_string(),
                g: match &event.quad.graph_name {
                    GraphName::DefaultGraph => None,
                    other => Some(other.to_string()),
                },
                time: event.time,
                actor: hex::encode(event.actor.0),
                entry: B64.encode(&bytes),
                ends_transaction: log.ends_transaction(seq)?,
            });
        }
        Ok(EntriesPage {
            entries,
            size,
            next: (end < size).then_some(end),
        })
    })
    .await
    .map_err(AppError::internal)??;
    Ok(Json(page))
}

#[derive(Deserialize)]
pub struct InclusionParams {
    seq: u64,
    size: Option<u64>,
}

pub async fn inclusion(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<impl IntoResponse, AppError> {
    state.authorize(&headers, Scope::Read)?;
    let params: InclusionParams = query_params(raw.as_deref())?;
    let log = state.log.clone();
    let proof = tokio::task::spawn_blocking(move || log.inclusion_proof(params.seq, params.size))
        .await
        .map_err(AppError::internal)??;
    Ok(Json(proof))
}

#[derive(Deserialize)]
pub struct ConsistencyParams {
    from: u64,
    to: Option<u64>,
}

pub async fn consistency(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<impl IntoResponse, AppError> {
    state.authorize(&headers, Scope::Read)?;
    let params: ConsistencyParams = query_params(raw.as_deref())?;
    let log = state.log.clone();
    let proof = tokio::task::spawn_blocking(move || {
        let to = params.to.unwrap_or_else(|| log.size());
        log.consistency_proof(params.from, to)
    })
    .await
    .map_err(AppError::internal)??;
    Ok(Json(proof))
}
