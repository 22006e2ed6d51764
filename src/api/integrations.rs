//! `/integrations`: a tenant's source connections — listed and read without credentials,
//! created and edited with credentials that are written and never returned, deleted, and
//! tested against the source with what is stored.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::{Admin, Caller};
use super::error::{ApiResult, ErrorBody};
use super::extract::{Json, Path};
use super::pagination::Page;
use super::state::ApiState;
use crate::domain::input::SourceScope;
use crate::domain::{IntegrationId, Provider};
use crate::service::integrations::{self, IntegrationInput, IntegrationUpdate};
use crate::store::integrations::IntegrationSummary;

pub fn router() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(get, update, delete))
        .routes(routes!(test))
}

/// A new integration. `tokens` are sealed at rest and never returned.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewIntegrationBody {
    pub provider: Provider,
    pub base_url: String,
    /// One or more API tokens (several rotate where the source limits each token).
    pub tokens: Vec<String>,
    /// The account that signs in (Jira: its e-mail address).
    pub username: Option<String>,
    /// Jira project keys to read (empty: all).
    #[serde(default)]
    pub projects: Vec<String>,
    /// GitHub repositories as `owner/name` (empty: all the token sees).
    #[serde(default)]
    pub repos: Vec<String>,
    /// Jira: link pull requests through the development panel (one call per issue with
    /// code) instead of by the issue keys pull requests carry.
    #[serde(default)]
    pub dev_status: bool,
    /// GitHub: `graphql` (default) or `rest` (for tokens without GraphQL access).
    #[serde(default)]
    pub api: Option<crate::domain::SourceApi>,
    pub requests_per_second: Option<f64>,
    pub concurrency: Option<usize>,
}

/// What a connection test reached, or why it failed.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConnectionTest {
    pub ok: bool,
    pub message: String,
}

/// The tenant's integrations (never their credentials).
#[utoipa::path(get, path = "/integrations", operation_id = "list_integrations", tag = "integrations",
    responses((status = 200, body = Page<IntegrationSummary>), (status = 401, body = ErrorBody)))]
async fn list(
    State(state): State<ApiState>,
    caller: Caller,
) -> ApiResult<axum::Json<Page<IntegrationSummary>>> {
    let items = integrations::list(&state.pool, caller.tenant_id).await?;
    Ok(axum::Json(Page::complete(items)))
}

/// Creates an integration and its sync job.
#[utoipa::path(post, path = "/integrations", operation_id = "create_integration", tag = "integrations", request_body = NewIntegrationBody,
    responses((status = 201, body = IntegrationSummary), (status = 403, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create(
    State(state): State<ApiState>,
    Admin(caller): Admin,
    Json(body): Json<NewIntegrationBody>,
) -> ApiResult<(StatusCode, axum::Json<IntegrationSummary>)> {
    let id = integrations::create(
        &state.pool,
        &state.reach,
        IntegrationInput {
            tenant_id: caller.tenant_id,
            provider: body.provider,
            base_url: body.base_url,
            tokens: body.tokens,
            scope: SourceScope {
                username: body.username,
                projects: body.projects,
                repos: body.repos,
                dev_status: body.dev_status,
                api: body.api,
            },
            requests_per_second: body.requests_per_second,
            concurrency: body.concurrency,
        },
    )
    .await?;
    let created = integrations::get(&state.pool, caller.tenant_id, id).await?;
    Ok((StatusCode::CREATED, axum::Json(created)))
}

/// One integration.
#[utoipa::path(get, path = "/integrations/{id}", operation_id = "get_integration", tag = "integrations",
    params(("id" = i64, Path, description = "Integration id")),
    responses((status = 200, body = IntegrationSummary), (status = 404, body = ErrorBody)))]
async fn get(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<IntegrationId>,
) -> ApiResult<axum::Json<IntegrationSummary>> {
    Ok(axum::Json(
        integrations::get(&state.pool, caller.tenant_id, id).await?,
    ))
}

/// Edits an integration (credentials are replaced, never shown).
#[utoipa::path(patch, path = "/integrations/{id}", operation_id = "update_integration", tag = "integrations", request_body = IntegrationUpdate,
    params(("id" = i64, Path, description = "Integration id")),
    responses((status = 200, body = IntegrationSummary), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update(
    State(state): State<ApiState>,
    Admin(caller): Admin,
    Path(id): Path<IntegrationId>,
    Json(change): Json<IntegrationUpdate>,
) -> ApiResult<axum::Json<IntegrationSummary>> {
    let updated =
        integrations::update(&state.pool, &state.reach, caller.tenant_id, id, change).await?;
    Ok(axum::Json(updated))
}

/// Deletes an integration, its jobs and everything loaded from it.
#[utoipa::path(delete, path = "/integrations/{id}", tag = "integrations",
    params(("id" = i64, Path, description = "Integration id")),
    responses((status = 204, description = "Deleted"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn delete(
    State(state): State<ApiState>,
    Admin(caller): Admin,
    Path(id): Path<IntegrationId>,
) -> ApiResult<StatusCode> {
    integrations::delete(&state.pool, caller.tenant_id, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Tries the source with the stored credentials and says what it reached or what failed.
#[utoipa::path(post, path = "/integrations/{id}/test", tag = "integrations",
    params(("id" = i64, Path, description = "Integration id")),
    responses((status = 200, body = ConnectionTest), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn test(
    State(state): State<ApiState>,
    Admin(caller): Admin,
    Path(id): Path<IntegrationId>,
) -> ApiResult<axum::Json<ConnectionTest>> {
    let outcome =
        integrations::test_connection(&state.pool, &state.reach, caller.tenant_id, id).await?;
    Ok(axum::Json(match outcome {
        Ok(message) => ConnectionTest { ok: true, message },
        Err(message) => ConnectionTest { ok: false, message },
    }))
}
