//! The HTTP server: event publishing, the SPARQL 1.1 Protocol, Graph Store reads and writes,
//! the log's checkpoints and proofs, operations endpoints, and the web UI ([`web`]).
//!
//! [`app`] builds the whole [`Router`] from an [`AppState`] so every route can be tested with
//! `oneshot(request)` and no socket; [`server`] binds it and handles shutdown. Every write —
//! published events, SPARQL Update, Graph Store PUT/POST/DELETE — becomes one log transaction;
//! the store is only ever changed by its projection of the log. Blocking work (Oxigraph, log
//! appends) runs off the async executor. This module does not parse RDF or evaluate SPARQL
//! itself: `event::input` and `store` do.

pub mod admission;
pub mod as_of;
pub mod auth;
mod catch_up;
mod descriptors;
mod error;
mod graph_store;
mod log_routes;
mod media;
mod migrations;
mod ops;
mod publish;
mod queries;
pub mod server;
mod sparql;
mod subscribe;
pub mod web;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use metrics_exporter_prometheus::PrometheusHandle;

pub use error::{AppError, Body};

use crate::bus::Bus;
use crate::event::ActorKey;
use crate::log::Log;
use crate::shapes::Admission;
use crate::store::{GraphStore, Projections, TimingTable};
use auth::{Scope, Tokens};

/// Limits on what clients may ask of the server.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest request body accepted (413 above).
    pub request_body_bytes_max: usize,
    /// A query (or an update's evaluation) is cancelled after this long (503).
    pub query_timeout_ms: u64,
    /// Most changes one SPARQL Update or Graph Store write may make (413 above).
    pub update_changes_max: usize,
    /// Most entries one `/v1/log/entries` page returns.
    pub log_entries_page_max: u64,
    /// How long a write that reads the state (SPARQL Update, Graph Store PUT/DELETE) waits for
    /// the state projection to catch up with the log (503 after).
    pub state_wait_ms: u64,
    /// Most open `/v1/subscribe` streams per token (429 above).
    pub subscribers_per_token_max: usize,
    /// Longest subject, predicate or object in a subscription pattern (400 above).
    pub subscribe_term_bytes_max: usize,
    /// Limits of `asOf` queries (time travel).
    pub as_of: crate::store::as_of::AsOfLimits,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            request_body_bytes_max: 64 << 20,
            query_timeout_ms: 30_000,
            update_changes_max: 1_000_000,
            log_entries_page_max: 10_000,
            state_wait_ms: 30_000,
            subscribers_per_token_max: 64,
            subscribe_term_bytes_max: 4_096,
            as_of: crate::store::as_of::AsOfLimits::default(),
        }
    }
}

/// Everything a request handler can reach.
pub struct Shared {
    pub log: Arc<Log>,
    pub store: GraphStore,
    pub projections: Arc<Projections>,
    pub timing: Arc<TimingTable>,
    pub tokens: Tokens,
    pub limits: Limits,
    /// Actor key recorded on events published over HTTP without a publisher signature: the
    /// node's own key, which vouches for its authenticated clients.
    pub actor: ActorKey,
    /// Base for Skolem IRIs minted for blank nodes.
    pub genid_base: String,
    /// The serialization point of writes that read the state: publishers share it, a SPARQL
    /// Update or Graph Store replace holds it alone while it computes and appends its delta.
    pub write_gate: tokio::sync::RwLock<()>,
    pub metrics: Option<PrometheusHandle>,
    pub shutting_down: AtomicBool,
    /// The SHACL shapes in force ([`admission`]).
    pub admission: Arc<Admission>,
    /// Where the shapes are reloaded from (`POST /v1/shapes` with an empty body).
    pub shapes_path: Option<PathBuf>,
    /// The built web UI ([`web`]), read per request.
    pub web_dir: PathBuf,
    /// Committed events to subscribers ([`crate::bus`]).
    pub bus: Arc<Bus>,
    /// Open `/v1/subscribe` streams per token.
    pub subscriber_counts: Arc<subscribe::SubscriberCounts>,
    /// The active descriptor, whose guards admit batches before SHACL.
    pub descriptors: Arc<crate::kernel::registry::Registry>,
    /// The kernel projection: derived triples and receipts after commit.
    pub kernel: crate::kernel::follow::Follower,
}

/// The write gate as a writer holds it: shared, or alone while shapes validate batches.
#[allow(dead_code)] // the guards are held for their drop only
pub enum WriteGuard<'a> {
    Shared(tokio::sync::RwLockReadGuard<'a, ()>),
    Exclusive(tokio::sync::RwLockWriteGuard<'a, ()>),
}

/// Cheap to clone: every handler gets one.
#[derive(Clone)]
pub struct AppState(pub Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl AppState {
    pub fn authorize(
        &self,
        headers: &axum::http::HeaderMap,
        scope: Scope,
    ) -> Result<String, AppError> {
        self.tokens.authorize(headers, scope)
    }

    /// Takes the write gate for a write that does not read the state itself: alone when
    /// shapes validate batches (validation reads the state), shared otherwise. Shapes only
    /// change under the gate held alone, so the choice stays right while the guard lives.
    pub async fn write_lock(&self) -> WriteGuard<'_> {
        if self.validates_batches() {
            WriteGuard::Exclusive(self.write_gate.write().await)
        } else {
            let guard = self.write_gate.read().await;
            if self.validates_batches() {
                drop(guard);
                return WriteGuard::Exclusive(self.write_gate.write().await);
            }
            WriteGuard::Shared(guard)
        }
    }

    /// Whether admission reads the state: active shapes or an active descriptor.
    fn validates_batches(&self) -> bool {
        self.admission.current().is_active() || self.descriptors.current().is_some()
    }

    pub fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::Acquire)
    }
}

/// Every route, with its method(s), as documented in `docs/openapi.json` (a test keeps the two
/// in step).
pub const ROUTES: &[(&str, &str)] = &[
    ("get", "/"),
    ("get", "/assets/app.js"),
    ("get", "/assets/app.css"),
    ("get", "/assets/icon.svg"),
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", "/metrics"),
    ("get", "/openapi.json"),
    ("post", "/v1/events"),
    ("post", "/v1/validate"),
    ("post", "/v1/shapes"),
    ("get", "/v1/descriptors"),
    ("post", "/v1/descriptors/activate"),
    ("get", "/v1/subscribe"),
    ("get", "/v1/migrations"),
    ("post", "/v1/migrations/{name}"),
    ("get", "/v1/log/checkpoint"),
    ("get", "/v1/log/vkey"),
    ("get", "/v1/log/entries"),
    ("get", "/v1/log/proof/inclusion"),
    ("get", "/v1/log/proof/consistency"),
    ("get", "/v1/queries"),
    ("get", "/v1/queries/{group}/{name}"),
    ("get", "/sparql"),
    ("post", "/sparql"),
    ("get", "/query"),
    ("post", "/query"),
    ("post", "/update"),
    ("get", "/store"),
    ("head", "/store"),
    ("put", "/store"),
    ("post", "/store"),
    ("delete", "/store"),
];

/// The whole application.
pub fn app(state: AppState) -> Router {
    let body_limit = state.limits.request_body_bytes_max;
    let router = web::routes(Router::new())
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .route("/openapi.json", get(ops::openapi))
        .route("/v1/events", post(publish::publish))
        .route("/v1/validate", post(admission::validate))
        .route("/v1/shapes", post(admission::reload))
        .route("/v1/descriptors", get(descriptors::list))
        .route("/v1/descriptors/activate", post(descriptors::activate))
        .route("/v1/subscribe", get(subscribe::subscribe))
        .route("/v1/migrations", get(migrations::list))
        .route("/v1/migrations/{name}", post(migrations::apply))
        .route("/v1/log/checkpoint", get(log_routes::checkpoint))
        .route("/v1/log/vkey", get(log_routes::vkey))
        .route("/v1/log/entries", get(log_routes::entries))
        .route("/v1/log/proof/inclusion", get(log_routes::inclusion))
        .route("/v1/log/proof/consistency", get(log_routes::consistency))
        .route("/v1/queries", get(queries::list))
        .route("/v1/queries/{group}/{name}", get(queries::run))
        .route("/sparql", get(sparql::get_query).post(sparql::post))
        .route("/query", get(sparql::get_query).post(sparql::post))
        // GET /update gets the 405 fallback, which lists the allowed methods (`Allow: POST`).
        .route("/update", post(sparql::post_update))
        .route(
            "/store",
            get(graph_store::get)
                .head(graph_store::head)
                .put(graph_store::put)
                .post(graph_store::post)
                .delete(graph_store::delete),
        )
        .fallback(ops::not_found)
        .method_not_allowed_fallback(ops::method_not_allowed)
        .layer(axum::middleware::from_fn(admission::negotiate_rejection))
        .layer(DefaultBodyLimit::max(body_limit))
        .with_state(state);
    ops::with_request_tracing(router)
}
