//! The SPARQL 1.1 Graph Store HTTP Protocol at `/store` (indirect identification:
//! `?graph=IRI` or `?default`).
//!
//! GET/HEAD read a graph (or, with no parameter, the whole dataset as N-Quads/TriG). Writes go
//! through the log like every other change: POST adds the body's triples (or quads), PUT replaces
//! a graph and DELETE empties it — the last two compute their delta from the current state under
//! the write gate. A named graph exists while it holds triples. multipart/form-data bodies are
//! not read.

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use oxigraph::io::{RdfFormat, RdfParser, RdfSyntaxError};
use oxigraph::model::{GraphName, GraphNameRef, NamedNode, Quad};

use super::auth::Scope;
use super::error::{AppError, Body};
use super::publish::{append_changes, new_skolemizer, now_ms, skolemize};
use super::sparql::wait_for_state;
use super::{AppState, media};
use crate::event::Op;

/// Graph formats, the first being the default.
pub const GRAPH_FORMATS: &[(&str, RdfFormat)] = &[
    ("text/turtle", RdfFormat::Turtle),
    ("application/n-triples", RdfFormat::NTriples),
    ("application/rdf+xml", RdfFormat::RdfXml),
    (
        "application/ld+json",
        RdfFormat::JsonLd {
            profile: oxigraph::io::JsonLdProfileSet::empty(),
        },
    ),
    ("text/plain", RdfFormat::NTriples),
];

/// Dataset formats for a GET of the whole store.
const DATASET_FORMATS: &[(&str, RdfFormat)] = &[
    ("application/n-quads", RdfFormat::NQuads),
    ("application/trig", RdfFormat::TriG),
];

/// What a request addresses.
#[derive(Debug, Clone)]
enum Target {
    Graph(GraphName),
    Dataset,
}

fn target(raw: Option<&str>) -> Result<Target, AppError> {
    let mut graph = None;
    let mut default = false;
    for (name, value) in form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
        match name.as_ref() {
            "default" => default = true,
            "graph" if graph.is_none() => graph = Some(value.into_owned()),
            "graph" => return Err(AppError::bad_request("more than one \"graph\" parameter")),
            _ => {}
        }
    }
    match (graph, default) {
        (Some(_), true) => Err(AppError::bad_request(
            "use either \"graph\" or \"default\", not both",
        )),
        (Some(iri), false) => NamedNode::new(&iri)
            .map(|n| Target::Graph(GraphName::NamedNode(n)))
            .map_err(|e| AppError::bad_request(format!("graph: invalid IRI <{iri}>: {e}"))),
        (None, true) => Ok(Target::Graph(GraphName::DefaultGraph)),
        (None, false) => Ok(Target::Dataset),
    }
}

/// The event graph, the projections' metadata, the shapes and migration records are written
/// by ledgraph alone.
fn refuse_reserved(graph: &GraphName) -> Result<(), AppError> {
    if crate::store::is_maintained_graph(graph.as_ref()) {
        return Err(AppError::bad_request(format!(
            "graph {graph} is maintained by ledgraph and cannot be written"
        )));
    }
    Ok(())
}

/// Whether a GET finds the graph: the default graph always exists, a named graph while it
/// holds triples.
fn graph_exists(state: &AppState, graph: &GraphName) -> Result<bool, AppError> {
    if graph.is_default_graph() {
        return Ok(true);
    }
    has_triples(state, graph)
}

/// Whether a write to `graph` creates content (201 Created, GSP §5.3/§5.5) rather than changing
/// what was there: true for an empty default graph too.
fn creates_content(state: &AppState, graph: &GraphName) -> Result<bool, AppError> {
    Ok(!has_triples(state, graph)?)
}

fn has_triples(state: &AppState, graph: &GraphName) -> Result<bool, AppError> {
    let store = state.store.oxigraph();
    Ok(store
        .quads_for_pattern(None, None, None, Some(graph.as_ref()))
        .next()
        .transpose()
        .map_err(AppError::internal)?
        .is_some())
}

async fn read(
    state: &AppState,
    headers: &HeaderMap,
    raw: Option<&str>,
) -> Result<Response, AppError> {
    state.authorize(headers, Scope::Read)?;
    let target = target(raw)?;
    let (format, graph) = match &target {
        Target::Graph(g) => (media::negotiate(headers, GRAPH_FORMATS)?, Some(g.clone())),
        Target::Dataset => (media::negotiate(headers, DATASET_FORMATS)?, None),
    };
    wait_for_state(state).await?;
    let state2 = state.clone();
    let body = tokio::task::spawn_blocking(move || -> Result<Option<Vec<u8>>, AppError> {
        let store = state2.store.oxigraph();
        let out = match graph {
            Some(g) => {
                if !graph_exists(&state2, &g)? {
                    return Ok(None);
                }
                let name: GraphNameRef<'_> = g.as_ref();
                store
                    .dump_graph_to_writer(name, format, Vec::new())
                    .map_err(AppError::internal)?
            }
            None => store
                .dump_to_writer(format, Vec::new())
                .map_err(AppError::internal)?,
        };
        Ok(Some(out))
    })
    .await
    .map_err(AppError::internal)??;
    let Some(body) = body else {
        return Err(AppError::NotFound("no such graph".into()));
    };
    Ok(([(header::CONTENT_TYPE, format.media_type())], body).into_response())
}

pub async fn get(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, AppError> {
    read(&state, &headers, raw.as_deref()).await
}

pub async fn head(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, AppError> {
    // axum strips the body of HEAD responses; headers (and the status) stay.
    read(&state, &headers, raw.as_deref()).await
}

/// Parses an RDF body into quads, triples landing in `graph`.
async fn parse_rdf(
    state: &AppState,
    headers: &HeaderMap,
    body: axum::body::Bytes,
    graph: Option<GraphName>,
) -> Result<Vec<Quad>, AppError> {
    let media_type = media::content_type(headers).unwrap_or_default();
    // Oxigraph reads any */json as JSON-LD; only the JSON-LD media type is taken as RDF here.
    let format = RdfFormat::from_media_type(&media_type)
        .filter(|f| !matches!(f, RdfFormat::JsonLd { .. }) || media_type == "application/ld+json");
    let Some(format) = format else {
        return Err(AppError::UnsupportedMediaType(format!(
            "cannot read \"{media_type}\"; send Turtle, N-Triples, RDF/XML, JSON-LD, N-Quads or TriG"
        )));
    };
    if graph.is_some() && is_dataset_format(format) {
        return Err(AppError::UnsupportedMediaType(format!(
            "a graph is written with a graph format, not {media_type}"
        )));
    }
    let quads_max = state.limits.update_changes_max;
    tokio::task::spawn_blocking(move || {
        let mut parser = RdfParser::from_format(format);
        if let Some(g) = graph {
            parser = parser.with_default_graph(g).without_named_graphs();
        }
        let mut quads = Vec::new();
        for quad in parser.for_slice(&body) {
            if quads.len() == quads_max {
                return Err(AppError::TooLarge(format!(
                    "more than {quads_max} triples in one request"
                )));
            }
            quads.push(quad.map_err(rdf_error)?);
        }
        Ok(quads)
    })
    .await
    .map_err(AppError::internal)?
}

/// N-Quads and TriG. JSON-LD can name graphs too, but the Graph Store takes it as a graph
/// format (it is one of [`GRAPH_FORMATS`]): a graph write parses it refusing (400) a body that
/// names a graph.
fn is_dataset_format(format: RdfFormat) -> bool {
    format.supports_datasets() && !matches!(format, RdfFormat::JsonLd { .. })
}

fn rdf_error(e: RdfSyntaxError) -> AppError {
    AppError::BadRequest {
        message: e.to_string(),
        position: e
            .location()
            .map(|l| format!("{}:{}", l.start.line + 1, l.start.column + 1)),
    }
}

fn adds(quads: Vec<Quad>) -> Vec<(Op, Quad)> {
    quads.into_iter().map(|q| (Op::Add, q)).collect()
}

fn write_status(created: bool) -> StatusCode {
    if created {
        StatusCode::CREATED
    } else {
        StatusCode::NO_CONTENT
    }
}

pub async fn post(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    Body(body): Body,
) -> Result<Response, AppError> {
    let received_at_ms = now_ms();
    state.authorize(&headers, Scope::Publish)?;
    let target = target(raw.as_deref())?;
    let media_type = media::content_type(&headers).unwrap_or_default();
    let is_dataset_body = RdfFormat::from_media_type(&media_type).is_some_and(is_dataset_format);
    // POST to the store itself with a graph body creates a new graph and says where (§5.5).
    let (graph, location) = match &target {
        Target::Graph(g) => (Some(g.clone()), None),
        Target::Dataset if is_dataset_body => (None, None),
        Target::Dataset => {
            let iri = new_graph_iri(&state)?;
            (Some(GraphName::NamedNode(iri.clone())), Some(iri))
        }
    };
    if let Some(g) = &graph {
        refuse_reserved(g)?;
    }
    let quads = parse_rdf(&state, &headers, body, graph.clone()).await?;
    // Whether the graph is new is read from the state, so it must hold every earlier write.
    wait_for_state(&state).await?;
    let created = match &graph {
        Some(g) => creates_content(&state, g)?,
        None => false,
    };
    if !quads.is_empty() {
        let changes = skolemize(&state, adds(quads))?;
        let _gate = state.write_lock().await;
        append_changes(&state, changes, received_at_ms).await?;
    }
    let mut response = write_status(created || location.is_some()).into_response();
    if let Some(iri) = location
        && let Ok(value) = HeaderValue::from_str(iri.as_str())
    {
        *response.status_mut() = StatusCode::CREATED;
        response.headers_mut().insert(header::LOCATION, value);
    }
    Ok(response)
}

fn new_graph_iri(state: &AppState) -> Result<NamedNode, AppError> {
    let mut skolemizer = new_skolemizer(state)?;
    let blank = oxigraph::model::BlankNode::default();
    let iri = skolemizer.iri(&blank);
    Ok(iri)
}

/// The graph a PUT or DELETE addresses, once the caller may write and the graph is not one
/// ledgraph maintains.
fn writable_graph(
    state: &AppState,
    headers: &HeaderMap,
    raw: Option<&str>,
    verb: &str,
) -> Result<GraphName, AppError> {
    state.authorize(headers, Scope::Publish)?;
    let Target::Graph(graph) = target(raw)? else {
        return Err(AppError::bad_request(format!(
            "{verb} needs \"graph=IRI\" or \"default\""
        )));
    };
    refuse_reserved(&graph)?;
    Ok(graph)
}

pub async fn put(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    Body(body): Body,
) -> Result<Response, AppError> {
    let received_at_ms = now_ms();
    let graph = writable_graph(&state, &headers, raw.as_deref(), "PUT")?;
    let quads = parse_rdf(&state, &headers, body, Some(graph.clone())).await?;
    let quads = skolemize(&state, adds(quads))?;
    let triples = quads.into_iter().map(|(_, q)| q.into()).collect();
    let _exclusive = state.write_gate.write().await;
    wait_for_state(&state).await?;
    let created = creates_content(&state, &graph)?;
    let store = state.store.clone();
    let g = graph.clone();
    let changes =
        tokio::task::spawn_blocking(move || crate::store::replace_graph_delta(&store, &g, triples))
            .await
            .map_err(AppError::internal)?
            .map_err(AppError::internal)?;
    if !changes.is_empty() {
        append_changes(&state, changes, received_at_ms).await?;
    }
    Ok(write_status(created).into_response())
}

pub async fn delete(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, AppError> {
    let received_at_ms = now_ms();
    let graph = writable_graph(&state, &headers, raw.as_deref(), "DELETE")?;
    let _exclusive = state.write_gate.write().await;
    wait_for_state(&state).await?;
    if !graph_exists(&state, &graph)? {
        return Err(AppError::NotFound("no such graph".into()));
    }
    let store = state.store.clone();
    let changes =
        tokio::task::spawn_blocking(move || crate::store::clear_graph_delta(&store, &graph))
            .await
            .map_err(AppError::internal)?
            .map_err(AppError::internal)?;
    if changes.len() > state.limits.update_changes_max {
        return Err(AppError::TooLarge(format!(
            "deleting this graph removes {} triples; the limit is {}",
            changes.len(),
            state.limits.update_changes_max
        )));
    }
    if !changes.is_empty() {
        append_changes(&state, changes, received_at_ms).await?;
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}
