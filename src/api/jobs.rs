//! `/jobs`: the tenant's sync jobs with their step × stage status, and the operator
//! actions: trigger, pause, resume, reset, and the seeds' `PUT /jobs/{id}/status`.

use axum::extract::State;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::{Admin, Caller};
use super::error::{ApiError, ApiResult, ErrorBody};
use super::extract::{Json, Path};
use super::pagination::Page;
use super::state::ApiState;
use crate::domain::JobId;
use crate::service::jobs;
use crate::store::job_controls::{Control, JobSummary};

pub fn router() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(get))
        .routes(routes!(trigger))
        .routes(routes!(pause))
        .routes(routes!(resume))
        .routes(routes!(reset))
        .routes(routes!(set_status))
}

/// The tenant's jobs with their status JSON.
#[utoipa::path(get, path = "/jobs", operation_id = "list_jobs", tag = "jobs",
    responses((status = 200, body = Page<JobSummary>), (status = 401, body = ErrorBody)))]
async fn list(
    State(state): State<ApiState>,
    caller: Caller,
) -> ApiResult<axum::Json<Page<JobSummary>>> {
    Ok(axum::Json(Page::complete(
        jobs::list(&state.pool, caller.tenant_id).await?,
    )))
}

/// One job with its status JSON.
#[utoipa::path(get, path = "/jobs/{id}", operation_id = "get_job", tag = "jobs",
    params(("id" = i64, Path, description = "Job id")),
    responses((status = 200, body = JobSummary), (status = 404, body = ErrorBody)))]
async fn get(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<JobId>,
) -> ApiResult<axum::Json<JobSummary>> {
    Ok(axum::Json(
        jobs::get(&state.pool, caller.tenant_id, id).await?,
    ))
}

async fn apply(
    state: &ApiState,
    caller: Caller,
    id: JobId,
    control: Control,
) -> ApiResult<axum::Json<JobSummary>> {
    jobs::control(&state.pool, caller.tenant_id, id, control).await?;
    Ok(axum::Json(
        jobs::get(&state.pool, caller.tenant_id, id).await?,
    ))
}

/// Makes the job due now.
#[utoipa::path(post, path = "/jobs/{id}/trigger", tag = "jobs",
    params(("id" = i64, Path, description = "Job id")),
    responses((status = 200, body = JobSummary), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn trigger(
    State(state): State<ApiState>,
    Admin(caller): Admin,
    Path(id): Path<JobId>,
) -> ApiResult<axum::Json<JobSummary>> {
    apply(&state, caller, id, Control::Trigger).await
}

/// Pauses the job: schedulers skip it until resumed.
#[utoipa::path(post, path = "/jobs/{id}/pause", tag = "jobs",
    params(("id" = i64, Path, description = "Job id")),
    responses((status = 200, body = JobSummary), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn pause(
    State(state): State<ApiState>,
    Admin(caller): Admin,
    Path(id): Path<JobId>,
) -> ApiResult<axum::Json<JobSummary>> {
    apply(&state, caller, id, Control::Pause).await
}

/// Resumes a paused job and makes it due now.
#[utoipa::path(post, path = "/jobs/{id}/resume", tag = "jobs",
    params(("id" = i64, Path, description = "Job id")),
    responses((status = 200, body = JobSummary), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn resume(
    State(state): State<ApiState>,
    Admin(caller): Admin,
    Path(id): Path<JobId>,
) -> ApiResult<axum::Json<JobSummary>> {
    apply(&state, caller, id, Control::Resume).await
}

/// Forgets the job's cursor: its next run (due now) is a full sync.
#[utoipa::path(post, path = "/jobs/{id}/reset", tag = "jobs",
    params(("id" = i64, Path, description = "Job id")),
    responses((status = 200, body = JobSummary), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn reset(
    State(state): State<ApiState>,
    Admin(caller): Admin,
    Path(id): Path<JobId>,
) -> ApiResult<axum::Json<JobSummary>> {
    apply(&state, caller, id, Control::Reset).await
}

/// The one state a client may set.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusChange {
    /// Only `READY`: the job becomes due now.
    pub status: String,
}

/// Sets the job READY (due now), as the seeds' clients do.
#[utoipa::path(put, path = "/jobs/{id}/status", tag = "jobs", request_body = StatusChange,
    params(("id" = i64, Path, description = "Job id")),
    responses((status = 200, body = JobSummary), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn set_status(
    State(state): State<ApiState>,
    Admin(caller): Admin,
    Path(id): Path<JobId>,
    Json(change): Json<StatusChange>,
) -> ApiResult<axum::Json<JobSummary>> {
    if change.status != "READY" {
        return Err(ApiError::invalid("status", "only READY can be set"));
    }
    apply(&state, caller, id, Control::Ready).await
}
