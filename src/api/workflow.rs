//! The tenant's Jira configuration that workflow metrics are computed from: `/projects`,
//! `/wits`, `/statuses`, `/workflows` (steps: category and commitment point),
//! `/status-mappings` (status → step), and `/reprocess`, which recomputes everything from
//! the stored raw data after an edit.

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::{Admin, Caller};
use super::error::{ApiResult, ErrorBody};
use super::extract::{Json, Path};
use super::pagination::Page;
use super::state::ApiState;
use crate::domain::IntegrationId;
use crate::service::reprocess::{self, Reprocessed};
use crate::service::workflows;
use crate::sources::jira::read::{ProjectRow, StatusMapping, StepChange, WitRow, WorkflowStep};

pub fn router() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(projects))
        .routes(routes!(wits))
        .routes(routes!(statuses))
        .routes(routes!(status_mappings))
        .routes(routes!(map_status))
        .routes(routes!(steps, create_step))
        .routes(routes!(update_step))
        .routes(routes!(run_reprocess))
}

/// Jira projects.
#[utoipa::path(get, path = "/projects", tag = "workflow", responses((status = 200, body = Page<ProjectRow>), (status = 401, body = ErrorBody)))]
async fn projects(
    State(state): State<ApiState>,
    caller: Caller,
) -> ApiResult<axum::Json<Page<ProjectRow>>> {
    Ok(axum::Json(Page::complete(
        workflows::projects(&state.pool, caller.tenant_id).await?,
    )))
}

/// Work item types.
#[utoipa::path(get, path = "/wits", tag = "workflow", responses((status = 200, body = Page<WitRow>), (status = 401, body = ErrorBody)))]
async fn wits(
    State(state): State<ApiState>,
    caller: Caller,
) -> ApiResult<axum::Json<Page<WitRow>>> {
    Ok(axum::Json(Page::complete(
        workflows::wits(&state.pool, caller.tenant_id).await?,
    )))
}

/// Statuses, each with the workflow step it maps to.
#[utoipa::path(get, path = "/statuses", tag = "workflow", responses((status = 200, body = Page<StatusMapping>), (status = 401, body = ErrorBody)))]
async fn statuses(
    State(state): State<ApiState>,
    caller: Caller,
) -> ApiResult<axum::Json<Page<StatusMapping>>> {
    Ok(axum::Json(Page::complete(
        workflows::status_mappings(&state.pool, caller.tenant_id).await?,
    )))
}

/// Status → workflow step mappings.
#[utoipa::path(get, path = "/status-mappings", tag = "workflow", responses((status = 200, body = Page<StatusMapping>), (status = 401, body = ErrorBody)))]
async fn status_mappings(
    State(state): State<ApiState>,
    caller: Caller,
) -> ApiResult<axum::Json<Page<StatusMapping>>> {
    Ok(axum::Json(Page::complete(
        workflows::status_mappings(&state.pool, caller.tenant_id).await?,
    )))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MapStatus {
    /// A workflow step of the status's integration.
    pub workflow_id: i64,
}

/// Maps a status to a workflow step (then `POST /reprocess` to recompute metrics).
#[utoipa::path(put, path = "/status-mappings/{status_id}", tag = "workflow", request_body = MapStatus,
    params(("status_id" = i64, Path, description = "Status id")),
    responses((status = 204, description = "Mapped"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn map_status(
    State(state): State<ApiState>,
    Admin(caller): Admin,
    Path(status_id): Path<i64>,
    Json(body): Json<MapStatus>,
) -> ApiResult<StatusCode> {
    workflows::map_status(&state.pool, caller.tenant_id, status_id, body.workflow_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Workflow steps.
#[utoipa::path(get, path = "/workflows", tag = "workflow", responses((status = 200, body = Page<WorkflowStep>), (status = 401, body = ErrorBody)))]
async fn steps(
    State(state): State<ApiState>,
    caller: Caller,
) -> ApiResult<axum::Json<Page<WorkflowStep>>> {
    Ok(axum::Json(Page::complete(
        workflows::steps(&state.pool, caller.tenant_id).await?,
    )))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewStep {
    pub integration_id: IntegrationId,
    pub step_name: String,
    /// Position among the steps (default: last).
    pub step_number: Option<i32>,
    /// `to do`, `in progress` or `done`.
    pub step_category: String,
    #[serde(default)]
    pub is_commitment_point: bool,
}

/// Adds a workflow step to a Jira integration.
#[utoipa::path(post, path = "/workflows", tag = "workflow", request_body = NewStep,
    responses((status = 201, body = WorkflowStep), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_step(
    State(state): State<ApiState>,
    Admin(caller): Admin,
    Json(body): Json<NewStep>,
) -> ApiResult<(StatusCode, axum::Json<WorkflowStep>)> {
    let step = StepChange {
        step_name: Some(body.step_name),
        step_number: body.step_number,
        step_category: Some(body.step_category),
        is_commitment_point: Some(body.is_commitment_point),
    };
    let created =
        workflows::create_step(&state.pool, caller.tenant_id, body.integration_id, &step).await?;
    Ok((StatusCode::CREATED, axum::Json(created)))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StepPatch {
    pub step_name: Option<String>,
    pub step_number: Option<i32>,
    /// `to do`, `in progress` or `done`.
    pub step_category: Option<String>,
    pub is_commitment_point: Option<bool>,
}

/// Edits a workflow step (then `POST /reprocess` to recompute metrics).
#[utoipa::path(patch, path = "/workflows/{id}", tag = "workflow", request_body = StepPatch,
    params(("id" = i64, Path, description = "Workflow step id")),
    responses((status = 200, body = WorkflowStep), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update_step(
    State(state): State<ApiState>,
    Admin(caller): Admin,
    Path(id): Path<i64>,
    Json(body): Json<StepPatch>,
) -> ApiResult<axum::Json<WorkflowStep>> {
    let change = StepChange {
        step_name: body.step_name,
        step_number: body.step_number,
        step_category: body.step_category,
        is_commitment_point: body.is_commitment_point,
    };
    Ok(axum::Json(
        workflows::update_step(&state.pool, caller.tenant_id, id, &change).await?,
    ))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReprocessRequest {
    /// Only this integration (default: all of the tenant's).
    pub integration_id: Option<IntegrationId>,
}

/// Transforms and loads again from stored raw data (no source call): mappings, steps and
/// custom-field mappings take effect. Answers when done, with a report per step.
#[utoipa::path(post, path = "/reprocess", tag = "workflow", request_body = ReprocessRequest,
    responses((status = 200, body = Page<Reprocessed>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn run_reprocess(
    State(state): State<ApiState>,
    Admin(caller): Admin,
    Json(body): Json<ReprocessRequest>,
) -> ApiResult<axum::Json<Page<Reprocessed>>> {
    Ok(axum::Json(Page::complete(
        reprocess::run(&state.pool, caller.tenant_id, body.integration_id).await?,
    )))
}
