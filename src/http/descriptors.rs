//! Descriptors over HTTP: `GET /v1/descriptors` (what was ever activated, which one is
//! active) and `POST /v1/descriptors/activate` (admin: a descriptor file as the body, or an
//! empty body and `?digest=` to go back to an earlier one). Also the kernel's part of
//! admission: the active descriptor's guards run before SHACL on every published batch.
//!
//! An activation is appended to the log (see [`crate::kernel::registry`]) with the write gate
//! held alone, and the in-memory active descriptor is swapped right after its acknowledgement,
//! still under the gate: every batch appended after the activation's position was admitted by
//! the new descriptor, every one before by the old.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use oxrdf::{NamedNode, Quad, Term};
use serde::{Deserialize, Serialize};
use shacl::types::{MessageMap, Severity};
use shacl::validator::report::ValidationResult;

use super::AppState;
use super::admission::Rejection;
use super::auth::Scope;
use super::error::{AppError, Body};
use super::sparql::wait_for_state;
use crate::event::Op;
use crate::kernel::admit::{self, KernelFinding};
use crate::kernel::registry::{self, Active, RegistryError};
use crate::shapes::Mode;
use crate::shapes::report::{BatchReport, Finding};

const SH: &str = "http://www.w3.org/ns/shacl#";

fn registry_error(e: RegistryError) -> AppError {
    match e {
        RegistryError::Invalid(_) => AppError::bad_request(e.to_string()),
        RegistryError::Unknown(_) => AppError::NotFound(e.to_string()),
        other => AppError::internal(other),
    }
}

/// `GET /v1/descriptors`.
pub async fn list(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, AppError> {
    state.authorize(&headers, Scope::Read)?;
    let store = state.store.clone();
    let mut listing = tokio::task::spawn_blocking(move || registry::listing(store.oxigraph()))
        .await
        .map_err(AppError::internal)?
        .map_err(registry_error)?;
    // The in-memory descriptor is what admits batches; the store may trail the log briefly.
    listing.active = state.descriptors.current().map(|a| a.info.digest.clone());
    Ok(Json(listing).into_response())
}

#[derive(Debug, Deserialize)]
pub struct ActivateParams {
    /// Re-activate a descriptor recorded earlier (rollback), with an empty body.
    digest: Option<String>,
    /// Name to record for a new descriptor (default: the start of its digest).
    name: Option<String>,
}

#[derive(Debug, Serialize)]
struct Activated {
    digest: String,
    name: String,
    /// Log position of the activation: the first batch it admits comes after it.
    seq: u64,
    /// False when that descriptor was already active (nothing appended).
    recorded: bool,
}

/// `POST /v1/descriptors/activate` (admin).
pub async fn activate(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(params): Query<ActivateParams>,
    Body(body): Body,
) -> Result<Response, AppError> {
    state.authorize(&headers, Scope::Admin)?;
    let store = state.store.clone();
    let bytes = if body.is_empty() {
        let Some(digest) = params.digest.clone() else {
            return Err(AppError::bad_request(
                "send a descriptor file as the body, or ?digest= of one activated before",
            ));
        };
        let store = store.clone();
        tokio::task::spawn_blocking(move || registry::recorded_bytes(store.oxigraph(), &digest))
            .await
            .map_err(AppError::internal)?
            .map_err(registry_error)?
    } else {
        body.to_vec()
    };
    let name = params.name.clone();
    let active = tokio::task::spawn_blocking(move || registry::load(bytes, name.as_deref()))
        .await
        .map_err(AppError::internal)?
        .map_err(registry_error)?;
    let active = Arc::new(active);
    let _exclusive = state.write_gate.write().await;
    let current = state.descriptors.current();
    if current.is_some_and(|c| c.info.digest == active.info.digest) {
        let seq = state.log.size();
        return Ok(Json(Activated {
            digest: active.info.digest.clone(),
            name: active.info.name.clone(),
            seq,
            recorded: false,
        })
        .into_response());
    }
    wait_for_state(&state).await?;
    let seq = state.log.size();
    let changes =
        registry::activation_changes(store.oxigraph(), &active, seq, super::publish::now_ms())
            .map_err(registry_error)?;
    super::publish::append_internal(&state, changes, super::publish::now_ms()).await?;
    state.descriptors.replace(Some(active.clone()));
    tracing::info!(digest = %active.info.digest, seq, "descriptor activated");
    metrics::counter!("ledgraph_descriptor_activations_total").increment(1);
    Ok(Json(Activated {
        digest: active.info.digest.clone(),
        name: active.info.name.clone(),
        seq,
        recorded: true,
    })
    .into_response())
}

/// The active descriptor's guards on a batch about to be appended; a refusal names the shape or
/// rule of each failed guard. The caller holds the write gate alone and the state is caught up.
pub(super) async fn admit(
    state: &AppState,
    changes: &[(Op, Quad)],
    first_seq: u64,
) -> Result<(), AppError> {
    let Some(active) = state.descriptors.current() else {
        return Ok(());
    };
    let store = state.store.clone();
    let batch = changes.to_vec();
    let started = std::time::Instant::now();
    let checked = active.clone();
    let findings =
        tokio::task::spawn_blocking(move || admit::check(&checked, store.oxigraph(), &batch))
            .await
            .map_err(AppError::internal)?
            .map_err(AppError::internal)?;
    metrics::histogram!("ledgraph_kernel_admission_seconds")
        .record(started.elapsed().as_secs_f64());
    if findings.is_empty() {
        return Ok(());
    }
    metrics::counter!("ledgraph_batches_rejected_total").increment(1);
    let report = report(&active, changes, &findings);
    Err(AppError::Unprocessable(Box::new(Rejection {
        report,
        first_seq,
    })))
}

/// The findings as SHACL validation results, so a kernel refusal reads like a SHACL one: focus
/// node = the event's subject, path = its predicate, value = its object, source shape = the
/// shape or rule the guard came from.
fn report(active: &Active, changes: &[(Op, Quad)], findings: &[KernelFinding]) -> BatchReport {
    let set = format!("descriptor:{}", active.info.name);
    let object = |t: Term| rudof_rdf::rdf_core::term::Object::try_from(t).ok();
    let findings = findings
        .iter()
        .filter_map(|f| {
            let (_, quad) = changes.get(f.event)?;
            let component = NamedNode::new_unchecked(format!("{SH}{}", admit::kind_name(f.kind)));
            let path = match object(quad.predicate.clone().into()) {
                Some(rudof_rdf::rdf_core::term::Object::Iri(iri)) => {
                    Some(rudof_rdf::rdf_core::SHACLPath::iri(iri))
                }
                _ => None,
            };
            let result = ValidationResult::new(
                object(quad.subject.clone().into())?,
                object(component.into())?,
                Severity::Violation,
            )
            .with_path(path)
            .with_value(object(quad.object.clone()))
            .with_source(f.source.clone().and_then(object))
            .with_message(MessageMap::new().with_message(None, f.message.clone()));
            Some(Finding {
                set: set.clone(),
                mode: Mode::Enforce,
                event: Some(f.event),
                result,
            })
        })
        .collect();
    BatchReport { findings }
}
