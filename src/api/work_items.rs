//! `/work-items`: filtered keyset pages (project, status, type, assignee, updated since,
//! full-text `q`) and one item by key with its status timeline, the fifteen workflow
//! metrics, mapped custom fields and linked pull requests.

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
use crate::service::work_items;
use crate::sources::jira::read::{WorkItemDetail, WorkItemFilter, WorkItemRow};

pub fn router() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(get))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WorkItemQuery {
    pub integration_id: Option<IntegrationId>,
    /// Project key.
    pub project: Option<String>,
    /// Status name.
    pub status: Option<String>,
    /// Work item type name.
    #[serde(rename = "type")]
    #[param(rename = "type")]
    pub work_item_type: Option<String>,
    pub assignee: Option<String>,
    /// Changed at or after (RFC 3339).
    #[serde(default, deserialize_with = "super::extract::timestamp")]
    pub updated_since: Option<DateTime<Utc>>,
    /// Words in the key, summary or description (quotes, `or` and `-word` work as in web search).
    pub q: Option<String>,
}

/// Work items, newest first.
#[utoipa::path(get, path = "/work-items", operation_id = "list_work_items", tag = "work items", params(PageQuery, WorkItemQuery),
    responses((status = 200, body = Page<WorkItemRow>), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn list(
    State(state): State<ApiState>,
    caller: Caller,
    keyset: Keyset,
    Query(query): Query<WorkItemQuery>,
) -> ApiResult<axum::Json<Page<WorkItemRow>>> {
    let filter = WorkItemFilter {
        integration_id: query.integration_id,
        project: query.project,
        status: query.status,
        work_item_type: query.work_item_type,
        assignee: query.assignee,
        updated_since: query.updated_since,
        text: query.q.filter(|q| !q.trim().is_empty()),
    };
    let rows = work_items::list(
        &state.pool,
        caller.tenant_id,
        &filter,
        keyset.before,
        keyset.fetch(),
    )
    .await?;
    Ok(axum::Json(Page::keyset(rows, keyset, |row| row.id)))
}

/// One work item by key, in full.
#[utoipa::path(get, path = "/work-items/{key}", operation_id = "get_work_item", tag = "work items",
    params(("key" = String, Path, description = "Work item key, e.g. PROJ-42")),
    responses((status = 200, body = WorkItemDetail), (status = 404, body = ErrorBody)))]
async fn get(
    State(state): State<ApiState>,
    caller: Caller,
    Path(key): Path<String>,
) -> ApiResult<axum::Json<WorkItemDetail>> {
    Ok(axum::Json(
        work_items::get(&state.pool, caller.tenant_id, &key).await?,
    ))
}
