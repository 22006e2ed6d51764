//! The router and its layers: request ids, a span per request (with tenant_id and user_id once
//! known), gzip, a body limit, a time limit, panics answered as 500 in the error shape, JSON
//! 404/405 — and the listening loop with a graceful shutdown that closes WebSockets cleanly.

use std::any::Any;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderName, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::{broadcast, watch};
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::trace::TraceLayer;
use utoipa_swagger_ui::SwaggerUi;

use super::error::ApiError;
use super::state::{ApiContext, ApiState};
use super::{docs, events, headers, health, ui, ws};

/// Where the OpenAPI document is served.
pub const OPENAPI_PATH: &str = "/api/v1/openapi.json";
/// Where the interactive docs page is served.
pub const DOCS_PATH: &str = "/api/docs";
/// Requests exempt from the time limit: they run as long as the work takes.
const UNTIMED_PATHS: &[&str] = &["/api/v1/reprocess", "/api/v1/custom-fields/sync"];

/// Everything the server needs besides its listener.
pub struct ServerParts {
    pub pool: sqlx::PgPool,
    pub reach: crate::pipeline::source::Reach,
    pub auth: super::auth::Auth,
    pub broker: Option<crate::queue::rabbitmq::Broker>,
    /// The vector store and embedders search uses (shared with the pipeline in `all`).
    pub embedding: Arc<crate::pipeline::embed_stage::Embedding>,
    pub request_timeout: Duration,
    pub body_limit_bytes: usize,
    /// Who may read `/metrics` on the API port.
    pub metrics: health::MetricsAccess,
    /// An integration whose last webhook delivery is this recent is live.
    pub webhooks_live_within: Duration,
    /// Host names the MCP endpoint answers to.
    pub mcp_allowed_hosts: Vec<String>,
}

/// Serves the API, docs and WebSockets on `listener` until `shutdown` completes, then lets
/// requests in flight finish and closes every WebSocket with "going away".
pub async fn serve(
    listener: TcpListener,
    parts: ServerParts,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (job_updates, _) = broadcast::channel(events::BUFFERED_EVENTS);
    let (stop, stopping) = watch::channel(false);
    let forwarder = tokio::spawn(events::forward(parts.pool.clone(), job_updates.clone()));
    let state: ApiState = Arc::new(ApiContext {
        pool: parts.pool,
        reach: parts.reach,
        auth: parts.auth,
        broker: parts.broker,
        embedding: parts.embedding,
        job_updates,
        stopping,
        webhooks_live_within: parts.webhooks_live_within,
        mcp_allowed_hosts: parts.mcp_allowed_hosts,
    });
    let follower = tokio::spawn(super::auth::follow_access_changes(
        state.pool.clone(),
        Arc::clone(&state),
    ));
    let readiness = Arc::new(health::Readiness {
        pool: state.pool.clone(),
        broker: broker_up(&state),
        vectors: Some(state.embedding.store.clone()),
    });
    let app = router(
        state,
        (readiness, parts.metrics),
        parts.request_timeout,
        parts.body_limit_bytes,
    );
    tracing::info!(address = %listener.local_addr()?, "API listening");
    let served = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        shutdown.await;
        let _ = stop.send(true);
    })
    .await;
    forwarder.abort();
    follower.abort();
    served
}

/// Whether the API's broker connection is up (none to check with in-process queues).
fn broker_up(state: &ApiState) -> Option<health::BrokerUp> {
    state.broker.as_ref()?;
    let state = Arc::downgrade(state);
    Some(Arc::new(move || {
        state
            .upgrade()
            .and_then(|state| state.broker.as_ref().map(|broker| broker.is_connected()))
            .unwrap_or(false)
    }))
}

/// The whole HTTP surface.
pub fn router(
    state: ApiState,
    (readiness, metrics): (Arc<health::Readiness>, health::MetricsAccess),
    request_timeout: Duration,
    body_limit_bytes: usize,
) -> Router {
    let (api, openapi) = docs::api();
    let request_id = HeaderName::from_static("x-request-id");
    let over_https = headers::OverHttps(state.auth.secure_cookie);
    Router::new()
        .merge(api)
        .merge(SwaggerUi::new(DOCS_PATH).url(OPENAPI_PATH, openapi))
        .route("/ws/job/{stage}/{tenant_id}/{job_id}", get(ws::job_status))
        .route("/ws/jobs/{tenant_id}", get(ws::tenant_jobs))
        .merge(super::mcp::routes(&state))
        .merge(health::routes(readiness, metrics))
        .fallback(ui::serve)
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "this path does not take that method",
            )
        })
        .layer(middleware::from_fn_with_state(request_timeout, time_limit))
        .layer(DefaultBodyLimit::max(body_limit_bytes))
        .with_state(state)
        .layer(
            ServiceBuilder::new()
                .layer(SetSensitiveRequestHeadersLayer::new([
                    axum::http::header::AUTHORIZATION,
                    axum::http::header::COOKIE,
                ]))
                .layer(SetRequestIdLayer::new(request_id.clone(), MakeRequestUuid))
                .layer(TraceLayer::new_for_http().make_span_with(request_span))
                .layer(PropagateRequestIdLayer::new(request_id))
                .layer(CatchPanicLayer::custom(panic_answer))
                .layer(middleware::from_fn_with_state(over_https, headers::add))
                .layer(CompressionLayer::new()),
        )
}

/// The span every request's logs carry; `tenant_id` and `user_id` are filled in once the
/// caller is known. At error level, like the job and message spans, so that whatever level
/// the log filter lets through, events keep it and exported traces start at the request.
fn request_span(request: &Request<Body>) -> tracing::Span {
    let request_id = request
        .headers()
        .get("x-request-id")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    tracing::error_span!(
        "request",
        method = %request.method(),
        path = request.uri().path(),
        request_id,
        tenant_id = tracing::field::Empty,
        user_id = tracing::field::Empty,
    )
}

/// Answers 503 in the error shape when a request outlives `limit`.
async fn time_limit(State(limit): State<Duration>, request: Request, next: Next) -> Response {
    if UNTIMED_PATHS.contains(&request.uri().path()) {
        return next.run(request).await;
    }
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::retry_later(
            StatusCode::SERVICE_UNAVAILABLE,
            "timeout",
            format!("the request took longer than {} s", limit.as_secs()),
            1,
        )
        .into_response(),
    }
}

fn panic_answer(cause: Box<dyn Any + Send + 'static>) -> Response {
    let text = cause
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| cause.downcast_ref::<&str>().copied())
        .unwrap_or("panic");
    ApiError::internal(&anyhow::anyhow!("handler panicked: {text}")).into_response()
}
