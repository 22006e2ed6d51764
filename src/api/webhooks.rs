//! Webhooks: the receivers the sources deliver to (no session; the signature is the
//! credential) — stored raw and answered at once, processed after the answer — an
//! integration's webhook status (anyone of the tenant), and, for admins, its secret and the
//! hooks registered at the source.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::{Admin, Caller};
use super::error::{ApiError, ApiResult, ErrorBody};
use super::extract::{Json, Path};
use super::state::ApiState;
use crate::domain::{IntegrationId, Provider};
use crate::service::webhooks::{
    self, Delivery, NewWebhookSecret, Receipt, Refusal, MAX_DELIVERY_BYTES,
};
use crate::service::webhooks::{Installation, WebhookStatus};
use crate::telemetry::metrics;

pub fn router() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(github))
        .routes(routes!(jira))
        .routes(routes!(rotate_secret))
        .routes(routes!(status, install, uninstall))
}

/// Where the source is to deliver: the API's address as the source reaches it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InstallBody {
    /// `https://pulse.example.com`: the receivers' paths are added to it.
    pub public_url: String,
}

/// What `uninstall` removed.
#[derive(Debug, Serialize, ToSchema)]
pub struct Uninstalled {
    /// Targets (repositories, or `site`) whose hook was removed.
    pub removed: Vec<String>,
}

/// Registers the integration's webhooks at the source with a new secret (the previous
/// one stays valid for a day); where the token may not, `manual` says what to set up by
/// hand.
#[utoipa::path(put, path = "/integrations/{id}/webhooks", tag = "webhooks", request_body = InstallBody,
    params(("id" = i64, Path, description = "Integration id")),
    responses((status = 200, body = Installation), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 422, body = ErrorBody),
              (status = 502, body = ErrorBody)))]
async fn install(
    State(state): State<ApiState>,
    Admin(caller): Admin,
    Path(id): Path<IntegrationId>,
    Json(body): Json<InstallBody>,
) -> ApiResult<axum::Json<Installation>> {
    let installed = webhooks::install(
        &state.pool,
        &state.reach,
        (caller.tenant_id, id),
        &body.public_url,
    )
    .await?;
    Ok(axum::Json(installed))
}

/// Removes the webhooks `install` registered from the source.
#[utoipa::path(delete, path = "/integrations/{id}/webhooks", tag = "webhooks",
    params(("id" = i64, Path, description = "Integration id")),
    responses((status = 200, body = Uninstalled), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 502, body = ErrorBody)))]
async fn uninstall(
    State(state): State<ApiState>,
    Admin(caller): Admin,
    Path(id): Path<IntegrationId>,
) -> ApiResult<axum::Json<Uninstalled>> {
    let removed = webhooks::uninstall(&state.pool, &state.reach, (caller.tenant_id, id)).await?;
    Ok(axum::Json(Uninstalled { removed }))
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
    let source = (Provider::Github, &GITHUB_HEADERS);
    receive(&state, source, integration_id, (&headers, body)).await
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
    let source = (Provider::Jira, &JIRA_HEADERS);
    receive(&state, source, integration_id, (&headers, body)).await
}

/// The headers a source's deliveries carry: signature, delivery id, event, retry counter.
struct DeliveryHeaders {
    signature: &'static str,
    delivery_id: &'static str,
    event: Option<&'static str>,
    retry: Option<&'static str>,
}

const GITHUB_HEADERS: DeliveryHeaders = DeliveryHeaders {
    signature: "x-hub-signature-256",
    delivery_id: "x-github-delivery",
    event: Some("x-github-event"),
    retry: None,
};

/// Jira names the event in the body.
const JIRA_HEADERS: DeliveryHeaders = DeliveryHeaders {
    signature: "x-hub-signature",
    delivery_id: "x-atlassian-webhook-identifier",
    event: None,
    retry: Some("x-atlassian-webhook-retry"),
};

/// Reads, verifies and stores one delivery, and answers it.
async fn receive(
    state: &ApiState,
    (provider, names): (Provider, &DeliveryHeaders),
    integration_id: IntegrationId,
    (headers, body): (&HeaderMap, Body),
) -> ApiResult<(StatusCode, axum::Json<DeliveryAnswer>)> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let body = read_body(provider, body).await?;
    let delivery = Delivery {
        provider,
        integration_id,
        signature: header(names.signature),
        delivery_id: header(names.delivery_id),
        event: names.event.and_then(header),
        retry: names.retry.and_then(header),
        body: &body,
    };
    answer(state, delivery).await
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
#[utoipa::path(get, path = "/integrations/{id}/webhooks", operation_id = "webhook_status", tag = "webhooks",
    params(("id" = i64, Path, description = "Integration id")),
    responses((status = 200, body = WebhookStatus), (status = 404, body = ErrorBody)))]
async fn status(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<IntegrationId>,
) -> ApiResult<axum::Json<WebhookStatus>> {
    Ok(axum::Json(
        webhooks::status(
            &state.pool,
            caller.tenant_id,
            id,
            state.webhooks_live_within,
        )
        .await?,
    ))
}
