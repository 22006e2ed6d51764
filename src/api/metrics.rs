//! `/metrics/flow` (work items: cycle and lead time p50/p85/p95, throughput, rework rate by
//! project, type or week) and `/metrics/prs` (cycle, pickup and review time by repository
//! or week) and `/metrics/dora` (the four DORA keys with their bands, for the tenant or by
//! repository or week) and `/data-quality` (each integration's data-quality checks with
//! their counts, examples and weekly trend). Times are in seconds.

use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::Caller;
use super::error::{ApiResult, ErrorBody};
use super::extract::Query;
use super::pagination::Page;
use super::state::ApiState;
use crate::service::flow;
use crate::sources::delivery::dora::{DoraGrouping, DoraReport};
use crate::sources::delivery::drill::{self, ChangeDrill, DeploymentDrill, IncidentDrill};
use crate::sources::github::read::{PrFlowGroup, PrGrouping, PrReportFilter};
use crate::sources::jira::read::{FlowFilter, FlowGroup, FlowGrouping};
use crate::sources::quality::IntegrationQuality;

pub fn router() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(work_item_flow))
        .routes(routes!(pr_flow))
        .routes(routes!(dora_keys))
        .routes(routes!(dora_deployments))
        .routes(routes!(dora_changes))
        .routes(routes!(dora_incidents))
        .routes(routes!(data_quality))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DrillQuery {
    /// Window start (RFC 3339; default: the first production deployment).
    #[serde(default, deserialize_with = "super::extract::timestamp")]
    pub since: Option<DateTime<Utc>>,
    /// Window end, excluded (RFC 3339; default: now).
    #[serde(default, deserialize_with = "super::extract::timestamp")]
    pub until: Option<DateTime<Utc>>,
    /// Only this repository (`owner/name`).
    pub repository: Option<String>,
    /// Rows, newest first: 1 to 2,000 (default 500).
    pub limit: Option<i64>,
}

impl From<DrillQuery> for flow::DrillRequest {
    fn from(query: DrillQuery) -> Self {
        flow::DrillRequest {
            since: query.since,
            until: query.until,
            repository: query.repository,
            limit: query.limit,
        }
    }
}

/// The successful production deployments finished in the window behind deployment
/// frequency and change failure rate: each with the changes it shipped, whether it was
/// rolled back and the incidents laid at it.
#[utoipa::path(get, path = "/metrics/dora/deployments", tag = "metrics", params(DrillQuery),
    responses((status = 200, body = Page<DeploymentDrill>), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn dora_deployments(
    State(state): State<ApiState>,
    caller: Caller,
    Query(query): Query<DrillQuery>,
) -> ApiResult<axum::Json<Page<DeploymentDrill>>> {
    let rows = flow::dora_drill(
        &state.pool,
        caller.tenant_id,
        query.into(),
        drill::deployments,
    )
    .await?;
    Ok(axum::Json(Page::complete(rows)))
}

/// The pull requests shipped in the window behind lead time for changes, with their lead
/// times.
#[utoipa::path(get, path = "/metrics/dora/changes", tag = "metrics", params(DrillQuery),
    responses((status = 200, body = Page<ChangeDrill>), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn dora_changes(
    State(state): State<ApiState>,
    caller: Caller,
    Query(query): Query<DrillQuery>,
) -> ApiResult<axum::Json<Page<ChangeDrill>>> {
    let rows =
        flow::dora_drill(&state.pool, caller.tenant_id, query.into(), drill::changes).await?;
    Ok(axum::Json(Page::complete(rows)))
}

/// The incidents resolved in the window behind failed deployment recovery time, with their
/// repositories and the deployments they were laid at.
#[utoipa::path(get, path = "/metrics/dora/incidents", tag = "metrics", params(DrillQuery),
    responses((status = 200, body = Page<IncidentDrill>), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn dora_incidents(
    State(state): State<ApiState>,
    caller: Caller,
    Query(query): Query<DrillQuery>,
) -> ApiResult<axum::Json<Page<IncidentDrill>>> {
    let rows = flow::dora_drill(
        &state.pool,
        caller.tenant_id,
        query.into(),
        drill::incidents,
    )
    .await?;
    Ok(axum::Json(Page::complete(rows)))
}

/// Each integration's data-quality checks: how many rows offend among how many looked at,
/// the newest offending ones, and the counts per week of creation (last eight weeks with
/// rows).
#[utoipa::path(get, path = "/data-quality", tag = "metrics",
    responses((status = 200, body = Page<IntegrationQuality>), (status = 401, body = ErrorBody)))]
async fn data_quality(
    State(state): State<ApiState>,
    caller: Caller,
) -> ApiResult<axum::Json<Page<IntegrationQuality>>> {
    Ok(axum::Json(Page::complete(
        crate::service::data_quality::report(&state.pool, caller.tenant_id).await?,
    )))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DoraQuery {
    /// `tenant` (default: one group), `repository` or `week`.
    #[param(inline)]
    pub group_by: Option<DoraGrouping>,
    /// Window start (RFC 3339; default: the first production deployment).
    #[serde(default, deserialize_with = "super::extract::timestamp")]
    pub since: Option<DateTime<Utc>>,
    /// Window end, excluded (RFC 3339; default: now).
    #[serde(default, deserialize_with = "super::extract::timestamp")]
    pub until: Option<DateTime<Utc>>,
}

/// The four DORA keys over the window: deployment frequency, lead time for changes, change
/// failure rate and failed deployment recovery time, each with its DORA performance band.
#[utoipa::path(get, path = "/metrics/dora", tag = "metrics", params(DoraQuery),
    responses((status = 200, body = DoraReport), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn dora_keys(
    State(state): State<ApiState>,
    caller: Caller,
    Query(query): Query<DoraQuery>,
) -> ApiResult<axum::Json<DoraReport>> {
    Ok(axum::Json(
        flow::dora(
            &state.pool,
            caller.tenant_id,
            query.group_by.unwrap_or_default(),
            query.since,
            query.until,
        )
        .await?,
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FlowQuery {
    /// `project` (default), `type` or `week`.
    #[param(inline)]
    pub group_by: Option<FlowGrouping>,
    /// Only this project key.
    pub project: Option<String>,
    /// Completed at or after (RFC 3339).
    #[serde(default, deserialize_with = "super::extract::timestamp")]
    pub since: Option<DateTime<Utc>>,
    /// Completed before (RFC 3339).
    #[serde(default, deserialize_with = "super::extract::timestamp")]
    pub until: Option<DateTime<Utc>>,
}

/// Work item flow per group, over items whose last completion falls in the window.
#[utoipa::path(get, path = "/metrics/flow", tag = "metrics", params(FlowQuery),
    responses((status = 200, body = Page<FlowGroup>), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn work_item_flow(
    State(state): State<ApiState>,
    caller: Caller,
    Query(query): Query<FlowQuery>,
) -> ApiResult<axum::Json<Page<FlowGroup>>> {
    let filter = FlowFilter {
        group_by: query.group_by.unwrap_or_default(),
        project: query.project,
        since: query.since,
        until: query.until,
    };
    Ok(axum::Json(Page::complete(
        flow::work_items(&state.pool, caller.tenant_id, &filter).await?,
    )))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PrFlowQuery {
    /// `repository` (default) or `week`.
    #[param(inline)]
    pub group_by: Option<PrGrouping>,
    /// Only this repository (`owner/name`).
    pub repository: Option<String>,
    /// Merged at or after (RFC 3339).
    #[serde(default, deserialize_with = "super::extract::timestamp")]
    pub since: Option<DateTime<Utc>>,
    /// Merged before (RFC 3339).
    #[serde(default, deserialize_with = "super::extract::timestamp")]
    pub until: Option<DateTime<Utc>>,
}

/// Pull request flow per group, over pull requests merged in the window.
#[utoipa::path(get, path = "/metrics/prs", tag = "metrics", params(PrFlowQuery),
    responses((status = 200, body = Page<PrFlowGroup>), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn pr_flow(
    State(state): State<ApiState>,
    caller: Caller,
    Query(query): Query<PrFlowQuery>,
) -> ApiResult<axum::Json<Page<PrFlowGroup>>> {
    let filter = PrReportFilter {
        group_by: query.group_by.unwrap_or_default(),
        repository: query.repository,
        since: query.since,
        until: query.until,
    };
    Ok(axum::Json(Page::complete(
        flow::prs(&state.pool, caller.tenant_id, &filter).await?,
    )))
}
