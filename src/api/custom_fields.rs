//! `/custom-fields` of a Jira integration: the fields discovered, the mapping of special
//! fields and the twenty slots (read and write), and `sync` to discover them again.

use axum::extract::State;
use serde::Deserialize;
use std::collections::BTreeMap;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::{Admin, Caller};
use super::error::{ApiError, ApiResult, ErrorBody};
use super::extract::{Json, Query};
use super::pagination::Page;
use super::state::ApiState;
use crate::domain::IntegrationId;
use crate::service::custom_fields;
use crate::sources::work_items::custom_fields::{FieldListing, Target, TargetMapping};

pub fn router() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(mapping, map))
        .routes(routes!(sync))
}

#[derive(Debug, Deserialize, IntoParams, ToSchema)]
#[into_params(parameter_in = Query)]
pub struct IntegrationParam {
    /// A Jira integration of the tenant.
    pub integration_id: IntegrationId,
}

/// The integration's fields with what each is mapped to.
#[utoipa::path(get, path = "/custom-fields", operation_id = "list_custom_fields", tag = "custom fields", params(IntegrationParam),
    responses((status = 200, body = Page<FieldListing>), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn list(
    State(state): State<ApiState>,
    caller: Caller,
    Query(query): Query<IntegrationParam>,
) -> ApiResult<axum::Json<Page<FieldListing>>> {
    let fields = custom_fields::list(&state.pool, caller.tenant_id, query.integration_id).await?;
    Ok(axum::Json(Page::complete(fields)))
}

/// Every mapping column (special fields first, then the twenty slots) with its field.
#[utoipa::path(get, path = "/custom-fields/mapping", tag = "custom fields", params(IntegrationParam),
    responses((status = 200, body = Page<TargetMapping>), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn mapping(
    State(state): State<ApiState>,
    caller: Caller,
    Query(query): Query<IntegrationParam>,
) -> ApiResult<axum::Json<Page<TargetMapping>>> {
    let mapping =
        custom_fields::mapping(&state.pool, caller.tenant_id, query.integration_id).await?;
    Ok(axum::Json(Page::complete(mapping)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MappingChange {
    pub integration_id: IntegrationId,
    /// Column → field id, e.g. `{"team": "customfield_10001", "custom_field_01": "customfield_10020"}`.
    pub mapping: BTreeMap<String, String>,
}

/// Maps fields to columns (then `POST /reprocess` to fill them from stored data).
#[utoipa::path(put, path = "/custom-fields/mapping", tag = "custom fields", request_body = MappingChange,
    responses((status = 200, body = Page<TargetMapping>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn map(
    State(state): State<ApiState>,
    Admin(caller): Admin,
    Json(change): Json<MappingChange>,
) -> ApiResult<axum::Json<Page<TargetMapping>>> {
    let mut targets = Vec::new();
    for (label, field) in change.mapping {
        let target = Target::from_label(&label).ok_or_else(|| {
            ApiError::invalid("mapping", format!("'{label}' is not a mapping column (team, story_points, code_changed, custom_field_01 .. custom_field_20)"))
        })?;
        targets.push((target, field));
    }
    custom_fields::map(
        &state.pool,
        caller.tenant_id,
        change.integration_id,
        &targets,
    )
    .await?;
    let mapping =
        custom_fields::mapping(&state.pool, caller.tenant_id, change.integration_id).await?;
    Ok(axum::Json(Page::complete(mapping)))
}

/// Discovers the integration's fields from Jira again.
#[utoipa::path(post, path = "/custom-fields/sync", tag = "custom fields", request_body = IntegrationParam,
    responses((status = 200, body = Page<FieldListing>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 502, description = "Jira failed or is unreachable", body = ErrorBody)))]
async fn sync(
    State(state): State<ApiState>,
    Admin(caller): Admin,
    Json(body): Json<IntegrationParam>,
) -> ApiResult<axum::Json<Page<FieldListing>>> {
    let fields = custom_fields::sync(
        &state.pool,
        &state.reach,
        caller.tenant_id,
        body.integration_id,
    )
    .await?;
    Ok(axum::Json(Page::complete(fields)))
}
