//! Named queries over HTTP: `GET /v1/queries` lists the catalog ([`crate::queries`]) and
//! `GET /v1/queries/{group}/{name}?PARAM=…[&asOf=SEQ|TIME]` runs one.
//!
//! Every query-string parameter except `asOf` is a parameter of the query, bound as an RDF
//! term of its declared kind (never spliced into the text): unknown, repeated, missing or
//! malformed ones are a 400 naming the parameter. `asOf` resolves to a log size like on
//! `/sparql` and is bound to the query's `?logSize`; without it `?logSize` is the log's size.
//! The query waits until the event graph has projected that many events (503 after
//! `state_wait_ms`; not for queries whose header says `# wait: none`), then runs on the store with the query time limit, and its results are
//! serialized and content-negotiated exactly as `/sparql`'s ([`super::sparql::render`]).

use std::time::Instant;

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use oxigraph::sparql::CancellationToken;

use super::auth::Scope;
use super::error::AppError;
use super::graph_store::GRAPH_FORMATS;
use super::sparql::{CancelOnDrop, RESULT_FORMATS, evaluation_error, render, with_time_limit};
use super::{AppState, as_of, media};
use crate::queries::{Catalog, QueryError, QueryInfo};

fn catalog() -> Result<&'static Catalog, AppError> {
    Catalog::builtin().map_err(AppError::internal)
}

/// The status a catalog or binding error gets.
pub fn from_query_error(e: QueryError) -> AppError {
    match e {
        QueryError::UnknownQuery(_) => AppError::NotFound(e.to_string()),
        e if e.is_caller_error() => AppError::bad_request(e.to_string()),
        e => AppError::internal(e),
    }
}

/// `GET /v1/queries`.
pub async fn list(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, AppError> {
    state.authorize(&headers, Scope::Read)?;
    let queries: Vec<QueryInfo<'_>> = catalog()?.iter().map(QueryInfo::from).collect();
    Ok(Json(serde_json::json!({ "queries": queries })).into_response())
}

/// `GET /v1/queries/{group}/{name}`.
pub async fn run(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((group, name)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> Result<Response, AppError> {
    state.authorize(&headers, Scope::Read)?;
    let full_name = format!("{group}/{name}");
    let query = catalog()?.get(&full_name).map_err(from_query_error)?;
    let mut params = Vec::new();
    let mut as_of_values = Vec::new();
    for (key, value) in form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        if key == as_of::AS_OF_PARAM {
            as_of_values.push(value.into_owned());
        } else {
            params.push((key.into_owned(), value.into_owned()));
        }
    }
    let as_of_value = as_of::single(&as_of_values)?;
    if as_of_value.is_some() && !query.takes_log_size() {
        return Err(from_query_error(QueryError::NoAsOf { name: full_name }));
    }
    // Parameters are checked before anything waits or resolves.
    query
        .bind(&params, 0, as_of_value.is_some())
        .map_err(from_query_error)?;
    let log_size = match as_of_value {
        Some(value) => as_of::prepare(&state, value).await?,
        None => state.log.size(),
    };
    let bound = query
        .bind(&params, log_size, as_of_value.is_some())
        .map_err(from_query_error)?;
    if query.waits_for_event_graph() {
        super::catch_up::wait_for(&state, super::catch_up::Projection::Events, log_size, "")
            .await?;
    }

    let result_format = media::negotiate(&headers, RESULT_FORMATS);
    let graph_format = media::negotiate(&headers, GRAPH_FORMATS);
    let cancel = CancellationToken::new();
    let _guard = CancelOnDrop(cancel.clone());
    let prepared = crate::queries::evaluator()
        .with_cancellation_token(cancel.clone())
        .for_query(bound);
    let store = state.store.clone();
    let started = Instant::now();
    let rendered = with_time_limit(&state, &cancel, move || {
        let results = prepared.on_store(store.oxigraph()).execute();
        render(
            results.map_err(evaluation_error)?,
            result_format,
            graph_format,
        )
    })
    .await;
    // The label's values are the catalog's names: bounded.
    metrics::histogram!("ledgraph_named_query_seconds", "query" => full_name)
        .record(started.elapsed().as_secs_f64());
    let rendered = rendered?;
    let mut response =
        ([(header::CONTENT_TYPE, rendered.media_type)], rendered.body).into_response();
    if as_of_value.is_some() {
        let (name, value) = as_of::header(log_size);
        response.headers_mut().insert(name, value);
    }
    Ok(response)
}
