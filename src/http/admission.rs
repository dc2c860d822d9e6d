//! SHACL admission on the write path, and its routes: `POST /v1/validate` (a dry run) and
//! `POST /v1/shapes` (reload the shapes, admin scope).
//!
//! Concurrency: while any shape set validates, every write holds the write gate *alone*
//! ([`AppState::write_lock`]) and waits for the state projection to reach the log size before
//! validating. Validating against a state that misses an acknowledged batch, or two batches
//! validated side by side (each fine alone, together over a `sh:maxCount`), would admit data
//! the shapes forbid; serializing writes is the price, paid per batch, so large batches
//! amortize it. With no active shapes publishes share the gate as before.
//!
//! A change of shapes is itself appended to the log (the digest, in [`SHAPES_GRAPH`]) before
//! the first batch validated by them, so the log says which shapes were in force at every
//! position. The 422 answer carries the report in the body's `report` (Turtle) and the summary
//! in `results`; [`negotiate_rejection`] answers Turtle or JSON-LD instead when asked.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::header::{ACCEPT, CONTENT_TYPE};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use oxigraph::io::{JsonLdProfileSet, RdfFormat, RdfSerializer};
use oxrdf::{GraphName, GraphNameRef, NamedNode, NamedNodeRef, NamedOrBlankNodeRef, Quad, TermRef};
use serde::Serialize;

use super::auth::Scope;
use super::error::{AppError, Body};
use super::publish::{new_skolemizer, parse_body};
use super::sparql::wait_for_state;
use super::{AppState, media};
use crate::event::Op;
use crate::shapes::report::{BatchReport, ResultSummary};
use crate::shapes::{self, SHAPES_DIGEST, SHAPES_GRAPH, SHAPES_NODE, Shapes, ShapesError};
use crate::store::rejections::RejectedShape;

/// The report of a refused batch, carried by [`AppError::Unprocessable`].
#[derive(Debug)]
pub struct Rejection {
    pub report: BatchReport,
    /// The sequence number the batch would have started at.
    pub first_seq: u64,
}

/// The JSON body of a 422 (and of `POST /v1/validate`).
#[derive(Serialize)]
struct ReportBody<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
    conforms: bool,
    results: Vec<ResultSummary>,
    /// The `sh:ValidationReport` in Turtle.
    report: String,
}

const REPORT_FORMATS: &[(&str, ReportFormat)] = &[
    ("application/json", ReportFormat::Json),
    ("text/turtle", ReportFormat::Turtle),
    ("application/ld+json", ReportFormat::JsonLd),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReportFormat {
    Json,
    Turtle,
    JsonLd,
}

fn serialize(report: &BatchReport, format: RdfFormat) -> Result<Vec<u8>, AppError> {
    let quads = report
        .to_quads(None, None, None, GraphName::DefaultGraph)
        .map_err(AppError::internal)?;
    let mut writer = RdfSerializer::from_format(format)
        .with_prefix("sh", "http://www.w3.org/ns/shacl#")
        .map_err(AppError::internal)?
        .with_prefix("lg", crate::store::vocab::NS)
        .map_err(AppError::internal)?
        .for_writer(Vec::new());
    for q in &quads {
        writer.serialize_quad(q).map_err(AppError::internal)?;
    }
    writer.finish().map_err(AppError::internal)
}

fn render(
    report: &BatchReport,
    format: ReportFormat,
    error: Option<&str>,
) -> Result<Response, AppError> {
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    Ok(match format {
        ReportFormat::Json => {
            let turtle = serialize(report, RdfFormat::Turtle)?;
            let body = ReportBody {
                error,
                conforms: report.conforms(),
                results: report.summaries(),
                report: String::from_utf8_lossy(&turtle).into_owned(),
            };
            (status, Json(body)).into_response()
        }
        ReportFormat::Turtle => (
            status,
            [(CONTENT_TYPE, "text/turtle")],
            serialize(report, RdfFormat::Turtle)?,
        )
            .into_response(),
        ReportFormat::JsonLd => (
            status,
            [(CONTENT_TYPE, "application/ld+json")],
            serialize(
                report,
                RdfFormat::JsonLd {
                    profile: JsonLdProfileSet::empty(),
                },
            )?,
        )
            .into_response(),
    })
}

impl Rejection {
    pub fn message(&self) -> String {
        let n = self.report.findings.len();
        format!(
            "the batch violates the active SHACL shapes ({n} result{}); nothing was appended",
            if n == 1 { "" } else { "s" }
        )
    }

    /// The default (JSON) answer; [`negotiate_rejection`] re-renders it when the client asked
    /// for RDF.
    pub fn into_response(self) -> Response {
        let message = self.message();
        let rejection = Arc::new(self);
        let mut response = match render(&rejection.report, ReportFormat::Json, Some(&message)) {
            Ok(r) => r,
            Err(e) => e.into_response(),
        };
        response.extensions_mut().insert(rejection);
        response
    }
}

/// Answers a refused batch in the report format the request's `Accept` prefers.
pub async fn negotiate_rejection(request: Request, next: Next) -> Response {
    let accept = request.headers().get(ACCEPT).cloned();
    let response = next.run(request).await;
    let Some(rejection) = response.extensions().get::<Arc<Rejection>>().cloned() else {
        return response;
    };
    let mut headers = HeaderMap::new();
    if let Some(a) = accept {
        headers.insert(ACCEPT, a);
    }
    match media::negotiate(&headers, REPORT_FORMATS) {
        Ok(ReportFormat::Json) | Err(_) => response,
        Ok(format) => match render(&rejection.report, format, Some(&rejection.message())) {
            Ok(r) => r,
            Err(e) => e.into_response(),
        },
    }
}

/// Validates a batch about to be appended and returns the quads to append with it (the report
/// of `warn` sets), or the refusal. The caller holds the write gate alone.
pub(super) async fn admit(
    state: &AppState,
    changes: &[(Op, Quad)],
) -> Result<Vec<(Op, Quad)>, AppError> {
    let shapes = state.admission.current();
    if state.descriptors.current().is_some() {
        wait_for_state(state).await?;
        super::descriptors::admit(state, changes, state.log.size()).await?;
    }
    if !shapes.is_active() {
        return Ok(Vec::new());
    }
    wait_for_state(state).await?;
    let first_seq = state.log.size();
    let verdict = run_validation(state, shapes, changes.to_vec(), first_seq).await?;
    if verdict.rejects() {
        metrics::counter!("ledgraph_batches_rejected_total").increment(1);
        let report = verdict.report.in_mode(shapes::Mode::Enforce);
        count_rejection(state, &report).await;
        return Err(AppError::Unprocessable(Box::new(Rejection {
            report,
            first_seq,
        })));
    }
    let warnings = verdict.warnings();
    if warnings.conforms() {
        return Ok(Vec::new());
    }
    // Recorded in the same transaction, after the batch's events, whose seqs are known here
    // because no other write can run while the gate is held alone.
    let report_iri = format!("urn:ledgraph:report:{first_seq}");
    let quads = warnings
        .to_quads(
            Some(NamedNode::new_unchecked(&report_iri)),
            Some(&format!("{report_iri}:")),
            Some(first_seq),
            NamedNode::new_unchecked(SHAPES_GRAPH).into(),
        )
        .map_err(AppError::internal)?;
    let recorded = quads.into_iter().map(|q| (Op::Add, q)).collect();
    Ok(new_skolemizer(state)?.changes(recorded))
}

/// Counts a refused batch by shape in the meta graph (`store::rejections`). A failure is
/// logged, not answered: the client's answer is the refusal either way.
async fn count_rejection(state: &AppState, report: &BatchReport) {
    let shapes: Vec<RejectedShape> = report
        .summaries()
        .into_iter()
        .map(|s| RejectedShape {
            shape_set: s.shape_set,
            shape: s.shape,
            path: s.path,
        })
        .collect();
    let store = state.store.clone();
    let at_ms = super::publish::now_ms();
    let recorded = tokio::task::spawn_blocking(move || {
        crate::store::rejections::record(&store, at_ms, &shapes)
    })
    .await;
    match recorded {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::warn!(error = %e, "counting a rejected batch"),
        Err(e) => tracing::warn!(error = %e, "counting a rejected batch"),
    }
}

async fn run_validation(
    state: &AppState,
    shapes: Arc<Shapes>,
    changes: Vec<(Op, Quad)>,
    first_seq: u64,
) -> Result<shapes::Verdict, AppError> {
    let store = state.store.clone();
    let started = std::time::Instant::now();
    let verdict = tokio::task::spawn_blocking(move || {
        shapes::validate_batch(store.oxigraph(), &shapes, &changes, first_seq)
    })
    .await
    .map_err(AppError::internal)?
    .map_err(shapes_error)?;
    metrics::histogram!("ledgraph_admission_seconds").record(started.elapsed().as_secs_f64());
    Ok(verdict)
}

fn shapes_error(e: ShapesError) -> AppError {
    match e {
        ShapesError::Syntax { line, column, .. } => AppError::BadRequest {
            message: e.to_string(),
            position: Some(format!("{line}:{column}")),
        },
        ShapesError::Shapes { line, .. } => AppError::BadRequest {
            message: e.to_string(),
            position: line.map(|l| l.to_string()),
        },
        ShapesError::Limit { .. } => AppError::TooLarge(e.to_string()),
        other => AppError::internal(other),
    }
}

/// `POST /v1/validate`: validates a batch as `POST /v1/events` would, appends nothing. 200
/// with the report (JSON summary, Turtle or JSON-LD), conforming or not.
pub async fn validate(
    State(state): State<AppState>,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<Response, AppError> {
    state.authorize(&headers, Scope::Publish)?;
    let format = media::negotiate(&headers, REPORT_FORMATS)?;
    let changes = parse_body(&headers, body, "validating").await?;
    let batch_events_max = state.log.config().batch_events_max;
    if changes.len() > batch_events_max {
        return Err(AppError::TooLarge(format!(
            "{} events in one request; the limit is {batch_events_max}",
            changes.len()
        )));
    }
    let changes = new_skolemizer(&state)?.changes(changes);
    let _shared = state.write_gate.read().await;
    wait_for_state(&state).await?;
    let shapes = state.admission.current();
    let first_seq = state.log.size();
    let verdict = run_validation(&state, shapes, changes, first_seq).await?;
    render(&verdict.report, format, None)
}

/// What `POST /v1/shapes` answers.
#[derive(Serialize)]
struct Reloaded {
    digest: String,
    /// Whether the log got a new digest record (false when the shapes did not change).
    recorded: bool,
    sets: Vec<SetInfo>,
}

#[derive(Serialize)]
struct SetInfo {
    name: String,
    mode: shapes::Mode,
    triples: usize,
}

/// `POST /v1/shapes` (admin): an empty body reloads the configured shapes path; a Turtle body
/// replaces the shapes by that one document (set `posted`, not written to disk). Broken shapes
/// are refused (400 with the line) and the previous ones stay active.
pub async fn reload(
    State(state): State<AppState>,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<Response, AppError> {
    state.authorize(&headers, Scope::Admin)?;
    let loaded = load_for_reload(&state, &headers, body).await?;
    let _exclusive = state.write_gate.write().await;
    let recorded = record_shapes(&state, &loaded).await?;
    state.admission.replace(loaded.clone());
    tracing::info!(digest = %loaded.digest, "shapes reloaded");
    let sets = loaded
        .sets
        .iter()
        .map(|s| SetInfo {
            name: s.name.clone(),
            mode: s.mode,
            triples: s.graph.len(),
        })
        .collect();
    Ok(Json(Reloaded {
        digest: loaded.digest.clone(),
        recorded,
        sets,
    })
    .into_response())
}

async fn load_for_reload(
    state: &AppState,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<Arc<Shapes>, AppError> {
    if body.is_empty() {
        let Some(path) = state.shapes_path.clone() else {
            return Err(AppError::bad_request(
                "no shapes path is configured (serve --shapes); send the shapes as a text/turtle body",
            ));
        };
        let loaded = tokio::task::spawn_blocking(move || Shapes::load(&path))
            .await
            .map_err(AppError::internal)?;
        return loaded.map(Arc::new).map_err(shapes_error);
    }
    match media::content_type(headers).as_deref() {
        Some("text/turtle") | Some("application/x-turtle") => {}
        other => {
            return Err(AppError::UnsupportedMediaType(format!(
                "shapes are read as text/turtle, not {}",
                other.unwrap_or("a body without Content-Type")
            )));
        }
    }
    media::require_utf8(headers)?;
    let text = String::from_utf8(body.to_vec())
        .map_err(|e| AppError::bad_request(format!("the shapes are not UTF-8: {e}")))?;
    let loaded = tokio::task::spawn_blocking(move || Shapes::from_turtle("posted", &text))
        .await
        .map_err(AppError::internal)?;
    loaded.map(Arc::new).map_err(shapes_error)
}

/// Appends the digest of `shapes` to the log if it differs from the one the state holds. The
/// caller holds the write gate alone (or nothing else writes yet).
pub async fn record_shapes(state: &AppState, shapes: &Shapes) -> Result<bool, AppError> {
    wait_for_state(state).await?;
    let previous = recorded_digest(state.store.oxigraph()).map_err(AppError::internal)?;
    if previous.is_none() && !shapes.is_active() && shapes.sets.is_empty() {
        return Ok(false);
    }
    let changes = shapes::digest_changes(previous.as_deref(), shapes);
    if changes.is_empty() {
        return Ok(false);
    }
    super::publish::append_internal(state, changes, super::publish::now_ms()).await?;
    Ok(true)
}

/// The shapes digest the state holds (the last one the log recorded), if any.
pub fn recorded_digest(store: &oxigraph::store::Store) -> Result<Option<String>, ShapesError> {
    let node = NamedNodeRef::new_unchecked(SHAPES_NODE);
    let graph = NamedNodeRef::new_unchecked(SHAPES_GRAPH);
    let found = store
        .quads_for_pattern(
            Some(NamedOrBlankNodeRef::NamedNode(node)),
            Some(SHAPES_DIGEST),
            None,
            Some(GraphNameRef::NamedNode(graph)),
        )
        .next();
    match found {
        None => Ok(None),
        Some(Err(e)) => Err(ShapesError::Store(e.to_string())),
        Some(Ok(q)) => match q.object.as_ref() {
            TermRef::Literal(l) => Ok(Some(l.value().to_owned())),
            _ => Ok(None),
        },
    }
}
