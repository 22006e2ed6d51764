//! `/search` (hybrid, semantic or lexical search over the tenant's work items and pull
//! requests),
//! `/vectors/status` (how far its embedding is) and `/embedding` (its provider and model;
//! the API key is write-only).

use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::{Admin, Caller};
use super::error::{ApiResult, ErrorBody};
use super::extract::{Json, Query};
use super::state::ApiState;
use crate::domain::Provider;
use crate::search::fusion::Fusion;
use crate::search::SearchMode;
use crate::service::search::{self, SearchHit, SearchQuery};
use crate::service::vectors::{self, CollectionView, EmbeddingInput, VectorsStatus};
use crate::sources::CATALOG;

pub fn router() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(search))
        .routes(routes!(status))
        .routes(routes!(settings, configure))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchParams {
    /// What to look for, in plain words (any language). A key (`CORE-12`, `org/repo#45`)
    /// puts its record first; records holding a "quoted phrase" come next.
    pub q: String,
    /// `hybrid` (words and meaning, fused; the default), `semantic` or `lexical`.
    #[param(inline)]
    pub mode: Option<SearchMode>,
    /// Only work items (`jira`) or only pull requests (`github`).
    pub source: Option<Provider>,
    /// Only this Jira project key or GitHub repository (owner/name).
    pub project: Option<String>,
    /// Only this issue type (`Bug`), or `Pull request`.
    #[serde(rename = "type")]
    #[param(rename = "type")]
    pub kind: Option<String>,
    /// Only this status, exactly as the source names it (`In Progress`, `merged`).
    pub status: Option<String>,
    /// Only this status category: `new`, `indeterminate` or `done`.
    pub status_category: Option<String>,
    /// Only items assigned to this Jira account id or GitHub login.
    pub assignee: Option<String>,
    /// Only items changed at their source at or after this time (RFC 3339).
    pub updated_from: Option<DateTime<Utc>>,
    /// Only items changed at their source at or before this time (RFC 3339).
    pub updated_to: Option<DateTime<Utc>>,
    /// At most this many results (1 to 100, default 10).
    pub limit: Option<usize>,
}

/// Search results, best first.
#[derive(Debug, Serialize, ToSchema)]
pub struct SearchResults {
    pub items: Vec<SearchHit>,
}

/// The tenant's records best matching `q` (by words and meaning, their rankings' normalised
/// scores fused, words weighing 0.8), joined from the database; each says why it matched.
#[utoipa::path(get, path = "/search", tag = "search", params(SearchParams),
    responses((status = 200, body = SearchResults), (status = 401, body = ErrorBody),
              (status = 409, description = "No complete vector index yet (or, for mode=lexical, one that predates lexical search)", body = ErrorBody),
              (status = 422, body = ErrorBody),
              (status = 502, description = "The embedding provider failed", body = ErrorBody)))]
async fn search(
    State(state): State<ApiState>,
    caller: Caller,
    Query(params): Query<SearchParams>,
) -> ApiResult<axum::Json<SearchResults>> {
    let query = SearchQuery {
        text: params.q,
        mode: params.mode.unwrap_or_default(),
        source: params.source,
        project: params.project,
        kind: params.kind,
        status: params.status,
        status_category: params.status_category,
        assignee: params.assignee,
        updated_from: params.updated_from,
        updated_to: params.updated_to,
        limit: params.limit.unwrap_or(10),
        fusion: Fusion::default(),
    };
    let items = search::search(
        &state.pool,
        CATALOG,
        &state.embedding,
        caller.tenant_id,
        &query,
    )
    .await?;
    Ok(axum::Json(SearchResults { items }))
}

/// Records, embedded, pending and failed per table, for the collection being filled.
#[utoipa::path(get, path = "/vectors/status", operation_id = "vectors_status", tag = "search",
    responses((status = 200, body = VectorsStatus), (status = 401, body = ErrorBody)))]
async fn status(
    State(state): State<ApiState>,
    caller: Caller,
) -> ApiResult<axum::Json<VectorsStatus>> {
    Ok(axum::Json(
        vectors::status(&state.pool, CATALOG, &state.embedding, caller.tenant_id).await?,
    ))
}

/// The tenant's embedding collections (an empty list: embedding is off).
#[derive(Debug, Serialize, ToSchema)]
pub struct Collections {
    pub items: Vec<CollectionView>,
}

/// The tenant's embedding provider and model per collection.
#[utoipa::path(get, path = "/embedding", tag = "search",
    responses((status = 200, body = Collections), (status = 401, body = ErrorBody)))]
async fn settings(
    State(state): State<ApiState>,
    caller: Caller,
) -> ApiResult<axum::Json<Collections>> {
    let items = vectors::collections(&state.pool, caller.tenant_id).await?;
    Ok(axum::Json(Collections { items }))
}

/// Sets the embedding provider and model: another model fills a new collection beside the
/// one searched, which search switches to once it is complete.
#[utoipa::path(put, path = "/embedding", tag = "search", request_body = EmbeddingInput,
    responses((status = 200, body = Collections), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn configure(
    State(state): State<ApiState>,
    Admin(caller): Admin,
    Json(input): Json<EmbeddingInput>,
) -> ApiResult<axum::Json<Collections>> {
    let items = vectors::configure(
        &state.pool,
        (Some(&state.reach.cipher), &state.reach.outbound),
        caller.tenant_id,
        input,
    )
    .await?;
    Ok(axum::Json(Collections { items }))
}
