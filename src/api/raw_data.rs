//! `/raw-data` (admins): the tenant's stored source answers, newest first, and one in full —
//! what the source really sent, for checking a transform.

use axum::extract::State;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::Admin;
use super::error::{ApiResult, ErrorBody};
use super::extract::{Path, Query};
use super::pagination::{Keyset, Page, PageQuery};
use super::state::ApiState;
use crate::domain::{IntegrationId, RawId};
use crate::service::raw_data;
use crate::store::raw_browse::{RawDetail, RawFilter, RawSummary};

pub fn router() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(get))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RawQuery {
    pub integration_id: Option<IntegrationId>,
    /// Entity kind, e.g. `jira_issue`, `github_pull_request`.
    #[serde(rename = "type")]
    #[param(rename = "type")]
    pub kind: Option<String>,
    /// `pending`, `processed` or `failed`.
    pub status: Option<String>,
}

/// Stored source answers (without bodies), newest first.
#[utoipa::path(get, path = "/raw-data", operation_id = "list_raw_data", tag = "raw data", params(PageQuery, RawQuery),
    responses((status = 200, body = Page<RawSummary>), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn list(
    State(state): State<ApiState>,
    Admin(caller): Admin,
    keyset: Keyset,
    Query(query): Query<RawQuery>,
) -> ApiResult<axum::Json<Page<RawSummary>>> {
    let filter = RawFilter {
        integration_id: query.integration_id,
        kind: query.kind,
        status: query.status,
    };
    let rows = raw_data::list(
        &state.pool,
        caller.tenant_id,
        &filter,
        keyset.before,
        keyset.fetch(),
    )
    .await?;
    Ok(axum::Json(Page::keyset(rows, keyset, |row| row.id.get())))
}

/// One stored answer, as the source sent it.
#[utoipa::path(get, path = "/raw-data/{id}", operation_id = "get_raw_data", tag = "raw data",
    params(("id" = i64, Path, description = "Raw record id")),
    responses((status = 200, body = RawDetail), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get(
    State(state): State<ApiState>,
    Admin(caller): Admin,
    Path(id): Path<RawId>,
) -> ApiResult<axum::Json<RawDetail>> {
    Ok(axum::Json(
        raw_data::get(&state.pool, caller.tenant_id, id).await?,
    ))
}
