//! `/prs`: filtered keyset pages of pull requests and one in full with its reviews, commits,
//! comments and flow metrics.

use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::Caller;
use super::error::{ApiResult, ErrorBody};
use super::extract::{Path, Query};
use super::pagination::{Keyset, Page, PageQuery};
use super::state::ApiState;
use crate::domain::IntegrationId;
use crate::service::prs;
use crate::sources::github::read::{PrDetail, PrFilter, PrRow};

pub fn router() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(get))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PrQuery {
    pub integration_id: Option<IntegrationId>,
    /// Repository as `owner/name`.
    pub repository: Option<String>,
    /// `open` or `closed`.
    pub state: Option<String>,
    pub author: Option<String>,
    /// Changed at or after (RFC 3339).
    #[serde(default, deserialize_with = "super::extract::timestamp")]
    pub updated_since: Option<DateTime<Utc>>,
}

/// Pull requests, newest first.
#[utoipa::path(get, path = "/prs", operation_id = "list_prs", tag = "pull requests", params(PageQuery, PrQuery),
    responses((status = 200, body = Page<PrRow>), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn list(
    State(state): State<ApiState>,
    caller: Caller,
    keyset: Keyset,
    Query(query): Query<PrQuery>,
) -> ApiResult<axum::Json<Page<PrRow>>> {
    let filter = PrFilter {
        integration_id: query.integration_id,
        repository: query.repository,
        state: query.state,
        author: query.author,
        updated_since: query.updated_since,
    };
    let rows = prs::list(
        &state.pool,
        caller.tenant_id,
        &filter,
        keyset.before,
        keyset.fetch(),
    )
    .await?;
    Ok(axum::Json(Page::keyset(rows, keyset, |row| row.id)))
}

/// One pull request in full.
#[utoipa::path(get, path = "/prs/{id}", operation_id = "get_pr", tag = "pull requests",
    params(("id" = i64, Path, description = "Pull request id (ours, not GitHub's number)")),
    responses((status = 200, body = PrDetail), (status = 404, body = ErrorBody)))]
async fn get(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> ApiResult<axum::Json<PrDetail>> {
    Ok(axum::Json(
        prs::get(&state.pool, caller.tenant_id, id).await?,
    ))
}
