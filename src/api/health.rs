//! The endpoints orchestrators and Prometheus call, on `serve` and on every role's
//! `--metrics-addr` (`metrics.addr`): `/healthz` (the process answers), `/readyz` (the
//! database and, where the role uses them, the broker and the vector store are reachable)
//! and `/metrics` (Prometheus text). Health needs no credentials. `/metrics` is open on the
//! ops address (a network operators control); on the API port, which tenants reach, it
//! answers only `metrics.token`'s bearer, and not at all where an ops address serves it.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use sqlx::PgPool;

use super::error::ApiError;
use crate::telemetry::metrics;
use crate::vectors::VectorStore;

/// Whether the broker connection is up, asked at each readiness check.
pub type BrokerUp = Arc<dyn Fn() -> bool + Send + Sync>;

/// What a role needs reachable to do its work.
pub struct Readiness {
    pub pool: PgPool,
    /// Checked when the role talks through RabbitMQ.
    pub broker: Option<BrokerUp>,
    /// Checked when the role reads or writes vectors.
    pub vectors: Option<Arc<dyn VectorStore>>,
}

/// Who may read `/metrics` where these routes are served.
#[derive(Clone)]
pub enum MetricsAccess {
    /// Anyone who reaches the address: the ops server.
    Open,
    /// Callers sending `Authorization: Bearer <metrics.token>`: the API port.
    Token(Arc<str>),
    /// Nobody here: served on the ops address, or not configured.
    Elsewhere,
}

impl MetricsAccess {
    /// The API port's rule: nothing when an ops address serves the metrics, else
    /// `metrics.token`'s bearer when one is set.
    pub fn on_the_api(ops_address: bool, token: &str) -> Self {
        match (ops_address, token) {
            (false, token) if !token.is_empty() => MetricsAccess::Token(token.into()),
            _ => MetricsAccess::Elsewhere,
        }
    }

    fn admits(&self, headers: &axum::http::HeaderMap) -> Result<(), ApiError> {
        let expected = match self {
            MetricsAccess::Open => return Ok(()),
            MetricsAccess::Elsewhere => return Err(ApiError::not_found(
                "Prometheus metrics are served on metrics.addr, or here to metrics.token's bearer",
            )),
            MetricsAccess::Token(token) => token,
        };
        let presented = super::auth::bearer(headers).unwrap_or_default();
        match constant_time_eq(presented.as_bytes(), expected.as_bytes()) {
            true => Ok(()),
            false => Err(ApiError::unauthorized(
                "metrics need `Authorization: Bearer <metrics.token>`",
            )),
        }
    }
}

/// Compares without stopping at the first difference (the time says nothing of the token).
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |diff, (x, y)| diff | (x ^ y)) == 0
}

/// What the endpoints read: what must be reachable, and who may scrape.
struct Endpoints {
    readiness: Arc<Readiness>,
    metrics: MetricsAccess,
}

/// `/healthz`, `/readyz` and `/metrics` over `readiness`, metrics read as `metrics` allows.
pub fn routes<S>(readiness: Arc<Readiness>, metrics: MetricsAccess) -> Router<S> {
    Router::new()
        .route("/healthz", get(alive))
        .route("/readyz", get(ready))
        .route("/metrics", get(scrape))
        .with_state(Arc::new(Endpoints { readiness, metrics }))
}

async fn alive() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

async fn ready(State(endpoints): State<Arc<Endpoints>>) -> (StatusCode, Json<Value>) {
    let readiness = &endpoints.readiness;
    let database = sqlx::query("SELECT 1")
        .execute(&readiness.pool)
        .await
        .is_ok();
    let broker = readiness.broker.as_ref().map(|up| up());
    let vectors = match &readiness.vectors {
        Some(store) => Some(store.ping().await.is_ok()),
        None => None,
    };
    let ready = database && broker.unwrap_or(true) && vectors.unwrap_or(true);
    let status = match ready {
        true => StatusCode::OK,
        false => StatusCode::SERVICE_UNAVAILABLE,
    };
    let body = json!({
        "status": if ready { "ready" } else { "not ready" },
        "database": database,
        "broker": broker,
        "vectors": vectors,
    });
    (status, Json(body))
}

/// Prometheus' text format, the pool's gauges read now.
async fn scrape(
    State(endpoints): State<Arc<Endpoints>>,
    headers: axum::http::HeaderMap,
) -> Result<impl IntoResponse, ApiError> {
    endpoints.metrics.admits(&headers)?;
    metrics::db_pool(&endpoints.readiness.pool);
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        metrics::render(),
    ))
}
