//! Webhooks: the receivers the sources deliver to (no session; the signature is the
//! credential) — stored raw and answered at once, processed after the answer — and, for
//! admins, an integration's webhook secret and delivery status.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::Admin;
use super::error::{ApiError, ApiResult, ErrorBody};
use super::extract::Path;
use super::state::ApiState;
use crate::domain::{IntegrationId, Provider};
use crate::service::webhooks::{
    self, Delivery, NewWebhookSecret, Receipt, Refusal, MAX_DELIVERY_BYTES,
};
use crate::store::webhooks::DeliveryCounts;
use crate::telemetry::metrics;

pub fn router() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(github))
        .routes(routes!(jira))
        .routes(routes!(rotate_secret))
        .routes(routes!(status))
}

/// What a receiver says of a delivery it took.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryAnswer {
    /// False when the delivery id was stored before (a redelivery changes nothing).
    pub stored: bool,
}

/// A delivery from GitHub: `X-Hub-Signature-256`, `X-GitHub-Delivery`, `X-GitHub-Event`.
#[utoipa::path(post, path = "/webhooks/github/{integration_id}", tag = "webhooks", security(()),
    params(("integration_id" = i64, Path, description = "Integration id")),
    request_body(content = serde_json::Value, content_type = "application/json",
        description = "The event exactly as GitHub sent it"),
    responses((status = 202, body = DeliveryAnswer, description = "Stored; processed after the answer"),
              (status = 200, body = DeliveryAnswer, description = "A redelivery: already stored"),
              (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 413, body = ErrorBody)))]
async fn github(
    State(state): State<ApiState>,
    Path(integration_id): Path<IntegrationId>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<(StatusCode, axum::Json<DeliveryAnswer>)> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let body = read_body(Provider::Github, body).await?;
    let delivery = Delivery {
        provider: Provider::Github,
        integration_id,
        signature: header("x-hub-signature-256"),
        delivery_id: header("x-github-delivery"),
        event: header("x-github-event"),
        retry: None,
        body: &body,
    };
    answer(&state, delivery).await
}

/// A delivery from Jira Cloud: `X-Hub-Signature`, `X-Atlassian-Webhook-Identifier`,
/// `X-Atlassian-Webhook-Retry`; the event is the body's `webhookEvent`.
#[utoipa::path(post, path = "/webhooks/jira/{integration_id}", tag = "webhooks", security(()),
    params(("integration_id" = i64, Path, description = "Integration id")),
    request_body(content = serde_json::Value, content_type = "application/json",
        description = "The event exactly as Jira sent it"),
    responses((status = 202, body = DeliveryAnswer, description = "Stored; processed after the answer"),
              (status = 200, body = DeliveryAnswer, description = "A redelivery: already stored"),
              (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 413, body = ErrorBody)))]
async fn jira(
    State(state): State<ApiState>,
    Path(integration_id): Path<IntegrationId>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<(StatusCode, axum::Json<DeliveryAnswer>)> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let body = read_body(Provider::Jira, body).await?;
    let delivery = Delivery {
        provider: Provider::Jira,
        integration_id,
        signature: header("x-hub-signature"),
        delivery_id: header("x-atlassian-webhook-identifier"),
        event: None,
        retry: header("x-atlassian-webhook-retry"),
        body: &body,
    };
    answer(&state, delivery).await
}

/// The body, up to the delivery limit (413 beyond it, whatever the API's general limit).
async fn read_body(provider: Provider, body: Body) -> ApiResult<axum::body::Bytes> {
    axum::body::to_bytes(body, MAX_DELIVERY_BYTES)
        .await
        .map_err(|_| {
            metrics::webhook_delivery(provider.as_str(), "too_large");
            ApiError::rejected(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("a delivery may be at most {MAX_DELIVERY_BYTES} bytes"),
            )
        })
}

async fn answer(
    state: &ApiState,
    delivery: Delivery<'_>,
) -> ApiResult<(StatusCode, axum::Json<DeliveryAnswer>)> {
    let source = delivery.provider.as_str();
    let received = webhooks::receive(&state.pool, &state.reach.cipher, delivery).await;
    let outcome = match &received {
        Ok(Receipt::Stored) => "stored",
        Ok(Receipt::Duplicate) => "duplicate",
        Err(Refusal::Unauthorized) => "refused",
        Err(Refusal::Malformed(_)) => "malformed",
        Err(Refusal::Store(_)) => "failed",
    };
    metrics::webhook_delivery(source, outcome);
    match received {
        Ok(Receipt::Stored) => Ok((
            StatusCode::ACCEPTED,
            axum::Json(DeliveryAnswer { stored: true }),
        )),
        Ok(Receipt::Duplicate) => {
            Ok((StatusCode::OK, axum::Json(DeliveryAnswer { stored: false })))
        }
        Err(refusal @ Refusal::Unauthorized) => Err(ApiError::unauthorized(refusal.to_string())),
        Err(Refusal::Malformed(message)) => Err(ApiError::bad_request(message)),
        Err(Refusal::Store(error)) => Err(ApiError::internal(&error.into())),
    }
}

/// Makes a new webhook secret for the integration and answers it this once; the one it
/// replaces still verifies deliveries for a day.
#[utoipa::path(post, path = "/integrations/{id}/webhook-secret", tag = "webhooks",
    params(("id" = i64, Path, description = "Integration id")),
    responses((status = 200, body = NewWebhookSecret), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn rotate_secret(
    State(state): State<ApiState>,
    Admin(caller): Admin,
    Path(id): Path<IntegrationId>,
) -> ApiResult<axum::Json<NewWebhookSecret>> {
    let secret =
        webhooks::rotate_secret(&state.pool, &state.reach.cipher, caller.tenant_id, id).await?;
    Ok(axum::Json(secret))
}

/// The integration's webhook deliveries: whether a secret is set, the last delivery, the
/// last hour's deliveries and failures, and how many wait to be processed.
#[utoipa::path(get, path = "/integrations/{id}/webhooks", tag = "webhooks",
    params(("id" = i64, Path, description = "Integration id")),
    responses((status = 200, body = DeliveryCounts), (status = 404, body = ErrorBody)))]
async fn status(
    State(state): State<ApiState>,
    Admin(caller): Admin,
    Path(id): Path<IntegrationId>,
) -> ApiResult<axum::Json<DeliveryCounts>> {
    Ok(axum::Json(
        webhooks::status(&state.pool, caller.tenant_id, id).await?,
    ))
}
