//! The SPARQL 1.1 Protocol: queries by GET, form POST and direct POST at `/sparql` and
//! `/query`; updates by form POST and direct POST at `/sparql` and `/update`.
//!
//! Queries run off the executor with a time limit and a cancellation token that also fires
//! when the client goes away (the handler's future is dropped). An update is not applied to the
//! store: under the write gate, once the state has caught up with the log, `store::update_delta`
//! computes the changes it would make and they are appended as one transaction, so every
//! change is signed and replayable; the state projection then applies them. A bare GET returns
//! the service description. `asOf` ([`super::as_of`]) evaluates a query on a past state.

use std::time::Duration;

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use oxigraph::io::{RdfFormat, RdfParser, RdfSerializer};
use oxigraph::model::{GraphName, NamedNode, NamedOrBlankNode};
use oxigraph::sparql::results::{QueryResultsFormat, QueryResultsSerializer};
use oxigraph::sparql::{CancellationToken, QueryResults};

use super::auth::Scope;
use super::error::{AppError, Body};
use super::graph_store::GRAPH_FORMATS;
use super::publish::{Appended, append_changes, new_skolemizer, now_ms};
use super::{AppState, as_of, media};

const SERVICE_DESCRIPTION_TTL: &str = include_str!("../../ontology/service-description.ttl");
/// The placeholder the service description uses for the endpoint's own IRI.
const ENDPOINT_PLACEHOLDER: &str = "urn:ledgraph:endpoint";

/// Result formats for SELECT and ASK, the first being the default.
pub const RESULT_FORMATS: &[(&str, QueryResultsFormat)] = &[
    ("application/sparql-results+json", QueryResultsFormat::Json),
    ("application/sparql-results+xml", QueryResultsFormat::Xml),
    ("text/csv", QueryResultsFormat::Csv),
    ("text/tab-separated-values", QueryResultsFormat::Tsv),
    ("application/json", QueryResultsFormat::Json),
    ("application/xml", QueryResultsFormat::Xml),
];

/// The protocol's parameters, from a query string or a form body.
#[derive(Default, Debug)]
struct Params {
    query: Vec<String>,
    update: Vec<String>,
    default_graph_uri: Vec<String>,
    named_graph_uri: Vec<String>,
    using_graph_uri: Vec<String>,
    using_named_graph_uri: Vec<String>,
    as_of: Vec<String>,
}

impl Params {
    fn parse(bytes: &[u8]) -> Params {
        let mut p = Params::default();
        for (name, value) in form_urlencoded::parse(bytes) {
            let value = value.into_owned();
            match name.as_ref() {
                "query" => p.query.push(value),
                "update" => p.update.push(value),
                "default-graph-uri" => p.default_graph_uri.push(value),
                "named-graph-uri" => p.named_graph_uri.push(value),
                "using-graph-uri" => p.using_graph_uri.push(value),
                "using-named-graph-uri" => p.using_named_graph_uri.push(value),
                as_of::AS_OF_PARAM => p.as_of.push(value),
                _ => {}
            }
        }
        p
    }

    fn from_raw(raw: Option<&str>) -> Params {
        Params::parse(raw.unwrap_or("").as_bytes())
    }
}

/// What one request asks for.
enum Operation {
    Query(String),
    Update(String),
    ServiceDescription,
}

fn single(mut values: Vec<String>, what: &str) -> Result<String, AppError> {
    match values.len() {
        1 => Ok(values.remove(0)),
        n => Err(AppError::bad_request(format!(
            "expected exactly one \"{what}\" parameter, got {n}"
        ))),
    }
}

fn operation(params: &mut Params) -> Result<Operation, AppError> {
    match (params.query.is_empty(), params.update.is_empty()) {
        (true, true) => Ok(Operation::ServiceDescription),
        (false, true) => Ok(Operation::Query(single(
            std::mem::take(&mut params.query),
            "query",
        )?)),
        (true, false) => Ok(Operation::Update(single(
            std::mem::take(&mut params.update),
            "update",
        )?)),
        (false, false) => Err(AppError::bad_request(
            "a request carries either \"query\" or \"update\", not both",
        )),
    }
}

fn endpoint_iri(headers: &HeaderMap, path: &str) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| !h.is_empty() && h.chars().all(|c| c.is_ascii_graphic()))
        .unwrap_or("localhost");
    format!("http://{host}{path}")
}

/// `GET /sparql` and `GET /query`.
pub async fn get_query(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: axum::http::Uri,
    RawQuery(raw): RawQuery,
) -> Result<Response, AppError> {
    state.authorize(&headers, Scope::Read)?;
    let mut params = Params::from_raw(raw.as_deref());
    let base = endpoint_iri(&headers, uri.path());
    match operation(&mut params)? {
        Operation::ServiceDescription if !params.as_of.is_empty() => {
            Err(AppError::bad_request("asOf needs a \"query\" parameter"))
        }
        Operation::ServiceDescription => service_description(&state, &headers, &base),
        Operation::Query(q) => run_query(&state, &headers, q, &params, &base).await,
        Operation::Update(_) => {
            // An update is only ever POSTed (SPARQL 1.1 Protocol §2.2); a 405 names the method
            // that works (RFC 9110 §15.5.6).
            let mut response =
                AppError::MethodNotAllowed("SPARQL Update must be sent with POST".into())
                    .into_response();
            response
                .headers_mut()
                .insert(header::ALLOW, axum::http::HeaderValue::from_static("POST"));
            Ok(response)
        }
    }
}

/// Which operations a POST route accepts.
#[derive(Clone, Copy, PartialEq)]
enum Accepts {
    Any,
    UpdateOnly,
}

/// `POST /sparql` and `POST /query`: a query or an update.
pub async fn post(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: axum::http::Uri,
    RawQuery(raw): RawQuery,
    Body(body): Body,
) -> Result<Response, AppError> {
    post_operation(state, headers, uri, raw, body, Accepts::Any).await
}

/// `POST /update`.
pub async fn post_update(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: axum::http::Uri,
    RawQuery(raw): RawQuery,
    Body(body): Body,
) -> Result<Response, AppError> {
    post_operation(state, headers, uri, raw, body, Accepts::UpdateOnly).await
}

async fn post_operation(
    state: AppState,
    headers: HeaderMap,
    uri: axum::http::Uri,
    raw: Option<String>,
    body: axum::body::Bytes,
    accepts: Accepts,
) -> Result<Response, AppError> {
    // Every SPARQL operation needs at least `read`; updates check `publish` too.
    state.authorize(&headers, Scope::Read)?;
    let base = endpoint_iri(&headers, uri.path());
    media::require_utf8(&headers)?;
    let media_type = media::content_type(&headers).unwrap_or_default();
    let text = || {
        String::from_utf8(body.to_vec())
            .map_err(|_| AppError::bad_request("the request body is not valid UTF-8"))
    };
    let (op, mut params) = match media_type.as_str() {
        "application/x-www-form-urlencoded" => {
            let mut params = Params::parse(&body);
            (operation(&mut params)?, params)
        }
        "application/sparql-query" if accepts == Accepts::Any => {
            (Operation::Query(text()?), Params::from_raw(raw.as_deref()))
        }
        "application/sparql-update" => {
            (Operation::Update(text()?), Params::from_raw(raw.as_deref()))
        }
        other => {
            let expected = if accepts == Accepts::Any {
                "application/x-www-form-urlencoded, application/sparql-query or application/sparql-update"
            } else {
                "application/x-www-form-urlencoded or application/sparql-update"
            };
            let shown = if other.is_empty() {
                "no media type"
            } else {
                other
            };
            return Err(AppError::UnsupportedMediaType(format!(
                "a SPARQL POST takes {expected}, not {shown}"
            )));
        }
    };
    if media_type == "application/x-www-form-urlencoded" {
        // `asOf` may ride in the URL of a form POST too.
        params.as_of.extend(Params::from_raw(raw.as_deref()).as_of);
    }
    match op {
        Operation::Update(_) | Operation::ServiceDescription if !params.as_of.is_empty() => Err(
            AppError::bad_request("asOf applies to queries only: the past cannot be updated"),
        ),
        Operation::Query(_) if accepts == Accepts::UpdateOnly => Err(AppError::bad_request(
            "this endpoint takes updates only; send queries to /sparql or /query",
        )),
        Operation::ServiceDescription if accepts == Accepts::UpdateOnly => {
            Err(AppError::bad_request("the body carries no \"update\""))
        }
        Operation::Query(q) => run_query(&state, &headers, q, &params, &base).await,
        Operation::Update(u) => run_update(&state, &headers, u, &params, &base).await,
        Operation::ServiceDescription => Err(AppError::bad_request(
            "the body carries neither \"query\" nor \"update\"",
        )),
    }
}

fn named_node(iri: &str, param: &str) -> Result<NamedNode, AppError> {
    NamedNode::new(iri)
        .map_err(|e| AppError::bad_request(format!("{param}: invalid IRI <{iri}>: {e}")))
}

/// Cancels its token when dropped: when the client disconnects, axum drops the handler's
/// future and the query stops at its next check.
pub(super) struct CancelOnDrop(pub(super) CancellationToken);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.cancel();
    }
}

/// Runs blocking work with the query time limit; cancels it when the limit passes.
pub async fn with_time_limit<T: Send + 'static>(
    state: &AppState,
    cancel: &CancellationToken,
    work: impl FnOnce() -> Result<T, AppError> + Send + 'static,
) -> Result<T, AppError> {
    let limit_ms = state.limits.query_timeout_ms;
    let task = tokio::task::spawn_blocking(work);
    match tokio::time::timeout(Duration::from_millis(limit_ms), task).await {
        Ok(joined) => joined.map_err(AppError::internal)?,
        Err(_) => {
            cancel.cancel();
            metrics::counter!("ledgraph_query_timeouts_total").increment(1);
            Err(AppError::Unavailable(format!(
                "the operation exceeded the time limit of {limit_ms} ms"
            )))
        }
    }
}

/// Serialized results and their media type.
pub(super) struct Rendered {
    pub(super) media_type: &'static str,
    pub(super) body: Vec<u8>,
}

async fn run_query(
    state: &AppState,
    headers: &HeaderMap,
    query: String,
    params: &Params,
    base: &str,
) -> Result<Response, AppError> {
    state.authorize(headers, Scope::Read)?;
    let evaluator = crate::queries::evaluator()
        .with_base_iri(base)
        .map_err(|e| AppError::bad_request(format!("base IRI: {e}")))?;
    let cancel = CancellationToken::new();
    let _guard = CancelOnDrop(cancel.clone());
    let mut prepared = evaluator
        .with_cancellation_token(cancel.clone())
        .parse_query(&query)
        .map_err(|e| AppError::bad_request(format!("query syntax: {e}")))?;
    if !params.default_graph_uri.is_empty() || !params.named_graph_uri.is_empty() {
        let default = params
            .default_graph_uri
            .iter()
            .map(|g| named_node(g, "default-graph-uri").map(GraphName::from))
            .collect::<Result<Vec<_>, _>>()?;
        let named = params
            .named_graph_uri
            .iter()
            .map(|g| named_node(g, "named-graph-uri").map(NamedOrBlankNode::from))
            .collect::<Result<Vec<_>, _>>()?;
        let dataset = prepared.dataset_mut();
        dataset.set_default_graph(default);
        dataset.set_available_named_graphs(named);
    }
    let result_format = media::negotiate(headers, RESULT_FORMATS);
    let graph_format = media::negotiate(headers, GRAPH_FORMATS);
    let as_of = match as_of::single(&params.as_of)? {
        Some(value) => Some(as_of::prepare(state, value).await?),
        // Time travel reads the log and the event graph, not the state: no need to wait for it.
        None => {
            wait_for_state(state).await?;
            None
        }
    };
    let store = state.store.clone();
    let log = state.log.reader().clone();
    let as_of_limits = state.limits.as_of.clone();
    let token = cancel.clone();
    let started = std::time::Instant::now();
    let rendered = with_time_limit(state, &cancel, move || match as_of {
        Some(size) => {
            let past = as_of::dataset(&store, log, size, &as_of_limits, token)?;
            let reads = past.read_counter();
            let results = prepared.on_queryable_dataset(past).execute();
            let rendered = render(
                results.map_err(evaluation_error)?,
                result_format,
                graph_format,
            );
            as_of::record(&reads);
            rendered
        }
        None => {
            let results = prepared.on_store(store.oxigraph()).execute();
            render(
                results.map_err(evaluation_error)?,
                result_format,
                graph_format,
            )
        }
    })
    .await;
    metrics::histogram!("ledgraph_query_seconds").record(started.elapsed().as_secs_f64());
    let rendered = rendered?;
    let mut response =
        ([(header::CONTENT_TYPE, rendered.media_type)], rendered.body).into_response();
    if let Some(size) = as_of {
        let (name, value) = as_of::header(size);
        response.headers_mut().insert(name, value);
    }
    Ok(response)
}

pub(super) fn evaluation_error(e: oxigraph::sparql::QueryEvaluationError) -> AppError {
    use oxigraph::sparql::QueryEvaluationError as E;
    if let Some(error) = as_of::from_evaluation(&e) {
        return error;
    }
    match e {
        E::Cancelled => AppError::Unavailable("the query was cancelled".into()),
        E::Service(_) | E::UnsupportedService(_) => {
            AppError::bad_request(format!("SERVICE is not supported: {e}"))
        }
        other => AppError::bad_request(format!("query evaluation: {other}")),
    }
}

pub(super) fn render(
    results: QueryResults<'_>,
    result_format: Result<QueryResultsFormat, AppError>,
    graph_format: Result<RdfFormat, AppError>,
) -> Result<Rendered, AppError> {
    let io = |e: std::io::Error| AppError::internal(e);
    match results {
        QueryResults::Solutions(solutions) => {
            let format = result_format?;
            let mut writer = QueryResultsSerializer::from_format(format)
                .serialize_solutions_to_writer(Vec::new(), solutions.variables().to_vec())
                .map_err(io)?;
            for solution in solutions {
                writer
                    .serialize(&solution.map_err(evaluation_error)?)
                    .map_err(io)?;
            }
            Ok(Rendered {
                media_type: format.media_type(),
                body: writer.finish().map_err(io)?,
            })
        }
        QueryResults::Boolean(value) => {
            let format = result_format?;
            let body = QueryResultsSerializer::from_format(format)
                .serialize_boolean_to_writer(Vec::new(), value)
                .map_err(io)?;
            Ok(Rendered {
                media_type: format.media_type(),
                body,
            })
        }
        QueryResults::Graph(triples) => {
            let format = graph_format?;
            let mut writer = RdfSerializer::from_format(format).for_writer(Vec::new());
            for triple in triples {
                writer
                    .serialize_triple(&triple.map_err(evaluation_error)?)
                    .map_err(io)?;
            }
            Ok(Rendered {
                media_type: format.media_type(),
                body: writer.finish().map_err(io)?,
            })
        }
    }
}

fn service_description(
    state: &AppState,
    headers: &HeaderMap,
    endpoint: &str,
) -> Result<Response, AppError> {
    state.authorize(headers, Scope::Read)?;
    let format = media::negotiate(headers, GRAPH_FORMATS)?;
    let text = SERVICE_DESCRIPTION_TTL.replace(ENDPOINT_PLACEHOLDER, endpoint);
    let mut writer = RdfSerializer::from_format(format).for_writer(Vec::new());
    for quad in RdfParser::from_format(RdfFormat::Turtle).for_slice(text.as_bytes()) {
        let quad = quad.map_err(AppError::internal)?;
        writer.serialize_quad(&quad).map_err(AppError::internal)?;
    }
    let body = writer.finish().map_err(AppError::internal)?;
    Ok(([(header::CONTENT_TYPE, format.media_type())], body).into_response())
}

async fn run_update(
    state: &AppState,
    headers: &HeaderMap,
    update: String,
    params: &Params,
    base: &str,
) -> Result<Response, AppError> {
    let received_at_ms = now_ms();
    state.authorize(headers, Scope::Publish)?;
    let dataset = crate::store::UpdateDataset {
        using_graphs: params
            .using_graph_uri
            .iter()
            .map(|g| named_node(g, "using-graph-uri"))
            .collect::<Result<Vec<_>, _>>()?,
        using_named_graphs: params
            .using_named_graph_uri
            .iter()
            .map(|g| named_node(g, "using-named-graph-uri"))
            .collect::<Result<Vec<_>, _>>()?,
    };
    let _exclusive = state.write_gate.write().await;
    wait_for_state(state).await?;
    let cancel = CancellationToken::new();
    let _guard = CancelOnDrop(cancel.clone());
    let store = state.store.clone();
    let mut skolemizer = new_skolemizer(state)?;
    let changes_max = state.limits.update_changes_max;
    let base = base.to_owned();
    let token = cancel.clone();
    let changes = with_time_limit(state, &cancel, move || {
        crate::store::update_delta(
            &store,
            &update,
            Some(&base),
            &dataset,
            &mut skolemizer,
            token,
            changes_max,
        )
        .map_err(update_error)
    })
    .await?;
    if changes.is_empty() {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    let ack = append_changes(state, changes, received_at_ms).await?;
    Ok((StatusCode::OK, axum::Json(Appended::from(&ack))).into_response())
}

/// Waits (off the executor) until the state projection has applied every event acknowledged
/// so far. Reads call it so a client sees its own acknowledged writes; a write computed from
/// the state calls it while holding the write gate alone, so nothing is appended meanwhile.
pub async fn wait_for_state(state: &AppState) -> Result<(), AppError> {
    super::catch_up::wait_for(
        state,
        super::catch_up::Projection::State,
        state.log.size(),
        "",
    )
    .await
}

fn update_error(e: crate::store::UpdateError) -> AppError {
    use crate::store::UpdateError as E;
    match e {
        E::Syntax { .. } | E::Unsupported(_) | E::Evaluation(_) => {
            AppError::bad_request(e.to_string())
        }
        E::Limit { .. } => AppError::TooLarge(e.to_string()),
        E::Cancelled => AppError::Unavailable("the update was cancelled".into()),
        other => AppError::internal(other),
    }
}
