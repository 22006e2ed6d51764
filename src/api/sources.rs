//! `/sources`: the sources this build reads, each with its name and what connecting one
//! asks, so clients name and connect sources without a list of their own.

use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::Caller;
use super::error::{ApiResult, ErrorBody};
use super::pagination::Page;
use super::state::ApiState;
use crate::domain::Provider;
use crate::pipeline::source::SourceForm;
use crate::sources::CATALOG;

pub fn router() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new().routes(routes!(list))
}

/// One source: its provider value and how people name and connect it.
#[derive(Debug, Serialize, ToSchema)]
pub struct SourceInfo {
    pub provider: Provider,
    #[serde(flatten)]
    pub form: SourceForm,
}

/// Every source an integration may read, in the order this build lists them.
#[utoipa::path(get, path = "/sources", operation_id = "list_sources", tag = "integrations",
    responses((status = 200, body = Page<SourceInfo>), (status = 401, body = ErrorBody)))]
async fn list(_caller: Caller) -> ApiResult<axum::Json<Page<SourceInfo>>> {
    let items = CATALOG
        .all
        .iter()
        .map(|source| SourceInfo {
            provider: source.provider(),
            form: *source.form(),
        })
        .collect();
    Ok(axum::Json(Page::complete(items)))
}
