//! `GET /v1/migrations` (what is applied) and `POST /v1/migrations/{name}` (apply one).
//!
//! Applying holds the write gate alone, waits for the state to catch up with the log, checks
//! the migration against the records in `urn:ledgraph:migrations` ([`migration::status`]),
//! computes its changes with [`migration::migration_delta`], admits them like any write
//! (SHACL) and appends changes and record as one transaction. Applying twice is a no-op
//! (200, `"status":"up to date"`); a migration edited after it was applied, or pending behind
//! a later one, is refused with 409 Conflict and changes nothing. Both need the `admin` scope
//! to apply (a migration can rewrite anything) and `read` to list.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use oxigraph::sparql::CancellationToken;
use serde::Serialize;

use super::auth::Scope;
use super::error::{AppError, Body};
use super::publish::{Appended, append_internal, new_skolemizer, now_ms};
use super::sparql::{wait_for_state, with_time_limit};
use super::{AppState, admission};
use crate::store::migration::{self, Migration, MigrationError, Status};

#[derive(Serialize)]
struct AppliedJson {
    name: String,
    sha256: String,
}

#[derive(Serialize)]
struct ListJson {
    migrations: Vec<AppliedJson>,
}

/// `GET /v1/migrations`: the applied migrations, by name.
pub async fn list(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, AppError> {
    state.authorize(&headers, Scope::Read)?;
    wait_for_state(&state).await?;
    let store = state.store.clone();
    let applied = tokio::task::spawn_blocking(move || migration::applied(&store))
        .await
        .map_err(AppError::internal)?
        .map_err(migration_error)?;
    Ok(Json(ListJson {
        migrations: applied
            .into_iter()
            .map(|(name, sha256)| AppliedJson { name, sha256 })
            .collect(),
    })
    .into_response())
}

#[derive(Serialize)]
struct ResultJson {
    name: String,
    sha256: String,
    /// `applied` (now) or `up to date` (before).
    status: &'static str,
    #[serde(flatten)]
    appended: Option<Appended>,
}

/// `POST /v1/migrations/{name}`: body = the migration file (SPARQL Update, UTF-8).
pub async fn apply(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
    Body(body): Body,
) -> Result<Response, AppError> {
    let received_at_ms = now_ms();
    state.authorize(&headers, Scope::Admin)?;
    let migration = Migration::new(&name, &body).map_err(migration_error)?;
    let _exclusive = state.write_gate.write().await;
    wait_for_state(&state).await?;
    let cancel = CancellationToken::new();
    let store = state.store.clone();
    let mut skolemizer = new_skolemizer(&state)?;
    let changes_max = state.limits.update_changes_max;
    let token = cancel.clone();
    let m = migration.clone();
    let changes = with_time_limit(&state, &cancel, move || {
        let applied = migration::applied(&store).map_err(migration_error)?;
        match migration::status(&applied, &m).map_err(migration_error)? {
            Status::Applied => Ok(None),
            Status::Pending => {
                migration::migration_delta(&store, &m, &mut skolemizer, token, changes_max)
                    .map(Some)
                    .map_err(migration_error)
            }
        }
    })
    .await?;
    let result = |status, appended| ResultJson {
        name: migration.name.clone(),
        sha256: migration.sha256.clone(),
        status,
        appended,
    };
    let Some(mut changes) = changes else {
        return Ok((StatusCode::OK, Json(result("up to date", None))).into_response());
    };
    // Admission judges the migration's changes; the record is ledgraph's own.
    let warnings = admission::admit(&state, &changes).await?;
    changes.extend(warnings);
    changes.extend(migration::record(&migration));
    let ack = append_internal(&state, changes, received_at_ms).await?;
    tracing::info!(migration = %migration.name, first_seq = ack.first_seq, events = ack.count, "applied a migration");
    let body = result("applied", Some(Appended::from(&ack)));
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

fn migration_error(e: MigrationError) -> AppError {
    use crate::store::UpdateError as U;
    match e {
        MigrationError::Name { .. } | MigrationError::Invalid { .. } => {
            AppError::bad_request(e.to_string())
        }
        MigrationError::Edited { .. } | MigrationError::OutOfOrder { .. } => {
            AppError::Conflict(e.to_string())
        }
        MigrationError::Update {
            source: U::Syntax { .. } | U::Unsupported(_) | U::Evaluation(_),
            ..
        } => AppError::bad_request(e.to_string()),
        MigrationError::Update {
            source: U::Limit { .. },
            ..
        } => AppError::TooLarge(e.to_string()),
        MigrationError::Update {
            source: U::Cancelled,
            ..
        } => AppError::Unavailable(e.to_string()),
        other => AppError::internal(other),
    }
}
