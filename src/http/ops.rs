//! Operations: health and readiness, Prometheus metrics, the OpenAPI document, and the request-id + tracing layers every request passes through.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::State;
use axum::http::{HeaderValue, Request, StatusCode, header};
use axum::response::IntoResponse;
use axum::{Json, Router};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::trace::TraceLayer;

use super::AppState;
use super::error::AppError;

/// The OpenAPI 3.1 description of every route.
pub const OPENAPI_JSON: &str = include_str!("../../docs/openapi.json");

/// Histogram buckets (seconds) for commit, fsync and query latencies.
const LATENCY_BUCKETS_SECONDS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0, 30.0,
];
const BATCH_BUCKETS_EVENTS: &[f64] = &[
    1.0, 2.0, 5.0, 10.0, 50.0, 100.0, 500.0, 1000.0, 5000.0, 10000.0, 100000.0,
];

/// The process-wide Prometheus recorder (the `metrics` facade has one global recorder).
pub fn prometheus() -> Option<PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    metrics_exporter_prometheus::Matcher::Suffix("_seconds".into()),
                    LATENCY_BUCKETS_SECONDS,
                )
                .ok()?
                .set_buckets_for_metric(
                    metrics_exporter_prometheus::Matcher::Full("ledgraph_batch_events".into()),
                    BATCH_BUCKETS_EVENTS,
                )
                .ok()?;
            match builder.install_recorder() {
                Ok(handle) => Some(handle),
                Err(e) => {
                    tracing::warn!(error = %e, "metrics recorder not installed");
                    None
                }
            }
        })
        .clone()
}

pub async fn metrics(State(state): State<AppState>) -> Result<impl IntoResponse, AppError> {
    let Some(handle) = &state.metrics else {
        return Err(AppError::NotFound("metrics are disabled".into()));
    };
    let size = state.log.size();
    metrics::gauge!("ledgraph_log_events").set(size as f64);
    let state_lag = size.saturating_sub(state.projections.state_applied());
    let events_lag = size.saturating_sub(state.projections.events_applied());
    metrics::gauge!("ledgraph_projection_lag_events", "projection" => "state")
        .set(state_lag as f64);
    metrics::gauge!("ledgraph_projection_lag_events", "projection" => "events")
        .set(events_lag as f64);
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        handle.render(),
    ))
}

pub async fn healthz() -> impl IntoResponse {
    Json(serde_json::json!({ "status": "ok" }))
}

/// Ready when the projections run and the state has caught up with the log to within a bound.
pub async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let size = state.log.size();
    let applied = state.projections.state_applied();
    let body = |status: &str, reason: Option<String>| {
        serde_json::json!({
            "status": status,
            "log_size": size,
            "state_applied": applied,
            "events_applied": state.projections.events_applied(),
            "reason": reason,
        })
    };
    if state.is_shutting_down() {
        let reason = Some("shutting down".to_owned());
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(body("unavailable", reason)),
        );
    }
    if let Some(failure) = state.projections.failure() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(body("unavailable", Some(failure))),
        );
    }
    (StatusCode::OK, Json(body("ready", None)))
}

pub async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI_JSON)
}

pub async fn method_not_allowed() -> AppError {
    AppError::MethodNotAllowed("this route does not take that method; see /openapi.json".into())
}

pub async fn not_found() -> AppError {
    AppError::NotFound("no such route; see /openapi.json".into())
}

/// Request ids: a process-wide counter, short and ordered (they only need to be unique in the
/// server's own log).
#[derive(Clone, Default)]
struct NextRequestId;

impl MakeRequestId for NextRequestId {
    fn make_request_id<B>(&mut self, _: &Request<B>) -> Option<RequestId> {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        let id = NEXT.fetch_add(1, Ordering::Relaxed);
        HeaderValue::from_str(&format!("{id:x}"))
            .ok()
            .map(RequestId::new)
    }
}

/// x-request-id in and out, and a tracing span per request carrying it.
pub fn with_request_tracing(router: Router) -> Router {
    let trace = TraceLayer::new_for_http().make_span_with(|request: &Request<axum::body::Body>| {
        let id = request
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("-");
        tracing::info_span!(
            "request",
            method = %request.method(),
            path = %request.uri().path(),
            request_id = %id,
        )
    });
    // Layers wrap outward: the id is set first, then the span sees it, then it is echoed back.
    router
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(trace)
        .layer(SetRequestIdLayer::x_request_id(NextRequestId))
}
