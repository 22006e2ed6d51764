//! `/queues`: what the tenant's work waits on, read-only (operators keep `dlq` in the CLI).

use axum::extract::State;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::Caller;
use super::error::{ApiResult, ErrorBody};
use super::state::ApiState;
use crate::service::queues::{self, QueueReport};

pub fn router() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new().routes(routes!(report))
}

/// The tenant's backlog, its tier's queue depths and its dead letters.
#[utoipa::path(get, path = "/queues", tag = "queues", responses((status = 200, body = QueueReport), (status = 401, body = ErrorBody)))]
async fn report(
    State(state): State<ApiState>,
    caller: Caller,
) -> ApiResult<axum::Json<QueueReport>> {
    Ok(axum::Json(
        queues::report(&state.pool, state.broker.as_ref(), caller.tenant_id).await?,
    ))
}
